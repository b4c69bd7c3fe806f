//! Reading one environment's side of each place configuration lives. Every value is read in
//! plaintext (to compare it) and marked secret where it must never be shown.

use futures::StreamExt;
use shared::ecr::ImageId;
use shared::ecs::ServiceState;
use shared::image::ImageRef;
use shared::secrets::looks_secret;
use shared::Result;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

/// The service clients of one environment.
#[derive(Debug, Clone)]
pub struct Services {
    pub lambda: aws_sdk_lambda::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub apigateway: aws_sdk_apigateway::Client,
    pub sfn: aws_sdk_sfn::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    /// S3 (`cfg-diff release`: the objects of promote.toml's [s3]).
    pub s3: aws_sdk_s3::Client,
    /// What this account and region's ECS and ECR have answered in this run.
    pub ecs_reads: Arc<EcsReads>,
}

pub type Clients<'a> = shared::aws::Clients<'a, Services>;
type Located = shared::aws::Located<Services>;

#[must_use]
pub fn clients(aws: &shared::aws::Aws) -> Clients<'_> {
    Clients::new(aws, |c| Services {
        lambda: aws_sdk_lambda::Client::new(c),
        ecr: aws_sdk_ecr::Client::new(c),
        ecs: aws_sdk_ecs::Client::new(c),
        apigateway: aws_sdk_apigateway::Client::new(c),
        sfn: aws_sdk_sfn::Client::new(c),
        ssm: aws_sdk_ssm::Client::new(c),
        secrets: aws_sdk_secretsmanager::Client::new(c),
        s3: shared::s3_stream::client(c),
        ecs_reads: Arc::default(),
    })
}

/// One value. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Value {
    pub text: String,
    /// Shown only as a fingerprint.
    pub secret: bool,
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Value")
            .field("secret", &self.secret)
            .finish_non_exhaustive()
    }
}

/// What one environment has in one place.
#[derive(Debug, Clone, Default)]
pub struct Side {
    /// The resource as named in this environment (function, CLUSTER/SERVICE, API stage, path).
    pub resource: String,
    /// False when the resource itself does not exist in this environment.
    pub present: bool,
    pub values: BTreeMap<String, Value>,
    /// What the environment runs, for "same artifact?" (code hash, image digests).
    pub artifact: Option<String>,
    /// What makes the artifact the same bits wherever it lives (a Lambda version's code hash:
    /// version numbers belong to one function in one account and region).
    pub code: Option<String>,
    /// The account and region the side was read in.
    pub account: Option<String>,
    pub region: Option<String>,
    /// Keys whose value could not be read (a secret with no value, a denied read): each is
    /// reported on its own and the rest compared.
    pub unreadable: BTreeMap<String, Unreadable>,
}

/// Why a key's value could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub reason: String,
    /// An AWS failure (exit 3), not a fact of the configuration (a secret with no value).
    pub failed: bool,
}

/// Where one environment's configuration of one resource is.
#[derive(Debug, Clone)]
pub enum Place {
    Lambda {
        function: String,
        alias: String,
    },
    Ecs {
        cluster: String,
        service: String,
    },
    Apigateway {
        api: String,
        stage: String,
    },
    /// A state machine (name or ARN) and the alias whose version's definition is read.
    Stepfunctions {
        machine: String,
        alias: String,
    },
    Ssm {
        path: String,
    },
    Secrets {
        prefix: String,
    },
}

fn value(key: &str, text: impl Into<String>) -> Value {
    Value {
        text: text.into(),
        secret: looks_secret(key),
    }
}

/// Read one side, with `at`'s clients.
pub async fn read(at: &Located, place: &Place) -> Result<Side> {
    let services = &at.client;
    match place {
        Place::Stepfunctions { machine, alias } => stepfunctions(at, machine, alias).await,
        Place::Lambda { function, alias } => lambda(services, function, alias).await,
        Place::Ecs { cluster, service } => ecs(services, cluster, service).await,
        Place::Apigateway { api, stage } => apigateway(services, api, stage).await,
        Place::Ssm { path } => ssm(services, path).await,
        Place::Secrets { prefix } => secrets(services, prefix).await,
    }
}

async fn lambda(services: &Services, function: &str, alias: &str) -> Result<Side> {
    let mut side = Side {
        resource: format!("{function}:{alias}"),
        ..Side::default()
    };
    // The environment of the version the alias points at (not $LATEST's), read through the
    // alias: version, code hash and environment in one call. No alias (or no function): absent.
    let Some(config) = shared::lambda::version_config(&services.lambda, function, alias).await?
    else {
        return Ok(side);
    };
    side.present = true;
    side.artifact = Some(format!(
        "version {} code_sha256 {}",
        config.version, config.code_sha256
    ));
    side.code = Some(config.code_sha256.clone());
    side.values = config
        .environment
        .iter()
        .map(|(k, v)| (k.clone(), value(k, v.clone())))
        .collect();
    Ok(side)
}

