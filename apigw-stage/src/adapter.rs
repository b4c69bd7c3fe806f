//! How API Gateway keeps the engine's promise (`shared::engine::Adapter`): a pointer is a stage of
//! a REST API, an artifact the deployment it runs (with its canary); a move is one UpdateStage
//! patch, a CreateStage or a DeleteStage, and for `deploy` a CreateDeployment before it. Reading
//! and deciding happen in `prepare`, the writes alone in `apply`.

use crate::calls::{self, Located};
use crate::import::{self, Import, Origin};
use crate::plan::{self, CanaryStep, Step};
use crate::{artifact_of, existing_stage, Clients, StageRef};
use shared::batch::Outcome;
use shared::engine::{Adapter, Change, Order, Prepared, Target, Verdict};
use shared::record::ApigatewayArtifact;
use shared::{Action, Error, Record, Result, Service};

/// Where the deployment a stage moves to comes from.
#[derive(Debug)]
pub(crate) enum Source {
    /// What this environment's stage (of the same API) runs now. In another account or region
    /// (where the API is another one, looked up by `named` there) its definition is imported.
    Stage {
        env: String,
        stage: String,
        named: String,
    },
    /// The deployment a record on stdin names (a release manifest): exactly that one. The
    /// record's account and region say where that deployment is.
    Record {
        deployment: String,
        account: Option<String>,
        region: Option<String>,
    },
    /// A canary step on the stage itself. A deployment it sends traffic to (or promotes) must be
    /// what the environment before runs, when the order names one.
    Canary {
        step: CanaryStep,
        before: Option<Before>,
    },
    /// A new deployment of the API as it is now (the build).
    Deploy { description: Option<String> },
}

/// The environment before the stage's, and its stage: what the order checks a named deployment
/// against.
#[derive(Debug, Clone)]
pub(crate) struct Before {
    pub env: String,
    pub stage: String,
}

/// One stage to move. Its API is an id: a name was looked up while the work was built.
#[derive(Debug)]
pub(crate) struct Item {
    pub stage: StageRef,
    pub source: Source,
}

/// A decided write to one stage.
#[derive(Debug)]
pub(crate) struct Move {
    at: Located,
    stage: StageRef,
    write: Write,
}

#[derive(Debug)]
enum Write {
    /// One stage write, and the record printed once it is made.
    Stage(Step, Box<Record>),
    /// Across accounts or regions: the source's definition imported, deployed, and the stage
    /// moved to the new deployment (`crate::import`).
    Import(Box<Import>),
    /// A new deployment, then the stage (running `previous`) moved to it.
    Deploy {
        description: Option<String>,
        previous: Option<ApigatewayArtifact>,
    },
}

impl Move {
    /// The deployment a promotion moves the stage to, for a shift of traffic to it instead. A
    /// shift needs the stage, and a deployment of its own API (not one an import would make).
    pub(crate) fn shifted_deployment(&self) -> Result<(String, Located)> {
        let name = self.stage.name();
        match &self.write {
            Write::Stage(Step::Update(_), record) => record
                .artifact
                .as_ref()
                .and_then(|a| a.get("deployment_id"))
                .and_then(serde_json::Value::as_str)
                .map(|d| (d.to_string(), self.at.clone()))
                .ok_or_else(|| Error::precondition(format!("{name}: no deployment to shift to"))),
            Write::Stage(..) => Err(Error::precondition(format!(
                "{name} does not exist yet: a traffic shift needs the stage; promote without \
                 --canary first; nothing changed"
            ))),
            Write::Import(_) | Write::Deploy { .. } => Err(Error::precondition(format!(
                "{name}: the deployment must first be imported into this account or region, and \
                 a traffic shift moves traffic between deployments that exist: promote without \
                 --canary; nothing changed"
            ))),
        }
    }
}

/// The API Gateway adapter of one run.
pub(crate) struct Apigateway<'a> {
    pub clients: &'a Clients<'a>,
    /// `--expect`: the deployment the target stage must run now.
    pub expect: Option<&'a str>,
    /// The promotion order, for a canary's deployment.
    pub order: Order<'a>,
    /// `--dry-run`: for the note saying what an import would do.
    pub dry_run: bool,
}

