//! ecs-pin's real binary against the emulator: every command, dry runs, pass-through, the
//! rollback round trip, refusals and bad input, each checked by reading the emulator back.

#![allow(clippy::unwrap_used, clippy::expect_used)] // reason: tests fail loudly

use serde_json::{json, Value};
use test_harness::ecs::{
    self, create_repository, create_service, push_image, service_task_definition, set_service,
    tag_digest, task_definition, Container, REGISTRY,
};
use test_harness::{unique, Sandbox};

const BIN: &str = env!("CARGO_BIN_EXE_ecs-pin");

/// An app: one repository with images v1 and v2, and a service per environment (staging runs
/// v2, prod runs v1), each with its own environment variables and secrets.
struct App {
    repo: String,
    prefix: String,
    v1: String,
    v2: String,
}

impl App {
    async fn new() -> App {
        let prefix = unique("app");
        let repo = format!("{prefix}/web");
        create_repository(&repo, false).await;
        let v1 = push_image(&repo, &format!("{prefix}-1"), "v1").await;
        let v2 = push_image(&repo, &format!("{prefix}-2"), "v2").await;
        let app = App {
            repo,
            prefix,
            v1,
            v2,
        };
        app.service("staging", &[("web", "v2"), ("log", "v1")])
            .await;
        app.service("prod", &[("web", "v1"), ("log", "v1")]).await;
        app
    }

    fn cluster(&self, env: &str) -> String {
        format!("{}-{env}", self.prefix)
    }

    async fn service(&self, env: &str, containers: &[(&str, &str)]) -> String {
        let db = format!("db.{env}.internal");
        let key = format!("arn:aws:ssm:us-east-1:123456789012:parameter/{env}/api-key");
        let containers: Vec<Container<'_>> = containers
            .iter()
            .map(|(name, tag)| Container {
                name,
                image: format!("{REGISTRY}/{}:{tag}", self.repo),
                environment: vec![("DB_HOST", db.as_str()), ("STAGE", env)],
                secrets: vec![("API_KEY", key.as_str())],
            })
            .collect();
        create_service(
            &self.cluster(env),
            "web",
            &format!("{}-{env}", self.prefix),
            &containers,
        )
        .await
    }

    fn toml(&self) -> String {
        format!(
            "[envs]\norder = [\"staging\", \"prod\"]\n\n[ecs]\ncluster = \"{}-{{env}}\"\nservices = [\"web\"]\n",
            self.prefix
        )
    }

    fn pinned(&self, digest: &str) -> String {
        format!("{REGISTRY}/{}@{digest}", self.repo)
    }

    async fn running(&self, env: &str) -> String {
        service_task_definition(&self.cluster(env), "web").await
    }

    /// Container name -> image, of the task definition a service runs.
    async fn images(&self, env: &str) -> Vec<(String, String)> {
        let (definition, _) = task_definition(&self.running(env).await).await;
        definition
            .container_definitions()
            .iter()
            .map(|c| {
                (
                    c.name().unwrap().to_string(),
                    c.image().unwrap().to_string(),
                )
            })
            .collect()
    }
}

#[tokio::test]
async fn resolve_names_each_digest_and_the_missing_tag() {
    let app = App::new().await;
    let run = Sandbox::new().run(
        BIN,
        &[
            "resolve",
            &format!("{}:v1", app.repo),
            &format!("{REGISTRY}/{}:v2", app.repo),
            &format!("{}:v9", app.repo),
        ],
        None,
    );
    run.expect_code(4);
    assert!(
        run.stderr
            .contains(&format!("{}:v9 does not exist", app.repo)),
        "{run}"
    );
    let records = run.records();
    assert_eq!(records.len(), 2, "the found ones are still printed\n{run}");
    assert_eq!(records[0]["service"], "ecr");
    assert_eq!(records[0]["action"], "resolved");
    assert_eq!(records[0]["resource"], app.repo.as_str());
    assert_eq!(records[0]["pointer"], "v1");
    assert_eq!(
        records[0]["artifact"],
        json!({"digest": app.v1, "image": app.pinned(&app.v1)})
    );
    assert_eq!(records[1]["artifact"]["digest"], app.v2.as_str());
}

#[tokio::test]
async fn tag_moves_a_tag_without_pushing_and_records_what_it_named() {
    let app = App::new().await;
    let sandbox = Sandbox::new();
    let first = sandbox
        .run(BIN, &["tag", &format!("{}:v1", app.repo), "prod"], None)
        .expect_code(0)
        .record();
    assert_eq!(first["action"], "promoted");
    assert_eq!(first["pointer"], "prod");
    assert_eq!(first["previous"], Value::Null);
    assert_eq!(tag_digest(&app.repo, "prod").await, Some(app.v1.clone()));

    let second = sandbox
        .run(
            BIN,
            &["tag", &format!("{}@{}", app.repo, app.v2), "prod"],
            None,
        )
        .expect_code(0)
        .record();
    assert_eq!(second["artifact"]["digest"], app.v2.as_str());
    assert_eq!(second["previous"]["digest"], app.v1.as_str());
    assert_eq!(tag_digest(&app.repo, "prod").await, Some(app.v2.clone()));

    let again = sandbox
        .run(BIN, &["tag", &format!("{}:v2", app.repo), "prod"], None)
        .expect_code(0)
        .record();
    assert_eq!(again["action"], "unchanged");

    // Undo both moves: the tag is removed again (it did not exist before).
    let log = format!("{}\n{}\n", first, second);
    let rolled = sandbox
        .run(BIN, &["rollback"], Some(&log))
        .expect_code(0)
        .record();
    assert_eq!(rolled["action"], "rolled_back");
    assert_eq!(rolled["artifact"], Value::Null);
    assert_eq!(tag_digest(&app.repo, "prod").await, None);
    assert_eq!(
        tag_digest(&app.repo, "v2").await,
        Some(app.v2.clone()),
        "the image itself stays"
    );
}

