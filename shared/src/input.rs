//! Reading records. Tools accept NDJSON, pretty-printed objects one after another, or one JSON
//! array (what `jq` and `jq -s` print). The whole input is read and checked before a tool makes
//! its first change, so a bad line 900 cannot leave lines 1..899 half applied.
//!
//! Each record is kept as the exact text it came in: a record for another service is written out
//! byte for byte, without being rebuilt from a parsed value.

use crate::error::{Error, Result};
use crate::record::{Action, Record, Service};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::io::Read;

/// All of a tool's input, read once. Records borrow their text from it.
#[derive(Debug)]
pub struct Input {
    origin: String,
    text: String,
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
    /// Read all of stdin. An unreadable or non-UTF-8 stream is bad input (exit 2).
    pub fn from_stdin() -> Result<Input> {
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .map_err(|e| Error::bad_input("stdin", format!("cannot read: {e}")))?;
        Input::from_bytes("stdin", bytes)
    }

    /// Input from bytes (a file, a test). `origin` names it in messages.
    pub fn from_bytes(origin: &str, bytes: Vec<u8>) -> Result<Input> {
        let text = String::from_utf8(bytes).map_err(|e| {
            let at = e.utf8_error().valid_up_to();
            let bytes = e.as_bytes();
            let line = 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count();
            Error::bad_input(
                format!("{origin}:{line}"),
                format!("not UTF-8 text (invalid byte 0x{:02x})", bytes[at]),
            )
        })?;
        Ok(Input {
            origin: origin.to_string(),
            text,
        })
    }

    /// Input from text.
    #[must_use]
    pub fn from_text(origin: &str, text: impl Into<String>) -> Input {
        Input {
            origin: origin.to_string(),
            text: text.into(),
        }
    }

    /// True when the input holds nothing but white space.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.text.trim().is_empty()
    }

    /// Split the input into records and check each one's header. The first problem found is
    /// returned, naming its line.
    pub fn records(&self) -> Result<Vec<InputRecord<'_>>> {
        let text = self.text.as_str();
        let values = self.values()?;
        let mut lines = LineCounter::new(text);
        values
            .into_iter()
            .map(|raw| {
                let raw = raw.get();
                // `raw` is a slice of `text`: its offset gives the line it starts on.
                let offset = raw.as_ptr() as usize - text.as_ptr() as usize;
                let line = lines.line_at(offset);
                self.check(line, raw)
            })
            .collect()
    }

    fn values(&self) -> Result<Vec<&RawValue>> {
        let text = self.text.as_str();
        if text.trim_start().starts_with('[') {
            return serde_json::from_str::<Vec<&RawValue>>(text)
                .map_err(|e| self.json_error(&e, 0));
        }
        let mut stream = serde_json::Deserializer::from_str(text).into_iter::<&RawValue>();
        let mut values = Vec::new();
        loop {
            let start = stream.byte_offset();
            match stream.next() {
                None => return Ok(values),
                Some(Ok(value)) => values.push(value),
                Some(Err(e)) => return Err(self.json_error(&e, start)),
            }
        }
    }

    /// A parse error, at the line serde_json names; a truncated record is reported at the line
    /// where it starts (`start`: where the unfinished value may begin), not at the end of input.
    fn json_error(&self, e: &serde_json::Error, start: usize) -> Error {
        if e.is_eof() {
            let text = &self.text[start..];
            let begins = start + (text.len() - text.trim_start().len());
            let line = 1 + self.text[..begins].matches('\n').count();
            return Error::bad_input(
                format!("{}:{line}", self.origin),
                "truncated JSON: the record that starts here never ends",
            );
        }
        // serde_json's message ends with its own "at line L column C"; the line is in the origin.
        let message = strip_position(e);
        Error::bad_input(
            format!("{}:{}", self.origin, e.line()),
            format!("not valid JSON: {message} (column {})", e.column()),
        )
    }

    fn check<'a>(&self, line: usize, raw: &'a str) -> Result<InputRecord<'a>> {
        let at = |message: String| Error::bad_input(format!("{}:{line}", self.origin), message);
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
        Ok(InputRecord {
            line,
            raw,
            service,
            action,
        })
    }

    /// The origin's name for messages (`stdin`).
    #[must_use]
    pub fn origin(&self) -> &str {
        &self.origin
    }
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

/// Turns byte offsets into line numbers, for offsets that only grow.
struct LineCounter<'a> {
    text: &'a [u8],
    offset: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        LineCounter {
            text: text.as_bytes(),
            offset: 0,
            line: 1,
        }
    }

    fn line_at(&mut self, offset: usize) -> usize {
        if offset < self.offset {
            // Offsets only grow in practice; start again rather than answer wrongly.
            self.offset = 0;
            self.line = 1;
        }
        self.line += self.text[self.offset..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.offset = offset;
        self.line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_and_services(text: &str) -> Vec<(usize, Service)> {
        Input::from_text("stdin", text)
            .records()
            .unwrap()
            .iter()
            .map(|r| (r.line, r.service))
            .collect()
    }

    fn error(text: &str) -> String {
        Input::from_text("stdin", text)
            .records()
            .unwrap_err()
            .to_string()
    }

    const L: &str = r#"{"service":"lambda","action":"resolved","resource":"f"}"#;
    const E: &str = r#"{"service":"ecs","action":"resolved","resource":"c/s"}"#;

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
        let input = Input::from_text("stdin", format!("{odd}\n"));
        let records = input.records().unwrap();
        assert_eq!(records[0].raw, odd);
    }

    #[test]
    fn empty_input_has_no_records() {
        let input = Input::from_text("stdin", " \n\n");
        assert!(input.is_empty());
        assert!(input.records().unwrap().is_empty());
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
        let e = Input::from_bytes("stdin", bytes).unwrap_err().to_string();
        assert_eq!(e, "stdin:2: not UTF-8 text (invalid byte 0xff)");
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
            let e = Input::from_text("stdin", bad)
                .records()
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("stdin:1: wrong type in record"), "{bad}: {e}");
        }
        let fine = r#"{"service":"ecs","action":"resolved","resource":"f","env":null,"artifact":null,"previous":{}}"#;
        assert!(Input::from_text("stdin", fine).records().is_ok());
    }
}
