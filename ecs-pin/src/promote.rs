//! `promote`: run the image digests that --from's service runs (or that a record on stdin names)
//! in --to's service, as a new revision of --to's own task definition: its environment, secrets,
//! CPU, memory, roles and logging stay as they are.

use crate::args::PromoteArgs;
use crate::calls;
use crate::plan::{self, Step};
use crate::reads::{Depth, Reads};
use crate::{read_running, wait, Clients, Options, ServiceRef};
use shared::batch::{self, Outcome, Work};
use shared::config::{map_name, Project, Template};
use shared::input::Input;
use shared::output::Output;
use shared::record::{ContainerImage, EcsArtifact};
use shared::{Action, Error, ExitCode, Result, Service};

/// Where the images come from.
#[derive(Debug)]
enum Source {
    /// What this service runs now.
    Service(ServiceRef),
    /// The artifact of a record on stdin (a release manifest): exactly these digests.
    Record(Vec<ContainerImage>),
}

#[derive(Debug)]
struct Item {
    target: ServiceRef,
    source: Source,
}

pub(crate) async fn run(
    args: &PromoteArgs,
    project: Option<&Project>,
    input: Option<&Input>,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    if let Some(project) = project {
        project.position(&args.to)?;
        if let Some(from) = &args.from {
            project.position(from)?;
        }
    }
    let ecs = project.and_then(|p| p.ecs.as_ref());
    let cluster = match (&args.cluster, ecs) {
        (Some(pattern), _) => {
            Some(Template::parse(pattern).map_err(|e| Error::usage(format!("--cluster: {e}")))?)
        }
        (None, Some(ecs)) => Some(ecs.cluster.clone()),
        (None, None) => None,
    };
    let cluster = cluster.ok_or_else(|| {
        Error::usage("promote needs each environment's cluster: --cluster PATTERN (with {env}) or [ecs] cluster in promote.toml")
    })?;
    let service_templates: Vec<Template> = ecs.map(|e| e.services.clone()).unwrap_or_default();
    let env_before = match project {
        Some(p) if !p.order.is_empty() => p.env_before(&args.to)?.map(str::to_string),
        _ => None,
    };
    let wanted = |name: &str| args.services.is_empty() || args.services.iter().any(|s| s == name);

    let mut work: Vec<Work<'_, Result<Item>>> = Vec::new();
    if let Some(input) = input {
        for item in input.items(&[Service::Ecs]) {
            let Some(record) = batch::own(item, &mut work) else {
                continue;
            };
            let parsed = record.parse(input.origin())?;
            let origin = format!("{}:{}", input.origin(), record.line);
            let artifact: EcsArtifact = parsed
                .artifact
                .clone()
                .ok_or_else(|| Error::bad_input(&origin, "ecs record has no `artifact` to promote"))
                .and_then(|a| {
                    serde_json::from_value(a).map_err(|e| {
                        Error::bad_input(&origin, format!("ecs record's `artifact` is not {{\"task_definition\", \"images\"}}: {e}"))
                    })
                })?;
            if artifact.images.is_empty() {
                return Err(Error::bad_input(
                    &origin,
                    "ecs record's `artifact` names no images",
                ));
            }
            let source = ServiceRef::from_resource(&parsed.resource, parsed.env.clone())
                .map_err(|e| Error::bad_input(&origin, format!("`resource`: {e}")))?;
            if let (Some(from), Some(env)) = (&args.from, &parsed.env) {
                if from != env {
                    return Err(Error::bad_input(
                        &origin,
                        format!("the record is from {env}, but --from says {from}"),
                    ));
                }
            }
            let target = match &parsed.env {
                Some(env) => ServiceRef {
                    cluster: map_name(
                        std::slice::from_ref(&cluster),
                        &source.cluster,
                        env,
                        &args.to,
                    ),
                    service: map_name(&service_templates, &source.service, env, &args.to),
                    env: Some(args.to.clone()),
                },
                None => ServiceRef {
                    cluster: cluster.render(&args.to),
                    service: source.service.clone(),
                    env: Some(args.to.clone()),
                },
            };
            if !wanted(&target.service) {
                work.push(Work::PassThrough(shared::input::Passage::Text(record.raw)));
                continue;
            }
            let item = match (&env_before, &parsed.env, args.force) {
                (Some(before), Some(env), false) if before != env => Err(Error::precondition(format!(
                    "{origin}: {} is promoted into {} from {before} (promote.toml's order), but this record is \
                     from {env}; nothing changed (pass --force to promote it anyway)",
                    target.resource(),
                    args.to
                ))),
                _ => Ok(Item {
                    target,
                    source: Source::Record(artifact.images),
                }),
            };
            work.push(Work::Own(item));
        }
    } else {
        let from = args
            .from
            .clone()
            .or_else(|| env_before.clone())
            .ok_or_else(|| {
                Error::usage(format!(
                    "pass --from ENV ({} has no environment before it{})",
                    args.to,
                    if project.is_some() {
                        " in promote.toml's order"
                    } else {
                        ": there is no promote.toml"
                    }
                ))
            })?;
        let services: Vec<Template> = if args.services.is_empty() {
            if service_templates.is_empty() {
                return Err(Error::usage(
                    "name the services: --service S, or [ecs] services in promote.toml",
                ));
            }
            service_templates.clone()
        } else {
            args.services
                .iter()
                .map(|s| Template::parse(s).map_err(|e| Error::usage(format!("--service: {e}"))))
                .collect::<Result<_>>()?
        };
        for service in services {
            work.push(Work::Own(Ok(Item {
                target: ServiceRef {
                    cluster: cluster.render(&args.to),
                    service: service.render(&args.to),
                    env: Some(args.to.clone()),
                },
                source: Source::Service(ServiceRef {
                    cluster: cluster.render(&from),
                    service: service.render(&from),
                    env: Some(from.clone()),
                }),
            })));
        }
    }

    let key = |item: &Result<Item>| item.as_ref().ok().map(|i| i.target.resource());
    if args.atomic {
        out.remember_changes();
    }
    let reads = Reads::new(clients, opts.concurrency, Depth::Running);
    let reads = &reads;
    let code = batch::run_keyed(work, opts.concurrency, out, key, |item| async move {
        match item {
            Ok(item) => promote_one(item, args, reads, opts).await,
            Err(e) => Err(e).into(),
        }
    })
    .await?;
    // --atomic: a run that failed takes back what it changed, with the tool's own rollback.
    match out.take_changes() {
        Some(undo) if args.atomic && code != ExitCode::Success => {
            shared::cli::note("--atomic: the run failed; rolling back the changes it made");
            let undone = crate::rollback::run(
                &crate::args::RollbackArgs { wait: args.wait },
                &undo,
                clients,
                opts,
                out,
            )
            .await?;
            Ok(code.worst(undone))
        }
        _ => Ok(code),
    }
}

