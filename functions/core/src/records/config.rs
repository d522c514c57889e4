//! An app's configuration, as the CDK construct writes it to
//! `<prefix>/<app>/config`. The schema is documented in docs/config.md.

use garde::Validate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::color::Color;
use crate::error::{Error, Result};
use crate::parse;
use crate::ports::Route;
use crate::records::gates::Gates;
use crate::records::hooks::Hook;
use crate::records::migrations::Migrations;
use crate::records::notifications::Notifications;
use crate::records::validation::{
    self, DOTTED_PATH, HEADER_NAME, HTTP_URL, NOT_BLANK, URL_PATH, above_zero, arn, arn_pattern,
    dotted_path, header_name, http_url, not_blank, url_path,
};

/// An app's configuration, `<prefix>/<app>/config` (docs/config.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
#[garde(allow_unvalidated)]
pub struct AppConfig {
    /// Where an editor finds this document's schema; ignored.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The app's name: 1 to 64 letters, digits, `-`, `_` or `.`.
    #[garde(custom(app_name))]
    #[schemars(pattern(APP_NAME))]
    pub app: String,
    /// ECS cluster name or ARN.
    #[garde(custom(not_blank))]
    #[schemars(pattern(NOT_BLANK))]
    pub cluster: String,
    #[garde(dive)]
    pub blue: ColorConfig,
    #[garde(dive)]
    pub green: ColorConfig,
    #[garde(dive)]
    pub production: RouteConfig,
    /// The route that always reaches the idle color, for smoke tests.
    #[serde(default)]
    #[garde(dive)]
    pub test: Option<TestRouteConfig>,
    /// The container whose image a release replaces; needed only when the task
    /// definition has more than one container.
    #[serde(default)]
    #[garde(inner(custom(not_blank)))]
    #[schemars(pattern(NOT_BLANK))]
    pub container: Option<String>,
    /// How long deploy-idle waits for the idle color to be stable and healthy.
    #[serde(default = "default_deploy_timeout")]
    pub deploy_timeout_seconds: u64,
    #[serde(default)]
    #[garde(dive)]
    pub strategy: Strategy,
    #[serde(default)]
    #[garde(dive)]
    pub monitor: MonitorConfig,
    /// How long the previous color stays at full size after a switch, so a
    /// rollback is one listener change.
    #[serde(default = "default_warm_window")]
    pub warm_window_seconds: u64,
    /// Desired count of the previous color once the warm window has passed.
    #[serde(default)]
    pub idle_capacity_after_window: u32,
    /// How long the color of a failed release (aborted, or rolled back) keeps
    /// its tasks for people to look at before it is scaled back to
    /// `idle_capacity_after_window` (by the scale-down's rules: never a color
    /// with production weight, nor one a newer release has taken). Up to
    /// 7 days; 1 hour by default.
    #[serde(default = "default_failed_color_grace")]
    #[garde(range(max = 604_800))]
    pub failed_color_grace_seconds: u64,
    /// The previous color's size during the warm window, in percent of the
    /// release's (1 to 100; 100 by default): both colors hold connections to
    /// a shared database meanwhile. Below 100 a rollback in the window scales
    /// the previous color up before traffic moves, as after the window.
    /// Ignored with `autoscaling` (the scalable targets' bounds rule).
    #[serde(default = "default_warm_capacity")]
    #[garde(range(min = 1, max = 100))]
    pub warm_capacity_percent: u8,
    /// Both services scale with Application Auto Scaling (a scalable target
    /// each): the steps hold, hand over and restore their min/max as a
    /// release goes (see `scaling`). Off: bluegreen never calls it.
    #[serde(default)]
    pub autoscaling: bool,
    /// The SNS topic alerts go to.
    #[serde(default)]
    #[garde(inner(custom(arn("sns", ""))))]
    #[schemars(pattern(arn_pattern("sns", "")))]
    pub alert_topic_arn: Option<String>,
    /// The share of the serving color's running tasks a color must have
    /// healthy before production traffic moves onto it (switch or rollback);
    /// 1 means as many as serve now.
    #[serde(default = "default_min_healthy_fraction")]
    #[garde(range(max = 1.0), custom(above_zero))]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub min_healthy_fraction: f64,
    /// The IAM role each function assumes to act for this app (the CDK
    /// construct creates them, scoped to this app's resources). Without it a
    /// function acts with its own credentials (local mode, tests).
    #[serde(default)]
    #[garde(dive)]
    pub roles: Option<AppRoles>,
    /// What must happen before traffic moves, beyond the smoke tests
    /// (an approval; see docs/config.md, "Gates").
    #[serde(default, skip_serializing_if = "crate::records::config::no_gates")]
    #[garde(dive)]
    pub gates: Gates,
    /// The team's own checks and chores at fixed points of a release
    /// (docs/hooks.md): HTTP endpoints get a signed POST, Lambda functions
    /// the same JSON.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[garde(dive)]
    pub hooks: Vec<Hook>,
    /// Which events go to the app's chat webhooks (docs/notifications.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(dive)]
    pub notifications: Option<Notifications>,
    /// Database migrations the expand/contract way, as one-off tasks of
    /// the release (docs/migrations.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(dive)]
    pub migrations: Option<Migrations>,
}

