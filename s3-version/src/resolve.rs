//! `resolve`: a key's current version (or a given one) as a `resolved` record.

use crate::args::ResolveArgs;
use crate::{calls, location, record, Clients};
use shared::output::Output;
use shared::{Action, ExitCode, Result};

pub(crate) async fn run(
    args: &ResolveArgs,
    clients: &Clients<'_>,
    out: &mut Output,
) -> Result<ExitCode> {
    let location = location(&args.location)?;
    let at = clients.get(None, None).await?;
    let Some(version) = calls::head(&at, &location, args.version_id.as_deref()).await? else {
        let missing = match &args.version_id {
            Some(v) => format!("{location} has no version {v}"),
            None => {
                format!("{location} does not exist (or its current version is a delete marker)")
            }
        };
        return Err(calls::not_found(&at, &location, missing).await);
    };
    out.record(&record(
        Action::Resolved,
        &location,
        None,
        &at,
        Some(&version.artifact),
        None,
    ))?;
    Ok(ExitCode::Success)
}
