//! Lifecycle hooks (`hooks` in the app's config): a team's own checks and
//! chores at fixed points of a release, as an HTTP endpoint (a signed JSON
//! POST) or a Lambda function (invoked with the same JSON).

use garde::Validate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::records::validation::{HTTP_URL, arn, arn_pattern, http_url};

/// One hook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct Hook {
    /// When it runs.
    #[garde(skip)]
    pub at: HookPoint,
    /// An HTTP(S) endpoint that gets a signed POST (give this or
    /// `function_arn`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(custom(http_url)))]
    #[schemars(pattern(HTTP_URL))]
    pub url: Option<String>,
    /// A Lambda function invoked with the same JSON (synchronously).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[garde(inner(custom(arn("lambda", "function:"))))]
    #[schemars(pattern(arn_pattern("lambda", "function:")))]
    pub function_arn: Option<String>,
    /// How long it may take (1 to 60 s; 10 by default). An `on-rollback`
    /// hook is given at most [`ON_ROLLBACK_BUDGET_MS`], whatever this says.
    #[serde(default = "default_timeout")]
    #[garde(range(min = 1, max = 60))]
    pub timeout_seconds: u64,
    /// What its failure (an answer other than 2xx, an error, no answer in
    /// time) does: `fail` (the default: abort before traffic moved, roll
    /// back after) or `continue` (recorded in the step's result, the release
    /// goes on). An `on-rollback` hook never stops anything.
    #[serde(default)]
    #[garde(skip)]
    pub on_failure: OnHookFailure,
}

fn default_timeout() -> u64 {
    10
}

/// The most an emergency rollback waits for its `on-rollback` hooks, after
/// traffic has moved back: a hook never holds the rollback's answer longer.
pub const ON_ROLLBACK_BUDGET_MS: u64 = 2_000;

/// The points of a release where hooks run.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum HookPoint {
    /// The idle color runs the release and is healthy, before the smoke
    /// tests (the smoke-test function).
    AfterDeploy,
    /// The smoke tests passed; production traffic is about to move (before
    /// any gate).
    BeforeSwitch,
    /// A step moved traffic; its bake begins (the monitor's first call).
    AfterStep,
    /// The last bake passed: the release takes all traffic for good.
    AfterPromote,
    /// Traffic went back (by the state machine or an emergency rollback).
    OnRollback,
}

impl HookPoint {
    pub fn as_str(self) -> &'static str {
        match self {
            HookPoint::AfterDeploy => "after-deploy",
            HookPoint::BeforeSwitch => "before-switch",
            HookPoint::AfterStep => "after-step",
            HookPoint::AfterPromote => "after-promote",
            HookPoint::OnRollback => "on-rollback",
        }
    }

    /// Whether production traffic may already be on the release: a failing
    /// hook then rolls back instead of aborting.
    pub fn after_traffic(self) -> bool {
        matches!(
            self,
            HookPoint::AfterStep | HookPoint::AfterPromote | HookPoint::OnRollback
        )
    }
}

impl std::fmt::Display for HookPoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OnHookFailure {
    #[default]
    Fail,
    Continue,
}

/// Where an HTTP hook's signing secret lives: `<prefix>/<app>/hooks-secret`
/// (a SecureString only the app's functions may read).
pub const SECRET_LEAF: &str = "hooks-secret";

impl Hook {
    /// What it calls, for reports: its URL without query or credentials
    /// (which may hold tokens), or its function's ARN.
    pub fn target(&self) -> String {
        match (&self.url, &self.function_arn) {
            (Some(url), _) => redacted_url(url),
            (None, Some(arn)) => arn.clone(),
            (None, None) => String::new(),
        }
    }

    /// The rule across its fields: exactly one target.
    pub fn validate(&self, source: &str, at: &str) -> Result<()> {
        match (&self.url, &self.function_arn) {
            (Some(_), None) | (None, Some(_)) => Ok(()),
            (Some(_), Some(_)) => Err(Error::bad_input(
                source,
                at,
                "give either `url` or `function_arn`, not both",
            )),
            (None, None) => Err(Error::bad_input(
                source,
                at,
                "needs `url` (an HTTP endpoint) or `function_arn` (a Lambda function)",
            )),
        }
    }
}

/// `https://hooks.example.com/deploy` from
/// `https://user:token@hooks.example.com/deploy?key=secret`.
pub fn redacted_url(url: &str) -> String {
    let without_query = url.split(['?', '#']).next().unwrap_or_default();
    match without_query.split_once("://") {
        Some((scheme, rest)) => {
            let (host_and_more, path) = match rest.find('/') {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            let host = host_and_more.rsplit('@').next().unwrap_or_default();
            format!("{scheme}://{host}{path}")
        }
        None => without_query.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(value: serde_json::Value) -> Hook {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_hook_has_one_target_and_defaults() {
        let h = hook(serde_json::json!({"at": "after-step", "url": "https://h.example.com/x"}));
        assert_eq!((h.timeout_seconds, h.on_failure), (10, OnHookFailure::Fail));
        assert!(h.validate("t", "hooks[0]").is_ok());
        let both = hook(serde_json::json!({"at": "after-step", "url": "https://h",
            "function_arn": "arn:aws:lambda:us-east-1:1:function:f"}));
        assert!(both.validate("t", "hooks[0]").is_err());
        let none = hook(serde_json::json!({"at": "after-step"}));
        let e = none.validate("t", "hooks[1]").unwrap_err().to_string();
        assert!(e.contains("`hooks[1]`"), "{e}");
    }

    #[test]
    fn reports_never_show_a_urls_credentials_or_query() {
        assert_eq!(
            redacted_url("https://user:tok@hooks.example.com/deploy?key=s#x"),
            "https://hooks.example.com/deploy"
        );
        assert_eq!(redacted_url("http://h:8080"), "http://h:8080");
    }
}
