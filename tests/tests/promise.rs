//! The promise of the promotion engine, tried as a user would, each test reading AWS back: an
//! empty or failed upstream changes nothing, a closed stdout never hides a change, the order
//! holds on every path unless forced, and `--atomic` checks everything before its first write.
//! The per-tool rows of the same promises are in each tool's tests/cli.rs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // reason: tests fail loudly

use serde_json::Value;
use std::process::{Command, Stdio};
use test_harness::lambda::{alias, create_function, publish, set_alias, update_code};
use test_harness::proxy::{FaultProxy, Faults};
use test_harness::{binary, unique, Emulator, Sandbox};

fn lambda() -> String {
    binary("lambda-promote")
}

fn toml(functions: &[String]) -> String {
    let list: Vec<String> = functions.iter().map(|f| format!("{f:?}")).collect();
    format!(
        "[envs]\norder = [\"dev\", \"staging\", \"prod\"]\n\n[lambda]\nfunctions = [{}]\n",
        list.join(", ")
    )
}

/// `n` functions with versions 1, 2 and 3; dev holds 3, staging 2, prod 1.
async fn functions(prefix: &str, n: usize) -> Vec<String> {
    let name = unique(prefix);
    let mut all = Vec::new();
    for i in 0..n {
        let f = format!("{name}-{i}");
        create_function(&f, "one", &[]).await;
        publish(&f).await;
        update_code(&f, "two").await;
        publish(&f).await;
        update_code(&f, "three").await;
        publish(&f).await;
        set_alias(&f, "dev", "3").await;
        set_alias(&f, "staging", "2").await;
        set_alias(&f, "prod", "1").await;
        all.push(f);
    }
    all
}

async fn version(f: &str, env: &str) -> Option<String> {
    alias(f, env).await.map(|(v, _)| v)
}

async fn versions(fs: &[String], env: &str) -> Vec<Option<String>> {
    let mut all = Vec::new();
    for f in fs {
        all.push(version(f, env).await);
    }
    all
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn a_filter_that_matches_nothing_promotes_nothing() {
    let fs = functions("empty", 2).await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &toml(&fs));
    // `jq -c 'select(.resource=="typo")' release.ndjson | lambda-promote promote --to prod`
    sandbox.write("release.ndjson", "");
    let line = format!(
        "grep typo release.ndjson | '{}' promote --to prod",
        lambda()
    );
    let run = sandbox.run("bash", &["-c", &line], None);
    assert_eq!(run.code, 2, "{run}");
    assert!(
        run.stderr
            .contains("no records on stdin; pass --from ENV to promote what ENV holds now"),
        "{run}"
    );
    assert!(run.stdout.is_empty(), "{run}");
    assert_eq!(
        versions(&fs, "prod").await,
        [Some("1".into()), Some("1".into())]
    );

    // Asked for on the command line, live state is promoted, pipe or not.
    let run = sandbox.run(
        &lambda(),
        &["promote", "--from", "staging", "--to", "prod"],
        Some(""),
    );
    run.expect_code(0);
    assert_eq!(
        versions(&fs, "prod").await,
        [Some("2".into()), Some("2".into())]
    );
}

#[tokio::test]
async fn a_failed_upstream_stops_the_promotion() {
    let fs = functions("upstream", 2).await;
    let missing = unique("nostaging");
    create_function(&missing, "one", &[]).await;
    publish(&missing).await;
    let mut all = fs.clone();
    all.push(missing.clone());
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &toml(&all));

    // status fails on the function with no staging alias, and says so on stdout too.
    let (codes, run) = sandbox.pipe(
        &[
            (&lambda(), &["status", "--env", "staging"]),
            (&lambda(), &["promote", "--to", "prod"]),
        ],
        None,
    );
    assert_eq!(codes, [4, 3], "{run}");
    assert!(
        run.stderr
            .contains("a tool before this one failed on lambda")
            && run.stderr.contains(&missing)
            && run.stderr.contains("--skip-failed"),
        "{run}"
    );
    let passed = run.records();
    assert_eq!(passed.len(), 1, "the error record is passed on: {run}");
    assert_eq!(passed[0]["action"], "error");
    assert_eq!(
        versions(&fs, "prod").await,
        [Some("1".into()), Some("1".into())],
        "half a manifest is never promoted in silence"
    );

    // --skip-failed: the others go ahead, the failure is still passed on.
    let (codes, run) = sandbox.pipe(
        &[
            (&lambda(), &["status", "--env", "staging"]),
            (&lambda(), &["promote", "--to", "prod", "--skip-failed"]),
        ],
        None,
    );
    assert_eq!(codes, [4, 0], "{run}");
    assert_eq!(
        versions(&fs, "prod").await,
        [Some("2".into()), Some("2".into())]
    );
    let actions: Vec<String> = run
        .records()
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(actions, ["promoted", "promoted", "error"], "{run}");
}

