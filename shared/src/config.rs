//! promote.toml: the application file. It names the environments in promotion order and, per
//! service, where each environment's pointer and configuration live, `{env}` standing for the
//! environment's name. Every tool works without it through its flags; when it is there, a typo
//! in it is an error naming the file, line and key (exit 2), never silently ignored.

use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The file a tool looks for in the current directory when `--config` is not given.
pub const FILE_NAME: &str = "promote.toml";

/// A parsed, checked promote.toml.
#[derive(Debug, Clone, Default)]
pub struct Project {
    /// Where it was read from (for messages).
    pub path: PathBuf,
    /// Environments in promotion order: each promotes into the next.
    pub order: Vec<String>,
    /// Per-environment AWS settings (another region or profile, e.g. prod in its own account).
    pub envs: BTreeMap<String, EnvSettings>,
    pub lambda: Option<LambdaSection>,
    pub ecs: Option<EcsSection>,
    pub apigateway: Option<ApigatewaySection>,
    pub s3: Option<S3Section>,
    pub stepfunctions: Option<StepfunctionsSection>,
    /// `[ecr]`: how the environments' registries relate.
    pub ecr: Option<EcrSection>,
    /// `[ssm] path`: each environment's Parameter Store path, `/orders/{env}/`.
    pub ssm_path: Option<Template>,
    /// `[secrets] prefix`: each environment's Secrets Manager name prefix, `orders/{env}/`.
    pub secrets_prefix: Option<Template>,
    /// `[canary]`: the gates of a traffic shift.
    pub canary: Option<CanarySection>,
}

/// `[canary]`: the CloudWatch alarms every traffic shift in an environment watches
/// (`alarms = ["orders-{env}-*"]`, globs allowed), and whether INSUFFICIENT_DATA stops it
/// (`insufficient_data = "fail"`; by default it does not, as in CodeDeploy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanarySection {
    pub alarms: Vec<Template>,
    pub insufficient_data_fails: bool,
    /// `pre_traffic = "orders-{env}-smoke"`: the validation function invoked before any
    /// traffic moves (besides `--pre-traffic`).
    pub pre_traffic: Option<Template>,
    /// `post_traffic`: the one invoked once all traffic is on the new artifact.
    pub post_traffic: Option<Template>,
}

/// `[s3]`: the application's objects, `s3://BUCKET/KEY` with `{env}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Section {
    pub objects: Vec<Template>,
}

/// `[ecr]`: `registry`, when every environment pulls its images from one central registry
/// (`111111111111.dkr.ecr.us-east-1.amazonaws.com`): an image in it is pinned as it is in every
/// environment, never copied into the environment's own registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcrSection {
    /// The shared registry: (account, region).
    pub registry: Option<(String, String)>,
}

/// `[stepfunctions]`: the application's state machines (by name or ARN, `{env}` allowed) and
/// how an environment names its alias, as for Lambda.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepfunctionsSection {
    pub state_machines: Vec<Template>,
    pub alias: Template,
}

/// `[apigateway]`: the REST API (id or name) and how an environment names its stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApigatewaySection {
    pub rest_api: Template,
    pub stage: Template,
}

/// `[ecs]`: each environment's cluster and the application's services in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsSection {
    pub cluster: Template,
    pub services: Vec<Template>,
}

/// AWS settings for one environment; each overrides the SDK's defaults, a command-line flag
/// overrides it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct EnvSettings {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
}

/// `[lambda]`: the functions of the application and how an environment names its alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaSection {
    pub functions: Vec<Template>,
    pub alias: Template,
    /// `copy_bucket`: each environment's S3 bucket (in the functions' region) through which a
    /// package too big for the request is copied into that environment's function from another
    /// account or region.
    pub copy_bucket: Option<Template>,
}

/// A name with `{env}` placeholders, checked when the file is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(String);

impl Template {
    /// Check a pattern: `{env}` is the only placeholder, braces must pair.
    pub fn parse(pattern: &str) -> std::result::Result<Template, String> {
        let mut rest = pattern;
        while let Some(open) = rest.find(['{', '}']) {
            if rest[open..].starts_with('}') {
                return Err(format!("unmatched `}}` in {pattern:?}"));
            }
            let after = &rest[open + 1..];
            let close = after
                .find('}')
                .ok_or_else(|| format!("unclosed `{{` in {pattern:?}"))?;
            let name = &after[..close];
            if name != "env" {
                return Err(format!(
                    "unknown placeholder `{{{name}}}` in {pattern:?} (the only placeholder is {{env}})"
                ));
            }
            rest = &after[close + 1..];
        }
        if pattern.is_empty() {
            return Err("empty name".into());
        }
        Ok(Template(pattern.to_string()))
    }

