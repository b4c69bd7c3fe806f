//! Reliability promises, each a test that fails when the promise is broken: bad input changes
//! nothing (every tool, the whole corpus), --atomic takes a failed run back, an interrupted run
//! writes every change it made and can be rolled back from that, secrets never appear at the
//! highest verbosity, and missing credentials or an unreachable endpoint fail fast with exit 3.

#![allow(clippy::unwrap_used, clippy::expect_used)] // reason: tests fail loudly

use std::io::{BufRead, BufReader, Read};
use std::time::{Duration, Instant};
use test_harness::ecs::{create_repository, create_service, push_image, Container, REGISTRY};
use test_harness::lambda::{alias, create_function, publish, set_alias};
use test_harness::{binary, unique, workspace_root, Sandbox};

/// Every command that reads records, per tool.
fn readers() -> Vec<(String, Vec<&'static str>)> {
    vec![
        (binary("lambda-promote"), vec!["promote", "--to", "prod"]),
        (binary("lambda-promote"), vec!["rollback"]),
        (
            binary("ecs-pin"),
            vec!["promote", "--to", "prod", "--cluster", "c-{env}"],
        ),
        (binary("ecs-pin"), vec!["rollback"]),
        (binary("apigw-stage"), vec!["promote", "--to", "prod"]),
        (binary("apigw-stage"), vec!["rollback"]),
        (binary("s3-version"), vec!["promote", "--to", "prod"]),
        (binary("s3-version"), vec!["rollback"]),
        (binary("sfn-promote"), vec!["promote", "--to", "prod"]),
        (binary("sfn-promote"), vec!["rollback"]),
        (binary("cfg-diff"), vec!["staging", "prod"]),
    ]
}

/// A sandbox whose every AWS call would fail (exit 3): an exit 2 proves no call was made.
fn no_aws() -> Sandbox {
    let mut sandbox = Sandbox::offline();
    sandbox.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    sandbox
}

#[test]
fn the_bad_input_corpus_is_refused_by_every_tool_before_any_call() {
    let corpus = workspace_root().join("tests/corpus");
    let cases: Vec<(&str, &str)> = vec![
        ("truncated.ndjson", "stdin:2: truncated JSON"),
        ("wrong-type.ndjson", "stdin:2: wrong type in record"),
        (
            "unknown-service.ndjson",
            "stdin:3: unknown service \"dynamodb\"",
        ),
        ("missing-action.ndjson", "stdin:2: record has no \"action\""),
        (
            "not-an-object.ndjson",
            "stdin:2: a record must be a JSON object",
        ),
        ("invalid-utf8.ndjson", "stdin:2: not UTF-8 text"),
        ("unknown-action.ndjson", "stdin:1: unknown action \"moved\""),
        ("wrong-env-type.ndjson", "stdin:1: wrong type in record"),
    ];
    let huge = format!("{{\"service\":\"s3\",\"action\":\"resolved\",\"resource\":\"b/k\",\"pad\":\"{}\"}}\n{{\"service\":", "x".repeat(4 << 20));
    let sandbox = no_aws();
    let mut checked = 0;
    for (tool, args) in readers() {
        for (file, message) in &cases {
            let bytes = std::fs::read(corpus.join(file)).unwrap();
            // The harness sends text; invalid UTF-8 goes through a file and a shell redirect.
            let path = sandbox.write(&format!("input-{file}"), "");
            std::fs::write(&path, &bytes).unwrap();
            let line = format!("'{tool}' {} < '{}'", args.join(" "), path.display());
            let run = sandbox.run("bash", &["-c", &line], None);
            assert_eq!(run.code, 2, "{tool} {args:?} < {file}\n{run}");
            assert!(
                run.stderr.contains(message),
                "{tool} {args:?} < {file}: expected {message:?}\n{run}"
            );
            assert!(
                run.stdout.is_empty(),
                "{tool} {args:?} < {file}: nothing may be written\n{run}"
            );
            checked += 1;
        }
        let run = sandbox.run(&tool, &args, Some(&huge));
        assert_eq!(
            run.code, 2,
            "{tool} {args:?} < a 4 MiB line then a truncated record\n{run}"
        );
        assert!(run.stderr.contains("stdin:2: truncated JSON"), "{run}");
        // An empty stream: no records is never "everything". A promotion refuses it, a
        // rollback says there is nothing to roll back, cfg-diff has nothing to compare.
        let run = sandbox.run(&tool, &args, Some(""));
        match args[0] {
            "promote" => {
                assert_eq!(run.code, 2, "{tool} {args:?} < empty\n{run}");
                assert!(run.stderr.contains("no records on stdin"), "{run}");
            }
            "rollback" => {
                assert_eq!(run.code, 0, "{tool} {args:?} < empty\n{run}");
                assert!(run.stderr.contains("nothing to roll back"), "{run}");
            }
            _ => assert_eq!(run.code, 2, "{tool} {args:?} < empty\n{run}"),
        }
        assert!(run.stdout.is_empty(), "{run}");
    }
    assert_eq!(checked, readers().len() * 8);
}

