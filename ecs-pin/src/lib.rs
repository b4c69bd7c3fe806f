//! ecs-pin: on ECR an image is immutable per digest and a tag is a movable label; an ECS service
//! runs a task definition that names images. ecs-pin resolves tags to digests, retags without
//! re-pushing, pins task definitions by digest, and promotes exactly the digests one environment
//! runs into the next environment's own task definition, keeping that environment's configuration.
//!
//! Layout: `args` (the command line), `plan` (the decisions, pure), `calls` (ECR/ECS writes and
//! clients), `reads` (a command's reads of its services, batched and remembered), `digests` (tags
//! to digests; references are parsed by `shared::image`), `adapter` (how ECS and ECR moves go
//! through `shared::engine`), one module per subcommand.

mod adapter;
pub mod args;
pub mod calls;
mod copy;
pub mod digests;
mod history;

mod pin;
pub mod plan;
mod promote;
mod reads;
mod resolve;
mod rollback;
mod status;
mod tag;
pub mod wait;

use args::ServiceArgs;
pub use args::{Cli, Command};
use aws_sdk_ecs::types::{Tag, TaskDefinition};
pub use calls::Clients;
use calls::Located;
use reads::Reads;
use shared::arn::{EcsCluster, EcsService};
pub use shared::cli::Options;
use shared::cli::{CommonArgs, Context, Tool};
use shared::config::{Project, Template};
use shared::ecs::ServiceState;
use shared::engine::Target;
use shared::input::Input;
use shared::output::Output;
use shared::record::EcsArtifact;
use shared::{Action, Error, ExitCode, Record, Result, Service};

impl Tool for Cli {
    const SERVICES: &'static [Service] = &[Service::Ecs, Service::Ecr];
    const EXAMPLES: &'static str = "\
  ecs-pin --resolve-digest --env staging         # what staging runs
  ecs-pin promote --from staging --to prod --wait   # those digests in prod
  ecs-pin history --env prod --limit 5           # what prod ran before
  ecs-pin rollback < promoted.ndjson             # the definitions before";
    const CHANGES: &'static [&'static str] = &["tag", "pin", "promote", "rollback"];
    fn common(&self) -> &CommonArgs {
        &self.common
    }

    fn mutates(&self) -> bool {
        matches!(
            self.command,
            Some(Command::Tag(_) | Command::Pin(_) | Command::Promote(_) | Command::Rollback(_))
        )
    }

    async fn run(self, ctx: &mut Context) -> Result<ExitCode> {
        let reads_stdin = matches!(
            &self.command,
            Some(Command::Rollback(_)) | Some(Command::Promote(_))
        );
        // An empty pipe is `Some` of no records: promote refuses it, rollback says so.
        let input = ctx.input(reads_stdin)?;
        let clients = calls::clients(&ctx.aws);
        let opts = ctx.opts;
        let invocation = Invocation {
            resolve_digest: self.resolve_digest,
            services: self.services,
            command: self.command,
        };
        execute(
            invocation,
            ctx.project.as_ref(),
            input.as_ref(),
            &clients,
            opts,
            &mut ctx.out,
        )
        .await
    }
}

/// What was asked for: a subcommand, or the top-level `--resolve-digest`.
#[derive(Debug)]
pub struct Invocation {
    pub resolve_digest: bool,
    pub services: ServiceArgs,
    pub command: Option<Command>,
}

impl From<Cli> for Invocation {
    fn from(cli: Cli) -> Self {
        Invocation {
            resolve_digest: cli.resolve_digest,
            services: cli.services,
            command: cli.command,
        }
    }
}

