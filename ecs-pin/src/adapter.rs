//! How ECS and ECR keep the engine's promise (`shared::engine::Adapter`). An `ecs` pointer is the
//! task definition a service runs, its artifact that definition with every image pinned by
//! digest; an `ecr` pointer is a tag, its artifact the digest it names. A move registers a
//! revision and updates the service (then, with --wait, follows the deployment), or puts an
//! image's manifest back under a tag, or removes the tag. Reading and deciding happen in
//! `prepare`, through the run's batched reads ([`Reads`]); the writes alone in `apply`.
//!
//! ECS has no compare-and-swap on UpdateService: a service is read in `prepare` and written in
//! `apply` without a token, as it was before the engine.

use crate::args::WaitArgs;
use crate::calls::{self, Located};
use crate::digests::{self, OutsideEcr};
use crate::plan::{self, Step};
use crate::reads::{Depth, Reads};
use crate::{read_running, read_what_runs, tag_target, wait, Clients, Options, ServiceRef};
use aws_sdk_ecs::types::{Tag, TaskDefinition};
use shared::batch::Outcome;
use shared::ecr::{registry_host, Image, ImageId};
use shared::ecs::DeploymentGates;
use shared::engine::{Adapter, Change, Order, Prepared, Target, Verdict};
use shared::image::{is_digest, ImageRef};
use shared::record::{ContainerImage, EcrArtifact, EcsArtifact};
use shared::{Action, Error, Record, Result, Service};

/// Where the images of a promotion come from.
#[derive(Debug)]
pub(crate) enum Source {
    /// What this service runs now.
    Service(ServiceRef),
    /// The artifact of a record on stdin (a release manifest): exactly these digests, read (when
    /// they must be copied) with the credentials of the record's environment.
    Record {
        images: Vec<ContainerImage>,
        env: Option<String>,
    },
}

/// One unit of work.
#[derive(Debug)]
pub(crate) enum Item {
    /// Run the source's digests in `target`, as a revision of its own task definition.
    Promote { target: ServiceRef, source: Source },
    /// Register the service's task definition with every image pinned by digest; with `deploy`,
    /// make the service run it.
    Pin { service: ServiceRef, deploy: bool },
    /// Make `tag` name `image`'s digest, in the image's repository.
    Tag { image: ImageRef, tag: String },
}

/// The pointer a change record names.
#[derive(Debug, Clone)]
pub(crate) enum Pointer {
    /// The task definition a service runs.
    Service(ServiceRef),
    /// A tag of a repository.
    Tag { repository: String, tag: String },
}

/// The artifact of an `ecs` or an `ecr` record.
#[derive(Debug, Clone)]
pub(crate) enum Artifact {
    Ecs(EcsArtifact),
    Ecr(EcrArtifact),
}

/// A new revision of a service's task definition: the definition it is made from, with `images`.
#[derive(Debug)]
pub(crate) struct Revision {
    at: Located,
    service: ServiceRef,
    definition: TaskDefinition,
    tags: Vec<Tag>,
    images: Vec<ContainerImage>,
}

impl Revision {
    async fn register(&self) -> Result<String> {
        calls::register(&self.at, &self.definition, &self.tags, &self.images).await
    }
}

/// The deployment gates a promotion sets: the configuration sent, and the record's field.
#[derive(Debug)]
pub(crate) struct Gates {
    configuration: aws_sdk_ecs::types::DeploymentConfiguration,
    field: serde_json::Value,
}

/// A decided write.
#[derive(Debug)]
pub(crate) enum Move {
    /// Copy the images another registry holds into the target's, then register the revision
    /// and make the service run it.
    Promote {
        revision: Box<Revision>,
        previous: EcsArtifact,
        copies: Vec<crate::copy::Copy>,
        /// `--alarm`: the deployment configuration to send with the update.
        gates: Option<Gates>,
    },
    /// Register the revision (unless the definition is `pinned` already, with that ARN); with
    /// `previous`, make the service run it.
    Pin {
        revision: Box<Revision>,
        pinned: Option<String>,
        previous: Option<EcsArtifact>,
    },
    /// Make the service run a task definition it ran before.
    Deploy {
        at: Located,
        service: ServiceRef,
        task_definition: String,
        record: Record,
    },
    /// Put `image`'s manifest under `tag`.
    Tag {
        at: Located,
        account: Option<String>,
        repository: String,
        image: Box<Image>,
        tag: String,
        record: Record,
    },
    /// Remove `tag` from `repository` (the image stays).
    Untag {
        at: Located,
        account: Option<String>,
        repository: String,
        tag: String,
        record: Record,
    },
}

