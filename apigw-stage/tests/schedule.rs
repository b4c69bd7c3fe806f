//! A stage canary run on a schedule. API Gateway is an SDK-level mock here, holding the stage's
//! state between calls: the emulator cannot carry canary settings (a `/canarySettings` patch
//! overwrites the live deployment there; see the emulator notes). The alarms the shift watches
//! are real CloudWatch alarms in the emulator (its SetAlarmState fires one mid-shift), reached
//! through `Clients::sharing`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // reason: tests fail loudly

use apigw_stage::{execute, Cli, Clients, Options};
use aws_sdk_apigateway::operation::get_deployment::GetDeploymentOutput;
use aws_sdk_apigateway::operation::get_rest_apis::GetRestApisOutput;
use aws_sdk_apigateway::operation::get_stage::GetStageOutput;
use aws_sdk_apigateway::operation::update_stage::{UpdateStageInput, UpdateStageOutput};
use aws_sdk_apigateway::types::{CanarySettings, RestApi};
use aws_sdk_apigateway::Client;
use aws_sdk_cloudwatch::types::StateValue;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use clap::Parser;
use shared::output::{Format, Output};
use shared::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use test_harness::cloudwatch::{create_alarm, set_state};
use test_harness::{unique, Captured};

/// The stage as the mock holds it: its deployment and canary, and each UpdateStage's operations.
#[derive(Debug, Default)]
struct Stage {
    deployment: String,
    canary: Option<(String, f64)>,
    updates: Vec<Vec<String>>,
}

type Shared = Arc<Mutex<Stage>>;

fn rules(stage: &Shared) -> Vec<Rule> {
    let api = mock!(Client::get_rest_apis).then_output(|| {
        GetRestApisOutput::builder()
            .items(RestApi::builder().id("api1").name("orders").build())
            .build()
    });
    let read = stage.clone();
    let get = mock!(Client::get_stage).then_output(move || {
        let s = read.lock().unwrap();
        GetStageOutput::builder()
            .stage_name("prod")
            .deployment_id(&s.deployment)
            .set_canary_settings(s.canary.as_ref().map(|(d, p)| {
                CanarySettings::builder()
                    .deployment_id(d)
                    .percent_traffic(*p)
                    .build()
            }))
            .build()
    });
    let deployment = mock!(Client::get_deployment)
        .then_output(|| GetDeploymentOutput::builder().id("d2").build());
    // UpdateStage applies its patch to the held stage, as API Gateway would.
    let write = stage.clone();
    let update = mock!(Client::update_stage)
        .match_requests(move |r: &UpdateStageInput| {
            let mut s = write.lock().unwrap();
            let mut ops = Vec::new();
            for op in r.patch_operations() {
                let (kind, path, value) = (
                    op.op().map_or("", |o| o.as_str()),
                    op.path().unwrap_or(""),
                    op.value().unwrap_or(""),
                );
                ops.push(format!("{kind} {path} {value}").trim().to_string());
                match (kind, path) {
                    ("replace", "/deploymentId") => s.deployment = value.to_string(),
                    ("remove", "/canarySettings") => s.canary = None,
                    ("replace", "/canarySettings/deploymentId") => {
                        let percent = s.canary.as_ref().map_or(0.0, |c| c.1);
                        s.canary = Some((value.to_string(), percent));
                    }
                    ("replace", "/canarySettings/percentTraffic") => {
                        if let Some(c) = s.canary.as_mut() {
                            c.1 = value.parse().unwrap();
                        }
                    }
                    other => panic!("unexpected operation {other:?}"),
                }
            }
            s.updates.push(ops);
            true
        })
        .then_output(|| UpdateStageOutput::builder().build());
    vec![api, get, deployment, update]
}

async fn run(stage: &Shared, args: &[&str]) -> (ExitCode, Vec<serde_json::Value>) {
    run_with(stage, args, None).await
}

async fn run_with(
    stage: &Shared,
    args: &[&str],
    stdin: Option<&str>,
) -> (ExitCode, Vec<serde_json::Value>) {
    let cli =
        Cli::try_parse_from(std::iter::once("apigw-stage").chain(args.iter().copied())).unwrap();
    let rules = rules(stage);
    let client = mock_client!(aws_sdk_apigateway, RuleMode::MatchAny, &rules);
    let clients = Clients::fixed(client, "us-east-1").sharing(test_harness::emulator::sdk_config());
    let captured = Captured::default();
    let mut out = Output::to_writer(Format::Ndjson, Box::new(captured.clone()));
    let opts = Options {
        dry_run: cli.common.dry_run,
        concurrency: 1,
        ..Options::default()
    };
    let input = stdin.map(|t| shared::input::Input::from_text("stdin", t).unwrap());
    let code = match execute(cli.command, None, input.as_ref(), &clients, opts, &mut out).await {
        Ok(code) => code,
        Err(e) => e.exit_code(),
    };
    (code, captured.records())
}

fn on_d1() -> Shared {
    Arc::new(Mutex::new(Stage {
        deployment: "d1".into(),
        ..Stage::default()
    }))
}

