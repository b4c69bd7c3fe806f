//! `status`: what each alias holds now, as `resolved` records. With --env, the records of one
//! environment are a release manifest that `promote` can take on stdin.

use crate::args::StatusArgs;
use crate::args::STATUS_HINT;
use crate::calls::{Clients, Located};
use crate::function::{FunctionRef, TOML_HINT};
use crate::{alias_template, existing_code_sha256, Options, Pointer};
use shared::batch::{self, Work};
use shared::config::{Project, Template};
use shared::input::Input;
use shared::lambda::Alias;
use shared::output::Output;
use shared::{Action, Error, ExitCode, Record, Result, Service};
use std::collections::BTreeMap;

/// One function to show: one alias of it, or all of them.
#[derive(Debug)]
struct Item {
    function: FunctionRef,
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

    let mut work: Vec<Work<'_, Item>> = Vec::new();
    if !args.functions.is_empty() {
        for name in &args.functions {
            work.push(Work::Own(Item {
                function: FunctionRef::parse(name, STATUS_HINT).map_err(Error::usage)?,
                alias: alias_for(&args.env),
                env: args.env.clone(),
            }));
        }
    } else if let Some(input) = input {
        for item in input.items(&[Service::Lambda]) {
            let Some(record) = batch::own(item, &mut work) else {
                continue;
            };
            let parsed = record.parse(input.origin())?;
            let origin = format!("{}:{}", input.origin(), record.line);
            let function = FunctionRef::of_record(&parsed.resource)
                .map_err(|e| Error::bad_input(&origin, format!("`resource`: {e}")))?;
            // --env names the alias; without it, the alias the record names.
            let (alias, env) = match &args.env {
                Some(_) => (alias_for(&args.env), args.env.clone()),
                None => (parsed.pointer.clone(), parsed.env.clone()),
            };
            work.push(Work::Own(Item {
                function: FunctionRef {
                    region: function.region.or(parsed.region),
                    ..function
                },
                alias,
                env,
            }));
        }
    } else if let Some(lambda) = project
        .and_then(|p| p.lambda.as_ref())
        .filter(|l| !l.functions.is_empty())
    {
        let envs: Vec<Option<String>> = match &args.env {
            Some(env) => vec![Some(env.clone())],
            None => project.map_or_else(Vec::new, |p| p.order.iter().cloned().map(Some).collect()),
        };
        for template in &lambda.functions {
            let one_place = project.is_none_or(Project::one_place);
            if args.env.is_none() && !template.varies_by_env() && one_place {
                // One function for all environments, in one account and region: list all its
                // aliases at once. (Environments in accounts or regions of their own each have
                // a function of that name: each is read with its environment's credentials.)
                work.push(Work::Own(Item {
                    function: FunctionRef::parse(template.pattern(), TOML_HINT)
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
                    function: FunctionRef::parse(&name, TOML_HINT).map_err(Error::usage)?,
                    alias: alias_for(env),
                    env: env.clone(),
                }));
            }
        }
    } else {
        return Err(Error::usage(
            "nothing to show: name a FUNCTION, pipe lambda records in, or list functions under \
             [lambda] in promote.toml",
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
                Service::Lambda,
                &item.function.name,
                item.alias.clone().unwrap_or_default(),
            )
            .env(item.env.as_deref())
            .region(item.function.region.as_deref());
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
        .get(item.env.as_deref(), item.function.region.as_deref())
        .await?;
    let function = &item.function.id;
    let found: Vec<Alias> = match &item.alias {
        Some(alias) => vec![
            shared::lambda::get_alias(&at.client.lambda, function, alias)
                .await?
                .ok_or_else(|| {
                    Error::precondition(format!("{} has no alias {alias}", item.function))
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
                function: item.function.clone(),
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
