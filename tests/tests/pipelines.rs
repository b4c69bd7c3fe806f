//! The tools composed, as the design writes them: each stage a real binary, records flowing
//! through pipes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // reason: tests fail loudly

use test_harness::ecs::{create_repository, create_service, push_image, Container, REGISTRY};
use test_harness::{binary, unique, Sandbox};

/// `ecs-pin --resolve-digest | cfg-diff staging prod`, exactly as written in the design.
#[tokio::test]
async fn resolve_digest_into_cfg_diff() {
    let prefix = unique("pipe");
    let repo = format!("{prefix}/web");
    create_repository(&repo, false).await;
    push_image(&repo, &prefix, "v1").await;
    for env in ["staging", "prod"] {
        let db = format!("db.{env}.internal");
        let mut environment = vec![("DB_HOST", db.as_str())];
        if env == "staging" {
            environment.push(("DEBUG", "1"));
        }
        create_service(
            &format!("{prefix}-{env}"),
            "web",
            &format!("{prefix}-{env}"),
            &[Container {
                name: "web",
                image: format!("{REGISTRY}/{repo}:v1"),
                environment,
                secrets: vec![],
            }],
        )
        .await;
    }
    let sandbox = Sandbox::new();
    sandbox.write(
        "promote.toml",
        &format!("[envs]\norder = [\"staging\", \"prod\"]\n\n[ecs]\ncluster = \"{prefix}-{{env}}\"\nservices = [\"web\"]\n"),
    );
    let ecs_pin = binary("ecs-pin");
    let cfg_diff = binary("cfg-diff");
    let (codes, diff) = sandbox.pipe(
        &[
            (&ecs_pin, &["--resolve-digest"]),
            (&cfg_diff, &["staging", "prod"]),
        ],
        None,
    );
    assert_eq!(codes, [0, 1], "cfg-diff finds drift\n{diff}");
    let records = diff.records();
    let find = |key: &str| {
        records
            .iter()
            .find(|r| r["key"] == key)
            .unwrap_or_else(|| panic!("no {key}\n{diff}"))
    };
    assert_eq!(
        find("(artifact)")["status"],
        "same",
        "both run the same digest"
    );
    assert!(
        find("(artifact)")["a"]
            .as_str()
            .unwrap()
            .contains("sha256:"),
        "compared by digest"
    );
    assert_eq!(find("web/DB_HOST")["status"], "parallel");
    assert_eq!(find("web/DEBUG")["status"], "only_in_a");
    assert_eq!(
        records.iter().filter(|r| r["key"] == "web/DB_HOST").count(),
        1,
        "one comparison per service, however many records name it"
    );
}
