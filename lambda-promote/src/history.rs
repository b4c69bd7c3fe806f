//! `history`: a function's published versions, newest first, each with its description (a git
//! commit, a build id), when it was published, its code hash and the aliases that hold it (and
//! those where it is a canary); with --env, `current` marks the one that environment's alias
//! holds. The same listing as apigw-stage's and s3-version's `history`.

use crate::alias_template;
use crate::args::{HistoryArgs, HISTORY_HINT};
use crate::calls::Clients;
use crate::function::FunctionRef;
use shared::config::Project;
use shared::engine::Target;
use shared::lambda::{Alias, Published};
use shared::output::Output;
use shared::record::LambdaArtifact;
use shared::{Action, Error, ExitCode, Record, Result, Service};

pub(crate) async fn run(
    args: HistoryArgs,
    project: Option<&Project>,
    clients: &Clients<'_>,
    out: &mut Output,
) -> Result<ExitCode> {
    if let (Some(project), Some(env)) = (project, &args.env) {
        project.position(env)?;
    }
    let function = FunctionRef::parse(&args.function, HISTORY_HINT).map_err(Error::usage)?;
    let at = clients
        .get(args.env.as_deref(), function.region.as_deref())
        .await?;
    // The versions first: they tell a missing function (exit 4) from a failed read.
    let versions = shared::lambda::versions(&at.client.lambda, &function.id)
        .await?
        .ok_or_else(|| {
            Error::precondition(format!(
                "function {function} does not exist (in {})",
                crate::copy::place(&at)
            ))
        })?;
    let aliases = shared::lambda::list_aliases(&at.client.lambda, &function.id).await?;
    let templates = alias_template(project);
    let order = project.map(|p| p.order.clone()).unwrap_or_default();
    let env_alias = args.env.as_deref().map(|env| templates.render(env));
    // --env asks which version that environment holds: an alias it does not have is named,
    // not listed as "holds none of them".
    if let (Some(alias), Some(env)) = (&env_alias, &args.env) {
        if !aliases.iter().any(|a| &a.name == alias) {
            return Err(Error::precondition(format!(
                "{function} has no alias {alias} ({env})"
            )));
        }
    }
    let env_of = |alias: &str| templates.env_of_pointer(alias, &order);
    for version in newest_first(versions) {
        let listing = Target {
            // A listing, not a pointer's state: no pointer, so no tool takes it for one.
            pointer: None,
            ..Target::new(Service::Lambda, &function.name, "")
                .env(args.env.as_deref())
                .region(at.region.as_deref())
        };
        out.record(&entry(
            &listing,
            &version,
            &aliases,
            env_alias.as_deref(),
            env_of,
        ))?;
    }
    Ok(ExitCode::Success)
}

/// Lambda lists versions oldest first; a history reads newest first.
fn newest_first(mut versions: Vec<Published>) -> Vec<Published> {
    versions.sort_by_key(|v| std::cmp::Reverse(v.version.parse::<u64>().unwrap_or(0)));
    versions
}

/// One version's record: what it is and who holds it.
fn entry(
    listing: &Target,
    version: &Published,
    aliases: &[Alias],
    env_alias: Option<&str>,
    env_of: impl Fn(&str) -> Option<String>,
) -> Record {
    let holding: Vec<&Alias> = aliases
        .iter()
        .filter(|a| a.version == version.version)
        .collect();
    let canary: Vec<&str> = aliases
        .iter()
        .filter(|a| a.weights.contains_key(&version.version))
        .map(|a| a.name.as_str())
        .collect();
    let artifact = LambdaArtifact {
        version: version.version.clone(),
        code_sha256: version.code_sha256.clone(),
        weights: Default::default(),
    };
    let mut record = listing.record(Action::Resolved, Some(&artifact), None);
    let names: Vec<&str> = holding.iter().map(|a| a.name.as_str()).collect();
    let envs: Vec<String> = holding.iter().filter_map(|a| env_of(&a.name)).collect();
    let extra = &mut record.extra;
    extra.insert("description".into(), version.description.clone().into());
    extra.insert("created".into(), version.last_modified.clone().into());
    extra.insert("aliases".into(), names.clone().into());
    extra.insert("envs".into(), envs.into());
    extra.insert("canary_aliases".into(), canary.into());
    if let Some(alias) = env_alias {
        extra.insert("current".into(), names.contains(&alias).into());
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn published(version: &str) -> Published {
        Published {
            version: version.into(),
            code_sha256: format!("sha-{version}"),
            description: format!("git:{version}"),
            last_modified: Some("2026-12-01T10:00:00.000+0000".into()),
        }
    }

    fn alias(name: &str, version: &str, canary: Option<&str>) -> Alias {
        Alias {
            name: name.into(),
            version: version.into(),
            weights: canary.map_or_else(BTreeMap::new, |v| BTreeMap::from([(v.into(), 0.1)])),
            revision_id: None,
        }
    }

    #[test]
    fn versions_are_listed_newest_first_by_number() {
        let listed = newest_first(vec![published("2"), published("10"), published("9")]);
        let numbers: Vec<&str> = listed.iter().map(|v| v.version.as_str()).collect();
        assert_eq!(numbers, ["10", "9", "2"]);
    }

    #[test]
    fn an_entry_says_which_aliases_hold_the_version_and_where_it_is_a_canary() {
        let aliases = [
            alias("live-staging", "3", None),
            alias("live-prod", "2", Some("3")),
        ];
        let env_of = |a: &str| a.strip_prefix("live-").map(str::to_string);
        let listing = Target {
            pointer: None,
            ..Target::new(Service::Lambda, "orders", "")
        };
        let record = entry(
            &listing,
            &published("3"),
            &aliases,
            Some("live-prod"),
            env_of,
        );
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["artifact"]["version"], "3");
        assert_eq!(json["artifact"]["code_sha256"], "sha-3");
        assert_eq!(json["description"], "git:3");
        assert_eq!(json["created"], "2026-12-01T10:00:00.000+0000");
        assert_eq!(json["aliases"], serde_json::json!(["live-staging"]));
        assert_eq!(json["envs"], serde_json::json!(["staging"]));
        assert_eq!(json["canary_aliases"], serde_json::json!(["live-prod"]));
        assert_eq!(json["current"], false);
        assert!(json.get("pointer").is_none_or(|p| p.is_null()));
    }
}
