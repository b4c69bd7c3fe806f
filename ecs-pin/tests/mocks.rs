//! What the emulator cannot show, with SDK-level mocks: the --wait loop's outcomes (the emulator
//! never moves a deployment along), the immutable-tag conflict as AWS reports it, and a
//! multi-container promotion checked request by request, and the digests a service's running
//! tasks report (the emulator starts no task for a service and reports no `imageDigest`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // reason: tests fail loudly

use aws_sdk_ecr::operation::batch_get_image::BatchGetImageOutput;
use aws_sdk_ecr::operation::put_image::PutImageError;
use aws_sdk_ecr::types::error::ImageTagAlreadyExistsException;
use aws_sdk_ecr::types::{Image, ImageIdentifier};
use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionOutput;
use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionOutput;
use aws_sdk_ecs::operation::update_service::UpdateServiceOutput;
use aws_sdk_ecs::types::{
    ContainerDefinition, Deployment, DeploymentRolloutState, KeyValuePair, TaskDefinition,
};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use clap::Parser;
use ecs_pin::args::WaitArgs;
use ecs_pin::calls::{Located, Services};
use ecs_pin::{execute, Cli, Clients, Options};
use shared::output::{Format, Output};
use shared::ExitCode;
use std::time::Duration;
use test_harness::Captured;

const OURS: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/web-prod:8";
const OLD: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/web-prod:7";

fn deployment(status: &str, td: &str, state: DeploymentRolloutState, running: i32) -> Deployment {
    Deployment::builder()
        .id(format!("ecs-svc/{td}"))
        .status(status)
        .task_definition(td)
        .rollout_state(state)
        .rollout_state_reason("ECS says so")
        .desired_count(2)
        .running_count(running)
        .pending_count(2 - running)
        .build()
}

fn services(deployments: Vec<Deployment>) -> DescribeServicesOutput {
    DescribeServicesOutput::builder()
        .services(
            aws_sdk_ecs::types::Service::builder()
                .service_name("web")
                .status("ACTIVE")
                .task_definition(OURS)
                .desired_count(2)
                .running_count(2)
                .set_deployments(Some(deployments))
                .build(),
        )
        .build()
}

fn located(rules: &[Rule]) -> Located {
    Located {
        client: Services {
            ecr: mock_client!(aws_sdk_ecr, RuleMode::MatchAny, rules),
            ecs: mock_client!(aws_sdk_ecs, RuleMode::MatchAny, rules),
        },
        region: Some("eu-west-1".into()),
        settings: Default::default(),
        account: None,
    }
}

fn wait_args(timeout_ms: u64) -> WaitArgs {
    WaitArgs {
        wait: true,
        timeout: Duration::from_millis(timeout_ms),
        poll_interval: Duration::from_millis(5),
    }
}

async fn wait_with(rule: Rule, timeout_ms: u64) -> (shared::Result<()>, Rule) {
    let at = located(std::slice::from_ref(&rule));
    let result =
        ecs_pin::wait::until_deployed(&at, "prod", "web", OURS, &wait_args(timeout_ms), true).await;
    (result, rule)
}

#[tokio::test]
async fn wait_completes_when_ecs_says_completed() {
    let rule = mock!(aws_sdk_ecs::Client::describe_services)
        .sequence()
        .output(|| {
            services(vec![
                deployment("PRIMARY", OURS, DeploymentRolloutState::InProgress, 0),
                deployment("ACTIVE", OLD, DeploymentRolloutState::Completed, 2),
            ])
        })
        .times(2)
        .output(|| {
            services(vec![deployment(
                "PRIMARY",
                OURS,
                DeploymentRolloutState::Completed,
                2,
            )])
        })
        .build();
    let (result, rule) = wait_with(rule, 5_000).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(
        rule.num_calls(),
        3,
        "asked until it completed, then stopped"
    );
}

