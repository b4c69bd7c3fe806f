//! The decisions of a weighted alias, pure: Lambda's aliases and Step Functions' aliases are the
//! same pointer (one published version, or two with traffic split by weight), so what a
//! promotion, a canary step and a rollback do to one is decided here once, for both tools. Plain
//! values in, a decision or a refusal out; no AWS types and no calls.

use crate::error::{Error, Result};
use crate::record::Action;
use std::collections::BTreeMap;

/// Where an alias routes traffic: its version and a canary's weights. What a pointer "holds".
#[derive(Debug, Clone, PartialEq)]
pub struct Routing {
    pub version: String,
    /// The canary versions and their share of the traffic, 0..1.
    pub weights: BTreeMap<String, f64>,
}

impl Routing {
    #[must_use]
    pub fn plain(version: &str) -> Routing {
        Routing {
            version: version.to_string(),
            weights: BTreeMap::new(),
        }
    }

    /// The version a canary sends traffic to, and its share in percent, when there is exactly
    /// one.
    #[must_use]
    pub fn canary(&self) -> Option<(&str, f64)> {
        let mut canaries = self.weights.iter();
        match (canaries.next(), canaries.next()) {
            (Some((version, weight)), None) => Some((version.as_str(), weight * 100.0)),
            _ => None,
        }
    }

    fn describe(&self) -> String {
        if self.weights.is_empty() {
            format!("version {}", self.version)
        } else {
            let canary: Vec<String> = self
                .weights
                .iter()
                .map(|(v, w)| format!("{}% to version {v}", w * 100.0))
                .collect();
            format!(
                "version {} with a canary ({})",
                self.version,
                canary.join(", ")
            )
        }
    }
}

/// What an alias routes to, for messages ("no alias" when there is none).
#[must_use]
pub fn describe(routing: Option<&Routing>) -> String {
    routing.map_or_else(|| "no alias".to_string(), Routing::describe)
}

/// What to do with a pointer.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// It already holds what is wanted: no write.
    Unchanged,
    /// Create the alias with this routing.
    Create(Routing),
    /// Update the existing alias to this routing.
    Update(Routing),
    /// Delete the alias (undoing its creation).
    Delete,
}

/// The move that leaves an alias on `version` alone: create it, leave it, or settle it (a
/// canary running on the same version is taken off too).
#[must_use]
pub fn settle(version: &str, now: Option<&Routing>) -> Step {
    let wanted = Routing::plain(version);
    match now {
        None => Step::Create(wanted),
        Some(now) if *now == wanted => Step::Unchanged,
        Some(_) => Step::Update(wanted),
    }
}

/// The bits check of a promotion: the version the alias would move to must hold what the
/// artifact being promoted holds. `field` names the hash (`code_sha256`, `definition_sha256`),
/// `found` is that version's hash where the alias lives (`None`: `owner`, the function or state
/// machine, has no such version).
pub fn same_bits(
    target_name: &str,
    owner: &str,
    version: &str,
    field: &str,
    want: &str,
    found: Option<&str>,
) -> Result<()> {
    match found {
        None => Err(Error::precondition(format!(
            "{target_name}: the {owner} has no version {version}; nothing changed"
        ))),
        Some(found) if found != want => Err(Error::precondition(format!(
            "{target_name}: version {version} has {field} {found}, but the artifact being \
             promoted has {want}: not the same bits, so nothing changed"
        ))),
        Some(_) => Ok(()),
    }
}

/// `--expect`: the target must hold that version now.
pub fn expect_holds(
    target_name: &str,
    target: Option<&Routing>,
    expect: Option<&str>,
) -> Result<()> {
    match expect {
        Some(expected) if target.map(|t| t.version.as_str()) != Some(expected) => {
            Err(Error::precondition(format!(
                "{target_name} holds {}, not version {expected} as --expect says; nothing changed",
                describe(target)
            )))
        }
        _ => Ok(()),
    }
}

/// Undo one change: the pointer was moved from `restore` to `changed_to` (`None`: no alias).
/// Only where the pointer still holds `changed_to` is it moved back; where it already holds
/// `restore` nothing is left to do; anything else means someone moved it since, and it is left
/// alone (exit 4).
pub fn rollback(
    name: &str,
    changed_to: Option<&Routing>,
    restore: Option<&Routing>,
    now: Option<&Routing>,
) -> Result<Step> {
    if now == changed_to {
        return Ok(match (restore, now) {
            (None, None) => Step::Unchanged,
            (None, Some(_)) => Step::Delete,
            (Some(r), None) => Step::Create(r.clone()),
            (Some(r), Some(_)) => Step::Update(r.clone()),
        });
    }
    if now == restore {
        return Ok(Step::Unchanged);
    }
    Err(Error::precondition(format!(
        "{name} holds {}, not {} as the record says: it was moved since, so it is left as it is",
        describe(now),
        describe(changed_to)
    )))
}

