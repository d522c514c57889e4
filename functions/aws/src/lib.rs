//! Adapters that implement `bluegreen-core`'s ports with the AWS SDK.

mod cloudwatch;
mod ecs;
mod elbv2;
mod error;
mod sfn;
mod sns;
mod ssm;

pub use cloudwatch::CloudWatchMetrics;
pub use ecs::EcsServices;
pub use elbv2::Elbv2;
pub use sfn::SfnExecutions;
pub use sns::SnsAlerts;
pub use ssm::SsmParameters;

use aws_config::SdkConfig;
use bluegreen_core::ports::Ports;

pub type AwsPorts = Ports<SsmParameters, Elbv2, EcsServices, SnsAlerts, SfnExecutions>;

/// The parameter-store adapter.
pub fn ssm(config: &SdkConfig) -> SsmParameters {
    SsmParameters::new(aws_sdk_ssm::Client::new(config))
}

/// The load-balancer adapter.
pub fn elbv2(config: &SdkConfig) -> Elbv2 {
    Elbv2::new(aws_sdk_elasticloadbalancingv2::Client::new(config))
}

/// The ECS adapter.
pub fn ecs(config: &SdkConfig) -> EcsServices {
    EcsServices::new(
        aws_sdk_ecs::Client::new(config),
        aws_sdk_applicationautoscaling::Client::new(config),
    )
}

/// The alerts adapter (SNS).
pub fn sns(config: &SdkConfig) -> SnsAlerts {
    SnsAlerts::new(aws_sdk_sns::Client::new(config))
}

/// The Step Functions adapter.
pub fn sfn(config: &SdkConfig) -> SfnExecutions {
    SfnExecutions::new(aws_sdk_sfn::Client::new(config))
}

/// Builds every adapter from one SDK config. Client construction is cheap and
/// does no I/O; do it once per process, not per invocation.
pub fn ports(config: &SdkConfig, prefix: impl Into<String>) -> AwsPorts {
    Ports {
        params: ssm(config),
        lb: elbv2(config),
        services: ecs(config),
        alerts: sns(config),
        executions: sfn(config),
        prefix: prefix.into(),
    }
}

/// The SDK config from the environment (Lambda's role, `AWS_ENDPOINT_URL` for
/// the local emulator, ...), with every call's time bounded ([`timeouts`]).
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts())
        .load()
        .await
}

/// How long one attempt of a call may take before the SDK gives it up and
/// retries it (its standard retries: three attempts in all).
pub const CALL_ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long a call may take, its retries included.
pub const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Every call's time bounds. The SDK sets none but the connect timeout: a
/// request whose answer never comes would be waited on for as long as the
/// function may run. A rollback would spend its three minutes on one hung
/// call, and then decide from what it read minutes before (the simulation
/// met this: one of two target-health reads made together hung while the
/// autoscaler scaled the other color in). With these bounds a hung attempt
/// costs [`CALL_ATTEMPT_TIMEOUT`] and is retried.
pub fn timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_millis(3100))
        .operation_attempt_timeout(CALL_ATTEMPT_TIMEOUT)
        .operation_timeout(CALL_TIMEOUT)
        .build()
}

/// The CloudWatch adapter, for the monitor.
pub fn metrics(config: &SdkConfig) -> CloudWatchMetrics {
    CloudWatchMetrics::new(aws_sdk_cloudwatch::Client::new(config))
}
