//! STATE_MACHINE arguments, promote.toml's `state_machines` and records' `resource`: a name or
//! an ARN, read by the shared parser (`shared::arn::StateMachine`). Step Functions takes only
//! ARNs, so a name is made one in the account and region of the environment's credentials.

use crate::calls::Located;
use shared::arn::StateMachine;
use shared::config::Template;
use shared::{Error, Result};
use std::fmt;

/// Where promote.toml's `state_machines` carry a qualifier.
pub const TOML_HINT: &str =
    "promote.toml's [stepfunctions] state_machines name each state machine alone; `alias` names the alias";

/// A state machine as the tool addresses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineRef {
    /// The name: what records show as `resource` (with the region and account in their own
    /// fields) and messages name.
    pub name: String,
    pub parsed: StateMachine,
    /// The region an ARN names: the regional endpoint to call, and the record's `region`.
    pub region: Option<String>,
}

impl fmt::Display for MachineRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl MachineRef {
    /// A state machine alone. A qualifier (`…:stateMachine:NAME:prod`, `…:NAME:3`) is refused
    /// with `hint`, which says which flag names the alias or version instead.
    ///
    /// # Errors
    /// A message naming the text, when it is no state machine or carries a qualifier.
    pub fn parse(text: &str, hint: &str) -> std::result::Result<MachineRef, String> {
        let parsed = StateMachine::parse(text)?;
        if let Some(qualifier) = &parsed.qualifier {
            return Err(format!(
                "{text:?} names {qualifier} of state machine {}: give the state machine alone ({hint})",
                parsed.name
            ));
        }
        Ok(MachineRef {
            name: parsed.name.clone(),
            region: parsed.place.region.clone(),
            parsed,
        })
    }

    /// A record's `resource`, whose alias is its `pointer`.
    ///
    /// # Errors
    /// As [`MachineRef::parse`].
    pub fn of_record(resource: &str) -> std::result::Result<MachineRef, String> {
        Self::parse(resource, "a record names the alias in `pointer`")
    }

    /// The same state machine in another region (a record's).
    #[must_use]
    pub fn in_region(mut self, region: Option<&str>) -> MachineRef {
        if self.region.is_none() {
            self.region = region.map(str::to_string);
        }
        self
    }

    /// Its ARN where `at`'s credentials act (an ARN's own account and region, where it named
    /// them).
    ///
    /// # Errors
    /// A name alone where the account or region of the credentials is not known.
    pub fn arn(&self, at: &Located) -> Result<String> {
        let region = at.region.as_deref().or(self.parsed.place.region.as_deref());
        let account = self
            .parsed
            .place
            .account
            .as_deref()
            .or(at.account.as_deref());
        match (region, account) {
            (Some(region), Some(account)) => Ok(self.parsed.arn(region, account)),
            _ => Err(Error::usage(format!(
                "state machine {}: the account and region of the credentials are not known, so \
                 name it by ARN (arn:aws:states:REGION:ACCOUNT:stateMachine:{})",
                self.name, self.name
            ))),
        }
    }
}

impl shared::alias_status::Owner for MachineRef {
    fn parse(text: &str, hint: &str) -> std::result::Result<MachineRef, String> {
        MachineRef::parse(text, hint)
    }

    fn of_record(resource: &str, region: Option<&str>) -> std::result::Result<MachineRef, String> {
        MachineRef::of_record(resource).map(|m| m.in_region(region))
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }
}

/// The state machine `machine` of environment `from` is in environment `to`: the promote.toml
/// template that renders to it in `from`, rendered for `to`; the same state machine when no
/// template varies by environment.
///
/// # Errors
/// A template that renders to no state machine form for `to`.
pub fn map_machine(
    templates: &[Template],
    machine: &MachineRef,
    from: &str,
    to: &str,
) -> std::result::Result<MachineRef, String> {
    for template in templates.iter().filter(|t| t.varies_by_env()) {
        let Ok(there) = MachineRef::parse(&template.render(from), TOML_HINT) else {
            continue;
        };
        if there.name == machine.name {
            return MachineRef::parse(&template.render(to), TOML_HINT);
        }
    }
    Ok(machine.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_qualifier_is_refused_with_the_hint() {
        let e = MachineRef::parse(
            "arn:aws:states:us-east-1:111111111111:stateMachine:orders:prod",
            "--to chooses the alias",
        )
        .unwrap_err();
        assert!(e.contains("names prod of state machine orders"), "{e}");
        assert!(e.contains("--to chooses the alias"), "{e}");
        let m = MachineRef::parse("orders", "").unwrap();
        assert_eq!(m.name, "orders");
        assert_eq!(m.region, None);
    }

    #[test]
    fn promote_toml_maps_a_machine_between_environments() {
        let templates = [Template::parse("orders-{env}").unwrap()];
        let staging = MachineRef::parse("orders-staging", "").unwrap();
        let prod = map_machine(&templates, &staging, "staging", "prod").unwrap();
        assert_eq!(prod.name, "orders-prod");
        let other = MachineRef::parse("billing", "").unwrap();
        assert_eq!(
            map_machine(&templates, &other, "staging", "prod").unwrap(),
            other
        );
    }
}
