//! `--wait` on a service that deploys with one of ECS's own staged strategies (BLUE_GREEN,
//! LINEAR, CANARY), with SDK-level mocks: the emulator has no service deployments
//! (ListServiceDeployments answers HTTP 500 there). The wait follows our service deployment (the
//! one whose target revision runs our task definition) through its stages and is exit 0 only
//! when ECS says SUCCESSFUL; a rollback is exit 3 naming the alarm, the circuit breaker or the
//! lifecycle hook, and what the stopped tasks died of.

#![allow(clippy::unwrap_used, clippy::expect_used)] // reason: tests fail loudly

use aws_sdk_ecs::operation::describe_service_deployments::DescribeServiceDeploymentsOutput;
use aws_sdk_ecs::operation::describe_service_revisions::{
    DescribeServiceRevisionsInput, DescribeServiceRevisionsOutput,
};
use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
use aws_sdk_ecs::operation::list_service_deployments::ListServiceDeploymentsOutput;
use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
use aws_sdk_ecs::types::{
    DeploymentConfiguration, DeploymentLifecycleHookDetail, DeploymentLifecycleHookStatus,
    DeploymentStrategy, ServiceDeployment, ServiceDeploymentAlarms, ServiceDeploymentBrief,
    ServiceDeploymentCircuitBreaker, ServiceDeploymentLifecycleStage,
    ServiceDeploymentRollbackMonitorsStatus, ServiceDeploymentStatus, ServiceRevision,
    ServiceRevisionSummary, Task,
};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use ecs_pin::args::WaitArgs;
use ecs_pin::calls::{Located, Services};
use shared::ExitCode;
use std::time::Duration;

const OURS: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/web-prod:8";
const OTHER: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/web-prod:9";
const MINE: &str = "arn:aws:ecs:eu-west-1:123456789012:service-deployment/prod/web/ours";

fn service(strategy: DeploymentStrategy) -> Rule {
    mock!(aws_sdk_ecs::Client::describe_services).then_output(move || {
        DescribeServicesOutput::builder()
            .services(
                aws_sdk_ecs::types::Service::builder()
                    .service_name("web")
                    .status("ACTIVE")
                    .task_definition(OURS)
                    .deployment_configuration(
                        DeploymentConfiguration::builder()
                            .strategy(strategy.clone())
                            .build(),
                    )
                    .build(),
            )
            .build()
    })
}

/// Two deployments, the newest someone else's (a revision running another task definition):
/// ours is the second.
fn listed() -> Vec<Rule> {
    let list = mock!(aws_sdk_ecs::Client::list_service_deployments).then_output(|| {
        let brief = |arn: &str, revision: &str, at: i64| {
            ServiceDeploymentBrief::builder()
                .service_deployment_arn(arn)
                .target_service_revision_arn(revision)
                .created_at(aws_smithy_types::DateTime::from_secs(at))
                .build()
        };
        ListServiceDeploymentsOutput::builder()
            .service_deployments(brief(MINE, "rev/ours", 100))
            .service_deployments(brief("sd/other", "rev/other", 200))
            .build()
    });
    let revision = |arn: &'static str, td: &'static str| {
        mock!(aws_sdk_ecs::Client::describe_service_revisions)
            .match_requests(move |r: &DescribeServiceRevisionsInput| {
                r.service_revision_arns() == [arn.to_string()]
            })
            .then_output(move || {
                DescribeServiceRevisionsOutput::builder()
                    .service_revisions(
                        ServiceRevision::builder()
                            .service_revision_arn(arn)
                            .task_definition(td)
                            .build(),
                    )
                    .build()
            })
    };
    vec![
        list,
        revision("rev/ours", OURS),
        revision("rev/other", OTHER),
    ]
}

fn deployment(
    status: ServiceDeploymentStatus,
    stage: ServiceDeploymentLifecycleStage,
) -> aws_sdk_ecs::types::builders::ServiceDeploymentBuilder {
    ServiceDeployment::builder()
        .service_deployment_arn(MINE)
        .status(status)
        .lifecycle_stage(stage)
        .target_service_revision(ServiceRevisionSummary::builder().arn("rev/ours").build())
}

fn answers(deployments: Vec<ServiceDeployment>) -> Rule {
    // Only ours is answered: a wait that followed the newest deployment would find no rule.
    let mut rule = mock!(aws_sdk_ecs::Client::describe_service_deployments)
        .match_requests(|r| r.service_deployment_arns() == [MINE.to_string()])
        .sequence();
    for d in deployments {
        rule = rule.output(move || {
            DescribeServiceDeploymentsOutput::builder()
                .service_deployments(d.clone())
                .build()
        });
    }
    rule.build()
}

