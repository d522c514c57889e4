//! Services that autoscale, against the emulator's Application Auto Scaling:
//! the scalable targets' min/max held while a color is idle during a
//! release, handed over at the switch, lowered at scale-down, restored on
//! abort and rollback — through the Lambdas' entry functions and through the
//! real state machine.

use std::time::Duration;

use aws_sdk_applicationautoscaling::Client;
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
use bluegreen_action::timeline::{Ending, follow};
use bluegreen_core::steps::deploy::DeployOutcome;
use bluegreen_core::{Color, Split};
use bluegreen_deploy_idle::DeployIdleResponse;
use bluegreen_e2e::{AppOptions, ExampleApp, lambda_event, release_input, sns_event};
use bluegreen_lambda::HandlerError;
use bluegreen_local::Local;
use serde_json::{Value, json};

fn autoscaling() -> AppOptions {
    AppOptions {
        extra_config: json!({"autoscaling": true}),
        ..AppOptions::default()
    }
}

fn resource_id(app: &ExampleApp, color: Color) -> String {
    let service = app.config[color.to_string()]["service"].as_str().unwrap();
    format!("service/{}/{service}", app.cluster)
}

/// Registers (or updates) `color`'s scalable target, as the team's IaC does.
async fn register(app: &ExampleApp, color: Color, min: i32, max: i32) {
    Client::new(&app.sdk)
        .register_scalable_target()
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .resource_id(resource_id(app, color))
        .min_capacity(min)
        .max_capacity(max)
        .send()
        .await
        .expect("register scalable target");
}

/// `color`'s scalable target's (min, max), as Application Auto Scaling says.
async fn bounds(app: &ExampleApp, color: Color) -> (i32, i32) {
    let out = Client::new(&app.sdk)
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_ids(resource_id(app, color))
        .send()
        .await
        .expect("describe scalable targets");
    let t = &out.scalable_targets()[0];
    (t.min_capacity(), t.max_capacity())
}

async fn both(app: &ExampleApp) -> [(i32, i32); 2] {
    [
        bounds(app, Color::Blue).await,
        bounds(app, Color::Green).await,
    ]
}

async fn deploy_idle(app: &ExampleApp, event: Value) -> Result<DeployIdleResponse, HandlerError> {
    bluegreen_deploy_idle::handler(&app.ports(), lambda_event(event)).await
}

/// deploy-idle's deploy phase for v2 as execution `arn`; returns the document
/// with its result under `deploy`, as the state machine keeps it.
async fn deployed(app: &ExampleApp, arn: &str) -> Value {
    let mut doc = release_input(&app.name, "v2");
    doc["execution"] = json!({"arn": arn});
    let out: DeployOutcome = match deploy_idle(app, doc.clone()).await.expect("deploy") {
        DeployIdleResponse::Deployed(d) => d,
        other => panic!("expected a deploy outcome, got {other:?}"),
    };
    doc["deploy"] = serde_json::to_value(out).unwrap();
    doc
}

/// Blue serves with 2 tasks and min 1 / max 10; green idles at min 0 / max 8.
async fn provisioned(name: &str) -> ExampleApp {
    let app = bluegreen_e2e::provision(name, autoscaling()).await;
    register(&app, Color::Blue, 1, 10).await;
    register(&app, Color::Green, 0, 8).await;
    app
}

#[tokio::test]
async fn the_idle_colors_minimum_is_held_during_a_release_and_restored_on_abort() {
    let app = provisioned("as-abort").await;
    let arn = app.start_running_execution("v2").await;
    let doc = deployed(&app, &arn).await;
    assert_eq!(app.desired_count(Color::Green).await, 2);
    assert_eq!(
        both(&app).await,
        [(2, 10), (2, 8)],
        "each color held at the count the release needs of it: green at blue's 2 tasks, \
         blue at its own (its policies must not scale it in while it may take traffic back)"
    );
    // A rerun of the deploy keeps the bounds from before the first attempt.
    deployed(&app, &arn).await;
    let record: Value =
        serde_json::from_str(&app.parameter("scaling").await.expect("scaling record").0).unwrap();
    assert_eq!(
        (&record["serving"], &record["idle"], &record["idle_color"]),
        (
            &json!({"min": 1, "max": 10}),
            &json!({"min": 0, "max": 8}),
            &json!("green")
        )
    );

    // The smoke tests fail: the state machine's Abort state.
    let out = deploy_idle(&app, json!({"phase": "abort", "input": doc}))
        .await
        .expect("abort");
    let DeployIdleResponse::Aborted(aborted) = out else {
        panic!("expected an abort, got {out:?}");
    };
    assert!(aborted.released && aborted.scaling_restored, "{aborted:?}");
    assert_eq!(both(&app).await, [(1, 10), (0, 8)], "restored");
    assert!(app.parameter("lock").await.is_none());
    assert_eq!(app.listener_split().await, Split::all(Color::Blue));
}

