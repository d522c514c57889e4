//! The capabilities the domain needs from the outside world, one trait each.
//! `bluegreen-aws` implements them with the AWS SDK; tests may use fakes.

pub mod capabilities;
pub mod retry;

use std::fmt;
use std::future::Future;

/// Why a call to the outside failed, reduced to what decides the next move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortErrorKind {
    /// Rate limited: safe and useful to retry after a pause.
    Throttled,
    /// Timeouts, 5xx, dropped connections: safe to retry.
    Transient,
    /// Anything else: a retry would fail the same way.
    Failed,
}

impl PortErrorKind {
    pub fn error_type(self) -> &'static str {
        match self {
            PortErrorKind::Throttled => "Throttled",
            PortErrorKind::Transient => "Transient",
            PortErrorKind::Failed => "AwsCallFailed",
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation} failed ({kind:?}): {message}")]
pub struct PortError {
    pub operation: &'static str,
    pub kind: PortErrorKind,
    pub message: String,
}

impl PortError {
    pub fn failed(operation: &'static str, message: impl Into<String>) -> PortError {
        PortError {
            operation,
            kind: PortErrorKind::Failed,
            message: message.into(),
        }
    }
}

pub type PortResult<T> = Result<T, PortError>;

/// A stored parameter and its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    pub value: String,
    pub version: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutMode {
    /// Fail with [`PutOutcome::AlreadyExists`] if the name exists: a lock.
    CreateOnly,
    Overwrite,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    Written,
    AlreadyExists,
}

/// Key-value parameters (SSM Parameter Store).
pub trait ParameterStore: Send + Sync {
    fn get(&self, name: &str) -> impl Future<Output = PortResult<Option<Parameter>>> + Send;
    /// Several parameters in one call (at most 10 names), in the order asked;
    /// `None` for each that does not exist. Stores that can read several at
    /// once (SSM's `GetParameters`) override this one-by-one reading.
    fn get_many(
        &self,
        names: &[String],
    ) -> impl Future<Output = PortResult<Vec<Option<Parameter>>>> + Send {
        async move {
            let mut out = Vec::with_capacity(names.len());
            for name in names {
                out.push(self.get(name).await?);
            }
            Ok(out)
        }
    }
    fn put(
        &self,
        name: &str,
        value: &str,
        mode: PutMode,
    ) -> impl Future<Output = PortResult<PutOutcome>> + Send;
    /// Deleting a missing parameter is not an error.
    fn delete(&self, name: &str) -> impl Future<Output = PortResult<()>> + Send;
}

/// Where production traffic is decided: a listener's default action or one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    ListenerDefault { listener_arn: String },
    Rule { rule_arn: String },
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Route::ListenerDefault { listener_arn } => {
                write!(f, "default action of listener {listener_arn}")
            }
            Route::Rule { rule_arn } => write!(f, "listener rule {rule_arn}"),
        }
    }
}

/// One target group of a forward action and its relative weight (0..=999).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightedTarget {
    pub target_group_arn: String,
    pub weight: u32,
}

/// A forward action, normalised: a plain `TargetGroupArn` forward reads as one
/// target of weight 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    pub targets: Vec<WeightedTarget>,
    /// Target-group stickiness duration; `None` when stickiness is off.
    pub stickiness_seconds: Option<i32>,
}

/// An action on a listener or rule that bluegreen does not own
/// (authenticate-oidc, authenticate-cognito, fixed-response, redirect): carried
/// through a change untouched. The adapter keeps its own representation in
/// `opaque` and writes it back as it was read; the domain compares actions by
/// `kind`, `order` and `fingerprint` (the adapter's rendering of the whole
/// action), never by looking inside.
#[derive(Clone)]
pub struct ForeignAction {
    pub kind: String,
    pub order: Option<i32>,
    pub fingerprint: String,
    pub opaque: std::sync::Arc<dyn std::any::Any + Send + Sync>,
}