#[tokio::test]
async fn a_failed_deployment_is_exit_3_with_the_reason() {
    let rule = mock!(aws_sdk_ecs::Client::describe_services).then_output(|| {
        services(vec![deployment(
            "PRIMARY",
            OURS,
            DeploymentRolloutState::Failed,
            0,
        )])
    });
    let (result, _) = wait_with(rule, 5_000).await;
    let e = result.unwrap_err();
    assert_eq!(e.exit_code(), ExitCode::Aws);
    assert!(
        e.to_string().contains("the deployment failed: ECS says so"),
        "{e}"
    );
}

#[tokio::test]
async fn a_circuit_breaker_rollback_is_exit_3() {
    // The breaker replaced our deployment with one of the old task definition.
    let rule = mock!(aws_sdk_ecs::Client::describe_services).then_output(|| {
        services(vec![deployment(
            "PRIMARY",
            OLD,
            DeploymentRolloutState::InProgress,
            1,
        )])
    });
    let (result, _) = wait_with(rule, 5_000).await;
    let e = result.unwrap_err();
    assert_eq!(e.exit_code(), ExitCode::Aws);
    assert!(
        e.to_string().contains("rolled the deployment back")
            && e.to_string().contains("web-prod:7"),
        "{e}"
    );
}

#[tokio::test]
async fn a_deployment_that_outlasts_the_timeout_is_exit_3() {
    let rule = mock!(aws_sdk_ecs::Client::describe_services).then_output(|| {
        services(vec![deployment(
            "PRIMARY",
            OURS,
            DeploymentRolloutState::InProgress,
            1,
        )])
    });
    let (result, rule) = wait_with(rule, 40).await;
    let e = result.unwrap_err();
    assert_eq!(e.exit_code(), ExitCode::Aws);
    assert!(e.to_string().contains("timed out after"), "{e}");
    assert!(rule.num_calls() >= 2, "it kept asking until the timeout");
}

async fn run(rules: &[Rule], args: &[&str]) -> (ExitCode, Vec<serde_json::Value>) {
    let cli = Cli::try_parse_from(std::iter::once("ecs-pin").chain(args.iter().copied())).unwrap();
    let at = located(rules);
    let clients = Clients::fixed(at.client, "eu-west-1");
    let captured = Captured::default();
    let mut out = Output::to_writer(Format::Ndjson, Box::new(captured.clone()));
    let opts = Options {
        dry_run: false,
        concurrency: 4,
        quiet: true,
    };
    let code = match execute(cli.into(), None, None, &clients, opts, &mut out).await {
        Ok(code) => code,
        Err(e) => e.exit_code(),
    };
    (code, captured.records())
}

fn image_rule(tag: &'static str, digest: &'static str) -> Rule {
    mock!(aws_sdk_ecr::Client::batch_get_image)
        .match_requests(move |r| {
            r.image_ids().first().and_then(ImageIdentifier::image_tag) == Some(tag)
        })
        .then_output(move || {
            BatchGetImageOutput::builder()
                .images(
                    Image::builder()
                        .registry_id("123456789012")
                        .repository_name("web")
                        .image_id(
                            ImageIdentifier::builder()
                                .image_tag(tag)
                                .image_digest(digest)
                                .build(),
                        )
                        .image_manifest("{}")
                        .image_manifest_media_type("application/vnd.oci.image.manifest.v1+json")
                        .build(),
                )
                .build()
        })
}

#[tokio::test]
async fn an_immutable_tag_conflict_is_exit_4() {
    let a = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let b = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    let put = mock!(aws_sdk_ecr::Client::put_image).then_error(|| {
        PutImageError::ImageTagAlreadyExistsException(
            ImageTagAlreadyExistsException::builder()
                .message("The image tag 'prod' already exists in the 'web' repository and cannot be overwritten because the repository is immutable.")
                .build(),
        )
    });
    let rules = [image_rule("v2", b), image_rule("prod", a), put.clone()];
    let (code, records) = run(&rules, &["tag", "web:v2", "prod"]).await;
    assert_eq!(code, ExitCode::Precondition);
    assert_eq!(put.num_calls(), 1);
    // No change record for a change that did not happen: only the failure, as a record.
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["action"], "error", "{records:?}");
    assert_eq!(records[0]["exit_code"], 4, "{records:?}");
    assert_eq!(records[0]["service"], "ecr", "{records:?}");
    assert_eq!(records[0]["pointer"], "prod", "{records:?}");
}