/// Run `args` with stdout a pipe whose reader reads `lines` lines and then goes away; the
/// lines read, the exit code and stderr.
fn run_with_reader_leaving(
    sandbox: &Sandbox,
    args: &[&str],
    lines: usize,
) -> (Vec<String>, i32, String) {
    use std::io::BufRead;
    let mut command = Command::new(lambda());
    command
        .args(args)
        .current_dir(sandbox.path())
        .env("AWS_ENDPOINT_URL", &Emulator::shared().endpoint)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_CONFIG_FILE", sandbox.path().join("none"))
        .env("AWS_SHARED_CREDENTIALS_FILE", sandbox.path().join("none"))
        .env("PROMOTE_RATE_LIMIT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut read = Vec::new();
    {
        let mut reader = std::io::BufReader::new(stdout);
        for _ in 0..lines {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 {
                break;
            }
            read.push(line);
        }
    } // the reader goes away
    let output = child.wait_with_output().unwrap();
    (
        read,
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[tokio::test]
async fn a_closed_stdout_never_hides_a_change() {
    // The reader is gone before anything is written: no change is made at all.
    let fs = functions("closed", 6).await;
    let sandbox = Sandbox::new();
    let mut args = vec!["promote", "--from", "staging", "--to", "prod"];
    args.extend(fs.iter().map(String::as_str));
    let (_, code, stderr) = run_with_reader_leaving(&sandbox, &args, 0);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("stdout was closed: no new change was started"),
        "{stderr}"
    );
    // (Had the test been descheduled before closing its end, a change could have come first:
    // then its record is on stderr. Either way no change is without its record.)
    let on_stderr = json_lines(&stderr);
    for f in &fs {
        if version(f, "prod").await.as_deref() == Some("2") {
            assert!(
                on_stderr.iter().any(|r| r["resource"] == f.as_str()),
                "{f} moved without a record: {stderr}"
            );
            set_alias(f, "prod", "1").await;
        }
    }

    // The reader takes one record and leaves (`| head -1`), one promotion at a time: every
    // pointer that moved has its record, on stdout or on stderr, and in the journal.
    let journal = sandbox.path().join("journal.ndjson");
    let journal_arg = journal.display().to_string();
    let mut args = vec![
        "promote",
        "--from",
        "staging",
        "--to",
        "prod",
        "--concurrency",
        "1",
        "--journal",
        &journal_arg,
    ];
    args.extend(fs.iter().map(String::as_str));
    let (read, code, stderr) = run_with_reader_leaving(&sandbox, &args, 1);
    assert_eq!(read.len(), 1, "{stderr}");
    let mut moved = Vec::new();
    for f in &fs {
        if version(f, "prod").await.as_deref() == Some("2") {
            moved.push(f.clone());
        }
    }
    assert!(!moved.is_empty());
    let journaled = json_lines(&std::fs::read_to_string(&journal).unwrap());
    let mut in_journal: Vec<String> = journaled
        .iter()
        .map(|r| r["resource"].as_str().unwrap().to_string())
        .collect();
    in_journal.sort();
    assert_eq!(in_journal, moved, "the journal has every change");
    if code == 3 {
        // The tool saw its reader go: stdout and stderr together hold every change.
        assert!(stderr.contains("stdout was closed"), "{stderr}");
        let mut recorded: Vec<String> = json_lines(&read.concat())
            .into_iter()
            .chain(json_lines(&stderr))
            .map(|r| r["resource"].as_str().unwrap().to_string())
            .collect();
        recorded.sort();
        recorded.dedup();
        assert_eq!(recorded, moved, "{stderr}");
        assert!(
            moved.len() < fs.len(),
            "no new change after the reader left: {stderr}"
        );
    } else {
        // Every record was written before the reader left (the tool finished first).
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(moved.len(), fs.len());
    }

    // The journal rolls the run back.
    sandbox
        .run(
            &lambda(),
            &["rollback"],
            Some(&std::fs::read_to_string(&journal).unwrap()),
        )
        .expect_code(0);
    assert!(versions(&fs, "prod")
        .await
        .iter()
        .all(|v| v.as_deref() == Some("1")));
}

#[tokio::test]
async fn head_minus_one_leaves_every_change_on_stdout_stderr_or_the_journal() {
    let fs = functions("head", 6).await;
    let sandbox = Sandbox::new();
    let line = format!(
        "'{}' promote --from staging --to prod --journal journal.ndjson {} | head -1",
        lambda(),
        fs.join(" ")
    );
    let run = sandbox.run("bash", &["-c", &line], None);
    let mut recorded: Vec<String> = json_lines(&run.stdout)
        .into_iter()
        .chain(json_lines(&run.stderr))
        .chain(json_lines(
            &std::fs::read_to_string(sandbox.path().join("journal.ndjson")).unwrap(),
        ))
        .map(|r| r["resource"].as_str().unwrap().to_string())
        .collect();
    recorded.sort();
    recorded.dedup();
    for f in &fs {
        if version(f, "prod").await.as_deref() == Some("2") {
            assert!(recorded.contains(f), "{f} moved without a record\n{run}");
        }
    }
}

#[tokio::test]
async fn the_order_holds_on_every_path_unless_forced() {
    let fs = functions("order", 1).await;
    let f = &fs[0];
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &toml(&fs));
    let refused = |args: &[&str]| {
        let run = sandbox.run(&lambda(), args, None);
        assert_eq!(run.code, 4, "{args:?} is refused\n{run}");
        assert!(
            run.stderr
                .contains("promote.toml's order: dev → staging → prod"),
            "{run}"
        );
        assert!(run.stderr.contains("--force"), "{run}");
    };
    // Skipping staging, going backwards, a canary of what only dev holds, a new version
    // straight into prod.
    refused(&["promote", f, "--from", "dev", "--to", "prod"]);
    refused(&["promote", f, "--from", "prod", "--to", "staging"]);
    refused(&["promote", f, "--version", "3", "--to", "prod"]);
    refused(&[
        "canary",
        f,
        "--env",
        "prod",
        "--version",
        "3",
        "--weight",
        "10",
    ]);
    refused(&["publish", f, "--env", "prod"]);
    assert_eq!(version(f, "prod").await.as_deref(), Some("1"));
    assert_eq!(version(f, "staging").await.as_deref(), Some("2"));
    assert_eq!(
        alias(f, "prod").await.unwrap().1,
        vec![],
        "no canary was put on"
    );

    // A canary put on by force cannot be finished without force either.
    let forced = sandbox
        .run(
            &lambda(),
            &[
                "canary",
                f,
                "--env",
                "prod",
                "--version",
                "3",
                "--weight",
                "10",
                "--force",
            ],
            None,
        )
        .expect_code(0)
        .record();
    assert_eq!(forced["forced"], true);
    refused(&["canary", f, "--env", "prod", "--finish"]);
    let finished = sandbox
        .run(
            &lambda(),
            &["canary", f, "--env", "prod", "--finish", "--force"],
            None,
        )
        .expect_code(0)
        .record();
    assert_eq!(finished["forced"], true);
    assert_eq!(version(f, "prod").await.as_deref(), Some("3"));
    // Aborting takes traffic back: never refused.
    sandbox
        .run(&lambda(), &["canary", f, "--env", "prod", "--abort"], None)
        .expect_code(0);

    let backwards = sandbox
        .run(
            &lambda(),
            &["promote", f, "--from", "prod", "--to", "staging", "--force"],
            None,
        )
        .expect_code(0)
        .record();
    assert_eq!(backwards["forced"], true);
    let skipped = sandbox
        .run(
            &lambda(),
            &["promote", f, "--from", "dev", "--to", "staging", "--force"],
            None,
        )
        .expect_code(0)
        .record();
    assert!(
        skipped.get("forced").is_none(),
        "dev -> staging is the order: nothing was forced: {skipped}"
    );
    assert_eq!(version(f, "staging").await.as_deref(), Some("3"));
}

#[tokio::test]
async fn atomic_checks_every_item_before_its_first_write() {
    let mut fs = functions("atomic", 3).await;
    fs.insert(2, unique("missing")); // never created
    let proxy = FaultProxy::start(&Emulator::shared().endpoint, Faults::default());
    let mut sandbox = Sandbox::new();
    sandbox.env("AWS_ENDPOINT_URL", &proxy.endpoint);
    let mut args = vec!["promote", "--from", "staging", "--to", "prod", "--atomic"];
    args.extend(fs.iter().map(String::as_str));
    let run = sandbox.run(&lambda(), &args, None);
    run.expect_code(4);
    assert!(
        run.stderr
            .contains("--atomic: 1 of 4 items failed its checks"),
        "{run}"
    );
    let counts = proxy.counts();
    assert!(
        counts.writes.is_empty(),
        "no write at all: {:?}",
        counts.writes
    );
    let records = run.records();
    assert_eq!(records.len(), 1, "{run}");
    assert_eq!(records[0]["action"], "error");
    assert_eq!(records[0]["resource"], fs[2].as_str());
    for f in fs.iter().filter(|f| !f.contains("missing")) {
        assert_eq!(version(f, "prod").await.as_deref(), Some("1"));
    }
}

#[tokio::test]
async fn rollback_of_no_change_says_so() {
    let sandbox = Sandbox::offline();
    let status = r#"{"service":"lambda","action":"resolved","resource":"f","env":"prod","pointer":"prod","artifact":{"version":"1","code_sha256":"x"}}"#;
    for input in ["", status] {
        let run = sandbox.run(&lambda(), &["rollback"], Some(input));
        run.expect_code(0);
        assert!(run.stderr.contains("nothing to roll back"), "{run}");
    }
}
