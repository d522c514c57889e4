use bluegreen_lambda::{Unused, ports_with};
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    bluegreen_lambda::init_tracing();
    let config = bluegreen_aws::sdk_config().await;
    let ports = ports_with(bluegreen_aws::ssm(&config), Unused, Unused, Unused, Unused);
    let http = bluegreen_smoke::http_client()?;
    lambda_runtime::run(service_fn(|event| {
        bluegreen_smoke_test::handler(&ports, &http, event)
    }))
    .await
}
