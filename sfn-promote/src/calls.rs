//! The thin layer of Step Functions calls that change things, and the choice of client per
//! environment and region. Reads shared with cfg-diff live in `shared::sfn`.
//!
//! Step Functions has no compare-and-swap on an alias (UpdateStateMachineAlias takes no revision
//! id), so a move reads the alias again just before it writes and refuses (exit 4) if it is not
//! what the checks saw: the window in which another writer can slip in is that of one call.

use aws_sdk_sfn::Client;
use shared::aws::{aws_error, Aws};
use shared::routing::{describe, Routing};
use shared::{Error, Result};

/// The clients of one environment and region: Step Functions, CloudWatch for the alarms a
/// canary schedule watches, Lambda for validation hooks that are functions.
#[derive(Debug, Clone)]
pub struct Services {
    pub sfn: Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub lambda: aws_sdk_lambda::Client,
}

impl Services {
    #[must_use]
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Services {
            sfn: Client::new(config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(config),
            lambda: aws_sdk_lambda::Client::new(config),
        }
    }
}

impl Services {
    /// `sfn` (a mock, in tests of SDK-level answers), with CloudWatch and Lambda clients that
    /// have no credentials and no endpoint to reach.
    #[must_use]
    pub fn sfn_only(sfn: Client) -> Self {
        let region = sfn.config().region().cloned();
        let unreachable = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(region)
            .endpoint_url("http://127.0.0.1:9")
            .build();
        Services {
            sfn,
            cloudwatch: aws_sdk_cloudwatch::Client::new(&unreachable),
            lambda: aws_sdk_lambda::Client::new(&unreachable),
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

/// Create the alias `alias` of `machine_arn` routing as `routing` does.
pub async fn create_alias(
    at: &Located,
    machine_arn: &str,
    alias: &str,
    routing: &Routing,
) -> Result<()> {
    let result = at
        .client
        .sfn
        .create_state_machine_alias()
        .name(alias)
        .set_routing_configuration(Some(shared::sfn::routing_configuration(
            machine_arn,
            routing,
        )?))
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_conflict_exception()) =>
        {
            Err(Error::precondition(format!(
                "{machine_arn} alias {alias} was created by someone else after it was read; \
                 nothing changed: look at it and run again"
            )))
        }
        Err(e) => Err(aws_error(
            format!("failed to create alias {alias} of {machine_arn}"),
            &e,
        )),
    }
}

/// Move an existing alias, if it still routes as `seen` (what the checks read).
pub async fn update_alias(
    at: &Located,
    machine_arn: &str,
    alias: &str,
    routing: &Routing,
    seen: Option<&Routing>,
) -> Result<()> {
    still_as_seen(at, machine_arn, alias, seen).await?;
    at.client
        .sfn
        .update_state_machine_alias()
        .state_machine_alias_arn(shared::sfn::alias_arn(machine_arn, alias))
        .set_routing_configuration(Some(shared::sfn::routing_configuration(
            machine_arn,
            routing,
        )?))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            aws_error(
                format!("failed to update alias {alias} of {machine_arn}"),
                &e,
            )
        })
}

/// Delete an alias (undoing its creation), if it still routes as `seen`.
pub async fn delete_alias(
    at: &Located,
    machine_arn: &str,
    alias: &str,
    seen: Option<&Routing>,
) -> Result<()> {
    still_as_seen(at, machine_arn, alias, seen).await?;
    at.client
        .sfn
        .delete_state_machine_alias()
        .state_machine_alias_arn(shared::sfn::alias_arn(machine_arn, alias))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            aws_error(
                format!("failed to delete alias {alias} of {machine_arn}"),
                &e,
            )
        })
}

/// The compare of a read-compare-write: the alias routes as it did when it was checked.
async fn still_as_seen(
    at: &Located,
    machine_arn: &str,
    alias: &str,
    seen: Option<&Routing>,
) -> Result<()> {
    let Some(seen) = seen else {
        return Ok(());
    };
    let now = shared::sfn::get_alias(&at.client.sfn, machine_arn, alias)
        .await?
        .map(|a| a.routing);
    if now.as_ref() == Some(seen) {
        return Ok(());
    }
    Err(Error::precondition(format!(
        "{machine_arn} alias {alias} was changed by someone else after it was read (it holds {}, \
         not {}); nothing changed: look at it and run again",
        describe(now.as_ref()),
        describe(Some(seen))
    )))
}

/// PublishStateMachineVersion with the revision the caller read as its precondition: a
/// definition changed since is refused, not published unseen. Answers the version's number.
pub async fn publish(
    at: &Located,
    machine_arn: &str,
    revision_id: Option<&str>,
    description: Option<&str>,
) -> Result<String> {
    let out = at
        .client
        .sfn
        .publish_state_machine_version()
        .state_machine_arn(machine_arn)
        .set_revision_id(revision_id.map(str::to_string))
        .set_description(description.map(str::to_string))
        .send()
        .await
        .map_err(|e| {
            if e.as_service_error()
                .is_some_and(|s| s.is_conflict_exception())
            {
                Error::precondition(format!(
                    "{machine_arn} was changed after its definition was read (its revision id \
                     no longer matches); nothing published: look at it and run again"
                ))
            } else if e
                .as_service_error()
                .is_some_and(|s| s.is_state_machine_does_not_exist())
            {
                shared::sfn::missing(machine_arn)
            } else {
                aws_error(format!("failed to publish a version of {machine_arn}"), &e)
            }
        })?;
    Ok(shared::sfn::version_of(out.state_machine_version_arn()))
}

/// A version's copy into another account or region: the state machine there takes the
/// definition and publishes it as a version of its own (its role and settings stay its own).
/// Answers the new version's number.
pub async fn publish_definition(
    at: &Located,
    machine_arn: &str,
    definition: &str,
    description: Option<&str>,
) -> Result<String> {
    let out = at
        .client
        .sfn
        .update_state_machine()
        .state_machine_arn(machine_arn)
        .definition(definition)
        .publish(true)
        .set_version_description(description.map(str::to_string))
        .send()
        .await
        .map_err(|e| {
            if e.as_service_error()
                .is_some_and(|s| s.is_state_machine_does_not_exist())
            {
                shared::sfn::missing(machine_arn)
            } else {
                aws_error(
                    format!("failed to copy the definition into {machine_arn}"),
                    &e,
                )
            }
        })?;
    out.state_machine_version_arn()
        .map(shared::sfn::version_of)
        .ok_or_else(|| Error::Aws {
            doing: format!("failed to copy the definition into {machine_arn}"),
            message: "UpdateStateMachine answered with no version".into(),
        })
}