/// The ECS and ECR adapter of one run.
pub(crate) struct EcsPin<'a> {
    clients: &'a Clients<'a>,
    /// Promotions and pins read each service's state, task definition and images, batched.
    reads: Reads<'a>,
    /// Undos read a service's state only.
    undo_reads: Reads<'a>,
    quiet: bool,
    /// `--dry-run`: what the real run's write would refuse is found by a read instead.
    dry_run: bool,
    /// `--wait`: follow each deployment made until it completes.
    wait: Option<WaitArgs>,
    /// `--expect`: the task definition a promotion's target must run now.
    expect: Option<&'a str>,
    /// `--force`: promote what a source's tasks run even where its tags name other images now.
    force: bool,
    /// promote.toml's order, for a revision deployed straight into an environment (`pin`).
    order: Order<'a>,
    /// promote.toml's `[ecr] registry`: the registry every environment pulls from (account,
    /// region), whose images are never copied.
    shared_registry: Option<(String, String)>,
    /// `--alarm`: the CloudWatch alarms (resolved to names) a promotion's deployment is gated
    /// on, with the circuit breaker.
    alarms: Option<Vec<String>>,
}

impl<'a> EcsPin<'a> {
    pub fn new(clients: &'a Clients<'a>, opts: Options) -> Self {
        EcsPin {
            clients,
            reads: Reads::new(clients, opts.concurrency, Depth::Running),
            undo_reads: Reads::new(clients, opts.concurrency, Depth::State),
            quiet: opts.quiet,
            dry_run: opts.dry_run,
            wait: None,
            expect: None,
            force: false,
            order: Order::new(&[], false),
            shared_registry: None,
            alarms: None,
        }
    }

    /// Gate each promotion's deployment on these alarms (and the circuit breaker).
    pub fn gated(mut self, alarms: Option<Vec<String>>) -> Self {
        self.alarms = alarms;
        self
    }

    /// The registry every environment shares, if promote.toml names one.
    pub fn sharing(mut self, registry: Option<(String, String)>) -> Self {
        self.shared_registry = registry;
        self
    }

    /// Follow the deployments made, as `wait` says.
    pub fn waiting(mut self, wait: &WaitArgs) -> Self {
        self.wait = wait.wait.then_some(*wait);
        self
    }

    pub fn expecting(mut self, expect: Option<&'a str>) -> Self {
        self.expect = expect;
        self
    }

    pub fn forcing(mut self, force: bool) -> Self {
        self.force = force;
        self
    }

    pub fn ordered(mut self, order: Order<'a>) -> Self {
        self.order = order;
        self
    }

