//! `deploy`: the "build" of an API: a deployment of the API as it is now, and ENV's stage pointed
//! at it (created when missing). The record keeps what the stage ran before. A new deployment
//! enters the first environment of the order only; the others get theirs by promotion. The move
//! is made through the engine, like a promotion.

use crate::adapter::{Apigateway, Item, Source};
use crate::args::DeployArgs;
use crate::{api_in, api_named, check_env, stage_template, Clients, Options, StageRef};
use shared::config::Project;
use shared::engine::{self, Job, Order};
use shared::output::Output;
use shared::{ExitCode, Result};

pub(crate) async fn run(
    args: &DeployArgs,
    project: Option<&Project>,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    check_env(project, &args.env)?;
    let order = Order::of(project, args.force);
    let named = api_named(args.api.as_deref(), project, &args.env)?;
    let (at, id) = api_in(clients, &args.env, &named).await?;
    let stage = StageRef {
        api: id.as_deref().unwrap_or(&named.text).to_string(),
        stage: stage_template(project).render(&args.env),
        env: Some(args.env.clone()),
        region: named.region.clone(),
    };
    let target = stage.target(at.region.as_deref());
    // The order's refusal is this stage's failure: an `error` record, like any other.
    let job = match order.check_new(
        &format!("deploy {} --env {}", stage.api, args.env),
        &args.env,
    ) {
        Ok(verdict) => Job::new(
            target,
            id.map(|_| Item {
                stage,
                source: Source::Deploy {
                    description: args.description.clone(),
                },
            }),
        )
        .verdict(verdict),
        Err(e) if e.exit_code() == ExitCode::Precondition => Job::new(target, Err(e)),
        Err(e) => return Err(e),
    };
    let adapter = Apigateway {
        clients,
        expect: None,
        order,
        dry_run: opts.dry_run,
    };
    engine::promote_one(&adapter, job, opts, out).await
}
