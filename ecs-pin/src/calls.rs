//! The thin layer of ECR and ECS calls that change things, and the clients per environment.
//! Reads shared with other tools live in `shared::ecr` and `shared::ecs`.

use aws_sdk_ecs::types::{ContainerDefinition, Tag, TaskDefinition};
use shared::aws::aws_error;
use shared::ecr::Image;
use shared::record::ContainerImage;
use shared::{Error, Result};

/// The two services ecs-pin calls, for one account and region.
#[derive(Debug, Clone)]
pub struct Services {
    pub ecr: aws_sdk_ecr::Client,
    pub ecs: aws_sdk_ecs::Client,
}

/// ECR and ECS clients per environment and region.
pub type Clients<'a> = shared::aws::Clients<'a, Services>;
/// The clients of one account and region.
pub type Located = shared::aws::Located<Services>;

/// Clients for every environment the run touches.
#[must_use]
pub fn clients(aws: &shared::aws::Aws) -> Clients<'_> {
    Clients::new(aws, |config| Services {
        ecr: aws_sdk_ecr::Client::new(config),
        ecs: aws_sdk_ecs::Client::new(config),
    })
}

/// Point `tag` at `image` by putting its manifest back under the tag: no layer is pulled or
/// pushed. An immutable repository refuses to move a tag (exit 4).
pub async fn put_tag(
    at: &Located,
    registry_id: Option<&str>,
    repository: &str,
    image: &Image,
    tag: &str,
) -> Result<()> {
    let result = at
        .client
        .ecr
        .put_image()
        .set_registry_id(registry_id.map(str::to_string))
        .repository_name(repository)
        .image_manifest(&image.manifest)
        .set_image_manifest_media_type(image.media_type.clone())
        .image_tag(tag)
        .image_digest(&image.digest)
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error().is_some_and(|s| {
                // moto answers ImageAlreadyExistsException where AWS answers ImageTagAlreadyExists.
                s.is_image_tag_already_exists_exception() || s.is_image_already_exists_exception()
            }) =>
        {
            // AWS answers ImageAlreadyExists when the tag names this image already: what the
            // retry of a PutImage whose answer was lost meets. Read the tag: if it names the
            // image, the tag is where it was wanted.
            let now = shared::ecr::get_images(
                &at.client.ecr,
                registry_id,
                repository,
                &[shared::ecr::ImageId::Tag(tag.to_string())],
            )
            .await;
            if let Ok(found) = now {
                if found
                    .first()
                    .and_then(Option::as_ref)
                    .is_some_and(|now| now.digest == image.digest)
                {
                    return Ok(());
                }
            }
            Err(Error::precondition(format!(
                "{repository}: tag {tag} already names another image and the repository's tags are \
                 immutable; nothing changed (use another tag, or make the repository's tags mutable)"
            )))
        }
        Err(e) => Err(aws_error(
            format!("failed to tag {repository}@{} as {tag}", image.digest),
            &e,
        )),
    }
}

/// Remove a tag (undoing its creation). The image stays, under its digest and other tags.
pub async fn remove_tag(
    at: &Located,
    registry_id: Option<&str>,
    repository: &str,
    tag: &str,
) -> Result<()> {
    let out = at
        .client
        .ecr
        .batch_delete_image()
        .set_registry_id(registry_id.map(str::to_string))
        .repository_name(repository)
        .image_ids(
            aws_sdk_ecr::types::ImageIdentifier::builder()
                .image_tag(tag)
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws_error(format!("failed to remove tag {tag} from {repository}"), &e))?;
    if let Some(failure) = out.failures().first() {
        return Err(Error::Aws {
            doing: format!("removing tag {tag} from {repository}"),
            message: failure
                .failure_reason()
                .unwrap_or("ECR refused")
                .to_string(),
        });
    }
    Ok(())
}

/// `definition`'s containers, each named one running its image of `images`.
fn with_images(definition: &TaskDefinition, images: &[ContainerImage]) -> Vec<ContainerDefinition> {
    definition
        .container_definitions()
        .iter()
        .map(|container| {
            let mut container = container.clone();
            if let Some(new) = images
                .iter()
                .find(|i| Some(i.container.as_str()) == container.name())
            {
                container.image = Some(new.image.clone());
            }
            container
        })
        .collect()
}

