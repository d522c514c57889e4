//! Watching the newly live color after each switch step. One call gathers
//! the signals since the step began, judges them, and tells the state
//! machine to wait and call again, to promote, or to roll back.

pub mod dimensions;
pub mod verdict;
pub mod watch;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tracing::{info, warn};

pub use verdict::{Signals, Timing, Verdict, judge, next_wait};
pub use watch::{AlarmState, Alarms, VersionCheck, VersionProber, check_alarms_exist};

use crate::config::MonitorConfig;
use crate::error::{Error, Result};
use crate::input::{ExecutionInput, SOURCE};
use crate::ports::{MetricWindow, Metrics, ParameterStore, ProbeResult};
use crate::store::AppStore;

/// What one monitor call decided; stored by the state machine under
/// `$.monitor` and handed back to the next call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorOutcome {
    pub verdict: Verdict,
    /// Why it breached, or what it is still waiting for.
    pub reasons: Vec<String>,
    /// How long the state machine waits before the next call.
    pub wait_seconds: u64,
    /// The switch step this bake belongs to.
    pub step: usize,
    pub weight: u8,
    #[serde(with = "time::serde::rfc3339")]
    pub bake_started_at: OffsetDateTime,
    pub elapsed_seconds: u64,
    pub bake_seconds: u64,
    /// Monitor calls so far in this bake.
    pub polls: u32,
    pub metrics: Option<MetricWindow>,
    pub baseline: Option<MetricWindow>,
    pub alarms_in_alarm: Vec<String>,
    pub probes: Option<ProbeSummary>,
    /// Whether probes have seen the new version during this bake.
    pub version_seen: bool,
    /// Probe requests sent during this bake so far, this call's included:
    /// they went through the production listener, so they are taken off
    /// the request count before `min_requests` is judged.
    #[serde(default)]
    pub probes_sent_total: u64,
    /// Consecutive calls whose metrics or alarms could not be read.
    #[serde(default)]
    pub failed_reads: u32,
    /// The end of the last complete metric minute judged (metrics arrive
    /// late: younger minutes are not judged).
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub metrics_until: Option<OffsetDateTime>,
    /// The execution that made this call: a console rerun of a copied
    /// document must not continue another execution's bake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeSummary {
    pub sent: usize,
    pub ok: usize,
    pub new_version: usize,
    pub max_latency_ms: u64,
}

impl ProbeSummary {
    fn of(probes: &[ProbeResult]) -> ProbeSummary {
        ProbeSummary {
            sent: probes.len(),
            ok: probes
                .iter()
                .filter(|p| p.status.is_some_and(|s| s < 500))
                .count(),
            new_version: probes.iter().filter(|p| p.has_marker).count(),
            max_latency_ms: probes.iter().map(|p| p.latency_ms).max().unwrap_or(0),
        }
    }
}

/// The config's thresholds with the execution's `overrides.monitor` merged
/// over them; a bad override is named by its path.
pub fn thresholds(config: &MonitorConfig, input: &ExecutionInput) -> Result<MonitorConfig> {
    match &input.overrides.monitor {
        None => Ok(config.clone()),
        Some(overrides) => config.with_overrides(SOURCE, overrides),
    }
}

/// The end of the last whole minute that ended at least `delay_seconds`
/// before `now`: only minutes up to it are judged.
pub fn complete_until(now: OffsetDateTime, delay_seconds: u64) -> OffsetDateTime {
    let settled = now - time::Duration::seconds(delay_seconds as i64);
    let t = settled.unix_timestamp().div_euclid(60) * 60;
    OffsetDateTime::from_unix_timestamp(t).expect("a minute boundary")
}

/// The start of the minute `t` falls in.
fn minute_of(t: OffsetDateTime) -> OffsetDateTime {
    let s = t.unix_timestamp().div_euclid(60) * 60;
    OffsetDateTime::from_unix_timestamp(s).expect("a minute boundary")
}

