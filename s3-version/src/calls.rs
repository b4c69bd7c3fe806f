//! The S3 calls: reading versions, copying one version onto a key (in one call, or in parts above
//! the single-copy limit; or, across accounts, streamed through `shared::s3_stream`), hiding a
//! key behind a delete marker, the clients per environment, and each bucket's versioning, read
//! once per run.

use crate::location::{copy_source, Location};
use crate::plan::{self, CopyAnswer, Encryption, Listed};
use aws_sdk_s3::config::interceptors::AfterDeserializationInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::{DateTime, DateTimeFormat as Format};
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumType, CompletedMultipartUpload, CompletedPart, ServerSideEncryption,
};
use aws_sdk_s3::Client;
use shared::aws::aws_error;
use shared::config::EnvSettings;
use shared::memo::ReadOnce;
use shared::record::S3Artifact;
use shared::s3::{checksum_of, unquote, CHECKSUMS};
use shared::s3_stream::{self, Streamed};
use shared::{Error, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// S3 clients per environment and region.
pub type Clients<'a> = shared::aws::Clients<'a, Client>;
/// A client and where it points.
pub type Located = shared::aws::Located<Client>;

/// Clients for every environment the run touches (`shared::s3_stream::client`: path-style
/// addressing behind an endpoint override).
#[must_use]
pub fn clients(aws: &shared::aws::Aws) -> Clients<'_> {
    Clients::new(aws, shared::s3_stream::client)
}

/// One object version with what a copy must carry along.
#[derive(Debug, Clone)]
pub struct Version {
    pub artifact: S3Artifact,
    pub content_type: Option<String>,
    /// The other headers a single copy keeps by itself and a copy in parts must restate.
    pub headers: Headers,
    pub metadata: HashMap<String, String>,
    /// Whether the ETag is the MD5 of the bytes: a single-part object under no encryption or
    /// SSE-S3 (not SSE-KMS, SSE-C, nor a multipart upload).
    pub etag_is_md5: bool,
    /// The checksum's type (full-object or composite), for a copy in parts to ask the same.
    pub checksum_type: Option<ChecksumType>,
    pub encryption: Encryption,
}

impl Version {
    /// A version known only by what a record says of it: enough for a single copy, which
    /// carries the headers, metadata and tags itself.
    #[must_use]
    pub fn recorded(artifact: S3Artifact) -> Self {
        Version {
            artifact,
            content_type: None,
            headers: Headers::default(),
            metadata: HashMap::new(),
            etag_is_md5: false,
            checksum_type: None,
            encryption: Encryption::default(),
        }
    }
}

/// The headers of an object a copy carries over, besides its content type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    pub content_encoding: Option<String>,
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    pub expires: Option<String>,
}

/// How S3 says it encrypted a version.
fn encryption(sse: Option<&ServerSideEncryption>, kms_key_id: Option<&str>) -> Encryption {
    Encryption {
        sse: sse.map(|s| s.as_str().to_string()),
        kms_key_id: kms_key_id.map(str::to_string),
    }
}

/// A version of a key (its current one without `version_id`), or `None` when there is none: no
/// such key, the version does not exist, or the current version is a delete marker.
pub async fn head(
    at: &Located,
    location: &Location,
    version_id: Option<&str>,
) -> Result<Option<Version>> {
    let Some(out) =
        shared::s3::head_object(&at.client, &location.bucket, &location.key, version_id).await?
    else {
        return Ok(None);
    };
    let artifact = shared::s3::artifact_of(&out);
    let etag = artifact.etag.clone();
    let encrypted = encryption(out.server_side_encryption(), out.ssekms_key_id());
    Ok(Some(Version {
        etag_is_md5: !etag.contains('-')
            && out.sse_customer_algorithm().is_none()
            && encrypted.keeps_md5(),
        artifact,
        content_type: out.content_type().map(str::to_string),
        headers: Headers {
            content_encoding: out.content_encoding().map(str::to_string),
            cache_control: out.cache_control().map(str::to_string),
            content_disposition: out.content_disposition().map(str::to_string),
            content_language: out.content_language().map(str::to_string),
            expires: out.expires_string().map(str::to_string),
        },
        metadata: out.metadata().cloned().unwrap_or_default(),
        checksum_type: out.checksum_type().cloned(),
        encryption: encrypted,
    }))
}

