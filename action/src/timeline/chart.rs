//! What a step contributes to the release's chart: the split after a switch
//! or a rollback, the figures a monitor call had read, and whether it marks
//! an event (a switch, a breach, a rollback). Read from the state's result
//! when the timeline is told, so that the report can draw the whole release
//! from its steps.

use bluegreen_core::Split;
use bluegreen_core::steps::monitor::{MonitorOutcome, Verdict};
use bluegreen_core::steps::switch::SwitchOutcome;
use serde_json::Value;

/// One step's point on the chart.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChartPoint {
    /// The production split after the step (switch, rollback).
    pub split: Option<Split>,
    /// The new color's 5xx rate (%) and p99 (ms) in the bake so far.
    pub new_5xx_percent: Option<f64>,
    pub new_p99_ms: Option<f64>,
    /// The previous color's, from before the switch.
    pub old_5xx_percent: Option<f64>,
    pub old_p99_ms: Option<f64>,
    /// `switch 10%`, `breach`, `rollback`.
    pub marker: Option<String>,
}

/// The point of the state `state` whose result document is `doc`.
pub(super) fn point(state: &str, doc: &Value) -> Option<ChartPoint> {
    match state {
        "Switch" => {
            let s: SwitchOutcome = serde_json::from_value(doc["switch"].clone()).ok()?;
            // A step held at a gate moved nothing.
            let moved = s.split.weight(s.target_color) > 0;
            Some(ChartPoint {
                split: Some(s.split),
                marker: moved.then(|| format!("switch {}%", s.split.weight(s.target_color))),
                ..ChartPoint::default()
            })
        }
        "Monitor" => {
            let m: MonitorOutcome = serde_json::from_value(doc["monitor"].clone()).ok()?;
            let rate = |w: &bluegreen_core::ports::MetricWindow| {
                (w.requests > 0.0).then(|| 100.0 * w.target_5xx / w.requests)
            };
            let new = m.figures.metrics.as_ref();
            let old = m.figures.baseline.as_ref();
            Some(ChartPoint {
                new_5xx_percent: new.and_then(rate),
                new_p99_ms: new.and_then(|w| w.p99_ms),
                old_5xx_percent: old.and_then(rate),
                old_p99_ms: old.and_then(|w| w.p99_ms),
                marker: (m.verdict == Verdict::Breach).then(|| "breach".to_string()),
                ..ChartPoint::default()
            })
        }
        "Rollback" => Some(ChartPoint {
            split: serde_json::from_value(doc["rollback"]["split"].clone()).ok(),
            marker: Some("rollback".to_string()),
            ..ChartPoint::default()
        }),
        _ => None,
    }
}
