//! The emergency path's call order, measured: every port call of a rollback
//! on the way to the real adapters (the emulator), each given the sequential
//! round trip it starts in (one more than the latest round among the calls
//! that had answered when it started: calls made together share a round).

use std::sync::Mutex;

use bluegreen_core::ports::{
    Alerts, Bounds, ContainerImage, ExecutionInfo, ExecutionStatus, Executions, LoadBalancer,
    Parameter, ParameterStore, PortResult, Ports, PutMode, PutOutcome, RegisterRequest,
    RevisionTag, Route, RouteActions, ServiceInfo, Services,
};
use bluegreen_core::{Color, Split};
use bluegreen_e2e::{AppOptions, ExampleApp, lambda_event, release_input, sns_event};
use serde_json::json;

#[derive(Default)]
struct Log {
    /// (call, round, answered)
    calls: Vec<(String, usize, bool)>,
}

#[derive(Default)]
pub struct Rounds(Mutex<Log>);

impl Rounds {
    fn start(&self, call: String) -> usize {
        let mut log = self.0.lock().unwrap();
        let round = 1 + log
            .calls
            .iter()
            .filter(|c| c.2)
            .map(|c| c.1)
            .max()
            .unwrap_or(0);
        log.calls.push((call, round, false));
        log.calls.len() - 1
    }

    fn end(&self, id: usize) {
        self.0.lock().unwrap().calls[id].2 = true;
    }

    async fn call<T>(&self, name: String, f: impl Future<Output = T>) -> T {
        let id = self.start(name);
        // Boxed: the rollback's future holds every port call's future.
        let out = Box::pin(f).await;
        self.end(id);
        out
    }

    /// Each call with its round, in the order they started.
    pub fn calls(&self) -> Vec<(String, usize)> {
        let log = self.0.lock().unwrap();
        log.calls.iter().map(|(c, r, _)| (c.clone(), *r)).collect()
    }

    fn round_of(&self, call: &str) -> usize {
        let calls = self.calls();
        calls
            .iter()
            .find(|(c, _)| c == call)
            .unwrap_or_else(|| panic!("no {call} among {calls:?}"))
            .1
    }

    fn clear(&self) {
        self.0.lock().unwrap().calls.clear();
    }
}

/// A port that records its calls in `rounds`.
pub struct Recorded<'a, T> {
    inner: T,
    rounds: &'a Rounds,
}

fn leaf(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

impl<T: ParameterStore> ParameterStore for Recorded<'_, T> {
    async fn get(&self, name: &str) -> PortResult<Option<Parameter>> {
        let call = format!("ssm get {}", leaf(name));
        self.rounds.call(call, self.inner.get(name)).await
    }
    async fn get_many(&self, names: &[String]) -> PortResult<Vec<Option<Parameter>>> {
        let call = "ssm get records".to_string();
        self.rounds.call(call, self.inner.get_many(names)).await
    }
    async fn put(&self, name: &str, value: &str, mode: PutMode) -> PortResult<PutOutcome> {
        let call = format!("ssm put {}", leaf(name));
        self.rounds
            .call(call, self.inner.put(name, value, mode))
            .await
    }
    async fn delete(&self, name: &str) -> PortResult<()> {
        let call = format!("ssm delete {}", leaf(name));
        self.rounds.call(call, self.inner.delete(name)).await
    }
}

impl<T: LoadBalancer> LoadBalancer for Recorded<'_, T> {
    async fn read_actions(&self, route: &Route) -> PortResult<RouteActions> {
        let call = "elb read route".to_string();
        self.rounds.call(call, self.inner.read_actions(route)).await
    }
    async fn write_actions(
        &self,
        route: &Route,
        actions: &RouteActions,
    ) -> PortResult<RouteActions> {
        let call = "elb write route".to_string();
        self.rounds
            .call(call, self.inner.write_actions(route, actions))
            .await
    }
    async fn healthy_targets(&self, tg: &str) -> PortResult<usize> {
        let call = "elb target health".to_string();
        self.rounds.call(call, self.inner.healthy_targets(tg)).await
    }

    async fn deregistration_delay(&self, tg: &str) -> PortResult<u64> {
        let call = "elb target group attributes".to_string();
        self.rounds
            .call(call, self.inner.deregistration_delay(tg))
            .await
    }
}

