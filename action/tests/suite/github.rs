//! GitHub reporting against a local GitHub fake: the exact requests of a
//! first run, a second run on the same pull request, the failure and
//! rollback paths, a push run commenting on the pull requests its commit came
//! from, marking a rolled-back deployment, retries on server errors and rate
//! limits, and the token kept out of every error.

use crate::github_fake as fake;
use crate::results;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bluegreen_action::github::{
    DeploymentState, Error, GitHub, Outcome, Release, Reporter, RetryPolicy, RunEvent, Settings,
    Sleeper, Token, console_url, marker,
};
use bluegreen_action::timeline::{Ending, Step};
use bluegreen_core::Color;
use bluegreen_smoke::{SmokeReport, TestReport, Totals};
use fake::{FakeGitHub, OWNER, REPO, TOKEN};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const SHA: &str = "3f2c1ab9d0e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8";
const ARN: &str = "arn:aws:states:eu-west-1:123456789012:execution:bluegreen:checkout-v4-1";
const PR: u64 = 7;

/// Records the waits instead of waiting.
#[derive(Default)]
struct Sleeps(Mutex<Vec<Duration>>);

impl Sleeper for Sleeps {
    fn sleep(&self, wait: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        self.0.lock().unwrap().push(wait);
        Box::pin(std::future::ready(()))
    }
}

impl Sleeps {
    fn seconds(&self) -> Vec<u64> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(Duration::as_secs)
            .collect()
    }
}

fn client(fake: &FakeGitHub) -> (GitHub, Arc<Sleeps>) {
    let sleeps = Arc::new(Sleeps::default());
    let github = GitHub::new(Settings {
        token: Token::new(TOKEN),
        api_url: fake.uri(),
        owner: OWNER.into(),
        repo: REPO.into(),
    })
    .unwrap()
    .with_retry(RetryPolicy {
        attempts: 4,
        base_delay: Duration::from_secs(1),
        max_wait: Duration::from_secs(60),
        sleeper: sleeps.clone(),
    });
    (github, sleeps)
}

fn repo(rest: &str) -> String {
    format!("/repos/{OWNER}/{REPO}{rest}")
}

fn release(version: &str, summary_path: Option<PathBuf>) -> Release {
    Release {
        app: "checkout".into(),
        version: version.into(),
        sha: SHA.into(),
        environment: "production".into(),
        production: true,
        pr: Some(PR),
        summary_path,
    }
}

fn summary_file(name: &str) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("bluegreen-github-{name}-{}.md", std::process::id()));
    std::fs::write(&path, "earlier step\n").unwrap();
    path
}

fn step(at: f64, state: &str, text: &str) -> Step {
    Step {
        at_seconds: at,
        state: state.into(),
        text: text.into(),
        chart: None,
    }
}

fn ending(status: &str, error: Option<&str>, cause: Option<&str>) -> Ending {
    Ending {
        status: status.into(),
        error: error.map(str::to_string),
        cause: cause.map(str::to_string),
        output: None,
        live: false,
        document: None,
        ..Ending::default()
    }
}

fn smoke(tests: Vec<(&str, bool, u16, Option<&str>)>) -> SmokeReport {
    let tests: Vec<TestReport> = tests
        .into_iter()
        .map(|(name, passed, status, reason)| TestReport {
            name: name.into(),
            method: "GET".into(),
            url: format!("http://idle:8081/{}", name.to_lowercase()),
            passed,
            skipped: false,
            status: Some(status),
            latency_ms: Some(9),
            attempts: 1,
            reason: reason.map(str::to_string),
            response_snippet: None,
        })
        .collect();
    let passed = tests.iter().filter(|t| t.passed).count();
    SmokeReport {
        passed: passed == tests.len(),
        base_url: "http://idle:8081".into(),
        route: None,
        totals: Totals {
            tests: tests.len(),
            passed,
            failed: tests.len() - passed,
            skipped: 0,
        },
        warmup: None,
        tests,
    }
}

fn live_doc(version: &str) -> Value {
    json!({
        "deploy": results::deploy(version, Color::Blue),
        "smoke": smoke(vec![("Health", true, 200, None)]),
        "switch": results::switch(version, Color::Blue, 0, &[100]),
        "monitor": monitor(100, "promote", &[], 300),
    })
}

fn live_steps(version: &str) -> Vec<Step> {
    vec![
        step(0.3, "DeployIdle", &format!("{version} on blue (2 task(s))")),
        step(0.5, "SmokeTest", "1 passed, 0 failed"),
        step(0.6, "Switch", "blue 100% / green 0%"),
        step(300.7, "Monitor", "promote"),
        step(300.8, "ReleaseLock", "lock released"),
    ]
}

async fn assert_every_request_authorized(fake: &FakeGitHub) {
    for seen in fake.seen().await {
        assert_eq!(
            seen.authorization.as_deref(),
            Some(format!("Bearer {TOKEN}").as_str()),
            "{}",
            seen.line
        );
    }
}

