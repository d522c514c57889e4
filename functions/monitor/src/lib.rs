//! The `monitor` Lambda: one call watches a slice of the current switch
//! step's bake (probe rounds every few seconds, CloudWatch reads once a
//! minute) and answers breach or promote at once, or continue at the end of
//! its slice; the state machine calls again at once with the figures so far.

mod probe;

pub use bluegreen_lambda::SystemClock;
pub use probe::{CACHE_BUSTER, HttpProber};

use bluegreen_core::document::input::ExecutionInput;
use bluegreen_core::ports::capabilities::Prefixed;
pub use bluegreen_core::ports::capabilities::{Signals, WithSignals};
use bluegreen_core::ports::{Metrics, ParameterStore};
use bluegreen_core::steps::monitor::{Alarms, Clock, MonitorOutcome, VersionProber, monitor};
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
pub async fn handler<W>(aws: &W, event: LambdaEvent<Value>) -> Result<MonitorOutcome, HandlerError>
where
    W: ParameterStore + Prefixed + Metrics + Alarms + VersionProber + Clock,
{
    let input = ExecutionInput::from_value(event.payload)?;
    Ok(monitor(aws, &input, deadline(&event.context)).await?)
}
