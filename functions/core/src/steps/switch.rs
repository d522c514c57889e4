//! Moving production traffic toward the new color, one step per call.
//!
//! The target is the color deploy-idle put the release on, as ECS confirms;
//! the step comes from this execution's previous switch result. The listener
//! is read fresh: a rerun with the same input finds it already where it should
//! be and changes nothing.

use time::OffsetDateTime;
use tracing::{info, warn};

use crate::color::Color;
use crate::document::requests::SwitchRequest;
use crate::error::EXECUTION_INPUT as SOURCE;
use crate::error::{Error, Result};
use crate::ports::capabilities::Prefixed;
use crate::ports::{LoadBalancer, ParameterStore, Services};
use crate::records::config::AppConfig;
use crate::records::config::Strategy;
use crate::records::fence::{Fence, rolled_back_meanwhile};
use crate::records::state::{AppState, Phase};
use crate::records::store::{AppStore, lock_held};
use crate::world::routing::{healthy_needed, write_split};
use crate::world::split::Split;
use crate::world::{PerColor, World, observe};

pub use crate::document::outcomes::{GateStatus, SwitchOutcome, WindowWait};
use crate::records::gates::WindowState;

/// The step a switch call should apply: pure, so it can be reasoned about and
/// tested without a load balancer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwitchPlan {
    pub target: Color,
    pub step: usize,
    pub weight: u8,
}

/// Decides the step from what was just observed. `previous` is this
/// execution's previous switch result; `deployed` the color and task
/// definition deploy-idle put the release on.
pub fn plan(
    world: &World,
    version: &str,
    previous: Option<&SwitchOutcome>,
    deployed: Option<(Color, &str)>,
    steps: &[u8],
) -> Result<SwitchPlan> {
    let app = world.config().app.as_str();
    let (target, step) = match previous {
        // Later steps: same target as the step before, one step further (the
        // last step repeats: switching past 100% is a no-op, not an error).
        Some(prev) => {
            // A step held at a gate (approval or window) moved nothing: it
            // is this call's step again.
            let step = if prev.done || prev.gate != GateStatus::Open {
                prev.step
            } else {
                prev.step + 1
            };
            (prev.target_color, step.min(steps.len() - 1))
        }
        None => (first_target(world, version, deployed)?, 0),
    };
    if let Some((color, task_definition)) = deployed {
        if color != target {
            return Err(Error::bad_input(
                SOURCE,
                "switch.target_color",
                format!("is {target}, but deploy-idle put the release on {color}"),
            ));
        }
        if world.task_definition(target) != task_definition {
            return Err(Error::Drift {
                app: app.to_string(),
                record: format!(
                    "deploy-idle put release {version} ({task_definition}) on {target}"
                ),
                world: format!(
                    "ECS service {} now runs {}",
                    world.config().color(target).service,
                    world.task_definition(target)
                ),
                fix: "Deploy the release again; nothing was switched".to_string(),
            });
        }
    }
    let weight = *steps.get(step).ok_or_else(|| {
        Error::bad_input(
            SOURCE,
            "switch.step",
            format!("step {step} is past the last step"),
        )
    })?;
    Ok(SwitchPlan {
        target,
        step,
        weight,
    })
}

/// The first step's target: the color deploy-idle deployed to; without its
/// result (a direct invoke), the color not serving, or the one the record
/// says already carries this release when the listener agrees (a rerun).
fn first_target(world: &World, version: &str, deployed: Option<(Color, &str)>) -> Result<Color> {
    if let Some((color, _)) = deployed {
        return Ok(color);
    }
    // deploy-idle marks the color it puts a release on.
    if let Some(s) = world.state()
        && s.previous_color_replaced_by.as_deref() == Some(version)
    {
        return Ok(s.previous_color);
    }
    if let Some(s) = world.state()
        && s.active_version.as_deref() == Some(version)
        && s.phase != Phase::RolledBack
        && world.weights.serves(s.active_color)
        && s.active_task_definition
            .as_deref()
            .is_none_or(|td| td == world.task_definition(s.active_color))
    {
        return Ok(s.active_color);
    }
    match world.weights.sole() {
        Some(serving) => Ok(serving.other()),
        None => Err(Error::ProductionSplit {
            app: world.config().app.clone(),
            split: world.weights.to_string(),
        }),
    }
}

