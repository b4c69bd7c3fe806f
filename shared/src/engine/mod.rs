//! The promotion engine: the promise every promoting tool makes, kept once. A pointer moves only
//! to exactly what the environment before it holds (the [`chain`]), the work comes only from
//! where the command line says ([`source`]), every item is read and checked before the first
//! write, every change is printed with what was there before (and journaled the moment it is
//! made), a failure is a record too, `--dry-run` prints the plan, `--atomic` takes back a failed
//! run's changes, and `rollback` undoes what records say was done.
//!
//! A tool supplies an [`Adapter`]: how to read and check one item and decide its move
//! ([`Adapter::prepare`]), how to make a move with the service's compare-and-swap
//! ([`Adapter::apply`]), and how to read a change record back into an undo
//! ([`Adapter::change_of`], [`Adapter::prepare_undo`]). Everything else is here.

pub mod chain;
pub mod source;

pub use chain::{Order, Verdict};
pub use source::{Asked, Source, Stdin};

use crate::batch::Work;
use crate::cli::{note, report};
use crate::error::{Error, ExitCode, Result};
use crate::input::{Input, Passage};
use crate::output::Output;
use crate::record::{Action, Record, Service};
use futures::stream::{self, StreamExt};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;

/// One pointer of one environment: what a record is about. Every record a promoting tool writes
/// is built from one, so the core fields are filled the same way everywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub service: Service,
    /// What owns the pointer: a function, `CLUSTER/SERVICE`, an API id, `BUCKET/KEY`.
    pub resource: String,
    /// The movable name: an alias, a tag, a service, a stage, a key.
    pub pointer: Option<String>,
    pub env: Option<String>,
    pub region: Option<String>,
}

impl Target {
    #[must_use]
    pub fn new(service: Service, resource: impl Into<String>, pointer: impl Into<String>) -> Self {
        Target {
            service,
            resource: resource.into(),
            pointer: Some(pointer.into()),
            env: None,
            region: None,
        }
    }

    #[must_use]
    pub fn env(mut self, env: Option<&str>) -> Self {
        self.env = env.map(str::to_string);
        self
    }

    #[must_use]
    pub fn region(mut self, region: Option<&str>) -> Self {
        self.region = region.map(str::to_string);
        self
    }

    /// What identifies the pointer: two items with one key move the same pointer.
    #[must_use]
    pub fn key(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}\n{}",
            self.service,
            self.resource,
            self.pointer.as_deref().unwrap_or_default(),
            self.env.as_deref().unwrap_or_default(),
            self.region.as_deref().unwrap_or_default()
        )
    }

    /// A record about this pointer: it holds `artifact` after `action`, and held `previous`.
    pub fn record<A: Serialize>(
        &self,
        action: Action,
        artifact: Option<&A>,
        previous: Option<&A>,
    ) -> Record {
        let mut record = Record::new(self.service, action, &self.resource);
        record.region.clone_from(&self.region);
        record.env.clone_from(&self.env);
        record.account = crate::aws::account_of(self.env.as_deref());
        record.pointer.clone_from(&self.pointer);
        record.artifact = artifact.map(crate::record::to_value);
        record.previous = previous.map(crate::record::to_value);
        record
    }

    /// A dry run's record: what `would` do, as `planned`.
    pub fn planned<A: Serialize>(
        &self,
        would: Action,
        artifact: Option<&A>,
        previous: Option<&A>,
    ) -> Record {
        self.record(would, artifact, previous).into_planned(would)
    }

    /// The record of a failure on this pointer.
    #[must_use]
    pub fn error(&self, error: &Error) -> Record {
        self.record::<Value>(Action::Error, None, None)
            .into_error(error)
    }
}

/// What reading and checking one item decided.
#[derive(Debug)]
pub enum Prepared<M> {
    /// Nothing to write (the pointer holds it already): the records that say so.
    Settled(Vec<Record>),
    /// A move to make, the `planned` record a dry run prints instead, and whether the order
    /// let it through only because of `--force`.
    Move {
        apply: M,
        planned: Box<Record>,
        verdict: Verdict,
    },
}

