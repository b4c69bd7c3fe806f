//! `rollback`: undo what records on stdin say was done to ECS services and ECR tags, only where
//! the pointer still holds what the record says it was moved to. Other services pass through.

use crate::args::RollbackArgs;
use crate::calls;
use crate::plan;
use crate::reads::{Depth, Reads};
use crate::{wait, Clients, Options, ServiceRef};
use shared::batch::{self, Outcome};
use shared::ecr::ImageId;
use shared::image::{is_digest, ImageRef};
use shared::input::Input;
use shared::output::Output;
use shared::record::{to_value, EcrArtifact, EcsArtifact};
use shared::{Action, Error, ExitCode, Record, Result, Service};

/// The net change to one pointer over all records about it.
#[derive(Debug)]
enum Undo {
    Service {
        service: ServiceRef,
        changed_to: EcsArtifact,
        restore: EcsArtifact,
    },
    Tag {
        repository: String,
        tag: String,
        region: Option<String>,
        changed_to: Option<EcrArtifact>,
        restore: Option<EcrArtifact>,
    },
}

impl batch::Change for Undo {
    fn key(&self) -> String {
        match self {
            Undo::Service { service, .. } => {
                format!("ecs {} {:?}", service.resource(), service.env)
            }
            Undo::Tag {
                repository,
                tag,
                region,
                ..
            } => format!("ecr {repository}:{tag} {region:?}"),
        }
    }

    fn then(&mut self, later: Undo) {
        match (self, later) {
            (
                Undo::Service { changed_to, .. },
                Undo::Service {
                    changed_to: later, ..
                },
            ) => *changed_to = later,
            (
                Undo::Tag { changed_to, .. },
                Undo::Tag {
                    changed_to: later, ..
                },
            ) => *changed_to = later,
            _ => {}
        }
    }
}

pub(crate) async fn run(
    args: &RollbackArgs,
    input: &Input,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    let (work, undos) = batch::changes(input, &[Service::Ecs, Service::Ecr], undo_of)?;
    let undos = &undos;
    let reads = Reads::new(clients, opts.concurrency, Depth::State);
    let reads = &reads;
    batch::run(work, opts.concurrency, out, |index| async move {
        match &undos[index] {
            Undo::Service {
                service,
                changed_to,
                restore,
            } => undo_service(service, changed_to, restore, args, reads, opts).await,
            Undo::Tag {
                repository,
                tag,
                region,
                changed_to,
                restore,
            } => undo_tag(
                repository,
                tag,
                region.as_deref(),
                changed_to.as_ref(),
                restore.as_ref(),
                clients,
                opts,
            )
            .await
            .into(),
        }
    })
    .await
}

fn artifact<T: serde::de::DeserializeOwned>(
    origin: &str,
    field: &str,
    value: Option<&serde_json::Value>,
    shape: &str,
) -> Result<Option<T>> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v.clone())
            .map(Some)
            .map_err(|e| Error::bad_input(origin, format!("`{field}` is not {shape}: {e}"))),
    }
}

fn undo_of(record: &Record, origin: &str) -> Result<Option<Undo>> {
    if !record.action.moved_a_pointer() {
        return Ok(None);
    }
    let Some(pointer) = &record.pointer else {
        return Ok(None); // a task definition registered (pin without --deploy): no pointer moved
    };
    match record.service {
        Service::Ecs => {
            let shape = "an ecs artifact {\"task_definition\", \"images\"}";
            let changed_to: Option<EcsArtifact> =
                artifact(origin, "artifact", record.artifact.as_ref(), shape)?;
            let restore: Option<EcsArtifact> =
                artifact(origin, "previous", record.previous.as_ref(), shape)?;
            let (Some(changed_to), Some(restore)) = (changed_to, restore) else {
                return Err(Error::bad_input(
                    origin,
                    "an ecs change record needs both `artifact` and `previous` to be rolled back",
                ));
            };
            if changed_to.task_definition.is_none() || restore.task_definition.is_none() {
                return Err(Error::bad_input(
                    origin,
                    "an ecs change record names no `task_definition`",
                ));
            }
            let service = ServiceRef::from_resource(&record.resource, record.env.clone())
                .map_err(|e| Error::bad_input(origin, format!("`resource`: {e}")))?;
            if &service.service != pointer {
                return Err(Error::bad_input(
                    origin,
                    format!(
                        "`pointer` {pointer:?} is not the service of {:?}",
                        record.resource
                    ),
                ));
            }
            Ok(Some(Undo::Service {
                service,
                changed_to,
                restore,
            }))
        }
        _ => {
            let shape = "an ecr artifact {\"digest\", \"image\"}";
            let changed_to = artifact(origin, "artifact", record.artifact.as_ref(), shape)?;
            let restore = artifact(origin, "previous", record.previous.as_ref(), shape)?;
            Ok(Some(Undo::Tag {
                repository: record.resource.clone(),
                tag: pointer.clone(),
                region: record.region.clone(),
                changed_to,
                restore,
            }))
        }
    }
}

