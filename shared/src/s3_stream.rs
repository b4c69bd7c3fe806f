//! Writing a stream of bytes into an S3 key with bounded memory: what a copy between accounts
//! does when the target's credentials cannot read the source (s3-version reads the source with
//! the source environment's credentials and writes here with the target's), and what a Lambda
//! package fetched from its pre-signed URL goes through on its way into a bucket. The body is
//! cut into parts of [`PART_SIZE`] uploaded as they fill (one PutObject when the whole body is
//! under one part), so memory holds about one part whatever the object's size. SHA-256 (and the
//! source's own checksum, when the caller names one) is computed on the way and checked against
//! what the bytes must be before the upload is completed: a mismatch, like any failure, aborts
//! the multipart upload, so nothing appears at the key. The object keeps the source's checksum
//! when S3 can (a CRC, whole over the parts), else gets a SHA-256, so a copy and its source
//! compare by what S3 stores.

use crate::{Error, Result};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumType, CompletedMultipartUpload, CompletedPart, StorageClass,
};
use aws_sdk_s3::Client;
use aws_smithy_checksums::http::HttpChecksum;
use aws_smithy_types::base64;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// The size of every part but the last. 8 MiB: above S3's 5 MiB minimum, and small enough
/// that a part in memory is cheap; 10,000 parts (S3's maximum) make 78 GiB.
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// Where the bytes go, and with which credentials (the client's).
#[derive(Debug, Clone, Copy)]
pub struct Destination<'a> {
    pub client: &'a Client,
    pub bucket: &'a str,
    pub key: &'a str,
}

/// What the written object carries besides its bytes (content type, encoding, cache control,
/// disposition, user metadata, tagging, storage class, ...: what the server-side copy keeps).
/// Encryption is not named: the target bucket's default applies, as it does to a copy.
#[derive(Debug, Default, Clone)]
pub struct Attributes {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    pub expires: Option<aws_smithy_types::DateTime>,
    pub metadata: HashMap<String, String>,
    /// The `Tagging` header: `K=V&K2=V2`, encoded as a URL query.
    pub tagging: Option<String>,
    pub storage_class: Option<String>,
}

/// What the bytes must be: checked before the upload is completed (a mismatch aborts it:
/// nothing appears at the key, exit 3 naming both values).
#[derive(Debug, Default, Clone)]
pub struct Expect {
    pub length: Option<u64>,
    pub sha256_base64: Option<String>,
    /// A full-object checksum of another algorithm S3 knows (`crc32`, `crc32c`, `crc64nvme`,
    /// `sha1`), as `(algorithm, base64 value)`: what S3 stores for the source, when it is not a
    /// SHA-256.
    pub checksum: Option<(String, String)>,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Streamed {
    pub bytes: u64,
    /// The SHA-256 of all the bytes.
    pub sha256_base64: String,
    pub version_id: Option<String>,
    pub e_tag: Option<String>,
    /// The checksum S3 is asked to store, `(algorithm, value)` as S3 writes it: the source's
    /// own (`Expect::checksum`) of the whole object when it has one S3 can keep for an upload in
    /// parts (a CRC: `FULL_OBJECT`), so that the copy and its source compare; else SHA-256,
    /// the whole object's for a single PutObject, the composite one for an upload in parts
    /// (`BASE64-N`: the SHA-256 of the parts' SHA-256s, and their number).
    pub checksum: (String, String),
    /// The number of parts (0: one PutObject).
    pub parts: u32,
}

/// The hashes computed on the way.
struct Hashes {
    sha256: Sha256,
    other: Option<(String, Box<dyn HttpChecksum>)>,
    bytes: u64,
}

impl Hashes {
    fn new(expect: &Expect) -> Result<Self> {
        let other = match &expect.checksum {
            Some((algorithm, _)) => {
                let known: aws_smithy_checksums::ChecksumAlgorithm =
                    algorithm.parse().map_err(|_| {
                        Error::Usage(format!("{algorithm} is not a checksum algorithm S3 knows"))
                    })?;
                Some((algorithm.clone(), known.into_impl()))
            }
            None => None,
        };
        Ok(Hashes {
            sha256: Sha256::new(),
            other,
            bytes: 0,
        })
    }

    fn update(&mut self, bytes: &[u8]) {
        self.sha256.update(bytes);
        if let Some((_, other)) = &mut self.other {
            other.update(bytes);
        }
        self.bytes += bytes.len() as u64;
    }

