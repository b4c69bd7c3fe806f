//! lambda-promote's real binary against the emulator: every subcommand, dry runs, pass-through,
//! the rollback round trip, refusals and bad input. Each test reads the emulator back to prove
//! what changed (or that nothing did).

#![allow(clippy::unwrap_used, clippy::expect_used)] // reason: tests fail loudly

use serde_json::{json, Value};
use test_harness::lambda::{
    self, alias, code_sha256, create_function, publish, set_alias, update_code,
};
use test_harness::{unique, Sandbox};

const BIN: &str = env!("CARGO_BIN_EXE_lambda-promote");

/// A function with `versions` published versions, each with different code.
async fn function_with_versions(versions: usize) -> String {
    let name = unique("fn");
    create_function(&name, "v1", &[("STAGE", "test")]).await;
    for v in 1..=versions {
        if v > 1 {
            update_code(&name, &format!("v{v}")).await;
        }
        assert_eq!(publish(&name).await, v.to_string());
    }
    name
}

fn toml(functions: &[&str]) -> String {
    let list: Vec<String> = functions.iter().map(|f| format!("{f:?}")).collect();
    format!(
        "[envs]\norder = [\"dev\", \"staging\", \"prod\"]\n\n[lambda]\nfunctions = [{}]\n",
        list.join(", ")
    )
}

async fn version_of(function: &str, alias_name: &str) -> Option<String> {
    alias(function, alias_name).await.map(|(v, _)| v)
}

#[tokio::test]
async fn publish_makes_a_version_and_moves_the_environment_alias() {
    let f = unique("fn");
    create_function(&f, "one", &[]).await;
    let sandbox = Sandbox::new();

    let first = sandbox.run(BIN, &["publish", &f, "--env", "dev"], None);
    let record = first.expect_code(0).record();
    assert_eq!(record["service"], "lambda");
    assert_eq!(record["action"], "published");
    assert_eq!(record["resource"], f.as_str());
    assert_eq!(record["region"], "us-east-1");
    assert_eq!(record["env"], "dev");
    assert_eq!(record["pointer"], "dev");
    assert_eq!(record["artifact"]["version"], "1");
    assert_eq!(
        record["artifact"]["code_sha256"],
        code_sha256(&f, "1").await.as_str()
    );
    assert_eq!(record["previous"], Value::Null);
    assert_eq!(version_of(&f, "dev").await.as_deref(), Some("1"));

    update_code(&f, "two").await;
    let second = sandbox
        .run(BIN, &["publish", &f, "--env", "dev"], None)
        .record();
    assert_eq!(second["artifact"]["version"], "2");
    assert_eq!(second["previous"], record["artifact"]);
    assert_ne!(
        second["artifact"]["code_sha256"],
        record["artifact"]["code_sha256"]
    );
    assert_eq!(version_of(&f, "dev").await.as_deref(), Some("2"));
}

#[tokio::test]
async fn publish_without_an_environment_moves_no_alias() {
    let f = unique("fn");
    create_function(&f, "one", &[]).await;
    let record = Sandbox::new()
        .run(BIN, &["publish", &f], None)
        .expect_code(0)
        .record();
    assert_eq!(record["action"], "published");
    assert_eq!(record["pointer"], Value::Null);
    assert_eq!(record["artifact"]["version"], "1");
    assert!(lambda::client()
        .list_aliases()
        .function_name(&f)
        .send()
        .await
        .unwrap()
        .aliases()
        .is_empty());
}

#[tokio::test]
async fn publish_keeps_a_description_with_the_version() {
    let f = unique("fndesc");
    create_function(&f, "one", &[]).await;
    let sandbox = Sandbox::new();
    let record = sandbox
        .run(BIN, &["publish", &f, "--description", "git 4be6f00"], None)
        .expect_code(0)
        .record();
    let version = record["artifact"]["version"].as_str().unwrap().to_string();
    let config = lambda::client()
        .get_function_configuration()
        .function_name(&f)
        .qualifier(&version)
        .send()
        .await
        .unwrap();
    assert_eq!(config.description(), Some("git 4be6f00"));
    let long = "x".repeat(257);
    let run = sandbox.run(BIN, &["publish", &f, "--description", &long], None);
    run.expect_code(2);
    assert!(run.stderr.contains("at most 256"), "{run}");
}

