//! The `bluegreen` binary as the GitHub Action runs it, against local mode:
//! the emulator runs the real state machine, the Lambdas run in-process.

use std::time::Duration;

use bluegreen_core::{Color, Split};
use bluegreen_local::example::AppOptions;
use bluegreen_local::{Local, LocalApp};
use serde_json::{Value, json};

use crate::github_fake;

mod gates;
mod hooks;
mod migrations;
mod notifications;
mod private_listener;
mod releases;
mod scale_back;

const APP: &str = "web";

struct Run {
    code: i32,
    /// Stdout and stderr, one after the other.
    stdout: String,
    /// Stdout alone (a `--json` document).
    out: String,
    outputs: String,
}

impl Run {
    /// A step output the command set (`$GITHUB_OUTPUT`).
    fn output(&self, name: &str) -> Option<&str> {
        let prefix = format!("{name}=");
        self.outputs
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
    }

    /// The execution the deploy started (its `execution-arn` output).
    fn execution(&self) -> String {
        self.output("execution-arn")
            .unwrap_or_else(|| panic!("no execution-arn output: {}", self.outputs))
            .to_string()
    }
}

async fn setup() -> (Local, LocalApp) {
    setup_warm_for(1).await
}

/// With the previous color kept warm this long after a release (a rollback
/// after that finds it scaled down, and must scale it up first).
async fn setup_warm_for(warm_window_seconds: u64) -> (Local, LocalApp) {
    setup_with(AppOptions {
        warm_window_seconds,
        ..quick()
    })
    .await
}

/// The app's options for these tests: one short bake, a few quick probes.
fn quick() -> AppOptions {
    AppOptions {
        strategy: json!({"type": "all-at-once", "bake_seconds": 2}),
        monitor: json!({"min_requests": 0, "probe_requests": 4, "probe_timeout_ms": 1000}),
        ..AppOptions::default()
    }
}

async fn setup_with(options: AppOptions) -> (Local, LocalApp) {
    let local = Local::start(true).await.unwrap_or_else(|e| panic!("{e}"));
    let app = local.app(APP, options).await.expect("app");
    (local, app)
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

async fn execution_count(local: &Local) -> usize {
    let out = local
        .sfn
        .list_executions()
        .state_machine_arn(local.state_machine_arn(APP))
        .send()
        .await
        .expect("list executions");
    out.executions().len()
}

async fn wait_for_executions_to_end(local: &Local) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let out = local
            .sfn
            .list_executions()
            .state_machine_arn(local.state_machine_arn(APP))
            .send()
            .await
            .expect("list executions");
        let running = out
            .executions()
            .iter()
            .any(|e| e.status == aws_sdk_sfn::types::ExecutionStatus::Running);
        if !running {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "executions still running"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `bluegreen deploy` of `version` (image `example/web:<version>`).
async fn deploy(local: &Local, version: &str, run_id: &str) -> Run {
    deploy_with(local, version, &[], run_id, &[]).await
}

/// [`deploy`] with more flags (`--overrides`, `--no-wait-for-approval`) and
/// environment (GitHub's).
async fn deploy_with(
    local: &Local,
    version: &str,
    flags: &[&str],
    run_id: &str,
    env: &[(&str, String)],
) -> Run {
    let image = format!("example/web:{version}");
    let mut args = vec![
        "deploy",
        "--app",
        APP,
        "--version",
        version,
        "--image",
        &image,
    ];
    args.extend_from_slice(flags);
    bluegreen_with(local, &args, run_id, env).await
}

/// `bluegreen rollback` through the rollback function, as on-call runs it.
async fn rollback_now(local: &Local, reason: &str, flags: &[&str], run_id: &str) -> Run {
    let mut args = vec!["rollback", "--app", APP, "--reason", reason];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["--function", "bluegreen-rollback"]);
    bluegreen(local, &args, run_id).await
}

/// A `pull_request` run's environment, with GitHub played by `gh`.
fn pull_request_env(gh: &github_fake::FakeGitHub, pr: u64) -> Vec<(&'static str, String)> {
    vec![
        ("GITHUB_API_URL", gh.uri()),
        ("GITHUB_TOKEN", github_fake::TOKEN.to_string()),
        (
            "GITHUB_REPOSITORY",
            format!("{}/{}", github_fake::OWNER, github_fake::REPO),
        ),
        ("GITHUB_SHA", "3f2c1ab".to_string()),
        ("BLUEGREEN_PR", pr.to_string()),
    ]
}

/// A real HTTP receiver answering `status` to every POST (wiremock).
async fn receiver(status: u16) -> wiremock::MockServer {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(status))
        .mount(&server)
        .await;
    server
}

