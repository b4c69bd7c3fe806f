//! `canary`: weighted routing on one alias. Start sends a share of traffic to another version;
//! finish moves the alias to it; abort takes the weights off. Each step is one compare-and-swap
//! update of the alias, made through the engine (so it is checked against the order, printed,
//! journaled and dry-run like a promotion), and its record can be rolled back.

use crate::adapter::{Item, Lambda, Source};
use crate::args::CanaryArgs;
use crate::calls::Clients;
use crate::function::{map_function, FunctionRef};
use crate::plan::CanaryStep;
use crate::{alias_template, Options, Pointer};
use shared::config::Project;
use shared::engine::{self, Job, Order};
use shared::output::Output;
use shared::{Error, ExitCode, Result};

pub(crate) async fn run(
    args: CanaryArgs,
    project: Option<&Project>,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    if let Some(project) = project {
        project.position(&args.env)?;
    }
    let step = match (&args.version, args.weight, args.finish, args.abort) {
        (Some(version), Some(percent), false, false) => CanaryStep::Start {
            version: version.clone(),
            percent,
        },
        (None, None, true, false) => CanaryStep::Finish,
        (None, None, false, true) => CanaryStep::Abort,
        _ => {
            return Err(Error::usage(
                "give --version N --weight PCT, or --finish, or --abort",
            ))
        }
    };
    let function =
        FunctionRef::parse(&args.function, crate::args::CANARY_HINT).map_err(Error::usage)?;
    let aliases = alias_template(project);
    let pointer = Pointer {
        function: function.clone(),
        alias: aliases.render(&args.env),
        env: Some(args.env.clone()),
    };
    let order = Order::of(project, args.force);
    let before = order.before(&args.env)?.map(str::to_string);
    // The function that holds the version in the environment before (one per environment
    // when promote.toml names them so).
    let templates = project
        .and_then(|p| p.lambda.as_ref())
        .map(|l| l.functions.clone())
        .unwrap_or_default();
    let chain_function = match &before {
        Some(before) => {
            let there = map_function(
                &templates,
                &function,
                &args.env,
                before,
                crate::function::TOML_HINT,
            )
            .map_err(Error::usage)?;
            FunctionRef {
                region: there.region.or_else(|| function.region.clone()),
                ..there
            }
        }
        None => function.clone(),
    };
    let job = Job::new(
        pointer.target(function.region.as_deref()),
        Ok(Item {
            target: pointer,
            source: Source::Canary {
                step,
                chain_function,
            },
            function,
        }),
    );
    let adapter = Lambda {
        clients,
        expect: args.expect.as_deref(),
        chain: before.map(|env| (env, aliases, order)),
        version_env: None,
        dry_run: opts.dry_run,
        shared_registry: None,
        copy_bucket: None,
    };
    engine::promote_one(&adapter, job, opts, out).await
}
