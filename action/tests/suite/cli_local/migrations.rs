//! Database migrations inside the release (`migrations` in the config),
//! through the real state machine: the local cluster plays each one-off
//! task bluegreen starts as a sample migration whose outcome the version
//! names (`bluegreen_local::one_off`).

use super::*;

use bluegreen_local::one_off::MigrationRan;

fn with_migrations(warm_window_seconds: u64) -> AppOptions {
    AppOptions {
        warm_window_seconds,
        extra_config: json!({"migrations": {
            "expand": {"command": ["migrate", "expand"]},
            "contract": {"command": ["migrate", "contract"]},
            "timeout_seconds": 60,
        }}),
        ..quick()
    }
}

fn ran(app: &LocalApp) -> Vec<MigrationRan> {
    app.cluster.migrations.lock().unwrap().clone()
}

/// The names of the states an execution entered, in order.
async fn states_entered(local: &Local, arn: &str) -> Vec<String> {
    local
        .execution_history(arn)
        .await
        .expect("history")
        .iter()
        .filter_map(|e| {
            e.state_entered_event_details()
                .map(|d| d.name().to_string())
        })
        .collect()
}

fn position(states: &[String], name: &str) -> usize {
    states
        .iter()
        .position(|s| s == name)
        .unwrap_or_else(|| panic!("no {name} in {states:?}"))
}

/// The expand runs while both colors still run what they ran (the idle
/// color is updated after it), the release goes live, the contract runs
/// after the warm window and before the scale-down; then the emergency
/// rollback to the previous version is refused, changing nothing, with an
/// alert; and neither a rerun nor the loop of looks ran a migration twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expand_before_the_idle_color_contract_after_the_warm_window_then_no_way_back() {
    let (local, app) = setup_with(with_migrations(1)).await;
    let before = app.app.service_task_definition(Color::Green).await;
    let run = deploy(&local, "v2", "1101").await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    wait_for_executions_to_end(&local).await;

    let migrations = ran(&app);
    let phases: Vec<&str> = migrations.iter().map(|m| m.phase.as_str()).collect();
    assert_eq!(phases, ["expand", "contract"], "{migrations:?}");
    let (expand, contract) = (&migrations[0], &migrations[1]);
    assert_eq!(expand.version, "v2");
    assert_eq!(expand.command, ["migrate", "expand"]);
    assert_eq!(
        expand.services[&Color::Green],
        before,
        "the idle color was updated before the expand ran"
    );
    let release = app.app.service_task_definition(Color::Green).await;
    assert_ne!(release, before);
    assert_eq!(contract.version, "v2");
    assert_eq!(contract.services[&Color::Green], release);

    let states = states_entered(&local, &run.execution()).await;
    assert!(position(&states, "DeployIdle") < position(&states, "CheckIdle"));
    assert!(position(&states, "WarmWindow") < position(&states, "Contract"));
    assert!(position(&states, "Contract") < position(&states, "ScaleDown"));
    assert_eq!(app.app.listener_split().await, Split::all(Color::Green));

    // The previous version cannot run on the contracted schema.
    let _ = app.app.alerts().await;
    let before_rollback = app.app.snapshot().await;
    let refused = rollback_now(&local, "checkout errors", &[], "1102").await;
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    assert!(
        refused.stdout.contains("SchemaContracted") || refused.stdout.contains("contracted"),
        "{}",
        refused.stdout
    );
    assert!(
        refused.stdout.contains("deploy a fix forward"),
        "{}",
        refused.stdout
    );
    assert_eq!(app.app.listener_split().await, Split::all(Color::Green));
    assert_eq!(
        app.app.snapshot().await,
        before_rollback,
        "a refused rollback changed something"
    );
    let alerts = app.app.alerts().await;
    assert!(
        alerts
            .iter()
            .any(|a| a.to_string().contains("schema was contracted")),
        "{alerts:?}"
    );

    // A rerun of the same release finds it live: no migration runs again.
    let again = deploy(&local, "v2", "1103").await;
    assert_eq!(again.code, 0, "{}", again.stdout);
    wait_for_executions_to_end(&local).await;
    assert_eq!(ran(&app).len(), 2, "{:?}", ran(&app));
}

/// A failing expand aborts: traffic untouched, the idle color not updated,
/// the lock given back (the next release goes), and the step says how the
/// task ended and where its log is.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_expand_aborts_with_traffic_untouched() {
    let (local, app) = setup_with(with_migrations(1)).await;
    let before = app.app.service_task_definition(Color::Green).await;
    let run = deploy(&local, "v2-bad-expand", "1111").await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.output("result"), Some("aborted"), "{}", run.outputs);
    assert!(run.stdout.contains("exited with code 1"), "{}", run.stdout);
    assert!(
        run.stdout.contains("console.aws.amazon.com/cloudwatch"),
        "no log link: {}",
        run.stdout
    );
    assert_eq!(app.app.listener_split().await, Split::all(Color::Blue));
    assert_eq!(app.app.service_task_definition(Color::Green).await, before);
    let states = states_entered(&local, &run.execution()).await;
    assert!(states.contains(&"Abort".to_string()), "{states:?}");
    assert!(!states.contains(&"CheckIdle".to_string()), "{states:?}");

    let next = deploy(&local, "v3", "1112").await;
    assert_eq!(next.code, 0, "{}", next.stdout);
    assert_eq!(app.app.listener_split().await, Split::all(Color::Green));
}
