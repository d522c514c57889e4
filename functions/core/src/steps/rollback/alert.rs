//! What people hear of a rollback: done, refused, or failed, as AWS Chatbot
//! custom notifications on the app's alert topic (see `steps::notify`). A
//! failure to send an alert is logged; the rollback's answer stands.

use time::OffsetDateTime;
use tracing::error;

use crate::ports::Alerts;
use crate::records::notifications::NoticeKind;
use crate::steps::notify::Notice;

use super::{RollbackOutcome, RollbackRequest};

/// The alert for a rollback that stopped a deployment but could not move
/// traffic back.
pub(super) async fn alert_refused(
    alerts: &impl Alerts,
    topic: &str,
    app: &str,
    why: &str,
    request: &RollbackRequest,
    now: OffsetDateTime,
) {
    let summary = format!("bluegreen did not roll back {app}: {why}");
    let subject = format!("bluegreen: {app} NOT rolled back; its deployment was stopped");
    not_rolled_back(alerts, topic, app, &summary, &subject, request, now).await;
}

/// The alert for a rollback that waits for a cold color (the state machine
/// retries it): production still serves the release it is leaving.
pub(super) async fn alert_waiting(
    alerts: &impl Alerts,
    topic: &str,
    app: &str,
    why: &str,
    request: &RollbackRequest,
    now: OffsetDateTime,
) {
    let summary = format!("bluegreen has not rolled back {app} yet: {why}");
    let subject = format!("bluegreen: {app} rollback waits for a cold color");
    not_rolled_back(alerts, topic, app, &summary, &subject, request, now).await;
}

/// The alert for a rollback that failed: production may still be on the
/// release it was meant to leave.
pub(super) async fn alert_failed(
    alerts: &impl Alerts,
    topic: &str,
    app: &str,
    error: &str,
    request: &RollbackRequest,
    now: OffsetDateTime,
) {
    let summary = format!(
        "bluegreen could NOT roll back {app}: {error}. Production may still serve the release; \
         roll back again through the emergency topic, or move the listener by hand"
    );
    let subject = format!("bluegreen: rollback of {app} FAILED");
    not_rolled_back(alerts, topic, app, &summary, &subject, request, now).await;
}

/// The alert for a rollback the schema no longer allows: nothing changed,
/// and the way out is a release forward.
pub(super) async fn alert_schema_contracted(
    alerts: &impl Alerts,
    topic: &str,
    app: &str,
    why: &str,
    request: &RollbackRequest,
    now: OffsetDateTime,
) {
    let summary = format!("{why}. Nothing was changed; production keeps serving its release.");
    let subject = format!("bluegreen: {app} NOT rolled back: the schema was contracted");
    let next = "Deploy a fix forward: bluegreen deploy --app … --version …".to_string();
    not_rolled_back_then(alerts, topic, app, &summary, &subject, next, request, now).await;
}

/// Publishes an alert that says production was not rolled back; a failure
/// to send it is logged, the rollback's answer stands.
async fn not_rolled_back(
    alerts: &impl Alerts,
    topic: &str,
    app: &str,
    summary: &str,
    subject: &str,
    request: &RollbackRequest,
    now: OffsetDateTime,
) {
    let next = format!(
        "bluegreen rollback --app {app} --reason \"...\" (or publish to the emergency topic)"
    );
    not_rolled_back_then(alerts, topic, app, summary, subject, next, request, now).await;
}

/// [`not_rolled_back`] with what to do next.
#[allow(clippy::too_many_arguments)]
async fn not_rolled_back_then(
    alerts: &impl Alerts,
    topic: &str,
    app: &str,
    summary: &str,
    subject: &str,
    next: String,
    request: &RollbackRequest,
    now: OffsetDateTime,
) {
    let message = Notice::new(
        NoticeKind::RollbackFailed,
        app,
        subject.trim_start_matches("bluegreen: ").to_string(),
        summary.to_string(),
        now,
    )
    .fact("reason", Some(&request.reason))
    .fact("source", Some(source_name(request.source)))
    .fact("requested_by", request.requested_by.as_ref())
    .fact("rolled_back", Some(false))
    .next_step(format!("bluegreen status --app {app}"))
    .next_step(next)
    .chatbot();
    // SNS subjects are limited to 100 characters.
    let subject: String = subject.chars().take(100).collect();
    if let Err(e) = alerts.publish(topic, &subject, &message.to_string()).await {
        error!(app, error = %e, subject, "an alert that production was not rolled back failed");
    }
}

