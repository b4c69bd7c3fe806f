//! Promotions through the fault-injecting proxy (tests/src/proxy.rs): a batch of 300 mixed across
//! Lambda, ECS, API Gateway and S3 at 20% throttling, 5% server errors and 2% resets ends with
//! every pointer where it should be, every change in the output records and no pointer written
//! twice; with faults that outlast the retries, failures are reported per record with exit 3 and
//! the changes that did happen are still written.
//!
//! The figures are printed (run with --no-capture); docs/reliability.md quotes them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // reason: tests fail loudly

use std::time::Instant;
use test_harness::apigateway::{create_api, create_stage, deploy, stage};
use test_harness::ecs::{
    create_repository, create_service, push_image, service_task_definition, Container, REGISTRY,
};
use test_harness::lambda::{alias, create_function, publish, set_alias, update_code};
use test_harness::proxy::{FaultProxy, Faults};
use test_harness::s3::{create_bucket, get, put};
use test_harness::{binary, unique, Emulator, Sandbox};

const LAMBDA: usize = 80;
const ECS: usize = 80;
const APIS: usize = 70;
const OBJECTS: usize = 70;

struct Batch {
    name: String,
    functions: Vec<String>,
    apis: Vec<(String, String, String)>, // id, staging deployment, prod deployment
    digest_v2: String,
}

async fn seed() -> Batch {
    let name = unique("flt");
    let mut functions = Vec::new();
    for i in 0..LAMBDA {
        let f = format!("{name}-f{i}");
        create_function(&f, &format!("{f}-1"), &[]).await;
        let v1 = publish(&f).await;
        update_code(&f, &format!("{f}-2")).await;
        let v2 = publish(&f).await;
        set_alias(&f, "staging", &v2).await;
        set_alias(&f, "prod", &v1).await;
        functions.push(f);
    }
    let repo = format!("{name}/app");
    create_repository(&repo, false).await;
    push_image(&repo, &format!("{name}-1"), "v1").await;
    let digest_v2 = push_image(&repo, &format!("{name}-2"), "v2").await;
    for i in 0..ECS {
        for (env, tag) in [("staging", "v2"), ("prod", "v1")] {
            let value = format!("{env}-{i}");
            create_service(
                &format!("{name}-{env}"),
                &format!("s{i}"),
                &format!("{name}-{env}-s{i}"),
                &[Container {
                    name: "app",
                    image: format!("{REGISTRY}/{repo}:{tag}"),
                    environment: vec![("ENV", &value)],
                    secrets: vec![],
                }],
            )
            .await;
        }
    }
    let mut apis = Vec::new();
    for i in 0..APIS {
        let id = create_api(&format!("{name}-a{i}")).await;
        let one = deploy(&id, "one").await;
        let two = deploy(&id, "two").await;
        create_stage(&id, "staging", &two, &[]).await;
        create_stage(&id, "prod", &one, &[]).await;
        apis.push((id, two, one));
    }
    let bucket = format!("{name}-b");
    create_bucket(&bucket, true).await;
    for i in 0..OBJECTS {
        put(
            &bucket,
            &format!("staging/o{i}"),
            format!("new {i}").as_bytes(),
            "text/plain",
            &[],
        )
        .await;
        put(
            &bucket,
            &format!("prod/o{i}"),
            format!("old {i}").as_bytes(),
            "text/plain",
            &[],
        )
        .await;
    }
    Batch {
        name,
        functions,
        apis,
        digest_v2,
    }
}

fn toml(batch: &Batch) -> String {
    let functions: Vec<String> = batch.functions.iter().map(|f| format!("\"{f}\"")).collect();
    let services: Vec<String> = (0..ECS).map(|i| format!("\"s{i}\"")).collect();
    let objects: Vec<String> = (0..OBJECTS)
        .map(|i| format!("\"s3://{}-b/{{env}}/o{i}\"", batch.name))
        .collect();
    format!(
        "[envs]\norder = [\"staging\", \"prod\"]\n[lambda]\nfunctions = [{}]\n[ecs]\ncluster = \"{}-{{env}}\"\nservices = [{}]\n[s3]\nobjects = [{}]\n",
        functions.join(", "),
        batch.name,
        services.join(", "),
        objects.join(", ")
    )
}

