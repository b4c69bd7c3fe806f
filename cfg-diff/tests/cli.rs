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

/// Credentials in values whose keys say nothing (`DATABASE_URL`, `STRIPE`): each `(name, staging's
/// value, prod's value, what must never be printed)`.
fn credentials_by_value() -> Vec<(&'static str, String, String, Vec<String>)> {
    let url = |env: &str, pw: &str| format!("postgres://app:{pw}@db.{env}.internal:5432/orders");
    vec![
        (
            "DATABASE_URL",
            url("staging", "Stg-pw-6a1c"),
            url("prod", "Prd-pw-93d0"),
            vec!["Stg-pw-6a1c".into(), "Prd-pw-93d0".into()],
        ),
        (
            "STRIPE",
            "sk_live_51Hq2LmXc9Vb7Zt4Ka8Rn".into(),
            "sk_live_51Hq2LmXc9Vb7Zt4Ka8Rn".into(),
            vec!["51Hq2LmXc9Vb7Zt4Ka8Rn".into()],
        ),
        (
            "GITHUB",
            "ghp_16C7e42F292c6912E7710c838347Ae178B4a".into(),
            "ghp_9a8B7c6D5e4F3g2H1i0J9k8L7m6N5o4P3q2R".into(),
            vec![
                "16C7e42F292c6912E7710c838347Ae178B4a".into(),
                "9a8B7c6D5e4F3g2H1i0J9k8L7m6N5o4P3q2R".into(),
            ],
        ),
        (
            "SLACK",
            "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx".into(),
            "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx".into(),
            vec!["AbCdEfGhIjKlMnOpQrStUvWx".into()],
        ),
        (
            "AWS_ID",
            "AKIAQ3EGRT5KZ7NVXW4Y".into(),
            "AKIAZ7NVXW4YQ3EGRT5K".into(),
            vec!["AKIAQ3EGRT5KZ7NVXW4Y".into(), "AKIAZ7NVXW4YQ3EGRT5K".into()],
        ),
        (
            "AWS_SECRET",
            "9dRkq2Lx+TzV0pW7mB4nYc8sHf3Ju1QeGa6KoZiX".into(),
            "9dRkq2Lx+TzV0pW7mB4nYc8sHf3Ju1QeGa6KoZiX".into(),
            vec!["9dRkq2Lx+TzV0pW7mB4nYc8sHf3Ju1QeGa6KoZiX".into()],
        ),
        (
            "SESSION",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzdGFnaW5nIn0.c2lnbmF0dXJlLXN0YWdpbmctMDAx".into(),
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwcm9kIn0.c2lnbmF0dXJlLXByb2QtMDAy".into(),
            vec![
                "c2lnbmF0dXJlLXN0YWdpbmctMDAx".into(),
                "c2lnbmF0dXJlLXByb2QtMDAy".into(),
            ],
        ),
        (
            "TLS",
            "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----".into(),
            "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----".into(),
            vec!["MIIEvQIBADANBgkqhkiG9w0BAQEFAASC".into()],
        ),
        (
            "RANDOM",
            "q8Zt2LmW9xKc4VbN7rYp1HsJ6fDg3TaE".into(),
            "Vb7Zt4Ka8Rnq2LmXc9W1HsJ6fDg3TaEp".into(),
            vec![
                "q8Zt2LmW9xKc4VbN7rYp1HsJ6fDg3TaE".into(),
                "Vb7Zt4Ka8Rnq2LmXc9W1HsJ6fDg3TaEp".into(),
            ],
        ),
    ]
}

