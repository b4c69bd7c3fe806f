//! SDK-level mocks for what the emulator cannot produce: an object above the 5 GiB single-copy
//! limit copied in ranged parts of the exact source version (and a failed part aborting the
//! upload), and SSE-KMS ETags. moto 5.2.5 gives every object, SSE-KMS ones too, the MD5 of its
//! bytes as ETag and says nothing of encryption in a copy's answer; in S3 an SSE-KMS ETag is no
//! digest of the bytes and each copy gets a new one, so only the checksum can identify it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // reason: tests fail loudly

use aws_sdk_s3::operation::abort_multipart_upload::AbortMultipartUploadOutput;
use aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput;
use aws_sdk_s3::operation::copy_object::CopyObjectOutput;
use aws_sdk_s3::operation::create_multipart_upload::CreateMultipartUploadOutput;
use aws_sdk_s3::operation::get_bucket_versioning::GetBucketVersioningOutput;
use aws_sdk_s3::operation::get_object_tagging::GetObjectTaggingOutput;
use aws_sdk_s3::operation::head_object::{HeadObjectError, HeadObjectOutput};
use aws_sdk_s3::operation::upload_part_copy::{UploadPartCopyError, UploadPartCopyOutput};
use aws_sdk_s3::types::error::NotFound;
use aws_sdk_s3::types::{
    BucketVersioningStatus, ChecksumAlgorithm, CopyObjectResult, CopyPartResult,
    ServerSideEncryption, Tag,
};
use aws_sdk_s3::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use clap::Parser;
use s3_version::{execute, Cli, Clients, Options};
use shared::output::{Format, Output};
use shared::ExitCode;
use std::sync::{Arc, Mutex};
use test_harness::Captured;

const SIZE: i64 = 5 * 1024 * 1024 * 1024 + 3;

async fn run(rules: &[Rule], args: &[&str]) -> (ExitCode, Vec<serde_json::Value>) {
    let cli =
        Cli::try_parse_from(std::iter::once("s3-version").chain(args.iter().copied())).unwrap();
    let clients = Clients::fixed(
        mock_client!(aws_sdk_s3, RuleMode::MatchAny, rules),
        "eu-west-1",
    );
    let captured = Captured::default();
    let mut out = Output::to_writer(Format::Ndjson, Box::new(captured.clone()));
    let opts = Options {
        dry_run: false,
        concurrency: 2,
        ..Options::default()
    };
    let code = match execute(cli.command, None, None, &clients, opts, &mut out).await {
        Ok(code) => code,
        Err(e) => e.exit_code(),
    };
    (code, captured.records())
}

