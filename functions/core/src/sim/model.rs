//! The in-memory AWS: parameters (create-only and overwrite), one production
//! route with a full action list, two ECS services with task definitions,
//! target health, executions and alerts. [`SimPorts`] implements every port
//! over it, yielding to the scheduler before each call and injecting faults
//! drawn from the model's seeded random source.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::color::Color;
use crate::ports::{
    Alerts, Bounds, ContainerImage, ExecutionInfo, ExecutionStatus, Executions, LoadBalancer,
    OneOffTask, Parameter, ParameterStore, PortError, PortErrorKind, PortResult, Ports, PutMode,
    PutOutcome, RevisionTag, Route, RouteAction, RouteActions, ServiceInfo, Services, TaskStatus,
};

use super::scheduler::yield_now;

/// How many calls a scaled-in service's tasks keep serving: the target
/// group's deregistration delay (300 s by default) is long next to one
/// step's reads and writes (a fraction of a second), however many calls of
/// other actors the scheduler puts between them.
const DRAIN_CALLS: usize = 60;

/// A one-off task (a migration) ECS runs: how it was started and how it
/// goes. It runs for a few looks, then stops with its exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneOffRun {
    pub arn: String,
    pub task_definition: String,
    pub started_by: String,
    pub client_token: String,
    pub command: Vec<String>,
    /// Looks (DescribeTasks) before it stops.
    pub looks_left: u8,
    pub exit_code: i32,
    pub stopped: bool,
}

/// A registered task definition: its ARN and the image it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDef {
    pub arn: String,
    pub image: String,
    /// The revision it was registered from, with only the image changed.
    pub from: Option<String>,
    /// The tag it was registered with (a redeploy's), as `key=value`.
    pub mark: Option<String>,
}

/// A fault a test asks for: the next `times` calls of `operation` whose
/// subject (the parameter, route, service, task definition, topic or
/// execution it names) contains `subject` go wrong as `fault`. Checked
/// before the seeded random faults, and drawing nothing from their source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultHook {
    pub operation: &'static str,
    pub subject: String,
    pub times: usize,
    pub fault: Fault,
}

/// How a call went wrong, when it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Refused before any effect (throttling, a 5xx).
    Before,
    /// The effect happened, the answer was lost (a timeout after the fact).
    After,
}

#[derive(Debug)]
pub struct Model {
    pub params: BTreeMap<String, (String, i64)>,
    pub routes: BTreeMap<String, RouteActions>,
    pub services: BTreeMap<String, ServiceInfo>,
    /// Which target group each service registers its tasks in.
    pub target_group_of: BTreeMap<String, String>,
    /// Target groups whose targets an operator made unhealthy.
    pub unhealthy: BTreeSet<String>,
    pub task_defs: Vec<TaskDef>,
    pub executions: BTreeMap<String, (ExecutionStatus, String)>,
    /// Executions that ended without succeeding (stopped, failed), in order:
    /// the status change events EventBridge delivers to the rollback function.
    pub ended: Vec<String>,
    /// Every message published: (topic, subject, message).
    pub alerts: Vec<(String, String, String)>,
    /// The services' scalable targets (Application Auto Scaling), by service.
    pub scaling: BTreeMap<String, Bounds>,
    pub rng: fastrand::Rng,
    /// Chance of a fault at each call, in percent.
    pub fault_percent: u8,
    pub faults_injected: usize,
    pub calls: usize,
    /// Services scaling in: their tasks drain for a while (ECS stops them
    /// after the target group's deregistration delay), counted in calls.
    pub draining: BTreeMap<String, usize>,
    /// Each target group's deregistration delay in seconds (0 when not set:
    /// the in-memory world drains nothing).
    pub deregistration_delay: BTreeMap<String, u64>,
    /// What happened, one line per call or operator action: the trace
    /// printed for a failing seed.
    pub trace: Vec<String>,
    /// Chance, in percent, that a listener change reads back stale: a
    /// describe by the caller right after its modify may still answer the
    /// actions from before (the load balancer's API is eventually
    /// consistent; bluegreen reads back each change it makes).
    pub stale_percent: u8,
    /// Per route and caller: the actions a describe still answers, how many
    /// more describes answer them, and until which of the world's calls (a
    /// moment: a retry seconds later reads the change).
    stale: BTreeMap<(String, String), (RouteActions, usize, usize)>,
    /// The faults tests ask for, in order (see [`FaultHook`]).
    pub hooks: Vec<FaultHook>,
    /// Every one-off task started, in order.
    pub one_off: Vec<OneOffRun>,
    /// Chance, in percent, that a one-off task exits 1.
    pub one_off_failure_percent: u8,
    /// Chance, in percent, that a call of an invocation with a deadline
    /// (see [`SimPorts::until`]) first stalls (a slow network, a paused
    /// process) while the world moves on, drawn from a source of its own so
    /// that the other draws stay as they were.
    pub stall_percent: u8,
    /// The longest stall, in the world's calls (seconds): how long one call
    /// may take before the SDK gives it up.
    pub stall_max_calls: usize,
    stall_rng: fastrand::Rng,
    pub stalls_injected: usize,
    /// Calls refused because their invocation had run out of time.
    pub timed_out: usize,
}

