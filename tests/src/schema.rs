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
