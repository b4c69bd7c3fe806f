//! `cfg-diff release`: the release at a glance, against the emulator. Two Lambda functions, an
//! ECS service, an API Gateway stage set and an S3 object in dev, staging and prod, seeded so
//! that staging is the same as dev for some pointers and behind it for one, and prod behind
//! staging; the relations are read back from the records, `--check` gates on them before and
//! after a real `lambda-promote promote --to staging`, the table keeps every full id at 80
//! columns, and the HTML page is parsed and its content checked.

#![allow(clippy::unwrap_used, clippy::expect_used)] // reason: tests fail loudly

use serde_json::Value;
use test_harness::apigateway::{create_api, create_stage, deploy};
use test_harness::ecs::{create_repository, create_service, push_image, Container, REGISTRY};
use test_harness::lambda::{code_sha256, create_function, publish, set_alias, update_code};
use test_harness::s3::{create_bucket, put};
use test_harness::{binary, unique, Sandbox};

struct Seeded {
    name: String,
    sandbox: Sandbox,
    /// Every id the view must show whole.
    ids: Vec<String>,
    api_code: [String; 2],
    deployments: [String; 2],
    prod_version: String,
    staging_version: String,
}

async fn seed() -> Seeded {
    let name = unique("rv");
    let mut ids = Vec::new();
    // Lambda: api has versions 1 and 2 (dev 2, staging and prod 1); worker version 1 everywhere.
    let api = format!("{name}-api");
    create_function(&api, "api-1", &[("LOG_LEVEL", "info")]).await;
    publish(&api).await;
    update_code(&api, "api-2").await;
    publish(&api).await;
    for (env, v) in [("dev", "2"), ("staging", "1"), ("prod", "1")] {
        set_alias(&api, env, v).await;
    }
    let api_code = [code_sha256(&api, "1").await, code_sha256(&api, "2").await];
    ids.extend(api_code.iter().cloned());
    let worker = format!("{name}-worker");
    create_function(&worker, "worker-1", &[]).await;
    publish(&worker).await;
    for env in ["dev", "staging", "prod"] {
        set_alias(&worker, env, "1").await;
    }
    ids.push(code_sha256(&worker, "1").await);

    // ECS: one task definition family; prod registered first (build 1), dev and staging after
    // it (build 2): prod's revision is older.
    let repo = format!("{name}/web");
    create_repository(&repo, false).await;
    ids.push(push_image(&repo, &format!("{name}-1"), "build-1").await);
    ids.push(push_image(&repo, &format!("{name}-2"), "build-2").await);
    for (env, tag) in [
        ("prod", "build-1"),
        ("dev", "build-2"),
        ("staging", "build-2"),
    ] {
        let arn = create_service(
            &format!("{name}-{env}"),
            "web",
            &format!("{name}-web"),
            &[Container {
                name: "web",
                image: format!("{REGISTRY}/{repo}:{tag}"),
                environment: vec![("DB_PASSWORD", "hunter2-never-shown")],
                secrets: vec![],
            }],
        )
        .await;
        ids.push(arn);
    }

    // API Gateway: deployment one on prod, two (newer) on dev and staging.
    let api_id = create_api(&format!("{name}-orders")).await;
    let one = deploy(&api_id, "one").await;
    let two = deploy(&api_id, "two").await;
    for (env, d) in [("dev", &two), ("staging", &two), ("prod", &one)] {
        create_stage(&api_id, env, d, &[("SECRET_TOKEN", "tok-never-shown-123")]).await;
    }
    ids.extend([one.clone(), two.clone()]);

    // S3: prod's bundle first; a second later dev's and staging's, the same bytes.
    let bucket = format!("{name}-art");
    create_bucket(&bucket, true).await;
    ids.push(put(&bucket, "prod/site.zip", b"site 1", "application/zip", &[]).await);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    for env in ["dev", "staging"] {
        ids.push(
            put(
                &bucket,
                &format!("{env}/site.zip"),
                b"site 2",
                "application/zip",
                &[],
            )
            .await,
        );
    }

    let sandbox = Sandbox::new();
    sandbox.write(
        "promote.toml",
        &format!(
            "[envs]\norder = [\"dev\", \"staging\", \"prod\"]\n\n[lambda]\nfunctions = [\"{name}-api\", \"{name}-worker\"]\n\n\
             [ecs]\ncluster = \"{name}-{{env}}\"\nservices = [\"web\"]\n\n[apigateway]\nrest_api = \"{name}-orders\"\n\n\
             [s3]\nobjects = [\"s3://{name}-art/{{env}}/site.zip\"]\n"
        ),
    );
    Seeded {
        name,
        sandbox,
        ids,
        api_code,
        deployments: [one, two],
        prod_version: "1".into(),
        staging_version: "1".into(),
    }
}

