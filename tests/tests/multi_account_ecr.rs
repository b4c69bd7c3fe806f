//! ECR across accounts and regions (issue 15): `ecs-pin promote` into an environment whose own
//! registry is another account's and region's copies the image there with the same digest (the
//! manifest byte for byte, each blob the target lacks) and pins the service to it; with
//! promote.toml's `[ecr] registry` (one registry every account pulls from) it pins the source's
//! image without a copy. Staging is account 111111111111 in us-east-1, prod 222222222222 in
//! eu-west-1, each reached through its own assume-role profile; each account is seeded and read
//! back with its own credentials.
//!
//! Stood in for: moto does not implement GetDownloadUrlForLayer and keeps no blob bytes of its
//! own, so the test proxy (`test_harness::proxy`) answers GetDownloadUrlForLayer for the blobs
//! this test registers with a loopback URL it serves itself (what S3's pre-signed layer URL is
//! in AWS), and records the bytes of every UploadLayerPart, so the test checks each uploaded
//! blob's SHA-256. Everything else (BatchGetImage, BatchCheckLayerAvailability, the layer upload
//! calls, PutImage, ECS) is the emulator's: its BatchCheckLayerAvailability reports a blob only
//! once an upload of it was completed (checked below before relying on it).

#![allow(clippy::unwrap_used, clippy::expect_used)] // reason: tests fail loudly

use aws_sdk_ecr::types::ImageIdentifier;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use test_harness::accounts::{
    env_sections, sdk_config, write_profiles, PROD_ACCOUNT, PROD_REGION, STAGING_ACCOUNT,
    STAGING_REGION,
};
use test_harness::ecs::{
    create_service_with, ecr_in, ecs_in, manifest_of, put_manifest, service_task_definition_with,
    task_definition_with, Container,
};
use test_harness::proxy::{FaultProxy, Faults};
use test_harness::{binary, unique, Emulator, Sandbox};

const MANIFEST_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";

fn host(account: &str, region: &str) -> String {
    format!("{account}.dkr.ecr.{region}.amazonaws.com")
}

/// Bytes that look like a layer: not all alike, so a part out of place changes the digest.
fn blob(marker: &str, size: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(size);
    let mut block = Sha256::digest(marker.as_bytes()).to_vec();
    while bytes.len() < size {
        bytes.extend_from_slice(&block);
        block = Sha256::digest(&block).to_vec();
    }
    bytes.truncate(size);
    bytes
}

