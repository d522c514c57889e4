//! The emergency path moves traffic on its second round trip, deciding from
//! reads made while it announced that it is deciding. A switch step of the
//! running deployment that changes the listener *after* the rollback did
//! must still end with the rollback's decision on the listener.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bluegreen_core::ports::{
    LoadBalancer, Parameter, ParameterStore, PortError, PortErrorKind, PortResult, Ports, PutMode,
    PutOutcome, Route, RouteActions,
};
use bluegreen_core::records::state::Phase;
use bluegreen_core::{Color, Split};
use bluegreen_e2e::memory::{self, AppOptions, MemoryApp};
use bluegreen_e2e::{lambda_event, release_input, sns_event};
use serde_json::json;
use tokio::sync::Notify;

/// Holds a switch step just before it changes the listener; with
/// `lose_answer`, the change lands and its answer is lost (a timeout).
struct PausingBeforeWrite<L> {
    inner: L,
    armed: AtomicBool,
    paused: Arc<Notify>,
    resume: Arc<Notify>,
    lose_answer: bool,
}

impl<L: LoadBalancer> LoadBalancer for PausingBeforeWrite<L> {
    async fn read_actions(&self, route: &Route) -> PortResult<RouteActions> {
        self.inner.read_actions(route).await
    }
    async fn write_actions(
        &self,
        route: &Route,
        actions: &RouteActions,
    ) -> PortResult<RouteActions> {
        if self.armed.swap(false, Ordering::SeqCst) {
            self.paused.notify_one();
            self.resume.notified().await;
            if self.lose_answer {
                self.inner.write_actions(route, actions).await?;
                return Err(PortError {
                    operation: "elbv2:ModifyListener",
                    kind: PortErrorKind::Transient,
                    message: "injected: the change landed, its answer timed out".into(),
                });
            }
        }
        self.inner.write_actions(route, actions).await
    }
    async fn healthy_targets(&self, tg: &str) -> PortResult<usize> {
        self.inner.healthy_targets(tg).await
    }

    async fn deregistration_delay(&self, tg: &str) -> PortResult<u64> {
        self.inner.deregistration_delay(tg).await
    }
}

/// Tells when the switch step reads the rollback's announcement.
struct SignalOnAnnouncementRead<P> {
    inner: P,
    seen: Arc<Notify>,
}

impl<P: ParameterStore> ParameterStore for SignalOnAnnouncementRead<P> {
    async fn get(&self, name: &str) -> PortResult<Option<Parameter>> {
        self.inner.get(name).await
    }
    async fn get_many(&self, names: &[String]) -> PortResult<Vec<Option<Parameter>>> {
        let got = self.inner.get_many(names).await;
        if names.iter().any(|n| n.ends_with("/rollback-deciding"))
            && got
                .as_ref()
                .is_ok_and(|g| g.last().is_some_and(Option::is_some))
        {
            self.seen.notify_one();
        }
        got
    }
    async fn put(&self, name: &str, value: &str, mode: PutMode) -> PortResult<PutOutcome> {
        self.inner.put(name, value, mode).await
    }
    async fn delete(&self, name: &str) -> PortResult<()> {
        self.inner.delete(name).await
    }
}

/// Holds the rollback's fence write until the switch step has read the
/// announcement (the slowest case: the fence lands after the step's check).
struct FenceAfter<P> {
    inner: P,
    after: Arc<Notify>,
}

impl<P: ParameterStore> ParameterStore for FenceAfter<P> {
    async fn get(&self, name: &str) -> PortResult<Option<Parameter>> {
        self.inner.get(name).await
    }
    async fn get_many(&self, names: &[String]) -> PortResult<Vec<Option<Parameter>>> {
        self.inner.get_many(names).await
    }
    async fn put(&self, name: &str, value: &str, mode: PutMode) -> PortResult<PutOutcome> {
        if name.ends_with("/rollback-fence") {
            self.after.notified().await;
        }
        self.inner.put(name, value, mode).await
    }
    async fn delete(&self, name: &str) -> PortResult<()> {
        self.inner.delete(name).await
    }
}

/// v2 released by a running execution, its first step (10 %) done;
/// returns the execution and the document of its next step.
async fn at_10_percent(app: &MemoryApp, name: &str) -> (String, serde_json::Value) {
    let execution = app.start_running_execution(name);
    memory::hold_lock(app, &execution).await;
    let mut input = release_input(&app.name, "v2");
    input["execution"] = json!({"arn": execution});
    input["overrides"] = json!({"strategy": {"type": "weighted", "steps": [10, 50, 100]}});
    let first = Box::pin(bluegreen_switch::handler(
        &app.ports(),
        lambda_event(input.clone()),
    ))
    .await
    .expect("first step");
    input["switch"] = serde_json::to_value(&first).unwrap();
    (execution, input)
}

