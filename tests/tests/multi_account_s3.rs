//! S3 across accounts and regions (issue 15): `s3-version promote --to prod` reads staging's key
//! with staging's credentials (account 111111111111, us-east-1) and writes prod's with prod's
//! (222222222222, eu-west-1), each reached through its own assume-role profile; each account is
//! seeded and read back with its own credentials. The copy is server-side when the target's
//! credentials may read the source, else streamed through the tool (read with the source's
//! credentials, written with the target's in 8 MiB parts) and checked by checksum.
//!
//! Stood in for: moto does not enforce permissions across accounts (any credentials read any
//! bucket), so a server-side copy from staging's bucket always works there. The refusal AWS
//! gives when prod's role may not read staging's bucket is made by the test proxy
//! (`Faults::deny_copy_source`): HTTP 403 AccessDenied to every CopyObject and UploadPartCopy
//! whose copy source names staging's bucket. Everything else (GetObject, PutObject, the
//! multipart upload, tags, versions) is the emulator's.

#![allow(clippy::unwrap_used, clippy::expect_used)] // reason: tests fail loudly

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration,
    VersioningConfiguration,
};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use test_harness::accounts::{
    env_sections, sdk_config, write_profiles, PROD_ACCOUNT, PROD_REGION, STAGING_ACCOUNT,
    STAGING_REGION,
};
use test_harness::proxy::{FaultProxy, Faults};
use test_harness::{binary, unique, Emulator, Sandbox};

const KEY: &str = "site/app.zip";

/// Bytes not all alike, so a part out of place changes them.
fn bytes(marker: &str, size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size);
    let mut block = Sha256::digest(marker.as_bytes()).to_vec();
    while out.len() < size {
        out.extend_from_slice(&block);
        block = Sha256::digest(&block).to_vec();
    }
    out.truncate(size);
    out
}

fn s3_in(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build(),
    )
}

/// What a version of the key holds: its bytes and everything a copy keeps.
#[derive(PartialEq, Eq)]
struct Object {
    bytes: Vec<u8>,
    content_type: Option<String>,
    cache_control: Option<String>,
    metadata: HashMap<String, String>,
    tags: Vec<(String, String)>,
}

impl std::fmt::Debug for Object {
    // The bytes by size and SHA-256: a mismatch shows what else differs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Object")
            .field("size", &self.bytes.len())
            .field("sha256", &format!("{:x}", Sha256::digest(&self.bytes)))
            .field("content_type", &self.content_type)
            .field("cache_control", &self.cache_control)
            .field("metadata", &self.metadata)
            .field("tags", &self.tags)
            .finish()
    }
}

async fn read(client: &aws_sdk_s3::Client, bucket: &str, version: Option<&str>) -> Object {
    let out = client
        .get_object()
        .bucket(bucket)
        .key(KEY)
        .set_version_id(version.map(str::to_string))
        .send()
        .await
        .expect("get the object");
    let content_type = out.content_type().map(str::to_string);
    let cache_control = out.cache_control().map(str::to_string);
    let metadata = out.metadata().cloned().unwrap_or_default();
    let version_id = out.version_id().map(str::to_string);
    let bytes = out.body.collect().await.unwrap().into_bytes().to_vec();
    let tagging = client
        .get_object_tagging()
        .bucket(bucket)
        .key(KEY)
        .set_version_id(version_id)
        .send()
        .await
        .expect("get the tags");
    let mut tags: Vec<(String, String)> = tagging
        .tag_set()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    tags.sort();
    Object {
        bytes,
        content_type,
        cache_control,
        metadata,
        tags,
    }
}

/// Every version id of the key, newest first.
async fn versions(client: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    let out = client
        .list_object_versions()
        .bucket(bucket)
        .prefix(KEY)
        .send()
        .await
        .expect("list versions");
    out.versions()
        .iter()
        .filter(|v| v.key() == Some(KEY))
        .map(|v| v.version_id().unwrap_or("null").to_string())
        .collect()
}