/// A state machine's definition as its alias's version holds it, one key per value
/// (`States/Charge/Resource`): the ARNs of the resources it calls, its retries, its timeouts.
/// No alias (or no state machine): absent.
async fn stepfunctions(at: &Located, machine: &str, alias: &str) -> Result<Side> {
    let parsed = shared::arn::StateMachine::parse(machine).map_err(shared::Error::usage)?;
    let mut side = Side {
        resource: format!("{}:{alias}", parsed.name),
        ..Side::default()
    };
    let (Some(region), Some(account)) = (&at.region, &at.account) else {
        return Err(shared::Error::usage(format!(
            "state machine {machine}: the account and region of the credentials are not known, \
             so name it by ARN"
        )));
    };
    let arn = parsed.arn(region, account);
    let sfn = &at.client.sfn;
    let Some(found) = shared::sfn::get_alias(sfn, &arn, alias).await? else {
        return Ok(side);
    };
    let version = found.routing.version;
    let Some(described) =
        shared::sfn::describe(sfn, &shared::sfn::version_arn(&arn, &version)).await?
    else {
        return Ok(side);
    };
    side.present = true;
    let sha = described.definition_sha256();
    side.artifact = Some(format!("version {version} definition_sha256 {sha}"));
    side.code = Some(sha);
    let definition: serde_json::Value =
        serde_json::from_str(&described.definition).unwrap_or(serde_json::Value::Null);
    let mut values = BTreeMap::new();
    flatten("", &definition, &mut values);
    side.values = values;
    Ok(side)
}

/// A definition's values, keyed by their path: objects by field, arrays by index.
fn flatten(path: &str, json: &serde_json::Value, into: &mut BTreeMap<String, Value>) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}/{key}")
        }
    };
    match json {
        serde_json::Value::Object(fields) => {
            for (key, value) in fields {
                flatten(&join(key), value, into);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, value) in items.iter().enumerate() {
                flatten(&join(&i.to_string()), value, into);
            }
        }
        serde_json::Value::String(text) => {
            let last = path.rsplit('/').next().unwrap_or(path);
            into.insert(path.to_string(), value(last, text.clone()));
        }
        serde_json::Value::Null => {}
        other => {
            let last = path.rsplit('/').next().unwrap_or(path);
            into.insert(path.to_string(), value(last, other.to_string()));
        }
    }
}

/// The ECS reads of a run in one account and region: cfg-diff changes nothing, so what it has
/// read stays true for the run. Services read ahead by [`prefetch`], task definitions and images
/// (each asked for once, whichever units name them).
#[derive(Debug, Default)]
pub struct EcsReads {
    pub(crate) memo: shared::ecs::Memo,
    /// By cluster and service; `None`: the cluster has no such service.
    services: Mutex<HashMap<(String, String), Option<ServiceState>>>,
}

impl EcsReads {
    async fn service(
        &self,
        client: &aws_sdk_ecs::Client,
        cluster: &str,
        service: &str,
    ) -> Result<Option<ServiceState>> {
        let read = self
            .services
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(cluster.to_string(), service.to_string()))
            .cloned();
        match read {
            Some(state) => Ok(state),
            None => shared::ecs::describe_service(client, cluster, service).await,
        }
    }
}

