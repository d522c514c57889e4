//! The example app on the in-memory AWS (`bluegreen_core::sim`, the
//! simulation's model run outside its scheduler): the same shape as the
//! emulator's [`crate::ExampleApp`] (two colors, a production listener, an
//! alert topic, the app's config and state), built in microseconds, with
//! faults asked for per call ([`MemoryApp::fail`]) instead of through an
//! HTTP proxy. Handler scenario tests run here; the emulator stays for what
//! only it can prove (the adapters' contract, the real state machine).

use std::sync::{Arc, Mutex, MutexGuard};

use bluegreen_core::Color;
use bluegreen_core::Split;
use bluegreen_core::ports::{
    ExecutionStatus, Forward, RouteAction, RouteActions, ServiceInfo, WeightedTarget,
};
use bluegreen_core::records::state::AppState;
use bluegreen_core::sim::{Fault, Model, SimPorts, TaskDef};
use serde_json::{Value, json};

pub use crate::AppOptions;
use crate::PREFIX;

/// Every port over one model, as the Lambdas' capability object.
pub type MemoryPorts = bluegreen_core::sim::SimBundle;

const ACCOUNT: &str = "us-east-1:123456789012";

pub struct MemoryApp {
    pub name: String,
    pub model: Arc<Mutex<Model>>,
    pub listener_arn: String,
    pub rule_arn: Option<String>,
    pub test_listener_arn: String,
    pub blue_tg: String,
    pub green_tg: String,
    pub alert_topic_arn: String,
    pub config: Value,
}

/// What a test compares before and after a step that must change nothing:
/// every parameter, route and service.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub params: Vec<(String, String)>,
    pub routes: Vec<(String, RouteActions)>,
    pub services: Vec<(String, ServiceInfo)>,
}

fn forward_to(tg: &str) -> RouteAction {
    RouteAction::Forward {
        order: Some(1),
        forward: Forward {
            targets: vec![WeightedTarget {
                target_group_arn: tg.to_string(),
                weight: 1,
            }],
            stickiness_seconds: None,
        },
    }
}

/// Provisions the example app `name` on a fresh in-memory AWS: blue serves
/// v1 with two tasks, green runs v1 too (as the emulator's example app).
pub fn provision(name: &str, options: AppOptions) -> MemoryApp {
    let elb = format!("arn:aws:elasticloadbalancing:{ACCOUNT}");
    let listener_arn = format!("{elb}:listener/app/{name}/1/prod");
    let test_listener_arn = format!("{elb}:listener/app/{name}/1/test");
    let blue_tg = format!("{elb}:targetgroup/{name}-blue/1");
    let green_tg = format!("{elb}:targetgroup/{name}-green/2");
    let rule_arn = options
        .rule_based
        .then(|| format!("{elb}:listener-rule/app/{name}/1/prod/1"));
    let alert_topic_arn = format!("arn:aws:sns:{ACCOUNT}:{name}-alerts");
    let task_definition = format!("arn:aws:ecs:{ACCOUNT}:task-definition/{name}:1");

    let mut m = Model::new(0, 0);
    m.task_defs.push(TaskDef {
        arn: task_definition.clone(),
        image: format!("example/{name}:v1"),
        from: None,
        mark: None,
    });
    for (color, tg) in [("blue", &blue_tg), ("green", &green_tg)] {
        let service = format!("{name}-{color}");
        m.services.insert(
            service.clone(),
            ServiceInfo {
                task_definition: task_definition.clone(),
                desired: 2,
                running: 2,
                deployments: 1,
            },
        );
        m.target_group_of.insert(service, tg.clone());
    }
    // Production on blue, by the default action or by a rule (whose
    // listener then answers 404 by default, not ours to change).
    let production = RouteActions(vec![forward_to(&blue_tg)]);
    match &rule_arn {
        Some(rule) => {
            m.routes.insert(rule.clone(), production);
            m.routes.insert(
                listener_arn.clone(),
                RouteActions(vec![forward_to(&green_tg)]),
            );
        }
        None => {
            m.routes.insert(listener_arn.clone(), production);
        }
    }
    m.routes.insert(
        test_listener_arn.clone(),
        RouteActions(vec![forward_to(&green_tg)]),
    );

    let mut production = json!({"listener_arn": listener_arn});
    if let Some(rule) = &rule_arn {
        production["rule_arn"] = json!(rule);
    }
    let mut config = json!({
        "app": name,
        "cluster": format!("{name}-cluster"),
        "blue": {"service": format!("{name}-blue"), "target_group_arn": blue_tg},
        "green": {"service": format!("{name}-green"), "target_group_arn": green_tg},
        "production": production,
        "test": {"listener_arn": test_listener_arn, "url": options.test_url},
        "strategy": options.strategy,
        "warm_window_seconds": options.warm_window_seconds,
        "monitor": options.monitor,
        "alert_topic_arn": alert_topic_arn,
    });
    for (k, v) in options.extra_config.as_object().into_iter().flatten() {
        config[k] = v.clone();
    }
    m.params
        .insert(format!("{PREFIX}/{name}/config"), (config.to_string(), 1));
    for (color, healthy) in [
        (&blue_tg, options.healthy_blue),
        (&green_tg, options.healthy_green),
    ] {
        if !healthy {
            m.unhealthy.insert(color.clone());
        }
    }
    let app = MemoryApp {
        name: name.to_string(),
        model: Arc::new(Mutex::new(m)),
        listener_arn,
        rule_arn,
        test_listener_arn,
        blue_tg,
        green_tg,
        alert_topic_arn,
        config,
    };
    if let Some(state) = &options.initial_state {
        app.put_state(state);
    }
    app
}

