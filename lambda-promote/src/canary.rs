//! `canary`: weighted routing on one alias. Start sends a share of traffic to another version;
//! finish moves the alias to it; abort takes the weights off. Each step is one compare-and-swap
//! update of the alias, made through the engine (so it is checked against the order, printed,
//! journaled and dry-run like a promotion), and its record can be rolled back. A schedule runs
//! such steps to the end (`shared::progressive`), on one alias or, for `promote --canary`, on
//! every alias of a release together ([`release`]).

use crate::adapter::{Item, Lambda, Named, Source};
use crate::args::CanaryArgs;
use crate::calls::Clients;
use crate::function::{map_function, FunctionRef};
use crate::plan::CanaryStep;
use crate::{alias_template, Options, Pointer};
use shared::alarms::{Alarm, Gate};
use shared::batch::Work;
use shared::config::Project;
use shared::engine::{self, Job, Order, Settings};
use shared::output::Output;
use shared::progressive::{self, Move, Shift};
use shared::{Error, ExitCode, Result};

pub(crate) async fn run(
    args: CanaryArgs,
    project: Option<&Project>,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    if let Some(project) = project {
        project.position(&args.env)?;
    }
    if args.status {
        return status(&args, project, clients, opts, out).await;
    }
    let schedule = args.shift.schedule()?;
    let step = match (&args.version, args.weight, &schedule, args.finish, args.abort) {
        (Some(version), Some(percent), None, false, false) => CanaryStep::Start {
            version: version.clone(),
            percent,
        },
        // A schedule's first step, as a dry run shows it (the shift below takes it from there;
        // AllAtOnce is a promotion, shown by the dry run below).
        (Some(version), None, Some(schedule), false, false) => CanaryStep::Start {
            version: version.clone(),
            percent: schedule.steps[0].percent.min(99.0),
        },
        (None, None, None, true, false) => CanaryStep::Finish,
        (None, None, None, false, true) => CanaryStep::Abort,
        _ => {
            return Err(Error::usage(
                "give --version N with --weight PCT, --schedule NAME or --steps PCTS; or --finish, or --abort",
            ))
        }
    };
    let function =
        FunctionRef::parse(&args.function, crate::args::CANARY_HINT).map_err(Error::usage)?;
    let aliases = alias_template(project);
    let pointer = Pointer {
        function: function.clone(),
        alias: aliases.render(&args.env),
        env: Some(args.env.clone()),
    };
    let order = Order::of(project, args.force);
    let before = order.before(&args.env)?.map(str::to_string);
    // The function that holds the version in the environment before (one per environment
    // when promote.toml names them so).
    let templates = project
        .and_then(|p| p.lambda.as_ref())
        .map(|l| l.functions.clone())
        .unwrap_or_default();
    let chain_function = match &before {
        Some(before) => {
            let there = map_function(
                &templates,
                &function,
                &args.env,
                before,
                crate::function::TOML_HINT,
            )
            .map_err(Error::usage)?;
            FunctionRef {
                region: there.region.or_else(|| function.region.clone()),
                ..there
            }
        }
        None => function.clone(),
    };
    let adapter = Lambda {
        clients,
        expect: args.expect.as_deref(),
        chain: before.map(|env| (env, aliases, order)),
        version_env: None,
        dry_run: opts.dry_run,
        shared_registry: None,
        copy_bucket: None,
    };
    let canary = Canary {
        pointer,
        function,
        chain_function,
    };
    let (Some(schedule), Some(version)) = (schedule, &args.version) else {
        return engine::promote_one(&adapter, canary.job(step), opts, out).await;
    };
    if opts.dry_run {
        // What the first step would do; the rest depends on the alarms.
        shared::cli::note(&format!(
            "{}: would shift traffic to version {version} by {}",
            canary.pointer.name(),
            schedule.name
        ));
        let job = if schedule.steps[0].percent >= 100.0 {
            canary.promotion(version)
        } else {
            canary.job(step)
        };
        return engine::promote_one(&adapter, job, opts, out).await;
    }
    let at = clients
        .get(Some(&args.env), canary.function.region.as_deref())
        .await?;
    let watch = args
        .shift
        .watch(project, &args.env, Some(at.client.lambda.clone()));
    let member = Member::of(canary, version, &at).await?;
    let subject = member.canary.pointer.name();
    shift(
        &adapter,
        vec![member],
        &subject,
        &schedule,
        &watch,
        opts,
        out,
    )
    .await
}

