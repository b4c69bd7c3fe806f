//! `canary`: put a canary on a stage, promote it (the canary's deployment becomes the stage's and
//! the canary is removed, in one UpdateStage call), or abort it.

use crate::args::CanaryArgs;
use crate::plan::{self, CanaryStep};
use crate::{
    api_named, artifact_of, calls, check_env, existing_stage, stage_template, Clients, Options,
    StageRef,
};
use shared::config::Project;
use shared::output::Output;
use shared::{Action, Error, ExitCode, Result};

pub(crate) async fn run(
    args: &CanaryArgs,
    project: Option<&Project>,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    check_env(project, &args.env)?;
    let step = match (&args.deployment, args.percent, args.promote, args.abort) {
        (Some(deployment_id), Some(percent), false, false) => CanaryStep::Start {
            deployment_id: deployment_id.clone(),
            percent,
        },
        (None, None, true, false) => CanaryStep::Promote,
        (None, None, false, true) => CanaryStep::Abort,
        _ => {
            return Err(Error::usage(
                "give --deployment ID --percent P, or --promote, or --abort",
            ))
        }
    };
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
    let now = artifact_of(&existing_stage(&at, &stage).await?);
    if let CanaryStep::Start { deployment_id, .. } = &step {
        if !shared::apigateway::deployment_exists(&at.client, &stage.api, deployment_id).await? {
            return Err(Error::usage(format!(
                "API {} has no deployment {deployment_id}",
                stage.api
            )));
        }
    }
    let Some((next, action)) = plan::canary(&stage.name(), &step, &now)? else {
        out.record(&stage.record(Action::Unchanged, &at, Some(&now), Some(&now)))?;
        return Ok(ExitCode::Success);
    };
    if opts.dry_run {
        out.record(&stage.planned(action, &at, Some(&next), Some(&now)))?;
        return Ok(ExitCode::Success);
    }
    calls::update_stage(&at, &stage.api, &stage.stage, &plan::patch(&now, &next)).await?;
    tracing::info!("{}: {action}", stage.name());
    out.record(&stage.record(action, &at, Some(&next), Some(&now)))?;
    Ok(ExitCode::Success)
}
