//! Watching the newly live color after each switch step. One call watches
//! a slice of the bake (minutes): it probes every few seconds, reads
//! CloudWatch as often as it changes, and answers at once on a verdict
//! (breach or promote) or, at the end of its slice, "continue" with the
//! figures so far, which the next call carries on.

pub mod bake;
pub mod checks;
pub mod dimensions;
pub mod reads;
pub mod slice;
pub mod verdict;
pub mod watch;

use time::OffsetDateTime;
use tracing::info;

pub use bake::{BakeFigures, ProbeMinute, ProbeSummary};
pub use reads::complete_until;
pub use verdict::{Signals, Timing, Verdict, judge};
pub use watch::{AlarmState, Alarms, Clock, VersionCheck, VersionProber, check_alarms_exist};

use crate::document::input::{ExecutionInput, SOURCE};
pub use crate::document::outcomes::MonitorOutcome;
use crate::error::{Error, Result};
use crate::ports::capabilities::Prefixed;
use crate::ports::{Metrics, ParameterStore};
use crate::records::config::MonitorConfig;
use crate::records::store::AppStore;

/// The config's thresholds with the execution's `overrides.monitor` merged
/// over them; a bad override is named by its path.
pub fn thresholds(config: &MonitorConfig, input: &ExecutionInput) -> Result<MonitorConfig> {
    match &input.overrides.monitor {
        None => Ok(config.clone()),
        Some(overrides) => config.with_overrides(SOURCE, overrides),
    }
}

/// Watches one slice of the current step's bake. `deadline` is when the
/// function is stopped (the Lambda context's), if known.
pub async fn monitor<W>(
    aws: &W,
    input: &ExecutionInput,
    deadline: Option<OffsetDateTime>,
) -> Result<MonitorOutcome>
where
    W: ParameterStore + Prefixed + Metrics + Alarms + VersionProber + Clock,
{
    let switch = input.switch.as_ref().ok_or_else(|| {
        Error::bad_input(
            SOURCE,
            "switch",
            "the monitor needs the switch step's result here",
        )
    })?;
    let store = AppStore::new(aws, aws.prefix())?;
    let holder = LockHolder {
        store: &store,
        app: &input.app,
        me: input.lock_holder(),
    };
    let (config, held) = tokio::join!(store.config(&input.app), holder.check());
    let config = config?;
    held?;
    let limits = thresholds(&config.monitor, input)?;

    // Same step as the previous call: the same bake goes on, with its
    // figures. Otherwise a new bake starts now.
    let started = aws.now();
    let previous = same_bake(input, switch);
    let bake_started_at = previous.map_or(started, |m| m.bake_started_at);
    let mut figures = previous.map(|m| m.figures.clone()).unwrap_or_default();

    let target = config.color(switch.target_color);
    let other = config.color(switch.target_color.other());
    let dims = reads::Dimensions {
        load_balancer: dimensions::load_balancer(&config.production.listener_arn),
        new_target_group: dimensions::target_group(&target.target_group_arn),
        old_target_group: dimensions::target_group(&other.target_group_arn),
        described: format!(
            "{} / {}",
            config.production.listener_arn, target.target_group_arn
        ),
    };
    let check = VersionCheck::new(&limits, &input.release.version);
    let watch = slice::Watch {
        holder: &holder,
        metrics: aws,
        prober: aws,
        clock: aws,
        limits: &limits,
        dims: &dims,
        check: &check,
        bake_started_at,
        bake_seconds: switch.bake_seconds,
        weight: switch.weight,
        colors: (switch.target_color, switch.target_color.other()),
    };
    let end = watch
        .run(&mut figures, slice::slice_end(started, deadline, &limits))
        .await?;
    let elapsed_seconds = (end.at - bake_started_at).whole_seconds().max(0) as u64;
    info!(app = %input.app, verdict = ?end.verdict, reasons = ?end.reasons, step = switch.step,
          weight = switch.weight, elapsed_seconds, rounds = figures.rounds, "monitor verdict");
    Ok(MonitorOutcome {
        verdict: end.verdict,
        reasons: end.reasons,
        step: switch.step,
        weight: switch.weight,
        bake_started_at,
        elapsed_seconds,
        bake_seconds: switch.bake_seconds,
        slices: previous.map_or(0, |m| m.slices) + 1,
        decided_at: end.at,
        figures,
        execution_arn: input.execution_arn().map(str::to_string),
        hooks: Vec::new(),
        notices: Vec::new(),
    })
}

/// The previous call's answer when it watched this same bake (this step of
/// this execution); `None` at a bake's first call.
pub fn same_bake<'a>(
    input: &'a ExecutionInput,
    switch: &crate::document::outcomes::SwitchOutcome,
) -> Option<&'a MonitorOutcome> {
    input
        .monitor
        .as_ref()
        .filter(|m| m.step == switch.step && m.execution_arn.as_deref() == input.execution_arn())
}

/// The watched deployment and the lock it must hold.
struct LockHolder<'a, P> {
    store: &'a AppStore<'a, P>,
    app: &'a str,
    me: String,
}

impl<P: ParameterStore> LockHolder<'_, P> {
    /// Only the deployment holding the lock is watched on its behalf: one
    /// that lost it (stopped by a rollback, say) must not promote.
    async fn check(&self) -> Result<()> {
        match self.store.lock(self.app).await? {
            Some(l) if l.holder == self.me => Ok(()),
            other => Err(Error::NotLockHolder {
                app: self.app.to_string(),
                me: self.me.clone(),
                found: other.map_or_else(
                    || "no lock is held".to_string(),
                    |l| format!("{} holds it", l.holder),
                ),
            }),
        }
    }
}

impl<P: ParameterStore> slice::Holder for LockHolder<'_, P> {
    /// Still the holder, and not fenced off: a rollback fences a running
    /// deployment before it stops it, so the watch ends within one check of
    /// a rollback starting, whether or not the lock has changed hands yet.
    async fn still_held(&self) -> Result<()> {
        let (held, fence) =
            tokio::join!(self.check(), self.store.fence_against(self.app, &self.me));
        if let Ok(Some(fence)) = fence {
            return Err(Error::NotLockHolder {
                app: self.app.to_string(),
                me: self.me.clone(),
                found: format!("a rollback fenced this deployment off: {}", fence.reason),
            });
        }
        match held {
            Err(e @ Error::NotLockHolder { .. }) => Err(e),
            // Unreadable now: checked again in a few seconds.
            _ => Ok(()),
        }
    }
}