#[tokio::test]
async fn an_immutable_repository_refuses_to_move_a_tag() {
    let repo = format!("{}/locked", unique("imm"));
    create_repository(&repo, true).await;
    let one = push_image(&repo, &format!("{repo}-1"), "v1").await;
    push_image(&repo, &format!("{repo}-2"), "v2").await;
    let run = Sandbox::new().run(BIN, &["tag", &format!("{repo}:v2"), "v1"], None);
    run.expect_code(4);
    assert!(run.stderr.contains("immutable"), "{run}");
    assert_eq!(tag_digest(&repo, "v1").await, Some(one.clone()));
    // A dry run plans what the real run does: it refuses too, instead of planning the move.
    let dry = Sandbox::new().run(
        BIN,
        &["tag", &format!("{repo}:v2"), "v1", "--dry-run"],
        None,
    );
    dry.expect_code(4);
    assert!(dry.stderr.contains("has immutable tags"), "{dry}");
    assert_eq!(dry.record()["action"], "error", "{dry}");
    assert_eq!(tag_digest(&repo, "v1").await, Some(one));
    // A new tag in the same repository is no move of an existing one: planned as usual.
    let new = Sandbox::new().run(
        BIN,
        &["tag", &format!("{repo}:v2"), "v9", "--dry-run"],
        None,
    );
    new.expect_code(0);
    assert_eq!(new.record()["action"], "planned", "{new}");
}

#[tokio::test]
async fn resolve_digest_shows_every_container_pinned() {
    let app = App::new().await;
    let sandbox = Sandbox::new();
    let record = sandbox
        .run(
            BIN,
            &[
                "--resolve-digest",
                "--cluster",
                &app.cluster("staging"),
                "--service",
                "web",
            ],
            None,
        )
        .expect_code(0)
        .record();
    assert_eq!(record["service"], "ecs");
    assert_eq!(record["action"], "resolved");
    assert_eq!(
        record["resource"],
        format!("{}/web", app.cluster("staging"))
    );
    assert_eq!(record["pointer"], "web");
    assert_eq!(
        record["artifact"]["task_definition"],
        app.running("staging").await.as_str()
    );
    assert_eq!(
        record["artifact"]["images"],
        json!([
            {"container": "web", "image": app.pinned(&app.v2), "digest": app.v2},
            {"container": "log", "image": app.pinned(&app.v1), "digest": app.v1},
        ])
    );

    sandbox.write("promote.toml", &app.toml());
    let by_env = sandbox
        .run(BIN, &["--resolve-digest", "--env", "staging"], None)
        .expect_code(0)
        .record();
    assert_eq!(by_env["env"], "staging");
    assert_eq!(by_env["artifact"], record["artifact"]);

    // No --env: every environment of promote.toml, in order (what cfg-diff needs).
    let all = sandbox
        .run(BIN, &["--resolve-digest"], None)
        .expect_code(0)
        .records();
    let envs: Vec<&str> = all.iter().map(|r| r["env"].as_str().unwrap()).collect();
    assert_eq!(envs, ["staging", "prod"]);

    let status = sandbox
        .run(BIN, &["status", "--env", "prod"], None)
        .expect_code(0)
        .record();
    assert_eq!(status["artifact"]["images"][0]["digest"], app.v1.as_str());
    assert_eq!(status["deployments"][0]["status"], "PRIMARY");
    assert!(
        status["deployments"][0]["rollout_state"].is_string(),
        "{status}"
    );
    // The table at 80 columns: the task definition's ARN and every digest whole, and the
    // deployments' rollout state, which the table used to drop.
    let mut narrow = Sandbox::new();
    narrow.env("COLUMNS", "80");
    narrow.write("promote.toml", &app.toml());
    let table = narrow.run(BIN, &["status", "--env", "prod", "--output", "table"], None);
    table.expect_code(0);
    let task_definition = status["artifact"]["task_definition"].as_str().unwrap();
    let rollout = status["deployments"][0]["rollout_state"].as_str().unwrap();
    for whole in [task_definition, app.v1.as_str(), rollout] {
        assert!(table.stdout.contains(whole), "{whole}\n{table}");
    }
    // A line is wider than the terminal only to hold an id longer than the room beside the
    // field names (a long cluster's ARN): whole, rather than cut.
    for line in table.stdout.lines().filter(|l| l.chars().count() > 80) {
        let last = line.split_whitespace().last().unwrap();
        assert!(
            line.split_whitespace().count() <= 2 && last.chars().count() > 70,
            "{line:?}\n{table}"
        );
    }
}

