//! The decisions: given what the aliases and versions hold now, what should happen. Plain values
//! in, a decision or a refusal out; no AWS types and no calls, so every rule is unit-tested here.

use shared::lambda::Published;
use shared::record::LambdaArtifact;
use shared::{Action, Error, Result};
use std::collections::BTreeMap;

/// Where an alias routes traffic: its version and a canary's weights. What a pointer "holds".
#[derive(Debug, Clone, PartialEq)]
pub struct Routing {
    pub version: String,
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

    #[must_use]
    pub fn of(artifact: &LambdaArtifact) -> Routing {
        Routing {
            version: artifact.version.clone(),
            weights: artifact.weights.clone(),
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

/// Everything `promote` knows about one function before it writes.
#[derive(Debug)]
pub struct PromoteFacts<'a> {
    /// The function and alias being moved, for messages: "orders-api alias prod".
    pub target_name: &'a str,
    /// The artifact to promote: version and the code hash the source saw.
    pub want: &'a LambdaArtifact,
    /// The code hash of that version in the target function; `None` when it has no such version.
    pub target_code_sha256: Option<&'a str>,
    /// What the target alias holds now; `None` when there is no such alias.
    pub target: Option<&'a Routing>,
    /// `--expect`: the version the caller says the target holds now.
    pub expect: Option<&'a str>,
}

/// `$LATEST` is what the function's code is now, and whatever is deployed next: never an
/// artifact. `what` names where it was found ("orders-api alias staging", "the record").
pub fn immutable(version: &str, what: &str) -> Result<()> {
    if version == "$LATEST" {
        return Err(Error::precondition(format!(
            "{what} holds $LATEST, which changes with every deploy: publish a version \
             (`lambda-promote publish FUNCTION --env FIRST_ENV`) and promote that; nothing changed"
        )));
    }
    Ok(())
}

/// Decide a promotion. Refusals are precondition failures (exit 4): nothing is written.
pub fn promote(facts: &PromoteFacts<'_>) -> Result<Step> {
    let PromoteFacts {
        target_name,
        want,
        target_code_sha256,
        target,
        expect,
    } = *facts;
    immutable(
        &want.version,
        &format!("{target_name}: the artifact being promoted"),
    )?;
    expect_holds(target_name, target, expect)?;
    match target_code_sha256 {
        None => {
            return Err(Error::precondition(format!(
                "{target_name}: the function has no version {}; nothing changed",
                want.version
            )))
        }
        Some(sha) if sha != want.code_sha256 => {
            return Err(Error::precondition(format!(
            "{target_name}: version {} has code_sha256 {sha}, but the artifact being promoted has \
                 {}: not the same bits, so nothing changed",
            want.version, want.code_sha256
        )))
        }
        Some(_) => {}
    }
    let wanted = Routing::plain(&want.version);
    Ok(match target {
        None => Step::Create(wanted),
        Some(now) if *now == wanted => Step::Unchanged,
        // Same version but a canary running: promoting settles the alias on the version alone.
        Some(_) => Step::Update(wanted),
    })
}

/// The largest package a copy uploads in the request itself (UpdateFunctionCode's ZipFile).
/// Lambda takes up to 50 MB that way, but the request carries it base64-encoded, so memory
/// would grow to several times the package: above this, a copy goes through an S3 bucket of the
/// target environment and streams.
pub const DIRECT_UPLOAD_LIMIT: u64 = 16 * 1024 * 1024;

/// How a package reaches the target function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// In UpdateFunctionCode's request.
    Direct,
    /// A container-image function: UpdateFunctionCode names the image by digest.
    Image,
    /// Streamed through this bucket of the target environment (promote.toml's
    /// `[lambda] copy_bucket`), which UpdateFunctionCode then names.
    S3 { bucket: String },
}

impl Route {
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Route::Direct => "direct",
            Route::Image => "image",
            Route::S3 { .. } => "s3",
        }
    }
}

