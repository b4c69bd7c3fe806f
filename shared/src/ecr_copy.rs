//! Copying an ECR image into another registry (another account's, or another region's) so that
//! its digest is the same there: the manifest (or index, and every manifest it lists) byte for
//! byte, and every blob the target lacks, streamed from the source's download URL into the
//! target's layer upload in parts, each blob's SHA-256 checked on the way. What an environment
//! pulls is then provably what the environment before it ran. ecs-pin copies images this way;
//! lambda-promote can for image functions.
//!
//! The download goes through the SDK's own HTTP client (`crate::download`); every ECR call goes
//! through the clients, so the run's rate limits hold. Memory is bounded by the part size times the blobs in flight, whatever
//! the size of the image.

use crate::aws::aws_error;
use crate::download::download;
use crate::ecr::{get_images, Image, ImageId};
use crate::error::{Error, Result};
use aws_sdk_ecr::Client;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use sha2::{Digest, Sha256};

/// An ECR repository as one side of a copy: the client of the account and region it is in (with
/// that side's credentials), the registry (account) that owns it when not the client's own, and
/// its name.
#[derive(Debug, Clone, Copy)]
pub struct Repository<'a> {
    pub client: &'a Client,
    pub registry_id: Option<&'a str>,
    pub name: &'a str,
}

/// What a copy did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Copied {
    /// The digest the target holds now: the source's.
    pub digest: String,
    /// The target had the image already: nothing was written.
    pub present: bool,
    /// Manifests put (the image's, and each one an index lists).
    pub manifests: u64,
    /// Blobs (configs and layers) streamed across, and their bytes.
    pub blobs_copied: u64,
    pub bytes_copied: u64,
    /// Blobs the target had already.
    pub blobs_skipped: u64,
}

/// The manifest types that list other manifests (a multi-architecture image).
const INDEX_TYPES: [&str; 2] = [
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
];

/// The part size when ECR does not say one, and the most held in memory for one part.
const PART_SIZE: usize = 10 * 1024 * 1024;
const MAX_PART_SIZE: usize = 20 * 1024 * 1024;
/// Blobs streamed at once in the whole process: with the part size, what bounds memory however
/// many images a run copies side by side.
const BLOBS_IN_FLIGHT: usize = 3;
static BLOB_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(BLOBS_IN_FLIGHT);

/// Copy the image `digest` of `source` into `target` (which must exist), so that `target` holds
/// the same manifest bytes under the same digest: for an index, every manifest it lists first.
/// Blobs the target has are skipped; the others are streamed and their SHA-256 checked before
/// the upload is completed. The target's image is read back at the end: a digest or manifest
/// that is not the source's is an error (exit 3), and the image is not to be used.
///
/// A missing source image or target repository is a refusal (exit 4) naming it.
pub async fn copy_image(
    source: Repository<'_>,
    target: Repository<'_>,
    digest: &str,
) -> Result<Copied> {
    if let Some(image) = read(target, digest).await? {
        check_same(&image, digest, target)?;
        return Ok(Copied {
            digest: digest.to_string(),
            present: true,
            ..Copied::default()
        });
    }
    let image = read(source, digest).await?.ok_or_else(|| {
        Error::precondition(format!(
            "{}@{digest} does not exist in ECR{}: nothing to copy",
            source.name,
            source
                .registry_id
                .map(|r| format!(" (registry {r})"))
                .unwrap_or_default()
        ))
    })?;
    let mut copied = Copied {
        digest: digest.to_string(),
        ..Copied::default()
    };
    Box::pin(copy_manifest(source, target, &image, &mut copied)).await?;
    // Proven before anyone pins it: the target answers the source's bytes under its digest.
    let back = read(target, digest).await?.ok_or_else(|| Error::Aws {
        doing: format!("copying {}@{digest} into {}", source.name, target.name),
        message: "the target does not have the image after PutImage".into(),
    })?;
    check_same(&back, digest, target)?;
    if back.manifest != image.manifest {
        return Err(mismatch(
            target,
            digest,
            "its manifest is not the source's, byte for byte",
        ));
    }
    Ok(copied)
}

/// The image `digest` of a repository (`None`: not there). A missing repository is a refusal
/// naming it.
async fn read(at: Repository<'_>, digest: &str) -> Result<Option<Image>> {
    Ok(get_images(
        at.client,
        at.registry_id,
        at.name,
        &[ImageId::Digest(digest.to_string())],
    )
    .await?
    .pop()
    .flatten())
}

fn mismatch(target: Repository<'_>, digest: &str, why: &str) -> Error {
    Error::Aws {
        doing: format!("checking the copy of {digest} in {}", target.name),
        message: format!("{why}; nothing is pinned to it"),
    }
}

