//! The rollback requests the state machine makes: its execution document
//! (from the `Rollback` state) and the status change of an execution that
//! ended without releasing (from the app's EventBridge rule). Pure parsing,
//! here rather than in the Lambda so that the simulation runs it too; the
//! Lambda adds the SNS and direct-invoke shapes.

use serde::Deserialize;
use serde_json::Value;

use crate::document::input::{ExecutionContext, SOURCE};
use crate::error::{Error, Result};
use crate::parse;

use super::{ReleaseRef, RollbackRequest, RollbackSource, machine_reason};

/// The parts of the execution document the rollback reads.
#[derive(Debug, Deserialize)]
struct StateMachineDoc {
    app: String,
    release: ReleaseVersion,
    #[serde(default)]
    execution: Option<ExecutionContext>,
    /// deploy-idle's result: where the release went and what served before.
    /// Read leniently: a malformed result must not block the rollback.
    #[serde(default)]
    deploy: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct ReleaseVersion {
    version: String,
}

/// Whether the event asks nothing of any app: an execution the state
/// machine's first state refused (`WrongApp`: its input names another app,
/// whose release never started here). Answered before any role is assumed.
pub fn ignored(event: &Value) -> bool {
    is_execution_ended(event)
        && event.pointer("/detail/error").and_then(Value::as_str) == Some(WRONG_APP)
}

/// The error of the state machine's `NotThisApp` state.
const WRONG_APP: &str = "WrongApp";

/// Whether `event` is a Step Functions execution status change.
pub fn is_execution_ended(event: &Value) -> bool {
    event.get("detail-type").and_then(Value::as_str) == Some(EXECUTION_STATUS_CHANGE)
}

/// The request of the state machine's `Rollback` state, from its execution
/// document (and the `error` or `monitor` verdict in it saying why).
pub fn state_machine_request(event: Value) -> Result<RollbackRequest> {
    let Some(object) = event.as_object() else {
        return Err(Error::bad_input(
            SOURCE,
            "(document)",
            "must be a JSON object",
        ));
    };
    let reason = state_machine_reason(object);
    // Only what the rollback needs is read: a malformed result of some
    // other step must never stand between production and its rollback.
    let doc: StateMachineDoc = parse::value(SOURCE, event)?;
    crate::records::config::validate_app_name(SOURCE, "app", &doc.app)?;
    let deploy = doc.deploy.as_ref();
    let text = |key: &str| {
        deploy
            .and_then(|d| d.get(key))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let request = RollbackRequest {
        caller_execution: doc.execution.map(|e| e.arn),
        release: Some(ReleaseRef {
            version: doc.release.version,
            color: text("idle_color").and_then(|c| c.parse().ok()),
            task_definition: text("task_definition_arn"),
            serving_task_definition: text("serving_task_definition"),
        }),
        app: doc.app,
        reason,
        source: RollbackSource::StateMachine,
        requested_by: None,
        sent_at: None,
        ended_execution: None,
    };
    request.validate()?;
    Ok(request)
}

/// The `detail-type` of Step Functions' status change events.
const EXECUTION_STATUS_CHANGE: &str = "Step Functions Execution Status Change";

/// The EventBridge event of an execution of the app's state machine that
/// ended without succeeding (the app's rule sends FAILED, TIMED_OUT and
/// ABORTED here).
#[derive(Debug, Deserialize)]
struct ExecutionEndedEvent {
    source: String,
    detail: ExecutionEndedDetail,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecutionEndedDetail {
    execution_arn: String,
    status: String,
    /// The execution's input document, as text; AWS leaves it out when it
    /// is over 256 KB (`inputDetails.included: false`): then the app cannot
    /// be known from the event, and it is refused.
    #[serde(default)]
    input: Option<String>,
}

/// The request an execution that ended without releasing makes.
pub fn execution_ended_request(event: Value) -> Result<RollbackRequest> {
    let source = "execution-ended event";
    let event: ExecutionEndedEvent = parse::value(source, event)?;
    if event.source != "aws.states" {
        return Err(Error::bad_input(source, "source", "must be aws.states"));
    }
    let status = event.detail.status.as_str();
    if !matches!(status, "FAILED" | "TIMED_OUT" | "ABORTED") {
        return Err(Error::bad_input(
            source,
            "detail.status",
            format!("{status}: only an execution that ended without succeeding is rolled back"),
        ));
    }
    let input = event.detail.input.as_deref().ok_or_else(|| {
        Error::bad_input(
            source,
            "detail.input",
            "is missing: the app cannot be known",
        )
    })?;
    let doc: StateMachineDoc = parse::json(&format!("{source} detail.input"), input)?;
    crate::records::config::validate_app_name(source, "detail.input.app", &doc.app)?;
    let arn = event.detail.execution_arn;
    let request = RollbackRequest {
        reason: machine_reason(
            &format!(
                "release {}'s execution ended {status} without releasing ",
                doc.release.version
            ),
            &[&format!("({arn})")],
        ),
        app: doc.app,
        source: RollbackSource::ExecutionEnded,
        requested_by: None,
        caller_execution: None,
        release: Some(ReleaseRef {
            version: doc.release.version,
            color: None,
            task_definition: None,
            serving_task_definition: None,
        }),
        sent_at: None,
        ended_execution: Some(arn),
    };
    request.validate()?;
    Ok(request)
}

/// Why the state machine rolls back: the caught error, or the monitor's
/// verdict, whichever the document carries.
fn state_machine_reason(doc: &serde_json::Map<String, Value>) -> String {
    if let Some(err) = doc.get("error").and_then(Value::as_object) {
        let name = err.get("Error").and_then(Value::as_str).unwrap_or("error");
        let cause = err.get("Cause").and_then(Value::as_str).unwrap_or("");
        return machine_reason(&format!("{name}: "), &[cause]);
    }
    if let Some(reasons) = doc
        .get("monitor")
        .and_then(|m| m.get("reasons"))
        .and_then(Value::as_array)
        && !reasons.is_empty()
    {
        let list: Vec<&str> = reasons.iter().filter_map(Value::as_str).collect();
        return machine_reason("monitor breach: ", &list);
    }
    "rolled back by the state machine".to_string()
}
