//! The `deploy-idle` Lambda. One function, six phases. The state machine
//! calls it with the execution document itself (phase `deploy`) or wrapped as
//! `{"phase": "...", "input": <document>}`:
//! - `deploy`: put the release on the idle color (result under `$.deploy`);
//! - `check`: is the idle color stable and healthy yet (for a Wait loop);
//! - `release`: release this execution's deployment lock;
//! - `abort`: the release failed before traffic moved: restore the scalable
//!   targets' bounds (an app that autoscales) and release the lock;
//! - `contract`: after the warm window, the contract migration (a one-off
//!   task the state machine waits for, calling again);
//! - `scale-down`: after the warm window, shrink the previous color.

use bluegreen_core::Error;
use bluegreen_core::document::input::{ExecutionInput, SOURCE};
use bluegreen_core::ports::HookSender;
use bluegreen_core::ports::capabilities::{Prefixed, WithSignals};
use bluegreen_core::ports::{Alerts, Executions, LoadBalancer, ParameterStore, Services};
use bluegreen_core::records::store::AppStore;
use bluegreen_core::steps::abort::{Aborted, abort};
use bluegreen_core::steps::deploy::{DeployOutcome, deploy};
use bluegreen_core::steps::migrate::{ContractOutcome, ContractRequest, contract};
use bluegreen_core::steps::monitor::{Alarms, check_alarms_exist, thresholds};
use bluegreen_core::steps::notices;
use bluegreen_core::steps::notify::{Notified, send_to_chat};
use bluegreen_core::steps::ready::{Readiness, check};
use bluegreen_core::steps::scale_down::warm::{WarmCapacity, keep_warm};
use bluegreen_core::steps::scale_down::{ScaleDownOutcome, scale_back_failed, scale_down};
use bluegreen_lambda::HandlerError;
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;

/// The phases, as the state machine names them (parsed in the core, so
/// that the simulation reads the state machine's events the same way).
pub use bluegreen_core::document::input::DeployIdlePhase as Phase;

/// What the `release` phase did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Released {
    pub holder: String,
    pub released: bool,
    /// The previous color's size through the warm window, when the release
    /// went live and the app keeps it at part of its size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warm_capacity: Option<WarmCapacity>,
    /// Why it could not be trimmed (it stays at full size; the release is
    /// live all the same).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warm_capacity_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum DeployIdleResponse {
    Deployed(DeployOutcome),
    Checked(Readiness),
    Released(Released),
    Aborted(Aborted),
    ScaledDown(ScaleDownOutcome),
    Contracted(ContractOutcome),
}

/// The handler without the alarm check of [`handler_checking_alarms`], for
/// hosts that give deploy-idle no CloudWatch access.
pub async fn handler<W>(
    aws: &W,
    event: LambdaEvent<Value>,
) -> Result<DeployIdleResponse, HandlerError>
where
    W: ParameterStore + LoadBalancer + Services + Alerts + Executions + Prefixed,
{
    let aws = WithSignals {
        ports: aws,
        signals: &NoAlarms,
    };
    run(&aws, CheckAlarms::No, event).await
}

