//! `rollback`: undo what records on stdin say was done to stages, only where the stage still runs
//! exactly what the record says (deployment and canary). Other services pass through. The engine
//! reads the records and runs the undos; the adapter reads each stage and decides
//! (`plan::rollback`).

use crate::adapter::Apigateway;
use crate::{Clients, Options};
use shared::engine::{self, Order, Settings};
use shared::input::Input;
use shared::output::Output;
use shared::{ExitCode, Result};

pub(crate) async fn run(
    input: &Input,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    let adapter = Apigateway {
        clients,
        expect: None,
        // Rollback is exempt from the order: it restores what a stage ran, wherever that came from.
        order: Order::new(&[], false),
        dry_run: opts.dry_run,
    };
    let settings = Settings::of(opts, false, false);
    engine::rollback(&adapter, input, settings, out).await
}
