//! Reading one environment's side of each place configuration lives. Every value is read in
//! plaintext (to compare it) and marked secret where it must never be shown.

use shared::ecr::ImageId;
use shared::image::ImageRef;
use shared::secrets::looks_secret;
use shared::{Error, Result};
use std::collections::BTreeMap;

/// The service clients of one environment.
#[derive(Debug, Clone)]
pub struct Services {
    pub lambda: aws_sdk_lambda::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub apigateway: aws_sdk_apigateway::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
}

pub type Clients<'a> = shared::aws::Clients<'a, Services>;

#[must_use]
pub fn clients(aws: &shared::aws::Aws) -> Clients<'_> {
    Clients::new(aws, |c| Services {
        lambda: aws_sdk_lambda::Client::new(c),
        ecr: aws_sdk_ecr::Client::new(c),
        ecs: aws_sdk_ecs::Client::new(c),
        apigateway: aws_sdk_apigateway::Client::new(c),
        ssm: aws_sdk_ssm::Client::new(c),
        secrets: aws_sdk_secretsmanager::Client::new(c),
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
}

/// Where one environment's configuration of one resource is.
#[derive(Debug, Clone)]
pub enum Place {
    Lambda { function: String, alias: String },
    Ecs { cluster: String, service: String },
    Apigateway { api: String, stage: String },
    Ssm { path: String },
    Secrets { prefix: String },
}

fn value(key: &str, text: impl Into<String>) -> Value {
    Value {
        text: text.into(),
        secret: looks_secret(key),
    }
}

/// Read one side.
pub async fn read(services: &Services, place: &Place) -> Result<Side> {
    match place {
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
    let Some(found) = shared::lambda::get_alias(&services.lambda, function, alias).await? else {
        return Ok(side);
    };
    // The environment of the version the alias points at, not $LATEST's.
    let config = shared::lambda::version_config(&services.lambda, function, &found.version)
        .await?
        .ok_or_else(|| {
            Error::precondition(format!(
                "{function} has no version {} (alias {alias})",
                found.version
            ))
        })?;
    side.present = true;
    side.artifact = Some(format!(
        "version {} code_sha256 {}",
        found.version, config.code_sha256
    ));
    side.values = config
        .environment
        .iter()
        .map(|(k, v)| (k.clone(), value(k, v.clone())))
        .collect();
    Ok(side)
}

async fn ecs(services: &Services, cluster: &str, service: &str) -> Result<Side> {
    let mut side = Side {
        resource: format!("{cluster}/{service}"),
        ..Side::default()
    };
    let Some(state) = shared::ecs::describe_service(&services.ecs, cluster, service).await? else {
        return Ok(side);
    };
    let (definition, _) =
        shared::ecs::describe_task_definition(&services.ecs, &state.task_definition).await?;
    side.present = true;
    let mut running = Vec::new();
    for container in definition.container_definitions() {
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
        running.push(format!(
            "{name}={}",
            digest_of(services, container.image().unwrap_or_default()).await?
        ));
    }
    running.sort();
    side.artifact = Some(running.join(" "));
    Ok(side)
}

/// What an image reference runs: its digest (a tag in ECR is looked up), else the reference as
/// written (a tag elsewhere cannot be resolved here).
async fn digest_of(services: &Services, image: &str) -> Result<String> {
    let Ok(reference) = ImageRef::parse(image) else {
        return Ok(image.to_string());
    };
    if let Some(digest) = reference.digest.clone() {
        return Ok(digest);
    }
    if !reference.is_ecr() {
        return Ok(image.to_string());
    }
    let tag = reference.tag.clone().unwrap_or_else(|| "latest".into());
    let account = reference.ecr().map(|e| e.account);
    let found = shared::ecr::get_images(
        &services.ecr,
        account.as_deref(),
        &reference.repository,
        &[ImageId::Tag(tag)],
    )
    .await?;
    Ok(found
        .into_iter()
        .flatten()
        .next()
        .map_or_else(|| image.to_string(), |i| i.digest))
}

async fn apigateway(services: &Services, api: &str, stage: &str) -> Result<Side> {
    let found = shared::apigateway::find_api(&services.apigateway, api).await?;
    let mut side = Side {
        resource: format!("{}/{stage}", found.id),
        ..Side::default()
    };
    if let Some(stage) =
        shared::apigateway::get_stage(&services.apigateway, &found.id, stage).await?
    {
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
        artifact: None,
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
    })
}

async fn secrets(services: &Services, prefix: &str) -> Result<Side> {
    let names = shared::secretsmanager::names_under(&services.secrets, prefix).await?;
    let values = futures::future::try_join_all(
        names
            .iter()
            .map(|n| shared::secretsmanager::current_value(&services.secrets, n)),
    )
    .await?;
    let mut side = Side {
        resource: prefix.to_string(),
        present: true,
        ..Side::default()
    };
    for (name, text) in names.iter().zip(values) {
        let key = name.strip_prefix(prefix).unwrap_or(name).to_string();
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
