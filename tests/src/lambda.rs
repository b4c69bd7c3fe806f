//! Seeding and reading back Lambda functions in the emulator through the official SDK, the way a
//! test proves what a tool really changed.

use crate::Emulator;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::Client;
use std::sync::OnceLock;

/// A Lambda client for the emulator, configured explicitly (no environment, no files).
#[must_use]
pub fn client() -> Client {
    Client::new(&crate::emulator::sdk_config())
}

/// The IAM role functions run as: the emulator refuses a function whose role does not exist.
/// Created once per test process, through IAM's query API (no IAM SDK needed for one call).
pub fn role_arn() -> &'static str {
    static ROLE: OnceLock<String> = OnceLock::new();
    ROLE.get_or_init(|| {
        let name = crate::unique("lambda-role");
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        ureq::post(&Emulator::shared().endpoint)
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
            )
            .send_form([
                ("Action", "CreateRole"),
                ("Version", "2010-05-08"),
                ("RoleName", name.as_str()),
                ("AssumeRolePolicyDocument", policy),
            ])
            .expect("the emulator creates an IAM role");
        format!("arn:aws:iam::123456789012:role/{name}")
    })
}

/// A deployment package whose bytes (and so code_sha256) depend on `marker`.
#[must_use]
pub fn package(marker: &str) -> Vec<u8> {
    let code = format!("def handler(event, context):\n    return {marker:?}\n");
    crate::zip::archive(&[("app.py", code.as_bytes())])
}

/// Create a function whose code is `package(marker)`, with environment variables.
pub async fn create_function(name: &str, marker: &str, environment: &[(&str, &str)]) {
    let env = aws_sdk_lambda::types::Environment::builder()
        .set_variables(Some(
            environment
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
        ))
        .build();
    client()
        .create_function()
        .function_name(name)
        .runtime(aws_sdk_lambda::types::Runtime::Python312)
        .role(role_arn())
        .handler("app.handler")
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(Blob::new(package(marker)))
                .build(),
        )
        .environment(env)
        .send()
        .await
        .expect("create a function in the emulator");
}

/// Replace $LATEST's code (the next publish makes a new version).
pub async fn update_code(name: &str, marker: &str) {
    client()
        .update_function_code()
        .function_name(name)
        .zip_file(Blob::new(package(marker)))
        .send()
        .await
        .expect("update the function's code");
}

/// Publish $LATEST directly (setting the scene), returning the version.
pub async fn publish(name: &str) -> String {
    client()
        .publish_version()
        .function_name(name)
        .send()
        .await
        .expect("publish a version")
        .version()
        .expect("a version number")
        .to_string()
}

/// Point (creating or moving) an alias directly, behind the tools' back.
pub async fn set_alias(name: &str, alias: &str, version: &str) {
    let client = client();
    let exists = client
        .get_alias()
        .function_name(name)
        .name(alias)
        .send()
        .await
        .is_ok();
    if exists {
        client
            .update_alias()
            .function_name(name)
            .name(alias)
            .function_version(version)
            .send()
            .await
            .expect("move an alias");
    } else {
        client
            .create_alias()
            .function_name(name)
            .name(alias)
            .function_version(version)
            .send()
            .await
            .expect("create an alias");
    }
}

/// The version an alias points at now (None: no such alias), and its canary weights.
pub async fn alias(name: &str, alias: &str) -> Option<(String, Vec<(String, f64)>)> {
    let out = client()
        .get_alias()
        .function_name(name)
        .name(alias)
        .send()
        .await
        .ok()?;
    let weights = out
        .routing_config()
        .and_then(|r| r.additional_version_weights())
        .map(|w| {
            let mut w: Vec<(String, f64)> = w.iter().map(|(k, v)| (k.clone(), *v)).collect();
            w.sort_by(|a, b| a.0.cmp(&b.0));
            w
        })
        .unwrap_or_default();
    Some((
        out.function_version().unwrap_or_default().to_string(),
        weights,
    ))
}

/// The code hash of a version.
pub async fn code_sha256(name: &str, version: &str) -> String {
    client()
        .get_function_configuration()
        .function_name(name)
        .qualifier(version)
        .send()
        .await
        .expect("read a version")
        .code_sha256()
        .unwrap_or_default()
        .to_string()
}
