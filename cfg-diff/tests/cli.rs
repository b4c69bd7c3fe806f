//! cfg-diff's real binary against the emulator: every source with keys on one side only,
//! differing, parallel and crossed values; JSON secrets' key sets; records on stdin; the exit
//! codes; and no seeded secret anywhere in what it prints, at the highest verbosity.

#![allow(clippy::unwrap_used, clippy::expect_used)] // reason: tests fail loudly

use serde_json::Value;
use std::collections::BTreeMap;
use test_harness::apigateway::{create_api, create_stage, deploy};
use test_harness::config::{create_secret, put_parameter};
use test_harness::ecs::{create_repository, create_service, push_image, Container, REGISTRY};
use test_harness::lambda::{create_function, publish, set_alias};
use test_harness::{unique, Sandbox};

const BIN: &str = env!("CARGO_BIN_EXE_cfg-diff");

/// Secret values seeded by these tests: none may ever appear in any output.
const SECRETS: [&str; 6] = [
    "pw-staging-9c1f",
    "pw-prod-7b2e",
    "tok-lambda-5d8a",
    "json-key-staging-3e4f",
    "stage-token-prod-61aa",
    "ecs-env-pass-0f0f",
];

/// key -> (status, a, b) of a run's records.
fn by_key(records: &[Value]) -> BTreeMap<String, (String, Value, Value)> {
    records
        .iter()
        .map(|r| {
            (
                format!(
                    "{}:{}",
                    r["source"].as_str().unwrap(),
                    r["key"].as_str().unwrap()
                ),
                (
                    r["status"].as_str().unwrap().to_string(),
                    r["a"].clone(),
                    r["b"].clone(),
                ),
            )
        })
        .collect()
}

fn assert_no_secret(text: &str) {
    for secret in SECRETS {
        assert!(
            !text.contains(secret),
            "a secret value was printed: {secret}\n{text}"
        );
    }
}