    async fn prepare_promote(&self, target: ServiceRef, source: Source) -> Result<Prepared<Move>> {
        // Before any await: the items prepared together are read together.
        if let Source::Service(service) = &source {
            self.reads.want(service);
        }
        self.reads.want(&target);
        let (want, source_env) = match source {
            Source::Record { images, env } => (images, env),
            Source::Service(service) => {
                let source = read_what_runs(&self.reads, &service).await?;
                // Someone moved a tag since the source's tasks started: what the tag names now is
                // not what the source ran, and promoting it would ship what nobody tested.
                if let Some(note) = source.what_runs.as_ref().and_then(|w| w.note.as_ref()) {
                    if !self.force {
                        return Err(Error::precondition(format!(
                            "{}: {note}; nothing changed (pass --force to promote what its tasks run)",
                            service.resource()
                        )));
                    }
                    tracing::warn!(
                        "{}: {note}; promoting what its tasks run because of --force",
                        service.resource()
                    );
                }
                (source.artifact.images, service.env.clone())
            }
        };
        // The target's definition is about to be replaced: a tag outside ECR in it (which no
        // record could pin) does not stand in the way.
        let running = read_running(&self.reads, &target, OutsideEcr::Skip).await?;
        let name = target.resource();
        let images = plan::match_containers(&name, &want, &running.container_names())?;
        let step = plan::promote(&name, &running.artifact, &images, self.expect)?;
        let previous = running.artifact;
        let at = running.at;
        if step == Step::Unchanged {
            return Ok(Prepared::Settled(vec![target.record(
                Action::Unchanged,
                &at,
                Some(&previous),
                Some(&previous),
            )]));
        }
        // An image in another account's or region's registry runs from the target's own
        // registry, copied there with its digest (unless promote.toml names a registry they
        // share): the source has it and the target has its repository, or nothing changes.
        let (images, copies) = crate::copy::place(
            self.clients,
            &self.reads.memos,
            &name,
            images,
            source_env.as_deref(),
            &at,
            self.shared_registry
                .as_ref()
                .map(|(a, r)| (a.as_str(), r.as_str())),
        )
        .await?;
        // Every other image is in ECR before anything is registered: a digest a lifecycle rule
        // expired (or one typed by hand) would deploy a service that cannot start. An image of
        // the target's own registry is read with the target's credentials; one of a registry
        // the environments share, with the source's, which pulled it.
        let (own, other): (Vec<ContainerImage>, Vec<ContainerImage>) = images
            .iter()
            .filter(|i| !copies.iter().any(|c| c.containers.contains(&i.container)))
            .cloned()
            .partition(|i| {
                at.account.is_none()
                    || ImageRef::parse(&i.image)
                        .ok()
                        .and_then(|r| r.ecr())
                        .is_none_or(|e| Some(e.account.as_str()) == at.account.as_deref())
            });
        digests::check_exist(
            self.clients,
            &self.reads.memos,
            target.env.as_deref(),
            &name,
            &own,
        )
        .await?;
        digests::check_exist(
            self.clients,
            &self.reads.memos,
            source_env.as_deref(),
            &name,
            &other,
        )
        .await?;
        // The new revision's ARN is known only once it is registered.
        let planned = EcsArtifact {
            task_definition: None,
            images: images.clone(),
        };
        let mut record = target.planned(Action::Promoted, &at, Some(&planned), Some(&previous));
        if !copies.is_empty() {
            record
                .extra
                .insert("copied_from".into(), crate::copy::field(&copies, None));
            if self.dry_run {
                for copy in copies.iter().filter(|c| !c.present) {
                    shared::cli::note(&format!(
                        "{name}: would copy {} into {}'s registry (dry run: nothing copied)",
                        copy.source_image(),
                        target.env.as_deref().unwrap_or("the target"),
                    ));
                }
            }
        }
        // --alarm: the same UpdateService sets the deployment's alarms and circuit breaker,
        // both rolling back; the record says what the service had before.
        let gates = match &self.alarms {
            None => None,
            Some(names) => {
                let before = running.state.deployment_configuration.as_ref();
                let set = DeploymentGates::rolling_back(names);
                let mut field = serde_json::to_value(&set).unwrap_or_default();
                field["previous"] =
                    serde_json::to_value(DeploymentGates::of(before)).unwrap_or_default();
                record
                    .extra
                    .insert("deployment_alarms".into(), field.clone());
                Some(Gates {
                    configuration: set.applied_to(before)?,
                    field,
                })
            }
        };
        Ok(Prepared::to(
            Move::Promote {
                revision: Box::new(Revision {
                    at,
                    service: target,
                    definition: running.definition,
                    tags: running.tags,
                    images,
                }),
                previous,
                copies,
                gates,
            },
            record,
        ))
    }

