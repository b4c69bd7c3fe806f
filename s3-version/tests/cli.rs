//! s3-version's real binary against the emulator: resolve, promote within and across buckets
//! (content, content type and metadata read back), history of a key that is a prefix of another,
//! the rollback round trip with every version still there, refusals, dry runs, pass-through and
//! bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)] // reason: tests fail loudly

use serde_json::Value;
use test_harness::s3::{create_bucket, get, put, versions};
use test_harness::{unique, Sandbox};

const BIN: &str = env!("CARGO_BIN_EXE_s3-version");

/// A versioned bucket with staging/web.zip (two builds) and prod/web.zip (an old build).
struct Bucket {
    name: String,
    build1: String,
    build2: String,
    prod0: String,
}

impl Bucket {
    async fn new() -> Bucket {
        let name = unique("art");
        create_bucket(&name, true).await;
        let build1 = put(
            &name,
            "staging/web.zip",
            b"build-1",
            "application/zip",
            &[("build", "1")],
        )
        .await;
        let build2 = put(
            &name,
            "staging/web.zip",
            b"build-2",
            "application/zip",
            &[("build", "2")],
        )
        .await;
        let prod0 = put(
            &name,
            "prod/web.zip",
            b"build-0",
            "application/zip",
            &[("build", "0")],
        )
        .await;
        Bucket {
            name,
            build1,
            build2,
            prod0,
        }
    }

    fn at(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.name)
    }

    fn toml(&self) -> String {
        format!("[envs]\norder = [\"staging\", \"prod\"]\n\n[s3]\nobjects = [\"s3://{}/{{env}}/web.zip\"]\n", self.name)
    }

    async fn prod(&self) -> Vec<u8> {
        get(&self.name, "prod/web.zip", None)
            .await
            .map(|o| o.0)
            .unwrap_or_default()
    }
}

#[tokio::test]
async fn resolve_names_the_current_or_a_given_version() {
    let b = Bucket::new().await;
    let sandbox = Sandbox::new();
    let current = sandbox
        .run(BIN, &["resolve", &b.at("staging/web.zip")], None)
        .expect_code(0)
        .record();
    assert_eq!(current["service"], "s3");
    assert_eq!(current["resource"], format!("{}/staging/web.zip", b.name));
    assert_eq!(current["pointer"], "staging/web.zip");
    assert_eq!(current["artifact"]["version_id"], b.build2.as_str());
    assert_eq!(current["artifact"]["size"], 7);
    let old = sandbox
        .run(
            BIN,
            &[
                "resolve",
                &b.at("staging/web.zip"),
                "--version-id",
                &b.build1,
            ],
            None,
        )
        .expect_code(0)
        .record();
    assert_eq!(old["artifact"]["version_id"], b.build1.as_str());
    assert_ne!(old["artifact"]["etag"], current["artifact"]["etag"]);
    sandbox
        .run(BIN, &["resolve", &b.at("nothing/here")], None)
        .expect_code(4);
}

#[tokio::test]
async fn promote_copies_exactly_that_version_with_its_type_and_metadata() {
    let b = Bucket::new().await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &b.toml());

    let record = sandbox
        .run(BIN, &["promote", "--to", "prod"], None)
        .expect_code(0)
        .record();
    assert_eq!(record["action"], "promoted");
    assert_eq!(record["env"], "prod");
    assert_eq!(record["previous"]["version_id"], b.prod0.as_str());
    assert_eq!(
        record["source"],
        format!("{}?versionId={}", b.at("staging/web.zip"), b.build2)
    );
    let (bytes, content_type, metadata, version) =
        get(&b.name, "prod/web.zip", None).await.unwrap();
    assert_eq!(bytes, b"build-2");
    assert_eq!(content_type.as_deref(), Some("application/zip"));
    assert_eq!(metadata.get("build").map(String::as_str), Some("2"));
    assert_eq!(record["artifact"]["version_id"], version.as_str());

    let again = sandbox
        .run(BIN, &["promote", "--to", "prod"], None)
        .expect_code(0)
        .record();
    assert_eq!(again["action"], "unchanged", "the same bytes: no write");
    assert_eq!(versions(&b.name, "prod/web.zip").await.len(), 2);

    // An older version, explicitly, into another bucket.
    let other = unique("other");
    create_bucket(&other, true).await;
    let target = format!("s3://{other}/site/web.zip");
    let across = sandbox
        .run(
            BIN,
            &[
                "promote",
                &b.at("staging/web.zip"),
                "--to",
                &target,
                "--version-id",
                &b.build1,
            ],
            None,
        )
        .expect_code(0)
        .record();
    assert_eq!(across["previous"], Value::Null);
    let (bytes, _, metadata, _) = get(&other, "site/web.zip", None).await.unwrap();
    assert_eq!(
        (bytes.as_slice(), metadata.get("build").map(String::as_str)),
        (&b"build-1"[..], Some("1"))
    );
}

