//! Reading API Gateway REST APIs, stages and deployments: which deployment each stage runs, its
//! canary, its variables. apigw-stage acts on them; cfg-diff compares stage variables.

use crate::aws::aws_error;
use crate::error::{Error, Result};
use crate::memo::ReadOnce;
use aws_sdk_apigateway::error::ProvideErrorMetadata;
use aws_sdk_apigateway::Client;
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};

/// A REST API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Api {
    pub id: String,
    pub name: String,
}

/// A stage as it is now. Its variables are configuration and may hold secrets: `Debug` does not
/// show their values.
#[derive(Clone, PartialEq)]
pub struct Stage {
    pub name: String,
    pub deployment_id: String,
    pub canary: Option<Canary>,
    pub variables: BTreeMap<String, String>,
}

impl std::fmt::Debug for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stage")
            .field("name", &self.name)
            .field("deployment_id", &self.deployment_id)
            .field("canary", &self.canary)
            .field("variables", &self.variables.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A canary on a stage: another deployment taking a share of the traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct Canary {
    pub deployment_id: String,
    /// Percent of traffic, 0 to 100.
    pub percent: f64,
}

/// A deployment: an immutable snapshot of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub id: String,
    pub description: Option<String>,
    /// When it was made, RFC 3339.
    pub created: Option<String>,
}

/// A REST API that does not exist (no API has that id or name in this account and region):
/// exit 4, naming it, whichever command found it missing.
#[must_use]
pub fn missing_api(id_or_name: &str) -> Error {
    Error::precondition(format!(
        "REST API {id_or_name} does not exist (no API has that id or name in this account and \
         region); nothing changed"
    ))
}

/// Whether a NotFoundException about something inside an API (`what`: "stage", "deployment")
/// says it is the API itself that is missing. API Gateway answers both with the same code and
/// tells them apart only in the message ("Invalid stage identifier specified", "Invalid API
/// identifier specified"; the emulator: "Invalid Rest API Id specified"): a message that does
/// not name `what` is about the API.
fn api_is_missing(message: Option<&str>, what: &str) -> bool {
    message.is_some_and(|m| !m.to_ascii_lowercase().contains(what))
}

/// Find an API by id, else by name. A name several APIs share is a usage error listing them.
/// Each text is looked up once per client in a process: a tool builds one client per settings
/// (profile, region, endpoint), so both sides of a comparison, or every record of a batch, that
/// name one API through equal settings share one lookup.
pub async fn find_api(client: &Client, id_or_name: &str) -> Result<Api> {
    static FOUND: LazyLock<PerClient<Api>> = LazyLock::new(PerClient::default);
    FOUND
        .get_or_read(client, id_or_name, || look_up(client, id_or_name))
        .await
}