/// `env`'s entry of the release record of `source` whose resource contains `resource`.
fn entry<'a>(records: &'a [Value], source: &str, resource: &str, env: &str) -> &'a Value {
    records
        .iter()
        .filter(|r| r["view"] == "release" && r["source"] == source)
        .find(|r| r["resource"].as_str().unwrap().contains(resource))
        .and_then(|r| r["environments"].as_array())
        .and_then(|e| e.iter().find(|e| e["env"] == env))
        .unwrap_or_else(|| panic!("no {source} {resource} {env} in {records:#?}"))
}

fn relations(records: &[Value], source: &str, resource: &str) -> Vec<Value> {
    ["dev", "staging", "prod"]
        .iter()
        .map(|env| entry(records, source, resource, env)["relation"].clone())
        .collect()
}

#[tokio::test]
async fn the_release_at_a_glance_says_who_is_behind_and_gates_ci() {
    let seeded = seed().await;
    let s = &seeded.sandbox;
    let cfg_diff = binary("cfg-diff");

    let run = s.run(&cfg_diff, &["release"], None);
    run.expect_code(0);
    let records = run.records();
    assert_eq!(records.len(), 5, "one record per pointer\n{run}");
    assert!(records
        .iter()
        .all(|r| r["service"] == "config" && r["view"] == "release"));
    assert_eq!(
        relations(&records, "lambda", "-api"),
        [Value::Null, "behind".into(), "same".into()]
    );
    assert_eq!(
        relations(&records, "lambda", "-worker"),
        [Value::Null, "same".into(), "same".into()]
    );
    for source in ["ecs", "apigateway", "s3"] {
        assert_eq!(
            relations(&records, source, ""),
            [Value::Null, "same".into(), "behind".into()],
            "{source}"
        );
    }
    // What each environment holds, as the emulator says.
    let api_prod = entry(&records, "lambda", "-api", "prod");
    assert_eq!(
        api_prod["artifact"]["version"],
        seeded.prod_version.as_str()
    );
    assert_eq!(
        api_prod["artifact"]["code_sha256"],
        seeded.api_code[0].as_str()
    );
    assert_eq!(api_prod["account"], "123456789012");
    let api_dev = entry(&records, "lambda", "-api", "dev");
    assert_eq!(
        api_dev["artifact"]["code_sha256"],
        seeded.api_code[1].as_str()
    );
    assert_eq!(
        entry(&records, "apigateway", "", "prod")["artifact"]["deployment_id"],
        seeded.deployments[0].as_str()
    );
    assert_eq!(
        entry(&records, "apigateway", "", "staging")["artifact"]["deployment_id"],
        seeded.deployments[1].as_str()
    );
    // No configuration value is ever shown.
    assert!(!run.stdout.contains("hunter2") && !run.stdout.contains("tok-never-shown"));

    // CI gates: staging is behind dev (the api function), prod behind staging.
    s.run(&cfg_diff, &["release", "--check", "staging"], None)
        .expect_code(1);
    s.run(&cfg_diff, &["release", "--check", "prod"], None)
        .expect_code(1);
    s.run(&cfg_diff, &["release", "--check", "dev"], None)
        .expect_code(2);
    let unknown = s.run(&cfg_diff, &["release", "--check", "qa"], None);
    unknown.expect_code(4);
    assert!(unknown.stderr.contains("qa"), "{unknown}");

    // Promote staging with the real tool: now staging is at dev, prod still behind.
    let promoted = s.run(
        &binary("lambda-promote"),
        &["promote", "--to", "staging"],
        None,
    );
    promoted.expect_code(0);
    let run = s.run(&cfg_diff, &["release", "--check", "staging"], None);
    run.expect_code(0);
    let records = run.records();
    assert_eq!(
        relations(&records, "lambda", "-api"),
        [Value::Null, "same".into(), "behind".into()]
    );
    assert_eq!(
        entry(&records, "lambda", "-api", "staging")["artifact"]["version"],
        "2"
    );
    assert_ne!(seeded.staging_version, "2", "staging moved from version 1");
    s.run(&cfg_diff, &["release", "--check", "prod"], None)
        .expect_code(1);

    // The table at 80 columns: every full id, nothing cut.
    let mut narrow = Sandbox::new();
    narrow.env("COLUMNS", "80");
    std::fs::copy(
        s.path().join("promote.toml"),
        narrow.path().join("promote.toml"),
    )
    .unwrap();
    let table = narrow.run(&cfg_diff, &["release", "--output", "table"], None);
    table.expect_code(0);
    if let Ok(path) = std::env::var("RELEASE_VIEW_TABLE") {
        std::fs::write(path, &table.stdout).unwrap();
    }
    for id in &seeded.ids {
        assert!(
            table.stdout.contains(id.as_str()),
            "{id} is not whole in the table\n{}",
            table.stdout
        );
    }
    assert!(!table.stdout.contains('…'), "{}", table.stdout);
    for line in table.stdout.lines() {
        // A line wider than the terminal only where one id is: none of these is.
        assert!(
            line.chars().count() <= 80,
            "{line:?} is wider than 80 columns"
        );
    }
    assert!(table.stdout.contains("behind staging") && table.stdout.contains("same as dev"));

    // The HTML page.
    let page = s.run(&cfg_diff, &["release", "--output", "html"], None);
    page.expect_code(0);
    let html = &page.stdout;
    if let Ok(path) = std::env::var("RELEASE_VIEW_PAGE") {
        std::fs::write(path, html).unwrap();
    }
    well_formed(html);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<title>Release at a glance</title>"));
    let lower = html.to_ascii_lowercase();
    assert!(
        !lower.contains("<script") && !lower.contains(" src="),
        "no script, no asset"
    );
    assert!(
        !lower.contains("http://") && !lower.contains("https://"),
        "no external URL"
    );
    assert!(!html.contains("hunter2") && !html.contains("tok-never-shown"));
    for id in &seeded.ids {
        assert!(html.contains(id.as_str()), "{id} is not on the page");
    }
    for relation in ["same", "behind", "first"] {
        assert!(
            html.contains(&format!("class=\"relation-{relation}\"")),
            "{relation}"
        );
    }
    // Each row's cells, by environment: the api function's prod cell is behind.
    let row = html
        .lines()
        .find(|l| l.contains(&format!("{}-api", seeded.name)))
        .expect("the api function's row");
    assert!(
        row.contains("<td class=\"relation-first\" data-env=\"dev\""),
        "{row}"
    );
    assert!(
        row.contains("<td class=\"relation-same\" data-env=\"staging\""),
        "{row}"
    );
    assert!(
        row.contains("<td class=\"relation-behind\" data-env=\"prod\""),
        "{row}"
    );
    for legend in ["same", "behind", "ahead", "drifted", "missing"] {
        assert!(
            html.contains(&format!("class=\"legend-{legend}\"")),
            "{legend}"
        );
    }

    // --output html anywhere else is a usage error naming the one command that prints it.
    let other = s.run(
        &binary("lambda-promote"),
        &["status", "--output", "html"],
        None,
    );
    other.expect_code(2);
    assert!(other.stderr.contains("cfg-diff release"), "{other}");
    let diff = s.run(&cfg_diff, &["staging", "prod", "--output", "html"], None);
    diff.expect_code(2);
}