#[tokio::test]
async fn history_lists_exactly_one_key_newest_first_with_delete_markers() {
    let b = Bucket::new().await;
    put(
        &b.name,
        "staging/web.zip.bak",
        b"not this one",
        "text/plain",
        &[],
    )
    .await;
    test_harness::s3::client()
        .delete_object()
        .bucket(&b.name)
        .key("staging/web.zip")
        .send()
        .await
        .unwrap();
    let records = Sandbox::new()
        .run(BIN, &["history", &b.at("staging/web.zip")], None)
        .expect_code(0)
        .records();
    assert_eq!(
        records.len(),
        3,
        "two versions and a delete marker, not the .bak key: {records:?}"
    );
    assert!(records
        .iter()
        .all(|r| r["resource"] == format!("{}/staging/web.zip", b.name)));
    assert_eq!(records[0]["delete_marker"], true);
    assert_eq!(records[0]["is_latest"], true);
    assert_eq!(records[1]["artifact"]["version_id"], b.build2.as_str());
    assert_eq!(records[2]["artifact"]["version_id"], b.build1.as_str());
    assert!(records.iter().all(|r| r["pointer"].is_null()));
}

#[tokio::test]
async fn rollback_restores_the_bytes_and_loses_no_version() {
    let b = Bucket::new().await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &b.toml());
    let fresh = format!("s3://{}/fresh/web.zip", b.name);
    let promoted = sandbox.run(BIN, &["promote", "--to", "prod"], None);
    promoted.expect_code(0);
    let created = sandbox.run(
        BIN,
        &["promote", &b.at("staging/web.zip"), "--to", &fresh],
        None,
    );
    created.expect_code(0);
    assert_eq!(b.prod().await, b"build-2");
    let before: Vec<String> = versions(&b.name, "prod/web.zip").await;

    let lambda = r#"{"service":"lambda","action":"promoted","resource":"f","pointer":"prod"}"#;
    let log = format!("{lambda}\n{}{}", promoted.stdout, created.stdout);
    let rolled = sandbox.run(BIN, &["rollback"], Some(&log));
    rolled.expect_code(0);
    assert_eq!(
        rolled.stdout.lines().next(),
        Some(lambda),
        "other services pass through"
    );
    let records = rolled.records();
    assert_eq!(records[1]["action"], "rolled_back");
    assert_eq!(
        records[2]["artifact"],
        Value::Null,
        "the new key is hidden behind a delete marker"
    );
    assert_eq!(b.prod().await, b"build-0", "prod holds its old bytes again");
    assert!(get(&b.name, "fresh/web.zip", None).await.is_none());

    let after = versions(&b.name, "prod/web.zip").await;
    assert_eq!(after.len(), before.len() + 1, "rollback added a version");
    assert!(
        before.iter().all(|v| after.contains(v)),
        "every version is still there"
    );
    assert_eq!(
        versions(&b.name, "fresh/web.zip").await.len(),
        1,
        "the hidden key's version is still there"
    );

    let again = sandbox
        .run(BIN, &["rollback"], Some(&log))
        .expect_code(0)
        .records();
    assert!(
        again[1..].iter().all(|r| r["action"] == "unchanged"),
        "{again:?}"
    );
}

