//! Telling an execution's history: one line per step that says something,
//! read from the state's result as the core's types.

use aws_sdk_sfn::types::{HistoryEvent, HistoryEventType};
use bluegreen_core::records::gates::ApprovalDecision;
use bluegreen_core::steps::hooks::HookResult;
use bluegreen_core::steps::migrate::ContractOutcome;
use bluegreen_core::steps::monitor::checks::CheckState;
use bluegreen_core::steps::monitor::{MonitorOutcome, Verdict};
use bluegreen_core::steps::notify::NoticeSent;
use bluegreen_core::steps::switch::{GateStatus, SwitchOutcome};
use bluegreen_smoke::report::REPORT_MARKER;
use serde_json::Value;

use super::Step;
use crate::results::Results;

pub(super) fn describe(event: &HistoryEvent, at_seconds: f64) -> Option<Step> {
    let step = |state: &str, text: String| {
        Some(Step {
            at_seconds,
            state: state.to_string(),
            text,
            chart: None,
        })
    };
    match event.r#type {
        HistoryEventType::TaskStateExited | HistoryEventType::PassStateExited => {
            let d = event.state_exited_event_details.as_ref()?;
            let output: Value = d
                .output
                .as_deref()
                .and_then(|o| serde_json::from_str(o).ok())
                .unwrap_or(Value::Null);
            let text = summary(&d.name, &output)?;
            Some(Step {
                chart: super::chart::point(&d.name, &output),
                ..step(&d.name, text)?
            })
        }
        HistoryEventType::FailStateEntered => {
            let d = event.state_entered_event_details.as_ref()?;
            step(&d.name, "failed".to_string())
        }
        HistoryEventType::WaitStateEntered => {
            let d = event.state_entered_event_details.as_ref()?;
            if d.name != super::FAILED_GRACE {
                return None;
            }
            let doc: Value = d
                .input
                .as_deref()
                .and_then(|i| serde_json::from_str(i).ok())
                .unwrap_or(Value::Null);
            let deploy = &doc["deploy"];
            step(
                &d.name,
                format!(
                    "{} keeps its tasks for {} s to look at, then goes back to the idle capacity",
                    deploy["service"].as_str().unwrap_or("the release's color"),
                    deploy["failed_grace_seconds"].as_u64().unwrap_or_default()
                ),
            )
        }
        HistoryEventType::SucceedStateEntered => {
            let d = event.state_entered_event_details.as_ref()?;
            step(&d.name, "succeeded".to_string())
        }
        // A task token nobody answered in time: the gate's timeout.
        HistoryEventType::TaskTimedOut => {
            let d = event.task_timed_out_event_details.as_ref()?;
            step(
                "",
                format!(
                    "error {}: {}",
                    d.error.as_deref().unwrap_or("States.Timeout"),
                    d.cause
                        .as_deref()
                        .unwrap_or("no decision before the gate's timeout")
                ),
            )
        }
        HistoryEventType::TaskFailed | HistoryEventType::LambdaFunctionFailed => {
            let (error, cause) = event
                .task_failed_event_details
                .as_ref()
                .map(|d| (d.error.clone(), d.cause.clone()))
                .or_else(|| {
                    event
                        .lambda_function_failed_event_details
                        .as_ref()
                        .map(|d| (d.error.clone(), d.cause.clone()))
                })?;
            let cause = cause.unwrap_or_default();
            // A Lambda error's cause is its JSON answer; its message is the story.
            let message = serde_json::from_str::<Value>(&cause)
                .ok()
                .and_then(|v| v["errorMessage"].as_str().map(str::to_string))
                .unwrap_or(cause);
            let cause = message.split(REPORT_MARKER).next().unwrap_or_default();
            step(
                "",
                format!(
                    "error {}: {}",
                    error.unwrap_or_default(),
                    first_line(cause, 160)
                ),
            )
        }
        _ => None,
    }
}

fn scaled(d: &bluegreen_core::steps::scale_down::ScaleDownOutcome) -> String {
    match &d.skipped {
        Some(why) => format!("skipped: {why}"),
        None => format!("{} scaled to {}", d.service, d.desired),
    }
}

fn first_line(s: &str, max: usize) -> String {
    let line = s.lines().next().unwrap_or_default();
    if line.chars().count() > max {
        format!("{}…", line.chars().take(max).collect::<String>())
    } else {
        line.to_string()
    }
}

