//! The command line of sfn-promote. Shapes and checks of arguments only: nothing here talks to
//! AWS, so every usage error is found before the first call.

use clap::{Args, Parser, Subcommand};
use shared::cli::{parse_env, CommonArgs};

/// Promote Step Functions versions between environments by moving aliases.
///
/// Each environment is an alias (by default named after it) of one state machine; a published
/// version is the immutable artifact, proven by the hash of its definition. Records go to stdout
/// as NDJSON (see docs/records.md); records of other services on stdin pass through.
#[derive(Debug, Parser)]
#[command(name = "sfn-promote", version, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Publish the state machine's current definition as a new version; with --env, point that
    /// environment's alias at it.
    Publish(PublishArgs),
    /// Point an environment's alias at the version the previous environment holds (or
    /// --version).
    Promote(PromoteArgs),
    /// Send part of an alias's traffic to another version, or shift it all by a schedule;
    /// --finish or --abort ends the canary.
    Canary(CanaryArgs),
    /// Undo the changes described by records on stdin, where the alias has not moved since.
    Rollback,
    /// One `resolved` record per alias: its version, definition hash and canary weight.
    Status(StatusArgs),
    /// The state machine's versions, newest first: description, date, definition hash, the
    /// aliases that hold each.
    History(HistoryArgs),
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// State machine name or ARN.
    #[arg(value_name = "STATE_MACHINE", value_parser = parse_publish_machine)]
    pub state_machine: String,
    /// Also point this environment's alias at the new version (creating the alias if needed).
    /// Only the first environment of promote.toml's order takes a new version.
    #[arg(long, value_name = "ENV", value_parser = parse_env)]
    pub env: Option<String>,
    /// Point an environment other than the first at the new version all the same.
    #[arg(long, requires = "env")]
    pub force: bool,
    /// The new version's description (a git commit, a build id). At most 256 characters.
    #[arg(long, value_name = "TEXT", value_parser = parse_description)]
    pub description: Option<String>,
}

/// Step Functions' limit on a version's description.
fn parse_description(s: &str) -> Result<String, String> {
    if s.chars().count() <= 256 {
        Ok(s.to_string())
    } else {
        Err(format!(
            "is {} characters: Step Functions keeps at most 256",
            s.chars().count()
        ))
    }
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// State machines to promote (names or ARNs). Default: the `stepfunctions` records on
    /// stdin, else promote.toml's [stepfunctions] state_machines.
    #[arg(value_name = "STATE_MACHINE", value_parser = parse_promote_machine)]
    pub state_machines: Vec<String>,
    /// The environment whose alias moves.
    #[arg(long, value_name = "ENV", value_parser = parse_env)]
    pub to: String,
    /// The environment whose alias's version is promoted (default: the one before --to in
    /// promote.toml's order).
    #[arg(long, value_name = "ENV", value_parser = parse_env, conflicts_with = "version")]
    pub from: Option<String>,
    /// Promote this version instead of what --from holds (checked against what the
    /// environment before --to holds, unless --force).
    #[arg(long, value_name = "N", value_parser = parse_version)]
    pub version: Option<String>,
    /// Refuse (exit 4) unless the --to alias holds this version now.
    #[arg(long, value_name = "VERSION", value_parser = parse_version)]
    pub expect: Option<String>,
    /// Promote a version, or records from an environment, that the promotion order would refuse.
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
    /// `--canary SCHEDULE` (or --steps): shift the executions of every alias of the release to
    /// its version step by step, together, watching the alarms; an alarm, a failed hook or
    /// Ctrl-C takes all of them back.
    #[command(flatten)]
    pub shift: shared::progressive::ShiftArgs,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("step").required(true).args(["version", "finish", "abort", "status"])))]
