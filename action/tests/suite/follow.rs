//! Following an execution through Step Functions API blips: a CI step must
//! not fail because two reads failed while the release went on. Step
//! Functions is played by a local HTTP server speaking its JSON protocol; the
//! SDK's own retries are off so that every failure reaches `follow`.

use std::time::Duration;

use aws_sdk_sfn::config::retry::RetryConfig;
use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
use bluegreen_action::timeline::follow;

use crate::results;
use bluegreen_core::Color;
use serde_json::json;
use wiremock::matchers::{header, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ARN: &str = "arn:aws:states:us-east-1:123456789012:execution:bluegreen:web-v2-1-1";

fn client(server: &MockServer) -> aws_sdk_sfn::Client {
    let config = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::for_tests())
        .endpoint_url(server.uri())
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_sfn::Client::from_conf(config)
}

fn target(operation: &str) -> wiremock::matchers::HeaderExactMatcher {
    header(
        "x-amz-target",
        format!("AWSStepFunctions.{operation}").as_str(),
    )
}

fn json_answer(body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "application/x-amz-json-1.0")
        .set_body_json(body)
}

#[tokio::test]
async fn two_failed_reads_in_a_row_do_not_end_the_follow() {
    let server = MockServer::start().await;
    // The first two history reads fail as a throttled or broken API would.
    Mock::given(method("POST"))
        .and(target("GetExecutionHistory"))
        .respond_with(ResponseTemplate::new(500).set_body_string("{}"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    let doc = json!({"app": "web", "switch": results::switch("v2", Color::Green, 0, &[100])});
    Mock::given(method("POST"))
        .and(target("GetExecutionHistory"))
        .respond_with(json_answer(json!({"events": [
            {"id": 1, "timestamp": 1_790_000_000.0, "type": "ExecutionStarted"},
            {"id": 2, "timestamp": 1_790_000_001.0, "type": "TaskStateExited",
             "stateExitedEventDetails": {"name": "Switch", "output": doc.to_string()}},
            {"id": 3, "timestamp": 1_790_000_002.0, "type": "ExecutionSucceeded",
             "executionSucceededEventDetails": {"output": doc.to_string()}}
        ]})))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(target("DescribeExecution"))
        .respond_with(json_answer(json!({
            "executionArn": ARN,
            "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:bluegreen",
            "status": "SUCCEEDED",
            "startDate": 1_790_000_000.0,
            "output": doc.to_string()
        })))
        .mount(&server)
        .await;

    let mut steps = vec![];
    let ending = follow(
        &client(&server),
        ARN,
        Duration::from_secs(30),
        false,
        |s, _| steps.push(s.clone()),
    )
    .await
    .expect("followed to the end");
    assert_eq!(ending.status, "SUCCEEDED");
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(steps[0].state, "Switch");
    assert_eq!(steps[0].text, "blue 0% / green 100%");
}

#[tokio::test]
async fn an_api_that_stays_down_ends_the_follow_with_what_failed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("{}"))
        .mount(&server)
        .await;
    let e = follow(
        &client(&server),
        ARN,
        Duration::from_secs(60),
        false,
        |_, _| {},
    )
    .await
    .unwrap_err();
    assert!(
        e.starts_with("execution history:") && e.ends_with("(5 failed reads in a row)"),
        "{e}"
    );
    let reads = server.received_requests().await.unwrap_or_default().len();
    assert_eq!(reads, 5, "one read per try, the SDK's retries being off");
}