/// A build is found by the description it was published with (a git commit), checked against
/// the order as a number is; `history` lists every version newest first with its description,
/// date, code hash and the aliases (environments) holding it, read back against the emulator.
#[tokio::test]
async fn history_lists_versions_and_promote_finds_a_build_by_its_description() {
    let f = unique("fnhist");
    create_function(&f, "one", &[]).await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &toml(&[&f]));
    for (marker, sha) in [("one", "git:1111111"), ("two", "git:2222222")] {
        if marker != "one" {
            update_code(&f, marker).await;
        }
        sandbox
            .run(
                BIN,
                &["publish", &f, "--env", "dev", "--description", sha],
                None,
            )
            .expect_code(0);
    }
    // dev holds version 2 (git:2222222). Staging by description: the chain allows it.
    let promoted = sandbox
        .run(
            BIN,
            &[
                "promote",
                &f,
                "--to",
                "staging",
                "--description",
                "git:2222222",
            ],
            None,
        )
        .expect_code(0)
        .record();
    assert_eq!(promoted["action"], "promoted", "{promoted}");
    assert_eq!(promoted["artifact"]["version"], "2");
    assert_eq!(version_of(&f, "staging").await.as_deref(), Some("2"));
    // Prod by the description of a build staging does not hold: refused, nothing moved.
    let refused = sandbox.run(
        BIN,
        &[
            "promote",
            &f,
            "--to",
            "prod",
            "--description",
            "git:1111111",
        ],
        None,
    );
    refused.expect_code(4);
    assert_eq!(version_of(&f, "prod").await, None);
    // An unknown description, or a prefix of one, names what it looked for (exit 4).
    let unknown = sandbox.run(
        BIN,
        &["promote", &f, "--to", "staging", "--description", "git:22"],
        None,
    );
    unknown.expect_code(4);
    assert!(unknown.stderr.contains("\"git:22\""), "{unknown}");
    // --description with --from is a usage error.
    sandbox
        .run(
            BIN,
            &[
                "promote",
                &f,
                "--to",
                "staging",
                "--from",
                "dev",
                "--description",
                "x",
            ],
            None,
        )
        .expect_code(2);

    let history = sandbox
        .run(BIN, &["history", &f, "--env", "staging"], None)
        .expect_code(0)
        .records();
    let versions: Vec<&str> = history
        .iter()
        .map(|r| r["artifact"]["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["2", "1"], "newest first");
    assert_eq!(history[0]["description"], "git:2222222");
    assert_eq!(history[1]["description"], "git:1111111");
    assert_eq!(
        history[0]["artifact"]["code_sha256"],
        code_sha256(&f, "2").await.as_str()
    );
    assert_eq!(history[0]["aliases"], json!(["dev", "staging"]));
    assert_eq!(history[0]["envs"], json!(["dev", "staging"]));
    assert_eq!(history[0]["current"], true);
    assert_eq!(history[1]["current"], false);
    assert_eq!(history[1]["aliases"], json!([]));
    assert!(
        history[0]["created"]
            .as_str()
            .is_some_and(|d| d.starts_with("20")),
        "{}",
        history[0]
    );
    assert_eq!(
        history[0]["pointer"],
        Value::Null,
        "a listing is not a pointer's state"
    );
    // A missing function is exit 4 naming it.
    let missing = sandbox.run(BIN, &["history", "no-such-fn"], None);
    missing.expect_code(4);
    assert!(missing.stderr.contains("no-such-fn"), "{missing}");
}

/// The published versions of a function, as Lambda lists them ($LATEST left out).
async fn versions(function: &str) -> Vec<String> {
    lambda::client()
        .list_versions_by_function()
        .function_name(function)
        .send()
        .await
        .unwrap()
        .versions()
        .iter()
        .filter_map(|v| v.version().map(str::to_string))
        .filter(|v| v != "$LATEST")
        .collect()
}

#[tokio::test]
async fn publishing_an_unchanged_latest_is_unchanged_with_the_same_version() {
    let f = unique("fn");
    create_function(&f, "one", &[]).await;
    let sandbox = Sandbox::new();
    let first = sandbox
        .run(BIN, &["publish", &f, "--env", "dev"], None)
        .expect_code(0)
        .record();
    assert_eq!(first["action"], "published");

    // Nothing changed since version 1: the same version, nothing written.
    let again = sandbox
        .run(BIN, &["publish", &f, "--env", "dev"], None)
        .expect_code(0)
        .record();
    assert_eq!(again["action"], "unchanged", "{again}");
    assert_eq!(again["artifact"], first["artifact"]);
    assert_eq!(again["previous"], first["artifact"]);
    let bare = sandbox
        .run(BIN, &["publish", &f], None)
        .expect_code(0)
        .record();
    assert_eq!(bare["action"], "unchanged", "{bare}");
    assert_eq!(bare["artifact"]["version"], "1");
    assert_eq!(versions(&f).await, ["1"]);
    assert_eq!(version_of(&f, "dev").await.as_deref(), Some("1"));

    // The alias moved elsewhere behind the tool's back: publishing the unchanged $LATEST moves
    // it back to version 1, a change (promoted, rollback-able) but no new artifact.
    update_code(&f, "two").await;
    assert_eq!(publish(&f).await, "2");
    set_alias(&f, "dev", "2").await;
    update_code(&f, "one").await;
    let moved = sandbox
        .run(BIN, &["publish", &f, "--env", "dev"], None)
        .expect_code(0)
        .record();
    assert_eq!(moved["action"], "published", "new code: {moved}");
    assert_eq!(moved["artifact"]["version"], "3");
    set_alias(&f, "dev", "2").await;
    let back = sandbox
        .run(BIN, &["publish", &f, "--env", "dev"], None)
        .expect_code(0)
        .record();
    assert_eq!(back["action"], "promoted", "{back}");
    assert_eq!(back["artifact"]["version"], "3");
    assert_eq!(back["previous"]["version"], "2");
    assert_eq!(version_of(&f, "dev").await.as_deref(), Some("3"));
    assert_eq!(versions(&f).await, ["1", "2", "3"]);
    sandbox
        .run(BIN, &["rollback"], Some(&back.to_string()))
        .expect_code(0);
    assert_eq!(version_of(&f, "dev").await.as_deref(), Some("2"));
}

#[tokio::test]
async fn promotes_dev_to_staging_to_prod_through_promote_toml() {
    let f = function_with_versions(2).await;
    let g = function_with_versions(1).await;
    set_alias(&f, "dev", "2").await;
    set_alias(&g, "dev", "1").await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &toml(&[&f, &g]));

    let run = sandbox.run(BIN, &["promote", "--to", "staging"], None);
    let records = run.expect_code(0).records();
    assert_eq!(records.len(), 2);
    assert_eq!(
        records[0]["resource"],
        f.as_str(),
        "records in promote.toml's order"
    );
    assert_eq!(records[1]["resource"], g.as_str());
    for r in &records {
        assert_eq!(r["action"], "promoted");
        assert_eq!(r["env"], "staging");
        assert_eq!(r["pointer"], "staging");
        assert_eq!(r["previous"], Value::Null, "the staging alias is new");
    }
    assert_eq!(records[0]["artifact"]["version"], "2");
    assert_eq!(
        records[0]["artifact"]["code_sha256"],
        code_sha256(&f, "2").await.as_str()
    );
    assert_eq!(version_of(&f, "staging").await.as_deref(), Some("2"));
    assert_eq!(version_of(&g, "staging").await.as_deref(), Some("1"));

    let prod = sandbox
        .run(BIN, &["promote", "--to", "prod"], None)
        .expect_code(0)
        .records();
    assert_eq!(prod[0]["artifact"]["version"], "2");
    assert_eq!(version_of(&f, "prod").await.as_deref(), Some("2"));

    // Again: prod already holds it, so nothing is written.
    let again = sandbox
        .run(BIN, &["promote", "--to", "prod"], None)
        .expect_code(0)
        .records();
    assert!(
        again.iter().all(|r| r["action"] == "unchanged"),
        "{again:?}"
    );
    assert_eq!(again[0]["previous"], again[0]["artifact"]);

    // prod moves again when staging does: the previous version is recorded.
    set_alias(&f, "staging", "1").await;
    let back = sandbox
        .run(BIN, &["promote", &f, "--to", "prod"], None)
        .expect_code(0)
        .record();
    assert_eq!(back["action"], "promoted");
    assert_eq!(back["artifact"]["version"], "1");
    assert_eq!(back["previous"]["version"], "2");
    assert_eq!(version_of(&f, "prod").await.as_deref(), Some("1"));
}

