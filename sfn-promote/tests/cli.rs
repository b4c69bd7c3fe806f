//! sfn-promote's real binary against the emulator: promotion along the chain and its refusals,
//! manifests on stdin (and an empty one), the definition hash check, dry runs, canaries, an
//! alarm-gated schedule, rollback, status, and a promotion into another account and region that
//! copies the definition. Each test reads the emulator back to prove what changed (or that
//! nothing did). What the emulator cannot do (PublishStateMachineVersion,
//! ListStateMachineVersions, an alias changed between the read and the write) is in mocks.rs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // reason: tests fail loudly

use aws_sdk_cloudwatch::types::StateValue;
use serde_json::Value;
use std::time::{Duration, Instant};
use test_harness::accounts::{
    env_sections, sdk_config, write_profiles, DEFAULT_ACCOUNT, PROD_ACCOUNT, PROD_REGION,
    STAGING_ACCOUNT, STAGING_REGION,
};
use test_harness::cloudwatch::{create_alarm, set_state};
use test_harness::sfn::{self, alias, client, create, definition, definition_of, set_alias};
use test_harness::{unique, Sandbox};

const BIN: &str = env!("CARGO_BIN_EXE_sfn-promote");

/// A state machine with versions 1 and 2 (different definitions): prod on 1, staging on 2, and
/// a promote.toml that orders them.
async fn setup() -> (String, String, Sandbox) {
    let name = unique("flow");
    let c = client();
    let arn = create(&c, &name, &definition("one"), DEFAULT_ACCOUNT).await;
    assert_eq!(sfn::publish(&c, &arn, &definition("two")).await, "2");
    set_alias(&c, &arn, "prod", &[("1", 100)]).await;
    set_alias(&c, &arn, "staging", &[("2", 100)]).await;
    let sandbox = Sandbox::new();
    sandbox.write(
        "promote.toml",
        &format!(
            "[envs]\norder = [\"staging\", \"prod\"]\n\n[stepfunctions]\nstate_machines = [\"{name}\"]\n"
        ),
    );
    (name, arn, sandbox)
}

async fn routing(arn: &str, name: &str) -> Option<Vec<(String, i32)>> {
    alias(&client(), arn, name).await
}

fn plain(version: &str) -> Option<Vec<(String, i32)>> {
    Some(vec![(version.to_string(), 100)])
}

