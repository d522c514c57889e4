use bluegreen_aws::{EcsServices, Elbv2, SsmParameters};
use bluegreen_lambda::{Acting, Function, HttpHooks, app_of};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

bluegreen_core::capabilities! {
    /// What the switch calls, as the app's role.
    struct SwitchAws {
        params: SsmParameters => ParameterStore,
        lb: Elbv2 => LoadBalancer,
        // ECS says what each color runs: the switch checks it before moving traffic.
        services: EcsServices => Services,
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    bluegreen_lambda::init_tracing();
    // Per app, with the role the app made for this function.
    let chat_http = bluegreen_lambda::HookHttp::default();
    let acting = Acting::new(
        Function::Switch,
        bluegreen_aws::sdk_config().await,
        bluegreen_lambda::prefix(),
        move |config| {
            (
                SwitchAws {
                    params: bluegreen_aws::ssm(config),
                    lb: bluegreen_aws::elbv2(config),
                    services: bluegreen_aws::ecs(config),
                    prefix: bluegreen_lambda::prefix(),
                },
                // Chat notices (a release waits at a gate).
                HttpHooks::new(chat_http.clone()),
            )
        },
    );
    let acting = &acting;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        let acting_for_app = acting.for_app(&app_of(&event.payload)?).await?;
        let (aws, chat) = &*acting_for_app;
        bluegreen_switch::entry(aws, chat, event).await
    }))
    .await
}
