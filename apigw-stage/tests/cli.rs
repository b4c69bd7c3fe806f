//! apigw-stage's real binary against the emulator: deploy, promote (the target's variables kept),
//! history, vars, the rollback round trip, refusals, name resolution, dry runs, pass-through and
//! bad input, where the work comes from (an empty pipe, a failure upstream), the promotion order,
//! --atomic, each checked by reading the emulator back. Canaries are tested with mocks
//! (tests/mocks.rs): the emulator's canary settings are unusable (only a refused canary, which
//! writes nothing, is run here).

#![allow(clippy::unwrap_used, clippy::expect_used)] // reason: tests fail loudly

use serde_json::Value;
use test_harness::apigateway::{
    api_on_three_stages, create_api, create_stage, deploy, set_stage, stage,
};
use test_harness::{unique, Sandbox};

const BIN: &str = env!("CARGO_BIN_EXE_apigw-stage");

/// An API with staging and prod on deployment one, each with its own variables.
struct Api {
    name: String,
    id: String,
    one: String,
}

impl Api {
    async fn new() -> Api {
        let name = unique("orders");
        let id = create_api(&name).await;
        let one = deploy(&id, "one").await;
        create_stage(
            &id,
            "staging",
            &one,
            &[("DB_HOST", "db.staging"), ("API_TOKEN", "tok-staging-1f9e")],
        )
        .await;
        create_stage(
            &id,
            "prod",
            &one,
            &[("DB_HOST", "db.prod"), ("API_TOKEN", "tok-prod-77aa")],
        )
        .await;
        Api { name, id, one }
    }

    fn toml(&self) -> String {
        format!(
            "[envs]\norder = [\"staging\", \"prod\"]\n\n[apigateway]\nrest_api = \"{}\"\n",
            self.name
        )
    }

    async fn runs(&self, env: &str) -> Option<String> {
        stage(&self.id, env).await.map(|(d, _)| d)
    }
}

/// A record of API `id`'s staging stage running `deployment`, as `status --env staging` prints it.
fn staging_record(id: &str, deployment: &str) -> String {
    format!(
        "{}\n",
        serde_json::json!({"service": "apigateway", "action": "resolved", "resource": id,
                           "env": "staging", "pointer": "staging",
                           "artifact": {"deployment_id": deployment}})
    )
}

#[tokio::test]
async fn deploy_then_promote_keeps_each_stages_variables() {
    let api = Api::new().await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &api.toml());
    let (_, prod_vars) = stage(&api.id, "prod").await.unwrap();

    let deployed = sandbox
        .run(
            BIN,
            &["deploy", "--env", "staging", "--description", "two"],
            None,
        )
        .expect_code(0)
        .record();
    assert_eq!(deployed["service"], "apigateway");
    assert_eq!(deployed["action"], "published");
    assert_eq!(
        deployed["resource"],
        api.id.as_str(),
        "records carry the API's id, not its name"
    );
    assert_eq!(deployed["pointer"], "staging");
    assert_eq!(deployed["previous"]["deployment_id"], api.one.as_str());
    let two = deployed["artifact"]["deployment_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(two, api.one);
    assert_eq!(api.runs("staging").await, Some(two.clone()));

    let promoted = sandbox
        .run(BIN, &["promote", "--to", "prod"], None)
        .expect_code(0)
        .record();
    assert_eq!(promoted["action"], "promoted");
    assert_eq!(promoted["env"], "prod");
    assert_eq!(promoted["artifact"]["deployment_id"], two.as_str());
    assert_eq!(promoted["previous"]["deployment_id"], api.one.as_str());
    let (now, vars) = stage(&api.id, "prod").await.unwrap();
    assert_eq!(now, two, "prod runs staging's deployment");
    assert_eq!(vars, prod_vars, "prod's variables are its own, unchanged");

    let again = sandbox
        .run(BIN, &["promote", "--to", "prod"], None)
        .expect_code(0)
        .record();
    assert_eq!(again["action"], "unchanged");
}

