//! One monitor call's slice of the bake: probe rounds every
//! `probe_interval_seconds`, CloudWatch reads when a new metric minute is
//! complete (and at least once a minute for the alarms), a judgement after
//! each, and an answer at once on a verdict or when the slice is used up.

use time::{Duration, OffsetDateTime};

use super::bake::BakeFigures;
use super::reads::{self, Dimensions};
use super::verdict::{Latency, Signals, Timing, Verdict, judge};
use super::watch::{Alarms, Clock, VersionCheck, VersionProber};
use crate::color::Color;
use crate::error::Result;
use crate::ports::Metrics;
use crate::records::config::MonitorConfig;

/// Whether the deployment being watched still holds the app's lock: one
/// that lost it (a rollback took over, an operator stopped it) is not
/// watched any longer, and its call ends with the error that says so.
pub trait Holder: Send + Sync {
    /// `Err` only when the lock is known to be lost; a lock that cannot be
    /// read now is checked again later.
    fn still_held(&self) -> impl std::future::Future<Output = Result<()>> + Send;
}

/// Alarms are read at least this often.
const READ_EVERY: Duration = Duration::seconds(60);
/// The lock is checked this often (four reads a minute keep a hundred
/// baking apps well inside SSM's default throughput).
const LOCK_CHECK_EVERY: Duration = Duration::seconds(15);
/// Time a CloudWatch read may take, kept free at the end of a slice.
const READ_ALLOWANCE: Duration = Duration::seconds(5);
/// Kept free before the function's deadline: the answer, and a margin.
pub const DEADLINE_MARGIN: Duration = Duration::seconds(15);

/// What the slice watches and with what.
pub struct Watch<'a, M, Pr, C, H> {
    pub holder: &'a H,
    pub metrics: &'a M,
    pub prober: &'a Pr,
    pub clock: &'a C,
    pub limits: &'a MonitorConfig,
    pub dims: &'a Dimensions,
    pub check: &'a VersionCheck,
    pub bake_started_at: OffsetDateTime,
    pub bake_seconds: u64,
    /// Percent of production traffic on the new color.
    pub weight: u8,
    /// The color being judged and the one before it (for baselines).
    pub colors: (Color, Color),
}

/// Probe latencies are judged over this many recent minutes.
const LATENCY_WINDOW: Duration = Duration::minutes(5);

/// How a slice ended.
#[derive(Debug, Clone, PartialEq)]
pub struct SliceEnd {
    pub verdict: Verdict,
    pub reasons: Vec<String>,
    /// When the verdict was reached (or the slice ended).
    pub at: OffsetDateTime,
}

/// The end of a slice started at `started`: `slice_seconds` later, and never
/// closer to the function's deadline than [`DEADLINE_MARGIN`].
pub fn slice_end(
    started: OffsetDateTime,
    deadline: Option<OffsetDateTime>,
    limits: &MonitorConfig,
) -> OffsetDateTime {
    let end = started + Duration::seconds(limits.slice_seconds as i64);
    deadline.map_or(end, |d| end.min(d - DEADLINE_MARGIN))
}

