use bluegreen_lambda::{Unused, ports_with};
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    bluegreen_lambda::init_tracing();
    let config = bluegreen_aws::sdk_config().await;
    let ports = ports_with(
        bluegreen_aws::ssm(&config),
        bluegreen_aws::elbv2(&config),
        bluegreen_aws::ecs(&config),
        Unused,
        bluegreen_aws::sfn(&config),
    );
    let alarms = bluegreen_aws::metrics(&config);
    lambda_runtime::run(service_fn(|event| {
        bluegreen_deploy_idle::handler_checking_alarms(&ports, &alarms, event)
    }))
    .await
}
