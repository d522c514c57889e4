//! The example app, provisioned in the emulator: a VPC, an ALB with a
//! production listener (and optionally a production rule), a test listener,
//! two target groups, an ECS cluster with two services, an alert topic with a
//! queue to read alerts from, and the app's config in SSM.

use aws_config::SdkConfig;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, FixedResponseActionConfig, RuleCondition, TargetDescription,
    TargetTypeEnum,
};
use aws_sdk_elasticloadbalancingv2::types::{LoadBalancerSchemeEnum, ProtocolEnum};
use bluegreen_core::Color;
use bluegreen_core::records::state::AppState;
use serde_json::{Value, json};

pub const PREFIX: &str = "/bluegreen";

/// The test listener's port on the load balancer (as the CDK example's).
pub const TEST_PORT: u16 = 8080;

#[derive(Debug, Clone)]
pub struct AppOptions {
    /// Move traffic with a listener rule instead of the default action.
    pub rule_based: bool,
    pub strategy: Value,
    /// The state to store before the test; `None` leaves no state at all.
    pub initial_state: Option<AppState>,
    pub healthy_blue: bool,
    pub healthy_green: bool,
    pub warm_window_seconds: u64,
    /// How long a failed release's color keeps its tasks before it is scaled
    /// back: seconds here, where AWS's default is an hour, so that a local
    /// execution ends soon after its release failed.
    pub failed_color_grace_seconds: u64,
    /// The config's `monitor` section.
    pub monitor: Value,
    /// The URL smoke tests use to reach the idle color (the test listener).
    pub test_url: String,
    /// An internal load balancer, as most teams' services have: the test
    /// URL is then its test listener by the load balancer's DNS name
    /// (`http://<dns name>:8080`, instead of `test_url`), which only the
    /// functions in the VPC reach (see `vpc`).
    pub private_test_listener: bool,
    /// Further top-level config fields (e.g. `deploy_timeout_seconds`).
    pub extra_config: Value,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            rule_based: false,
            strategy: json!({"type": "all-at-once", "bake_seconds": 60}),
            initial_state: Some(AppState::initial(Color::Blue, Some("v1".into()))),
            healthy_blue: true,
            healthy_green: true,
            warm_window_seconds: 86_400,
            failed_color_grace_seconds: 2,
            monitor: json!({}),
            test_url: "http://127.0.0.1:8080".to_string(),
            private_test_listener: false,
            extra_config: json!({}),
        }
    }
}

pub struct ExampleApp {
    pub name: String,
    pub sdk: SdkConfig,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub sfn: aws_sdk_sfn::Client,
    pub listener_arn: String,
    pub rule_arn: Option<String>,
    pub test_listener_arn: String,
    /// The load balancer's DNS name (private for an internal one).
    pub dns_name: String,
    pub blue_tg: String,
    pub green_tg: String,
    pub cluster: String,
    pub alert_topic_arn: String,
    pub alert_queue_url: String,
    pub config: Value,
}

impl ExampleApp {
    pub async fn provision(sdk: &SdkConfig, name: &str, options: AppOptions) -> ExampleApp {
        let sdk = sdk.clone();
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk);
        let ssm = aws_sdk_ssm::Client::new(&sdk);
        let ecs = aws_sdk_ecs::Client::new(&sdk);
        let sns = aws_sdk_sns::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let sfn = aws_sdk_sfn::Client::new(&sdk);

        let vpc = ec2
            .create_vpc()
            .cidr_block("10.0.0.0/16")
            .send()
            .await
            .expect("create vpc")
            .vpc
            .and_then(|v| v.vpc_id)
            .unwrap();
        // As CDK's VPCs have it (and moto's one-off tasks need it: without
        // DNS hostnames its RunTask fails on the task's network interface).
        ec2.modify_vpc_attribute()
            .vpc_id(&vpc)
            .enable_dns_hostnames(
                aws_sdk_ec2::types::AttributeBooleanValue::builder()
                    .value(true)
                    .build(),
            )
            .send()
            .await
            .expect("enable DNS hostnames");
        let mut subnets = vec![];
        for (i, az) in ["us-east-1a", "us-east-1b"].iter().enumerate() {
            let s = ec2
                .create_subnet()
                .vpc_id(&vpc)
                .cidr_block(format!("10.0.{i}.0/24"))
                .availability_zone(*az)
                .send()
                .await
                .expect("create subnet");
            subnets.push(s.subnet.and_then(|s| s.subnet_id).unwrap());
        }
        let security_group = ec2
            .create_security_group()
            .group_name(format!("{name}-tasks"))
            .description("the app's tasks")
            .vpc_id(&vpc)
            .send()
            .await
            .expect("create security group")
            .group_id
            .unwrap();
        // As the CDK's Fargate services have it: private subnets, the
        // tasks' security group. One-off tasks (migrations) copy it.
        let network = aws_sdk_ecs::types::NetworkConfiguration::builder()
            .awsvpc_configuration(
                aws_sdk_ecs::types::AwsVpcConfiguration::builder()
                    .set_subnets(Some(subnets.clone()))
                    .security_groups(&security_group)
                    .assign_public_ip(aws_sdk_ecs::types::AssignPublicIp::Disabled)
                    .build()
                    .expect("awsvpc configuration"),
            )
            .build();
        let lb = elb
            .create_load_balancer()
            .name(format!("{name}-alb"))
            .set_subnets(Some(subnets))
            .scheme(if options.private_test_listener {
                LoadBalancerSchemeEnum::Internal
            } else {
                LoadBalancerSchemeEnum::InternetFacing
            })
            .send()
            .await
            .expect("create load balancer");
        let lb_arn = lb.load_balancers()[0].load_balancer_arn.clone().unwrap();
        let dns_name = lb.load_balancers()[0].dns_name.clone().unwrap();
        let test_url = if options.private_test_listener {
            format!("http://{dns_name}:{TEST_PORT}")
        } else {
            options.test_url.clone()
        };

