//! What the emulator cannot show, tested with SDK-level mocks: it answers
//! PublishStateMachineVersion and ListStateMachineVersions with HTTP 500, so `publish` (the
//! revision id it sends as its precondition, a refusal, a definition published already) and
//! `history` are proven here by the exact requests sent and AWS's answers; and so is the
//! read-compare-write of an alias (Step Functions has no compare-and-swap of its own) when
//! someone moves the alias between the read and the write.

#![allow(clippy::unwrap_used, clippy::expect_used)] // reason: tests fail loudly

use aws_sdk_sfn::operation::create_state_machine_alias::CreateStateMachineAliasOutput;
use aws_sdk_sfn::operation::describe_state_machine::{
    DescribeStateMachineError, DescribeStateMachineOutput,
};
use aws_sdk_sfn::operation::describe_state_machine_alias::{
    DescribeStateMachineAliasError, DescribeStateMachineAliasOutput,
};
use aws_sdk_sfn::operation::list_state_machine_aliases::ListStateMachineAliasesOutput;
use aws_sdk_sfn::operation::list_state_machine_versions::ListStateMachineVersionsOutput;
use aws_sdk_sfn::operation::publish_state_machine_version::{
    PublishStateMachineVersionError, PublishStateMachineVersionOutput,
};
use aws_sdk_sfn::operation::update_state_machine_alias::UpdateStateMachineAliasOutput;
use aws_sdk_sfn::primitives::DateTime;
use aws_sdk_sfn::types::error::{ConflictException, ResourceNotFound, StateMachineDoesNotExist};
use aws_sdk_sfn::types::{
    RoutingConfigurationListItem, StateMachineAliasListItem, StateMachineType,
    StateMachineVersionListItem,
};
use aws_sdk_sfn::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use clap::Parser;
use sfn_promote::calls::{Clients, Services};
use sfn_promote::{execute, Cli, Options};
use shared::input::Input;
use shared::output::{Format, Output};
use shared::ExitCode;
use test_harness::Captured;

const MACHINE: &str = "arn:aws:states:eu-west-1:111111111111:stateMachine:orders";

