//! When a GitHub answer is worth asking again, and how long to wait first:
//! server errors back off exponentially; rate limits wait as long as GitHub
//! says, unless that is longer than a CI step should hang.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// Waits between attempts. Injectable so that tests neither sleep nor lose
/// sight of how long the client would have waited.
pub trait Sleeper: Send + Sync {
    fn sleep(&self, wait: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// Really waits.
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, wait: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(wait))
    }
}

#[derive(Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The wait after the first server error; doubled after each one.
    pub base_delay: Duration,
    /// No single wait is longer. A rate limit that needs longer fails at once
    /// rather than holding the job.
    pub max_wait: Duration,
    pub sleeper: Arc<dyn Sleeper>,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            attempts: 4,
            base_delay: Duration::from_secs(1),
            max_wait: Duration::from_secs(60),
            sleeper: Arc::new(TokioSleeper),
        }
    }
}

/// GitHub's wait when a secondary rate limit names none: "at least one minute".
const SECONDARY_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// The headers of an answer that bear on retrying.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateHeaders {
    pub retry_after: Option<u64>,
    pub remaining: Option<u64>,
    /// Epoch seconds when the primary rate limit resets.
    pub reset: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Done,
    /// Worth another attempt after `wait`. `rate_limited` answers were not
    /// processed, so even a non-idempotent request may be sent again.
    Retry {
        wait: Duration,
        rate_limited: bool,
    },
    Fail,
}

impl RetryPolicy {
    /// What to do with an answer to attempt number `attempt` (from 1).
    pub(crate) fn judge(
        &self,
        status: u16,
        headers: RateHeaders,
        body: &str,
        attempt: u32,
        now_epoch: u64,
    ) -> Verdict {
        if (200..300).contains(&status) {
            return Verdict::Done;
        }
        if status == 403 || status == 429 {
            let wait = if let Some(seconds) = headers.retry_after {
                Some(Duration::from_secs(seconds))
            } else if headers.remaining == Some(0) {
                // The reset time is to the second; one more avoids arriving
                // just before it.
                headers
                    .reset
                    .map(|reset| Duration::from_secs(reset.saturating_sub(now_epoch) + 1))
            } else if status == 429 || body.to_ascii_lowercase().contains("rate limit") {
                Some(SECONDARY_LIMIT_WAIT)
            } else {
                // A plain 403: no permission. Asking again will not help.
                None
            };
            return match wait {
                Some(wait) => Verdict::Retry {
                    wait,
                    rate_limited: true,
                },
                None => Verdict::Fail,
            };
        }
        if status >= 500 {
            return Verdict::Retry {
                wait: self.backoff(attempt),
                rate_limited: false,
            };
        }
        Verdict::Fail
    }

    /// The wait after a server or transport error on attempt `attempt`.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.base_delay.saturating_mul(factor).min(self.max_wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(status: u16, headers: RateHeaders, body: &str, attempt: u32) -> Verdict {
        RetryPolicy::default().judge(status, headers, body, attempt, 1_000)
    }

    fn retry(seconds: u64, rate_limited: bool) -> Verdict {
        Verdict::Retry {
            wait: Duration::from_secs(seconds),
            rate_limited,
        }
    }

    #[test]
    fn server_errors_back_off_exponentially_up_to_the_cap() {
        let none = RateHeaders::default();
        assert_eq!(judge(201, none, "", 1), Verdict::Done);
        assert_eq!(judge(502, none, "", 1), retry(1, false));
        assert_eq!(judge(503, none, "", 3), retry(4, false));
        assert_eq!(judge(500, none, "", 10), retry(60, false));
    }

    #[test]
    fn rate_limits_wait_as_github_says() {
        let after = RateHeaders {
            retry_after: Some(7),
            ..RateHeaders::default()
        };
        assert_eq!(judge(403, after, "", 1), retry(7, true));
        assert_eq!(judge(429, after, "", 1), retry(7, true));
        let exhausted = RateHeaders {
            remaining: Some(0),
            reset: Some(1_030),
            ..RateHeaders::default()
        };
        assert_eq!(judge(403, exhausted, "", 1), retry(31, true));
        let secondary = "You have exceeded a secondary rate limit";
        assert_eq!(
            judge(403, RateHeaders::default(), secondary, 1),
            retry(60, true)
        );
        assert_eq!(judge(429, RateHeaders::default(), "", 1), retry(60, true));
    }

    #[test]
    fn other_client_errors_fail_at_once() {
        let some_left = RateHeaders {
            remaining: Some(4_000),
            reset: Some(1_030),
            ..RateHeaders::default()
        };
        assert_eq!(
            judge(403, some_left, "Resource not accessible by integration", 1),
            Verdict::Fail
        );
        assert_eq!(judge(404, RateHeaders::default(), "", 1), Verdict::Fail);
        assert_eq!(judge(422, RateHeaders::default(), "", 1), Verdict::Fail);
    }
}
