//! The AWS calls a command makes, counted by the proxy with no faults: a promotion uses the
//! minimum the record needs, and no describe is repeated.

#![allow(clippy::unwrap_used, clippy::expect_used)] // reason: tests fail loudly

use test_harness::lambda::{create_function, publish, set_alias, update_code};
use test_harness::proxy::{FaultProxy, Faults};
use test_harness::sfn;
use test_harness::{binary, unique, Emulator, Sandbox};

#[tokio::test]
async fn a_lambda_promotion_makes_five_calls() {
    let f = unique("calls");
    create_function(&f, "one", &[]).await;
    let v1 = publish(&f).await;
    update_code(&f, "two").await;
    let v2 = publish(&f).await;
    set_alias(&f, "staging", &v2).await;
    set_alias(&f, "prod", &v1).await;
    let proxy = FaultProxy::start(&Emulator::shared().endpoint, Faults::default());
    let mut sandbox = Sandbox::new();
    sandbox.env("AWS_ENDPOINT_URL", &proxy.endpoint);
    sandbox
        .run(
            &binary("lambda-promote"),
            &["promote", &f, "--from", "staging", "--to", "prod"],
            None,
        )
        .expect_code(0);
    let counts = proxy.counts();
    let calls: u64 = counts.requests.values().sum();
    // GetAlias staging and prod; the code hash of the version promoted and of the one replaced
    // (for the record's `previous`); UpdateAlias.
    assert_eq!(calls, 5, "{:?}", counts.requests);
    assert_eq!(counts.writes.len(), 1);
    // One set of credentials for both environments: the account is asked for once.
    assert_eq!(counts.sts, 1);
}

#[tokio::test]
async fn an_sfn_promotion_makes_seven_calls_and_an_unchanged_one_four() {
    let name = unique("calls");
    let c = sfn::client();
    let arn = sfn::create(&c, &name, &sfn::definition("one"), "123456789012").await;
    sfn::publish(&c, &arn, &sfn::definition("two")).await;
    sfn::set_alias(&c, &arn, "staging", &[("2", 100)]).await;
    sfn::set_alias(&c, &arn, "prod", &[("1", 100)]).await;
    let proxy = FaultProxy::start(&Emulator::shared().endpoint, Faults::default());
    let mut sandbox = Sandbox::new();
    sandbox.env("AWS_ENDPOINT_URL", &proxy.endpoint);
    let promote = [
        "promote",
        name.as_str(),
        "--from",
        "staging",
        "--to",
        "prod",
    ];
    sandbox
        .run(&binary("sfn-promote"), &promote, None)
        .expect_code(0);
    let counts = proxy.counts();
    let calls: u64 = counts.requests.values().sum();
    // The alias staging and its version's definition; the alias prod and the version it would
    // move to; prod's current version (`previous`); prod again just before the write (no
    // compare-and-swap on an alias); UpdateStateMachineAlias.
    assert_eq!(calls, 7, "{:?}", counts.requests);
    assert_eq!(counts.writes.len(), 1);
    let again = FaultProxy::start(&Emulator::shared().endpoint, Faults::default());
    sandbox.env("AWS_ENDPOINT_URL", &again.endpoint);
    sandbox
        .run(&binary("sfn-promote"), &promote, None)
        .expect_code(0);
    let counts = again.counts();
    assert_eq!(
        counts.requests.values().sum::<u64>(),
        4,
        "{:?}",
        counts.requests
    );
    assert!(counts.writes.is_empty());
}

/// `--rate-limit` paces a batch: 8 promotions (40 Lambda calls) at 20 a second with a burst of
/// 15 cannot be sent faster than (40 - 15) / 20 = 1.25 s, and no half second holds more than the
/// burst plus half a second's rate. Without the limit the same batch takes a fraction of that.
#[tokio::test]
async fn a_rate_limit_paces_the_calls_of_a_batch() {
    let name = unique("pace");
    let mut functions = Vec::new();
    for i in 0..8 {
        let f = format!("{name}-{i}");
        create_function(&f, "one", &[]).await;
        let v1 = publish(&f).await;
        update_code(&f, "two").await;
        let v2 = publish(&f).await;
        set_alias(&f, "staging", &v2).await;
        set_alias(&f, "prod", &v1).await;
        functions.push(f);
    }
    let proxy = FaultProxy::start(&Emulator::shared().endpoint, Faults::default());
    let mut sandbox = Sandbox::new();
    sandbox.env("AWS_ENDPOINT_URL", &proxy.endpoint);
    let mut args = vec!["promote", "--from", "staging", "--to", "prod"];
    args.extend(functions.iter().map(String::as_str));
    args.extend(["--rate-limit", "lambda=20"]);
    let run = sandbox.run(&binary("lambda-promote"), &args, None);
    run.expect_code(0);
    assert_eq!(run.records().len(), 8);

    let counts = proxy.counts();
    let arrivals = &counts.arrivals["lambda"];
    assert_eq!(arrivals.len(), 40, "{:?}", counts.requests);
    let span = arrivals[arrivals.len() - 1] - arrivals[0];
    assert!(span.as_secs_f64() >= 1.2, "40 calls in {span:?}");
    for (i, start) in arrivals.iter().enumerate() {
        let within = arrivals[i..]
            .iter()
            .take_while(|t| t.duration_since(*start).as_secs_f64() < 0.5)
            .count();
        assert!(within <= 15 + 10 + 1, "{within} calls within 0.5 s");
    }
    for f in &functions {
        let (version, _) = test_harness::lambda::alias(f, "prod").await.unwrap();
        assert_eq!(version, "2", "{f}");
    }
}

