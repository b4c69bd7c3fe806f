//! `canary`: put a canary on a stage, promote it (the canary's deployment becomes the stage's and
//! the canary is removed, in one UpdateStage call), or abort it; or run a schedule of such steps
//! to the end, watching alarms (`shared::progressive`). Each step is one move made through the
//! engine (so it is checked against the order, printed, journaled and dry-run like a promotion),
//! and its record can be rolled back.

use crate::adapter::{Apigateway, Before, Item, Source};
use crate::args::CanaryArgs;
use crate::plan::CanaryStep;
use crate::{api_in, api_named, check_env, stage_template, Clients, Options, StageRef};
use shared::alarms::{Alarm, Gate};
use shared::config::Project;
use shared::engine::{self, Job, Order};
use shared::output::Output;
use shared::progressive::{self, Move, Shift};
use shared::{Error, ExitCode, Result};

pub(crate) async fn run(
    args: &CanaryArgs,
    project: Option<&Project>,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    check_env(project, &args.env)?;
    if args.status {
        return status(args, project, clients, opts, out).await;
    }
    let schedule = args.shift.schedule()?;
    let step = match (&args.deployment, args.weight, &schedule, args.finish, args.abort) {
        (Some(deployment_id), Some(percent), None, false, false) => CanaryStep::Start {
            deployment_id: deployment_id.clone(),
            percent,
        },
        // A schedule's first step (what a dry run shows; the shift below takes it from there).
        (Some(deployment_id), None, Some(schedule), false, false) => {
            first_step(schedule, deployment_id.clone())
        }
        (None, None, None, true, false) => CanaryStep::Finish,
        (None, None, None, false, true) => CanaryStep::Abort,
        _ => {
            return Err(Error::usage(
                "give --deployment ID with --weight PCT, --schedule NAME or --steps PCTS; or --finish, or --abort",
            ))
        }
    };
    let order = Order::of(project, args.force);
    let stages = stage_template(project);
    let before = order.before(&args.env)?.map(|env| Before {
        stage: stages.render(env),
        env: env.to_string(),
    });
    let named = api_named(args.api.as_deref(), project, &args.env)?;
    let (at, id) = api_in(clients, &args.env, &named).await?;
    let stage = StageRef {
        api: id.as_deref().unwrap_or(&named.text).to_string(),
        stage: stages.render(&args.env),
        env: Some(args.env.clone()),
        region: named.region.clone(),
    };
    let adapter = Apigateway {
        clients,
        expect: None,
        order,
        dry_run: opts.dry_run,
    };
    let item = |step: CanaryStep| Item {
        stage: stage.clone(),
        source: Source::Canary {
            step,
            before: before.clone(),
        },
    };
    let (schedule, deployment) = match (schedule, &args.deployment, id) {
        (Some(schedule), Some(deployment), Ok(_)) if !opts.dry_run => (schedule, deployment),
        (schedule, _, id) => {
            if let (Some(schedule), Some(deployment)) = (&schedule, &args.deployment) {
                // What the first step would do; the rest depends on the alarms.
                shared::cli::note(&format!(
                    "{}: would shift traffic to deployment {deployment} by {}",
                    stage.name(),
                    schedule.name
                ));
            }
            // A failed lookup of the API is the step's `error` record.
            let job = Job::new(stage.target(at.region.as_deref()), id.map(|_| item(step)));
            return engine::promote_one(&adapter, job, opts, out).await;
        }
    };
    let watch = args.shift.watch(project, &args.env, None);
    shift(
        &adapter, &stage, &at, deployment, &schedule, watch, before, opts, out,
    )
    .await
}

/// The first move of `schedule` to `deployment`: a canary, or the whole stage at once.
fn first_step(schedule: &shared::schedule::Schedule, deployment_id: String) -> CanaryStep {
    match schedule.steps.first().map(|s| s.percent) {
        Some(percent) if percent < 100.0 => CanaryStep::Start {
            deployment_id,
            percent,
        },
        _ => CanaryStep::AllAtOnce { deployment_id },
    }
}

