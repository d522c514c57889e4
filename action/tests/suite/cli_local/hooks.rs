//! Lifecycle hooks through the real state machine in local mode: a real
//! HTTP receiver (wiremock) gets each point's signed POST; a failing hook
//! before traffic aborts and after traffic rolls back; a hanging hook costs
//! its timeout, no more; a hanging `on-rollback` hook does not hold up an
//! emergency rollback.

use std::time::{Duration, Instant};

use bluegreen_core::{Color, Split};
use bluegreen_local::example::AppOptions;
use bluegreen_local::{Local, LocalApp};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{APP, Run, deploy, quick, receiver, rollback_now, setup_with};

const SECRET: &str = "a-team-secret";

/// The app with `hooks`, its signing secret stored, and the previous color
/// kept warm (so an emergency rollback is one listener change).
async fn setup_with_hooks(hooks: Value) -> (Local, LocalApp) {
    let (local, app) = setup_with(AppOptions {
        strategy: json!({"type": "weighted", "steps": [50, 100], "bake_seconds": 2}),
        warm_window_seconds: 300,
        extra_config: json!({"hooks": hooks}),
        ..quick()
    })
    .await;
    aws_sdk_ssm::Client::new(&local.sdk)
        .put_parameter()
        .name(format!("/bluegreen/{APP}/hooks-secret"))
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .value(SECRET)
        .send()
        .await
        .expect("the secret");
    (local, app)
}

fn hook(server: &MockServer, at: &str) -> Value {
    json!({"at": at, "url": format!("{}/{at}?token=not-for-logs", server.uri()), "timeout_seconds": 5})
}

/// What a receiver does with the signature header: recompute the HMAC of
/// "<t>.<body>" with the shared secret and compare (docs/hooks.md).
fn verifies(signature: &str, body: &[u8]) -> bool {
    let Some((t, v1)) = signature
        .split_once(',')
        .and_then(|(t, v)| Some((t.strip_prefix("t=")?, v.strip_prefix("v1=")?)))
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    let Ok(expected) = hex::decode(v1) else {
        return false;
    };
    mac.verify_slice(&expected).is_ok()
}

/// The points the receiver heard, in order, each with its JSON body;
/// every one carried a valid signature.
async fn heard(server: &MockServer) -> Vec<(String, Value)> {
    let requests = server.received_requests().await.unwrap_or_default();
    requests
        .iter()
        .map(|r| {
            let signature = r
                .headers
                .get("x-bluegreen-signature")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            assert!(
                verifies(signature, &r.body),
                "a valid signature on {}: {signature}",
                r.url
            );
            let body: Value = serde_json::from_slice(&r.body).expect("a JSON body");
            (r.url.path().trim_start_matches('/').to_string(), body)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_point_gets_a_signed_delivery_in_order_and_on_rollback_hears_of_the_rollback() {
    let server = receiver(200).await;
    let points = [
        "after-deploy",
        "before-switch",
        "after-step",
        "after-promote",
        "on-rollback",
    ];
    let hooks: Vec<Value> = points.iter().map(|at| hook(&server, at)).collect();
    let (local, app) = setup_with_hooks(json!(hooks)).await;

    let run = deploy(&local, "v2", "701").await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        !run.stdout.contains("not-for-logs"),
        "a hook's URL query never shows: {}",
        run.stdout
    );
    assert!(
        run.stdout.contains("hooks: after-step http://127.0.0.1:")
            && run.stdout.contains("/after-step passed (200)"),
        "the timeline tells the hooks: {}",
        run.stdout
    );
    let got = heard(&server).await;
    let order: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        order,
        [
            "after-deploy",
            "before-switch",
            "after-step",
            "after-step",
            "after-promote"
        ],
        "one after-step per step (50%, 100%)"
    );
    let (_, first_step) = &got[2];
    assert_eq!(first_step["app"], APP);
    assert_eq!(first_step["version"], "v2");
    assert_eq!(first_step["release_color"], "green");
    assert_eq!(first_step["weight"], 50);
    assert_eq!(first_step["weights"], json!({"blue": 50, "green": 50}));
    assert!(
        first_step["delivery"]
            .as_str()
            .unwrap()
            .ends_with("/after-step/0")
    );
    let (_, deployed) = &got[0];
    assert!(
        deployed["test_url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:"),
        "the test listener: {deployed}"
    );

    // An emergency rollback: traffic goes back, then the hook hears why.
    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let rolled = rollback_now(&local, "errors after v2", &[], "702").await;
    assert_eq!(rolled.code, 0, "{}", rolled.stdout);
    assert_eq!(app.app.listener_split().await, Split::all(Color::Blue));
    let got = heard(&server).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "on-rollback");
    assert_eq!(got[0].1["reason"], "errors after v2");
    assert_eq!(
        got[0].1["release_color"], "green",
        "the release rolled back"
    );
    assert_eq!(got[0].1["weights"], json!({"blue": 100, "green": 0}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_hook_before_traffic_aborts_and_after_traffic_rolls_back() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/before-switch"))
        .respond_with(ResponseTemplate::new(503).set_body_string("maintenance freeze"))
        .mount(&server)
        .await;
    let (local, app) = setup_with_hooks(json!([hook(&server, "before-switch")])).await;
    let run = deploy(&local, "v2", "711").await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("HookFailed"), "{}", run.stdout);
    assert!(run.stdout.contains("maintenance freeze"), "{}", run.stdout);
    assert!(run.outputs.contains("result=aborted"), "{}", run.outputs);
    assert_eq!(app.app.listener_split().await, Split::all(Color::Blue));
    assert_eq!(
        app.app.parameter("lock").await,
        None,
        "the lock was released"
    );
    drop((local, app));

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/after-step"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let (local, app) = setup_with_hooks(json!([hook(&server, "after-step")])).await;
    let run = deploy(&local, "v2", "712").await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("HookFailed"), "{}", run.stdout);
    assert!(
        run.stdout.contains("did not go live: RolledBack"),
        "{}",
        run.stdout
    );
    assert!(
        run.outputs.contains("result=rolled-back"),
        "{}",
        run.outputs
    );
    assert_eq!(app.app.listener_split().await, Split::all(Color::Blue));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hook_that_hangs_costs_its_timeout_and_no_more() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(60)))
        .mount(&server)
        .await;
    let mut hanging = hook(&server, "after-deploy");
    hanging["timeout_seconds"] = json!(1);
    let (local, app) = setup_with_hooks(json!([hanging])).await;
    let started = Instant::now();
    let run = deploy(&local, "v2", "721").await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("no answer within 1 s"),
        "{}",
        run.stdout
    );
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "bounded by the hook's timeout, not its 60 s: {:?}",
        started.elapsed()
    );
    assert_eq!(app.app.listener_split().await, Split::all(Color::Blue));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hanging_on_rollback_hook_does_not_hold_up_an_emergency_rollback() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(60)))
        .mount(&server)
        .await;
    let mut hanging = hook(&server, "on-rollback");
    hanging["timeout_seconds"] = json!(60);
    let (local, app) = setup_with_hooks(json!([hanging])).await;
    let run = deploy(&local, "v2", "731").await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(app.app.listener_split().await, Split::all(Color::Green));

    let started = Instant::now();
    let rolled: Run = rollback_now(&local, "drill", &[], "732").await;
    let took = started.elapsed();
    assert_eq!(rolled.code, 0, "{}", rolled.stdout);
    assert_eq!(app.app.listener_split().await, Split::all(Color::Blue));
    // The hook's budget (2 s) on top of the rollback itself, not its 60 s.
    assert!(
        took < Duration::from_secs(15),
        "{took:?}: {}",
        rolled.stdout
    );
    assert!(
        rolled.stdout.contains("no answer within 2 s"),
        "the result reports the hook: {}",
        rolled.stdout
    );
}

