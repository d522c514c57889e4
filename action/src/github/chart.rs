//! The release as a picture (GitHub renders Mermaid): each color's weight
//! over the release's steps, and the new color's 5xx rate and p99 beside the
//! previous color's before the switch, with the switches, a breach and a
//! rollback marked on the time axis. People look at a chart before they read
//! a table.

use std::fmt::Write;

use crate::timeline::Step;
use crate::timeline::chart::ChartPoint;

/// The charts, when the release moved traffic at least once.
pub(crate) fn section(steps: &[Step]) -> Option<String> {
    let points: Vec<(f64, &ChartPoint)> = steps
        .iter()
        .filter_map(|s| s.chart.as_ref().map(|c| (s.at_seconds, c)))
        .collect();
    if !points.iter().any(|(_, p)| p.split.is_some()) {
        return None;
    }
    let start = points.first().map_or(0.0, |(at, _)| *at);
    let labels: Vec<String> = points
        .iter()
        .map(|(at, p)| {
            let t = (at - start).max(0.0) as u64;
            let time = format!("{}:{:02}", t / 60, t % 60);
            match &p.marker {
                Some(m) => format!("{time} {m}"),
                None => time,
            }
        })
        .collect();
    // Each series carries its last value forward (a monitor call changes no
    // weight; a switch reads no metrics).
    let carried = |f: &dyn Fn(&ChartPoint) -> Option<f64>| -> Vec<f64> {
        let mut last = 0.0;
        points
            .iter()
            .map(|(_, p)| {
                if let Some(v) = f(p) {
                    last = v;
                }
                last
            })
            .collect()
    };
    let blue = carried(&|p| p.split.map(|s| f64::from(s.blue)));
    let green = carried(&|p| p.split.map(|s| f64::from(s.green)));
    let mut out = String::from("#### The release, step by step\n\n");
    out.push_str(&chart(
        "Traffic (%): blue, then green",
        &labels,
        "percent",
        Some(100.0),
        &[&blue, &green],
    ));
    let has = |f: &dyn Fn(&ChartPoint) -> Option<f64>| points.iter().any(|(_, p)| f(p).is_some());
    if has(&|p| p.new_5xx_percent) {
        let new = carried(&|p| p.new_5xx_percent);
        let old = carried(&|p| p.old_5xx_percent);
        out.push_str(&chart(
            "5xx rate (%): the release, then the previous release before the switch",
            &labels,
            "percent",
            None,
            &[&new, &old],
        ));
    }
    if has(&|p| p.new_p99_ms) {
        let new = carried(&|p| p.new_p99_ms);
        let old = carried(&|p| p.old_p99_ms);
        out.push_str(&chart(
            "p99 (ms): the release, then the previous release before the switch",
            &labels,
            "ms",
            None,
            &[&new, &old],
        ));
    }
    Some(out)
}

/// One Mermaid `xychart-beta` with a line per series.
fn chart(
    title: &str,
    labels: &[String],
    unit: &str,
    max: Option<f64>,
    series: &[&Vec<f64>],
) -> String {
    let top = max.unwrap_or_else(|| {
        let highest = series
            .iter()
            .flat_map(|s| s.iter())
            .fold(0.0_f64, |a, b| a.max(*b));
        if highest > 0.0 {
            (highest * 1.2).ceil()
        } else {
            1.0
        }
    });
    let mut out = String::from("```mermaid\nxychart-beta\n");
    let _ = writeln!(out, "    title \"{title}\"");
    let quoted: Vec<String> = labels
        .iter()
        .map(|l| format!("\"{}\"", l.replace('"', "'")))
        .collect();
    let _ = writeln!(out, "    x-axis [{}]", quoted.join(", "));
    let _ = writeln!(out, "    y-axis \"{unit}\" 0 --> {}", number(top));
    for s in series {
        let values: Vec<String> = s.iter().map(|v| number(*v)).collect();
        let _ = writeln!(out, "    line [{}]", values.join(", "));
    }
    out.push_str("```\n\n");
    out
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bluegreen_core::Split;

    fn step(at: f64, state: &str, chart: Option<ChartPoint>) -> Step {
        Step {
            at_seconds: at,
            state: state.into(),
            text: String::new(),
            chart,
        }
    }

    fn switch(green: u8) -> Option<ChartPoint> {
        Some(ChartPoint {
            split: Some(Split {
                blue: 100 - green,
                green,
            }),
            marker: Some(format!("switch {green}%")),
            ..ChartPoint::default()
        })
    }

    fn monitor(rate: f64, p99: f64, breach: bool) -> Option<ChartPoint> {
        Some(ChartPoint {
            new_5xx_percent: Some(rate),
            new_p99_ms: Some(p99),
            old_5xx_percent: Some(0.1),
            old_p99_ms: Some(120.0),
            marker: breach.then(|| "breach".to_string()),
            ..ChartPoint::default()
        })
    }

    #[test]
    fn draws_the_weights_the_errors_and_the_latency_with_the_events_marked() {
        let steps = vec![
            step(10.0, "DeployIdle", None),
            step(40.0, "Switch", switch(10)),
            step(100.0, "Monitor", monitor(0.2, 130.0, false)),
            step(101.0, "Switch", switch(50)),
            step(165.0, "Monitor", monitor(4.5, 900.0, true)),
            step(
                166.0,
                "Rollback",
                Some(ChartPoint {
                    split: Some(Split {
                        blue: 100,
                        green: 0,
                    }),
                    marker: Some("rollback".into()),
                    ..ChartPoint::default()
                }),
            ),
        ];
        let text = section(&steps).unwrap();
        assert!(text.contains("```mermaid\nxychart-beta\n"), "{text}");
        assert!(
            text.contains(r#"x-axis ["0:00 switch 10%", "1:00", "1:01 switch 50%", "2:05 breach", "2:06 rollback"]"#),
            "{text}"
        );
        assert!(text.contains("line [90, 90, 50, 50, 100]"), "blue: {text}");
        assert!(text.contains("line [10, 10, 50, 50, 0]"), "green: {text}");
        assert!(
            text.contains("line [0, 0.20, 0.20, 4.50, 4.50]"),
            "5xx: {text}"
        );
        assert!(text.contains("line [0, 130, 130, 900, 900]"), "p99: {text}");
        assert_eq!(text.matches("```mermaid").count(), 3);
    }

    #[test]
    fn no_chart_before_traffic_moves() {
        assert_eq!(section(&[step(1.0, "DeployIdle", None)]), None);
    }
}
