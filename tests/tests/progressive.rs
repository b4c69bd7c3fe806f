//! Progressive delivery on a Lambda alias against the emulator: a schedule that runs to its
//! end, an alarm (the emulator's SetAlarmState) that fires mid-schedule and takes all traffic
//! back, an alarm already firing that moves nothing, a gate that names no alarm, and Ctrl-C in
//! both modes (take the traffic back; `--leave`, then the same command again goes on from the
//! weight it left). Intervals are a second or two; the alarms are polled every second.

#![allow(clippy::unwrap_used, clippy::expect_used)] // reason: tests fail loudly

use aws_sdk_cloudwatch::types::StateValue;
use std::time::{Duration, Instant};
use test_harness::cloudwatch::{create_alarm, set_state};
use test_harness::lambda::{alias, create_function, publish, queue_result, set_alias, update_code};
use test_harness::{binary, unique, Sandbox};

/// A function with versions 1 and 2: prod on 1, staging (the environment before) on 2, and an
/// alarm named after it, OK.
async fn setup() -> (String, String, Sandbox) {
    let f = unique("shift");
    create_function(&f, "v1", &[]).await;
    assert_eq!(publish(&f).await, "1");
    update_code(&f, "v2").await;
    assert_eq!(publish(&f).await, "2");
    set_alias(&f, "prod", "1").await;
    set_alias(&f, "staging", "2").await;
    let alarm = format!("{f}-prod-errors");
    create_alarm(&alarm).await;
    let sandbox = Sandbox::new();
    sandbox.write(
        "promote.toml",
        &format!(
            "[envs]\norder = [\"staging\", \"prod\"]\n\n[lambda]\nfunctions = [\"{f}\"]\n\n\
             [canary]\nalarms = [\"{f}-{{env}}-*\"]\n"
        ),
    );
    (f, alarm, sandbox)
}

