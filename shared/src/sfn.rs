//! Reading Step Functions pointers (aliases) and artifacts (published versions). sfn-promote
//! moves the aliases; cfg-diff reads the definition of the version an alias routes to. Both read
//! through here, the same way.
//!
//! Step Functions names everything by ARN: a state machine `…:stateMachine:NAME`, a version
//! `…:stateMachine:NAME:3`, an alias `…:stateMachine:NAME:prod`. An alias routes to one version,
//! or to two with whole-number weights that add up to 100; the first listed is the alias's own
//! version, the second the canary (as sfn-promote writes them).

use crate::aws::aws_error;
use crate::error::{Error, Result};
use crate::record::SfnArtifact;
use crate::routing::Routing;
use aws_sdk_sfn::types::RoutingConfigurationListItem;
use aws_sdk_sfn::Client;
use sha2::{Digest, Sha256};

/// A version's number: the last part of its ARN.
#[must_use]
pub fn version_of(version_arn: &str) -> String {
    version_arn
        .rsplit_once(':')
        .map_or(version_arn, |(_, v)| v)
        .to_string()
}

/// A version's ARN, from its state machine's and its number.
#[must_use]
pub fn version_arn(machine_arn: &str, version: &str) -> String {
    format!("{machine_arn}:{version}")
}

/// An alias's ARN, from its state machine's and its name.
#[must_use]
pub fn alias_arn(machine_arn: &str, alias: &str) -> String {
    format!("{machine_arn}:{alias}")
}

/// Hex SHA-256 of a definition, as Step Functions keeps it: what proves two versions (in two
/// accounts, say) run the same workflow.
#[must_use]
pub fn definition_sha256(definition: &str) -> String {
    Sha256::digest(definition.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An alias as it is now.
#[derive(Debug, Clone, PartialEq)]
pub struct Alias {
    pub name: String,
    pub arn: String,
    /// Its version and a canary's weight, by version number.
    pub routing: Routing,
}

impl Alias {
    /// The alias's routing as an artifact, given the definition hash of its version.
    #[must_use]
    pub fn artifact(&self, machine_arn: &str, definition_sha256: String) -> SfnArtifact {
        artifact(machine_arn, &self.routing, definition_sha256)
    }
}

/// An artifact routing as `routing` does, given the definition hash of its version.
#[must_use]
pub fn artifact(machine_arn: &str, routing: &Routing, definition_sha256: String) -> SfnArtifact {
    SfnArtifact {
        version: routing.version.clone(),
        version_arn: version_arn(machine_arn, &routing.version),
        definition_sha256,
        weights: routing
            .weights
            .iter()
            .map(|(v, w)| (v.clone(), percent(*w)))
            .collect(),
    }
}

/// A record's artifact as a routing (weights in percent, as records spell them, back to 0..1).
#[must_use]
pub fn routing_of(artifact: &SfnArtifact) -> Routing {
    Routing {
        version: artifact.version.clone(),
        weights: artifact
            .weights
            .iter()
            .map(|(v, w)| (v.clone(), f64::from(*w) / 100.0))
            .collect(),
    }
}

/// A share of traffic (0..1) as Step Functions' whole percent.
#[must_use]
pub fn percent(weight: f64) -> u8 {
    // Clamped to 0..=100 first, so the cast cannot truncate.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let p = (weight * 100.0).round().clamp(0.0, 100.0) as u8;
    p
}

/// The routing configuration that makes an alias route as `routing` does: its version first,
/// with what the canary does not take.
///
/// # Errors
/// A routing Step Functions cannot express (more than one canary version).
pub fn routing_configuration(
    machine_arn: &str,
    routing: &Routing,
) -> Result<Vec<RoutingConfigurationListItem>> {
    let item = |version: &str, weight: u8| {
        RoutingConfigurationListItem::builder()
            .state_machine_version_arn(version_arn(machine_arn, version))
            .weight(i32::from(weight))
            .build()
            .map_err(|e| Error::usage(format!("a routing configuration: {e}")))
    };
    let canaries: Vec<(&String, u8)> = routing
        .weights
        .iter()
        .map(|(v, w)| (v, percent(*w)))
        .filter(|(_, w)| *w > 0)
        .collect();
    match canaries.as_slice() {
        [] => Ok(vec![item(&routing.version, 100)?]),
        [(canary, weight)] => Ok(vec![
            item(&routing.version, 100 - weight)?,
            item(canary, *weight)?,
        ]),
        _ => Err(Error::usage(
            "a Step Functions alias routes to at most two versions",
        )),
    }
}

/// An alias's routing from Step Functions' list: the first is its version, a second the canary.
fn routing_from(items: &[RoutingConfigurationListItem]) -> Routing {
    let mut routing = Routing::plain(
        &items
            .first()
            .map(|i| version_of(i.state_machine_version_arn()))
            .unwrap_or_default(),
    );
    for item in items.iter().skip(1).filter(|i| i.weight() > 0) {
        routing.weights.insert(
            version_of(item.state_machine_version_arn()),
            f64::from(item.weight()) / 100.0,
        );
    }
    // Step Functions keeps a 100/0 split as given: the version with all the traffic is the
    // alias's.
    if let (Some(first), Some(second)) = (items.first(), items.get(1)) {
        if first.weight() == 0 && second.weight() == 100 {
            return Routing::plain(&version_of(second.state_machine_version_arn()));
        }
    }
    routing
}

/// The alias, or `None` when the state machine has no alias of that name (or there is no such
/// state machine: [`describe`] tells them apart).
pub async fn get_alias(client: &Client, machine_arn: &str, alias: &str) -> Result<Option<Alias>> {
    let arn = alias_arn(machine_arn, alias);
    match client
        .describe_state_machine_alias()
        .state_machine_alias_arn(&arn)
        .send()
        .await
    {
        Ok(out) => Ok(Some(Alias {
            name: out.name().unwrap_or(alias).to_string(),
            arn,
            routing: routing_from(out.routing_configuration()),
        })),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found()) =>
        {
            Ok(None)
        }
        // Not in the operation's model, but what Step Functions answers for an alias of a state
        // machine that does not exist: exit 4, naming it, as every tool says of a missing
        // resource.
        Err(e)
            if e.as_service_error().is_some_and(|s| {
                aws_sdk_sfn::error::ProvideErrorMetadata::code(s)
                    == Some("StateMachineDoesNotExist")
            }) =>
        {
            Err(missing(machine_arn))
        }
        Err(e) => Err(aws_error(format!("failed to read alias {arn}"), &e)),
    }
}

/// Every alias of the state machine.
pub async fn list_aliases(client: &Client, machine_arn: &str) -> Result<Vec<Alias>> {
    let mut arns = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_state_machine_aliases()
            .state_machine_arn(machine_arn)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error().is_some_and(|s| {
                    s.is_resource_not_found() || s.is_state_machine_does_not_exist()
                }) {
                    missing(machine_arn)
                } else {
                    aws_error(format!("failed to list the aliases of {machine_arn}"), &e)
                }
            })?;
        arns.extend(
            page.state_machine_aliases()
                .iter()
                .map(|a| a.state_machine_alias_arn().to_string()),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let mut aliases = Vec::new();
    for arn in arns {
        let name = version_of(&arn);
        if let Some(alias) = get_alias(client, machine_arn, &name).await? {
            aliases.push(alias);
        }
    }
    Ok(aliases)
}

