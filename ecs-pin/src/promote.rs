//! `promote`: run the image digests that --from's service runs (or that a record on stdin names)
//! in --to's service, as a new revision of --to's own task definition: its environment, secrets,
//! CPU, memory, roles and logging stay as they are. Where the work comes from, the order, the two
//! phases, `--dry-run` and `--atomic` are the engine's (`shared::engine`); this module builds the
//! work list and `adapter` says how ECS does it.

use crate::adapter::{EcsPin, Item, Source};
use crate::args::PromoteArgs;
use crate::{Clients, Options, ServiceRef};
use shared::batch::{self, Work};
use shared::config::{map_name, Project, Template};
use shared::engine::{self, Asked, Job, Order, Settings, Stdin, Verdict};
use shared::input::{Input, Passage};
use shared::output::Output;
use shared::record::EcsArtifact;
use shared::{Error, ExitCode, Record, Result, Service};

/// The records promote takes as its work: `ecs` ones (an `ecr` record names no service).
const PROMOTED: &[Service] = &[Service::Ecs];

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
    let order = Order::of(project, args.force);
    // --service only narrows the work (of records, or of promote.toml's services): it is not a
    // source of its own, so an empty pipe is refused with it too.
    let source = engine::source::decide(
        "ecs-pin",
        Asked {
            names: false,
            live: args.from.is_some(),
        },
        Stdin::of(input, PROMOTED),
    )?;
    engine::check_upstream(input, PROMOTED, args.skip_failed, out)?;
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
    let env_before = order.before(&args.to)?.map(str::to_string);

    let mut work: Vec<Work<'_, Job<Item>>> = Vec::new();
    match source {
        engine::Source::Records | engine::Source::Nothing => {
            let input = input.ok_or_else(|| Error::usage("no input"))?;
            for item in input.items(PROMOTED) {
                let Some(record) = batch::own(item, &mut work) else {
                    continue;
                };
                let parsed = record.parse(input.origin())?;
                let origin = format!("{}:{}", input.origin(), record.line);
                let job =
                    job_from_record(&parsed, &origin, args, &order, &cluster, &service_templates)?;
                work.push(match job {
                    Some(job) => Work::Own(job),
                    // Another service than --service names: passed on as it came.
                    None => Work::PassThrough(Passage::Text(record.raw)),
                });
            }
            if source == engine::Source::Nothing {
                shared::cli::note(
                    "no ecs records on stdin: nothing to promote (the other records are passed on)",
                );
            }
        }
        engine::Source::Live | engine::Source::Names => {
            // --from must be the environment just before --to; without it, that environment.
            let subject = format!("promote --to {}", args.to);
            let (from, verdict) = match (&args.from, &env_before) {
                (Some(from), _) => (from.clone(), order.check_from(&subject, from, &args.to)?),
                (None, Some(before)) => (before.clone(), Verdict::ALLOWED),
                (None, None) => {
                    return Err(Error::usage(format!(
                        "pass --from ENV ({} has no environment before it{})",
                        args.to,
                        if project.is_some() {
                            " in promote.toml's order"
                        } else {
                            ": there is no promote.toml"
                        }
                    )))
                }
            };
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
                    .map(|s| {
                        Template::parse(s).map_err(|e| Error::usage(format!("--service: {e}")))
                    })
                    .collect::<Result<_>>()?
            };
            for service in services {
                let target = ServiceRef {
                    cluster: cluster.render(&args.to),
                    service: service.render(&args.to),
                    env: Some(args.to.clone()),
                };
                let source = Source::Service(ServiceRef {
                    cluster: cluster.render(&from),
                    service: service.render(&from),
                    env: Some(from.clone()),
                });
                work.push(Work::Own(
                    Job::new(target.target(None), Ok(Item::Promote { target, source }))
                        .verdict(verdict),
                ));
            }
        }
    }

    let adapter = EcsPin::new(clients, opts)
        .waiting(&args.wait)
        .expecting(args.expect.as_deref());
    engine::promote(
        &adapter,
        work,
        Settings {
            dry_run: opts.dry_run,
            concurrency: opts.concurrency,
            atomic: args.atomic,
            skip_failed: args.skip_failed,
        },
        out,
    )
    .await
}

/// An ecs record from stdin as a job: its digests are run in the same service (or the one
/// promote.toml maps it to) of --to's cluster, if the record comes from the environment before.
/// `None`: a service --service leaves out.
fn job_from_record(
    record: &Record,
    origin: &str,
    args: &PromoteArgs,
    order: &Order<'_>,
    cluster: &Template,
    service_templates: &[Template],
) -> Result<Option<Job<Item>>> {
    let artifact: EcsArtifact = record
        .artifact
        .clone()
        .ok_or_else(|| Error::bad_input(origin, "ecs record has no `artifact` to promote"))
        .and_then(|a| {
            serde_json::from_value(a).map_err(|e| {
                Error::bad_input(
                    origin,
                    format!(
                        "ecs record's `artifact` is not {{\"task_definition\", \"images\"}}: {e}"
                    ),
                )
            })
        })?;
    if artifact.images.is_empty() {
        return Err(Error::bad_input(
            origin,
            "ecs record's `artifact` names no images",
        ));
    }
    let source = ServiceRef::from_resource(&record.resource, record.env.clone())
        .map_err(|e| Error::bad_input(origin, format!("`resource`: {e}")))?;
    if let (Some(from), Some(env)) = (&args.from, &record.env) {
        if from != env {
            return Err(Error::bad_input(
                origin,
                format!("the record is from {env}, but --from says {from}"),
            ));
        }
    }
    let target = match &record.env {
        Some(env) => ServiceRef {
            cluster: map_name(
                std::slice::from_ref(cluster),
                &source.cluster,
                env,
                &args.to,
            ),
            service: map_name(service_templates, &source.service, env, &args.to),
            env: Some(args.to.clone()),
        },
        None => ServiceRef {
            cluster: cluster.render(&args.to),
            service: source.service.clone(),
            env: Some(args.to.clone()),
        },
    };
    if !args.services.is_empty() && !args.services.contains(&target.service) {
        return Ok(None);
    }
    let pointer = target.target(None);
    // The promotion order: a record must come from the environment just before --to.
    let subject = format!("{origin}: {}", target.resource());
    let verdict = match order.check_record(&subject, record.env.as_deref(), &args.to) {
        Ok(verdict) => verdict,
        Err(e) if e.exit_code() == ExitCode::Precondition => {
            return Ok(Some(Job::new(pointer, Err(e))))
        }
        Err(e) => return Err(e),
    };
    Ok(Some(
        Job::new(
            pointer,
            Ok(Item::Promote {
                target,
                source: Source::Record(artifact.images),
            }),
        )
        .verdict(verdict),
    ))
}
