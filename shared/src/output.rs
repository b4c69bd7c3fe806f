//! Writing records. stdout carries data only: one record per line, each written whole and flushed
//! at once, so a reader never sees half a line and a pipeline sees each change as it happens.
//! A reader that goes away (`| head -1`) ends a read-only command quietly. A command that changes
//! things never hides a change: from then on no new change starts, the records of the changes
//! that still finish go to stderr as JSON lines (for `rollback`), and the run exits 3.
//! `--output table` is a view for people, printed when the run ends.

use crate::error::{Error, Result};
use crate::input::Passage;
use crate::record::Record;
use serde_json::Value;
use std::io::{ErrorKind, Write};

/// How records are shown on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line (NDJSON): for pipes, jq and other tools.
    #[default]
    Json,
    /// An aligned table for people, printed at the end of the run.
    Table,
    /// One self-contained HTML page (`cfg-diff release` only: the release at a glance).
    Html,
}

/// `--color`: whether tables (and stderr's log lines) are in colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set or `TERM=dumb`; `CLICOLOR_FORCE` forces it.
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to paint a stream that is (`terminal`) or is not a terminal, given the
    /// environment's conventions (<https://no-color.org>, `CLICOLOR_FORCE`, `TERM=dumb`), which
    /// only `auto` heeds: an explicit `--color` wins.
    #[must_use]
    pub fn paints(self, terminal: bool, env: impl Fn(&str) -> Option<String>) -> bool {
        let set = |name: &str| env(name).is_some_and(|v| !v.is_empty());
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto if set("NO_COLOR") => false,
            ColorChoice::Auto
                if env("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0") =>
            {
                true
            }
            ColorChoice::Auto => terminal && env("TERM").as_deref() != Some("dumb"),
        }
    }

    /// [`ColorChoice::paints`] with the process's environment.
    #[must_use]
    pub fn paints_here(self, terminal: bool) -> bool {
        self.paints(terminal, |name| std::env::var(name).ok())
    }
}

/// Where records go. One per process.
pub struct Output {
    format: Format,
    sink: Box<dyn Write + Send>,
    table: Vec<Value>,
    closed: bool,
    /// Colour in the table view: only when stdout is a terminal.
    colour: bool,
    /// The table view's width: the terminal's (`COLUMNS`, else stdout's own), or `None` when
    /// stdout is not a terminal (each cell is capped instead).
    width: Option<usize>,
    /// The change records written, kept for `--atomic` (None: not kept).
    changes: Option<Vec<Record>>,
    /// The command changes things (and is not a dry run): a closed stdout must not hide a change.
    mutating: bool,
    /// Change records that could not be delivered on stdout and went to stderr instead.
    diverted: usize,
    /// With the table view: the change records, as JSON lines, in case the table cannot be
    /// printed at the end.
    table_changes: Vec<String>,
    /// The change records written to stdout so far, as JSON lines (commands that change things
    /// only): when stdout's reader turns out to have gone, nobody can tell which of them it read
    /// (`head -1` reads a block and prints one line), so they all go to stderr as well.
    delivered: Vec<String>,
    /// stdout is a pipe: its reader can go away.
    pipe: bool,
}

