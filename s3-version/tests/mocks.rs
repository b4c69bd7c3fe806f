//! Multipart copy, with SDK-level mocks: an object above the 5 GiB single-copy limit is copied in
//! ranged parts of the exact source version, and a failed part aborts the upload.

#![allow(clippy::unwrap_used, clippy::expect_used)] // reason: tests fail loudly

use aws_sdk_s3::operation::abort_multipart_upload::AbortMultipartUploadOutput;
use aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput;
use aws_sdk_s3::operation::create_multipart_upload::CreateMultipartUploadOutput;
use aws_sdk_s3::operation::get_bucket_versioning::GetBucketVersioningOutput;
use aws_sdk_s3::operation::head_object::{HeadObjectError, HeadObjectOutput};
use aws_sdk_s3::operation::upload_part_copy::{UploadPartCopyError, UploadPartCopyOutput};
use aws_sdk_s3::types::error::NotFound;
use aws_sdk_s3::types::{BucketVersioningStatus, CopyPartResult};
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
    let mut out = Output::to_writer(Format::Json, Box::new(captured.clone()));
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
        mock!(Client::create_multipart_upload)
            .match_requests(|r| {
                r.content_type() == Some("application/octet-stream")
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
