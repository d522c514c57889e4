//! What a decision does, as data: the ordered changes ([`Effect`]) a
//! rollback makes once it has decided (see `decide`), and how it ends.
//! Pure, so every case is a table row below; `apply.rs` carries the changes
//! out in order and stops at the first failure (the retry plans again from a
//! fresh look at the world, and every change is idempotent).
//!
//! Reaching a decision (fencing, stopping and taking over whoever holds the
//! app, reading the world again) is interactive and stays in `run`.

use time::OffsetDateTime;

use crate::color::Color;
use crate::error::Error;
use crate::records::fence::Fence;
use crate::records::lock::Lock;
use crate::records::state::AppState;
use crate::world::World;
use crate::world::split::Split;

use super::decide::RollPlan;
use super::{ColorVersion, RollbackOutcome, RollbackRequest, RollbackSource, is_rollback_holder};

/// What the attempt knows besides the world: who it found holding the app
/// and what it did about them before deciding.
#[derive(Debug, Clone, Copy)]
pub(super) struct Context<'a> {
    pub request: &'a RollbackRequest,
    /// The deployment this attempt stopped (or fenced, for a `manual:`
    /// release), or whose pending fence an earlier attempt left.
    pub stopped: Option<&'a str>,
    /// Every holder this attempt fenced.
    pub fenced: &'a [String],
    /// The lock as first found, when another held it.
    pub holder: Option<&'a Lock>,
    /// Whether this attempt holds the app's lock (released when it ends).
    pub took_lock: bool,
    pub now: OffsetDateTime,
}

/// One change, in the order the plan lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Effect {
    /// The cold target's minimum held at `tasks` (its policies must not
    /// scale it back in before traffic comes; the bounds are recorded
    /// first if nothing is), then its service scaled to `tasks`.
    WarmUp { color: Color, tasks: i32 },
    /// The team hears what the rollback waits for.
    TellWaiting(String),
    /// The decision, written for the stopped deployment's steps still in
    /// flight: they put it back after any change of theirs.
    Fence(Fence),
    /// An app that autoscales with no scaling record yet (no release since):
    /// the bounds are recorded before traffic moves, so that a retry of a
    /// rollback that moved it and then failed knows which bounds served.
    RecordBounds { target: Color },
    /// Production's split written (with its read-back).
    Split(Split),
    /// The lock found at the start, released if it is the caller's or its
    /// holder has ended (a stopped execution counted as running when taking
    /// it over failed).
    GiveBackLock(Lock),
    /// The caller's own lock (its release never got traffic).
    ReleaseCallersLock(String),
    /// The state recorded, if it differs, and the team told, at once (they
    /// are independent).
    RecordAndTell { state: Option<AppState>, tell: bool },
    /// The state recorded (a step died between its two writes).
    SaveState(AppState),
    /// `target` takes the serving bounds, the other color its idle ones.
    SettleRollback { target: Color },
    /// A release that never got traffic: its colors get the bounds from
    /// before it (its own record only, or one left unsettled).
    SettleRelease { serving: Color, release: String },
    /// The decided fence this attempt wrote is done: a release that takes
    /// the app after this is none of its business.
    FinishFence(Split),
}

/// The changes, and how the rollback ends once they are made.
#[derive(Debug)]
pub(super) struct Plan {
    pub effects: Vec<Effect>,
    pub ending: Ending,
}

#[derive(Debug)]
pub(super) enum Ending {
    /// The answer (`lock_released` and `alert_error` are filled in by the
    /// changes that decide them).
    Done(RollbackOutcome),
    /// Refused once the changes are made (a cold target: retried later).
    Refused(Error),
}

