//! The promotion order, on every path: a pointer in an environment moves only to what the
//! environment immediately before it (in promote.toml's `[envs] order`) holds, and a new artifact
//! enters only the first environment. One rule and one message shape for every tool; `--force`
//! passes a refusal, and the records of what it then changed say so (`"forced": true`).
//! `rollback` is exempt: it restores what a pointer held, wherever that came from.
//!
//! Pure: plain values in, a refusal or a verdict out.

use crate::config::Project;
use crate::error::{Error, Result};

/// What the order says about one move: allowed, or allowed only because of `--force`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[must_use]
pub struct Verdict {
    /// The order would have refused; `--force` let it through (the records show it).
    pub forced: bool,
}

impl Verdict {
    /// Allowed by the order.
    pub const ALLOWED: Verdict = Verdict { forced: false };

    /// Both moves together: forced when either was.
    pub fn and(self, other: Verdict) -> Verdict {
        Verdict {
            forced: self.forced || other.forced,
        }
    }
}

/// The order of environments, when promote.toml gives one.
#[derive(Debug, Clone, Copy)]
pub struct Order<'a> {
    envs: &'a [String],
    force: bool,
}

impl<'a> Order<'a> {
    /// The order of `project` (none without promote.toml or with an empty `order`); `force`
    /// is `--force`.
    #[must_use]
    pub fn of(project: Option<&'a Project>, force: bool) -> Order<'a> {
        Order {
            envs: project.map_or(&[], |p| p.order.as_slice()),
            force,
        }
    }

    /// An order of these environments (tests, and tools that build one themselves).
    #[must_use]
    pub fn new(envs: &'a [String], force: bool) -> Order<'a> {
        Order { envs, force }
    }

    /// Whether there is an order to hold to.
    #[must_use]
    pub fn is_known(&self) -> bool {
        !self.envs.is_empty()
    }

    /// The environment immediately before `env`; `None` for the first one, or without an order.
    /// An environment not in the order is a usage error.
    pub fn before(&self, env: &str) -> Result<Option<&'a str>> {
        if !self.is_known() {
            return Ok(None);
        }
        let position = self.position(env)?;
        Ok(position.checked_sub(1).map(|i| self.envs[i].as_str()))
    }

    /// The first environment: the only one a new artifact goes into.
    #[must_use]
    pub fn first(&self) -> Option<&'a str> {
        self.envs.first().map(String::as_str)
    }

    fn position(&self, env: &str) -> Result<usize> {
        self.envs.iter().position(|e| e == env).ok_or_else(|| {
            Error::usage(format!(
                "environment {env:?} is not in promote.toml's [envs] order ({})",
                self.envs.join(", ")
            ))
        })
    }

    fn shown(&self) -> String {
        self.envs.join(" → ")
    }

    /// The one refusal every tool gives: which pointer, which environment it takes from, and
    /// what holds what. With `--force` the move goes ahead, marked.
    fn refuse(&self, subject: &str, detail: &str) -> Result<Verdict> {
        if self.force {
            tracing::warn!("{subject}: {detail}; going ahead because of --force");
            return Ok(Verdict { forced: true });
        }
        Err(Error::precondition(format!(
            "{subject}: {detail} (promote.toml's order: {}); nothing changed (pass --force to do it anyway)",
            self.shown()
        )))
    }

    /// `--from FROM --to TO`: FROM must be the environment immediately before TO.
    pub fn check_from(&self, subject: &str, from: &str, to: &str) -> Result<Verdict> {
        if !self.is_known() {
            return Ok(Verdict::ALLOWED);
        }
        self.position(from)?;
        match self.before(to)? {
            Some(before) if before == from => Ok(Verdict::ALLOWED),
            Some(before) => self.refuse(
                subject,
                &format!("{to} takes what {before} holds, not what {from} holds"),
            ),
            None => self.refuse(
                subject,
                &format!(
                    "{to} is the first environment: it takes new artifacts, not what {from} holds"
                ),
            ),
        }
    }

    /// The environment a promotion into `to` reads live state from: `--from` (which must be the
    /// one just before `to`), else that one. Without either, a usage error saying to pass
    /// `--from ENV`, or what `alternative` names (lambda's " or --version N").
    pub fn source_env(
        &self,
        from: Option<&str>,
        to: &str,
        alternative: &str,
    ) -> Result<(String, Verdict)> {
        let subject = format!("promote --to {to}");
        match (from, self.before(to)?) {
            (Some(from), _) => Ok((from.to_string(), self.check_from(&subject, from, to)?)),
            (None, Some(before)) => Ok((before.to_string(), Verdict::ALLOWED)),
            (None, None) if self.is_known() => Err(Error::usage(format!(
                "{to} is the first environment in promote.toml's order: nothing comes before it; \
                 pass --from ENV{alternative}"
            ))),
            (None, None) => Err(Error::usage(format!(
                "pass --from ENV{alternative} (there is no promote.toml order to say which \
                 environment comes before {to})"
            ))),
        }
    }

    /// A record of environment `from` (None: the record names none) promoted into `to`.
    pub fn check_record(&self, subject: &str, from: Option<&str>, to: &str) -> Result<Verdict> {
        match from {
            Some(from) => self.check_from(subject, from, to),
            None => Ok(Verdict::ALLOWED),
        }
    }

