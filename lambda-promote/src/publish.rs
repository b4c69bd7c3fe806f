//! `publish`: turn $LATEST into an immutable version (the "build once"), and optionally point an
//! environment's alias at it.

use crate::args::PublishArgs;
use crate::calls::{self, Clients};
use crate::function::FunctionRef;
use crate::plan::{self, Routing};
use crate::{alias_template, artifact_of, Options, Pointer};
use shared::config::Project;
use shared::engine::Order;
use shared::output::Output;
use shared::record::LambdaArtifact;
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
    let function =
        FunctionRef::parse(&args.function, crate::args::PUBLISH_HINT).map_err(Error::usage)?;
    let alias = args
        .env
        .as_ref()
        .map(|env| alias_template(project).render(env));
    let mut failed = shared::engine::Target::new(
        Service::Lambda,
        &function.name,
        alias.clone().unwrap_or_default(),
    )
    .env(args.env.as_deref())
    .region(function.region.as_deref());
    failed.pointer = alias;
    // A new version enters the first environment only; the others get it by promotion.
    let subject = format!(
        "publish {function} --env {}",
        args.env.as_deref().unwrap_or_default()
    );
    let env = args.env.clone();
    shared::engine::publish(
        &Order::of(project, args.force),
        &subject,
        env.as_deref(),
        failed,
        out,
        publish(args, project, &function, clients, opts),
    )
    .await
}

async fn publish(
    args: PublishArgs,
    project: Option<&Project>,
    function: &FunctionRef,
    clients: &Clients<'_>,
    opts: Options,
) -> Result<Record> {
    let at = clients
        .get(args.env.as_deref(), function.region.as_deref())
        .await?;
    let pointer = args.env.as_ref().map(|env| Pointer {
        function: function.clone(),
        alias: alias_template(project).render(env),
        env: Some(env.clone()),
    });

    // What the alias holds before, so the record can undo the move.
    let current = match &pointer {
        Some(p) => shared::lambda::get_alias(&at.client.lambda, &p.function.id, &p.alias).await?,
        None => None,
    };
    let previous = match (&pointer, &current) {
        (Some(p), Some(alias)) => Some(artifact_of(&at, &p.function.id, alias, None).await?),
        _ => None,
    };

    if opts.dry_run {
        // The version number is only known once published.
        let record = match &pointer {
            Some(p) => p.planned(Action::Published, &at, None, previous.as_ref()),
            None => {
                let mut r = Record::new(Service::Lambda, Action::Published, &function.name);
                r.region.clone_from(&at.region);
                r.account.clone_from(&at.account);
                r.into_planned(Action::Published)
            }
        };
        return Ok(record);
    }

    // PublishVersion hands back the newest version, unchanged, when $LATEST has not changed
    // since it: the version number read before the call tells the two apart.
    let newest = shared::lambda::newest_version(&at.client.lambda, &function.id).await?;
    let (version, code_sha256) =
        calls::publish_version(&at, &function.id, args.description.as_deref()).await?;
    let existed = plan::version_existed(&version, newest);
    let artifact = LambdaArtifact {
        version,
        code_sha256,
        weights: Default::default(),
    };
    if existed {
        tracing::info!(
            "{}: $LATEST has not changed since version {}: nothing published",
            function,
            artifact.version
        );
    } else {
        tracing::info!("{function}: published version {}", artifact.version);
    }

    let record = match &pointer {
        None => {
            let action = if existed {
                Action::Unchanged
            } else {
                Action::Published
            };
            let mut r = Record::new(Service::Lambda, action, &function.name);
            r.region.clone_from(&at.region);
            r.account.clone_from(&at.account);
            r.artifact = Some(artifact.to_value());
            r
        }
        Some(p) => {
            let wanted = Routing::plain(&artifact.version);
            let moved = match &current {
                None => {
                    calls::create_alias(&at, &p.function.id, &p.alias, &wanted).await?;
                    true
                }
                Some(alias) if crate::routing_of(alias) == wanted => false,
                Some(alias) => {
                    calls::update_alias(
                        &at,
                        &p.function.id,
                        &p.alias,
                        &wanted,
                        alias.revision_id.as_deref(),
                    )
                    .await?;
                    true
                }
            };
            let action = plan::published_action(existed, moved);
            p.record(action, &at, Some(&artifact), previous.as_ref())
        }
    };
    Ok(record)
}