#[tokio::test]
async fn refusals_change_nothing() {
    let b = Bucket::new().await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &b.toml());

    let run = sandbox.run(
        BIN,
        &["promote", "--to", "prod", "--expect", "v-wrong"],
        None,
    );
    run.expect_code(4);
    assert!(
        run.stderr.contains("not version v-wrong as --expect says"),
        "{run}"
    );
    let planned = sandbox
        .run(BIN, &["promote", "--to", "prod", "--dry-run"], None)
        .expect_code(0)
        .record();
    assert_eq!(planned["action"], "planned");
    assert_eq!(planned["planned_action"], "promoted");
    assert_eq!(b.prod().await, b"build-0");

    let plain = unique("plain");
    create_bucket(&plain, false).await;
    put(&plain, "web.zip", b"keep me", "application/zip", &[]).await;
    let target = format!("s3://{plain}/web.zip");
    let run = sandbox.run(
        BIN,
        &["promote", &b.at("staging/web.zip"), "--to", &target],
        None,
    );
    run.expect_code(4);
    assert!(run.stderr.contains("--allow-unversioned"), "{run}");
    assert_eq!(get(&plain, "web.zip", None).await.unwrap().0, b"keep me");
    let check = sandbox.run(BIN, &["check", &format!("s3://{plain}")], None);
    check.expect_code(1);
    assert_eq!(check.record()["versioning"], "Disabled");
    assert_eq!(
        sandbox
            .run(BIN, &["check", &format!("s3://{}", b.name)], None)
            .expect_code(0)
            .record()["versioning"],
        "Enabled"
    );
    let overwritten = sandbox.run(
        BIN,
        &[
            "promote",
            &b.at("staging/web.zip"),
            "--to",
            &target,
            "--allow-unversioned",
        ],
        None,
    );
    overwritten.expect_code(0);
    // Said before the write: the old bytes will be gone.
    assert!(
        overwritten
            .stderr
            .contains("a rollback cannot bring them back"),
        "{overwritten}"
    );
    assert_eq!(get(&plain, "web.zip", None).await.unwrap().0, b"build-2");
    // And the rollback says it cannot restore them, rather than "unchanged".
    let undo = sandbox.run(BIN, &["rollback"], Some(&overwritten.stdout));
    undo.expect_code(4);
    assert!(undo.stderr.contains("cannot be restored"), "{undo}");
    assert_eq!(undo.record()["action"], "error");
    assert_eq!(get(&plain, "web.zip", None).await.unwrap().0, b"build-2");

    sandbox
        .run(
            BIN,
            &["promote", "--to", "prod", "--expect", &b.prod0],
            None,
        )
        .expect_code(0);
    assert_eq!(b.prod().await, b"build-2");
}

#[tokio::test]
async fn a_manifest_promotes_exactly_its_version() {
    let b = Bucket::new().await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &b.toml());
    let manifest = sandbox.run(BIN, &["status", "--env", "staging"], None);
    assert_eq!(
        manifest.record()["artifact"]["version_id"],
        b.build2.as_str()
    );
    // Without --env: every environment of the order, as the other tools' status.
    let all = sandbox.run(BIN, &["status"], None);
    all.expect_code(0);
    let envs: Vec<String> = all
        .records()
        .iter()
        .map(|r| r["env"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(envs, ["staging", "prod"], "{all}");
    assert_eq!(
        all.records()[0]["artifact"]["version_id"],
        b.build2.as_str()
    );
    put(
        &b.name,
        "staging/web.zip",
        b"build-3",
        "application/zip",
        &[],
    )
    .await; // staging moves on

    sandbox
        .run(BIN, &["promote", "--to", "prod"], Some(&manifest.stdout))
        .expect_code(0);
    assert_eq!(b.prod().await, b"build-2");
}

#[tokio::test]
async fn bad_input_changes_nothing_and_names_the_line() {
    let b = Bucket::new().await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &b.toml());
    let good = sandbox
        .run(BIN, &["status", "--env", "staging"], None)
        .stdout
        .clone();
    for (input, message) in [
        (format!("{good}\u{1}\n"), "stdin:2: not valid JSON"),
        (format!("{good}{{\"service\":\"s3\",\"action\":\"resolved\",\"resource\":\"{}/staging/web.zip\",\"env\":\"staging\",\"artifact\":{{\"version_id\":7}}}}\n", b.name), "stdin:2: s3 record's `artifact`"),
        (format!("{good}{{\"service\":\"s3\",\"action\":\"resolved\",\"resource\":\"{}/other.zip\",\"env\":\"staging\",\"artifact\":{{\"version_id\":\"v\",\"etag\":\"e\",\"size\":1}}}}\n", b.name), "stdin:2: s3://"),
    ] {
        let run = sandbox.run(BIN, &["promote", "--to", "prod"], Some(&input));
        run.expect_code(2);
        assert!(run.stderr.contains(message), "expected {message:?}\n{run}");
    }
    assert_eq!(b.prod().await, b"build-0");
    sandbox.write("promote.toml", &format!("{}bucket = \"x\"\n", b.toml()));
    let run = sandbox.run(BIN, &["promote", "--to", "prod"], None);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("promote.toml:6: unknown field `bucket`"),
        "{run}"
    );
    Sandbox::new()
        .run(BIN, &["resolve", "s3://not a bucket/x"], None)
        .expect_code(2);
    assert_eq!(b.prod().await, b"build-0");
}

