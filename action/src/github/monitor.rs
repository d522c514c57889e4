//! The monitor's verdicts, one row per switch step, then the latest call's
//! figures: probes and each metric check. The execution document keeps
//! only the latest monitor result (`$.monitor`, read as the core's
//! [`MonitorOutcome`]); the steps before the current one were promoted, or
//! the state machine would not have gone on.

use bluegreen_core::steps::monitor::checks::CheckState;
use bluegreen_core::steps::monitor::{MonitorOutcome, Verdict};
use serde_json::Value;

use super::markdown::cell;
use crate::results::{Results, readable};

pub(crate) fn section(doc: &Value) -> Option<String> {
    let results = Results::of(doc);
    let switch = readable(results.switch())?;
    let weights = switch.steps;
    let current = switch.step;
    let monitor: Option<MonitorOutcome> = readable(results.monitor());
    let mut out = String::from(
        "#### Monitor\n\n| step | weight | verdict | bake | reasons |\n|---:|---:|---|---|---|\n",
    );
    for (i, weight) in weights.iter().enumerate().take(current + 1) {
        let (verdict, bake, reasons) = match &monitor {
            _ if i < current => ("✅ promote".to_string(), "done".to_string(), String::new()),
            Some(m) if m.step == i => (
                label(m.verdict).to_string(),
                format!("{} s of {} s", m.elapsed_seconds, m.bake_seconds),
                cell(&m.reasons.join("; ")),
            ),
            _ => ("⏳ waiting".to_string(), String::new(), String::new()),
        };
        out.push_str(&format!(
            "| {} of {} | {weight}% | {verdict} | {bake} | {reasons} |\n",
            i + 1,
            weights.len()
        ));
    }
    if let Some(m) = &monitor {
        out.push_str(&figures(m));
    }
    Some(out)
}

fn label(v: Verdict) -> &'static str {
    match v {
        Verdict::Promote => "✅ promote",
        Verdict::Continue => "⏳ baking",
        Verdict::Breach => "🔥 breach",
    }
}

fn ms(v: Option<u64>) -> String {
    v.map_or("–".to_string(), |v| format!("{v} ms"))
}

fn number(v: Option<f64>) -> String {
    match v {
        None => "–".to_string(),
        Some(v) if v.fract() == 0.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.2}"),
    }
}

/// The latest call's figures: probes, CloudWatch, and each metric check.
fn figures(m: &MonitorOutcome) -> String {
    let f = &m.figures;
    let mut out = String::new();
    if let Some(p) = &f.probes {
        let latency = f.probe_latency.unwrap_or_default();
        out.push_str(&format!(
            "\nProbes: {} sent, {} answered below 500, {} by the release; latency p50 {} · p95 {} · p99 {} (last {} probes)\n",
            p.sent,
            p.ok,
            p.new_version,
            ms(latency.p50_ms),
            ms(latency.p95_ms),
            ms(latency.p99_ms),
            latency.samples
        ));
    }
    if let Some(w) = &f.metrics {
        let round = |v: Option<f64>| v.map(|v| v.round() as u64);
        out.push_str(&format!(
            "\nCloudWatch: {} requests, {} target 5xx; p50 {} · p95 {} · p99 {}\n",
            w.requests,
            w.target_5xx,
            ms(round(w.p50_ms)),
            ms(round(w.p95_ms)),
            ms(round(w.p99_ms))
        ));
    }
    if !f.checks.is_empty() {
        out.push_str(
            "\n| check | value | before the switch | state | |\n|---|---:|---:|---|---|\n",
        );
        for c in &f.checks {
            let state = match c.state {
                CheckState::Ok => "✅ ok",
                CheckState::Breach => "🔥 breach",
                CheckState::Waiting => "⏳ waiting",
            };
            out.push_str(&format!(
                "| {} | {} | {} | {state} | {} |\n",
                cell(&c.name),
                number(c.value),
                number(c.baseline),
                cell(&c.detail)
            ));
        }
    }
    out
}
