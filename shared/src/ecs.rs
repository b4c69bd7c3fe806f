//! Reading ECS services and task definitions: which task definition a service runs, its
//! deployments, and the containers (images, environment, secrets' references) of a definition.
//! ecs-pin acts on them; cfg-diff compares their configuration.

use crate::arn::{EcsCluster, EcsService};
use crate::aws::aws_error;
use crate::config::Template;
use crate::error::{Error, Result};
use crate::memo::ReadOnce;
use aws_sdk_ecs::types::{Tag, TaskDefinition, TaskDefinitionField};
use aws_sdk_ecs::Client;

/// The cluster that promote.toml's `templates` give `to` for the cluster named `cluster` in
/// `from`, compared by name whatever form (name or ARN) the template writes; a cluster no
/// template gives for `from` is the same in every environment.
///
/// # Errors
/// A message when a template renders to something that is no cluster.
pub fn cluster_in(
    templates: &[Template],
    cluster: &str,
    from: &str,
    to: &str,
) -> std::result::Result<EcsCluster, String> {
    for template in templates.iter().filter(|t| t.varies_by_env()) {
        if EcsCluster::parse(&template.render(from))?.name == cluster {
            return EcsCluster::parse(&template.render(to));
        }
    }
    EcsCluster::parse(cluster)
}

/// The service's name in `to` for the service named `service` in `from`, as [`cluster_in`]
/// does for clusters (a template may be a name or a service ARN).
///
/// # Errors
/// A message when a template renders to something that is no service.
pub fn service_in(
    templates: &[Template],
    service: &str,
    from: &str,
    to: &str,
) -> std::result::Result<String, String> {
    // A template that names no cluster is read in a cluster of no consequence here.
    let name = |text: &str| {
        EcsService::parse(text)
            .or_else(|_| EcsService::parse_in(text, Some("-")))
            .map(|s| s.service)
    };
    for template in templates.iter().filter(|t| t.varies_by_env()) {
        if name(&template.render(from))? == service {
            return name(&template.render(to));
        }
    }
    Ok(service.to_string())
}

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
    /// How the service deploys: its alarms, circuit breaker and strategy (ROLLING, BLUE_GREEN,
    /// LINEAR, CANARY), as ECS reports them.
    pub deployment_configuration: Option<aws_sdk_ecs::types::DeploymentConfiguration>,
}

/// A service's deployment gates: the CloudWatch alarms that stop a deployment and the circuit
/// breaker, each with whether ECS rolls back when it trips. What a promotion's record says it
/// set, and what the service had before.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeploymentGates {
    pub alarms: Vec<String>,
    pub enable: bool,
    pub rollback: bool,
    pub circuit_breaker: CircuitBreaker,
}

/// The deployment circuit breaker: ECS stops a deployment whose tasks keep failing to start.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CircuitBreaker {
    pub enable: bool,
    pub rollback: bool,
}

impl DeploymentGates {
    /// The gates of a deployment configuration as ECS reports it.
    #[must_use]
    pub fn of(config: Option<&aws_sdk_ecs::types::DeploymentConfiguration>) -> Self {
        let alarms = config.and_then(|c| c.alarms());
        let breaker = config.and_then(|c| c.deployment_circuit_breaker());
        DeploymentGates {
            alarms: alarms.map(|a| a.alarm_names().to_vec()).unwrap_or_default(),
            enable: alarms.is_some_and(|a| a.enable()),
            rollback: alarms.is_some_and(|a| a.rollback()),
            circuit_breaker: CircuitBreaker {
                enable: breaker.is_some_and(|b| b.enable()),
                rollback: breaker.is_some_and(|b| b.rollback()),
            },
        }
    }

    /// What `ecs-pin promote --alarm` sets: these alarms and the circuit breaker, both rolling
    /// the deployment back.
    #[must_use]
    pub fn rolling_back(alarms: &[String]) -> Self {
        DeploymentGates {
            alarms: alarms.to_vec(),
            enable: true,
            rollback: true,
            circuit_breaker: CircuitBreaker {
                enable: true,
                rollback: true,
            },
        }
    }