/// Whether stdout is a pipe whose reader has gone: the kernel reports an error condition on a
/// pipe's write end once its read end is closed, before any write fails.
#[must_use]
pub fn stdout_reader_gone() -> bool {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    use std::os::fd::AsFd;
    static PIPE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let pipe = *PIPE.get_or_init(|| {
        use std::os::unix::fs::FileTypeExt;
        std::fs::metadata("/dev/stdout").is_ok_and(|m| m.file_type().is_fifo())
    });
    if !pipe {
        return false;
    }
    let stdout = std::io::stdout();
    let fd = stdout.as_fd();
    let mut fds = [PollFd::new(&fd, PollFlags::empty())];
    let now = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    matches!(poll(&mut fds, Some(&now)), Ok(n) if n > 0)
        && fds[0].revents().intersects(PollFlags::ERR | PollFlags::HUP)
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Output")
            .field("format", &self.format)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl Output {
    /// Records to the process's stdout, a table in colour as `color` decides.
    #[must_use]
    pub fn stdout(format: Format, color: ColorChoice) -> Self {
        let mut output = Output::to_writer(format, Box::new(std::io::stdout()));
        output.colour = color.paints_here(std::io::IsTerminal::is_terminal(&std::io::stdout()));
        output.width = terminal_width();
        output.pipe = {
            use std::os::unix::fs::FileTypeExt;
            std::fs::metadata("/dev/stdout").is_ok_and(|m| m.file_type().is_fifo())
        };
        output
    }

    /// Records to any writer (tests).
    #[must_use]
    pub fn to_writer(format: Format, sink: Box<dyn Write + Send>) -> Self {
        Output {
            format,
            sink,
            table: Vec::new(),
            closed: false,
            colour: false,
            width: None,
            changes: None,
            mutating: false,
            diverted: 0,
            table_changes: Vec::new(),
            delivered: Vec::new(),
            pipe: false,
        }
    }

    /// When stdout is a pipe whose reader has gone, say so now: no new change starts, and the
    /// change records already written go to stderr too (the reader may not have read them).
    /// Called before each change starts and at the end of a run that changes things.
    pub fn check_reader(&mut self) {
        if self.mutating && self.pipe && !self.closed && stdout_reader_gone() {
            self.close();
        }
    }

    fn close(&mut self) {
        self.closed = true;
        crate::interrupt::close_stdout();
        for line in std::mem::take(&mut self.delivered) {
            self.divert(&line);
        }
    }

    /// Say whether the command changes things: then a closed stdout stops new changes and sends
    /// the records of changes still made to stderr, instead of ending the run quietly.
    pub fn set_mutating(&mut self, mutating: bool) {
        self.mutating = mutating;
    }

    /// How records are shown.
    #[must_use]
    pub fn format(&self) -> Format {
        self.format
    }

    /// Whether a table view may be painted (stdout a terminal, as `--color` decides).
    #[must_use]
    pub fn colour(&self) -> bool {
        self.colour
    }

    /// The terminal's width for a table view (`None`: stdout is not a terminal).
    #[must_use]
    pub fn width(&self) -> Option<usize> {
        self.width
    }

    /// Write a whole view a command laid out itself (a page, a table of its own), as it is.
    pub fn document(&mut self, text: &str) -> Result<()> {
        self.line(text.trim_end_matches('\n'))
    }

    /// Whether stdout was found closed.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// After a run that changes things: the error it ends with when stdout was closed (exit 3),
    /// saying where the records of its changes went.
    #[must_use]
    pub fn undelivered(&self) -> Option<Error> {
        (self.closed && self.mutating).then(|| {
            Error::Undelivered(match self.diverted {
                0 => "no new change was started".to_string(),
                n => format!(
                    "no new change was started; the record{} of the {n} change{} made {} on stderr above, as JSON lines for `rollback`",
                    if n == 1 { "" } else { "s" },
                    if n == 1 { "" } else { "s" },
                    if n == 1 { "is" } else { "are" },
                ),
            })
        })
    }

    /// Keep every change record written from now on (for `--atomic`: what to undo).
    pub fn remember_changes(&mut self) {
        self.changes = Some(Vec::new());
    }

    /// The change records written since [`Output::remember_changes`], as input for the tool's
    /// own rollback. `None` when there were none.
    pub fn take_changes(&mut self) -> Option<crate::input::Input> {
        let changes = self.changes.take().unwrap_or_default();
        if changes.is_empty() {
            return None;
        }
        let text: String = changes.iter().map(|r| r.to_json_line() + "\n").collect();
        // Records this process wrote itself always read back; nothing to undo otherwise.
        crate::input::Input::from_text("this run", &text).ok()
    }

    /// Write one record made by this tool, appending it to the journal first when it is a
    /// change.
    pub fn record(&mut self, record: &Record) -> Result<()> {
        let journaled = crate::journal::append([record]);
        self.deliver(record)?;
        journaled
    }

    /// Write one record whose change is in the journal already (the batch journals each change
    /// the moment it is made, before the records go out in input order).
    pub fn record_journaled(&mut self, record: &Record) -> Result<()> {
        self.deliver(record)
    }

    fn deliver(&mut self, record: &Record) -> Result<()> {
        let change = record.is_change();
        if change {
            if let Some(changes) = &mut self.changes {
                changes.push(record.clone());
            }
        }
        match self.format {
            Format::Json => {
                let line = record.to_json_line();
                match self.line(&line) {
                    Err(Error::BrokenPipe) if self.mutating => {
                        if change {
                            self.divert(&line);
                        }
                        Ok(())
                    }
                    Ok(()) if change && self.mutating => {
                        self.delivered.push(line);
                        Ok(())
                    }
                    other => other,
                }
            }
            Format::Table | Format::Html => {
                if change {
                    self.table_changes.push(record.to_json_line());
                }
                self.table
                    .push(serde_json::to_value(record).unwrap_or(Value::Null));
                Ok(())
            }
        }
    }

    /// A change record that stdout cannot take: to stderr, whole, as a JSON line.
    fn divert(&mut self, line: &str) {
        if self.diverted == 0 {
            crate::cli::note(
                "stdout was closed: the records of this run's changes follow on stderr, one JSON line \
                 each (feed them to rollback to undo them; some may also have been read)",
            );
        }
        self.diverted += 1;
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "{line}");
    }

    /// Pass a record of another service on, as it came. A record that came pretty-printed over
    /// several lines is put on one line, its tokens untouched.
    pub fn raw(&mut self, raw: &str) -> Result<()> {
        match self.format {
            Format::Json if raw.contains('\n') => {
                let mut line = Vec::with_capacity(raw.len() + 1);
                crate::input::one_line_into(raw, &mut line);
                line.push(b'\n');
                self.write_passed(&line)
            }
            Format::Json => {
                let mut line = Vec::with_capacity(raw.len() + 1);
                line.extend_from_slice(raw.as_bytes());
                line.push(b'\n');
                self.write_passed(&line)
            }
            Format::Table | Format::Html => {
                self.table
                    .push(serde_json::from_str(raw).unwrap_or(Value::Null));
                Ok(())
            }
        }
    }

    /// Pass records of other services on, in their place: one record, or a run of spooled
    /// ones, copied in blocks of whole lines.
    pub fn pass(&mut self, passage: &Passage<'_>) -> Result<()> {
        match passage {
            Passage::Text(raw) => self.raw(raw),
            Passage::Spooled(spool, range) => {
                spool.copy(range.clone(), |lines| match self.format {
                    Format::Json => self.write_passed(lines),
                    Format::Table | Format::Html => {
                        for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                            self.table
                                .push(serde_json::from_slice(line).unwrap_or(Value::Null));
                        }
                        Ok(())
                    }
                })
            }
        }
    }

    /// End of the run: print the table, if that is the format.
    pub fn finish(&mut self) -> Result<()> {
        if self.format == Format::Table && !self.table.is_empty() {
            let table = render_table(&self.table, self.colour, self.width);
            self.table.clear();
            let printed = self.line(&table);
            if matches!(printed, Err(Error::BrokenPipe)) && self.mutating {
                for line in std::mem::take(&mut self.table_changes) {
                    self.divert(&line);
                }
                return Ok(());
            }
            printed?;
        }
        Ok(())
    }

    fn line(&mut self, text: &str) -> Result<()> {
        let mut bytes = Vec::with_capacity(text.len() + 1);
        bytes.extend_from_slice(text.as_bytes());
        bytes.push(b'\n');
        self.write(&bytes)
    }

    /// Write whole lines at once, and flush them. Records passed on (not this tool's changes)
    /// are dropped quietly once stdout is closed in a command that changes things; the caller
    /// of [`Output::record`] decides about its own.
    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        if self.closed {
            return Err(Error::BrokenPipe);
        }
        let written = self.sink.write_all(bytes).and_then(|()| self.sink.flush());
        match written {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::BrokenPipe => {
                if self.mutating {
                    self.close();
                } else {
                    self.closed = true;
                    crate::interrupt::close_stdout();
                }
                Err(Error::BrokenPipe)
            }
            Err(e) => Err(Error::Output(e)),
        }
    }

    /// [`Output::write`] for records passed on: a closed stdout in a command that changes
    /// things does not end the run (its changes in flight still need their records).
    fn write_passed(&mut self, bytes: &[u8]) -> Result<()> {
        match self.write(bytes) {
            Err(Error::BrokenPipe) if self.mutating => Ok(()),
            other => other,
        }
    }
}

