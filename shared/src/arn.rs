//! Resource names as AWS accepts them: a name, or an ARN (and, for Lambda, the partial ARN
//! `ACCOUNT:function:NAME`). One typed parser per resource kind, so that whatever form a user
//! wrote in promote.toml, a flag or a record, every command reaches the same resource and prints
//! the same canonical name in its records; a record is read back by the same parser, so a
//! release named by ARN can always be undone.
//!
//! Parsing is pure: it never calls AWS. What an ARN says beyond the name (its region and
//! account) is kept, so the caller can send the request to that region and refuse a record that
//! names another account than the one it writes in.

use std::fmt;

/// An Amazon Resource Name, split into its six parts. `resource` keeps everything after the
/// fifth colon, colons and slashes included (`function:NAME:QUALIFIER`, `service/CLUSTER/NAME`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn {
    pub partition: String,
    pub service: String,
    pub region: String,
    pub account: String,
    pub resource: String,
}

impl Arn {
    /// Parse `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`; `None` when `text` is not an ARN.
    #[must_use]
    pub fn parse(text: &str) -> Option<Arn> {
        let mut parts = text.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let partition = parts.next()?;
        let service = parts.next()?;
        let region = parts.next()?;
        let account = parts.next()?;
        let resource = parts.next()?;
        if !partition.starts_with("aws") || service.is_empty() || resource.is_empty() {
            return None;
        }
        Some(Arn {
            partition: partition.to_string(),
            service: service.to_string(),
            region: region.to_string(),
            account: account.to_string(),
            resource: resource.to_string(),
        })
    }

    fn non_empty(text: &str) -> Option<String> {
        (!text.is_empty()).then(|| text.to_string())
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:{}:{}:{}:{}",
            self.partition, self.service, self.region, self.account, self.resource
        )
    }
}

/// Where an ARN says a resource lives; both `None` for a plain name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    pub region: Option<String>,
    pub account: Option<String>,
}

impl Place {
    fn of(arn: &Arn) -> Place {
        Place {
            region: Arn::non_empty(&arn.region),
            account: Arn::non_empty(&arn.account),
        }
    }
}

/// Characters AWS allows in ECS cluster and service names.
fn ecs_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 255
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn arn_of(text: &str, service: &str, what: &str) -> Result<Option<Arn>, String> {
    if !text.starts_with("arn:") {
        return Ok(None);
    }
    match Arn::parse(text) {
        Some(arn) if arn.service == service => Ok(Some(arn)),
        Some(arn) => Err(format!("{text:?} is a {} ARN, not {what}", arn.service)),
        None => Err(format!("{text:?} is not a valid ARN")),
    }
}

/// An ECS cluster: `NAME` or `arn:aws:ecs:REGION:ACCOUNT:cluster/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsCluster {
    pub name: String,
    pub place: Place,
}

impl EcsCluster {
    /// Parse a cluster as ECS accepts it.
    ///
    /// # Errors
    /// A message naming the text when it is neither a cluster name nor a cluster ARN.
    pub fn parse(text: &str) -> Result<EcsCluster, String> {
        if let Some(arn) = arn_of(text, "ecs", "an ECS cluster")? {
            return match arn.resource.strip_prefix("cluster/") {
                Some(name) if ecs_name(name) => Ok(EcsCluster {
                    name: name.to_string(),
                    place: Place::of(&arn),
                }),
                _ => Err(format!(
                    "{text:?} is not an ECS cluster ARN (…:cluster/NAME)"
                )),
            };
        }
        if ecs_name(text) {
            Ok(EcsCluster {
                name: text.to_string(),
                place: Place::default(),
            })
        } else {
            Err(format!(
                "{text:?} is not an ECS cluster name (letters, digits, - and _) or ARN"
            ))
        }
    }
}

/// An ECS service of a cluster. Forms accepted: `CLUSTER/SERVICE` (a record's `resource`), the
/// service ARN `arn:aws:ecs:REGION:ACCOUNT:service/CLUSTER/SERVICE`, and, given the cluster
/// elsewhere, a bare `SERVICE` or the old-format ARN `…:service/SERVICE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsService {
    pub cluster: String,
    pub service: String,
    pub place: Place,
}

impl EcsService {
    /// `CLUSTER/SERVICE`: the canonical name, as records print it.
    #[must_use]
    pub fn resource(&self) -> String {
        format!("{}/{}", self.cluster, self.service)
    }

