//! The monitor's reads of CloudWatch: the new color's metrics over the
//! complete minutes of the bake, the previous color's baseline from before
//! the switch, and the alarms. A read that fails is recorded as unread,
//! never as "fine".

use time::{Duration, OffsetDateTime};
use tracing::warn;

use super::bake::BakeFigures;
use super::checks::{self, BASELINE_MINUTES, MetricCheck, MetricQuery};
use super::watch::{self, Alarms};
use crate::color::Color;
use crate::ports::Metrics;
use crate::records::config::MonitorConfig;

/// The CloudWatch dimensions the reads address; `None` when an ARN has no
/// such dimension (then the metrics are unreadable, never "not wanted").
#[derive(Debug, Clone)]
pub struct Dimensions {
    pub load_balancer: Option<String>,
    pub new_target_group: Option<String>,
    pub old_target_group: Option<String>,
    /// What the dimensions were derived from, for the error.
    pub described: String,
}

/// The end of the last whole minute that ended at least `delay_seconds`
/// before `now`: only minutes up to it are judged.
pub fn complete_until(now: OffsetDateTime, delay_seconds: u64) -> OffsetDateTime {
    let settled = now - Duration::seconds(delay_seconds as i64);
    let t = settled.unix_timestamp().div_euclid(60) * 60;
    OffsetDateTime::from_unix_timestamp(t).expect("a minute boundary")
}

/// The start of the minute `t` falls in.
pub fn minute_of(t: OffsetDateTime) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(super::bake::minute_start(t)).expect("a minute boundary")
}

/// Whether a newer complete minute than the last one judged exists.
pub fn new_minute_complete(
    figures: &BakeFigures,
    bake_started_at: OffsetDateTime,
    now: OffsetDateTime,
    limits: &MonitorConfig,
) -> bool {
    let judged = figures
        .metrics_until
        .unwrap_or_else(|| minute_of(bake_started_at));
    complete_until(now, limits.metrics_delay_seconds) > judged
}

/// When the next complete minute can be read.
pub fn next_minute_complete_at(
    figures: &BakeFigures,
    bake_started_at: OffsetDateTime,
    limits: &MonitorConfig,
) -> OffsetDateTime {
    let judged = figures
        .metrics_until
        .unwrap_or_else(|| minute_of(bake_started_at));
    judged + Duration::seconds(60 + limits.metrics_delay_seconds as i64)
}

/// The step being judged: the new color at `weight` percent of production
/// traffic, and the color before it (for baselines).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Judged {
    pub new: Color,
    pub previous: Color,
    pub weight: u8,
}

/// Reads everything CloudWatch tells about the bake at `now` into `figures`.
pub async fn read<M: Metrics + Alarms>(
    metrics: &M,
    dims: &Dimensions,
    limits: &MonitorConfig,
    judged: Judged,
    bake_started_at: OffsetDateTime,
    now: OffsetDateTime,
    figures: &mut BakeFigures,
) {
    let mut unread: Vec<String> = vec![];
    // Only whole minutes that ended `metrics_delay_seconds` ago are complete
    // in CloudWatch; the minute the bake began in counts whole (its requests
    // before the switch went to the other color).
    let from = minute_of(bake_started_at);
    let until = complete_until(now, limits.metrics_delay_seconds);
    let mut window_read = until > from;
    match (&dims.load_balancer, &dims.new_target_group) {
        (Some(lb), Some(tg)) => {
            if until > from {
                match metrics.target_group_window(lb, tg, from, until).await {
                    Ok(window) => figures.metrics = Some(window),
                    Err(e) => {
                        warn!(error = %e, "could not read metrics");
                        unread.push(format!("metrics: {e}"));
                        window_read = false;
                    }
                }
            }
            if limits.compare_with_previous
                && figures.baseline.is_none()
                && let Some(old) = &dims.old_target_group
            {
                // Five minutes before the switch: the previous color's
                // figures while it served alone.
                let before = bake_started_at - Duration::minutes(5);
                match metrics
                    .target_group_window(lb, old, before, bake_started_at)
                    .await
                {
                    Ok(b) => figures.baseline = Some(b),
                    Err(e) => {
                        warn!(error = %e, "could not read the baseline");
                        unread.push(format!("baseline metrics: {e}"));
                    }
                }
            }
        }
        _ => {
            unread.push(format!(
                "metrics: no CloudWatch dimensions in {}",
                dims.described
            ));
            window_read = false;
        }
    }
    if !limits.checks.is_empty()
        && let Err(e) = read_checks(
            metrics,
            limits,
            judged,
            bake_started_at,
            (from, until),
            figures,
        )
        .await
    {
        unread.push(e);
        window_read = false;
    }
    if window_read {
        figures.metrics_until = Some(until);
    }
    if !limits.alarm_names.is_empty() {
        match metrics.alarm_states(&limits.alarm_names).await {
            Ok(states) => {
                let missing = watch::missing(&limits.alarm_names, &states);
                if !missing.is_empty() {
                    // Deleted since the release started: as unreadable as a
                    // failed call, never as "not in alarm".
                    unread.push(format!("alarm(s) not found: {}", missing.join(", ")));
                }
                figures.alarms_in_alarm = states
                    .into_iter()
                    .filter(|a| a.in_alarm)
                    .map(|a| a.name)
                    .collect();
            }
            Err(e) => {
                warn!(error = %e, "could not read alarms");
                unread.push(format!("alarms: {e}"));
            }
        }
    }
    figures.reads += 1;
    figures.failed_reads = if unread.is_empty() {
        0
    } else {
        figures.failed_reads + 1
    };
    figures.unread = unread;
}

/// The app's metric checks over the bake's complete minutes (and, once,
/// over the five minutes before the switch), judged into `figures.checks`.
async fn read_checks<M: Metrics>(
    metrics: &M,
    limits: &MonitorConfig,
    judged: Judged,
    bake_started_at: OffsetDateTime,
    (from, until): (OffsetDateTime, OffsetDateTime),
    figures: &mut BakeFigures,
) -> Result<(), String> {
    let Judged {
        new,
        previous,
        weight,
    } = judged;
    let checks = &limits.checks;
    if figures.check_baselines.is_none() && checks.iter().any(MetricCheck::compares_with_baseline) {
        let before = bake_started_at - Duration::minutes(BASELINE_MINUTES);
        let queries: Vec<MetricQuery> = checks.iter().map(|c| c.query(previous)).collect();
        let raw = metrics
            .metric_values(&queries, before, bake_started_at)
            .await
            .map_err(|e| format!("checks before the switch: {e}"))?;
        figures.check_baselines = Some(
            checks
                .iter()
                .zip(raw)
                .map(|(c, v)| checks::normalise(c, v, BASELINE_MINUTES as f64))
                .collect(),
        );
    }
    if until <= from {
        return Ok(());
    }
    let queries: Vec<MetricQuery> = checks.iter().map(|c| c.query(new)).collect();
    let raw = metrics
        .metric_values(&queries, from, until)
        .await
        .map_err(|e| format!("checks: {e}"))?;
    let minutes = (until - from).whole_minutes() as f64;
    let baselines = figures.check_baselines.clone().unwrap_or_default();
    figures.checks = checks
        .iter()
        .zip(raw)
        .enumerate()
        .map(|(i, (c, v))| {
            checks::judge(
                c,
                checks::at_full_traffic(c, checks::normalise(c, v, minutes), weight),
                baselines.get(i).copied().flatten(),
            )
        })
        .collect();
    Ok(())
}