#[tokio::test]
async fn promote_creates_a_missing_stage_and_rollback_deletes_it() {
    let api = Api::new().await;
    let sandbox = Sandbox::new();
    let record = sandbox
        .run(
            BIN,
            &["promote", &api.id, "--from", "staging", "--to", "qa"],
            None,
        )
        .expect_code(0)
        .record();
    assert_eq!(record["previous"], Value::Null);
    assert_eq!(api.runs("qa").await, Some(api.one.clone()));
    let rolled = sandbox
        .run(BIN, &["rollback"], Some(&format!("{record}\n")))
        .expect_code(0)
        .record();
    assert_eq!(rolled["action"], "rolled_back");
    assert_eq!(rolled["artifact"], Value::Null);
    assert_eq!(api.runs("qa").await, None);
}

#[tokio::test]
async fn rollback_round_trip_and_a_stage_moved_since() {
    let api = Api::new().await;
    let two = deploy(&api.id, "two").await;
    set_stage(&api.id, "staging", &two).await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &api.toml());
    let ecs = r#"{"service":"ecs","action":"promoted","resource":"c/web","pointer":"web"}"#;
    let promoted = sandbox.run(BIN, &["promote", "--to", "prod"], None);
    promoted.expect_code(0);
    let log = format!("{ecs}\n{}", promoted.stdout);
    assert_eq!(api.runs("prod").await, Some(two.clone()));

    let rolled = sandbox.run(BIN, &["rollback"], Some(&log));
    rolled.expect_code(0);
    let lines: Vec<&str> = rolled.stdout.lines().collect();
    assert_eq!(
        lines[0], ecs,
        "other services pass through first, byte for byte"
    );
    assert_eq!(rolled.records()[1]["action"], "rolled_back");
    assert_eq!(api.runs("prod").await, Some(api.one.clone()));
    let again = sandbox
        .run(BIN, &["rollback"], Some(&log))
        .expect_code(0)
        .records();
    assert_eq!(again[1]["action"], "unchanged");

    // Promote again, then someone moves prod: rollback leaves it alone.
    let promoted = sandbox
        .run(BIN, &["promote", "--to", "prod"], None)
        .expect_code(0)
        .stdout
        .clone();
    let three = deploy(&api.id, "three").await;
    set_stage(&api.id, "prod", &three).await;
    let run = sandbox.run(BIN, &["rollback"], Some(&promoted));
    run.expect_code(4);
    assert!(run.stderr.contains("it was changed since"), "{run}");
    assert_eq!(api.runs("prod").await, Some(three));
}

#[tokio::test]
async fn expect_and_dry_run_change_nothing() {
    let api = Api::new().await;
    let two = deploy(&api.id, "two").await;
    set_stage(&api.id, "staging", &two).await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &api.toml());

    let run = sandbox.run(BIN, &["promote", "--to", "prod", "--expect", "nope"], None);
    run.expect_code(4);
    assert!(
        run.stderr.contains("not deployment nope as --expect says"),
        "{run}"
    );
    let planned = sandbox
        .run(BIN, &["promote", "--to", "prod", "--dry-run"], None)
        .expect_code(0)
        .record();
    assert_eq!(planned["action"], "planned");
    assert_eq!(planned["planned_action"], "promoted");
    assert_eq!(planned["artifact"]["deployment_id"], two.as_str());
    // A new deployment goes into the first environment only: prod's needs --force.
    let refused = sandbox.run(BIN, &["deploy", "--env", "prod", "--dry-run"], None);
    refused.expect_code(4);
    assert!(
        refused
            .stderr
            .contains("a new artifact goes into staging only; prod takes what staging holds"),
        "{refused}"
    );
    assert_eq!(refused.record()["action"], "error", "{refused}");
    let deploy_plan = sandbox
        .run(
            BIN,
            &["deploy", "--env", "prod", "--dry-run", "--force"],
            None,
        )
        .expect_code(0)
        .record();
    assert_eq!(deploy_plan["planned_action"], "published");
    assert_eq!(deploy_plan["forced"], true);
    assert_eq!(api.runs("prod").await, Some(api.one.clone()));

    sandbox
        .run(
            BIN,
            &["promote", "--to", "prod", "--expect", &api.one],
            None,
        )
        .expect_code(0);
    assert_eq!(api.runs("prod").await, Some(two));
}

