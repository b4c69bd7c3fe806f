//! `history`: the API's deployments, newest first, each with the stages that run it (and the
//! stages where it is the canary); with --env, `current` marks the one that environment runs.

use crate::args::HistoryArgs;
use crate::{api_named, check_env, stage_template, Clients};
use shared::config::Project;
use shared::engine::Target;
use shared::output::Output;
use shared::record::ApigatewayArtifact;
use shared::{Action, Error, ExitCode, Result, Service};

pub(crate) async fn run(
    args: &HistoryArgs,
    project: Option<&Project>,
    clients: &Clients<'_>,
    out: &mut Output,
) -> Result<ExitCode> {
    if let Some(env) = &args.env {
        check_env(project, env)?;
    }
    let env = args.env.as_deref();
    let named = match (args.api.as_deref(), env) {
        (Some(api), _) => crate::ApiName::parse(api).map_err(Error::usage)?,
        (None, Some(env)) => api_named(None, project, env)?,
        (None, None) => {
            let pattern = project
                .and_then(|p| p.apigateway.as_ref())
                .filter(|a| !a.rest_api.varies_by_env())
                .map(|a| a.rest_api.pattern().to_string())
                .ok_or_else(|| Error::usage("name the REST API (its id or name), or --env ENV with [apigateway] in promote.toml"))?;
            crate::ApiName::parse(&pattern).map_err(Error::usage)?
        }
    };
    let at = clients.get(env, named.region.as_deref()).await?;
    let api = shared::apigateway::find_api(&at.client, &named.text).await?;
    let (deployments, stages) = futures::future::try_join(
        shared::apigateway::get_deployments(&at.client, &api.id),
        shared::apigateway::get_stages(&at.client, &api.id),
    )
    .await?;
    let env_stage = env.map(|e| stage_template(project).render(e));
    // --env asks which deployment that environment runs: a stage it does not have is named,
    // not listed as "runs none of them".
    if let (Some(stage), Some(env)) = (&env_stage, env) {
        if !stages.iter().any(|s| &s.name == stage) {
            return Err(Error::precondition(format!(
                "API {} has no stage {stage} ({env})",
                api.id
            )));
        }
    }
    for deployment in deployments {
        let running: Vec<&str> = stages
            .iter()
            .filter(|s| s.deployment_id == deployment.id)
            .map(|s| s.name.as_str())
            .collect();
        let canary: Vec<&str> = stages
            .iter()
            .filter(|s| {
                s.canary
                    .as_ref()
                    .is_some_and(|c| c.deployment_id == deployment.id)
            })
            .map(|s| s.name.as_str())
            .collect();
        // A listing, not a pointer's state: no pointer, so no tool takes it for one.
        let listing = Target {
            pointer: None,
            ..Target::new(Service::Apigateway, &api.id, "")
                .env(env)
                .region(at.region.as_deref())
        };
        let artifact = ApigatewayArtifact {
            deployment_id: deployment.id.clone(),
            canary: None,
        };
        let mut record = listing.record(Action::Resolved, Some(&artifact), None);
        record
            .extra
            .insert("description".into(), deployment.description.into());
        record
            .extra
            .insert("created".into(), deployment.created.into());
        record.extra.insert("stages".into(), running.clone().into());
        record.extra.insert("canary_stages".into(), canary.into());
        if let Some(stage) = &env_stage {
            record
                .extra
                .insert("current".into(), running.contains(&stage.as_str()).into());
        }
        out.record(&record)?;
    }
    Ok(ExitCode::Success)
}