    /// `config` with these gates in it, everything else of it (percentages, strategy, bake
    /// time, hooks) as it was: UpdateService replaces the whole configuration it is given.
    pub fn applied_to(
        &self,
        config: Option<&aws_sdk_ecs::types::DeploymentConfiguration>,
    ) -> Result<aws_sdk_ecs::types::DeploymentConfiguration> {
        use aws_sdk_ecs::types::{
            DeploymentAlarms, DeploymentCircuitBreaker, DeploymentConfiguration,
        };
        let mut builder = DeploymentConfiguration::builder();
        if let Some(c) = config {
            builder = builder
                .set_maximum_percent(c.maximum_percent())
                .set_minimum_healthy_percent(c.minimum_healthy_percent())
                .set_strategy(c.strategy().cloned())
                .set_bake_time_in_minutes(c.bake_time_in_minutes())
                .set_linear_configuration(c.linear_configuration().cloned())
                .set_canary_configuration(c.canary_configuration().cloned());
            if !c.lifecycle_hooks().is_empty() {
                builder = builder.set_lifecycle_hooks(Some(c.lifecycle_hooks().to_vec()));
            }
        }
        let alarms = DeploymentAlarms::builder()
            .set_alarm_names(Some(self.alarms.clone()))
            .enable(self.enable)
            .rollback(self.rollback)
            .build()
            .map_err(|e| Error::usage(format!("the deployment alarms: {e}")))?;
        Ok(builder
            .alarms(alarms)
            .deployment_circuit_breaker(
                DeploymentCircuitBreaker::builder()
                    .enable(self.circuit_breaker.enable)
                    .rollback(self.circuit_breaker.rollback)
                    .build(),
            )
            .build())
    }
}

impl ServiceState {
    /// ECS's own staged strategy (BLUE_GREEN, LINEAR or CANARY), whose deployment is followed
    /// through DescribeServiceDeployments; `None` for a rolling deployment.
    #[must_use]
    pub fn staged_strategy(&self) -> Option<&str> {
        self.deployment_configuration
            .as_ref()
            .and_then(|c| c.strategy())
            .map(|s| s.as_str())
            .filter(|s| *s != "ROLLING")
    }
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
    Ok(describe_services(client, cluster, &[service.to_string()])
        .await?
        .pop()
        .flatten())
}

/// DescribeServices takes at most this many services a call.
pub const SERVICES_PER_CALL: usize = 10;

/// Several services of one cluster, [`SERVICES_PER_CALL`] a call: one answer per name, in order,
/// `None` where the cluster has no such (active) service. ECS reports a missing service among
/// `failures`, so one missing service does not fail the others.
pub async fn describe_services(
    client: &Client,
    cluster: &str,
    services: &[String],
) -> Result<Vec<Option<ServiceState>>> {
    let mut distinct: Vec<&String> = Vec::new();
    for service in services {
        if !distinct.contains(&service) {
            distinct.push(service);
        }
    }
    // The calls go out together: a retried one does not hold the others back.
    let answers =
        futures::future::try_join_all(distinct.chunks(SERVICES_PER_CALL).map(|chunk| async move {
            let out = client
                .describe_services()
                .cluster(cluster)
                .set_services(Some(chunk.iter().map(|s| (*s).clone()).collect()))
                .send()
                .await
                .map_err(|e| {
                    if e.as_service_error()
                        .is_some_and(|s| s.is_cluster_not_found_exception())
                    {
                        return crate::Error::precondition(format!(
                            "cluster {cluster} does not exist"
                        ));
                    }
                    let doing = match chunk {
                        [one] => format!("failed to describe service {cluster}/{one}"),
                        _ => format!(
                            "failed to describe services {} of cluster {cluster}",
                            chunk
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    };
                    aws_error(doing, &e)
                })?;
            Ok::<_, crate::Error>(
                chunk
                    .iter()
                    .map(|&service| {
                        // A service may be asked for by ARN: its name is the ARN's last part.
                        let name = service.rsplit('/').next().unwrap_or(service);
                        let answer = out.services().iter().find(|s| {
                            s.status() != Some("INACTIVE")
                                && (s.service_name() == Some(name)
                                    || s.service_arn() == Some(service))
                        });
                        (service, answer.map(|s| state_of(cluster, service, s)))
                    })
                    .collect::<Vec<_>>(),
            )
        }))
        .await?;
    let found: Vec<(&String, Option<ServiceState>)> = answers.into_iter().flatten().collect();
    Ok(services
        .iter()
        .map(|service| {
            found
                .iter()
                .find(|(asked, _)| *asked == service)
                .and_then(|(_, state)| state.clone())
        })
        .collect())
}

fn state_of(cluster: &str, service: &str, found: &aws_sdk_ecs::types::Service) -> ServiceState {
    ServiceState {
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
        deployment_configuration: found.deployment_configuration().cloned(),
    }
}

/// DescribeTasks takes at most this many tasks a call.
pub const TASKS_PER_CALL: usize = 100;

/// What one running task of a service reports: each container's name and the digest of the
/// image it runs (`None` where ECS has not reported one yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningTask {
    pub containers: Vec<(String, Option<String>)>,
}

