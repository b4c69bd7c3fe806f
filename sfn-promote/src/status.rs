//! `status`: what each alias holds now, as `resolved` records. With --env, the records of one
//! environment are a release manifest that `promote` can take on stdin.

use crate::args::{StatusArgs, STATUS_HINT};
use crate::calls::Clients;
use crate::machine::MachineRef;
use crate::{alias_template, machine_templates, Options, Pointer};
use shared::alias_status;
use shared::batch;
use shared::config::{Project, Template};
use shared::input::Input;
use shared::output::Output;
use shared::{Action, Error, ExitCode, Record, Result, Service};
use std::collections::BTreeMap;

type Item = alias_status::Item<MachineRef>;

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
    let templates = machine_templates(project);
    let work = alias_status::work(
        &alias_status::Asked {
            service: Service::Stepfunctions,
            names: &args.state_machines,
            env: args.env.as_deref(),
            aliases: &aliases,
            templates: &templates,
            hint: STATUS_HINT,
            toml_hint: crate::machine::TOML_HINT,
            nothing:
                "nothing to show: name a STATE_MACHINE, pipe stepfunctions records in, or list \
             state_machines under [stepfunctions] in promote.toml",
        },
        project,
        input,
    )?;

    let order = project.map(|p| p.order.clone()).unwrap_or_default();
    let ctx = (&aliases, order.as_slice());
    // A pointer that cannot be read is an `error` record too.
    let describe = alias_status::describe(Service::Stepfunctions);
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
        .get(item.env.as_deref(), item.owner.region.as_deref())
        .await?;
    let machine_arn = item.owner.arn(&at)?;
    let found = match &item.alias {
        Some(alias) => vec![shared::sfn::get_alias(&at.client.sfn, &machine_arn, alias)
            .await?
            .ok_or_else(|| Error::precondition(format!("{} has no alias {alias}", item.owner)))?],
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
                machine: item.owner.clone(),
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
