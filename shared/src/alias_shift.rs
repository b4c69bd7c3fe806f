//! A traffic shift on weighted aliases (Lambda's, Step Functions'): `shared::progressive` runs
//! the schedule, watching alarms and hooks; this is the [`Shift`] that turns each of its moves
//! into canary steps of one or several aliases, made through the engine together (so each is
//! checked against the order, printed, journaled and undone like any other change). A tool
//! supplies only how one alias's step becomes a job for its adapter ([`AliasCanary`]).

use crate::alarms::{Alarm, Gate};
use crate::batch::Work;
use crate::cli::Options;
use crate::engine::{self, Adapter, Job, Prepared, Settings, Verdict};
use crate::error::{Error, ExitCode, Result};
use crate::output::Output;
use crate::progressive::{Move, Shift};
use crate::routing::{CanaryStep, Routing};
use crate::schedule::Schedule;
use serde_json::Value;
use std::future::Future;

/// What a `canary` command line asks of one alias.
#[derive(Debug, Clone, PartialEq)]
pub enum Asked {
    /// One step: `--version N --weight PCT`, `--finish` or `--abort`.
    Step(CanaryStep),
    /// `--version N` with a schedule: shift the traffic to N step by step, to the end.
    Shift { version: String, schedule: Schedule },
}

/// Read a `canary` command line's flags (clap has checked which go together; this is the rest),
/// before anything is read from AWS.
///
/// # Errors
/// A usage error (exit 2) for any other combination.
pub fn asked(
    version: Option<&str>,
    weight: Option<f64>,
    schedule: Option<Schedule>,
    finish: bool,
    abort: bool,
) -> Result<Asked> {
    match (version, weight, schedule, finish, abort) {
        (Some(version), Some(percent), None, false, false) => Ok(Asked::Step(CanaryStep::Start {
            version: version.to_string(),
            percent,
        })),
        (Some(version), None, Some(schedule), false, false) => Ok(Asked::Shift {
            version: version.to_string(),
            schedule,
        }),
        (None, None, None, true, false) => Ok(Asked::Step(CanaryStep::Finish)),
        (None, None, None, false, true) => Ok(Asked::Step(CanaryStep::Abort)),
        _ => Err(Error::usage(
            "give --version N with --weight PCT, --schedule NAME or --steps PCTS; or --finish, or --abort",
        )),
    }
}

/// One alias a shift moves, as its tool makes jobs of it.
pub trait AliasCanary {
    /// The tool's unit of work for its adapter.
    type Item;
    /// A canary step on the alias.
    fn step(&self, step: CanaryStep) -> Job<Self::Item>;
    /// All at once: the alias moves to `version`, checked against the order as a promotion of
    /// it is.
    fn promotion(&self, version: &str) -> Job<Self::Item>;
    /// "orders-api alias prod", for messages.
    fn name(&self) -> String;
    /// What the hooks are told of this alias, about to route to `version` (from `from`).
    fn candidate(&self, version: &str, from: Option<&str>) -> Value;
}

/// One alias of a shift: its steps, the version it shifts to, and where it stands.
#[derive(Debug)]
pub struct Member<C> {
    pub canary: C,
    version: String,
    /// The version the alias held when the shift began (where a failed post-traffic hook moves
    /// it back to).
    from: Option<String>,
    /// The share of traffic (percent) the version has now: where a run again goes on from.
    current: f64,
    /// Whether the version has traffic on the alias (a step made, or a run before this one).
    weighted: bool,
    /// The order refused the version and --force let it through: the records say so.
    pub forced: bool,
}

