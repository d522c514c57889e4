use bluegreen_lambda::{Acting, Function, Unused, app_of, ports_with};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    bluegreen_lambda::init_tracing();
    // Per app, with the role the app made for this function.
    let acting = Acting::new(
        Function::Switch,
        bluegreen_aws::sdk_config().await,
        bluegreen_lambda::prefix(),
        |config| {
            ports_with(
                bluegreen_aws::ssm(config),
                bluegreen_aws::elbv2(config),
                // ECS says what each color runs: the switch checks it before moving traffic.
                bluegreen_aws::ecs(config),
                Unused,
                Unused,
            )
        },
    );
    let acting = &acting;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        let ports = acting.for_app(&app_of(&event.payload)?).await?;
        bluegreen_switch::handler(&*ports, event).await
    }))
    .await
}
