//! Reading ECR images: a tag or digest resolved to its digest and manifest, for every tool that
//! needs to know what bits a tag or a task definition names (ecs-pin, and cfg-diff for whether two
//! environments run the same images).

use crate::aws::aws_error;
use crate::error::Result;
use aws_sdk_ecr::types::ImageIdentifier;
use aws_sdk_ecr::Client;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Every manifest type ECR stores: asking for all of them means a multi-architecture index is
/// returned as it is, byte for byte, instead of being converted or refused.
pub const MANIFEST_MEDIA_TYPES: [&str; 5] = [
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
];

/// How an image is asked for: by tag or by digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ImageId {
    Tag(String),
    Digest(String),
}

impl ImageId {
    fn to_sdk(&self) -> ImageIdentifier {
        match self {
            ImageId::Tag(tag) => ImageIdentifier::builder().image_tag(tag).build(),
            ImageId::Digest(digest) => ImageIdentifier::builder().image_digest(digest).build(),
        }
    }
}

impl std::fmt::Display for ImageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImageId::Tag(tag) => write!(f, ":{tag}"),
            ImageId::Digest(digest) => write!(f, "@{digest}"),
        }
    }
}

/// An image as ECR has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The account that owns the registry.
    pub registry_id: String,
    pub digest: String,
    /// The manifest exactly as stored: retagging puts these bytes back under another tag.
    pub manifest: String,
    pub media_type: Option<String>,
}

/// Whether the repository's tags are immutable (`IMMUTABLE`: ECR refuses to move a tag).
pub async fn tags_immutable(
    client: &Client,
    registry_id: Option<&str>,
    repository: &str,
) -> Result<bool> {
    let out = client
        .describe_repositories()
        .set_registry_id(registry_id.map(str::to_string))
        .repository_names(repository)
        .send()
        .await
        .map_err(|e| aws_error(format!("failed to describe repository {repository}"), &e))?;
    Ok(out.repositories().iter().any(|r| {
        r.image_tag_mutability()
            .is_some_and(|m| m.as_str().starts_with("IMMUTABLE"))
    }))
}

/// Look up several images of one repository in one call. The answer has one entry per id, in
/// order: `None` where ECR has no such tag or digest.
pub async fn get_images(
    client: &Client,
    registry_id: Option<&str>,
    repository: &str,
    ids: &[ImageId],
) -> Result<Vec<Option<Image>>> {
    let mut found: Vec<Option<Image>> = vec![None; ids.len()];
    // BatchGetImage takes at most 100 ids a call.
    for (chunk_index, chunk) in ids.chunks(100).enumerate() {
        let out = client
            .batch_get_image()
            .set_registry_id(registry_id.map(str::to_string))
            .repository_name(repository)
            .set_image_ids(Some(chunk.iter().map(ImageId::to_sdk).collect()))
            .set_accepted_media_types(Some(
                MANIFEST_MEDIA_TYPES
                    .iter()
                    .map(|t| (*t).to_string())
                    .collect(),
            ))
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error()
                    .is_some_and(|s| s.is_repository_not_found_exception())
                {
                    return crate::Error::precondition(format!(
                        "repository {repository} does not exist in ECR{}",
                        registry_id
                            .map(|id| format!(" (registry {id})"))
                            .unwrap_or_default()
                    ));
                }
                aws_error(
                    format!("failed to read images of repository {repository}"),
                    &e,
                )
            })?;
        let base = chunk_index * 100;
        let to_image = |image: &aws_sdk_ecr::types::Image| Image {
            registry_id: image.registry_id().unwrap_or_default().to_string(),
            digest: image
                .image_id()
                .and_then(|id| id.image_digest())
                .unwrap_or_default()
                .to_string(),
            manifest: image.image_manifest().unwrap_or_default().to_string(),
            media_type: image.image_manifest_media_type().map(str::to_string),
        };
        // Each answer names the id it answers; match on that first.
        let mut leftovers = Vec::new();
        for image in out.images() {
            let Some(image_id) = image.image_id() else {
                continue;
            };
            let slot = chunk.iter().enumerate().position(|(offset, id)| {
                found[base + offset].is_none()
                    && match id {
                        ImageId::Tag(tag) => image_id.image_tag() == Some(tag.as_str()),
                        ImageId::Digest(digest) => image_id.image_digest() == Some(digest.as_str()),
                    }
            });
            match slot {
                Some(offset) => found[base + offset] = Some(to_image(image)),
                None => leftovers.push(to_image(image)),
            }
        }
        // An image with several tags may be answered under another of its tags (the emulator
        // does this). Answers come in the order asked, so pair the rest in order, leaving out the
        // ids ECR reported as failures. Only tags: an image asked for by digest always comes back
        // under that digest, so a digest not matched above is missing (the emulator reports a
        // missing digest as a failure of tag "null", which the filter below cannot recognise).
        let failed: Vec<&ImageIdentifier> =
            out.failures().iter().filter_map(|f| f.image_id()).collect();
        let unanswered: Vec<usize> = chunk
            .iter()
            .enumerate()
            .filter(|(offset, id)| {
                found[base + offset].is_none()
                    && match id {
                        ImageId::Tag(tag) => {
                            !failed.iter().any(|f| f.image_tag() == Some(tag.as_str()))
                        }
                        ImageId::Digest(_) => false,
                    }
            })
            .map(|(offset, _)| offset)
            .collect();
        if unanswered.len() == leftovers.len() {
            for (offset, image) in unanswered.into_iter().zip(leftovers) {
                found[base + offset] = Some(image);
            }
        }
        for failure in out.failures() {
            let code = failure
                .failure_code()
                .map(|c| c.as_str().to_string())
                .unwrap_or_default();
            if code != "ImageNotFound" && code != "ImageTagDoesNotExist" {
                return Err(crate::Error::Aws {
                    doing: format!("failed to read images of repository {repository}"),
                    message: format!(
                        "{code}: {}",
                        failure.failure_reason().unwrap_or("no reason given")
                    ),
                });
            }
        }
    }
    Ok(found)
}