/// One step of a canary's life.
#[derive(Debug, Clone, PartialEq)]
pub enum CanaryStep {
    /// Send `percent` of the traffic to `version`.
    Start { version: String, percent: f64 },
    /// Move the alias to the canary version, clear the weights.
    Finish,
    /// Clear the weights, leave the alias's version.
    Abort,
    /// Move the alias back to `version` from `finished`, the version a finished shift left it
    /// on (a post-traffic hook failed). Only from there: an alias moved since is not ours.
    Revert { version: String, finished: String },
}

/// Decide a canary step on an alias that holds `now`. Returns the new routing and the record's
/// action, or `None` when nothing needs to change.
pub fn canary(
    name: &str,
    step: &CanaryStep,
    now: &Routing,
    expect: Option<&str>,
) -> Result<Option<(Routing, Action)>> {
    // --expect names what the alias held before the shift; the revert of a finished shift
    // checks what the finish left instead.
    let expect = match step {
        CanaryStep::Revert { finished, .. } => Some(finished.as_str()),
        _ => expect,
    };
    if let Some(expected) = expect {
        if now.version != expected {
            return Err(Error::precondition(format!(
                "{name} holds {}, not version {expected} as --expect says; nothing changed",
                now.describe()
            )));
        }
    }
    let (next, action) = match step {
        CanaryStep::Start { version, percent } => {
            if *version == now.version {
                return Err(Error::usage(format!(
                    "{name} already holds version {version}: a canary sends traffic to another version"
                )));
            }
            let mut weights = BTreeMap::new();
            weights.insert(version.clone(), percent / 100.0);
            (
                Routing {
                    version: now.version.clone(),
                    weights,
                },
                Action::Canary,
            )
        }
        CanaryStep::Finish => {
            let mut canaries = now.weights.keys();
            match (canaries.next(), canaries.next()) {
                (Some(version), None) => (Routing::plain(version), Action::Promoted),
                (None, _) => {
                    return Err(Error::precondition(format!(
                        "{name} has no canary to finish (it holds {})",
                        now.describe()
                    )))
                }
                (Some(_), Some(_)) => {
                    return Err(Error::precondition(format!(
                        "{name} routes to several canary versions ({}); finish by promoting one \
                         with `promote --version N`",
                        now.describe()
                    )))
                }
            }
        }
        CanaryStep::Abort => (Routing::plain(&now.version), Action::RolledBack),
        CanaryStep::Revert { version, .. } => (Routing::plain(version), Action::RolledBack),
    };
    Ok((next != *now).then_some((next, action)))
}

/// Whether the version a publish answered with was there before the call: Lambda and Step
/// Functions both hand back the newest version, unchanged, when nothing changed since it.
/// `newest_before` is the highest version listed just before the call.
#[must_use]
pub fn version_existed(version: &str, newest_before: Option<u64>) -> bool {
    match (version.parse::<u64>(), newest_before) {
        (Ok(v), Some(newest)) => v <= newest,
        _ => false,
    }
}

