//! Canaries, with SDK-level mocks: the emulator ignores canary settings (a canary patch even
//! overwrites the live deployment there), so these tests check the exact UpdateStage patch
//! operations sent for put, promote and abort, that a missing deployment is refused, and that a
//! canary's deployment must be what the environment before runs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // reason: tests fail loudly

use apigw_stage::{execute, Cli, Clients, Options};
use aws_sdk_apigateway::operation::get_deployment::{GetDeploymentError, GetDeploymentOutput};
use aws_sdk_apigateway::operation::get_rest_apis::GetRestApisOutput;
use aws_sdk_apigateway::operation::get_stage::{GetStageInput, GetStageOutput};
use aws_sdk_apigateway::operation::update_stage::{UpdateStageInput, UpdateStageOutput};
use aws_sdk_apigateway::types::error::NotFoundException;
use aws_sdk_apigateway::types::{CanarySettings, RestApi};
use aws_sdk_apigateway::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use clap::Parser;
use shared::config::Project;
use shared::output::{Format, Output};
use shared::ExitCode;
use test_harness::Captured;

async fn run(
    rules: &[Rule],
    args: &[&str],
    stdin: Option<&str>,
) -> (ExitCode, Vec<serde_json::Value>) {
    run_in(None, rules, args, stdin).await
}

/// [`run`], with a promote.toml.
async fn run_in(
    project: Option<&Project>,
    rules: &[Rule],
    args: &[&str],
    stdin: Option<&str>,
) -> (ExitCode, Vec<serde_json::Value>) {
    let cli =
        Cli::try_parse_from(std::iter::once("apigw-stage").chain(args.iter().copied())).unwrap();
    let client = mock_client!(aws_sdk_apigateway, RuleMode::MatchAny, rules);
    let clients = Clients::fixed(client, "eu-west-1");
    let captured = Captured::default();
    let mut out = Output::to_writer(Format::Ndjson, Box::new(captured.clone()));
    let input = stdin.map(|t| shared::input::Input::from_text("stdin", t).unwrap());
    let opts = Options {
        dry_run: cli.common.dry_run,
        concurrency: 2,
        ..Options::default()
    };
    let code = match execute(
        cli.command,
        project,
        input.as_ref(),
        &clients,
        opts,
        &mut out,
    )
    .await
    {
        Ok(code) => code,
        Err(e) => e.exit_code(),
    };
    (code, captured.records())
}

/// The API the tests name, "orders": a name (not an id's shape) is looked up in GetRestApis.
fn api() -> Rule {
    mock!(Client::get_rest_apis).then_output(|| {
        GetRestApisOutput::builder()
            .items(RestApi::builder().id("api1").name("orders").build())
            .build()
    })
}

fn stage(deployment: &'static str, canary: Option<(&'static str, f64)>) -> Rule {
    mock!(Client::get_stage).then_output(move || {
        GetStageOutput::builder()
            .stage_name("prod")
            .deployment_id(deployment)
            .set_canary_settings(canary.map(|(d, p)| {
                CanarySettings::builder()
                    .deployment_id(d)
                    .percent_traffic(p)
                    .build()
            }))
            .build()
    })
}

/// GetStage of one stage by name only.
fn stage_named(
    name: &'static str,
    deployment: &'static str,
    canary: Option<(&'static str, f64)>,
) -> Rule {
    mock!(Client::get_stage)
        .match_requests(move |r: &GetStageInput| r.stage_name() == Some(name))
        .then_output(move || {
            GetStageOutput::builder()
                .stage_name(name)
                .deployment_id(deployment)
                .set_canary_settings(canary.map(|(d, p)| {
                    CanarySettings::builder()
                        .deployment_id(d)
                        .percent_traffic(p)
                        .build()
                }))
                .build()
        })
}

fn deployment_exists() -> Rule {
    mock!(Client::get_deployment).then_output(|| GetDeploymentOutput::builder().id("d2").build())
}

/// An UpdateStage rule that only matches exactly these operations, in this order.
fn update_with(expected: &'static [(&'static str, &'static str, Option<&'static str>)]) -> Rule {
    mock!(Client::update_stage)
        .match_requests(move |r: &UpdateStageInput| {
            let sent: Vec<(&str, &str, Option<&str>)> = r
                .patch_operations()
                .iter()
                .map(|op| {
                    (
                        op.op().map_or("", |o| o.as_str()),
                        op.path().unwrap_or(""),
                        op.value(),
                    )
                })
                .collect();
            r.rest_api_id() == Some("api1") && r.stage_name() == Some("prod") && sent == expected
        })
        .then_output(|| UpdateStageOutput::builder().build())
}

