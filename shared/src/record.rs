//! The record: the one data shape every tool reads and writes, one JSON object per line. The
//! contract is documented in docs/records.md and published as docs/record.schema.json; a change
//! here is a change to that contract.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;
use std::str::FromStr;

/// The AWS service (or `config`) a record belongs to. Decides which tool acts on it; every
/// other tool passes it through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    Lambda,
    Ecr,
    Ecs,
    Apigateway,
    S3,
    Stepfunctions,
    Config,
}

impl Service {
    /// Every service, in the order the docs list them.
    pub const ALL: [Service; 7] = [
        Service::Lambda,
        Service::Ecr,
        Service::Ecs,
        Service::Apigateway,
        Service::S3,
        Service::Stepfunctions,
        Service::Config,
    ];

    /// The name as it appears in records.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Lambda => "lambda",
            Service::Ecr => "ecr",
            Service::Ecs => "ecs",
            Service::Apigateway => "apigateway",
            Service::S3 => "s3",
            Service::Stepfunctions => "stepfunctions",
            Service::Config => "config",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Service {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Service::ALL
            .into_iter()
            .find(|service| service.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown service {s:?} (expected one of: {})",
                    Service::ALL.map(Service::as_str).join(", ")
                )
            })
    }
}

/// What happened to the pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Read only: the pointer holds `artifact`.
    Resolved,
    /// A new immutable artifact was made (and, with a pointer, the pointer moved to it).
    Published,
    /// The pointer moved to `artifact`, from `previous`.
    Promoted,
    /// The pointer already held `artifact`: nothing was written.
    Unchanged,
    /// A dry run: `artifact` is what the pointer would hold, `previous` what it holds now.
    Planned,
    /// A canary was put on (or changed on) the pointer.
    Canary,
    /// The pointer was moved back to `artifact`, from `previous`.
    RolledBack,
    /// The tool failed on this pointer: `message` says why, `exit_code` what the run ends with.
    /// Nothing in the record was changed by the failure; a promoting tool that reads one makes
    /// no change (unless told to skip failed items), so a failure travels down the pipe.
    Error,
}

impl Action {
    /// Every action, in the order the docs list them.
    pub const ALL: [Action; 8] = [
        Action::Resolved,
        Action::Published,
        Action::Promoted,
        Action::Unchanged,
        Action::Planned,
        Action::Canary,
        Action::RolledBack,
        Action::Error,
    ];

    /// The name as it appears in records.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Resolved => "resolved",
            Action::Published => "published",
            Action::Promoted => "promoted",
            Action::Unchanged => "unchanged",
            Action::Planned => "planned",
            Action::Canary => "canary",
            Action::RolledBack => "rolled_back",
            Action::Error => "error",
        }
    }

    /// Whether a record with this action says a pointer was moved, so rollback can undo it.
    /// `published` moves a pointer only when the record names one.
    #[must_use]
    pub fn moved_a_pointer(self) -> bool {
        matches!(
            self,
            Action::Published | Action::Promoted | Action::Canary | Action::RolledBack
        )
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::ALL
            .into_iter()
            .find(|action| action.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown action {s:?} (expected one of: {})",
                    Action::ALL.map(Action::as_str).join(", ")
                )
            })
    }
}