impl PartialEq for ForeignAction {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
            && self.order == other.order
            && self.fingerprint == other.fingerprint
    }
}
impl Eq for ForeignAction {}

impl fmt::Debug for ForeignAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ForeignAction")
            .field("kind", &self.kind)
            .field("order", &self.order)
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

/// One action of a listener's default actions or a rule's actions, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteAction {
    /// The forward action: the only one bluegreen changes, and only its weights.
    Forward {
        order: Option<i32>,
        forward: Forward,
    },
    Foreign(ForeignAction),
}

/// The whole action list of a route, as the load balancer reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteActions(pub Vec<RouteAction>);

impl RouteActions {
    /// A route that only forwards (the common case, and what tests build).
    pub fn forward_only(forward: Forward) -> RouteActions {
        RouteActions(vec![RouteAction::Forward {
            order: None,
            forward,
        }])
    }

    /// The forward action, if the route has exactly one.
    pub fn forward(&self) -> Option<&Forward> {
        let mut forwards = self.0.iter().filter_map(|a| match a {
            RouteAction::Forward { forward, .. } => Some(forward),
            RouteAction::Foreign(_) => None,
        });
        let first = forwards.next();
        if forwards.next().is_some() {
            return None;
        }
        first
    }

    /// The same actions with the forward action's target weights replaced by
    /// `weights` (by target group); everything else, stickiness included, is
    /// kept as it is.
    pub fn with_weights(&self, weights: &[WeightedTarget]) -> RouteActions {
        RouteActions(
            self.0
                .iter()
                .map(|a| match a {
                    RouteAction::Forward { order, forward } => RouteAction::Forward {
                        order: *order,
                        forward: Forward {
                            targets: weights.to_vec(),
                            stickiness_seconds: forward.stickiness_seconds,
                        },
                    },
                    other => other.clone(),
                })
                .collect(),
        )
    }

    /// The actions that are not the forward action.
    pub fn foreign(&self) -> impl Iterator<Item = &ForeignAction> {
        self.0.iter().filter_map(|a| match a {
            RouteAction::Foreign(f) => Some(f),
            RouteAction::Forward { .. } => None,
        })
    }
}

/// The load balancer (ELBv2).
pub trait LoadBalancer: Send + Sync {
    /// The whole action list currently on `route`.
    fn read_actions(&self, route: &Route) -> impl Future<Output = PortResult<RouteActions>> + Send;
    /// Replaces the action list on `route` and returns the list as the load
    /// balancer reports it in its answer to the change.
    fn write_actions(
        &self,
        route: &Route,
        actions: &RouteActions,
    ) -> impl Future<Output = PortResult<RouteActions>> + Send;
    /// How many targets of the group are `healthy` now.
    fn healthy_targets(
        &self,
        target_group_arn: &str,
    ) -> impl Future<Output = PortResult<usize>> + Send;
    /// How long the group lets a deregistered target finish its requests
    /// (`deregistration_delay.timeout_seconds`; AWS's default is 300 s).
    fn deregistration_delay(
        &self,
        target_group_arn: &str,
    ) -> impl Future<Output = PortResult<u64>> + Send;
}

/// What bluegreen needs to know of an ECS service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInfo {
    pub task_definition: String,
    pub desired: i32,
    pub running: i32,
    /// How many deployments the service has; more than one means an older
    /// task definition is still being replaced.
    pub deployments: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerImage {
    pub container: String,
    pub image: String,
}

/// ECS RegisterTaskDefinition's request as JSON: a task-definition
/// document as a team writes it (see `document::task_definition`).
pub type RegisterRequest = serde_json::Map<String, serde_json::Value>;

/// A tag bluegreen puts on a revision it registers, by which a rerun finds
/// that revision again (as the family's latest) instead of adding another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevisionTag {
    pub key: String,
    pub value: String,
}