/// Run an sfn-promote command line against `client`, returning its exit code and records.
async fn run(
    client: Client,
    args: &[&str],
    stdin: Option<&str>,
) -> (ExitCode, Vec<serde_json::Value>) {
    let cli =
        Cli::try_parse_from(std::iter::once("sfn-promote").chain(args.iter().copied())).unwrap();
    let clients = Clients::fixed(Services::sfn_only(client), "eu-west-1");
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

fn definition(marker: &str) -> String {
    format!(
        r#"{{"StartAt":"A","States":{{"A":{{"Type":"Pass","Result":"{marker}","End":true}}}}}}"#
    )
}

/// DescribeStateMachine of the state machine (`None`) or one of its versions.
fn described(version: Option<&'static str>, marker: &'static str, revision: &'static str) -> Rule {
    let arn = match version {
        Some(v) => format!("{MACHINE}:{v}"),
        None => MACHINE.to_string(),
    };
    let wanted = arn.clone();
    mock!(Client::describe_state_machine)
        .match_requests(move |r| r.state_machine_arn() == Some(wanted.as_str()))
        .then_output(move || {
            DescribeStateMachineOutput::builder()
                .state_machine_arn(&arn)
                .name("orders")
                .definition(definition(marker))
                .role_arn("arn:aws:iam::111111111111:role/sfn")
                .r#type(StateMachineType::Standard)
                .creation_date(DateTime::from_secs(1_764_000_000))
                .revision_id(revision)
                .description(format!("git:{marker}"))
                .build()
                .unwrap()
        })
}

fn no_version(version: &'static str) -> Rule {
    let arn = format!("{MACHINE}:{version}");
    mock!(Client::describe_state_machine)
        .match_requests(move |r| r.state_machine_arn() == Some(arn.as_str()))
        .then_error(|| {
            DescribeStateMachineError::StateMachineDoesNotExist(
                StateMachineDoesNotExist::builder().message("no").build(),
            )
        })
}

fn routing(pairs: &[(&str, i32)]) -> Vec<RoutingConfigurationListItem> {
    pairs
        .iter()
        .map(|(v, w)| {
            RoutingConfigurationListItem::builder()
                .state_machine_version_arn(format!("{MACHINE}:{v}"))
                .weight(*w)
                .build()
                .unwrap()
        })
        .collect()
}

fn alias(name: &'static str, pairs: &'static [(&'static str, i32)]) -> Rule {
    let arn = format!("{MACHINE}:{name}");
    mock!(Client::describe_state_machine_alias)
        .match_requests(move |r| r.state_machine_alias_arn() == Some(arn.as_str()))
        .then_output(move || {
            DescribeStateMachineAliasOutput::builder()
                .name(name)
                .set_routing_configuration(Some(routing(pairs)))
                .build()
        })
}

fn no_alias(name: &'static str) -> Rule {
    let arn = format!("{MACHINE}:{name}");
    mock!(Client::describe_state_machine_alias)
        .match_requests(move |r| r.state_machine_alias_arn() == Some(arn.as_str()))
        .then_error(|| {
            DescribeStateMachineAliasError::ResourceNotFound(
                ResourceNotFound::builder().message("no alias").build(),
            )
        })
}

fn versions(numbers: &'static [&'static str]) -> Rule {
    mock!(Client::list_state_machine_versions).then_output(move || {
        ListStateMachineVersionsOutput::builder()
            .set_state_machine_versions(Some(
                numbers
                    .iter()
                    .map(|v| {
                        StateMachineVersionListItem::builder()
                            .state_machine_version_arn(format!("{MACHINE}:{v}"))
                            .creation_date(DateTime::from_secs(1_764_000_000))
                            .build()
                            .unwrap()
                    })
                    .collect(),
            ))
            .build()
            .unwrap()
    })
}

fn published(version: &'static str) -> Rule {
    mock!(Client::publish_state_machine_version)
        .match_requests(|r| {
            r.state_machine_arn() == Some(MACHINE) && r.revision_id() == Some("rev-7")
        })
        .then_output(move || {
            PublishStateMachineVersionOutput::builder()
                .state_machine_version_arn(format!("{MACHINE}:{version}"))
                .creation_date(DateTime::from_secs(1_764_000_000))
                .build()
                .unwrap()
        })
}

#[tokio::test]
async fn publish_sends_the_revision_it_read_and_points_the_alias_at_the_new_version() {
    let create = mock!(Client::create_state_machine_alias)
        .match_requests(|r| {
            r.name() == Some("dev")
                && r.routing_configuration() == routing(&[("4", 100)]).as_slice()
        })
        .then_output(|| {
            CreateStateMachineAliasOutput::builder()
                .state_machine_alias_arn(format!("{MACHINE}:dev"))
                .creation_date(DateTime::from_secs(1_764_000_000))
                .build()
                .unwrap()
        });
    let publish = published("4");
    let rules = [
        described(None, "four", "rev-7"),
        described(Some("4"), "four", "rev-7"),
        no_alias("dev"),
        versions(&["3", "2", "1"]),
        publish.clone(),
        create.clone(),
    ];
    let client = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, &rules);
    let (code, records) = run(
        client,
        &["publish", MACHINE, "--env", "dev", "--description", "git:4"],
        None,
    )
    .await;
    assert_eq!(code, ExitCode::Success, "{records:?}");
    assert_eq!(publish.num_calls(), 1, "published with the revision read");
    assert_eq!(create.num_calls(), 1, "the alias was created on version 4");
    let record = &records[0];
    assert_eq!(record["action"], "published");
    assert_eq!(record["pointer"], "dev");
    assert_eq!(record["artifact"]["version"], "4");
    assert_eq!(record["artifact"]["version_arn"], format!("{MACHINE}:4"));
    assert_eq!(
        record["artifact"]["definition_sha256"],
        shared::sfn::definition_sha256(&definition("four"))
    );
    assert!(record["previous"].is_null());
}

#[tokio::test]
async fn publish_is_refused_when_the_definition_changed_after_it_was_read() {
    let conflict = mock!(Client::publish_state_machine_version).then_error(|| {
        PublishStateMachineVersionError::ConflictException(
            ConflictException::builder()
                .message("revision id mismatch")
                .build(),
        )
    });
    let create = mock!(Client::create_state_machine_alias).then_output(|| {
        CreateStateMachineAliasOutput::builder()
            .state_machine_alias_arn(format!("{MACHINE}:dev"))
            .creation_date(DateTime::from_secs(1_764_000_000))
            .build()
            .unwrap()
    });
    let rules = [
        described(None, "four", "rev-7"),
        no_alias("dev"),
        versions(&["3"]),
        conflict,
        create.clone(),
    ];
    let client = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, &rules);
    let (code, records) = run(client, &["publish", MACHINE, "--env", "dev"], None).await;
    assert_eq!(code, ExitCode::Precondition);
    assert_eq!(records[0]["action"], "error");
    assert!(
        records[0]["message"]
            .as_str()
            .unwrap()
            .contains("revision id no longer matches"),
        "{records:?}"
    );
    assert_eq!(create.num_calls(), 0, "no alias moved");
}

