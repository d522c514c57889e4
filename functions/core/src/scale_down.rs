//! After the warm window: shrink the previous color to its idle capacity,
//! unless a newer release or a rollback has made it matter again.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tracing::{info, warn};

use crate::color::Color;
use crate::config::AppConfig;
use crate::error::{Error, Result};
use crate::fence::rolled_back_meanwhile;
use crate::ports::{Alerts, Bounds, Executions, LoadBalancer, ParameterStore, Ports, Services};
use crate::requests::DeployedRequest;
use crate::scaling;
use crate::state::Phase;
use crate::store::AppStore;
use crate::world::observe;

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

/// How long scale-down holds the app's lock if it dies holding it.
const HOLD: std::time::Duration = std::time::Duration::from_secs(600);

pub async fn scale_down<P, L, S, A, E>(
    ports: &Ports<P, L, S, A, E>,
    request: &DeployedRequest,
    now: OffsetDateTime,
) -> Result<ScaleDownOutcome>
where
    P: ParameterStore,
    L: LoadBalancer,
    S: Services,
    A: Alerts,
    E: Executions,
{
    let deploy = &request.deployed;
    let app = request.caller.app.as_str();
    let store = AppStore::new(&ports.params, &ports.prefix)?;
    let config = store.config(app).await?;
    let old = deploy.idle_color.other();
    let service = config.color(old).service.clone();
    let me = request.caller.holder();
    // The lock is held while shrinking: a rollback starting meanwhile stops
    // this execution and fences it, and this step then undoes its change
    // (the same two-sided check as deploy-idle's, see `fence`).
    let skip = |why: String, desired: i32| {
        info!(app, %service, %why, "scale-down skipped");
        ScaleDownOutcome {
            color: old,
            service: service.clone(),
            desired,
            scaled: false,
            skipped: Some(why),
        }
    };
    match store
        .acquire_lock(app, &me, HOLD, now, &ports.executions)
        .await
    {
        Ok(_) => {}
        Err(Error::LockHeld { holder, .. }) => {
            let current = ports.services.describe(&config.cluster, &service).await?;
            return Ok(skip(
                format!("a newer deployment ({holder}) is in progress"),
                current.desired,
            ));
        }
        Err(e) => return Err(e),
    }
    // Boxed: the observation makes this future large for a Lambda's stack.
    let result = Box::pin(shrink(ports, &store, request, &config, old, &me, now)).await;
    store.release_lock(app, &me).await?;
    result.map(|(desired, why)| match why {
        Some(why) => skip(why, desired),
        None => {
            info!(app, %service, desired, "scaled the previous color down after the warm window");
            ScaleDownOutcome {
                color: old,
                service: service.clone(),
                desired,
                scaled: true,
                skipped: None,
            }
        }
    })
}