/// Two apps deploy to one environment (a monorepo): a release of one going
/// live retires that app's older deployments only; the other app's live
/// deployment, and one no app of ours made, stay as they are.
#[tokio::test]
async fn going_live_retires_only_this_apps_older_deployments() {
    let fake = FakeGitHub::start().await;
    let old_checkout = fake.seed_deployment_with(
        "production",
        json!({"app": "checkout", "version": "v3"}),
        &["success"],
    );
    let cart = fake.seed_deployment_with(
        "production",
        json!({"app": "cart", "version": "c9"}),
        &["success"],
    );
    let foreign = fake.seed_deployment("production", &["success"]);
    let (github, _) = client(&fake);
    let reporter = Reporter::create(
        github,
        release("v4", None),
        json!({"app": "checkout", "version": "v4"}),
    )
    .await
    .unwrap();
    reporter
        .finished(
            &live_steps("v4"),
            Some(&ending("SUCCEEDED", None, None)),
            Some(&live_doc("v4")),
            None,
        )
        .await
        .unwrap();
    assert_eq!(fake.states(old_checkout), ["success", "inactive"]);
    assert_eq!(
        fake.states(cart),
        ["success"],
        "another app's live deployment"
    );
    assert_eq!(
        fake.states(foreign),
        ["success"],
        "a deployment no app of ours made"
    );
}

#[tokio::test]
async fn first_run_creates_the_deployment_reports_progress_and_posts_the_comment() {
    let fake = FakeGitHub::start().await;
    let checkout = json!({"app": "checkout", "version": "v3"});
    let retired =
        fake.seed_deployment_with("production", checkout.clone(), &["success", "inactive"]);
    let previous = fake.seed_deployment_with("production", checkout, &["in_progress", "success"]);
    let staging = fake.seed_deployment("staging", &["success"]);
    let review = fake.seed_comment(PR, "LGTM");
    let (github, sleeps) = client(&fake);
    let summary = summary_file("first-run");

    let payload = json!({"app": "checkout", "version": "v4"});
    let mut reporter = Reporter::create(
        github,
        release("v4", Some(summary.clone())),
        payload.clone(),
    )
    .await
    .unwrap();
    let id = reporter.deployment_id();
    assert_eq!(id, 5);
    reporter.started(ARN).await.unwrap();
    let outcome = reporter
        .finished(
            &live_steps("v4"),
            Some(&ending("SUCCEEDED", None, None)),
            Some(&live_doc("v4")),
            Some("https://checkout.example.com"),
        )
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Succeeded);

    let comment = 6;
    assert_eq!(
        fake.lines().await,
        [
            "POST /repos/octo/shop/deployments".to_string(),
            format!("POST /repos/octo/shop/deployments/{id}/statuses"),
            "GET /repos/octo/shop/issues/7/comments?per_page=100&page=1".into(),
            "POST /repos/octo/shop/issues/7/comments".into(),
            format!("POST /repos/octo/shop/deployments/{id}/statuses"),
            "GET /repos/octo/shop/deployments?environment=production&per_page=100&page=1".into(),
            format!("GET /repos/octo/shop/deployments/{previous}/statuses?per_page=1"),
            format!("GET /repos/octo/shop/deployments/{retired}/statuses?per_page=1"),
            format!("POST /repos/octo/shop/deployments/{previous}/statuses"),
            "GET /repos/octo/shop/issues/7/comments?per_page=100&page=1".into(),
            format!("PATCH /repos/octo/shop/issues/comments/{comment}"),
        ]
    );
    assert_every_request_authorized(&fake).await;
    assert!(sleeps.seconds().is_empty());

    let created = &fake.bodies("POST /repos/octo/shop/deployments").await[0];
    assert_eq!(created["ref"], SHA);
    assert_eq!(created["environment"], "production");
    assert_eq!(created["auto_merge"], false);
    assert_eq!(created["required_contexts"], json!([]));
    assert_eq!(created["transient_environment"], false);
    assert_eq!(created["production_environment"], true);
    assert_eq!(created["payload"], payload);

    let statuses = fake
        .bodies(&format!(
            "POST {}",
            repo(&format!("/deployments/{id}/statuses"))
        ))
        .await;
    let log_url = console_url(ARN).unwrap();
    assert_eq!(statuses[0]["state"], "in_progress");
    assert_eq!(statuses[0]["log_url"], log_url.as_str());
    assert_eq!(statuses[0]["auto_inactive"], false);
    assert_eq!(statuses[0].get("environment_url"), None);
    assert_eq!(statuses[1]["state"], "success");
    assert_eq!(statuses[1]["description"], "v4 is live");
    assert_eq!(statuses[1]["log_url"], log_url.as_str());
    assert_eq!(
        statuses[1]["environment_url"],
        "https://checkout.example.com"
    );

    assert_eq!(fake.states(id), ["in_progress", "success"]);
    assert_eq!(
        fake.states(previous),
        ["in_progress", "success", "inactive"]
    );
    assert_eq!(fake.states(retired), ["success", "inactive"]);
    assert_eq!(fake.states(staging), ["success"]);

    let first = &fake.bodies("POST /repos/octo/shop/issues/7/comments").await[0];
    let first = first["body"].as_str().unwrap();
    assert!(
        first.starts_with("<!-- bluegreen:checkout -->\n### ⏳ checkout `v4`: in progress\n"),
        "{first}"
    );
    assert!(
        first.contains(&format!("[Step Functions execution]({log_url})")),
        "{first}"
    );
    let comments = fake.comments(PR);
    assert_eq!(comments.len(), 2);
    assert_eq!(comments[0], (review, "LGTM".to_string()));
    let (_, last) = &comments[1];
    assert!(
        last.starts_with(&format!(
            "{}\n### ✅ checkout `v4`: succeeded\n",
            marker("checkout")
        )),
        "{last}"
    );
    assert!(
        last.contains("| Health | ✅ passed | 200 | 9 ms |  |"),
        "{last}"
    );

    let written = std::fs::read_to_string(&summary).unwrap();
    std::fs::remove_file(&summary).unwrap();
    let report = last
        .strip_prefix(&format!("{}\n", marker("checkout")))
        .unwrap();
    assert_eq!(written, format!("earlier step\n\n{}\n", report.trim_end()));
}