/// Wait until the alias sends some traffic to a canary version (the shift has begun).
async fn until_weighted(f: &str) -> Vec<(String, f64)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some((_, weights)) = alias(f, "prod").await {
            if !weights.is_empty() {
                return weights;
            }
        }
        assert!(Instant::now() < deadline, "the shift never began");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn actions(run: &test_harness::Run) -> Vec<String> {
    run.records()
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_schedule_runs_to_the_end_watching_the_alarms() {
    let (f, _alarm, sandbox) = setup().await;
    let run = sandbox.run(
        &binary("lambda-promote"),
        &[
            "canary",
            &f,
            "--env",
            "prod",
            "--version",
            "2",
            "--steps",
            "20,60",
            "--interval",
            "1s",
            "--poll-interval",
            "1s",
        ],
        None,
    );
    run.expect_code(0);
    assert_eq!(actions(&run), ["canary", "canary", "promoted"], "{run}");
    let records = run.records();
    assert_eq!(records[0]["artifact"]["weights"]["2"], 0.2);
    assert_eq!(records[1]["artifact"]["weights"]["2"], 0.6);
    assert_eq!(records[1]["previous"]["weights"]["2"], 0.2);
    // Each step's record says which step it was and what the alarms said then.
    let alarm = format!("{f}-prod-errors");
    for (i, record) in records.iter().enumerate() {
        let shift = &record["shift"];
        assert_eq!(shift["step"], i + 1, "{record}");
        assert_eq!(shift["of"], 3);
        assert_eq!(shift["alarms"][&alarm], "OK", "{record}");
        assert!(shift["at"].as_str().unwrap().starts_with("20"), "{record}");
    }
    assert_eq!(records[2]["shift"]["percent"], 100.0);
    assert_eq!(alias(&f, "prod").await, Some(("2".into(), vec![])));
    assert!(
        run.stderr.contains("-prod-errors OK"),
        "the gate was read\n{run}"
    );
}

#[tokio::test]
async fn an_alarm_mid_schedule_takes_all_traffic_back() {
    let (f, alarm, sandbox) = setup().await;
    let child = sandbox.spawn(
        &binary("lambda-promote"),
        &[
            "canary",
            &f,
            "--env",
            "prod",
            "--version",
            "2",
            "--schedule",
            "Canary10Percent5Minutes",
            "--poll-interval",
            "1s",
        ],
    );
    assert_eq!(until_weighted(&f).await, [("2".to_string(), 0.1)]);
    set_state(&alarm, StateValue::Alarm, "Errors >= 1 for 1 datapoint").await;
    let run = Sandbox::finish(child);
    run.expect_code(3);
    assert_eq!(actions(&run), ["canary", "rolled_back"], "{run}");
    let aborted = run.records()[1]["shift"]["aborted"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        aborted.contains(&alarm) && aborted.contains("ALARM") && aborted.contains("Errors >= 1"),
        "{run}"
    );
    assert_eq!(
        alias(&f, "prod").await,
        Some(("1".into(), vec![])),
        "back on 1, no weights"
    );
    assert!(
        run.stderr.contains(&alarm) && run.stderr.contains("Errors >= 1"),
        "{run}"
    );
}

#[tokio::test]
async fn an_alarm_already_firing_moves_no_traffic_and_a_gate_must_match() {
    let (f, alarm, sandbox) = setup().await;
    set_state(&alarm, StateValue::Alarm, "already bad").await;
    let lambda = binary("lambda-promote");
    let args = [
        "canary",
        &f,
        "--env",
        "prod",
        "--version",
        "2",
        "--schedule",
        "AllAtOnce",
    ];
    let run = sandbox.run(&lambda, &args, None);
    run.expect_code(3);
    assert!(run.stderr.contains("no traffic was moved"), "{run}");
    assert_eq!(alias(&f, "prod").await, Some(("1".into(), vec![])));

    set_state(&alarm, StateValue::Ok, "fine again").await;
    let typo = sandbox.run(
        &lambda,
        &[&args[..], &["--alarm", "no-such-alarm-*"]].concat(),
        None,
    );
    typo.expect_code(4);
    assert!(typo.stderr.contains("no-such-alarm-*"), "{typo}");
    assert_eq!(alias(&f, "prod").await, Some(("1".into(), vec![])));

    // A dry run shows all at once as the promotion it is, and writes nothing.
    let plan = sandbox.run(&lambda, &[&args[..], &["--dry-run"]].concat(), None);
    plan.expect_code(0);
    assert_eq!(plan.record()["action"], "planned", "{plan}");
    assert_eq!(plan.record()["artifact"]["version"], "2", "{plan}");
    assert!(plan.record()["artifact"].get("weights").is_none(), "{plan}");
    assert_eq!(alias(&f, "prod").await, Some(("1".into(), vec![])));

    // All at once, gated: the alias moves to 2 in one step.
    let run = sandbox.run(&lambda, &args, None);
    run.expect_code(0);
    assert_eq!(actions(&run), ["promoted"], "{run}");
    assert_eq!(alias(&f, "prod").await, Some(("2".into(), vec![])));
}

#[tokio::test]
async fn ctrl_c_takes_the_traffic_back_or_with_leave_keeps_it_for_the_next_run() {
    let (f, _alarm, sandbox) = setup().await;
    let lambda = binary("lambda-promote");
    let shift = [
        "canary",
        &f,
        "--env",
        "prod",
        "--version",
        "2",
        "--steps",
        "25,50",
        "--interval",
        "2s",
        "--poll-interval",
        "1s",
    ];
    let child = sandbox.spawn(&lambda, &shift);
    until_weighted(&f).await;
    Sandbox::interrupt(&child);
    let run = Sandbox::finish(child);
    run.expect_code(130);
    assert_eq!(actions(&run), ["canary", "rolled_back"], "{run}");
    assert_eq!(alias(&f, "prod").await, Some(("1".into(), vec![])));

    let child = sandbox.spawn(&lambda, &[&shift[..], &["--leave"]].concat());
    assert_eq!(until_weighted(&f).await, [("2".to_string(), 0.25)]);
    Sandbox::interrupt(&child);
    let run = Sandbox::finish(child);
    run.expect_code(130);
    assert_eq!(actions(&run), ["canary"], "{run}");
    assert!(run.stderr.contains("--leave"), "{run}");
    assert_eq!(
        alias(&f, "prod").await,
        Some(("1".into(), vec![("2".into(), 0.25)]))
    );
    // --status says where it stands, and changes nothing.
    let status = sandbox.run(&lambda, &["canary", &f, "--env", "prod", "--status"], None);
    status.expect_code(0);
    assert!(
        status.stderr.contains("version 2 has 25% of the traffic"),
        "{status}"
    );
    assert_eq!(
        status.record()["artifact"]["weights"]["2"],
        0.25,
        "{status}"
    );

    // The same command again goes on from 25%.
    let run = sandbox.run(&lambda, &shift, None);
    run.expect_code(0);
    assert_eq!(actions(&run), ["canary", "promoted"], "{run}");
    assert_eq!(run.records()[0]["artifact"]["weights"]["2"], 0.5);
    assert_eq!(alias(&f, "prod").await, Some(("2".into(), vec![])));
}

/// `| head -1`: the reader leaves after the first step's record. No later step is made (its
/// record could not be delivered), stderr says where the shift stopped, the run exits 3, and the
/// alias, read back, is at the first step.
#[tokio::test]
async fn a_reader_that_leaves_stops_the_shift_where_it_is() {
    let (f, _alarm, sandbox) = setup().await;
    let lambda = binary("lambda-promote");
    let (codes, run) = sandbox.pipe(
        &[
            (
                lambda.as_str(),
                &[
                    "canary",
                    &f,
                    "--env",
                    "prod",
                    "--version",
                    "2",
                    "--steps",
                    "30,60",
                    "--interval",
                    "1s",
                    "--poll-interval",
                    "1s",
                ],
            ),
            ("head", &["-1"]),
        ],
        None,
    );
    assert_eq!(codes, [3, 0], "{run}");
    assert_eq!(actions(&run), ["canary"], "{run}");
    assert!(run.stderr.contains("the shift stops at 30%"), "{run}");
    assert!(!run.stderr.contains("finished"), "{run}");
    assert_eq!(
        alias(&f, "prod").await,
        Some(("1".into(), vec![("2".into(), 0.3)]))
    );
}

/// The hooks. The emulator invokes functions without Docker (`scripts/emulator` sets that up):
/// a function answers its own payload (a pass: it has no `status`), or the result this test
/// queues first (`{"status": "Failed"}`). Only this test invokes functions, so the queue is its
/// own.
#[tokio::test]
async fn hooks_validate_before_any_traffic_moves_and_once_all_of_it_has() {
    let (f, _alarm, sandbox) = setup().await;
    let smoke = format!("{f}-smoke");
    create_function(&smoke, "smoke", &[]).await;
    let lambda = binary("lambda-promote");
    let shift = [
        "canary",
        &f,
        "--env",
        "prod",
        "--version",
        "2",
        "--steps",
        "50",
        "--interval",
        "1s",
        "--poll-interval",
        "1s",
    ];

    // A failing pre-traffic validation moves no traffic.
    queue_result(r#"{"status": "Failed", "reason": "checkout returns 500"}"#);
    let run = sandbox.run(
        &lambda,
        &[&shift[..], &["--pre-traffic", &smoke]].concat(),
        None,
    );
    run.expect_code(3);
    assert!(run.records().is_empty(), "{run}");
    assert!(
        run.stderr.contains("checkout returns 500") && run.stderr.contains("no traffic was moved"),
        "{run}"
    );
    assert_eq!(alias(&f, "prod").await, Some(("1".into(), vec![])));

    // A hook function that does not exist is found before anything moves.
    let run = sandbox.run(
        &lambda,
        &[&shift[..], &["--post-traffic", "no-such-hook"]].concat(),
        None,
    );
    run.expect_code(4);
    assert!(run.stderr.contains("no-such-hook"), "{run}");
    assert_eq!(alias(&f, "prod").await, Some(("1".into(), vec![])));

    // The pre-traffic function passes (it answers its payload); the post-traffic command is
    // given the candidate and fails: the alias goes back to 1.
    let run = sandbox.run(
        &lambda,
        &[
            &shift[..],
            &[
                "--pre-traffic",
                &smoke,
                "--post-traffic-cmd",
                "cat > post.json; echo checked; exit 1",
            ],
        ]
        .concat(),
        None,
    );
    run.expect_code(3);
    assert_eq!(
        actions(&run),
        ["canary", "promoted", "rolled_back"],
        "{run}"
    );
    assert_eq!(run.records()[2]["artifact"]["version"], "1");
    assert_eq!(alias(&f, "prod").await, Some(("1".into(), vec![])));
    assert!(
        run.stderr.contains("checked") && run.stderr.contains("it exited with 1"),
        "the hook's stdout goes to stderr\n{run}"
    );
    let payload: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sandbox.path().join("post.json")).unwrap())
            .unwrap();
    assert_eq!(payload["hook"], "post-traffic");
    assert_eq!(payload["env"], "prod");
    assert_eq!(payload["candidates"][0]["function"], f.as_str());
    assert_eq!(payload["candidates"][0]["version"], "2");
    assert_eq!(payload["candidates"][0]["previous_version"], "1");

    // Both pass: the shift finishes on 2.
    let run = sandbox.run(
        &lambda,
        &[
            &shift[..],
            &[
                "--pre-traffic",
                &smoke,
                "--post-traffic-cmd",
                "test \"$PROMOTE_HOOK\" = post-traffic",
            ],
        ]
        .concat(),
        None,
    );
    run.expect_code(0);
    assert_eq!(actions(&run), ["canary", "promoted"], "{run}");
    assert_eq!(alias(&f, "prod").await, Some(("2".into(), vec![])));
}

