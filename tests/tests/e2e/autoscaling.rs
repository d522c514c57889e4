//! Services that autoscale, on the in-memory AWS's Application Auto
//! Scaling: the scalable targets' min/max held while a color is idle during a
//! release, handed over at the switch, lowered at scale-down, restored on
//! abort and rollback — through the Lambdas' entry functions. Through the
//! real state machine: `autoscaling_pipeline.rs`, on the emulator.

use bluegreen_core::ports::Bounds;
use bluegreen_core::steps::deploy::DeployOutcome;
use bluegreen_core::{Color, Split};
use bluegreen_deploy_idle::DeployIdleResponse;
use bluegreen_e2e::memory::{self, AppOptions, MemoryApp};
use bluegreen_e2e::{lambda_event, release_input, sns_event};
use bluegreen_lambda::HandlerError;
use serde_json::{Value, json};

fn autoscaling() -> AppOptions {
    AppOptions {
        extra_config: json!({"autoscaling": true}),
        ..AppOptions::default()
    }
}

/// Registers (or updates) `color`'s scalable target, as the team's IaC does.
async fn register(app: &MemoryApp, color: Color, min: i32, max: i32) {
    let service = app.service(color);
    app.world().scaling.insert(service, Bounds { min, max });
}

/// `color`'s scalable target's (min, max), as Application Auto Scaling says.
async fn bounds(app: &MemoryApp, color: Color) -> (i32, i32) {
    let b = app.world().scaling[&app.service(color)];
    (b.min, b.max)
}

async fn both(app: &MemoryApp) -> [(i32, i32); 2] {
    [
        bounds(app, Color::Blue).await,
        bounds(app, Color::Green).await,
    ]
}

async fn deploy_idle(app: &MemoryApp, event: Value) -> Result<DeployIdleResponse, HandlerError> {
    bluegreen_deploy_idle::handler(&app.ports(), lambda_event(event)).await
}

/// deploy-idle's deploy phase for v2 as execution `arn`; returns the document
/// with its result under `deploy`, as the state machine keeps it.
async fn deployed(app: &MemoryApp, arn: &str) -> Value {
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
async fn provisioned(name: &str) -> MemoryApp {
    let app = memory::provision(name, autoscaling());
    register(&app, Color::Blue, 1, 10).await;
    register(&app, Color::Green, 0, 8).await;
    app
}

#[tokio::test]
async fn the_idle_colors_minimum_is_held_during_a_release_and_restored_on_abort() {
    let app = provisioned("as-abort").await;
    let arn = app.start_running_execution("v2");
    let doc = deployed(&app, &arn).await;
    assert_eq!(app.desired_count(Color::Green), 2);
    assert_eq!(
        both(&app).await,
        [(2, 10), (2, 8)],
        "each color held at the count the release needs of it: green at blue's 2 tasks, \
         blue at its own (its policies must not scale it in while it may take traffic back)"
    );
    // A rerun of the deploy keeps the bounds from before the first attempt.
    deployed(&app, &arn).await;
    let record: Value =
        serde_json::from_str(&app.parameter("scaling").expect("scaling record")).unwrap();
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
    assert!(app.parameter("lock").is_none());
    assert_eq!(app.listener_split(), Split::all(Color::Blue));
}

#[tokio::test]
async fn the_new_color_takes_the_serving_bounds_at_the_switch_and_a_rollback_gives_them_back() {
    let app = provisioned("as-rollback").await;
    let arn = app.start_running_execution("v2");
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
    memory::release_lock(&app, &arn).await;

    let message = json!({"app": app.name, "reason": "checkout errors"}).to_string();
    bluegreen_rollback::handler(
        &app.ports(),
        &bluegreen_core::ports::NoHooks,
        lambda_event(sns_event(&message)),
    )
    .await
    .expect("rollback");
    assert_eq!(app.listener_split(), Split::all(Color::Blue));
    assert_eq!(
        both(&app).await,
        [(1, 10), (0, 8)],
        "blue serves with its bounds again; green idles with its own"
    );
    // Pressing the button twice changes nothing.
    bluegreen_rollback::handler(
        &app.ports(),
        &bluegreen_core::ports::NoHooks,
        lambda_event(sns_event(&message)),
    )
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
    let arn = app.start_running_execution("v2");
    let doc = deployed(&app, &arn).await;
    let out = bluegreen_switch::handler(&app.ports(), lambda_event(doc))
        .await
        .expect("switch");
    assert!(out.done);
    memory::release_lock(&app, &arn).await;
    register(&app, Color::Green, min, max).await;

    let message = json!({"app": app.name, "reason": "checkout errors"}).to_string();
    let mut after = Vec::new();
    for _ in 0..presses {
        bluegreen_rollback::handler(
            &app.ports(),
            &bluegreen_core::ports::NoHooks,
            lambda_event(sns_event(&message)),
        )
        .await
        .expect("rollback");
        assert_eq!(app.listener_split(), Split::all(Color::Blue));
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
    let arn = app.start_running_execution("v2");
    let doc = deployed(&app, &arn).await;
    assert_eq!(both(&app).await, [(2, 10), (2, 8)]);
    // On-call moves production onto green by hand while the smoke tests run.
    app.move_production_by_hand(Color::Green);

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
    let arn = app.start_running_execution("v2");
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
    assert_eq!(app.desired_count(Color::Blue), 0);
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
    let app = memory::provision("as-missing", autoscaling());
    register(&app, Color::Blue, 1, 10).await;
    let before = app.snapshot();
    let arn = app.start_running_execution("v2");
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
    let after = app.snapshot();
    assert_eq!(after.params, before.params, "no lock, no record");
    assert_eq!(app.desired_count(Color::Green), 2);
}