#[tokio::test]
async fn a_definition_published_already_is_unchanged() {
    let rules = [
        described(None, "three", "rev-7"),
        described(Some("3"), "three", "rev-7"),
        versions(&["1", "3", "2"]),
        published("3"),
    ];
    let client = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, &rules);
    let (code, records) = run(client, &["publish", MACHINE], None).await;
    assert_eq!(code, ExitCode::Success);
    assert_eq!(records[0]["action"], "unchanged");
    assert_eq!(records[0]["artifact"]["version"], "3");
}

#[tokio::test]
async fn history_lists_versions_newest_first_with_who_holds_each() {
    let list = mock!(Client::list_state_machine_aliases).then_output(|| {
        ListStateMachineAliasesOutput::builder()
            .set_state_machine_aliases(Some(
                ["prod", "staging"]
                    .iter()
                    .map(|a| {
                        StateMachineAliasListItem::builder()
                            .state_machine_alias_arn(format!("{MACHINE}:{a}"))
                            .creation_date(DateTime::from_secs(1_764_000_000))
                            .build()
                            .unwrap()
                    })
                    .collect(),
            ))
            .build()
            .unwrap()
    });
    let rules = [
        described(None, "two", "rev-7"),
        described(Some("1"), "one", "rev-7"),
        described(Some("2"), "two", "rev-7"),
        versions(&["1", "2"]),
        list,
        alias("prod", &[("1", 90), ("2", 10)]),
        alias("staging", &[("2", 100)]),
    ];
    let client = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, &rules);
    let (code, records) = run(client, &["history", MACHINE, "--env", "prod"], None).await;
    assert_eq!(code, ExitCode::Success, "{records:?}");
    let versions: Vec<&str> = records
        .iter()
        .map(|r| r["artifact"]["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["2", "1"]);
    assert_eq!(records[0]["aliases"], serde_json::json!(["staging"]));
    assert_eq!(records[0]["canary_aliases"], serde_json::json!(["prod"]));
    assert_eq!(records[0]["current"], false);
    assert_eq!(records[0]["description"], "git:two");
    assert_eq!(records[1]["aliases"], serde_json::json!(["prod"]));
    assert_eq!(records[1]["current"], true);
    assert!(
        records[0]["pointer"].is_null(),
        "a listing moves no pointer"
    );
}

#[tokio::test]
async fn an_alias_moved_between_the_read_and_the_write_is_not_overwritten() {
    // prod is read on 1 when it is checked, and on 3 just before the write: someone moved it.
    let prod = mock!(Client::describe_state_machine_alias)
        .match_requests(|r| r.state_machine_alias_arn() == Some(&format!("{MACHINE}:prod")))
        .sequence()
        .output(|| {
            DescribeStateMachineAliasOutput::builder()
                .name("prod")
                .set_routing_configuration(Some(routing(&[("1", 100)])))
                .build()
        })
        .output(|| {
            DescribeStateMachineAliasOutput::builder()
                .name("prod")
                .set_routing_configuration(Some(routing(&[("3", 100)])))
                .build()
        })
        .build();
    let update = mock!(Client::update_state_machine_alias).then_output(|| {
        UpdateStateMachineAliasOutput::builder()
            .update_date(DateTime::from_secs(1_764_000_000))
            .build()
            .unwrap()
    });
    let rules = [
        alias("staging", &[("2", 100)]),
        prod,
        described(Some("1"), "one", "rev-7"),
        described(Some("2"), "two", "rev-7"),
        no_version("3"),
        update.clone(),
    ];
    let client = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, &rules);
    let (code, records) = run(
        client,
        &["promote", MACHINE, "--from", "staging", "--to", "prod"],
        None,
    )
    .await;
    assert_eq!(code, ExitCode::Precondition, "{records:?}");
    assert_eq!(update.num_calls(), 0, "the alias was not overwritten");
    let error = records.last().unwrap();
    assert_eq!(error["action"], "error");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("changed by someone else"),
        "{records:?}"
    );
}
