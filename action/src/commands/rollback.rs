//! `bluegreen rollback`: the emergency path from a terminal or a workflow.
//! Publishes the emergency message (the same path as anyone with access to
//! the topic), or invokes the rollback Lambda directly and shows its answer.
//! With `GITHUB_TOKEN` and `GITHUB_REPOSITORY` set, it then marks the rolled
//! back release's GitHub deployment failed; that is reporting, and its
//! failures are warnings: the rollback has happened.

use std::time::{Duration, Instant};

use aws_sdk_lambda::primitives::Blob;
use bluegreen_aws::AwsPorts;
use bluegreen_core::records::state::{AppState, Phase};
use bluegreen_core::records::store::AppStore;
use bluegreen_core::steps::rollback::RollbackOutcome;
use bluegreen_core::steps::rollback::patience::Patience;
use serde::Serialize;
use serde_json::{Value, json};

use crate::{ci, github};

pub enum Via {
    Topic(String),
    Function(String),
}

pub struct RollbackArgs {
    pub app: String,
    pub reason: String,
    pub requested_by: Option<String>,
    pub via: Via,
    /// The GitHub Deployments environment the release was deployed to.
    pub environment: String,
}

/// What the command prints: the rollback function's answer (direct), or
/// the rolled-back state it left (through the topic, which answers nothing).
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum RolledBack {
    Answered(Box<RollbackOutcome>),
    Left(Box<AppState>),
}

fn message(args: &RollbackArgs) -> Value {
    let mut m = json!({"app": args.app, "reason": args.reason});
    if let Some(who) = &args.requested_by {
        m["requested_by"] = json!(who);
    }
    m
}

/// Why `rollback` did not roll back, and its exit code: 1 refused (nothing
/// to roll back to, a schema contracted since, drift, a stale request), 2 bad
/// input (an unknown app, a malformed request), 3 could not tell (AWS
/// failed, or the state did not show the rollback in time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotRolledBack {
    pub exit: u8,
    pub message: String,
}

impl NotRolledBack {
    fn unknown(message: String) -> NotRolledBack {
        NotRolledBack {
            exit: super::EXIT_UNKNOWN,
            message,
        }
    }

    /// The exit code of the rollback function's error type.
    fn of(error_type: &str, message: String) -> NotRolledBack {
        let exit = match error_type {
            "BadInput" | "UnknownApp" => super::EXIT_BAD_INPUT,
            "Throttled" | "Transient" | "AwsCallFailed" | "PreviousColorCold" => {
                super::EXIT_UNKNOWN
            }
            _ => super::EXIT_FAILED,
        };
        NotRolledBack { exit, message }
    }
}

/// Returns what the rollback reported (direct) or the state it left (topic),
/// after telling GitHub when there is a token for a repository.
pub async fn run(
    sdk: &aws_config::SdkConfig,
    ports: &AwsPorts,
    args: &RollbackArgs,
) -> Result<RolledBack, NotRolledBack> {
    let out = roll_back(sdk, ports, args).await?;
    if std::env::var("GITHUB_TOKEN").is_ok_and(|v| !v.trim().is_empty())
        && std::env::var("GITHUB_REPOSITORY").is_ok_and(|v| !v.trim().is_empty())
    {
        let version = rolled_back_version(ports, &args.app, &out).await;
        report_to_github(args, version.as_deref()).await;
    }
    Ok(out)
}

