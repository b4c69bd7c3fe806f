//! The command line of s3-version. Shapes and checks of arguments only.

use clap::{Args, Parser, Subcommand};
use shared::cli::CommonArgs;

/// Promote exact S3 object versions between environments.
///
/// In a versioned bucket an object version is the immutable artifact and a key is the pointer.
/// Records go to stdout as NDJSON (see docs/records.md); records of other services on stdin pass
/// through.
#[derive(Debug, Parser)]
#[command(name = "s3-version", version, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// A `resolved` record of a key's current version (or of --version-id).
    Resolve(ResolveArgs),
    /// Copy exactly one version of SRC onto DST, server-side, and check the bytes arrived.
    Promote(PromoteArgs),
    /// The versions of exactly one key, newest first, delete markers included.
    History(HistoryArgs),
    /// Make each key in the records on stdin hold its previous version again (nothing is deleted).
    Rollback,
    /// A bucket's versioning and object lock: whether promotion into it keeps old versions.
    Check(CheckArgs),
    /// One `resolved` record per object of promote.toml's [s3] for --env (or per LOCATION).
    Status(StatusArgs),
}

#[derive(Debug, Args)]
pub struct ResolveArgs {
    /// s3://BUCKET/KEY
    #[arg(value_name = "LOCATION", value_parser = parse_location)]
    pub location: String,
    /// This version instead of the current one.
    #[arg(long, value_name = "V")]
    pub version_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The source, s3://BUCKET/KEY. Without it: the `s3` records on stdin, else promote.toml's
    /// [s3] objects of --from.
    #[arg(value_name = "SRC", value_parser = parse_location)]
    pub src: Option<String>,
    /// The destination: s3://BUCKET/KEY, or an environment of promote.toml.
    #[arg(long, value_name = "DST|ENV")]
    pub to: String,
    /// The environment whose objects are promoted (default: the one before --to).
    #[arg(long, value_name = "ENV")]
    pub from: Option<String>,
    /// Promote this version of SRC instead of its current one.
    #[arg(long, value_name = "V")]
    pub version_id: Option<String>,
    /// Refuse (exit 4) unless DST's current version is VERSION_ID.
    #[arg(long, value_name = "VERSION_ID")]
    pub expect: Option<String>,
    /// Copy into a bucket without versioning (its old content is then lost).
    #[arg(long)]
    pub allow_unversioned: bool,
    /// Promote records from an environment, or --from one, that the promotion order would refuse.
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
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// s3://BUCKET/KEY
    #[arg(value_name = "LOCATION", value_parser = parse_location)]
    pub location: String,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// s3://BUCKET
    #[arg(value_name = "BUCKET", value_parser = parse_bucket)]
    pub bucket: String,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// s3://BUCKET/KEY locations (default: promote.toml's [s3] objects for --env).
    #[arg(value_name = "LOCATION", value_parser = parse_location)]
    pub locations: Vec<String>,
    /// The environment.
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,
}

fn parse_location(s: &str) -> Result<String, String> {
    crate::location::Location::parse(s).map(|_| s.to_string())
}

fn parse_bucket(s: &str) -> Result<String, String> {
    crate::location::parse_bucket(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