/// The refusal (exit 4) for a key that was not found, naming what is missing: its bucket, when it
/// is the bucket (a HEAD's 404 does not say which), else `missing` (the key or version).
pub async fn not_found(at: &Located, location: &Location, missing: String) -> Error {
    match at
        .client
        .head_bucket()
        .bucket(&location.bucket)
        .send()
        .await
    {
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => {
            no_bucket(&location.bucket)
        }
        _ => Error::precondition(missing),
    }
}

/// The refusal for a bucket that does not exist.
fn no_bucket(bucket: &str) -> Error {
    Error::precondition(format!("bucket {bucket} does not exist"))
}

/// The size of a multipart version's first part and its number of parts (HeadObject of part 1:
/// S3 says the parts count only there). `(None, None)` when S3 does not say.
async fn first_part(
    at: &Located,
    location: &Location,
    version_id: &str,
) -> Result<(Option<i64>, Option<i32>)> {
    let out = at
        .client
        .head_object()
        .bucket(&location.bucket)
        .key(&location.key)
        .set_version_id(Some(version_id.to_string()).filter(|v| v != "null"))
        .part_number(1)
        .send()
        .await
        .map_err(|e| {
            aws_error(
                format!("failed to read the parts of {location} version {version_id}"),
                &e,
            )
        })?;
    Ok((out.content_length(), out.parts_count()))
}

/// The tags of one version, as the `Tagging` header of a new object (`K=V&K2=V2`, encoded).
async fn tagging(at: &Located, location: &Location, version_id: &str) -> Result<Option<String>> {
    let out = at
        .client
        .get_object_tagging()
        .bucket(&location.bucket)
        .key(&location.key)
        .set_version_id(Some(version_id.to_string()).filter(|v| v != "null"))
        .send()
        .await
        .map_err(|e| {
            aws_error(
                format!("failed to read the tags of {location} version {version_id}"),
                &e,
            )
        })?;
    let tags: Vec<String> = out
        .tag_set()
        .iter()
        .map(|t| format!("{}={}", form_encode(t.key()), form_encode(t.value())))
        .collect();
    Ok((!tags.is_empty()).then(|| tags.join("&")))
}

/// Percent-encoding of a tag's key or value in the `Tagging` header (a URL query string).
fn form_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                encoded.push(char::from(byte));
            }
            other => encoded.push_str(&format!("%{other:02X}")),
        }
    }
    encoded
}

/// The algorithm a copy of `version` asks for (`plan::copy_checksum`), as the SDK names it.
fn copy_algorithm(version: &Version) -> Option<ChecksumAlgorithm> {
    let name = plan::copy_checksum(&version.artifact);
    CHECKSUMS
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, algorithm)| algorithm.clone())
}

/// Buckets' versioning, read once per (account and region, bucket) in a run: objects promoted
/// into one bucket share the read, even when they are promoted at the same time.
#[derive(Debug, Default)]
pub struct Versionings(ReadOnce<(EnvSettings, String), String>);

impl Versionings {
    /// The versioning of `bucket` where `at` points, read at the first ask.
    pub async fn get(&self, at: &Located, bucket: &str) -> Result<String> {
        self.0
            .get_or_read((at.settings.clone(), bucket.to_string()), || {
                versioning(at, bucket)
            })
            .await
    }
}

