use bluegreen_aws::SsmParameters;
use bluegreen_lambda::{Acting, Function, Hooks, app_of};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

bluegreen_core::capabilities! {
    /// What the smoke tests read: `{{ssm:…}}` values and the hooks' secret.
    struct SmokeTestAws {
        params: SsmParameters => ParameterStore,
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    bluegreen_lambda::init_tracing();
    // Per app, with the role the app made for this function: `{{ssm:}}`
    // values are read as that app, so only its own parameters are readable.
    let hooks_http = bluegreen_lambda::HookHttp::default();
    let acting = Acting::new(
        Function::SmokeTest,
        bluegreen_aws::sdk_config().await,
        bluegreen_lambda::prefix(),
        move |config| {
            (
                SmokeTestAws {
                    params: bluegreen_aws::ssm(config),
                    prefix: bluegreen_lambda::prefix(),
                },
                // Lambda hooks are invoked with the app's role too.
                Hooks::new(hooks_http.clone(), config),
            )
        },
    );
    let http = bluegreen_smoke::http_client()?;
    let (acting, http) = (&acting, &http);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        let acting_for_app = acting.for_app(&app_of(&event.payload)?).await?;
        let (aws, hooks) = &*acting_for_app;
        bluegreen_smoke_test::handler(aws, hooks, http, event).await
    }))
    .await
}