/// The images a run has looked up in one account and region, so each id is asked for once per
/// run: services that name the same tag, or several tags of one repository, cost one
/// `BatchGetImage` per repository rather than one per service. Lookups in one repository wait for
/// each other, so an id being asked for is not asked for again alongside. For reads only: a
/// command that checks a tag before moving it reads it with [`get_images`].
#[derive(Debug, Default)]
pub struct Images {
    repositories: Mutex<HashMap<(Option<String>, String), Repository>>,
}

/// What one repository answered, by id (`None`: ECR has no such tag or digest).
type Repository = Arc<tokio::sync::Mutex<HashMap<ImageId, Option<Image>>>>;

impl Images {
    /// [`get_images`], with only the ids this run has not read yet asked for (in one call per
    /// 100).
    pub async fn get(
        &self,
        client: &Client,
        registry_id: Option<&str>,
        repository: &str,
        ids: &[ImageId],
    ) -> Result<Vec<Option<Image>>> {
        let known = self
            .repositories
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((registry_id.map(str::to_string), repository.to_string()))
            .or_default()
            .clone();
        let mut known = known.lock().await;
        let mut missing: Vec<ImageId> = Vec::new();
        for id in ids {
            if !known.contains_key(id) && !missing.contains(id) {
                missing.push(id.clone());
            }
        }
        if !missing.is_empty() {
            let found = get_images(client, registry_id, repository, &missing).await?;
            // An image found by tag is known by its digest too: checking that digest later in
            // the run costs no call.
            let by_digest: Vec<(ImageId, Option<Image>)> = found
                .iter()
                .flatten()
                .map(|image| (ImageId::Digest(image.digest.clone()), Some(image.clone())))
                .collect();
            known.extend(missing.into_iter().zip(found));
            for (id, image) in by_digest {
                known.entry(id).or_insert(image);
            }
        }
        Ok(ids
            .iter()
            .map(|id| known.get(id).cloned().flatten())
            .collect())
    }
}

/// The registry host of an account's ECR in a region: `123456789012.dkr.ecr.eu-west-1.amazonaws.com`.
#[must_use]
pub fn registry_host(registry_id: &str, region: &str) -> String {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("{registry_id}.dkr.ecr.{region}.{suffix}")
}
