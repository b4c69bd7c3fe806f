//! The command line of cfg-diff.

use clap::{Parser, ValueEnum};
use shared::cli::CommonArgs;

/// Compare the configuration of two environments, everywhere it lives, never printing a secret.
///
/// Lambda environment variables (of the version each alias points at), ECS container environment
/// and secrets' references, API Gateway stage variables, Parameter Store and Secrets Manager. One
/// `config` record per key: its status (same, differs, parallel, only_in_a, only_in_b, crossed)
/// and both values, secret ones as keyed fingerprints. Exit 1 when there is drift.
#[derive(Debug, Parser)]
#[command(
    name = "cfg-diff",
    version,
    max_term_width = 100,
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The first environment (a).
    #[arg(value_name = "ENV_A")]
    pub env_a: String,
    /// The second environment (b).
    #[arg(value_name = "ENV_B")]
    pub env_b: String,
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

/// A place configuration lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ValueEnum)]
pub enum Source {
    Lambda,
    Ecs,
    Apigateway,
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
    }
}