/// A one-off task to start: `task_definition` with `container`'s command
/// replaced, placed like `service`'s tasks (its launch type or capacity
/// providers, platform version and network configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneOffTask {
    pub cluster: String,
    pub service: String,
    pub task_definition: String,
    pub container: String,
    pub command: Vec<String>,
    /// ECS's `startedBy` (at most 36 letters, digits, `-` or `_`): how the
    /// task is found again when the answer that started it was lost.
    pub started_by: String,
    /// ECS's `clientToken` (at most 64 characters): a retried start with the
    /// same token starts nothing new.
    pub client_token: String,
}

/// What ECS says of a one-off task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskStatus {
    pub task_arn: String,
    /// Its `lastStatus` is `STOPPED`.
    pub stopped: bool,
    /// The container's exit code, once stopped (none when it never ran:
    /// an image that could not be pulled, a task that could not be placed).
    pub exit_code: Option<i32>,
    /// ECS's `stoppedReason` (and the container's `reason`).
    pub stopped_reason: Option<String>,
    /// Where the container's output went, when it logs with `awslogs`.
    pub log: Option<crate::records::migrations::LogStream>,
}

/// The minimum and maximum task count of a service's scalable target
/// (Application Auto Scaling): its scaling policies stay within them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Bounds {
    pub min: i32,
    pub max: i32,
}

impl std::fmt::Display for Bounds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "min {} max {}", self.min, self.max)
    }
}

/// The container services (ECS) and their task-count scaling.
pub trait Services: Send + Sync {
    fn describe(
        &self,
        cluster: &str,
        service: &str,
    ) -> impl Future<Output = PortResult<ServiceInfo>> + Send;
    /// The containers of a task definition and their images.
    fn images(
        &self,
        task_definition_arn: &str,
    ) -> impl Future<Output = PortResult<Vec<ContainerImage>>> + Send;
    /// A revision of `task_definition_arn` identical but for the given
    /// containers' images, and tagged with `mark` when there is one; returns
    /// its ARN. The family's latest revision is that one when it is the same
    /// (a rerun's, whose answer may have been lost): it is not registered
    /// twice.
    fn register_with_images(
        &self,
        task_definition_arn: &str,
        images: &[ContainerImage],
        mark: Option<&RevisionTag>,
    ) -> impl Future<Output = PortResult<String>> + Send;
    /// Registers `document` (RegisterTaskDefinition's request, its tags
    /// included) unless the family's latest revision carries `mark`; returns
    /// the ARN of the revision that does.
    fn register_document(
        &self,
        _document: &RegisterRequest,
        _mark: &RevisionTag,
    ) -> impl Future<Output = PortResult<String>> + Send {
        async {
            Err(PortError::failed(
                "ecs:RegisterTaskDefinition",
                "this host registers no task-definition documents",
            ))
        }
    }
    /// Changes the service's task definition and/or desired count.
    fn update(
        &self,
        cluster: &str,
        service: &str,
        task_definition: Option<&str>,
        desired: Option<i32>,
    ) -> impl Future<Output = PortResult<()>> + Send;
    /// The bounds of each service's scalable target, in the order asked;
    /// `None` for a service without one. A host that knows no autoscaling
    /// (tests of other concerns) reports none.
    fn scaling_bounds(
        &self,
        _cluster: &str,
        services: &[&str],
    ) -> impl Future<Output = PortResult<Vec<Option<Bounds>>>> + Send {
        let none = vec![None; services.len()];
        async move { Ok(none) }
    }
    /// Sets the bounds of the service's (existing) scalable target.
    fn set_scaling_bounds(
        &self,
        _cluster: &str,
        _service: &str,
        _bounds: Bounds,
    ) -> impl Future<Output = PortResult<()>> + Send {
        async {
            Err(PortError::failed(
                "application-autoscaling:RegisterScalableTarget",
                "this host has no Application Auto Scaling",
            ))
        }
    }
    /// Starts a one-off task (a migration) and returns its ARN.
    fn run_task(&self, _task: &OneOffTask) -> impl Future<Output = PortResult<String>> + Send {
        async { Err(no_tasks("ecs:RunTask")) }
    }
    /// The newest task started with `started_by`, running or stopped, while
    /// ECS still lists it (stopped tasks for about an hour).
    fn find_task(
        &self,
        _cluster: &str,
        _started_by: &str,
    ) -> impl Future<Output = PortResult<Option<String>>> + Send {
        async { Err(no_tasks("ecs:ListTasks")) }
    }
    /// What ECS says of the task; `None` when it no longer knows it.
    fn describe_task(
        &self,
        _cluster: &str,
        _task_arn: &str,
    ) -> impl Future<Output = PortResult<Option<TaskStatus>>> + Send {
        async { Err(no_tasks("ecs:DescribeTasks")) }
    }
    fn stop_task(
        &self,
        _cluster: &str,
        _task_arn: &str,
        _reason: &str,
    ) -> impl Future<Output = PortResult<()>> + Send {
        async { Err(no_tasks("ecs:StopTask")) }
    }
}