        let mut tgs = vec![];
        for color in ["blue", "green"] {
            let tg = elb
                .create_target_group()
                .name(format!("{name}-{color}"))
                .protocol(ProtocolEnum::Http)
                .port(8080)
                .vpc_id(&vpc)
                .target_type(TargetTypeEnum::Ip)
                .send()
                .await
                .expect("create target group");
            let arn = tg.target_groups()[0].target_group_arn.clone().unwrap();
            // The local data plane drains nothing: no deregistration delay
            // (AWS's default, 300 s, would stretch every warm window).
            elb.modify_target_group_attributes()
                .target_group_arn(&arn)
                .attributes(
                    aws_sdk_elasticloadbalancingv2::types::TargetGroupAttribute::builder()
                        .key("deregistration_delay.timeout_seconds")
                        .value("0")
                        .build(),
                )
                .send()
                .await
                .expect("target group attributes");
            tgs.push(arn);
        }
        let (blue_tg, green_tg) = (tgs[0].clone(), tgs[1].clone());

        let forward_to = |tg: &str| {
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn(tg)
                .build()
        };
        let not_found = Action::builder()
            .r#type(ActionTypeEnum::FixedResponse)
            .fixed_response_config(
                FixedResponseActionConfig::builder()
                    .status_code("404")
                    .content_type("text/plain")
                    .message_body("no route")
                    .build(),
            )
            .build();
        let production_default = if options.rule_based {
            not_found.clone()
        } else {
            forward_to(&blue_tg)
        };
        let listener_arn = elb
            .create_listener()
            .load_balancer_arn(&lb_arn)
            .protocol(ProtocolEnum::Http)
            .port(80)
            .default_actions(production_default)
            .send()
            .await
            .expect("create listener")
            .listeners()[0]
            .listener_arn
            .clone()
            .unwrap();
        let rule_arn = if options.rule_based {
            let rule = elb
                .create_rule()
                .listener_arn(&listener_arn)
                .priority(10)
                .conditions(
                    RuleCondition::builder()
                        .field("path-pattern")
                        .values("/*")
                        .build(),
                )
                .actions(forward_to(&blue_tg))
                .send()
                .await
                .expect("create rule");
            Some(rule.rules()[0].rule_arn.clone().unwrap())
        } else {
            None
        };
        let test_listener_arn = elb
            .create_listener()
            .load_balancer_arn(&lb_arn)
            .protocol(ProtocolEnum::Http)
            .port(TEST_PORT.into())
            .default_actions(forward_to(&green_tg))
            .send()
            .await
            .expect("create test listener")
            .listeners()[0]
            .listener_arn
            .clone()
            .unwrap();

