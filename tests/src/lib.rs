//! The test harness: a local AWS emulator started by the tests, the example
//! app provisioned in it, and independent read-backs for the assertions.

use std::sync::OnceLock;

pub mod memory;

use bluegreen_core::ports::capabilities::Prefixed;
use bluegreen_core::ports::{Alerts, Executions, LoadBalancer, ParameterStore, Services};

/// An app on either AWS, the emulator's ([`ExampleApp`]) or the in-memory
/// one ([`memory::MemoryApp`]): what calling a handler for it takes.
pub trait TestApp {
    type Aws: ParameterStore + LoadBalancer + Services + Alerts + Executions + Prefixed;
    /// The Lambdas' capability object over this app's AWS.
    fn aws(&self) -> Self::Aws;
    fn app_name(&self) -> &str;
}

impl TestApp for ExampleApp {
    type Aws = bluegreen_aws::AwsPorts;
    fn aws(&self) -> Self::Aws {
        self.ports()
    }
    fn app_name(&self) -> &str {
        &self.name
    }
}

pub use bluegreen_local::emulator::{Emulator, EmulatorOptions};
pub use bluegreen_local::example::{AppOptions, ExampleApp, PREFIX};
pub use bluegreen_local::sample::{Behaviour, SampleApp};

static EMULATOR: OnceLock<Emulator> = OnceLock::new();

/// The emulator shared by every test of this binary, started on first use.
/// Tests keep apart by giving each app its own name. Fails, never skips,
/// when moto is missing, with the command that installs it.
pub fn emulator() -> &'static Emulator {
    EMULATOR.get_or_init(|| {
        Emulator::start(EmulatorOptions::default()).unwrap_or_else(|e| panic!("{e}"))
    })
}

/// Provisions the example app `name` in the shared emulator.
pub async fn provision(name: &str, options: AppOptions) -> ExampleApp {
    ExampleApp::provision(&emulator().sdk_config().await, name, options).await
}

/// Takes `app`'s deployment lock for `holder` for an hour, as deploy-idle
/// does for an execution.
pub async fn hold_lock(app: &impl TestApp, holder: &str) {
    assert!(try_hold_lock(app, holder).await, "lock for {holder}");
}

/// Takes `app`'s lock for `holder` unless someone holds it; returns whether
/// `holder` holds it now.
pub async fn try_hold_lock(app: &impl TestApp, holder: &str) -> bool {
    take_lock(&app.aws(), app.app_name(), holder).await
}

/// Gives back `holder`'s lock, as the state machine's release step does.
pub async fn release_lock(app: &impl TestApp, holder: &str) {
    give_lock_back(&app.aws(), app.app_name(), holder).await;
}

/// Takes `app`'s lock for `holder` for an hour, as deploy-idle does for an
/// execution, through any AWS (the emulator's or the in-memory one).
pub async fn take_lock<W: ParameterStore + Executions>(aws: &W, app: &str, holder: &str) -> bool {
    bluegreen_core::records::store::AppStore::new(aws, PREFIX)
        .expect("prefix")
        .acquire_lock(
            app,
            holder,
            std::time::Duration::from_secs(3600),
            time::OffsetDateTime::now_utc(),
            aws,
        )
        .await
        .is_ok()
}

/// Gives back `holder`'s lock on `app`, through any AWS.
pub async fn give_lock_back<W: ParameterStore>(aws: &W, app: &str, holder: &str) {
    bluegreen_core::records::store::AppStore::new(aws, PREFIX)
        .expect("prefix")
        .release_lock(app, holder)
        .await
        .expect("release lock");
}

/// The name a direct invoke (no execution) holds `app`'s lock under for
/// `version`, as deploy-idle takes it.
pub fn manual_holder(app: &impl TestApp, version: &str) -> String {
    format!("manual:{}:{version}", app.app_name())
}

use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};

/// An invoke as the Lambda runtime hands it to a handler.
pub fn lambda_event(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, Context::default())
}

/// The execution input the action sends for `version` of `app`.
pub fn release_input(app: &str, version: &str) -> Value {
    json!({
        "app": app,
        "release": {"version": version, "image": format!("example/{app}:{version}")},
        "github": {"repository": "example/shop", "deployment_id": 7, "pr": 45}
    })
}

/// The SNS event Lambda receives when `message` is published to the
/// emergency topic, now.
pub fn sns_event(message: &str) -> Value {
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("timestamp");
    sns_event_sent_at(message, &now)
}

/// The same, published at `timestamp` (RFC 3339): a late delivery.
pub fn sns_event_sent_at(message: &str, timestamp: &str) -> Value {
    json!({"Records": [{
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:bluegreen-emergency:3d1a8f53-0000-4000-8000-000000000001",
        "Sns": {
            "Type": "Notification",
            "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:bluegreen-emergency",
            "Subject": null,
            "Message": message,
            "Timestamp": timestamp,
            "SignatureVersion": "1",
            "Signature": "EXAMPLE",
            "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem",
            "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
            "MessageAttributes": {}
        }
    }]})
}

/// The EventBridge event AWS sends when an execution of a state machine ends
/// with `status` (FAILED, TIMED_OUT, ABORTED), as the rollback Lambda
/// receives it from the app's rule; `input` is the execution's input.
pub fn execution_ended_event(execution_arn: &str, status: &str, input: &Value) -> Value {
    let machine = execution_arn
        .replacen(":execution:", ":stateMachine:", 1)
        .rsplit_once(':')
        .map(|(m, _)| m.to_string())
        .unwrap_or_default();
    json!({
        "version": "0",
        "id": "315c1398-40ff-a850-213b-158f73e60175",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": "2026-12-06T10:00:00Z",
        "region": "us-east-1",
        "resources": [execution_arn],
        "detail": {
            "executionArn": execution_arn,
            "stateMachineArn": machine,
            "name": execution_arn.rsplit(':').next().unwrap_or_default(),
            "status": status,
            "startDate": 1_796_464_800_000_i64,
            "stopDate": 1_796_465_100_000_i64,
            "input": input.to_string(),
            "output": null,
            "inputDetails": {"included": true},
            "outputDetails": null
        }
    })
}

/// A clock for tests that plays time: it starts now, and `sleep_until` moves it
/// on at once (a rollback that waits for a cold color tries again without the
/// test waiting).
pub struct JumpingClock {
    now: std::sync::Mutex<time::OffsetDateTime>,
}

impl Default for JumpingClock {
    fn default() -> Self {
        JumpingClock {
            now: std::sync::Mutex::new(time::OffsetDateTime::now_utc()),
        }
    }
}

impl bluegreen_core::ports::Clock for JumpingClock {
    fn now(&self) -> time::OffsetDateTime {
        *self.now.lock().expect("clock")
    }

    async fn sleep_until(&self, t: time::OffsetDateTime) {
        let mut now = self.now.lock().expect("clock");
        *now = (*now).max(t);
    }
}
