use bluegreen_lambda::{Acting, Function, HandlerError, Hooks};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    bluegreen_lambda::init_tracing();
    // Per app, with the role the app made for this function: the first
    // rollback of an app in a warm function reads its config and assumes the
    // role once; later ones reuse both.
    // The `on-rollback` hooks go out with the app's role too.
    let http = bluegreen_lambda::HookHttp::default();
    let acting = Acting::new(
        Function::Rollback,
        bluegreen_aws::sdk_config().await,
        bluegreen_lambda::prefix(),
        move |config| {
            (
                bluegreen_aws::ports(config, bluegreen_lambda::prefix()),
                Hooks::new(http.clone(), config),
            )
        },
    );
    // The emergency path's connections, opened before anyone waits.
    acting.warm_up().await;
    let acting = &acting;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        if bluegreen_rollback::ignored(&event.payload) {
            return Ok(bluegreen_rollback::RollbackResponse::Many(vec![]));
        }
        let app = bluegreen_rollback::app_of(&event.payload).map_err(HandlerError::from)?;
        let acting_for_app = acting.for_app(&app).await?;
        let (ports, hooks) = &*acting_for_app;
        bluegreen_rollback::handler(ports, hooks, event).await
    }))
    .await
}
