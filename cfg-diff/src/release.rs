//! `cfg-diff release`: the release at a glance. For every pointer promote.toml lists, what each
//! environment of the order holds (read with that environment's own credentials, through the
//! shared reads every tool's `status` uses), and how each stands to the one before it
//! (`relation`). One `release` record per pointer in a pipe; a table or an HTML page for people
//! (`view`). Only artifacts are read and shown: never a configuration value.

use crate::args::ReleaseArgs;
use crate::gather::{self, Clients, Services};
use crate::relation::{self, ApigatewayHeld, EcsHeld, LambdaHeld, Relation, S3Held, SfnHeld};
use crate::view;
use futures::StreamExt;
use serde_json::{json, Value as Json};
use shared::config::{Project, Template};
use shared::output::{Format, Output};
use shared::record::{ApigatewayArtifact, CanaryArtifact, ContainerImage, EcsArtifact};
use shared::{Action, Error, ExitCode, Record, Result, Service};

type Located = shared::aws::Located<Services>;

/// The kind of pointer, as the record's `source` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Lambda,
    Ecs,
    Apigateway,
    S3,
    Stepfunctions,
}

impl Kind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Lambda => "lambda",
            Kind::Ecs => "ecs",
            Kind::Apigateway => "apigateway",
            Kind::S3 => "s3",
            Kind::Stepfunctions => "stepfunctions",
        }
    }

    fn service(self) -> Service {
        match self {
            Kind::Lambda => Service::Lambda,
            Kind::Ecs => Service::Ecs,
            Kind::Apigateway => Service::Apigateway,
            Kind::S3 => Service::S3,
            Kind::Stepfunctions => Service::Stepfunctions,
        }
    }
}

/// One pointer of promote.toml, as its templates name it (`orders-api-{env}`, `{env}`).
#[derive(Debug, Clone)]
pub struct Pointer {
    pub kind: Kind,
    resource: Template,
    /// The pointer's own template; for ECS the service, for S3 the key.
    pointer: Template,
    /// ECS: the cluster's template; S3: the bucket's.
    owner: Option<Template>,
}

impl Pointer {
    /// The resource, as promote.toml writes it.
    #[must_use]
    pub fn resource(&self) -> String {
        match (self.kind, &self.owner) {
            (Kind::Ecs, Some(cluster)) => {
                format!("{}/{}", cluster.pattern(), self.pointer.pattern())
            }
            _ => self.resource.pattern().to_string(),
        }
    }

    /// The pointer, as promote.toml writes it.
    #[must_use]
    pub fn pointer(&self) -> String {
        self.pointer.pattern().to_string()
    }

    /// The resource and pointer in one environment.
    fn names(&self, env: &str) -> (String, String) {
        match (self.kind, &self.owner) {
            (Kind::Ecs, Some(cluster)) => (
                format!("{}/{}", cluster.render(env), self.pointer.render(env)),
                self.pointer.render(env),
            ),
            (Kind::S3, _) => {
                let location = self.resource.render(env);
                let bare = location.strip_prefix("s3://").unwrap_or(&location);
                let key = bare.split_once('/').map_or("", |(_, k)| k).to_string();
                (bare.to_string(), key)
            }
            _ => (self.resource.render(env), self.pointer.render(env)),
        }
    }
}

/// What one environment holds of one pointer, with what judging it needs.
#[derive(Debug, Clone)]
pub enum Facts {
    Lambda(LambdaHeld),
    Ecs(EcsHeld),
    /// The stage, and its API's deployments, newest first.
    Apigateway(ApigatewayHeld, Vec<String>),
    S3(S3Held),
    Stepfunctions(SfnHeld),
}

/// One environment's cell of a pointer's row.
#[derive(Debug)]
pub struct Cell {
    pub env: String,
    pub resource: String,
    pub pointer: String,
    pub account: Option<String>,
    pub region: Option<String>,
    /// `Ok(None)`: the pointer does not exist here (`note` says what is missing).
    pub read: std::result::Result<Option<(Json, Facts)>, Error>,
    pub note: Option<String>,
    /// `None` for the first environment of the order.
    pub relation: Option<Relation>,
    pub(crate) at: Option<Located>,
}

/// One pointer across the order.
#[derive(Debug)]
pub struct Row {
    pub pointer: Pointer,
    pub cells: Vec<Cell>,
}