#[tokio::test]
async fn promotes_with_flags_alone_and_an_alias_template() {
    let f = function_with_versions(1).await;
    set_alias(&f, "live-qa", "1").await;
    let sandbox = Sandbox::new();
    let run = sandbox.run(BIN, &["promote", &f, "--from", "qa", "--to", "uat"], None);
    assert_eq!(
        run.code, 4,
        "no promote.toml: the alias is the environment's name\n{run}"
    );
    assert!(run.stderr.contains("has no alias qa"), "{run}");

    sandbox.write(
        "promote.toml",
        &format!("[envs]\norder = [\"qa\", \"uat\"]\n[lambda]\nfunctions = [\"{f}\"]\nalias = \"live-{{env}}\"\n"),
    );
    let record = sandbox
        .run(BIN, &["promote", "--to", "uat"], None)
        .expect_code(0)
        .record();
    assert_eq!(record["pointer"], "live-uat");
    assert_eq!(record["env"], "uat");
    assert_eq!(version_of(&f, "live-uat").await.as_deref(), Some("1"));
}

#[tokio::test]
async fn expect_refuses_unless_the_target_holds_that_version() {
    let f = function_with_versions(3).await;
    set_alias(&f, "staging", "3").await;
    set_alias(&f, "prod", "1").await;
    let sandbox = Sandbox::new();

    let refused = sandbox.run(
        BIN,
        &[
            "promote", &f, "--from", "staging", "--to", "prod", "--expect", "2",
        ],
        None,
    );
    refused.expect_code(4);
    // No change: the only record says what failed, for the tools after this one in a pipe.
    let failed = refused.record();
    assert_eq!(failed["action"], "error", "{refused}");
    assert_eq!(failed["exit_code"], 4, "{refused}");
    assert!(
        refused.stderr.contains("holds version 1, not version 2"),
        "{refused}"
    );
    assert_eq!(
        version_of(&f, "prod").await.as_deref(),
        Some("1"),
        "nothing changed"
    );

    let record = sandbox
        .run(
            BIN,
            &[
                "promote", &f, "--from", "staging", "--to", "prod", "--expect", "1",
            ],
            None,
        )
        .expect_code(0)
        .record();
    assert_eq!(record["artifact"]["version"], "3");
    assert_eq!(version_of(&f, "prod").await.as_deref(), Some("3"));
}

#[tokio::test]
async fn version_outside_the_chain_is_refused_unless_forced() {
    let f = function_with_versions(2).await;
    set_alias(&f, "staging", "1").await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &toml(&[&f]));

    let refused = sandbox.run(
        BIN,
        &["promote", &f, "--to", "prod", "--version", "2"],
        None,
    );
    refused.expect_code(4);
    assert!(
        refused.stderr.contains("not what staging holds"),
        "{refused}"
    );
    assert_eq!(version_of(&f, "prod").await, None, "nothing changed");

    let chained = sandbox.run(
        BIN,
        &["promote", &f, "--to", "prod", "--version", "1"],
        None,
    );
    assert_eq!(chained.expect_code(0).record()["artifact"]["version"], "1");

    let forced = sandbox.run(
        BIN,
        &["promote", &f, "--to", "prod", "--version", "2", "--force"],
        None,
    );
    assert_eq!(forced.expect_code(0).record()["artifact"]["version"], "2");
    assert_eq!(version_of(&f, "prod").await.as_deref(), Some("2"));
}

