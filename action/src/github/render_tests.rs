use bluegreen_core::steps::deploy::DeployOutcome;
use bluegreen_core::steps::rollback::{ColorVersion, RollbackOutcome, RollbackSource};
use bluegreen_core::steps::switch::SwitchOutcome;
use bluegreen_core::{Color, Split};
use bluegreen_smoke::{SmokeReport, TestReport, Totals};
use serde_json::{Value, json};

use super::*;

const URL: &str = "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/arn:aws:states:us-east-1:1:execution:m:e";

fn test(name: &str, passed: bool, status: u16, reason: Option<&str>) -> TestReport {
    TestReport {
        name: name.into(),
        method: "GET".into(),
        url: "http://idle/x".into(),
        passed,
        skipped: false,
        status: Some(status),
        latency_ms: Some(12),
        attempts: 1,
        reason: reason.map(str::to_string),
        response_snippet: None,
    }
}

fn report(tests: Vec<TestReport>) -> SmokeReport {
    let passed = tests.iter().filter(|t| t.passed).count();
    SmokeReport {
        passed: passed == tests.len(),
        base_url: "http://idle:8081".into(),
        route: None,
        totals: Totals {
            tests: tests.len(),
            passed,
            failed: tests.len() - passed,
            skipped: 0,
        },
        warmup: None,
        tests,
    }
}

fn step(at: f64, state: &str, text: &str) -> Step {
    Step {
        at_seconds: at,
        state: state.into(),
        text: text.into(),
        chart: None,
    }
}

fn ending(status: &str, error: Option<&str>, cause: Option<&str>) -> Ending {
    Ending {
        status: status.into(),
        error: error.map(str::to_string),
        cause: cause.map(str::to_string),
        output: None,
        live: false,
        document: None,
        ..Ending::default()
    }
}

fn color(name: &str) -> Color {
    serde_json::from_value(json!(name)).unwrap()
}

/// Step results as the Lambdas write them: the core's own types.
fn deploy(idle: &str) -> Value {
    serde_json::to_value(DeployOutcome {
        app: "checkout".into(),
        version: "v4".into(),
        idle_color: color(idle),
        service: format!("checkout-{idle}"),
        task_definition_arn: "arn:aws:ecs:us-east-1:1:task-definition/checkout:4".into(),
        desired_count: 2,
        serving_task_definition: None,
        changed: true,
        already_live: false,
        started_at: time::OffsetDateTime::UNIX_EPOCH,
        warm_window_seconds: 60,
        migrating: false,
        expand: None,
        failed_grace_seconds: None,
    })
    .unwrap()
}

fn switch(target: &str, step: u64, steps: &[u8]) -> Value {
    let target_color = color(target);
    let weight = steps[step as usize];
    serde_json::to_value(SwitchOutcome {
        app: "checkout".into(),
        version: "v4".into(),
        target_color,
        step: step as usize,
        steps: steps.to_vec(),
        weight,
        split: Split::with(target_color, weight),
        changed: true,
        done: weight == 100,
        bake_seconds: 300,
        execution_arn: None,
        gate: Default::default(),
        approval_timeout_seconds: None,
        on_timeout: None,
        traffic_moved: false,
        window: None,
    })
    .unwrap()
}

fn rollback(to: &str, to_version: &str, from_version: &str) -> Value {
    serde_json::to_value(RollbackOutcome {
        app: "checkout".into(),
        changed: true,
        from: ColorVersion {
            color: color(to).other(),
            version: Some(from_version.into()),
        },
        to: ColorVersion {
            color: color(to),
            version: Some(to_version.into()),
        },
        split: Split::all(color(to)),
        reason: "monitor breach".into(),
        source: RollbackSource::StateMachine,
        stopped_execution: None,
        lock_released: false,
        alert_error: None,
        note: None,
        waited_seconds: None,
        hooks: Vec::new(),
        notices: Vec::new(),
    })
    .unwrap()
}

