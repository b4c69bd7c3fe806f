//! The tools composed, as the design writes them: each stage a real binary, records flowing
//! through pipes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // reason: tests fail loudly

use test_harness::ecs::{create_repository, create_service, push_image, Container, REGISTRY};
use test_harness::{binary, unique, Sandbox};

/// `ecs-pin --resolve-digest | cfg-diff staging prod`, exactly as written in the design.
#[tokio::test]
async fn resolve_digest_into_cfg_diff() {
    let prefix = unique("pipe");
    let repo = format!("{prefix}/web");
    create_repository(&repo, false).await;
    push_image(&repo, &prefix, "v1").await;
    for env in ["staging", "prod"] {
        let db = format!("db.{env}.internal");
        let mut environment = vec![("DB_HOST", db.as_str())];
        if env == "staging" {
            environment.push(("DEBUG", "1"));
        }
        create_service(
            &format!("{prefix}-{env}"),
            "web",
            &format!("{prefix}-{env}"),
            &[Container {
                name: "web",
                image: format!("{REGISTRY}/{repo}:v1"),
                environment,
                secrets: vec![],
            }],
        )
        .await;
    }
    let sandbox = Sandbox::new();
    sandbox.write(
        "promote.toml",
        &format!("[envs]\norder = [\"staging\", \"prod\"]\n\n[ecs]\ncluster = \"{prefix}-{{env}}\"\nservices = [\"web\"]\n"),
    );
    let ecs_pin = binary("ecs-pin");
    let cfg_diff = binary("cfg-diff");
    let (codes, diff) = sandbox.pipe(
        &[
            (&ecs_pin, &["--resolve-digest"]),
            (&cfg_diff, &["staging", "prod"]),
        ],
        None,
    );
    assert_eq!(codes, [0, 1], "cfg-diff finds drift\n{diff}");
    let records = diff.records();
    let find = |key: &str| {
        records
            .iter()
            .find(|r| r["key"] == key)
            .unwrap_or_else(|| panic!("no {key}\n{diff}"))
    };
    assert_eq!(
        find("(artifact)")["status"],
        "same",
        "both run the same digest"
    );
    assert!(
        find("(artifact)")["a"]
            .as_str()
            .unwrap()
            .contains("sha256:"),
        "compared by digest"
    );
    assert_eq!(find("web/DB_HOST")["status"], "parallel");
    assert_eq!(find("web/DEBUG")["status"], "only_in_a");
    assert_eq!(
        records.iter().filter(|r| r["key"] == "web/DB_HOST").count(),
        1,
        "one comparison per service, however many records name it"
    );
    // `resolve-digest` as a subcommand is the same command as the flag.
    let flag = sandbox.run(&ecs_pin, &["--resolve-digest", "--env", "staging"], None);
    let subcommand = sandbox.run(&ecs_pin, &["resolve-digest", "--env", "staging"], None);
    subcommand.expect_code(0);
    assert_eq!(subcommand.records(), flag.records(), "{subcommand}");
    assert_eq!(
        subcommand.records()[0]["action"],
        "resolved",
        "{subcommand}"
    );
}

/// `lambda-promote promote --to prod --version N` with one function per environment
/// (`functions = ["g-{env}"]`): promote.toml's order is checked against what the environment
/// before holds in its own function (g-staging's staging alias), not in prod's function.
#[tokio::test]
async fn lambda_version_promotion_checks_the_previous_environments_own_function() {
    use test_harness::lambda::{alias, create_function, publish, set_alias, update_code};
    let prefix = unique("chain");
    for env in ["staging", "prod"] {
        let f = format!("{prefix}-{env}");
        create_function(&f, "one", &[]).await;
        let v1 = publish(&f).await;
        update_code(&f, "two").await;
        let v2 = publish(&f).await;
        set_alias(&f, env, if env == "staging" { &v2 } else { &v1 }).await;
    }
    let sandbox = Sandbox::new();
    sandbox.write(
        "promote.toml",
        &format!(
            "[envs]\norder = [\"staging\", \"prod\"]\n\n[lambda]\nfunctions = [\"{prefix}-{{env}}\"]\n"
        ),
    );
    let prod = format!("{prefix}-prod");
    let lambda_promote = binary("lambda-promote");

    // Version 1 is not what staging holds: refused, prod unchanged.
    let refused = sandbox.run(
        &lambda_promote,
        &["promote", "--to", "prod", "--version", "1"],
        None,
    );
    refused.expect_code(4);
    assert!(
        refused
            .stderr
            .contains("is not what staging holds (version 2"),
        "{refused}"
    );
    assert_eq!(alias(&prod, "prod").await.unwrap().0, "1");

    // Version 2 is: prod's function moves to it.
    let promoted = sandbox.run(
        &lambda_promote,
        &["promote", "--to", "prod", "--version", "2"],
        None,
    );
    promoted.expect_code(0);
    let record = promoted.record();
    assert_eq!(record["action"], "promoted", "{promoted}");
    assert_eq!(record["resource"], prod.as_str(), "{promoted}");
    assert_eq!(alias(&prod, "prod").await.unwrap().0, "2");
}

/// A long stream of records for other services goes through every tool's reading commands byte
/// for byte, in order, without one AWS call (the sandbox has no endpoint), and a record of the
/// tool's own service in the middle is still acted on in its place: here refused, exit 2, before
/// anything is written, because its line is malformed for that tool.
#[test]
fn a_long_stream_of_other_services_passes_through_every_tool_unchanged() {
    let mut stream = String::new();
    for i in 0..30_000 {
        let service = ["ecr", "config"][i % 2];
        stream.push_str(&format!(
            r#"{{"service":"{service}","action":"resolved","resource":"r-{i}","env":"staging","artifact":{{"n": {i}, "s": "é\" x"}}}}"#
        ));
        stream.push('\n');
    }
    let sandbox = test_harness::Sandbox::offline();
    for (tool, args) in [
        ("lambda-promote", vec!["promote", "--to", "prod"]),
        (
            "ecs-pin",
            vec!["promote", "--to", "prod", "--cluster", "c-{env}"],
        ),
        ("apigw-stage", vec!["promote", "--to", "prod"]),
        ("s3-version", vec!["promote", "--to", "prod"]),
        ("sfn-promote", vec!["promote", "--to", "prod"]),
        ("lambda-promote", vec!["rollback"]),
        ("s3-version", vec!["status"]),
    ] {
        let stream = if tool == "ecs-pin" {
            stream.replace(r#""service":"ecr""#, r#""service":"apigateway""#)
        } else {
            stream.clone()
        };
        let run = sandbox.run(&test_harness::binary(tool), &args, Some(&stream));
        run.expect_code(0);
        assert!(run.stdout == stream, "{tool} {args:?}: the stream changed");
    }
    // A bad record of the tool's own service at the end: nothing at all is passed on.
    let bad = format!("{stream}{{\"service\":\"lambda\",\"action\":\"resolved\",\"resource\":\"f\",\"artifact\":7}}\n");
    let run = sandbox.run(
        &test_harness::binary("lambda-promote"),
        &["promote", "--to", "prod"],
        Some(&bad),
    );
    run.expect_code(2);
    assert!(
        run.stdout.is_empty(),
        "nothing passed on before the input was checked"
    );
    assert!(run.stderr.contains("stdin:30001"), "{}", run.stderr);
}