/// Staging's and prod's buckets, each in its own account and region, versioned, and a sandbox
/// whose promote.toml names `s3://NAME-{env}/site/app.zip`, talking through `proxy`.
struct Layout {
    name: String,
    staging: aws_sdk_s3::Client,
    prod: aws_sdk_s3::Client,
    sandbox: Sandbox,
}

impl Layout {
    async fn new(proxy: &FaultProxy, name: String) -> Layout {
        let staging = s3_in(&sdk_config(STAGING_ACCOUNT, STAGING_REGION).await);
        let prod = s3_in(&sdk_config(PROD_ACCOUNT, PROD_REGION).await);
        let mut sandbox = Sandbox::new();
        write_profiles(&sandbox);
        sandbox.env("AWS_ENDPOINT_URL", &proxy.endpoint);
        sandbox.write(
            "promote.toml",
            &format!(
                "{}[s3]\nobjects = [\"s3://{name}-{{env}}/{KEY}\"]\n",
                env_sections()
            ),
        );
        let l = Layout {
            name,
            staging,
            prod,
            sandbox,
        };
        l.bucket(&l.staging, &l.bucket_of("staging"), None).await;
        l.bucket(&l.prod, &l.bucket_of("prod"), Some(PROD_REGION))
            .await;
        l
    }

    fn bucket_of(&self, env: &str) -> String {
        format!("{}-{env}", self.name)
    }

    async fn bucket(&self, client: &aws_sdk_s3::Client, bucket: &str, region: Option<&str>) {
        client
            .create_bucket()
            .bucket(bucket)
            .set_create_bucket_configuration(region.map(|r| {
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(r))
                    .build()
            }))
            .send()
            .await
            .expect("create a bucket");
        client
            .put_bucket_versioning()
            .bucket(bucket)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .expect("enable versioning");
    }

    /// A new version of the key in `env`'s bucket, with a content type, cache control, metadata
    /// and tags of its own.
    async fn put(&self, client: &aws_sdk_s3::Client, env: &str, body: &[u8], tag: &str) -> String {
        client
            .put_object()
            .bucket(self.bucket_of(env))
            .key(KEY)
            .body(ByteStream::from(body.to_vec()))
            .content_type(format!("application/x-{tag}"))
            .cache_control(format!("max-age={}", tag.len()))
            .metadata("build", tag)
            .tagging(format!("release={tag}&team=web"))
            .send()
            .await
            .expect("put the object")
            .version_id()
            .unwrap()
            .to_string()
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> test_harness::Run {
        self.sandbox.run(&binary("s3-version"), args, stdin)
    }

    /// The checks every promotion across makes: where the record says it read and wrote, and
    /// prod's key holding staging's version exactly, every attribute a copy keeps included.
    async fn check_promoted(&self, record: &Value, how: &str, staging_version: &str) {
        self.check_promoted_with(record, how, staging_version, true)
            .await;
    }

    /// [`Layout::check_promoted`]; `tags`: whether to compare the tags too.
    async fn check_promoted_with(
        &self,
        record: &Value,
        how: &str,
        staging_version: &str,
        tags: bool,
    ) {
        assert_eq!(record["action"], "promoted", "{record}");
        assert_eq!(record["copy"], how, "{record}");
        assert_eq!(record["account"], PROD_ACCOUNT, "{record}");
        assert_eq!(record["region"], PROD_REGION, "{record}");
        let from = &record["copied_from"];
        assert_eq!(from["account"], STAGING_ACCOUNT, "{record}");
        assert_eq!(from["region"], STAGING_REGION, "{record}");
        assert_eq!(
            from["bucket"],
            self.bucket_of("staging").as_str(),
            "{record}"
        );
        assert_eq!(from["key"], KEY, "{record}");
        assert_eq!(from["version_id"], staging_version, "{record}");
        let mut now = read(&self.prod, &self.bucket_of("prod"), None).await;
        let mut source = read(
            &self.staging,
            &self.bucket_of("staging"),
            Some(staging_version),
        )
        .await;
        if !tags {
            now.tags.clear();
            source.tags.clear();
        }
        assert_eq!(
            now, source,
            "prod holds staging's version: bytes and attributes"
        );
        assert_eq!(
            record["artifact"]["size"],
            source.bytes.len() as u64,
            "{record}"
        );
        let written = record["artifact"]["version_id"].as_str().unwrap();
        assert_eq!(
            versions(&self.prod, &self.bucket_of("prod")).await[0],
            written
        );
    }

    /// Rollback of `promotion`'s records: prod's key holds its old version's bytes and
    /// attributes exactly again, as a new version on top (nothing deleted).
    async fn check_rollback(&self, promotion: &str, old: &Object, count_before: usize) {
        let run = self.run(&["rollback"], Some(promotion));
        run.expect_code(0);
        assert_eq!(run.record()["action"], "rolled_back", "{run}");
        let back = read(&self.prod, &self.bucket_of("prod"), None).await;
        assert_eq!(&back, old);
        assert_eq!(
            versions(&self.prod, &self.bucket_of("prod")).await.len(),
            count_before + 2,
            "the promotion's version and the copy back, on top of the old ones"
        );
    }
}

