//! `bluegreen rollback`: the emergency path from a terminal or a workflow.
//! Publishes the emergency message (the same path as anyone with access to
//! the topic), or invokes the rollback Lambda directly and shows its answer.

use std::time::{Duration, Instant};

use aws_sdk_lambda::primitives::Blob;
use bluegreen_aws::AwsPorts;
use bluegreen_core::state::Phase;
use bluegreen_core::store::AppStore;
use serde_json::{Value, json};

pub enum Via {
    Topic(String),
    Function(String),
}

pub struct RollbackArgs {
    pub app: String,
    pub reason: String,
    pub requested_by: Option<String>,
    pub via: Via,
}

fn message(args: &RollbackArgs) -> Value {
    let mut m = json!({"app": args.app, "reason": args.reason});
    if let Some(who) = &args.requested_by {
        m["requested_by"] = json!(who);
    }
    m
}

/// Returns what the rollback reported (direct) or the state it left (topic).
pub async fn run(
    sdk: &aws_config::SdkConfig,
    ports: &AwsPorts,
    args: &RollbackArgs,
) -> Result<Value, String> {
    match &args.via {
        Via::Function(name) => {
            let out = aws_sdk_lambda::Client::new(sdk)
                .invoke()
                .function_name(name)
                .payload(Blob::new(message(args).to_string()))
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "invoke {name}: {}",
                        aws_smithy_types::error::display::DisplayErrorContext(&e)
                    )
                })?;
            let body: Value = out
                .payload
                .map(|p| serde_json::from_slice(p.as_ref()).unwrap_or(Value::Null))
                .unwrap_or(Value::Null);
            if out.function_error.is_some() {
                return Err(format!(
                    "the rollback failed ({}): {}",
                    body["errorType"].as_str().unwrap_or("error"),
                    body["errorMessage"].as_str().unwrap_or("no message")
                ));
            }
            Ok(body)
        }
        Via::Topic(topic) => {
            aws_sdk_sns::Client::new(sdk)
                .publish()
                .topic_arn(topic)
                .message(message(args).to_string())
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "publish to {topic}: {}",
                        aws_smithy_types::error::display::DisplayErrorContext(&e)
                    )
                })?;
            // Delivery to the Lambda is asynchronous: watch the state.
            wait_for_rolled_back(ports, &args.app, Duration::from_secs(30)).await
        }
    }
}

async fn wait_for_rolled_back(
    ports: &AwsPorts,
    app: &str,
    limit: Duration,
) -> Result<Value, String> {
    let store = AppStore::new(&ports.params, &ports.prefix).map_err(|e| e.to_string())?;
    let started = Instant::now();
    loop {
        let state = store.state(app).await.map_err(|e| e.to_string())?;
        if let Some(s) = &state
            && s.phase == Phase::RolledBack
        {
            return Ok(serde_json::to_value(s).unwrap_or(Value::Null));
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