#[tokio::test]
async fn pin_registers_a_digest_revision_and_deploys_it() {
    let app = App::new().await;
    let sandbox = Sandbox::new();
    let before = app.running("staging").await;
    let (old, old_tags) = task_definition(&before).await;

    let staging = app.cluster("staging");
    let planned = sandbox
        .run(
            BIN,
            &[
                "pin",
                "--cluster",
                &staging,
                "--service",
                "web",
                "--deploy",
                "--dry-run",
            ],
            None,
        )
        .expect_code(0)
        .record();
    assert_eq!(planned["action"], "planned");
    assert_eq!(planned["planned_action"], "published");
    assert_eq!(planned["artifact"]["task_definition"], Value::Null);
    assert_eq!(
        app.running("staging").await,
        before,
        "a dry run registers and deploys nothing"
    );

    let pinned = sandbox
        .run(
            BIN,
            &[
                "pin",
                "--cluster",
                &app.cluster("staging"),
                "--service",
                "web",
            ],
            None,
        )
        .expect_code(0)
        .record();
    assert_eq!(pinned["action"], "published");
    assert_eq!(
        pinned["pointer"],
        Value::Null,
        "without --deploy no pointer moves"
    );
    assert_eq!(
        app.running("staging").await,
        before,
        "the service still runs the old revision"
    );
    let arn = pinned["artifact"]["task_definition"]
        .as_str()
        .unwrap()
        .to_string();
    let (new, new_tags) = task_definition(&arn).await;
    assert_eq!(new.revision(), old.revision() + 1);
    let images: Vec<&str> = new
        .container_definitions()
        .iter()
        .map(|c| c.image().unwrap())
        .collect();
    assert_eq!(images, [app.pinned(&app.v2), app.pinned(&app.v1)]);
    // Everything but the images is the same, field by field.
    for (a, b) in old
        .container_definitions()
        .iter()
        .zip(new.container_definitions())
    {
        assert_eq!(a.environment(), b.environment());
        assert_eq!(a.secrets(), b.secrets());
        assert_eq!(a.memory(), b.memory());
    }
    assert_eq!(
        (old.cpu(), old.memory(), old.execution_role_arn()),
        (new.cpu(), new.memory(), new.execution_role_arn())
    );
    assert_eq!(old_tags, new_tags);

    let deployed = sandbox
        .run(
            BIN,
            &[
                "pin",
                "--cluster",
                &app.cluster("staging"),
                "--service",
                "web",
                "--deploy",
            ],
            None,
        )
        .expect_code(0)
        .record();
    assert_eq!(deployed["pointer"], "web");
    assert_eq!(deployed["previous"]["task_definition"], before.as_str());
    let running = app.running("staging").await;
    assert_eq!(
        running,
        deployed["artifact"]["task_definition"].as_str().unwrap()
    );

    let again = sandbox
        .run(
            BIN,
            &[
                "pin",
                "--cluster",
                &app.cluster("staging"),
                "--service",
                "web",
                "--deploy",
            ],
            None,
        )
        .expect_code(0)
        .record();
    assert_eq!(again["action"], "unchanged");
    assert_eq!(app.running("staging").await, running);
}

#[tokio::test]
async fn promote_runs_stagings_digests_with_prods_own_configuration() {
    let app = App::new().await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &app.toml());
    let before = app.running("prod").await;
    let (old, old_tags) = task_definition(&before).await;

    let record = sandbox
        .run(BIN, &["promote", "--to", "prod"], None)
        .expect_code(0)
        .record();
    assert_eq!(record["action"], "promoted");
    assert_eq!(record["env"], "prod");
    assert_eq!(record["resource"], format!("{}/web", app.cluster("prod")));
    assert_eq!(record["previous"]["task_definition"], before.as_str());
    assert_eq!(record["previous"]["images"][0]["digest"], app.v1.as_str());

    let now = app.running("prod").await;
    assert_eq!(record["artifact"]["task_definition"], now.as_str());
    assert_eq!(
        app.images("prod").await,
        [
            ("web".to_string(), app.pinned(&app.v2)),
            ("log".to_string(), app.pinned(&app.v1))
        ]
    );
    let (new, new_tags) = task_definition(&now).await;
    assert_eq!(
        new.family(),
        old.family(),
        "a revision of prod's own family"
    );
    for (a, b) in old
        .container_definitions()
        .iter()
        .zip(new.container_definitions())
    {
        assert_eq!(a.name(), b.name());
        assert_eq!(
            a.environment(),
            b.environment(),
            "prod keeps its environment"
        );
        assert_eq!(a.secrets(), b.secrets(), "prod keeps its secrets");
        assert!(b
            .environment()
            .iter()
            .any(|e| e.value() == Some("db.prod.internal")));
    }
    assert_eq!(
        (old.cpu(), old.memory(), old.execution_role_arn()),
        (new.cpu(), new.memory(), new.execution_role_arn())
    );
    assert_eq!(old_tags, new_tags);

    let again = sandbox
        .run(BIN, &["promote", "--to", "prod"], None)
        .expect_code(0)
        .record();
    assert_eq!(again["action"], "unchanged");
    assert_eq!(app.running("prod").await, now, "no new revision");
}

/// `history`: the revisions of the family prod's service runs, newest first, read back from
/// the emulator: the promoted revision (current, pinned by digest, with prod marked) above the
/// one it replaced (its images by tag, so no digests claimed for it).
#[tokio::test]
async fn history_lists_the_family_s_revisions_newest_first() {
    let app = App::new().await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &app.toml());
    let before = app.running("prod").await;
    sandbox
        .run(BIN, &["promote", "--to", "prod"], None)
        .expect_code(0);
    let now = app.running("prod").await;

    let history = sandbox
        .run(BIN, &["history", "--env", "prod"], None)
        .expect_code(0)
        .records();
    let revisions: Vec<&str> = history
        .iter()
        .map(|r| r["artifact"]["task_definition"].as_str().unwrap())
        .collect();
    assert_eq!(revisions, [now.as_str(), before.as_str()], "{history:?}");
    assert_eq!(history[0]["current"], true);
    assert_eq!(history[0]["envs"], json!(["prod"]));
    assert_eq!(
        history[0]["artifact"]["images"][0]["digest"],
        app.v2.as_str()
    );
    assert_eq!(
        history[0]["containers"][0]["image"],
        app.pinned(&app.v2).as_str()
    );
    assert_eq!(history[1]["current"], false);
    assert_eq!(history[1]["envs"], json!([]));
    assert_eq!(
        history[1]["artifact"]["images"],
        json!([]),
        "tags are not digests"
    );
    assert_eq!(
        history[1]["containers"][0]["image"],
        format!("{REGISTRY}/{}:v1", app.repo).as_str()
    );
    // When it was registered: moto leaves registeredAt unset, so only the field is checked.
    assert!(history[0].get("created").is_some(), "{}", history[0]);
    assert_eq!(
        history[0]["pointer"],
        Value::Null,
        "a listing is not a pointer's state"
    );
    let one = sandbox
        .run(BIN, &["history", "--env", "prod", "--limit", "1"], None)
        .expect_code(0)
        .records();
    assert_eq!(one.len(), 1);
    // An environment promote.toml does not know is bad usage.
    sandbox
        .run(BIN, &["history", "--env", "qa"], None)
        .expect_code(2);
}

