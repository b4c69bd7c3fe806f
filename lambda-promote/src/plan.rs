//! The decisions: given what the aliases and versions hold now, what should happen. Plain values
//! in, a decision or a refusal out; no AWS types and no calls, so every rule is unit-tested here.

use shared::lambda::Published;
use shared::record::LambdaArtifact;
pub use shared::routing::{
    self as routing, canary, describe, expect_holds, published_action, rollback, version_existed,
    CanaryStep, Routing, Step,
};
use shared::{Error, Result};

/// What a Lambda artifact routes to.
#[must_use]
pub fn routing_of(artifact: &LambdaArtifact) -> Routing {
    Routing {
        version: artifact.version.clone(),
        weights: artifact.weights.clone(),
    }
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
    routing::same_bits(
        target_name,
        "function",
        &want.version,
        "code_sha256",
        &want.code_sha256,
        target_code_sha256,
    )?;
    Ok(routing::settle(&want.version, target))
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

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
