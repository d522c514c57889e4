//! A check on any CloudWatch metric the app names — orders per minute,
//! sign-ups, queue depth — as the config declares it (`monitor.checks`,
//! `overrides.monitor.checks`): what to read, and the floor, ceiling or
//! largest change from the value before the switch it is held to. How the
//! monitor judges one is in `monitor::checks`.

use std::collections::BTreeMap;

use garde::Validate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::color::Color;
use crate::error::{Error, Result};
use crate::records::validation::{self, NOT_BLANK, not_blank};

/// CloudWatch takes at most 30 dimensions per metric.
pub const MAX_DIMENSIONS: usize = 30;
/// The most checks one app may declare (each is one query per read).
pub const MAX_CHECKS: usize = 10;
/// The window before the switch a baseline is read from.
pub const BASELINE_MINUTES: i64 = 5;
/// Stands for the color being judged in a dimension value (the new color
/// during the bake, the previous one for the baseline).
pub const COLOR_PLACEHOLDER: &str = "{{color}}";

/// A check on a CloudWatch metric the app names; it needs at least one of
/// `floor`, `ceiling`, `max_drop`, `max_rise`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct MetricCheck {
    /// What the PR comment and the timeline call it, e.g. "orders per minute".
    #[garde(length(max = 100), custom(not_blank))]
    #[schemars(pattern(NOT_BLANK))]
    pub name: String,
    /// The metric's CloudWatch namespace, e.g. `Shop`.
    #[garde(length(max = 255), custom(not_blank))]
    #[schemars(pattern(NOT_BLANK))]
    pub namespace: String,
    /// The metric's name, e.g. `Orders`.
    #[garde(length(max = 255), custom(not_blank))]
    #[schemars(pattern(NOT_BLANK))]
    pub metric: String,
    /// Dimension name to value (CloudWatch takes at most 30); `{{color}}` in
    /// a value stands for the color judged, nothing else is filled in.
    #[serde(default)]
    #[garde(length(max = MAX_DIMENSIONS), custom(named_dimensions))]
    // What garde's `length` and `named_dimensions` check, said to the schema
    // (schemars reads neither on a map).
    #[schemars(extend(
        "maxProperties" = MAX_DIMENSIONS,
        "propertyNames" = {"pattern": NOT_BLANK},
        "additionalProperties" = {"type": "string", "pattern": NOT_BLANK}
    ))]
    pub dimensions: BTreeMap<String, String>,
    /// `Sum` (judged per minute), `SampleCount` (per minute), `Average`,
    /// `Minimum`, `Maximum`, or a percentile such as `p95` or `p99.9`.
    #[serde(default = "default_statistic")]
    #[garde(custom(known_statistic))]
    #[schemars(pattern(STATISTIC))]
    pub statistic: String,
    /// The value may not fall below this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(custom(finite)))]
    pub floor: Option<f64>,
    /// The value may not rise above this; at least `floor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(custom(finite)))]
    pub ceiling: Option<f64>,
    /// The value may fall at most this fraction below its value in the five
    /// minutes before the switch (0.2: "by no more than 20%"); above 0, at
    /// most 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(range(max = 1.0), inner(custom(validation::above_zero)))]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub max_drop: Option<f64>,
    /// The value may rise at most this fraction above its value before the
    /// switch (0.5: "by no more than 50%"); above 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(custom(validation::above_zero)))]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub max_rise: Option<f64>,
}

/// The schema pattern [`known_statistic`] keeps to (a percentile's range is
/// checked by the function only).
pub const STATISTIC: &str = r"^(Sum|SampleCount|Average|Minimum|Maximum|p[0-9]+(\.[0-9]+)?)$";

fn known_statistic(s: &String, _: &()) -> garde::Result {
    if valid_statistic(s) {
        Ok(())
    } else {
        Err(garde::Error::new(format!(
            "`{s}` is not Sum, SampleCount, Average, Minimum, Maximum or a percentile such as p95 or p99.9"
        )))
    }
}

fn finite(v: &f64, _: &()) -> garde::Result {
    if v.is_finite() {
        Ok(())
    } else {
        Err(garde::Error::new("must be a finite number"))
    }
}

fn named_dimensions(dims: &BTreeMap<String, String>, _: &()) -> garde::Result {
    for (name, value) in dims {
        if name.trim().is_empty() || value.trim().is_empty() {
            return Err(garde::Error::new(format!(
                "`{name}`: dimension names and values must not be empty"
            )));
        }
        if value.replace(COLOR_PLACEHOLDER, "").contains("{{") {
            return Err(garde::Error::new(format!(
                "`{name}` is `{value}`: only {COLOR_PLACEHOLDER} may be filled in"
            )));
        }
    }
    Ok(())
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

    /// The declared rules, then those across fields.
    pub fn validate(&self, source: &str, at: &str) -> Result<()> {
        validation::check(source, at, self)?;
        let bad = |field: &str, problem: String| {
            Err(Error::bad_input(source, format!("{at}.{field}"), problem))
        };
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
        if let (Some(f), Some(c)) = (self.floor, self.ceiling)
            && f > c
        {
            return bad("floor", format!("{f} is above the ceiling {c}"));
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