#[tokio::test]
async fn secrets_are_recognised_by_their_values_and_fingerprints_can_be_keyed() {
    let app = unique("cfgval");
    let credentials = credentials_by_value();
    for (name, staging, prod, _) in &credentials {
        put_parameter(&format!("/{app}/staging/{name}"), staging, false).await;
        put_parameter(&format!("/{app}/prod/{name}"), prod, false).await;
    }
    // Ordinary values beside them are shown as they are.
    let image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/orders/web@sha256:e1e792f4a6c8b1b2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4e584";
    for env in ["staging", "prod"] {
        put_parameter(&format!("/{app}/{env}/IMAGE"), image, false).await;
        put_parameter(
            &format!("/{app}/{env}/ROLE"),
            &format!("arn:aws:iam::123456789012:role/orders-{env}-OrdersFunctionRole-1A2B3C4D5E6F"),
            false,
        )
        .await;
    }
    // The same, baked into one Lambda version both environments run.
    let f = unique("fnval");
    let environment: Vec<(&str, &str)> = credentials
        .iter()
        .map(|(name, staging, _, _)| (*name, staging.as_str()))
        .collect();
    create_function(&f, "one", &environment).await;
    let v1 = publish(&f).await;
    set_alias(&f, "staging", &v1).await;
    set_alias(&f, "prod", &v1).await;

    let mut sandbox = Sandbox::new();
    sandbox.write(
        "promote.toml",
        &format!(
            "[envs]\norder = [\"staging\", \"prod\"]\n[lambda]\nfunctions = [\"{f}\"]\n[ssm]\npath = \"/{app}/{{env}}/\"\n"
        ),
    );
    let never: Vec<String> = credentials
        .iter()
        .flat_map(|(_, _, _, never)| never.clone())
        .collect();
    let assert_hidden = |text: &str| {
        for value in &never {
            assert!(
                !text.contains(value.as_str()),
                "{value} was printed:\n{text}"
            );
        }
    };
    let json = sandbox.run(BIN, &["staging", "prod", "-vvv"], None);
    // Drift: the URL baked into the Lambda version names staging.
    json.expect_code(1);
    assert_hidden(&json.stdout);
    assert_hidden(&json.stderr);
    let table = sandbox.run(BIN, &["staging", "prod", "--output", "table"], None);
    assert_hidden(&table.stdout);
    assert!(table.stdout.contains("secret:"), "{table}");

    let keys = by_key(&json.records());
    let expected = [
        ("DATABASE_URL", "differs"),
        ("STRIPE", "same"),
        ("GITHUB", "differs"),
        ("SLACK", "same"),
        ("AWS_ID", "differs"),
        ("AWS_SECRET", "same"),
        ("SESSION", "differs"),
        ("TLS", "same"),
        ("RANDOM", "differs"),
    ];
    for (name, status) in expected {
        let (got, a, b) = &keys[&format!("ssm:{name}")];
        assert_eq!(got, status, "{name}");
        assert_eq!(
            status == "same",
            a == b,
            "{name}: equal values, equal fingerprints"
        );
        if name != "DATABASE_URL" {
            assert!(a.as_str().unwrap().starts_with("secret:"), "{name}: {a}");
        }
        assert!(keys.contains_key(&format!("lambda:{name}")), "{name}");
    }
    // A URL keeps all but its password: the host still shows which environment it is.
    let (_, a, b) = &keys["ssm:DATABASE_URL"];
    let a = a.as_str().unwrap();
    assert!(
        a.starts_with("postgres://app:secret:") && a.ends_with("@db.staging.internal:5432/orders"),
        "{a}"
    );
    assert!(b
        .as_str()
        .unwrap()
        .ends_with("@db.prod.internal:5432/orders"));
    assert_eq!(
        keys["ssm:IMAGE"].1,
        Value::from(image),
        "a digest is no secret"
    );
    assert_eq!(keys["ssm:ROLE"].0, "parallel", "an ARN is no secret");

    // Under a key of the user's, two runs give equal fingerprints; the key is never printed.
    let key = "fingerprint-key-7f3e2a";
    sandbox.env("PROMOTE_FINGERPRINT_KEY", key);
    let one = sandbox.run(BIN, &["staging", "prod", "-vvv"], None);
    let two = sandbox.run(BIN, &["staging", "prod", "-vvv"], None);
    let flag = sandbox.run(BIN, &["staging", "prod", "--fingerprint-key", key], None);
    for run in [&one, &two, &flag] {
        assert_hidden(&run.stdout);
        assert!(
            !run.stdout.contains(key) && !run.stderr.contains(key),
            "{run}"
        );
    }
    assert_eq!(
        one.stdout, two.stdout,
        "the same key, the same fingerprints"
    );
    assert_eq!(
        one.stdout, flag.stdout,
        "the flag and the variable are one key"
    );
    assert_ne!(
        by_key(&one.records())["ssm:STRIPE"].1,
        keys["ssm:STRIPE"].1,
        "without the key, a key drawn at random"
    );
    let help = sandbox.run(BIN, &["--help"], None);
    assert!(
        help.stdout.contains("--fingerprint-key") && !help.stdout.contains(key),
        "{help}"
    );
}

