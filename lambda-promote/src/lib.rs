//! lambda-promote: environments are aliases of one function, artifacts are its published
//! versions. Promoting moves the next environment's alias to the version the previous one holds,
//! checked by code hash, with the alias's RevisionId as compare-and-swap.
//!
//! Layout: `args` (the command line), `plan` (the decisions, pure), `calls` (the Lambda writes
//! and clients), one module per subcommand.

mod adapter;
pub mod args;
pub mod calls;
mod canary;
mod copy;
pub mod function;
mod history;
pub mod plan;
mod promote;
mod publish;
mod rollback;
mod status;

pub use args::{Cli, Command};
use calls::{Clients, Located};
use function::FunctionRef;
use plan::Routing;
pub use shared::cli::Options;
use shared::cli::{CommonArgs, Context, Tool};
use shared::config::{Project, Template};
use shared::engine::Target;
use shared::input::Input;
use shared::output::Output;
use shared::record::LambdaArtifact;
use shared::{Action, Error, ExitCode, Record, Result, Service};

impl Tool for Cli {
    const SERVICES: &'static [Service] = &[Service::Lambda];
    const EXAMPLES: &'static str = "\
  lambda-promote publish orders-api --env dev        # $LATEST as a version
  lambda-promote promote --from staging --to prod    # prod's alias to staging's
  lambda-promote status --env staging > release.ndjson   # a manifest
  lambda-promote promote --to prod < release.ndjson  # exactly the manifest
  lambda-promote promote --to prod --dry-run         # what would move
  lambda-promote history orders-api --env prod       # versions, descriptions, who holds each
  lambda-promote promote --to staging --description git:4f1c2e9  # by build
  lambda-promote canary orders-api --env prod --version 8 --schedule Canary10Percent5Minutes
  lambda-promote rollback < promoted.ndjson          # undo what was printed";
    const CHANGES: &'static [&'static str] = &["publish", "promote", "canary", "rollback"];
    fn common(&self) -> &CommonArgs {
        &self.common
    }

    fn mutates(&self) -> bool {
        !matches!(self.command, Command::Status(_) | Command::History(_))
    }

    async fn run(self, ctx: &mut Context) -> Result<ExitCode> {
        let input = match &self.command {
            Command::Status(_) => ctx.stdin_if(self.command.reads_stdin())?,
            _ => ctx.input(self.command.reads_stdin())?,
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

impl Command {
    /// Whether the command takes records on stdin: when it names no function (rollback always).
    #[must_use]
    pub fn reads_stdin(&self) -> bool {
        match self {
            Command::Promote(args) => args.functions.is_empty(),
            Command::Status(args) => args.functions.is_empty(),
            Command::Rollback => true,
            Command::Publish(_) | Command::Canary(_) | Command::History(_) => false,
        }
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
        Command::Publish(args) => publish::run(args, project, clients, opts, out).await,
        Command::Promote(args) => promote::run(args, project, input, clients, opts, out).await,
        Command::Canary(args) => canary::run(args, project, clients, opts, out).await,
        Command::Rollback => {
            let input = input.ok_or_else(|| {
                Error::usage("rollback reads the records to undo on stdin: lambda-promote rollback < promoted.ndjson")
            })?;
            rollback::run(input, clients, opts, out).await
        }
        Command::Status(args) => status::run(args, project, input, clients, opts, out).await,
        Command::History(args) => history::run(args, project, clients, out).await,
    }
}

/// One alias of one function: the pointer a record is about.
#[derive(Debug, Clone)]
pub(crate) struct Pointer {
    pub function: FunctionRef,
    pub alias: String,
    pub env: Option<String>,
}

impl Pointer {
    /// "orders-api alias prod", for messages.
    pub fn name(&self) -> String {
        format!("{} alias {}", self.function, self.alias)
    }

    /// The pointer as the engine knows it.
    pub fn target(&self, region: Option<&str>) -> Target {
        Target::new(Service::Lambda, &self.function.name, &self.alias)
            .env(self.env.as_deref())
            .region(region)
    }

    /// A record about this pointer.
    pub fn record(
        &self,
        action: Action,
        at: &Located,
        artifact: Option<&LambdaArtifact>,
        previous: Option<&LambdaArtifact>,
    ) -> Record {
        self.target(at.region.as_deref())
            .record(action, artifact, previous)
    }

    /// A dry run's record: what would be done, as `planned`.
    pub fn planned(
        &self,
        would: Action,
        at: &Located,
        artifact: Option<&LambdaArtifact>,
        previous: Option<&LambdaArtifact>,
    ) -> Record {
        self.target(at.region.as_deref())
            .planned(would, artifact, previous)
    }
}

/// The alias template: promote.toml's `[lambda] alias`, else the environment's own name.
pub(crate) fn alias_template(project: Option<&Project>) -> Template {
    project
        .and_then(|p| p.lambda.as_ref())
        .map(|l| l.alias.clone())
        .unwrap_or_else(Template::env_name)
}

/// The code hash of a version that must exist (it is what an alias points at).
pub(crate) async fn existing_code_sha256(
    at: &Located,
    function: &str,
    version: &str,
) -> Result<String> {
    shared::lambda::code_sha256(&at.client.lambda, function, version)
        .await?
        .ok_or_else(|| {
            Error::precondition(format!(
                "{function} has no version {version} (it was deleted, or the function does not exist)"
            ))
        })
}

/// What an alias holds, as an artifact: reads the code hash of its version, reusing `known`
/// when it is the same version.
pub(crate) async fn artifact_of(
    at: &Located,
    function: &str,
    alias: &shared::lambda::Alias,
    known: Option<&LambdaArtifact>,
) -> Result<LambdaArtifact> {
    let sha = match known {
        Some(k) if k.version == alias.version => k.code_sha256.clone(),
        _ => existing_code_sha256(at, function, &alias.version).await?,
    };
    Ok(alias.artifact(sha))
}

pub(crate) fn routing_of(alias: &shared::lambda::Alias) -> Routing {
    Routing {
        version: alias.version.clone(),
        weights: alias.weights.clone(),
    }
}
