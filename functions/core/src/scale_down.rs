//! After the warm window: shrink the previous color to its idle capacity,
//! unless a newer release or a rollback has made it matter again.

use serde::{Deserialize, Serialize};
use tracing::info;

use crate::color::Color;
use crate::deploy::lock_holder;
use crate::error::{Error, Result};
use crate::input::{ExecutionInput, SOURCE};
use crate::ports::{ParameterStore, Ports, Services};
use crate::state::Phase;
use crate::store::AppStore;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScaleDownOutcome {
    pub color: Color,
    pub service: String,
    /// The desired count set, or kept when skipped.
    pub desired: i32,
    pub scaled: bool,
    /// Why nothing was done, when nothing was.
    pub skipped: Option<String>,
}

pub async fn scale_down<P, L, S, A, E>(
    ports: &Ports<P, L, S, A, E>,
    input: &ExecutionInput,
) -> Result<ScaleDownOutcome>
where
    P: ParameterStore,
    S: Services,
{
    let deploy = input.deploy.as_ref().ok_or_else(|| {
        Error::bad_input(
            SOURCE,
            "deploy",
            "scale-down needs deploy-idle's result here",
        )
    })?;
    let app = input.app.as_str();
    let store = AppStore::new(&ports.params, &ports.prefix)?;
    let config = store.config(app).await?;
    let old = deploy.idle_color.other();
    let service = config.color(old).service.clone();
    let current = ports.services.describe(&config.cluster, &service).await?;
    let target = config.idle_capacity_after_window as i32;

    let state = store.state(app).await?;
    let still_ours = state.as_ref().is_some_and(|s| {
        s.active_color == deploy.idle_color
            && s.active_version.as_deref() == Some(deploy.version.as_str())
            && s.phase == Phase::Stable
    });
    let skipped = if !still_ours {
        Some(format!(
            "{old} may serve again: release {} is no longer the live one (rolled back or superseded)",
            deploy.version
        ))
    } else if let Some(lock) = store.lock(app).await?
        && lock.holder != lock_holder(input)
    {
        Some(format!(
            "a newer deployment ({}) is in progress",
            lock.holder
        ))
    } else if current.desired <= target {
        Some(format!(
            "{service} is already at {} task(s)",
            current.desired
        ))
    } else {
        None
    };
    if let Some(why) = skipped {
        info!(app, %service, %why, "scale-down skipped");
        return Ok(ScaleDownOutcome {
            color: old,
            service,
            desired: current.desired,
            scaled: false,
            skipped: Some(why),
        });
    }
    ports
        .services
        .update(&config.cluster, &service, None, Some(target))
        .await?;
    info!(app, %service, desired = target, "scaled the previous color down after the warm window");
    Ok(ScaleDownOutcome {
        color: old,
        service,
        desired: target,
        scaled: true,
        skipped: None,
    })
}
