//! Promoting into a function of another account or region: a version belongs to one function in
//! one account and region, so the version the environment before holds cannot be pointed at
//! there. Its exact deployment package is copied instead: GetFunction's code location (a
//! pre-signed URL) read with the source environment's credentials, streamed through the SDK's
//! HTTP client (`shared::download`), its SHA-256 checked against the source's CodeSha256, then
//! UpdateFunctionCode and PublishVersion in the target with the target's credentials, the
//! publish conditioned on that CodeSha256 (and on $LATEST's RevisionId), and the new version's
//! code hash checked again. Only the code moves: the target's configuration (environment
//! variables, memory, role, ...) is its own and is not touched.
//!
//! `locate` reads and decides (nothing is written, so a dry run can say what it would copy);
//! `run` copies. A target that already has a version of exactly that code (an earlier run
//! copied it) is promoted to that version with no copy.

use crate::calls::Located;
use crate::plan::{self, Route};
use aws_sdk_lambda::types::{LastUpdateStatus, PackageType};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use shared::aws::aws_error;
use shared::{Error, Result};
use std::time::Duration;

/// The version being promoted, where it lives: the source environment's function.
#[derive(Debug, Clone)]
pub(crate) struct SourceVersion {
    /// The source's clients (its environment's credentials, in its region).
    pub at: Located,
    /// The function as the API is given it, and as messages name it.
    pub function: String,
    pub version: String,
    pub code_sha256: String,
}

impl SourceVersion {
    /// "orders-api version 4 (account 111111111111, us-east-1)", for messages.
    pub fn describe(&self) -> String {
        format!(
            "{} version {} ({})",
            self.function,
            self.version,
            place(&self.at)
        )
    }
}

/// "account 111111111111, us-east-1" (what is known of it).
pub(crate) fn place(at: &Located) -> String {
    format!(
        "account {}, {}",
        at.account.as_deref().unwrap_or("unknown"),
        at.region.as_deref().unwrap_or("the default region")
    )
}

/// What `locate` found in the target function.
#[derive(Debug)]
pub(crate) enum Found {
    /// The target has a published version of exactly this code already: promote to it.
    Present { version: String },
    /// The code must be copied.
    Copy(Box<Planned>),
}

/// A decided copy: everything `run` needs, read before any write.
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    pub source: SourceVersion,
    /// The package's size, as the source reports it.
    pub code_size: u64,
    pub route: Route,
    /// $LATEST of the target before the copy replaces its code: the copy's own change, printed
    /// so it can be undone (`lambda-promote` publishes from $LATEST, so this is what it held).
    pub latest_code_sha256: String,
    pub latest_revision_id: Option<String>,
}

/// What a copy did.
#[derive(Debug, Clone)]
pub(crate) struct Copied {
    /// The version published in the target, and its code hash (the source's).
    pub version: String,
    pub code_sha256: String,
    pub bytes: u64,
}

/// Find out what promoting `source` into `function` (in `target`) takes: a version of the same
/// code, or a copy by `route`. Refusals (exit 4) name what is wrong: a container-image function
/// (promoted by image digest, not by package), a package type the target does not share, a
/// package too big to upload directly.
pub(crate) async fn locate(
    source: SourceVersion,
    target: &Located,
    function: &str,
) -> Result<Found> {
    let from = source
        .at
        .client
        .get_function()
        .function_name(&source.function)
        .qualifier(&source.version)
        .send()
        .await
        .map_err(|e| {
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception())
            {
                Error::precondition(format!(
                    "{} does not exist: there is nothing to copy; nothing changed",
                    source.describe()
                ))
            } else {
                aws_error(format!("failed to read {}", source.describe()), &e)
            }
        })?;
    let config = from.configuration();
    if config.and_then(|c| c.package_type()) == Some(&PackageType::Image) {
        return Err(Error::precondition(format!(
            "{} is a container-image function: it is promoted by image digest (ecs-pin copies \
             images across registries), not by package; nothing changed",
            source.describe()
        )));
    }
    let code_sha256 = config.and_then(|c| c.code_sha256()).unwrap_or_default();
    if code_sha256 != source.code_sha256 {
        return Err(Error::precondition(format!(
            "{} has code_sha256 {code_sha256}, not {} as the artifact says: not the same bits; \
             nothing changed",
            source.describe(),
            source.code_sha256
        )));
    }
    let code_size = config
        .map(|c| c.code_size())
        .and_then(|s| u64::try_from(s).ok())
        .unwrap_or(0);

    let versions = versions(target, function).await?;
    if let Some(version) = plan::version_with_code(&versions, &source.code_sha256) {
        return Ok(Found::Present { version });
    }
    let latest = target
        .client
        .get_function_configuration()
        .function_name(function)
        .send()
        .await
        .map_err(|e| {
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception())
            {
                shared::lambda::missing_function(function)
            } else {
                aws_error(format!("failed to read {function}"), &e)
            }
        })?;
    if latest.package_type() == Some(&PackageType::Image) {
        return Err(Error::precondition(format!(
            "{function} ({}) is a container-image function, but {} is a .zip package: the two \
             cannot hold the same code; nothing changed",
            place(target),
            source.describe()
        )));
    }
    let route = plan::copy_route(code_size).map_err(|why| {
        Error::precondition(format!("{}: {why}; nothing changed", source.describe()))
    })?;
    Ok(Found::Copy(Box::new(Planned {
        source,
        code_size,
        route,
        latest_code_sha256: latest.code_sha256().unwrap_or_default().to_string(),
        latest_revision_id: latest.revision_id().map(str::to_string),
    })))
}

