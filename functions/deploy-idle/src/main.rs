use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    bluegreen_lambda::init_tracing();
    let ports = bluegreen_lambda::aws_ports().await;
    lambda_runtime::run(service_fn(|event| {
        bluegreen_deploy_idle::handler(&ports, event)
    }))
    .await
}