async fn bluegreen(local: &Local, args: &[&str], run_id: &str) -> Run {
    bluegreen_with(local, args, run_id, &[]).await
}

async fn bluegreen_with(
    local: &Local,
    args: &[&str],
    run_id: &str,
    extra: &[(&str, String)],
) -> Run {
    let dir = std::env::temp_dir().join(format!(
        "bluegreen-cli-{}-{run_id}-{}",
        std::process::id(),
        args[0]
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let outputs = dir.join("outputs");
    let _ = std::fs::remove_file(&outputs);
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_bluegreen"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "AWS_ENDPOINT_URL",
            format!("http://127.0.0.1:{}", local.host.port),
        )
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("BLUEGREEN_STATE_MACHINE_ARN", local.state_machine_arn(APP))
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_RUN_ID", run_id)
        .env("GITHUB_RUN_ATTEMPT", "1")
        .env("GITHUB_OUTPUT", &outputs)
        .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .await
        .expect("run bluegreen");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        out: String::from_utf8_lossy(&out.stdout).into_owned(),
        outputs: std::fs::read_to_string(&outputs).unwrap_or_default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deploy_follows_the_release_and_sets_the_action_outputs() {
    let (local, app) = setup().await;
    let run = deploy(&local, "v2", "101").await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("::group::bluegreen: web v2 step by step"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Switch") && run.stdout.contains("blue 0% / green 100%"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("::endgroup::"), "{}", run.stdout);
    for line in [
        "result=succeeded",
        "active-color=green",
        "version=v2",
        "execution-arn=arn:aws:states:",
    ] {
        assert!(
            run.outputs.contains(line),
            "{line} missing from {}",
            run.outputs
        );
    }
    assert_eq!(app.app.listener_split().await, Split::all(Color::Green));

    // The same job step again (a retry): it follows the execution it started.
    // With --json, stdout is one document; the story goes to stderr.
    let json = deploy_with(&local, "v2", &["--json"], "101", &[]).await;
    assert_eq!(json.code, 0, "{}", json.stdout);
    let doc: Value = serde_json::from_str(&json.out).expect("stdout is one JSON document");
    assert_eq!(doc["result"], "succeeded", "{doc}");
    assert_eq!(doc["active_color"], "green", "{doc}");
    assert!(
        doc["execution_arn"]
            .as_str()
            .unwrap()
            .contains(":execution:"),
        "{doc}"
    );
    assert!(!doc["steps"].as_array().unwrap().is_empty(), "{doc}");
    let again = deploy(&local, "v2", "101").await;
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert!(
        again.stdout.contains("following the already started"),
        "{}",
        again.stdout
    );
    assert_eq!(execution_count(&local).await, 1, "no second execution");

    // The action stops following once the release is live (before the warm
    // window); the execution ends with the scale-down, which holds the lock
    // while it shrinks the old color. Once it has ended, no lock is left.
    wait_for_executions_to_end(&local).await;
    let status = bluegreen(&local, &["status", "--app", APP, "--json"], "102").await;
    assert_eq!(status.code, 0, "{}", status.stdout);
    let s: Value = serde_json::from_str(&status.stdout).expect(&status.stdout);
    assert_eq!(s["state"]["active_color"], "green");
    assert_eq!(s["state_matches_listener"], true);
    assert!(s["lock"].is_null());
    assert!(s["last_stopped_by_rollback"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_release_fails_the_step_and_says_what_serves() {
    let (local, app) = setup().await;
    let run = deploy(&local, "v2-broken-health", "201").await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("::error::release v2-broken-health of web did not go live: Aborted"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("production serves blue v1"),
        "{}",
        run.stdout
    );
    // Traffic never moved: aborted, not rolled back.
    assert!(run.outputs.contains("result=aborted"), "{}", run.outputs);
    assert_eq!(app.app.listener_split().await, Split::all(Color::Blue));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_fails_before_anything_starts() {
    let (local, _app) = setup().await;
    let run = bluegreen(
        &local,
        &[
            "deploy",
            "--app",
            APP,
            "--version",
            "v2",
            "--image",
            "i",
            "--overrides",
            r#"{"strategy": {"type": "weighted", "steps": [50]}}"#,
        ],
        "301",
    )
    .await;
    // Exit 2: bad input, as for a bad command line.
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stdout.contains("`overrides.strategy.steps`"),
        "{}",
        run.stdout
    );
    assert_eq!(execution_count(&local).await, 0);

    // Exit 3: it could not tell (here: no state machine answers at that ARN).
    let arn = "arn:aws:states:us-east-1:123456789012:stateMachine:nobody";
    let unknown = deploy_with(&local, "v2", &["--state-machine-arn", arn], "302", &[]).await;
    assert_eq!(unknown.code, 3, "{}", unknown.stdout);
    assert!(
        unknown.stdout.contains("could not start the release"),
        "{}",
        unknown.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rollback_through_the_emergency_topic() {
    // Within the warm window, as an on-call engineer rolling back a fresh
    // release is: the rollback is instant (a second's window raced a loaded
    // CI machine's scale-down, and found the previous color cold).
    let (local, app) = setup_warm_for(120).await;
    let run = deploy(&local, "v2", "401").await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    let topic = local.emergency_topic_arn.clone();
    let rb = bluegreen(
        &local,
        &[
            "rollback",
            "--app",
            APP,
            "--reason",
            "errors",
            "--topic-arn",
            &topic,
        ],
        "402",
    )
    .await;
    assert_eq!(rb.code, 0, "{}", rb.stdout);
    assert!(rb.stdout.contains("rolled-back"), "{}", rb.stdout);
    assert_eq!(app.app.listener_split().await, Split::all(Color::Blue));
    tokio::time::sleep(Duration::from_millis(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deploy_reports_to_github_deployments_and_the_pull_request() {
    let (local, _app) = setup().await;
    let gh = github_fake::FakeGitHub::start().await;
    let summary = std::env::temp_dir().join(format!("bluegreen-summary-{}", std::process::id()));
    let _ = std::fs::remove_file(&summary);
    let mut env = pull_request_env(&gh, 45);
    env.push(("GITHUB_STEP_SUMMARY", summary.display().to_string()));
    let args = [
        "deploy",
        "--app",
        APP,
        "--version",
        "v2",
        "--image",
        "example/web:v2",
    ];
    let run = bluegreen_with(&local, &args, "501", &env).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        !run.stdout.contains(github_fake::TOKEN),
        "the token never shows"
    );

    let lines = gh.lines().await;
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("POST /repos/octo/shop/deployments")),
        "{lines:?}\n{}",
        run.stdout
    );
    assert_eq!(gh.states(1), vec!["in_progress", "success"], "{lines:?}");
    let comments = gh.comments(45);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0].1.contains("<!-- bluegreen:web -->"),
        "{comments:?}"
    );
    assert!(comments[0].1.contains("succeeded"), "{}", comments[0].1);
    // The release as a chart: blue's weight, then green's, at the one switch.
    let comment = &comments[0].1;
    assert!(comment.contains("```mermaid\nxychart-beta\n"), "{comment}");
    assert!(
        comment.contains("title \"Traffic (%): blue, then green\""),
        "{comment}"
    );
    assert!(comment.contains("switch 100%"), "{comment}");
    assert!(comment.contains("    line [0"), "blue's series: {comment}");
    assert!(
        comment.contains("    line [100"),
        "green's series: {comment}"
    );
    // The same step again (a retry): it follows the same execution and
    // reports on the same deployment.
    let retried = bluegreen_with(&local, &args, "501", &env).await;
    assert_eq!(retried.code, 0, "{}", retried.stdout);
    let created = gh
        .lines()
        .await
        .iter()
        .filter(|l| *l == "POST /repos/octo/shop/deployments")
        .count();
    assert_eq!(created, 1, "one deployment for one execution");
    let written = std::fs::read_to_string(&summary).unwrap_or_default();
    assert!(
        written.contains("web") && written.contains("v2"),
        "{written}"
    );

    // A release that fails: a failure status, and the same comment edited.
    let args = [
        "deploy",
        "--app",
        APP,
        "--version",
        "v3-broken-health",
        "--image",
        "example/web:v3-broken-health",
    ];
    let failed = bluegreen_with(&local, &args, "502", &env).await;
    assert_eq!(failed.code, 1, "{}", failed.stdout);
    let comments = gh.comments(45);
    assert_eq!(comments.len(), 1, "one sticky comment: {comments:?}");
    assert!(
        comments[0].1.contains("v3-broken-health"),
        "{}",
        comments[0].1
    );
    let statuses: Vec<Value> = gh
        .seen()
        .await
        .into_iter()
        .filter(|s| {
            s.line.starts_with("POST /repos/octo/shop/deployments/")
                && s.line.ends_with("/statuses")
        })
        .map(|s| s.body)
        .collect();
    let last = statuses.last().expect("statuses were posted");
    assert_eq!(last["state"], "failure", "{statuses:?}");
}

/// After traffic was moved by hand, `bluegreen reconcile` records what really
/// serves; the next `status` agrees with the listener.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reconcile_records_what_really_serves_after_a_move_by_hand() {
    let (local, app) = setup().await;
    let run = deploy(&local, "v2", "301").await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    app.app.set_desired_count(Color::Blue, 2).await;
    app.app.move_production_by_hand(Color::Blue).await;

    let status = bluegreen(&local, &["status", "--app", APP, "--json"], "302").await;
    let s: Value = serde_json::from_str(&status.stdout).expect("status json");
    assert_eq!(s["state_matches_listener"], false, "{}", status.stdout);

    // The release is live when `deploy` returns; its execution still scales
    // the old color down under the lock for a moment, and reconcile (rightly)
    // refuses to write while a release holds the app.
    wait_for_executions_to_end(&local).await;
    let run = bluegreen(&local, &["reconcile", "--app", APP, "--json"], "303").await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    let out: Value = serde_json::from_str(&run.stdout).expect("reconcile json");
    assert_eq!(out["changed"], true);
    assert_eq!(out["after"]["active_color"], "blue");
    assert_eq!(out["after"]["active_version"], "v1");
    assert_eq!(out["after"]["previous_version"], "v2");
    app.app.assert_state_matches_listener().await;
    assert_eq!(app.app.listener_split().await, Split::all(Color::Blue));

    // Twice is once.
    let run = bluegreen(&local, &["reconcile", "--app", APP, "--json"], "304").await;
    let out: Value = serde_json::from_str(&run.stdout).expect("reconcile json");
    assert_eq!(out["changed"], false, "{}", run.stdout);
}

/// A push deploy comments on the merged pull request its commit came from; a
/// later `bluegreen rollback` marks that release's GitHub deployment failed
/// with the reason, and a GitHub that refuses it does not fail the rollback.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_push_deploy_comments_on_its_pull_request_and_a_cli_rollback_marks_its_deployment() {
    // Rolled back within the warm window (see rollback_through_the_emergency_topic).
    let (local, app) = setup_warm_for(120).await;
    let gh = github_fake::FakeGitHub::start().await;
    gh.seed_pull("3f2c1ab", 46, "closed", true);
    let github_env = |token: &str| {
        [
            ("GITHUB_API_URL", gh.uri()),
            ("GITHUB_TOKEN", token.to_string()),
            (
                "GITHUB_REPOSITORY",
                format!("{}/{}", github_fake::OWNER, github_fake::REPO),
            ),
            ("GITHUB_SHA", "3f2c1ab".to_string()),
            ("GITHUB_EVENT_NAME", "push".to_string()),
        ]
    };
    let env = github_env(github_fake::TOKEN);
    let args = [
        "deploy",
        "--app",
        APP,
        "--version",
        "v2",
        "--image",
        "example/web:v2",
    ];
    let run = bluegreen_with(&local, &args, "601", &env).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    let lines = gh.lines().await;
    assert!(
        lines.contains(&"GET /repos/octo/shop/commits/3f2c1ab/pulls?per_page=100".to_string()),
        "{lines:?}"
    );
    let comments = gh.comments(46);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0].1.starts_with("<!-- bluegreen:web -->") && comments[0].1.contains("succeeded"),
        "{}",
        comments[0].1
    );
    let deployed = 1;
    assert_eq!(gh.states(deployed), ["in_progress", "success"]);
    // A newer release of the app that never went live: not what is rolled back.
    let failed = gh.seed_deployment_with(
        "production",
        json!({"app": APP, "version": "v3"}),
        &["failure"],
    );

    let topic = local.emergency_topic_arn.clone();
    let rollback = [
        "rollback",
        "--app",
        APP,
        "--reason",
        "5xx after v2",
        "--topic-arn",
        &topic,
    ];
    let rb = bluegreen_with(&local, &rollback, "602", &env).await;
    assert_eq!(rb.code, 0, "{}", rb.stdout);
    assert_eq!(app.app.listener_split().await, Split::all(Color::Blue));
    assert_eq!(
        gh.states(deployed),
        ["in_progress", "success", "failure"],
        "{}",
        rb.stdout
    );
    let statuses = gh
        .bodies(&format!(
            "POST /repos/octo/shop/deployments/{deployed}/statuses"
        ))
        .await;
    let description = statuses.last().unwrap()["description"].as_str().unwrap();
    assert!(description.contains("5xx after v2"), "{description}");
    assert_eq!(gh.states(failed), ["failure"]);

    // The rollback happened; GitHub refusing to hear about it is a warning.
    let again = bluegreen_with(&local, &rollback, "603", &github_env("ghs_wrong")).await;
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert!(again.stdout.contains("::warning::"), "{}", again.stdout);
    assert!(!again.stdout.contains("ghs_wrong"), "{}", again.stdout);
    assert_eq!(gh.states(deployed).len(), 3);
}

/// `bluegreen status` without `--app`: every app under the prefix, one line
/// each, and `--json` an array of the per-app documents.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn status_without_an_app_lists_every_app_under_the_prefix() {
    let (local, _web) = setup().await;
    let _api = local
        .app(
            "api",
            AppOptions {
                strategy: json!({"type": "all-at-once", "bake_seconds": 2}),
                monitor: json!({"min_requests": 0, "probe_requests": 2, "probe_timeout_ms": 1000}),
                ..AppOptions::default()
            },
        )
        .await
        .expect("second app");
    let run = deploy(&local, "v2", "401").await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    wait_for_executions_to_end(&local).await;

    let all = bluegreen(&local, &["status"], "402").await;
    assert_eq!(all.code, 0, "{}", all.stdout);
    let lines: Vec<&str> = all.stdout.lines().collect();
    assert!(
        lines[0].starts_with("APP"),
        "a header first: {}",
        all.stdout
    );
    let api = lines
        .iter()
        .find(|l| l.starts_with("api "))
        .expect("api listed");
    let web = lines
        .iter()
        .find(|l| l.starts_with("web "))
        .expect("web listed");
    assert!(
        api.contains("blue") && api.contains("v1") && api.contains("100/0"),
        "{api}"
    );
    assert!(
        web.contains("green") && web.contains("v2") && web.contains("0/100"),
        "{web}"
    );
    assert!(web.contains("free"), "no lock held: {web}");

    let json = bluegreen(&local, &["status", "--json"], "403").await;
    let apps: Value = serde_json::from_str(&json.stdout).expect("json");
    let names: Vec<&str> = apps
        .as_array()
        .expect("an array")
        .iter()
        .map(|a| a["app"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["api", "web"]);

    // `--region` wins over AWS_REGION: the apps live in us-east-1 only.
    let elsewhere = bluegreen(
        &local,
        &["status", "--json", "--region", "eu-west-1"],
        "404",
    )
    .await;
    assert_eq!(elsewhere.code, 0, "{}", elsewhere.stdout);
    assert_eq!(elsewhere.stdout.trim(), "[]", "no app in eu-west-1");
    let here = bluegreen(
        &local,
        &["status", "--json", "--region", "us-east-1"],
        "405",
    )
    .await;
    assert!(here.stdout.contains(r#""app": "web""#), "{}", here.stdout);
    assert_eq!(apps[1]["state"]["active_version"], "v2");
}

/// Through the real state machine: the old color's target group drains for
/// 3 s, the warm window is 1 s; the `WarmWindow` wait before scale-down
/// lasts the 3 s the target group needs.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scale_down_waits_out_the_old_colors_deregistration_delay() {
    let (local, app) = setup_warm_for(1).await;
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&local.sdk);
    elb.modify_target_group_attributes()
        .target_group_arn(app.app.target_group(Color::Blue))
        .attributes(
            aws_sdk_elasticloadbalancingv2::types::TargetGroupAttribute::builder()
                .key("deregistration_delay.timeout_seconds")
                .value("3")
                .build(),
        )
        .send()
        .await
        .expect("drain for 3 s");
    let run = deploy(&local, "v2", "901").await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    wait_for_executions_to_end(&local).await;
    let arn = run.execution();
    let events = local.execution_history(&arn).await.expect("history");
    let entered = events
        .iter()
        .find(|e| {
            e.state_entered_event_details()
                .is_some_and(|d| d.name() == "WarmWindow")
        })
        .map(|e| e.timestamp().as_secs_f64())
        .expect("the warm window began");
    let exited = events
        .iter()
        .find(|e| {
            e.state_exited_event_details()
                .is_some_and(|d| d.name() == "WarmWindow")
        })
        .map(|e| e.timestamp().as_secs_f64())
        .expect("the warm window ended");
    assert!(
        exited - entered >= 2.9,
        "waited {:.1} s, the target group drains for 3",
        exited - entered
    );
    assert_eq!(app.app.listener_split().await, Split::all(Color::Green));
}

/// `bluegreen rollback`'s exit codes, each from its own cause: 2 for an
/// app nobody configured (bad input, nothing changed), 3 when AWS cannot be
/// asked (a rollback function that does not exist), 1 for a refusal
/// (nothing to roll back to before any release), 0 once it rolled back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rollback_exit_codes_say_what_happened() {
    let (local, app) = setup().await;
    let unknown = bluegreen(
        &local,
        &[
            "rollback",
            "--app",
            "nope",
            "--reason",
            "x",
            "--function",
            "bluegreen-rollback",
        ],
        "951",
    )
    .await;
    assert_eq!(unknown.code, 2, "{}", unknown.stdout);
    assert!(unknown.stdout.contains("UnknownApp"), "{}", unknown.stdout);
    let no_function = bluegreen(
        &local,
        &[
            "rollback",
            "--app",
            APP,
            "--reason",
            "x",
            "--function",
            "no-such-function",
        ],
        "952",
    )
    .await;
    assert_eq!(no_function.code, 3, "{}", no_function.stdout);
    // `migrate contract` for an app without a contract migration: bad input.
    let no_contract = bluegreen(&local, &["migrate", "contract", "--app", APP], "956").await;
    assert_eq!(no_contract.code, 2, "{}", no_contract.stdout);
    assert!(
        no_contract.stdout.contains("migrations.contract"),
        "{}",
        no_contract.stdout
    );
    let nothing = rollback_now(&local, "nothing yet", &[], "953").await;
    assert_eq!(nothing.code, 1, "{}", nothing.stdout);
    assert!(
        nothing.stdout.contains("NothingToRollBack"),
        "{}",
        nothing.stdout
    );
    let run = deploy(&local, "v2", "954").await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    let back = rollback_now(&local, "checkout errors", &[], "955").await;
    assert_eq!(back.code, 0, "{}", back.stdout);
    assert_eq!(app.app.listener_split().await, Split::all(Color::Blue));
}

/// The other commands' exit codes, each from its own cause, and `--json`
/// giving one JSON document on stdout either way: 2 for an app nobody
/// configured (or an execution that does not exist), 1 for a refusal as the
/// world stands (nothing waits at a gate, a deployment holds the app), 3
/// when AWS cannot be asked (the endpoint refuses connections).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_command_says_by_its_exit_code_what_happened() {
    let (local, app) = setup().await;
    let code = |run: &Run| (run.code, run.stdout.clone());
    // 2: an unknown app (or execution), nothing changed.
    for (args, id) in [
        (vec!["status", "--app", "ghost"], "961"),
        (vec!["reconcile", "--app", "ghost"], "962"),
        (vec!["approve", "--app", "ghost"], "963"),
        (vec!["reject", "--app", "ghost", "--reason", "x"], "964"),
        (
            vec![
                "report",
                "--execution",
                "arn:aws:states:us-east-1:123456789012:execution:nope:nope",
            ],
            "965",
        ),
    ] {
        let run = bluegreen(&local, &args, id).await;
        assert_eq!(run.code, 2, "{args:?}: {}", run.stdout);
    }
    let json = bluegreen(&local, &["status", "--app", "ghost", "--json"], "966").await;
    let doc: Value = serde_json::from_str(&json.out).expect("one JSON document on stdout");
    assert_eq!(doc["exit_code"], 2, "{doc}");
    assert!(
        doc["error"]
            .as_str()
            .unwrap_or_default()
            .contains("UnknownApp"),
        "{doc}"
    );

    // 1: refused as the world stands.
    let approve = bluegreen(&local, &["approve", "--app", APP, "--json"], "967").await;
    assert_eq!(code(&approve).0, 1, "{}", approve.stdout);
    let doc: Value = serde_json::from_str(&approve.out).expect("one JSON document on stdout");
    assert!(
        doc["error"]
            .as_str()
            .unwrap_or_default()
            .contains("waits at a gate"),
        "{doc}"
    );
    let reject = bluegreen(&local, &["reject", "--app", APP, "--reason", "x"], "968").await;
    assert_eq!(reject.code, 1, "{}", reject.stdout);
    let holder = app.app.start_running_execution("release-v9").await;
    let now = time::OffsetDateTime::now_utc();
    let lock = json!({
        "holder": holder,
        "acquired_at": now.format(&time::format_description::well_known::Rfc3339).unwrap(),
        "expires_at": (now + time::Duration::hours(1)).format(&time::format_description::well_known::Rfc3339).unwrap(),
    });
    app.app
        .ssm
        .put_parameter()
        .name(format!("{}/{APP}/lock", bluegreen_local::example::PREFIX))
        .value(lock.to_string())
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .expect("put the lock");
    let reconcile = bluegreen(&local, &["reconcile", "--app", APP], "969").await;
    assert_eq!(reconcile.code, 1, "{}", reconcile.stdout);
    assert!(
        reconcile.stdout.contains("LockHeld"),
        "{}",
        reconcile.stdout
    );

    // 3: AWS cannot be asked.
    let unreachable = [("AWS_ENDPOINT_URL", "http://127.0.0.1:1".to_string())];
    for (args, id) in [
        (vec!["status", "--app", APP], "971"),
        (vec!["reconcile", "--app", APP], "972"),
        (vec!["approve", "--app", APP], "973"),
        (
            vec![
                "report",
                "--execution",
                "arn:aws:states:us-east-1:123456789012:execution:nope:nope",
            ],
            "974",
        ),
    ] {
        let run = bluegreen_with(&local, &args, id, &unreachable).await;
        assert_eq!(run.code, 3, "{args:?}: {}", run.stdout);
    }

    // 0, with --json: what it did, as JSON.
    let status = bluegreen(&local, &["status", "--app", APP, "--json"], "975").await;
    assert_eq!(status.code, 0, "{}", status.stdout);
    let doc: Value = serde_json::from_str(&status.out).expect("status JSON");
    assert_eq!(doc["app"], APP);
}

