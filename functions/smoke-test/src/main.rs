use bluegreen_lambda::{Acting, Function, Unused, app_of, ports_with};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    bluegreen_lambda::init_tracing();
    // Per app, with the role the app made for this function: `{{ssm:}}`
    // values are read as that app, so only its own parameters are readable.
    let acting = Acting::new(
        Function::SmokeTest,
        bluegreen_aws::sdk_config().await,
        bluegreen_lambda::prefix(),
        |config| ports_with(bluegreen_aws::ssm(config), Unused, Unused, Unused, Unused),
    );
    let http = bluegreen_smoke::http_client()?;
    let (acting, http) = (&acting, &http);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        let ports = acting.for_app(&app_of(&event.payload)?).await?;
        bluegreen_smoke_test::handler(&*ports, http, event).await
    }))
    .await
}
