//! Writing records. stdout carries data only: one record per line, each written whole and flushed
//! at once, so a reader never sees half a line and a pipeline sees each change as it happens.
//! A reader that goes away (`| head -1`) ends a read-only command quietly. A command that changes
//! things never hides a change: from then on no new change starts, the records of the changes
//! that still finish go to stderr as JSON lines (for `rollback`), and the run exits 3.
//! `--output json` is the same stream as one JSON array: `[` comes with the first record, a `,`
//! before each next one, and `]` at the end of the run, however it ends (an error, an
//! interruption, a second signal), so what stdout holds is always one valid array.
//! `--output table` and `--output wide` are views for people, printed when the run ends: a table
//! wraps its cells to the terminal but never cuts an id people paste (a version id, a digest, an
//! ARN); `wide` prints every field, unwrapped.

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
    Ndjson,
    /// One JSON array of every record, closed at the end of the run even when it fails.
    Json,
    /// An aligned table for people, printed at the end of the run: cells wrap to the terminal,
    /// ids are never cut.
    Table,
    /// The table with every field of every record, unwrapped, whatever the terminal's width.
    Wide,
    /// One self-contained HTML page (`cfg-diff release` only: the release at a glance).
    Html,
}

impl Format {
    /// Whether records are shown as a table at the end of the run.
    #[must_use]
    pub fn is_table(self) -> bool {
        matches!(self, Format::Table | Format::Wide)
    }
}

