use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    bluegreen_lambda::init_tracing();
    let ports = bluegreen_lambda::aws_ports().await;
    let http = bluegreen_smoke::http_client()?;
    lambda_runtime::run(service_fn(|event| {
        bluegreen_smoke_test::handler(&ports, &http, event)
    }))
    .await
}
