//! The emergency path with a deployment running: traffic first, then the
//! deployment stopped and its lock taken over.
//!
//! The first round of the rollback read the records and the world while it
//! announced that it is deciding (see [`crate::records::announcement`]). When that
//! round shows a deployment that already moved traffic to its release and
//! still holds the app with the hold it took before (it is baking or
//! stepping: its deploy step is behind it, and its scale-down, which takes
//! the app again later, ahead; neither can touch the color the rollback
//! sends production to meanwhile), the second
//! round writes the decided fence and production's split at once. A switch
//! step of that deployment in flight reads, after its own change, the
//! announcement or the fence, and puts the rollback's decision back.
//!
//! Anything else (no announcement, a deployment that has not switched yet,
//! an earlier attempt's fence, a cold target, production already there)
//! takes the careful path in `run`: fence, stop, take the lock, read again,
//! decide.

use time::OffsetDateTime;
use tracing::warn;

use crate::error::{Error, Result};
use crate::ports::capabilities::Prefixed;
use crate::ports::{Alerts, Executions, LoadBalancer, ParameterStore, Services};
use crate::records::fence::Fence;
use crate::records::lock::Lock;
use crate::records::state::Phase;
use crate::records::store::{AppStore, is_execution_arn};
use crate::world::World;
use crate::world::routing::write_split;
use crate::world::split::Split;

use super::decide::{Decision, RollPlan, decide};
use super::{RollbackOutcome, RollbackRequest, RollbackSource, is_rollback_holder};

/// The plan, when the first round allows moving traffic at once: an
/// emergency request, a running deployment holding the app that switched
/// to its release, no earlier attempt about it, a target ready to carry
/// production.
pub(super) fn plan(
    world: &World,
    request: &RollbackRequest,
    holder: Option<&Lock>,
    now: OffsetDateTime,
) -> Option<RollPlan> {
    if !matches!(request.source, RollbackSource::Sns | RollbackSource::Direct)
        || request.caller_execution.is_some()
        || request.ended_execution.is_some()
    {
        return None;
    }
    let holder = holder?;
    if !is_execution_arn(&holder.holder) || is_rollback_holder(&holder.holder) {
        return None;
    }
    // An earlier attempt fenced it: the careful path finishes that.
    if world
        .records
        .fence
        .as_ref()
        .is_some_and(|f| f.fences(&holder.holder))
    {
        return None;
    }
    let s = world.state()?;
    // The hold that moved traffic, not a later one: after its bake a
    // release gives the app back and takes it again to scale the previous
    // color (the rollback's target) down after the warm window.
    let holding_since_before_the_switch = s.switched_at.is_some_and(|at| holder.acquired_at <= at);
    let switched = holding_since_before_the_switch
        && s.last_execution_arn.as_deref() == Some(holder.holder.as_str())
        && s.phase != Phase::RolledBack
        && s.previous_color_replaced_by.is_none()
        && world.weights.serves(s.active_color);
    // An app that autoscales with no scaling record: the bounds are
    // recorded before traffic moves (see `run`).
    let bounds_recorded = !world.config().autoscaling || world.records.scaling.is_some();
    if !switched || !bounds_recorded {
        return None;
    }
    match decide(world, request, true, now) {
        Ok(Decision::Roll(plan))
            if plan.move_traffic && !plan.confirm_only && plan.cold.is_none() =>
        {
            Some(*plan)
        }
        _ => None,
    }
}

/// The decided fence and production's split in one round; then the
/// deployment stopped, its lock taken over, and the rest as on every path.
#[allow(clippy::too_many_arguments)]
pub(super) async fn traffic_first<W>(
    aws: &W,
    store: &AppStore<'_, W>,
    request: &RollbackRequest,
    world: &World,
    holder: &Lock,
    plan: RollPlan,
    mine: &Lock,
    took_lock: &mut bool,
    now: OffsetDateTime,
) -> Result<RollbackOutcome>
where
    W: ParameterStore + LoadBalancer + Services + Alerts + Executions + Prefixed,
{
    let app = request.app.as_str();
    let config = world.config();
    let wanted = Split::all(plan.target);
    let fence = Fence::decided(
        &holder.holder,
        wanted,
        &plan.new_state,
        &request.reason,
        now,
    );
    let route = config.production.route();
    let (fenced, moved) = tokio::join!(
        store.save_fence(app, &fence),
        write_split(aws, config, &route, &world.production, wanted, false),
    );
    fenced?;
    moved?;
    warn!(app, to = %plan.target, reason = %request.reason, execution = %holder.holder,
        "rolled back production traffic; stopping the running deployment");

    super::stop_if_running(aws, request, &holder.holder).await?;
    let ttl = (mine.expires_at - mine.acquired_at).unsigned_abs();
    match store.acquire_lock(app, &mine.holder, ttl, now, aws).await {
        Ok(_) => *took_lock = true,
        // A release that took the lock from the stopped deployment
        // meanwhile (a script, or the stopped deployment's step in flight)
        // is fenced by the same decision: its next step puts it back.
        Err(Error::LockHeld { .. }) => {
            if let Some(other) = store.lock(app).await?
                && other.holder != holder.holder
                && !is_rollback_holder(&other.holder)
            {
                store
                    .save_fence(app, &fence.clone().with_also([&other.holder]))
                    .await?;
            }
        }
        Err(e) => {
            // The lock may be ours with the answer lost: the release at the
            // end deletes it only if it is.
            *took_lock = true;
            return Err(e);
        }
    }
    let ctx = super::plan::Context {
        request,
        stopped: Some(&holder.holder),
        fenced: &[],
        holder: Some(holder),
        took_lock: *took_lock,
        now,
    };
    let (effects, outcome) = super::plan::after_traffic(world, plan, ctx);
    let rest = super::plan::Plan {
        effects,
        ending: super::plan::Ending::Done(outcome),
    };
    Box::pin(super::apply::apply(
        aws, store, request, world, rest, mine, now,
    ))
    .await
}
