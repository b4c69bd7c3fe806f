//! `rollback`: make each key in the records on stdin hold its previous bytes again by copying the
//! previous version on top (or, for a key that did not exist, a delete marker). Nothing is ever
//! deleted: every version still exists afterwards. Other services pass through.

use crate::location::Location;
use crate::plan::{self, Undo};
use crate::{calls, record, Clients, Options};
use shared::batch;
use shared::input::Input;
use shared::output::Output;
use shared::record::S3Artifact;
use shared::{Action, Error, ExitCode, Record, Result, Service};
use std::collections::HashMap;

#[derive(Debug)]
struct Change {
    location: Location,
    env: Option<String>,
    changed_to: Option<S3Artifact>,
    restore: Option<S3Artifact>,
}

pub(crate) async fn run(
    input: &Input,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    let (work, changes) = batch::changes(input, &[Service::S3], change_of)?;
    let changes = &changes;
    batch::run(work, opts.concurrency, out, |index| async move {
        undo(&changes[index], clients, opts).await
    })
    .await
}

impl batch::Change for Change {
    fn key(&self) -> String {
        self.location.to_string()
    }

    fn then(&mut self, later: Change) {
        self.changed_to = later.changed_to;
    }
}

fn change_of(record: &Record, origin: &str) -> Result<Option<Change>> {
    if !record.action.moved_a_pointer() || record.pointer.is_none() {
        return Ok(None);
    }
    let artifact = |field: &str, value: &Option<serde_json::Value>| -> Result<Option<S3Artifact>> {
        match value {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => serde_json::from_value(v.clone())
                .map(Some)
                .map_err(|e| Error::bad_input(origin, format!("`{field}` is not an s3 artifact {{\"version_id\", \"etag\", \"size\"}}: {e}"))),
        }
    };
    let changed_to = artifact("artifact", &record.artifact)?;
    let restore = artifact("previous", &record.previous)?;
    if changed_to.is_none() && restore.is_none() {
        return Err(Error::bad_input(
            origin,
            "the record has neither `artifact` nor `previous`: nothing to roll back to",
        ));
    }
    Ok(Some(Change {
        location: Location::from_resource(&record.resource)
            .map_err(|e| Error::bad_input(origin, format!("`resource`: {e}")))?,
        env: record.env.clone(),
        changed_to,
        restore,
    }))
}

async fn undo(change: &Change, clients: &Clients<'_>, opts: Options) -> Result<Vec<Record>> {
    let Change {
        location,
        env,
        changed_to,
        restore,
    } = change;
    let at = clients.get(env.as_deref(), None).await?;
    let now = calls::head(&at, location, None).await?.map(|v| v.artifact);
    let step = plan::rollback(
        &location.to_string(),
        now.as_ref(),
        changed_to.as_ref(),
        restore.as_ref(),
    )?;
    let env = env.as_deref();
    if step == Undo::Unchanged {
        return Ok(vec![record(
            Action::Unchanged,
            location,
            env,
            &at,
            now.as_ref(),
            now.as_ref(),
        )]);
    }
    if opts.dry_run {
        let planned = record(
            Action::RolledBack,
            location,
            env,
            &at,
            restore.as_ref(),
            now.as_ref(),
        );
        return Ok(vec![planned.into_planned(Action::RolledBack)]);
    }
    let after = match step {
        Undo::CopyBack(version_id) => {
            let gone = || {
                Error::precondition(format!(
                    "{location} version {version_id} no longer exists: it cannot be copied back"
                ))
            };
            // The record's `previous` is what a single copy needs (its id, size and checksum),
            // and a missing version fails the copy itself. A copy in parts must carry the
            // content type and metadata over: only there is the old version read first.
            let version = match restore {
                Some(restore)
                    if restore.version_id == version_id
                        && restore.size <= plan::SINGLE_COPY_LIMIT =>
                {
                    calls::Version {
                        artifact: restore.clone(),
                        content_type: None,
                        metadata: HashMap::new(),
                    }
                }
                _ => calls::head(&at, location, Some(&version_id))
                    .await?
                    .ok_or_else(gone)?,
            };
            let answer = calls::copy(&at, location, &version, location)
                .await?
                .ok_or_else(gone)?;
            // The record's artifact: the copy's own answer when it proves the old bytes are
            // back (and so the size), else the new version read back.
            match plan::copied(&version.artifact, &answer) {
                Some(copied) => Some(copied),
                None => calls::head(&at, location, Some(&answer.version_id))
                    .await?
                    .map(|v| v.artifact),
            }
        }
        Undo::Hide => {
            calls::hide(&at, location).await?;
            None
        }
        Undo::Unchanged => now.clone(),
    };
    tracing::info!("{location}: rolled back");
    Ok(vec![record(
        Action::RolledBack,
        location,
        env,
        &at,
        after.as_ref(),
        now.as_ref(),
    )])
}