/// A monitor result as the monitor Lambda writes it.
fn monitor(step: u64, verdict: &str, reasons: &[&str]) -> Value {
    monitor_at(step, 50, verdict, reasons, 60, 300)
}

fn monitor_at(
    step: u64,
    weight: u8,
    verdict: &str,
    reasons: &[&str],
    elapsed: u64,
    bake: u64,
) -> Value {
    let outcome = bluegreen_core::steps::monitor::MonitorOutcome {
        verdict: serde_json::from_value(json!(verdict)).unwrap(),
        reasons: reasons.iter().map(|r| r.to_string()).collect(),
        step: step as usize,
        weight,
        bake_started_at: time::OffsetDateTime::UNIX_EPOCH,
        elapsed_seconds: elapsed,
        bake_seconds: bake,
        slices: 1,
        decided_at: time::OffsetDateTime::UNIX_EPOCH,
        figures: Default::default(),
        execution_arn: None,
        hooks: Vec::new(),
        notices: Vec::new(),
    };
    serde_json::to_value(outcome).unwrap()
}

#[test]
fn a_release_that_went_live() {
    let doc = json!({
        "deploy": deploy("blue"),
        "smoke": report(vec![test("Health", true, 200, None)]),
        "switch": switch("blue", 1, &[50, 100]),
        "monitor": monitor_at(1, 100, "promote", &[], 300, 300),
    });
    let steps = [
        step(0.3, "DeployIdle", "v4 on blue (2 task(s))"),
        step(0.5, "SmokeTest", "1 passed, 0 failed"),
        step(0.6, "Switch", "blue 50% / green 50%"),
        step(0.9, "ReleaseLock", "lock released"),
    ];
    let md = render_report(
        "checkout",
        "v4",
        &steps,
        Some(&ending("SUCCEEDED", None, None)),
        Some(&doc),
        Some(URL),
    );
    let expected = format!(
        "### ✅ checkout `v4`: succeeded

**Production:** **blue** `v4` (100%) · **Task definition:** `checkout:4` · [Step Functions execution]({URL})

#### Smoke tests: 1 passed, 0 failed

against http://idle:8081

| test | result | status | latency | reason |
|---|---|---:|---:|---|
| Health | ✅ passed | 200 | 12 ms |  |

#### Monitor

| step | weight | verdict | bake | reasons |
|---:|---:|---|---|---|
| 1 of 2 | 50% | ✅ promote | done |  |
| 2 of 2 | 100% | ✅ promote | 300 s of 300 s |  |

<details><summary>Timeline (4 steps)</summary>

| time | state | what happened |
|---:|---|---|
| 0.3 s | DeployIdle | v4 on blue (2 task(s)) |
| 0.5 s | SmokeTest | 1 passed, 0 failed |
| 0.6 s | Switch | blue 50% / green 50% |
| 0.9 s | ReleaseLock | lock released |

</details>
"
    );
    assert_eq!(md, expected, "\n{md}");
}

#[test]
fn in_progress_without_a_document() {
    let md = render_report("checkout", "v4", &[], None, None, Some(URL));
    assert!(
        md.starts_with("### ⏳ checkout `v4`: in progress\n"),
        "{md}"
    );
    assert!(md.contains("[Step Functions execution]("), "{md}");
    assert!(
        !md.contains("<details>") && !md.contains("Smoke tests"),
        "{md}"
    );
}

