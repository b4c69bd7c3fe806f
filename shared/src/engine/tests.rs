//! The engine with a service made of a map: what it promises, without AWS.

use super::*;
use crate::batch::Outcome;
use crate::output::Format;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// A service whose pointers are entries of a map, and whose writes are counted.
#[derive(Default)]
struct Map {
    pointers: Mutex<BTreeMap<String, String>>,
    writes: Mutex<Vec<String>>,
    /// A pointer whose write fails (after the checks passed), as AWS can.
    refuses: Option<&'static str>,
}

/// "move pointer NAME to ARTIFACT".
#[derive(Debug)]
struct Item {
    name: String,
    want: String,
}

struct Write {
    name: String,
    to: Option<String>,
    record: Record,
}

fn target(name: &str) -> Target {
    Target::new(Service::Lambda, name, "prod").env(Some("prod"))
}

fn artifact(version: &str) -> Value {
    serde_json::json!({"version": version, "code_sha256": format!("sha-{version}")})
}

impl Adapter for Map {
    const SERVICES: &'static [Service] = &[Service::Lambda];
    type Item = Item;
    type Move = Write;
    type Pointer = String;
    type Artifact = Value;

    async fn prepare(&self, target: &Target, item: Item) -> Result<Prepared<Write>> {
        tokio::task::yield_now().await;
        let now = self.pointers.lock().unwrap().get(&item.name).cloned();
        let Some(now) = now else {
            return Err(Error::precondition(format!("{} does not exist", item.name)));
        };
        if now == item.want {
            let held = artifact(&now);
            return Ok(Prepared::Settled(vec![target.record(
                Action::Unchanged,
                Some(&held),
                Some(&held),
            )]));
        }
        let (to, from) = (artifact(&item.want), artifact(&now));
        Ok(Prepared::to(
            Write {
                name: item.name,
                to: Some(item.want),
                record: target.record(Action::Promoted, Some(&to), Some(&from)),
            },
            target.planned(Action::Promoted, Some(&to), Some(&from)),
        ))
    }

    async fn apply(&self, write: Write) -> Outcome {
        tokio::task::yield_now().await;
        if self.refuses == Some(write.name.as_str()) {
            return Err(Error::precondition(format!(
                "{} changed meanwhile",
                write.name
            )))
            .into();
        }
        self.writes.lock().unwrap().push(write.name.clone());
        let mut pointers = self.pointers.lock().unwrap();
        match write.to {
            Some(to) => pointers.insert(write.name, to),
            None => pointers.remove(&write.name),
        };
        Ok(vec![write.record]).into()
    }

    fn change_of(&self, record: &Record, _origin: &str) -> Result<Option<(Target, String)>> {
        Ok(Some((target(&record.resource), record.resource.clone())))
    }

    fn artifact(&self, _record: &Record, value: &Value) -> std::result::Result<Value, String> {
        if value.get("version").is_some() {
            Ok(value.clone())
        } else {
            Err("a map artifact {\"version\"}".into())
        }
    }

    async fn prepare_undo(&self, change: Change<String, Value>) -> Result<Prepared<Write>> {
        let version = |a: &Option<Value>| {
            a.as_ref()
                .and_then(|a| a["version"].as_str())
                .map(str::to_string)
        };
        let now = self.pointers.lock().unwrap().get(&change.pointer).cloned();
        if now == version(&change.restore) {
            return Ok(Prepared::Settled(vec![change.target.record(
                Action::Unchanged,
                change.restore.as_ref(),
                change.restore.as_ref(),
            )]));
        }
        if now != version(&change.changed_to) {
            return Err(Error::precondition("moved since"));
        }
        Ok(Prepared::to(
            Write {
                name: change.pointer.clone(),
                to: version(&change.restore),
                record: change.target.record(
                    Action::RolledBack,
                    change.restore.as_ref(),
                    change.changed_to.as_ref(),
                ),
            },
            change.target.planned(
                Action::RolledBack,
                change.restore.as_ref(),
                change.changed_to.as_ref(),
            ),
        ))
    }
}

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);
impl std::io::Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn records(&self) -> Vec<Value> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn map(pointers: &[(&str, &str)]) -> Map {
    let map = Map::default();
    for (k, v) in pointers {
        map.pointers
            .lock()
            .unwrap()
            .insert((*k).to_string(), (*v).to_string());
    }
    map
}