/// A versioned bucket with dev/, staging/ and prod/web.zip, each a different build, and a
/// promote.toml of the three environments in that order.
struct Chain {
    name: String,
}

impl Chain {
    async fn new() -> Chain {
        let name = unique("chain");
        create_bucket(&name, true).await;
        for env in ["dev", "staging", "prod"] {
            put(
                &name,
                &format!("{env}/web.zip"),
                format!("{env}-build").as_bytes(),
                "application/zip",
                &[],
            )
            .await;
        }
        Chain { name }
    }

    fn toml(&self) -> String {
        format!(
            "[envs]\norder = [\"dev\", \"staging\", \"prod\"]\n\n[s3]\nobjects = [\"s3://{}/{{env}}/web.zip\"]\n",
            self.name
        )
    }

    async fn prod(&self) -> Vec<u8> {
        get(&self.name, "prod/web.zip", None).await.unwrap().0
    }
}

#[tokio::test]
async fn an_empty_pipe_promotes_nothing() {
    let b = Bucket::new().await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &b.toml());
    let before = versions(&b.name, "prod/web.zip").await;

    let run = sandbox.run(BIN, &["promote", "--to", "prod"], Some(""));
    run.expect_code(2);
    assert!(
        run.stderr.contains("no records on stdin; pass --from ENV"),
        "{run}"
    );
    assert!(run.stdout.is_empty(), "{run}");
    assert_eq!(b.prod().await, b"build-0", "the target is unchanged");
    assert_eq!(versions(&b.name, "prod/web.zip").await, before);

    // Records of other services only: nothing to do, they are passed on, and it is said.
    let lambda = r#"{"service":"lambda","action":"resolved","resource":"f","env":"staging"}"#;
    let passed = sandbox.run(
        BIN,
        &["promote", "--to", "prod"],
        Some(&format!("{lambda}\n")),
    );
    passed.expect_code(0);
    assert_eq!(passed.stdout.trim_end(), lambda, "{passed}");
    assert!(passed.stderr.contains("no s3 records on stdin"), "{passed}");
    assert_eq!(b.prod().await, b"build-0");
}

#[tokio::test]
async fn an_error_record_upstream_stops_the_run_unless_skipped() {
    let b = Bucket::new().await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &b.toml());
    let manifest = sandbox
        .run(BIN, &["status", "--env", "staging"], None)
        .expect_code(0)
        .stdout
        .clone();
    let failed = format!(
        r#"{{"service":"s3","action":"error","resource":"{}/staging/other.zip","env":"staging","pointer":"staging/other.zip","message":"gone","exit_code":4}}"#,
        b.name
    );
    let input = format!("{manifest}{failed}\n");

    let refused = sandbox.run(BIN, &["promote", "--to", "prod"], Some(&input));
    refused.expect_code(3);
    assert!(
        refused.stderr.contains("a tool before this one failed"),
        "{refused}"
    );
    assert!(refused.stderr.contains("--skip-failed"), "{refused}");
    let records = refused.records();
    assert_eq!(records.len(), 1, "only the error is passed on\n{refused}");
    assert_eq!(records[0]["action"], "error");
    assert_eq!(b.prod().await, b"build-0", "nothing changed");

    let skipped = sandbox.run(
        BIN,
        &["promote", "--to", "prod", "--skip-failed"],
        Some(&input),
    );
    skipped.expect_code(0);
    let records = skipped.records();
    assert_eq!(records.len(), 2, "{skipped}");
    assert_eq!(records[0]["action"], "promoted", "{skipped}");
    assert_eq!(
        records[1]["action"], "error",
        "the failure still travels on"
    );
    assert_eq!(b.prod().await, b"build-2", "the other records are promoted");
}

