//! How Lambda keeps the engine's promise (`shared::engine::Adapter`): a pointer is an alias, an
//! artifact a published version and its code hash; a move is one CreateAlias, UpdateAlias (with
//! the alias's RevisionId as compare-and-swap) or DeleteAlias. Reading and deciding happen in
//! `prepare`, the write alone in `apply`.

use crate::calls::{self, Clients, Located};
use crate::copy::{self, place, Found, SourceVersion};
use crate::function::FunctionRef;
use crate::plan::{self, CanaryStep, Routing, Step};
use crate::{artifact_of, existing_code_sha256, routing_of, Pointer};
use shared::batch::Outcome;
use shared::config::Template;
use shared::engine::{Adapter, Change, Order, Prepared, Target, Verdict};
use shared::record::LambdaArtifact;
use shared::{Action, Error, ExitCode, Record, Result, Service};

/// Where the version to promote comes from.
#[derive(Debug)]
pub(crate) enum Source {
    /// What this environment's alias holds now.
    Alias {
        env: String,
        function: FunctionRef,
        alias: String,
    },
    /// A version named on the command line. With promote.toml's order it must be what the
    /// environment before --to holds, in `chain_function`: the function that names it there (the
    /// same function, unless promote.toml names one per environment).
    Version {
        version: Named,
        chain_function: FunctionRef,
    },
    /// The artifact of a record on stdin (a release manifest): exactly these bits, read where
    /// the record was written when that is another account or region than the target's.
    Record {
        artifact: LambdaArtifact,
        written: Written,
    },
    /// A canary step on the alias itself; a version it sends traffic to (or finishes on) must be
    /// what the environment before holds, read in `chain_function`.
    Canary {
        step: CanaryStep,
        chain_function: FunctionRef,
    },
}

/// How the command line names a version: by its number (`--version N`) or by the description it
/// was published with (`--description TEXT`).
#[derive(Debug, Clone)]
pub(crate) enum Named {
    Number(String),
    Described(String),
}

/// Where a record on stdin was written: its environment (whose credentials read it), the
/// function in the record's region, and the account the record names.
#[derive(Debug)]
pub(crate) struct Written {
    pub env: Option<String>,
    pub function: FunctionRef,
    pub region: Option<String>,
    pub account: Option<String>,
}

impl Written {
    /// Whether the record's version lives elsewhere than `target`: another account or region
    /// (what the record names; a record that names neither is taken to be the target's own).
    fn elsewhere(&self, target: &Located) -> bool {
        let differs = |record: &Option<String>, there: &Option<String>| {
            record.is_some() && there.is_some() && record != there
        };
        differs(&self.account, &target.account) || differs(&self.region, &target.region)
    }
}

/// One alias to move.
#[derive(Debug)]
pub(crate) struct Item {
    pub function: FunctionRef,
    pub target: Pointer,
    pub source: Source,
}

/// A decided write to one alias.
#[derive(Debug)]
pub(crate) struct Move {
    at: Located,
    pointer: Pointer,
    step: Step,
    /// The alias's RevisionId when it was read: the compare-and-swap of an update.
    revision_id: Option<String>,
    /// The record of the move, printed once it is made.
    record: Record,
    /// The package to copy into the target function first (another account or region); the
    /// step's version is the one the copy publishes.
    copy: Option<Box<copy::Planned>>,
}

impl Move {
    /// The version a promotion moves an existing alias to, for a shift of traffic to it
    /// instead: a traffic shift needs the alias, and the version in the alias's own function.
    pub(crate) fn shifted_version(&self) -> Result<(String, Located)> {
        let name = self.pointer.name();
        match (&self.step, &self.copy) {
            (_, Some(_)) => Err(Error::precondition(format!(
                "{name}: {} has no version with this code yet, and a traffic shift moves traffic \
                 between versions that exist: promote without --canary to copy it, or publish it \
                 there; nothing changed",
                place(&self.at)
            ))),
            (Step::Update(routing), None) => Ok((routing.version.clone(), self.at.clone())),
            (Step::Create(_), None) => Err(Error::precondition(format!(
                "{name} does not exist yet: a traffic shift needs the alias; promote without \
                 --canary first; nothing changed"
            ))),
            (_, None) => Err(Error::precondition(format!(
                "{name}: not a move to a version; nothing changed"
            ))),
        }
    }
}