/// Read the ECS places among `places` (each with its environment) ahead of [`read`]: one
/// DescribeServices per ten services of a cluster, each task definition once, then one
/// BatchGetImage per repository for every tag they name, across both environments where they
/// share an account and region. A failure is left for `read` to report, per place.
pub async fn prefetch(clients: &Clients<'_>, places: &[(&str, &Place)], concurrency: usize) {
    // The services of each cluster, per environment's clients.
    let mut clusters: Vec<(&str, &str, Vec<String>)> = Vec::new();
    for (env, place) in places {
        let Place::Ecs { cluster, service } = place else {
            continue;
        };
        match clusters
            .iter_mut()
            .find(|(e, c, _)| e == env && c == cluster)
        {
            Some((_, _, names)) if names.contains(service) => {}
            Some((_, _, names)) => names.push(service.clone()),
            None => clusters.push((env, cluster, vec![service.clone()])),
        }
    }
    let read = futures::stream::iter(clusters.into_iter().map(
        |(env, cluster, names)| async move {
            let at = clients.get(Some(env), None).await.ok()?;
            let services = &at.client;
            let states = shared::ecs::describe_services(&services.ecs, cluster, &names)
                .await
                .ok()?;
            services
                .ecs_reads
                .services
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend(
                    names
                        .iter()
                        .map(|n| (cluster.to_string(), n.clone()))
                        .zip(states.iter().cloned()),
                );
            Some(
                states
                    .into_iter()
                    .flatten()
                    .map(|state| (at.clone(), state.task_definition))
                    .collect::<Vec<_>>(),
            )
        },
    ))
    .buffer_unordered(concurrency.max(1))
    .collect::<Vec<_>>()
    .await;
    let definitions = read.into_iter().flatten().flatten();
    let images: Vec<Vec<(Located, String)>> =
        futures::stream::iter(definitions.map(|(at, task_definition)| async move {
            let services = &at.client;
            let Ok((definition, _)) = services
                .ecs_reads
                .memo
                .task_definition(&services.ecs, &task_definition)
                .await
            else {
                return Vec::new();
            };
            definition
                .container_definitions()
                .iter()
                .map(|c| (at.clone(), c.image().unwrap_or_default().to_string()))
                .collect()
        }))
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    // Every tag of a repository, for each account and region.
    let mut repositories: Vec<(Located, Repository, Vec<ImageId>)> = Vec::new();
    for (at, image) in images.into_iter().flatten() {
        let Some((repository, id)) = ecr_tag(&image) else {
            continue;
        };
        match repositories
            .iter_mut()
            .find(|(a, r, _)| a.settings == at.settings && *r == repository)
        {
            Some((_, _, ids)) if ids.contains(&id) => {}
            Some((_, _, ids)) => ids.push(id),
            None => repositories.push((at, repository, vec![id])),
        }
    }
    futures::stream::iter(repositories.into_iter().map(
        |(at, (account, repository), ids)| async move {
            let services = &at.client;
            let _ = services
                .ecs_reads
                .memo
                .images
                .get(&services.ecr, account.as_deref(), &repository, &ids)
                .await;
        },
    ))
    .buffer_unordered(concurrency.max(1))
    .collect::<Vec<()>>()
    .await;
}

async fn ecs(services: &Services, cluster: &str, service: &str) -> Result<Side> {
    let mut side = Side {
        resource: format!("{cluster}/{service}"),
        ..Side::default()
    };
    let reads = &services.ecs_reads;
    let Some(state) = reads.service(&services.ecs, cluster, service).await? else {
        return Ok(side);
    };
    let (definition, _) = reads
        .memo
        .task_definition(&services.ecs, &state.task_definition)
        .await?;
    side.present = true;
    let containers = definition.container_definitions();
    let images: Vec<&str> = containers
        .iter()
        .map(|c| c.image().unwrap_or_default())
        .collect();
    let mut running = Vec::new();
    for (container, digest) in containers.iter().zip(digests_of(services, &images).await?) {
        let name = container.name().unwrap_or_default();
        for pair in container.environment() {
            let key = pair.name().unwrap_or_default();
            side.values.insert(
                format!("{name}/{key}"),
                value(key, pair.value().unwrap_or_default()),
            );
        }
        // A secret's reference (an ARN), not its value: shown, so a wrong one can be spotted.
        for secret in container.secrets() {
            side.values.insert(
                format!("{name}/secrets/{}", secret.name()),
                Value {
                    text: secret.value_from().to_string(),
                    secret: false,
                },
            );
        }
        // Where else a container's configuration comes from, each compared (and checked for
        // naming the other environment) like its environment: references, shown as they are.
        let reference = |text: &str| Value {
            text: text.to_string(),
            secret: false,
        };
        for (i, file) in container.environment_files().iter().enumerate() {
            side.values.insert(
                format!("{name}/environmentFiles/{i}"),
                reference(file.value()),
            );
        }
        if let Some(log) = container.log_configuration() {
            for option in log.secret_options() {
                side.values.insert(
                    format!("{name}/logConfiguration/secretOptions/{}", option.name()),
                    reference(option.value_from()),
                );
            }
        }
        for (label, text) in container.docker_labels().into_iter().flatten() {
            side.values
                .insert(format!("{name}/dockerLabels/{label}"), value(label, text));
        }
        if let Some(credentials) = container.repository_credentials() {
            side.values.insert(
                format!("{name}/repositoryCredentials"),
                reference(credentials.credentials_parameter()),
            );
        }
        running.push(format!("{name}={digest}"));
    }
    running.sort();
    side.artifact = Some(running.join(" "));
    Ok(side)
}

/// An ECR repository: the registry's account (`None`: the caller's) and the repository's name.
type Repository = (Option<String>, String);

/// An image named by tag in ECR: its repository and the tag to ask for.
fn ecr_tag(image: &str) -> Option<(Repository, ImageId)> {
    let reference = ImageRef::parse(image).ok()?;
    if reference.digest.is_some() || !reference.is_ecr() {
        return None;
    }
    let tag = reference.tag.clone().unwrap_or_else(|| "latest".into());
    let account = reference.ecr().map(|e| e.account);
    Some(((account, reference.repository), ImageId::Tag(tag)))
}

