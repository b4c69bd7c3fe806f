//! How one environment stands to the one before it in the order, for one pointer: pure, given
//! what each holds and what the environment before has held. This is the judgement the release
//! view exists for, so it is kept apart from the reads and tested with plain values.

use serde::Serialize;

/// An environment's pointer compared with the same pointer in the environment before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// The same artifact (across accounts or regions: the same code, images or bytes).
    Same,
    /// An older artifact than the environment before holds: a promotion is due.
    Behind,
    /// A newer one: should not happen in a healthy chain (something skipped the environment
    /// before, or it was rolled back).
    Ahead,
    /// An artifact the environment before never held, or one that cannot be ordered by age.
    Drifted,
    /// The pointer does not exist in this environment.
    Missing,
    /// This environment or the one before could not be read: nothing can be said.
    Unknown,
}

impl Relation {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Same => "same",
            Relation::Behind => "behind",
            Relation::Ahead => "ahead",
            Relation::Drifted => "drifted",
            Relation::Missing => "missing",
            Relation::Unknown => "unknown",
        }
    }

    /// Every relation, in the order the legend lists them.
    pub const ALL: [Relation; 6] = [
        Relation::Same,
        Relation::Behind,
        Relation::Ahead,
        Relation::Drifted,
        Relation::Missing,
        Relation::Unknown,
    ];

    /// What the legend says of it.
    #[must_use]
    pub fn meaning(self) -> &'static str {
        match self {
            Relation::Same => "the same artifact as the environment before",
            Relation::Behind => "an older artifact than the environment before: a promotion is due",
            Relation::Ahead => "a newer artifact than the environment before: should not happen",
            Relation::Drifted => {
                "an artifact the environment before never held, or not comparable by age"
            }
            Relation::Missing => "the pointer does not exist here",
            Relation::Unknown => "this environment or the one before could not be read",
        }
    }
}

/// Where two reads were made: the same account and region (`true`) or not.
pub type SamePlace = bool;

/// What a Lambda alias holds, as the judgement needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaHeld {
    pub function: String,
    pub version: String,
    pub code_sha256: String,
}

/// A Lambda alias. In one function (same name, account and region) versions are numbered in
/// order and a version is the artifact (its configuration is baked into it): the numbers decide.
/// Elsewhere the same code is the same artifact, and otherwise this code's place in the
/// history of the function before (`before_versions`, its versions and code hashes) decides:
/// held there in an older version than it holds now is behind, a newer one ahead, never drifted.
#[must_use]
pub fn lambda(
    this: &LambdaHeld,
    before: &LambdaHeld,
    same_place: SamePlace,
    before_versions: &[shared::lambda::Published],
) -> Relation {
    let number = |v: &str| v.parse::<u64>().ok();
    if same_place && this.function == before.function {
        return order(number(&this.version), number(&before.version));
    }
    if this.code_sha256 == before.code_sha256 {
        return Relation::Same;
    }
    let held = before_versions
        .iter()
        .filter(|v| v.code_sha256 == this.code_sha256)
        .filter_map(|v| number(&v.version))
        .max();
    match held {
        Some(v) => order(Some(v), number(&before.version)),
        None => Relation::Drifted,
    }
}

/// Behind, same or ahead by two positions in a history (`None`: not in it, drifted).
fn order<T: Ord>(this: Option<T>, before: Option<T>) -> Relation {
    match (this, before) {
        (Some(t), Some(b)) if t < b => Relation::Behind,
        (Some(t), Some(b)) if t > b => Relation::Ahead,
        (Some(_), Some(_)) => Relation::Same,
        _ => Relation::Drifted,
    }
}

/// A Step Functions alias's version, as the judgement needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct SfnHeld {
    /// The state machine's ARN.
    pub machine: String,
    pub version: String,
    pub definition_sha256: String,
    pub published: Option<aws_smithy_types::DateTime>,
}

/// A Step Functions alias. In one state machine (same ARN) versions are numbered in order and the
/// numbers decide. Across two (one per environment, or another account or region) the same
/// definition is the same artifact; otherwise the versions' publication decides, as S3's
/// LastModified does: a copy is published when it is promoted, so an environment not promoted
/// since the one before took a newer definition holds an older version.
#[must_use]
pub fn stepfunctions(this: &SfnHeld, before: &SfnHeld) -> Relation {
    let number = |v: &str| v.parse::<u64>().ok();
    if this.machine == before.machine {
        return order(number(&this.version), number(&before.version));
    }
    if this.definition_sha256 == before.definition_sha256 {
        return Relation::Same;
    }
    match order(this.published, before.published) {
        Relation::Same => Relation::Drifted,
        other => other,
    }
}

/// What an ECS service runs, as the judgement needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsHeld {
    pub family: String,
    pub revision: i32,
    /// `(container, digest)`, sorted.
    pub digests: Vec<(String, String)>,
}

