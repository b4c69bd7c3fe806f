//! `promote`: run the image digests that --from's service runs (or that a record on stdin names)
//! in --to's service, as a new revision of --to's own task definition: its environment, secrets,
//! CPU, memory, roles and logging stay as they are. Where the work comes from, the order, the two
//! phases, `--dry-run` and `--atomic` are the engine's (`shared::engine`); this module builds the
//! work list and `adapter` says how ECS does it.

use crate::adapter::{Artifact, EcsPin, Item, Source};
use crate::args::PromoteArgs;
use crate::{Clients, Options, ServiceRef};
use shared::arn::EcsCluster;
use shared::batch::Work;
use shared::config::{Project, Template};
use shared::engine::{self, Asked, Job, Order, Settings, Stdin, Target};
use shared::input::Input;
use shared::output::Output;
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

    let adapter = EcsPin::new(clients, opts)
        .waiting(&args.wait)
        .expecting(args.expect.as_deref())
        .forcing(args.force)
        .sharing(
            project
                .and_then(|p| p.ecr.as_ref())
                .and_then(|e| e.registry.clone()),
        );
    let mut work: Vec<Work<'_, Job<Item>>> = Vec::new();
    match source {
        engine::Source::Records | engine::Source::Nothing => {
            let input = input.ok_or_else(|| Error::usage("no input"))?;
            work = engine::record_jobs(
                &adapter,
                input,
                PROMOTED,
                args.from.as_deref(),
                &args.to,
                &order,
                |record, artifact, origin| {
                    item_from_record(record, artifact, origin, args, &cluster, &service_templates)
                },
            )?;
        }
        engine::Source::Live | engine::Source::Names => {
            // --from must be the environment just before --to; without it, that environment.
            let (from, verdict) = order.source_env(args.from.as_deref(), &args.to, "")?;
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
                let target = ServiceRef::named(
                    &service.render(&args.to),
                    &cluster.render(&args.to),
                    Some(args.to.clone()),
                )?;
                let source = Source::Service(ServiceRef::named(
                    &service.render(&from),
                    &cluster.render(&from),
                    Some(from.clone()),
                )?);
                work.push(Work::Own(
                    Job::new(target.target(None), Ok(Item::Promote { target, source }))
                        .verdict(verdict),
                ));
            }
        }
    }

    let adapter = adapter.gated(deployment_alarms(args, clients).await?);
    engine::promote(
        &adapter,
        work,
        Settings::of(opts, args.atomic, args.skip_failed),
        out,
    )
    .await
}

/// `--alarm`: the alarms, by name, that --to's CloudWatch has for the patterns (`{env}` is --to),
/// read before anything is written. A pattern that matches no alarm is exit 4: a typo must not
/// leave a deployment ungated.
async fn deployment_alarms(
    args: &PromoteArgs,
    clients: &Clients<'_>,
) -> Result<Option<Vec<String>>> {
    if args.alarms.is_empty() {
        return Ok(None);
    }
    let gate = shared::alarms::Gate {
        patterns: args
            .alarms
            .iter()
            .map(|a| a.replace("{env}", &args.to))
            .collect(),
        insufficient_data_fails: false,
    };
    let config = clients
        .config(Some(&args.to), None)
        .await?
        .ok_or_else(|| Error::usage("--alarm needs CloudWatch in --to's environment"))?;
    let found = shared::alarms::read(&aws_sdk_cloudwatch::Client::new(&config), &gate).await?;
    Ok(Some(found.into_iter().map(|a| a.name).collect()))
}

/// An ecs record from stdin as an item: its digests are run in the same service (or the one
/// promote.toml maps it to) of --to's cluster. `None`: a service --service leaves out.
fn item_from_record(
    record: &Record,
    artifact: Artifact,
    origin: &str,
    args: &PromoteArgs,
    cluster: &Template,
    service_templates: &[Template],
) -> Result<Option<(Target, Item)>> {
    let Artifact::Ecs(artifact) = artifact else {
        return Err(Error::bad_input(origin, "not an ecs record"));
    };
    if artifact.images.is_empty() {
        return Err(Error::bad_input(
            origin,
            "ecs record's `artifact` names no images",
        ));
    }
    let source = ServiceRef::from_resource(&record.resource, record.env.clone(), None)
        .map_err(|e| Error::bad_input(origin, format!("`resource`: {e}")))?;
    // The same service in --to, by name whatever form (name or ARN) promote.toml writes.
    fn mapped<T>(r: std::result::Result<T, String>) -> Result<T> {
        r.map_err(|e| Error::usage(format!("promote.toml [ecs]: {e}")))
    }
    let (cluster, service) = match &record.env {
        Some(env) => (
            mapped(shared::ecs::cluster_in(
                std::slice::from_ref(cluster),
                &source.cluster,
                env,
                &args.to,
            ))?,
            mapped(shared::ecs::service_in(
                service_templates,
                &source.service,
                env,
                &args.to,
            ))?,
        ),
        None => (
            mapped(EcsCluster::parse(&cluster.render(&args.to)))?,
            source.service.clone(),
        ),
    };
    let target = ServiceRef {
        cluster: cluster.name,
        service,
        env: Some(args.to.clone()),
        region: cluster.place.region,
    };
    let wanted = |s: &String| {
        ServiceRef::named(s, &target.cluster, None)
            .is_ok_and(|named| named.service == target.service)
    };
    if !args.services.is_empty() && !args.services.iter().any(wanted) {
        return Ok(None);
    }
    Ok(Some((
        target.target(None),
        Item::Promote {
            target,
            source: Source::Record {
                images: artifact.images,
                env: record.env.clone(),
            },
        },
    )))
}