#[tokio::test]
async fn the_comment_follows_the_release_while_it_runs() {
    let fake = FakeGitHub::start().await;
    let (github, _) = client(&fake);
    let mut reporter = Reporter::create(github, release("v4", None), json!({}))
        .await
        .unwrap();
    reporter.started(ARN).await.unwrap();
    let interval = Duration::from_millis(300);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let sending = async move {
        tx.send((step(0.0, "DeployIdle", "deployed v4 to green"), None))
            .unwrap();
        // Two more at once: one update for both, after the interval.
        tokio::time::sleep(Duration::from_millis(50)).await;
        tx.send((step(4.0, "CheckIdle", "green is ready"), None))
            .unwrap();
        tx.send((step(9.0, "SmokeTest", "smoke tests passed"), None))
            .unwrap();
        tokio::time::sleep(interval * 2).await;
    };
    let (_, steps) = tokio::join!(
        sending,
        bluegreen_action::commands::deploy::report_progress(Some(&reporter), rx, interval)
    );
    assert_eq!(steps.len(), 3);

    let comments = fake.comments(PR);
    assert_eq!(comments.len(), 1, "one sticky comment");
    let edits = fake
        .bodies(&format!(
            "PATCH {}",
            repo(&format!("/issues/comments/{}", comments[0].0))
        ))
        .await;
    assert_eq!(edits.len(), 2, "one edit per interval: {edits:?}");
    let first = edits[0]["body"].as_str().unwrap();
    assert!(
        first.contains("deployed v4 to green") && !first.contains("green is ready"),
        "{first}"
    );
    let second = edits[1]["body"].as_str().unwrap();
    assert!(second.contains("smoke tests passed"), "{second}");
}

#[tokio::test]
async fn a_retried_step_reports_on_the_deployment_it_created() {
    let fake = FakeGitHub::start().await;
    let other_run = fake.seed_deployment("production", &["failure"]);
    let payload = json!({"app": "checkout", "version": "v4", "execution_name": "checkout-v4-9-1"});
    let (github, _) = client(&fake);
    let first = Reporter::create(github, release("v4", None), payload.clone())
        .await
        .unwrap();
    let (github, _) = client(&fake);
    let again = Reporter::create(github, release("v4", None), payload)
        .await
        .unwrap();
    assert_eq!(first.deployment_id(), again.deployment_id());
    assert_ne!(first.deployment_id(), other_run);
    let lines = fake.lines().await;
    let sha = format!(
        "GET {}",
        repo(&format!(
            "/deployments?sha={SHA}&environment=production&per_page=100"
        ))
    );
    assert_eq!(
        lines,
        [
            sha.clone(),
            "POST /repos/octo/shop/deployments".to_string(),
            sha
        ]
    );
}