#[test]
fn failed_smoke_tests_come_from_the_error_cause() {
    let failing = report(vec![
        test(
            "Health",
            false,
            503,
            Some("expected status 200,\ngot 503 | down"),
        ),
        test("Version", true, 200, None),
    ]);
    let message = format!(
        "{}\nreport: {}",
        failing.summary(),
        serde_json::to_string(&failing).unwrap()
    );
    let cause = json!({"errorType": "SmokeTestFailed", "errorMessage": message}).to_string();
    let doc =
        json!({"deploy": deploy("blue"), "error": {"Error": "SmokeTestFailed", "Cause": cause}});
    let md = render_report(
        "checkout",
        "v4",
        &[step(
            0.5,
            "",
            "error SmokeTestFailed: 1 of 2 smoke tests did not pass",
        )],
        Some(&ending(
            "FAILED",
            Some("Aborted"),
            Some("failed before any traffic moved; traffic untouched; see $.error"),
        )),
        Some(&doc),
        None,
    );
    assert!(md.starts_with("### ❌ checkout `v4`: failed\n"), "{md}");
    assert!(
        md.contains("**Production:** **green** (unchanged; the release went to blue"),
        "{md}"
    );
    assert!(
        md.contains("> **Aborted**: failed before any traffic moved; traffic untouched"),
        "{md}"
    );
    // The summary without the attached JSON.
    assert!(
        md.contains("> **SmokeTestFailed** (`error`): 1 of 2 smoke tests did not pass against http://idle:8081: Health: expected status 200, got 503 | down\n"),
        "{md}"
    );
    assert!(!md.contains("report: {"), "{md}");
    assert!(md.contains("#### Smoke tests: 1 passed, 1 failed"), "{md}");
    assert!(
        md.contains(
            "| Health | ❌ failed | 503 | 12 ms | expected status 200,<br>got 503 \\| down |"
        ),
        "{md}"
    );
    assert!(!md.contains("#### Monitor"), "{md}");
}

#[test]
fn a_breach_that_rolled_back() {
    let doc = json!({
        "deploy": deploy("blue"),
        "switch": switch("blue", 0, &[50, 100]),
        "monitor": monitor(0, "breach", &["probes: 3 of 6 failed (first: HTTP 500)"]),
        "rollback": rollback("green", "v2", "v4"),
    });
    let md = render_report(
        "checkout",
        "v4",
        &[step(
            0.6,
            "Monitor",
            "breach probes: 3 of 6 failed (first: HTTP 500)",
        )],
        Some(&ending(
            "FAILED",
            Some("RolledBack"),
            Some("release rolled back; see $.rollback"),
        )),
        Some(&doc),
        None,
    );
    assert!(
        md.starts_with("### ↩️ checkout `v4`: rolled back\n"),
        "{md}"
    );
    assert!(
        md.contains("**Production:** **green** `v2` (rolled back)"),
        "{md}"
    );
    assert!(
        md.contains("> **RolledBack**: release rolled back; see $.rollback"),
        "{md}"
    );
    assert!(
        md.contains(
            "| 1 of 2 | 50% | 🔥 breach | 60 s of 300 s | probes: 3 of 6 failed (first: HTTP 500) |"
        ),
        "{md}"
    );
}

#[test]
fn an_emergency_rollback_from_outside() {
    let doc = json!({"deploy": deploy("blue"), "switch": switch("blue", 0, &[100])});
    let md = render_report(
        "checkout",
        "v5",
        &[],
        Some(&ending(
            "ABORTED",
            Some("bluegreen.RolledBack"),
            Some("rolled back (Sns): checkout errors reported by support"),
        )),
        Some(&doc),
        None,
    );
    assert!(
        md.starts_with("### ↩️ checkout `v5`: rolled back\n"),
        "{md}"
    );
    assert!(
        md.contains("**Production:** **green** (the previous release; rolled back)"),
        "{md}"
    );
    assert!(md.contains("| 1 of 1 | 100% | ⏳ waiting |"), "{md}");
}

#[test]
fn a_stopped_execution_and_hostile_text() {
    let md = render_report(
        "checkout",
        "v`6",
        &[step(1.0, "Monitor", "continue </details> a|b")],
        Some(&ending("ABORTED", None, None)),
        None,
        None,
    );
    assert!(md.starts_with("### ⛔ checkout `v'6`: aborted\n"), "{md}");
    assert!(
        md.contains("| 1.0 s | Monitor | continue &lt;/details&gt; a\\|b |"),
        "{md}"
    );
    assert_eq!(md.matches("</details>").count(), 1, "{md}");
}

