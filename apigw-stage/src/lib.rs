//! apigw-stage: in API Gateway (REST APIs) a deployment is an immutable snapshot of the API and a
//! stage is a named pointer to one, with its own variables. Promoting points the next stage at the
//! deployment the previous stage runs, with one UpdateStage patch, never a new deployment of
//! whatever the API looks like by then.
//!
//! Layout: `args` (the command line), `plan` (patch operations, pure), `calls` (the writes and
//! clients), `adapter` (how the promotion engine moves a stage), one module per subcommand.
//! Across accounts or regions, where a deployment cannot go, `import` carries the source stage's
//! definition into the target API instead, and `definition` (pure) says when two are the same.

mod adapter;
pub mod args;
pub mod calls;
mod canary;
mod definition;
mod deploy;
mod history;
mod import;
pub mod plan;
mod promote;
mod rollback;
mod status;
mod vars;

pub use args::{Cli, Command};
pub use calls::Clients;
use calls::Located;
pub use shared::cli::Options;
use shared::cli::{CommonArgs, Context, Tool};
use shared::config::{Project, Template};
use shared::engine::Target;
use shared::input::Input;
use shared::output::Output;
use shared::record::{ApigatewayArtifact, CanaryArtifact};
use shared::{Action, Error, ExitCode, Record, Result, Service};

impl Tool for Cli {
    const SERVICES: &'static [Service] = &[Service::Apigateway];
    const EXAMPLES: &'static str = "\
  apigw-stage deploy orders --env dev             # a new deployment
  apigw-stage promote --from staging --to prod    # staging's deployment
  apigw-stage history orders --env prod           # what the stage ran
  apigw-stage rollback < promoted.ndjson          # the one it ran before";
    const CHANGES: &'static [&'static str] = &["deploy", "promote", "canary", "rollback"];
    fn common(&self) -> &CommonArgs {
        &self.common
    }

    fn mutates(&self) -> bool {
        matches!(
            self.command,
            Command::Deploy(_) | Command::Promote(_) | Command::Canary(_) | Command::Rollback
        )
    }

    async fn run(self, ctx: &mut Context) -> Result<ExitCode> {
        // A promoting command tells an empty pipe (no work: refused) from no input at all (what
        // the environments hold now); `status` only reads stdin to know what to look at.
        let input = match &self.command {
            Command::Promote(args) => ctx.input(args.api.is_none())?,
            Command::Rollback => ctx.input(true)?,
            Command::Status(args) => ctx.stdin_if(args.api.is_none())?,
            _ => None,
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
        Command::Deploy(args) => deploy::run(&args, project, clients, opts, out).await,
        Command::Promote(args) => promote::run(&args, project, input, clients, opts, out).await,
        Command::Canary(args) => canary::run(&args, project, clients, opts, out).await,
        Command::Vars(args) => vars::run(&args, project, clients, out).await,
        Command::History(args) => history::run(&args, project, clients, out).await,
        Command::Status(args) => status::run(&args, project, input, clients, opts, out).await,
        Command::Rollback => {
            let input = input.ok_or_else(|| {
                Error::usage("rollback reads the records to undo on stdin: apigw-stage rollback < promoted.ndjson")
            })?;
            rollback::run(input, clients, opts, out).await
        }
    }
}

/// One stage of one API: the pointer an `apigateway` record is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StageRef {
    /// The REST API's id (records always carry the id, never the name).
    pub api: String,
    pub stage: String,
    pub env: Option<String>,
    /// The region an ARN named the API in; `None`: the environment's.
    pub region: Option<String>,
}

impl StageRef {
    /// "stage prod of API a1b2c3", for messages.
    pub fn name(&self) -> String {
        format!("stage {} of API {}", self.stage, self.api)
    }

    /// The stage as the engine knows it.
    pub fn target(&self, region: Option<&str>) -> Target {
        Target::new(Service::Apigateway, &self.api, &self.stage)
            .env(self.env.as_deref())
            .region(region)
    }

