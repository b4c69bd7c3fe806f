//! Reading Parameter Store: every parameter under an environment's path, decrypted so values can
//! be compared, and marked when they are SecureStrings so they are never shown.

use crate::aws::aws_error;
use crate::error::Result;
use aws_sdk_ssm::types::ParameterType;
use aws_sdk_ssm::Client;

/// A parameter. Its value may be a secret: `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Parameter {
    /// The full name, `/orders/prod/db/password`.
    pub name: String,
    pub value: String,
    /// A SecureString: never shown, only fingerprinted.
    pub secure: bool,
}

impl std::fmt::Debug for Parameter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parameter")
            .field("name", &self.name)
            .field("secure", &self.secure)
            .finish_non_exhaustive()
    }
}

/// Every parameter under `path`, recursively, decrypted.
pub async fn parameters_under(client: &Client, path: &str) -> Result<Vec<Parameter>> {
    let mut parameters = Vec::new();
    let mut pages = client
        .get_parameters_by_path()
        .path(path)
        .recursive(true)
        .with_decryption(true)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| aws_error(format!("failed to read the parameters under {path}"), &e))?;
        parameters.extend(page.parameters().iter().map(|p| Parameter {
            name: p.name().unwrap_or_default().to_string(),
            value: p.value().unwrap_or_default().to_string(),
            secure: p.r#type() == Some(&ParameterType::SecureString),
        }));
    }
    Ok(parameters)
}
