//! `status`: the current version of each object, as `resolved` records; with --env, promote.toml's
//! [s3] objects of that environment (a release manifest's lines).

use crate::args::StatusArgs;
use crate::location::Location;
use crate::{calls, record, Clients, Options};
use shared::batch::{self, Work};
use shared::config::Project;
use shared::input::Input;
use shared::output::Output;
use shared::{Action, Error, ExitCode, Result, Service};

pub(crate) async fn run(
    args: &StatusArgs,
    project: Option<&Project>,
    input: Option<&Input>,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    let mut work: Vec<Work<'_, (Location, Option<String>)>> = Vec::new();
    if !args.locations.is_empty() {
        for l in &args.locations {
            work.push(Work::Own((
                Location::parse(l).map_err(Error::usage)?,
                args.env.clone(),
            )));
        }
    } else if let Some(env) = &args.env {
        if let Some(p) = project {
            p.position(env)?;
        }
        let objects = project
            .and_then(|p| p.s3.as_ref())
            .map(|s| s.objects.clone())
            .filter(|o| !o.is_empty())
            .ok_or_else(|| {
                Error::usage("--env needs [s3] objects in promote.toml (or name LOCATIONs)")
            })?;
        for template in objects {
            work.push(Work::Own((
                Location::parse(&template.render(env)).map_err(Error::usage)?,
                Some(env.clone()),
            )));
        }
    } else if let (None, Some(project)) = (
        input,
        project.filter(|p| p.s3.as_ref().is_some_and(|s| !s.objects.is_empty())),
    ) {
        // Neither locations, --env nor records: every environment of the order, as the other
        // tools' `status` lists every alias, stage and service.
        let objects = project
            .s3
            .as_ref()
            .map(|s| s.objects.clone())
            .unwrap_or_default();
        for env in &project.order {
            for template in &objects {
                work.push(Work::Own((
                    Location::parse(&template.render(env)).map_err(Error::usage)?,
                    Some(env.clone()),
                )));
            }
        }
    } else if let Some(input) = input {
        for item in input.items(&[Service::S3]) {
            let Some(raw) = batch::own(item, &mut work) else {
                continue;
            };
            let parsed = raw.parse(input.origin())?;
            let location = Location::from_resource(&parsed.resource).map_err(|e| {
                Error::bad_input(
                    format!("{}:{}", input.origin(), raw.line),
                    format!("`resource`: {e}"),
                )
            })?;
            work.push(Work::Own((location, parsed.env)));
        }
    } else {
        return Err(Error::usage("name LOCATIONs, pass --env ENV with [s3] objects in promote.toml, or pipe s3 records in"));
    }
    // An object that cannot be read is an `error` record too, so `status | promote` refuses.
    let describe = |(location, env): &(Location, Option<String>)| batch::Described {
        key: None,
        subject: Some(
            crate::Pointer {
                location: location.clone(),
                env: env.clone(),
            }
            .target(None),
        ),
    };
    batch::run_described(
        work,
        opts.concurrency,
        out,
        describe,
        |(location, env)| async move {
            let at = clients.get(env.as_deref(), None).await?;
            let Some(version) = calls::head(&at, &location, None).await? else {
                let missing = format!(
                    "{location} does not exist (or its current version is a delete marker)"
                );
                return Err(calls::not_found(&at, &location, missing).await);
            };
            Ok::<_, Error>(vec![record(
                Action::Resolved,
                &location,
                env.as_deref(),
                &at,
                Some(&version.artifact),
                None,
            )])
        },
    )
    .await
}
