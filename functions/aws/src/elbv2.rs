//! [`LoadBalancer`] on Elastic Load Balancing v2.
//!
//! A forward action comes back in two shapes: a plain `TargetGroupArn`, or a
//! `ForwardConfig` with weighted target groups. Both are read into one
//! [`Forward`]; writes always use the weighted shape naming both groups. Every
//! other action (authentication, redirects) is carried as the SDK read it and
//! written back untouched, in its order.

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, TargetGroupStickinessConfig, TargetGroupTuple,
    TargetHealthStateEnum,
};
use std::sync::Arc;

use bluegreen_core::ports::{
    ForeignAction, Forward, LoadBalancer, PortError, PortResult, Route, RouteAction, RouteActions,
    WeightedTarget,
};

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

fn forward_of(route: &Route, action: &Action) -> PortResult<Forward> {
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

/// The whole action list in the domain's terms: the forward action read, every
/// other action kept as the SDK gave it (written back untouched).
fn actions_of(route: &Route, actions: &[Action]) -> PortResult<RouteActions> {
    let mut sorted: Vec<&Action> = actions.iter().collect();
    sorted.sort_by_key(|a| a.order.unwrap_or(i32::MAX));
    sorted
        .into_iter()
        .map(|a| {
            if a.r#type == Some(ActionTypeEnum::Forward) {
                Ok(RouteAction::Forward {
                    order: a.order,
                    forward: forward_of(route, a)?,
                })
            } else {
                Ok(RouteAction::Foreign(ForeignAction {
                    kind: a
                        .r#type
                        .as_ref()
                        .map_or("unknown", |t| t.as_str())
                        .to_string(),
                    order: a.order,
                    fingerprint: format!("{a:?}"),
                    opaque: Arc::new(a.clone()),
                }))
            }
        })
        .collect::<PortResult<Vec<_>>>()
        .map(RouteActions)
}

fn forward_action(order: Option<i32>, forward: &Forward) -> Action {
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
        .set_order(order)
        .build()
}

fn sdk_actions(actions: &RouteActions) -> PortResult<Vec<Action>> {
    actions
        .0
        .iter()
        .map(|a| match a {
            RouteAction::Forward { order, forward } => Ok(forward_action(*order, forward)),
            RouteAction::Foreign(f) => f
                .opaque
                .downcast_ref::<Action>()
                .cloned()
                .map(keep_client_secret)
                .ok_or_else(|| {
                    PortError::failed(
                        "elbv2:write actions",
                        format!("action {} was not read from ELBv2", f.kind),
                    )
                }),
        })
        .collect()
}

/// DescribeListeners/DescribeRules never return an OIDC action's client
/// secret; written back without it, ModifyListener/ModifyRule fail unless the
/// action says to keep the stored one (`UseExistingClientSecret`, AWS API
/// reference). The emulator echoes the secret, so it would never tell.
fn keep_client_secret(mut action: Action) -> Action {
    if let Some(oidc) = action.authenticate_oidc_config.as_mut()
        && oidc.client_secret.is_none()
    {
        oidc.use_existing_client_secret = Some(true);
    }
    action
}

impl LoadBalancer for Elbv2 {
    async fn read_actions(&self, route: &Route) -> PortResult<RouteActions> {
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
                actions_of(route, listener.default_actions())
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
                actions_of(route, rule.actions())
            }
        }
    }

    async fn write_actions(
        &self,
        route: &Route,
        actions: &RouteActions,
    ) -> PortResult<RouteActions> {
        let actions = sdk_actions(actions)?;
        match route {
            Route::ListenerDefault { listener_arn } => {
                let out = self
                    .client
                    .modify_listener()
                    .listener_arn(listener_arn)
                    .set_default_actions(Some(actions))
                    .send()
                    .await
                    .map_err(|e| port_error("elbv2:ModifyListener", e))?;
                let listener = out.listeners().first().ok_or_else(|| {
                    PortError::failed("elbv2:ModifyListener", "the answer names no listener")
                })?;
                actions_of(route, listener.default_actions())
            }
            Route::Rule { rule_arn } => {
                let out = self
                    .client
                    .modify_rule()
                    .rule_arn(rule_arn)
                    .set_actions(Some(actions))
                    .send()
                    .await
                    .map_err(|e| port_error("elbv2:ModifyRule", e))?;
                let rule = out.rules().first().ok_or_else(|| {
                    PortError::failed("elbv2:ModifyRule", "the answer names no rule")
                })?;
                actions_of(route, rule.actions())
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

    async fn deregistration_delay(&self, target_group_arn: &str) -> PortResult<u64> {
        let out = self
            .client
            .describe_target_group_attributes()
            .target_group_arn(target_group_arn)
            .send()
            .await
            .map_err(|e| port_error("elbv2:DescribeTargetGroupAttributes", e))?;
        let value = out
            .attributes()
            .iter()
            .find(|a| a.key() == Some("deregistration_delay.timeout_seconds"))
            .and_then(|a| a.value());
        // Absent: the group has AWS's default.
        value.map_or(Ok(300), str::parse).map_err(|_| {
            PortError::failed(
                "elbv2:DescribeTargetGroupAttributes",
                format!("{target_group_arn}: deregistration_delay.timeout_seconds is not a number"),
            )
        })
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
        let f = forward_of(&route(), &plain).unwrap();
        assert_eq!(
            f.targets,
            vec![WeightedTarget {
                target_group_arn: "tg-a".into(),
                weight: 1
            }]
        );

        let weighted = forward_action(
            Some(2),
            &Forward {
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
            },
        );
        let f = forward_of(&route(), &weighted).unwrap();
        assert_eq!(f.targets[1].weight, 10);
        assert_eq!(f.stickiness_seconds, Some(300));
    }

    #[test]
    fn actions_that_are_not_ours_are_written_back_as_read() {
        let oidc = Action::builder()
            .r#type(ActionTypeEnum::AuthenticateOidc)
            .order(1)
            .build();
        let forward = Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn("tg-a")
            .order(2)
            .build();
        let read = actions_of(&route(), &[forward, oidc.clone()]).unwrap();
        assert_eq!(read.foreign().count(), 1);
        let written = sdk_actions(&read).unwrap();
        assert_eq!(written[0], oidc, "sorted by order, kept as is");
        assert_eq!(written[1].order, Some(2));
    }
}
