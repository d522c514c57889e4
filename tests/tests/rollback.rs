//! The rollback Lambda against the emulator, through its real entry function:
//! from the state machine, from an SNS event, and by direct invoke.

use std::sync::atomic::{AtomicUsize, Ordering};

use bluegreen_core::ports::{
    LoadBalancer, Parameter, ParameterStore, PortResult, Ports, PutMode, PutOutcome, Route, RouteActions,
};
use bluegreen_core::state::{AppState, Phase};
use bluegreen_core::{Color, Split};
use bluegreen_e2e::{AppOptions, ExampleApp, lambda_event, release_input, sns_event};
use bluegreen_lambda::HandlerError;
use bluegreen_rollback::RollbackResponse;
use serde_json::{Value, json};

async fn rollback(app: &ExampleApp, event: Value) -> Result<RollbackResponse, HandlerError> {
    bluegreen_rollback::handler(&app.ports(), lambda_event(event)).await
}

fn one(r: RollbackResponse) -> bluegreen_core::rollback::RollbackOutcome {
    match r {
        RollbackResponse::One(o) => o,
        RollbackResponse::Many(mut v) => {
            assert_eq!(v.len(), 1);
            v.remove(0)
        }
        RollbackResponse::Alerted { .. } => panic!("not a rollback outcome"),
    }
}

/// Switches `app` to v2 on green, `steps` at a time, stopping after `take` steps.
async fn deploy_v2(app: &ExampleApp, strategy: Value, take: usize) {
    // Only the lock holder moves traffic: a direct invoke holds it by name.
    bluegreen_e2e::hold_lock(app, &format!("manual:{}:v2", app.name)).await;
    let mut input = release_input(&app.name, "v2");
    input["overrides"] = json!({"strategy": strategy});
    for _ in 0..take {
        let out = bluegreen_switch::handler(&app.ports(), lambda_event(input.clone()))
            .await
            .expect("switch");
        input["switch"] = serde_json::to_value(&out).unwrap();
    }
}

fn message(app: &str, reason: &str) -> String {
    json!({"app": app, "reason": reason, "requested_by": "oncall@example.com"}).to_string()
}

#[tokio::test]
async fn from_all_green_back_to_blue_and_rolling_back_twice_changes_nothing() {
    let app = bluegreen_e2e::provision("rb-full", AppOptions::default()).await;
    deploy_v2(&app, json!({"type": "all-at-once"}), 1).await;
    assert_eq!(app.listener_split().await, Split::all(Color::Green));

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
    assert_eq!(app.listener_split().await, Split::all(Color::Blue));
    let state = app.stored_state().await.unwrap();
    assert_eq!(state.phase, Phase::RolledBack);
    assert_eq!(state.active_color, Color::Blue);
    assert_eq!(state.active_version.as_deref(), Some("v1"));
    assert_eq!(state.previous_version.as_deref(), Some("v2"));
    app.assert_state_matches_listener().await;

    let alerts = app.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["app"], json!(app.name));
    assert_eq!(alerts[0]["reason"], json!("checkout errors"));
    assert_eq!(alerts[0]["requested_by"], json!("ana"));
    assert_eq!(alerts[0]["to"]["color"], json!("blue"));

    // Again, by SNS this time: same state, no second alert.
    let before = app.snapshot().await;
    let again = one(
        rollback(&app, sns_event(&message(&app.name, "pressed twice")))
            .await
            .unwrap(),
    );
    assert!(!again.changed);
    assert_eq!(again.to, out.to);
    assert_eq!(app.snapshot().await, before);
    assert!(app.alerts().await.is_empty());
}