/// What a state's result says, in a few words, read as the core's types
/// ([`Results`]): a result of another shape says so instead of a blank.
pub(super) fn summary(state: &str, doc: &Value) -> Option<String> {
    let results = Results::of(doc);
    // A state that failed and was caught has no result of its own.
    let line = match state {
        "DeployIdle" => results.deploy()?.map(|d| {
            if d.migrating {
                format!(
                    "expand migration of {} running (task {}); the idle color waits",
                    d.version,
                    d.expand.as_ref().map_or("?", |e| short_task(&e.task_arn))
                )
            } else if d.already_live {
                format!("{} already serves production", d.version)
            } else {
                let again = if d.changed { "" } else { ", already there" };
                let expand = if d.expand.is_some() {
                    "; expand migration done"
                } else {
                    ""
                };
                let redeploy = if doc["release"]["redeploy"] == true {
                    ", redeployed on fresh tasks"
                } else {
                    ""
                };
                format!(
                    "{} on {} ({} task(s)){redeploy}{again}{expand}",
                    d.version, d.idle_color, d.desired_count
                )
            }
        }),
        "CheckIdle" => results.ready()?.map(|r| {
            format!(
                "{}: {}/{} running, {} healthy target(s)",
                if r.ready { "ready" } else { "not ready" },
                r.running,
                r.desired,
                r.healthy_targets
            )
        }),
        "SmokeTest" => results.smoke()?.map(|smoke| {
            let t = &smoke.totals;
            let tests = format!("{} passed, {} failed", t.passed, t.failed);
            match smoke.route {
                // The proof that the tests reached the release, not production.
                Some(route) if route.verified => format!(
                    "{tests} (test route served {} after {} request(s))",
                    route.marker, route.requests
                ),
                _ => tests,
            }
        }),
        "Switch" => results.switch()?.map(|w| switch_line(&w)),
        "AwaitApproval" | "PromoteUndecided" => results.approval()?.map(|a| decision_line(&a)),
        "Monitor" => results.monitor()?.map(|m| monitor_line(&m)),
        "Rollback" => results.rollback()?.map(|r| match r.note {
            Some(note) if !r.changed => note,
            _ => format!(
                "all traffic back on {} ({})",
                r.to.color,
                r.to.version.unwrap_or_default()
            ),
        }),
        "ReleaseLock" | "ReleaseLockDone" | "ReleaseLockAfterRollback" | "Abort" => {
            Ok("lock released".to_string())
        }
        "Contract" => Ok(contract_line(&doc["contract"])),
        "ScaleDown" => results.scale_down()?.map(|d| scaled(&d)),
        "ScaleBackFailed" => results.scale_back()?.map(|d| scaled(&d)),
        _ => return None,
    };
    let line = line.unwrap_or_else(|unreadable| unreadable.to_string());
    let key = match state {
        "DeployIdle" => "deploy",
        "SmokeTest" => "smoke",
        "Monitor" => "monitor",
        "Rollback" => "rollback",
        _ => return Some(line),
    };
    Some(format!(
        "{line}{}{}",
        hooks_note(&doc[key]["hooks"]),
        notices_note(&doc[key]["notices"])
    ))
}

/// The contract step's result in words.
fn contract_line(contract: &Value) -> String {
    let Ok(c) = serde_json::from_value::<ContractOutcome>(contract.clone()) else {
        return "unreadable contract result".to_string();
    };
    let task = c.task_arn.as_deref().map(short_task).unwrap_or_default();
    match (c.migrating, c.contracted, c.skipped) {
        (true, _, _) => format!("contract migration running (task {task})"),
        (_, true, None) => format!("schema contracted (task {task})"),
        (_, _, Some(why)) => format!("no contract: {why}"),
        _ => "no contract".to_string(),
    }
}