/// Every element closed in order (void elements aside), every attribute quoted: well-formed
/// enough for any browser and for a reader of the page.
fn well_formed(html: &str) {
    const VOID: [&str; 4] = ["meta", "br", "!doctype", "link"];
    let mut stack: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        let close = rest[open..].find('>').expect("every tag ends") + open;
        let tag = &rest[open + 1..close];
        assert_eq!(
            tag.matches('"').count() % 2,
            0,
            "unbalanced quotes in <{tag}>"
        );
        let name = tag
            .trim_start_matches('/')
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if let Some(closing) = tag.strip_prefix('/') {
            let top = stack
                .pop()
                .unwrap_or_else(|| panic!("</{closing}> closes nothing"));
            assert_eq!(top, name, "</{name}> closes <{top}>");
        } else if !VOID.contains(&name.as_str()) {
            stack.push(name);
        }
        rest = &rest[close + 1..];
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
}

/// Staging in account 111111111111 (us-east-1), prod in 222222222222 (eu-west-1), each read with
/// its own profile: version numbers of two functions mean nothing to each other, so the code
/// decides. Prod's `api` holds staging's older code (a copy of staging's version 1, seeded
/// directly as a promotion across accounts would leave it): behind. `worker` holds the same code
/// in another account's function: same. `tool` holds code staging never had: drifted. S3: prod's
/// bundle older bytes than staging's: behind; the same bytes in another account: same.
#[tokio::test]
async fn across_accounts_the_code_and_the_bytes_decide() {
    use test_harness::accounts::{
        env_sections, sdk_config, write_profiles, PROD_ACCOUNT, PROD_REGION, STAGING_ACCOUNT,
        STAGING_REGION,
    };
    use test_harness::lambda::{create_function_in, package, role_in};

    let name = unique("rvx");
    let staging = sdk_config(STAGING_ACCOUNT, STAGING_REGION).await;
    let prod = sdk_config(PROD_ACCOUNT, PROD_REGION).await;
    let (ls, lp) = (
        aws_sdk_lambda::Client::new(&staging),
        aws_sdk_lambda::Client::new(&prod),
    );
    let (rs, rp) = (
        role_in(&staging, STAGING_ACCOUNT).await,
        role_in(&prod, PROD_ACCOUNT).await,
    );
    let publish = |client: aws_sdk_lambda::Client, function: String| async move {
        client
            .publish_version()
            .function_name(&function)
            .send()
            .await
            .unwrap()
            .version()
            .unwrap()
            .to_string()
    };
    let alias = |client: aws_sdk_lambda::Client,
                 function: String,
                 alias: &'static str,
                 v: String| async move {
        client
            .create_alias()
            .function_name(&function)
            .name(alias)
            .function_version(v)
            .send()
            .await
            .unwrap();
    };
    // api: staging 1 (old), 2 (new, current); prod: a first version of hand-made code, then
    // staging's old code as its version 2.
    let api = format!("{name}-api");
    create_function_in(&ls, &rs, &api, package(&format!("{name}-old")), &[]).await;
    publish(ls.clone(), api.clone()).await;
    ls.update_function_code()
        .function_name(&api)
        .zip_file(aws_sdk_lambda::primitives::Blob::new(package(&format!(
            "{name}-new"
        ))))
        .send()
        .await
        .unwrap();
    let v = publish(ls.clone(), api.clone()).await;
    alias(ls.clone(), api.clone(), "staging", v).await;
    create_function_in(&lp, &rp, &api, package(&format!("{name}-hand")), &[]).await;
    publish(lp.clone(), api.clone()).await;
    lp.update_function_code()
        .function_name(&api)
        .zip_file(aws_sdk_lambda::primitives::Blob::new(package(&format!(
            "{name}-old"
        ))))
        .send()
        .await
        .unwrap();
    let v = publish(lp.clone(), api.clone()).await;
    assert_eq!(v, "2");
    alias(lp.clone(), api.clone(), "prod", v).await;
    // worker: the same code in both, version 1 in each.
    let worker = format!("{name}-worker");
    for (client, role, env) in [(&ls, &rs, "staging"), (&lp, &rp, "prod")] {
        create_function_in(client, role, &worker, package(&format!("{name}-w")), &[]).await;
        let v = publish(client.clone(), worker.clone()).await;
        alias(client.clone(), worker.clone(), env, v).await;
    }
    // tool: prod runs code staging never had.
    let tool = format!("{name}-tool");
    for (client, role, env, marker) in [(&ls, &rs, "staging", "t1"), (&lp, &rp, "prod", "t9")] {
        create_function_in(
            client,
            role,
            &tool,
            package(&format!("{name}-{marker}")),
            &[],
        )
        .await;
        let v = publish(client.clone(), tool.clone()).await;
        alias(client.clone(), tool.clone(), env, v).await;
    }
    // S3: a bucket per environment in its account; prod's bundle written first.
    let s3 = |config: &aws_config::SdkConfig| {
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(config)
                .force_path_style(true)
                .build(),
        )
    };
    let (ss, sp) = (s3(&staging), s3(&prod));
    for (client, env, region) in [(&ss, "staging", None), (&sp, "prod", Some(PROD_REGION))] {
        client
            .create_bucket()
            .bucket(format!("{name}-{env}"))
            .set_create_bucket_configuration(region.map(|r| {
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(r))
                    .build()
            }))
            .send()
            .await
            .unwrap();
        client
            .put_bucket_versioning()
            .bucket(format!("{name}-{env}"))
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    let put = |client: aws_sdk_s3::Client,
               bucket: String,
               key: &'static str,
               body: &'static [u8]| async move {
        client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(aws_sdk_s3::primitives::ByteStream::from_static(body))
            .send()
            .await
            .unwrap();
    };
    put(sp.clone(), format!("{name}-prod"), "site.zip", b"site 1").await;
    put(sp.clone(), format!("{name}-prod"), "robots.txt", b"allow").await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    put(ss.clone(), format!("{name}-staging"), "site.zip", b"site 2").await;
    put(
        ss.clone(),
        format!("{name}-staging"),
        "robots.txt",
        b"allow",
    )
    .await;

    let sandbox = Sandbox::new();
    write_profiles(&sandbox);
    sandbox.write(
        "promote.toml",
        &format!(
            "{}[lambda]\nfunctions = [\"{api}\", \"{worker}\", \"{tool}\"]\n\n\
             [s3]\nobjects = [\"s3://{name}-{{env}}/site.zip\", \"s3://{name}-{{env}}/robots.txt\"]\n",
            env_sections()
        ),
    );
    let run = sandbox.run(&binary("cfg-diff"), &["release"], None);
    run.expect_code(0);
    let records = run.records();
    assert_eq!(records.len(), 5, "{run}");
    let relation = |source: &str, resource: &str| {
        let staging = entry(&records, source, resource, "staging");
        let prod = entry(&records, source, resource, "prod");
        assert_eq!(staging["account"], STAGING_ACCOUNT);
        assert_eq!(prod["account"], PROD_ACCOUNT);
        assert_eq!(prod["region"], PROD_REGION);
        prod["relation"].as_str().unwrap().to_string()
    };
    assert_eq!(
        relation("lambda", "-api"),
        "behind",
        "staging's old code, in prod's version 2"
    );
    assert_eq!(relation("lambda", "-worker"), "same");
    assert_eq!(relation("lambda", "-tool"), "drifted");
    assert_eq!(relation("s3", "site.zip"), "behind");
    assert_eq!(relation("s3", "robots.txt"), "same");
    let check = sandbox.run(&binary("cfg-diff"), &["release", "--check", "prod"], None);
    check.expect_code(1);
}