/// Following gives up at `--timeout-minutes` while the release bakes (the
/// log hearing a heartbeat meanwhile): the
/// outputs are set (`following-timed-out`), the exit code says it cannot
/// tell (3), and the GitHub deployment is marked `error` with the
/// execution's link instead of staying `in_progress` forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn following_that_times_out_marks_the_deployment_error_and_sets_the_outputs() {
    let (local, _app) = setup().await;
    let gh = github_fake::FakeGitHub::start().await;
    let env = pull_request_env(&gh, 48);
    // 15 s: enough for the release to reach its bake and a few heartbeats
    // on a loaded 2-core machine (6 s was not, once).
    let flags = [
        "--timeout-minutes",
        "0.25",
        "--heartbeat-seconds",
        "2",
        "--overrides",
        r#"{"strategy": {"type": "all-at-once", "bake_seconds": 120}}"#,
    ];
    let run = deploy_with(&local, "v2", &flags, "911", &env).await;
    assert_eq!(run.code, 3, "{}", run.stdout);
    assert!(
        run.outputs.contains("result=following-timed-out"),
        "{}",
        run.outputs
    );
    assert!(
        run.outputs.contains("execution-arn=arn:aws:states:"),
        "{}",
        run.outputs
    );
    assert!(run.stdout.contains("the release goes on"), "{}", run.stdout);
    // The bake is not silent in the log: a heartbeat every 2 s.
    assert!(
        run.stdout
            .contains("still baking step 1 of 1 (100% on green)")
            && run.stdout.contains("s of 120 s"),
        "{}",
        run.stdout
    );
    assert_eq!(gh.states(1), vec!["in_progress", "error"]);
    let statuses = gh
        .bodies("POST /repos/octo/shop/deployments/1/statuses")
        .await;
    let last = statuses.last().expect("statuses");
    assert!(
        last["log_url"]
            .as_str()
            .unwrap_or_default()
            .contains("states"),
        "the execution's link: {last}"
    );
    let comment = &gh.comments(48)[0].1;
    assert!(
        comment.contains("still running, no longer followed"),
        "{comment}"
    );
}

