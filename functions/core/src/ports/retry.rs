//! Trying a call again where nothing else will: a stopped execution's step
//! (Step Functions retries nothing for it), a rollback's own lock (a later
//! attempt has another name). Everywhere else the state machine's `Retry`
//! does it.

use std::future::Future;

use crate::error::Result;

/// Runs `call` up to `attempts` times while it fails with a retryable error
/// (throttled or transient, see [`crate::Error::is_retryable`]).
pub async fn retrying<T, F, Fut>(attempts: u32, mut call: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Err(e) if attempt < attempts && e.is_retryable() => attempt += 1,
            other => return other,
        }
    }
}