/// The width of the terminal the table is for: `COLUMNS` when set (a user's override, and what
/// shells export), else stdout's own when it is a terminal; `None` for a file or a pipe.
fn terminal_width() -> Option<usize> {
    if let Some(columns) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| c > 0)
    {
        return Some(columns);
    }
    let stdout = std::io::stdout();
    if !std::io::IsTerminal::is_terminal(&stdout) {
        return None;
    }
    rustix::termios::tcgetwinsize(&stdout)
        .ok()
        .map(|size| usize::from(size.ws_col))
        .filter(|&c| c > 0)
}
/// A cell's longest text when the table's width is unknown (stdout a file or a pipe): long enough
/// for the ids people paste (a `sha256:` digest is 71 characters, most ARNs fewer than 100), short
/// enough that a 5 KB value does not make every row 5 KB wide; the JSON output is exact.
const CELL_CAP: usize = 100;
/// No column is narrowed below this (or its header, or its widest cell if narrower).
const MIN_COLUMN: usize = 8;

/// The table view: one row per record, artifacts summarised on one line, every row fitted to
/// `width` (or every cell capped) with `…` where a cell was cut. Comparison records (cfg-diff's,
/// with a `status`) get a diff's columns instead.
fn render_table(records: &[Value], colour: bool, width: Option<usize>) -> String {
    let field = |record: &Value, name: &str| match record.get(name) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "-".to_string(),
        Some(other) => summarize(other),
    };
    let diff = records.iter().all(|r| r.get("status").is_some());
    let (header, names, status_column): (&[&str], &[&str], Option<usize>) = if diff {
        (
            &["SOURCE", "RESOURCE", "KEY", "STATUS", "A", "B"],
            &["source", "resource", "key", "status", "a", "b"],
            Some(3),
        )
    } else {
        (
            &[
                "SERVICE", "ACTION", "RESOURCE", "ENV", "POINTER", "ARTIFACT", "PREVIOUS",
            ],
            &[
                "service", "action", "resource", "env", "pointer", "artifact", "previous",
            ],
            None,
        )
    };
    // One line per cell: a value's line breaks shown as `\n`, as in its JSON.
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            names
                .iter()
                .map(|n| field(r, n).replace('\n', "\\n"))
                .collect()
        })
        .collect();
    let natural: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|row| row[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let widths = match width {
        Some(width) => {
            let floor: Vec<usize> = natural
                .iter()
                .enumerate()
                .map(|(i, &n)| {
                    // A status is never cut.
                    if Some(i) == status_column {
                        n
                    } else {
                        n.min(MIN_COLUMN.max(header[i].len()))
                    }
                })
                .collect();
            fit_columns(&natural, &floor, width)
        }
        None => natural.iter().map(|&n| n.min(CELL_CAP)).collect(),
    };
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::NOTHING);
    table.set_header(header.iter().copied());
    let statuses: Vec<String> = rows
        .iter()
        .filter_map(|row| status_column.map(|i| row[i].clone()))
        .collect();
    for row in rows {
        table.add_row(
            row.into_iter()
                .enumerate()
                .map(|(i, cell)| cut(&cell, widths[i])),
        );
    }
    let text = table.to_string();
    match status_column {
        // Painted once laid out: the table would count a colour's escape codes as characters.
        Some(i) if colour => paint_column(&text, header[i], &statuses),
        _ => text,
    }
}