/// Every pointer promote.toml lists, in the order of its sections.
#[must_use]
pub fn pointers(project: &Project) -> Vec<Pointer> {
    let mut all = Vec::new();
    if let Some(lambda) = &project.lambda {
        for f in &lambda.functions {
            all.push(Pointer {
                kind: Kind::Lambda,
                resource: f.clone(),
                pointer: lambda.alias.clone(),
                owner: None,
            });
        }
    }
    if let Some(ecs) = &project.ecs {
        for s in &ecs.services {
            all.push(Pointer {
                kind: Kind::Ecs,
                resource: s.clone(),
                pointer: s.clone(),
                owner: Some(ecs.cluster.clone()),
            });
        }
    }
    if let Some(api) = &project.apigateway {
        all.push(Pointer {
            kind: Kind::Apigateway,
            resource: api.rest_api.clone(),
            pointer: api.stage.clone(),
            owner: None,
        });
    }
    if let Some(s3) = &project.s3 {
        for o in &s3.objects {
            all.push(Pointer {
                kind: Kind::S3,
                resource: o.clone(),
                pointer: o.clone(),
                owner: None,
            });
        }
    }
    if let Some(sfn) = &project.stepfunctions {
        for m in &sfn.state_machines {
            all.push(Pointer {
                kind: Kind::Stepfunctions,
                resource: m.clone(),
                pointer: sfn.alias.clone(),
                owner: None,
            });
        }
    }
    all
}

/// `cfg-diff release`: read, judge, print; the exit code as `--check` asks.
pub async fn run(
    args: &ReleaseArgs,
    project: Option<&Project>,
    clients: &Clients<'_>,
    concurrency: usize,
    out: &mut Output,
) -> Result<ExitCode> {
    let project = project.ok_or_else(|| {
        Error::usage(
            "cfg-diff release needs promote.toml (none in this directory; pass --config PATH)",
        )
    })?;
    let order = &project.order;
    let checked = match &args.check {
        Some(env) => {
            let position = order.iter().position(|e| e == env).ok_or_else(|| {
                Error::precondition(format!(
                    "--check {env}: {env} is not in {}'s [envs] order ({})",
                    project.path.display(),
                    order.join(", ")
                ))
            })?;
            if position == 0 {
                return Err(Error::usage(format!(
                    "--check {env}: {env} is the first environment of the order; there is no \
                     environment before it to compare with"
                )));
            }
            Some(position)
        }
        None => None,
    };
    let pointers = pointers(project);
    if pointers.is_empty() {
        return Err(Error::usage(
            "nothing to show: promote.toml lists no [lambda], [ecs], [apigateway], [s3] or [stepfunctions] pointers",
        ));
    }
    // Every (pointer, environment) read concurrently, in their order.
    let jobs: Vec<(usize, &str)> = (0..pointers.len())
        .flat_map(|p| order.iter().map(move |env| (p, env.as_str())))
        .collect();
    let pointers_ref = &pointers;
    let mut cells: Vec<Cell> = futures::stream::iter(
        jobs.into_iter()
            .map(|(p, env)| async move { read_cell(clients, &pointers_ref[p], env).await }),
    )
    .buffered(concurrency.max(1))
    .collect()
    .await;
    let mut rows = Vec::new();
    for pointer in pointers {
        let rest = cells.split_off(order.len().min(cells.len()));
        let row_cells = std::mem::replace(&mut cells, rest);
        rows.push(Row {
            pointer,
            cells: row_cells,
        });
    }
    for row in &mut rows {
        judge(row).await;
    }

    let mut worst = ExitCode::Success;
    for row in &rows {
        for cell in &row.cells {
            if let Err(e) = &cell.read {
                shared::cli::report(e);
                worst = worst.worst(e.exit_code());
            }
        }
        if let Some(i) = checked {
            if row.cells.get(i).and_then(|c| c.relation) != Some(Relation::Same) {
                worst = worst.worst(ExitCode::Drift);
            }
        }
    }
    match out.format() {
        Format::Html => out.document(&view::html(&rows, order, project))?,
        // The release view's own table (environments as columns) serves both table forms.
        Format::Table | Format::Wide => {
            out.document(&view::table(&rows, order, out.colour(), out.width()))?;
        }
        Format::Ndjson | Format::Json => {
            for row in &rows {
                for cell in &row.cells {
                    if let Err(e) = &cell.read {
                        out.record(&error_record(row, cell, e))?;
                    }
                }
                out.record(&record(row))?;
            }
        }
    }
    Ok(worst)
}

fn error_record(row: &Row, cell: &Cell, error: &Error) -> Record {
    let mut r = Record::new(row.pointer.kind.service(), Action::Resolved, &cell.resource);
    r.env = Some(cell.env.clone());
    r.pointer = Some(cell.pointer.clone());
    r.account.clone_from(&cell.account);
    r.region.clone_from(&cell.region);
    r.into_error(error)
}

