//! Seeding and reading back ECR repositories and ECS services in the emulator. Images are pushed
//! with their digest set to the SHA-256 of the manifest, as ECR computes it (the emulator stores
//! whatever digest it is given).

use aws_sdk_ecs::types::{ContainerDefinition, KeyValuePair, Secret, TaskDefinition};
use sha2::{Digest, Sha256};

const MANIFEST_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// An ECR client for the emulator.
#[must_use]
pub fn ecr() -> aws_sdk_ecr::Client {
    aws_sdk_ecr::Client::new(&crate::emulator::sdk_config())
}

/// An ECS client for the emulator.
#[must_use]
pub fn ecs() -> aws_sdk_ecs::Client {
    aws_sdk_ecs::Client::new(&crate::emulator::sdk_config())
}

/// The registry host of the emulator's account.
pub const REGISTRY: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

/// Create a repository; `immutable` makes its tags immutable.
pub async fn create_repository(name: &str, immutable: bool) {
    ecr()
        .create_repository()
        .repository_name(name)
        .image_tag_mutability(if immutable {
            aws_sdk_ecr::types::ImageTagMutability::Immutable
        } else {
            aws_sdk_ecr::types::ImageTagMutability::Mutable
        })
        .send()
        .await
        .expect("create a repository");
}

/// A manifest whose bytes (and so digest) depend on `marker`.
#[must_use]
pub fn manifest(marker: &str) -> String {
    let config = format!("{:x}", Sha256::digest(marker.as_bytes()));
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{MANIFEST_TYPE}","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":7,"digest":"sha256:{config}"}},"layers":[]}}"#
    )
}

/// Push an image (its manifest only: layers are never checked) under `tag`; returns its digest.
pub async fn push_image(repository: &str, marker: &str, tag: &str) -> String {
    let manifest = manifest(marker);
    let digest = format!("sha256:{:x}", Sha256::digest(manifest.as_bytes()));
    ecr()
        .put_image()
        .repository_name(repository)
        .image_manifest(&manifest)
        .image_manifest_media_type(MANIFEST_TYPE)
        .image_tag(tag)
        .image_digest(&digest)
        .send()
        .await
        .expect("push an image");
    digest
}

/// The digest a tag names now (None: no such tag).
pub async fn tag_digest(repository: &str, tag: &str) -> Option<String> {
    let out = ecr()
        .describe_images()
        .repository_name(repository)
        .send()
        .await
        .expect("describe images");
    out.image_details()
        .iter()
        .find(|d| d.image_tags().iter().any(|t| t == tag))
        .and_then(|d| d.image_digest())
        .map(str::to_string)
}

/// A container for [`create_service`]: name, image, environment and secrets (name, valueFrom).
#[derive(Debug, Clone)]
pub struct Container<'a> {
    pub name: &'a str,
    pub image: String,
    pub environment: Vec<(&'a str, &'a str)>,
    pub secrets: Vec<(&'a str, &'a str)>,
}

/// An ECR client acting where `config` acts (another account or region:
/// [`crate::accounts::sdk_config`]).
#[must_use]
pub fn ecr_in(config: &aws_config::SdkConfig) -> aws_sdk_ecr::Client {
    aws_sdk_ecr::Client::new(config)
}

/// An ECS client acting where `config` acts.
#[must_use]
pub fn ecs_in(config: &aws_config::SdkConfig) -> aws_sdk_ecs::Client {
    aws_sdk_ecs::Client::new(config)
}

/// An image manifest naming a config blob and layers (digest, size), as `docker push` writes it.
#[must_use]
pub fn manifest_of(config: (&str, usize), layers: &[(&str, usize)]) -> String {
    let layers: Vec<String> = layers
        .iter()
        .map(|(digest, size)| {
            format!(
                r#"{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":{size},"digest":"{digest}"}}"#
            )
        })
        .collect();
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{MANIFEST_TYPE}","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":{},"digest":"{}"}},"layers":[{}]}}"#,
        config.1,
        config.0,
        layers.join(",")
    )
}

