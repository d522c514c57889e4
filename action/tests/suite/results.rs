//! Step results as the Lambdas write them: the core's own types, serialized,
//! so a fixture cannot drift from what the state machine really carries.

use bluegreen_core::steps::deploy::DeployOutcome;
use bluegreen_core::steps::rollback::{ColorVersion, RollbackOutcome, RollbackSource};
use bluegreen_core::steps::switch::SwitchOutcome;
use bluegreen_core::{Color, Split};
use serde_json::Value;

pub fn deploy(version: &str, idle: Color) -> Value {
    serde_json::to_value(DeployOutcome {
        app: "checkout".into(),
        version: version.into(),
        idle_color: idle,
        service: format!("checkout-{idle}"),
        task_definition_arn: "arn:aws:ecs:us-east-1:1:task-definition/checkout:4".into(),
        desired_count: 2,
        serving_task_definition: None,
        changed: true,
        already_live: false,
        started_at: time::OffsetDateTime::UNIX_EPOCH,
        warm_window_seconds: 60,
        migrating: false,
        expand: None,
        failed_grace_seconds: None,
    })
    .unwrap()
}

pub fn switch(version: &str, target: Color, step: usize, steps: &[u8]) -> Value {
    let weight = steps[step];
    serde_json::to_value(SwitchOutcome {
        app: "checkout".into(),
        version: version.into(),
        target_color: target,
        step,
        steps: steps.to_vec(),
        weight,
        split: Split::with(target, weight),
        changed: true,
        done: weight == 100,
        bake_seconds: 300,
        execution_arn: None,
        gate: Default::default(),
        approval_timeout_seconds: None,
        on_timeout: None,
        traffic_moved: false,
        window: None,
    })
    .unwrap()
}

pub fn rollback(to: Color, to_version: &str, from_version: &str, reason: &str) -> Value {
    serde_json::to_value(RollbackOutcome {
        app: "checkout".into(),
        changed: true,
        from: ColorVersion {
            color: to.other(),
            version: Some(from_version.into()),
        },
        to: ColorVersion {
            color: to,
            version: Some(to_version.into()),
        },
        split: Split::all(to),
        reason: reason.into(),
        source: RollbackSource::StateMachine,
        stopped_execution: None,
        lock_released: false,
        alert_error: None,
        note: None,
        waited_seconds: None,
        hooks: Vec::new(),
        notices: Vec::new(),
    })
    .unwrap()
}