/// The state after `plan` has been applied and read back, labelled from the
/// world: ECS says what each color runs, the record only names versions.
pub fn state_after(
    world: &World,
    plan: SwitchPlan,
    version: &str,
    split: Split,
    execution_arn: Option<&str>,
    switched_at: OffsetDateTime,
) -> AppState {
    let before = world.state();
    let other = plan.target.other();
    AppState {
        active_color: plan.target,
        active_version: Some(version.to_string()),
        previous_color: other,
        previous_version: version_on(world, other),
        active_task_definition: Some(world.task_definition(plan.target).to_string()),
        previous_task_definition: Some(world.task_definition(other).to_string()),
        previous_color_replaced_by: None,
        previous_color_replaced_with: None,
        weights: split,
        phase: if split.weight(plan.target) == 100 {
            Phase::Stable
        } else {
            Phase::Shifting
        },
        last_execution_arn: execution_arn
            .map(str::to_string)
            .or_else(|| before.and_then(|s| s.last_execution_arn.clone())),
        switched_at: Some(switched_at),
        // The release keeps the moment it first got traffic through its
        // later weight steps.
        live_since: before
            .filter(|s| {
                s.active_color == plan.target && s.active_version.as_deref() == Some(version)
            })
            .and_then(|s| s.live_since)
            .or(Some(switched_at)),
    }
}

/// The version the record names for what `color` runs now, if the record's
/// task definition for it (when known) is what ECS reports.
pub fn version_on(world: &World, color: Color) -> Option<String> {
    let s = world.state()?;
    let td = world.task_definition(color);
    let (version, recorded) = if s.active_color == color {
        (&s.active_version, &s.active_task_definition)
    } else if s.previous_color_replaced_by.is_some() {
        return None;
    } else {
        (&s.previous_version, &s.previous_task_definition)
    };
    match recorded {
        Some(t) if t != td => None,
        _ => version.clone(),
    }
}

