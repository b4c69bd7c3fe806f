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
//! A container-image function is promoted by image digest: the target function is updated to
//! the source version's image pinned by digest, in the target's own registry (copied there with
//! `shared::ecr_copy`, the same digest) unless it is already there or in a registry every
//! environment shares (promote.toml's `[ecr] registry`); the new version must run that digest.
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
use shared::ecr::registry_host;
use shared::ecr_copy::{self, Repository};
use shared::image::{ImageRef, Placement};
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
    /// The source version's description (a git commit, say): the copy's version keeps it.
    pub description: Option<String>,
    /// A container-image function's image (`route` is then `image`).
    pub image: Option<ImagePlan>,
}

/// The image of a container-image function's copy.
#[derive(Debug, Clone)]
pub(crate) struct ImagePlan {
    /// The source version's image, pinned by digest.
    pub source: String,
    pub digest: String,
    /// What the target function is updated to: the same digest, in its own registry (or the
    /// source's, when it is the target's or a shared one).
    pub target: String,
    /// The source registry (account, region) and repository, when the image is copied.
    pub copy: Option<(String, String, String)>,
}

/// What a copy did.
#[derive(Debug, Clone)]
pub(crate) struct Copied {
    /// The version published in the target, and its code hash (the source's; of an image
    /// function, what the target reports: the image digest is what is proven the same).
    pub version: String,
    pub code_sha256: String,
    pub bytes: u64,
    /// What copying the image into the target's registry did.
    pub image: Option<ecr_copy::Copied>,
}

/// Find out what promoting `source` into `function` (in `target`) takes: a version of the same
/// code, or a copy by `route`. Refusals (exit 4) name what is wrong: a container-image function
/// (promoted by image digest, not by package), a package type the target does not share, a
/// package too big to upload directly.
pub(crate) async fn locate(
    source: SourceVersion,
    target: &Located,
    function: &str,
    current: Option<&str>,
    shared_registry: Option<(&str, &str)>,
    copy_bucket: Option<&str>,
) -> Result<Found> {
    let from = source
        .at
        .client
        .lambda
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
    let is_image = config.and_then(|c| c.package_type()) == Some(&PackageType::Image);
    let source_image = if is_image {
        Some(image_digest(from.code()).ok_or_else(|| {
            Error::precondition(format!(
                "{} is a container-image function whose image digest Lambda does not report \
                 (ResolvedImageUri, or an ImageUri pinned by digest); nothing changed",
                source.describe()
            ))
        })?)
    } else {
        None
    };
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

    let versions = shared::lambda::versions(&target.client.lambda, function)
        .await?
        .ok_or_else(|| missing_in(function, target))?;
    if let Some(version) = plan::version_with_code(&versions, &source.code_sha256) {
        return Ok(Found::Present { version });
    }
    // An image function's version is its image: what the alias runs now may be that digest.
    if let (Some((_, digest)), Some(current)) = (&source_image, current) {
        if runs_digest(target, function, current).await? == Some(digest.clone()) {
            return Ok(Found::Present {
                version: current.to_string(),
            });
        }
    }
    let latest = target
        .client
        .lambda
        .get_function_configuration()
        .function_name(function)
        .send()
        .await
        .map_err(|e| {
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception())
            {
                missing_in(function, target)
            } else {
                aws_error(format!("failed to read {function}"), &e)
            }
        })?;
    let target_is_image = latest.package_type() == Some(&PackageType::Image);
    if target_is_image != is_image {
        let kind = |image: bool| {
            if image {
                "a container-image function"
            } else {
                "a .zip package function"
            }
        };
        return Err(Error::precondition(format!(
            "{function} ({}) is {}, but {} is {}: the two cannot hold the same code; nothing \
             changed",
            place(target),
            kind(target_is_image),
            source.describe(),
            kind(is_image)
        )));
    }
    let (route, image) = match source_image {
        Some((image, digest)) => (
            Route::Image,
            Some(image_plan(&image, &digest, target, shared_registry)?),
        ),
        None => (
            plan::copy_route(code_size, copy_bucket).map_err(|why| {
                Error::precondition(format!("{}: {why}; nothing changed", source.describe()))
            })?,
            None,
        ),
    };
    Ok(Found::Copy(Box::new(Planned {
        source,
        code_size,
        route,
        latest_code_sha256: latest.code_sha256().unwrap_or_default().to_string(),
        latest_revision_id: latest.revision_id().map(str::to_string),
        description: from
            .configuration()
            .and_then(|c| c.description())
            .filter(|d| !d.is_empty())
            .map(str::to_string),
        image,
    })))
}

/// The image a version runs, pinned by digest, and the digest: ResolvedImageUri as AWS reports
/// it, else an ImageUri pinned by digest.
fn image_digest(
    code: Option<&aws_sdk_lambda::types::FunctionCodeLocation>,
) -> Option<(String, String)> {
    let code = code?;
    [code.resolved_image_uri(), code.image_uri()]
        .into_iter()
        .flatten()
        .find_map(|uri| {
            let image = ImageRef::parse(uri).ok()?;
            let digest = image.digest.clone()?;
            Some((image.by_own_digest()?, digest))
        })
}