#[tokio::test]
async fn promote_refusals_change_nothing() {
    let app = App::new().await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &app.toml());
    let before = app.running("prod").await;

    let run = sandbox.run(
        BIN,
        &["promote", "--to", "prod", "--expect", "nope:9"],
        None,
    );
    run.expect_code(4);
    assert!(run.stderr.contains("not nope:9 as --expect says"), "{run}");

    let dry = sandbox
        .run(BIN, &["promote", "--to", "prod", "--dry-run"], None)
        .expect_code(0)
        .record();
    assert_eq!(dry["action"], "planned");
    assert_eq!(dry["artifact"]["task_definition"], Value::Null);
    assert_eq!(dry["artifact"]["images"][0]["digest"], app.v2.as_str());
    assert_eq!(app.running("prod").await, before);

    // A container that only one side has.
    app.service("qa", &[("web", "v2")]).await;
    let bare = Sandbox::new(); // no promote.toml: qa is not in its order
    let run = bare.run(
        BIN,
        &[
            "promote",
            "--cluster",
            &format!("{}-{{env}}", app.prefix),
            "--service",
            "web",
            "--from",
            "qa",
            "--to",
            "prod",
        ],
        None,
    );
    run.expect_code(4);
    assert!(run.stderr.contains("only the target has log"), "{run}");
    assert_eq!(app.running("prod").await, before);

    // --expect with what prod runs lets it through.
    let short = before.rsplit('/').next().unwrap();
    sandbox
        .run(BIN, &["promote", "--to", "prod", "--expect", short], None)
        .expect_code(0);
    assert_ne!(app.running("prod").await, before);
}

#[tokio::test]
async fn a_manifest_promotes_its_digests_and_rollback_restores_exactly() {
    let app = App::new().await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &app.toml());
    let before = app.running("prod").await;
    let manifest = sandbox.run(BIN, &["--resolve-digest", "--env", "staging"], None);
    manifest.expect_code(0);
    // staging moves on after the manifest was taken: prod must still get the manifest's digests.
    app.service("staging", &[("web", "v1"), ("log", "v1")])
        .await;

    let lambda = r#"{"service":"lambda","action":"resolved","resource":"f",  "env":"staging"}"#;
    let stream = format!("{lambda}\n{}", manifest.stdout);
    let promoted = sandbox.run(BIN, &["promote", "--to", "prod"], Some(&stream));
    promoted.expect_code(0);
    let lines: Vec<&str> = promoted.stdout.lines().collect();
    assert_eq!(
        lines[0], lambda,
        "other services pass through byte for byte, in order"
    );
    assert_eq!(app.images("prod").await[0].1, app.pinned(&app.v2));

    let rolled = sandbox.run(BIN, &["rollback"], Some(&promoted.stdout));
    rolled.expect_code(0);
    assert_eq!(rolled.stdout.lines().next(), Some(lambda));
    assert_eq!(rolled.records()[1]["action"], "rolled_back");
    assert_eq!(
        app.running("prod").await,
        before,
        "prod runs exactly what it ran before"
    );
    let again = sandbox
        .run(BIN, &["rollback"], Some(&promoted.stdout))
        .expect_code(0)
        .records();
    assert_eq!(again[1]["action"], "unchanged");
}

#[tokio::test]
async fn rollback_leaves_a_service_that_moved_since() {
    let app = App::new().await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &app.toml());
    let before = app.running("prod").await;
    let promoted = sandbox
        .run(BIN, &["promote", "--to", "prod"], None)
        .expect_code(0)
        .stdout
        .clone();
    let other = app
        .service("prod-other", &[("web", "v1"), ("log", "v1")])
        .await;
    set_service(&app.cluster("prod"), "web", &other).await;

    let run = sandbox.run(BIN, &["rollback"], Some(&promoted));
    run.expect_code(4);
    assert!(run.stderr.contains("it was changed since"), "{run}");
    assert_eq!(app.running("prod").await, other);
    assert_ne!(other, before);
}

#[tokio::test]
async fn bad_input_changes_nothing_and_names_the_line() {
    let app = App::new().await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &app.toml());
    let before = app.running("prod").await;
    let good = sandbox
        .run(BIN, &["--resolve-digest", "--env", "staging"], None)
        .stdout
        .clone();
    for (input, message) in [
        (format!("{good}{{\"service\":\"ecs\"\n"), "stdin:2: truncated JSON"),
        (format!("{good}{{\"service\":\"ecs\",\"action\":\"resolved\",\"resource\":\"c/s\",\"artifact\":{{\"images\":\"x\"}}}}\n"), "stdin:2: ecs record's `artifact`"),
        (format!("{good}{{\"service\":\"ecs\",\"action\":\"resolved\",\"resource\":\"nocluster\",\"artifact\":{{\"task_definition\":null,\"images\":[{{\"container\":\"web\",\"image\":\"r@sha256:{a}\",\"digest\":\"sha256:{a}\"}}]}}}}\n", a = "a".repeat(64)), "stdin:2: `resource`"),
        (format!("{good}{{\"service\":\"ecz\",\"action\":\"resolved\",\"resource\":\"c/s\"}}\n"), "stdin:2: unknown service \"ecz\""),
    ] {
        let run = sandbox.run(BIN, &["promote", "--to", "prod"], Some(&input));
        run.expect_code(2);
        assert!(run.stderr.contains(message), "expected {message:?}\n{run}");
        assert!(run.stdout.is_empty(), "{run}");
    }
    assert_eq!(app.running("prod").await, before);

    sandbox.write(
        "promote.toml",
        &format!("{}servics = [\"web\"]\n", app.toml()),
    );
    let run = sandbox.run(BIN, &["promote", "--to", "prod"], None);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("promote.toml:7: unknown field `servics`"),
        "{run}"
    );

    let run = sandbox.run(BIN, &["resolve", "Not/A:Ref"], None);
    run.expect_code(2);
    let run = sandbox.run(BIN, &[], None);
    run.expect_code(2);
    assert_eq!(app.running("prod").await, before);
}