/// `canary --status`: the alias's `resolved` record, and a line on where its traffic is and
/// how to go on (the state of a schedule is the alias's own weights).
async fn status(
    args: &CanaryArgs,
    project: Option<&Project>,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    let function =
        FunctionRef::parse(&args.function, crate::args::CANARY_HINT).map_err(Error::usage)?;
    let alias = alias_template(project).render(&args.env);
    let at = clients
        .get(Some(&args.env), function.region.as_deref())
        .await?;
    let name = format!("{} alias {alias}", function.name);
    match shared::lambda::get_alias(&at.client.lambda, &function.id, &alias).await? {
        None => shared::cli::note(&format!("{name} does not exist")),
        Some(now) => match now.weights.iter().next() {
            None => shared::cli::note(&format!(
                "{name}: no canary; all traffic on version {}",
                now.version
            )),
            Some((version, weight)) => shared::cli::note(&format!(
                "{name}: version {version} has {}% of the traffic, version {} the rest; run the \
                 schedule again to go on from there, --finish to move all of it, --abort to \
                 take it back",
                weight * 100.0,
                now.version
            )),
        },
    }
    crate::status::run(
        crate::args::StatusArgs {
            functions: vec![args.function.clone()],
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

/// Run `schedule` on `members` together: every step moves all of them (one engine run, so each
/// is checked before any is written), the alarms are read once for all, and an alarm, a failed
/// hook or a signal takes all of them back.
pub(crate) async fn shift(
    adapter: &Lambda<'_>,
    members: Vec<Member>,
    subject: &str,
    schedule: &shared::schedule::Schedule,
    watch: &progressive::Watch,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    let Some(first) = members.first() else {
        return Ok(ExitCode::Success);
    };
    let at = adapter
        .clients
        .get(
            first.canary.pointer.env.as_deref(),
            first.canary.function.region.as_deref(),
        )
        .await?;
    // Where a run again goes on from: the least any member has (one that has more is set to
    // the step's weight with the others).
    let current = members
        .iter()
        .map(|m| m.current)
        .fold(f64::INFINITY, f64::min);
    let mut shift = LambdaShift {
        adapter,
        members,
        opts,
        out,
        cloudwatch: at.client.cloudwatch.clone(),
    };
    Ok(
        progressive::run(subject, schedule, current, watch, &mut shift)
            .await?
            .exit_code(),
    )
}

/// One alias of a shift: its steps, the version it shifts to, and where it stands.
pub(crate) struct Member {
    canary: Canary,
    version: String,
    /// The version the alias held when the shift began (where a failed post-traffic hook moves
    /// it back to).
    from: Option<String>,
    /// The share of traffic (percent) the version has now: where a run again goes on from.
    current: f64,
    /// Whether the version has traffic on the alias (a step made, or a run before this one).
    weighted: bool,
    /// The order refused the version and --force let it through: the records say so.
    forced: bool,
}

impl Member {
    /// Read where `canary`'s alias stands. A canary of another version is not this shift's to
    /// move.
    pub(crate) async fn of(
        canary: Canary,
        version: &str,
        at: &crate::calls::Located,
    ) -> Result<Self> {
        let pointer = &canary.pointer;
        let alias =
            shared::lambda::get_alias(&at.client.lambda, &pointer.function.id, &pointer.alias)
                .await?;
        let (current, from) = match alias {
            None => (0.0, None),
            Some(alias) => {
                if let Some(other) = alias.weights.keys().find(|v| *v != version) {
                    return Err(Error::precondition(format!(
                        "{} sends traffic to version {other} already: finish or abort that \
                         canary first; nothing changed",
                        pointer.name()
                    )));
                }
                (
                    alias.weights.get(version).map_or(0.0, |w| w * 100.0),
                    Some(alias.version).filter(|v| v != version),
                )
            }
        };
        Ok(Member {
            canary,
            version: version.to_string(),
            from,
            current,
            weighted: current > 0.0,
            forced: false,
        })
    }

    /// This member's part of a move (`None`: it has nothing to do for it).
    fn job(&self, to: Move) -> Option<Job<Item>> {
        let forced = engine::Verdict {
            forced: self.forced,
        };
        self.move_job(to).map(|job| match to {
            Move::Weight(_) | Move::Finish => job.verdict(forced),
            Move::Abort | Move::Revert => job,
        })
    }

    fn move_job(&self, to: Move) -> Option<Job<Item>> {
        let canary = &self.canary;
        match to {
            Move::Weight(percent) => Some(canary.job(CanaryStep::Start {
                version: self.version.clone(),
                percent,
            })),
            Move::Finish if self.weighted => Some(canary.job(CanaryStep::Finish)),
            Move::Finish => Some(canary.promotion(&self.version)),
            Move::Abort => self.weighted.then(|| canary.job(CanaryStep::Abort)),
            Move::Revert => match &self.from {
                Some(from) => Some(canary.job(CanaryStep::Revert {
                    version: from.clone(),
                    finished: self.version.clone(),
                })),
                None => {
                    shared::cli::note(&format!(
                        "{}: the alias held no other version before the shift; it stays on {}",
                        canary.pointer.name(),
                        self.version
                    ));
                    None
                }
            },
        }
    }
}

/// One alias's canary: each step a job for the engine.
pub(crate) struct Canary {
    pub pointer: Pointer,
    pub function: FunctionRef,
    pub chain_function: FunctionRef,
}

impl Canary {
    /// All at once: the alias moves to `version`, checked against the order as a promotion of
    /// it is.
    fn promotion(&self, version: &str) -> Job<Item> {
        Job::new(
            self.pointer.target(self.function.region.as_deref()),
            Ok(Item {
                target: self.pointer.clone(),
                source: Source::Version {
                    version: Named::Number(version.to_string()),
                    chain_function: self.chain_function.clone(),
                },
                function: self.function.clone(),
            }),
        )
    }

    fn job(&self, step: CanaryStep) -> Job<Item> {
        Job::new(
            self.pointer.target(self.function.region.as_deref()),
            Ok(Item {
                target: self.pointer.clone(),
                source: Source::Canary {
                    step,
                    chain_function: self.chain_function.clone(),
                },
                function: self.function.clone(),
            }),
        )
    }
}

/// A schedule on a set of aliases: each move one engine run over all of them (checked against
/// the order, printed, journaled), the alarms read in their environment.
struct LambdaShift<'a, 'b, 'o> {
    adapter: &'a Lambda<'b>,
    members: Vec<Member>,
    opts: Options,
    out: &'o mut Output,
    cloudwatch: aws_sdk_cloudwatch::Client,
}

impl Shift for LambdaShift<'_, '_, '_> {
    async fn step(&mut self, to: Move) -> Result<ExitCode> {
        let work: Vec<Work<'_, Job<Item>>> = self
            .members
            .iter()
            .filter_map(|m| m.job(to))
            .map(Work::Own)
            .collect();
        if work.is_empty() {
            return Ok(ExitCode::Success);
        }
        // Together: a member that fails its check stops the step for all (none is written),
        // and a failed write takes back the step's others.
        let settings = Settings {
            atomic: self.members.len() > 1,
            ..Settings::of(self.opts, false, false)
        };
        let code = engine::promote(self.adapter, work, settings, self.out).await?;
        if matches!(to, Move::Weight(_)) && code == ExitCode::Success {
            for member in &mut self.members {
                member.weighted = true;
            }
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
        self.members
            .iter()
            .map(|m| {
                let pointer = &m.canary.pointer;
                serde_json::json!({
                    "service": "lambda",
                    "function": pointer.function.id,
                    "alias": pointer.alias,
                    "version": m.version,
                    "previous_version": m.from,
                    "region": m.canary.function.region,
                })
            })
            .collect()
    }
}

/// `promote --canary SCHEDULE`: the release's aliases shift together. Every item is read and
/// decided as a promotion (`prepare`: the version each alias would move to, checked against
/// the order), then the traffic shifts to those versions step by step, through `steps`' canary
/// moves. Anything that would make the promotion fail stops it before any traffic moves.
#[allow(clippy::too_many_arguments)] // reason: the run's facts, each one a plain value
pub(crate) async fn release(
    prepare: &Lambda<'_>,
    steps: &Lambda<'_>,
    work: Vec<Work<'_, Job<Item>>>,
    schedule: &shared::schedule::Schedule,
    watch: &progressive::Watch,
    subject: &str,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    use shared::engine::{Adapter, Prepared};
    let mut members = Vec::new();
    let mut settled = Vec::new();
    for entry in work {
        let job = match entry {
            Work::PassThrough(passage) => {
                out.pass(&passage)?;
                continue;
            }
            Work::Own(job) => job,
        };
        let item = job.item?;
        let canary = Canary {
            pointer: item.target.clone(),
            function: item.function.clone(),
            chain_function: item.source.chain_function(&item.function),
        };
        match prepare.prepare(&job.target, item).await? {
            // Holds the version already: it has nothing to shift.
            Prepared::Settled(records) => settled.extend(records),
            Prepared::Move { apply, verdict, .. } => {
                let (version, at) = apply.shifted_version()?;
                let mut member = Member::of(canary, &version, &at).await?;
                member.forced = verdict.forced || job.verdict.forced;
                members.push(member);
            }
        }
    }
    for record in &settled {
        out.record(record)?;
    }
    if members.is_empty() {
        if !settled.is_empty() {
            shared::cli::note("every alias holds its version already: no traffic to shift");
        }
        return Ok(ExitCode::Success);
    }
    if opts.dry_run {
        shared::cli::note(&format!(
            "{subject}: would shift traffic on {} alias{} by {}",
            members.len(),
            if members.len() == 1 { "" } else { "es" },
            schedule.name
        ));
        let first = schedule.from_weight(0.0).first().map_or(Move::Finish, |s| {
            if s.percent >= 100.0 {
                Move::Finish
            } else {
                Move::Weight(s.percent)
            }
        });
        let work = members
            .iter()
            .filter_map(|m| m.job(first))
            .map(Work::Own)
            .collect();
        return engine::promote(steps, work, Settings::of(opts, false, false), out).await;
    }
    shift(steps, members, subject, schedule, watch, opts, out).await
}
