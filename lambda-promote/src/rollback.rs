//! `rollback`: undo what records on stdin say was done to Lambda aliases. A pointer is moved back
//! only where it still holds what the record says it was moved to; records of other services pass
//! through, so one pipeline can roll a whole release back. The engine reads the records and runs
//! the undos; the adapter reads each alias and decides (`plan::rollback`).

use crate::adapter::Lambda;
use crate::calls::Clients;
use crate::Options;
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
    let adapter = Lambda {
        clients,
        expect: None,
        chain: None,
        version_env: None,
        dry_run: opts.dry_run,
        shared_registry: None,
        copy_bucket: None,
    };
    let settings = Settings::of(opts, false, false);
    engine::rollback(&adapter, input, settings, out).await
}