impl<C: AliasCanary> Member<C> {
    /// A member whose alias routes as `now` (`None`: there is no alias yet). A canary of another
    /// version is not this shift's to move.
    pub fn of(canary: C, version: &str, now: Option<&Routing>) -> Result<Self> {
        let (current, from) = match now {
            None => (0.0, None),
            Some(now) => {
                if let Some(other) = now.weights.keys().find(|v| *v != version) {
                    return Err(Error::precondition(format!(
                        "{} sends traffic to version {other} already: finish or abort that \
                         canary first; nothing changed",
                        canary.name()
                    )));
                }
                (
                    now.weights.get(version).map_or(0.0, |w| w * 100.0),
                    Some(now.version.clone()).filter(|v| v != version),
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
    fn job(&self, to: Move) -> Option<Job<C::Item>> {
        let canary = &self.canary;
        let forced = Verdict {
            forced: self.forced,
        };
        match to {
            Move::Weight(percent) => Some(
                canary
                    .step(CanaryStep::Start {
                        version: self.version.clone(),
                        percent,
                    })
                    .verdict(forced),
            ),
            Move::Finish if self.weighted => Some(canary.step(CanaryStep::Finish).verdict(forced)),
            Move::Finish => Some(canary.promotion(&self.version).verdict(forced)),
            Move::Abort => self.weighted.then(|| canary.step(CanaryStep::Abort)),
            Move::Revert => match &self.from {
                Some(from) => Some(canary.step(CanaryStep::Revert {
                    version: from.clone(),
                    finished: self.version.clone(),
                })),
                None => {
                    crate::cli::note(&format!(
                        "{}: the alias held no other version before the shift; it stays on {}",
                        canary.name(),
                        self.version
                    ));
                    None
                }
            },
        }
    }

    /// The first move of `schedule` from where this member stands, as a dry run shows it.
    fn first(&self, schedule: &Schedule) -> Move {
        schedule
            .from_weight(self.current)
            .first()
            .map_or(Move::Finish, |s| {
                if s.percent >= 100.0 {
                    Move::Finish
                } else {
                    Move::Weight(s.percent)
                }
            })
    }
}

/// Run `schedule` on `members` together: every step moves all of them (one engine run, so each
/// is checked before any is written), the alarms are read once for all in `cloudwatch`'s
/// environment, and an alarm, a failed hook or a signal takes all of them back. A dry run shows
/// the first step and moves nothing.
#[allow(clippy::too_many_arguments)] // reason: the run's facts, each one a plain value
pub async fn shift<A, C>(
    adapter: &A,
    members: Vec<Member<C>>,
    subject: &str,
    schedule: &Schedule,
    watch: &crate::progressive::Watch,
    cloudwatch: aws_sdk_cloudwatch::Client,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode>
where
    A: Adapter,
    C: AliasCanary<Item = A::Item>,
{
    if members.is_empty() {
        return Ok(ExitCode::Success);
    }
    if opts.dry_run {
        // What the first step would do (from where each alias stands); the rest depends on the
        // alarms.
        match members.as_slice() {
            [one] => crate::cli::note(&format!(
                "{}: would shift traffic to version {} by {}",
                one.canary.name(),
                one.version,
                schedule.name
            )),
            _ => crate::cli::note(&format!(
                "{subject}: would shift traffic on {} aliases by {}",
                members.len(),
                schedule.name
            )),
        }
        let work = members
            .iter()
            .filter_map(|m| m.job(m.first(schedule)))
            .map(Work::Own)
            .collect();
        return engine::promote(adapter, work, Settings::of(opts, false, false), out).await;
    }
    // Where a run again goes on from: the least any member has (one that has more is set to
    // the step's weight with the others).
    let current = members
        .iter()
        .map(|m| m.current)
        .fold(f64::INFINITY, f64::min);
    let mut shift = AliasShift {
        adapter,
        members,
        opts,
        out,
        cloudwatch,
    };
    Ok(
        crate::progressive::run(subject, schedule, current, watch, &mut shift)
            .await?
            .exit_code(),
    )
}

/// An adapter whose promotions can shift traffic instead of moving an alias at once
/// (`promote --canary`): what the canary of an item is, and where a decided promotion would
/// shift the alias's traffic to.
pub trait Release: Adapter {
    type Canary: AliasCanary<Item = Self::Item>;
    /// The canary of `item`, whose steps move the alias the promotion of `item` would.
    fn canary_of(&self, item: &Self::Item) -> Self::Canary;
    /// Where a promotion decided by `prepare` shifts instead: the version the alias's traffic
    /// goes to, what it routes as now, and the client of the alarms in its environment. A
    /// promotion that cannot be a shift (the alias does not exist yet, the artifact must first
    /// be copied) is refused here, before any traffic moves.
    fn shifted(&self, apply: &Self::Move) -> impl Future<Output = Result<Shifted>>;
}

/// Where a promotion would shift an alias's traffic to.
#[derive(Debug)]
pub struct Shifted {
    pub version: String,
    pub now: Option<Routing>,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
}

/// `promote --canary SCHEDULE`: the release's aliases shift together. Every item is read and
/// decided as a promotion by `prepare` (the version each alias would move to, checked against
/// the order), then the traffic shifts to those versions step by step through `steps`' canary
/// moves. Anything that would make the promotion fail stops it before any traffic moves; an
/// alias that holds its version already is `unchanged`.
#[allow(clippy::too_many_arguments)] // reason: the run's facts, each one a plain value
pub async fn release<A: Release>(
    prepare: &A,
    steps: &A,
    work: Vec<Work<'_, Job<A::Item>>>,
    schedule: &Schedule,
    watch: &crate::progressive::Watch,
    subject: &str,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    let mut members = Vec::new();
    let mut settled = Vec::new();
    // The alarms are read where the aliases are: the first one's environment.
    let mut cloudwatch = None;
    for entry in work {
        let job = match entry {
            Work::PassThrough(passage) => {
                out.pass(&passage)?;
                continue;
            }
            Work::Own(job) => job,
        };
        let item = job.item?;
        let canary = prepare.canary_of(&item);
        match prepare.prepare(&job.target, item).await? {
            Prepared::Settled(records) => settled.extend(records),
            Prepared::Move { apply, verdict, .. } => {
                let shifted = prepare.shifted(&apply).await?;
                cloudwatch.get_or_insert(shifted.cloudwatch);
                let mut member = Member::of(canary, &shifted.version, shifted.now.as_ref())?;
                member.forced = verdict.forced || job.verdict.forced;
                members.push(member);
            }
        }
    }
    for record in &settled {
        out.record(record)?;
    }
    let Some(cloudwatch) = cloudwatch else {
        if !settled.is_empty() {
            crate::cli::note("every alias holds its version already: no traffic to shift");
        }
        return Ok(ExitCode::Success);
    };
    shift(
        steps, members, subject, schedule, watch, cloudwatch, opts, out,
    )
    .await
}

/// A schedule on a set of aliases: each move one engine run over all of them.
struct AliasShift<'a, 'o, A, C> {
    adapter: &'a A,
    members: Vec<Member<C>>,
    opts: Options,
    out: &'o mut Output,
    cloudwatch: aws_sdk_cloudwatch::Client,
}

impl<A, C> Shift for AliasShift<'_, '_, A, C>
where
    A: Adapter,
    C: AliasCanary<Item = A::Item>,
{
    async fn step(&mut self, to: Move) -> Result<ExitCode> {
        let work: Vec<Work<'_, Job<A::Item>>> = self
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
        crate::alarms::read(&self.cloudwatch, gate).await
    }

    fn annotate(&mut self, shift: Option<Value>) {
        self.out.annotate("shift", shift);
    }

    fn candidates(&self) -> Vec<Value> {
        self.members
            .iter()
            .map(|m| m.canary.candidate(&m.version, m.from.as_deref()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Fake;

    impl AliasCanary for Fake {
        type Item = String;
        fn step(&self, step: CanaryStep) -> Job<String> {
            Job::new(
                crate::engine::Target::new(crate::Service::Lambda, "f", "prod"),
                Ok(format!("{step:?}")),
            )
        }
        fn promotion(&self, version: &str) -> Job<String> {
            Job::new(
                crate::engine::Target::new(crate::Service::Lambda, "f", "prod"),
                Ok(format!("promote {version}")),
            )
        }
        fn name(&self) -> String {
            "f alias prod".into()
        }
        fn candidate(&self, version: &str, from: Option<&str>) -> Value {
            serde_json::json!({"version": version, "previous_version": from})
        }
    }

    #[test]
    fn a_canary_command_line_is_one_step_or_a_shift() {
        let schedule = Schedule::named("Canary10Percent5Minutes").unwrap();
        assert_eq!(
            asked(Some("2"), Some(10.0), None, false, false).unwrap(),
            Asked::Step(CanaryStep::Start {
                version: "2".into(),
                percent: 10.0
            })
        );
        assert!(matches!(
            asked(Some("2"), None, Some(schedule.clone()), false, false).unwrap(),
            Asked::Shift { version, .. } if version == "2"
        ));
        assert_eq!(
            asked(None, None, None, true, false).unwrap(),
            Asked::Step(CanaryStep::Finish)
        );
        // A schedule says where to go: it cannot finish or abort.
        let refused = asked(None, None, Some(schedule), true, false).unwrap_err();
        assert_eq!(refused.exit_code(), ExitCode::Usage);
        assert!(asked(Some("2"), None, None, false, false).is_err());
    }

    fn item(job: Option<Job<String>>) -> Option<String> {
        job.and_then(|j| j.item.ok())
    }

    #[test]
    fn a_member_goes_on_from_its_weight_and_refuses_another_canary() {
        let mut now = Routing::plain("1");
        now.weights.insert("2".into(), 0.2);
        let member = Member::of(Fake, "2", Some(&now)).unwrap();
        assert!((member.current - 20.0).abs() < f64::EPSILON);
        assert_eq!(item(member.job(Move::Finish)).as_deref(), Some("Finish"));
        assert_eq!(item(member.job(Move::Abort)).as_deref(), Some("Abort"));
        assert!(item(member.job(Move::Revert)).unwrap().contains("Revert"));
        let mut other = Routing::plain("1");
        other.weights.insert("3".into(), 0.1);
        let refused = Member::of(Fake, "2", Some(&other)).unwrap_err();
        assert!(
            refused.to_string().contains("version 3 already"),
            "{refused}"
        );
    }

    #[test]
    fn a_member_with_no_traffic_yet_finishes_by_promotion_and_has_nothing_to_abort() {
        let member = Member::of(Fake, "2", Some(&Routing::plain("1"))).unwrap();
        assert_eq!(item(member.job(Move::Finish)).as_deref(), Some("promote 2"));
        assert!(member.job(Move::Abort).is_none());
        let new = Member::of(Fake, "2", None).unwrap();
        assert!(new.job(Move::Revert).is_none(), "nothing to go back to");
    }
}