/// Returns the desired count now and why nothing was done, if nothing was.
async fn shrink<P, L, S, A, E>(
    ports: &Ports<P, L, S, A, E>,
    store: &AppStore<'_, P>,
    request: &DeployedRequest,
    config: &AppConfig,
    old: Color,
    me: &str,
    now: OffsetDateTime,
) -> Result<(i32, Option<String>)>
where
    P: ParameterStore,
    L: LoadBalancer,
    S: Services,
    A: Alerts,
{
    let deploy = &request.deployed;
    let app = request.caller.app.as_str();
    let execution_arn = request.caller.execution_arn.as_deref();
    let service = &config.color(old).service;
    // The listener says where traffic goes, not the record: on-call may have
    // moved production back by hand during the warm window.
    let world = observe(store, &ports.lb, &ports.services, app, Some(config)).await?;
    let current = world.services.get(old).clone();
    let target = config.idle_capacity_after_window as i32;
    let state = world.records.state.clone();
    let still_ours = state.as_ref().is_some_and(|s| {
        s.active_color == deploy.idle_color
            && s.active_version.as_deref() == Some(deploy.version.as_str())
            && s.phase == Phase::Stable
            // The same version may have gone live again through a newer
            // execution, whose warm window this one must not cut short.
            && (execution_arn.is_none() || s.last_execution_arn.as_deref() == execution_arn)
    });
    if world.weights.serves(old) {
        // Never shrink a color with production weight. When the record says
        // the release is live, the two disagree: people must hear of it.
        let why = format!(
            "{old} ({service}) has production traffic: the listener sends {}",
            world.weights
        );
        if still_ours {
            alert_drift(ports, config, app, deploy.version.as_str(), &why, now).await;
        }
        return Ok((
            current.desired,
            Some(format!("{why}; nothing was scaled down")),
        ));
    }
    if !still_ours {
        return Ok((
            current.desired,
            Some(format!(
                "{old} may serve again: release {} is no longer the live one (rolled back or superseded)",
                deploy.version
            )),
        ));
    }
    // An app that autoscales: the old color's minimum goes to the idle
    // capacity too, or its policies would scale it straight back up.
    let bounds = crate::scaling::read(&ports.services, config).await?;
    let rest = bounds.as_ref().map(|b| {
        let now = *b.get(old);
        Bounds {
            min: target,
            max: now.max.max(target),
        }
    });
    let bounds_at_rest = bounds
        .as_ref()
        .zip(rest)
        .is_none_or(|(b, rest)| *b.get(old) == rest);
    if current.desired <= target && bounds_at_rest {
        return Ok((
            current.desired,
            Some(format!(
                "{service} is already at {} task(s)",
                current.desired
            )),
        ));
    }
    if let Some(fence) = store.fence_against(app, me).await? {
        return Ok((
            current.desired,
            Some(rolled_back_meanwhile(app, &fence).to_string()),
        ));
    }
    if let (Some(b), Some(rest)) = (&bounds, rest) {
        scaling::apply(&ports.services, config, old, *b.get(old), rest).await?;
    }
    if current.desired > target {
        ports
            .services
            .update(&config.cluster, service, None, Some(target))
            .await?;
    }
    if let Some(fence) = store.fence_against(app, me).await? {
        // A rollback stopped this execution while it shrank the color the
        // rollback may be sending production to: give the tasks back at once.
        // Bounds: what the rollback decided, if it has (it may have settled
        // them before this step's change landed); else the bounds as they
        // were, which the rollback settles after it moves traffic.
        if fence.split.is_some() {
            scaling::honour_fence(store, &ports.services, config, &fence).await?;
        } else if let (Some(b), Some(rest)) = (&bounds, rest) {
            scaling::apply(&ports.services, config, old, rest, *b.get(old)).await?;
        }
        ports
            .services
            .update(&config.cluster, service, None, Some(current.desired))
            .await?;
        warn!(app, %service, "rolled back while scaling down; restored the desired count");
        return Ok((
            current.desired,
            Some(rolled_back_meanwhile(app, &fence).to_string()),
        ));
    }
    Ok((target.min(current.desired), None))
}

/// Tells the app's team that the warm window ended with production where the
/// record does not say it is. A failure to send is logged: the step changed
/// nothing, and its outcome says why.
async fn alert_drift<P, L, S, A, E>(
    ports: &Ports<P, L, S, A, E>,
    config: &AppConfig,
    app: &str,
    version: &str,
    why: &str,
    now: OffsetDateTime,
) where
    A: Alerts,
{
    let Some(topic) = &config.alert_topic_arn else {
        warn!(app, %why, "drift at scale-down, and the app has no alert topic");
        return;
    };
    let summary = format!(
        "bluegreen did not scale down {app} after the warm window of release {version}: {why}, \
         but the record says {version} serves. Nothing was changed; see `bluegreen status --app {app}` \
         and move the listener (or deploy) on purpose"
    );
    let message = serde_json::json!({
        "summary": summary,
        "app": app,
        "version": version,
        "at": now.format(&time::format_description::well_known::Rfc3339).ok(),
    });
    let subject = format!("bluegreen: {app} drifted; old color kept");
    if let Err(e) = ports
        .alerts
        .publish(topic, &subject, &message.to_string())
        .await
    {
        warn!(app, error = %e, "could not send the drift alert");
    }
}