impl Model {
    pub fn new(seed: u64, fault_percent: u8) -> Model {
        Model {
            params: BTreeMap::new(),
            routes: BTreeMap::new(),
            services: BTreeMap::new(),
            target_group_of: BTreeMap::new(),
            unhealthy: BTreeSet::new(),
            task_defs: Vec::new(),
            executions: BTreeMap::new(),
            ended: Vec::new(),
            alerts: Vec::new(),
            scaling: BTreeMap::new(),
            rng: fastrand::Rng::with_seed(seed),
            fault_percent,
            faults_injected: 0,
            calls: 0,
            draining: BTreeMap::new(),
            deregistration_delay: BTreeMap::new(),
            trace: Vec::new(),
            stale_percent: 0,
            stale: BTreeMap::new(),
            hooks: Vec::new(),
            one_off: Vec::new(),
            one_off_failure_percent: 0,
            stall_percent: 0,
            stall_max_calls: 30,
            stall_rng: fastrand::Rng::with_seed(seed ^ 0x5741_4c4c),
            stalls_injected: 0,
            timed_out: 0,
        }
    }

    /// Makes the next `times` calls of `operation` naming `subject` go
    /// wrong as `fault` (see [`FaultHook`]).
    pub fn fail(&mut self, operation: &'static str, subject: &str, times: usize, fault: Fault) {
        self.hooks.push(FaultHook {
            operation,
            subject: subject.to_string(),
            times,
            fault,
        });
    }

    fn hooked_fault(&mut self, operation: &str, subject: &str) -> Option<Fault> {
        let hook = self
            .hooks
            .iter_mut()
            .find(|h| h.times > 0 && h.operation == operation && subject.contains(&h.subject))?;
        hook.times -= 1;
        self.faults_injected += 1;
        Some(hook.fault)
    }

    pub fn healthy(&self, target_group: &str) -> usize {
        if self.unhealthy.contains(target_group) {
            return 0;
        }
        self.target_group_of
            .iter()
            .filter(|(_, tg)| tg.as_str() == target_group)
            .filter_map(|(svc, _)| self.services.get(svc))
            .map(|s| s.running.max(0) as usize)
            .sum()
    }

    pub fn image_of(&self, task_definition: &str) -> Option<&str> {
        self.task_defs
            .iter()
            .find(|t| t.arn == task_definition)
            .map(|t| t.image.as_str())
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(|(v, _)| v.as_str())
    }

