//! Reading Lambda pointers (aliases) and artifacts (versions). Every tool that needs to know what
//! an alias holds (lambda-promote, and cfg-diff for the configuration of that version) reads it
//! through here, the same way.

use crate::aws::aws_error;
use crate::error::{Error, Result};
use crate::record::LambdaArtifact;
use aws_sdk_lambda::Client;
use std::collections::BTreeMap;

/// An alias as it is now.
#[derive(Debug, Clone, PartialEq)]
pub struct Alias {
    pub name: String,
    /// The version the alias points at.
    pub version: String,
    /// A canary's additional versions and their share of traffic (0..1).
    pub weights: BTreeMap<String, f64>,
    /// AWS's revision of the alias: sent back on update, so a concurrent change is refused
    /// instead of overwritten (compare-and-swap).
    pub revision_id: Option<String>,
}

impl Alias {
    /// The alias's routing as an artifact, given the code hash of its version.
    #[must_use]
    pub fn artifact(&self, code_sha256: String) -> LambdaArtifact {
        LambdaArtifact {
            version: self.version.clone(),
            code_sha256,
            weights: self.weights.clone(),
        }
    }
}

fn alias_from(
    name: Option<&str>,
    version: Option<&str>,
    routing: Option<&aws_sdk_lambda::types::AliasRoutingConfiguration>,
    revision_id: Option<&str>,
) -> Alias {
    Alias {
        name: name.unwrap_or_default().to_string(),
        version: version.unwrap_or_default().to_string(),
        weights: routing
            .and_then(|r| r.additional_version_weights())
            .map(|w| w.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default(),
        revision_id: revision_id.map(str::to_string),
    }
}

/// A function that does not exist (in this account and region): exit 4, naming it.
#[must_use]
pub fn missing_function(function: &str) -> Error {
    Error::precondition(format!(
        "function {function} does not exist (in this account and region); nothing changed"
    ))
}

/// The alias, or `None` when the function has no alias of that name; a missing function is an
/// error that says so.
pub async fn get_alias(client: &Client, function: &str, alias: &str) -> Result<Option<Alias>> {
    match client
        .get_alias()
        .function_name(function)
        .name(alias)
        .send()
        .await
    {
        Ok(out) => Ok(Some(alias_from(
            out.name(),
            out.function_version(),
            out.routing_config(),
            out.revision_id(),
        ))),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            // A missing function and a missing alias are both "not found": AWS's message says
            // which ("Function not found: ARN"), so no extra call is needed to tell the user.
            if e.as_service_error().is_some_and(|s| {
                aws_sdk_lambda::error::ProvideErrorMetadata::message(s)
                    .is_some_and(|m| m.starts_with("Function not found"))
            }) {
                return Err(missing_function(function));
            }
            Ok(None)
        }
        Err(e) => Err(aws_error(
            format!("failed to read alias {alias} of {function}"),
            &e,
        )),
    }
}

/// Every alias of the function.
pub async fn list_aliases(client: &Client, function: &str) -> Result<Vec<Alias>> {
    let mut aliases = Vec::new();
    let mut pages = client
        .list_aliases()
        .function_name(function)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception())
            {
                missing_function(function)
            } else {
                aws_error(format!("failed to list the aliases of {function}"), &e)
            }
        })?;
        aliases.extend(page.aliases().iter().map(|a| {
            alias_from(
                a.name(),
                a.function_version(),
                a.routing_config(),
                a.revision_id(),
            )
        }));
    }
    Ok(aliases)
}

/// A published version's code hash and environment variables. The variables are configuration
/// frozen into the version, and may hold secrets: `Debug` does not show their values.
#[derive(Clone, PartialEq, Eq)]
pub struct VersionConfig {
    /// The version (read through an alias: the version the alias points at).
    pub version: String,
    pub code_sha256: String,
    pub environment: BTreeMap<String, String>,
}

impl std::fmt::Debug for VersionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VersionConfig")
            .field("version", &self.version)
            .field("code_sha256", &self.code_sha256)
            .field("environment", &self.environment.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The code hash and environment of the version `qualifier` names (a version, or an alias: then
/// the version it points at, read in one call), or `None` when there is no such version, alias
/// or function.
pub async fn version_config(
    client: &Client,
    function: &str,
    qualifier: &str,
) -> Result<Option<VersionConfig>> {
    match client
        .get_function_configuration()
        .function_name(function)
        .qualifier(qualifier)
        .send()
        .await
    {
        Ok(out) => Ok(Some(VersionConfig {
            version: out.version().unwrap_or(qualifier).to_string(),
            code_sha256: out.code_sha256().unwrap_or_default().to_string(),
            environment: out
                .environment()
                .and_then(|e| e.variables())
                .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        })),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(aws_error(
            format!("failed to read {function}:{qualifier}"),
            &e,
        )),
    }
}

/// The code hash of one published version, or `None` when the version (or the function) does
/// not exist.
pub async fn code_sha256(client: &Client, function: &str, version: &str) -> Result<Option<String>> {
    match client
        .get_function_configuration()
        .function_name(function)
        .qualifier(version)
        .send()
        .await
    {
        Ok(out) => Ok(Some(out.code_sha256().unwrap_or_default().to_string())),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(aws_error(
            format!("failed to read version {version} of {function}"),
            &e,
        )),
    }
}

/// A published version as ListVersionsByFunction gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The version's number.
    pub version: String,
    pub code_sha256: String,
    /// What `publish --description` (or whoever published it) said: a git commit, a build id.
    pub description: String,
    /// When it was published (Lambda's LastModified of a version, which never changes after).
    pub last_modified: Option<String>,
}

/// Every published version of the function, oldest first (`$LATEST` is not one); `None` when
/// the function does not exist, for the caller to say where it looked.
pub async fn versions(client: &Client, function: &str) -> Result<Option<Vec<Published>>> {
    let mut versions = Vec::new();
    let mut pages = client
        .list_versions_by_function()
        .function_name(function)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(page) => page,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return Ok(None)
            }
            Err(e) => {
                return Err(aws_error(
                    format!("failed to list the versions of {function}"),
                    &e,
                ))
            }
        };
        versions.extend(page.versions().iter().filter_map(|v| {
            let version = v.version().filter(|v| *v != "$LATEST")?;
            Some(Published {
                version: version.to_string(),
                code_sha256: v.code_sha256()?.to_string(),
                description: v.description().unwrap_or_default().to_string(),
                last_modified: v.last_modified().map(str::to_string),
            })
        }));
    }
    Ok(Some(versions))
}

/// The highest published version of the function (`None`: none published yet). Lambda lists
/// versions oldest first, so every page is read; `publish` needs it to tell a new version from
/// the one PublishVersion hands back when nothing changed since it.
pub async fn newest_version(client: &Client, function: &str) -> Result<Option<u64>> {
    Ok(versions(client, function)
        .await?
        .ok_or_else(|| missing_function(function))?
        .iter()
        .filter_map(|v| v.version.parse::<u64>().ok())
        .max())
}