#[tokio::test]
async fn the_order_refuses_a_skipped_environment_unless_forced() {
    let c = Chain::new().await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &c.toml());
    let before = versions(&c.name, "prod/web.zip").await;

    let refused = sandbox.run(BIN, &["promote", "--to", "prod", "--from", "dev"], None);
    refused.expect_code(4);
    assert!(
        refused
            .stderr
            .contains("prod takes what staging holds, not what dev holds (promote.toml's order: dev → staging → prod); nothing changed (pass --force to do it anyway)"),
        "{refused}"
    );
    assert_eq!(c.prod().await, b"prod-build", "the target is unchanged");
    assert_eq!(versions(&c.name, "prod/web.zip").await, before);

    // A manifest of dev's objects is refused the same way, one error record per object.
    let dev = sandbox
        .run(BIN, &["status", "--env", "dev"], None)
        .expect_code(0)
        .stdout
        .clone();
    let manifest = sandbox.run(BIN, &["promote", "--to", "prod"], Some(&dev));
    manifest.expect_code(4);
    assert!(
        manifest
            .stderr
            .contains("prod takes what staging holds, not what dev holds"),
        "{manifest}"
    );
    let failed = manifest.record();
    assert_eq!(failed["action"], "error", "{manifest}");
    assert_eq!(failed["pointer"], "prod/web.zip", "{manifest}");
    assert_eq!(c.prod().await, b"prod-build");

    let forced = sandbox.run(
        BIN,
        &["promote", "--to", "prod", "--from", "dev", "--force"],
        None,
    );
    forced.expect_code(0);
    let record = forced.record();
    assert_eq!(record["action"], "promoted", "{forced}");
    assert_eq!(record["forced"], true, "{forced}");
    assert_eq!(c.prod().await, b"dev-build", "moved because of --force");
    let (_, _, _, version) = get(&c.name, "prod/web.zip", None).await.unwrap();
    assert_eq!(record["artifact"]["version_id"], version.as_str());

    // The order's own step is not marked.
    let allowed = sandbox
        .run(BIN, &["promote", "--to", "prod", "--from", "staging"], None)
        .expect_code(0)
        .record();
    assert_eq!(allowed["action"], "promoted");
    assert!(allowed.get("forced").is_none(), "{allowed}");
    assert_eq!(c.prod().await, b"staging-build");
}

#[tokio::test]
async fn atomic_finds_a_missing_object_before_any_copy() {
    let b = Bucket::new().await;
    let sandbox = Sandbox::new();
    // Two objects; staging has no missing.zip.
    sandbox.write(
        "promote.toml",
        &format!(
            "[envs]\norder = [\"staging\", \"prod\"]\n\n[s3]\nobjects = [\"s3://{0}/{{env}}/web.zip\", \"s3://{0}/{{env}}/missing.zip\"]\n",
            b.name
        ),
    );
    let before = versions(&b.name, "prod/web.zip").await;

    let run = sandbox.run(BIN, &["promote", "--to", "prod", "--atomic"], None);
    run.expect_code(4);
    assert!(run.stderr.contains("missing.zip does not exist"), "{run}");
    assert!(run.stderr.contains("--atomic"), "{run}");
    let failed = run.record();
    assert_eq!(failed["action"], "error", "{run}");
    assert_eq!(failed["pointer"], "prod/missing.zip", "{run}");
    assert_eq!(b.prod().await, b"build-0", "no target changed at all");
    assert_eq!(
        versions(&b.name, "prod/web.zip").await,
        before,
        "not even a copy rolled back: none was made"
    );
    assert!(get(&b.name, "prod/missing.zip", None).await.is_none());

    // Without --atomic the object that can be promoted is.
    let run = sandbox.run(BIN, &["promote", "--to", "prod"], None);
    run.expect_code(4);
    let records = run.records();
    assert_eq!(records[0]["action"], "promoted", "{run}");
    assert_eq!(records[1]["action"], "error", "{run}");
    assert_eq!(b.prod().await, b"build-2");
}

