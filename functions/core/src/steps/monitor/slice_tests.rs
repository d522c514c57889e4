//! The slice loop against a simulated clock, prober and CloudWatch: whole
//! bakes in microseconds, with the timing rules checked exactly.

use std::sync::{Arc, Mutex};

use time::{Duration, OffsetDateTime};

use super::*;
use crate::ports::{MetricWindow, PortResult, ProbeResult};
use crate::steps::monitor::checks::MetricQuery;
use crate::steps::monitor::watch::AlarmState;

/// 20 s into a minute.
fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_020).unwrap()
}

struct FakeClock(Mutex<OffsetDateTime>);

impl FakeClock {
    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
    async fn sleep_until(&self, t: OffsetDateTime) {
        let mut now = self.0.lock().unwrap();
        *now = (*now).max(t);
    }
}

/// The new version behind production: healthy until `bad_from`, then 500s.
/// Each round takes 50 ms of simulated time; every probe is logged with its
/// time so CloudWatch can count it.
struct FakeProber {
    clock: Arc<FakeClock>,
    bad_from: Option<OffsetDateTime>,
    sent: Arc<Mutex<Vec<OffsetDateTime>>>,
}

impl VersionProber for FakeProber {
    async fn probe_version(
        &self,
        _url: &str,
        count: u32,
        _timeout: std::time::Duration,
        _check: &VersionCheck,
    ) -> Vec<ProbeResult> {
        let at = self.clock.now();
        let bad = self.bad_from.is_some_and(|b| at >= b);
        self.sent
            .lock()
            .unwrap()
            .extend(std::iter::repeat_n(at, count as usize));
        self.clock.advance(Duration::milliseconds(50));
        let result = ProbeResult {
            status: Some(if bad { 500 } else { 200 }),
            latency_ms: 50,
            has_marker: true,
            error: None,
        };
        vec![result; count as usize]
    }
}

/// CloudWatch as it would count: `users_per_minute` user requests plus every
/// probe sent in the window (all traffic is on the new color here).
struct FakeCloudWatch {
    /// Every metric read fails (throttled, say).
    failing: bool,
    users_per_minute: f64,
    /// Orders per minute before the switch and after it, at full traffic.
    orders: (f64, f64),
    /// The new color's share of production traffic after the switch: what
    /// it counts of the orders (a `Color` dimension names one color).
    new_share: f64,
    sent: Arc<Mutex<Vec<OffsetDateTime>>>,
    reads: Mutex<u32>,
}