    /// `{env}`: a name that is the environment's own name (the default alias and stage).
    #[must_use]
    pub fn env_name() -> Template {
        Template("{env}".to_string())
    }

    /// The name for one environment.
    #[must_use]
    pub fn render(&self, env: &str) -> String {
        self.0.replace("{env}", env)
    }

    /// The pattern as written.
    #[must_use]
    pub fn pattern(&self) -> &str {
        &self.0
    }

    /// Whether the pattern names a different thing per environment.
    #[must_use]
    pub fn varies_by_env(&self) -> bool {
        self.0.contains("{env}")
    }

    /// Which of `envs` renders to `name`, if any: maps an alias or stage back to its environment.
    pub fn env_of<'a>(&self, name: &str, envs: &'a [String]) -> Option<&'a str> {
        envs.iter()
            .map(String::as_str)
            .find(|env| self.render(env) == name)
    }

    /// The environment a pointer named `name` belongs to: by this template and `order`, or,
    /// without promote.toml's order, the pointer's own name (an alias or stage named after its
    /// environment).
    #[must_use]
    pub fn env_of_pointer(&self, name: &str, order: &[String]) -> Option<String> {
        if order.is_empty() {
            Some(name.to_string())
        } else {
            self.env_of(name, order).map(str::to_string)
        }
    }
}

/// The same resource in another environment: the name that the template which names `name` in
/// `from` gives for `to`. A name no template gives for `from` is the same in every environment
/// (a Lambda function whose environments are aliases of one function).
#[must_use]
pub fn map_name(templates: &[Template], name: &str, from: &str, to: &str) -> String {
    templates
        .iter()
        .find(|t| t.varies_by_env() && t.render(from) == name)
        .map_or_else(|| name.to_string(), |t| t.render(to))
}

impl Project {
    /// Read `explicit`, or ./promote.toml when it exists. `Ok(None)`: no file, flags only.
    pub fn find(explicit: Option<&Path>) -> Result<Option<Project>> {
        let path = match explicit {
            Some(path) => path.to_path_buf(),
            None => {
                let path = PathBuf::from(FILE_NAME);
                if !path.is_file() {
                    return Ok(None);
                }
                path
            }
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::bad_input(path.display(), format!("cannot read: {e}")))?;
        Project::parse(&path, &text).map(Some)
    }

