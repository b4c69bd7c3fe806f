//! The views for people and the array form, with the real tools against the emulator: an
//! 80-column `--output table` holds every id the emulator gave (S3 version ids, Lambda code
//! hashes) whole, shows the dates and the failures as rows; `--output json` is one array holding
//! exactly the NDJSON records, even when the run fails, and the next tool reads it on stdin.

#![allow(clippy::unwrap_used, clippy::expect_used)] // reason: tests fail loudly

use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use test_harness::apigateway::{api_on_three_stages, deploy, set_stage};
use test_harness::lambda::{alias, code_sha256, create_function, publish, set_alias, update_code};
use test_harness::s3::{create_bucket, put, versions};
use test_harness::{binary, schema, unique, Run, Sandbox};

/// stdout as one JSON array, each element checked against the record schema.
#[track_caller]
fn array(run: &Run) -> Vec<Value> {
    match serde_json::from_str::<Value>(&run.stdout) {
        Ok(Value::Array(items)) => {
            items.iter().for_each(schema::check);
            items
        }
        other => panic!("stdout is not one JSON array ({other:?})\n{run}"),
    }
}

/// A function with versions 1 and 2 (different code), staging at 2 and prod at 1.
async fn function() -> String {
    let f = unique("fntable");
    create_function(&f, "v1", &[("STAGE", "test")]).await;
    assert_eq!(publish(&f).await, "1");
    update_code(&f, "v2").await;
    assert_eq!(publish(&f).await, "2");
    set_alias(&f, "staging", "2").await;
    set_alias(&f, "prod", "1").await;
    f
}

#[tokio::test]
async fn an_80_column_table_holds_every_version_id_and_code_hash_whole() {
    let bucket = unique("tables");
    create_bucket(&bucket, true).await;
    for build in ["build-1", "build-2", "build-3"] {
        put(
            &bucket,
            "prod/site.zip",
            build.as_bytes(),
            "application/zip",
            &[],
        )
        .await;
    }
    let ids = versions(&bucket, "prod/site.zip").await;
    assert_eq!(ids.len(), 3);
    let mut sandbox = Sandbox::new();
    sandbox.env("COLUMNS", "80");
    let location = format!("s3://{bucket}/prod/site.zip");
    let s3 = binary("s3-version");

    let table = sandbox.run(&s3, &["history", &location, "--output", "table"], None);
    table.expect_code(0);
    for id in &ids {
        assert!(
            table.stdout.contains(id.as_str()),
            "version id {id} whole\n{table}"
        );
    }
    assert!(!table.stdout.contains('…'), "nothing cut\n{table}");
    // The date history used to drop, as the records say it.
    let records = sandbox
        .run(&s3, &["history", &location], None)
        .expect_code(0)
        .records();
    for record in &records {
        let date = record["last_modified"].as_str().unwrap();
        assert!(table.stdout.contains(date), "{date}\n{table}");
    }

    // Lambda code hashes (44 characters) were cut at 16.
    let f = function().await;
    let lambda = binary("lambda-promote");
    let table = sandbox.run(&lambda, &["status", &f, "--output", "table"], None);
    table.expect_code(0);
    for version in ["1", "2"] {
        let hash = code_sha256(&f, version).await;
        assert!(table.stdout.contains(&hash), "{hash} whole\n{table}");
    }
    for line in table.stdout.lines() {
        assert!(
            line.chars().count() <= 80,
            "fits 80 columns: {line:?}\n{table}"
        );
    }

    // lambda-promote history: each version's hash whole, its date, and the aliases holding it.
    let history = sandbox.run(&lambda, &["history", &f, "--output", "table"], None);
    history.expect_code(0);
    let records = sandbox
        .run(&lambda, &["history", &f], None)
        .expect_code(0)
        .records();
    assert_eq!(records.len(), 2, "{history}");
    for record in &records {
        let hash = record["artifact"]["code_sha256"].as_str().unwrap();
        assert!(history.stdout.contains(hash), "{hash} whole\n{history}");
        let created = record["created"].as_str().unwrap();
        assert!(history.stdout.contains(created), "{created}\n{history}");
    }
    assert!(
        history.stdout.contains("envs: staging") && history.stdout.contains("envs: prod"),
        "who holds each version\n{history}"
    );
    assert!(
        history.stdout.lines().all(|l| l.chars().count() <= 80),
        "{history}"
    );

    // A failure is in the table, with its message, not only a line on stderr: a row where the
    // row fits, a block of its own at 80 columns.
    let failed = sandbox.run(
        &lambda,
        &["status", &f, "--env", "qa", "--output", "table"],
        None,
    );
    failed.expect_code(4);
    let shown = |run: &Run| {
        assert!(
            run.stdout
                .lines()
                .any(|l| l.split_whitespace().any(|w| w == "error")),
            "{run}"
        );
        assert!(run.stdout.contains(&f), "{run}");
        assert!(run.stdout.contains("has no alias qa"), "{run}");
    };
    shown(&failed);
    let mut wider = Sandbox::new();
    wider.env("COLUMNS", "200");
    let failed = wider.run(
        &lambda,
        &["status", &f, "--env", "qa", "--output", "table"],
        None,
    );
    failed.expect_code(4);
    shown(&failed);
    let row = failed
        .stdout
        .lines()
        .find(|l| l.contains("has no alias qa"))
        .unwrap();
    assert!(
        row.contains(" error ") && row.contains(&f),
        "one row: {row}\n{failed}"
    );

    // `--output wide`: every field, one line per record, whatever COLUMNS says.
    let wide = sandbox.run(&s3, &["history", &location, "--output", "wide"], None);
    wide.expect_code(0);
    let lines: Vec<&str> = wide.stdout.lines().collect();
    assert_eq!(lines.len(), 1 + ids.len(), "{wide}");
    for heading in ["ACCOUNT", "REGION", "IS_LATEST", "LAST_MODIFIED"] {
        assert!(lines[0].contains(heading), "{heading}\n{wide}");
    }
    assert!(
        lines.iter().any(|l| l.chars().count() > 80),
        "unwrapped\n{wide}"
    );
}