#[tokio::test]
async fn a_record_whose_code_differs_is_refused() {
    let f = function_with_versions(1).await;
    let sandbox = Sandbox::new();
    let forged = json!({"service": "lambda", "action": "resolved", "resource": f, "env": "staging",
        "pointer": "staging", "artifact": {"version": "1", "code_sha256": "bm90IHRoZSBzYW1lIGJpdHM="}});
    let run = sandbox.run(BIN, &["promote", "--to", "prod"], Some(&forged.to_string()));
    run.expect_code(4);
    assert!(run.stderr.contains("not the same bits"), "{run}");
    assert_eq!(version_of(&f, "prod").await, None);
}

#[tokio::test]
async fn dry_runs_plan_without_writing() {
    let f = function_with_versions(2).await;
    set_alias(&f, "staging", "2").await;
    set_alias(&f, "prod", "1").await;
    let sandbox = Sandbox::new();

    let record = sandbox
        .run(
            BIN,
            &[
                "--dry-run",
                "promote",
                &f,
                "--from",
                "staging",
                "--to",
                "prod",
            ],
            None,
        )
        .expect_code(0)
        .record();
    assert_eq!(record["action"], "planned");
    assert_eq!(record["planned_action"], "promoted");
    assert_eq!(record["artifact"]["version"], "2");
    assert_eq!(record["previous"]["version"], "1");

    let canary = sandbox
        .run(
            BIN,
            &[
                "canary",
                &f,
                "--env",
                "prod",
                "--version",
                "2",
                "--weight",
                "25",
                "--dry-run",
            ],
            None,
        )
        .expect_code(0)
        .record();
    assert_eq!(canary["planned_action"], "canary");
    assert_eq!(canary["artifact"]["weights"], json!({"2": 0.25}));

    let publish = sandbox
        .run(BIN, &["publish", &f, "--env", "dev", "--dry-run"], None)
        .expect_code(0)
        .record();
    assert_eq!(publish["planned_action"], "published");

    let promoted = json!({"service": "lambda", "action": "promoted", "resource": f, "env": "prod",
        "pointer": "prod", "artifact": {"version": "1", "code_sha256": code_sha256(&f, "1").await},
        "previous": {"version": "2", "code_sha256": code_sha256(&f, "2").await}});
    let rollback = sandbox
        .run(BIN, &["rollback", "--dry-run"], Some(&promoted.to_string()))
        .expect_code(0)
        .record();
    assert_eq!(rollback["planned_action"], "rolled_back");

    assert_eq!(
        alias(&f, "prod").await,
        Some(("1".into(), vec![])),
        "nothing changed"
    );
    assert_eq!(version_of(&f, "dev").await, None);
    assert_eq!(
        lambda::client()
            .list_versions_by_function()
            .function_name(&f)
            .send()
            .await
            .unwrap()
            .versions()
            .len(),
        3,
        "no version published ($LATEST, 1, 2)"
    );
}

#[tokio::test]
async fn canary_starts_finishes_and_aborts() {
    let f = function_with_versions(3).await;
    set_alias(&f, "prod", "1").await;
    let sandbox = Sandbox::new();

    let start = sandbox
        .run(
            BIN,
            &[
                "canary",
                &f,
                "--env",
                "prod",
                "--version",
                "2",
                "--weight",
                "10",
            ],
            None,
        )
        .expect_code(0)
        .record();
    assert_eq!(start["action"], "canary");
    assert_eq!(start["artifact"]["version"], "1");
    assert_eq!(start["artifact"]["weights"], json!({"2": 0.1}));
    assert_eq!(start["previous"]["version"], "1");
    assert_eq!(
        alias(&f, "prod").await,
        Some(("1".into(), vec![("2".into(), 0.1)]))
    );

    let status = sandbox
        .run(BIN, &["status", &f, "--env", "prod"], None)
        .expect_code(0)
        .record();
    assert_eq!(status["artifact"]["weights"], json!({"2": 0.1}));

    let finish = sandbox
        .run(BIN, &["canary", &f, "--env", "prod", "--finish"], None)
        .expect_code(0)
        .record();
    assert_eq!(finish["action"], "promoted");
    assert_eq!(finish["artifact"]["version"], "2");
    assert_eq!(
        finish["artifact"]["code_sha256"],
        code_sha256(&f, "2").await.as_str()
    );
    assert_eq!(alias(&f, "prod").await, Some(("2".into(), vec![])));

    sandbox
        .run(
            BIN,
            &[
                "canary",
                &f,
                "--env",
                "prod",
                "--version",
                "3",
                "--weight",
                "5",
            ],
            None,
        )
        .expect_code(0);
    let abort = sandbox
        .run(BIN, &["canary", &f, "--env", "prod", "--abort"], None)
        .expect_code(0)
        .record();
    assert_eq!(abort["action"], "rolled_back");
    assert_eq!(abort["previous"]["weights"], json!({"3": 0.05}));
    assert_eq!(alias(&f, "prod").await, Some(("2".into(), vec![])));

    let nothing = sandbox.run(BIN, &["canary", &f, "--env", "prod", "--finish"], None);
    nothing.expect_code(4);
    assert!(nothing.stderr.contains("no canary to finish"), "{nothing}");
}

