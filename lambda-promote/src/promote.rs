//! `promote`: move --to's alias to the version --from's alias holds (or --version N, or the
//! artifact a record on stdin names), after checking it is the same code. Where the work comes
//! from, the order, the two phases, `--dry-run` and `--atomic` are the engine's
//! (`shared::engine`); this module builds the work list and `adapter` says how Lambda does it.

use crate::adapter::{Item, Lambda, Named, Source, Written};
use crate::args::PromoteArgs;
use crate::args::PROMOTE_HINT;
use crate::calls::Clients;
use crate::function::{map_function, FunctionRef, TOML_HINT};
use crate::{alias_template, Options, Pointer};
use shared::batch::Work;
use shared::config::Project;
use shared::engine::{self, Asked, Job, Order, Settings, Stdin, Target};
use shared::input::Input;
use shared::output::Output;
use shared::record::LambdaArtifact;
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
    let order = Order::of(project, args.force);
    let source = engine::source::decide(
        "lambda-promote",
        Asked {
            names: !args.functions.is_empty(),
            live: args.from.is_some() || args.version.is_some() || args.description.is_some(),
        },
        Stdin::of(input, &[Service::Lambda]),
    )?;
    engine::check_upstream(input, &[Service::Lambda], args.skip_failed, out)?;
    let aliases = alias_template(project);
    let target_alias = aliases.render(&args.to);
    let env_before = order.before(&args.to)?.map(str::to_string);
    let templates = project
        .and_then(|p| p.lambda.as_ref())
        .map(|l| l.functions.clone())
        .unwrap_or_default();

    // Whether promote.toml gives --to a region of its own: if not, a record's function that
    // maps to itself is in the record's region.
    let to_has_region = project.is_some_and(|p| p.env_settings(&args.to).region.is_some());

    // Where the version comes from, when it is not in a record: --from (which must be the
    // environment just before --to) or that environment.
    let source_env = || order.source_env(args.from.as_deref(), &args.to, " or --version N");
    // --version N or --description TEXT: one version named on the command line.
    let named = match (&args.version, &args.description) {
        (Some(version), _) => Some(Named::Number(version.clone())),
        (None, Some(description)) => Some(Named::Described(description.clone())),
        (None, None) => None,
    };
    let target_of = |function: &FunctionRef| Pointer {
        function: function.clone(),
        alias: target_alias.clone(),
        env: Some(args.to.clone()),
    };
    let from_args = |function: FunctionRef, source_function: FunctionRef| -> Result<Job<Item>> {
        let (source, verdict) = match &named {
            Some(version) => (
                Source::Version {
                    version: version.clone(),
                    chain_function: source_function,
                },
                // Checked against what the environment before holds when the item is read;
                // with --force that read is skipped and the move is marked.
                engine::Verdict {
                    forced: args.force && env_before.is_some(),
                },
            ),
            None => {
                let (env, verdict) = source_env()?;
                (
                    Source::Alias {
                        alias: aliases.render(&env),
                        env,
                        function: source_function,
                    },
                    verdict,
                )
            }
        };
        let target = target_of(&function);
        Ok(Job::new(
            target.target(function.region.as_deref()),
            Ok(Item {
                target,
                function,
                source,
            }),
        )
        .verdict(verdict))
    };

    let adapter = Lambda {
        clients,
        expect: args.expect.as_deref(),
        chain: match (&named, &env_before, args.force) {
            (Some(_), Some(env), false) => Some((env.clone(), aliases.clone(), order)),
            _ => None,
        },
        version_env: named.as_ref().and(env_before.clone()),
        dry_run: opts.dry_run,
        shared_registry: project
            .and_then(|p| p.ecr.as_ref())
            .and_then(|e| e.registry.clone()),
        copy_bucket: project
            .and_then(|p| p.lambda.as_ref())
            .and_then(|l| l.copy_bucket.clone()),
    };
    // All input is read and checked before the first call.
    let mut work: Vec<Work<'_, Job<Item>>> = Vec::new();
    match source {
        engine::Source::Names => {
            for name in &args.functions {
                let function = FunctionRef::parse(name, PROMOTE_HINT).map_err(Error::usage)?;
                work.push(Work::Own(from_args(function.clone(), function)?));
            }
        }
        engine::Source::Records | engine::Source::Nothing => {
            let input = input.ok_or_else(|| Error::usage("no input"))?;
            if named.is_some() {
                return Err(Error::usage(
                    "--version and --description name the version for FUNCTION arguments; records on stdin carry their own",
                ));
            }
            work = engine::record_jobs(
                &adapter,
                input,
                &[Service::Lambda],
                args.from.as_deref(),
                &args.to,
                &order,
                |record, artifact, origin| {
                    item_from_record(
                        record,
                        artifact,
                        origin,
                        &args,
                        &templates,
                        &target_alias,
                        to_has_region,
                    )
                    .map(Some)
                },
            )?;
        }
        engine::Source::Live => {
            let lambda = project
                .and_then(|p| p.lambda.as_ref())
                .filter(|l| !l.functions.is_empty())
                .ok_or_else(|| {
                    Error::usage(
                        "nothing to promote: name a FUNCTION, pipe lambda records in, or list functions under \
                         [lambda] in promote.toml",
                    )
                })?;
            for template in &lambda.functions {
                let target = FunctionRef::parse(&template.render(&args.to), TOML_HINT)
                    .map_err(Error::usage)?;
                // The source environment's function: where --from's alias is read, or with
                // --version (which excludes --from) where the order's check reads the
                // environment before --to.
                let source = match args.from.clone().or_else(|| env_before.clone()) {
                    Some(env) => FunctionRef::parse(&template.render(&env), TOML_HINT)
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
        let steps = Lambda {
            clients,
            expect: args.expect.as_deref(),
            chain: match (&source, &env_before, args.force) {
                (engine::Source::Records | engine::Source::Nothing, _, _)
                | (_, None, _)
                | (_, _, true) => None,
                (_, Some(env), false) => Some((env.clone(), aliases.clone(), order)),
            },
            version_env: None,
            dry_run: opts.dry_run,
            shared_registry: None,
            copy_bucket: None,
        };
        let at = clients.get(Some(&args.to), None).await?;
        let watch = args
            .shift
            .watch(project, &args.to, Some(at.client.lambda.clone()));
        let subject = format!("{} in {}", target_alias, args.to);
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

/// A lambda record from stdin as an item: its artifact is promoted into the same function (or
/// the one promote.toml maps it to) in --to. The same function is in the record's region,
/// unless promote.toml gives --to a region of its own (`to_has_region`).
fn item_from_record(
    record: &Record,
    mut artifact: LambdaArtifact,
    origin: &str,
    args: &PromoteArgs,
    templates: &[shared::config::Template],
    target_alias: &str,
    to_has_region: bool,
) -> Result<(Target, Item)> {
    // A canary's weights belong to the source alias, not to the artifact being promoted.
    artifact.weights.clear();
    let function = FunctionRef::of_record(&record.resource)
        .map_err(|e| Error::bad_input(origin, format!("`resource`: {e}")))?;
    let mapped = match &record.env {
        Some(env) => {
            map_function(templates, &function, env, &args.to, TOML_HINT).map_err(Error::usage)?
        }
        None => function.clone(),
    };
    let target_function = if mapped == function {
        let region = function.region.clone().or_else(|| {
            if to_has_region {
                None
            } else {
                record.region.clone()
            }
        });
        FunctionRef {
            region,
            ..function.clone()
        }
    } else {
        mapped
    };
    let pointer = Pointer {
        function: target_function.clone(),
        alias: target_alias.to_string(),
        env: Some(args.to.clone()),
    };
    Ok((
        pointer.target(target_function.region.as_deref()),
        Item {
            target: pointer,
            function: target_function,
            source: Source::Record {
                artifact,
                written: Written {
                    env: record.env.clone(),
                    function: FunctionRef {
                        region: function.region.clone().or_else(|| record.region.clone()),
                        ..function
                    },
                    region: record.region.clone(),
                    account: record.account.clone(),
                },
            },
        },
    ))
}
