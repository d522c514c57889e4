//! Chat notifications through the real state machine in local mode: a
//! Slack-compatible webhook and a generic JSON webhook (a real HTTP
//! receiver each, wiremock) hear of a release that starts and goes live, of
//! one that aborts, of a gate, and of a rollback; their URLs, credentials
//! in SecureStrings, show nowhere in the CLI's output.

use bluegreen_core::{Color, Split};
use bluegreen_local::example::AppOptions;
use bluegreen_local::{Local, LocalApp};
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{APP, bluegreen, deploy, deploy_with, quick, receiver, rollback_now, setup_with};

/// The part of the webhook URLs that is a credential.
const TOKEN: &str = "T0K3N-in-the-url";

async fn setup_with_chat(receiver: &MockServer) -> (Local, LocalApp) {
    let (local, app) = setup_with(AppOptions {
        warm_window_seconds: 300,
        extra_config: json!({"notifications": {"slack": true, "webhook": true}}),
        ..quick()
    })
    .await;
    let ssm = aws_sdk_ssm::Client::new(&local.sdk);
    for (leaf, path) in [("slack-webhook-url", "slack"), ("webhook-url", "json")] {
        ssm.put_parameter()
            .name(format!("/bluegreen/{APP}/{leaf}"))
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .value(format!("{}/{path}/{TOKEN}", receiver.uri()))
            .send()
            .await
            .expect("a webhook URL");
    }
    (local, app)
}

/// What each webhook got since the last call: (channel, body).
async fn received(receiver: &MockServer) -> Vec<(String, Value)> {
    let got = receiver
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| {
            let channel = r
                .url
                .path()
                .split('/')
                .nth(1)
                .unwrap_or_default()
                .to_string();
            (
                channel,
                serde_json::from_slice(&r.body).expect("a JSON body"),
            )
        })
        .collect();
    receiver.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(receiver)
        .await;
    got
}

fn events(got: &[(String, Value)]) -> Vec<String> {
    got.iter()
        .filter(|(channel, _)| channel == "json")
        .map(|(_, body)| body["event"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chat_hears_of_a_release_live_a_rollback_and_a_release_aborted() {
    let receiver = receiver(200).await;
    let (local, app) = setup_with_chat(&receiver).await;

    let run = deploy(&local, "v2", "801").await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        !run.stdout.contains(TOKEN),
        "a webhook URL never shows: {}",
        run.stdout
    );
    for told in [
        "chat (started): slack sent, webhook sent",
        "chat (promoted): slack sent, webhook sent",
    ] {
        assert!(
            run.stdout.contains(told),
            "the timeline tells {told}: {}",
            run.stdout
        );
    }
    let got = received(&receiver).await;
    assert_eq!(events(&got), ["started", "promoted"], "{got:?}");
    let slack: Vec<&Value> = got
        .iter()
        .filter(|(c, _)| c == "slack")
        .map(|(_, b)| b)
        .collect();
    assert_eq!(slack.len(), 2, "{got:?}");
    let text = slack[1]["text"].as_str().unwrap();
    assert!(text.starts_with("*web v2 is live on green*"), "{text}");
    assert_eq!(slack[1]["blocks"][0]["type"], "section");

    let rolled = rollback_now(&local, "errors after v2", &["--requested-by", "ana"], "803").await;
    assert_eq!(rolled.code, 0, "{}", rolled.stdout);
    assert!(!rolled.stdout.contains(TOKEN), "{}", rolled.stdout);
    assert!(
        rolled.stdout.contains(r#""channel": "slack""#),
        "{}",
        rolled.stdout
    );
    assert_eq!(app.app.listener_split().await, Split::all(Color::Blue));
    let got = received(&receiver).await;
    assert_eq!(events(&got), ["rolled-back"], "{got:?}");
    let (_, body) = got.iter().find(|(c, _)| c == "json").unwrap();
    assert_eq!(body["facts"]["to_color"], "blue");
    assert_eq!(body["facts"]["requested_by"], "ana");
    let description = body["description"].as_str().unwrap();
    assert!(
        description.contains("errors after v2 (by ana)") && description.contains("on blue (v1)"),
        "why, by whom, what serves now: {description}"
    );
    let aborted = deploy(&local, "v3-broken-health", "802").await;
    assert_eq!(aborted.code, 1, "{}", aborted.stdout);
    let got = received(&receiver).await;
    assert_eq!(events(&got), ["started", "aborted"], "{got:?}");
    let why = got
        .iter()
        .find(|(c, b)| c == "json" && b["event"] == "aborted")
        .map(|(_, b)| b["description"].as_str().unwrap_or_default().to_string())
        .unwrap();
    assert!(why.contains("SmokeTestFailed"), "says why: {why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_webhook_that_fails_never_fails_the_release_and_the_result_says_so() {
    let receiver = receiver(500).await;
    let (local, app) = setup_with_chat(&receiver).await;
    let run = deploy(&local, "v2", "811").await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(app.app.listener_split().await, Split::all(Color::Green));
    let rolled = bluegreen(
        &local,
        &[
            "rollback",
            "--app",
            APP,
            "--reason",
            "drill",
            "--function",
            "bluegreen-rollback",
        ],
        "812",
    )
    .await;
    assert_eq!(rolled.code, 0, "{}", rolled.stdout);
    assert_eq!(app.app.listener_split().await, Split::all(Color::Blue));
    assert!(
        rolled.stdout.contains(r#""error": "answered 500""#),
        "the rollback's result reports the failed send: {}",
        rolled.stdout
    );
    assert!(!rolled.stdout.contains(TOKEN), "{}", rolled.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chat_hears_that_a_release_waits_at_its_gate() {
    let receiver = receiver(200).await;
    let (local, _app) = setup_with_chat(&receiver).await;
    let flags = [
        "--no-wait-for-approval",
        "--overrides",
        r#"{"gates": {"approval": {}}}"#,
    ];
    let run = deploy_with(&local, "v2", &flags, "821", &[]).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    // The wait is announced once the execution waits on its token.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut seen = vec![];
    while !seen.iter().any(|e| e == "waiting") {
        assert!(
            std::time::Instant::now() < deadline,
            "no waiting notice: {seen:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        seen.extend(events(&received(&receiver).await));
    }
    assert_eq!(seen, ["started", "waiting"]);
    let rejected = bluegreen(
        &local,
        &["reject", "--app", APP, "--reason", "not today"],
        "822",
    )
    .await;
    assert_eq!(rejected.code, 0, "{}", rejected.stdout);
}