/// stdout holds an open JSON array (`--output json`): a second signal, which ends the process at
/// once, closes it first.
static ARRAY_OPEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Close the JSON array on stdout, if one is open: for an exit that skips the end of the run.
/// Safe between two records: every record is written whole, without yielding to other tasks.
pub fn close_array_now() {
    if ARRAY_OPEN.swap(false, std::sync::atomic::Ordering::SeqCst) {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(b"]\n").and_then(|()| stdout.flush());
    }
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
    /// `--output json`: how many records the array holds so far (`[` is written with the first).
    elements: usize,
    /// The array was closed (or never will be: stdout is gone).
    array_closed: bool,
    /// This output is the process's stdout (a second signal may close its array).
    process_stdout: bool,
    /// A field every change record written while it is set carries (a traffic shift's step).
    annotation: Option<(&'static str, Value)>,
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
        output.process_stdout = true;
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
            elements: 0,
            array_closed: false,
            process_stdout: false,
            annotation: None,
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

    /// Add `key: value` to every change record written from now on (`None`: no longer). A
    /// traffic shift says this way which step of which schedule a change was, and the alarms'
    /// states then, so a CI log shows the whole shift.
    pub fn annotate(&mut self, key: &'static str, value: Option<Value>) {
        self.annotation = value.map(|v| (key, v));
    }

    fn deliver(&mut self, record: &Record) -> Result<()> {
        let annotated;
        let record = match &self.annotation {
            Some((key, value)) if record.is_change() => {
                let mut with = record.clone();
                with.extra.insert((*key).to_string(), value.clone());
                annotated = with;
                &annotated
            }
            _ => record,
        };
        let change = record.is_change();
        if change {
            if let Some(changes) = &mut self.changes {
                changes.push(record.clone());
            }
        }
        match self.format {
            Format::Ndjson | Format::Json => {
                let line = record.to_json_line();
                match self.element(&line) {
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
            Format::Table | Format::Wide | Format::Html => {
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
            Format::Ndjson | Format::Json if raw.contains('\n') => {
                let mut line = Vec::with_capacity(raw.len() + 1);
                crate::input::one_line_into(raw, &mut line);
                line.push(b'\n');
                self.write_passed(&line)
            }
            Format::Ndjson | Format::Json => {
                let mut line = Vec::with_capacity(raw.len() + 1);
                line.extend_from_slice(raw.as_bytes());
                line.push(b'\n');
                self.write_passed(&line)
            }
            Format::Table | Format::Wide | Format::Html => {
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
                    Format::Ndjson => self.write_passed(lines),
                    // Each line an element of the array, after its comma.
                    Format::Json => {
                        for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                            let mut bytes = Vec::with_capacity(line.len() + 1);
                            bytes.extend_from_slice(line);
                            bytes.push(b'\n');
                            self.write_passed(&bytes)?;
                        }
                        Ok(())
                    }
                    Format::Table | Format::Wide | Format::Html => {
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

    /// End of the run: print the table, or close the JSON array (`[]` when the run wrote no
    /// record), as the format says. Called however the run ended.
    pub fn finish(&mut self) -> Result<()> {
        if self.format == Format::Json && !self.array_closed {
            self.array_closed = true;
            if self.closed {
                return Ok(());
            }
            let end: &[u8] = if self.elements == 0 { b"[]\n" } else { b"]\n" };
            let written = self.write(end);
            if self.process_stdout {
                ARRAY_OPEN.store(false, std::sync::atomic::Ordering::SeqCst);
            }
            return match written {
                Err(Error::BrokenPipe) if self.mutating => Ok(()),
                other => other,
            };
        }
        if self.format.is_table() && !self.table.is_empty() {
            let table = render_table(
                &self.table,
                self.colour,
                self.width,
                self.format == Format::Wide,
            );
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

    /// One record as a line of the stream: with `--output json`, the array's `[` before the
    /// first and a `,` before each next one, in the same write.
    fn element(&mut self, text: &str) -> Result<()> {
        if self.format != Format::Json {
            return self.line(text);
        }
        self.element_bytes(text.as_bytes())
    }

    /// [`Output::element`] of a record's bytes (one line, without its line break).
    fn element_bytes(&mut self, line: &[u8]) -> Result<()> {
        let lead: &[u8] = if self.elements == 0 { b"[\n" } else { b"," };
        let mut bytes = Vec::with_capacity(lead.len() + line.len() + 1);
        bytes.extend_from_slice(lead);
        bytes.extend_from_slice(line);
        bytes.push(b'\n');
        let written = self.write(&bytes);
        if written.is_ok() {
            if self.elements == 0 && self.process_stdout {
                ARRAY_OPEN.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            self.elements += 1;
        }
        written
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
        let written = if self.format == Format::Json {
            self.element_bytes(bytes.strip_suffix(b"\n").unwrap_or(bytes))
        } else {
            self.write(bytes)
        };
        match written {
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
/// The longest text of a configuration value (cfg-diff's `a` and `b`) in the table view: long
/// enough for any setting people read, short enough that a 5 KB value does not make the table
/// 5 KB wide; the JSON output is exact. Ids are never cut: this applies to values alone.
const CELL_CAP: usize = 100;
/// No column of values is narrowed below this (or its header, or its widest cell if narrower).
const MIN_COLUMN: usize = 8;

/// What a column holds, which decides how it may be narrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Ids and summaries of them: wrapped only between words (and after a `key=` or a
    /// container's `name@`), never inside an id.
    Ids,
    /// A comparison's status: never narrowed, painted on a terminal.
    Status,
    /// Configuration values: capped at [`CELL_CAP`] and wrapped anywhere.
    Values,
}

/// One column of the table view.
struct Column {
    heading: String,
    kind: Kind,
    cells: Vec<String>,
}

/// The table view: one row per record, artifacts summarised on one line, every id whole. On a
/// terminal (`width`) a table wider than it wraps its cells; when even the narrowest wrapping
/// leaves an id no room (a 71-character digest beside six other columns), each record is shown
/// as a block of `FIELD value` lines instead (an id longer than a block's room stays whole on a
/// wider line). `wide`: every field, nothing wrapped. Comparison
/// records (cfg-diff's, with a `status`) get a diff's columns. Error records are rows too.
fn render_table(records: &[Value], colour: bool, width: Option<usize>, wide: bool) -> String {
    let columns = if wide {
        every_field(records)
    } else {
        columns_of(records)
    };
    let natural: Vec<usize> = columns
        .iter()
        .map(|c| {
            c.cells
                .iter()
                .map(|cell| cell.chars().count())
                .chain([c.heading.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let row = |widths: &[usize]| widths.iter().map(|w| w + 2).sum::<usize>();
    let widths = match width {
        Some(width) if !wide && row(&natural) > width => {
            let floor: Vec<usize> = columns
                .iter()
                .zip(&natural)
                .map(|(c, &n)| match c.kind {
                    Kind::Status => n,
                    Kind::Values => n.min(MIN_COLUMN.max(c.heading.len())),
                    Kind::Ids => c
                        .cells
                        .iter()
                        .flat_map(|cell| pieces(cell).map(|p| p.chars().count()))
                        .chain([c.heading.chars().count()])
                        .max()
                        .unwrap_or(0),
                })
                .collect();
            if row(&floor) > width {
                return blocks(&columns, colour, width);
            }
            fit_columns(&natural, &floor, width)
        }
        _ => natural,
    };
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::NOTHING);
    table.set_header(columns.iter().map(|c| c.heading.clone()));
    let rows = columns.first().map_or(0, |c| c.cells.len());
    for i in 0..rows {
        table.add_row(columns.iter().zip(&widths).map(|(c, &w)| {
            if c.cells[i].chars().count() <= w {
                c.cells[i].clone()
            } else {
                wrap(&c.cells[i], w, c.kind == Kind::Values).join("\n")
            }
        }));
    }
    // Without the padding after a row's last cell.
    let text: String = table
        .to_string()
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n");
    match columns.iter().find(|c| c.kind == Kind::Status) {
        // Painted once laid out: the table would count a colour's escape codes as characters.
        Some(status) if colour => paint_column(&text, &status.heading, &status.cells),
        _ => text,
    }
}

/// A field of a record as a cell's text: a string as it is, `-` for nothing, an object or an
/// array summarised on one line; a value's line breaks shown as `\n`, as in its JSON.
fn field_text(record: &Value, name: &str) -> String {
    match record.get(name) {
        Some(Value::String(s)) => s.replace('\n', "\\n"),
        Some(Value::Null) | None => "-".to_string(),
        Some(other) => summarize(other).replace('\n', "\\n"),
    }
}

/// The columns of the table view: a diff's for comparison records, else the pointer's, with
/// DATE and DETAIL where some record has one and PREVIOUS where some record has one.
fn columns_of(records: &[Value]) -> Vec<Column> {
    let is_error = |r: &Value| r.get("action").and_then(Value::as_str) == Some("error");
    let message = |r: &Value| field_text(r, "message");
    let column = |heading: &str, kind: Kind, cell: &dyn Fn(&Value) -> String| Column {
        heading: heading.to_string(),
        kind,
        cells: records.iter().map(cell).collect(),
    };
    let diff = records.iter().any(|r| r.get("status").is_some())
        && records
            .iter()
            .all(|r| r.get("status").is_some() || is_error(r));
    if diff {
        let status = |r: &Value| {
            if is_error(r) {
                "error".to_string()
            } else {
                field_text(r, "status")
            }
        };
        let value = |name: &'static str| {
            move |r: &Value| {
                if is_error(r) && name == "a" {
                    message(r)
                } else {
                    cap(&field_text(r, name), CELL_CAP)
                }
            }
        };
        return vec![
            column("SOURCE", Kind::Ids, &|r| field_text(r, "source")),
            column("RESOURCE", Kind::Ids, &|r| field_text(r, "resource")),
            column("KEY", Kind::Ids, &|r| field_text(r, "key")),
            column("STATUS", Kind::Status, &status),
            column("A", Kind::Values, &value("a")),
            column("B", Kind::Values, &value("b")),
        ];
    }
    let mut columns = vec![
        column("SERVICE", Kind::Ids, &|r| field_text(r, "service")),
        column("ACTION", Kind::Ids, &|r| field_text(r, "action")),
        column("RESOURCE", Kind::Ids, &|r| field_text(r, "resource")),
        column("ENV", Kind::Ids, &|r| field_text(r, "env")),
        column("POINTER", Kind::Ids, &|r| field_text(r, "pointer")),
        column("ARTIFACT", Kind::Ids, &|r| field_text(r, "artifact")),
        column("PREVIOUS", Kind::Ids, &|r| field_text(r, "previous")),
        column("DATE", Kind::Ids, &date),
        column("DETAIL", Kind::Ids, &detail),
    ];
    // Columns nobody fills take no room (a listing has no POINTER or PREVIOUS, a promotion no
    // DATE).
    columns.retain(|c| {
        !matches!(
            c.heading.as_str(),
            "ENV" | "POINTER" | "PREVIOUS" | "DATE" | "DETAIL"
        ) || c.cells.iter().any(|cell| cell != "-")
    });
    columns
}

/// `--output wide`: a column for every field any record has, in the order they first appear.
fn every_field(records: &[Value]) -> Vec<Column> {
    let mut names: Vec<&str> = Vec::new();
    for record in records {
        if let Value::Object(map) = record {
            for name in map.keys() {
                if !names.contains(&name.as_str()) {
                    names.push(name);
                }
            }
        }
    }
    names
        .into_iter()
        .map(|name| Column {
            heading: name.to_uppercase(),
            kind: if name == "status" {
                Kind::Status
            } else {
                Kind::Ids
            },
            cells: records.iter().map(|r| field_text(r, name)).collect(),
        })
        .collect()
}

/// When a record is from: a deployment's `created`, a version's `last_modified`, or `date`.
fn date(record: &Value) -> String {
    ["created", "last_modified", "date"]
        .iter()
        .find_map(|name| record.get(*name).and_then(Value::as_str))
        .map_or_else(|| "-".to_string(), str::to_string)
}

/// What else a person reading the row needs: why it failed, the description, the rollout state
/// of each ECS deployment, a note about where digests were read.
fn detail(record: &Value) -> String {
    let mut parts: Vec<String> = Vec::new();
    if record.get("action").and_then(Value::as_str) == Some("error") {
        parts.push(field_text(record, "message"));
    }
    if let Some(description) = record
        .get("description")
        .and_then(Value::as_str)
        .filter(|d| !d.is_empty())
    {
        parts.push(description.replace('\n', "\\n"));
    }
    if let Some(Value::Array(deployments)) = record.get("deployments") {
        let text = |d: &Value, name: &str| d.get(name).and_then(Value::as_str).map(str::to_string);
        let rollouts: Vec<String> = deployments
            .iter()
            .map(|d| {
                let mut words: Vec<String> = ["status", "id", "rollout_state"]
                    .iter()
                    .filter_map(|name| text(d, name))
                    .collect();
                if let Some(reason) = text(d, "rollout_state_reason").filter(|r| !r.is_empty()) {
                    words.push(format!("({reason})"));
                }
                words.join(" ")
            })
            .collect();
        if !rollouts.is_empty() {
            parts.push(format!("deployments: {}", rollouts.join(", ")));
        }
    }
    // Who holds a listed version or deployment: history's environments, else its aliases or
    // stages.
    let holders = ["envs", "aliases", "stages"].iter().find_map(|name| {
        let names: Vec<&str> = record
            .get(*name)?
            .as_array()?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        (!names.is_empty()).then(|| format!("{name}: {}", names.join(", ")))
    });
    parts.extend(holders);
    if let Some(note) = record.get("digest_note").and_then(Value::as_str) {
        parts.push(note.replace('\n', "\\n"));
    }
    if parts.is_empty() {
        "-".to_string()
    } else {
        parts.join("; ")
    }
}

/// The table as one block per record, a `FIELD value` line for each column, for a terminal too
/// narrow for the table's columns side by side without cutting an id.
fn blocks(columns: &[Column], colour: bool, width: usize) -> String {
    let label = columns
        .iter()
        .map(|c| c.heading.chars().count())
        .max()
        .unwrap_or(0)
        + 1;
    let room = width.saturating_sub(label).max(MIN_COLUMN);
    let rows = columns.first().map_or(0, |c| c.cells.len());
    let mut out: Vec<String> = Vec::new();
    for i in 0..rows {
        if i > 0 {
            out.push(String::new());
        }
        for c in columns {
            let cell = &c.cells[i];
            // A block has room for what a record holds, not for what it lacks.
            if cell == "-" && c.kind != Kind::Status {
                continue;
            }
            let lines = if c.kind == Kind::Status && colour {
                vec![paint(cell, true)]
            } else {
                wrap(cell, room, c.kind == Kind::Values)
            };
            for (n, line) in lines.iter().enumerate() {
                let heading = if n == 0 { c.heading.as_str() } else { "" };
                out.push(format!("{heading:<label$}{line}").trim_end().to_string());
            }
        }
    }
    out.join("\n")
}

/// The places a cell's text may be wrapped without cutting an id: its words, and a word after
/// a leading `key=` (`version_id=` then the id) or a container's `name@` (then the digest).
fn pieces(text: &str) -> impl Iterator<Item = &str> {
    text.split(' ').flat_map(|word| {
        let key = word
            .find(['=', '@'])
            .filter(|&at| {
                at > 0
                    && word[..at]
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            })
            .map(|at| at + 1)
            // `abc==` is a base64 id's padding, not a key and its value.
            .filter(|&at| at < word.len() && !word[at..].starts_with('='));
        match key {
            Some(at) => [&word[..at], &word[at..]].into_iter().take(2),
            None => [word, ""].into_iter().take(1),
        }
    })
}

/// `text` in lines of at most `width` characters, broken between words, else after a word's
/// `key=` or `name@`; a piece longer than a line stays whole on a line of its own (an id is never
/// cut), unless `anywhere` (a configuration value, which is then broken where the line ends).
fn wrap(text: &str, width: usize, anywhere: bool) -> Vec<String> {
    let width = width.max(1);
    let len = |s: &str| s.chars().count();
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut flush = |line: &mut String| {
        if !line.is_empty() {
            lines.push(std::mem::take(line));
        }
    };
    for word in text.split(' ') {
        let gap = usize::from(!line.is_empty());
        if len(&line) + gap + len(word) <= width {
            if gap == 1 {
                line.push(' ');
            }
            line.push_str(word);
            continue;
        }
        flush(&mut line);
        for piece in pieces(word) {
            if len(&line) + len(piece) <= width {
                line.push_str(piece);
            } else if anywhere {
                for c in piece.chars() {
                    if len(&line) == width {
                        flush(&mut line);
                    }
                    line.push(c);
                }
            } else {
                flush(&mut line);
                line.push_str(piece);
            }
        }
    }
    flush(&mut line);
    if lines.is_empty() {
        lines.push(String::new());
    }
    lines
}

/// `text` (a laid out table) with each row's status, in the column headed `heading`, in colour.
/// A row's further lines (wrapped cells) have no status there and stay as they are.
fn paint_column(text: &str, heading: &str, statuses: &[String]) -> String {
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return text.to_string();
    };
    let Some(at) = header.find(heading).map(|b| header[..b].chars().count()) else {
        return text.to_string();
    };
    let mut out = vec![header.to_string()];
    let mut statuses = statuses.iter().peekable();
    for line in lines {
        let start = line.char_indices().nth(at).map(|(b, _)| b);
        let status = statuses.peek().map(|s| s.as_str());
        match (start, status) {
            (Some(b), Some(status)) if line[b..].starts_with(status) => {
                out.push(format!(
                    "{}{}{}",
                    &line[..b],
                    paint(status, true),
                    &line[b + status.len()..]
                ));
                statuses.next();
            }
            _ => out.push(line.to_string()),
        }
    }
    out.join("\n")
}

/// Column widths for a row of at most `budget` characters (each column padded by a space on
/// either side): every column wider than some level is narrowed to it (the widest first, evenly),
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
fn cap(text: &str, width: usize) -> String {
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
        "only_in_a" | "only_in_b" | "crossed" | "unreadable" | "error" => "31",
        "differs" => "33",
        "same" | "parallel" => "32",
        _ => return status.to_string(),
    };
    format!("\x1b[{code}m{status}\x1b[0m")
}

/// `{"version":"7","code_sha256":"abc..."}` -> `version=7 code_sha256=abc...`, on one line and
/// whole: the ids in it (hashes, digests, ARNs, version ids) are what people copy from a table.
/// Container images are `name@digest`, one per container; a list is its items, `, ` between.
#[must_use]
pub fn summarize(value: &Value) -> String {
    match value {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| match (k.as_str(), v) {
                ("images", Value::Array(images)) => images
                    .iter()
                    .map(|i| {
                        let name = i.get("container").and_then(Value::as_str).unwrap_or("?");
                        let digest = i.get("digest").and_then(Value::as_str).unwrap_or("?");
                        format!("{name}@{digest}")
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
                (_, Value::String(s)) => format!("{k}={s}"),
                (_, Value::Object(_) | Value::Array(_)) => format!("{k}={v}"),
                (_, other) => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => s.clone(),
                other => summarize(other),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Value::String(s) => s.clone(),
        other => other.to_string(),
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
        let mut out = Output::to_writer(Format::Ndjson, Box::new(buf.clone()));
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
        let mut out = Output::to_writer(Format::Ndjson, Box::new(Closed));
        let e = out
            .record(&Record::new(Service::Lambda, Action::Resolved, "f"))
            .unwrap_err();
        assert!(matches!(e, Error::BrokenPipe));
        assert_eq!(e.exit_code().code(), 0);
    }

    #[test]
    fn a_closed_pipe_never_hides_a_change() {
        let mut out = Output::to_writer(Format::Ndjson, Box::new(Closed));
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
        let mut out = Output::to_writer(Format::Ndjson, Box::new(Closed));
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
            text.contains("version=7 code_sha256=0123456789abcdefXYZ"),
            "ids are whole: {text}"
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
            let text = render_table(std::slice::from_ref(&record), false, Some(width), false);
            for line in text.lines() {
                // Every column at its floor is 49 characters: the least a row is narrowed to.
                assert!(line.chars().count() <= width.max(49), "{width}: {line}");
            }
            assert!(text.contains("x…") && text.contains("differs"), "{text}");
        }
        // Not a terminal: each cell capped.
        let text = render_table(&[record], false, None, false);
        assert!(text.lines().all(|l| l.chars().count() < 200), "{text}");
        assert!(text.contains(&format!("{}…", "x".repeat(CELL_CAP - 1))));
        // In colour, a row is as wide as without: escape codes take no room on a terminal.
        let painted = render_table(&[record_of("crossed")], true, Some(60), false);
        let plain = render_table(&[record_of("crossed")], false, Some(60), false);
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
        assert_eq!(cap("abcdef", 4), "abc…");
        assert_eq!(cap("abc", 4), "abc");
    }

    #[test]
    fn summaries_of_ecs_artifacts_are_readable() {
        let artifact = serde_json::json!({
            "task_definition": "arn:aws:ecs:us-east-1:1:task-definition/web-prod:7",
            "images": [{"container": "web", "image": "r/web@sha256:0123456789abcdef00", "digest": "sha256:0123456789abcdef00"}]
        });
        assert_eq!(
            summarize(&artifact),
            "task_definition=arn:aws:ecs:us-east-1:1:task-definition/web-prod:7 web@sha256:0123456789abcdef00"
        );
    }

    fn text_of(buf: &Shared) -> String {
        String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
    }

    /// An ECS status with a 64-hex digest and an S3 version with a 32-character version id, as
    /// records.
    fn records_with_long_ids() -> (Vec<Value>, String, String) {
        let digest = format!("sha256:{}", "0123456789abcdef".repeat(4));
        let version_id = "02b6f97e9910a4c1Q2w3E4r5T6y7U8i9".to_string();
        assert_eq!(version_id.len(), 32);
        let ecs = serde_json::json!({"service": "ecs", "action": "resolved",
            "resource": "orders-prod/web", "region": "eu-west-1", "account": "222222222222",
            "env": "prod", "pointer": "web",
            "artifact": {"task_definition": "arn:aws:ecs:eu-west-1:222222222222:task-definition/web-prod:17",
                "images": [{"container": "web", "image": format!("r/web@{digest}"), "digest": digest}]},
            "previous": null,
            "deployments": [{"id": "ecs-svc/1234567890123456789", "status": "PRIMARY",
                "rollout_state": "IN_PROGRESS", "rollout_state_reason": "ECS deployment ecs-svc/1234567890123456789 in progress."}]});
        let s3 = serde_json::json!({"service": "s3", "action": "resolved",
            "resource": "site-prod/index.html", "region": "eu-west-1", "account": "222222222222",
            "env": null, "pointer": null,
            "artifact": {"version_id": version_id, "etag": "\"9b2cf535f27731c974343645a3985328\"", "size": 1024},
            "previous": null, "description": "release 2026-12-01 (git 4f100ba)",
            "envs": ["prod", "staging"],
            "last_modified": "2026-12-01T10:00:00Z"});
        (vec![ecs, s3], digest, version_id)
    }

    #[test]
    fn a_table_at_80_columns_holds_every_id_whole() {
        let (records, digest, version_id) = records_with_long_ids();
        let text = render_table(&records, false, Some(80), false);
        for id in [
            digest.as_str(),
            version_id.as_str(),
            "arn:aws:ecs:eu-west-1:222222222222:task-definition/web-prod:17",
            "ecs-svc/1234567890123456789",
        ] {
            assert!(text.contains(id), "{id} whole:\n{text}");
        }
        assert!(!text.contains('…'), "nothing cut:\n{text}");
        for line in text.lines() {
            assert!(
                line.chars().count() <= 80,
                "fits 80 columns: {line:?}\n{text}"
            );
        }
        // What the table used to drop: the rollout state, a description and a date.
        for shown in [
            "IN_PROGRESS",
            "release 2026-12-01",
            "2026-12-01T10:00:00Z",
            "envs: prod, staging",
        ] {
            assert!(text.contains(shown), "{shown}:\n{text}");
        }
        // Wide enough, the same records are rows of one table, ids whole on one line.
        let text = render_table(&records, false, Some(400), false);
        assert!(
            text.lines()
                .next()
                .unwrap()
                .trim_start()
                .starts_with("SERVICE"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(
            text.contains(&digest) && text.contains(&version_id),
            "{text}"
        );
        // Narrower than its natural width but room enough for every id: cells wrap, between
        // words, and no line is wider than the terminal.
        let s3 = &records[1..];
        let natural = render_table(s3, false, None, false);
        let narrow = natural.lines().map(|l| l.chars().count()).max().unwrap() - 20;
        let text = render_table(s3, false, Some(narrow), false);
        assert!(text.lines().count() > 2, "wrapped:\n{text}");
        assert!(text.contains(&version_id), "{text}");
        assert!(text.lines().all(|l| l.chars().count() <= narrow), "{text}");
    }

    #[test]
    fn wrapping_breaks_between_words_and_after_a_key_never_inside_an_id() {
        let id = "Ofs4DXNzRHSZje/9QZcASS7x3xTx0VgTAROF5u35hBo=";
        let text = format!("version=7 code_sha256={id}");
        assert_eq!(wrap(&text, 20, false), ["version=7", "code_sha256=", id]);
        assert_eq!(wrap(&text, 80, false), [text.as_str()]);
        assert_eq!(
            wrap("abc==", 4, false),
            ["abc=="],
            "a base64 tail is not a key"
        );
        assert_eq!(wrap("abcdefgh", 3, true), ["abc", "def", "gh"]);
        assert_eq!(wrap("", 3, false), [""]);
    }

    #[test]
    fn wide_prints_every_field_unwrapped_whatever_the_width() {
        let (records, digest, version_id) = records_with_long_ids();
        let text = render_table(&records, false, Some(40), true);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "one line per record:\n{text}");
        for heading in [
            "REGION",
            "ACCOUNT",
            "DEPLOYMENTS",
            "DESCRIPTION",
            "LAST_MODIFIED",
        ] {
            assert!(lines[0].contains(heading), "{heading}: {}", lines[0]);
        }
        assert!(lines[1].contains(&digest) && lines[1].contains("222222222222"));
        assert!(lines[2].contains(&version_id) && lines[2].contains("release 2026-12-01"));
        // Through Output, `--output wide` is this view.
        let buf = Shared::default();
        let mut out = Output::to_writer(Format::Wide, Box::new(buf.clone()));
        out.width = Some(40);
        let mut r = Record::new(Service::Lambda, Action::Resolved, "f");
        r.extra.insert("code_size".into(), 5_242_880.into());
        out.record(&r).unwrap();
        out.finish().unwrap();
        let text = text_of(&buf);
        assert!(
            text.contains("CODE_SIZE") && text.contains("5242880"),
            "{text}"
        );
    }

    #[test]
    fn failed_resources_are_rows_of_the_table_with_their_message() {
        let buf = Shared::default();
        let mut out = Output::to_writer(Format::Table, Box::new(buf.clone()));
        out.record(&Record::new(
            Service::Lambda,
            Action::Resolved,
            "orders-api",
        ))
        .unwrap();
        let failed = Record::new(Service::Lambda, Action::Resolved, "orders-worker")
            .into_error(&Error::usage("orders-worker has no alias staging"));
        out.record(&failed).unwrap();
        out.finish().unwrap();
        let text = text_of(&buf);
        let row = text
            .lines()
            .find(|l| l.contains("orders-worker"))
            .unwrap_or_else(|| panic!("a row for the failure:\n{text}"));
        assert!(row.contains("error"), "{row}");
        assert!(row.contains("orders-worker has no alias staging"), "{row}");
        assert!(text.lines().next().unwrap().contains("DETAIL"), "{text}");
        // Among comparison records too.
        let diff = [record_of("same"), serde_json::to_value(&failed).unwrap()];
        let text = render_table(&diff, false, None, false);
        assert!(text.lines().next().unwrap().contains("STATUS"), "{text}");
        assert!(text.contains("has no alias staging"), "{text}");
    }

    fn array_of(text: &str) -> Vec<Value> {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => items,
            other => panic!("one JSON array, not {other:?}:\n{text}"),
        }
    }

    #[test]
    fn json_is_one_array_on_an_empty_run_a_full_one_and_one_that_fails() {
        // No record: still an array.
        let buf = Shared::default();
        let mut out = Output::to_writer(Format::Json, Box::new(buf.clone()));
        out.finish().unwrap();
        assert_eq!(text_of(&buf), "[]\n");
        assert!(array_of(&text_of(&buf)).is_empty());

        // Records of this tool, a passed-on record (pretty-printed) and an error
        // record: every one an element, in order, each on a line of its own.
        let buf = Shared::default();
        let mut out = Output::to_writer(Format::Json, Box::new(buf.clone()));
        out.record(&Record::new(Service::Lambda, Action::Resolved, "f"))
            .unwrap();
        out.raw("{\n  \"service\": \"s3\",\n  \"resource\": \"a b\"\n}")
            .unwrap();
        let failed = Record::new(Service::Lambda, Action::Resolved, "g")
            .into_error(&Error::usage("g has no alias prod"));
        out.record(&failed).unwrap();
        // Before the end, what is there is the array so far (a reader can follow it)...
        assert!(text_of(&buf).starts_with("[\n{"), "{}", text_of(&buf));
        // ...and the end closes it, however the run ended.
        out.finish().unwrap();
        out.finish().unwrap();
        let text = text_of(&buf);
        let items = array_of(&text);
        assert_eq!(items.len(), 3, "{text}");
        assert_eq!(items[0]["resource"], "f");
        assert_eq!(
            items[1],
            serde_json::json!({"service": "s3", "resource": "a b"})
        );
        assert_eq!(items[2]["action"], "error");
        assert_eq!(items[2]["message"], "g has no alias prod");
        assert_eq!(text.lines().count(), 5, "{text}");
        // The same records as NDJSON, element for element.
        let buf = Shared::default();
        let mut out = Output::to_writer(Format::Ndjson, Box::new(buf.clone()));
        out.record(&Record::new(Service::Lambda, Action::Resolved, "f"))
            .unwrap();
        out.raw("{\n  \"service\": \"s3\",\n  \"resource\": \"a b\"\n}")
            .unwrap();
        out.record(&failed).unwrap();
        out.finish().unwrap();
        let lines: Vec<Value> = text_of(&buf)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines, items);
    }

    #[test]
    fn json_on_a_closed_stdout_never_hides_a_change() {
        let mut out = Output::to_writer(Format::Json, Box::new(Closed));
        out.set_mutating(true);
        let mut change = Record::new(Service::Lambda, Action::Promoted, "f");
        change.pointer = Some("prod".into());
        out.record(&change).unwrap();
        out.finish().unwrap();
        let e = out.undelivered().unwrap();
        assert_eq!(e.exit_code().code(), 3);
        assert!(e.to_string().contains("1 change made is on stderr"), "{e}");
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