#[test]
fn a_bad_promote_toml_is_refused_by_every_tool_naming_file_line_and_key() {
    let corpus = workspace_root().join("tests/corpus");
    let cases = [
        ("unknown-key.toml", "promote.toml:6: unknown field `alais`"),
        (
            "bad-pattern.toml",
            "promote.toml:5: in `cluster`: unknown placeholder `{stage}`",
        ),
        (
            "duplicate-env.toml",
            "promote.toml:2: in `order`: environment \"staging\" is listed twice",
        ),
        ("not-s3.toml", "promote.toml:4: in `objects`"),
        ("not-toml.toml", "promote.toml:1:"),
    ];
    let sandbox = no_aws();
    for (file, message) in cases {
        sandbox.write(
            "promote.toml",
            &std::fs::read_to_string(corpus.join(file)).unwrap(),
        );
        for tool in [
            "lambda-promote",
            "ecs-pin",
            "apigw-stage",
            "s3-version",
            "sfn-promote",
        ] {
            let run = sandbox.run(&binary(tool), &["status", "--env", "prod"], None);
            assert_eq!(run.code, 2, "{tool} with {file}\n{run}");
            assert!(
                run.stderr.contains(message),
                "{tool} with {file}: expected {message:?}\n{run}"
            );
        }
        let run = sandbox.run(&binary("cfg-diff"), &["staging", "prod"], None);
        assert_eq!(run.code, 2, "cfg-diff with {file}\n{run}");
    }
}

#[test]
fn no_credentials_and_an_unreachable_endpoint_fail_fast_with_exit_3() {
    let commands: Vec<(String, Vec<&str>)> = vec![
        (
            binary("lambda-promote"),
            vec!["status", "f", "--env", "prod"],
        ),
        (
            binary("ecs-pin"),
            vec!["status", "--cluster", "c", "--service", "s"],
        ),
        (
            binary("apigw-stage"),
            vec!["status", "api", "--env", "prod"],
        ),
        (binary("s3-version"), vec!["resolve", "s3://bucket/key"]),
        (
            binary("sfn-promote"),
            vec![
                "status",
                "arn:aws:states:us-east-1:123456789012:stateMachine:flow",
                "--env",
                "prod",
            ],
        ),
        (
            binary("cfg-diff"),
            vec!["staging", "prod", "--ssm-path", "/a/{env}/"],
        ),
    ];
    for (tool, args) in &commands {
        // What is timed is the tool's own path to the error, not loading a 60 MB debug binary
        // from a cold disk cache: one untimed run first.
        no_aws().run(tool, &["--version"], None).expect_code(0);
        let mut sandbox = no_aws();
        sandbox
            .env("AWS_ACCESS_KEY_ID", "")
            .env("AWS_SECRET_ACCESS_KEY", "");
        let started = Instant::now();
        let run = sandbox.run(tool, args, None);
        assert_eq!(run.code, 3, "{tool}\n{run}");
        assert!(
            run.stderr.contains("no AWS credentials found"),
            "{tool}\n{run}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{tool} took {:?}",
            started.elapsed()
        );

        let started = Instant::now();
        let run = no_aws().run(tool, args, None);
        assert_eq!(run.code, 3, "{tool}\n{run}");
        assert!(run.stderr.contains("could not reach AWS"), "{tool}\n{run}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{tool} took {:?}",
            started.elapsed()
        );

        let mut wrong_region = no_aws();
        wrong_region
            .env("AWS_ENDPOINT_URL", "")
            .env("AWS_REGION", "xx-nowhere-9");
        let run = wrong_region.run(tool, args, None);
        assert_eq!(run.code, 3, "{tool} in region xx-nowhere-9\n{run}");
    }
}