/// One record. Field order on output is the order here; fields a tool does not know are kept in
/// `extra` so a record read and written again loses nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub service: Service,
    pub action: Action,
    /// What owns the pointer: a function, a repository, `CLUSTER/SERVICE`, an API id, `BUCKET/KEY`.
    pub resource: String,
    /// The AWS region of the resource.
    #[serde(default)]
    pub region: Option<String>,
    /// The AWS account the record was read or written in: the account of the environment's
    /// credentials. Null only where no AWS call was made for it.
    #[serde(default)]
    pub account: Option<String>,
    /// The environment the pointer belongs to, when it belongs to one.
    #[serde(default)]
    pub env: Option<String>,
    /// The movable name: an alias, a tag, a service, a stage, a key.
    #[serde(default)]
    pub pointer: Option<String>,
    /// The immutable thing the pointer holds after the action (service-specific shape).
    #[serde(default)]
    pub artifact: Option<Value>,
    /// What the pointer held before a change (same shape as `artifact`), null when the pointer is
    /// new. This is what makes rollback exact.
    #[serde(default)]
    pub previous: Option<Value>,
    /// Fields beyond the contract's core (e.g. `planned_action` on dry runs). Kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Record {
    /// A record with the core fields set and nothing else.
    pub fn new(service: Service, action: Action, resource: impl Into<String>) -> Self {
        Record {
            service,
            action,
            resource: resource.into(),
            region: None,
            account: None,
            env: None,
            pointer: None,
            artifact: None,
            previous: None,
            extra: Map::new(),
        }
    }

    /// The same record as a dry run's plan: action `planned`, and `planned_action` saying what
    /// the real run would have done.
    #[must_use]
    pub fn into_planned(mut self, would: Action) -> Record {
        self.action = Action::Planned;
        self.extra.insert(
            "planned_action".into(),
            Value::String(would.as_str().to_string()),
        );
        self
    }

    /// The same record as a failure: action `error`, with the message and the exit code the
    /// failure ends the run with. The artifact and previous are dropped: nothing changed.
    #[must_use]
    pub fn into_error(mut self, error: &crate::Error) -> Record {
        self.action = Action::Error;
        self.artifact = None;
        self.previous = None;
        self.extra.clear();
        self.extra
            .insert("message".into(), Value::String(error.to_string()));
        self.extra
            .insert("exit_code".into(), Value::from(error.exit_code().code()));
        self
    }

    /// Mark a record of a change made with `--force` past the promotion order's refusal.
    #[must_use]
    pub fn forced(mut self, forced: bool) -> Record {
        if forced {
            self.extra.insert("forced".into(), Value::Bool(true));
        }
        self
    }

    /// Whether the record says a change was made (what a rollback can undo, and what must never
    /// be lost when stdout closes).
    #[must_use]
    pub fn is_change(&self) -> bool {
        self.action.moved_a_pointer() && self.pointer.is_some()
    }

    /// The record as one line of JSON, without the newline.
    #[must_use]
    pub fn to_json_line(&self) -> String {
        // Serializing a struct of strings and `Value`s cannot fail; fall back to an empty object
        // rather than panic should serde ever disagree.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

/// The artifact of a Lambda pointer: an immutable version and the hash of its code. `weights`
/// holds a canary's additional versions and their share of traffic (0..1, as AWS spells it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LambdaArtifact {
    /// The version number as a string, as AWS spells it ("7").
    pub version: String,
    /// Base64 SHA-256 of the deployment package, as AWS reports it.
    pub code_sha256: String,
    /// Weighted routing to other versions: version -> fraction of traffic.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub weights: std::collections::BTreeMap<String, f64>,
}

impl LambdaArtifact {
    /// Whether the pointer routes exactly as `other` does (same version and same weights). The
    /// code hash is not compared: versions are immutable, so the version decides it.
    #[must_use]
    pub fn same_routing(&self, other: &LambdaArtifact) -> bool {
        self.version == other.version && self.weights == other.weights
    }

    /// The artifact as a record's JSON value.
    #[must_use]
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// The artifact of an ECR tag: the image digest it names, and the image pinned by that digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EcrArtifact {
    /// `sha256:...`
    pub digest: String,
    /// `<registry>/<repository>@sha256:...`
    pub image: String,
}

/// The artifact of an ECS service: the task definition it runs and each container's image,
/// pinned by digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EcsArtifact {
    /// The task definition's ARN. Null on a dry run's plan to register a new revision.
    pub task_definition: Option<String>,
    pub images: Vec<ContainerImage>,
}

/// One container's image in an [`EcsArtifact`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerImage {
    pub container: String,
    /// The image pinned by digest: `<registry>/<repository>@sha256:...`.
    pub image: String,
    /// `sha256:...`
    pub digest: String,
}

impl EcsArtifact {
    /// Whether both run the same bits: the same digest in every container, by name.
    #[must_use]
    pub fn same_images(&self, other: &EcsArtifact) -> bool {
        let digests = |a: &EcsArtifact| {
            let mut d: Vec<(String, String)> = a
                .images
                .iter()
                .map(|i| (i.container.clone(), i.digest.clone()))
                .collect();
            d.sort();
            d
        };
        digests(self) == digests(other)
    }
}

