//! `promote`: move --to's alias to the version --from's alias holds (or --version N, or the
//! artifact a record on stdin names), after checking it is the same code.

use crate::args::PromoteArgs;
use crate::calls::{self, Clients, Located};
use crate::function::FunctionRef;
use crate::plan::{self, Routing, Step};
use crate::{alias_template, artifact_of, existing_code_sha256, routing_of, Options, Pointer};
use shared::batch::{self, Work};
use shared::config::{map_name, Project};
use shared::input::Input;
use shared::output::Output;
use shared::record::LambdaArtifact;
use shared::{Action, Error, ExitCode, Record, Result, Service};

/// Where the version to promote comes from.
#[derive(Debug)]
enum Source {
    /// What this environment's alias holds now.
    Alias {
        env: String,
        function: FunctionRef,
        alias: String,
    },
    /// A version named on the command line. With promote.toml's order it must be what the
    /// environment before --to holds, in `chain_function`: the function that names it there (the
    /// same function, unless promote.toml names one per environment).
    Version {
        version: String,
        chain_function: FunctionRef,
    },
    /// The artifact of a record on stdin (a release manifest): exactly these bits.
    Record(LambdaArtifact),
}

#[derive(Debug)]
struct Item {
    function: FunctionRef,
    target: Pointer,
    source: Source,
}

/// Everything the per-function work needs besides its item.
struct Run<'a> {
    clients: &'a Clients<'a>,
    opts: Options,
    expect: Option<&'a str>,
    /// The environment before --to, with the alias it uses, when `--version` must be checked
    /// against it (promote.toml's order, and no --force).
    chain: Option<(String, shared::config::Template)>,
}

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
    let aliases = alias_template(project);
    let target_alias = aliases.render(&args.to);
    let env_before = match project {
        Some(p) if !p.order.is_empty() => p.env_before(&args.to)?.map(str::to_string),
        _ => None,
    };
    let templates = project
        .and_then(|p| p.lambda.as_ref())
        .map(|l| l.functions.clone())
        .unwrap_or_default();

    // Where the version comes from, when it is not in a record.
    let source_env = || -> Result<String> {
        args.from
            .clone()
            .or_else(|| env_before.clone())
            .ok_or_else(|| {
                Error::usage(match project {
                    Some(_) => format!(
                    "{} is the first environment in promote.toml's order: nothing comes before it; \
                     pass --from ENV or --version N",
                    args.to
                ),
                    None => {
                        "pass --from ENV or --version N (there is no promote.toml to say which \
                         environment comes before --to)"
                            .to_string()
                    }
                })
            })
    };
    let from_args = |function: FunctionRef, source_function: FunctionRef| -> Result<Item> {
        let source = match &args.version {
            Some(version) => Source::Version {
                version: version.clone(),
                chain_function: source_function,
            },
            None => {
                let env = source_env()?;
                Source::Alias {
                    alias: aliases.render(&env),
                    env,
                    function: source_function,
                }
            }
        };
        Ok(Item {
            target: Pointer {
                function: function.id.clone(),
                alias: target_alias.clone(),
                env: Some(args.to.clone()),
            },
            function,
            source,
        })
    };

    // All input is read and checked before the first call.
    let mut work: Vec<Work<'_, Result<Item>>> = Vec::new();
    if !args.functions.is_empty() {
        for name in &args.functions {
            let function = FunctionRef::parse(name).map_err(Error::usage)?;
            work.push(Work::Own(from_args(function.clone(), function)));
        }
    } else if let Some(input) = input {
        if args.version.is_some() {
            return Err(Error::usage(
                "--version names the version for FUNCTION arguments; records on stdin carry their own",
            ));
        }
        for item in input.items(&[Service::Lambda]) {
            let Some(record) = batch::own(item, &mut work) else {
                continue;
            };
            let parsed = record.parse(input.origin())?;
            let origin = format!("{}:{}", input.origin(), record.line);
            let item = item_from_record(
                &parsed,
                &origin,
                &args,
                &templates,
                &target_alias,
                env_before.as_deref(),
            )?;
            work.push(Work::Own(item));
        }
    } else if let Some(lambda) = project
        .and_then(|p| p.lambda.as_ref())
        .filter(|l| !l.functions.is_empty())
    {
        for template in &lambda.functions {
            let target = FunctionRef::parse(&template.render(&args.to)).map_err(Error::usage)?;
            // The source environment's function: where --from's alias is read, or with --version
            // (which excludes --from) where the order's check reads the environment before --to.
            let source_name = match args.from.clone().or_else(|| env_before.clone()) {
                Some(env) => template.render(&env),
                None => target.id.clone(),
            };
            let source = FunctionRef::parse(&source_name).map_err(Error::usage)?;
            work.push(Work::Own(from_args(target, source)));
        }
    } else {
        return Err(Error::usage(
            "nothing to promote: name a FUNCTION, pipe lambda records in, or list functions under \
             [lambda] in promote.toml",
        ));
    }

    let chain = match (&args.version, &env_before, args.force) {
        (Some(_), Some(env), false) => Some((env.clone(), aliases.clone())),
        _ => None,
    };
    let run = Run {
        clients,
        opts,
        expect: args.expect.as_deref(),
        chain,
    };
    // Two records for one alias (a manifest listing a function twice) go one after the other.
    let key = |item: &Result<Item>| {
        item.as_ref().ok().map(|i| {
            format!(
                "{}\n{}\n{:?}",
                i.target.function, i.target.alias, i.target.env
            )
        })
    };
    if args.atomic {
        out.remember_changes();
    }
    let code = batch::run_keyed(work, opts.concurrency, out, key, |item| {
        let run = &run;
        async move { promote_one(item?, run).await }
    })
    .await?;
    // --atomic: a run that failed takes back what it changed, with the tool's own rollback.
    match out.take_changes() {
        Some(undo) if args.atomic && code != ExitCode::Success => {
            shared::cli::note("--atomic: the run failed; rolling back the changes it made");
            let undone = crate::rollback::run(&undo, clients, opts, out).await?;
            Ok(code.worst(undone))
        }
        _ => Ok(code),
    }
}