/// One run of a tool through a counting proxy: its calls by operation ("ecs DescribeServices",
/// "apigateway GET restapis/ID/stages"), and the run.
fn counted(
    binary: &str,
    sandbox: &mut Sandbox,
    args: &[&str],
    stdin: Option<&str>,
) -> (
    std::collections::BTreeMap<String, u64>,
    test_harness::run::Run,
) {
    let proxy = FaultProxy::start(&Emulator::shared().endpoint, Faults::default());
    sandbox.env("AWS_ENDPOINT_URL", &proxy.endpoint);
    let run = sandbox.run(&test_harness::binary(binary), args, stdin);
    (proxy.counts().requests, run)
}

#[tokio::test]
async fn apigw_promote_by_name_makes_at_most_four_calls() {
    let name = unique("calls-api");
    let (id, _, two) = test_harness::apigateway::api_on_three_stages(&name).await;
    let mut sandbox = Sandbox::new();
    sandbox.write(
        "promote.toml",
        &format!("[envs]\norder = [\"dev\", \"staging\", \"prod\"]\n\n[apigateway]\nrest_api = \"{name}\"\n"),
    );
    let (calls, run) = counted(
        "apigw-stage",
        &mut sandbox,
        &["promote", "--to", "prod"],
        None,
    );
    assert_eq!(run.expect_code(0).record()["action"], "promoted");
    // GetRestApis (a name is never asked of GetRestApi), one GetStages for staging and prod (one
    // account and region), UpdateStage. No GetDeployment: staging runs it, so it exists.
    let total: u64 = calls.values().sum();
    assert!(total <= 4, "{calls:?}");
    assert_eq!(total, 3, "{calls:?}");
    assert_eq!(calls["apigateway GET restapis"], 1, "{calls:?}");
    assert!(
        !calls.contains_key(&format!("apigateway GET restapis/{id}")),
        "{calls:?}"
    );
    assert!(
        !calls.contains_key(&format!("apigateway GET restapis/{id}/deployments")),
        "{calls:?}"
    );
    assert_eq!(
        test_harness::apigateway::stage(&id, "prod")
            .await
            .unwrap()
            .0,
        two
    );

    // Already there: the same two reads, no write.
    let (calls, run) = counted(
        "apigw-stage",
        &mut sandbox,
        &["promote", "--to", "prod"],
        None,
    );
    assert_eq!(run.expect_code(0).record()["action"], "unchanged");
    assert_eq!(calls.values().sum::<u64>(), 2, "{calls:?}");
}

#[tokio::test]
async fn apigw_promote_by_id_makes_three_calls() {
    let (id, one, two) = test_harness::apigateway::api_on_three_stages(&unique("calls-api")).await;
    let mut sandbox = Sandbox::new();
    let args = ["promote", id.as_str(), "--from", "staging", "--to", "prod"];
    let (calls, run) = counted("apigw-stage", &mut sandbox, &args, None);
    let record = run.expect_code(0).record();
    assert_eq!(record["action"], "promoted");
    assert_eq!(record["previous"]["deployment_id"], one.as_str());
    // GetRestApi (the id proves the API exists), GetStages, UpdateStage.
    assert_eq!(calls.values().sum::<u64>(), 3, "{calls:?}");
    assert_eq!(
        calls[&format!("apigateway GET restapis/{id}")],
        1,
        "{calls:?}"
    );
    assert_eq!(
        calls[&format!("apigateway PATCH restapis/{id}/stages")],
        1,
        "{calls:?}"
    );
    assert_eq!(
        test_harness::apigateway::stage(&id, "prod")
            .await
            .unwrap()
            .0,
        two
    );
    let (calls, run) = counted("apigw-stage", &mut sandbox, &args, None);
    assert_eq!(run.expect_code(0).record()["action"], "unchanged");
    assert_eq!(calls.values().sum::<u64>(), 2, "{calls:?}");

    // From a record: no lookup (a record carries the id). Read the target first; the deployment
    // is checked (the record may be stale) only when the stage moves.
    let record = serde_json::json!({"service": "apigateway", "action": "resolved", "resource": id,
        "env": "staging", "pointer": "staging", "artifact": {"deployment_id": one}});
    let stdin = format!("{record}\n");
    let (calls, run) = counted(
        "apigw-stage",
        &mut sandbox,
        &["promote", "--to", "prod", "--force"],
        Some(&stdin),
    );
    assert_eq!(run.expect_code(0).record()["action"], "promoted");
    assert_eq!(
        calls.values().sum::<u64>(),
        3,
        "GetStage, GetDeployment, UpdateStage: {calls:?}"
    );
    assert!(
        !calls.contains_key(&format!("apigateway GET restapis/{id}")),
        "{calls:?}"
    );
    let (calls, run) = counted(
        "apigw-stage",
        &mut sandbox,
        &["promote", "--to", "prod", "--force"],
        Some(&stdin),
    );
    assert_eq!(run.expect_code(0).record()["action"], "unchanged");
    assert_eq!(calls.values().sum::<u64>(), 1, "GetStage only: {calls:?}");
    assert_eq!(
        test_harness::apigateway::stage(&id, "prod")
            .await
            .unwrap()
            .0,
        one
    );
}

