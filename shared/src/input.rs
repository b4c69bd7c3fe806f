//! Reading records. Tools accept NDJSON, pretty-printed objects one after another, or one JSON
//! array (what `jq` and `jq -s` print). The whole input is read and checked before a tool makes
//! its first change, so a bad line 900 cannot leave lines 1..899 half applied.
//!
//! Each record is kept as the exact text it came in: a record for another service is written out
//! byte for byte, without being rebuilt from a parsed value. Those records are not even kept in
//! memory: input is read in blocks, each record is checked as it arrives, and the records the
//! tool does not handle go to a spool (in memory up to a megabyte, then an unnamed temporary
//! file) from which they are copied to stdout in their place. A tool in the middle of a pipeline
//! of 200,000 foreign records thus holds one block of input and the records it acts on, whatever
//! the length of the stream.

use crate::error::{Error, Result};
use crate::record::{Action, Record, Service};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::io::Read;
use std::ops::Range;

/// All of a tool's input, read and checked once. Records borrow their text from it.
#[derive(Debug)]
pub struct Input {
    origin: String,
    /// The text of the records kept in memory, one after another.
    kept: String,
    entries: Vec<Entry>,
    spool: Spool,
    /// The `error` records, of every service: a failure upstream that a promoting tool must not
    /// pass over in silence.
    failures: Vec<Failure>,
}

/// An `error` record read on the input: a tool upstream failed on this pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Line (1-based) on which the record starts.
    pub line: usize,
    pub service: Service,
    pub resource: String,
    pub env: Option<String>,
    pub pointer: Option<String>,
    /// What the failing tool said.
    pub message: Option<String>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.service, self.resource)?;
        if let Some(pointer) = &self.pointer {
            write!(f, " {pointer}")?;
        }
        if let Some(env) = &self.env {
            write!(f, " ({env})")?;
        }
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        Ok(())
    }
}

#[derive(Debug)]
enum Entry {
    Kept {
        line: usize,
        service: Service,
        action: Action,
        text: Range<usize>,
    },
    /// Records of other services, one after another: one line each in the spool.
    Spooled(Range<u64>),
}

/// One record of the input: where it starts, its text, and the fields every tool needs to route it.
#[derive(Debug, Clone, Copy)]
pub struct InputRecord<'a> {
    /// Line (1-based) on which the record starts, for error messages.
    pub line: usize,
    /// The record's text exactly as it came in.
    pub raw: &'a str,
    pub service: Service,
    pub action: Action,
}

/// Records a tool passes on as they came: one it read, or a run of spooled ones.
#[derive(Debug, Clone)]
pub enum Passage<'a> {
    Text(&'a str),
    Spooled(&'a Spool, Range<u64>),
}

/// What a tool gets from its input, in input order: a record of a service it handles, or records
/// to pass on.
#[derive(Debug, Clone)]
pub enum Item<'a> {
    Own(InputRecord<'a>),
    Pass(Passage<'a>),
}

/// Which records are kept in memory: those of the services a tool handles (all of them when
/// the input comes from text already in memory).
#[derive(Debug, Clone, Copy)]
enum Keep<'s> {
    All,
    Services(&'s [Service]),
}

impl Keep<'_> {
    fn keeps(self, service: Service) -> bool {
        match self {
            Keep::All => true,
            Keep::Services(services) => services.contains(&service),
        }
    }
}

/// The fields checked on every record, whichever tool handles it.
#[derive(Deserialize)]
struct Header<'a> {
    #[serde(borrow)]
    service: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    action: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    resource: Option<std::borrow::Cow<'a, str>>,
    // The other core fields are only type-checked here: every tool refuses a record that breaks
    // the contract, whichever tool it is for.
    #[serde(borrow, default)]
    region: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    env: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    pointer: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    artifact: Option<&'a RawValue>,
    #[serde(borrow, default)]
    previous: Option<&'a RawValue>,
}

impl Input {
    /// Read all of stdin, keeping the records of `services` in memory and spooling the others.
    /// Unreadable, non-UTF-8 or malformed input is bad input (exit 2), reported at its line.
    pub fn from_stdin(services: &[Service]) -> Result<Input> {
        Input::read("stdin", std::io::stdin().lock(), Keep::Services(services))
    }

    /// Input from bytes (a file, a test). `origin` names it in messages.
    pub fn from_bytes(origin: &str, bytes: &[u8]) -> Result<Input> {
        Input::read(origin, bytes, Keep::All)
    }

    /// Input from text.
    pub fn from_text(origin: &str, text: &str) -> Result<Input> {
        Input::from_bytes(origin, text.as_bytes())
    }

