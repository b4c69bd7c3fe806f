//! How Step Functions keeps the engine's promise (`shared::engine::Adapter`): a pointer is an
//! alias, an artifact a published version and the hash of its definition; a move is one
//! CreateStateMachineAlias, UpdateStateMachineAlias or DeleteStateMachineAlias, after the alias
//! is read again (`calls`: Step Functions has no compare-and-swap of its own). A version of
//! another state machine (in another account or region, or one state machine per environment:
//! version numbers belong to one state machine) is copied: its definition is published as a
//! version of the target state machine, which the alias then moves to once its hash is proven
//! the same. Reading and
//! deciding happen in `prepare`, the writes in `apply`.

use crate::calls::{self, Clients, Located};
use crate::machine::MachineRef;
use crate::{artifact_of, place, Pointer};
use serde_json::{json, Value};
use shared::batch::Outcome;
use shared::config::Template;
use shared::engine::{Adapter, Change, Order, Prepared, Target, Verdict};
use shared::record::SfnArtifact;
use shared::routing::{self, CanaryStep, Routing, Step};
use shared::sfn::{self as sfn, routing_of};
use shared::{Action, Error, ExitCode, Record, Result, Service};

/// Where the version to promote comes from.
#[derive(Debug)]
pub(crate) enum Source {
    /// What this environment's alias holds now.
    Alias {
        env: String,
        machine: MachineRef,
        alias: String,
    },
    /// A version named on the command line. With promote.toml's order it must be what the
    /// environment before --to holds, in `chain_machine`.
    Version {
        version: String,
        chain_machine: MachineRef,
    },
    /// The artifact of a record on stdin (a release manifest): exactly this definition, read
    /// where the record was written when that is another account or region than the target's.
    Record {
        artifact: SfnArtifact,
        written: Written,
    },
    /// A canary step on the alias itself; a version it sends traffic to (or finishes on) must
    /// be what the environment before holds, read in `chain_machine`.
    Canary {
        step: CanaryStep,
        chain_machine: MachineRef,
    },
}

/// Where a record on stdin was written: its environment (whose credentials read it), its state
/// machine in the record's region, and the account the record names.
#[derive(Debug)]
pub(crate) struct Written {
    pub env: Option<String>,
    pub machine: MachineRef,
    pub account: Option<String>,
}

/// One alias to move.
#[derive(Debug)]
pub(crate) struct Item {
    pub target: Pointer,
    pub source: Source,
}

impl shared::alias_shift::Release for Sfn<'_> {
    type Canary = crate::canary::Canary;

    fn canary_of(&self, item: &Item) -> crate::canary::Canary {
        let chain_machine = match &item.source {
            Source::Alias { machine, .. } => machine.clone(),
            Source::Version { chain_machine, .. } | Source::Canary { chain_machine, .. } => {
                chain_machine.clone()
            }
            Source::Record { written, .. } => written.machine.clone(),
        };
        crate::canary::Canary {
            pointer: item.target.clone(),
            chain_machine,
        }
    }

    async fn shifted(&self, apply: &Move) -> Result<shared::alias_shift::Shifted> {
        let name = apply.pointer.name();
        let version = match (&apply.step, &apply.copy) {
            (_, Some(copy)) => {
                return Err(Error::precondition(format!(
                    "{name}: {} holds the definition of {} in no version yet, and a traffic \
                     shift moves executions between versions that exist: promote without \
                     --canary to copy it; nothing changed",
                    place(&apply.at),
                    copy.from
                )))
            }
            (Step::Update(routing), None) => routing.version.clone(),
            (Step::Create(_), None) => {
                return Err(Error::precondition(format!(
                    "{name} does not exist yet: a traffic shift needs the alias; promote without \
                     --canary first; nothing changed"
                )))
            }
            _ => {
                return Err(Error::precondition(format!(
                    "{name}: not a move to a version; nothing changed"
                )))
            }
        };
        Ok(shared::alias_shift::Shifted {
            version,
            now: apply.seen.clone(),
            cloudwatch: apply.at.client.cloudwatch.clone(),
        })
    }
}