/// The `release` record of one pointer.
#[must_use]
pub fn record(row: &Row) -> Record {
    let mut r = Record::new(Service::Config, Action::Resolved, row.pointer.resource());
    r.pointer = Some(row.pointer.pointer());
    r.extra.insert("view".into(), "release".into());
    r.extra
        .insert("source".into(), row.pointer.kind.as_str().into());
    let environments: Vec<Json> = row
        .cells
        .iter()
        .map(|cell| {
            let mut e = json!({
                "env": cell.env,
                "resource": cell.resource,
                "pointer": cell.pointer,
                "account": cell.account,
                "region": cell.region,
                "artifact": cell.read.as_ref().ok().and_then(|r| r.as_ref().map(|(a, _)| a.clone())),
                "relation": cell.relation.map(Relation::as_str),
            });
            if let Err(error) = &cell.read {
                e["error"] = error.to_string().into();
            }
            if let Some(note) = &cell.note {
                e["note"] = note.clone().into();
            }
            e
        })
        .collect();
    r.extra.insert("environments".into(), environments.into());
    r
}

async fn read_cell(clients: &Clients<'_>, pointer: &Pointer, env: &str) -> Cell {
    let (resource, name) = pointer.names(env);
    let mut cell = Cell {
        env: env.to_string(),
        resource,
        pointer: name,
        account: shared::aws::account_of(Some(env)),
        region: None,
        read: Ok(None),
        note: None,
        relation: None,
        at: None,
    };
    let at = match clients.get(Some(env), None).await {
        Ok(at) => at,
        Err(e) => {
            cell.read = Err(e);
            return cell;
        }
    };
    cell.account.clone_from(&at.account);
    cell.region.clone_from(&at.region);
    let read = read_one(&at, pointer, env).await;
    cell.at = Some(at);
    cell.read = match read {
        // What does not exist (a function, an API, a key) is a missing pointer, not a failure.
        Err(Error::Precondition(message)) => {
            cell.note = Some(message);
            Ok(None)
        }
        other => other,
    };
    cell
}

async fn read_one(at: &Located, pointer: &Pointer, env: &str) -> Result<Option<(Json, Facts)>> {
    let services = &at.client;
    match pointer.kind {
        Kind::Stepfunctions => {
            let (name, alias) = pointer.names(env);
            let machine = shared::arn::StateMachine::parse(&name).map_err(Error::usage)?;
            let (Some(region), Some(account)) = (&at.region, &at.account) else {
                return Err(Error::usage(format!(
                    "state machine {name}: the account and region of the credentials are not \
                     known, so name it by ARN"
                )));
            };
            let arn = machine.arn(region, account);
            let Some(held) = shared::sfn::get_alias(&services.sfn, &arn, &alias).await? else {
                return Ok(None);
            };
            let version = held.routing.version.clone();
            let described =
                shared::sfn::describe(&services.sfn, &shared::sfn::version_arn(&arn, &version))
                    .await?;
            let sha = described
                .as_ref()
                .map(shared::sfn::Described::definition_sha256)
                .unwrap_or_default();
            let artifact = held.artifact(&arn, sha.clone());
            Ok(Some((
                shared::record::to_value(&artifact),
                Facts::Stepfunctions(SfnHeld {
                    machine: arn,
                    version,
                    definition_sha256: sha,
                    published: described.and_then(|d| d.created_at),
                }),
            )))
        }
        Kind::Lambda => {
            let function = pointer.resource.render(env);
            let alias = pointer.pointer.render(env);
            let Some(held) = shared::lambda::get_alias(&services.lambda, &function, &alias).await?
            else {
                return Ok(None);
            };
            let code = shared::lambda::code_sha256(&services.lambda, &function, &held.version)
                .await?
                .unwrap_or_default();
            let artifact = held.artifact(code.clone());
            Ok(Some((
                artifact.to_value(),
                Facts::Lambda(LambdaHeld {
                    function,
                    version: held.version,
                    code_sha256: code,
                }),
            )))
        }
        Kind::Ecs => {
            let cluster = pointer
                .owner
                .as_ref()
                .map(|c| c.render(env))
                .unwrap_or_default();
            let service = pointer.pointer.render(env);
            let Some(state) =
                shared::ecs::describe_service(&services.ecs, &cluster, &service).await?
            else {
                return Ok(None);
            };
            let (definition, _) = services
                .ecs_reads
                .memo
                .task_definition(&services.ecs, &state.task_definition)
                .await?;
            let containers = definition.container_definitions();
            let images: Vec<&str> = containers
                .iter()
                .map(|c| c.image().unwrap_or_default())
                .collect();
            let digests = gather::digests_of(services, &images).await?;
            let images: Vec<ContainerImage> = containers
                .iter()
                .zip(digests)
                .map(|(c, digest)| ContainerImage {
                    container: c.name().unwrap_or_default().to_string(),
                    image: c.image().unwrap_or_default().to_string(),
                    digest,
                })
                .collect();
            let mut sorted: Vec<(String, String)> = images
                .iter()
                .map(|i| (i.container.clone(), i.digest.clone()))
                .collect();
            sorted.sort();
            let artifact = EcsArtifact {
                task_definition: Some(
                    definition
                        .task_definition_arn()
                        .unwrap_or(&state.task_definition)
                        .to_string(),
                ),
                images,
            };
            Ok(Some((
                shared::record::to_value(&artifact),
                Facts::Ecs(EcsHeld {
                    family: definition.family().unwrap_or_default().to_string(),
                    revision: definition.revision(),
                    digests: sorted,
                }),
            )))
        }
        Kind::Apigateway => {
            let api =
                shared::apigateway::find_api(&services.apigateway, &pointer.resource.render(env))
                    .await?;
            let stage = pointer.pointer.render(env);
            let Some(held) =
                shared::apigateway::get_stage(&services.apigateway, &api.id, &stage).await?
            else {
                return Ok(None);
            };
            let deployments =
                shared::apigateway::get_deployments(&services.apigateway, &api.id).await?;
            let imported_from = deployments
                .iter()
                .find(|d| d.id == held.deployment_id)
                .and_then(|d| d.description.as_deref())
                .and_then(shared::apigateway::imported_from)
                .map(str::to_string);
            let artifact = ApigatewayArtifact {
                deployment_id: held.deployment_id.clone(),
                canary: held.canary.as_ref().map(|c| CanaryArtifact {
                    deployment_id: c.deployment_id.clone(),
                    percent: c.percent,
                }),
            };
            Ok(Some((
                shared::record::to_value(&artifact),
                Facts::Apigateway(
                    ApigatewayHeld {
                        api_id: api.id,
                        deployment_id: held.deployment_id,
                        imported_from,
                    },
                    deployments.into_iter().map(|d| d.id).collect(),
                ),
            )))
        }
        Kind::S3 => {
            let (location, key) = pointer.names(env);
            let bucket = location
                .split_once('/')
                .map_or(location.as_str(), |(b, _)| b);
            let Some(head) = shared::s3::head_object(&services.s3, bucket, &key, None).await?
            else {
                return Ok(None);
            };
            let artifact = shared::s3::artifact_of(&head);
            Ok(Some((
                shared::record::to_value(&artifact),
                Facts::S3(S3Held {
                    location,
                    version_id: artifact.version_id.clone(),
                    etag: artifact.etag.clone(),
                    size: artifact.size,
                    checksum: artifact.checksum.clone(),
                    modified: shared::s3::modified(&head),
                }),
            )))
        }
    }
}