impl<M> Prepared<M> {
    /// A move the order allows.
    pub fn to(apply: M, planned: Record) -> Self {
        Prepared::Move {
            apply,
            planned: Box::new(planned),
            verdict: Verdict::ALLOWED,
        }
    }
}

/// One item of work for the engine: the pointer it moves, the tool's item (or why it cannot be
/// done, found while the work list was built), and what the order said of it.
#[derive(Debug)]
pub struct Job<I> {
    pub target: Target,
    pub item: Result<I>,
    pub verdict: Verdict,
}

impl<I> Job<I> {
    #[must_use]
    pub fn new(target: Target, item: Result<I>) -> Self {
        Job {
            target,
            item,
            verdict: Verdict::ALLOWED,
        }
    }

    #[must_use]
    pub fn verdict(mut self, verdict: Verdict) -> Self {
        self.verdict = verdict;
        self
    }
}

/// The net change to one pointer over all the records about it, for `rollback`: it was moved
/// from `restore` to `changed_to` (None: there was no pointer, or it was removed).
#[derive(Debug, Clone)]
pub struct Change<P, A> {
    pub target: Target,
    /// The tool's own reading of the pointer (a typed reference).
    pub pointer: P,
    pub changed_to: Option<A>,
    pub restore: Option<A>,
    /// Where the (first) record came from, for messages.
    pub origin: String,
}

/// What a tool tells the engine about its service.
pub trait Adapter {
    /// The services whose records the tool promotes and rolls back.
    const SERVICES: &'static [Service];
    /// One unit of promotion work, as the tool built it from names, a record or promote.toml.
    type Item;
    /// A decided write.
    type Move;
    /// The tool's typed reference to a pointer a change record names.
    type Pointer;
    /// The artifact of the tool's records.
    type Artifact: Clone;

    /// Read and check everything about one item and decide its move. No write.
    fn prepare(
        &self,
        target: &Target,
        item: Self::Item,
    ) -> impl Future<Output = Result<Prepared<Self::Move>>>;

    /// Make one move, with the service's compare-and-swap: the records of what it did (and the
    /// error that followed, if any).
    fn apply(&self, apply: Self::Move) -> impl Future<Output = crate::batch::Outcome>;

    /// The pointer a change record of this tool's services names (`None`: the record moved
    /// no pointer, such as a version published without an alias), checked before anything is
    /// undone.
    fn change_of(&self, record: &Record, origin: &str) -> Result<Option<(Target, Self::Pointer)>>;

    /// A record's `artifact` or `previous` as the tool's artifact; the error says what shape
    /// was expected.
    fn artifact(
        &self,
        record: &Record,
        value: &Value,
    ) -> std::result::Result<Self::Artifact, String>;

    /// Read one pointer to undo and decide: back to `restore` where it still holds `changed_to`,
    /// nothing where it holds `restore` already, a refusal where it was moved since.
    fn prepare_undo(
        &self,
        change: Change<Self::Pointer, Self::Artifact>,
    ) -> impl Future<Output = Result<Prepared<Self::Move>>>;
}

/// The run-wide settings of a promotion or a rollback.
#[derive(Debug, Clone, Copy, Default)]
pub struct Settings {
    pub dry_run: bool,
    pub concurrency: usize,
    /// All or nothing: a failed check makes no write at all; a failed write takes back the
    /// run's changes.
    pub atomic: bool,
    /// `--skip-failed`: promote the other records when an `error` record comes in.
    pub skip_failed: bool,
}

impl Settings {
    /// A promotion's settings: the run's options, and the command's `--atomic` and
    /// `--skip-failed`.
    #[must_use]
    pub fn of(opts: crate::cli::Options, atomic: bool, skip_failed: bool) -> Settings {
        Settings {
            dry_run: opts.dry_run,
            concurrency: opts.concurrency,
            atomic,
            skip_failed,
        }
    }
}

