//! Moving production traffic toward the new color, one step per call.
//!
//! The step to take is derived from the execution input alone (the previous
//! switch result, if any) and the stored state, so a rerun with the same input
//! finds the listener already where it should be and changes nothing.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tracing::{info, warn};

use crate::color::Color;
use crate::config::Strategy;
use crate::deploy::lock_holder;
use crate::error::{Error, Result};
use crate::fence::rolled_back_meanwhile;
use crate::input::{ExecutionInput, SOURCE};
use crate::ports::{LoadBalancer, ParameterStore};
use crate::routing::{ensure_healthy_for, read_split, write_split};
use crate::split::Split;
use crate::state::{AppState, Phase};
use crate::store::{AppStore, lock_held};

/// What one switch call did; the state machine stores it under `$.switch` and
/// hands it back to the next call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchOutcome {
    pub app: String,
    pub version: String,
    /// The color traffic moves to.
    pub target_color: Color,
    /// Index into `steps` of the step now applied.
    pub step: usize,
    pub steps: Vec<u8>,
    /// Percent of production traffic now on `target_color`.
    pub weight: u8,
    pub split: Split,
    /// False when the listener already had this split (a rerun).
    pub changed: bool,
    /// True once all traffic is on `target_color`.
    pub done: bool,
    /// How long the monitor should bake this step.
    pub bake_seconds: u64,
}

/// The step a switch call should apply: pure, so it can be reasoned about and
/// tested without a load balancer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwitchPlan {
    pub target: Color,
    pub step: usize,
    pub weight: u8,
}

