//! An app's configuration, as the CDK construct writes it to
//! `<prefix>/<app>/config`. The schema is documented in docs/config.md.

use serde::{Deserialize, Serialize};

use crate::color::Color;
use crate::error::{Error, Result};
use crate::parse;
use crate::ports::Route;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    pub app: String,
    /// ECS cluster name or ARN.
    pub cluster: String,
    pub blue: ColorConfig,
    pub green: ColorConfig,
    pub production: RouteConfig,
    /// The route that always reaches the idle color, for smoke tests.
    #[serde(default)]
    pub test: Option<TestRouteConfig>,
    /// The container whose image a release replaces; needed only when the task
    /// definition has more than one container.
    #[serde(default)]
    pub container: Option<String>,
    /// How long deploy-idle waits for the idle color to be stable and healthy.
    #[serde(default = "default_deploy_timeout")]
    pub deploy_timeout_seconds: u64,
    #[serde(default)]
    pub strategy: Strategy,
    #[serde(default)]
    pub monitor: MonitorConfig,
    /// How long the previous color stays at full size after a switch, so a
    /// rollback is one listener change.
    #[serde(default = "default_warm_window")]
    pub warm_window_seconds: u64,
    /// Desired count of the previous color once the warm window has passed.
    #[serde(default)]
    pub idle_capacity_after_window: u32,
    /// Both services scale with Application Auto Scaling (a scalable target
    /// each): the steps hold, hand over and restore their min/max as a
    /// release goes (see `scaling`). Off: bluegreen never calls it.
    #[serde(default)]
    pub autoscaling: bool,
    #[serde(default)]
    pub alert_topic_arn: Option<String>,
    /// The share of the serving color's running tasks a color must have
    /// healthy before production traffic moves onto it (switch or rollback);
    /// 1 means as many as serve now.
    #[serde(default = "default_min_healthy_fraction")]
    pub min_healthy_fraction: f64,
    /// The IAM role each function assumes to act for this app (the CDK
    /// construct creates them, scoped to this app's resources). Without it a
    /// function acts with its own credentials (local mode, tests).
    #[serde(default)]
    pub roles: Option<AppRoles>,
}

/// The role each shared function assumes for one app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppRoles {
    pub deploy_idle: String,
    pub smoke_test: String,
    pub switch: String,
    pub monitor: String,
    pub rollback: String,
}

/// One of the five shared functions, which act for an app through its role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    DeployIdle,
    SmokeTest,
    Switch,
    Monitor,
    Rollback,
}

impl Function {
    /// The function's binary (and Lambda) name suffix, e.g. `deploy-idle`.
    pub fn binary(self) -> &'static str {
        match self {
            Function::DeployIdle => "deploy-idle",
            Function::SmokeTest => "smoke-test",
            Function::Switch => "switch",
            Function::Monitor => "monitor",
            Function::Rollback => "rollback",
        }
    }
}

impl AppRoles {
    pub fn of(&self, function: Function) -> &str {
        match function {
            Function::DeployIdle => &self.deploy_idle,
            Function::SmokeTest => &self.smoke_test,
            Function::Switch => &self.switch,
            Function::Monitor => &self.monitor,
            Function::Rollback => &self.rollback,
        }
    }

