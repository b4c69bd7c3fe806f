//! What the emulator cannot show, tested with SDK-level mocks: the emulator ignores RevisionId,
//! so here the compare-and-swap is proven by the exact requests sent and by AWS's answer to a
//! stale revision; and a dry run is proven to send no write at all.

#![allow(clippy::unwrap_used, clippy::expect_used)] // reason: tests fail loudly

use aws_sdk_lambda::operation::create_alias::CreateAliasOutput;
use aws_sdk_lambda::operation::get_alias::{GetAliasError, GetAliasOutput};
use aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput;
use aws_sdk_lambda::operation::update_alias::{UpdateAliasError, UpdateAliasOutput};
use aws_sdk_lambda::types::error::{PreconditionFailedException, ResourceNotFoundException};
use aws_sdk_lambda::types::AliasRoutingConfiguration;
use aws_sdk_lambda::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use clap::Parser;
use lambda_promote::calls::{Clients, Services};
use lambda_promote::{execute, Cli, Options};
use shared::input::Input;
use shared::output::{Format, Output};
use shared::ExitCode;
use test_harness::Captured;

/// Run a lambda-promote command line against `client`, returning its exit code and records.
async fn run(
    client: Client,
    args: &[&str],
    stdin: Option<&str>,
) -> (ExitCode, Vec<serde_json::Value>) {
    let cli =
        Cli::try_parse_from(std::iter::once("lambda-promote").chain(args.iter().copied())).unwrap();
    let clients = Clients::fixed(Services::lambda_only(client), "eu-west-1");
    let captured = Captured::default();
    let mut out = Output::to_writer(Format::Ndjson, Box::new(captured.clone()));
    let input = stdin.map(|text| Input::from_text("stdin", text).unwrap());
    let opts = Options {
        dry_run: cli.common.dry_run,
        concurrency: 4,
        ..Options::default()
    };
    let code = match execute(cli.command, None, input.as_ref(), &clients, opts, &mut out).await {
        Ok(code) => code,
        Err(e) => e.exit_code(),
    };
    (code, captured.records())
}

fn alias_rule(alias: &'static str, version: &'static str, revision: &'static str) -> Rule {
    mock!(Client::get_alias)
        .match_requests(move |r| r.name() == Some(alias))
        .then_output(move || {
            GetAliasOutput::builder()
                .name(alias)
                .function_version(version)
                .revision_id(revision)
                .build()
        })
}

fn version_rule(version: &'static str, sha: &'static str) -> Rule {
    mock!(Client::get_function_configuration)
        .match_requests(move |r| r.qualifier() == Some(version))
        .then_output(move || {
            GetFunctionConfigurationOutput::builder()
                .version(version)
                .code_sha256(sha)
                .build()
        })
}

#[tokio::test]
async fn promote_sends_the_revision_it_read() {
    let update = mock!(Client::update_alias)
        .match_requests(|r| {
            r.name() == Some("prod")
                && r.function_version() == Some("2")
                && r.revision_id() == Some("rev-prod-7")
        })
        .then_output(|| UpdateAliasOutput::builder().function_version("2").build());
    let rules = [
        alias_rule("staging", "2", "rev-staging-3"),
        alias_rule("prod", "1", "rev-prod-7"),
        version_rule("2", "SHA2"),
        version_rule("1", "SHA1"),
        update.clone(),
    ];
    let client = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, &rules);
    let (code, records) = run(
        client,
        &["promote", "orders", "--from", "staging", "--to", "prod"],
        None,
    )
    .await;
    assert_eq!(code, ExitCode::Success);
    assert_eq!(
        update.num_calls(),
        1,
        "one compare-and-swap update, with the revision read"
    );
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["action"], "promoted");
    assert_eq!(records[0]["region"], "eu-west-1");
    assert_eq!(records[0]["artifact"]["code_sha256"], "SHA2");
    assert_eq!(records[0]["previous"]["code_sha256"], "SHA1");
}

#[tokio::test]
async fn a_revision_conflict_refuses_with_exit_4_and_no_record() {
    let update = mock!(Client::update_alias).then_error(|| {
        UpdateAliasError::PreconditionFailedException(
            PreconditionFailedException::builder()
                .message("The Revision Id provided does not match the latest Revision Id.")
                .build(),
        )
    });
    let rules = [
        alias_rule("staging", "2", "rev-s"),
        alias_rule("prod", "1", "rev-p"),
        version_rule("2", "SHA2"),
        version_rule("1", "SHA1"),
        update.clone(),
    ];
    let client = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, &rules);
    let (code, records) = run(
        client,
        &["promote", "orders", "--from", "staging", "--to", "prod"],
        None,
    )
    .await;
    assert_eq!(code, ExitCode::Precondition);
    assert_eq!(update.num_calls(), 1);
    // No change record for a change that did not happen: only the failure, as a record.
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["action"], "error", "{records:?}");
    assert_eq!(records[0]["exit_code"], 4, "{records:?}");
    assert_eq!(records[0]["pointer"], "prod", "{records:?}");
}

