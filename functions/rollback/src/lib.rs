//! The `rollback` Lambda: all production traffic back to the previous color.
//!
//! Three entry points, one code path ([`bluegreen_core::steps::rollback::rollback`];
//! people's requests wait for a cold previous color, bounded, see
//! [`bluegreen_core::steps::rollback::patience`]):
//! - an SNS event from the emergency topic, message body `{"app", "reason"}`;
//! - a direct invoke with the same body;
//! - the state machine, with the execution document (and its `error` or
//!   `monitor` verdict saying why).
//!
//! The message names an app and nothing else: every ARN comes from the app's
//! stored config, so publishing to the topic cannot point traffic anywhere new.

use aws_lambda_events::sns::SnsEvent;
use bluegreen_core::error::Error;
use bluegreen_core::parse;
use bluegreen_core::ports::capabilities::Prefixed;
use bluegreen_core::ports::{Alerts, Clock, Executions, LoadBalancer, ParameterStore, Services};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use bluegreen_core::ports::HookSender;
use bluegreen_core::records::config::AppConfig;
use bluegreen_core::records::hooks::HookPoint;
use bluegreen_core::records::notifications::NoticeKind;
use bluegreen_core::steps::hooks::{HookPlace, HookResult, run_hooks};
use bluegreen_core::steps::notify::{Notice, send_to_chat};
pub use bluegreen_core::steps::rollback::events::ignored;
use bluegreen_core::steps::rollback::events::{
    execution_ended_request, is_execution_ended, state_machine_request,
};
use bluegreen_core::steps::rollback::patience::{Patience, rollback_patiently};
use bluegreen_core::steps::rollback::{
    RollbackOutcome, RollbackRequest, RollbackSource, alert_rollback_failed,
};
use bluegreen_lambda::{HandlerError, SystemClock};
use lambda_runtime::LambdaEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The emergency message, on SNS or invoked directly.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmergencyMessage {
    pub app: String,
    pub reason: String,
    /// Who pressed the button, for the alert and the audit trail.
    #[serde(default)]
    pub requested_by: Option<String>,
}

/// The state machine's last resort when its rollback failed: alert the team.
#[derive(Debug, Deserialize)]
struct RollbackFailedDoc {
    app: String,
    #[serde(default)]
    rollback_error: Option<Value>,
}

/// The answer: one outcome, or one per SNS record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum RollbackResponse {
    One(Box<RollbackOutcome>),
    Many(Vec<RollbackOutcome>),
    /// The answer to `{"rollback_failed": ...}`: whether the team was alerted.
    Alerted {
        alerted: bool,
    },
}

/// The app an event is about (the emergency message's, the state machine
/// document's, or a failed rollback's), read before anything is done for it.
/// SNS delivers one record per invocation; records naming two apps are refused.
pub fn app_of(event: &Value) -> Result<String, Error> {
    if let Some(doc) = event.get("rollback_failed") {
        let doc: RollbackFailedDoc = parse::value("rollback_failed", doc.clone())?;
        return Ok(doc.app);
    }
    let requests = requests(event.clone())?;
    let mut apps = requests.iter().map(|r| r.app.as_str());
    let first = apps.next().unwrap_or_default().to_string();
    if apps.any(|app| app != first) {
        return Err(Error::bad_input(
            "SNS event",
            "Records",
            "names more than one app: send one emergency message per app",
        ));
    }
    Ok(first)
}

/// Sorts an event into rollback requests, or says what is wrong with it.
pub fn requests(event: Value) -> Result<Vec<RollbackRequest>, Error> {
    let Some(object) = event.as_object() else {
        return Err(Error::bad_input(
            "rollback event",
            "(document)",
            "must be a JSON object",
        ));
    };
    if object.contains_key("Records") {
        let sns: SnsEvent = parse::value("SNS event", event)?;
        if sns.records.is_empty() {
            return Err(Error::bad_input("SNS event", "Records", "has no records"));
        }
        return sns
            .records
            .iter()
            .map(|r| {
                let source = format!("SNS message {}", r.sns.message_id);
                let msg: EmergencyMessage = parse::json(&source, &r.sns.message)?;
                let sent_at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(
                    r.sns.timestamp.timestamp_nanos_opt().unwrap_or(0),
                ))
                .ok();
                Ok(RollbackRequest {
                    sent_at,
                    ..emergency(&source, msg, RollbackSource::Sns)?
                })
            })
            .collect();
    }
    if is_execution_ended(&event) {
        if ignored(&event) {
            return Ok(vec![]);
        }
        return Ok(vec![execution_ended_request(event)?]);
    }
    if object.contains_key("release") {
        return Ok(vec![state_machine_request(event)?]);
    }
    let source = "rollback request";
    let msg: EmergencyMessage = parse::value(source, event)?;
    Ok(vec![emergency(source, msg, RollbackSource::Direct)?])
}