/// An ECS service. The same digest in every container is the same artifact wherever it runs;
/// otherwise revisions of one task definition family in one account and region are in order;
/// two families (or accounts) have no order between them: drifted.
#[must_use]
pub fn ecs(this: &EcsHeld, before: &EcsHeld, same_place: SamePlace) -> Relation {
    if this.digests == before.digests {
        return Relation::Same;
    }
    if same_place && this.family == before.family {
        return match order(Some(this.revision), Some(before.revision)) {
            // Two revisions of one family with other images cannot be the same artifact.
            Relation::Same => Relation::Drifted,
            other => other,
        };
    }
    Relation::Drifted
}

/// What an API Gateway stage runs, as the judgement needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApigatewayHeld {
    pub api_id: String,
    pub deployment_id: String,
    /// The deployment of another account's or region's stage this one was imported from (its
    /// description, as apigw-stage writes it).
    pub imported_from: Option<String>,
}

/// An API Gateway stage. In one API, the deployments' creation order (`before_history`: the
/// API's deployment ids, newest first) decides. A stage in another account or region serves an
/// import of a deployment of the stage before (apigw-stage's promotion): that deployment's place
/// in the history decides; a deployment not imported from there is drifted.
#[must_use]
pub fn apigateway(
    this: &ApigatewayHeld,
    before: &ApigatewayHeld,
    same_place: SamePlace,
    before_history: &[String],
) -> Relation {
    let age = |id: &str| {
        before_history
            .iter()
            .position(|d| d == id)
            .map(std::cmp::Reverse)
    };
    let held = if same_place && this.api_id == before.api_id {
        this.deployment_id.as_str()
    } else {
        match &this.imported_from {
            Some(id) => id.as_str(),
            None => return Relation::Drifted,
        }
    };
    if held == before.deployment_id {
        return Relation::Same;
    }
    order(age(held), age(&before.deployment_id))
}

/// What an S3 key's current version is, as the judgement needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Held {
    pub location: String,
    pub version_id: String,
    pub etag: String,
    pub size: i64,
    pub checksum: Option<String>,
    /// LastModified, as (seconds, nanoseconds).
    pub modified: Option<(i64, u32)>,
}

