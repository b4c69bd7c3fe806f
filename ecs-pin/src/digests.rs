//! Turning image references into digests: a task definition's containers, or the images named
//! on the command line. References are grouped by registry and repository so each repository is
//! asked once, however many tags of it are named, and a run's memos keep the answers so services
//! that name the same images do not ask again.

use crate::calls::{Clients, Located};
use crate::reads::Memos;
use futures::StreamExt;
use shared::config::EnvSettings;
use shared::ecr::{registry_host, Image, ImageId};
use shared::image::ImageRef;
use shared::record::ContainerImage;
use shared::{Error, Result};
use std::collections::BTreeMap;

/// One reference, found: the image as ECR has it, and the reference pinned by its digest.
#[derive(Debug, Clone)]
pub struct Found {
    pub reference: ImageRef,
    pub image: Image,
    /// `<registry>/<repository>@sha256:...`
    pub pinned: String,
    /// Where it was found (for records and for writing back to the same repository).
    pub at: Located,
}

type Group = (Option<String>, Option<String>, String);

/// How ECR is asked for a reference: by its digest, else by its tag (`latest` when it names
/// neither).
pub fn image_id(reference: &ImageRef) -> ImageId {
    match (&reference.digest, &reference.tag) {
        (Some(digest), _) => ImageId::Digest(digest.clone()),
        (None, tag) => ImageId::Tag(tag.clone().unwrap_or_else(|| "latest".into())),
    }
}

/// A reference and ECR's answer for it (asked as `id`, through `at`): found, or a refusal naming
/// what is missing.
pub fn found(
    reference: &ImageRef,
    id: &ImageId,
    image: Option<Image>,
    at: &Located,
) -> Result<Found> {
    match image {
        Some(image) => {
            let host = registry_host(
                &image.registry_id,
                at.region.as_deref().unwrap_or("us-east-1"),
            );
            Ok(Found {
                pinned: reference.pinned(&host, &image.digest),
                reference: reference.clone(),
                image,
                at: at.clone(),
            })
        }
        None => Err(Error::precondition(format!(
            "{}{id} does not exist in ECR{}",
            reference.repository,
            at.region
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ))),
    }
}