async fn roll_back(
    sdk: &aws_config::SdkConfig,
    ports: &AwsPorts,
    args: &RollbackArgs,
) -> Result<RolledBack, NotRolledBack> {
    match &args.via {
        Via::Function(name) => {
            let out = aws_sdk_lambda::Client::new(sdk)
                .invoke()
                .function_name(name)
                .payload(Blob::new(message(args).to_string()))
                .send()
                .await
                .map_err(|e| {
                    NotRolledBack::unknown(format!(
                        "invoke {name}: {}",
                        aws_smithy_types::error::display::DisplayErrorContext(&e)
                    ))
                })?;
            let body: Value = out
                .payload
                .map(|p| serde_json::from_slice(p.as_ref()).unwrap_or(Value::Null))
                .unwrap_or(Value::Null);
            if out.function_error.is_some() {
                let error_type = body["errorType"].as_str().unwrap_or("error");
                return Err(NotRolledBack::of(
                    error_type,
                    format!(
                        "the rollback failed ({error_type}): {}",
                        body["errorMessage"].as_str().unwrap_or("no message")
                    ),
                ));
            }
            // The core's own type: an answer of another shape is an error
            // that says so, not a blank line in the report.
            let outcome: RollbackOutcome = serde_json::from_value(body.clone()).map_err(|e| {
                NotRolledBack::unknown(format!(
                    "the rollback function answered something unreadable ({e}): {body}"
                ))
            })?;
            Ok(RolledBack::Answered(Box::new(outcome)))
        }
        Via::Topic(topic) => {
            aws_sdk_sns::Client::new(sdk)
                .publish()
                .topic_arn(topic)
                .message(message(args).to_string())
                .send()
                .await
                .map_err(|e| {
                    NotRolledBack::unknown(format!(
                        "publish to {topic}: {}",
                        aws_smithy_types::error::display::DisplayErrorContext(&e)
                    ))
                })?;
            // Delivery to the Lambda is asynchronous: watch the state, as
            // long as the function may wait for a cold previous color and
            // half a minute more.
            let limit = Patience::LAMBDA.limit + Duration::from_secs(30);
            wait_for_rolled_back(ports, &args.app, limit)
                .await
                .map_err(NotRolledBack::unknown)
        }
    }
}

/// The release the rollback took production away from: the rollback
/// function's `from` when it changed something, else the `previous_version`
/// of the rolled-back state (what a rollback through the topic returns, and
/// what an earlier rollback left when this one found nothing to do).
async fn rolled_back_version(ports: &AwsPorts, app: &str, out: &RolledBack) -> Option<String> {
    let rolled_back = |state: &AppState| {
        (state.phase == Phase::RolledBack)
            .then(|| state.previous_version.clone())
            .flatten()
    };
    match out {
        RolledBack::Answered(outcome) if outcome.changed => outcome.from.version.clone(),
        RolledBack::Left(state) => rolled_back(state),
        RolledBack::Answered(_) => {
            let store = AppStore::new(&ports.params, &ports.prefix).ok()?;
            rolled_back(&store.state(app).await.ok()??)
        }
    }
}

/// Marks the rolled-back release's GitHub deployment failed, with the reason.
/// Never fails: the rollback has happened, and a GitHub problem is a warning.
async fn report_to_github(args: &RollbackArgs, version: Option<&str>) {
    let gh = match github::GitHub::from_env() {
        Ok(gh) => gh,
        Err(e) => {
            ci::warning(&format!("not reporting the rollback to GitHub: {e}"));
            return;
        }
    };
    let mut reason = args.reason.clone();
    if let Some(who) = &args.requested_by {
        reason = format!("{reason} ({who})");
    }
    let release = match version {
        Some(v) => format!("{} {v}", args.app),
        None => args.app.clone(),
    };
    match gh
        .mark_rolled_back(&args.environment, &args.app, version, &reason)
        .await
    {
        // Standard error: standard output is the rollback's JSON.
        Ok(Some(id)) => eprintln!(
            "marked the GitHub deployment {id} of {release} ({}) failed: rolled back",
            args.environment
        ),
        Ok(None) => ci::warning(&format!(
            "no GitHub deployment of {release} in {} to mark rolled back",
            args.environment
        )),
        Err(e) => ci::warning(&format!(
            "could not mark the GitHub deployment of {release} rolled back (the rollback stands): {e}"
        )),
    }
}

async fn wait_for_rolled_back(
    ports: &AwsPorts,
    app: &str,
    limit: Duration,
) -> Result<RolledBack, String> {
    let store = AppStore::new(&ports.params, &ports.prefix).map_err(|e| e.to_string())?;
    let started = Instant::now();
    loop {
        let state = store.state(app).await.map_err(|e| e.to_string())?;
        if let Some(s) = state
            && s.phase == Phase::RolledBack
        {
            return Ok(RolledBack::Left(Box::new(s)));
        }
        if started.elapsed() > limit {
            return Err(format!(
                "published, but {app} is not rolled back after {} s: check the rollback function's logs",
                limit.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
