//! Services that autoscale, through the real state machine on the
//! emulator: a release hands the bounds over and an abort restores them.

use std::time::Duration;

use aws_sdk_applicationautoscaling::Client;
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
use bluegreen_action::timeline::{Ending, follow};
use bluegreen_core::{Color, Split};
use bluegreen_e2e::{AppOptions, ExampleApp};
use bluegreen_local::Local;
use serde_json::json;

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
