//! The deploy-idle Lambda through its real entry function, on the in-memory
//! AWS: deploy, readiness check and scale-down. What the ECS adapter
//! registers is `deploy_idle_ecs.rs`'s, on the emulator.

use bluegreen_core::ports::{ContainerImage, Forward, RouteAction, Services, WeightedTarget};
use bluegreen_core::records::state::AppState;
use bluegreen_core::steps::deploy::DeployOutcome;
use bluegreen_core::steps::ready::Readiness;
use bluegreen_core::steps::scale_down::ScaleDownOutcome;
use bluegreen_core::{Color, Split};
use bluegreen_deploy_idle::DeployIdleResponse;
use bluegreen_e2e::memory::{self, AppOptions, MemoryApp};
use bluegreen_e2e::{TestApp, lambda_event, release_input};
use bluegreen_lambda::HandlerError;
use serde_json::{Value, json};

async fn call(app: &impl TestApp, doc: Value) -> Result<DeployIdleResponse, HandlerError> {
    bluegreen_deploy_idle::handler(&app.aws(), lambda_event(doc)).await
}

pub(crate) async fn deploy(app: &impl TestApp, doc: &Value) -> Result<DeployOutcome, HandlerError> {
    match call(app, doc.clone()).await? {
        DeployIdleResponse::Deployed(d) => Ok(d),
        other => panic!("expected a deploy outcome, got {other:?}"),
    }
}

async fn check(app: &MemoryApp, doc: &Value) -> Result<Readiness, HandlerError> {
    match call(app, json!({"phase": "check", "input": doc})).await? {
        DeployIdleResponse::Checked(r) => Ok(r),
        other => panic!("expected a readiness check, got {other:?}"),
    }
}

async fn scale_down(app: &MemoryApp, doc: &Value) -> ScaleDownOutcome {
    match call(app, json!({"phase": "scale-down", "input": doc}))
        .await
        .expect("scale-down")
    {
        DeployIdleResponse::ScaledDown(s) => s,
        other => panic!("expected a scale-down outcome, got {other:?}"),
    }
}

pub(crate) fn with_execution(mut doc: Value, arn: &str) -> Value {
    doc["execution"] = json!({"arn": arn});
    doc
}

#[tokio::test]
async fn a_given_task_definition_is_used_as_is() {
    let app = memory::provision("di-taskdef", AppOptions::default());
    let td = app.service_task_definition(Color::Blue);
    let revisions = app.task_definition_revisions();
    let mut doc = release_input(&app.name, "v2");
    doc["release"] = json!({"version": "v2", "task_definition": td});
    let out = deploy(&app, &doc).await.expect("deploy");
    assert_eq!(out.task_definition_arn, td);
    assert_eq!(app.task_definition_revisions(), revisions);
}

#[tokio::test]
async fn refuses_while_production_is_split_or_locked_and_changes_nothing() {
    let app = memory::provision("di-refuse", AppOptions::default());
    // Half-way through someone else's weighted release.
    let mut half = release_input(&app.name, "v2");
    half["overrides"] = json!({"strategy": {"type": "weighted", "steps": [50, 100]}});
    let holder = memory::manual_holder(&app, "v2");
    memory::hold_lock(&app, &holder).await;
    bluegreen_switch::handler(&app.ports(), lambda_event(half))
        .await
        .expect("switch");
    memory::release_lock(&app, &holder).await;
    let before = app.snapshot();
    let err = deploy(&app, &release_input(&app.name, "v3"))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "ProductionSplit");
    assert!(err.to_string().contains("blue 50% / green 50%"), "{err}");
    let locked = app.snapshot();
    assert_eq!(locked.routes, before.routes);

    let app = memory::provision("di-locked", AppOptions::default());
    let other = app.start_running_execution("other");
    deploy(
        &app,
        &with_execution(release_input(&app.name, "v2"), &other),
    )
    .await
    .expect("first");
    let before = app.snapshot();
    let revisions = app.task_definition_revisions();
    let mine = app.start_running_execution("mine");
    let err = deploy(&app, &with_execution(release_input(&app.name, "v3"), &mine))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "LockHeld");
    assert_eq!(app.snapshot(), before);
    assert_eq!(app.task_definition_revisions(), revisions);
}

#[tokio::test]
async fn a_release_already_live_is_not_deployed_again() {
    let app = memory::provision("di-live", AppOptions::default());
    let revisions = app.task_definition_revisions();
    let out = deploy(&app, &release_input(&app.name, "v1"))
        .await
        .expect("deploy");
    assert!(out.already_live && !out.changed);
    assert_eq!(app.task_definition_revisions(), revisions);
}

