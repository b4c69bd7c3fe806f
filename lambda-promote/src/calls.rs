//! The thin layer of Lambda calls that change things, and the choice of client per environment
//! and region. Reads shared with other tools live in `shared::lambda`.

use crate::plan::Routing;
use aws_sdk_lambda::types::AliasRoutingConfiguration;
use aws_sdk_lambda::Client;
use shared::aws::{aws_error, Aws};
use shared::{Error, Result};

/// The clients of one environment and region: Lambda, and ECR for the image of a
/// container-image function copied from another account or region.
#[derive(Debug, Clone)]
pub struct Services {
    pub lambda: Client,
    pub ecr: aws_sdk_ecr::Client,
    /// The copy bucket's, for a package streamed through it.
    pub s3: aws_sdk_s3::Client,
    /// The alarms a canary schedule watches.
    pub cloudwatch: aws_sdk_cloudwatch::Client,
}

impl Services {
    #[must_use]
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Services {
            lambda: Client::new(config),
            ecr: aws_sdk_ecr::Client::new(config),
            s3: shared::s3_stream::client(config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(config),
        }
    }

    /// `lambda` (a mock, in tests of SDK-level answers), with ECR, S3 and CloudWatch clients that have no
    /// credentials and no endpoint to reach: such tests copy nothing.
    #[must_use]
    pub fn lambda_only(lambda: Client) -> Self {
        let ecr = aws_sdk_ecr::Config::builder()
            .behavior_version(aws_sdk_ecr::config::BehaviorVersion::latest())
            .region(lambda.config().region().cloned())
            .endpoint_url("http://127.0.0.1:9")
            .build();
        let s3 = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(lambda.config().region().cloned())
            .endpoint_url("http://127.0.0.1:9")
            .build();
        let cloudwatch = aws_sdk_cloudwatch::Config::builder()
            .behavior_version(aws_sdk_cloudwatch::config::BehaviorVersion::latest())
            .region(lambda.config().region().cloned())
            .endpoint_url("http://127.0.0.1:9")
            .build();
        Services {
            lambda,
            ecr: aws_sdk_ecr::Client::from_conf(ecr),
            s3: aws_sdk_s3::Client::from_conf(s3),
            cloudwatch: aws_sdk_cloudwatch::Client::from_conf(cloudwatch),
        }
    }
}

/// The clients per environment and region.
pub type Clients<'a> = shared::aws::Clients<'a, Services>;
/// An environment's clients and where they point.
pub type Located = shared::aws::Located<Services>;

/// The clients for every environment the run touches.
#[must_use]
pub fn clients(aws: &Aws) -> Clients<'_> {
    Clients::new(aws, Services::new)
}

fn routing_config(routing: &Routing) -> AliasRoutingConfiguration {
    // An empty map is sent on purpose: it clears a canary's weights.
    AliasRoutingConfiguration::builder()
        .set_additional_version_weights(Some(
            routing
                .weights
                .iter()
                .map(|(v, w)| (v.clone(), *w))
                .collect(),
        ))
        .build()
}

/// Move an existing alias. `revision_id` makes it a compare-and-swap: if the alias changed since
/// it was read, AWS refuses and nothing is written.
pub async fn update_alias(
    at: &Located,
    function: &str,
    alias: &str,
    routing: &Routing,
    revision_id: Option<&str>,
) -> Result<()> {
    let result = at
        .client
        .lambda
        .update_alias()
        .function_name(function)
        .name(alias)
        .function_version(&routing.version)
        .routing_config(routing_config(routing))
        .set_revision_id(revision_id.map(str::to_string))
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_precondition_failed_exception()) =>
        {
            Err(Error::precondition(format!(
                "{function} alias {alias} was changed by someone else after it was read \
                 (its RevisionId no longer matches); nothing changed: look at it and run again"
            )))
        }
        Err(e) => Err(aws_error(
            format!("failed to update alias {alias} of {function}"),
            &e,
        )),
    }
}

/// Create an alias. If someone created it meanwhile, refuse rather than overwrite.
pub async fn create_alias(
    at: &Located,
    function: &str,
    alias: &str,
    routing: &Routing,
) -> Result<()> {
    let mut request = at
        .client
        .lambda
        .create_alias()
        .function_name(function)
        .name(alias)
        .function_version(&routing.version);
    if !routing.weights.is_empty() {
        request = request.routing_config(routing_config(routing));
    }
    match request.send().await {
        Ok(_) => Ok(()),
        Err(e) if is_conflict(&e) => Err(Error::precondition(format!(
            "{function} alias {alias} was created by someone else after it was read; nothing changed: \
             look at it and run again"
        ))),
        Err(e) => Err(aws_error(format!("failed to create alias {alias} of {function}"), &e)),
    }
}

fn is_conflict<R>(
    e: &aws_sdk_lambda::error::SdkError<
        aws_sdk_lambda::operation::create_alias::CreateAliasError,
        R,
    >,
) -> bool {
    use aws_sdk_lambda::error::ProvideErrorMetadata;
    e.as_service_error().is_some_and(|s| {
        // moto answers ConflictException where AWS answers ResourceConflictException.
        s.is_resource_conflict_exception() || s.code() == Some("ConflictException")
    })
}

/// Delete an alias (undoing its creation). DeleteAlias takes no RevisionId: the caller reads the
/// alias just before and deletes only if it still holds what the record says.
pub async fn delete_alias(at: &Located, function: &str, alias: &str) -> Result<()> {
    at.client
        .lambda
        .delete_alias()
        .function_name(function)
        .name(alias)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws_error(format!("failed to delete alias {alias} of {function}"), &e))
}

/// Publish $LATEST as a version (with `description`): returns the version and its code hash.
pub async fn publish_version(
    at: &Located,
    function: &str,
    description: Option<&str>,
) -> Result<(String, String)> {
    let out = at
        .client
        .lambda
        .publish_version()
        .function_name(function)
        .set_description(description.map(str::to_string))
        .send()
        .await
        .map_err(|e| {
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception())
            {
                shared::lambda::missing_function(function)
            } else {
                aws_error(format!("failed to publish a version of {function}"), &e)
            }
        })?;
    match (out.version(), out.code_sha256()) {
        (Some(version), Some(sha)) => Ok((version.to_string(), sha.to_string())),
        _ => Err(Error::Aws {
            doing: format!("publishing a version of {function}"),
            message: "AWS answered without a version number or code hash".into(),
        }),
    }
}