    fn read(origin: &str, source: impl Read, keep: Keep<'_>) -> Result<Input> {
        let mut input = Input {
            origin: origin.to_string(),
            kept: String::new(),
            entries: Vec::new(),
            spool: Spool::default(),
            failures: Vec::new(),
        };
        let mut reader = Reader::new(origin, source);
        while let Some((line, raw)) = reader.next_value()? {
            input.add(line, raw, keep)?;
        }
        Ok(input)
    }

    fn add(&mut self, line: usize, raw: &str, keep: Keep<'_>) -> Result<()> {
        let (service, action) = check(&self.origin, line, raw)?;
        if action == Action::Error {
            self.failures.push(failure(line, service, raw));
        }
        // An error record is never work for a tool: it is passed on, so the tools after it see
        // the failure too.
        if keep.keeps(service) && action != Action::Error {
            let start = self.kept.len();
            self.kept.push_str(raw);
            self.entries.push(Entry::Kept {
                line,
                service,
                action,
                text: start..self.kept.len(),
            });
            return Ok(());
        }
        let spooled = self.spool.push(raw).map_err(|e| {
            Error::Output(std::io::Error::new(
                e.kind(),
                format!("cannot spool the records to pass on: {e}"),
            ))
        })?;
        match self.entries.last_mut() {
            Some(Entry::Spooled(run)) if run.end == spooled.start => run.end = spooled.end,
            _ => self.entries.push(Entry::Spooled(spooled)),
        }
        Ok(())
    }

    /// True when the input holds no record.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The input in order: the records of `services`, and everything else to pass on.
    pub fn items(&self, services: &[Service]) -> impl Iterator<Item = Item<'_>> {
        let services = services.to_vec();
        self.entries.iter().map(move |entry| match entry {
            Entry::Kept {
                line,
                service,
                action,
                text,
            } => {
                let record = InputRecord {
                    line: *line,
                    raw: &self.kept[text.clone()],
                    service: *service,
                    action: *action,
                };
                if services.contains(service) && *action != Action::Error {
                    Item::Own(record)
                } else {
                    Item::Pass(Passage::Text(record.raw))
                }
            }
            Entry::Spooled(range) => Item::Pass(Passage::Spooled(&self.spool, range.clone())),
        })
    }

    /// The records kept in memory, in order (every record of an input made from text or bytes).
    #[must_use]
    pub fn records(&self) -> Vec<InputRecord<'_>> {
        self.items(&Service::ALL)
            .filter_map(|item| match item {
                Item::Own(record) => Some(record),
                Item::Pass(_) => None,
            })
            .collect()
    }

    /// The `error` records of the input, of every service, in order.
    #[must_use]
    pub fn failures(&self) -> &[Failure] {
        &self.failures
    }

    /// Whether any record (not only an error) is of one of `services`.
    #[must_use]
    pub fn has_own(&self, services: &[Service]) -> bool {
        self.items(services)
            .any(|item| matches!(item, Item::Own(_)))
    }

    /// The origin's name for messages (`stdin`).
    #[must_use]
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

/// What an `error` record says, for the message of the tool that refuses to go on.
fn failure(line: usize, service: Service, raw: &str) -> Failure {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Said {
        resource: String,
        env: Option<String>,
        pointer: Option<String>,
        message: Option<String>,
    }
    // The header was checked already; a message of another type is simply not repeated.
    let said: Said = serde_json::from_str(raw).unwrap_or_default();
    Failure {
        line,
        service,
        resource: said.resource,
        env: said.env,
        pointer: said.pointer,
        message: said.message,
    }
}

/// Check a record's header: the fields every tool routes on, and the types of the core fields.
fn check(origin: &str, line: usize, raw: &str) -> Result<(Service, Action)> {
    let at = |message: String| Error::bad_input(format!("{origin}:{line}"), message);
    if !raw.starts_with('{') {
        return Err(at(format!(
            "a record must be a JSON object, found {}",
            preview(raw)
        )));
    }
    let header: Header<'_> = serde_json::from_str(raw)
        .map_err(|e| at(format!("wrong type in record: {}", strip_position(&e))))?;
    let service = header
        .service
        .ok_or_else(|| at("record has no \"service\"".into()))?;
    let service = service.parse::<Service>().map_err(&at)?;
    let action = header
        .action
        .ok_or_else(|| at("record has no \"action\"".into()))?;
    let action = action.parse::<Action>().map_err(&at)?;
    match header.resource {
        None => return Err(at("record has no \"resource\"".into())),
        Some(r) if r.is_empty() => return Err(at("record has an empty \"resource\"".into())),
        Some(_) => {}
    }
    let _ = (header.region, header.env, header.pointer);
    for (field, value) in [("artifact", header.artifact), ("previous", header.previous)] {
        if let Some(value) = value {
            let text = value.get();
            if !(text.starts_with('{') || text == "null") {
                return Err(at(format!(
                    "wrong type in record: `{field}` must be an object or null"
                )));
            }
        }
    }
    Ok((service, action))
}

