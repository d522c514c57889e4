//! [`Prober`] over HTTP: a short concurrent burst against the production URL.
//! Proves what the data plane serves, which the load balancer's API answer
//! cannot: listener changes take effect with a delay.

use std::time::{Duration, Instant};

use bluegreen_core::ports::{ProbeResult, Prober};
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

async fn probe_once(
    client: reqwest::Client,
    url: String,
    timeout: Duration,
    marker: Option<String>,
) -> ProbeResult {
    let started = Instant::now();
    let result = tokio::time::timeout(timeout, async {
        let response = client.get(&url).send().await?;
        let status = response.status().as_u16();
        let in_headers = marker.as_deref().is_some_and(|m| {
            response
                .headers()
                .values()
                .any(|v| v.to_str().is_ok_and(|v| v.contains(m)))
        });
        let body = response.bytes().await?;
        let body = &body[..body.len().min(MAX_BODY)];
        let in_body = marker
            .as_deref()
            .is_some_and(|m| String::from_utf8_lossy(body).contains(m));
        Ok::<_, reqwest::Error>((status, in_headers || in_body))
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

fn describe(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "connection failed".to_string()
    } else if e.is_timeout() {
        "timed out".to_string()
    } else {
        e.to_string()
    }
}

impl Prober for HttpProber {
    async fn probe(
        &self,
        url: &str,
        count: u32,
        timeout: Duration,
        marker: Option<&str>,
    ) -> Vec<ProbeResult> {
        let mut set = JoinSet::new();
        for _ in 0..count {
            set.spawn(probe_once(
                self.client.clone(),
                url.to_string(),
                timeout,
                marker.map(str::to_string),
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