    /// The SHA-256, and the other checksum (`(algorithm, value)`) when one was asked.
    fn finish(self) -> (String, Option<(String, String)>) {
        let sha = base64::encode(self.sha256.finalize());
        let other = self
            .other
            .map(|(algorithm, other)| (algorithm, base64::encode(&other.finalize()[..])));
        (sha, other)
    }
}

/// The first difference between what was read and what was expected, as a sentence naming both.
fn mismatch(
    expect: &Expect,
    bytes: u64,
    sha256: &str,
    other: Option<&(String, String)>,
) -> Option<String> {
    if let Some(length) = expect.length.filter(|l| *l != bytes) {
        return Some(format!(
            "{bytes} bytes were read, the source has {length} bytes"
        ));
    }
    if let Some(expected) = expect.sha256_base64.as_deref().filter(|e| *e != sha256) {
        return Some(format!(
            "the bytes read have SHA-256 {sha256}, the source's is {expected}"
        ));
    }
    if let (Some((algorithm, expected)), Some((_, got))) = (&expect.checksum, other) {
        if expected != got {
            return Some(format!(
                "the bytes read have {algorithm} {got}, the source's is {expected}"
            ));
        }
    }
    None
}

/// The composite checksum S3 gives an upload in parts: the SHA-256 of the parts' SHA-256s
/// (raw bytes, in order), with the number of parts.
fn composite(part_digests: &[u8], parts: u32) -> String {
    format!("{}-{parts}", base64::encode(Sha256::digest(part_digests)))
}

/// The algorithms S3 keeps as a whole object's checksum for an upload in parts (`FULL_OBJECT`).
const FULL_OBJECT: [&str; 3] = ["crc32", "crc32c", "crc64nvme"];

/// The algorithm as the SDK names it.
fn sdk_algorithm(algorithm: &str) -> ChecksumAlgorithm {
    match algorithm {
        "crc32" => ChecksumAlgorithm::Crc32,
        "crc32c" => ChecksumAlgorithm::Crc32C,
        "crc64nvme" => ChecksumAlgorithm::Crc64Nvme,
        "sha1" => ChecksumAlgorithm::Sha1,
        _ => ChecksumAlgorithm::Sha256,
    }
}

/// Set a request's (or a completed part's) checksum of `algorithm` (`sha256` by default).
macro_rules! with_checksum {
    ($builder:expr, $algorithm:expr, $value:expr) => {{
        let value = $value;
        match $algorithm {
            "crc32" => $builder.checksum_crc32(value),
            "crc32c" => $builder.checksum_crc32_c(value),
            "crc64nvme" => $builder.checksum_crc64_nvme(value),
            "sha1" => $builder.checksum_sha1(value),
            _ => $builder.checksum_sha256(value),
        }
    }};
}

/// The checksum of one part in `algorithm`, base64.
fn part_checksum(algorithm: &str, part: &[u8]) -> String {
    match algorithm.parse::<aws_smithy_checksums::ChecksumAlgorithm>() {
        Ok(known) if algorithm != "sha256" => {
            let mut hasher = known.into_impl();
            hasher.update(part);
            base64::encode(&hasher.finalize()[..])
        }
        _ => base64::encode(Sha256::digest(part)),
    }
}

/// Reads a body part by part: each part [`PART_SIZE`] bytes but the last.
struct Parts {
    body: ByteStream,
    /// What the last chunk read held beyond the part it completed.
    rest: Vec<u8>,
    ended: bool,
}

impl Parts {
    /// The next part (`None`: the body has ended, and every byte was handed out).
    async fn next(&mut self, doing: &dyn Fn() -> String) -> Result<Option<Vec<u8>>> {
        let mut part = std::mem::take(&mut self.rest);
        if part.len() > PART_SIZE {
            self.rest = part.split_off(PART_SIZE);
        }
        part.reserve_exact(PART_SIZE - part.len());
        while part.len() < PART_SIZE && !self.ended {
            match self.body.next().await {
                Some(Ok(chunk)) => {
                    let room = PART_SIZE - part.len();
                    if chunk.len() > room {
                        part.extend_from_slice(&chunk[..room]);
                        self.rest.extend_from_slice(&chunk[room..]);
                    } else {
                        part.extend_from_slice(&chunk);
                    }
                }
                Some(Err(e)) => {
                    return Err(Error::Aws {
                        doing: doing(),
                        message: format!("reading the source failed: {e}"),
                    })
                }
                None => self.ended = true,
            }
        }
        Ok((!part.is_empty()).then_some(part))
    }
}

/// An S3 client for `config`. With an endpoint override (an emulator, a private endpoint)
/// requests use path-style addressing, `http://host:port/bucket/key`, since `bucket.localhost`
/// does not resolve. Every tool that reaches S3 builds its client here.
#[must_use]
pub fn client(config: &aws_config::SdkConfig) -> Client {
    let overridden = config.endpoint_url().is_some()
        || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some_and(|v| !v.is_empty());
    Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(overridden)
            .build(),
    )
}