#[tokio::test]
async fn a_service_running_a_tag_outside_ecr_cannot_be_pinned() {
    let cluster = unique("ext");
    create_service(
        &cluster,
        "web",
        &cluster,
        &[Container {
            name: "web",
            image: "docker.io/library/nginx:1.27".into(),
            environment: vec![],
            secrets: vec![],
        }],
    )
    .await;
    let run = Sandbox::new().run(
        BIN,
        &["pin", "--cluster", &cluster, "--service", "web"],
        None,
    );
    run.expect_code(4);
    assert!(run.stderr.contains("a tag outside ECR"), "{run}");
    let _ = ecs::ecs();
}

/// promote.toml with three environments, dev first.
fn three_envs(app: &App) -> String {
    app.toml().replace(
        "order = [\"staging\", \"prod\"]",
        "order = [\"dev\", \"staging\", \"prod\"]",
    )
}

#[tokio::test]
async fn an_empty_pipe_promotes_nothing() {
    let app = App::new().await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &app.toml());
    let before = app.running("prod").await;
    let run = sandbox.run(BIN, &["promote", "--to", "prod"], Some(""));
    run.expect_code(2);
    assert!(
        run.stderr.contains("no records on stdin; pass --from ENV"),
        "{run}"
    );
    assert!(run.stdout.is_empty(), "{run}");
    assert_eq!(app.running("prod").await, before, "prod is left as it was");
}

#[tokio::test]
async fn an_error_upstream_stops_the_promotion_unless_skipped() {
    let app = App::new().await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &app.toml());
    let before = app.running("prod").await;
    let manifest = sandbox
        .run(BIN, &["--resolve-digest", "--env", "staging"], None)
        .expect_code(0)
        .stdout
        .clone();
    let failed = r#"{"service":"lambda","action":"error","resource":"f","env":"staging","pointer":"staging","message":"boom","exit_code":3}"#;
    let stream = format!("{failed}\n{manifest}");

    let run = sandbox.run(BIN, &["promote", "--to", "prod"], Some(&stream));
    run.expect_code(3);
    assert!(
        run.stderr
            .contains("a tool before this one failed on lambda f"),
        "{run}"
    );
    assert!(run.stderr.contains("--skip-failed"), "{run}");
    assert_eq!(
        run.stdout.lines().collect::<Vec<_>>(),
        [failed],
        "the failure is passed on, nothing else\n{run}"
    );
    assert_eq!(app.running("prod").await, before, "nothing changed");

    let run = sandbox.run(
        BIN,
        &["promote", "--to", "prod", "--skip-failed"],
        Some(&stream),
    );
    run.expect_code(0);
    let records = run.records();
    assert_eq!(records.len(), 2, "{run}");
    assert_eq!(records[0]["action"], "error", "passed on in its place");
    assert_eq!(records[1]["action"], "promoted", "{run}");
    assert_ne!(app.running("prod").await, before);
    assert_eq!(app.images("prod").await[0].1, app.pinned(&app.v2));
}

#[tokio::test]
async fn from_must_be_the_environment_just_before_unless_forced() {
    let app = App::new().await;
    app.service("dev", &[("web", "v2"), ("log", "v1")]).await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &three_envs(&app));
    let before = app.running("prod").await;

    let run = sandbox.run(BIN, &["promote", "--from", "dev", "--to", "prod"], None);
    run.expect_code(4);
    assert!(
        run.stderr.contains(
            "prod takes what staging holds, not what dev holds (promote.toml's order: dev → staging → prod); \
             nothing changed (pass --force to do it anyway)"
        ),
        "{run}"
    );
    assert!(run.stdout.is_empty(), "a run-level refusal\n{run}");
    assert_eq!(app.running("prod").await, before);

    let forced = sandbox
        .run(
            BIN,
            &["promote", "--from", "dev", "--to", "prod", "--force"],
            None,
        )
        .expect_code(0)
        .record();
    assert_eq!(forced["action"], "promoted", "{forced}");
    assert_eq!(forced["forced"], true, "{forced}");
    let now = app.running("prod").await;
    assert_ne!(now, before);
    assert_eq!(forced["artifact"]["task_definition"], now.as_str());
    assert_eq!(app.images("prod").await[0].1, app.pinned(&app.v2));
}

#[tokio::test]
async fn a_record_from_the_wrong_environment_is_an_error_record() {
    let app = App::new().await;
    app.service("dev", &[("web", "v2"), ("log", "v1")]).await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &three_envs(&app));
    let before = app.running("prod").await;
    let dev = sandbox
        .run(BIN, &["--resolve-digest", "--env", "dev"], None)
        .expect_code(0)
        .stdout
        .clone();
    let refused = sandbox.run(BIN, &["promote", "--to", "prod"], Some(&dev));
    refused.expect_code(4);
    assert!(
        refused
            .stderr
            .contains("prod takes what staging holds, not what dev holds"),
        "{refused}"
    );
    let record = refused.record();
    assert_eq!(record["action"], "error", "{refused}");
    assert_eq!(record["exit_code"], 4, "{refused}");
    assert_eq!(record["resource"], format!("{}/web", app.cluster("prod")));
    assert_eq!(app.running("prod").await, before);

    let forced = sandbox
        .run(BIN, &["promote", "--to", "prod", "--force"], Some(&dev))
        .expect_code(0)
        .record();
    assert_eq!(forced["forced"], true, "{forced}");
    assert_ne!(app.running("prod").await, before);
}

#[tokio::test]
async fn atomic_with_a_missing_service_changes_nothing_at_all() {
    let app = App::new().await;
    // api runs in staging but was never created in prod.
    let containers = [Container {
        name: "api",
        image: format!("{REGISTRY}/{}:v2", app.repo),
        environment: vec![],
        secrets: vec![],
    }];
    create_service(
        &app.cluster("staging"),
        "api",
        &format!("{}-staging-api", app.prefix),
        &containers,
    )
    .await;
    let sandbox = Sandbox::new();
    sandbox.write(
        "promote.toml",
        &app.toml()
            .replace("services = [\"web\"]", "services = [\"web\", \"api\"]"),
    );
    let before = app.running("prod").await;

    let run = sandbox.run(BIN, &["promote", "--to", "prod", "--atomic"], None);
    run.expect_code(4);
    assert!(
        run.stderr.contains(&format!(
            "service {}/api does not exist",
            app.cluster("prod")
        )),
        "{run}"
    );
    assert!(
        run.stderr.contains("--atomic: 1 of 2 items failed"),
        "{run}"
    );
    let records = run.records();
    assert_eq!(records.len(), 1, "only the failure, no change\n{run}");
    assert_eq!(records[0]["action"], "error");
    assert_eq!(
        records[0]["resource"],
        format!("{}/api", app.cluster("prod"))
    );
    assert_eq!(app.running("prod").await, before, "web was not moved");
}