#[tokio::test]
async fn rollback_of_no_change_records_says_so_and_changes_nothing() {
    let b = Bucket::new().await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &b.toml());
    let manifest = sandbox
        .run(BIN, &["status", "--env", "prod"], None)
        .expect_code(0)
        .stdout
        .clone();
    let lambda = r#"{"service":"lambda","action":"promoted","resource":"f","pointer":"prod"}"#;
    let before = versions(&b.name, "prod/web.zip").await;

    let run = sandbox.run(BIN, &["rollback"], Some(&format!("{lambda}\n{manifest}")));
    run.expect_code(0);
    assert!(
        run.stderr
            .contains("no s3 change records on stdin: nothing to roll back"),
        "{run}"
    );
    assert_eq!(run.stdout.trim_end(), lambda, "other services pass through");
    assert_eq!(b.prod().await, b"build-0");
    assert_eq!(versions(&b.name, "prod/web.zip").await, before);
}

#[tokio::test]
async fn a_bucket_named_before_2018_rules_is_a_bucket() {
    // us-east-1 accepted capitals and `_` until 2018; such buckets are still in use.
    let name = format!("Legacy_{}", unique("b").replace('-', "_"));
    create_bucket(&name, true).await;
    put(
        &name,
        "staging/web.zip",
        b"legacy bytes",
        "application/zip",
        &[],
    )
    .await;
    let sandbox = Sandbox::new();
    let run = sandbox.run(
        BIN,
        &[
            "promote",
            &format!("s3://{name}/staging/web.zip"),
            "--to",
            &format!("s3://{name}/prod/web.zip"),
        ],
        None,
    );
    run.expect_code(0);
    assert_eq!(run.record()["resource"], format!("{name}/prod/web.zip"));
    assert_eq!(
        get(&name, "prod/web.zip", None).await.unwrap().0,
        b"legacy bytes"
    );
    // And its own record rolls it back.
    sandbox
        .run(BIN, &["rollback"], Some(&run.stdout))
        .expect_code(0);
    assert!(get(&name, "prod/web.zip", None).await.is_none());
}

/// A multipart object (parts of `part` bytes, the last one shorter) with a SHA-256 (composite)
/// checksum, headers, metadata and tags: what a large upload by an SDK or the CLI looks like.
async fn put_multipart(bucket: &str, key: &str, body: &[u8], part: usize) -> String {
    use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
    let client = test_harness::s3::client();
    let upload = client
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .content_type("application/zip")
        .content_encoding("gzip")
        .cache_control("max-age=60")
        .content_disposition("attachment; filename=\"site.zip\"")
        .metadata("build", "mp")
        .tagging("team=web&stage=rc%201")
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .send()
        .await
        .unwrap();
    let id = upload.upload_id().unwrap();
    let mut parts = Vec::new();
    for (index, chunk) in body.chunks(part).enumerate() {
        let number = i32::try_from(index + 1).unwrap();
        let out = client
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(id)
            .part_number(number)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .body(chunk.to_vec().into())
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(out.e_tag().map(str::to_string))
                .set_checksum_sha256(out.checksum_sha256().map(str::to_string))
                .build(),
        );
    }
    client
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_string()
}

/// The tags of a key's current version, sorted.
async fn tags(bucket: &str, key: &str) -> Vec<(String, String)> {
    let mut tags: Vec<(String, String)> = test_harness::s3::client()
        .get_object_tagging()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap()
        .tag_set()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    tags.sort();
    tags
}