impl shared::alias_shift::Release for Lambda<'_> {
    type Canary = crate::canary::Canary;

    fn canary_of(&self, item: &Item) -> crate::canary::Canary {
        crate::canary::Canary {
            pointer: item.target.clone(),
            function: item.function.clone(),
            chain_function: item.source.chain_function(&item.function),
        }
    }

    async fn shifted(&self, apply: &Move) -> Result<shared::alias_shift::Shifted> {
        let (version, at) = apply.shifted_version()?;
        let now = shared::lambda::get_alias(
            &at.client.lambda,
            &apply.pointer.function.id,
            &apply.pointer.alias,
        )
        .await?
        .map(|a| routing_of(&a));
        Ok(shared::alias_shift::Shifted {
            version,
            now,
            cloudwatch: at.client.cloudwatch.clone(),
        })
    }
}

impl Source {
    /// The function in the environment before that names the version (what a canary step's
    /// check of the order reads).
    pub(crate) fn chain_function(&self, target: &FunctionRef) -> FunctionRef {
        let function = match self {
            Source::Alias { function, .. } => function.clone(),
            Source::Version { chain_function, .. } | Source::Canary { chain_function, .. } => {
                chain_function.clone()
            }
            Source::Record { written, .. } => FunctionRef {
                region: written
                    .region
                    .clone()
                    .or_else(|| written.function.region.clone()),
                ..written.function.clone()
            },
        };
        FunctionRef {
            region: function.region.or_else(|| target.region.clone()),
            ..function
        }
    }
}

/// The Lambda adapter of one run.
pub(crate) struct Lambda<'a> {
    pub clients: &'a Clients<'a>,
    /// `--expect`: the version the target alias must hold now.
    pub expect: Option<&'a str>,
    /// The environment before --to, the alias template, and the order, when a version named
    /// on the command line must be checked against what that environment holds.
    pub chain: Option<(String, Template, Order<'a>)>,
    /// With --version: the environment before --to, whose function holds that version (where
    /// it is read, and copied from when --to is another account or region).
    pub version_env: Option<String>,
    pub dry_run: bool,
    /// promote.toml's `[ecr] registry`: the registry every environment pulls images from, so a
    /// container-image function's image is not copied out of it.
    pub shared_registry: Option<(String, String)>,
    /// promote.toml's `[lambda] copy_bucket`: the bucket of each environment through which a
    /// package too big for the request is copied.
    pub copy_bucket: Option<Template>,
}

