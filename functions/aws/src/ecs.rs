//! [`Services`] on ECS.

use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{
    ContainerOverride, DesiredStatus, SortOrder, Tag, TaskDefinition, TaskDefinitionField,
    TaskDefinitionStatus, TaskOverride,
};
use aws_smithy_types::body::SdkBody;
use bluegreen_core::ports::{
    Bounds, ContainerImage, OneOffTask, PortError, PortResult, RegisterRequest, RevisionTag,
    ServiceInfo, Services, TaskStatus,
};
use bluegreen_core::records::migrations::LogStream;
use bluegreen_core::records::scaling::cluster_name;

use crate::error::port_error;

#[derive(Clone)]
pub struct EcsServices {
    client: Client,
    /// The services' scalable targets (Application Auto Scaling).
    scaling: aws_sdk_applicationautoscaling::Client,
}

impl EcsServices {
    pub fn new(client: Client, scaling: aws_sdk_applicationautoscaling::Client) -> Self {
        EcsServices { client, scaling }
    }

    async fn task_definition(&self, arn: &str) -> PortResult<TaskDefinition> {
        Ok(self.task_definition_with_tags(arn).await?.0)
    }

    /// The newest active revision of `family`, and its tags.
    async fn latest_revision(
        &self,
        family: &str,
    ) -> PortResult<Option<(TaskDefinition, Vec<Tag>)>> {
        let listed = self
            .client
            .list_task_definitions()
            .family_prefix(family)
            .status(TaskDefinitionStatus::Active)
            .sort(SortOrder::Desc)
            .send()
            .await
            .map_err(|e| port_error("ecs:ListTaskDefinitions", e))?;
        // Newest first on one page; the highest revision is picked all the
        // same, for emulators that ignore the order. `familyPrefix` is the
        // full family name in the API reference; an ARN of another family
        // (`web-admin` for `web`, as a prefix match would list) is left out.
        let newest = listed
            .task_definition_arns()
            .iter()
            .filter(|arn| family_of(arn) == family)
            .max_by_key(|arn| revision(arn));
        match newest {
            Some(arn) => Ok(Some(self.task_definition_with_tags(arn).await?)),
            None => Ok(None),
        }
    }

    /// The task definition and its tags (which are not part of it).
    async fn task_definition_with_tags(&self, arn: &str) -> PortResult<(TaskDefinition, Vec<Tag>)> {
        let out = self
            .client
            .describe_task_definition()
            .task_definition(arn)
            .include(TaskDefinitionField::Tags)
            .send()
            .await
            .map_err(|e| port_error("ecs:DescribeTaskDefinition", e))?;
        let tags = out.tags.unwrap_or_default();
        out.task_definition.map(|td| (td, tags)).ok_or_else(|| {
            PortError::failed(
                "ecs:DescribeTaskDefinition",
                format!("no task definition {arn}"),
            )
        })
    }
}

impl Services for EcsServices {
    async fn describe(&self, cluster: &str, service: &str) -> PortResult<ServiceInfo> {
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
        Ok(ServiceInfo {
            task_definition: s.task_definition.clone().unwrap_or_default(),
            desired: s.desired_count,
            running: s.running_count,
            deployments: s.deployments().len(),
        })
    }

    async fn images(&self, task_definition_arn: &str) -> PortResult<Vec<ContainerImage>> {
        let td = self.task_definition(task_definition_arn).await?;
        Ok(td
            .container_definitions()
            .iter()
            .map(|c| ContainerImage {
                container: c.name.clone().unwrap_or_default(),
                image: c.image.clone().unwrap_or_default(),
            })
            .collect())
    }