#[tokio::test]
async fn apigw_status_of_three_records_of_one_api_reads_once_and_answers_each() {
    let (id, one, two) = test_harness::apigateway::api_on_three_stages(&unique("calls-api")).await;
    let record = |stage: &str| {
        format!(
            "{}\n",
            serde_json::json!({"service": "apigateway", "action": "resolved", "resource": id,
                "env": stage, "pointer": stage, "artifact": {"deployment_id": "old"}})
        )
    };
    let ecs = r#"{"service":"ecs","action":"resolved","resource":"c/web","pointer":"web"}"#;
    let stdin = format!(
        "{}{}{ecs}\n{}",
        record("prod"),
        record("dev"),
        record("staging")
    );
    let mut sandbox = Sandbox::new();
    let (calls, run) = counted("apigw-stage", &mut sandbox, &["status"], Some(&stdin));
    run.expect_code(0);
    // One GetStages for the three stages; no lookup of the API (records carry its id).
    assert_eq!(calls.values().sum::<u64>(), 1, "{calls:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{run}");
    assert_eq!(lines[2], ecs, "other services pass through in their place");
    let records = run.records();
    let out: Vec<(&str, &str)> = [&records[0], &records[1], &records[3]]
        .iter()
        .map(|r| {
            (
                r["pointer"].as_str().unwrap(),
                r["artifact"]["deployment_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        out,
        [
            ("prod", one.as_str()),
            ("dev", two.as_str()),
            ("staging", two.as_str())
        ],
        "one record per pointer, in input order"
    );

    // The same records twice over: still one record per pointer.
    let twice = format!("{stdin}{stdin}");
    let (calls, run) = counted("apigw-stage", &mut sandbox, &["status"], Some(&twice));
    run.expect_code(0);
    assert_eq!(calls.values().sum::<u64>(), 1, "{calls:?}");
    assert_eq!(
        run.records()
            .iter()
            .filter(|r| r["service"] == "apigateway")
            .count(),
        3
    );

    // --env names one stage for every record: one pointer, one GetStage, one record.
    let (calls, run) = counted(
        "apigw-stage",
        &mut sandbox,
        &["status", "--env", "prod"],
        Some(&stdin),
    );
    run.expect_code(0);
    assert_eq!(calls.values().sum::<u64>(), 1, "{calls:?}");
    let records = run.records();
    assert_eq!(records.len(), 2, "{run}");
    assert_eq!(records[0]["pointer"], "prod");
    assert_eq!(records[0]["artifact"]["deployment_id"], one.as_str());
}

#[tokio::test]
async fn apigw_cfg_diff_by_name_looks_the_api_up_once() {
    let name = unique("calls-api");
    let (id, _, _) = test_harness::apigateway::api_on_three_stages(&name).await;
    let mut sandbox = Sandbox::new();
    sandbox.write(
        "promote.toml",
        &format!("[envs]\norder = [\"dev\", \"staging\", \"prod\"]\n\n[apigateway]\nrest_api = \"{name}\"\n"),
    );
    let (calls, run) = counted(
        "cfg-diff",
        &mut sandbox,
        &["staging", "prod", "--source", "apigateway"],
        None,
    );
    run.expect_code(0);
    // Both sides go through one client (equal settings): one GetRestApis, one GetStages.
    assert_eq!(calls.values().sum::<u64>(), 2, "{calls:?}");
    assert_eq!(calls["apigateway GET restapis"], 1, "{calls:?}");
    assert_eq!(
        calls[&format!("apigateway GET restapis/{id}/stages")],
        1,
        "{calls:?}"
    );
    let host = run
        .records()
        .into_iter()
        .find(|r| r["key"] == "DB_HOST")
        .unwrap_or_else(|| panic!("a DB_HOST record\n{run}"));
    assert_eq!(host["status"], "parallel", "{host}");
}

/// A versioned bucket whose staging/{a,b,c}.zip hold new builds and prod/{a,b,c}.zip old ones,
/// and a sandbox whose promote.toml lists those three objects.
async fn s3_three_objects() -> (String, Sandbox) {
    let bucket = unique("calls3");
    test_harness::s3::create_bucket(&bucket, true).await;
    for name in ["a", "b", "c"] {
        let new = format!("new-{name}");
        let old = format!("old-{name}");
        test_harness::s3::put(
            &bucket,
            &format!("staging/{name}.zip"),
            new.as_bytes(),
            "application/zip",
            &[],
        )
        .await;
        test_harness::s3::put(
            &bucket,
            &format!("prod/{name}.zip"),
            old.as_bytes(),
            "application/zip",
            &[],
        )
        .await;
    }
    let sandbox = Sandbox::new();
    sandbox.write(
        "promote.toml",
        &format!(
            "[envs]\norder = [\"staging\", \"prod\"]\n\n[s3]\nobjects = [\"s3://{bucket}/{{env}}/a.zip\", \"s3://{bucket}/{{env}}/b.zip\", \"s3://{bucket}/{{env}}/c.zip\"]\n"
        ),
    );
    (bucket, sandbox)
}

/// S3 requests by method ("HEAD", "GET", "PUT"...), and the bucket-level GETs (versioning reads).
fn s3_calls(
    counts: &test_harness::proxy::Counts,
    bucket: &str,
) -> (std::collections::BTreeMap<String, u64>, u64) {
    let mut by_method = std::collections::BTreeMap::new();
    for (operation, n) in &counts.requests {
        if let Some(rest) = operation.strip_prefix("s3 ") {
            let method = rest.split(' ').next().unwrap_or_default().to_string();
            *by_method.entry(method).or_insert(0) += n;
        }
    }
    let versioning = counts
        .requests
        .get(&format!("s3 GET {bucket}"))
        .copied()
        .unwrap_or(0);
    (by_method, versioning)
}

/// Three objects promoted into one bucket read its versioning once, and each copy is checked by
/// CopyObject's own answer (an MD5 ETag equal to the source's): per object a head of the source
/// and of the target and the copy, plus one versioning read for the bucket. A dry run makes the
/// same reads, the versioning included (it reports a refusal), and no write.
#[tokio::test]
async fn s3_promote_of_three_objects_reads_the_bucket_versioning_once() {
    let (bucket, mut sandbox) = s3_three_objects().await;

    let proxy = FaultProxy::start(&Emulator::shared().endpoint, Faults::default());
    sandbox.env("AWS_ENDPOINT_URL", &proxy.endpoint);
    let planned = sandbox.run(
        &binary("s3-version"),
        &["promote", "--to", "prod", "--dry-run"],
        None,
    );
    planned.expect_code(0);
    assert_eq!(planned.records().len(), 3, "{planned}");
    let (by_method, versioning) = s3_calls(&proxy.counts(), &bucket);
    assert_eq!(versioning, 1, "{by_method:?}");
    assert_eq!(by_method.get("HEAD"), Some(&6), "{by_method:?}");
    assert_eq!(by_method.values().sum::<u64>(), 7, "{by_method:?}");
    drop(proxy);

    let proxy = FaultProxy::start(&Emulator::shared().endpoint, Faults::default());
    sandbox.env("AWS_ENDPOINT_URL", &proxy.endpoint);
    let run = sandbox.run(&binary("s3-version"), &["promote", "--to", "prod"], None);
    run.expect_code(0);
    let counts = proxy.counts();
    let (by_method, versioning) = s3_calls(&counts, &bucket);
    assert_eq!(
        versioning, 1,
        "one versioning read for one bucket: {by_method:?}"
    );
    assert_eq!(
        by_method.get("HEAD"),
        Some(&6),
        "no read-back after the copies: {by_method:?}"
    );
    assert_eq!(by_method.get("PUT"), Some(&3), "{by_method:?}");
    assert_eq!(by_method.values().sum::<u64>(), 10, "{:?}", counts.requests);
    assert_eq!(counts.writes.len(), 3);

    // What the records say is what the keys hold: the copy's version, the source's bytes.
    for record in run.records() {
        let key = record["pointer"].as_str().unwrap();
        let name = key.trim_start_matches("prod/").trim_end_matches(".zip");
        let (bytes, content_type, _, version) =
            test_harness::s3::get(&bucket, key, None).await.unwrap();
        assert_eq!(bytes, format!("new-{name}").into_bytes(), "{key}");
        assert_eq!(content_type.as_deref(), Some("application/zip"));
        assert_eq!(record["action"], "promoted");
        assert_eq!(
            record["artifact"]["version_id"],
            version.as_str(),
            "{record}"
        );
        assert_eq!(record["artifact"]["size"], 5, "{record}");
        let head = test_harness::s3::client()
            .head_object()
            .bucket(&bucket)
            .key(key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            record["artifact"]["etag"],
            head.e_tag().unwrap().trim_matches('"'),
            "{record}"
        );
    }
}

/// A key that already holds the bytes needs no write, so no versioning read: two heads.
#[tokio::test]
async fn s3_unchanged_promotion_reads_no_versioning() {
    let (bucket, mut sandbox) = s3_three_objects().await;
    sandbox
        .run(&binary("s3-version"), &["promote", "--to", "prod"], None)
        .expect_code(0);

    let proxy = FaultProxy::start(&Emulator::shared().endpoint, Faults::default());
    sandbox.env("AWS_ENDPOINT_URL", &proxy.endpoint);
    let source = format!("s3://{bucket}/staging/a.zip");
    let target = format!("s3://{bucket}/prod/a.zip");
    let again = sandbox.run(
        &binary("s3-version"),
        &["promote", &source, "--to", &target],
        None,
    );
    again.expect_code(0);
    assert_eq!(again.record()["action"], "unchanged", "{again}");
    let counts = proxy.counts();
    let (by_method, versioning) = s3_calls(&counts, &bucket);
    assert_eq!(versioning, 0, "{by_method:?}");
    assert_eq!(by_method.get("HEAD"), Some(&2), "{by_method:?}");
    assert_eq!(by_method.values().sum::<u64>(), 2, "{:?}", counts.requests);

    // Three unchanged objects: six heads, still no versioning read.
    let all = sandbox.run(&binary("s3-version"), &["promote", "--to", "prod"], None);
    all.expect_code(0);
    assert!(
        all.records().iter().all(|r| r["action"] == "unchanged"),
        "{all}"
    );
    let (by_method, versioning) = s3_calls(&proxy.counts(), &bucket);
    assert_eq!(versioning, 0, "{by_method:?}");
    assert_eq!(by_method.values().sum::<u64>(), 8, "{by_method:?}");
}

/// A rollback copies the old version back from what the record says (no head of it) and takes
/// the new version from CopyObject's answer (no read-back): two calls per key. A previous version
/// that was deleted since is refused (exit 4) by the copy itself, and nothing changes.
#[tokio::test]
async fn s3_rollback_copies_back_in_two_calls() {
    let (bucket, mut sandbox) = s3_three_objects().await;
    let promoted = sandbox.run(&binary("s3-version"), &["promote", "--to", "prod"], None);
    promoted.expect_code(0);

    let proxy = FaultProxy::start(&Emulator::shared().endpoint, Faults::default());
    sandbox.env("AWS_ENDPOINT_URL", &proxy.endpoint);
    let rolled = sandbox.run(&binary("s3-version"), &["rollback"], Some(&promoted.stdout));
    rolled.expect_code(0);
    let counts = proxy.counts();
    let (by_method, _) = s3_calls(&counts, &bucket);
    assert_eq!(by_method.get("HEAD"), Some(&3), "{by_method:?}");
    assert_eq!(by_method.get("PUT"), Some(&3), "{by_method:?}");
    assert_eq!(by_method.values().sum::<u64>(), 6, "{:?}", counts.requests);
    for record in rolled.records() {
        let key = record["pointer"].as_str().unwrap();
        let name = key.trim_start_matches("prod/").trim_end_matches(".zip");
        let (bytes, _, _, version) = test_harness::s3::get(&bucket, key, None).await.unwrap();
        assert_eq!(bytes, format!("old-{name}").into_bytes(), "{key}");
        assert_eq!(record["action"], "rolled_back");
        assert_eq!(
            record["artifact"]["version_id"],
            version.as_str(),
            "{record}"
        );
        assert_eq!(record["artifact"]["size"], 5, "{record}");
    }

    // Promote again, then delete the version a rollback would copy back.
    drop(proxy);
    sandbox.env("AWS_ENDPOINT_URL", &Emulator::shared().endpoint);
    let source = format!("s3://{bucket}/staging/a.zip");
    let target = format!("s3://{bucket}/prod/a.zip");
    let promoted = sandbox.run(
        &binary("s3-version"),
        &["promote", &source, "--to", &target],
        None,
    );
    promoted.expect_code(0);
    let previous = promoted.record()["previous"]["version_id"]
        .as_str()
        .unwrap()
        .to_string();
    test_harness::s3::client()
        .delete_object()
        .bucket(&bucket)
        .key("prod/a.zip")
        .version_id(&previous)
        .send()
        .await
        .unwrap();
    let held = test_harness::s3::get(&bucket, "prod/a.zip", None)
        .await
        .unwrap()
        .3;
    let refused = sandbox.run(&binary("s3-version"), &["rollback"], Some(&promoted.stdout));
    refused.expect_code(4);
    assert!(refused.stderr.contains("no longer exists"), "{refused}");
    assert_eq!(
        test_harness::s3::get(&bucket, "prod/a.zip", None)
            .await
            .unwrap()
            .3,
        held,
        "nothing changed"
    );
}

/// cfg-diff reads each side of a Lambda function with one GetFunctionConfiguration through the
/// alias: two calls per function, whatever the aliases hold.
#[tokio::test]
async fn cfg_diff_lambda_reads_each_side_in_one_call() {
    let name = unique("calldiff");
    let mut functions = Vec::new();
    for i in 0..3 {
        let f = format!("{name}-{i}");
        create_function(&f, "one", &[("LOG", "info")]).await;
        let v1 = publish(&f).await;
        update_code(&f, "two").await;
        let v2 = publish(&f).await;
        set_alias(&f, "staging", &v2).await;
        set_alias(&f, "prod", &v1).await;
        functions.push(format!("\"{f}\""));
    }
    let proxy = FaultProxy::start(&Emulator::shared().endpoint, Faults::default());
    let mut sandbox = Sandbox::new();
    sandbox.env("AWS_ENDPOINT_URL", &proxy.endpoint);
    sandbox.write(
        "promote.toml",
        &format!(
            "[envs]\norder = [\"staging\", \"prod\"]\n[lambda]\nfunctions = [{}]\n",
            functions.join(", ")
        ),
    );
    // Different code and the same configuration: no drift.
    let run = sandbox.run(&binary("cfg-diff"), &["staging", "prod"], None);
    run.expect_code(0);
    let counts = proxy.counts();
    let lambda: u64 = counts
        .requests
        .iter()
        .filter(|(operation, _)| operation.starts_with("lambda "))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(lambda, 6, "{:?}", counts.requests);
    let records = run.records();
    let artifacts: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r["source"] == "lambda" && r["key"] == "(artifact)")
        .collect();
    assert_eq!(artifacts.len(), 3, "{run}");
    for artifact in artifacts {
        assert_eq!(artifact["status"], "differs", "{artifact}");
        assert!(
            artifact["a"]
                .as_str()
                .unwrap()
                .starts_with("version 2 code_sha256 "),
            "{artifact}"
        );
        assert!(
            artifact["b"]
                .as_str()
                .unwrap()
                .starts_with("version 1 code_sha256 "),
            "{artifact}"
        );
    }
}

/// An ECS app for ecs-pin's counts: repositories web and worker, each with images v1 and v2; in
/// each environment's cluster `{name}-{env}`, service s1 runs web and worker, s2 and s3 run web,
/// all by `tag` and each from its own task definition family. Returns the name and the digests
/// (web v1, web v2, worker v1, worker v2).
async fn ecs_app(envs: &[(&str, &str)]) -> (String, [String; 4]) {
    use test_harness::ecs::{create_repository, create_service, push_image, Container, REGISTRY};
    let name = unique("callecs");
    let (web, worker) = (format!("{name}/web"), format!("{name}/worker"));
    create_repository(&web, false).await;
    create_repository(&worker, false).await;
    let digests = [
        push_image(&web, &format!("{name}-web-1"), "v1").await,
        push_image(&web, &format!("{name}-web-2"), "v2").await,
        push_image(&worker, &format!("{name}-worker-1"), "v1").await,
        push_image(&worker, &format!("{name}-worker-2"), "v2").await,
    ];
    for (env, tag) in envs {
        for service in ["s1", "s2", "s3"] {
            let mut containers = vec![Container {
                name: "web",
                image: format!("{REGISTRY}/{web}:{tag}"),
                environment: vec![("STAGE", env)],
                secrets: vec![],
            }];
            if service == "s1" {
                containers.push(Container {
                    name: "worker",
                    image: format!("{REGISTRY}/{worker}:{tag}"),
                    environment: vec![("STAGE", env)],
                    secrets: vec![],
                });
            }
            create_service(
                &format!("{name}-{env}"),
                service,
                &format!("{name}-{env}-{service}"),
                &containers,
            )
            .await;
        }
    }
    (name, digests)
}

fn ecs_toml(name: &str, envs: &[(&str, &str)]) -> String {
    let order: Vec<String> = envs.iter().map(|(env, _)| format!("\"{env}\"")).collect();
    format!(
        "[envs]\norder = [{}]\n[ecs]\ncluster = \"{name}-{{env}}\"\nservices = [\"s1\", \"s2\", \"s3\"]\n",
        order.join(", ")
    )
}

fn ecs_calls(requests: &std::collections::BTreeMap<String, u64>, operation: &str) -> u64 {
    requests.get(operation).copied().unwrap_or(0)
}

/// `--resolve-digest` over 9 services (3 clusters) that name 4 tags of 2 repositories: one
/// DescribeServices per cluster, one DescribeTaskDefinition per definition, one BatchGetImage per
/// repository, one ListTasks per service (it was 3 + 9 + 12 = 24 and more: one DescribeServices per
/// service, and BatchGetImage per service and repository).
#[tokio::test]
async fn ecs_resolve_digest_reads_each_cluster_and_repository_once() {
    let envs = [("dev", "v2"), ("staging", "v1"), ("prod", "v1")];
    let (name, [web1, web2, worker1, worker2]) = ecs_app(&envs).await;
    let mut sandbox = Sandbox::new();
    sandbox.write("promote.toml", &ecs_toml(&name, &envs));
    let (requests, run) = counted("ecs-pin", &mut sandbox, &["--resolve-digest"], None);
    run.expect_code(0);
    assert_eq!(
        ecs_calls(&requests, "ecs DescribeServices"),
        3,
        "{requests:?}"
    );
    assert_eq!(
        ecs_calls(&requests, "ecs DescribeTaskDefinition"),
        9,
        "{requests:?}"
    );
    assert_eq!(ecs_calls(&requests, "ecr BatchGetImage"), 2, "{requests:?}");
    // What each service runs is what its tasks report: one ListTasks per service naming a tag
    // (the emulator starts no task, so no DescribeTasks follows).
    assert_eq!(ecs_calls(&requests, "ecs ListTasks"), 9, "{requests:?}");
    assert_eq!(requests.values().sum::<u64>(), 23, "{requests:?}");

    // Each record still names what its own service runs.
    let records = run.records();
    assert_eq!(records.len(), 9, "{run}");
    for record in &records {
        let env = record["env"].as_str().unwrap();
        let (web, worker) = if env == "dev" {
            (&web2, &worker2)
        } else {
            (&web1, &worker1)
        };
        let images = record["artifact"]["images"].as_array().unwrap();
        let service = record["pointer"].as_str().unwrap();
        assert_eq!(
            images.len(),
            if service == "s1" { 2 } else { 1 },
            "{record}"
        );
        assert_eq!(images[0]["container"], "web", "{record}");
        assert_eq!(&images[0]["digest"], web.as_str(), "{record}");
        if service == "s1" {
            assert_eq!(&images[1]["digest"], worker.as_str(), "{record}");
        }
        assert_eq!(
            record["resource"],
            format!("{name}-{env}/{service}"),
            "{record}"
        );
    }
}

/// A missing service among several read in one DescribeServices is refused on its own (exit 4,
/// the same message as when it is read alone); the others are resolved.
#[tokio::test]
async fn ecs_a_missing_service_in_a_batched_read_fails_alone() {
    let envs = [("dev", "v2")];
    let (name, [_, web2, _, _]) = ecs_app(&envs).await;
    let cluster = format!("{name}-dev");
    let mut sandbox = Sandbox::new();
    let (requests, run) = counted(
        "ecs-pin",
        &mut sandbox,
        &[
            "--resolve-digest",
            "--cluster",
            &cluster,
            "--service",
            "s2",
            "--service",
            "nope",
            "--service",
            "s3",
        ],
        None,
    );
    run.expect_code(4);
    assert!(
        run.stderr
            .contains(&format!("service {cluster}/nope does not exist")),
        "{run}"
    );
    // The missing one is an `error` record in its place, for the tools after this one.
    let (errors, records): (Vec<_>, Vec<_>) = run
        .records()
        .into_iter()
        .partition(|r| r["action"] == "error");
    assert_eq!(errors.len(), 1, "{run}");
    assert_eq!(errors[0]["resource"], format!("{cluster}/nope"));
    let resources: Vec<&str> = records
        .iter()
        .map(|r| r["resource"].as_str().unwrap())
        .collect();
    assert_eq!(
        resources,
        [format!("{cluster}/s2"), format!("{cluster}/s3")],
        "{run}"
    );
    assert!(records
        .iter()
        .all(|r| r["artifact"]["images"][0]["digest"] == web2.as_str()));
    assert_eq!(
        ecs_calls(&requests, "ecs DescribeServices"),
        1,
        "{requests:?}"
    );
    assert_eq!(ecs_calls(&requests, "ecr BatchGetImage"), 1, "{requests:?}");
}

/// `promote --to prod` of 3 services, both environments on tags: one DescribeServices per
/// cluster (source and target), each definition once, one BatchGetImage per repository for the
/// source's and the target's tags together, then the writes. It was 22 (6 DescribeServices, and
/// BatchGetImage per service and repository).
#[tokio::test]
async fn ecs_promote_of_three_services_reads_each_cluster_and_repository_once() {
    let envs = [("staging", "v2"), ("prod", "v1")];
    let (name, [_, web2, _, worker2]) = ecs_app(&envs).await;
    let mut sandbox = Sandbox::new();
    sandbox.write("promote.toml", &ecs_toml(&name, &envs));
    let (requests, run) = counted("ecs-pin", &mut sandbox, &["promote", "--to", "prod"], None);
    run.expect_code(0);
    assert_eq!(
        ecs_calls(&requests, "ecs DescribeServices"),
        2,
        "{requests:?}"
    );
    assert_eq!(
        ecs_calls(&requests, "ecs DescribeTaskDefinition"),
        6,
        "{requests:?}"
    );
    assert_eq!(ecs_calls(&requests, "ecr BatchGetImage"), 2, "{requests:?}");
    assert_eq!(
        ecs_calls(&requests, "ecs RegisterTaskDefinition"),
        3,
        "{requests:?}"
    );
    assert_eq!(ecs_calls(&requests, "ecs UpdateService"), 3, "{requests:?}");
    // The source's tasks, per service (none runs in the emulator); the digests to deploy were
    // read by tag in this run, so checking them in ECR costs nothing more.
    assert_eq!(ecs_calls(&requests, "ecs ListTasks"), 3, "{requests:?}");
    assert_eq!(requests.values().sum::<u64>(), 19, "{requests:?}");

    let records = run.records();
    assert_eq!(records.len(), 3, "{run}");
    assert!(records.iter().all(|r| r["action"] == "promoted"), "{run}");
    for service in ["s1", "s2", "s3"] {
        let running =
            test_harness::ecs::service_task_definition(&format!("{name}-prod"), service).await;
        let (definition, _) = test_harness::ecs::task_definition(&running).await;
        for container in definition.container_definitions() {
            let digest = if container.name() == Some("web") {
                &web2
            } else {
                &worker2
            };
            assert!(
                container.image().unwrap().ends_with(digest.as_str()),
                "{service}: {container:?}"
            );
            assert_eq!(
                container.environment()[0].value(),
                Some("prod"),
                "prod's own configuration"
            );
        }
    }
}

/// `tag IMAGE TAG` reads the image and what the tag names now in one BatchGetImage; undoing it
/// reads the tag and the image to move it back to in one too.
#[tokio::test]
async fn ecs_tag_and_its_rollback_make_two_calls_each() {
    use test_harness::ecs::{create_repository, push_image, tag_digest};
    let repo = unique("calltag");
    create_repository(&repo, false).await;
    let v1 = push_image(&repo, &format!("{repo}-1"), "v1").await;
    let v2 = push_image(&repo, &format!("{repo}-2"), "v2").await;
    let mut sandbox = Sandbox::new();
    let (_, run) = counted(
        "ecs-pin",
        &mut sandbox,
        &["tag", &format!("{repo}:v1"), "prod"],
        None,
    );
    run.expect_code(0);

    let (requests, run) = counted(
        "ecs-pin",
        &mut sandbox,
        &["tag", &format!("{repo}:v2"), "prod"],
        None,
    );
    run.expect_code(0);
    assert_eq!(ecs_calls(&requests, "ecr BatchGetImage"), 1, "{requests:?}");
    assert_eq!(ecs_calls(&requests, "ecr PutImage"), 1, "{requests:?}");
    assert_eq!(requests.values().sum::<u64>(), 2, "{requests:?}");
    let record = run.record();
    assert_eq!(record["action"], "promoted", "{run}");
    assert_eq!(record["artifact"]["digest"], v2.as_str());
    assert_eq!(record["previous"]["digest"], v1.as_str());
    assert_eq!(
        tag_digest(&repo, "prod").await.as_deref(),
        Some(v2.as_str())
    );

    // Again: the tag names the image already, one read and nothing else.
    let (requests, again) = counted(
        "ecs-pin",
        &mut sandbox,
        &["tag", &format!("{repo}:v2"), "prod"],
        None,
    );
    again.expect_code(0);
    assert_eq!(again.record()["action"], "unchanged", "{again}");
    assert_eq!(requests.values().sum::<u64>(), 1, "{requests:?}");

    let (requests, undone) = counted("ecs-pin", &mut sandbox, &["rollback"], Some(&run.stdout));
    undone.expect_code(0);
    assert_eq!(undone.record()["action"], "rolled_back", "{undone}");
    assert_eq!(ecs_calls(&requests, "ecr BatchGetImage"), 1, "{requests:?}");
    assert_eq!(ecs_calls(&requests, "ecr PutImage"), 1, "{requests:?}");
    assert_eq!(requests.values().sum::<u64>(), 2, "{requests:?}");
    assert_eq!(
        tag_digest(&repo, "prod").await.as_deref(),
        Some(v1.as_str())
    );
}