/// A layout's name, and a proxy that refuses (403) every server-side copy from its staging
/// bucket: prod's credentials may not read it.
fn denying_staging(prefix: &str) -> (String, FaultProxy) {
    let name = unique(prefix);
    // The proxy's faults are `Copy` (shared by every connection): a leaked name, once a test.
    let denied: &'static str = Box::leak(format!("{name}-staging").into_boxed_str());
    let proxy = FaultProxy::start(
        &Emulator::shared().endpoint,
        Faults {
            deny_copy_source: Some(denied),
            ..Faults::default()
        },
    );
    (name, proxy)
}

fn writes(proxy: &FaultProxy) -> u64 {
    proxy
        .counts()
        .requests
        .iter()
        .filter(|(k, _)| {
            ["s3 PUT", "s3 POST", "s3 DELETE"]
                .iter()
                .any(|m| k.starts_with(m))
        })
        .map(|(_, n)| n)
        .sum()
}

/// The target's credentials may read the source: one server-side copy, nothing streamed.
/// The emulator's CopyObject across accounts drops the source's tags (within one account it
/// keeps them, as AWS does across accounts too; checked with boto3 against moto 5.2.5), so tags
/// are not compared here; the streamed copy below restates them itself and is checked for them.
#[tokio::test]
async fn promote_across_accounts_copies_server_side_when_the_target_may_read_the_source() {
    let proxy = FaultProxy::start(&Emulator::shared().endpoint, Faults::default());
    let l = Layout::new(&proxy, unique("xs3")).await;
    let old = l.put(&l.prod, "prod", b"old prod bytes", "old").await;
    let old_object = read(&l.prod, &l.bucket_of("prod"), Some(&old)).await;
    let body = bytes(&l.name, 300 * 1024);
    let new = l.put(&l.staging, "staging", &body, "new").await;

    let run = l.run(&["promote", "--to", "prod"], None);
    run.expect_code(0);
    let record = run.record();
    l.check_promoted_with(&record, "server-side", &new, false)
        .await;
    assert_eq!(record["previous"]["version_id"], old.as_str(), "{run}");
    let counts = proxy.counts();
    assert_eq!(counts.injected.get("deny_copy"), None);
    // One copy with prod's credentials, and no GetObject of the source: nothing streamed.
    assert_eq!(counts.writes.len(), 1, "{:?}", counts.requests);
    let source_path = format!("s3 GET {}/{}", l.bucket_of("staging"), KEY);
    assert_eq!(
        counts.requests.get(&source_path),
        None,
        "{:?}",
        counts.requests
    );
    // Staging is as it was.
    assert_eq!(
        versions(&l.staging, &l.bucket_of("staging")).await,
        vec![new]
    );

    l.check_rollback(&run.stdout, &old_object, 1).await;
}

