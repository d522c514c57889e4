//! [`Services`] on ECS.

use aws_sdk_ecs::Client;
use bluegreen_core::ports::{PortError, PortResult, ServiceCounts, Services};

use crate::error::port_error;

#[derive(Clone)]
pub struct EcsServices {
    client: Client,
}

impl EcsServices {
    pub fn new(client: Client) -> Self {
        EcsServices { client }
    }
}

impl Services for EcsServices {
    async fn counts(&self, cluster: &str, service: &str) -> PortResult<ServiceCounts> {
        let out = self
            .client
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await
            .map_err(|e| port_error("ecs:DescribeServices", e))?;
        let s = out.services().first().ok_or_else(|| {
            PortError::failed(
                "ecs:DescribeServices",
                format!("no service {service} in cluster {cluster}"),
            )
        })?;
        Ok(ServiceCounts {
            desired: s.desired_count,
            running: s.running_count,
        })
    }

    async fn set_desired(&self, cluster: &str, service: &str, desired: i32) -> PortResult<()> {
        self.client
            .update_service()
            .cluster(cluster)
            .service(service)
            .desired_count(desired)
            .send()
            .await
            .map_err(|e| port_error("ecs:UpdateService", e))?;
        Ok(())
    }
}