fn actions(run: &test_harness::Run) -> Vec<String> {
    run.records()
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn promote_moves_prod_to_staging_s_version_and_rollback_moves_it_back() {
    let (name, arn, sandbox) = setup().await;
    let run = sandbox.run(BIN, &["promote", "--to", "prod"], None);
    let record = run.expect_code(0).record();
    assert_eq!(record["service"], "stepfunctions");
    assert_eq!(record["action"], "promoted");
    assert_eq!(record["resource"], name.as_str());
    assert_eq!(record["pointer"], "prod");
    assert_eq!(record["env"], "prod");
    assert_eq!(record["account"], DEFAULT_ACCOUNT);
    assert_eq!(record["artifact"]["version"], "2");
    assert_eq!(record["artifact"]["version_arn"], format!("{arn}:2"));
    let two = definition_of(&client(), &format!("{arn}:2")).await;
    assert_eq!(record["artifact"]["definition_sha256"], sfn::sha256(&two));
    assert_eq!(record["previous"]["version"], "1");
    assert_eq!(routing(&arn, "prod").await, plain("2"));

    // Again: nothing to do.
    let again = sandbox.run(BIN, &["promote", "--to", "prod"], None);
    assert_eq!(actions(again.expect_code(0)), ["unchanged"]);

    let back = sandbox.run(BIN, &["rollback"], Some(&run.stdout));
    let undone = back.expect_code(0).record();
    assert_eq!(undone["action"], "rolled_back");
    assert_eq!(undone["artifact"]["version"], "1");
    assert_eq!(routing(&arn, "prod").await, plain("1"));
    // Rolled back already: the second rollback finds it where the record left it.
    let twice = sandbox.run(BIN, &["rollback"], Some(&run.stdout));
    assert_eq!(actions(twice.expect_code(0)), ["unchanged"]);
}

#[tokio::test]
async fn a_version_the_environment_before_does_not_hold_is_refused_unless_forced() {
    let (name, arn, sandbox) = setup().await;
    let c = client();
    assert_eq!(sfn::publish(&c, &arn, &definition("three")).await, "3");
    let refused = sandbox.run(
        BIN,
        &["promote", &name, "--to", "prod", "--version", "3"],
        None,
    );
    refused.expect_code(4);
    assert!(refused.stderr.contains("staging"), "{refused}");
    assert_eq!(refused.record()["action"], "error");
    assert_eq!(routing(&arn, "prod").await, plain("1"), "nothing moved");

    let forced = sandbox.run(
        BIN,
        &[
            "promote",
            &name,
            "--to",
            "prod",
            "--version",
            "3",
            "--force",
        ],
        None,
    );
    let record = forced.expect_code(0).record();
    assert_eq!(record["forced"], true);
    assert_eq!(record["artifact"]["version"], "3");
    assert_eq!(routing(&arn, "prod").await, plain("3"));

    // What staging holds is allowed by number.
    let held = sandbox.run(
        BIN,
        &["promote", &name, "--to", "prod", "--version", "2"],
        None,
    );
    assert_eq!(held.expect_code(0).record()["artifact"]["version"], "2");
    assert_eq!(routing(&arn, "prod").await, plain("2"));
}

#[tokio::test]
async fn a_manifest_promotes_exactly_its_versions_and_an_empty_one_promotes_nothing() {
    let (_name, arn, sandbox) = setup().await;
    let manifest = sandbox.run(BIN, &["status", "--env", "staging"], None);
    let record = manifest.expect_code(0).record();
    assert_eq!(record["action"], "resolved");
    assert_eq!(record["artifact"]["version"], "2");

    // A jq filter that matched nothing: no records is not "everything".
    let empty = sandbox.run(BIN, &["promote", "--to", "prod"], Some(""));
    empty.expect_code(2);
    assert!(empty.records().is_empty(), "{empty}");
    assert!(empty.stderr.contains("no records on stdin"), "{empty}");
    assert_eq!(routing(&arn, "prod").await, plain("1"), "nothing moved");

    // Staging moves on after the manifest was taken: the manifest's version is promoted.
    let c = client();
    assert_eq!(sfn::publish(&c, &arn, &definition("three")).await, "3");
    set_alias(&c, &arn, "staging", &[("3", 100)]).await;
    let run = sandbox.run(BIN, &["promote", "--to", "prod"], Some(&manifest.stdout));
    assert_eq!(run.expect_code(0).record()["artifact"]["version"], "2");
    assert_eq!(routing(&arn, "prod").await, plain("2"));
}

#[tokio::test]
async fn a_record_whose_definition_differs_is_refused_and_bad_input_names_the_line() {
    let (_name, arn, sandbox) = setup().await;
    let manifest = sandbox.run(BIN, &["status", "--env", "staging"], None);
    let mut record: Value = manifest.expect_code(0).record();
    record["artifact"]["definition_sha256"] = Value::from("0".repeat(64));
    let refused = sandbox.run(BIN, &["promote", "--to", "prod"], Some(&record.to_string()));
    refused.expect_code(4);
    assert!(refused.stderr.contains("not the same bits"), "{refused}");
    assert_eq!(routing(&arn, "prod").await, plain("1"), "nothing moved");

    let mut broken = record.clone();
    broken["artifact"] = serde_json::json!({"version": "2"});
    let input = format!("{}\n{broken}\n", manifest.stdout.trim());
    let bad = sandbox.run(BIN, &["promote", "--to", "prod"], Some(&input));
    bad.expect_code(2);
    assert!(
        bad.stderr.contains("stdin:2") && bad.stderr.contains("definition_sha256"),
        "{bad}"
    );
    assert_eq!(
        routing(&arn, "prod").await,
        plain("1"),
        "validate, then write"
    );

    // The state machine's unpublished definition is never an artifact.
    let mut latest = record.clone();
    latest["artifact"]["version"] = Value::from("");
    let refused = sandbox.run(BIN, &["promote", "--to", "prod"], Some(&latest.to_string()));
    refused.expect_code(2);
    assert!(
        refused.stderr.contains("not a published version number"),
        "{refused}"
    );
}

#[tokio::test]
async fn a_dry_run_plans_and_changes_nothing() {
    let (_name, arn, sandbox) = setup().await;
    let run = sandbox.run(BIN, &["--dry-run", "promote", "--to", "prod"], None);
    let record = run.expect_code(0).record();
    assert_eq!(record["action"], "planned");
    assert_eq!(record["planned_action"], "promoted");
    assert_eq!(record["artifact"]["version"], "2");
    assert_eq!(routing(&arn, "prod").await, plain("1"));

    // A schedule's dry run plans its first step, and moves nothing either.
    let name = record["resource"].as_str().unwrap();
    let shift = sandbox.run(
        BIN,
        &[
            "--dry-run",
            "canary",
            name,
            "--env",
            "prod",
            "--version",
            "2",
            "--steps",
            "30,60",
        ],
        None,
    );
    let planned = shift.expect_code(0).record();
    assert_eq!(planned["planned_action"], "canary", "{shift}");
    assert_eq!(planned["artifact"]["weights"]["2"], 30, "{shift}");
    assert!(
        shift.stderr.contains("would shift traffic to version 2"),
        "{shift}"
    );
    assert_eq!(routing(&arn, "prod").await, plain("1"));
}

#[tokio::test]
async fn a_canary_splits_the_executions_then_finishes_and_its_records_undo_it() {
    let (name, arn, sandbox) = setup().await;
    let start = sandbox.run(
        BIN,
        &[
            "canary",
            &name,
            "--env",
            "prod",
            "--version",
            "2",
            "--weight",
            "10",
        ],
        None,
    );
    let record = start.expect_code(0).record();
    assert_eq!(record["action"], "canary");
    assert_eq!(record["artifact"]["version"], "1");
    assert_eq!(record["artifact"]["weights"]["2"], 10);
    assert_eq!(
        routing(&arn, "prod").await,
        Some(vec![("1".into(), 90), ("2".into(), 10)])
    );
    let status = sandbox.run(BIN, &["canary", &name, "--env", "prod", "--status"], None);
    assert!(
        status
            .expect_code(0)
            .stderr
            .contains("version 2 has 10% of the executions"),
        "{status}"
    );
    let finish = sandbox.run(BIN, &["canary", &name, "--env", "prod", "--finish"], None);
    assert_eq!(finish.expect_code(0).record()["action"], "promoted");
    assert_eq!(routing(&arn, "prod").await, plain("2"));

    // Both steps undone, newest first: back on 1 with no weight.
    let records = format!("{}{}", start.stdout, finish.stdout);
    let back = sandbox.run(BIN, &["rollback"], Some(&records));
    back.expect_code(0);
    assert_eq!(routing(&arn, "prod").await, plain("1"));

    // A weight Step Functions cannot split by is bad input.
    let half = sandbox.run(
        BIN,
        &[
            "canary",
            &name,
            "--env",
            "prod",
            "--version",
            "2",
            "--weight",
            "12.5",
        ],
        None,
    );
    half.expect_code(2);
    assert_eq!(routing(&arn, "prod").await, plain("1"));
}

#[tokio::test]
async fn a_schedule_runs_to_the_end_and_an_alarm_takes_the_executions_back() {
    let (name, arn, sandbox) = setup().await;
    let alarm = format!("{name}-prod-errors");
    create_alarm(&alarm).await;
    let shift = |steps: &str| {
        vec![
            "canary".to_string(),
            name.clone(),
            "--env".into(),
            "prod".into(),
            "--version".into(),
            "2".into(),
            "--steps".into(),
            steps.into(),
            "--interval".into(),
            "1s".into(),
            "--poll-interval".into(),
            "1s".into(),
            "--alarm".into(),
            format!("{name}-{{env}}-*"),
        ]
    };
    // Firing before the first step: nothing moves (exit 3).
    set_state(&alarm, StateValue::Alarm, "Errors >= 1").await;
    let args = shift("20,60");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let held = sandbox.run(BIN, &args, None);
    held.expect_code(3);
    assert!(held.records().is_empty(), "{held}");
    assert_eq!(routing(&arn, "prod").await, plain("1"));

    // Quiet: every step, then all executions on 2.
    set_state(&alarm, StateValue::Ok, "quiet").await;
    let run = sandbox.run(BIN, &args, None);
    run.expect_code(0);
    assert_eq!(actions(&run), ["canary", "canary", "promoted"], "{run}");
    let records = run.records();
    assert_eq!(records[0]["artifact"]["weights"]["2"], 20);
    assert_eq!(records[1]["artifact"]["weights"]["2"], 60);
    assert_eq!(records[1]["shift"]["alarms"][&alarm], "OK", "{run}");
    assert_eq!(routing(&arn, "prod").await, plain("2"));

    // Back to 1, then a schedule whose alarm fires mid-way: the executions go back to 1.
    sandbox
        .run(BIN, &["rollback"], Some(&run.stdout))
        .expect_code(0);
    assert_eq!(routing(&arn, "prod").await, plain("1"));
    let args = shift("10,50");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let child = sandbox.spawn(BIN, &args);
    let deadline = Instant::now() + Duration::from_secs(30);
    while routing(&arn, "prod").await.is_some_and(|r| r.len() == 1) {
        assert!(Instant::now() < deadline, "the shift never began");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    set_state(&alarm, StateValue::Alarm, "Errors >= 1 for 1 datapoint").await;
    let alarmed = Sandbox::finish(child);
    alarmed.expect_code(3);
    assert_eq!(actions(&alarmed), ["canary", "rolled_back"], "{alarmed}");
    assert_eq!(
        routing(&arn, "prod").await,
        plain("1"),
        "back on 1, no weight"
    );
}

#[tokio::test]
async fn status_lists_every_alias_with_its_environment() {
    let (name, arn, sandbox) = setup().await;
    let run = sandbox.run(BIN, &["status", &name], None);
    let records = run.expect_code(0).records();
    let mut seen: Vec<(String, String)> = records
        .iter()
        .map(|r| {
            (
                r["pointer"].as_str().unwrap().to_string(),
                r["artifact"]["version"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [("prod".into(), "1".into()), ("staging".into(), "2".into())]
    );
    // By ARN, the same records.
    let by_arn = sandbox.run(BIN, &["status", &arn, "--env", "prod"], None);
    assert_eq!(by_arn.expect_code(0).record()["resource"], name.as_str());
    // A qualified ARN is refused with the flag that chooses the alias.
    let qualified = sandbox.run(BIN, &["status", &format!("{arn}:prod")], None);
    qualified.expect_code(2);
    assert!(
        qualified.stderr.contains("--env chooses the alias"),
        "{qualified}"
    );
}

#[tokio::test]
async fn promote_into_another_account_and_region_publishes_the_same_definition_there() {
    let name = unique("flow");
    let staging = sfn::client_in(&sdk_config(STAGING_ACCOUNT, STAGING_REGION).await);
    let prod = sfn::client_in(&sdk_config(PROD_ACCOUNT, PROD_REGION).await);
    let staging_arn = create(&staging, &name, &definition("old"), STAGING_ACCOUNT).await;
    assert_eq!(
        sfn::publish(&staging, &staging_arn, &definition("new")).await,
        "2"
    );
    set_alias(&staging, &staging_arn, "staging", &[("2", 100)]).await;
    let prod_arn = create(&prod, &name, &definition("old"), PROD_ACCOUNT).await;
    set_alias(&prod, &prod_arn, "prod", &[("1", 100)]).await;

    let sandbox = Sandbox::new();
    write_profiles(&sandbox);
    sandbox.write(
        "promote.toml",
        &format!(
            "{}[stepfunctions]\nstate_machines = [\"{name}\"]\n",
            env_sections()
        ),
    );
    let dry = sandbox.run(BIN, &["--dry-run", "promote", "--to", "prod"], None);
    let plan = dry.expect_code(0).record();
    assert_eq!(plan["action"], "planned");
    assert_eq!(
        plan["copied_from"]["version_arn"],
        format!("{staging_arn}:2")
    );
    assert_eq!(
        routing_in(&prod, &prod_arn).await,
        plain("1"),
        "a plan moves nothing"
    );

    let run = sandbox.run(BIN, &["promote", "--to", "prod"], None);
    let record = run.expect_code(0).record();
    assert_eq!(record["action"], "promoted");
    assert_eq!(record["account"], PROD_ACCOUNT);
    assert_eq!(record["region"], PROD_REGION);
    let published = record["artifact"]["version"].as_str().unwrap().to_string();
    assert_eq!(published, "2", "the copy is prod's own next version");
    assert_eq!(
        record["artifact"]["version_arn"],
        format!("{prod_arn}:{published}")
    );
    // The same definition, proven by its hash, read back in prod's account.
    let copied = definition_of(&prod, &format!("{prod_arn}:{published}")).await;
    assert_eq!(copied, definition("new"));
    assert_eq!(
        record["artifact"]["definition_sha256"],
        sfn::sha256(&copied)
    );
    assert_eq!(
        record["copied_from"]["version_arn"],
        format!("{staging_arn}:2")
    );
    assert_eq!(
        record["copied_from"]["definition_before"],
        sfn::sha256(&definition("old"))
    );
    assert_eq!(routing_in(&prod, &prod_arn).await, plain(&published));

    // Promoting again finds prod holding that definition: nothing is copied.
    let again = sandbox.run(BIN, &["promote", "--to", "prod"], None);
    assert_eq!(actions(again.expect_code(0)), ["unchanged"]);

    let back = sandbox.run(BIN, &["rollback"], Some(&run.stdout));
    back.expect_code(0);
    assert_eq!(routing_in(&prod, &prod_arn).await, plain("1"));
}

async fn routing_in(client: &aws_sdk_sfn::Client, arn: &str) -> Option<Vec<(String, i32)>> {
    alias(client, arn, "prod").await
}

#[tokio::test]
async fn one_state_machine_per_environment_takes_a_copy_of_the_definition() {
    let base = unique("flow");
    let c = client();
    let staging = create(
        &c,
        &format!("{base}-staging"),
        &definition("one"),
        DEFAULT_ACCOUNT,
    )
    .await;
    assert_eq!(sfn::publish(&c, &staging, &definition("two")).await, "2");
    set_alias(&c, &staging, "staging", &[("2", 100)]).await;
    let prod = create(
        &c,
        &format!("{base}-prod"),
        &definition("one"),
        DEFAULT_ACCOUNT,
    )
    .await;
    set_alias(&c, &prod, "prod", &[("1", 100)]).await;
    let sandbox = Sandbox::new();
    sandbox.write(
        "promote.toml",
        &format!(
            "[envs]\norder = [\"staging\", \"prod\"]\n\n[stepfunctions]\nstate_machines = [\"{base}-{{env}}\"]\n"
        ),
    );
    // Version 2 of staging's state machine is not version 2 of prod's (it has none): the
    // definition is published there, as prod's version 2, and proven by its hash.
    let run = sandbox.run(BIN, &["promote", "--to", "prod"], None);
    let record = run.expect_code(0).record();
    assert_eq!(record["resource"], format!("{base}-prod"));
    assert_eq!(record["copied_from"]["version_arn"], format!("{staging}:2"));
    assert_eq!(record["artifact"]["version_arn"], format!("{prod}:2"));
    assert_eq!(
        definition_of(&c, &format!("{prod}:2")).await,
        definition("two")
    );
    assert_eq!(routing(&prod, "prod").await, plain("2"));
    // Promoting again: prod holds that definition already.
    let again = sandbox.run(BIN, &["promote", "--to", "prod"], None);
    assert_eq!(actions(again.expect_code(0)), ["unchanged"]);
}

#[tokio::test]
async fn atomic_makes_no_write_when_one_state_machine_fails_its_checks() {
    let (name, arn, sandbox) = setup().await;
    let missing = unique("nosuch");
    let run = sandbox.run(
        BIN,
        &["promote", &name, &missing, "--to", "prod", "--atomic"],
        None,
    );
    run.expect_code(4);
    assert!(run.stderr.contains("--atomic"), "{run}");
    assert_eq!(routing(&arn, "prod").await, plain("1"), "no write at all");
    let errors: Vec<Value> = run
        .records()
        .into_iter()
        .filter(|r| r["action"] == "error")
        .collect();
    assert_eq!(errors.len(), 1, "{run}");
    assert_eq!(errors[0]["resource"], missing.as_str());
}

#[tokio::test]
async fn an_error_upstream_stops_the_promotion_and_travels_on() {
    let (_name, arn, sandbox) = setup().await;
    let manifest = sandbox.run(BIN, &["status", "--env", "staging"], None);
    let failed = r#"{"service":"lambda","action":"error","resource":"orders-api","env":"staging","message":"boom","exit_code":3}"#;
    let input = format!("{}{failed}\n", manifest.expect_code(0).stdout);
    let run = sandbox.run(BIN, &["promote", "--to", "prod"], Some(&input));
    run.expect_code(3);
    assert_eq!(routing(&arn, "prod").await, plain("1"), "nothing changed");
    assert!(
        run.records().iter().any(|r| r["action"] == "error"),
        "the failure is passed on\n{run}"
    );
    let skipped = sandbox.run(
        BIN,
        &["promote", "--to", "prod", "--skip-failed"],
        Some(&input),
    );
    skipped.expect_code(0);
    assert_eq!(routing(&arn, "prod").await, plain("2"));
}

#[tokio::test]
async fn promote_canary_shifts_every_alias_of_the_release_together() {
    let (name, arn, sandbox) = setup().await;
    let c = client();
    let other = format!("{name}-b");
    let other_arn = create(&c, &other, &definition("b-one"), DEFAULT_ACCOUNT).await;
    assert_eq!(
        sfn::publish(&c, &other_arn, &definition("b-two")).await,
        "2"
    );
    set_alias(&c, &other_arn, "prod", &[("1", 100)]).await;
    set_alias(&c, &other_arn, "staging", &[("2", 100)]).await;
    let alarm = format!("{name}-prod-errors");
    create_alarm(&alarm).await;
    sandbox.write(
        "promote.toml",
        &format!(
            "[envs]\norder = [\"staging\", \"prod\"]\n\n[stepfunctions]\nstate_machines = [\"{name}\", \"{other}\"]\n\n[canary]\nalarms = [\"{name}-{{env}}-*\"]\n"
        ),
    );
    let run = sandbox.run(
        BIN,
        &[
            "promote",
            "--to",
            "prod",
            "--steps",
            "40",
            "--interval",
            "1s",
            "--poll-interval",
            "1s",
        ],
        None,
    );
    run.expect_code(0);
    assert_eq!(
        actions(&run),
        ["canary", "canary", "promoted", "promoted"],
        "{run}"
    );
    assert_eq!(run.records()[0]["artifact"]["weights"]["2"], 40);
    assert_eq!(run.records()[1]["shift"]["alarms"][&alarm], "OK", "{run}");
    assert_eq!(routing(&arn, "prod").await, plain("2"));
    assert_eq!(routing(&other_arn, "prod").await, plain("2"));
    // Whole percents only, checked before anything is read.
    let half = sandbox.run(BIN, &["promote", "--to", "prod", "--steps", "12.5"], None);
    half.expect_code(2);
}
