//! The releases teams ship, through the real state machine: a task
//! definition from a file (as amazon-ecs-render-task-definition writes it),
//! several containers' images at once, and a forced redeploy of the version
//! that already serves.

use super::*;

/// A rendered task-definition file: the app's family with an envoy sidecar,
/// and the fields DescribeTaskDefinition adds (which RegisterTaskDefinition
/// refuses, so bluegreen leaves them out).
fn rendered_file(dir: &std::path::Path, app_image: &str) -> std::path::PathBuf {
    let document = json!({
        "taskDefinitionArn": format!("arn:aws:ecs:us-east-1:123456789012:task-definition/{APP}:1"),
        "revision": 1,
        "status": "ACTIVE",
        "compatibilities": ["EC2", "FARGATE"],
        "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.logging-driver.awslogs"}],
        "registeredAt": "2026-12-01T10:00:00.000Z",
        "family": APP,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "512",
        "memory": "1024",
        "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
        "containerDefinitions": [
            {"name": "app", "image": app_image, "essential": true, "memory": 512,
             "portMappings": [{"containerPort": 8080}],
             "environment": [{"name": "LOG_LEVEL", "value": "debug"}]},
            {"name": "envoy", "image": "example/envoy:1.31", "essential": true, "memory": 256}
        ],
        "tags": [{"key": "team", "value": "payments"}]
    });
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("task-definition.json");
    std::fs::write(&path, serde_json::to_string_pretty(&document).unwrap()).unwrap();
    path
}

/// `bluegreen deploy --images` (YAML or JSON: container → image).
async fn deploy_images(local: &Local, version: &str, images: &str, run_id: &str) -> Run {
    let args = [
        "deploy",
        "--app",
        APP,
        "--version",
        version,
        "--images",
        images,
    ];
    bluegreen(local, &args, run_id).await
}