fn emergency(
    source: &str,
    msg: EmergencyMessage,
    kind: RollbackSource,
) -> Result<RollbackRequest, Error> {
    let request = RollbackRequest {
        app: msg.app,
        reason: msg.reason,
        source: kind,
        requested_by: msg.requested_by,
        caller_execution: None,
        release: None,
        sent_at: None,
        ended_execution: None,
    };
    request.validate().map_err(|e| match e {
        Error::BadInput { field, problem, .. } => Error::bad_input(source, field, problem),
        other => other,
    })?;
    Ok(request)
}

/// Configs read by earlier invocations of this warm Lambda: with one known,
/// the first round reads records and world at once (see `observe`); a config
/// that changed since is noticed and re-read in the same invocation.
fn known_configs() -> &'static Mutex<HashMap<String, AppConfig>> {
    static CONFIGS: OnceLock<Mutex<HashMap<String, AppConfig>>> = OnceLock::new();
    CONFIGS.get_or_init(Default::default)
}

/// The Lambda's handler: real time, and people's requests wait for a cold
/// color as [`Patience::LAMBDA`] allows.
pub async fn handler<W, H>(
    aws: &W,
    hooks: &H,
    event: LambdaEvent<Value>,
) -> Result<RollbackResponse, HandlerError>
where
    W: ParameterStore + LoadBalancer + Services + Alerts + Executions + Prefixed,
    H: HookSender,
{
    handler_with(aws, hooks, event, &SystemClock, Patience::LAMBDA).await
}

/// [`handler`] with the clock and patience given (tests play time).
pub async fn handler_with<W, H>(
    aws: &W,
    hooks: &H,
    event: LambdaEvent<Value>,
    clock: &impl Clock,
    patience: Patience,
) -> Result<RollbackResponse, HandlerError>
where
    W: ParameterStore + LoadBalancer + Services + Alerts + Executions + Prefixed,
    H: HookSender,
{
    if let Some(doc) = event.payload.get("rollback_failed") {
        let doc: RollbackFailedDoc = parse::value("rollback_failed", doc.clone())?;
        let error = doc
            .rollback_error
            .as_ref()
            .map(|e| {
                let name = e.get("Error").and_then(Value::as_str).unwrap_or("error");
                let cause = e.get("Cause").and_then(Value::as_str).unwrap_or("");
                format!("{name}: {cause}")
            })
            .unwrap_or_else(|| "the rollback failed".to_string());
        let alerted = alert_rollback_failed(aws, &doc.app, &error, clock.now()).await?;
        if let Ok(config) = bluegreen_core::records::store::AppStore::new(aws, aws.prefix())?
            .config(&doc.app)
            .await
        {
            let notice = Notice::new(
                NoticeKind::RollbackFailed,
                &doc.app,
                format!("rollback of {} FAILED", doc.app),
                format!(
                    "bluegreen could NOT roll back {}: {error}. Production may still serve the release; roll back again through the emergency topic, or move the listener by hand.",
                    doc.app
                ),
                clock.now(),
            )
            .next_step(format!("bluegreen status --app {}", doc.app));
            send_to_chat(aws, aws.prefix(), hooks, &config, &notice).await;
        }
        return Ok(RollbackResponse::Alerted { alerted });
    }
    let is_sns = event.payload.get("Records").is_some();
    let requests = requests(event.payload)?;
    let mut outcomes = Vec::with_capacity(requests.len());
    for request in &requests {
        let known = known_configs()
            .lock()
            .expect("config cache")
            .get(&request.app)
            .cloned();
        // Boxed: the rollback's future is large, and callers (the runtime,
        // tests on a 2 MB thread in a debug build) keep only a pointer.
        outcomes.push(
            Box::pin(rollback_patiently(
                aws,
                request,
                known.as_ref(),
                clock,
                patience,
            ))
            .await?,
        );
        // Once traffic is back, the config is read afresh (off the
        // emergency path): the next rollback starts from it, and the
        // `on-rollback` hooks are the app's current ones.
        let fresh = bluegreen_core::records::store::AppStore::new(aws, aws.prefix())?
            .config(&request.app)
            .await
            .ok();
        if let Some(config) = &fresh {
            known_configs()
                .lock()
                .expect("config cache")
                .insert(request.app.clone(), config.clone());
        }
        // The team's `on-rollback` hooks hear of it, each within the hooks'
        // budget; their failures are only reported.
        if let (Some(config), Some(outcome)) = (fresh, outcomes.last_mut())
            && outcome.changed
        {
            outcome.hooks = on_rollback(aws, hooks, &config, request, outcome, clock.now()).await;
            let notice = bluegreen_core::steps::rollback::rolled_back_notice(
                outcome,
                request.requested_by.as_deref(),
                clock.now(),
            );
            outcome.notices = send_to_chat(aws, aws.prefix(), hooks, &config, &notice).await;
        }
    }
    Ok(if is_sns || outcomes.len() != 1 {
        RollbackResponse::Many(outcomes)
    } else {
        RollbackResponse::One(Box::new(outcomes.remove(0)))
    })
}

