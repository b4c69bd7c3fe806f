//! The command line of ecs-pin. Shapes and checks of arguments only.

use clap::{Args, Parser, Subcommand};
use shared::cli::{parse_env, CommonArgs};
use std::time::Duration;

/// Pin ECS services to image digests and promote what one environment runs to the next.
///
/// An image digest is the immutable artifact; a tag, or the task definition a service runs, is
/// the pointer. Records go to stdout as NDJSON (see docs/records.md); records of other services
/// on stdin pass through.
#[derive(Debug, Parser)]
#[command(
    name = "ecs-pin",
    version,
    max_term_width = 100,
    // With nothing at all, the help, as the other tools (exit 2).
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Print a `resolved` record of what the service runs: its task definition and every image
    /// pinned by digest. Changes nothing. (The same as `ecs-pin status` without deployments.)
    #[arg(long)]
    pub resolve_digest: bool,
    #[command(flatten)]
    pub services: ServiceArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// One `resolved` record per image: its repository, tag and digest.
    Resolve(ResolveArgs),
    /// Make TAG point at IMAGE's digest in its repository, without pulling or pushing layers.
    Tag(TagArgs),
    /// Register a revision of the service's task definition with every image pinned by digest.
    Pin(PinArgs),
    /// Run the image digests of --from's service in --to's service, with --to's own configuration.
    Promote(PromoteArgs),
    /// Undo the changes described by records on stdin, where the pointer has not moved since.
    Rollback(RollbackArgs),
    /// What each service runs: task definition, images by digest, deployments' rollout state.
    Status(ServiceArgs),
    /// The revisions of each service's task definition family, newest first: when registered,
    /// the images, which environments run each.
    History(HistoryArgs),
    /// A `resolved` record of what each service runs, every image pinned by digest (the same as
    /// the top-level `--resolve-digest`): a release manifest for `promote` and `cfg-diff`.
    ResolveDigest(ServiceArgs),
}

/// Which services: --cluster and --service, else promote.toml's [ecs] for --env.
#[derive(Debug, Clone, Default, Args)]
pub struct ServiceArgs {
    /// The environment (its cluster and services come from promote.toml's [ecs]).
    #[arg(long, value_name = "ENV", value_parser = parse_env)]
    pub env: Option<String>,
    /// The cluster (`{env}` stands for --env's name).
    #[arg(long, value_name = "CLUSTER")]
    pub cluster: Option<String>,
    /// A service in the cluster (repeatable). Default: promote.toml's [ecs] services.
    #[arg(long = "service", value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ResolveArgs {
    /// REPO:TAG, REPO@sha256:..., or a full ECR image URI.
    #[arg(value_name = "IMAGE", required = true, value_parser = parse_image)]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    /// The image whose digest TAG should name (REPO:TAG, REPO@sha256:... or a full URI).
    #[arg(value_name = "IMAGE", value_parser = parse_image)]
    pub image: String,
    /// The tag to point at it, in the same repository.
    #[arg(value_name = "TAG", value_parser = parse_tag)]
    pub tag: String,
}

#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub services: ServiceArgs,
    /// How many revisions, newest first.
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub limit: u16,
}

/// How long to wait for a deployment, and whether to.
#[derive(Debug, Clone, Copy, Args)]
pub struct WaitArgs {
    /// Wait until the service's deployment has completed (a failed or rolled-back deployment,
    /// or the timeout, is exit 3).
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits: seconds, or a number with s, m or h.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_duration,
          requires = "wait")]
    pub timeout: Duration,
    /// How often --wait asks ECS (seconds or with s, m).
    #[arg(long, value_name = "DURATION", default_value = "6s", value_parser = parse_duration, hide = true,
          requires = "wait")]
    pub poll_interval: Duration,
}

#[derive(Debug, Args)]
pub struct PinArgs {
    /// The service's cluster.
    #[arg(long, value_name = "CLUSTER")]
    pub cluster: String,
    /// The service whose task definition is pinned.
    #[arg(long, value_name = "SERVICE")]
    pub service: String,
    /// Also update the service to run the pinned revision. Only the first environment of
    /// promote.toml's order takes a new revision this way; the others get theirs by promotion.
    #[arg(long)]
    pub deploy: bool,
    /// Deploy the pinned revision into an environment other than the first all the same.
    #[arg(long, requires = "deploy")]
    pub force: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The environment whose services are updated.
    #[arg(long, value_name = "ENV", value_parser = parse_env)]
    pub to: String,
    /// The environment whose images are promoted (default: the one before --to in promote.toml).
    #[arg(long, value_name = "ENV", value_parser = parse_env)]
    pub from: Option<String>,
    /// Only this service (repeatable). Default: the `ecs` records on stdin, else promote.toml's.
    #[arg(long = "service", value_name = "SERVICE")]
    pub services: Vec<String>,
    /// The cluster of each environment, `{env}` standing for its name (default: promote.toml's
    /// [ecs] cluster).
    #[arg(long, value_name = "PATTERN")]
    pub cluster: Option<String>,
    /// Refuse (exit 4) unless --to's service runs this task definition now (ARN or family:revision).
    #[arg(long, value_name = "TASKDEF")]
    pub expect: Option<String>,
    /// Promote from an environment (--from, or a record's) that the promotion order would refuse.
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
    /// A CloudWatch alarm that stops the deployment (repeatable; `*`, `?` and `{env}`
    /// allowed): the UpdateService sets it as the service's deployment alarm, and the circuit
    /// breaker, both with rollback, so ECS rolls a bad deployment back by itself.
    #[arg(long = "alarm", value_name = "NAME")]
    pub alarms: Vec<String>,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub wait: WaitArgs,
}

fn parse_image(s: &str) -> Result<String, String> {
    shared::image::ImageRef::parse(s).map(|_| s.to_string())
}

fn parse_tag(s: &str) -> Result<String, String> {
    if !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?} is not a tag (up to 128 letters, digits, `.`, `_` and `-`)"
        ))
    }
}

pub use shared::schedule::parse_duration;

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn timeout_is_refused_without_wait() {
        use clap::Parser;
        let parse = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("ecs-pin").chain(args.iter().copied()))
        };
        assert!(parse(&["promote", "--to", "prod", "--timeout", "5m"]).is_err());
        assert!(parse(&["promote", "--to", "prod", "--wait", "--timeout", "5m"]).is_ok());
        assert!(
            parse(&["promote", "--to", "prod"]).is_ok(),
            "the default needs no --wait"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5d").is_err());
    }

    #[test]
    fn the_flags_every_tool_has_go_before_a_subcommand_too() {
        let cli = Cli::try_parse_from(["ecs-pin", "--dry-run", "tag", "r:v1", "v2"]).unwrap();
        assert!(cli.common.dry_run && matches!(cli.command, Some(Command::Tag(_))));
        let cli = Cli::try_parse_from(["ecs-pin", "--dry-run", "promote", "--to", "prod"]).unwrap();
        assert!(cli.common.dry_run);
    }

    #[test]
    fn resolve_digest_is_a_top_level_flag() {
        let cli = Cli::try_parse_from(["ecs-pin", "--resolve-digest", "--env", "staging"]).unwrap();
        assert!(cli.resolve_digest && cli.command.is_none());
        assert_eq!(cli.services.env.as_deref(), Some("staging"));
        let cli =
            Cli::try_parse_from(["ecs-pin", "status", "--cluster", "c", "--service", "s"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Status(_))));
    }
}