/// Write `body` at `to`, with `attributes`, in parts of [`PART_SIZE`] uploaded as they fill
/// (one PutObject when the body is under one part), SHA-256 computed on the way and the bytes
/// checked against `expect` before the upload is completed. Any failure, a mismatch included
/// (exit 3), aborts the upload: nothing appears at the key.
pub async fn upload(
    to: Destination<'_>,
    body: ByteStream,
    attributes: &Attributes,
    expect: &Expect,
) -> Result<Streamed> {
    let doing = || format!("failed to write s3://{}/{}", to.bucket, to.key);
    let mut hashes = Hashes::new(expect)?;
    let mut parts = Parts {
        body,
        rest: Vec::new(),
        ended: false,
    };
    let first = parts.next(&doing).await?.unwrap_or_default();
    let second = if first.len() < PART_SIZE {
        None
    } else {
        parts.next(&doing).await?
    };
    let Some(second) = second else {
        // The whole body is one part: checked whole before anything is written.
        hashes.update(&first);
        let bytes = hashes.bytes;
        let (sha256, other) = hashes.finish();
        if let Some(message) = mismatch(expect, bytes, &sha256, other.as_ref()) {
            return Err(Error::Aws {
                doing: doing(),
                message: format!("{message}; nothing was written"),
            });
        }
        // The source's own checksum (checked equal just above), else SHA-256: S3 refuses the
        // write when the bytes it received do not have it.
        let checksum = other.unwrap_or_else(|| ("sha256".to_string(), sha256.clone()));
        return put(to, first, attributes, (bytes, sha256, checksum), &doing).await;
    };
    // A CRC of the source's is kept whole; else each part carries its SHA-256.
    let full_object = expect
        .checksum
        .as_ref()
        .map(|(algorithm, _)| algorithm.as_str())
        .filter(|a| FULL_OBJECT.contains(a));
    let upload = to
        .client
        .create_multipart_upload()
        .bucket(to.bucket)
        .key(to.key)
        .set_content_type(attributes.content_type.clone())
        .set_content_encoding(attributes.content_encoding.clone())
        .set_cache_control(attributes.cache_control.clone())
        .set_content_disposition(attributes.content_disposition.clone())
        .set_content_language(attributes.content_language.clone())
        .set_expires(attributes.expires)
        .set_metadata(Some(attributes.metadata.clone()).filter(|m| !m.is_empty()))
        .set_tagging(attributes.tagging.clone())
        .set_storage_class(attributes.storage_class.as_deref().map(StorageClass::from))
        .checksum_algorithm(sdk_algorithm(full_object.unwrap_or("sha256")))
        .set_checksum_type(full_object.map(|_| ChecksumType::FullObject))
        .send()
        .await
        .map_err(|e| crate::aws::aws_error(doing(), &e))?;
    let upload_id = upload.upload_id().unwrap_or_default().to_string();
    let result = upload_parts(
        to,
        &upload_id,
        [first, second],
        parts,
        (hashes, expect, full_object),
        &doing,
    )
    .await;
    match result {
        Ok(streamed) => Ok(streamed),
        Err(e) => {
            // Best effort: the error that stopped the upload is the one to report.
            let _ = to
                .client
                .abort_multipart_upload()
                .bucket(to.bucket)
                .key(to.key)
                .upload_id(&upload_id)
                .send()
                .await;
            Err(e)
        }
    }
}