fn apigateway_manifest(batch: &Batch) -> String {
    batch
        .apis
        .iter()
        .map(|(id, staging, _)| {
            format!(
                "{}\n",
                serde_json::json!({"service": "apigateway", "action": "resolved", "resource": id, "env": "staging",
                                   "pointer": "staging", "artifact": {"deployment_id": staging}})
            )
        })
        .collect()
}

#[tokio::test]
async fn three_hundred_promotions_through_throttling_errors_and_resets() {
    let batch = seed().await;
    let proxy = FaultProxy::start(
        &Emulator::shared().endpoint,
        Faults {
            throttle: 20,
            server_error: 5,
            reset: 2,
            seed: 7,
            ..Faults::default()
        },
    );
    let mut sandbox = Sandbox::new();
    sandbox.write("promote.toml", &toml(&batch));
    // Throttles wait for AWS whatever the attempt limit. The attempts are for the server errors:
    // at 5% and ~2,400 requests, three in a row on one call happen in one run in four; five do
    // not (AWS's own server errors are far rarer).
    sandbox
        .env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .env("AWS_MAX_ATTEMPTS", "5");

    // The four tools at once, as a release would run them side by side.
    let started = Instant::now();
    let manifest = apigateway_manifest(&batch);
    let sandbox = &sandbox;
    let runs = std::thread::scope(|scope| {
        let manifest = manifest.as_str();
        let promote = |tool: &'static str, stdin: Option<&'static str>| {
            scope.spawn(move || {
                sandbox.run(
                    &binary(tool),
                    &["promote", "--to", "prod", "--concurrency", "16"],
                    stdin,
                )
            })
        };
        let handles = [
            promote("lambda-promote", None),
            promote("ecs-pin", None),
            scope.spawn(move || {
                sandbox.run(
                    &binary("apigw-stage"),
                    &["promote", "--to", "prod", "--concurrency", "16"],
                    Some(manifest),
                )
            }),
            promote("s3-version", None),
        ];
        handles.map(|h| h.join().expect("a tool run"))
    });
    let elapsed = started.elapsed();
    let mut records = Vec::new();
    for run in &runs {
        run.expect_code(0);
        records.extend(run.records());
    }
    let total = LAMBDA + ECS + APIS + OBJECTS;
    assert_eq!(records.len(), total, "every change is in the output");
    assert!(records.iter().all(|r| r["action"] == "promoted"));

    // Every pointer where it should be (read from the emulator directly, not through the proxy).
    for f in &batch.functions {
        let (staging, _) = alias(f, "staging").await.unwrap();
        assert_eq!(alias(f, "prod").await.unwrap().0, staging, "{f}");
    }
    for i in 0..ECS {
        let running =
            service_task_definition(&format!("{}-prod", batch.name), &format!("s{i}")).await;
        let (definition, _) = test_harness::ecs::task_definition(&running).await;
        let container = &definition.container_definitions()[0];
        assert!(
            container.image().unwrap().ends_with(&batch.digest_v2),
            "s{i}"
        );
        assert_eq!(
            container.environment()[0].value(),
            Some(format!("prod-{i}").as_str()),
            "prod's own configuration"
        );
    }
    for (id, staging, _) in &batch.apis {
        assert_eq!(&stage(id, "prod").await.unwrap().0, staging, "{id}");
    }
    for i in 0..OBJECTS {
        assert_eq!(
            get(&format!("{}-b", batch.name), &format!("prod/o{i}"), None)
                .await
                .unwrap()
                .0,
            format!("new {i}").into_bytes()
        );
    }

    // No pointer written twice: every write that reached the emulator, counted by pointer.
    let counts = proxy.counts();
    let twice: Vec<_> = counts.writes.iter().filter(|(_, &n)| n > 1).collect();
    assert!(
        twice.is_empty(),
        "pointers written more than once: {twice:?}"
    );
    assert_eq!(
        counts.writes.len(),
        total,
        "one write per pointer: {:?}",
        counts.writes.len()
    );
    let requests: u64 = counts.requests.values().sum();
    let injected: u64 = counts.injected.values().sum();
    assert!(
        injected * 100 / requests >= 20,
        "faults were injected: {injected} of {requests}"
    );
    eprintln!(
        "FIGURES: {total} promotions (Lambda {LAMBDA}, ECS {ECS}, API Gateway {APIS}, S3 {OBJECTS}) in {:.1} s; \
         {requests} requests, {injected} faults injected {:?}; {} pointers written once each, none twice",
        elapsed.as_secs_f64(),
        counts.injected,
        counts.writes.len()
    );
}

