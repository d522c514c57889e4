use bluegreen_lambda::{Acting, Function, Unused, app_of, ports_with};
use bluegreen_monitor::{HttpProber, Signals, SystemClock, WithSignals};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    bluegreen_lambda::init_tracing();
    let prober = HttpProber::new();
    // Per app, with the role the app made for this function.
    let acting = Acting::new(
        Function::Monitor,
        bluegreen_aws::sdk_config().await,
        bluegreen_lambda::prefix(),
        move |config| {
            let ports = ports_with(bluegreen_aws::ssm(config), Unused, Unused, Unused, Unused);
            let signals = Signals {
                metrics: bluegreen_aws::metrics(config),
                prober: prober.clone(),
                clock: SystemClock,
            };
            (ports, signals)
        },
    );
    let acting = &acting;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        let app = acting.for_app(&app_of(&event.payload)?).await?;
        let (ports, signals) = &*app;
        bluegreen_monitor::handler(&WithSignals { ports, signals }, event).await
    }))
    .await
}
