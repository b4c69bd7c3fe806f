//! `status`: what each alias holds now, as `resolved` records. With --env, the records of one
//! environment are a release manifest that `promote` can take on stdin.

use crate::args::{StatusArgs, STATUS_HINT};
use crate::calls::Clients;
use crate::machine::{MachineRef, TOML_HINT};
use crate::{alias_template, machine_templates, Options, Pointer};
use shared::batch::{self, Work};
use shared::config::{Project, Template};
use shared::input::Input;
use shared::output::Output;
use shared::{Action, Error, ExitCode, Record, Result, Service};
use std::collections::BTreeMap;

/// One state machine to show: one alias of it, or all of them.
#[derive(Debug)]
struct Item {
    machine: MachineRef,
    alias: Option<String>,
    env: Option<String>,
}

pub(crate) async fn run(
    args: StatusArgs,
    project: Option<&Project>,
    input: Option<&Input>,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    if let (Some(project), Some(env)) = (project, &args.env) {
        project.position(env)?;
    }
    let aliases = alias_template(project);
    let alias_for = |env: &Option<String>| env.as_ref().map(|e| aliases.render(e));
    let templates = machine_templates(project);

    let mut work: Vec<Work<'_, Item>> = Vec::new();
    if !args.state_machines.is_empty() {
        for name in &args.state_machines {
            work.push(Work::Own(Item {
                machine: MachineRef::parse(name, STATUS_HINT).map_err(Error::usage)?,
                alias: alias_for(&args.env),
                env: args.env.clone(),
            }));
        }
    } else if let Some(input) = input {
        for item in input.items(&[Service::Stepfunctions]) {
            let Some(record) = batch::own(item, &mut work) else {
                continue;
            };
            let parsed = record.parse(input.origin())?;
            let origin = format!("{}:{}", input.origin(), record.line);
            let machine = MachineRef::of_record(&parsed.resource)
                .map_err(|e| Error::bad_input(&origin, format!("`resource`: {e}")))?
                .in_region(parsed.region.as_deref());
            // --env names the alias; without it, the alias the record names.
            let (alias, env) = match &args.env {
                Some(_) => (alias_for(&args.env), args.env.clone()),
                None => (parsed.pointer.clone(), parsed.env.clone()),
            };
            work.push(Work::Own(Item {
                machine,
                alias,
                env,
            }));
        }
    } else if !templates.is_empty() {
        let envs: Vec<Option<String>> = match &args.env {
            Some(env) => vec![Some(env.clone())],
            None => project.map_or_else(Vec::new, |p| p.order.iter().cloned().map(Some).collect()),
        };
        for template in &templates {
            let one_place = project.is_none_or(Project::one_place);
            if args.env.is_none() && !template.varies_by_env() && one_place {
                // One state machine for all environments, in one account and region: list all
                // its aliases at once.
                work.push(Work::Own(Item {
                    machine: MachineRef::parse(template.pattern(), TOML_HINT)
                        .map_err(Error::usage)?,
                    alias: None,
                    env: None,
                }));
                continue;
            }
            for env in &envs {
                let name = env
                    .as_ref()
                    .map_or_else(|| template.pattern().to_string(), |e| template.render(e));
                work.push(Work::Own(Item {
                    machine: MachineRef::parse(&name, TOML_HINT).map_err(Error::usage)?,
                    alias: alias_for(env),
                    env: env.clone(),
                }));
            }
        }
    } else {
        return Err(Error::usage(
            "nothing to show: name a STATE_MACHINE, pipe stepfunctions records in, or list \
             state_machines under [stepfunctions] in promote.toml",
        ));
    }

    let order = project.map(|p| p.order.clone()).unwrap_or_default();
    let ctx = (&aliases, order.as_slice());
    // A pointer that cannot be read is an `error` record too: `status | promote` then refuses
    // instead of promoting the rest of the manifest in silence.
    let describe = |item: &Item| batch::Described {
        key: None,
        subject: Some({
            let mut target = shared::engine::Target::new(
                Service::Stepfunctions,
                &item.machine.name,
                item.alias.clone().unwrap_or_default(),
            )
            .env(item.env.as_deref())
            .region(item.machine.region.as_deref());
            if item.alias.is_none() {
                target.pointer = None;
            }
            target
        }),
    };
    batch::run_described(work, opts.concurrency, out, describe, |item| async move {
        status_one(item, clients, ctx).await
    })
    .await
}

async fn status_one(
    item: Item,
    clients: &Clients<'_>,
    (aliases, order): (&Template, &[String]),
) -> Result<Vec<Record>> {
    let at = clients
        .get(item.env.as_deref(), item.machine.region.as_deref())
        .await?;
    let machine_arn = item.machine.arn(&at)?;
    let found = match &item.alias {
        Some(alias) => vec![shared::sfn::get_alias(&at.client.sfn, &machine_arn, alias)
            .await?
            .ok_or_else(|| {
                Error::precondition(format!("{} has no alias {alias}", item.machine))
            })?],
        None => shared::sfn::list_aliases(&at.client.sfn, &machine_arn).await?,
    };
    // One read per distinct version, however many aliases share it.
    let mut versions: Vec<&str> = found.iter().map(|a| a.routing.version.as_str()).collect();
    versions.sort_unstable();
    versions.dedup();
    let hashes = futures::future::try_join_all(
        versions
            .iter()
            .map(|v| shared::sfn::existing_sha256(&at.client.sfn, &machine_arn, v)),
    )
    .await?;
    let sha: BTreeMap<&str, String> = versions.into_iter().zip(hashes).collect();
    Ok(found
        .iter()
        .map(|alias| {
            let pointer = Pointer {
                machine: item.machine.clone(),
                alias: alias.name.clone(),
                env: item
                    .env
                    .clone()
                    .or_else(|| aliases.env_of_pointer(&alias.name, order)),
            };
            let artifact = alias.artifact(
                &machine_arn,
                sha.get(alias.routing.version.as_str())
                    .cloned()
                    .unwrap_or_default(),
            );
            pointer.record(Action::Resolved, &at, Some(&artifact), None)
        })
        .collect())
}
