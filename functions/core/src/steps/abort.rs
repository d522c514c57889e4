//! A release that failed before any traffic moved: give back what it took.
//! Traffic was never touched; an app that autoscales gets the bounds the
//! release recorded before it held them (see `scaling`), by the role each
//! color has on the listener now; the lock goes last,
//! so no other deployment can start on half-restored bounds.

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::document::requests::Caller;
use crate::error::Result;
use crate::ports::capabilities::Prefixed;
use crate::ports::{LoadBalancer, ParameterStore, Services};
use crate::records::config::AppConfig;
use crate::records::scaling::{self, ScalingRecord};
use crate::records::state::AppState;
use crate::records::store::AppStore;
use crate::world::routing::read_weights;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aborted {
    pub holder: String,
    /// Whether this call released the lock (false: it was not held by it).
    pub released: bool,
    /// Whether the scalable targets got their bounds from before the release.
    #[serde(default)]
    pub scaling_restored: bool,
}

pub async fn abort<W>(aws: &W, caller: &Caller) -> Result<Aborted>
where
    W: ParameterStore + LoadBalancer + Services + Prefixed,
{
    let app = caller.app.as_str();
    let me = caller.holder();
    let store = AppStore::new(aws, aws.prefix())?;
    // Only while this deployment holds the lock: a rollback that took it
    // over restores the bounds itself, for the color it sends traffic to.
    let (lock, fence) = store.lock_and_fence(app).await?;
    let holds_lock = lock.is_some_and(|l| l.holder == me);
    let fenced = fence.is_some_and(|f| f.fences(&me));
    let mut scaling_restored = false;
    // A rollback that fenced this deployment owns the record and the bounds
    // (it may have moved production and written its state meanwhile): only
    // the lock is given back. (A release driven by direct invokes keeps its
    // lock through a rollback: nobody can stop it.)
    if holds_lock && !fenced {
        let config = store.config(app).await?;
        clear_own_mark(aws, &store, &config, caller).await?;
        if config.autoscaling
            && let Some(record) = scaling::record(&store, app).await?
            && record.execution == me
        {
            scaling_restored = give_back_bounds(aws, &store, &config, &record, &me).await?;
        }
    }
    let released = store.release_lock(app, &me).await?;
    Ok(Aborted {
        holder: me,
        released,
        scaling_restored,
    })
}

/// The recorded bounds, by the role each color has on the listener now (not
/// the one the release assumed: on-call may have moved production onto the
/// color it deployed to). A split leaves both held: each color carries
/// production, and lowering either minimum could shrink it (invariant 11).
/// A rollback that fenced this deployment owns the bounds: the fence is read
/// again right before the writes (the abort's first read may be long past,
/// and a rollback may have moved production since to the color this would
/// idle), and after them, when its decision is applied again over ours (as
/// deploy-idle and switch do).
async fn give_back_bounds<W>(
    aws: &W,
    store: &AppStore<'_, W>,
    config: &AppConfig,
    record: &ScalingRecord,
    me: &str,
) -> Result<bool>
where
    W: ParameterStore + LoadBalancer + Services + Prefixed,
{
    let weights = read_weights(aws, config).await?;
    let Some(serving) = weights.sole() else {
        warn!(app = %config.app, %weights, "aborted with production split: both colors keep their held bounds");
        return Ok(false);
    };
    let Some(bounds) = scaling::read(aws, config).await? else {
        return Ok(false);
    };
    if let Some(fence) = store.fence_against(&config.app, me).await? {
        scaling::honour_fence(store, config, &fence).await?;
        return Ok(false);
    }
    scaling::give_back(store, config, serving, record, &bounds).await?;
    if let Some(fence) = store.fence_against(&config.app, me).await? {
        scaling::honour_fence(store, config, &fence).await?;
        return Ok(false);
    }
    info!(app = %config.app, %serving, "aborted: the scalable targets have their bounds from before the release");
    Ok(true)
}

/// deploy-idle marks the idle color as being replaced before it updates the
/// service. A release that failed in between leaves a mark ECS contradicts
/// (the color still runs the release recorded before it): the abort, still
/// holding the lock, takes it away, so that a later rollback can go there.
async fn clear_own_mark<W>(
    aws: &W,
    store: &AppStore<'_, W>,
    config: &AppConfig,
    caller: &Caller,
) -> Result<()>
where
    W: ParameterStore + Services + Prefixed,
{
    let app = caller.app.as_str();
    let Some(state) = store.state(app).await? else {
        return Ok(());
    };
    if state.previous_color_replaced_by.as_deref() != Some(caller.version.as_str()) {
        return Ok(());
    }
    let service = &config.color(state.previous_color).service;
    let runs = aws.describe(&config.cluster, service).await?;
    if state.previous_task_definition.as_deref() != Some(runs.task_definition.as_str()) {
        // The release did reach the color: the mark is true.
        return Ok(());
    }
    let unmarked = AppState {
        previous_color_replaced_by: None,
        previous_color_replaced_with: None,
        ..state
    };
    store.save_state(app, &unmarked).await?;
    info!(app, color = %unmarked.previous_color, "aborted before the service changed: the color is a rollback target again");
    Ok(())
}