pub async fn monitor<P, M, Pr>(
    params: &P,
    prefix: &str,
    metrics: &M,
    prober: &Pr,
    input: &ExecutionInput,
    now: OffsetDateTime,
) -> Result<MonitorOutcome>
where
    P: ParameterStore,
    M: Metrics + Alarms,
    Pr: VersionProber,
{
    let switch = input.switch.as_ref().ok_or_else(|| {
        Error::bad_input(
            SOURCE,
            "switch",
            "the monitor needs the switch step's result here",
        )
    })?;
    let store = AppStore::new(params, prefix)?;
    let (config, lock) = tokio::join!(store.config(&input.app), store.lock(&input.app));
    let config = config?;
    // Only the deployment holding the lock is watched on its behalf: one
    // that lost it (stopped by a rollback, say) must not promote.
    let me = input.lock_holder();
    match lock? {
        Some(l) if l.holder == me => {}
        other => {
            return Err(Error::NotLockHolder {
                app: input.app.clone(),
                me,
                found: other.map_or_else(
                    || "no lock is held".to_string(),
                    |l| format!("{} holds it", l.holder),
                ),
            });
        }
    }
    let limits = thresholds(&config.monitor, input)?;

    // Same step as the previous call: the same bake goes on. Otherwise a new
    // bake starts now. So a rerun with the same input judges the same window.
    let previous = input
        .monitor
        .as_ref()
        .filter(|m| m.step == switch.step && m.execution_arn.as_deref() == input.execution_arn());
    let bake_started_at = previous.map_or(now, |m| m.bake_started_at);
    let polls = previous.map_or(0, |m| m.polls) + 1;
    let elapsed_seconds = (now - bake_started_at).whole_seconds().max(0) as u64;

    let lb_dim = dimensions::load_balancer(&config.production.listener_arn);
    let new_tg = dimensions::target_group(&config.color(switch.target_color).target_group_arn);
    let old_tg =
        dimensions::target_group(&config.color(switch.target_color.other()).target_group_arn);

    let mut signals = Signals {
        probing: limits.probe_url.is_some(),
        version_seen_before: previous.is_some_and(|m| m.version_seen),
        ..Signals::default()
    };
    let mut read_errors: Vec<String> = vec![];
    let mut metrics_until = None;
    signals.metrics_expected = true;
    if lb_dim.is_none() || new_tg.is_none() {
        // Without dimensions there is nothing to ask CloudWatch: unreadable,
        // never "no metrics wanted".
        read_errors.push(format!(
            "metrics: no CloudWatch dimensions in {} / {}",
            config.production.listener_arn,
            config.color(switch.target_color).target_group_arn
        ));
    }
    if let (Some(lb), Some(tg)) = (&lb_dim, &new_tg) {
        // Only whole minutes that ended `metrics_delay_seconds` ago are
        // complete in CloudWatch; the minute the bake began in counts whole
        // (its requests before the switch went to the other color).
        let from = minute_of(bake_started_at);
        let until = complete_until(now, limits.metrics_delay_seconds);
        let bake_end = bake_started_at + time::Duration::seconds(switch.bake_seconds as i64);
        signals.metrics_cover_bake = until >= bake_end;
        if until > from {
            metrics_until = Some(until);
            let window = metrics
                .target_group_window(lb, tg, from, until)
                .await
                .map_err(|e| e.to_string());
            if let Err(e) = &window {
                warn!(app = %input.app, error = %e, "could not read metrics");
                read_errors.push(format!("metrics: {e}"));
            }
            signals.metrics = Some(window);
        }
        if limits.compare_with_previous
            && let Some(old) = &old_tg
        {
            let before = bake_started_at - (now - bake_started_at).max(time::Duration::minutes(5));
            match metrics
                .target_group_window(lb, old, before, bake_started_at)
                .await
            {
                Ok(b) => signals.baseline = Some(b),
                Err(e) => {
                    warn!(app = %input.app, error = %e, "could not read the baseline");
                    read_errors.push(format!("baseline metrics: {e}"));
                }
            }
        }
    }
    if !limits.alarm_names.is_empty() {
        match metrics.alarm_states(&limits.alarm_names).await {
            Ok(states) => {
                let missing = watch::missing(&limits.alarm_names, &states);
                if !missing.is_empty() {
                    // Deleted since the release started: as unreadable as a
                    // failed call, never as "not in alarm".
                    read_errors.push(format!("alarm(s) not found: {}", missing.join(", ")));
                }
                signals.alarms_in_alarm = states
                    .into_iter()
                    .filter(|a| a.in_alarm)
                    .map(|a| a.name)
                    .collect();
            }
            Err(e) => {
                warn!(app = %input.app, error = %e, "could not read alarms");
                read_errors.push(format!("alarms: {e}"));
            }
        }
    }
    if let Some(url) = &limits.probe_url {
        let check = VersionCheck::new(&limits, &input.release.version);
        let timeout = std::time::Duration::from_millis(limits.probe_timeout_ms);
        signals.probes = prober
            .probe_version(url, limits.probe_requests, timeout, &check)
            .await;
    }
    signals.probes_sent = previous.map_or(0, |m| m.probes_sent_total) + signals.probes.len() as u64;
    signals.failed_reads = if read_errors.is_empty() {
        0
    } else {
        previous.map_or(0, |m| m.failed_reads) + 1
    };
    signals.read_errors = read_errors;

    let timing = Timing {
        elapsed_seconds,
        bake_seconds: switch.bake_seconds,
        weight: switch.weight,
    };
    let (verdict, reasons) = judge(&signals, &limits, timing);
    info!(app = %input.app, ?verdict, ?reasons, step = switch.step, weight = switch.weight, elapsed_seconds, "monitor verdict");
    Ok(MonitorOutcome {
        verdict,
        reasons,
        wait_seconds: next_wait(elapsed_seconds, switch.bake_seconds),
        step: switch.step,
        weight: switch.weight,
        bake_started_at,
        elapsed_seconds,
        bake_seconds: switch.bake_seconds,
        polls,
        metrics: signals.metrics.and_then(|m| m.ok()),
        baseline: signals.baseline,
        alarms_in_alarm: signals.alarms_in_alarm,
        version_seen: signals.version_seen_before || signals.probes.iter().any(|p| p.has_marker),
        probes: (!signals.probes.is_empty()).then(|| ProbeSummary::of(&signals.probes)),
        probes_sent_total: signals.probes_sent,
        failed_reads: signals.failed_reads,
        metrics_until,
        execution_arn: input.execution_arn().map(str::to_string),
    })
}