pub(super) async fn alert(
    alerts: &impl Alerts,
    topic: &str,
    outcome: &RollbackOutcome,
    request: &RollbackRequest,
    now: OffsetDateTime,
) -> Option<String> {
    let message = rolled_back_notice(outcome, request.requested_by.as_deref(), now).chatbot();
    // SNS subjects are limited to 100 characters.
    let subject: String = format!(
        "bluegreen: {} rolled back to {}",
        outcome.app, outcome.to.color
    )
    .chars()
    .take(100)
    .collect();
    match alerts.publish(topic, &subject, &message.to_string()).await {
        Ok(()) => None,
        Err(e) => {
            error!(app = %outcome.app, error = %e, "rollback done, but the alert failed");
            Some(e.to_string())
        }
    }
}

/// The alert for a release that serves all production traffic while its
/// execution ended before it finished (stopped during its last bake, or its
/// scale-down failed): nobody gave it a verdict, and nothing was rolled back.
pub(super) async fn alert_unfinished(
    alerts: &impl Alerts,
    topic: &str,
    app: &str,
    execution: &str,
    outcome: &RollbackOutcome,
    now: OffsetDateTime,
) -> Option<String> {
    let version = outcome.to.version.as_deref().unwrap_or("its release");
    let summary = format!(
        "{app}: release {version} serves all production traffic, but its execution {execution} ended before it finished (no verdict on its last bake, or its scale-down failed). Nothing was rolled back; roll back through the emergency topic if it misbehaves"
    );
    let message = Notice::new(
        NoticeKind::Attention,
        app,
        format!("{app} {version} live without a verdict"),
        summary.clone(),
        now,
    )
    .execution(Some(execution))
    .fact("reason", Some(&outcome.reason))
    .fact("source", Some(source_name(outcome.source)))
    .fact("rolled_back", Some(false))
    .fact("to_color", Some(outcome.to.color))
    .fact("to_version", outcome.to.version.as_ref())
    .next_step(format!("bluegreen status --app {app}"))
    .chatbot();
    let subject: String = format!("bluegreen: {app} {version} live without a verdict")
        .chars()
        .take(100)
        .collect();
    match alerts.publish(topic, &subject, &message.to_string()).await {
        Ok(()) => None,
        Err(e) => {
            error!(app, error = %e, "the alert for an unfinished release failed");
            Some(e.to_string())
        }
    }
}

/// The source's name as its JSON says it (`emergency`, `state-machine`, …).
pub(crate) fn source_name(source: super::RollbackSource) -> String {
    serde_json::to_value(source)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Traffic went back: why, by whom, and what serves now.
pub fn rolled_back_notice(
    outcome: &RollbackOutcome,
    requested_by: Option<&str>,
    now: OffsetDateTime,
) -> Notice {
    let version = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown version".into());
    let by = requested_by.map_or_else(String::new, |b| format!(" (by {b})"));
    Notice::new(
        NoticeKind::RolledBack,
        &outcome.app,
        format!(
            "{} rolled back to {} ({})",
            outcome.app,
            outcome.to.color,
            version(&outcome.to.version)
        ),
        format!(
            "bluegreen rolled back {}: all production traffic is on {} ({}), away from {} ({}). Why: {}{by}.",
            outcome.app,
            outcome.to.color,
            version(&outcome.to.version),
            outcome.from.color,
            version(&outcome.from.version),
            outcome.reason
        ),
        now,
    )
    .execution(outcome.stopped_execution.as_deref())
    .fact("reason", Some(&outcome.reason))
    .fact(
        "source",
        Some(source_name(outcome.source)),
    )
    .fact("requested_by", requested_by)
    .fact("rolled_back", Some(true))
    .fact("to_color", Some(outcome.to.color))
    .fact("to_version", outcome.to.version.as_ref())
    .fact("from_color", Some(outcome.from.color))
    .fact("from_version", outcome.from.version.as_ref())
    .fact("stopped_execution", outcome.stopped_execution.as_ref())
    .next_step(format!("bluegreen status --app {}", outcome.app))
}
