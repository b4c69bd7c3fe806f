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

/// The IAM role functions run as in the account `config` acts in (Lambda refuses a role of
/// another account), created once per account and test process the same way as [`role_arn`],
/// signed with that account's access key (the emulator tells accounts apart by it).
pub async fn role_in(config: &aws_config::SdkConfig, account: &str) -> String {
    use aws_credential_types::provider::ProvideCredentials;
    static ROLES: OnceLock<std::sync::Mutex<std::collections::BTreeMap<String, String>>> =
        OnceLock::new();
    let roles = ROLES.get_or_init(Default::default);
    if let Some(role) = roles.lock().expect("roles").get(account) {
        return role.clone();
    }
    let credentials = config
        .credentials_provider()
        .expect("credentials")
        .provide_credentials()
        .await
        .expect("credentials");
    let name = crate::unique("lambda-role");
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let endpoint = Emulator::shared().endpoint.clone();
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
        credentials.access_key_id()
    );
    let token = credentials.session_token().unwrap_or_default().to_string();
    let role = name.clone();
    tokio::task::spawn_blocking(move || {
        ureq::post(&endpoint)
            .header("Authorization", &authorization)
            .header("X-Amz-Security-Token", &token)
            .send_form([
                ("Action", "CreateRole"),
                ("Version", "2010-05-08"),
                ("RoleName", role.as_str()),
                ("AssumeRolePolicyDocument", policy),
            ])
            .expect("the emulator creates an IAM role");
    })
    .await
    .expect("the role is created");
    let arn = format!("arn:aws:iam::{account}:role/{name}");
    roles
        .lock()
        .expect("roles")
        .insert(account.to_string(), arn.clone());
    arn
}

/// Create a function with `package` as its code, and environment variables, through `client`
/// (an account of the emulator's) as role `role`.
pub async fn create_function_in(
    client: &Client,
    role: &str,
    name: &str,
    package: Vec<u8>,
    environment: &[(&str, &str)],
) {
    let env = aws_sdk_lambda::types::Environment::builder()
        .set_variables(Some(
            environment
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
        ))
        .build();
    client
        .create_function()
        .function_name(name)
        .runtime(aws_sdk_lambda::types::Runtime::Python312)
        .role(role)
        .handler("app.handler")
        .memory_size(256)
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(Blob::new(package))
                .build(),
        )
        .environment(env)
        .send()
        .await
        .expect("create a function in the emulator");
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

/// Queue the answer of the next Lambda invocation in the emulator (account 123456789012,
/// us-east-1), whichever function it is: a hook's verdict. The queue is the emulator's one for
/// all functions, so a test that queues must be the only one invoking (only the hook test does).
pub fn queue_result(result: &str) {
    let body = serde_json::json!({
        "results": [result],
        "region": "us-east-1",
        "account_id": "123456789012",
    });
    ureq::post(&format!(
        "{}/moto-api/static/lambda-simple/response",
        Emulator::shared().endpoint
    ))
    .header("Content-Type", "application/json")
    .send(body.to_string())
    .expect("queue a Lambda result in the emulator");
}
