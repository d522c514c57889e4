//! Which release and which URL the smoke tests prove.

use bluegreen_core::document::input::{ExecutionInput, SOURCE};
use bluegreen_core::records::config::{AppConfig, MonitorConfig};
use bluegreen_core::steps::deploy::DeployOutcome;
use std::time::Duration;

use bluegreen_core::{Color, Error};
use bluegreen_smoke::RouteCheck;
use tracing::warn;

/// deploy-idle's outcome, which names the idle color; it must be about this
/// release, or the tests would prove the wrong one.
pub(crate) fn deploy_outcome(input: &ExecutionInput) -> Result<&DeployOutcome, Error> {
    let Some(deploy) = &input.deploy else {
        return Err(Error::bad_input(
            SOURCE,
            "deploy",
            "is missing: smoke tests run after deploy-idle, whose outcome names the idle color",
        ));
    };
    if deploy.app != input.app || deploy.version != input.release.version {
        return Err(Error::bad_input(
            SOURCE,
            "deploy",
            format!(
                "is the outcome of deploying {} {}, not this release ({} {})",
                deploy.app, deploy.version, input.app, input.release.version
            ),
        ));
    }
    Ok(deploy)
}

/// The test listener's URL (it always reaches the idle color), else the idle
/// color's direct URL. `parameter` is where the config lives, for the error.
pub(crate) fn base_url<'c>(
    config: &'c AppConfig,
    idle: Color,
    parameter: &str,
) -> Result<&'c str, Error> {
    if let Some(test) = &config.test {
        return Ok(&test.url);
    }
    if let Some(url) = &config.color(idle).direct_url {
        return Ok(url);
    }
    Err(Error::bad_input(
        format!("config {parameter}"),
        "test.url",
        format!(
            "smoke tests need a URL that reaches the idle color: set `test.url` (the test listener) or `{idle}.direct_url`"
        ),
    ))
}

/// The check that the test route already reaches the release. Only a shared
/// test route needs it (a listener change takes effect with a delay, so it may
/// still answer from the color serving production); a color's direct URL
/// reaches nothing else. Without a version endpoint there is nothing to ask:
/// the smoke tests then run unproven, which the log says. `monitor` is the
/// app's monitor config with the release's overrides (its version marker).
pub(crate) fn route_check(
    config: &AppConfig,
    monitor: &MonitorConfig,
    version: &str,
) -> Option<RouteCheck> {
    let test = config.test.as_ref()?;
    let Some(url) = test.version_url(monitor) else {
        warn!(
            app = %config.app,
            "no version endpoint: set `test.version_path` or `monitor.probe_url` so smoke tests can prove the test route reaches the release"
        );
        return None;
    };
    Some(RouteCheck::new(
        url,
        bluegreen_core::steps::monitor::VersionCheck::new(monitor, version),
        Duration::from_secs(test.route_timeout_seconds),
    ))
}