/// `text` (a laid out table) with each row's status, in the column headed `heading`, in colour.
fn paint_column(text: &str, heading: &str, statuses: &[String]) -> String {
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return text.to_string();
    };
    let Some(at) = header.find(heading).map(|b| header[..b].chars().count()) else {
        return text.to_string();
    };
    let mut out = vec![header.to_string()];
    for (line, status) in lines.zip(statuses) {
        let start = line.char_indices().nth(at).map(|(b, _)| b);
        match start.filter(|&b| line[b..].starts_with(status.as_str())) {
            Some(b) => out.push(format!(
                "{}{}{}",
                &line[..b],
                paint(status, true),
                &line[b + status.len()..]
            )),
            None => out.push(line.to_string()),
        }
    }
    out.join("\n")
}

/// Column widths for a row of at most `budget` characters (each column padded by a space on
/// either side): every column wider than some level is cut to it (the widest first, evenly),
/// none below its `floor`. The highest level that fits is taken.
fn fit_columns(natural: &[usize], floor: &[usize], budget: usize) -> Vec<usize> {
    let at = |level: usize| -> Vec<usize> {
        natural
            .iter()
            .zip(floor)
            .map(|(&n, &f)| n.min(level.max(f)))
            .collect()
    };
    let fits = |level: usize| at(level).iter().map(|w| w + 2).sum::<usize>() <= budget;
    let (mut low, mut high) = (0, natural.iter().copied().max().unwrap_or(0));
    if fits(high) {
        return natural.to_vec();
    }
    // The highest level that fits, by bisection: `fits(low)` or low is 0, `!fits(high)`.
    while high - low > 1 {
        let mid = low + (high - low) / 2;
        if fits(mid) {
            low = mid;
        } else {
            high = mid;
        }
    }
    // Even level 0 may not fit: every column at its floor, wider than the terminal but readable.
    at(low)
}

