//! The deploy-idle Lambda against the emulator: deploy, readiness check and
//! scale-down, through its real entry function.

use bluegreen_core::ports::Services;
use bluegreen_core::records::state::AppState;
use bluegreen_core::steps::deploy::DeployOutcome;
use bluegreen_core::steps::ready::Readiness;
use bluegreen_core::steps::scale_down::ScaleDownOutcome;
use bluegreen_core::{Color, Split};
use bluegreen_deploy_idle::DeployIdleResponse;
use bluegreen_e2e::{AppOptions, ExampleApp, lambda_event, release_input};
use bluegreen_lambda::HandlerError;
use serde_json::{Value, json};

async fn call(app: &ExampleApp, doc: Value) -> Result<DeployIdleResponse, HandlerError> {
    bluegreen_deploy_idle::handler(&app.ports(), lambda_event(doc)).await
}

async fn deploy(app: &ExampleApp, doc: &Value) -> Result<DeployOutcome, HandlerError> {
    match call(app, doc.clone()).await? {
        DeployIdleResponse::Deployed(d) => Ok(d),
        other => panic!("expected a deploy outcome, got {other:?}"),
    }
}

async fn check(app: &ExampleApp, doc: &Value) -> Result<Readiness, HandlerError> {
    match call(app, json!({"phase": "check", "input": doc})).await? {
        DeployIdleResponse::Checked(r) => Ok(r),
        other => panic!("expected a readiness check, got {other:?}"),
    }
}

async fn scale_down(app: &ExampleApp, doc: &Value) -> ScaleDownOutcome {
    match call(app, json!({"phase": "scale-down", "input": doc}))
        .await
        .expect("scale-down")
    {
        DeployIdleResponse::ScaledDown(s) => s,
        other => panic!("expected a scale-down outcome, got {other:?}"),
    }
}

fn with_execution(mut doc: Value, arn: &str) -> Value {
    doc["execution"] = json!({"arn": arn});
    doc
}