#[tokio::test]
async fn faults_that_outlast_the_retries_fail_per_record_and_keep_the_changes_made() {
    let mut functions = Vec::new();
    for i in 0..30 {
        let f = unique(&format!("out{i}"));
        create_function(&f, &f, &[]).await;
        let v = publish(&f).await;
        set_alias(&f, "staging", &v).await;
        functions.push(f);
    }
    let proxy = FaultProxy::start(
        &Emulator::shared().endpoint,
        // Server errors: throttling is backpressure and waits for AWS (the test below), while
        // other failures keep the SDK's attempt limit, here one.
        Faults {
            server_error: 15,
            seed: 11,
            ..Faults::default()
        },
    );
    let mut sandbox = Sandbox::new();
    sandbox
        .env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .env("AWS_MAX_ATTEMPTS", "1");
    let mut args = vec!["promote", "--from", "staging", "--to", "prod"];
    args.extend(functions.iter().map(String::as_str));
    let run = sandbox.run(&binary("lambda-promote"), &args, None);
    assert_eq!(run.code, 3, "{run}");
    // Each failure is an `error` record (for the tools after this one) as well as a line on
    // stderr; the change records are the rest.
    let (errors, records): (Vec<_>, Vec<_>) = run
        .records()
        .into_iter()
        .partition(|r| r["action"] == "error");
    let failed = run
        .stderr
        .lines()
        .filter(|l| l.contains("ServiceException"))
        .count();
    assert!(
        !records.is_empty() && failed > 0,
        "some succeed, some fail\n{run}"
    );
    assert_eq!(errors.len(), failed, "one error record per failure\n{run}");
    assert!(errors.iter().all(|e| e["exit_code"] == 3), "{run}");
    assert_eq!(
        records.len() + failed,
        functions.len(),
        "each failure is reported per record\n{run}"
    );
    for f in &functions {
        let printed = records.iter().any(|r| r["resource"] == f.as_str());
        assert_eq!(
            alias(f, "prod").await.is_some(),
            printed,
            "{f}: moved exactly when its record was printed"
        );
    }
    eprintln!("FIGURES: faults outlasting retries: {} of 30 promotions failed (exit 3), {} succeeded and were printed", failed, records.len());
}

#[tokio::test]
async fn answers_delayed_past_the_attempt_timeout_are_retried() {
    let mut functions = Vec::new();
    for i in 0..12 {
        let f = unique(&format!("slow{i}"));
        create_function(&f, &f, &[]).await;
        let v = publish(&f).await;
        set_alias(&f, "staging", &v).await;
        functions.push(f);
    }
    // A fifth of the requests get no answer for 2 s; the tools give an attempt 0.5 s.
    let proxy = FaultProxy::start(
        &Emulator::shared().endpoint,
        Faults {
            delay: 20,
            delay_by: std::time::Duration::from_secs(2),
            seed: 5,
            ..Faults::default()
        },
    );
    let mut sandbox = Sandbox::new();
    sandbox
        .env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .env("AWS_MAX_ATTEMPTS", "8")
        .env("PROMOTE_ATTEMPT_TIMEOUT", "0.5");
    let mut args = vec!["promote", "--from", "staging", "--to", "prod"];
    args.extend(functions.iter().map(String::as_str));
    let run = sandbox.run(&binary("lambda-promote"), &args, None);
    run.expect_code(0);
    assert_eq!(run.records().len(), functions.len());
    for f in &functions {
        assert!(alias(f, "prod").await.is_some(), "{f}");
    }
    let counts = proxy.counts();
    assert!(
        counts.injected.get("delay").copied().unwrap_or(0) > 0,
        "delays were injected: {:?}",
        counts.injected
    );
    assert!(
        counts.writes.values().all(|&n| n == 1),
        "{:?}",
        counts.writes
    );
    eprintln!(
        "FIGURES: {} promotions with {} answers held past the attempt timeout: all made, each once",
        functions.len(),
        counts.injected["delay"]
    );
}