    async fn prepare_pin(&self, service: ServiceRef, deploy: bool) -> Result<Prepared<Move>> {
        self.reads.want(&service);
        let running = read_running(&self.reads, &service, OutsideEcr::Refuse).await?;
        let current = running.artifact;
        let at = running.at;
        // Pinned already: every container names exactly its image by digest.
        let pinned = running
            .definition
            .container_definitions()
            .iter()
            .zip(&current.images)
            .all(|(c, i)| c.image() == Some(i.image.as_str()));
        let deployed = !deploy
            || plan::same_task_definition(
                &running.state.task_definition,
                current.task_definition.as_deref().unwrap_or_default(),
            );
        // Without --deploy no pointer moves: the record is about a new artifact only.
        let mut target = service.target(at.region.as_deref());
        if !deploy {
            target.pointer = None;
        }
        if pinned && deployed {
            return Ok(Prepared::Settled(vec![target.record(
                Action::Unchanged,
                Some(&current),
                Some(&current),
            )]));
        }
        digests::check_exist(
            self.clients,
            &self.reads.memos,
            service.env.as_deref(),
            &service.resource(),
            &current.images,
        )
        .await?;
        // A new revision enters the first environment only; the others get theirs by promotion.
        let verdict = match (&service.env, deploy) {
            (Some(env), true) => self
                .order
                .check_new(&format!("pin {} --deploy", service.resource()), env)?,
            _ => Verdict::ALLOWED,
        };
        let previous = deploy.then(|| current.clone());
        let mut pinned = current.task_definition.clone().filter(|_| pinned);
        if pinned.is_none() {
            // The family's latest revision may be this very registration already (an earlier
            // pin without --deploy): run that one rather than register its twin.
            let family = running.definition.family().unwrap_or_default();
            let (latest, latest_tags) =
                shared::ecs::describe_task_definition(&at.client.ecs, family).await?;
            if calls::registers_as(
                &running.definition,
                &running.tags,
                &current.images,
                &latest,
                &latest_tags,
            ) {
                pinned = latest.task_definition_arn().map(str::to_string);
            }
        }
        let reused = EcsArtifact {
            task_definition: pinned.clone(),
            images: current.images.clone(),
        };
        if !deploy && pinned.is_some() {
            return Ok(Prepared::Settled(vec![target.record(
                Action::Unchanged,
                Some(&reused),
                Some(&reused),
            )]));
        }
        let planned = EcsArtifact {
            task_definition: pinned.clone(),
            images: current.images.clone(),
        };
        Ok(Prepared::Move {
            planned: Box::new(target.planned(Action::Published, Some(&planned), previous.as_ref())),
            apply: Move::Pin {
                pinned,
                revision: Box::new(Revision {
                    at,
                    service,
                    definition: running.definition,
                    tags: running.tags,
                    images: current.images,
                }),
                previous,
            },
            verdict,
        })
    }

    async fn prepare_tag(&self, reference: ImageRef, tag: String) -> Result<Prepared<Move>> {
        let ecr = reference.ecr();
        let at = self
            .clients
            .get(None, ecr.as_ref().map(|e| e.region.as_str()))
            .await?;
        let account = ecr.map(|e| e.account);
        // The image and what the tag names now are in one repository: one call reads both.
        let source_id = digests::image_id(&reference);
        let tag_id = ImageId::Tag(tag.clone());
        let ids = if source_id == tag_id {
            vec![source_id.clone()]
        } else {
            vec![source_id.clone(), tag_id]
        };
        let mut images = shared::ecr::get_images(
            &at.client.ecr,
            account.as_deref(),
            &reference.repository,
            &ids,
        )
        .await?
        .into_iter();
        let image = images.next().flatten();
        let current = match images.next() {
            Some(current) => current,
            None => image.clone(),
        };
        let source = digests::found(&reference, &source_id, image, &at)?;
        let host = registry_host(
            &source.image.registry_id,
            at.region.as_deref().unwrap_or("us-east-1"),
        );
        let artifact = |digest: &str| EcrArtifact {
            digest: digest.to_string(),
            image: reference.pinned(&host, digest),
        };
        let after = artifact(&source.image.digest);
        let before = current.as_ref().map(|image| artifact(&image.digest));
        let target = tag_target(&reference.repository, Some(&tag), at.region.as_deref());
        if before.as_ref() == Some(&after) {
            return Ok(Prepared::Settled(vec![target.record(
                Action::Unchanged,
                Some(&after),
                before.as_ref(),
            )]));
        }
        // An IMMUTABLE repository refuses to move a tag: the real run learns it from PutImage
        // (no extra call); a dry run asks, so that it plans what the real run does.
        if self.dry_run
            && before.is_some()
            && shared::ecr::tags_immutable(
                &at.client.ecr,
                account.as_deref(),
                &reference.repository,
            )
            .await?
        {
            return Err(Error::precondition(format!(
                "repository {} has immutable tags: tag {tag} names {} and cannot be moved to {}; \
                 nothing changed",
                reference.repository,
                before.as_ref().map_or("-", |b| b.digest.as_str()),
                after.digest
            )));
        }
        Ok(Prepared::to(
            Move::Tag {
                record: target.record(Action::Promoted, Some(&after), before.as_ref()),
                at,
                account,
                repository: reference.repository.clone(),
                image: Box::new(source.image),
                tag,
            },
            target.planned(Action::Promoted, Some(&after), before.as_ref()),
        ))
    }

