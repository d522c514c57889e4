//! Acting for an app. A shared function does what it does to an app with the
//! credentials of the role that app created for it (`roles` in the app's
//! config), so the function's own role needs no permission on any app and
//! one app's release cannot reach another's resources. Per app, the
//! adapters are built once per warm process; the config is read again every
//! few minutes, in case the app's roles were replaced.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::provider::SharedCredentialsProvider;
use bluegreen_aws::SsmParameters;
use bluegreen_core::Error;
use bluegreen_core::ports::ParameterStore;
use bluegreen_core::records::config::{Function, validate_app_name};
use bluegreen_core::records::store::AppStore;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::HandlerError;

/// How long an app's roles are trusted before its config is read again.
const RECHECK: Duration = Duration::from_secs(300);

type Build<T> = Box<dyn Fn(&SdkConfig) -> T + Send + Sync>;

/// The adapters (`T`) a function uses, for whichever app a request names.
pub struct Acting<T> {
    function: Function,
    sdk: SdkConfig,
    /// The function's own access to the apps' configs.
    configs: SsmParameters,
    prefix: String,
    build: Build<T>,
    /// For apps whose config names no roles (local mode, tests).
    own: Arc<T>,
    apps: Mutex<HashMap<String, Acquired<T>>>,
}

struct Acquired<T> {
    role: Option<String>,
    checked: Instant,
    adapters: Arc<T>,
}

impl<T> Acting<T> {
    /// `build` makes the adapters from one set of credentials; it does no I/O.
    /// Apps' configs are read under `prefix` with `sdk`'s own credentials.
    pub fn new(
        function: Function,
        sdk: SdkConfig,
        prefix: String,
        build: impl Fn(&SdkConfig) -> T + Send + Sync + 'static,
    ) -> Self {
        Self {
            function,
            configs: bluegreen_aws::ssm(&sdk),
            prefix,
            own: Arc::new(build(&sdk)),
            build: Box::new(build),
            sdk,
            apps: Mutex::new(HashMap::new()),
        }
    }

    /// Opens the connections the first request would open one after another
    /// (SSM for the app's config, STS for its role) during Init, where a cold
    /// start pays for TLS handshakes before anyone waits. Both calls need no
    /// permission beyond what the function has: a config read that finds
    /// nothing, and "who am I". Their answers do not matter; their failures
    /// neither (the request does the real calls).
    pub async fn warm_up(&self) {
        let config = format!("{}/-warm-up-/config", self.prefix);
        let sts = aws_sdk_sts::Client::new(&self.sdk);
        let limit = Duration::from_secs(2);
        let (ssm, sts) = tokio::join!(
            tokio::time::timeout(limit, self.configs.get(&config)),
            tokio::time::timeout(limit, sts.get_caller_identity().send()),
        );
        tracing::debug!(
            ssm = ssm.is_ok(),
            sts = sts.is_ok(),
            "connections opened during Init"
        );
    }

    /// The adapters acting for `app`: with the role its config names for this
    /// function, else with the function's own credentials. An unknown or
    /// malformed app is refused before any call on its behalf.
    pub async fn for_app(&self, app: &str) -> Result<Arc<T>, HandlerError> {
        validate_app_name("request", "app", app)?;
        let mut apps = self.apps.lock().await;
        if let Some(known) = apps.get(app)
            && known.checked.elapsed() < RECHECK
        {
            return Ok(known.adapters.clone());
        }
        let store = AppStore::new(&self.configs, &self.prefix)?;
        let config = store.config(app).await?;
        let role = config
            .roles
            .as_ref()
            .map(|r| r.of(self.function).to_string());
        if let Some(known) = apps.get_mut(app)
            && known.role == role
        {
            known.checked = Instant::now();
            return Ok(known.adapters.clone());
        }
        let adapters = match &role {
            None => self.own.clone(),
            Some(role) => Arc::new((self.build)(&self.assumed(role, app).await)),
        };
        apps.insert(
            app.to_string(),
            Acquired {
                role,
                checked: Instant::now(),
                adapters: adapters.clone(),
            },
        );
        Ok(adapters)
    }

    /// An SDK config whose credentials are the role's, fetched on first use
    /// and refreshed before they expire.
    async fn assumed(&self, role: &str, app: &str) -> SdkConfig {
        let provider = AssumeRoleProvider::builder(role)
            .session_name(session_name(self.function, app))
            .configure(&self.sdk)
            .build()
            .await;
        self.sdk
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build()
    }
}

/// `bluegreen-<function>-<app>`, cut to STS's 64 characters; CloudTrail shows
/// it with every call made for the app.
fn session_name(function: Function, app: &str) -> String {
    let name = format!("bluegreen-{}-{app}", function.binary());
    name.chars().take(64).collect()
}

/// The app an execution document (or a step's `{"input": document}`) names.
pub fn app_of(payload: &Value) -> Result<String, HandlerError> {
    payload
        .get("app")
        .or_else(|| payload.get("input").and_then(|i| i.get("app")))
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| {
            HandlerError::from(Error::bad_input(
                "execution input",
                "app",
                "is missing: the request names no app",
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_app_comes_from_the_document_or_a_steps_input() {
        assert_eq!(app_of(&json!({"app": "web"})).unwrap(), "web");
        assert_eq!(
            app_of(&json!({"phase": "check", "input": {"app": "web"}})).unwrap(),
            "web"
        );
        let err = app_of(&json!({"release": {}})).unwrap_err();
        assert_eq!(err.error_type(), "BadInput");
        assert!(err.to_string().contains("app"), "{err}");
    }

    #[test]
    fn session_names_fit_sts() {
        assert_eq!(
            session_name(Function::SmokeTest, "web"),
            "bluegreen-smoke-test-web"
        );
        assert_eq!(
            session_name(Function::DeployIdle, &"a".repeat(64)).len(),
            64
        );
    }
}