/// How a package of `size` bytes is copied, or why it cannot be: in the request up to
/// [`DIRECT_UPLOAD_LIMIT`], else through the target environment's copy bucket.
pub fn copy_route(size: u64, bucket: Option<&str>) -> std::result::Result<Route, String> {
    match bucket {
        _ if size <= DIRECT_UPLOAD_LIMIT => Ok(Route::Direct),
        Some(bucket) => Ok(Route::S3 {
            bucket: bucket.to_string(),
        }),
        None => Err(format!(
            "the package is {size} bytes: above {DIRECT_UPLOAD_LIMIT} bytes a copy goes through \
             an S3 bucket of the target environment, so that memory stays bounded, and \
             promote.toml names none ([lambda] copy_bucket = \"BUCKET-{{env}}\")"
        )),
    }
}

/// The published version (the highest) of `versions` whose code is `code_sha256`: an earlier
/// copy of the same code, to promote to again.
#[must_use]
pub fn version_with_code(versions: &[Published], code_sha256: &str) -> Option<String> {
    versions
        .iter()
        .filter(|v| v.code_sha256 == code_sha256)
        .filter_map(|v| v.version.parse::<u64>().ok())
        .max()
        .map(|v| v.to_string())
}

/// `promote --description TEXT`: the version published with exactly that description (a git
/// commit, a build id). The same build published twice is one artifact (its newest version);
/// versions of different code with one description are ambiguous, and so refused.
pub fn version_described(
    versions: &[Published],
    description: &str,
    function: &str,
) -> std::result::Result<String, String> {
    let mut matching: Vec<&Published> = versions
        .iter()
        .filter(|v| v.description == description && v.version.parse::<u64>().is_ok())
        .collect();
    matching.sort_by_key(|v| v.version.parse::<u64>().unwrap_or(0));
    let Some(newest) = matching.last() else {
        return Err(format!(
            "no version of {function} has the description {description:?}; nothing changed"
        ));
    };
    if matching.iter().any(|v| v.code_sha256 != newest.code_sha256) {
        let numbers: Vec<&str> = matching.iter().map(|v| v.version.as_str()).collect();
        return Err(format!(
            "versions {} of {function} all have the description {description:?} but different \
             code: name one with --version; nothing changed",
            numbers.join(", ")
        ));
    }
    Ok(newest.version.clone())
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
                         with `lambda-promote promote --version N`",
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

/// Whether the version PublishVersion answered with was there before the call: Lambda hands
/// back the newest version, unchanged, when neither $LATEST's code nor its configuration changed
/// since it. `newest_before` is the highest version listed just before the call.
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

    fn artifact(version: &str, sha: &str) -> LambdaArtifact {
        LambdaArtifact {
            version: version.into(),
            code_sha256: sha.into(),
            weights: BTreeMap::new(),
        }
    }

    fn canary_on(version: &str, canary: &str, w: f64) -> Routing {
        let mut r = Routing::plain(version);
        r.weights.insert(canary.into(), w);
        r
    }

    fn facts<'a>(
        want: &'a LambdaArtifact,
        sha: Option<&'a str>,
        target: Option<&'a Routing>,
        expect: Option<&'a str>,
    ) -> PromoteFacts<'a> {
        PromoteFacts {
            target_name: "f alias prod",
            want,
            target_code_sha256: sha,
            target,
            expect,
        }
    }

    #[test]
    fn promote_moves_creates_or_leaves_alone() {
        let want = artifact("7", "A");
        let at6 = Routing::plain("6");
        let at7 = Routing::plain("7");
        assert_eq!(
            promote(&facts(&want, Some("A"), Some(&at6), None)).unwrap(),
            Step::Update(Routing::plain("7"))
        );
        assert_eq!(
            promote(&facts(&want, Some("A"), None, None)).unwrap(),
            Step::Create(Routing::plain("7"))
        );
        assert_eq!(
            promote(&facts(&want, Some("A"), Some(&at7), None)).unwrap(),
            Step::Unchanged
        );
    }

    #[test]
    fn promote_onto_a_running_canary_settles_the_alias() {
        let want = artifact("7", "A");
        let busy = canary_on("7", "8", 0.1);
        assert_eq!(
            promote(&facts(&want, Some("A"), Some(&busy), None)).unwrap(),
            Step::Update(Routing::plain("7"))
        );
    }

    #[test]
    fn latest_is_never_promoted() {
        let want = artifact("$LATEST", "A");
        let e = promote(&facts(&want, Some("A"), Some(&Routing::plain("6")), None)).unwrap_err();
        assert_eq!(e.exit_code().code(), 4);
        assert!(e.to_string().contains("holds $LATEST"), "{e}");
        assert!(e.to_string().contains("publish"), "{e}");
        assert!(immutable("7", "x").is_ok());
    }

    #[test]
    fn promote_refuses_other_bits() {
        let want = artifact("7", "A");
        let e = promote(&facts(&want, Some("B"), Some(&Routing::plain("6")), None)).unwrap_err();
        assert_eq!(e.exit_code().code(), 4);
        assert!(e.to_string().contains("not the same bits"), "{e}");
        let e = promote(&facts(&want, None, None, None)).unwrap_err();
        assert!(e.to_string().contains("has no version 7"), "{e}");
    }

    #[test]
    fn expect_refuses_unless_the_target_holds_it() {
        let want = artifact("7", "A");
        let at6 = Routing::plain("6");
        assert!(promote(&facts(&want, Some("A"), Some(&at6), Some("6"))).is_ok());
        let e = promote(&facts(&want, Some("A"), Some(&at6), Some("5"))).unwrap_err();
        assert_eq!(e.exit_code().code(), 4);
        assert!(
            e.to_string().contains("holds version 6, not version 5"),
            "{e}"
        );
        let e = promote(&facts(&want, Some("A"), None, Some("5"))).unwrap_err();
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

    #[test]
    fn a_package_goes_in_the_request_up_to_the_limit_and_through_the_bucket_above_it() {
        assert_eq!(copy_route(1, None), Ok(Route::Direct));
        assert_eq!(
            copy_route(DIRECT_UPLOAD_LIMIT, Some("b")),
            Ok(Route::Direct)
        );
        assert_eq!(
            copy_route(DIRECT_UPLOAD_LIMIT + 1, Some("b")),
            Ok(Route::S3 { bucket: "b".into() })
        );
        let refused = copy_route(DIRECT_UPLOAD_LIMIT + 1, None).unwrap_err();
        assert!(refused.contains("copy_bucket"), "{refused}");
    }

    #[test]
    fn the_newest_version_of_the_same_code_is_found() {
        let versions = [
            published("$LATEST", "a", ""),
            published("2", "a", ""),
            published("10", "a", ""),
            published("3", "b", ""),
        ];
        assert_eq!(version_with_code(&versions, "a"), Some("10".into()));
        assert_eq!(version_with_code(&versions, "c"), None);
    }

    fn published(version: &str, code: &str, description: &str) -> Published {
        Published {
            version: version.into(),
            code_sha256: code.into(),
            description: description.into(),
            last_modified: None,
        }
    }

    #[test]
    fn a_description_names_exactly_one_build() {
        let versions = [
            published("1", "a", "git:1111"),
            published("2", "b", "git:2222"),
            // The same build published twice (a retried pipeline): one artifact, the newest.
            published("3", "b", "git:2222"),
            published("4", "c", "git:4444"),
            published("5", "d", "git:4444"),
        ];
        assert_eq!(
            version_described(&versions, "git:1111", "f"),
            Ok("1".into())
        );
        assert_eq!(
            version_described(&versions, "git:2222", "f"),
            Ok("3".into())
        );
        let none = version_described(&versions, "git:9999", "f").unwrap_err();
        assert!(
            none.contains("no version of f") && none.contains("git:9999"),
            "{none}"
        );
        let two = version_described(&versions, "git:4444", "f").unwrap_err();
        assert!(
            two.contains("versions 4, 5") && two.contains("--version"),
            "{two}"
        );
        // Exact, not a prefix: a short sha is not a match.
        assert!(version_described(&versions, "git:11", "f").is_err());
    }
}