    async fn register_with_images(
        &self,
        task_definition_arn: &str,
        images: &[ContainerImage],
        mark: Option<&RevisionTag>,
    ) -> PortResult<String> {
        let (td, mut tags) = self.task_definition_with_tags(task_definition_arn).await?;
        let containers = td
            .container_definitions()
            .iter()
            .map(|c| {
                let mut c = c.clone();
                if let Some(new) = images
                    .iter()
                    .find(|i| c.name.as_deref() == Some(&i.container))
                {
                    c.image = Some(new.image.clone());
                }
                c
            })
            .collect::<Vec<_>>();
        // A mark of a revision copied from one that had another (a redeploy
        // of a redeploy) is replaced, not kept beside the new one.
        if let Some(mark) = mark {
            tags.retain(|t| t.key() != Some(mark.key.as_str()));
            tags.push(tag(mark));
        }
        // A deploy that stopped after registering (and a rerun of it) finds
        // its revision as the family's latest: use it instead of another.
        if let Some(family) = td.family.as_deref()
            && let Some((latest, latest_tags)) = self.latest_revision(family).await?
            && latest.task_definition_arn != td.task_definition_arn
            && same_but_containers(&latest, &td)
            && latest.container_definitions() == containers.as_slice()
            && mark.is_none_or(|m| latest_tags.contains(&tag(m)))
            && let Some(arn) = latest.task_definition_arn
        {
            return Ok(arn);
        }
        // Everything but the images is carried over as it was. Fields that
        // only describe a registered revision (ARN, revision, status, ...)
        // are not inputs and are left out.
        let out = self
            .client
            .register_task_definition()
            .set_family(td.family)
            .set_task_role_arn(td.task_role_arn)
            .set_execution_role_arn(td.execution_role_arn)
            .set_network_mode(td.network_mode)
            .set_container_definitions(Some(containers))
            .set_volumes(td.volumes)
            .set_placement_constraints(td.placement_constraints)
            .set_requires_compatibilities(td.requires_compatibilities)
            .set_cpu(td.cpu)
            .set_memory(td.memory)
            .set_pid_mode(td.pid_mode)
            .set_ipc_mode(td.ipc_mode)
            .set_proxy_configuration(td.proxy_configuration)
            .set_ephemeral_storage(td.ephemeral_storage)
            .set_runtime_platform(td.runtime_platform)
            .set_enable_fault_injection(td.enable_fault_injection)
            // Tags say who owns and pays for it: the new revision keeps them.
            .set_tags((!tags.is_empty()).then_some(tags))
            .send()
            .await
            .map_err(|e| port_error("ecs:RegisterTaskDefinition", e))?;
        registered_arn(out.task_definition)
    }

    async fn register_document(
        &self,
        document: &RegisterRequest,
        mark: &RevisionTag,
    ) -> PortResult<String> {
        const OP: &str = "ecs:RegisterTaskDefinition";
        let family = document
            .get("family")
            .and_then(|f| f.as_str())
            .unwrap_or_default()
            .to_string();
        if let Some((latest, tags)) = self.latest_revision(&family).await?
            && tags.contains(&tag(mark))
            && let Some(arn) = latest.task_definition_arn
        {
            return Ok(arn);
        }
        // The document is the operation's request as ECS's JSON protocol
        // takes it (what `--cli-input-json` sends), so it is sent as the
        // body, signed and retried by the SDK like any call. The SDK's types
        // have no serde; a hand-written mapping of its hundred-odd fields
        // would drop any field it does not know yet, silently.
        let body =
            serde_json::to_vec(document).map_err(|e| PortError::failed(OP, e.to_string()))?;
        let out = self
            .client
            .register_task_definition()
            .family(family)
            .customize()
            .mutate_request(move |request| {
                request
                    .headers_mut()
                    .insert("content-length", body.len().to_string());
                *request.body_mut() = SdkBody::from(body.clone());
            })
            .send()
            .await
            .map_err(|e| port_error(OP, e))?;
        registered_arn(out.task_definition)
    }

    async fn update(
        &self,
        cluster: &str,
        service: &str,
        task_definition: Option<&str>,
        desired: Option<i32>,
    ) -> PortResult<()> {
        self.client
            .update_service()
            .cluster(cluster)
            .service(service)
            .set_task_definition(task_definition.map(str::to_string))
            .set_desired_count(desired)
            .send()
            .await
            .map_err(|e| port_error("ecs:UpdateService", e))?;
        Ok(())
    }

    async fn scaling_bounds(
        &self,
        cluster: &str,
        services: &[&str],
    ) -> PortResult<Vec<Option<Bounds>>> {
        let ids: Vec<String> = services
            .iter()
            .map(|s| scalable_resource_id(cluster, s))
            .collect();
        let out = self
            .scaling
            .describe_scalable_targets()
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .set_resource_ids(Some(ids.clone()))
            .send()
            .await
            .map_err(|e| port_error("application-autoscaling:DescribeScalableTargets", e))?;
        Ok(ids
            .iter()
            .map(|id| {
                out.scalable_targets()
                    .iter()
                    .find(|t| t.resource_id() == id)
                    .map(|t| Bounds {
                        min: t.min_capacity(),
                        max: t.max_capacity(),
                    })
            })
            .collect())
    }