/// The role each shared function assumes for one app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct AppRoles {
    #[garde(custom(arn("iam", "role/")))]
    #[schemars(pattern(arn_pattern("iam", "role/")))]
    pub deploy_idle: String,
    #[garde(custom(arn("iam", "role/")))]
    #[schemars(pattern(arn_pattern("iam", "role/")))]
    pub smoke_test: String,
    #[garde(custom(arn("iam", "role/")))]
    #[schemars(pattern(arn_pattern("iam", "role/")))]
    pub switch: String,
    #[garde(custom(arn("iam", "role/")))]
    #[schemars(pattern(arn_pattern("iam", "role/")))]
    pub monitor: String,
    #[garde(custom(arn("iam", "role/")))]
    #[schemars(pattern(arn_pattern("iam", "role/")))]
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
}

/// One color: its ECS service and target group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ColorConfig {
    /// ECS service name.
    #[garde(custom(not_blank))]
    #[schemars(pattern(NOT_BLANK))]
    pub service: String,
    #[garde(custom(arn("elasticloadbalancing", "targetgroup/")))]
    #[schemars(pattern(arn_pattern("elasticloadbalancing", "targetgroup/")))]
    pub target_group_arn: String,
    /// A URL that reaches this color directly (internal DNS), for smoke tests
    /// and probes.
    #[serde(default)]
    #[garde(inner(custom(http_url)))]
    #[schemars(pattern(HTTP_URL))]
    pub direct_url: Option<String>,
}

/// The production route: a listener's default action, or one of its rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    #[garde(custom(arn("elasticloadbalancing", "listener/")))]
    #[schemars(pattern(arn_pattern("elasticloadbalancing", "listener/")))]
    pub listener_arn: String,
    /// When set, traffic is moved by this rule instead of the listener's
    /// default action.
    #[serde(default)]
    #[garde(inner(custom(arn("elasticloadbalancing", "listener-rule/"))))]
    #[schemars(pattern(arn_pattern("elasticloadbalancing", "listener-rule/")))]
    pub rule_arn: Option<String>,
    /// Target-group stickiness for the forward action, in seconds (at most 7
    /// days); absent means off. Informational: a switch keeps the stickiness
    /// the listener has.
    #[serde(default)]
    #[garde(range(min = 1, max = 604_800))]
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