/// Run one invocation: the whole tool without its process (the entry point, and tests that give
/// it SDK-level mock clients).
pub async fn execute(
    invocation: Invocation,
    project: Option<&Project>,
    input: Option<&Input>,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    // The top-level flags of --resolve-digest name services only for it: a subcommand takes its
    // own (which would otherwise be ignored in silence).
    if invocation.command.is_some() {
        let services = &invocation.services;
        if invocation.resolve_digest
            || services.env.is_some()
            || services.cluster.is_some()
            || !services.services.is_empty()
        {
            return Err(Error::usage(
                "--resolve-digest and its --env, --cluster and --service go without a subcommand; \
                 a subcommand takes its own after its name (ecs-pin status --env staging)",
            ));
        }
    }
    match invocation.command {
        None if invocation.resolve_digest => {
            status::run(&invocation.services, false, project, clients, opts, out).await
        }
        None => Err(Error::usage(
            "name a command (resolve-digest, resolve, tag, pin, promote, rollback, status, history); see ecs-pin --help",
        )),
        Some(Command::ResolveDigest(args)) => {
            status::run(&args, false, project, clients, opts, out).await
        }
        Some(Command::Resolve(args)) => resolve::run(&args, clients, out).await,
        Some(Command::Tag(args)) => tag::run(&args, clients, opts, out).await,
        Some(Command::Pin(args)) => pin::run(&args, project, clients, opts, out).await,
        Some(Command::Promote(args)) => promote::run(&args, project, input, clients, opts, out).await,
        Some(Command::Rollback(args)) => {
            let input = input.ok_or_else(|| {
                Error::usage("rollback reads the records to undo on stdin: ecs-pin rollback < promoted.ndjson")
            })?;
            rollback::run(&args, input, clients, opts, out).await
        }
        Some(Command::Status(args)) => status::run(&args, true, project, clients, opts, out).await,
        Some(Command::History(args)) => {
            history::run(&args, project, clients, opts.concurrency, out).await
        }
    }
}

/// One service of one cluster: the pointer an `ecs` record is about. Its names are the canonical
/// ones (records print `CLUSTER/SERVICE` whatever form named it); `region` is where an ARN (or a
/// record) says it lives, which is where its calls go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceRef {
    pub cluster: String,
    pub service: String,
    pub env: Option<String>,
    pub region: Option<String>,
}

impl ServiceRef {
    /// `CLUSTER/SERVICE`, the record's `resource`.
    pub fn resource(&self) -> String {
        format!("{}/{}", self.cluster, self.service)
    }

    /// A service as a flag or promote.toml names it (a name or an ARN), in `cluster` (a name or
    /// an ARN).
    pub fn named(service: &str, cluster: &str, env: Option<String>) -> Result<ServiceRef> {
        let parsed = EcsService::parse_in(service, Some(cluster)).map_err(Error::usage)?;
        Ok(ServiceRef {
            cluster: parsed.cluster,
            service: parsed.service,
            env,
            region: parsed.place.region,
        })
    }

    /// Parse a record's `resource`: `CLUSTER/SERVICE` or a service ARN. The record's `region`
    /// stands where the ARN names none.
    pub fn from_resource(
        resource: &str,
        env: Option<String>,
        region: Option<&str>,
    ) -> std::result::Result<ServiceRef, String> {
        let parsed = EcsService::parse(resource)?;
        Ok(ServiceRef {
            cluster: parsed.cluster,
            service: parsed.service,
            env,
            region: parsed.place.region.or_else(|| region.map(str::to_string)),
        })
    }

    /// The service as the engine knows it: its pointer is the service's name.
    pub fn target(&self, region: Option<&str>) -> Target {
        Target::new(Service::Ecs, self.resource(), &self.service)
            .env(self.env.as_deref())
            .region(region)
    }

    /// A record about this service.
    pub fn record(
        &self,
        action: Action,
        at: &Located,
        artifact: Option<&EcsArtifact>,
        previous: Option<&EcsArtifact>,
    ) -> Record {
        self.target(at.region.as_deref())
            .record(action, artifact, previous)
    }

