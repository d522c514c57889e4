//! A check on any CloudWatch metric the app names — orders per minute,
//! sign-ups, queue depth — as the config declares it (`monitor.checks`,
//! `overrides.monitor.checks`): what to read, and the floor, ceiling or
//! largest change from the value before the switch it is held to. How the
//! monitor judges one is in `monitor::checks`.

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

use crate::ports::MetricQuery;

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