#[tokio::test]
async fn a_manifest_promotes_its_deployment_even_if_staging_moved() {
    let api = Api::new().await;
    let two = deploy(&api.id, "two").await;
    set_stage(&api.id, "staging", &two).await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &api.toml());
    let manifest = sandbox.run(BIN, &["status", "--env", "staging"], None);
    assert_eq!(manifest.record()["artifact"]["deployment_id"], two.as_str());
    let three = deploy(&api.id, "three").await;
    set_stage(&api.id, "staging", &three).await;

    let record = sandbox
        .run(BIN, &["promote", "--to", "prod"], Some(&manifest.stdout))
        .expect_code(0)
        .record();
    assert_eq!(record["artifact"]["deployment_id"], two.as_str());
    assert_eq!(api.runs("prod").await, Some(two));
    // A record naming a deployment the API does not have is refused: tested with mocks, as the
    // emulator answers GetDeployment of an unknown id with an HTML error page.
}

#[tokio::test]
async fn vars_history_and_status() {
    let api = Api::new().await;
    let two = deploy(&api.id, "two").await;
    set_stage(&api.id, "staging", &two).await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &api.toml());

    let vars = sandbox.run(BIN, &["vars", "--env", "prod", "-vvv"], None);
    let record = vars.expect_code(0).record();
    assert_eq!(record["service"], "config");
    assert_eq!(record["source"], "apigateway");
    assert_eq!(record["artifact"]["variables"]["DB_HOST"], "db.prod");
    let token = record["artifact"]["variables"]["API_TOKEN"]
        .as_str()
        .unwrap();
    assert!(token.starts_with("secret:"), "{token}");
    assert!(
        !vars.stdout.contains("tok-prod-77aa") && !vars.stderr.contains("tok-prod-77aa"),
        "a secret was printed"
    );

    let history = sandbox
        .run(BIN, &["history", "--env", "prod"], None)
        .expect_code(0)
        .records();
    let ids: Vec<&str> = history
        .iter()
        .map(|r| r["artifact"]["deployment_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [two.as_str(), api.one.as_str()], "newest first");
    assert_eq!(history[0]["stages"], serde_json::json!(["staging"]));
    assert_eq!(history[1]["current"], true, "prod runs deployment one");
    assert_eq!(history[0]["pointer"], Value::Null);

    let status = sandbox.run(BIN, &["status"], None).expect_code(0).records();
    let mut stages: Vec<(String, String)> = status
        .iter()
        .map(|r| {
            (
                r["env"].as_str().unwrap().to_string(),
                r["artifact"]["deployment_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    stages.sort();
    assert_eq!(
        stages,
        [
            ("prod".to_string(), api.one.clone()),
            ("staging".to_string(), two.clone())
        ]
    );
}

#[tokio::test]
async fn apis_are_found_by_id_or_name_and_a_shared_name_is_refused() {
    let api = Api::new().await;
    let sandbox = Sandbox::new();
    let by_name = sandbox
        .run(BIN, &["status", &api.name, "--env", "prod"], None)
        .expect_code(0)
        .record();
    let by_id = sandbox
        .run(BIN, &["status", &api.id, "--env", "prod"], None)
        .expect_code(0)
        .record();
    assert_eq!(by_name, by_id);

    let twin = create_api(&api.name).await;
    let run = sandbox.run(BIN, &["status", &api.name], None);
    run.expect_code(2);
    assert!(
        run.stderr.contains(&api.id) && run.stderr.contains(&twin),
        "lists both ids\n{run}"
    );
    let run = sandbox.run(BIN, &["status", "no-such-api-anywhere"], None);
    run.expect_code(4);
}

#[tokio::test]
async fn bad_input_changes_nothing_and_names_the_line() {
    let api = Api::new().await;
    let two = deploy(&api.id, "two").await;
    set_stage(&api.id, "staging", &two).await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &api.toml());
    let good = sandbox
        .run(BIN, &["status", "--env", "staging"], None)
        .stdout
        .clone();
    for (input, message) in [
        (format!("{good}[1"), "stdin:2: truncated JSON"),
        (format!("{good}{{\"service\":\"apigateway\",\"action\":\"resolved\",\"resource\":\"x\",\"artifact\":{{\"deployment\":\"d\"}}}}\n"), "stdin:2: apigateway record's `artifact`"),
        (format!("{good}{{\"service\":\"apigateway\",\"action\":\"resolved\"}}\n"), "stdin:2: record has no \"resource\""),
    ] {
        let run = sandbox.run(BIN, &["promote", "--to", "prod"], Some(&input));
        run.expect_code(2);
        assert!(run.stderr.contains(message), "expected {message:?}\n{run}");
    }
    assert_eq!(api.runs("prod").await, Some(api.one.clone()));

    sandbox.write("promote.toml", &format!("{}stages = \"x\"\n", api.toml()));
    let run = sandbox.run(BIN, &["promote", "--to", "prod"], None);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("promote.toml:6: unknown field `stages`"),
        "{run}"
    );
    Sandbox::new()
        .run(
            BIN,
            &[
                "canary",
                &api.id,
                "--env",
                "prod",
                "--deployment",
                &two,
                "--weight",
                "0",
            ],
            None,
        )
        .expect_code(2);
    assert_eq!(api.runs("prod").await, Some(api.one.clone()));
}

#[tokio::test]
async fn an_empty_pipe_is_no_work_not_everything() {
    let api = Api::new().await;
    let two = deploy(&api.id, "two").await;
    set_stage(&api.id, "staging", &two).await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &api.toml());

    // A filter upstream that matched nothing: refused, not "promote what staging runs".
    let run = sandbox.run(BIN, &["promote", "--to", "prod"], Some(""));
    run.expect_code(2);
    assert!(
        run.stderr.contains("no records on stdin; pass --from ENV"),
        "{run}"
    );
    assert!(run.stdout.is_empty(), "{run}");
    assert_eq!(api.runs("prod").await, Some(api.one.clone()));

    // --from asks for what an environment runs now, whatever stdin is.
    let record = sandbox
        .run(
            BIN,
            &["promote", "--from", "staging", "--to", "prod"],
            Some(""),
        )
        .expect_code(0)
        .record();
    assert_eq!(record["action"], "promoted");
    assert_eq!(api.runs("prod").await, Some(two));
}

#[tokio::test]
async fn a_failure_upstream_stops_the_run_unless_skip_failed() {
    let api = Api::new().await;
    let two = deploy(&api.id, "two").await;
    set_stage(&api.id, "staging", &two).await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &api.toml());
    let failed = r#"{"service":"lambda","action":"error","resource":"orders-fn","env":"prod","pointer":"prod","message":"orders-fn has no alias staging","exit_code":4}"#;
    let stdin = format!("{failed}\n{}", staging_record(&api.id, &two));

    let run = sandbox.run(BIN, &["promote", "--to", "prod"], Some(&stdin));
    run.expect_code(3);
    assert!(
        run.stderr
            .contains("a tool before this one failed on lambda orders-fn"),
        "{run}"
    );
    assert!(run.stderr.contains("--skip-failed"), "{run}");
    let records = run.records();
    assert_eq!(
        records.len(),
        1,
        "the failure is passed on, nothing else\n{run}"
    );
    assert_eq!(records[0]["action"], "error");
    assert_eq!(records[0]["service"], "lambda");
    assert_eq!(
        api.runs("prod").await,
        Some(api.one.clone()),
        "nothing changed"
    );

    let run = sandbox.run(
        BIN,
        &["promote", "--to", "prod", "--skip-failed"],
        Some(&stdin),
    );
    run.expect_code(0);
    let records = run.records();
    assert_eq!(records.len(), 2, "{run}");
    assert_eq!(
        records[0]["service"], "lambda",
        "still passed on, in its place"
    );
    assert_eq!(records[1]["action"], "promoted");
    assert_eq!(records[1]["artifact"]["deployment_id"], two.as_str());
    assert_eq!(api.runs("prod").await, Some(two));
}

#[tokio::test]
async fn the_order_is_kept_on_every_path_unless_forced() {
    let name = unique("chain");
    let (id, one, two) = api_on_three_stages(&name).await;
    let three = deploy(&id, "three").await;
    set_stage(&id, "dev", &three).await;
    let runs = |env: &'static str| {
        let id = id.clone();
        async move { stage(&id, env).await.map(|(d, _)| d) }
    };
    let sandbox = Sandbox::new();
    sandbox.write(
        "promote.toml",
        &format!("[envs]\norder = [\"dev\", \"staging\", \"prod\"]\n\n[apigateway]\nrest_api = \"{name}\"\n"),
    );

    // --from that skips staging: refused for the whole run.
    let run = sandbox.run(BIN, &["promote", "--from", "dev", "--to", "prod"], None);
    run.expect_code(4);
    assert!(
        run.stderr.contains(
            "prod takes what staging holds, not what dev holds (promote.toml's order: dev → staging → prod); \
             nothing changed (pass --force to do it anyway)"
        ),
        "{run}"
    );
    assert_eq!(runs("prod").await, Some(one.clone()));

    // A record from dev: that pointer's failure, as an `error` record.
    let dev = sandbox
        .run(BIN, &["status", "--env", "dev"], None)
        .expect_code(0)
        .stdout
        .clone();
    let run = sandbox.run(BIN, &["promote", "--to", "prod"], Some(&dev));
    run.expect_code(4);
    assert!(
        run.stderr
            .contains("prod takes what staging holds, not what dev holds"),
        "{run}"
    );
    let failed = run.record();
    assert_eq!(failed["action"], "error", "{run}");
    assert_eq!(failed["resource"], id.as_str());
    assert_eq!(failed["pointer"], "prod");
    assert_eq!(runs("prod").await, Some(one.clone()));

    // A canary of a deployment staging does not run: refused before any write.
    let run = sandbox.run(
        BIN,
        &[
            "canary",
            "--env",
            "prod",
            "--deployment",
            &three,
            "--weight",
            "10",
        ],
        None,
    );
    run.expect_code(4);
    assert!(
        run.stderr.contains(&format!(
            "deployment {three} is not what staging holds (deployment {two}), and prod takes only that"
        )),
        "{run}"
    );
    assert_eq!(run.record()["action"], "error", "{run}");
    assert_eq!(runs("prod").await, Some(one.clone()));

    // A new deployment straight into staging: refused; dev takes new deployments.
    let run = sandbox.run(BIN, &["deploy", "--env", "staging"], None);
    run.expect_code(4);
    assert!(
        run.stderr.contains("a new artifact goes into dev only"),
        "{run}"
    );
    assert_eq!(runs("staging").await, Some(two.clone()));

    // --force: moved, and the record says so.
    let forced = sandbox
        .run(
            BIN,
            &["promote", "--from", "dev", "--to", "prod", "--force"],
            None,
        )
        .expect_code(0)
        .record();
    assert_eq!(forced["action"], "promoted");
    assert_eq!(forced["forced"], true);
    assert_eq!(forced["artifact"]["deployment_id"], three.as_str());
    assert_eq!(runs("prod").await, Some(three.clone()));

    // A move the order allows is never marked, --force or not.
    let allowed = sandbox
        .run(BIN, &["promote", "--to", "prod", "--force"], None)
        .expect_code(0)
        .record();
    assert_eq!(allowed["artifact"]["deployment_id"], two.as_str());
    assert_eq!(allowed["forced"], Value::Null, "{allowed}");
    assert_eq!(runs("prod").await, Some(two));
}

