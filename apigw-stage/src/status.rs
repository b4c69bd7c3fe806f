//! `status`: what each stage runs, as `resolved` records; with --env, the one stage of that
//! environment (a release manifest line).

use crate::args::StatusArgs;
use crate::{artifact_of, check_env, stage_template, Clients, Options, StageRef};
use shared::batch::{self, Work};
use shared::config::Project;
use shared::input::Input;
use shared::output::Output;
use shared::{Action, Error, ExitCode, Result, Service};

pub(crate) async fn run(
    args: &StatusArgs,
    project: Option<&Project>,
    input: Option<&Input>,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    if let Some(env) = &args.env {
        check_env(project, env)?;
    }
    let section = project.and_then(|p| p.apigateway.as_ref());
    let mut work: Vec<Work<'_, String>> = Vec::new();
    match (&args.api, input) {
        (Some(api), _) => work.push(Work::Own(api.clone())),
        (None, Some(input)) => {
            for record in input.records()? {
                match record.service {
                    Service::Apigateway => {
                        work.push(Work::Own(record.parse(input.origin())?.resource))
                    }
                    _ => work.push(Work::PassThrough(record.raw)),
                }
            }
        }
        (None, None) => {
            let section = section.ok_or_else(|| {
                Error::usage("name the REST API, pipe apigateway records in, or set [apigateway] rest_api in promote.toml")
            })?;
            let api = match &args.env {
                Some(env) => section.rest_api.render(env),
                None if section.rest_api.varies_by_env() => {
                    return Err(Error::usage(
                        "[apigateway] rest_api varies by environment: pass --env ENV",
                    ))
                }
                None => section.rest_api.pattern().to_string(),
            };
            work.push(Work::Own(api));
        }
    }
    let stages = stage_template(project);
    let order: Vec<String> = project.map(|p| p.order.clone()).unwrap_or_default();
    let (stages, order) = (&stages, &order);
    batch::run(work, opts.concurrency, out, |api| async move {
        let at = clients.get(args.env.as_deref(), None).await?;
        let api = shared::apigateway::find_api(&at.client, &api).await?;
        let found = match &args.env {
            Some(env) => {
                let name = stages.render(env);
                vec![shared::apigateway::get_stage(&at.client, &api.id, &name)
                    .await?
                    .ok_or_else(|| {
                        Error::precondition(format!("API {} has no stage {name}", api.id))
                    })?]
            }
            None => shared::apigateway::get_stages(&at.client, &api.id).await?,
        };
        Ok::<_, Error>(
            found
                .iter()
                .map(|stage| {
                    // Without promote.toml a stage's environment is its own name.
                    let env = args.env.clone().or_else(|| {
                        if order.is_empty() {
                            Some(stage.name.clone())
                        } else {
                            stages.env_of(&stage.name, order).map(str::to_string)
                        }
                    });
                    let pointer = StageRef {
                        api: api.id.clone(),
                        stage: stage.name.clone(),
                        env,
                    };
                    pointer.record(Action::Resolved, &at, Some(&artifact_of(stage)), None)
                })
                .collect(),
        )
    })
    .await
}
