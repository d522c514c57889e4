//! A failed release's color, after its grace period: scaled back to the
//! idle capacity by the state machine (the grace compressed to seconds),
//! never while it has production weight. The CLI reports the failure when
//! the grace begins, not an hour later.

use super::*;

async fn execution_ending(local: &Local, arn: &str) -> (String, Option<String>, Value) {
    let d = local
        .sfn
        .describe_execution()
        .execution_arn(arn)
        .send()
        .await
        .expect("describe execution");
    let output = d
        .output()
        .or(d.cause())
        .and_then(|o| serde_json::from_str(o).ok())
        .unwrap_or(Value::Null);
    (
        d.status().as_str().to_string(),
        d.error().map(str::to_string),
        output,
    )
}

/// The last `ScaleBackFailed` result in the execution's history.
async fn scale_back_result(local: &Local, arn: &str) -> Value {
    local
        .execution_history(arn)
        .await
        .expect("history")
        .iter()
        .filter_map(|e| e.state_exited_event_details())
        .filter(|d| d.name() == "ScaleBackFailed")
        .filter_map(|d| {
            d.output()
                .and_then(|o| serde_json::from_str::<Value>(o).ok())
        })
        .next_back()
        .map(|doc| doc["scale_back"].clone())
        .unwrap_or(Value::Null)
}

const GRACE_SECONDS: u64 = 15;

/// An aborted release: the CLI says so when the grace begins (the execution
/// goes on), its color keeps its tasks through the grace, then goes back to
/// the idle capacity; the execution ends `Aborted`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_aborted_releases_color_is_scaled_back_after_its_grace() {
    let (local, app) = setup_with(AppOptions {
        failed_color_grace_seconds: GRACE_SECONDS,
        ..quick()
    })
    .await;
    let run = deploy(&local, "v2-broken-health", "4301").await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.output("result"), Some("aborted"), "{}", run.outputs);
    assert!(run.stdout.contains("FailedColorGrace"), "{}", run.stdout);
    let arn = run.execution();
    let (status, _, _) = execution_ending(&local, &arn).await;
    assert_eq!(status, "RUNNING", "the CLI did not wait out the grace");
    assert!(
        app.app.desired_count(Color::Green).await > 0,
        "the failed color keeps its tasks to look at"
    );

    wait_for_executions_to_end(&local).await;
    let (status, error, _) = execution_ending(&local, &arn).await;
    assert_eq!(
        (status.as_str(), error.as_deref()),
        ("FAILED", Some("Aborted"))
    );
    assert_eq!(app.app.desired_count(Color::Green).await, 0, "scaled back");
    assert_eq!(scale_back_result(&local, &arn).await["scaled"], true);
    assert_eq!(app.app.listener_split().await, Split::all(Color::Blue));
}

/// A rolled-back release whose color someone sends production to during
/// the grace (by hand): it keeps its tasks, and the step says why; the
/// execution still ends `RolledBack`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_color_with_production_weight_is_never_scaled_back() {
    let (local, app) = setup_with(AppOptions {
        failed_color_grace_seconds: GRACE_SECONDS,
        ..quick()
    })
    .await;
    let run = deploy(&local, "v2-broken-checkout", "4401").await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.output("result"), Some("rolled-back"), "{}", run.outputs);
    let arn = run.execution();
    assert_eq!(app.app.listener_split().await, Split::all(Color::Blue));
    let tasks = app.app.desired_count(Color::Green).await;
    assert!(tasks > 0);

    app.app.move_production_by_hand(Color::Green).await;
    wait_for_executions_to_end(&local).await;
    let (status, error, _) = execution_ending(&local, &arn).await;
    assert_eq!(
        (status.as_str(), error.as_deref()),
        ("FAILED", Some("RolledBack"))
    );
    assert_eq!(app.app.desired_count(Color::Green).await, tasks, "kept");
    let result = scale_back_result(&local, &arn).await;
    assert_eq!(result["scaled"], false, "{result}");
    assert!(
        result["skipped"]
            .as_str()
            .is_some_and(|s| s.contains("has production traffic")),
        "{result}"
    );
}
