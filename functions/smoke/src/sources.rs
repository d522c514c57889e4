//! Where secret values come from. The runner reads them through these traits
//! so that it needs neither the AWS SDK nor a real environment in tests.

use std::future::Future;

/// Why a secret could not be read (not that it does not exist: that is
/// `Ok(None)`). The message must not contain the value.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct SecretError(pub String);

/// `{{ssm:/name}}` values: SecureString parameters decrypted, Strings as is.
pub trait SecretSource: Send + Sync {
    fn get(&self, name: &str) -> impl Future<Output = Result<Option<String>, SecretError>> + Send;
}

/// `{{env.NAME}}` values.
pub trait EnvSource: Send + Sync {
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment. A value that is not valid Unicode counts as
/// not set.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}
