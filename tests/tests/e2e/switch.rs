//! The switch Lambda through its real entry function, on the in-memory AWS
//! (`bluegreen_e2e::memory`): the adapters' contract with the real APIs is
//! `contract.rs`'s, against the emulator.

use bluegreen_core::ports::{ForeignAction, RouteAction, RouteActions};
use bluegreen_core::records::state::{AppState, Phase};
use bluegreen_core::sim::Fault;
use bluegreen_core::steps::switch::SwitchOutcome;
use bluegreen_core::{Color, Split};
use bluegreen_e2e::memory::{self, AppOptions, MemoryApp};
use bluegreen_e2e::{lambda_event, release_input};
use bluegreen_lambda::HandlerError;
use serde_json::{Value, json};

async fn switch(app: &MemoryApp, input: &Value) -> Result<SwitchOutcome, HandlerError> {
    // A direct invoke moves traffic only holding the lock, as after deploy-idle.
    if input.get("execution").is_none()
        && let Some(version) = input.pointer("/release/version").and_then(Value::as_str)
    {
        memory::try_hold_lock(app, &memory::manual_holder(app, version)).await;
    }
    bluegreen_switch::handler(&app.ports(), lambda_event(input.clone())).await
}

fn weighted(steps: &[u8]) -> Value {
    json!({"type": "weighted", "steps": steps, "bake_seconds": 30})
}

#[tokio::test]
async fn all_at_once_moves_everything_to_green_and_a_rerun_changes_nothing() {
    let app = memory::provision("sw-all", AppOptions::default());
    assert_eq!(app.listener_split(), Split::all(Color::Blue));
    let input = release_input(&app.name, "v2");

    let out = switch(&app, &input).await.expect("switch");
    assert_eq!(out.target_color, Color::Green);
    assert!(out.changed && out.done);
    assert_eq!(app.listener_split(), Split::all(Color::Green));
    let state = app.stored_state().unwrap();
    assert_eq!(state.active_color, Color::Green);
    assert_eq!(state.active_version.as_deref(), Some("v2"));
    assert_eq!(state.previous_version.as_deref(), Some("v1"));
    assert_eq!(state.phase, Phase::Stable);
    app.assert_state_matches_listener();

    // Same input again: nothing moves, nothing is rewritten.
    let before = app.snapshot();
    let again = switch(&app, &input).await.expect("rerun");
    assert!(!again.changed);
    assert_eq!(again.split, out.split);
    assert_eq!(app.snapshot(), before);
}

#[tokio::test]
async fn weighted_steps_walk_10_25_50_100_with_state_matching_listener_after_each() {
    let options = AppOptions {
        strategy: weighted(&[10, 25, 50, 100]),
        ..AppOptions::default()
    };
    let app = memory::provision("sw-steps", options);
    let mut input = release_input(&app.name, "v2");
    let mut seen = vec![];
    for _ in 0..4 {
        let out = switch(&app, &input).await.expect("switch step");
        seen.push((out.weight, out.done));
        assert_eq!(app.listener_split(), Split::with(Color::Green, out.weight));
        app.assert_state_matches_listener();
        let state = app.stored_state().unwrap();
        assert_eq!(
            state.previous_version.as_deref(),
            Some("v1"),
            "previous release kept"
        );

        // Each step is safe to run twice.
        let before = app.snapshot();
        let rerun = switch(&app, &input).await.expect("rerun step");
        assert_eq!(
            rerun,
            SwitchOutcome {
                changed: false,
                ..out.clone()
            }
        );
        assert_eq!(app.snapshot(), before);

        input["switch"] = serde_json::to_value(&out).unwrap();
    }
    assert_eq!(
        seen,
        vec![(10, false), (25, false), (50, false), (100, true)]
    );
    assert_eq!(app.stored_state().unwrap().phase, Phase::Stable);
}