#[test]
fn long_timelines_keep_their_end() {
    let steps: Vec<Step> = (0..250)
        .map(|i| step(i as f64, "Monitor", &format!("poll {i}")))
        .collect();
    let md = render_report("checkout", "v4", &steps, None, None, None);
    assert!(
        md.contains("<summary>Timeline (250 steps)</summary>"),
        "{md}"
    );
    assert!(md.contains("| | | … 50 earlier steps not shown |"), "{md}");
    assert!(
        !md.contains("| poll 49 |") && md.contains("| poll 50 |") && md.contains("| poll 249 |")
    );
}

#[test]
fn the_smoke_section_says_whether_the_tests_reached_the_release() {
    let route = |verified: bool| bluegreen_smoke::RouteReport {
        url: "http://idle:8081/version".into(),
        marker: "v4".into(),
        verified,
        requests: if verified { 5 } else { 40 },
        waited_ms: if verified { 1_200 } else { 60_000 },
        last_miss: Some("200 without the marker".into()),
    };
    let mut proven = report(vec![test("Health", true, 200, None)]);
    proven.route = Some(route(true));
    let md = render_report(
        "checkout",
        "v4",
        &[],
        None,
        Some(&json!({"deploy": deploy("blue"), "smoke": proven})),
        None,
    );
    assert!(
        md.contains("Reached the release: http://idle:8081/version answered with v4 after 5 request(s), 1.2 s"),
        "{md}"
    );

    let mut unproven = report(vec![test("Health", false, 0, Some("not run"))]);
    unproven.route = Some(route(false));
    let md = render_report(
        "checkout",
        "v4",
        &[],
        None,
        Some(&json!({"deploy": deploy("blue"), "smoke": unproven})),
        None,
    );
    assert!(
        md.contains("Never reached the release: http://idle:8081/version did not answer with v4 in 40 request(s) (last: 200 without the marker); no test ran"),
        "{md}"
    );
}

#[test]
fn each_metric_check_and_the_probes_figures_are_shown() {
    let mut m = monitor(
        0,
        "breach",
        &["orders per minute: 70 is 30% below the 100 before the switch"],
    );
    m["checks"] = json!([{"name": "orders per minute", "state": "breach", "value": 70.0,
                          "baseline": 100.0, "detail": "70 is 30% below the 100 before the switch"},
                         {"name": "sign-ups", "state": "ok", "value": 12.5, "detail": "floor 5"}]);
    m["probes"] = json!({"sent": 120, "ok": 120, "new_version": 60, "max_latency_ms": 90});
    m["probe_latency"] = json!({"samples": 120, "p50_ms": 21, "p95_ms": 64});
    let doc = json!({"switch": switch("blue", 0, &[50, 100]), "monitor": m});
    let section = super::monitor::section(&doc).expect("a monitor section");
    assert!(
        section.contains("| orders per minute | 70 | 100 | 🔥 breach | 70 is 30% below the 100 before the switch |"),
        "{section}"
    );
    assert!(
        section.contains("| sign-ups | 12.50 | – | ✅ ok | floor 5 |"),
        "{section}"
    );
    assert!(
        section.contains("Probes: 120 sent, 120 answered below 500, 60 by the release; latency p50 21 ms · p95 64 ms · p99 – (last 120 probes)"),
        "{section}"
    );
}

/// A switch held at an approval gate before its `step`-th step, as the
/// switch writes it: the split is the listener's (nothing moved).
fn held(step: usize, on: u8, moved: bool) -> Value {
    let mut held = switch("green", step as u64, &[10, 100]);
    held["gate"] = json!("approval");
    held["split"] = json!(Split::with(Color::Green, on));
    held["approval_timeout_seconds"] = json!(86_400);
    held["on_timeout"] = json!("abort");
    held["traffic_moved"] = json!(moved);
    held["execution_arn"] = json!("arn:e");
    held
}