#[tokio::test]
async fn from_a_50_50_split_all_traffic_returns_to_blue() {
    let app = bluegreen_e2e::provision("rb-split", AppOptions::default()).await;
    deploy_v2(&app, json!({"type": "weighted", "steps": [50, 100]}), 1).await;
    assert_eq!(
        app.listener_split().await,
        Split {
            blue: 50,
            green: 50
        }
    );
    assert_eq!(app.stored_state().await.unwrap().phase, Phase::Shifting);

    let out = one(
        rollback(&app, sns_event(&message(&app.name, "p99 doubled")))
            .await
            .unwrap(),
    );
    assert!(out.changed);
    assert_eq!(out.to.color, Color::Blue);
    assert_eq!(app.listener_split().await, Split::all(Color::Blue));
    app.assert_state_matches_listener().await;

    let before = app.snapshot().await;
    let again = one(rollback(&app, sns_event(&message(&app.name, "again")))
        .await
        .unwrap());
    assert!(!again.changed);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn rule_based_rollback_moves_the_rule() {
    let options = AppOptions {
        rule_based: true,
        ..AppOptions::default()
    };
    let app = bluegreen_e2e::provision("rb-rule", options).await;
    deploy_v2(&app, json!({"type": "all-at-once"}), 1).await;
    one(rollback(&app, json!({"app": app.name, "reason": "bad"}))
        .await
        .unwrap());
    assert_eq!(app.listener_split().await, Split::all(Color::Blue));
    app.assert_state_matches_listener().await;
}

#[tokio::test]
async fn emergency_rollback_stops_the_running_deployment_and_releases_its_lock() {
    let app = bluegreen_e2e::provision("rb-stop", AppOptions::default()).await;
    let execution = app.start_running_execution("release-v2").await;
    let mut input = release_input(&app.name, "v2");
    input["execution"] = json!({"arn": execution});
    let ports = app.ports();
    bluegreen_e2e::hold_lock(&app, &execution).await;
    bluegreen_switch::handler(&ports, lambda_event(input))
        .await
        .expect("switch");

    let out = one(rollback(&app, sns_event(&message(&app.name, "pager")))
        .await
        .unwrap());
    assert_eq!(out.stopped_execution.as_deref(), Some(execution.as_str()));
    assert!(out.lock_released);
    assert_eq!(app.execution_status(&execution).await, "ABORTED");
    assert!(app.parameter("lock").await.is_none());
    assert_eq!(app.listener_split().await, Split::all(Color::Blue));
    app.assert_state_matches_listener().await;
}

#[tokio::test]
async fn from_the_state_machine_the_caller_is_not_stopped_and_its_lock_is_released() {
    let app = bluegreen_e2e::provision("rb-sfn", AppOptions::default()).await;
    let execution = app.start_running_execution("release-v2").await;
    let ports = app.ports();
    bluegreen_e2e::hold_lock(&app, &execution).await;
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
    assert_eq!(app.execution_status(&execution).await, "RUNNING");
    assert_eq!(
        app.stored_state()
            .await
            .unwrap()
            .last_execution_arn
            .as_deref(),
        Some(execution.as_str())
    );
    app.assert_state_matches_listener().await;
}

#[tokio::test]
async fn bad_messages_change_nothing_and_name_the_problem() {
    let app = bluegreen_e2e::provision("rb-bad", AppOptions::default()).await;
    deploy_v2(&app, json!({"type": "all-at-once"}), 1).await;
    let before = app.snapshot().await;
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
    assert_eq!(app.snapshot().await, before, "listener and SSM unchanged");
    assert_eq!(app.listener_split().await, Split::all(Color::Green));
    assert!(app.alerts().await.is_empty());
}

#[tokio::test]
async fn nothing_to_roll_back_before_the_first_switch() {
    let app = bluegreen_e2e::provision("rb-none", AppOptions::default()).await;
    let before = app.snapshot().await;
    let err = rollback(&app, json!({"app": app.name, "reason": "x"}))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "NothingToRollBack");
    assert_eq!(app.snapshot().await, before);

    let options = AppOptions {
        initial_state: None,
        ..AppOptions::default()
    };
    let fresh = bluegreen_e2e::provision("rb-nostate", options).await;
    let err = rollback(&fresh, json!({"app": fresh.name, "reason": "x"}))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "NothingToRollBack");
    assert!(err.to_string().contains("no state is recorded"), "{err}");
}

#[tokio::test]
async fn after_the_warm_window_rollback_scales_the_previous_color_up_first() {
    let app = bluegreen_e2e::provision("rb-cold", AppOptions::default()).await;
    deploy_v2(&app, json!({"type": "all-at-once"}), 1).await;
    // Two days later: blue was scaled to zero and its targets are gone.
    let mut state: AppState = app.stored_state().await.unwrap();
    state.switched_at = Some(time::OffsetDateTime::now_utc() - time::Duration::days(2));
    app.put_state(&state).await;
    app.set_desired_count(Color::Blue, 0).await;
    app.set_healthy(Color::Blue, false).await;
    let listener_before = app.listener_split().await;

    let err = rollback(&app, json!({"app": app.name, "reason": "late bug"}))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "PreviousColorCold");
    let msg = err.to_string();
    assert!(msg.contains("warm rollback window had passed"), "{msg}");
    assert!(msg.contains("Run the rollback again"), "{msg}");
    assert_eq!(
        app.listener_split().await,
        listener_before,
        "no traffic to a cold color"
    );
    assert_eq!(app.stored_state().await.unwrap(), state, "state unchanged");
    assert_eq!(
        app.desired_count(Color::Blue).await,
        2,
        "scaled up to green's size"
    );

    // Once blue's targets are healthy, the rerun completes the rollback.
    app.set_healthy(Color::Blue, true).await;
    let out = one(
        rollback(&app, json!({"app": app.name, "reason": "late bug"}))
            .await
            .unwrap(),
    );
    assert!(out.changed);
    assert_eq!(app.listener_split().await, Split::all(Color::Blue));
    app.assert_state_matches_listener().await;
}

