//! The `monitor` Lambda: one call watches a slice of the current switch
//! step's bake (probe rounds every few seconds, CloudWatch reads once a
//! minute) and answers breach or promote at once, or continue at the end of
//! its slice; the state machine calls again at once with the figures so far.

mod probe;

pub use bluegreen_lambda::SystemClock;
pub use probe::{CACHE_BUSTER, HttpProber};

use bluegreen_core::document::input::ExecutionInput;
use bluegreen_core::ports::HookSender;
use bluegreen_core::ports::capabilities::Prefixed;
pub use bluegreen_core::ports::capabilities::{Signals, WithSignals};
use bluegreen_core::ports::{Metrics, ParameterStore};
use bluegreen_core::records::hooks::HookPoint;
use bluegreen_core::records::store::AppStore;
use bluegreen_core::steps::hooks::{HookPlace, run_hooks};
use bluegreen_core::steps::monitor::{
    Alarms, Clock, MonitorOutcome, Verdict, VersionProber, monitor, same_bake,
};
use bluegreen_core::steps::notices;
use bluegreen_core::steps::notify::send_to_chat;
use bluegreen_lambda::HandlerError;
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use time::OffsetDateTime;

/// When the function is stopped: the Lambda context's deadline (ms since
/// the epoch; 0 when a host gives none).
fn deadline(context: &lambda_runtime::Context) -> Option<OffsetDateTime> {
    if context.deadline == 0 {
        return None;
    }
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(context.deadline) * 1_000_000).ok()
}

/// The Lambda's handler: `aws` is the ports and the signals as one object
/// (see [`WithSignals`]).
///
/// A bake's first call delivers the app's `after-step` hooks before it
/// watches, and the call that promotes the last step its `after-promote`
/// hooks; a failing one is `HookFailed`, which the state machine rolls back
/// on, like a breach.
pub async fn handler<W, H>(
    aws: &W,
    hooks: &H,
    event: LambdaEvent<Value>,
) -> Result<MonitorOutcome, HandlerError>
where
    W: ParameterStore + Prefixed + Metrics + Alarms + VersionProber + Clock,
    H: HookSender,
{
    let input = ExecutionInput::from_value(event.payload)?;
    let Some(switch) = input.switch.as_ref() else {
        // The monitor says what is missing.
        return Ok(monitor(aws, &input, deadline(&event.context)).await?);
    };
    let first_call = same_bake(&input, switch).is_none();
    // The app's hooks, read only by the calls that deliver any (a bake's
    // first, the promoting one), not by every slice.
    let store = AppStore::new(aws, aws.prefix())?;
    let place = |at| HookPlace {
        at,
        app: &input.app,
        version: &input.release.version,
        execution_arn: input.execution_arn(),
        release_color: switch.target_color,
        step: Some(switch.step),
        weight: Some(switch.weight),
        weights: Some(switch.split),
        reason: None,
    };
    let mut ran = Vec::new();
    if first_call {
        let config = store.config(&input.app).await?;
        ran = run_hooks(
            aws,
            aws.prefix(),
            hooks,
            &config,
            &place(HookPoint::AfterStep),
            aws.now(),
        )
        .await?;
    }
    let mut outcome = monitor(aws, &input, deadline(&event.context)).await?;
    if outcome.verdict == Verdict::Promote && switch.done {
        let config = store.config(&input.app).await?;
        let promoted = place(HookPoint::AfterPromote);
        ran.extend(run_hooks(aws, aws.prefix(), hooks, &config, &promoted, aws.now()).await?);
        let notice = notices::promoted(switch, aws.now());
        outcome.notices = send_to_chat(aws, aws.prefix(), hooks, &config, &notice).await;
    }
    outcome.hooks = ran;
    Ok(outcome)
}
