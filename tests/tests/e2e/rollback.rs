//! The rollback Lambda through its real entry function, on the in-memory
//! AWS: from the state machine, from an SNS event, and by direct invoke.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bluegreen_core::ports::{
    LoadBalancer, Parameter, ParameterStore, PortResult, Ports, PutMode, PutOutcome, Route,
    RouteActions,
};
use bluegreen_core::records::state::{AppState, Phase};
use bluegreen_core::sim::SimPorts;
use bluegreen_core::steps::rollback::patience::Patience;
use bluegreen_core::{Color, Split};
use bluegreen_e2e::memory::{self, AppOptions, MemoryApp};
use bluegreen_e2e::{JumpingClock, lambda_event, release_input, sns_event};
use bluegreen_lambda::HandlerError;
use bluegreen_rollback::RollbackResponse;
use serde_json::{Value, json};

/// The rollback handler as the Lambda runs it, with a clock that plays the
/// waits for a cold color at once.
async fn rollback(app: &MemoryApp, event: Value) -> Result<RollbackResponse, HandlerError> {
    bluegreen_rollback::handler_with(
        &app.ports(),
        &bluegreen_core::ports::NoHooks,
        lambda_event(event),
        &JumpingClock::default(),
        Patience::LAMBDA,
    )
    .await
}

fn one(r: RollbackResponse) -> bluegreen_core::steps::rollback::RollbackOutcome {
    match r {
        RollbackResponse::One(o) => *o,
        RollbackResponse::Many(mut v) => {
            assert_eq!(v.len(), 1);
            v.remove(0)
        }
        RollbackResponse::Alerted { .. } => panic!("not a rollback outcome"),
    }
}

/// Switches `app` to v2 on green, `steps` at a time, stopping after `take` steps.
async fn deploy_v2(app: &MemoryApp, strategy: Value, take: usize) {
    // Only the lock holder moves traffic: a direct invoke holds it by name.
    memory::hold_lock(app, &format!("manual:{}:v2", app.name)).await;
    let mut input = release_input(&app.name, "v2");
    input["overrides"] = json!({"strategy": strategy});
    for _ in 0..take {
        let out = bluegreen_switch::handler(&app.ports(), lambda_event(input.clone()))
            .await
            .expect("switch");
        input["switch"] = serde_json::to_value(&out).unwrap();
    }
    memory::release_lock(app, &memory::manual_holder(app, "v2")).await;
}

/// v2 released by a running execution that holds the app's lock, its first
/// switch step done (`strategy` overrides the app's); returns the execution
/// and its document.
async fn switched_by_execution(app: &MemoryApp, strategy: Option<Value>) -> (String, Value) {
    let execution = app.start_running_execution("release-v2");
    memory::hold_lock(app, &execution).await;
    let mut doc = release_input(&app.name, "v2");
    doc["execution"] = json!({"arn": execution});
    if let Some(strategy) = strategy {
        doc["overrides"] = json!({"strategy": strategy});
    }
    bluegreen_switch::handler(&app.ports(), lambda_event(doc.clone()))
        .await
        .expect("switch");
    (execution, doc)
}

fn message(app: &str, reason: &str) -> String {
    json!({"app": app, "reason": reason, "requested_by": "oncall@example.com"}).to_string()
}

#[tokio::test]
async fn from_all_green_back_to_blue_and_rolling_back_twice_changes_nothing() {
    let app = memory::provision("rb-full", AppOptions::default());
    deploy_v2(&app, json!({"type": "all-at-once"}), 1).await;
    assert_eq!(app.listener_split(), Split::all(Color::Green));

    let direct = json!({"app": app.name, "reason": "checkout errors", "requested_by": "ana"});
    let out = one(rollback(&app, direct.clone()).await.expect("rollback"));
    assert!(out.changed);
    assert_eq!(
        (out.to.color, out.to.version.as_deref()),
        (Color::Blue, Some("v1"))
    );
    assert_eq!(
        (out.from.color, out.from.version.as_deref()),
        (Color::Green, Some("v2"))
    );
    assert_eq!(app.listener_split(), Split::all(Color::Blue));
    let state = app.stored_state().unwrap();
    assert_eq!(state.phase, Phase::RolledBack);
    assert_eq!(state.active_color, Color::Blue);
    assert_eq!(state.active_version.as_deref(), Some("v1"));
    assert_eq!(state.previous_version.as_deref(), Some("v2"));
    app.assert_state_matches_listener();

    let alerts = app.alerts();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["app"], json!(app.name));
    assert_eq!(alerts[0]["reason"], json!("checkout errors"));
    assert_eq!(alerts[0]["requested_by"], json!("ana"));
    assert_eq!(alerts[0]["to_color"], json!("blue"));

    // Again, by SNS this time: same state, no second alert.
    let before = app.snapshot();
    let again = one(
        rollback(&app, sns_event(&message(&app.name, "pressed twice")))
            .await
            .unwrap(),
    );
    assert!(!again.changed);
    assert_eq!(again.to, out.to);
    assert_eq!(app.snapshot(), before);
    assert!(app.alerts().is_empty());
}

#[tokio::test]
async fn from_a_50_50_split_all_traffic_returns_to_blue() {
    let app = memory::provision("rb-split", AppOptions::default());
    deploy_v2(&app, json!({"type": "weighted", "steps": [50, 100]}), 1).await;
    assert_eq!(
        app.listener_split(),
        Split {
            blue: 50,
            green: 50
        }
    );
    assert_eq!(app.stored_state().unwrap().phase, Phase::Shifting);

    let out = one(
        rollback(&app, sns_event(&message(&app.name, "p99 doubled")))
            .await
            .unwrap(),
    );
    assert!(out.changed);
    assert_eq!(out.to.color, Color::Blue);
    assert_eq!(app.listener_split(), Split::all(Color::Blue));
    app.assert_state_matches_listener();

    let before = app.snapshot();
    let again = one(rollback(&app, sns_event(&message(&app.name, "again")))
        .await
        .unwrap());
    assert!(!again.changed);
    assert_eq!(app.snapshot(), before);
}

#[tokio::test]
async fn rule_based_rollback_moves_the_rule() {
    let options = AppOptions {
        rule_based: true,
        ..AppOptions::default()
    };
    let app = memory::provision("rb-rule", options);
    deploy_v2(&app, json!({"type": "all-at-once"}), 1).await;
    one(rollback(&app, json!({"app": app.name, "reason": "bad"}))
        .await
        .unwrap());
    assert_eq!(app.listener_split(), Split::all(Color::Blue));
    app.assert_state_matches_listener();
}

#[tokio::test]
async fn emergency_rollback_stops_the_running_deployment_and_releases_its_lock() {
    let app = memory::provision("rb-stop", AppOptions::default());
    let execution = app.start_running_execution("release-v2");
    let mut input = release_input(&app.name, "v2");
    input["execution"] = json!({"arn": execution});
    let ports = app.ports();
    memory::hold_lock(&app, &execution).await;
    bluegreen_switch::handler(&ports, lambda_event(input))
        .await
        .expect("switch");

    let out = one(rollback(&app, sns_event(&message(&app.name, "pager")))
        .await
        .unwrap());
    assert_eq!(out.stopped_execution.as_deref(), Some(execution.as_str()));
    assert!(out.lock_released);
    assert_eq!(app.execution_status(&execution), "ABORTED");
    assert!(app.parameter("lock").is_none());
    assert_eq!(app.listener_split(), Split::all(Color::Blue));
    app.assert_state_matches_listener();
}

#[tokio::test]
async fn from_the_state_machine_the_caller_is_not_stopped_and_its_lock_is_released() {
    let app = memory::provision("rb-sfn", AppOptions::default());
    let execution = app.start_running_execution("release-v2");
    let ports = app.ports();
    memory::hold_lock(&app, &execution).await;
    let mut doc = release_input(&app.name, "v2");
    doc["execution"] = json!({"arn": execution});
    bluegreen_switch::handler(&ports, lambda_event(doc.clone()))
        .await
        .expect("switch");

    doc["monitor"] = json!({"verdict": "breach", "reasons": ["5xx rate 12% > 1%"]});
    let out = one(rollback(&app, doc).await.unwrap());
    assert_eq!(out.reason, "monitor breach: 5xx rate 12% > 1%");
    assert_eq!(out.stopped_execution, None);
    assert!(out.lock_released);
    assert_eq!(app.execution_status(&execution), "RUNNING");
    assert_eq!(
        app.stored_state().unwrap().last_execution_arn.as_deref(),
        Some(execution.as_str())
    );
    app.assert_state_matches_listener();
}

/// A release stopped from the console at 50/50 (or timed out, or failed
/// outside a Catch) must not leave production split with nobody watching:
/// the app's rule hands the ended execution to the rollback function, which
/// rolls the release back, takes the dead execution's lock away, and alerts.
#[tokio::test]
async fn an_execution_that_ended_with_production_split_is_rolled_back() {
    let app = memory::provision("rb-ended", AppOptions::default());
    let strategy = json!({"type": "weighted", "steps": [50, 100]});
    let (execution, _) = switched_by_execution(&app, Some(strategy)).await;
    assert_eq!(app.listener_split(), Split::with(Color::Green, 50));

    // While it runs, the event is refused: nothing has ended.
    let input = release_input(&app.name, "v2");
    let event = bluegreen_e2e::execution_ended_event(&execution, "ABORTED", &input);
    let e = rollback(&app, event.clone()).await.unwrap_err();
    assert_eq!(e.error_type(), "BadInput", "{e}");
    assert_eq!(app.listener_split(), Split::with(Color::Green, 50));

    // Someone stops it from the console.
    app.stop_execution(&execution);
    let out = one(rollback(&app, event.clone()).await.expect("rolled back"));
    assert!(out.changed);
    assert_eq!(
        (out.to.color, out.to.version.as_deref()),
        (Color::Blue, Some("v1"))
    );
    assert!(out.reason.contains("ABORTED"), "{}", out.reason);
    assert_eq!(app.listener_split(), Split::all(Color::Blue));
    app.assert_state_matches_listener();
    assert!(
        app.parameter("lock").is_none(),
        "no lock outlives its holder"
    );
    let alerts = app.alerts();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["source"], json!("execution-ended"));

    // EventBridge delivers at least once: the same event again changes nothing.
    let again = one(rollback(&app, event).await.expect("again"));
    assert!(!again.changed);
    assert!(app.alerts().is_empty(), "one rollback, one alert");
}