/// Every published version of the function and its code hash.
async fn versions(at: &Located, function: &str) -> Result<Vec<(String, String)>> {
    let mut versions = Vec::new();
    let mut pages = at
        .client
        .list_versions_by_function()
        .function_name(function)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception())
            {
                shared::lambda::missing_function(function)
            } else {
                aws_error(format!("failed to list the versions of {function}"), &e)
            }
        })?;
        versions.extend(
            page.versions()
                .iter()
                .filter_map(|v| Some((v.version()?.to_string(), v.code_sha256()?.to_string()))),
        );
    }
    Ok(versions)
}

impl Planned {
    /// Copy the package into `function` and publish it: the new version, checked to hold the
    /// source's code. A failure after UpdateFunctionCode says that $LATEST changed.
    pub async fn run(&self, target: &Located, function: &str) -> Result<Copied> {
        let doing = || {
            format!(
                "copying {} into {function} ({})",
                self.source.describe(),
                place(target)
            )
        };
        let package = self.download(&doing).await?;
        let bytes = package.len() as u64;
        let updated = target
            .client
            .update_function_code()
            .function_name(function)
            .zip_file(aws_sdk_lambda::primitives::Blob::new(package))
            .set_revision_id(self.latest_revision_id.clone())
            .publish(false)
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error()
                    .is_some_and(|s| s.is_precondition_failed_exception())
                {
                    Error::precondition(format!(
                        "{function}'s $LATEST was changed by someone else after it was read (its \
                         RevisionId no longer matches); nothing changed: look at it and run again"
                    ))
                } else {
                    aws_error(doing(), &e)
                }
            })?;
        let after_update = || {
            format!(
                "$LATEST of {function} now holds the copied code (it held code_sha256 {}), \
                 and no version was published",
                self.latest_code_sha256
            )
        };
        if updated.code_sha256() != Some(self.source.code_sha256.as_str()) {
            return Err(Error::Aws {
                doing: doing(),
                message: format!(
                    "UpdateFunctionCode answered code_sha256 {}, not {}: {}",
                    updated.code_sha256().unwrap_or("none"),
                    self.source.code_sha256,
                    after_update()
                ),
            });
        }
        let revision_id = settled(target, function, &self.source.code_sha256)
            .await
            .map_err(|e| Error::Aws {
                doing: doing(),
                message: format!("{e}: {}", after_update()),
            })?;
        let published = target
            .client
            .publish_version()
            .function_name(function)
            .code_sha256(&self.source.code_sha256)
            .set_revision_id(revision_id)
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error()
                    .is_some_and(|s| s.is_precondition_failed_exception())
                {
                    Error::precondition(format!(
                        "{function}'s $LATEST changed between the copy and its publish (someone \
                         else updated it): {}",
                        after_update().replace("the copied code", "someone else's code")
                    ))
                } else {
                    Error::Aws {
                        doing: doing(),
                        message: format!("{}: {}", shared::aws::describe(&e), after_update()),
                    }
                }
            })?;
        let version = published.version().unwrap_or_default().to_string();
        let code_sha256 = published.code_sha256().unwrap_or_default().to_string();
        if version.is_empty() || code_sha256 != self.source.code_sha256 {
            return Err(Error::Aws {
                doing: doing(),
                message: format!(
                    "PublishVersion made version {version:?} with code_sha256 {code_sha256:?}, \
                     not {}: the alias is not moved to it",
                    self.source.code_sha256
                ),
            });
        }
        tracing::info!(
            "copied {} into {function} ({}): version {version}, {bytes} bytes",
            self.source.describe(),
            place(target)
        );
        Ok(Copied {
            version,
            code_sha256,
            bytes,
        })
    }

    /// The source's package, read from its code location and checked: its size and SHA-256
    /// are the source's, or nothing is written.
    async fn download(&self, doing: &impl Fn() -> String) -> Result<Vec<u8>> {
        // The location is pre-signed for a few minutes: asked for now, not when planned.
        let location = self
            .source
            .at
            .client
            .get_function()
            .function_name(&self.source.function)
            .qualifier(&self.source.version)
            .send()
            .await
            .map_err(|e| aws_error(doing(), &e))?
            .code
            .and_then(|c| c.location)
            .ok_or_else(|| Error::Aws {
                doing: doing(),
                message: "GetFunction answered no code location".into(),
            })?;
        let http = self
            .source
            .at
            .client
            .config()
            .http_client()
            .ok_or_else(|| Error::Aws {
                doing: doing(),
                message: "the Lambda client has no HTTP client to download with".into(),
            })?;
        let mut body = shared::download::download(http, &location)
            .await
            .map_err(|message| Error::Aws {
                doing: doing(),
                message: format!("the package's download: {message}"),
            })?;
        let limit = self.code_size.min(plan::DIRECT_UPLOAD_LIMIT);
        let mut package = Vec::with_capacity(usize::try_from(limit).unwrap_or(0));
        let mut hasher = Sha256::new();
        while let Some(chunk) = body.next().await.transpose().map_err(|e| Error::Aws {
            doing: doing(),
            message: format!(
                "the package's download broke off after {} bytes: {e}",
                package.len()
            ),
        })? {
            if (package.len() + chunk.len()) as u64 > limit {
                return Err(Error::Aws {
                    doing: doing(),
                    message: format!(
                        "the download is longer than the {} bytes the source reports; nothing \
                         was written",
                        self.code_size
                    ),
                });
            }
            hasher.update(&chunk);
            package.extend_from_slice(&chunk);
        }
        let got = aws_smithy_types::base64::encode(hasher.finalize());
        if got != self.source.code_sha256 || package.len() as u64 != self.code_size {
            return Err(Error::Aws {
                doing: doing(),
                message: format!(
                    "the bytes downloaded ({} bytes, code_sha256 {got}) are not the source's \
                     package ({} bytes, {}); nothing was written",
                    package.len(),
                    self.code_size,
                    self.source.code_sha256
                ),
            });
        }
        Ok(package)
    }

    /// The record's `copied_from` (`copied`: what the copy did; `None` for a dry run's plan).
    pub fn field(&self, copied: Option<&Copied>) -> Value {
        let mut entry = source_field(&self.source, false);
        if let Some(map) = entry.as_object_mut() {
            map.insert("code_size".into(), self.code_size.into());
            map.insert("route".into(), self.route.as_str().into());
            map.insert(
                "latest_before".into(),
                json!({"code_sha256": self.latest_code_sha256}),
            );
            if let Some(copied) = copied {
                map.insert("bytes_copied".into(), copied.bytes.into());
            }
        }
        entry
    }
}

