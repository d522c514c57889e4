//! What every bluegreen Lambda shares: JSON logs, stable error types for the
//! state machine's `Retry`/`Catch`, and the AWS adapters built once per process.

use lambda_runtime::Diagnostic;
use tracing_subscriber::EnvFilter;

pub use bluegreen_aws::AwsPorts;
pub use bluegreen_core::store::DEFAULT_PREFIX;

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
        .unwrap_or_else(|_| "info".to_string());
    let _ = tracing_subscriber::fmt()
        .json()
        .with_target(false)
        .with_current_span(false)
        .without_time()
        .with_env_filter(EnvFilter::new(level.to_lowercase()))
        .try_init();
}

/// The parameter prefix all apps live under (`BLUEGREEN_PREFIX`, default
/// `/bluegreen`).
pub fn prefix() -> String {
    std::env::var("BLUEGREEN_PREFIX").unwrap_or_else(|_| DEFAULT_PREFIX.to_string())
}

/// The AWS adapters from the environment: built once in `main`.
pub async fn aws_ports() -> AwsPorts {
    let config = bluegreen_aws::sdk_config().await;
    bluegreen_aws::ports(&config, prefix())
}