#[tokio::test]
async fn rollback_restores_every_pointer_exactly() {
    let f = function_with_versions(3).await;
    let g = function_with_versions(2).await;
    set_alias(&f, "staging", "3").await;
    set_alias(&f, "prod", "1").await;
    set_alias(&g, "staging", "2").await; // g has no prod alias yet
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &toml(&[&f, &g]));

    let promoted = sandbox.run(BIN, &["promote", "--to", "prod"], None);
    promoted.expect_code(0);
    let canary = sandbox.run(
        BIN,
        &[
            "canary",
            &f,
            "--env",
            "prod",
            "--version",
            "2",
            "--weight",
            "20",
            // Staging holds 3: a canary of 2 in prod passes the order only by force.
            "--force",
        ],
        None,
    );
    canary.expect_code(0);
    assert_eq!(canary.record()["forced"], true, "{canary}");
    assert_eq!(
        alias(&f, "prod").await,
        Some(("3".into(), vec![("2".into(), 0.2)]))
    );
    assert_eq!(version_of(&g, "prod").await.as_deref(), Some("2"));
    let log = format!("{}{}", promoted.stdout, canary.stdout);

    let rolled = sandbox
        .run(BIN, &["rollback"], Some(&log))
        .expect_code(0)
        .records();
    assert_eq!(rolled.len(), 2, "one undo per pointer: {rolled:?}");
    assert!(rolled.iter().all(|r| r["action"] == "rolled_back"));
    assert_eq!(rolled[0]["resource"], f.as_str());
    assert_eq!(rolled[0]["artifact"]["version"], "1");
    assert_eq!(rolled[0]["previous"]["weights"], json!({"2": 0.2}));
    assert_eq!(
        rolled[1]["artifact"],
        Value::Null,
        "g's prod alias did not exist before"
    );
    assert_eq!(alias(&f, "prod").await, Some(("1".into(), vec![])));
    assert_eq!(
        version_of(&g, "prod").await,
        None,
        "the alias the promotion created is gone"
    );

    // Rolling back again finds every pointer already restored.
    let again = sandbox
        .run(BIN, &["rollback"], Some(&log))
        .expect_code(0)
        .records();
    assert!(
        again.iter().all(|r| r["action"] == "unchanged"),
        "{again:?}"
    );

    // And the rollback's own records undo the rollback.
    let redo: String = rolled.iter().map(|r| format!("{r}\n")).collect();
    sandbox.run(BIN, &["rollback"], Some(&redo)).expect_code(0);
    assert_eq!(
        alias(&f, "prod").await,
        Some(("3".into(), vec![("2".into(), 0.2)]))
    );
    assert_eq!(version_of(&g, "prod").await.as_deref(), Some("2"));
}

#[tokio::test]
async fn rollback_leaves_a_pointer_that_moved_since() {
    let f = function_with_versions(3).await;
    let g = function_with_versions(2).await;
    set_alias(&f, "staging", "2").await;
    set_alias(&f, "prod", "1").await;
    set_alias(&g, "staging", "2").await;
    set_alias(&g, "prod", "1").await;
    let sandbox = Sandbox::new();
    let log = sandbox
        .run(
            BIN,
            &["promote", &f, &g, "--from", "staging", "--to", "prod"],
            None,
        )
        .expect_code(0)
        .stdout
        .clone();
    set_alias(&f, "prod", "3").await; // someone else moved it

    let run = sandbox.run(BIN, &["rollback"], Some(&log));
    run.expect_code(4);
    assert!(
        run.stderr.contains("holds version 3, not version 2"),
        "{run}"
    );
    let records = run.records();
    assert_eq!(
        records.len(),
        2,
        "the other pointer is still rolled back\n{run}"
    );
    assert_eq!(records[0]["action"], "error", "{run}");
    assert_eq!(records[0]["resource"], f.as_str());
    assert_eq!(records[1]["resource"], g.as_str());
    assert_eq!(
        version_of(&f, "prod").await.as_deref(),
        Some("3"),
        "left as it was moved"
    );
    assert_eq!(version_of(&g, "prod").await.as_deref(), Some("1"));
}

#[tokio::test]
async fn other_services_pass_through_in_order_byte_for_byte() {
    let f = function_with_versions(1).await;
    set_alias(&f, "staging", "1").await;
    let sandbox = Sandbox::new();
    let ecs = r#"{"service":"ecs","action":"resolved","resource":"c/web",  "artifact":{"task_definition":"arn:x"},"n":1.50}"#;
    let s3 = r#"{"service":"s3","action":"promoted","resource":"b/k","pointer":"k"}"#;
    let manifest = format!(
        "{ecs}\n{}\n{s3}\n",
        json!({"service": "lambda", "action": "resolved", "resource": f, "env": "staging", "pointer": "staging",
               "artifact": {"version": "1", "code_sha256": code_sha256(&f, "1").await}})
    );
    let run = sandbox.run(BIN, &["promote", "--to", "prod"], Some(&manifest));
    run.expect_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{run}");
    assert_eq!(lines[0], ecs);
    assert!(lines[1].contains("\"action\":\"promoted\""), "{run}");
    assert_eq!(lines[2], s3);
    assert_eq!(version_of(&f, "prod").await.as_deref(), Some("1"));

    // rollback and status pass them through too.
    let rolled = sandbox.run(BIN, &["rollback"], Some(&run.stdout));
    rolled.expect_code(0);
    let lines: Vec<&str> = rolled.stdout.lines().collect();
    assert_eq!((lines[0], lines[2]), (ecs, s3));
    assert_eq!(version_of(&f, "prod").await, None);
}