/// Production goes to `plan.target`.
pub(super) fn roll(world: &World, plan: RollPlan, ctx: Context<'_>) -> Plan {
    if let Some(refused) = wait_for_cold(world, &plan, ctx) {
        return refused;
    }
    let wanted = Split::all(plan.target);
    let mut effects = Vec::new();
    if let Some(holder) = ctx.stopped {
        effects.push(Effect::Fence(
            Fence::decided(
                holder,
                wanted,
                &plan.new_state,
                &ctx.request.reason,
                ctx.now,
            )
            .with_also(ctx.fenced),
        ));
    }
    if plan.move_traffic {
        if world.config().autoscaling && world.records.scaling.is_none() {
            effects.push(Effect::RecordBounds {
                target: plan.target,
            });
        }
        effects.push(Effect::Split(wanted));
    }
    let (rest, outcome) = after_traffic(world, plan, ctx);
    effects.extend(rest);
    Plan {
        effects,
        ending: Ending::Done(outcome),
    }
}

/// After production's split, on every path that moved it (the careful one
/// and the traffic-first one): the lock found given back, the state
/// recorded and the team told (only when something changed), the bounds
/// settled, the fence this attempt decided finished.
pub(super) fn after_traffic(
    world: &World,
    plan: RollPlan,
    ctx: Context<'_>,
) -> (Vec<Effect>, RollbackOutcome) {
    let request = ctx.request;
    let wanted = Split::all(plan.target);
    let changed = plan.move_traffic && !plan.confirm_only;
    let mut effects = Vec::new();
    // Taken over: released when the rollback ends.
    let lock_released = ctx.holder.is_some() && ctx.took_lock;
    if let Some(l) = ctx.holder
        && !ctx.took_lock
    {
        effects.push(Effect::GiveBackLock(l.clone()));
    }
    // Alert only when something changed: pressing the button twice should
    // not page people twice.
    effects.push(Effect::RecordAndTell {
        state: (!world.records.state_is(&plan.new_state)).then(|| plan.new_state.clone()),
        tell: changed && world.config().alert_topic_arn.is_some(),
    });
    effects.push(Effect::SettleRollback {
        target: plan.target,
    });
    if ctx.stopped.is_some() {
        effects.push(Effect::FinishFence(wanted));
    }
    let outcome = RollbackOutcome {
        app: request.app.clone(),
        changed,
        from: plan.from,
        to: plan.to,
        split: wanted,
        reason: request.reason.clone(),
        source: request.source,
        stopped_execution: ctx.stopped.map(str::to_string),
        lock_released,
        alert_error: None,
        note: (!changed).then(|| "already rolled back; the listener agrees".to_string()),
        waited_seconds: None,
        hooks: Vec::new(),
        notices: Vec::new(),
    };
    (effects, outcome)
}

/// A target that lacks the healthy tasks production needs is scaled up
/// (its bounds held first), and the rollback refused until it is ready.
fn wait_for_cold(world: &World, plan: &RollPlan, ctx: Context<'_>) -> Option<Plan> {
    let cold = plan.cold.as_ref()?;
    let config = world.config();
    let service = &config.color(plan.target).service;
    let window_over = world.state().and_then(|s| s.switched_at).is_some_and(|at| {
        ctx.now - at > time::Duration::seconds(config.warm_window_seconds as i64)
    });
    let mut effects = Vec::new();
    let scaling = match cold.scale_to {
        Some(n) => {
            effects.push(Effect::WarmUp {
                color: plan.target,
                tasks: n,
            });
            format!(
                "; {service} is now scaling to {n} task(s){}",
                if window_over {
                    " (it was scaled down because the warm rollback window had passed)"
                } else {
                    ""
                }
            )
        }
        None => String::new(),
    };
    // The state machine retries this for minutes while production serves
    // the release being rolled back: the team hears at the first refusal
    // (the one that started the scale-up) what it waits for. People who
    // pressed the button hear of each refusal anyway.
    if ctx.request.source == RollbackSource::StateMachine
        && cold.scale_to.is_some()
        && config.alert_topic_arn.is_some()
    {
        effects.push(Effect::TellWaiting(format!(
            "the rollback waits for {} to carry production: {} healthy target(s) of {} needed{scaling}; the state machine retries for about 3 minutes, and production serves {} until then",
            plan.target,
            cold.healthy,
            cold.needed,
            plan.from.version.as_deref().unwrap_or("the release"),
        )));
    }
    let refusal = Error::PreviousColorCold {
        app: ctx.request.app.clone(),
        color: plan.target,
        why: format!(
            "target group {} has {} healthy target(s), production needs {} ({} of {service} running, {} desired){scaling}",
            config.color(plan.target).target_group_arn,
            cold.healthy,
            cold.needed,
            world.services.get(plan.target).running,
            world.services.get(plan.target).desired,
        ),
    };
    Some(Plan {
        effects,
        ending: Ending::Refused(refusal),
    })
}