/// The tasks that `service` of `cluster` runs now from `task_definition` (RUNNING, started by the
/// service): ListTasks, then DescribeTasks [`TASKS_PER_CALL`] a call. What they report is what
/// the environment runs, whatever a tag names by now.
///
/// # Errors
/// When ECS cannot be asked.
pub async fn running_tasks(
    client: &Client,
    cluster: &str,
    service: &str,
    task_definition: &str,
) -> Result<Vec<RunningTask>> {
    let doing = || format!("failed to list the tasks of service {cluster}/{service}");
    let mut arns: Vec<String> = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let out = client
            .list_tasks()
            .cluster(cluster)
            .service_name(service)
            .desired_status(aws_sdk_ecs::types::DesiredStatus::Running)
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| aws_error(doing(), &e))?;
        arns.extend(out.task_arns().iter().cloned());
        match out.next_token() {
            Some(token) if !token.is_empty() => next = Some(token.to_string()),
            _ => break,
        }
    }
    let short = |arn: &str| {
        arn.rsplit_once("task-definition/")
            .map_or(arn, |(_, rest)| rest)
            .to_string()
    };
    let ours = short(task_definition);
    let group = format!("service:{service}");
    let answers = futures::future::try_join_all(arns.chunks(TASKS_PER_CALL).map(|chunk| async {
        client
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| {
                aws_error(
                    format!("failed to describe the tasks of service {cluster}/{service}"),
                    &e,
                )
            })
    }))
    .await?;
    Ok(answers
        .iter()
        .flat_map(|out| out.tasks())
        // The service's own tasks (ECS groups them as `service:NAME`), of the definition it runs.
        .filter(|task| task.group().is_none_or(|g| g == group))
        .filter(|task| {
            task.task_definition_arn()
                .is_some_and(|arn| short(arn) == ours)
        })
        .map(|task| RunningTask {
            containers: task
                .containers()
                .iter()
                .map(|c| {
                    (
                        c.name().unwrap_or_default().to_string(),
                        c.image_digest().map(str::to_string),
                    )
                })
                .collect(),
        })
        .collect())
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

/// Whether a task definition is named with its revision (`family:3`, or an ARN ending in `:3`):
/// such a revision never changes, so reading it once serves the whole run. A bare family means
/// its latest revision, which can change.
#[must_use]
pub fn names_a_revision(task_definition: &str) -> bool {
    let name = task_definition
        .rsplit_once("task-definition/")
        .map_or(task_definition, |(_, name)| name);
    name.rsplit_once(':').is_some_and(|(family, revision)| {
        !family.is_empty() && !revision.is_empty() && revision.bytes().all(|b| b.is_ascii_digit())
    })
}

/// What a run reads from one account and region and can answer again without asking: task
/// definitions named by revision (immutable), and images (each id asked for once per run,
/// through [`crate::ecr::Images`]). ecs-pin keeps one per account and region; cfg-diff one per
/// environment's clients.
#[derive(Debug, Default)]
pub struct Memo {
    task_definitions: ReadOnce<String, Described>,
    pub images: crate::ecr::Images,
}