/// An emergency rollback stops a release at 50/50, moves production back,
/// and then fails before it records the state (its writes keep failing, and
/// nothing retries it: its message has gone stale, say). The reaction to the
/// stopped execution's end finishes that decision instead of leaving it to
/// "the rollback that stopped it" (found by the simulation, seed 32124).
#[tokio::test]
async fn the_end_of_a_stopped_release_finishes_a_rollback_left_half_done() {
    let app = memory::provision("rb-ended-half", AppOptions::default());
    let strategy = json!({"type": "weighted", "steps": [50, 100]});
    let (execution, _) = switched_by_execution(&app, Some(strategy)).await;
    let message = message(&app.name, "checkout errors");
    let e = Box::pin(bluegreen_rollback::handler(
        &failing_writes(&app, &["state"], 0),
        &bluegreen_core::ports::NoHooks,
        lambda_event(sns_event(&message)),
    ))
    .await
    .unwrap_err();
    assert!(e.to_string().contains("injected"), "{e}");
    assert_eq!(app.listener_split(), Split::all(Color::Blue));
    assert_ne!(app.execution_status(&execution), "RUNNING");
    let record = app.stored_state().unwrap();
    assert_eq!(
        record.active_color,
        Color::Green,
        "the record still names the split"
    );

    let input = release_input(&app.name, "v2");
    let event = bluegreen_e2e::execution_ended_event(&execution, "ABORTED", &input);
    let out = one(rollback(&app, event).await.expect("finished"));
    assert!(!out.changed, "production had already moved: {out:?}");
    assert_eq!(app.listener_split(), Split::all(Color::Blue));
    app.assert_state_matches_listener();
    let fence: serde_json::Value =
        serde_json::from_str(&app.parameter("rollback-fence").unwrap()).unwrap();
    assert_eq!(fence["finished"], json!(true), "{fence}");
}

/// An execution stopped during its last bake (or whose scale-down failed)
/// leaves its release serving all traffic: that is not rolled back, but its
/// lock is given back and the team hears that nobody gave it a verdict.
#[tokio::test]
async fn an_execution_that_ended_with_its_release_serving_all_traffic_is_left_live() {
    let app = memory::provision("rb-ended-live", AppOptions::default());
    let (execution, _) = switched_by_execution(&app, None).await;
    app.stop_execution(&execution);
    let event = bluegreen_e2e::execution_ended_event(
        &execution,
        "ABORTED",
        &release_input(&app.name, "v2"),
    );
    let out = one(rollback(&app, event).await.expect("left live"));
    assert!(!out.changed, "{out:?}");
    assert!(out.lock_released);
    assert_eq!(app.listener_split(), Split::all(Color::Green));
    assert!(
        app.parameter("lock").is_none(),
        "no lock outlives its holder"
    );
    let alerts = app.alerts();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["rolled_back"], json!("false"));
    assert!(
        alerts[0]["summary"]
            .as_str()
            .unwrap()
            .contains("serves all production traffic"),
        "{alerts:?}"
    );
}

/// An execution that ended after its own rollback, or before any traffic
/// moved, leaves nothing to do: no change, no alert.
#[tokio::test]
async fn an_execution_that_ended_without_traffic_on_its_release_changes_nothing() {
    let app = memory::provision("rb-ended-quiet", AppOptions::default());
    let execution = app.start_running_execution("release-v2");
    app.stop_execution(&execution);
    let before = app.snapshot();
    let event =
        bluegreen_e2e::execution_ended_event(&execution, "FAILED", &release_input(&app.name, "v2"));
    let out = one(rollback(&app, event).await.expect("nothing to do"));
    assert!(!out.changed);
    assert_eq!(app.snapshot(), before);
    assert!(app.alerts().is_empty());

    // An event naming another app's execution is refused.
    let other = release_input("someone-else", "v2");
    let e = rollback(
        &app,
        bluegreen_e2e::execution_ended_event(&execution, "FAILED", &other),
    )
    .await
    .unwrap_err();
    assert!(matches!(e.error_type(), "BadInput" | "UnknownApp"), "{e}");
}

#[tokio::test]
async fn bad_messages_change_nothing_and_name_the_problem() {
    let app = memory::provision("rb-bad", AppOptions::default());
    deploy_v2(&app, json!({"type": "all-at-once"}), 1).await;
    let before = app.snapshot();
    let cases = [
        (
            sns_event(&message("no-such-app", "x")),
            "UnknownApp",
            "unknown app `no-such-app`",
        ),
        (sns_event("{\"app\": "), "BadInput", "line 1 column"),
        (
            sns_event("{\"reason\": \"x\"}"),
            "BadInput",
            "missing field `app`",
        ),
        (
            sns_event(&json!({"app": app.name}).to_string()),
            "BadInput",
            "missing field `reason`",
        ),
        (
            sns_event(
                &json!({"app": app.name, "reason": "x", "target_group_arn": app.blue_tg})
                    .to_string(),
            ),
            "BadInput",
            "unknown field `target_group_arn`",
        ),
        (
            sns_event(&json!({"app": "../x", "reason": "x"}).to_string()),
            "BadInput",
            "`app`",
        ),
        (json!({"Records": []}), "BadInput", "has no records"),
        (
            json!({"app": app.name}),
            "BadInput",
            "missing field `reason`",
        ),
        (json!(42), "BadInput", "must be a JSON object"),
    ];
    for (event, error_type, says) in cases {
        let err = rollback(&app, event).await.unwrap_err();
        assert_eq!(err.error_type(), error_type, "{err}");
        assert!(err.to_string().contains(says), "`{err}` should say {says}");
    }
    assert_eq!(app.snapshot(), before, "listener and SSM unchanged");
    assert_eq!(app.listener_split(), Split::all(Color::Green));
    assert!(app.alerts().is_empty());
}

#[tokio::test]
async fn nothing_to_roll_back_before_the_first_switch() {
    let app = memory::provision("rb-none", AppOptions::default());
    let before = app.snapshot();
    let err = rollback(&app, json!({"app": app.name, "reason": "x"}))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "NothingToRollBack");
    assert_eq!(app.snapshot(), before);

    let options = AppOptions {
        initial_state: None,
        ..AppOptions::default()
    };
    let fresh = memory::provision("rb-nostate", options);
    let err = rollback(&fresh, json!({"app": fresh.name, "reason": "x"}))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "NothingToRollBack");
    assert!(err.to_string().contains("no state is recorded"), "{err}");
}

/// The state machine's rollback of a release onto a cold previous color
/// retries for minutes (PreviousColorCold) while production serves the
/// breached release: the team hears at the first refusal what it waits for,
/// and not again at every retry.
#[tokio::test]
async fn a_state_machine_rollback_waiting_for_a_cold_color_alerts_at_the_first_refusal() {
    let app = memory::provision("rb-cold-sfn", AppOptions::default());
    let (_, mut doc) = switched_by_execution(&app, None).await;
    app.set_desired_count(Color::Blue, 0);
    app.set_healthy(Color::Blue, false);
    doc["monitor"] = json!({"verdict": "breach", "reasons": ["5xx rate 12% > 1%"]});

    let e = rollback(&app, doc.clone()).await.unwrap_err();
    assert_eq!(e.error_type(), "PreviousColorCold");
    let alerts = app.alerts();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let summary = alerts[0]["summary"].as_str().unwrap();
    assert!(
        summary.contains("waits for blue") && summary.contains("0 healthy"),
        "says what it waits for: {summary}"
    );
    assert_eq!(alerts[0]["rolled_back"], json!("false"));

    // The state machine's retry, still cold: no second alert.
    let e = rollback(&app, doc.clone()).await.unwrap_err();
    assert_eq!(e.error_type(), "PreviousColorCold");
    assert!(app.alerts().is_empty(), "one alert while it waits");

    // Healthy at last: rolled back, and the usual alert.
    app.set_healthy(Color::Blue, true);
    let out = one(rollback(&app, doc).await.expect("rolled back"));
    assert!(out.changed);
    assert_eq!(app.alerts().len(), 1);
}

/// v2 released on green two days ago: blue, past its warm window, was
/// scaled to zero and its targets are gone. Returns the state as recorded.
async fn released_two_days_ago(app: &MemoryApp) -> AppState {
    deploy_v2(app, json!({"type": "all-at-once"}), 1).await;
    let mut state: AppState = app.stored_state().unwrap();
    state.switched_at = Some(time::OffsetDateTime::now_utc() - time::Duration::days(2));
    app.put_state(&state);
    app.set_desired_count(Color::Blue, 0);
    app.set_healthy(Color::Blue, false);
    state
}