fn sha(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// The image `digest` of a repository, as its account's ECR answers: manifest and media type.
async fn image(client: &aws_sdk_ecr::Client, repo: &str, digest: &str) -> Option<(String, String)> {
    let out = client
        .batch_get_image()
        .repository_name(repo)
        .image_ids(ImageIdentifier::builder().image_digest(digest).build())
        .accepted_media_types(MANIFEST_TYPE)
        .send()
        .await
        .expect("batch get image");
    out.images().first().map(|i| {
        (
            i.image_manifest().unwrap_or_default().to_string(),
            i.image_manifest_media_type()
                .unwrap_or_default()
                .to_string(),
        )
    })
}

/// The blobs of `digests` a repository reports available.
async fn available(client: &aws_sdk_ecr::Client, repo: &str, digests: &[&str]) -> BTreeSet<String> {
    let out = client
        .batch_check_layer_availability()
        .repository_name(repo)
        .set_layer_digests(Some(digests.iter().map(|d| (*d).to_string()).collect()))
        .send()
        .await
        .expect("check layers");
    out.layers()
        .iter()
        .filter(|l| {
            l.layer_availability()
                .is_some_and(|a| a.as_str() == "AVAILABLE")
        })
        .filter_map(|l| l.layer_digest().map(str::to_string))
        .collect()
}

fn requests(proxy: &FaultProxy, operation: &str) -> u64 {
    proxy
        .counts()
        .requests
        .iter()
        .filter(|(k, _)| k.ends_with(&format!(" {operation}")))
        .map(|(_, n)| n)
        .sum()
}

/// Staging and prod, each with a service in its own account, and a sandbox whose promote.toml
/// names them with their profiles (and `extra` sections), talking through `proxy`.
struct Layout {
    name: String,
    repo: String,
    staging_ecr: aws_sdk_ecr::Client,
    prod_ecr: aws_sdk_ecr::Client,
    prod_ecs: aws_sdk_ecs::Client,
    staging_ecs: aws_sdk_ecs::Client,
    sandbox: Sandbox,
}

impl Layout {
    async fn new(proxy: &FaultProxy, prefix: &str) -> Layout {
        let name = unique(prefix);
        let staging = sdk_config(STAGING_ACCOUNT, STAGING_REGION).await;
        let prod = sdk_config(PROD_ACCOUNT, PROD_REGION).await;
        let mut sandbox = Sandbox::new();
        write_profiles(&sandbox);
        sandbox.env("AWS_ENDPOINT_URL", &proxy.endpoint);
        Layout {
            repo: format!("{name}/web"),
            staging_ecr: ecr_in(&staging),
            prod_ecr: ecr_in(&prod),
            staging_ecs: ecs_in(&staging),
            prod_ecs: ecs_in(&prod),
            name,
            sandbox,
        }
    }

    fn write_config(&self, extra: &str) {
        self.sandbox.write(
            "promote.toml",
            &format!(
                "{}[ecs]\ncluster = \"{}-{{env}}\"\nservices = [\"web\"]\n\n{extra}",
                env_sections(),
                self.name
            ),
        );
    }

    fn cluster(&self, env: &str) -> String {
        format!("{}-{env}", self.name)
    }

    async fn service(&self, ecs: &aws_sdk_ecs::Client, env: &str, image: String) -> String {
        create_service_with(
            ecs,
            &self.cluster(env),
            "web",
            &format!("{}-web-{env}", self.name),
            &[Container {
                name: "web",
                image,
                environment: vec![(
                    "DB_HOST",
                    if env == "prod" {
                        "db.prod"
                    } else {
                        "db.staging"
                    },
                )],
                secrets: vec![(
                    "API_KEY",
                    "arn:aws:ssm:eu-west-1:222222222222:parameter/api-key",
                )],
            }],
        )
        .await
    }

    fn ecs_pin(&self, args: &[&str], stdin: Option<&str>) -> test_harness::Run {
        self.sandbox.run(&binary("ecs-pin"), args, stdin)
    }
}

async fn create_repository(client: &aws_sdk_ecr::Client, repo: &str) {
    client
        .create_repository()
        .repository_name(repo)
        .send()
        .await
        .expect("create a repository");
}

#[tokio::test]
async fn promote_copies_the_image_into_the_target_accounts_registry_with_its_digest() {
    let proxy = FaultProxy::start(&Emulator::shared().endpoint, Faults::default());
    let l = Layout::new(&proxy, "xecr").await;
    l.write_config("");

    // Staging's image: a config and two layers, one of them over a part (10 MiB) long so it
    // goes up in two parts. The blobs live behind the proxy's stand-in download URL.
    let config = blob(&format!("{}-config", l.name), 600);
    let big = blob(&format!("{}-big", l.name), 11 * 1024 * 1024 + 17);
    let small = blob(&format!("{}-small", l.name), 3000);
    let (c, b, s) = (
        proxy.serve_blob(config.clone()),
        proxy.serve_blob(big.clone()),
        proxy.serve_blob(small.clone()),
    );
    let manifest = manifest_of((&c, config.len()), &[(&b, big.len()), (&s, small.len())]);
    create_repository(&l.staging_ecr, &l.repo).await;
    let digest = put_manifest(&l.staging_ecr, &l.repo, &manifest, "v2").await;
    let staging_host = host(STAGING_ACCOUNT, STAGING_REGION);
    l.service(
        &l.staging_ecs,
        "staging",
        format!("{staging_host}/{}@{digest}", l.repo),
    )
    .await;

    // Prod runs an older image from its own registry (eu-west-1 of its own account).
    let prod_host = host(PROD_ACCOUNT, PROD_REGION);
    create_repository(&l.prod_ecr, &l.repo).await;
    let old_manifest = manifest_of((&sha(b"old"), 3), &[]);
    let old = put_manifest(&l.prod_ecr, &l.repo, &old_manifest, "v1").await;
    let old_arn = l
        .service(&l.prod_ecs, "prod", format!("{prod_host}/{}@{old}", l.repo))
        .await;
    let (old_definition, old_tags) = task_definition_with(&l.prod_ecs, &old_arn).await;

    // What the emulator's layer check does before it is relied on: nothing until an upload of
    // the blob is completed in that repository.
    assert!(available(&l.prod_ecr, &l.repo, &[&c, &b, &s])
        .await
        .is_empty());

    // A dry run says it would copy, and copies and registers nothing.
    let run = l.ecs_pin(&["promote", "--to", "prod", "--dry-run"], None);
    run.expect_code(0);
    let planned = run.record();
    assert_eq!(planned["action"], "planned", "{run}");
    assert_eq!(
        planned["copied_from"][0]["digest"],
        digest.as_str(),
        "{run}"
    );
    assert_eq!(planned["copied_from"][0]["already_present"], false, "{run}");
    assert!(run.stderr.contains("would copy"), "{run}");
    for op in [
        "GetDownloadUrlForLayer",
        "InitiateLayerUpload",
        "UploadLayerPart",
        "CompleteLayerUpload",
        "PutImage",
        "RegisterTaskDefinition",
        "UpdateService",
    ] {
        assert_eq!(requests(&proxy, op), 0, "a dry run sends no {op}\n{run}");
    }
    assert!(image(&l.prod_ecr, &l.repo, &digest).await.is_none());

    // The promotion.
    let run = l.ecs_pin(&["promote", "--to", "prod"], None);
    run.expect_code(0);
    let promoted = run.record();
    assert_eq!(promoted["action"], "promoted", "{run}");
    assert_eq!(promoted["account"], PROD_ACCOUNT, "{run}");
    let pinned = format!("{prod_host}/{}@{digest}", l.repo);
    assert_eq!(
        promoted["artifact"]["images"][0]["image"],
        pinned.as_str(),
        "{run}"
    );
    let from = &promoted["copied_from"][0];
    assert_eq!(from["account"], STAGING_ACCOUNT, "{run}");
    assert_eq!(from["region"], STAGING_REGION, "{run}");
    assert_eq!(from["repository"], l.repo.as_str(), "{run}");
    assert_eq!(
        from["image"],
        format!("{staging_host}/{}@{digest}", l.repo).as_str()
    );
    assert_eq!(from["blobs_copied"], 3, "{run}");
    assert_eq!(from["blobs_skipped"], 0, "{run}");
    assert_eq!(
        from["bytes_copied"],
        (config.len() + big.len() + small.len()) as u64,
        "{run}"
    );

    // Prod's account, read back: the manifest by digest is staging's, byte for byte...
    let (copied, media_type) = image(&l.prod_ecr, &l.repo, &digest).await.expect("copied");
    assert_eq!(copied, manifest);
    assert_eq!(media_type, MANIFEST_TYPE);
    // ...every blob reached it whole (the proxy kept each upload's bytes)...
    let uploaded: BTreeSet<String> = proxy.counts().uploads.values().map(|b| sha(b)).collect();
    assert_eq!(uploaded, BTreeSet::from([c.clone(), b.clone(), s.clone()]));
    assert!(
        requests(&proxy, "UploadLayerPart") >= 4,
        "the big layer in two parts"
    );
    assert_eq!(
        available(&l.prod_ecr, &l.repo, &[&c, &b, &s]).await.len(),
        3
    );
    // ...and the service runs prod's registry at that digest, with prod's own configuration.
    let now = service_task_definition_with(&l.prod_ecs, &l.cluster("prod"), "web").await;
    let (definition, tags) = task_definition_with(&l.prod_ecs, &now).await;
    let container = &definition.container_definitions()[0];
    assert_eq!(container.image(), Some(pinned.as_str()));
    let old_container = &old_definition.container_definitions()[0];
    assert_eq!(container.environment(), old_container.environment());
    assert_eq!(container.secrets(), old_container.secrets());
    assert_eq!(definition.cpu(), old_definition.cpu());
    assert_eq!(definition.memory(), old_definition.memory());
    assert_eq!(
        definition.execution_role_arn(),
        old_definition.execution_role_arn()
    );
    assert_eq!(tags, old_tags);
    // Staging is as it was.
    assert_eq!(
        image(&l.staging_ecr, &l.repo, &digest).await.unwrap().0,
        manifest
    );

    // Rollback is exact: the service back on its old definition; the copied image stays.
    let run = l.ecs_pin(&["rollback"], Some(&run.stdout));
    run.expect_code(0);
    assert_eq!(run.record()["action"], "rolled_back", "{run}");
    let back = service_task_definition_with(&l.prod_ecs, &l.cluster("prod"), "web").await;
    assert!(
        back == old_arn || old_arn.ends_with(&back),
        "{back} is not {old_arn}"
    );
    assert!(image(&l.prod_ecr, &l.repo, &digest).await.is_some());

    // Promoting again copies nothing: the image is there.
    let uploads = requests(&proxy, "InitiateLayerUpload");
    let run = l.ecs_pin(&["promote", "--to", "prod"], None);
    run.expect_code(0);
    let again = run.record();
    assert_eq!(again["copied_from"][0]["already_present"], true, "{run}");
    assert_eq!(again["copied_from"][0]["blobs_copied"], 0, "{run}");
    assert_eq!(requests(&proxy, "InitiateLayerUpload"), uploads, "{run}");

    // A new staging image sharing both layers: only its config goes across.
    let config2 = blob(&format!("{}-config2", l.name), 640);
    let c2 = proxy.serve_blob(config2.clone());
    let manifest2 = manifest_of((&c2, config2.len()), &[(&b, big.len()), (&s, small.len())]);
    let digest2 = put_manifest(&l.staging_ecr, &l.repo, &manifest2, "v3").await;
    // Promoted from a release record naming it (staging's service still runs v2).
    let record = serde_json::json!({
        "service": "ecs", "action": "resolved", "resource": format!("{}/web", l.cluster("staging")),
        "region": STAGING_REGION, "account": STAGING_ACCOUNT, "env": "staging", "pointer": "web",
        "artifact": {"task_definition": null, "images": [{"container": "web",
            "image": format!("{staging_host}/{}@{digest2}", l.repo), "digest": digest2}]},
        "previous": null
    });
    let before: u64 = proxy.counts().uploads.len() as u64;
    let run = l.ecs_pin(&["promote", "--to", "prod"], Some(&format!("{record}\n")));
    run.expect_code(0);
    let third = run.record();
    assert_eq!(third["copied_from"][0]["blobs_copied"], 1, "{run}");
    assert_eq!(third["copied_from"][0]["blobs_skipped"], 2, "{run}");
    assert_eq!(proxy.counts().uploads.len() as u64, before + 1, "{run}");
    assert_eq!(
        image(&l.prod_ecr, &l.repo, &digest2).await.unwrap().0,
        manifest2
    );
}

#[tokio::test]
async fn a_missing_target_repository_is_refused_naming_it() {
    let proxy = FaultProxy::start(&Emulator::shared().endpoint, Faults::default());
    let l = Layout::new(&proxy, "xecr-norepo").await;
    l.write_config("");
    let config = blob(&l.name, 100);
    let c = proxy.serve_blob(config.clone());
    create_repository(&l.staging_ecr, &l.repo).await;
    let digest = put_manifest(
        &l.staging_ecr,
        &l.repo,
        &manifest_of((&c, config.len()), &[]),
        "v1",
    )
    .await;
    l.service(
        &l.staging_ecs,
        "staging",
        format!(
            "{}/{}@{digest}",
            host(STAGING_ACCOUNT, STAGING_REGION),
            l.repo
        ),
    )
    .await;
    // Prod runs an image of another repository; the promoted one's does not exist there.
    let other = format!("{}/other", l.name);
    create_repository(&l.prod_ecr, &other).await;
    let old = put_manifest(
        &l.prod_ecr,
        &other,
        &manifest_of((&sha(b"o"), 1), &[]),
        "v1",
    )
    .await;
    let old_arn = l
        .service(
            &l.prod_ecs,
            "prod",
            format!("{}/{other}@{old}", host(PROD_ACCOUNT, PROD_REGION)),
        )
        .await;

    let run = l.ecs_pin(&["promote", "--to", "prod"], None);
    assert_eq!(run.code, 4, "{run}");
    assert!(
        run.stderr.contains(&l.repo) && run.stderr.contains("does not exist"),
        "{run}"
    );
    assert_eq!(requests(&proxy, "InitiateLayerUpload"), 0, "{run}");
    assert_eq!(requests(&proxy, "RegisterTaskDefinition"), 0, "{run}");
    let now = service_task_definition_with(&l.prod_ecs, &l.cluster("prod"), "web").await;
    assert!(now == old_arn || old_arn.ends_with(&now), "{now}");
}

#[tokio::test]
async fn a_shared_registry_is_pinned_without_a_copy() {
    let proxy = FaultProxy::start(&Emulator::shared().endpoint, Faults::default());
    let l = Layout::new(&proxy, "xecr-shared").await;
    let shared = host(STAGING_ACCOUNT, STAGING_REGION);
    l.write_config(&format!("[ecr]\nregistry = \"{shared}\"\n"));
    create_repository(&l.staging_ecr, &l.repo).await;
    let old = put_manifest(
        &l.staging_ecr,
        &l.repo,
        &manifest_of((&sha(b"v1"), 2), &[]),
        "v1",
    )
    .await;
    let new = put_manifest(
        &l.staging_ecr,
        &l.repo,
        &manifest_of((&sha(b"v2"), 2), &[]),
        "v2",
    )
    .await;
    l.service(
        &l.staging_ecs,
        "staging",
        format!("{shared}/{}@{new}", l.repo),
    )
    .await;
    l.service(&l.prod_ecs, "prod", format!("{shared}/{}@{old}", l.repo))
        .await;

    let run = l.ecs_pin(&["promote", "--to", "prod"], None);
    run.expect_code(0);
    let record = run.record();
    assert_eq!(record["action"], "promoted", "{run}");
    assert!(record.get("copied_from").is_none(), "{run}");
    let pinned = format!("{shared}/{}@{new}", l.repo);
    assert_eq!(record["artifact"]["images"][0]["image"], pinned.as_str());
    let now = service_task_definition_with(&l.prod_ecs, &l.cluster("prod"), "web").await;
    let (definition, _) = task_definition_with(&l.prod_ecs, &now).await;
    assert_eq!(
        definition.container_definitions()[0].image(),
        Some(pinned.as_str())
    );
    for op in [
        "PutImage",
        "InitiateLayerUpload",
        "BatchCheckLayerAvailability",
    ] {
        assert_eq!(requests(&proxy, op), 0, "no copy: no {op}\n{run}");
    }
}

/// The memory figure for docs/benchmarks.md: the whole `ecs-pin promote` process (under
/// `/usr/bin/time -v`) copying an image with a 50 MiB layer. Run with
/// `cargo nextest run -p test-harness --test multi_account_ecr --run-ignored only --no-capture`.
#[tokio::test]
#[ignore = "a measurement: run it on its own"]
async fn memory_stays_bounded_copying_a_50_mib_layer() {
    let proxy = FaultProxy::start(&Emulator::shared().endpoint, Faults::default());
    let l = Layout::new(&proxy, "xecr-rss").await;
    l.write_config("");
    let config = blob(&format!("{}-c", l.name), 500);
    // PROMOTE_RSS_LAYER_MIB for another size (1: the process's own baseline).
    let mib: usize = std::env::var("PROMOTE_RSS_LAYER_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let layer = blob(&format!("{}-l", l.name), mib * 1024 * 1024);
    let (c, b) = (
        proxy.serve_blob(config.clone()),
        proxy.serve_blob(layer.clone()),
    );
    create_repository(&l.staging_ecr, &l.repo).await;
    let digest = put_manifest(
        &l.staging_ecr,
        &l.repo,
        &manifest_of((&c, config.len()), &[(&b, layer.len())]),
        "v1",
    )
    .await;
    l.service(
        &l.staging_ecs,
        "staging",
        format!(
            "{}/{}@{digest}",
            host(STAGING_ACCOUNT, STAGING_REGION),
            l.repo
        ),
    )
    .await;
    create_repository(&l.prod_ecr, &l.repo).await;
    let old = put_manifest(
        &l.prod_ecr,
        &l.repo,
        &manifest_of((&sha(b"o"), 1), &[]),
        "v0",
    )
    .await;
    l.service(
        &l.prod_ecs,
        "prod",
        format!("{}/{}@{old}", host(PROD_ACCOUNT, PROD_REGION), l.repo),
    )
    .await;

    let (run, rss_kb, elapsed) = l
        .sandbox
        .run_measured(&binary("ecs-pin"), &["promote", "--to", "prod"]);
    let record: Value = serde_json::from_str(run.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(
        record["copied_from"][0]["bytes_copied"],
        (config.len() + layer.len()) as u64
    );
    let uploaded: BTreeSet<String> = proxy.counts().uploads.values().map(|b| sha(b)).collect();
    assert!(uploaded.contains(&b));
    eprintln!(
        "ecs-pin promote copying a {mib} MiB layer: max RSS {} MiB, {:.1} s",
        rss_kb / 1024,
        elapsed.as_secs_f64()
    );
    assert!(rss_kb < 100 * 1024, "RSS {rss_kb} kB");
}
