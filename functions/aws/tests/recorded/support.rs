//! A local stand-in for an AWS query-protocol endpoint: it answers with
//! recorded responses and keeps the request bodies, so a test asserts on what
//! the adapter sends where the emulator is kinder than AWS.

use std::sync::{Arc, Mutex};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ssm::config::Credentials;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub type Seen = Arc<Mutex<Vec<String>>>;

/// Serves `body` to every request and keeps the request bodies.
pub async fn recorded(body: &'static str) -> (String, Seen) {
    recorded_answers(vec![("", body)]).await
}

/// Serves, to each request, the body of the first answer whose key the
/// request contains (e.g. `Action=ModifyListener`), and keeps the request bodies.
pub async fn recorded_answers(answers: Vec<(&'static str, &'static str)>) -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(vec![]));
    let keep = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let request = read_request(&mut s).await;
            let body = answers
                .iter()
                .find(|(key, _)| request.contains(key))
                .map_or("", |(_, body)| *body);
            keep.lock().unwrap().push(request);
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(resp.as_bytes()).await;
        }
    });
    (url, seen)
}

/// The body of one request (head read up to Content-Length).
async fn read_request(s: &mut tokio::net::TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return String::new();
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some(head_end) = text.find("\r\n\r\n") {
            let len = text[..head_end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if buf.len() >= head_end + 4 + len {
                return text[head_end + 4..].to_string();
            }
        }
    }
}

/// An SDK config that sends every call to `url`.
pub async fn sdk_config(url: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(url)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("k", "s", None, None, "test"))
        .load()
        .await
}