#[tokio::test]
async fn atomic_with_a_missing_api_changes_nothing_at_all() {
    let a = Api::new().await;
    let b = Api::new().await;
    let a_two = deploy(&a.id, "two").await;
    let b_two = deploy(&b.id, "two").await;
    let sandbox = Sandbox::new();
    // An id no API has, between two that exist.
    let stdin = format!(
        "{}{}{}",
        staging_record(&a.id, &a_two),
        staging_record("zzzzzzzzzz", &a_two),
        staging_record(&b.id, &b_two)
    );

    let run = sandbox.run(BIN, &["promote", "--to", "prod", "--atomic"], Some(&stdin));
    run.expect_code(4);
    assert!(
        run.stderr
            .contains("--atomic: 1 of 3 items failed its checks; none of the 2 moves was made"),
        "{run}"
    );
    let failed = run.record();
    assert_eq!(failed["action"], "error", "{run}");
    assert_eq!(failed["resource"], "zzzzzzzzzz");
    assert_eq!(a.runs("prod").await, Some(a.one.clone()), "no write at all");
    assert_eq!(b.runs("prod").await, Some(b.one.clone()), "no write at all");

    // Without --atomic the others go ahead.
    let run = sandbox.run(BIN, &["promote", "--to", "prod"], Some(&stdin));
    run.expect_code(4);
    let actions: Vec<Value> = run.records().iter().map(|r| r["action"].clone()).collect();
    assert_eq!(actions, ["promoted", "error", "promoted"], "{run}");
    assert_eq!(a.runs("prod").await, Some(a_two));
    assert_eq!(b.runs("prod").await, Some(b_two));
}