impl crate::TestApp for MemoryApp {
    type Aws = MemoryPorts;
    fn aws(&self) -> Self::Aws {
        self.ports()
    }
    fn app_name(&self) -> &str {
        &self.name
    }
}

impl MemoryApp {
    pub fn world(&self) -> MutexGuard<'_, Model> {
        self.model.lock().expect("the model")
    }

    /// The Lambdas' capability object over this app's AWS.
    pub fn ports(&self) -> MemoryPorts {
        SimPorts::bundle(self.model.clone(), "test", PREFIX)
    }

    /// The next `times` calls of `operation` naming `subject` go wrong as
    /// `fault` (before any effect, or after it with the answer lost).
    pub fn fail(&self, operation: &'static str, subject: &str, times: usize, fault: Fault) {
        self.world().fail(operation, subject, times, fault);
    }

    pub fn target_group(&self, color: Color) -> &str {
        match color {
            Color::Blue => &self.blue_tg,
            Color::Green => &self.green_tg,
        }
    }

    pub fn service(&self, color: Color) -> String {
        format!("{}-{color}", self.name)
    }

    pub fn put_state(&self, state: &AppState) {
        let text = serde_json::to_string(state).expect("state serialises");
        let mut m = self.world();
        m.params
            .insert(format!("{PREFIX}/{}/state", self.name), (text, 1));
        m.params.insert(
            format!("{PREFIX}/{}/active-environment", self.name),
            (state.active_color.to_string(), 1),
        );
    }

    pub fn put_config(&self, config: &Value) {
        let key = format!("{PREFIX}/{}/config", self.name);
        let mut m = self.world();
        let version = m.params.get(&key).map_or(0, |(_, v)| *v);
        m.params.insert(key, (config.to_string(), version + 1));
    }

    /// A parameter of the app (`lock`, `state`, `active-environment`).
    pub fn parameter(&self, leaf: &str) -> Option<String> {
        self.world()
            .param(&format!("{PREFIX}/{}/{leaf}", self.name))
            .map(str::to_string)
    }

    pub fn stored_state(&self) -> Option<AppState> {
        self.parameter("state")
            .map(|text| serde_json::from_str(&text).expect("stored state parses"))
    }

    fn production_key(&self) -> &str {
        self.rule_arn.as_deref().unwrap_or(&self.listener_arn)
    }

    /// The production route's actions, as the load balancer holds them.
    pub fn production_actions(&self) -> RouteActions {
        self.world().routes[self.production_key()].clone()
    }

    /// The listener's default actions (the production route unless it is a
    /// rule).
    pub fn listener_default_actions(&self) -> RouteActions {
        self.world().routes[&self.listener_arn].clone()
    }

    pub fn set_listener_default_actions(&self, actions: Vec<RouteAction>) {
        self.world()
            .routes
            .insert(self.listener_arn.clone(), RouteActions(actions));
    }

    /// Where production traffic goes, by the load balancer.
    pub fn listener_split(&self) -> Split {
        split_of(&self.production_actions(), &self.blue_tg, &self.green_tg)
    }

    /// The stored state's split equals the load balancer's, and
    /// `active-environment` names the state's active color.
    pub fn assert_state_matches_listener(&self) {
        let state = self.stored_state().expect("state");
        assert_eq!(state.weights, self.listener_split(), "state vs listener");
        assert_eq!(
            self.parameter("active-environment").as_deref(),
            Some(state.active_color.as_str()),
            "active-environment vs state"
        );
    }

    pub fn snapshot(&self) -> Snapshot {
        let m = self.world();
        Snapshot {
            params: m
                .params
                .iter()
                .map(|(k, (v, _))| (k.clone(), v.clone()))
                .collect(),
            routes: m
                .routes
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            services: m
                .services
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    /// A running execution: a stand-in for a deployment in flight. Its input
    /// is a release document of this app for the version named in `name`
    /// (its `v<digits>` part, e.g. `release-v2`), as the action would send.
    pub fn start_running_execution(&self, name: &str) -> String {
        let version = name
            .split('-')
            .find(|p| {
                p.len() > 1 && p.starts_with('v') && p[1..].chars().all(|c| c.is_ascii_digit())
            })
            .unwrap_or(name);
        let input = json!({
            "app": self.name,
            "release": {"version": version, "image": format!("example/{}:{version}", self.name)},
        });
        let arn = format!(
            "arn:aws:states:{ACCOUNT}:execution:{}-holder:{name}",
            self.name
        );
        self.world()
            .executions
            .insert(arn.clone(), (ExecutionStatus::Running, input.to_string()));
        arn
    }

    /// `RUNNING`, or `ABORTED` once stopped (the only way an execution of
    /// these tests ends), as Step Functions names them.
    pub fn execution_status(&self, arn: &str) -> String {
        match self.world().executions.get(arn).map(|e| e.0) {
            Some(ExecutionStatus::Running) => "RUNNING",
            Some(_) => "ABORTED",
            None => "MISSING",
        }
        .to_string()
    }

    /// Someone stops an execution (the console, a script).
    pub fn stop_execution(&self, arn: &str) {
        if let Some(e) = self.world().executions.get_mut(arn) {
            e.0 = ExecutionStatus::Finished;
        }
    }

    /// Messages published to the app's alert topic since the last call, parsed
    /// as JSON when they are.
    /// The alerts on the app's topic since the last call, as their facts
    /// (see `notify::alert_facts`).
    pub fn alerts(&self) -> Vec<Value> {
        let mut m = self.world();
        let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut m.alerts)
            .into_iter()
            .partition(|(topic, _, _)| *topic == self.alert_topic_arn);
        m.alerts = rest;
        mine.into_iter()
            .map(|(_, _, body)| serde_json::from_str(&body).unwrap_or(Value::String(body)))
            .map(|message| bluegreen_core::steps::notify::alert_facts(&message))
            .collect()
    }

    pub fn desired_count(&self, color: Color) -> i32 {
        self.world().services[&self.service(color)].desired
    }

    pub fn set_desired_count(&self, color: Color, n: i32) {
        let service = self.service(color);
        self.world().set_desired(&service, n);
    }

    pub fn service_task_definition(&self, color: Color) -> String {
        self.world().services[&self.service(color)]
            .task_definition
            .clone()
    }

    /// How many revisions of the app's task-definition family exist.
    pub fn task_definition_revisions(&self) -> usize {
        let family = format!("task-definition/{}:", self.name);
        self.world()
            .task_defs
            .iter()
            .filter(|t| t.arn.contains(&family))
            .count()
    }

    /// A color's targets turn healthy or unhealthy.
    pub fn set_healthy(&self, color: Color, healthy: bool) {
        let tg = self.target_group(color).to_string();
        let mut m = self.world();
        if healthy {
            m.unhealthy.remove(&tg);
        } else {
            m.unhealthy.insert(tg);
        }
    }

    /// An operator moving all production traffic to `color` by hand (as in
    /// the console during an incident), keeping the route's other actions.
    pub fn move_production_by_hand(&self, color: Color) {
        let key = self.production_key().to_string();
        let tg = self.target_group(color).to_string();
        let mut m = self.world();
        let actions = m.routes[&key].clone();
        let moved = RouteActions(
            actions
                .0
                .into_iter()
                .map(|a| match a {
                    RouteAction::Forward { order, .. } => match forward_to(&tg) {
                        RouteAction::Forward { forward, .. } => {
                            RouteAction::Forward { order, forward }
                        }
                        other => other,
                    },
                    other => other,
                })
                .collect(),
        );
        m.routes.insert(key, moved);
    }
}

fn split_of(actions: &RouteActions, blue_tg: &str, green_tg: &str) -> Split {
    let forward = actions.forward().expect("one forward action");
    let weight = |tg: &str| {
        forward
            .targets
            .iter()
            .filter(|t| t.target_group_arn == tg)
            .map(|t| t.weight)
            .sum::<u32>()
    };
    Split::from_weights(weight(blue_tg), weight(green_tg))
        .expect("the route forwards to the app's colors")
}

pub use crate::{hold_lock, manual_holder, release_lock, try_hold_lock};