#[tokio::test]
async fn after_the_warm_window_rollback_scales_the_previous_color_up_first() {
    let app = memory::provision("rb-cold", AppOptions::default());
    let state = released_two_days_ago(&app).await;
    let listener_before = app.listener_split();

    app.alerts();
    let err = rollback(&app, json!({"app": app.name, "reason": "late bug"}))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "PreviousColorCold");
    // It waited (its targets never became healthy here), having said why.
    let msg = err.to_string();
    assert!(msg.contains("Run the rollback again"), "{msg}");
    let alerts = app.alerts();
    let waiting = alerts[0]["summary"].as_str().unwrap_or_default();
    assert!(
        waiting.contains("now scaling to 2") && waiting.contains("warm rollback window had passed"),
        "{alerts:?}"
    );
    assert_eq!(
        app.listener_split(),
        listener_before,
        "no traffic to a cold color"
    );
    assert_eq!(app.stored_state().unwrap(), state, "state unchanged");
    assert_eq!(
        app.desired_count(Color::Blue),
        2,
        "scaled up to green's size"
    );

    // Once blue's targets are healthy, the rerun completes the rollback.
    app.set_healthy(Color::Blue, true);
    let out = one(
        rollback(&app, json!({"app": app.name, "reason": "late bug"}))
            .await
            .unwrap(),
    );
    assert!(out.changed);
    assert_eq!(app.listener_split(), Split::all(Color::Blue));
    app.assert_state_matches_listener();
}

/// A clock whose third sleep is when the cold color's new tasks pass their
/// health checks.
struct WarmsUpOnThirdSleep<'a> {
    app: &'a MemoryApp,
    clock: bluegreen_e2e::JumpingClock,
    sleeps: AtomicUsize,
}

impl bluegreen_core::ports::Clock for WarmsUpOnThirdSleep<'_> {
    fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }

    async fn sleep_until(&self, t: time::OffsetDateTime) {
        self.clock.sleep_until(t).await;
        let n = self.sleeps.fetch_add(1, Ordering::SeqCst);
        if n + 1 == 3 {
            self.app.set_healthy(Color::Blue, true);
        }
    }
}

/// On-call presses the button two days after the release: the previous
/// color was scaled down. The rollback scales it up, says what it waits
/// for, and moves production as soon as the color is healthy, instead of
/// asking on-call to press again.
#[tokio::test]
async fn an_emergency_rollback_onto_a_cold_color_waits_for_it_and_says_so() {
    use bluegreen_core::ports::Clock as _;
    let app = memory::provision("rb-cold-wait", AppOptions::default());
    released_two_days_ago(&app).await;
    app.alerts();

    let clock = WarmsUpOnThirdSleep {
        app: &app,
        clock: bluegreen_e2e::JumpingClock::default(),
        sleeps: Default::default(),
    };
    let started = clock.now();
    let message = json!({"app": app.name, "reason": "late bug"}).to_string();
    let out = Box::pin(bluegreen_rollback::handler_with(
        &app.ports(),
        &bluegreen_core::ports::NoHooks,
        lambda_event(sns_event(&message)),
        &clock,
        Patience::LAMBDA,
    ))
    .await
    .expect("rolled back once blue was healthy");
    let out = one(out);
    assert!(out.changed);
    assert_eq!(out.waited_seconds, Some(30), "three waits of 10 s");
    assert_eq!(clock.now() - started, time::Duration::seconds(30));
    assert_eq!(app.listener_split(), Split::all(Color::Blue));
    assert_eq!(app.desired_count(Color::Blue), 2, "scaled up first");
    app.assert_state_matches_listener();
    let alerts = app.alerts();
    assert_eq!(
        alerts.len(),
        2,
        "one while waiting, one when done: {alerts:?}"
    );
    let waiting = alerts[0]["summary"].as_str().unwrap();
    assert!(
        waiting.contains("waits up to 120 s for blue") && waiting.contains("0 healthy"),
        "says what it waits for, and how long: {waiting}"
    );
    assert_eq!(alerts[0]["rolled_back"], json!("false"));
    assert!(
        alerts[1]["summary"]
            .as_str()
            .is_some_and(|s| s.starts_with("bluegreen rolled back")),
        "{alerts:?}"
    );
}

/// A color that never warms up: the rollback waits its patience out, then
/// gives up with the counts, changing nothing, and the team hears that it
/// did not roll back (after the alert that said it waits).
#[tokio::test]
async fn an_unhealthy_previous_color_is_waited_for_then_refused_with_the_counts() {
    let app = memory::provision("rb-sick", AppOptions::default());
    deploy_v2(&app, json!({"type": "all-at-once"}), 1).await;
    app.set_healthy(Color::Blue, false);
    app.alerts();
    let before = app.snapshot();
    let err = rollback(&app, json!({"app": app.name, "reason": "x"}))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "PreviousColorCold");
    assert!(err.to_string().contains("Run the rollback again"), "{err}");
    let alerts = app.alerts();
    assert_eq!(alerts.len(), 2, "waiting, then not rolled back: {alerts:?}");
    assert!(
        alerts[1]["summary"]
            .as_str()
            .is_some_and(|s| s.contains("0 healthy target(s)")),
        "{alerts:?}"
    );
    assert!(
        err.to_string().contains(
            "has 0 healthy target(s), production needs 2 (2 of rb-sick-blue running, 2 desired)"
        ),
        "{err}"
    );
    assert_eq!(app.snapshot(), before);
}

/// Logs load-balancer calls on the way to the real adapter.
struct Counting<L> {
    inner: L,
    calls: std::sync::Mutex<Vec<&'static str>>,
}

impl<L: LoadBalancer> LoadBalancer for Counting<L> {
    async fn read_actions(&self, route: &Route) -> PortResult<RouteActions> {
        self.calls.lock().unwrap().push("read route");
        self.inner.read_actions(route).await
    }
    async fn write_actions(
        &self,
        route: &Route,
        forward: &RouteActions,
    ) -> PortResult<RouteActions> {
        self.calls.lock().unwrap().push("write route");
        self.inner.write_actions(route, forward).await
    }
    async fn healthy_targets(&self, tg: &str) -> PortResult<usize> {
        self.calls.lock().unwrap().push("target health");
        self.inner.healthy_targets(tg).await
    }

    async fn deregistration_delay(&self, tg: &str) -> PortResult<u64> {
        self.inner.deregistration_delay(tg).await
    }
}

#[tokio::test]
async fn emergency_rollback_reads_the_world_at_once_and_moves_traffic_with_the_next_call() {
    let app = memory::provision("rb-budget", AppOptions::default());
    deploy_v2(&app, json!({"type": "all-at-once"}), 1).await;
    let p = app.ports();
    let ports = Ports {
        params: p.params,
        lb: Counting {
            inner: p.lb,
            calls: Default::default(),
        },
        services: p.services,
        alerts: p.alerts,
        executions: p.executions,
        prefix: p.prefix,
    };
    let event = lambda_event(sns_event(&message(&app.name, "budget")));
    bluegreen_rollback::handler(&ports, &bluegreen_core::ports::NoHooks, event)
        .await
        .expect("rollback");
    // The first round reads the route and both colors' health in parallel
    // (with the records and the services); the next call moves traffic, and
    // its answer is the read-back.
    let mut calls = ports.lb.calls.lock().unwrap().clone();
    assert_eq!(
        calls.pop(),
        Some("write route"),
        "the last call moves traffic"
    );
    calls.sort();
    assert_eq!(calls, ["read route", "target health", "target health"]);
    app.assert_state_matches_listener();
}

#[tokio::test]
async fn the_state_machine_never_rolls_back_a_release_that_got_no_traffic() {
    let app = memory::provision("rb-untouched", AppOptions::default());
    deploy_v2(&app, json!({"type": "all-at-once"}), 1).await;
    // v3 fails before its first switch: production (v2 on green) must stay.
    let execution = app.start_running_execution("release-v3");
    let mut doc = release_input(&app.name, "v3");
    doc["execution"] = json!({"arn": execution});
    doc["error"] = json!({"Error": "NoHealthyTargets", "Cause": "blue has none"});
    memory::hold_lock(&app, &execution).await;
    let before = app.snapshot();

    let out = one(rollback(&app, doc).await.expect("rollback"));
    assert!(!out.changed);
    assert!(out.lock_released);
    assert!(
        out.note
            .as_deref()
            .unwrap()
            .contains("never received production traffic")
    );
    assert_eq!(app.listener_split(), Split::all(Color::Green));
    let after = app.snapshot();
    assert_eq!(after.routes, before.routes);
    assert_eq!(
        app.stored_state().unwrap().active_version.as_deref(),
        Some("v2")
    );
    assert!(app.alerts().is_empty());
}

#[tokio::test]
async fn never_sends_traffic_to_a_color_a_newer_release_was_deployed_onto() {
    let app = memory::provision("rb-replaced", AppOptions::default());
    // v2 serves on green; blue still runs v1, the rollback target.
    deploy_v2(&app, json!({"type": "all-at-once"}), 1).await;
    // v3 is deployed onto blue by a running release that has not switched yet.
    let execution = app.start_running_execution("v3");
    let mut v3 = release_input(&app.name, "v3");
    v3["execution"] = json!({"arn": execution});
    bluegreen_deploy_idle::handler(&app.ports(), lambda_event(v3))
        .await
        .expect("deploy v3 onto blue");
    let marked = app.stored_state().unwrap();
    assert_eq!(marked.previous_color_replaced_by.as_deref(), Some("v3"));
    assert!(!marked.can_roll_back());

    // The emergency rollback must not send production to blue (now v3,
    // untested). It stops the release, so v3 never goes live, and says why.
    let e = rollback(&app, sns_event(&message(&app.name, "errors")))
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), "NothingToRollBack");
    let text = e.to_string();
    assert!(
        text.contains("blue no longer runs v1: release v3 was deployed onto it")
            && text.contains("green keeps serving v2")
            && text.contains(&format!("stopped the running deployment {execution}")),
        "{text}"
    );
    assert_eq!(app.listener_split(), Split::all(Color::Green));
    assert_eq!(app.stored_state().unwrap(), marked);
    assert_eq!(app.execution_status(&execution), "ABORTED");
    assert!(app.parameter("lock").is_none(), "its lock released");
    app.assert_state_matches_listener();
    let alerts = app.alerts();
    assert!(
        alerts.iter().any(|a| a["rolled_back"] == "false"
            && a["summary"].as_str().is_some_and(
                |s| s.contains("did not roll back") && s.contains("blue no longer runs v1")
            )),
        "the team hears that the deployment was stopped but traffic stayed: {alerts:?}"
    );

    // Once a release goes live on blue, green (v2, untouched) is the target.
    memory::hold_lock(&app, &memory::manual_holder(&app, "v3")).await;
    let mut input = release_input(&app.name, "v3");
    input["overrides"] = json!({"strategy": {"type": "all-at-once"}});
    bluegreen_switch::handler(&app.ports(), lambda_event(input))
        .await
        .expect("switch to v3");
    let live = app.stored_state().unwrap();
    assert_eq!(live.previous_color_replaced_by, None);
    let out = one(rollback(&app, sns_event(&message(&app.name, "v3 errors")))
        .await
        .expect("rollback to v2"));
    assert_eq!(
        (out.to.color, out.to.version.as_deref()),
        (Color::Green, Some("v2"))
    );
}

