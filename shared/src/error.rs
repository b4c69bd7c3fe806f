//! Every tool fails the same way: a typed error that knows its exit code, with a message that says
//! what was being done, to what, and what to do next. Exit codes are part of the contract (README).

use std::fmt;

/// The exit codes every tool shares. In a batch the run ends with the worst (highest) code seen,
/// so a script can tell "a precondition refused" (4) from "AWS kept failing" (3) from "drift" (1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum ExitCode {
    /// Everything asked for was done (or already so).
    #[default]
    Success = 0,
    /// A check found a difference (cfg-diff, verify-style commands).
    Drift = 1,
    /// Usage or bad input: nothing was changed.
    Usage = 2,
    /// An AWS error that persisted after retries (or the records could not be written).
    Aws = 3,
    /// A precondition failed: a pointer is not where the caller said it was, or the chain refuses.
    Precondition = 4,
    /// Interrupted (SIGINT or SIGTERM): changes in flight finished and were written, no new one
    /// was started. 128 + SIGINT, as shells report it.
    Interrupted = 130,
}

impl ExitCode {
    /// The numeric code handed to the operating system.
    #[must_use]
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The worse of two outcomes: the one a batch reports at its end.
    #[must_use]
    pub fn worst(self, other: ExitCode) -> ExitCode {
        self.max(other)
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code.code())
    }
}

/// A failure a user can act on. Each variant maps to one exit code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line asks for something that cannot be done as written.
    #[error("{0}")]
    Usage(String),

    /// Input (records on stdin, promote.toml) is malformed. `origin` names the place: `stdin:3`,
    /// `promote.toml:12`, so the user can go straight to it.
    #[error("{origin}: {message}")]
    BadInput { origin: String, message: String },

    /// An AWS call failed after the SDK's retries. `doing` says what was being done, to what.
    #[error("{doing}: {message}")]
    Aws { doing: String, message: String },

    /// A pointer is not where the caller (or the record) said it was, or the promotion chain refuses.
    /// Nothing was changed for that resource.
    #[error("{0}")]
    Precondition(String),

    /// The records could not be written to stdout for a reason other than a closed pipe.
    #[error("cannot write records to stdout: {0}")]
    Output(std::io::Error),

    /// The reader of stdout went away (`| head -1`). Not a failure: the tool stops quietly with 0.
    #[error("stdout was closed")]
    BrokenPipe,

    /// stdout was closed while the run was changing things: no new change started, and the
    /// records of the changes that could not be delivered went to stderr.
    #[error("stdout was closed: {0}")]
    Undelivered(String),

    /// A tool upstream in the pipe failed (an `error` record came in): nothing was changed.
    #[error("{0}")]
    Upstream(String),

    /// A signal asked the run to stop: what was in flight finished; this says what was not started.
    #[error("interrupted: {0}")]
    Interrupted(String),
}

impl Error {
    /// The exit code this error ends the run with.
    #[must_use]
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Usage(_) | Error::BadInput { .. } => ExitCode::Usage,
            Error::Aws { .. } | Error::Output(_) | Error::Undelivered(_) | Error::Upstream(_) => {
                ExitCode::Aws
            }
            Error::Precondition(_) => ExitCode::Precondition,
            Error::BrokenPipe => ExitCode::Success,
            Error::Interrupted(_) => ExitCode::Interrupted,
        }
    }

    /// Shorthand for a bad-input error at a named place.
    pub fn bad_input(origin: impl fmt::Display, message: impl Into<String>) -> Self {
        Error::BadInput {
            origin: origin.to_string(),
            message: message.into(),
        }
    }

    /// Shorthand for a usage error.
    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage(message.into())
    }

    /// Shorthand for a precondition refusal.
    pub fn precondition(message: impl Into<String>) -> Self {
        Error::Precondition(message.into())
    }
}

/// The result type of every fallible operation in the tools.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_is_the_highest_code() {
        assert_eq!(
            ExitCode::Success.worst(ExitCode::Aws),
            ExitCode::Aws,
            "an AWS failure outranks success"
        );
        assert_eq!(
            ExitCode::Aws.worst(ExitCode::Precondition),
            ExitCode::Precondition
        );
        assert_eq!(ExitCode::Drift.worst(ExitCode::Success), ExitCode::Drift);
    }

    #[test]
    fn errors_carry_their_exit_codes() {
        assert_eq!(Error::usage("x").exit_code().code(), 2);
        assert_eq!(Error::bad_input("stdin:1", "x").exit_code().code(), 2);
        assert_eq!(
            Error::Aws {
                doing: "a".into(),
                message: "b".into()
            }
            .exit_code()
            .code(),
            3
        );
        assert_eq!(Error::precondition("x").exit_code().code(), 4);
        assert_eq!(Error::BrokenPipe.exit_code().code(), 0);
    }

    #[test]
    fn bad_input_names_its_origin() {
        let e = Error::bad_input("stdin:3", "record has no `resource`");
        assert_eq!(e.to_string(), "stdin:3: record has no `resource`");
    }
}
