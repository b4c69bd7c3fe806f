//! Turning image references into digests: a task definition's containers, or the images named
//! on the command line. References are grouped by registry and repository so each repository is
//! asked once, however many tags of it are named.

use crate::calls::{Clients, Located};
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

/// Look every reference up in ECR, grouped by repository. Each answer is in input order: `Err`
/// names a reference ECR does not have.
pub async fn find(
    clients: &Clients<'_>,
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
            let at = clients.get(env, region.as_deref()).await?;
            let ids: Vec<ImageId> = indexes
                .iter()
                .map(|&i| match (&references[i].digest, &references[i].tag) {
                    (Some(digest), _) => ImageId::Digest(digest.clone()),
                    (None, tag) => ImageId::Tag(tag.clone().unwrap_or_else(|| "latest".into())),
                })
                .collect();
            let images =
                shared::ecr::get_images(&at.client.ecr, account.as_deref(), &repository, &ids)
                    .await?;
            Ok::<_, Error>((indexes, ids, images, at))
        });
    for group in futures::future::join_all(lookups).await {
        let (indexes, ids, images, at) = group?;
        for ((index, id), image) in indexes.into_iter().zip(ids).zip(images) {
            let reference = &references[index];
            found[index] = Some(match image {
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
            });
        }
    }
    Ok(found
        .into_iter()
        .map(|f| f.unwrap_or_else(|| Err(Error::usage("an image was not looked up"))))
        .collect())
}

/// Every container's image pinned by digest. An image already pinned by digest needs no lookup;
/// a tag outside ECR cannot be resolved here and is refused, naming the container.
pub async fn pin_containers(
    clients: &Clients<'_>,
    env: Option<&str>,
    what: &str,
    containers: &[(String, String)],
) -> Result<Vec<ContainerImage>> {
    let mut references = Vec::new();
    let mut lookups = Vec::new();
    for (name, image) in containers {
        let reference = ImageRef::parse(image)
            .map_err(|e| Error::precondition(format!("{what}: container {name}: {e}")))?;
        if reference.digest.is_none() {
            if !reference.is_ecr() {
                return Err(Error::precondition(format!(
                    "{what}: container {name} runs {image}, a tag outside ECR whose digest cannot be \
                     resolved here; pin it by digest in the task definition"
                )));
            }
            lookups.push(references.len());
        }
        references.push(reference);
    }
    let wanted: Vec<ImageRef> = lookups.iter().map(|&i| references[i].clone()).collect();
    let mut found = find(clients, env, &wanted).await?.into_iter();
    let mut pinned = Vec::with_capacity(containers.len());
    for ((name, _), reference) in containers.iter().zip(&references) {
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