/// The action of a `publish` record: a new version is `published`; an existing one is
/// `unchanged` when the alias (if any) already held it, and `promoted` when the alias had to
/// move to it (a change `rollback` undoes, but no new artifact).
#[must_use]
pub fn published_action(existed: bool, alias_moved: bool) -> Action {
    match (existed, alias_moved) {
        (false, _) => Action::Published,
        (true, false) => Action::Unchanged,
        (true, true) => Action::Promoted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canary_on(version: &str, canary: &str, w: f64) -> Routing {
        let mut r = Routing::plain(version);
        r.weights.insert(canary.into(), w);
        r
    }

    #[test]
    fn settle_creates_moves_or_leaves_alone() {
        assert_eq!(
            settle("7", Some(&Routing::plain("6"))),
            Step::Update(Routing::plain("7"))
        );
        assert_eq!(settle("7", None), Step::Create(Routing::plain("7")));
        assert_eq!(settle("7", Some(&Routing::plain("7"))), Step::Unchanged);
        // Same version but a canary running: settled on the version alone.
        assert_eq!(
            settle("7", Some(&canary_on("7", "8", 0.1))),
            Step::Update(Routing::plain("7"))
        );
    }

    #[test]
    fn same_bits_refuses_other_bits_and_missing_versions() {
        assert!(same_bits("a", "function", "7", "code_sha256", "A", Some("A")).is_ok());
        let e = same_bits(
            "a",
            "state machine",
            "7",
            "definition_sha256",
            "A",
            Some("B"),
        )
        .unwrap_err();
        assert_eq!(e.exit_code().code(), 4);
        assert!(
            e.to_string().contains("definition_sha256 B")
                && e.to_string().contains("not the same bits"),
            "{e}"
        );
        let e = same_bits("a", "function", "7", "code_sha256", "A", None).unwrap_err();
        assert!(
            e.to_string().contains("the function has no version 7"),
            "{e}"
        );
    }

    #[test]
    fn expect_refuses_unless_the_target_holds_it() {
        let at6 = Routing::plain("6");
        assert!(expect_holds("a", Some(&at6), Some("6")).is_ok());
        assert!(expect_holds("a", Some(&at6), None).is_ok());
        let e = expect_holds("a", Some(&at6), Some("5")).unwrap_err();
        assert_eq!(e.exit_code().code(), 4);
        assert!(
            e.to_string().contains("holds version 6, not version 5"),
            "{e}"
        );
        let e = expect_holds("a", None, Some("5")).unwrap_err();
        assert!(e.to_string().contains("holds no alias"), "{e}");
    }

    #[test]
    fn rollback_restores_only_what_still_holds_the_change() {
        let v6 = Routing::plain("6");
        let v7 = Routing::plain("7");
        let v9 = Routing::plain("9");
        assert_eq!(
            rollback("a", Some(&v7), Some(&v6), Some(&v7)).unwrap(),
            Step::Update(v6.clone())
        );
        assert_eq!(
            rollback("a", Some(&v7), Some(&v6), Some(&v6)).unwrap(),
            Step::Unchanged
        );
        let e = rollback("a", Some(&v7), Some(&v6), Some(&v9)).unwrap_err();
        assert_eq!(e.exit_code().code(), 4);
        assert!(
            e.to_string().contains("holds version 9, not version 7"),
            "{e}"
        );
        // The change created the alias: undoing it deletes the alias.
        assert_eq!(
            rollback("a", Some(&v7), None, Some(&v7)).unwrap(),
            Step::Delete
        );
        assert_eq!(
            rollback("a", Some(&v7), None, None).unwrap(),
            Step::Unchanged
        );
        // The change deleted the alias: undoing it creates it again.
        assert_eq!(
            rollback("a", None, Some(&v6), None).unwrap(),
            Step::Create(v6.clone())
        );
        // Weights count: a canary that was put on is taken off.
        let c = canary_on("6", "7", 0.1);
        assert_eq!(
            rollback("a", Some(&c), Some(&v6), Some(&c)).unwrap(),
            Step::Update(v6)
        );
    }

    #[test]
    fn canary_start_finish_abort() {
        let now = Routing::plain("6");
        let start = CanaryStep::Start {
            version: "7".into(),
            percent: 10.0,
        };
        let (next, action) = canary("a", &start, &now, None).unwrap().unwrap();
        assert_eq!(next, canary_on("6", "7", 0.1));
        assert_eq!(next.canary(), Some(("7", 10.0)));
        assert_eq!(action, Action::Canary);
        // The same canary again: nothing to do.
        assert_eq!(canary("a", &start, &next, None).unwrap(), None);

        let (done, action) = canary("a", &CanaryStep::Finish, &next, None)
            .unwrap()
            .unwrap();
        assert_eq!(done, Routing::plain("7"));
        assert_eq!(action, Action::Promoted);

        let (back, action) = canary("a", &CanaryStep::Abort, &next, None)
            .unwrap()
            .unwrap();
        assert_eq!(back, Routing::plain("6"));
        assert_eq!(action, Action::RolledBack);
        assert_eq!(canary("a", &CanaryStep::Abort, &now, None).unwrap(), None);
        // A finished shift moved back: only from the version it finished on.
        let revert = CanaryStep::Revert {
            version: "1".into(),
            finished: "2".into(),
        };
        let (back, action) = canary("a", &revert, &Routing::plain("2"), Some("1"))
            .unwrap()
            .unwrap();
        assert_eq!((back, action), (Routing::plain("1"), Action::RolledBack));
        assert!(canary("a", &revert, &Routing::plain("3"), None).is_err());
    }

    #[test]
    fn canary_refusals() {
        let now = Routing::plain("6");
        let same = CanaryStep::Start {
            version: "6".into(),
            percent: 10.0,
        };
        assert_eq!(
            canary("a", &same, &now, None)
                .unwrap_err()
                .exit_code()
                .code(),
            2
        );
        let e = canary("a", &CanaryStep::Finish, &now, None).unwrap_err();
        assert_eq!(e.exit_code().code(), 4);
        let e = canary("a", &CanaryStep::Abort, &now, Some("5")).unwrap_err();
        assert_eq!(e.exit_code().code(), 4);
    }

    #[test]
    fn a_version_published_before_the_call_is_not_new() {
        assert!(!version_existed("1", None));
        assert!(!version_existed("4", Some(3)));
        assert!(version_existed("3", Some(3)));
        assert!(version_existed("2", Some(3)));
        assert!(!version_existed("$LATEST", Some(3)));
        assert_eq!(published_action(false, true), Action::Published);
        assert_eq!(published_action(false, false), Action::Published);
        assert_eq!(published_action(true, false), Action::Unchanged);
        assert_eq!(published_action(true, true), Action::Promoted);
    }
}
