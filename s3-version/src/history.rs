//! `history`: the versions of exactly one key, newest first, delete markers shown as such.

use crate::args::HistoryArgs;
use crate::{calls, location, unpointed, Clients};
use shared::output::Output;
use shared::record::{to_value, S3Artifact};
use shared::{Action, ExitCode, Result};

pub(crate) async fn run(
    args: &HistoryArgs,
    clients: &Clients<'_>,
    out: &mut Output,
) -> Result<ExitCode> {
    let location = location(&args.location)?;
    let at = clients.get(None, None).await?;
    for entry in calls::history(&at, &location).await? {
        // A listing, not a pointer's state: no pointer, so no tool takes it for one.
        let artifact = if entry.delete_marker {
            serde_json::json!({ "version_id": entry.version_id })
        } else {
            to_value(&S3Artifact {
                version_id: entry.version_id,
                etag: entry.etag.unwrap_or_default(),
                size: entry.size.unwrap_or_default(),
                checksum: None,
            })
        };
        let mut record =
            unpointed(&location.resource(), &at).record(Action::Resolved, Some(&artifact), None);
        record
            .extra
            .insert("delete_marker".into(), entry.delete_marker.into());
        record
            .extra
            .insert("is_latest".into(), entry.is_latest.into());
        record
            .extra
            .insert("last_modified".into(), entry.last_modified.into());
        out.record(&record)?;
    }
    Ok(ExitCode::Success)
}
