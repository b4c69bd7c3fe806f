//! Seeding Parameter Store and Secrets Manager in the emulator.

use crate::Emulator;

fn region() -> aws_sdk_ssm::config::Region {
    aws_sdk_ssm::config::Region::new("us-east-1")
}

fn credentials() -> aws_credential_types::Credentials {
    aws_credential_types::Credentials::from_keys("testing", "testing", None)
}

/// A Parameter Store client for the emulator.
#[must_use]
pub fn ssm() -> aws_sdk_ssm::Client {
    aws_sdk_ssm::Client::from_conf(
        aws_sdk_ssm::Config::builder()
            .behavior_version_latest()
            .endpoint_url(&Emulator::shared().endpoint)
            .region(region())
            .credentials_provider(credentials())
            .build(),
    )
}

/// A Secrets Manager client for the emulator.
#[must_use]
pub fn secrets() -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::Config::builder()
            .behavior_version_latest()
            .endpoint_url(&Emulator::shared().endpoint)
            .region(aws_sdk_secretsmanager::config::Region::new("us-east-1"))
            .credentials_provider(credentials())
            .build(),
    )
}

/// Put a parameter; `secure` makes it a SecureString.
pub async fn put_parameter(name: &str, value: &str, secure: bool) {
    ssm()
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(if secure {
            aws_sdk_ssm::types::ParameterType::SecureString
        } else {
            aws_sdk_ssm::types::ParameterType::String
        })
        .send()
        .await
        .expect("put a parameter");
}

/// Create a secret with a string value.
pub async fn create_secret(name: &str, value: &str) {
    secrets()
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .expect("create a secret");
}
