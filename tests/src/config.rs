//! Seeding Parameter Store and Secrets Manager in the emulator.

/// A Parameter Store client for the emulator.
#[must_use]
pub fn ssm() -> aws_sdk_ssm::Client {
    aws_sdk_ssm::Client::new(&crate::emulator::sdk_config())
}

/// A Secrets Manager client for the emulator.
#[must_use]
pub fn secrets() -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&crate::emulator::sdk_config())
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
