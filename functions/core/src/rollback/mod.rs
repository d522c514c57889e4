//! Moving all production traffic back to the release that served before. One
//! code path for the state machine, the emergency SNS message and a direct
//! invoke: observe the world ([`crate::world`]), decide ([`decide`]), apply.
//!
//! Emergency path: one round of parallel calls reads the records and the
//! world, tries to take the app's lock for the rollback and announces that
//! a rollback is deciding; the next round moves traffic (its answer is the
//! read-back). State, lock and alert come after. A deployment that already
//! moved traffic and bakes is fenced in that second round and stopped
//! after (see `fast.rs`); any other is fenced off and stopped first (see
//! [`crate::fence`]) and the world is read again.

mod alert;
mod apply;
pub mod decide;
pub mod events;
mod fast;
mod plan;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tracing::{info, warn};

use crate::announcement::Announcement;
use crate::color::Color;
use crate::config::AppConfig;
use crate::error::{Error, Result};
use crate::fence::Fence;
use crate::lock::Lock;
use crate::ports::{
    Alerts, ExecutionStatus, Executions, LoadBalancer, ParameterStore, Ports, PutMode, PutOutcome,
    Services,
};
use crate::routing::write_split;
use crate::split::Split;
use crate::store::{AppStore, is_execution_arn};
use crate::world::{World, observe};

use decide::{Decision, decide};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RollbackSource {
    StateMachine,
    Sns,
    Direct,
    /// The app's state machine ended without releasing (stopped from the
    /// console, timed out, failed outside a Catch): its status change event.
    ExecutionEnded,
}

/// The release a state-machine rollback is about, from deploy-idle's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRef {
    pub version: String,
    /// The color the release was deployed to.
    pub color: Option<Color>,
    /// The release's task definition.
    pub task_definition: Option<String>,
    /// The task definition production ran before the release.
    pub serving_task_definition: Option<String>,
}

/// The longest `reason` accepted: it goes into the fence, the alert and a
/// Step Functions stop cause, all of which have limits.
pub const MAX_REASON: usize = 1000;

