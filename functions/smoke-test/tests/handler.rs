//! The real handler, with an in-memory parameter store and a real HTTP
//! server on 127.0.0.1 playing the idle color.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use bluegreen_core::ports::{Parameter, ParameterStore, PortResult, PutMode, PutOutcome};
use bluegreen_smoke::SmokeReport;
use bluegreen_smoke_test::{REPORT_MARKER, handler};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};

const API_KEY: &str = "api-key-from-ssm-3c9d";

#[derive(Default)]
struct FakeParams(Mutex<HashMap<String, String>>);

impl FakeParams {
    fn with(entries: &[(&str, String)]) -> FakeParams {
        let map = entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        FakeParams(Mutex::new(map))
    }
}

impl ParameterStore for FakeParams {
    async fn get(&self, name: &str) -> PortResult<Option<Parameter>> {
        Ok(self.0.lock().unwrap().get(name).map(|v| Parameter {
            value: v.clone(),
            version: 1,
        }))
    }
    async fn put(&self, name: &str, value: &str, mode: PutMode) -> PortResult<PutOutcome> {
        let mut map = self.0.lock().unwrap();
        if mode == PutMode::CreateOnly && map.contains_key(name) {
            return Ok(PutOutcome::AlreadyExists);
        }
        map.insert(name.to_string(), value.to_string());
        Ok(PutOutcome::Written)
    }
    async fn delete(&self, name: &str) -> PortResult<()> {
        self.0.lock().unwrap().remove(name);
        Ok(())
    }
}