impl Apigateway<'_> {
    /// Whether the environment before runs `deployment`, as the order's check of a deployment
    /// named on the command line.
    async fn check_held(
        &self,
        stage: &StageRef,
        deployment: &str,
        before: &Before,
    ) -> Result<Verdict> {
        let to = stage.env.as_deref().unwrap_or_default();
        let at = self
            .clients
            .get(Some(&before.env), stage.region.as_deref())
            .await?;
        let held = shared::apigateway::get_stage(&at.client, &stage.api, &before.stage).await?;
        self.order.check_held(
            &stage.name(),
            &format!("deployment {deployment}"),
            to,
            &before.env,
            held.as_ref().is_some_and(|s| s.deployment_id == deployment),
            &held.map_or_else(
                || format!("no stage {}", before.stage),
                |s| format!("deployment {}", s.deployment_id),
            ),
        )
    }

    async fn prepare_canary(
        &self,
        at: Located,
        stage: StageRef,
        step: CanaryStep,
        before: Option<Before>,
    ) -> Result<Prepared<Move>> {
        let now = artifact_of(&existing_stage(&at, &stage).await?);
        if let CanaryStep::Start { deployment_id, .. } | CanaryStep::AllAtOnce { deployment_id } =
            &step
        {
            if !shared::apigateway::deployment_exists(&at.client, &stage.api, deployment_id).await?
            {
                return Err(Error::precondition(format!(
                    "API {} has no deployment {deployment_id}; nothing changed",
                    stage.api
                )));
            }
        }
        let Some((next, action)) = plan::canary(&stage.name(), &step, &now)? else {
            return Ok(Prepared::Settled(vec![stage.record(
                Action::Unchanged,
                &at,
                Some(&now),
                Some(&now),
            )]));
        };
        // The order: traffic goes only to what the environment before runs (abort takes the
        // traffic back, and is exempt as rollback is).
        let verdict = match (&step, &before) {
            // A revert takes a finished shift back, as rollback would.
            (CanaryStep::Abort | CanaryStep::Revert { .. }, _) | (_, None) => Verdict::ALLOWED,
            (
                CanaryStep::Start { deployment_id, .. } | CanaryStep::AllAtOnce { deployment_id },
                Some(before),
            ) => self.check_held(&stage, deployment_id, before).await?,
            (CanaryStep::Finish, Some(before)) => {
                self.check_held(&stage, &next.deployment_id, before).await?
            }
        };
        let planned = stage.planned(action, &at, Some(&next), Some(&now));
        let record = stage.record(action, &at, Some(&next), Some(&now));
        Ok(Prepared::Move {
            apply: Move {
                write: Write::Stage(Step::Update(plan::patch(&now, &next)), Box::new(record)),
                stage,
                at,
            },
            planned: Box::new(planned),
            verdict,
        })
    }

    /// What the target stage runs now and the deployment to promote onto it.
    async fn read_promotion(
        &self,
        at: &Located,
        target: &StageRef,
        source: Source,
    ) -> Result<(String, Option<shared::apigateway::Stage>)> {
        match source {
            // A record names its API by id (records always carry the id): no lookup.
            Source::Record { deployment, .. } => {
                let now =
                    shared::apigateway::get_stage(&at.client, &target.api, &target.stage).await?;
                Ok((deployment, now))
            }
            Source::Stage { env, stage, .. } => {
                let from_at = self
                    .clients
                    .get(Some(&env), target.region.as_deref())
                    .await?;
                let no_source = || {
                    Error::precondition(format!(
                        "API {} has no stage {stage} ({env}): nothing to promote",
                        target.api
                    ))
                };
                if from_at.settings == at.settings {
                    // One account and region: one GetStages reads both stages at once.
                    let all = shared::apigateway::get_stages(&at.client, &target.api).await?;
                    let find = |name: &str| all.iter().find(|s| s.name == name).cloned();
                    let from = find(&stage).ok_or_else(no_source)?;
                    Ok((from.deployment_id, find(&target.stage)))
                } else {
                    let now = shared::apigateway::get_stage(&at.client, &target.api, &target.stage)
                        .await?;
                    let from = shared::apigateway::get_stage(&from_at.client, &target.api, &stage)
                        .await?
                        .ok_or_else(no_source)?;
                    Ok((from.deployment_id, now))
                }
            }
            Source::Canary { .. } | Source::Deploy { .. } => Err(Error::usage(
                "a canary step or a deployment is not a promotion",
            )),
        }
    }

    /// A promotion from a stage in another account or region: its definition, imported.
    async fn prepare_import(
        &self,
        at: Located,
        from_at: &Located,
        stage: StageRef,
        origin: &Origin,
    ) -> Result<Prepared<Move>> {
        match import::prepare(&at, from_at, &stage, origin, self.expect).await? {
            Err(unchanged) => Ok(Prepared::Settled(vec![unchanged])),
            Ok((import, planned)) => {
                if self.dry_run {
                    shared::cli::note(&import.note(&stage));
                }
                Ok(Prepared::to(
                    Move {
                        write: Write::Import(Box::new(import)),
                        stage,
                        at,
                    },
                    planned,
                ))
            }
        }
    }

    /// `deploy`'s writes: the new deployment, then the stage moved to it (a canary on the stage
    /// stays as it is).
    async fn deploy(
        at: &Located,
        stage: &StageRef,
        description: Option<&str>,
        previous: Option<&ApigatewayArtifact>,
    ) -> Result<Record> {
        let deployment = calls::create_deployment(at, &stage.api, description).await?;
        let artifact = ApigatewayArtifact {
            deployment_id: deployment.clone(),
            canary: previous.and_then(|p| p.canary.clone()),
        };
        let moved = match previous {
            Some(previous) => {
                calls::update_stage(
                    at,
                    &stage.api,
                    &stage.stage,
                    &plan::patch(previous, &artifact),
                )
                .await
            }
            None => calls::create_stage(at, &stage.api, &stage.stage, &deployment).await,
        };
        if moved.is_err() {
            tracing::warn!(
                "deployment {deployment} of API {} was made, but {} was not moved to it",
                stage.api,
                stage.name()
            );
        }
        moved?;
        tracing::info!("{}: deployed {deployment}", stage.name());
        Ok(stage.record(Action::Published, at, Some(&artifact), previous))
    }
}