/// Ten functions, one release: `promote --to prod --canary` shifts every alias together (each
/// step one canary record per alias), one alarm fires mid-shift, and all ten go back. Then the
/// release manifest from staging (`status --env staging`) shifts them all to the end.
#[tokio::test]
async fn a_release_shifts_together_and_one_alarm_takes_every_alias_back() {
    let base = unique("release");
    let functions: Vec<String> = (0..10).map(|i| format!("{base}-{i}")).collect();
    for f in &functions {
        create_function(f, "v1", &[]).await;
        assert_eq!(publish(f).await, "1");
        update_code(f, "v2").await;
        assert_eq!(publish(f).await, "2");
        set_alias(f, "prod", "1").await;
        set_alias(f, "staging", "2").await;
    }
    let alarm = format!("{base}-prod-latency");
    create_alarm(&alarm).await;
    let sandbox = Sandbox::new();
    let list = functions
        .iter()
        .map(|f| format!("\"{f}\""))
        .collect::<Vec<_>>()
        .join(", ");
    sandbox.write(
        "promote.toml",
        &format!(
            "[envs]\norder = [\"staging\", \"prod\"]\n\n[lambda]\nfunctions = [{list}]\n\n\
             [canary]\nalarms = [\"{base}-{{env}}-*\"]\n"
        ),
    );
    let lambda = binary("lambda-promote");
    let shift = [
        "promote",
        "--to",
        "prod",
        "--canary",
        "Canary10Percent5Minutes",
        "--poll-interval",
        "1s",
    ];

    let child = sandbox.spawn(&lambda, &shift);
    until_weighted(functions.last().unwrap()).await;
    for f in &functions {
        assert_eq!(
            alias(f, "prod").await,
            Some(("1".into(), vec![("2".into(), 0.1)])),
            "every alias takes the first step before the alarms are watched"
        );
    }
    set_state(&alarm, StateValue::Alarm, "p99 latency 2.3 s").await;
    let run = Sandbox::finish(child);
    run.expect_code(3);
    let acts = actions(&run);
    assert_eq!(acts.iter().filter(|a| *a == "canary").count(), 10, "{run}");
    assert_eq!(
        acts.iter().filter(|a| *a == "rolled_back").count(),
        10,
        "{run}"
    );
    for f in &functions {
        assert_eq!(alias(f, "prod").await, Some(("1".into(), vec![])), "{f}");
    }
    assert!(run.stderr.contains("p99 latency 2.3 s"), "{run}");

    // The manifest from staging, shifted to the end once the alarm is quiet.
    set_state(&alarm, StateValue::Ok, "recovered").await;
    let manifest = sandbox.run(&lambda, &["status", "--env", "staging"], None);
    manifest.expect_code(0);
    let run = sandbox.run(
        &lambda,
        &[
            "promote",
            "--to",
            "prod",
            "--steps",
            "50",
            "--interval",
            "1s",
            "--poll-interval",
            "1s",
            "--pre-traffic-cmd",
            "cat > pre.json",
        ],
        Some(&manifest.stdout),
    );
    run.expect_code(0);
    // One validation for the release, told every alias and the version it is about to get.
    let pre: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sandbox.path().join("pre.json")).unwrap())
            .unwrap();
    let candidates = pre["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 10, "{pre}");
    assert!(
        candidates
            .iter()
            .all(|c| c["version"] == "2" && c["previous_version"] == "1" && c["alias"] == "prod"),
        "{pre}"
    );
    let acts = actions(&run);
    assert_eq!(acts.len(), 20, "{run}");
    assert!(acts[..10].iter().all(|a| a == "canary"), "{run}");
    assert!(acts[10..].iter().all(|a| a == "promoted"), "{run}");
    for f in &functions {
        assert_eq!(alias(f, "prod").await, Some(("2".into(), vec![])), "{f}");
    }
}