#[tokio::test]
async fn overrides_strategy_takes_precedence_over_config() {
    let app = memory::provision("sw-override", AppOptions::default());
    let mut input = release_input(&app.name, "v2");
    input["overrides"] = json!({"strategy": weighted(&[30, 100])});
    let out = switch(&app, &input).await.expect("switch");
    assert_eq!(
        out.split,
        Split {
            blue: 70,
            green: 30
        }
    );
    assert_eq!(app.stored_state().unwrap().phase, Phase::Shifting);
    app.assert_state_matches_listener();
}

#[tokio::test]
async fn rule_based_switching_moves_the_rule_and_leaves_the_default_action() {
    let options = AppOptions {
        rule_based: true,
        strategy: weighted(&[50, 100]),
        ..AppOptions::default()
    };
    let app = memory::provision("sw-rule", options);
    let default_before = format!("{:?}", app.listener_default_actions());

    let mut input = release_input(&app.name, "v2");
    let out = switch(&app, &input).await.expect("first step");
    assert_eq!(
        app.listener_split(),
        Split {
            blue: 50,
            green: 50
        }
    );
    app.assert_state_matches_listener();
    input["switch"] = serde_json::to_value(&out).unwrap();
    switch(&app, &input).await.expect("second step");
    assert_eq!(app.listener_split(), Split::all(Color::Green));
    app.assert_state_matches_listener();

    assert_eq!(
        format!("{:?}", app.listener_default_actions()),
        default_before,
        "the listener's default action is not ours to change"
    );
}

#[tokio::test]
async fn refuses_weight_on_a_color_without_healthy_targets() {
    let options = AppOptions {
        healthy_green: false,
        ..AppOptions::default()
    };
    let app = memory::provision("sw-unhealthy", options);
    // Held as deploy-idle would: the snapshot below then covers the step only.
    memory::try_hold_lock(&app, &memory::manual_holder(&app, "v2")).await;
    let before = app.snapshot();
    let err = switch(&app, &release_input(&app.name, "v2"))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "NoHealthyTargets");
    assert!(err.to_string().contains("green"), "{err}");
    assert_eq!(app.snapshot(), before, "nothing changed");
    assert_eq!(app.listener_split(), Split::all(Color::Blue));
}

#[tokio::test]
async fn first_release_without_state_takes_the_active_color_from_the_listener() {
    let options = AppOptions {
        initial_state: None,
        ..AppOptions::default()
    };
    let app = memory::provision("sw-bootstrap", options);
    assert!(app.stored_state().is_none());
    switch(&app, &release_input(&app.name, "v2"))
        .await
        .expect("switch");
    let state = app.stored_state().unwrap();
    assert_eq!(state.active_color, Color::Green);
    assert_eq!(
        state.previous_version, None,
        "blue's version was never recorded"
    );
    app.assert_state_matches_listener();
}

#[tokio::test]
async fn only_the_lock_holder_moves_traffic() {
    let app = memory::provision("sw-locked", AppOptions::default());
    let holder = app.start_running_execution("deploy-other");
    let store_ports = app.ports();
    let store =
        bluegreen_core::records::store::AppStore::new(&store_ports.params, bluegreen_e2e::PREFIX)
            .unwrap();
    store
        .acquire_lock(
            &app.name,
            &holder,
            std::time::Duration::from_secs(600),
            time::OffsetDateTime::now_utc(),
            &store_ports.executions,
        )
        .await
        .expect("lock");
    let before = app.snapshot();

    let mut input = release_input(&app.name, "v2");
    input["execution"] = json!({"arn": "arn:aws:states:us-east-1:123456789012:execution:sm:mine"});
    let err = switch(&app, &input).await.unwrap_err();
    assert_eq!(err.error_type(), "LockHeld");
    assert!(err.to_string().contains(&holder), "{err}");
    assert_eq!(app.snapshot(), before);

    // The holder itself may.
    input["execution"] = json!({"arn": holder});
    switch(&app, &input).await.expect("holder switches");
    app.assert_state_matches_listener();
}

