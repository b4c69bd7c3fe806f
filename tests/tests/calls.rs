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