    /// Tasks of a service scaled in stop once they have drained.
    fn converge(&mut self) {
        let now = self.calls;
        let done: Vec<String> = self
            .draining
            .iter()
            .filter(|(_, since)| now - **since >= DRAIN_CALLS)
            .map(|(s, _)| s.clone())
            .collect();
        for name in done {
            self.draining.remove(&name);
            if let Some(s) = self.services.get_mut(&name) {
                s.running = s.running.min(s.desired);
            }
        }
    }

    /// ECS's answer to a new desired count: tasks start at once (as in the
    /// emulator), tasks scaled in drain for a while before they stop.
    pub fn set_desired(&mut self, service: &str, n: i32) {
        let at = self.calls;
        let Some(s) = self.services.get_mut(service) else {
            return;
        };
        s.desired = n;
        if n >= s.running {
            s.running = n;
            self.draining.remove(service);
        } else {
            self.draining.insert(service.to_string(), at);
        }
    }

    /// Application Auto Scaling keeps a desired count within its target's
    /// bounds: what it does at once when the bounds change, and what a
    /// policy's next scaling activity does.
    pub fn clamp_to_bounds(&mut self, service: &str, wanted: i32) -> Option<i32> {
        let b = *self.scaling.get(service)?;
        let n = wanted.clamp(b.min, b.max.max(b.min));
        let desired = self.services.get(service)?.desired;
        (n != desired).then(|| {
            self.set_desired(service, n);
            n
        })
    }

    fn draw_fault(&mut self) -> Option<Fault> {
        if self.fault_percent == 0 || self.rng.u8(..100) >= self.fault_percent {
            return None;
        }
        self.faults_injected += 1;
        Some(if self.rng.bool() {
            Fault::Before
        } else {
            Fault::After
        })
    }
}

/// Every port over one model, as one capability object.
pub type SimBundle = Ports<SimPorts, SimPorts, SimPorts, SimPorts, SimPorts>;

/// Every port over one shared [`Model`].
#[derive(Debug, Clone)]
pub struct SimPorts {
    pub model: Arc<Mutex<Model>>,
    /// Who is calling, for the trace.
    pub actor: String,
    /// The world's call count at which this invocation's function times
    /// out: Lambda ends it there, so no call of it has an effect after.
    pub deadline: Option<usize>,
}

impl SimPorts {
    pub fn new(model: Arc<Mutex<Model>>, actor: &str) -> SimPorts {
        SimPorts {
            model,
            actor: actor.to_string(),
            deadline: None,
        }
    }

    /// Every port over `model` as one capability object, the way a Lambda
    /// holds them, for `actor` (named in the trace).
    pub fn bundle(model: Arc<Mutex<Model>>, actor: &str, prefix: &str) -> SimBundle {
        SimPorts::new(model, actor).into_bundle(prefix)
    }

    /// As [`SimPorts::bundle`], for one invocation of a function that Lambda
    /// ends `timeout_seconds` after it began (one second per call of the
    /// world's): its calls may stall (see [`Model::stall_percent`]), and none
    /// has an effect once its time is up.
    pub fn until(
        model: Arc<Mutex<Model>>,
        actor: &str,
        prefix: &str,
        timeout_seconds: usize,
    ) -> SimBundle {
        let deadline = model.lock().expect("model").calls + timeout_seconds;
        let mut p = SimPorts::new(model, actor);
        p.deadline = Some(deadline);
        p.into_bundle(prefix)
    }