    async fn prepare_undo_service(
        &self,
        service: ServiceRef,
        changed_to: EcsArtifact,
        restore: EcsArtifact,
    ) -> Result<Prepared<Move>> {
        // Before any await: the undos prepared together are read together.
        self.undo_reads.want(&service);
        let (at, state) = self.undo_reads.state(&service).await?;
        let state = state.ok_or_else(|| {
            Error::precondition(format!("service {} does not exist", service.resource()))
        })?;
        let to = changed_to.task_definition.as_deref().unwrap_or_default();
        let back = restore.task_definition.as_deref().unwrap_or_default();
        let Some(back) = plan::rollback(&service.resource(), &state.task_definition, to, back)?
        else {
            return Ok(Prepared::Settled(vec![service.record(
                Action::Unchanged,
                &at,
                Some(&restore),
                Some(&restore),
            )]));
        };
        let planned = service.planned(Action::RolledBack, &at, Some(&restore), Some(&changed_to));
        Ok(Prepared::to(
            Move::Deploy {
                record: service.record(Action::RolledBack, &at, Some(&restore), Some(&changed_to)),
                task_definition: back.to_string(),
                service,
                at,
            },
            planned,
        ))
    }

    async fn prepare_undo_tag(
        &self,
        repository: String,
        tag: String,
        region: Option<&str>,
        changed_to: Option<EcrArtifact>,
        restore: Option<EcrArtifact>,
    ) -> Result<Prepared<Move>> {
        // The registry's account is in the images' URIs.
        let account = [&changed_to, &restore]
            .into_iter()
            .flatten()
            .find_map(|a| ImageRef::parse(&a.image).ok()?.ecr())
            .map(|e| e.account);
        let at = self.clients.get(None, region).await?;
        // What the tag names now and, in the same call, the image it would move back to.
        let restore_id = restore
            .as_ref()
            .map(|a| a.digest.as_str())
            .filter(|digest| is_digest(digest))
            .map(|digest| ImageId::Digest(digest.to_string()));
        let mut ids = vec![ImageId::Tag(tag.clone())];
        ids.extend(restore_id.clone());
        let mut images =
            shared::ecr::get_images(&at.client.ecr, account.as_deref(), &repository, &ids)
                .await?
                .into_iter();
        let now = images.next().flatten();
        let restore_image = images.next().flatten();
        let step = plan::rollback_tag(
            &format!("{repository}:{tag}"),
            now.as_ref().map(|i| i.digest.as_str()),
            changed_to.as_ref().map(|a| a.digest.as_str()),
            restore.as_ref().map(|a| a.digest.as_str()),
        )?;
        let target = tag_target(&repository, Some(&tag), at.region.as_deref());
        let record = target.record(Action::RolledBack, restore.as_ref(), changed_to.as_ref());
        let planned = target.planned(Action::RolledBack, restore.as_ref(), changed_to.as_ref());
        let apply = match step {
            None => {
                return Ok(Prepared::Settled(vec![target.record(
                    Action::Unchanged,
                    restore.as_ref(),
                    restore.as_ref(),
                )]))
            }
            Some(Some(digest)) => {
                // Read in the same call above, unless the record's digest was not one.
                let image = match restore_id {
                    Some(ImageId::Digest(read)) if read == digest => restore_image,
                    _ => shared::ecr::get_images(
                        &at.client.ecr,
                        account.as_deref(),
                        &repository,
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
                Move::Tag {
                    at,
                    account,
                    repository,
                    image: Box::new(image),
                    tag,
                    record,
                }
            }
            Some(None) => Move::Untag {
                at,
                account,
                repository,
                tag,
                record,
            },
        };
        Ok(Prepared::to(apply, planned))
    }

    /// After a service was updated: with --wait, follow its deployment. A deployment that does
    /// not complete fails the item, and the records of the change stand.
    async fn deployed(
        &self,
        at: &Located,
        service: &ServiceRef,
        task_definition: &str,
        records: Vec<Record>,
    ) -> Outcome {
        if let Some(wait) = &self.wait {
            if let Err(e) = wait::until_deployed(
                at,
                &service.cluster,
                &service.service,
                task_definition,
                wait,
                self.quiet,
            )
            .await
            {
                return Outcome::partial(records, e);
            }
        }
        Ok(records).into()
    }
}

/// An ecs record's `artifact` or `previous`.
fn ecs_artifact(
    origin: &str,
    field: &str,
    value: Option<&serde_json::Value>,
) -> Result<Option<EcsArtifact>> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| e.to_string())
            .and_then(|a: EcsArtifact| consistent_images(&a).map(|()| Some(a)))
            .map_err(|e| Error::bad_input(origin, format!("`{field}` is not {ECS_SHAPE}: {e}"))),
    }
}

