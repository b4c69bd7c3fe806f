//! `rollback`: make each key in the records on stdin hold its previous bytes again by copying the
//! previous version on top (or, for a key that did not exist, a delete marker), only where it
//! still holds what the record says. Nothing is ever deleted: every version still exists
//! afterwards. Other services pass through. The engine reads the records and runs the undos; the
//! adapter reads each key and decides (`plan::rollback`).

use crate::adapter::S3;
use crate::{Clients, Options};
use shared::engine::{self, Settings};
use shared::input::Input;
use shared::output::Output;
use shared::{ExitCode, Result};

pub(crate) async fn run(
    input: &Input,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    let settings = Settings::of(opts, false, false);
    engine::rollback(&S3::new(clients), input, settings, out).await
}