fn definition(family: &str, revision: i32, containers: &[(&str, &str, &str)]) -> TaskDefinition {
    TaskDefinition::builder()
        .task_definition_arn(format!(
            "arn:aws:ecs:eu-west-1:123456789012:task-definition/{family}:{revision}"
        ))
        .family(family)
        .revision(revision)
        .cpu("512")
        .memory("1024")
        .set_container_definitions(Some(
            containers
                .iter()
                .map(|(name, image, env)| {
                    ContainerDefinition::builder()
                        .name(*name)
                        .image(*image)
                        .environment(KeyValuePair::builder().name("STAGE").value(*env).build())
                        .build()
                })
                .collect(),
        ))
        .build()
}

#[tokio::test]
async fn a_multi_container_promotion_matches_containers_by_name() {
    const WEB_NEW: &str =
        "r.example/web@sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const LOG_NEW: &str =
        "r.example/log@sha256:2222222222222222222222222222222222222222222222222222222222222222";
    const WEB_OLD: &str =
        "r.example/web@sha256:3333333333333333333333333333333333333333333333333333333333333333";
    const LOG_OLD: &str =
        "r.example/log@sha256:4444444444444444444444444444444444444444444444444444444444444444";
    let service = |cluster: &'static str, td: &'static str| {
        mock!(aws_sdk_ecs::Client::describe_services)
            .match_requests(move |r| r.cluster() == Some(cluster))
            .then_output(move || {
                DescribeServicesOutput::builder()
                    .services(
                        aws_sdk_ecs::types::Service::builder()
                            .service_name("web")
                            .status("ACTIVE")
                            .task_definition(td)
                            .build(),
                    )
                    .build()
            })
    };
    let describe = |td: &'static str, def: fn() -> TaskDefinition| {
        mock!(aws_sdk_ecs::Client::describe_task_definition)
            .match_requests(move |r| r.task_definition() == Some(td))
            .then_output(move || {
                DescribeTaskDefinitionOutput::builder()
                    .task_definition(def())
                    .build()
            })
    };
    let register = mock!(aws_sdk_ecs::Client::register_task_definition)
        .match_requests(|r| {
            let images: Vec<(Option<&str>, Option<&str>, Option<&str>)> = r
                .container_definitions()
                .iter()
                .map(|c| {
                    (
                        c.name(),
                        c.image(),
                        c.environment().first().and_then(|e| e.value()),
                    )
                })
                .collect();
            // prod's order (log first), staging's digests, prod's environment.
            r.family() == Some("web-prod")
                && r.cpu() == Some("512")
                && images
                    == [
                        (Some("log"), Some(LOG_NEW), Some("prod")),
                        (Some("web"), Some(WEB_NEW), Some("prod")),
                    ]
        })
        .then_output(|| {
            RegisterTaskDefinitionOutput::builder()
                .task_definition(definition("web-prod", 8, &[]))
                .build()
        });
    let update = mock!(aws_sdk_ecs::Client::update_service)
        .match_requests(|r| r.cluster() == Some("prod") && r.task_definition() == Some(OURS))
        .then_output(|| UpdateServiceOutput::builder().build());
    let rules = [
        service("staging", "web-staging:3"),
        service("prod", "web-prod:7"),
        describe("web-staging:3", || {
            definition(
                "web-staging",
                3,
                &[("web", WEB_NEW, "staging"), ("log", LOG_NEW, "staging")],
            )
        }),
        describe("web-prod:7", || {
            definition(
                "web-prod",
                7,
                &[("log", LOG_OLD, "prod"), ("web", WEB_OLD, "prod")],
            )
        }),
        register.clone(),
        update.clone(),
    ];
    let (code, records) = run(
        &rules,
        &[
            "promote",
            "--cluster",
            "{env}",
            "--service",
            "web",
            "--from",
            "staging",
            "--to",
            "prod",
        ],
    )
    .await;
    assert_eq!(code, ExitCode::Success, "{records:?}");
    assert_eq!(register.num_calls(), 1);
    assert_eq!(update.num_calls(), 1);
    assert_eq!(records[0]["artifact"]["task_definition"], OURS);
    assert_eq!(records[0]["previous"]["task_definition"], OLD);
}

