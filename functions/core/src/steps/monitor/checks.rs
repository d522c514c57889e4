//! Checks on any CloudWatch metric the app names, judged during a bake: a
//! floor, a ceiling, or a largest change from the value before the switch
//! (Argo Rollouts' AnalysisTemplate and Flagger's MetricTemplate, for
//! CloudWatch). The declaration is `crate::records::metric_check`.

pub use crate::document::outcomes::{CheckResult, CheckState};
pub use crate::ports::MetricQuery;
pub use crate::records::metric_check::{
    BASELINE_MINUTES, COLOR_PLACEHOLDER, MAX_CHECKS, MetricCheck, validate_all,
};

/// A value as the check judges it: counts per minute over `minutes`. A
/// count with no data point is zero (nothing was counted); any other
/// statistic without data has no value.
pub fn normalise(check: &MetricCheck, raw: Option<f64>, minutes: f64) -> Option<f64> {
    if check.per_minute() {
        Some(raw.unwrap_or(0.0) / minutes.max(1.0))
    } else {
        raw
    }
}

/// A count of what one color serves (`{{color}}` in a dimension) follows
/// its share of production traffic: at 10 % the new color counts a tenth of
/// the orders the previous color counted with all of it. Such a value is
/// judged as if the color took all the traffic (divided by its share), so
/// that floors, ceilings and the baseline, all of them full-traffic figures,
/// compare like with like. Other values (averages, percentiles, counts over
/// both colors) do not depend on the share and are judged as read.
pub fn at_full_traffic(check: &MetricCheck, value: Option<f64>, weight: u8) -> Option<f64> {
    let per_color = check
        .dimensions
        .values()
        .any(|v| v.contains(COLOR_PLACEHOLDER));
    match value {
        Some(v) if check.per_minute() && per_color && weight > 0 && weight < 100 => {
            Some(v * 100.0 / f64::from(weight))
        }
        other => other,
    }
}

fn fmt(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e12 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Judges one check. `value` and `baseline` are normalised; `baseline` is
/// `None` when it was not (or could not be) read.
pub fn judge(check: &MetricCheck, value: Option<f64>, baseline: Option<f64>) -> CheckResult {
    let result = |state, detail: String| CheckResult {
        name: check.name.clone(),
        state,
        value,
        baseline,
        detail,
    };
    let Some(v) = value else {
        return result(CheckState::Waiting, "no data yet".into());
    };
    if let Some(floor) = check.floor
        && v < floor
    {
        return result(
            CheckState::Breach,
            format!("{} is below its floor of {}", fmt(v), fmt(floor)),
        );
    }
    if let Some(ceiling) = check.ceiling
        && v > ceiling
    {
        return result(
            CheckState::Breach,
            format!("{} is above its ceiling of {}", fmt(v), fmt(ceiling)),
        );
    }
    let mut held = vec![];
    if check.compares_with_baseline() {
        let Some(base) = baseline else {
            return result(
                CheckState::Waiting,
                "no value from before the switch to compare with".into(),
            );
        };
        if let Some(drop) = check.max_drop
            && v < base * (1.0 - drop)
        {
            return result(
                CheckState::Breach,
                format!(
                    "{} is {:.0}% below the {} before the switch (at most {:.0}% allowed)",
                    fmt(v),
                    (1.0 - v / base) * 100.0,
                    fmt(base),
                    drop * 100.0
                ),
            );
        }
        if let Some(rise) = check.max_rise
            && v > base * (1.0 + rise)
        {
            let pct = if base > 0.0 {
                format!("{:.0}%", (v / base - 1.0) * 100.0)
            } else {
                "up from nothing".to_string()
            };
            return result(
                CheckState::Breach,
                format!(
                    "{} is {pct} above the {} before the switch (at most {:.0}% allowed)",
                    fmt(v),
                    fmt(base),
                    rise * 100.0
                ),
            );
        }
        held.push(format!("before the switch: {}", fmt(base)));
    }
    if let Some(f) = check.floor {
        held.push(format!("floor {}", fmt(f)));
    }
    if let Some(c) = check.ceiling {
        held.push(format!("ceiling {}", fmt(c)));
    }
    result(CheckState::Ok, held.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::color::Color;

    fn orders() -> MetricCheck {
        serde_json::from_value(serde_json::json!({
            "name": "orders per minute", "namespace": "Shop", "metric": "Orders",
            "dimensions": {"Color": "{{color}}"}, "max_drop": 0.2, "floor": 1
        }))
        .unwrap()
    }

    #[test]
    fn orders_may_not_fall_by_more_than_a_fifth_of_the_baseline() {
        let c = orders();
        assert_eq!(c.statistic, "Sum");
        let ok = judge(&c, Some(85.0), Some(100.0));
        assert_eq!(ok.state, CheckState::Ok, "{ok:?}");
        let bad = judge(&c, Some(70.0), Some(100.0));
        assert_eq!(bad.state, CheckState::Breach);
        assert!(bad.detail.contains("30% below the 100"), "{}", bad.detail);
        assert_eq!(judge(&c, Some(0.5), Some(0.5)).state, CheckState::Breach);
        assert_eq!(judge(&c, Some(5.0), None).state, CheckState::Waiting);
    }

    #[test]
    fn counts_are_per_minute_and_zero_without_data() {
        let c = orders();
        assert_eq!(normalise(&c, Some(300.0), 3.0), Some(100.0));
        assert_eq!(normalise(&c, None, 2.0), Some(0.0));
        let mut latency = orders();
        latency.statistic = "p95".into();
        assert_eq!(normalise(&latency, None, 2.0), None);
        assert_eq!(judge(&latency, None, None).state, CheckState::Waiting);
    }

    #[test]
    fn the_color_is_filled_in_per_query() {
        let q = orders().query(Color::Green);
        assert_eq!(q.dimensions, vec![("Color".into(), "green".into())]);
    }

    #[test]
    fn bad_checks_are_named_by_field() {
        let err = |v: serde_json::Value| {
            let mut c = serde_json::to_value(orders()).unwrap();
            for (k, x) in v.as_object().unwrap() {
                c[k] = x.clone();
            }
            let c: MetricCheck = serde_json::from_value(c).unwrap();
            validate_all(&[c], "config", "monitor.checks")
                .unwrap_err()
                .to_string()
        };
        assert!(err(serde_json::json!({"statistic": "Median"})).contains("checks[0].statistic"));
        assert!(err(serde_json::json!({"max_drop": 1.5})).contains("checks[0].max_drop"));
        assert!(err(serde_json::json!({"floor": 5, "ceiling": 1})).contains("checks[0].floor"));
        assert!(
            err(serde_json::json!({"dimensions": {"A": "{{app}}"}}))
                .contains("checks[0].dimensions`: `A` is `{{app}}`")
        );
        let none: MetricCheck = serde_json::from_value(serde_json::json!({
            "name": "x", "namespace": "N", "metric": "M"
        }))
        .unwrap();
        assert!(
            validate_all(&[none], "config", "monitor.checks")
                .unwrap_err()
                .to_string()
                .contains("at least one of")
        );
        let two = vec![orders(), orders()];
        assert!(
            validate_all(&two, "config", "monitor.checks")
                .unwrap_err()
                .to_string()
                .contains("names two checks")
        );
    }
}
