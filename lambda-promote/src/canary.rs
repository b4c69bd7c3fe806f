//! `canary`: weighted routing on one alias. Start sends a share of traffic to another version;
//! finish moves the alias to it; abort takes the weights off. Each step is one compare-and-swap
//! update of the alias, made through the engine (so it is checked against the order, printed,
//! journaled and dry-run like a promotion), and its record can be rolled back.

use crate::adapter::{Item, Lambda, Named, Source};
use crate::args::CanaryArgs;
use crate::calls::Clients;
use crate::function::{map_function, FunctionRef};
use crate::plan::CanaryStep;
use crate::{alias_template, Options, Pointer};
use shared::alarms::{Alarm, Gate};
use shared::config::Project;
use shared::engine::{self, Job, Order};
use shared::output::Output;
use shared::progressive::{self, Move, Shift};
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
    let schedule = args.shift.schedule()?;
    let step = match (&args.version, args.weight, &schedule, args.finish, args.abort) {
        (Some(version), Some(percent), None, false, false) => CanaryStep::Start {
            version: version.clone(),
            percent,
        },
        // A schedule's first step (the shift below takes it from there).
        (Some(version), None, Some(schedule), false, false) => CanaryStep::Start {
            version: version.clone(),
            percent: schedule.steps[0].percent.min(99.0),
        },
        (None, None, None, true, false) => CanaryStep::Finish,
        (None, None, None, false, true) => CanaryStep::Abort,
        _ => {
            return Err(Error::usage(
                "give --version N with --weight PCT, --schedule NAME or --steps PCTS; or --finish, or --abort",
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
        adapter: &adapter,
        pointer,
        function,
        chain_function,
    };
    let (Some(schedule), Some(version)) = (schedule, &args.version) else {
        return engine::promote_one(&adapter, canary.job(step), opts, out).await;
    };
    if opts.dry_run {
        // What the first step would do; the rest depends on the alarms.
        shared::cli::note(&format!(
            "{}: would shift traffic to version {version} by {}",
            canary.pointer.name(),
            schedule.name
        ));
        return engine::promote_one(&adapter, canary.job(step), opts, out).await;
    }
    let at = clients
        .get(Some(&args.env), canary.function.region.as_deref())
        .await?;
    let watch = args
        .shift
        .watch(project, &args.env, Some(at.client.lambda.clone()));
    let (current, from) = current_weight(&canary, &at, version).await?;
    let subject = canary.pointer.name();
    let mut shift = LambdaShift {
        canary,
        version: version.clone(),
        from,
        opts,
        out,
        cloudwatch: at.client.cloudwatch.clone(),
        weighted: current > 0.0,
    };
    Ok(
        progressive::run(&subject, &schedule, current, &watch, &mut shift)
            .await?
            .exit_code(),
    )
}

/// The share of traffic `version` has on the alias now (in percent): where a schedule run
/// again goes on from; and the version the alias holds (where a failed post-traffic hook moves
/// it back to). A canary of another version is not this shift's to move.
async fn current_weight(
    canary: &Canary<'_, '_>,
    at: &crate::calls::Located,
    version: &str,
) -> Result<(f64, Option<String>)> {
    let pointer = &canary.pointer;
    let Some(alias) =
        shared::lambda::get_alias(&at.client.lambda, &pointer.function.id, &pointer.alias).await?
    else {
        return Ok((0.0, None));
    };
    if let Some(other) = alias.weights.keys().find(|v| *v != version) {
        return Err(Error::precondition(format!(
            "{} sends traffic to version {other} already: finish or abort that canary first; \
             nothing changed",
            pointer.name()
        )));
    }
    Ok((
        alias.weights.get(version).map_or(0.0, |w| w * 100.0),
        Some(alias.version).filter(|v| v != version),
    ))
}

/// One alias's canary: each step a job for the engine.
struct Canary<'a, 'b> {
    adapter: &'a Lambda<'b>,
    pointer: Pointer,
    function: FunctionRef,
    chain_function: FunctionRef,
}

impl Canary<'_, '_> {
    fn job(&self, step: CanaryStep) -> Job<Item> {
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
}

/// A schedule on one alias: each move a canary step through the engine (checked against the
/// order, printed, journaled), the alarms read in the alias's environment.
struct LambdaShift<'a, 'b, 'o> {
    canary: Canary<'a, 'b>,
    version: String,
    /// The version the alias held when the shift began.
    from: Option<String>,
    opts: Options,
    out: &'o mut Output,
    cloudwatch: aws_sdk_cloudwatch::Client,
    /// Whether the version has traffic on the alias (a step made, or a run before this one).
    weighted: bool,
}

impl Shift for LambdaShift<'_, '_, '_> {
    async fn step(&mut self, to: Move) -> Result<ExitCode> {
        let canary = &self.canary;
        let job = match to {
            Move::Weight(percent) => canary.job(CanaryStep::Start {
                version: self.version.clone(),
                percent,
            }),
            Move::Finish if self.weighted => canary.job(CanaryStep::Finish),
            // All at once: the alias moves to the version, checked against the order as a
            // promotion of it is.
            Move::Finish => Job::new(
                canary.pointer.target(canary.function.region.as_deref()),
                Ok(Item {
                    target: canary.pointer.clone(),
                    source: Source::Version {
                        version: Named::Number(self.version.clone()),
                        chain_function: canary.chain_function.clone(),
                    },
                    function: canary.function.clone(),
                }),
            ),
            Move::Abort => canary.job(CanaryStep::Abort),
            Move::Revert => match &self.from {
                Some(from) => canary.job(CanaryStep::Revert {
                    version: from.clone(),
                    finished: self.version.clone(),
                }),
                None => {
                    return Err(Error::precondition(format!(
                        "{}: the alias held no other version before the shift; it stays on {}",
                        canary.pointer.name(),
                        self.version
                    )))
                }
            },
        };
        let code = engine::promote_one(canary.adapter, job, self.opts, self.out).await?;
        if matches!(to, Move::Weight(_)) && code == ExitCode::Success {
            self.weighted = true;
        }
        Ok(code)
    }

    async fn alarms(&mut self, gate: &Gate) -> Result<Vec<Alarm>> {
        shared::alarms::read(&self.cloudwatch, gate).await
    }

    fn candidates(&self) -> Vec<serde_json::Value> {
        let pointer = &self.canary.pointer;
        vec![serde_json::json!({
            "service": "lambda",
            "function": pointer.function.id,
            "alias": pointer.alias,
            "version": self.version,
            "previous_version": self.from,
            "region": self.canary.function.region,
        })]
    }
}