/// `text` cut to `width` characters, the last one `…` where anything was cut.
fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// A comparison status in colour (only when stdout is a terminal): drift red, a difference
/// yellow, the healthy cases green.
fn paint(status: &str, colour: bool) -> String {
    if !colour {
        return status.to_string();
    }
    let code = match status {
        "only_in_a" | "only_in_b" | "crossed" | "unreadable" => "31",
        "differs" => "33",
        "same" | "parallel" => "32",
        _ => return status.to_string(),
    };
    format!("\x1b[{code}m{status}\x1b[0m")
}

/// `{"version":"7","code_sha256":"abc..."}` -> `version=7 code_sha256=abcdef012345…`.
/// Long values (hashes, digests, ARNs) are shortened: the table is for reading, the JSON is exact.
#[must_use]
pub fn summarize(value: &Value) -> String {
    const MAX: usize = 16;
    let short = |s: &str| {
        if s.chars().count() > MAX {
            let head: String = s.chars().take(MAX).collect();
            format!("{head}…")
        } else {
            s.to_string()
        }
    };
    match value {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| match (k.as_str(), v) {
                // A task definition ARN is read by its family:revision.
                ("task_definition", Value::String(arn)) => {
                    format!(
                        "{k}={}",
                        arn.rsplit_once('/').map_or(arn.as_str(), |(_, r)| r)
                    )
                }
                // Container images: name@digest, one per container.
                ("images", Value::Array(images)) => images
                    .iter()
                    .map(|i| {
                        let name = i.get("container").and_then(Value::as_str).unwrap_or("?");
                        let digest = i.get("digest").and_then(Value::as_str).unwrap_or("?");
                        format!("{name}@{}", short(digest))
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
                (_, Value::String(s)) => format!("{k}={}", short(s)),
                (_, other) => format!("{k}={}", short(&other.to_string())),
            })
            .collect::<Vec<_>>()
            .join(" "),
        Value::String(s) => short(s),
        other => short(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Action, Service};
    use std::sync::{Arc, Mutex};

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

    struct Closed;
    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::from(ErrorKind::BrokenPipe))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn writes_one_record_per_line_and_passes_raw_records_through() {
        let buf = Shared::default();
        let mut out = Output::to_writer(Format::Json, Box::new(buf.clone()));
        out.record(&Record::new(Service::Lambda, Action::Resolved, "f"))
            .unwrap();
        out.raw(r#"{"service":"ecs", "action":"resolved","resource":"c/s"}"#)
            .unwrap();
        out.raw("{\n  \"service\": \"s3\",\n  \"resource\": \"a b\"\n}")
            .unwrap();
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with(r#"{"service":"lambda","action":"resolved""#));
        assert_eq!(
            lines[1],
            r#"{"service":"ecs", "action":"resolved","resource":"c/s"}"#
        );
        assert_eq!(lines[2], r#"{"service":"s3","resource":"a b"}"#);
    }

    #[test]
    fn a_closed_pipe_is_reported_as_broken_pipe() {
        let mut out = Output::to_writer(Format::Json, Box::new(Closed));
        let e = out
            .record(&Record::new(Service::Lambda, Action::Resolved, "f"))
            .unwrap_err();
        assert!(matches!(e, Error::BrokenPipe));
        assert_eq!(e.exit_code().code(), 0);
    }

    #[test]
    fn a_closed_pipe_never_hides_a_change() {
        let mut out = Output::to_writer(Format::Json, Box::new(Closed));
        out.set_mutating(true);
        let mut change = Record::new(Service::Lambda, Action::Promoted, "f");
        change.pointer = Some("prod".into());
        // The change's record goes to stderr; the run goes on so changes in flight are kept.
        out.record(&change).unwrap();
        out.record(&Record::new(Service::Lambda, Action::Unchanged, "g"))
            .unwrap();
        out.raw(r#"{"service":"ecs","action":"resolved","resource":"c/s"}"#)
            .unwrap();
        let e = out.undelivered().unwrap();
        assert_eq!(e.exit_code().code(), 3);
        assert!(
            e.to_string()
                .contains("the record of the 1 change made is on stderr"),
            "{e}"
        );
        assert!(crate::interrupt::stdout_closed(), "no new change may start");
    }

    #[test]
    fn a_read_only_command_stops_quietly_on_a_closed_pipe() {
        let mut out = Output::to_writer(Format::Json, Box::new(Closed));
        let e = out
            .record(&Record::new(Service::Lambda, Action::Resolved, "f"))
            .unwrap_err();
        assert!(matches!(e, Error::BrokenPipe));
        assert!(out.undelivered().is_none());
    }

    #[test]
    fn table_summarises_artifacts() {
        let buf = Shared::default();
        let mut out = Output::to_writer(Format::Table, Box::new(buf.clone()));
        let mut r = Record::new(Service::Lambda, Action::Promoted, "orders-api");
        r.artifact =
            Some(serde_json::json!({"version": "7", "code_sha256": "0123456789abcdefXYZ"}));
        out.record(&r).unwrap();
        out.finish().unwrap();
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("SERVICE"), "{text}");
        assert!(
            text.contains("version=7 code_sha256=0123456789abcdef…"),
            "{text}"
        );
    }

    fn record_of(status: &str) -> Value {
        serde_json::json!({"source": "ssm", "resource": "/orders/staging/", "key": "url",
            "status": status, "a": "https://a.staging.example/".repeat(9), "b": "x"})
    }

    #[test]
    fn table_rows_fit_the_terminal_and_cells_are_cut_with_a_marker() {
        let long = "x".repeat(5000);
        let record = serde_json::json!({"source": "ssm", "resource": "/orders/staging/",
            "key": "big", "status": "differs", "a": long, "b": "short"});
        for width in [80, 120, 40] {
            let text = render_table(std::slice::from_ref(&record), false, Some(width));
            for line in text.lines() {
                // Every column at its floor is 49 characters: the least a row is narrowed to.
                assert!(line.chars().count() <= width.max(49), "{width}: {line}");
            }
            assert!(text.contains("x…") && text.contains("differs"), "{text}");
        }
        // Not a terminal: each cell capped.
        let text = render_table(&[record], false, None);
        assert!(text.lines().all(|l| l.chars().count() < 200), "{text}");
        assert!(text.contains(&format!("{}…", "x".repeat(CELL_CAP - 1))));
        // In colour, a row is as wide as without: escape codes take no room on a terminal.
        let painted = render_table(&[record_of("crossed")], true, Some(60));
        let plain = render_table(&[record_of("crossed")], false, Some(60));
        assert_eq!(
            painted.replace("\x1b[31m", "").replace("\x1b[0m", ""),
            plain
        );
        assert!(painted.contains("\x1b[31mcrossed\x1b[0m"), "{painted}");
        // What fits is left whole.
        assert_eq!(fit_columns(&[3, 10, 4], &[3, 8, 4], 80), [3, 10, 4]);
        assert_eq!(fit_columns(&[3, 100, 50], &[3, 8, 8], 40), [3, 15, 15]);
        assert_eq!(
            fit_columns(&[30, 30], &[8, 8], 10),
            [8, 8],
            "never below a floor"
        );
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abc", 4), "abc");
    }

    #[test]
    fn summaries_of_ecs_artifacts_are_readable() {
        let artifact = serde_json::json!({
            "task_definition": "arn:aws:ecs:us-east-1:1:task-definition/web-prod:7",
            "images": [{"container": "web", "image": "r/web@sha256:0123456789abcdef00", "digest": "sha256:0123456789abcdef00"}]
        });
        assert_eq!(
            summarize(&artifact),
            "task_definition=web-prod:7 web@sha256:012345678…"
        );
    }

    #[test]
    fn colour_follows_the_flag_then_the_environment_s_conventions() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_string())
            }
        };
        let auto = ColorChoice::Auto;
        assert!(auto.paints(true, env(&[])));
        assert!(!auto.paints(false, env(&[])));
        assert!(!auto.paints(true, env(&[("NO_COLOR", "1")])));
        assert!(
            auto.paints(true, env(&[("NO_COLOR", "")])),
            "an empty NO_COLOR is unset"
        );
        assert!(!auto.paints(true, env(&[("TERM", "dumb")])));
        assert!(auto.paints(false, env(&[("CLICOLOR_FORCE", "1")])));
        assert!(!auto.paints(false, env(&[("CLICOLOR_FORCE", "0")])));
        assert!(
            !auto.paints(true, env(&[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")])),
            "NO_COLOR wins"
        );
        assert!(ColorChoice::Always.paints(false, env(&[("NO_COLOR", "1")])));
        assert!(!ColorChoice::Never.paints(true, env(&[("CLICOLOR_FORCE", "1")])));
    }
}
