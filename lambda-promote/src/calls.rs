//! The thin layer of Lambda calls that change things, and the choice of client per environment
//! and region. Reads shared with other tools live in `shared::lambda`.

use crate::plan::Routing;
use aws_sdk_lambda::types::AliasRoutingConfiguration;
use aws_sdk_lambda::Client;
use shared::aws::{aws_error, region_of, Aws};
use shared::config::EnvSettings;
use shared::{Error, Result};
use std::collections::HashMap;

/// A client and where it points.
#[derive(Debug, Clone)]
pub struct Located {
    pub client: Client,
    pub region: Option<String>,
    /// The effective settings (profile, region, endpoint): two locations with equal settings are
    /// the same account and region, so a version read in one holds in the other.
    pub settings: EnvSettings,
}

/// Hands out Lambda clients per (environment, region), built once each.
#[derive(Debug)]
pub struct Clients<'a> {
    source: Source<'a>,
    cache: tokio::sync::Mutex<HashMap<EnvSettings, Located>>,
}

#[derive(Debug)]
enum Source<'a> {
    Aws(&'a Aws),
    /// One client for everything (tests with SDK-level mocks).
    Fixed(Located),
}

impl<'a> Clients<'a> {
    #[must_use]
    pub fn new(aws: &'a Aws) -> Self {
        Clients {
            source: Source::Aws(aws),
            cache: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Every call goes to `client` (its region reported as `region`).
    #[must_use]
    pub fn fixed(client: Client, region: &str) -> Clients<'static> {
        Clients {
            source: Source::Fixed(Located {
                client,
                region: Some(region.to_string()),
                settings: EnvSettings::default(),
            }),
            cache: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The client for `env`, in `region` when a function ARN or a record names one.
    pub async fn get(&self, env: Option<&str>, region: Option<&str>) -> Result<Located> {
        let aws = match &self.source {
            Source::Fixed(located) => return Ok(located.clone()),
            Source::Aws(aws) => aws,
        };
        let mut settings = aws.settings(env);
        if let Some(region) = region {
            settings.region = Some(region.to_string());
        }
        let mut cache = self.cache.lock().await;
        if let Some(located) = cache.get(&settings) {
            return Ok(located.clone());
        }
        let config = aws.config_in(env, region).await?;
        let located = Located {
            client: Client::new(&config),
            region: region_of(&config),
            settings: settings.clone(),
        };
        cache.insert(settings, located.clone());
        Ok(located)
    }
}

fn routing_config(routing: &Routing) -> AliasRoutingConfiguration {
    // An empty map is sent on purpose: it clears a canary's weights.
    AliasRoutingConfiguration::builder()
        .set_additional_version_weights(Some(
            routing
                .weights
                .iter()
                .map(|(v, w)| (v.clone(), *w))
                .collect(),
        ))
        .build()
}

/// Move an existing alias. `revision_id` makes it a compare-and-swap: if the alias changed since
/// it was read, AWS refuses and nothing is written.
pub async fn update_alias(
    at: &Located,
    function: &str,
    alias: &str,
    routing: &Routing,
    revision_id: Option<&str>,
) -> Result<()> {
    let result = at
        .client
        .update_alias()
        .function_name(function)
        .name(alias)
        .function_version(&routing.version)
        .routing_config(routing_config(routing))
        .set_revision_id(revision_id.map(str::to_string))
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_precondition_failed_exception()) =>
        {
            Err(Error::precondition(format!(
                "{function} alias {alias} was changed by someone else after it was read \
                 (its RevisionId no longer matches); nothing changed: look at it and run again"
            )))
        }
        Err(e) => Err(aws_error(
            format!("failed to update alias {alias} of {function}"),
            &e,
        )),
    }
}

/// Create an alias. If someone created it meanwhile, refuse rather than overwrite.
pub async fn create_alias(
    at: &Located,
    function: &str,
    alias: &str,
    routing: &Routing,
) -> Result<()> {
    let mut request = at
        .client
        .create_alias()
        .function_name(function)
        .name(alias)
        .function_version(&routing.version);
    if !routing.weights.is_empty() {
        request = request.routing_config(routing_config(routing));
    }
    match request.send().await {
        Ok(_) => Ok(()),
        Err(e) if is_conflict(&e) => Err(Error::precondition(format!(
            "{function} alias {alias} was created by someone else after it was read; nothing changed: \
             look at it and run again"
        ))),
        Err(e) => Err(aws_error(format!("failed to create alias {alias} of {function}"), &e)),
    }
}

fn is_conflict<R>(
    e: &aws_sdk_lambda::error::SdkError<
        aws_sdk_lambda::operation::create_alias::CreateAliasError,
        R,
    >,
) -> bool {
    use aws_sdk_lambda::error::ProvideErrorMetadata;
    e.as_service_error().is_some_and(|s| {
        // moto answers ConflictException where AWS answers ResourceConflictException.
        s.is_resource_conflict_exception() || s.code() == Some("ConflictException")
    })
}

/// Delete an alias (undoing its creation). DeleteAlias takes no RevisionId: the caller reads the
/// alias just before and deletes only if it still holds what the record says.
pub async fn delete_alias(at: &Located, function: &str, alias: &str) -> Result<()> {
    at.client
        .delete_alias()
        .function_name(function)
        .name(alias)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws_error(format!("failed to delete alias {alias} of {function}"), &e))
}

/// Publish $LATEST as a version: returns the version and its code hash.
pub async fn publish_version(at: &Located, function: &str) -> Result<(String, String)> {
    let out = at
        .client
        .publish_version()
        .function_name(function)
        .send()
        .await
        .map_err(|e| aws_error(format!("failed to publish a version of {function}"), &e))?;
    match (out.version(), out.code_sha256()) {
        (Some(version), Some(sha)) => Ok((version.to_string(), sha.to_string())),
        _ => Err(Error::Aws {
            doing: format!("publishing a version of {function}"),
            message: "AWS answered without a version number or code hash".into(),
        }),
    }
}