/// The release asking for its rollback never got production traffic:
/// nothing moves, but what it took is given back.
pub(super) fn untouched(
    world: &World,
    note: String,
    serving: ColorVersion,
    ctx: Context<'_>,
) -> Plan {
    let request = ctx.request;
    // Another release holds the app now (an ended execution's reaction,
    // after a new release started): its listener and its bounds are its own.
    let another_release_holds = world.records.lock.as_ref().is_some_and(|l| {
        !is_rollback_holder(&l.holder)
            && Some(&l.holder) != request.caller_execution.as_ref()
            && Some(&l.holder) != request.ended_execution.as_ref()
            && Some(l.holder.as_str()) != ctx.stopped
    });
    let mut effects = Vec::new();
    // A release's own rollback writes production's split again even so: the
    // release may have just changed the listener, and a describe right after
    // a modify may still answer the actions from before (see `decide`).
    // Idempotent; nothing is said to move.
    if !another_release_holds
        && matches!(
            request.source,
            RollbackSource::StateMachine | RollbackSource::ExecutionEnded
        )
        && world.weights.sole() == Some(serving.color)
    {
        effects.push(Effect::Split(Split::all(serving.color)));
    }
    // Like an abort, its colors get the bounds from before it (the state
    // machine's own release, the one an emergency rollback stopped before it
    // moved traffic, now or in an earlier attempt that failed before this, or
    // an execution that ended without releasing: its own rollback may have
    // moved production and failed before it settled the bounds).
    let fenced = world.records.fence.as_ref().map(|f| f.holder.as_str());
    if !another_release_holds
        && let Some(release) = request
            .caller_execution
            .as_deref()
            .or(ctx.stopped)
            .or(request.ended_execution.as_deref())
            .or(fenced)
    {
        effects.push(Effect::SettleRelease {
            serving: serving.color,
            release: release.to_string(),
        });
    }
    // A step that died between the two writes of a state (or an earlier
    // attempt of this rollback) may have left the plain active-environment
    // value naming the other color.
    if let Some(state) = world.state()
        && !another_release_holds
        && world.weights.sole() == Some(state.active_color)
        && !world.records.state_is(state)
    {
        effects.push(Effect::SaveState(state.clone()));
    }
    if let (Some(l), Some(caller)) = (ctx.holder, &request.caller_execution)
        && &l.holder == caller
    {
        effects.push(Effect::ReleaseCallersLock(caller.clone()));
    }
    Plan {
        effects,
        ending: Ending::Done(RollbackOutcome {
            stopped_execution: ctx.stopped.map(str::to_string),
            ..RollbackOutcome::unchanged(request, serving, note)
        }),
    }
}

#[cfg(test)]
mod tests {
    //! The effects table, over worlds built in memory.

    use super::*;
    use crate::steps::rollback::ReleaseRef;
    use crate::steps::rollback::decide::{Decision, decide};
    use crate::world::fixture::{BLUE_TD, service};

    const EXECUTION: &str = "arn:aws:states:us-east-1:1:execution:sm:v2";

    use crate::world::fixture::released as world;

