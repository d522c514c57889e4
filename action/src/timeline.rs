//! Following an execution's history and telling it as a timeline: what the
//! action prints in CI and the local demo prints on the terminal.

use std::time::Duration;

use aws_sdk_sfn::Client;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent, HistoryEventType};
use aws_smithy_types::error::display::DisplayErrorContext;
use bluegreen_core::steps::monitor::checks::CheckState;
use bluegreen_core::steps::monitor::{MonitorOutcome, Verdict};
use bluegreen_smoke::report::REPORT_MARKER;
use serde_json::Value;

use crate::results::Results;

/// One line of the story.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub at_seconds: f64,
    pub state: String,
    pub text: String,
}

/// How an execution ended, or reached the point where following it is done.
#[derive(Debug, Clone, PartialEq)]
pub struct Ending {
    pub status: String,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub output: Option<Value>,
    /// The release is live and its lock released; the execution goes on only
    /// to wait out the warm window before scaling the old color down.
    pub live: bool,
    /// The execution document as the last state saw it (on failure, the
    /// input of the Fail state): the smoke report, verdicts, error.
    pub document: Option<Value>,
}

impl Ending {
    /// Whether the release went live: the one definition, shared with the
    /// GitHub report (a release whose scale-down failed afterwards is live).
    pub fn succeeded(&self) -> bool {
        crate::github::Outcome::of(&[], Some(self)) == crate::github::Outcome::Succeeded
    }
}

/// The state after which a release is live and nothing about it can change
/// any more; what follows is the warm window (a day by default).
pub const LIVE_AFTER: &str = "ReleaseLock";

/// Every state name the CLI reads from an execution's history (the
/// timeline's summaries, the live point), and the errors of the Fail states
/// it tells apart; a test holds them to the checked-in ASL.
pub const STATES_READ: [&str; 11] = [
    "DeployIdle",
    "CheckIdle",
    "SmokeTest",
    "Switch",
    "Monitor",
    "Rollback",
    "ScaleDown",
    LIVE_AFTER,
    "ReleaseLockDone",
    "ReleaseLockAfterRollback",
    "Abort",
];
pub const FAIL_ERRORS_READ: [&str; 3] = ["RolledBack", "ScaleDownFailed", "ReleaseLockFailed"];

/// History is read quickly while steps happen and ever less often while
/// nothing does (a bake takes minutes), so that following a deployment costs
/// few Step Functions calls and several deployments at once are not throttled.
const POLL_FASTEST: Duration = Duration::from_millis(300);
const POLL_SLOWEST: Duration = Duration::from_secs(5);

/// Failed reads in a row (each already retried by the SDK) before following
/// gives up: a blip must not fail a CI step while the release goes on.
const READ_FAILURES_TOLERATED: u32 = 5;

/// Follows `execution_arn` until it ends — or, with `until_live`, until the
/// release is live — calling `on_step` for each step as it happens, with the
/// execution document as the latest state saw it. Gives up after `limit`.
pub async fn follow(
    sfn: &Client,
    execution_arn: &str,
    limit: Duration,
    until_live: bool,
    mut on_step: impl FnMut(&Step, Option<&Value>),
) -> Result<Ending, String> {
    let started = std::time::Instant::now();
    let mut told = Told::default();
    let mut poll = POLL_FASTEST;
    let mut failures = 0;
    loop {
        let read = async {
            let events = history(sfn, execution_arn).await?;
            // While events keep coming the execution runs; ask for its status
            // only when they pause or the history says it ended.
            let ended = events.iter().any(is_end);
            let status = if events.len() == told.seen || ended {
                Some(
                    sfn.describe_execution()
                        .execution_arn(execution_arn)
                        .send()
                        .await
                        .map_err(|e| format!("describe execution: {}", DisplayErrorContext(&e)))?,
                )
            } else {
                None
            };
            Ok::<_, String>((events, status, ended))
        };
        let (events, status, ended) = match read.await {
            Ok(read) => {
                failures = 0;
                read
            }
            Err(e) => {
                failures += 1;
                if failures >= READ_FAILURES_TOLERATED || started.elapsed() > limit {
                    return Err(format!("{e} ({failures} failed reads in a row)"));
                }
                tracing::warn!(error = %e, failures, "could not read the execution; trying again");
                poll = (poll * 2).min(POLL_SLOWEST);
                tokio::time::sleep(poll).await;
                continue;
            }
        };
        let new_events = events.len() > told.seen;
        let live = told.tell(&events, &mut on_step);
        if until_live && live {
            return Ok(Ending {
                status: "RUNNING".to_string(),
                error: None,
                cause: None,
                output: None,
                live: true,
                document: told.document,
            });
        }
        if let Some(d) = status
            && d.status != ExecutionStatus::Running
        {
            // One more read, unless the history already held the end: the
            // last events may have landed with the status.
            if !ended && let Ok(events) = history(sfn, execution_arn).await {
                told.tell(&events, &mut on_step);
            }
            let output: Option<Value> = d.output.and_then(|o| serde_json::from_str(&o).ok());
            return Ok(Ending {
                status: d.status.as_str().to_string(),
                error: d.error,
                cause: d.cause,
                live: false,
                document: output.clone().or(told.document),
                output,
            });
        }
        if started.elapsed() > limit {
            return Err(format!("{execution_arn} still running after {limit:?}"));
        }
        poll = if new_events {
            POLL_FASTEST
        } else {
            (poll * 3 / 2).min(POLL_SLOWEST)
        };
        tokio::time::sleep(poll).await;
    }
}