    /// An artifact named on the command line (a version, a deployment) moved into `to`: it must
    /// be what the environment before `to` holds. `held` says whether it is, and `holds`
    /// describes what that environment holds, for the message. Call only when
    /// [`Order::before`] is `Some`.
    pub fn check_held(
        &self,
        subject: &str,
        artifact: &str,
        to: &str,
        before: &str,
        held: bool,
        holds: &str,
    ) -> Result<Verdict> {
        if held {
            return Ok(Verdict::ALLOWED);
        }
        self.refuse(
            subject,
            &format!("{artifact} is not what {before} holds ({holds}), and {to} takes only that"),
        )
    }

    /// A new artifact (publish, deploy) made straight into `env`: only the first environment
    /// takes one; the others get theirs by promotion.
    pub fn check_new(&self, subject: &str, env: &str) -> Result<Verdict> {
        match self.before(env)? {
            None => Ok(Verdict::ALLOWED),
            Some(before) => self.refuse(
                subject,
                &format!(
                    "a new artifact goes into {} only; {env} takes what {before} holds, by promotion",
                    self.first().unwrap_or(before)
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envs() -> Vec<String> {
        ["dev", "staging", "prod"].map(String::from).to_vec()
    }

    #[test]
    fn from_must_be_the_environment_just_before() {
        let envs = envs();
        let order = Order::new(&envs, false);
        assert_eq!(
            order.check_from("f", "staging", "prod").unwrap(),
            Verdict::ALLOWED
        );
        let skip = order.check_from("f", "dev", "prod").unwrap_err();
        assert_eq!(skip.exit_code().code(), 4);
        let text = skip.to_string();
        assert!(
            text.contains("prod takes what staging holds, not what dev holds"),
            "{text}"
        );
        assert!(text.contains("dev → staging → prod"), "{text}");
        assert!(text.contains("--force"), "{text}");
        let backwards = order.check_from("f", "prod", "staging").unwrap_err();
        assert!(
            backwards
                .to_string()
                .contains("staging takes what dev holds"),
            "{backwards}"
        );
        let first = order.check_from("f", "staging", "dev").unwrap_err();
        assert!(first.to_string().contains("first environment"), "{first}");
        let unknown = order.check_from("f", "qa", "prod").unwrap_err();
        assert_eq!(unknown.exit_code().code(), 2);
    }

    #[test]
    fn force_lets_a_refusal_through_and_says_so() {
        let envs = envs();
        let order = Order::new(&envs, true);
        assert_eq!(
            order.check_from("f", "dev", "prod").unwrap(),
            Verdict { forced: true }
        );
        assert_eq!(
            order.check_from("f", "staging", "prod").unwrap(),
            Verdict::ALLOWED,
            "a move the order allows is not marked forced"
        );
    }

    #[test]
    fn the_source_environment_is_from_or_the_one_before() {
        let envs = envs();
        let order = Order::new(&envs, false);
        assert_eq!(
            order.source_env(None, "prod", "").unwrap(),
            ("staging".to_string(), Verdict::ALLOWED)
        );
        assert_eq!(
            order.source_env(Some("staging"), "prod", "").unwrap().0,
            "staging"
        );
        assert_eq!(
            order
                .source_env(Some("dev"), "prod", "")
                .unwrap_err()
                .exit_code()
                .code(),
            4
        );
        let first = order
            .source_env(None, "dev", " or --version N")
            .unwrap_err();
        assert_eq!(first.exit_code().code(), 2);
        assert!(
            first.to_string().contains("pass --from ENV or --version N"),
            "{first}"
        );
        let none = Order::new(&[], false)
            .source_env(None, "prod", "")
            .unwrap_err();
        assert!(none.to_string().contains("no promote.toml order"), "{none}");
        assert_eq!(
            Order::new(&[], false)
                .source_env(Some("x"), "prod", "")
                .unwrap()
                .0,
            "x"
        );
    }

    #[test]
    fn no_order_allows_everything() {
        let order = Order::new(&[], false);
        assert!(!order.is_known());
        assert_eq!(order.before("prod").unwrap(), None);
        assert_eq!(
            order.check_from("f", "dev", "prod").unwrap(),
            Verdict::ALLOWED
        );
        assert_eq!(order.check_new("f", "prod").unwrap(), Verdict::ALLOWED);
    }

    #[test]
    fn new_artifacts_enter_the_first_environment_only() {
        let envs = envs();
        let order = Order::new(&envs, false);
        assert_eq!(order.check_new("f", "dev").unwrap(), Verdict::ALLOWED);
        let e = order.check_new("f", "prod").unwrap_err();
        assert_eq!(e.exit_code().code(), 4);
        assert!(e.to_string().contains("goes into dev only"), "{e}");
    }

    #[test]
    fn a_named_artifact_must_be_what_the_environment_before_holds() {
        let envs = envs();
        let order = Order::new(&envs, false);
        assert_eq!(
            order
                .check_held(
                    "f alias prod",
                    "version 7",
                    "prod",
                    "staging",
                    true,
                    "version 7"
                )
                .unwrap(),
            Verdict::ALLOWED
        );
        let e = order
            .check_held(
                "f alias prod",
                "version 8",
                "prod",
                "staging",
                false,
                "version 7",
            )
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("version 8 is not what staging holds (version 7)"),
            "{e}"
        );
    }

    #[test]
    fn records_from_the_wrong_environment_are_refused() {
        let envs = envs();
        let order = Order::new(&envs, false);
        assert!(order.check_record("f", Some("staging"), "prod").is_ok());
        assert!(order.check_record("f", None, "prod").is_ok());
        assert!(order.check_record("f", Some("dev"), "prod").is_err());
    }
}