async fn functions(n: usize) -> Vec<String> {
    let mut names = Vec::new();
    for _ in 0..n {
        let f = unique("rl");
        create_function(&f, &f, &[]).await;
        let v = publish(&f).await;
        set_alias(&f, "staging", &v).await;
        names.push(f);
    }
    names
}

#[tokio::test]
async fn atomic_takes_back_a_run_that_failed() {
    // A function that does not exist is found by the checks, before any write: --atomic then
    // makes no write at all. (A write that fails after others were made is taken back with the
    // tool's own rollback: lambda-promote/tests/mocks.rs, and engine::tests with a mock service.)
    let good = functions(2).await;
    let broken = unique("rl-missing"); // no such function: its promotion fails
    let sandbox = Sandbox::new();
    let args = [
        "promote", &good[0], &good[1], &broken, "--from", "staging", "--to", "prod", "--atomic",
    ];
    let run = sandbox.run(&binary("lambda-promote"), &args, None);
    assert_eq!(run.code, 4, "the exit code says the run failed\n{run}");
    let records = run.records();
    let actions: Vec<&str> = records
        .iter()
        .map(|r| r["action"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        actions,
        ["error"],
        "no change, so nothing to take back\n{run}"
    );
    assert_eq!(records[0]["resource"], broken.as_str());
    assert!(
        run.stderr.contains("--atomic: 1 of 3 items failed"),
        "{run}"
    );
    for f in &good {
        assert_eq!(alias(f, "prod").await, None, "{f}: no alias was created");
    }
    // Without --atomic the good ones go ahead.
    let run = sandbox.run(&binary("lambda-promote"), &args[..args.len() - 1], None);
    assert_eq!(run.code, 4);
    for f in &good {
        assert!(alias(f, "prod").await.is_some());
    }
}

#[tokio::test]
async fn an_interrupted_batch_writes_every_change_and_rolls_back_from_them() {
    let names = functions(40).await;
    let sandbox = Sandbox::new();
    let mut args = vec![
        "promote",
        "--from",
        "staging",
        "--to",
        "prod",
        "--concurrency",
        "1",
    ];
    args.extend(names.iter().map(String::as_str));
    let mut child = sandbox.spawn(&binary("lambda-promote"), &args);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    Sandbox::interrupt(&child);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let printed = format!("{first}{rest}");
    let records: Vec<serde_json::Value> = printed
        .lines()
        .map(|l| serde_json::from_str(l).expect("whole lines only"))
        .collect();
    assert!(
        !records.is_empty() && records.len() < names.len(),
        "stopped part way: {} of {}",
        records.len(),
        names.len()
    );
    // Exactly the printed ones moved.
    let mut moved = 0;
    for f in &names {
        if alias(f, "prod").await.is_some() {
            moved += 1;
            assert!(
                records.iter().any(|r| r["resource"] == f.as_str()),
                "{f} moved but was not printed"
            );
        }
    }
    assert_eq!(moved, records.len());
    // And the printed records take it all back.
    sandbox
        .run(&binary("lambda-promote"), &["rollback"], Some(&printed))
        .expect_code(0);
    for f in &names {
        assert_eq!(alias(f, "prod").await, None);
    }
}

/// `-v` says where each environment is (account, region, where the credentials come from) and
/// one line per AWS call that changes something; `-vv` every call, each with its time. Neither
/// prints a variable's value.
#[tokio::test]
async fn verbose_levels_say_the_environment_the_writes_and_then_every_call() {
    const SECRET: &str = "sekret-v-5a4b3c";
    let f = unique("verb");
    create_function(&f, &f, &[("DB_PASSWORD", SECRET)]).await;
    let v = publish(&f).await;
    set_alias(&f, "staging", &v).await;
    let sandbox = Sandbox::new();
    let lambda = binary("lambda-promote");
    let promote = ["promote", f.as_str(), "--from", "staging", "--to", "prod"];

    let quiet = sandbox.run(&lambda, &promote, None);
    quiet.expect_code(0);
    assert!(!quiet.stderr.contains("aws Lambda."), "{quiet}");
    // prod's alias gone again, so that the -v run has one write to make.
    test_harness::lambda::client()
        .delete_alias()
        .function_name(&f)
        .name("prod")
        .send()
        .await
        .unwrap();

    let one = sandbox.run(&lambda, &[&promote[..], &["-v"]].concat(), None);
    one.expect_code(0);
    assert!(
        one.stderr
            .contains("account 123456789012, region us-east-1, credentials from"),
        "{one}"
    );
    let writes: Vec<&str> = one
        .stderr
        .lines()
        .filter(|l| l.contains("aws Lambda."))
        .collect();
    assert_eq!(writes.len(), 1, "one write: the alias made\n{one}");
    assert!(
        writes[0].contains("Lambda.CreateAlias") && writes[0].contains(" ms"),
        "{one}"
    );
    assert!(!one.stderr.contains("GetAlias"), "reads only at -vv\n{one}");

    let two = sandbox.run(&lambda, &["status", f.as_str(), "-vv"], None);
    two.expect_code(0);
    assert!(two.stderr.contains("aws Lambda.ListAliases"), "{two}");
    assert!(two.stderr.contains("aws STS.GetCallerIdentity"), "{two}");
    assert!(
        two.stderr
            .lines()
            .filter(|l| l.contains("aws "))
            .all(|l| l.contains(" ms")),
        "{two}"
    );
    for run in [&one, &two] {
        assert!(
            !run.stderr.contains(SECRET) && !run.stdout.contains(SECRET),
            "{run}"
        );
    }
}

#[tokio::test]
async fn no_secret_is_printed_at_the_highest_verbosity() {
    const SECRET: &str = "sekret-9f8e7d6c";
    let f = unique("sec");
    create_function(&f, &f, &[("DB_PASSWORD", SECRET)]).await;
    let v = publish(&f).await;
    set_alias(&f, "staging", &v).await;
    let prefix = unique("sec");
    let repo = format!("{prefix}/app");
    create_repository(&repo, false).await;
    push_image(&repo, &prefix, "v1").await;
    for env in ["staging", "prod"] {
        create_service(
            &format!("{prefix}-{env}"),
            "web",
            &format!("{prefix}-{env}"),
            &[Container {
                name: "web",
                image: format!("{REGISTRY}/{repo}:v1"),
                environment: vec![("TOKEN", SECRET)],
                secrets: vec![],
            }],
        )
        .await;
    }
    let sandbox = Sandbox::new();
    let cluster = format!("{prefix}-{{env}}");
    let runs = [
        sandbox.run(
            &binary("lambda-promote"),
            &["promote", &f, "--from", "staging", "--to", "prod", "-vvv"],
            None,
        ),
        sandbox.run(&binary("lambda-promote"), &["status", &f, "-vvv"], None),
        sandbox.run(
            &binary("ecs-pin"),
            &[
                "status",
                "--cluster",
                &format!("{prefix}-staging"),
                "--service",
                "web",
                "-vvv",
            ],
            None,
        ),
        sandbox.run(
            &binary("ecs-pin"),
            &[
                "promote",
                "--cluster",
                &cluster,
                "--service",
                "web",
                "--from",
                "staging",
                "--to",
                "prod",
                "-vvv",
            ],
            None,
        ),
    ];
    for run in runs {
        assert!(run.code == 0, "{run}");
        assert!(
            !run.stdout.contains(SECRET) && !run.stderr.contains(SECRET),
            "a secret was printed\n{run}"
        );
        assert!(run.stderr.lines().count() > 20, "-vvv did log");
    }
}