/// A new artifact made outside the two phases (`publish`, whose version number is known only
/// once it is made): it enters only the first environment of the order (`env`, the one whose
/// pointer also moves to it), unless `--force`, and the record then says `forced`. `make` runs
/// only when the order allows it; its record is written (and journaled), and a failure is
/// written too, as an `error` record about `failed`, so that it travels down the pipe.
pub async fn publish<F>(
    order: &Order<'_>,
    subject: &str,
    env: Option<&str>,
    failed: Target,
    out: &mut Output,
    make: F,
) -> Result<ExitCode>
where
    F: Future<Output = Result<Record>>,
{
    let forced = match env {
        Some(env) => order.check_new(subject, env).map(|verdict| verdict.forced),
        None => Ok(false),
    };
    let made = match forced {
        Ok(forced) => make.await.map(|record| record.forced(forced)),
        Err(e) => Err(e),
    };
    match made {
        Ok(record) => {
            out.record(&record)?;
            Ok(ExitCode::Success)
        }
        Err(e) => {
            out.record(&failed.error(&e))?;
            Err(e)
        }
    }
}

/// One move through the engine (a canary step, a tag, a deploy): checked against the order,
/// dry-run, journaled and written (or written as an `error` record) like any promotion.
pub async fn promote_one<A: Adapter>(
    adapter: &A,
    job: Job<A::Item>,
    opts: crate::cli::Options,
    out: &mut Output,
) -> Result<ExitCode> {
    let settings = Settings {
        concurrency: 1,
        ..Settings::of(opts, false, false)
    };
    promote(adapter, vec![Work::Own(job)], settings, out).await
}

/// Refuse to go on when an upstream tool failed (an `error` record on the input), unless
/// `skip_failed`. The records this tool would pass on (the error records among them) are still
/// passed on, so the tools after this one see the failure too; its own records are not.
pub fn check_upstream(
    input: Option<&Input>,
    services: &[Service],
    skip_failed: bool,
    out: &mut Output,
) -> Result<()> {
    let Some(input) = input else {
        return Ok(());
    };
    let failures = input.failures();
    if failures.is_empty() {
        return Ok(());
    }
    if skip_failed {
        for failure in failures {
            tracing::warn!(
                "{}:{}: skipping what failed upstream: {failure}",
                input.origin(),
                failure.line
            );
        }
        return Ok(());
    }
    for item in input.items(services) {
        if let crate::input::Item::Pass(passage) = item {
            out.pass(&passage)?;
        }
    }
    let first = &failures[0];
    let more = match failures.len() {
        1 => String::new(),
        n => format!(
            " (and {} more error record{})",
            n - 1,
            if n == 2 { "" } else { "s" }
        ),
    };
    Err(Error::Upstream(format!(
        "{}:{}: a tool before this one failed on {first}{more}; nothing changed \
         (pass --skip-failed to promote the other records)",
        input.origin(),
        first.line
    )))
}

