//! The monitor Lambda through its real entry function: config from the
//! emulator, alarms from the emulator's CloudWatch, probes against real local
//! HTTP servers. (moto serves no percentiles and evaluates no alarms, so the
//! metric rules are unit-tested with fixed windows in bluegreen-core and the
//! CloudWatch adapter against recorded responses in bluegreen-aws.)

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use bluegreen_core::steps::monitor::{MonitorOutcome, Verdict};
use bluegreen_core::steps::switch::SwitchOutcome;
use bluegreen_core::{Color, Split};
use bluegreen_e2e::{AppOptions, Behaviour, ExampleApp, SampleApp, lambda_event, release_input};
use bluegreen_lambda::HandlerError;
use bluegreen_monitor::{HttpProber, Signals, SystemClock, WithSignals};
use serde_json::{Value, json};

async fn monitor(app: &ExampleApp, doc: &Value) -> Result<MonitorOutcome, HandlerError> {
    let signals = Signals {
        metrics: bluegreen_aws::metrics(&app.sdk),
        prober: HttpProber::new(),
        clock: SystemClock,
    };
    let ports = app.ports();
    let aws = WithSignals {
        ports: &ports,
        signals: &signals,
    };
    bluegreen_monitor::handler(
        &aws,
        &bluegreen_core::ports::NoHooks,
        lambda_event(doc.clone()),
    )
    .await
}

/// The monitor with CloudWatch answered by `cloudwatch` (a stand-in served
/// over HTTP) instead of the emulator; everything else from the emulator.
async fn monitor_via(
    app: &ExampleApp,
    cloudwatch: &str,
    doc: &Value,
) -> Result<MonitorOutcome, HandlerError> {
    let sdk = app.sdk.to_builder().endpoint_url(cloudwatch).build();
    let signals = Signals {
        metrics: bluegreen_aws::metrics(&sdk),
        prober: HttpProber::new(),
        clock: SystemClock,
    };
    let ports = app.ports();
    let aws = WithSignals {
        ports: &ports,
        signals: &signals,
    };
    bluegreen_monitor::handler(
        &aws,
        &bluegreen_core::ports::NoHooks,
        lambda_event(doc.clone()),
    )
    .await
}

/// What the CloudWatch stand-in answers: per request body (awsQuery form),
/// an HTTP status and an XML body.
type Answer = Arc<dyn Fn(&str) -> (u16, String) + Send + Sync>;

/// A CloudWatch stand-in on a local port: answers every request with
/// `answer(body)` and keeps the request bodies.
async fn cloudwatch_stand_in(answer: Answer) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(vec![]));
    let keep = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let (answer, keep) = (answer.clone(), keep.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                let body = loop {
                    let n = s.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break text[end + 4..].to_string();
                        }
                    }
                };
                let body = body.replace("%3A", ":").replace("%2F", "/");
                keep.lock().unwrap().push(body.clone());
                let (status, xml) = answer(&body);
                let resp = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{xml}",
                    xml.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    (url, seen)
}

/// A `GetMetricData` answer: one value per minute for each query id.
fn metric_data(series: &[(&str, Vec<(i64, f64)>)]) -> String {
    let mut results = String::new();
    for (id, points) in series {
        let stamp = |t: i64| {
            time::OffsetDateTime::from_unix_timestamp(t)
                .unwrap()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap()
        };
        let ts: String = points
            .iter()
            .map(|(t, _)| format!("<member>{}</member>", stamp(*t)))
            .collect();
        let vs: String = points
            .iter()
            .map(|(_, v)| format!("<member>{v}</member>"))
            .collect();
        results.push_str(&format!(
            "<member><Id>{id}</Id><StatusCode>Complete</StatusCode><Timestamps>{ts}</Timestamps><Values>{vs}</Values></member>"
        ));
    }
    format!(
        r#"<GetMetricDataResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><GetMetricDataResult><MetricDataResults>{results}</MetricDataResults><Messages/></GetMetricDataResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetMetricDataResponse>"#
    )
}

const NO_ALARMS: &str = r#"<DescribeAlarmsResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><DescribeAlarmsResult><MetricAlarms/><CompositeAlarms/></DescribeAlarmsResult><ResponseMetadata><RequestId>2</RequestId></ResponseMetadata></DescribeAlarmsResponse>"#;

