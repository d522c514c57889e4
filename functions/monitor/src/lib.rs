//! The `monitor` Lambda: one call watches a slice of the current switch
//! step's bake (probe rounds every few seconds, CloudWatch reads once a
//! minute) and answers breach or promote at once, or continue at the end of
//! its slice; the state machine calls again at once with the figures so far.

mod probe;

pub use bluegreen_lambda::SystemClock;
pub use probe::{CACHE_BUSTER, HttpProber};

use bluegreen_core::capabilities::Prefixed;
pub use bluegreen_core::capabilities::WithSignals;
use bluegreen_core::input::ExecutionInput;
use bluegreen_core::monitor::checks::MetricQuery;
use bluegreen_core::monitor::{
    AlarmState, Alarms, Clock, MonitorOutcome, VersionCheck, VersionProber, monitor,
};
use bluegreen_core::ports::{MetricWindow, Metrics, ParameterStore, PortResult, ProbeResult};
use bluegreen_lambda::HandlerError;
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use std::future::Future;
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

/// The Lambda's handler: `aws` is the ports and the signals as one object
/// (see [`WithSignals`]).
pub async fn handler<W>(aws: &W, event: LambdaEvent<Value>) -> Result<MonitorOutcome, HandlerError>
where
    W: ParameterStore + Prefixed + Metrics + Alarms + VersionProber + Clock,
{
    let input = ExecutionInput::from_value(event.payload)?;
    Ok(monitor(aws, &input, deadline(&event.context)).await?)
}

impl<M: Metrics, Pr: Send + Sync, C: Send + Sync> Metrics for Signals<M, Pr, C> {
    fn target_group_window(
        &self,
        load_balancer: &str,
        target_group: &str,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> impl Future<Output = PortResult<MetricWindow>> + Send {
        self.metrics
            .target_group_window(load_balancer, target_group, start, end)
    }
    fn metric_values(
        &self,
        queries: &[MetricQuery],
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> impl Future<Output = PortResult<Vec<Option<f64>>>> + Send {
        self.metrics.metric_values(queries, start, end)
    }
}

impl<M: Alarms, Pr: Send + Sync, C: Send + Sync> Alarms for Signals<M, Pr, C> {
    fn alarm_states(
        &self,
        names: &[String],
    ) -> impl Future<Output = PortResult<Vec<AlarmState>>> + Send {
        self.metrics.alarm_states(names)
    }
}

impl<M: Send + Sync, Pr: VersionProber, C: Send + Sync> VersionProber for Signals<M, Pr, C> {
    fn probe_version(
        &self,
        url: &str,
        count: u32,
        timeout: std::time::Duration,
        check: &VersionCheck,
    ) -> impl Future<Output = Vec<ProbeResult>> + Send {
        self.prober.probe_version(url, count, timeout, check)
    }
}

impl<M: Send + Sync, Pr: Send + Sync, C: Clock> Clock for Signals<M, Pr, C> {
    fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }
    fn sleep_until(&self, t: OffsetDateTime) -> impl Future<Output = ()> + Send {
        self.clock.sleep_until(t)
    }
}