#[command(group(clap::ArgGroup::new("how").args(["weight", "schedule", "steps"])))]
pub struct CanaryArgs {
    /// State machine name or ARN.
    #[arg(value_name = "STATE_MACHINE", value_parser = parse_canary_machine)]
    pub state_machine: String,
    /// The environment whose alias carries the canary.
    #[arg(long, value_name = "ENV", value_parser = parse_env)]
    pub env: String,
    /// The version to send part of the traffic to.
    #[arg(long, value_name = "N", value_parser = parse_version, requires = "how")]
    pub version: Option<String>,
    /// Percent of the executions for the canary version (a whole number, 1 to 99), set once.
    #[arg(long, value_name = "PCT", value_parser = parse_weight, requires = "version")]
    pub weight: Option<f64>,
    /// Move the alias to the canary version and clear the weights.
    #[arg(long, conflicts_with_all = ["version", "abort"])]
    pub finish: bool,
    /// Clear the weights: all executions back to the alias's version.
    #[arg(long, conflicts_with_all = ["version", "finish"])]
    pub abort: bool,
    /// Where the alias's canary stands: its record (the weights), and how to go on. Changes
    /// nothing.
    #[arg(long, conflicts_with_all = ["version", "finish", "abort"])]
    pub status: bool,
    /// Refuse (exit 4) unless the alias's main version is this one now.
    #[arg(long, value_name = "VERSION", value_parser = parse_version)]
    pub expect: Option<String>,
    /// Send traffic to (or finish on) a version the environment before does not hold.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub shift: shared::progressive::ShiftArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// State machines to show (names or ARNs). Default: the `stepfunctions` records on stdin,
    /// else promote.toml's [stepfunctions] state_machines.
    #[arg(value_name = "STATE_MACHINE", value_parser = parse_status_machine)]
    pub state_machines: Vec<String>,
    /// Only this environment's alias (default: every alias of each state machine).
    #[arg(long, value_name = "ENV", value_parser = parse_env)]
    pub env: Option<String>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// State machine name or ARN.
    #[arg(value_name = "STATE_MACHINE", value_parser = parse_history_machine)]
    pub state_machine: String,
    /// Read with this environment's credentials (its account and region), and mark with
    /// `current` the version its alias holds.
    #[arg(long, value_name = "ENV", value_parser = parse_env)]
    pub env: Option<String>,
}

/// A published version: a positive whole number (the last part of the version's ARN).
fn parse_version(s: &str) -> Result<String, String> {
    if !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_digit())
        && s.parse::<u64>().is_ok_and(|n| n > 0)
    {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?} is not a published version number (a whole number from 1)"
        ))
    }
}

/// Step Functions splits an alias's executions by whole percentages.
fn parse_weight(s: &str) -> Result<f64, String> {
    match s.trim_end_matches('%').parse::<u8>() {
        Ok(w) if (1..100).contains(&w) => Ok(f64::from(w)),
        _ => Err(format!(
            "{s:?} is not a whole percentage from 1 to 99 (Step Functions splits by whole percents)"
        )),
    }
}

/// What chooses the alias or version, where a STATE_MACHINE argument carries a qualifier.
pub(crate) const PUBLISH_HINT: &str =
    "publish makes a version of the current definition; --env chooses the alias";
pub(crate) const PROMOTE_HINT: &str = "--to chooses the alias, --version N the version";
pub(crate) const CANARY_HINT: &str = "--env chooses the alias, --version N the canary's version";
pub(crate) const STATUS_HINT: &str = "--env chooses the alias";
pub(crate) const HISTORY_HINT: &str = "history lists every version; --env marks the alias's";

fn machine(s: &str, hint: &str) -> Result<String, String> {
    crate::machine::MachineRef::parse(s, hint).map(|_| s.to_string())
}

fn parse_publish_machine(s: &str) -> Result<String, String> {
    machine(s, PUBLISH_HINT)
}

fn parse_promote_machine(s: &str) -> Result<String, String> {
    machine(s, PROMOTE_HINT)
}

fn parse_canary_machine(s: &str) -> Result<String, String> {
    machine(s, CANARY_HINT)
}

fn parse_status_machine(s: &str) -> Result<String, String> {
    machine(s, STATUS_HINT)
}

fn parse_history_machine(s: &str) -> Result<String, String> {
    machine(s, HISTORY_HINT)
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
    fn weights_are_whole_percentages() {
        assert_eq!(parse_weight("10"), Ok(10.0));
        assert_eq!(parse_weight("10%"), Ok(10.0));
        assert!(parse_weight("12.5").is_err());
        assert!(parse_weight("0").is_err());
        assert!(parse_weight("100").is_err());
        assert!(parse_version("0").is_err());
        assert_eq!(parse_version("3"), Ok("3".into()));
    }

    #[test]
    fn canary_needs_exactly_one_step() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(
                ["sfn-promote", "canary", "flow", "--env", "prod"]
                    .iter()
                    .chain(args),
            )
        };
        assert!(parse(&["--version", "3", "--weight", "10"]).is_ok());
        assert!(parse(&["--version", "3", "--schedule", "Canary10Percent5Minutes"]).is_ok());
        assert!(parse(&["--finish"]).is_ok());
        assert!(parse(&[]).is_err());
        assert!(parse(&["--version", "3"]).is_err());
    }
}