#[tokio::test]
async fn bad_input_changes_nothing_and_says_where() {
    let app = memory::provision("sw-bad", AppOptions::default());
    // Held as deploy-idle would: the snapshot below then covers the step only.
    memory::try_hold_lock(&app, &memory::manual_holder(&app, "v2")).await;
    let before = app.snapshot();
    let cases = [
        (
            json!({"app": app.name}),
            "BadInput",
            "missing field `release`",
        ),
        (
            json!({"app": app.name, "release": {"version": "v2"}}),
            "BadInput",
            "`release`",
        ),
        (
            json!({"app": app.name, "release": {"version": "v2", "image": "i"},
                   "overrides": {"strategy": {"type": "weighted", "steps": [50, 40, 100]}}}),
            "BadInput",
            "`overrides.strategy.steps[1]`",
        ),
        (
            release_input("no-such-app", "v2"),
            "UnknownApp",
            "/bluegreen/no-such-app/config",
        ),
        (json!("switch please"), "BadInput", "must be a JSON object"),
    ];
    for (input, error_type, says) in cases {
        let err = switch(&app, &input).await.unwrap_err();
        assert_eq!(err.error_type(), error_type, "{err}");
        assert!(
            err.to_string().contains(says),
            "{err} should mention {says}"
        );
    }
    assert_eq!(app.snapshot(), before);
}

#[tokio::test]
async fn a_corrupt_config_is_reported_with_its_field() {
    let app = memory::provision("sw-badcfg", AppOptions::default());
    // Held as deploy-idle would: the snapshot below then covers the step only.
    memory::try_hold_lock(&app, &memory::manual_holder(&app, "v2")).await;
    let mut config = app.config.clone();
    config["strategy"] = json!({"type": "weighted", "steps": [10, 50]});
    app.put_config(&config);
    let before = app.snapshot();
    let err = switch(&app, &release_input(&app.name, "v2"))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "BadInput");
    assert!(err.to_string().contains("`strategy.steps`"), "{err}");
    assert_eq!(app.snapshot(), before);
}

#[allow(dead_code)]
fn _state_type_is_public(_: AppState) {}

fn oidc_action(order: i32) -> RouteAction {
    RouteAction::Foreign(ForeignAction {
        kind: "authenticate-oidc".into(),
        order: Some(order),
        fingerprint: "issuer=https://idp.example.com client=shop".into(),
        opaque: std::sync::Arc::new("oidc"),
    })
}

/// Scenario 3: production authenticates with OIDC before forwarding. A switch
/// and a rollback change the forward weights only: the authentication, its
/// order and the forward's order stay.
#[tokio::test]
async fn actions_that_are_not_ours_survive_a_switch_and_a_rollback() {
    let app = memory::provision("sw-oidc", AppOptions::default());
    let mut forward = app.listener_default_actions().0.remove(0);
    if let RouteAction::Forward { order, .. } = &mut forward {
        *order = Some(2);
    }
    app.set_listener_default_actions(vec![oidc_action(1), forward]);
    let kinds = |actions: &RouteActions| {
        actions
            .0
            .iter()
            .map(|a| match a {
                RouteAction::Forward { order, .. } => ("forward".to_string(), *order),
                RouteAction::Foreign(f) => (f.kind.clone(), f.order),
            })
            .collect::<Vec<_>>()
    };
    let expected = vec![
        ("authenticate-oidc".to_string(), Some(1)),
        ("forward".to_string(), Some(2)),
    ];
    let oidc_before = app.listener_default_actions().0[0].clone();

    switch(&app, &release_input(&app.name, "v2"))
        .await
        .expect("switch");
    let after = app.listener_default_actions();
    assert_eq!(kinds(&after), expected);
    assert_eq!(after.0[0], oidc_before, "authentication kept as it was");
    assert_eq!(app.listener_split(), Split::all(Color::Green));

    memory::release_lock(&app, &memory::manual_holder(&app, "v2")).await;
    bluegreen_rollback::handler(
        &app.ports(),
        &bluegreen_core::ports::NoHooks,
        lambda_event(json!({"app": app.name, "reason": "v2 errors"})),
    )
    .await
    .expect("rollback");
    let after = app.listener_default_actions();
    assert_eq!(kinds(&after), expected);
    assert_eq!(after.0[0], oidc_before);
    assert_eq!(app.listener_split(), Split::all(Color::Blue));
}

