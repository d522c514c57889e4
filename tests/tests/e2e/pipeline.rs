//! End to end: the CDK-defined state machine (checked-in ASL) executed by the
//! emulator, calling the real Lambda handlers in-process, deploying sample
//! app versions that run as local HTTP servers. Each test has its own
//! emulator.

use std::time::Duration;

use bluegreen_action::timeline::{Ending, follow};
use bluegreen_core::records::state::{AppState, Phase};
use bluegreen_core::steps::monitor::{MonitorOutcome, Verdict};
use bluegreen_core::{Color, Split};
use bluegreen_local::example::AppOptions;
use bluegreen_local::sample::Behaviour;
use bluegreen_local::{Local, LocalApp};
use serde_json::{Value, json};

const APP: &str = "shop";

async fn local_with_app() -> (Local, LocalApp) {
    let local = Local::start(true).await.unwrap_or_else(|e| panic!("{e}"));
    let options = AppOptions {
        strategy: json!({"type": "weighted", "steps": [50, 100], "bake_seconds": 2}),
        monitor: json!({"min_requests": 0, "probe_requests": 6, "probe_timeout_ms": 1000,
                        "version_timeout_seconds": 10}),
        warm_window_seconds: 1,
        extra_config: json!({"deploy_timeout_seconds": 30}),
        ..AppOptions::default()
    };
    let app = local.app(APP, options).await.expect("app");
    (local, app)
}

async fn release(
    local: &Local,
    version: &str,
    attempt: u32,
    overrides: Option<Value>,
) -> (String, Ending) {
    let arn = local
        .start_release(APP, version, attempt, overrides)
        .await
        .expect("start");
    let ending = follow(&local.sfn, &arn, Duration::from_secs(90), false, |_, _| {})
        .await
        .expect("follow");
    (arn, ending)
}

