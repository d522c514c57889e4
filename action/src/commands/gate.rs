//! `bluegreen approve` and `bluegreen reject`: the decision at an approval
//! gate. The switch recorded the task token the execution waits on under
//! `<prefix>/<app>/gate`; Step Functions says whether that execution still
//! waits. The decision goes back through the token, so it lands in the
//! execution's document (`$.approval`, or `$.error` for a rejection) and
//! history.

use crate::commands::Failure;
use bluegreen_aws::AwsPorts;
use bluegreen_core::records::gates::{ApprovalDecision, PendingGate};
use bluegreen_core::records::store::AppStore;
use serde::Serialize;
use time::OffsetDateTime;

pub enum Decision {
    Approve,
    Reject { reason: String },
}

pub struct GateArgs {
    pub app: String,
    /// The execution the person means; refused when another one waits.
    pub execution: Option<String>,
    pub by: Option<String>,
    /// The AWS identity deciding (STS's caller ARN): the name given is a
    /// claim, the identity is what IAM let through.
    pub identity: Option<String>,
    pub decision: Decision,
}

/// What the command prints.
#[derive(Debug, Serialize)]
pub struct Decided {
    pub app: String,
    pub execution_arn: String,
    pub version: String,
    pub step: usize,
    pub weight: u8,
    pub decision: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

pub async fn decide(
    sfn: &aws_sdk_sfn::Client,
    ports: &AwsPorts,
    prefix: &str,
    args: &GateArgs,
) -> Result<Decided, Failure> {
    let store = AppStore::new(ports, prefix).map_err(|e| Failure::of(&e))?;
    // An app nobody configured is bad input, not a release that waits not.
    store.config(&args.app).await.map_err(|e| Failure::of(&e))?;
    let gate = store
        .pending_gate(&args.app)
        .await
        .map_err(|e| Failure::of(&e))?
        .ok_or_else(|| Failure::refused(format!("no release of {} waits at a gate", args.app)))?;
    if let Some(wanted) = &args.execution
        && wanted != &gate.execution_arn
    {
        return Err(Failure::refused(format!(
            "{wanted} does not wait at a gate of {}: {} does (step {}, {}%)",
            args.app, gate.execution_arn, gate.step, gate.weight
        )));
    }
    still_waiting(sfn, &args.app, &gate).await?;
    let at = OffsetDateTime::now_utc();
    let sent = match &args.decision {
        Decision::Approve => {
            let decision = ApprovalDecision {
                decision: "approved".into(),
                step: gate.step,
                execution_arn: gate.execution_arn.clone(),
                by: args.by.clone(),
                identity: args.identity.clone(),
                at: Some(at),
            };
            sfn.send_task_success()
                .task_token(&gate.token)
                .output(serde_json::to_string(&decision).expect("serialises"))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| describe(&e.into_service_error().to_string(), &args.app))
        }
        Decision::Reject { reason } => {
            let who = match (&args.by, &args.identity) {
                (Some(by), Some(identity)) => format!("{by} ({identity})"),
                (Some(by), None) => by.clone(),
                (None, Some(identity)) => identity.clone(),
                (None, None) => "someone".to_string(),
            };
            sfn.send_task_failure()
                .task_token(&gate.token)
                .error("Rejected")
                .cause(format!(
                    "rejected by {who} at {}: {reason}",
                    at.format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default()
                ))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| describe(&e.into_service_error().to_string(), &args.app))
        }
    };
    sent?;
    Ok(Decided {
        app: args.app.clone(),
        execution_arn: gate.execution_arn,
        version: gate.version,
        step: gate.step,
        weight: gate.weight,
        decision: match args.decision {
            Decision::Approve => "approved",
            Decision::Reject { .. } => "rejected",
        },
        by: args.by.clone(),
        identity: args.identity.clone(),
        reason: match &args.decision {
            Decision::Reject { reason } => Some(reason.clone()),
            Decision::Approve => None,
        },
        at,
    })
}

/// Who the AWS credentials belong to, or `None` (with a warning) when STS
/// cannot say in a few seconds: the decision still goes, with the name given.
pub async fn caller_identity(sts: &aws_sdk_sts::Client) -> Option<String> {
    let asked = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        sts.get_caller_identity().send(),
    )
    .await;
    match asked {
        Ok(Ok(out)) => out.arn,
        Ok(Err(e)) => {
            crate::ci::warning(&format!(
                "could not tell who decides (sts:GetCallerIdentity): {}",
                aws_smithy_types::error::display::DisplayErrorContext(&e)
            ));
            None
        }
        Err(_) => {
            crate::ci::warning("could not tell who decides: sts:GetCallerIdentity took over 5 s");
            None
        }
    }
}

/// The gate record stays after a decision: the execution says whether it
/// still runs. A token already answered is refused by Step Functions
/// (`TaskTimedOut`), which `describe` words (moto accepts it again).
async fn still_waiting(
    sfn: &aws_sdk_sfn::Client,
    app: &str,
    gate: &PendingGate,
) -> Result<(), Failure> {
    let out = sfn
        .describe_execution()
        .execution_arn(&gate.execution_arn)
        .send()
        .await
        .map_err(|e| {
            Failure::unknown(format!(
                "cannot read {}: {}",
                gate.execution_arn,
                e.into_service_error()
            ))
        })?;
    if out.status != aws_sdk_sfn::types::ExecutionStatus::Running {
        return Err(Failure::refused(format!(
            "no release of {app} waits at a gate: the last one to wait, {} ({}), is {}",
            gate.execution_arn,
            gate.version,
            out.status.as_str().to_lowercase()
        )));
    }
    Ok(())
}

fn describe(error: &str, app: &str) -> Failure {
    if error.contains("TaskTimedOut") || error.contains("InvalidToken") {
        Failure::refused(format!(
            "the gate of {app} no longer waits (decided or timed out): {error}"
        ))
    } else {
        Failure::unknown(format!("could not send the decision: {error}"))
    }
}
