//! The monitor's judgement of one moment of the bake: pure, so every rule
//! is testable without AWS.
//! Breach wins over everything; promote needs the full bake, enough traffic
//! and, at 100%, proof that the data plane serves the new version.

use super::checks::{CheckResult, CheckState};
pub use crate::document::outcomes::{Latency, Verdict};
use crate::ports::{MetricWindow, ProbeResult};
use crate::records::config::MonitorConfig;

/// What the monitor has seen at one moment of the bake.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Signals {
    /// The new color's metrics since the switch; `Err` when they could not be read.
    pub metrics: Option<Result<MetricWindow, String>>,
    /// The previous color's metrics from before the switch (baseline).
    pub baseline: Option<MetricWindow>,
    pub alarms_in_alarm: Vec<String>,
    pub probes: Vec<ProbeResult>,
    /// Whether a probe URL is configured (probes may legitimately be empty).
    pub probing: bool,
    /// Whether any probe of this bake has already seen the new version.
    pub version_seen_before: bool,
    /// Whether the new color's metrics are watched at all (its dimensions
    /// are known). `metrics` is `None` while no complete minute exists yet.
    pub metrics_expected: bool,
    /// Whether the complete minutes judged reach the end of the bake.
    pub metrics_cover_bake: bool,
    /// Our probes that `metrics` may count: they went through the
    /// production listener, so they are in `RequestCount` but are not users.
    pub probes_sent: u64,
    /// What the latest read could not read (metrics, alarms, a missing alarm).
    pub read_errors: Vec<String>,
    /// Consecutive reads, the latest included, with something unreadable.
    pub failed_reads: u32,
    /// The probes' latencies over the last minutes.
    pub probe_latency: Latency,
    /// The app's metric checks as last judged (empty before the first
    /// complete minute).
    pub checks: Vec<CheckResult>,
}

/// A percentile `q` is told by at least `5 / (1 - q)` samples (100 for p95,
/// 500 for p99); the median, by 3.
fn enough(samples: usize, q: f64) -> bool {
    let needed = if q <= 0.5 { 3.0 } else { 5.0 / (1.0 - q) };
    samples as f64 >= needed.round()
}

impl Latency {
    pub fn of(latencies_ms: &[u64]) -> Latency {
        let mut sorted = latencies_ms.to_vec();
        sorted.sort_unstable();
        let n = sorted.len();
        let at =
            |q: f64| enough(n, q).then(|| sorted[((q * n as f64).ceil() as usize).clamp(1, n) - 1]);
        Latency {
            samples: n,
            p50_ms: at(0.5),
            p95_ms: at(0.95),
            p99_ms: at(0.99),
        }
    }

