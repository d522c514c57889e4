//! The `smoke-test` Lambda: proves the idle color over HTTP before any
//! production traffic moves to it.
//!
//! Input: the execution document after deploy-idle (`$.deploy` names the idle
//! color). The spec is the document's inline `smoke_tests`, else the
//! parameter `<prefix>/<app>/smoke-tests`. `{{base_url}}` is the config's
//! `test.url`, else the idle color's `direct_url`.
//!
//! Around the tests, the app's `after-deploy` hooks (before) and
//! `before-switch` hooks (once they passed); a failing one is `HookFailed`.
//!
//! Output: the [`SmokeReport`] when every test passed, with the hooks'
//! results under `hooks`. Otherwise the error
//! `SmokeTestFailed`, whose message is the summary and then, after
//! `\nreport: `, the report as JSON (secrets masked), so that the state
//! machine's `Catch` keeps it in `$.error.Cause` for the action to show.

mod failure;
mod secrets;
mod source;
mod target;

use bluegreen_core::document::input::ExecutionInput;
use bluegreen_core::ports::capabilities::Prefixed;
use bluegreen_core::ports::{HookSender, ParameterStore};
use bluegreen_core::records::hooks::HookPoint;
use bluegreen_core::records::store::AppStore;
use bluegreen_core::steps::hooks::{HookPlace, HookResult, run_hooks};
use bluegreen_lambda::HandlerError;
use bluegreen_smoke::{ProcessEnv, Runner, SmokeReport};
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;
use tracing::info;

pub use failure::REPORT_MARKER;
use failure::smoke_test_failed;
use secrets::SsmSecrets;

/// What the function answers: the smoke report, and the app's
/// `after-deploy` and `before-switch` hooks that ran around it.
#[derive(Debug, Clone, Serialize)]
pub struct SmokeTestOutcome {
    #[serde(flatten)]
    pub report: SmokeReport,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<HookResult>,
}

/// Runs the app's `after-deploy` hooks, its smoke tests against its idle
/// color, then its `before-switch` hooks. Only the parameter store is used:
/// for the config, the stored spec, `{{ssm:*}}` values and the hooks'
/// signing secret.
pub async fn handler<W, H>(
    aws: &W,
    hooks: &H,
    http: &reqwest::Client,
    event: LambdaEvent<Value>,
) -> Result<SmokeTestOutcome, HandlerError>
where
    W: ParameterStore + Prefixed,
    H: HookSender,
{
    let input = ExecutionInput::from_value(event.payload)?;
    let app = input.app.as_str();
    let deploy = target::deploy_outcome(&input)?;
    let store = AppStore::new(aws, aws.prefix())?;
    let config = store.config(app).await?;
    let base_url = target::base_url(&config, deploy.idle_color, &store.parameter(app, "config"))?;
    let place = |at| HookPlace {
        at,
        app,
        version: &deploy.version,
        execution_arn: input.execution_arn(),
        release_color: deploy.idle_color,
        step: None,
        weight: None,
        weights: None,
        reason: None,
    };
    let now = time::OffsetDateTime::now_utc();
    let mut ran = run_hooks(
        aws,
        aws.prefix(),
        hooks,
        &config,
        &place(HookPoint::AfterDeploy),
        now,
    )
    .await?;
    let (text, from) = source::spec_text(&input, &store).await?;
    let spec = bluegreen_smoke::parse(&text)?;
    spec.own_parameters_only(&store.parameter(app, ""), &from)?;
    info!(app, version = %deploy.version, color = %deploy.idle_color, base_url, spec = %from,
          tests = spec.tests.len(), "running smoke tests");

    let secrets = SsmSecrets::new(aws);
    let mut runner = Runner::new(http, &secrets, &ProcessEnv).with_version(&deploy.version);
    // The release may override the version marker, as the monitor sees it.
    let monitor = bluegreen_core::steps::monitor::thresholds(&config.monitor, &input)?;
    if let Some(check) = target::route_check(&config, &monitor, &deploy.version) {
        runner = runner.with_route_check(check);
    }
    let report = runner.run(&spec, base_url).await;
    if !report.passed {
        return Err(smoke_test_failed(app, &report).into());
    }
    let now = time::OffsetDateTime::now_utc();
    ran.extend(
        run_hooks(
            aws,
            aws.prefix(),
            hooks,
            &config,
            &place(HookPoint::BeforeSwitch),
            now,
        )
        .await?,
    );
    Ok(SmokeTestOutcome { report, hooks: ran })
}