/// Whether the text can be a REST API id: API Gateway's ids (and the emulator's) are ten lowercase
/// letters and digits. Any other text can only be a name, and asking GetRestApi for it would be a
/// certain 404.
#[must_use]
pub fn looks_like_id(text: &str) -> bool {
    text.len() == 10
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

async fn look_up(client: &Client, id_or_name: &str) -> Result<Api> {
    if looks_like_id(id_or_name) {
        match client.get_rest_api().rest_api_id(id_or_name).send().await {
            Ok(api) => {
                return Ok(Api {
                    id: api.id().unwrap_or(id_or_name).to_string(),
                    name: api.name().unwrap_or_default().to_string(),
                })
            }
            // A name can have an id's shape too: go by name.
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_not_found_exception() || s.is_bad_request_exception()
                }) => {}
            Err(e) => {
                return Err(aws_error(
                    format!("failed to read REST API {id_or_name}"),
                    &e,
                ))
            }
        }
    }
    let mut matches = Vec::new();
    let mut pages = client.get_rest_apis().limit(500).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("failed to list REST APIs", &e))?;
        matches.extend(
            page.items()
                .iter()
                .filter(|a| a.name() == Some(id_or_name))
                .map(|a| Api {
                    id: a.id().unwrap_or_default().to_string(),
                    name: id_or_name.to_string(),
                }),
        );
    }
    match matches.len() {
        1 => Ok(matches.remove(0)),
        0 => Err(missing_api(id_or_name)),
        _ => Err(Error::usage(format!(
            "{} REST APIs are named {id_or_name:?} ({}): give the id",
            matches.len(),
            matches
                .iter()
                .map(|a| a.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// What has been read through each client, by key, for reads a process makes once (an API's id by
/// its name; in a read-only tool, an API's stages). Concurrent readers of one key wait for one
/// read; a failed read is not kept, so the next reader tries again. The key includes the client
/// itself (its configuration's address, stable across clones): a tool builds one client per
/// settings, so equal settings share entries and different accounts or regions never do. A clone
/// of each client is kept, so that address is never reused by another client.
pub struct PerClient<T> {
    reads: ReadOnce<(usize, String), T>,
    clients: Mutex<HashMap<usize, Client>>,
}

impl<T> std::fmt::Debug for PerClient<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerClient").finish_non_exhaustive()
    }
}

impl<T> Default for PerClient<T> {
    fn default() -> Self {
        PerClient {
            reads: ReadOnce::default(),
            clients: Mutex::new(HashMap::new()),
        }
    }
}

impl<T: Clone> PerClient<T> {
    /// The value kept for `key` through this client, read with `read` the first time.
    pub async fn get_or_read<F, Fut>(&self, client: &Client, key: &str, read: F) -> Result<T>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let at = std::ptr::from_ref(client.config()).addr();
        self.clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(at)
            .or_insert_with(|| client.clone());
        self.reads.get_or_read((at, key.to_string()), read).await
    }
}

fn stage_from(
    name: Option<&str>,
    deployment_id: Option<&str>,
    canary: Option<&aws_sdk_apigateway::types::CanarySettings>,
    variables: Option<&std::collections::HashMap<String, String>>,
) -> Stage {
    Stage {
        name: name.unwrap_or_default().to_string(),
        deployment_id: deployment_id.unwrap_or_default().to_string(),
        canary: canary.and_then(|c| {
            Some(Canary {
                deployment_id: c.deployment_id()?.to_string(),
                percent: c.percent_traffic(),
            })
        }),
        variables: variables
            .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
    }
}

/// The stage, or `None` when the API has no stage of that name; an API that does not exist is
/// an error that says so.
pub async fn get_stage(client: &Client, api_id: &str, stage: &str) -> Result<Option<Stage>> {
    match client
        .get_stage()
        .rest_api_id(api_id)
        .stage_name(stage)
        .send()
        .await
    {
        Ok(s) => Ok(Some(stage_from(
            s.stage_name(),
            s.deployment_id(),
            s.canary_settings(),
            s.variables(),
        ))),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_not_found_exception()) =>
        {
            let message = match e.as_service_error() {
                Some(
                    aws_sdk_apigateway::operation::get_stage::GetStageError::NotFoundException(nf),
                ) => nf.message().or(nf.meta().message()),
                _ => None,
            };
            if api_is_missing(message, "stage") {
                return Err(missing_api(api_id));
            }
            Ok(None)
        }
        Err(e) => Err(aws_error(
            format!("failed to read stage {stage} of API {api_id}"),
            &e,
        )),
    }
}

/// Every stage of the API (one call: GetStages is not paginated). An API that does not exist is a
/// precondition failure, as `find_api` makes it: callers with an id from a record skip the lookup.
pub async fn get_stages(client: &Client, api_id: &str) -> Result<Vec<Stage>> {
    let out = match client.get_stages().rest_api_id(api_id).send().await {
        Ok(out) => out,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_not_found_exception()) =>
        {
            return Err(missing_api(api_id))
        }
        Err(e) => {
            return Err(aws_error(
                format!("failed to list the stages of API {api_id}"),
                &e,
            ))
        }
    };
    Ok(out
        .item()
        .iter()
        .map(|s| {
            stage_from(
                s.stage_name(),
                s.deployment_id(),
                s.canary_settings(),
                s.variables(),
            )
        })
        .collect())
}

/// The description of a deployment made by importing another stage's definition (a promotion
/// into another account or region): it names the source's deployment, which is how a reader
/// (cfg-diff release) tells which deployment of the environment before this one serves.
#[must_use]
pub fn imported_description(source: &str, deployment_id: &str) -> String {
    format!("imported from {source}, deployment {deployment_id}")
}

