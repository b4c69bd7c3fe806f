//! The batch runner every command that acts on many resources goes through: bounded
//! concurrency, records written in input order as soon as each is ready, records of other
//! services passed through in their place, and the worst exit code at the end. A failure of one
//! item is reported on stderr, and on stdout as an `error` record naming its pointer (so the tools
//! after it in a pipe see it too); the others go on. Each change is journaled the moment it is
//! made (`--journal`), and after a signal or a closed stdout no new item starts.

use crate::cli::report;
use crate::error::{Error, ExitCode, Result};
use crate::input::{InputRecord, Item, Passage};
use crate::output::Output;
use crate::record::Record;
use futures::stream::{self, StreamExt};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

/// One item of a batch: work for this tool, or a record of another service to pass on.
#[derive(Debug)]
pub enum Work<'a, T> {
    Own(T),
    PassThrough(Passage<'a>),
}

/// Held while an item works on its pointer.
type Turn = Arc<tokio::sync::Mutex<()>>;

/// An item waiting its turn: the work, the lock of its pointer, and the pointer's record.
type Queued<'a, T> = (
    Work<'a, T>,
    Option<Turn>,
    Option<Box<crate::engine::Target>>,
);

/// What one item ends with: the records of what it changed, and the error that stopped it, if
/// any. Both can be there: a service updated whose deployment then failed has a record (the
/// change happened and can be rolled back) and an error (exit 3).
#[derive(Debug)]
pub struct Outcome {
    pub records: Vec<Record>,
    pub error: Option<Error>,
}

impl Outcome {
    /// Records of what happened, then the error that followed.
    #[must_use]
    pub fn partial(records: Vec<Record>, error: Error) -> Self {
        Outcome {
            records,
            error: Some(error),
        }
    }
}

impl From<Result<Vec<Record>>> for Outcome {
    fn from(result: Result<Vec<Record>>) -> Self {
        match result {
            Ok(records) => Outcome {
                records,
                error: None,
            },
            Err(error) => Outcome {
                records: Vec::new(),
                error: Some(error),
            },
        }
    }
}

/// What the batch needs to know of an item before it runs: the pointer it works on (items with
/// one key run one after another) and the record of that pointer an `error` record is made from
/// when the item fails.
#[derive(Debug, Default)]
pub struct Described {
    pub key: Option<String>,
    pub subject: Option<crate::engine::Target>,
}

enum Done<'a> {
    Records(Outcome, Option<Box<crate::engine::Target>>),
    PassThrough(Passage<'a>),
    NotStarted,
}

/// The record of `item` when it is of the tool's own services; otherwise its records go into
/// `work`, to be passed on in their place.
pub fn own<'a, T>(item: Item<'a>, work: &mut Vec<Work<'a, T>>) -> Option<InputRecord<'a>> {
    match item {
        Item::Own(record) => Some(record),
        Item::Pass(passage) => {
            work.push(Work::PassThrough(passage));
            None
        }
    }
}

/// Run `act` on every `Own` item, at most `concurrency` at once, writing each item's records (or
/// passing its raw record on) in input order. Returns the worst exit code of the items; a closed
/// stdout ends the batch early with [`crate::Error::BrokenPipe`].
pub async fn run<'a, T, F, Fut, O>(
    items: Vec<Work<'a, T>>,
    concurrency: usize,
    out: &mut Output,
    act: F,
) -> Result<ExitCode>
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = O>,
    O: Into<Outcome>,
{
    run_keyed(items, concurrency, out, |_| None, act).await
}

/// [`run`], but items with the same key (the pointer they move) run one after another, in
/// input order: two records that move one pointer never race each other.
pub async fn run_keyed<'a, T, K, F, Fut, O>(
    items: Vec<Work<'a, T>>,
    concurrency: usize,
    out: &mut Output,
    key: K,
    act: F,
) -> Result<ExitCode>
where
    K: Fn(&T) -> Option<String>,
    F: Fn(T) -> Fut,
    Fut: Future<Output = O>,
    O: Into<Outcome>,
{
    run_described(
        items,
        concurrency,
        out,
        |item| Described {
            key: key(item),
            subject: None,
        },
        act,
    )
    .await
}

