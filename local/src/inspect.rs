//! What the tests see, read with the plain SDK rather than the adapters under
//! test: the listener's split, the stored parameters, the alerts sent.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum};
use bluegreen_core::records::state::AppState;
use bluegreen_core::{Color, Split};
use serde_json::Value;

use super::example::{ExampleApp, PREFIX};

/// Everything a failed operation must leave as it was.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub listener_default: String,
    pub rules: String,
    pub parameters: BTreeMap<String, (String, i64)>,
}

impl ExampleApp {
    async fn route_actions(&self) -> Vec<Action> {
        match &self.rule_arn {
            Some(rule) => self
                .elb
                .describe_rules()
                .rule_arns(rule)
                .send()
                .await
                .expect("describe rules")
                .rules()[0]
                .actions()
                .to_vec(),
            None => self.listener_default_actions().await,
        }
    }

    pub async fn listener_default_actions(&self) -> Vec<Action> {
        self.elb
            .describe_listeners()
            .listener_arns(&self.listener_arn)
            .send()
            .await
            .expect("describe listeners")
            .listeners()[0]
            .default_actions()
            .to_vec()
    }

    /// The production split as the load balancer reports it.
    pub async fn listener_split(&self) -> Split {
        let actions = self.route_actions().await;
        self.split_of(&actions)
    }

    fn split_of(&self, actions: &[Action]) -> Split {
        let forward = actions
            .iter()
            .find(|a| a.r#type == Some(ActionTypeEnum::Forward))
            .expect("route has a forward action");
        let mut weights = (0u32, 0u32);
        let mut add = |arn: &str, w: u32| {
            if arn == self.blue_tg {
                weights.0 += w
            } else if arn == self.green_tg {
                weights.1 += w
            } else {
                panic!("route forwards to a foreign target group {arn}")
            }
        };
        match forward
            .forward_config
            .as_ref()
            .filter(|c| !c.target_groups().is_empty())
        {
            Some(cfg) => {
                for t in cfg.target_groups() {
                    add(
                        t.target_group_arn.as_deref().unwrap(),
                        t.weight.unwrap_or(1) as u32,
                    );
                }
            }
            None => add(forward.target_group_arn.as_deref().unwrap(), 1),
        }
        Split::from_weights(weights.0, weights.1).expect("some weight")
    }

    pub async fn parameter(&self, leaf: &str) -> Option<(String, i64)> {
        match self
            .ssm
            .get_parameter()
            .name(format!("{PREFIX}/{}/{leaf}", self.name))
            .send()
            .await
        {
            Ok(out) => out.parameter.map(|p| (p.value.unwrap(), p.version)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_parameter_not_found()) =>
            {
                None
            }
            Err(e) => panic!("get parameter: {e:?}"),
        }
    }

    pub async fn stored_state(&self) -> Option<AppState> {
        self.parameter("state")
            .await
            .map(|(v, _)| serde_json::from_str(&v).expect("stored state parses"))
    }

    /// Invariant 2: the stored state equals what the listener reports, and the
    /// plain active-environment parameter agrees with the state.
    pub async fn assert_state_matches_listener(&self) {
        let state = self.stored_state().await.expect("state is stored");
        let split = self.listener_split().await;
        assert_eq!(state.weights, split, "stored weights vs listener");
        let env = self
            .parameter("active-environment")
            .await
            .expect("active-environment")
            .0;
        assert_eq!(
            env,
            state.active_color.to_string(),
            "active-environment vs state"
        );
        assert_eq!(state.previous_color, state.active_color.other());
    }

    pub async fn snapshot(&self) -> Snapshot {
        let mut parameters = BTreeMap::new();
        let mut next: Option<String> = None;
        loop {
            let out = self
                .ssm
                .get_parameters_by_path()
                .path(format!("{PREFIX}/{}", self.name))
                .recursive(true)
                .set_next_token(next.clone())
                .send()
                .await
                .expect("get parameters by path");
            for p in out.parameters() {
                parameters.insert(
                    p.name.clone().unwrap(),
                    (p.value.clone().unwrap_or_default(), p.version),
                );
            }
            next = out.next_token;
            if next.is_none() {
                break;
            }
        }
        let rules = self
            .elb
            .describe_rules()
            .listener_arn(&self.listener_arn)
            .send()
            .await
            .expect("describe rules");
        let mut rules: Vec<String> = rules.rules().iter().map(|r| format!("{r:?}")).collect();
        rules.sort();
        Snapshot {
            listener_default: format!("{:?}", self.listener_default_actions().await),
            rules: rules.join("\n"),
            parameters,
        }
    }

    /// Alerts published to the app's alert topic since the last call, as
    /// their facts (see `notify::alert_facts`).
    pub async fn alerts(&self) -> Vec<Value> {
        let mut alerts = vec![];
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.alert_queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("receive alerts");
            let messages = out.messages();
            if messages.is_empty() {
                return alerts;
            }
            for m in messages {
                let body = m.body.clone().unwrap_or_default();
                let message = serde_json::from_str(&body).unwrap_or(Value::String(body));
                alerts.push(bluegreen_core::steps::notify::alert_facts(&message));
                self.sqs
                    .delete_message()
                    .queue_url(&self.alert_queue_url)
                    .receipt_handle(m.receipt_handle.clone().unwrap())
                    .send()
                    .await
                    .expect("delete alert");
            }
        }
    }

