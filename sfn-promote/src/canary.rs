//! `canary`: weighted routing on one alias. Start sends a share of the executions to another
//! version; finish moves the alias to it; abort takes the weight off. Each step is one write of
//! the alias made through the engine (checked against the order, printed, journaled and dry-run
//! like a promotion), and its record can be rolled back. A schedule runs such steps to the end,
//! gated on alarms and hooks (`shared::progressive`): this module supplies only the moves.

use crate::adapter::{Item, Sfn, Source};
use crate::args::{CanaryArgs, CANARY_HINT};
use crate::calls::Clients;
use crate::machine::{map_machine, MachineRef};
use crate::{alias_template, machine_templates, Options, Pointer};
use shared::alarms::{Alarm, Gate};
use shared::config::Project;
use shared::engine::{self, Job, Order, Verdict};
use shared::output::Output;
use shared::progressive::{self, Move, Shift};
use shared::routing::CanaryStep;
use shared::schedule::Schedule;
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
    let machine = MachineRef::parse(&args.state_machine, CANARY_HINT).map_err(Error::usage)?;
    let pointer = Pointer {
        machine: machine.clone(),
        alias: alias_template(project).render(&args.env),
        env: Some(args.env.clone()),
    };
    if args.status {
        return status(&pointer, project, clients, opts, out).await;
    }
    let schedule = args.shift.schedule()?;
    if let Some(schedule) = &schedule {
        whole_percents(schedule)?;
    }
    let step = match (&args.version, args.weight, &schedule, args.finish, args.abort) {
        (Some(version), Some(percent), None, false, false) => CanaryStep::Start {
            version: version.clone(),
            percent,
        },
        // A schedule's first step, as a dry run shows it (the shift takes it from there).
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
    let order = Order::of(project, args.force);
    let before = order.before(&args.env)?.map(str::to_string);
    // The state machine that holds the version in the environment before.
    let chain_machine = match &before {
        Some(before) => map_machine(&machine_templates(project), &machine, &args.env, before)
            .map_err(Error::usage)?,
        None => machine.clone(),
    };
    let adapter = Sfn {
        clients,
        expect: args.expect.as_deref(),
        chain: before.map(|env| (env, alias_template(project), order)),
        version_env: None,
    };
    let canary = Canary {
        pointer,
        chain_machine,
    };
    let (Some(schedule), Some(version)) = (schedule, &args.version) else {
        return engine::promote_one(&adapter, canary.job(step), opts, out).await;
    };
    if opts.dry_run {
        // What the first step would do; the rest depends on the alarms.
        shared::cli::note(&format!(
            "{}: would shift executions to version {version} by {}",
            canary.pointer.name(),
            schedule.name
        ));
        let job = if schedule.steps[0].percent >= 100.0 {
            canary.promotion(version)
        } else {
            canary.job(step)
        };
        return engine::promote_one(&adapter, job, opts, out).await;
    }
    let at = clients
        .get(Some(&args.env), machine.region.as_deref())
        .await?;
    let machine_arn = machine.arn(&at)?;
    let watch = args
        .shift
        .watch(project, &args.env, Some(at.client.lambda.clone()));
    // Where the alias stands: a run again goes on from its canary's weight; a canary of
    // another version is not this shift's to move.
    let alias = shared::sfn::get_alias(&at.client.sfn, &machine_arn, &canary.pointer.alias)
        .await?
        .ok_or_else(|| {
            Error::precondition(format!(
                "{} does not exist: promote a version to {} first; nothing changed",
                canary.pointer.name(),
                args.env
            ))
        })?;
    if let Some(other) = alias.routing.weights.keys().find(|v| *v != version) {
        return Err(Error::precondition(format!(
            "{} sends executions to version {other} already: finish or abort that canary \
             first; nothing changed",
            canary.pointer.name()
        )));
    }
    let current = alias
        .routing
        .weights
        .get(version)
        .map_or(0.0, |w| w * 100.0);
    let subject = canary.pointer.name();
    let mut shift = SfnShift {
        adapter: &adapter,
        from: Some(alias.routing.version.clone()).filter(|v| v != version),
        weighted: current > 0.0,
        version: version.clone(),
        canary,
        opts,
        out,
        cloudwatch: at.client.cloudwatch.clone(),
    };
    Ok(
        progressive::run(&subject, &schedule, current, &watch, &mut shift)
            .await?
            .exit_code(),
    )
}

/// Step Functions splits an alias's executions by whole percentages: a schedule's steps must be
/// whole numbers too (exit 2), not rounded behind the user's back.
fn whole_percents(schedule: &Schedule) -> Result<()> {
    match schedule.steps.iter().find(|s| s.percent.fract() != 0.0) {
        Some(step) => Err(Error::usage(format!(
            "{}: a step of {}% is not a whole percentage, and Step Functions splits executions \
             by whole percents",
            schedule.name, step.percent
        ))),
        None => Ok(()),
    }
}