/// A lambda record from stdin as an item: its artifact is promoted into the same function (or
/// the one promote.toml maps it to) in --to.
fn item_from_record(
    record: &Record,
    origin: &str,
    args: &PromoteArgs,
    templates: &[shared::config::Template],
    target_alias: &str,
    env_before: Option<&str>,
) -> Result<Result<Item>> {
    let artifact = record
        .artifact
        .clone()
        .ok_or_else(|| Error::bad_input(origin, "lambda record has no `artifact` to promote"))?;
    let mut artifact: LambdaArtifact = serde_json::from_value(artifact).map_err(|e| {
        Error::bad_input(
            origin,
            format!("lambda record's `artifact` is not {{\"version\", \"code_sha256\"}}: {e}"),
        )
    })?;
    // A canary's weights belong to the source alias, not to the artifact being promoted.
    artifact.weights.clear();
    let function = FunctionRef::parse(&record.resource)
        .map_err(|e| Error::bad_input(origin, format!("`resource`: {e}")))?;
    if let (Some(from), Some(env)) = (&args.from, &record.env) {
        if from != env {
            return Err(Error::bad_input(
                origin,
                format!("the record is from {env}, but --from says {from}"),
            ));
        }
    }
    // The promotion order: records must come from the environment before --to.
    if let (Some(before), Some(env), false) = (env_before, &record.env, args.force) {
        if before != env {
            return Ok(Err(Error::precondition(format!(
                "{origin}: {} is promoted into {} from {before} (promote.toml's order), but this \
                 record is from {env}; nothing changed (pass --force to promote it anyway)",
                record.resource, args.to
            ))));
        }
    }
    let target_name = match &record.env {
        Some(env) => map_name(templates, &function.id, env, &args.to),
        None => function.id.clone(),
    };
    let target = FunctionRef {
        id: target_name.clone(),
        region: function.region.clone(),
    };
    Ok(Ok(Item {
        target: Pointer {
            function: target_name,
            alias: target_alias.to_string(),
            env: Some(args.to.clone()),
        },
        function: target,
        source: Source::Record(artifact),
    }))
}