fn common() -> Vec<Rule> {
    vec![
        mock!(Client::head_object)
            .match_requests(|r| r.key() == Some("big.bin") && r.version_id() == Some("v1"))
            .then_output(|| {
                HeadObjectOutput::builder()
                    .version_id("v1")
                    .e_tag("\"src-etag-11\"")
                    .content_length(SIZE)
                    .content_type("application/octet-stream")
                    .metadata("build", "7")
                    .build()
            }),
        mock!(Client::head_object)
            .match_requests(|r| r.key() == Some("prod.bin") && r.version_id().is_none())
            .then_error(|| HeadObjectError::NotFound(NotFound::builder().build())),
        mock!(Client::head_object)
            .match_requests(|r| r.key() == Some("prod.bin") && r.version_id() == Some("v-new"))
            .then_output(|| {
                HeadObjectOutput::builder()
                    .version_id("v-new")
                    .e_tag("\"new-11\"")
                    .content_length(SIZE)
                    .build()
            }),
        mock!(Client::get_bucket_versioning).then_output(|| {
            GetBucketVersioningOutput::builder()
                .status(BucketVersioningStatus::Enabled)
                .build()
        }),
        mock!(Client::get_object_tagging)
            .match_requests(|r| r.key() == Some("big.bin") && r.version_id() == Some("v1"))
            .then_output(|| {
                GetObjectTaggingOutput::builder()
                    .tag_set(
                        Tag::builder()
                            .key("team")
                            .value("web & co")
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap()
            }),
        mock!(Client::create_multipart_upload)
            .match_requests(|r| {
                r.content_type() == Some("application/octet-stream")
                    && r.tagging() == Some("team=web%20%26%20co")
                    && r.metadata()
                        .and_then(|m| m.get("build"))
                        .map(String::as_str)
                        == Some("7")
            })
            .then_output(|| {
                CreateMultipartUploadOutput::builder()
                    .upload_id("up-1")
                    .build()
            }),
    ]
}

#[tokio::test]
async fn a_large_object_is_copied_in_ranged_parts_of_the_exact_version() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let part = mock!(Client::upload_part_copy)
        .match_requests(move |r| {
            log.lock()
                .unwrap()
                .push((r.part_number(), r.copy_source_range().map(str::to_string)));
            r.upload_id() == Some("up-1") && r.copy_source() == Some("art/big.bin?versionId=v1")
        })
        .then_output(|| {
            UploadPartCopyOutput::builder()
                .copy_part_result(CopyPartResult::builder().e_tag("\"p\"").build())
                .build()
        });
    let complete = mock!(Client::complete_multipart_upload)
        .match_requests(|r| r.multipart_upload().map(|m| m.parts().len()) == Some(11))
        .then_output(|| {
            CompleteMultipartUploadOutput::builder()
                .version_id("v-new")
                .build()
        });
    let mut rules = common();
    rules.push(part.clone());
    rules.push(complete.clone());
    let (code, records) = run(
        &rules,
        &[
            "promote",
            "s3://art/big.bin",
            "--version-id",
            "v1",
            "--to",
            "s3://art/prod.bin",
        ],
    )
    .await;
    assert_eq!(code, ExitCode::Success, "{records:?}");
    assert_eq!(part.num_calls(), 11);
    assert_eq!(complete.num_calls(), 1);
    let seen = seen.lock().unwrap().clone();
    let ranges: Vec<(i64, i64)> = seen
        .iter()
        .map(|(_, r)| {
            let (a, b) = r
                .as_deref()
                .unwrap()
                .trim_start_matches("bytes=")
                .split_once('-')
                .unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect();
    assert_eq!(ranges.first().unwrap().0, 0);
    assert_eq!(ranges.last().unwrap().1, SIZE - 1, "every byte is copied");
    assert!(
        ranges.windows(2).all(|w| w[0].1 + 1 == w[1].0),
        "no gap, no overlap"
    );
    assert_eq!(records[0]["action"], "promoted");
    assert_eq!(records[0]["artifact"]["version_id"], "v-new");
}

#[tokio::test]
async fn a_failed_part_aborts_the_upload() {
    let part = mock!(Client::upload_part_copy)
        .then_error(|| UploadPartCopyError::unhandled("InternalError"));
    let abort = mock!(Client::abort_multipart_upload)
        .match_requests(|r| r.upload_id() == Some("up-1"))
        .then_output(|| AbortMultipartUploadOutput::builder().build());
    let complete = mock!(Client::complete_multipart_upload)
        .then_output(|| CompleteMultipartUploadOutput::builder().build());
    let mut rules = common();
    rules.extend([part, abort.clone(), complete.clone()]);
    let (code, records) = run(
        &rules,
        &[
            "promote",
            "s3://art/big.bin",
            "--version-id",
            "v1",
            "--to",
            "s3://art/prod.bin",
        ],
    )
    .await;
    assert_eq!(code, ExitCode::Aws);
    // No change record for a copy that did not happen: only the failure, as a record.
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["action"], "error", "{records:?}");
    assert_eq!(records[0]["exit_code"], 3, "{records:?}");
    assert_eq!(records[0]["pointer"], "prod.bin", "{records:?}");
    assert_eq!(abort.num_calls(), 1, "no half object is left behind");
    assert_eq!(complete.num_calls(), 0);
}

const KEY_ARN: &str = "arn:aws:kms:eu-west-1:111122223333:key/prod";

fn versioning() -> Rule {
    mock!(Client::get_bucket_versioning).then_output(|| {
        GetBucketVersioningOutput::builder()
            .status(BucketVersioningStatus::Enabled)
            .build()
    })
}

/// A single-part SSE-KMS version: its ETag is no MD5, its checksum (if any) the identity.
fn kms_head(
    key: &'static str,
    version: &'static str,
    etag: &'static str,
    checksum: Option<&'static str>,
) -> Rule {
    mock!(Client::head_object)
        .match_requests(move |r| {
            r.key() == Some(key) && r.version_id() == Some(version).filter(|v| !v.is_empty())
        })
        .then_output(move || {
            HeadObjectOutput::builder()
                .version_id(if version.is_empty() { "v-new" } else { version })
                .e_tag(format!("\"{etag}\""))
                .content_length(5)
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(KEY_ARN)
                .set_checksum_crc64_nvme(checksum.map(str::to_string))
                .build()
        })
}

fn no_target() -> Rule {
    mock!(Client::head_object)
        .match_requests(|r| r.key() == Some("prod.bin") && r.version_id().is_none())
        .then_error(|| HeadObjectError::NotFound(NotFound::builder().build()))
}

const PROMOTE: [&str; 6] = [
    "promote",
    "s3://art/kms.bin",
    "--version-id",
    "v1",
    "--to",
    "s3://art/prod.bin",
];

#[tokio::test]
async fn an_sse_kms_copy_is_checked_by_its_checksum_and_a_second_promote_is_unchanged() {
    // The copy keeps the source's checksum algorithm, so copy and source compare; its new
    // ETag (an SSE-KMS one) is not taken for a difference.
    let copy = mock!(Client::copy_object)
        .match_requests(|r| r.checksum_algorithm() == Some(&ChecksumAlgorithm::Crc64Nvme))
        .then_output(|| {
            CopyObjectOutput::builder()
                .version_id("v-new")
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(KEY_ARN)
                .copy_object_result(
                    CopyObjectResult::builder()
                        .e_tag("\"f00d0002\"")
                        .checksum_crc64_nvme("C")
                        .build(),
                )
                .build()
        });
    let rules = [
        kms_head("kms.bin", "v1", "f00d0001", Some("C")),
        no_target(),
        kms_head("prod.bin", "v-new", "f00d0002", Some("C")),
        versioning(),
        copy.clone(),
    ];
    let (code, records) = run(&rules, &PROMOTE).await;
    assert_eq!(code, ExitCode::Success, "{records:?}");
    assert_eq!(copy.num_calls(), 1);
    assert_eq!(records[0]["action"], "promoted", "{records:?}");
    assert_eq!(records[0]["artifact"]["etag"], "f00d0002");
    assert_eq!(records[0]["artifact"]["checksum"], "crc64nvme:C");
    // The target's encryption, as the copy answered it.
    assert_eq!(
        records[0]["encryption"],
        serde_json::json!({"sse": "aws:kms", "kms_key_id": KEY_ARN})
    );

    // The key now holds the copy: the same bytes, by checksum, whatever the ETags.
    let copy_again = mock!(Client::copy_object).then_output(|| CopyObjectOutput::builder().build());
    let rules = [
        kms_head("kms.bin", "v1", "f00d0001", Some("C")),
        kms_head("prod.bin", "", "f00d0002", Some("C")),
        versioning(),
        copy_again.clone(),
    ];
    let (code, records) = run(&rules, &PROMOTE).await;
    assert_eq!(code, ExitCode::Success, "{records:?}");
    assert_eq!(records[0]["action"], "unchanged", "{records:?}");
    assert_eq!(copy_again.num_calls(), 0);
    assert_eq!(records[0]["encryption"]["sse"], "aws:kms");
}

#[tokio::test]
async fn an_sse_kms_source_without_a_checksum_gets_sha256_and_is_never_called_different() {
    // An object stored before S3 kept checksums by default: nothing of it compares with a copy
    // under SSE-KMS. The copy asks for SHA-256 (a digest for every later hop) and succeeds;
    // "does not match" would be a false alarm.
    let copy = mock!(Client::copy_object)
        .match_requests(|r| r.checksum_algorithm() == Some(&ChecksumAlgorithm::Sha256))
        .then_output(|| {
            CopyObjectOutput::builder()
                .version_id("v-new")
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .copy_object_result(
                    CopyObjectResult::builder()
                        .e_tag("\"f00d0002\"")
                        .checksum_sha256("S")
                        .build(),
                )
                .build()
        });
    let read_back = mock!(Client::head_object)
        .match_requests(|r| r.key() == Some("prod.bin") && r.version_id() == Some("v-new"))
        .then_output(|| {
            HeadObjectOutput::builder()
                .version_id("v-new")
                .e_tag("\"f00d0002\"")
                .content_length(5)
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .checksum_sha256("S")
                .build()
        });
    let rules = [
        kms_head("kms.bin", "v1", "f00d0001", None),
        no_target(),
        read_back,
        versioning(),
        copy.clone(),
    ];
    let (code, records) = run(&rules, &PROMOTE).await;
    assert_eq!(code, ExitCode::Success, "{records:?}");
    assert_eq!(copy.num_calls(), 1, "SHA-256 asked");
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["action"], "promoted");
    assert_eq!(records[0]["artifact"]["checksum"], "sha256:S");
}

