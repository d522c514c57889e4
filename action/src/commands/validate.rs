//! `bluegreen validate`: offline checks with the Lambdas' own validators, so
//! that a typo fails in the pull request instead of in an execution.
//!
//! - the app config document as stored in SSM (`<prefix>/<app>/config`):
//!   the parse and validation every Lambda does when it reads it;
//! - a smoke-test spec: the smoke-test Lambda's parser;
//! - release overrides (`{"strategy": ..., "gates": ..., "monitor": ...}`):
//!   the execution input's shape, the strategy's and the gates' rules, and
//!   the monitor thresholds
//!   merged over the given config's (over the defaults without one), as
//!   deploy-idle and the monitor merge them.

use std::path::{Path, PathBuf};

use bluegreen_core::document::input::Overrides;
use bluegreen_core::parse;
use bluegreen_core::records::config::{AppConfig, MonitorConfig, validate_app_name};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Clone, Default)]
pub struct ValidateArgs {
    pub config: Option<PathBuf>,
    pub smoke_tests: Option<PathBuf>,
    /// The overrides as JSON text.
    pub overrides: Option<String>,
    /// The parameter path apps live under: with a config, the spec's
    /// `{{ssm:NAME}}` must be under `<prefix>/<app>/`, as the Lambda demands.
    pub prefix: String,
    /// The app the spec is for when no config names it (`--app`).
    pub app: Option<String>,
}

/// What each input came to: one line per valid input, one error per invalid
/// one (naming the file or flag, and the field).
#[derive(Debug, Default)]
pub struct Validated {
    pub ok: Vec<String>,
    pub errors: Vec<String>,
}

impl Validated {
    pub fn valid(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Checks every input given; one input's error does not hide another's.
pub fn validate(args: &ValidateArgs) -> Validated {
    let mut out = Validated::default();
    let mut config = None;
    if let Some(path) = &args.config {
        match app_config(path) {
            Ok(c) => {
                out.ok
                    .push(format!("ok  config {} (app `{}`)", path.display(), c.app));
                config = Some(c);
            }
            Err(e) => out.errors.push(e),
        }
    }
    if let Some(path) = &args.smoke_tests {
        let app = config.as_ref().map(|c| &c.app).or(args.app.as_ref());
        let spec = super::smoke::read_spec(path).and_then(|spec| match app {
            Some(app) => {
                let own = format!("{}/{app}/", args.prefix.trim_end_matches('/'));
                spec.own_parameters_only(&own, &path.display())
                    .map(|()| spec)
                    .map_err(|e| e.to_string())
            }
            None => Ok(spec),
        });
        match spec {
            Ok(spec) => out.ok.push(format!(
                "ok  smoke tests {} ({} test{}{})",
                path.display(),
                spec.tests.len(),
                if spec.tests.len() == 1 { "" } else { "s" },
                if spec.warmup.is_some() {
                    ", a warm-up"
                } else {
                    ""
                }
            )),
            Err(e) => out.errors.push(e),
        }
    }
    if let Some(text) = &args.overrides {
        let against = match (&config, &args.config) {
            (Some(c), _) => format!("the config of `{}`", c.app),
            (None, Some(_)) => "the defaults (the config is not valid)".to_string(),
            (None, None) => "the defaults".to_string(),
        };
        match overrides(text, config.as_ref().map(|c| &c.monitor)) {
            Ok(()) => out
                .ok
                .push(format!("ok  overrides (checked against {against})")),
            Err(e) => out.errors.push(e),
        }
    }
    out
}

/// The config document in `path`, parsed and validated as the Lambdas read
/// it from SSM. The app is the one the document names (in SSM, the
/// parameter's path must name the same one).
pub fn app_config(path: &Path) -> Result<AppConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the config {}: {e}", path.display()))?;
    let app = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v.get("app")?.as_str().map(str::to_string))
        .unwrap_or_default();
    let name = path.display().to_string();
    let config = AppConfig::parse(&app, &name, &text).map_err(|e| e.to_string())?;
    validate_app_name(&format!("config {name}"), "app", &config.app).map_err(|e| e.to_string())?;
    Ok(config)
}

/// Where overrides sit in the execution input, so errors name the same path
/// (`overrides.monitor.max_5xx_rate`) as a deployment's would.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InInput {
    overrides: Overrides,
}

/// `text` as an execution's `overrides`, with `monitor` merged over `base`
/// (the defaults when `None`).
pub fn overrides(text: &str, base: Option<&MonitorConfig>) -> Result<(), String> {
    const SOURCE: &str = "--overrides";
    let check = || -> bluegreen_core::Result<()> {
        let value: Value = parse::json(SOURCE, text)?;
        let InInput { overrides } = parse::value(SOURCE, json!({ "overrides": value }))?;
        overrides.validate(SOURCE)?;
        if let Some(monitor) = &overrides.monitor {
            let defaults = MonitorConfig::default();
            base.unwrap_or(&defaults).with_overrides(SOURCE, monitor)?;
        }
        Ok(())
    };
    check().map_err(|e| e.to_string())
}
