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
//! [`crate::records::fence`]) and the world is read again.

mod alert;

pub use alert::rolled_back_notice;
mod apply;
mod callers;
pub mod decide;
mod decided;
mod ended;
pub mod events;
mod fast;
pub mod patience;
mod plan;
mod refused;
mod secure;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tracing::{info, warn};

use crate::color::Color;
use crate::error::{Error, Result};
use crate::ports::capabilities::Prefixed;
use crate::ports::{
    Alerts, ExecutionStatus, Executions, LoadBalancer, ParameterStore, PutMode, PutOutcome,
    Services,
};
use crate::records::announcement::Announcement;
use crate::records::config::AppConfig;
use crate::records::fence::Fence;
use crate::records::lock::Lock;
use crate::records::store::AppStore;
use crate::world::split::Split;
use crate::world::{World, observe};

use callers::{check_caller, check_ended};
use decide::{Decision, decide};
use decided::finish_as_decided;
use ended::nothing_left;
use refused::refuse;

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
    /// How long an emergency rollback waited for a cold previous color
    /// before it could move production (see `patience`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waited_seconds: Option<u64>,
    /// The `on-rollback` hooks, delivered once traffic was back (the
    /// rollback never waits on them beyond their budget).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<crate::document::outcomes::HookResult>,
    /// The chat notices sent of it (never the webhooks' URLs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<crate::document::outcomes::NoticeSent>,
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
            waited_seconds: None,
            hooks: Vec::new(),
            notices: Vec::new(),
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
pub async fn rollback<W>(
    aws: &W,
    request: &RollbackRequest,
    now: OffsetDateTime,
    known: Option<&AppConfig>,
) -> Result<RollbackOutcome>
where
    W: ParameterStore + LoadBalancer + Services + Alerts + Executions + Prefixed,
{
    attempt(aws, request, now, known, AlertOnFailure::Yes).await
}

/// Whether a failed attempt alerts the team (an emergency rollback waiting
/// for a cold color does not, until it gives up: see `patience`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AlertOnFailure {
    Yes,
    No,
}