async fn promote_one(item: Item, run: &Run<'_>) -> Result<Vec<Record>> {
    let Item {
        function,
        target,
        source,
    } = item;
    let at = run
        .clients
        .get(target.env.as_deref(), function.region.as_deref())
        .await?;

    // 1. The artifact to promote, and whether its code hash was read in the target function
    // already (the same function in the same account and region): no need to read it twice.
    let (want, read_in_target) = match source {
        Source::Record(artifact) => (artifact, false),
        Source::Version {
            version,
            chain_function,
        } => {
            if let Some((env, aliases)) = &run.chain {
                let alias = aliases.render(env);
                let source_at = run
                    .clients
                    .get(Some(env), chain_function.region.as_deref())
                    .await?;
                let held = shared::lambda::get_alias(&source_at.client, &chain_function.id, &alias)
                    .await?;
                plan::check_chain(&version, env, held.as_ref().map(routing_of).as_ref())
                    .map_err(|e| Error::precondition(format!("{}: {e}", target.name())))?;
            }
            let sha = shared::lambda::code_sha256(&at.client, &function.id, &version)
                .await?
                .ok_or_else(|| {
                    Error::precondition(format!(
                        "{} has no version {version}; nothing changed",
                        function.id
                    ))
                })?;
            let artifact = LambdaArtifact {
                version,
                code_sha256: sha,
                weights: Default::default(),
            };
            (artifact, true)
        }
        Source::Alias {
            env,
            function: source_function,
            alias,
        } => {
            let source_at = run
                .clients
                .get(Some(&env), source_function.region.as_deref())
                .await?;
            let held = shared::lambda::get_alias(&source_at.client, &source_function.id, &alias)
                .await?
                .ok_or_else(|| {
                    Error::precondition(format!(
                        "{} has no alias {alias} ({env}): nothing to promote",
                        source_function.id
                    ))
                })?;
            if !held.weights.is_empty() {
                tracing::warn!(
                    "{} alias {alias} is running a canary; promoting its main version {}",
                    source_function.id,
                    held.version
                );
            }
            let sha = existing_code_sha256(&source_at, &source_function.id, &held.version).await?;
            let artifact = LambdaArtifact {
                version: held.version,
                code_sha256: sha,
                weights: Default::default(),
            };
            let same_function =
                source_function.id == target.function && source_at.settings == at.settings;
            (artifact, same_function)
        }
    };

    // 2. The target as it is now, and the code of that version in the target function.
    let target_sha = async {
        if read_in_target {
            Ok(Some(want.code_sha256.clone()))
        } else {
            shared::lambda::code_sha256(&at.client, &target.function, &want.version).await
        }
    };
    let (current, target_sha) = futures::future::join(
        shared::lambda::get_alias(&at.client, &target.function, &target.alias),
        target_sha,
    )
    .await;
    let current = current?;
    let target_sha = target_sha?;
    let now = current.as_ref().map(routing_of);

    // 3. The decision.
    let step = plan::promote(&plan::PromoteFacts {
        target_name: &target.name(),
        want: &want,
        target_code_sha256: target_sha.as_deref(),
        target: now.as_ref(),
        expect: run.expect,
    })?;
    let previous = match &current {
        Some(alias) => Some(artifact_of(&at, &target.function, alias, Some(&want)).await?),
        None => None,
    };

    // 4. The write, unless it is a dry run or there is nothing to do.
    let action = match &step {
        Step::Unchanged => Action::Unchanged,
        _ if run.opts.dry_run => {
            return Ok(vec![target.planned(
                Action::Promoted,
                &at,
                Some(&want),
                previous.as_ref(),
            )])
        }
        Step::Create(routing) => {
            calls::create_alias(&at, &target.function, &target.alias, routing).await?;
            Action::Promoted
        }
        Step::Update(routing) => {
            write_update(&at, &target, routing, current.as_ref()).await?;
            Action::Promoted
        }
        // plan::promote never decides to delete; refuse rather than guess should that change.
        Step::Delete => return Err(Error::usage("promote never deletes an alias")),
    };
    tracing::info!("{}: {} version {}", target.name(), action, want.version);
    Ok(vec![target.record(
        action,
        &at,
        Some(&want),
        previous.as_ref(),
    )])
}

async fn write_update(
    at: &Located,
    target: &Pointer,
    routing: &Routing,
    current: Option<&shared::lambda::Alias>,
) -> Result<()> {
    calls::update_alias(
        at,
        &target.function,
        &target.alias,
        routing,
        current.and_then(|a| a.revision_id.as_deref()),
    )
    .await
}
