//! `deploy`: the "build" of an API: a deployment of the API as it is now, and ENV's stage pointed
//! at it (created when missing). The record keeps what the stage ran before.

use crate::args::DeployArgs;
use crate::plan;
use crate::{api_named, artifact_of, calls, check_env, stage_template, Clients, Options, StageRef};
use shared::config::Project;
use shared::output::Output;
use shared::record::ApigatewayArtifact;
use shared::{Action, ExitCode, Result};

pub(crate) async fn run(
    args: &DeployArgs,
    project: Option<&Project>,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    check_env(project, &args.env)?;
    let at = clients.get(Some(&args.env), None).await?;
    let api = shared::apigateway::find_api(
        &at.client,
        &api_named(args.api.as_deref(), project, &args.env)?,
    )
    .await?;
    let stage = StageRef {
        api: api.id,
        stage: stage_template(project).render(&args.env),
        env: Some(args.env.clone()),
    };
    let now = shared::apigateway::get_stage(&at.client, &stage.api, &stage.stage).await?;
    let previous = now.as_ref().map(artifact_of);
    if opts.dry_run {
        // The deployment's id is only known once it is made.
        out.record(&stage.planned(Action::Published, &at, None, previous.as_ref()))?;
        return Ok(ExitCode::Success);
    }
    let deployment = calls::create_deployment(&at, &stage.api, args.description.as_deref()).await?;
    let artifact = ApigatewayArtifact {
        deployment_id: deployment.clone(),
        // A canary on the stage stays as it is.
        canary: previous.as_ref().and_then(|p| p.canary.clone()),
    };
    match &previous {
        Some(previous) => {
            calls::update_stage(
                &at,
                &stage.api,
                &stage.stage,
                &plan::patch(previous, &artifact),
            )
            .await?
        }
        None => calls::create_stage(&at, &stage.api, &stage.stage, &deployment).await?,
    }
    tracing::info!("{}: deployed {deployment}", stage.name());
    out.record(&stage.record(Action::Published, &at, Some(&artifact), previous.as_ref()))?;
    Ok(ExitCode::Success)
}