/// Each cell's relation to the one before it; a Lambda alias held in another function may need
/// the history of the function before (its versions' code hashes).
async fn judge(row: &mut Row) {
    for i in 1..row.cells.len() {
        let (done, rest) = row.cells.split_at_mut(i);
        let before = &done[i - 1];
        let this = &mut rest[0];
        this.relation = Some(match (&before.read, &this.read) {
            (_, Err(_)) | (Err(_), _) => Relation::Unknown,
            (_, Ok(None)) => Relation::Missing,
            (Ok(None), Ok(Some(_))) => Relation::Drifted,
            (Ok(Some((_, b))), Ok(Some((_, t)))) => {
                let same_place = match (&before.at, &this.at) {
                    (Some(b), Some(t)) => b.same_place(t),
                    _ => false,
                };
                match (t, b) {
                    (Facts::Lambda(t), Facts::Lambda(b)) => {
                        let needs_history = !(same_place && t.function == b.function)
                            && t.code_sha256 != b.code_sha256;
                        let history = match (&before.at, needs_history) {
                            (Some(at), true) => {
                                shared::lambda::versions(&at.client.lambda, &b.function).await
                            }
                            _ => Ok(None),
                        };
                        match history {
                            Ok(history) => {
                                relation::lambda(t, b, same_place, &history.unwrap_or_default())
                            }
                            // Without the history before, this code cannot be placed in it.
                            Err(e) => {
                                shared::cli::report(&e);
                                this.note = Some(e.to_string());
                                Relation::Unknown
                            }
                        }
                    }
                    (Facts::Ecs(t), Facts::Ecs(b)) => relation::ecs(t, b, same_place),
                    (Facts::Apigateway(t, _), Facts::Apigateway(b, history)) => {
                        relation::apigateway(t, b, same_place, history)
                    }
                    (Facts::S3(t), Facts::S3(b)) => relation::s3(t, b, same_place),
                    // A state machine's ARN names its account and region: no place to compare.
                    (Facts::Stepfunctions(t), Facts::Stepfunctions(b)) => {
                        relation::stepfunctions(t, b)
                    }
                    _ => Relation::Unknown,
                }
            }
        });
    }
}