#[tokio::test]
async fn a_second_run_on_the_same_pull_request_edits_the_same_comment() {
    let fake = FakeGitHub::start().await;
    // More than a page of other comments, a reply quoting ours, another app's.
    for i in 0..100 {
        fake.seed_comment(PR, &format!("comment {i}"));
    }
    fake.seed_comment(
        PR,
        "> <!-- bluegreen:checkout -->\n> ### ✅ checkout `v1`: succeeded\nnice",
    );
    fake.seed_comment(
        PR,
        "<!-- bluegreen:payments -->\n### ✅ payments `v9`: succeeded",
    );
    let (github, _) = client(&fake);

    let mut first = Reporter::create(github, release("v4", None), json!({"app": "checkout"}))
        .await
        .unwrap();
    first.started(ARN).await.unwrap();
    first
        .finished(
            &live_steps("v4"),
            Some(&ending("SUCCEEDED", None, None)),
            Some(&live_doc("v4")),
            None,
        )
        .await
        .unwrap();
    let ours: Vec<(u64, String)> = fake
        .comments(PR)
        .into_iter()
        .filter(|(_, b)| b.starts_with(&marker("checkout")))
        .collect();
    assert_eq!(ours.len(), 1);
    let comment = ours[0].0;
    let before = fake.lines().await.len();

    let (github, _) = client(&fake);
    let mut second = Reporter::create(github, release("v5", None), json!({"app": "checkout"}))
        .await
        .unwrap();
    let (d1, d2) = (first.deployment_id(), second.deployment_id());
    second.started(ARN).await.unwrap();
    let steps = live_steps("v5");
    second
        .progress(&steps[..2], Some(&live_doc("v5")))
        .await
        .unwrap();
    second
        .finished(
            &steps,
            Some(&ending("SUCCEEDED", None, None)),
            Some(&live_doc("v5")),
            None,
        )
        .await
        .unwrap();

    let find = [
        "GET /repos/octo/shop/issues/7/comments?per_page=100&page=1".to_string(),
        "GET /repos/octo/shop/issues/7/comments?per_page=100&page=2".to_string(),
        format!("PATCH /repos/octo/shop/issues/comments/{comment}"),
    ];
    let mut expected = vec![
        "POST /repos/octo/shop/deployments".to_string(),
        format!("POST /repos/octo/shop/deployments/{d2}/statuses"),
    ];
    expected.extend(find.clone()); // started
    expected.extend(find.clone()); // progress
    expected.extend([
        format!("POST /repos/octo/shop/deployments/{d2}/statuses"),
        "GET /repos/octo/shop/deployments?environment=production&per_page=100&page=1".into(),
        format!("GET /repos/octo/shop/deployments/{d1}/statuses?per_page=1"),
        format!("POST /repos/octo/shop/deployments/{d1}/statuses"),
    ]);
    expected.extend(find); // finished
    assert_eq!(fake.lines().await[before..], expected);
    assert_every_request_authorized(&fake).await;

    let comments = fake.comments(PR);
    assert_eq!(comments.len(), 103);
    let ours: Vec<&(u64, String)> = comments
        .iter()
        .filter(|(_, b)| b.starts_with(&marker("checkout")))
        .collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].0, comment);
    assert!(
        ours[0].1.contains("### ✅ checkout `v5`: succeeded"),
        "{}",
        ours[0].1
    );
    assert!(
        comments[100].1.starts_with("> <!--"),
        "the quoting reply is untouched"
    );
    assert!(
        comments[101].1.contains("payments `v9`"),
        "another app's comment is untouched"
    );
    assert_eq!(fake.states(d1), ["in_progress", "success", "inactive"]);
    assert_eq!(fake.states(d2), ["in_progress", "success"]);
}

#[tokio::test]
async fn a_failed_release_gets_a_failure_status_and_the_comment_says_why() {
    let fake = FakeGitHub::start().await;
    let previous = fake.seed_deployment("production", &["success"]);
    let (github, _) = client(&fake);
    let summary = summary_file("failure");

    let mut reporter = Reporter::create(github, release("v4", Some(summary.clone())), json!({}))
        .await
        .unwrap();
    let id = reporter.deployment_id();
    reporter.started(ARN).await.unwrap();

    let failing = smoke(vec![
        ("Health", false, 503, Some("expected status 200, got 503")),
        ("Version", true, 200, None),
    ]);
    let message = format!(
        "{}\nreport: {}",
        failing.summary(),
        serde_json::to_string(&failing).unwrap()
    );
    let doc = json!({
        "deploy": results::deploy("v4", Color::Blue),
        "error": {"Error": "SmokeTestFailed",
                  "Cause": json!({"errorType": "SmokeTestFailed", "errorMessage": message}).to_string()},
    });
    let outcome = reporter
        .finished(
            &[step(
                0.5,
                "",
                "error SmokeTestFailed: 1 of 2 smoke tests did not pass",
            )],
            Some(&ending(
                "FAILED",
                Some("Aborted"),
                Some("failed before any traffic moved; traffic untouched; see $.error"),
            )),
            Some(&doc),
            Some("https://checkout.example.com"),
        )
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Failed);
    assert_eq!(outcome.deployment_state(), DeploymentState::Failure);

    assert_eq!(
        fake.lines().await,
        [
            "POST /repos/octo/shop/deployments".to_string(),
            format!("POST /repos/octo/shop/deployments/{id}/statuses"),
            "GET /repos/octo/shop/issues/7/comments?per_page=100&page=1".into(),
            "POST /repos/octo/shop/issues/7/comments".into(),
            format!("POST /repos/octo/shop/deployments/{id}/statuses"),
            "GET /repos/octo/shop/issues/7/comments?per_page=100&page=1".into(),
            "PATCH /repos/octo/shop/issues/comments/3".into(),
        ]
    );
    let statuses = fake
        .bodies(&format!(
            "POST {}",
            repo(&format!("/deployments/{id}/statuses"))
        ))
        .await;
    assert_eq!(statuses[1]["state"], "failure");
    assert_eq!(statuses[1]["description"], "v4 failed: Aborted");
    assert_eq!(statuses[1]["auto_inactive"], false);
    assert_eq!(
        statuses[1].get("environment_url"),
        None,
        "no link to an environment it never reached"
    );
    assert_eq!(fake.states(previous), ["success"]);

    let comments = fake.comments(PR);
    assert_eq!(comments.len(), 1);
    let body = &comments[0].1;
    assert!(body.contains("### ❌ checkout `v4`: failed\n"), "{body}");
    assert!(
        body.contains("> **SmokeTestFailed** (`error`): 1 of 2 smoke tests did not pass"),
        "{body}"
    );
    assert!(
        body.contains("| Health | ❌ failed | 503 | 9 ms | expected status 200, got 503 |"),
        "{body}"
    );
    let written = std::fs::read_to_string(&summary).unwrap();
    std::fs::remove_file(&summary).unwrap();
    assert!(
        written.contains("### ❌ checkout `v4`: failed\n"),
        "{written}"
    );
}

