//! Who asks: an execution a request names must really be what it says, as
//! Step Functions (not the document or event naming it) tells.

use crate::error::{Error, Result};
use crate::ports::{ExecutionStatus, Executions};

use super::RollbackRequest;

/// The state machine's document names an execution: it must really be a
/// running execution of this app and release, or anyone allowed to invoke
/// the function could skip the stop and the fence for that execution.
pub(super) async fn check_caller(
    executions: &impl Executions,
    request: &RollbackRequest,
    caller: &str,
) -> Result<()> {
    check_execution(
        executions,
        request,
        caller,
        ExecutionStatus::Running,
        ("rollback request", "execution.arn", "a running"),
    )
    .await
}

/// Whether Step Functions (not the event or document naming it) says
/// `execution` is in `status` and releases this request's app and version;
/// `(document, field, what)` name the refusal.
pub(super) async fn check_execution(
    executions: &impl Executions,
    request: &RollbackRequest,
    execution: &str,
    status: ExecutionStatus,
    (document, field, what): (&str, &str, &str),
) -> Result<()> {
    let info = executions.execution(execution).await?;
    let input: Option<serde_json::Value> = info
        .input
        .as_deref()
        .and_then(|t| serde_json::from_str(t).ok());
    let text = |pointer: &str| {
        input
            .as_ref()
            .and_then(|i| i.pointer(pointer))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let (app, version) = (text("/app"), text("/release/version"));
    let wanted_version = request.release.as_ref().map(|r| r.version.clone());
    if info.status == status
        && app.as_deref() == Some(request.app.as_str())
        && version == wanted_version
    {
        return Ok(());
    }
    Err(Error::bad_input(
        document,
        field,
        format!(
            "{execution} is not {what} execution of app `{}` release {} (Step Functions says: {:?}, app {:?}, release {:?})",
            request.app,
            wanted_version.as_deref().unwrap_or("?"),
            info.status,
            app,
            version
        ),
    ))
}

/// An execution-ended event acts only for an execution that has ended and
/// was a release of this app and version, as Step Functions says (not the
/// event): a misdelivered or hand-made event changes nothing.
pub(super) async fn check_ended<E: Executions>(
    executions: &E,
    request: &RollbackRequest,
    ended: &str,
) -> Result<()> {
    check_execution(
        executions,
        request,
        ended,
        ExecutionStatus::Finished,
        ("execution-ended event", "detail.executionArn", "an ended"),
    )
    .await
}