impl Metrics for FakeCloudWatch {
    async fn target_group_window(
        &self,
        _lb: &str,
        _tg: &str,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> PortResult<MetricWindow> {
        *self.reads.lock().unwrap() += 1;
        if self.failing {
            return Err(crate::ports::PortError {
                operation: "cloudwatch:GetMetricData",
                kind: crate::ports::PortErrorKind::Throttled,
                message: "Rate exceeded".into(),
            });
        }
        let minutes = (end - start).whole_minutes() as f64;
        let probes = self
            .sent
            .lock()
            .unwrap()
            .iter()
            .filter(|t| **t >= start && **t < end)
            .count() as f64;
        Ok(MetricWindow {
            requests: self.users_per_minute * minutes + probes,
            target_5xx: 0.0,
            p99_ms: Some(80.0),
            ..MetricWindow::default()
        })
    }
    async fn metric_values(
        &self,
        queries: &[MetricQuery],
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> PortResult<Vec<Option<f64>>> {
        let minutes = (end - start).whole_minutes() as f64;
        let per_minute = if end <= t0() {
            self.orders.0
        } else {
            self.orders.1
        };
        let share = |q: &MetricQuery| {
            let new_color = q
                .dimensions
                .iter()
                .any(|(k, v)| k == "Color" && v == "green");
            if end > t0() && new_color {
                self.new_share
            } else {
                1.0
            }
        };
        Ok(queries
            .iter()
            .map(|q| (q.metric == "Orders").then_some(per_minute * minutes * share(q)))
            .collect())
    }
}

impl Alarms for FakeCloudWatch {
    async fn alarm_states(&self, _names: &[String]) -> PortResult<Vec<AlarmState>> {
        Ok(vec![])
    }
}

struct Held;

impl Holder for Held {
    async fn still_held(&self) -> crate::error::Result<()> {
        Ok(())
    }
}

struct World {
    /// Percent of production traffic on the new color.
    weight: u8,
    clock: Arc<FakeClock>,
    prober: FakeProber,
    cloudwatch: FakeCloudWatch,
    limits: MonitorConfig,
    dims: Dimensions,
    check: VersionCheck,
}

fn world(users_per_minute: f64, bad_after: Option<i64>, limits: MonitorConfig) -> World {
    let clock = Arc::new(FakeClock(Mutex::new(t0())));
    let sent = Arc::new(Mutex::new(vec![]));
    World {
        weight: 100,
        prober: FakeProber {
            clock: clock.clone(),
            bad_from: bad_after.map(|s| t0() + Duration::milliseconds(s)),
            sent: sent.clone(),
        },
        cloudwatch: FakeCloudWatch {
            failing: false,
            users_per_minute,
            orders: (100.0, 100.0),
            new_share: 1.0,
            sent,
            reads: Mutex::new(0),
        },
        clock,
        check: VersionCheck::new(&limits, "v2"),
        limits,
        dims: Dimensions {
            load_balancer: Some("app/lb/1".into()),
            new_target_group: Some("targetgroup/green/1".into()),
            old_target_group: Some("targetgroup/blue/1".into()),
            described: "test".into(),
        },
    }
}

fn limits(min_requests: u64) -> MonitorConfig {
    MonitorConfig {
        probe_url: Some("http://prod.example/version".into()),
        min_requests,
        ..MonitorConfig::default()
    }
}

impl World {
    fn watch(&self, bake_seconds: u64) -> Watch<'_, FakeCloudWatch, FakeProber, FakeClock, Held> {
        Watch {
            holder: &Held,
            metrics: &self.cloudwatch,
            prober: &self.prober,
            clock: &self.clock,
            limits: &self.limits,
            dims: &self.dims,
            check: &self.check,
            bake_started_at: t0(),
            bake_seconds,
            weight: self.weight,
            colors: (Color::Green, Color::Blue),
        }
    }

    async fn slice(&self, bake_seconds: u64, figures: &mut BakeFigures) -> SliceEnd {
        let until = slice_end(self.clock.now(), None, &self.limits);
        self.watch(bake_seconds).run(figures, until).await.unwrap()
    }
}

fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn a_release_that_turns_bad_at_minute_3_is_seen_within_one_interval_plus_one_timeout() {
    run(async {
        // Bad from 182.5 s: between two rounds, the worst place.
        let w = world(100.0, Some(182_500), limits(50));
        let mut figures = BakeFigures::default();
        let end = w.slice(600, &mut figures).await;
        assert_eq!(end.verdict, Verdict::Breach, "{:?}", end.reasons);
        let turned_bad = t0() + Duration::milliseconds(182_500);
        let seen_after = end.at - turned_bad;
        let bound = Duration::seconds(w.limits.probe_interval_seconds as i64)
            + Duration::milliseconds(w.limits.probe_timeout_ms as i64);
        assert!(
            seen_after.is_positive() && seen_after <= bound,
            "seen {seen_after} after turning bad (bound {bound})"
        );
        assert!(end.reasons[0].contains("HTTP 500"), "{:?}", end.reasons);
    });
}

#[test]
fn a_release_that_stays_good_is_promoted_once_the_minute_covering_the_bake_end_is_judged() {
    run(async {
        let w = world(100.0, None, limits(50));
        let mut figures = BakeFigures::default();
        let end = w.slice(600, &mut figures).await;
        assert_eq!(end.verdict, Verdict::Promote, "{:?}", end.reasons);
        // The bake ends at 600 s, 20 s into a minute; that minute is over at
        // 640 s and complete in CloudWatch 180 s later.
        let elapsed = (end.at - t0()).whole_seconds();
        assert!((820..=826).contains(&elapsed), "promoted at {elapsed} s");
        // A probe round every 5 s, a read about once a minute.
        assert!(
            (160..=170).contains(&figures.rounds),
            "{} rounds",
            figures.rounds
        );
        assert!(
            (14..=30).contains(&figures.reads),
            "{} reads in 14 minutes",
            figures.reads
        );
        // Metrics from the first complete minute on, each new minute read.
        let metric_reads = *w.cloudwatch.reads.lock().unwrap();
        assert!((10..=30).contains(&metric_reads), "{metric_reads}");
        assert_eq!(
            figures.probes.as_ref().unwrap().sent,
            u64::from(figures.rounds) * 3
        );
    });
}

#[test]
fn a_bake_in_several_slices_is_judged_as_one() {
    run(async {
        let mut l = limits(50);
        l.slice_seconds = 300;
        let w = world(100.0, None, l);
        let mut figures = BakeFigures::default();
        let first = w.slice(600, &mut figures).await;
        assert_eq!(first.verdict, Verdict::Continue, "{:?}", first.reasons);
        let first_slice = (first.at - t0()).whole_seconds();
        assert!((290..=300).contains(&first_slice), "{first_slice} s");
        let rounds = figures.rounds;

        let second = w.slice(600, &mut figures).await;
        assert_eq!(second.verdict, Verdict::Continue);
        assert!(figures.rounds > rounds);
        let third = w.slice(600, &mut figures).await;
        assert_eq!(third.verdict, Verdict::Promote, "{:?}", third.reasons);
        // Nothing counted twice, nothing lost between slices.
        let sent = w.prober.sent.lock().unwrap().len() as u64;
        assert_eq!(figures.probes.as_ref().unwrap().sent, sent);
        assert_eq!(u64::from(figures.rounds) * 3, sent);
        let minutes: u64 = figures.probe_minutes.iter().map(|m| m.sent).sum();
        assert_eq!(minutes, sent);
    });
}

#[test]
fn probe_only_traffic_never_promotes() {
    run(async {
        // No user at all: every request CloudWatch counts is one of ours.
        let w = world(0.0, None, limits(10));
        let mut figures = BakeFigures::default();
        let end = w.slice(120, &mut figures).await;
        assert_eq!(end.verdict, Verdict::Breach, "{:?}", end.reasons);
        assert!(
            end.reasons.iter().any(|r| r.contains("0 user request(s)")),
            "{:?}",
            end.reasons
        );
        assert!(
            figures.metrics.unwrap().requests >= 10.0,
            "CloudWatch counted our probes"
        );
    });
}

#[test]
fn a_slice_never_outlives_the_function() {
    let l = limits(50);
    let deadline = t0() + Duration::seconds(120);
    assert_eq!(
        slice_end(t0(), Some(deadline), &l),
        deadline - DEADLINE_MARGIN
    );
    assert_eq!(
        slice_end(t0(), None, &l),
        t0() + Duration::seconds(l.slice_seconds as i64)
    );
}

#[test]
fn orders_per_minute_falling_by_more_than_a_fifth_breaches_at_the_first_complete_minute() {
    run(async {
        let mut l = limits(50);
        l.checks = vec![
            serde_json::from_value(serde_json::json!({
                "name": "orders per minute", "namespace": "Shop", "metric": "Orders",
                "dimensions": {"Color": "{{color}}"}, "max_drop": 0.2
            }))
            .unwrap(),
        ];
        let mut w = world(100.0, None, l.clone());
        w.cloudwatch.orders = (100.0, 70.0);
        let mut figures = BakeFigures::default();
        let end = w.slice(600, &mut figures).await;
        assert_eq!(end.verdict, Verdict::Breach, "{:?}", end.reasons);
        assert!(
            end.reasons[0].starts_with("orders per minute: 70 is 30% below the 100"),
            "{:?}",
            end.reasons
        );
        // The bake's first minute is complete 220 s in (20 s into it, plus
        // 180 s for CloudWatch).
        let at = (end.at - t0()).whole_seconds();
        assert!((220..=226).contains(&at), "{at} s");
        assert_eq!(figures.checks[0].baseline, Some(100.0));

        // Orders holding up: promoted as usual.
        let w = world(100.0, None, l);
        let mut figures = BakeFigures::default();
        let end = w.slice(600, &mut figures).await;
        assert_eq!(end.verdict, Verdict::Promote, "{:?}", end.reasons);
        assert_eq!(figures.checks[0].value, Some(100.0));
    });
}

/// At a weighted step the new color counts only its share of the orders;
/// the baseline is the previous color's count with all the traffic. A
/// healthy release is compared like with like at every step, and one whose
/// orders really fall is still caught at 10 %.
#[test]
fn orders_checks_compare_like_with_like_at_every_weight() {
    run(async {
        let mut l = limits(50);
        l.checks = vec![
            serde_json::from_value(serde_json::json!({
                "name": "orders per minute", "namespace": "Shop", "metric": "Orders",
                "dimensions": {"Color": "{{color}}"}, "max_drop": 0.2
            }))
            .unwrap(),
        ];
        for weight in [10u8, 50, 100] {
            let mut w = world(100.0, None, l.clone());
            w.weight = weight;
            w.cloudwatch.new_share = f64::from(weight) / 100.0;
            let mut figures = BakeFigures::default();
            let end = w.slice(600, &mut figures).await;
            assert_eq!(
                end.verdict,
                Verdict::Promote,
                "at {weight}%: {:?}",
                end.reasons
            );
            assert_eq!(figures.checks[0].value, Some(100.0), "at {weight}%");
        }
        // A real fall (orders down by 30 % on the new color) at 10 %.
        let mut w = world(100.0, None, l);
        w.weight = 10;
        w.cloudwatch.new_share = 0.1;
        w.cloudwatch.orders = (100.0, 70.0);
        let mut figures = BakeFigures::default();
        let end = w.slice(600, &mut figures).await;
        assert_eq!(end.verdict, Verdict::Breach, "{:?}", end.reasons);
    });
}

/// A day-long bake watched slice after slice: what the monitor hands to the
/// next call (and the execution document keeps) stays small. Step Functions
/// fails a document over 256 KB outside any Catch, mid-split.
#[test]
fn a_24_hour_bake_keeps_the_monitors_figures_under_32_kb() {
    run(async {
        let day = 24 * 3600;
        let w = world(100.0, None, limits(50));
        let mut figures = BakeFigures::default();
        let mut slices = 0;
        let end = loop {
            let end = w.slice(day, &mut figures).await;
            slices += 1;
            if end.verdict != Verdict::Continue {
                break end;
            }
        };
        assert_eq!(end.verdict, Verdict::Promote, "{:?}", end.reasons);
        assert!(slices > 100, "watched in {slices} slices");
        let size = serde_json::to_string(&figures).unwrap().len();
        assert!(
            size < 32 * 1024,
            "the figures take {size} bytes after a day"
        );
        assert!(figures.probes.as_ref().unwrap().sent > 10_000);
    });
}

#[test]
fn unreadable_metrics_are_retried_once_a_minute_and_breach_after_three_minutes_not_three_rounds() {
    run(async {
        let mut w = world(100.0, None, limits(50));
        w.cloudwatch.failing = true;
        let mut figures = BakeFigures::default();
        let end = w.slice(600, &mut figures).await;
        assert_eq!(end.verdict, Verdict::Breach, "{:?}", end.reasons);
        assert!(
            end.reasons[0].contains("unreadable in 3 read(s) in a row"),
            "{:?}",
            end.reasons
        );
        // The first complete minute is there 220 s in; two retries a
        // minute apart make the third failed read.
        let at = (end.at - t0()).whole_seconds();
        assert!((330..=350).contains(&at), "breached {at} s in");
        assert_eq!(*w.cloudwatch.reads.lock().unwrap(), 3);
    });
}