#[tokio::test]
async fn a_rolled_back_release_leaves_the_previous_deployment_active() {
    let fake = FakeGitHub::start().await;
    let previous = fake.seed_deployment("production", &["in_progress", "success"]);
    let (github, _) = client(&fake);

    let mut reporter = Reporter::create(github, release("v4", None), json!({}))
        .await
        .unwrap();
    let id = reporter.deployment_id();
    reporter.started(ARN).await.unwrap();
    let doc = json!({
        "deploy": results::deploy("v4", Color::Blue),
        "switch": results::switch("v4", Color::Blue, 0, &[50, 100]),
        "monitor": monitor(50, "breach", &["probes: 3 of 6 failed (first: HTTP 500)"], 10),
        "rollback": results::rollback(Color::Green, "v2", "v4", "monitor breach"),
    });
    let steps = [
        step(0.6, "Switch", "blue 50% / green 50%"),
        step(
            0.6,
            "Monitor",
            "breach probes: 3 of 6 failed (first: HTTP 500)",
        ),
        step(0.8, "Rollback", "all traffic back on green (v2)"),
        step(0.8, "ReleaseLockAfterRollback", "lock released"),
    ];
    let outcome = reporter
        .finished(
            &steps,
            Some(&ending(
                "FAILED",
                Some("RolledBack"),
                Some("release rolled back; see $.rollback"),
            )),
            Some(&doc),
            Some("https://checkout.example.com"),
        )
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::RolledBack);

    let lines = fake.lines().await;
    assert_eq!(
        lines,
        [
            "POST /repos/octo/shop/deployments".to_string(),
            format!("POST /repos/octo/shop/deployments/{id}/statuses"),
            "GET /repos/octo/shop/issues/7/comments?per_page=100&page=1".into(),
            "POST /repos/octo/shop/issues/7/comments".into(),
            format!("POST /repos/octo/shop/deployments/{id}/statuses"),
            "GET /repos/octo/shop/issues/7/comments?per_page=100&page=1".into(),
            "PATCH /repos/octo/shop/issues/comments/3".into(),
        ],
        "no deployment listing, nothing marked inactive"
    );
    let statuses = fake
        .bodies(&format!(
            "POST {}",
            repo(&format!("/deployments/{id}/statuses"))
        ))
        .await;
    assert_eq!(statuses[1]["state"], "failure");
    assert_eq!(statuses[1]["description"], "v4 was rolled back");
    assert_eq!(statuses[1]["auto_inactive"], false);
    assert_eq!(fake.states(previous), ["in_progress", "success"]);

    let body = &fake.comments(PR)[0].1;
    assert!(
        body.contains("### ↩️ checkout `v4`: rolled back\n"),
        "{body}"
    );
    assert!(
        body.contains("**Production:** **green** `v2` (rolled back)"),
        "{body}"
    );
    assert!(body.contains("| 1 of 2 | 50% | 🔥 breach |"), "{body}");
    assert!(
        body.contains("<details><summary>Timeline (4 steps)</summary>"),
        "{body}"
    );
}