/// `copied_from` of a promotion whose code the target had already (`already_present`), or the
/// start of a copy's.
pub(crate) fn source_field(source: &SourceVersion, already_present: bool) -> Value {
    json!({
        "account": source.at.account,
        "region": source.at.region,
        "function": source.function,
        "version": source.version,
        "code_sha256": source.code_sha256,
        "already_present": already_present,
    })
}

/// How long a function's update may take before the copy gives up on publishing it.
const UPDATE_WAIT: Duration = Duration::from_secs(300);

/// Wait until $LATEST's update is no longer in progress (Lambda refuses to publish during one),
/// and give the RevisionId to publish against: $LATEST's once the update is done (it changes as
/// the update completes), provided $LATEST still holds the copied code.
async fn settled(
    at: &Located,
    function: &str,
    code_sha256: &str,
) -> std::result::Result<Option<String>, String> {
    let started = tokio::time::Instant::now();
    let mut delay = Duration::from_millis(250);
    loop {
        let config = at
            .client
            .get_function_configuration()
            .function_name(function)
            .send()
            .await
            .map_err(|e| shared::aws::describe(&e))?;
        match config.last_update_status() {
            Some(LastUpdateStatus::InProgress) => {}
            Some(LastUpdateStatus::Failed) => {
                return Err(format!(
                    "the update failed: {}",
                    config
                        .last_update_status_reason()
                        .unwrap_or("no reason given")
                ))
            }
            _ if config.code_sha256() != Some(code_sha256) => {
                return Err(format!(
                    "$LATEST holds code_sha256 {} now, not the copy's: someone else updated it",
                    config.code_sha256().unwrap_or("none")
                ))
            }
            _ => return Ok(config.revision_id().map(str::to_string)),
        }
        if started.elapsed() > UPDATE_WAIT {
            return Err(format!(
                "the update was still in progress after {} s",
                UPDATE_WAIT.as_secs()
            ));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}