impl InputRecord<'_> {
    /// Parse the whole record. Only the tool that handles the record's service does this; the
    /// types of the core fields are checked here (a string `artifact` is refused, for example).
    pub fn parse(&self, origin: &str) -> Result<Record> {
        let at = |message: String| {
            Error::bad_input(
                format!("{origin}:{}", self.line),
                format!("wrong type in record: {message}"),
            )
        };
        let record: Record = serde_json::from_str(self.raw).map_err(|e| at(strip_position(&e)))?;
        for (field, value) in [
            ("artifact", &record.artifact),
            ("previous", &record.previous),
        ] {
            if value.as_ref().is_some_and(|v| !v.is_object()) {
                return Err(at(format!("`{field}` must be an object or null")));
            }
        }
        Ok(record)
    }
}

/// Reads JSON values one at a time from a stream, in blocks: NDJSON, values one after another,
/// or the elements of one top-level array. Keeps the line and column of where it is, for errors.
struct Reader<'o, R> {
    origin: &'o str,
    source: R,
    buf: Vec<u8>,
    /// Where the next value starts in `buf`.
    pos: usize,
    /// `buf[..valid]` is checked UTF-8.
    valid: usize,
    eof: bool,
    /// Line (1-based) and byte column (0-based) of `buf[pos]`.
    line: usize,
    column: usize,
    /// Inside a top-level array: `Some(true)` when the next token is a value (after `[` or `,`).
    array: Option<bool>,
    started: bool,
    /// How many times more input was read (each time, a cut value is parsed again).
    fills: usize,
}

/// Input is read this much at a time.
const BLOCK: usize = 64 * 1024;

impl<'o, R: Read> Reader<'o, R> {
    fn new(origin: &'o str, source: R) -> Self {
        Reader {
            origin,
            source,
            buf: Vec::with_capacity(BLOCK),
            pos: 0,
            valid: 0,
            eof: false,
            line: 1,
            column: 0,
            array: None,
            started: false,
            fills: 0,
        }
    }

    fn error(&self, line: usize, message: impl Into<String>) -> Error {
        Error::bad_input(format!("{}:{line}", self.origin), message)
    }

