//! The HTTP prober against a real local HTTP server: what each probe asks
//! (past every cache) and where it looks for the release's version.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bluegreen_core::steps::monitor::{VersionCheck, VersionProber};
use bluegreen_monitor::{CACHE_BUSTER, HttpProber};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Answers every request with `head` (extra header lines) and `body`;
/// keeps each request's head.
async fn server(head: &'static str, body: &'static str) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/version", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(vec![]));
    let keep = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let keep = keep.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut read = 0;
                while read < buf.len() {
                    match s.read(&mut buf[read..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => read += n,
                    }
                    if buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                keep.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf[..read]).to_string());
                let response = format!(
                    "HTTP/1.1 200 OK\r\n{head}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(response.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    (url, seen)
}

const DATE: &str = "Date: Wed, 02 Dec 2026 12:22:02 GMT\r\n";

fn check(expected: &str) -> VersionCheck {
    VersionCheck {
        expected: expected.into(),
        header: None,
        json_path: None,
    }
}

async fn probe(url: &str, check: &VersionCheck) -> Vec<bluegreen_core::ports::ProbeResult> {
    HttpProber::new()
        .probe_version(url, 4, Duration::from_secs(2), check)
        .await
}

#[tokio::test]
async fn version_2_is_not_matched_in_the_date_header_or_another_version() {
    let (url, _) = server(DATE, r#"{"version": "12", "status": 200}"#).await;
    let out = probe(&url, &check("2")).await;
    assert_eq!(out.len(), 4);
    assert!(
        out.iter().all(|p| p.status == Some(200) && !p.has_marker),
        "{out:?}"
    );

    let (url, _) = server(DATE, r#"{"version": "2", "status": 200}"#).await;
    assert!(probe(&url, &check("2")).await.iter().all(|p| p.has_marker));
}

#[tokio::test]
async fn a_named_header_or_json_field_is_where_the_version_is_read() {
    // The sample apps' shape: the version in a JSON field and X-App-Version.
    let (url, _) = server("X-App-Version: v2\r\n", r#"{"build": {"version": "v1"}}"#).await;
    let header = VersionCheck {
        header: Some("x-app-version".into()),
        ..check("v2")
    };
    assert!(probe(&url, &header).await.iter().all(|p| p.has_marker));
    let field = VersionCheck {
        json_path: Some("build.version".into()),
        ..check("v2")
    };
    assert!(probe(&url, &field).await.iter().all(|p| !p.has_marker));
    // Neither named: the body's `version` field or `X-Version`, not X-App-Version.
    assert!(
        probe(&url, &check("v2"))
            .await
            .iter()
            .all(|p| !p.has_marker)
    );
}

#[tokio::test]
async fn every_probe_asks_past_caches() {
    let (url, seen) = server("", r#"{"version": "v2"}"#).await;
    let url = format!("{url}?full=1");
    probe(&url, &check("v2")).await;
    let heads = seen.lock().unwrap().clone();
    assert_eq!(heads.len(), 4);
    let mut targets = vec![];
    for head in &heads {
        let lower = head.to_ascii_lowercase();
        assert!(lower.contains("\r\ncache-control: no-cache\r\n"), "{head}");
        assert!(lower.contains("\r\npragma: no-cache\r\n"), "{head}");
        let target = head.split_whitespace().nth(1).unwrap().to_string();
        assert!(
            target.starts_with(&format!("/version?full=1&{CACHE_BUSTER}=")),
            "{target}"
        );
        targets.push(target);
    }
    targets.sort();
    targets.dedup();
    assert_eq!(targets.len(), 4, "each probe's URL is new: {targets:?}");
}
