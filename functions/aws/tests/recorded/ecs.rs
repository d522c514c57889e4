//! The ECS adapter's one-off tasks (migrations) against recorded ECS
//! answers. ECS's `clientToken` makes a retried RunTask start nothing new,
//! and a Fargate service's tasks need its network configuration; the
//! emulator ignores the token and the platform version, so the request is
//! checked here. The stopped task's exit code and its log stream are read
//! as ECS reports them.

use bluegreen_core::ports::{OneOffTask, RevisionTag, Services};

use crate::support::{recorded_answers, sdk_config};

const TASK: &str = "arn:aws:ecs:eu-west-1:123456789012:task/shop/0f5e1c2d3b4a";
const TD: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop:7";

const DESCRIBE_SERVICES: &str = r#"{"services": [{"serviceName": "shop-green", "launchType": "FARGATE",
  "platformVersion": "1.4.0", "taskDefinition": "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop:6",
  "desiredCount": 2, "runningCount": 2,
  "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-0a1"], "securityGroups": ["sg-0b2"],
    "assignPublicIp": "DISABLED"}}}], "failures": []}"#;

const RUN_TASK: &str = r#"{"tasks": [{"taskArn": "arn:aws:ecs:eu-west-1:123456789012:task/shop/0f5e1c2d3b4a",
  "lastStatus": "PROVISIONING"}], "failures": []}"#;

const DESCRIBE_TASKS: &str = r#"{"tasks": [{"taskArn": "arn:aws:ecs:eu-west-1:123456789012:task/shop/0f5e1c2d3b4a",
  "taskDefinitionArn": "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop:7",
  "lastStatus": "STOPPED", "stoppedReason": "Essential container in task exited",
  "overrides": {"containerOverrides": [{"name": "app", "command": ["./migrate", "expand"]}]},
  "containers": [{"name": "sidecar", "lastStatus": "STOPPED", "exitCode": 0},
                 {"name": "app", "lastStatus": "STOPPED", "exitCode": 3, "reason": "relation exists"}]}],
  "failures": []}"#;

const DESCRIBE_TASK_DEFINITION: &str = r#"{"taskDefinition": {
  "taskDefinitionArn": "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop:7",
  "containerDefinitions": [{"name": "app", "image": "shop:v7", "logConfiguration": {"logDriver": "awslogs",
    "options": {"awslogs-group": "/ecs/shop", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "shop"}}}]},
  "tags": []}"#;

#[tokio::test]
async fn a_migration_task_is_placed_like_the_service_and_started_once() {
    let (url, seen) = recorded_answers(vec![
        ("\"startedBy\"", RUN_TASK),
        ("\"services\"", DESCRIBE_SERVICES),
    ])
    .await;
    let ecs = bluegreen_aws::ecs(&sdk_config(&url).await);
    let arn = ecs
        .run_task(&OneOffTask {
            cluster: "shop".into(),
            service: "shop-green".into(),
            task_definition: TD.into(),
            container: "app".into(),
            command: vec!["./migrate".into(), "expand".into()],
            started_by: "bg-expand-0123456789abcdef01234567".into(),
            client_token: "bg-expand-0123456789abcdef01234567".into(),
        })
        .await
        .expect("run task");
    assert_eq!(arn, TASK);
    let requests = seen.lock().unwrap().clone();
    let run: serde_json::Value = serde_json::from_str(
        requests
            .iter()
            .find(|r| r.contains("startedBy"))
            .expect("a RunTask request"),
    )
    .unwrap();
    assert_eq!(run["clientToken"], "bg-expand-0123456789abcdef01234567");
    assert_eq!(run["startedBy"], "bg-expand-0123456789abcdef01234567");
    assert_eq!(run["taskDefinition"], TD);
    assert_eq!(run["count"], 1);
    assert_eq!(run["launchType"], "FARGATE");
    assert_eq!(run["platformVersion"], "1.4.0");
    assert_eq!(
        run["networkConfiguration"]["awsvpcConfiguration"]["subnets"],
        serde_json::json!(["subnet-0a1"])
    );
    assert_eq!(
        run["overrides"]["containerOverrides"],
        serde_json::json!([{"name": "app", "command": ["./migrate", "expand"]}])
    );
}