/// An environment that cannot be read: prod's calls go through the test proxy, which answers
/// every one with a server error (the emulator never fails on its own). Its cells say why, as
/// `error` records do, the relation is `unknown`, the other environments are still shown, and
/// the run exits 3. A function staging lacks is `missing`.
#[tokio::test]
async fn an_environment_that_cannot_be_read_is_shown_and_exits_3() {
    use test_harness::proxy::{FaultProxy, Faults};
    let name = unique("rve");
    let function = format!("{name}-api");
    create_function(&function, "e-1", &[]).await;
    let v = publish(&function).await;
    set_alias(&function, "dev", &v).await;
    let lonely = format!("{name}-lonely");
    create_function(&lonely, "e-2", &[]).await;
    let v = publish(&lonely).await;
    set_alias(&lonely, "dev", &v).await;
    let proxy = FaultProxy::start(
        &test_harness::Emulator::shared().endpoint,
        Faults {
            server_error: 100,
            ..Faults::default()
        },
    );
    let sandbox = Sandbox::new();
    sandbox.write(
        "promote.toml",
        &format!(
            "[envs]\norder = [\"dev\", \"staging\", \"prod\"]\n\n[env.prod]\nendpoint_url = \"{}\"\n\n\
             [lambda]\nfunctions = [\"{function}\", \"{lonely}\"]\n",
            proxy.endpoint
        ),
    );
    set_alias(&function, "staging", "1").await;
    let run = sandbox.run(&binary("cfg-diff"), &["release"], None);
    run.expect_code(3);
    let records = run.records();
    let errors: Vec<&Value> = records.iter().filter(|r| r["action"] == "error").collect();
    assert_eq!(errors.len(), 2, "one per pointer in prod\n{run}");
    assert!(errors
        .iter()
        .all(|e| e["env"] == "prod" && e["exit_code"] == 3));
    let prod = entry(&records, "lambda", "-api", "prod");
    assert_eq!(prod["relation"], "unknown");
    assert!(prod["error"].as_str().unwrap().len() > 10, "{prod}");
    assert_eq!(
        entry(&records, "lambda", "-api", "staging")["relation"],
        "same"
    );
    assert_eq!(
        entry(&records, "lambda", "-lonely", "staging")["relation"],
        "missing"
    );
    let page = sandbox.run(&binary("cfg-diff"), &["release", "--output", "html"], None);
    page.expect_code(3);
    assert!(page
        .stdout
        .contains("class=\"relation-unknown\" data-env=\"prod\""));
    assert!(page
        .stdout
        .contains("class=\"relation-missing\" data-env=\"staging\""));
    assert!(page.stdout.contains("<span class=\"error\">error: "));
    let mut narrow = Sandbox::new();
    narrow.env("COLUMNS", "80");
    std::fs::copy(
        sandbox.path().join("promote.toml"),
        narrow.path().join("promote.toml"),
    )
    .unwrap();
    let table = narrow.run(&binary("cfg-diff"), &["release", "--output", "table"], None);
    table.expect_code(3);
    assert!(
        table.stdout.contains("error:") && table.stdout.contains("unknown"),
        "{table}"
    );
    assert!(proxy.counts().injected.values().sum::<u64>() > 0);
}

