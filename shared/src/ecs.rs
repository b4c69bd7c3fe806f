//! Reading ECS services and task definitions: which task definition a service runs, its
//! deployments, and the containers (images, environment, secrets' references) of a definition.
//! ecs-pin acts on them; cfg-diff compares their configuration.

use crate::aws::aws_error;
use crate::error::Result;
use aws_sdk_ecs::types::{Tag, TaskDefinition, TaskDefinitionField};
use aws_sdk_ecs::Client;

/// A service as it is now.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceState {
    pub cluster: String,
    pub name: String,
    /// The task definition the service is set to run (what a new deployment rolls out).
    pub task_definition: String,
    pub desired: i32,
    pub running: i32,
    pub deployments: Vec<Deployment>,
}

/// One deployment of a service, as ECS reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub id: String,
    /// PRIMARY (the newest), ACTIVE (being replaced) or INACTIVE.
    pub status: String,
    pub task_definition: String,
    /// COMPLETED, IN_PROGRESS or FAILED (None where ECS does not report it).
    pub rollout_state: Option<String>,
    pub rollout_state_reason: Option<String>,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    pub failed_tasks: i32,
}

/// The service, or `None` when the cluster has no such (active) service.
pub async fn describe_service(
    client: &Client,
    cluster: &str,
    service: &str,
) -> Result<Option<ServiceState>> {
    let out = client
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .map_err(|e| {
            aws_error(
                format!("failed to describe service {cluster}/{service}"),
                &e,
            )
        })?;
    let Some(found) = out
        .services()
        .iter()
        .find(|s| s.status() != Some("INACTIVE"))
    else {
        return Ok(None);
    };
    Ok(Some(ServiceState {
        cluster: cluster.to_string(),
        name: found.service_name().unwrap_or(service).to_string(),
        task_definition: found.task_definition().unwrap_or_default().to_string(),
        desired: found.desired_count(),
        running: found.running_count(),
        deployments: found
            .deployments()
            .iter()
            .map(|d| Deployment {
                id: d.id().unwrap_or_default().to_string(),
                status: d.status().unwrap_or_default().to_string(),
                task_definition: d.task_definition().unwrap_or_default().to_string(),
                rollout_state: d.rollout_state().map(|r| r.as_str().to_string()),
                rollout_state_reason: d.rollout_state_reason().map(str::to_string),
                desired: d.desired_count(),
                running: d.running_count(),
                pending: d.pending_count(),
                failed_tasks: d.failed_tasks(),
            })
            .collect(),
    }))
}

/// A task definition and its tags (tags are not part of the definition itself, but a new
/// revision should carry them on).
pub async fn describe_task_definition(
    client: &Client,
    task_definition: &str,
) -> Result<(TaskDefinition, Vec<Tag>)> {
    let out = client
        .describe_task_definition()
        .task_definition(task_definition)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .map_err(|e| {
            aws_error(
                format!("failed to describe task definition {task_definition}"),
                &e,
            )
        })?;
    let definition = out
        .task_definition()
        .cloned()
        .ok_or_else(|| crate::Error::Aws {
            doing: format!("describing task definition {task_definition}"),
            message: "AWS answered without the task definition".into(),
        })?;
    Ok((definition, out.tags().to_vec()))
}