/// Delivers the app's `on-rollback` hooks for a rollback that moved traffic.
async fn on_rollback<W: ParameterStore + Prefixed, H: HookSender>(
    aws: &W,
    hooks: &H,
    config: &bluegreen_core::records::config::AppConfig,
    request: &RollbackRequest,
    outcome: &RollbackOutcome,
    now: time::OffsetDateTime,
) -> Vec<HookResult> {
    let place = HookPlace {
        at: HookPoint::OnRollback,
        app: &request.app,
        version: outcome.from.version.as_deref().unwrap_or("unknown"),
        execution_arn: request
            .caller_execution
            .as_deref()
            .or(outcome.stopped_execution.as_deref()),
        release_color: outcome.from.color,
        step: None,
        weight: None,
        weights: Some(outcome.split),
        reason: Some(&request.reason),
    };
    // An on-rollback hook never fails the rollback (see `run_hooks`).
    run_hooks(aws, aws.prefix(), hooks, config, &place, now)
        .await
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sns(message: &str) -> Value {
        json!({"Records": [{
            "EventSource": "aws:sns", "EventVersion": "1.0",
            "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:emergency:1",
            "Sns": {
                "Type": "Notification", "MessageId": "m-1",
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:emergency",
                "Subject": null, "Message": message,
                "Timestamp": "2026-11-22T10:00:00.000Z", "SignatureVersion": "1",
                "Signature": "x", "SigningCertUrl": "https://x", "UnsubscribeUrl": "https://x",
                "MessageAttributes": {}
            }
        }]})
    }

    #[test]
    fn sorts_the_three_entry_points() {
        let r = requests(sns(r#"{"app": "checkout", "reason": "500s"}"#)).unwrap();
        assert_eq!(r[0].source, RollbackSource::Sns);
        assert_eq!(r[0].app, "checkout");

        let r = requests(json!({"app": "checkout", "reason": "x", "requested_by": "ana"})).unwrap();
        assert_eq!(r[0].source, RollbackSource::Direct);
        assert_eq!(r[0].requested_by.as_deref(), Some("ana"));

        let r = requests(json!({
            "app": "checkout", "release": {"version": "v2", "image": "i"},
            "execution": {"arn": "arn:aws:states:us-east-1:123456789012:execution:sm:e1"},
            "error": {"Error": "Breach", "Cause": "5xx 12%"}
        }))
        .unwrap();
        assert_eq!(r[0].source, RollbackSource::StateMachine);
        assert_eq!(r[0].reason, "Breach: 5xx 12%");
        assert!(r[0].caller_execution.is_some());
    }

    /// A breach with many long reasons (every alarm in ALARM, each probe's
    /// error) must still roll back: a machine-made reason is summarised to
    /// fit, never refused as bad input.
    #[test]
    fn a_long_machine_made_reason_is_summarised_not_refused() {
        let alarm = |i: usize| format!("alarm checkout-{i}-{} is in ALARM", "x".repeat(120));
        let reasons: Vec<String> = (0..8).map(alarm).collect();
        let r = requests(json!({
            "app": "checkout", "release": {"version": "v2", "image": "i"},
            "monitor": {"verdict": "breach", "reasons": reasons}
        }))
        .expect("a breach's rollback is never refused for its reason's length");
        let reason = &r[0].reason;
        assert!(
            reason.chars().count() <= bluegreen_core::steps::rollback::MAX_REASON,
            "{reason}"
        );
        assert!(
            reason.starts_with("monitor breach: alarm checkout-0-"),
            "{reason}"
        );
        assert!(
            reason.ends_with("more)"),
            "says how many were left out: {reason}"
        );

        let cause = "y".repeat(5000);
        let r = requests(json!({
            "app": "checkout", "release": {"version": "v2", "image": "i"},
            "error": {"Error": "States.TaskFailed", "Cause": cause}
        }))
        .expect("a caught error's rollback is never refused");
        assert!(r[0].reason.chars().count() <= bluegreen_core::steps::rollback::MAX_REASON);
        assert!(r[0].reason.starts_with("States.TaskFailed: yyy"));

        // People's reasons are still refused for length, saying where.
        let e = requests(json!({"app": "checkout", "reason": "z".repeat(1001)}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`reason`") && e.contains("at most 1000"), "{e}");
    }

    fn ended(status: &str, error: Option<&str>) -> Value {
        json!({
            "version": "0", "id": "e-1",
            "detail-type": "Step Functions Execution Status Change",
            "source": "aws.states", "account": "123456789012",
            "time": "2026-12-06T10:00:00Z", "region": "us-east-1",
            "resources": ["arn:aws:states:us-east-1:123456789012:execution:bluegreen-checkout:x"],
            "detail": {
                "executionArn": "arn:aws:states:us-east-1:123456789012:execution:bluegreen-checkout:x",
                "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:bluegreen-checkout",
                "name": "x", "status": status, "error": error,
                "input": r#"{"app": "checkout", "release": {"version": "v2", "image": "i"}}"#
            }
        })
    }

    #[test]
    fn an_ended_execution_is_a_request_about_its_release() {
        let r = requests(ended("ABORTED", None)).unwrap();
        assert_eq!(r[0].source, RollbackSource::ExecutionEnded);
        assert_eq!(r[0].app, "checkout");
        assert_eq!(r[0].release.as_ref().unwrap().version, "v2");
        assert!(r[0].reason.contains("ended ABORTED"), "{}", r[0].reason);
        assert_eq!(app_of(&ended("TIMED_OUT", None)).unwrap(), "checkout");

        // The state machine refused a release naming another app: that app's
        // release never started here, and nothing is asked of it.
        assert!(ignored(&ended("FAILED", Some("WrongApp"))));
        assert!(
            requests(ended("FAILED", Some("WrongApp")))
                .unwrap()
                .is_empty()
        );
        assert!(!ignored(&ended("FAILED", Some("States.TaskFailed"))));

        let e = requests(ended("SUCCEEDED", None)).unwrap_err().to_string();
        assert!(e.contains("detail.status"), "{e}");
    }

    #[test]
    fn bad_messages_say_what_and_where() {
        let e = requests(sns("{not json")).unwrap_err().to_string();
        assert!(
            e.contains("SNS message m-1 is invalid at `line 1 column 2`"),
            "{e}"
        );
        let e = requests(sns(r#"{"reason": "x"}"#)).unwrap_err().to_string();
        assert!(e.contains("missing field `app`"), "{e}");
        let e = requests(sns(r#"{"app": "checkout"}"#))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing field `reason`"), "{e}");
        let e = requests(sns(
            r#"{"app": "c", "reason": "x", "target_group_arn": "arn:x"}"#,
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("unknown field `target_group_arn`"), "{e}");
        let e = requests(json!({"app": "c", "reason": "  "}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`reason`"), "{e}");
        let e = requests(json!("rollback!")).unwrap_err().to_string();
        assert!(e.contains("must be a JSON object"), "{e}");
    }
}