/// The image's digest is what was asked for, and its manifest hashes to it (as ECR's digests
/// are the SHA-256 of the manifest bytes).
fn check_same(image: &Image, digest: &str, target: Repository<'_>) -> Result<()> {
    if image.digest != digest {
        return Err(mismatch(
            target,
            digest,
            &format!("ECR answers digest {}", image.digest),
        ));
    }
    Ok(())
}

/// The digest ECR gives these manifest bytes.
#[must_use]
pub fn manifest_digest(manifest: &str) -> String {
    format!("sha256:{:x}", Sha256::digest(manifest.as_bytes()))
}

/// What a manifest refers to: the manifests an index lists, or the blobs (config and layers)
/// of an image manifest, with their sizes where the manifest gives them.
#[derive(Debug, Default, PartialEq, Eq)]
struct References {
    manifests: Vec<(String, Option<String>)>,
    blobs: Vec<(String, Option<u64>)>,
}

fn references(manifest: &str, media_type: Option<&str>) -> Result<References> {
    let value: serde_json::Value = serde_json::from_str(manifest).map_err(|e| Error::Aws {
        doing: "reading an image manifest".into(),
        message: format!("it is not JSON: {e}"),
    })?;
    let media_type = media_type
        .or_else(|| value["mediaType"].as_str())
        .unwrap_or_default();
    let mut refs = References::default();
    let is_index = INDEX_TYPES.contains(&media_type)
        || (value.get("manifests").is_some() && value.get("layers").is_none());
    if is_index {
        for child in value["manifests"].as_array().into_iter().flatten() {
            if let Some(digest) = child["digest"].as_str() {
                refs.manifests.push((
                    digest.to_string(),
                    child["mediaType"].as_str().map(str::to_string),
                ));
            }
        }
        return Ok(refs);
    }
    let mut blob = |entry: &serde_json::Value, key: &str| {
        if let Some(digest) = entry[key].as_str() {
            if !refs.blobs.iter().any(|(d, _)| d == digest) {
                refs.blobs
                    .push((digest.to_string(), entry["size"].as_u64()));
            }
        }
    };
    if value.get("config").is_some() {
        blob(&value["config"], "digest");
    }
    for layer in value["layers"].as_array().into_iter().flatten() {
        blob(layer, "digest");
    }
    // Schema 1: `fsLayers[].blobSum`.
    for layer in value["fsLayers"].as_array().into_iter().flatten() {
        blob(layer, "blobSum");
    }
    Ok(refs)
}

/// Copy one manifest and what it refers to: the manifests an index lists (each as an image of
/// its own, by digest), else the blobs the target lacks; then the manifest itself.
async fn copy_manifest(
    source: Repository<'_>,
    target: Repository<'_>,
    image: &Image,
    copied: &mut Copied,
) -> Result<()> {
    if manifest_digest(&image.manifest) != image.digest {
        return Err(Error::Aws {
            doing: format!("reading {}@{} to copy it", source.name, image.digest),
            message: format!(
                "the manifest ECR answered hashes to {}, not to its digest: it is not copied",
                manifest_digest(&image.manifest)
            ),
        });
    }
    let refs = references(&image.manifest, image.media_type.as_deref())?;
    for (child, _) in &refs.manifests {
        if read(target, child).await?.is_some() {
            continue;
        }
        let found = read(source, child).await?.ok_or_else(|| {
            Error::precondition(format!(
                "{}@{}: the index lists {child}, which the source repository does not have",
                source.name, image.digest
            ))
        })?;
        Box::pin(copy_manifest(source, target, &found, copied)).await?;
    }
    let missing = missing_blobs(target, &refs.blobs).await?;
    copied.blobs_skipped += (refs.blobs.len() - missing.len()) as u64;
    let copies = missing.iter().map(|(digest, size)| async move {
        let _slot = BLOB_SLOTS.acquire().await.map_err(|_| Error::Aws {
            doing: "copying layers".into(),
            message: "the copy was shut down".into(),
        })?;
        copy_blob(source, target, digest, *size).await
    });
    for result in futures::future::join_all(copies).await {
        match result? {
            Some(bytes) => {
                copied.blobs_copied += 1;
                copied.bytes_copied += bytes;
            }
            // Uploaded meanwhile by another copy of the run (a layer two images share).
            None => copied.blobs_skipped += 1,
        }
    }
    put_manifest(target, image).await?;
    copied.manifests += 1;
    Ok(())
}