/// The source deployment an [`imported_description`] names.
#[must_use]
pub fn imported_from(description: &str) -> Option<&str> {
    let rest = description.strip_prefix("imported from ")?;
    let (_, id) = rest.rsplit_once(", deployment ")?;
    (!id.is_empty()).then_some(id)
}

/// Every deployment of the API, newest first.
pub async fn get_deployments(client: &Client, api_id: &str) -> Result<Vec<Deployment>> {
    let mut deployments = Vec::new();
    let mut pages = client
        .get_deployments()
        .rest_api_id(api_id)
        .limit(500)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            if e.as_service_error()
                .is_some_and(|s| s.is_not_found_exception())
            {
                missing_api(api_id)
            } else {
                aws_error(
                    format!("failed to list the deployments of API {api_id}"),
                    &e,
                )
            }
        })?;
        for d in page.items() {
            let created = d
                .created_date()
                .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok());
            deployments.push((
                d.created_date().map(|t| (t.secs(), t.subsec_nanos())),
                Deployment {
                    id: d.id().unwrap_or_default().to_string(),
                    description: d.description().map(str::to_string),
                    created,
                },
            ));
        }
    }
    // Creation times have one-second precision; API Gateway lists oldest first, so reversing
    // before a stable sort keeps deployments made in the same second newest first too.
    deployments.reverse();
    deployments.sort_by_key(|d| std::cmp::Reverse(d.0));
    Ok(deployments.into_iter().map(|(_, d)| d).collect())
}

/// Whether the API has a deployment with this id; an API that does not exist is an error that
/// says so.
pub async fn deployment_exists(client: &Client, api_id: &str, id: &str) -> Result<bool> {
    match client
        .get_deployment()
        .rest_api_id(api_id)
        .deployment_id(id)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_not_found_exception()) =>
        {
            let message = match e.as_service_error() {
                Some(
                    aws_sdk_apigateway::operation::get_deployment::GetDeploymentError::NotFoundException(
                        nf,
                    ),
                ) => nf.message().or(nf.meta().message()),
                _ => None,
            };
            if api_is_missing(message, "deployment") {
                return Err(missing_api(api_id));
            }
            Ok(false)
        }
        Err(e) => Err(aws_error(
            format!("failed to read deployment {id} of API {api_id}"),
            &e,
        )),
    }
}

/// The definition a stage serves (the deployment it runs), as GetExport writes it: OpenAPI 3.0
/// with the API Gateway extensions (integrations, authorizers, request validators), as JSON
/// bytes. `None` when the API has no stage of that name; an API that does not exist is an error
/// that says so. What a deployment cannot carry between accounts, its definition can.
pub async fn get_export(client: &Client, api_id: &str, stage: &str) -> Result<Option<Vec<u8>>> {
    match client
        .get_export()
        .rest_api_id(api_id)
        .stage_name(stage)
        .export_type("oas30")
        .parameters("extensions", "apigateway")
        .accepts("application/json")
        .send()
        .await
    {
        Ok(out) => Ok(Some(
            out.body().map(|b| b.as_ref().to_vec()).unwrap_or_default(),
        )),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_not_found_exception()) =>
        {
            let message = match e.as_service_error() {
                Some(
                    aws_sdk_apigateway::operation::get_export::GetExportError::NotFoundException(
                        nf,
                    ),
                ) => nf.message().or(nf.meta().message()),
                _ => None,
            };
            if api_is_missing(message, "stage") {
                return Err(missing_api(api_id));
            }
            Ok(None)
        }
        Err(e) => Err(aws_error(
            format!("failed to export stage {stage} of API {api_id}"),
            &e,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ten_lowercase_letters_and_digits_can_be_an_id() {
        assert!(looks_like_id("a1b2c3d4e5"));
        assert!(looks_like_id("0123456789"));
        for name in [
            "orders",
            "api1",
            "orders-api",
            "A1B2C3D4E5",
            "a1b2c3d4e5f",
            "a1b2c3-4e5",
        ] {
            assert!(!looks_like_id(name), "{name}");
        }
    }
}

#[cfg(test)]
mod imported {
    #[test]
    fn an_imported_deployment_names_its_source() {
        let d = super::imported_description("stage staging of API a1 (account 1, us-east-1)", "x9");
        assert_eq!(super::imported_from(&d), Some("x9"));
        assert_eq!(super::imported_from("made by hand"), None);
    }
}
