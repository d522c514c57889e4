//! The load balancer's API is eventually consistent: a describe right after
//! a modify may still answer the actions from before. The in-memory load
//! balancer, wrapped so that after each change the next reads answer what
//! was there before (the simulation plays the same lag at random).

use std::sync::Mutex;

use bluegreen_core::ports::{LoadBalancer, PortResult, Ports, Route, RouteActions};
use bluegreen_core::sim::SimPorts;
use bluegreen_core::{Color, Split};
use bluegreen_deploy_idle::DeployIdleResponse;
use bluegreen_e2e::memory::{self, AppOptions, MemoryApp};
use bluegreen_e2e::{lambda_event, release_input};
use serde_json::{Value, json};

/// After each change, the next `reads` describes answer the actions from
/// before it.
struct StaleAfterModify<L> {
    inner: L,
    reads: usize,
    stale: Mutex<Option<(RouteActions, usize)>>,
}

impl<L: LoadBalancer> LoadBalancer for StaleAfterModify<L> {
    async fn read_actions(&self, route: &Route) -> PortResult<RouteActions> {
        let stale = {
            let mut stale = self.stale.lock().unwrap();
            match stale.as_mut() {
                Some((old, left)) if *left > 0 => {
                    *left -= 1;
                    Some(old.clone())
                }
                _ => None,
            }
        };
        match stale {
            Some(old) => Ok(old),
            None => self.inner.read_actions(route).await,
        }
    }

    async fn write_actions(
        &self,
        route: &Route,
        actions: &RouteActions,
    ) -> PortResult<RouteActions> {
        let before = self.inner.read_actions(route).await?;
        let answer = self.inner.write_actions(route, actions).await?;
        *self.stale.lock().unwrap() = Some((before, self.reads));
        Ok(answer)
    }

    async fn healthy_targets(&self, target_group_arn: &str) -> PortResult<usize> {
        self.inner.healthy_targets(target_group_arn).await
    }

    async fn deregistration_delay(&self, tg: &str) -> PortResult<u64> {
        self.inner.deregistration_delay(tg).await
    }
}

/// v2 deployed to green; the document as the state machine has it then.
async fn deployed(app: &MemoryApp) -> Value {
    let arn = app.start_running_execution("v2");
    let mut doc = release_input(&app.name, "v2");
    doc["execution"] = json!({"arn": arn});
    match bluegreen_deploy_idle::handler(&app.ports(), lambda_event(doc.clone()))
        .await
        .expect("deploy-idle")
    {
        DeployIdleResponse::Deployed(d) => doc["deploy"] = serde_json::to_value(d).unwrap(),
        other => panic!("{other:?}"),
    }
    doc
}

fn weighted(mut doc: Value) -> Value {
    doc["overrides"] =
        json!({"strategy": {"type": "weighted", "steps": [10, 100], "bake_seconds": 30}});
    doc
}

type StalePorts = Ports<SimPorts, StaleAfterModify<SimPorts>, SimPorts, SimPorts, SimPorts>;

/// The app's ports, with a load balancer whose describes lag `reads` behind
/// each change.
fn stale(app: &MemoryApp, reads: usize) -> StalePorts {
    let p = app.ports();
    Ports {
        params: p.params,
        lb: StaleAfterModify {
            inner: p.lb,
            reads,
            stale: Mutex::new(None),
        },
        services: p.services,
        alerts: p.alerts,
        executions: p.executions,
        prefix: p.prefix,
    }
}

#[tokio::test]
async fn a_switch_whose_change_reads_back_late_for_a_moment_succeeds() {
    let app = memory::provision("stale-switch", AppOptions::default());
    let doc = weighted(deployed(&app).await);
    let out = bluegreen_switch::handler(&stale(&app, 2), lambda_event(doc))
        .await
        .expect("the change's own answer agrees; the describes catch up");
    assert_eq!(out.weight, 10);
    assert_eq!(app.listener_split(), Split::with(Color::Green, 10));
}

#[tokio::test]
async fn a_rollback_is_not_fooled_by_a_listener_that_reads_as_already_back() {
    let app = memory::provision("stale-rollback", AppOptions::default());
    let mut doc = weighted(deployed(&app).await);
    let ports = stale(&app, 8);
    // The switch moves 10% to green, and its read-back stays stale: the
    // state machine's Catch sends the release to Rollback.
    let e = bluegreen_switch::handler(&ports, lambda_event(doc.clone()))
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), "ReadBackMismatch");
    assert_eq!(app.listener_split(), Split::with(Color::Green, 10));
    doc["error"] = json!({"Error": e.error_type(), "Cause": e.to_string()});
    // The rollback reads the listener as all blue (stale): it writes all
    // blue again all the same, and says nothing moved.
    let out =
        bluegreen_rollback::handler(&ports, &bluegreen_core::ports::NoHooks, lambda_event(doc))
            .await
            .expect("rollback");
    assert_eq!(
        app.listener_split(),
        Split::all(Color::Blue),
        "before: production stayed 90/10 while the rollback said it already was back ({out:?})"
    );
}
