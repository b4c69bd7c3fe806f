//! `pin`: register a revision of a service's task definition with every image pinned by digest
//! (everything else as it was); with --deploy, make the service run it. A deployed revision is a
//! new artifact, so only the first environment of promote.toml's order takes one this way. The
//! work goes through the engine (dry run, journal, an `error` record on failure).

use crate::adapter::{EcsPin, Item};
use crate::args::PinArgs;
use crate::{Clients, Options, ServiceRef};
use shared::config::Project;
use shared::engine::{self, Job, Order};
use shared::output::Output;
use shared::{ExitCode, Result};

pub(crate) async fn run(
    args: &PinArgs,
    project: Option<&Project>,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    let env = crate::env_of_cluster(project, &args.cluster);
    let service = ServiceRef::named(&args.service, &args.cluster, env)?;
    // Without --deploy no pointer moves: a failure is about the service's new artifact only.
    let mut target = service.target(None);
    if !args.deploy {
        target.pointer = None;
    }
    let job = Job::new(
        target,
        Ok(Item::Pin {
            service,
            deploy: args.deploy,
        }),
    );
    let adapter = EcsPin::new(clients, opts)
        .waiting(&args.wait)
        .ordered(Order::of(project, args.force));
    engine::promote_one(&adapter, job, opts, out).await
}