/// `promote --canary` keeps the chain: a version staging does not hold is refused before any
/// traffic moves, and with --force every step's record says it was forced.
#[tokio::test]
async fn a_release_shift_keeps_the_chain_unless_forced() {
    let (f, _alarm, sandbox) = setup().await;
    update_code(&f, "v3").await;
    assert_eq!(publish(&f).await, "3");
    let lambda = binary("lambda-promote");
    let shift = [
        "promote",
        &f,
        "--to",
        "prod",
        "--version",
        "3",
        "--steps",
        "50",
        "--interval",
        "1s",
        "--poll-interval",
        "1s",
    ];
    let run = sandbox.run(&lambda, &shift, None);
    run.expect_code(4);
    assert!(
        run.records().iter().all(|r| r["action"] != "canary"),
        "{run}"
    );
    assert_eq!(alias(&f, "prod").await, Some(("1".into(), vec![])));

    let run = sandbox.run(&lambda, &[&shift[..], &["--force"]].concat(), None);
    run.expect_code(0);
    assert_eq!(actions(&run), ["canary", "promoted"], "{run}");
    assert!(run.records().iter().all(|r| r["forced"] == true), "{run}");
    assert_eq!(alias(&f, "prod").await, Some(("3".into(), vec![])));
}

/// Ctrl-C during a release shift: every alias goes back; with --leave every alias keeps its
/// weight, and the same command again goes on from there for all of them.
#[tokio::test]
async fn ctrl_c_takes_a_whole_release_back_or_leaves_it_for_the_next_run() {
    let base = unique("leave");
    let functions: Vec<String> = (0..3).map(|i| format!("{base}-{i}")).collect();
    for f in &functions {
        create_function(f, "v1", &[]).await;
        assert_eq!(publish(f).await, "1");
        update_code(f, "v2").await;
        assert_eq!(publish(f).await, "2");
        set_alias(f, "prod", "1").await;
        set_alias(f, "staging", "2").await;
    }
    let sandbox = Sandbox::new();
    let list = functions
        .iter()
        .map(|f| format!("\"{f}\""))
        .collect::<Vec<_>>()
        .join(", ");
    sandbox.write(
        "promote.toml",
        &format!("[envs]\norder = [\"staging\", \"prod\"]\n\n[lambda]\nfunctions = [{list}]\n"),
    );
    let lambda = binary("lambda-promote");
    let shift = [
        "promote",
        "--to",
        "prod",
        "--steps",
        "25,50",
        "--interval",
        "2s",
        "--poll-interval",
        "1s",
    ];

    let child = sandbox.spawn(&lambda, &shift);
    until_weighted(functions.last().unwrap()).await;
    Sandbox::interrupt(&child);
    let run = Sandbox::finish(child);
    run.expect_code(130);
    assert_eq!(
        actions(&run).iter().filter(|a| *a == "rolled_back").count(),
        3,
        "{run}"
    );
    for f in &functions {
        assert_eq!(alias(f, "prod").await, Some(("1".into(), vec![])), "{f}");
    }

    let child = sandbox.spawn(&lambda, &[&shift[..], &["--leave"]].concat());
    for f in &functions {
        until_weighted(f).await;
    }
    Sandbox::interrupt(&child);
    Sandbox::finish(child).expect_code(130);
    for f in &functions {
        assert_eq!(
            alias(f, "prod").await,
            Some(("1".into(), vec![("2".into(), 0.25)])),
            "{f} keeps its weight"
        );
    }
    let run = sandbox.run(&lambda, &shift, None);
    run.expect_code(0);
    assert_eq!(
        actions(&run),
        ["canary", "canary", "canary", "promoted", "promoted", "promoted"],
        "it went on from 25%: 50, then all\n{run}"
    );
    for f in &functions {
        assert_eq!(alias(f, "prod").await, Some(("2".into(), vec![])), "{f}");
    }
}