#[tokio::test]
async fn a_multipart_source_is_copied_in_its_parts_with_headers_metadata_and_tags() {
    // A multipart object of any size takes the copy in parts: 5 MiB (S3's smallest part) and a
    // tail exercise it, where a single copy would hide what the parts path forgets.
    let bucket = unique("mp");
    create_bucket(&bucket, true).await;
    let body: Vec<u8> = (0..5 * 1024 * 1024 + 10).map(|i| (i % 251) as u8).collect();
    let source = put_multipart(&bucket, "staging/site.zip", &body, 5 * 1024 * 1024).await;
    let sandbox = Sandbox::new();
    let args = [
        "promote",
        &format!("s3://{bucket}/staging/site.zip"),
        "--to",
        &format!("s3://{bucket}/prod/site.zip"),
    ];
    let record = sandbox.run(BIN, &args, None).expect_code(0).record();
    assert_eq!(record["action"], "promoted", "{record}");
    assert_eq!(
        record["source"],
        format!("s3://{bucket}/staging/site.zip?versionId={source}")
    );

    let head = test_harness::s3::client()
        .head_object()
        .bucket(&bucket)
        .key("prod/site.zip")
        .send()
        .await
        .unwrap();
    assert_eq!(head.version_id(), record["artifact"]["version_id"].as_str());
    assert_eq!(head.content_type(), Some("application/zip"));
    assert_eq!(head.content_encoding(), Some("gzip"));
    assert_eq!(head.cache_control(), Some("max-age=60"));
    assert_eq!(
        head.content_disposition(),
        Some("attachment; filename=\"site.zip\"")
    );
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("build"))
            .map(String::as_str),
        Some("mp")
    );
    // In the source's own parts: the same multipart ETag.
    assert_eq!(head.e_tag().map(|e| e.ends_with("-2\"")), Some(true));
    assert_eq!(
        record["artifact"]["etag"],
        head.e_tag().unwrap().trim_matches('"')
    );
    assert_eq!(
        tags(&bucket, "prod/site.zip").await,
        vec![
            ("stage".to_string(), "rc 1".to_string()),
            ("team".to_string(), "web".to_string())
        ]
    );
    let (bytes, ..) = get(&bucket, "prod/site.zip", None).await.unwrap();
    assert!(bytes == body, "every byte copied once");

    // A second promote of the same bytes writes nothing.
    let again = sandbox.run(BIN, &args, None).expect_code(0).record();
    assert_eq!(again["action"], "unchanged", "{again}");
    assert_eq!(versions(&bucket, "prod/site.zip").await.len(), 1);
}

#[tokio::test]
async fn a_single_copy_keeps_tags_and_a_source_without_checksum_gets_sha256() {
    use aws_sdk_s3::config::RequestChecksumCalculation;
    let bucket = unique("tags");
    create_bucket(&bucket, true).await;
    // An object stored with no checksum (as before S3 added them by default).
    let bare = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&test_harness::emulator::sdk_config())
            .force_path_style(true)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .build(),
    );
    bare.put_object()
        .bucket(&bucket)
        .key("staging/app.js")
        .body(b"console.log(1)".to_vec().into())
        .content_type("text/javascript")
        .cache_control("no-cache")
        .tagging("team=web")
        .send()
        .await
        .unwrap();
    let sandbox = Sandbox::new();
    let args = [
        "promote",
        &format!("s3://{bucket}/staging/app.js"),
        "--to",
        &format!("s3://{bucket}/prod/app.js"),
    ];
    let record = sandbox.run(BIN, &args, None).expect_code(0).record();
    assert_eq!(record["action"], "promoted", "{record}");
    let checksum = record["artifact"]["checksum"].as_str().unwrap_or_default();
    assert!(checksum.starts_with("sha256:"), "SHA-256 asked: {record}");
    assert_eq!(
        tags(&bucket, "prod/app.js").await,
        vec![("team".to_string(), "web".to_string())]
    );
    let head = test_harness::s3::client()
        .head_object()
        .bucket(&bucket)
        .key("prod/app.js")
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(head.cache_control(), Some("no-cache"));
    assert_eq!(
        head.checksum_sha256()
            .map(|c| format!("sha256:{c}"))
            .as_deref(),
        Some(checksum)
    );
    // Source (an MD5 ETag, no checksum) and copy (the same MD5): unchanged.
    let again = sandbox.run(BIN, &args, None).expect_code(0).record();
    assert_eq!(again["action"], "unchanged", "{again}");
}