/// A release of v3 marked blue as being replaced, then failed before it
/// updated the service and was aborted: blue still runs v1 as ECS says. The
/// abort clears the mark, and an emergency rollback with a mark left over
/// (an abort that never ran) trusts ECS over it: production goes back to v1.
#[tokio::test]
async fn a_mark_left_by_an_aborted_deploy_does_not_outrank_ecs() {
    let app = memory::provision("rb-stale-mark", AppOptions::default());
    deploy_v2(&app, json!({"type": "all-at-once"}), 1).await;
    let live = app.stored_state().unwrap();
    let marked = AppState {
        previous_color_replaced_by: Some("v3".into()),
        ..live.clone()
    };

    // The abort of v3's execution, holding the lock, clears its own mark.
    app.put_state(&marked);
    let holder = memory::manual_holder(&app, "v3");
    memory::hold_lock(&app, &holder).await;
    let aborted = bluegreen_deploy_idle::handler(
        &app.ports(),
        lambda_event(json!({"phase": "abort", "input": release_input(&app.name, "v3")})),
    )
    .await
    .expect("abort");
    assert!(matches!(
        aborted,
        bluegreen_deploy_idle::DeployIdleResponse::Aborted(_)
    ));
    assert_eq!(app.stored_state().unwrap(), live, "the mark is gone");
    assert!(app.parameter("lock").is_none());

    // A mark nobody cleared: ECS says blue runs v1, so blue is the target.
    app.put_state(&marked);
    let out = one(rollback(&app, sns_event(&message(&app.name, "v2 errors")))
        .await
        .expect("rolled back to v1"));
    assert_eq!(
        (out.to.color, out.to.version.as_deref()),
        (Color::Blue, Some("v1"))
    );
    assert_eq!(app.listener_split(), Split::all(Color::Blue));
    app.assert_state_matches_listener();
}

/// A release script marked blue for v3 and has not updated it yet (it
/// holds the lock); on-call's emergency rollback of v2 already moved
/// production to blue (v1, as ECS says), but its record write was lost.
/// The retry of that message keeps production on v1 and records it. Before:
/// it read the mark as true, called blue "v3" and sent production back to
/// green, onto v2, the release being rolled back (found by the simulation,
/// seed 14139).
#[tokio::test]
async fn a_contradicted_mark_on_the_color_production_is_on_never_sends_it_back() {
    let app = memory::provision("rb-mark-serving", AppOptions::default());
    deploy_v2(&app, json!({"type": "all-at-once"}), 1).await;
    let live = app.stored_state().unwrap();
    let blue_runs = app.service_task_definition(Color::Blue);
    assert_eq!(
        live.previous_task_definition.as_deref(),
        Some(blue_runs.as_str())
    );
    app.put_state(&AppState {
        previous_color_replaced_by: Some("v3".into()),
        previous_color_replaced_with: Some(format!("{blue_runs}-v3")),
        ..live.clone()
    });
    memory::hold_lock(&app, &memory::manual_holder(&app, "v3")).await;
    app.move_production_by_hand(Color::Blue);

    let out = one(rollback(&app, sns_event(&message(&app.name, "v2 errors")))
        .await
        .expect("the retried message keeps production on v1"));
    assert_eq!(
        (out.to.color, out.to.version.as_deref()),
        (Color::Blue, Some("v1")),
        "{out:?}"
    );
    assert_eq!(
        app.listener_split(),
        Split::all(Color::Blue),
        "before: production went back to green, onto v2"
    );
    let state = app.stored_state().unwrap();
    assert_eq!(
        (state.active_color, state.active_version.as_deref()),
        (Color::Blue, Some("v1"))
    );
    assert_eq!(state.previous_color_replaced_by, None);
    app.assert_state_matches_listener();
}

/// Lets a switch step change the listener and read it back, then holds it
/// there, before it writes state, until the test says go on.
struct PausingAfterReadBack<L> {
    inner: L,
    wrote: std::sync::atomic::AtomicBool,
    armed: std::sync::atomic::AtomicBool,
    paused: std::sync::Arc<tokio::sync::Notify>,
    resume: std::sync::Arc<tokio::sync::Notify>,
}

impl<L: LoadBalancer> LoadBalancer for PausingAfterReadBack<L> {
    async fn read_actions(&self, route: &Route) -> PortResult<RouteActions> {
        let read = self.inner.read_actions(route).await;
        if self.wrote.load(Ordering::SeqCst) && self.armed.swap(false, Ordering::SeqCst) {
            self.paused.notify_one();
            self.resume.notified().await;
        }
        read
    }
    async fn write_actions(
        &self,
        route: &Route,
        forward: &RouteActions,
    ) -> PortResult<RouteActions> {
        let written = self.inner.write_actions(route, forward).await;
        self.wrote.store(true, Ordering::SeqCst);
        written
    }
    async fn healthy_targets(&self, tg: &str) -> PortResult<usize> {
        self.inner.healthy_targets(tg).await
    }

    async fn deregistration_delay(&self, tg: &str) -> PortResult<u64> {
        self.inner.deregistration_delay(tg).await
    }
}

#[tokio::test]
async fn a_switch_step_in_flight_cannot_undo_an_emergency_rollback() {
    let app = memory::provision("rb-race", AppOptions::default());
    let execution = app.start_running_execution("v2-race");
    memory::hold_lock(&app, &execution).await;
    let mut input = release_input(&app.name, "v2");
    input["execution"] = json!({"arn": execution});
    input["overrides"] = json!({"strategy": {"type": "weighted", "steps": [10, 50, 100]}});
    let first = bluegreen_switch::handler(&app.ports(), lambda_event(input.clone()))
        .await
        .expect("first step");
    input["switch"] = serde_json::to_value(&first).unwrap();
    assert_eq!(app.listener_split(), Split::with(Color::Green, 10));

    // The next step moves the listener to 50% and is held before it records
    // state; meanwhile the emergency rollback runs from start to end.
    let paused = std::sync::Arc::new(tokio::sync::Notify::new());
    let resume = std::sync::Arc::new(tokio::sync::Notify::new());
    let p = app.ports();
    let ports = Ports {
        params: p.params,
        lb: PausingAfterReadBack {
            inner: p.lb,
            wrote: false.into(),
            armed: true.into(),
            paused: paused.clone(),
            resume: resume.clone(),
        },
        services: p.services,
        alerts: p.alerts,
        executions: p.executions,
        prefix: p.prefix,
    };
    let step = input.clone();
    let in_flight =
        tokio::spawn(async move { bluegreen_switch::handler(&ports, lambda_event(step)).await });
    paused.notified().await;
    assert_eq!(app.listener_split(), Split::with(Color::Green, 50));
    let out = one(
        rollback(&app, sns_event(&message(&app.name, "errors at 10%")))
            .await
            .expect("rollback"),
    );
    assert_eq!(out.stopped_execution.as_deref(), Some(execution.as_str()));
    assert_eq!(app.listener_split(), Split::all(Color::Blue));

    // The step goes on: it sees the fence and puts the rollback's split back.
    resume.notify_one();
    let e = in_flight.await.unwrap().unwrap_err();
    assert_eq!(e.error_type(), "RolledBackMeanwhile", "{e}");
    assert_eq!(app.listener_split(), Split::all(Color::Blue));
    let state = app.stored_state().unwrap();
    assert_eq!(
        (
            state.active_color,
            state.active_version.as_deref(),
            state.phase
        ),
        (Color::Blue, Some("v1"), Phase::RolledBack)
    );
    app.assert_state_matches_listener();

    // Any later step of the stopped deployment is refused before it moves anything.
    let before = app.snapshot();
    let e = bluegreen_switch::handler(&app.ports(), lambda_event(input))
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), "RolledBackMeanwhile");
    assert!(e.to_string().contains("errors at 10%"), "{e}");
    assert_eq!(app.snapshot(), before);
}

/// Holds deploy-idle just before it writes the state (marking the idle color
/// as being replaced) until the test says go on.
struct PausingBeforeStateWrite<P> {
    inner: P,
    armed: std::sync::atomic::AtomicBool,
    paused: std::sync::Arc<tokio::sync::Notify>,
    resume: std::sync::Arc<tokio::sync::Notify>,
}

impl<P: ParameterStore> ParameterStore for PausingBeforeStateWrite<P> {
    async fn get(&self, name: &str) -> PortResult<Option<Parameter>> {
        self.inner.get(name).await
    }
    async fn put(&self, name: &str, value: &str, mode: PutMode) -> PortResult<PutOutcome> {
        if name.ends_with("/state") && self.armed.swap(false, Ordering::SeqCst) {
            self.paused.notify_one();
            self.resume.notified().await;
        }
        self.inner.put(name, value, mode).await
    }
    async fn delete(&self, name: &str) -> PortResult<()> {
        self.inner.delete(name).await
    }
}