/// The Lambda's handler: before the `deploy` phase changes anything (before
/// even the lock), every alarm the monitor will watch must exist. A misspelt
/// alarm name would otherwise never fire: it is a config error, named, and
/// nothing is deployed. (The CLI cannot check this for a console rerun, and
/// only this step runs with the switcher's AWS access before any change.)
///
/// A release that starts (the `deploy` phase put it on the idle color) or
/// aborts is announced to the app's chat webhooks (`notifications`); the
/// sends are reported beside the result and never fail it.
pub async fn handler_checking_alarms<W, H>(
    aws: &W,
    chat: &H,
    event: LambdaEvent<Value>,
) -> Result<Notified<DeployIdleResponse>, HandlerError>
where
    W: ParameterStore + LoadBalancer + Services + Alerts + Executions + Prefixed + Alarms,
    H: HookSender,
{
    let (phase, doc) = Phase::split(event.payload.clone())?;
    let result = run(aws, CheckAlarms::Yes, event).await?;
    let now = time::OffsetDateTime::now_utc();
    let execution = doc["execution"]["arn"].as_str();
    let notice = match (&result, phase) {
        (DeployIdleResponse::Deployed(d), _) if d.changed && !d.already_live && !d.migrating => {
            Some(notices::started(d, execution, now))
        }
        (DeployIdleResponse::Aborted(_), Phase::Abort) => Some(notices::aborted(
            doc["app"].as_str().unwrap_or_default(),
            doc["release"]["version"].as_str().unwrap_or_default(),
            &notices::why(&doc["error"]),
            execution,
            now,
        )),
        _ => None,
    };
    let mut sent = vec![];
    if let Some(notice) = notice
        && let Ok(config) = AppStore::new(aws, aws.prefix())?.config(&notice.app).await
    {
        sent = send_to_chat(aws, aws.prefix(), chat, &config, &notice).await;
    }
    Ok(Notified {
        result,
        notices: sent,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CheckAlarms {
    Yes,
    No,
}

/// Stands in for "no alarm reader"; never asked.
struct NoAlarms;

impl Alarms for NoAlarms {
    async fn alarm_states(
        &self,
        _names: &[String],
    ) -> bluegreen_core::ports::PortResult<Vec<bluegreen_core::steps::monitor::AlarmState>> {
        Ok(vec![])
    }
}

async fn check_alarms<W: ParameterStore + Prefixed + Alarms>(
    aws: &W,
    input: &ExecutionInput,
) -> Result<(), Error> {
    let store = AppStore::new(aws, aws.prefix())?;
    let config = store.config(&input.app).await?;
    let overridden = input
        .overrides
        .monitor
        .as_ref()
        .is_some_and(|m| m.contains_key("alarm_names"));
    let limits = thresholds(&config.monitor, input)?;
    let (source, at) = if overridden {
        (SOURCE.to_string(), "overrides.monitor.alarm_names")
    } else {
        (
            format!("config {}", store.parameter(&input.app, "config")),
            "monitor.alarm_names",
        )
    };
    check_alarms_exist(aws, &source, at, &limits).await
}

async fn run<W>(
    aws: &W,
    alarms: CheckAlarms,
    event: LambdaEvent<Value>,
) -> Result<DeployIdleResponse, HandlerError>
where
    W: ParameterStore + LoadBalancer + Services + Alerts + Executions + Prefixed + Alarms,
{
    let (phase, doc) = Phase::split(event.payload)?;
    let input = ExecutionInput::from_value(doc)?;
    let now = time::OffsetDateTime::now_utc();
    if phase == Phase::Deploy {
        // Before anything changes: monitor overrides in range, and every
        // alarm the monitor will watch in existence.
        input.validate_overrides()?;
        if alarms == CheckAlarms::Yes {
            check_alarms(aws, &input).await?;
        }
    }
    Ok(match phase {
        // Boxed: the deploy's future is large, and callers (the runtime,
        // tests on a 2 MB thread in a debug build) keep only a pointer.
        Phase::Deploy => DeployIdleResponse::Deployed(
            Box::pin(deploy(aws, &input.deploy_request()?, now)).await?,
        ),
        Phase::Check => DeployIdleResponse::Checked(
            check(aws, &input.deployed_request("the readiness check")?, now).await?,
        ),
        Phase::Release => {
            let holder = input.lock_holder();
            let store = AppStore::new(aws, aws.prefix())?;
            // Under the lock, before it goes: a release that went live keeps
            // the previous color at its warm capacity. Best effort: the
            // release is live whether or not this works.
            let (warm_capacity, warm_capacity_error) = match input.deployed_request("release") {
                Ok(request) => match keep_warm(aws, &request).await {
                    Ok(trimmed) => (trimmed, None),
                    Err(e) => {
                        tracing::warn!(app = %input.app, error = %e, "the previous color stays at full size");
                        (None, Some(e.to_string()))
                    }
                },
                Err(_) => (None, None),
            };
            let released = store.release_lock(&input.app, &holder).await?;
            DeployIdleResponse::Released(Released {
                holder,
                released,
                warm_capacity,
                warm_capacity_error,
            })
        }
        Phase::Abort => DeployIdleResponse::Aborted(abort(aws, &input.caller()).await?),
        Phase::Contract { settle_seconds } => {
            let by = input.lock_holder();
            let request = ContractRequest {
                app: &input.app,
                by: &by,
                scheduled: true,
                migrations: input.overrides.migrations.as_ref(),
                settle_seconds,
            };
            DeployIdleResponse::Contracted(Box::pin(contract(aws, &request, now)).await?)
        }
        Phase::ScaleDown => DeployIdleResponse::ScaledDown(
            scale_down(aws, &input.deployed_request("scale-down")?, now).await?,
        ),
        Phase::ScaleBack => DeployIdleResponse::ScaledDown(
            scale_back_failed(aws, &input.deployed_request("scale-back")?, now).await?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_bare_document_is_a_deploy_and_a_wrapped_one_names_its_phase() {
        let (p, doc) = Phase::split(json!({"app": "a"})).unwrap();
        assert_eq!((p, doc), (Phase::Deploy, json!({"app": "a"})));
        let (p, doc) = Phase::split(json!({"phase": "scale-down", "input": {"app": "a"}})).unwrap();
        assert_eq!((p, doc), (Phase::ScaleDown, json!({"app": "a"})));
        let (p, _) = Phase::split(json!({"phase": "abort", "input": {"app": "a"}})).unwrap();
        assert_eq!(p, Phase::Abort);
    }

    #[test]
    fn strangers_are_named() {
        let e = Phase::split(json!({"phase": "deploy-all", "input": {}})).unwrap_err();
        assert!(e.to_string().contains("`phase`"), "{e}");
        let e = Phase::split(json!({"phase": "check"})).unwrap_err();
        assert!(e.to_string().contains("`input`"), "{e}");
        let e = Phase::split(json!({"phase": "check", "input": {}, "x": 1})).unwrap_err();
        assert!(e.to_string().contains("`x`"), "{e}");
    }
}