/// staging's definition names `web:v2`; its running task reports the digest it runs (`RAN`),
/// but someone has since moved the tag to `MOVED`. A mock: the emulator starts no task for a
/// service, and its tasks report no `imageDigest`.
fn moved_tag_rules() -> (Vec<Rule>, Rule) {
    const RAN: &str = "sha256:5555555555555555555555555555555555555555555555555555555555555555";
    const MOVED: &str = "sha256:6666666666666666666666666666666666666666666666666666666666666666";
    const TAGGED: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:v2";
    let service = mock!(aws_sdk_ecs::Client::describe_services).then_output(|| {
        DescribeServicesOutput::builder()
            .services(
                aws_sdk_ecs::types::Service::builder()
                    .service_name("web")
                    .status("ACTIVE")
                    .task_definition("web-staging:3")
                    .build(),
            )
            .build()
    });
    let describe = mock!(aws_sdk_ecs::Client::describe_task_definition).then_output(|| {
        DescribeTaskDefinitionOutput::builder()
            .task_definition(definition("web-staging", 3, &[("web", TAGGED, "staging")]))
            .build()
    });
    let list = mock!(aws_sdk_ecs::Client::list_tasks)
        .match_requests(|r| {
            r.cluster() == Some("staging")
                && r.service_name() == Some("web")
                && r.desired_status() == Some(&aws_sdk_ecs::types::DesiredStatus::Running)
        })
        .then_output(|| {
            aws_sdk_ecs::operation::list_tasks::ListTasksOutput::builder()
                .task_arns("arn:aws:ecs:eu-west-1:123456789012:task/staging/t1")
                .build()
        });
    let tasks = mock!(aws_sdk_ecs::Client::describe_tasks).then_output(|| {
        aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput::builder()
            .tasks(
                aws_sdk_ecs::types::Task::builder()
                    .group("service:web")
                    .task_definition_arn(
                        "arn:aws:ecs:eu-west-1:123456789012:task-definition/web-staging:3",
                    )
                    .containers(
                        aws_sdk_ecs::types::Container::builder()
                            .name("web")
                            .image(TAGGED)
                            .image_digest(RAN)
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    // What staging's task ran, not what the tag names now.
    let register = mock!(aws_sdk_ecs::Client::register_task_definition)
        .match_requests(|r| {
            r.container_definitions()
                .first()
                .and_then(|c| c.image())
                .is_some_and(|i| i.ends_with(RAN))
        })
        .then_output(|| {
            RegisterTaskDefinitionOutput::builder()
                .task_definition(definition("web-prod", 8, &[]))
                .build()
        });
    let update = mock!(aws_sdk_ecs::Client::update_service)
        .then_output(|| UpdateServiceOutput::builder().build());
    // Checking RAN exists in ECR before the write (by digest).
    let by_digest = mock!(aws_sdk_ecr::Client::batch_get_image)
        .match_requests(|r| {
            r.image_ids()
                .first()
                .and_then(ImageIdentifier::image_digest)
                == Some(RAN)
        })
        .then_output(|| {
            BatchGetImageOutput::builder()
                .images(
                    Image::builder()
                        .registry_id("123456789012")
                        .repository_name("web")
                        .image_id(ImageIdentifier::builder().image_digest(RAN).build())
                        .image_manifest("{}")
                        .build(),
                )
                .build()
        });
    (
        vec![
            service,
            describe,
            list,
            tasks,
            image_rule("v2", MOVED),
            by_digest,
            register.clone(),
            update,
        ],
        register,
    )
}

#[tokio::test]
async fn status_reports_what_the_tasks_run_and_that_the_tag_moved() {
    let (rules, _) = moved_tag_rules();
    let (code, records) = run(
        &rules,
        &["status", "--cluster", "staging", "--service", "web"],
    )
    .await;
    assert_eq!(code, ExitCode::Success, "{records:?}");
    let images = &records[0]["artifact"]["images"][0];
    assert_eq!(
        images["digest"],
        "sha256:5555555555555555555555555555555555555555555555555555555555555555"
    );
    assert_eq!(
        images["image"],
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web@sha256:5555555555555555555555555555555555555555555555555555555555555555"
    );
    assert_eq!(records[0]["digest_source"], "tasks");
    let note = records[0]["digest_note"].as_str().unwrap();
    assert!(
        note.contains("tasks run sha256:5555") && note.contains("names sha256:6666"),
        "{note}"
    );
}

#[tokio::test]
async fn promote_refuses_a_source_whose_tag_moved_since_its_tasks_started() {
    let (rules, register) = moved_tag_rules();
    let args = [
        "promote",
        "--cluster",
        "{env}",
        "--service",
        "web",
        "--from",
        "staging",
        "--to",
        "prod",
    ];
    let (code, records) = run(&rules, &args).await;
    assert_eq!(code, ExitCode::Precondition, "{records:?}");
    assert_eq!(records[0]["action"], "error", "{records:?}");
    let message = records[0]["message"].as_str().unwrap();
    assert!(message.contains("pass --force"), "{message}");
    assert_eq!(register.num_calls(), 0, "nothing registered");

    // --force promotes what staging's tasks ran (the register rule matches only that digest).
    let (rules, register) = moved_tag_rules();
    let (code, records) = run(&rules, &[&args[..], &["--force"]].concat()).await;
    assert_eq!(code, ExitCode::Success, "{records:?}");
    assert_eq!(register.num_calls(), 1);
    assert_eq!(
        records[0]["artifact"]["images"][0]["digest"],
        "sha256:5555555555555555555555555555555555555555555555555555555555555555"
    );
}

/// A mock because the fault cannot be made to happen on purpose against the emulator: the
/// answer to a PutImage that ECR applied is lost, the retry is refused ("image with digest and
/// tag already exists"), and the tag, read again, names the wanted image: a tag move, not a
/// refusal.
#[tokio::test]
async fn a_tag_put_by_its_own_earlier_attempt_is_a_success() {
    let b = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    // The read before the write asks for the source and the tag in one call (first id `v2`,
    // answered without `prod`: a new tag); the read after the refusal asks for `prod` alone,
    // and finds the wanted image there.
    let prod = image_rule("prod", b);
    let put = mock!(aws_sdk_ecr::Client::put_image).then_error(|| {
        PutImageError::ImageAlreadyExistsException(
            aws_sdk_ecr::types::error::ImageAlreadyExistsException::builder()
                .message("Image with digest and tag 'prod' already exists in the repository")
                .build(),
        )
    });
    let rules = [image_rule("v2", b), prod.clone(), put.clone()];
    let (code, records) = run(&rules, &["tag", "web:v2", "prod"]).await;
    assert_eq!(code, ExitCode::Success, "{records:?}");
    assert_eq!(put.num_calls(), 1);
    assert_eq!(prod.num_calls(), 1, "read again after the refusal");
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["service"], "ecr");
    assert_eq!(records[0]["artifact"]["digest"], b, "{records:?}");
}
