//! What every bluegreen Lambda shares: JSON logs, stable error types for the
//! state machine's `Retry`/`Catch`, and the AWS adapters built once per process.

mod acting;

pub use acting::{Acting, app_of};

use lambda_runtime::Diagnostic;
use tracing_subscriber::filter::LevelFilter;

pub use bluegreen_aws::AwsPorts;
pub use bluegreen_core::records::config::Function;
mod clock;
mod hooks;
pub mod http;

pub use hooks::{HookHttp, Hooks, HttpHooks};

pub use bluegreen_core::ports::Ports;
pub use bluegreen_core::records::store::DEFAULT_PREFIX;
pub use clock::SystemClock;

/// A handler's error: a domain error whose `error_type` is stable.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct HandlerError(#[from] pub bluegreen_core::Error);

impl HandlerError {
    pub fn error_type(&self) -> &'static str {
        self.0.error_type()
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Diagnostic {
        Diagnostic {
            error_type: e.error_type().to_string(),
            error_message: e.to_string(),
        }
    }
}

/// JSON log lines on stdout, which Lambda ships to CloudWatch Logs. The level
/// comes from `AWS_LAMBDA_LOG_LEVEL`, then `RUST_LOG`, then `info`.
pub fn init_tracing() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_default();
    let _ = tracing_subscriber::fmt()
        .json()
        .with_target(false)
        .with_current_span(false)
        .without_time()
        .with_max_level(log_level(&level))
        .try_init();
}

/// One level for everything (`error` … `trace`, `off`, any case). Per-crate
/// directives (`info,hyper=warn`) would need the regex-based env filter,
/// which is not worth its size in a Lambda: anything else means `info`.
fn log_level(text: &str) -> LevelFilter {
    match text.trim() {
        // tracing reads "" as `error`.
        "" => LevelFilter::INFO,
        text => text.parse().unwrap_or(LevelFilter::INFO),
    }
}

/// The parameter prefix all apps live under (`BLUEGREEN_PREFIX`, default
/// `/bluegreen`).
pub fn prefix() -> String {
    std::env::var("BLUEGREEN_PREFIX").unwrap_or_else(|_| DEFAULT_PREFIX.to_string())
}

/// Every AWS adapter, from the environment: built once in `main`.
pub async fn aws_ports() -> AwsPorts {
    let config = bluegreen_aws::sdk_config().await;
    bluegreen_aws::ports(&config, prefix())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_levels() {
        assert_eq!(log_level("DEBUG"), LevelFilter::DEBUG);
        assert_eq!(log_level("warn"), LevelFilter::WARN);
        assert_eq!(log_level("off"), LevelFilter::OFF);
        assert_eq!(log_level(""), LevelFilter::INFO);
        assert_eq!(log_level("info,hyper=warn"), LevelFilter::INFO);
    }
}