#[tokio::test]
async fn a_deploy_in_flight_cannot_put_its_release_under_a_rollback() {
    let app = memory::provision("rb-deploy-race", AppOptions::default());
    // v2 serves on green; blue still runs v1, the rollback target.
    deploy_v2(&app, json!({"type": "all-at-once"}), 1).await;
    let blue_before = app.service_task_definition(Color::Blue);

    // v3's deploy-idle has read the state and is about to mark blue as being
    // replaced, then update it; the emergency rollback runs in between.
    let execution = app.start_running_execution("v3-race");
    let mut v3 = release_input(&app.name, "v3");
    v3["execution"] = json!({"arn": execution});
    let paused = std::sync::Arc::new(tokio::sync::Notify::new());
    let resume = std::sync::Arc::new(tokio::sync::Notify::new());
    let p = app.ports();
    let ports = Ports {
        params: PausingBeforeStateWrite {
            inner: p.params,
            armed: true.into(),
            paused: paused.clone(),
            resume: resume.clone(),
        },
        lb: p.lb,
        services: p.services,
        alerts: p.alerts,
        executions: p.executions,
        prefix: p.prefix,
    };
    let in_flight =
        tokio::spawn(async move { bluegreen_deploy_idle::handler(&ports, lambda_event(v3)).await });
    tokio::time::timeout(std::time::Duration::from_secs(30), paused.notified())
        .await
        .expect("deploy-idle reached its state write");
    let out = one(rollback(&app, sns_event(&message(&app.name, "v2 errors")))
        .await
        .expect("rollback to v1 on blue"));
    assert_eq!(
        (out.to.color, out.to.version.as_deref()),
        (Color::Blue, Some("v1"))
    );
    let rolled_back = app.stored_state().unwrap();

    // deploy-idle goes on: its mark lands on the rollback's state, it sees the
    // fence, puts the rollback's state back and leaves blue alone.
    resume.notify_one();
    let e = in_flight.await.unwrap().unwrap_err();
    assert_eq!(e.error_type(), "RolledBackMeanwhile", "{e}");
    assert_eq!(app.stored_state().unwrap(), rolled_back);
    assert_eq!(app.service_task_definition(Color::Blue), blue_before);
    assert_eq!(app.listener_split(), Split::all(Color::Blue));
    app.assert_state_matches_listener();
}

/// Fails every write of the given parameter leaves as SSM would under an
/// outage (a 5xx), after letting `allow` writes through.
struct FailingWrites<P> {
    inner: P,
    leaves: &'static [&'static str],
    allow: AtomicUsize,
}

impl<P: ParameterStore> ParameterStore for FailingWrites<P> {
    async fn get(&self, name: &str) -> PortResult<Option<Parameter>> {
        self.inner.get(name).await
    }
    async fn get_many(&self, names: &[String]) -> PortResult<Vec<Option<Parameter>>> {
        self.inner.get_many(names).await
    }
    async fn put(&self, name: &str, value: &str, mode: PutMode) -> PortResult<PutOutcome> {
        let hit = self.leaves.iter().any(|l| name.ends_with(&format!("/{l}")));
        if hit
            && self
                .allow
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_err()
        {
            return Err(bluegreen_core::ports::PortError {
                operation: "ssm:PutParameter",
                kind: bluegreen_core::ports::PortErrorKind::Transient,
                message: "injected: 500 Internal Server Error".into(),
            });
        }
        self.inner.put(name, value, mode).await
    }
    async fn delete(&self, name: &str) -> PortResult<()> {
        self.inner.delete(name).await
    }
}

fn failing_writes(
    app: &MemoryApp,
    leaves: &'static [&'static str],
    allow: usize,
) -> Ports<FailingWrites<SimPorts>, SimPorts, SimPorts, SimPorts, SimPorts> {
    let p = app.ports();
    Ports {
        params: FailingWrites {
            inner: p.params,
            leaves,
            allow: AtomicUsize::new(allow),
        },
        lb: p.lb,
        services: p.services,
        alerts: p.alerts,
        executions: p.executions,
        prefix: p.prefix,
    }
}

/// deploy-idle for `version` as execution `name`: the document the later
/// steps get.
async fn deployed(app: &MemoryApp, name: &str, version: &str) -> Value {
    let execution = app.start_running_execution(name);
    let mut doc = release_input(&app.name, version);
    doc["execution"] = json!({"arn": execution});
    match bluegreen_deploy_idle::handler(&app.ports(), lambda_event(doc.clone()))
        .await
        .expect("deploy-idle")
    {
        bluegreen_deploy_idle::DeployIdleResponse::Deployed(d) => {
            doc["deploy"] = serde_json::to_value(d).unwrap();
        }
        other => panic!("expected a deploy outcome, got {other:?}"),
    }
    doc
}

/// A console Redrive replays an old execution days later: v2's execution
/// was rolled back by on-call, v4 has gone live on v2's color since. The
/// replayed rollback is about a release that no longer runs anywhere: it
/// must not move production from v4 back to v1.
#[tokio::test]
async fn a_replayed_rollback_of_a_release_no_longer_running_changes_nothing() {
    let app = memory::provision("rb-redrive", AppOptions::default());
    let mut v2 = deployed(&app, "release-v2", "v2").await;
    bluegreen_switch::handler(&app.ports(), lambda_event(v2.clone()))
        .await
        .expect("v2 live on green");
    let e2 = v2["execution"]["arn"].as_str().unwrap().to_string();
    memory::release_lock(&app, &e2).await;
    one(rollback(&app, sns_event(&message(&app.name, "v2 errors")))
        .await
        .expect("on-call rolls v2 back"));
    assert_eq!(app.listener_split(), Split::all(Color::Blue));

    // v4 goes live on green.
    let v4 = deployed(&app, "release-v4", "v4").await;
    bluegreen_switch::handler(&app.ports(), lambda_event(v4.clone()))
        .await
        .expect("v4 live on green");
    let e4 = v4["execution"]["arn"].as_str().unwrap().to_string();
    memory::release_lock(&app, &e4).await;
    assert_eq!(app.listener_split(), Split::all(Color::Green));
    let before = app.snapshot();

    // v2's execution, redriven, reaches its Rollback state again.
    v2["monitor"] = json!({"verdict": "breach", "reasons": ["5xx rate 12% > 1%"]});
    let out = one(rollback(&app, v2).await.expect("nothing to do"));
    assert!(!out.changed, "{out:?}");
    assert!(
        out.note
            .as_deref()
            .unwrap_or_default()
            .contains("no longer runs on green"),
        "{out:?}"
    );
    assert_eq!(
        app.listener_split(),
        Split::all(Color::Green),
        "v4 keeps production"
    );
    assert_eq!(app.snapshot().routes, before.routes);
}

/// An emergency rollback fenced v2's execution at 50 %; v4 went live on
/// green since. A console Redrive of v2's execution runs its Switch again:
/// the old fence no longer describes what ECS runs, so it puts nothing back
/// (before, it wrote the old split: production went back to v1).
#[tokio::test]
async fn a_redriven_switch_does_not_put_an_old_fence_back() {
    let app = memory::provision("rb-redrive-fence", AppOptions::default());
    let mut v2 = deployed(&app, "release-v2", "v2").await;
    v2["overrides"] = json!({"strategy": {"type": "weighted", "steps": [50, 100]}});
    bluegreen_switch::handler(&app.ports(), lambda_event(v2.clone()))
        .await
        .expect("v2 at 50%");
    one(rollback(&app, sns_event(&message(&app.name, "v2 errors")))
        .await
        .expect("on-call rolls v2 back, fencing its execution"));
    assert!(app.parameter("rollback-fence").is_some());
    let v4 = deployed(&app, "release-v4", "v4").await;
    bluegreen_switch::handler(&app.ports(), lambda_event(v4.clone()))
        .await
        .expect("v4 live on green");
    memory::release_lock(&app, v4["execution"]["arn"].as_str().unwrap()).await;
    assert_eq!(app.listener_split(), Split::all(Color::Green));
    let before = app.snapshot();

    // Boxed: a debug build's handler future is large for a test thread's stack.
    let e = Box::pin(bluegreen_switch::handler(&app.ports(), lambda_event(v2)))
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), "RolledBackMeanwhile", "{e}");
    assert_eq!(
        app.listener_split(),
        Split::all(Color::Green),
        "v4 keeps production"
    );
    assert_eq!(app.snapshot().routes, before.routes);
    assert_eq!(
        app.stored_state().unwrap().active_version.as_deref(),
        Some("v4")
    );
}

/// An emergency rollback fenced v2's execution at 50 % and sent production
/// to blue; since, someone scaled blue in (0 healthy targets) and moved
/// production to green by hand. A step of v2 still in flight finds the
/// fence: it never puts the old decision back onto a color that cannot
/// carry production now (before, it moved all traffic onto an empty blue;
/// found by the simulation, seed 2717).
#[tokio::test]
async fn a_fence_is_never_put_back_onto_a_color_that_cannot_carry_production() {
    let app = memory::provision("rb-fence-cold", AppOptions::default());
    let mut v2 = deployed(&app, "release-v2", "v2").await;
    v2["overrides"] = json!({"strategy": {"type": "weighted", "steps": [50, 100]}});
    Box::pin(bluegreen_switch::handler(
        &app.ports(),
        lambda_event(v2.clone()),
    ))
    .await
    .expect("v2 at 50%");
    one(rollback(&app, sns_event(&message(&app.name, "v2 errors")))
        .await
        .expect("on-call rolls v2 back, fencing its execution"));
    assert_eq!(app.listener_split(), Split::all(Color::Blue));
    app.set_desired_count(Color::Blue, 0);
    app.set_healthy(Color::Blue, false);
    app.move_production_by_hand(Color::Green);

    let e = Box::pin(bluegreen_switch::handler(&app.ports(), lambda_event(v2)))
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), "RolledBackMeanwhile", "{e}");
    assert_eq!(
        app.listener_split(),
        Split::all(Color::Green),
        "before: all production went to blue, which has no healthy target"
    );
}

