//! The `monitor` Lambda: one call watches a slice of the current switch
//! step's bake (probe rounds every few seconds, CloudWatch reads once a
//! minute) and answers breach or promote at once, or continue at the end of
//! its slice; the state machine calls again at once with the figures so far.

mod probe;

pub use bluegreen_lambda::SystemClock;
pub use probe::{CACHE_BUSTER, HttpProber};

use bluegreen_core::capabilities::Prefixed;
use bluegreen_core::input::ExecutionInput;
use bluegreen_core::monitor::{Alarms, Clock, MonitorOutcome, Sources, VersionProber, monitor};
use bluegreen_core::ports::{Metrics, ParameterStore};
use bluegreen_lambda::HandlerError;
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use time::OffsetDateTime;

/// Where the monitor's signals come from.
pub struct Signals<M, Pr, C = SystemClock> {
    pub metrics: M,
    pub prober: Pr,
    pub clock: C,
}

/// When the function is stopped: the Lambda context's deadline (ms since
/// the epoch; 0 when a host gives none).
fn deadline(context: &lambda_runtime::Context) -> Option<OffsetDateTime> {
    if context.deadline == 0 {
        return None;
    }
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(context.deadline) * 1_000_000).ok()
}

pub async fn handler<W, M, Pr, C>(
    aws: &W,
    signals: &Signals<M, Pr, C>,
    event: LambdaEvent<Value>,
) -> Result<MonitorOutcome, HandlerError>
where
    W: ParameterStore + Prefixed,
    M: Metrics + Alarms,
    Pr: VersionProber,
    C: Clock,
{
    let input = ExecutionInput::from_value(event.payload)?;
    let sources = Sources {
        metrics: &signals.metrics,
        prober: &signals.prober,
        clock: &signals.clock,
    };
    Ok(monitor(aws, aws.prefix(), sources, &input, deadline(&event.context)).await?)
}
