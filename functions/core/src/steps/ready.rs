//! Is the idle color ready for traffic? One call answers for the state
//! machine's Wait-state loop; past the deadline it fails with the reason.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::document::requests::DeployedRequest;
use crate::error::{Error, Result};
use crate::ports::capabilities::Prefixed;
use crate::ports::{LoadBalancer, ParameterStore, Services};
use crate::records::store::AppStore;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    /// Stable on the release's task definition with every task's target healthy.
    pub ready: bool,
    pub on_release: bool,
    pub running: i32,
    pub desired: i32,
    pub deployments: usize,
    pub healthy_targets: usize,
    pub waited_seconds: i64,
    pub timeout_seconds: u64,
}

impl Readiness {
    fn why_not(&self, service: &str) -> String {
        let mut reasons = vec![];
        if !self.on_release {
            reasons.push(format!("{service} is not on the release's task definition"));
        }
        if self.running < self.desired {
            reasons.push(format!(
                "{} of {} task(s) running",
                self.running, self.desired
            ));
        }
        if self.deployments > 1 {
            reasons.push(format!(
                "{} deployments still in progress",
                self.deployments
            ));
        }
        if self.healthy_targets < self.desired as usize {
            reasons.push(format!(
                "{} of {} target(s) healthy",
                self.healthy_targets, self.desired
            ));
        }
        reasons.join("; ")
    }
}

pub async fn check<W>(aws: &W, request: &DeployedRequest, now: OffsetDateTime) -> Result<Readiness>
where
    W: ParameterStore + LoadBalancer + Services + Prefixed,
{
    let deploy = &request.deployed;
    let app = request.caller.app.as_str();
    let config = AppStore::new(aws, aws.prefix())?.config(app).await?;
    let service = aws.describe(&config.cluster, &deploy.service).await?;
    let healthy_targets = aws
        .healthy_targets(&config.color(deploy.idle_color).target_group_arn)
        .await?;
    let on_release = service.task_definition == deploy.task_definition_arn;
    let waited_seconds = (now - deploy.started_at).whole_seconds();
    let readiness = Readiness {
        ready: on_release
            && service.running >= deploy.desired_count
            && service.deployments <= 1
            && healthy_targets >= deploy.desired_count.max(1) as usize,
        on_release,
        running: service.running,
        desired: deploy.desired_count,
        deployments: service.deployments,
        healthy_targets,
        waited_seconds,
        timeout_seconds: config.deploy_timeout_seconds,
    };
    if !readiness.ready && waited_seconds >= config.deploy_timeout_seconds as i64 {
        return Err(Error::IdleNotReady {
            app: app.to_string(),
            color: deploy.idle_color,
            why: format!(
                "after {waited_seconds} s (timeout {} s): {}",
                config.deploy_timeout_seconds,
                readiness.why_not(&deploy.service)
            ),
        });
    }
    Ok(readiness)
}
