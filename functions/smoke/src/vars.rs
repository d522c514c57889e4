//! The values placeholders stand for during one run: the base URL, captures,
//! and secrets read once from the environment and the parameter store. Every
//! secret is handed to the masker the moment it is known.

use std::collections::HashMap;

use tracing::warn;

use crate::mask::{MIN_SECRET_CHARS, Masker};
use crate::sources::{EnvSource, SecretSource};
use crate::template::Var;

/// Deliberately not `Debug`: it holds secret values.
pub(crate) struct Variables<'a, S, E> {
    base_url: String,
    /// The release under test, when the caller knows it.
    version: Option<String>,
    ssm: &'a S,
    env: &'a E,
    /// Env and SSM values, read at most once per run.
    secrets: HashMap<Var, String>,
    captures: HashMap<String, String>,
    masker: Masker,
}

impl<'a, S: SecretSource, E: EnvSource> Variables<'a, S, E> {
    pub(crate) fn new(base_url: &str, ssm: &'a S, env: &'a E) -> Self {
        Variables {
            // `{{base_url}}/health` must not become `…//health`.
            base_url: base_url.trim_end_matches('/').to_string(),
            version: None,
            ssm,
            env,
            secrets: HashMap::new(),
            captures: HashMap::new(),
            masker: Masker::new(),
        }
    }

    pub(crate) fn with_version(mut self, version: Option<&str>) -> Self {
        self.version = version.map(str::to_string);
        self
    }

    pub(crate) fn masker(&self) -> &Masker {
        &self.masker
    }

    pub(crate) fn masker_mut(&mut self) -> &mut Masker {
        &mut self.masker
    }

    /// Reads the env and SSM values among `vars` that are not read yet. The
    /// error names the variable, never a value.
    pub(crate) async fn prepare(&mut self, vars: &[&Var]) -> Result<(), String> {
        for var in vars {
            if self.secrets.contains_key(*var) {
                continue;
            }
            let value = match var {
                Var::Env(name) => self.env.var(name).ok_or_else(|| {
                    format!("`{{{{{var}}}}}`: environment variable `{name}` is not set")
                })?,
                Var::Ssm(name) => match self.ssm.get(name).await {
                    Ok(Some(value)) => value,
                    Ok(None) => {
                        return Err(format!(
                            "`{{{{{var}}}}}`: SSM parameter `{name}` does not exist"
                        ));
                    }
                    Err(e) => {
                        return Err(format!(
                            "`{{{{{var}}}}}`: could not read SSM parameter `{name}`: {e}"
                        ));
                    }
                },
                Var::BaseUrl | Var::Version | Var::Capture(_) => continue,
            };
            self.add_secret(var, &value);
            self.secrets.insert((*var).clone(), value);
        }
        Ok(())
    }

    /// Keeps a captured value for later tests, as a secret.
    pub(crate) fn capture(&mut self, name: &str, value: String) {
        self.add_secret(&Var::Capture(name.to_string()), &value);
        self.captures.insert(name.to_string(), value);
    }

    /// A value that is a secret without being kept as a variable (what a
    /// failed test would have captured).
    pub(crate) fn add_secret(&mut self, var: &Var, value: &str) {
        if !self.masker.add(value) && !value.is_empty() {
            warn!(variable = %var, "value is shorter than {MIN_SECRET_CHARS} characters and is not masked");
        }
    }

    /// The value of `var`, if it has one now.
    pub(crate) fn lookup(&self, var: &Var) -> Option<&str> {
        match var {
            Var::BaseUrl => Some(&self.base_url),
            Var::Version => self.version.as_deref(),
            Var::Capture(name) => self.captures.get(name).map(String::as_str),
            Var::Env(_) | Var::Ssm(_) => self.secrets.get(var).map(String::as_str),
        }
    }
}

/// What to say when rendering found no value for `var`.
pub(crate) fn missing(var: &Var) -> String {
    match var {
        Var::Capture(name) => {
            format!("unknown variable `{{{{{var}}}}}`: no earlier test captures `{name}`")
        }
        Var::Version => "`{{version}}`: no release version is known to this run".to_string(),
        // `prepare` reads these first; kept for completeness of the message.
        _ => format!("no value for `{{{{{var}}}}}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::SecretError;

    struct Ssm;
    impl SecretSource for Ssm {
        async fn get(&self, name: &str) -> Result<Option<String>, SecretError> {
            match name {
                "/app/key" => Ok(Some("ssm-value-1".into())),
                "/broken" => Err(SecretError("AccessDenied".into())),
                _ => Ok(None),
            }
        }
    }
    struct Env;
    impl EnvSource for Env {
        fn var(&self, name: &str) -> Option<String> {
            (name == "PASS").then(|| "env-value-1".to_string())
        }
    }

    #[tokio::test]
    async fn reads_secrets_once_and_masks_them() {
        let mut v = Variables::new("http://idle:8080/", &Ssm, &Env);
        let env = Var::Env("PASS".into());
        let ssm = Var::Ssm("/app/key".into());
        v.prepare(&[&Var::BaseUrl, &env, &ssm]).await.unwrap();
        assert_eq!(v.lookup(&Var::BaseUrl), Some("http://idle:8080"));
        assert_eq!(v.lookup(&env), Some("env-value-1"));
        assert_eq!(v.lookup(&ssm), Some("ssm-value-1"));
        assert_eq!(v.masker().mask("env-value-1 ssm-value-1"), "*** ***");
        v.capture("token", "tok-123".into());
        assert_eq!(v.lookup(&Var::Capture("token".into())), Some("tok-123"));
        assert_eq!(v.masker().mask("Bearer tok-123"), "Bearer ***");
    }

    #[tokio::test]
    async fn missing_values_name_the_variable() {
        let mut v = Variables::new("http://idle", &Ssm, &Env);
        let e = v.prepare(&[&Var::Env("NOPE".into())]).await.unwrap_err();
        assert!(e.contains("`{{env.NOPE}}`") && e.contains("not set"), "{e}");
        let e = v.prepare(&[&Var::Ssm("/gone".into())]).await.unwrap_err();
        assert!(e.contains("`/gone` does not exist"), "{e}");
        let e = v.prepare(&[&Var::Ssm("/broken".into())]).await.unwrap_err();
        assert!(
            e.contains("could not read") && e.contains("AccessDenied"),
            "{e}"
        );
        let e = missing(&Var::Capture("tokne".into()));
        assert!(e.contains("`{{tokne}}`"), "{e}");
    }
}