/// The jobs of a promotion whose work is the tool's records of `services` on stdin, in input
/// order, the other records passed on in their place. Each record's `artifact` is read as the
/// adapter's artifact, and `item` turns the record into the tool's item and the pointer in `to`
/// it moves (`None`: the command line leaves this record out; it is passed on as it came). A
/// record with no artifact, or from another environment than `--from`, is bad input
/// (exit 2); one from another environment than the one just before `to` is refused by the order
/// (that job fails, with an `error` record), unless `--force`.
#[allow(clippy::too_many_arguments)] // reason: the run's facts, each one a plain value
pub fn record_jobs<'a, A: Adapter>(
    adapter: &A,
    input: &'a Input,
    services: &[Service],
    from: Option<&str>,
    to: &str,
    order: &Order<'_>,
    mut item: impl FnMut(&Record, A::Artifact, &str) -> Result<Option<(Target, A::Item)>>,
) -> Result<Vec<Work<'a, Job<A::Item>>>> {
    let mut work = Vec::new();
    for entry in input.items(services) {
        let Some(raw) = crate::batch::own(entry, &mut work) else {
            continue;
        };
        let origin = format!("{}:{}", input.origin(), raw.line);
        let record = raw.parse(input.origin())?;
        let artifact = match &record.artifact {
            Some(value) => adapter.artifact(&record, value).map_err(|e| {
                Error::bad_input(
                    &origin,
                    format!("{} record's `artifact` is not {e}", record.service),
                )
            })?,
            None => {
                return Err(Error::bad_input(
                    &origin,
                    format!("{} record has no `artifact` to promote", record.service),
                ))
            }
        };
        if let (Some(from), Some(env)) = (from, &record.env) {
            if from != env {
                return Err(Error::bad_input(
                    &origin,
                    format!("the record is from {env}, but --from says {from}"),
                ));
            }
        }
        let Some((target, item)) = item(&record, artifact, &origin)? else {
            work.push(Work::PassThrough(Passage::Text(raw.raw)));
            continue;
        };
        let subject = match &target.pointer {
            Some(pointer) => format!("{origin}: {} {pointer}", target.resource),
            None => format!("{origin}: {}", target.resource),
        };
        let job = match order.check_record(&subject, record.env.as_deref(), to) {
            Ok(verdict) => Job::new(target, Ok(item)).verdict(verdict),
            Err(e) if e.exit_code() == ExitCode::Precondition => Job::new(target, Err(e)),
            Err(e) => return Err(e),
        };
        work.push(Work::Own(job));
    }
    if !input.has_own(services) {
        note(&format!(
            "no {} records on stdin: nothing to promote (the other records are passed on)",
            services
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" or ")
        ));
    }
    Ok(work)
}

/// Promote: read and check every item, then make the moves (or print the plan), with `--atomic`
/// taking back a failed run's changes through the adapter's own rollback.
pub async fn promote<A: Adapter>(
    adapter: &A,
    work: Vec<Work<'_, Job<A::Item>>>,
    settings: Settings,
    out: &mut Output,
) -> Result<ExitCode> {
    if settings.atomic {
        out.remember_changes();
    }
    let code = run(
        adapter,
        work,
        settings,
        out,
        |adapter, target, item| async move { adapter.prepare(&target, item).await },
    )
    .await?;
    match out.take_changes() {
        Some(undo) if settings.atomic && code != ExitCode::Success => {
            note("--atomic: the run failed; rolling back the changes it made");
            let undone = rollback(
                adapter,
                &undo,
                Settings {
                    atomic: false,
                    ..settings
                },
                out,
            )
            .await?;
            Ok(code.worst(undone))
        }
        _ => Ok(code),
    }
}

/// Roll back what the change records of `input` say was done to the adapter's services: one
/// undo per pointer (a pointer changed twice is undone in one step, back to what it held before
/// the first change), only where it still holds what the record says. Records of other services
/// pass through; input with no change record says so.
pub async fn rollback<A: Adapter>(
    adapter: &A,
    input: &Input,
    settings: Settings,
    out: &mut Output,
) -> Result<ExitCode> {
    let mut work: Vec<Work<'_, UndoJob<A>>> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for item in input.items(A::SERVICES) {
        let Some(raw) = crate::batch::own(item, &mut work) else {
            continue;
        };
        let origin = format!("{}:{}", input.origin(), raw.line);
        let record = raw.parse(input.origin())?;
        if !record.action.moved_a_pointer() {
            continue;
        }
        if record.pointer.is_none() {
            if record.action == Action::Published {
                continue; // an artifact was made, no pointer moved
            }
            return Err(Error::bad_input(
                &origin,
                format!(
                    "a `{}` {} record needs the pointer it moved in `pointer`",
                    record.action, record.service
                ),
            ));
        }
        let Some((target, pointer)) = adapter.change_of(&record, &origin)? else {
            continue;
        };
        let artifact = |field: &str, value: &Option<Value>| -> Result<Option<A::Artifact>> {
            match value {
                None | Some(Value::Null) => Ok(None),
                Some(value) => adapter
                    .artifact(&record, value)
                    .map(Some)
                    .map_err(|e| Error::bad_input(&origin, format!("`{field}` is not {e}"))),
            }
        };
        let changed_to = artifact("artifact", &record.artifact)?;
        let restore = artifact("previous", &record.previous)?;
        if changed_to.is_none() && restore.is_none() {
            return Err(Error::bad_input(
                &origin,
                "the record has neither `artifact` nor `previous`: nothing to roll back to",
            ));
        }
        match by_key.get(&target.key()) {
            Some(&index) => {
                // A later change of the same pointer: the undo starts from where it ended.
                if let Some(Work::Own(Job {
                    item: Ok(change), ..
                })) = work.get_mut(index)
                {
                    change.changed_to = changed_to;
                }
            }
            None => {
                by_key.insert(target.key(), work.len());
                work.push(Work::Own(Job::new(
                    target.clone(),
                    Ok(Change {
                        target,
                        pointer,
                        changed_to,
                        restore,
                        origin,
                    }),
                )));
            }
        }
    }
    if by_key.is_empty() {
        note(&format!(
            "no {} change records on {}: nothing to roll back",
            A::SERVICES
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" or "),
            input.origin()
        ));
    }
    run(adapter, work, settings, out, |adapter, _target, change| {
        adapter.prepare_undo(change)
    })
    .await
}