/// One PutObject of a body under one part.
async fn put(
    to: Destination<'_>,
    bytes_read: Vec<u8>,
    attributes: &Attributes,
    (bytes, sha256, checksum): (u64, String, (String, String)),
    doing: &dyn Fn() -> String,
) -> Result<Streamed> {
    let request = to
        .client
        .put_object()
        .bucket(to.bucket)
        .key(to.key)
        .set_content_type(attributes.content_type.clone())
        .set_content_encoding(attributes.content_encoding.clone())
        .set_cache_control(attributes.cache_control.clone())
        .set_content_disposition(attributes.content_disposition.clone())
        .set_content_language(attributes.content_language.clone())
        .set_expires(attributes.expires)
        .set_metadata(Some(attributes.metadata.clone()).filter(|m| !m.is_empty()))
        .set_tagging(attributes.tagging.clone())
        .set_storage_class(attributes.storage_class.as_deref().map(StorageClass::from))
        .body(ByteStream::from(bytes_read));
    let out = with_checksum!(request, checksum.0.as_str(), &checksum.1)
        .send()
        .await
        .map_err(|e| crate::aws::aws_error(doing(), &e))?;
    Ok(Streamed {
        bytes,
        checksum,
        sha256_base64: sha256,
        version_id: out.version_id().map(str::to_string),
        e_tag: out.e_tag().map(str::to_string),
        parts: 0,
    })
}