async fn undo_service(
    service: &ServiceRef,
    changed_to: &EcsArtifact,
    restore: &EcsArtifact,
    args: &RollbackArgs,
    reads: &Reads<'_>,
    opts: Options,
) -> Outcome {
    // Before any await: the undos that start together are read together.
    reads.want(service);
    let (at, state) = match reads.state(service).await {
        Ok((at, Some(state))) => (at, state),
        Ok((_, None)) => {
            return Err(Error::precondition(format!(
                "service {} does not exist",
                service.resource()
            )))
            .into()
        }
        Err(e) => return Err(e).into(),
    };
    let to = changed_to.task_definition.as_deref().unwrap_or_default();
    let back = restore.task_definition.as_deref().unwrap_or_default();
    let step = match plan::rollback(&service.resource(), &state.task_definition, to, back) {
        Ok(step) => step,
        Err(e) => return Err(e).into(),
    };
    let Some(back) = step else {
        return Ok(vec![service.record(
            Action::Unchanged,
            &at,
            Some(restore),
            Some(restore),
        )])
        .into();
    };
    if opts.dry_run {
        return Ok(vec![service.planned(
            Action::RolledBack,
            &at,
            Some(restore),
            Some(changed_to),
        )])
        .into();
    }
    if let Err(e) = calls::update_service(&at, &service.cluster, &service.service, back).await {
        return Err(e).into();
    }
    let records = vec![service.record(Action::RolledBack, &at, Some(restore), Some(changed_to))];
    if args.wait.wait {
        if let Err(e) = wait::until_deployed(
            &at,
            &service.cluster,
            &service.service,
            back,
            &args.wait,
            opts.quiet,
        )
        .await
        {
            return Outcome::partial(records, e);
        }
    }
    Ok(records).into()
}

async fn undo_tag(
    repository: &str,
    tag: &str,
    region: Option<&str>,
    changed_to: Option<&EcrArtifact>,
    restore: Option<&EcrArtifact>,
    clients: &Clients<'_>,
    opts: Options,
) -> Result<Vec<Record>> {
    // The registry's account is in the images' URIs.
    let account = [changed_to, restore]
        .into_iter()
        .flatten()
        .find_map(|a| ImageRef::parse(&a.image).ok()?.ecr())
        .map(|e| e.account);
    let at = clients.get(None, region).await?;
    // What the tag names now and, in the same call, the image it would move back to.
    let restore_id = restore
        .map(|a| a.digest.as_str())
        .filter(|digest| is_digest(digest))
        .map(|digest| ImageId::Digest(digest.to_string()));
    let mut ids = vec![ImageId::Tag(tag.to_string())];
    ids.extend(restore_id.clone());
    let mut images = shared::ecr::get_images(&at.client.ecr, account.as_deref(), repository, &ids)
        .await?
        .into_iter();
    let now = images.next().flatten();
    let restore_image = images.next().flatten();
    let step = plan::rollback_tag(
        &format!("{repository}:{tag}"),
        now.as_ref().map(|i| i.digest.as_str()),
        changed_to.map(|a| a.digest.as_str()),
        restore.map(|a| a.digest.as_str()),
    )?;
    let mut record = Record::new(Service::Ecr, Action::RolledBack, repository);
    record.region.clone_from(&at.region);
    record.pointer = Some(tag.to_string());
    record.artifact = restore.map(to_value);
    record.previous = changed_to.map(to_value);
    match step {
        None => {
            record.action = Action::Unchanged;
            record.previous = record.artifact.clone();
        }
        Some(_) if opts.dry_run => {
            record = record.into_planned(Action::RolledBack);
        }
        Some(Some(digest)) => {
            let image = match restore_id {
                Some(ImageId::Digest(read)) if read == digest => restore_image,
                _ => shared::ecr::get_images(
                    &at.client.ecr,
                    account.as_deref(),
                    repository,
                    &[ImageId::Digest(digest.clone())],
                )
                .await?
                .pop()
                .flatten(),
            }
            .ok_or_else(|| {
                Error::precondition(format!(
                    "{repository}@{digest} no longer exists: tag {tag} cannot be moved back to it"
                ))
            })?;
            calls::put_tag(&at, account.as_deref(), repository, &image, tag).await?;
        }
        Some(None) => calls::remove_tag(&at, account.as_deref(), repository, tag).await?,
    }
    Ok(vec![record])
}
