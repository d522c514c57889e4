//! `bluegreen report --execution ARN`: brings GitHub up to date for a
//! release another step started and did not follow (`wait: false`), or
//! stopped following: reads the execution as it stands (its input says the
//! app, version, commit and pull request) and tells its story so far.

use std::time::Duration;

use aws_sdk_sfn::Client;
use serde_json::Value;

use crate::commands::Failure;
use crate::timeline::{Ending, Step, Until, follow_until};

/// What the execution says of itself.
#[derive(Debug, Clone)]
pub struct Reported {
    pub app: String,
    pub version: String,
    /// The commit and pull request the release was started for, from the
    /// execution input's `github` (absent when started outside GitHub).
    pub sha: Option<String>,
    pub pr: Option<u64>,
    /// The execution's name: the deploy step gave its GitHub deployment the
    /// same one, which is how the report finds it again.
    pub execution_name: String,
    pub steps: Vec<Step>,
    /// How it stands: ended, live, at a gate, or still running
    /// (`following_timed_out`, read once without waiting).
    pub ending: Ending,
}

pub async fn read(sfn: &Client, execution_arn: &str) -> Result<Reported, Failure> {
    let described = sfn
        .describe_execution()
        .execution_arn(execution_arn)
        .send()
        .await
        .map_err(|e| {
            let said = format!(
                "cannot read {execution_arn}: {}",
                aws_smithy_types::error::display::DisplayErrorContext(&e)
            );
            // An execution that does not exist is the caller's mistake.
            match e.as_service_error() {
                Some(s) if s.is_execution_does_not_exist() || s.is_invalid_arn() => {
                    Failure::bad_input(said)
                }
                _ => Failure::unknown(said),
            }
        })?;
    let input: Value = described
        .input()
        .and_then(|i| serde_json::from_str(i).ok())
        .unwrap_or_default();
    let text = |v: &Value| v.as_str().map(str::to_string);
    let app = text(&input["app"]).ok_or_else(|| {
        Failure::bad_input(format!(
            "{execution_arn} is not a bluegreen release: its input names no `app`"
        ))
    })?;
    let version = text(&input["release"]["version"]).unwrap_or_default();
    let mut steps = vec![];
    // Read once, without waiting: a running release is reported as it is.
    let until = Until {
        live: true,
        gate: true,
        limit_is_an_ending: true,
    };
    let ending = follow_until(sfn, execution_arn, Duration::ZERO, until, |s, _| {
        steps.push(s.clone())
    })
    .await
    .map_err(Failure::unknown)?;
    Ok(Reported {
        app,
        version,
        sha: text(&input["github"]["sha"]),
        pr: input["github"]["pr"].as_u64(),
        execution_name: execution_arn
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_string(),
        steps,
        ending,
    })
}
