//! The runner against a real HTTP server on 127.0.0.1.

// Shared by several test binaries; each uses part of it.
#[allow(dead_code)]
mod support;

use std::time::{Duration, Instant};

use support::{FakeEnv, reason, run, run_with, test};

const LOGIN_FLOW: &str = r#"
warmup: { requests: 10, url: "{{base_url}}/health", concurrency: 3 }
tests:
  - name: Health check
    url: "{{base_url}}/health"
    expect_status: 200
  - name: Login
    url: "{{base_url}}/api/v1/login"
    method: POST
    json: { user: smoke@example.com, pass: "{{env.SMOKE_PASSWORD}}" }
    capture: { token: "$.token" }
  - name: Me
    url: "{{base_url}}/api/v1/me"
    headers: { Authorization: "Bearer {{token}}" }
    expect_status: 200
    expect_body_contains: "smoke@example.com"
    expect_json: { "$.email": "smoke@example.com", "$.roles[0]": "admin", "$.plan": { seats: 5 } }
    max_response_time_ms: 2000
"#;

#[tokio::test]
async fn a_passing_suite_with_a_login_flow() {
    let base = support::start().await;
    let report = run(&base, LOGIN_FLOW).await;
    assert!(report.passed, "{report:#?}");
    assert_eq!(
        report.summary(),
        format!("all 3 smoke tests passed against {base}")
    );
    assert_eq!(
        (
            report.totals.passed,
            report.totals.failed,
            report.totals.skipped
        ),
        (3, 0, 0)
    );
    let w = report.warmup.as_ref().unwrap();
    assert_eq!((w.requests, w.responded, w.ok, w.failed), (10, 10, 10, 0));
    assert!(w.passed && w.reason.is_none());
    for t in &report.tests {
        assert!(t.passed && !t.skipped && t.reason.is_none() && t.response_snippet.is_none());
        assert_eq!((t.status, t.attempts), (Some(200), 1));
        assert!(t.latency_ms.is_some());
    }
    assert_eq!(test(&report, "Me").url, format!("{base}/api/v1/me"));
    assert_eq!(test(&report, "Login").method, "POST");
}

#[tokio::test]
async fn a_500_fails_with_the_status_and_a_snippet() {
    let base = support::start().await;
    let report = run(&base, "tests: [{name: Broken, url: '{{base_url}}/fail'}]").await;
    assert!(!report.passed);
    let t = test(&report, "Broken");
    assert_eq!(t.status, Some(500));
    assert_eq!(t.reason.as_deref(), Some("expected a 2xx status, got 500"));
    assert_eq!(
        t.response_snippet.as_deref(),
        Some("internal error: database down")
    );
    assert_eq!(
        report.summary(),
        format!(
            "1 of 1 smoke tests did not pass against {base}: Broken: expected a 2xx status, got 500"
        )
    );
}

#[tokio::test]
async fn a_body_mismatch_fails() {
    let base = support::start().await;
    let report = run(
        &base,
        "tests: [{name: Text, url: '{{base_url}}/text', expect_body_contains: goodbye}]",
    )
    .await;
    assert!(!report.passed);
    assert_eq!(
        reason(&report, "Text"),
        "response body does not contain `goodbye`"
    );
    assert_eq!(
        test(&report, "Text").response_snippet.as_deref(),
        Some("hello world")
    );
}

#[tokio::test]
async fn a_response_slower_than_allowed_fails() {
    let base = support::start().await;
    let report = run(
        &base,
        "tests: [{name: Slow, url: '{{base_url}}/slow', max_response_time_ms: 100}]",
    )
    .await;
    let t = test(&report, "Slow");
    assert!(!t.passed);
    assert_eq!(t.status, Some(200));
    assert!(t.latency_ms.unwrap() >= 300, "{t:?}");
    let r = t.reason.as_deref().unwrap();
    assert!(
        r.starts_with("took ") && r.ends_with("more than max_response_time_ms 100"),
        "{r}"
    );
}