fn no_tasks(operation: &'static str) -> PortError {
    PortError::failed(operation, "this host runs no one-off tasks")
}

/// Alerts to people (SNS).
pub trait Alerts: Send + Sync {
    fn publish(
        &self,
        topic_arn: &str,
        subject: &str,
        message: &str,
    ) -> impl Future<Output = PortResult<()>> + Send;
}

/// Time, for the steps that wait within a call: a monitor call that
/// watches for minutes, an emergency rollback waiting for a cold color. The
/// Lambdas' is the system clock; tests play time.
pub trait Clock: Send + Sync {
    fn now(&self) -> time::OffsetDateTime;
    /// Returns at `t` (at once if `t` has passed).
    fn sleep_until(&self, t: time::OffsetDateTime) -> impl Future<Output = ()> + Send;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionStatus {
    Running,
    /// Succeeded, failed, timed out, aborted.
    Finished,
    /// No such execution (or not an execution ARN at all).
    Missing,
}

/// What Step Functions says of one execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionInfo {
    pub status: ExecutionStatus,
    /// The execution's input document (JSON text), when it exists.
    pub input: Option<String>,
}

/// Workflow executions (Step Functions).
pub trait Executions: Send + Sync {
    fn execution(
        &self,
        execution_arn: &str,
    ) -> impl Future<Output = PortResult<ExecutionInfo>> + Send;
    fn status(
        &self,
        execution_arn: &str,
    ) -> impl Future<Output = PortResult<ExecutionStatus>> + Send {
        async move { Ok(self.execution(execution_arn).await?.status) }
    }
    fn stop(&self, execution_arn: &str, cause: &str)
    -> impl Future<Output = PortResult<()>> + Send;
}

/// Every port an operation may need, plus the parameter prefix. Lambdas build
/// one in `main` and keep it for all invocations.
pub struct Ports<P, L, S, A, E> {
    pub params: P,
    pub lb: L,
    pub services: S,
    pub alerts: A,
    pub executions: E,
    pub prefix: String,
}

/// Load-balancer metrics of one target group over a window, as CloudWatch
/// reports them (`AWS/ApplicationELB`).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MetricWindow {
    /// `RequestCount`, summed.
    pub requests: f64,
    /// `HTTPCode_Target_5XX_Count`, summed.
    pub target_5xx: f64,
    /// `TargetResponseTime` p99 in milliseconds; `None` when there were no data.
    pub p99_ms: Option<f64>,
    /// `TargetResponseTime` p50 and p95 in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_ms: Option<f64>,
    /// The whole load balancer's `RequestCount` and `HTTPCode_ELB_5XX_Count`,
    /// summed: the 502/503/504s the load balancer makes itself when a target
    /// hangs, resets connections or is missing. CloudWatch reports them per
    /// load balancer only (no target group dimension), so they are judged
    /// as a rise against the same figures before the switch.
    #[serde(default)]
    pub lb_requests: f64,
    #[serde(default)]
    pub elb_5xx: f64,
}