/// An S3 key. One key in one account and region: the version id says same, else LastModified
/// orders the versions. Elsewhere the same bytes (the same stored checksum, else the same ETag
/// and size) are the same artifact, and otherwise LastModified orders them: a copy is as old as
/// its promotion, so an environment not promoted since the one before changed is older.
#[must_use]
pub fn s3(this: &S3Held, before: &S3Held, same_place: SamePlace) -> Relation {
    if same_place && this.location == before.location {
        if this.version_id == before.version_id {
            return Relation::Same;
        }
    } else {
        let same_bytes = match (&this.checksum, &before.checksum) {
            (Some(a), Some(b)) => a == b,
            _ => this.etag == before.etag && this.size == before.size,
        };
        if same_bytes {
            return Relation::Same;
        }
    }
    match order(this.modified, before.modified) {
        // Other bytes changed in the same instant: no order.
        Relation::Same => Relation::Drifted,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sf(machine: &str, version: &str, sha: &str, at: i64) -> SfnHeld {
        SfnHeld {
            machine: machine.into(),
            version: version.into(),
            definition_sha256: sha.into(),
            published: Some(aws_smithy_types::DateTime::from_secs(at)),
        }
    }

    #[test]
    fn step_functions_versions_by_number_in_one_state_machine_else_by_definition_and_time() {
        let before = sf("m", "3", "b", 100);
        assert_eq!(
            stepfunctions(&sf("m", "3", "b", 100), &before),
            Relation::Same
        );
        assert_eq!(
            stepfunctions(&sf("m", "2", "a", 50), &before),
            Relation::Behind
        );
        assert_eq!(
            stepfunctions(&sf("m", "4", "c", 200), &before),
            Relation::Ahead
        );
        // Another state machine: the definition decides, then the publication.
        assert_eq!(
            stepfunctions(&sf("p", "1", "b", 300), &before),
            Relation::Same
        );
        assert_eq!(
            stepfunctions(&sf("p", "1", "a", 50), &before),
            Relation::Behind
        );
        assert_eq!(
            stepfunctions(&sf("p", "9", "c", 200), &before),
            Relation::Ahead
        );
        assert_eq!(
            stepfunctions(&sf("p", "9", "c", 100), &before),
            Relation::Drifted
        );
    }

    fn l(function: &str, version: &str, code: &str) -> LambdaHeld {
        LambdaHeld {
            function: function.into(),
            version: version.into(),
            code_sha256: code.into(),
        }
    }

    #[test]
    fn lambda_versions_in_one_function_are_in_order() {
        let before = l("api", "7", "b");
        assert_eq!(
            lambda(&l("api", "7", "b"), &before, true, &[]),
            Relation::Same
        );
        assert_eq!(
            lambda(&l("api", "5", "a"), &before, true, &[]),
            Relation::Behind
        );
        assert_eq!(
            lambda(&l("api", "9", "c"), &before, true, &[]),
            Relation::Ahead
        );
        // Same code, another version of one function: the version is the artifact.
        assert_eq!(
            lambda(&l("api", "6", "b"), &before, true, &[]),
            Relation::Behind
        );
    }

    #[test]
    fn lambda_across_functions_is_judged_by_code_in_the_history_before() {
        let before = l("api-staging", "4", "new");
        let published = |version: &str, code: &str| shared::lambda::Published {
            version: version.into(),
            code_sha256: code.into(),
            description: String::new(),
            last_modified: None,
        };
        let history = [
            published("1", "old"),
            published("3", "older-but-not"),
            published("4", "new"),
        ];
        assert_eq!(
            lambda(&l("api", "2", "new"), &before, false, &history),
            Relation::Same
        );
        assert_eq!(
            lambda(&l("api", "9", "old"), &before, false, &history),
            Relation::Behind
        );
        assert_eq!(
            lambda(&l("api", "9", "hand"), &before, false, &history),
            Relation::Drifted
        );
        assert_eq!(
            lambda(&l("api-prod", "1", "old"), &before, true, &history),
            Relation::Behind
        );
    }

    #[test]
    fn ecs_revisions_of_one_family_are_in_order_digests_decide_same() {
        let d = |x: &str| vec![("web".to_string(), x.to_string())];
        let held = |family: &str, revision, digest| EcsHeld {
            family: family.into(),
            revision,
            digests: d(digest),
        };
        let before = held("web", 5, "b");
        assert_eq!(
            ecs(&held("web-prod", 2, "b"), &before, false),
            Relation::Same
        );
        assert_eq!(ecs(&held("web", 3, "a"), &before, true), Relation::Behind);
        assert_eq!(ecs(&held("web", 8, "c"), &before, true), Relation::Ahead);
        assert_eq!(
            ecs(&held("web-prod", 2, "a"), &before, true),
            Relation::Drifted
        );
        assert_eq!(ecs(&held("web", 3, "a"), &before, false), Relation::Drifted);
    }

    #[test]
    fn apigateway_deployments_are_ordered_by_the_history_before() {
        let held = |api: &str, id: &str, from: Option<&str>| ApigatewayHeld {
            api_id: api.into(),
            deployment_id: id.into(),
            imported_from: from.map(str::to_string),
        };
        let history: Vec<String> = ["d3", "d2", "d1"].map(String::from).to_vec();
        let before = held("a1", "d2", None);
        assert_eq!(
            apigateway(&held("a1", "d2", None), &before, true, &history),
            Relation::Same
        );
        assert_eq!(
            apigateway(&held("a1", "d1", None), &before, true, &history),
            Relation::Behind
        );
        assert_eq!(
            apigateway(&held("a1", "d3", None), &before, true, &history),
            Relation::Ahead
        );
        assert_eq!(
            apigateway(&held("a1", "dx", None), &before, true, &history),
            Relation::Drifted
        );
        // Another account: what it was imported from.
        assert_eq!(
            apigateway(&held("b7", "p1", Some("d2")), &before, false, &history),
            Relation::Same
        );
        assert_eq!(
            apigateway(&held("b7", "p1", Some("d1")), &before, false, &history),
            Relation::Behind
        );
        assert_eq!(
            apigateway(&held("b7", "p1", None), &before, false, &history),
            Relation::Drifted
        );
    }

    #[test]
    fn s3_versions_by_id_in_one_key_and_by_bytes_elsewhere() {
        let held = |location: &str, id: &str, etag: &str, at: i64| S3Held {
            location: location.into(),
            version_id: id.into(),
            etag: etag.into(),
            size: 3,
            checksum: None,
            modified: Some((at, 0)),
        };
        let before = held("b/staging/k", "v2", "e2", 200);
        assert_eq!(
            s3(&held("b/staging/k", "v2", "e2", 200), &before, true),
            Relation::Same
        );
        assert_eq!(
            s3(&held("b/prod/k", "p1", "e2", 300), &before, true),
            Relation::Same
        );
        assert_eq!(
            s3(&held("b/prod/k", "p1", "e1", 100), &before, true),
            Relation::Behind
        );
        assert_eq!(
            s3(&held("b/prod/k", "p1", "e9", 300), &before, false),
            Relation::Ahead
        );
        assert_eq!(
            s3(&held("b/prod/k", "p1", "e9", 200), &before, false),
            Relation::Drifted
        );
    }
}
