//! Running an app's lifecycle hooks at one point of a release: the payload
//! every hook at that point gets, its HMAC-SHA256 signature for HTTP hooks,
//! the deliveries (all at once, each bounded by its timeout), and what they
//! came to. The Lambdas call this at their points (docs/hooks.md): the
//! smoke-test function before and after the smoke tests, the monitor at a
//! bake's first call and at promotion, the rollback once traffic is back.

use std::time::Duration;

use futures_util::future::join_all;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use time::OffsetDateTime;

use crate::color::Color;
use crate::error::{Error, Result};
use crate::ports::{HookAnswer, HookSender, HookTarget, ParameterStore};
use crate::records::config::AppConfig;
use crate::records::hooks::{Hook, HookPoint, ON_ROLLBACK_BUDGET_MS, OnHookFailure, SECRET_LEAF};
use crate::records::store::AppStore;
use crate::world::split::Split;

/// The headers of an HTTP hook (docs/hooks.md says how to verify them).
pub const SIGNATURE_HEADER: &str = "X-Bluegreen-Signature";
pub const DELIVERY_HEADER: &str = "X-Bluegreen-Delivery";
pub const HOOK_HEADER: &str = "X-Bluegreen-Hook";

/// What the hooks at one point are told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookEvent {
    /// Unique per execution, point and step: a receiver that sees it twice
    /// (a retried step delivers again) can skip the second.
    pub delivery: String,
    pub at: HookPoint,
    pub app: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_arn: Option<String>,
    /// The color the release runs on, and the one it replaces.
    pub release_color: Color,
    pub previous_color: Color,
    /// The step (index) and its weight on the release, from `after-step` on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u8>,
    /// Production's split as the step that calls the hooks left it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<Split>,
    /// Where the release answers before it has traffic (the test route),
    /// and production's URL (the monitor's probe URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub production_url: Option<String>,
    /// Why traffic went back (`on-rollback`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub sent_at: OffsetDateTime,
}

/// Where a release stands when its hooks run; the rest of the event comes
/// from the config.
#[derive(Debug, Clone)]
pub struct HookPlace<'a> {
    pub at: HookPoint,
    pub app: &'a str,
    pub version: &'a str,
    pub execution_arn: Option<&'a str>,
    pub release_color: Color,
    pub step: Option<usize>,
    pub weight: Option<u8>,
    pub weights: Option<Split>,
    pub reason: Option<&'a str>,
}

pub use crate::document::outcomes::HookResult;

