//! The `switch` Lambda: moves production traffic one configured step toward
//! the new color. Input: the execution document. Output: a `SwitchOutcome`,
//! which the state machine stores under `$.switch` and hands to the next call.
//!
//! At an approval gate the step is held (`gate: approval`, nothing moves) and
//! the state machine calls again with `{"phase": "await-approval", "token":
//! <task token>, "input": <document>}`: the token is recorded where
//! `bluegreen approve` finds it, and the execution waits on it. Outside the
//! release window the step is held too (`gate: window`, with how long until
//! it opens); the state machine waits, then calls again.

use bluegreen_core::document::input::{ExecutionInput, SwitchCall};
use bluegreen_core::ports::HookSender;
use bluegreen_core::ports::capabilities::Prefixed;
use bluegreen_core::ports::{LoadBalancer, ParameterStore, Services};
use bluegreen_core::records::store::AppStore;
use bluegreen_core::steps::gate::await_approval;
use bluegreen_core::steps::notices;
use bluegreen_core::steps::notify::{Notified, send_to_chat};
use bluegreen_core::steps::switch::{SwitchOutcome, switch};
use bluegreen_lambda::HandlerError;
use lambda_runtime::LambdaEvent;
use serde_json::Value;

/// The Lambda's entry point: the document (a switch step) or the
/// `await-approval` phase.
///
/// A release that starts waiting at an approval gate is announced to the
/// app's chat webhooks (`notifications`); the sends are reported beside the
/// answer and never fail it.
pub async fn entry<W, H>(
    aws: &W,
    chat: &H,
    event: LambdaEvent<Value>,
) -> Result<Value, HandlerError>
where
    W: ParameterStore + LoadBalancer + Services + Prefixed,
    H: HookSender,
{
    let (payload, context) = event.into_parts();
    let answer = match SwitchCall::parse(payload)? {
        SwitchCall::Step(doc) => {
            serde_json::to_value(handler(aws, LambdaEvent::new(doc, context)).await?)
        }
        SwitchCall::AwaitApproval { token, input } => {
            let input = ExecutionInput::from_value(input)?;
            let now = time::OffsetDateTime::now_utc();
            let waiting = await_approval(aws, &input, &token, now).await?;
            let mut sent = vec![];
            if let Some(held) = &input.switch
                && let Ok(config) = AppStore::new(aws, aws.prefix())?.config(&input.app).await
            {
                let notice = notices::waiting(held, waiting.until, now);
                sent = send_to_chat(aws, aws.prefix(), chat, &config, &notice).await;
            }
            serde_json::to_value(Notified {
                result: waiting,
                notices: sent,
            })
        }
    };
    Ok(answer.expect("the answers serialise"))
}

/// One switch step for the execution document.
pub async fn handler<W>(aws: &W, event: LambdaEvent<Value>) -> Result<SwitchOutcome, HandlerError>
where
    W: ParameterStore + LoadBalancer + Services + Prefixed,
{
    handler_at(aws, event, time::OffsetDateTime::now_utc()).await
}

/// [`handler`] with the clock reading `now`: the release window is decided
/// by it (tests choose the hour).
pub async fn handler_at<W>(
    aws: &W,
    event: LambdaEvent<Value>,
    now: time::OffsetDateTime,
) -> Result<SwitchOutcome, HandlerError>
where
    W: ParameterStore + LoadBalancer + Services + Prefixed,
{
    let input = ExecutionInput::from_value(event.payload)?;
    Ok(switch(aws, &input.switch_request(), now).await?)
}
