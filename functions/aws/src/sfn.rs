//! [`Executions`] on Step Functions.

use aws_sdk_sfn::Client;
use aws_sdk_sfn::types::ExecutionStatus as SfnStatus;
use bluegreen_core::ports::{ExecutionInfo, ExecutionStatus, Executions, PortResult};

use crate::error::port_error;

#[derive(Clone)]
pub struct SfnExecutions {
    client: Client,
}

impl SfnExecutions {
    pub fn new(client: Client) -> Self {
        SfnExecutions { client }
    }
}

/// Step Functions limits a stop cause to 32768 characters.
const MAX_CAUSE: usize = 32_768;

impl Executions for SfnExecutions {
    async fn execution(&self, execution_arn: &str) -> PortResult<ExecutionInfo> {
        match self
            .client
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await
        {
            Ok(out) => Ok(ExecutionInfo {
                status: if out.status == SfnStatus::Running {
                    ExecutionStatus::Running
                } else {
                    ExecutionStatus::Finished
                },
                input: out.input,
            }),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_execution_does_not_exist() || s.is_invalid_arn()) =>
            {
                Ok(ExecutionInfo {
                    status: ExecutionStatus::Missing,
                    input: None,
                })
            }
            Err(e) => Err(port_error("states:DescribeExecution", e)),
        }
    }

    async fn stop(&self, execution_arn: &str, cause: &str) -> PortResult<()> {
        let cause: String = cause.chars().take(MAX_CAUSE).collect();
        match self
            .client
            .stop_execution()
            .execution_arn(execution_arn)
            .error("bluegreen.RolledBack")
            .cause(cause)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_execution_does_not_exist()) =>
            {
                Ok(())
            }
            Err(e) => Err(port_error("states:StopExecution", e)),
        }
    }
}
