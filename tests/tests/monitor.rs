//! The monitor Lambda through its real entry function: config from the
//! emulator, alarms from the emulator's CloudWatch, probes against real local
//! HTTP servers. (moto serves no percentiles and evaluates no alarms, so the
//! metric rules are unit-tested with fixed windows in bluegreen-core and the
//! CloudWatch adapter against recorded responses in bluegreen-aws.)

use std::time::Duration;

use bluegreen_core::monitor::{MonitorOutcome, Verdict};
use bluegreen_core::switch::SwitchOutcome;
use bluegreen_core::{Color, Split};
use bluegreen_e2e::{AppOptions, Behaviour, ExampleApp, SampleApp, lambda_event, release_input};
use bluegreen_lambda::HandlerError;
use bluegreen_monitor::{HttpProber, Signals};
use serde_json::{Value, json};

async fn monitor(app: &ExampleApp, doc: &Value) -> Result<MonitorOutcome, HandlerError> {
    let signals = Signals {
        metrics: bluegreen_aws::metrics(&app.sdk),
        prober: HttpProber::new(),
    };
    bluegreen_monitor::handler(&app.ports(), &signals, lambda_event(doc.clone())).await
}

/// An app whose production URL is `probe`, switched all at once to v2.
async fn switched(name: &str, probe: &SampleApp, monitor_cfg: Value) -> (ExampleApp, Value) {
    let mut cfg = json!({"probe_url": format!("{}/version", probe.url), "min_requests": 0,
                         "probe_requests": 5, "probe_timeout_ms": 500});
    for (k, v) in monitor_cfg.as_object().unwrap() {
        cfg[k] = v.clone();
    }
    let options = AppOptions {
        strategy: json!({"type": "all-at-once", "bake_seconds": 30}),
        monitor: cfg,
        ..AppOptions::default()
    };
    let app = bluegreen_e2e::provision(name, options).await;
    let mut doc = release_input(&app.name, "v2");
    bluegreen_e2e::hold_lock(&app, &format!("manual:{}:v2", app.name)).await;
    let out: SwitchOutcome = bluegreen_switch::handler(&app.ports(), lambda_event(doc.clone()))
        .await
        .expect("switch");
    assert_eq!(app.listener_split().await, Split::all(Color::Green));
    doc["switch"] = serde_json::to_value(&out).unwrap();
    (app, doc)
}

/// The document as the next call sees it, with the bake moved `secs` back.
fn later(doc: &Value, out: &MonitorOutcome, secs: i64) -> Value {
    let mut out = out.clone();
    out.bake_started_at -= time::Duration::seconds(secs);
    let mut doc = doc.clone();
    doc["monitor"] = serde_json::to_value(&out).unwrap();
    doc
}

#[tokio::test]
async fn a_healthy_release_continues_then_promotes_after_the_bake() {
    let prod = SampleApp::start("v2", Behaviour::Healthy).await;
    let (app, doc) = switched("mo-good", &prod, json!({})).await;
    let first = monitor(&app, &doc).await.expect("monitor");
    assert_eq!(first.verdict, Verdict::Continue, "{:?}", first.reasons);
    assert!(
        first.reasons[0].starts_with("baking"),
        "{:?}",
        first.reasons
    );
    assert_eq!(first.wait_seconds, 10);
    assert!(first.version_seen);
    assert_eq!(first.probes.as_ref().unwrap().new_version, 5);

    let done = monitor(&app, &later(&doc, &first, 31))
        .await
        .expect("monitor");
    assert_eq!(done.verdict, Verdict::Promote, "{:?}", done.reasons);
    assert_eq!(done.polls, 2);
    assert_eq!(
        done.bake_started_at,
        first.bake_started_at - time::Duration::seconds(31)
    );
}

#[tokio::test]
async fn probes_that_see_5xx_breach_within_one_call() {
    let prod = SampleApp::start("v2", Behaviour::Failing(502)).await;
    let (app, doc) = switched("mo-5xx", &prod, json!({})).await;
    let out = monitor(&app, &doc).await.expect("monitor");
    assert_eq!(out.verdict, Verdict::Breach);
    assert_eq!(out.reasons, vec!["probes: 5 of 5 failed (first: HTTP 502)"]);
}