/// `/health` is fine, `/fail` is not, `/private` wants the API key and echoes
/// what it got when it is wrong.
async fn serve() -> String {
    let router = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route(
            "/version",
            get(|| async { axum::Json(json!({"version": "release-two"})) }),
        )
        .route(
            "/fail",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route(
            "/private",
            get(|headers: HeaderMap| async move {
                let key = headers
                    .get("x-api-key")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                if key == API_KEY {
                    (StatusCode::OK, "private ok".to_string()).into_response()
                } else {
                    (StatusCode::FORBIDDEN, format!("wrong key {key}")).into_response()
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// The app config, reaching the idle color through `test.url` or, without
/// one, green's `direct_url`.
fn config(test_url: Option<&str>, green_direct_url: Option<&str>) -> String {
    let mut c = json!({
        "app": "checkout",
        "cluster": "prod",
        "blue": {"service": "checkout-blue", "target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/checkout-blue/1"},
        "green": {"service": "checkout-green", "target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/checkout-green/2"},
        "production": {"listener_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/lb/1/2"}
    });
    if let Some(url) = test_url {
        c["test"] = json!({"listener_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/lb/1/3", "url": url});
    }
    if let Some(url) = green_direct_url {
        c["green"]["direct_url"] = json!(url);
    }
    c.to_string()
}

fn input(smoke_tests: Option<&str>) -> Value {
    let mut doc = json!({
        "app": "checkout",
        "release": {"version": "v2", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/checkout:v2"},
        "deploy": {
            "app": "checkout", "version": "v2", "idle_color": "green", "service": "checkout-green",
            "task_definition_arn": "arn:aws:ecs:us-east-1:123456789012:task-definition/checkout:7",
            "desired_count": 2, "changed": true, "started_at": "2026-11-22T10:00:00Z",
            "warm_window_seconds": 86400
        }
    });
    if let Some(spec) = smoke_tests {
        doc["smoke_tests"] = json!(spec);
    }
    doc
}

bluegreen_core::capabilities! {
    /// What the smoke-test function reads, with a fake parameter store.
    struct SmokeTestFakes {
        params: FakeParams => ParameterStore,
    }
}

fn ports(params: FakeParams) -> SmokeTestFakes {
    SmokeTestFakes {
        params,
        prefix: "/bluegreen".to_string(),
    }
}

async fn invoke(
    params: FakeParams,
    payload: Value,
) -> Result<SmokeReport, bluegreen_lambda::HandlerError> {
    let http = bluegreen_smoke::http_client().unwrap();
    handler(
        &ports(params),
        &bluegreen_core::ports::NoHooks,
        &http,
        LambdaEvent::new(payload, Context::default()),
    )
    .await
    .map(|outcome| outcome.report)
}

const PASSING: &str = r#"
tests:
  - { name: Health, url: "{{base_url}}/health", expect_body_contains: ok }
  - { name: Private, url: "{{base_url}}/private", headers: { X-Api-Key: "{{ssm:/bluegreen/checkout/api-key}}" } }
"#;

#[tokio::test]
async fn an_inline_spec_passes_through_the_test_listener_url() {
    let base = serve().await;
    let params = FakeParams::with(&[
        ("/bluegreen/checkout/config", config(Some(&base), None)),
        ("/bluegreen/checkout/api-key", API_KEY.to_string()),
    ]);
    let report = invoke(params, input(Some(PASSING))).await.unwrap();
    assert!(report.passed, "{report:#?}");
    assert_eq!(report.base_url, base);
    assert_eq!(report.totals.passed, 2);
}

#[tokio::test]
async fn the_stored_spec_runs_against_the_idle_colors_direct_url() {
    let base = serve().await;
    let params = FakeParams::with(&[
        ("/bluegreen/checkout/config", config(None, Some(&base))),
        ("/bluegreen/checkout/smoke-tests", PASSING.to_string()),
        ("/bluegreen/checkout/api-key", API_KEY.to_string()),
    ]);
    let report = invoke(params, input(None)).await.unwrap();
    assert!(report.passed, "{report:#?}");
    assert_eq!(report.base_url, base);
}

#[tokio::test]
async fn a_failing_suite_is_smoke_test_failed_with_the_masked_report() {
    let base = serve().await;
    let params = FakeParams::with(&[
        ("/bluegreen/checkout/config", config(Some(&base), None)),
        // Not the key the server wants: it answers 403 and echoes this value.
        (
            "/bluegreen/checkout/api-key",
            "stale-key-secret-8e1f".to_string(),
        ),
    ]);
    let spec = format!("{PASSING}  - {{ name: Broken, url: \"{{{{base_url}}}}/fail\" }}\n");
    let err = invoke(params, input(Some(&spec))).await.unwrap_err();
    assert_eq!(err.error_type(), "SmokeTestFailed");
    let message = err.to_string();
    assert!(!message.contains("stale-key-secret-8e1f"), "{message}");
    let (summary, report) = message.split_once(REPORT_MARKER).unwrap();
    assert_eq!(
        summary,
        format!(
            "smoke tests failed for `checkout`: 2 of 3 smoke tests did not pass against {base}: \
             Private: expected a 2xx status, got 403; Broken: expected a 2xx status, got 500"
        )
    );
    let report: SmokeReport = serde_json::from_str(report).unwrap();
    assert!(!report.passed);
    assert_eq!(
        report.tests[1].response_snippet.as_deref(),
        Some("wrong key ***")
    );
    assert_eq!(report.tests[2].status, Some(500));
}

#[tokio::test]
async fn bad_input_is_named() {
    let base = serve().await;
    let stored = |config: String| FakeParams::with(&[("/bluegreen/checkout/config", config)]);
    let problem = |e: bluegreen_lambda::HandlerError| (e.error_type(), e.to_string());

    let mut no_deploy = input(Some(PASSING));
    no_deploy.as_object_mut().unwrap().remove("deploy");
    let (kind, m) = problem(
        invoke(stored(config(Some(&base), None)), no_deploy)
            .await
            .unwrap_err(),
    );
    assert_eq!(kind, "BadInput");
    assert!(
        m.contains("execution input is invalid at `deploy`: is missing"),
        "{m}"
    );

    let mut other_release = input(Some(PASSING));
    other_release["deploy"]["version"] = json!("v1");
    let (kind, m) = problem(
        invoke(stored(config(Some(&base), None)), other_release)
            .await
            .unwrap_err(),
    );
    assert_eq!(kind, "BadInput");
    assert!(m.contains("deploying checkout v1, not this release"), "{m}");

    let (kind, m) = problem(
        invoke(stored(config(None, None)), input(Some(PASSING)))
            .await
            .unwrap_err(),
    );
    assert_eq!(kind, "BadInput");
    assert!(
        m.contains("config /bluegreen/checkout/config is invalid at `test.url`")
            && m.contains("`green.direct_url`"),
        "{m}"
    );

    let (kind, m) = problem(
        invoke(stored(config(Some(&base), None)), input(None))
            .await
            .unwrap_err(),
    );
    assert_eq!(kind, "BadInput");
    assert!(
        m.contains("`smoke_tests`: no smoke tests")
            && m.contains("/bluegreen/checkout/smoke-tests"),
        "{m}"
    );

    let (kind, m) = problem(
        invoke(
            stored(config(Some(&base), None)),
            input(Some("tests:\n  - name: a\n    urll: x\n")),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(kind, "BadInput");
    assert!(
        m.contains("smoke-test spec is invalid at `tests[0].urll`"),
        "{m}"
    );

    let (kind, _) = problem(
        invoke(FakeParams::default(), input(Some(PASSING)))
            .await
            .unwrap_err(),
    );
    assert_eq!(kind, "UnknownApp");
}

#[tokio::test]
async fn the_route_check_uses_the_releases_version_marker() {
    let base = serve().await;
    let mut config: Value = serde_json::from_str(&config(Some(&base), None)).unwrap();
    config["test"]["version_path"] = json!("/version");
    config["test"]["route_timeout_seconds"] = json!(1);
    let params = || {
        FakeParams::with(&[
            ("/bluegreen/checkout/config", config.to_string()),
            ("/bluegreen/checkout/api-key", API_KEY.to_string()),
        ])
    };
    // The app answers with its own build name, which this release names.
    let mut doc = input(Some(PASSING));
    doc["overrides"] = json!({"monitor": {"expected_version_marker": "release-two"}});
    let report = invoke(params(), doc).await.unwrap();
    let route = report.route.as_ref().expect("route checked");
    assert!(route.verified, "{route:?}");
    assert_eq!(route.url, format!("{base}/version"));
    assert_eq!(route.marker, "release-two");

    // With the default marker (the version, `v2`) the route never proves the
    // release: no test runs.
    let err = invoke(params(), input(Some(PASSING))).await.unwrap_err();
    assert_eq!(err.error_type(), "SmokeTestFailed");
    assert!(
        err.to_string()
            .contains("the test route did not answer with `v2`"),
        "{err}"
    );
}

/// A spec arrives with the execution input: it must not read another app's
/// secrets through this shared function. Refused before any request.
#[tokio::test]
async fn another_apps_parameter_is_refused_before_any_request() {
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    let router = Router::new().fallback(move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async { "ok" }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    for name in [
        "/bluegreen/payments/api-key",
        "/bluegreen/checkout/../payments/api-key",
        "/other",
    ] {
        let spec = format!(
            "tests:\n  - {{ name: Health, url: \"{{{{base_url}}}}/health\" }}\n  - {{ name: Steal, url: \"{{{{base_url}}}}/x\", headers: {{ X-Key: \"{{{{ssm:{name}}}}}\" }} }}\n"
        );
        let params = FakeParams::with(&[
            ("/bluegreen/checkout/config", config(Some(&base), None)),
            ("/bluegreen/payments/api-key", "payments-secret".to_string()),
        ]);
        let err = invoke(params, input(Some(&spec))).await.unwrap_err();
        let text = err.to_string();
        assert_eq!(err.error_type(), "BadInput", "{text}");
        assert!(text.contains("`tests[1]`"), "{text}");
        assert!(
            text.contains("use a name under /bluegreen/checkout/"),
            "{text}"
        );
        assert!(!text.contains("payments-secret"), "{text}");
    }
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "no request was made"
    );
}