#[tokio::test]
async fn unhealthy_previous_color_inside_the_window_is_refused_with_the_counts() {
    let app = bluegreen_e2e::provision("rb-sick", AppOptions::default()).await;
    deploy_v2(&app, json!({"type": "all-at-once"}), 1).await;
    app.set_healthy(Color::Blue, false).await;
    let before = app.snapshot().await;
    let err = rollback(&app, json!({"app": app.name, "reason": "x"}))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "PreviousColorCold");
    assert!(
        err.to_string().contains("has no healthy targets ("),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("of 2 task(s) of rb-sick-blue running"),
        "{err}"
    );
    assert_eq!(app.snapshot().await, before);
}

/// Counts load-balancer calls on the way to the real adapter.
struct Counting<L> {
    inner: L,
    calls: AtomicUsize,
}

impl<L: LoadBalancer> LoadBalancer for Counting<L> {
    async fn read_actions(&self, route: &Route) -> PortResult<RouteActions> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.read_actions(route).await
    }
    async fn write_actions(&self, route: &Route, forward: &RouteActions) -> PortResult<RouteActions> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.write_actions(route, forward).await
    }
    async fn healthy_targets(&self, tg: &str) -> PortResult<usize> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.healthy_targets(tg).await
    }
}

#[tokio::test]
async fn emergency_rollback_makes_at_most_two_load_balancer_calls() {
    let app = bluegreen_e2e::provision("rb-budget", AppOptions::default()).await;
    deploy_v2(&app, json!({"type": "all-at-once"}), 1).await;
    let p = app.ports();
    let ports = Ports {
        params: p.params,
        lb: Counting {
            inner: p.lb,
            calls: AtomicUsize::new(0),
        },
        services: p.services,
        alerts: p.alerts,
        executions: p.executions,
        prefix: p.prefix,
    };
    let event = lambda_event(sns_event(&message(&app.name, "budget")));
    bluegreen_rollback::handler(&ports, event)
        .await
        .expect("rollback");
    assert_eq!(
        ports.lb.calls.load(Ordering::SeqCst),
        2,
        "target health + listener change"
    );
    app.assert_state_matches_listener().await;
}

#[tokio::test]
async fn the_state_machine_never_rolls_back_a_release_that_got_no_traffic() {
    let app = bluegreen_e2e::provision("rb-untouched", AppOptions::default()).await;
    deploy_v2(&app, json!({"type": "all-at-once"}), 1).await;
    // v3 fails before its first switch: production (v2 on green) must stay.
    let execution = app.start_running_execution("release-v3").await;
    let mut doc = release_input(&app.name, "v3");
    doc["execution"] = json!({"arn": execution});
    doc["error"] = json!({"Error": "NoHealthyTargets", "Cause": "blue has none"});
    bluegreen_e2e::hold_lock(&app, &execution).await;
    let before = app.snapshot().await;

    let out = one(rollback(&app, doc).await.expect("rollback"));
    assert!(!out.changed);
    assert!(out.lock_released);
    assert!(
        out.note
            .as_deref()
            .unwrap()
            .contains("never received production traffic")
    );
    assert_eq!(app.listener_split().await, Split::all(Color::Green));
    let after = app.snapshot().await;
    assert_eq!(after.listener_default, before.listener_default);
    assert_eq!(
        app.stored_state().await.unwrap().active_version.as_deref(),
        Some("v2")
    );
    assert!(app.alerts().await.is_empty());
}

