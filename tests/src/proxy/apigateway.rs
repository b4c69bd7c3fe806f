//! The proxy's stand-in for API Gateway's definitions, which moto does not keep as AWS does:
//! its GetExport writes Swagger 2.0 of the API's current resources, without the API Gateway
//! extensions (no integrations), whatever stage is asked for and whatever it runs, and its
//! PutRestApi fails on a MOCK integration (HTTP 500). Here, as in AWS:
//!
//! - a deployment is a snapshot of its API's definition when it was made;
//! - GetExport of a stage (`oas30`, with extensions) is the snapshot of the deployment the stage
//!   runs (read from the emulator), with `servers` naming the API, its region and the stage, and
//!   `info.version` the time of the export;
//! - PutRestApi with `mode=overwrite` makes the document the API's definition (the emulator's
//!   resources are left as they are: the stand-in's definition is what later deployments
//!   snapshot);
//! - CreateDeployment of an API imported this way snapshots that definition (the emulator makes
//!   the deployment; the stand-in keeps what it holds).
//!
//! A deployment the stand-in has not seen made (seeded straight into the emulator) holds what the
//! emulator's resources, methods and integrations are the first time it is exported. Everything
//! else goes to the emulator untouched, with its faults.

use super::{forward, forward_counted, response, Counts, Request};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
struct State {
    /// The definition each imported API has now, by REST API id.
    imported: BTreeMap<String, Value>,
    /// What each deployment holds, by (REST API id, deployment id).
    snapshots: BTreeMap<(String, String), Value>,
    /// A path PutRestApi leaves out of what it imports: an import that does not come through
    /// whole (as one AWS cannot apply in full would be).
    lossy: Option<String>,
}

/// The stand-in's memory, shared by every connection of one proxy.
#[derive(Debug, Default, Clone)]
pub(super) struct Definitions(Arc<Mutex<State>>);

impl Definitions {
    pub(super) fn imported(&self) -> BTreeMap<String, Value> {
        self.0.lock().expect("definitions").imported.clone()
    }

    pub(super) fn lose_on_import(&self, path: &str) {
        self.0.lock().expect("definitions").lossy = Some(path.to_string());
    }
}

/// The answer for a request the stand-in takes, or `None` to go on as for any request.
pub(super) async fn stand_in(
    request: &Request,
    upstream: &str,
    apis: &Definitions,
    counts: &Mutex<Counts>,
) -> Option<Vec<u8>> {
    if request.service() != "apigateway" {
        return None;
    }
    let (method, full) = request.method_and_path();
    let (path, query) = full.split_once('?').unwrap_or((full, ""));
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match (method, segments.as_slice()) {
        ("GET", ["restapis", api, "stages", stage, "exports", kind]) => {
            Some(export(request, upstream, apis, api, stage, kind).await)
        }
        ("PUT", ["restapis", api]) => {
            if !query.split('&').any(|p| p == "mode=overwrite") {
                return Some(bad_request(
                    "the test proxy stands in for PutRestApi with mode=overwrite only",
                ));
            }
            Some(put(request, upstream, apis, api, counts).await)
        }
        ("POST", ["restapis", api, "deployments"]) => {
            let imported = apis
                .0
                .lock()
                .expect("definitions")
                .imported
                .get(*api)
                .cloned()?;
            let answer = forward_counted(upstream, request, counts).await?;
            let (status, body) = split(&answer);
            if status / 100 == 2 {
                if let Some(id) = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|d| d["id"].as_str().map(str::to_string))
                {
                    apis.0
                        .lock()
                        .expect("definitions")
                        .snapshots
                        .insert(((*api).to_string(), id), imported);
                }
            }
            Some(answer)
        }
        _ => None,
    }
}

fn bad_request(message: &str) -> Vec<u8> {
    response(
        "400 Bad Request",
        "application/json",
        "x-amzn-ErrorType: BadRequestException\r\n",
        &json!({ "message": message }).to_string(),
    )
}

/// The status and body of an answer from [`forward`].
fn split(answer: &[u8]) -> (u16, Vec<u8>) {
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(answer.len());
    let status = String::from_utf8_lossy(&answer[..end])
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, answer.get(end + 4..).unwrap_or_default().to_vec())
}

/// A GET of the emulator's, signed as the tool's request was (the emulator picks the account
/// and region from its credentials): the whole answer, its status and its body.
async fn read(upstream: &str, request: &Request, path: &str) -> Option<(Vec<u8>, u16, Value)> {
    let mut head = format!("GET {path} HTTP/1.1");
    for line in request.head.lines().skip(1) {
        let name = line
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !matches!(name.as_str(), "content-length" | "content-type" | "accept") {
            head.push_str("\r\n");
            head.push_str(line);
        }
    }
    let answer = forward(
        upstream,
        &Request {
            head,
            body: Vec::new(),
        },
    )
    .await?;
    let (status, body) = split(&answer);
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Some((answer, status, value))
}