    /// Parse a service named on its own, as a record's `resource` or a service ARN.
    ///
    /// # Errors
    /// A message naming the text when no cluster can be read from it.
    pub fn parse(text: &str) -> Result<EcsService, String> {
        Self::parse_in(text, None)
    }

    /// Parse a service, with `cluster` (a name or ARN) for the forms that do not carry one. A
    /// service ARN that names another cluster than `cluster` is refused.
    ///
    /// # Errors
    /// A message naming the text when it is no service form, or contradicts `cluster`.
    pub fn parse_in(text: &str, cluster: Option<&str>) -> Result<EcsService, String> {
        let cluster = cluster.map(EcsCluster::parse).transpose()?;
        let (named_cluster, service, mut place) =
            if let Some(arn) = arn_of(text, "ecs", "an ECS service")? {
                let place = Place::of(&arn);
                let rest = arn.resource.strip_prefix("service/").ok_or_else(|| {
                    format!("{text:?} is not an ECS service ARN (…:service/CLUSTER/SERVICE)")
                })?;
                match rest.split_once('/') {
                    Some((c, s)) => (Some(c.to_string()), s.to_string(), place),
                    None => (None, rest.to_string(), place),
                }
            } else {
                match text.split_once('/') {
                    Some((c, s)) => (Some(c.to_string()), s.to_string(), Place::default()),
                    None => (None, text.to_string(), Place::default()),
                }
            };
        if !ecs_name(&service) {
            return Err(format!(
                "{text:?} is not CLUSTER/SERVICE or an ECS service ARN"
            ));
        }
        let cluster_name = match (named_cluster, &cluster) {
            (Some(named), _) if !ecs_name(&named) => {
                return Err(format!(
                    "{text:?} is not CLUSTER/SERVICE or an ECS service ARN"
                ))
            }
            (Some(named), Some(given)) if named != given.name => {
                return Err(format!(
                    "service {text:?} is in cluster {named}, not {}",
                    given.name
                ))
            }
            (Some(named), _) => named,
            (None, Some(given)) => given.name.clone(),
            (None, None) => {
                return Err(format!(
                    "{text:?} is not CLUSTER/SERVICE or an ECS service ARN naming its cluster"
                ))
            }
        };
        if let Some(given) = cluster {
            place.region = place.region.or(given.place.region);
            place.account = place.account.or(given.place.account);
        }
        Ok(EcsService {
            cluster: cluster_name,
            service,
            place,
        })
    }
}

/// A Lambda function, in every form Lambda's `FunctionName` accepts: `NAME`, `NAME:QUALIFIER`,
/// the partial ARN `ACCOUNT:function:NAME[:QUALIFIER]` and the full ARN
/// `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaFunction {
    pub name: String,
    /// A version or alias the text named after the function (`my-fn:prod`).
    pub qualifier: Option<String>,
    pub place: Place,
}

