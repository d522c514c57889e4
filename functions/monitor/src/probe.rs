//! [`VersionProber`] over HTTP: a short concurrent burst against the production URL.
//! Proves what the data plane serves, which the load balancer's API answer
//! cannot: listener changes take effect with a delay.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bluegreen_core::ports::ProbeResult;
use bluegreen_core::steps::monitor::{VersionCheck, VersionProber};
use bluegreen_lambda::http::{HttpsClient, first_bytes, https_client};
use tokio::task::JoinSet;

#[derive(Clone)]
pub struct HttpProber {
    client: Result<HttpsClient, String>,
}

impl HttpProber {
    pub fn new() -> HttpProber {
        HttpProber {
            // No connection reuse: each probe should be able to land on either
            // color, as a new user's request would.
            client: https_client(false),
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

fn describe(e: &hyper_util::client::legacy::Error) -> String {
    if e.is_connect() {
        "connection failed".to_string()
    } else {
        bluegreen_lambda::http::describe(e)
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
    client: Result<HttpsClient, String>,
    url: String,
    timeout: Duration,
    check: VersionCheck,
) -> ProbeResult {
    let started = Instant::now();
    let result = tokio::time::timeout(timeout, async {
        let client = client?;
        let request = http::Request::get(uncached(&url))
            .header(http::header::USER_AGENT, "bluegreen-monitor")
            .header(http::header::CACHE_CONTROL, "no-cache")
            .header(http::header::PRAGMA, "no-cache")
            .body(Default::default())
            .map_err(|e| format!("not a request: {e}"))?;
        let response = client.request(request).await.map_err(|e| describe(&e))?;
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let body = first_bytes(response.into_body(), MAX_BODY)
            .await
            .map_err(|e| e.to_string())?;
        let found = check.matches(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())), &body);
        Ok::<_, String>((status, found))
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
            error: Some(e),
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