#[test]
fn a_release_at_its_gate_says_what_it_waits_for_and_how_to_decide() {
    let doc = json!({"deploy": deploy("green"), "switch": held(0, 0, false)});
    let out = render_report("checkout", "v4", &[], None, Some(&doc), Some(URL));
    assert!(
        out.contains(
            "**Waiting for approval** before 10% of production traffic moves to green (step 1 of 2)"
        ),
        "{out}"
    );
    assert!(
        out.contains("up to 24 h; then it aborts with traffic untouched"),
        "{out}"
    );
    assert!(out.contains("`bluegreen approve --app checkout`"), "{out}");
    assert!(
        out.contains("**blue** (unchanged; `v4` waits on green with no traffic)"),
        "nothing moved while it waits: {out}"
    );
    // Followed with wait-for-approval false, the step ended at the gate.
    let at_gate = Ending {
        status: "RUNNING".into(),
        at_gate: true,
        ..Ending::default()
    };
    let out = render_report("checkout", "v4", &[], Some(&at_gate), Some(&doc), None);
    assert!(
        out.starts_with("### ✋ checkout `v4`: waiting for approval"),
        "{out}"
    );
    assert!(out.contains("Waiting for approval"), "{out}");
    // An execution that ended there (stopped by an emergency rollback) no
    // longer waits.
    let stopped = ending("ABORTED", Some("bluegreen.RolledBack"), Some("x"));
    let out = render_report("checkout", "v4", &[], Some(&stopped), Some(&doc), None);
    assert!(!out.contains("Waiting for approval"), "{out}");
}

#[test]
fn the_second_gate_after_traffic_moved_says_a_refusal_rolls_back_and_names_the_first_approver() {
    let doc = json!({
        "switch": held(1, 10, true),
        "approval": {"decision": "approved", "step": 0, "execution_arn": "arn:e",
                     "by": "ana", "identity": "arn:aws:sts::1:assumed-role/deployer/ana",
                     "at": "2026-12-07T09:05:00+01:00"},
    });
    let out = render_report("checkout", "v4", &[], None, Some(&doc), None);
    assert!(out.contains("before 100% of production traffic"), "{out}");
    assert!(out.contains("then it rolls back"), "{out}");
    assert!(
        out.contains(
            "**Approved** by ana (arn:aws:sts::1:assumed-role/deployer/ana) at 08:05 UTC 2026-12-07"
        ),
        "{out}"
    );
    assert!(out.contains("green `v4` 10% / blue 90%"), "{out}");
}

#[test]
fn a_release_outside_its_window_says_when_it_opens() {
    let mut held = held(0, 0, false);
    held["gate"] = json!("window");
    held["window"] = json!({"hours": "mon,tue 22:00–06:00 Europe/Berlin",
                            "opens_at": "2026-12-07T21:00:00Z", "wait_seconds": 18_180});
    let doc = json!({"switch": held});
    let out = render_report("checkout", "v4", &[], None, Some(&doc), None);
    assert!(
        out.contains("**Waiting for the release window** (mon,tue 22:00–06:00 Europe/Berlin) before production traffic moves to green: it opens at 2026-12-07T21:00:00Z (in 5 h 3 min)"),
        "{out}"
    );
    let at_gate = Ending {
        status: "RUNNING".into(),
        at_gate: true,
        document: Some(doc.clone()),
        ..Ending::default()
    };
    let out = render_report("checkout", "v4", &[], Some(&at_gate), Some(&doc), None);
    assert!(
        out.starts_with("### 🕙 checkout `v4`: waiting for its release window"),
        "{out}"
    );
}

#[test]
fn a_redeploy_says_so_beside_its_task_definition() {
    let doc = json!({
        "app": "checkout",
        "release": {"version": "v4", "image": "checkout:v4", "redeploy": true},
        "deploy": deploy("blue"),
    });
    let md = render_report("checkout", "v4", &[], None, Some(&doc), None);
    assert!(
        md.contains("**Task definition:** `checkout:4` (a redeploy, on fresh tasks)"),
        "{md}"
    );
}
