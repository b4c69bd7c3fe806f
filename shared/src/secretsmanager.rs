//! Reading Secrets Manager: the secrets under an environment's prefix and their current values,
//! which are only ever compared and fingerprinted, never shown.

use crate::aws::aws_error;
use crate::error::Result;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType};
use aws_sdk_secretsmanager::Client;

/// The names of the secrets whose name starts with `prefix`.
pub async fn names_under(client: &Client, prefix: &str) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let mut pages = client
        .list_secrets()
        .filters(
            Filter::builder()
                .key(FilterNameStringType::Name)
                .values(prefix)
                .build(),
        )
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| aws_error(format!("failed to list the secrets under {prefix}"), &e))?;
        // The service's name filter matches words anywhere in the name: keep true prefixes only.
        names.extend(
            page.secret_list()
                .iter()
                .filter_map(|s| s.name())
                .filter(|n| n.starts_with(prefix))
                .map(str::to_string),
        );
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// A secret's current value (the AWSCURRENT stage, asked for by name), or a fingerprintable
/// stand-in for a binary secret; `None` when the secret has no current value (created without
/// one, as infrastructure code often leaves a secret for someone to fill in). The value is
/// returned to be compared, never to be printed.
pub async fn current_value(client: &Client, name: &str) -> Result<Option<String>> {
    let out = match client
        .get_secret_value()
        .secret_id(name)
        .version_stage("AWSCURRENT")
        .send()
        .await
    {
        Ok(out) => out,
        // Of a secret that exists, "not found" is its value: no version holds AWSCURRENT.
        Err(e)
            if e.as_service_error()
                .is_some_and(GetSecretValueError::is_resource_not_found_exception) =>
        {
            return Ok(None)
        }
        Err(e) => {
            return Err(aws_error(
                format!("failed to read the current value of secret {name}"),
                &e,
            ))
        }
    };
    Ok(Some(match (out.secret_string(), out.secret_binary()) {
        (Some(text), _) => text.to_string(),
        (None, Some(binary)) => format!(
            "binary:{}",
            binary
                .as_ref()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ),
        (None, None) => String::new(),
    }))
}
