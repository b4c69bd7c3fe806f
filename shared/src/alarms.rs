//! Alarm gates of a traffic shift: CloudWatch alarms named on the command line (`--alarm`,
//! globs allowed) or in promote.toml (`[canary] alarms = ["orders-{env}-*"]`), read in the
//! environment's own account and region. Any alarm in ALARM stops the shift; INSUFFICIENT_DATA
//! does only when asked (`insufficient_data = "fail"`), as in CodeDeploy. A name that matches no
//! alarm is an error: a typo must not leave a shift ungated.

use crate::aws::aws_error;
use crate::error::{Error, Result};
use aws_sdk_cloudwatch::types::StateValue;
use aws_sdk_cloudwatch::Client;

/// One alarm as CloudWatch reports it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alarm {
    pub name: String,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: String,
    pub reason: String,
}

/// What the gate watches: patterns (already rendered for the environment) and whether missing
/// data stops the shift.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gate {
    pub patterns: Vec<String>,
    pub insufficient_data_fails: bool,
}

impl Gate {
    /// The gate of a shift in `env`: promote.toml's `[canary] alarms` rendered for it, then
    /// the command line's `--alarm` patterns.
    #[must_use]
    pub fn of(project: Option<&crate::config::Project>, env: &str, alarms: &[String]) -> Gate {
        let section = project.and_then(|p| p.canary.as_ref());
        let mut patterns: Vec<String> = section
            .map(|c| c.alarms.iter().map(|a| a.render(env)).collect())
            .unwrap_or_default();
        // `--alarm 'orders-{env}-*'`, as promote.toml and ecs-pin's --alarm spell it.
        patterns.extend(alarms.iter().map(|a| a.replace("{env}", env)));
        Gate {
            patterns,
            insufficient_data_fails: section.is_some_and(|c| c.insufficient_data_fails),
        }
    }

    /// Whether there is anything to watch.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }
}

/// The alarm that stops the shift, if any (the first by name).
#[must_use]
pub fn firing<'a>(alarms: &'a [Alarm], gate: &Gate) -> Option<&'a Alarm> {
    alarms.iter().find(|a| {
        a.state == "ALARM" || (gate.insufficient_data_fails && a.state == "INSUFFICIENT_DATA")
    })
}

/// `name state, name state`: what a progress line says of the alarms.
#[must_use]
pub fn summary(alarms: &[Alarm]) -> String {
    alarms
        .iter()
        .map(|a| format!("{} {}", a.name, a.state))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every alarm the gate's patterns match, by name, each once. A pattern is read with
/// DescribeAlarms by the part before its first wildcard (its literal prefix) and matched here.
pub async fn read(client: &Client, gate: &Gate) -> Result<Vec<Alarm>> {
    let mut found: Vec<Alarm> = Vec::new();
    for pattern in &gate.patterns {
        let prefix = crate::glob::literal_prefix(pattern);
        let mut request = client.describe_alarms();
        if prefix == pattern.as_str() {
            request = request.alarm_names(pattern);
        } else if !prefix.is_empty() {
            request = request.alarm_name_prefix(prefix);
        }
        let mut pages = request.into_paginator().send();
        let mut matched = 0;
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| aws_error(format!("failed to read the alarms {pattern:?}"), &e))?;
            let metric = page.metric_alarms().iter().map(|a| {
                (
                    a.alarm_name().unwrap_or_default(),
                    a.state_value(),
                    a.state_reason().unwrap_or_default(),
                )
            });
            let composite = page.composite_alarms().iter().map(|a| {
                (
                    a.alarm_name().unwrap_or_default(),
                    a.state_value(),
                    a.state_reason().unwrap_or_default(),
                )
            });
            for (name, state, reason) in metric.chain(composite) {
                if !crate::glob::matches(pattern, name) {
                    continue;
                }
                matched += 1;
                if found.iter().any(|a| a.name == name) {
                    continue;
                }
                found.push(Alarm {
                    name: name.to_string(),
                    state: state
                        .map_or("INSUFFICIENT_DATA", StateValue::as_str)
                        .to_string(),
                    reason: reason.to_string(),
                });
            }
        }
        if matched == 0 {
            return Err(Error::precondition(format!(
                "no CloudWatch alarm matches {pattern:?}: a gate that watches nothing protects \
                 nothing; nothing changed"
            )));
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alarm(name: &str, state: &str) -> Alarm {
        Alarm {
            name: name.into(),
            state: state.into(),
            reason: String::new(),
        }
    }

    #[test]
    fn an_alarm_flag_names_the_environment_as_promote_toml_does() {
        let gate = Gate::of(
            None,
            "prod",
            &["orders-{env}-*".into(), "shared-5xx".into()],
        );
        assert_eq!(gate.patterns, ["orders-prod-*", "shared-5xx"]);
    }

    #[test]
    fn alarm_stops_the_shift_and_missing_data_only_when_asked() {
        let gate = Gate {
            patterns: vec!["*".into()],
            insufficient_data_fails: false,
        };
        let quiet = [alarm("a", "OK"), alarm("b", "INSUFFICIENT_DATA")];
        assert_eq!(firing(&quiet, &gate), None);
        let strict = Gate {
            insufficient_data_fails: true,
            ..gate.clone()
        };
        assert_eq!(firing(&quiet, &strict).map(|a| a.name.as_str()), Some("b"));
        let loud = [alarm("a", "OK"), alarm("c", "ALARM")];
        assert_eq!(firing(&loud, &gate).map(|a| a.name.as_str()), Some("c"));
        assert_eq!(summary(&loud), "a OK, c ALARM");
    }
}