fn actions(records: &[serde_json::Value]) -> Vec<&str> {
    records
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_stage_canary_steps_through_its_schedule_and_is_promoted() {
    let alarm = unique("orders-prod-5xx");
    create_alarm(&alarm).await;
    let stage = on_d1();
    let (code, records) = run(
        &stage,
        &[
            "canary",
            "orders",
            "--env",
            "prod",
            "--deployment",
            "d2",
            "--steps",
            "10,50",
            "--interval",
            "1s",
            "--poll-interval",
            "1s",
            "--alarm",
            &alarm,
        ],
    )
    .await;
    assert_eq!(code, ExitCode::Success, "{records:?}");
    assert_eq!(actions(&records), ["canary", "canary", "promoted"]);
    let s = stage.lock().unwrap();
    assert_eq!(
        s.updates,
        [
            vec![
                "replace /canarySettings/deploymentId d2",
                "replace /canarySettings/percentTraffic 10"
            ],
            vec!["replace /canarySettings/percentTraffic 50"],
            vec!["replace /deploymentId d2", "remove /canarySettings"],
        ]
    );
    assert_eq!((s.deployment.as_str(), &s.canary), ("d2", &None));
}

#[tokio::test]
async fn an_alarm_mid_schedule_takes_the_stage_canary_away() {
    let alarm = unique("orders-prod-5xx");
    create_alarm(&alarm).await;
    let stage = on_d1();
    let watcher = stage.clone();
    let fire = async {
        // Once the canary has traffic, the alarm fires.
        let deadline = Instant::now() + Duration::from_secs(30);
        while watcher.lock().unwrap().canary.is_none() {
            assert!(Instant::now() < deadline, "the shift never began");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        set_state(&alarm, StateValue::Alarm, "5XXError >= 5").await;
    };
    let args = [
        "canary",
        "orders",
        "--env",
        "prod",
        "--deployment",
        "d2",
        "--schedule",
        "Canary10Percent5Minutes",
        "--poll-interval",
        "1s",
        "--alarm",
        &alarm,
    ];
    let shift = run(&stage, &args);
    let ((code, records), ()) = tokio::join!(shift, fire);
    assert_eq!(code, ExitCode::Aws, "{records:?}");
    assert_eq!(actions(&records), ["canary", "rolled_back"]);
    let s = stage.lock().unwrap();
    assert_eq!(
        (s.deployment.as_str(), &s.canary),
        ("d1", &None),
        "{:?}",
        s.updates
    );
    assert_eq!(s.updates.last().unwrap(), &vec!["remove /canarySettings"]);
}

#[tokio::test]
async fn a_failed_post_traffic_command_puts_the_stage_back_on_its_deployment() {
    let stage = on_d1();
    let (code, records) = run(
        &stage,
        &[
            "canary",
            "orders",
            "--env",
            "prod",
            "--deployment",
            "d2",
            "--schedule",
            "AllAtOnce",
            "--post-traffic-cmd",
            "exit 1",
        ],
    )
    .await;
    assert_eq!(code, ExitCode::Aws, "{records:?}");
    assert_eq!(actions(&records), ["promoted", "rolled_back"]);
    let s = stage.lock().unwrap();
    assert_eq!(
        (s.deployment.as_str(), &s.canary),
        ("d1", &None),
        "{:?}",
        s.updates
    );
    assert_eq!(
        s.updates,
        [
            vec!["replace /deploymentId d2"],
            vec!["replace /deploymentId d1"]
        ]
    );
}

#[tokio::test]
async fn status_says_where_the_canary_stands_and_changes_nothing() {
    let stage = Arc::new(Mutex::new(Stage {
        deployment: "d1".into(),
        canary: Some(("d2".into(), 25.0)),
        ..Stage::default()
    }));
    let (code, records) = run(&stage, &["canary", "orders", "--env", "prod", "--status"]).await;
    assert_eq!(code, ExitCode::Success, "{records:?}");
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["action"], "resolved");
    assert_eq!(records[0]["artifact"]["canary"]["percent"], 25.0);
    assert!(stage.lock().unwrap().updates.is_empty());
}

/// `promote --canary`: the manifest's deployment, shifted onto the stage step by step.
#[tokio::test]
async fn promote_with_a_schedule_shifts_the_stage_to_the_manifests_deployment() {
    let stage = on_d1();
    let manifest = r#"{"service":"apigateway","action":"resolved","resource":"api1","env":"staging","pointer":"staging","artifact":{"deployment_id":"d2"}}"#;
    let (code, records) = run_with(
        &stage,
        &[
            "promote",
            "--to",
            "prod",
            "--canary",
            "Canary10Percent5Minutes",
            "--dry-run",
        ],
        Some(manifest),
    )
    .await;
    assert_eq!(code, ExitCode::Success, "{records:?}");
    assert_eq!(records[0]["action"], "planned", "{records:?}");
    assert!(
        stage.lock().unwrap().updates.is_empty(),
        "a dry run writes nothing"
    );

    let (code, records) = run_with(
        &stage,
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
        Some(manifest),
    )
    .await;
    assert_eq!(code, ExitCode::Success, "{records:?}");
    assert_eq!(actions(&records), ["canary", "promoted"]);
    let s = stage.lock().unwrap();
    assert_eq!(
        s.updates,
        [
            vec![
                "replace /canarySettings/deploymentId d2",
                "replace /canarySettings/percentTraffic 40"
            ],
            vec!["replace /deploymentId d2", "remove /canarySettings"],
        ]
    );
}

/// A dry run shows the schedule's first move as the real run makes it: all at once is the
/// stage on the new deployment (not a canary of 100%).
#[tokio::test]
async fn a_dry_run_plans_the_first_move_and_writes_nothing() {
    let stage = on_d1();
    let (code, records) = run(
        &stage,
        &[
            "canary",
            "orders",
            "--env",
            "prod",
            "--deployment",
            "d2",
            "--schedule",
            "AllAtOnce",
            "--dry-run",
        ],
    )
    .await;
    assert_eq!(code, ExitCode::Success, "{records:?}");
    assert_eq!(records[0]["action"], "planned");
    assert_eq!(
        records[0]["artifact"],
        serde_json::json!({"deployment_id": "d2"})
    );
    assert!(stage.lock().unwrap().updates.is_empty());
}