#[tokio::test]
async fn the_new_color_takes_the_serving_bounds_at_the_switch_and_a_rollback_gives_them_back() {
    let app = provisioned("as-rollback").await;
    let arn = app.start_running_execution("v2").await;
    let mut doc = deployed(&app, &arn).await;
    let out = bluegreen_switch::handler(&app.ports(), lambda_event(doc.clone()))
        .await
        .expect("switch");
    assert!(out.done);
    assert_eq!(
        both(&app).await,
        [(2, 10), (1, 10)],
        "green serves with blue's bounds; blue stays held at its 2 tasks through the warm window"
    );
    // A rerun of the last step changes nothing.
    doc["switch"] = serde_json::to_value(&out).unwrap();
    bluegreen_switch::handler(&app.ports(), lambda_event(doc.clone()))
        .await
        .expect("switch rerun");
    assert_eq!(both(&app).await, [(2, 10), (1, 10)]);
    bluegreen_e2e::release_lock(&app, &arn).await;

    let message = json!({"app": app.name, "reason": "checkout errors"}).to_string();
    bluegreen_rollback::handler(&app.ports(), lambda_event(sns_event(&message)))
        .await
        .expect("rollback");
    assert_eq!(app.listener_split().await, Split::all(Color::Blue));
    assert_eq!(
        both(&app).await,
        [(1, 10), (0, 8)],
        "blue serves with its bounds again; green idles with its own"
    );
    // Pressing the button twice changes nothing.
    bluegreen_rollback::handler(&app.ports(), lambda_event(sns_event(&message)))
        .await
        .expect("rollback again");
    assert_eq!(both(&app).await, [(1, 10), (0, 8)]);
}

/// v2 released to green by an execution that finished; weeks later the
/// team sets green's (production's) bounds to `min`..`max`, then on-call
/// presses the button (`presses` times). Returns both colors' bounds after.
async fn rolled_back_weeks_later(
    name: &str,
    min: i32,
    max: i32,
    presses: usize,
) -> [(i32, i32); 2] {
    let app = provisioned(name).await;
    let arn = app.start_running_execution("v2").await;
    let doc = deployed(&app, &arn).await;
    let out = bluegreen_switch::handler(&app.ports(), lambda_event(doc))
        .await
        .expect("switch");
    assert!(out.done);
    bluegreen_e2e::release_lock(&app, &arn).await;
    register(&app, Color::Green, min, max).await;

    let message = json!({"app": app.name, "reason": "checkout errors"}).to_string();
    let mut after = Vec::new();
    for _ in 0..presses {
        bluegreen_rollback::handler(&app.ports(), lambda_event(sns_event(&message)))
            .await
            .expect("rollback");
        assert_eq!(app.listener_split().await, Split::all(Color::Blue));
        after.push(both(&app).await);
    }
    assert!(
        after.windows(2).all(|w| w[0] == w[1]),
        "pressing the button again changes nothing: {after:?}"
    );
    after[0]
}

#[tokio::test]
async fn a_rollback_weeks_later_never_caps_production_below_the_maximum_set_since() {
    // The team's IaC raised production's maximum for the season.
    assert_eq!(
        rolled_back_weeks_later("as-weeks-later", 1, 30, 2).await,
        [(1, 30), (0, 8)],
        "blue takes production back with the recorded serving minimum and the maximum \
         production had (the record's max 10, from before the release, would cap it); \
         green idles with the recorded idle bounds"
    );
}

#[tokio::test]
async fn an_abort_after_production_was_moved_by_hand_never_lowers_the_serving_colors_minimum() {
    let app = provisioned("as-abort-moved").await;
    let arn = app.start_running_execution("v2").await;
    let doc = deployed(&app, &arn).await;
    assert_eq!(both(&app).await, [(2, 10), (2, 8)]);
    // On-call moves production onto green by hand while the smoke tests run.
    app.move_production_by_hand(Color::Green).await;

    let out = deploy_idle(&app, json!({"phase": "abort", "input": doc}))
        .await
        .expect("abort");
    let DeployIdleResponse::Aborted(aborted) = out else {
        panic!("expected an abort, got {out:?}");
    };
    assert!(aborted.released, "{aborted:?}");
    assert_eq!(
        both(&app).await,
        [(0, 8), (1, 10)],
        "green serves now, so it takes the serving bounds; blue, idle now, the idle ones \
         (before: green, read as idle, went to min 0 while it carried production)"
    );
}

