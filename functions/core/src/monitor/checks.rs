//! Checks on any CloudWatch metric the app names — orders per minute,
//! sign-ups, queue depth — with a floor, a ceiling, or a largest change
//! from the value before the switch (Argo Rollouts' AnalysisTemplate and
//! Flagger's MetricTemplate, for CloudWatch). Declared in the app config's
//! `monitor.checks` and in `overrides.monitor.checks`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::color::Color;
use crate::error::{Error, Result};

/// The most checks one app may declare (each is one query per read).
pub const MAX_CHECKS: usize = 10;
/// The window before the switch a baseline is read from.
pub const BASELINE_MINUTES: i64 = 5;
/// Stands for the color being judged in a dimension value (the new color
/// during the bake, the previous one for the baseline).
pub const COLOR_PLACEHOLDER: &str = "{{color}}";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricCheck {
    /// What the PR comment and the timeline call it, e.g. "orders per minute".
    pub name: String,
    pub namespace: String,
    pub metric: String,
    /// Dimension name to value; `{{color}}` in a value stands for the color.
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
    /// `Sum` (judged per minute), `SampleCount` (per minute), `Average`,
    /// `Minimum`, `Maximum`, or a percentile such as `p95` or `p99.9`.
    #[serde(default = "default_statistic")]
    pub statistic: String,
    /// The value may not fall below this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<f64>,
    /// The value may not rise above this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceiling: Option<f64>,
    /// The value may fall at most this fraction below its value in the five
    /// minutes before the switch (0.2: "by no more than 20%").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_drop: Option<f64>,
    /// The value may rise at most this fraction above its value before the
    /// switch (0.5: "by no more than 50%").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rise: Option<f64>,
}

fn default_statistic() -> String {
    "Sum".to_string()
}

/// One metric as CloudWatch is asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricQuery {
    pub namespace: String,
    pub metric: String,
    pub dimensions: Vec<(String, String)>,
    pub statistic: String,
}

impl MetricCheck {
    /// Whether the statistic is a count, judged per minute.
    pub fn per_minute(&self) -> bool {
        matches!(self.statistic.as_str(), "Sum" | "SampleCount")
    }

    pub fn compares_with_baseline(&self) -> bool {
        self.max_drop.is_some() || self.max_rise.is_some()
    }

    /// The query for `color`'s figures.
    pub fn query(&self, color: Color) -> MetricQuery {
        MetricQuery {
            namespace: self.namespace.clone(),
            metric: self.metric.clone(),
            dimensions: self
                .dimensions
                .iter()
                .map(|(k, v)| (k.clone(), v.replace(COLOR_PLACEHOLDER, color.as_str())))
                .collect(),
            statistic: self.statistic.clone(),
        }
    }

    pub fn validate(&self, source: &str, at: &str) -> Result<()> {
        let bad = |field: &str, problem: String| {
            Err(Error::bad_input(source, format!("{at}.{field}"), problem))
        };
        if self.name.trim().is_empty() || self.name.len() > 100 {
            return bad("name", "must be 1 to 100 characters".into());
        }
        for (field, value) in [("namespace", &self.namespace), ("metric", &self.metric)] {
            if value.trim().is_empty() || value.len() > 255 {
                return bad(field, format!("`{value}` is not 1 to 255 characters"));
            }
        }
        if self.dimensions.len() > 30 {
            return bad(
                "dimensions",
                format!(
                    "{} dimensions; CloudWatch takes at most 30",
                    self.dimensions.len()
                ),
            );
        }
        for (name, value) in &self.dimensions {
            if name.trim().is_empty() || value.trim().is_empty() {
                return bad(
                    &format!("dimensions.{name}"),
                    "dimension names and values must not be empty".into(),
                );
            }
            if value.replace(COLOR_PLACEHOLDER, "").contains("{{") {
                return bad(
                    &format!("dimensions.{name}"),
                    format!("`{value}`: only {COLOR_PLACEHOLDER} may be filled in"),
                );
            }
        }
        if !valid_statistic(&self.statistic) {
            return bad(
                "statistic",
                format!(
                    "`{}` is not Sum, SampleCount, Average, Minimum, Maximum or a percentile such as p95 or p99.9",
                    self.statistic
                ),
            );
        }
        if self.floor.is_none()
            && self.ceiling.is_none()
            && self.max_drop.is_none()
            && self.max_rise.is_none()
        {
            return bad(
                "floor",
                "a check needs at least one of floor, ceiling, max_drop, max_rise".into(),
            );
        }
        for (field, v) in [("floor", self.floor), ("ceiling", self.ceiling)] {
            if v.is_some_and(|v| !v.is_finite()) {
                return bad(field, "must be a finite number".into());
            }
        }
        if let (Some(f), Some(c)) = (self.floor, self.ceiling)
            && f > c
        {
            return bad("floor", format!("{f} is above the ceiling {c}"));
        }
        if let Some(d) = self.max_drop
            && !(d > 0.0 && d <= 1.0)
        {
            return bad(
                "max_drop",
                format!("{d} is not a fraction above 0 and at most 1"),
            );
        }
        if let Some(r) = self.max_rise
            && !(r.is_finite() && r > 0.0)
        {
            return bad("max_rise", format!("{r} is not a fraction above 0"));
        }
        Ok(())
    }
}

fn valid_statistic(s: &str) -> bool {
    match s {
        "Sum" | "SampleCount" | "Average" | "Minimum" | "Maximum" => true,
        _ => s
            .strip_prefix('p')
            .and_then(|n| n.parse::<f64>().ok())
            .is_some_and(|n| n > 0.0 && n < 100.0),
    }
}

/// Every check of a list, validated, with unique names.
pub fn validate_all(checks: &[MetricCheck], source: &str, at: &str) -> Result<()> {
    if checks.len() > MAX_CHECKS {
        return Err(Error::bad_input(
            source,
            at,
            format!("{} checks; at most {MAX_CHECKS}", checks.len()),
        ));
    }
    for (i, check) in checks.iter().enumerate() {
        let here = format!("{at}[{i}]");
        check.validate(source, &here)?;
        if checks[..i].iter().any(|c| c.name == check.name) {
            return Err(Error::bad_input(
                source,
                format!("{here}.name"),
                format!("`{}` names two checks", check.name),
            ));
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckState {
    Ok,
    Breach,
    Waiting,
}

/// One check as last judged, for the verdict, the PR comment and the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub name: String,
    pub state: CheckState,
    /// The value judged (per minute for counts); `None` before any data.
    pub value: Option<f64>,
    /// The value before the switch, for checks that compare with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    /// Why it breached or waits, or what it was held to.
    pub detail: String,
}

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
                .contains("checks[0].dimensions.A")
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