#[tokio::test]
async fn a_secret_with_no_value_is_its_own_record_and_the_rest_is_compared() {
    let app = unique("cfgnoval");
    // Created with no value, as infrastructure code often leaves a secret for someone to fill.
    for name in [
        format!("{app}/staging/webhook"),
        format!("{app}/staging/unset"),
        format!("{app}/prod/unset"),
    ] {
        test_harness::config::secrets()
            .create_secret()
            .name(name)
            .send()
            .await
            .unwrap();
    }
    create_secret(
        &format!("{app}/prod/webhook"),
        r#"{"url":"https://hooks.example/x","signing":"pw-prod-7b2e"}"#,
    )
    .await;
    create_secret(&format!("{app}/staging/db"), "tok-lambda-5d8a").await;
    create_secret(&format!("{app}/prod/db"), "tok-lambda-5d8a").await;
    create_secret(&format!("{app}/staging/api"), r#"{"user":"svc"}"#).await;
    create_secret(&format!("{app}/prod/api"), r#"{"user":"ops"}"#).await;

    let sandbox = Sandbox::new();
    let prefix = format!("{app}/{{env}}/");
    let run = sandbox.run(
        BIN,
        &["staging", "prod", "--secrets-prefix", &prefix, "-vvv"],
        None,
    );
    run.expect_code(1); // drift: a secret that cannot be compared, not an AWS failure (3)
    assert_no_secret(&run.stdout);
    assert_no_secret(&run.stderr);
    let keys = by_key(&run.records());
    let (status, a, b) = &keys["secrets:webhook"];
    assert_eq!(status, "unreadable");
    assert_eq!(*a, Value::Null, "staging's has no value");
    assert!(b.as_str().unwrap().starts_with("secret:"), "{b}");
    let note = run
        .records()
        .into_iter()
        .find(|r| r["key"] == "webhook")
        .unwrap()["note"]
        .clone();
    assert!(
        note.as_str().unwrap().contains("staging: secret")
            && note.as_str().unwrap().contains("has no current value"),
        "{note}"
    );
    assert_eq!(
        keys["secrets:unset"],
        ("unreadable".to_string(), Value::Null, Value::Null)
    );
    assert!(
        !keys.keys().any(|k| k.starts_with("secrets:webhook#")),
        "one record for the secret, not one per JSON key: {keys:?}"
    );
    // The rest is compared as ever.
    assert_eq!(keys["secrets:db"].0, "same");
    assert_eq!(keys["secrets:api"].0, "differs");
    assert_eq!(keys["secrets:api#user"].0, "differs");
    let excused = sandbox.run(
        BIN,
        &[
            "staging",
            "prod",
            "--secrets-prefix",
            &prefix,
            "--ignore",
            "webhook",
            "--ignore",
            "unset",
        ],
        None,
    );
    excused.expect_code(0);
}

#[tokio::test]
async fn one_function_per_environment_keeps_its_own_values() {
    let f = unique("fnper");
    for env in ["staging", "prod"] {
        let db = format!("db.{env}.internal");
        let mut environment = vec![("LOG", "info"), ("DB", db.as_str())];
        if env == "prod" {
            environment.push(("CALLBACK", "https://staging.example/cb"));
        }
        let name = format!("{f}-{env}");
        create_function(&name, env, &environment).await;
        let version = publish(&name).await;
        set_alias(&name, env, &version).await;
    }
    let sandbox = Sandbox::new();
    sandbox.write(
        "promote.toml",
        &format!(
            "[envs]\norder = [\"staging\", \"prod\"]\n[lambda]\nfunctions = [\"{f}-{{env}}\"]\n"
        ),
    );
    let run = sandbox.run(BIN, &["staging", "prod"], None);
    run.expect_code(1);
    let records = run.records();
    let keys = by_key(&records);
    assert_eq!(keys["lambda:LOG"].0, "same");
    assert_eq!(
        keys["lambda:DB"].0, "parallel",
        "a version that never travels names its own environment: healthy"
    );
    assert_eq!(keys["lambda:CALLBACK"].0, "only_in_b");
    assert!(
        records
            .iter()
            .all(|r| !r["note"].as_str().unwrap_or("").contains("baked")),
        "{records:?}"
    );
    // Naming the other environment is still crossed.
    let name = format!("{f}-prod");
    test_harness::lambda::client()
        .update_function_configuration()
        .function_name(&name)
        .environment(
            aws_sdk_lambda::types::Environment::builder()
                .variables("LOG", "info")
                .variables("DB", "db.staging.internal")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let version = publish(&name).await;
    set_alias(&name, "prod", &version).await;
    let run = sandbox.run(BIN, &["staging", "prod"], None);
    run.expect_code(1);
    let records = run.records();
    let db = records.iter().find(|r| r["key"] == "DB").unwrap();
    assert_eq!(db["status"], "crossed");
    assert_eq!(db["note"], "prod's value names staging");
}

/// Register a task definition using every other place a container's configuration comes from,
/// and run it as `web` in cluster `{prefix}-{env}`.
async fn service_with_config_files(prefix: &str, env: &str, env_file: &str) {
    use aws_sdk_ecs::types::{
        ContainerDefinition, EnvironmentFile, EnvironmentFileType, LogConfiguration, LogDriver,
        RepositoryCredentials, Secret,
    };
    let ecs = test_harness::ecs::ecs();
    let cluster = format!("{prefix}-{env}");
    ecs.create_cluster()
        .cluster_name(&cluster)
        .send()
        .await
        .unwrap();
    let container = ContainerDefinition::builder()
        .name("web")
        .image("public.ecr.aws/nginx/nginx:1.27")
        .memory(128)
        .environment_files(
            EnvironmentFile::builder()
                .value(env_file)
                .r#type(EnvironmentFileType::S3)
                .build()
                .unwrap(),
        )
        .log_configuration(
            LogConfiguration::builder()
                .log_driver(LogDriver::Awsfirelens)
                .options("Name", "datadog")
                .secret_options(
                    Secret::builder()
                        .name("apikey")
                        .value_from(format!(
                            "arn:aws:ssm:us-east-1:123456789012:parameter/{env}/datadog"
                        ))
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .docker_labels("team", "orders")
        .docker_labels("com.example.env", env)
        .docker_labels("com.example.auth-token", "label-token-4c2d")
        .repository_credentials(
            RepositoryCredentials::builder()
                .credentials_parameter(format!(
                    "arn:aws:secretsmanager:us-east-1:123456789012:secret:{env}/registry"
                ))
                .build()
                .unwrap(),
        )
        .build();
    let arn = ecs
        .register_task_definition()
        .family(format!("{prefix}-{env}"))
        .container_definitions(container)
        .send()
        .await
        .unwrap()
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .unwrap()
        .to_string();
    ecs.create_service()
        .cluster(&cluster)
        .service_name("web")
        .task_definition(arn)
        .desired_count(1)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn ecs_environment_files_log_secrets_labels_and_registry_credentials_are_compared() {
    let prefix = unique("cfgfiles");
    service_with_config_files(
        &prefix,
        "staging",
        &format!("arn:aws:s3:::{prefix}-config/staging/web.env"),
    )
    .await;
    // prod reads staging's environment file: crossed.
    service_with_config_files(
        &prefix,
        "prod",
        &format!("arn:aws:s3:::{prefix}-config/staging/web.env"),
    )
    .await;
    let sandbox = Sandbox::new();
    sandbox.write(
        "promote.toml",
        &format!("[envs]\norder = [\"staging\", \"prod\"]\n[ecs]\ncluster = \"{prefix}-{{env}}\"\nservices = [\"web\"]\n"),
    );
    let run = sandbox.run(BIN, &["staging", "prod", "-vvv"], None);
    run.expect_code(1);
    assert!(!run.stdout.contains("label-token-4c2d") && !run.stderr.contains("label-token-4c2d"));
    let keys = by_key(&run.records());
    let (status, _, b) = &keys["ecs:web/environmentFiles/0"];
    assert_eq!(status, "crossed");
    assert_eq!(
        *b,
        Value::from(format!("arn:aws:s3:::{prefix}-config/staging/web.env"))
    );
    assert_eq!(
        keys["ecs:web/logConfiguration/secretOptions/apikey"].0,
        "parallel"
    );
    assert_eq!(keys["ecs:web/dockerLabels/team"].0, "same");
    assert_eq!(keys["ecs:web/dockerLabels/com.example.env"].0, "parallel");
    let (status, a, _) = &keys["ecs:web/dockerLabels/com.example.auth-token"];
    assert_eq!(status, "same");
    assert!(a.as_str().unwrap().starts_with("secret:"));
    assert_eq!(keys["ecs:web/repositoryCredentials"].0, "parallel");

    // One that names the other environment is crossed, wherever it is.
    let prefix2 = unique("cfgfiles");
    for env in ["staging", "prod"] {
        service_with_config_files(
            &prefix2,
            env,
            &format!("arn:aws:s3:::{prefix2}-config/{env}/web.env"),
        )
        .await;
    }
    sandbox.write(
        "promote.toml",
        &format!("[envs]\norder = [\"staging\", \"prod\"]\n[ecs]\ncluster = \"{prefix2}-{{env}}\"\nservices = [\"web\"]\n"),
    );
    let run = sandbox.run(BIN, &["staging", "prod"], None);
    run.expect_code(0);
    assert_eq!(
        by_key(&run.records())["ecs:web/environmentFiles/0"].0,
        "parallel"
    );
}

#[tokio::test]
async fn a_long_value_does_not_stretch_the_table() {
    let app = unique("cfglong");
    // 5 KB: an advanced parameter (a standard one holds 4 KB).
    let long: String = "feature-flag-enabled,".repeat(250);
    assert!(long.len() > 5000);
    for env in ["staging", "prod"] {
        test_harness::config::ssm()
            .put_parameter()
            .name(format!("/{app}/{env}/flags"))
            .value(&long)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .tier(aws_sdk_ssm::types::ParameterTier::Advanced)
            .send()
            .await
            .unwrap();
        put_parameter(
            &format!("/{app}/{env}/db/password"),
            "tok-lambda-5d8a",
            true,
        )
        .await;
        put_parameter(
            &format!("/{app}/{env}/host"),
            &format!("db.{env}.internal"),
            false,
        )
        .await;
    }
    let path = format!("/{app}/{{env}}/");
    let mut sandbox = Sandbox::new();
    // stdout is not a terminal here: every cell is capped.
    let run = sandbox.run(
        BIN,
        &["staging", "prod", "--ssm-path", &path, "--output", "table"],
        None,
    );
    run.expect_code(0);
    assert_no_secret(&run.stdout);
    let widest = run.stdout.lines().map(|l| l.chars().count()).max().unwrap();
    assert!(widest < 400, "{widest} characters:\n{run}");
    let flags = run.stdout.lines().find(|l| l.contains(" flags ")).unwrap();
    // Each cell is cut at 100 characters, the last one the marker.
    let cut = flags
        .split_whitespace()
        .find(|cell| cell.ends_with('…'))
        .unwrap_or_else(|| panic!("cut, with a marker: {flags}"));
    assert_eq!(cut.chars().count(), 100, "{cut}");
    assert!(cut.starts_with("feature-flag-enabled,"), "{cut}");
    assert!(
        run.stdout.contains("db.staging.internal"),
        "short values are whole"
    );
    // A terminal's width (COLUMNS): every row fits it.
    sandbox.env("COLUMNS", "100");
    let run = sandbox.run(
        BIN,
        &["staging", "prod", "--ssm-path", &path, "--output", "table"],
        None,
    );
    run.expect_code(0);
    assert_no_secret(&run.stdout);
    for line in run.stdout.lines() {
        assert!(line.chars().count() <= 100, "{line}");
    }
    assert!(
        run.stdout.contains('…') && run.stdout.contains("parallel"),
        "{run}"
    );
    // The JSON is exact.
    let run = sandbox.run(BIN, &["staging", "prod", "--ssm-path", &path], None);
    assert_eq!(by_key(&run.records())["ssm:flags"].1, Value::from(long));
}

/// `--color` and the environment's conventions, on a pseudo-terminal (util-linux `script`): a
/// table's statuses are painted by default there, and not with NO_COLOR, TERM=dumb or
/// `--color never`; `--color always` paints into a pipe.
#[tokio::test]
async fn colour_on_a_terminal_follows_no_color_term_and_the_flag() {
    let f = unique("fncolour");
    create_function(&f, "one", &[("QUEUE", "orders-staging")]).await;
    let v1 = publish(&f).await;
    set_alias(&f, "staging", &v1).await;
    set_alias(&f, "prod", &v1).await;
    let mut sandbox = Sandbox::new();
    sandbox.write(
        "promote.toml",
        &format!("[envs]\norder = [\"staging\", \"prod\"]\n\n[lambda]\nfunctions = [\"{f}\"]\n"),
    );
    let on_a_terminal = |sandbox: &Sandbox, env: &str, flags: &str| {
        let command = format!("env {env} {BIN} staging prod --output table {flags}");
        sandbox.run("/usr/bin/script", &["-qec", &command, "/dev/null"], None)
    };
    let escape = "\u{1b}[";
    let painted = on_a_terminal(&sandbox, "", "");
    assert!(painted.stdout.contains("crossed"), "{painted}");
    assert!(
        painted.stdout.contains(escape),
        "a terminal is painted\n{painted}"
    );
    for (env, flags) in [
        ("NO_COLOR=1", ""),
        ("TERM=dumb", ""),
        ("", "--color never"),
        ("CLICOLOR_FORCE=1", "--color never"),
    ] {
        let plain = on_a_terminal(&sandbox, env, flags);
        assert!(plain.stdout.contains("crossed"), "{plain}");
        assert!(!plain.stdout.contains(escape), "{env} {flags}\n{plain}");
    }
    // Into a pipe: plain, unless forced.
    let piped = sandbox.run(BIN, &["staging", "prod", "--output", "table"], None);
    assert!(!piped.stdout.contains(escape), "{piped}");
    let forced = sandbox.run(
        BIN,
        &["staging", "prod", "--output", "table", "--color", "always"],
        None,
    );
    assert!(forced.stdout.contains(escape), "{forced}");
    sandbox.env("CLICOLOR_FORCE", "1");
    let forced = sandbox.run(BIN, &["staging", "prod", "--output", "table"], None);
    assert!(forced.stdout.contains(escape), "{forced}");
}

/// A definition calling `function` with `retries`, and `extra` states.
fn flow(function: &str, retries: u32, extra: &str) -> String {
    format!(
        r#"{{"StartAt":"Charge","States":{{"Charge":{{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{{"FunctionName":"{function}"}},"Retry":[{{"ErrorEquals":["States.ALL"],"MaxAttempts":{retries}}}],"End":true}}{extra}}}}}"#
    )
}

#[tokio::test]
async fn step_functions_definitions_are_compared_value_by_value() {
    use test_harness::sfn::{client, create, set_alias};
    let base = unique("sfnper");
    let c = client();
    let account = test_harness::accounts::DEFAULT_ACCOUNT;
    let fn_arn = |env: &str| format!("arn:aws:lambda:us-east-1:{account}:function:charge-{env}");
    let staging = create(
        &c,
        &format!("{base}-staging"),
        &flow(&fn_arn("staging"), 2, ""),
        account,
    )
    .await;
    let prod = create(
        &c,
        &format!("{base}-prod"),
        &flow(
            &fn_arn("prod"),
            3,
            r#","Notify":{"Type":"Task","Resource":"arn:aws:sns:us-east-1:123456789012:alerts-staging","End":true}"#,
        ),
        account,
    )
    .await;
    set_alias(&c, &staging, "staging", &[("1", 100)]).await;
    set_alias(&c, &prod, "prod", &[("1", 100)]).await;
    let sandbox = Sandbox::new();
    sandbox.write(
        "promote.toml",
        &format!(
            "[envs]\norder = [\"staging\", \"prod\"]\n[stepfunctions]\nstate_machines = [\"{base}-{{env}}\"]\n"
        ),
    );
    let run = sandbox.run(BIN, &["staging", "prod"], None);
    run.expect_code(1);
    let keys = by_key(&run.records());
    assert_eq!(
        keys["stepfunctions:States/Charge/Parameters/FunctionName"].0, "parallel",
        "each environment's definition names its own function: healthy"
    );
    assert_eq!(
        keys["stepfunctions:States/Charge/Retry/0/MaxAttempts"].0,
        "differs"
    );
    assert_eq!(keys["stepfunctions:States/Charge/Resource"].0, "same");
    let notify = &keys["stepfunctions:States/Notify/Resource"];
    assert_eq!(notify.0, "only_in_b");
    assert_eq!(keys["stepfunctions:(artifact)"].0, "differs");

    // prod's definition naming staging's function is crossed.
    test_harness::sfn::publish(&c, &prod, &flow(&fn_arn("staging"), 2, "")).await;
    set_alias(&c, &prod, "prod", &[("2", 100)]).await;
    let run = sandbox.run(BIN, &["staging", "prod", "--source", "stepfunctions"], None);
    run.expect_code(1);
    let records = run.records();
    let crossed = records
        .iter()
        .find(|r| r["key"] == "States/Charge/Parameters/FunctionName")
        .unwrap();
    assert_eq!(crossed["status"], "crossed");
    assert_eq!(crossed["note"], "prod's value names staging");
    // The same definition in both: the artifact is the same, by its hash.
    let artifact = records.iter().find(|r| r["key"] == "(artifact)").unwrap();
    assert_eq!(artifact["status"], "same", "{artifact}");
}

#[tokio::test]
async fn one_state_machine_s_aliases_carry_their_definition_with_every_promotion() {
    use test_harness::sfn::{client, create, set_alias};
    let name = unique("sfnone");
    let c = client();
    let account = test_harness::accounts::DEFAULT_ACCOUNT;
    let arn = create(&c, &name, &flow("charge-staging", 2, ""), account).await;
    set_alias(&c, &arn, "staging", &[("1", 100)]).await;
    set_alias(&c, &arn, "prod", &[("1", 100)]).await;
    let sandbox = Sandbox::new();
    // The records of sfn-promote status, piped in, name what to compare.
    let status = format!(
        r#"{{"service":"stepfunctions","action":"resolved","resource":"{name}","env":"staging","pointer":"staging"}}"#
    );
    let run = sandbox.run(BIN, &["staging", "prod"], Some(&status));
    run.expect_code(1);
    let records = run.records();
    let function = records
        .iter()
        .find(|r| r["key"] == "States/Charge/Parameters/FunctionName")
        .unwrap();
    assert_eq!(function["status"], "crossed", "{function}");
    assert!(
        function["note"]
            .as_str()
            .unwrap()
            .contains("baked into the artifact"),
        "{function}"
    );
}