    async fn ecs_service(&self, color: Color) -> aws_sdk_ecs::types::Service {
        self.ecs
            .describe_services()
            .cluster(&self.cluster)
            .services(self.service(color))
            .send()
            .await
            .expect("describe services")
            .services()[0]
            .clone()
    }

    pub async fn desired_count(&self, color: Color) -> i32 {
        self.ecs_service(color).await.desired_count
    }

    pub async fn service_task_definition(&self, color: Color) -> String {
        self.ecs_service(color)
            .await
            .task_definition
            .unwrap_or_default()
    }

    pub async fn task_definition(&self, arn: &str) -> aws_sdk_ecs::types::TaskDefinition {
        self.ecs
            .describe_task_definition()
            .task_definition(arn)
            .send()
            .await
            .expect("describe task definition")
            .task_definition
            .unwrap()
    }

    /// A task definition's tags as (key, value), sorted.
    pub async fn task_definition_tags(&self, arn: &str) -> Vec<(String, String)> {
        let mut tags: Vec<(String, String)> = self
            .ecs
            .describe_task_definition()
            .task_definition(arn)
            .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
            .send()
            .await
            .expect("describe task definition")
            .tags()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_string(),
                    t.value().unwrap_or_default().to_string(),
                )
            })
            .collect();
        tags.sort();
        tags
    }

    /// How many revisions of the app's task-definition family exist.
    pub async fn task_definition_revisions(&self) -> usize {
        self.ecs
            .list_task_definitions()
            .family_prefix(&self.name)
            .send()
            .await
            .expect("list task definitions")
            .task_definition_arns()
            .len()
    }

    /// The test listener's split (the route smoke tests use).
    pub async fn test_route_split(&self) -> Split {
        let actions = self
            .elb
            .describe_listeners()
            .listener_arns(&self.test_listener_arn)
            .send()
            .await
            .expect("describe test listener")
            .listeners()[0]
            .default_actions()
            .to_vec();
        self.split_of(&actions)
    }

    /// An operator moving all production traffic to `color` by hand (as in
    /// the console during an incident), keeping the listener's other actions.
    pub async fn move_production_by_hand(&self, color: Color) {
        let (blue, green) = if color == Color::Blue { (1, 0) } else { (0, 1) };
        let mut actions: Vec<Action> = self
            .listener_default_actions()
            .await
            .into_iter()
            .filter(|a| a.r#type != Some(ActionTypeEnum::Forward))
            .collect();
        let order = actions.iter().filter_map(|a| a.order).max().map(|o| o + 1);
        let forward = Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .set_order(order)
            .forward_config(
                aws_sdk_elasticloadbalancingv2::types::ForwardActionConfig::builder()
                    .target_groups(
                        aws_sdk_elasticloadbalancingv2::types::TargetGroupTuple::builder()
                            .target_group_arn(&self.blue_tg)
                            .weight(blue)
                            .build(),
                    )
                    .target_groups(
                        aws_sdk_elasticloadbalancingv2::types::TargetGroupTuple::builder()
                            .target_group_arn(&self.green_tg)
                            .weight(green)
                            .build(),
                    )
                    .build(),
            )
            .build();
        actions.push(forward);
        self.set_listener_default_actions(actions).await;
    }

    /// Replaces the production listener's default actions as they are given.
    pub async fn set_listener_default_actions(&self, actions: Vec<Action>) {
        self.elb
            .modify_listener()
            .listener_arn(&self.listener_arn)
            .set_default_actions(Some(actions))
            .send()
            .await
            .expect("modify listener");
    }

    pub async fn set_desired_count(&self, color: Color, n: i32) {
        self.ecs
            .update_service()
            .cluster(&self.cluster)
            .service(self.service(color))
            .desired_count(n)
            .send()
            .await
            .expect("update service");
    }

    /// Starts an execution that stays RUNNING (moto does not run state machines
    /// unless told to): a stand-in for a deployment in flight. Its input is a
    /// release document of this app, for the version named in `name` (its
    /// `v<digits>` part, e.g. `release-v2`), as the action would send.
    pub async fn start_running_execution(&self, name: &str) -> String {
        let version = name
            .split('-')
            .find(|p| {
                p.len() > 1 && p.starts_with('v') && p[1..].chars().all(|c| c.is_ascii_digit())
            })
            .unwrap_or(name);
        let input = serde_json::json!({
            "app": self.name,
            "release": {"version": version, "image": format!("example/{}:{version}", self.name)},
        });
        let machine = format!("{}-holder", self.name);
        let arn = format!("arn:aws:states:us-east-1:123456789012:stateMachine:{machine}");
        let exists = self
            .sfn
            .describe_state_machine()
            .state_machine_arn(&arn)
            .send()
            .await
            .is_ok();
        if !exists {
            self.sfn
                .create_state_machine()
                .name(&machine)
                .role_arn("arn:aws:iam::123456789012:role/bluegreen-tests")
                .definition(r#"{"StartAt":"Hold","States":{"Hold":{"Type":"Wait","Seconds":3600,"End":true}}}"#)
                .send()
                .await
                .expect("create state machine");
        }
        self.sfn
            .start_execution()
            .state_machine_arn(&arn)
            .name(name)
            .input(input.to_string())
            .send()
            .await
            .expect("start execution")
            .execution_arn
    }

    pub async fn execution_status(&self, arn: &str) -> String {
        self.sfn
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .expect("describe execution")
            .status
            .as_str()
            .to_string()
    }
}
