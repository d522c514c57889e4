//! `{{ssm:/name}}` values from the parameter store port (the AWS adapter
//! reads with decryption, so SecureStrings arrive in plain text).

use bluegreen_core::ports::ParameterStore;
use bluegreen_smoke::{SecretError, SecretSource};

pub(crate) struct SsmSecrets<'a, P> {
    params: &'a P,
}

impl<'a, P: ParameterStore> SsmSecrets<'a, P> {
    pub(crate) fn new(params: &'a P) -> Self {
        SsmSecrets { params }
    }
}

impl<P: ParameterStore> SecretSource for SsmSecrets<'_, P> {
    async fn get(&self, name: &str) -> Result<Option<String>, SecretError> {
        match self.params.get(name).await {
            Ok(p) => Ok(p.map(|p| p.value)),
            Err(e) => Err(SecretError(e.to_string())),
        }
    }
}