/// Written with the old spelling (`--percent`, now `--weight`) on purpose: scripts still use it.
#[tokio::test]
async fn putting_a_canary_sends_its_deployment_and_percent() {
    let update = update_with(&[
        ("replace", "/canarySettings/deploymentId", Some("d2")),
        ("replace", "/canarySettings/percentTraffic", Some("12.5")),
    ]);
    let rules = [
        api(),
        stage("d1", None),
        deployment_exists(),
        update.clone(),
    ];
    let (code, records) = run(
        &rules,
        &[
            "canary",
            "orders",
            "--env",
            "prod",
            "--deployment",
            "d2",
            "--percent",
            "12.5",
        ],
        None,
    )
    .await;
    assert_eq!(code, ExitCode::Success, "{records:?}");
    assert_eq!(update.num_calls(), 1);
    assert_eq!(records[0]["action"], "canary");
    assert_eq!(
        records[0]["artifact"],
        serde_json::json!({"deployment_id": "d1", "canary": {"deployment_id": "d2", "percent": 12.5}})
    );
    assert_eq!(
        records[0]["previous"],
        serde_json::json!({"deployment_id": "d1"})
    );
}

/// Written with the old spelling (`--promote`, now `--finish`) on purpose: scripts still use it.
#[tokio::test]
async fn promoting_a_canary_is_one_update_of_deployment_and_canary() {
    let update = update_with(&[
        ("replace", "/deploymentId", Some("d2")),
        ("remove", "/canarySettings", None),
    ]);
    let rules = [api(), stage("d1", Some(("d2", 10.0))), update.clone()];
    let (code, records) = run(
        &rules,
        &["canary", "orders", "--env", "prod", "--promote"],
        None,
    )
    .await;
    assert_eq!(code, ExitCode::Success, "{records:?}");
    assert_eq!(update.num_calls(), 1);
    assert_eq!(records[0]["action"], "promoted");
    assert_eq!(
        records[0]["artifact"],
        serde_json::json!({"deployment_id": "d2"})
    );
}

#[tokio::test]
async fn aborting_a_canary_removes_only_the_canary() {
    let update = update_with(&[("remove", "/canarySettings", None)]);
    let rules = [api(), stage("d1", Some(("d2", 10.0))), update.clone()];
    let (code, records) = run(
        &rules,
        &["canary", "orders", "--env", "prod", "--abort"],
        None,
    )
    .await;
    assert_eq!(code, ExitCode::Success, "{records:?}");
    assert_eq!(update.num_calls(), 1);
    assert_eq!(records[0]["action"], "rolled_back");

    // Rolling that back puts the canary on again, exactly.
    let restore = update_with(&[
        ("replace", "/canarySettings/deploymentId", Some("d2")),
        ("replace", "/canarySettings/percentTraffic", Some("10")),
    ]);
    let rules = [stage("d1", None), restore.clone()];
    let log = serde_json::to_string(&records[0]).unwrap();
    let (code, _) = run(&rules, &["rollback"], Some(&log)).await;
    assert_eq!(code, ExitCode::Success);
    assert_eq!(restore.num_calls(), 1);
}