    /// Read another block; false at the end of the input.
    fn fill(&mut self) -> Result<bool> {
        if self.eof {
            return Ok(false);
        }
        // Keep only what is not consumed yet, so memory holds about one block (or one record).
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.valid -= self.pos;
            self.pos = 0;
        }
        // A value longer than what is buffered (a record of 50 MB) is parsed again from its
        // start after every fill: reading at least as much again as is held doubles the buffer
        // each time, so the reparsing adds up to twice the record, not its square.
        self.fills += 1;
        let had = self.buf.len();
        let want = BLOCK.max(had);
        self.buf.resize(had + want, 0);
        let mut read = 0;
        while read < want {
            match self.source.read(&mut self.buf[had + read..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => {
                    read += n;
                    // One block is enough for the common case: records of a few hundred bytes.
                    if had == 0 {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.buf.truncate(had);
                    return Err(self.error(self.line, format!("cannot read: {e}")));
                }
            }
        }
        self.buf.truncate(had + read);
        match std::str::from_utf8(&self.buf[self.valid..]) {
            Ok(_) => self.valid = self.buf.len(),
            // A character cut at the end of the block: the rest comes with the next one.
            Err(e) if e.error_len().is_none() && !self.eof => self.valid += e.valid_up_to(),
            Err(e) => {
                let at = self.valid + e.valid_up_to();
                let line = self.line + newlines(&self.buf[self.pos..at]);
                return Err(self.error(
                    line,
                    format!("not UTF-8 text (invalid byte 0x{:02x})", self.buf[at]),
                ));
            }
        }
        Ok(read > 0)
    }

    /// Move past `n` bytes of `buf`, keeping line and column.
    fn advance(&mut self, n: usize) {
        let passed = &self.buf[self.pos..self.pos + n];
        match passed.iter().rposition(|&b| b == b'\n') {
            Some(last) => {
                self.line += newlines(passed);
                self.column = n - last - 1;
            }
            None => self.column += n,
        }
        self.pos += n;
    }

    /// The next byte that is not white space, reading more input as needed.
    fn peek(&mut self) -> Result<Option<u8>> {
        loop {
            let blank = self.buf[self.pos..self.valid]
                .iter()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
            self.advance(blank);
            if self.pos < self.valid {
                return Ok(Some(self.buf[self.pos]));
            }
            if !self.fill()? && self.pos == self.valid {
                return Ok(None);
            }
        }
    }

    /// The next value and the line it starts on, `None` at the end of the input.
    fn next_value(&mut self) -> Result<Option<(usize, &str)>> {
        loop {
            let Some(next) = self.peek()? else {
                if self.array.is_some() {
                    return Err(self.error(
                        self.line,
                        "truncated JSON: the array that starts here never ends",
                    ));
                }
                return Ok(None);
            };
            if !self.started && next == 0xEF {
                // A UTF-8 byte order mark (Windows editors, PowerShell's redirections) says only
                // that the text is UTF-8: skipped, and not counted as a column.
                while self.valid - self.pos < BOM.len() && self.fill()? {}
                if self.buf[self.pos..self.valid].starts_with(BOM) {
                    self.advance(BOM.len());
                    self.column -= BOM.len();
                    self.started = true;
                    if self.peek()? == Some(b'[') {
                        self.array = Some(true);
                        self.advance(1);
                    }
                    continue;
                }
            }
            if !self.started {
                self.started = true;
                if next == b'[' {
                    self.array = Some(true);
                    self.advance(1);
                    continue;
                }
            }
            match (self.array, next) {
                (Some(_), b']') => {
                    self.advance(1);
                    self.array = None;
                    // After the array: white space only.
                    return match self.peek()? {
                        None => Ok(None),
                        Some(_) => Err(self.error(
                            self.line,
                            format!(
                                "not valid JSON: trailing characters after the array (column {})",
                                self.column + 1
                            ),
                        )),
                    };
                }
                (Some(false), b',') => {
                    self.advance(1);
                    self.array = Some(true);
                    continue;
                }
                (Some(false), _) => {
                    return Err(self.error(
                        self.line,
                        format!(
                            "not valid JSON: expected `,` or `]` (column {})",
                            self.column + 1
                        ),
                    ))
                }
                _ => {}
            }
            if let Some(range) = self.parse_one()? {
                let line = self.line;
                self.advance(range.end - self.pos);
                if self.array.is_some() {
                    self.array = Some(false);
                }
                let text = std::str::from_utf8(&self.buf[range])
                    .map_err(|_| self.error(line, "not UTF-8 text"))?;
                return Ok(Some((line, text)));
            }
        }
    }

    /// Parse the value at `pos`: its byte range in `buf`, or `None` when more input was read and
    /// the caller should look again.
    fn parse_one(&mut self) -> Result<Option<Range<usize>>> {
        enum Parsed {
            Value(Range<usize>),
            /// The value may go on in the next block.
            Cut,
            Truncated,
            Invalid(serde_json::Error),
        }
        let parsed = {
            let slice = &self.buf[self.pos..self.valid];
            let mut stream = serde_json::Deserializer::from_slice(slice).into_iter::<&RawValue>();
            let next = stream.next();
            let end = stream.byte_offset();
            match next {
                // A value that ends where the block ends may go on in the next one (a number).
                Some(Ok(_)) if end == slice.len() && !self.eof => Parsed::Cut,
                Some(Ok(value)) => {
                    let start = value.get().as_ptr() as usize - slice.as_ptr() as usize;
                    Parsed::Value(self.pos + start..self.pos + start + value.get().len())
                }
                Some(Err(e)) if e.is_eof() && !self.eof => Parsed::Cut,
                Some(Err(e)) if e.is_eof() => Parsed::Truncated,
                Some(Err(e)) => Parsed::Invalid(e),
                None => Parsed::Cut,
            }
        };
        match parsed {
            Parsed::Value(range) => Ok(Some(range)),
            Parsed::Cut => {
                self.fill()?;
                Ok(None)
            }
            Parsed::Truncated => Err(self.error(
                self.line,
                "truncated JSON: the record that starts here never ends",
            )),
            Parsed::Invalid(e) => {
                // serde_json counts from the start of the slice: its first line is ours.
                let line = self.line + e.line() - 1;
                let column = if e.line() == 1 {
                    self.column + e.column()
                } else {
                    e.column()
                };
                Err(self.error(
                    line,
                    format!("not valid JSON: {} (column {column})", strip_position(&e)),
                ))
            }
        }
    }
}

/// The UTF-8 byte order mark.
const BOM: &[u8] = b"\xEF\xBB\xBF";

fn newlines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

/// Where the records to pass on wait until the whole input is checked: one line each, in memory
/// up to [`SPOOL_MEMORY`], then in an unnamed temporary file that disappears with the process.
#[derive(Debug, Default)]
pub struct Spool {
    file: Option<std::fs::File>,
    /// Bytes in the file.
    in_file: u64,
    memory: Vec<u8>,
}

const SPOOL_MEMORY: usize = 1024 * 1024;

impl Spool {
    /// Add one record, on one line; where it is in the spool.
    fn push(&mut self, raw: &str) -> std::io::Result<Range<u64>> {
        let start = self.len();
        if raw.len() >= SPOOL_MEMORY && !raw.contains('\n') {
            // A long record goes to the file as it is, not through a copy in memory.
            use std::io::Write;
            let file = match &mut self.file {
                Some(file) => file,
                None => self.file.insert(tempfile::tempfile()?),
            };
            file.write_all(&self.memory)?;
            file.write_all(raw.as_bytes())?;
            file.write_all(b"\n")?;
            self.in_file += (self.memory.len() + raw.len() + 1) as u64;
            self.memory.clear();
            return Ok(start..self.len());
        }
        if raw.contains('\n') {
            one_line_into(raw, &mut self.memory);
        } else {
            self.memory.extend_from_slice(raw.as_bytes());
        }
        self.memory.push(b'\n');
        let end = self.len();
        if self.memory.len() >= SPOOL_MEMORY {
            use std::io::Write;
            let file = match &mut self.file {
                Some(file) => file,
                None => self.file.insert(tempfile::tempfile()?),
            };
            file.write_all(&self.memory)?;
            self.in_file += self.memory.len() as u64;
            self.memory.clear();
        }
        Ok(start..end)
    }