/// Only the lock holder moves traffic: with no lock at all (released, or
/// never taken), a switch refuses and changes nothing.
#[tokio::test]
async fn a_switch_without_the_lock_moves_nothing() {
    let app = memory::provision("sw-nolock", AppOptions::default());
    let before = app.snapshot();
    let err = bluegreen_switch::handler(&app.ports(), lambda_event(release_input(&app.name, "v2")))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "NotLockHolder", "{err}");
    assert_eq!(app.snapshot(), before);
}

/// A console rerun of a copied execution document that still holds another
/// execution's switch result starts from the first step, not after it.
#[tokio::test]
async fn a_copied_document_with_an_earlier_executions_switch_result_starts_over() {
    let options = AppOptions {
        strategy: weighted(&[10, 50, 100]),
        ..AppOptions::default()
    };
    let app = memory::provision("sw-copied", options);
    let execution = app.start_running_execution("release-v2");
    memory::hold_lock(&app, &execution).await;
    let mut doc = release_input(&app.name, "v2");
    doc["execution"] = json!({"arn": execution});
    // What the earlier execution left: its second step, 50%.
    doc["switch"] = json!({"app": app.name, "version": "v2", "target_color": "green", "step": 1,
        "steps": [10, 50, 100], "weight": 50, "split": {"blue": 50, "green": 50},
        "changed": true, "done": false, "bake_seconds": 30,
        "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:bluegreen:earlier"});
    let out = switch(&app, &doc).await.expect("switch");
    assert_eq!((out.step, out.weight), (0, 10), "{out:?}");
    assert_eq!(app.listener_split(), Split::with(Color::Green, 10));
}

/// `active-environment` is written before the state: if its write fails, the
/// state is not written either, and the rerun writes both.
#[tokio::test]
async fn a_failed_active_environment_write_is_repaired_by_the_rerun() {
    let app = memory::provision("sw-activeenv", AppOptions::default());
    let mut input = release_input(&app.name, "v2");
    match bluegreen_deploy_idle::handler(&app.ports(), lambda_event(input.clone()))
        .await
        .expect("deploy-idle")
    {
        bluegreen_deploy_idle::DeployIdleResponse::Deployed(d) => {
            input["deploy"] = serde_json::to_value(d).unwrap();
        }
        other => panic!("{other:?}"),
    }
    app.fail("ssm:PutParameter", "/active-environment", 1, Fault::Before);
    let err = bluegreen_switch::handler(&app.ports(), lambda_event(input.clone()))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "Throttled", "{err}");
    assert_eq!(
        app.stored_state().unwrap().active_color,
        Color::Blue,
        "the state is written only after active-environment"
    );
    switch(&app, &input).await.expect("rerun");
    let state = app.stored_state().unwrap();
    assert_eq!(state.active_color, Color::Green);
    assert_eq!(
        app.parameter("active-environment").as_deref(),
        Some("green")
    );
}

/// The switch at a chosen hour, for the release window.
async fn switch_at(
    app: &MemoryApp,
    input: &Value,
    now: time::OffsetDateTime,
) -> Result<SwitchOutcome, HandlerError> {
    bluegreen_switch::handler_at(&app.ports(), lambda_event(input.clone()), now).await
}

