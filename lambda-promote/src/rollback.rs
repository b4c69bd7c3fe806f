//! `rollback`: undo what records on stdin say was done to Lambda aliases. A pointer is moved back
//! only where it still holds what the record says it was moved to; records of other services pass
//! through, so one pipeline can roll a whole release back.

use crate::calls::{self, Clients};
use crate::plan::{self, Routing, Step};
use crate::{routing_of, Options, Pointer};
use shared::batch;
use shared::input::Input;
use shared::output::Output;
use shared::record::LambdaArtifact;
use shared::{Action, Error, ExitCode, Record, Result, Service};

/// The net change to one pointer over all records about it: from `restore` to `changed_to`.
/// A pointer changed several times in one run (a promotion, then a canary) is undone in one step,
/// back to what it held before the first change.
#[derive(Debug)]
struct Undo {
    pointer: Pointer,
    region: Option<String>,
    changed_to: Option<LambdaArtifact>,
    restore: Option<LambdaArtifact>,
}

pub(crate) async fn run(
    input: &Input,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    let (work, undos) = batch::changes(input, &[Service::Lambda], change_of)?;
    let undos = &undos;
    batch::run(work, opts.concurrency, out, |index| async move {
        undo(&undos[index], clients, opts).await
    })
    .await
}

impl batch::Change for Undo {
    fn key(&self) -> String {
        format!(
            "{}\n{}\n{:?}",
            self.pointer.function, self.pointer.alias, self.region
        )
    }

    fn then(&mut self, later: Undo) {
        self.changed_to = later.changed_to;
    }
}

/// The pointer a record changed, what it was changed to, and what it held before; `None` for a
/// record that changed no pointer.
fn change_of(record: &Record, origin: &str) -> Result<Option<Undo>> {
    if !record.action.moved_a_pointer() {
        return Ok(None);
    }
    let Some(alias) = &record.pointer else {
        if record.action == Action::Published {
            return Ok(None); // a version was published, no alias moved
        }
        return Err(Error::bad_input(
            origin,
            format!(
                "a `{}` lambda record needs the alias in `pointer`",
                record.action
            ),
        ));
    };
    let artifact =
        |field: &str, value: &Option<serde_json::Value>| -> Result<Option<LambdaArtifact>> {
            match value {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(v) => serde_json::from_value(v.clone()).map(Some).map_err(|e| {
                    Error::bad_input(
                        origin,
                        format!(
                        "`{field}` is not a lambda artifact {{\"version\", \"code_sha256\"}}: {e}"
                    ),
                    )
                }),
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
    Ok(Some(Undo {
        pointer: Pointer {
            function: record.resource.clone(),
            alias: alias.clone(),
            env: record.env.clone(),
        },
        region: record.region.clone(),
        changed_to,
        restore,
    }))
}

async fn undo(undo: &Undo, clients: &Clients<'_>, opts: Options) -> Result<Vec<Record>> {
    let Undo {
        pointer,
        region,
        changed_to,
        restore,
    } = undo;
    let at = clients
        .get(pointer.env.as_deref(), region.as_deref())
        .await?;
    let current = shared::lambda::get_alias(&at.client, &pointer.function, &pointer.alias).await?;
    let now = current.as_ref().map(routing_of);
    let step = plan::rollback(
        &pointer.name(),
        changed_to.as_ref().map(Routing::of).as_ref(),
        restore.as_ref().map(Routing::of).as_ref(),
        now.as_ref(),
    )?;
    let record = |action| pointer.record(action, &at, restore.as_ref(), changed_to.as_ref());
    if step == Step::Unchanged {
        return Ok(vec![pointer.record(
            Action::Unchanged,
            &at,
            restore.as_ref(),
            restore.as_ref(),
        )]);
    }
    if opts.dry_run {
        return Ok(vec![pointer.planned(
            Action::RolledBack,
            &at,
            restore.as_ref(),
            changed_to.as_ref(),
        )]);
    }
    match &step {
        Step::Update(routing) => {
            calls::update_alias(
                &at,
                &pointer.function,
                &pointer.alias,
                routing,
                current.as_ref().and_then(|a| a.revision_id.as_deref()),
            )
            .await?;
        }
        Step::Create(routing) => {
            calls::create_alias(&at, &pointer.function, &pointer.alias, routing).await?
        }
        Step::Delete => calls::delete_alias(&at, &pointer.function, &pointer.alias).await?,
        Step::Unchanged => {}
    }
    tracing::info!("{}: rolled back", pointer.name());
    Ok(vec![record(Action::RolledBack)])
}