/// Someone else takes the running deployment's lock while this rollback
/// fences it and stops it: another rollback (`winner` None, a rollback
/// holder) or a release script (`winner`).
struct TakesTheLockAfterTheFence<P> {
    inner: P,
    winner: Option<String>,
    fenced: AtomicBool,
    done: AtomicBool,
}

impl<P: ParameterStore> ParameterStore for TakesTheLockAfterTheFence<P> {
    async fn get(&self, name: &str) -> PortResult<Option<Parameter>> {
        self.inner.get(name).await
    }
    async fn get_many(&self, names: &[String]) -> PortResult<Vec<Option<Parameter>>> {
        self.inner.get_many(names).await
    }
    async fn put(&self, name: &str, value: &str, mode: PutMode) -> PortResult<PutOutcome> {
        if name.ends_with("/rollback-fence") {
            self.fenced.store(true, Ordering::SeqCst);
        }
        if name.ends_with("/lock")
            && self.fenced.load(Ordering::SeqCst)
            && !self.done.swap(true, Ordering::SeqCst)
        {
            let now = time::OffsetDateTime::now_utc();
            let theirs = bluegreen_core::records::lock::Lock {
                holder: self
                    .winner
                    .clone()
                    .unwrap_or_else(|| format!("rollback:{}", now.unix_timestamp_nanos())),
                acquired_at: now,
                expires_at: now + time::Duration::minutes(5),
            };
            let json = serde_json::to_string(&theirs).unwrap();
            self.inner.put(name, &json, PutMode::Overwrite).await?;
        }
        self.inner.put(name, value, mode).await
    }
    async fn delete(&self, name: &str) -> PortResult<()> {
        self.inner.delete(name).await
    }
}

/// The app's ports, with the lock taken by `winner` (or another rollback)
/// right after the rollback's first fence.
fn lock_taken_after_the_fence(
    app: &MemoryApp,
    winner: Option<String>,
) -> Ports<TakesTheLockAfterTheFence<SimPorts>, SimPorts, SimPorts, SimPorts, SimPorts> {
    let p = app.ports();
    Ports {
        params: TakesTheLockAfterTheFence {
            inner: p.params,
            winner,
            fenced: false.into(),
            done: false.into(),
        },
        lb: p.lb,
        services: p.services,
        alerts: p.alerts,
        executions: p.executions,
        prefix: p.prefix,
    }
}

/// Two rollbacks found the same running deployment; the other took its
/// lock over first. This one answers `LockHeld` (Lambda retries it after
/// the other has finished) and moves nothing: two rollbacks deciding at
/// once settle the app two ways through one fence slot (found by the
/// simulation, seed 2781: the listener on one decision, the record on the
/// other).
#[tokio::test]
async fn a_rollback_that_loses_the_deployments_lock_to_another_rollback_waits() {
    let app = memory::provision("rb-lost-takeover", AppOptions::default());
    deploy_v2(&app, json!({"type": "all-at-once"}), 1).await;
    let execution = app.start_running_execution("release-v3");
    memory::hold_lock(&app, &execution).await;
    let ports = lock_taken_after_the_fence(&app, None);
    let event = lambda_event(sns_event(&message(&app.name, "v2 errors")));
    let e = Box::pin(bluegreen_rollback::handler(
        &ports,
        &bluegreen_core::ports::NoHooks,
        event,
    ))
    .await
    .unwrap_err();
    assert_eq!(e.error_type(), "LockHeld", "{e}");
    assert_eq!(
        app.listener_split(),
        Split::all(Color::Green),
        "before: it decided too, and moved production while the other rollback was at work"
    );
}

/// While an emergency rollback stopped a release's execution at 50 %, a
/// release script took the app's lock from it (the lock of an execution
/// that no longer runs is anyone's). The rollback fences both: the stopped
/// execution's step in flight and the script's next step are each refused.
/// Before, the one fence slot named only the execution: the script's next
/// step moved production back onto its release (found by the simulation,
/// seed 3777).
#[tokio::test]
async fn a_rollback_fences_every_holder_it_met_in_one_fence() {
    let app = memory::provision("rb-fence-both", AppOptions::default());
    let mut v2 = deployed(&app, "release-v2", "v2").await;
    v2["overrides"] = json!({"strategy": {"type": "weighted", "steps": [50, 100]}});
    Box::pin(bluegreen_switch::handler(
        &app.ports(),
        lambda_event(v2.clone()),
    ))
    .await
    .expect("v2 at 50%");
    // The traffic-first path (the execution holds the app as it switched);
    // the simulation found it on the careful path.
    let script = memory::manual_holder(&app, "v2");
    let ports = lock_taken_after_the_fence(&app, Some(script));
    let direct = json!({"app": app.name, "reason": "v2 errors"});
    one(Box::pin(bluegreen_rollback::handler(
        &ports,
        &bluegreen_core::ports::NoHooks,
        lambda_event(direct),
    ))
    .await
    .expect("rolled back"));
    assert_eq!(app.listener_split(), Split::all(Color::Blue));

    let mut by_script = v2.clone();
    by_script.as_object_mut().unwrap().remove("execution");
    for (who, doc) in [("the script", by_script), ("the stopped execution", v2)] {
        let e = Box::pin(bluegreen_switch::handler(&app.ports(), lambda_event(doc)))
            .await
            .unwrap_err();
        assert_eq!(e.error_type(), "RolledBackMeanwhile", "{who}: {e}");
        assert_eq!(
            app.listener_split(),
            Split::all(Color::Blue),
            "{who}'s next step left production on the rollback's decision"
        );
    }
}