/// Look every reference up in ECR, grouped by repository, through the run's memos (an image
/// already looked up in this run is not asked for again). Each answer is in input order: `Err`
/// names a reference ECR does not have.
pub(crate) async fn find(
    clients: &Clients<'_>,
    memos: &Memos,
    env: Option<&str>,
    references: &[ImageRef],
) -> Result<Vec<Result<Found>>> {
    let mut groups: BTreeMap<Group, Vec<usize>> = BTreeMap::new();
    for (index, reference) in references.iter().enumerate() {
        let ecr = reference.ecr();
        let key = (
            ecr.as_ref().map(|e| e.account.clone()),
            ecr.map(|e| e.region),
            reference.repository.clone(),
        );
        groups.entry(key).or_default().push(index);
    }
    let mut found: Vec<Option<Result<Found>>> = references.iter().map(|_| None).collect();
    let lookups = groups
        .into_iter()
        .map(|((account, region, repository), indexes)| async move {
            let ids: Vec<ImageId> = indexes.iter().map(|&i| image_id(&references[i])).collect();
            let images = async {
                let at = clients.get(env, region.as_deref()).await?;
                let images = memos
                    .of(&at)
                    .images
                    .get(&at.client.ecr, account.as_deref(), &repository, &ids)
                    .await?;
                Ok::<_, Error>((images, at))
            }
            .await;
            (indexes, ids, images)
        });
    for (indexes, ids, images) in futures::future::join_all(lookups).await {
        match images {
            Ok((images, at)) => {
                for ((index, id), image) in indexes.into_iter().zip(ids).zip(images) {
                    found[index] = Some(self::found(&references[index], &id, image, &at));
                }
            }
            // A missing repository is a refusal of each of its references, naming it; the
            // other repositories' answers stand.
            Err(Error::Precondition(message)) => {
                for index in indexes {
                    found[index] = Some(Err(Error::precondition(message.clone())));
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(found
        .into_iter()
        .map(|f| f.unwrap_or_else(|| Err(Error::usage("an image was not looked up"))))
        .collect())
}

/// Check that ECR has every image an artifact is about to run, by digest (one BatchGetImage per
/// repository, none for an image this run has read already): an image a lifecycle rule expired,
/// or a digest typed by hand, is refused naming the container, before anything is registered.
/// Images of other registries are not ECR's to check.
pub(crate) async fn check_exist(
    clients: &Clients<'_>,
    memos: &Memos,
    env: Option<&str>,
    what: &str,
    images: &[ContainerImage],
) -> Result<()> {
    let mut containers = Vec::new();
    let mut references = Vec::new();
    for image in images {
        let Ok(mut reference) = ImageRef::parse(&image.image) else {
            continue;
        };
        if reference.ecr().is_none() {
            continue;
        }
        reference.tag = None;
        reference.digest = Some(image.digest.clone());
        containers.push(image.container.as_str());
        references.push(reference);
    }
    for (container, found) in containers
        .into_iter()
        .zip(find(clients, memos, env, &references).await?)
    {
        found.map_err(|e| {
            Error::precondition(format!(
                "{what}: container {container}: {e}; nothing changed"
            ))
        })?;
    }
    Ok(())
}

/// Look up, ahead of the work that needs them, the images of several environments: one
/// BatchGetImage per repository (up to 100 ids a call) for every environment that reaches it
/// through the same account and region. The answers go to the memos, where [`find`] takes them;
/// a failure is left for that later lookup to report.
pub(crate) async fn prefetch(
    clients: &Clients<'_>,
    memos: &Memos,
    references: &[(Option<String>, ImageRef)],
    concurrency: usize,
) {
    type Repository = (EnvSettings, Option<String>, String);
    let mut groups: Vec<(Repository, Located, Vec<ImageId>)> = Vec::new();
    for (env, reference) in references {
        let ecr = reference.ecr();
        let Ok(at) = clients
            .get(env.as_deref(), ecr.as_ref().map(|e| e.region.as_str()))
            .await
        else {
            continue;
        };
        let repository = (
            at.settings.clone(),
            ecr.map(|e| e.account),
            reference.repository.clone(),
        );
        let id = image_id(reference);
        match groups.iter_mut().find(|(r, _, _)| *r == repository) {
            Some((_, _, ids)) if ids.contains(&id) => {}
            Some((_, _, ids)) => ids.push(id),
            None => groups.push((repository, at, vec![id])),
        }
    }
    futures::stream::iter(groups.into_iter().map(
        |((_, account, repository), at, ids)| async move {
            let _ = memos
                .of(&at)
                .images
                .get(&at.client.ecr, account.as_deref(), &repository, &ids)
                .await;
        },
    ))
    .buffer_unordered(concurrency.max(1))
    .collect::<Vec<()>>()
    .await;
}

/// What to do with a container that names a tag outside ECR, whose digest cannot be read here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutsideEcr {
    /// Refuse, naming the container and how to pin it: its image is about to be promoted or
    /// registered.
    Refuse,
    /// Leave the container out of the artifact: its definition is about to be replaced.
    Skip,
}

/// Every container's image pinned by digest. An image already pinned by digest needs no lookup
/// (and one of another registry passes unchanged); a tag outside ECR is `outside`'s to decide.
pub(crate) async fn pin_containers(
    clients: &Clients<'_>,
    memos: &Memos,
    env: Option<&str>,
    what: &str,
    containers: &[(String, String)],
    outside: OutsideEcr,
) -> Result<Vec<ContainerImage>> {
    let mut references = Vec::new();
    let mut lookups = Vec::new();
    let mut kept = Vec::new();
    for (name, image) in containers {
        let reference = ImageRef::parse(image)
            .map_err(|e| Error::precondition(format!("{what}: container {name}: {e}")))?;
        if reference.digest.is_none() {
            if !reference.is_ecr() {
                if outside == OutsideEcr::Skip {
                    tracing::warn!(
                        "{what}: container {name} runs {image}, a tag outside ECR: the record \
                         names no digest for it"
                    );
                    continue;
                }
                return Err(Error::precondition(format!(
                    "{what}: container {name} runs {image}, a tag outside ECR (only \
                     ACCOUNT.dkr.ecr.REGION.amazonaws.com is ECR; a name without a registry is \
                     Docker Hub's) whose digest cannot be read here; pin it by digest in the task \
                     definition ({image}@sha256:..., the digest `docker buildx imagetools \
                     inspect {image}` prints), or push it to ECR and name it there"
                )));
            }
            lookups.push(references.len());
        }
        references.push(reference);
        kept.push(name);
    }
    let wanted: Vec<ImageRef> = lookups.iter().map(|&i| references[i].clone()).collect();
    let mut found = find(clients, memos, env, &wanted).await?.into_iter();
    let mut pinned = Vec::with_capacity(containers.len());
    for (name, reference) in kept.into_iter().zip(&references) {
        let (image, digest) = match (reference.by_own_digest(), &reference.digest) {
            (Some(image), Some(digest)) => (image, digest.clone()),
            _ => {
                let found = found
                    .next()
                    .unwrap_or_else(|| Err(Error::usage("an image was not looked up")))
                    .map_err(|e| Error::precondition(format!("{what}: container {name}: {e}")))?;
                (found.pinned, found.image.digest)
            }
        };
        pinned.push(ContainerImage {
            container: name.clone(),
            image,
            digest,
        });
    }
    Ok(pinned)
}
