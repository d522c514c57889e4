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
    let gh = github_fake::FakeGitHub::start().await;
    let run = deploy_with(&local, "v2", &[], "1101", &pull_request_env(&gh, 47)).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    let comment = &gh.comments(47)[0].1;
    assert!(comment.contains("#### Database"), "{comment}");
    assert!(comment.contains("| expand |"), "{comment}");
    assert!(
        comment
            .contains("| succeeded | [log](https://us-east-1.console.aws.amazon.com/cloudwatch/"),
        "{comment}"
    );
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
    assert_eq!(refused.code, 1, "refused: {}", refused.stdout);
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
    let gh = github_fake::FakeGitHub::start().await;
    let run = deploy_with(
        &local,
        "v2-bad-expand",
        &[],
        "1111",
        &pull_request_env(&gh, 48),
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    // The pull request hears how the task ended and where its log is.
    let comment = &gh.comments(48)[0].1;
    assert!(comment.contains("exited with code 1"), "{comment}");
    assert!(
        comment.contains("console.aws.amazon.com/cloudwatch"),
        "{comment}"
    );
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

/// A contract left to a person (`when: manual`) does not run at the end of
/// the warm window; `bluegreen migrate contract` runs it, and when it fails
/// people are alerted and `status` says so. A failed contract at the end of
/// the warm window ends the execution `ContractFailed` with the previous
/// color left warm; a person's rerun runs the task again (a new attempt).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_or_manual_contract_keeps_the_previous_color_and_a_person_runs_it_again() {
    let (local, app) = setup_with(with_migrations(1)).await;
    let run = deploy(&local, "v2-bad-contract", "1121").await;
    assert_eq!(run.code, 0, "the release is live: {}", run.stdout);
    wait_for_executions_to_end(&local).await;
    assert_eq!(
        app.app.execution_status(&run.execution()).await,
        "FAILED",
        "ContractFailed"
    );
    let states = states_entered(&local, &run.execution()).await;
    assert_eq!(states.last().map(String::as_str), Some("ContractFailed"));
    assert!(!states.contains(&"ScaleDown".to_string()), "{states:?}");
    assert_eq!(app.app.desired_count(Color::Blue).await, 2, "kept warm");
    assert_eq!(app.app.listener_split().await, Split::all(Color::Green));
    let alerts = app.app.alerts().await;
    assert!(
        alerts
            .iter()
            .any(|a| a.to_string().contains("contract migration of web failed")),
        "{alerts:?}"
    );

    // A person runs it again: a new attempt, which fails the same way.
    let again = bluegreen(
        &local,
        &[
            "migrate",
            "contract",
            "--app",
            APP,
            "--by",
            "alice",
            "--settle-seconds",
            "1",
        ],
        "1122",
    )
    .await;
    assert_eq!(again.code, 1, "{}", again.stdout);
    assert!(
        again.stdout.contains("exited with code 1"),
        "{}",
        again.stdout
    );
    let contracts = ran(&app).iter().filter(|m| m.phase == "contract").count();
    assert_eq!(contracts, 2, "{:?}", ran(&app));
    let status = bluegreen(&local, &["status", "--app", APP], "1123").await;
    assert!(
        status.stdout.contains("schema    never contracted"),
        "{}",
        status.stdout
    );
    assert!(
        status
            .stdout
            .contains("last migration: contract of v2-bad-contract failed (exit code 1)"),
        "{}",
        status.stdout
    );
}

/// `when: manual`: the warm window ends without a contract; the person's
/// `migrate contract` runs it, `status` shows the schema's position, and
/// from then on a rollback to v1 is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_manual_contract_runs_on_a_persons_word() {
    let mut options = with_migrations(1);
    options.extra_config["migrations"]["contract"]["when"] = json!("manual");
    let (local, app) = setup_with(options).await;
    let run = deploy(&local, "v2", "1131").await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    wait_for_executions_to_end(&local).await;
    let phases: Vec<String> = ran(&app).iter().map(|m| m.phase.clone()).collect();
    assert_eq!(phases, ["expand"]);
    // A person's contract announces itself first: a rollback asked for
    // meanwhile is refused (it could still be moving traffic when the task
    // starts otherwise), then the task runs.
    let (contracted, refused_meanwhile) = tokio::join!(
        bluegreen(
            &local,
            &["migrate", "contract", "--app", APP, "--settle-seconds", "4"],
            "1132",
        ),
        async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            rollback_now(&local, "during the contract", &[], "1136").await
        },
    );
    assert_ne!(refused_meanwhile.code, 0, "{}", refused_meanwhile.stdout);
    assert!(
        refused_meanwhile.stdout.contains("about to run"),
        "{}",
        refused_meanwhile.stdout
    );
    assert_eq!(app.app.listener_split().await, Split::all(Color::Green));
    assert_eq!(contracted.code, 0, "{}", contracted.stdout);
    assert!(
        contracted.stdout.contains("the schema is contracted"),
        "{}",
        contracted.stdout
    );
    let status = bluegreen(&local, &["status", "--app", APP], "1133").await;
    assert!(
        status.stdout.contains("schema    contracted by v2"),
        "{}",
        status.stdout
    );
    let refused = rollback_now(&local, "too late", &[], "1134").await;
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    assert_eq!(app.app.listener_split().await, Split::all(Color::Green));
    // Contracting again is a no-op: the record says it ran.
    let again = bluegreen(
        &local,
        &["migrate", "contract", "--app", APP, "--settle-seconds", "1"],
        "1135",
    )
    .await;
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert_eq!(ran(&app).len(), 2, "{:?}", ran(&app));
}

/// `warm_capacity_percent: 50`: through the warm window the previous color
/// runs half the release's tasks; an emergency rollback in the window
/// scales it up to full size before it moves traffic.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_previous_color_stays_warm_at_half_size_and_a_rollback_scales_it_up_first() {
    let (local, app) = setup_with(AppOptions {
        warm_window_seconds: 600,
        // A half-size color could carry production by this fraction: it is
        // scaled up all the same, because it was kept small on purpose.
        extra_config: json!({"warm_capacity_percent": 50, "min_healthy_fraction": 0.5}),
        ..quick()
    })
    .await;
    let run = deploy(&local, "v2", "1141").await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(app.app.desired_count(Color::Green).await, 2);
    assert_eq!(app.app.desired_count(Color::Blue).await, 1, "half of 2");
    let status = bluegreen(&local, &["status", "--app", APP], "1142").await;
    assert!(
        status
            .stdout
            .contains("tasks     blue 1/1 running, green 2/2 running"),
        "{}",
        status.stdout
    );

    let back = rollback_now(&local, "checkout errors", &[], "1143").await;
    assert_eq!(back.code, 0, "{}", back.stdout);
    assert_eq!(app.app.listener_split().await, Split::all(Color::Blue));
    assert_eq!(
        app.app.desired_count(Color::Blue).await,
        2,
        "scaled up first"
    );
    eprintln!("{}", back.stdout);
}
