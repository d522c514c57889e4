//! The GitHub client: octocrab for transport, authentication and the base
//! URL; our own retries, because octocrab's typed errors drop the headers a
//! rate limit is judged by.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use octocrab::Octocrab;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::{Error, Method, Result};
use super::retry::{RateHeaders, RetryPolicy, Verdict};
use super::settings::{Settings, Token};

/// How much of GitHub's error text an error keeps.
const MAX_MESSAGE_CHARS: usize = 300;

/// Whether a request may be sent again after an answer that leaves unknown
/// whether it took effect (a server error, a broken connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replay {
    /// Sending it twice does no harm.
    Always,
    /// Only after a rate limit, which GitHub answers before doing anything;
    /// otherwise the caller checks what happened before trying again.
    IfUnprocessed,
}

pub struct GitHub {
    octocrab: Octocrab,
    token: Token,
    api_url: String,
    owner: String,
    repo: String,
    retry: RetryPolicy,
}

impl fmt::Debug for GitHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHub")
            .field("api_url", &self.api_url)
            .field("owner", &self.owner)
            .field("repo", &self.repo)
            .finish_non_exhaustive()
    }
}

impl GitHub {
    pub fn new(settings: Settings) -> Result<GitHub> {
        let invalid = |problem: String| Error::InvalidSetting {
            name: "api_url",
            problem,
        };
        // octocrab would panic on a token that cannot be a header value.
        let token = settings.token.expose();
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::InvalidSetting {
                name: "token",
                problem: "empty, or holds characters an HTTP header cannot carry".to_string(),
            });
        }
        let api_url = settings.api_url.trim_end_matches('/').to_string();
        let octocrab = Octocrab::builder()
            .base_uri(api_url.as_str())
            .map_err(|e| invalid(format!("`{api_url}`: {e}")))?
            .personal_token(settings.token.expose().to_string())
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(30)))
            .build()
            .map_err(|e| invalid(format!("could not build a client for `{api_url}`: {e}")))?;
        Ok(GitHub {
            octocrab,
            token: settings.token,
            api_url,
            owner: settings.owner,
            repo: settings.repo,
            retry: RetryPolicy::default(),
        })
    }

    /// From `GITHUB_TOKEN`, `GITHUB_API_URL` and `GITHUB_REPOSITORY`.
    pub fn from_env() -> Result<GitHub> {
        GitHub::new(Settings::from_env()?)
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> GitHub {
        self.retry = retry;
        self
    }

    /// `/repos/{owner}/{repo}{rest}`.
    pub(crate) fn repo_path(&self, rest: &str) -> String {
        format!("/repos/{}/{}{rest}", self.owner, self.repo)
    }

    pub(crate) fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Sends a request, retrying as the policy and `replay` allow, and
    /// decodes a successful answer.
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        replay: Replay,
    ) -> Result<T> {
        let attempts = self.retry.attempts.max(1);
        let mut attempt = 1;
        loop {
            let (error, wait, rate_limited) = match self.send(method, path, body).await {
                Ok((status, headers, text)) => {
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs());
                    match self.retry.judge(status, headers, &text, attempt, now) {
                        Verdict::Done => return self.decode(method, path, &text),
                        Verdict::Fail => return Err(self.api_error(method, path, status, &text)),
                        Verdict::Retry { wait, rate_limited } => (
                            self.api_error(method, path, status, &text),
                            wait,
                            rate_limited,
                        ),
                    }
                }
                Err(error) => (error, self.retry.backoff(attempt), false),
            };
            if !rate_limited && replay == Replay::IfUnprocessed {
                return Err(error);
            }
            if rate_limited && wait > self.retry.max_wait {
                return Err(Error::RateLimited {
                    method,
                    path: path.to_string(),
                    wait_seconds: wait.as_secs(),
                    max_wait_seconds: self.retry.max_wait.as_secs(),
                });
            }
            if attempt >= attempts {
                return Err(Error::GaveUp {
                    method,
                    path: path.to_string(),
                    attempts,
                    last: error.to_string(),
                });
            }
            tracing::warn!(%method, path, attempt, wait_ms = wait.as_millis() as u64, error = %error, "GitHub request failed; trying again");
            self.retry.sleeper.sleep(wait).await;
            attempt += 1;
        }
    }

    /// One attempt: the status, the rate-limit headers and the body.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, RateHeaders, String)> {
        let transport = |e: octocrab::Error| Error::Transport {
            method,
            path: path.to_string(),
            problem: self.redact(&e.to_string()),
        };
        let response = match method {
            Method::Get => self.octocrab._get(path).await,
            Method::Post => self.octocrab._post(path, body).await,
            Method::Patch => self.octocrab._patch(path, body).await,
        }
        .map_err(transport)?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let headers = RateHeaders {
            retry_after: header("retry-after"),
            remaining: header("x-ratelimit-remaining"),
            reset: header("x-ratelimit-reset"),
        };
        let text = self
            .octocrab
            .body_to_string(response)
            .await
            .map_err(transport)?;
        Ok((status, headers, text))
    }

    fn decode<T: DeserializeOwned>(&self, method: Method, path: &str, text: &str) -> Result<T> {
        // Some answers (204) have no body; they decode as null.
        let text = if text.trim().is_empty() { "null" } else { text };
        serde_json::from_str(text).map_err(|e| Error::Decode {
            method,
            path: path.to_string(),
            problem: self.redact(&e.to_string()),
        })
    }

    fn api_error(&self, method: Method, path: &str, status: u16, text: &str) -> Error {
        let message = serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|v| {
                let message = v["message"].as_str()?.to_string();
                Some(match &v["errors"] {
                    Value::Null => message,
                    errors => format!("{message} {errors}"),
                })
            })
            .unwrap_or_else(|| text.trim().to_string());
        Error::Api {
            method,
            path: path.to_string(),
            status,
            message: shorten(&self.redact(&message), MAX_MESSAGE_CHARS),
        }
    }

    /// Text from outside with the token replaced, should it ever echo it.
    fn redact(&self, text: &str) -> String {
        match self.token.expose() {
            "" => text.to_string(),
            token => text.replace(token, "***"),
        }
    }
}

/// At most `max` characters, with an ellipsis when cut.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}