#[tokio::test]
async fn a_multipart_sse_kms_source_is_copied_in_its_own_parts_and_then_unchanged() {
    // A multipart source has a composite checksum and a multipart ETag; under SSE-KMS the copy's
    // ETag differs. Copied in the source's own parts, the composite checksum is the source's.
    const MIB: i64 = 1024 * 1024;
    let size = 8 * MIB + 3;
    let source = move || {
        mock!(Client::head_object)
            .match_requests(|r| r.key() == Some("mp.bin") && r.version_id() == Some("v1"))
            .then_output(move || {
                HeadObjectOutput::builder()
                    .version_id("v1")
                    .e_tag("\"src-2\"")
                    .content_length(size)
                    .checksum_sha256("P-2")
                    .server_side_encryption(ServerSideEncryption::AwsKms)
                    .build()
            })
    };
    let first_part = mock!(Client::head_object)
        .match_requests(|r| {
            r.key() == Some("mp.bin") && r.version_id() == Some("v1") && r.part_number() == Some(1)
        })
        .then_output(|| {
            HeadObjectOutput::builder()
                .content_length(8 * MIB)
                .parts_count(2)
                .build()
        });
    let tags = mock!(Client::get_object_tagging).then_output(|| {
        GetObjectTaggingOutput::builder()
            .set_tag_set(Some(vec![]))
            .build()
            .unwrap()
    });
    let create = mock!(Client::create_multipart_upload)
        .match_requests(|r| {
            r.checksum_algorithm() == Some(&ChecksumAlgorithm::Sha256) && r.tagging().is_none()
        })
        .then_output(|| {
            CreateMultipartUploadOutput::builder()
                .upload_id("up-2")
                .build()
        });
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let part = mock!(Client::upload_part_copy)
        .match_requests(move |r| {
            log.lock()
                .unwrap()
                .push(r.copy_source_range().unwrap_or_default().to_string());
            true
        })
        .then_output(|| {
            UploadPartCopyOutput::builder()
                .copy_part_result(
                    CopyPartResult::builder()
                        .e_tag("\"p\"")
                        .checksum_sha256("part")
                        .build(),
                )
                .build()
        });
    let complete = mock!(Client::complete_multipart_upload)
        .match_requests(|r| {
            r.multipart_upload().is_some_and(|m| {
                m.parts().len() == 2
                    && m.parts()
                        .iter()
                        .all(|p| p.checksum_sha256() == Some("part"))
            })
        })
        .then_output(|| {
            CompleteMultipartUploadOutput::builder()
                .version_id("v-new")
                .e_tag("\"kms-2\"")
                .checksum_sha256("P-2")
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(KEY_ARN)
                .build()
        });
    let args = [
        "promote",
        "s3://art/mp.bin",
        "--version-id",
        "v1",
        "--to",
        "s3://art/prod.bin",
    ];
    let rules = [
        first_part.clone(),
        source(),
        no_target(),
        versioning(),
        tags,
        create,
        part,
        complete.clone(),
    ];
    let (code, records) = run(&rules, &args).await;
    assert_eq!(code, ExitCode::Success, "{records:?}");
    assert_eq!(complete.num_calls(), 1);
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            format!("bytes=0-{}", 8 * MIB - 1),
            format!("bytes={}-{}", 8 * MIB, size - 1)
        ],
        "the source's own parts"
    );
    assert_eq!(records[0]["action"], "promoted", "{records:?}");
    assert_eq!(records[0]["artifact"]["checksum"], "sha256:P-2");
    assert_eq!(records[0]["encryption"]["kms_key_id"], KEY_ARN);

    // The key holds the copy: the same composite checksum, so unchanged.
    let target = mock!(Client::head_object)
        .match_requests(|r| r.key() == Some("prod.bin") && r.version_id().is_none())
        .then_output(move || {
            HeadObjectOutput::builder()
                .version_id("v-new")
                .e_tag("\"kms-2\"")
                .content_length(size)
                .checksum_sha256("P-2")
                .build()
        });
    let (code, records) = run(&[source(), target, versioning()], &args).await;
    assert_eq!(code, ExitCode::Success, "{records:?}");
    assert_eq!(records[0]["action"], "unchanged", "{records:?}");
}