#[tokio::test]
async fn a_hanging_endpoint_is_cut_by_the_timeout() {
    let base = support::start().await;
    let started = Instant::now();
    let report = run(
        &base,
        "tests: [{name: Hang, url: '{{base_url}}/hang', timeout_ms: 200}, {name: After, url: '{{base_url}}/health'}]",
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    let t = test(&report, "Hang");
    assert!(!t.passed);
    assert_eq!((t.status, t.latency_ms, t.attempts), (None, None, 1));
    assert_eq!(t.reason.as_deref(), Some("timed out after 200 ms"));
    // One failure does not stop the tests that do not depend on it.
    assert!(test(&report, "After").passed);
    assert!(!report.passed);
}

#[tokio::test]
async fn a_refused_connection_fails_the_tests_and_the_warmup() {
    let base = support::refused_base_url().await;
    let report = run(
        &base,
        "warmup: {requests: 4, url: '{{base_url}}/health'}\ntests: [{name: Health, url: '{{base_url}}/health'}]",
    )
    .await;
    assert!(!report.passed);
    let r = reason(&report, "Health");
    assert!(
        r.contains("Connection refused") || r.contains("connect"),
        "{r}"
    );
    assert!(
        !r.contains(&base),
        "the URL is reported in `url`, not in every reason: {r}"
    );
    let w = report.warmup.as_ref().unwrap();
    assert_eq!((w.responded, w.failed, w.passed), (0, 4, false));
    assert!(
        report
            .summary()
            .contains("warm-up: 4 of 4 requests got no response"),
        "{}",
        report.summary()
    );
}

#[tokio::test]
async fn a_warmup_with_some_errors_still_passes() {
    let base = support::start().await;
    // The flaky endpoint answers 503 twice: responses, just not 2xx.
    let report = run(
        &base,
        "warmup: {requests: 5, url: '{{base_url}}/flaky', concurrency: 1}\ntests: [{name: Health, url: '{{base_url}}/health'}]",
    )
    .await;
    let w = report.warmup.as_ref().unwrap();
    assert_eq!((w.responded, w.ok, w.failed, w.passed), (5, 3, 0, true));
    assert!(report.passed);
}

#[tokio::test]
async fn retries_succeed_on_the_third_attempt() {
    let base = support::start().await;
    let report = run(
        &base,
        "tests: [{name: Flaky, url: '{{base_url}}/flaky', retries: 2, retry_delay_ms: 20}]",
    )
    .await;
    let t = test(&report, "Flaky");
    assert!(t.passed, "{t:?}");
    assert_eq!((t.attempts, t.status), (3, Some(200)));
    assert!(t.reason.is_none() && t.response_snippet.is_none());

    let base = support::start().await;
    let report = run(
        &base,
        "defaults: {retries: 1, retry_delay_ms: 20}\ntests: [{name: Flaky, url: '{{base_url}}/flaky'}]",
    )
    .await;
    let t = test(&report, "Flaky");
    assert!(!t.passed);
    assert_eq!((t.attempts, t.status), (2, Some(503)));
    assert_eq!(t.reason.as_deref(), Some("expected a 2xx status, got 503"));
}

#[tokio::test]
async fn tests_that_need_a_failed_capture_are_skipped_and_others_run() {
    let base = support::start().await;
    let env = FakeEnv([("SMOKE_PASSWORD".to_string(), "wrong-password".to_string())].into());
    let spec =
        format!("{LOGIN_FLOW}  - name: Health again\n    url: \"{{{{base_url}}}}/health\"\n");
    let report = run_with(&base, &spec, &env, &support::ssm()).await;
    assert!(!report.passed);
    assert!(test(&report, "Health check").passed);
    let login = test(&report, "Login");
    assert_eq!(login.status, Some(401));
    let me = test(&report, "Me");
    assert!(me.skipped && !me.passed);
    assert_eq!(me.attempts, 0);
    assert_eq!(
        me.reason.as_deref(),
        Some("needs capture `token` from failed test Login")
    );
    assert!(test(&report, "Health again").passed);
    assert_eq!(
        (
            report.totals.passed,
            report.totals.failed,
            report.totals.skipped
        ),
        (2, 1, 1)
    );
    assert!(
        report
            .summary()
            .contains("Me (skipped): needs capture `token` from failed test Login")
    );
}

#[tokio::test]
async fn json_path_expectations_report_each_mismatch() {
    let base = support::start().await;
    let spec = r#"
tests:
  - name: Login
    url: "{{base_url}}/api/v1/login"
    method: POST
    json: { user: smoke@example.com, pass: "{{env.SMOKE_PASSWORD}}" }
    capture: { token: "$.token" }
  - name: Me
    url: "{{base_url}}/api/v1/me"
    headers: { Authorization: "Bearer {{token}}" }
    expect_json: { "$.email": "other@example.com", "$.roles[*]": "admin", "$.missing": 1, "$.plan.seats": 5.0 }
  - name: Not JSON
    url: "{{base_url}}/text"
    capture: { x: "$.x" }
"#;
    let report = run(&base, spec).await;
    let r = reason(&report, "Me");
    assert!(
        r.contains(r#"`$.email` is "smoke@example.com", expected "other@example.com""#),
        "{r}"
    );
    assert!(
        r.contains("`$.roles[*]` matches 2 values in the response; it must match exactly one"),
        "{r}"
    );
    assert!(
        r.contains("`$.missing` matches nothing in the response"),
        "{r}"
    );
    assert!(!r.contains("seats"), "5 and 5.0 are the same number: {r}");
    let r = reason(&report, "Not JSON");
    assert!(r.starts_with("response is not JSON"), "{r}");
}

#[tokio::test]
async fn missing_values_fail_the_test_and_name_the_variable() {
    let base = support::start().await;
    let spec = r#"
tests:
  - { name: Unknown, url: "{{base_url}}/health", headers: { X-Token: "{{tokne}}" } }
  - { name: No env, url: "{{base_url}}/health?p={{env.NOT_SET}}" }
  - { name: No ssm, url: "{{base_url}}/health", headers: { X-Key: "{{ssm:/nope}}" } }
  - { name: Broken ssm, url: "{{base_url}}/health", headers: { X-Key: "{{ssm:/broken}}" } }
  - { name: Elsewhere, url: "http://127.0.0.1:9/x?k={{ssm:/smoke/api-key}}" }
"#;
    let report = run(&base, spec).await;
    assert_eq!(
        reason(&report, "Unknown"),
        "unknown variable `{{tokne}}`: no earlier test captures `tokne`"
    );
    assert_eq!(
        reason(&report, "No env"),
        "`{{env.NOT_SET}}`: environment variable `NOT_SET` is not set"
    );
    assert_eq!(
        reason(&report, "No ssm"),
        "`{{ssm:/nope}}`: SSM parameter `/nope` does not exist"
    );
    assert!(reason(&report, "Broken ssm").contains("could not read SSM parameter `/broken`"));
    let r = reason(&report, "Elsewhere");
    assert!(
        r.contains("smoke tests may only call the idle color"),
        "{r}"
    );
    assert_eq!(test(&report, "Elsewhere").url, "http://127.0.0.1:9/x?k=***");
    for t in &report.tests {
        assert!(!t.passed && t.attempts == 0, "{t:?}");
    }
}