#[tokio::test]
async fn server_errors_are_retried_with_growing_waits() {
    let fake = FakeGitHub::start().await;
    let (github, sleeps) = client(&fake);
    Mock::given(method("POST"))
        .and(path(repo("/deployments")))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&fake.server)
        .await;
    let id = github
        .create_deployment(SHA, "production", "checkout v4", json!({}), true)
        .await
        .unwrap();
    assert_eq!(fake.states(id), Vec::<String>::new());
    assert_eq!(sleeps.seconds(), [1]);

    Mock::given(method("POST"))
        .and(path(repo(&format!("/deployments/{id}/statuses"))))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(3)
        .with_priority(1)
        .mount(&fake.server)
        .await;
    github
        .set_status(id, DeploymentState::InProgress, None, None, "deploying v4")
        .await
        .unwrap();
    assert_eq!(fake.states(id), ["in_progress"]);
    assert_eq!(sleeps.seconds(), [1, 1, 2, 4]);
    let status_line = format!("POST /repos/octo/shop/deployments/{id}/statuses");
    assert_eq!(
        fake.lines().await,
        [
            "POST /repos/octo/shop/deployments".to_string(),
            "POST /repos/octo/shop/deployments".into(),
            status_line.clone(),
            status_line.clone(),
            status_line.clone(),
            status_line,
        ]
    );
    assert_every_request_authorized(&fake).await;

    // Bounded: four attempts, then a clear error.
    Mock::given(method("POST"))
        .and(path(repo("/deployments/77/statuses")))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"message": "Server Error"})))
        .with_priority(1)
        .mount(&fake.server)
        .await;
    let e = github
        .set_status(77, DeploymentState::Success, None, None, "v4 is live")
        .await
        .unwrap_err();
    assert!(matches!(e, Error::GaveUp { attempts: 4, .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "GitHub POST /repos/octo/shop/deployments/77/statuses: still failing after 4 attempts; \
         last: GitHub POST /repos/octo/shop/deployments/77/statuses: HTTP 500: Server Error"
    );
}

#[tokio::test]
async fn a_lost_answer_to_a_new_comment_does_not_post_it_twice() {
    let fake = FakeGitHub::start().await;
    let (github, sleeps) = client(&fake);
    fake.lose_next_answer("POST /repos/octo/shop/issues/7/comments");

    let id = github
        .upsert_comment(PR, "checkout", "report")
        .await
        .unwrap();

    assert_eq!(
        fake.lines().await,
        [
            "GET /repos/octo/shop/issues/7/comments?per_page=100&page=1".to_string(),
            "POST /repos/octo/shop/issues/7/comments".into(),
            "GET /repos/octo/shop/issues/7/comments?per_page=100&page=1".into(),
            format!("PATCH /repos/octo/shop/issues/comments/{id}"),
        ]
    );
    assert_eq!(
        fake.comments(PR),
        [(id, "<!-- bluegreen:checkout -->\nreport".to_string())]
    );
    assert_eq!(sleeps.seconds(), [1]);
}

#[tokio::test]
async fn rate_limits_wait_as_long_as_github_says_then_go_on() {
    let fake = FakeGitHub::start().await;
    let (github, sleeps) = client(&fake);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    Mock::given(method("GET"))
        .and(path(repo("/issues/7/comments")))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", (now + 30).to_string().as_str())
                .set_body_json(json!({"message": "API rate limit exceeded"})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("POST"))
        .and(path(repo("/issues/7/comments")))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "7")
                .set_body_json(json!({"message": "You have exceeded a secondary rate limit"})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&fake.server)
        .await;

    let id = github
        .upsert_comment(PR, "checkout", "report")
        .await
        .unwrap();

    assert_eq!(
        fake.lines().await,
        [
            "GET /repos/octo/shop/issues/7/comments?per_page=100&page=1",
            "GET /repos/octo/shop/issues/7/comments?per_page=100&page=1",
            "POST /repos/octo/shop/issues/7/comments",
            "POST /repos/octo/shop/issues/7/comments",
        ]
    );
    let waits = sleeps.seconds();
    assert!((29..=32).contains(&waits[0]), "until the reset: {waits:?}");
    assert_eq!(waits[1], 7, "retry-after: {waits:?}");
    assert_eq!(fake.comments(PR).len(), 1);
    assert_eq!(fake.comments(PR)[0].0, id);
}

#[tokio::test]
async fn a_long_rate_limit_or_a_refusal_fails_at_once_without_the_token() {
    let fake = FakeGitHub::start().await;
    let (github, sleeps) = client(&fake);
    Mock::given(method("POST"))
        .and(path(repo("/deployments")))
        .respond_with(ResponseTemplate::new(403).insert_header("retry-after", "3600"))
        .with_priority(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("POST"))
        .and(path(repo("/deployments/9/statuses")))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "message": format!("Resource not accessible by integration (token {TOKEN})")
        })))
        .with_priority(1)
        .mount(&fake.server)
        .await;

    let limited = github
        .create_deployment(SHA, "production", "checkout v4", json!({}), true)
        .await
        .unwrap_err();
    assert_eq!(
        limited.to_string(),
        "GitHub POST /repos/octo/shop/deployments: rate limited; GitHub asks to wait 3600 s, \
         longer than the 60 s this run waits"
    );
    let refused = github
        .set_status(9, DeploymentState::Success, None, None, "v4 is live")
        .await
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "GitHub POST /repos/octo/shop/deployments/9/statuses: HTTP 403: \
         Resource not accessible by integration (token ***)"
    );
    assert_eq!(fake.lines().await.len(), 2, "neither is retried");
    assert!(sleeps.seconds().is_empty());
    for text in [
        limited.to_string(),
        format!("{limited:?}"),
        refused.to_string(),
        format!("{refused:?}"),
        format!("{github:?}"),
    ] {
        assert!(!text.contains(TOKEN), "{text}");
    }
    assert_every_request_authorized(&fake).await;
}

/// A push run: no pull request named, the commit says where it came from.
fn pushed(version: &str, summary_path: Option<PathBuf>) -> Release {
    Release {
        pr: None,
        ..release(version, summary_path)
    }
}

