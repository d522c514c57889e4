//! Recording what really serves. When the record and the world disagree
//! (traffic moved by hand, a state write that never happened), the record is
//! rebuilt from the world: the load balancer names the active color, ECS the
//! task definition each color runs; versions are kept only where ECS still
//! runs the task definition the record names for them.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tracing::warn;

use crate::color::Color;
use crate::error::{Error, Result};
use crate::ports::capabilities::Prefixed;
use crate::ports::{ExecutionStatus, Executions, LoadBalancer, ParameterStore, Services};
use crate::records::state::{AppState, Phase};
use crate::records::store::{AppStore, is_execution_arn, lock_held};
use crate::steps::switch::version_on;
use crate::world::split::Split;
use crate::world::{World, observe};

/// The record `world` should have, production being all on `active`.
pub fn record_of(world: &World, active: Color) -> AppState {
    let before = world.state();
    let same_active = before.is_some_and(|s| s.active_color == active);
    AppState {
        active_color: active,
        active_version: version_on(world, active),
        previous_color: active.other(),
        previous_version: version_on(world, active.other()),
        active_task_definition: Some(world.task_definition(active).to_string()),
        previous_task_definition: Some(world.task_definition(active.other()).to_string()),
        previous_color_replaced_by: before
            .filter(|_| same_active)
            .and_then(|s| s.previous_color_replaced_by.clone()),
        previous_color_replaced_with: before
            .filter(|_| same_active)
            .and_then(|s| s.previous_color_replaced_with.clone()),
        weights: Split::all(active),
        phase: match before {
            Some(s) if same_active && s.phase == Phase::RolledBack => Phase::RolledBack,
            _ => Phase::Stable,
        },
        last_execution_arn: before.and_then(|s| s.last_execution_arn.clone()),
        switched_at: before.and_then(|s| s.switched_at),
        live_since: before.filter(|_| same_active).and_then(|s| s.live_since),
    }
}

/// deploy-idle's repair: when the record names another active color than
/// the load balancer does, it is rebuilt before anything is deployed.
pub async fn repair_record(
    store: &AppStore<'_, impl ParameterStore>,
    world: &World,
    active: Color,
) -> Result<Option<AppState>> {
    let Some(state) = world.state() else {
        return Ok(None);
    };
    if state.active_color == active {
        return Ok(Some(state.clone()));
    }
    let repaired = record_of(world, active);
    warn!(
        app = %world.config().app,
        recorded = %state.active_color,
        listener = %active,
        "the record named another active color than the load balancer; repaired it from the world"
    );
    store.save_state(&world.config().app, &repaired).await?;
    Ok(Some(repaired))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reconciled {
    pub app: String,
    pub before: Option<AppState>,
    pub after: AppState,
    pub changed: bool,
}

/// `bluegreen reconcile`: records what really serves. Refuses while a
/// deployment holds the app (it would be recording a world in motion) and
/// while production is split.
pub async fn reconcile<W>(aws: &W, app: &str, now: OffsetDateTime) -> Result<Reconciled>
where
    W: ParameterStore + LoadBalancer + Services + Executions + Prefixed,
{
    let store = AppStore::new(aws, aws.prefix())?;
    let world = observe(&store, app, None).await?;
    if let Some(lock) = &world.records.lock {
        let live = if is_execution_arn(&lock.holder) {
            aws.status(&lock.holder).await? == ExecutionStatus::Running
        } else {
            !lock.is_expired(now)
        };
        if live {
            return Err(lock_held(app, lock));
        }
    }
    let active = world.weights.sole().ok_or_else(|| Error::ProductionSplit {
        app: app.to_string(),
        split: world.weights.to_string(),
    })?;
    let after = record_of(&world, active);
    let before = world.state().cloned();
    let changed = before.as_ref() != Some(&after);
    if changed {
        store.save_state(app, &after).await?;
    }
    Ok(Reconciled {
        app: app.to_string(),
        before,
        after,
        changed,
    })
}