    /// Parse and check the text of a promote.toml.
    pub fn parse(path: &Path, text: &str) -> Result<Project> {
        let at = |span: std::ops::Range<usize>, message: String| {
            let line = 1 + text[..span.start.min(text.len())].matches('\n').count();
            Error::bad_input(format!("{}:{line}", path.display()), message)
        };
        let file: RawFile = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim_end();
            // A value of the wrong type or form: name its key (an unknown key names itself).
            match key_at(text, span.start).filter(|_| message.starts_with("invalid")) {
                Some(key) => at(span, format!("`{key}`: {message}")),
                None => at(span, message.to_string()),
            }
        })?;

        let mut order: Vec<String> = Vec::new();
        if let Some(envs) = &file.envs {
            for name in envs.order.get_ref() {
                check_env_name(name)
                    .map_err(|m| at(envs.order.span(), format!("in `order`: {m}")))?;
                if order.contains(name) {
                    return Err(at(
                        envs.order.span(),
                        format!("in `order`: environment {name:?} is listed twice"),
                    ));
                }
                order.push(name.clone());
            }
        }

        let mut envs = BTreeMap::new();
        for (name, settings) in file.env {
            if !order.contains(name.get_ref()) {
                return Err(at(
                    name.span(),
                    format!(
                        "[env.{0}] names an environment that is not in [envs] order ({1})",
                        name.get_ref(),
                        if order.is_empty() {
                            "no order given".to_string()
                        } else {
                            order.join(", ")
                        }
                    ),
                ));
            }
            envs.insert(
                name.into_inner(),
                EnvSettings {
                    region: settings.region,
                    profile: settings.profile,
                    endpoint_url: settings.endpoint_url,
                },
            );
        }

        let template = |value: &Spanned<String>, key: &str| {
            Template::parse(value.get_ref())
                .map_err(|m| at(value.span(), format!("in `{key}`: {m}")))
        };
        let lambda = match file.lambda {
            None => None,
            Some(section) => Some(LambdaSection {
                functions: section
                    .functions
                    .iter()
                    .map(|f| template(f, "functions"))
                    .collect::<Result<_>>()?,
                alias: match &section.alias {
                    Some(alias) => template(alias, "alias")?,
                    None => Template::env_name(),
                },
                copy_bucket: section
                    .copy_bucket
                    .as_ref()
                    .map(|b| template(b, "copy_bucket"))
                    .transpose()?,
            }),
        };

        let stepfunctions = match file.stepfunctions {
            None => None,
            Some(section) => Some(StepfunctionsSection {
                state_machines: section
                    .state_machines
                    .iter()
                    .map(|m| template(m, "state_machines"))
                    .collect::<Result<_>>()?,
                alias: match &section.alias {
                    Some(alias) => template(alias, "alias")?,
                    None => Template::env_name(),
                },
            }),
        };

        let ecs = match file.ecs {
            None => None,
            Some(section) => Some(EcsSection {
                cluster: template(&section.cluster, "cluster")?,
                services: section
                    .services
                    .iter()
                    .map(|s| template(s, "services"))
                    .collect::<Result<_>>()?,
            }),
        };

        let apigateway = match file.apigateway {
            None => None,
            Some(section) => Some(ApigatewaySection {
                rest_api: template(&section.rest_api, "rest_api")?,
                stage: match &section.stage {
                    Some(stage) => template(stage, "stage")?,
                    None => Template::env_name(),
                },
            }),
        };

        let s3 = match file.s3 {
            None => None,
            Some(section) => Some(S3Section {
                objects: section
                    .objects
                    .iter()
                    .map(|o| {
                        if o.get_ref().starts_with("s3://") {
                            template(o, "objects")
                        } else {
                            Err(at(
                                o.span(),
                                format!("in `objects`: {:?} is not s3://BUCKET/KEY", o.get_ref()),
                            ))
                        }
                    })
                    .collect::<Result<_>>()?,
            }),
        };

        let ecr = match file.ecr {
            None => None,
            Some(section) => Some(EcrSection {
                registry: section
                    .registry
                    .as_ref()
                    .map(|r| {
                        ecr_registry(r.get_ref()).ok_or_else(|| {
                            at(
                                r.span(),
                                format!(
                                    "in `registry`: {:?} is not an ECR registry \
                                     (ACCOUNT.dkr.ecr.REGION.amazonaws.com)",
                                    r.get_ref()
                                ),
                            )
                        })
                    })
                    .transpose()?,
            }),
        };

        let ssm_path = file
            .ssm
            .as_ref()
            .map(|s| template(&s.path, "path"))
            .transpose()?;
        let secrets_prefix = file
            .secrets
            .as_ref()
            .map(|s| template(&s.prefix, "prefix"))
            .transpose()?;

        let canary = match file.canary {
            None => None,
            Some(section) => Some(CanarySection {
                alarms: section
                    .alarms
                    .iter()
                    .map(|a| template(a, "alarms"))
                    .collect::<Result<_>>()?,
                insufficient_data_fails: match section.insufficient_data.as_ref() {
                    None => false,
                    Some(v) => match v.get_ref().as_str() {
                        "ok" => false,
                        "fail" => true,
                        other => {
                            return Err(at(
                                v.span(),
                                format!("`insufficient_data`: {other:?} is not \"ok\" or \"fail\""),
                            ))
                        }
                    },
                },
                pre_traffic: section
                    .pre_traffic
                    .as_ref()
                    .map(|f| template(f, "pre_traffic"))
                    .transpose()?,
                post_traffic: section
                    .post_traffic
                    .as_ref()
                    .map(|f| template(f, "post_traffic"))
                    .transpose()?,
            }),
        };

        Ok(Project {
            path: path.to_path_buf(),
            order,
            envs,
            lambda,
            ecs,
            apigateway,
            s3,
            stepfunctions,
            ecr,
            ssm_path,
            secrets_prefix,
            canary,
        })
    }

    /// The environment that promotes into `to`: the one before it in `order`.
    pub fn env_before(&self, to: &str) -> Result<Option<&str>> {
        let position = self.position(to)?;
        Ok(position.checked_sub(1).map(|i| self.order[i].as_str()))
    }

    /// Where `env` stands in the order; an environment not in it is a usage error.
    pub fn position(&self, env: &str) -> Result<usize> {
        self.order.iter().position(|e| e == env).ok_or_else(|| {
            Error::usage(format!(
                "environment {env:?} is not in {}'s [envs] order ({})",
                self.path.display(),
                if self.order.is_empty() {
                    "none given".to_string()
                } else {
                    self.order.join(", ")
                }
            ))
        })
    }

    /// Whether every environment of the order is reached with the same settings (profile,
    /// region, endpoint): one account and region, so one read of a resource shared by all the
    /// environments answers for all of them.
    #[must_use]
    pub fn one_place(&self) -> bool {
        let mut settings = self.order.iter().map(|env| self.env_settings(env));
        let first = settings.next();
        settings.all(|s| Some(&s) == first.as_ref())
    }

    /// The AWS settings of `env` (empty when the file has no `[env.NAME]` for it).
    #[must_use]
    pub fn env_settings(&self, env: &str) -> EnvSettings {
        self.envs.get(env).cloned().unwrap_or_default()
    }
}