#[tokio::test]
async fn step_functions_aliases_are_in_the_release_by_version_and_definition() {
    use test_harness::sfn;
    let base = unique("relsfn");
    let c = sfn::client();
    let account = test_harness::accounts::DEFAULT_ACCOUNT;
    // One state machine: dev on 2, staging on 2, prod on 1 (behind).
    let one = sfn::create(&c, &format!("{base}-one"), &sfn::definition("a"), account).await;
    sfn::publish(&c, &one, &sfn::definition("b")).await;
    for (env, v) in [("dev", "2"), ("staging", "2"), ("prod", "1")] {
        sfn::set_alias(&c, &one, env, &[(v, 100)]).await;
    }
    // One per environment: staging's definition copied into prod's (same), dev's differs.
    for (env, marker) in [("dev", "new"), ("staging", "old"), ("prod", "old")] {
        let arn = sfn::create(
            &c,
            &format!("{base}-{env}"),
            &sfn::definition(marker),
            account,
        )
        .await;
        sfn::set_alias(&c, &arn, env, &[("1", 100)]).await;
    }
    let sandbox = Sandbox::new();
    sandbox.write(
        "promote.toml",
        &format!(
            "[envs]\norder = [\"dev\", \"staging\", \"prod\"]\n\n[stepfunctions]\n\
             state_machines = [\"{base}-one\", \"{base}-{{env}}\"]\n"
        ),
    );
    let run = sandbox.run(&binary("cfg-diff"), &["release", "--check", "prod"], None);
    run.expect_code(1);
    let records = run.records();
    let one_row = relations(&records, "stepfunctions", "-one");
    assert_eq!(one_row[1], "same", "{run}");
    assert_eq!(one_row[2], "behind", "{run}");
    assert_eq!(
        entry(&records, "stepfunctions", "-one", "prod")["artifact"]["version"],
        "1"
    );
    let per_env = relations(&records, "stepfunctions", "-{env}");
    assert_eq!(
        per_env[2], "same",
        "the same definition in another state machine is the same artifact\n{run}"
    );
    assert_ne!(per_env[1], "same", "{run}");
    let table = sandbox.run(&binary("cfg-diff"), &["release", "--output", "table"], None);
    assert!(table.stdout.contains("definition_sha256"), "{table}");
}