/// A version in another account or region, to copy into the target state machine.
#[derive(Debug, Clone)]
pub(crate) struct Copy {
    /// The version's ARN where it was read, for the record's `copied_from`.
    pub from: String,
    pub definition: String,
    pub definition_sha256: String,
    pub description: Option<String>,
    /// The hash of the definition the target's state machine held before the copy replaced it.
    pub before: Option<String>,
}

impl Copy {
    fn field(&self) -> Value {
        let mut field =
            json!({"version_arn": self.from, "definition_sha256": self.definition_sha256});
        if let Some(before) = &self.before {
            field["definition_before"] = json!(before);
        }
        field
    }
}

/// A decided write to one alias.
#[derive(Debug)]
pub(crate) struct Move {
    at: Located,
    machine_arn: String,
    pointer: Pointer,
    step: Step,
    /// What the alias routed as when it was read: the compare of the write.
    seen: Option<Routing>,
    /// The record of the move, printed once it is made.
    record: Record,
    /// The definition to publish in the target first; the step's version is the one that
    /// publishes.
    copy: Option<Box<Copy>>,
}

/// The Step Functions adapter of one run.
pub(crate) struct Sfn<'a> {
    pub clients: &'a Clients<'a>,
    /// `--expect`: the version the target alias must hold now.
    pub expect: Option<&'a str>,
    /// The environment before --to, the alias template, and the order, when a version named on
    /// the command line must be checked against what that environment holds.
    pub chain: Option<(String, Template, Order<'a>)>,
    /// With --version: the environment before --to, whose state machine holds that version
    /// (read, and copied from when --to is another account or region).
    pub version_env: Option<String>,
}

impl<'a> Sfn<'a> {
    /// An adapter that checks nothing beyond what each record and alias says (rollback).
    pub(crate) fn plain(clients: &'a Clients<'a>) -> Self {
        Sfn {
            clients,
            expect: None,
            chain: None,
            version_env: None,
        }
    }

    async fn located(&self, env: Option<&str>, machine: &MachineRef) -> Result<(Located, String)> {
        let at = self.clients.get(env, machine.region.as_deref()).await?;
        let arn = machine.arn(&at)?;
        Ok((at, arn))
    }

    /// What the environment before holds, for the order's check of `version`. `in_target`: the
    /// version is the target state machine's (a canary's); where that is another state machine
    /// (another account or region, or one per environment), version numbers mean nothing across
    /// them, and the version must hold the definition the environment before's holds.
    async fn check_held(
        &self,
        subject: &str,
        version: &str,
        to: &str,
        chain_machine: &MachineRef,
        in_target: Option<(&Located, &str)>,
    ) -> Result<Verdict> {
        let Some((env, aliases, order)) = &self.chain else {
            return Ok(Verdict::ALLOWED);
        };
        let (source_at, source_arn) = self.located(Some(env), chain_machine).await?;
        let held = sfn::get_alias(&source_at.client.sfn, &source_arn, &aliases.render(env))
            .await?
            .map(|a| a.routing);
        let same = match (in_target, &held) {
            (Some((at, target_arn)), Some(h))
                if !source_at.same_place(at) || source_arn != target_arn =>
            {
                let held_sha =
                    sfn::existing_sha256(&source_at.client.sfn, &source_arn, &h.version).await?;
                sfn::describe(&at.client.sfn, &sfn::version_arn(target_arn, version))
                    .await?
                    .is_some_and(|d| d.definition_sha256() == held_sha)
            }
            (_, held) => held.as_ref().is_some_and(|h| h.version == version),
        };
        order.check_held(
            subject,
            &format!("version {version}"),
            to,
            env,
            same,
            &routing::describe(held.as_ref()),
        )
    }