/// The dotted key whose value is at byte `offset` of a TOML text (`envs.order`, `env.prod.region`),
/// for messages: the key of the assignment the offset is in (a value may span lines) and the
/// table header above it. `None` where the offset is in no assignment (a header, a bad line).
fn key_at(text: &str, offset: usize) -> Option<String> {
    let before = &text[..offset.min(text.len())];
    let mut lines = before.rsplit('\n');
    let current = lines.next().unwrap_or("");
    let assignment = std::iter::once(current).chain(lines.by_ref()).find(|l| {
        let t = l.trim_start();
        t.starts_with('[') || (t.contains('=') && !t.starts_with('#'))
    })?;
    if assignment.trim_start().starts_with('[') {
        return None;
    }
    let key = assignment.split('=').next()?.trim().trim_matches('"');
    let table = lines.find(|l| l.trim_start().starts_with('[')).map(|l| {
        l.trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim()
            .to_string()
    });
    Some(match table {
        Some(table) if !table.is_empty() => format!("{table}.{key}"),
        _ => key.to_string(),
    })
}

/// The account and region of an ECR registry host: exactly
/// `ACCOUNT.dkr.ecr.REGION.amazonaws.com` (`.amazonaws.com.cn` in China).
fn ecr_registry(host: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = host.split('.').collect();
    let (account, region) = match parts.as_slice() {
        [account, "dkr", "ecr", region, "amazonaws", "com"]
        | [account, "dkr", "ecr", region, "amazonaws", "com", "cn"] => (*account, *region),
        _ => return None,
    };
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && !region.is_empty())
        .then(|| (account.to_string(), region.to_string()))
}

fn check_env_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("an environment name is empty".into());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "environment name {name:?} may hold only letters, digits, `-` and `_`"
        ));
    }
    Ok(())
}