impl<T: Services> Services for Recorded<'_, T> {
    async fn describe(&self, cluster: &str, service: &str) -> PortResult<ServiceInfo> {
        let call = "ecs describe service".to_string();
        self.rounds
            .call(call, self.inner.describe(cluster, service))
            .await
    }
    async fn images(&self, td: &str) -> PortResult<Vec<ContainerImage>> {
        let call = "ecs images".to_string();
        self.rounds.call(call, self.inner.images(td)).await
    }
    async fn register_with_images(
        &self,
        td: &str,
        images: &[ContainerImage],
        mark: Option<&RevisionTag>,
    ) -> PortResult<String> {
        let call = "ecs register".to_string();
        self.rounds
            .call(call, self.inner.register_with_images(td, images, mark))
            .await
    }
    async fn register_document(
        &self,
        document: &RegisterRequest,
        mark: &RevisionTag,
    ) -> PortResult<String> {
        let call = "ecs register".to_string();
        self.rounds
            .call(call, self.inner.register_document(document, mark))
            .await
    }
    async fn update(
        &self,
        cluster: &str,
        service: &str,
        td: Option<&str>,
        desired: Option<i32>,
    ) -> PortResult<()> {
        let call = "ecs update service".to_string();
        self.rounds
            .call(call, self.inner.update(cluster, service, td, desired))
            .await
    }
    async fn scaling_bounds(
        &self,
        cluster: &str,
        services: &[&str],
    ) -> PortResult<Vec<Option<Bounds>>> {
        let call = "autoscaling read bounds".to_string();
        self.rounds
            .call(call, self.inner.scaling_bounds(cluster, services))
            .await
    }
    async fn set_scaling_bounds(
        &self,
        cluster: &str,
        service: &str,
        bounds: Bounds,
    ) -> PortResult<()> {
        let call = "autoscaling set bounds".to_string();
        self.rounds
            .call(
                call,
                self.inner.set_scaling_bounds(cluster, service, bounds),
            )
            .await
    }
}

impl<T: Alerts> Alerts for Recorded<'_, T> {
    async fn publish(&self, topic: &str, subject: &str, message: &str) -> PortResult<()> {
        let call = "sns publish".to_string();
        self.rounds
            .call(call, self.inner.publish(topic, subject, message))
            .await
    }
}

impl<T: Executions> Executions for Recorded<'_, T> {
    async fn execution(&self, arn: &str) -> PortResult<ExecutionInfo> {
        let call = "states describe execution".to_string();
        self.rounds.call(call, self.inner.execution(arn)).await
    }
    async fn status(&self, arn: &str) -> PortResult<ExecutionStatus> {
        let call = "states describe execution".to_string();
        self.rounds.call(call, self.inner.status(arn)).await
    }
    async fn stop(&self, arn: &str, cause: &str) -> PortResult<()> {
        let call = "states stop execution".to_string();
        self.rounds.call(call, self.inner.stop(arn, cause)).await
    }
}

type RecordedPorts<'a> = Ports<
    Recorded<'a, bluegreen_aws::SsmParameters>,
    Recorded<'a, bluegreen_aws::Elbv2>,
    Recorded<'a, bluegreen_aws::EcsServices>,
    Recorded<'a, bluegreen_aws::SnsAlerts>,
    Recorded<'a, bluegreen_aws::SfnExecutions>,
>;

fn recorded<'a>(app: &ExampleApp, rounds: &'a Rounds) -> RecordedPorts<'a> {
    let p = app.ports();
    Ports {
        params: Recorded {
            inner: p.params,
            rounds,
        },
        lb: Recorded {
            inner: p.lb,
            rounds,
        },
        services: Recorded {
            inner: p.services,
            rounds,
        },
        alerts: Recorded {
            inner: p.alerts,
            rounds,
        },
        executions: Recorded {
            inner: p.executions,
            rounds,
        },
        prefix: p.prefix,
    }
}