async fn images(app: &LocalApp, arn: &str) -> Vec<(String, String)> {
    app.app
        .task_definition(arn)
        .await
        .container_definitions()
        .iter()
        .map(|c| {
            (
                c.name().unwrap_or_default().to_string(),
                c.image().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// v2 from a rendered file: registered once (a retry of the job step
/// registers nothing more), two containers, the file's own settings, the
/// team's tags kept; the action's `task-definition-arn` output names it.
/// Then v3 changes both containers' images at once on a revision of what
/// production runs, and a container the task definition does not have stops
/// the release before traffic moves, naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_task_definition_file_then_two_containers_images_at_once() {
    let (local, app) = setup().await;
    let dir = std::env::temp_dir().join(format!("bluegreen-releases-{}", std::process::id()));
    let file = rendered_file(&dir, "example/web:v2");
    let file = file.to_str().unwrap();
    let revisions = app.app.task_definition_revisions().await;

    let args = [
        "deploy",
        "--app",
        APP,
        "--version",
        "v2",
        "--task-definition",
        file,
    ];
    let run = bluegreen(&local, &args, "4101").await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(app.app.listener_split().await, Split::all(Color::Green));
    let registered = app.app.service_task_definition(Color::Green).await;
    assert_eq!(run.output("task-definition-arn"), Some(registered.as_str()));
    assert_eq!(
        images(&app, &registered).await,
        pairs(&[("app", "example/web:v2"), ("envoy", "example/envoy:1.31")])
    );
    let td = app.app.task_definition(&registered).await;
    assert_eq!(td.cpu(), Some("512"), "the file's own settings");
    let tags = app.app.task_definition_tags(&registered).await;
    assert!(
        tags.contains(&("team".to_string(), "payments".to_string())),
        "{tags:?}"
    );
    assert!(
        tags.iter().any(|(k, _)| k == "bluegreen:document"),
        "{tags:?}"
    );
    assert_eq!(
        app.app.task_definition_revisions().await,
        revisions + 1,
        "registered once"
    );
    // The job step retried: it follows the same execution, registers nothing.
    let again = bluegreen(&local, &args, "4101").await;
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert_eq!(app.app.task_definition_revisions().await, revisions + 1);
    wait_for_executions_to_end(&local).await;

    // Both containers' images at once, on a revision of what production runs.
    let run = deploy_images(
        &local,
        "v3",
        "app: example/web:v3\nenvoy: example/envoy:1.32\n",
        "4102",
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(app.app.listener_split().await, Split::all(Color::Blue));
    let v3 = app.app.service_task_definition(Color::Blue).await;
    assert_eq!(run.output("task-definition-arn"), Some(v3.as_str()));
    assert_eq!(
        images(&app, &v3).await,
        pairs(&[("app", "example/web:v3"), ("envoy", "example/envoy:1.32")])
    );
    assert_eq!(
        app.app.task_definition(&v3).await.cpu(),
        Some("512"),
        "a revision of what production ran (v2's file), not of the idle color's older one"
    );
    wait_for_executions_to_end(&local).await;

    // A container the task definition does not have: stopped before any
    // traffic moved, the container named.
    let run = deploy_images(&local, "v4", "{app: example/web:v4, sidecar: x:1}", "4103").await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.output("result"), Some("aborted"), "{}", run.outputs);
    assert!(
        run.stdout.contains("release.images.sidecar")
            && run.stdout.contains("has no container `sidecar`"),
        "{}",
        run.stdout
    );
    assert_eq!(app.app.listener_split().await, Split::all(Color::Blue));
    assert_eq!(app.app.service_task_definition(Color::Blue).await, v3);

    // A bad file never reaches AWS: exit 2, before anything starts, the
    // problem named by its place in the file. (A file of another family is
    // refused by deploy-idle, which knows the app's: `plan`'s table.)
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        r#"{"family": "web", "containerDefinitions": [{"name": "app"}]}"#,
    )
    .unwrap();
    let before = execution_count(&local).await;
    let run = bluegreen(
        &local,
        &[
            "deploy",
            "--app",
            APP,
            "--version",
            "v5",
            "--task-definition",
            bad.to_str().unwrap(),
        ],
        "4104",
    )
    .await;
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("bad.json is invalid at `containerDefinitions[0].image`"),
        "{}",
        run.stdout
    );
    assert_eq!(execution_count(&local).await, before, "nothing started");
    std::fs::remove_dir_all(&dir).ok();
}

/// The version that serves, deployed again with `--redeploy`: a new
/// revision of the same image on the idle color, fresh tasks, smoke tests,
/// the switch, through every step. Without it, the same version is nothing
/// to do. A second redeploy makes another revision (the first is not
/// reused), and a rollback after a redeploy goes back to the other color,
/// the same version on its own tasks.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redeploy_restarts_the_serving_version_on_fresh_tasks() {
    // The previous color stays warm (with its tasks) through these steps.
    let (local, app) = setup_warm_for(600).await;
    let run = deploy(&local, "v2", "4201").await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    let green = app.app.service_task_definition(Color::Green).await;
    let green_tasks = app
        .cluster
        .running
        .lock()
        .unwrap()
        .get(&Color::Green)
        .cloned();
    assert!(green_tasks.is_some());
    let revisions = app.app.task_definition_revisions().await;

    let run = deploy(&local, "v2", "4202").await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(app.app.listener_split().await, Split::all(Color::Green));
    assert_eq!(
        app.app.task_definition_revisions().await,
        revisions,
        "nothing to do"
    );

    let run = deploy_with(&local, "v2", &["--redeploy"], "4203", &[]).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(app.app.listener_split().await, Split::all(Color::Blue));
    let blue = app.app.service_task_definition(Color::Blue).await;
    assert_ne!(blue, green, "a revision of its own");
    assert_eq!(run.output("task-definition-arn"), Some(blue.as_str()));
    assert_eq!(images(&app, &blue).await, images(&app, &green).await);
    assert!(
        app.app
            .task_definition_tags(&blue)
            .await
            .iter()
            .any(|(k, _)| k == "bluegreen:redeploy")
    );
    assert!(
        run.stdout
            .contains("v2 on blue (2 task(s)), redeployed on fresh tasks"),
        "{}",
        run.stdout
    );
    let states = states_entered(&local, &run.execution()).await;
    for state in ["DeployIdle", "SmokeTest", "Switch"] {
        assert!(
            states.iter().any(|s| s == state),
            "no {state} in {states:?}"
        );
    }
    let state = app.app.stored_state().await.expect("state");
    assert_eq!(state.active_version.as_deref(), Some("v2"));
    assert_eq!(
        app.cluster
            .running
            .lock()
            .unwrap()
            .get(&Color::Green)
            .cloned(),
        green_tasks,
        "the warm color kept its tasks"
    );

    // Another redeploy: another revision, on green, whose tasks are fresh.
    let run = deploy_with(&local, "v2", &["--redeploy"], "4204", &[]).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    let green_again = app.app.service_task_definition(Color::Green).await;
    assert!(green_again != green && green_again != blue, "{green_again}");
    assert_eq!(app.app.listener_split().await, Split::all(Color::Green));
    assert_ne!(
        app.cluster
            .running
            .lock()
            .unwrap()
            .get(&Color::Green)
            .cloned(),
        green_tasks,
        "the same tasks as before"
    );

    // On-call rolls back: the other color, the same version, its own tasks.
    let rolled = rollback_now(&local, "redeploy went wrong", &[], "4205").await;
    assert_eq!(rolled.code, 0, "{}", rolled.stdout);
    assert_eq!(app.app.listener_split().await, Split::all(Color::Blue));
    app.app.assert_state_matches_listener().await;
}