    /// A version read where it lives: its definition, to be compared with the artifact's hash
    /// or copied.
    async fn read_version(
        at: &Located,
        machine_arn: &str,
        version: &str,
        what: &str,
    ) -> Result<Copy> {
        let arn = sfn::version_arn(machine_arn, version);
        let described = sfn::describe(&at.client.sfn, &arn).await?.ok_or_else(|| {
            Error::precondition(format!(
                "{what} has no version {version} (in {}); nothing changed",
                place(at)
            ))
        })?;
        Ok(Copy {
            from: arn,
            definition_sha256: described.definition_sha256(),
            definition: described.definition,
            description: described.description,
            before: None,
        })
    }

    /// A promotion from another account or region: nothing to do when the alias holds the
    /// same definition already, else a copy published there.
    async fn prepare_copy(
        &self,
        target: Pointer,
        at: Located,
        machine_arn: String,
        mut copy: Copy,
        verdict: Verdict,
    ) -> Result<Prepared<Move>> {
        let Some(machine) = sfn::describe(&at.client.sfn, &machine_arn).await? else {
            return Err(Error::precondition(format!(
                "{}: state machine {machine_arn} does not exist (in {}): a copy publishes the \
                 definition as a version of the target's own state machine, so create it there \
                 first (its role is its own); nothing changed",
                target.name(),
                place(&at)
            )));
        };
        copy.before = Some(machine.definition_sha256());
        let current = sfn::get_alias(&at.client.sfn, &machine_arn, &target.alias).await?;
        let now = current.as_ref().map(|a| a.routing.clone());
        routing::expect_holds(&target.name(), now.as_ref(), self.expect)?;
        let previous = match &current {
            Some(alias) => Some(artifact_of(&at, &machine_arn, alias, None).await?),
            None => None,
        };
        let with_source = |mut record: Record| {
            record.extra.insert("copied_from".into(), copy.field());
            record
        };
        if let Some(previous) = previous
            .as_ref()
            .filter(|p| p.weights.is_empty() && p.definition_sha256 == copy.definition_sha256)
        {
            return Ok(Prepared::Settled(vec![with_source(target.record(
                Action::Unchanged,
                &at,
                Some(previous),
                Some(previous),
            ))]));
        }
        // The new version's number is known only once it is published: a dry run's artifact is
        // null, and `copied_from` says which definition it will hold.
        let planned = with_source(target.planned(Action::Promoted, &at, None, previous.as_ref()));
        let record = target.record(Action::Promoted, &at, None, previous.as_ref());
        let placeholder = Routing::plain("");
        Ok(Prepared::Move {
            planned: Box::new(planned),
            apply: Move {
                step: if now.is_some() {
                    Step::Update(placeholder)
                } else {
                    Step::Create(placeholder)
                },
                seen: now,
                record,
                machine_arn,
                pointer: target,
                at,
                copy: Some(Box::new(copy)),
            },
            verdict,
        })
    }

