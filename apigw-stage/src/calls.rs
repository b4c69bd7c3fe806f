//! The thin layer of API Gateway calls that change things, and the clients per environment.
//! Reads shared with other tools live in `shared::apigateway`.

use crate::plan::PatchOp;
use aws_sdk_apigateway::primitives::Blob;
use aws_sdk_apigateway::types::{Op, PatchOperation, PutMode};
use aws_sdk_apigateway::Client;
use shared::aws::aws_error;
use shared::{Error, Result};

/// API Gateway clients per environment and region.
pub type Clients<'a> = shared::aws::Clients<'a, Client>;
/// A client and where it points.
pub type Located = shared::aws::Located<Client>;

/// Clients for every environment the run touches.
#[must_use]
pub fn clients(aws: &shared::aws::Aws) -> Clients<'_> {
    Clients::new(aws, Client::new)
}

/// Create a deployment of the API as it is now: the "build". No stage is named, so no stage moves
/// until the caller moves it.
pub async fn create_deployment(
    at: &Located,
    api: &str,
    description: Option<&str>,
) -> Result<String> {
    let out = at
        .client
        .create_deployment()
        .rest_api_id(api)
        .set_description(description.map(str::to_string))
        .send()
        .await
        .map_err(|e| aws_error(format!("failed to create a deployment of API {api}"), &e))?;
    out.id().map(str::to_string).ok_or_else(|| Error::Aws {
        doing: format!("creating a deployment of API {api}"),
        message: "AWS answered without a deployment id".into(),
    })
}

/// Apply patch operations to a stage, all in one UpdateStage call.
pub async fn update_stage(at: &Located, api: &str, stage: &str, ops: &[PatchOp]) -> Result<()> {
    let operations = ops
        .iter()
        .map(|op| {
            PatchOperation::builder()
                .op(Op::from(op.op))
                .path(op.path)
                .set_value(op.value.clone())
                .build()
        })
        .collect();
    at.client
        .update_stage()
        .rest_api_id(api)
        .stage_name(stage)
        .set_patch_operations(Some(operations))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws_error(format!("failed to update stage {stage} of API {api}"), &e))
}

/// Create a stage on a deployment.
pub async fn create_stage(at: &Located, api: &str, stage: &str, deployment: &str) -> Result<()> {
    match at
        .client
        .create_stage()
        .rest_api_id(api)
        .stage_name(stage)
        .deployment_id(deployment)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_conflict_exception()) => Err(Error::precondition(format!(
            "stage {stage} of API {api} was created by someone else after it was read; nothing changed"
        ))),
        Err(e) => Err(aws_error(format!("failed to create stage {stage} of API {api}"), &e)),
    }
}

/// Delete a stage (undoing its creation).
pub async fn delete_stage(at: &Located, api: &str, stage: &str) -> Result<()> {
    at.client
        .delete_stage()
        .rest_api_id(api)
        .stage_name(stage)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws_error(format!("failed to delete stage {stage} of API {api}"), &e))
}

/// Replace the API's definition with `definition` (an exported OpenAPI document with the API
/// Gateway extensions): PutRestApi in overwrite mode, so the API becomes exactly that. No stage
/// moves: a deployment of it is made next.
pub async fn put_rest_api(at: &Located, api: &str, definition: &[u8]) -> Result<()> {
    at.client
        .put_rest_api()
        .rest_api_id(api)
        .mode(PutMode::Overwrite)
        .fail_on_warnings(true)
        .body(Blob::new(definition.to_vec()))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            aws_error(
                format!("failed to import the definition into API {api} (PutRestApi, overwrite)"),
                &e,
            )
        })
}
