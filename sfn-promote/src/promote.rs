//! `promote`: move --to's alias to the version --from's alias holds (or --version N, or the
//! artifact a record on stdin names), after checking it is the same definition. Where the work
//! comes from, the order, the two phases, `--dry-run` and `--atomic` are the engine's
//! (`shared::engine`); this module builds the work list and `adapter` says how Step Functions
//! does it.

use crate::adapter::{Item, Sfn, Source, Written};
use crate::args::{PromoteArgs, PROMOTE_HINT};
use crate::calls::Clients;
use crate::machine::{map_machine, MachineRef, TOML_HINT};
use crate::{alias_template, machine_templates, Options, Pointer};
use shared::batch::Work;
use shared::config::{Project, Template};
use shared::engine::{self, Asked, Job, Order, Settings, Stdin, Target};
use shared::input::Input;
use shared::output::Output;
use shared::record::SfnArtifact;
use shared::{Error, ExitCode, Record, Result, Service};

pub(crate) async fn run(
    args: PromoteArgs,
    project: Option<&Project>,
    input: Option<&Input>,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    if let Some(project) = project {
        project.position(&args.to)?;
        if let Some(from) = &args.from {
            project.position(from)?;
        }
    }
    // A traffic shift's flags are checked with the rest of the command line.
    let schedule = args.shift.schedule()?;
    if let Some(schedule) = &schedule {
        crate::canary::whole_percents(schedule)?;
    }
    let order = Order::of(project, args.force);
    let source = engine::source::decide(
        "sfn-promote",
        Asked {
            names: !args.state_machines.is_empty(),
            live: args.from.is_some() || args.version.is_some(),
        },
        Stdin::of(input, &[Service::Stepfunctions]),
    )?;
    engine::check_upstream(input, &[Service::Stepfunctions], args.skip_failed, out)?;
    let aliases = alias_template(project);
    let target_alias = aliases.render(&args.to);
    let env_before = order.before(&args.to)?.map(str::to_string);
    let templates = machine_templates(project);
    let to_has_region = project.is_some_and(|p| p.env_settings(&args.to).region.is_some());

    let target_of = |machine: &MachineRef| Pointer {
        machine: machine.clone(),
        alias: target_alias.clone(),
        env: Some(args.to.clone()),
    };
    let from_args = |machine: MachineRef, source_machine: MachineRef| -> Result<Job<Item>> {
        let (source, verdict) = match &args.version {
            Some(version) => (
                Source::Version {
                    version: version.clone(),
                    chain_machine: source_machine,
                },
                // Checked against what the environment before holds when the item is read;
                // with --force that read is skipped and the move is marked.
                engine::Verdict {
                    forced: args.force && env_before.is_some(),
                },
            ),
            None => {
                let (env, verdict) =
                    order.source_env(args.from.as_deref(), &args.to, " or --version N")?;
                (
                    Source::Alias {
                        alias: aliases.render(&env),
                        env,
                        machine: source_machine,
                    },
                    verdict,
                )
            }
        };
        let target = target_of(&machine);
        Ok(Job::new(
            target.target(machine.region.as_deref()),
            Ok(Item { target, source }),
        )
        .verdict(verdict))
    };

    let adapter = Sfn {
        clients,
        expect: args.expect.as_deref(),
        chain: match (&args.version, &env_before, args.force) {
            (Some(_), Some(env), false) => Some((env.clone(), aliases.clone(), order)),
            _ => None,
        },
        version_env: args.version.as_ref().and(env_before.clone()),
    };
    // All input is read and checked before the first call.
    let mut work: Vec<Work<'_, Job<Item>>> = Vec::new();
    match source {
        engine::Source::Names => {
            for name in &args.state_machines {
                let machine = MachineRef::parse(name, PROMOTE_HINT).map_err(Error::usage)?;
                let source_machine = match args.from.clone().or_else(|| env_before.clone()) {
                    Some(env) => {
                        map_machine(&templates, &machine, &args.to, &env).map_err(Error::usage)?
                    }
                    None => machine.clone(),
                };
                work.push(Work::Own(from_args(machine, source_machine)?));
            }
        }
        engine::Source::Records | engine::Source::Nothing => {
            let input = input.ok_or_else(|| Error::usage("no input"))?;
            if args.version.is_some() {
                return Err(Error::usage(
                    "--version names the version for STATE_MACHINE arguments; records on stdin carry their own",
                ));
            }
            work = engine::record_jobs(
                &adapter,
                input,
                &[Service::Stepfunctions],
                args.from.as_deref(),
                &args.to,
                &order,
                |record, artifact, origin| {
                    item_from_record(
                        record,
                        artifact,
                        origin,
                        &args.to,
                        &templates,
                        &target_alias,
                        to_has_region,
                    )
                    .map(Some)
                },
            )?;
        }
        engine::Source::Live => {
            if templates.is_empty() {
                return Err(Error::usage(
                    "nothing to promote: name a STATE_MACHINE, pipe stepfunctions records in, or list \
                     state_machines under [stepfunctions] in promote.toml",
                ));
            }
            for template in &templates {
                let target = MachineRef::parse(&template.render(&args.to), TOML_HINT)
                    .map_err(Error::usage)?;
                let source = match args.from.clone().or_else(|| env_before.clone()) {
                    Some(env) => MachineRef::parse(&template.render(&env), TOML_HINT)
                        .map_err(Error::usage)?,
                    None => target.clone(),
                };
                work.push(Work::Own(from_args(target, source)?));
            }
        }
    }
    if let Some(schedule) = schedule {
        // The canary steps' own check of the order: what the environment before holds now,
        // unless the work is records (checked as records, above) or --force.
        let steps = Sfn {
            clients,
            expect: args.expect.as_deref(),
            chain: match (&source, &env_before, args.force) {
                (engine::Source::Records | engine::Source::Nothing, _, _)
                | (_, None, _)
                | (_, _, true) => None,
                (_, Some(env), false) => Some((env.clone(), aliases.clone(), order)),
            },
            version_env: None,
        };
        let at = clients.get(Some(&args.to), None).await?;
        let watch = args
            .shift
            .watch(project, &args.to, Some(at.client.lambda.clone()));
        let subject = format!("{target_alias} in {}", args.to);
        return shared::alias_shift::release(
            &adapter, &steps, work, &schedule, &watch, &subject, opts, out,
        )
        .await;
    }
    engine::promote(
        &adapter,
        work,
        Settings::of(opts, args.atomic, args.skip_failed),
        out,
    )
    .await
}

