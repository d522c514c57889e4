//! Following an execution's history and telling it as a timeline: what the
//! action prints in CI and the local demo prints on the terminal.

use std::time::Duration;

use aws_sdk_sfn::Client;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent, HistoryEventType};
use aws_smithy_types::error::display::DisplayErrorContext;
use serde_json::Value;

use crate::results::Results;

pub mod chart;
mod story;
use story::describe;
pub use story::duration;

/// One line of the story.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub at_seconds: f64,
    pub state: String,
    pub text: String,
    /// What the step adds to the release's chart (a split, figures, an event).
    pub chart: Option<chart::ChartPoint>,
}

/// How an execution ended, or reached the point where following it is done.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ending {
    pub status: String,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub output: Option<Value>,
    /// The release is live and its lock released; the execution goes on only
    /// to wait out the warm window before scaling the old color down.
    pub live: bool,
    /// The release waits at a gate (followed with [`Until::gate`]): for a
    /// person's decision or its release window; the execution goes on.
    pub at_gate: bool,
    /// Following stopped at its time limit while the execution still ran
    /// (with [`Until::limit_is_an_ending`]); the execution goes on.
    pub following_timed_out: bool,
    /// The execution document as the last state saw it (on failure, the
    /// input of the Fail state): the smoke report, verdicts, error.
    pub document: Option<Value>,
}

impl Ending {
    /// The error of the step that ended the release (`$.error`), in the
    /// step's own words, without an attached smoke report.
    pub fn step_error(&self) -> Option<String> {
        let cause = self.document.as_ref()?["error"]["Cause"].as_str()?;
        let message = crate::github::smoke::error_message(cause);
        let message = crate::github::smoke::without_report(&message).trim();
        (!message.is_empty()).then(|| message.to_string())
    }

    /// The release's task definition, as deploy-idle named it (registered
    /// or given); `None` when the release ended before deploy-idle ran.
    pub fn task_definition_arn(&self) -> Option<&str> {
        self.document.as_ref()?["deploy"]["task_definition_arn"].as_str()
    }

    /// Whether the release went live: the one definition, shared with the
    /// GitHub report (a release whose scale-down failed afterwards is live).
    pub fn succeeded(&self) -> bool {
        crate::github::Outcome::of(&[], Some(self)) == crate::github::Outcome::Succeeded
    }
}

/// The state after which a release is live and nothing about it can change
/// any more; what follows is the warm window (a day by default).
pub const LIVE_AFTER: &str = "ReleaseLock";

/// The Wait state a failed release's execution enters once its lock is
/// given back: its color keeps its tasks through the app's grace period
/// (an hour by default) before it is scaled back. How the release ended is
/// settled there (`Aborted`, or `RolledBack` when its rollback ran).
pub const FAILED_GRACE: &str = "FailedColorGrace";

/// Every state name the CLI reads from an execution's history (the
/// timeline's summaries, the live point), and the errors of the Fail states
/// it tells apart; a test holds them to the checked-in ASL.
pub const STATES_READ: [&str; 15] = [
    FAILED_GRACE,
    "ScaleBackFailed",
    "DeployIdle",
    "CheckIdle",
    "SmokeTest",
    "Switch",
    "AwaitApproval",
    "PromoteUndecided",
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

/// Where following may stop before the execution ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Until {
    /// Once the release's fate is settled: live (its lock released after
    /// the last step), or failed with its color in its grace period.
    pub live: bool,
    /// Once the release waits at a gate (approval or window): a CI job
    /// need not hold a runner for the hours a person or a window may take.
    pub gate: bool,
    /// At the time limit, an ending that says so (`following_timed_out`)
    /// instead of an error: the caller reports what it saw so far.
    pub limit_is_an_ending: bool,
}

/// Follows `execution_arn` until it ends — or, with `until_live`, until the
/// release is live — calling `on_step` for each step as it happens, with the
/// execution document as the latest state saw it. Gives up after `limit`.
pub async fn follow(
    sfn: &Client,
    execution_arn: &str,
    limit: Duration,
    until_live: bool,
    on_step: impl FnMut(&Step, Option<&Value>),
) -> Result<Ending, String> {
    let until = Until {
        live: until_live,
        ..Until::default()
    };
    follow_until(sfn, execution_arn, limit, until, on_step).await
}

/// [`follow`], stopping where `until` says.
pub async fn follow_until(
    sfn: &Client,
    execution_arn: &str,
    limit: Duration,
    until: Until,
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
        let settled = told.tell(&events, &mut on_step);
        if until.live && settled == Settled::Live {
            return Ok(Ending {
                status: "RUNNING".to_string(),
                live: true,
                document: told.document,
                ..Ending::default()
            });
        }
        if until.live
            && let Settled::Failed(error) = settled
        {
            // The execution goes on only to scale the failed color back.
            return Ok(Ending {
                status: "FAILED".to_string(),
                error: Some(error.to_string()),
                cause: Some(format!(
                    "{}; the execution ends once the release's color is scaled back after its grace period",
                    if error == "RolledBack" {
                        "release rolled back"
                    } else {
                        "failed before any traffic moved; traffic untouched"
                    }
                )),
                document: told.document,
                ..Ending::default()
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
                document: output.clone().or(told.document),
                output,
                ..Ending::default()
            });
        }
        // Checked after the end: an execution stopped while at the gate (an
        // emergency rollback) ended there.
        if until.gate
            && told
                .document
                .as_ref()
                .is_some_and(|doc| Results::of(doc).held_at_gate().is_some())
        {
            return Ok(Ending {
                status: "RUNNING".to_string(),
                at_gate: true,
                document: told.document,
                ..Ending::default()
            });
        }
        if started.elapsed() > limit {
            if until.limit_is_an_ending {
                return Ok(Ending {
                    status: "RUNNING".to_string(),
                    following_timed_out: true,
                    document: told.document,
                    ..Ending::default()
                });
            }
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

/// How far the history has settled the release's fate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settled {
    Not,
    Live,
    /// Failed, as the execution's Fail state will say once its grace ends.
    Failed(&'static str),
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
    /// Tells the events not told yet, and what they settle.
    fn tell(
        &mut self,
        events: &[HistoryEvent],
        on_step: &mut impl FnMut(&Step, Option<&Value>),
    ) -> Settled {
        let mut settled = Settled::Not;
        for event in events.iter().skip(self.seen) {
            let at = event.timestamp.as_secs_f64();
            let t0 = *self.first.get_or_insert(at);
            if let Some(doc) = document_of(event) {
                self.document = Some(doc);
            }
            if let Some(step) = describe(event, at - t0) {
                if step.state == LIVE_AFTER {
                    settled = Settled::Live;
                } else if step.state == FAILED_GRACE {
                    let rolled_back = self
                        .document
                        .as_ref()
                        .is_some_and(|d| d.get("rollback").is_some());
                    settled = Settled::Failed(if rolled_back { "RolledBack" } else { "Aborted" });
                }
                on_step(&step, self.document.as_ref());
            }
        }
        self.seen = self.seen.max(events.len());
        settled
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

/// The document a state handed on (its output) or, for a Fail state, was
/// handed (its input).
fn document_of(event: &HistoryEvent) -> Option<Value> {
    let text = match event.r#type {
        HistoryEventType::FailStateEntered | HistoryEventType::WaitStateEntered => {
            event.state_entered_event_details.as_ref()?.input.clone()
        }
        _ => event.state_exited_event_details.as_ref()?.output.clone(),
    }?;
    serde_json::from_str(&text).ok()
}
