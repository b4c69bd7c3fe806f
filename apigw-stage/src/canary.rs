//! `canary`: put a canary on a stage, promote it (the canary's deployment becomes the stage's and
//! the canary is removed, in one UpdateStage call), or abort it. Each step is one move made
//! through the engine (so it is checked against the order, printed, journaled and dry-run like a
//! promotion), and its record can be rolled back.

use crate::adapter::{Apigateway, Before, Item, Source};
use crate::args::CanaryArgs;
use crate::plan::CanaryStep;
use crate::{api_in, api_named, check_env, stage_template, Clients, Options, StageRef};
use shared::config::Project;
use shared::engine::{self, Job, Order};
use shared::output::Output;
use shared::{Error, ExitCode, Result};

pub(crate) async fn run(
    args: &CanaryArgs,
    project: Option<&Project>,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    check_env(project, &args.env)?;
    let step = match (&args.deployment, args.weight, args.finish, args.abort) {
        (Some(deployment_id), Some(percent), false, false) => CanaryStep::Start {
            deployment_id: deployment_id.clone(),
            percent,
        },
        (None, None, true, false) => CanaryStep::Finish,
        (None, None, false, true) => CanaryStep::Abort,
        _ => {
            return Err(Error::usage(
                "give --deployment ID --weight PCT, or --finish, or --abort",
            ))
        }
    };
    let order = Order::of(project, args.force);
    let stages = stage_template(project);
    let before = order.before(&args.env)?.map(|env| Before {
        stage: stages.render(env),
        env: env.to_string(),
    });
    let named = api_named(args.api.as_deref(), project, &args.env)?;
    let (at, id) = api_in(clients, &args.env, &named).await?;
    let stage = StageRef {
        api: id.as_deref().unwrap_or(&named.text).to_string(),
        stage: stages.render(&args.env),
        env: Some(args.env.clone()),
        region: named.region.clone(),
    };
    let job = Job::new(
        stage.target(at.region.as_deref()),
        id.map(|_| Item {
            stage,
            source: Source::Canary { step, before },
        }),
    );
    let adapter = Apigateway {
        clients,
        expect: None,
        order,
        dry_run: opts.dry_run,
    };
    engine::promote_one(&adapter, job, opts, out).await
}
