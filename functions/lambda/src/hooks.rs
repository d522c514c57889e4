//! [`HookSender`] over HTTP (reqwest, rustls) and Lambda invokes: what the
//! smoke-test, monitor and rollback functions deliver lifecycle hooks with.
//! The Lambda client acts with the app's role (built per app, like the other
//! adapters), so an app's hooks can invoke only what its role allows.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use bluegreen_core::ports::{HookAnswer, HookSender, HookTarget};

/// How much of an answer a report keeps.
const DETAIL_CHARS: usize = 200;

/// The HTTP client hooks and chat notices go out with, built on first use:
/// most releases deliver none, and a function's Init (the emergency path's
/// cold start) should not pay for its TLS setup. Clones share one client.
#[derive(Clone, Default)]
pub struct HookHttp(Arc<OnceLock<reqwest::Client>>);

impl HookHttp {
    fn client(&self) -> &reqwest::Client {
        self.0.get_or_init(http_client)
    }
}

#[derive(Clone)]
pub struct Hooks {
    http: HookHttp,
    lambda: aws_sdk_lambda::Client,
}

impl Hooks {
    pub fn new(http: HookHttp, sdk: &aws_config::SdkConfig) -> Hooks {
        Hooks {
            http,
            lambda: aws_sdk_lambda::Client::new(sdk),
        }
    }
}

/// [`HookSender`] over HTTP only: what deploy-idle and the switch send chat
/// notices with (webhooks are URLs). Linking no Lambda client keeps those
/// functions small; a Lambda target is refused, saying so.
#[derive(Clone)]
pub struct HttpHooks {
    http: HookHttp,
}

impl HttpHooks {
    pub fn new(http: HookHttp) -> HttpHooks {
        HttpHooks { http }
    }
}

impl HookSender for HttpHooks {
    async fn deliver(
        &self,
        target: &HookTarget,
        body: &str,
        headers: &[(String, String)],
        timeout: Duration,
    ) -> HookAnswer {
        match target {
            HookTarget::Url(url) => post(self.http.client(), url, body, headers, timeout).await,
            HookTarget::Function(_) => HookAnswer {
                status: None,
                detail: Some("this function delivers HTTP only".into()),
            },
        }
    }
}

/// A client for hooks: no redirects (a signed delivery goes where the
/// config says, not where an answer points), no proxy from the environment.
fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("bluegreen-hooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a reqwest client with rustls builds")
}

impl HookSender for Hooks {
    async fn deliver(
        &self,
        target: &HookTarget,
        body: &str,
        headers: &[(String, String)],
        timeout: Duration,
    ) -> HookAnswer {
        match target {
            HookTarget::Url(url) => post(self.http.client(), url, body, headers, timeout).await,
            HookTarget::Function(arn) => self.invoke(arn, body, timeout).await,
        }
    }
}

/// A signed (or not) JSON POST, bounded by `timeout`.
async fn post(
    http: &reqwest::Client,
    url: &str,
    body: &str,
    headers: &[(String, String)],
    timeout: Duration,
) -> HookAnswer {
    let mut request = http.post(url).timeout(timeout).body(body.to_string());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let answered = tokio::time::timeout(timeout, async {
        let response = request.send().await?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        Ok::<_, reqwest::Error>((status, text))
    })
    .await;
    match answered {
        Ok(Ok((status, text))) => HookAnswer {
            status: Some(status),
            detail: Some(first(&text)).filter(|t| !t.is_empty()),
        },
        // reqwest's errors name the URL, which may hold a token.
        Ok(Err(e)) => HookAnswer {
            status: None,
            detail: Some(describe(&e.without_url(), timeout)),
        },
        Err(_) => HookAnswer {
            status: None,
            detail: Some(format!("no answer within {} s", timeout.as_secs_f64())),
        },
    }
}

impl Hooks {
    async fn invoke(&self, arn: &str, body: &str, timeout: Duration) -> HookAnswer {
        let call = self
            .lambda
            .invoke()
            .function_name(arn)
            .payload(Blob::new(body.as_bytes().to_vec()))
            .send();
        match tokio::time::timeout(timeout, call).await {
            Ok(Ok(out)) => {
                let answer = out
                    .payload
                    .map(|p| String::from_utf8_lossy(p.as_ref()).into_owned())
                    .unwrap_or_default();
                match out.function_error {
                    // The function raised: its error is the answer.
                    Some(_) => {
                        let error: serde_json::Value =
                            serde_json::from_str(&answer).unwrap_or_default();
                        let said =
                            match (error["errorType"].as_str(), error["errorMessage"].as_str()) {
                                (Some(kind), Some(message)) => format!("{kind}: {message}"),
                                _ => answer.clone(),
                            };
                        HookAnswer {
                            status: Some(500),
                            detail: Some(format!("raised {}", first(&said))),
                        }
                    }
                    None => HookAnswer {
                        status: Some(200),
                        detail: Some(first(&answer)).filter(|t| !t.is_empty()),
                    },
                }
            }
            Ok(Err(e)) => HookAnswer {
                status: None,
                detail: Some(format!(
                    "invoke failed: {}",
                    aws_smithy_types::error::display::DisplayErrorContext(&e)
                )),
            },
            Err(_) => HookAnswer {
                status: None,
                detail: Some(format!("no answer within {} s", timeout.as_secs_f64())),
            },
        }
    }
}

fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        format!("no answer within {} s", timeout.as_secs_f64())
    } else if e.is_connect() {
        format!("could not connect: {e}")
    } else {
        e.to_string()
    }
}

fn first(text: &str) -> String {
    let line = text.trim();
    if line.chars().count() > DETAIL_CHARS {
        format!("{}…", line.chars().take(DETAIL_CHARS).collect::<String>())
    } else {
        line.to_string()
    }
}
