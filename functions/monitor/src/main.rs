use bluegreen_aws::{CloudWatchMetrics, SsmParameters};
use bluegreen_lambda::{Acting, Function, Hooks, app_of};
use bluegreen_monitor::{HttpProber, SystemClock};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

bluegreen_core::capabilities! {
    /// What the monitor reads: the app's records, its metrics and alarms,
    /// the version probes, and time.
    struct MonitorAws {
        params: SsmParameters => ParameterStore,
        metrics: CloudWatchMetrics => Metrics & Alarms,
        prober: HttpProber => VersionProber,
        clock: SystemClock => Clock,
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    bluegreen_lambda::init_tracing();
    let prober = HttpProber::new();
    let hooks_http = bluegreen_lambda::HookHttp::default();
    // Per app, with the role the app made for this function.
    let acting = Acting::new(
        Function::Monitor,
        bluegreen_aws::sdk_config().await,
        bluegreen_lambda::prefix(),
        move |config| {
            (
                MonitorAws {
                    params: bluegreen_aws::ssm(config),
                    metrics: bluegreen_aws::metrics(config),
                    prober: prober.clone(),
                    clock: SystemClock,
                    prefix: bluegreen_lambda::prefix(),
                },
                // Lambda hooks are invoked with the app's role too.
                Hooks::new(hooks_http.clone(), config),
            )
        },
    );
    let acting = &acting;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        let acting_for_app = acting.for_app(&app_of(&event.payload)?).await?;
        let (aws, hooks) = &*acting_for_app;
        bluegreen_monitor::handler(aws, hooks, event).await
    }))
    .await
}