#[tokio::test]
async fn probes_still_on_the_old_version_continue_until_the_deadline_then_breach() {
    let prod = SampleApp::start("v1", Behaviour::Healthy).await;
    let (app, doc) = switched("mo-stale", &prod, json!({"version_timeout_seconds": 60})).await;
    let first = monitor(&app, &doc).await.expect("monitor");
    assert_eq!(first.verdict, Verdict::Continue);
    assert!(
        first
            .reasons
            .contains(&"probes do not see the new version yet".to_string()),
        "{:?}",
        first.reasons
    );
    assert!(!first.version_seen);

    let late = monitor(&app, &later(&doc, &first, 61))
        .await
        .expect("monitor");
    assert_eq!(late.verdict, Verdict::Breach);
    assert!(
        late.reasons[0].contains("still see the old version"),
        "{:?}",
        late.reasons
    );
}

#[tokio::test]
async fn a_probe_timeout_is_a_breach() {
    let prod = SampleApp::start("v2", Behaviour::Slow(Duration::from_secs(3))).await;
    let (app, doc) = switched("mo-slow", &prod, json!({})).await;
    let out = monitor(&app, &doc).await.expect("monitor");
    assert_eq!(out.verdict, Verdict::Breach);
    assert!(
        out.reasons[0].contains("no answer within 500 ms"),
        "{:?}",
        out.reasons
    );
}

#[tokio::test]
async fn an_alarm_in_alarm_breaches() {
    let prod = SampleApp::start("v2", Behaviour::Healthy).await;
    let (app, doc) = switched(
        "mo-alarm",
        &prod,
        json!({"alarm_names": ["mo-alarm-5xx", "mo-alarm-p99"]}),
    )
    .await;
    let cw = aws_sdk_cloudwatch::Client::new(&app.sdk);
    for name in ["mo-alarm-5xx", "mo-alarm-p99"] {
        cw.put_metric_alarm()
            .alarm_name(name)
            .namespace("AWS/ApplicationELB")
            .metric_name("HTTPCode_Target_5XX_Count")
            .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
            .period(60)
            .evaluation_periods(1)
            .threshold(10.0)
            .comparison_operator(
                aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold,
            )
            .send()
            .await
            .expect("put alarm");
        // The emulator never evaluates alarms: set their state as CloudWatch would.
        cw.set_alarm_state()
            .alarm_name(name)
            .state_value(aws_sdk_cloudwatch::types::StateValue::Ok)
            .state_reason("quiet")
            .send()
            .await
            .expect("set alarm state");
    }
    let quiet = monitor(&app, &doc).await.expect("monitor");
    assert!(quiet.alarms_in_alarm.is_empty(), "{quiet:?}");

    cw.set_alarm_state()
        .alarm_name("mo-alarm-5xx")
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .state_reason("test")
        .send()
        .await
        .expect("set alarm state");
    let out = monitor(&app, &doc).await.expect("monitor");
    assert_eq!(out.verdict, Verdict::Breach);
    assert_eq!(out.reasons, vec!["alarm in ALARM: mo-alarm-5xx"]);
}

#[tokio::test]
async fn too_few_requests_never_promote() {
    let prod = SampleApp::start("v2", Behaviour::Healthy).await;
    // The emulator's CloudWatch has no ALB data: zero requests.
    let (app, doc) = switched("mo-quiet", &prod, json!({"min_requests": 100})).await;
    let first = monitor(&app, &doc).await.expect("monitor");
    let after_bake = monitor(&app, &later(&doc, &first, 40))
        .await
        .expect("monitor");
    assert_eq!(
        after_bake.verdict,
        Verdict::Continue,
        "{:?}",
        after_bake.reasons
    );
    assert!(
        after_bake.reasons[0].contains("0 request(s) so far, 100 needed"),
        "{:?}",
        after_bake.reasons
    );
    assert_eq!(after_bake.wait_seconds, 60);
}

#[tokio::test]
async fn bad_overrides_and_missing_switch_are_named() {
    let prod = SampleApp::start("v2", Behaviour::Healthy).await;
    let (app, mut doc) = switched("mo-bad", &prod, json!({})).await;
    doc["overrides"] = json!({"monitor": {"max_5xx_rat": 0.5}});
    let err = monitor(&app, &doc).await.unwrap_err();
    assert_eq!(err.error_type(), "BadInput");
    assert!(err.to_string().contains("overrides.monitor"), "{err}");
    assert!(err.to_string().contains("max_5xx_rat"), "{err}");

    let mut doc = release_input(&app.name, "v2");
    doc["monitor"] = Value::Null;
    let err = monitor(&app, &doc).await.unwrap_err();
    assert!(err.to_string().contains("`switch`"), "{err}");
}
