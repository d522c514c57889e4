//! Which release and which URL the smoke tests prove.

use bluegreen_core::config::AppConfig;
use bluegreen_core::deploy::DeployOutcome;
use bluegreen_core::input::{ExecutionInput, SOURCE};
use bluegreen_core::{Color, Error};

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
