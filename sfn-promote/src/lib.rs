//! sfn-promote: environments are aliases of one state machine, artifacts are its published
//! versions. Promoting moves the next environment's alias to the version the previous one holds,
//! checked by the hash of its definition; across accounts and regions the definition is copied
//! and published there, proven by the same hash.
//!
//! It is the promotion engine's adapter for Step Functions, as lambda-promote is for Lambda: the
//! engine (`shared::engine`) keeps the promise (the chain, the two phases, records, dry runs,
//! `--atomic`, rollback), the weighted alias's decisions are `shared::routing` (Lambda's too),
//! a traffic shift is `shared::progressive`. Layout: `args` (the command line), `machine` (names
//! and ARNs), `calls` (the writes and clients), `adapter` (read, decide, write), one module per
//! subcommand.

mod adapter;
pub mod args;
pub mod calls;
mod canary;
mod history;
pub mod machine;
mod promote;
mod publish;
mod status;

pub use args::{Cli, Command};
use calls::{Clients, Located};
use machine::MachineRef;
pub use shared::cli::Options;
use shared::cli::{CommonArgs, Context, Tool};
use shared::config::{Project, Template};
use shared::engine::{self, Settings, Target};
use shared::input::Input;
use shared::output::Output;
use shared::record::SfnArtifact;
use shared::{Action, Error, ExitCode, Record, Result, Service};

impl Tool for Cli {
    const SERVICES: &'static [Service] = &[Service::Stepfunctions];
    const EXAMPLES: &'static str = "\
  sfn-promote publish orders-flow --env dev          # the current definition as a version
  sfn-promote promote --from staging --to prod       # prod's alias to staging's version
  sfn-promote status --env staging > release.ndjson  # a manifest
  sfn-promote promote --to prod < release.ndjson     # exactly the manifest
  sfn-promote promote --to prod --dry-run            # what would move
  sfn-promote history orders-flow --env prod         # versions, descriptions, who holds each
  sfn-promote canary orders-flow --env prod --version 8 --steps 10,50 --alarm 'orders-{env}-*'
  sfn-promote rollback < promoted.ndjson             # undo what was printed";
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
    /// Whether the command takes records on stdin: when it names no state machine (rollback
    /// always).
    #[must_use]
    pub fn reads_stdin(&self) -> bool {
        match self {
            Command::Promote(args) => args.state_machines.is_empty(),
            Command::Status(args) => args.state_machines.is_empty(),
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
                Error::usage(
                    "rollback reads the records to undo on stdin: sfn-promote rollback < promoted.ndjson",
                )
            })?;
            let adapter = adapter::Sfn::plain(clients);
            engine::rollback(&adapter, input, Settings::of(opts, false, false), out).await
        }
        Command::Status(args) => status::run(args, project, input, clients, opts, out).await,
        Command::History(args) => history::run(args, project, clients, out).await,
    }
}

/// The alias template: promote.toml's `[stepfunctions] alias`, else the environment's own name.
pub(crate) fn alias_template(project: Option<&Project>) -> Template {
    project
        .and_then(|p| p.stepfunctions.as_ref())
        .map(|s| s.alias.clone())
        .unwrap_or_else(Template::env_name)
}

/// promote.toml's `[stepfunctions] state_machines`.
pub(crate) fn machine_templates(project: Option<&Project>) -> Vec<Template> {
    project
        .and_then(|p| p.stepfunctions.as_ref())
        .map(|s| s.state_machines.clone())
        .unwrap_or_default()
}

/// One alias of one state machine: the pointer a record is about.
#[derive(Debug, Clone)]
pub(crate) struct Pointer {
    pub machine: MachineRef,
    pub alias: String,
    pub env: Option<String>,
}

impl Pointer {
    /// "orders-flow alias prod", for messages.
    pub fn name(&self) -> String {
        format!("{} alias {}", self.machine, self.alias)
    }

    /// The pointer as the engine knows it.
    pub fn target(&self, region: Option<&str>) -> Target {
        Target::new(Service::Stepfunctions, &self.machine.name, &self.alias)
            .env(self.env.as_deref())
            .region(region)
    }

    /// A record about this pointer.
    pub fn record(
        &self,
        action: Action,
        at: &Located,
        artifact: Option<&SfnArtifact>,
        previous: Option<&SfnArtifact>,
    ) -> Record {
        let mut record = self
            .target(at.region.as_deref())
            .record(action, artifact, previous);
        record.account = at.account.clone().or(record.account);
        record
    }

    /// A dry run's record: what would be done, as `planned`.
    pub fn planned(
        &self,
        would: Action,
        at: &Located,
        artifact: Option<&SfnArtifact>,
        previous: Option<&SfnArtifact>,
    ) -> Record {
        self.record(would, at, artifact, previous)
            .into_planned(would)
    }
}

/// What an alias holds, as an artifact: reads the definition hash of its version, reusing
/// `known` when it is the same version.
pub(crate) async fn artifact_of(
    at: &Located,
    machine_arn: &str,
    alias: &shared::sfn::Alias,
    known: Option<&SfnArtifact>,
) -> Result<SfnArtifact> {
    let sha = match known {
        Some(k) if k.version == alias.routing.version => k.definition_sha256.clone(),
        _ => {
            shared::sfn::existing_sha256(&at.client.sfn, machine_arn, &alias.routing.version)
                .await?
        }
    };
    Ok(alias.artifact(machine_arn, sha))
}

/// Where a record's artifact was read, for messages: "account 1111 in eu-west-1".
pub(crate) fn place(at: &Located) -> String {
    match (&at.account, &at.region) {
        (Some(account), Some(region)) => format!("account {account} in {region}"),
        (None, Some(region)) => region.clone(),
        (Some(account), None) => format!("account {account}"),
        (None, None) => "this account and region".into(),
    }
}