fn stopped_tasks() -> Vec<Rule> {
    vec![
        mock!(aws_sdk_ecs::Client::list_tasks).then_output(|| {
            ListTasksOutput::builder()
                .task_arns("arn:aws:ecs:eu-west-1:123456789012:task/prod/abc123")
                .build()
        }),
        mock!(aws_sdk_ecs::Client::describe_tasks).then_output(|| {
            DescribeTasksOutput::builder()
                .tasks(
                    Task::builder()
                        .task_arn("arn:aws:ecs:eu-west-1:123456789012:task/prod/abc123")
                        .stopped_reason("Essential container in task exited")
                        .build(),
                )
                .build()
        }),
    ]
}

async fn wait(rules: &[Rule]) -> shared::Result<()> {
    let at = Located {
        client: Services {
            ecr: mock_client!(aws_sdk_ecr, RuleMode::MatchAny, rules),
            ecs: mock_client!(aws_sdk_ecs, RuleMode::MatchAny, rules),
        },
        region: Some("eu-west-1".into()),
        settings: Default::default(),
        account: None,
    };
    let args = WaitArgs {
        wait: true,
        timeout: Duration::from_secs(5),
        poll_interval: Duration::from_millis(5),
    };
    ecs_pin::wait::until_deployed(&at, "prod", "web", OURS, &args, true).await
}

#[tokio::test]
async fn a_canary_deployment_is_followed_through_its_stages_until_successful() {
    let progress = answers(vec![
        deployment(
            ServiceDeploymentStatus::InProgress,
            ServiceDeploymentLifecycleStage::ScaleUp,
        )
        .build(),
        deployment(
            ServiceDeploymentStatus::InProgress,
            ServiceDeploymentLifecycleStage::ProductionTrafficShift,
        )
        .build(),
        deployment(
            ServiceDeploymentStatus::Successful,
            ServiceDeploymentLifecycleStage::CleanUp,
        )
        .build(),
    ]);
    let mut rules = vec![service(DeploymentStrategy::Canary), progress.clone()];
    rules.extend(listed());
    let result = wait(&rules).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(progress.num_calls(), 3, "asked until ECS said SUCCESSFUL");
}

#[tokio::test]
async fn an_alarm_rollback_is_exit_3_naming_the_alarm_and_the_stopped_tasks() {
    let rolled_back = answers(vec![deployment(
        ServiceDeploymentStatus::RollbackSuccessful,
        ServiceDeploymentLifecycleStage::BakeTime,
    )
    .alarms(
        ServiceDeploymentAlarms::builder()
            .status(ServiceDeploymentRollbackMonitorsStatus::Triggered)
            .triggered_alarm_names("web-prod-5xx")
            .build(),
    )
    .build()]);
    let mut rules = vec![service(DeploymentStrategy::Linear), rolled_back];
    rules.extend(listed());
    rules.extend(stopped_tasks());
    let e = wait(&rules).await.unwrap_err();
    assert_eq!(e.exit_code(), ExitCode::Aws);
    let text = e.to_string();
    assert!(
        text.contains("ECS rolled the deployment back")
            && text.contains("alarm web-prod-5xx went into ALARM")
            && text.contains("abc123: Essential container in task exited"),
        "{text}"
    );
}

#[tokio::test]
async fn a_circuit_breaker_or_a_lifecycle_hook_rollback_says_which() {
    let breaker = answers(vec![deployment(
        ServiceDeploymentStatus::RollbackInProgress,
        ServiceDeploymentLifecycleStage::ScaleUp,
    )
    .deployment_circuit_breaker(
        ServiceDeploymentCircuitBreaker::builder()
            .status(ServiceDeploymentRollbackMonitorsStatus::Triggered)
            .failure_count(4)
            .threshold(3)
            .build(),
    )
    .build()]);
    let mut rules = vec![service(DeploymentStrategy::BlueGreen), breaker];
    rules.extend(listed());
    rules.extend(stopped_tasks());
    let e = wait(&rules).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("the circuit breaker tripped (4 failed tasks, threshold 3)"),
        "{e}"
    );

    let hook = answers(vec![deployment(
        ServiceDeploymentStatus::RollbackSuccessful,
        ServiceDeploymentLifecycleStage::PostTestTrafficShift,
    )
    .lifecycle_hook_details(
        DeploymentLifecycleHookDetail::builder()
            .target_arn("arn:aws:lambda:eu-west-1:123456789012:function:smoke")
            .status(DeploymentLifecycleHookStatus::Failed)
            .build(),
    )
    .build()]);
    let mut rules = vec![service(DeploymentStrategy::BlueGreen), hook];
    rules.extend(listed());
    rules.extend(stopped_tasks());
    let e = wait(&rules).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("function:smoke failed at POST_TEST_TRAFFIC_SHIFT"),
        "{e}"
    );
}
