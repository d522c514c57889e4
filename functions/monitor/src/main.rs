use bluegreen_monitor::{HttpProber, Signals};
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    bluegreen_lambda::init_tracing();
    let config = bluegreen_aws::sdk_config().await;
    let ports = bluegreen_aws::ports(&config, bluegreen_lambda::prefix());
    let signals = Signals {
        metrics: bluegreen_aws::metrics(&config),
        prober: HttpProber::new(),
    };
    lambda_runtime::run(service_fn(|event| {
        bluegreen_monitor::handler(&ports, &signals, event)
    }))
    .await
}
