//! Approval gates through the real state machine in local mode: the release
//! waits at the gate with traffic untouched; `bluegreen approve` (a process)
//! lets it go live, `bluegreen reject` aborts it, and a gate nobody decides
//! aborts at its timeout.

use std::time::{Duration, Instant};

use bluegreen_core::{Color, Split};
use bluegreen_local::{Local, LocalApp};
use serde_json::Value;

use super::{APP, Run, bluegreen, deploy_with, setup};
use crate::github_fake::FakeGitHub;

/// `bluegreen deploy` of v2 with these gates as the release's overrides.
async fn deploy_gated(local: &Local, gates: &str, run_id: &str) -> Run {
    let overrides = format!(r#"{{"gates": {gates}}}"#);
    deploy_with(local, "v2", &["--overrides", &overrides], run_id, &[]).await
}

/// The gate record, once the release waits there.
async fn wait_for_gate(app: &LocalApp) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some((value, _)) = app.app.parameter("gate").await {
            return serde_json::from_str(&value).expect("the gate record is JSON");
        }
        assert!(
            Instant::now() < deadline,
            "the release never reached its gate"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The documents the execution's states entered and left with, as its
/// history shows them (a failed execution has no output of its own).
async fn documents(local: &Local, arn: &str) -> Vec<Value> {
    let events = local
        .execution_history(arn)
        .await
        .expect("execution history");
    events
        .iter()
        .filter_map(|e| {
            e.state_entered_event_details()
                .and_then(|d| d.input())
                .or_else(|| e.state_exited_event_details().and_then(|d| d.output()))
        })
        .filter_map(|text| serde_json::from_str(text).ok())
        .collect()
}

/// The last document of the execution that has `key`.
async fn last_with(local: &Local, arn: &str, key: &str) -> Value {
    documents(local, arn)
        .await
        .into_iter()
        .rev()
        .find(|d| d.get(key).is_some())
        .unwrap_or_else(|| panic!("no state of {arn} saw `{key}`"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_release_waits_at_its_gate_until_approved_then_goes_live() {
    let (local, app) = setup().await;
    let (run, approved) = tokio::join!(deploy_gated(&local, r#"{"approval": {}}"#, "601"), async {
        let gate = wait_for_gate(&app).await;
        assert_eq!(gate["step"], 0, "{gate}");
        // Waiting: nothing moved.
        assert_eq!(app.app.listener_split().await, Split::all(Color::Blue));
        let approved = bluegreen(&local, &["approve", "--app", APP, "--by", "alice"], "602").await;
        (gate, approved)
    });
    let (gate, approved) = approved;
    assert_eq!(approved.code, 0, "{}", approved.stdout);
    assert!(
        approved
            .stdout
            .contains("approved web v2 at its gate (step 0, before 100%) by alice"),
        "{}",
        approved.stdout
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.outputs.contains("result=succeeded"), "{}", run.outputs);
    assert_eq!(app.app.listener_split().await, Split::all(Color::Green));
    // Who approved is in the execution's document.
    let arn = gate["execution_arn"].as_str().unwrap();
    let output = last_with(&local, arn, "approval").await;
    assert_eq!(output["approval"]["by"], "alice", "{output}");
    // Beside the name given, the AWS identity that sent the approval.
    let identity = output["approval"]["identity"].as_str().unwrap_or_default();
    assert!(identity.starts_with("arn:aws:"), "{output}");
    assert_eq!(output["approval"]["decision"], "approved", "{output}");

    // Decided and ended: nothing waits any more.
    super::wait_for_executions_to_end(&local).await;
    let again = bluegreen(&local, &["approve", "--app", APP], "603").await;
    assert_eq!(again.code, 1, "{}", again.stdout);
    assert!(
        again.stdout.contains("no release of web waits at a gate"),
        "{}",
        again.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rejected_release_aborts_with_traffic_untouched_and_the_lock_released() {
    let (local, app) = setup().await;
    let (run, rejected) = tokio::join!(deploy_gated(&local, r#"{"approval": {}}"#, "611"), async {
        let gate = wait_for_gate(&app).await;
        // Another execution than the waiting one is refused, changing nothing.
        let wrong = bluegreen(
            &local,
            &[
                "approve",
                "--app",
                APP,
                "--execution",
                "arn:aws:states:us-east-1:123456789012:execution:x:y",
            ],
            "612",
        )
        .await;
        assert_eq!(wrong.code, 1, "{}", wrong.stdout);
        assert!(
            wrong.stdout.contains("does not wait at a gate"),
            "{}",
            wrong.stdout
        );
        let rejected = bluegreen(
            &local,
            &[
                "reject",
                "--app",
                APP,
                "--by",
                "bob",
                "--reason",
                "release freeze",
                "--json",
            ],
            "613",
        )
        .await;
        (gate, rejected)
    });
    let (gate, rejected) = rejected;
    assert_eq!(rejected.code, 0, "{}", rejected.stdout);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("did not go live: Aborted"),
        "{}",
        run.stdout
    );
    assert_eq!(app.app.listener_split().await, Split::all(Color::Blue));
    let arn = gate["execution_arn"].as_str().unwrap();
    let output = last_with(&local, arn, "error").await;
    assert_eq!(output["error"]["Error"], "Rejected", "{output}");
    // The cause names who and why; moto 5.2.5 drops a SendTaskFailure's cause
    // (AWS keeps it), so here it is read from what the command sent.
    assert!(
        rejected.stdout.contains(r#""by": "bob""#) && rejected.stdout.contains("release freeze"),
        "{}",
        rejected.stdout
    );
    assert_eq!(
        app.app.parameter("lock").await,
        None,
        "the lock was released"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_gate_nobody_decides_aborts_at_its_timeout() {
    let (local, app) = setup().await;
    let run = deploy_gated(&local, r#"{"approval": {"timeout_seconds": 2}}"#, "621").await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("did not go live: Aborted"),
        "{}",
        run.stdout
    );
    assert_eq!(app.app.listener_split().await, Split::all(Color::Blue));
    let gate = wait_for_gate(&app).await;
    let output = last_with(&local, gate["execution_arn"].as_str().unwrap(), "error").await;
    assert_eq!(output["error"]["Error"], "States.Timeout", "{output}");
}

/// The GitHub side of a gate, as the action runs it with
/// `wait-for-approval: false`: the step ends at the gate with result
/// `waiting-approval`, the deployment stays `in_progress` and the comment
/// says what the release waits for and how to approve. Once approved, the
/// same step run again follows the same execution to the end, and the
/// comment names the approver.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_pull_request_shows_the_wait_and_then_who_approved() {
    let (local, app) = setup().await;
    let gh = FakeGitHub::start().await;
    let env = super::pull_request_env(&gh, 47);
    let overrides = [
        "--overrides",
        r#"{"gates": {"approval": {"timeout_seconds": 3600}}}"#,
    ];
    let no_wait = [overrides[0], overrides[1], "--no-wait-for-approval"];
    let waiting = deploy_with(&local, "v2", &no_wait, "631", &env).await;
    assert_eq!(waiting.code, 0, "{}", waiting.stdout);
    assert!(
        waiting.outputs.contains("result=waiting-approval"),
        "{}",
        waiting.outputs
    );
    assert!(
        waiting.stdout.contains("waits for approval before 100%"),
        "the timeline tells the wait: {}",
        waiting.stdout
    );
    assert_eq!(app.app.listener_split().await, Split::all(Color::Blue));
    assert_eq!(gh.states(1), vec!["in_progress", "in_progress"]);
    let comment = &gh.comments(47)[0].1;
    assert!(comment.contains("waiting for approval"), "{comment}");
    assert!(
        comment.contains("Waiting for approval** before 100%"),
        "{comment}"
    );
    assert!(comment.contains("bluegreen approve --app web"), "{comment}");
    assert!(comment.contains("It waits up to 1 h"), "{comment}");

    let approved = bluegreen(&local, &["approve", "--app", APP, "--by", "carol"], "632").await;
    assert_eq!(approved.code, 0, "{}", approved.stdout);
    let live = deploy_with(&local, "v2", &overrides, "631", &env).await;
    assert_eq!(live.code, 0, "{}", live.stdout);
    assert!(
        live.outputs.contains("result=succeeded"),
        "{}",
        live.outputs
    );
    assert!(
        live.stdout.contains("approved by carol"),
        "the timeline tells the decision: {}",
        live.stdout
    );
    let comments = gh.comments(47);
    assert_eq!(comments.len(), 1, "one sticky comment: {comments:?}");
    let comment = &comments[0].1;
    assert!(
        comment.contains("**Approved** by carol (arn:aws:"),
        "{comment}"
    );
    assert!(!comment.contains("Waiting for approval"), "{comment}");
    assert_eq!(gh.states(1).last().map(String::as_str), Some("success"));
}

/// `HH:MM` in UTC, `hours` from now (wrapping at midnight).
fn utc_clock_in(hours: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::hours(hours);
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// A release window through the real state machine and clock: closed, the
/// release waits at `WaitForWindow` with traffic untouched (the action's
/// step ends there with `waiting-window`); open, it goes live.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_release_window_holds_the_release_outside_its_hours_and_lets_it_through_inside() {
    let (local, app) = setup().await;
    let closed = format!(
        r#"{{"window": {{"time_zone": "UTC", "from": "{}", "to": "{}"}}}}"#,
        utc_clock_in(2),
        utc_clock_in(3)
    );
    let overrides = format!(r#"{{"gates": {closed}}}"#);
    let flags = ["--no-wait-for-approval", "--overrides", &overrides];
    let run = deploy_with(&local, "v2", &flags, "641", &[]).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.outputs.contains("result=waiting-window"),
        "{}",
        run.outputs
    );
    assert!(
        run.stdout
            .contains("waits for its release window (every day"),
        "{}",
        run.stdout
    );
    assert_eq!(app.app.listener_split().await, Split::all(Color::Blue));
    let arn = run.execution();
    let waiting = local
        .execution_history(&arn)
        .await
        .expect("history")
        .iter()
        .filter_map(|e| e.state_entered_event_details())
        .any(|d| d.name() == "WaitForWindow");
    assert!(waiting, "the execution waits in WaitForWindow");
    local
        .sfn
        .stop_execution()
        .execution_arn(&arn)
        .cause("called off")
        .send()
        .await
        .expect("stop");
    super::wait_for_executions_to_end(&local).await;
    // The stopped execution's end is handed to the rollback function, which
    // gives its lock back (and holds its own meanwhile).
    let deadline = Instant::now() + Duration::from_secs(60);
    while app.app.parameter("lock").await.is_some() {
        assert!(Instant::now() < deadline, "the lock was never given back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Open now: the same release goes live.
    let open = format!(
        r#"{{"window": {{"time_zone": "UTC", "from": "{}", "to": "{}"}}}}"#,
        utc_clock_in(-1),
        utc_clock_in(1)
    );
    let live = deploy_gated(&local, &open, "642").await;
    assert_eq!(live.code, 0, "{}", live.stdout);
    assert!(
        live.outputs.contains("result=succeeded"),
        "{}",
        live.outputs
    );
    assert_eq!(app.app.listener_split().await, Split::all(Color::Green));
}
