//! Where a promoting command's work comes from, decided once for every tool. Live state (what
//! an environment holds now) is promoted only when the command line asks for it: names on it,
//! `--from ENV`, or no input at all (stdin a terminal or the null device). When stdin is a pipe
//! or a file its records are the work, and no record is never "everything".
//!
//! Pure: what the command line and stdin hold in, the decision out.

use crate::error::{Error, Result};
use crate::input::Input;
use crate::record::Service;

/// What stdin holds, for this decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stdin {
    /// Nobody is piping anything in: a terminal, the null device, or no stdin at all.
    Absent,
    /// A pipe or a file with no record in it (a filter that matched nothing, a failed upstream).
    Empty,
    /// Records, none of them this tool's (they are passed on).
    OthersOnly,
    /// Records, some of them this tool's.
    Own,
}

impl Stdin {
    /// What `input` (None: no input given) holds for a tool of `services`.
    #[must_use]
    pub fn of(input: Option<&Input>, services: &[Service]) -> Stdin {
        match input {
            None => Stdin::Absent,
            Some(input) if input.has_own(services) => Stdin::Own,
            Some(input) if input.is_empty() => Stdin::Empty,
            Some(_) => Stdin::OthersOnly,
        }
    }
}

/// What the command line asks for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Asked {
    /// Resources named on the command line.
    pub names: bool,
    /// An explicit source of live state: `--from ENV` (or what a tool treats alike, such as a
    /// version named with `--version`).
    pub live: bool,
}

/// Where the work comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The resources named on the command line.
    Names,
    /// The tool's records on stdin (the others are passed on in their place).
    Records,
    /// What promote.toml lists, as the source environment holds it now.
    Live,
    /// Records on stdin, none of them this tool's: nothing to do, the records passed on.
    Nothing,
}

/// Decide where the work comes from. No record on a pipe is a usage error (exit 2), unless the
/// command line asks for live state itself.
pub fn decide(tool: &str, asked: Asked, stdin: Stdin) -> Result<Source> {
    if asked.names {
        return Ok(Source::Names);
    }
    match stdin {
        Stdin::Own => Ok(Source::Records),
        Stdin::OthersOnly => Ok(Source::Nothing),
        Stdin::Absent => Ok(Source::Live),
        Stdin::Empty if asked.live => Ok(Source::Live),
        Stdin::Empty => Err(Error::usage(format!(
            "no records on stdin; pass --from ENV to promote what ENV holds now \
             (stdin is a pipe or a file, so {tool} takes its records as the work, and there were none)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: Asked = Asked {
        names: true,
        live: false,
    };
    const FROM: Asked = Asked {
        names: false,
        live: true,
    };
    const NOTHING: Asked = Asked {
        names: false,
        live: false,
    };

    #[test]
    fn names_on_the_command_line_win() {
        for stdin in [Stdin::Absent, Stdin::Empty, Stdin::OthersOnly, Stdin::Own] {
            assert_eq!(decide("t", NAMES, stdin).unwrap(), Source::Names);
        }
    }

    #[test]
    fn an_empty_pipe_is_not_everything() {
        let e = decide("t", NOTHING, Stdin::Empty).unwrap_err();
        assert_eq!(e.exit_code().code(), 2);
        assert!(
            e.to_string()
                .starts_with("no records on stdin; pass --from ENV"),
            "{e}"
        );
        assert_eq!(decide("t", FROM, Stdin::Empty).unwrap(), Source::Live);
    }

    #[test]
    fn records_are_the_work_whatever_else_is_asked() {
        assert_eq!(decide("t", NOTHING, Stdin::Own).unwrap(), Source::Records);
        assert_eq!(decide("t", FROM, Stdin::Own).unwrap(), Source::Records);
        assert_eq!(
            decide("t", FROM, Stdin::OthersOnly).unwrap(),
            Source::Nothing
        );
        assert_eq!(
            decide("t", NOTHING, Stdin::OthersOnly).unwrap(),
            Source::Nothing
        );
    }

    #[test]
    fn no_input_at_all_means_live_state() {
        assert_eq!(decide("t", NOTHING, Stdin::Absent).unwrap(), Source::Live);
    }

    #[test]
    fn what_stdin_holds() {
        let records = Input::from_text(
            "stdin",
            r#"{"service":"ecs","action":"resolved","resource":"c/s"}"#,
        )
        .unwrap();
        assert_eq!(
            Stdin::of(Some(&records), &[Service::Lambda]),
            Stdin::OthersOnly
        );
        assert_eq!(Stdin::of(Some(&records), &[Service::Ecs]), Stdin::Own);
        let empty = Input::from_text("stdin", "").unwrap();
        assert_eq!(Stdin::of(Some(&empty), &[Service::Ecs]), Stdin::Empty);
        assert_eq!(Stdin::of(None, &[Service::Ecs]), Stdin::Absent);
        let failed = Input::from_text(
            "stdin",
            r#"{"service":"ecs","action":"error","resource":"c/s","message":"gone","exit_code":4}"#,
        )
        .unwrap();
        assert_eq!(
            Stdin::of(Some(&failed), &[Service::Ecs]),
            Stdin::OthersOnly,
            "an error record is never work"
        );
    }
}