/// A task definition and its tags, as [`describe_task_definition`] answers.
type Described = (TaskDefinition, Vec<Tag>);

impl Memo {
    /// [`describe_task_definition`], read once per run for a revision; readers of the same
    /// revision at once wait for one call.
    pub async fn task_definition(
        &self,
        client: &Client,
        task_definition: &str,
    ) -> Result<(TaskDefinition, Vec<Tag>)> {
        if !names_a_revision(task_definition) {
            return describe_task_definition(client, task_definition).await;
        }
        self.task_definitions
            .get_or_read(task_definition.to_string(), || {
                describe_task_definition(client, task_definition)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revision_is_named_by_its_number() {
        assert!(names_a_revision("web:3"));
        assert!(names_a_revision(
            "arn:aws:ecs:eu-west-1:123456789012:task-definition/web-prod:12"
        ));
        assert!(!names_a_revision("web"));
        assert!(!names_a_revision(
            "arn:aws:ecs:eu-west-1:123456789012:task-definition/web-prod"
        ));
        assert!(!names_a_revision("web:latest"));
    }
}

#[cfg(test)]
mod names {
    use super::*;

    #[test]
    fn names_map_across_environments_whatever_form_the_template_writes() {
        let arn =
            Template::parse("arn:aws:ecs:eu-west-1:123456789012:cluster/orders-{env}").unwrap();
        let prod = cluster_in(&[arn], "orders-staging", "staging", "prod").unwrap();
        assert_eq!(prod.name, "orders-prod");
        assert_eq!(prod.place.region.as_deref(), Some("eu-west-1"));
        let services =
            [
                Template::parse(
                    "arn:aws:ecs:eu-west-1:123456789012:service/orders-{env}/web-{env}",
                )
                .unwrap(),
            ];
        assert_eq!(
            service_in(&services, "web-staging", "staging", "prod").unwrap(),
            "web-prod"
        );
        assert_eq!(
            service_in(&services, "api", "staging", "prod").unwrap(),
            "api"
        );
    }
}

/// One service deployment of ECS's own staged strategies (BLUE_GREEN, LINEAR, CANARY), as
/// DescribeServiceDeployments reports it, in plain values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceDeployment {
    pub arn: String,
    /// PENDING, IN_PROGRESS, SUCCESSFUL, STOPPED, STOP_REQUESTED, ROLLBACK_REQUESTED,
    /// ROLLBACK_IN_PROGRESS, ROLLBACK_SUCCESSFUL or ROLLBACK_FAILED.
    pub status: String,
    pub status_reason: Option<String>,
    /// Where it is: SCALE_UP, TEST_TRAFFIC_SHIFT, PRODUCTION_TRAFFIC_SHIFT, BAKE_TIME, ...
    pub lifecycle_stage: Option<String>,
    /// The alarms that triggered a rollback.
    pub triggered_alarms: Vec<String>,
    /// The circuit breaker tripped: the tasks that failed, of the threshold.
    pub breaker_tripped: Option<(i32, i32)>,
    /// The lifecycle hooks that failed or timed out: their target (a Lambda function) and how.
    pub failed_hooks: Vec<(String, String)>,
    pub rollback_reason: Option<String>,
    /// The service revision it rolls out.
    pub target_revision: Option<String>,
}

/// The service deployments of a service, newest first: their ARNs and target revisions.
pub async fn list_service_deployments(
    client: &Client,
    cluster: &str,
    service: &str,
) -> Result<Vec<(String, Option<String>)>> {
    let out = client
        .list_service_deployments()
        .cluster(cluster)
        .service(service)
        .send()
        .await
        .map_err(|e| {
            aws_error(
                format!("failed to list the deployments of {cluster}/{service}"),
                &e,
            )
        })?;
    let mut briefs: Vec<_> = out.service_deployments().to_vec();
    briefs.sort_by(|a, b| b.created_at().cmp(&a.created_at()));
    Ok(briefs
        .iter()
        .map(|b| {
            (
                b.service_deployment_arn().unwrap_or_default().to_string(),
                b.target_service_revision_arn().map(str::to_string),
            )
        })
        .collect())
}

/// The task definition a service revision runs.
pub async fn revision_task_definition(client: &Client, revision: &str) -> Result<Option<String>> {
    let out = client
        .describe_service_revisions()
        .service_revision_arns(revision)
        .send()
        .await
        .map_err(|e| {
            aws_error(
                format!("failed to describe service revision {revision}"),
                &e,
            )
        })?;
    Ok(out
        .service_revisions()
        .first()
        .and_then(|r| r.task_definition())
        .map(str::to_string))
}

/// One service deployment, now.
pub async fn describe_service_deployment(
    client: &Client,
    arn: &str,
) -> Result<Option<ServiceDeployment>> {
    use aws_sdk_ecs::types::{
        DeploymentLifecycleHookStatus, ServiceDeploymentRollbackMonitorsStatus,
    };
    let out = client
        .describe_service_deployments()
        .service_deployment_arns(arn)
        .send()
        .await
        .map_err(|e| aws_error(format!("failed to describe service deployment {arn}"), &e))?;
    Ok(out.service_deployments().first().map(|d| {
        let triggered = |s: Option<&ServiceDeploymentRollbackMonitorsStatus>| {
            s == Some(&ServiceDeploymentRollbackMonitorsStatus::Triggered)
        };
        ServiceDeployment {
            arn: d.service_deployment_arn().unwrap_or(arn).to_string(),
            status: d
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            status_reason: d.status_reason().map(str::to_string),
            lifecycle_stage: d.lifecycle_stage().map(|s| s.as_str().to_string()),
            triggered_alarms: d
                .alarms()
                .map(|a| a.triggered_alarm_names().to_vec())
                .unwrap_or_default(),
            breaker_tripped: d
                .deployment_circuit_breaker()
                .filter(|b| triggered(b.status()))
                .map(|b| (b.failure_count(), b.threshold())),
            failed_hooks: d
                .lifecycle_hook_details()
                .iter()
                .filter(|h| {
                    matches!(
                        h.status(),
                        Some(
                            DeploymentLifecycleHookStatus::Failed
                                | DeploymentLifecycleHookStatus::TimedOut
                        )
                    )
                })
                .map(|h| {
                    (
                        h.target_arn()
                            .or(h.hook_id())
                            .unwrap_or("a hook")
                            .to_string(),
                        h.status()
                            .map(|s| s.as_str().to_lowercase())
                            .unwrap_or_default(),
                    )
                })
                .collect(),
            rollback_reason: d.rollback().and_then(|r| r.reason()).map(str::to_string),
            target_revision: d
                .target_service_revision()
                .and_then(|r| r.arn())
                .map(str::to_string),
        }
    }))
}

/// Why the service's most recently stopped tasks stopped (a few of them): what a rolled-back
/// deployment's tasks died of.
pub async fn stopped_reasons(client: &Client, cluster: &str, service: &str) -> Result<Vec<String>> {
    let listed = client
        .list_tasks()
        .cluster(cluster)
        .service_name(service)
        .desired_status(aws_sdk_ecs::types::DesiredStatus::Stopped)
        .max_results(3)
        .send()
        .await
        .map_err(|e| {
            aws_error(
                format!("failed to list the stopped tasks of {cluster}/{service}"),
                &e,
            )
        })?;
    if listed.task_arns().is_empty() {
        return Ok(Vec::new());
    }
    let tasks = client
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(listed.task_arns().to_vec()))
        .send()
        .await
        .map_err(|e| {
            aws_error(
                format!("failed to describe the stopped tasks of {cluster}/{service}"),
                &e,
            )
        })?;
    Ok(tasks
        .tasks()
        .iter()
        .filter_map(|t| {
            let reason = t.stopped_reason()?;
            let id = t
                .task_arn()
                .and_then(|a| a.rsplit('/').next())
                .unwrap_or("a task");
            Some(format!("{id}: {reason}"))
        })
        .collect())
}