fn lambda_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn lambda_qualifier(text: &str) -> bool {
    text == "$LATEST"
        || (!text.is_empty()
            && text.len() <= 128
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

impl LambdaFunction {
    /// Parse a function as Lambda accepts it.
    ///
    /// # Errors
    /// A message naming the text when it is none of the accepted forms.
    pub fn parse(text: &str) -> Result<LambdaFunction, String> {
        let bad = || {
            format!(
                "{text:?} is not a Lambda function: NAME, NAME:QUALIFIER, ACCOUNT:function:NAME or \
                 arn:aws:lambda:REGION:ACCOUNT:function:NAME"
            )
        };
        let (rest, place) = if let Some(arn) = arn_of(text, "lambda", "a Lambda function")? {
            let place = Place::of(&arn);
            let rest = arn
                .resource
                .strip_prefix("function:")
                .ok_or_else(bad)?
                .to_string();
            (rest, place)
        } else if let Some((account, rest)) = text.split_once(":function:") {
            if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            (
                rest.to_string(),
                Place {
                    region: None,
                    account: Some(account.to_string()),
                },
            )
        } else {
            (text.to_string(), Place::default())
        };
        let (name, qualifier) = match rest.split_once(':') {
            Some((name, qualifier)) => (name.to_string(), Some(qualifier.to_string())),
            None => (rest, None),
        };
        if !lambda_name(&name) || qualifier.as_deref().is_some_and(|q| !lambda_qualifier(q)) {
            return Err(bad());
        }
        Ok(LambdaFunction {
            name,
            qualifier,
            place,
        })
    }
}

/// A Step Functions state machine: `NAME` or `arn:aws:states:REGION:ACCOUNT:stateMachine:NAME`,
/// with what an ARN names after it (a version number or an alias) kept apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateMachine {
    pub name: String,
    /// A version or alias the ARN named after the state machine (`…:orders-flow:3`).
    pub qualifier: Option<String>,
    /// The partition an ARN names (`aws` for a name alone).
    pub partition: String,
    pub place: Place,
}

/// Characters Step Functions allows in state machine and alias names (1 to 80 of them).
fn sfn_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 80
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

impl StateMachine {
    /// Parse a state machine as Step Functions names it.
    ///
    /// # Errors
    /// A message naming the text when it is neither a state machine name nor its ARN.
    pub fn parse(text: &str) -> Result<StateMachine, String> {
        let bad = || {
            format!(
                "{text:?} is not a state machine: NAME or \
                 arn:aws:states:REGION:ACCOUNT:stateMachine:NAME"
            )
        };
        let Some(arn) = arn_of(text, "states", "a Step Functions state machine")? else {
            return if sfn_name(text) {
                Ok(StateMachine {
                    name: text.to_string(),
                    qualifier: None,
                    partition: "aws".into(),
                    place: Place::default(),
                })
            } else {
                Err(bad())
            };
        };
        let rest = arn.resource.strip_prefix("stateMachine:").ok_or_else(bad)?;
        let (name, qualifier) = match rest.split_once(':') {
            Some((name, qualifier)) => (name, Some(qualifier.to_string())),
            None => (rest, None),
        };
        if !sfn_name(name) || qualifier.as_deref().is_some_and(|q| !sfn_name(q)) {
            return Err(bad());
        }
        Ok(StateMachine {
            name: name.to_string(),
            qualifier,
            partition: arn.partition.clone(),
            place: Place::of(&arn),
        })
    }

    /// The state machine's ARN in `region` and `account` (an ARN's own, where it named them).
    #[must_use]
    pub fn arn(&self, region: &str, account: &str) -> String {
        format!(
            "arn:{}:states:{}:{}:stateMachine:{}",
            self.partition,
            self.place.region.as_deref().unwrap_or(region),
            self.place.account.as_deref().unwrap_or(account),
            self.name
        )
    }
}

/// An API Gateway REST API: its id or name, or its ARN `arn:aws:apigateway:REGION::/restapis/ID`.
/// A name is any text API Gateway accepts, so only an ARN is parsed; telling an id from a name
/// needs AWS (`shared::apigateway::find_api`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestApi {
    /// The id (from an ARN), or the id or name as written.
    pub id_or_name: String,
    pub place: Place,
}

/// The id and the rest of an API Gateway ARN's resource `/restapis/ID[/…]`.
fn rest_api_arn<'a>(text: &str, arn: &'a Arn) -> Result<(&'a str, &'a str), String> {
    let rest = arn.resource.strip_prefix("/restapis/").ok_or_else(|| {
        format!("{text:?} is not a REST API ARN (arn:aws:apigateway:REGION::/restapis/ID)")
    })?;
    let (id, after) = rest.split_once('/').unwrap_or((rest, ""));
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!(
            "{text:?} is not a REST API ARN (arn:aws:apigateway:REGION::/restapis/ID)"
        ));
    }
    Ok((id, after))
}

impl RestApi {
    /// Parse a REST API as a command or promote.toml names it. A stage's ARN is refused: the
    /// environment chooses the stage.
    ///
    /// # Errors
    /// A message naming the text, when it is an ARN of something else than a REST API.
    pub fn parse(text: &str) -> Result<RestApi, String> {
        if text.is_empty() {
            return Err("empty REST API id or name".into());
        }
        let Some(arn) = arn_of(text, "apigateway", "an API Gateway REST API")? else {
            return Ok(RestApi {
                id_or_name: text.to_string(),
                place: Place::default(),
            });
        };
        match rest_api_arn(text, &arn)? {
            (id, "") => Ok(RestApi {
                id_or_name: id.to_string(),
                place: Place::of(&arn),
            }),
            (_, after) => Err(format!(
                "{text:?} names /{after} of a REST API, not the API alone"
            )),
        }
    }
}

/// A stage of a REST API, by its ARN `arn:aws:apigateway:REGION::/restapis/ID/stages/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApigwStage {
    pub api: String,
    pub stage: String,
    pub place: Place,
}

