//! `promote`: make a key hold exactly one version of another key's bytes: a server-side copy of
//! that version (in parts above 5 GiB), content type and metadata kept, checked afterwards. The
//! key's old content stays a version; a bucket that would lose it is refused. Across accounts
//! the copy is streamed when the target's credentials may not read the source (`adapter`).
//! Where the work comes from, the order, the two phases, `--dry-run` and `--atomic` are the
//! engine's (`shared::engine`); this module builds the work list and `adapter` says how S3
//! does it.

use crate::adapter::{Item, S3};
use crate::args::PromoteArgs;
use crate::location::Location;
use crate::{Clients, Options, Pointer};
use shared::batch::Work;
use shared::config::{map_name, Project, Template};
use shared::engine::{self, Asked, Job, Order, Settings, Stdin, Target};
use shared::input::Input;
use shared::output::Output;
use shared::record::S3Artifact;
use shared::{Error, ExitCode, Record, Result, Service};

pub(crate) async fn run(
    args: &PromoteArgs,
    project: Option<&Project>,
    input: Option<&Input>,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    // --to is a key (with SRC, or for records on stdin) or an environment: only then is there
    // an order to hold to.
    let to_env = (!args.to.starts_with("s3://")).then(|| args.to.clone());
    if let (Some(project), Some(env)) = (project, &to_env) {
        project.position(env)?;
        if let Some(from) = &args.from {
            project.position(from)?;
        }
    }
    let order = Order::of(project, args.force);
    let source = engine::source::decide(
        "s3-version",
        Asked {
            names: args.src.is_some(),
            live: args.from.is_some(),
        },
        Stdin::of(input, &[Service::S3]),
    )?;
    engine::check_upstream(input, &[Service::S3], args.skip_failed, out)?;
    let templates: Vec<Template> = project
        .and_then(|p| p.s3.as_ref())
        .map(|s| s.objects.clone())
        .unwrap_or_default();

    // All input is read and checked before the first call.
    let adapter = S3 {
        expect: args.expect.as_deref(),
        allow_unversioned: args.allow_unversioned,
        dry_run: opts.dry_run,
        ..S3::new(clients)
    };
    let mut work: Vec<Work<'_, Job<Item>>> = Vec::new();
    match source {
        engine::Source::Names => {
            let Some(src) = &args.src else {
                return Err(Error::usage("give SRC"));
            };
            if to_env.is_some() {
                return Err(Error::usage(
                    "with SRC, --to is the destination s3://BUCKET/KEY",
                ));
            }
            let target = Pointer {
                location: Location::parse(&args.to).map_err(Error::usage)?,
                env: None,
            };
            work.push(Work::Own(Job::new(
                target.target(None),
                Ok(Item {
                    source: Location::parse(src).map_err(Error::usage)?,
                    source_env: args.from.clone(),
                    version_id: args.version_id.clone(),
                    expected: None,
                    target,
                }),
            )));
        }
        engine::Source::Records | engine::Source::Nothing => {
            let input = input.ok_or_else(|| Error::usage("no input"))?;
            if args.version_id.is_some() {
                return Err(Error::usage(
                    "--version-id goes with SRC; records on stdin name their own versions",
                ));
            }
            // Into a key named by s3://BUCKET/KEY there is no environment, so no order.
            let (to, record_order) = match &to_env {
                Some(to) => (to.as_str(), order),
                None => (args.to.as_str(), Order::new(&[], args.force)),
            };
            work = engine::record_jobs(
                &adapter,
                input,
                &[Service::S3],
                args.from.as_deref(),
                to,
                &record_order,
                |record, artifact, origin| {
                    item_from_record(
                        record,
                        artifact,
                        origin,
                        args,
                        &templates,
                        to_env.as_deref(),
                    )
                    .map(Some)
                },
            )?;
        }
        engine::Source::Live => {
            let to = to_env.clone().ok_or_else(|| {
                Error::usage(
                    "give SRC with --to s3://BUCKET/KEY, or --to ENV with [s3] objects in promote.toml",
                )
            })?;
            if templates.is_empty() {
                return Err(Error::usage("nothing to promote: give SRC, pipe s3 records in, or list [s3] objects in promote.toml"));
            }
            if args.version_id.is_some() {
                return Err(Error::usage("--version-id goes with SRC"));
            }
            // --from must be the environment just before --to.
            let (from, verdict) = order.source_env(args.from.as_deref(), &to, "")?;
            for template in &templates {
                let target = Pointer {
                    location: Location::parse(&template.render(&to)).map_err(Error::usage)?,
                    env: Some(to.clone()),
                };
                work.push(Work::Own(
                    Job::new(
                        target.target(None),
                        Ok(Item {
                            source: Location::parse(&template.render(&from))
                                .map_err(Error::usage)?,
                            source_env: Some(from.clone()),
                            version_id: None,
                            expected: None,
                            target,
                        }),
                    )
                    .verdict(verdict),
                ));
            }
        }
    }

    engine::promote(
        &adapter,
        work,
        Settings::of(opts, args.atomic, args.skip_failed),
        out,
    )
    .await
}

/// An s3 record from stdin as an item: exactly its version is copied onto --to's key (the key
/// promote.toml's [s3] objects map it to in --to, or the s3://BUCKET/KEY --to names).
fn item_from_record(
    record: &Record,
    artifact: S3Artifact,
    origin: &str,
    args: &PromoteArgs,
    templates: &[Template],
    to_env: Option<&str>,
) -> Result<(Target, Item)> {
    let source = Location::from_resource(&record.resource)
        .map_err(|e| Error::bad_input(origin, format!("`resource`: {e}")))?;
    let location = match (to_env, &record.env) {
        (None, _) => Location::parse(&args.to).map_err(Error::usage)?,
        (Some(to), Some(env)) => {
            let mapped = map_name(templates, &source.to_string(), env, to);
            if mapped == source.to_string() {
                return Err(Error::bad_input(
                    origin,
                    format!("{source} is not one of promote.toml's [s3] objects for {env}: cannot tell where it goes in {to}"),
                ));
            }
            Location::parse(&mapped).map_err(|e| Error::bad_input(origin, e))?
        }
        (Some(_), None) => {
            return Err(Error::bad_input(
                origin,
                "the record names no `env`: cannot tell where it goes; give --to s3://BUCKET/KEY",
            ))
        }
    };
    let target = Pointer {
        location,
        env: to_env.map(str::to_string),
    };
    Ok((
        target.target(None),
        Item {
            source,
            source_env: record.env.clone(),
            version_id: Some(artifact.version_id.clone()),
            expected: Some(artifact),
            target,
        },
    ))
}