    fn with_topic(mut w: World) -> World {
        w.records.config.alert_topic_arn = Some("arn:aws:sns:us-east-1:1:alerts".into());
        w
    }

    fn request(source: RollbackSource) -> RollbackRequest {
        RollbackRequest {
            app: "a".into(),
            reason: "r".into(),
            source,
            requested_by: None,
            caller_execution: None,
            release: None,
            sent_at: None,
            ended_execution: None,
        }
    }

    fn own_release(color: Option<Color>) -> RollbackRequest {
        RollbackRequest {
            caller_execution: Some(EXECUTION.into()),
            release: Some(ReleaseRef {
                version: "v3".into(),
                color,
                task_definition: None,
                serving_task_definition: None,
            }),
            ..request(RollbackSource::StateMachine)
        }
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + time::Duration::hours(2)
    }

    fn lock(holder: &str) -> Lock {
        Lock {
            holder: holder.into(),
            acquired_at: OffsetDateTime::UNIX_EPOCH,
            expires_at: now() + time::Duration::hours(1),
        }
    }

    /// The plan for `world` as `run` makes it: decided, then planned.
    fn plan_for(world: &World, ctx: Context<'_>) -> Plan {
        match decide(world, ctx.request, ctx.stopped.is_some(), ctx.now).expect("decides") {
            Decision::Roll(p) => roll(world, *p, ctx),
            Decision::Untouched { note, serving } => untouched(world, note, serving, ctx),
        }
    }

