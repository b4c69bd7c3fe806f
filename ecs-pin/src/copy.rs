//! Images that must be copied for a promotion: where the target environment's registry is
//! another account's or region's than the image's (and promote.toml names no registry they
//! share), the target runs the same digest from its own registry. `prepare` finds them and checks
//! what it can without writing (the source has the image, the target has the repository); `apply`
//! copies them (`shared::ecr_copy`), each checked to be the source's digest before anything is
//! registered. The records say where each image was copied from (`copied_from`).

use crate::calls::{Clients, Located};
use crate::plan::{self, Placement};
use crate::reads::Memos;
use serde_json::{json, Value};
use shared::ecr::{registry_host, ImageId};
use shared::ecr_copy::{self, Copied, Repository};
use shared::record::ContainerImage;
use shared::{Error, Result};

/// One image to copy into the target's registry.
#[derive(Debug, Clone)]
pub(crate) struct Copy {
    /// The containers that run it.
    pub containers: Vec<String>,
    /// The source registry's clients (the source environment's credentials, in its region).
    pub from: Located,
    pub account: String,
    pub region: String,
    pub repository: String,
    pub digest: String,
    /// The target has the image already (as `prepare` read it): nothing to copy.
    pub present: bool,
}

impl Copy {
    /// The source image, pinned by digest.
    pub fn source_image(&self) -> String {
        format!(
            "{}/{}@{}",
            registry_host(&self.account, &self.region),
            self.repository,
            self.digest
        )
    }

    /// The record's entry: where the image came from, and what the copy did (`None`: planned).
    pub fn entry(&self, copied: Option<&Copied>) -> Value {
        let mut entry = json!({
            "containers": self.containers,
            "image": self.source_image(),
            "account": self.account,
            "region": self.region,
            "repository": self.repository,
            "digest": self.digest,
        });
        if let Some(map) = entry.as_object_mut() {
            match copied {
                Some(copied) => {
                    map.insert("already_present".into(), copied.present.into());
                    map.insert("manifests_copied".into(), copied.manifests.into());
                    map.insert("blobs_copied".into(), copied.blobs_copied.into());
                    map.insert("blobs_skipped".into(), copied.blobs_skipped.into());
                    map.insert("bytes_copied".into(), copied.bytes_copied.into());
                }
                None => {
                    map.insert("already_present".into(), self.present.into());
                }
            }
        }
        entry
    }

    /// Copy the image into `target`'s registry (the repository of the same name).
    pub async fn run(&self, target: &Located) -> Result<Copied> {
        let copied = ecr_copy::copy_image(
            Repository {
                client: &self.from.client.ecr,
                registry_id: Some(&self.account),
                name: &self.repository,
            },
            Repository {
                client: &target.client.ecr,
                registry_id: target.account.as_deref(),
                name: &self.repository,
            },
            &self.digest,
        )
        .await?;
        if !copied.present {
            tracing::info!(
                "copied {} into {}: {} blob(s), {} bytes; {} blob(s) were there",
                self.source_image(),
                target_host(target).unwrap_or_default(),
                copied.blobs_copied,
                copied.bytes_copied,
                copied.blobs_skipped
            );
        }
        Ok(copied)
    }
}

/// The target's own registry host, when its account and region are known.
fn target_host(target: &Located) -> Option<String> {
    Some(registry_host(
        target.account.as_deref()?,
        target.region.as_deref()?,
    ))
}

/// Decide, for a promotion of `images` into `target` (what its service's environment reaches),
/// which images are copied into its own registry: those images are renamed there (same
/// repository, same digest), and each copy is checked as far as reads go: the source has the
/// image (read with `source_env`'s credentials) and the target has the repository.
pub(crate) async fn place(
    clients: &Clients<'_>,
    memos: &Memos,
    what: &str,
    images: Vec<ContainerImage>,
    source_env: Option<&str>,
    target: &Located,
    shared_registry: Option<(&str, &str)>,
) -> Result<(Vec<ContainerImage>, Vec<Copy>)> {
    let here = target.account.as_deref().zip(target.region.as_deref());
    let mut placed = Vec::with_capacity(images.len());
    let mut wanted: Vec<(Vec<String>, String, String, String, String)> = Vec::new();
    for mut image in images {
        if let Placement::Copy {
            account,
            region,
            repository,
        } = plan::placement(&image.image, here, shared_registry)
        {
            let host = target_host(target).unwrap_or_default();
            image.image = format!("{host}/{repository}@{}", image.digest);
            match wanted.iter_mut().find(|(_, a, r, repo, d)| {
                *a == account && *r == region && *repo == repository && *d == image.digest
            }) {
                Some((containers, ..)) => containers.push(image.container.clone()),
                None => wanted.push((
                    vec![image.container.clone()],
                    account,
                    region,
                    repository,
                    image.digest.clone(),
                )),
            }
        }
        placed.push(image);
    }
    let mut copies = Vec::with_capacity(wanted.len());
    for (containers, account, region, repository, digest) in wanted {
        let from = clients.get(source_env, Some(&region)).await?;
        let id = ImageId::Digest(digest.clone());
        let found = memos
            .of(&from)
            .images
            .get(
                &from.client.ecr,
                Some(&account),
                &repository,
                std::slice::from_ref(&id),
            )
            .await?;
        if found.first().is_none_or(Option::is_none) {
            return Err(Error::precondition(format!(
                "{what}: container {}: {repository}@{digest} does not exist in ECR (registry \
                 {account}, {region}): there is nothing to copy; nothing changed",
                containers.join(", ")
            )));
        }
        // The target must have the repository; whether it has the image decides the plan.
        let present = shared::ecr::get_images(
            &target.client.ecr,
            target.account.as_deref(),
            &repository,
            std::slice::from_ref(&id),
        )
        .await
        .map_err(|e| match e {
            Error::Precondition(_) => Error::precondition(format!(
                "{what}: {}",
                ecr_copy::missing_repository(Repository {
                    client: &target.client.ecr,
                    registry_id: target.account.as_deref(),
                    name: &repository,
                })
            )),
            e => e,
        })?
        .first()
        .is_some_and(Option::is_some);
        copies.push(Copy {
            containers,
            from,
            account,
            region,
            repository,
            digest,
            present,
        });
    }
    Ok((placed, copies))
}

/// Copy every image (side by side; blobs are bounded by the copy itself), before anything is
/// registered: the first failure fails the promotion, and nothing is pinned.
pub(crate) async fn run_all(target: &Located, copies: &[Copy]) -> Result<Vec<Copied>> {
    futures::future::join_all(copies.iter().map(|copy| copy.run(target)))
        .await
        .into_iter()
        .collect()
}

/// The `copied_from` field of a record: one entry per image.
pub(crate) fn field(copies: &[Copy], copied: Option<&[Copied]>) -> Value {
    Value::Array(
        copies
            .iter()
            .enumerate()
            .map(|(i, copy)| copy.entry(copied.and_then(|c| c.get(i))))
            .collect(),
    )
}
