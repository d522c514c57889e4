use bluegreen_lambda::{Unused, ports_with};
use bluegreen_monitor::{HttpProber, Signals, SystemClock};
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    bluegreen_lambda::init_tracing();
    let config = bluegreen_aws::sdk_config().await;
    let ports = ports_with(bluegreen_aws::ssm(&config), Unused, Unused, Unused, Unused);
    let signals = Signals {
        metrics: bluegreen_aws::metrics(&config),
        prober: HttpProber::new(),
        clock: SystemClock,
    };
    lambda_runtime::run(service_fn(|event| {
        bluegreen_monitor::handler(&ports, &signals, event)
    }))
    .await
}
