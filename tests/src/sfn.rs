//! Seeding and reading back Step Functions state machines, versions and aliases in the emulator
//! through the official SDK. The emulator publishes versions on CreateStateMachine and
//! UpdateStateMachine (`publish`), and keeps aliases with their routing; it answers
//! PublishStateMachineVersion and ListStateMachineVersions with HTTP 500, so the tests of those
//! use SDK-level mocks.

use aws_sdk_sfn::types::RoutingConfigurationListItem;
use aws_sdk_sfn::Client;

/// A Step Functions client for the emulator's default account.
#[must_use]
pub fn client() -> Client {
    Client::new(&crate::emulator::sdk_config())
}

/// A Step Functions client acting as `config` does (another account or region).
#[must_use]
pub fn client_in(config: &aws_config::SdkConfig) -> Client {
    Client::new(config)
}

/// A definition that differs by `marker` (a Pass state's result).
#[must_use]
pub fn definition(marker: &str) -> String {
    format!(
        r#"{{"StartAt":"Work","States":{{"Work":{{"Type":"Pass","Result":"{marker}","End":true}}}}}}"#
    )
}

/// Create a state machine with `definition`, published as version 1. Answers its ARN.
pub async fn create(client: &Client, name: &str, definition: &str, account: &str) -> String {
    client
        .create_state_machine()
        .name(name)
        .definition(definition)
        .role_arn(format!("arn:aws:iam::{account}:role/sfn"))
        .publish(true)
        .send()
        .await
        .expect("the emulator creates a state machine")
        .state_machine_arn()
        .to_string()
}

/// Publish `definition` as the state machine's next version. Answers its number.
pub async fn publish(client: &Client, arn: &str, definition: &str) -> String {
    let out = client
        .update_state_machine()
        .state_machine_arn(arn)
        .definition(definition)
        .publish(true)
        .send()
        .await
        .expect("the emulator publishes a version");
    let version = out.state_machine_version_arn().expect("a version ARN");
    version.rsplit(':').next().unwrap().to_string()
}

/// Point `alias` at `routing` (version number, weight), creating it if needed.
pub async fn set_alias(client: &Client, arn: &str, alias: &str, routing: &[(&str, i32)]) {
    let items: Vec<RoutingConfigurationListItem> = routing
        .iter()
        .map(|(v, w)| {
            RoutingConfigurationListItem::builder()
                .state_machine_version_arn(format!("{arn}:{v}"))
                .weight(*w)
                .build()
                .unwrap()
        })
        .collect();
    let alias_arn = format!("{arn}:{alias}");
    let exists = client
        .describe_state_machine_alias()
        .state_machine_alias_arn(&alias_arn)
        .send()
        .await
        .is_ok();
    if exists {
        client
            .update_state_machine_alias()
            .state_machine_alias_arn(&alias_arn)
            .set_routing_configuration(Some(items))
            .send()
            .await
            .expect("the emulator updates the alias");
    } else {
        client
            .create_state_machine_alias()
            .name(alias)
            .set_routing_configuration(Some(items))
            .send()
            .await
            .expect("the emulator creates the alias");
    }
}

/// What `alias` routes to now, as (version number, weight) in Step Functions' order; `None`
/// when there is no such alias.
pub async fn alias(client: &Client, arn: &str, alias: &str) -> Option<Vec<(String, i32)>> {
    let out = client
        .describe_state_machine_alias()
        .state_machine_alias_arn(format!("{arn}:{alias}"))
        .send()
        .await
        .ok()?;
    Some(
        out.routing_configuration()
            .iter()
            .map(|i| {
                (
                    i.state_machine_version_arn()
                        .rsplit(':')
                        .next()
                        .unwrap()
                        .to_string(),
                    i.weight(),
                )
            })
            .collect(),
    )
}

/// The definition of a state machine or version ARN.
pub async fn definition_of(client: &Client, arn: &str) -> String {
    client
        .describe_state_machine()
        .state_machine_arn(arn)
        .send()
        .await
        .expect("the emulator describes it")
        .definition()
        .to_string()
}

/// Hex SHA-256 of a definition, as sfn-promote's records give it.
#[must_use]
pub fn sha256(definition: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(definition.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