/// The step decided to go from 10% to 50% before the rollback read the
/// world, and its change lands after the rollback's; the rollback's fence
/// lands after the step's own check. The step reads the announcement,
/// waits for the fence and puts the rollback's split back. Before: it saw
/// no fence, answered success, and left production at 50% on the release
/// being rolled back while the record said all on blue.
#[tokio::test]
async fn a_switch_step_landing_after_the_rollbacks_change_waits_for_its_fence() {
    let app = memory::provision("ann-race", AppOptions::default());
    let (execution, input) = Box::pin(at_10_percent(&app, "v2-ann")).await;

    let paused = Arc::new(Notify::new());
    let resume = Arc::new(Notify::new());
    let seen = Arc::new(Notify::new());
    let p = app.ports();
    let step_ports = Ports {
        params: SignalOnAnnouncementRead {
            inner: p.params,
            seen: seen.clone(),
        },
        lb: PausingBeforeWrite {
            inner: p.lb,
            armed: true.into(),
            paused: paused.clone(),
            resume: resume.clone(),
            lose_answer: false,
        },
        services: p.services,
        alerts: p.alerts,
        executions: p.executions,
        prefix: p.prefix,
    };
    let step = input.clone();
    let in_flight = tokio::spawn(async move {
        Box::pin(bluegreen_switch::handler(&step_ports, lambda_event(step))).await
    });
    paused.notified().await;

    let p = app.ports();
    let rollback_ports = Ports {
        params: FenceAfter {
            inner: p.params,
            after: seen.clone(),
        },
        lb: p.lb,
        services: p.services,
        alerts: p.alerts,
        executions: p.executions,
        prefix: p.prefix,
    };
    let message = json!({"app": app.name, "reason": "errors at 10%"}).to_string();
    let rolling_back = tokio::spawn(async move {
        Box::pin(bluegreen_rollback::handler(
            &rollback_ports,
            &bluegreen_core::ports::NoHooks,
            lambda_event(sns_event(&message)),
        ))
        .await
    });
    // The rollback's change lands first; then the step's.
    while app.listener_split() != Split::all(Color::Blue) {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    resume.notify_one();

    let e = in_flight.await.unwrap().unwrap_err();
    assert_eq!(e.error_type(), "RolledBackMeanwhile", "{e}");
    rolling_back
        .await
        .unwrap()
        .expect("the rollback moved traffic first");
    assert_eq!(
        app.listener_split(),
        Split::all(Color::Blue),
        "before: production stayed at 50% on v2"
    );
    let state = app.stored_state().unwrap();
    assert_eq!(
        (state.active_color, state.phase),
        (Color::Blue, Phase::RolledBack)
    );
    assert_eq!(app.execution_status(&execution), "ABORTED");
    assert!(app.parameter("rollback-deciding").is_none());
    app.assert_state_matches_listener();
}

/// The step's change lands after the rollback's, and its answer is lost:
/// the step fails before its usual look at the fence. It looks all the same
/// and puts the rollback's decision back (nothing retries a stopped
/// execution's step). Before, it returned the timeout and left production
/// at 50 % on the release being rolled back (found by the simulation, seed
/// 9810).
#[tokio::test]
async fn a_switch_step_whose_change_landed_but_failed_still_puts_the_rollback_back() {
    let app = memory::provision("ann-lost", AppOptions::default());
    let (_, input) = Box::pin(at_10_percent(&app, "v2-lost")).await;

    let paused = Arc::new(Notify::new());
    let resume = Arc::new(Notify::new());
    let p = app.ports();
    let step_ports = Ports {
        params: p.params,
        lb: PausingBeforeWrite {
            inner: p.lb,
            armed: true.into(),
            paused: paused.clone(),
            resume: resume.clone(),
            lose_answer: true,
        },
        services: p.services,
        alerts: p.alerts,
        executions: p.executions,
        prefix: p.prefix,
    };
    let step = input.clone();
    let in_flight = tokio::spawn(async move {
        Box::pin(bluegreen_switch::handler(&step_ports, lambda_event(step))).await
    });
    paused.notified().await;
    let message = json!({"app": app.name, "reason": "errors at 10%"}).to_string();
    Box::pin(bluegreen_rollback::handler(
        &app.ports(),
        &bluegreen_core::ports::NoHooks,
        lambda_event(sns_event(&message)),
    ))
    .await
    .expect("the rollback");
    assert_eq!(app.listener_split(), Split::all(Color::Blue));
    resume.notify_one();

    let e = in_flight.await.unwrap().unwrap_err();
    assert_eq!(e.error_type(), "RolledBackMeanwhile", "{e}");
    assert_eq!(
        app.listener_split(),
        Split::all(Color::Blue),
        "before: production stayed at 50% on v2"
    );
    app.assert_state_matches_listener();
}