    fn ctx<'a>(request: &'a RollbackRequest) -> Context<'a> {
        Context {
            request,
            stopped: None,
            fenced: &[],
            holder: None,
            took_lock: true,
            now: now(),
        }
    }

    /// The effects by name, for rows that read like the order they run in.
    fn names(plan: &Plan) -> Vec<&'static str> {
        plan.effects
            .iter()
            .map(|e| match e {
                Effect::WarmUp { .. } => "warm-up",
                Effect::TellWaiting(_) => "tell-waiting",
                Effect::Fence(_) => "fence",
                Effect::RecordBounds { .. } => "record-bounds",
                Effect::Split(_) => "split",
                Effect::GiveBackLock(_) => "give-back-lock",
                Effect::ReleaseCallersLock(_) => "release-callers-lock",
                Effect::RecordAndTell { tell: true, .. } => "record-and-tell",
                Effect::RecordAndTell { tell: false, .. } => "record",
                Effect::SaveState(_) => "save-state",
                Effect::SettleRollback { .. } => "settle-rollback",
                Effect::SettleRelease { .. } => "settle-release",
                Effect::FinishFence(_) => "finish-fence",
            })
            .collect()
    }

    #[test]
    fn each_decision_makes_its_changes_in_order() {
        let sns = request(RollbackSource::Sns);
        let machine = request(RollbackSource::StateMachine);
        let fenced = vec![EXECUTION.to_string()];
        let other = lock(EXECUTION);
        let autoscaling = {
            let mut w = world(0, 100);
            w.records.config.autoscaling = true;
            w
        };
        let cold = {
            let mut w = with_topic(world(0, 100));
            w.services.blue = service(BLUE_TD, 1);
            w.healthy.blue = 1;
            w
        };
        let own = own_release(None);
        let held_by_caller = lock(EXECUTION);
        // (why, world, context) -> the changes, and whether it ends refused.
        let rows: Vec<(&str, World, Context<'_>, Vec<&str>, bool)> = vec![
            (
                "an emergency: production moves, the team hears, the bounds follow",
                with_topic(world(0, 100)),
                ctx(&sns),
                vec!["split", "record-and-tell", "settle-rollback"],
                false,
            ),
            (
                "nobody to tell: recorded only",
                world(0, 100),
                ctx(&sns),
                vec!["split", "record", "settle-rollback"],
                false,
            ),
            (
                "a deployment stopped first: its fence carries the decision, and is finished last",
                with_topic(world(0, 100)),
                Context {
                    stopped: Some(EXECUTION),
                    fenced: &fenced,
                    holder: Some(&other),
                    ..ctx(&sns)
                },
                vec![
                    "fence",
                    "split",
                    "record-and-tell",
                    "settle-rollback",
                    "finish-fence",
                ],
                false,
            ),
            (
                "its lock not taken over (the execution counted as running): given back if stale",
                with_topic(world(0, 100)),
                Context {
                    stopped: Some(EXECUTION),
                    fenced: &fenced,
                    holder: Some(&other),
                    took_lock: false,
                    ..ctx(&sns)
                },
                vec![
                    "fence",
                    "split",
                    "give-back-lock",
                    "record-and-tell",
                    "settle-rollback",
                    "finish-fence",
                ],
                false,
            ),
            (
                "an app that autoscales with no record: the bounds recorded before traffic moves",
                autoscaling,
                ctx(&sns),
                vec!["record-bounds", "split", "record", "settle-rollback"],
                false,
            ),
            (
                "already there, the listener agrees: recorded, nobody paged again",
                with_topic(world(100, 0)),
                ctx(&sns),
                vec!["record", "settle-rollback"],
                false,
            ),
            (
                "a cold target from the state machine: scaled up, the team told, refused",
                cold.clone(),
                ctx(&machine),
                vec!["warm-up", "tell-waiting"],
                true,
            ),
            (
                "a cold target from a person: scaled up and refused (the refusal is the alert)",
                cold,
                ctx(&sns),
                vec!["warm-up"],
                true,
            ),
            (
                "a release that never got traffic: the split written again, its bounds and lock given back",
                world(0, 100),
                Context {
                    holder: Some(&held_by_caller),
                    took_lock: false,
                    ..ctx(&own)
                },
                vec![
                    "split",
                    "settle-release",
                    "save-state",
                    "release-callers-lock",
                ],
                false,
            ),
        ];
        for (why, world, ctx, want, refused) in rows {
            let plan = plan_for(&world, ctx);
            assert_eq!(names(&plan), want, "{why}");
            assert_eq!(
                matches!(plan.ending, Ending::Refused(_)),
                refused,
                "{why}: {:?}",
                plan.ending
            );
        }
    }

    #[test]
    fn the_fence_names_every_holder_and_the_decision() {
        let sns = request(RollbackSource::Sns);
        let fenced = vec!["manual:a:v3".to_string(), EXECUTION.to_string()];
        let plan = plan_for(
            &world(0, 100),
            Context {
                stopped: Some(EXECUTION),
                fenced: &fenced,
                ..ctx(&sns)
            },
        );
        let Effect::Fence(fence) = &plan.effects[0] else {
            panic!("the fence first: {:?}", plan.effects);
        };
        assert_eq!(fence.holder, EXECUTION);
        assert_eq!(fence.also, vec!["manual:a:v3".to_string()]);
        assert_eq!(fence.split, Some(Split::all(Color::Blue)));
        assert_eq!(
            fence.state.as_ref().map(|s| s.active_color),
            Some(Color::Blue)
        );
    }

    #[test]
    fn another_release_holding_the_app_is_left_its_listener_and_bounds() {
        // An ended execution's reaction finds a newer release at work.
        let ended = RollbackRequest {
            ended_execution: Some(EXECUTION.into()),
            release: Some(ReleaseRef {
                version: "v9".into(),
                color: None,
                task_definition: None,
                serving_task_definition: None,
            }),
            ..request(RollbackSource::ExecutionEnded)
        };
        let mut w = world(0, 100);
        w.records.lock = Some(lock("arn:aws:states:us-east-1:1:execution:sm:v3"));
        let plan = plan_for(&w, ctx(&ended));
        assert!(plan.effects.is_empty(), "{:?}", plan.effects);
        let Ending::Done(outcome) = plan.ending else {
            panic!("done");
        };
        assert!(!outcome.changed);
    }
}