    async fn prepare_canary(
        &self,
        target: Pointer,
        step: CanaryStep,
        chain_machine: MachineRef,
    ) -> Result<Prepared<Move>> {
        let (at, machine_arn) = self.located(target.env.as_deref(), &target.machine).await?;
        let current = sfn::get_alias(&at.client.sfn, &machine_arn, &target.alias)
            .await?
            .ok_or_else(|| {
                Error::precondition(format!(
                    "{} has no alias {}: promote a version to {} first",
                    target.machine,
                    target.alias,
                    target.env.as_deref().unwrap_or("it")
                ))
            })?;
        if let CanaryStep::Start { version, .. } = &step {
            Self::read_version(&at, &machine_arn, version, &target.machine.to_string()).await?;
        }
        let now = current.routing.clone();
        let decision = routing::canary(&target.name(), &step, &now, self.expect)?;
        let previous = artifact_of(&at, &machine_arn, &current, None).await?;
        let Some((next, action)) = decision else {
            return Ok(Prepared::Settled(vec![target.record(
                Action::Unchanged,
                &at,
                Some(&previous),
                Some(&previous),
            )]));
        };
        // The order: traffic goes only to what the environment before holds (abort and revert
        // take traffic back, and are exempt as rollback is).
        let verdict = match (&step, &target.env) {
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
                    &chain_machine,
                    Some((&at, &machine_arn)),
                )
                .await?
            }
        };
        let next_sha = if next.version == now.version {
            previous.definition_sha256.clone()
        } else {
            sfn::existing_sha256(&at.client.sfn, &machine_arn, &next.version).await?
        };
        let artifact = sfn::artifact(&machine_arn, &next, next_sha);
        Ok(Prepared::Move {
            planned: Box::new(target.planned(action, &at, Some(&artifact), Some(&previous))),
            apply: Move {
                record: target.record(action, &at, Some(&artifact), Some(&previous)),
                seen: Some(now),
                step: Step::Update(next),
                machine_arn,
                pointer: target,
                at,
                copy: None,
            },
            verdict,
        })
    }

    /// The artifact to promote, when it is read where the target lives; or the version to copy
    /// from another account or region.
    async fn wanted(
        &self,
        target: &Pointer,
        at: &Located,
        machine_arn: &str,
        source: Source,
    ) -> Result<(Wanted, Verdict)> {
        match source {
            Source::Canary { .. } => Err(Error::usage("a canary step is not a promotion")),
            Source::Record { artifact, written } => {
                // The record names where it was written; a record that names neither account
                // nor region is taken to be the target's own.
                let differs = |named: Option<&String>, there: Option<&String>| {
                    named.is_some() && there.is_some() && named != there
                };
                if written.machine.name == target.machine.name
                    && !differs(written.account.as_ref(), at.account.as_ref())
                    && !differs(written.machine.region.as_ref(), at.region.as_ref())
                {
                    return Ok((Wanted::Here(artifact), Verdict::ALLOWED));
                }
                let (source_at, source_arn) = self
                    .located(written.env.as_deref(), &written.machine)
                    .await?;
                if differs(written.account.as_ref(), source_at.account.as_ref()) {
                    return Err(Error::precondition(format!(
                        "the record of {} was written in account {}, but {} act in account {}: \
                         its version cannot be read there to be copied; nothing changed",
                        written.machine,
                        written.account.as_deref().unwrap_or_default(),
                        written
                            .env
                            .as_deref()
                            .map_or("the default credentials".to_string(), |e| format!(
                                "{e}'s credentials"
                            )),
                        source_at.account.as_deref().unwrap_or_default(),
                    )));
                }
                let copy = Self::read_version(
                    &source_at,
                    &source_arn,
                    &artifact.version,
                    &written.machine.to_string(),
                )
                .await?;
                if copy.definition_sha256 != artifact.definition_sha256 {
                    return Err(Error::precondition(format!(
                        "{}: version {} has definition_sha256 {}, not {} as the record says: not \
                         the same definition; nothing changed",
                        copy.from,
                        artifact.version,
                        copy.definition_sha256,
                        artifact.definition_sha256
                    )));
                }
                Ok((Wanted::Copy(copy), Verdict::ALLOWED))
            }
            Source::Version {
                version,
                chain_machine,
            } => {
                let to = target.env.clone().unwrap_or_default();
                let verdict = self
                    .check_held(&target.name(), &version, &to, &chain_machine, None)
                    .await?;
                if let Some(env) = &self.version_env {
                    let (source_at, source_arn) = self.located(Some(env), &chain_machine).await?;
                    if !source_at.same_place(at) || source_arn != machine_arn {
                        let copy = Self::read_version(
                            &source_at,
                            &source_arn,
                            &version,
                            &format!("{chain_machine} ({env})"),
                        )
                        .await?;
                        return Ok((Wanted::Copy(copy), verdict));
                    }
                }
                let read =
                    Self::read_version(at, machine_arn, &version, &target.machine.to_string())
                        .await?;
                Ok((
                    Wanted::Here(SfnArtifact {
                        version_arn: read.from,
                        version,
                        definition_sha256: read.definition_sha256,
                        weights: Default::default(),
                    }),
                    verdict,
                ))
            }
            Source::Alias {
                env,
                machine,
                alias,
            } => {
                let (source_at, source_arn) = self.located(Some(&env), &machine).await?;
                let held = sfn::get_alias(&source_at.client.sfn, &source_arn, &alias)
                    .await?
                    .ok_or_else(|| {
                        Error::precondition(format!(
                            "{machine} has no alias {alias} ({env}): nothing to promote"
                        ))
                    })?;
                if !held.routing.weights.is_empty() {
                    tracing::warn!(
                        "{machine} alias {alias} is running a canary; promoting its main version {}",
                        held.routing.version
                    );
                }
                let copy = Self::read_version(
                    &source_at,
                    &source_arn,
                    &held.routing.version,
                    &machine.to_string(),
                )
                .await?;
                if source_at.same_place(at) && source_arn == machine_arn {
                    return Ok((
                        Wanted::Here(SfnArtifact {
                            version: held.routing.version,
                            version_arn: copy.from,
                            definition_sha256: copy.definition_sha256,
                            weights: Default::default(),
                        }),
                        Verdict::ALLOWED,
                    ));
                }
                Ok((Wanted::Copy(copy), Verdict::ALLOWED))
            }
        }
    }
}