/// Run `schedule` on `stage`, shifting its traffic to `deployment`; each step is checked
/// against `before` (the environment before, when the order names one and no --force).
#[allow(clippy::too_many_arguments)] // reason: the run's facts, each one a plain value
async fn shift(
    adapter: &Apigateway<'_>,
    stage: &StageRef,
    at: &crate::calls::Located,
    deployment: &str,
    schedule: &shared::schedule::Schedule,
    mut watch: progressive::Watch,
    before: Option<Before>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    let now = shared::apigateway::get_stage(&at.client, &stage.api, &stage.stage)
        .await?
        .ok_or_else(|| {
            Error::precondition(format!(
                "{} does not exist: deploy or promote to it first; nothing changed",
                stage.name()
            ))
        })?;
    let current = match &now.canary {
        Some(canary) if canary.deployment_id == *deployment => canary.percent,
        Some(canary) => {
            return Err(Error::precondition(format!(
                "{} has a canary of deployment {} already: finish or abort it first; nothing \
                 changed",
                stage.name(),
                canary.deployment_id
            )))
        }
        None => 0.0,
    };
    // The alarms and the hook functions are other services, with the stage's credentials.
    let config = adapter
        .clients
        .config(stage.env.as_deref(), stage.region.as_deref())
        .await?
        .ok_or_else(|| Error::usage("a schedule needs CloudWatch in the stage's environment"))?;
    watch.hooks.lambda = Some(aws_sdk_lambda::Client::new(&config));
    let job = |step: CanaryStep| {
        Job::new(
            stage.target(at.region.as_deref()),
            Ok(Item {
                stage: stage.clone(),
                source: Source::Canary {
                    step,
                    before: before.clone(),
                },
            }),
        )
    };
    let subject = stage.name();
    let mut shift = StageShift {
        adapter,
        job: &job,
        stage,
        deployment: deployment.to_string(),
        from: Some(now.deployment_id).filter(|d| d != deployment),
        weighted: current > 0.0,
        opts,
        out,
        cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
    };
    Ok(
        progressive::run(&subject, schedule, current, &watch, &mut shift)
            .await?
            .exit_code(),
    )
}

/// `promote --canary SCHEDULE`: the promotion is read and decided as usual (`prepare`: the
/// deployment the stage would move to, checked against the order), then the stage's traffic
/// shifts to it step by step. Anything that would make the promotion fail stops it before any
/// traffic moves.
#[allow(clippy::too_many_arguments)] // reason: the run's facts, each one a plain value
pub(crate) async fn release(
    adapter: &Apigateway<'_>,
    work: Vec<shared::batch::Work<'_, Job<Item>>>,
    schedule: &shared::schedule::Schedule,
    watch: progressive::Watch,
    before: Option<Before>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    use shared::engine::{Adapter, Prepared};
    let mut moves = Vec::new();
    for entry in work {
        let job = match entry {
            shared::batch::Work::PassThrough(passage) => {
                out.pass(&passage)?;
                continue;
            }
            shared::batch::Work::Own(job) => job,
        };
        let item = job.item?;
        let stage = item.stage.clone();
        match adapter.prepare(&job.target, item).await? {
            Prepared::Settled(records) => {
                for record in &records {
                    out.record(record)?;
                }
            }
            Prepared::Move { apply, .. } => {
                let (deployment, at) = apply.shifted_deployment()?;
                moves.push((stage, deployment, at));
            }
        }
    }
    let (stage, deployment, at) = match moves.len() {
        0 => return Ok(ExitCode::Success),
        1 => moves.remove(0),
        n => {
            return Err(Error::usage(format!(
                "promote --canary shifts one stage, and the input moves {n}: promote them one at a \
                 time"
            )))
        }
    };
    if opts.dry_run {
        shared::cli::note(&format!(
            "{}: would shift traffic to deployment {deployment} by {}",
            stage.name(),
            schedule.name
        ));
        let step = first_step(schedule, deployment);
        let job = Job::new(
            stage.target(at.region.as_deref()),
            Ok(Item {
                stage: stage.clone(),
                source: Source::Canary { step, before },
            }),
        );
        return engine::promote_one(adapter, job, opts, out).await;
    }
    shift(
        adapter,
        &stage,
        &at,
        &deployment,
        schedule,
        watch,
        before,
        opts,
        out,
    )
    .await
}

