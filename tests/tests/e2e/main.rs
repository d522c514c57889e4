//! Scenarios against the local AWS emulator (moto), started by the tests
//! themselves, in one binary (each test binary links the whole AWS SDK): each
//! Lambda's real handler behind its event shape, and the real state machine
//! end to end.

mod acting;
mod announcement;
mod autoscaling;
mod autoscaling_pipeline;
mod contract;
mod deploy_idle;
mod deploy_idle_ecs;
mod lock;
mod monitor;
mod notify;
mod pipeline;
mod rollback;
mod rounds;
mod stale_reads;
mod switch;

use bluegreen_e2e::{ExampleApp, JumpingClock, lambda_event};
use serde_json::Value;

/// The rollback Lambda's handler with its own patience, on a clock that
/// jumps: what the deployed function does, without the test waiting.
pub async fn rollback_handler(
    app: &ExampleApp,
    event: Value,
) -> Result<bluegreen_rollback::RollbackResponse, bluegreen_lambda::HandlerError> {
    bluegreen_rollback::handler_with(
        &app.ports(),
        &bluegreen_core::ports::NoHooks,
        lambda_event(event),
        &JumpingClock::default(),
        bluegreen_core::steps::rollback::patience::Patience::LAMBDA,
    )
    .await
}