fn push() -> RunEvent {
    RunEvent::Push { sha: SHA.into() }
}

#[tokio::test]
async fn a_push_run_edits_the_sticky_comment_on_the_merged_pull_request_of_its_commit() {
    let fake = FakeGitHub::start().await;
    let merged = 12;
    fake.seed_pull(SHA, merged, "closed", true);
    // The pull_request run before the merge left the app's comment there.
    let comment = fake.seed_comment(
        merged,
        &format!("{}\n### ✅ checkout `v3`: succeeded", marker("checkout")),
    );
    let (github, _) = client(&fake);
    let summary = summary_file("push");

    let mut reporter = Reporter::create_for(
        github,
        pushed("v4", Some(summary.clone())),
        json!({}),
        &push(),
    )
    .await
    .unwrap();
    let id = reporter.deployment_id();
    reporter.started(ARN).await.unwrap();
    let outcome = reporter
        .finished(
            &live_steps("v4"),
            Some(&ending("SUCCEEDED", None, None)),
            Some(&live_doc("v4")),
            None,
        )
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Succeeded);

    let find = "GET /repos/octo/shop/issues/12/comments?per_page=100&page=1".to_string();
    let edit = format!("PATCH /repos/octo/shop/issues/comments/{comment}");
    let status = format!("POST /repos/octo/shop/deployments/{id}/statuses");
    assert_eq!(
        fake.lines().await,
        [
            "POST /repos/octo/shop/deployments".to_string(),
            format!("GET /repos/octo/shop/commits/{SHA}/pulls?per_page=100"),
            status.clone(),
            find.clone(),
            edit.clone(),
            status,
            "GET /repos/octo/shop/deployments?environment=production&per_page=100&page=1".into(),
            find,
            edit,
        ]
    );
    assert_every_request_authorized(&fake).await;
    let comments = fake.comments(merged);
    assert_eq!(comments.len(), 1, "the same sticky comment: {comments:?}");
    assert_eq!(comments[0].0, comment);
    assert!(
        comments[0].1.starts_with(&format!(
            "{}\n### ✅ checkout `v4`: succeeded\n",
            marker("checkout")
        )),
        "{}",
        comments[0].1
    );
    let written = std::fs::read_to_string(&summary).unwrap();
    std::fs::remove_file(&summary).unwrap();
    assert!(
        written.contains("### ✅ checkout `v4`: succeeded\n"),
        "{written}"
    );
}

#[tokio::test]
async fn a_push_run_comments_on_at_most_three_pull_requests_and_not_on_abandoned_ones() {
    let fake = FakeGitHub::start().await;
    fake.seed_pull(SHA, 20, "closed", false); // closed without merging
    fake.seed_pull(SHA, 21, "closed", true);
    fake.seed_pull(SHA, 22, "open", false);
    fake.seed_pull(SHA, 23, "open", false);
    fake.seed_pull(SHA, 24, "open", false);
    let (github, _) = client(&fake);

    let mut reporter = Reporter::create_for(github, pushed("v4", None), json!({}), &push())
        .await
        .unwrap();
    reporter.started(ARN).await.unwrap();

    assert!(fake.comments(20).is_empty(), "an abandoned pull request");
    for pr in [21, 22, 23] {
        let comments = fake.comments(pr);
        assert_eq!(comments.len(), 1, "#{pr}: {comments:?}");
        assert!(
            comments[0].1.starts_with(&marker("checkout")),
            "#{pr}: {}",
            comments[0].1
        );
    }
    assert!(fake.comments(24).is_empty(), "three at most");
}

#[tokio::test]
async fn a_push_run_whose_pull_request_lookup_fails_still_reports_and_writes_the_summary() {
    let fake = FakeGitHub::start().await;
    fake.seed_pull(SHA, 12, "closed", true);
    Mock::given(method("GET"))
        .and(path(repo(&format!("/commits/{SHA}/pulls"))))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"message": "Server Error"})))
        .with_priority(1)
        .mount(&fake.server)
        .await;
    let (github, sleeps) = client(&fake);
    let summary = summary_file("push-lookup-fails");

    let mut reporter = Reporter::create_for(
        github,
        pushed("v4", Some(summary.clone())),
        json!({}),
        &push(),
    )
    .await
    .expect("a failed lookup does not stop the deployment");
    let id = reporter.deployment_id();
    reporter.started(ARN).await.unwrap();
    let outcome = reporter
        .finished(
            &live_steps("v4"),
            Some(&ending("SUCCEEDED", None, None)),
            Some(&live_doc("v4")),
            None,
        )
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Succeeded);

    let pulls = format!("GET /repos/octo/shop/commits/{SHA}/pulls?per_page=100");
    let status = format!("POST /repos/octo/shop/deployments/{id}/statuses");
    assert_eq!(
        fake.lines().await,
        [
            "POST /repos/octo/shop/deployments".to_string(),
            pulls.clone(),
            pulls.clone(),
            pulls.clone(),
            pulls,
            status.clone(),
            status,
            "GET /repos/octo/shop/deployments?environment=production&per_page=100&page=1".into(),
        ],
        "retried like any request, then no comment anywhere"
    );
    assert_eq!(sleeps.seconds(), [1, 2, 4]);
    assert_eq!(fake.states(id), ["in_progress", "success"]);
    assert!(fake.comments(12).is_empty());
    let written = std::fs::read_to_string(&summary).unwrap();
    std::fs::remove_file(&summary).unwrap();
    assert!(
        written.starts_with("earlier step\n\n### ✅ checkout `v4`: succeeded\n"),
        "{written}"
    );
}