#[tokio::test]
async fn a_manifest_promotes_exactly_its_artifacts_even_if_the_source_moved() {
    let f = function_with_versions(2).await;
    set_alias(&f, "staging", "1").await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &toml(&[&f]));
    let manifest = sandbox.run(BIN, &["status", "--env", "staging"], None);
    manifest.expect_code(0);
    assert_eq!(manifest.record()["env"], "staging");
    set_alias(&f, "staging", "2").await; // staging moves on after the manifest was taken

    let record = sandbox
        .run(BIN, &["promote", "--to", "prod"], Some(&manifest.stdout))
        .expect_code(0)
        .record();
    assert_eq!(record["artifact"]["version"], "1");
    assert_eq!(version_of(&f, "prod").await.as_deref(), Some("1"));

    // A manifest from the wrong environment is refused by the chain.
    let dev = manifest
        .stdout
        .replace("\"env\":\"staging\"", "\"env\":\"dev\"");
    let refused = sandbox.run(BIN, &["promote", "--to", "prod"], Some(&dev));
    refused.expect_code(4);
    assert!(
        refused
            .stderr
            .contains("prod takes what staging holds, not what dev holds"),
        "{refused}"
    );
    assert_eq!(refused.record()["action"], "error", "{refused}");
}

#[tokio::test]
async fn reads_json_arrays_and_pretty_printed_records() {
    let f = function_with_versions(1).await;
    let g = function_with_versions(1).await;
    let sandbox = Sandbox::new();
    let record = |name: &str, sha: String| {
        json!({"service": "lambda", "action": "resolved", "resource": name, "env": "staging",
               "artifact": {"version": "1", "code_sha256": sha}})
    };
    let array =
        serde_json::to_string_pretty(&json!([record(&f, code_sha256(&f, "1").await)])).unwrap();
    sandbox
        .run(BIN, &["promote", "--to", "prod"], Some(&array))
        .expect_code(0);
    let pretty = serde_json::to_string_pretty(&record(&g, code_sha256(&g, "1").await)).unwrap();
    sandbox
        .run(
            BIN,
            &["promote", "--to", "prod"],
            Some(&format!("{pretty}\n{pretty}\n")),
        )
        .expect_code(0);
    assert_eq!(version_of(&f, "prod").await.as_deref(), Some("1"));
    assert_eq!(version_of(&g, "prod").await.as_deref(), Some("1"));
}

#[tokio::test]
async fn status_shows_every_alias_or_one_environment() {
    let f = function_with_versions(2).await;
    set_alias(&f, "dev", "2").await;
    set_alias(&f, "prod", "1").await;
    let sandbox = Sandbox::new();
    let all = sandbox
        .run(BIN, &["status", &f], None)
        .expect_code(0)
        .records();
    let mut seen: Vec<(String, String)> = all
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
        [
            ("dev".to_string(), "2".to_string()),
            ("prod".to_string(), "1".to_string())
        ]
    );
    assert!(all.iter().all(|r| r["action"] == "resolved"));

    let one = sandbox
        .run(BIN, &["status", &f, "--env", "prod"], None)
        .expect_code(0)
        .record();
    assert_eq!(one["env"], "prod");
    assert_eq!(
        one["artifact"]["code_sha256"],
        code_sha256(&f, "1").await.as_str()
    );

    let table = sandbox
        .run(BIN, &["status", &f, "--output", "table"], None)
        .expect_code(0)
        .stdout
        .clone();
    assert!(
        table.contains("POINTER") && table.contains("version=2"),
        "{table}"
    );

    let missing = sandbox.run(BIN, &["status", &f, "--env", "qa"], None);
    missing.expect_code(4);
    assert!(missing.stderr.contains("has no alias qa"), "{missing}");
}

#[tokio::test]
async fn bad_input_changes_nothing_and_names_the_line() {
    let f = function_with_versions(1).await;
    set_alias(&f, "staging", "1").await;
    let sandbox = Sandbox::new();
    let good = json!({"service": "lambda", "action": "resolved", "resource": f, "env": "staging",
        "artifact": {"version": "1", "code_sha256": code_sha256(&f, "1").await}})
    .to_string();
    let cases = [
        (format!("{good}\n{{\"service\": \"lambda\", \n"), "stdin:2: truncated JSON"),
        (format!("{good}\nnot json\n"), "stdin:2: not valid JSON"),
        (format!("{good}\n{{\"service\":\"lamda\",\"action\":\"resolved\",\"resource\":\"x\"}}\n"), "stdin:2: unknown service \"lamda\""),
        (format!("{good}\n\n{{\"service\":\"lambda\",\"action\":\"resolved\"}}\n"), "stdin:3: record has no \"resource\""),
        (format!("{good}\n{{\"service\":\"lambda\",\"action\":\"resolved\",\"resource\":\"x\",\"artifact\":{{\"version\":7}}}}\n"), "stdin:2: lambda record's `artifact`"),
        (format!("{good}\n{{\"service\":\"lambda\",\"action\":\"resolved\",\"resource\":\"x\"}}\n"), "stdin:2: lambda record has no `artifact`"),
    ];
    for (input, message) in cases {
        let run = sandbox.run(BIN, &["promote", "--to", "prod"], Some(&input));
        run.expect_code(2);
        assert!(run.stdout.is_empty(), "{run}");
        assert!(run.stderr.contains(message), "expected {message:?}\n{run}");
    }
    let rollback = sandbox.run(BIN, &["rollback"], Some("{\"service\":\"lambda\",\"action\":\"promoted\",\"resource\":\"x\",\"pointer\":\"prod\",\"artifact\":\"7\"}"));
    rollback.expect_code(2);
    assert!(
        rollback.stderr.contains("stdin:1: wrong type in record"),
        "{rollback}"
    );
    assert_eq!(
        version_of(&f, "prod").await,
        None,
        "the good line before the bad one was not applied"
    );
}