#[tokio::test]
async fn registers_the_new_image_on_the_idle_color_and_a_rerun_registers_nothing() {
    let app = bluegreen_e2e::provision("di-deploy", AppOptions::default()).await;
    app.set_desired_count(Color::Blue, 3).await;
    app.set_desired_count(Color::Green, 0).await;
    let old_td_arn = app.service_task_definition(Color::Green).await;
    let revisions = app.task_definition_revisions().await;
    let doc = with_execution(
        release_input(&app.name, "v2"),
        &app.start_running_execution("v2").await,
    );

    let out = deploy(&app, &doc).await.expect("deploy");
    assert_eq!(out.idle_color, Color::Green);
    assert!(out.changed && !out.already_live);
    assert_eq!(out.desired_count, 3, "sized like the active service");
    assert_eq!(app.desired_count(Color::Green).await, 3);
    assert_eq!(
        app.service_task_definition(Color::Green).await,
        out.task_definition_arn
    );
    assert_eq!(app.task_definition_revisions().await, revisions + 1);
    assert_eq!(app.test_route_split().await, Split::all(Color::Green));
    assert_eq!(
        app.listener_split().await,
        Split::all(Color::Blue),
        "production untouched"
    );
    assert!(app.parameter("lock").await.is_some(), "lock taken");

    // The new revision differs from the old in the image and nothing else.
    let old = app.task_definition(&old_td_arn).await;
    let new = app.task_definition(&out.task_definition_arn).await;
    assert_eq!(
        new.container_definitions()[0].image.as_deref(),
        Some("example/di-deploy:v2")
    );
    let mut new_container = new.container_definitions()[0].clone();
    new_container.image = old.container_definitions()[0].image.clone();
    assert_eq!(new_container, old.container_definitions()[0]);
    assert_eq!(new.family, old.family);
    assert_eq!(
        (new.cpu.clone(), new.memory.clone()),
        (old.cpu.clone(), old.memory.clone())
    );
    assert_eq!(new.network_mode, old.network_mode);
    assert_eq!(new.execution_role_arn, old.execution_role_arn);
    assert_eq!(new.requires_compatibilities, old.requires_compatibilities);
    assert_eq!(
        app.task_definition_tags(&out.task_definition_arn).await,
        [("team".to_string(), "payments".to_string())],
        "tags carried over"
    );
    assert_eq!(
        app.task_definition_tags(&out.task_definition_arn).await,
        app.task_definition_tags(&old_td_arn).await
    );

    // Same input again: nothing new registered, nothing changed.
    let before = app.snapshot().await;
    let again = deploy(&app, &doc).await.expect("rerun");
    assert!(!again.changed);
    assert_eq!(again.task_definition_arn, out.task_definition_arn);
    assert_eq!(app.task_definition_revisions().await, revisions + 1);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_given_task_definition_is_used_as_is() {
    let app = bluegreen_e2e::provision("di-taskdef", AppOptions::default()).await;
    let td = app.service_task_definition(Color::Blue).await;
    let revisions = app.task_definition_revisions().await;
    let mut doc = release_input(&app.name, "v2");
    doc["release"] = json!({"version": "v2", "task_definition": td});
    let out = deploy(&app, &doc).await.expect("deploy");
    assert_eq!(out.task_definition_arn, td);
    assert_eq!(app.task_definition_revisions().await, revisions);
}

/// A release shipped as a task definition (a new environment variable, more
/// CPU) goes live; the next image-only release must start from what
/// production runs now, not from the idle color's older revision.
#[tokio::test]
async fn an_image_release_starts_from_the_task_definition_production_runs() {
    let app = bluegreen_e2e::provision("di-td-then-image", AppOptions::default()).await;
    let v1 = app
        .task_definition(&app.service_task_definition(Color::Blue).await)
        .await;
    let mut container = v1.container_definitions()[0].clone();
    container.image = Some("example/di-td-then-image:v2".into());
    container.environment.get_or_insert_with(Vec::new).push(
        aws_sdk_ecs::types::KeyValuePair::builder()
            .name("FEATURE_FLAGS")
            .value("checkout-v2")
            .build(),
    );
    let v2_td = app
        .ecs
        .register_task_definition()
        .set_family(v1.family.clone())
        .set_network_mode(v1.network_mode.clone())
        .set_requires_compatibilities(v1.requires_compatibilities.clone())
        .cpu("512")
        .set_memory(v1.memory.clone())
        .set_execution_role_arn(v1.execution_role_arn.clone())
        .container_definitions(container)
        .send()
        .await
        .unwrap()
        .task_definition
        .unwrap()
        .task_definition_arn
        .unwrap();

    // v2 goes live on green as a task definition.
    let mut doc = release_input(&app.name, "v2");
    doc["release"] = json!({"version": "v2", "task_definition": v2_td});
    live(&app, doc).await;

    // v3 is an image only: it goes to blue, which still runs v1's revision.
    let v3 = deploy(&app, &release_input(&app.name, "v3"))
        .await
        .expect("deploy v3");
    assert_eq!(v3.idle_color, Color::Blue);
    let td = app.task_definition(&v3.task_definition_arn).await;
    let c = &td.container_definitions()[0];
    assert_eq!(c.image.as_deref(), Some("example/di-td-then-image:v3"));
    let env: Vec<_> = c
        .environment()
        .iter()
        .map(|kv| {
            (
                kv.name().unwrap_or_default(),
                kv.value().unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        env.contains(&("FEATURE_FLAGS", "checkout-v2")),
        "v2's environment is kept: {env:?}"
    );
    assert_eq!(td.cpu(), Some("512"), "v2's CPU is kept");
}

#[tokio::test]
async fn refuses_while_production_is_split_or_locked_and_changes_nothing() {
    let app = bluegreen_e2e::provision("di-refuse", AppOptions::default()).await;
    // Half-way through someone else's weighted release.
    let mut half = release_input(&app.name, "v2");
    half["overrides"] = json!({"strategy": {"type": "weighted", "steps": [50, 100]}});
    let holder = bluegreen_e2e::manual_holder(&app, "v2");
    bluegreen_e2e::hold_lock(&app, &holder).await;
    bluegreen_switch::handler(&app.ports(), lambda_event(half))
        .await
        .expect("switch");
    bluegreen_e2e::release_lock(&app, &holder).await;
    let before = app.snapshot().await;
    let err = deploy(&app, &release_input(&app.name, "v3"))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "ProductionSplit");
    assert!(err.to_string().contains("blue 50% / green 50%"), "{err}");
    let locked = app.snapshot().await;
    assert_eq!(locked.listener_default, before.listener_default);

    let app = bluegreen_e2e::provision("di-locked", AppOptions::default()).await;
    let other = app.start_running_execution("other").await;
    deploy(
        &app,
        &with_execution(release_input(&app.name, "v2"), &other),
    )
    .await
    .expect("first");
    let before = app.snapshot().await;
    let revisions = app.task_definition_revisions().await;
    let mine = app.start_running_execution("mine").await;
    let err = deploy(&app, &with_execution(release_input(&app.name, "v3"), &mine))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "LockHeld");
    assert_eq!(app.snapshot().await, before);
    assert_eq!(app.task_definition_revisions().await, revisions);
}

#[tokio::test]
async fn a_release_already_live_is_not_deployed_again() {
    let app = bluegreen_e2e::provision("di-live", AppOptions::default()).await;
    let revisions = app.task_definition_revisions().await;
    let out = deploy(&app, &release_input(&app.name, "v1"))
        .await
        .expect("deploy");
    assert!(out.already_live && !out.changed);
    assert_eq!(app.task_definition_revisions().await, revisions);
}

#[tokio::test]
async fn the_readiness_check_waits_for_healthy_targets_then_fails_past_its_deadline() {
    let options = AppOptions {
        healthy_green: false,
        ..AppOptions::default()
    };
    let app = bluegreen_e2e::provision("di-ready", options).await;
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

    app.set_healthy(Color::Green, true).await;
    assert!(check(&app, &doc).await.expect("check").ready);
}

#[tokio::test]
async fn scale_down_shrinks_the_old_color_unless_the_release_was_rolled_back() {
    let app = bluegreen_e2e::provision("di-scale", AppOptions::default()).await;
    let mut doc = release_input(&app.name, "v2");
    let out = deploy(&app, &doc).await.expect("deploy");
    doc["deploy"] = serde_json::to_value(&out).unwrap();
    bluegreen_switch::handler(&app.ports(), lambda_event(doc.clone()))
        .await
        .expect("switch");
    let holder = bluegreen_core::document::input::ExecutionInput::from_value(doc.clone())
        .unwrap()
        .lock_holder();
    let ports = app.ports();
    bluegreen_core::records::store::AppStore::new(&ports.params, bluegreen_e2e::PREFIX)
        .unwrap()
        .release_lock(&app.name, &holder)
        .await
        .unwrap();

    // A newer deployment holds the lock: hands off.
    let newer = app.start_running_execution("newer").await;
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
    app.sfn
        .stop_execution()
        .execution_arn(&newer)
        .send()
        .await
        .unwrap();
    ports_release(&app, &newer).await;

    let s = scale_down(&app, &doc).await;
    assert!(s.scaled, "{s:?}");
    assert_eq!((s.color, s.desired), (Color::Blue, 0));
    assert_eq!(app.desired_count(Color::Blue).await, 0);
    // Twice is fine.
    assert!(!scale_down(&app, &doc).await.scaled);

    // After a rollback the old color is live again: never scale it down.
    let app = bluegreen_e2e::provision("di-scale-rb", AppOptions::default()).await;
    let mut doc = release_input(&app.name, "v2");
    let out = deploy(&app, &doc).await.expect("deploy");
    doc["deploy"] = serde_json::to_value(&out).unwrap();
    let mut state: AppState = AppState::initial(Color::Blue, Some("v1".into()));
    state.previous_version = Some("v2".into());
    state.phase = bluegreen_core::records::state::Phase::RolledBack;
    state.switched_at = Some(time::OffsetDateTime::now_utc());
    app.put_state(&state).await;
    let s = scale_down(&app, &doc).await;
    assert!(
        !s.scaled
            && s.skipped
                .as_deref()
                .unwrap()
                .contains("has production traffic"),
        "{s:?}"
    );
    assert_eq!(app.desired_count(Color::Blue).await, 2);
    assert!(
        app.alerts().await.is_empty(),
        "no drift: the record says blue serves"
    );
}

/// On-call moved production back by hand during the warm window (the drift
/// the README describes): the warm window's scale-down must not shrink the
/// color that now serves, and must tell people instead of reporting success.
#[tokio::test]
async fn scale_down_never_shrinks_the_color_production_was_moved_back_to() {
    let app = bluegreen_e2e::provision("di-scale-drift", AppOptions::default()).await;
    let doc = live(&app, release_input(&app.name, "v2")).await;
    assert_eq!(app.listener_split().await, Split::all(Color::Green));

    // On-call moves the listener back to blue by hand; the record still
    // says green v2 is live.
    app.move_production_by_hand(Color::Blue).await;
    let s = scale_down(&app, &doc).await;
    assert!(!s.scaled, "{s:?}");
    let why = s.skipped.as_deref().unwrap_or_default();
    assert!(
        why.contains("blue") && why.contains("100%"),
        "names the listener's side: {why}"
    );
    assert_eq!(
        app.desired_count(Color::Blue).await,
        2,
        "the serving color keeps its tasks"
    );
    assert_eq!(
        app.desired_count(Color::Green).await,
        2,
        "nothing was changed"
    );
    let alerts = app.alerts().await;
    assert_eq!(alerts.len(), 1, "people hear of the drift: {alerts:?}");
    assert!(
        alerts[0]["summary"]
            .as_str()
            .unwrap_or_default()
            .contains("did not scale"),
        "{alerts:?}"
    );
    assert!(
        app.parameter("lock").await.is_none(),
        "the lock is not kept"
    );
}

/// Deploys `doc`'s release, switches all traffic to it and releases the
/// lock, as a finished execution leaves it; returns the document with the
/// deploy result.
async fn live(app: &ExampleApp, mut doc: Value) -> Value {
    let out = deploy(app, &doc).await.expect("deploy");
    doc["deploy"] = serde_json::to_value(&out).unwrap();
    bluegreen_switch::handler(&app.ports(), lambda_event(doc.clone()))
        .await
        .expect("switch");
    let holder = bluegreen_core::document::input::ExecutionInput::from_value(doc.clone())
        .unwrap()
        .lock_holder();
    ports_release(app, &holder).await;
    doc
}

async fn ports_release(app: &ExampleApp, holder: &str) {
    let ports = app.ports();
    bluegreen_core::records::store::AppStore::new(&ports.params, bluegreen_e2e::PREFIX)
        .unwrap()
        .release_lock(&app.name, holder)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_task_definition_with_several_containers_needs_the_config_to_name_one() {
    let app = bluegreen_e2e::provision("di-multi", AppOptions::default()).await;
    let td = app
        .ecs
        .register_task_definition()
        .family("di-multi")
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("app")
                .image("a:1")
                .memory(256)
                .build(),
        )
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("envoy")
                .image("envoy:1")
                .memory(128)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .task_definition
        .unwrap()
        .task_definition_arn
        .unwrap();
    // Production runs it: a release starts from what production runs.
    app.ecs
        .update_service()
        .cluster(&app.cluster)
        .service(app.service(Color::Blue))
        .task_definition(&td)
        .send()
        .await
        .unwrap();
    let err = deploy(&app, &release_input(&app.name, "v2"))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "BadInput");
    assert!(
        err.to_string().contains("`container`") && err.to_string().contains("app, envoy"),
        "{err}"
    );
}