/// Scenario 2: the switch changed the listener, then could not record it (an
/// SSM outage). The state machine's Catch hands the document to the rollback,
/// which must see from the load balancer that the release got traffic.
#[tokio::test]
async fn a_switch_that_moved_traffic_but_could_not_record_it_is_rolled_back() {
    let app = memory::provision("rb-unrecorded", AppOptions::default());
    let mut doc = deployed(&app, "release-v2", "v2").await;
    let err = bluegreen_switch::handler(
        &failing_writes(&app, &["state", "active-environment"], 0),
        lambda_event(doc.clone()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "Transient", "{err}");
    assert_eq!(
        app.listener_split(),
        Split::all(Color::Green),
        "traffic moved"
    );
    let recorded = app.stored_state().unwrap();
    assert_eq!(
        recorded.active_color,
        Color::Blue,
        "but the record says blue"
    );

    doc["error"] = json!({"Error": err.error_type(), "Cause": err.to_string()});
    let out = one(rollback(&app, doc).await.expect("rollback"));
    assert!(out.changed);
    assert_eq!(
        (
            out.to.color,
            out.to.version.as_deref(),
            out.from.version.as_deref()
        ),
        (Color::Blue, Some("v1"), Some("v2"))
    );
    assert_eq!(app.listener_split(), Split::all(Color::Blue));
    app.assert_state_matches_listener();
    assert!(app.parameter("lock").is_none(), "lock released");
}

/// Scenario 4: the previous color is thinner than production (one task of
/// two): the rollback scales it up first, says so, waits for it, and moves
/// traffic once it can carry production.
#[tokio::test]
async fn a_rollback_onto_a_thin_color_scales_it_up_first_and_waits_for_it() {
    let app = memory::provision("rb-thin", AppOptions::default());
    deploy_v2(&app, json!({"type": "all-at-once"}), 1).await;
    app.set_desired_count(Color::Blue, 1);
    app.alerts();
    let out = one(
        rollback(&app, json!({"app": app.name, "reason": "v2 errors"}))
            .await
            .expect("rolled back once blue is up"),
    );
    assert!(out.changed);
    assert_eq!(out.waited_seconds, Some(10), "{out:?}");
    assert_eq!(app.desired_count(Color::Blue), 2);
    assert_eq!(app.listener_split(), Split::all(Color::Blue));
    // The team heard that the rollback waited, and why, then that it happened.
    let alerts = app.alerts();
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert_eq!(alerts[0]["rolled_back"], json!("false"));
    let waiting = alerts[0]["summary"].as_str().unwrap_or_default();
    assert!(
        waiting.contains("production needs 2") && waiting.contains("now scaling to 2"),
        "{waiting}"
    );
}

/// A rollback message delivered late (Lambda retries asynchronous events for
/// hours) must not undo a newer release.
#[tokio::test]
async fn a_late_rollback_message_older_than_the_last_switch_is_refused() {
    let app = memory::provision("rb-stale", AppOptions::default());
    deploy_v2(&app, json!({"type": "all-at-once"}), 1).await;
    let before = app.snapshot();
    let hour_ago = (time::OffsetDateTime::now_utc() - time::Duration::hours(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let err = rollback(
        &app,
        bluegreen_e2e::sns_event_sent_at(&message(&app.name, "old page"), &hour_ago),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "StaleRequest", "{err}");
    assert!(err.to_string().contains("send a new one"), "{err}");
    assert_eq!(app.listener_split(), Split::all(Color::Green));
    assert_eq!(app.snapshot().routes, before.routes);
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// SNS retries: a message sent while v2 had 10 % arrives after the next step
/// moved it to 50 %. It was about v2, which still has weight: rolled back.
#[tokio::test]
async fn a_message_sent_at_10_percent_still_rolls_back_after_the_step_to_50() {
    let app = memory::provision("rb-stale-step", AppOptions::default());
    let holder = memory::manual_holder(&app, "v2");
    memory::hold_lock(&app, &holder).await;
    let mut input = release_input(&app.name, "v2");
    input["overrides"] = json!({"strategy": {"type": "weighted", "steps": [10, 50, 100]}});
    let out = bluegreen_switch::handler(&app.ports(), lambda_event(input.clone()))
        .await
        .expect("10%");
    let sent = rfc3339(time::OffsetDateTime::now_utc());
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    input["switch"] = serde_json::to_value(&out).unwrap();
    bluegreen_switch::handler(&app.ports(), lambda_event(input))
        .await
        .expect("50%");
    memory::release_lock(&app, &holder).await;
    assert_eq!(app.listener_split(), Split::with(Color::Green, 50));

    let event = bluegreen_e2e::sns_event_sent_at(&message(&app.name, "errors at 10%"), &sent);
    let out = one(rollback(&app, event.clone()).await.expect("not stale"));
    assert!(out.changed);
    assert_eq!(app.listener_split(), Split::all(Color::Blue));
    assert_eq!(app.alerts().len(), 1);

    // SNS delivers it once more: one rollback, one alert, no "could NOT".
    let again = one(rollback(&app, event).await.expect("a no-op"));
    assert!(!again.changed, "{again:?}");
    assert!(app.alerts().is_empty(), "no second alert");
    app.assert_state_matches_listener();
}

/// A message about v2, delivered late while v3's deployment moves traffic:
/// refused before anything is fenced or stopped.
#[tokio::test]
async fn a_late_message_never_stops_a_newer_deployment() {
    let app = memory::provision("rb-stale-newer", AppOptions::default());
    deploy_v2(&app, json!({"type": "all-at-once"}), 1).await;
    let sent = rfc3339(time::OffsetDateTime::now_utc());
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // v3 goes to blue and takes 10 % under a running execution.
    let execution = app.start_running_execution("release-v3");
    let mut v3 = release_input(&app.name, "v3");
    v3["execution"] = json!({"arn": execution});
    let deployed = bluegreen_deploy_idle::handler(&app.ports(), lambda_event(v3.clone()))
        .await
        .expect("deploy v3");
    v3["deploy"] = serde_json::to_value(match deployed {
        bluegreen_deploy_idle::DeployIdleResponse::Deployed(d) => d,
        other => panic!("{other:?}"),
    })
    .unwrap();
    v3["overrides"] = json!({"strategy": {"type": "weighted", "steps": [10, 100]}});
    bluegreen_switch::handler(&app.ports(), lambda_event(v3))
        .await
        .expect("v3 at 10%");
    let before = app.snapshot();

    let e = rollback(
        &app,
        bluegreen_e2e::sns_event_sent_at(&message(&app.name, "v2 errors"), &sent),
    )
    .await
    .unwrap_err();
    assert_eq!(e.error_type(), "StaleRequest", "{e}");
    assert_eq!(app.execution_status(&execution), "RUNNING", "not stopped");
    assert!(app.parameter("rollback-fence").is_none(), "not fenced");
    assert_eq!(app.snapshot().routes, before.routes);
}

/// A copy of an emergency message delivered after its rollback was done
/// (SNS is at-least-once; Lambda retries asynchronous events for hours),
/// once a newer release has started: the copy leaves that release alone.
/// Before, its own fence exempted it from the staleness check, and it
/// stopped and rolled back the newer release.
#[tokio::test]
async fn a_late_copy_of_a_message_whose_rollback_is_done_leaves_a_newer_release_alone() {
    let app = memory::provision("rb-late-copy", AppOptions::default());
    let (_, _) = Box::pin(switched_by_execution(&app, None)).await;
    let sent = rfc3339(time::OffsetDateTime::now_utc());
    let m = bluegreen_e2e::sns_event_sent_at(&message(&app.name, "v2 errors"), &sent);
    one(rollback(&app, m.clone())
        .await
        .expect("v2 rolled back, its execution stopped and fenced"));
    assert_eq!(app.listener_split(), Split::all(Color::Blue));
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    // v3 goes to green and takes 10 % under a new execution.
    let execution = app.start_running_execution("release-v3");
    let mut v3 = release_input(&app.name, "v3");
    v3["execution"] = json!({"arn": execution});
    let deployed = Box::pin(bluegreen_deploy_idle::handler(
        &app.ports(),
        lambda_event(v3.clone()),
    ))
    .await
    .expect("deploy v3");
    v3["deploy"] = serde_json::to_value(match deployed {
        bluegreen_deploy_idle::DeployIdleResponse::Deployed(d) => d,
        other => panic!("{other:?}"),
    })
    .unwrap();
    v3["overrides"] = json!({"strategy": {"type": "weighted", "steps": [10, 100]}});
    Box::pin(bluegreen_switch::handler(&app.ports(), lambda_event(v3)))
        .await
        .expect("v3 at 10%");
    let before = app.snapshot();
    app.alerts(); // those sent so far

    let late = Box::pin(rollback(&app, m)).await;
    assert!(
        late.as_ref().is_ok_and(|r| match r {
            RollbackResponse::Many(v) => v.iter().all(|o| !o.changed),
            _ => false,
        }) || late
            .as_ref()
            .is_err_and(|e| e.error_type() == "StaleRequest"),
        "{late:?}"
    );
    assert_eq!(
        app.execution_status(&execution),
        "RUNNING",
        "before: the late copy stopped v3's execution"
    );
    assert_eq!(app.snapshot().routes, before.routes);
    assert!(app.alerts().is_empty(), "no second alert");
}

/// A rollback attempt dies in its takeover of a stopped deployment's lock,
/// between its claim and its change (SSM fails the lock write). Its next
/// attempt has another name; it still takes the lock over at once and
/// gives it back at the end. Before, the first attempt's claim kept the
/// lock unchangeable for a minute: the retry rolled back without it, and
/// the stopped execution's lock outlived it (found by the simulation).
#[tokio::test]
async fn a_takeover_that_failed_half_way_leaves_no_claim_behind() {
    let app = memory::provision("rb-claim", AppOptions::default());
    deploy_v2(&app, json!({"type": "all-at-once"}), 1).await;
    let execution = app.start_running_execution("release-v3");
    memory::hold_lock(&app, &execution).await;
    let direct = json!({"app": app.name, "reason": "v2 errors"});
    // Lock writes: the first round's create (refused: held), the
    // takeover's create (refused), then its change: that one fails.
    let e = Box::pin(bluegreen_rollback::handler(
        &failing_writes(&app, &["lock"], 2),
        &bluegreen_core::ports::NoHooks,
        lambda_event(direct.clone()),
    ))
    .await
    .unwrap_err();
    assert_eq!(e.error_type(), "Transient", "{e}");
    assert_eq!(app.execution_status(&execution), "ABORTED");

    one(Box::pin(rollback(&app, direct)).await.expect("the retry"));
    assert_eq!(app.listener_split(), Split::all(Color::Blue));
    assert!(
        app.parameter("lock").is_none(),
        "before: the stopped execution's lock stayed"
    );
}

/// The emergency rollback moved traffic first, stopped the release's
/// execution, then failed taking its lock over (an SSM failure): the
/// record and the bounds are not settled. A release script then takes the
/// stopped execution's lock. The message's retry fences the script with the
/// same decision and finishes the work. Before, it took the script for a
/// release started after the rollback and did nothing: the record kept
/// naming the release rolled back, and a scaling hold stayed on production
/// (found by the simulation, seed 6387).
#[tokio::test]
async fn a_retry_finishes_its_rollback_and_fences_a_script_that_took_the_app_meanwhile() {
    let app = memory::provision("rb-unfinished", AppOptions::default());
    let (execution, _) = Box::pin(switched_by_execution(&app, None)).await;
    let sent = rfc3339(time::OffsetDateTime::now_utc());
    let m = bluegreen_e2e::sns_event_sent_at(&message(&app.name, "v2 errors"), &sent);
    // Lock writes: the first round's create and the takeover's (both
    // refused: held), then the takeover's change fails.
    let e = Box::pin(bluegreen_rollback::handler(
        &failing_writes(&app, &["lock"], 2),
        &bluegreen_core::ports::NoHooks,
        lambda_event(m.clone()),
    ))
    .await
    .unwrap_err();
    assert_eq!(e.error_type(), "Transient", "{e}");
    assert_eq!(app.listener_split(), Split::all(Color::Blue));
    assert_eq!(app.execution_status(&execution), "ABORTED");
    assert_eq!(
        app.stored_state().unwrap().phase,
        Phase::Stable,
        "not recorded yet"
    );

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let script = memory::manual_holder(&app, "v3");
    assert!(memory::try_hold_lock(&app, &script).await);

    one(Box::pin(rollback(&app, m)).await.expect("the retry"));
    let state = app.stored_state().unwrap();
    assert_eq!(
        (state.active_color, state.phase),
        (Color::Blue, Phase::RolledBack),
        "before: the retry did nothing"
    );
    let mut by_script = release_input(&app.name, "v3");
    by_script["overrides"] = json!({"strategy": {"type": "all-at-once"}});
    let e = Box::pin(bluegreen_switch::handler(
        &app.ports(),
        lambda_event(by_script),
    ))
    .await
    .unwrap_err();
    assert_eq!(e.error_type(), "RolledBackMeanwhile", "{e}");
    assert_eq!(app.listener_split(), Split::all(Color::Blue));
}

/// Anyone allowed to invoke the function could send the state machine's
/// document shape to skip the stop and the fence: the execution it names
/// must really be running this app's release.
#[tokio::test]
async fn a_state_machine_document_naming_a_foreign_execution_is_refused() {
    let app = memory::provision("rb-caller", AppOptions::default());
    deploy_v2(&app, json!({"type": "all-at-once"}), 1).await;
    let before = app.snapshot();
    let mut doc = release_input(&app.name, "v2");
    doc["execution"] =
        json!({"arn": "arn:aws:states:us-east-1:123456789012:execution:bluegreen:not-running"});
    let err = rollback(&app, doc).await.unwrap_err();
    assert_eq!(err.error_type(), "BadInput", "{err}");
    assert!(err.to_string().contains("execution.arn"), "{err}");
    assert_eq!(app.snapshot(), before);

    // A real execution of another release is refused as well.
    let other = app.start_running_execution("release-v9");
    let mut doc = release_input(&app.name, "v2");
    doc["execution"] = json!({"arn": other});
    let err = rollback(&app, doc).await.unwrap_err();
    assert!(err.to_string().contains("release v2"), "{err}");
    assert_eq!(app.listener_split(), Split::all(Color::Green));
}

/// A reason longer than the fence, the alert and the stop cause can carry is
/// refused before the running deployment is stopped.
#[tokio::test]
async fn an_overlong_reason_is_refused_before_anything_is_stopped() {
    let app = memory::provision("rb-reason", AppOptions::default());
    let execution = app.start_running_execution("release-v2");
    memory::hold_lock(&app, &execution).await;
    let before = app.snapshot();
    let err = rollback(&app, sns_event(&message(&app.name, &"x".repeat(5000))))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "BadInput", "{err}");
    assert!(err.to_string().contains("`reason`"), "{err}");
    assert_eq!(app.execution_status(&execution), "RUNNING");
    assert_eq!(app.snapshot(), before);
}

/// When the state machine's rollback failed for good, its last state asks
/// the function to alert the app's team.
#[tokio::test]
async fn a_failed_state_machine_rollback_alerts_the_team() {
    let app = memory::provision("rb-failed-alert", AppOptions::default());
    let doc = json!({"rollback_failed": {
        "app": app.name, "release": {"version": "v2", "image": "i"},
        "rollback_error": {"Error": "PreviousColorCold", "Cause": "blue has 0 healthy targets"}
    }});
    match rollback(&app, doc).await.expect("alert") {
        RollbackResponse::Alerted { alerted } => assert!(alerted),
        other => panic!("{other:?}"),
    }
    let alerts = app.alerts();
    assert!(
        alerts.iter().any(|a| a["summary"]
            .as_str()
            .is_some_and(|s| s.contains("could NOT roll back") && s.contains("PreviousColorCold"))),
        "{alerts:?}"
    );
}

/// A release driven by direct invokes (a script calling the Lambdas, the
/// lock held as `manual:<app>:<version>`) has no execution to stop: the
/// emergency rollback fences it, so that its next step cannot move
/// production back onto the release just rolled back (issue 17, defect 11).
#[tokio::test]
async fn a_release_driven_by_direct_invokes_is_fenced_by_an_emergency_rollback() {
    let app = memory::provision("rb-manual-fence", AppOptions::default());
    memory::hold_lock(&app, &memory::manual_holder(&app, "v2")).await;
    let mut doc = release_input(&app.name, "v2");
    doc["overrides"] = json!({"strategy": {"type": "weighted", "steps": [50, 100]}});
    let out = bluegreen_switch::handler(&app.ports(), lambda_event(doc.clone()))
        .await
        .expect("the script's first step: 50%");
    doc["switch"] = serde_json::to_value(&out).unwrap();
    assert_eq!(app.listener_split(), Split::with(Color::Green, 50));

    let out = one(rollback(&app, sns_event(&message(&app.name, "v2 errors")))
        .await
        .expect("on-call rolls v2 back"));
    assert_eq!(out.to.color, Color::Blue);
    assert_eq!(app.listener_split(), Split::all(Color::Blue));

    // The script goes on with its next step, unaware.
    let e = Box::pin(bluegreen_switch::handler(&app.ports(), lambda_event(doc)))
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), "RolledBackMeanwhile", "{e}");
    assert_eq!(
        app.listener_split(),
        Split::all(Color::Blue),
        "before: the script's next step moved production back onto v2"
    );
}

/// An emergency rollback stopped and fenced a release; the release was
/// redriven from the console, its step took the app's lock again, and it
/// ended once more. The reaction to that end leaves the way back to the
/// rollback (it decided), and gives back the lock the ended execution still
/// holds: no lock outlives its holder (found by the simulation).
#[tokio::test]
async fn an_ended_execution_fenced_by_an_emergency_rollback_leaves_no_lock_behind() {
    let app = memory::provision("rb-ended-fenced", AppOptions::default());
    let strategy = json!({"type": "weighted", "steps": [50, 100]});
    let (execution, _) = switched_by_execution(&app, Some(strategy)).await;
    one(rollback(&app, sns_event(&message(&app.name, "v2 errors")))
        .await
        .expect("on-call rolls v2 back, stopping and fencing its execution"));
    assert_eq!(app.listener_split(), Split::all(Color::Blue));
    // The redriven run's step took the lock again (while the run was
    // running); then the run ended.
    assert!(app.parameter("lock").is_none());
    let now = time::OffsetDateTime::now_utc();
    let lock = bluegreen_core::records::lock::Lock {
        holder: execution.clone(),
        acquired_at: now,
        expires_at: now + time::Duration::hours(1),
    };
    let ports = app.ports();
    ports
        .params
        .put(
            &format!("{}/{}/lock", ports.prefix, app.name),
            &serde_json::to_string(&lock).unwrap(),
            bluegreen_core::ports::PutMode::CreateOnly,
        )
        .await
        .expect("the redriven run's lock");
    let event =
        bluegreen_e2e::execution_ended_event(&execution, "FAILED", &release_input(&app.name, "v2"));
    let out = one(rollback(&app, event)
        .await
        .expect("left to the emergency rollback"));
    assert!(!out.changed, "{out:?}");
    assert_eq!(app.listener_split(), Split::all(Color::Blue));
    assert!(
        app.parameter("lock").is_none(),
        "before: the ended execution's lock stayed until someone removed it by hand"
    );
}

/// Two rollbacks of one app never decide at once: a message that finds
/// another rollback holding the app (its own hold, seconds long) is refused
/// with `LockHeld` and changes nothing; Lambda retries it after a minute,
/// when the first has finished (found by the simulation: a copy of a
/// message decided again from the world the first had just made).
#[tokio::test]
async fn a_second_rollback_waits_for_the_one_at_work() {
    let app = memory::provision("rb-one-at-a-time", AppOptions::default());
    deploy_v2(&app, json!({"type": "all-at-once"}), 1).await;
    let now = time::OffsetDateTime::now_utc();
    let at_work = bluegreen_core::records::lock::Lock {
        holder: "rollback:1796464800000000000".into(),
        acquired_at: now,
        expires_at: now + time::Duration::minutes(5),
    };
    let ports = app.ports();
    ports
        .params
        .put(
            &format!("{}/{}/lock", ports.prefix, app.name),
            &serde_json::to_string(&at_work).unwrap(),
            PutMode::CreateOnly,
        )
        .await
        .expect("the first rollback's hold");
    let before = app.snapshot();
    let e = rollback(&app, sns_event(&message(&app.name, "v2 errors")))
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), "LockHeld", "{e}");
    assert_eq!(app.snapshot().routes, before.routes);
    assert_eq!(app.listener_split(), Split::all(Color::Green));

    // The first one finishes (its hold goes); the retry rolls back.
    memory::release_lock(&app, &at_work.holder).await;
    let out = one(rollback(&app, sns_event(&message(&app.name, "v2 errors")))
        .await
        .expect("retried after the first"));
    assert_eq!(out.to.color, Color::Blue);
    assert_eq!(app.listener_split(), Split::all(Color::Blue));
}