impl<M, Pr, C, H> Watch<'_, M, Pr, C, H>
where
    M: Metrics + Alarms,
    Pr: VersionProber,
    C: Clock,
    H: Holder,
{
    fn probing(&self) -> bool {
        self.limits.probe_url.is_some()
    }

    fn bake_end(&self) -> OffsetDateTime {
        self.bake_started_at + Duration::seconds(self.bake_seconds as i64)
    }

    /// Watches until a verdict or `until`; at least one round either way.
    /// The caller checked the lock just before.
    pub async fn run(&self, figures: &mut BakeFigures, until: OffsetDateTime) -> Result<SliceEnd> {
        let mut last_read: Option<OffsetDateTime> = None;
        let mut lock_checked = self.clock.now();
        let mut recent: std::collections::VecDeque<(OffsetDateTime, u64)> = Default::default();
        loop {
            let round_started = self.clock.now();
            if round_started - lock_checked >= LOCK_CHECK_EVERY {
                self.holder.still_held().await?;
                lock_checked = round_started;
            }
            // A new complete minute is read at once; a read that failed is
            // tried again a minute later, so that `max_failed_reads` counts
            // minutes, not rounds.
            let read_due = last_read.is_none_or(|t| {
                round_started - t >= READ_EVERY
                    || (figures.unread.is_empty()
                        && reads::new_minute_complete(
                            figures,
                            self.bake_started_at,
                            round_started,
                            self.limits,
                        ))
            });
            if read_due {
                reads::read(
                    self.metrics,
                    self.dims,
                    self.limits,
                    reads::Judged {
                        new: self.colors.0,
                        previous: self.colors.1,
                        weight: self.weight,
                    },
                    self.bake_started_at,
                    round_started,
                    figures,
                )
                .await;
                last_read = Some(round_started);
            }
            let probes = match &self.limits.probe_url {
                Some(url) => {
                    let timeout = std::time::Duration::from_millis(self.limits.probe_timeout_ms);
                    self.prober
                        .probe_version(url, self.limits.probe_requests, timeout, self.check)
                        .await
                }
                None => vec![],
            };
            let version_seen_before = figures.version_seen;
            figures.add_probes(round_started, &probes);
            recent.extend(probes.iter().map(|p| (round_started, p.latency_ms)));
            while recent
                .front()
                .is_some_and(|(t, _)| round_started - *t > LATENCY_WINDOW)
            {
                recent.pop_front();
            }
            let latencies: Vec<u64> = recent.iter().map(|(_, l)| *l).collect();
            let probe_latency = Latency::of(&latencies);
            if probe_latency.samples > 0 {
                figures.probe_latency = Some(probe_latency);
            }

            let now = self.clock.now();
            let signals = Signals {
                metrics: figures.metrics.map(Ok),
                baseline: figures.baseline,
                alarms_in_alarm: figures.alarms_in_alarm.clone(),
                probes,
                probing: self.probing(),
                version_seen_before,
                metrics_expected: true,
                metrics_cover_bake: figures
                    .metrics_until
                    .is_some_and(|until| until >= self.bake_end()),
                probes_sent: figures
                    .metrics_until
                    .map_or(0, |until| figures.probes_counted_before(until)),
                read_errors: figures.unread.clone(),
                failed_reads: figures.failed_reads,
                probe_latency,
                checks: figures.checks.clone(),
            };
            let timing = Timing {
                elapsed_seconds: (now - self.bake_started_at).whole_seconds().max(0) as u64,
                bake_seconds: self.bake_seconds,
                weight: self.weight,
            };
            let (verdict, reasons) = judge(&signals, self.limits, timing);
            let next = self.next_round(round_started, last_read, figures);
            let round_takes =
                Duration::milliseconds(self.limits.probe_timeout_ms as i64) + READ_ALLOWANCE;
            if verdict != Verdict::Continue || next + round_takes > until {
                return Ok(SliceEnd {
                    verdict,
                    reasons,
                    at: now,
                });
            }
            self.clock.sleep_until(next).await;
        }
    }

    /// When the next round is worth making: the next probe round, else the
    /// next read; never later than the end of the bake or the next complete
    /// metric minute, which may each bring the verdict.
    fn next_round(
        &self,
        round_started: OffsetDateTime,
        last_read: Option<OffsetDateTime>,
        figures: &BakeFigures,
    ) -> OffsetDateTime {
        let next_read = last_read.unwrap_or(round_started) + READ_EVERY;
        let mut next = if self.probing() {
            round_started + Duration::seconds(self.limits.probe_interval_seconds as i64)
        } else {
            next_read
        };
        let minute = reads::next_minute_complete_at(figures, self.bake_started_at, self.limits);
        if minute > round_started {
            next = next.min(minute);
        }
        if self.bake_end() > round_started {
            next = next.min(self.bake_end());
        }
        next
    }
}

#[cfg(test)]
#[path = "slice_tests.rs"]
mod tests;