impl Lambda<'_> {
    /// What the environment before holds, for the order's check of a named version.
    /// `in_target`: the version is the target function's (a canary's), there: where that is
    /// another account or region than the environment before, version numbers mean nothing
    /// across them, and the version must hold the code the environment before's holds.
    async fn check_held(
        &self,
        subject: &str,
        version: &str,
        to: &str,
        chain_function: &FunctionRef,
        in_target: Option<(&Located, &FunctionRef)>,
    ) -> Result<Verdict> {
        let Some((env, aliases, order)) = &self.chain else {
            return Ok(Verdict::ALLOWED);
        };
        let alias = aliases.render(env);
        let source_at = self
            .clients
            .get(Some(env), chain_function.region.as_deref())
            .await?;
        let held =
            shared::lambda::get_alias(&source_at.client.lambda, &chain_function.id, &alias).await?;
        let held = held.as_ref().map(routing_of);
        let same = match (in_target, &held) {
            (Some((at, function)), Some(h)) if !source_at.same_place(at) => {
                let held_code =
                    existing_code_sha256(&source_at, &chain_function.id, &h.version).await?;
                shared::lambda::code_sha256(&at.client.lambda, &function.id, version).await?
                    == Some(held_code)
            }
            (_, held) => held.as_ref().is_some_and(|h| h.version == version),
        };
        order.check_held(
            subject,
            &format!("version {version}"),
            to,
            env,
            same,
            &plan::describe(held.as_ref()),
        )
    }

    /// The number of a version named on the command line. A description is looked up where the
    /// number is then read: in the environment before --to when that is another account or
    /// region (the copy keeps the description), else in the target function.
    async fn version_named(
        &self,
        named: Named,
        at: &Located,
        function: &FunctionRef,
        chain_function: &FunctionRef,
    ) -> Result<String> {
        let description = match named {
            Named::Number(version) => return Ok(version),
            Named::Described(description) => description,
        };
        let mut found_in = (at.clone(), function.clone());
        if let Some(env) = &self.version_env {
            let source_at = self
                .clients
                .get(Some(env), chain_function.region.as_deref())
                .await?;
            if !source_at.same_place(at) {
                found_in = (source_at, chain_function.clone());
            }
        }
        let (at, function) = found_in;
        let versions = shared::lambda::versions(&at.client.lambda, &function.id)
            .await?
            .ok_or_else(|| {
                Error::precondition(format!(
                    "function {function} does not exist (in {})",
                    place(&at)
                ))
            })?;
        let version = plan::version_described(&versions, &description, &function.to_string())
            .map_err(Error::precondition)?;
        tracing::info!("{function}: version {version} has the description {description:?}");
        Ok(version)
    }

    /// Where a record's version is read: the record's environment's credentials, in its region,
    /// which must act in the account the record names.
    async fn written_at(
        &self,
        written: &Written,
        artifact: &LambdaArtifact,
    ) -> Result<SourceVersion> {
        let at = self
            .clients
            .get(written.env.as_deref(), written.region.as_deref())
            .await?;
        if let (Some(named), Some(acting)) = (&written.account, &at.account) {
            if named != acting {
                return Err(Error::precondition(format!(
                    "the record of {} was written in account {named}, but {} acts in account \
                     {acting}: its version cannot be read there to be copied; nothing changed",
                    written.function,
                    written
                        .env
                        .as_deref()
                        .map_or("the default credentials".to_string(), |e| format!(
                            "{e}'s credentials"
                        )),
                )));
            }
        }
        Ok(SourceVersion {
            at,
            function: written.function.id.clone(),
            version: artifact.version.clone(),
            code_sha256: artifact.code_sha256.clone(),
        })
    }

    /// A promotion from another account or region: to the target's version of the same code
    /// when it has one, or to the version a copy publishes.
    async fn prepare_copy(
        &self,
        target: Pointer,
        at: Located,
        source: SourceVersion,
        verdict: Verdict,
    ) -> Result<Prepared<Move>> {
        plan::immutable(&source.version, &source.describe())?;
        let current =
            shared::lambda::get_alias(&at.client.lambda, &target.function.id, &target.alias)
                .await
                .map_err(|e| match e {
                    // Say where it is missing: a function of that name exists in the source's
                    // account or region.
                    Error::Precondition(m) if m.contains("does not exist") => {
                        copy::missing_in(&target.function.id, &at)
                    }
                    e => e,
                })?;
        let now = current.as_ref().map(routing_of);
        plan::expect_holds(&target.name(), now.as_ref(), self.expect)?;
        let previous = match &current {
            Some(alias) => Some(artifact_of(&at, &target.function.id, alias, None).await?),
            None => None,
        };
        let shared_registry = self
            .shared_registry
            .as_ref()
            .map(|(a, r)| (a.as_str(), r.as_str()));
        match copy::locate(
            source.clone(),
            &at,
            &target.function.id,
            now.as_ref().map(|n| n.version.as_str()),
            shared_registry,
            self.copy_bucket
                .as_ref()
                .and_then(|b| Some(b.render(target.env.as_deref()?)))
                .as_deref(),
        )
        .await?
        {
            Found::Present { version } => {
                let want = LambdaArtifact {
                    version,
                    code_sha256: source.code_sha256.clone(),
                    weights: Default::default(),
                };
                let step = plan::promote(&plan::PromoteFacts {
                    target_name: &target.name(),
                    want: &want,
                    target_code_sha256: Some(&want.code_sha256),
                    target: now.as_ref(),
                    expect: self.expect,
                })?;
                let with_source = |mut record: Record| {
                    record
                        .extra
                        .insert("copied_from".into(), copy::source_field(&source, true));
                    record
                };
                if step == Step::Unchanged {
                    return Ok(Prepared::Settled(vec![with_source(target.record(
                        Action::Unchanged,
                        &at,
                        Some(&want),
                        previous.as_ref(),
                    ))]));
                }
                Ok(Prepared::Move {
                    planned: Box::new(with_source(target.planned(
                        Action::Promoted,
                        &at,
                        Some(&want),
                        previous.as_ref(),
                    ))),
                    apply: Move {
                        record: with_source(target.record(
                            Action::Promoted,
                            &at,
                            Some(&want),
                            previous.as_ref(),
                        )),
                        revision_id: current.and_then(|a| a.revision_id),
                        step,
                        pointer: target,
                        at,
                        copy: None,
                    },
                    verdict,
                })
            }
            Found::Copy(planned) => {
                if self.dry_run {
                    shared::cli::note(&format!(
                        "{}: would copy {} ({} bytes) into {} and publish it (dry run: nothing \
                         copied)",
                        target.name(),
                        source.describe(),
                        planned.code_size,
                        place(&at)
                    ));
                }
                // The new version's number is known only once it is published: a dry run's
                // artifact is null, and `copied_from` says which code it will hold.
                let mut plan_record =
                    target.planned(Action::Promoted, &at, None, previous.as_ref());
                plan_record
                    .extra
                    .insert("copied_from".into(), planned.field(None));
                let record = target.record(Action::Promoted, &at, None, previous.as_ref());
                let wanted = Routing::plain("");
                Ok(Prepared::Move {
                    planned: Box::new(plan_record),
                    apply: Move {
                        record,
                        revision_id: current.as_ref().and_then(|a| a.revision_id.clone()),
                        step: if current.is_some() {
                            Step::Update(wanted)
                        } else {
                            Step::Create(wanted)
                        },
                        pointer: target,
                        at,
                        copy: Some(planned),
                    },
                    verdict,
                })
            }
        }
    }

    async fn prepare_canary(
        &self,
        function: FunctionRef,
        target: Pointer,
        step: CanaryStep,
        chain_function: FunctionRef,
    ) -> Result<Prepared<Move>> {
        let at = self
            .clients
            .get(target.env.as_deref(), function.region.as_deref())
            .await?;
        let current =
            shared::lambda::get_alias(&at.client.lambda, &target.function.id, &target.alias)
                .await?
                .ok_or_else(|| {
                    Error::precondition(format!(
                        "{} has no alias {}: promote a version to {} first",
                        target.function,
                        target.alias,
                        target.env.as_deref().unwrap_or("it")
                    ))
                })?;
        if let CanaryStep::Start { version, .. } = &step {
            if shared::lambda::code_sha256(&at.client.lambda, &target.function.id, version)
                .await?
                .is_none()
            {
                return Err(Error::precondition(format!(
                    "{} has no version {version}: publish it first; nothing changed",
                    target.function
                )));
            }
        }
        let now = routing_of(&current);
        let decision = plan::canary(&target.name(), &step, &now, self.expect)?;
        let main_sha = existing_code_sha256(&at, &target.function.id, &now.version).await?;
        let previous = current.artifact(main_sha.clone());
        let Some((next, action)) = decision else {
            return Ok(Prepared::Settled(vec![target.record(
                Action::Unchanged,
                &at,
                Some(&previous),
                Some(&previous),
            )]));
        };
        // The order: traffic goes only to what the environment before holds (abort takes
        // traffic back, and is exempt as rollback is).
        let verdict = match (&step, &target.env) {
            // A revert takes a finished shift back, as rollback would.
            (CanaryStep::Abort | CanaryStep::Revert { .. }, _) | (_, None) => Verdict::ALLOWED,
            (_, Some(env)) => {
                let canary = match &step {
                    CanaryStep::Start { version, .. } => version.clone(),
                    _ => next.version.clone(),
                };
                self.check_held(
                    &target.name(),
                    &canary,
                    env,
                    &chain_function,
                    Some((&at, &target.function)),
                )
                .await?
            }
        };
        let next_sha = if next.version == now.version {
            main_sha
        } else {
            existing_code_sha256(&at, &target.function.id, &next.version).await?
        };
        let artifact = LambdaArtifact {
            version: next.version.clone(),
            code_sha256: next_sha,
            weights: next.weights.clone(),
        };
        Ok(Prepared::Move {
            planned: Box::new(target.planned(action, &at, Some(&artifact), Some(&previous))),
            apply: Move {
                record: target.record(action, &at, Some(&artifact), Some(&previous)),
                revision_id: current.revision_id.clone(),
                step: Step::Update(next),
                pointer: target,
                at,
                copy: None,
            },
            verdict,
        })
    }
}

