//! FUNCTION arguments: a name, a partial ARN or a full ARN. The API takes any of them; the region
//! of a full ARN decides which regional endpoint to call.

/// A function as the user named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    /// What the API is given and what records show as `resource`: the text as written.
    pub id: String,
    /// The region named by a full ARN.
    pub region: Option<String>,
}

impl FunctionRef {
    /// Check a FUNCTION argument. A qualified ARN (`...:function:f:prod`) is refused: the alias
    /// is chosen by the environment, not by the name.
    pub fn parse(s: &str) -> Result<FunctionRef, String> {
        if s.is_empty() {
            return Err("empty function name".into());
        }
        if let Some(rest) = s.strip_prefix("arn:") {
            let parts: Vec<&str> = rest.split(':').collect();
            // partition:lambda:region:account:function:name[:qualifier]
            if parts.len() < 6
                || parts[1] != "lambda"
                || parts[4] != "function"
                || parts[5].is_empty()
            {
                return Err(format!(
                    "{s:?} is not a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)"
                ));
            }
            if parts.len() > 6 {
                return Err(format!(
                    "{s:?} names a version or alias; give the function alone (the environment chooses the alias)"
                ));
            }
            return Ok(FunctionRef {
                id: s.to_string(),
                region: Some(parts[2].to_string()).filter(|r| !r.is_empty()),
            });
        }
        if s.contains(':') && s.split(':').count() > 1 && !s.contains(":function:") {
            return Err(format!(
                "{s:?} names a version or alias; give the function alone (the environment chooses the alias)"
            ));
        }
        if s.chars().any(char::is_whitespace) {
            return Err(format!("{s:?} is not a function name (no spaces allowed)"));
        }
        Ok(FunctionRef {
            id: s.to_string(),
            region: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_arns() {
        assert_eq!(FunctionRef::parse("orders-api").unwrap().region, None);
        let arn = FunctionRef::parse("arn:aws:lambda:eu-west-1:123456789012:function:orders-api")
            .unwrap();
        assert_eq!(arn.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            arn.id,
            "arn:aws:lambda:eu-west-1:123456789012:function:orders-api"
        );
    }

    #[test]
    fn qualified_names_are_refused() {
        assert!(
            FunctionRef::parse("arn:aws:lambda:eu-west-1:123456789012:function:f:prod").is_err()
        );
        assert!(FunctionRef::parse("f:prod").is_err());
        assert!(FunctionRef::parse("arn:aws:s3:::bucket").is_err());
        assert!(FunctionRef::parse("").is_err());
        assert!(FunctionRef::parse("a b").is_err());
    }
}
