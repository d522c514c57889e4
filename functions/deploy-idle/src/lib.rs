//! The `deploy-idle` Lambda. One function, three phases, chosen by the
//! document's `phase` field (absent means `deploy`):
//! - `deploy`: put the release on the idle color (result under `$.deploy`);
//! - `check`: is the idle color stable and healthy yet (for a Wait loop);
//! - `scale-down`: after the warm window, shrink the previous color.

use bluegreen_core::Error;
use bluegreen_core::deploy::{DeployOutcome, deploy};
use bluegreen_core::input::{ExecutionInput, SOURCE};
use bluegreen_core::ports::{Executions, LoadBalancer, ParameterStore, Ports, Services};
use bluegreen_core::ready::{Readiness, check};
use bluegreen_core::scale_down::{ScaleDownOutcome, scale_down};
use bluegreen_lambda::HandlerError;
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Deploy,
    Check,
    ScaleDown,
}

impl Phase {
    /// Reads `phase` from the document and removes it, so that the rest is the
    /// plain execution input.
    pub fn take(doc: &mut Value) -> Result<Phase, Error> {
        let phase = doc.as_object_mut().and_then(|o| o.remove("phase"));
        match phase.as_ref().map(|p| p.as_str()) {
            None => Ok(Phase::Deploy),
            Some(Some("deploy")) => Ok(Phase::Deploy),
            Some(Some("check")) => Ok(Phase::Check),
            Some(Some("scale-down")) => Ok(Phase::ScaleDown),
            Some(_) => Err(Error::bad_input(
                SOURCE,
                "phase",
                format!(
                    "{} is not a phase: use \"deploy\", \"check\" or \"scale-down\"",
                    phase.unwrap_or_default()
                ),
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum DeployIdleResponse {
    Deployed(DeployOutcome),
    Checked(Readiness),
    ScaledDown(ScaleDownOutcome),
}

pub async fn handler<P, L, S, A, E>(
    ports: &Ports<P, L, S, A, E>,
    event: LambdaEvent<Value>,
) -> Result<DeployIdleResponse, HandlerError>
where
    P: ParameterStore,
    L: LoadBalancer,
    S: Services,
    E: Executions,
{
    let mut doc = event.payload;
    let phase = Phase::take(&mut doc)?;
    let input = ExecutionInput::from_value(doc)?;
    let now = time::OffsetDateTime::now_utc();
    Ok(match phase {
        Phase::Deploy => DeployIdleResponse::Deployed(deploy(ports, &input, now).await?),
        Phase::Check => DeployIdleResponse::Checked(check(ports, &input, now).await?),
        Phase::ScaleDown => DeployIdleResponse::ScaledDown(scale_down(ports, &input).await?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn phase_defaults_to_deploy_and_rejects_strangers() {
        let mut doc = json!({"app": "a"});
        assert_eq!(Phase::take(&mut doc).unwrap(), Phase::Deploy);
        let mut doc = json!({"app": "a", "phase": "scale-down"});
        assert_eq!(Phase::take(&mut doc).unwrap(), Phase::ScaleDown);
        assert!(doc.get("phase").is_none());
        let e = Phase::take(&mut json!({"phase": "deploy-all"})).unwrap_err();
        assert!(e.to_string().contains("`phase`"), "{e}");
    }
}