#[tokio::test]
async fn rollback_of_records_that_changed_nothing_says_so() {
    let api = Api::new().await;
    let sandbox = Sandbox::new();
    let status = sandbox
        .run(BIN, &["status", &api.id], None)
        .expect_code(0)
        .stdout
        .clone();
    let ecs = r#"{"service":"ecs","action":"resolved","resource":"c/web","pointer":"web"}"#;
    for stdin in [status.clone(), format!("{ecs}\n{status}"), String::new()] {
        let run = sandbox.run(BIN, &["rollback"], Some(&stdin));
        run.expect_code(0);
        assert!(
            run.stderr
                .contains("no apigateway change records on stdin: nothing to roll back"),
            "{run}"
        );
        let passed: Vec<&str> = run.stdout.lines().collect();
        let expected: Vec<&str> = if stdin.starts_with(ecs) {
            vec![ecs]
        } else {
            vec![]
        };
        assert_eq!(passed, expected, "only other services pass through\n{run}");
    }
    assert_eq!(api.runs("prod").await, Some(api.one.clone()));
    assert_eq!(api.runs("staging").await, Some(api.one.clone()));
}

#[tokio::test]
async fn a_missing_api_or_stage_is_named_with_exit_4_in_every_command() {
    let api = Api::new().await;
    let sandbox = Sandbox::new();
    let no_id = "zzzzzzzzz9";
    let no_name = unique("no-such-api");
    for missing in [no_id, no_name.as_str()] {
        for args in [
            vec!["deploy", missing, "--env", "staging"],
            vec!["promote", missing, "--from", "staging", "--to", "prod"],
            vec![
                "canary",
                missing,
                "--env",
                "prod",
                "--deployment",
                api.one.as_str(),
                "--weight",
                "5",
            ],
            vec!["vars", missing, "--env", "prod"],
            vec!["history", missing],
            vec!["status", missing, "--env", "prod"],
        ] {
            let run = sandbox.run(BIN, &args, None);
            run.expect_code(4);
            assert!(
                run.stderr
                    .contains(&format!("REST API {missing} does not exist")),
                "{args:?}\n{run}"
            );
        }
    }
    // Records that name an API id no API has: named as missing, not as "no stage".
    let promoted = format!(
        "{}\n",
        serde_json::json!({"service": "apigateway", "action": "promoted", "resource": no_id,
                           "env": "prod", "pointer": "prod",
                           "artifact": {"deployment_id": api.one}, "previous": null})
    );
    for (args, stdin) in [
        (vec!["rollback"], promoted.clone()),
        (vec!["status"], staging_record(no_id, &api.one)),
        (
            vec!["promote", "--to", "prod"],
            staging_record(no_id, &api.one),
        ),
    ] {
        let run = sandbox.run(BIN, &args, Some(&stdin));
        run.expect_code(4);
        assert!(
            run.stderr
                .contains(&format!("REST API {no_id} does not exist")),
            "{args:?}\n{run}"
        );
        assert_eq!(run.record()["action"], "error", "{args:?}\n{run}");
    }
    // A stage the environment does not have, named.
    for args in [
        vec!["promote", api.id.as_str(), "--from", "qa", "--to", "prod"],
        vec![
            "canary",
            api.id.as_str(),
            "--env",
            "qa",
            "--deployment",
            api.one.as_str(),
            "--weight",
            "5",
        ],
        vec!["vars", api.id.as_str(), "--env", "qa"],
        vec!["history", api.id.as_str(), "--env", "qa"],
        vec!["status", api.id.as_str(), "--env", "qa"],
    ] {
        let run = sandbox.run(BIN, &args, None);
        run.expect_code(4);
        assert!(
            run.stderr
                .contains(&format!("API {} has no stage qa", api.id)),
            "{args:?}\n{run}"
        );
    }
    assert_eq!(
        api.runs("prod").await,
        Some(api.one.clone()),
        "nothing moved"
    );
    assert_eq!(api.runs("qa").await, None);
}