#[tokio::test]
async fn a_pull_request_run_comments_where_it_is_told_without_a_lookup() {
    let fake = FakeGitHub::start().await;
    fake.seed_pull(SHA, 12, "closed", true);
    let (github, _) = client(&fake);
    // `BLUEGREEN_PR` wins even on a push run.
    let mut reporter = Reporter::create_for(github, release("v4", None), json!({}), &push())
        .await
        .unwrap();
    reporter.started(ARN).await.unwrap();
    assert_eq!(fake.comments(PR).len(), 1);
    assert!(fake.comments(12).is_empty());
    assert!(
        !fake.lines().await.iter().any(|l| l.contains("/pulls")),
        "no lookup"
    );
}

#[tokio::test]
async fn a_rollback_marks_the_deployment_of_the_release_it_rolled_back() {
    let fake = FakeGitHub::start().await;
    let app = |version: &str| json!({"app": "checkout", "version": version, "execution_name": "x"});
    let live = fake.seed_deployment_with("production", app("v2"), &["in_progress", "success"]);
    let staging = fake.seed_deployment_with("staging", app("v2"), &["success"]);
    // Newer, but it never went live: not what a rollback undoes.
    let failed = fake.seed_deployment_with("production", app("v3"), &["failure"]);
    let other_app = fake.seed_deployment_with(
        "production",
        json!({"app": "payments", "version": "v9"}),
        &["success"],
    );
    let foreign = fake.seed_deployment("production", &["success"]);
    let (github, _) = client(&fake);

    let marked = github
        .mark_rolled_back("production", "checkout", Some("v2"), "5xx after v2")
        .await
        .unwrap();
    assert_eq!(marked, Some(live));
    assert_eq!(
        fake.lines().await,
        [
            "GET /repos/octo/shop/deployments?environment=production&per_page=100&page=1"
                .to_string(),
            format!("POST /repos/octo/shop/deployments/{live}/statuses"),
        ]
    );
    let posted = fake
        .bodies(&format!(
            "POST {}",
            repo(&format!("/deployments/{live}/statuses"))
        ))
        .await;
    assert_eq!(posted[0]["state"], "failure");
    assert_eq!(posted[0]["description"], "v2 was rolled back: 5xx after v2");
    assert_eq!(posted[0]["auto_inactive"], false);
    assert_eq!(fake.states(live), ["in_progress", "success", "failure"]);
    for (id, states) in [
        (staging, vec!["success"]),
        (failed, vec!["failure"]),
        (other_app, vec!["success"]),
        (foreign, vec!["success"]),
    ] {
        assert_eq!(fake.states(id), states, "deployment {id}");
    }

    // Without the version, the app's newest deployment there.
    let marked = github
        .mark_rolled_back("production", "checkout", None, "by hand")
        .await
        .unwrap();
    assert_eq!(marked, Some(failed));
    // Nothing of this app and version: nothing marked.
    let marked = github
        .mark_rolled_back("production", "checkout", Some("v1"), "r")
        .await
        .unwrap();
    assert_eq!(marked, None);
    let marked = github
        .mark_rolled_back("production", "search", None, "r")
        .await
        .unwrap();
    assert_eq!(marked, None);
    // A long reason is cut to what GitHub keeps.
    let long = "x".repeat(500);
    github
        .mark_rolled_back("production", "checkout", Some("v2"), &long)
        .await
        .unwrap();
    let posted = fake
        .bodies(&format!(
            "POST {}",
            repo(&format!("/deployments/{live}/statuses"))
        ))
        .await;
    let description = posted[1]["description"].as_str().unwrap();
    assert_eq!(description.chars().count(), 140, "{description}");
}

/// The first step's monitor result, as the monitor Lambda writes it.
fn monitor(weight: u8, verdict: &str, reasons: &[&str], elapsed: u64) -> Value {
    serde_json::to_value(bluegreen_core::steps::monitor::MonitorOutcome {
        verdict: serde_json::from_value(json!(verdict)).unwrap(),
        reasons: reasons.iter().map(|r| r.to_string()).collect(),
        step: 0,
        weight,
        bake_started_at: time::OffsetDateTime::UNIX_EPOCH,
        elapsed_seconds: elapsed,
        bake_seconds: 300,
        slices: 1,
        decided_at: time::OffsetDateTime::UNIX_EPOCH,
        figures: Default::default(),
        execution_arn: None,
        hooks: Vec::new(),
        notices: Vec::new(),
    })
    .unwrap()
}
