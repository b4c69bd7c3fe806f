//! The command line of cfg-diff.

use clap::{Parser, ValueEnum};
use shared::cli::CommonArgs;

/// Compare the configuration of two environments, everywhere it lives, never printing a secret.
///
/// Lambda environment variables (of the version each alias points at), ECS container environment
/// and secrets' references, API Gateway stage variables, Step Functions definitions (of the
/// version each alias routes to, value by value), Parameter Store and Secrets Manager. One
/// `config` record per key: its status (same, differs, parallel, only_in_a, only_in_b, crossed)
/// and both values, secret ones as keyed fingerprints. Exit 1 when there is drift.
///
/// `cfg-diff release` shows instead what every environment of the order holds, side by side.
/// An environment literally named `release` is compared with `cfg-diff -- release prod`.
#[derive(Debug, Parser)]
#[command(
    name = "cfg-diff",
    version,
    max_term_width = 100,
    arg_required_else_help = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The first environment (a).
    #[arg(value_name = "ENV_A", required = true)]
    pub env_a: Option<String>,
    /// The second environment (b).
    #[arg(value_name = "ENV_B", required = true)]
    pub env_b: Option<String>,
    /// Which places to compare (default: all that are configured).
    #[arg(long, value_name = "SOURCES", value_delimiter = ',', value_enum)]
    pub source: Vec<Source>,
    /// Drift to excuse: a glob (`*`, `?`) matched against the key, or `SOURCE:KEY`. Repeatable.
    #[arg(long, value_name = "PATTERN")]
    pub ignore: Vec<String>,
    /// Parameter Store path per environment, with {env} (default: promote.toml's [ssm] path).
    #[arg(long, value_name = "PATH")]
    pub ssm_path: Option<String>,
    /// Secrets Manager name prefix per environment, with {env} (default: promote.toml's [secrets]).
    #[arg(long, value_name = "PREFIX")]
    pub secrets_prefix: Option<String>,
}

impl Cli {
    /// Environment a (empty only with a subcommand, which does not compare two).
    #[must_use]
    pub fn a(&self) -> &str {
        self.env_a.as_deref().unwrap_or_default()
    }

    /// A subcommand takes no environments (clap reads `cfg-diff staging release` as both).
    pub fn check_shape(&self) -> shared::Result<()> {
        match (&self.command, &self.env_a) {
            (Some(Command::Release(_)), Some(env)) => Err(shared::Error::usage(format!(
                "`release` takes no environments; to compare {env} with an environment named \
                 release: cfg-diff -- {env} release"
            ))),
            _ => Ok(()),
        }
    }

    /// Environment b.
    #[must_use]
    pub fn b(&self) -> &str {
        self.env_b.as_deref().unwrap_or_default()
    }
}

/// What cfg-diff does besides comparing two environments.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// The release at a glance: what every environment of promote.toml's order holds, for every
    /// pointer ([lambda], [ecs], [apigateway], [s3]), side by side, and how each environment
    /// stands to the one before it: same, behind, ahead, drifted or missing. Only artifacts are
    /// shown, never configuration values.
    Release(ReleaseArgs),
}

/// `cfg-diff release`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReleaseArgs {
    /// Exit 1 unless every pointer of ENV holds the same artifact as the environment before it
    /// (`--check prod`: is prod at staging?). Exit 4 when ENV is not in the order.
    #[arg(long, value_name = "ENV", value_parser = shared::cli::parse_env)]
    pub check: Option<String>,
}

/// A place configuration lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ValueEnum)]
pub enum Source {
    Lambda,
    Ecs,
    Apigateway,
    Stepfunctions,
    Ssm,
    Secrets,
}

impl Source {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Lambda => "lambda",
            Source::Ecs => "ecs",
            Source::Apigateway => "apigateway",
            Source::Stepfunctions => "stepfunctions",
            Source::Ssm => "ssm",
            Source::Secrets => "secrets",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
        let cli =
            Cli::try_parse_from(["cfg-diff", "staging", "prod", "--source", "ssm,lambda"]).unwrap();
        assert_eq!(cli.source, [Source::Ssm, Source::Lambda]);
        assert!(cli.command.is_none());
        assert_eq!((cli.a(), cli.b()), ("staging", "prod"));
    }

    #[test]
    fn release_is_a_subcommand_and_two_environments_still_parse() {
        let cli = Cli::try_parse_from(["cfg-diff", "release", "--check", "prod"]).unwrap();
        match cli.command {
            Some(Command::Release(args)) => assert_eq!(args.check.as_deref(), Some("prod")),
            None => panic!("release did not parse as the subcommand"),
        }
        let cli = Cli::try_parse_from(["cfg-diff", "--output", "table", "release"]).unwrap();
        assert!(cli.command.is_some());
        let cli = Cli::try_parse_from(["cfg-diff", "staging", "prod"]).unwrap();
        assert!(cli.command.is_none());
        // An environment named `release`, after `--`.
        let cli = Cli::try_parse_from(["cfg-diff", "--", "release", "prod"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!((cli.a(), cli.b()), ("release", "prod"));
        // `release` after an environment: refused, saying how to name an environment `release`.
        let cli = Cli::try_parse_from(["cfg-diff", "staging", "release"]).unwrap();
        let refused = cli.check_shape().unwrap_err().to_string();
        assert!(refused.contains("cfg-diff -- staging release"), "{refused}");
        let cli = Cli::try_parse_from(["cfg-diff", "--", "staging", "release"]).unwrap();
        assert!(cli.check_shape().is_ok());
        assert_eq!((cli.a(), cli.b()), ("staging", "release"));
        // One environment is still a usage error.
        assert!(Cli::try_parse_from(["cfg-diff", "staging"]).is_err());
    }
}