/// A machine-made reason (a caught error, the monitor's breach reasons) made
/// to fit [`MAX_REASON`]: `head` then as many whole `parts` as fit, joined by
/// `; `, and how many were left out. A first part too long on its own is cut.
/// Only people's reasons are refused for length: a breach with eight alarms
/// in ALARM must still roll back.
pub fn machine_reason(head: &str, parts: &[&str]) -> String {
    let mut out = head.to_string();
    let mut len = out.chars().count();
    // Room kept for the longest possible tail, " … (and 9999 more)".
    const TAIL: usize = 20;
    for (i, part) in parts.iter().enumerate() {
        let sep = if i == 0 { "" } else { "; " };
        let part_len = sep.chars().count() + part.chars().count();
        let left = parts.len() - i - 1;
        let room = if left == 0 {
            MAX_REASON
        } else {
            MAX_REASON - TAIL
        };
        if len + part_len <= room {
            out.push_str(sep);
            out.push_str(part);
            len += part_len;
            continue;
        }
        if i == 0 {
            let keep = (MAX_REASON - TAIL).saturating_sub(len + 1);
            out.extend(part.chars().take(keep));
            out.push('…');
            if left > 0 {
                out.push_str(&format!(" (and {left} more)"));
            }
        } else {
            out.push_str(&format!(" … (and {} more)", parts.len() - i));
        }
        return out;
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackRequest {
    pub app: String,
    pub reason: String,
    pub source: RollbackSource,
    pub requested_by: Option<String>,
    /// The execution asking for the rollback (state-machine path): it is not
    /// stopped, and its lock is released.
    pub caller_execution: Option<String>,
    /// Roll back only this release (state-machine path): if it never received
    /// traffic, there is nothing to undo and the listener is left alone.
    pub release: Option<ReleaseRef>,
    /// When the request was sent (SNS `Timestamp`): older than the last
    /// traffic change, it is refused as stale.
    pub sent_at: Option<OffsetDateTime>,
    /// The execution that ended without releasing (execution-ended path):
    /// it must really have ended, and be a release of this app. Its lock, if
    /// it still holds one, is fenced and taken over like a stopped one's.
    pub ended_execution: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColorVersion {
    pub color: Color,
    pub version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackOutcome {
    pub app: String,
    /// False when the app was already rolled back and the listener agreed.
    pub changed: bool,
    pub from: ColorVersion,
    pub to: ColorVersion,
    pub split: Split,
    pub reason: String,
    pub source: RollbackSource,
    pub stopped_execution: Option<String>,
    pub lock_released: bool,
    /// Why the alert could not be sent; the rollback itself stands.
    pub alert_error: Option<String>,
    /// Why nothing was changed, when nothing was.
    pub note: Option<String>,
}

impl RollbackOutcome {
    /// The answer of a rollback that moved nothing: production stays on
    /// `serving`, and `note` says why.
    fn unchanged(
        request: &RollbackRequest,
        serving: ColorVersion,
        note: String,
    ) -> RollbackOutcome {
        RollbackOutcome {
            app: request.app.clone(),
            changed: false,
            from: serving.clone(),
            split: Split::all(serving.color),
            to: serving,
            reason: request.reason.clone(),
            source: request.source,
            stopped_execution: None,
            lock_released: false,
            alert_error: None,
            note: Some(note),
        }
    }
}

/// How a rollback names itself when it holds the app's lock.
const HOLDER_PREFIX: &str = "rollback:";

/// Whether a lock holder is a rollback (not a deployment).
pub(crate) fn is_rollback_holder(holder: &str) -> bool {
    holder.starts_with(HOLDER_PREFIX)
}

/// How long a rollback's own hold on the app's lock lasts if it dies.
const ROLLBACK_LOCK_TTL: time::Duration = time::Duration::minutes(5);

/// Rolls `request.app` back. `known` is a config read earlier (a warm Lambda
/// keeps them) that lets the first round read everything at once.
pub async fn rollback<P, L, S, A, E>(
    ports: &Ports<P, L, S, A, E>,
    request: &RollbackRequest,
    now: OffsetDateTime,
    known: Option<&AppConfig>,
) -> Result<RollbackOutcome>
where
    P: ParameterStore,
    L: LoadBalancer,
    S: Services,
    A: Alerts,
    E: Executions,
{
    request.validate()?;
    if let Some(ended) = &request.ended_execution {
        check_ended(&ports.executions, request, ended).await?;
    }
    let app = request.app.as_str();
    let store = AppStore::new(&ports.params, &ports.prefix)?;
    if let Some(ended) = &request.ended_execution
        && let Some(quiet) =
            Box::pin(nothing_left(ports, &store, request, ended, known, now)).await?
    {
        return Ok(quiet);
    }
    let me = format!("{HOLDER_PREFIX}{}", now.unix_timestamp_nanos());
    let mine = Lock {
        holder: me.clone(),
        acquired_at: now,
        expires_at: now + ROLLBACK_LOCK_TTL,
    };
    let lock_name = store.parameter(app, "lock");
    let take_lock = async {
        if request.caller_execution.is_some() {
            return Ok(PutOutcome::AlreadyExists);
        }
        let json = serde_json::to_string(&mine).expect("lock serialises");
        ports
            .params
            .put(&lock_name, &json, PutMode::CreateOnly)
            .await
    };
    // An emergency request announces that a rollback is deciding, with the
    // same round (see `fast`).
    let emergency = matches!(request.source, RollbackSource::Sns | RollbackSource::Direct);
    let announcement = Announcement {
        by: me.clone(),
        reason: request.reason.clone(),
        at: now,
    };
    let announce = async {
        if emergency {
            store.announce(app, &announcement).await
        } else {
            Ok(false)
        }
    };
    let (world, took, announced) = tokio::join!(
        observe(&store, &ports.lb, &ports.services, app, known),
        take_lock,
        announce,
    );
    // Written, or perhaps written with the answer lost: withdrawn at the end.
    let may_have_announced = emergency && !matches!(announced, Ok(false));
    let announced = matches!(announced, Ok(true));
    let mut took = match took {
        Ok(outcome) => outcome == PutOutcome::Written,
        Err(e) => {
            // The lock may be ours with the answer lost: give it back (only
            // if it is ours) so that it does not outlive this attempt.
            release_own_lock(&store, app, &me).await;
            if may_have_announced {
                withdraw(&store, app, &me, now, false).await;
            }
            return Err(e.into());
        }
    };
    let result = match world {
        // Boxed: a large future, kept off the caller's stack.
        Ok(world) => {
            Box::pin(run(
                ports, &store, request, world, &mine, &mut took, announced, now,
            ))
            .await
        }
        Err(e) => Err(e),
    };
    // The rollback's own hold and its announcement end with it, whatever
    // happened.
    tokio::join!(
        async {
            if took {
                release_own_lock(&store, app, &me).await;
            }
        },
        async {
            // Holding the app's lock, it also clears one an earlier attempt
            // could not.
            if may_have_announced || took {
                withdraw(&store, app, &me, now, took).await;
            }
        },
    );
    if let Err(e) = &result
        && request.source != RollbackSource::StateMachine
        && !matches!(e, Error::BadInput { .. } | Error::UnknownApp { .. })
        && let Ok(config) = store.config(app).await
        && let Some(topic) = &config.alert_topic_arn
    {
        alert::alert_failed(&ports.alerts, topic, app, &e.to_string(), request, now).await;
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn run<P, L, S, A, E>(
    ports: &Ports<P, L, S, A, E>,
    store: &AppStore<'_, P>,
    request: &RollbackRequest,
    mut world: World,
    mine: &Lock,
    took_lock: &mut bool,
    announced: bool,
    now: OffsetDateTime,
) -> Result<RollbackOutcome>
where
    P: ParameterStore,
    L: LoadBalancer,
    S: Services,
    A: Alerts,
    E: Executions,
{
    let app = request.app.as_str();
    if let Some(caller) = &request.caller_execution {
        check_caller(&ports.executions, request, caller).await?;
    }
    // A stale message is recognised from the first round, before anything
    // is fenced or stopped: a late copy never stops a newer deployment. Two
    // exceptions go on: a retry of this message whose earlier attempt
    // already fenced a deployment (its work must be finished: that
    // deployment's in-flight step may have recorded traffic since), and a
    // copy of a message whose rollback is done (the rest is idempotent:
    // nothing moves, no second alert, bookkeeping left undone is finished).
    let started_by_this_message = world
        .records
        .fence
        .as_ref()
        .is_some_and(|f| made_by(request, f));
    if !started_by_this_message
        && !decide::already_rolled_back(&world)
        && let Some(stale) = decide::stale(&world, request)
    {
        return Err(stale);
    }
    // Who else holds the lock? A running deployment is stopped first so that
    // it cannot move traffic again, and fenced off before the world is read
    // again (its Lambdas may still be running).
    let holder = if *took_lock {
        None
    } else {
        match &world.records.lock {
            Some(l) => Some(l.clone()),
            None => store.lock(app).await?,
        }
    };
    // Another rollback holds the app (a second message, or another copy of
    // this one: SNS delivers at least once): it finishes first, and this
    // request is retried after it, so that two rollbacks never decide and
    // settle the app two ways at once. (Its hold lasts seconds; if it died,
    // it expires in minutes.)
    if let Some(l) = &holder
        && is_rollback_holder(&l.holder)
        && !l.is_expired(now)
        && request.caller_execution.is_none()
    {
        return Err(crate::store::lock_held(app, l));
    }
    // A release this message's decision does not fence (it took the app
    // after the decision; clocks cannot tell, the fence's names can) is
    // none of this message's business once its rollback finished (a copy
    // delivered late, a retry after it was done) or once that release
    // changed what a color runs: nothing is fenced, stopped or recorded.
    // (One that came in while the work was unfinished, the decision still
    // holding, is fenced by it too, below, and the work finished.)
    if let (Some(ours), Some(l)) = (world.records.fence.as_ref(), &holder)
        && ours.split.is_some()
        && (ours.finished || !ours.still_current(|c| world.task_definition(c).to_string()))
        && made_by(request, ours)
        && !is_rollback_holder(&l.holder)
        && !ours.fences(&l.holder)
    {
        let color = world.weights.sole().unwrap_or(Color::Blue);
        let serving = ColorVersion {
            color,
            version: decide::label(&world, color, None),
        };
        let note = format!(
            "this message's rollback decided at {}; release {} holds the app since: nothing was changed",
            ours.at, l.holder
        );
        return Ok(RollbackOutcome::unchanged(request, serving, note));
    }
    // A deployment that already moved traffic holds the app: traffic
    // first, when the announcement went out with the first round.
    if announced
        && let Some(l) = &holder
        && let Some(plan) = fast::plan(&world, request, Some(l), now)
    {
        return Box::pin(fast::traffic_first(
            ports, store, request, &world, l, plan, mine, took_lock, now,
        ))
        .await;
    }
    // An execution holding the lock (running, or stopped moments ago with a
    // step still in flight) is fenced off first, then stopped if it runs; the
    // rollback then holds the lock itself (no deployment can reclaim it
    // meanwhile) and reads the world again. The fence comes before the stop,
    // so a retry of a rollback that failed in between still finds it fenced;
    // a holder that took the lock in between is handled the same way.
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
    let mut current = holder.clone();
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
            world = observe(store, &ports.lb, &ports.services, app, None).await?;
            break;
        }
        stop_if_running(&ports.executions, request, &lock.holder).await?;
        stopped_execution.get_or_insert_with(|| lock.holder.clone());
        // Reclaimed like any stale lock (exactly one of several reclaimers
        // wins): a deployment that won it instead is the next one handled.
        let ttl = (mine.expires_at - mine.acquired_at).unsigned_abs();
        match store
            .acquire_lock(app, &mine.holder, ttl, now, &ports.executions)
            .await
        {
            Ok(_) => {
                *took_lock = true;
                world = observe(store, &ports.lb, &ports.services, app, None).await?;
                current = world.records.lock.clone();
            }
            Err(Error::LockHeld { .. }) => {
                world = observe(store, &ports.lb, &ports.services, app, None).await?;
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
                    return Err(crate::store::lock_held(app, l));
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
        stop_if_running(&ports.executions, request, &fence.holder).await?;
        stopped_execution = Some(fence.holder.clone());
        fenced_holders.extend(fence.holders().cloned());
    }

    // This message's rollback has decided already (an earlier attempt, or
    // an earlier copy): its decision is finished, never made again, also
    // when this attempt had deployments to stop (the traffic-first path
    // stops after it moved traffic). The world it would decide from now is
    // the one it made: deciding again would roll back the release it
    // rolled back to.
    if let Some(fence) = world
        .records
        .fence
        .as_ref()
        .filter(|f| f.split.is_some() && made_by(request, f))
        && let Some(done) =
            Box::pin(finish_as_decided(ports, store, &world, fence, request)).await?
    {
        return Ok(done);
    }
    let decision = match decide(&world, request, stopped_execution.is_some(), now) {
        Ok(d) => d,
        Err(e) => {
            if let Some(holder) = &stopped_execution {
                keep_production_as_is(ports, store, &world, holder, &fenced_holders, request, now)
                    .await?;
                // Its lock is the rollback's now, released when it ends; or,
                // if taking it over failed in every attempt, still the
                // stopped execution's: give it back, it outlives its holder.
                store.release_lock_retrying(app, holder).await?;
                let released = true;
                let why = format!(
                    "{e}; stopped the running deployment {holder}{}",
                    if released {
                        " and released its lock"
                    } else {
                        ""
                    }
                );
                if let Some(topic) = &world.config().alert_topic_arn {
                    alert::alert_refused(&ports.alerts, topic, app, &why, request, now).await;
                }
                return Err(match e {
                    Error::NothingToRollBack { app, .. } => Error::NothingToRollBack { app, why },
                    other => other,
                });
            }
            // An earlier attempt stopped a deployment and fenced it, then
            // failed before its bounds were settled: finish that.
            if let (Some(fence), Some(serving)) = (&world.records.fence, world.weights.sole()) {
                crate::scaling::settle(
                    store,
                    &ports.services,
                    world.config(),
                    serving,
                    Some(&fence.holder),
                )
                .await?;
            }
            return Err(e);
        }
    };
    // Decided: what it does is a plan (see `plan`), made by one executor.
    let ctx = plan::Context {
        request,
        stopped: stopped_execution.as_deref(),
        fenced: &fenced_holders,
        holder: holder.as_ref(),
        took_lock: *took_lock,
        now,
    };
    let plan = match decision {
        Decision::Untouched { note, serving } => {
            info!(app, %note, "nothing to roll back");
            plan::untouched(&world, note, serving, ctx)
        }
        Decision::Roll(roll) => {
            if !roll.move_traffic {
                info!(app, color = %roll.target, "production already on the release before; listener agrees");
            }
            plan::roll(&world, *roll, ctx)
        }
    };
    // Boxed: keeps `run`'s own future small.
    Box::pin(apply::apply(ports, store, request, &world, plan, mine, now)).await
}

/// The rest of a decision this message's rollback made earlier (see
/// `run`): production's split written if the listener differs, the state
/// recorded, the bounds settled; nothing when the world has moved on since
/// (the color it sends production to runs another release than it named).
/// Says it changed something only if the listener did. `None` when traffic
/// must move onto a color no longer fit to carry it: decided again.
async fn finish_as_decided<P, L, S, A, E>(
    ports: &Ports<P, L, S, A, E>,
    store: &AppStore<'_, P>,
    world: &World,
    fence: &Fence,
    request: &RollbackRequest,
) -> Result<Option<RollbackOutcome>>
where
    P: ParameterStore,
    L: LoadBalancer,
    S: Services,
{
    let app = request.app.as_str();
    let config = world.config();
    let split = fence.split.expect("a decided fence");
    let serving = if split.blue >= split.green {
        Color::Blue
    } else {
        Color::Green
    };
    let version = fence.state.as_ref().and_then(|s| s.active_version.clone());
    let outcome = |changed: bool, note: &str| RollbackOutcome {
        changed,
        split,
        ..RollbackOutcome::unchanged(
            request,
            ColorVersion {
                color: serving,
                version: version.clone(),
            },
            note.to_string(),
        )
    };
    // Moved on: a color the decision sends production to runs another
    // release now (see `Fence::still_current`).
    if !fence.still_current(|c| world.task_definition(c).to_string()) {
        info!(
            app,
            "this message's rollback was done; the app has moved on since"
        );
        // A hold the deployments it fenced left on the bounds is still
        // theirs to give back, and nobody else will.
        if let Some(serving) = world.weights.sole() {
            crate::scaling::give_back_fenced_hold(store, &ports.services, config, serving, |e| {
                fence.fences(e)
            })
            .await?;
        }
        return Ok(Some(outcome(
            false,
            "this message's rollback was done; the app has moved on since",
        )));
    }
    let changed = !world.weights.matches(split);
    // Traffic moved since (by hand, say) onto a color no longer fit to carry
    // production: decided again, the way any rollback is (the cold color is
    // scaled up first, and people told).
    if changed
        && Color::BOTH
            .into_iter()
            .any(|c| split.weight(c) > 0 && decide::cold(world, c).is_some())
    {
        return Ok(None);
    }
    if changed {
        let route = config.production.route();
        write_split(&ports.lb, config, &route, &world.production, split, false).await?;
        warn!(app, %split, "finished this message's rollback: production traffic moved");
    }
    if let Some(state) = &fence.state
        && !world.records.state_is(state)
    {
        store.save_state(app, state).await?;
    }
    if config.autoscaling {
        crate::scaling::honour_fence(store, &ports.services, config, fence).await?;
    }
    store
        .mark_fence_finished(app, |f| {
            f.holder == fence.holder && f.at == fence.at && f.reason == fence.reason
        })
        .await?;
    Ok(Some(outcome(
        changed,
        "this message's rollback had decided; its decision is finished",
    )))
}

/// A rollback that stopped a deployment but moves nothing still fences it:
/// the fence records production as it is now, so a switch step of the
/// stopped deployment still in flight puts it back.
async fn keep_production_as_is<P, L, S, A, E>(
    ports: &Ports<P, L, S, A, E>,
    store: &AppStore<'_, P>,
    world: &World,
    holder: &str,
    also: &[String],
    request: &RollbackRequest,
    now: OffsetDateTime,
) -> Result<()>
where
    P: ParameterStore,
    L: LoadBalancer,
    S: Services,
{
    let (Some(state), Some(split)) = (
        world.state(),
        Split::from_weights(world.weights.blue, world.weights.green),
    ) else {
        return Ok(());
    };
    store
        .save_fence(
            &request.app,
            &Fence::decided(holder, split, state, &request.reason, now).with_also(also),
        )
        .await?;
    let route = world.config().production.route();
    write_split(
        &ports.lb,
        world.config(),
        &route,
        &world.production,
        split,
        false,
    )
    .await?;
    // A step of the stopped deployment may have died between the two
    // writes of a state (`active-environment` first): the record is made
    // whole again, as production is.
    if split.sole() == Some(state.active_color) && !world.records.state_is(state) {
        store.save_state(&request.app, state).await?;
    }
    // The stopped deployment may have held both colors' bounds.
    if let Some(serving) = split.sole() {
        crate::scaling::settle(
            store,
            &ports.services,
            world.config(),
            serving,
            Some(holder),
        )
        .await?;
    }
    Ok(())
}

/// Whether `fence` was written by a rollback of this very message (an
/// earlier attempt, or an earlier delivery of it).
fn made_by(request: &RollbackRequest, fence: &Fence) -> bool {
    fence.reason == request.reason && request.sent_at.is_some_and(|sent| fence.at >= sent)
}

/// Stops a deployment's execution if it still runs.
async fn stop_if_running<E: Executions>(
    executions: &E,
    request: &RollbackRequest,
    execution: &str,
) -> Result<()> {
    if executions.status(execution).await? == ExecutionStatus::Running {
        let cause = format!("rolled back ({:?}): {}", request.source, request.reason);
        executions.stop(execution, &cause).await?;
        warn!(app = %request.app, %execution, "stopped the running deployment");
    }
    Ok(())
}

/// The announcement goes with the attempt that wrote it; one left behind
/// (the answer lost every time) expires on its own.
async fn withdraw<P: ParameterStore>(
    store: &AppStore<'_, P>,
    app: &str,
    me: &str,
    now: OffsetDateTime,
    any: bool,
) {
    if let Err(e) =
        crate::retry::retrying(4, || store.withdraw_announcement(app, me, now, any)).await
    {
        warn!(app, error = %e, "could not withdraw the rollback's announcement; it expires on its own");
    }
}

/// Releases the rollback's own hold on the app's lock (a later attempt of
/// this rollback has another name and cannot; until it expires, in 5
/// minutes, no deployment may start). A failure is logged.
async fn release_own_lock<P: ParameterStore>(store: &AppStore<'_, P>, app: &str, me: &str) {
    if let Err(e) = store.release_lock_retrying(app, me).await {
        warn!(app, error = %e, "could not release the rollback's own lock; it expires in 5 minutes");
    }
}

/// The state machine's document names an execution: it must really be a
/// running execution of this app and release, or anyone allowed to invoke
/// the function could skip the stop and the fence for that execution.
async fn check_caller(
    executions: &impl Executions,
    request: &RollbackRequest,
    caller: &str,
) -> Result<()> {
    check_execution(
        executions,
        request,
        caller,
        ExecutionStatus::Running,
        ("rollback request", "execution.arn", "a running"),
    )
    .await
}

/// Whether Step Functions (not the event or document naming it) says
/// `execution` is in `status` and releases this request's app and version;
/// `(document, field, what)` name the refusal.
async fn check_execution(
    executions: &impl Executions,
    request: &RollbackRequest,
    execution: &str,
    status: ExecutionStatus,
    (document, field, what): (&str, &str, &str),
) -> Result<()> {
    let info = executions.describe(execution).await?;
    let input: Option<serde_json::Value> = info
        .input
        .as_deref()
        .and_then(|t| serde_json::from_str(t).ok());
    let text = |pointer: &str| {
        input
            .as_ref()
            .and_then(|i| i.pointer(pointer))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let (app, version) = (text("/app"), text("/release/version"));
    let wanted_version = request.release.as_ref().map(|r| r.version.clone());
    if info.status == status
        && app.as_deref() == Some(request.app.as_str())
        && version == wanted_version
    {
        return Ok(());
    }
    Err(Error::bad_input(
        document,
        field,
        format!(
            "{execution} is not {what} execution of app `{}` release {} (Step Functions says: {:?}, app {:?}, release {:?})",
            request.app,
            wanted_version.as_deref().unwrap_or("?"),
            info.status,
            app,
            version
        ),
    ))
}

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
async fn nothing_left<P, L, S, A, E>(
    ports: &Ports<P, L, S, A, E>,
    store: &AppStore<'_, P>,
    request: &RollbackRequest,
    ended: &str,
    known: Option<&AppConfig>,
    now: OffsetDateTime,
) -> Result<Option<RollbackOutcome>>
where
    P: ParameterStore,
    L: LoadBalancer,
    S: Services,
    A: Alerts,
{
    let world = observe(store, &ports.lb, &ports.services, &request.app, known).await?;
    let app = request.app.as_str();
    // Another rollback at work (an on-call press, say) decides for the app:
    // this event waits for it (Lambda retries the asynchronous invoke), so
    // that two rollbacks never settle the app two ways at once.
    if let Some(l) = &world.records.lock
        && is_rollback_holder(&l.holder)
        && !l.is_expired(now)
    {
        return Err(crate::store::lock_held(app, l));
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
    // that stopped it): that rollback owns the way back, and said so.
    let fenced_by_another = world
        .records
        .fence
        .as_ref()
        .is_some_and(|f| f.fences(ended) && f.reason != request.reason);
    let version = request.release.as_ref().map(|r| r.version.as_str());
    if let Some(s) = world.state()
        && world.weights.sole() == Some(s.active_color)
        && s.phase != crate::state::Phase::RolledBack
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
                out.alert_error =
                    alert::alert_unfinished(&ports.alerts, topic, app, ended, &out, now).await;
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
    if holds_lock || fence_pending || record_to_repair {
        return Ok(None);
    }
    let Ok(Decision::Untouched { note, serving }) = decide(&world, request, false, now) else {
        return Ok(None);
    };
    info!(app, execution = ended, %note, "an ended execution left nothing to roll back");
    Ok(Some(RollbackOutcome::unchanged(request, serving, note)))
}

/// An execution-ended event acts only for an execution that has ended and
/// was a release of this app and version, as Step Functions says (not the
/// event): a misdelivered or hand-made event changes nothing.
async fn check_ended<E: Executions>(
    executions: &E,
    request: &RollbackRequest,
    ended: &str,
) -> Result<()> {
    check_execution(
        executions,
        request,
        ended,
        ExecutionStatus::Finished,
        ("execution-ended event", "detail.executionArn", "an ended"),
    )
    .await
}

impl RollbackRequest {
    /// Everything about the request is checked before the first effect.
    pub fn validate(&self) -> Result<()> {
        let source = "rollback request";
        crate::config::validate_app_name(source, "app", &self.app)?;
        if self.reason.trim().is_empty() {
            return Err(Error::bad_input(
                source,
                "reason",
                "must say why: it goes into the alert and the audit trail",
            ));
        }
        if self.reason.chars().count() > MAX_REASON {
            return Err(Error::bad_input(
                source,
                "reason",
                format!(
                    "is {} characters long; at most {MAX_REASON}",
                    self.reason.chars().count()
                ),
            ));
        }
        if let Some(by) = &self.requested_by
            && by.chars().count() > 200
        {
            return Err(Error::bad_input(
                source,
                "requested_by",
                "at most 200 characters",
            ));
        }
        Ok(())
    }
}

/// The state machine's last word when a rollback failed: the app's team is
/// alerted (the failure would otherwise end in a failed execution nobody
/// watches).
pub async fn alert_rollback_failed<P: ParameterStore, A: Alerts>(
    params: &P,
    alerts: &A,
    prefix: &str,
    app: &str,
    error: &str,
    now: OffsetDateTime,
) -> Result<bool> {
    let config = AppStore::new(params, prefix)?.config(app).await?;
    let Some(topic) = &config.alert_topic_arn else {
        return Ok(false);
    };
    let request = RollbackRequest {
        app: app.to_string(),
        reason: "the deployment's rollback failed".to_string(),
        source: RollbackSource::StateMachine,
        requested_by: None,
        caller_execution: None,
        release: None,
        sent_at: None,
        ended_execution: None,
    };
    alert::alert_failed(alerts, topic, app, error, &request, now).await;
    Ok(true)
}