async fn emergency(app: &ExampleApp, rounds: &Rounds) {
    rounds.clear();
    let message =
        json!({"app": app.name, "reason": "budget", "requested_by": "oncall"}).to_string();
    Box::pin(bluegreen_rollback::handler(
        &recorded(app, rounds),
        &bluegreen_core::ports::NoHooks,
        lambda_event(sns_event(&message)),
    ))
    .await
    .expect("the emergency rollback");
}

fn print(case: &str, rounds: &Rounds) {
    println!("emergency rollback, {case}:");
    for (call, round) in rounds.calls() {
        println!("  round {round}: {call}");
    }
}

/// Design brief, "Budgets": traffic moves by the second sequential round
/// trip when the function is warm, whether or not a deployment is running,
/// and by the third when cold in this process (config, then reads, then the
/// change; assuming the app's role comes before, at the binary's edge); at
/// most 3 load balancer calls; stopping, the lock, the state and the alert
/// come after. `cargo test -p bluegreen-e2e --test e2e rounds -- --nocapture`
/// prints the order (docs/figures.md).
#[tokio::test]
async fn the_emergency_path_moves_traffic_on_the_second_round_trip() {
    let app = bluegreen_e2e::provision("rounds", AppOptions::default()).await;
    let rounds = Rounds::default();

    // Cold (this process has not read the app's config), no deployment.
    Box::pin(live_on_green(&app, None)).await;
    Box::pin(emergency(&app, &rounds)).await;
    print("cold, no deployment running", &rounds);
    assert_eq!(app.listener_split().await, Split::all(Color::Blue));
    assert_eq!(rounds.round_of("ssm get records"), 1);
    assert_eq!(rounds.round_of("elb write route"), 3);
    assert_elb_calls_at_most_3(&rounds);

    // Warm, with a deployment running: it moved traffic and is baking.
    let execution = Box::pin(live_on_green(&app, Some("mid-bake"))).await;
    Box::pin(emergency(&app, &rounds)).await;
    print("warm, a deployment running (mid-bake)", &rounds);
    assert_eq!(app.listener_split().await, Split::all(Color::Blue));
    assert_eq!(app.execution_status(&execution).await, "ABORTED");
    assert!(app.parameter("lock").await.is_none());
    assert!(app.parameter("rollback-deciding").await.is_none());
    app.assert_state_matches_listener().await;
    let moved = rounds.round_of("elb write route");
    assert_eq!(moved, 2, "{:?}", rounds.calls());
    assert!(rounds.round_of("states stop execution") > moved);
    assert!(rounds.round_of("ssm put state") > moved);
    assert!(rounds.round_of("sns publish") > moved);
    assert_elb_calls_at_most_3(&rounds);

    // Warm, no deployment.
    Box::pin(live_on_green(&app, None)).await;
    Box::pin(emergency(&app, &rounds)).await;
    print("warm, no deployment running", &rounds);
    assert_eq!(
        rounds.round_of("elb write route"),
        2,
        "{:?}",
        rounds.calls()
    );
    assert_elb_calls_at_most_3(&rounds);
    app.assert_state_matches_listener().await;
}

/// Calls on the listener (a write's answer is its read-back).
fn assert_elb_calls_at_most_3(rounds: &Rounds) {
    let listener = rounds
        .calls()
        .iter()
        .filter(|(c, _)| c.ends_with(" route"))
        .count();
    assert!(listener <= 3, "{:?}", rounds.calls());
}

/// A release of green made live all at once: by direct invokes (released
/// at the end), or by a running execution that keeps the app (`Some`).
async fn live_on_green(app: &ExampleApp, execution: Option<&str>) -> String {
    let holder = match execution {
        Some(name) => app.start_running_execution(name).await,
        None => bluegreen_e2e::manual_holder(app, "v2"),
    };
    bluegreen_e2e::hold_lock(app, &holder).await;
    let mut doc = release_input(&app.name, "v2");
    if execution.is_some() {
        doc["execution"] = json!({"arn": holder});
    }
    doc["overrides"] = json!({"strategy": {"type": "all-at-once"}});
    Box::pin(bluegreen_switch::handler(&app.ports(), lambda_event(doc)))
        .await
        .expect("switch to green");
    if execution.is_none() {
        bluegreen_e2e::release_lock(app, &holder).await;
    }
    holder
}