#[tokio::test]
async fn the_readiness_check_waits_for_healthy_targets_then_fails_past_its_deadline() {
    let options = AppOptions {
        healthy_green: false,
        ..AppOptions::default()
    };
    let app = memory::provision("di-ready", options);
    let mut doc = release_input(&app.name, "v2");
    let out = deploy(&app, &doc).await.expect("deploy");
    doc["deploy"] = serde_json::to_value(&out).unwrap();

    let r = check(&app, &doc).await.expect("check");
    assert!(!r.ready && r.on_release);
    assert_eq!(r.healthy_targets, 0);

    // Past the deadline, not ready is a failure that says why.
    let mut late = out.clone();
    late.started_at -= time::Duration::hours(1);
    let mut late_doc = doc.clone();
    late_doc["deploy"] = serde_json::to_value(&late).unwrap();
    let err = check(&app, &late_doc).await.unwrap_err();
    assert_eq!(err.error_type(), "IdleNotReady");
    assert!(
        err.to_string().contains("0 of 2 target(s) healthy"),
        "{err}"
    );

    app.set_healthy(Color::Green, true);
    assert!(check(&app, &doc).await.expect("check").ready);
}

#[tokio::test]
async fn scale_down_shrinks_the_old_color_unless_the_release_was_rolled_back() {
    let app = memory::provision("di-scale", AppOptions::default());
    let mut doc = release_input(&app.name, "v2");
    let out = deploy(&app, &doc).await.expect("deploy");
    doc["deploy"] = serde_json::to_value(&out).unwrap();
    bluegreen_switch::handler(&app.ports(), lambda_event(doc.clone()))
        .await
        .expect("switch");
    let holder = bluegreen_core::document::input::ExecutionInput::from_value(doc.clone())
        .unwrap()
        .lock_holder();
    memory::release_lock(&app, &holder).await;

    // A newer deployment holds the lock: hands off.
    let newer = app.start_running_execution("newer");
    deploy(
        &app,
        &with_execution(release_input(&app.name, "v3"), &newer),
    )
    .await
    .expect("v3");
    let s = scale_down(&app, &doc).await;
    assert!(
        !s.scaled && s.skipped.as_deref().unwrap().contains("newer deployment"),
        "{s:?}"
    );
    app.stop_execution(&newer);
    memory::release_lock(&app, &newer).await;

    let s = scale_down(&app, &doc).await;
    assert!(s.scaled, "{s:?}");
    assert_eq!((s.color, s.desired), (Color::Blue, 0));
    assert_eq!(app.desired_count(Color::Blue), 0);
    // Twice is fine.
    assert!(!scale_down(&app, &doc).await.scaled);

    // After a rollback the old color is live again: never scale it down.
    let app = memory::provision("di-scale-rb", AppOptions::default());
    let mut doc = release_input(&app.name, "v2");
    let out = deploy(&app, &doc).await.expect("deploy");
    doc["deploy"] = serde_json::to_value(&out).unwrap();
    let mut state: AppState = AppState::initial(Color::Blue, Some("v1".into()));
    state.previous_version = Some("v2".into());
    state.phase = bluegreen_core::records::state::Phase::RolledBack;
    state.switched_at = Some(time::OffsetDateTime::now_utc());
    app.put_state(&state);
    let s = scale_down(&app, &doc).await;
    assert!(
        !s.scaled
            && s.skipped
                .as_deref()
                .unwrap()
                .contains("has production traffic"),
        "{s:?}"
    );
    assert_eq!(app.desired_count(Color::Blue), 2);
    assert!(
        app.alerts().is_empty(),
        "no drift: the record says blue serves"
    );
}

/// On-call moved production back by hand during the warm window (the drift
/// the README describes): the warm window's scale-down must not shrink the
/// color that now serves, and must tell people instead of reporting success.
#[tokio::test]
async fn scale_down_never_shrinks_the_color_production_was_moved_back_to() {
    let app = memory::provision("di-scale-drift", AppOptions::default());
    let doc = live(&app, release_input(&app.name, "v2")).await;
    assert_eq!(app.listener_split(), Split::all(Color::Green));

    // On-call moves the listener back to blue by hand; the record still
    // says green v2 is live.
    app.move_production_by_hand(Color::Blue);
    let s = scale_down(&app, &doc).await;
    assert!(!s.scaled, "{s:?}");
    let why = s.skipped.as_deref().unwrap_or_default();
    assert!(
        why.contains("blue") && why.contains("100%"),
        "names the listener's side: {why}"
    );
    assert_eq!(
        app.desired_count(Color::Blue),
        2,
        "the serving color keeps its tasks"
    );
    assert_eq!(app.desired_count(Color::Green), 2, "nothing was changed");
    let alerts = app.alerts();
    assert_eq!(alerts.len(), 1, "people hear of the drift: {alerts:?}");
    assert!(
        alerts[0]["summary"]
            .as_str()
            .unwrap_or_default()
            .contains("did not scale"),
        "{alerts:?}"
    );
    assert!(app.parameter("lock").is_none(), "the lock is not kept");
}