/// A task ARN's last part, its ID.
fn short_task(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// `; chat: slack sent, webhook not sent (answered 500)` for the chat
/// notices a step sent (never their URLs: the result holds none).
fn notices_note(notices: &Value) -> String {
    let Ok(notices) = serde_json::from_value::<Vec<NoticeSent>>(notices.clone()) else {
        return String::new();
    };
    if notices.is_empty() {
        return String::new();
    }
    let each: Vec<String> = notices
        .iter()
        .map(|n| match &n.error {
            None if n.sent => format!("{} sent", n.channel),
            Some(e) => format!("{} not sent ({e})", n.channel),
            None => format!("{} not sent", n.channel),
        })
        .collect();
    format!(
        "; chat ({}): {}",
        notices[0].event.as_str(),
        each.join(", ")
    )
}

/// `; hooks: after-step https://h.example.com/x 204` for the hooks a step
/// delivered (their targets as the result shows them: no query, no
/// credentials).
fn hooks_note(hooks: &Value) -> String {
    let Ok(hooks) = serde_json::from_value::<Vec<HookResult>>(hooks.clone()) else {
        return String::new();
    };
    if hooks.is_empty() {
        return String::new();
    }
    let each: Vec<String> = hooks
        .iter()
        .map(|h| {
            let answer = match (h.status, &h.detail) {
                (Some(s), _) => s.to_string(),
                (None, Some(d)) => d.clone(),
                (None, None) => "no answer".to_string(),
            };
            let mark = if h.passed { "passed" } else { "failed" };
            format!("{} {} {mark} ({answer})", h.at, h.target)
        })
        .collect();
    format!("; hooks: {}", each.join(", "))
}

fn switch_line(w: &SwitchOutcome) -> String {
    match w.gate {
        GateStatus::Open => format!("blue {}% / green {}%", w.split.blue, w.split.green),
        GateStatus::Approval => format!(
            "waits for approval before {}% on {} (up to {}): bluegreen approve --app {}",
            w.weight,
            w.target_color,
            duration(w.approval_timeout_seconds.unwrap_or_default()),
            w.app
        ),
        GateStatus::Window => match &w.window {
            Some(window) => format!(
                "waits for its release window ({}): opens {} (in {})",
                window.hours,
                window
                    .opens_at
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
                duration(window.wait_seconds)
            ),
            None => "waits for its release window".to_string(),
        },
    }
}

fn decision_line(a: &ApprovalDecision) -> String {
    match a.decision.as_str() {
        "timed-out" => "no decision before the timeout; on_timeout: promote lets it through".into(),
        decision => {
            let mut line = format!("{decision} by {}", a.by.as_deref().unwrap_or("someone"));
            if let Some(identity) = &a.identity {
                line.push_str(&format!(" ({identity})"));
            }
            line
        }
    }
}

/// `90 s`, `15 min`, `24 h`, `2 d`, `5 h 3 min`: whole units, the two
/// largest that are not zero.
pub fn duration(seconds: u64) -> String {
    if seconds >= 2 * 86_400 && seconds.is_multiple_of(86_400) {
        return format!("{} d", seconds / 86_400);
    }
    let (h, m, s) = (seconds / 3_600, seconds % 3_600 / 60, seconds % 60);
    match (h, m, s) {
        (0, 0, s) => format!("{s} s"),
        (0, m, 0) => format!("{m} min"),
        (0, m, s) => format!("{m} min {s} s"),
        (h, 0, _) => format!("{h} h"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

fn monitor_line(m: &MonitorOutcome) -> String {
    let verdict = serde_json::to_value(m.verdict)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let mut line = format!("{verdict} {}", m.reasons.join("; "));
    let checks: Vec<String> = m
        .figures
        .checks
        .iter()
        .filter(|c| c.state == CheckState::Ok)
        .filter_map(|c| Some(format!("{} {:.0}", c.name, c.value?)))
        .collect();
    if m.verdict != Verdict::Breach && !checks.is_empty() {
        line.push_str(&format!(" ({})", checks.join(", ")));
    }
    line.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_step_line_tells_its_hooks_and_chat_notices() {
        let hooks = json!([{"at": "after-step", "target": "https://h.example.com/x", "passed": false,
                            "status": 503, "on_failure": "fail"}]);
        let notices = json!([
            {"channel": "slack", "event": "promoted", "sent": true},
            {"channel": "webhook", "event": "promoted", "sent": false, "error": "answered 500"},
        ]);
        assert_eq!(
            hooks_note(&hooks),
            "; hooks: after-step https://h.example.com/x failed (503)"
        );
        assert_eq!(
            notices_note(&notices),
            "; chat (promoted): slack sent, webhook not sent (answered 500)"
        );
        assert_eq!(notices_note(&json!(null)), "");
    }
}
