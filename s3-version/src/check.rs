//! `check`: whether a bucket keeps old versions (versioning) and locks objects. A bucket whose
//! versioning is not enabled fails the check (exit 1): promotion into it would lose content.

use crate::args::CheckArgs;
use crate::{calls, unpointed, Clients};
use shared::output::Output;
use shared::{Action, ExitCode, Result};

pub(crate) async fn run(
    args: &CheckArgs,
    clients: &Clients<'_>,
    out: &mut Output,
) -> Result<ExitCode> {
    let at = clients.get(None, None).await?;
    let (versioning, lock) = futures::future::try_join(
        calls::versioning(&at, &args.bucket),
        calls::object_lock(&at, &args.bucket),
    )
    .await?;
    let mut record =
        unpointed(&args.bucket, &at).record::<serde_json::Value>(Action::Resolved, None, None);
    let enabled = versioning == "Enabled";
    record.extra.insert(
        "versioning".into(),
        if versioning.is_empty() {
            "Disabled".into()
        } else {
            versioning.clone().into()
        },
    );
    record.extra.insert(
        "object_lock".into(),
        lock.unwrap_or(serde_json::Value::Null),
    );
    record
        .extra
        .insert("promotion_keeps_versions".into(), enabled.into());
    out.record(&record)?;
    if !enabled {
        eprintln!(
            "s3-version: bucket {} does not keep old versions (versioning {}): promotion into it is refused without --allow-unversioned",
            args.bucket,
            if versioning.is_empty() { "never enabled" } else { versioning.as_str() }
        );
        return Ok(ExitCode::Drift);
    }
    Ok(ExitCode::Success)
}
