//! Step Functions' `StopExecution` ends an execution at once: a Lambda call
//! still in flight finishes unheard. The emulator instead waits for that
//! call's answer before the execution stops (and reports it RUNNING until
//! then), which a monitor call watching a bake for minutes turns into
//! minutes. So a stop made by a hosted handler also ends that execution's
//! calls still running in this host, as AWS would by not listening.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bluegreen_core::ports::{ExecutionInfo, Executions, PortResult};
use tokio::sync::Notify;

/// The executions with a call running in this host, each with the signal
/// that ends its calls.
#[derive(Clone, Default)]
pub struct InFlight(Arc<Mutex<HashMap<String, Arc<Notify>>>>);

impl InFlight {
    /// The signal that ends `execution`'s calls when it is stopped.
    pub fn stopped(&self, execution: &str) -> Arc<Notify> {
        self.0
            .lock()
            .unwrap()
            .entry(execution.to_string())
            .or_default()
            .clone()
    }

    pub(crate) fn stop(&self, execution: &str) {
        if let Some(signal) = self.0.lock().unwrap().remove(execution) {
            signal.notify_waiters();
        }
    }
}

/// The executions port of the hosted handlers: the emulator's, plus the
/// immediate stop.
pub struct StoppingExecutions<E> {
    pub inner: E,
    pub in_flight: InFlight,
}

impl<E: Executions> Executions for StoppingExecutions<E> {
    async fn execution(&self, execution_arn: &str) -> PortResult<ExecutionInfo> {
        self.inner.execution(execution_arn).await
    }

    async fn stop(&self, execution_arn: &str, cause: &str) -> PortResult<()> {
        self.inner.stop(execution_arn, cause).await?;
        self.in_flight.stop(execution_arn);
        Ok(())
    }
}