/// A bucket's versioning status: `Enabled`, `Suspended`, or empty (never enabled).
pub async fn versioning(at: &Located, bucket: &str) -> Result<String> {
    match at
        .client
        .get_bucket_versioning()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default()),
        Err(e) if e.as_service_error().and_then(|s| s.code()) == Some("NoSuchBucket") => {
            Err(no_bucket(bucket))
        }
        // Some S3-compatible servers (the local emulator among them) answer 200 with a root element
        // other than VersioningConfiguration, which the SDK refuses to parse. The <Status> element
        // inside is the same, so read it from the answer itself.
        Err(e) => match e
            .raw_response()
            .filter(|r| r.status().is_success())
            .and_then(|r| r.body().bytes())
        {
            Some(body) => {
                Ok(xml_element(&String::from_utf8_lossy(body), "Status").unwrap_or_default())
            }
            None => Err(aws_error(
                format!("failed to read the versioning of bucket {bucket}"),
                &e,
            )),
        },
    }
}

/// The text of the first `<name>...</name>` element of a small XML document.
fn xml_element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))?;
    Some(xml[start..start + end].trim().to_string())
}

/// A bucket's object lock: `None` when it has none.
pub async fn object_lock(at: &Located, bucket: &str) -> Result<Option<serde_json::Value>> {
    match at
        .client
        .get_object_lock_configuration()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(out) => Ok(out.object_lock_configuration().map(|c| {
            let retention = c.rule().and_then(|r| r.default_retention());
            serde_json::json!({
                "enabled": c.object_lock_enabled().map(|e| e.as_str()) == Some("Enabled"),
                "mode": retention.and_then(|r| r.mode()).map(|m| m.as_str().to_string()),
                "days": retention.and_then(|r| r.days()),
                "years": retention.and_then(|r| r.years()),
            })
        })),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(None),
        Err(e) => Err(aws_error(
            format!("failed to read the object lock of bucket {bucket}"),
            &e,
        )),
    }
}

/// Copy one version of `source` onto `target`, server-side, keeping content type, the other
/// headers, metadata and tags. Returns what the copy says about the new version, or `None` when
/// the source version does not exist (a single copy only: a copy in parts reads the source
/// first).
///
/// A copy asks for a checksum (`plan::copy_checksum`: the source's algorithm, else SHA-256), so
/// that its answer carries the new version's checksum to compare. A single-part source is
/// copied in one CopyObject, which keeps headers, metadata (MetadataDirective COPY) and tags
/// (TaggingDirective COPY) by itself and needs no more than the version's id, size and
/// checksum. A multipart source is copied in parts (`multipart_copy`), which restates them from
/// `version`. Neither names an encryption or a storage class: the target bucket's own apply.
pub async fn copy(
    at: &Located,
    from: &Located,
    source: &Location,
    version: &Version,
    target: &Location,
) -> Result<Answer> {
    if plan::copies_in_parts(&version.artifact) {
        return multipart_copy(at, from, source, version, target).await;
    }
    let result = at
        .client
        .copy_object()
        .bucket(&target.bucket)
        .key(&target.key)
        .copy_source(copy_source(source, &version.artifact.version_id))
        .set_checksum_algorithm(copy_algorithm(version))
        .send()
        .await;
    let out = match result {
        Ok(out) => out,
        // S3 has no modelled error for it: NoSuchVersion is known by its code only.
        Err(e) if e.as_service_error().and_then(|s| s.code()) == Some("NoSuchVersion") => {
            return Ok(Answer::NoSuchVersion)
        }
        Err(e) => {
            let error = aws_error(format!("failed to copy {source} onto {target}"), &e);
            return if denied(&e) {
                Ok(Answer::Refused(error))
            } else {
                Err(error)
            };
        }
    };
    let result = out.copy_object_result();
    let encrypted = encryption(out.server_side_encryption(), out.ssekms_key_id());
    Ok(Answer::Copied(CopyAnswer {
        version_id: out.version_id().unwrap_or("null").to_string(),
        etag: result.and_then(|r| r.e_tag()).map(unquote),
        // SSE-KMS and SSE-C make an ETag that is not the MD5 of the bytes; SSE-S3 does not.
        etag_is_md5: out.sse_customer_algorithm().is_none() && encrypted.keeps_md5(),
        checksum: result.and_then(|r| {
            checksum_of([
                r.checksum_sha256(),
                r.checksum_crc64_nvme(),
                r.checksum_crc32_c(),
                r.checksum_crc32(),
                r.checksum_sha1(),
            ])
        }),
        encryption: encrypted,
    }))
}

