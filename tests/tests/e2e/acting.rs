//! Acting for an app, against the emulator's SSM and STS: a function reads
//! the app's config with its own credentials, then calls AWS as the role the
//! config names for it, and keeps those adapters for the next request.

use std::sync::Arc;

use bluegreen_e2e::{AppOptions, Emulator, EmulatorOptions, ExampleApp, PREFIX};
use bluegreen_lambda::{Acting, Function};
use serde_json::{Value, json};

async fn identity(sts: &aws_sdk_sts::Client) -> String {
    sts.get_caller_identity()
        .send()
        .await
        .expect("who am I")
        .arn()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_calls_aws_as_the_role_the_apps_config_names_for_it() {
    let emulator = Emulator::start(EmulatorOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let sdk = emulator.sdk_config().await;
    let web = ExampleApp::provision(&sdk, "web", AppOptions::default()).await;
    ExampleApp::provision(&sdk, "plain", AppOptions::default()).await;
    let roles = json!({
        "deploy_idle": "arn:aws:iam::123456789012:role/bluegreen/x/web-deploy-idle",
        "smoke_test": "arn:aws:iam::123456789012:role/bluegreen/x/web-smoke-test",
        "switch": "arn:aws:iam::123456789012:role/bluegreen/x/web-switch",
        "monitor": "arn:aws:iam::123456789012:role/bluegreen/x/web-monitor",
        "rollback": "arn:aws:iam::123456789012:role/bluegreen/x/web-rollback",
    });
    let name = format!("{PREFIX}/web/config");
    let mut config: Value = serde_json::from_str(
        &web.ssm
            .get_parameter()
            .name(&name)
            .send()
            .await
            .unwrap()
            .parameter
            .unwrap()
            .value
            .unwrap(),
    )
    .unwrap();
    config["roles"] = roles;
    web.ssm
        .put_parameter()
        .name(&name)
        .value(config.to_string())
        .overwrite(true)
        .send()
        .await
        .unwrap();

    let acting = Acting::new(Function::Switch, sdk.clone(), PREFIX.to_string(), |c| {
        aws_sdk_sts::Client::new(c)
    });
    let as_web = acting.for_app("web").await.expect("acts for web");
    assert_eq!(
        identity(&as_web).await,
        "arn:aws:sts::123456789012:assumed-role/web-switch/bluegreen-switch-web"
    );
    // Kept for the next request.
    assert!(Arc::ptr_eq(&as_web, &acting.for_app("web").await.unwrap()));

    // An app whose config names no roles: the function's own credentials.
    let own = identity(&acting.for_app("plain").await.unwrap()).await;
    assert!(!own.contains("assumed-role"), "{own}");

    // Refused before anything is done for them.
    for (app, error_type) in [("nobody", "UnknownApp"), ("../web", "BadInput")] {
        let Err(err) = acting.for_app(app).await else {
            panic!("{app} was not refused")
        };
        assert_eq!(err.error_type(), error_type, "{app}: {err}");
    }
}