/// One undo of a rollback, as the engine runs it.
type UndoJob<A> = Job<Change<<A as Adapter>::Pointer, <A as Adapter>::Artifact>>;

/// One slot of the run, in input order.
enum Slot<'a, M> {
    Pass(Passage<'a>),
    Failed(Box<(Target, Error)>),
    Settled(Vec<Record>),
    Move(Box<(Target, Record, Verdict)>, M),
}

/// The two phases: read and check every item (at most `concurrency` at once), then, unless the
/// run is `--atomic` and a check failed, make the moves, writing every record in input order as
/// it is ready. Items that move one pointer are done in rounds, one after another, so the later
/// sees what the earlier did.
async fn run<'a, 'x, A, I, P, Fut>(
    adapter: &'x A,
    work: Vec<Work<'a, Job<I>>>,
    settings: Settings,
    out: &mut Output,
    prepare: P,
) -> Result<ExitCode>
where
    A: Adapter,
    P: Fn(&'x A, Target, I) -> Fut,
    Fut: Future<Output = Result<Prepared<A::Move>>>,
{
    // Rounds: the n-th item for a pointer goes in round n.
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut rounds: Vec<Vec<Work<'a, Job<I>>>> = vec![Vec::new()];
    for item in work {
        let round = match &item {
            Work::Own(job) => {
                let n = seen.entry(job.target.key()).or_insert(0);
                *n += 1;
                *n - 1
            }
            Work::PassThrough(_) => 0,
        };
        if rounds.len() <= round {
            rounds.resize_with(round + 1, Vec::new);
        }
        rounds[round].push(item);
    }
    let mut worst = ExitCode::Success;
    for round in rounds {
        let code = run_round(adapter, round, settings, out, &prepare).await?;
        worst = worst.worst(code);
        if settings.atomic && worst != ExitCode::Success {
            break;
        }
    }
    Ok(worst)
}

async fn run_round<'a, 'x, A, I, P, Fut>(
    adapter: &'x A,
    work: Vec<Work<'a, Job<I>>>,
    settings: Settings,
    out: &mut Output,
    prepare: &P,
) -> Result<ExitCode>
where
    A: Adapter,
    P: Fn(&'x A, Target, I) -> Fut,
    Fut: Future<Output = Result<Prepared<A::Move>>>,
{
    let concurrency = settings.concurrency.max(1);
    // 1. Read and check everything. No write has happened yet.
    let slots: Vec<Slot<'a, A::Move>> = stream::iter(work.into_iter().map(|work| async move {
        match work {
            Work::PassThrough(passage) => Slot::Pass(passage),
            Work::Own(Job {
                target,
                item,
                verdict,
            }) => {
                let prepared = match item {
                    Ok(item) => prepare(adapter, target.clone(), item).await,
                    Err(e) => Err(e),
                };
                match prepared {
                    Err(e) => Slot::Failed(Box::new((target, e))),
                    Ok(Prepared::Settled(records)) => Slot::Settled(records),
                    Ok(Prepared::Move {
                        apply,
                        planned,
                        verdict: found,
                    }) => Slot::Move(Box::new((target, *planned, verdict.and(found))), apply),
                }
            }
        }
    }))
    .buffered(concurrency)
    .collect()
    .await;

    let failed = slots
        .iter()
        .filter(|s| matches!(s, Slot::Failed(..)))
        .count();
    let moves = slots.iter().filter(|s| matches!(s, Slot::Move(..))).count();
    // --atomic: a failed check means no write at all.
    let hold = settings.atomic && failed > 0 && moves > 0;
    if hold {
        note(&format!(
            "--atomic: {failed} of {} item{} failed {} checks; none of the {moves} move{} was made",
            failed + moves,
            if failed + moves == 1 { "" } else { "s" },
            if failed == 1 { "its" } else { "their" },
            if moves == 1 { "" } else { "s" },
        ));
    }
    if crate::interrupt::requested() && moves > 0 && !settings.dry_run {
        // A signal during the reads: nothing was changed, and nothing will be.
        let e = Error::Interrupted(format!(
            "before any change; {moves} move{} not made",
            if moves == 1 { " was" } else { "s were" }
        ));
        report(&e);
        return Ok(ExitCode::Interrupted);
    }

    // 2. The moves, in input order as each is ready.
    let mut results = stream::iter(slots.into_iter().map(|slot| async move {
        match slot {
            Slot::Move(about, apply) if !hold && !settings.dry_run => {
                let (target, _, verdict) = *about;
                if crate::interrupt::stopping() || crate::output::stdout_reader_gone() {
                    return Written::NotStarted;
                }
                let mut outcome = adapter.apply(apply).await;
                if verdict.forced {
                    for record in outcome.records.iter_mut().filter(|r| r.is_change()) {
                        record.extra.insert("forced".into(), Value::Bool(true));
                    }
                }
                // The undo of a change is on disk before anything else happens.
                if let Err(e) = crate::journal::append(&outcome.records) {
                    report(&e);
                    crate::interrupt::close_stdout();
                    outcome.error.get_or_insert(e);
                }
                Written::Done(
                    outcome.records,
                    outcome.error.map(|e| Box::new((target, e))),
                )
            }
            Slot::Move(about, _) if settings.dry_run => {
                let (_, planned, verdict) = *about;
                Written::Done(vec![planned.forced(verdict.forced)], None)
            }
            Slot::Move(..) => Written::Held,
            Slot::Settled(records) => Written::Done(records, None),
            Slot::Failed(failed) => Written::Done(Vec::new(), Some(failed)),
            Slot::Pass(passage) => Written::Pass(passage),
        }
    }))
    .buffered(concurrency);

    let mut worst = ExitCode::Success;
    let mut not_started = 0usize;
    while let Some(written) = results.next().await {
        match written {
            Written::Pass(passage) => out.pass(&passage)?,
            Written::Held => {}
            Written::NotStarted => {
                not_started += 1;
                out.check_reader();
            }
            Written::Done(records, error) => {
                // The records first: a change that happened is always written.
                for record in &records {
                    out.record_journaled(record)?;
                }
                if let Some(failed) = error {
                    let (target, e) = *failed;
                    report(&e);
                    worst = worst.worst(e.exit_code());
                    out.record_journaled(&target.error(&e))?;
                }
            }
        }
    }
    if not_started > 0 && crate::interrupt::requested() {
        let e = Error::Interrupted(format!(
            "{not_started} not started; the records above are every change that was made"
        ));
        report(&e);
        worst = worst.worst(e.exit_code());
    }
    Ok(worst)
}

enum Written<'a> {
    Pass(Passage<'a>),
    Done(Vec<Record>, Option<Box<(Target, Error)>>),
    Held,
    NotStarted,
}

#[cfg(test)]
mod tests;
