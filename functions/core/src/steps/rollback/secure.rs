//! Before a rollback decides: whoever else holds the app is fenced off,
//! stopped and taken over, and the world read again.
//!
//! An execution holding the lock (running, or stopped moments ago with a
//! step still in flight) is fenced off first, then stopped if it runs; the
//! rollback then holds the lock itself (no deployment can reclaim it
//! meanwhile) and reads the world again. The fence comes before the stop,
//! so a retry of a rollback that failed in between still finds it fenced; a
//! holder that took the lock in between is handled the same way.

use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::ports::capabilities::Prefixed;
use crate::ports::{Alerts, Executions, LoadBalancer, ParameterStore, Services};
use crate::records::fence::Fence;
use crate::records::lock::Lock;
use crate::records::store::{AppStore, is_execution_arn};
use crate::world::{World, observe};

use super::{RollbackRequest, is_rollback_holder, made_by, stop_if_running};

/// What the rollback decides from.
pub(super) struct Secured {
    /// The world as read after the last fence, stop or takeover.
    pub world: World,
    /// The deployment it stopped (or fenced, for a `manual:` release), or
    /// whose pending fence an earlier attempt left.
    pub stopped: Option<String>,
    /// Every holder fenced, by this attempt or an earlier one.
    pub fenced: Vec<String>,
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn secure<W>(
    aws: &W,
    store: &AppStore<'_, W>,
    request: &RollbackRequest,
    mut world: World,
    holder: Option<&Lock>,
    mine: &Lock,
    took_lock: &mut bool,
    now: OffsetDateTime,
) -> Result<Secured>
where
    W: ParameterStore + LoadBalancer + Services + Alerts + Executions + Prefixed,
{
    let app = request.app.as_str();
    let mut stopped_execution = None;
    // An earlier attempt's pending fence (it stopped them, then failed
    // before deciding): its holders stay fenced by whatever this one writes.
    let mut fenced_holders: Vec<String> = world
        .records
        .fence
        .as_ref()
        .filter(|f| f.split.is_none())
        .map(|f| f.holders().cloned().collect())
        .unwrap_or_default();
    let mut current = holder.cloned();
    for _ in 0..4 {
        let Some(lock) = current.filter(|l| {
            !is_rollback_holder(&l.holder)
                && Some(&l.holder) != request.caller_execution.as_ref()
                // An ended execution's reaction handles that execution's
                // lock only: another release holding the app now is none of
                // its business (it is no emergency).
                && request
                    .ended_execution
                    .as_ref()
                    .is_none_or(|ended| ended == &l.holder)
        }) else {
            break;
        };
        // This message's decision, made by an earlier attempt, stands: it
        // is never replaced by a pending fence (a retry would then decide
        // again from the world the decision made), it is extended.
        let ours = world
            .records
            .fence
            .as_ref()
            .filter(|f| f.split.is_some() && made_by(request, f));
        let fenced = world
            .records
            .fence
            .as_ref()
            .is_some_and(|f| f.fences(&lock.holder) && (f.split.is_none() || ours.is_some()));
        if !fenced {
            // Naming every holder this attempt fenced: a deployment that took
            // the lock from the one stopped must not unfence that one.
            let fence = match ours {
                Some(decided) => decided
                    .clone()
                    .with_also(fenced_holders.iter().chain([&lock.holder])),
                None => {
                    Fence::pending(&lock.holder, &request.reason, now).with_also(&fenced_holders)
                }
            };
            store.save_fence(app, &fence).await?;
        }
        if !fenced_holders.contains(&lock.holder) {
            fenced_holders.push(lock.holder.clone());
        }
        if !is_execution_arn(&lock.holder) {
            // A release driven by direct invokes (`manual:` holder): nothing
            // to stop, and its lock stays its own until it is released or
            // expires; the fence stops its next step (switch and deploy-idle
            // check it) and puts this rollback's decision back. The world is
            // read again after the fence, as after a stop: a deploy step of
            // that release that saw no fence marked its color before this.
            stopped_execution.get_or_insert_with(|| lock.holder.clone());
            world = observe(store, app, None).await?;
            break;
        }
        stop_if_running(aws, request, &lock.holder).await?;
        stopped_execution.get_or_insert_with(|| lock.holder.clone());
        // Reclaimed like any stale lock (exactly one of several reclaimers
        // wins): a deployment that won it instead is the next one handled.
        let ttl = (mine.expires_at - mine.acquired_at).unsigned_abs();
        match store.acquire_lock(app, &mine.holder, ttl, now, aws).await {
            Ok(_) => {
                *took_lock = true;
                world = observe(store, app, None).await?;
                current = world.records.lock.clone();
            }
            Err(Error::LockHeld { .. }) => {
                world = observe(store, app, None).await?;
                current = world.records.lock.clone();
                // Another rollback won it (a copy of this message, or
                // another one, that found the same deployment): it decides;
                // this one is retried after it, as when it finds one at
                // work from the start. Two deciding at once would settle the
                // app two ways (one fence slot, two decisions).
                if let Some(l) = &current
                    && is_rollback_holder(&l.holder)
                    && !l.is_expired(now)
                    && request.caller_execution.is_none()
                {
                    return Err(crate::records::store::lock_held(app, l));
                }
            }
            Err(e) => {
                // The lock may be ours with the answer lost: the release at
                // the end deletes it only if it is.
                *took_lock = true;
                return Err(e);
            }
        }
    }
    // A pending fence is an earlier attempt of a rollback that stopped that
    // deployment and failed before deciding: this attempt finishes its work
    // (a step of that deployment may still be in flight, and waits for the
    // decided fence to put the rollback's decision back).
    if stopped_execution.is_none()
        && let Some(fence) = world.records.fence.as_ref().filter(|f| f.split.is_none())
    {
        stop_if_running(aws, request, &fence.holder).await?;
        stopped_execution = Some(fence.holder.clone());
        fenced_holders.extend(fence.holders().cloned());
    }

    Ok(Secured {
        world,
        stopped: stopped_execution,
        fenced: fenced_holders,
    })
}