/// The test route: reaches the idle color, for smoke tests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct TestRouteConfig {
    #[garde(custom(arn("elasticloadbalancing", "listener/")))]
    #[schemars(pattern(arn_pattern("elasticloadbalancing", "listener/")))]
    pub listener_arn: String,
    #[serde(default)]
    #[garde(inner(custom(arn("elasticloadbalancing", "listener-rule/"))))]
    #[schemars(pattern(arn_pattern("elasticloadbalancing", "listener-rule/")))]
    pub rule_arn: Option<String>,
    /// The base URL smoke tests use to reach the test route.
    #[garde(custom(http_url))]
    #[schemars(pattern(HTTP_URL))]
    pub url: String,
    /// A path on `url` that names the running version (body or header),
    /// asked before smoke tests run to prove the test route already reaches
    /// the release. Defaults to the path of `monitor.probe_url`.
    #[serde(default)]
    #[garde(inner(custom(url_path)))]
    #[schemars(pattern(URL_PATH))]
    pub version_path: Option<String>,
    /// How long the test route may take to reach the release after it was
    /// re-pointed before the smoke tests fail; the smoke-test function runs
    /// at most 5 minutes, tests included.
    #[serde(default = "default_route_timeout")]
    #[garde(range(min = 1, max = MAX_ROUTE_TIMEOUT_SECONDS))]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