    fn into_bundle(self, prefix: &str) -> SimBundle {
        let p = self;
        Ports {
            params: p.clone(),
            lb: p.clone(),
            services: p.clone(),
            alerts: p.clone(),
            executions: p,
            prefix: prefix.to_string(),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, Model> {
        self.model.lock().expect("model")
    }

    /// One port call: yield to the scheduler, then maybe fail before the
    /// effect, apply it, or apply it and lose the answer.
    async fn call<T>(
        &self,
        operation: &'static str,
        subject: &str,
        effect: impl FnOnce(&mut Model) -> PortResult<T>,
    ) -> PortResult<T> {
        yield_now().await;
        if let Some(deadline) = self.deadline {
            self.maybe_stall().await;
            let mut m = self.lock();
            if m.calls >= deadline {
                m.timed_out += 1;
                m.trace.push(format!(
                    "{} {operation} -> not made: the function timed out at {deadline}",
                    self.actor
                ));
                return Err(PortError {
                    operation,
                    kind: PortErrorKind::Transient,
                    message: "the function timed out".into(),
                });
            }
        }
        let mut m = self.lock();
        m.calls += 1;
        m.converge();
        let fault = match m.hooked_fault(operation, subject) {
            Some(fault) => Some(fault),
            None => m.draw_fault(),
        };
        let line = format!("{} {operation}", self.actor);
        match fault {
            Some(Fault::Before) => {
                m.trace.push(format!("{line} -> throttled (no effect)"));
                Err(PortError {
                    operation,
                    kind: PortErrorKind::Throttled,
                    message: "injected: throttled".into(),
                })
            }
            Some(Fault::After) => {
                let applied = effect(&mut m).is_ok();
                m.trace.push(format!(
                    "{line} -> applied={applied}, answer lost (timeout)"
                ));
                Err(PortError {
                    operation,
                    kind: PortErrorKind::Transient,
                    message: "injected: timed out after the effect".into(),
                })
            }
            None => {
                let out = effect(&mut m);
                let ok = if out.is_ok() { "ok" } else { "error" };
                m.trace.push(format!("{line} -> {ok}"));
                out
            }
        }
    }
}

impl SimPorts {
    /// Sometimes waits, before a call, while the world makes up to
    /// [`Model::stall_max_calls`] calls (a bounded number of polls: the
    /// world may have nothing else to do).
    async fn maybe_stall(&self) {
        let until = {
            let mut m = self.lock();
            if m.stall_percent == 0 || m.stall_rng.u8(..100) >= m.stall_percent {
                return;
            }
            m.stalls_injected += 1;
            let longest = m.stall_max_calls.max(1);
            let until = m.calls + m.stall_rng.usize(1..=longest);
            m.trace
                .push(format!("{} stalls until call {until}", self.actor));
            until
        };
        for _ in 0..200 {
            if self.lock().calls >= until {
                return;
            }
            yield_now().await;
        }
    }
}

fn route_key(route: &Route) -> String {
    match route {
        Route::ListenerDefault { listener_arn } => listener_arn.clone(),
        Route::Rule { rule_arn } => rule_arn.clone(),
    }
}

impl ParameterStore for SimPorts {
    async fn get(&self, name: &str) -> PortResult<Option<Parameter>> {
        self.call("ssm:GetParameter", name, |m| {
            Ok(m.params.get(name).map(|(v, version)| Parameter {
                value: v.clone(),
                version: *version,
            }))
        })
        .await
    }

    async fn get_many(&self, names: &[String]) -> PortResult<Vec<Option<Parameter>>> {
        self.call("ssm:GetParameters", &names.join(" "), |m| {
            Ok(names
                .iter()
                .map(|n| {
                    m.params.get(n).map(|(v, version)| Parameter {
                        value: v.clone(),
                        version: *version,
                    })
                })
                .collect())
        })
        .await
    }

    async fn put(&self, name: &str, value: &str, mode: PutMode) -> PortResult<PutOutcome> {
        self.call("ssm:PutParameter", name, |m| {
            if value.len() > 4096 {
                return Err(PortError::failed("ssm:PutParameter", "value too long"));
            }
            let version = m.params.get(name).map_or(0, |(_, v)| *v);
            if mode == PutMode::CreateOnly && version > 0 && m.params.contains_key(name) {
                return Ok(PutOutcome::AlreadyExists);
            }
            m.params
                .insert(name.to_string(), (value.to_string(), version + 1));
            if name.ends_with("/lock") || name.ends_with("/rollback-fence") {
                let holder = value
                    .split("\"holder\":\"")
                    .nth(1)
                    .and_then(|v| v.split('"').next());
                m.trace.push(format!(
                    "    {} := {}",
                    name.rsplit('/').next().unwrap_or(name),
                    holder.unwrap_or(value)
                ));
            } else if name.ends_with("/active-environment") {
                m.trace.push(format!("    active-environment := {value}"));
            } else if name.ends_with("/state") {
                let field = |key: &str| {
                    value
                        .split(&format!("\"{key}\":"))
                        .nth(1)
                        .and_then(|v| v.split([',', '}']).next())
                        .unwrap_or("?")
                        .to_string()
                };
                m.trace.push(format!(
                    "    state := {} {} ({})",
                    field("active_color"),
                    field("active_version"),
                    field("phase")
                ));
            }
            Ok(PutOutcome::Written)
        })
        .await
    }

    async fn delete(&self, name: &str) -> PortResult<()> {
        self.call("ssm:DeleteParameter", name, |m| {
            if m.params.remove(name).is_some() && name.ends_with("/lock") {
                m.trace.push("    lock := (none)".into());
            }
            Ok(())
        })
        .await
    }
}

impl LoadBalancer for SimPorts {
    async fn read_actions(&self, route: &Route) -> PortResult<RouteActions> {
        self.call("elbv2:Describe", &route_key(route), |m| {
            let key = route_key(route);
            let mine = (key.clone(), self.actor.clone());
            match m.stale.get_mut(&mine) {
                Some((old, left, until)) if *left > 0 && m.calls <= *until => {
                    *left -= 1;
                    let old = old.clone();
                    m.trace.push(
                        "    (the describe answers the actions from before the last modify)".into(),
                    );
                    return Ok(old);
                }
                Some(_) => {
                    m.stale.remove(&mine);
                }
                None => {}
            }
            m.routes
                .get(&key)
                .cloned()
                .ok_or_else(|| PortError::failed("elbv2:Describe", "no such route"))
        })
        .await
    }

    async fn write_actions(
        &self,
        route: &Route,
        actions: &RouteActions,
    ) -> PortResult<RouteActions> {
        self.call("elbv2:Modify", &route_key(route), |m| {
            let key = route_key(route);
            if !m.routes.contains_key(&key) {
                return Err(PortError::failed("elbv2:Modify", "no such route"));
            }
            // The load balancer keeps actions sorted by their order.
            let mut sorted = actions.0.clone();
            sorted.sort_by_key(|a| match a {
                RouteAction::Forward { order, .. } => order.unwrap_or(i32::MAX),
                RouteAction::Foreign(f) => f.order.unwrap_or(i32::MAX),
            });
            let new = RouteActions(sorted);
            let old = m.routes.insert(key.clone(), new.clone());
            let mine = (key, self.actor.clone());
            if m.stale_percent > 0 && m.rng.u8(..100) < m.stale_percent {
                let (reads, until) = (m.rng.usize(1..=2), m.calls + m.rng.usize(2..=6));
                if let Some(old) = old {
                    m.stale.insert(mine, (old, reads, until));
                }
            } else {
                m.stale.remove(&mine);
            }
            Ok(new)
        })
        .await
    }

    async fn healthy_targets(&self, target_group_arn: &str) -> PortResult<usize> {
        self.call("elbv2:DescribeTargetHealth", target_group_arn, |m| {
            Ok(m.healthy(target_group_arn))
        })
        .await
    }

    async fn deregistration_delay(&self, target_group_arn: &str) -> PortResult<u64> {
        self.call(
            "elbv2:DescribeTargetGroupAttributes",
            target_group_arn,
            |m| {
                Ok(m.deregistration_delay
                    .get(target_group_arn)
                    .copied()
                    .unwrap_or(0))
            },
        )
        .await
    }
}

impl Services for SimPorts {
    async fn describe(&self, _cluster: &str, service: &str) -> PortResult<ServiceInfo> {
        self.call("ecs:DescribeServices", service, |m| {
            m.services
                .get(service)
                .cloned()
                .ok_or_else(|| PortError::failed("ecs:DescribeServices", "no such service"))
        })
        .await
    }

    async fn images(&self, task_definition_arn: &str) -> PortResult<Vec<ContainerImage>> {
        self.call("ecs:DescribeTaskDefinition", task_definition_arn, |m| {
            m.image_of(task_definition_arn)
                .map(|image| {
                    vec![ContainerImage {
                        container: "app".into(),
                        image: image.to_string(),
                    }]
                })
                .ok_or_else(|| {
                    PortError::failed("ecs:DescribeTaskDefinition", "no such task definition")
                })
        })
        .await
    }

    async fn register_with_images(
        &self,
        task_definition_arn: &str,
        images: &[ContainerImage],
        mark: Option<&RevisionTag>,
    ) -> PortResult<String> {
        let mark = mark.map(|t| format!("{}={}", t.key, t.value));
        self.call("ecs:RegisterTaskDefinition", task_definition_arn, |m| {
            // The simulated apps have one container.
            let image = match images.first() {
                Some(c) => c.image.clone(),
                None => m
                    .task_defs
                    .iter()
                    .find(|t| t.arn == task_definition_arn)
                    .map(|t| t.image.clone())
                    .unwrap_or_default(),
            };
            // As the adapter: the family's latest revision is reused when it
            // is the same (a rerun after a registration whose answer was lost).
            if let Some(latest) = m.task_defs.last()
                && latest.image == image
                && latest.from.as_deref() == Some(task_definition_arn)
                && latest.mark == mark
            {
                return Ok(latest.arn.clone());
            }
            // A new revision of the family it was registered from.
            let family = task_definition_arn
                .rsplit_once(":task-definition/")
                .and_then(|(_, rest)| rest.split(':').next())
                .unwrap_or("app");
            let arn = format!(
                "arn:aws:ecs:us-east-1:123456789012:task-definition/{family}:{}",
                m.task_defs.len() + 1
            );
            m.task_defs.push(TaskDef {
                arn: arn.clone(),
                image,
                from: Some(task_definition_arn.to_string()),
                mark,
            });
            Ok(arn)
        })
        .await
    }

    async fn update(
        &self,
        _cluster: &str,
        service: &str,
        task_definition: Option<&str>,
        desired: Option<i32>,
    ) -> PortResult<()> {
        self.call("ecs:UpdateService", service, |m| {
            let s = m
                .services
                .get_mut(service)
                .ok_or_else(|| PortError::failed("ecs:UpdateService", "no such service"))?;
            if let Some(td) = task_definition {
                s.task_definition = td.to_string();
            }
            if let Some(n) = desired {
                m.set_desired(service, n);
            }
            Ok(())
        })
        .await
    }

    async fn scaling_bounds(
        &self,
        _cluster: &str,
        services: &[&str],
    ) -> PortResult<Vec<Option<Bounds>>> {
        self.call(
            "application-autoscaling:DescribeScalableTargets",
            &services.join(" "),
            |m| {
                Ok(services
                    .iter()
                    .map(|s| m.scaling.get(*s).copied())
                    .collect())
            },
        )
        .await
    }

    async fn set_scaling_bounds(
        &self,
        _cluster: &str,
        service: &str,
        bounds: Bounds,
    ) -> PortResult<()> {
        self.call(
            "application-autoscaling:RegisterScalableTarget",
            service,
            |m| {
                if !m.scaling.contains_key(service) {
                    return Err(PortError::failed(
                        "application-autoscaling:RegisterScalableTarget",
                        "no such scalable target",
                    ));
                }
                m.scaling.insert(service.to_string(), bounds);
                m.trace.push(format!("    bounds of {service} := {bounds}"));
                // New bounds take effect at once on the desired count.
                let desired = m.services.get(service).map_or(0, |s| s.desired);
                m.clamp_to_bounds(service, desired);
                Ok(())
            },
        )
        .await
    }

    async fn run_task(&self, task: &OneOffTask) -> PortResult<String> {
        self.call("ecs:RunTask", &task.task_definition, |m| {
            // ECS's idempotency: a retried start with the same token
            // answers the task it started.
            if let Some(run) = m
                .one_off
                .iter()
                .find(|r| r.client_token == task.client_token)
            {
                return Ok(run.arn.clone());
            }
            let arn = format!(
                "arn:aws:ecs:us-east-1:123456789012:task/c/{}",
                m.one_off.len() + 1
            );
            let looks_left = m.rng.u8(0..4);
            let exit_code = i32::from(m.rng.u8(..100) < m.one_off_failure_percent);
            m.one_off.push(OneOffRun {
                arn: arn.clone(),
                task_definition: task.task_definition.clone(),
                started_by: task.started_by.clone(),
                client_token: task.client_token.clone(),
                command: task.command.clone(),
                looks_left,
                exit_code,
                stopped: false,
            });
            Ok(arn)
        })
        .await
    }

    async fn find_task(&self, _cluster: &str, started_by: &str) -> PortResult<Option<String>> {
        self.call("ecs:ListTasks", started_by, |m| {
            Ok(m.one_off
                .iter()
                .rev()
                .find(|r| r.started_by == started_by)
                .map(|r| r.arn.clone()))
        })
        .await
    }

    async fn describe_task(
        &self,
        _cluster: &str,
        task_arn: &str,
    ) -> PortResult<Option<TaskStatus>> {
        self.call("ecs:DescribeTasks", task_arn, |m| {
            let Some(run) = m.one_off.iter_mut().find(|r| r.arn == task_arn) else {
                return Ok(None);
            };
            if !run.stopped {
                if run.looks_left == 0 {
                    run.stopped = true;
                } else {
                    run.looks_left -= 1;
                }
            }
            Ok(Some(TaskStatus {
                task_arn: run.arn.clone(),
                stopped: run.stopped,
                exit_code: run.stopped.then_some(run.exit_code),
                stopped_reason: None,
                log: None,
            }))
        })
        .await
    }

    async fn stop_task(&self, _cluster: &str, task_arn: &str, _reason: &str) -> PortResult<()> {
        self.call("ecs:StopTask", task_arn, |m| {
            if let Some(run) = m.one_off.iter_mut().find(|r| r.arn == task_arn) {
                run.stopped = true;
                run.exit_code = 137;
            }
            Ok(())
        })
        .await
    }
}

impl Alerts for SimPorts {
    async fn publish(&self, topic_arn: &str, subject: &str, message: &str) -> PortResult<()> {
        self.call("sns:Publish", topic_arn, |m| {
            m.alerts.push((
                topic_arn.to_string(),
                subject.to_string(),
                message.to_string(),
            ));
            Ok(())
        })
        .await
    }
}

impl Executions for SimPorts {
    async fn execution(&self, execution_arn: &str) -> PortResult<ExecutionInfo> {
        self.call("states:DescribeExecution", execution_arn, |m| {
            Ok(match m.executions.get(execution_arn) {
                Some((status, input)) => ExecutionInfo {
                    status: *status,
                    input: Some(input.clone()),
                },
                None => ExecutionInfo {
                    status: ExecutionStatus::Missing,
                    input: None,
                },
            })
        })
        .await
    }

    async fn stop(&self, execution_arn: &str, _cause: &str) -> PortResult<()> {
        self.call("states:StopExecution", execution_arn, |m| {
            if let Some((status, _)) = m.executions.get_mut(execution_arn)
                && *status == ExecutionStatus::Running
            {
                *status = ExecutionStatus::Finished;
                m.ended.push(execution_arn.to_string());
            }
            Ok(())
        })
        .await
    }
}

/// Which color a service name belongs to in the simulated app.
pub fn color_of_service(service: &str) -> Option<Color> {
    if service.ends_with("-blue") {
        Some(Color::Blue)
    } else if service.ends_with("-green") {
        Some(Color::Green)
    } else {
        None
    }
}