/// What a server-side copy answered.
#[derive(Debug)]
pub enum Answer {
    Copied(CopyAnswer),
    /// The source version does not exist (a single copy only).
    NoSuchVersion,
    /// The credentials that copy (the target's) may not read the source: HTTP 403. Nothing
    /// was written.
    Refused(Error),
}

/// Whether S3 refused a request for its credentials' permissions (AccessDenied, HTTP 403).
fn denied<E: ProvideErrorMetadata, R>(e: &aws_sdk_s3::error::SdkError<E, R>) -> bool {
    e.as_service_error().and_then(|s| s.code()) == Some("AccessDenied")
}

/// Copy a multipart source in parts, server-side: its own parts where S3 says them (so that
/// the new version's multipart ETag and composite checksum are the source's, and a later
/// promotion sees the same bytes), in order, with the source's content type, headers, metadata
/// and tags restated (an upload starts empty), the checksum asked as for a single copy. The
/// upload is aborted if any part fails, so no half object is left behind.
async fn multipart_copy(
    at: &Located,
    from: &Located,
    source: &Location,
    version: &Version,
    target: &Location,
) -> Result<Answer> {
    let doing = || format!("failed to copy {source} onto {target} in parts");
    let version_id = &version.artifact.version_id;
    // The source's parts and tags are read with the source's credentials; only the copy itself
    // asks the target's to read it.
    let (first, count) = first_part(from, source, version_id).await?;
    let ranges = plan::source_parts(version.artifact.size, first, count);
    let tags = tagging(from, source, version_id).await?;
    let algorithm = copy_algorithm(version);
    // A full-object CRC stays full-object (and a composite one composite); SHA is composite only.
    let checksum_type = version
        .checksum_type
        .clone()
        .filter(|_| version.artifact.checksum.is_some());
    let headers = &version.headers;
    let upload = at
        .client
        .create_multipart_upload()
        .bucket(&target.bucket)
        .key(&target.key)
        .set_content_type(version.content_type.clone())
        .set_content_encoding(headers.content_encoding.clone())
        .set_cache_control(headers.cache_control.clone())
        .set_content_disposition(headers.content_disposition.clone())
        .set_content_language(headers.content_language.clone())
        .set_expires(
            headers
                .expires
                .as_deref()
                .and_then(|e| DateTime::from_str(e, Format::HttpDate).ok()),
        )
        .set_metadata(Some(version.metadata.clone()).filter(|m| !m.is_empty()))
        .set_tagging(tags)
        .set_checksum_algorithm(algorithm)
        .set_checksum_type(checksum_type)
        .send()
        .await
        .map_err(|e| aws_error(doing(), &e))?;
    let upload_id = upload.upload_id().unwrap_or_default().to_string();
    let mut completed = Vec::new();
    for (index, (first, last)) in ranges.into_iter().enumerate() {
        let number = i32::try_from(index + 1).unwrap_or(i32::MAX);
        let part = at
            .client
            .upload_part_copy()
            .bucket(&target.bucket)
            .key(&target.key)
            .upload_id(&upload_id)
            .part_number(number)
            .copy_source(copy_source(source, version_id))
            .copy_source_range(format!("bytes={first}-{last}"))
            .send()
            .await;
        match part {
            // A composite checksum is completed from the parts' own checksums.
            Ok(part) => {
                let result = part.copy_part_result();
                completed.push(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(result.and_then(|r| r.e_tag()).map(str::to_string))
                        .set_checksum_sha256(
                            result.and_then(|r| r.checksum_sha256()).map(str::to_string),
                        )
                        .set_checksum_sha1(
                            result.and_then(|r| r.checksum_sha1()).map(str::to_string),
                        )
                        .set_checksum_crc32(
                            result.and_then(|r| r.checksum_crc32()).map(str::to_string),
                        )
                        .set_checksum_crc32_c(
                            result
                                .and_then(|r| r.checksum_crc32_c())
                                .map(str::to_string),
                        )
                        .set_checksum_crc64_nvme(
                            result
                                .and_then(|r| r.checksum_crc64_nvme())
                                .map(str::to_string),
                        )
                        .build(),
                );
            }
            Err(e) => {
                let _ = at
                    .client
                    .abort_multipart_upload()
                    .bucket(&target.bucket)
                    .key(&target.key)
                    .upload_id(&upload_id)
                    .send()
                    .await;
                let error = aws_error(doing(), &e);
                return if denied(&e) {
                    Ok(Answer::Refused(error))
                } else {
                    Err(error)
                };
            }
        }
    }
    let out = at
        .client
        .complete_multipart_upload()
        .bucket(&target.bucket)
        .key(&target.key)
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(completed))
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws_error(doing(), &e))?;
    // An upload's ETag is not an MD5; its checksum, composite, proves the bytes only when it
    // equals the source's (`plan::copied`), else the new version is read back.
    Ok(Answer::Copied(CopyAnswer {
        version_id: out.version_id().unwrap_or("null").to_string(),
        etag: out.e_tag().map(unquote),
        etag_is_md5: false,
        checksum: checksum_of([
            out.checksum_sha256(),
            out.checksum_crc64_nvme(),
            out.checksum_crc32_c(),
            out.checksum_crc32(),
            out.checksum_sha1(),
        ]),
        encryption: encryption(out.server_side_encryption(), out.ssekms_key_id()),
    }))
}

