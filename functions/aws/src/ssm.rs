//! [`ParameterStore`] on SSM Parameter Store.

use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::ParameterType;
use bluegreen_core::ports::{Parameter, ParameterStore, PortResult, PutMode, PutOutcome};

use crate::error::port_error;

#[derive(Clone)]
pub struct SsmParameters {
    client: Client,
}

impl SsmParameters {
    pub fn new(client: Client) -> Self {
        SsmParameters { client }
    }
}

impl ParameterStore for SsmParameters {
    async fn get(&self, name: &str) -> PortResult<Option<Parameter>> {
        match self
            .client
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
        {
            Ok(out) => Ok(out.parameter.map(|p| Parameter {
                value: p.value.unwrap_or_default(),
                version: p.version,
            })),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_parameter_not_found()) =>
            {
                Ok(None)
            }
            Err(e) => Err(port_error("ssm:GetParameter", e)),
        }
    }

    async fn get_many(&self, names: &[String]) -> PortResult<Vec<Option<Parameter>>> {
        let out = self
            .client
            .get_parameters()
            .set_names(Some(names.to_vec()))
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| port_error("ssm:GetParameters", e))?;
        Ok(names
            .iter()
            .map(|name| {
                out.parameters()
                    .iter()
                    .find(|p| p.name.as_deref() == Some(name.as_str()))
                    .map(|p| Parameter {
                        value: p.value.clone().unwrap_or_default(),
                        version: p.version,
                    })
            })
            .collect())
    }

    async fn put(&self, name: &str, value: &str, mode: PutMode) -> PortResult<PutOutcome> {
        let result = self
            .client
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(ParameterType::String)
            .overwrite(mode == PutMode::Overwrite)
            .send()
            .await;
        match result {
            Ok(_) => Ok(PutOutcome::Written),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_parameter_already_exists()) =>
            {
                Ok(PutOutcome::AlreadyExists)
            }
            Err(e) => Err(port_error("ssm:PutParameter", e)),
        }
    }

    async fn delete(&self, name: &str) -> PortResult<()> {
        match self.client.delete_parameter().name(name).send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_parameter_not_found()) =>
            {
                Ok(())
            }
            Err(e) => Err(port_error("ssm:DeleteParameter", e)),
        }
    }
}