/// SSM and Secrets Manager for staging and prod under a unique app name.
async fn seed_config(app: &str) {
    for env in ["staging", "prod"] {
        put_parameter(
            &format!("/{app}/{env}/db/host"),
            &format!("db.{env}.internal"),
            false,
        )
        .await;
        put_parameter(
            &format!("/{app}/{env}/log_level"),
            if env == "prod" { "warn" } else { "debug" },
            false,
        )
        .await;
        put_parameter(
            &format!("/{app}/{env}/db/password"),
            &format!("pw-{env}-{}", if env == "prod" { "7b2e" } else { "9c1f" }),
            true,
        )
        .await;
        put_parameter(
            &format!("/{app}/{env}/payments/url"),
            "https://payments.staging.example",
            false,
        )
        .await;
    }
    put_parameter(&format!("/{app}/staging/only/staging"), "x", false).await;
    put_parameter(&format!("/{app}/prod/only/prod"), "y", false).await;
    create_secret(
        &format!("{app}/staging/api"),
        r#"{"user":"svc","key":"json-key-staging-3e4f"}"#,
    )
    .await;
    create_secret(&format!("{app}/prod/api"), r#"{"user":"svc"}"#).await;
}

#[tokio::test]
async fn parameter_store_and_secrets_manager() {
    let app = unique("cfg");
    seed_config(&app).await;
    let sandbox = Sandbox::new();
    let run = sandbox.run(
        BIN,
        &[
            "staging",
            "prod",
            "--ssm-path",
            &format!("/{app}/{{env}}/"),
            "--secrets-prefix",
            &format!("{app}/{{env}}/"),
            "-vvv",
        ],
        None,
    );
    run.expect_code(1);
    assert_no_secret(&run.stdout);
    assert_no_secret(&run.stderr);
    let keys = by_key(&run.records());
    assert_eq!(keys["ssm:db/host"].0, "parallel");
    assert_eq!(keys["ssm:log_level"].0, "differs");
    assert_eq!(keys["ssm:only/staging"].0, "only_in_a");
    assert_eq!(keys["ssm:only/prod"].0, "only_in_b");
    assert_eq!(
        keys["ssm:payments/url"].0, "crossed",
        "prod's value names staging"
    );
    let (status, a, b) = &keys["ssm:db/password"];
    assert_eq!(
        status, "differs",
        "a secret is same or differs, never parallel"
    );
    assert!(
        a.as_str().unwrap().starts_with("secret:") && b.as_str().unwrap().starts_with("secret:")
    );
    assert_ne!(a, b);
    assert_eq!(keys["secrets:api"].0, "differs");
    assert_eq!(keys["secrets:api#user"].0, "same");
    assert_eq!(
        keys["secrets:api#key"].0, "only_in_a",
        "JSON secrets' key sets are compared"
    );
    assert_eq!(
        keys["secrets:api#user"].1, keys["secrets:api#user"].2,
        "equal values, equal fingerprints"
    );
}

#[tokio::test]
async fn ignore_excuses_drift_and_exit_0_means_none() {
    let app = unique("cfg");
    seed_config(&app).await;
    let sandbox = Sandbox::new();
    let path = format!("/{app}/{{env}}/");
    let prefix = format!("{app}/{{env}}/");
    let args = [
        "staging",
        "prod",
        "--ssm-path",
        &path,
        "--secrets-prefix",
        &prefix,
    ];
    sandbox.run(BIN, &args, None).expect_code(1);
    let mut excused = args.to_vec();
    excused.extend([
        "--ignore",
        "only/*",
        "--ignore",
        "ssm:payments/url",
        "--ignore",
        "api#*",
    ]);
    let run = sandbox.run(BIN, &excused, None);
    run.expect_code(0);
    assert!(
        run.records().iter().any(|r| r["status"] == "only_in_a"),
        "excused drift is still printed"
    );
}

#[tokio::test]
async fn lambda_compares_the_versions_the_aliases_point_at() {
    let f = unique("fn");
    create_function(
        &f,
        "one",
        &[
            ("LOG", "info"),
            ("TOKEN", "tok-lambda-5d8a"),
            ("QUEUE", "orders-queue"),
        ],
    )
    .await;
    let v1 = publish(&f).await;
    set_alias(&f, "staging", &v1).await;
    set_alias(&f, "prod", &v1).await;
    // $LATEST changes afterwards: cfg-diff must not read it.
    test_harness::lambda::client()
        .update_function_configuration()
        .function_name(&f)
        .environment(
            aws_sdk_lambda::types::Environment::builder()
                .variables("LOG", "debug")
                .variables("NEW", "x")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let sandbox = Sandbox::new();
    sandbox.write(
        "promote.toml",
        &format!("[envs]\norder = [\"staging\", \"prod\"]\n[lambda]\nfunctions = [\"{f}\"]\n"),
    );
    let run = sandbox.run(BIN, &["staging", "prod", "-vvv"], None);
    run.expect_code(0);
    assert_no_secret(&run.stdout);
    assert_no_secret(&run.stderr);
    let keys = by_key(&run.records());
    assert_eq!(keys["lambda:(artifact)"].0, "same", "both run version 1");
    assert_eq!(
        keys["lambda:LOG"],
        ("same".to_string(), Value::from("info"), Value::from("info"))
    );
    assert!(
        !keys.contains_key("lambda:NEW"),
        "$LATEST is not what the aliases run"
    );
    assert!(keys["lambda:TOKEN"]
        .1
        .as_str()
        .unwrap()
        .starts_with("secret:"));

    // A version whose environment names an environment: crossed, baked into the artifact.
    test_harness::lambda::client()
        .update_function_configuration()
        .function_name(&f)
        .environment(
            aws_sdk_lambda::types::Environment::builder()
                .variables("DB", "db.staging.internal")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let v2 = publish(&f).await;
    set_alias(&f, "staging", &v2).await;
    let run = sandbox.run(BIN, &["staging", "prod"], None);
    run.expect_code(1);
    let records = run.records();
    let db = records.iter().find(|r| r["key"] == "DB").unwrap();
    assert_eq!(db["status"], "crossed");
    assert!(db["note"]
        .as_str()
        .unwrap()
        .contains("baked into the artifact"));
    assert_eq!(by_key(&records)["lambda:(artifact)"].0, "differs");
}

#[tokio::test]
async fn ecs_and_api_gateway_from_records_on_stdin() {
    let prefix = unique("cfgecs");
    let repo = format!("{prefix}/web");
    create_repository(&repo, false).await;
    push_image(&repo, &prefix, "v1").await;
    for env in ["staging", "prod"] {
        let db = format!("db.{env}.internal");
        let secret = format!("arn:aws:ssm:us-east-1:123456789012:parameter/{env}/key");
        let mut environment = vec![
            ("DB_HOST", db.as_str()),
            ("DB_PASSWORD", "ecs-env-pass-0f0f"),
        ];
        if env == "prod" {
            environment.push(("CALLBACK", "https://staging.example/cb"));
        }
        create_service(
            &format!("{prefix}-{env}"),
            "web",
            &format!("{prefix}-{env}"),
            &[Container {
                name: "web",
                image: format!("{REGISTRY}/{repo}:v1"),
                environment,
                secrets: vec![("API_KEY", secret.as_str())],
            }],
        )
        .await;
    }
    let api = create_api(&unique("cfgapi")).await;
    let d = deploy(&api, "one").await;
    create_stage(
        &api,
        "staging",
        &d,
        &[
            ("backend", "https://orders.staging.internal"),
            ("token", "stage-token-staging-00"),
        ],
    )
    .await;
    create_stage(
        &api,
        "prod",
        &d,
        &[
            ("backend", "https://orders.prod.internal"),
            ("token", "stage-token-prod-61aa"),
        ],
    )
    .await;

    let sandbox = Sandbox::new();
    sandbox.write(
        "promote.toml",
        &format!("[envs]\norder = [\"staging\", \"prod\"]\n[ecs]\ncluster = \"{prefix}-{{env}}\"\nservices = [\"web\"]\n"),
    );
    let stdin = format!(
        "{}\n{}\n{}\n",
        serde_json::json!({"service": "ecs", "action": "resolved", "resource": format!("{prefix}-staging/web"), "env": "staging", "pointer": "web"}),
        serde_json::json!({"service": "apigateway", "action": "resolved", "resource": api, "env": "staging", "pointer": "staging"}),
        r#"{"service":"s3","action":"resolved","resource":"b/k"}"#,
    );
    let run = sandbox.run(BIN, &["staging", "prod", "-vvv"], Some(&stdin));
    run.expect_code(1);
    assert_no_secret(&run.stdout);
    assert_no_secret(&run.stderr);
    assert_eq!(
        run.stdout.lines().next(),
        Some(r#"{"service":"s3","action":"resolved","resource":"b/k"}"#),
        "s3 passes through"
    );
    let keys = by_key(&run.records()[1..]);
    assert_eq!(keys["ecs:(artifact)"].0, "same");
    assert_eq!(keys["ecs:web/DB_HOST"].0, "parallel");
    assert_eq!(keys["ecs:web/DB_PASSWORD"].0, "same");
    assert!(keys["ecs:web/DB_PASSWORD"]
        .1
        .as_str()
        .unwrap()
        .starts_with("secret:"));
    assert_eq!(
        keys["ecs:web/secrets/API_KEY"].0, "parallel",
        "secrets' references are compared, and shown"
    );
    assert_eq!(keys["ecs:web/CALLBACK"].0, "only_in_b");
    assert_eq!(keys["apigateway:backend"].0, "parallel");
    assert_eq!(keys["apigateway:token"].0, "differs");
    assert!(
        !keys.contains_key("ssm:db/host"),
        "no Parameter Store path given"
    );
}

#[test]
fn bad_input_and_aws_errors_have_their_exit_codes() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(BIN, &["staging", "prod"], Some("{\"service\":\"lambda\"\n"));
    run.expect_code(2);
    assert!(run.stderr.contains("stdin:1: truncated JSON"), "{run}");
    let run = sandbox.run(BIN, &["staging", "prod"], None);
    run.expect_code(2);
    assert!(run.stderr.contains("nothing to compare"), "{run}");
    sandbox.run(BIN, &["staging"], None).expect_code(2);
    sandbox
        .run(BIN, &["staging", "prod", "--source", "dynamo"], None)
        .expect_code(2);

    let mut offline = Sandbox::offline();
    offline.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    let run = offline.run(BIN, &["staging", "prod", "--ssm-path", "/x/{env}/"], None);
    run.expect_code(3);
    assert!(run.stderr.contains("could not reach AWS"), "{run}");
}
