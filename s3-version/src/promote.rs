//! `promote`: make a key hold exactly one version of another key's bytes: a server-side copy of
//! that version (in parts above 5 GiB), content type and metadata kept, checked afterwards. The
//! key's old content stays a version; a bucket that would lose it is refused.

use crate::args::PromoteArgs;
use crate::location::Location;
use crate::plan::{self, Step};
use crate::{calls, record, Clients, Options};
use shared::batch::{self, Outcome, Work};
use shared::config::{map_name, Project, Template};
use shared::input::Input;
use shared::output::Output;
use shared::record::S3Artifact;
use shared::{Action, Error, ExitCode, Result, Service};

#[derive(Debug)]
struct Item {
    source: Location,
    source_env: Option<String>,
    /// The version to copy (None: the source's current one).
    version_id: Option<String>,
    /// What a record says that version holds: checked before copying.
    expected: Option<S3Artifact>,
    target: Location,
    target_env: Option<String>,
}

pub(crate) async fn run(
    args: &PromoteArgs,
    project: Option<&Project>,
    input: Option<&Input>,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    let to_location = args.to.starts_with("s3://");
    let to_env = (!to_location).then(|| args.to.clone());
    if let (Some(project), Some(env)) = (project, &to_env) {
        project.position(env)?;
    }
    let templates: Vec<Template> = project
        .and_then(|p| p.s3.as_ref())
        .map(|s| s.objects.clone())
        .unwrap_or_default();
    let env_before = match (project, &to_env) {
        (Some(p), Some(env)) if !p.order.is_empty() => p.env_before(env)?.map(str::to_string),
        _ => None,
    };

    let mut work: Vec<Work<'_, Result<Item>>> = Vec::new();
    if let Some(src) = &args.src {
        let target = if to_location {
            Location::parse(&args.to).map_err(Error::usage)?
        } else {
            return Err(Error::usage(
                "with SRC, --to is the destination s3://BUCKET/KEY",
            ));
        };
        work.push(Work::Own(Ok(Item {
            source: Location::parse(src).map_err(Error::usage)?,
            source_env: args.from.clone(),
            version_id: args.version_id.clone(),
            expected: None,
            target,
            target_env: None,
        })));
    } else if let Some(input) = input {
        if args.version_id.is_some() {
            return Err(Error::usage(
                "--version-id goes with SRC; records on stdin name their own versions",
            ));
        }
        for item in input.items(&[Service::S3]) {
            let Some(raw) = batch::own(item, &mut work) else {
                continue;
            };
            let origin = format!("{}:{}", input.origin(), raw.line);
            let parsed = raw.parse(input.origin())?;
            let artifact: S3Artifact = parsed
                .artifact
                .clone()
                .ok_or_else(|| Error::bad_input(&origin, "s3 record has no `artifact` to promote"))
                .and_then(|a| {
                    serde_json::from_value(a).map_err(|e| {
                        Error::bad_input(&origin, format!("s3 record's `artifact` is not {{\"version_id\", \"etag\", \"size\"}}: {e}"))
                    })
                })?;
            let source = Location::from_resource(&parsed.resource)
                .map_err(|e| Error::bad_input(&origin, format!("`resource`: {e}")))?;
            let target = match (&to_env, &parsed.env) {
                (None, _) => Location::parse(&args.to).map_err(Error::usage)?,
                (Some(to), Some(env)) => {
                    let mapped = map_name(&templates, &source.to_string(), env, to);
                    if mapped == source.to_string() {
                        return Err(Error::bad_input(
                            &origin,
                            format!("{source} is not one of promote.toml's [s3] objects for {env}: cannot tell where it goes in {to}"),
                        ));
                    }
                    Location::parse(&mapped).map_err(|e| Error::bad_input(&origin, e))?
                }
                (Some(_), None) => {
                    return Err(Error::bad_input(&origin, "the record names no `env`: cannot tell where it goes; give --to s3://BUCKET/KEY"))
                }
            };
            if let (Some(from), Some(env)) = (&args.from, &parsed.env) {
                if from != env {
                    return Err(Error::bad_input(
                        &origin,
                        format!("the record is from {env}, but --from says {from}"),
                    ));
                }
            }
            let item = match (&env_before, &parsed.env, args.force) {
                (Some(before), Some(env), false) if before != env => Err(Error::precondition(format!(
                    "{origin}: {target} is promoted from {before} (promote.toml's order), but this record is from {env}; \
                     nothing changed (pass --force to promote it anyway)"
                ))),
                _ => Ok(Item {
                    version_id: Some(artifact.version_id.clone()),
                    expected: Some(artifact),
                    source_env: parsed.env.clone(),
                    source,
                    target,
                    target_env: to_env.clone(),
                }),
            };
            work.push(Work::Own(item));
        }
    } else {
        let to = to_env.clone().ok_or_else(|| {
            Error::usage(
                "give SRC with --to s3://BUCKET/KEY, or --to ENV with [s3] objects in promote.toml",
            )
        })?;
        if templates.is_empty() {
            return Err(Error::usage("nothing to promote: give SRC, pipe s3 records in, or list [s3] objects in promote.toml"));
        }
        let from = args
            .from
            .clone()
            .or_else(|| env_before.clone())
            .ok_or_else(|| {
                Error::usage(format!(
                    "pass --from ENV ({to} has no environment before it in promote.toml's order)"
                ))
            })?;
        if args.version_id.is_some() {
            return Err(Error::usage("--version-id goes with SRC"));
        }
        for template in &templates {
            work.push(Work::Own(Ok(Item {
                source: Location::parse(&template.render(&from)).map_err(Error::usage)?,
                source_env: Some(from.clone()),
                version_id: None,
                expected: None,
                target: Location::parse(&template.render(&to)).map_err(Error::usage)?,
                target_env: Some(to.clone()),
            })));
        }
    }

    let key = |item: &Result<Item>| item.as_ref().ok().map(|i| i.target.to_string());
    if args.atomic {
        out.remember_changes();
    }
    let versionings = &calls::Versionings::default();
    let code = batch::run_keyed(work, opts.concurrency, out, key, |item| async move {
        match item {
            Ok(item) => promote_one(item, args, clients, versionings, opts).await,
            Err(e) => Err(e).into(),
        }
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

async fn promote_one(
    item: Item,
    args: &PromoteArgs,
    clients: &Clients<'_>,
    versionings: &calls::Versionings,
    opts: Options,
) -> Outcome {
    match promote_checked(&item, args, clients, versionings, opts).await {
        Ok(outcome) => outcome,
        Err(e) => Err(e).into(),
    }
}

async fn promote_checked(
    item: &Item,
    args: &PromoteArgs,
    clients: &Clients<'_>,
    versionings: &calls::Versionings,
    opts: Options,
) -> Result<Outcome> {
    let Item {
        source,
        source_env,
        version_id,
        expected,
        target,
        target_env,
    } = item;
    let source_at = clients.get(source_env.as_deref(), None).await?;
    let at = clients.get(target_env.as_deref(), None).await?;
    let version = calls::head(&source_at, source, version_id.as_deref())
        .await?
        .ok_or_else(|| {
            Error::precondition(match version_id {
                Some(v) => format!("{source} has no version {v}; nothing changed"),
                None => format!("{source} does not exist; nothing to promote"),
            })
        })?;
    if let Some(expected) = expected {
        if plan::same_bytes(expected, &version.artifact) == Some(false) {
            return Err(Error::precondition(format!(
                "{source} version {} is not what the record says (etag {}, {} bytes); nothing changed",
                expected.version_id, expected.etag, expected.size
            )));
        }
    }
    let now = calls::head(&at, target, None).await?.map(|v| v.artifact);
    let step = plan::promote(
        &target.to_string(),
        &version.artifact,
        now.as_ref(),
        args.expect.as_deref(),
    )?;
    let from = format!("{source}?versionId={}", version.artifact.version_id);
    let done = |action, artifact: &S3Artifact| {
        let mut r = record(
            action,
            target,
            target_env.as_deref(),
            &at,
            Some(artifact),
            now.as_ref(),
        );
        r.extra.insert("source".into(), from.clone().into());
        r
    };
    if step == Step::Unchanged {
        let current = now.clone().unwrap_or_else(|| version.artifact.clone());
        return Ok(Ok(vec![done(Action::Unchanged, &current)]).into());
    }
    // Only a write can lose the key's old content, so only a write (or a dry run of one, to
    // report the refusal) needs the bucket's versioning; it is read once per bucket in a run.
    let status = versionings.get(&at, &target.bucket).await?;
    plan::check_versioning(&target.bucket, &status, args.allow_unversioned)?;
    if opts.dry_run {
        let planned = done(Action::Promoted, &version.artifact).into_planned(Action::Promoted);
        return Ok(Ok(vec![planned]).into());
    }
    let answer = calls::copy(&at, source, &version, target)
        .await?
        .ok_or_else(|| {
            Error::precondition(format!(
                "{source} version {} no longer exists; nothing changed",
                version.artifact.version_id
            ))
        })?;
    let new_version = &answer.version_id;
    // What the key holds now, compared with the source's bytes: the copy's own answer when it
    // proves them the same (an MD5 ETag or a SHA checksum, which fix the size too), else the new
    // version read back, whose size, ETag and checksum are then compared as always.
    let copied = match plan::copied(&version.artifact, &answer) {
        Some(copied) => copied,
        None => calls::head(&at, target, Some(new_version))
            .await?
            .map(|v| v.artifact)
            .ok_or_else(|| Error::Aws {
                doing: format!("checking the copy onto {target}"),
                message: format!("version {new_version} cannot be read back"),
            })?,
    };
    let record = done(Action::Promoted, &copied);
    match plan::same_bytes(&version.artifact, &copied) {
        Some(true) => Ok(Ok(vec![record]).into()),
        None => {
            tracing::warn!("{target}: sizes match, but neither ETags nor checksums can prove the copy identical");
            Ok(Ok(vec![record]).into())
        }
        Some(false) => Ok(Outcome::partial(
            vec![record],
            Error::Aws {
                doing: format!("checking the copy of {from} onto {target}"),
                message: format!(
                    "the copy (version {new_version}: etag {}, {} bytes) does not match the source (etag {}, {} bytes)",
                    copied.etag, copied.size, version.artifact.etag, version.artifact.size
                ),
            },
        )),
    }
}