    fn len(&self) -> u64 {
        self.in_file + self.memory.len() as u64
    }

    /// Hand the lines in `range` to `write`, in blocks of whole lines.
    pub fn copy(
        &self,
        range: Range<u64>,
        mut write: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        let mut at = range.start;
        if at < self.in_file {
            use std::os::unix::fs::FileExt;
            let file = self
                .file
                .as_ref()
                .ok_or_else(|| Error::Output(std::io::Error::other("the spool file is missing")))?;
            let mut block = vec![0u8; BLOCK];
            let mut carried = 0usize;
            let until = range.end.min(self.in_file);
            while at < until {
                if carried == block.len() {
                    // One line longer than a block: grow.
                    block.resize(block.len() * 2, 0);
                }
                let want = usize::try_from(until - at)
                    .unwrap_or(usize::MAX)
                    .min(block.len() - carried);
                let read = file
                    .read_at(&mut block[carried..carried + want], at)
                    .map_err(Error::Output)?;
                if read == 0 {
                    return Err(Error::Output(std::io::Error::other(
                        "the spool file ended early",
                    )));
                }
                at += read as u64;
                let filled = carried + read;
                let whole = block[..filled]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |i| i + 1);
                if whole > 0 {
                    write(&block[..whole])?;
                }
                block.copy_within(whole..filled, 0);
                carried = filled - whole;
            }
            if carried > 0 {
                // Only when a range ends inside the file on a line that goes on in memory,
                // which ranges (whole lines) never do.
                write(&block[..carried])?;
            }
        }
        if at < range.end {
            let from = usize::try_from(at - self.in_file).unwrap_or(usize::MAX);
            let to = usize::try_from(range.end - self.in_file).unwrap_or(usize::MAX);
            write(&self.memory[from..to])?;
        }
        Ok(())
    }
}

/// Append a JSON text with the white space between its tokens removed, every token byte for
/// byte (a record that came pretty-printed over several lines goes out on one).
pub(crate) fn one_line_into(raw: &str, out: &mut Vec<u8>) {
    let mut in_string = false;
    let mut escaped = false;
    for &b in raw.as_bytes() {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
            out.push(b);
        } else if !b.is_ascii_whitespace() {
            out.push(b);
        }
    }
}

fn strip_position(e: &serde_json::Error) -> String {
    let message = e.to_string();
    message
        .rsplit_once(" at line ")
        .map_or(message.clone(), |(head, _)| head.to_string())
}

