//! After the warm window: shrink the previous color to its idle capacity,
//! unless a newer release or a rollback has made it matter again. After a
//! failed release and its grace period: shrink its color the same way
//! ([`failed`]). The decision is a pure plan from one look at the world
//! ([`plan`]); this file takes the app's lock and applies it.

pub mod failed;
mod plan;
pub mod warm;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tracing::{info, warn};

use crate::color::Color;
use crate::document::requests::DeployedRequest;
use crate::error::{Error, Result};
use crate::ports::capabilities::Prefixed;
use crate::ports::{Alerts, Executions, LoadBalancer, ParameterStore, Services};
use crate::records::config::AppConfig;
use crate::records::fence::rolled_back_meanwhile;
use crate::records::scaling;
use crate::records::store::AppStore;
use crate::world::observe;

pub use plan::{BoundsChange, Plan, Release, plan};

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

/// Which color shrinks, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shrinking {
    /// The previous color, once the release's warm window is over.
    AfterWarmWindow,
    /// The release's own color, after it failed and its grace period.
    AfterFailure,
}

pub async fn scale_down<W>(
    aws: &W,
    request: &DeployedRequest,
    now: OffsetDateTime,
) -> Result<ScaleDownOutcome>
where
    W: ParameterStore + LoadBalancer + Services + Alerts + Executions + Prefixed,
{
    shrink_under_lock(aws, request, Shrinking::AfterWarmWindow, now).await
}

/// The failed release's color back to the idle capacity (the state machine
/// calls this after an abort or a rollback, once the grace period is over).
pub async fn scale_back_failed<W>(
    aws: &W,
    request: &DeployedRequest,
    now: OffsetDateTime,
) -> Result<ScaleDownOutcome>
where
    W: ParameterStore + LoadBalancer + Services + Alerts + Executions + Prefixed,
{
    shrink_under_lock(aws, request, Shrinking::AfterFailure, now).await
}

