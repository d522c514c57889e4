//! Plays the rule `BlueGreenApp` makes on AWS (EventBridge): when an
//! execution of the app's state machine ends without succeeding (FAILED,
//! TIMED_OUT, ABORTED), its status change event goes to the rollback
//! function, which rolls back a release left with production weight. The
//! emulator emits no events, so this watches the executions and sends the
//! same event to the rollback function through the local Lambda host, as
//! EventBridge would (asynchronously: the answer is only logged).

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{Value, json};
use tracing::{info, warn};

/// How often the executions are looked at (EventBridge delivers in about a
/// second).
const EVERY: Duration = Duration::from_secs(1);

const ENDED: [ExecutionStatus; 3] = [
    ExecutionStatus::Failed,
    ExecutionStatus::TimedOut,
    ExecutionStatus::Aborted,
];

/// Watches `state_machine_arn` until dropped (the caller aborts the task).
pub async fn play_rule(sfn: aws_sdk_sfn::Client, state_machine_arn: String, lambda_port: u16) {
    let http = reqwest::Client::new();
    let url = format!(
        "http://127.0.0.1:{lambda_port}/2015-03-31/functions/bluegreen-rollback/invocations"
    );
    let mut sent: HashSet<String> = HashSet::new();
    loop {
        tokio::time::sleep(EVERY).await;
        // One call for every status: this runs beside every local app for
        // its whole life, and each call costs the emulator CPU.
        let Ok(out) = sfn
            .list_executions()
            .state_machine_arn(&state_machine_arn)
            .send()
            .await
        else {
            continue;
        };
        for execution in out.executions() {
            let status = execution.status();
            if !ENDED.contains(status) {
                continue;
            }
            let arn = execution.execution_arn();
            if !sent.insert(arn.to_string()) {
                continue;
            }
            let Ok(described) = sfn.describe_execution().execution_arn(arn).send().await else {
                sent.remove(arn);
                continue;
            };
            let event = status_change_event(
                arn,
                &state_machine_arn,
                status.as_str(),
                described.input(),
                described.error(),
            );
            match http.post(&url).json(&event).send().await {
                Ok(r) => info!(
                    execution = arn,
                    status = status.as_str(),
                    http = r.status().as_u16(),
                    "execution ended: sent to the rollback function"
                ),
                Err(e) => {
                    warn!(execution = arn, error = %e, "could not send the execution-ended event")
                }
            }
        }
    }
}

/// The event as EventBridge delivers it to a Lambda target.
pub fn status_change_event(
    execution_arn: &str,
    state_machine_arn: &str,
    status: &str,
    input: Option<&str>,
    error: Option<&str>,
) -> Value {
    json!({
        "version": "0",
        "id": format!("local-{execution_arn}"),
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        "region": "us-east-1",
        "resources": [execution_arn],
        "detail": {
            "executionArn": execution_arn,
            "stateMachineArn": state_machine_arn,
            "name": execution_arn.rsplit(':').next().unwrap_or_default(),
            "status": status,
            "error": error,
            "input": input,
            "inputDetails": {"included": input.is_some()},
        }
    })
}