/// Upload `first` parts then the rest of `parts`, each with its checksum (`full_object`'s
/// algorithm, else SHA-256), check the bytes against `expect`, and complete the upload (with the
/// whole object's checksum when it is `full_object`'s).
async fn upload_parts(
    to: Destination<'_>,
    upload_id: &str,
    first: [Vec<u8>; 2],
    mut parts: Parts,
    (mut hashes, expect, full_object): (Hashes, &Expect, Option<&str>),
    doing: &dyn Fn() -> String,
) -> Result<Streamed> {
    let algorithm = full_object.unwrap_or("sha256");
    let mut completed = Vec::new();
    let mut digests = Vec::new();
    let mut pending: Vec<Vec<u8>> = first.into_iter().rev().collect();
    let mut number: i32 = 0;
    loop {
        let part = match pending.pop() {
            Some(part) => part,
            None => match parts.next(doing).await? {
                Some(part) => part,
                None => break,
            },
        };
        number += 1;
        hashes.update(&part);
        let checksum = if full_object.is_some() {
            part_checksum(algorithm, &part)
        } else {
            let digest = Sha256::digest(&part);
            digests.extend_from_slice(&digest);
            base64::encode(digest)
        };
        let request = to
            .client
            .upload_part()
            .bucket(to.bucket)
            .key(to.key)
            .upload_id(upload_id)
            .part_number(number)
            .body(ByteStream::from(part));
        let out = with_checksum!(request, algorithm, &checksum)
            .send()
            .await
            .map_err(|e| crate::aws::aws_error(doing(), &e))?;
        let done = CompletedPart::builder()
            .part_number(number)
            .set_e_tag(out.e_tag().map(str::to_string));
        completed.push(with_checksum!(done, algorithm, checksum).build());
    }
    let bytes = hashes.bytes;
    let (sha256, other) = hashes.finish();
    if let Some(message) = mismatch(expect, bytes, &sha256, other.as_ref()) {
        return Err(Error::Aws {
            doing: doing(),
            message: format!("{message}; the upload was aborted, nothing was written"),
        });
    }
    let count = u32::try_from(completed.len()).unwrap_or(u32::MAX);
    let checksum = match (full_object, other) {
        (Some(_), Some(whole)) => whole,
        _ => ("sha256".to_string(), composite(&digests, count)),
    };
    let request = to
        .client
        .complete_multipart_upload()
        .bucket(to.bucket)
        .key(to.key)
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(completed))
                .build(),
        );
    let request = if full_object.is_some() {
        // S3 checks the whole object's checksum against the bytes it assembled.
        with_checksum!(request, checksum.0.as_str(), &checksum.1)
            .checksum_type(ChecksumType::FullObject)
    } else {
        request
    };
    let out = request
        .send()
        .await
        .map_err(|e| crate::aws::aws_error(doing(), &e))?;
    Ok(Streamed {
        bytes,
        sha256_base64: sha256,
        version_id: out.version_id().map(str::to_string),
        e_tag: out.e_tag().map(str::to_string),
        checksum,
        parts: count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(bytes: &[u8]) -> String {
        base64::encode(Sha256::digest(bytes))
    }

    #[test]
    fn a_difference_names_both_values() {
        let expect = Expect {
            length: Some(5),
            sha256_base64: Some(sha(b"hello")),
            checksum: None,
        };
        assert_eq!(mismatch(&expect, 5, &sha(b"hello"), None), None);
        let said = mismatch(&expect, 4, &sha(b"hell"), None).unwrap_or_default();
        assert!(
            said.contains("4 bytes") && said.contains("5 bytes"),
            "{said}"
        );
        let said = mismatch(&expect, 5, &sha(b"jello"), None).unwrap_or_default();
        assert!(
            said.contains(&sha(b"jello")) && said.contains(&sha(b"hello")),
            "{said}"
        );
    }

    #[test]
    fn another_algorithm_is_computed_and_compared() {
        // CRC32 of "hello" as S3 stores it (base64 of the big-endian value 0x3610a686).
        let expect = Expect {
            checksum: Some(("crc32".into(), "NhCmhg==".into())),
            ..Expect::default()
        };
        let mut hashes = Hashes::new(&expect).unwrap_or_else(|e| panic!("{e}"));
        hashes.update(b"hel");
        hashes.update(b"lo");
        let bytes = hashes.bytes;
        let (sha256, other) = hashes.finish();
        assert_eq!(sha256, sha(b"hello"));
        assert_eq!(other, Some(("crc32".into(), "NhCmhg==".into())));
        assert_eq!(mismatch(&expect, bytes, &sha256, other.as_ref()), None);
        let wrong = Some(("crc32".to_string(), "AAAAAA==".to_string()));
        assert!(mismatch(&expect, bytes, &sha256, wrong.as_ref()).is_some());
        let unknown = Expect {
            checksum: Some(("md4".into(), String::new())),
            ..Expect::default()
        };
        assert!(Hashes::new(&unknown).is_err());
    }

    #[test]
    fn the_composite_checksum_is_the_digest_of_the_parts_digests() {
        // As the emulator computed it for parts "a" * 5 MiB and "b" * 100 (checked with boto3).
        let mut digests = Vec::new();
        digests.extend_from_slice(&Sha256::digest(vec![b'a'; 5 * 1024 * 1024]));
        digests.extend_from_slice(&Sha256::digest([b'b'; 100]));
        assert_eq!(
            composite(&digests, 2),
            "7n1ZEEGpZyRgQtPvGMqYL80UbaFJA89T+2OobG6XQAs=-2"
        );
    }

    #[tokio::test]
    async fn parts_are_cut_at_the_part_size_whatever_the_chunks() {
        let size = PART_SIZE * 2 + 3;
        let body: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let mut parts = Parts {
            body: ByteStream::from(body.clone()),
            rest: Vec::new(),
            ended: false,
        };
        let doing = || "reading".to_string();
        let mut sizes = Vec::new();
        let mut joined = Vec::new();
        while let Some(part) = parts.next(&doing).await.unwrap_or_else(|e| panic!("{e}")) {
            sizes.push(part.len());
            joined.extend_from_slice(&part);
        }
        assert_eq!(sizes, vec![PART_SIZE, PART_SIZE, 3]);
        assert_eq!(joined, body);
    }

    /// What the SDK-level mocks saw of the upload's parts: (number, length, SHA-256 sent).
    type Seen = std::sync::Arc<std::sync::Mutex<Vec<(i32, usize, String)>>>;

    mod mocked {
        use super::*;
        use aws_sdk_s3::operation::abort_multipart_upload::AbortMultipartUploadOutput;
        use aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput;
        use aws_sdk_s3::operation::create_multipart_upload::CreateMultipartUploadOutput;
        use aws_sdk_s3::operation::put_object::PutObjectOutput;
        use aws_sdk_s3::operation::upload_part::{UploadPartError, UploadPartOutput};
        use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};

        pub(super) struct Rules {
            pub create: Rule,
            pub part: Rule,
            pub complete: Rule,
            pub abort: Rule,
            pub put: Rule,
        }

        /// Every call of a streamed write answered; the parts' numbers, sizes and SHA-256s kept
        /// in `seen`; the part `fail` (if any) refused.
        pub(super) fn rules(seen: &Seen, fail: Option<i32>) -> Rules {
            let log = seen.clone();
            Rules {
                create: mock!(Client::create_multipart_upload)
                    .match_requests(|r| {
                        r.checksum_algorithm() == Some(&ChecksumAlgorithm::Sha256)
                            && r.content_type() == Some("application/zip")
                            && r.tagging() == Some("team=web")
                    })
                    .then_output(|| {
                        CreateMultipartUploadOutput::builder()
                            .upload_id("up-1")
                            .build()
                    }),
                part: mock!(Client::upload_part)
                    .match_requests(move |r| {
                        log.lock().unwrap().push((
                            r.part_number().unwrap_or_default(),
                            r.body().bytes().map_or(0, <[u8]>::len),
                            r.checksum_sha256().unwrap_or_default().to_string(),
                        ));
                        r.upload_id() == Some("up-1")
                    })
                    .then_compute_response(move |r| {
                        if Some(r.part_number().unwrap_or_default()) == fail {
                            aws_smithy_mocks::MockResponse::Error(UploadPartError::unhandled(
                                "InternalError",
                            ))
                        } else {
                            aws_smithy_mocks::MockResponse::Output(
                                UploadPartOutput::builder()
                                    .e_tag(format!("\"etag-{}\"", r.part_number().unwrap_or(0)))
                                    .build(),
                            )
                        }
                    }),
                complete: mock!(Client::complete_multipart_upload)
                    .match_requests(|r| {
                        r.multipart_upload().is_some_and(|u| {
                            u.parts().iter().enumerate().all(|(i, p)| {
                                p.part_number() == i32::try_from(i + 1).ok()
                                    && p.checksum_sha256().is_some()
                                    && p.e_tag().is_some()
                            })
                        })
                    })
                    .then_output(|| {
                        CompleteMultipartUploadOutput::builder()
                            .version_id("v-new")
                            .e_tag("\"new-3\"")
                            .build()
                    }),
                abort: mock!(Client::abort_multipart_upload)
                    .match_requests(|r| r.upload_id() == Some("up-1"))
                    .then_output(|| AbortMultipartUploadOutput::builder().build()),
                put: mock!(Client::put_object)
                    .then_output(|| PutObjectOutput::builder().version_id("v-one").build()),
            }
        }

        pub(super) fn client(rules: &Rules) -> Client {
            mock_client!(
                aws_sdk_s3,
                RuleMode::MatchAny,
                [
                    &rules.create,
                    &rules.part,
                    &rules.complete,
                    &rules.abort,
                    &rules.put
                ]
            )
        }
    }

    fn attributes() -> Attributes {
        Attributes {
            content_type: Some("application/zip".into()),
            tagging: Some("team=web".into()),
            ..Attributes::default()
        }
    }

    async fn stream(
        body: &[u8],
        expect: &Expect,
        fail: Option<i32>,
    ) -> (Result<Streamed>, mocked::Rules, Vec<(i32, usize, String)>) {
        let seen = Seen::default();
        let rules = mocked::rules(&seen, fail);
        let client = mocked::client(&rules);
        let to = Destination {
            client: &client,
            bucket: "b",
            key: "k",
        };
        let result = upload(to, ByteStream::from(body.to_vec()), &attributes(), expect).await;
        let parts = seen.lock().unwrap().clone();
        (result, rules, parts)
    }

    #[tokio::test]
    async fn a_body_over_one_part_goes_up_in_parts_as_they_fill() {
        let body: Vec<u8> = (0..2 * PART_SIZE + 1000).map(|i| (i % 253) as u8).collect();
        let expect = Expect {
            length: Some(body.len() as u64),
            sha256_base64: Some(sha(&body)),
            checksum: None,
        };
        let (result, rules, parts) = stream(&body, &expect, None).await;
        let written = result.unwrap_or_else(|e| panic!("{e}"));
        let sizes: Vec<(i32, usize)> = parts.iter().map(|(n, len, _)| (*n, *len)).collect();
        assert_eq!(sizes, vec![(1, PART_SIZE), (2, PART_SIZE), (3, 1000)]);
        assert_eq!(
            parts[0].2,
            sha(&body[..PART_SIZE]),
            "each part carries its SHA-256"
        );
        assert_eq!(rules.complete.num_calls(), 1);
        assert_eq!((rules.abort.num_calls(), rules.put.num_calls()), (0, 0));
        let mut digests = Vec::new();
        for chunk in body.chunks(PART_SIZE) {
            digests.extend_from_slice(&Sha256::digest(chunk));
        }
        assert_eq!(
            written,
            Streamed {
                bytes: body.len() as u64,
                sha256_base64: sha(&body),
                version_id: Some("v-new".into()),
                e_tag: Some("\"new-3\"".into()),
                checksum: ("sha256".into(), composite(&digests, 3)),
                parts: 3,
            }
        );
    }

    #[tokio::test]
    async fn bytes_that_are_not_what_was_expected_abort_the_upload() {
        let body = vec![7u8; PART_SIZE + 10];
        let expect = Expect {
            sha256_base64: Some(sha(b"something else")),
            ..Expect::default()
        };
        let (result, rules, _) = stream(&body, &expect, None).await;
        let error = result.err().unwrap_or_else(|| panic!("a mismatch fails"));
        assert_eq!(error.exit_code(), crate::ExitCode::Aws);
        let said = error.to_string();
        assert!(
            said.contains(&sha(&body)) && said.contains(&sha(b"something else")),
            "{said}"
        );
        assert_eq!(rules.part.num_calls(), 2);
        assert_eq!(rules.abort.num_calls(), 1, "nothing appears at the key");
        assert_eq!(rules.complete.num_calls(), 0);
    }

    #[tokio::test]
    async fn a_failed_part_aborts_the_upload() {
        let body = vec![1u8; 2 * PART_SIZE + 1];
        let (result, rules, _) = stream(&body, &Expect::default(), Some(2)).await;
        assert!(result.is_err());
        assert_eq!(rules.abort.num_calls(), 1);
        assert_eq!(rules.complete.num_calls(), 0);
        assert_eq!(rules.part.num_calls(), 2, "no part after the failed one");
    }

    #[tokio::test]
    async fn a_body_under_one_part_is_one_put_checked_before_it_is_sent() {
        let (result, rules, _) = stream(b"hello", &Expect::default(), None).await;
        let written = result.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((written.parts, written.bytes), (0, 5));
        assert_eq!(written.checksum, ("sha256".into(), sha(b"hello")));
        assert_eq!(rules.put.num_calls(), 1);
        assert_eq!(rules.create.num_calls(), 0);
        let short = Expect {
            length: Some(6),
            ..Expect::default()
        };
        let (result, rules, _) = stream(b"hello", &short, None).await;
        assert!(result.is_err());
        assert_eq!(rules.put.num_calls(), 0, "nothing was written");
    }

    #[tokio::test]
    async fn a_sources_crc_is_kept_whole_over_the_parts() {
        use aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput;
        use aws_sdk_s3::operation::create_multipart_upload::CreateMultipartUploadOutput;
        use aws_sdk_s3::operation::upload_part::UploadPartOutput;
        use aws_smithy_mocks::{mock, mock_client, RuleMode};
        let body: Vec<u8> = (0..PART_SIZE + 77).map(|i| (i % 241) as u8).collect();
        let crc = |bytes: &[u8]| part_checksum("crc32", bytes);
        let (whole, first) = (crc(&body), crc(&body[..PART_SIZE]));
        let create = mock!(Client::create_multipart_upload)
            .match_requests(|r| {
                r.checksum_algorithm() == Some(&ChecksumAlgorithm::Crc32)
                    && r.checksum_type() == Some(&ChecksumType::FullObject)
            })
            .then_output(|| {
                CreateMultipartUploadOutput::builder()
                    .upload_id("u")
                    .build()
            });
        let part = mock!(Client::upload_part)
            .match_requests(move |r| {
                r.part_number() != Some(1) || r.checksum_crc32() == Some(&first)
            })
            .then_output(|| UploadPartOutput::builder().e_tag("\"p\"").build());
        let expected = whole.clone();
        let complete = mock!(Client::complete_multipart_upload)
            .match_requests(move |r| {
                r.checksum_crc32() == Some(&expected)
                    && r.checksum_type() == Some(&ChecksumType::FullObject)
                    && r.multipart_upload().is_some_and(|u| {
                        u.parts().len() == 2
                            && u.parts().iter().all(|p| p.checksum_crc32().is_some())
                    })
            })
            .then_output(|| {
                CompleteMultipartUploadOutput::builder()
                    .version_id("v")
                    .build()
            });
        let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&create, &part, &complete]);
        let expect = Expect {
            length: Some(body.len() as u64),
            sha256_base64: None,
            checksum: Some(("crc32".into(), whole.clone())),
        };
        let to = Destination {
            client: &client,
            bucket: "b",
            key: "k",
        };
        let written = upload(
            to,
            ByteStream::from(body.clone()),
            &Attributes::default(),
            &expect,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(written.checksum, ("crc32".into(), whole));
        assert_eq!(written.sha256_base64, sha(&body));
        assert_eq!((part.num_calls(), complete.num_calls()), (2, 1));
    }
}
