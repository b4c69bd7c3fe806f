//! `rollback`: undo what records on stdin say was done to ECS services and ECR tags, only where
//! the pointer still holds what the record says it was moved to. Other services pass through, so
//! one pipeline can roll a whole release back. The engine reads the records and runs the undos;
//! the adapter reads each service or tag and decides (`plan::rollback`, `plan::rollback_tag`).

use crate::adapter::EcsPin;
use crate::args::RollbackArgs;
use crate::{Clients, Options};
use shared::engine::{self, Settings};
use shared::input::Input;
use shared::output::Output;
use shared::{ExitCode, Result};

pub(crate) async fn run(
    args: &RollbackArgs,
    input: &Input,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    let adapter = EcsPin::new(clients, opts).waiting(&args.wait);
    let settings = Settings::of(opts, false, false);
    engine::rollback(&adapter, input, settings, out).await
}