/// What of the history has been told so far.
#[derive(Default)]
struct Told {
    seen: usize,
    /// When the first event happened; steps are timed from it.
    first: Option<f64>,
    document: Option<Value>,
}

impl Told {
    /// Tells the events not told yet; true when one shows the release live.
    fn tell(
        &mut self,
        events: &[HistoryEvent],
        on_step: &mut impl FnMut(&Step, Option<&Value>),
    ) -> bool {
        let mut live = false;
        for event in events.iter().skip(self.seen) {
            let at = event.timestamp.as_secs_f64();
            let t0 = *self.first.get_or_insert(at);
            if let Some(doc) = document_of(event) {
                self.document = Some(doc);
            }
            if let Some(step) = describe(event, at - t0) {
                live |= step.state == LIVE_AFTER;
                on_step(&step, self.document.as_ref());
            }
        }
        self.seen = self.seen.max(events.len());
        live
    }
}

fn is_end(event: &HistoryEvent) -> bool {
    matches!(
        event.r#type,
        HistoryEventType::ExecutionSucceeded
            | HistoryEventType::ExecutionFailed
            | HistoryEventType::ExecutionAborted
            | HistoryEventType::ExecutionTimedOut
    )
}

/// Every event of an execution's history, oldest first (all pages).
pub async fn history(sfn: &Client, arn: &str) -> Result<Vec<HistoryEvent>, String> {
    let mut events = vec![];
    let mut token = None;
    loop {
        let out = sfn
            .get_execution_history()
            .execution_arn(arn)
            .set_next_token(token)
            .max_results(1000)
            .send()
            .await
            .map_err(|e| format!("execution history: {}", DisplayErrorContext(&e)))?;
        events.extend(out.events().iter().cloned());
        token = out.next_token;
        if token.is_none() {
            return Ok(events);
        }
    }
}

fn describe(event: &HistoryEvent, at_seconds: f64) -> Option<Step> {
    let step = |state: &str, text: String| {
        Some(Step {
            at_seconds,
            state: state.to_string(),
            text,
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
            step(&d.name, text)
        }
        HistoryEventType::FailStateEntered => {
            let d = event.state_entered_event_details.as_ref()?;
            step(&d.name, "failed".to_string())
        }
        HistoryEventType::SucceedStateEntered => {
            let d = event.state_entered_event_details.as_ref()?;
            step(&d.name, "succeeded".to_string())
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

/// The document a state handed on (its output) or, for a Fail state, was
/// handed (its input).
fn document_of(event: &HistoryEvent) -> Option<Value> {
    let text = match event.r#type {
        HistoryEventType::FailStateEntered => {
            event.state_entered_event_details.as_ref()?.input.clone()
        }
        _ => event.state_exited_event_details.as_ref()?.output.clone(),
    }?;
    serde_json::from_str(&text).ok()
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
fn summary(state: &str, doc: &Value) -> Option<String> {
    let results = Results::of(doc);
    // A state that failed and was caught has no result of its own.
    let line = match state {
        "DeployIdle" => results.deploy()?.map(|d| {
            if d.already_live {
                format!("{} already serves production", d.version)
            } else {
                let again = if d.changed { "" } else { ", already there" };
                format!(
                    "{} on {} ({} task(s)){again}",
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
        "Switch" => results
            .switch()?
            .map(|w| format!("blue {}% / green {}%", w.split.blue, w.split.green)),
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
        "ScaleDown" => results.scale_down()?.map(|d| match d.skipped {
            Some(why) => format!("skipped: {why}"),
            None => format!("{} scaled to {}", d.service, d.desired),
        }),
        _ => return None,
    };
    Some(line.unwrap_or_else(|unreadable| unreadable.to_string()))
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