#[tokio::test]
async fn a_stopped_task_reports_its_overridden_containers_exit_code_and_log() {
    let (url, _seen) = recorded_answers(vec![
        ("\"tasks\"", DESCRIBE_TASKS),
        ("\"taskDefinition\"", DESCRIBE_TASK_DEFINITION),
    ])
    .await;
    let ecs = bluegreen_aws::ecs(&sdk_config(&url).await);
    let status = ecs
        .describe_task("shop", TASK)
        .await
        .expect("describe")
        .expect("known");
    assert!(status.stopped);
    assert_eq!(
        status.exit_code,
        Some(3),
        "the app container's, not the sidecar's"
    );
    assert_eq!(
        status.stopped_reason.as_deref(),
        Some("Essential container in task exited; relation exists")
    );
    let log = status.log.expect("awslogs");
    assert_eq!(
        (log.group.as_str(), log.stream.as_str(), log.region.as_str()),
        ("/ecs/shop", "shop/app/0f5e1c2d3b4a", "eu-west-1")
    );
}

/// The family's revisions, and one of a family whose name starts the same
/// (as a listing by prefix would answer), with a higher revision.
const LIST_TASK_DEFINITIONS: &str = r#"{"taskDefinitionArns": [
  "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop-admin:12",
  "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop:7",
  "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop:8"]}"#;

/// The family's latest revision, registered from a document whose digest
/// starts `d1`.
const DESCRIBE_LATEST: &str = r#"{"taskDefinition": {
  "taskDefinitionArn": "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop:8",
  "family": "shop", "containerDefinitions": [{"name": "app", "image": "shop:v8"}]},
  "tags": [{"key": "team", "value": "payments"}, {"key": "bluegreen:document", "value": "d1"}]}"#;

const REGISTERED: &str = r#"{"taskDefinition": {
  "taskDefinitionArn": "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop:9", "family": "shop"}}"#;

fn document() -> serde_json::Map<String, serde_json::Value> {
    let value = serde_json::json!({
        "family": "shop",
        "containerDefinitions": [{"name": "app", "image": "shop:v9", "newFieldEcsAddsNextYear": {"x": 1}}],
        "cpu": "512",
        "tags": [{"key": "team", "value": "payments"}, {"key": "bluegreen:document", "value": "d2"}]
    });
    value.as_object().unwrap().clone()
}

fn mark(value: &str) -> RevisionTag {
    RevisionTag {
        key: "bluegreen:document".into(),
        value: value.into(),
    }
}

/// A team's task-definition document goes to ECS as RegisterTaskDefinition's
/// body, byte for byte (fields the SDK does not know yet included), unless
/// the family's latest revision already carries its digest: a rerun whose
/// first registration's answer was lost registers nothing more.
#[tokio::test]
async fn a_document_is_sent_as_it_is_and_registered_once() {
    let answers = vec![
        ("familyPrefix", LIST_TASK_DEFINITIONS),
        ("\"include\"", DESCRIBE_LATEST),
        ("containerDefinitions", REGISTERED),
    ];
    let (url, seen) = recorded_answers(answers.clone()).await;
    let ecs = bluegreen_aws::ecs(&sdk_config(&url).await);
    let arn = ecs
        .register_document(&document(), &mark("d2"))
        .await
        .expect("register");
    assert_eq!(
        arn,
        "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop:9"
    );
    let requests = seen.lock().unwrap().clone();
    let describe: serde_json::Value = serde_json::from_str(&requests[1]).unwrap();
    assert_eq!(
        describe["taskDefinition"], "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop:8",
        "the latest revision is the family's highest (not another family's)"
    );
    let sent: serde_json::Value = serde_json::from_str(&requests[2]).unwrap();
    assert_eq!(sent, serde_json::Value::Object(document()));

    // The latest revision carries the digest: it is the one.
    let (url, seen) = recorded_answers(answers).await;
    let ecs = bluegreen_aws::ecs(&sdk_config(&url).await);
    let arn = ecs
        .register_document(&document(), &mark("d1"))
        .await
        .expect("found");
    assert_eq!(
        arn,
        "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop:8"
    );
    assert!(
        !seen
            .lock()
            .unwrap()
            .iter()
            .any(|r| r.contains("containerDefinitions")),
        "registered again"
    );
}
