use bluegreen_aws::{
    CloudWatchMetrics, EcsServices, Elbv2, SfnExecutions, SnsAlerts, SsmParameters,
};
use bluegreen_lambda::{Acting, Function, HttpHooks, app_of};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

bluegreen_core::capabilities! {
    /// What deploy-idle calls, as the app's role.
    struct DeployIdleAws {
        params: SsmParameters => ParameterStore,
        lb: Elbv2 => LoadBalancer,
        services: EcsServices => Services,
        // Scale-down alerts when the warm window ends on drift.
        alerts: SnsAlerts => Alerts,
        executions: SfnExecutions => Executions,
        // A release does not start while one of the app's alarms fires.
        alarms: CloudWatchMetrics => Alarms,
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    bluegreen_lambda::init_tracing();
    // Per app, with the role the app made for this function.
    let chat_http = bluegreen_lambda::HookHttp::default();
    let acting = Acting::new(
        Function::DeployIdle,
        bluegreen_aws::sdk_config().await,
        bluegreen_lambda::prefix(),
        move |config| {
            (
                DeployIdleAws {
                    params: bluegreen_aws::ssm(config),
                    lb: bluegreen_aws::elbv2(config),
                    services: bluegreen_aws::ecs(config),
                    alerts: bluegreen_aws::sns(config),
                    executions: bluegreen_aws::sfn(config),
                    alarms: bluegreen_aws::metrics(config),
                    prefix: bluegreen_lambda::prefix(),
                },
                // Chat notices (release started, aborted).
                HttpHooks::new(chat_http.clone()),
            )
        },
    );
    let acting = &acting;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        let acting_for_app = acting.for_app(&app_of(&event.payload)?).await?;
        let (aws, chat) = &*acting_for_app;
        bluegreen_deploy_idle::handler_checking_alarms(aws, chat, event).await
    }))
    .await
}