#[tokio::test]
async fn never_sends_traffic_to_a_color_a_newer_release_was_deployed_onto() {
    let app = bluegreen_e2e::provision("rb-replaced", AppOptions::default()).await;
    // v2 serves on green; blue still runs v1, the rollback target.
    deploy_v2(&app, json!({"type": "all-at-once"}), 1).await;
    // v3 is deployed onto blue by a running release that has not switched yet.
    let execution = app.start_running_execution("v3").await;
    let mut v3 = release_input(&app.name, "v3");
    v3["execution"] = json!({"arn": execution});
    bluegreen_deploy_idle::handler(&app.ports(), lambda_event(v3))
        .await
        .expect("deploy v3 onto blue");
    let marked = app.stored_state().await.unwrap();
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
    assert_eq!(app.listener_split().await, Split::all(Color::Green));
    assert_eq!(app.stored_state().await.unwrap(), marked);
    assert_eq!(app.execution_status(&execution).await, "ABORTED");
    assert!(app.parameter("lock").await.is_none(), "its lock released");
    app.assert_state_matches_listener().await;
    let alerts = app.alerts().await;
    assert!(
        alerts.iter().any(|a| a["rolled_back"] == false
            && a["summary"].as_str().is_some_and(
                |s| s.contains("did not roll back") && s.contains("blue no longer runs v1")
            )),
        "the team hears that the deployment was stopped but traffic stayed: {alerts:?}"
    );

    // Once a release goes live on blue, green (v2, untouched) is the target.
    let mut input = release_input(&app.name, "v3");
    input["overrides"] = json!({"strategy": {"type": "all-at-once"}});
    bluegreen_switch::handler(&app.ports(), lambda_event(input))
        .await
        .expect("switch to v3");
    let live = app.stored_state().await.unwrap();
    assert_eq!(live.previous_color_replaced_by, None);
    let out = one(rollback(&app, sns_event(&message(&app.name, "v3 errors")))
        .await
        .expect("rollback to v2"));
    assert_eq!(
        (out.to.color, out.to.version.as_deref()),
        (Color::Green, Some("v2"))
    );
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
    async fn write_actions(&self, route: &Route, forward: &RouteActions) -> PortResult<RouteActions> {
        let written = self.inner.write_actions(route, forward).await;
        self.wrote.store(true, Ordering::SeqCst);
        written
    }
    async fn healthy_targets(&self, tg: &str) -> PortResult<usize> {
        self.inner.healthy_targets(tg).await
    }
}

#[tokio::test]
async fn a_switch_step_in_flight_cannot_undo_an_emergency_rollback() {
    let app = bluegreen_e2e::provision("rb-race", AppOptions::default()).await;
    let execution = app.start_running_execution("v2-race").await;
    bluegreen_e2e::hold_lock(&app, &execution).await;
    let mut input = release_input(&app.name, "v2");
    input["execution"] = json!({"arn": execution});
    input["overrides"] = json!({"strategy": {"type": "weighted", "steps": [10, 50, 100]}});
    let first = bluegreen_switch::handler(&app.ports(), lambda_event(input.clone()))
        .await
        .expect("first step");
    input["switch"] = serde_json::to_value(&first).unwrap();
    assert_eq!(app.listener_split().await, Split::with(Color::Green, 10));

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
    assert_eq!(app.listener_split().await, Split::with(Color::Green, 50));
    let out = one(
        rollback(&app, sns_event(&message(&app.name, "errors at 10%")))
            .await
            .expect("rollback"),
    );
    assert_eq!(out.stopped_execution.as_deref(), Some(execution.as_str()));
    assert_eq!(app.listener_split().await, Split::all(Color::Blue));

    // The step goes on: it sees the fence and puts the rollback's split back.
    resume.notify_one();
    let e = in_flight.await.unwrap().unwrap_err();
    assert_eq!(e.error_type(), "RolledBackMeanwhile", "{e}");
    assert_eq!(app.listener_split().await, Split::all(Color::Blue));
    let state = app.stored_state().await.unwrap();
    assert_eq!(
        (
            state.active_color,
            state.active_version.as_deref(),
            state.phase
        ),
        (Color::Blue, Some("v1"), Phase::RolledBack)
    );
    app.assert_state_matches_listener().await;

    // Any later step of the stopped deployment is refused before it moves anything.
    let before = app.snapshot().await;
    let e = bluegreen_switch::handler(&app.ports(), lambda_event(input))
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), "RolledBackMeanwhile");
    assert!(e.to_string().contains("errors at 10%"), "{e}");
    assert_eq!(app.snapshot().await, before);
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
    let app = bluegreen_e2e::provision("rb-deploy-race", AppOptions::default()).await;
    // v2 serves on green; blue still runs v1, the rollback target.
    deploy_v2(&app, json!({"type": "all-at-once"}), 1).await;
    let blue_before = app.service_task_definition(Color::Blue).await;

    // v3's deploy-idle has read the state and is about to mark blue as being
    // replaced, then update it; the emergency rollback runs in between.
    let execution = app.start_running_execution("v3-race").await;
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
    paused.notified().await;
    let out = one(rollback(&app, sns_event(&message(&app.name, "v2 errors")))
        .await
        .expect("rollback to v1 on blue"));
    assert_eq!(
        (out.to.color, out.to.version.as_deref()),
        (Color::Blue, Some("v1"))
    );
    let rolled_back = app.stored_state().await.unwrap();

    // deploy-idle goes on: its mark lands on the rollback's state, it sees the
    // fence, puts the rollback's state back and leaves blue alone.
    resume.notify_one();
    let e = in_flight.await.unwrap().unwrap_err();
    assert_eq!(e.error_type(), "RolledBackMeanwhile", "{e}");
    assert_eq!(app.stored_state().await.unwrap(), rolled_back);
    assert_eq!(app.service_task_definition(Color::Blue).await, blue_before);
    assert_eq!(app.listener_split().await, Split::all(Color::Blue));
    app.assert_state_matches_listener().await;
}