/// A state machine that does not exist (in this account and region): exit 4, naming it.
#[must_use]
pub fn missing(machine_arn: &str) -> Error {
    Error::precondition(format!(
        "state machine {machine_arn} does not exist; nothing changed"
    ))
}

/// A state machine or one of its versions, as Step Functions describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    pub definition: String,
    /// The state machine's revision (of a state machine, not of a version): the precondition of
    /// a publish.
    pub revision_id: Option<String>,
    pub description: Option<String>,
    pub created: Option<String>,
    /// When it was created (a version: published), to order two versions in time.
    pub created_at: Option<aws_smithy_types::DateTime>,
}

impl Described {
    #[must_use]
    pub fn definition_sha256(&self) -> String {
        definition_sha256(&self.definition)
    }
}

/// A state machine (its ARN) or a version (its ARN); `None` when there is no such thing.
pub async fn describe(client: &Client, arn: &str) -> Result<Option<Described>> {
    match client
        .describe_state_machine()
        .state_machine_arn(arn)
        .send()
        .await
    {
        Ok(out) => Ok(Some(Described {
            definition: out.definition().to_string(),
            revision_id: out.revision_id().map(str::to_string),
            description: out.description().map(str::to_string),
            created: Some(out.creation_date().to_string()),
            created_at: Some(*out.creation_date()),
        })),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_state_machine_does_not_exist()) =>
        {
            Ok(None)
        }
        Err(e) => Err(aws_error(format!("failed to describe {arn}"), &e)),
    }
}

/// The definition hash of a version that must exist (it is what an alias routes to).
pub async fn existing_sha256(client: &Client, machine_arn: &str, version: &str) -> Result<String> {
    let arn = version_arn(machine_arn, version);
    describe(client, &arn)
        .await?
        .map(|d| d.definition_sha256())
        .ok_or_else(|| {
            Error::precondition(format!(
                "{machine_arn} has no version {version} (it was deleted, or the state machine \
                 does not exist)"
            ))
        })
}

/// The state machine's published versions, newest first, by number.
pub async fn versions(client: &Client, machine_arn: &str) -> Result<Vec<String>> {
    let mut versions = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_state_machine_versions()
            .state_machine_arn(machine_arn)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| aws_error(format!("failed to list the versions of {machine_arn}"), &e))?;
        versions.extend(
            page.state_machine_versions()
                .iter()
                .map(|v| version_of(v.state_machine_version_arn())),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    versions.sort_by_key(|v| std::cmp::Reverse(v.parse::<u64>().unwrap_or(0)));
    Ok(versions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_and_numbers() {
        let m = "arn:aws:states:us-east-1:111111111111:stateMachine:orders";
        assert_eq!(version_arn(m, "3"), format!("{m}:3"));
        assert_eq!(version_of(&version_arn(m, "3")), "3");
        assert_eq!(alias_arn(m, "prod"), format!("{m}:prod"));
        assert_eq!(
            definition_sha256("{}"),
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }

    #[test]
    fn a_routing_is_its_version_first_and_the_canary_second() {
        let m = "arn:aws:states:us-east-1:111111111111:stateMachine:orders";
        let mut routing = Routing::plain("2");
        routing.weights.insert("3".into(), 0.1);
        let items = routing_configuration(m, &routing).unwrap();
        let pairs: Vec<(String, i32)> = items
            .iter()
            .map(|i| (version_of(i.state_machine_version_arn()), i.weight()))
            .collect();
        assert_eq!(pairs, [("2".to_string(), 90), ("3".to_string(), 10)]);
        assert_eq!(routing_from(&items), routing);
        let plain = routing_configuration(m, &Routing::plain("2")).unwrap();
        assert_eq!(plain.len(), 1);
        assert_eq!(plain[0].weight(), 100);
        assert_eq!(routing_from(&plain), Routing::plain("2"));
        let art = artifact(m, &routing, "h".into());
        assert_eq!(art.weights.get("3"), Some(&10));
        assert_eq!(routing_of(&art), routing);
        routing.weights.insert("4".into(), 0.1);
        assert!(routing_configuration(m, &routing).is_err());
    }
}
