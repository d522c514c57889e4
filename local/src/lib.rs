//! Local mode: the whole pipeline on one machine, with no AWS account. The
//! emulator (moto) runs the real state machine from `cdk/state-machine.asl.json`;
//! the five Lambdas run in-process behind the Lambda invoke API; sample app
//! versions run as local HTTP servers behind locally played listeners.
//! The local demo and the end-to-end tests are both built on this.

pub mod dataplane;
pub mod demo;
pub mod emulator;
pub mod ended;
pub mod example;
pub mod inspect;
pub mod lambda_host;
pub mod one_off;
pub mod sample;
pub mod stops;
pub mod up;
pub mod vpc;

use std::collections::HashMap;
use std::sync::Arc;

use aws_config::SdkConfig;
use bluegreen_core::Color;
use serde_json::{Value, json};

use dataplane::{Listener, LocalCluster, LocalListener};
use emulator::{Emulator, EmulatorOptions};
use example::{AppOptions, ExampleApp, PREFIX};
use lambda_host::LambdaHost;

/// The state machine exactly as CDK synthesizes it (checked in; a CDK test
/// fails when it drifts).
pub const STATE_MACHINE: &str = include_str!("../../cdk/state-machine.asl.json");

/// The emulator, the Lambda host and the state machine, ready for releases.
pub struct Local {
    pub emulator: Emulator,
    pub host: LambdaHost,
    /// Talks to the Lambda host's port, which passes through to moto: so the
    /// local cluster sees every `UpdateService`.
    pub sdk: SdkConfig,
    pub sfn: aws_sdk_sfn::Client,
    pub emergency_topic_arn: String,
    /// Each app's own state machine (as `BlueGreenApp` makes one per app).
    state_machines: std::sync::Mutex<HashMap<String, String>>,
    fast: bool,
}

impl Local {
    /// `fast` shortens the state machine's fixed waits (the poll for the idle
    /// color) to one second.
    pub async fn start(fast: bool) -> Result<Local, String> {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let lambda_port = socket.local_addr().map_err(|e| e.to_string())?.port();
        let emulator = Emulator::start(EmulatorOptions {
            lambda_port: Some(lambda_port),
        })?;
        let moto_sdk = emulator.sdk_config().await;
        let sdk = moto_sdk
            .to_builder()
            .endpoint_url(format!("http://127.0.0.1:{lambda_port}"))
            .build();
        let host = LambdaHost::start(socket, &sdk, PREFIX, &emulator.endpoint)
            .map_err(|e| format!("lambda host: {e}"))?;
        let sfn = aws_sdk_sfn::Client::new(&sdk);

        // The emergency topic, delivering to the rollback Lambda as SNS would.
        let sns = aws_sdk_sns::Client::new(&sdk);
        let emergency_topic_arn = sns
            .create_topic()
            .name("bluegreen-emergency")
            .send()
            .await
            .map_err(|e| format!("create topic: {e:?}"))?
            .topic_arn
            .unwrap_or_default();
        sns.subscribe()
            .topic_arn(&emergency_topic_arn)
            .protocol("http")
            .endpoint(format!("http://127.0.0.1:{lambda_port}/sns/rollback"))
            .send()
            .await
            .map_err(|e| format!("subscribe rollback: {e:?}"))?;

        Ok(Local {
            emulator,
            host,
            sdk,
            sfn,
            emergency_topic_arn,
            state_machines: Default::default(),
            fast,
        })
    }

    /// The app's own state machine (created with the app).
    pub fn state_machine_arn(&self, app: &str) -> String {
        self.state_machines
            .lock()
            .expect("state machines")
            .get(app)
            .cloned()
            .unwrap_or_else(|| panic!("no local app `{app}`: create it with Local::app first"))
    }

    /// Every event of an execution's history, oldest first (as the CLI's
    /// timeline reads it).
    pub async fn execution_history(
        &self,
        arn: &str,
    ) -> Result<Vec<aws_sdk_sfn::types::HistoryEvent>, String> {
        bluegreen_action::timeline::history(&self.sfn, arn).await
    }

    /// Provisions an app whose two colors run as local sample apps behind
    /// local production and test listeners.
    pub async fn app(&self, name: &str, options: AppOptions) -> Result<LocalApp, String> {
        self.app_with(name, options, HashMap::new()).await
    }