/// Put `manifest` into `repository` through `client` under `tag`, its digest the SHA-256 of its
/// bytes; returns the digest.
pub async fn put_manifest(
    client: &aws_sdk_ecr::Client,
    repository: &str,
    manifest: &str,
    tag: &str,
) -> String {
    let digest = format!("sha256:{:x}", Sha256::digest(manifest.as_bytes()));
    client
        .put_image()
        .repository_name(repository)
        .image_manifest(manifest)
        .image_manifest_media_type(MANIFEST_TYPE)
        .image_tag(tag)
        .image_digest(&digest)
        .send()
        .await
        .expect("put an image");
    digest
}

/// Register a task definition of `family` with these containers (and CPU, memory, a tag).
pub async fn register(family: &str, containers: &[Container<'_>]) -> String {
    register_with(&ecs(), family, containers).await
}

/// [`register`] through `client` (another account or region).
pub async fn register_with(
    client: &aws_sdk_ecs::Client,
    family: &str,
    containers: &[Container<'_>],
) -> String {
    let definitions: Vec<ContainerDefinition> = containers
        .iter()
        .map(|c| {
            ContainerDefinition::builder()
                .name(c.name)
                .image(&c.image)
                .memory(128)
                .set_environment(Some(
                    c.environment
                        .iter()
                        .map(|(k, v)| KeyValuePair::builder().name(*k).value(*v).build())
                        .collect(),
                ))
                .set_secrets(Some(
                    c.secrets
                        .iter()
                        .map(|(k, v)| {
                            Secret::builder()
                                .name(*k)
                                .value_from(*v)
                                .build()
                                .expect("a secret")
                        })
                        .collect(),
                ))
                .build()
        })
        .collect();
    client
        .register_task_definition()
        .family(family)
        .set_container_definitions(Some(definitions))
        .cpu("256")
        .memory("512")
        .execution_role_arn(format!("arn:aws:iam::123456789012:role/{family}-exec"))
        .tags(
            aws_sdk_ecs::types::Tag::builder()
                .key("family")
                .value(family)
                .build(),
        )
        .send()
        .await
        .expect("register a task definition")
        .task_definition()
        .and_then(TaskDefinition::task_definition_arn)
        .expect("an ARN")
        .to_string()
}

/// Create a cluster (if needed) and a service in it running a new task definition.
pub async fn create_service(
    cluster: &str,
    service: &str,
    family: &str,
    containers: &[Container<'_>],
) -> String {
    create_service_with(&ecs(), cluster, service, family, containers).await
}

/// [`create_service`] through `client` (another account or region).
pub async fn create_service_with(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
    family: &str,
    containers: &[Container<'_>],
) -> String {
    let _ = client.create_cluster().cluster_name(cluster).send().await;
    let arn = register_with(client, family, containers).await;
    client
        .create_service()
        .cluster(cluster)
        .service_name(service)
        .task_definition(&arn)
        .desired_count(1)
        .send()
        .await
        .expect("create a service");
    arn
}

/// The task definition a service runs now.
pub async fn service_task_definition(cluster: &str, service: &str) -> String {
    service_task_definition_with(&ecs(), cluster, service).await
}

/// [`service_task_definition`] through `client`.
pub async fn service_task_definition_with(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
) -> String {
    client
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .expect("describe the service")
        .services()
        .first()
        .and_then(|s| s.task_definition())
        .expect("the service exists")
        .to_string()
}

/// Move a service to a task definition behind the tools' back.
pub async fn set_service(cluster: &str, service: &str, task_definition: &str) {
    ecs()
        .update_service()
        .cluster(cluster)
        .service(service)
        .task_definition(task_definition)
        .send()
        .await
        .expect("update the service");
}

/// A task definition, with its tags.
pub async fn task_definition(arn: &str) -> (TaskDefinition, Vec<aws_sdk_ecs::types::Tag>) {
    task_definition_with(&ecs(), arn).await
}

/// [`task_definition`] through `client`.
pub async fn task_definition_with(
    client: &aws_sdk_ecs::Client,
    arn: &str,
) -> (TaskDefinition, Vec<aws_sdk_ecs::types::Tag>) {
    let out = client
        .describe_task_definition()
        .task_definition(arn)
        .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
        .send()
        .await
        .expect("describe a task definition");
    (
        out.task_definition().cloned().expect("a definition"),
        out.tags().to_vec(),
    )
}