impl Adapter for Lambda<'_> {
    const SERVICES: &'static [Service] = &[Service::Lambda];
    type Item = Item;
    type Move = Move;
    type Pointer = Pointer;
    type Artifact = LambdaArtifact;

    async fn prepare(&self, _target: &Target, item: Item) -> Result<Prepared<Move>> {
        let Item {
            function,
            target,
            source,
        } = item;
        if let Source::Canary {
            step,
            chain_function,
        } = source
        {
            return self
                .prepare_canary(function, target, step, chain_function)
                .await;
        }
        let at = self
            .clients
            .get(target.env.as_deref(), function.region.as_deref())
            .await?;

        // 1. The artifact to promote, and whether its code hash was read in the target function
        // already (the same function in the same account and region): no need to read it twice.
        // A version of another account or region is copied (`copy`): `elsewhere`.
        let mut elsewhere: Option<SourceVersion> = None;
        let (want, read_in_target, verdict) = match source {
            Source::Record { artifact, written } => {
                if written.elsewhere(&at) {
                    elsewhere = Some(self.written_at(&written, &artifact).await?);
                }
                (artifact, false, Verdict::ALLOWED)
            }
            Source::Canary { .. } => return Err(Error::usage("a canary step is not a promotion")),
            Source::Version {
                version,
                chain_function,
            } => {
                let version = self
                    .version_named(version, &at, &function, &chain_function)
                    .await?;
                let to = target.env.clone().unwrap_or_default();
                let verdict = self
                    .check_held(&target.name(), &version, &to, &chain_function, None)
                    .await?;
                if let Some(env) = &self.version_env {
                    let source_at = self
                        .clients
                        .get(Some(env), chain_function.region.as_deref())
                        .await?;
                    if !source_at.same_place(&at) {
                        let sha = shared::lambda::code_sha256(
                            &source_at.client.lambda,
                            &chain_function.id,
                            &version,
                        )
                        .await?
                        .ok_or_else(|| {
                            Error::precondition(format!(
                                "{chain_function} ({env}) has no version {version}; nothing changed"
                            ))
                        })?;
                        elsewhere = Some(SourceVersion {
                            at: source_at,
                            function: chain_function.id.clone(),
                            version: version.clone(),
                            code_sha256: sha,
                        });
                    }
                }
                match elsewhere.as_ref() {
                    Some(source) => (
                        LambdaArtifact {
                            version,
                            code_sha256: source.code_sha256.clone(),
                            weights: Default::default(),
                        },
                        false,
                        verdict,
                    ),
                    None => {
                        let sha =
                            shared::lambda::code_sha256(&at.client.lambda, &function.id, &version)
                                .await?
                                .ok_or_else(|| {
                                    Error::precondition(format!(
                                    "{function} has no version {version} (in {}); nothing changed",
                                    place(&at)
                                ))
                                })?;
                        let artifact = LambdaArtifact {
                            version,
                            code_sha256: sha,
                            weights: Default::default(),
                        };
                        (artifact, true, verdict)
                    }
                }
            }
            Source::Alias {
                env,
                function: source_function,
                alias,
            } => {
                let source_at = self
                    .clients
                    .get(Some(&env), source_function.region.as_deref())
                    .await?;
                let held = shared::lambda::get_alias(
                    &source_at.client.lambda,
                    &source_function.id,
                    &alias,
                )
                .await?
                .ok_or_else(|| {
                    Error::precondition(format!(
                        "{source_function} has no alias {alias} ({env}): nothing to promote"
                    ))
                })?;
                plan::immutable(
                    &held.version,
                    &format!("{source_function} alias {alias} ({env})"),
                )?;
                if !held.weights.is_empty() {
                    tracing::warn!(
                        "{source_function} alias {alias} is running a canary; promoting its main version {}",
                        held.version
                    );
                }
                let sha =
                    existing_code_sha256(&source_at, &source_function.id, &held.version).await?;
                let artifact = LambdaArtifact {
                    version: held.version,
                    code_sha256: sha,
                    weights: Default::default(),
                };
                let same_function = source_function.name == target.function.name
                    && source_at.settings == at.settings;
                if !source_at.same_place(&at) {
                    elsewhere = Some(SourceVersion {
                        at: source_at,
                        function: source_function.id.clone(),
                        version: artifact.version.clone(),
                        code_sha256: artifact.code_sha256.clone(),
                    });
                }
                (artifact, same_function, Verdict::ALLOWED)
            }
        };
        if let Some(source) = elsewhere {
            return self.prepare_copy(target, at, source, verdict).await;
        }

        // 2. The target as it is now, and the code of that version in the target function.
        let target_sha = async {
            if read_in_target {
                Ok(Some(want.code_sha256.clone()))
            } else {
                shared::lambda::code_sha256(&at.client.lambda, &target.function.id, &want.version)
                    .await
            }
        };
        let (current, target_sha) = futures::future::join(
            shared::lambda::get_alias(&at.client.lambda, &target.function.id, &target.alias),
            target_sha,
        )
        .await;
        let current = current?;
        let target_sha = target_sha?;
        let now = current.as_ref().map(routing_of);

        // 3. The decision.
        let step = plan::promote(&plan::PromoteFacts {
            target_name: &target.name(),
            want: &want,
            target_code_sha256: target_sha.as_deref(),
            target: now.as_ref(),
            expect: self.expect,
        })?;
        let previous = match &current {
            Some(alias) => Some(artifact_of(&at, &target.function.id, alias, Some(&want)).await?),
            None => None,
        };
        if step == Step::Unchanged {
            return Ok(Prepared::Settled(vec![target.record(
                Action::Unchanged,
                &at,
                Some(&want),
                previous.as_ref(),
            )]));
        }
        Ok(Prepared::Move {
            planned: Box::new(target.planned(
                Action::Promoted,
                &at,
                Some(&want),
                previous.as_ref(),
            )),
            apply: Move {
                record: target.record(Action::Promoted, &at, Some(&want), previous.as_ref()),
                revision_id: current.and_then(|a| a.revision_id),
                step,
                pointer: target,
                at,
                copy: None,
            },
            verdict,
        })
    }

    async fn apply(&self, write: Move) -> Outcome {
        let Move {
            at,
            pointer,
            mut step,
            revision_id,
            mut record,
            copy,
        } = write;
        if let Some(copy) = copy {
            // The copy first: the alias moves only to a version proven to hold the source's code.
            let copied = match copy.run(&at, &pointer.function.id).await {
                Ok(copied) => copied,
                Err(e) => return Err(e).into(),
            };
            let artifact = LambdaArtifact {
                version: copied.version.clone(),
                code_sha256: copied.code_sha256.clone(),
                weights: Default::default(),
            };
            if let Step::Create(routing) | Step::Update(routing) = &mut step {
                *routing = Routing::plain(&copied.version);
            }
            record.artifact = serde_json::to_value(&artifact).ok();
            record
                .extra
                .insert("copied_from".into(), copy.field(Some(&copied)));
        }
        let written = match &step {
            Step::Create(routing) => {
                calls::create_alias(&at, &pointer.function.id, &pointer.alias, routing).await
            }
            Step::Update(routing) => {
                calls::update_alias(
                    &at,
                    &pointer.function.id,
                    &pointer.alias,
                    routing,
                    revision_id.as_deref(),
                )
                .await
            }
            Step::Delete => calls::delete_alias(&at, &pointer.function.id, &pointer.alias).await,
            Step::Unchanged => Ok(()),
        };
        let written = match written {
            Err(e) if e.exit_code() == ExitCode::Precondition => confirm(&at, &pointer, &step)
                .await
                .map_or(Err(e), |()| Ok(())),
            other => other,
        };
        match written {
            Ok(()) => {
                tracing::info!("{}: {}", pointer.name(), record.action);
                Ok(vec![record]).into()
            }
            Err(e) => Err(e).into(),
        }
    }

    fn change_of(&self, record: &Record, origin: &str) -> Result<Option<(Target, Pointer)>> {
        let Some(alias) = &record.pointer else {
            return Ok(None);
        };
        let function = FunctionRef::of_record(&record.resource)
            .map_err(|e| Error::bad_input(origin, format!("`resource`: {e}")))?;
        // Where the change was made: the record's region (an ARN's, in a record written before
        // records named functions by name alone).
        let region = record.region.clone().or_else(|| function.region.clone());
        let pointer = Pointer {
            function,
            alias: alias.clone(),
            env: record.env.clone(),
        };
        Ok(Some((pointer.target(region.as_deref()), pointer)))
    }

    fn artifact(
        &self,
        _record: &Record,
        value: &serde_json::Value,
    ) -> std::result::Result<LambdaArtifact, String> {
        serde_json::from_value(value.clone())
            .map_err(|e| format!("a lambda artifact {{\"version\", \"code_sha256\"}}: {e}"))
    }

    async fn prepare_undo(
        &self,
        change: Change<Pointer, LambdaArtifact>,
    ) -> Result<Prepared<Move>> {
        let Change {
            target,
            pointer,
            changed_to,
            restore,
            ..
        } = change;
        let at = self
            .clients
            .get(pointer.env.as_deref(), target.region.as_deref())
            .await?;
        let current =
            shared::lambda::get_alias(&at.client.lambda, &pointer.function.id, &pointer.alias)
                .await?;
        let now = current.as_ref().map(routing_of);
        let step = plan::rollback(
            &pointer.name(),
            changed_to.as_ref().map(crate::plan::routing_of).as_ref(),
            restore.as_ref().map(crate::plan::routing_of).as_ref(),
            now.as_ref(),
        )?;
        if step == Step::Unchanged {
            return Ok(Prepared::Settled(vec![pointer.record(
                Action::Unchanged,
                &at,
                restore.as_ref(),
                restore.as_ref(),
            )]));
        }
        Ok(Prepared::to(
            Move {
                record: pointer.record(
                    Action::RolledBack,
                    &at,
                    restore.as_ref(),
                    changed_to.as_ref(),
                ),
                revision_id: current.and_then(|a| a.revision_id),
                step,
                pointer: pointer.clone(),
                at: at.clone(),
                copy: None,
            },
            pointer.planned(
                Action::RolledBack,
                &at,
                restore.as_ref(),
                changed_to.as_ref(),
            ),
        ))
    }
}

/// A write refused by its compare-and-swap may have been refused by its own earlier attempt:
/// when AWS applied it but the answer was lost (throttled or cut off after the fact), the SDK's
/// retry meets the change it made ("created by someone else", a RevisionId that moved on). Read
/// the alias again: if it holds exactly what this write wanted, the write happened. `Some(())`
/// when it did.
async fn confirm(at: &Located, pointer: &Pointer, step: &Step) -> Option<()> {
    let alias = shared::lambda::get_alias(&at.client.lambda, &pointer.function.id, &pointer.alias)
        .await
        .ok()?;
    let happened = match (step, alias) {
        (Step::Create(wanted) | Step::Update(wanted), Some(alias)) => routing_of(&alias) == *wanted,
        (Step::Delete, None) => true,
        _ => false,
    };
    if happened {
        tracing::info!(
            "{}: the write was refused by its own earlier attempt (its answer was lost); the \
             alias holds what was wanted",
            pointer.name()
        );
    }
    happened.then_some(())
}
