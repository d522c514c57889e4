//! [`LoadBalancer`] on Elastic Load Balancing v2.
//!
//! A forward action comes back in two shapes: a plain `TargetGroupArn`, or a
//! `ForwardConfig` with weighted target groups. Both are read into one
//! [`Forward`]; writes always use the weighted shape naming both groups.

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, TargetGroupStickinessConfig, TargetGroupTuple,
    TargetHealthStateEnum,
};
use bluegreen_core::ports::{Forward, LoadBalancer, PortError, PortResult, Route, WeightedTarget};

use crate::error::port_error;

#[derive(Clone)]
pub struct Elbv2 {
    client: Client,
}

impl Elbv2 {
    pub fn new(client: Client) -> Self {
        Elbv2 { client }
    }
}

fn forward_of(route: &Route, actions: &[Action]) -> PortResult<Forward> {
    let action = actions
        .iter()
        .find(|a| a.r#type == Some(ActionTypeEnum::Forward))
        .ok_or_else(|| {
            PortError::failed(
                "elbv2:read forward action",
                format!("the {route} has no forward action"),
            )
        })?;
    if let Some(cfg) = &action.forward_config
        && !cfg.target_groups().is_empty()
    {
        let stickiness_seconds = cfg
            .target_group_stickiness_config
            .as_ref()
            .filter(|s| s.enabled == Some(true))
            .and_then(|s| s.duration_seconds);
        return Ok(Forward {
            targets: cfg
                .target_groups()
                .iter()
                .map(|t| WeightedTarget {
                    target_group_arn: t.target_group_arn.clone().unwrap_or_default(),
                    // An omitted weight means 1 to the load balancer.
                    weight: t.weight.map_or(1, |w| w.max(0) as u32),
                })
                .collect(),
            stickiness_seconds,
        });
    }
    match &action.target_group_arn {
        Some(arn) => Ok(Forward {
            targets: vec![WeightedTarget {
                target_group_arn: arn.clone(),
                weight: 1,
            }],
            stickiness_seconds: None,
        }),
        None => Err(PortError::failed(
            "elbv2:read forward action",
            format!("the forward action of the {route} names no target group"),
        )),
    }
}

fn action_for(forward: &Forward) -> Action {
    let stickiness = TargetGroupStickinessConfig::builder()
        .enabled(forward.stickiness_seconds.is_some())
        .set_duration_seconds(forward.stickiness_seconds)
        .build();
    let config = ForwardActionConfig::builder()
        .set_target_groups(Some(
            forward
                .targets
                .iter()
                .map(|t| {
                    TargetGroupTuple::builder()
                        .target_group_arn(&t.target_group_arn)
                        .weight(t.weight as i32)
                        .build()
                })
                .collect(),
        ))
        .target_group_stickiness_config(stickiness)
        .build();
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .forward_config(config)
        .build()
}

impl LoadBalancer for Elbv2 {
    async fn read_forward(&self, route: &Route) -> PortResult<Forward> {
        match route {
            Route::ListenerDefault { listener_arn } => {
                let out = self
                    .client
                    .describe_listeners()
                    .listener_arns(listener_arn)
                    .send()
                    .await
                    .map_err(|e| port_error("elbv2:DescribeListeners", e))?;
                let listener = out.listeners().first().ok_or_else(|| {
                    PortError::failed(
                        "elbv2:DescribeListeners",
                        format!("no listener {listener_arn}"),
                    )
                })?;
                forward_of(route, listener.default_actions())
            }
            Route::Rule { rule_arn } => {
                let out = self
                    .client
                    .describe_rules()
                    .rule_arns(rule_arn)
                    .send()
                    .await
                    .map_err(|e| port_error("elbv2:DescribeRules", e))?;
                let rule = out.rules().first().ok_or_else(|| {
                    PortError::failed("elbv2:DescribeRules", format!("no rule {rule_arn}"))
                })?;
                forward_of(route, rule.actions())
            }
        }
    }

    async fn write_forward(&self, route: &Route, forward: &Forward) -> PortResult<Forward> {
        let action = action_for(forward);
        match route {
            Route::ListenerDefault { listener_arn } => {
                let out = self
                    .client
                    .modify_listener()
                    .listener_arn(listener_arn)
                    .default_actions(action)
                    .send()
                    .await
                    .map_err(|e| port_error("elbv2:ModifyListener", e))?;
                let listener = out.listeners().first().ok_or_else(|| {
                    PortError::failed("elbv2:ModifyListener", "the answer names no listener")
                })?;
                forward_of(route, listener.default_actions())
            }
            Route::Rule { rule_arn } => {
                let out = self
                    .client
                    .modify_rule()
                    .rule_arn(rule_arn)
                    .actions(action)
                    .send()
                    .await
                    .map_err(|e| port_error("elbv2:ModifyRule", e))?;
                let rule = out.rules().first().ok_or_else(|| {
                    PortError::failed("elbv2:ModifyRule", "the answer names no rule")
                })?;
                forward_of(route, rule.actions())
            }
        }
    }

    async fn healthy_targets(&self, target_group_arn: &str) -> PortResult<usize> {
        let out = self
            .client
            .describe_target_health()
            .target_group_arn(target_group_arn)
            .send()
            .await
            .map_err(|e| port_error("elbv2:DescribeTargetHealth", e))?;
        Ok(out
            .target_health_descriptions()
            .iter()
            .filter(|d| {
                d.target_health.as_ref().and_then(|h| h.state.as_ref())
                    == Some(&TargetHealthStateEnum::Healthy)
            })
            .count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route() -> Route {
        Route::Rule {
            rule_arn: "r".into(),
        }
    }

    #[test]
    fn reads_both_forward_shapes() {
        let plain = Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn("tg-a")
            .build();
        let f = forward_of(&route(), &[plain]).unwrap();
        assert_eq!(
            f.targets,
            vec![WeightedTarget {
                target_group_arn: "tg-a".into(),
                weight: 1
            }]
        );

        let weighted = action_for(&Forward {
            targets: vec![
                WeightedTarget {
                    target_group_arn: "tg-a".into(),
                    weight: 90,
                },
                WeightedTarget {
                    target_group_arn: "tg-b".into(),
                    weight: 10,
                },
            ],
            stickiness_seconds: Some(300),
        });
        let f = forward_of(&route(), &[weighted]).unwrap();
        assert_eq!(f.targets[1].weight, 10);
        assert_eq!(f.stickiness_seconds, Some(300));
    }

    #[test]
    fn no_forward_action_is_an_error() {
        let fixed = Action::builder()
            .r#type(ActionTypeEnum::FixedResponse)
            .build();
        let e = forward_of(&route(), &[fixed]).unwrap_err();
        assert!(e.message.contains("no forward action"), "{e}");
    }
}
