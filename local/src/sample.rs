//! A sample app version as a real local HTTP server. It answers `/health`,
//! `/version` and `/checkout` (any other path like `/version`) with its version
//! in the body and an `X-App-Version` header, or fails the way it is told to.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    Healthy,
    /// Every request gets this status.
    Failing(u16),
    /// Every request waits this long before a healthy answer.
    Slow(Duration),
    /// `/health` fails: smoke tests catch it before any user does.
    BrokenHealth,
    /// Healthy but for `/checkout`, which answers 500: it passes the smoke
    /// tests and is caught in production by the monitor's probes.
    BrokenCheckout,
}

impl Behaviour {
    /// The behaviour a sample release's version names: `...-broken-health`,
    /// `...-broken-checkout`, else healthy.
    pub fn from_version(version: &str) -> Behaviour {
        if version.contains("broken-health") {
            Behaviour::BrokenHealth
        } else if version.contains("broken-checkout") {
            Behaviour::BrokenCheckout
        } else {
            Behaviour::Healthy
        }
    }

    async fn status(&self, path: &str) -> u16 {
        match self {
            Behaviour::Healthy => 200,
            Behaviour::Failing(s) => *s,
            Behaviour::Slow(d) => {
                tokio::time::sleep(*d).await;
                200
            }
            Behaviour::BrokenHealth if path.starts_with("/health") => 503,
            Behaviour::BrokenCheckout if path.starts_with("/checkout") => 500,
            Behaviour::BrokenHealth | Behaviour::BrokenCheckout => 200,
        }
    }
}

pub struct SampleApp {
    pub url: String,
    pub version: String,
    behaviour: Arc<Mutex<Behaviour>>,
    task: tokio::task::JoinHandle<()>,
}

impl SampleApp {
    pub async fn start(version: &str, behaviour: Behaviour) -> SampleApp {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind sample app");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Mutex::new(behaviour));
        let (v, b) = (version.to_string(), shared.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (v, b) = (v.clone(), b.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let mut read = 0;
                    // Read the request head; bodies are ignored.
                    while read < buf.len() {
                        match stream.read(&mut buf[read..]).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => read += n,
                        }
                        if buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                            break;
                        }
                    }
                    let head = String::from_utf8_lossy(&buf[..read]).to_string();
                    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                    let behaviour = b.lock().unwrap().clone();
                    let status = behaviour.status(&path).await;
                    let body = format!("{{\"version\": \"{v}\", \"status\": {status}}}");
                    let response = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nX-App-Version: {v}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        SampleApp {
            url,
            version: version.to_string(),
            behaviour: shared,
            task,
        }
    }

    pub fn set(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }
}

impl Drop for SampleApp {
    fn drop(&mut self) {
        self.task.abort();
    }
}
