//! `status`: what each alias holds now, as `resolved` records. With --env, the records of one
//! environment are a release manifest that `promote` can take on stdin.

use crate::args::StatusArgs;
use crate::args::STATUS_HINT;
use crate::calls::{Clients, Located};
use crate::function::FunctionRef;
use crate::{alias_template, existing_code_sha256, Options, Pointer};
use shared::alias_status;
use shared::batch;
use shared::config::{Project, Template};
use shared::input::Input;
use shared::lambda::Alias;
use shared::output::Output;
use shared::{Action, Error, ExitCode, Record, Result, Service};
use std::collections::BTreeMap;

type Item = alias_status::Item<FunctionRef>;

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
    let templates = project
        .and_then(|p| p.lambda.as_ref())
        .map(|l| l.functions.clone())
        .unwrap_or_default();
    let work = alias_status::work(
        &alias_status::Asked {
            service: Service::Lambda,
            names: &args.functions,
            env: args.env.as_deref(),
            aliases: &aliases,
            templates: &templates,
            hint: STATUS_HINT,
            toml_hint: crate::function::TOML_HINT,
            nothing:
                "nothing to show: name a FUNCTION, pipe lambda records in, or list functions under \
             [lambda] in promote.toml",
        },
        project,
        input,
    )?;

    let order = project.map(|p| p.order.clone()).unwrap_or_default();
    let ctx = (&aliases, order.as_slice());
    // A pointer that cannot be read is an `error` record too.
    let describe = alias_status::describe(Service::Lambda);
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
    let function = &item.owner.id;
    let found: Vec<Alias> = match &item.alias {
        Some(alias) => vec![
            shared::lambda::get_alias(&at.client.lambda, function, alias)
                .await?
                .ok_or_else(|| {
                    Error::precondition(format!("{} has no alias {alias}", item.owner))
                })?,
        ],
        None => shared::lambda::list_aliases(&at.client.lambda, function).await?,
    };

    // One read per distinct version, however many aliases share it.
    let mut versions: Vec<&str> = found.iter().map(|a| a.version.as_str()).collect();
    versions.sort_unstable();
    versions.dedup();
    let hashes = futures::future::try_join_all(
        versions
            .iter()
            .map(|v| existing_code_sha256(&at, function, v)),
    )
    .await?;
    let sha: BTreeMap<&str, String> = versions.into_iter().zip(hashes).collect();

    Ok(found
        .iter()
        .map(|alias| {
            let env = item
                .env
                .clone()
                .or_else(|| aliases.env_of_pointer(&alias.name, order));
            let pointer = Pointer {
                function: item.owner.clone(),
                alias: alias.name.clone(),
                env,
            };
            let artifact =
                alias.artifact(sha.get(alias.version.as_str()).cloned().unwrap_or_default());
            resolved(&pointer, &at, &artifact)
        })
        .collect())
}

fn resolved(pointer: &Pointer, at: &Located, artifact: &shared::record::LambdaArtifact) -> Record {
    pointer.record(Action::Resolved, at, Some(artifact), None)
}