#[tokio::test]
async fn the_record_names_the_encryption_the_target_bucket_gave_the_copy() {
    use aws_sdk_s3::types::{
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule,
    };
    let staging = unique("enc-src");
    let prod = unique("enc-dst");
    create_bucket(&staging, true).await;
    create_bucket(&prod, true).await;
    let key_arn = "arn:aws:kms:us-east-1:123456789012:key/prod-artifacts";
    // The environment's configuration: prod's bucket encrypts with its own KMS key.
    test_harness::s3::client()
        .put_bucket_encryption()
        .bucket(&prod)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(ServerSideEncryption::AwsKms)
                                .kms_master_key_id(key_arn)
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    put(&staging, "web.zip", b"build-9", "application/zip", &[]).await;
    let body = vec![7u8; 5 * 1024 * 1024 + 1];
    put_multipart(&staging, "big.zip", &body, 5 * 1024 * 1024).await;
    let sandbox = Sandbox::new();
    for key in ["web.zip", "big.zip"] {
        let args = [
            "promote",
            &format!("s3://{staging}/{key}"),
            "--to",
            &format!("s3://{prod}/{key}"),
        ];
        let record = sandbox.run(BIN, &args, None).expect_code(0).record();
        assert_eq!(record["action"], "promoted", "{record}");
        assert_eq!(
            record["encryption"],
            serde_json::json!({"sse": "aws:kms", "kms_key_id": key_arn}),
            "{key}: {record}"
        );
        let again = sandbox.run(BIN, &args, None).expect_code(0).record();
        assert_eq!(again["action"], "unchanged", "{key}: {again}");
        assert_eq!(again["encryption"]["sse"], "aws:kms");
    }
}

#[tokio::test]
async fn history_orders_a_version_and_a_delete_marker_of_one_second_as_s3_does() {
    // LastModified has whole seconds: a put and a delete made in the same second tie on time,
    // and the one S3 made last (IsLatest) comes first. (moto lists every version before every
    // delete marker, so the interleaving of older entries of one second is tested with S3's own
    // answer in mocks.rs.)
    let bucket = unique("hist");
    create_bucket(&bucket, true).await;
    let sandbox = Sandbox::new();
    let history = |records: &[Value]| -> Vec<(String, bool)> {
        records
            .iter()
            .map(|r| {
                (
                    r["artifact"]["version_id"].as_str().unwrap().to_string(),
                    r["delete_marker"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    // A put and a delete in one second (a few tries, should a second end between them).
    let (key, v1, records) = {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let key = format!("web-{attempt}.zip");
            let v1 = put(&bucket, &key, b"one", "application/zip", &[]).await;
            test_harness::s3::client()
                .delete_object()
                .bucket(&bucket)
                .key(&key)
                .send()
                .await
                .unwrap();
            let records = sandbox
                .run(BIN, &["history", &format!("s3://{bucket}/{key}")], None)
                .expect_code(0)
                .records();
            if records[0]["last_modified"] == records[1]["last_modified"] || attempt == 5 {
                break (key, v1, records);
            }
        }
    };
    assert_eq!(records[0]["last_modified"], records[1]["last_modified"]);
    let listed = history(&records);
    assert!(
        listed[0].1,
        "the delete marker, made last, first: {listed:?}"
    );
    assert_eq!(listed[1], (v1.clone(), false));

    let v2 = put(&bucket, &key, b"two", "application/zip", &[]).await;
    let listed = history(
        &sandbox
            .run(BIN, &["history", &format!("s3://{bucket}/{key}")], None)
            .expect_code(0)
            .records(),
    );
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[0], (v2, false), "the version made last, first");
}

#[tokio::test]
async fn not_found_is_exit_4_naming_the_missing_bucket_or_key() {
    let b = Bucket::new().await;
    let gone = unique("gone");
    let sandbox = Sandbox::new();
    let missing_bucket = format!("s3://{gone}/web.zip");
    let missing_key = b.at("nothing/here");
    let cases: [(&[&str], &str); 9] = [
        (&["resolve", &missing_bucket], "bucket"),
        (&["status", &missing_bucket], "bucket"),
        (&["history", &missing_bucket], "bucket"),
        (
            &["promote", &missing_bucket, "--to", &b.at("prod/web.zip")],
            "bucket",
        ),
        (
            &[
                "promote",
                &b.at("staging/web.zip"),
                "--to",
                &format!("s3://{gone}/prod/web.zip"),
            ],
            "bucket",
        ),
        (&["resolve", &missing_key], "key"),
        (&["status", &missing_key], "key"),
        (&["history", &missing_key], "key"),
        (
            &["promote", &missing_key, "--to", &b.at("prod/web.zip")],
            "key",
        ),
    ];
    for (args, what) in cases {
        let run = sandbox.run(BIN, args, None);
        run.expect_code(4);
        let named = if what == "bucket" {
            format!("bucket {gone} does not exist")
        } else {
            format!("{missing_key} does not exist")
        };
        assert!(run.stderr.contains(&named), "{args:?}: {run}");
    }
    assert_eq!(b.prod().await, b"build-0", "nothing changed");
}