async fn promote_one(item: Item, args: &PromoteArgs, reads: &Reads<'_>, opts: Options) -> Outcome {
    let Item { target, source } = item;
    // Before any await: the items that start together are read together.
    if let Source::Service(service) = &source {
        reads.want(service);
    }
    reads.want(&target);
    let want = match source {
        Source::Record(images) => images,
        Source::Service(service) => match read_running(reads, &service).await {
            Ok(running) => running.artifact.images,
            Err(e) => return Err(e).into(),
        },
    };
    let running = match read_running(reads, &target).await {
        Ok(running) => running,
        Err(e) => return Err(e).into(),
    };
    let at = &running.at;
    let decided = plan::match_containers(&target.resource(), &want, &running.container_names())
        .and_then(|images| {
            Ok((
                plan::promote(
                    &target.resource(),
                    &running.artifact,
                    &images,
                    args.expect.as_deref(),
                )?,
                images,
            ))
        });
    let (step, images) = match decided {
        Ok(decided) => decided,
        Err(e) => return Err(e).into(),
    };
    let previous = &running.artifact;
    if step == Step::Unchanged {
        return Ok(vec![target.record(
            Action::Unchanged,
            at,
            Some(previous),
            Some(previous),
        )])
        .into();
    }
    if opts.dry_run {
        let planned = EcsArtifact {
            task_definition: None,
            images,
        };
        return Ok(vec![target.planned(
            Action::Promoted,
            at,
            Some(&planned),
            Some(previous),
        )])
        .into();
    }
    let arn = match calls::register(at, &running.definition, &running.tags, &images).await {
        Ok(arn) => arn,
        Err(e) => return Err(e).into(),
    };
    if let Err(e) = calls::update_service(at, &target.cluster, &target.service, &arn).await {
        return Err(e).into();
    }
    tracing::info!("{}: now runs {arn}", target.resource());
    let artifact = EcsArtifact {
        task_definition: Some(arn.clone()),
        images,
    };
    let records = vec![target.record(Action::Promoted, at, Some(&artifact), Some(previous))];
    if args.wait.wait {
        if let Err(e) = wait::until_deployed(
            at,
            &target.cluster,
            &target.service,
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