/// Metrics (CloudWatch); alarms are `monitor::Alarms`.
pub trait Metrics: Send + Sync {
    /// `load_balancer` and `target_group` are the CloudWatch dimension values
    /// (`app/<name>/<id>`, `targetgroup/<name>/<id>`).
    fn target_group_window(
        &self,
        load_balancer: &str,
        target_group: &str,
        start: time::OffsetDateTime,
        end: time::OffsetDateTime,
    ) -> impl Future<Output = PortResult<MetricWindow>> + Send;
    /// Each query's statistic over the whole window, in one request;
    /// `None` for a metric with no data point in it.
    fn metric_values(
        &self,
        queries: &[MetricQuery],
        start: time::OffsetDateTime,
        end: time::OffsetDateTime,
    ) -> impl Future<Output = PortResult<Vec<Option<f64>>>> + Send;
}

/// One probe request's result.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProbeResult {
    /// `None` when no response came (refused, timed out).
    pub status: Option<u16>,
    pub latency_ms: u64,
    /// Whether the response (body or a header) carried the expected marker.
    pub has_marker: bool,
    pub error: Option<String>,
}

/// One metric as CloudWatch is asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricQuery {
    pub namespace: String,
    pub metric: String,
    pub dimensions: Vec<(String, String)>,
    pub statistic: String,
}

/// CloudWatch alarms, as the monitor reads them: which exist, and which fire.
/// One CloudWatch alarm (metric or composite) as read now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmState {
    pub name: String,
    pub in_alarm: bool,
}

pub trait Alarms: Send + Sync {
    /// The alarms among `names` that exist, with their state. A name the
    /// answer leaves out has no alarm.
    fn alarm_states(
        &self,
        names: &[String],
    ) -> impl Future<Output = PortResult<Vec<AlarmState>>> + Send;
}

/// How a probe recognises the release (see `monitor::watch` for how it
/// is read from the config and matched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionCheck {
    /// The whole value expected (`expected_version_marker` filled in, else
    /// the version).
    pub expected: String,
    pub header: Option<String>,
    pub json_path: Option<String>,
}

/// The version probes: a release proves it serves by naming itself.
pub trait VersionProber: Send + Sync {
    /// `count` concurrent requests to `url`, each uncached, each telling
    /// whether its answer names the release by `check`.
    fn probe_version(
        &self,
        url: &str,
        count: u32,
        timeout: std::time::Duration,
        check: &VersionCheck,
    ) -> impl Future<Output = Vec<ProbeResult>> + Send;
}

/// Where a lifecycle hook goes (see `records::hooks`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookTarget {
    /// An HTTP(S) endpoint: a POST of the JSON body with the headers.
    Url(String),
    /// A Lambda function: invoked synchronously with the JSON body.
    Function(String),
}

/// What a hook answered: an HTTP status (for a Lambda function, 200, or 500
/// when it raised an error), or why there was none. `detail` is the start of
/// the answer or the error, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookAnswer {
    pub status: Option<u16>,
    pub detail: Option<String>,
}

/// Delivers lifecycle hooks. The caller bounds each delivery by its
/// timeout as well (a sender that hangs costs no more than that).
pub trait HookSender: Send + Sync {
    fn deliver(
        &self,
        target: &HookTarget,
        body: &str,
        headers: &[(String, String)],
        timeout: std::time::Duration,
    ) -> impl Future<Output = HookAnswer> + Send;
}

/// A host that delivers no hooks (tests of apps without hooks): a delivery
/// fails, saying so, so a test that meant hooks to run notices.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl HookSender for NoHooks {
    async fn deliver(
        &self,
        _: &HookTarget,
        _: &str,
        _: &[(String, String)],
        _: std::time::Duration,
    ) -> HookAnswer {
        HookAnswer {
            status: None,
            detail: Some("this host delivers no hooks".into()),
        }
    }
}