/// Applies the next switch step for `input` and records it.
pub async fn switch<W>(
    aws: &W,
    request: &SwitchRequest,
    now: OffsetDateTime,
) -> Result<SwitchOutcome>
where
    W: ParameterStore + LoadBalancer + Services + Prefixed,
{
    let app = request.caller.app.as_str();
    let version = request.caller.version.as_str();
    let execution_arn = request.caller.execution_arn.as_deref();
    let store = AppStore::new(aws, aws.prefix())?;
    let world = observe(&store, app, None).await?;
    let config = world.config();

    let me = request.caller.holder();
    // A deployment that was rolled back never moves traffic again; if an
    // earlier attempt of this step was still restoring what the rollback
    // decided when it failed, finish that first.
    if let Some(fence) = world.records.fence.as_ref().filter(|f| f.fences(&me)) {
        Box::pin(honour_fence(aws, &store, config, fence)).await?;
        return Err(rolled_back_meanwhile(app, fence));
    }
    // A rollback announces that it is deciding (see `announcement`): it may
    // be about to fence this deployment. Wait for its decision before
    // moving anything.
    if world
        .records
        .deciding
        .as_ref()
        .is_some_and(|a| a.is_live(now))
        && let Some(fence) = store.fence_against_once_decided(app, &me, now).await?
    {
        Box::pin(honour_fence(aws, &store, config, &fence)).await?;
        return Err(rolled_back_meanwhile(app, &fence));
    }
    // Only the lock holder may move traffic (invariant 3).
    match &world.records.lock {
        Some(lock) if lock.holder == me => {}
        Some(lock) => return Err(lock_held(app, lock)),
        None => {
            return Err(Error::NotLockHolder {
                app: app.to_string(),
                me,
                found:
                    "no lock is held (released or broken): this deployment no longer owns the app"
                        .to_string(),
            });
        }
    }

    let strategy: &Strategy = request.strategy.as_ref().unwrap_or(&config.strategy);
    let steps = strategy.steps();
    let previous = request
        .previous
        .as_ref()
        .filter(|s| s.execution_arn.as_deref() == execution_arn);
    let deployed = request.deployed.as_ref().map(|(c, td)| (*c, td.as_str()));
    let plan = plan(&world, version, previous, deployed, &steps)?;
    let wanted = Split::with(plan.target, plan.weight);

    let current = world.weights;
    let changed = !current.matches(wanted);
    let outcome = |split: Split, changed: bool| SwitchOutcome {
        app: app.to_string(),
        version: version.to_string(),
        target_color: plan.target,
        step: plan.step,
        steps: steps.clone(),
        weight: plan.weight,
        split,
        changed,
        done: plan.weight == 100,
        bake_seconds: strategy.bake_seconds(),
        execution_arn: execution_arn.map(str::to_string),
        gate: GateStatus::Open,
        approval_timeout_seconds: None,
        on_timeout: None,
        traffic_moved: false,
        window: None,
    };
    // A gate holds the step until a person decides: nothing moves. A step
    // the listener already shows (a rerun) has nothing left to approve.
    let gates = request.gates.as_ref().unwrap_or(&config.gates);
    if changed
        && let Some(gate) = gates.approval_before(plan.step, plan.weight)
        && !request
            .approval
            .as_ref()
            .is_some_and(|a| a.lets_through(plan.step, execution_arn))
    {
        info!(
            app,
            version,
            step = plan.step,
            weight = plan.weight,
            "waiting for approval"
        );
        let mut held = outcome(
            Split::with(plan.target, current.percent(plan.target)),
            false,
        );
        held.done = false;
        held.gate = GateStatus::Approval;
        held.approval_timeout_seconds = Some(gate.timeout_seconds);
        held.on_timeout = Some(gate.on_timeout);
        held.traffic_moved = current.serves(plan.target);
        return Ok(held);
    }
    // Approved (or not gated by a person): the release window decides when
    // the first traffic moves. The state machine waits until it opens and
    // calls again; the switch reads the clock anew each time.
    if changed
        && let Some(window) = gates.window_before(plan.step)
        && let WindowState::OpensAt(opens_at) = window.at(now)
    {
        let wait_seconds = (opens_at - now).whole_seconds().max(1).unsigned_abs();
        info!(app, version, %opens_at, wait_seconds, "waiting for the release window");
        let mut held = outcome(
            Split::with(plan.target, current.percent(plan.target)),
            false,
        );
        held.done = false;
        held.gate = GateStatus::Window;
        held.traffic_moved = current.serves(plan.target);
        held.window = Some(WindowWait {
            hours: window.describe(),
            opens_at,
            wait_seconds,
        });
        return Ok(held);
    }
    let applied = Box::pin(apply_step(
        aws,
        &store,
        &world,
        plan,
        version,
        wanted,
        execution_arn,
        now,
    ))
    .await;
    let (new_state, bounds_changed) = match applied {
        Ok(done) => done,
        // The listener may have changed before the failure (a lost answer,
        // a failed record): a rollback that decided meanwhile must still
        // end on the listener, and nothing retries a stopped execution's
        // step. So the same look at the fence as after a success.
        Err(e) if changed => {
            if let Ok(Some(fence)) = store.fence_against_once_decided(app, &me, now).await {
                crate::ports::retry::retrying(5, || {
                    Box::pin(honour_fence(aws, &store, config, &fence))
                })
                .await?;
                return Err(rolled_back_meanwhile(app, &fence));
            }
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    let state = world.state();
    if changed || state != Some(&new_state) || bounds_changed {
        // A rollback may have stopped this deployment while this step ran
        // (see `fence`): if so, put back what the rollback decided. One that
        // announced it is deciding (see `announcement`) may have decided
        // from reads made before this step's change: wait for its fence.
        if let Some(fence) = store.fence_against_once_decided(app, &me, now).await? {
            // Pending: the rollback has yet to write, and will write last.
            // Decided: what this step wrote may have landed after the
            // rollback's writes, and nobody else will put them back (a stopped
            // execution retries nothing), so a few attempts are made here.
            crate::ports::retry::retrying(5, || {
                Box::pin(honour_fence(aws, &store, config, &fence))
            })
            .await?;
            warn!(
                app,
                version, "rolled back while switching; restored the rollback's decision"
            );
            return Err(rolled_back_meanwhile(app, &fence));
        }
    }

    Ok(outcome(wanted, changed))
}

/// The step's effects: production's split (when it changes), the record,
/// and at the last step the serving bounds. Returns the state recorded and
/// whether the bounds changed.
#[allow(clippy::too_many_arguments)]
async fn apply_step<W>(
    aws: &W,
    store: &AppStore<'_, W>,
    world: &World,
    plan: SwitchPlan,
    version: &str,
    wanted: Split,
    execution_arn: Option<&str>,
    now: OffsetDateTime,
) -> Result<(AppState, bool)>
where
    W: ParameterStore + LoadBalancer + Services + Prefixed,
{
    let config = world.config();
    let app = config.app.as_str();
    let current = world.weights;
    let changed = !current.matches(wanted);
    if changed {
        // Any color whose share rises must be ready for it, the target or
        // (when traffic was moved by hand past this step) the other one.
        let total = u64::from(current.blue) + u64::from(current.green);
        for color in Color::BOTH {
            let share_now = u64::from(current.weight(color)) * 100;
            if u64::from(wanted.weight(color)) * total > share_now {
                ensure_ready_for_traffic(world, color)?;
            }
        }
        let route = config.production.route();
        write_split(aws, config, &route, &world.production, wanted, true).await?;
        info!(app, version, from = %current, to = %wanted, "switched production traffic");
    } else {
        info!(app, version, split = %current, "production traffic already at this step");
    }
    let state = world.state();
    let switched_at = if changed {
        now
    } else {
        state.and_then(|s| s.switched_at).unwrap_or(now)
    };
    let new_state = state_after(world, plan, version, wanted, execution_arn, switched_at);
    if !world.records.state_is(&new_state) {
        store.save_state(app, &new_state).await?;
    }
    // The last step: the new color takes the serving bounds (an app that
    // autoscales). Before the fence check that follows, so that a rollback
    // deciding meanwhile has its bounds put back too.
    let bounds_changed = if plan.weight == 100 {
        let desired = PerColor::from_fn(|c| world.services.get(c).desired);
        crate::records::scaling::hand_over(store, config, plan.target, &desired).await?
    } else {
        false
    };
    Ok((new_state, bounds_changed))
}

/// Puts back what a rollback that fenced this deployment decided (nothing
/// while it is still pending): its split on the listener, its state, and
/// the scalable targets' bounds of an app that autoscales.
async fn honour_fence<W>(
    aws: &W,
    store: &AppStore<'_, W>,
    config: &AppConfig,
    fence: &Fence,
) -> Result<()>
where
    W: ParameterStore + LoadBalancer + Services + Prefixed,
{
    let (Some(split), Some(state)) = (fence.split, &fence.state) else {
        return Ok(());
    };
    let (actions, weights, services, healthy) = crate::world::read_world(aws, config).await?;
    if !fence.still_current(|c| services.get(c).task_definition.clone()) {
        warn!(
            app = %config.app,
            holder = %fence.holder,
            "a rollback's fence from {} no longer describes what ECS runs: nothing put back",
            fence.at
        );
        return Ok(());
    }
    let route = config.production.route();
    if !weights.matches(split) {
        // Never onto a color that cannot carry production now (someone
        // scaled it in since the rollback decided): the rollback, retried,
        // decides again from what it finds.
        if let Some(target) = split.sole()
            && !crate::world::routing::can_carry(config, &weights, &services, &healthy, target)
        {
            warn!(
                app = %config.app,
                color = %target,
                "a rollback's decision cannot be put back: {target} lacks the healthy targets production needs"
            );
            return Ok(());
        }
        write_split(aws, config, &route, &actions, split, true).await?;
    }
    if !store.state_is(&config.app, state).await? {
        store.save_state(&config.app, state).await?;
    }
    crate::records::scaling::honour_fence(store, config, fence).await
}

/// Invariant 1: a color takes more production traffic only with as many
/// healthy targets as the colors serving now run (times the config's
/// `min_healthy_fraction`).
fn ensure_ready_for_traffic(world: &World, target: Color) -> Result<()> {
    let needed = healthy_needed(world.config(), world.serving_running_except(target));
    let healthy = *world.healthy.get(target);
    let desired = world.services.get(target).desired.max(0) as usize;
    if healthy < needed || desired < needed {
        return Err(Error::NoHealthyTargets {
            color: target,
            target_group: format!(
                "{} ({healthy} healthy of {desired} desired, production needs {needed})",
                world.config().color(target).target_group_arn
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The plan, over worlds built in memory.

    use super::*;

    fn world(blue: u32, green: u32, state: Option<AppState>) -> World {
        crate::world::fixture::world(blue, green, state)
    }

    fn outcome(p: SwitchPlan, steps: &[u8]) -> SwitchOutcome {
        SwitchOutcome {
            app: "a".into(),
            version: "v2".into(),
            target_color: p.target,
            step: p.step,
            steps: steps.to_vec(),
            weight: p.weight,
            split: Split::with(p.target, p.weight),
            changed: true,
            done: p.weight == 100,
            bake_seconds: 1,
            execution_arn: None,
            gate: Default::default(),
            approval_timeout_seconds: None,
            on_timeout: None,
            traffic_moved: false,
            window: None,
        }
    }

    #[test]
    fn walks_the_steps_toward_the_color_the_release_was_deployed_to() {
        let steps = [10, 25, 50, 100];
        let w = world(
            100,
            0,
            Some(AppState::initial(Color::Blue, Some("v1".into()))),
        );
        let mut prev: Option<SwitchOutcome> = None;
        let mut seen = vec![];
        for _ in 0..5 {
            let p = plan(
                &w,
                "v2",
                prev.as_ref(),
                Some((Color::Green, "td:2")),
                &steps,
            )
            .unwrap();
            assert_eq!(p.target, Color::Green);
            seen.push(p.weight);
            prev = Some(outcome(p, &steps));
        }
        assert_eq!(seen, vec![10, 25, 50, 100, 100]);
    }

    #[test]
    fn the_record_does_not_pick_the_target_the_deployment_does() {
        // The record says green v2 is live; an operator moved production back
        // to blue by hand; deploy-idle put v3 on green. Green it is.
        let mut s = AppState::initial(Color::Green, Some("v2".into()));
        s.previous_version = Some("v1".into());
        let w = world(100, 0, Some(s));
        let p = plan(&w, "v3", None, Some((Color::Green, "td:2")), &[100]).unwrap();
        assert_eq!(p.target, Color::Green);
    }

    #[test]
    fn ecs_not_running_the_release_on_its_color_is_drift() {
        let w = world(100, 0, None);
        let e = plan(&w, "v2", None, Some((Color::Green, "td:9")), &[100]).unwrap_err();
        assert_eq!(e.error_type(), "Drift", "{e}");
    }

    #[test]
    fn without_deploy_idle_the_listener_and_the_mark_decide() {
        let w = world(
            100,
            0,
            Some(AppState::initial(Color::Blue, Some("v1".into()))),
        );
        assert_eq!(
            plan(&w, "v2", None, None, &[100]).unwrap().target,
            Color::Green
        );
        // A rerun of a first step that went through: the record names this
        // release on green and the listener agrees.
        let mut live = AppState::initial(Color::Green, Some("v2".into()));
        live.active_task_definition = Some("td:2".into());
        let w = world(0, 100, Some(live));
        assert_eq!(
            plan(&w, "v2", None, None, &[100]).unwrap().target,
            Color::Green
        );
        // A split production without a record to continue is refused.
        let w = world(50, 50, None);
        let e = plan(&w, "v2", None, None, &[100]).unwrap_err();
        assert_eq!(e.error_type(), "ProductionSplit");
    }
}
