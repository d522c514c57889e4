//! The route check and `{{version}}` against a real HTTP server: smoke tests
//! must prove the release, not whatever color the test route still reaches.

// Shared by several test binaries; each uses part of it.
#[allow(dead_code)]
mod support;

use std::time::Duration;

use bluegreen_core::steps::monitor::VersionCheck;
use bluegreen_smoke::{RouteCheck, Runner, SmokeReport, http_client, parse};
use support::OLD_VERSION_ANSWERS;

const SPEC: &str = r#"
tests:
  - name: Health
    url: "{{base_url}}/health"
  - name: Version
    url: "{{base_url}}/version"
    expect_body_contains: "{{version}}"
"#;

/// The release's version, read where the monitor reads it: `header`, or by
/// default the JSON `version` field or an `X-Version` header.
fn version(expected: &str, header: Option<&str>) -> VersionCheck {
    VersionCheck {
        expected: expected.to_string(),
        header: header.map(str::to_string),
        json_path: None,
    }
}

fn check(url: String, marker: &str, timeout_ms: u64) -> RouteCheck {
    RouteCheck {
        interval: Duration::from_millis(20),
        request_timeout: Duration::from_millis(500),
        ..RouteCheck::new(
            url,
            version(marker, None),
            Duration::from_millis(timeout_ms),
        )
    }
}

async fn run(base: &str, version: Option<&str>, route: Option<RouteCheck>) -> SmokeReport {
    let http = http_client().unwrap();
    let (ssm, env) = (support::ssm(), support::env());
    let mut runner = Runner::new(&http, &ssm, &env);
    if let Some(v) = version {
        runner = runner.with_version(v);
    }
    if let Some(check) = route {
        runner = runner.with_route_check(check);
    }
    runner.run(&parse(SPEC).unwrap(), base).await
}

#[tokio::test]
async fn tests_wait_until_the_route_serves_the_release() {
    let base = support::start().await;
    let report = run(
        &base,
        Some("v2"),
        Some(check(format!("{base}/version"), "v2", 5_000)),
    )
    .await;
    let route = report.route.as_ref().unwrap();
    assert!(route.verified, "{route:?}");
    // The old answers, then three in a row from the release.
    assert_eq!(route.requests, OLD_VERSION_ANSWERS + 3, "{route:?}");
    assert_eq!(route.last_miss.as_deref(), Some("200 without the marker"));
    assert!(report.passed, "{}", report.summary());
    assert_eq!(report.totals.passed, 2);
}

#[tokio::test]
async fn a_route_that_never_serves_the_release_fails_without_running_tests() {
    let base = support::start().await;
    let report = run(
        &base,
        Some("v9"),
        Some(check(format!("{base}/version"), "v9", 300)),
    )
    .await;
    assert!(!report.passed);
    let route = report.route.as_ref().unwrap();
    assert!(!route.verified && route.requests > 1, "{route:?}");
    assert_eq!(report.totals.skipped, 2, "no test ran: {report:?}");
    let summary = report.summary();
    assert!(
        summary.contains("the test route did not answer with `v9`")
            && summary.contains("200 without the marker"),
        "{summary}"
    );
    assert!(
        report.tests[0]
            .reason
            .as_deref()
            .unwrap()
            .starts_with("not run: the test route did not answer"),
        "{:?}",
        report.tests[0]
    );
}

#[tokio::test]
async fn a_refused_route_fails_with_the_reason() {
    let base = support::refused_base_url().await;
    let report = run(
        &base,
        Some("v2"),
        Some(check(format!("{base}/version"), "v2", 200)),
    )
    .await;
    assert!(!report.passed);
    assert!(
        report.summary().contains("last: connection failed"),
        "{}",
        report.summary()
    );
}

#[tokio::test]
async fn the_marker_may_be_a_header() {
    let base = support::start().await;
    let mut by_header = check(format!("{base}/version-header"), "v2", 2_000);
    by_header.version = version("v2", Some("x-app-version"));
    let report = run(&base, None, Some(by_header)).await;
    let route = report.route.as_ref().unwrap();
    assert!(route.verified && route.requests == 3, "{route:?}");
}

#[tokio::test]
async fn a_version_that_is_a_substring_of_some_header_proves_nothing() {
    // Version `2` appears in every `Date` header and in `v2`: neither is the
    // release naming itself.
    let base = support::start().await;
    let report = run(
        &base,
        None,
        Some(check(format!("{base}/version"), "2", 300)),
    )
    .await;
    let route = report.route.as_ref().unwrap();
    assert!(!route.verified, "{route:?}");
    assert!(!report.passed);
}

#[tokio::test]
async fn the_version_placeholder_is_the_release_under_test() {
    let base = support::start().await;
    // The first answers come from v1: a test expecting `{{version}}` = v2 fails,
    // which is the point of the placeholder.
    let report = run(&base, Some("v2"), None).await;
    assert!(!report.passed);
    let version = report.tests.iter().find(|t| t.name == "Version").unwrap();
    assert!(
        version.reason.as_deref().unwrap().contains("v2"),
        "{version:?}"
    );

    // Without a known version the test fails and names the variable.
    let report = run(&base, None, None).await;
    let version = report.tests.iter().find(|t| t.name == "Version").unwrap();
    assert!(
        version
            .reason
            .as_deref()
            .unwrap()
            .contains("`{{version}}`: no release version is known"),
        "{version:?}"
    );
}
