//! [`Alerts`] on SNS.

use aws_sdk_sns::Client;
use bluegreen_core::ports::{Alerts, PortResult};

use crate::error::port_error;

#[derive(Clone)]
pub struct SnsAlerts {
    client: Client,
}

impl SnsAlerts {
    pub fn new(client: Client) -> Self {
        SnsAlerts { client }
    }
}

impl Alerts for SnsAlerts {
    async fn publish(&self, topic_arn: &str, subject: &str, message: &str) -> PortResult<()> {
        self.client
            .publish()
            .topic_arn(topic_arn)
            .subject(subject)
            .message(message)
            .send()
            .await
            .map_err(|e| port_error("sns:Publish", e))?;
        Ok(())
    }
}