/// `canary --status`: the alias's `resolved` record, and a line on where its executions go and
/// how to go on (the state of a schedule is the alias's own weights).
async fn status(
    pointer: &Pointer,
    project: Option<&Project>,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    let at = clients
        .get(pointer.env.as_deref(), pointer.machine.region.as_deref())
        .await?;
    let machine_arn = pointer.machine.arn(&at)?;
    let name = pointer.name();
    match shared::sfn::get_alias(&at.client.sfn, &machine_arn, &pointer.alias).await? {
        None => shared::cli::note(&format!("{name} does not exist")),
        Some(alias) => match alias.routing.canary() {
            None => shared::cli::note(&format!(
                "{name}: no canary; all executions on version {}",
                alias.routing.version
            )),
            Some((version, percent)) => shared::cli::note(&format!(
                "{name}: version {version} has {percent}% of the executions, version {} the \
                 rest; run the schedule again to go on from there, --finish to move all of it, \
                 --abort to take it back",
                alias.routing.version
            )),
        },
    }
    crate::status::run(
        crate::args::StatusArgs {
            state_machines: vec![pointer.machine.parsed.arn(
                at.region.as_deref().unwrap_or_default(),
                at.account.as_deref().unwrap_or_default(),
            )],
            env: pointer.env.clone(),
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
struct Canary {
    pointer: Pointer,
    chain_machine: MachineRef,
}

impl Canary {
    fn job(&self, step: CanaryStep) -> Job<Item> {
        Job::new(
            self.pointer.target(self.pointer.machine.region.as_deref()),
            Ok(Item {
                target: self.pointer.clone(),
                source: Source::Canary {
                    step,
                    chain_machine: self.chain_machine.clone(),
                },
            }),
        )
    }

    /// All at once: the alias moves to `version`, checked against the order as a promotion of
    /// it is.
    fn promotion(&self, version: &str) -> Job<Item> {
        Job::new(
            self.pointer.target(self.pointer.machine.region.as_deref()),
            Ok(Item {
                target: self.pointer.clone(),
                source: Source::Version {
                    version: version.to_string(),
                    chain_machine: self.chain_machine.clone(),
                },
            }),
        )
    }
}

/// A schedule on one alias: each move one engine run (checked against the order, printed,
/// journaled), the alarms read in the alias's environment.
struct SfnShift<'a, 'b, 'o> {
    adapter: &'a Sfn<'b>,
    canary: Canary,
    version: String,
    /// The version the alias held when the shift began (where a failed post-traffic hook moves
    /// it back to).
    from: Option<String>,
    /// Whether the version has executions on the alias (a step made, or a run before this one).
    weighted: bool,
    opts: Options,
    out: &'o mut Output,
    cloudwatch: aws_sdk_cloudwatch::Client,
}

impl Shift for SfnShift<'_, '_, '_> {
    async fn step(&mut self, to: Move) -> Result<ExitCode> {
        let canary = &self.canary;
        let job = match to {
            Move::Weight(percent) => canary.job(CanaryStep::Start {
                version: self.version.clone(),
                percent,
            }),
            Move::Finish if self.weighted => canary.job(CanaryStep::Finish),
            Move::Finish => canary.promotion(&self.version),
            Move::Abort if self.weighted => canary.job(CanaryStep::Abort),
            Move::Abort => return Ok(ExitCode::Success),
            Move::Revert => match &self.from {
                Some(from) => canary
                    .job(CanaryStep::Revert {
                        version: from.clone(),
                        finished: self.version.clone(),
                    })
                    .verdict(Verdict::ALLOWED),
                None => {
                    shared::cli::note(&format!(
                        "{}: the alias held no other version before the shift; it stays on {}",
                        canary.pointer.name(),
                        self.version
                    ));
                    return Ok(ExitCode::Success);
                }
            },
        };
        let code = engine::promote_one(self.adapter, job, self.opts, self.out).await?;
        if matches!(to, Move::Weight(_)) && code == ExitCode::Success {
            self.weighted = true;
        }
        Ok(code)
    }

    async fn alarms(&mut self, gate: &Gate) -> Result<Vec<Alarm>> {
        shared::alarms::read(&self.cloudwatch, gate).await
    }

    fn annotate(&mut self, shift: Option<serde_json::Value>) {
        self.out.annotate("shift", shift);
    }

    fn candidates(&self) -> Vec<serde_json::Value> {
        let pointer = &self.canary.pointer;
        vec![serde_json::json!({
            "service": "stepfunctions",
            "state_machine": pointer.machine.name,
            "alias": pointer.alias,
            "version": self.version,
            "previous_version": self.from,
            "region": pointer.machine.region,
        })]
    }
}