/// What a promotion moves the alias to.
enum Wanted {
    /// A version of the target state machine itself.
    Here(SfnArtifact),
    /// A version of another account or region, to copy.
    Copy(Copy),
}

impl Adapter for Sfn<'_> {
    const SERVICES: &'static [Service] = &[Service::Stepfunctions];
    type Item = Item;
    type Move = Move;
    type Pointer = Pointer;
    type Artifact = SfnArtifact;

    async fn prepare(&self, _target: &Target, item: Item) -> Result<Prepared<Move>> {
        let Item { target, source } = item;
        if let Source::Canary {
            step,
            chain_machine,
        } = source
        {
            return self.prepare_canary(target, step, chain_machine).await;
        }
        let (at, machine_arn) = self.located(target.env.as_deref(), &target.machine).await?;
        let (want, verdict) = match self.wanted(&target, &at, &machine_arn, source).await? {
            (Wanted::Copy(copy), verdict) => {
                return self
                    .prepare_copy(target, at, machine_arn, copy, verdict)
                    .await
            }
            (Wanted::Here(want), verdict) => (want, verdict),
        };

        // The target as it is now, and the definition of that version in the target.
        let (current, found) = futures::future::join(
            sfn::get_alias(&at.client.sfn, &machine_arn, &target.alias),
            sfn::describe(
                &at.client.sfn,
                &sfn::version_arn(&machine_arn, &want.version),
            ),
        )
        .await;
        let current = current?;
        let found = found?.map(|d| d.definition_sha256());
        let now = current.as_ref().map(|a| a.routing.clone());
        routing::expect_holds(&target.name(), now.as_ref(), self.expect)?;
        routing::same_bits(
            &target.name(),
            "state machine",
            &want.version,
            "definition_sha256",
            &want.definition_sha256,
            found.as_deref(),
        )?;
        let want = SfnArtifact {
            // The version of the target's own state machine (a record may name it by another
            // partition's or account's ARN form).
            version_arn: sfn::version_arn(&machine_arn, &want.version),
            weights: Default::default(),
            ..want
        };
        let step = routing::settle(&want.version, now.as_ref());
        let previous = match &current {
            Some(alias) => Some(artifact_of(&at, &machine_arn, alias, Some(&want)).await?),
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
                seen: now,
                step,
                machine_arn,
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
            machine_arn,
            pointer,
            mut step,
            seen,
            mut record,
            copy,
        } = write;
        if let Some(copy) = copy {
            // The copy first, and proven: the alias moves only to a version whose definition
            // hashes as the source's does.
            let published = match calls::publish_definition(
                &at,
                &machine_arn,
                &copy.definition,
                copy.description.as_deref(),
            )
            .await
            {
                Ok(version) => version,
                Err(e) => return Err(e).into(),
            };
            let sha = match sfn::existing_sha256(&at.client.sfn, &machine_arn, &published).await {
                Ok(sha) => sha,
                Err(e) => return Err(e).into(),
            };
            if sha != copy.definition_sha256 {
                return Err(Error::precondition(format!(
                    "{}: the version the copy published ({published}) has definition_sha256 \
                     {sha}, not {}: not the same definition, so the alias was not moved",
                    pointer.name(),
                    copy.definition_sha256
                )))
                .into();
            }
            tracing::info!(
                "{}: copied {} as version {published}",
                pointer.name(),
                copy.from
            );
            if let Step::Create(routing) | Step::Update(routing) = &mut step {
                *routing = Routing::plain(&published);
            }
            let artifact = sfn::artifact(&machine_arn, &Routing::plain(&published), sha);
            record.artifact = Some(shared::record::to_value(&artifact));
            record.extra.insert("copied_from".into(), copy.field());
            if seen.as_ref() == Some(&Routing::plain(&published)) {
                // The alias held that definition already, under the version the publish
                // answered with (Step Functions publishes a revision once).
                record.action = Action::Unchanged;
                return Ok(vec![record]).into();
            }
        }
        let written = match &step {
            Step::Create(routing) => {
                calls::create_alias(&at, &machine_arn, &pointer.alias, routing).await
            }
            Step::Update(routing) => {
                calls::update_alias(&at, &machine_arn, &pointer.alias, routing, seen.as_ref()).await
            }
            Step::Delete => {
                calls::delete_alias(&at, &machine_arn, &pointer.alias, seen.as_ref()).await
            }
            Step::Unchanged => Ok(()),
        };
        let written = match (written, &step) {
            // A create refused as "exists" may be its own earlier attempt, whose answer was
            // lost: if the alias holds exactly what was wanted, the write happened.
            (Err(e), Step::Create(wanted)) if e.exit_code() == ExitCode::Precondition => {
                match sfn::get_alias(&at.client.sfn, &machine_arn, &pointer.alias).await {
                    Ok(Some(alias)) if alias.routing == *wanted => Ok(()),
                    _ => Err(e),
                }
            }
            (other, _) => other,
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
        let machine = MachineRef::of_record(&record.resource)
            .map_err(|e| Error::bad_input(origin, format!("`resource`: {e}")))?
            .in_region(record.region.as_deref());
        let pointer = Pointer {
            machine,
            alias: alias.clone(),
            env: record.env.clone(),
        };
        Ok(Some((
            pointer.target(pointer.machine.region.as_deref()),
            pointer,
        )))
    }

    fn artifact(
        &self,
        _record: &Record,
        value: &Value,
    ) -> std::result::Result<SfnArtifact, String> {
        let artifact: SfnArtifact = serde_json::from_value(value.clone()).map_err(|e| {
            format!(
                "a stepfunctions artifact {{\"version\", \"version_arn\", \"definition_sha256\"}}: {e}"
            )
        })?;
        // A version is a published number: the state machine itself (its unpublished
        // definition) changes with every deploy, and is never an artifact.
        let published = |v: &str| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
        if !published(&artifact.version) || artifact.weights.keys().any(|v| !published(v)) {
            return Err(format!(
                "a stepfunctions artifact: version {:?} is not a published version number",
                artifact.version
            ));
        }
        Ok(artifact)
    }

    async fn prepare_undo(&self, change: Change<Pointer, SfnArtifact>) -> Result<Prepared<Move>> {
        let Change {
            pointer,
            changed_to,
            restore,
            ..
        } = change;
        let (at, machine_arn) = self
            .located(pointer.env.as_deref(), &pointer.machine)
            .await?;
        let now = sfn::get_alias(&at.client.sfn, &machine_arn, &pointer.alias)
            .await?
            .map(|a| a.routing);
        let step = routing::rollback(
            &pointer.name(),
            changed_to.as_ref().map(routing_of).as_ref(),
            restore.as_ref().map(routing_of).as_ref(),
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
                seen: now,
                step,
                machine_arn,
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