#[tokio::test]
async fn rollback_of_no_change_records_says_so() {
    let app = App::new().await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &app.toml());
    let before = app.running("staging").await;
    let resolved = sandbox
        .run(BIN, &["--resolve-digest", "--env", "staging"], None)
        .expect_code(0)
        .stdout
        .clone();
    for input in [resolved.as_str(), ""] {
        let run = sandbox.run(BIN, &["rollback"], Some(input));
        run.expect_code(0);
        assert!(
            run.stderr
                .contains("no ecs or ecr change records on stdin: nothing to roll back"),
            "{run}"
        );
        assert!(run.stdout.is_empty(), "{run}");
    }
    assert_eq!(app.running("staging").await, before);
}

#[tokio::test]
async fn pin_deploys_a_new_revision_into_the_first_environment_only() {
    let app = App::new().await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &app.toml());
    let before = app.running("prod").await;
    let prod = app.cluster("prod");
    let args = ["pin", "--cluster", &prod, "--service", "web", "--deploy"];
    let refused = sandbox.run(BIN, &args, None);
    refused.expect_code(4);
    assert!(
        refused
            .stderr
            .contains("a new artifact goes into staging only"),
        "{refused}"
    );
    let record = refused.record();
    assert_eq!(record["action"], "error", "{refused}");
    assert_eq!(record["pointer"], "web", "{refused}");
    assert_eq!(app.running("prod").await, before);

    let forced = sandbox
        .run(BIN, &[&args[..], &["--force"]].concat(), None)
        .expect_code(0)
        .record();
    assert_eq!(forced["action"], "published", "{forced}");
    assert_eq!(forced["forced"], true, "{forced}");
    assert_eq!(
        app.running("prod").await,
        forced["artifact"]["task_definition"].as_str().unwrap()
    );

    // The first environment takes a new revision without --force.
    let staging = app.cluster("staging");
    sandbox
        .run(
            BIN,
            &["pin", "--cluster", &staging, "--service", "web", "--deploy"],
            None,
        )
        .expect_code(0);
}

/// promote.toml naming the cluster and the service by ARN.
fn arn_toml(app: &App) -> String {
    format!(
        "[envs]\norder = [\"staging\", \"prod\"]\n\n[ecs]\n\
         cluster = \"arn:aws:ecs:us-east-1:123456789012:cluster/{p}-{{env}}\"\n\
         services = [\"arn:aws:ecs:us-east-1:123456789012:service/{p}-{{env}}/web\"]\n",
        p = app.prefix
    )
}

#[tokio::test]
async fn names_by_arn_round_trip_through_promote_rollback_atomic_and_cfg_diff() {
    let app = App::new().await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &arn_toml(&app));
    let before = app.running("prod").await;

    let run = sandbox.run(BIN, &["promote", "--to", "prod"], None);
    run.expect_code(0);
    let record = run.record();
    assert_eq!(record["action"], "promoted", "{run}");
    assert_eq!(
        record["resource"],
        format!("{}/web", app.cluster("prod")),
        "records print the canonical CLUSTER/SERVICE\n{run}"
    );
    assert_eq!(record["pointer"], "web");
    assert_eq!(record["region"], "us-east-1");
    let promoted = app.running("prod").await;
    assert_ne!(promoted, before);

    // cfg-diff takes the tool's own record (it used to refuse it, exit 2).
    let diff = sandbox.run(
        &test_harness::binary("cfg-diff"),
        &["staging", "prod"],
        Some(&run.stdout),
    );
    assert_ne!(diff.code, 2, "{diff}");
    assert!(!diff.stderr.contains("is not CLUSTER/SERVICE"), "{diff}");

    // The release can be undone: rollback of its output restores the service.
    let undone = sandbox.run(BIN, &["rollback"], Some(&run.stdout));
    undone.expect_code(0);
    assert_eq!(undone.record()["action"], "rolled_back", "{undone}");
    assert_eq!(app.running("prod").await, before);

    // --atomic promotes by ARN, and a record naming its service by ARN reads back too.
    let atomic = sandbox.run(BIN, &["promote", "--to", "prod", "--atomic"], None);
    atomic.expect_code(0);
    assert_eq!(atomic.record()["action"], "promoted", "{atomic}");
    assert_ne!(app.running("prod").await, before);
    let by_arn = atomic.stdout.replace(
        &format!("\"resource\":\"{}/web\"", app.cluster("prod")),
        &format!(
            "\"resource\":\"arn:aws:ecs:us-east-1:123456789012:service/{}/web\"",
            app.cluster("prod")
        ),
    );
    assert_ne!(by_arn, atomic.stdout);
    let undone = sandbox.run(BIN, &["rollback"], Some(&by_arn));
    undone.expect_code(0);
    assert_eq!(app.running("prod").await, before, "{undone}");

    // Flags by ARN: the cluster's ARN with a bare service, and a service ARN alone.
    let staging_arn = format!(
        "arn:aws:ecs:us-east-1:123456789012:cluster/{}",
        app.cluster("staging")
    );
    let status = sandbox
        .run(
            BIN,
            &["status", "--cluster", &staging_arn, "--service", "web"],
            None,
        )
        .expect_code(0)
        .record();
    assert_eq!(
        status["resource"],
        format!("{}/web", app.cluster("staging"))
    );
    assert_eq!(
        status["env"], "staging",
        "the cluster's environment, by name"
    );
    let pinned = sandbox
        .run(
            BIN,
            &[
                "pin",
                "--cluster",
                &staging_arn,
                "--service",
                &format!("{staging_arn}/web").replace(":cluster/", ":service/"),
            ],
            None,
        )
        .expect_code(0)
        .record();
    assert_eq!(
        pinned["resource"],
        format!("{}/web", app.cluster("staging"))
    );
}