// The file as written. `deny_unknown_fields` everywhere: a misspelt key is an error, not a
// silently ignored setting.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    envs: Option<RawEnvs>,
    #[serde(default)]
    env: BTreeMap<Spanned<String>, RawEnvSettings>,
    lambda: Option<RawLambda>,
    ecs: Option<RawEcs>,
    apigateway: Option<RawApigateway>,
    s3: Option<RawS3>,
    stepfunctions: Option<RawStepfunctions>,
    ecr: Option<RawEcr>,
    ssm: Option<RawSsm>,
    secrets: Option<RawSecrets>,
    canary: Option<RawCanary>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCanary {
    #[serde(default)]
    alarms: Vec<Spanned<String>>,
    insufficient_data: Option<Spanned<String>>,
    pre_traffic: Option<Spanned<String>>,
    post_traffic: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSsm {
    path: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecrets {
    prefix: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEcr {
    registry: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStepfunctions {
    #[serde(default)]
    state_machines: Vec<Spanned<String>>,
    alias: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawS3 {
    #[serde(default)]
    objects: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApigateway {
    rest_api: Spanned<String>,
    stage: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEcs {
    cluster: Spanned<String>,
    #[serde(default)]
    services: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvs {
    order: Spanned<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvSettings {
    region: Option<String>,
    profile: Option<String>,
    endpoint_url: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLambda {
    #[serde(default)]
    functions: Vec<Spanned<String>>,
    alias: Option<Spanned<String>>,
    copy_bucket: Option<Spanned<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Project> {
        Project::parse(Path::new("promote.toml"), text)
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn canary_gates_are_alarm_templates() {
        let p = parse(
            "[envs]\norder = [\"staging\", \"prod\"]\n[canary]\nalarms = [\"orders-{env}-*\"]\ninsufficient_data = \"fail\"\n",
        )
        .unwrap();
        let canary = p.canary.unwrap();
        assert_eq!(canary.alarms[0].render("prod"), "orders-prod-*");
        assert!(canary.insufficient_data_fails);
        let e = error("[canary]\ninsufficient_data = \"maybe\"\n");
        assert!(
            e.contains("promote.toml:2") && e.contains("insufficient_data"),
            "{e}"
        );
    }

    const GOOD: &str = r#"
[envs]
order = ["dev", "staging", "prod"]

[env.prod]
region = "eu-west-1"
profile = "prod"

[lambda]
functions = ["orders-api", "orders-worker"]
alias = "live-{env}"

[ecs]
cluster = "orders-{env}"
services = ["orders-web"]

[apigateway]
rest_api = "orders"

[s3]
objects = ["s3://orders-artifacts/{env}/web.zip"]

[stepfunctions]
state_machines = ["orders-flow"]

[ssm]
path = "/orders/{env}/"

[secrets]
prefix = "orders/{env}/"
"#;

    #[test]
    fn a_pointer_s_environment_is_found_by_its_template_or_is_its_name() {
        let live = Template::parse("live-{env}").unwrap();
        let order = ["staging".to_string(), "prod".to_string()];
        assert_eq!(
            live.env_of_pointer("live-prod", &order).as_deref(),
            Some("prod")
        );
        assert_eq!(live.env_of_pointer("other", &order), None);
        assert_eq!(live.env_of_pointer("qa", &[]).as_deref(), Some("qa"));
    }

    #[test]
    fn reads_the_documented_example() {
        let p = parse(GOOD).unwrap();
        assert_eq!(p.order, ["dev", "staging", "prod"]);
        assert_eq!(p.env_settings("prod").region.as_deref(), Some("eu-west-1"));
        assert_eq!(p.env_settings("dev"), EnvSettings::default());
        let lambda = p.lambda.unwrap();
        assert_eq!(lambda.functions[1].render("prod"), "orders-worker");
        assert_eq!(lambda.alias.render("prod"), "live-prod");
        let ecs = p.ecs.unwrap();
        assert_eq!(ecs.cluster.render("staging"), "orders-staging");
        assert_eq!(ecs.services[0].render("staging"), "orders-web");
        let apigateway = p.apigateway.unwrap();
        assert_eq!(apigateway.rest_api.render("prod"), "orders");
        assert_eq!(
            apigateway.stage.render("prod"),
            "prod",
            "the stage defaults to the environment's name"
        );
        assert_eq!(
            p.s3.unwrap().objects[0].render("dev"),
            "s3://orders-artifacts/dev/web.zip"
        );
        let sfn = p.stepfunctions.unwrap();
        assert_eq!(sfn.state_machines[0].render("prod"), "orders-flow");
        assert_eq!(
            sfn.alias.render("prod"),
            "prod",
            "the alias defaults to the name"
        );
        assert_eq!(p.ssm_path.unwrap().render("prod"), "/orders/prod/");
        assert_eq!(p.secrets_prefix.unwrap().render("prod"), "orders/prod/");
    }

    #[test]
    fn a_shared_registry_is_an_ecr_host() {
        let p =
            parse("[ecr]\nregistry = \"111111111111.dkr.ecr.us-east-1.amazonaws.com\"\n").unwrap();
        assert_eq!(
            p.ecr.unwrap().registry,
            Some(("111111111111".to_string(), "us-east-1".to_string()))
        );
        let e = error("[ecr]\nregistry = \"docker.io\"\n");
        assert!(e.starts_with("promote.toml:2: in `registry`"), "{e}");
        let e = error("[ecr]\nregistries = \"x\"\n");
        assert!(e.contains("unknown field `registries`"), "{e}");
    }

    #[test]
    fn alias_defaults_to_the_environment_name() {
        let p = parse("[envs]\norder=[\"a\",\"b\"]\n[lambda]\nfunctions=[\"f\"]\n").unwrap();
        assert_eq!(p.lambda.unwrap().alias.render("b"), "b");
    }

    #[test]
    fn env_before_follows_the_order() {
        let p = parse(GOOD).unwrap();
        assert_eq!(p.env_before("prod").unwrap(), Some("staging"));
        assert_eq!(p.env_before("dev").unwrap(), None);
        let e = p.env_before("qa").unwrap_err();
        assert_eq!(e.exit_code().code(), 2);
        assert!(e.to_string().contains("dev, staging, prod"), "{e}");
    }

    #[test]
    fn unknown_keys_name_the_line_and_key() {
        let e = error("[envs]\norder = [\"a\"]\n\n[lambda]\nfunctions = []\naliases = \"x\"\n");
        assert!(
            e.starts_with("promote.toml:6: unknown field `aliases`"),
            "{e}"
        );
        let e = error("[lamda]\n");
        assert!(
            e.starts_with("promote.toml:1: unknown field `lamda`"),
            "{e}"
        );
    }

    #[test]
    fn bad_values_name_the_line() {
        let e = error("[envs]\norder = \"dev\"\n");
        assert!(
            e.starts_with("promote.toml:2: `envs.order`: invalid type"),
            "{e}"
        );
        let e = error("[envs]\norder = [\"dev\", \"dev\"]\n");
        assert!(e.contains("listed twice"), "{e}");
        let e = error("[envs]\norder = [\"d v\"]\n");
        assert!(e.starts_with("promote.toml:2: in `order`"), "{e}");
    }

    #[test]
    fn bad_templates_are_refused_with_their_line() {
        let e = error("[lambda]\nfunctions = [\"f\"]\nalias = \"{stage}\"\n");
        assert!(
            e.starts_with("promote.toml:3: in `alias`: unknown placeholder `{stage}`"),
            "{e}"
        );
        let e = error("[lambda]\nfunctions = [\"f-{env\"]\n");
        assert!(
            e.starts_with("promote.toml:2: in `functions`: unclosed `{`"),
            "{e}"
        );
        let e = error("[lambda]\nalias = \"a}\"\n");
        assert!(e.contains("unmatched `}`"), "{e}");
    }

    #[test]
    fn env_sections_must_name_ordered_environments() {
        let e = error("[envs]\norder = [\"dev\"]\n\n[env.prd]\nregion = \"x\"\n");
        assert!(e.starts_with("promote.toml:4:"), "{e}");
        assert!(e.contains("[env.prd]"), "{e}");
    }

    #[test]
    fn names_map_between_environments() {
        let templates = [
            Template::parse("orders-{env}").unwrap(),
            Template::parse("shared").unwrap(),
        ];
        assert_eq!(
            map_name(&templates, "orders-staging", "staging", "prod"),
            "orders-prod"
        );
        assert_eq!(map_name(&templates, "shared", "staging", "prod"), "shared");
        assert_eq!(map_name(&templates, "other", "staging", "prod"), "other");
    }

    #[test]
    fn templates_map_names_back_to_environments() {
        let t = Template::parse("live-{env}").unwrap();
        let envs = vec!["dev".to_string(), "prod".to_string()];
        assert_eq!(t.env_of("live-prod", &envs), Some("prod"));
        assert_eq!(t.env_of("prod", &envs), None);
        assert!(t.varies_by_env());
        assert!(!Template::parse("x").unwrap().varies_by_env());
    }

    #[test]
    fn a_type_error_names_its_key() {
        let text = "[envs]\norder = \"staging\"\n\n[env.prod]\nregion = 5\n[lambda]\nfunctions = [\n  \"a\",\n  5,\n]\n";
        let at = |needle: &str| key_at(text, text.find(needle).unwrap());
        assert_eq!(at("\"staging\"").as_deref(), Some("envs.order"));
        assert_eq!(at("5\n[lambda]").as_deref(), Some("env.prod.region"));
        assert_eq!(at("5,").as_deref(), Some("lambda.functions"));
        assert_eq!(key_at(text, 0), None);
        let error = parse("[envs]\norder = \"staging\"\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains(":2: `envs.order`: invalid type"), "{error}");
    }
}