/// The receiver docs/hooks.md shows, run as written (python3, standard
/// library only), against a delivery signed as bluegreen signs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_verifier_accepts_a_signed_delivery_and_refuses_a_tampered_one() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/hooks.md"))
        .expect("docs/hooks.md");
    let script = doc
        .split("```python\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a python block in docs/hooks.md");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut receiver = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .env("BLUEGREEN_HOOKS_SECRET", SECRET)
        .env("PORT", port.to_string())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 (scripts/install-deps installs it)");
    let url = format!("http://127.0.0.1:{port}/hook");
    let http = reqwest::Client::new();
    let body = r#"{"at":"after-step","app":"web"}"#;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let signature = bluegreen_core::steps::hooks::signature(SECRET, now, body);
    let send = |body: &'static str, signature: String| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            for _ in 0..50 {
                if let Ok(r) = http
                    .post(&url)
                    .header("X-Bluegreen-Signature", &signature)
                    .body(body)
                    .send()
                    .await
                {
                    return r.status().as_u16();
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("the documented receiver never listened");
        }
    };
    assert_eq!(send(body, signature.clone()).await, 204);
    assert_eq!(
        send(r#"{"at":"after-step","app":"other"}"#, signature).await,
        401,
        "a body changed after signing"
    );
    let old = bluegreen_core::steps::hooks::signature(SECRET, now - 3600, body);
    assert_eq!(send(body, old).await, 401, "a replayed old delivery");
    receiver.kill().await.ok();
}

/// A Lambda hook, hosted beside bluegreen's functions in local mode and
/// invoked through the Lambda API with the same payload: one that answers
/// lets the release through; one that raises aborts it with its error.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lambda_hook_gets_the_payload_and_its_error_aborts_the_release() {
    let function = |name: &str| format!("arn:aws:lambda:us-east-1:123456789012:function:{name}");
    let (local, app) = setup_with_hooks(json!([
        {"at": "after-deploy", "function_arn": function("team-checks")},
        {"at": "before-switch", "function_arn": function("team-gate")},
    ]))
    .await;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let record = seen.clone();
    local.host.add_function(
        "team-checks",
        std::sync::Arc::new(move |event: Value| {
            record.lock().unwrap().push(event);
            Ok(json!({"ok": true}))
        }),
    );
    local.host.add_function(
        "team-gate",
        std::sync::Arc::new(|_| {
            Err((
                "FreezeError".to_string(),
                "release freeze until Monday".to_string(),
            ))
        }),
    );
    let run = deploy(&local, "v2", "741").await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("HookFailed"), "{}", run.stdout);
    assert!(
        run.stdout.contains("release freeze until Monday"),
        "{}",
        run.stdout
    );
    assert_eq!(app.app.listener_split().await, Split::all(Color::Blue));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["at"], "after-deploy");
    assert_eq!(seen[0]["app"], APP);
    assert_eq!(seen[0]["version"], "v2");
}