/// The blobs `target` does not have (BatchCheckLayerAvailability, 100 a call).
async fn missing_blobs(
    target: Repository<'_>,
    blobs: &[(String, Option<u64>)],
) -> Result<Vec<(String, Option<u64>)>> {
    let mut missing = Vec::new();
    for chunk in blobs.chunks(100) {
        let out = target
            .client
            .batch_check_layer_availability()
            .set_registry_id(target.registry_id.map(str::to_string))
            .repository_name(target.name)
            .set_layer_digests(Some(chunk.iter().map(|(d, _)| d.clone()).collect()))
            .send()
            .await
            .map_err(|e| {
                target_error(
                    target,
                    format!("failed to check which layers {} has", target.name),
                    &e,
                )
            })?;
        let available: Vec<&str> = out
            .layers()
            .iter()
            .filter(|l| {
                l.layer_availability()
                    .is_some_and(|a| a.as_str() == "AVAILABLE")
            })
            .filter_map(|l| l.layer_digest())
            .collect();
        missing.extend(
            chunk
                .iter()
                .filter(|(d, _)| !available.contains(&d.as_str()))
                .cloned(),
        );
    }
    Ok(missing)
}

/// Where a copy cannot go: the target environment's registry has no such repository, and making
/// one (its policy, scanning, lifecycle, encryption) is that environment's decision.
#[must_use]
/// A failed call on the target repository: its absence said plainly (exit 4), anything else
/// as AWS said it. One place for every call of the copy that writes to or reads the target.
fn target_error<E>(
    target: Repository<'_>,
    doing: impl Into<String>,
    e: &aws_smithy_runtime_api::client::result::SdkError<E, HttpResponse>,
) -> Error
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
    if e.as_service_error().and_then(ProvideErrorMetadata::code)
        == Some("RepositoryNotFoundException")
    {
        return missing_repository(target);
    }
    aws_error(doing, e)
}

pub fn missing_repository(target: Repository<'_>) -> Error {
    Error::precondition(format!(
        "repository {} does not exist in the target registry{}: create it there (the copy does \
         not create repositories); nothing changed",
        target.name,
        target
            .registry_id
            .map(|r| format!(" {r}"))
            .unwrap_or_default()
    ))
}

/// Stream one blob from `source` into `target`, checking its SHA-256 (and size, when the
/// manifest gives it) before the upload is completed. `Ok(None)`: the target has it already
/// (another copy of the run uploaded it meanwhile).
async fn copy_blob(
    source: Repository<'_>,
    target: Repository<'_>,
    digest: &str,
    size: Option<u64>,
) -> Result<Option<u64>> {
    let doing = || {
        format!(
            "copying layer {digest} from {} to {}",
            source.name, target.name
        )
    };
    let url = source
        .client
        .get_download_url_for_layer()
        .set_registry_id(source.registry_id.map(str::to_string))
        .repository_name(source.name)
        .layer_digest(digest)
        .send()
        .await
        .map_err(|e| aws_error(doing(), &e))?
        .download_url
        .ok_or_else(|| Error::Aws {
            doing: doing(),
            message: "GetDownloadUrlForLayer answered no URL".into(),
        })?;
    let http = source
        .client
        .config()
        .http_client()
        .ok_or_else(|| Error::Aws {
            doing: doing(),
            message: "the ECR client has no HTTP client to download with".into(),
        })?;
    let mut body = download(http, &url).await.map_err(|message| Error::Aws {
        doing: doing(),
        message,
    })?;

    let upload = target
        .client
        .initiate_layer_upload()
        .set_registry_id(target.registry_id.map(str::to_string))
        .repository_name(target.name)
        .send()
        .await
        .map_err(|e| target_error(target, doing(), &e))?;
    let upload_id = upload.upload_id.ok_or_else(|| Error::Aws {
        doing: doing(),
        message: "InitiateLayerUpload answered no upload id".into(),
    })?;
    let part_size = upload
        .part_size
        .and_then(|s| usize::try_from(s).ok())
        .filter(|&s| s > 0)
        .unwrap_or(PART_SIZE)
        .min(MAX_PART_SIZE);

    let mut hasher = Sha256::new();
    let mut sent: u64 = 0;
    let mut part: Vec<u8> = Vec::with_capacity(part_size);
    loop {
        let chunk = body.next().await.transpose().map_err(|e| Error::Aws {
            doing: doing(),
            message: format!("the download broke off after {sent} bytes: {e}"),
        })?;
        let done = chunk.is_none();
        if let Some(mut chunk) = chunk {
            hasher.update(&chunk);
            while !chunk.is_empty() {
                let room = part_size - part.len();
                let take = room.min(chunk.len());
                part.extend_from_slice(&chunk.split_to(take));
                if part.len() == part_size {
                    sent = upload_part(target, &upload_id, &mut part, sent, &doing).await?;
                }
            }
        }
        if done {
            break;
        }
    }
    if !part.is_empty() {
        sent = upload_part(target, &upload_id, &mut part, sent, &doing).await?;
    }
    let got = format!("sha256:{:x}", hasher.finalize());
    if got != digest || size.is_some_and(|s| s != sent) {
        // Not completed: ECR drops an upload that is never completed.
        return Err(Error::Aws {
            doing: doing(),
            message: format!(
                "the bytes downloaded ({sent} bytes, {got}) are not the layer the manifest names{}; nothing is pinned to it",
                size.map(|s| format!(" ({s} bytes)")).unwrap_or_default()
            ),
        });
    }
    let completed = target
        .client
        .complete_layer_upload()
        .set_registry_id(target.registry_id.map(str::to_string))
        .repository_name(target.name)
        .upload_id(&upload_id)
        .layer_digests(digest)
        .send()
        .await;
    match completed {
        Ok(out) if out.layer_digest() == Some(digest) => Ok(Some(sent)),
        Ok(out) => Err(Error::Aws {
            doing: doing(),
            message: format!(
                "ECR completed the upload as {}, not {digest}; nothing is pinned to it",
                out.layer_digest().unwrap_or("no digest")
            ),
        }),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_layer_already_exists_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(aws_error(doing(), &e)),
    }
}