#[tokio::test]
async fn json_is_one_array_of_the_ndjson_records_and_the_next_tool_reads_it() {
    let f = function().await;
    let sandbox = Sandbox::new();
    sandbox.write(
        "promote.toml",
        &format!("[envs]\norder = [\"staging\", \"prod\"]\n\n[lambda]\nfunctions = [\"{f}\"]\n"),
    );
    let lambda = binary("lambda-promote");

    let ndjson = sandbox.run(&lambda, &["status"], None);
    ndjson.expect_code(0);
    let explicit = sandbox.run(&lambda, &["status", "--output", "ndjson"], None);
    assert_eq!(explicit.stdout, ndjson.stdout, "ndjson is the default");
    let json = sandbox.run(&lambda, &["status", "--output", "json"], None);
    json.expect_code(0);
    let items = array(&json);
    assert_eq!(items.len(), 2, "{json}");
    assert_eq!(items, ndjson.records());

    // A run that fails still leaves one array, its error record in it.
    let failed = Sandbox::new().run(
        &lambda,
        &["status", &f, "--env", "qa", "--output", "json"],
        None,
    );
    failed.expect_code(4);
    let items = array(&failed);
    assert_eq!(items.len(), 1, "{failed}");
    assert_eq!(items[0]["action"], "error");
    // And one that fails before it begins (a promote.toml that does not parse): an empty array.
    let broken = sandbox.write("broken.toml", "[envs\n");
    let early = sandbox.run(
        &lambda,
        &[
            "status",
            "--config",
            broken.to_str().unwrap(),
            "--output",
            "json",
        ],
        None,
    );
    early.expect_code(2);
    assert!(array(&early).is_empty(), "{early}");

    // `--output json | next tool`: the array is a manifest like any other. Through a tool that
    // passes lambda records on (ecs-pin), as one array again, then into the promotion.
    let staging = sandbox.run(
        &lambda,
        &["status", "--env", "staging", "--output", "json"],
        None,
    );
    staging.expect_code(0);
    let passed = sandbox.run(
        &binary("ecs-pin"),
        &["rollback", "--output", "json"],
        Some(&staging.stdout),
    );
    passed.expect_code(0);
    assert_eq!(array(&passed), array(&staging), "passed on whole\n{passed}");
    let promoted = sandbox.run(
        &lambda,
        &["promote", "--to", "prod", "--output", "json"],
        Some(&passed.stdout),
    );
    promoted.expect_code(0);
    let items = array(&promoted);
    assert_eq!(items.len(), 1, "{promoted}");
    assert_eq!(items[0]["action"], "promoted");
    assert_eq!(items[0]["previous"]["version"], "1");
    // Read back: prod's alias is where staging's is.
    assert_eq!(alias(&f, "prod").await.unwrap().0, "2");
}

