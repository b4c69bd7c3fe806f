//! An API's definition as GetExport writes it (OpenAPI with the API Gateway extensions), made
//! comparable across accounts and regions: a deployment cannot move between accounts, so a
//! promotion there imports the source stage's definition into the target API, and "the same
//! API" then means the same definition once what names the place is taken out. Plain values in,
//! decisions out.

use serde_json::{Map, Value};

/// The comparable form of an exported definition: without where it is served (`servers`,
/// Swagger's `host` and `basePath`), without `info.version` (the export's own date), with every
/// REST API id in `ids` (the source's, the target's) replaced by `{restApiId}`, object keys sorted
/// and arrays in a canonical order (an OpenAPI document's lists are sets: parameters, security
/// requirements, tags, required names).
#[must_use]
pub fn normalise(definition: &Value, ids: &[&str]) -> Value {
    let mut top = definition.clone();
    if let Some(map) = top.as_object_mut() {
        for key in ["servers", "host", "basePath"] {
            map.remove(key);
        }
        if let Some(info) = map.get_mut("info").and_then(Value::as_object_mut) {
            info.remove("version");
        }
    }
    canonical(&top, ids)
}

fn canonical(value: &Value, ids: &[&str]) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for key in keys {
                out.insert(without_ids(key, ids), canonical(&map[key], ids));
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(|v| canonical(v, ids)).collect();
            items.sort_by_cached_key(Value::to_string);
            Value::Array(items)
        }
        Value::String(text) => Value::String(without_ids(text, ids)),
        other => other.clone(),
    }
}

fn without_ids(text: &str, ids: &[&str]) -> String {
    ids.iter()
        .filter(|id| !id.is_empty())
        .fold(text.to_string(), |text, id| text.replace(id, "{restApiId}"))
}

/// The first place (a JSON Pointer, `""` for the whole document) where two definitions differ,
/// or `None` when they are equal. Give it normalised definitions.
#[must_use]
pub fn first_difference(a: &Value, b: &Value) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .find_map(|key| match (x.get(key), y.get(key)) {
                    (Some(v), Some(w)) => {
                        first_difference(v, w).map(|p| format!("/{}{p}", escape(key)))
                    }
                    _ => Some(format!("/{}", escape(key))),
                })
        }
        (Value::Array(x), Value::Array(y)) => {
            let common = x
                .iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (v, w))| first_difference(v, w).map(|p| format!("/{i}{p}")));
            common.or_else(|| (x.len() != y.len()).then(|| format!("/{}", x.len().min(y.len()))))
        }
        (a, b) => (a != b).then(String::new),
    }
}

/// A key as a JSON Pointer's token (RFC 6901): `~` as `~0`, `/` as `~1`.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn exported(api: &str, region: &str, stage: &str, version: &str) -> Value {
        json!({
            "openapi": "3.0.1",
            "info": {"title": "orders", "version": version},
            "servers": [{"url": format!("https://{api}.execute-api.{region}.amazonaws.com/{{basePath}}"),
                         "variables": {"basePath": {"default": stage}}}],
            "paths": {
                "/orders/{id}": {"get": {
                    "parameters": [{"name": "id", "in": "path", "required": true},
                                   {"name": "x", "in": "query"}],
                    "responses": {"200": {"description": "200 response"}},
                    "x-amazon-apigateway-integration": {
                        "type": "http", "httpMethod": "GET",
                        "uri": format!("https://backend/{api}/${{stageVariables.host}}"),
                        "responses": {"default": {"statusCode": "200"}}
                    }
                }}
            }
        })
    }

    #[test]
    fn place_date_and_ids_do_not_count() {
        let a = exported("aaaaaaaaaa", "us-east-1", "staging", "2026-01-01T00:00:00Z");
        let b = exported("bbbbbbbbbb", "eu-west-1", "prod", "2026-06-01T12:00:00Z");
        assert_ne!(a, b);
        let (na, nb) = (
            normalise(&a, &["aaaaaaaaaa", "bbbbbbbbbb"]),
            normalise(&b, &["aaaaaaaaaa", "bbbbbbbbbb"]),
        );
        assert_eq!(first_difference(&na, &nb), None);
        assert!(na.get("servers").is_none());
        assert!(na["info"].get("version").is_none());
        assert_eq!(na["info"]["title"], "orders", "the rest of info stays");
        assert_eq!(
            na["paths"]["/orders/{id}"]["get"]["x-amazon-apigateway-integration"]["uri"],
            "https://backend/{restApiId}/${stageVariables.host}"
        );
    }

    #[test]
    fn key_and_list_order_do_not_count() {
        let a = json!({"paths": {"/a": {"get": {"parameters": [{"name": "p"}, {"name": "q"}]}},
                                 "/b": {}}, "openapi": "3.0.1", "swagger_ext": [3, 1, 2]});
        let b = json!({"openapi": "3.0.1", "swagger_ext": [1, 2, 3],
                       "paths": {"/b": {}, "/a": {"get": {"parameters": [{"name": "q"}, {"name": "p"}]}}}});
        assert_eq!(
            first_difference(&normalise(&a, &[]), &normalise(&b, &[])),
            None
        );
        // Swagger's place fields go too.
        let s = json!({"swagger": "2.0", "host": "x.example", "basePath": "/prod", "paths": {}});
        let t = json!({"swagger": "2.0", "host": "y.example", "basePath": "/", "paths": {}});
        assert_eq!(normalise(&s, &[]), normalise(&t, &[]));
    }

    #[test]
    fn the_first_difference_is_named_as_a_json_pointer() {
        let a = exported("aaaaaaaaaa", "us-east-1", "staging", "1");
        let mut b = a.clone();
        b["paths"]["/orders/{id}"]["get"]["x-amazon-apigateway-integration"]["httpMethod"] =
            json!("POST");
        let (na, nb) = (normalise(&a, &[]), normalise(&b, &[]));
        assert_eq!(
            first_difference(&na, &nb).as_deref(),
            Some("/paths/~1orders~1{id}/get/x-amazon-apigateway-integration/httpMethod")
        );
        let mut c = a.clone();
        c["paths"]["/health"] = json!({"get": {}});
        assert_eq!(
            first_difference(&na, &normalise(&c, &[])).as_deref(),
            Some("/paths/~1health"),
            "a path one side lacks"
        );
        assert_eq!(
            first_difference(&json!([1, 2]), &json!([1, 2, 3])).as_deref(),
            Some("/2")
        );
        assert_eq!(
            first_difference(&json!(1), &json!("1")).as_deref(),
            Some("")
        );
    }
}