/// Prod's credentials may not read staging's bucket (the proxy refuses the server-side copy, as
/// AWS would): the bytes are streamed, 20 MiB in three parts, with every attribute kept.
#[tokio::test]
async fn promote_across_accounts_streams_the_copy_when_the_target_may_not_read_the_source() {
    let (name, proxy) = denying_staging("xs3-deny");
    let l = Layout::new(&proxy, name).await;
    let old = l.put(&l.prod, "prod", b"old prod bytes", "old").await;
    let old_object = read(&l.prod, &l.bucket_of("prod"), Some(&old)).await;
    let body = bytes(&l.name, 20 * 1024 * 1024 + 5);
    let new = l.put(&l.staging, "staging", &body, "streamed").await;

    let run = l.run(&["promote", "--to", "prod"], None);
    run.expect_code(0);
    let record = run.record();
    l.check_promoted(&record, "streamed", &new).await;
    let counts = proxy.counts();
    assert_eq!(counts.injected.get("deny_copy"), Some(&1), "{run}");
    assert!(run.stderr.contains("streaming"), "{run}");
    // Read with staging's credentials (those that read the source's version in the plan),
    // written with prod's (those the refused copy was made with).
    let keys = |operation: String| {
        counts
            .access_keys_by_operation
            .get(&operation)
            .cloned()
            .unwrap_or_else(|| panic!("no {operation}: {:?}", counts.requests))
    };
    let source = format!("{}/{KEY}", l.bucket_of("staging"));
    let target = format!("{}/{KEY}", l.bucket_of("prod"));
    let staging_keys = keys(format!("s3 HEAD {source}"));
    assert_eq!(staging_keys.len(), 1, "{staging_keys:?}");
    assert_eq!(keys(format!("s3 GET {source}")), staging_keys);
    let prod_keys = keys(format!("s3 PUT {target}"));
    assert_eq!(prod_keys.len(), 1, "{prod_keys:?}");
    assert_eq!(keys(format!("s3 POST {target}")), prod_keys);
    assert!(staging_keys.is_disjoint(&prod_keys));
    // Written in parts: 8 MiB, 8 MiB, 4 MiB (a multipart ETag says how many).
    let head = l
        .prod
        .head_object()
        .bucket(l.bucket_of("prod"))
        .key(KEY)
        .send()
        .await
        .unwrap();
    assert!(head.e_tag().unwrap().ends_with("-3\""), "{head:?}");
    // No upload is left behind.
    let uploads = l
        .prod
        .list_multipart_uploads()
        .bucket(l.bucket_of("prod"))
        .send()
        .await
        .unwrap();
    assert!(uploads.uploads().is_empty(), "{uploads:?}");
    // The copy keeps the source's own checksum whole (a full-object CRC32, which the SDK gave
    // the source), so the next promotion sees the same bytes and copies nothing.
    let source_checksum = |record: &Value| record["artifact"]["checksum"].clone();
    let run_again = l.run(&["promote", "--to", "prod"], None);
    run_again.expect_code(0);
    let again = run_again.record();
    assert_eq!(again["action"], "unchanged", "{run_again}");
    assert_eq!(
        source_checksum(&again),
        source_checksum(&record),
        "{run_again}"
    );
    assert!(
        record["artifact"]["checksum"]
            .as_str()
            .is_some_and(|c| c.starts_with("crc32:")),
        "{record}"
    );
    assert_eq!(versions(&l.prod, &l.bucket_of("prod")).await.len(), 2);

    l.check_rollback(&run.stdout, &old_object, 1).await;
}