#[tokio::test]
async fn outside_its_window_a_release_waits_moving_nothing_and_inside_it_switches() {
    use bluegreen_core::steps::switch::GateStatus;
    use time::macros::datetime;

    let app = memory::provision("sw-window", AppOptions::default());
    let mut input = release_input(&app.name, "v2");
    // Mondays to Fridays, 22:00 to 06:00 in Berlin (UTC+1 in December).
    input["overrides"] = json!({"gates": {"window": {
        "time_zone": "Europe/Berlin", "days": ["mon", "tue", "wed", "thu", "fri"],
        "from": "22:00", "to": "06:00"}}});
    memory::try_hold_lock(&app, &memory::manual_holder(&app, "v2")).await;

    // Monday 7 December 2026, 15:00 in Berlin: held until 22:00 (21:00 UTC).
    let before = app.snapshot();
    let held = switch_at(&app, &input, datetime!(2026-12-07 14:00 UTC))
        .await
        .expect("held");
    assert_eq!(held.gate, GateStatus::Window);
    assert!(!held.changed && !held.done && !held.traffic_moved);
    let window = held.window.clone().expect("when the window opens");
    assert_eq!(window.opens_at, datetime!(2026-12-07 21:00 UTC));
    assert_eq!(window.wait_seconds, 7 * 3600);
    assert_eq!(
        window.hours,
        "mon,tue,wed,thu,fri 22:00–06:00 Europe/Berlin"
    );
    assert_eq!(held.split, Split::all(Color::Blue), "the listener's split");
    assert_eq!(app.snapshot(), before, "nothing moved, nothing written");

    // Saturday 02:00 in Berlin is still Friday's window; Saturday noon is
    // not, and the next opens on Monday.
    let saturday_noon = switch_at(&app, &input, datetime!(2026-12-12 11:00 UTC))
        .await
        .expect("held");
    assert_eq!(
        saturday_noon.window.map(|w| w.opens_at),
        Some(datetime!(2026-12-14 21:00 UTC))
    );

    // The state machine waited; at 22:00 the switch lets it through.
    let moved = switch_at(&app, &input, datetime!(2026-12-07 21:00 UTC))
        .await
        .expect("switch");
    assert_eq!(moved.gate, GateStatus::Open);
    assert!(moved.changed && moved.done);
    assert_eq!(app.listener_split(), Split::all(Color::Green));
    app.assert_state_matches_listener();
    // A rerun after the window closed moves nothing and holds nothing: the
    // step already happened.
    let rerun = switch_at(&app, &input, datetime!(2026-12-08 12:00 UTC))
        .await
        .expect("rerun");
    assert_eq!(rerun.gate, GateStatus::Open);
    assert!(!rerun.changed);
}

#[tokio::test]
async fn an_approval_comes_before_the_window_and_only_the_first_step_waits_for_it() {
    use bluegreen_core::steps::switch::GateStatus;
    use time::macros::datetime;

    let options = AppOptions {
        strategy: weighted(&[10, 100]),
        ..AppOptions::default()
    };
    let app = memory::provision("sw-window-steps", options);
    let mut input = release_input(&app.name, "v2");
    let holder = app.start_running_execution("e");
    input["execution"] = json!({"arn": holder});
    input["overrides"] = json!({"gates": {
        "approval": {},
        "window": {"time_zone": "UTC", "from": "09:00", "to": "10:00"}}});
    memory::try_hold_lock(&app, &holder).await;
    let noon = datetime!(2026-12-07 12:00 UTC);
    let first = switch_at(&app, &input, noon).await.expect("held");
    assert_eq!(first.gate, GateStatus::Approval, "a person decides first");
    input["switch"] = serde_json::to_value(&first).unwrap();
    input["approval"] = json!({"decision": "approved", "step": 0, "execution_arn": holder});
    let second = switch_at(&app, &input, noon).await.expect("held");
    assert_eq!(second.gate, GateStatus::Window, "approved, then the window");
    input["switch"] = serde_json::to_value(&second).unwrap();
    let nine = datetime!(2026-12-08 09:00 UTC);
    let step = switch_at(&app, &input, nine).await.expect("10%");
    assert_eq!((step.gate, step.weight), (GateStatus::Open, 10));
    input["switch"] = serde_json::to_value(&step).unwrap();
    // After the window closed, the next step goes on: a release never sits
    // half-moved until tomorrow's window.
    let evening = datetime!(2026-12-08 20:00 UTC);
    let last = switch_at(&app, &input, evening).await.expect("100%");
    assert_eq!((last.gate, last.weight), (GateStatus::Open, 100));
    assert_eq!(app.listener_split(), Split::all(Color::Green));
}