/// Deploys `doc`'s release, switches all traffic to it and releases the
/// lock, as a finished execution leaves it; returns the document with the
/// deploy result.
pub(crate) async fn live(app: &impl TestApp, mut doc: Value) -> Value {
    let out = deploy(app, &doc).await.expect("deploy");
    doc["deploy"] = serde_json::to_value(&out).unwrap();
    bluegreen_switch::handler(&app.aws(), lambda_event(doc.clone()))
        .await
        .expect("switch");
    let holder = bluegreen_core::document::input::ExecutionInput::from_value(doc.clone())
        .unwrap()
        .lock_holder();
    bluegreen_e2e::give_lock_back(&app.aws(), app.app_name(), &holder).await;
    doc
}

#[tokio::test]
async fn bad_phase_or_input_changes_nothing() {
    let app = memory::provision("di-bad", AppOptions::default());
    let before = app.snapshot();
    let doc = release_input(&app.name, "v2");
    let err = call(&app, json!({"phase": "yolo", "input": doc.clone()}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("`phase`"), "{err}");
    let err = call(&app, json!({"phase": "check", "input": doc}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("`deploy`"), "{err}");
    let err = call(&app, release_input("ghost", "v2")).await.unwrap_err();
    assert_eq!(err.error_type(), "UnknownApp");
    assert_eq!(app.snapshot(), before);
}

#[tokio::test]
async fn a_deploy_interrupted_after_registering_reuses_its_revision() {
    let app = memory::provision("di-reuse", AppOptions::default());
    let green = app.service_task_definition(Color::Green);
    let revisions = app.task_definition_revisions();
    // A first try registered v2's revision, then stopped before the update.
    let registered = app
        .ports()
        .services
        .register_with_images(
            &green,
            &[ContainerImage {
                container: "app".into(),
                image: "example/di-reuse:v2".into(),
            }],
            None,
        )
        .await
        .expect("register");
    assert_eq!(app.task_definition_revisions(), revisions + 1);

    let doc = with_execution(
        release_input(&app.name, "v2"),
        &app.start_running_execution("v2"),
    );
    let out = deploy(&app, &doc).await.expect("deploy");
    assert_eq!(out.task_definition_arn, registered);
    assert_eq!(app.task_definition_revisions(), revisions + 1);
    assert_eq!(app.service_task_definition(Color::Green), registered);
}

/// A listener moved by hand to 1/999 still sends traffic to blue: deploy-idle
/// must not take blue for idle (weights are read exactly, never rounded).
#[tokio::test]
async fn a_color_with_any_weight_is_never_taken_for_idle() {
    let app = memory::provision("di-sliver", AppOptions::default());
    let forward = RouteAction::Forward {
        order: Some(1),
        forward: Forward {
            targets: vec![
                WeightedTarget {
                    target_group_arn: app.blue_tg.clone(),
                    weight: 1,
                },
                WeightedTarget {
                    target_group_arn: app.green_tg.clone(),
                    weight: 999,
                },
            ],
            stickiness_seconds: None,
        },
    };
    app.set_listener_default_actions(vec![forward]);
    let before = app.snapshot();
    let err = deploy(&app, &release_input(&app.name, "v2"))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "ProductionSplit", "{err}");
    assert!(
        err.to_string().contains("blue weight 1 / green weight 999"),
        "{err}"
    );
    let after = app.snapshot();
    assert_eq!(after.routes, before.routes);
}

/// An older execution's scale-down must not shrink the warm color of a newer
/// execution that put the same version live again.
#[tokio::test]
async fn scale_down_of_an_older_execution_leaves_a_newer_releases_warm_color() {
    let app = memory::provision("di-scale-older", AppOptions::default());
    let older = app.start_running_execution("older-v2");
    let mut doc = with_execution(release_input(&app.name, "v2"), &older);
    let out = deploy(&app, &doc).await.expect("deploy");
    doc["deploy"] = serde_json::to_value(&out).unwrap();
    // A newer execution of the same version went live since: the state names it.
    let mut state: AppState = app
        .stored_state()
        .unwrap_or_else(|| AppState::initial(Color::Blue, Some("v1".into())));
    state.active_color = Color::Green;
    state.previous_color = Color::Blue;
    state.active_version = Some("v2".into());
    state.previous_version = Some("v1".into());
    state.previous_color_replaced_by = None;
    state.weights = Split::all(Color::Green);
    state.last_execution_arn =
        Some("arn:aws:states:us-east-1:123456789012:execution:bluegreen:newer".into());
    app.put_state(&state);
    app.move_production_by_hand(Color::Green);
    memory::release_lock(&app, &older).await;
    let desired = app.desired_count(Color::Blue);
    let s = scale_down(&app, &doc).await;
    assert!(!s.scaled, "{s:?}");
    assert!(
        s.skipped
            .as_deref()
            .unwrap()
            .contains("no longer the live one"),
        "{s:?}"
    );
    assert_eq!(app.desired_count(Color::Blue), desired);
}

/// The deployer of one app must not run another app's task definition (its
/// roles, its secrets) behind this app's load balancer.
#[tokio::test]
async fn a_task_definition_of_another_family_is_refused_before_anything_changes() {
    let app = memory::provision("di-family", AppOptions::default());
    let other = memory::provision("di-family-other", AppOptions::default());
    let foreign = other.service_task_definition(Color::Blue);
    let before = app.snapshot();
    let revisions = app.task_definition_revisions();
    let mut doc = release_input(&app.name, "v2");
    doc["release"] = json!({"version": "v2", "task_definition": foreign});
    let err = deploy(&app, &doc).await.unwrap_err();
    assert_eq!(err.error_type(), "BadInput", "{err}");
    assert!(
        err.to_string().contains("`release.task_definition`"),
        "{err}"
    );
    assert!(err.to_string().contains("is not this app's"), "{err}");
    assert_eq!(app.snapshot(), before);
    assert_eq!(app.task_definition_revisions(), revisions);
}

/// A release left half-way (its execution stopped at 50/50 and nothing
/// rolled it back: the reaction to its end was refused, say) is picked up
/// by a rerun of the same release, instead of being refused as
/// `ProductionSplit`: nothing is redeployed, and the switch goes through
/// the steps again (issue 17, defect 15).
#[tokio::test]
async fn a_rerun_of_a_release_left_split_picks_it_up() {
    let app = memory::provision("di-resume", AppOptions::default());
    let strategy = json!({"strategy": {"type": "weighted", "steps": [50, 100]}});
    let first = app.start_running_execution("first-v2");
    let mut doc = with_execution(release_input(&app.name, "v2"), &first);
    doc["overrides"] = strategy.clone();
    doc["deploy"] = serde_json::to_value(deploy(&app, &doc).await.expect("deploy")).unwrap();
    bluegreen_switch::handler(&app.ports(), lambda_event(doc))
        .await
        .expect("50%");
    // Stopped there; its lock given back; production left split.
    memory::release_lock(&app, &first).await;
    let green_runs = app.snapshot();
    let revisions = app.task_definition_revisions();

    let rerun = app.start_running_execution("rerun-v2");
    let mut doc = with_execution(release_input(&app.name, "v2"), &rerun);
    doc["overrides"] = strategy;
    let out = deploy(&app, &doc)
        .await
        .expect("before: refused with ProductionSplit");
    assert_eq!(
        (out.idle_color, out.changed),
        (Color::Green, false),
        "{out:?}"
    );
    assert_eq!(
        app.task_definition_revisions(),
        revisions,
        "nothing registered"
    );
    assert_eq!(app.snapshot().routes, green_runs.routes);
    assert_eq!(app.listener_split(), Split::with(Color::Green, 50));

    doc["deploy"] = serde_json::to_value(&out).unwrap();
    for _ in 0..2 {
        let step = bluegreen_switch::handler(&app.ports(), lambda_event(doc.clone()))
            .await
            .expect("switch");
        doc["switch"] = serde_json::to_value(&step).unwrap();
    }
    assert_eq!(app.listener_split(), Split::all(Color::Green));
    app.assert_state_matches_listener();
}

/// The old color's target group drains a deregistered target for longer
/// than the app's warm window: the warm window the state machine waits
/// (`$.deploy.warm_window_seconds`) is stretched to that delay, read from
/// the target group, so scale-down cuts no request still in flight.
#[tokio::test]
async fn the_warm_window_lasts_at_least_the_old_colors_deregistration_delay() {
    let app = memory::provision(
        "di-drain",
        AppOptions {
            warm_window_seconds: 60,
            ..AppOptions::default()
        },
    );
    let blue = app.target_group(Color::Blue).to_string();
    app.world().deregistration_delay.insert(blue, 300);
    let out = deploy(&app, &release_input(&app.name, "v2"))
        .await
        .expect("deploy");
    assert_eq!(out.idle_color, Color::Green);
    assert_eq!(out.warm_window_seconds, 300, "blue drains for 300 s");

    // A delay shorter than the warm window changes nothing.
    let app = memory::provision(
        "di-drain-short",
        AppOptions {
            warm_window_seconds: 60,
            ..AppOptions::default()
        },
    );
    let blue = app.target_group(Color::Blue).to_string();
    app.world().deregistration_delay.insert(blue, 30);
    let out = deploy(&app, &release_input(&app.name, "v2"))
        .await
        .expect("deploy");
    assert_eq!(out.warm_window_seconds, 60);
}
