//! Seeding and reading back API Gateway REST APIs, deployments and stages in the emulator.

use aws_sdk_apigateway::Client;
use std::collections::BTreeMap;

/// An API Gateway client for the emulator.
#[must_use]
pub fn client() -> Client {
    Client::new(&crate::emulator::sdk_config())
}

/// A REST API with one `GET /` answered by a MOCK integration (a deployment needs a method).
pub async fn create_api(name: &str) -> String {
    let client = client();
    let api = client
        .create_rest_api()
        .name(name)
        .send()
        .await
        .expect("create an API");
    let id = api.id().expect("an API id").to_string();
    let resources = client
        .get_resources()
        .rest_api_id(&id)
        .send()
        .await
        .expect("list resources");
    let root = resources
        .items()
        .iter()
        .find(|r| r.path() == Some("/"))
        .and_then(|r| r.id())
        .expect("a root resource")
        .to_string();
    client
        .put_method()
        .rest_api_id(&id)
        .resource_id(&root)
        .http_method("GET")
        .authorization_type("NONE")
        .send()
        .await
        .expect("add a method");
    client
        .put_integration()
        .rest_api_id(&id)
        .resource_id(&root)
        .http_method("GET")
        .r#type(aws_sdk_apigateway::types::IntegrationType::Mock)
        .send()
        .await
        .expect("add an integration");
    id
}

/// Deploy the API as it is (no stage); returns the deployment's id.
pub async fn deploy(api: &str, description: &str) -> String {
    client()
        .create_deployment()
        .rest_api_id(api)
        .description(description)
        .send()
        .await
        .expect("create a deployment")
        .id()
        .expect("a deployment id")
        .to_string()
}

/// Create a stage on a deployment, with variables.
pub async fn create_stage(api: &str, stage: &str, deployment: &str, variables: &[(&str, &str)]) {
    client()
        .create_stage()
        .rest_api_id(api)
        .stage_name(stage)
        .deployment_id(deployment)
        .set_variables(Some(
            variables
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
        ))
        .send()
        .await
        .expect("create a stage");
}

/// Point a stage at a deployment behind the tools' back.
pub async fn set_stage(api: &str, stage: &str, deployment: &str) {
    client()
        .update_stage()
        .rest_api_id(api)
        .stage_name(stage)
        .patch_operations(
            aws_sdk_apigateway::types::PatchOperation::builder()
                .op(aws_sdk_apigateway::types::Op::Replace)
                .path("/deploymentId")
                .value(deployment)
                .build(),
        )
        .send()
        .await
        .expect("move a stage");
}

/// The deployment a stage runs and its variables (None: no such stage).
pub async fn stage(api: &str, stage: &str) -> Option<(String, BTreeMap<String, String>)> {
    let out = client()
        .get_stage()
        .rest_api_id(api)
        .stage_name(stage)
        .send()
        .await
        .ok()?;
    let variables = out
        .variables()
        .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    Some((
        out.deployment_id().unwrap_or_default().to_string(),
        variables,
    ))
}

/// A REST API named `name` with deployments one and two: dev and staging run two, prod runs one.
/// Returns the API's id and the two deployments.
pub async fn api_on_three_stages(name: &str) -> (String, String, String) {
    let id = create_api(name).await;
    let one = deploy(&id, "one").await;
    let two = deploy(&id, "two").await;
    create_stage(&id, "dev", &two, &[("DB_HOST", "db.dev")]).await;
    create_stage(&id, "staging", &two, &[("DB_HOST", "db.staging")]).await;
    create_stage(&id, "prod", &one, &[("DB_HOST", "db.prod")]).await;
    (id, one, two)
}
