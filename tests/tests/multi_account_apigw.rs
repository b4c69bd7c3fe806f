//! API Gateway across accounts and regions (issue 15): a deployment belongs to one API in one
//! account and region, so `apigw-stage promote` into an environment of another account imports
//! the source stage's definition (its OpenAPI export with the API Gateway extensions) into the
//! target API, deploys it and points the target stage at the new deployment, keeping the target
//! stage's variables. Staging is account 111111111111 in us-east-1, prod 222222222222 in
//! eu-west-1, each reached through its own assume-role profile; each account is seeded and read
//! back with its own credentials.
//!
//! Stood in for: moto's GetExport writes Swagger 2.0 of an API's current resources without
//! integrations, whatever stage is asked for, and its PutRestApi fails (HTTP 500) on a MOCK
//! integration, so the test proxy (`test_harness::proxy`, its `apigateway` module) answers
//! GetExport and PutRestApi (overwrite) as AWS does: a deployment is a snapshot of its API's
//! definition, an export of a stage is the snapshot of the deployment it runs. A deployment made
//! straight in the emulator (this test's seeds) holds what the emulator's resources, methods and
//! integrations are when it is first exported, so each API is seeded before it is deployed and
//! not changed after. Stages, deployments, stage variables, UpdateStage and GetStage are the
//! emulator's: the stages' deployments and variables are read back from it in both accounts,
//! and the definitions through the proxy's exports.

#![allow(clippy::unwrap_used, clippy::expect_used)] // reason: tests fail loudly

use aws_sdk_apigateway::types::IntegrationType;
use aws_sdk_apigateway::Client;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use test_harness::accounts::{
    env_sections, sdk_config, write_profiles, PROD_ACCOUNT, PROD_REGION, STAGING_ACCOUNT,
    STAGING_REGION,
};
use test_harness::proxy::{FaultProxy, Faults};
use test_harness::{binary, unique, Emulator, Sandbox};

/// API Gateway requests whose operation (as the proxy names REST calls: `METHOD restapis/ID/...`,
/// three path segments) matches.
fn requests(proxy: &FaultProxy, matches: impl Fn(&str) -> bool) -> u64 {
    proxy
        .counts()
        .requests
        .iter()
        .filter_map(|(k, n)| {
            k.strip_prefix("apigateway ")
                .filter(|op| matches(op))
                .map(|_| n)
        })
        .sum()
}

/// The writes an import makes, as the proxy counts requests: PutRestApi, CreateDeployment,
/// UpdateStage.
fn writes(proxy: &FaultProxy) -> (u64, u64, u64) {
    (
        requests(proxy, |op| op.starts_with("PUT restapis/")),
        requests(proxy, |op| {
            op.starts_with("POST restapis/") && op.ends_with("/deployments")
        }),
        requests(proxy, |op| op.starts_with("PATCH ")),
    )
}

async fn root(client: &Client, api: &str) -> String {
    client
        .get_resources()
        .rest_api_id(api)
        .send()
        .await
        .expect("resources")
        .items()
        .iter()
        .find(|r| r.path() == Some("/"))
        .and_then(|r| r.id())
        .expect("a root")
        .to_string()
}