#[tokio::test]
async fn bad_phase_or_input_changes_nothing() {
    let app = bluegreen_e2e::provision("di-bad", AppOptions::default()).await;
    let before = app.snapshot().await;
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
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_deploy_interrupted_after_registering_reuses_its_revision() {
    let app = bluegreen_e2e::provision("di-reuse", AppOptions::default()).await;
    let green = app.service_task_definition(Color::Green).await;
    let revisions = app.task_definition_revisions().await;
    // A first try registered v2's revision, then stopped before the update.
    let registered = app
        .ports()
        .services
        .register_with_image(&green, "app", "example/di-reuse:v2")
        .await
        .expect("register");
    assert_eq!(app.task_definition_revisions().await, revisions + 1);

    let doc = with_execution(
        release_input(&app.name, "v2"),
        &app.start_running_execution("v2").await,
    );
    let out = deploy(&app, &doc).await.expect("deploy");
    assert_eq!(out.task_definition_arn, registered);
    assert_eq!(app.task_definition_revisions().await, revisions + 1);
    assert_eq!(app.service_task_definition(Color::Green).await, registered);
}

/// A listener moved by hand to 1/999 still sends traffic to blue: deploy-idle
/// must not take blue for idle (weights are read exactly, never rounded).
#[tokio::test]
async fn a_color_with_any_weight_is_never_taken_for_idle() {
    use aws_sdk_elasticloadbalancingv2::types::{
        Action, ActionTypeEnum, ForwardActionConfig, TargetGroupTuple,
    };
    let app = bluegreen_e2e::provision("di-sliver", AppOptions::default()).await;
    let tuple = |tg: &str, w: i32| {
        TargetGroupTuple::builder()
            .target_group_arn(tg)
            .weight(w)
            .build()
    };
    let forward = Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .forward_config(
            ForwardActionConfig::builder()
                .target_groups(tuple(&app.blue_tg, 1))
                .target_groups(tuple(&app.green_tg, 999))
                .build(),
        )
        .build();
    app.set_listener_default_actions(vec![forward]).await;
    let before = app.snapshot().await;
    let err = deploy(&app, &release_input(&app.name, "v2"))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "ProductionSplit", "{err}");
    assert!(
        err.to_string().contains("blue weight 1 / green weight 999"),
        "{err}"
    );
    let after = app.snapshot().await;
    assert_eq!(after.listener_default, before.listener_default);
}

