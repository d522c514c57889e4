//! One HTTP exchange: send, read the body (bounded), time it.

use std::error::Error as _;
use std::time::{Duration, Instant};

use crate::request::Request;

/// Smoke-test endpoints answer small; a bigger body is a failure rather than
/// a way to exhaust the function's memory.
const MAX_BODY_BYTES: usize = 1 << 20;

/// Not `Debug`: the body may hold secrets.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    /// From sending the request to the last byte of the body.
    pub(crate) latency: Duration,
}

/// Sends `request`, giving up after `timeout` (connecting, waiting and
/// reading the body all count). The error says what went wrong, without the
/// URL (the caller reports that, masked).
pub(crate) async fn send(
    http: &reqwest::Client,
    request: &Request,
    timeout: Duration,
) -> Result<Response, String> {
    let started = Instant::now();
    match tokio::time::timeout(timeout, exchange(http, request)).await {
        Ok(Ok((status, body))) => Ok(Response {
            status,
            body,
            latency: started.elapsed(),
        }),
        Ok(Err(reason)) => Err(reason),
        Err(_) => Err(format!("timed out after {} ms", timeout.as_millis())),
    }
}

async fn exchange(http: &reqwest::Client, request: &Request) -> Result<(u16, Vec<u8>), String> {
    let mut builder = http
        .request(request.method.clone(), request.url.clone())
        .headers(request.headers.clone());
    if let Some(body) = &request.body {
        builder = builder.body(body.clone());
    }
    let mut response = builder.send().await.map_err(describe)?;
    let status = response.status().as_u16();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(describe)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(format!(
                "status {status}, but the response body is larger than {} KiB",
                MAX_BODY_BYTES / 1024
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}

/// reqwest's message and its causes ("error sending request: client error
/// (Connect): tcp connect error: Connection refused"), without the URL.
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}