/// A method on a resource answered by a MOCK integration, with one method and integration
/// response.
async fn mock_method(client: &Client, api: &str, resource: &str, verb: &str, answer: &str) {
    client
        .put_method()
        .rest_api_id(api)
        .resource_id(resource)
        .http_method(verb)
        .authorization_type("NONE")
        .send()
        .await
        .expect("a method");
    client
        .put_method_response()
        .rest_api_id(api)
        .resource_id(resource)
        .http_method(verb)
        .status_code("200")
        .send()
        .await
        .expect("a method response");
    client
        .put_integration()
        .rest_api_id(api)
        .resource_id(resource)
        .http_method(verb)
        .r#type(IntegrationType::Mock)
        .request_templates("application/json", r#"{"statusCode": 200}"#)
        .send()
        .await
        .expect("an integration");
    client
        .put_integration_response()
        .rest_api_id(api)
        .resource_id(resource)
        .http_method(verb)
        .status_code("200")
        .selection_pattern("")
        .response_templates("application/json", answer)
        .send()
        .await
        .expect("an integration response");
}

async fn deploy(client: &Client, api: &str, description: &str) -> String {
    client
        .create_deployment()
        .rest_api_id(api)
        .description(description)
        .send()
        .await
        .expect("a deployment")
        .id()
        .expect("an id")
        .to_string()
}

async fn create_stage(
    client: &Client,
    api: &str,
    stage: &str,
    deployment: &str,
    vars: &[(&str, &str)],
) {
    client
        .create_stage()
        .rest_api_id(api)
        .stage_name(stage)
        .deployment_id(deployment)
        .set_variables(Some(
            vars.iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect::<HashMap<_, _>>(),
        ))
        .send()
        .await
        .expect("a stage");
}

/// The deployment a stage runs and its variables, as the emulator answers in the stage's account.
async fn stage(client: &Client, api: &str, stage: &str) -> (String, BTreeMap<String, String>) {
    let out = client
        .get_stage()
        .rest_api_id(api)
        .stage_name(stage)
        .send()
        .await
        .expect("the stage");
    (
        out.deployment_id().unwrap_or_default().to_string(),
        out.variables()
            .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
    )
}

/// A stage's exported definition (through the proxy's stand-in for GetExport).
async fn export(client: &Client, api: &str, stage: &str) -> Value {
    let out = client
        .get_export()
        .rest_api_id(api)
        .stage_name(stage)
        .export_type("oas30")
        .parameters("extensions", "apigateway")
        .accepts("application/json")
        .send()
        .await
        .expect("an export");
    serde_json::from_slice(out.body().expect("a body").as_ref()).expect("a JSON export")
}

/// What an export says the API is: everything but where it is served and when it was exported.
fn definition(export: &Value) -> Value {
    let mut d = export.clone();
    let map = d.as_object_mut().expect("an object");
    map.remove("servers");
    map["info"].as_object_mut().expect("info").remove("version");
    d
}

/// Staging's and prod's APIs (one name, an id each) in their own accounts, and a sandbox whose
/// promote.toml names them with their profiles, talking through `proxy`.
struct Layout {
    staging: Client,
    prod: Client,
    /// The same accounts, through the proxy (for exports).
    staging_export: Client,
    prod_export: Client,
    staging_api: String,
    prod_api: String,
    /// Staging's stage's deployment, and prod's before the promotion.
    source: String,
    old: String,
    sandbox: Sandbox,
}

const PROD_VARS: &[(&str, &str)] = &[("DB_HOST", "db.prod"), ("LOG", "warn")];

impl Layout {
    async fn new(proxy: &FaultProxy, prefix: &str) -> Layout {
        let name = unique(prefix);
        let staging_config = sdk_config(STAGING_ACCOUNT, STAGING_REGION).await;
        let prod_config = sdk_config(PROD_ACCOUNT, PROD_REGION).await;
        let via_proxy = |c: &aws_config::SdkConfig| {
            Client::from_conf(
                aws_sdk_apigateway::config::Builder::from(c)
                    .endpoint_url(&proxy.endpoint)
                    .build(),
            )
        };
        let (staging, prod) = (Client::new(&staging_config), Client::new(&prod_config));

        // Staging: GET /orders and POST /orders/{id}, each with its integration, deployed and
        // run by stage staging.
        let staging_api = staging
            .create_rest_api()
            .name(&name)
            .send()
            .await
            .expect("an API")
            .id()
            .expect("an id")
            .to_string();
        let top = root(&staging, &staging_api).await;
        let orders = staging
            .create_resource()
            .rest_api_id(&staging_api)
            .parent_id(&top)
            .path_part("orders")
            .send()
            .await
            .expect("a resource")
            .id()
            .expect("an id")
            .to_string();
        let order = staging
            .create_resource()
            .rest_api_id(&staging_api)
            .parent_id(&orders)
            .path_part("{id}")
            .send()
            .await
            .expect("a resource")
            .id()
            .expect("an id")
            .to_string();
        mock_method(&staging, &staging_api, &orders, "GET", r#"{"orders": []}"#).await;
        mock_method(&staging, &staging_api, &order, "POST", r#"{"saved": true}"#).await;
        let source = deploy(&staging, &staging_api, "v2").await;
        create_stage(
            &staging,
            &staging_api,
            "staging",
            &source,
            &[("DB_HOST", "db.staging")],
        )
        .await;

        // Prod: the API of the same name in its own account, on an older definition (GET / only).
        let prod_api = prod
            .create_rest_api()
            .name(&name)
            .send()
            .await
            .expect("an API")
            .id()
            .expect("an id")
            .to_string();
        let prod_root = root(&prod, &prod_api).await;
        mock_method(&prod, &prod_api, &prod_root, "GET", r#"{"v": 1}"#).await;
        let old = deploy(&prod, &prod_api, "v1").await;
        create_stage(&prod, &prod_api, "prod", &old, PROD_VARS).await;

        let mut sandbox = Sandbox::new();
        write_profiles(&sandbox);
        sandbox.env("AWS_ENDPOINT_URL", &proxy.endpoint);
        sandbox.write(
            "promote.toml",
            &format!("{}[apigateway]\nrest_api = \"{name}\"\n", env_sections()),
        );
        Layout {
            staging_export: via_proxy(&staging_config),
            prod_export: via_proxy(&prod_config),
            staging,
            prod,
            staging_api,
            prod_api,
            source,
            old,
            sandbox,
        }
    }

    fn apigw(&self, args: &[&str], stdin: Option<&str>) -> test_harness::Run {
        self.sandbox.run(&binary("apigw-stage"), args, stdin)
    }
}

fn prod_vars() -> BTreeMap<String, String> {
    PROD_VARS
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

#[tokio::test]
async fn promote_imports_the_source_stages_definition_into_the_target_accounts_api() {
    let proxy = FaultProxy::start(&Emulator::shared().endpoint, Faults::default());
    let l = Layout::new(&proxy, "xapigw").await;
    let staging_definition =
        definition(&export(&l.staging_export, &l.staging_api, "staging").await);
    let old_definition = definition(&export(&l.prod_export, &l.prod_api, "prod").await);
    assert_ne!(staging_definition, old_definition, "the seeds differ");
    assert!(
        staging_definition["paths"]["/orders"]["get"]["x-amazon-apigateway-integration"]["type"]
            == "mock",
        "the stand-in exports integrations: {staging_definition}"
    );

    // A dry run says it would import, and writes nothing.
    let run = l.apigw(&["promote", "--to", "prod", "--dry-run"], None);
    run.expect_code(0);
    let planned = run.record();
    assert_eq!(planned["action"], "planned", "{run}");
    assert_eq!(planned["planned_action"], "promoted", "{run}");
    assert_eq!(planned["account"], PROD_ACCOUNT, "{run}");
    assert_eq!(
        planned["previous"]["deployment_id"],
        l.old.as_str(),
        "{run}"
    );
    assert!(planned["artifact"].is_null(), "{run}");
    assert_eq!(
        planned["copied_from"]["deployment_id"],
        l.source.as_str(),
        "{run}"
    );
    assert!(run.stderr.contains("would import"), "{run}");
    assert_eq!(writes(&proxy), (0, 0, 0), "a dry run writes nothing\n{run}");
    assert!(proxy.imported().is_empty());
    assert!(
        proxy.counts().writes.is_empty(),
        "{:?}",
        proxy.counts().writes
    );
    assert_eq!(
        stage(&l.prod, &l.prod_api, "prod").await,
        (l.old.clone(), prod_vars())
    );

    // The promotion.
    let run = l.apigw(&["promote", "--to", "prod"], None);
    run.expect_code(0);
    let promoted = run.record();
    assert_eq!(promoted["action"], "promoted", "{run}");
    assert_eq!(promoted["account"], PROD_ACCOUNT, "{run}");
    assert_eq!(promoted["region"], PROD_REGION, "{run}");
    assert_eq!(promoted["resource"], l.prod_api.as_str(), "{run}");
    assert_eq!(promoted["pointer"], "prod", "{run}");
    assert_eq!(
        promoted["previous"]["deployment_id"],
        l.old.as_str(),
        "{run}"
    );
    let new = promoted["artifact"]["deployment_id"]
        .as_str()
        .expect("a deployment")
        .to_string();
    assert_ne!(new, l.old);
    assert_ne!(new, l.source, "prod's own deployment, not staging's id");
    assert_eq!(
        promoted["copied_from"],
        serde_json::json!({
            "account": STAGING_ACCOUNT, "region": STAGING_REGION, "rest_api_id": l.staging_api,
            "stage": "staging", "deployment_id": l.source,
        }),
        "{run}"
    );
    assert_eq!(
        writes(&proxy),
        (1, 1, 1),
        "one import, one deployment, one stage move\n{run}"
    );

    // Prod's account, read back: the stage runs the new deployment (which exists there), with
    // its own variables; its export is staging's definition, served from prod's API and region.
    assert_eq!(
        stage(&l.prod, &l.prod_api, "prod").await,
        (new.clone(), prod_vars())
    );
    l.prod
        .get_deployment()
        .rest_api_id(&l.prod_api)
        .deployment_id(&new)
        .send()
        .await
        .expect("the new deployment is prod's");
    let exported = export(&l.prod_export, &l.prod_api, "prod").await;
    assert_eq!(definition(&exported), staging_definition);
    let url = exported["servers"][0]["url"].as_str().unwrap_or_default();
    assert!(
        url.contains(&l.prod_api) && url.contains(PROD_REGION),
        "{url}"
    );
    // Staging is as it was.
    assert_eq!(
        stage(&l.staging, &l.staging_api, "staging").await,
        (
            l.source.clone(),
            BTreeMap::from([("DB_HOST".to_string(), "db.staging".to_string())])
        )
    );

    // Again: the same definition is served already, so nothing is written.
    let run2 = l.apigw(&["promote", "--to", "prod"], None);
    run2.expect_code(0);
    let again = run2.record();
    assert_eq!(again["action"], "unchanged", "{run2}");
    assert_eq!(again["artifact"]["deployment_id"], new.as_str(), "{run2}");
    assert_eq!(writes(&proxy), (1, 1, 1), "{run2}");

    // Rollback puts the stage back on its old deployment exactly, variables untouched.
    let back = l.apigw(&["rollback"], Some(&run.stdout));
    back.expect_code(0);
    let rolled = back.record();
    assert_eq!(rolled["action"], "rolled_back", "{back}");
    assert_eq!(
        rolled["artifact"]["deployment_id"],
        l.old.as_str(),
        "{back}"
    );
    assert_eq!(
        stage(&l.prod, &l.prod_api, "prod").await,
        (l.old.clone(), prod_vars())
    );
    assert_eq!(
        definition(&export(&l.prod_export, &l.prod_api, "prod").await),
        old_definition
    );

    // The old deployment's definition is not staging's: promoting imports again.
    let run3 = l.apigw(&["promote", "--to", "prod"], None);
    run3.expect_code(0);
    assert_eq!(run3.record()["action"], "promoted", "{run3}");
    assert_eq!(writes(&proxy), (2, 2, 3), "{run3}");
}

#[tokio::test]
async fn a_missing_source_stage_is_refused_and_nothing_is_written() {
    let proxy = FaultProxy::start(&Emulator::shared().endpoint, Faults::default());
    let l = Layout::new(&proxy, "xapigw-nostage").await;
    l.staging
        .delete_stage()
        .rest_api_id(&l.staging_api)
        .stage_name("staging")
        .send()
        .await
        .expect("delete staging's stage");
    let run = l.apigw(&["promote", "--to", "prod"], None);
    assert_eq!(run.code, 4, "{run}");
    assert!(run.stderr.contains("no stage staging"), "{run}");
    assert_eq!(writes(&proxy), (0, 0, 0), "{run}");
    assert_eq!(
        stage(&l.prod, &l.prod_api, "prod").await,
        (l.old.clone(), prod_vars())
    );
}

#[tokio::test]
async fn expect_is_checked_against_the_target_stage_before_anything_is_written() {
    let proxy = FaultProxy::start(&Emulator::shared().endpoint, Faults::default());
    let l = Layout::new(&proxy, "xapigw-expect").await;
    let run = l.apigw(&["promote", "--to", "prod", "--expect", "nothere42"], None);
    assert_eq!(run.code, 4, "{run}");
    assert!(run.stderr.contains("--expect"), "{run}");
    assert!(proxy.imported().is_empty(), "{run}");
    assert_eq!(writes(&proxy), (0, 0, 0), "{run}");
    // With the right deployment it goes through.
    let run = l.apigw(&["promote", "--to", "prod", "--expect", &l.old], None);
    run.expect_code(0);
    assert_eq!(run.record()["action"], "promoted", "{run}");
    // Nothing else on the stage moved.
    assert_eq!(stage(&l.prod, &l.prod_api, "prod").await.1, prod_vars());
}

/// An import that does not come through whole (the proxy's PutRestApi stand-in leaves a path
/// out): the target's export is checked after the stage moved, so the stage is moved back to its
/// old deployment, and the run fails with exit 3 naming the first path that differs.
#[tokio::test]
async fn an_import_that_differs_from_the_source_is_taken_back_with_exit_3() {
    let proxy = FaultProxy::start(&Emulator::shared().endpoint, Faults::default());
    let l = Layout::new(&proxy, "xapigw-lossy").await;
    proxy.lose_on_import("/orders/{id}");
    let run = l.apigw(&["promote", "--to", "prod"], None);
    assert_eq!(run.code, 3, "{run}");
    assert!(run.stderr.contains("/paths/~1orders~1{id}"), "{run}");
    assert!(
        run.stderr
            .contains(&format!("moved back to deployment {}", l.old)),
        "{run}"
    );
    let records = run.records();
    assert_eq!(records.len(), 1, "{run}");
    assert_eq!(records[0]["action"], "error", "{run}");
    assert_eq!(
        writes(&proxy),
        (1, 1, 2),
        "import, deploy, move and move back\n{run}"
    );
    assert_eq!(
        stage(&l.prod, &l.prod_api, "prod").await,
        (l.old.clone(), prod_vars())
    );
}

/// A record names a deployment of the account and region it was read in: piped into a promotion
/// to another account, it is refused (the definition is imported from the live stage instead).
#[tokio::test]
async fn a_record_of_another_accounts_deployment_is_refused() {
    let proxy = FaultProxy::start(&Emulator::shared().endpoint, Faults::default());
    let l = Layout::new(&proxy, "xapigw-record").await;
    let record = serde_json::json!({
        "service": "apigateway", "action": "resolved", "resource": l.staging_api,
        "region": STAGING_REGION, "account": STAGING_ACCOUNT, "env": "staging", "pointer": "staging",
        "artifact": {"deployment_id": l.source}, "previous": null
    });
    let run = l.apigw(&["promote", "--to", "prod"], Some(&format!("{record}\n")));
    assert_eq!(run.code, 4, "{run}");
    assert!(
        run.stderr
            .contains("cannot move between accounts or regions"),
        "{run}"
    );
    assert_eq!(run.records()[0]["action"], "error", "{run}");
    assert_eq!(writes(&proxy), (0, 0, 0), "{run}");
    assert_eq!(
        stage(&l.prod, &l.prod_api, "prod").await,
        (l.old.clone(), prod_vars())
    );
}