/// Every message the rollback puts on the alert topic is an AWS Chatbot
/// custom notification by its documented schema (tests/fixtures): a team
/// that routes the topic to Slack, Teams or Chime through Chatbot reads it.
#[tokio::test]
async fn the_alert_topic_gets_chatbot_custom_notifications() {
    let app = memory::provision("rb-chatbot", AppOptions::default());
    deploy_v2(&app, json!({"type": "all-at-once"}), 1).await;
    let direct = json!({"app": app.name, "reason": "checkout errors", "requested_by": "ana"});
    one(rollback(&app, direct).await.expect("rollback"));
    let failed = json!({"rollback_failed": {
        "app": app.name, "release": {"version": "v2", "image": "i"},
        "rollback_error": {"Error": "PreviousColorCold", "Cause": "blue has 0 healthy targets"}
    }});
    rollback(&app, failed).await.expect("alert");
    let messages: Vec<Value> = app
        .world()
        .alerts
        .iter()
        .map(|(_, _, body)| serde_json::from_str(body).expect("an alert is JSON"))
        .collect();
    assert_eq!(messages.len(), 2, "{messages:?}");

    let schema: Value = serde_json::from_str(include_str!(
        "../../fixtures/chatbot-custom-notification.schema.json"
    ))
    .unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler
        .add_resource("chatbot.json", schema)
        .expect("the schema");
    let index = compiler
        .compile("chatbot.json", &mut schemas)
        .expect("the schema compiles");
    for message in &messages {
        if let Err(e) = schemas.validate(message, index) {
            panic!("{message:#}\nis not a Chatbot custom notification: {e}");
        }
    }
    assert_eq!(messages[0]["metadata"]["eventType"], "rolled-back");
    assert_eq!(
        messages[0]["content"]["title"],
        format!("{} rolled back to blue (v1)", app.name)
    );
    assert_eq!(messages[1]["metadata"]["eventType"], "rollback-failed");
    // Something the schema would refuse is refused: the check is real.
    let mut invented = messages[0].clone();
    invented["content"]["color"] = json!("red");
    assert!(schemas.validate(&invented, index).is_err());
}
