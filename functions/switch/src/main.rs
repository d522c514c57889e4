use bluegreen_lambda::{Unused, ports_with};
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    bluegreen_lambda::init_tracing();
    let config = bluegreen_aws::sdk_config().await;
    let ports = ports_with(
        bluegreen_aws::ssm(&config),
        bluegreen_aws::elbv2(&config),
        // ECS says what each color runs: the switch checks it before moving traffic.
        bluegreen_aws::ecs(&config),
        Unused,
        Unused,
    );
    lambda_runtime::run(service_fn(|event| bluegreen_switch::handler(&ports, event))).await
}
