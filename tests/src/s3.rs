//! Seeding and reading back S3 buckets, objects and versions in the emulator.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use std::collections::HashMap;

/// An S3 client for the emulator (path-style addressing, as on any custom endpoint).
#[must_use]
pub fn client() -> Client {
    Client::from_conf(
        aws_sdk_s3::config::Builder::from(&crate::emulator::sdk_config())
            .force_path_style(true)
            .build(),
    )
}

/// A bucket, with versioning enabled when `versioned`.
pub async fn create_bucket(name: &str, versioned: bool) {
    let client = client();
    client
        .create_bucket()
        .bucket(name)
        .send()
        .await
        .expect("create a bucket");
    if versioned {
        client
            .put_bucket_versioning()
            .bucket(name)
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .expect("enable versioning");
    }
}

/// Put an object (a new version); returns its version id.
pub async fn put(
    bucket: &str,
    key: &str,
    body: &[u8],
    content_type: &str,
    metadata: &[(&str, &str)],
) -> String {
    client()
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .content_type(content_type)
        .set_metadata(Some(
            metadata
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
        ))
        .send()
        .await
        .expect("put an object")
        .version_id()
        .unwrap_or("null")
        .to_string()
}

/// What a key holds now (or a version of it): bytes, content type, metadata, version id.
pub async fn get(
    bucket: &str,
    key: &str,
    version: Option<&str>,
) -> Option<(Vec<u8>, Option<String>, HashMap<String, String>, String)> {
    let out = client()
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_version_id(version.map(str::to_string))
        .send()
        .await
        .ok()?;
    let content_type = out.content_type().map(str::to_string);
    let metadata = out.metadata().cloned().unwrap_or_default();
    let version_id = out.version_id().unwrap_or("null").to_string();
    let bytes = out
        .body
        .collect()
        .await
        .expect("read the body")
        .into_bytes()
        .to_vec();
    Some((bytes, content_type, metadata, version_id))
}

/// Every version id of exactly this key (delete markers not included), newest first.
pub async fn versions(bucket: &str, key: &str) -> Vec<String> {
    let out = client()
        .list_object_versions()
        .bucket(bucket)
        .prefix(key)
        .send()
        .await
        .expect("list versions");
    out.versions()
        .iter()
        .filter(|v| v.key() == Some(key))
        .map(|v| v.version_id().unwrap_or("null").to_string())
        .collect()
}
