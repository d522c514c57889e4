//! An execution that ended without releasing: what it leaves, from one look.

use time::OffsetDateTime;
use tracing::{info, warn};

use crate::color::Color;
use crate::error::{Error, Result};
use crate::ports::capabilities::Prefixed;
use crate::ports::{Alerts, LoadBalancer, ParameterStore, Services};
use crate::records::config::AppConfig;
use crate::records::store::AppStore;
use crate::world::observe;

use super::decide::{Decision, decide};
use super::{
    ColorVersion, RollbackOutcome, RollbackRequest, alert, another_release_holds,
    is_rollback_holder,
};

/// What an execution that ended without succeeding leaves, from one look:
/// - its release serves all production traffic (it went live, and ended
///   during its last bake or in its scale-down): it is not rolled back. If
///   the execution still held the app, its lock is released and the team is
///   told that the release serves without a verdict;
/// - nothing to undo (its own rollback or abort ran, or no traffic moved) and
///   no lock or pending fence of it: answered without taking the lock, so
///   that a release started right after a failed one is not refused;
/// - anything else (production split, its lock still held, a pending fence)
///   goes the whole way (`None`).
pub(super) async fn nothing_left<W>(
    aws: &W,
    store: &AppStore<'_, W>,
    request: &RollbackRequest,
    ended: &str,
    known: Option<&AppConfig>,
    now: OffsetDateTime,
) -> Result<Option<RollbackOutcome>>
where
    W: ParameterStore + LoadBalancer + Services + Alerts + Prefixed,
{
    let world = observe(store, &request.app, known).await?;
    let app = request.app.as_str();
    // Another rollback at work (an on-call press, say) decides for the app:
    // this event waits for it (Lambda retries the asynchronous invoke), so
    // that two rollbacks never settle the app two ways at once.
    if let Some(l) = &world.records.lock
        && is_rollback_holder(&l.holder)
        && !l.is_expired(now)
    {
        return Err(crate::records::store::lock_held(app, l));
    }
    let holds_lock = world
        .records
        .lock
        .as_ref()
        .is_some_and(|l| l.holder == ended);
    let pending = world.records.fence.as_ref().filter(|f| f.split.is_none());
    // A pending fence of another execution: a rollback stopped it and is
    // deciding now. Its work is not this event's to finish: wait for it.
    if let Some(f) = pending
        && !f.fences(ended)
    {
        return Err(Error::Port(crate::ports::PortError {
            operation: "rollback",
            kind: crate::ports::PortErrorKind::Transient,
            message: format!(
                "another rollback of `{app}` is deciding (it fenced {}); this event is retried after it",
                f.holder
            ),
        }));
    }
    let fence_pending = pending.is_some();
    // A fence of this execution made by another rollback (an on-call press
    // that stopped it): that rollback owns the way back, and said so —
    // unless it decided and did not finish (it failed after its decision,
    // and nothing retries it for this execution now): this reaction
    // finishes that decision, the whole way (see `run`).
    let fence = world.records.fence.as_ref().filter(|f| f.fences(ended));
    let unfinished_decision = !another_release_holds(&world, ended)
        && fence.is_some_and(|f| f.split.is_some() && !f.finished);
    let fenced_by_another =
        fence.is_some_and(|f| f.reason != request.reason) && !unfinished_decision;
    let version = request.release.as_ref().map(|r| r.version.as_str());
    if let Some(s) = world.state()
        && world.weights.sole() == Some(s.active_color)
        && s.phase != crate::records::state::Phase::RolledBack
        && s.active_version.as_deref() == version
        && !fence_pending
    {
        let serving = ColorVersion {
            color: s.active_color,
            version: s.active_version.clone(),
        };
        let note = format!(
            "release {} serves all production traffic; its execution ended before it finished (its last bake's verdict or its scale-down); nothing was rolled back",
            version.unwrap_or("?")
        );
        let mut out = RollbackOutcome::unchanged(request, serving, note);
        if holds_lock {
            out.lock_released = store.release_lock(app, ended).await?;
            if let Some(topic) = &world.config().alert_topic_arn {
                out.alert_error = alert::alert_unfinished(aws, topic, app, ended, &out, now).await;
            }
        }
        warn!(
            app,
            execution = ended,
            "an ended execution's release serves all traffic: left live"
        );
        return Ok(Some(out));
    }
    if fenced_by_another {
        let serving = world.weights.sole().unwrap_or(Color::Blue);
        let serving = ColorVersion {
            color: serving,
            version: world
                .state()
                .filter(|s| s.active_color == serving)
                .and_then(|s| s.active_version.clone()),
        };
        let note = format!(
            "an emergency rollback stopped {ended} and owns the way back: nothing done here"
        );
        info!(
            app,
            execution = ended,
            "fenced by an emergency rollback: left to it"
        );
        let mut out = RollbackOutcome::unchanged(request, serving, note);
        // That rollback has decided (the fence is not pending): the lock the
        // ended execution still holds (a step of a redriven run took it
        // again, say) would outlive its holder. Given back.
        if holds_lock && !fence_pending {
            out.lock_released = store.release_lock(app, ended).await?;
        }
        return Ok(Some(out));
    }
    // A record to repair (`active-environment` left naming the other color
    // by a write that failed half-way) is repaired the whole way, under the
    // lock.
    let record_to_repair = world.state().is_some_and(|s| {
        world.weights.sole() == Some(s.active_color) && !world.records.state_is(s)
    });
    // Bounds it took and did not give back (its own rollback moved
    // production and failed before settling them, say): settled the whole
    // way, under the lock. (Read only for its own record; an abort or a
    // rollback that finished left them as settling would, and then the lock
    // is not taken: a release started right after is not refused.)
    let config = world.config();
    let its_bounds_held = match (&world.records.scaling, world.weights.sole()) {
        (Some(record), Some(serving)) if config.autoscaling && record.execution == ended => {
            crate::records::scaling::read(aws, config)
                .await?
                .is_some_and(|now| {
                    crate::records::scaling::after_rollback(record, serving, &now) != now
                })
        }
        _ => false,
    };
    if holds_lock || fence_pending || record_to_repair || its_bounds_held || unfinished_decision {
        return Ok(None);
    }
    let Ok(Decision::Untouched { note, serving }) = decide(&world, request, false, now) else {
        return Ok(None);
    };
    info!(app, execution = ended, %note, "an ended execution left nothing to roll back");
    Ok(Some(RollbackOutcome::unchanged(request, serving, note)))
}
