//! The previous color during the warm window: kept at
//! `warm_capacity_percent` of the release's size (a shared database's
//! connection budget: both colors hold their pools meanwhile). Done once the
//! release serves all production traffic, under the app's lock, just before
//! the lock is released; a rollback in the window finds the color short of
//! the release's size and scales it up before moving traffic (see
//! `rollback::decide::cold`).

use serde::{Deserialize, Serialize};
use tracing::info;

use crate::color::Color;
use crate::document::requests::DeployedRequest;
use crate::error::Result;
use crate::ports::capabilities::Prefixed;
use crate::ports::{LoadBalancer, ParameterStore, Services};
use crate::records::config::AppConfig;
use crate::records::store::AppStore;
use crate::world::observe;

/// The previous color's size through the warm window, when it was trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WarmCapacity {
    pub color: Color,
    pub desired: i32,
}

/// The share of `of` tasks the previous color keeps: at least one.
pub fn warm_size(config: &AppConfig, of: i32) -> i32 {
    let share = (of.max(0) as u32 * u32::from(config.warm_capacity_percent)).div_ceil(100);
    (share as i32).max(1)
}

/// Trims the previous color to its warm capacity, once the release serves
/// everything (as the load balancer and ECS say). Nothing for an app at
/// 100 %, one that autoscales, or a release that is not live.
pub async fn keep_warm<W>(aws: &W, request: &DeployedRequest) -> Result<Option<WarmCapacity>>
where
    W: ParameterStore + LoadBalancer + Services + Prefixed,
{
    let app = request.caller.app.as_str();
    let store = AppStore::new(aws, aws.prefix())?;
    let config = store.config(app).await?;
    if config.warm_capacity_percent >= 100 || config.autoscaling {
        return Ok(None);
    }
    let deployed = &request.deployed;
    let release = deployed.idle_color;
    let world = observe(&store, app, Some(&config)).await?;
    // Never a color with production weight (invariant 11), and only for a
    // release that went live: after a rollback the other color serves.
    if world.weights.sole() != Some(release)
        || world.task_definition(release) != deployed.task_definition_arn
    {
        return Ok(None);
    }
    let previous = release.other();
    let target = warm_size(&config, world.services.get(release).desired);
    if world.services.get(previous).desired <= target {
        return Ok(None);
    }
    let service = &config.color(previous).service;
    aws.update(&config.cluster, service, None, Some(target))
        .await?;
    info!(app, %service, desired = target, percent = config.warm_capacity_percent,
          "the previous color stays warm at part of its size");
    Ok(Some(WarmCapacity {
        color: previous,
        desired: target,
    }))
}