/// The revisions of a task definition family, oldest first.
async fn revisions(family: &str) -> Vec<String> {
    ecs::ecs()
        .list_task_definitions()
        .family_prefix(family)
        .send()
        .await
        .unwrap()
        .task_definition_arns()
        .to_vec()
}

#[tokio::test]
async fn pin_without_deploy_reuses_the_revision_that_already_matches() {
    let app = App::new().await;
    let sandbox = Sandbox::new();
    let family = format!("{}-staging", app.prefix);
    assert_eq!(revisions(&family).await.len(), 1);
    let args = [
        "pin",
        "--cluster",
        &app.cluster("staging"),
        "--service",
        "web",
    ];
    let first = sandbox.run(BIN, &args, None).expect_code(0).record();
    assert_eq!(first["action"], "published");
    let second = sandbox.run(BIN, &args, None).expect_code(0).record();
    assert_eq!(second["action"], "unchanged", "{second}");
    assert_eq!(
        second["artifact"]["task_definition"],
        first["artifact"]["task_definition"]
    );
    let registered = revisions(&family).await;
    assert_eq!(
        registered.len(),
        2,
        "two runs registered one revision: {registered:?}"
    );

    // Once the tag moves, the pinned images differ: a new revision after all.
    push_image(&app.repo, &format!("{}-3", app.prefix), "v1").await;
    let moved = sandbox.run(BIN, &args, None).expect_code(0).record();
    assert_eq!(moved["action"], "published", "{moved}");
    assert_eq!(revisions(&family).await.len(), 3);
    // --deploy runs the latest such revision too, rather than registering its twin.
    let deployed = sandbox
        .run(BIN, &[&args[..], &["--deploy"]].concat(), None)
        .expect_code(0)
        .record();
    assert_eq!(
        deployed["artifact"]["task_definition"],
        moved["artifact"]["task_definition"]
    );
    assert_eq!(revisions(&family).await.len(), 3);
    assert_eq!(
        app.running("staging").await,
        moved["artifact"]["task_definition"].as_str().unwrap()
    );
}

#[tokio::test]
async fn every_digest_is_checked_before_it_is_deployed() {
    let app = App::new().await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &app.toml());
    let before = app.running("prod").await;
    let family = format!("{}-prod", app.prefix);
    let revisions_before = revisions(&family).await;
    let manifest = sandbox
        .run(BIN, &["--resolve-digest", "--env", "staging"], None)
        .expect_code(0)
        .stdout
        .clone();

    // An image ECR does not have (say a lifecycle rule expired it): refused, naming it.
    let gone = format!("sha256:{}", "0".repeat(64));
    let expired = manifest.replace(&app.v2, &gone);
    let run = sandbox.run(BIN, &["promote", "--to", "prod"], Some(&expired));
    run.expect_code(4);
    assert!(
        run.stderr.contains("container web")
            && run
                .stderr
                .contains(&format!("{}@{gone} does not exist", app.repo)),
        "{run}"
    );
    assert_eq!(app.running("prod").await, before);
    assert_eq!(
        revisions(&family).await,
        revisions_before,
        "nothing registered"
    );

    // A record whose digest contradicts its image: bad input, and nothing changes.
    let mut record: Value = serde_json::from_str(manifest.trim()).unwrap();
    record["artifact"]["images"][0]["digest"] = json!(app.v1);
    let run = sandbox.run(
        BIN,
        &["promote", "--to", "prod"],
        Some(&format!("{record}\n")),
    );
    run.expect_code(2);
    assert!(run.stderr.contains("is not pinned by its digest"), "{run}");
    assert!(
        run.stdout.is_empty(),
        "the wrong digest is not repeated\n{run}"
    );
    assert_eq!(app.running("prod").await, before);
    assert_eq!(revisions(&family).await, revisions_before);

    // Not found is exit 4 naming what is missing: a repository, a cluster.
    let missing = format!("{}/nothing", app.prefix);
    let run = sandbox.run(BIN, &["resolve", &format!("{missing}:v1")], None);
    run.expect_code(4);
    assert!(
        run.stderr
            .contains(&format!("repository {missing} does not exist")),
        "{run}"
    );
    let nowhere = format!("{}-nowhere", app.prefix);
    let run = sandbox.run(
        BIN,
        &["status", "--cluster", &nowhere, "--service", "web"],
        None,
    );
    run.expect_code(4);
    assert!(
        run.stderr
            .contains(&format!("cluster {nowhere} does not exist")),
        "{run}"
    );
}