        let cluster = format!("{name}-cluster");
        ecs.create_cluster()
            .cluster_name(&cluster)
            .send()
            .await
            .expect("create cluster");
        let task_def = ecs
            .register_task_definition()
            .family(name)
            .network_mode(aws_sdk_ecs::types::NetworkMode::Awsvpc)
            .requires_compatibilities(aws_sdk_ecs::types::Compatibility::Fargate)
            .cpu("256")
            .memory("512")
            .execution_role_arn("arn:aws:iam::123456789012:role/ecsTaskExecutionRole")
            .tags(
                aws_sdk_ecs::types::Tag::builder()
                    .key("team")
                    .value("payments")
                    .build(),
            )
            .container_definitions(
                aws_sdk_ecs::types::ContainerDefinition::builder()
                    .name("app")
                    .image(format!("example/{name}:v1"))
                    .essential(true)
                    // moto sizes tasks by their containers' memory.
                    .memory(512)
                    .log_configuration(
                        aws_sdk_ecs::types::LogConfiguration::builder()
                            .log_driver(aws_sdk_ecs::types::LogDriver::Awslogs)
                            .options("awslogs-group", format!("/ecs/{name}"))
                            .options("awslogs-region", super::emulator::REGION)
                            .options("awslogs-stream-prefix", name)
                            .build()
                            .expect("log configuration"),
                    )
                    .port_mappings(
                        aws_sdk_ecs::types::PortMapping::builder()
                            .container_port(8080)
                            .build(),
                    )
                    .environment(
                        aws_sdk_ecs::types::KeyValuePair::builder()
                            .name("LOG_LEVEL")
                            .value("info")
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .expect("register task definition")
            .task_definition
            .and_then(|t| t.task_definition_arn)
            .unwrap();
        for (color, tg) in [("blue", &blue_tg), ("green", &green_tg)] {
            ecs.create_service()
                .cluster(&cluster)
                .service_name(format!("{name}-{color}"))
                .task_definition(&task_def)
                .desired_count(2)
                .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
                .network_configuration(network.clone())
                .load_balancers(
                    aws_sdk_ecs::types::LoadBalancer::builder()
                        .target_group_arn(tg)
                        .container_name("app")
                        .container_port(8080)
                        .build(),
                )
                .send()
                .await
                .expect("create service");
        }

        let alert_topic_arn = sns
            .create_topic()
            .name(format!("{name}-alerts"))
            .send()
            .await
            .expect("create topic")
            .topic_arn
            .unwrap();
        let alert_queue_url = sqs
            .create_queue()
            .queue_name(format!("{name}-alerts"))
            .send()
            .await
            .expect("create queue")
            .queue_url
            .unwrap();
        let queue_arn = format!("arn:aws:sqs:us-east-1:123456789012:{name}-alerts");
        sns.subscribe()
            .topic_arn(&alert_topic_arn)
            .protocol("sqs")
            .endpoint(&queue_arn)
            .attributes("RawMessageDelivery", "true")
            .send()
            .await
            .expect("subscribe queue");

        let mut production = json!({"listener_arn": listener_arn});
        if let Some(rule) = &rule_arn {
            production["rule_arn"] = json!(rule);
        }
        let config = json!({
            "app": name,
            "cluster": cluster,
            "blue": {"service": format!("{name}-blue"), "target_group_arn": blue_tg},
            "green": {"service": format!("{name}-green"), "target_group_arn": green_tg},
            "production": production,
            "test": {"listener_arn": test_listener_arn, "url": test_url},
            "strategy": options.strategy,
            "warm_window_seconds": options.warm_window_seconds,
            "failed_color_grace_seconds": options.failed_color_grace_seconds,
            "monitor": options.monitor,
            "alert_topic_arn": alert_topic_arn,
        });
        let mut config = config;
        for (k, v) in options.extra_config.as_object().into_iter().flatten() {
            config[k] = v.clone();
        }
        ssm.put_parameter()
            .name(format!("{PREFIX}/{name}/config"))
            .value(config.to_string())
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .send()
            .await
            .expect("put config");

        let app = ExampleApp {
            name: name.to_string(),
            sdk,
            elb,
            ssm,
            ecs,
            sqs,
            sfn,
            listener_arn,
            rule_arn,
            test_listener_arn,
            dns_name,
            blue_tg,
            green_tg,
            cluster,
            alert_topic_arn,
            alert_queue_url,
            config,
        };
        if let Some(state) = &options.initial_state {
            app.put_state(state).await;
        }
        app.set_healthy(Color::Blue, options.healthy_blue).await;
        app.set_healthy(Color::Green, options.healthy_green).await;
        app
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

    /// Registers two IP targets (moto reports them healthy) or removes all.
    pub async fn set_healthy(&self, color: Color, healthy: bool) {
        let tg = self.target_group(color);
        let octet = if color == Color::Blue { 1 } else { 2 };
        let targets: Vec<TargetDescription> = (10..12)
            .map(|i| {
                TargetDescription::builder()
                    .id(format!("10.0.{}.{i}", octet - 1))
                    .port(8080)
                    .build()
            })
            .collect();
        if healthy {
            self.elb
                .register_targets()
                .target_group_arn(tg)
                .set_targets(Some(targets))
                .send()
                .await
                .expect("register targets");
        } else {
            let registered: Vec<TargetDescription> = self
                .elb
                .describe_target_health()
                .target_group_arn(tg)
                .send()
                .await
                .expect("describe target health")
                .target_health_descriptions()
                .iter()
                .filter_map(|d| d.target.clone())
                .collect();
            if !registered.is_empty() {
                self.elb
                    .deregister_targets()
                    .target_group_arn(tg)
                    .set_targets(Some(registered))
                    .send()
                    .await
                    .expect("deregister targets");
            }
        }
    }

    pub async fn put_state(&self, state: &AppState) {
        for (leaf, value) in [
            ("state", serde_json::to_string(state).unwrap()),
            ("active-environment", state.active_color.to_string()),
        ] {
            self.ssm
                .put_parameter()
                .name(format!("{PREFIX}/{}/{leaf}", self.name))
                .value(value)
                .r#type(aws_sdk_ssm::types::ParameterType::String)
                .overwrite(true)
                .send()
                .await
                .expect("put state");
        }
    }

    /// The parameter store adapter and prefix, as the Lambdas build them.
    pub fn ports(&self) -> bluegreen_aws::AwsPorts {
        bluegreen_aws::ports(&self.sdk, PREFIX)
    }
}