impl Adapter for Apigateway<'_> {
    const SERVICES: &'static [Service] = &[Service::Apigateway];
    type Item = Item;
    type Move = Move;
    type Pointer = StageRef;
    type Artifact = ApigatewayArtifact;

    async fn prepare(&self, _target: &Target, item: Item) -> Result<Prepared<Move>> {
        let Item { stage, source } = item;
        let at = self
            .clients
            .get(stage.env.as_deref(), stage.region.as_deref())
            .await?;
        let source = match source {
            Source::Canary { step, before } => {
                return self.prepare_canary(at, stage, step, before).await
            }
            Source::Deploy { description } => {
                let previous = shared::apigateway::get_stage(&at.client, &stage.api, &stage.stage)
                    .await?
                    .map(|s| artifact_of(&s));
                // The deployment's id is only known once it is made.
                let planned = stage.planned(Action::Published, &at, None, previous.as_ref());
                return Ok(Prepared::to(
                    Move {
                        write: Write::Deploy {
                            description,
                            previous,
                        },
                        stage,
                        at,
                    },
                    planned,
                ));
            }
            Source::Stage {
                env,
                stage: from_stage,
                named,
            } => {
                let from_at = self
                    .clients
                    .get(Some(&env), stage.region.as_deref())
                    .await?;
                if !from_at.same_place(&at) {
                    let origin = Origin {
                        env,
                        stage: from_stage,
                        named,
                    };
                    return self.prepare_import(at, &from_at, stage, &origin).await;
                }
                Source::Stage {
                    env,
                    stage: from_stage,
                    named,
                }
            }
            source => source,
        };
        if let Source::Record {
            deployment,
            account,
            region,
        } = &source
        {
            check_record_place(
                &stage,
                &at,
                deployment,
                account.as_deref(),
                region.as_deref(),
            )?;
        }
        let from_record = matches!(source, Source::Record { .. });
        // What the target runs is read before any check: a promotion already done stops with the
        // reads of the two stages (a record's target stage alone).
        let (want, now) = self.read_promotion(&at, &stage, source).await?;
        let now = now.map(|s| artifact_of(&s));
        let step = plan::promote(&stage.name(), &want, now.as_ref(), self.expect)?;
        if step == Step::Unchanged {
            return Ok(Prepared::Settled(vec![stage.record(
                Action::Unchanged,
                &at,
                now.as_ref(),
                now.as_ref(),
            )]));
        }
        if step == Step::Delete {
            return Err(Error::usage("promote never deletes a stage"));
        }
        // API Gateway itself does not check a deployment id on UpdateStage everywhere; check it
        // here so a stage never points at nothing. A record may name a deployment deleted since;
        // one just read off a live stage of the same API exists (API Gateway refuses to delete a
        // deployment a stage points at).
        if from_record
            && !shared::apigateway::deployment_exists(&at.client, &stage.api, &want).await?
        {
            return Err(Error::precondition(format!(
                "API {} has no deployment {want}; nothing changed",
                stage.api
            )));
        }
        let after = ApigatewayArtifact {
            deployment_id: want,
            canary: now.as_ref().and_then(|n| n.canary.clone()),
        };
        let planned = stage.planned(Action::Promoted, &at, Some(&after), now.as_ref());
        let record = stage.record(Action::Promoted, &at, Some(&after), now.as_ref());
        Ok(Prepared::to(
            Move {
                write: Write::Stage(step, Box::new(record)),
                stage,
                at,
            },
            planned,
        ))
    }

    async fn apply(&self, write: Move) -> Outcome {
        let Move { at, stage, write } = write;
        match write {
            Write::Stage(step, record) => {
                let written = match &step {
                    Step::Create(deployment) => {
                        calls::create_stage(&at, &stage.api, &stage.stage, deployment).await
                    }
                    Step::Update(ops) => {
                        calls::update_stage(&at, &stage.api, &stage.stage, ops).await
                    }
                    Step::Delete => calls::delete_stage(&at, &stage.api, &stage.stage).await,
                    Step::Unchanged => Ok(()),
                };
                let written = match (written, &step) {
                    // The answer to a CreateStage that API Gateway applied can be lost (throttled
                    // or cut off after the fact), and the retry then meets the stage it made:
                    // read it again, and if it is on the wanted deployment the write happened.
                    (Err(e), Step::Create(deployment))
                        if e.exit_code() == shared::ExitCode::Precondition =>
                    {
                        match shared::apigateway::get_stage(&at.client, &stage.api, &stage.stage)
                            .await
                        {
                            Ok(Some(now)) if now.deployment_id == *deployment => {
                                tracing::info!(
                                    "{}: created by its own earlier attempt (its answer was lost)",
                                    stage.name()
                                );
                                Ok(())
                            }
                            _ => Err(e),
                        }
                    }
                    (written, _) => written,
                };
                match written {
                    Ok(()) => {
                        tracing::info!("{}: {}", stage.name(), record.action);
                        Ok(vec![*record]).into()
                    }
                    Err(e) => Err(e).into(),
                }
            }
            Write::Import(import) => import
                .run(&at, &stage)
                .await
                .map(|record| vec![record])
                .into(),
            Write::Deploy {
                description,
                previous,
            } => Self::deploy(&at, &stage, description.as_deref(), previous.as_ref())
                .await
                .map(|record| vec![record])
                .into(),
        }
    }

    fn change_of(&self, record: &Record, origin: &str) -> Result<Option<(Target, StageRef)>> {
        let Some(stage) = &record.pointer else {
            return Ok(None);
        };
        let api = crate::ApiName::parse(&record.resource)
            .map_err(|e| Error::bad_input(origin, format!("`resource`: {e}")))?;
        // Where the change was made: the record's region, else the one its ARN names.
        let region = record.region.clone().or(api.region);
        let stage = StageRef {
            api: api.text,
            stage: stage.clone(),
            env: record.env.clone(),
            region: region.clone(),
        };
        Ok(Some((stage.target(region.as_deref()), stage)))
    }

    fn artifact(
        &self,
        _record: &Record,
        value: &serde_json::Value,
    ) -> std::result::Result<ApigatewayArtifact, String> {
        serde_json::from_value(value.clone())
            .map_err(|e| format!("an apigateway artifact {{\"deployment_id\"}}: {e}"))
    }

    async fn prepare_undo(
        &self,
        change: Change<StageRef, ApigatewayArtifact>,
    ) -> Result<Prepared<Move>> {
        let Change {
            target,
            pointer: stage,
            changed_to,
            restore,
            ..
        } = change;
        let at = self
            .clients
            .get(stage.env.as_deref(), target.region.as_deref())
            .await?;
        let now = shared::apigateway::get_stage(&at.client, &stage.api, &stage.stage)
            .await?
            .map(|s| artifact_of(&s));
        let step = plan::rollback(
            &stage.name(),
            now.as_ref(),
            changed_to.as_ref(),
            restore.as_ref(),
        )?;
        if step == Step::Unchanged {
            return Ok(Prepared::Settled(vec![stage.record(
                Action::Unchanged,
                &at,
                restore.as_ref(),
                restore.as_ref(),
            )]));
        }
        let planned = stage.planned(
            Action::RolledBack,
            &at,
            restore.as_ref(),
            changed_to.as_ref(),
        );
        let record = stage.record(
            Action::RolledBack,
            &at,
            restore.as_ref(),
            changed_to.as_ref(),
        );
        Ok(Prepared::to(
            Move {
                write: Write::Stage(step, Box::new(record)),
                stage,
                at,
            },
            planned,
        ))
    }
}

/// A deployment a record names exists only in the record's account and region: promoting it into
/// another is refused (its definition can be imported from the live stage instead).
fn check_record_place(
    stage: &StageRef,
    at: &Located,
    deployment: &str,
    account: Option<&str>,
    region: Option<&str>,
) -> Result<()> {
    let other_account = account
        .zip(at.account.as_deref())
        .is_some_and(|(a, b)| a != b);
    let other_region = region
        .zip(at.region.as_deref())
        .is_some_and(|(a, b)| a != b);
    if other_account || other_region {
        return Err(Error::precondition(format!(
            "the record names deployment {deployment} in account {}, {}, but {} is in account {}, {}: \
             a deployment cannot move between accounts or regions; promote from the live stage \
             (--from ENV) to import its definition; nothing changed",
            account.unwrap_or("unknown"),
            region.unwrap_or("its region"),
            stage.name(),
            at.account.as_deref().unwrap_or("unknown"),
            at.region.as_deref().unwrap_or("its region"),
        )));
    }
    Ok(())
}
