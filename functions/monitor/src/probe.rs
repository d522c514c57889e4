//! [`VersionProber`] over HTTP: a short concurrent burst against the production URL.
//! Proves what the data plane serves, which the load balancer's API answer
//! cannot: listener changes take effect with a delay.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bluegreen_core::ports::ProbeResult;
use bluegreen_core::steps::monitor::{VersionCheck, VersionProber};
use tokio::task::JoinSet;

#[derive(Clone)]
pub struct HttpProber {
    client: reqwest::Client,
}

impl HttpProber {
    pub fn new() -> HttpProber {
        HttpProber {
            // No connection reuse: each probe should be able to land on either
            // color, as a new user's request would.
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .user_agent("bluegreen-monitor")
                .build()
                .expect("HTTP client builds"),
        }
    }
}

impl Default for HttpProber {
    fn default() -> Self {
        HttpProber::new()
    }
}

/// Responses are read up to this size when looking for the marker.
const MAX_BODY: usize = 64 * 1024;

fn describe(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "connection failed".to_string()
    } else if e.is_timeout() {
        "timed out".to_string()
    } else {
        e.to_string()
    }
}

/// Every probe asks past caches: no-cache headers, and a query parameter no
/// cache has seen (a CDN in front of the ALB may ignore the headers).
fn uncached(url: &str) -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nonce = format!(
        "{:x}-{:x}",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let (base, fragment) = url
        .split_once('#')
        .map_or((url, None), |(b, f)| (b, Some(f)));
    let sep = if base.contains('?') { '&' } else { '?' };
    let mut out = format!("{base}{sep}{CACHE_BUSTER}={nonce}");
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// The query parameter that makes each probe's URL new.
pub const CACHE_BUSTER: &str = "bluegreen-probe";

async fn probe_checked(
    client: reqwest::Client,
    url: String,
    timeout: Duration,
    check: VersionCheck,
) -> ProbeResult {
    let started = Instant::now();
    let result = tokio::time::timeout(timeout, async {
        let response = client
            .get(uncached(&url))
            .header(reqwest::header::CACHE_CONTROL, "no-cache")
            .header(reqwest::header::PRAGMA, "no-cache")
            .send()
            .await?;
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let body = response.bytes().await?;
        let body = &body[..body.len().min(MAX_BODY)];
        let found = check.matches(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())), body);
        Ok::<_, reqwest::Error>((status, found))
    })
    .await;
    let latency_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(Ok((status, has_marker))) => ProbeResult {
            status: Some(status),
            latency_ms,
            has_marker,
            error: None,
        },
        Ok(Err(e)) => ProbeResult {
            status: None,
            latency_ms,
            has_marker: false,
            error: Some(describe(&e)),
        },
        Err(_) => ProbeResult {
            status: None,
            latency_ms,
            has_marker: false,
            error: Some(format!("no answer within {} ms", timeout.as_millis())),
        },
    }
}

impl VersionProber for HttpProber {
    async fn probe_version(
        &self,
        url: &str,
        count: u32,
        timeout: Duration,
        check: &VersionCheck,
    ) -> Vec<ProbeResult> {
        let mut set = JoinSet::new();
        for _ in 0..count {
            set.spawn(probe_checked(
                self.client.clone(),
                url.to_string(),
                timeout,
                check.clone(),
            ));
        }
        let mut results = Vec::with_capacity(count as usize);
        while let Some(r) = set.join_next().await {
            results.push(r.unwrap_or_else(|e| ProbeResult {
                status: None,
                latency_ms: 0,
                has_marker: false,
                error: Some(format!("probe task failed: {e}")),
            }));
        }
        results
    }
}
