//! `publish`: the state machine's current definition as an immutable version (the "build
//! once"), with the revision id read just before as the precondition, and optionally the first
//! environment's alias moved to it.

use crate::args::{PublishArgs, PUBLISH_HINT};
use crate::calls::{self, Clients};
use crate::machine::MachineRef;
use crate::{alias_template, artifact_of, place, Options, Pointer};
use shared::config::Project;
use shared::engine::Order;
use shared::output::Output;
use shared::routing::{self, Routing};
use shared::{Action, Error, ExitCode, Record, Result, Service};

pub(crate) async fn run(
    args: PublishArgs,
    project: Option<&Project>,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    if let (Some(project), Some(env)) = (project, &args.env) {
        project.position(env)?;
    }
    let machine = MachineRef::parse(&args.state_machine, PUBLISH_HINT).map_err(Error::usage)?;
    let alias = args
        .env
        .as_ref()
        .map(|env| alias_template(project).render(env));
    let mut failed = shared::engine::Target::new(
        Service::Stepfunctions,
        &machine.name,
        alias.clone().unwrap_or_default(),
    )
    .env(args.env.as_deref())
    .region(machine.region.as_deref());
    failed.pointer = alias;
    // A new version enters the first environment only; the others get it by promotion.
    let subject = format!(
        "publish {machine} --env {}",
        args.env.as_deref().unwrap_or_default()
    );
    shared::engine::publish(
        &Order::of(project, args.force),
        &subject,
        args.env.as_deref(),
        failed,
        out,
        publish(&args, project, &machine, clients, opts),
    )
    .await
}

async fn publish(
    args: &PublishArgs,
    project: Option<&Project>,
    machine: &MachineRef,
    clients: &Clients<'_>,
    opts: Options,
) -> Result<Record> {
    let at = clients
        .get(args.env.as_deref(), machine.region.as_deref())
        .await?;
    let machine_arn = machine.arn(&at)?;
    let pointer = args.env.as_ref().map(|env| Pointer {
        machine: machine.clone(),
        alias: alias_template(project).render(env),
        env: Some(env.clone()),
    });
    // The definition as it is now, and its revision: the precondition of the publish.
    let described = shared::sfn::describe(&at.client.sfn, &machine_arn)
        .await?
        .ok_or_else(|| {
            Error::precondition(format!(
                "state machine {machine_arn} does not exist (in {}); nothing published",
                place(&at)
            ))
        })?;
    // What the alias holds before, so the record can undo the move.
    let current = match &pointer {
        Some(p) => shared::sfn::get_alias(&at.client.sfn, &machine_arn, &p.alias).await?,
        None => None,
    };
    let previous = match &current {
        Some(alias) => Some(artifact_of(&at, &machine_arn, alias, None).await?),
        None => None,
    };
    let bare = |action: Action| {
        let mut r = Record::new(Service::Stepfunctions, action, &machine.name);
        r.region.clone_from(&at.region);
        r.account.clone_from(&at.account);
        r
    };
    if opts.dry_run {
        // The version number is only known once published.
        let record = match &pointer {
            Some(p) => p.planned(Action::Published, &at, None, previous.as_ref()),
            None => bare(Action::Published).into_planned(Action::Published),
        };
        return Ok(record);
    }

    // Step Functions hands back the newest version, unchanged, when the revision was published
    // already: the newest version listed before the call tells the two apart.
    let newest = shared::sfn::versions(&at.client.sfn, &machine_arn)
        .await?
        .first()
        .and_then(|v| v.parse::<u64>().ok());
    let version = calls::publish(
        &at,
        &machine_arn,
        described.revision_id.as_deref(),
        args.description.as_deref(),
    )
    .await?;
    let existed = routing::version_existed(&version, newest);
    // The artifact is what was published: its definition read back, not the one read before.
    let sha = shared::sfn::existing_sha256(&at.client.sfn, &machine_arn, &version).await?;
    let artifact = shared::sfn::artifact(&machine_arn, &Routing::plain(&version), sha);
    if existed {
        tracing::info!(
            "{machine}: the definition has not changed since version {version}: nothing published"
        );
    } else {
        tracing::info!("{machine}: published version {version}");
    }

    let record = match &pointer {
        None => {
            let mut r = bare(if existed {
                Action::Unchanged
            } else {
                Action::Published
            });
            r.artifact = Some(shared::record::to_value(&artifact));
            r
        }
        Some(p) => {
            let wanted = Routing::plain(&version);
            let moved = match &current {
                None => {
                    calls::create_alias(&at, &machine_arn, &p.alias, &wanted).await?;
                    true
                }
                Some(alias) if alias.routing == wanted => false,
                Some(alias) => {
                    calls::update_alias(&at, &machine_arn, &p.alias, &wanted, Some(&alias.routing))
                        .await?;
                    true
                }
            };
            p.record(
                routing::published_action(existed, moved),
                &at,
                Some(&artifact),
                previous.as_ref(),
            )
        }
    };
    Ok(record)
}