/// The digest the version `qualifier` of `function` runs (`None`: not an image, or not known).
async fn runs_digest(at: &Located, function: &str, qualifier: &str) -> Result<Option<String>> {
    let out = at
        .client
        .lambda
        .get_function()
        .function_name(function)
        .qualifier(qualifier)
        .send()
        .await
        .map_err(|e| aws_error(format!("failed to read {function}:{qualifier}"), &e))?;
    Ok(image_digest(out.code()).map(|(_, digest)| digest))
}

/// Where the target function's image will be: the same digest in the target's own registry
/// (copied there), or where it is when that is the target's registry or a shared one.
fn image_plan(
    image: &str,
    digest: &str,
    target: &Located,
    shared_registry: Option<(&str, &str)>,
) -> Result<ImagePlan> {
    let here = target.account.as_deref().zip(target.region.as_deref());
    Ok(
        match shared::image::placement(image, here, shared_registry) {
            Placement::Keep => ImagePlan {
                source: image.to_string(),
                digest: digest.to_string(),
                target: image.to_string(),
                copy: None,
            },
            Placement::Copy {
                account,
                region,
                repository,
            } => {
                let (target_account, target_region) = here.unwrap_or_default();
                ImagePlan {
                    source: image.to_string(),
                    digest: digest.to_string(),
                    target: format!(
                        "{}/{repository}@{digest}",
                        registry_host(target_account, target_region)
                    ),
                    copy: Some((account, region, repository)),
                }
            }
        },
    )
}

