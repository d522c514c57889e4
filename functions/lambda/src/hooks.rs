//! [`HookSender`] over HTTP (hyper, rustls) and Lambda invokes: what the
//! smoke-test, monitor and rollback functions deliver lifecycle hooks with.
//! The Lambda client acts with the app's role (built per app, like the other
//! adapters), so an app's hooks can invoke only what its role allows.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use bluegreen_core::ports::{HookAnswer, HookSender, HookTarget};
use bytes::Bytes;
use http_body_util::Full;

use crate::http::{HttpsClient, describe, first_bytes, https_client};

/// How much of an answer a report keeps.
const DETAIL_CHARS: usize = 200;
/// How much of an answer is read at most: the report keeps a line of it.
const ANSWER_BYTES: usize = 64 * 1024;

/// The HTTP client hooks and chat notices go out with, built on first use:
/// most releases deliver none, and a function's Init (the emergency path's
/// cold start) should not pay for its TLS setup. Clones share one client.
#[derive(Clone, Default)]
pub struct HookHttp(Arc<OnceLock<Result<HttpsClient, String>>>);

impl HookHttp {
    fn client(&self) -> Result<&HttpsClient, &str> {
        self.0
            .get_or_init(|| https_client(true))
            .as_ref()
            .map_err(String::as_str)
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

/// A signed (or not) JSON POST, bounded by `timeout`. What goes wrong is
/// said without the URL, which may hold a token.
async fn post(
    http: Result<&HttpsClient, &str>,
    url: &str,
    body: &str,
    headers: &[(String, String)],
    timeout: Duration,
) -> HookAnswer {
    let failed = |detail: String| HookAnswer {
        status: None,
        detail: Some(detail),
    };
    let http = match http {
        Ok(http) => http,
        Err(e) => return failed(e.to_string()),
    };
    let (uri, authorization) = match without_credentials(url) {
        Ok(split) => split,
        Err(e) => return failed(e),
    };
    let mut request = http::Request::post(uri).header(
        http::header::USER_AGENT,
        concat!("bluegreen-hooks/", env!("CARGO_PKG_VERSION")),
    );
    if let Some(authorization) = authorization {
        request = request.header(http::header::AUTHORIZATION, authorization);
    }
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let request = match request.body(Full::new(Bytes::from(body.to_string()))) {
        Ok(request) => request,
        Err(e) => return failed(format!("not a request: {e}")),
    };
    let answered = tokio::time::timeout(timeout, async {
        let response = http.request(request).await.map_err(|e| describe(&e))?;
        let status = response.status().as_u16();
        // The answer's first bytes tell enough; one that never ends is cut.
        let text = match first_bytes(response.into_body(), ANSWER_BYTES).await {
            Ok(body) => String::from_utf8_lossy(&body).into_owned(),
            Err(_) => String::new(),
        };
        Ok::<_, String>((status, text))
    })
    .await;
    match answered {
        Ok(Ok((status, text))) => HookAnswer {
            status: Some(status),
            detail: Some(first(&text)).filter(|t| !t.is_empty()),
        },
        Ok(Err(e)) => failed(e),
        Err(_) => failed(format!("no answer within {} s", timeout.as_secs_f64())),
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

/// A URL's credentials (`https://user:secret@host/…`) go in a Basic
/// Authorization header, as curl and browsers send them: never in the
/// request, nor in the connection pool's (trace) logs, which name the
/// authority it connects to.
fn without_credentials(url: &str) -> Result<(String, Option<String>), String> {
    use base64::Engine;
    let mut parsed = url::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    if parsed.username().is_empty() && parsed.password().is_none() {
        return Ok((url.to_string(), None));
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let user = decode(parsed.username());
    let password = parsed.password().map(decode).unwrap_or_default();
    let _ = parsed.set_username("");
    let _ = parsed.set_password(None);
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    Ok((parsed.to_string(), Some(format!("Basic {token}"))))
}

fn first(text: &str) -> String {
    let line = text.trim();
    if line.chars().count() > DETAIL_CHARS {
        format!("{}…", line.chars().take(DETAIL_CHARS).collect::<String>())
    } else {
        line.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::without_credentials;

    #[test]
    fn credentials_leave_the_url_for_a_basic_authorization_header() {
        assert_eq!(
            without_credentials("https://hooks.example.com/x?a=1").unwrap(),
            ("https://hooks.example.com/x?a=1".to_string(), None)
        );
        // "user:p@ss" (percent-encoded in the URL), in Base64.
        assert_eq!(
            without_credentials("https://user:p%40ss@hooks.example.com/x").unwrap(),
            (
                "https://hooks.example.com/x".to_string(),
                Some("Basic dXNlcjpwQHNz".to_string())
            )
        );
        assert!(without_credentials("no url").is_err());
    }
}