    /// The probes' percentiles against the limits; without `max_p50_ms`,
    /// a median above the p99 limit is a breach all the same.
    fn breaches(&self, limits: &MonitorConfig) -> Vec<String> {
        let checks = [
            (
                "p50",
                self.p50_ms,
                Some(limits.max_p50_ms.unwrap_or(limits.max_p99_ms)),
            ),
            ("p95", self.p95_ms, limits.max_p95_ms),
            ("p99", self.p99_ms, Some(limits.max_p99_ms)),
        ];
        checks
            .into_iter()
            .filter_map(|(name, value, limit)| {
                let (v, l) = (value?, limit?);
                (v > l).then(|| {
                    format!(
                        "probes: {name} latency {v} ms > {l} ms (over {} probes)",
                        self.samples
                    )
                })
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub elapsed_seconds: u64,
    pub bake_seconds: u64,
    /// Percent of production traffic on the new color.
    pub weight: u8,
}

/// Give up waiting for enough traffic after this many bake times: better an
/// honest breach than a deployment that never ends.
pub const MAX_BAKES_WITHOUT_TRAFFIC: u64 = 3;

pub fn judge(signals: &Signals, limits: &MonitorConfig, timing: Timing) -> (Verdict, Vec<String>) {
    let mut breaches = vec![];
    let mut waits = vec![];
    // Traffic figures or metric checks need complete metric minutes.
    let needs_minutes = limits.min_requests > 0 || !limits.checks.is_empty();

    // Probes: a server error or a failed request is a breach at once.
    let bad: Vec<&ProbeResult> = signals
        .probes
        .iter()
        .filter(|p| p.status.is_none_or(|s| s >= 500))
        .collect();
    if !bad.is_empty() {
        let first = bad[0];
        let what = match (first.status, &first.error) {
            (Some(s), _) => format!("HTTP {s}"),
            (None, Some(e)) => e.clone(),
            (None, None) => "no response".to_string(),
        };
        breaches.push(format!(
            "probes: {} of {} failed (first: {what})",
            bad.len(),
            signals.probes.len()
        ));
    }
    breaches.extend(signals.probe_latency.breaches(limits));
    // At 100% the probes must see the new version; the ALB change is not
    // immediate, so allow `version_timeout_seconds` for it.
    let version_seen = signals.version_seen_before || signals.probes.iter().any(|p| p.has_marker);
    if signals.probing && timing.weight == 100 && !version_seen {
        if timing.elapsed_seconds >= limits.version_timeout_seconds {
            breaches.push(format!(
                "probes still see the old version {} s after the switch",
                timing.elapsed_seconds
            ));
        } else {
            waits.push("probes do not see the new version yet".to_string());
        }
    }

    // An unreadable signal is never "fine": wait, and after
    // `max_failed_reads` reads in a row without it, breach.
    if !signals.read_errors.is_empty() {
        let what = signals.read_errors.join("; ");
        if signals.failed_reads >= limits.max_failed_reads {
            breaches.push(format!(
                "signals unreadable in {} read(s) in a row: {what}",
                signals.failed_reads
            ));
        } else {
            waits.push(format!(
                "cannot judge ({} of {} unreadable reads allowed): {what}",
                signals.failed_reads, limits.max_failed_reads
            ));
        }
    }

    if !signals.alarms_in_alarm.is_empty() {
        breaches.push(format!(
            "alarm in ALARM: {}",
            signals.alarms_in_alarm.join(", ")
        ));
    }

    match &signals.metrics {
        Some(Ok(m)) => {
            // Our probes went through production: only what is left after
            // taking off every probe sent is users' traffic (an upper bound
            // on the probes that reached this color, so never too many).
            let users = (m.requests - signals.probes_sent as f64).max(0.0);
            if users < limits.min_requests as f64 {
                waits.push(format!(
                    "only {users} user request(s) so far, {} needed for a verdict ({} counted, less {} probe(s))",
                    limits.min_requests, m.requests, signals.probes_sent
                ));
            } else {
                let rate = if m.requests > 0.0 {
                    m.target_5xx / m.requests
                } else {
                    0.0
                };
                if rate > limits.max_5xx_rate {
                    breaches.push(format!(
                        "5xx rate {:.2}% ({} of {} requests) > {:.2}%",
                        rate * 100.0,
                        m.target_5xx,
                        m.requests,
                        limits.max_5xx_rate * 100.0
                    ));
                }
                let percentiles = [
                    ("p50", m.p50_ms, limits.max_p50_ms),
                    ("p95", m.p95_ms, limits.max_p95_ms),
                    ("p99", m.p99_ms, Some(limits.max_p99_ms)),
                ];
                for (name, value, limit) in percentiles {
                    if let (Some(v), Some(l)) = (value, limit)
                        && v > l as f64
                    {
                        breaches.push(format!("{name} {v:.0} ms > {l} ms"));
                    }
                }
                if let Some(base) = &signals.baseline {
                    breaches.extend(compare(m, base, limits, timing.weight));
                }
            }
        }
        // Counted among `read_errors` above.
        Some(Err(_)) => {}
        None if signals.metrics_expected && needs_minutes => waits.push(format!(
            "no complete metric minute yet (ALB metrics are judged {} s after their minute ends)",
            limits.metrics_delay_seconds
        )),
        None => {}
    }
    // Promote only once the minute holding the end of the bake is complete
    // and judged: metrics arrive late, and that minute may hold the trouble.
    // With `min_requests: 0` the app asked for no traffic evidence at all.
    for check in &signals.checks {
        let line = format!("{}: {}", check.name, check.detail);
        match check.state {
            CheckState::Breach => breaches.push(line),
            CheckState::Waiting => waits.push(line),
            CheckState::Ok => {}
        }
    }
    if !limits.checks.is_empty() && signals.checks.is_empty() && signals.metrics.is_some() {
        waits.push("checks: not read yet".to_string());
    }
    if signals.metrics_expected
        && needs_minutes
        && matches!(signals.metrics, Some(Ok(_)))
        && !signals.metrics_cover_bake
    {
        waits.push(format!(
            "waiting for the metric minute covering the end of the bake (ALB metrics arrive up to {} s late)",
            limits.metrics_delay_seconds
        ));
    }

    if !breaches.is_empty() {
        return (Verdict::Breach, breaches);
    }
    if timing.elapsed_seconds < timing.bake_seconds {
        waits.push(format!(
            "baking: {} of {} s",
            timing.elapsed_seconds, timing.bake_seconds
        ));
    }
    if waits.is_empty() {
        return (Verdict::Promote, vec![]);
    }
    let mut cap = timing.bake_seconds.max(60) * MAX_BAKES_WITHOUT_TRAFFIC;
    if signals.metrics_expected && needs_minutes {
        // The minute covering the bake's end is judged this much later.
        cap += limits.metrics_delay_seconds + 60;
    }
    if timing.elapsed_seconds >= cap {
        waits.insert(0, format!("no verdict after {} s", timing.elapsed_seconds));
        return (Verdict::Breach, waits);
    }
    (Verdict::Continue, waits)
}

/// The bake's figures against the previous color's before the switch; the
/// new color has `weight` percent of production traffic.
fn compare(
    new: &MetricWindow,
    base: &MetricWindow,
    limits: &MonitorConfig,
    weight: u8,
) -> Vec<String> {
    let mut out = vec![];
    // 5xx the load balancer made itself (a target that hangs or resets
    // connections gives 502/504, not target 5xx): judged for the whole load
    // balancer, whose rate during the bake mixes both colors. The rise over
    // the rate before the switch is the new color's, at its share.
    if base.lb_requests >= limits.min_requests as f64
        && base.lb_requests > 0.0
        && new.lb_requests > 0.0
        && weight > 0
    {
        let new_rate = new.elb_5xx / new.lb_requests;
        let base_rate = base.elb_5xx / base.lb_requests;
        let on_new_color = (new_rate - base_rate) * 100.0 / f64::from(weight);
        if on_new_color > limits.max_5xx_rate {
            out.push(format!(
                "load balancer 5xx (502/503/504: targets hanging, resetting or missing) {:.2}% of requests vs {:.2}% before the switch: about {:.2}% of the new color's",
                new_rate * 100.0,
                base_rate * 100.0,
                on_new_color * 100.0
            ));
        }
    }
    if base.requests >= limits.min_requests as f64 && base.requests > 0.0 {
        let new_rate = new.target_5xx / new.requests.max(1.0);
        let base_rate = base.target_5xx / base.requests;
        if new_rate > base_rate + limits.max_5xx_rate {
            out.push(format!(
                "5xx rate {:.2}% vs {:.2}% on the previous color before the switch",
                new_rate * 100.0,
                base_rate * 100.0
            ));
        }
    }
    if let (Some(n), Some(b)) = (new.p99_ms, base.p99_ms)
        && b > 0.0
        && n > b * limits.max_p99_regression
    {
        out.push(format!(
            "p99 {n:.0} ms is more than {}x the previous color's {b:.0} ms",
            limits.max_p99_regression
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> MonitorConfig {
        MonitorConfig {
            min_requests: 100,
            ..MonitorConfig::default()
        }
    }

    fn ok_probe(marker: bool) -> ProbeResult {
        ProbeResult {
            status: Some(200),
            latency_ms: 20,
            has_marker: marker,
            error: None,
        }
    }

    fn metrics(
        requests: f64,
        target_5xx: f64,
        p99_ms: f64,
    ) -> Option<Result<MetricWindow, String>> {
        Some(Ok(MetricWindow {
            requests,
            target_5xx,
            p99_ms: Some(p99_ms),
            ..MetricWindow::default()
        }))
    }

    fn baked() -> Timing {
        Timing {
            elapsed_seconds: 600,
            bake_seconds: 600,
            weight: 100,
        }
    }

    #[test]
    fn a_healthy_bake_promotes() {
        let s = Signals {
            metrics: metrics(5000.0, 3.0, 180.0),
            probes: vec![ok_probe(true); 10],
            probing: true,
            ..Signals::default()
        };
        assert_eq!(judge(&s, &limits(), baked()), (Verdict::Promote, vec![]));
    }

    #[test]
    fn a_5xx_spike_breaches_naming_the_metric_and_values() {
        let s = Signals {
            metrics: metrics(1000.0, 120.0, 180.0),
            ..Signals::default()
        };
        let (v, reasons) = judge(&s, &limits(), baked());
        assert_eq!(v, Verdict::Breach);
        assert_eq!(
            reasons,
            vec!["5xx rate 12.00% (120 of 1000 requests) > 1.00%"]
        );
    }

    #[test]
    fn p99_over_the_limit_breaches() {
        let s = Signals {
            metrics: metrics(1000.0, 0.0, 2500.0),
            ..Signals::default()
        };
        let (v, reasons) = judge(&s, &limits(), baked());
        assert_eq!(v, Verdict::Breach);
        assert_eq!(reasons, vec!["p99 2500 ms > 1000 ms"]);
    }

    #[test]
    fn an_alarm_breaches() {
        let s = Signals {
            alarms_in_alarm: vec!["checkout-5xx".into()],
            ..Signals::default()
        };
        let (v, reasons) = judge(&s, &limits(), baked());
        assert_eq!(
            (v, reasons),
            (
                Verdict::Breach,
                vec!["alarm in ALARM: checkout-5xx".to_string()]
            )
        );
    }

    #[test]
    fn too_few_requests_continue_and_never_promote() {
        let s = Signals {
            metrics: metrics(12.0, 0.0, 100.0),
            ..Signals::default()
        };
        let (v, reasons) = judge(&s, &limits(), baked());
        assert_eq!(v, Verdict::Continue);
        assert!(
            reasons[0].contains("only 12 user request(s)"),
            "{reasons:?}"
        );
        // ... until the cap, where it is an honest breach, never a promote.
        let late = Timing {
            elapsed_seconds: 1800,
            ..baked()
        };
        assert_eq!(judge(&s, &limits(), late).0, Verdict::Breach);
    }

    #[test]
    fn old_version_continues_until_the_deadline_then_breaches() {
        let s = Signals {
            probes: vec![ok_probe(false); 5],
            probing: true,
            ..Signals::default()
        };
        let early = Timing {
            elapsed_seconds: 30,
            bake_seconds: 10,
            weight: 100,
        };
        let (v, reasons) = judge(&s, &limits(), early);
        assert_eq!(v, Verdict::Continue);
        assert_eq!(reasons, vec!["probes do not see the new version yet"]);
        let late = Timing {
            elapsed_seconds: 121,
            ..early
        };
        let (v, reasons) = judge(&s, &limits(), late);
        assert_eq!(v, Verdict::Breach);
        assert!(
            reasons[0].contains("still see the old version"),
            "{reasons:?}"
        );
        // At a partial weight the old version is expected.
        let partial = Timing { weight: 25, ..late };
        assert_eq!(judge(&s, &limits(), partial).0, Verdict::Promote);
    }

    #[test]
    fn a_probe_5xx_breaches_at_once() {
        let mut probes = vec![ok_probe(true); 9];
        probes.push(ProbeResult {
            status: Some(503),
            latency_ms: 5,
            has_marker: false,
            error: None,
        });
        let s = Signals {
            probes,
            probing: true,
            ..Signals::default()
        };
        let first_call = Timing {
            elapsed_seconds: 0,
            bake_seconds: 600,
            weight: 10,
        };
        let (v, reasons) = judge(&s, &limits(), first_call);
        assert_eq!(v, Verdict::Breach);
        assert_eq!(reasons, vec!["probes: 1 of 10 failed (first: HTTP 503)"]);
    }

    #[test]
    fn unreadable_metrics_wait_rather_than_roll_back() {
        let unreadable = |failed_reads| Signals {
            metrics: Some(Err("throttled".into())),
            read_errors: vec!["metrics: throttled".into()],
            failed_reads,
            ..Signals::default()
        };
        let (v, reasons) = judge(&unreadable(1), &limits(), baked());
        assert_eq!(v, Verdict::Continue);
        assert_eq!(
            reasons,
            vec!["cannot judge (1 of 3 unreadable reads allowed): metrics: throttled"]
        );
        // The bound: the third unreadable read in a row is a breach.
        let (v, reasons) = judge(&unreadable(3), &limits(), baked());
        assert_eq!(v, Verdict::Breach);
        assert_eq!(
            reasons,
            vec!["signals unreadable in 3 read(s) in a row: metrics: throttled"]
        );
    }

    #[test]
    fn unreadable_alarms_never_promote() {
        let s = Signals {
            read_errors: vec!["alarms: service unavailable".into()],
            failed_reads: 1,
            ..Signals::default()
        };
        assert_eq!(judge(&s, &limits(), baked()).0, Verdict::Continue);
    }

    #[test]
    fn probes_are_not_users() {
        let s = Signals {
            metrics: metrics(120.0, 0.0, 100.0),
            metrics_expected: true,
            metrics_cover_bake: true,
            probes_sent: 60,
            ..Signals::default()
        };
        let (v, reasons) = judge(&s, &limits(), baked());
        assert_eq!(v, Verdict::Continue);
        assert!(
            reasons[0].contains("only 60 user request(s)"),
            "{reasons:?}"
        );
        let enough = Signals {
            probes_sent: 20,
            ..s
        };
        assert_eq!(judge(&enough, &limits(), baked()).0, Verdict::Promote);
    }

    #[test]
    fn no_promote_before_the_minute_covering_the_bake_end_is_judged() {
        let s = Signals {
            metrics: metrics(5000.0, 0.0, 100.0),
            metrics_expected: true,
            metrics_cover_bake: false,
            ..Signals::default()
        };
        let (v, reasons) = judge(&s, &limits(), baked());
        assert_eq!(v, Verdict::Continue);
        assert!(
            reasons[0].contains("covering the end of the bake"),
            "{reasons:?}"
        );
        let none_yet = Signals { metrics: None, ..s };
        let (v, reasons) = judge(&none_yet, &limits(), baked());
        assert_eq!(v, Verdict::Continue);
        assert!(
            reasons[0].contains("no complete metric minute"),
            "{reasons:?}"
        );
    }

    #[test]
    fn worse_than_the_previous_color_breaches_when_compared() {
        let s = Signals {
            metrics: metrics(1000.0, 0.0, 700.0),
            baseline: Some(MetricWindow {
                requests: 1000.0,
                target_5xx: 0.0,
                p99_ms: Some(200.0),
                ..MetricWindow::default()
            }),
            ..Signals::default()
        };
        let (v, reasons) = judge(&s, &limits(), baked());
        assert_eq!(v, Verdict::Breach);
        assert!(reasons[0].contains("more than 1.5x"), "{reasons:?}");
    }

    /// A short bake must not hit the no-verdict cap while it waits for its
    /// last metric minute to arrive.
    #[test]
    fn the_wait_for_late_metrics_is_not_counted_against_the_cap() {
        let short = |elapsed_seconds, metrics_cover_bake| {
            let s = Signals {
                metrics: metrics(5000.0, 0.0, 100.0),
                metrics_expected: true,
                metrics_cover_bake,
                ..Signals::default()
            };
            let t = Timing {
                elapsed_seconds,
                bake_seconds: 60,
                weight: 100,
            };
            judge(&s, &limits(), t).0
        };
        assert_eq!(short(250, false), Verdict::Continue);
        assert_eq!(short(300, true), Verdict::Promote);
        assert_eq!(short(3 * 60 + 180 + 60, false), Verdict::Breach);
    }

    /// A new color that hangs or resets connections makes the load balancer
    /// answer 502/504 itself: the targets' own 5xx stay at zero. The rise of
    /// the load balancer's 5xx over the rate before the switch, at the new
    /// color's share, breaches; the same rate as before does not.
    #[test]
    fn load_balancer_5xx_rising_with_the_new_color_breaches() {
        let window = |lb_requests: f64, elb_5xx: f64| MetricWindow {
            requests: 500.0,
            target_5xx: 0.0,
            p99_ms: Some(80.0),
            lb_requests,
            elb_5xx,
            ..MetricWindow::default()
        };
        let signals = |bake: MetricWindow| Signals {
            metrics: Some(Ok(bake)),
            baseline: Some(window(1000.0, 2.0)),
            ..Signals::default()
        };
        let at = |weight: u8| Timing { weight, ..baked() };
        // Half the traffic on a color that hangs: about half its requests end in a 504.
        let (v, reasons) = judge(&signals(window(1000.0, 250.0)), &limits(), at(50));
        assert_eq!(v, Verdict::Breach, "{reasons:?}");
        assert!(
            reasons[0].starts_with("load balancer 5xx (502/503/504"),
            "{reasons:?}"
        );
        // 10 % of the traffic on it: the same fault shows as 5 % of all requests.
        let (v, _) = judge(&signals(window(1000.0, 52.0)), &limits(), at(10));
        assert_eq!(v, Verdict::Breach);
        // The load balancer's usual rate, before and after: no breach.
        let (v, reasons) = judge(&signals(window(1000.0, 2.0)), &limits(), at(50));
        assert_eq!(v, Verdict::Promote, "{reasons:?}");
    }

    #[test]
    fn each_percentile_is_held_to_its_own_limit() {
        let l = MonitorConfig {
            max_p50_ms: Some(100),
            max_p95_ms: Some(400),
            ..limits()
        };
        let mut m = MetricWindow {
            requests: 5000.0,
            target_5xx: 0.0,
            p99_ms: Some(900.0),
            p50_ms: Some(80.0),
            p95_ms: Some(350.0),
            ..MetricWindow::default()
        };
        let s = |m: MetricWindow| Signals {
            metrics: Some(Ok(m)),
            ..Signals::default()
        };
        assert_eq!(judge(&s(m), &l, baked()).0, Verdict::Promote);
        m.p95_ms = Some(450.0);
        assert_eq!(
            judge(&s(m), &l, baked()),
            (Verdict::Breach, vec!["p95 450 ms > 400 ms".to_string()])
        );
    }

    #[test]
    fn probe_percentiles_are_judged_only_once_enough_probes_tell_them() {
        // 99 fast probes and one slow: no p95 from 99 samples, and the
        // median is fine.
        let mut latencies = vec![20; 99];
        let few = Latency::of(&latencies);
        assert_eq!((few.p50_ms, few.p95_ms, few.p99_ms), (Some(20), None, None));
        latencies.extend([900; 10]);
        let enough = Latency::of(&latencies);
        assert_eq!(enough.p95_ms, Some(900));
        let l = MonitorConfig {
            max_p95_ms: Some(500),
            ..limits()
        };
        let s = Signals {
            metrics: metrics(5000.0, 0.0, 100.0),
            probe_latency: enough,
            ..Signals::default()
        };
        let (v, reasons) = judge(&s, &l, baked());
        assert_eq!(v, Verdict::Breach);
        assert_eq!(
            reasons,
            vec!["probes: p95 latency 900 ms > 500 ms (over 109 probes)"]
        );
        // Without a p50 limit, a median over the p99 limit still breaches.
        let slow = Latency::of(&[1500, 1600, 1700]);
        let s = Signals {
            probe_latency: slow,
            ..s
        };
        assert!(judge(&s, &limits(), baked()).1[0].contains("p50 latency 1600 ms > 1000 ms"));
    }

    #[test]
    fn metric_checks_breach_and_wait_by_name() {
        use crate::steps::monitor::checks::{CheckResult, CheckState};
        let check = |state, detail: &str| CheckResult {
            name: "orders per minute".into(),
            state,
            value: Some(70.0),
            baseline: Some(100.0),
            detail: detail.into(),
        };
        let l = MonitorConfig {
            checks: vec![serde_json::from_value(serde_json::json!({
                "name": "orders per minute", "namespace": "Shop", "metric": "Orders", "max_drop": 0.2
            }))
            .unwrap()],
            ..limits()
        };
        let s = |c| Signals {
            metrics: metrics(5000.0, 0.0, 100.0),
            metrics_expected: true,
            metrics_cover_bake: true,
            checks: vec![c],
            ..Signals::default()
        };
        let (v, r) = judge(
            &s(check(CheckState::Breach, "70 is 30% below")),
            &l,
            baked(),
        );
        assert_eq!(
            (v, r),
            (
                Verdict::Breach,
                vec!["orders per minute: 70 is 30% below".to_string()]
            )
        );
        let (v, _) = judge(&s(check(CheckState::Waiting, "no data yet")), &l, baked());
        assert_eq!(v, Verdict::Continue);
        assert_eq!(
            judge(&s(check(CheckState::Ok, "")), &l, baked()).0,
            Verdict::Promote
        );
        // Declared but not read yet: no promote.
        let unread = Signals {
            checks: vec![],
            ..s(check(CheckState::Ok, ""))
        };
        assert_eq!(judge(&unread, &l, baked()).0, Verdict::Continue);
    }
}
