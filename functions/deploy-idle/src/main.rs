use bluegreen_core::capabilities::WithSignals;
use bluegreen_lambda::{Acting, Function, app_of, ports_with};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    bluegreen_lambda::init_tracing();
    // Per app, with the role the app made for this function.
    let acting = Acting::new(
        Function::DeployIdle,
        bluegreen_aws::sdk_config().await,
        bluegreen_lambda::prefix(),
        |config| {
            let ports = ports_with(
                bluegreen_aws::ssm(config),
                bluegreen_aws::elbv2(config),
                bluegreen_aws::ecs(config),
                // Scale-down alerts when the warm window ends on drift.
                bluegreen_aws::sns(config),
                bluegreen_aws::sfn(config),
            );
            (ports, bluegreen_aws::metrics(config))
        },
    );
    let acting = &acting;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        let app = acting.for_app(&app_of(&event.payload)?).await?;
        let (ports, alarms) = &*app;
        let aws = WithSignals {
            ports,
            signals: alarms,
        };
        bluegreen_deploy_idle::handler_checking_alarms(&aws, event).await
    }))
    .await
}
