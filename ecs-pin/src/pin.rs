//! `pin`: register a revision of a service's task definition with every image pinned by digest
//! (everything else as it was); with --deploy, make the service run it.

use crate::args::PinArgs;
use crate::calls;
use crate::reads::{Depth, Reads};
use crate::{read_running, wait, Clients, Options, ServiceRef};
use shared::batch::Outcome;
use shared::cli::report;
use shared::config::Project;
use shared::output::Output;
use shared::record::EcsArtifact;
use shared::{Action, ExitCode, Result};

pub(crate) async fn run(
    args: &PinArgs,
    project: Option<&Project>,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    let env = project.and_then(|p| {
        let ecs = p.ecs.as_ref()?;
        ecs.cluster
            .env_of(&args.cluster, &p.order)
            .map(str::to_string)
    });
    let service = ServiceRef {
        cluster: args.cluster.clone(),
        service: args.service.clone(),
        env,
    };
    let outcome = pin(args, &service, clients, opts).await;
    for record in &outcome.records {
        out.record(record)?;
    }
    match outcome.error {
        None => Ok(ExitCode::Success),
        Some(e) => {
            report(&e);
            Ok(e.exit_code())
        }
    }
}

async fn pin(
    args: &PinArgs,
    service: &ServiceRef,
    clients: &Clients<'_>,
    opts: Options,
) -> Outcome {
    let reads = Reads::new(clients, 1, Depth::Running);
    reads.want(service);
    let running = match read_running(&reads, service).await {
        Ok(running) => running,
        Err(e) => return Err(e).into(),
    };
    let at = &running.at;
    let current = &running.artifact;
    // Pinned already: every container names exactly its image by digest.
    let pinned = running
        .definition
        .container_definitions()
        .iter()
        .zip(&current.images)
        .all(|(c, i)| c.image() == Some(i.image.as_str()));
    let deployed = !args.deploy
        || crate::plan::same_task_definition(
            &running.state.task_definition,
            current.task_definition.as_deref().unwrap_or_default(),
        );
    // Without --deploy, no pointer moves: the record is about a new artifact only.
    let record = |action, artifact: &EcsArtifact, previous: Option<&EcsArtifact>| {
        let mut record = service.record(action, at, Some(artifact), previous);
        if !args.deploy {
            record.pointer = None;
        }
        record
    };

    if pinned && deployed {
        return Ok(vec![record(Action::Unchanged, current, Some(current))]).into();
    }
    let previous = args.deploy.then_some(current);
    if opts.dry_run {
        let planned = EcsArtifact {
            task_definition: if pinned {
                current.task_definition.clone()
            } else {
                None
            },
            images: current.images.clone(),
        };
        return Ok(vec![
            record(Action::Published, &planned, previous).into_planned(Action::Published)
        ])
        .into();
    }
    let arn = if pinned {
        current.task_definition.clone().unwrap_or_default()
    } else {
        match calls::register(at, &running.definition, &running.tags, &current.images).await {
            Ok(arn) => arn,
            Err(e) => return Err(e).into(),
        }
    };
    let artifact = EcsArtifact {
        task_definition: Some(arn.clone()),
        images: current.images.clone(),
    };
    if !args.deploy {
        return Ok(vec![record(Action::Published, &artifact, None)]).into();
    }
    if let Err(e) = calls::update_service(at, &service.cluster, &service.service, &arn).await {
        // The new revision exists but nothing runs it: say so, the service did not change.
        let mut r = record(Action::Published, &artifact, None);
        r.pointer = None;
        return Outcome::partial(vec![r], e);
    }
    let records = vec![record(Action::Published, &artifact, previous)];
    if args.wait.wait {
        if let Err(e) = wait::until_deployed(
            at,
            &service.cluster,
            &service.service,
            &arn,
            &args.wait,
            opts.quiet,
        )
        .await
        {
            return Outcome::partial(records, e);
        }
    }
    Ok(records).into()
}
