use bluegreen_aws::SsmParameters;
use bluegreen_lambda::{Acting, Function, app_of};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

bluegreen_core::capabilities! {
    /// What the smoke tests read: `{{ssm:…}}` values, nothing else.
    struct SmokeTestAws {
        params: SsmParameters => ParameterStore,
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    bluegreen_lambda::init_tracing();
    // Per app, with the role the app made for this function: `{{ssm:}}`
    // values are read as that app, so only its own parameters are readable.
    let acting = Acting::new(
        Function::SmokeTest,
        bluegreen_aws::sdk_config().await,
        bluegreen_lambda::prefix(),
        |config| SmokeTestAws {
            params: bluegreen_aws::ssm(config),
            prefix: bluegreen_lambda::prefix(),
        },
    );
    let http = bluegreen_smoke::http_client()?;
    let (acting, http) = (&acting, &http);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        let aws = acting.for_app(&app_of(&event.payload)?).await?;
        bluegreen_smoke_test::handler(&*aws, http, event).await
    }))
    .await
}