/// Copy one version of `source` onto `target` through this process: read with the source's
/// credentials (`from`), written with the target's (`at`) by `shared::s3_stream` (in parts,
/// memory bounded), with what a server-side copy keeps (content type, the other headers,
/// metadata, tags) and the bytes checked against the source's size and full-object checksum
/// before the write is completed. `None` when the source version does not exist.
pub async fn streamed_copy(
    at: &Located,
    from: &Located,
    source: &Location,
    version: &Version,
    target: &Location,
) -> Result<Option<Streamed>> {
    let version_id = &version.artifact.version_id;
    let tagging = tagging(from, source, version_id).await?;
    let read = from
        .client
        .get_object()
        .bucket(&source.bucket)
        .key(&source.key)
        .set_version_id(Some(version_id.clone()).filter(|v| v != "null"))
        .send()
        .await;
    let body = match read {
        Ok(out) => out.body,
        Err(e)
            if matches!(
                e.as_service_error().and_then(|s| s.code()),
                Some("NoSuchVersion" | "NoSuchKey")
            ) =>
        {
            return Ok(None)
        }
        Err(e) => {
            return Err(aws_error(
                format!("failed to read {source} version {version_id}"),
                &e,
            ))
        }
    };
    let headers = &version.headers;
    let attributes = s3_stream::Attributes {
        content_type: version.content_type.clone(),
        content_encoding: headers.content_encoding.clone(),
        cache_control: headers.cache_control.clone(),
        content_disposition: headers.content_disposition.clone(),
        content_language: headers.content_language.clone(),
        expires: headers
            .expires
            .as_deref()
            .and_then(|e| DateTime::from_str(e, Format::HttpDate).ok()),
        metadata: version.metadata.clone(),
        tagging,
        storage_class: None,
    };
    let expect = plan::stream_expect(&version.artifact);
    let written = s3_stream::upload(
        s3_stream::Destination {
            client: &at.client,
            bucket: &target.bucket,
            key: &target.key,
        },
        body,
        &attributes,
        &expect,
    )
    .await?;
    Ok(Some(written))
}