/// Send `part` as the next part of an upload (its first byte is `sent`); returns the bytes sent
/// so far. The part's buffer is emptied for the next one.
async fn upload_part(
    target: Repository<'_>,
    upload_id: &str,
    part: &mut Vec<u8>,
    sent: u64,
    doing: &impl Fn() -> String,
) -> Result<u64> {
    let length = part.len() as u64;
    let bytes = std::mem::replace(part, Vec::with_capacity(part.capacity()));
    target
        .client
        .upload_layer_part()
        .set_registry_id(target.registry_id.map(str::to_string))
        .repository_name(target.name)
        .upload_id(upload_id)
        .part_first_byte(i64::try_from(sent).unwrap_or(i64::MAX))
        .part_last_byte(i64::try_from(sent + length - 1).unwrap_or(i64::MAX))
        .layer_part_blob(aws_smithy_types::Blob::new(bytes))
        .send()
        .await
        .map_err(|e| aws_error(doing(), &e))?;
    Ok(sent + length)
}

/// Put a manifest into `target` under its digest, with no tag: the exact bytes and media type.
/// ECR answers with the digest it computed, which must be the source's.
async fn put_manifest(target: Repository<'_>, image: &Image) -> Result<()> {
    let out = target
        .client
        .put_image()
        .set_registry_id(target.registry_id.map(str::to_string))
        .repository_name(target.name)
        .image_manifest(&image.manifest)
        .set_image_manifest_media_type(image.media_type.clone())
        .image_digest(&image.digest)
        .send()
        .await;
    match out {
        Ok(out) => {
            let put = out
                .image()
                .and_then(|i| i.image_id())
                .and_then(|id| id.image_digest())
                .unwrap_or_default();
            if put == image.digest {
                Ok(())
            } else {
                Err(mismatch(
                    target,
                    &image.digest,
                    &format!("PutImage answered digest {put:?}"),
                ))
            }
        }
        // Put meanwhile (another copy of the run): read back by the caller.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_image_already_exists_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(target_error(
            target,
            format!(
                "failed to put the manifest of {} into {}",
                image.digest, target.name
            ),
            &e,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_manifest_refers_to_its_config_and_layers() {
        let manifest = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"digest":"sha256:c","size":7},"layers":[{"digest":"sha256:a","size":10},{"digest":"sha256:b","size":20},{"digest":"sha256:a","size":10}]}"#;
        let refs = references(manifest, None).unwrap();
        assert!(refs.manifests.is_empty());
        assert_eq!(
            refs.blobs,
            [
                ("sha256:c".to_string(), Some(7)),
                ("sha256:a".to_string(), Some(10)),
                ("sha256:b".to_string(), Some(20)),
            ]
        );
    }

    #[test]
    fn an_index_refers_to_its_manifests() {
        let index = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:x","size":1},{"digest":"sha256:y","size":2}]}"#;
        let refs = references(index, Some("application/vnd.oci.image.index.v1+json")).unwrap();
        assert!(refs.blobs.is_empty());
        assert_eq!(refs.manifests.len(), 2);
        assert_eq!(refs.manifests[1].0, "sha256:y");
    }
}