#[tokio::test]
async fn a_deployment_the_api_does_not_have_is_refused() {
    let missing = mock!(Client::get_deployment).then_error(|| {
        GetDeploymentError::NotFoundException(
            NotFoundException::builder()
                .message("Invalid Deployment identifier specified")
                .build(),
        )
    });
    let update = mock!(Client::update_stage).then_output(|| UpdateStageOutput::builder().build());
    let rules = [api(), stage("d1", None), missing, update.clone()];
    let (code, records) = run(
        &rules,
        &[
            "canary",
            "orders",
            "--env",
            "prod",
            "--deployment",
            "zz",
            "--weight",
            "5",
        ],
        None,
    )
    .await;
    // Not found is exit 4 naming it, as in every tool.
    assert_eq!(code, ExitCode::Precondition);
    // No change: the only record says what failed, for the tools after this one in a pipe.
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["action"], "error");
    assert_eq!(records[0]["resource"], "api1", "the API's id, not its name");
    assert_eq!(records[0]["exit_code"], 4);
    assert!(
        records[0]["message"]
            .as_str()
            .unwrap()
            .contains("API api1 has no deployment zz"),
        "{records:?}"
    );
    let record = r#"{"service":"apigateway","action":"resolved","resource":"api1","env":"staging","pointer":"staging","artifact":{"deployment_id":"zz"}}"#;
    let (code, records) = run(&rules, &["promote", "--to", "prod"], Some(record)).await;
    assert_eq!(code, ExitCode::Precondition);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["action"], "error");
    assert_eq!(records[0]["pointer"], "prod");
    assert_eq!(records[0]["exit_code"], 4);
    assert_eq!(update.num_calls(), 0, "nothing was written");
}

#[tokio::test]
async fn a_canary_takes_only_what_the_environment_before_runs() {
    let project = Project::parse(
        std::path::Path::new("promote.toml"),
        "[envs]\norder = [\"staging\", \"prod\"]\n",
    )
    .unwrap();
    let put = |deployment: &'static str, force: bool| {
        let mut args = vec![
            "canary",
            "orders",
            "--env",
            "prod",
            "--deployment",
            deployment,
            "--weight",
            "10",
        ];
        if force {
            args.push("--force");
        }
        args
    };
    // Staging runs d2; prod runs d1.
    let update = mock!(Client::update_stage).then_output(|| UpdateStageOutput::builder().build());
    let rules = [
        api(),
        stage_named("staging", "d2", None),
        stage_named("prod", "d1", None),
        deployment_exists(),
        update.clone(),
    ];

    let (code, records) = run_in(Some(&project), &rules, &put("d3", false), None).await;
    assert_eq!(code, ExitCode::Precondition, "{records:?}");
    assert_eq!(update.num_calls(), 0, "nothing was written");
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["action"], "error");
    let message = records[0]["message"].as_str().unwrap();
    assert!(
        message.contains(
            "deployment d3 is not what staging holds (deployment d2), and prod takes only that"
        ),
        "{message}"
    );
    assert!(message.contains("pass --force"), "{message}");

    let (code, records) = run_in(Some(&project), &rules, &put("d2", false), None).await;
    assert_eq!(code, ExitCode::Success, "{records:?}");
    assert_eq!(update.num_calls(), 1);
    assert_eq!(records[0]["action"], "canary");
    assert_eq!(records[0]["forced"], serde_json::Value::Null);

    let (code, records) = run_in(Some(&project), &rules, &put("d3", true), None).await;
    assert_eq!(code, ExitCode::Success, "{records:?}");
    assert_eq!(update.num_calls(), 2);
    assert_eq!(records[0]["action"], "canary");
    assert_eq!(records[0]["forced"], true);

    // --promote of a canary staging does not run: refused; --abort is exempt.
    let update = mock!(Client::update_stage).then_output(|| UpdateStageOutput::builder().build());
    let rules = [
        api(),
        stage_named("staging", "d2", None),
        stage_named("prod", "d1", Some(("d3", 10.0))),
        update.clone(),
    ];
    let promote = ["canary", "orders", "--env", "prod", "--finish"];
    let (code, records) = run_in(Some(&project), &rules, &promote, None).await;
    assert_eq!(code, ExitCode::Precondition, "{records:?}");
    assert!(
        records[0]["message"]
            .as_str()
            .unwrap()
            .contains("deployment d3 is not what staging holds"),
        "{records:?}"
    );
    assert_eq!(update.num_calls(), 0);
    let abort = ["canary", "orders", "--env", "prod", "--abort"];
    let (code, records) = run_in(Some(&project), &rules, &abort, None).await;
    assert_eq!(code, ExitCode::Success, "{records:?}");
    assert_eq!(records[0]["action"], "rolled_back");
    assert_eq!(update.num_calls(), 1);
}