/// Hide a key behind a delete marker: in a versioned bucket no version is deleted.
pub async fn hide(at: &Located, location: &Location) -> Result<()> {
    at.client
        .delete_object()
        .bucket(&location.bucket)
        .key(&location.key)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws_error(format!("failed to place a delete marker on {location}"), &e))
}

/// Keeps the body of the answer to one request, for what the SDK's types lose: the order in
/// which a listing gives a key's versions and delete markers (the SDK splits them in two lists).
#[derive(Debug, Default, Clone)]
struct RawBody(Arc<Mutex<Option<Vec<u8>>>>);

impl RawBody {
    fn take(&self) -> Option<Vec<u8>> {
        self.0.lock().ok().and_then(|mut body| body.take())
    }
}

impl Intercept for RawBody {
    fn name(&self) -> &'static str {
        "RawBody"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> std::result::Result<(), BoxError> {
        if let (Some(bytes), Ok(mut body)) = (context.response().body().bytes(), self.0.lock()) {
            *body = Some(bytes.to_vec());
        }
        Ok(())
    }
}

/// The versions and delete markers of `key` in a ListObjectVersions answer, in the order of the
/// document: `(is a delete marker, version id)`. S3 lists a key's versions and delete markers
/// interleaved, newest first, in its own order of the writes; this order is the only one that
/// tells a version and a delete marker made in the same second apart (LastModified has whole
/// seconds).
fn listing_order(xml: &str, key: &str) -> Vec<(bool, String)> {
    let mut order = Vec::new();
    let mut rest = xml;
    loop {
        let version = rest.find("<Version>");
        let marker = rest.find("<DeleteMarker>");
        let (start, is_marker, close) = match (version, marker) {
            (Some(v), Some(m)) if m < v => (m, true, "</DeleteMarker>"),
            (Some(v), _) => (v, false, "</Version>"),
            (None, Some(m)) => (m, true, "</DeleteMarker>"),
            (None, None) => break,
        };
        let Some(end) = rest[start..].find(close).map(|e| start + e) else {
            break;
        };
        let element = &rest[start..end];
        if xml_element(element, "Key").is_some_and(|k| xml_unescape(&k) == key) {
            if let Some(id) = xml_element(element, "VersionId") {
                order.push((is_marker, id));
            }
        }
        rest = &rest[end + close.len()..];
    }
    order
}

/// XML's escapes, undone: keys may hold `&`, `<`, quotes, or characters given as `&#N;`.
fn xml_unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let tail = &rest[amp..];
        let Some(semi) = tail.find(';') else {
            out.push_str(tail);
            return out;
        };
        let entity = &tail[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .map(|hex| u32::from_str_radix(hex, 16))
                .or_else(|| entity.strip_prefix('#').map(str::parse))
                .and_then(std::result::Result::ok)
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => out.push(c),
            None => out.push_str(&tail[..=semi]),
        }
        rest = &tail[semi + 1..];
    }
    out.push_str(rest);
    out
}

