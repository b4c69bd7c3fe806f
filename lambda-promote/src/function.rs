//! FUNCTION arguments, promote.toml's `functions` and records' `resource`: every form Lambda
//! accepts (a name, the partial ARN `ACCOUNT:function:NAME`, the full ARN), read by the shared
//! parser (`shared::arn::LambdaFunction`), so the same function is reached and printed the same
//! way whichever form named it, and the tool's own output is always its input.

use shared::arn::LambdaFunction;
use shared::config::Template;
use std::fmt;

/// Where promote.toml's `functions` carry a qualifier.
pub const TOML_HINT: &str =
    "promote.toml's [lambda] functions name each function alone; `alias` names the alias";

/// A function as the tool addresses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    /// The canonical name: what records show as `resource` and messages name.
    pub name: String,
    /// What the API is given. A full ARN is sent as it is, so AWS itself refuses (or allows, by
    /// the function's policy) a function of another account than the credentials'; otherwise
    /// the name. (A partial ARN is sent by name: its region is the client's anyway, and the
    /// emulator answers the partial form with HTTP 500.)
    pub id: String,
    /// The region named by a full ARN: the regional endpoint to call, and the record's `region`.
    pub region: Option<String>,
}

impl fmt::Display for FunctionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl FunctionRef {
    /// A function alone, in any form Lambda accepts. A qualifier (`orders-api:prod`,
    /// `…:function:orders-api:7`) is refused with `hint`, which says which flag or field names
    /// the alias or version instead: the environment chooses the alias, not the name.
    ///
    /// # Errors
    /// A message naming the text, when it is no function form or carries a qualifier.
    pub fn parse(text: &str, hint: &str) -> Result<FunctionRef, String> {
        let parsed = LambdaFunction::parse(text)?;
        if let Some(qualifier) = &parsed.qualifier {
            return Err(format!(
                "{text:?} names {qualifier} of function {}: give the function alone ({hint})",
                parsed.name
            ));
        }
        let id = if text.starts_with("arn:") {
            text.to_string()
        } else {
            parsed.name.clone()
        };
        Ok(FunctionRef {
            name: parsed.name,
            id,
            region: parsed.place.region,
        })
    }

    /// A record's `resource`, whose alias is its `pointer`.
    ///
    /// # Errors
    /// As [`FunctionRef::parse`].
    pub fn of_record(resource: &str) -> Result<FunctionRef, String> {
        Self::parse(resource, "a record names the alias in `pointer`")
    }
}

impl shared::alias_status::Owner for FunctionRef {
    fn parse(text: &str, hint: &str) -> Result<FunctionRef, String> {
        FunctionRef::parse(text, hint)
    }

    fn of_record(resource: &str, region: Option<&str>) -> Result<FunctionRef, String> {
        let function = FunctionRef::of_record(resource)?;
        Ok(FunctionRef {
            region: function.region.or_else(|| region.map(str::to_string)),
            ..function
        })
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }
}

/// The function `function` of environment `from` is in environment `to`: the promote.toml
/// template that renders to it in `from`, rendered for `to` (in whatever form the file names
/// it, ARN and region included); the same function when no template varies by environment.
///
/// # Errors
/// A template that renders to no function form for `to`.
pub fn map_function(
    templates: &[Template],
    function: &FunctionRef,
    from: &str,
    to: &str,
    hint: &str,
) -> Result<FunctionRef, String> {
    for template in templates.iter().filter(|t| t.varies_by_env()) {
        let Ok(there) = FunctionRef::parse(&template.render(from), hint) else {
            continue;
        };
        if there.name == function.name {
            return FunctionRef::parse(&template.render(to), hint);
        }
    }
    Ok(function.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_is_the_same_function_by_name() {
        for text in [
            "orders-api",
            "123456789012:function:orders-api",
            "arn:aws:lambda:eu-west-1:123456789012:function:orders-api",
        ] {
            let f = FunctionRef::parse(text, "").unwrap();
            assert_eq!(f.name, "orders-api", "{text}");
            assert_eq!(f.to_string(), "orders-api", "{text}");
        }
        let arn = FunctionRef::parse(
            "arn:aws:lambda:eu-west-1:123456789012:function:orders-api",
            "",
        )
        .unwrap();
        assert_eq!(arn.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            arn.id,
            "arn:aws:lambda:eu-west-1:123456789012:function:orders-api"
        );
        let partial = FunctionRef::parse("123456789012:function:orders-api", "").unwrap();
        assert_eq!(partial.id, "orders-api");
        assert_eq!(partial.region, None);
    }

    #[test]
    fn a_qualifier_is_refused_naming_the_flag_that_chooses_it() {
        for text in [
            "f:prod",
            "123456789012:function:f:7",
            "arn:aws:lambda:eu-west-1:123456789012:function:f:prod",
        ] {
            let e = FunctionRef::parse(text, "--to names the alias").unwrap_err();
            assert!(
                e.contains("give the function alone (--to names the alias)"),
                "{e}"
            );
        }
        assert!(FunctionRef::parse("arn:aws:s3:::bucket", "").is_err());
        assert!(FunctionRef::parse("", "").is_err());
        assert!(FunctionRef::parse("a b", "").is_err());
    }

    #[test]
    fn templates_map_a_function_to_the_other_environment_in_their_own_form() {
        let templates = [
            Template::parse("arn:aws:lambda:eu-west-1:123456789012:function:api-{env}").unwrap(),
            Template::parse("shared").unwrap(),
        ];
        let staging = FunctionRef::parse("api-staging", "").unwrap();
        let prod = map_function(&templates, &staging, "staging", "prod", "").unwrap();
        assert_eq!(prod.name, "api-prod");
        assert_eq!(prod.region.as_deref(), Some("eu-west-1"));
        let shared = FunctionRef::parse("shared", "").unwrap();
        assert_eq!(
            map_function(&templates, &shared, "staging", "prod", "").unwrap(),
            shared
        );
    }
}