/// The target function does not exist where the copy would go: exit 4, naming the account and
/// region (a function of that name may well exist in the source's).
pub(crate) fn missing_in(function: &str, at: &Located) -> Error {
    Error::precondition(format!(
        "function {function} does not exist in {}: create it there (its configuration is that \
         environment's own), then promote; nothing changed",
        place(at)
    ))
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
        // The object a package went through (`Route::S3`): removed once Lambda has read it.
        let mut staged: Option<(String, String)> = None;
        let (request, bytes, image_copied) = match &self.image {
            Some(image) => {
                let copied = self.copy_image(image, target).await?;
                let request = target
                    .client
                    .lambda
                    .update_function_code()
                    .image_uri(&image.target);
                (
                    request,
                    copied.as_ref().map_or(0, |c| c.bytes_copied),
                    copied,
                )
            }
            None => match &self.route {
                Route::S3 { bucket } => {
                    let key = staging_key(function, &self.source.code_sha256);
                    let streamed = self.stage(target, bucket, &key, &doing).await?;
                    staged = Some((bucket.clone(), key.clone()));
                    let request = target
                        .client
                        .lambda
                        .update_function_code()
                        .s3_bucket(bucket)
                        .s3_key(&key)
                        .set_s3_object_version(streamed.version_id.clone());
                    (request, streamed.bytes, None)
                }
                Route::Direct | Route::Image => {
                    let package = self.download(&doing).await?;
                    let bytes = package.len() as u64;
                    let request = target
                        .client
                        .lambda
                        .update_function_code()
                        .zip_file(aws_sdk_lambda::primitives::Blob::new(package));
                    (request, bytes, None)
                }
            },
        };
        let updated = request
            .function_name(function)
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
        if self.image.is_none() && updated.code_sha256() != Some(self.source.code_sha256.as_str()) {
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
        let expected_code = self
            .image
            .is_none()
            .then_some(self.source.code_sha256.as_str());
        let revision_id = settled(target, function, expected_code)
            .await
            .map_err(|e| Error::Aws {
                doing: doing(),
                message: format!("{e}: {}", after_update()),
            })?;
        let published = target
            .client
            .lambda
            .publish_version()
            .function_name(function)
            .set_description(self.description.clone())
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
        if let Some(image) = &self.image {
            // An image function's version is proven by the digest it runs.
            let runs = runs_digest(target, function, &version).await?;
            if version.is_empty() || runs.as_deref() != Some(image.digest.as_str()) {
                return Err(Error::Aws {
                    doing: doing(),
                    message: format!(
                        "PublishVersion made version {version:?}, which runs {}, not {}: the \
                         alias is not moved to it",
                        runs.as_deref().unwrap_or("no known digest"),
                        image.digest
                    ),
                });
            }
        } else if version.is_empty() || code_sha256 != self.source.code_sha256 {
            return Err(Error::Aws {
                doing: doing(),
                message: format!(
                    "PublishVersion made version {version:?} with code_sha256 {code_sha256:?}, \
                     not {}: the alias is not moved to it",
                    self.source.code_sha256
                ),
            });
        }
        if let Some((bucket, key)) = &staged {
            unstage(target, bucket, key).await;
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
            image: image_copied,
        })
    }

    /// Copy the image into the target's registry when it must be (`None`: it is used where it
    /// is).
    async fn copy_image(
        &self,
        image: &ImagePlan,
        target: &Located,
    ) -> Result<Option<ecr_copy::Copied>> {
        let Some((account, region, repository)) = &image.copy else {
            return Ok(None);
        };
        // The source registry's client: the source environment's credentials in its region
        // (the registry's region may differ from the source function's).
        let from = &self.source.at;
        if from.region.as_deref() != Some(region.as_str()) {
            return Err(Error::precondition(format!(
                "{}: its image {} is in {region}, not in the function's region; copy it into \
                 the target's registry first, or name a shared registry in promote.toml \
                 ([ecr] registry); nothing changed",
                self.source.describe(),
                image.source
            )));
        }
        let copied = ecr_copy::copy_image(
            Repository {
                client: &from.client.ecr,
                registry_id: Some(account),
                name: repository,
            },
            Repository {
                client: &target.client.ecr,
                registry_id: target.account.as_deref(),
                name: repository,
            },
            &image.digest,
        )
        .await?;
        Ok(Some(copied))
    }

    /// Stream the package into `bucket` (the target environment's, with its credentials), in
    /// parts, checked against the source's size and CodeSha256 before the upload is completed.
    async fn stage(
        &self,
        target: &Located,
        bucket: &str,
        key: &str,
        doing: &impl Fn() -> String,
    ) -> Result<shared::s3_stream::Streamed> {
        let body = self.stream(doing).await?;
        shared::s3_stream::upload(
            shared::s3_stream::Destination {
                client: &target.client.s3,
                bucket,
                key,
            },
            body,
            &shared::s3_stream::Attributes {
                content_type: Some("application/zip".into()),
                ..Default::default()
            },
            &shared::s3_stream::Expect {
                length: Some(self.code_size),
                sha256_base64: Some(self.source.code_sha256.clone()),
                checksum: None,
            },
        )
        .await
    }

    /// The source's package as a stream, from its code location.
    async fn stream(
        &self,
        doing: &impl Fn() -> String,
    ) -> Result<aws_smithy_types::byte_stream::ByteStream> {
        // The location is pre-signed for a few minutes: asked for now, not when planned.
        let location = self
            .source
            .at
            .client
            .lambda
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
            .lambda
            .config()
            .http_client()
            .ok_or_else(|| Error::Aws {
                doing: doing(),
                message: "the Lambda client has no HTTP client to download with".into(),
            })?;
        shared::download::download(http, &location)
            .await
            .map_err(|message| Error::Aws {
                doing: doing(),
                message: format!("the package's download: {message}"),
            })
    }

    /// The source's package, in memory, checked: its size and SHA-256 are the source's, or
    /// nothing is written.
    async fn download(&self, doing: &impl Fn() -> String) -> Result<Vec<u8>> {
        let mut body = self.stream(doing).await?;
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
            if let Route::S3 { bucket } = &self.route {
                map.insert("bucket".into(), bucket.clone().into());
            }
            map.insert(
                "latest_before".into(),
                json!({"code_sha256": self.latest_code_sha256}),
            );
            if let Some(image) = &self.image {
                map.insert("image".into(), image.source.clone().into());
                map.insert("digest".into(), image.digest.clone().into());
                map.insert("target_image".into(), image.target.clone().into());
                map.insert("image_copied".into(), image.copy.is_some().into());
            }
            if let Some(copied) = copied {
                map.insert("bytes_copied".into(), copied.bytes.into());
                if let Some(image) = &copied.image {
                    map.insert("blobs_copied".into(), image.blobs_copied.into());
                    map.insert("blobs_skipped".into(), image.blobs_skipped.into());
                }
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

/// Where a package goes through the copy bucket: one key per function and code, so a copy that
/// is run again writes the same object.
fn staging_key(function: &str, code_sha256: &str) -> String {
    let hex: String = aws_smithy_types::base64::decode(code_sha256)
        .unwrap_or_default()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let name = function.rsplit(':').next().unwrap_or(function);
    format!("lambda-promote/{name}/{hex}.zip")
}

/// Remove the staged package: Lambda keeps its own copy of the code. A failure is only a
/// warning: the version is published and the alias moves all the same.
async fn unstage(target: &Located, bucket: &str, key: &str) {
    if let Err(e) = target
        .client
        .s3
        .delete_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
    {
        tracing::warn!(
            "the staged package s3://{bucket}/{key} was not deleted ({}); it is no longer needed",
            shared::aws::describe(&e)
        );
    }
}

/// How long a function's update may take before the copy gives up on publishing it.
const UPDATE_WAIT: Duration = Duration::from_secs(300);

/// Wait until $LATEST's update is no longer in progress (Lambda refuses to publish during one),
/// and give the RevisionId to publish against: $LATEST's once the update is done (it changes as
/// the update completes), provided $LATEST still holds the copied code.
async fn settled(
    at: &Located,
    function: &str,
    code_sha256: Option<&str>,
) -> std::result::Result<Option<String>, String> {
    let started = tokio::time::Instant::now();
    let mut delay = Duration::from_millis(250);
    loop {
        let config = at
            .client
            .lambda
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
            _ if code_sha256.is_some_and(|sha| config.code_sha256() != Some(sha)) => {
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