    /// A record about this stage.
    pub fn record(
        &self,
        action: Action,
        at: &Located,
        artifact: Option<&ApigatewayArtifact>,
        previous: Option<&ApigatewayArtifact>,
    ) -> Record {
        self.target(at.region.as_deref())
            .record(action, artifact, previous)
    }

    /// A dry run's record: what would be done, as `planned`.
    pub fn planned(
        &self,
        would: Action,
        at: &Located,
        artifact: Option<&ApigatewayArtifact>,
        previous: Option<&ApigatewayArtifact>,
    ) -> Record {
        self.target(at.region.as_deref())
            .planned(would, artifact, previous)
    }
}

/// What a stage runs, as an artifact.
pub(crate) fn artifact_of(stage: &shared::apigateway::Stage) -> ApigatewayArtifact {
    ApigatewayArtifact {
        deployment_id: stage.deployment_id.clone(),
        canary: stage.canary.as_ref().map(|c| CanaryArtifact {
            deployment_id: c.deployment_id.clone(),
            percent: c.percent,
        }),
    }
}

/// The stage template: promote.toml's `[apigateway] stage`, else the environment's own name.
pub(crate) fn stage_template(project: Option<&Project>) -> Template {
    project
        .and_then(|p| p.apigateway.as_ref())
        .map_or_else(Template::env_name, |a| a.stage.clone())
}

/// A REST API as a command, promote.toml or a record names it: its id or name, or its ARN
/// (`arn:aws:apigateway:REGION::/restapis/ID`, read by `shared::arn::RestApi`), whose region
/// decides where it is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiName {
    /// The id or name (an ARN's id).
    pub text: String,
    pub region: Option<String>,
}

impl ApiName {
    /// Parse an API as named; a stage's ARN is refused (the environment chooses the stage).
    pub fn parse(text: &str) -> std::result::Result<ApiName, String> {
        let api = shared::arn::RestApi::parse(text).map_err(|e| {
            if shared::arn::ApigwStage::parse(text).is_ok() {
                format!("{e}: give the API alone (--env or --to chooses the stage)")
            } else {
                e
            }
        })?;
        Ok(ApiName {
            text: api.id_or_name,
            region: api.place.region,
        })
    }
}

/// The API a command names: the argument, else promote.toml's `[apigateway] rest_api`.
pub(crate) fn api_named(
    arg: Option<&str>,
    project: Option<&Project>,
    env: &str,
) -> Result<ApiName> {
    let text = match arg {
        Some(api) => api.to_string(),
        None => project
            .and_then(|p| p.apigateway.as_ref())
            .map(|a| a.rest_api.render(env))
            .ok_or_else(|| {
                Error::usage(
                    "name the REST API (its id or name), or set [apigateway] rest_api in promote.toml",
                )
            })?,
    };
    ApiName::parse(&text).map_err(Error::usage)
}

/// Check that `env` is one of promote.toml's environments, when there is a promote.toml.
pub(crate) fn check_env(project: Option<&Project>, env: &str) -> Result<()> {
    match project {
        Some(p) => p.position(env).map(|_| ()),
        None => Ok(()),
    }
}

/// The client of `env` and the id of the API a command names there (looked up once per client
/// in a process). A failed lookup is the item's failure, not the run's: the engine writes it as
/// an `error` record about the API as named.
pub(crate) async fn api_in(
    clients: &Clients<'_>,
    env: &str,
    named: &ApiName,
) -> Result<(Located, Result<String>)> {
    let at = clients.get(Some(env), named.region.as_deref()).await?;
    let id = shared::apigateway::find_api(&at.client, &named.text)
        .await
        .map(|api| api.id);
    Ok((at, id))
}

/// A stage that must exist.
pub(crate) async fn existing_stage(
    at: &Located,
    stage: &StageRef,
) -> Result<shared::apigateway::Stage> {
    shared::apigateway::get_stage(&at.client, &stage.api, &stage.stage)
        .await?
        .ok_or_else(|| {
            Error::precondition(format!("API {} has no stage {}", stage.api, stage.stage))
        })
}