#[tokio::test]
async fn canary_and_rollback_are_compare_and_swap_too() {
    let canary = mock!(Client::update_alias)
        .match_requests(|r| {
            r.revision_id() == Some("rev-p")
                && r.function_version() == Some("1")
                && r.routing_config()
                    .and_then(AliasRoutingConfiguration::additional_version_weights)
                    .and_then(|w| w.get("2"))
                    == Some(&0.3)
        })
        .then_output(|| UpdateAliasOutput::builder().build());
    let rules = [
        alias_rule("prod", "1", "rev-p"),
        version_rule("2", "SHA2"),
        version_rule("1", "SHA1"),
        canary.clone(),
    ];
    let client = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, &rules);
    let (code, records) = run(
        client,
        &[
            "canary",
            "orders",
            "--env",
            "prod",
            "--version",
            "2",
            "--weight",
            "30",
        ],
        None,
    )
    .await;
    assert_eq!(code, ExitCode::Success, "{records:?}");
    assert_eq!(canary.num_calls(), 1);

    let back = mock!(Client::update_alias)
        .match_requests(|r| r.revision_id() == Some("rev-p") && r.function_version() == Some("3"))
        .then_output(|| UpdateAliasOutput::builder().build());
    let rules = [alias_rule("prod", "1", "rev-p"), back.clone()];
    let client = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, &rules);
    let log = r#"{"service":"lambda","action":"promoted","resource":"orders","env":"prod","pointer":"prod","artifact":{"version":"1","code_sha256":"SHA1"},"previous":{"version":"3","code_sha256":"SHA3"}}"#;
    let (code, records) = run(client, &["rollback"], Some(log)).await;
    assert_eq!(code, ExitCode::Success);
    assert_eq!(back.num_calls(), 1);
    assert_eq!(records[0]["action"], "rolled_back");
}

#[tokio::test]
async fn a_new_alias_is_created_and_a_concurrent_creation_refused() {
    let missing = mock!(Client::get_alias)
        .match_requests(|r| r.name() == Some("prod"))
        .then_error(|| {
            GetAliasError::ResourceNotFoundException(ResourceNotFoundException::builder().build())
        });
    let create = mock!(Client::create_alias)
        .match_requests(|r| r.name() == Some("prod") && r.function_version() == Some("2"))
        .then_output(|| CreateAliasOutput::builder().build());
    let rules = [
        alias_rule("staging", "2", "r"),
        missing,
        version_rule("2", "SHA2"),
        create.clone(),
    ];
    let client = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, &rules);
    let (code, records) = run(
        client,
        &["promote", "orders", "--from", "staging", "--to", "prod"],
        None,
    )
    .await;
    assert_eq!(code, ExitCode::Success);
    assert_eq!(create.num_calls(), 1);
    assert_eq!(records[0]["previous"], serde_json::Value::Null);

    let missing = mock!(Client::get_alias)
        .match_requests(|r| r.name() == Some("prod"))
        .then_error(|| {
            GetAliasError::ResourceNotFoundException(ResourceNotFoundException::builder().build())
        });
    let conflict = mock!(Client::create_alias).then_error(|| {
        aws_sdk_lambda::operation::create_alias::CreateAliasError::ResourceConflictException(
            aws_sdk_lambda::types::error::ResourceConflictException::builder()
                .message("Alias already exists")
                .build(),
        )
    });
    let rules = [
        alias_rule("staging", "2", "r"),
        missing,
        version_rule("2", "SHA2"),
        conflict,
    ];
    let client = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, &rules);
    let (code, records) = run(
        client,
        &["promote", "orders", "--from", "staging", "--to", "prod"],
        None,
    )
    .await;
    assert_eq!(code, ExitCode::Precondition);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["action"], "error", "{records:?}");
}

#[tokio::test]
async fn a_dry_run_sends_no_write() {
    let update = mock!(Client::update_alias).then_output(|| UpdateAliasOutput::builder().build());
    let create = mock!(Client::create_alias).then_output(|| CreateAliasOutput::builder().build());
    let publish = mock!(Client::publish_version).then_output(|| {
        aws_sdk_lambda::operation::publish_version::PublishVersionOutput::builder().build()
    });
    let rules = [
        alias_rule("staging", "2", "r"),
        alias_rule("prod", "1", "r"),
        version_rule("2", "SHA2"),
        version_rule("1", "SHA1"),
        update.clone(),
        create.clone(),
        publish.clone(),
    ];
    for args in [
        &[
            "--dry-run",
            "promote",
            "orders",
            "--from",
            "staging",
            "--to",
            "prod",
        ][..],
        &[
            "--dry-run",
            "canary",
            "orders",
            "--env",
            "prod",
            "--version",
            "2",
            "--weight",
            "5",
        ],
        &["--dry-run", "publish", "orders", "--env", "prod"],
    ] {
        let client = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, &rules);
        let (code, records) = run(client, args, None).await;
        assert_eq!(code, ExitCode::Success, "{args:?}");
        assert_eq!(records[0]["action"], "planned", "{args:?}");
    }
    assert_eq!(
        update.num_calls() + create.num_calls() + publish.num_calls(),
        0
    );
}