fn preview(raw: &str) -> String {
    let mut s: String = raw.chars().take(40).collect();
    if s.len() < raw.len() {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_and_services(text: &str) -> Vec<(usize, Service)> {
        Input::from_text("stdin", text)
            .unwrap()
            .records()
            .iter()
            .map(|r| (r.line, r.service))
            .collect()
    }

    fn error(text: &str) -> String {
        Input::from_text("stdin", text).unwrap_err().to_string()
    }

    const L: &str = r#"{"service":"lambda","action":"resolved","resource":"f"}"#;
    const E: &str = r#"{"service":"ecs","action":"resolved","resource":"c/s"}"#;

    #[test]
    fn a_byte_order_mark_at_the_start_is_skipped() {
        for text in [
            "\u{feff}{\"a\":1}\n{\"b\":2}\n",
            "\u{feff}[{\"a\":1},{\"b\":2}]",
        ] {
            let mut reader = Reader::new("stdin", text.as_bytes());
            let mut seen = Vec::new();
            while let Some((line, value)) = reader.next_value().unwrap() {
                seen.push((line, value.to_string()));
            }
            assert_eq!(
                seen,
                [
                    (1, "{\"a\":1}".to_string()),
                    (
                        if text.contains('[') { 1 } else { 2 },
                        "{\"b\":2}".to_string()
                    )
                ],
                "{text:?}"
            );
        }
        // Only at the start: elsewhere it is not JSON, and the message says where.
        let mut reader = Reader::new("stdin", "{\"a\":1}\n\u{feff}{}\n".as_bytes());
        assert!(reader.next_value().unwrap().is_some());
        assert!(reader.next_value().is_err());
    }

    #[test]
    fn reads_ndjson_with_blank_lines() {
        let text = format!("{L}\n\n{E}\n");
        assert_eq!(
            lines_and_services(&text),
            vec![(1, Service::Lambda), (3, Service::Ecs)]
        );
    }

    #[test]
    fn reads_pretty_printed_objects_one_after_another() {
        let text = "{\n  \"service\": \"lambda\",\n  \"action\": \"resolved\",\n  \"resource\": \"f\"\n}\n{\n  \"service\": \"s3\",\n  \"action\": \"resolved\",\n  \"resource\": \"b/k\"\n}\n";
        assert_eq!(
            lines_and_services(text),
            vec![(1, Service::Lambda), (6, Service::S3)]
        );
    }

    #[test]
    fn reads_a_json_array() {
        let text = format!("[\n{L},\n{E}\n]");
        assert_eq!(
            lines_and_services(&text),
            vec![(2, Service::Lambda), (3, Service::Ecs)]
        );
    }

    #[test]
    fn keeps_each_record_byte_for_byte() {
        let odd = r#"{ "resource" : "f",  "service":"lambda" ,"action":"resolved", "x": 1.50 }"#;
        let input = Input::from_text("stdin", &format!("{odd}\n")).unwrap();
        let records = input.records();
        assert_eq!(records[0].raw, odd);
    }

    #[test]
    fn empty_input_has_no_records() {
        let input = Input::from_text("stdin", " \n\n").unwrap();
        assert!(input.is_empty());
        assert!(input.records().is_empty());
    }

    #[test]
    fn names_the_line_of_broken_json() {
        let text = format!("{L}\n\n{{\"service\": ");
        let e = error(&text);
        assert!(e.starts_with("stdin:3: truncated JSON"), "{e}");
        let e = error(&format!("{L}\n{{\"service\": \n\n"));
        assert!(
            e.starts_with("stdin:2: truncated JSON"),
            "the line where it starts: {e}"
        );
        let e = error(&format!("{L}\nnot json\n"));
        assert!(e.starts_with("stdin:2: not valid JSON"), "{e}");
    }

    #[test]
    fn names_missing_fields_unknown_services_and_wrong_types() {
        let e = error(&format!(
            "{L}\n{{\"service\":\"lambda\",\"action\":\"resolved\"}}"
        ));
        assert_eq!(e, "stdin:2: record has no \"resource\"");
        let e = error(r#"{"service":"lamda","action":"resolved","resource":"f"}"#);
        assert!(e.starts_with("stdin:1: unknown service \"lamda\""), "{e}");
        let e = error(r#"{"service":"lambda","action":"moved","resource":"f"}"#);
        assert!(e.starts_with("stdin:1: unknown action \"moved\""), "{e}");
        let e = error(r#"{"service":7,"action":"resolved","resource":"f"}"#);
        assert!(
            e.starts_with("stdin:1: wrong type in record: invalid type: integer `7`"),
            "{e}"
        );
        let e = error("[1]");
        assert!(
            e.starts_with("stdin:1: a record must be a JSON object, found 1"),
            "{e}"
        );
    }

    #[test]
    fn refuses_invalid_utf8_naming_the_line() {
        let mut bytes = format!("{L}\n").into_bytes();
        bytes.extend_from_slice(b"{\"service\":\"\xff\"}\n");
        let e = Input::from_bytes("stdin", &bytes).unwrap_err().to_string();
        assert_eq!(e, "stdin:2: not UTF-8 text (invalid byte 0xff)");
    }

    /// A source that hands out a few bytes at a time, so every value is cut by a block boundary
    /// somewhere: at each position of a record, of a number, of a multi-byte character.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.1 = self.1 % 5 + 1;
            let n = self.1.min(self.0.len()).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn read_trickled(text: &str, keep: &[Service]) -> Result<Input> {
        Input::read("stdin", Trickle(text.as_bytes(), 0), Keep::Services(keep))
    }

    #[test]
    fn records_cut_across_blocks_read_the_same() {
        let inputs = [
            format!("{L}\n\n{E}\n"),
            "{\n  \"service\": \"lambda\",\n  \"action\": \"resolved\",\n  \"resource\": \"fé€😀\", \"n\": 123456789\n}\n{\"service\":\"s3\",\"action\":\"resolved\",\"resource\":\"b/k\"}".to_string(),
            format!("[\n{L},\n{E} , {L}\n]\n"),
        ];
        for text in &inputs {
            let whole = Input::from_text("stdin", text).unwrap();
            let cut = read_trickled(text, &Service::ALL).unwrap();
            let a: Vec<(usize, &str)> = whole.records().iter().map(|r| (r.line, r.raw)).collect();
            let b: Vec<(usize, &str)> = cut.records().iter().map(|r| (r.line, r.raw)).collect();
            assert_eq!(a, b, "{text}");
        }
        for bad in [
            format!("{L}\n{{\"service\": \n\n"),
            format!("{L}\nnot json\n"),
            format!("[{L}\n{L}]"),
            format!("[{L},\n"),
            format!("[{L}] x"),
        ] {
            let whole = Input::from_text("stdin", &bad).unwrap_err().to_string();
            let cut = read_trickled(&bad, &Service::ALL).unwrap_err().to_string();
            assert_eq!(whole, cut, "{bad}");
            assert!(whole.starts_with("stdin:"), "{whole}");
        }
        let mut bytes = format!("{L}\n{L}\n").into_bytes();
        bytes.extend_from_slice(b"{\"service\":\"\xe2\x82\"}\n");
        let e = Input::read("stdin", Trickle(&bytes, 0), Keep::All)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "stdin:3: not UTF-8 text (invalid byte 0xe2)");
    }

    #[test]
    fn other_services_are_spooled_and_pass_on_byte_for_byte_in_their_place() {
        // Enough foreign records to spill the spool to its file several times, around records
        // of the tool's own service; one foreign record pretty-printed (it goes out on one line).
        let foreign = |i: usize| {
            format!(
                r#"{{"service":"ecs","action":"resolved","resource":"c/s{i}","artifact":{{"n": {i}}}}}"#
            )
        };
        let mut text = String::new();
        let mut expected = Vec::new();
        for i in 0..40_000 {
            let line = if i == 5 {
                "{\n \"service\": \"s3\",\n \"action\": \"resolved\", \"resource\": \"b/k\"\n}"
                    .to_string()
            } else if i == 7 {
                // Longer than the spool's memory: straight to its file.
                format!(
                    r#"{{"service":"ecs","action":"resolved","resource":"big","note":"{}"}}"#,
                    "y".repeat(2 * SPOOL_MEMORY)
                )
            } else {
                foreign(i)
            };
            text.push_str(&line);
            text.push('\n');
            expected.push(if i == 5 {
                r#"{"service":"s3","action":"resolved","resource":"b/k"}"#.to_string()
            } else {
                line
            });
            if i % 10_000 == 9_999 {
                text.push_str(L);
                text.push('\n');
                // Lines before: i + 1 records, 3 more for the pretty one, one per earlier own.
                expected.push(format!("OWN {}", i + 1 + 3 + i / 10_000 + 1));
            }
        }
        let input =
            Input::read("stdin", text.as_bytes(), Keep::Services(&[Service::Lambda])).unwrap();
        assert!(input.spool.file.is_some(), "spilled to a file");
        assert!(
            input.kept.len() < 1000,
            "only the tool's own records are kept"
        );
        let mut out = Vec::new();
        for item in input.items(&[Service::Lambda]) {
            match item {
                Item::Own(record) => {
                    assert_eq!(record.raw, L);
                    out.push(format!("OWN {}", record.line));
                }
                Item::Pass(Passage::Spooled(spool, range)) => {
                    let mut bytes = Vec::new();
                    spool
                        .copy(range, |block| {
                            assert!(block.ends_with(b"\n"), "whole lines at a time");
                            bytes.extend_from_slice(block);
                            Ok(())
                        })
                        .unwrap();
                    out.extend(String::from_utf8(bytes).unwrap().lines().map(String::from));
                }
                Item::Pass(Passage::Text(_)) => panic!("nothing else is kept"),
            }
        }
        let own = |lines: &[String]| -> Vec<String> {
            lines
                .iter()
                .filter(|l| l.starts_with("OWN"))
                .cloned()
                .collect()
        };
        assert_eq!(own(&out), own(&expected));
        assert_eq!(out.len(), expected.len());
        let first_difference = out.iter().zip(&expected).position(|(a, b)| a != b);
        assert_eq!(first_difference, None);
    }

    #[test]
    fn one_line_keeps_white_space_inside_strings() {
        let mut out = Vec::new();
        one_line_into("{\n \"a\" : \"x \\\" y\",\n \"b\": [1, 2]\n}", &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a":"x \" y","b":[1,2]}"#
        );
    }

    #[test]
    fn every_record_has_its_core_field_types_checked() {
        // Whichever tool the record is for: every tool refuses it.
        for bad in [
            r#"{"service":"ecs","action":"resolved","resource":"f","env":3}"#,
            r#"{"service":"ecs","action":"resolved","resource":"f","pointer":["p"]}"#,
            r#"{"service":"ecs","action":"resolved","resource":"f","artifact":"7"}"#,
            r#"{"service":"ecs","action":"resolved","resource":"f","previous":7}"#,
        ] {
            let e = Input::from_text("stdin", bad).unwrap_err().to_string();
            assert!(e.starts_with("stdin:1: wrong type in record"), "{bad}: {e}");
        }
        let fine = r#"{"service":"ecs","action":"resolved","resource":"f","env":null,"artifact":null,"previous":{}}"#;
        assert!(Input::from_text("stdin", fine).is_ok());
    }

    /// A reader that counts how many bytes the parser was handed in all: the measure of how
    /// often a long record is parsed again.
    struct Counting<'a> {
        bytes: &'a [u8],
        reads: usize,
    }

    impl Read for Counting<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            // A pipe gives at most 64 KiB at a time.
            let n = buf.len().min(self.bytes.len()).min(65_536);
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            self.reads += 1;
            Ok(n)
        }
    }

    #[test]
    fn a_long_record_is_read_in_few_growing_blocks() {
        // 8 MB in one record: with a fixed block it was parsed again after each of 128 blocks
        // (quadratic); with a buffer that doubles, a handful of times.
        let big = "x".repeat(8 * 1024 * 1024);
        let text = format!(
            "{{\"service\":\"lambda\",\"action\":\"resolved\",\"resource\":\"f\",\"blob\":\"{big}\"}}\n{L}\n"
        );
        let mut reader = Reader::new(
            "stdin",
            Counting {
                bytes: text.as_bytes(),
                reads: 0,
            },
        );
        let mut values = Vec::new();
        while let Some((line, raw)) = reader.next_value().unwrap() {
            values.push((line, raw.len()));
        }
        assert_eq!(values.len(), 2);
        assert_eq!(values[0].1, text.lines().next().unwrap().len());
        assert_eq!(values[1].0, 2);
        // Every read fills what was asked (a pipe's 64 KiB at a time), but the buffer grows
        // geometrically: about log2(8 MiB / 64 KiB) = 7 fills, not 128.
        let reads = reader.source.reads;
        assert!(reads >= 128, "the data came 64 KiB at a time: {reads}");
        assert!(
            reader.fills <= 12,
            "the record was parsed again after {} fills",
            reader.fills
        );
    }

    #[test]
    fn error_records_are_noted_and_passed_on() {
        let text = format!(
            "{L}\n{}\n",
            r#"{"service":"lambda","action":"error","resource":"g","env":"staging","pointer":"staging","message":"no alias","exit_code":4}"#
        );
        let input = Input::from_text("stdin", &text).unwrap();
        assert_eq!(input.failures().len(), 1);
        let failure = &input.failures()[0];
        assert_eq!(failure.line, 2);
        assert_eq!(failure.to_string(), "lambda g staging (staging): no alias");
        let own = input
            .items(&[Service::Lambda])
            .filter(|i| matches!(i, Item::Own(_)))
            .count();
        assert_eq!(own, 1, "an error record is never work");
    }
}
