//! deploy-idle against the emulator where the ECS adapter's own work is the
//! point: the task definition it registers for a release (every field and
//! tag of the revision production runs, the container named), which the
//! in-memory AWS does not model. The rest of deploy-idle's scenarios are
//! `deploy_idle.rs`'s, on the in-memory AWS.

use crate::deploy_idle::{deploy, live, with_execution};
use bluegreen_core::{Color, Split};
use bluegreen_e2e::{AppOptions, release_input};
use serde_json::json;

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