fn quiet_alarm(name: &str) -> String {
    format!(
        r#"<DescribeAlarmsResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><DescribeAlarmsResult><MetricAlarms><member><AlarmName>{name}</AlarmName><StateValue>OK</StateValue></member></MetricAlarms><CompositeAlarms/></DescribeAlarmsResult><ResponseMetadata><RequestId>3</RequestId></ResponseMetadata></DescribeAlarmsResponse>"#
    )
}

const ACCESS_DENIED: &str = r#"<ErrorResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not allowed right now</Message></Error><RequestId>4</RequestId></ErrorResponse>"#;

/// Parses `StartTime=…` / `EndTime=…` of a `GetMetricData` request body.
fn request_time(body: &str, key: &str) -> i64 {
    let at = body
        .find(&format!("{key}="))
        .expect("a time in the request")
        + key.len()
        + 1;
    let value: String = body[at..].chars().take_while(|c| *c != '&').collect();
    time::OffsetDateTime::parse(&value, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{value}: {e}"))
        .unix_timestamp()
}

/// An app whose production URL is `probe`, switched all at once to v2.
async fn switched(name: &str, probe: &SampleApp, monitor_cfg: Value) -> (ExampleApp, Value) {
    // A one-second slice: each call makes one probe round and one read, so
    // a test steps through a bake call by call (the slices themselves are
    // tested in bluegreen-core and in the pipeline).
    let mut cfg = json!({"probe_url": format!("{}/version", probe.url), "min_requests": 0,
                         "probe_requests": 5, "probe_timeout_ms": 500, "slice_seconds": 1});
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
    assert!(first.figures.version_seen);
    assert_eq!(first.figures.probes.as_ref().unwrap().new_version, 5);

    let done = monitor(&app, &later(&doc, &first, 31))
        .await
        .expect("monitor");
    assert_eq!(done.verdict, Verdict::Promote, "{:?}", done.reasons);
    assert_eq!(done.slices, 2);
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
    assert!(!first.figures.version_seen);

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
    assert!(quiet.figures.alarms_in_alarm.is_empty(), "{quiet:?}");

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
    let (app, doc) = switched(
        "mo-quiet",
        &prod,
        json!({"min_requests": 100, "metrics_delay_seconds": 0}),
    )
    .await;
    let first = monitor(&app, &doc).await.expect("monitor");
    let after_bake = monitor(&app, &later(&doc, &first, 130))
        .await
        .expect("monitor");
    assert_eq!(
        after_bake.verdict,
        Verdict::Continue,
        "{:?}",
        after_bake.reasons
    );
    assert!(
        after_bake.reasons[0].contains("0 user request(s) so far, 100 needed"),
        "{:?}",
        after_bake.reasons
    );
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

/// A failed `DescribeAlarms` is not "no alarm fires": the bake waits, and
/// after three unreadable reads in a row it breaches. It never promotes.
#[tokio::test]
async fn an_alarm_read_failure_never_promotes_and_breaches_after_three_calls() {
    let prod = SampleApp::start("v2", Behaviour::Healthy).await;
    let (app, doc) = switched(
        "mo-alarm-fail",
        &prod,
        json!({"alarm_names": ["mo-alarm-fail-5xx"], "metrics_delay_seconds": 0}),
    )
    .await;
    let answer: Answer = Arc::new(|body: &str| {
        if body.contains("Action=DescribeAlarms") {
            (400, ACCESS_DENIED.to_string())
        } else {
            (200, metric_data(&[("requests", vec![])]))
        }
    });
    let (cloudwatch, _) = cloudwatch_stand_in(answer).await;
    let first = monitor_via(&app, &cloudwatch, &doc).await.expect("monitor");
    assert_eq!(first.verdict, Verdict::Continue, "{:?}", first.reasons);
    assert_eq!(first.figures.failed_reads, 1);
    // After the bake: without the alarms' word, still no promote.
    let second = monitor_via(&app, &cloudwatch, &later(&doc, &first, 130))
        .await
        .expect("monitor");
    assert_eq!(second.verdict, Verdict::Continue, "{:?}", second.reasons);
    assert!(
        second
            .reasons
            .iter()
            .any(|r| r.contains("cannot judge (2 of 3") && r.contains("AccessDenied")),
        "{:?}",
        second.reasons
    );
    let third = monitor_via(&app, &cloudwatch, &later(&doc, &second, 0))
        .await
        .expect("monitor");
    assert_eq!(third.verdict, Verdict::Breach, "{:?}", third.reasons);
    assert!(
        third.reasons[0].contains("unreadable in 3 read(s) in a row"),
        "{:?}",
        third.reasons
    );

    // An alarm that answers again resets the count.
    let answer: Answer = Arc::new(|body: &str| {
        if body.contains("Action=DescribeAlarms") {
            (200, quiet_alarm("mo-alarm-fail-5xx"))
        } else {
            (200, metric_data(&[("requests", vec![])]))
        }
    });
    let (cloudwatch, _) = cloudwatch_stand_in(answer).await;
    let healed = monitor_via(&app, &cloudwatch, &later(&doc, &second, 0))
        .await
        .expect("monitor");
    assert_eq!(healed.figures.failed_reads, 0);
    assert_eq!(healed.verdict, Verdict::Promote, "{:?}", healed.reasons);
}

/// ALB metrics arrive late: the minute still running (here: a 5xx burst
/// CloudWatch has only partly counted) is not judged, and the window asked
/// for ends at a whole minute that is over.
#[tokio::test]
async fn an_incomplete_metric_minute_is_not_judged() {
    let prod = SampleApp::start("v2", Behaviour::Healthy).await;
    let (app, doc) = switched(
        "mo-partial",
        &prod,
        json!({"min_requests": 10, "metrics_delay_seconds": 0}),
    )
    .await;
    // Complete minutes: 100 requests each, no errors. The minute running
    // when the request arrives: 20 requests so far, 10 of them 5xx.
    let answer: Answer = Arc::new(|body: &str| {
        if body.contains("Action=DescribeAlarms") {
            return (200, NO_ALARMS.to_string());
        }
        let (from, to) = (
            request_time(body, "StartTime"),
            request_time(body, "EndTime"),
        );
        let running = time::OffsetDateTime::now_utc().unix_timestamp() / 60 * 60;
        let (mut requests, mut errors) = (vec![], vec![]);
        let mut t = from;
        while t < to {
            if t >= running {
                requests.push((t, 20.0));
                errors.push((t, 10.0));
            } else {
                requests.push((t, 100.0));
                errors.push((t, 0.0));
            }
            t += 60;
        }
        (
            200,
            metric_data(&[("requests", requests), ("errors", errors)]),
        )
    });
    let (cloudwatch, seen) = cloudwatch_stand_in(answer).await;
    let first = monitor_via(&app, &cloudwatch, &doc).await.expect("monitor");
    let out = monitor_via(&app, &cloudwatch, &later(&doc, &first, 150))
        .await
        .expect("monitor");
    assert_eq!(out.verdict, Verdict::Promote, "{:?}", out.reasons);
    assert_eq!(out.figures.metrics.map(|m| m.target_5xx), Some(0.0));
    let asked = seen.lock().unwrap().clone();
    let request = asked
        .iter()
        .find(|b| b.contains("Action=GetMetricData"))
        .expect("metrics were read");
    let end = request_time(request, "EndTime");
    assert_eq!(end % 60, 0, "whole minutes only: {request}");
    assert!(
        end <= time::OffsetDateTime::now_utc().unix_timestamp(),
        "a minute that is not over was asked for: {request}"
    );
    assert_eq!(
        out.figures.metrics_until.map(|t| t.unix_timestamp()),
        Some(end)
    );
}

/// A release whose monitor would watch an alarm that does not exist fails
/// in deploy-idle, before the lock or the idle color are touched, naming
/// the alarm.
#[tokio::test]
async fn a_missing_alarm_fails_before_anything_is_deployed() {
    let options = AppOptions {
        monitor: json!({"alarm_names": ["mo-missing-present", "mo-missing-typo"]}),
        ..AppOptions::default()
    };
    let app = bluegreen_e2e::provision("mo-missing", options).await;
    let cw = aws_sdk_cloudwatch::Client::new(&app.sdk);
    cw.put_metric_alarm()
        .alarm_name("mo-missing-present")
        .namespace("AWS/ApplicationELB")
        .metric_name("HTTPCode_Target_5XX_Count")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(10.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .expect("put alarm");
    let idle_td = app.service_task_definition(Color::Green).await;
    let active_td = app.service_task_definition(Color::Blue).await;
    let doc = release_input(&app.name, "v2");
    let (ports, alarms) = (app.ports(), bluegreen_aws::metrics(&app.sdk));
    let aws = WithSignals {
        ports: &ports,
        signals: &alarms,
    };
    let err = bluegreen_deploy_idle::handler_checking_alarms(
        &aws,
        &bluegreen_core::ports::NoHooks,
        lambda_event(doc.clone()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "BadInput", "{err}");
    let m = err.to_string();
    assert!(
        m.contains("`monitor.alarm_names[1]`") && m.contains("`mo-missing-typo`"),
        "{m}"
    );
    assert!(!m.contains("mo-missing-present"), "{m}");
    assert_eq!(app.parameter("lock").await, None, "no lock was taken");
    assert_eq!(app.service_task_definition(Color::Green).await, idle_td);
    assert_eq!(app.service_task_definition(Color::Blue).await, active_td);

    // Named in an override instead: the override's path is named.
    let mut doc = doc;
    doc["overrides"] = json!({"monitor": {"alarm_names": ["mo-missing-other"]}});
    let err = bluegreen_deploy_idle::handler_checking_alarms(
        &aws,
        &bluegreen_core::ports::NoHooks,
        lambda_event(doc),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("`overrides.monitor.alarm_names[0]`"),
        "{err}"
    );
    assert_eq!(app.parameter("lock").await, None);
}

/// Monitor overrides out of range fail in the first step, before anything
/// changes, naming `overrides.monitor.<field>`.
#[tokio::test]
async fn a_bad_monitor_override_fails_before_anything_changes() {
    let app = bluegreen_e2e::provision("mo-override", AppOptions::default()).await;
    let idle_td = app.service_task_definition(Color::Green).await;
    let (ports, alarms) = (app.ports(), bluegreen_aws::metrics(&app.sdk));
    let aws = WithSignals {
        ports: &ports,
        signals: &alarms,
    };
    for (monitor, field) in [
        (json!({"max_5xx_rate": 5}), "max_5xx_rate"),
        (json!({"min_requests": 0}), "min_requests"),
        (json!({"probe_timeout_ms": 60000}), "probe_timeout_ms"),
    ] {
        let mut doc = release_input(&app.name, "v2");
        doc["overrides"] = json!({"monitor": monitor});
        let err = bluegreen_deploy_idle::handler_checking_alarms(
            &aws,
            &bluegreen_core::ports::NoHooks,
            lambda_event(doc),
        )
        .await
        .unwrap_err();
        assert_eq!(err.error_type(), "BadInput", "{err}");
        assert!(
            err.to_string()
                .contains(&format!("`overrides.monitor.{field}`")),
            "{err}"
        );
    }
    assert_eq!(app.parameter("lock").await, None, "no lock was taken");
    assert_eq!(app.service_task_definition(Color::Green).await, idle_td);
}

/// A listener ARN the config accepts but whose CloudWatch dimensions cannot
/// be derived leaves the monitor with no metrics at all: that is an
/// unreadable signal (wait, then breach), never "no traffic requirement".
#[tokio::test]
async fn metrics_that_cannot_be_addressed_never_promote() {
    let prod = SampleApp::start("v2", Behaviour::Healthy).await;
    let (app, doc) = switched(
        "mo-nodims",
        &prod,
        json!({"min_requests": 10, "metrics_delay_seconds": 0}),
    )
    .await;
    let (text, _) = app.parameter("config").await.expect("config");
    let mut config: Value = serde_json::from_str(&text).unwrap();
    config["production"]["listener_arn"] =
        json!("arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/short");
    app.ssm
        .put_parameter()
        .name(format!("{}/{}/config", bluegreen_e2e::PREFIX, app.name))
        .value(config.to_string())
        .overwrite(true)
        .send()
        .await
        .expect("put config");
    let first = monitor(&app, &doc).await.expect("monitor");
    let second = monitor(&app, &later(&doc, &first, 130))
        .await
        .expect("monitor");
    assert_eq!(second.verdict, Verdict::Continue, "{:?}", second.reasons);
    assert!(
        second
            .reasons
            .iter()
            .any(|r| r.contains("no CloudWatch dimensions")),
        "{:?}",
        second.reasons
    );
    let third = monitor(&app, &later(&doc, &second, 0))
        .await
        .expect("monitor");
    assert_eq!(third.verdict, Verdict::Breach, "{:?}", third.reasons);
}

/// Only the deployment holding the lock is watched: one that lost it (a
/// rollback took it over, or it was released) must never promote.
#[tokio::test]
async fn a_deployment_that_lost_the_lock_is_not_watched() {
    let prod = SampleApp::start("v2", Behaviour::Healthy).await;
    let (app, doc) = switched("mo-nolock", &prod, json!({})).await;
    bluegreen_e2e::release_lock(&app, &bluegreen_e2e::manual_holder(&app, "v2")).await;
    let err = monitor(&app, &doc).await.unwrap_err();
    assert_eq!(err.error_type(), "NotLockHolder", "{err}");
    assert!(err.to_string().contains("no lock is held"), "{err}");
}