impl HookEvent {
    pub fn new(config: &AppConfig, place: &HookPlace<'_>, now: OffsetDateTime) -> HookEvent {
        let step = place.step.map_or_else(String::new, |s| format!("/{s}"));
        HookEvent {
            delivery: format!(
                "{}/{}{step}",
                place.execution_arn.unwrap_or(place.version),
                place.at
            ),
            at: place.at,
            app: place.app.to_string(),
            version: place.version.to_string(),
            execution_arn: place.execution_arn.map(str::to_string),
            release_color: place.release_color,
            previous_color: place.release_color.other(),
            step: place.step,
            weight: place.weight,
            weights: place.weights,
            test_url: config.test.as_ref().map(|t| t.url.clone()),
            production_url: config.monitor.probe_url.clone(),
            reason: place.reason.map(str::to_string),
            sent_at: now,
        }
    }
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the timestamp is
/// signed with the body, so a receiver can refuse an old delivery replayed.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// The hooks of `config` at `place.at`, delivered at once and each bounded
/// by its timeout. Returns every delivery's result; fails with
/// `HookFailed` when one whose `on_failure` is `fail` did not pass (an
/// `on-rollback` hook never fails the step).
pub async fn run_hooks<P, H>(
    params: &P,
    prefix: &str,
    sender: &H,
    config: &AppConfig,
    place: &HookPlace<'_>,
    now: OffsetDateTime,
) -> Result<Vec<HookResult>>
where
    P: ParameterStore,
    H: HookSender,
{
    let hooks: Vec<&Hook> = config.hooks.iter().filter(|h| h.at == place.at).collect();
    if hooks.is_empty() {
        return Ok(vec![]);
    }
    let event = HookEvent::new(config, place, now);
    let body = serde_json::to_string(&event).expect("a hook event serialises");
    let secret = if hooks.iter().any(|h| h.url.is_some()) {
        let store = AppStore::new(params, prefix)?;
        let name = store.parameter(place.app, SECRET_LEAF);
        match params.get(&name).await {
            Ok(Some(p)) if !p.value.is_empty() => Ok(p.value),
            Ok(_) => Err(format!(
                "no signing secret at {name}: create it with `aws ssm put-parameter --type SecureString --name {name} --value \"$(openssl rand -hex 32)\"`"
            )),
            Err(e) => Err(format!("could not read the signing secret {name}: {e}")),
        }
    } else {
        Ok(String::new())
    };
    let budget =
        (place.at == HookPoint::OnRollback).then(|| Duration::from_millis(ON_ROLLBACK_BUDGET_MS));
    let deliveries = hooks.iter().map(|hook| {
        let secret = &secret;
        let body = &body;
        let delivery = &event.delivery;
        async move {
            let timeout = Duration::from_secs(hook.timeout_seconds);
            let timeout = budget.map_or(timeout, |b| b.min(timeout));
            let answer = match (&hook.url, &hook.function_arn, secret) {
                (Some(url), _, Ok(secret)) => {
                    let headers = vec![
                        ("Content-Type".to_string(), "application/json".to_string()),
                        (
                            SIGNATURE_HEADER.to_string(),
                            signature(secret, now.unix_timestamp(), body),
                        ),
                        (DELIVERY_HEADER.to_string(), delivery.clone()),
                        (HOOK_HEADER.to_string(), place.at.to_string()),
                    ];
                    sender
                        .deliver(&HookTarget::Url(url.clone()), body, &headers, timeout)
                        .await
                }
                (Some(_), _, Err(why)) => HookAnswer {
                    status: None,
                    detail: Some(why.clone()),
                },
                (None, Some(arn), _) => {
                    sender
                        .deliver(&HookTarget::Function(arn.clone()), body, &[], timeout)
                        .await
                }
                (None, None, _) => HookAnswer {
                    status: None,
                    detail: Some("no url or function_arn".into()),
                },
            };
            HookResult {
                at: place.at,
                target: hook.target(),
                passed: answer.status.is_some_and(|s| (200..300).contains(&s)),
                status: answer.status,
                detail: answer.detail,
                on_failure: hook.on_failure,
            }
        }
    });
    let results = join_all(deliveries).await;
    for r in &results {
        if r.passed {
            tracing::info!(app = place.app, at = %place.at, target = %r.target, status = ?r.status, "hook passed");
        } else {
            tracing::warn!(app = place.app, at = %place.at, target = %r.target, status = ?r.status,
                           detail = ?r.detail, "hook failed");
        }
    }
    let failures: Vec<String> = results
        .iter()
        .filter(|r| !r.passed && r.on_failure == OnHookFailure::Fail)
        .map(|r| {
            let why = match (r.status, &r.detail) {
                (Some(s), Some(d)) => format!("answered {s}: {d}"),
                (Some(s), None) => format!("answered {s}"),
                (None, Some(d)) => d.clone(),
                (None, None) => "no answer".to_string(),
            };
            format!("{} {why}", r.target)
        })
        .collect();
    if failures.is_empty() || place.at == HookPoint::OnRollback {
        Ok(results)
    } else {
        Err(Error::HookFailed {
            app: place.app.to_string(),
            at: place.at.to_string(),
            failures: failures.join("; "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_an_hmac_of_the_timestamp_and_the_body() {
        // What `printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac s3cret`
        // prints: a receiver in any language gets the same.
        assert_eq!(
            signature("s3cret", 1_700_000_000, r#"{"a":1}"#),
            "t=1700000000,v1=1698a50bc74d1ff1db85c4e0a5297c2ad9fdba245d5737cdb789e4cc6e098940"
        );
    }
}
