//! A Secrets Manager read that fails (not a secret with no value, which the emulator does
//! answer: see cli.rs), with SDK-level mocks: the emulator has no KMS failures, access denials
//! or fault injection. The failure is its own `unreadable` record, the other secrets are still
//! compared, and the run exits 3.

#![allow(clippy::unwrap_used, clippy::expect_used)] // reason: tests fail loudly

use aws_sdk_secretsmanager::operation::get_secret_value::{
    GetSecretValueError, GetSecretValueInput, GetSecretValueOutput,
};
use aws_sdk_secretsmanager::operation::list_secrets::{ListSecretsInput, ListSecretsOutput};
use aws_sdk_secretsmanager::types::error::DecryptionFailure;
use aws_sdk_secretsmanager::types::SecretListEntry;
use aws_sdk_secretsmanager::Client;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use cfg_diff::gather::{Clients, Services};
use clap::Parser;
use shared::output::{Format, Output};
use shared::ExitCode;
use test_harness::Captured;

/// Clients of the services this test never calls: built, never sent anything.
fn services(secrets: Client) -> Services {
    let region = aws_sdk_secretsmanager::config::Region::new("eu-west-1");
    Services {
        lambda: aws_sdk_lambda::Client::from_conf(
            aws_sdk_lambda::Config::builder()
                .behavior_version_latest()
                .region(region.clone())
                .build(),
        ),
        s3: aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::Config::builder()
                .behavior_version_latest()
                .region(region.clone())
                .build(),
        ),
        ecr: aws_sdk_ecr::Client::from_conf(
            aws_sdk_ecr::Config::builder()
                .behavior_version_latest()
                .region(region.clone())
                .build(),
        ),
        ecs: aws_sdk_ecs::Client::from_conf(
            aws_sdk_ecs::Config::builder()
                .behavior_version_latest()
                .region(region.clone())
                .build(),
        ),
        apigateway: aws_sdk_apigateway::Client::from_conf(
            aws_sdk_apigateway::Config::builder()
                .behavior_version_latest()
                .region(region.clone())
                .build(),
        ),
        sfn: aws_sdk_sfn::Client::from_conf(
            aws_sdk_sfn::Config::builder()
                .behavior_version_latest()
                .region(region.clone())
                .build(),
        ),
        ssm: aws_sdk_ssm::Client::from_conf(
            aws_sdk_ssm::Config::builder()
                .behavior_version_latest()
                .region(region)
                .build(),
        ),
        secrets,
        ecs_reads: std::sync::Arc::default(),
    }
}

#[tokio::test]
async fn a_secret_that_cannot_be_decrypted_is_its_own_record_and_exit_3() {
    let list = |prefix: &'static str| {
        mock!(Client::list_secrets)
            .match_requests(move |r: &ListSecretsInput| {
                r.filters()
                    .first()
                    .is_some_and(|f| f.values() == [prefix.to_string()])
            })
            .then_output(move || {
                ListSecretsOutput::builder()
                    .secret_list(
                        SecretListEntry::builder()
                            .name(format!("{prefix}db"))
                            .build(),
                    )
                    .secret_list(
                        SecretListEntry::builder()
                            .name(format!("{prefix}signing"))
                            .build(),
                    )
                    .build()
            })
    };
    let denied = mock!(Client::get_secret_value)
        .match_requests(|r: &GetSecretValueInput| r.secret_id() == Some("app/staging/signing"))
        .then_error(|| {
            GetSecretValueError::DecryptionFailure(
                DecryptionFailure::builder()
                    .message("Access to KMS is not allowed")
                    .build(),
            )
        });
    let value = mock!(Client::get_secret_value).then_output(|| {
        GetSecretValueOutput::builder()
            .secret_string("mock-value-1d2c")
            .build()
    });
    let client = mock_client!(
        aws_sdk_secretsmanager,
        RuleMode::MatchAny,
        [&list("app/staging/"), &list("app/prod/"), &denied, &value]
    );
    let clients = Clients::fixed(services(client), "eu-west-1");
    let cli = cfg_diff::Cli::try_parse_from([
        "cfg-diff",
        "staging",
        "prod",
        "--secrets-prefix",
        "app/{env}/",
    ])
    .unwrap();
    let captured = Captured::default();
    let mut out = Output::to_writer(Format::Ndjson, Box::new(captured.clone()));
    let code = cfg_diff::execute(&cli, None, None, &clients, 2, &mut out)
        .await
        .unwrap();
    out.finish().unwrap();
    assert_eq!(code, ExitCode::Aws, "a failed read is an AWS failure");
    let records = captured.records();
    let key = |k: &str| records.iter().find(|r| r["key"] == k).unwrap().clone();
    assert_eq!(key("db")["status"], "same", "the rest is compared");
    let signing = key("signing");
    assert_eq!(signing["status"], "unreadable");
    assert_eq!(signing["a"], serde_json::Value::Null);
    assert!(signing["b"].as_str().unwrap().starts_with("secret:"));
    let note = signing["note"].as_str().unwrap();
    assert!(
        note.starts_with("staging: failed to read the current value of secret app/staging/signing")
            && note.contains("DecryptionFailure"),
        "{note}"
    );
    assert!(!format!("{records:?}").contains("mock-value-1d2c"));
}