async fn export(
    request: &Request,
    upstream: &str,
    apis: &Definitions,
    api: &str,
    stage: &str,
    kind: &str,
) -> Vec<u8> {
    if kind != "oas30" {
        return bad_request("the test proxy stands in for GetExport of oas30 only");
    }
    let Some((answer, status, found)) = read(
        upstream,
        request,
        &format!("/restapis/{api}/stages/{stage}"),
    )
    .await
    else {
        return response("502 Bad Gateway", "text/plain", "", "emulator unreachable");
    };
    if status != 200 {
        return answer;
    }
    let deployment = found["deploymentId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let key = (api.to_string(), deployment);
    let known = apis
        .0
        .lock()
        .expect("definitions")
        .snapshots
        .get(&key)
        .cloned();
    let definition = match known {
        Some(definition) => definition,
        None => {
            let Some(definition) = from_emulator(request, upstream, api).await else {
                return response("502 Bad Gateway", "text/plain", "", "emulator unreachable");
            };
            apis.0
                .lock()
                .expect("definitions")
                .snapshots
                .entry(key)
                .or_insert(definition)
                .clone()
        }
    };
    let mut document = definition;
    if let Some(map) = document.as_object_mut() {
        let region = region_of(request);
        map.insert(
            "servers".into(),
            json!([{
                "url": format!("https://{api}.execute-api.{region}.amazonaws.com/{{basePath}}"),
                "variables": {"basePath": {"default": stage}}
            }]),
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if let Some(info) = map.get_mut("info").and_then(Value::as_object_mut) {
            info.insert("version".into(), Value::String(format!("{now}")));
        }
    }
    response(
        "200 OK",
        "application/json",
        &format!("Content-Disposition: attachment; filename=\"{api}-{stage}-oas30.json\"\r\n"),
        &document.to_string(),
    )
}

/// The region of the request's signature.
fn region_of(request: &Request) -> String {
    request
        .header("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(2))
        .unwrap_or("us-east-1")
        .to_string()
}

/// The API's definition as the emulator's resources, methods and integrations say, written as
/// AWS's `oas30` export with the API Gateway extensions writes them (without `servers` and
/// `info.version`, which each export adds).
async fn from_emulator(request: &Request, upstream: &str, api: &str) -> Option<Value> {
    let (_, _, rest_api) = read(upstream, request, &format!("/restapis/{api}")).await?;
    let (_, _, resources) = read(
        upstream,
        request,
        &format!("/restapis/{api}/resources?embed=methods&limit=500"),
    )
    .await?;
    let mut paths = Map::new();
    for resource in resources["item"].as_array().into_iter().flatten() {
        let Some(methods) = resource["resourceMethods"].as_object() else {
            continue;
        };
        let mut operations = Map::new();
        for (verb, method) in methods {
            let mut operation = Map::new();
            let responses: Map<String, Value> = method["methodResponses"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(code, _)| {
                    (
                        code.clone(),
                        json!({"description": format!("{code} response")}),
                    )
                })
                .collect();
            operation.insert("responses".into(), Value::Object(responses));
            if let Some(integration) = method["methodIntegration"].as_object() {
                let mut x = Map::new();
                for (from, to) in [
                    ("httpMethod", "httpMethod"),
                    ("uri", "uri"),
                    ("requestTemplates", "requestTemplates"),
                    ("requestParameters", "requestParameters"),
                    ("passthroughBehavior", "passthroughBehavior"),
                    ("timeoutInMillis", "timeoutInMillis"),
                    ("contentHandling", "contentHandling"),
                ] {
                    if let Some(v) = integration.get(from).filter(|v| !v.is_null()) {
                        x.insert(to.into(), v.clone());
                    }
                }
                if let Some(kind) = integration.get("type").and_then(Value::as_str) {
                    x.insert("type".into(), Value::String(kind.to_ascii_lowercase()));
                }
                let mut responses = Map::new();
                for (code, r) in integration
                    .get("integrationResponses")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    let pattern = r["selectionPattern"]
                        .as_str()
                        .filter(|p| !p.is_empty())
                        .unwrap_or("default");
                    let mut entry = Map::new();
                    entry.insert("statusCode".into(), Value::String(code.clone()));
                    for key in ["responseTemplates", "responseParameters"] {
                        if let Some(v) = r.get(key).filter(|v| !v.is_null()) {
                            entry.insert(key.into(), v.clone());
                        }
                    }
                    responses.insert(pattern.to_string(), Value::Object(entry));
                }
                x.insert("responses".into(), Value::Object(responses));
                operation.insert("x-amazon-apigateway-integration".into(), Value::Object(x));
            }
            operations.insert(verb.to_ascii_lowercase(), Value::Object(operation));
        }
        if let Some(path) = resource["path"].as_str() {
            paths.insert(path.to_string(), Value::Object(operations));
        }
    }
    Some(json!({
        "openapi": "3.0.1",
        "info": {"title": rest_api["name"]},
        "paths": paths,
        "components": {}
    }))
}

async fn put(
    request: &Request,
    upstream: &str,
    apis: &Definitions,
    api: &str,
    counts: &Mutex<Counts>,
) -> Vec<u8> {
    let Ok(document) = serde_json::from_slice::<Value>(&request.body) else {
        return bad_request("the body is not a JSON OpenAPI document");
    };
    if !document["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with('3'))
        || !document["paths"].is_object()
    {
        return bad_request("not an OpenAPI 3 document with paths");
    }
    let Some((answer, status, _)) = read(upstream, request, &format!("/restapis/{api}")).await
    else {
        return response("502 Bad Gateway", "text/plain", "", "emulator unreachable");
    };
    if status == 200 {
        let mut document = document;
        let lossy = apis.0.lock().expect("definitions").lossy.clone();
        if let (Some(path), Some(paths)) = (lossy, document["paths"].as_object_mut()) {
            paths.remove(&path);
        }
        if let Some(map) = document.as_object_mut() {
            // What an export adds is not part of the definition.
            map.remove("servers");
            if let Some(info) = map.get_mut("info").and_then(Value::as_object_mut) {
                info.remove("version");
            }
        }
        apis.0
            .lock()
            .expect("definitions")
            .imported
            .insert(api.to_string(), document);
        *counts
            .lock()
            .expect("counts")
            .writes
            .entry(format!("apigateway {api} definition"))
            .or_default() += 1;
    }
    // The emulator's RestApi as PutRestApi answers it (or its 404).
    answer
}