/// An older execution's scale-down must not shrink the warm color of a newer
/// execution that put the same version live again.
#[tokio::test]
async fn scale_down_of_an_older_execution_leaves_a_newer_releases_warm_color() {
    let app = bluegreen_e2e::provision("di-scale-older", AppOptions::default()).await;
    let older = app.start_running_execution("older-v2").await;
    let mut doc = with_execution(release_input(&app.name, "v2"), &older);
    let out = deploy(&app, &doc).await.expect("deploy");
    doc["deploy"] = serde_json::to_value(&out).unwrap();
    // A newer execution of the same version went live since: the state names it.
    let mut state: AppState = app
        .stored_state()
        .await
        .unwrap_or_else(|| AppState::initial(Color::Blue, Some("v1".into())));
    state.active_color = Color::Green;
    state.previous_color = Color::Blue;
    state.active_version = Some("v2".into());
    state.previous_version = Some("v1".into());
    state.previous_color_replaced_by = None;
    state.weights = Split::all(Color::Green);
    state.last_execution_arn =
        Some("arn:aws:states:us-east-1:123456789012:execution:bluegreen:newer".into());
    app.put_state(&state).await;
    app.move_production_by_hand(Color::Green).await;
    ports_release(&app, &older).await;
    let desired = app.desired_count(Color::Blue).await;
    let s = scale_down(&app, &doc).await;
    assert!(!s.scaled, "{s:?}");
    assert!(
        s.skipped
            .as_deref()
            .unwrap()
            .contains("no longer the live one"),
        "{s:?}"
    );
    assert_eq!(app.desired_count(Color::Blue).await, desired);
}