    async fn set_scaling_bounds(
        &self,
        cluster: &str,
        service: &str,
        bounds: Bounds,
    ) -> PortResult<()> {
        // On an existing target, RegisterScalableTarget changes only what it
        // is given: its policies, role and suspended state stay.
        self.scaling
            .register_scalable_target()
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .resource_id(scalable_resource_id(cluster, service))
            .min_capacity(bounds.min)
            .max_capacity(bounds.max)
            .send()
            .await
            .map_err(|e| port_error("application-autoscaling:RegisterScalableTarget", e))?;
        Ok(())
    }

    async fn run_task(&self, task: &OneOffTask) -> PortResult<String> {
        const OP: &str = "ecs:RunTask";
        // Placed like the service's own tasks: its launch type or capacity
        // providers, platform version and network configuration.
        let described = self
            .client
            .describe_services()
            .cluster(&task.cluster)
            .services(&task.service)
            .send()
            .await
            .map_err(|e| port_error("ecs:DescribeServices", e))?;
        let service = described.services().first().ok_or_else(|| {
            PortError::failed(
                OP,
                format!("no service {} in cluster {}", task.service, task.cluster),
            )
        })?;
        let overrides = TaskOverride::builder()
            .container_overrides(
                ContainerOverride::builder()
                    .name(&task.container)
                    .set_command(Some(task.command.clone()))
                    .build(),
            )
            .build();
        let out = self
            .client
            .run_task()
            .cluster(&task.cluster)
            .task_definition(&task.task_definition)
            .count(1)
            .started_by(&task.started_by)
            .client_token(&task.client_token)
            .set_launch_type(service.launch_type.clone())
            .set_capacity_provider_strategy(
                Some(service.capacity_provider_strategy().to_vec()).filter(|s| !s.is_empty()),
            )
            .set_platform_version(service.platform_version.clone())
            .set_network_configuration(service.network_configuration.clone())
            .overrides(overrides)
            .send()
            .await
            .map_err(|e| port_error(OP, e))?;
        if let Some(arn) = out.tasks().first().and_then(|t| t.task_arn.clone()) {
            return Ok(arn);
        }
        let why = out
            .failures()
            .iter()
            .map(|f| {
                format!(
                    "{} ({})",
                    f.reason().unwrap_or("?"),
                    f.detail().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        Err(PortError::failed(OP, format!("ECS started no task: {why}")))
    }

    async fn find_task(&self, cluster: &str, started_by: &str) -> PortResult<Option<String>> {
        // A task is listed under its desired status: a running one under
        // RUNNING, an ended one under STOPPED (for about an hour).
        for status in [DesiredStatus::Running, DesiredStatus::Stopped] {
            let out = self
                .client
                .list_tasks()
                .cluster(cluster)
                .started_by(started_by)
                .desired_status(status)
                .send()
                .await
                .map_err(|e| port_error("ecs:ListTasks", e))?;
            if let Some(arn) = out.task_arns().first() {
                return Ok(Some(arn.clone()));
            }
        }
        Ok(None)
    }

    async fn describe_task(&self, cluster: &str, task_arn: &str) -> PortResult<Option<TaskStatus>> {
        let out = self
            .client
            .describe_tasks()
            .cluster(cluster)
            .tasks(task_arn)
            .send()
            .await
            .map_err(|e| port_error("ecs:DescribeTasks", e))?;
        let Some(task) = out.tasks().first() else {
            return Ok(None);
        };
        let stopped = task.last_status() == Some("STOPPED");
        // The container whose command was replaced: the overridden one.
        let container_name = task
            .overrides()
            .and_then(|o| o.container_overrides().first())
            .and_then(|c| c.name().map(str::to_string));
        let container = task
            .containers()
            .iter()
            .find(|c| container_name.is_none() || c.name() == container_name.as_deref());
        let reasons: Vec<&str> = [task.stopped_reason(), container.and_then(|c| c.reason())]
            .into_iter()
            .flatten()
            .filter(|r| !r.is_empty())
            .collect();
        let log = match (
            stopped,
            task.task_definition_arn(),
            container.and_then(|c| c.name()),
        ) {
            (true, Some(td), Some(name)) => {
                log_stream(&self.task_definition(td).await?, name, task_arn)
            }
            _ => None,
        };
        Ok(Some(TaskStatus {
            task_arn: task_arn.to_string(),
            stopped,
            exit_code: if stopped {
                container.and_then(|c| c.exit_code)
            } else {
                None
            },
            stopped_reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
            log,
        }))
    }

    async fn stop_task(&self, cluster: &str, task_arn: &str, reason: &str) -> PortResult<()> {
        // ECS keeps at most 255 characters of the reason.
        let reason: String = reason.chars().take(255).collect();
        self.client
            .stop_task()
            .cluster(cluster)
            .task(task_arn)
            .reason(reason)
            .send()
            .await
            .map_err(|e| port_error("ecs:StopTask", e))?;
        Ok(())
    }
}

/// Where an `awslogs` container's output goes: `<prefix>/<container>/<task id>`
/// in its group (ECS names streams so when a prefix is set).
fn log_stream(td: &TaskDefinition, container: &str, task_arn: &str) -> Option<LogStream> {
    let definition = td
        .container_definitions()
        .iter()
        .find(|c| c.name() == Some(container))?;
    let logs = definition.log_configuration()?;
    if logs.log_driver().as_str() != "awslogs" {
        return None;
    }
    let options = logs.options()?;
    let task_id = task_arn.rsplit('/').next()?;
    Some(LogStream {
        group: options.get("awslogs-group")?.clone(),
        stream: format!(
            "{}/{container}/{task_id}",
            options.get("awslogs-stream-prefix")?
        ),
        region: options.get("awslogs-region")?.clone(),
    })
}

/// `service/<cluster name>/<service name>`: how Application Auto Scaling
/// names an ECS service.
fn scalable_resource_id(cluster: &str, service: &str) -> String {
    format!("service/{}/{service}", cluster_name(cluster))
}

/// Whether two revisions agree on everything a new revision carries over
/// except the container definitions.
fn same_but_containers(a: &TaskDefinition, b: &TaskDefinition) -> bool {
    a.family == b.family
        && a.task_role_arn == b.task_role_arn
        && a.execution_role_arn == b.execution_role_arn
        && a.network_mode == b.network_mode
        && a.volumes == b.volumes
        && a.placement_constraints == b.placement_constraints
        && a.requires_compatibilities == b.requires_compatibilities
        && a.cpu == b.cpu
        && a.memory == b.memory
        && a.pid_mode == b.pid_mode
        && a.ipc_mode == b.ipc_mode
        && a.proxy_configuration == b.proxy_configuration
        && a.ephemeral_storage == b.ephemeral_storage
        && a.runtime_platform == b.runtime_platform
        && a.enable_fault_injection == b.enable_fault_injection
}

fn tag(mark: &RevisionTag) -> Tag {
    Tag::builder().key(&mark.key).value(&mark.value).build()
}

fn registered_arn(registered: Option<TaskDefinition>) -> PortResult<String> {
    registered
        .and_then(|t| t.task_definition_arn)
        .ok_or_else(|| PortError::failed("ecs:RegisterTaskDefinition", "the answer names no ARN"))
}

/// The revision number at the end of a task-definition ARN (`…/family:7`).
/// `web` of `arn:aws:ecs:…:task-definition/web:12`.
fn family_of(arn: &str) -> &str {
    let name = arn.rsplit_once('/').map_or(arn, |(_, name)| name);
    name.rsplit_once(':').map_or(name, |(family, _)| family)
}

fn revision(arn: &str) -> u64 {
    arn.rsplit(':')
        .next()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::{family_of, revision};

    #[test]
    fn revisions_from_arns() {
        assert_eq!(
            revision("arn:aws:ecs:us-east-1:123456789012:task-definition/web:12"),
            12
        );
        assert_eq!(revision("not-an-arn"), 0);
        assert_eq!(
            family_of("arn:aws:ecs:us-east-1:123456789012:task-definition/web-admin:3"),
            "web-admin"
        );
    }
}