    fn validate(&self, source: &str) -> Result<()> {
        for (field, arn) in [
            ("roles.deploy_idle", &self.deploy_idle),
            ("roles.smoke_test", &self.smoke_test),
            ("roles.switch", &self.switch),
            ("roles.monitor", &self.monitor),
            ("roles.rollback", &self.rollback),
        ] {
            check_arn(source, field, arn, "iam", ":role/")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColorConfig {
    /// ECS service name.
    pub service: String,
    pub target_group_arn: String,
    /// A URL that reaches this color directly (internal DNS), for smoke tests
    /// and probes.
    #[serde(default)]
    pub direct_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    pub listener_arn: String,
    /// When set, traffic is moved by this rule instead of the listener's
    /// default action.
    #[serde(default)]
    pub rule_arn: Option<String>,
    /// Target-group stickiness for the forward action, in seconds; absent means
    /// off. Informational: a switch keeps the stickiness the listener has.
    #[serde(default)]
    pub stickiness_seconds: Option<i32>,
}

impl RouteConfig {
    pub fn route(&self) -> Route {
        match &self.rule_arn {
            Some(rule_arn) => Route::Rule {
                rule_arn: rule_arn.clone(),
            },
            None => Route::ListenerDefault {
                listener_arn: self.listener_arn.clone(),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestRouteConfig {
    pub listener_arn: String,
    #[serde(default)]
    pub rule_arn: Option<String>,
    /// The base URL smoke tests use to reach the test route.
    pub url: String,
    /// A path on `url` that names the running version (body or header),
    /// asked before smoke tests run to prove the test route already reaches
    /// the release. Defaults to the path of `monitor.probe_url`.
    #[serde(default)]
    pub version_path: Option<String>,
    /// How long the test route may take to reach the release after it was
    /// re-pointed before the smoke tests fail.
    #[serde(default = "default_route_timeout")]
    pub route_timeout_seconds: u64,
}

fn default_route_timeout() -> u64 {
    60
}

/// The smoke-test function's timeout is 5 minutes; the tests need some of it.
pub const MAX_ROUTE_TIMEOUT_SECONDS: u64 = 240;

impl TestRouteConfig {
    /// The version endpoint through the test route: `version_path`, else the
    /// path of the monitor's probe URL. `None` when neither is configured.
    pub fn version_url(&self, monitor: &MonitorConfig) -> Option<String> {
        let path = match &self.version_path {
            Some(path) => path.clone(),
            None => {
                let probe = monitor.probe_url.as_deref()?;
                let after_scheme = probe.split_once("://").map_or(probe, |(_, rest)| rest);
                after_scheme
                    .find('/')
                    .map_or_else(|| "/".to_string(), |i| after_scheme[i..].to_string())
            }
        };
        Some(format!(
            "{}/{}",
            self.url.trim_end_matches('/'),
            path.trim_start_matches('/')
        ))
    }

    pub fn route(&self) -> Route {
        match &self.rule_arn {
            Some(rule_arn) => Route::Rule {
                rule_arn: rule_arn.clone(),
            },
            None => Route::ListenerDefault {
                listener_arn: self.listener_arn.clone(),
            },
        }
    }
}

/// How traffic moves to the new color.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Strategy {
    /// All traffic at once, then one bake.
    AllAtOnce {
        #[serde(default = "default_bake")]
        bake_seconds: u64,
    },
    /// Weight steps in percent on the new color, each baked before the next.
    Weighted {
        steps: Vec<u8>,
        #[serde(default = "default_bake")]
        bake_seconds: u64,
    },
}

impl Default for Strategy {
    fn default() -> Self {
        Strategy::AllAtOnce {
            bake_seconds: default_bake(),
        }
    }
}

impl Strategy {
    /// The weights on the new color, in order; the last is always 100.
    pub fn steps(&self) -> Vec<u8> {
        match self {
            Strategy::AllAtOnce { .. } => vec![100],
            Strategy::Weighted { steps, .. } => steps.clone(),
        }
    }

    pub fn bake_seconds(&self) -> u64 {
        match self {
            Strategy::AllAtOnce { bake_seconds } | Strategy::Weighted { bake_seconds, .. } => {
                *bake_seconds
            }
        }
    }

    /// Checks the steps; `field` is where the strategy sits in its document.
    pub fn validate(&self, source: &str, field: &str) -> Result<()> {
        // A bake is watched by Lambda slices and held under the lock: one
        // day per step at most (a longer wait is a warm window, not a bake).
        if self.bake_seconds() > MAX_BAKE_SECONDS {
            return Err(Error::bad_input(
                source,
                format!("{field}.bake_seconds"),
                format!(
                    "{} s is longer than a day ({MAX_BAKE_SECONDS} s): bake each step for at most a day",
                    self.bake_seconds()
                ),
            ));
        }
        let Strategy::Weighted { steps, .. } = self else {
            return Ok(());
        };
        let at = format!("{field}.steps");
        if steps.is_empty() {
            return Err(Error::bad_input(source, at, "needs at least one step"));
        }
        for (i, w) in steps.iter().enumerate() {
            if *w == 0 || *w > 100 {
                return Err(Error::bad_input(
                    source,
                    format!("{at}[{i}]"),
                    format!("{w} is not a weight between 1 and 100"),
                ));
            }
            if i > 0 && *w <= steps[i - 1] {
                return Err(Error::bad_input(
                    source,
                    format!("{at}[{i}]"),
                    format!("steps must increase, but {w} follows {}", steps[i - 1]),
                ));
            }
        }
        if steps.last() != Some(&100) {
            return Err(Error::bad_input(source, at, "the last step must be 100"));
        }
        Ok(())
    }
}

/// The longest bake of one step.
pub const MAX_BAKE_SECONDS: u64 = 86_400;

/// Thresholds for the bake after each switch step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorConfig {
    /// Highest tolerated share of target 5xx responses, 0.0 to 1.0.
    #[serde(default = "default_5xx_rate")]
    pub max_5xx_rate: f64,
    /// Highest tolerated p99 response time: CloudWatch's `TargetResponseTime`
    /// over the bake, and the probes' own once they are enough to tell.
    #[serde(default = "default_p99")]
    pub max_p99_ms: u64,
    /// Highest tolerated p50 (median) response time, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_p50_ms: Option<u64>,
    /// Highest tolerated p95 response time, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_p95_ms: Option<u64>,
    /// Checks on any CloudWatch metric the app names (orders per minute...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<crate::metric_check::MetricCheck>,
    /// Below this many requests no verdict other than "continue" is given.
    #[serde(default = "default_min_requests")]
    pub min_requests: u64,
    #[serde(default)]
    pub alarm_names: Vec<String>,
    /// The production URL the monitor probes.
    #[serde(default)]
    pub probe_url: Option<String>,
    /// The value the probes expect in the version header or JSON field once
    /// the new version serves; `{{version}}` stands for the release version.
    /// Defaults to the release version itself.
    #[serde(default)]
    pub expected_version_marker: Option<String>,
    /// The response header that names the running version (compared whole,
    /// never as a substring). Without it and `version_json_path`: the JSON
    /// body's `version` field or an `X-Version` header.
    #[serde(default)]
    pub version_header: Option<String>,
    /// The dotted path of the JSON body field that names the running
    /// version, e.g. `version` or `build.version`.
    #[serde(default)]
    pub version_json_path: Option<String>,
    /// How late CloudWatch's ALB metrics may arrive: a minute is judged only
    /// this long after it ended, and a bake is promoted only once the minute
    /// covering its end has been judged.
    #[serde(default = "default_metrics_delay")]
    pub metrics_delay_seconds: u64,
    /// Consecutive reads (about one a minute) in which metrics or alarms
    /// could not be read before the bake is a breach (until then: wait).
    #[serde(default = "default_max_failed_reads")]
    pub max_failed_reads: u32,
    /// Probe requests per probe round (sent at once, each uncached).
    #[serde(default = "default_probe_requests")]
    pub probe_requests: u32,
    /// Seconds between probe rounds while the bake is watched: a release
    /// that turns bad is seen within this plus `probe_timeout_ms`.
    #[serde(default = "default_probe_interval")]
    pub probe_interval_seconds: u64,
    /// How long one monitor call watches before handing the bake to the
    /// next call (it returns at once on a verdict). Bounded by the function's
    /// timeout: a call never outlives its Lambda.
    #[serde(default = "default_slice")]
    pub slice_seconds: u64,
    #[serde(default = "default_probe_timeout")]
    pub probe_timeout_ms: u64,
    /// How long after all traffic moved the probes may still see the old
    /// version (the load balancer's change is not immediate) before it is a breach.
    #[serde(default = "default_version_timeout")]
    pub version_timeout_seconds: u64,
    /// Also compare with the previous color's figures from before the switch.
    #[serde(default)]
    pub compare_with_previous: bool,
    /// With `compare_with_previous`: the new p99 may be at most this many times
    /// the previous color's.
    #[serde(default = "default_p99_regression")]
    pub max_p99_regression: f64,
}

impl MonitorConfig {
    /// What a response from `version` contains: `expected_version_marker`
    /// with `{{version}}` filled in, else the version itself.
    pub fn version_marker(&self, version: &str) -> String {
        self.expected_version_marker
            .as_deref()
            .unwrap_or("{{version}}")
            .replace("{{version}}", version)
    }
}

/// A probe round must fit well inside a probe interval and a slice.
pub const MAX_PROBE_TIMEOUT_MS: u64 = 10_000;
/// The monitor function's timeout is 900 s (Lambda's maximum); a slice
/// leaves a minute for the last round, the answer and a cold start.
pub const MAX_SLICE_SECONDS: u64 = 840;
/// CloudWatch's `DescribeAlarms` takes at most 100 names.
pub const MAX_ALARMS: usize = 100;

impl MonitorConfig {
    /// Range checks; `at` is where the section sits in its document
    /// (`monitor` in the config, `overrides.monitor` in the execution input).
    pub fn validate(&self, source: &str, at: &str) -> Result<()> {
        let bad = |field: &str, problem: String| {
            Err(Error::bad_input(source, format!("{at}.{field}"), problem))
        };
        if !(0.0..=1.0).contains(&self.max_5xx_rate) {
            return bad(
                "max_5xx_rate",
                format!("{} is not a fraction between 0 and 1", self.max_5xx_rate),
            );
        }
        if self.max_p99_ms == 0 {
            return bad("max_p99_ms", "0 would fail every request".into());
        }
        for (field, limit) in [
            ("max_p50_ms", self.max_p50_ms),
            ("max_p95_ms", self.max_p95_ms),
        ] {
            if limit == Some(0) {
                return bad(field, "0 would fail every request".into());
            }
        }
        if let (Some(p50), Some(p95)) = (self.max_p50_ms, self.max_p95_ms)
            && p50 > p95
        {
            return bad("max_p50_ms", format!("{p50} is above max_p95_ms {p95}"));
        }
        if let Some(p95) = self.max_p95_ms
            && p95 > self.max_p99_ms
        {
            return bad(
                "max_p95_ms",
                format!("{p95} is above max_p99_ms {}", self.max_p99_ms),
            );
        }
        crate::metric_check::validate_all(&self.checks, source, &format!("{at}.checks"))?;
        if let Some(url) = &self.probe_url {
            check_url(source, &format!("{at}.probe_url"), url)?;
        }
        if !(1..=100).contains(&self.probe_requests) {
            return bad(
                "probe_requests",
                format!("{} is not between 1 and 100", self.probe_requests),
            );
        }
        if !(1..=MAX_PROBE_TIMEOUT_MS).contains(&self.probe_timeout_ms) {
            return bad(
                "probe_timeout_ms",
                format!(
                    "{} is not between 1 and {MAX_PROBE_TIMEOUT_MS}: a probe round must fit well inside a probe interval",
                    self.probe_timeout_ms
                ),
            );
        }
        if !(1..=60).contains(&self.probe_interval_seconds) {
            return bad(
                "probe_interval_seconds",
                format!("{} is not between 1 and 60", self.probe_interval_seconds),
            );
        }
        if !(1..=MAX_SLICE_SECONDS).contains(&self.slice_seconds) {
            return bad(
                "slice_seconds",
                format!(
                    "{} is not between 1 and {MAX_SLICE_SECONDS}: one monitor call must end within its function's 900 s timeout",
                    self.slice_seconds
                ),
            );
        }
        if self.version_timeout_seconds > 3600 {
            return bad(
                "version_timeout_seconds",
                format!(
                    "{} is more than 3600 (an hour)",
                    self.version_timeout_seconds
                ),
            );
        }
        if !(self.max_p99_regression.is_finite() && self.max_p99_regression > 0.0) {
            return bad(
                "max_p99_regression",
                format!("{} is not a ratio above 0", self.max_p99_regression),
            );
        }
        if self.metrics_delay_seconds > 900 {
            return bad(
                "metrics_delay_seconds",
                format!(
                    "{} is more than 900: ALB metrics arrive within a few minutes",
                    self.metrics_delay_seconds
                ),
            );
        }
        if !(1..=20).contains(&self.max_failed_reads) {
            return bad(
                "max_failed_reads",
                format!("{} is not between 1 and 20", self.max_failed_reads),
            );
        }
        if self.alarm_names.len() > MAX_ALARMS {
            return bad(
                "alarm_names",
                format!(
                    "{} alarms; CloudWatch reads at most {MAX_ALARMS} at once",
                    self.alarm_names.len()
                ),
            );
        }
        for (i, name) in self.alarm_names.iter().enumerate() {
            if name.trim().is_empty() || name.len() > 255 {
                return bad(
                    &format!("alarm_names[{i}]"),
                    format!("`{name}` is not an alarm name (1 to 255 characters)"),
                );
            }
        }
        if let Some(marker) = &self.expected_version_marker
            && marker.trim().is_empty()
        {
            return bad("expected_version_marker", "must not be empty".into());
        }
        if let Some(header) = &self.version_header {
            let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
            if header.is_empty() || !header.chars().all(token) {
                return bad(
                    "version_header",
                    format!("`{header}` is not an HTTP header name"),
                );
            }
        }
        if let Some(path) = &self.version_json_path
            && (path.is_empty() || path.split('.').any(str::is_empty))
        {
            return bad(
                "version_json_path",
                format!("`{path}` is not a dotted field path such as `build.version`"),
            );
        }
        Ok(())
    }

    /// These thresholds with an execution's `overrides.monitor` merged over
    /// them, parsed and validated; a bad override is named by its path
    /// (`overrides.monitor.<field>`). An override may not switch off the
    /// traffic requirement (`min_requests: 0`): that is the app config's call.
    pub fn with_overrides(
        &self,
        source: &str,
        overrides: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<MonitorConfig> {
        const AT: &str = "overrides.monitor";
        let mut merged = serde_json::to_value(self).expect("monitor config serialises");
        let object = merged.as_object_mut().expect("an object");
        for (key, value) in overrides {
            object.insert(key.clone(), value.clone());
        }
        let merged: MonitorConfig = parse::value(source, merged).map_err(|e| match e {
            Error::BadInput {
                document,
                field,
                problem,
            } => Error::BadInput {
                document,
                field: if field == "(document)" {
                    AT.to_string()
                } else {
                    format!("{AT}.{field}")
                },
                problem,
            },
            other => other,
        })?;
        merged.validate(source, AT)?;
        if overrides.contains_key("min_requests") && merged.min_requests == 0 {
            return Err(Error::bad_input(
                source,
                format!("{AT}.min_requests"),
                "0 would promote without any traffic: an execution may lower the requirement, not switch it off",
            ));
        }
        Ok(merged)
    }
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            max_5xx_rate: default_5xx_rate(),
            max_p99_ms: default_p99(),
            max_p50_ms: None,
            max_p95_ms: None,
            checks: Vec::new(),
            min_requests: default_min_requests(),
            alarm_names: Vec::new(),
            probe_url: None,
            expected_version_marker: None,
            version_header: None,
            version_json_path: None,
            metrics_delay_seconds: default_metrics_delay(),
            max_failed_reads: default_max_failed_reads(),
            probe_requests: default_probe_requests(),
            probe_interval_seconds: default_probe_interval(),
            slice_seconds: default_slice(),
            probe_timeout_ms: default_probe_timeout(),
            version_timeout_seconds: default_version_timeout(),
            compare_with_previous: false,
            max_p99_regression: default_p99_regression(),
        }
    }
}

fn default_metrics_delay() -> u64 {
    180
}
fn default_max_failed_reads() -> u32 {
    3
}
fn default_probe_requests() -> u32 {
    3
}
fn default_probe_interval() -> u64 {
    5
}
fn default_slice() -> u64 {
    MAX_SLICE_SECONDS
}
fn default_probe_timeout() -> u64 {
    2000
}
fn default_version_timeout() -> u64 {
    120
}
fn default_p99_regression() -> f64 {
    1.5
}
fn default_bake() -> u64 {
    300
}
fn default_deploy_timeout() -> u64 {
    900
}
fn default_min_healthy_fraction() -> f64 {
    1.0
}
fn default_warm_window() -> u64 {
    24 * 3600
}
fn default_5xx_rate() -> f64 {
    0.01
}
fn default_p99() -> u64 {
    1000
}
fn default_min_requests() -> u64 {
    50
}

impl AppConfig {
    /// Parses and validates the config document stored for `app`.
    pub fn parse(app: &str, parameter: &str, text: &str) -> Result<AppConfig> {
        let source = format!("config {parameter}");
        let config: AppConfig = parse::json(&source, text)?;
        config.validate(&source, app)?;
        Ok(config)
    }

    fn validate(&self, source: &str, app: &str) -> Result<()> {
        let bad = |field: &str, problem: String| Err(Error::bad_input(source, field, problem));
        if self.app != app {
            return bad(
                "app",
                format!("is `{}`, but the parameter belongs to `{app}`", self.app),
            );
        }
        if self.cluster.trim().is_empty() {
            return bad("cluster", "must not be empty".into());
        }
        for color in Color::BOTH {
            let c = self.color(color);
            if c.service.trim().is_empty() {
                return bad(&format!("{color}.service"), "must not be empty".into());
            }
            check_arn(
                source,
                &format!("{color}.target_group_arn"),
                &c.target_group_arn,
                "elasticloadbalancing",
                ":targetgroup/",
            )?;
            if let Some(url) = &c.direct_url {
                check_url(source, &format!("{color}.direct_url"), url)?;
            }
        }
        if self.blue.target_group_arn == self.green.target_group_arn {
            return bad(
                "green.target_group_arn",
                "is the same as blue's: the colors need two target groups".into(),
            );
        }
        if self.blue.service == self.green.service {
            return bad(
                "green.service",
                "is the same as blue's: the colors need two services".into(),
            );
        }
        check_arn(
            source,
            "production.listener_arn",
            &self.production.listener_arn,
            "elasticloadbalancing",
            ":listener/",
        )?;
        if let Some(s) = self.production.stickiness_seconds
            && !(1..=604_800).contains(&s)
        {
            return bad(
                "production.stickiness_seconds",
                format!("{s} is not between 1 and 604800 (7 days)"),
            );
        }
        if let Some(rule) = &self.production.rule_arn {
            check_arn(
                source,
                "production.rule_arn",
                rule,
                "elasticloadbalancing",
                ":listener-rule/",
            )?;
        }
        if let Some(test) = &self.test {
            check_arn(
                source,
                "test.listener_arn",
                &test.listener_arn,
                "elasticloadbalancing",
                ":listener/",
            )?;
            if test.listener_arn == self.production.listener_arn && test.rule_arn.is_none() {
                return bad(
                    "test.rule_arn",
                    "is required when the test route shares the production listener".into(),
                );
            }
            if let Some(rule) = &test.rule_arn {
                check_arn(
                    source,
                    "test.rule_arn",
                    rule,
                    "elasticloadbalancing",
                    ":listener-rule/",
                )?;
                if Some(rule) == self.production.rule_arn.as_ref() {
                    return bad(
                        "test.rule_arn",
                        "is the production rule: smoke tests must never go through production"
                            .into(),
                    );
                }
            }
            check_url(source, "test.url", &test.url)?;
            if let Some(path) = &test.version_path
                && !path.starts_with('/')
            {
                return bad(
                    "test.version_path",
                    format!("`{path}` is not a path: it starts with `/`"),
                );
            }
            if !(1..=MAX_ROUTE_TIMEOUT_SECONDS).contains(&test.route_timeout_seconds) {
                return bad(
                    "test.route_timeout_seconds",
                    format!(
                        "{} is not between 1 and {MAX_ROUTE_TIMEOUT_SECONDS}: the smoke-test function runs at most 5 minutes, tests included",
                        test.route_timeout_seconds
                    ),
                );
            }
        }
        self.strategy.validate(source, "strategy")?;
        self.monitor.validate(source, "monitor")?;
        if !(self.min_healthy_fraction > 0.0 && self.min_healthy_fraction <= 1.0) {
            return bad(
                "min_healthy_fraction",
                format!(
                    "{} is not a fraction above 0 and at most 1",
                    self.min_healthy_fraction
                ),
            );
        }
        if let Some(topic) = &self.alert_topic_arn {
            check_arn(source, "alert_topic_arn", topic, "sns", ":")?;
        }
        if let Some(roles) = &self.roles {
            roles.validate(source)?;
        }
        Ok(())
    }

    pub fn color(&self, color: Color) -> &ColorConfig {
        match color {
            Color::Blue => &self.blue,
            Color::Green => &self.green,
        }
    }

    /// Which color a target group belongs to, if it is one of ours.
    pub fn color_of_target_group(&self, arn: &str) -> Option<Color> {
        Color::BOTH
            .into_iter()
            .find(|c| self.color(*c).target_group_arn == arn)
    }
}

fn check_arn(source: &str, field: &str, arn: &str, service: &str, marker: &str) -> Result<()> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == service
        && !parts[5].is_empty()
        && arn.contains(marker);
    if ok {
        Ok(())
    } else {
        Err(Error::bad_input(
            source,
            field,
            format!("`{arn}` is not an {service} ARN of the expected kind"),
        ))
    }
}

fn check_url(source: &str, field: &str, url: &str) -> Result<()> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(Error::bad_input(
            source,
            field,
            format!("`{url}` is not an http(s) URL"),
        ))
    }
}

/// App names become SSM path segments and resource names: keep them tame.
pub fn validate_app_name(source: &str, field: &str, app: &str) -> Result<()> {
    let ok = !app.is_empty()
        && app.len() <= 64
        && app
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(Error::bad_input(
            source,
            field,
            format!("`{app}` is not an app name: use 1 to 64 letters, digits, `-`, `_` or `.`"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> String {
        serde_json::json!({
            "app": "checkout",
            "cluster": "prod",
            "blue": {"service": "checkout-blue", "target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/checkout-blue/1"},
            "green": {"service": "checkout-green", "target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/checkout-green/2"},
            "production": {"listener_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/lb/1/2"},
            "strategy": {"type": "weighted", "steps": [10, 25, 50, 100], "bake_seconds": 60},
            "alert_topic_arn": "arn:aws:sns:us-east-1:123456789012:alerts"
        })
        .to_string()
    }

    fn with(path: &[&str], value: serde_json::Value) -> String {
        let mut doc: serde_json::Value = serde_json::from_str(&sample()).unwrap();
        let mut at = &mut doc;
        for p in &path[..path.len() - 1] {
            at = at.get_mut(*p).unwrap();
        }
        at[path[path.len() - 1]] = value;
        doc.to_string()
    }

    fn problem(text: &str) -> String {
        AppConfig::parse("checkout", "/bluegreen/checkout/config", text)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn parses_sample_with_defaults() {
        let c = AppConfig::parse("checkout", "/p", &sample()).unwrap();
        assert_eq!(c.strategy.steps(), vec![10, 25, 50, 100]);
        assert_eq!(c.warm_window_seconds, 86400);
        assert_eq!(c.monitor.min_requests, 50);
        assert_eq!(
            c.production.route(),
            Route::ListenerDefault {
                listener_arn: c.production.listener_arn.clone()
            }
        );
        assert_eq!(
            c.color_of_target_group(&c.green.target_group_arn),
            Some(Color::Green)
        );
    }

    #[test]
    fn errors_name_the_field() {
        let m = problem(&with(&["blue", "target_group_arn"], "tg-1".into()));
        assert!(m.contains("`blue.target_group_arn`"), "{m}");
        assert!(m.contains("/bluegreen/checkout/config"), "{m}");

        let m = problem(&with(
            &["strategy", "steps"],
            serde_json::json!([10, 5, 100]),
        ));
        assert!(
            m.contains("`strategy.steps[1]`") && m.contains("must increase"),
            "{m}"
        );

        let m = problem(&with(&["strategy", "steps"], serde_json::json!([10, 50])));
        assert!(m.contains("last step must be 100"), "{m}");

        let m = problem(&with(
            &["strategy", "bake_seconds"],
            serde_json::json!(86_401),
        ));
        assert!(
            m.contains("`strategy.bake_seconds`") && m.contains("longer than a day"),
            "{m}"
        );

        let m = problem(&with(&["strategy", "type"], "yolo".into()));
        assert!(m.contains("unknown variant `yolo`"), "{m}");

        let m = problem(&with(&["green", "target_grup_arn"], "x".into()));
        assert!(m.contains("`green.target_grup_arn`: unknown field"), "{m}");

        let m = problem(&with(&["app"], "cart".into()));
        assert!(
            m.contains("`app`") && m.contains("belongs to `checkout`"),
            "{m}"
        );

        let m = problem(&with(
            &["green", "target_group_arn"],
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/checkout-blue/1"
                .into(),
        ));
        assert!(m.contains("two target groups"), "{m}");
    }

    /// The config the CDK construct writes for the example app (checked in by
    /// `npm run export-config`, drift-tested on the CDK side) parses here.
    #[test]
    fn the_config_cdk_writes_parses() {
        let text = include_str!("../../../cdk/example-config.json");
        let c = AppConfig::parse("checkout", "/bluegreen/checkout/config", text).unwrap();
        assert_eq!(c.strategy.steps(), vec![10, 50, 100]);
        assert_eq!(c.container.as_deref(), Some("app"));
        assert_eq!(c.monitor.alarm_names, vec!["checkout-elb-5xx"]);
        assert!(c.test.is_some() && c.monitor.compare_with_previous);
    }

    #[test]
    fn app_names_are_path_safe() {
        assert!(validate_app_name("m", "app", "checkout-v2.eu_1").is_ok());
        for bad in ["", "a/b", "../x", "a b", &"x".repeat(65)] {
            let e = validate_app_name("message", "app", bad)
                .unwrap_err()
                .to_string();
            assert!(e.contains("message is invalid at `app`"), "{e}");
        }
    }

    #[test]
    fn the_version_endpoint_through_the_test_route() {
        let mut test: TestRouteConfig = serde_json::from_value(serde_json::json!({
            "listener_arn": "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/a/1/2",
            "url": "http://alb:8080/"
        }))
        .unwrap();
        assert_eq!(test.route_timeout_seconds, 60);
        let mut monitor = MonitorConfig::default();
        assert_eq!(test.version_url(&monitor), None);
        monitor.probe_url = Some("https://shop.example.com/api/version?full=1".into());
        assert_eq!(
            test.version_url(&monitor).as_deref(),
            Some("http://alb:8080/api/version?full=1")
        );
        monitor.probe_url = Some("https://shop.example.com".into());
        assert_eq!(
            test.version_url(&monitor).as_deref(),
            Some("http://alb:8080/")
        );
        test.version_path = Some("/version".into());
        assert_eq!(
            test.version_url(&monitor).as_deref(),
            Some("http://alb:8080/version")
        );
        assert_eq!(monitor.version_marker("v2"), "v2");
        monitor.expected_version_marker = Some("\"version\": \"{{version}}\"".into());
        assert_eq!(monitor.version_marker("v2"), "\"version\": \"v2\"");
    }

    #[test]
    fn a_route_timeout_must_leave_the_tests_time() {
        let test = |timeout: u64| {
            with(
                &["test"],
                serde_json::json!({
                    "listener_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/lb/1/3",
                    "url": "http://lb:8080",
                    "route_timeout_seconds": timeout
                }),
            )
        };
        for timeout in [0, 241] {
            let e = problem(&test(timeout));
            assert!(
                e.contains("`test.route_timeout_seconds`") && e.contains("not between 1 and 240"),
                "{e}"
            );
        }
        assert!(AppConfig::parse("checkout", "/p", &test(240)).is_ok());
    }
}