#[tokio::test]
async fn bad_promote_toml_and_arguments_are_usage_errors() {
    let f = function_with_versions(1).await;
    set_alias(&f, "staging", "1").await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &format!("[envs]\norder = [\"staging\", \"prod\"]\n\n[lambda]\nfunctions = [\"{f}\"]\naliases = \"x\"\n"));
    let run = sandbox.run(BIN, &["promote", "--to", "prod"], None);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("promote.toml:6: unknown field `aliases`"),
        "{run}"
    );

    sandbox.write("promote.toml", &toml(&[&f]));
    let run = sandbox.run(BIN, &["promote", "--to", "production"], None);
    run.expect_code(2);
    assert!(run.stderr.contains("\"production\" is not in"), "{run}");

    let run = sandbox.run(BIN, &["--config", "missing.toml", "status"], None);
    run.expect_code(2);
    assert!(run.stderr.contains("missing.toml: cannot read"), "{run}");

    for args in [
        &["promote", &f, "--to", "prod", "--version", "$LATEST"][..],
        &[
            "canary",
            &f,
            "--env",
            "prod",
            "--version",
            "1",
            "--weight",
            "100",
        ],
        &["canary", &f, "--env", "prod"],
        &[
            "promote",
            "arn:aws:lambda:us-east-1:123456789012:function:f:prod",
            "--to",
            "prod",
        ],
    ] {
        sandbox.run(BIN, args, None).expect_code(2);
    }
    assert_eq!(version_of(&f, "prod").await, None);
}

#[tokio::test]
async fn function_arns_work_like_names_and_their_records_roll_back() {
    for form in ["arn", "partial"] {
        let f = function_with_versions(2).await;
        set_alias(&f, "staging", "2").await;
        set_alias(&f, "prod", "1").await;
        let named = match form {
            "arn" => format!("arn:aws:lambda:us-east-1:123456789012:function:{f}"),
            _ => format!("123456789012:function:{f}"),
        };
        let sandbox = Sandbox::new();
        let run = sandbox.run(
            BIN,
            &["promote", &named, "--from", "staging", "--to", "prod"],
            None,
        );
        let record = run.expect_code(0).record();
        // The record names the function canonically, whatever form named it.
        assert_eq!(record["resource"], f.as_str(), "{form}");
        assert_eq!(record["region"], "us-east-1", "{form}");
        assert_eq!(record["action"], "promoted", "{form}");
        assert_eq!(version_of(&f, "prod").await.as_deref(), Some("2"), "{form}");

        // status by that form, and the tool's own output back in.
        let status = sandbox
            .run(BIN, &["status", &named, "--env", "prod"], None)
            .expect_code(0)
            .record();
        assert_eq!(status["resource"], f.as_str(), "{form}");
        assert_eq!(status["artifact"]["version"], "2", "{form}");
        let back = sandbox
            .run(BIN, &["rollback"], Some(&run.stdout))
            .expect_code(0)
            .record();
        assert_eq!(back["action"], "rolled_back", "{form}");
        assert_eq!(back["resource"], f.as_str(), "{form}");
        assert_eq!(version_of(&f, "prod").await.as_deref(), Some("1"), "{form}");
    }
}

#[tokio::test]
async fn promote_toml_functions_by_arn_and_atomic_take_back() {
    // promote.toml names one function by ARN and one by partial ARN; the second cannot be
    // promoted (no staging alias), so --atomic takes the first back from the tool's own record.
    let f = function_with_versions(2).await;
    let g = function_with_versions(1).await;
    set_alias(&f, "staging", "2").await;
    set_alias(&f, "prod", "1").await;
    let sandbox = Sandbox::new();
    let arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{f}");
    let partial = format!("123456789012:function:{g}");
    sandbox.write("promote.toml", &toml(&[&arn, &partial]));
    let run = sandbox.run(BIN, &["promote", "--to", "prod", "--atomic"], None);
    run.expect_code(4);
    assert!(
        run.stderr.contains(&format!("{g} has no alias staging")),
        "{run}"
    );
    assert_eq!(version_of(&f, "prod").await.as_deref(), Some("1"), "{run}");
    // Without the missing one, both forms promote, and the records roll back.
    set_alias(&g, "staging", "1").await;
    let run = sandbox.run(BIN, &["promote", "--to", "prod"], None);
    let records = run.expect_code(0).records();
    let resources: Vec<&str> = records
        .iter()
        .map(|r| r["resource"].as_str().unwrap())
        .collect();
    assert_eq!(resources, [f.as_str(), g.as_str()], "{run}");
    assert_eq!(version_of(&g, "prod").await.as_deref(), Some("1"));
    sandbox
        .run(BIN, &["rollback"], Some(&run.stdout))
        .expect_code(0);
    assert_eq!(version_of(&f, "prod").await.as_deref(), Some("1"));
    assert_eq!(version_of(&g, "prod").await, None);
}

