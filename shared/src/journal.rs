//! `--journal FILE` (or `PROMOTE_JOURNAL`): every change record is appended to FILE and flushed
//! to disk as soon as its change is made, before the records are written in input order to stdout,
//! so a run that crashes or is killed still leaves the undo of everything it changed. The file is
//! NDJSON that `rollback` reads as it is.

use crate::error::{Error, Result};
use crate::record::Record;
use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

static JOURNAL: OnceLock<Mutex<std::fs::File>> = OnceLock::new();

/// Open (create, or append to) the journal for this run.
pub fn open(path: &Path) -> Result<()> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::usage(format!("cannot open the journal {}: {e}", path.display())))?;
    let _ = JOURNAL.set(Mutex::new(file));
    Ok(())
}

/// Append the change records among `records` and sync them to disk. Without a journal, nothing.
pub fn append<'r>(records: impl IntoIterator<Item = &'r Record>) -> Result<()> {
    let Some(journal) = JOURNAL.get() else {
        return Ok(());
    };
    let mut text = String::new();
    for record in records.into_iter().filter(|r| r.is_change()) {
        text.push_str(&record.to_json_line());
        text.push('\n');
    }
    if text.is_empty() {
        return Ok(());
    }
    let mut file = journal
        .lock()
        .map_err(|_| Error::Output(std::io::Error::other("the journal's lock was poisoned")))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_data())
        .map_err(|e| {
            Error::Output(std::io::Error::new(
                e.kind(),
                format!("cannot append to the journal: {e}"),
            ))
        })
}