/// A record's `image` names its `digest`: a record that contradicts itself is not promoted (nor
/// repeated in the output), whichever of the two someone edited.
fn consistent(image: &str, digest: &str) -> std::result::Result<(), String> {
    let named = ImageRef::parse(image)?.digest;
    if named.as_deref() == Some(digest) {
        Ok(())
    } else {
        Err(format!(
            "its image {image} is not pinned by its digest {digest}"
        ))
    }
}

fn consistent_images(artifact: &EcsArtifact) -> std::result::Result<(), String> {
    artifact.images.iter().try_for_each(|i| {
        consistent(&i.image, &i.digest).map_err(|e| format!("container {}: {e}", i.container))
    })
}

const ECS_SHAPE: &str = "an ecs artifact {\"task_definition\", \"images\"}";
const ECR_SHAPE: &str = "an ecr artifact {\"digest\", \"image\"}";

impl Adapter for EcsPin<'_> {
    const SERVICES: &'static [Service] = &[Service::Ecs, Service::Ecr];
    type Item = Item;
    type Move = Move;
    type Pointer = Pointer;
    type Artifact = Artifact;

    async fn prepare(&self, _target: &Target, item: Item) -> Result<Prepared<Move>> {
        match item {
            Item::Promote { target, source } => self.prepare_promote(target, source).await,
            Item::Pin { service, deploy } => self.prepare_pin(service, deploy).await,
            Item::Tag { image, tag } => self.prepare_tag(image, tag).await,
        }
    }

    async fn apply(&self, apply: Move) -> Outcome {
        match apply {
            Move::Promote {
                revision,
                previous,
                copies,
                gates,
            } => {
                // The copies first, each proven the source's digest: a failed one pins nothing.
                let copied = match crate::copy::run_all(&revision.at, &copies).await {
                    Ok(copied) => copied,
                    Err(e) => return Err(e).into(),
                };
                let arn = match revision.register().await {
                    Ok(arn) => arn,
                    Err(e) => return Err(e).into(),
                };
                let Revision {
                    at,
                    service,
                    images,
                    ..
                } = *revision;
                if let Err(e) = calls::update_service(
                    &at,
                    &service.cluster,
                    &service.service,
                    &arn,
                    gates.as_ref().map(|g| &g.configuration),
                )
                .await
                {
                    return Err(e).into();
                }
                tracing::info!("{}: now runs {arn}", service.resource());
                let artifact = EcsArtifact {
                    task_definition: Some(arn.clone()),
                    images,
                };
                let mut record =
                    service.record(Action::Promoted, &at, Some(&artifact), Some(&previous));
                if !copies.is_empty() {
                    record.extra.insert(
                        "copied_from".into(),
                        crate::copy::field(&copies, Some(&copied)),
                    );
                }
                if let Some(gates) = gates {
                    record.extra.insert("deployment_alarms".into(), gates.field);
                }
                self.deployed(&at, &service, &arn, vec![record]).await
            }
            Move::Pin {
                revision,
                pinned,
                previous,
            } => {
                let arn = match pinned {
                    Some(arn) => arn,
                    None => match revision.register().await {
                        Ok(arn) => arn,
                        Err(e) => return Err(e).into(),
                    },
                };
                let Revision {
                    at,
                    service,
                    images,
                    ..
                } = *revision;
                let artifact = EcsArtifact {
                    task_definition: Some(arn.clone()),
                    images,
                };
                // The revision exists; no pointer moved (yet).
                let mut published = service.target(at.region.as_deref());
                published.pointer = None;
                let published = published.record(Action::Published, Some(&artifact), None);
                let Some(previous) = previous else {
                    return Ok(vec![published]).into();
                };
                if let Err(e) =
                    calls::update_service(&at, &service.cluster, &service.service, &arn, None).await
                {
                    // The new revision exists but nothing runs it: say so, the service did not
                    // change.
                    return Outcome::partial(vec![published], e);
                }
                let records =
                    vec![service.record(Action::Published, &at, Some(&artifact), Some(&previous))];
                self.deployed(&at, &service, &arn, records).await
            }
            Move::Deploy {
                at,
                service,
                task_definition,
                record,
            } => {
                if let Err(e) = calls::update_service(
                    &at,
                    &service.cluster,
                    &service.service,
                    &task_definition,
                    None,
                )
                .await
                {
                    return Err(e).into();
                }
                self.deployed(&at, &service, &task_definition, vec![record])
                    .await
            }
            Move::Tag {
                at,
                account,
                repository,
                image,
                tag,
                record,
            } => calls::put_tag(&at, account.as_deref(), &repository, &image, &tag)
                .await
                .map(|()| {
                    tracing::info!("{repository}: tag {tag} now names {}", image.digest);
                    vec![record]
                })
                .into(),
            Move::Untag {
                at,
                account,
                repository,
                tag,
                record,
            } => calls::remove_tag(&at, account.as_deref(), &repository, &tag)
                .await
                .map(|()| vec![record])
                .into(),
        }
    }

    fn change_of(&self, record: &Record, origin: &str) -> Result<Option<(Target, Pointer)>> {
        let Some(pointer) = &record.pointer else {
            // A task definition registered (pin without --deploy): no pointer moved.
            return Ok(None);
        };
        match record.service {
            Service::Ecs => {
                let changed_to = ecs_artifact(origin, "artifact", record.artifact.as_ref())?;
                let restore = ecs_artifact(origin, "previous", record.previous.as_ref())?;
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
                let service = ServiceRef::from_resource(
                    &record.resource,
                    record.env.clone(),
                    record.region.as_deref(),
                )
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
                Ok(Some((
                    service.target(record.region.as_deref()),
                    Pointer::Service(service),
                )))
            }
            Service::Ecr => Ok(Some((
                tag_target(&record.resource, Some(pointer), record.region.as_deref()),
                Pointer::Tag {
                    repository: record.resource.clone(),
                    tag: pointer.clone(),
                },
            ))),
            _ => Ok(None),
        }
    }

    fn artifact(
        &self,
        record: &Record,
        value: &serde_json::Value,
    ) -> std::result::Result<Artifact, String> {
        match record.service {
            Service::Ecs => serde_json::from_value(value.clone())
                .map_err(|e| e.to_string())
                .and_then(|a: EcsArtifact| consistent_images(&a).map(|()| a))
                .map(Artifact::Ecs)
                .map_err(|e| format!("{ECS_SHAPE}: {e}")),
            _ => serde_json::from_value(value.clone())
                .map_err(|e| e.to_string())
                .and_then(|a: EcrArtifact| consistent(&a.image, &a.digest).map(|()| a))
                .map(Artifact::Ecr)
                .map_err(|e| format!("{ECR_SHAPE}: {e}")),
        }
    }

    async fn prepare_undo(&self, change: Change<Pointer, Artifact>) -> Result<Prepared<Move>> {
        let Change {
            target,
            pointer,
            changed_to,
            restore,
            origin,
        } = change;
        // change_of and artifact read a record's artifacts by its service: they always match.
        let mismatch =
            || Error::bad_input(&origin, "the record's artifacts are not of its service");
        match pointer {
            Pointer::Service(service) => match (changed_to, restore) {
                (Some(Artifact::Ecs(changed_to)), Some(Artifact::Ecs(restore))) => {
                    self.prepare_undo_service(service, changed_to, restore)
                        .await
                }
                _ => Err(mismatch()),
            },
            Pointer::Tag { repository, tag } => {
                let ecr = |artifact: Option<Artifact>| match artifact {
                    None => Ok(None),
                    Some(Artifact::Ecr(artifact)) => Ok(Some(artifact)),
                    Some(Artifact::Ecs(_)) => Err(mismatch()),
                };
                let (changed_to, restore) = (ecr(changed_to)?, ecr(restore)?);
                self.prepare_undo_tag(
                    repository,
                    tag,
                    target.region.as_deref(),
                    changed_to,
                    restore,
                )
                .await
            }
        }
    }
}
