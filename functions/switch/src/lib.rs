//! The `switch` Lambda: moves production traffic one configured step toward
//! the new color. Input: the execution document. Output: a `SwitchOutcome`,
//! which the state machine stores under `$.switch` and hands to the next call.

use bluegreen_core::document::input::ExecutionInput;
use bluegreen_core::ports::capabilities::Prefixed;
use bluegreen_core::ports::{LoadBalancer, ParameterStore, Services};
use bluegreen_core::steps::switch::{SwitchOutcome, switch};
use bluegreen_lambda::HandlerError;
use lambda_runtime::LambdaEvent;
use serde_json::Value;

pub async fn handler<W>(aws: &W, event: LambdaEvent<Value>) -> Result<SwitchOutcome, HandlerError>
where
    W: ParameterStore + LoadBalancer + Services + Prefixed,
{
    let input = ExecutionInput::from_value(event.payload)?;
    let now = time::OffsetDateTime::now_utc();
    Ok(switch(aws, &input.switch_request(), now).await?)
}
