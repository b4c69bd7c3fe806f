//! `canary`: weighted routing on one alias. Start sends a share of the executions to another
//! version; finish moves the alias to it; abort takes the weight off. Each step is one write of
//! the alias made through the engine (checked against the order, printed, journaled and dry-run
//! like a promotion), and its record can be rolled back. A schedule runs such steps to the end,
//! gated on alarms and hooks (`shared::progressive`, through `shared::alias_shift`, as
//! lambda-promote's do): this module says only how a step of one alias becomes a job.

use crate::adapter::{Item, Sfn, Source};
use crate::args::{CanaryArgs, CANARY_HINT};
use crate::calls::Clients;
use crate::machine::{map_machine, MachineRef};
use crate::{alias_template, machine_templates, Options, Pointer};
use shared::alias_shift::{self, shift, AliasCanary, Asked, Member};
use shared::config::Project;
use shared::engine::{self, Job, Order};
use shared::output::Output;
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
    let asked = alias_shift::asked(
        args.version.as_deref(),
        args.weight,
        schedule,
        args.finish,
        args.abort,
    )?;
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
    let (version, schedule) = match asked {
        Asked::Step(step) => {
            return engine::promote_one(&adapter, canary.step(step), opts, out).await
        }
        Asked::Shift { version, schedule } => (version, schedule),
    };
    let at = clients
        .get(Some(&args.env), machine.region.as_deref())
        .await?;
    let machine_arn = machine.arn(&at)?;
    let watch = args
        .shift
        .watch(project, &args.env, Some(at.client.lambda.clone()));
    // Where the alias stands, for a dry run too: a run again goes on from its canary's weight.
    let now = shared::sfn::get_alias(&at.client.sfn, &machine_arn, &canary.pointer.alias)
        .await?
        .ok_or_else(|| {
            Error::precondition(format!(
                "{} does not exist: promote a version to {} first; nothing changed",
                canary.pointer.name(),
                args.env
            ))
        })?;
    let subject = canary.pointer.name();
    let member = Member::of(canary, &version, Some(&now.routing))?;
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

/// Step Functions splits an alias's executions by whole percentages: a schedule's steps must be
/// whole numbers too (exit 2), not rounded behind the user's back.
pub(crate) fn whole_percents(schedule: &Schedule) -> Result<()> {
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
pub(crate) struct Canary {
    pub pointer: Pointer,
    pub chain_machine: MachineRef,
}

impl AliasCanary for Canary {
    type Item = Item;

    fn step(&self, step: CanaryStep) -> Job<Item> {
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

    fn name(&self) -> String {
        self.pointer.name()
    }

    fn candidate(&self, version: &str, from: Option<&str>) -> serde_json::Value {
        serde_json::json!({
            "service": "stepfunctions",
            "state_machine": self.pointer.machine.name,
            "alias": self.pointer.alias,
            "version": version,
            "previous_version": from,
            "region": self.pointer.machine.region,
        })
    }
}