#[tokio::test]
async fn history_keeps_s3s_order_of_a_version_and_a_delete_marker_of_one_second() {
    // S3 answers ListObjectVersions with a key's versions and delete markers interleaved in its
    // own order, and whole seconds in LastModified. moto lists every version before every
    // delete marker, so it cannot show the interleaving: this answer is S3's, as raw XML (the
    // order the SDK's two lists lose). Put v1, delete (d1), put v2, all in one second.
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;
    const XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>art</Name><Prefix>web.zip</Prefix><KeyMarker></KeyMarker><VersionIdMarker></VersionIdMarker><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>
<Version><Key>web.zip</Key><VersionId>v2</VersionId><IsLatest>true</IsLatest><LastModified>2026-12-02T04:00:07.000Z</LastModified><ETag>"e2"</ETag><Size>7</Size><StorageClass>STANDARD</StorageClass></Version>
<DeleteMarker><Key>web.zip</Key><VersionId>d1</VersionId><IsLatest>false</IsLatest><LastModified>2026-12-02T04:00:07.000Z</LastModified></DeleteMarker>
<Version><Key>web.zip</Key><VersionId>v1</VersionId><IsLatest>false</IsLatest><LastModified>2026-12-02T04:00:07.000Z</LastModified><ETag>"e1"</ETag><Size>7</Size><StorageClass>STANDARD</StorageClass></Version>
</ListVersionsResult>"#;
    let list = mock!(Client::list_object_versions).then_http_response(|| {
        Response::new(StatusCode::try_from(200).unwrap(), SdkBody::from(XML))
    });
    let (code, records) = run(&[list], &["history", "s3://art/web.zip"]).await;
    assert_eq!(code, ExitCode::Success, "{records:?}");
    let order: Vec<(&str, bool)> = records
        .iter()
        .map(|r| {
            (
                r["artifact"]["version_id"].as_str().unwrap(),
                r["delete_marker"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(order, [("v2", false), ("d1", true), ("v1", false)]);
}