#[test]
fn a_qualified_function_is_refused_naming_the_flag_that_chooses_it() {
    let sandbox = Sandbox::offline();
    for (args, hint) in [
        (
            vec!["promote", "orders:prod", "--to", "prod"],
            "--to chooses the alias",
        ),
        (
            vec![
                "canary",
                "123456789012:function:orders:7",
                "--env",
                "prod",
                "--abort",
            ],
            "--env chooses the alias",
        ),
        (
            vec![
                "publish",
                "arn:aws:lambda:us-east-1:123456789012:function:orders:3",
            ],
            "--env chooses the alias",
        ),
        (vec!["status", "orders:prod"], "--env chooses the alias"),
    ] {
        let run = sandbox.run(BIN, &args, None);
        run.expect_code(2);
        assert!(
            run.stderr.contains("give the function alone"),
            "{args:?}\n{run}"
        );
        assert!(run.stderr.contains(hint), "{args:?}\n{run}");
    }
    // A record's resource with a qualifier: bad input naming the line, nothing changed.
    let record = r#"{"service":"lambda","action":"promoted","resource":"orders:prod","region":"us-east-1","env":"prod","pointer":"prod","artifact":{"version":"2","code_sha256":"x"},"previous":{"version":"1","code_sha256":"y"}}"#;
    let run = sandbox.run(BIN, &["rollback"], Some(record));
    run.expect_code(2);
    assert!(run.stderr.contains("stdin:1"), "{run}");
    assert!(run.stderr.contains("`pointer`"), "{run}");
}

#[test]
fn missing_credentials_fail_fast_with_a_clear_message() {
    let mut sandbox = Sandbox::offline();
    sandbox
        .env("AWS_ACCESS_KEY_ID", "")
        .env("AWS_SECRET_ACCESS_KEY", "");
    sandbox.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    let started = std::time::Instant::now();
    let run = sandbox.run(BIN, &["status", "some-function"], None);
    run.expect_code(3);
    assert!(run.stderr.contains("no AWS credentials found"), "{run}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        run.stderr.lines().count(),
        1,
        "one clear line, no backtrace\n{run}"
    );
}

#[test]
fn an_unreachable_endpoint_fails_within_seconds() {
    let mut sandbox = Sandbox::offline();
    sandbox.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    let started = std::time::Instant::now();
    let run = sandbox.run(BIN, &["status", "some-function", "--env", "prod"], None);
    run.expect_code(3);
    assert!(run.stderr.contains("could not reach AWS"), "{run}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn usage_errors_exit_2_without_touching_aws() {
    let sandbox = Sandbox::offline();
    sandbox.run(BIN, &["promote"], None).expect_code(2);
    sandbox.run(BIN, &["frobnicate"], None).expect_code(2);
    let run = sandbox.run(BIN, &["promote", "--to", "prod"], None);
    run.expect_code(2);
    assert!(run.stderr.contains("nothing to promote"), "{run}");
    let run = sandbox.run(BIN, &["rollback"], None);
    run.expect_code(2);
    assert!(
        run.stderr.contains("reads the records to undo on stdin"),
        "{run}"
    );
    sandbox.run(BIN, &["--help"], None).expect_code(0);
}

#[tokio::test]
async fn latest_never_reaches_another_environment() {
    let f = function_with_versions(2).await;
    set_alias(&f, "staging", "$LATEST").await;
    set_alias(&f, "prod", "1").await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &toml(&[&f]));

    // From the alias: refused, naming it and saying to publish.
    let run = sandbox.run(
        BIN,
        &["promote", &f, "--from", "staging", "--to", "prod"],
        None,
    );
    run.expect_code(4);
    assert!(
        run.stderr
            .contains(&format!("{f} alias staging (staging) holds $LATEST")),
        "{run}"
    );
    assert!(run.stderr.contains("publish a version"), "{run}");
    assert_eq!(run.record()["action"], "error");
    // From a manifest that says $LATEST (status reports what the alias holds): refused too.
    let manifest = sandbox
        .run(BIN, &["status", &f, "--env", "staging"], None)
        .expect_code(0)
        .stdout
        .clone();
    assert!(manifest.contains("\"version\":\"$LATEST\""), "{manifest}");
    let run = sandbox.run(BIN, &["promote", "--to", "prod"], Some(&manifest));
    run.expect_code(4);
    assert!(run.stderr.contains("holds $LATEST"), "{run}");
    assert_eq!(version_of(&f, "prod").await.as_deref(), Some("1"));
}

#[tokio::test]
async fn a_missing_function_is_named_as_missing_with_exit_4() {
    let missing = unique("nofn");
    let sandbox = Sandbox::new();
    for args in [
        vec!["status", missing.as_str(), "--env", "prod"],
        vec!["publish", missing.as_str()],
        vec![
            "promote",
            missing.as_str(),
            "--from",
            "staging",
            "--to",
            "prod",
        ],
    ] {
        let run = sandbox.run(BIN, &args, None);
        run.expect_code(4);
        assert!(
            run.stderr
                .contains(&format!("function {missing} does not exist")),
            "{args:?}\n{run}"
        );
        assert_eq!(run.record()["action"], "error", "{args:?}\n{run}");
    }
}

#[tokio::test]
async fn a_canary_on_a_missing_version_is_exit_4_naming_it() {
    let f = function_with_versions(1).await;
    set_alias(&f, "prod", "1").await;
    let run = Sandbox::new().run(
        BIN,
        &[
            "canary",
            &f,
            "--env",
            "prod",
            "--version",
            "9",
            "--weight",
            "10",
        ],
        None,
    );
    run.expect_code(4);
    assert!(
        run.stderr.contains(&format!("{f} has no version 9")),
        "{run}"
    );
    assert_eq!(
        alias(&f, "prod").await.map(|(v, w)| (v, w.is_empty())),
        Some(("1".into(), true))
    );
}