pub fn plan(
    state: &AppState,
    version: &str,
    previous: Option<&SwitchOutcome>,
    steps: &[u8],
) -> Result<SwitchPlan> {
    let (target, step) = match previous {
        // Later steps: same target as the step before, one step further (the
        // last step repeats: switching past 100% is a no-op, not an error).
        Some(prev) => {
            let step = if prev.done { prev.step } else { prev.step + 1 };
            (prev.target_color, step.min(steps.len() - 1))
        }
        // First step. If the state already names this release as active, this
        // is a rerun of the first step and the target is unchanged.
        None => {
            let continuing = state.active_version.as_deref() == Some(version)
                && state.phase != Phase::RolledBack;
            let target = if continuing {
                state.active_color
            } else {
                state.active_color.other()
            };
            (target, 0)
        }
    };
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

/// The state after `plan` has been applied and read back.
pub fn state_after(
    before: &AppState,
    plan: SwitchPlan,
    version: &str,
    split: Split,
    execution_arn: Option<&str>,
    switched_at: OffsetDateTime,
) -> AppState {
    // Switching onto the active color continues a switch already under way:
    // the previous release stays the one we came from.
    // Moving onto the other color makes the one we leave the previous color,
    // untouched and still running its release.
    let (previous_version, previous_color, replaced) = if before.active_color == plan.target {
        (
            before.previous_version.clone(),
            before.previous_color,
            before.previous_color_replaced_by.clone(),
        )
    } else {
        (before.active_version.clone(), before.active_color, None)
    };
    AppState {
        active_color: plan.target,
        active_version: Some(version.to_string()),
        previous_color,
        previous_version,
        previous_color_replaced_by: replaced,
        weights: split,
        phase: if split.weight(plan.target) == 100 {
            Phase::Stable
        } else {
            Phase::Shifting
        },
        last_execution_arn: execution_arn
            .map(str::to_string)
            .or_else(|| before.last_execution_arn.clone()),
        switched_at: Some(switched_at),
    }
}

/// Applies the next switch step for `input` and records it.
pub async fn switch(
    params: &impl ParameterStore,
    prefix: &str,
    lb: &impl LoadBalancer,
    input: &ExecutionInput,
    now: OffsetDateTime,
) -> Result<SwitchOutcome> {
    let app = input.app.as_str();
    let version = input.release.version.as_str();
    let store = AppStore::new(params, prefix)?;
    let config = store.config(app).await?;

    // Only the lock holder may move traffic (invariant 3).
    let me = lock_holder(input);
    if let Some(lock) = store.lock(app).await?
        && lock.holder != me
    {
        return Err(lock_held(app, &lock));
    }
    // A deployment that was rolled back never moves traffic again.
    if let Some(fence) = store.fence_against(app, &me).await? {
        return Err(rolled_back_meanwhile(app, &fence));
    }

    let strategy: &Strategy = input
        .overrides
        .strategy
        .as_ref()
        .unwrap_or(&config.strategy);
    let steps = strategy.steps();
    let current = read_split(lb, &config).await?;
    let state = match store.state(app).await? {
        Some(s) => s,
        None => bootstrap_state(app, current)?,
    };
    let plan = plan(&state, version, input.switch.as_ref(), &steps)?;
    let wanted = Split::with(plan.target, plan.weight);

    let changed = current != wanted;
    if changed {
        ensure_healthy_for(lb, &config, current, wanted).await?;
        write_split(lb, &config, wanted, true).await?;
        info!(app, version, from = %current, to = %wanted, "switched production traffic");
    } else {
        info!(app, version, split = %current, "production traffic already at this step");
    }

    let switched_at = if changed {
        now
    } else {
        state.switched_at.unwrap_or(now)
    };
    let new_state = state_after(
        &state,
        plan,
        version,
        wanted,
        input.execution_arn(),
        switched_at,
    );
    if new_state != state {
        store.save_state(app, &new_state).await?;
    }
    if changed || new_state != state {
        // A rollback may have stopped this deployment while this step ran
        // (see `fence`): if so, put back what the rollback decided.
        if let Some(fence) = store.fence_against(app, &me).await? {
            // Pending: the rollback has yet to write, and will write last.
            if let (Some(split), Some(state)) = (fence.split, &fence.state) {
                write_split(lb, &config, split, true).await?;
                store.save_state(app, state).await?;
                warn!(app, version, %split, "rolled back while switching; restored the rollback's split");
            }
            return Err(rolled_back_meanwhile(app, &fence));
        }
    }

    Ok(SwitchOutcome {
        app: app.to_string(),
        version: version.to_string(),
        target_color: plan.target,
        step: plan.step,
        steps: steps.clone(),
        weight: plan.weight,
        split: wanted,
        changed,
        done: plan.weight == 100,
        bake_seconds: strategy.bake_seconds(),
    })
}

/// No state stored yet (the first release through bluegreen): whatever color
/// the listener sends everything to is the active one.
fn bootstrap_state(app: &str, current: Split) -> Result<AppState> {
    match current.sole() {
        Some(color) => Ok(AppState::initial(color, None)),
        None => Err(Error::bad_input(
            format!("app `{app}`"),
            "state",
            format!(
                "no state is stored and production is split ({current}); \
                 send all traffic to one color before the first release"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stable(color: Color, version: &str) -> AppState {
        AppState::initial(color, Some(version.into()))
    }

    fn outcome(plan: SwitchPlan, steps: &[u8]) -> SwitchOutcome {
        SwitchOutcome {
            app: "a".into(),
            version: "v2".into(),
            target_color: plan.target,
            step: plan.step,
            steps: steps.to_vec(),
            weight: plan.weight,
            split: Split::with(plan.target, plan.weight),
            changed: true,
            done: plan.weight == 100,
            bake_seconds: 1,
        }
    }

    #[test]
    fn walks_the_steps_toward_the_idle_color() {
        let steps = [10, 25, 50, 100];
        let mut state = stable(Color::Blue, "v1");
        let mut prev: Option<SwitchOutcome> = None;
        let mut seen = vec![];
        for _ in 0..5 {
            let p = plan(&state, "v2", prev.as_ref(), &steps).unwrap();
            seen.push(p.weight);
            assert_eq!(p.target, Color::Green);
            let split = Split::with(p.target, p.weight);
            state = state_after(&state, p, "v2", split, None, OffsetDateTime::UNIX_EPOCH);
            assert_eq!(state.previous_version.as_deref(), Some("v1"));
            prev = Some(outcome(p, &steps));
        }
        assert_eq!(seen, vec![10, 25, 50, 100, 100]);
        assert_eq!(state.phase, Phase::Stable);
        assert_eq!(state.active_color, Color::Green);
    }

    #[test]
    fn rerun_of_first_step_keeps_target() {
        let steps = [10, 100];
        let state = stable(Color::Blue, "v1");
        let p = plan(&state, "v2", None, &steps).unwrap();
        let after = state_after(
            &state,
            p,
            "v2",
            Split::with(Color::Green, 10),
            None,
            OffsetDateTime::UNIX_EPOCH,
        );
        assert_eq!(plan(&after, "v2", None, &steps).unwrap(), p);
    }

    #[test]
    fn after_a_rollback_the_same_version_targets_the_idle_color_again() {
        let mut state = stable(Color::Blue, "v1");
        state.previous_version = Some("v2".into());
        state.phase = Phase::RolledBack;
        let p = plan(&state, "v2", None, &[100]).unwrap();
        assert_eq!(p.target, Color::Green);
    }
}