/// AWS's own message for an API that does not exist ("Invalid API identifier specified"; the
/// emulator words it otherwise, and its GetDeployment of an unknown id answers HTTP 500): the API
/// is named as missing, not taken for a missing stage or deployment.
#[tokio::test]
async fn an_api_aws_does_not_have_is_named_as_missing() {
    let invalid_api = "Invalid API identifier specified 123456789012:api1";
    let no_stage = mock!(Client::get_stage).then_error(move || {
        aws_sdk_apigateway::operation::get_stage::GetStageError::NotFoundException(
            NotFoundException::builder().message(invalid_api).build(),
        )
    });
    let no_deployment = mock!(Client::get_deployment).then_error(move || {
        GetDeploymentError::NotFoundException(
            NotFoundException::builder().message(invalid_api).build(),
        )
    });
    let update = mock!(Client::update_stage).then_output(|| UpdateStageOutput::builder().build());
    let rules = [no_stage, no_deployment, update.clone()];
    let promoted = r#"{"service":"apigateway","action":"promoted","resource":"api1","env":"prod","pointer":"prod","artifact":{"deployment_id":"d2"},"previous":{"deployment_id":"d1"}}"#;
    let resolved = r#"{"service":"apigateway","action":"resolved","resource":"api1","env":"staging","pointer":"staging","artifact":{"deployment_id":"d2"}}"#;
    for (args, stdin) in [
        (&["rollback"][..], promoted),
        (&["status"][..], resolved),
        (&["promote", "--to", "prod"][..], resolved),
    ] {
        let (code, records) = run(&rules, args, Some(stdin)).await;
        assert_eq!(code, ExitCode::Precondition, "{args:?}");
        let error = records.iter().find(|r| r["action"] == "error").unwrap();
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("REST API api1 does not exist"),
            "{args:?}: {records:?}"
        );
    }
    assert_eq!(update.num_calls(), 0, "nothing was written");
}

/// A mock because the fault the test needs (the answer to a CreateStage that was applied, lost)
/// cannot be made to happen on purpose against the emulator: the retry meets the stage it made
/// (ConflictException), and the stage, read again, is on the wanted deployment: a promotion, not
/// a refusal. On another deployment it is still exit 4.
#[tokio::test]
async fn a_stage_created_by_its_own_earlier_attempt_is_a_success() {
    for (after, code) in [("d2", ExitCode::Success), ("d9", ExitCode::Precondition)] {
        let prod = mock!(Client::get_stage)
            .match_requests(|r: &GetStageInput| r.stage_name() == Some("prod"))
            .sequence()
            .error(|| {
                aws_sdk_apigateway::operation::get_stage::GetStageError::NotFoundException(
                    NotFoundException::builder()
                        .message("Invalid stage identifier specified")
                        .build(),
                )
            })
            .output(move || {
                GetStageOutput::builder()
                    .stage_name("prod")
                    .deployment_id(after)
                    .build()
            })
            .build();
        let create = mock!(Client::create_stage).then_error(|| {
            aws_sdk_apigateway::operation::create_stage::CreateStageError::ConflictException(
                aws_sdk_apigateway::types::error::ConflictException::builder()
                    .message("Stage already exists")
                    .build(),
            )
        });
        let rules = [
            stage_named("staging", "d2", None),
            prod.clone(),
            deployment_exists(),
            create.clone(),
        ];
        let record = r#"{"service":"apigateway","action":"resolved","resource":"api1","env":"staging","pointer":"staging","artifact":{"deployment_id":"d2"}}"#;
        let (got, records) = run(&rules, &["promote", "--to", "prod"], Some(record)).await;
        assert_eq!(got, code, "prod on {after} after the refusal: {records:?}");
        assert_eq!(create.num_calls(), 1);
        assert_eq!(
            prod.num_calls(),
            2,
            "read, then read again after the refusal"
        );
        if code == ExitCode::Success {
            assert_eq!(records[0]["action"], "promoted", "{records:?}");
            assert_eq!(records[0]["artifact"]["deployment_id"], "d2");
            assert_eq!(records[0]["previous"], serde_json::Value::Null);
        } else {
            assert_eq!(records[0]["action"], "error", "{records:?}");
        }
    }
}