    /// A dry run's record.
    pub fn planned(
        &self,
        would: Action,
        at: &Located,
        artifact: Option<&EcsArtifact>,
        previous: Option<&EcsArtifact>,
    ) -> Record {
        self.target(at.region.as_deref())
            .planned(would, artifact, previous)
    }
}

/// A tag of an ECR repository as the engine knows it (`tag` None: an image named by digest).
pub(crate) fn tag_target(repository: &str, tag: Option<&str>, region: Option<&str>) -> Target {
    let mut target = Target::new(Service::Ecr, repository, tag.unwrap_or_default()).region(region);
    target.pointer = tag.map(str::to_string);
    target
}

/// What a service runs now, read in full: where it is, its state, its task definition (and the
/// definition's tags), and the artifact: that definition with every image pinned by digest.
#[derive(Debug)]
pub(crate) struct Running {
    pub at: Located,
    pub state: ServiceState,
    pub definition: TaskDefinition,
    pub tags: Vec<Tag>,
    pub artifact: EcsArtifact,
    /// Where the digests were read ([`read_what_runs`]); `None`: from ECR, not asked further.
    pub what_runs: Option<plan::WhatRuns>,
}

impl Running {
    /// The containers' names, in the definition's order.
    pub fn container_names(&self) -> Vec<String> {
        self.definition
            .container_definitions()
            .iter()
            .map(|c| c.name().unwrap_or_default().to_string())
            .collect()
    }
}

