//! The `monitor` Lambda: one call judges the newly live color since the
//! current switch step and answers continue, promote or breach; the state
//! machine waits (`wait_seconds`) and calls again.

mod probe;

pub use probe::{CACHE_BUSTER, HttpProber};

use bluegreen_core::input::ExecutionInput;
use bluegreen_core::monitor::{Alarms, MonitorOutcome, VersionProber, monitor};
use bluegreen_core::ports::{Metrics, ParameterStore, Ports};
use bluegreen_lambda::HandlerError;
use lambda_runtime::LambdaEvent;
use serde_json::Value;

/// Where the monitor's signals come from.
pub struct Signals<M, Pr> {
    pub metrics: M,
    pub prober: Pr,
}

pub async fn handler<P, L, S, A, E, M, Pr>(
    ports: &Ports<P, L, S, A, E>,
    signals: &Signals<M, Pr>,
    event: LambdaEvent<Value>,
) -> Result<MonitorOutcome, HandlerError>
where
    P: ParameterStore,
    M: Metrics + Alarms,
    Pr: VersionProber,
{
    let input = ExecutionInput::from_value(event.payload)?;
    let now = time::OffsetDateTime::now_utc();
    Ok(monitor(
        &ports.params,
        &ports.prefix,
        &signals.metrics,
        &signals.prober,
        &input,
        now,
    )
    .await?)
}
