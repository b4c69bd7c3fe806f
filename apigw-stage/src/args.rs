//! The command line of apigw-stage. Shapes and checks of arguments only.

use clap::{Args, Parser, Subcommand};
use shared::cli::{parse_env, CommonArgs};

/// Promote API Gateway deployments from stage to stage.
///
/// A deployment is an immutable snapshot of a REST API (the artifact); a stage is a named pointer
/// to one, with its own variables. Records go to stdout as NDJSON (see docs/records.md); records
/// of other services on stdin pass through.
#[derive(Debug, Parser)]
#[command(name = "apigw-stage", version, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Deploy the API as it is now (the build) and point ENV's stage at the new deployment.
    Deploy(DeployArgs),
    /// Point --to's stage at the deployment --from's stage runs; its variables stay its own.
    Promote(PromoteArgs),
    /// Put a canary on a stage (or shift it by a schedule), --finish it, or --abort it.
    Canary(CanaryArgs),
    /// The stage's variables as a `config` record (secret-looking values fingerprinted).
    Vars(EnvArgs),
    /// The API's deployments, newest first, each with the stages that run it.
    History(HistoryArgs),
    /// One `resolved` record per stage: the deployment it runs and its canary.
    Status(StatusArgs),
    /// Undo the changes described by records on stdin, where the stage has not moved since.
    Rollback,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// REST API id or name (default: promote.toml's [apigateway] rest_api).
    #[arg(value_name = "API")]
    pub api: Option<String>,
    /// The environment whose stage takes the new deployment (created if needed). Only the
    /// first environment of promote.toml's order takes a new deployment.
    #[arg(long, value_name = "ENV", value_parser = parse_env)]
    pub env: String,
    /// The deployment's description.
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
    /// Deploy into an environment other than the first all the same.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// REST API id or name. Default: the `apigateway` records on stdin, else promote.toml's.
    #[arg(value_name = "API")]
    pub api: Option<String>,
    /// The environment whose stage moves.
    #[arg(long, value_name = "ENV", value_parser = parse_env)]
    pub to: String,
    /// The environment whose stage's deployment is promoted (default: the one before --to).
    #[arg(long, value_name = "ENV", value_parser = parse_env)]
    pub from: Option<String>,
    /// Refuse (exit 4) unless --to's stage runs this deployment now.
    #[arg(long, value_name = "DEPLOYMENT_ID")]
    pub expect: Option<String>,
    /// Promote from an environment, or records from one, that the promotion order would refuse.
    #[arg(long)]
    pub force: bool,
    /// When `error` records come in (a tool before this one failed), promote the other records
    /// instead of refusing the whole run.
    #[arg(long)]
    pub skip_failed: bool,
    /// All or nothing: if any promotion of this run fails (or the run is interrupted), the ones
    /// already made are rolled back, and their `rolled_back` records follow. The exit code
    /// still says the run failed.
    #[arg(long)]
    pub atomic: bool,
    /// `--canary SCHEDULE` (or --steps): shift the stage's traffic to the deployment step by
    /// step, watching the alarms, instead of all at once.
    #[command(flatten)]
    pub shift: shared::progressive::ShiftArgs,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("step").required(true).args(["deployment", "finish", "abort", "status"])))]
#[command(group(clap::ArgGroup::new("how").args(["weight", "schedule", "steps"])))]
pub struct CanaryArgs {
    /// REST API id or name (default: promote.toml's).
    #[arg(value_name = "API")]
    pub api: Option<String>,
    /// The environment whose stage carries the canary.
    #[arg(long, value_name = "ENV", value_parser = parse_env)]
    pub env: String,
    /// The deployment the canary sends traffic to: with promote.toml's order, the one the
    /// environment before runs.
    #[arg(long, value_name = "ID", requires = "how")]
    pub deployment: Option<String>,
    /// Percent of the stage's traffic for the canary (0 < PCT < 100). `--percent` is the old
    /// spelling, still accepted.
    #[arg(long, alias = "percent", value_name = "PCT", value_parser = parse_percent,
          requires = "deployment")]
    pub weight: Option<f64>,
    /// Make the canary's deployment the stage's deployment and remove the canary, in one update.
    /// `--promote` is the old spelling, still accepted.
    #[arg(long, alias = "promote", conflicts_with_all = ["deployment", "abort"])]
    pub finish: bool,
    /// Remove the canary; the stage keeps its deployment.
    #[arg(long, conflicts_with_all = ["deployment", "finish"])]
    pub abort: bool,
    /// Where the stage's canary stands: its record, and how to go on. Changes nothing.
    #[arg(long, conflicts_with_all = ["deployment", "finish", "abort"])]
    pub status: bool,
    /// Send traffic to (or --finish on) a deployment the environment before does not run.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub shift: shared::progressive::ShiftArgs,
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    /// REST API id or name (default: promote.toml's).
    #[arg(value_name = "API")]
    pub api: Option<String>,
    /// The environment whose stage is shown.
    #[arg(long, value_name = "ENV", value_parser = parse_env)]
    pub env: String,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// REST API id or name (default: promote.toml's).
    #[arg(value_name = "API")]
    pub api: Option<String>,
    /// Mark the deployment this environment's stage runs.
    #[arg(long, value_name = "ENV", value_parser = parse_env)]
    pub env: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// REST API id or name. Default: the `apigateway` records on stdin, else promote.toml's.
    #[arg(value_name = "API")]
    pub api: Option<String>,
    /// Only this environment's stage (default: every stage).
    #[arg(long, value_name = "ENV", value_parser = parse_env)]
    pub env: Option<String>,
}

fn parse_percent(s: &str) -> Result<f64, String> {
    match s.trim_end_matches('%').parse::<f64>() {
        Ok(p) if p > 0.0 && p < 100.0 => Ok(p),
        _ => Err(format!(
            "{s:?} is not a percentage between 0 and 100 (exclusive)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn canary_takes_exactly_one_step() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(
                ["apigw-stage", "canary", "api", "--env", "prod"]
                    .iter()
                    .chain(args),
            )
        };
        assert!(parse(&["--deployment", "d1", "--weight", "10"]).is_ok());
        assert!(parse(&["--finish"]).is_ok());
        assert!(parse(&["--abort"]).is_ok());
        assert!(parse(&[]).is_err());
        assert!(parse(&["--deployment", "d1"]).is_err());
        assert!(parse(&["--deployment", "d1", "--weight", "100"]).is_err());
        assert!(parse(&["--finish", "--abort"]).is_err());
    }

    /// The spellings before the tools shared one canary vocabulary still work (scripts use
    /// them), and mean the same: `--percent` is `--weight`, `--promote` is `--finish`.
    #[test]
    fn the_old_canary_spellings_still_work() {
        let canary = |args: &[&str]| match Cli::try_parse_from(
            ["apigw-stage", "canary", "api", "--env", "prod"]
                .iter()
                .chain(args),
        )
        .unwrap()
        .command
        {
            Command::Canary(c) => c,
            other => panic!("{other:?}"),
        };
        let old = canary(&["--deployment", "d1", "--percent", "10"]);
        assert_eq!(old.weight, Some(10.0));
        assert!(canary(&["--promote"]).finish);
        let help = Cli::command()
            .find_subcommand_mut("canary")
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(help.contains("--weight") && help.contains("--finish"));
        assert!(!help.contains("  --percent") && !help.contains("  --promote"));
    }
}