#[tokio::test]
async fn scale_down_lowers_the_old_colors_minimum_to_the_idle_capacity() {
    let app = provisioned("as-scale-down").await;
    let arn = app.start_running_execution("v2").await;
    let mut doc = deployed(&app, &arn).await;
    let out = bluegreen_switch::handler(&app.ports(), lambda_event(doc.clone()))
        .await
        .expect("switch");
    doc["switch"] = serde_json::to_value(&out).unwrap();
    deploy_idle(&app, json!({"phase": "release", "input": doc.clone()}))
        .await
        .expect("release");

    let out = deploy_idle(&app, json!({"phase": "scale-down", "input": doc.clone()}))
        .await
        .expect("scale-down");
    let DeployIdleResponse::ScaledDown(down) = out else {
        panic!("expected a scale-down, got {out:?}");
    };
    assert!(down.scaled, "{down:?}");
    assert_eq!(app.desired_count(Color::Blue).await, 0);
    assert_eq!(
        both(&app).await,
        [(0, 10), (1, 10)],
        "blue's policies may now scale it to the idle capacity (0), and no further up on their own"
    );
    // Twice: nothing more to do.
    let again = deploy_idle(&app, json!({"phase": "scale-down", "input": doc}))
        .await
        .expect("scale-down again");
    let DeployIdleResponse::ScaledDown(again) = again else {
        panic!("expected a scale-down");
    };
    assert!(!again.scaled, "{again:?}");
}

#[tokio::test]
async fn an_app_said_to_autoscale_without_scalable_targets_is_refused_before_anything_changes() {
    let app = bluegreen_e2e::provision("as-missing", autoscaling()).await;
    register(&app, Color::Blue, 1, 10).await;
    let before = app.snapshot().await;
    let arn = app.start_running_execution("v2").await;
    let mut doc = release_input(&app.name, "v2");
    doc["execution"] = json!({"arn": arn});
    let e = deploy_idle(&app, doc).await.expect_err("refused");
    let text = e.to_string();
    assert!(
        text.contains("autoscaling")
            && text.contains(&format!("`{}-green` has no scalable target", app.name))
            && text.contains("register-scalable-target"),
        "{text}"
    );
    let after = app.snapshot().await;
    assert_eq!(after.parameters, before.parameters, "no lock, no record");
    assert_eq!(app.desired_count(Color::Green).await, 2);
}

async fn release(local: &Local, app: &str, version: &str) -> Ending {
    let arn = local
        .start_release(app, version, 1, None)
        .await
        .expect("start");
    follow(&local.sfn, &arn, Duration::from_secs(90), false, |_, _| {})
        .await
        .expect("follow")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn through_the_state_machine_a_release_hands_the_bounds_over_and_an_abort_restores_them() {
    let local = Local::start(true).await.unwrap_or_else(|e| panic!("{e}"));
    let options = AppOptions {
        strategy: json!({"type": "all-at-once", "bake_seconds": 2}),
        monitor: json!({"min_requests": 0, "probe_requests": 6, "probe_timeout_ms": 1000,
                        "version_timeout_seconds": 10}),
        warm_window_seconds: 1,
        extra_config: json!({"deploy_timeout_seconds": 30, "autoscaling": true}),
        ..AppOptions::default()
    };
    let shop = local.app("shop", options).await.expect("app");
    let app = &shop.app;
    register(app, Color::Blue, 1, 10).await;
    register(app, Color::Green, 0, 8).await;

    // A release failing its smoke tests: Abort gives the bounds back.
    let ending = release(&local, "shop", "v2-broken-health").await;
    assert_eq!(ending.error.as_deref(), Some("Aborted"), "{ending:?}");
    assert_eq!(both(app).await, [(1, 10), (0, 8)]);
    assert!(app.parameter("lock").await.is_none());

    // A good one: green serves with blue's bounds, and after the warm window
    // blue rests at the idle capacity.
    let ending = release(&local, "shop", "v2").await;
    assert_eq!(ending.status, "SUCCEEDED", "{ending:?}");
    assert_eq!(app.listener_split().await, Split::all(Color::Green));
    assert_eq!(both(app).await, [(0, 10), (1, 10)]);
    assert_eq!(app.desired_count(Color::Blue).await, 0);
}