/// What each image reference runs: its digest (tags in ECR are looked up, one call per
/// repository, through the run's memo), else the reference as written (a tag elsewhere cannot be
/// resolved here, nor one ECR does not have).
pub(crate) async fn digests_of(services: &Services, images: &[&str]) -> Result<Vec<String>> {
    let mut digests: Vec<String> = images.iter().map(|i| (*i).to_string()).collect();
    let mut lookups: BTreeMap<Repository, Vec<(usize, ImageId)>> = BTreeMap::new();
    for (index, image) in images.iter().enumerate() {
        if let Some(digest) = ImageRef::parse(image).ok().and_then(|r| r.digest) {
            digests[index] = digest;
        } else if let Some((repository, id)) = ecr_tag(image) {
            lookups.entry(repository).or_default().push((index, id));
        }
    }
    for ((account, repository), wanted) in lookups {
        let ids: Vec<ImageId> = wanted.iter().map(|(_, id)| id.clone()).collect();
        let found = services
            .ecs_reads
            .memo
            .images
            .get(&services.ecr, account.as_deref(), &repository, &ids)
            .await?;
        for ((index, _), image) in wanted.into_iter().zip(found) {
            if let Some(image) = image {
                digests[index] = image.digest;
            }
        }
    }
    Ok(digests)
}

/// One side's stage variables. The API is looked up once per client (`find_api`), and its stages
/// read with one GetStages kept per client too: cfg-diff only reads, so both sides of a unit (and
/// every unit on that API) read through equal settings share those two calls.
async fn apigateway(services: &Services, api: &str, stage: &str) -> Result<Side> {
    static STAGES: std::sync::LazyLock<
        shared::apigateway::PerClient<Vec<shared::apigateway::Stage>>,
    > = std::sync::LazyLock::new(shared::apigateway::PerClient::default);
    let client = &services.apigateway;
    let found = shared::apigateway::find_api(client, api).await?;
    let mut side = Side {
        resource: format!("{}/{stage}", found.id),
        ..Side::default()
    };
    let stages = STAGES
        .get_or_read(client, &found.id, || {
            shared::apigateway::get_stages(client, &found.id)
        })
        .await?;
    if let Some(stage) = stages.iter().find(|s| s.name == stage) {
        side.present = true;
        side.values = stage
            .variables
            .iter()
            .map(|(k, v)| (k.clone(), value(k, v.clone())))
            .collect();
    }
    Ok(side)
}

async fn ssm(services: &Services, path: &str) -> Result<Side> {
    let parameters = shared::ssm::parameters_under(&services.ssm, path).await?;
    Ok(Side {
        resource: path.to_string(),
        present: true,
        unreadable: BTreeMap::new(),
        values: parameters
            .into_iter()
            .map(|p| {
                let key = p
                    .name
                    .strip_prefix(path)
                    .unwrap_or(&p.name)
                    .trim_start_matches('/')
                    .to_string();
                let secret = p.secure || looks_secret(&key);
                (
                    key,
                    Value {
                        text: p.value,
                        secret,
                    },
                )
            })
            .collect(),
        ..Side::default()
    })
}

async fn secrets(services: &Services, prefix: &str) -> Result<Side> {
    let names = shared::secretsmanager::names_under(&services.secrets, prefix).await?;
    // Every secret read, each on its own: one that cannot be read is its own record, not the end
    // of the comparison.
    let values = futures::future::join_all(
        names
            .iter()
            .map(|n| shared::secretsmanager::current_value(&services.secrets, n)),
    )
    .await;
    let mut side = Side {
        resource: prefix.to_string(),
        present: true,
        ..Side::default()
    };
    for (name, read) in names.iter().zip(values) {
        let key = name.strip_prefix(prefix).unwrap_or(name).to_string();
        let text = match read {
            Ok(Some(text)) => text,
            Ok(None) => {
                side.unreadable.insert(
                    key,
                    Unreadable {
                        reason: format!("secret {name} has no current value (AWSCURRENT)"),
                        failed: false,
                    },
                );
                continue;
            }
            Err(e) => {
                side.unreadable.insert(
                    key,
                    Unreadable {
                        reason: e.to_string(),
                        failed: true,
                    },
                );
                continue;
            }
        };
        // A JSON secret: its keys are compared too (their values fingerprinted like the whole).
        if let Ok(serde_json::Value::Object(fields)) =
            serde_json::from_str::<serde_json::Value>(&text)
        {
            for (field, field_value) in fields {
                let text = match field_value {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                side.values
                    .insert(format!("{key}#{field}"), Value { text, secret: true });
            }
        }
        side.values.insert(key, Value { text, secret: true });
    }
    Ok(side)
}
