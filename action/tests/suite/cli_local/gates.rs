//! Approval gates through the real state machine in local mode: the release
//! waits at the gate with traffic untouched; `bluegreen approve` (a process)
//! lets it go live, `bluegreen reject` aborts it, and a gate nobody decides
//! aborts at its timeout.

use std::time::{Duration, Instant};

use bluegreen_core::{Color, Split};
use bluegreen_local::{Local, LocalApp};
use serde_json::Value;

use super::{APP, Run, bluegreen, bluegreen_with, setup};

/// `bluegreen deploy` of v2 with these gates as the release's overrides.
async fn deploy_gated(local: &Local, gates: &str, run_id: &str) -> Run {
    let overrides = format!(r#"{{"gates": {gates}}}"#);
    bluegreen_with(
        local,
        &[
            "deploy",
            "--app",
            APP,
            "--version",
            "v2",
            "--image",
            "example/web:v2",
            "--overrides",
            &overrides,
        ],
        run_id,
        &[],
    )
    .await
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
        approved.stdout.contains(r#""decision": "approved""#),
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