async fn served_version(app: &LocalApp) -> String {
    let body = reqwest::get(format!("{}/version", app.production_url))
        .await
        .expect("production answers")
        .text()
        .await
        .unwrap();
    serde_json::from_str::<Value>(&body).expect("json")["version"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn states_entered(local: &Local, arn: &str) -> Vec<String> {
    let events = local.execution_history(arn).await.unwrap();
    events
        .iter()
        .filter_map(|e| {
            e.state_entered_event_details
                .as_ref()
                .map(|d| d.name.clone())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_good_release_goes_live_and_the_old_color_is_scaled_down() {
    let (local, app) = local_with_app().await;
    assert_eq!(served_version(&app).await, "v1");
    let (arn, ending) = release(&local, "v2", 1, None).await;
    assert_eq!(ending.status, "SUCCEEDED", "{ending:?}");
    // The smoke tests first proved the test route reached v2, not v1.
    let route = &ending.output.as_ref().expect("output")["smoke"]["route"];
    assert_eq!(route["verified"], true, "{route}");
    assert_eq!(route["marker"], "v2", "{route}");

    assert_eq!(app.app.listener_split().await, Split::all(Color::Green));
    let state = app.app.stored_state().await.unwrap();
    assert_eq!(
        (
            state.active_color,
            state.active_version.as_deref(),
            state.phase
        ),
        (Color::Green, Some("v2"), Phase::Stable)
    );
    app.app.assert_state_matches_listener().await;
    assert!(app.app.parameter("lock").await.is_none(), "lock released");
    assert_eq!(served_version(&app).await, "v2");
    assert_eq!(
        app.app.desired_count(Color::Blue).await,
        0,
        "old color scaled down after the warm window"
    );

    let states = states_entered(&local, &arn).await;
    for s in [
        "DeployIdle",
        "CheckIdle",
        "SmokeTest",
        "Switch",
        "Monitor",
        "ReleaseLock",
        "WarmWindow",
        "ScaleDown",
        "Released",
    ] {
        assert!(
            states.contains(&s.to_string()),
            "{s} missing from {states:?}"
        );
    }
    assert_eq!(
        states.iter().filter(|s| *s == "Switch").count(),
        2,
        "two weight steps"
    );
    // One monitor call per step: each watched its whole bake.
    assert_eq!(
        states.iter().filter(|s| *s == "Monitor").count(),
        2,
        "{states:?}"
    );

    // Rerunning the finished execution's input is safe: nothing to do.
    let (arn2, again) = release(&local, "v2", 2, None).await;
    assert_eq!(again.status, "SUCCEEDED", "{again:?}");
    assert!(
        states_entered(&local, &arn2)
            .await
            .contains(&"NothingToDo".to_string())
    );
    assert_eq!(app.app.listener_split().await, Split::all(Color::Green));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_release_failing_its_smoke_tests_never_gets_traffic() {
    let (local, app) = local_with_app().await;
    let before = app.app.snapshot().await;
    let (arn, ending) = release(&local, "v2-broken-health", 1, None).await;
    assert_eq!(
        (ending.status.as_str(), ending.error.as_deref()),
        ("FAILED", Some("Aborted")),
        "{ending:?}"
    );
    let states = states_entered(&local, &arn).await;
    assert!(!states.contains(&"Switch".to_string()), "{states:?}");
    assert_eq!(app.app.listener_split().await, Split::all(Color::Blue));
    assert_eq!(served_version(&app).await, "v1");
    let after = app.app.snapshot().await;
    assert_eq!(
        after.listener_default, before.listener_default,
        "traffic untouched"
    );
    // What serves is as it was; the state now also says green runs the failed
    // release, so that no rollback can send production there.
    let stored = |text: &str| serde_json::from_str::<AppState>(text).expect("state");
    let before_state = stored(&before.parameters[&format!("/bluegreen/{APP}/state")].0);
    let after_state = stored(&app.app.parameter("state").await.expect("state").0);
    assert_eq!(
        after_state,
        AppState {
            previous_color_replaced_by: Some("v2-broken-health".into()),
            previous_color_replaced_with: after_state.previous_color_replaced_with.clone(),
            ..before_state
        }
    );
    assert!(
        after_state.previous_color_replaced_with.is_some(),
        "the mark names the task definition put there"
    );
    assert!(app.app.parameter("lock").await.is_none(), "lock released");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_release_breaking_in_production_is_rolled_back() {
    let (local, app) = local_with_app().await;
    let (arn, ending) = release(&local, "v2-broken-checkout", 1, None).await;
    assert_eq!(
        (ending.status.as_str(), ending.error.as_deref()),
        ("FAILED", Some("RolledBack")),
        "{ending:?}"
    );
    let states = states_entered(&local, &arn).await;
    assert!(states.contains(&"Rollback".to_string()), "{states:?}");
    assert_eq!(app.app.listener_split().await, Split::all(Color::Blue));
    let state = app.app.stored_state().await.unwrap();
    assert_eq!(
        (state.active_version.as_deref(), state.phase),
        (Some("v1"), Phase::RolledBack)
    );
    app.app.assert_state_matches_listener().await;
    assert!(app.app.parameter("lock").await.is_none());
    assert_eq!(served_version(&app).await, "v1");
    let alerts = app.app.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(
        alerts[0]["reason"].as_str().unwrap().contains("probes"),
        "{alerts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_emergency_rollback_through_sns_stops_the_release_and_restores_production() {
    let (local, app) = local_with_app().await;
    let slow = json!({"strategy": {"type": "all-at-once", "bake_seconds": 120}});
    let arn = local.start_release(APP, "v2", 1, Some(slow)).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let s = app.app.stored_state().await;
        if s.as_ref()
            .is_some_and(|s| s.active_version.as_deref() == Some("v2"))
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "v2 never went live");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    local
        .emergency_rollback(APP, "support sees errors")
        .await
        .expect("publish");
    // The rollback ran inside Publish: production is back before we look.
    assert_eq!(app.app.listener_split().await, Split::all(Color::Blue));
    let ending = match follow(&local.sfn, &arn, Duration::from_secs(30), false, |_, _| {}).await {
        Ok(e) => e,
        Err(e) => panic!("{e}: {:?}", states_entered(&local, &arn).await),
    };
    assert_eq!(ending.status, "ABORTED", "{ending:?}");
    let state = app.app.stored_state().await.unwrap();
    assert_eq!(
        (state.active_version.as_deref(), state.phase),
        (Some("v1"), Phase::RolledBack)
    );
    app.app.assert_state_matches_listener().await;
    let lock = app.app.parameter("lock").await;
    assert!(
        lock.is_none(),
        "the stopped execution's lock is released: {lock:?} {:?}",
        states_entered(&local, &arn).await
    );
}

/// Stopped from the console at 50/50, a release would leave production split
/// with nobody watching. The app's rule (played locally as on AWS) hands the
/// ended execution to the rollback function: production is back on v1 within
/// seconds, the stopped execution's lock is gone, and the team is told.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_release_stopped_from_the_console_mid_split_is_rolled_back() {
    let (local, app) = local_with_app().await;
    let slow = json!({"strategy": {"type": "weighted", "steps": [50, 100], "bake_seconds": 120}});
    let arn = local.start_release(APP, "v2", 1, Some(slow)).await.unwrap();
    until_baking(&local, &arn).await;
    assert_eq!(
        app.app.listener_split().await,
        Split::with(Color::Green, 50)
    );

    local
        .sfn
        .stop_execution()
        .execution_arn(&arn)
        .cause("stopped from the console")
        .send()
        .await
        .unwrap();
    // The rollback moves traffic first, then records, alerts and gives the
    // lock back: wait for all of it.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let moved = app.app.listener_split().await == Split::all(Color::Blue);
        let recorded = app
            .app
            .stored_state()
            .await
            .is_some_and(|s| s.phase == Phase::RolledBack);
        let unlocked = app.app.parameter("lock").await.is_none();
        if moved && recorded && unlocked {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "after the stop: production {}, recorded {recorded}, unlocked {unlocked}",
            app.app.listener_split().await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let state = app.app.stored_state().await.unwrap();
    assert_eq!(
        (state.active_version.as_deref(), state.phase),
        (Some("v1"), Phase::RolledBack)
    );
    app.app.assert_state_matches_listener().await;
    assert!(
        app.app.parameter("lock").await.is_none(),
        "no lock outlives its holder"
    );
    // The local listener, like an ALB, applies a new split after a moment.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut in_a_row = 0;
    while in_a_row < 5 {
        in_a_row = if served_version(&app).await == "v1" {
            in_a_row + 1
        } else {
            0
        };
        assert!(
            std::time::Instant::now() < deadline,
            "production never served only v1"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let alerts = app.app.alerts().await;
    assert!(
        alerts
            .iter()
            .any(|a| a["source"] == json!("execution-ended")),
        "the team hears of it: {alerts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_execution_for_the_app_is_refused_and_the_first_is_unaffected() {
    let (local, app) = local_with_app().await;
    let slow = json!({"strategy": {"type": "all-at-once", "bake_seconds": 4}});
    let first = local.start_release(APP, "v2", 1, Some(slow)).await.unwrap();
    // Wait until the first holds the lock.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while app.app.parameter("lock").await.is_none() {
        assert!(std::time::Instant::now() < deadline, "first never locked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, second) = release(&local, "v3", 1, None).await;
    assert_eq!(
        (second.status.as_str(), second.error.as_deref()),
        ("FAILED", Some("Refused")),
        "{second:?}"
    );
    let ending = follow(
        &local.sfn,
        &first,
        Duration::from_secs(90),
        false,
        |_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(ending.status, "SUCCEEDED", "{ending:?}");
    assert_eq!(served_version(&app).await, "v2");
}

/// Scenario 1 of the heart's review (drift): v2 is live on green; during an
/// incident an operator moves production back to blue (v1) by hand, and the
/// record still says "green v2". The next release, v3, fails in production.
/// It must be rolled back to what served before it, v1 on blue, as the load
/// balancer and ECS say, and the record must end up telling the truth.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_traffic_was_moved_back_by_hand_a_failed_release_rolls_back_to_what_served() {
    let (local, app) = local_with_app().await;
    let at_once = json!({"strategy": {"type": "all-at-once", "bake_seconds": 2}});
    let (_, ending) = release(&local, "v2", 1, Some(at_once.clone())).await;
    assert_eq!(ending.status, "SUCCEEDED", "{ending:?}");
    assert_eq!(served_version(&app).await, "v2");

    // The incident: blue is brought back to size and production moved to it
    // in the console. bluegreen's record still names green v2.
    app.app.set_desired_count(Color::Blue, 2).await;
    app.app.move_production_by_hand(Color::Blue).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while served_version(&app).await != "v1" {
        assert!(
            std::time::Instant::now() < deadline,
            "v1 never served again"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let recorded = app.app.stored_state().await.unwrap();
    assert_eq!(
        (recorded.active_color, recorded.active_version.as_deref()),
        (Color::Green, Some("v2"))
    );

    let (arn, ending) = release(&local, "v3-broken-checkout", 1, Some(at_once)).await;
    assert_eq!(
        (ending.status.as_str(), ending.error.as_deref()),
        ("FAILED", Some("RolledBack")),
        "{ending:?}"
    );
    let states = states_entered(&local, &arn).await;
    assert!(states.contains(&"Switch".to_string()), "{states:?}");
    // Production serves what served before the release, and the record says so.
    assert_eq!(served_version(&app).await, "v1");
    assert_eq!(app.app.listener_split().await, Split::all(Color::Blue));
    let state = app.app.stored_state().await.unwrap();
    assert_eq!(
        (
            state.active_color,
            state.active_version.as_deref(),
            state.previous_version.as_deref(),
            state.phase
        ),
        (
            Color::Blue,
            Some("v1"),
            Some("v3-broken-checkout"),
            Phase::RolledBack
        )
    );
    app.app.assert_state_matches_listener().await;
}

/// The bake compressed: 10 s, probed every second. Minute 3 of a 10-minute
/// bake is second 3 here.
fn watched_bake() -> Value {
    json!({
        "strategy": {"type": "all-at-once", "bake_seconds": 10},
        "monitor": {"probe_interval_seconds": 1, "probe_timeout_ms": 500, "probe_requests": 3}
    })
}

/// Waits until the execution's monitor is watching the bake.
async fn until_baking(local: &Local, arn: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !states_entered(local, arn)
        .await
        .contains(&"Monitor".to_string())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "never reached Monitor"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A release that passes its smoke tests and its first seconds in
/// production, then turns bad (every request 500) in the third "minute" of
/// its bake: the monitor, watching the whole bake, sees it within one probe
/// interval plus one probe timeout, and the release is rolled back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_release_that_turns_bad_in_the_middle_of_its_bake_is_rolled_back_within_one_probe_interval()
 {
    let (local, app) = local_with_app().await;
    let arn = local
        .start_release(APP, "v2", 1, Some(watched_bake()))
        .await
        .expect("start");
    until_baking(&local, &arn).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(served_version(&app).await, "v2", "v2 serves, healthy");
    let turned_bad = time::OffsetDateTime::now_utc();
    assert!(
        app.cluster
            .set_behaviour(Color::Green, Behaviour::Failing(500))
            .await,
        "green runs v2"
    );

    let ending = follow(&local.sfn, &arn, Duration::from_secs(60), false, |_, _| {})
        .await
        .expect("follow");
    assert_eq!(
        (ending.status.as_str(), ending.error.as_deref()),
        ("FAILED", Some("RolledBack")),
        "{ending:?}"
    );
    let doc = ending.document.expect("the document");
    let monitor: MonitorOutcome = serde_json::from_value(doc["monitor"].clone()).unwrap();
    assert_eq!(monitor.verdict, Verdict::Breach);
    assert_eq!(monitor.slices, 1, "one call watched the whole bake");
    let seen_after = monitor.decided_at - turned_bad;
    // One probe interval (1 s) plus one probe timeout (0.5 s).
    assert!(
        seen_after.is_positive() && seen_after <= time::Duration::milliseconds(1500),
        "breach seen {seen_after} after the release turned bad: {:?}",
        monitor.reasons
    );
    assert!(
        monitor.reasons[0].contains("HTTP 500"),
        "{:?}",
        monitor.reasons
    );
    assert_eq!(app.app.listener_split().await, Split::all(Color::Blue));
    assert_eq!(served_version(&app).await, "v1");
}

/// The same release, left healthy, is watched for its whole bake by one
/// monitor call and promoted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_release_left_healthy_is_watched_for_its_whole_bake_and_promoted() {
    let (local, app) = local_with_app().await;
    let arn = local
        .start_release(APP, "v2", 1, Some(watched_bake()))
        .await
        .expect("start");
    let ending = follow(&local.sfn, &arn, Duration::from_secs(60), false, |_, _| {})
        .await
        .expect("follow");
    assert!(ending.succeeded(), "{ending:?}");
    let doc = ending.document.expect("the document");
    let monitor: MonitorOutcome = serde_json::from_value(doc["monitor"].clone()).unwrap();
    assert_eq!(monitor.verdict, Verdict::Promote, "{:?}", monitor.reasons);
    assert_eq!(monitor.slices, 1);
    assert!(monitor.elapsed_seconds >= 10, "{monitor:?}");
    assert!(
        monitor.figures.rounds >= 10,
        "probed every second: {} rounds",
        monitor.figures.rounds
    );
    let states = states_entered(&local, &arn).await;
    assert_eq!(
        states.iter().filter(|s| *s == "Monitor").count(),
        1,
        "{states:?}"
    );
    assert_eq!(served_version(&app).await, "v2");
}

/// The benchmark behind `scripts/bench-transitions` (ignored in the test
/// run): a 4-step weighted release with its bakes compressed, counted from
/// the execution history. Prints one `BENCH {json}` line.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a benchmark: run through scripts/bench-transitions"]
async fn bench_transitions_of_a_four_step_release() {
    let bake: u64 = std::env::var("BENCH_BAKE_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    // The slice keeps its proportion to what a 10-minute bake needs on AWS
    // (840 s to 600 s of bake plus 220 s for the last metric minute; local
    // mode has no metric wait), plus the 6 s a last round may take here
    // (probe timeout and read allowance), which a slice keeps free.
    let slice = (bake * 840).div_ceil(820) + 6;
    let (local, _app) = local_with_app().await;
    let overrides = json!({
        "strategy": {"type": "weighted", "steps": [10, 25, 50, 100], "bake_seconds": bake},
        "monitor": {"probe_interval_seconds": 1, "slice_seconds": slice}
    });
    let (arn, ending) = {
        let arn = local
            .start_release(APP, "v2", 1, Some(overrides))
            .await
            .expect("start");
        let timeout = Duration::from_secs(60 + 8 * bake);
        let ending = follow(&local.sfn, &arn, timeout, false, |_, _| {})
            .await
            .expect("follow");
        (arn, ending)
    };
    assert!(ending.succeeded(), "{ending:?}");
    // Wait for the end (the warm window and scale-down follow the release).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let d = local
            .sfn
            .describe_execution()
            .execution_arn(&arn)
            .send()
            .await
            .unwrap();
        if d.status != aws_sdk_sfn::types::ExecutionStatus::Running {
            break;
        }
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let history = local.execution_history(&arn).await.unwrap();
    let mut entered = vec![];
    // Per Lambda task: seconds from scheduled to succeeded.
    let mut lambda_seconds: Vec<(String, f64)> = vec![];
    let mut current: Option<(String, f64)> = None;
    for e in &history {
        let t = e.timestamp.as_secs_f64();
        if let Some(d) = &e.state_entered_event_details {
            entered.push(d.name.clone());
            current = Some((d.name.clone(), t));
        }
        if matches!(
            e.r#type,
            aws_sdk_sfn::types::HistoryEventType::LambdaFunctionSucceeded
                | aws_sdk_sfn::types::HistoryEventType::TaskSucceeded
        ) && let Some((name, started)) = current.take()
        {
            lambda_seconds.push((name, t - started));
        }
    }
    let count = |s: &str| entered.iter().filter(|n| *n == s).count();
    let report = json!({
        "steps": 4,
        "bake_seconds": bake,
        "slice_seconds": slice,
        "transitions": entered.len(),
        "monitor_calls": count("Monitor"),
        "switch_calls": count("Switch"),
        "states": entered,
        "lambda_seconds": lambda_seconds,
    });
    println!("BENCH {report}");
}

/// Puts `value` orders for `color` at `at` into the emulator's CloudWatch,
/// as the app would publish them.
async fn publish_orders(local: &Local, color: &str, value: f64, at: time::OffsetDateTime) {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    aws_sdk_cloudwatch::Client::new(&local.sdk)
        .put_metric_data()
        .namespace("Shop")
        .metric_data(
            MetricDatum::builder()
                .metric_name("Orders")
                .dimensions(Dimension::builder().name("Color").value(color).build())
                .value(value)
                .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
                    at.unix_timestamp(),
                ))
                .build(),
        )
        .send()
        .await
        .expect("put metric data");
}

/// A business metric through the monitor's real CloudWatch reads: orders
/// per minute on the new color fall by half against the previous color's
/// five minutes before the switch, where the check allows a fifth. The
/// release passes every probe, and is rolled back on the first complete
/// minute, naming the check.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orders_falling_by_half_roll_the_release_back_naming_the_check() {
    let (local, app) = local_with_app().await;
    let now = time::OffsetDateTime::now_utc();
    for minutes_ago in 1..=5 {
        let at = now - time::Duration::seconds(60 * minutes_ago - 30);
        publish_orders(&local, "blue", 100.0, at).await;
    }
    let overrides = json!({
        "strategy": {"type": "all-at-once", "bake_seconds": 5},
        "monitor": {"probe_interval_seconds": 1, "metrics_delay_seconds": 0,
                    "checks": [{"name": "orders per minute", "namespace": "Shop", "metric": "Orders",
                                "dimensions": {"Color": "{{color}}"}, "max_drop": 0.2}]}
    });
    let arn = local
        .start_release(APP, "v2", 1, Some(overrides))
        .await
        .expect("start");
    until_baking(&local, &arn).await;
    publish_orders(&local, "green", 50.0, time::OffsetDateTime::now_utc()).await;
    let ending = follow(&local.sfn, &arn, Duration::from_secs(120), false, |_, _| {})
        .await
        .expect("follow");
    assert_eq!(
        (ending.status.as_str(), ending.error.as_deref()),
        ("FAILED", Some("RolledBack")),
        "{ending:?}"
    );
    let doc = ending.document.expect("the document");
    let monitor: MonitorOutcome = serde_json::from_value(doc["monitor"].clone()).unwrap();
    assert!(
        monitor.reasons[0].starts_with("orders per minute: 50 is 50% below the 100"),
        "{:?}",
        monitor.reasons
    );
    assert_eq!(monitor.figures.checks[0].baseline, Some(100.0));
    assert_eq!(served_version(&app).await, "v1");
}

/// `local up --color-url green=URL`: a color served by the user's own app.
/// A release whose version that app reports passes the smoke tests' route
/// check and the probes against real code, and goes live.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_color_served_by_the_users_own_app_takes_a_release_through_to_live() {
    let own = bluegreen_local::sample::SampleApp::start("v9-mine", Behaviour::Healthy).await;
    let local = Local::start(true).await.unwrap_or_else(|e| panic!("{e}"));
    let options = AppOptions {
        strategy: json!({"type": "all-at-once", "bake_seconds": 2}),
        monitor: json!({"min_requests": 0, "probe_requests": 3, "probe_timeout_ms": 1000}),
        warm_window_seconds: 1,
        ..AppOptions::default()
    };
    let own_colors = std::collections::HashMap::from([(Color::Green, own.url.clone())]);
    let app = local.app_with(APP, options, own_colors).await.expect("app");
    let (_, ending) = release(&local, "v9-mine", 1, None).await;
    assert!(ending.succeeded(), "{ending:?}");
    assert_eq!(served_version(&app).await, "v9-mine");
    assert_eq!(app.app.listener_split().await, Split::all(Color::Green));
}

/// Each app's state machine releases that app only: an input naming another
/// app ends `WrongApp` in its first state, before any function runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_apps_state_machine_refuses_a_release_of_another_app() {
    let (local, app) = local_with_app().await;
    let arn = local
        .sfn
        .start_execution()
        .state_machine_arn(&app.state_machine_arn)
        .name("payments-v2-1")
        .input(bluegreen_local::release_input("payments", "v2").to_string())
        .send()
        .await
        .expect("start")
        .execution_arn;
    let ending = follow(&local.sfn, &arn, Duration::from_secs(30), false, |_, _| {})
        .await
        .expect("follow");
    assert_eq!(ending.status, "FAILED");
    assert_eq!(ending.error.as_deref(), Some("WrongApp"));
    assert_eq!(states_entered(&local, &arn).await, ["ForApp", "NotThisApp"]);
    assert_eq!(served_version(&app).await, "v1", "production untouched");
}

/// On AWS every function acts for an app with the role the app's config
/// names for it (`roles`). Here the emulator's STS hands out those roles'
/// credentials, and a whole release runs on them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_app_whose_config_names_roles_is_released_with_them() {
    let local = Local::start(true).await.unwrap_or_else(|e| panic!("{e}"));
    let role = |f: &str| format!("arn:aws:iam::123456789012:role/bluegreen/test/{APP}-{f}");
    let options = AppOptions {
        strategy: json!({"type": "all-at-once", "bake_seconds": 2}),
        monitor: json!({"min_requests": 0, "probe_requests": 3, "probe_timeout_ms": 1000,
                        "version_timeout_seconds": 10}),
        warm_window_seconds: 1,
        extra_config: json!({
            "deploy_timeout_seconds": 30,
            "roles": {
                "deploy_idle": role("deploy-idle"), "smoke_test": role("smoke-test"),
                "switch": role("switch"), "monitor": role("monitor"), "rollback": role("rollback"),
            },
        }),
        ..AppOptions::default()
    };
    let app = local.app(APP, options).await.expect("app");
    let (_, ending) = release(&local, "v2", 1, None).await;
    assert!(ending.succeeded(), "{ending:?}");
    assert_eq!(served_version(&app).await, "v2");
}