/// Read what `service` runs. A service that does not exist is a refusal (exit 4) naming it.
/// The work item should have said it [wants](reads::Reads::want) the service as it started.
pub(crate) async fn read_running(
    reads: &Reads<'_>,
    service: &ServiceRef,
    outside: digests::OutsideEcr,
) -> Result<Running> {
    let (at, state) = reads.state(service).await?;
    let state = state.ok_or_else(|| {
        Error::precondition(format!("service {} does not exist", service.resource()))
    })?;
    let (definition, tags) = reads
        .memos
        .of(&at)
        .task_definition(&at.client.ecs, &state.task_definition)
        .await?;
    let containers: Vec<(String, String)> = definition
        .container_definitions()
        .iter()
        .map(|c| {
            (
                c.name().unwrap_or_default().to_string(),
                c.image().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let images = digests::pin_containers(
        reads.clients,
        &reads.memos,
        service.env.as_deref(),
        &service.resource(),
        &containers,
        outside,
    )
    .await?;
    let artifact = EcsArtifact {
        // What ECS answers for the service is the definition's own ARN where it has it.
        task_definition: Some(
            definition
                .task_definition_arn()
                .unwrap_or(&state.task_definition)
                .to_string(),
        ),
        images,
    };
    Ok(Running {
        at,
        state,
        definition,
        tags,
        artifact,
        what_runs: None,
    })
}

/// What `service` runs, as its tasks report it: where its definition names a tag, the digest
/// its running tasks run (someone may have moved the tag since they started), not the one the
/// tag names now. No task running: ECR's answer, with a warning.
pub(crate) async fn read_what_runs(reads: &Reads<'_>, service: &ServiceRef) -> Result<Running> {
    let mut running = read_running(reads, service, digests::OutsideEcr::Refuse).await?;
    let tagged: Vec<(String, String, String)> = running
        .definition
        .container_definitions()
        .iter()
        .zip(&running.artifact.images)
        .filter(|(c, _)| {
            shared::image::ImageRef::parse(c.image().unwrap_or_default())
                .is_ok_and(|r| r.digest.is_none())
        })
        .map(|(c, i)| {
            (
                i.container.clone(),
                c.image().unwrap_or_default().to_string(),
                i.digest.clone(),
            )
        })
        .collect();
    let tasks = if tagged.is_empty() {
        Vec::new()
    } else {
        shared::ecs::running_tasks(
            &running.at.client.ecs,
            &service.cluster,
            &service.service,
            &running.state.task_definition,
        )
        .await?
        .into_iter()
        .map(|t| t.containers)
        .collect()
    };
    let what = plan::what_runs(&tagged, &tasks);
    if what.source == plan::DigestSource::Registry {
        tracing::warn!(
            "{}: no task runs, so its digests are what its tags name in ECR now",
            service.resource()
        );
    }
    for (container, digest) in &what.digests {
        if let Some(image) = running
            .artifact
            .images
            .iter_mut()
            .find(|i| &i.container == container)
        {
            let base = image
                .image
                .rsplit_once('@')
                .map_or(image.image.as_str(), |(b, _)| b);
            image.image = format!("{base}@{digest}");
            image.digest.clone_from(digest);
        }
    }
    running.what_runs = Some(what);
    Ok(running)
}

impl Running {
    /// `digest_source` and, when the tasks and the tags disagree, `digest_note`, on `record`.
    pub fn annotate(&self, record: &mut Record) {
        if let Some(what) = &self.what_runs {
            record
                .extra
                .insert("digest_source".into(), what.source.as_str().into());
            if let Some(note) = &what.note {
                record
                    .extra
                    .insert("digest_note".into(), note.clone().into());
            }
        }
    }
}

/// The services a command names: --cluster and --service, else promote.toml's [ecs] for --env.
pub(crate) fn services(args: &ServiceArgs, project: Option<&Project>) -> Result<Vec<ServiceRef>> {
    if let (Some(project), Some(env)) = (project, &args.env) {
        project.position(env)?;
    }
    let ecs = project.and_then(|p| p.ecs.as_ref());
    let render = |pattern: &str, what: &str| -> Result<String> {
        let template =
            Template::parse(pattern).map_err(|e| Error::usage(format!("--{what}: {e}")))?;
        match &args.env {
            Some(env) => Ok(template.render(env)),
            None if template.varies_by_env() => Err(Error::usage(format!(
                "--{what} {pattern:?} needs --env ENV"
            ))),
            None => Ok(template.render("")),
        }
    };
    let cluster = match (&args.cluster, ecs, &args.env) {
        (Some(cluster), _, _) => render(cluster, "cluster")?,
        (None, Some(ecs), Some(env)) => ecs.cluster.render(env),
        (None, Some(_), None) => {
            return Err(Error::usage(
                "pass --env ENV (promote.toml's [ecs] names each environment's cluster), or --cluster C --service S",
            ))
        }
        (None, None, _) => {
            return Err(Error::usage(
                "name the service: --cluster C --service S, or --env ENV with an [ecs] section in promote.toml",
            ))
        }
    };
    let names: Vec<String> =
        if args.services.is_empty() {
            match (ecs, &args.env) {
                (Some(ecs), Some(env)) if !ecs.services.is_empty() => {
                    ecs.services.iter().map(|s| s.render(env)).collect()
                }
                _ => return Err(Error::usage(
                    "name the service with --service S (or list [ecs] services in promote.toml)",
                )),
            }
        } else {
            args.services
                .iter()
                .map(|s| render(s, "service"))
                .collect::<Result<_>>()?
        };
    // The environment of records: as given, else the one whose cluster this is.
    let env = args
        .env
        .clone()
        .or_else(|| env_of_cluster(project, &cluster));
    names
        .into_iter()
        .map(|service| ServiceRef::named(&service, &cluster, env.clone()))
        .collect()
}

/// The environment whose cluster (in promote.toml's [ecs]) `cluster` is, by name or ARN.
pub(crate) fn env_of_cluster(project: Option<&Project>, cluster: &str) -> Option<String> {
    let project = project?;
    let template = &project.ecs.as_ref()?.cluster;
    let name = EcsCluster::parse(cluster).ok()?.name;
    project
        .order
        .iter()
        .find(|env| EcsCluster::parse(&template.render(env)).is_ok_and(|c| c.name == name))
        .cloned()
}