/// A release started with `--no-wait` leaves its deployment `in_progress`;
/// `bluegreen report --execution` from a later step reads the execution and
/// brings the deployment and the pull request's comment up to date, on the
/// same deployment, whatever the later step's run.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn report_brings_github_up_to_date_for_a_release_started_without_waiting() {
    let (local, app) = setup().await;
    let gh = github_fake::FakeGitHub::start().await;
    let env = pull_request_env(&gh, 49);
    let started = deploy_with(&local, "v2", &["--no-wait"], "931", &env).await;
    assert_eq!(started.code, 0, "{}", started.stdout);
    assert!(
        started.outputs.contains("result=started"),
        "{}",
        started.outputs
    );
    assert_eq!(gh.states(1), vec!["in_progress"]);
    let arn = started.execution();
    wait_for_executions_to_end(&local).await;
    assert_eq!(app.app.listener_split().await, Split::all(Color::Green));

    let reported = bluegreen_with(&local, &["report", "--execution", &arn], "932", &env).await;
    assert_eq!(reported.code, 0, "{}", reported.stdout);
    assert!(
        reported.stdout.contains("web v2: succeeded"),
        "{}",
        reported.stdout
    );
    assert_eq!(
        gh.states(1),
        vec!["in_progress", "success"],
        "the same deployment"
    );
    let created = gh
        .lines()
        .await
        .iter()
        .filter(|l| *l == "POST /repos/octo/shop/deployments")
        .count();
    assert_eq!(created, 1, "no second deployment");
    let comments = gh.comments(49);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(comments[0].1.contains("succeeded"), "{}", comments[0].1);
    // Again, as JSON: the same deployment, still one.
    let json = bluegreen_with(
        &local,
        &["report", "--execution", &arn, "--json"],
        "934",
        &env,
    )
    .await;
    assert_eq!(json.code, 0, "{}", json.stdout);
    let doc: Value = serde_json::from_str(&json.out).expect("one JSON document");
    assert_eq!(doc["outcome"], "succeeded", "{doc}");
    assert_eq!(doc["app"], APP, "{doc}");

    let unknown = bluegreen_with(
        &local,
        &[
            "report",
            "--execution",
            "arn:aws:states:us-east-1:123456789012:execution:x:y",
        ],
        "933",
        &env,
    )
    .await;
    assert_eq!(unknown.code, 2, "{}", unknown.stdout);
}