impl ApigwStage {
    /// Parse a stage ARN.
    ///
    /// # Errors
    /// A message naming the text, when it is no stage ARN.
    pub fn parse(text: &str) -> Result<ApigwStage, String> {
        let bad = || {
            format!(
                "{text:?} is not an API Gateway stage ARN \
                 (arn:aws:apigateway:REGION::/restapis/ID/stages/NAME)"
            )
        };
        let arn = arn_of(text, "apigateway", "an API Gateway stage")?.ok_or_else(bad)?;
        let (id, after) = rest_api_arn(text, &arn)?;
        match after.strip_prefix("stages/") {
            Some(stage)
                if !stage.is_empty()
                    && stage
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                Ok(ApigwStage {
                    api: id.to_string(),
                    stage: stage.to_string(),
                    place: Place::of(&arn),
                })
            }
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn state_machines_by_name_or_arn_with_qualifiers_apart() {
        let name = StateMachine::parse("orders-flow").unwrap();
        assert_eq!(
            (name.name.as_str(), name.qualifier.as_deref()),
            ("orders-flow", None)
        );
        assert_eq!(
            name.arn("eu-west-1", "111111111111"),
            "arn:aws:states:eu-west-1:111111111111:stateMachine:orders-flow"
        );
        let arn = "arn:aws:states:us-east-1:222222222222:stateMachine:orders-flow";
        let parsed = StateMachine::parse(arn).unwrap();
        assert_eq!(parsed.place.region.as_deref(), Some("us-east-1"));
        assert_eq!(parsed.arn("eu-west-1", "111111111111"), arn);
        let version = StateMachine::parse(&format!("{arn}:3")).unwrap();
        assert_eq!(version.qualifier.as_deref(), Some("3"));
        assert!(StateMachine::parse("arn:aws:lambda:us-east-1:1:function:f")
            .unwrap_err()
            .contains("lambda ARN"));
        assert!(StateMachine::parse("orders flow").is_err());
        assert!(StateMachine::parse("arn:aws:states:us-east-1:2:activity:x").is_err());
    }
    use super::*;

    #[test]
    fn an_arn_keeps_colons_in_its_resource() {
        let arn = Arn::parse("arn:aws:lambda:eu-west-1:123456789012:function:api:prod").unwrap();
        assert_eq!(arn.service, "lambda");
        assert_eq!(arn.region, "eu-west-1");
        assert_eq!(arn.account, "123456789012");
        assert_eq!(arn.resource, "function:api:prod");
        assert_eq!(
            arn.to_string(),
            "arn:aws:lambda:eu-west-1:123456789012:function:api:prod"
        );
        assert!(Arn::parse("arn:aws:lambda").is_none());
        assert!(Arn::parse("api").is_none());
    }

    #[test]
    fn a_cluster_by_name_or_arn_is_the_same_cluster() {
        let by_name = EcsCluster::parse("orders-prod").unwrap();
        let by_arn =
            EcsCluster::parse("arn:aws:ecs:us-east-1:123456789012:cluster/orders-prod").unwrap();
        assert_eq!(by_name.name, by_arn.name);
        assert_eq!(by_arn.place.region.as_deref(), Some("us-east-1"));
        assert_eq!(by_arn.place.account.as_deref(), Some("123456789012"));
        assert!(EcsCluster::parse("arn:aws:ecs:us-east-1:1:service/a/b").is_err());
        assert!(EcsCluster::parse("arn:aws:lambda:us-east-1:1:function:x")
            .unwrap_err()
            .contains("lambda ARN"));
        assert!(EcsCluster::parse("a b").is_err());
    }

    #[test]
    fn every_service_form_gives_cluster_slash_service() {
        let forms = [
            ("orders-prod/web", None),
            (
                "arn:aws:ecs:us-east-1:123456789012:service/orders-prod/web",
                None,
            ),
            ("web", Some("orders-prod")),
            (
                "web",
                Some("arn:aws:ecs:us-east-1:123456789012:cluster/orders-prod"),
            ),
            (
                "arn:aws:ecs:us-east-1:123456789012:service/web",
                Some("orders-prod"),
            ),
            (
                "arn:aws:ecs:us-east-1:123456789012:service/orders-prod/web",
                Some("orders-prod"),
            ),
        ];
        for (text, cluster) in forms {
            let service = EcsService::parse_in(text, cluster).unwrap();
            assert_eq!(
                service.resource(),
                "orders-prod/web",
                "{text} in {cluster:?}"
            );
        }
        let by_arn = EcsService::parse("arn:aws:ecs:eu-west-1:222222222222:service/c/s").unwrap();
        assert_eq!(by_arn.place.region.as_deref(), Some("eu-west-1"));
        assert_eq!(by_arn.place.account.as_deref(), Some("222222222222"));
    }

    #[test]
    fn a_service_form_without_a_cluster_or_with_another_is_refused() {
        assert!(EcsService::parse("web")
            .unwrap_err()
            .contains("CLUSTER/SERVICE"));
        assert!(EcsService::parse("a/b/c").is_err());
        assert!(EcsService::parse("/web").is_err());
        assert!(EcsService::parse("arn:aws:ecs:us-east-1:1:service/web").is_err());
        assert!(EcsService::parse_in("other/web", Some("orders-prod"))
            .unwrap_err()
            .contains("in cluster other, not orders-prod"));
        assert!(EcsService::parse("arn:aws:ecs:us-east-1:1:cluster/c").is_err());
    }

    #[test]
    fn every_function_form_names_the_same_function() {
        for text in [
            "api",
            "123456789012:function:api",
            "arn:aws:lambda:us-east-1:123456789012:function:api",
            "arn:aws-cn:lambda:cn-north-1:123456789012:function:api",
        ] {
            let function = LambdaFunction::parse(text).unwrap();
            assert_eq!(function.name, "api", "{text}");
            assert_eq!(function.qualifier, None, "{text}");
        }
        let qualified =
            LambdaFunction::parse("arn:aws:lambda:eu-west-1:123456789012:function:api:prod")
                .unwrap();
        assert_eq!(qualified.qualifier.as_deref(), Some("prod"));
        assert_eq!(qualified.place.region.as_deref(), Some("eu-west-1"));
        let partial = LambdaFunction::parse("123456789012:function:api:7").unwrap();
        assert_eq!(partial.place.account.as_deref(), Some("123456789012"));
        assert_eq!(partial.place.region, None);
        assert_eq!(partial.qualifier.as_deref(), Some("7"));
        assert_eq!(
            LambdaFunction::parse("api:$LATEST")
                .unwrap()
                .qualifier
                .as_deref(),
            Some("$LATEST")
        );
    }

    #[test]
    fn a_function_form_lambda_refuses_is_refused() {
        for text in [
            "",
            "12:function:api",
            "arn:aws:lambda:us-east-1:123456789012:layer:x",
            "arn:aws:s3:::bucket",
            "api:prod:extra",
            "a b",
        ] {
            assert!(LambdaFunction::parse(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn a_rest_api_by_id_name_or_arn() {
        let by_arn = RestApi::parse("arn:aws:apigateway:eu-west-1::/restapis/a1b2c3d4e5").unwrap();
        assert_eq!(by_arn.id_or_name, "a1b2c3d4e5");
        assert_eq!(by_arn.place.region.as_deref(), Some("eu-west-1"));
        assert_eq!(by_arn.place.account, None);
        for text in ["a1b2c3d4e5", "orders", "Orders API"] {
            let api = RestApi::parse(text).unwrap();
            assert_eq!(api.id_or_name, text);
            assert_eq!(api.place, Place::default());
        }
        assert!(
            RestApi::parse("arn:aws:apigateway:eu-west-1::/restapis/a1b2c3d4e5/stages/prod")
                .unwrap_err()
                .contains("not the API alone")
        );
        assert!(RestApi::parse("arn:aws:apigateway:eu-west-1::/apis/x").is_err());
        assert!(RestApi::parse("arn:aws:lambda:eu-west-1:1:function:f")
            .unwrap_err()
            .contains("lambda ARN"));
        assert!(RestApi::parse("").is_err());
    }

    #[test]
    fn a_stage_by_arn() {
        let stage =
            ApigwStage::parse("arn:aws:apigateway:us-east-1::/restapis/a1b2c3d4e5/stages/prod")
                .unwrap();
        assert_eq!(stage.api, "a1b2c3d4e5");
        assert_eq!(stage.stage, "prod");
        assert_eq!(stage.place.region.as_deref(), Some("us-east-1"));
        for text in [
            "prod",
            "arn:aws:apigateway:us-east-1::/restapis/a1b2c3d4e5",
            "arn:aws:apigateway:us-east-1::/restapis/a1b2c3d4e5/stages/",
            "arn:aws:apigateway:us-east-1::/restapis/a1b2c3d4e5/deployments/x",
        ] {
            assert!(ApigwStage::parse(text).is_err(), "{text}");
        }
    }
}