/// Whether [`register`] of `definition` with `images` would register what `existing` (a
/// revision of the same family, with its tags) already is: every field it sends, containers
/// and tags included. Both were read back from ECS, so the defaults ECS fills in are in both.
#[must_use]
pub fn registers_as(
    definition: &TaskDefinition,
    tags: &[Tag],
    images: &[ContainerImage],
    existing: &TaskDefinition,
    existing_tags: &[Tag],
) -> bool {
    let (a, b) = (definition, existing);
    let mut tags_a = tags.to_vec();
    let mut tags_b = existing_tags.to_vec();
    let by_key = |t: &Tag, u: &Tag| t.key().cmp(&u.key()).then(t.value().cmp(&u.value()));
    tags_a.sort_by(by_key);
    tags_b.sort_by(by_key);
    a.family() == b.family()
        && with_images(a, images) == b.container_definitions()
        && a.task_role_arn() == b.task_role_arn()
        && a.execution_role_arn() == b.execution_role_arn()
        && a.network_mode() == b.network_mode()
        && a.volumes() == b.volumes()
        && a.placement_constraints() == b.placement_constraints()
        && a.requires_compatibilities() == b.requires_compatibilities()
        && a.cpu() == b.cpu()
        && a.memory() == b.memory()
        && a.pid_mode() == b.pid_mode()
        && a.ipc_mode() == b.ipc_mode()
        && a.proxy_configuration() == b.proxy_configuration()
        && a.ephemeral_storage() == b.ephemeral_storage()
        && a.runtime_platform() == b.runtime_platform()
        && a.enable_fault_injection() == b.enable_fault_injection()
        && tags_a == tags_b
}

/// Register a new revision of `definition`'s family: the same definition (roles, CPU, memory,
/// environment, secrets, logging, volumes...) with each named container's image replaced. The
/// fields ECS fills in itself (ARN, revision, status, timestamps) are not carried over, nor
/// inference accelerators, which ECS no longer accepts.
pub async fn register(
    at: &Located,
    definition: &TaskDefinition,
    tags: &[Tag],
    images: &[ContainerImage],
) -> Result<String> {
    let containers = with_images(definition, images);
    let family = definition.family().unwrap_or_default();
    let out = at
        .client
        .ecs
        .register_task_definition()
        .family(family)
        .set_task_role_arn(definition.task_role_arn().map(str::to_string))
        .set_execution_role_arn(definition.execution_role_arn().map(str::to_string))
        .set_network_mode(definition.network_mode().cloned())
        .set_container_definitions(Some(containers))
        .set_volumes(Some(definition.volumes().to_vec()).filter(|v| !v.is_empty()))
        .set_placement_constraints(
            Some(definition.placement_constraints().to_vec()).filter(|v| !v.is_empty()),
        )
        .set_requires_compatibilities(
            Some(definition.requires_compatibilities().to_vec()).filter(|v| !v.is_empty()),
        )
        .set_cpu(definition.cpu().map(str::to_string))
        .set_memory(definition.memory().map(str::to_string))
        .set_tags(Some(tags.to_vec()).filter(|t| !t.is_empty()))
        .set_pid_mode(definition.pid_mode().cloned())
        .set_ipc_mode(definition.ipc_mode().cloned())
        .set_proxy_configuration(definition.proxy_configuration().cloned())
        .set_ephemeral_storage(definition.ephemeral_storage().cloned())
        .set_runtime_platform(definition.runtime_platform().cloned())
        .set_enable_fault_injection(definition.enable_fault_injection())
        .send()
        .await
        .map_err(|e| {
            aws_error(
                format!("failed to register a new revision of task definition family {family}"),
                &e,
            )
        })?;
    out.task_definition()
        .and_then(TaskDefinition::task_definition_arn)
        .map(str::to_string)
        .ok_or_else(|| Error::Aws {
            doing: format!("registering a revision of {family}"),
            message: "AWS answered without the new task definition's ARN".into(),
        })
}

/// Make a service run a task definition (always its full ARN, so what the service reports is
/// exactly what was asked for).
pub async fn update_service(
    at: &Located,
    cluster: &str,
    service: &str,
    task_definition: &str,
    deployment: Option<&aws_sdk_ecs::types::DeploymentConfiguration>,
) -> Result<()> {
    at.client
        .ecs
        .update_service()
        .cluster(cluster)
        .service(service)
        .task_definition(task_definition)
        .set_deployment_configuration(deployment.cloned())
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws_error(format!("failed to update service {cluster}/{service}"), &e))
}
