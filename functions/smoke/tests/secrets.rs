//! Secrets never reach the logs or the report.
//!
//! Alone in its own test binary with a process-wide subscriber: a per-thread
//! subscriber (`set_default`) missed events when other tests in the same
//! process registered the same callsites at the same moment (tracing caches
//! callsite interest process-wide), which made this test flaky in CI.

// Shared by several test binaries; each uses part of it.
#[allow(dead_code)]
mod support;

use support::{API_KEY, Logs, PASSWORD, TOKEN, reason, run, test};

#[tokio::test]
async fn secrets_never_reach_the_logs_or_the_report() {
    let logs = Logs::capture_globally();
    let base = support::start().await;
    // Every failing test here gets a response that echoes a secret back.
    let spec = r#"
warmup: { requests: 2, url: "{{base_url}}/health?k={{ssm:/smoke/api-key}}" }
defaults: { headers: { X-Api-Key: "{{ssm:/smoke/api-key}}" } }
tests:
  - name: Login
    url: "{{base_url}}/api/v1/login"
    method: POST
    json: { user: smoke@example.com, pass: "{{env.SMOKE_PASSWORD}}" }
    capture: { token: "$.token" }
  - name: Echo password
    url: "{{base_url}}/echo"
    method: POST
    body: "user=smoke&pass={{env.SMOKE_PASSWORD}}"
  - name: Echo token
    url: "{{base_url}}/echo-auth"
    headers: { Authorization: "Bearer {{token}}" }
    retries: 1
    retry_delay_ms: 10
  - name: Key in URL
    url: "{{base_url}}/key?k={{ssm:/smoke/api-key}}&p={{env.SMOKE_PASSWORD}}"
    expect_json: { "$.k": "x" }
  - name: Expectation shows the value
    url: "{{base_url}}/api/v1/login"
    method: POST
    json: { user: smoke@example.com, pass: "{{env.SMOKE_PASSWORD}}" }
    expect_json: { "$.token": "something else" }
"#;
    let report = run(&base, spec).await;
    assert!(test(&report, "Login").passed);
    for name in [
        "Echo password",
        "Echo token",
        "Key in URL",
        "Expectation shows the value",
    ] {
        assert!(!test(&report, name).passed, "{name}");
    }
    assert_eq!(
        test(&report, "Echo password").response_snippet.as_deref(),
        Some("rejected: user=smoke&pass=***")
    );
    assert_eq!(
        test(&report, "Echo token").response_snippet.as_deref(),
        Some(r#"{"got":"Bearer ***"}"#)
    );
    assert_eq!(
        test(&report, "Key in URL").url,
        format!("{base}/key?k=***&p=***")
    );
    assert!(reason(&report, "Expectation shows the value").contains(r#"`$.token` is "***""#));

    let json = serde_json::to_string(&report).unwrap();
    let summary = report.summary();
    let logged = logs.text();
    assert!(
        logged.contains("smoke test did not pass"),
        "logs were captured: {logged}"
    );
    for secret in [PASSWORD, API_KEY, TOKEN] {
        assert!(!json.contains(secret), "{secret} in report: {json}");
        assert!(!summary.contains(secret), "{secret} in summary: {summary}");
        assert!(!logged.contains(secret), "{secret} in logs: {logged}");
    }
    assert!(json.contains("***"));
}
