//! Credentials per environment (issue 15, first part): a profile named for an environment, by
//! `--profile` or promote.toml's `[env.NAME] profile`, is used for that environment's calls
//! whatever the environment variables say, as the AWS CLI does; an unknown profile is exit 2.
//! Which credentials signed each request is read off the requests by the test proxy (every
//! sandbox run also has AWS_ACCESS_KEY_ID=testing in its environment, as CI with OIDC would).

#![allow(clippy::unwrap_used, clippy::expect_used)] // reason: tests fail loudly

use std::collections::BTreeSet;
use test_harness::lambda::{alias, create_function, publish, set_alias};
use test_harness::proxy::{FaultProxy, Faults};
use test_harness::{binary, unique, Emulator, Sandbox};

const PROD_KEY: &str = "AKIAPRODEXAMPLE00001";

fn keys(proxy: &FaultProxy) -> BTreeSet<String> {
    proxy.counts().access_keys
}

#[tokio::test]
async fn a_named_profile_beats_environment_keys_and_an_unknown_one_is_refused() {
    let f = unique("cred");
    create_function(&f, &f, &[]).await;
    let v = publish(&f).await;
    set_alias(&f, "staging", &v).await;

    let mut sandbox = Sandbox::new();
    sandbox.write(
        "aws-credentials",
        &format!("[prod]\naws_access_key_id = {PROD_KEY}\naws_secret_access_key = prodsecret\n"),
    );

    // --profile: every call signed with the profile's key, none with the environment's.
    let proxy = FaultProxy::start(&Emulator::shared().endpoint, Faults::default());
    sandbox.env("AWS_ENDPOINT_URL", &proxy.endpoint);
    let run = sandbox.run(
        &binary("lambda-promote"),
        &["status", &f, "--env", "staging", "--profile", "prod"],
        None,
    );
    run.expect_code(0);
    assert_eq!(
        keys(&proxy),
        BTreeSet::from([PROD_KEY.to_string()]),
        "{run}"
    );
    drop(proxy);

    // promote.toml: staging is read with the environment's credentials, prod written with its
    // own profile's.
    sandbox.write(
        "promote.toml",
        &format!(
            "[envs]\norder = [\"staging\", \"prod\"]\n[env.prod]\nprofile = \"prod\"\n[lambda]\nfunctions = [\"{f}\"]\n"
        ),
    );
    let proxy = FaultProxy::start(&Emulator::shared().endpoint, Faults::default());
    sandbox.env("AWS_ENDPOINT_URL", &proxy.endpoint);
    let run = sandbox.run(
        &binary("lambda-promote"),
        &["promote", "--from", "staging", "--to", "prod"],
        None,
    );
    run.expect_code(0);
    assert_eq!(alias(&f, "prod").await.unwrap().0, v, "{run}");
    assert_eq!(
        keys(&proxy),
        BTreeSet::from([PROD_KEY.to_string(), "testing".to_string()]),
        "{run}"
    );
    let writes: Vec<_> = proxy.counts().writes.into_keys().collect();
    assert_eq!(writes.len(), 1, "{writes:?}");
    drop(proxy);

    // An unknown profile: exit 2 naming it and the files read, before any call.
    let proxy = FaultProxy::start(&Emulator::shared().endpoint, Faults::default());
    sandbox.env("AWS_ENDPOINT_URL", &proxy.endpoint);
    let run = sandbox.run(
        &binary("lambda-promote"),
        &["status", &f, "--env", "staging", "--profile", "nosuch"],
        None,
    );
    assert_eq!(run.code, 2, "{run}");
    assert!(
        run.stderr.contains("\"nosuch\"") && run.stderr.contains("aws-credentials"),
        "{run}"
    );
    assert_eq!(
        proxy.counts().requests.values().sum::<u64>() + proxy.counts().sts,
        0,
        "no call made"
    );
}