/// `canary --status`: the stage's `resolved` record, and a line on where its traffic is and how
/// to go on (the state of a schedule is the stage's own canary settings).
async fn status(
    args: &CanaryArgs,
    project: Option<&Project>,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    let named = api_named(args.api.as_deref(), project, &args.env)?;
    let (at, id) = api_in(clients, &args.env, &named).await?;
    let stage = stage_template(project).render(&args.env);
    if let Ok(id) = &id {
        match shared::apigateway::get_stage(&at.client, id, &stage).await? {
            None => shared::cli::note(&format!("API {id} has no stage {stage}")),
            Some(now) => match &now.canary {
                None => shared::cli::note(&format!(
                    "stage {stage}: no canary; all traffic on deployment {}",
                    now.deployment_id
                )),
                Some(canary) => shared::cli::note(&format!(
                    "stage {stage}: deployment {} has {}% of the traffic, deployment {} the \
                     rest; run the schedule again to go on from there, --finish to move all of \
                     it, --abort to take it back",
                    canary.deployment_id, canary.percent, now.deployment_id
                )),
            },
        }
    }
    crate::status::run(
        &crate::args::StatusArgs {
            api: args.api.clone(),
            env: Some(args.env.clone()),
        },
        project,
        None,
        clients,
        opts,
        out,
    )
    .await
}

/// A schedule on one stage: each move a canary step through the engine, the alarms read in the
/// stage's environment.
struct StageShift<'a, 'b, 'o, J> {
    adapter: &'a Apigateway<'b>,
    /// A canary step as the engine's job.
    job: &'a J,
    stage: &'a StageRef,
    deployment: String,
    /// The deployment the stage ran when the shift began.
    from: Option<String>,
    /// Whether the canary has traffic (a step made, or a run before this one).
    weighted: bool,
    opts: Options,
    out: &'o mut Output,
    cloudwatch: aws_sdk_cloudwatch::Client,
}

impl<J: Fn(CanaryStep) -> Job<Item>> Shift for StageShift<'_, '_, '_, J> {
    async fn step(&mut self, to: Move) -> Result<ExitCode> {
        let step = match to {
            Move::Weight(percent) => CanaryStep::Start {
                deployment_id: self.deployment.clone(),
                percent,
            },
            Move::Finish if self.weighted => CanaryStep::Finish,
            // All at once: the stage moves to the deployment, checked against the order.
            Move::Finish => CanaryStep::AllAtOnce {
                deployment_id: self.deployment.clone(),
            },
            Move::Abort if !self.weighted => return Ok(ExitCode::Success),
            Move::Abort => CanaryStep::Abort,
            Move::Revert => match &self.from {
                Some(from) => CanaryStep::Revert {
                    deployment_id: from.clone(),
                    finished: self.deployment.clone(),
                },
                None => return Ok(ExitCode::Success),
            },
        };
        let code = engine::promote_one(self.adapter, (self.job)(step), self.opts, self.out).await?;
        if matches!(to, Move::Weight(_)) && code == ExitCode::Success {
            self.weighted = true;
        }
        Ok(code)
    }

    async fn alarms(&mut self, gate: &Gate) -> Result<Vec<Alarm>> {
        shared::alarms::read(&self.cloudwatch, gate).await
    }

    fn annotate(&mut self, shift: Option<serde_json::Value>) {
        self.out.annotate("shift", shift);
    }

    fn candidates(&self) -> Vec<serde_json::Value> {
        vec![serde_json::json!({
            "service": "apigateway",
            "api": self.stage.api,
            "stage": self.stage.stage,
            "deployment": self.deployment,
            "previous_deployment": self.from,
            "region": self.stage.region,
        })]
    }
}