fn jobs(items: &[(&str, &str)]) -> Vec<Work<'static, Job<Item>>> {
    items
        .iter()
        .map(|(name, want)| {
            Work::Own(Job::new(
                target(name),
                Ok(Item {
                    name: (*name).to_string(),
                    want: (*want).to_string(),
                }),
            ))
        })
        .collect()
}

fn settings(atomic: bool, dry_run: bool) -> Settings {
    Settings {
        dry_run,
        concurrency: 4,
        atomic,
        skip_failed: false,
    }
}

async fn promote_with(
    map: &Map,
    items: &[(&str, &str)],
    settings: Settings,
) -> (ExitCode, Vec<Value>) {
    let buffer = Buffer::default();
    let mut out = Output::to_writer(Format::Ndjson, Box::new(buffer.clone()));
    let code = promote(map, jobs(items), settings, &mut out).await.unwrap();
    (code, buffer.records())
}

#[tokio::test]
async fn every_item_is_checked_before_the_first_write() {
    // --atomic: one missing pointer among four means no write at all.
    let m = map(&[("a", "1"), ("b", "1"), ("d", "1")]);
    let (code, records) = promote_with(
        &m,
        &[("a", "2"), ("b", "2"), ("c", "2"), ("d", "2")],
        settings(true, false),
    )
    .await;
    assert_eq!(code, ExitCode::Precondition);
    assert!(m.writes.lock().unwrap().is_empty(), "no write was made");
    assert_eq!(m.pointers.lock().unwrap()["a"], "1");
    // Only the failure is a record: it names its pointer.
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["action"], "error");
    assert_eq!(records[0]["resource"], "c");
    assert_eq!(records[0]["exit_code"], 4);
}

