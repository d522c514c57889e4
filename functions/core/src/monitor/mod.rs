//! Watching the newly live color after each switch step. One call gathers
//! the signals since the step began, judges them, and tells the state
//! machine to wait and call again, to promote, or to roll back.

pub mod dimensions;
pub mod verdict;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tracing::{info, warn};

pub use verdict::{Signals, Timing, Verdict, judge, next_wait};

use crate::config::MonitorConfig;
use crate::error::{Error, Result};
use crate::input::{ExecutionInput, SOURCE};
use crate::parse;
use crate::ports::{MetricWindow, Metrics, ParameterStore, ProbeResult, Prober};
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
    let Some(overrides) = &input.overrides.monitor else {
        return Ok(config.clone());
    };
    let mut merged = serde_json::to_value(config).expect("monitor config serialises");
    let object = merged.as_object_mut().expect("an object");
    for (key, value) in overrides {
        object.insert(key.clone(), value.clone());
    }
    parse::value::<MonitorConfig>(SOURCE, merged).map_err(|e| match e {
        Error::BadInput {
            document,
            field,
            problem,
        } => Error::BadInput {
            document,
            field: format!("overrides.monitor.{field}").replace("monitor.(document)", "monitor"),
            problem,
        },
        other => other,
    })
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
    M: Metrics,
    Pr: Prober,
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
    let me = crate::deploy::lock_holder(input);
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
    if let (Some(lb), Some(tg)) = (&lb_dim, &new_tg) {
        let window = metrics
            .target_group_window(lb, tg, bake_started_at, now)
            .await
            .map_err(|e| e.to_string());
        if let Err(e) = &window {
            warn!(app = %input.app, error = %e, "could not read metrics");
        }
        signals.metrics = Some(window);
        if limits.compare_with_previous
            && let Some(old) = &old_tg
        {
            let before = bake_started_at - (now - bake_started_at).max(time::Duration::minutes(5));
            signals.baseline = metrics
                .target_group_window(lb, old, before, bake_started_at)
                .await
                .ok();
        }
    }
    if !limits.alarm_names.is_empty() {
        signals.alarms_in_alarm = match metrics.alarms_in_alarm(&limits.alarm_names).await {
            Ok(names) => names,
            Err(e) => {
                warn!(app = %input.app, error = %e, "could not read alarms");
                vec![]
            }
        };
    }
    if let Some(url) = &limits.probe_url {
        let marker = limits.version_marker(&input.release.version);
        let timeout = std::time::Duration::from_millis(limits.probe_timeout_ms);
        signals.probes = prober
            .probe(url, limits.probe_requests, timeout, Some(&marker))
            .await;
    }

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
        execution_arn: input.execution_arn().map(str::to_string),
    })
}