/// The deployer of one app must not run another app's task definition (its
/// roles, its secrets) behind this app's load balancer.
#[tokio::test]
async fn a_task_definition_of_another_family_is_refused_before_anything_changes() {
    let app = bluegreen_e2e::provision("di-family", AppOptions::default()).await;
    let other = bluegreen_e2e::provision("di-family-other", AppOptions::default()).await;
    let foreign = other.service_task_definition(Color::Blue).await;
    let before = app.snapshot().await;
    let revisions = app.task_definition_revisions().await;
    let mut doc = release_input(&app.name, "v2");
    doc["release"] = json!({"version": "v2", "task_definition": foreign});
    let err = deploy(&app, &doc).await.unwrap_err();
    assert_eq!(err.error_type(), "BadInput", "{err}");
    assert!(
        err.to_string().contains("`release.task_definition`"),
        "{err}"
    );
    assert!(err.to_string().contains("is not this app's"), "{err}");
    assert_eq!(app.snapshot().await, before);
    assert_eq!(app.task_definition_revisions().await, revisions);
}

/// A release left half-way (its execution stopped at 50/50 and nothing
/// rolled it back: the reaction to its end was refused, say) is picked up
/// by a rerun of the same release, instead of being refused as
/// `ProductionSplit`: nothing is redeployed, and the switch goes through
/// the steps again (issue 17, defect 15).
#[tokio::test]
async fn a_rerun_of_a_release_left_split_picks_it_up() {
    let app = bluegreen_e2e::provision("di-resume", AppOptions::default()).await;
    let strategy = json!({"strategy": {"type": "weighted", "steps": [50, 100]}});
    let first = app.start_running_execution("first-v2").await;
    let mut doc = with_execution(release_input(&app.name, "v2"), &first);
    doc["overrides"] = strategy.clone();
    doc["deploy"] = serde_json::to_value(deploy(&app, &doc).await.expect("deploy")).unwrap();
    bluegreen_switch::handler(&app.ports(), lambda_event(doc))
        .await
        .expect("50%");
    // Stopped there; its lock given back; production left split.
    bluegreen_e2e::release_lock(&app, &first).await;
    let green_runs = app.snapshot().await;
    let revisions = app.task_definition_revisions().await;

    let rerun = app.start_running_execution("rerun-v2").await;
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
        app.task_definition_revisions().await,
        revisions,
        "nothing registered"
    );
    assert_eq!(
        app.snapshot().await.listener_default,
        green_runs.listener_default
    );
    assert_eq!(app.listener_split().await, Split::with(Color::Green, 50));

    doc["deploy"] = serde_json::to_value(&out).unwrap();
    for _ in 0..2 {
        let step = bluegreen_switch::handler(&app.ports(), lambda_event(doc.clone()))
            .await
            .expect("switch");
        doc["switch"] = serde_json::to_value(&step).unwrap();
    }
    assert_eq!(app.listener_split().await, Split::all(Color::Green));
    app.assert_state_matches_listener().await;
}