/// The artifact of an API Gateway stage: the deployment it runs, and its canary if one is on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApigatewayArtifact {
    pub deployment_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryArtifact>,
}

/// A stage's canary in an [`ApigatewayArtifact`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanaryArtifact {
    pub deployment_id: String,
    /// Percent of the stage's traffic, 0 to 100 (as API Gateway spells it).
    pub percent: f64,
}

/// The artifact of an S3 key: one object version, identified by its id and its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Artifact {
    /// The version id ("null" in a bucket without versioning).
    pub version_id: String,
    /// The ETag, without its quotes.
    pub etag: String,
    pub size: i64,
    /// A checksum S3 stores for the object, as `ALGORITHM:VALUE` (`sha256:...`), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

/// The artifact of a Step Functions alias: a published state machine version, named by its ARN
/// and proven by the hash of its definition (a version cannot cross accounts or regions: its
/// copy is another version with the same definition). `weights` holds a canary's second version
/// and its share of the traffic in percent (a whole number, as Step Functions spells it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SfnArtifact {
    /// The version number as a string ("3"): the last part of its ARN.
    pub version: String,
    /// `arn:aws:states:REGION:ACCOUNT:stateMachine:NAME:3`
    pub version_arn: String,
    /// Hex SHA-256 of the version's definition, exactly as Step Functions keeps it.
    pub definition_sha256: String,
    /// Weighted routing to a second version: version -> percent of traffic.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub weights: std::collections::BTreeMap<String, u8>,
}

/// Any artifact type as a record's JSON value.
pub fn to_value<T: Serialize>(artifact: &T) -> Value {
    serde_json::to_value(artifact).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_and_actions_round_trip_their_names() {
        for service in Service::ALL {
            assert_eq!(service.as_str().parse::<Service>(), Ok(service));
            assert_eq!(
                serde_json::to_value(service).ok(),
                Some(Value::String(service.as_str().into()))
            );
        }
        for action in Action::ALL {
            assert_eq!(action.as_str().parse::<Action>(), Ok(action));
            assert_eq!(
                serde_json::to_value(action).ok(),
                Some(Value::String(action.as_str().into()))
            );
        }
    }

    #[test]
    fn unknown_service_lists_the_known_ones() {
        let err = "lamda".parse::<Service>().unwrap_err();
        assert!(err.contains("\"lamda\""), "{err}");
        assert!(
            err.contains("lambda, ecr, ecs, apigateway, s3, stepfunctions, config"),
            "{err}"
        );
    }

    #[test]
    fn unknown_fields_survive_a_round_trip() {
        let line = r#"{"service":"lambda","action":"resolved","resource":"f","ticket":"OPS-1"}"#;
        let record: Record = serde_json::from_str(line).unwrap();
        assert_eq!(record.extra.get("ticket"), Some(&Value::from("OPS-1")));
        let again: Value = serde_json::from_str(&record.to_json_line()).unwrap();
        assert_eq!(again["ticket"], "OPS-1");
        assert_eq!(again["previous"], Value::Null);
    }

    #[test]
    fn output_keeps_the_documented_field_order() {
        let mut record = Record::new(Service::Lambda, Action::Promoted, "orders-api");
        record.env = Some("prod".into());
        let line = record.to_json_line();
        let keys: Vec<&str> = [
            "service", "action", "resource", "region", "account", "env", "pointer", "artifact",
            "previous",
        ]
        .into_iter()
        .collect();
        let positions: Vec<usize> = keys
            .iter()
            .map(|k| line.find(&format!("\"{k}\"")).unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{line}");
    }

    #[test]
    fn lambda_artifact_omits_empty_weights_and_compares_routing() {
        let a = LambdaArtifact {
            version: "7".into(),
            code_sha256: "abc=".into(),
            weights: Default::default(),
        };
        assert_eq!(
            a.to_value(),
            serde_json::json!({"version": "7", "code_sha256": "abc="})
        );
        let mut b = a.clone();
        b.weights.insert("8".into(), 0.1);
        assert!(!a.same_routing(&b));
        assert!(a.same_routing(&a.clone()));
    }
}