/// apigw-stage history at 80 columns: every deployment id the emulator made, its description and
/// its date, which the table used to drop.
#[tokio::test]
async fn an_80_column_history_shows_descriptions_and_dates() {
    let name = unique("tablesapi");
    let (api, one, two) = api_on_three_stages(&name).await;
    let three = deploy(&api, "release 2026-12-02 (git 4f100ba), the long way round").await;
    set_stage(&api, "staging", &three).await;
    let mut sandbox = Sandbox::new();
    sandbox.write(
        "promote.toml",
        &format!("[envs]\norder = [\"dev\", \"staging\", \"prod\"]\n\n[apigateway]\nrest_api = \"{name}\"\n"),
    );
    let records = sandbox
        .run(&binary("apigw-stage"), &["history", "--env", "prod"], None)
        .expect_code(0)
        .records();
    assert_eq!(records.len(), 3);
    sandbox.env("COLUMNS", "80");
    let table = sandbox.run(
        &binary("apigw-stage"),
        &["history", "--env", "prod", "--output", "table"],
        None,
    );
    table.expect_code(0);
    for id in [&one, &two, &three] {
        assert!(
            table.stdout.contains(id.as_str()),
            "deployment {id}\n{table}"
        );
    }
    for record in &records {
        let created = record["created"].as_str().expect("a date");
        assert!(table.stdout.contains(created), "{created}\n{table}");
    }
    // A description wraps between words; each word is there, in order.
    let words: Vec<&str> = table.stdout.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| *w == "release")
        .expect("the description");
    assert_eq!(words[at + 1], "2026-12-02", "{table}");
    assert!(table.stdout.contains("one") && table.stdout.contains("two"));
    for line in table.stdout.lines() {
        assert!(line.chars().count() <= 80, "{line:?}\n{table}");
    }
}

/// An interrupted promotion with `--output json` (SIGINT once: the changes in flight finish; and
/// twice: the process ends at once) still leaves one JSON array on stdout, holding exactly the
/// changes made, read back in the emulator.
#[tokio::test]
async fn an_interrupted_run_still_prints_one_array_of_the_changes_made() {
    let mut names = Vec::new();
    for _ in 0..30 {
        let f = unique("tablesint");
        create_function(&f, &f, &[]).await;
        let v = publish(&f).await;
        set_alias(&f, "staging", &v).await;
        names.push(f);
    }
    let sandbox = Sandbox::new();
    for (to, signals) in [("prod", 1), ("live", 2)] {
        let mut args = vec![
            "promote",
            "--from",
            "staging",
            "--to",
            to,
            "--concurrency",
            "1",
            "--output",
            "json",
        ];
        args.extend(names.iter().map(String::as_str));
        let mut child = sandbox.spawn(&binary("lambda-promote"), &args);
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        // `[` and the first record come in one write.
        let mut printed = String::new();
        stdout.read_line(&mut printed).unwrap();
        assert_eq!(printed, "[\n");
        for _ in 0..signals {
            Sandbox::interrupt(&child);
        }
        stdout.read_to_string(&mut printed).unwrap();
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(130), "{stderr}");
        let records = match serde_json::from_str::<Value>(&printed) {
            Ok(Value::Array(items)) => items,
            other => panic!("{signals} signal(s): not one array ({other:?})\n{printed}\n{stderr}"),
        };
        assert!(
            !records.is_empty() && records.len() < names.len(),
            "stopped part way: {} of {}\n{stderr}",
            records.len(),
            names.len()
        );
        // Every change in the array was made. With one signal every change made is in the
        // array; a second one may end the process between a change and its record (what
        // `--journal` is for), so then only the array's own changes are checked.
        for record in &records {
            let f = record["resource"].as_str().unwrap();
            assert!(
                alias(f, to).await.is_some(),
                "{f} is in the array, not moved"
            );
        }
        if signals == 1 {
            let mut moved = 0;
            for f in &names {
                if alias(f, to).await.is_some() {
                    moved += 1;
                }
            }
            assert_eq!(moved, records.len(), "{printed}\n{stderr}");
        }
    }
}
