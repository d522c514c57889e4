//! What each of a release's events says to people (see `notify` for how it
//! is rendered and sent): started, waiting at a gate, promoted, aborted.
//! The rollback's own notices are its alerts (`rollback::alert`, with
//! [`crate::steps::rollback::rolled_back_notice`]).

use time::OffsetDateTime;

use crate::document::outcomes::{DeployOutcome, SwitchOutcome};
use crate::records::notifications::NoticeKind;
use crate::steps::notify::Notice;

/// A release took the lock and went to the idle color.
pub fn started(deploy: &DeployOutcome, execution: Option<&str>, now: OffsetDateTime) -> Notice {
    Notice::new(
        NoticeKind::Started,
        &deploy.app,
        format!("{} {} is being released", deploy.app, deploy.version),
        format!(
            "{} goes to {} ({} task(s)); production stays on {} until it is proven.",
            deploy.version,
            deploy.idle_color,
            deploy.desired_count,
            deploy.idle_color.other()
        ),
        now,
    )
    .execution(execution)
    .fact("version", Some(&deploy.version))
    .fact("color", Some(deploy.idle_color))
    .next_step(format!("bluegreen status --app {}", deploy.app))
}

/// A release waits at an approval gate.
pub fn waiting(held: &SwitchOutcome, until: OffsetDateTime, now: OffsetDateTime) -> Notice {
    let app = &held.app;
    Notice::new(
        NoticeKind::Waiting,
        app,
        format!("{app} {} waits for approval", held.version),
        format!(
            "Before {}% of production traffic moves to {} (step {} of {}). It waits until {}.",
            held.weight,
            held.target_color,
            held.step + 1,
            held.steps.len(),
            until
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        ),
        now,
    )
    .execution(held.execution_arn.as_deref())
    .fact("version", Some(&held.version))
    .fact("weight", Some(held.weight))
    .next_step(format!("bluegreen approve --app {app}"))
    .next_step(format!("bluegreen reject --app {app} --reason \"...\""))
}

/// A release serves all production traffic.
pub fn promoted(switch: &SwitchOutcome, now: OffsetDateTime) -> Notice {
    let app = &switch.app;
    Notice::new(
        NoticeKind::Promoted,
        app,
        format!("{app} {} is live on {}", switch.version, switch.target_color),
        format!(
            "Every step baked clean; {} serves all production traffic. {} stays warm for a rollback in one listener change.",
            switch.version,
            switch.target_color.other()
        ),
        now,
    )
    .execution(switch.execution_arn.as_deref())
    .fact("version", Some(&switch.version))
    .fact("color", Some(switch.target_color))
    .next_step(format!("bluegreen rollback --app {app} --reason \"...\" if it misbehaves"))
}

/// A release stopped before traffic moved.
pub fn aborted(
    app: &str,
    version: &str,
    why: &str,
    execution: Option<&str>,
    now: OffsetDateTime,
) -> Notice {
    Notice::new(
        NoticeKind::Aborted,
        app,
        format!("{app} {version} was aborted"),
        format!("Production traffic never moved to it. Why: {why}"),
        now,
    )
    .execution(execution)
    .fact("version", Some(version))
    .fact("reason", Some(why))
}

/// The one line of a caught error (`$.error`) a person reads: its type and
/// the first line of its cause (a Lambda's cause is its JSON answer).
pub fn why(error: &serde_json::Value) -> String {
    let kind = error["Error"].as_str().unwrap_or("error");
    let cause = error["Cause"].as_str().unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(cause)
        .ok()
        .and_then(|v| v["errorMessage"].as_str().map(str::to_string))
        .unwrap_or_else(|| cause.to_string());
    let line: String = message
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect();
    if line.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {line}")
    }
}
