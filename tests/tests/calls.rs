//! The AWS calls a command makes, counted by the proxy with no faults: a promotion uses the
//! minimum the record needs, and no describe is repeated.

#![allow(clippy::unwrap_used, clippy::expect_used)] // reason: tests fail loudly

use test_harness::lambda::{create_function, publish, set_alias, update_code};
use test_harness::proxy::{FaultProxy, Faults};
use test_harness::{binary, unique, Emulator, Sandbox};

#[tokio::test]
async fn a_lambda_promotion_makes_five_calls() {
    let f = unique("calls");
    create_function(&f, "one", &[]).await;
    let v1 = publish(&f).await;
    update_code(&f, "two").await;
    let v2 = publish(&f).await;
    set_alias(&f, "staging", &v2).await;
    set_alias(&f, "prod", &v1).await;
    let proxy = FaultProxy::start(&Emulator::shared().endpoint, Faults::default());
    let mut sandbox = Sandbox::new();
    sandbox.env("AWS_ENDPOINT_URL", &proxy.endpoint);
    sandbox
        .run(
            &binary("lambda-promote"),
            &["promote", &f, "--from", "staging", "--to", "prod"],
            None,
        )
        .expect_code(0);
    let counts = proxy.counts();
    let calls: u64 = counts.requests.values().sum();
    // GetAlias staging and prod; the code hash of the version promoted and of the one replaced
    // (for the record's `previous`); UpdateAlias.
    assert_eq!(calls, 5, "{:?}", counts.requests);
    assert_eq!(counts.writes.len(), 1);
}

/// `--rate-limit` paces a batch: 8 promotions (40 Lambda calls) at 20 a second with a burst of
/// 15 cannot be sent faster than (40 - 15) / 20 = 1.25 s, and no half second holds more than the
/// burst plus half a second's rate. Without the limit the same batch takes a fraction of that.
#[tokio::test]
async fn a_rate_limit_paces_the_calls_of_a_batch() {
    let name = unique("pace");
    let mut functions = Vec::new();
    for i in 0..8 {
        let f = format!("{name}-{i}");
        create_function(&f, "one", &[]).await;
        let v1 = publish(&f).await;
        update_code(&f, "two").await;
        let v2 = publish(&f).await;
        set_alias(&f, "staging", &v2).await;
        set_alias(&f, "prod", &v1).await;
        functions.push(f);
    }
    let proxy = FaultProxy::start(&Emulator::shared().endpoint, Faults::default());
    let mut sandbox = Sandbox::new();
    sandbox.env("AWS_ENDPOINT_URL", &proxy.endpoint);
    let mut args = vec!["promote", "--from", "staging", "--to", "prod"];
    args.extend(functions.iter().map(String::as_str));
    args.extend(["--rate-limit", "lambda=20"]);
    let run = sandbox.run(&binary("lambda-promote"), &args, None);
    run.expect_code(0);
    assert_eq!(run.records().len(), 8);

    let counts = proxy.counts();
    let arrivals = &counts.arrivals["lambda"];
    assert_eq!(arrivals.len(), 40, "{:?}", counts.requests);
    let span = arrivals[arrivals.len() - 1] - arrivals[0];
    assert!(span.as_secs_f64() >= 1.2, "40 calls in {span:?}");
    for (i, start) in arrivals.iter().enumerate() {
        let within = arrivals[i..]
            .iter()
            .take_while(|t| t.duration_since(*start).as_secs_f64() < 0.5)
            .count();
        assert!(within <= 15 + 10 + 1, "{within} calls within 0.5 s");
    }
    for f in &functions {
        let (version, _) = test_harness::lambda::alias(f, "prod").await.unwrap();
        assert_eq!(version, "2", "{f}");
    }
}