async fn shrink_under_lock<W>(
    aws: &W,
    request: &DeployedRequest,
    shrinking: Shrinking,
    now: OffsetDateTime,
) -> Result<ScaleDownOutcome>
where
    W: ParameterStore + LoadBalancer + Services + Alerts + Executions + Prefixed,
{
    let deploy = &request.deployed;
    let app = request.caller.app.as_str();
    let store = AppStore::new(aws, aws.prefix())?;
    let config = store.config(app).await?;
    let old = match shrinking {
        Shrinking::AfterWarmWindow => deploy.idle_color.other(),
        Shrinking::AfterFailure => deploy.idle_color,
    };
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
    match store.acquire_lock(app, &me, HOLD, now, aws).await {
        Ok(_) => {}
        Err(Error::LockHeld { holder, .. }) => {
            let current = aws.describe(&config.cluster, &service).await?;
            return Ok(skip(
                format!("a newer deployment ({holder}) is in progress"),
                current.desired,
            ));
        }
        Err(e) => return Err(e),
    }
    // Boxed: the observation makes this future large for a Lambda's stack.
    let result = Box::pin(shrink(aws, &store, request, &config, shrinking, &me, now)).await;
    store.release_lock(app, &me).await?;
    result.map(|(desired, why)| match why {
        Some(why) => skip(why, desired),
        None => {
            info!(app, %service, desired, ?shrinking, "scaled down");
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

/// One look at the world, the plan, then its effects. Returns the desired
/// count now and why nothing was done, if nothing was.
async fn shrink<W>(
    aws: &W,
    store: &AppStore<'_, W>,
    request: &DeployedRequest,
    config: &AppConfig,
    shrinking: Shrinking,
    me: &str,
    now: OffsetDateTime,
) -> Result<(i32, Option<String>)>
where
    W: ParameterStore + LoadBalancer + Services + Alerts + Prefixed,
{
    let deploy = &request.deployed;
    let app = request.caller.app.as_str();
    let (world, bounds) = tokio::join!(
        observe(store, app, Some(config)),
        scaling::read(aws, config),
    );
    let (world, bounds) = (world?, bounds?);
    let (old, decided) = match shrinking {
        Shrinking::AfterWarmWindow => {
            let release = Release {
                color: deploy.idle_color,
                version: &deploy.version,
                execution_arn: request.caller.execution_arn.as_deref(),
            };
            (
                deploy.idle_color.other(),
                plan(&world, release, bounds.as_ref()),
            )
        }
        Shrinking::AfterFailure => {
            let release = failed::Failed {
                color: deploy.idle_color,
                version: &deploy.version,
                task_definition: &deploy.task_definition_arn,
            };
            (
                deploy.idle_color,
                failed::plan(&world, release, bounds.as_ref()),
            )
        }
    };
    let current = world.services.get(old).desired;
    match decided {
        Plan::Skip { why, drift } => {
            if drift {
                alert_drift(aws, config, app, &deploy.version, &why, now).await;
            }
            Ok((current, Some(why)))
        }
        Plan::Shrink { bounds, desired } => {
            Box::pin(apply(aws, store, config, old, me, current, bounds, desired)).await
        }
    }
}

/// The plan's effects, between two looks at the fence: a rollback starting
/// meanwhile stops this execution and fences it, and the change is undone
/// (the same two-sided check as deploy-idle's, see `fence`). Any failure
/// stops here; the state machine's retry plans again from a fresh look.
#[allow(clippy::too_many_arguments)]
async fn apply<W>(
    aws: &W,
    store: &AppStore<'_, W>,
    config: &AppConfig,
    old: Color,
    me: &str,
    current: i32,
    bounds: Option<BoundsChange>,
    desired: Option<i32>,
) -> Result<(i32, Option<String>)>
where
    W: ParameterStore + Services + Prefixed,
{
    let app = config.app.as_str();
    let service = &config.color(old).service;
    if let Some(fence) = store.fence_against(app, me).await? {
        return Ok((
            current,
            Some(rolled_back_meanwhile(app, &fence).to_string()),
        ));
    }
    if let Some(b) = bounds {
        scaling::apply(aws, config, old, b.from, b.to).await?;
    }
    if let Some(n) = desired {
        aws.update(&config.cluster, service, None, Some(n)).await?;
    }
    if let Some(fence) = store.fence_against(app, me).await? {
        // A rollback stopped this execution while it shrank the color the
        // rollback may be sending production to: give the tasks back at once.
        // Bounds: what the rollback decided, if it has (it may have settled
        // them before this step's change landed); else the bounds as they
        // were, which the rollback settles after it moves traffic.
        if fence.split.is_some() {
            scaling::honour_fence(store, config, &fence).await?;
        } else if let Some(b) = bounds {
            scaling::apply(aws, config, old, b.to, b.from).await?;
        }
        aws.update(&config.cluster, service, None, Some(current))
            .await?;
        warn!(app, %service, "rolled back while scaling down; restored the desired count");
        return Ok((
            current,
            Some(rolled_back_meanwhile(app, &fence).to_string()),
        ));
    }
    Ok((desired.unwrap_or(current).min(current), None))
}

/// Tells the app's team that the warm window ended with production where the
/// record does not say it is. A failure to send is logged: the step changed
/// nothing, and its outcome says why.
async fn alert_drift<W>(
    aws: &W,
    config: &AppConfig,
    app: &str,
    version: &str,
    why: &str,
    now: OffsetDateTime,
) where
    W: Alerts,
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
    let message = crate::steps::notify::Notice::new(
        crate::records::notifications::NoticeKind::Attention,
        app,
        format!("{app} drifted; old color kept"),
        summary,
        now,
    )
    .fact("version", Some(version))
    .next_step(format!("bluegreen status --app {app}"))
    .chatbot();
    let subject = format!("bluegreen: {app} drifted; old color kept");
    if let Err(e) = aws.publish(topic, &subject, &message.to_string()).await {
        warn!(app, error = %e, "could not send the drift alert");
    }
}
