//! Before any test: does the test route answer with the release under test?
//!
//! A load balancer applies a listener change with a delay. Right after
//! deploy-idle re-points the test route, requests can still reach the color
//! that serves production, and tests passing there would prove nothing about
//! the release. So the run first asks a version endpoint through the same
//! route until it names the release several times in a row.

use std::time::{Duration, Instant};

use bluegreen_core::steps::monitor::VersionCheck;
use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};

/// Responses are read up to this size when looking for the marker.
const MAX_BODY: usize = 64 * 1024;

/// What to ask, what to expect, for how long.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteCheck {
    /// A version endpoint reached through the test route.
    pub url: String,
    /// How a response names the release: a named header's whole value or a
    /// JSON field, as the monitor's probes read it (never a substring of any
    /// header: version `2` must not match a `Date` header).
    pub version: VersionCheck,
    /// Answers in a row that must carry the marker.
    pub consecutive: u32,
    pub timeout: Duration,
    pub interval: Duration,
    /// For one request.
    pub request_timeout: Duration,
}

impl RouteCheck {
    pub fn new(url: impl Into<String>, version: VersionCheck, timeout: Duration) -> Self {
        RouteCheck {
            url: url.into(),
            version,
            consecutive: 3,
            timeout,
            interval: Duration::from_millis(500),
            request_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteReport {
    pub url: String,
    pub marker: String,
    /// The release answered `consecutive` times in a row.
    pub verified: bool,
    pub requests: u32,
    pub waited_ms: u64,
    /// The last answer without the marker, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_miss: Option<String>,
}

impl RouteReport {
    /// Why the tests did not run, for the summary.
    pub fn problem(&self) -> Option<String> {
        (!self.verified).then(|| {
            format!(
                "the test route did not answer with `{}` in {} requests over {:.1} s ({}; last: {})",
                self.marker,
                self.requests,
                self.waited_ms as f64 / 1000.0,
                self.url,
                self.last_miss.as_deref().unwrap_or("no answer"),
            )
        })
    }
}

/// Asks until the marker is seen `consecutive` times in a row or the time is
/// up. Never fails: the report says what was seen.
pub async fn check_route(http: &reqwest::Client, check: &RouteCheck) -> RouteReport {
    let started = Instant::now();
    let mut streak = 0;
    let mut requests = 0;
    let mut last_miss = None;
    loop {
        requests += 1;
        match ask(http, check).await {
            Ok(()) => streak += 1,
            Err(miss) => {
                debug!(url = %check.url, miss, "test route does not serve the release yet");
                streak = 0;
                last_miss = Some(miss);
            }
        }
        let waited = started.elapsed();
        let verified = streak >= check.consecutive.max(1);
        if verified || waited >= check.timeout {
            let report = RouteReport {
                url: check.url.clone(),
                marker: check.version.expected.clone(),
                verified,
                requests,
                waited_ms: waited.as_millis() as u64,
                last_miss,
            };
            if verified {
                info!(url = %check.url, requests, waited_ms = report.waited_ms, "test route serves the release");
            } else {
                warn!(url = %check.url, requests, last_miss = ?report.last_miss, "test route never served the release");
            }
            return report;
        }
        tokio::time::sleep(check.interval.min(check.timeout - waited)).await;
    }
}

/// One request: `Ok` when the answer carries the marker.
async fn ask(http: &reqwest::Client, check: &RouteCheck) -> Result<(), String> {
    let answer = tokio::time::timeout(check.request_timeout, async {
        let response = http.get(&check.url).send().await?;
        let status = response.status();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .filter_map(|(k, v)| {
                v.to_str()
                    .ok()
                    .map(|v| (k.as_str().to_string(), v.to_string()))
            })
            .collect();
        let body = response.bytes().await?;
        let named = check.version.matches(
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            &body[..body.len().min(MAX_BODY)],
        );
        Ok::<_, reqwest::Error>((status, named))
    })
    .await;
    // Any status counts once the marker is there: this proves which version
    // answers; whether it answers well is for the tests that follow.
    match answer {
        Ok(Ok((_, true))) => Ok(()),
        Ok(Ok((status, false))) => Err(format!("{} without the marker", status.as_u16())),
        Ok(Err(e)) if e.is_connect() => Err("connection failed".to_string()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "no answer within {} ms",
            check.request_timeout.as_millis()
        )),
    }
}
