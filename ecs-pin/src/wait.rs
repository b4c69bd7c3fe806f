//! `--wait`: follow a service's deployment until ECS says it completed, failed, or was rolled
//! back (by the deployment circuit breaker, an alarm or a lifecycle hook), or until the timeout.
//! Anything but completion is exit 3 with the reason: a deployment that did not finish is never
//! reported as a success. A rolling deployment is read from the service's `deployments`; one of
//! ECS's own staged strategies (BLUE_GREEN, LINEAR, CANARY) from its service deployment
//! (DescribeServiceDeployments), through each stage.

use crate::args::WaitArgs;
use crate::calls::Located;
use crate::plan::{self, Rollout};
use shared::{Error, Result};
use std::io::{IsTerminal, Write};
use std::time::Instant;

/// Wait until the deployment of task definition `ours` to `cluster/service` is complete.
pub async fn until_deployed(
    at: &Located,
    cluster: &str,
    service: &str,
    ours: &str,
    args: &WaitArgs,
    quiet: bool,
) -> Result<()> {
    let resource = format!("{cluster}/{service}");
    let state = shared::ecs::describe_service(&at.client.ecs, cluster, service).await?;
    let staged = state
        .as_ref()
        .and_then(|s| s.staged_strategy())
        .map(str::to_string);
    let ecs = &at.client.ecs;
    let Some(strategy) = staged else {
        let mut rolling = || async {
            let state = shared::ecs::describe_service(ecs, cluster, service)
                .await?
                .ok_or_else(|| gone(&resource, ours))?;
            Ok(plan::rollout(ours, &state))
        };
        return follow(&resource, ours, args, quiet, &mut rolling).await;
    };
    let mut staged = Staged {
        at,
        cluster,
        service,
        ours,
        strategy,
        mine: None,
    };
    match follow(&resource, ours, args, quiet, &mut staged).await {
        // What the tasks that ECS stopped died of says why, more than its own reason.
        Err(Error::Aws { doing, message }) if staged.mine.is_some() => {
            let stopped = shared::ecs::stopped_reasons(ecs, cluster, service)
                .await
                .unwrap_or_default();
            Err(Error::Aws {
                doing,
                message: if stopped.is_empty() {
                    message
                } else {
                    format!("{message}; stopped tasks: {}", stopped.join("; "))
                },
            })
        }
        other => other,
    }
}

/// A deployment of one of ECS's staged strategies, followed through its service deployment.
struct Staged<'a> {
    at: &'a Located,
    cluster: &'a str,
    service: &'a str,
    ours: &'a str,
    strategy: String,
    /// Which service deployment is ours, once found: the newest whose target revision runs our
    /// task definition (not merely the newest, which may be someone else's).
    mine: Option<String>,
}

impl Step for Staged<'_> {
    async fn next(&mut self) -> Result<Rollout> {
        let arn = match &self.mine {
            Some(arn) => arn.clone(),
            None => match find_ours(self.at, self.cluster, self.service, self.ours).await? {
                Some(arn) => arn,
                None => {
                    return Ok(Rollout::InProgress(format!(
                        "waiting for ECS to start the {} deployment",
                        self.strategy
                    )))
                }
            },
        };
        self.mine = Some(arn.clone());
        let deployment = shared::ecs::describe_service_deployment(&self.at.client.ecs, &arn)
            .await?
            .ok_or_else(|| gone(&format!("{}/{}", self.cluster, self.service), self.ours))?;
        Ok(plan::staged(&self.strategy, &deployment))
    }
}

/// The service deployment whose target revision runs `ours`, among the newest few.
async fn find_ours(
    at: &Located,
    cluster: &str,
    service: &str,
    ours: &str,
) -> Result<Option<String>> {
    let ecs = &at.client.ecs;
    for (arn, revision) in shared::ecs::list_service_deployments(ecs, cluster, service)
        .await?
        .into_iter()
        .take(5)
    {
        let Some(revision) = revision else { continue };
        if let Some(td) = shared::ecs::revision_task_definition(ecs, &revision).await? {
            if plan::same_task_definition(&td, ours) {
                return Ok(Some(arn));
            }
        }
    }
    Ok(None)
}

fn gone(resource: &str, ours: &str) -> Error {
    Error::Aws {
        doing: format!("waiting for {resource} to deploy {ours}"),
        message: "the service (or its deployment) no longer exists".into(),
    }
}

/// One look at how the deployment is doing.
trait Step {
    fn next(&mut self) -> impl std::future::Future<Output = Result<Rollout>>;
}

impl<F, Fut> Step for F
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Rollout>>,
{
    async fn next(&mut self) -> Result<Rollout> {
        self().await
    }
}

/// Ask `step` how the deployment is doing until it is done, the timeout passes or a signal
/// comes, printing its progress on stderr.
async fn follow(
    resource: &str,
    ours: &str,
    args: &WaitArgs,
    quiet: bool,
    step: &mut impl Step,
) -> Result<()> {
    let started = Instant::now();
    let live = !quiet && std::io::stderr().is_terminal();
    let mut last = String::new();
    let failed = |message: String| Error::Aws {
        doing: format!("waiting for {resource} to deploy {ours}"),
        message,
    };
    loop {
        let elapsed = started.elapsed().as_secs();
        match step.next().await? {
            Rollout::Completed => {
                if live {
                    eprint!("\r\x1b[2K");
                }
                if !quiet {
                    eprintln!("{resource}: deployment completed in {elapsed}s");
                }
                return Ok(());
            }
            Rollout::Failed(reason) => {
                return Err(failed(format!("the deployment failed: {reason}")));
            }
            Rollout::RolledBack(reason) => {
                return Err(failed(format!("ECS rolled the deployment back: {reason}")));
            }
            Rollout::InProgress(progress) => {
                if live {
                    eprint!("\r\x1b[2K{resource}: {progress} ({elapsed}s)");
                    let _ = std::io::stderr().flush();
                } else if !quiet && progress != last {
                    eprintln!("{resource}: {progress} ({elapsed}s)");
                }
                last = progress;
            }
        }
        let waited = started.elapsed();
        if waited >= args.timeout {
            if live {
                eprintln!();
            }
            return Err(failed(format!(
                "timed out after {}s ({last}); the deployment goes on in ECS",
                args.timeout.as_secs()
            )));
        }
        if shared::interrupt::requested() {
            return Err(Error::Interrupted(format!(
                "stopped waiting for {resource} ({last}); the deployment goes on in ECS"
            )));
        }
        tokio::time::sleep(args.poll_interval.min(args.timeout - waited)).await;
    }
}