#[tokio::test]
async fn only_ecr_is_ecr() {
    let app = App::new().await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &app.toml());
    // A repository in the account named like a Docker Hub image (a common mirror), holding
    // that tag: a name without a registry host is still Docker Hub's, never this one.
    let mirror = format!("{}-hub/agent", app.prefix);
    create_repository(&mirror, false).await;
    let mirrored = push_image(&mirror, &format!("{}-mirror", app.prefix), "7").await;
    let hub_digest = format!("sha256:{}", "b".repeat(64));
    let container = |name: &'static str, image: String| Container {
        name,
        image,
        environment: vec![],
        secrets: vec![],
    };

    // The source names the Docker Hub tag: refused, saying how to pin it; prod unchanged.
    create_service(
        &app.cluster("staging"),
        "agent",
        &format!("{}-staging-agent", app.prefix),
        &[container("agent", format!("{mirror}:7"))],
    )
    .await;
    create_service(
        &app.cluster("prod"),
        "agent",
        &format!("{}-prod-agent", app.prefix),
        &[container("agent", "docker.io/library/nginx:1.27".into())],
    )
    .await;
    let prod_before = service_task_definition(&app.cluster("prod"), "agent").await;
    let run = sandbox.run(
        BIN,
        &["promote", "--to", "prod", "--service", "agent"],
        None,
    );
    run.expect_code(4);
    assert!(
        run.stderr.contains("a tag outside ECR") && run.stderr.contains("pin it by digest"),
        "{run}"
    );
    assert!(
        !run.stdout.contains(&mirrored),
        "not the mirror's image\n{run}"
    );
    assert_eq!(
        service_task_definition(&app.cluster("prod"), "agent").await,
        prod_before
    );

    // Pinned by digest, another registry's image passes unchanged, and prod's tag outside
    // ECR (about to be replaced) does not block the promotion.
    let pinned = format!("{mirror}@{hub_digest}");
    let web = format!("{REGISTRY}/{}:v2", app.repo);
    let family = format!("{}-staging-agent", app.prefix);
    let arn = ecs::register(
        &family,
        &[container("agent", pinned.clone()), container("web", web)],
    )
    .await;
    set_service(&app.cluster("staging"), "agent", &arn).await;
    let prod_family = format!("{}-prod-agent", app.prefix);
    let prod_arn = ecs::register(
        &prod_family,
        &[
            container("agent", "docker.io/library/nginx:1.27".into()),
            container("web", format!("{REGISTRY}/{}:v1", app.repo)),
        ],
    )
    .await;
    set_service(&app.cluster("prod"), "agent", &prod_arn).await;
    let run = sandbox.run(
        BIN,
        &["promote", "--to", "prod", "--service", "agent"],
        None,
    );
    run.expect_code(0);
    let record = run.record();
    assert_eq!(record["action"], "promoted", "{run}");
    let running = service_task_definition(&app.cluster("prod"), "agent").await;
    assert_eq!(
        running,
        record["artifact"]["task_definition"].as_str().unwrap()
    );
    let (definition, _) = task_definition(&running).await;
    let images: Vec<&str> = definition
        .container_definitions()
        .iter()
        .map(|c| c.image().unwrap())
        .collect();
    assert_eq!(images, [pinned.as_str(), app.pinned(&app.v2).as_str()]);
}

/// The emulator starts no task for a service (see docs: ListTasks answers nothing for it), so
/// this is the fallback: no task runs, the digests are what the tags name in ECR, with a warning.
/// The tasks' own digests, and their disagreement with a moved tag, are in tests/mocks.rs.
#[tokio::test]
async fn with_no_task_running_the_digests_come_from_ecr_with_a_warning() {
    let app = App::new().await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &app.toml());
    let run = sandbox.run(BIN, &["status", "--env", "staging"], None);
    run.expect_code(0);
    assert!(
        run.stderr
            .contains("no task runs, so its digests are what its tags name in ECR now"),
        "{run}"
    );
    let record = run.record();
    assert_eq!(record["digest_source"], "registry", "{record}");
    assert_eq!(record["digest_note"], Value::Null, "{record}");
    assert_eq!(record["artifact"]["images"][0]["digest"], app.v2.as_str());
}

/// `promote --alarm`: the UpdateService that moves prod also sets its deployment alarms (the
/// patterns resolved to names, `{env}` being prod) and the circuit breaker, both rolling back,
/// read back from the emulator (which keeps a service's deploymentConfiguration). The record
/// says what was set and what the service had before; a pattern that matches no alarm changes
/// nothing.
#[tokio::test]
async fn promote_with_alarms_sets_the_deployment_alarms_and_circuit_breaker() {
    let app = App::new().await;
    let sandbox = Sandbox::new();
    sandbox.write("promote.toml", &app.toml());
    let errors = format!("{}-prod-5xx", app.prefix);
    let latency = format!("{}-prod-latency", app.prefix);
    test_harness::cloudwatch::create_alarm(&errors).await;
    test_harness::cloudwatch::create_alarm(&latency).await;
    let before = app.running("prod").await;
    let pattern = format!("{}-{{env}}-*", app.prefix);
    let deployment = || async {
        ecs::ecs()
            .describe_services()
            .cluster(app.cluster("prod"))
            .services("web")
            .send()
            .await
            .unwrap()
            .services()[0]
            .deployment_configuration()
            .cloned()
    };

    let typo = sandbox.run(
        BIN,
        &["promote", "--to", "prod", "--alarm", "no-such-*"],
        None,
    );
    typo.expect_code(4);
    assert!(typo.stderr.contains("no-such-*"), "{typo}");
    assert_eq!(app.running("prod").await, before, "nothing changed");

    let plan = sandbox
        .run(
            BIN,
            &["promote", "--to", "prod", "--alarm", &pattern, "--dry-run"],
            None,
        )
        .expect_code(0)
        .record();
    assert_eq!(plan["action"], "planned");
    assert_eq!(
        plan["deployment_alarms"]["alarms"],
        json!([errors, latency])
    );
    assert_eq!(
        app.running("prod").await,
        before,
        "a dry run writes nothing"
    );

    let record = sandbox
        .run(BIN, &["promote", "--to", "prod", "--alarm", &pattern], None)
        .expect_code(0)
        .record();
    assert_eq!(record["action"], "promoted");
    assert_eq!(
        record["deployment_alarms"],
        json!({
            "alarms": [errors, latency], "enable": true, "rollback": true,
            "circuit_breaker": {"enable": true, "rollback": true},
            "previous": {"alarms": [], "enable": false, "rollback": false,
                         "circuit_breaker": {"enable": false, "rollback": false}},
        })
    );
    let config = deployment().await.expect("a deployment configuration");
    let alarms = config.alarms().unwrap();
    assert_eq!(alarms.alarm_names(), [errors.clone(), latency.clone()]);
    assert!(alarms.enable() && alarms.rollback());
    let breaker = config.deployment_circuit_breaker().unwrap();
    assert!(breaker.enable() && breaker.rollback());
    assert_ne!(app.running("prod").await, before, "and the service moved");
}
