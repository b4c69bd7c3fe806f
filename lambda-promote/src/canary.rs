//! `canary`: weighted routing on one alias. Start sends a share of traffic to another version;
//! finish moves the alias to it; abort takes the weights off. Each step is one compare-and-swap
//! update of the alias, made through the engine (so it is checked against the order, printed,
//! journaled and dry-run like a promotion), and its record can be rolled back. A schedule runs
//! such steps to the end (`shared::progressive`, through `shared::alias_shift`), on one alias
//! or, for `promote --canary`, on every alias of a release together (`alias_shift::release`).

use crate::adapter::{Item, Lambda, Named, Source};
use crate::args::CanaryArgs;
use crate::calls::Clients;
use crate::function::{map_function, FunctionRef};
use crate::plan::CanaryStep;
use crate::{alias_template, Options, Pointer};
use shared::alias_shift::{self, shift, AliasCanary, Asked, Member};
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
    if args.status {
        return status(&args, project, clients, opts, out).await;
    }
    let asked = alias_shift::asked(
        args.version.as_deref(),
        args.weight,
        args.shift.schedule()?,
        args.finish,
        args.abort,
    )?;
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
    let adapter = Lambda {
        clients,
        expect: args.expect.as_deref(),
        chain: before.map(|env| (env, aliases, order)),
        version_env: None,
        dry_run: opts.dry_run,
        shared_registry: None,
        copy_bucket: None,
    };
    let canary = Canary {
        pointer,
        function,
        chain_function,
    };
    let (version, schedule) = match asked {
        Asked::Step(step) => {
            return engine::promote_one(&adapter, canary.step(step), opts, out).await
        }
        Asked::Shift { version, schedule } => (version, schedule),
    };
    // Where the alias stands, for a dry run too: the shift goes on from its weight.
    let at = clients
        .get(Some(&args.env), canary.function.region.as_deref())
        .await?;
    let watch = args
        .shift
        .watch(project, &args.env, Some(at.client.lambda.clone()));
    let now = shared::lambda::get_alias(
        &at.client.lambda,
        &canary.pointer.function.id,
        &canary.pointer.alias,
    )
    .await?
    .map(|a| crate::routing_of(&a));
    let subject = canary.pointer.name();
    let member = Member::of(canary, &version, now.as_ref())?;
    shift(
        &adapter,
        vec![member],
        &subject,
        &schedule,
        &watch,
        at.client.cloudwatch.clone(),
        opts,
        out,
    )
    .await
}

/// `canary --status`: the alias's `resolved` record, and a line on where its traffic is and
/// how to go on (the state of a schedule is the alias's own weights).
async fn status(
    args: &CanaryArgs,
    project: Option<&Project>,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    let function =
        FunctionRef::parse(&args.function, crate::args::CANARY_HINT).map_err(Error::usage)?;
    let alias = alias_template(project).render(&args.env);
    let at = clients
        .get(Some(&args.env), function.region.as_deref())
        .await?;
    let name = format!("{} alias {alias}", function.name);
    match shared::lambda::get_alias(&at.client.lambda, &function.id, &alias).await? {
        None => shared::cli::note(&format!("{name} does not exist")),
        Some(now) => match now.weights.iter().next() {
            None => shared::cli::note(&format!(
                "{name}: no canary; all traffic on version {}",
                now.version
            )),
            Some((version, weight)) => shared::cli::note(&format!(
                "{name}: version {version} has {}% of the traffic, version {} the rest; run the \
                 schedule again to go on from there, --finish to move all of it, --abort to \
                 take it back",
                weight * 100.0,
                now.version
            )),
        },
    }
    crate::status::run(
        crate::args::StatusArgs {
            functions: vec![args.function.clone()],
            env: Some(args.env.clone()),
        },
        project,
        None,
        clients,
        opts,
        out,
    )
    .await
}

/// One alias's canary: each step a job for the engine.
pub(crate) struct Canary {
    pub pointer: Pointer,
    pub function: FunctionRef,
    pub chain_function: FunctionRef,
}

impl AliasCanary for Canary {
    type Item = Item;

    fn step(&self, step: CanaryStep) -> Job<Item> {
        Job::new(
            self.pointer.target(self.function.region.as_deref()),
            Ok(Item {
                target: self.pointer.clone(),
                source: Source::Canary {
                    step,
                    chain_function: self.chain_function.clone(),
                },
                function: self.function.clone(),
            }),
        )
    }

    fn promotion(&self, version: &str) -> Job<Item> {
        Job::new(
            self.pointer.target(self.function.region.as_deref()),
            Ok(Item {
                target: self.pointer.clone(),
                source: Source::Version {
                    version: Named::Number(version.to_string()),
                    chain_function: self.chain_function.clone(),
                },
                function: self.function.clone(),
            }),
        )
    }

    fn name(&self) -> String {
        self.pointer.name()
    }

    fn candidate(&self, version: &str, from: Option<&str>) -> serde_json::Value {
        serde_json::json!({
            "service": "lambda",
            "function": self.pointer.function.id,
            "alias": self.pointer.alias,
            "version": version,
            "previous_version": from,
            "region": self.function.region,
        })
    }
}