/// A stepfunctions record from stdin as an item: its artifact is promoted into the same state
/// machine (or the one promote.toml maps it to) in --to, in the record's region unless
/// promote.toml gives --to a region of its own (`to_has_region`).
fn item_from_record(
    record: &Record,
    mut artifact: SfnArtifact,
    origin: &str,
    to: &str,
    templates: &[Template],
    target_alias: &str,
    to_has_region: bool,
) -> Result<(Target, Item)> {
    // A canary's weights belong to the source alias, not to the artifact being promoted.
    artifact.weights.clear();
    let machine = MachineRef::of_record(&record.resource)
        .map_err(|e| Error::bad_input(origin, format!("`resource`: {e}")))?;
    let mapped = match &record.env {
        Some(env) => map_machine(templates, &machine, env, to).map_err(Error::usage)?,
        None => machine.clone(),
    };
    let target_machine = if mapped == machine && !to_has_region {
        machine.clone().in_region(record.region.as_deref())
    } else {
        mapped
    };
    let pointer = Pointer {
        machine: target_machine.clone(),
        alias: target_alias.to_string(),
        env: Some(to.to_string()),
    };
    Ok((
        pointer.target(target_machine.region.as_deref()),
        Item {
            target: pointer,
            source: Source::Record {
                artifact,
                written: Written {
                    env: record.env.clone(),
                    machine: machine.in_region(record.region.as_deref()),
                    account: record.account.clone(),
                },
            },
        },
    ))
}