/// One attempt at the rollback.
async fn attempt<W>(
    aws: &W,
    request: &RollbackRequest,
    now: OffsetDateTime,
    known: Option<&AppConfig>,
    alert_on_failure: AlertOnFailure,
) -> Result<RollbackOutcome>
where
    W: ParameterStore + LoadBalancer + Services + Alerts + Executions + Prefixed,
{
    request.validate()?;
    if let Some(ended) = &request.ended_execution {
        check_ended(aws, request, ended).await?;
    }
    let app = request.app.as_str();
    let store = AppStore::new(aws, aws.prefix())?;
    if let Some(ended) = &request.ended_execution
        && let Some(quiet) = Box::pin(nothing_left(aws, &store, request, ended, known, now)).await?
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
        aws.put(&lock_name, &json, PutMode::CreateOnly).await
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
    let (world, took, announced) = tokio::join!(observe(&store, app, known), take_lock, announce,);
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
                aws, &store, request, world, &mine, &mut took, announced, now,
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
        && alert_on_failure == AlertOnFailure::Yes
        && request.source != RollbackSource::StateMachine
        && !matches!(e, Error::BadInput { .. } | Error::UnknownApp { .. })
        && let Ok(config) = store.config(app).await
        && let Some(topic) = &config.alert_topic_arn
    {
        alert::alert_failed(aws, topic, app, &e.to_string(), request, now).await;
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn run<W>(
    aws: &W,
    store: &AppStore<'_, W>,
    request: &RollbackRequest,
    world: World,
    mine: &Lock,
    took_lock: &mut bool,
    announced: bool,
    now: OffsetDateTime,
) -> Result<RollbackOutcome>
where
    W: ParameterStore + LoadBalancer + Services + Alerts + Executions + Prefixed,
{
    let app = request.app.as_str();
    if let Some(caller) = &request.caller_execution {
        check_caller(aws, request, caller).await?;
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
    // A contract migration took away what the release before needs: refused
    // before anything is fenced, stopped or moved, and people hear why.
    if let Err(refused) = crate::steps::migrate::refuse_if_contracted(&world) {
        if let Some(topic) = &world.config().alert_topic_arn {
            alert::alert_schema_contracted(aws, topic, app, &refused.to_string(), request, now)
                .await;
        }
        return Err(refused);
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
        return Err(crate::records::store::lock_held(app, l));
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
            aws, store, request, &world, l, plan, mine, took_lock, now,
        ))
        .await;
    }
    // Whoever else holds the app is fenced off, stopped and taken over
    // before anything is decided (see `secure`).
    let secure::Secured {
        world,
        stopped: stopped_execution,
        fenced: fenced_holders,
    } = Box::pin(secure::secure(
        aws,
        store,
        request,
        world,
        holder.as_ref(),
        mine,
        took_lock,
        now,
    ))
    .await?;

    // This message's rollback has decided already (an earlier attempt, or
    // an earlier copy): its decision is finished, never made again, also
    // when this attempt had deployments to stop (the traffic-first path
    // stops after it moved traffic). The world it would decide from now is
    // the one it made: deciding again would roll back the release it
    // rolled back to. So is a decision about an execution that has ended
    // since, left unfinished by the rollback that made it (seed 32124).
    if let Some(fence) = world.records.fence.as_ref().filter(|f| {
        f.split.is_some() && (made_by(request, f) || left_for_its_end(request, f, &world))
    }) && let Some(done) =
        Box::pin(finish_as_decided(aws, store, &world, fence, request)).await?
    {
        return Ok(done);
    }
    let decision = match decide(&world, request, stopped_execution.is_some(), now) {
        Ok(d) => d,
        Err(e) => {
            let stopped = stopped_execution.as_deref();
            return Err(refuse(
                aws,
                store,
                request,
                &world,
                stopped,
                &fenced_holders,
                e,
                now,
            )
            .await?);
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
    Box::pin(apply::apply(aws, store, request, &world, plan, mine, now)).await
}

/// Whether `fence` is a decision about the execution whose end `request`
/// reacts to, which the rollback that made it did not finish — while no
/// other release holds the app (one that took it since is none of this
/// reaction's business: seed 29292).
fn left_for_its_end(request: &RollbackRequest, fence: &Fence, world: &World) -> bool {
    let Some(ended) = request.ended_execution.as_deref() else {
        return false;
    };
    !fence.finished && fence.fences(ended) && !another_release_holds(world, ended)
}

/// Whether a release other than `execution` holds the app's lock.
fn another_release_holds(world: &World, execution: &str) -> bool {
    world
        .records
        .lock
        .as_ref()
        .is_some_and(|l| l.holder != execution && !is_rollback_holder(&l.holder))
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

/// How many times a rollback tries to withdraw its announcement (each a
/// read and a delete, each call with the SDK's own retries): while it stays,
/// switch steps wait on it. Four was not always enough under the
/// simulation's faults (seed 37660).
const WITHDRAW_ATTEMPTS: u32 = 8;

/// The announcement goes with the attempt that wrote it; one left behind
/// (the answer lost every time) expires on its own.
async fn withdraw<P: ParameterStore>(
    store: &AppStore<'_, P>,
    app: &str,
    me: &str,
    now: OffsetDateTime,
    any: bool,
) {
    let attempt = || store.withdraw_announcement(app, me, now, any);
    if let Err(e) = crate::ports::retry::retrying(WITHDRAW_ATTEMPTS, attempt).await {
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

impl RollbackRequest {
    /// Everything about the request is checked before the first effect.
    pub fn validate(&self) -> Result<()> {
        let source = "rollback request";
        crate::records::config::validate_app_name(source, "app", &self.app)?;
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
pub async fn alert_rollback_failed<W: ParameterStore + Alerts + Prefixed>(
    aws: &W,
    app: &str,
    error: &str,
    now: OffsetDateTime,
) -> Result<bool> {
    let alerts = aws;
    let config = AppStore::new(aws, aws.prefix())?.config(app).await?;
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
