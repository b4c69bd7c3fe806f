//! The published record schema (docs/record.schema.json), compiled once and applied to every
//! record a test reads: the schema users rely on is checked against what the tools really print.

use serde_json::Value;
use std::sync::OnceLock;

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let path = crate::workspace_root().join("docs/record.schema.json");
        let text = std::fs::read_to_string(&path).expect("docs/record.schema.json exists");
        let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
        jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema")
    })
}

/// Panic, naming every violation, unless `record` follows the schema.
#[track_caller]
pub fn check(record: &Value) {
    let errors: Vec<String> = validator()
        .iter_errors(record)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "record does not follow docs/record.schema.json: {}\n{record}",
        errors.join("; ")
    );
}

/// Whether `record` follows the schema (for tests that check the schema refuses bad records).
#[must_use]
pub fn is_valid(record: &Value) -> bool {
    validator().is_valid(record)
}

#[cfg(test)]
mod tests {
    use super::is_valid;
    use serde_json::json;

    fn lambda() -> serde_json::Value {
        json!({"service": "lambda", "action": "promoted", "resource": "f", "region": "us-east-1",
               "env": "prod", "pointer": "prod",
               "artifact": {"version": "7", "code_sha256": "abc=", "weights": {"8": 0.1}},
               "previous": null})
    }

    #[test]
    fn accepts_a_full_record_and_unknown_fields() {
        assert!(is_valid(&lambda()));
        let mut extra = lambda();
        extra["ticket"] = json!("OPS-1");
        assert!(is_valid(&extra));
        assert!(is_valid(
            &json!({"service": "ecs", "action": "resolved", "resource": "c/s"})
        ));
    }

    #[test]
    fn checks_ecr_and_ecs_artifacts() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let image = format!("r/app@{digest}");
        assert!(is_valid(
            &json!({"service": "ecs", "action": "promoted", "resource": "c/s",
            "artifact": {"task_definition": "arn:td", "images": [{"container": "web", "image": image, "digest": digest}]},
            "previous": null})
        ));
        assert!(is_valid(
            &json!({"service": "ecr", "action": "promoted", "resource": "app", "pointer": "prod",
            "artifact": {"digest": digest, "image": image}, "previous": null})
        ));
        assert!(!is_valid(
            &json!({"service": "ecr", "action": "promoted", "resource": "app",
            "artifact": {"digest": "sha256:short", "image": image}})
        ));
        assert!(!is_valid(
            &json!({"service": "ecs", "action": "promoted", "resource": "c/s",
            "artifact": {"task_definition": "arn:td", "images": [{"container": "web", "image": "r/app:latest", "digest": digest}]}})
        ));
    }

    #[test]
    fn refuses_what_the_contract_forbids() {
        let broken = |path: &str, value: serde_json::Value| {
            let mut record = lambda();
            *record.pointer_mut(path).expect("the path exists") = value;
            record
        };
        assert!(!is_valid(&broken("/service", json!("lamda"))));
        assert!(!is_valid(&broken("/action", json!("moved"))));
        assert!(!is_valid(&broken("/resource", json!(""))));
        assert!(!is_valid(&broken("/artifact/version", json!("$LATEST"))));
        assert!(!is_valid(&broken("/artifact/version", json!(7))));
        assert!(!is_valid(&broken("/artifact/weights", json!({"8": 1.5}))));
        assert!(!is_valid(&broken("/previous", json!("7"))));
        assert!(
            !is_valid(&broken("/action", json!("planned"))),
            "planned needs planned_action"
        );
        let mut missing = lambda();
        missing.as_object_mut().unwrap().remove("resource");
        assert!(!is_valid(&missing));
    }

    #[test]
    fn checks_release_records() {
        let release = |relation: serde_json::Value| {
            json!({"service": "config", "action": "resolved", "resource": "api", "pointer": "{env}",
                   "view": "release", "source": "lambda", "environments": [
                {"env": "staging", "resource": "api", "pointer": "staging", "account": "111111111111",
                 "region": "us-east-1", "artifact": {"version": "2", "code_sha256": "a="}, "relation": null},
                {"env": "prod", "resource": "api", "pointer": "prod", "account": null,
                 "region": null, "artifact": null, "relation": relation, "error": "denied"}]})
        };
        assert!(is_valid(&release(json!("behind"))));
        assert!(is_valid(&release(json!("unknown"))));
        assert!(!is_valid(&release(json!("older"))));
        let mut no_source = release(json!("same"));
        no_source.as_object_mut().unwrap().remove("source");
        assert!(!is_valid(&no_source));
        let mut extra = release(json!("same"));
        extra["environments"][0]["value"] = json!("a configuration value");
        assert!(
            !is_valid(&extra),
            "an environment's cell has artifacts only"
        );
    }
}