#[tokio::test]
async fn without_atomic_the_other_items_go_on_and_the_failure_is_a_record() {
    let m = map(&[("a", "1"), ("b", "1")]);
    let (code, records) = promote_with(
        &m,
        &[("a", "2"), ("c", "2"), ("b", "2")],
        settings(false, false),
    )
    .await;
    assert_eq!(code, ExitCode::Precondition);
    let actions: Vec<(&str, &str)> = records
        .iter()
        .map(|r| {
            (
                r["resource"].as_str().unwrap(),
                r["action"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [("a", "promoted"), ("c", "error"), ("b", "promoted")],
        "input order"
    );
    assert_eq!(records[0]["previous"]["version"], "1");
    assert_eq!(m.pointers.lock().unwrap()["b"], "2");
}

#[tokio::test]
async fn atomic_takes_back_what_a_failed_write_run_changed() {
    // The checks pass, then one write fails: the engine's rollback undoes the other.
    let mut m = map(&[("a", "1"), ("b", "1")]);
    m.refuses = Some("b");
    let (code, records) = promote_with(&m, &[("a", "2"), ("b", "2")], settings(true, false)).await;
    assert_eq!(code, ExitCode::Precondition, "the run still failed");
    assert_eq!(m.pointers.lock().unwrap()["a"], "1", "a was taken back");
    assert_eq!(*m.writes.lock().unwrap(), ["a", "a"]);
    let actions: Vec<&str> = records
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["promoted", "error", "rolled_back"]);
}

#[tokio::test]
async fn a_dry_run_plans_and_writes_nothing() {
    let m = map(&[("a", "1"), ("b", "2")]);
    let (code, records) = promote_with(&m, &[("a", "2"), ("b", "2")], settings(false, true)).await;
    assert_eq!(code, ExitCode::Success);
    assert!(m.writes.lock().unwrap().is_empty());
    assert_eq!(records[0]["action"], "planned");
    assert_eq!(records[0]["planned_action"], "promoted");
    assert_eq!(records[1]["action"], "unchanged");
}

#[tokio::test]
async fn one_pointer_twice_runs_in_turn() {
    let m = map(&[("a", "1")]);
    let (code, records) = promote_with(&m, &[("a", "2"), ("a", "3")], settings(false, false)).await;
    assert_eq!(code, ExitCode::Success);
    assert_eq!(m.pointers.lock().unwrap()["a"], "3");
    assert_eq!(
        records[1]["previous"]["version"], "2",
        "the second saw the first"
    );
}

#[tokio::test]
async fn a_forced_move_says_so_in_its_record() {
    let m = map(&[("a", "1")]);
    let buffer = Buffer::default();
    let mut out = Output::to_writer(Format::Ndjson, Box::new(buffer.clone()));
    let work = jobs(&[("a", "2")])
        .into_iter()
        .map(|w| match w {
            Work::Own(job) => Work::Own(job.verdict(Verdict { forced: true })),
            other => other,
        })
        .collect();
    promote(&m, work, settings(false, false), &mut out)
        .await
        .unwrap();
    assert_eq!(buffer.records()[0]["forced"], true);
}

#[tokio::test]
async fn rollback_undoes_each_pointer_once_and_says_when_there_is_nothing() {
    let m = map(&[("a", "3"), ("b", "1")]);
    let changes = [
        r#"{"service":"lambda","action":"promoted","resource":"a","env":"prod","pointer":"prod","artifact":{"version":"2"},"previous":{"version":"1"}}"#,
        r#"{"service":"ecs","action":"resolved","resource":"c/s"}"#,
        r#"{"service":"lambda","action":"canary","resource":"a","env":"prod","pointer":"prod","artifact":{"version":"3"},"previous":{"version":"2"}}"#,
    ]
    .join("\n");
    let input = Input::from_text("stdin", &changes).unwrap();
    let buffer = Buffer::default();
    let mut out = Output::to_writer(Format::Ndjson, Box::new(buffer.clone()));
    let code = rollback(&m, &input, settings(false, false), &mut out)
        .await
        .unwrap();
    assert_eq!(code, ExitCode::Success);
    assert_eq!(
        m.pointers.lock().unwrap()["a"],
        "1",
        "back before the first change"
    );
    assert_eq!(
        m.writes.lock().unwrap().len(),
        1,
        "one undo for two records"
    );
    let records = buffer.records();
    assert_eq!(records.len(), 2, "the undo and the ecs record passed on");

    let nothing = Input::from_text(
        "stdin",
        r#"{"service":"lambda","action":"resolved","resource":"a"}"#,
    )
    .unwrap();
    let code = rollback(&m, &nothing, settings(false, false), &mut out)
        .await
        .unwrap();
    assert_eq!(code, ExitCode::Success);
    assert_eq!(m.writes.lock().unwrap().len(), 1);

    let bad = Input::from_text(
        "stdin",
        r#"{"service":"lambda","action":"promoted","resource":"a","pointer":"prod","artifact":{"x":1}}"#,
    )
    .unwrap();
    let e = rollback(&m, &bad, settings(false, false), &mut out)
        .await
        .unwrap_err();
    assert_eq!(e.exit_code(), ExitCode::Usage);
    assert!(
        e.to_string().contains("`artifact` is not a map artifact"),
        "{e}"
    );
}

#[tokio::test]
async fn an_error_upstream_stops_the_run_unless_skipped() {
    let text = [
        r#"{"service":"lambda","action":"resolved","resource":"a","env":"staging","artifact":{"version":"2"}}"#,
        r#"{"service":"lambda","action":"error","resource":"b","env":"staging","pointer":"staging","message":"no alias","exit_code":4}"#,
    ]
    .join("\n");
    let input = Input::from_text("stdin", &text).unwrap();
    let buffer = Buffer::default();
    let mut out = Output::to_writer(Format::Ndjson, Box::new(buffer.clone()));
    let e = check_upstream(Some(&input), &[Service::Lambda], false, &mut out).unwrap_err();
    assert_eq!(e.exit_code(), ExitCode::Aws);
    assert!(
        e.to_string().starts_with(
            "stdin:2: a tool before this one failed on lambda b staging (staging): no alias"
        ),
        "{e}"
    );
    assert!(e.to_string().contains("--skip-failed"), "{e}");
    let passed = buffer.records();
    assert_eq!(passed.len(), 1, "the error record is passed on: {passed:?}");
    assert_eq!(passed[0]["action"], "error");
    assert!(check_upstream(Some(&input), &[Service::Lambda], true, &mut out).is_ok());
}

#[test]
fn the_work_of_records_is_built_without_aws() {
    let envs: Vec<String> = ["dev", "staging", "prod"].map(String::from).to_vec();
    let order = Order::new(&envs, false);
    let text = [
        r#"{"service":"lambda","action":"resolved","resource":"a","env":"staging","artifact":{"version":"2"}}"#,
        r#"{"service":"ecs","action":"resolved","resource":"c/s"}"#,
        r#"{"service":"lambda","action":"resolved","resource":"b","env":"dev","artifact":{"version":"3"}}"#,
    ]
    .join("\n");
    let input = Input::from_text("stdin", &text).unwrap();
    let m = Map::default();
    let to_item = |record: &Record, artifact: Value, _origin: &str| {
        Ok(Some((
            target(&record.resource),
            Item {
                name: record.resource.clone(),
                want: artifact["version"].as_str().unwrap_or_default().to_string(),
            },
        )))
    };
    let work = record_jobs(&m, &input, Map::SERVICES, None, "prod", &order, to_item).unwrap();
    assert_eq!(work.len(), 3, "the ecs record is passed on in its place");
    match (&work[0], &work[1], &work[2]) {
        (Work::Own(a), Work::PassThrough(_), Work::Own(b)) => {
            assert_eq!(a.item.as_ref().unwrap().want, "2");
            let refused = b.item.as_ref().unwrap_err().to_string();
            assert!(
                refused.starts_with("stdin:3: b prod: prod takes what staging holds"),
                "{refused}"
            );
        }
        _ => panic!("not in input order"),
    }
    // --from says otherwise: bad input, naming the line.
    let e = record_jobs(
        &m,
        &input,
        Map::SERVICES,
        Some("dev"),
        "prod",
        &order,
        to_item,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "stdin:1: the record is from staging, but --from says dev"
    );
    // No artifact, or not the adapter's shape: bad input.
    for (line, message) in [
        (
            r#"{"service":"lambda","action":"resolved","resource":"a"}"#,
            "stdin:1: lambda record has no `artifact` to promote",
        ),
        (
            r#"{"service":"lambda","action":"resolved","resource":"a","artifact":{"x":1}}"#,
            "stdin:1: lambda record's `artifact` is not a map artifact",
        ),
    ] {
        let input = Input::from_text("stdin", line).unwrap();
        let e = record_jobs(&m, &input, Map::SERVICES, None, "prod", &order, to_item).unwrap_err();
        assert!(e.to_string().starts_with(message), "{e}");
        assert_eq!(e.exit_code(), ExitCode::Usage);
    }
    // With --force the refusal is a forced job.
    let forced = Order::new(&envs, true);
    let work = record_jobs(&m, &input, Map::SERVICES, None, "prod", &forced, to_item).unwrap();
    match &work[2] {
        Work::Own(b) => assert!(b.item.is_ok() && b.verdict.forced),
        Work::PassThrough(_) => panic!("b is work"),
    }
}
