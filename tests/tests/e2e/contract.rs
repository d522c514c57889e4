//! The in-memory AWS keeps the adapters' contract: one release and its
//! rollback, played through the real handlers against the emulator (the AWS
//! SDK adapters over HTTP) and against the in-memory AWS, must come out the
//! same. The handler scenario tests run on the in-memory AWS because of this
//! test; a difference here means the fake no longer stands for the adapters.

use bluegreen_core::records::state::AppState;
use bluegreen_core::{Color, Split};
use bluegreen_deploy_idle::DeployIdleResponse;
use bluegreen_e2e::memory::{self, MemoryApp};
use bluegreen_e2e::{AppOptions, ExampleApp, TestApp, lambda_event, release_input};
use serde_json::{Value, json};

/// What the scenario reads of an app's AWS, either kind.
trait Backend: TestApp {
    async fn split(&self) -> Split;
    async fn state(&self) -> AppState;
    async fn lock(&self) -> Option<String>;
}

impl Backend for ExampleApp {
    async fn split(&self) -> Split {
        self.listener_split().await
    }
    async fn state(&self) -> AppState {
        self.stored_state().await.expect("state")
    }
    async fn lock(&self) -> Option<String> {
        self.parameter("lock").await.map(|(v, _)| v)
    }
}

impl Backend for MemoryApp {
    async fn split(&self) -> Split {
        self.listener_split()
    }
    async fn state(&self) -> AppState {
        self.stored_state().expect("state")
    }
    async fn lock(&self) -> Option<String> {
        self.parameter("lock")
    }
}

/// deploy-idle, the switch, a rerun of the switch, then an emergency
/// rollback: what each answered and what the world then said, without the
/// names only one backend makes (task-definition ARNs).
async fn release_and_roll_back(b: &impl Backend) -> Vec<Value> {
    let aws = b.aws();
    let mut seen = Vec::new();
    let mut input = release_input(b.app_name(), "v2");
    let deployed = match bluegreen_deploy_idle::handler(&aws, lambda_event(input.clone()))
        .await
        .expect("deploy-idle")
    {
        DeployIdleResponse::Deployed(d) => d,
        other => panic!("{other:?}"),
    };
    seen.push(json!({"deployed": [deployed.idle_color, deployed.desired_count, deployed.changed]}));
    input["deploy"] = serde_json::to_value(&deployed).unwrap();
    for _ in 0..2 {
        let out = bluegreen_switch::handler(&aws, lambda_event(input.clone()))
            .await
            .expect("switch");
        seen.push(json!({"switched": [out.target_color, out.split, out.changed, out.done]}));
        seen.push(json!({"split": b.split().await, "state": state_of(&b.state().await)}));
    }
    // The release's lock, given back as the state machine does, then on-call.
    let holder = format!("manual:{}:v2", deployed.app);
    bluegreen_e2e::give_lock_back(&aws, b.app_name(), &holder).await;
    let rolled = bluegreen_rollback::handler(
        &aws,
        &bluegreen_core::ports::NoHooks,
        lambda_event(json!({"app": b.app_name(), "reason": "contract"})),
    )
    .await
    .expect("rollback");
    let rolled = serde_json::to_value(rolled).unwrap();
    seen.push(json!({"rolled back": [rolled["changed"], rolled["to"], rolled["split"]]}));
    seen.push(json!({"split": b.split().await, "state": state_of(&b.state().await), "lock": b.lock().await}));
    seen
}

fn state_of(s: &AppState) -> Value {
    json!([
        s.active_color,
        s.active_version,
        s.previous_color,
        s.previous_version,
        s.weights,
        s.phase
    ])
}

#[tokio::test]
async fn a_release_and_its_rollback_come_out_the_same_on_both_backends() {
    let on_moto = bluegreen_e2e::provision("contract", AppOptions::default()).await;
    let in_memory = memory::provision("contract", AppOptions::default());
    let moto = release_and_roll_back(&on_moto).await;
    let fake = release_and_roll_back(&in_memory).await;
    assert_eq!(fake, moto);
    // And the scenario says something: production went to green and back.
    assert_eq!(moto[2]["split"], json!(Split::all(Color::Green)));
    assert_eq!(on_moto.listener_split().await, Split::all(Color::Blue));
}
