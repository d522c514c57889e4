//! The HTTP/1.1 client the Lambdas' own requests go out with (hooks, chat
//! notices, the monitor's probes): hyper-util's client over hyper-rustls,
//! the stack the AWS SDK's client is built from and every function already
//! links, rather than a second one (reqwest cost deploy-idle ~0.1 MB zipped).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

pub type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A client for `https` (the system's roots) and plain `http`, following no
/// redirect and taking no proxy from the environment. Without
/// `reuse_connections` every request opens its own connection (a probe
/// should land on either color, as a new user's request would).
pub fn https_client(reuse_connections: bool) -> Result<HttpsClient, String> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
        .map_err(|e| format!("no TLS roots: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    let mut builder = Client::builder(TokioExecutor::new());
    if !reuse_connections {
        builder.pool_max_idle_per_host(0);
    }
    Ok(builder.build(https))
}

/// The first `limit` bytes of a body; the rest is not read.
pub async fn first_bytes(
    mut body: hyper::body::Incoming,
    limit: usize,
) -> Result<Vec<u8>, hyper::Error> {
    let mut out = Vec::new();
    while out.len() < limit {
        let Some(frame) = body.frame().await else {
            break;
        };
        if let Ok(data) = frame?.into_data() {
            let take = data.len().min(limit - out.len());
            out.extend_from_slice(&data[..take]);
        }
    }
    Ok(out)
}

/// The client's error and its causes (hyper's say neither the URL nor the
/// body).
pub fn describe(e: &hyper_util::client::legacy::Error) -> String {
    let mut said = if e.is_connect() {
        "could not connect".to_string()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        said.push_str(": ");
        said.push_str(&cause.to_string());
        source = cause.source();
    }
    said
}
