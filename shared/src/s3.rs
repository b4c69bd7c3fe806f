//! Reading one S3 object's version: s3-version reads a key's version to promote it, cfg-diff
//! reads every environment's to show the release. The call, what counts as "no such version",
//! and how an answer becomes an [`S3Artifact`] live here once.

use crate::aws::aws_error;
use crate::record::S3Artifact;
use crate::Result;
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode};
use aws_sdk_s3::Client;

/// The algorithms of the checksums S3 may store, in the order a stored one is looked for.
pub const CHECKSUMS: [(&str, ChecksumAlgorithm); 5] = [
    ("sha256", ChecksumAlgorithm::Sha256),
    ("crc64nvme", ChecksumAlgorithm::Crc64Nvme),
    ("crc32c", ChecksumAlgorithm::Crc32C),
    ("crc32", ChecksumAlgorithm::Crc32),
    ("sha1", ChecksumAlgorithm::Sha1),
];

/// An answer's checksum as `ALGORITHM:VALUE`, its values given in the order of `CHECKSUMS`: the
/// same text for what HeadObject and CopyObject say about one version.
#[must_use]
pub fn checksum_of(values: [Option<&str>; 5]) -> Option<String> {
    CHECKSUMS
        .iter()
        .zip(values)
        .find_map(|((algorithm, _), value)| value.map(|v| format!("{algorithm}:{v}")))
}

/// An ETag without its quotes.
#[must_use]
pub fn unquote(etag: &str) -> String {
    etag.trim_matches('"').to_string()
}

/// HeadObject of a version of `bucket`/`key` (its current one without `version_id`), with its
/// checksum; `None` when there is none: no such key, the version does not exist, or the current
/// version is a delete marker.
pub async fn head_object(
    client: &Client,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<Option<HeadObjectOutput>> {
    // "null" is the one version of a key in a bucket without versioning: the current one. Asking
    // for it without an id reads the same object, from servers that refuse "null" too.
    let version_id = version_id.filter(|v| *v != "null");
    let result = client
        .head_object()
        .bucket(bucket)
        .key(key)
        .set_version_id(version_id.map(str::to_string))
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await;
    match result {
        Ok(out) => Ok(Some(out)),
        // HEAD answers carry no error body: 404 (no such key or version) and 405 (the version is
        // a delete marker) are told apart only by their status.
        Err(e)
            if e.as_service_error().is_some_and(|s| s.is_not_found())
                || e.raw_response()
                    .is_some_and(|r| matches!(r.status().as_u16(), 404 | 405)) =>
        {
            Ok(None)
        }
        Err(e) => Err(aws_error(
            format!(
                "failed to read s3://{bucket}/{key}{}",
                version_id
                    .map(|v| format!(" version {v}"))
                    .unwrap_or_default()
            ),
            &e,
        )),
    }
}

/// The artifact a HeadObject answer describes.
#[must_use]
pub fn artifact_of(out: &HeadObjectOutput) -> S3Artifact {
    S3Artifact {
        version_id: out.version_id().unwrap_or("null").to_string(),
        etag: unquote(out.e_tag().unwrap_or_default()),
        size: out.content_length().unwrap_or_default(),
        checksum: checksum_of([
            out.checksum_sha256(),
            out.checksum_crc64_nvme(),
            out.checksum_crc32_c(),
            out.checksum_crc32(),
            out.checksum_sha1(),
        ]),
    }
}

/// A HeadObject answer's LastModified as (seconds, nanoseconds) since the epoch, for ordering.
#[must_use]
pub fn modified(out: &HeadObjectOutput) -> Option<(i64, u32)> {
    out.last_modified().map(|t| (t.secs(), t.subsec_nanos()))
}