/// `--atomic` when a write fails after the checks passed (the emulator cannot be made to refuse
/// one write): the change already made is taken back with the tool's own rollback.
#[tokio::test]
async fn atomic_takes_back_what_it_changed_when_a_later_write_is_refused() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let reads_of_a = Arc::new(AtomicUsize::new(0));
    let counter = reads_of_a.clone();
    let prod_of_a = mock!(Client::get_alias)
        .match_requests(|r| r.name() == Some("prod") && r.function_name() == Some("a"))
        .then_output(move || {
            // Version 1 until a's update, version 2 (as the write left it) after.
            let moved = counter.fetch_add(1, Ordering::SeqCst) > 0;
            GetAliasOutput::builder()
                .name("prod")
                .function_version(if moved { "2" } else { "1" })
                .revision_id(if moved { "rev-a2" } else { "rev-a1" })
                .build()
        });
    let promote_a = mock!(Client::update_alias)
        .match_requests(|r| r.function_name() == Some("a") && r.function_version() == Some("2"))
        .then_output(|| UpdateAliasOutput::builder().build());
    let refuse_b = mock!(Client::update_alias)
        .match_requests(|r| r.function_name() == Some("b"))
        .then_error(|| {
            UpdateAliasError::PreconditionFailedException(
                PreconditionFailedException::builder()
                    .message("The Revision Id provided does not match the latest Revision Id.")
                    .build(),
            )
        });
    let back_a = mock!(Client::update_alias)
        .match_requests(|r| {
            r.function_name() == Some("a")
                && r.function_version() == Some("1")
                && r.revision_id() == Some("rev-a2")
        })
        .then_output(|| UpdateAliasOutput::builder().build());
    let rules = [
        prod_of_a,
        alias_rule("staging", "2", "rev-s"),
        alias_rule("prod", "1", "rev-b"),
        version_rule("2", "SHA2"),
        version_rule("1", "SHA1"),
        promote_a.clone(),
        refuse_b.clone(),
        back_a.clone(),
    ];
    let client = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, &rules);
    let (code, records) = run(
        client,
        &[
            "promote", "a", "b", "--from", "staging", "--to", "prod", "--atomic",
        ],
        None,
    )
    .await;
    assert_eq!(
        code,
        ExitCode::Precondition,
        "the run still failed: {records:?}"
    );
    assert_eq!(promote_a.num_calls(), 1);
    assert_eq!(refuse_b.num_calls(), 1);
    assert_eq!(
        back_a.num_calls(),
        1,
        "a was taken back, compare-and-swap: {records:?}"
    );
    let actions: Vec<(&str, &str)> = records
        .iter()
        .map(|r| {
            (
                r["resource"].as_str().unwrap_or_default(),
                r["action"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [("a", "promoted"), ("b", "error"), ("a", "rolled_back")]
    );
}

/// A mock because the emulator ignores RevisionId: the answer to an UpdateAlias that AWS applied
/// is lost, the SDK's retry meets its own change ("The Revision Id provided does not match"), and
/// the alias, read again, holds what was wanted: that is a promotion, not a refusal. Where it
/// holds something else, it is still exit 4.
#[tokio::test]
async fn a_write_refused_by_its_own_earlier_attempt_is_a_success() {
    let refused = || {
        mock!(Client::update_alias).then_error(|| {
            UpdateAliasError::PreconditionFailedException(
                PreconditionFailedException::builder()
                    .message("The Revision Id provided does not match the latest Revision Id.")
                    .build(),
            )
        })
    };
    for (after, code) in [("2", ExitCode::Success), ("3", ExitCode::Precondition)] {
        let prod = mock!(Client::get_alias)
            .match_requests(|r| r.name() == Some("prod"))
            .sequence()
            .output(|| {
                GetAliasOutput::builder()
                    .name("prod")
                    .function_version("1")
                    .revision_id("rev-p")
                    .build()
            })
            .output(move || {
                GetAliasOutput::builder()
                    .name("prod")
                    .function_version(after)
                    .revision_id("rev-p2")
                    .build()
            })
            .build();
        let update = refused();
        let rules = [
            alias_rule("staging", "2", "rev-s"),
            prod.clone(),
            version_rule("2", "SHA2"),
            version_rule("1", "SHA1"),
            update.clone(),
        ];
        let client = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, &rules);
        let (got, records) = run(
            client,
            &["promote", "orders", "--from", "staging", "--to", "prod"],
            None,
        )
        .await;
        assert_eq!(
            got, code,
            "prod holds {after} after the refusal: {records:?}"
        );
        assert_eq!(update.num_calls(), 1);
        assert_eq!(
            prod.num_calls(),
            2,
            "read, then read again after the refusal"
        );
        if code == ExitCode::Success {
            assert_eq!(records.len(), 1, "{records:?}");
            assert_eq!(records[0]["action"], "promoted");
            assert_eq!(records[0]["artifact"]["version"], "2");
            assert_eq!(records[0]["previous"]["version"], "1", "the undo is exact");
        } else {
            assert_eq!(records[0]["action"], "error", "{records:?}");
        }
    }
}