    /// As [`Local::app`], with some colors served by the user's own app at
    /// a URL instead of sample apps.
    pub async fn app_with(
        &self,
        name: &str,
        mut options: AppOptions,
        own: HashMap<Color, String>,
    ) -> Result<LocalApp, String> {
        let production = LocalListener::bind().await.map_err(|e| e.to_string())?;
        // An internal load balancer's test listener has a private address
        // only the VPC's functions reach by its name; else any local port.
        let (test, private_ip) = if options.private_test_listener {
            let (listener, ip) = vpc::bind_private(example::TEST_PORT)
                .await
                .map_err(|e| format!("bind the private test listener: {e}"))?;
            let url = format!("http://{ip}:{}", example::TEST_PORT);
            ((listener, url), Some(ip))
        } else {
            (
                LocalListener::bind().await.map_err(|e| e.to_string())?,
                None,
            )
        };
        options.test_url = test.1.clone();
        if let Some(monitor) = options.monitor.as_object_mut()
            && !monitor.contains_key("probe_url")
        {
            monitor.insert(
                "probe_url".into(),
                json!(format!("{}/checkout", production.1)),
            );
        }
        // The cluster, not the harness, registers targets once tasks run.
        options.healthy_blue = false;
        options.healthy_green = false;
        let app = Arc::new(ExampleApp::provision(&self.sdk, name, options).await);
        if let Some(ip) = private_ip {
            self.host.vpc.add(&app.dns_name, ip);
        }
        let state_machine_arn = self
            .sfn
            .create_state_machine()
            .name(format!("bluegreen-{name}"))
            .role_arn("arn:aws:iam::123456789012:role/bluegreen-state-machine")
            .definition(state_machine_definition(name, self.fast)?)
            .send()
            .await
            .map_err(|e| format!("create the state machine of {name}: {e:?}"))?
            .state_machine_arn;
        self.state_machines
            .lock()
            .expect("state machines")
            .insert(name.to_string(), state_machine_arn.clone());
        app.ssm
            .put_parameter()
            .name(format!("{PREFIX}/{name}/smoke-tests"))
            .value(SMOKE_TESTS)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .map_err(|e| format!("store smoke tests: {e:?}"))?;
        // The app's rule for executions that end without releasing.
        let rule_task = tokio::spawn(ended::play_rule(
            self.sfn.clone(),
            state_machine_arn.clone(),
            self.host.port,
        ));
        let (cluster, cluster_task) = LocalCluster::start_with(app.clone(), own);
        cluster.reconcile_now().await;
        let hook = cluster.clone();
        self.host.on_service_update(Arc::new(move || {
            let c = hook.clone();
            Box::pin(async move { c.reconcile_now().await })
        }));
        let production_url = production.1.clone();
        let production = LocalListener::serve(
            production,
            app.clone(),
            Listener::Production,
            cluster.running.clone(),
        );
        let test = LocalListener::serve(test, app.clone(), Listener::Test, cluster.running.clone());
        Ok(LocalApp {
            app,
            state_machine_arn,
            cluster,
            production,
            test,
            production_url,
            _cluster_task: AbortOnDrop(cluster_task),
            _rule_task: AbortOnDrop(rule_task),
        })
    }

    /// Starts an execution for `version` of `app`, named as the action names
    /// them (unique per app, version and attempt). `overrides` goes into the
    /// execution input as is.
    pub async fn start_release(
        &self,
        app: &str,
        version: &str,
        attempt: u32,
        overrides: Option<Value>,
    ) -> Result<String, String> {
        let mut input = release_input(app, version);
        if let Some(o) = overrides {
            input["overrides"] = o;
        }
        self.sfn
            .start_execution()
            .state_machine_arn(self.state_machine_arn(app))
            .name(format!("{app}-{version}-{attempt}"))
            .input(input.to_string())
            .send()
            .await
            .map(|o| o.execution_arn)
            .map_err(|e| format!("start execution: {e:?}"))
    }

    /// Publishes the emergency message, as an operator would.
    pub async fn emergency_rollback(&self, app: &str, reason: &str) -> Result<(), String> {
        aws_sdk_sns::Client::new(&self.sdk)
            .publish()
            .topic_arn(&self.emergency_topic_arn)
            .message(
                json!({"app": app, "reason": reason, "requested_by": "local demo"}).to_string(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("publish: {e:?}"))
    }
}

/// An app running locally: the emulator's resources plus the sample apps
/// and listeners that serve its traffic.
pub struct LocalApp {
    pub app: Arc<ExampleApp>,
    /// The app's own state machine: it releases this app only.
    pub state_machine_arn: String,
    pub cluster: LocalCluster,
    pub production: LocalListener,
    pub test: LocalListener,
    pub production_url: String,
    _cluster_task: AbortOnDrop,
    _rule_task: AbortOnDrop,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The example app's smoke tests: what the idle color must pass through the
/// test listener before it gets any production traffic.
pub const SMOKE_TESTS: &str = r#"tests:
  - name: Health
    url: "{{base_url}}/health"
    expect_status: 200
  - name: Version
    url: "{{base_url}}/version"
    expect_status: 200
    expect_body_contains: '"version"'
"#;

pub fn release_input(app: &str, version: &str) -> Value {
    json!({
        "app": app,
        "release": {"version": version, "image": format!("example/{app}:{version}")},
    })
}

/// The checked-in definition (the example app's state machine) for `app`:
/// its first state admits inputs naming `app` only, as each app's state
/// machine on AWS does. With `fast`, fixed waits become one second.
pub fn state_machine_definition(app: &str, fast: bool) -> Result<String, String> {
    let mut asl: Value =
        serde_json::from_str(STATE_MACHINE).map_err(|e| format!("state machine JSON: {e}"))?;
    let guard = asl["States"]["ForApp"]["Choices"][0]["And"][1]
        .as_object_mut()
        .filter(|rule| rule.contains_key("StringEquals"))
        .ok_or("state machine JSON: no ForApp state comparing $.app")?;
    guard.insert("StringEquals".into(), json!(app));
    asl["States"]["ForApp"]["Comment"] = json!(format!("releases {app} only"));
    asl["States"]["NotThisApp"]["Cause"] = json!(format!(
        "this state machine releases {app} only: start the state machine of the app the input names"
    ));
    // The in-process rollback runs in milliseconds, with no 3-minute Lambda
    // timeout to wait out: the contract settles for 2 s here.
    if let Some(settle) = asl["States"]["Contract"]["Parameters"].get_mut("settle_seconds") {
        *settle = json!(2);
    }
    if fast && let Some(states) = asl["States"].as_object_mut() {
        for state in states.values_mut() {
            if state["Type"] == "Wait" && state.get("Seconds").is_some() {
                state["Seconds"] = json!(1);
            }
        }
    }
    Ok(asl.to_string())
}
