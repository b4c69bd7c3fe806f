//! `status` and `--resolve-digest`: what each service runs, as `resolved` records with every image
//! pinned by digest. `status` adds the deployments and their rollout state.

use crate::args::ServiceArgs;
use crate::reads::{Depth, Reads};
use crate::{read_what_runs, services, Clients, Options};
use serde_json::json;
use shared::batch::{self, Work};
use shared::config::Project;
use shared::output::Output;
use shared::{Action, ExitCode, Result};

pub(crate) async fn run(
    args: &ServiceArgs,
    with_deployments: bool,
    project: Option<&Project>,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    // With promote.toml and no --env or --cluster: every environment, in promotion order, so
    // `ecs-pin --resolve-digest | cfg-diff staging prod` finds both sides.
    let every_env = args.env.is_none() && args.cluster.is_none();
    let targets = match project {
        Some(p) if every_env && p.ecs.is_some() && !p.order.is_empty() => {
            let mut all = Vec::new();
            for env in &p.order {
                let mut one = args.clone();
                one.env = Some(env.clone());
                all.extend(services(&one, project)?);
            }
            all
        }
        _ => services(args, project)?,
    };
    // Nothing here changes a service: every one is read up front, in one round (ten services of
    // a cluster a call, and one BatchGetImage per repository for all their tags).
    let reads = Reads::new(clients, opts.concurrency, Depth::Running);
    for service in &targets {
        reads.want(service);
    }
    let reads = &reads;
    let work: Vec<Work<'_, _>> = targets.into_iter().map(Work::Own).collect();
    // A service that cannot be read is an `error` record too, so `status | promote` refuses.
    let describe = |service: &crate::ServiceRef| batch::Described {
        key: None,
        subject: Some(service.target(None)),
    };
    batch::run_described(
        work,
        opts.concurrency,
        out,
        describe,
        |service| async move {
            let running = read_what_runs(reads, &service).await?;
            let mut record =
                service.record(Action::Resolved, &running.at, Some(&running.artifact), None);
            running.annotate(&mut record);
            if with_deployments {
                let state = &running.state;
                record.extra.insert("desired".into(), state.desired.into());
                record.extra.insert("running".into(), state.running.into());
                record.extra.insert(
                    "deployments".into(),
                    state
                        .deployments
                        .iter()
                        .map(|d| {
                            json!({
                                "id": d.id,
                                "status": d.status,
                                "task_definition": d.task_definition,
                                "rollout_state": d.rollout_state,
                                "rollout_state_reason": d.rollout_state_reason,
                                "desired": d.desired,
                                "running": d.running,
                                "pending": d.pending,
                                "failed_tasks": d.failed_tasks,
                            })
                        })
                        .collect::<Vec<_>>()
                        .into(),
                );
            }
            Ok(vec![record])
        },
    )
    .await
}