#[tokio::test]
async fn throttling_is_backpressure_at_default_settings() {
    // 30 promotions; a fifth of all requests are throttled, half of those after the emulator
    // applied them (the answer to a write that happened is lost). A third of the functions have
    // no prod alias yet, so their write is a CreateAlias whose retry meets the alias it made.
    let mut functions = Vec::new();
    for i in 0..30 {
        let f = unique(&format!("bp{i}"));
        create_function(&f, &format!("{f}-1"), &[]).await;
        let v1 = publish(&f).await;
        update_code(&f, &format!("{f}-2")).await;
        let v2 = publish(&f).await;
        set_alias(&f, "staging", &v2).await;
        if i % 3 != 0 {
            set_alias(&f, "prod", &v1).await;
        }
        functions.push(f);
    }
    let proxy = FaultProxy::start(
        &Emulator::shared().endpoint,
        Faults {
            throttle: 10,
            throttle_after: 10,
            seed: 3,
            ..Faults::default()
        },
    );
    let mut sandbox = Sandbox::new();
    sandbox.env("AWS_ENDPOINT_URL", &proxy.endpoint);
    let mut args = vec!["promote", "--from", "staging", "--to", "prod"];
    args.extend(functions.iter().map(String::as_str));
    let started = Instant::now();
    let run = sandbox.run(&binary("lambda-promote"), &args, None);
    let elapsed = started.elapsed();
    run.expect_code(0);
    let records = run.records();
    assert_eq!(records.len(), 30, "{run}");
    assert!(records.iter().all(|r| r["action"] == "promoted"), "{run}");
    for f in &functions {
        let (staging, _) = alias(f, "staging").await.unwrap();
        assert_eq!(alias(f, "prod").await.unwrap().0, staging, "{f}");
    }
    let counts = proxy.counts();
    let requests: u64 = counts.requests.values().sum();
    assert!(
        counts.injected.get("throttle").copied().unwrap_or(0) > 0
            && counts.injected.get("throttle_after").copied().unwrap_or(0) > 0,
        "both kinds of throttle were injected: {:?}",
        counts.injected
    );
    // Well under the 168 s the SDK's adaptive retry took for this batch (and its exit 3).
    assert!(elapsed.as_secs() < 30, "{elapsed:?}\n{run}");
    eprintln!(
        "FIGURES: backpressure: 30 Lambda promotions at default settings through 20% throttling \
         (half after the write applied) in {:.1} s; {requests} requests, {:?} injected; exit 0",
        elapsed.as_secs_f64(),
        counts.injected
    );
}

#[tokio::test]
async fn waiting_for_a_rate_token_never_times_a_request_out() {
    // One Lambda call a second for six promotions at once (five calls each): most requests,
    // writes among them, wait seconds for their token, far past the 1 s attempt timeout and the
    // SDK's 5 s stall grace for uploads. Waiting is not a stall: every promotion is made.
    let mut functions = Vec::new();
    for i in 0..6 {
        let f = unique(&format!("tok{i}"));
        create_function(&f, &f, &[]).await;
        let v = publish(&f).await;
        set_alias(&f, "staging", &v).await;
        functions.push(f);
    }
    let mut sandbox = Sandbox::new();
    sandbox.env("PROMOTE_ATTEMPT_TIMEOUT", "1");
    let mut args = vec![
        "promote",
        "--from",
        "staging",
        "--to",
        "prod",
        "--rate-limit",
        "lambda=1",
        "--concurrency",
        "6",
    ];
    args.extend(functions.iter().map(String::as_str));
    let started = Instant::now();
    let run = sandbox.run(&binary("lambda-promote"), &args, None);
    let elapsed = started.elapsed();
    run.expect_code(0);
    assert_eq!(run.records().len(), 6, "{run}");
    for f in &functions {
        let (staging, _) = alias(f, "staging").await.unwrap();
        assert_eq!(alias(f, "prod").await.unwrap().0, staging, "{f}");
    }
    // Paced, not failed: at one call a second the run took at least the calls it made, less the
    // one-call burst.
    assert!(
        elapsed.as_secs() >= 20,
        "{elapsed:?}: the limit paced the calls"
    );
    eprintln!(
        "FIGURES: --rate-limit lambda=1: 6 promotions in {:.1} s with a 1 s attempt timeout; exit 0",
        elapsed.as_secs_f64()
    );
}