#[tokio::test]
async fn an_api_named_by_arn_works_like_its_id_and_its_records_roll_back() {
    let api = Api::new().await;
    let two = deploy(&api.id, "two").await;
    set_stage(&api.id, "staging", &two).await;
    let arn = format!("arn:aws:apigateway:us-east-1::/restapis/{}", api.id);
    let sandbox = Sandbox::new();
    let run = sandbox.run(
        BIN,
        &["promote", &arn, "--from", "staging", "--to", "prod"],
        None,
    );
    let record = run.expect_code(0).record();
    assert_eq!(record["resource"], api.id.as_str(), "records carry the id");
    assert_eq!(record["region"], "us-east-1");
    assert_eq!(api.runs("prod").await, Some(two.clone()));
    for args in [
        vec!["status", arn.as_str(), "--env", "prod"],
        vec!["vars", arn.as_str(), "--env", "prod"],
    ] {
        let out = sandbox.run(BIN, &args, None).expect_code(0).record();
        assert_eq!(out["resource"], api.id.as_str(), "{args:?}");
    }
    let history = sandbox.run(BIN, &["history", &arn], None);
    assert_eq!(history.expect_code(0).records().len(), 2, "{history}");
    sandbox
        .run(BIN, &["rollback"], Some(&run.stdout))
        .expect_code(0);
    assert_eq!(api.runs("prod").await, Some(api.one.clone()));

    // promote.toml naming the API by ARN, and a record naming it so.
    sandbox.write(
        "promote.toml",
        &format!("[envs]\norder = [\"staging\", \"prod\"]\n\n[apigateway]\nrest_api = \"{arn}\"\n"),
    );
    let run = sandbox.run(BIN, &["promote", "--to", "prod"], None);
    assert_eq!(run.expect_code(0).record()["resource"], api.id.as_str());
    assert_eq!(api.runs("prod").await, Some(two.clone()));
    let by_arn = run.stdout.replace(
        &format!("\"resource\":\"{}\"", api.id),
        &format!("\"resource\":\"{arn}\""),
    );
    assert_ne!(by_arn, run.stdout);
    sandbox
        .run(BIN, &["rollback"], Some(&by_arn))
        .expect_code(0);
    assert_eq!(api.runs("prod").await, Some(api.one.clone()));

    // A stage's ARN names the stage, which the environment chooses: refused, nothing changed.
    let stage_arn = format!("{arn}/stages/staging");
    let run = sandbox.run(
        BIN,
        &["promote", &stage_arn, "--from", "staging", "--to", "prod"],
        None,
    );
    run.expect_code(2);
    assert!(run.stderr.contains("give the API alone"), "{run}");
    assert_eq!(api.runs("prod").await, Some(api.one.clone()));
}