/// The versions and delete markers of exactly `location.key`, newest first (`plan::newest_first`).
/// S3 lists by prefix; keys that only start with this one are left out.
pub async fn history(at: &Located, location: &Location) -> Result<Vec<Listed>> {
    let mut entries = Vec::new();
    let mut key_marker: Option<String> = None;
    let mut version_marker: Option<String> = None;
    loop {
        let raw = RawBody::default();
        let page = at
            .client
            .list_object_versions()
            .bucket(&location.bucket)
            .prefix(&location.key)
            .set_key_marker(key_marker.clone())
            .set_version_id_marker(version_marker.clone())
            .customize()
            .interceptor(raw.clone())
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error().and_then(|s| s.code()) == Some("NoSuchBucket") {
                    no_bucket(&location.bucket)
                } else {
                    aws_error(format!("failed to list the versions of {location}"), &e)
                }
            })?;
        let order = raw
            .take()
            .map(|body| listing_order(&String::from_utf8_lossy(&body), &location.key))
            .unwrap_or_default();
        // Where an entry stands in the whole listing: its place in the document, else (an
        // answer the SDK read but this reading did not) after it, versions before markers.
        let base = entries.len();
        let position = |is_marker: bool, id: &str, fallback: usize| {
            base + order
                .iter()
                .position(|(m, v)| *m == is_marker && v == id)
                .unwrap_or(order.len() + fallback)
        };
        let time = |t: Option<&aws_smithy_types::DateTime>| t.map(|t| (t.secs(), t.subsec_nanos()));
        let text = |t: Option<&aws_smithy_types::DateTime>| {
            t.and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
        };
        let versions: Vec<_> = page
            .versions()
            .iter()
            .filter(|v| v.key() == Some(location.key.as_str()))
            .collect();
        let count = versions.len();
        for (index, v) in versions.into_iter().enumerate() {
            let version_id = v.version_id().unwrap_or("null").to_string();
            entries.push(Listed {
                position: position(false, &version_id, index),
                version_id,
                etag: v.e_tag().map(unquote),
                size: v.size(),
                last_modified: text(v.last_modified()),
                modified: time(v.last_modified()),
                is_latest: v.is_latest().unwrap_or(false),
                delete_marker: false,
            });
        }
        for (index, m) in page
            .delete_markers()
            .iter()
            .filter(|m| m.key() == Some(location.key.as_str()))
            .enumerate()
        {
            let version_id = m.version_id().unwrap_or("null").to_string();
            entries.push(Listed {
                position: position(true, &version_id, count + index),
                version_id,
                etag: None,
                size: None,
                last_modified: text(m.last_modified()),
                modified: time(m.last_modified()),
                is_latest: m.is_latest().unwrap_or(false),
                delete_marker: true,
            });
        }
        // Keys come in order: once past this key, later pages hold only longer keys.
        let past = page
            .versions()
            .iter()
            .filter_map(|v| v.key())
            .chain(page.delete_markers().iter().filter_map(|m| m.key()))
            .any(|k| k > location.key.as_str());
        if past || !page.is_truncated().unwrap_or(false) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_string);
        version_marker = page.next_version_id_marker().map(str::to_string);
    }
    plan::newest_first(&mut entries);
    if entries.is_empty() {
        return Err(Error::precondition(format!(
            "{location} does not exist: it has no versions"
        )));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_gives_its_order_of_versions_and_delete_markers() {
        // As S3 answers: one key's entries interleaved, newest first; another key around it.
        let xml = r#"<ListVersionsResult><Name>b</Name><VersionIdMarker/>
            <Version><Key>a&amp;b.zip</Key><VersionId>v3</VersionId><IsLatest>true</IsLatest></Version>
            <DeleteMarker><Key>a&amp;b.zip</Key><VersionId>d2</VersionId></DeleteMarker>
            <Version><Key>a&amp;b.zip</Key><VersionId>v1</VersionId></Version>
            <Version><Key>a&amp;b.zip.bak</Key><VersionId>x</VersionId></Version>
            <DeleteMarker><Key>a&#38;b.zip</Key><VersionId>d0</VersionId></DeleteMarker>
            </ListVersionsResult>"#;
        assert_eq!(
            listing_order(xml, "a&b.zip"),
            vec![
                (false, "v3".to_string()),
                (true, "d2".to_string()),
                (false, "v1".to_string()),
                (true, "d0".to_string())
            ]
        );
        assert_eq!(xml_unescape("&lt;&#x41;&#66;&bogus;&"), "<AB&bogus;&");
    }
}