/// [`run_keyed`], with the pointer of each item known before it runs, so that a failure is
/// written as an `error` record about it as well as reported on stderr.
pub async fn run_described<'a, T, D, F, Fut, O>(
    items: Vec<Work<'a, T>>,
    concurrency: usize,
    out: &mut Output,
    describe: D,
    act: F,
) -> Result<ExitCode>
where
    D: Fn(&T) -> Described,
    F: Fn(T) -> Fut,
    Fut: Future<Output = O>,
    O: Into<Outcome>,
{
    let mut locks: HashMap<String, Turn> = HashMap::new();
    let items: Vec<Queued<'a, T>> = items
        .into_iter()
        .map(|work| match &work {
            Work::Own(item) => {
                let described = describe(item);
                let lock = described.key.map(|k| locks.entry(k).or_default().clone());
                (work, lock, described.subject.map(Box::new))
            }
            Work::PassThrough(_) => (work, None, None),
        })
        .collect();
    let act = &act;
    let mut results = stream::iter(items.into_iter().map(|(work, lock, subject)| async move {
        match work {
            Work::Own(item) => {
                // tokio's Mutex is fair: the earlier item (polled first) gets the pointer first.
                let _turn = match &lock {
                    Some(lock) => Some(lock.lock().await),
                    None => None,
                };
                // After a signal or a closed stdout no new change starts; those in flight go on
                // to the end.
                if crate::interrupt::stopping() || crate::output::stdout_reader_gone() {
                    return Done::NotStarted;
                }
                let mut outcome: Outcome = act(item).await.into();
                // The undo of a change is on disk before anything else happens.
                if let Err(e) = crate::journal::append(&outcome.records) {
                    report(&e);
                    crate::interrupt::close_stdout();
                    outcome.error.get_or_insert(e);
                }
                Done::Records(outcome, subject)
            }
            Work::PassThrough(raw) => Done::PassThrough(raw),
        }
    }))
    .buffered(concurrency.max(1));

    let mut worst = ExitCode::Success;
    let mut not_started = 0usize;
    while let Some(done) = results.next().await {
        match done {
            Done::NotStarted => {
                not_started += 1;
                out.check_reader();
            }
            Done::PassThrough(passage) => out.pass(&passage)?,
            Done::Records(outcome, subject) => {
                // The records first: a change that happened is always written.
                for record in &outcome.records {
                    out.record_journaled(record)?;
                }
                if let Some(e) = outcome.error {
                    report(&e);
                    worst = worst.worst(e.exit_code());
                    if let Some(subject) = subject {
                        out.record_journaled(&subject.error(&e))?;
                    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::output::Format;
    use crate::record::{Action, Service};
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn keeps_input_order_and_reports_the_worst_code() {
        let buf = Shared::default();
        let mut out = Output::to_writer(Format::Ndjson, Box::new(buf.clone()));
        let items = vec![
            Work::Own(30u64),
            Work::PassThrough(crate::input::Passage::Text(
                r#"{"service":"ecs","action":"resolved","resource":"x"}"#,
            )),
            Work::Own(1),
            Work::Own(0),
            Work::Own(20),
        ];
        let running = Arc::new(Mutex::new((0usize, 0usize)));
        let code = run(items, 2, &mut out, |ms| {
            let running = running.clone();
            async move {
                {
                    let mut r = running.lock().unwrap();
                    r.0 += 1;
                    r.1 = r.1.max(r.0);
                }
                tokio::time::sleep(Duration::from_millis(ms)).await;
                running.lock().unwrap().0 -= 1;
                match ms {
                    0 => Err(Error::precondition("refused")),
                    _ => Ok(vec![Record::new(
                        Service::Lambda,
                        Action::Resolved,
                        ms.to_string(),
                    )]),
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(code, ExitCode::Precondition);
        assert_eq!(
            running.lock().unwrap().1,
            2,
            "at most `concurrency` at once"
        );
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let resources: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["resource"].to_string())
            .collect();
        assert_eq!(resources, ["\"30\"", "\"x\"", "\"1\"", "\"20\""]);
    }

    #[tokio::test]
    async fn items_with_one_key_never_overlap() {
        let mut out = Output::to_writer(Format::Ndjson, Box::new(Shared::default()));
        let items: Vec<Work<'_, (u64, &str)>> = vec![
            Work::Own((20, "a")),
            Work::Own((0, "a")),
            Work::Own((5, "b")),
        ];
        let log = Arc::new(Mutex::new(Vec::new()));
        run_keyed(
            items,
            3,
            &mut out,
            |(_, k)| Some((*k).to_string()),
            |(ms, k)| {
                let log = log.clone();
                async move {
                    log.lock().unwrap().push(format!("start {k}{ms}"));
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    log.lock().unwrap().push(format!("end {k}{ms}"));
                    Ok(vec![])
                }
            },
        )
        .await
        .unwrap();
        let log = log.lock().unwrap().clone();
        let position = |s: &str| log.iter().position(|l| l == s).unwrap();
        assert!(position("end a20") < position("start a0"), "{log:?}");
        assert!(
            position("start b5") < position("end a20"),
            "other keys still run alongside: {log:?}"
        );
    }
}