// Lets a validator (ajv's `discriminator`) report the errors of the variant
// `type` names instead of every variant's.
#[schemars(extend("discriminator" = {"propertyName": "type"}, "type" = "object"))]
pub enum Strategy {
    /// All traffic at once, then one bake.
    AllAtOnce {
        /// How long the bake watches (at most a day).
        #[serde(default = "default_bake")]
        #[garde(range(max = MAX_BAKE_SECONDS))]
        bake_seconds: u64,
    },
    /// Weight steps in percent on the new color, each baked before the next.
    Weighted {
        /// Increasing weights from 1 to 100; the last is 100.
        #[garde(length(min = 1), inner(range(min = 1, max = 100)))]
        steps: Vec<u8>,
        /// How long each step's bake watches (at most a day).
        #[serde(default = "default_bake")]
        #[garde(range(max = MAX_BAKE_SECONDS))]
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

    /// Checks the strategy; `field` is where it sits in its document.
    pub fn validate(&self, source: &str, field: &str) -> Result<()> {
        validation::check(source, field, self)?;
        let Strategy::Weighted { steps, .. } = self else {
            return Ok(());
        };
        let at = format!("{field}.steps");
        for (i, w) in steps.iter().enumerate().skip(1) {
            if *w <= steps[i - 1] {
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
#[garde(allow_unvalidated)]
pub struct MonitorConfig {
    /// Highest tolerated share of target 5xx responses, 0.0 to 1.0.
    #[serde(default = "default_5xx_rate")]
    #[garde(range(min = 0.0, max = 1.0))]
    pub max_5xx_rate: f64,
    /// Highest tolerated p99 response time: CloudWatch's `TargetResponseTime`
    /// over the bake, and the probes' own once they are enough to tell.
    #[serde(default = "default_p99")]
    #[garde(range(min = 1))]
    pub max_p99_ms: u64,
    /// Highest tolerated p50 (median) response time, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(range(min = 1))]
    pub max_p50_ms: Option<u64>,
    /// Highest tolerated p95 response time, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(range(min = 1))]
    pub max_p95_ms: Option<u64>,
    /// Checks on any CloudWatch metric the app names (orders per minute...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[garde(length(max = crate::records::metric_check::MAX_CHECKS), dive)]
    pub checks: Vec<crate::records::metric_check::MetricCheck>,
    /// Below this many requests no verdict other than "continue" is given.
    #[serde(default = "default_min_requests")]
    pub min_requests: u64,
    /// CloudWatch alarms that breach the bake while in ALARM (CloudWatch
    /// reads at most 100 at once).
    #[serde(default)]
    #[garde(length(max = MAX_ALARMS), inner(length(max = 255), custom(not_blank)))]
    #[schemars(inner(pattern(NOT_BLANK)))]
    pub alarm_names: Vec<String>,
    /// The production URL the monitor probes.
    #[serde(default)]
    #[garde(inner(custom(http_url)))]
    #[schemars(pattern(HTTP_URL))]
    pub probe_url: Option<String>,
    /// The value the probes expect in the version header or JSON field once
    /// the new version serves; `{{version}}` stands for the release version.
    /// Defaults to the release version itself.
    #[serde(default)]
    #[garde(inner(custom(not_blank)))]
    #[schemars(pattern(NOT_BLANK))]
    pub expected_version_marker: Option<String>,
    /// The response header that names the running version (compared whole,
    /// never as a substring). Without it and `version_json_path`: the JSON
    /// body's `version` field or an `X-Version` header.
    #[serde(default)]
    #[garde(inner(custom(header_name)))]
    #[schemars(pattern(HEADER_NAME))]
    pub version_header: Option<String>,
    /// The dotted path of the JSON body field that names the running
    /// version, e.g. `version` or `build.version`.
    #[serde(default)]
    #[garde(inner(custom(dotted_path)))]
    #[schemars(pattern(DOTTED_PATH))]
    pub version_json_path: Option<String>,
    /// How late CloudWatch's ALB metrics may arrive: a minute is judged only
    /// this long after it ended, and a bake is promoted only once the minute
    /// covering its end has been judged.
    #[serde(default = "default_metrics_delay")]
    #[garde(range(max = 900))]
    pub metrics_delay_seconds: u64,
    /// Consecutive reads (about one a minute) in which metrics or alarms
    /// could not be read before the bake is a breach (until then: wait).
    #[serde(default = "default_max_failed_reads")]
    #[garde(range(min = 1, max = 20))]
    pub max_failed_reads: u32,
    /// Probe requests per probe round (sent at once, each uncached).
    #[serde(default = "default_probe_requests")]
    #[garde(range(min = 1, max = 100))]
    pub probe_requests: u32,
    /// Seconds between probe rounds while the bake is watched: a release
    /// that turns bad is seen within this plus `probe_timeout_ms`.
    #[serde(default = "default_probe_interval")]
    #[garde(range(min = 1, max = 60))]
    pub probe_interval_seconds: u64,
    /// How long one monitor call watches before handing the bake to the
    /// next call (it returns at once on a verdict). Bounded by the function's
    /// timeout: a call never outlives its Lambda.
    #[serde(default = "default_slice")]
    #[garde(range(min = 1, max = MAX_SLICE_SECONDS))]
    pub slice_seconds: u64,
    /// One probe request's timeout; a round must fit well inside an interval.
    #[serde(default = "default_probe_timeout")]
    #[garde(range(min = 1, max = MAX_PROBE_TIMEOUT_MS))]
    pub probe_timeout_ms: u64,
    /// How long after all traffic moved the probes may still see the old
    /// version (the load balancer's change is not immediate) before it is a breach.
    #[serde(default = "default_version_timeout")]
    #[garde(range(max = 3600))]
    pub version_timeout_seconds: u64,
    /// Also compare with the previous color's figures from before the switch.
    #[serde(default)]
    pub compare_with_previous: bool,
    /// With `compare_with_previous`: the new p99 may be at most this many times
    /// the previous color's.
    #[serde(default = "default_p99_regression")]
    #[garde(custom(above_zero))]
    #[schemars(extend("exclusiveMinimum" = 0))]
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
    /// The declared rules, then those across fields; `at` is where the
    /// section sits in its document (`monitor` in the config,
    /// `overrides.monitor` in the execution input).
    pub fn validate(&self, source: &str, at: &str) -> Result<()> {
        validation::check(source, at, self)?;
        let bad = |field: &str, problem: String| {
            Err(Error::bad_input(source, format!("{at}.{field}"), problem))
        };
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
        crate::records::metric_check::validate_all(&self.checks, source, &format!("{at}.checks"))
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
fn default_warm_capacity() -> u8 {
    100
}

fn default_min_healthy_fraction() -> f64 {
    1.0
}
pub(crate) fn no_gates(gates: &Gates) -> bool {
    gates == &Gates::default()
}
fn default_warm_window() -> u64 {
    24 * 3600
}
fn default_failed_color_grace() -> u64 {
    3600
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
    /// A release's migrations: its own (`overrides.migrations`), else the
    /// app's.
    pub fn migrations_or<'a>(
        &'a self,
        release: Option<&'a crate::records::migrations::Migrations>,
    ) -> Option<&'a crate::records::migrations::Migrations> {
        release.or(self.migrations.as_ref())
    }

    /// The container a release replaces the image of (and a migration the
    /// command of): the one `container` names, or the only one.
    pub fn release_container(
        &self,
        task_definition: &str,
        images: &[crate::ports::ContainerImage],
    ) -> Result<String> {
        let config = self;
        let names: Vec<&str> = images.iter().map(|c| c.container.as_str()).collect();
        let document = format!("config of `{}`", config.app);
        match (&config.container, names.as_slice()) {
            (Some(wanted), _) if names.contains(&wanted.as_str()) => Ok(wanted.clone()),
            (Some(wanted), _) => Err(Error::bad_input(
                document,
                "container",
                format!(
                    "task definition {task_definition} has no container `{wanted}` (it has: {})",
                    names.join(", ")
                ),
            )),
            (None, [only]) => Ok(only.to_string()),
            (None, _) => Err(Error::bad_input(
                document,
                "container",
                format!(
                    "task definition {task_definition} has {} containers ({}): name the one a release updates",
                    names.len(),
                    names.join(", ")
                ),
            )),
        }
    }

    pub fn parse(app: &str, parameter: &str, text: &str) -> Result<AppConfig> {
        let source = format!("config {parameter}");
        let config: AppConfig = parse::json(&source, text)?;
        config.validate(&source, app)?;
        Ok(config)
    }

    /// The declared rules, then those across fields and sections.
    fn validate(&self, source: &str, app: &str) -> Result<()> {
        validation::check(source, "", self)?;
        let bad = |field: &str, problem: String| Err(Error::bad_input(source, field, problem));
        if self.app != app {
            return bad(
                "app",
                format!("is `{}`, but the parameter belongs to `{app}`", self.app),
            );
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
        if let Some(test) = &self.test {
            if test.listener_arn == self.production.listener_arn && test.rule_arn.is_none() {
                return bad(
                    "test.rule_arn",
                    "is required when the test route shares the production listener".into(),
                );
            }
            if test.rule_arn.is_some() && test.rule_arn == self.production.rule_arn {
                return bad(
                    "test.rule_arn",
                    "is the production rule: smoke tests must never go through production".into(),
                );
            }
        }
        for (i, hook) in self.hooks.iter().enumerate() {
            hook.validate(source, &format!("hooks[{i}]"))?;
        }
        self.strategy.validate(source, "strategy")?;
        self.monitor.validate(source, "monitor")
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

/// App names become SSM path segments and resource names: keep them tame.
pub fn validate_app_name(source: &str, field: &str, app: &str) -> Result<()> {
    app_name(app, &()).map_err(|e| Error::bad_input(source, field, e.message().to_string()))
}

/// The schema pattern [`app_name`] keeps to.
pub const APP_NAME: &str = "^[A-Za-z0-9._-]{1,64}$";

fn app_name<S: AsRef<str> + ?Sized>(app: &S, _: &()) -> garde::Result {
    let app = app.as_ref();
    let ok = !app.is_empty()
        && app.len() <= 64
        && app
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(garde::Error::new(format!(
            "`{app}` is not an app name: use 1 to 64 letters, digits, `-`, `_` or `.`"
        )))
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
            m.contains("`strategy.bake_seconds`") && m.contains("86401 is greater than 86400"),
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
        let text = include_str!("../../../../cdk/example-config.json");
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
        for (timeout, says) in [(0, "0 is lower than 1"), (241, "241 is greater than 240")] {
            let e = problem(&test(timeout));
            assert!(
                e.contains("`test.route_timeout_seconds`") && e.contains(says),
                "{e}"
            );
        }
        assert!(AppConfig::parse("checkout", "/p", &test(240)).is_ok());
    }
}
