//! s3-version: in a versioned bucket every write keeps the old object as a version. An approved
//! artifact is one version id; promoting it makes the next environment's key hold exactly those
//! bytes (a server-side copy, checked afterwards), and the old content stays a version, so
//! nothing is ever lost and rollback copies the old version back on top.
//!
//! Layout: `args` (the command line), `location` (s3:// parsing), `plan` (the decisions, pure),
//! `calls` (the S3 calls and clients), `adapter` (S3 for the shared promotion engine), one module
//! per subcommand.

mod adapter;
pub mod args;
pub mod calls;
mod check;
mod history;
pub mod location;
pub mod plan;
mod promote;
mod resolve;
mod rollback;
mod status;

pub use args::{Cli, Command};
pub use calls::Clients;
use calls::Located;
use location::Location;
pub use shared::cli::Options;
use shared::cli::{CommonArgs, Context, Tool};
use shared::config::Project;
use shared::engine::Target;
use shared::input::Input;
use shared::output::Output;
use shared::record::S3Artifact;
use shared::{Action, Error, ExitCode, Record, Result, Service};

impl Tool for Cli {
    const SERVICES: &'static [Service] = &[Service::S3];
    const EXAMPLES: &'static str = "\
  s3-version status --env staging                 # staging's versions
  s3-version promote --from staging --to prod     # the same bytes in prod
  s3-version history s3://site-prod/index.html    # every version of a key
  s3-version rollback < promoted.ndjson           # the versions before";
    const CHANGES: &'static [&'static str] = &["promote", "rollback"];
    fn common(&self) -> &CommonArgs {
        &self.common
    }

    fn mutates(&self) -> bool {
        matches!(self.command, Command::Promote(_) | Command::Rollback)
    }

    async fn run(self, ctx: &mut Context) -> Result<ExitCode> {
        let reads_stdin = match &self.command {
            Command::Promote(args) => args.src.is_none(),
            Command::Status(args) => args.locations.is_empty() && args.env.is_none(),
            Command::Rollback => true,
            _ => false,
        };
        // A promotion or a rollback tells an empty pipe from no input; status needs no such care.
        let input = match &self.command {
            Command::Status(_) => ctx.stdin_if(reads_stdin)?,
            _ => ctx.input(reads_stdin)?,
        };
        let clients = calls::clients(&ctx.aws);
        let opts = ctx.opts;
        execute(
            self.command,
            ctx.project.as_ref(),
            input.as_ref(),
            &clients,
            opts,
            &mut ctx.out,
        )
        .await
    }
}

/// Run one subcommand: the whole tool without its process (the entry point, and tests that give
/// it SDK-level mock clients).
pub async fn execute(
    command: Command,
    project: Option<&Project>,
    input: Option<&Input>,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    match command {
        Command::Resolve(args) => resolve::run(&args, clients, out).await,
        Command::Promote(args) => promote::run(&args, project, input, clients, opts, out).await,
        Command::History(args) => history::run(&args, clients, out).await,
        Command::Rollback => {
            let input = input.ok_or_else(|| {
                Error::usage("rollback reads the records to undo on stdin: s3-version rollback < promoted.ndjson")
            })?;
            rollback::run(input, clients, opts, out).await
        }
        Command::Check(args) => check::run(&args, clients, out).await,
        Command::Status(args) => status::run(&args, project, input, clients, opts, out).await,
    }
}

/// One key of one environment: the pointer a record is about.
#[derive(Debug, Clone)]
pub(crate) struct Pointer {
    pub location: Location,
    pub env: Option<String>,
}

impl Pointer {
    /// The pointer as the engine knows it.
    pub fn target(&self, region: Option<&str>) -> Target {
        Target::new(Service::S3, self.location.resource(), &self.location.key)
            .env(self.env.as_deref())
            .region(region)
    }
}

/// A record about a key.
pub(crate) fn record(
    action: Action,
    location: &Location,
    env: Option<&str>,
    at: &Located,
    artifact: Option<&S3Artifact>,
    previous: Option<&S3Artifact>,
) -> Record {
    let pointer = Pointer {
        location: location.clone(),
        env: env.map(str::to_string),
    };
    pointer
        .target(at.region.as_deref())
        .record(action, artifact, previous)
}

/// A record about `resource` that is not a pointer's state (a listing, a bucket's settings): it
/// names no pointer, so no tool takes it for one.
pub(crate) fn unpointed(resource: &str, at: &Located) -> Target {
    Target {
        pointer: None,
        ..Target::new(Service::S3, resource, "").region(at.region.as_deref())
    }
}

/// Parse a location argument (already checked by clap) into a usage error if it is not one.
pub(crate) fn location(text: &str) -> Result<Location> {
    Location::parse(text).map_err(Error::usage)
}