/// A small object is streamed in one PutObject, and checked by its MD5 ETag.
#[tokio::test]
async fn a_small_object_is_streamed_in_one_put() {
    let (name, proxy) = denying_staging("xs3-small");
    let l = Layout::new(&proxy, name).await;
    let body = bytes(&l.name, 1000);
    let new = l.put(&l.staging, "staging", &body, "small").await;
    // Prod's key is new: a rollback hides it behind a delete marker.
    let run = l.run(&["promote", "--to", "prod"], None);
    run.expect_code(0);
    let record = run.record();
    l.check_promoted(&record, "streamed", &new).await;
    assert!(record["previous"].is_null(), "{run}");
    let head = l
        .prod
        .head_object()
        .bucket(l.bucket_of("prod"))
        .key(KEY)
        .send()
        .await
        .unwrap();
    assert!(!head.e_tag().unwrap().contains('-'), "{head:?}");
}

/// A dry run reads both accounts, says which copy it would try, and writes nothing anywhere.
#[tokio::test]
async fn a_dry_run_across_accounts_says_which_copy_it_would_try_and_writes_nothing() {
    let proxy = FaultProxy::start(&Emulator::shared().endpoint, Faults::default());
    let l = Layout::new(&proxy, unique("xs3-dry")).await;
    let old = l.put(&l.prod, "prod", b"old prod bytes", "old").await;
    let new = l.put(&l.staging, "staging", b"new bytes", "new").await;

    let run = l.run(&["promote", "--to", "prod", "--dry-run"], None);
    run.expect_code(0);
    let planned = run.record();
    assert_eq!(planned["action"], "planned", "{run}");
    assert_eq!(planned["planned_action"], "promoted", "{run}");
    assert_eq!(planned["copy"], "server-side", "{run}");
    assert_eq!(planned["copied_from"]["account"], STAGING_ACCOUNT, "{run}");
    assert_eq!(planned["copied_from"]["version_id"], new.as_str(), "{run}");
    assert!(
        run.stderr.contains("would try a server-side copy") && run.stderr.contains("stream"),
        "{run}"
    );
    assert_eq!(writes(&proxy), 0, "{:?}", proxy.counts().requests);
    assert_eq!(versions(&l.prod, &l.bucket_of("prod")).await, vec![old]);
    assert_eq!(
        versions(&l.staging, &l.bucket_of("staging")).await,
        vec![new]
    );
}

/// The memory figure for docs/benchmarks.md: the whole `s3-version promote` process (under
/// `/usr/bin/time -v`) streaming a 200 MiB object across accounts. Run with
/// `cargo nextest run -p test-harness --test multi_account_s3 --run-ignored only --no-capture`
/// (PROMOTE_RSS_OBJECT_MIB for another size).
#[tokio::test]
#[ignore = "a measurement: run it on its own"]
async fn memory_stays_bounded_streaming_a_200_mib_object() {
    let (name, proxy) = denying_staging("xs3-rss");
    let l = Layout::new(&proxy, name).await;
    let mib: usize = std::env::var("PROMOTE_RSS_OBJECT_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let body = bytes(&l.name, mib * 1024 * 1024);
    let digest = Sha256::digest(&body).to_vec();
    l.put(&l.staging, "staging", &body, "rss").await;
    drop(body);

    let (run, rss_kb, elapsed) = l
        .sandbox
        .run_measured(&binary("s3-version"), &["promote", "--to", "prod"]);
    let record: Value = serde_json::from_str(run.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(record["copy"], "streamed", "{run}");
    let now = read(&l.prod, &l.bucket_of("prod"), None).await;
    assert_eq!(Sha256::digest(&now.bytes).to_vec(), digest);
    eprintln!(
        "s3-version promote streaming a {mib} MiB object: max RSS {} MiB, {:.1} s",
        rss_kb / 1024,
        elapsed.as_secs_f64()
    );
    assert!(rss_kb < 100 * 1024, "RSS {rss_kb} kB");
}
