//! Waiting at an approval gate. The switch held the step (see
//! [`crate::steps::switch`]); the state machine then invokes the switch
//! function once more with a task token and waits on that token. This
//! records the token where `bluegreen approve` finds it, and returns: no
//! Lambda runs while a release waits.

use serde::Serialize;
use time::OffsetDateTime;
use tracing::info;

use crate::document::input::ExecutionInput;
use crate::document::outcomes::GateStatus;
use crate::error::EXECUTION_INPUT as SOURCE;
use crate::error::{Error, Result};
use crate::ports::ParameterStore;
use crate::ports::capabilities::Prefixed;
use crate::records::gates::PendingGate;
use crate::records::store::AppStore;

/// Records the gate `input` waits at, with the token the execution waits on.
pub async fn await_approval<W>(
    aws: &W,
    input: &ExecutionInput,
    token: &str,
    now: OffsetDateTime,
) -> Result<Waiting>
where
    W: ParameterStore + Prefixed,
{
    let held = input
        .switch
        .as_ref()
        .filter(|s| s.gate == GateStatus::Approval)
        .ok_or_else(|| {
            Error::bad_input(
                SOURCE,
                "switch.gate",
                "is not `approval`: only a step the switch held waits for an approval",
            )
        })?;
    let execution_arn = input.execution_arn().ok_or_else(|| {
        Error::bad_input(
            SOURCE,
            "execution.arn",
            "is missing: a gate belongs to an execution",
        )
    })?;
    let waits = held.approval_timeout_seconds.unwrap_or(0);
    let gate = PendingGate {
        execution_arn: execution_arn.to_string(),
        version: input.release.version.clone(),
        step: held.step,
        weight: held.weight,
        token: token.to_string(),
        since: now,
        until: now + time::Duration::seconds(waits as i64),
    };
    let store = AppStore::new(aws, aws.prefix())?;
    store.save_pending_gate(&input.app, &gate).await?;
    info!(
        app = input.app,
        version = gate.version,
        step = gate.step,
        weight = gate.weight,
        until = %gate.until,
        "waiting for approval: bluegreen approve --app {}",
        input.app
    );
    Ok(Waiting {
        waiting: true,
        step: gate.step,
        weight: gate.weight,
        until: gate.until,
    })
}

/// The switch's answer while the execution waits (the state machine keeps
/// only the decision).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Waiting {
    pub waiting: bool,
    pub step: usize,
    pub weight: u8,
    #[serde(with = "time::serde::rfc3339")]
    pub until: OffsetDateTime,
}
