//! One release, one pipeline: a sample app (a Lambda function, an ECS service, a REST API, an S3
//! bundle, configuration in Parameter Store and Secrets Manager) promoted dev -> staging through
//! a pipe of every tool, staging -> prod through examples/Makefile, checked (prod runs exactly
//! staging's artifacts with its own configuration), compared with cfg-diff, and rolled back.

#![allow(clippy::unwrap_used, clippy::expect_used)] // reason: tests fail loudly

use test_harness::apigateway::{create_api, create_stage, deploy, stage};
use test_harness::config::{create_secret, put_parameter};
use test_harness::ecs::{
    create_repository, create_service, push_image, service_task_definition, task_definition,
    Container, REGISTRY,
};
use test_harness::lambda::{alias, code_sha256, create_function, publish, set_alias, update_code};
use test_harness::s3::{create_bucket, get, put};
use test_harness::sfn;
use test_harness::{binary, unique, workspace_root, Sandbox};

struct App {
    name: String,
    /// The REST API's name (promote.toml names it so) and id (the emulator is read by id).
    api: String,
    api_id: String,
    /// The state machine's ARN.
    machine: String,
}

impl App {
    fn function(&self) -> String {
        format!("{}-api", self.name)
    }
    fn cluster(&self, env: &str) -> String {
        format!("{}-{env}", self.name)
    }
    fn bucket(&self) -> String {
        format!("{}-art", self.name)
    }
    fn toml(&self) -> String {
        let n = &self.name;
        format!(
            "[envs]\norder = [\"dev\", \"staging\", \"prod\"]\n\n[lambda]\nfunctions = [\"{n}-api\"]\n\n\
             [ecs]\ncluster = \"{n}-{{env}}\"\nservices = [\"web\"]\n\n[apigateway]\nrest_api = \"{}\"\n\n\
             [s3]\nobjects = [\"s3://{n}-art/{{env}}/site.zip\"]\n\n[ssm]\npath = \"/{n}/{{env}}/\"\n\n\
             [secrets]\nprefix = \"{n}/{{env}}/\"\n\n[stepfunctions]\nstate_machines = [\"{n}-flow\"]\n",
            self.api
        )
    }

    /// Everything prod runs: Lambda version and code hash, the service's images and environment,
    /// the stage's deployment and variables, the bundle's bytes.
    async fn runs(&self, env: &str) -> String {
        let (version, _) = alias(&self.function(), env).await.unwrap_or_default();
        let sha = if version.is_empty() {
            String::new()
        } else {
            code_sha256(&self.function(), &version).await
        };
        let (definition, _) =
            task_definition(&service_task_definition(&self.cluster(env), "web").await).await;
        let container = &definition.container_definitions()[0];
        let environment: Vec<String> = container
            .environment()
            .iter()
            .map(|e| format!("{}={}", e.name().unwrap(), e.value().unwrap()))
            .collect();
        let (deployment, variables) = stage(&self.api_id, env).await.unwrap_or_default();
        let bundle = get(&self.bucket(), &format!("{env}/site.zip"), None)
            .await
            .map(|o| o.0)
            .unwrap_or_default();
        let flow = sfn::alias(&sfn::client(), &self.machine, env)
            .await
            .unwrap_or_default();
        format!(
            "lambda {version} {sha}\necs {} {environment:?}\napigateway {deployment} {variables:?}\ns3 {}\nstepfunctions {flow:?}",
            container.image().unwrap(),
            String::from_utf8_lossy(&bundle)
        )
    }
}

async fn seed() -> App {
    let name = unique("rel");
    // Lambda: version 1 everywhere, version 2 built and in dev.
    let function = format!("{name}-api");
    create_function(&function, "build-1", &[("LOG_LEVEL", "info")]).await;
    publish(&function).await;
    update_code(&function, "build-2").await;
    publish(&function).await;
    for (env, v) in [("dev", "2"), ("staging", "1"), ("prod", "1")] {
        set_alias(&function, env, v).await;
    }
    // ECS: dev runs build 2, the others build 1, each with its own database.
    let repo = format!("{name}/web");
    create_repository(&repo, false).await;
    push_image(&repo, &format!("{name}-1"), "build-1").await;
    push_image(&repo, &format!("{name}-2"), "build-2").await;
    for (env, tag) in [
        ("dev", "build-2"),
        ("staging", "build-1"),
        ("prod", "build-1"),
    ] {
        let db = format!("db.{env}.internal");
        let key = format!("arn:aws:ssm:us-east-1:123456789012:parameter/{name}/{env}/api-key");
        create_service(
            &format!("{name}-{env}"),
            "web",
            &format!("{name}-web-{env}"),
            &[Container {
                name: "web",
                image: format!("{REGISTRY}/{repo}:{tag}"),
                environment: vec![("DB_HOST", &db)],
                secrets: vec![("API_KEY", &key)],
            }],
        )
        .await;
    }
    // API Gateway: deployment one on staging and prod, two on dev; variables per stage.
    let api_id = create_api(&format!("{name}-orders")).await;
    let one = deploy(&api_id, "one").await;
    let two = deploy(&api_id, "two").await;
    for (env, d) in [("dev", &two), ("staging", &one), ("prod", &one)] {
        create_stage(
            &api_id,
            env,
            d,
            &[("backend", &format!("https://{env}.orders.internal"))],
        )
        .await;
    }
    // S3: the site bundle per environment.
    let bucket = format!("{name}-art");
    create_bucket(&bucket, true).await;
    for (env, build) in [("staging", "1"), ("prod", "1"), ("dev", "2")] {
        put(
            &bucket,
            &format!("{env}/site.zip"),
            format!("site {build} ({env} upload)").as_bytes(),
            "application/zip",
            &[],
        )
        .await;
    }
    // Step Functions: version 1 everywhere, version 2 built and in dev.
    let c = sfn::client();
    let machine = sfn::create(
        &c,
        &format!("{name}-flow"),
        &sfn::definition("build-1"),
        test_harness::accounts::DEFAULT_ACCOUNT,
    )
    .await;
    sfn::publish(&c, &machine, &sfn::definition("build-2")).await;
    for (env, v) in [("dev", "2"), ("staging", "1"), ("prod", "1")] {
        sfn::set_alias(&c, &machine, env, &[(v, 100)]).await;
    }
    // Configuration.
    for env in ["staging", "prod"] {
        put_parameter(
            &format!("/{name}/{env}/db/host"),
            &format!("db.{env}.internal"),
            false,
        )
        .await;
        put_parameter(
            &format!("/{name}/{env}/db/password"),
            &format!("rel-pw-{env}-4411"),
            true,
        )
        .await;
        create_secret(
            &format!("{name}/{env}/payments"),
            &format!("{{\"key\":\"rel-key-{env}-8899\"}}"),
        )
        .await;
    }
    let api = format!("{name}-orders");
    App {
        name,
        api,
        api_id,
        machine,
    }
}

fn sandbox(app: &App) -> Sandbox {
    let mut sandbox = Sandbox::new();
    sandbox.write("promote.toml", &app.toml());
    // The tools on PATH, as users have them after `cargo install`.
    let bin = std::path::Path::new(&binary("lambda-promote"))
        .parent()
        .unwrap()
        .display()
        .to_string();
    sandbox.env(
        "PATH",
        &format!("{bin}:{}", std::env::var("PATH").unwrap_or_default()),
    );
    sandbox
}

#[tokio::test]
async fn a_release_is_promoted_checked_and_rolled_back_across_every_tool() {
    let app = seed().await;
    let sandbox = sandbox(&app);
    let tools = [
        "lambda-promote",
        "ecs-pin",
        "apigw-stage",
        "s3-version",
        "sfn-promote",
    ]
    .map(binary);

    // dev -> staging: the manifest of what dev runs, piped through every tool.
    let (codes, manifest) = sandbox.pipe(
        &[(
            "bash",
            &["-c", "lambda-promote status --env dev; ecs-pin --resolve-digest --env dev; apigw-stage status --env dev; s3-version status --env dev; sfn-promote status --env dev"],
        )],
        None,
    );
    assert_eq!(codes, [0], "{manifest}");
    assert_eq!(
        manifest.records().len(),
        5,
        "one record per pointer\n{manifest}"
    );
    let (codes, promoted) = sandbox.pipe(
        &[
            (&tools[0], &["promote", "--to", "staging"]),
            (&tools[1], &["promote", "--to", "staging"]),
            (&tools[2], &["promote", "--to", "staging"]),
            (&tools[3], &["promote", "--to", "staging"]),
            (&tools[4], &["promote", "--to", "staging"]),
        ],
        Some(&manifest.stdout),
    );
    assert_eq!(codes, [0, 0, 0, 0, 0], "{promoted}");
    let records = promoted.records();
    assert_eq!(records.len(), 5, "{promoted}");
    assert!(
        records
            .iter()
            .all(|r| r["action"] == "promoted" && r["env"] == "staging"),
        "{promoted}"
    );

    // staging -> prod with the example Makefile, exactly as a pipeline would run it.
    let before = app.runs("prod").await;
    let makefile = workspace_root()
        .join("examples/Makefile")
        .display()
        .to_string();
    let make = |target: &str, extra: &[&str]| {
        let mut args = vec![
            "-s",
            "-f",
            makefile.as_str(),
            target,
            "FROM=staging",
            "TO=prod",
        ];
        args.extend_from_slice(extra);
        sandbox.run("make", &args, None)
    };
    let dry = make("promote", &["DRY_RUN=--dry-run"]);
    dry.expect_code(0);
    assert_eq!(app.runs("prod").await, before, "a dry run changes nothing");
    let run = make("promote", &[]);
    run.expect_code(0);
    let promoted = std::fs::read_to_string(sandbox.path().join("promoted-prod.ndjson")).unwrap();
    assert_eq!(promoted.lines().count(), 5, "{promoted}");
    // A later dry run, and a repeat that finds nothing to change, keep their own records and
    // leave promoted-prod.ndjson, what rollback undoes, as the real promotion wrote it.
    make(
        "promote",
        &["DRY_RUN=--dry-run", "MANIFEST=release-staging.ndjson"],
    )
    .expect_code(0);
    let repeat = make("promote", &[]);
    repeat.expect_code(0);
    assert_eq!(
        std::fs::read_to_string(sandbox.path().join("promoted-prod.ndjson")).unwrap(),
        promoted,
        "{repeat}"
    );
    let runs: Vec<String> = std::fs::read_dir(sandbox.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    let count = |prefix: &str| runs.iter().filter(|n| n.starts_with(prefix)).count();
    assert_eq!(count("planned-prod-"), 2, "{runs:?}");
    assert_eq!(count("promoted-prod-"), 2, "{runs:?}");

    // prod runs exactly staging's artifacts...
    let staging = app.runs("staging").await;
    let prod = app.runs("prod").await;
    let line = |text: &str, service: &str| {
        text.lines()
            .find(|l| l.starts_with(service))
            .unwrap()
            .to_string()
    };
    assert_eq!(
        line(&prod, "lambda"),
        line(&staging, "lambda"),
        "same version and code_sha256"
    );
    let digest = |l: &str| {
        l.split('@')
            .nth(1)
            .unwrap_or_else(|| panic!("not pinned: {l}"))
            .split(' ')
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        digest(&line(&prod, "ecs")),
        digest(&line(&staging, "ecs")),
        "same image digest"
    );
    let deployment = |l: &str| l.split(' ').nth(1).unwrap().to_string();
    assert_eq!(
        deployment(&line(&prod, "apigateway")),
        deployment(&line(&staging, "apigateway")),
        "same deployment"
    );
    assert_eq!(
        line(&prod, "s3"),
        "s3 site 2 (dev upload)",
        "dev's exact bytes, through staging"
    );
    assert_eq!(
        line(&prod, "stepfunctions"),
        line(&staging, "stepfunctions"),
        "the same version of the one state machine"
    );
    assert_eq!(
        line(&prod, "stepfunctions"),
        "stepfunctions [(\"2\", 100)]",
        "dev's version, through staging"
    );
    // ...with its own configuration.
    assert!(
        line(&prod, "ecs").contains("DB_HOST=db.prod.internal"),
        "{prod}"
    );
    assert!(
        line(&prod, "apigateway").contains("https://prod.orders.internal"),
        "{prod}"
    );

    // The configuration compared: healthy, secrets never shown.
    let check = make("check", &[]);
    assert!(check.stdout.contains("parallel"), "{check}");
    for secret in [
        "rel-pw-staging-4411",
        "rel-pw-prod-4411",
        "rel-key-staging-8899",
        "rel-key-prod-8899",
    ] {
        assert!(
            !check.stdout.contains(secret) && !check.stderr.contains(secret),
            "a secret was printed\n{check}"
        );
    }
    let diff = sandbox.run(&binary("cfg-diff"), &["staging", "prod"], None);
    let artifact = diff
        .records()
        .into_iter()
        .filter(|r| r["key"] == "(artifact)")
        .collect::<Vec<_>>();
    assert_eq!(artifact.len(), 3, "Lambda, ECS and Step Functions\n{diff}");
    assert!(
        artifact.iter().all(|r| r["status"] == "same"),
        "prod runs staging's artifacts\n{diff}"
    );

    // And back: every pointer where it was.
    make("rollback", &[]).expect_code(0);
    let rolled = std::fs::read_to_string(sandbox.path().join("rolled-back-prod.ndjson")).unwrap();
    assert_eq!(rolled.lines().count(), 5, "{rolled}");
    let after = app.runs("prod").await;
    assert_eq!(line(&after, "lambda"), line(&before, "lambda"));
    assert_eq!(
        line(&after, "ecs"),
        line(&before, "ecs"),
        "the task definition it ran before"
    );
    assert_eq!(
        deployment(&line(&after, "apigateway")),
        deployment(&line(&before, "apigateway"))
    );
    assert_eq!(line(&after, "s3"), line(&before, "s3"));
    assert_eq!(
        line(&after, "stepfunctions"),
        line(&before, "stepfunctions")
    );
}

/// A value of action.yml, or nothing.
fn yaml_str(yaml: &yaml_rust2::Yaml) -> Option<&str> {
    yaml.as_str()
}

/// What a run of the composite action gave: each step's outputs, and the last run step.
struct ActionRun {
    outputs: std::collections::HashMap<String, String>,
    /// The `uses:` steps GitHub would have run, with their `with.path` lines resolved.
    uploads: Vec<Vec<String>>,
    /// The run steps that ran, in order.
    steps: Vec<test_harness::Run>,
    last: test_harness::Run,
}

/// Run action.yml as GitHub runs a composite action: every `run` step in order with its `env`
/// and `working-directory`, under `bash --noprofile --norc -eo pipefail`, with GITHUB_ACTION_PATH
/// (this repository), GITHUB_OUTPUT and GITHUB_STEP_SUMMARY. `${{ inputs.X }}` is what `inputs`
/// gives or the input's default, `${{ steps.ID.outputs.Y }}` what an earlier step wrote. `if:`
/// takes the forms action.yml uses (`always()`, `inputs.X == 'v'`, `inputs.X != ''`, joined by
/// `&&`); any other expression fails the test, so the action cannot grow one untested. `uses:`
/// steps are GitHub's own (actions/upload-artifact): not run here; their paths are returned for
/// the test to check. A run step that fails ends the action, as on GitHub.
fn run_action(sandbox: &Sandbox, inputs: &[(&str, &str)]) -> ActionRun {
    let text = std::fs::read_to_string(workspace_root().join("action.yml")).unwrap();
    let doc = &yaml_rust2::YamlLoader::load_from_str(&text).unwrap()[0];
    let mut values = std::collections::HashMap::new();
    for (name, spec) in doc["inputs"].as_hash().unwrap() {
        let name = yaml_str(name).unwrap().to_string();
        let default = yaml_str(&spec["default"]).unwrap_or_default().to_string();
        values.insert(name, default);
    }
    for (name, value) in inputs {
        assert!(values.contains_key(*name), "action.yml has no input {name}");
        values.insert((*name).to_string(), (*value).to_string());
    }
    let mut outputs = std::collections::HashMap::new();
    let expand = |text: &str, outputs: &std::collections::HashMap<String, String>| -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find("}}").expect("a closed expression") + start;
            let expr = rest[start + 3..end].trim();
            let value = if let Some(name) = expr.strip_prefix("inputs.") {
                values
                    .get(name)
                    .unwrap_or_else(|| panic!("no input {name}"))
                    .clone()
            } else if let Some(path) = expr.strip_prefix("steps.") {
                outputs.get(path).cloned().unwrap_or_default()
            } else {
                panic!("an expression the test does not know: {expr}")
            };
            out.push_str(&value);
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    };
    let condition = |expr: &str| -> bool {
        expr.split("&&").all(|term| {
            let term = term.trim();
            if term == "always()" {
                return true;
            }
            let (name, op, want) = if let Some((a, b)) = term.split_once("==") {
                (a, "==", b)
            } else if let Some((a, b)) = term.split_once("!=") {
                (a, "!=", b)
            } else {
                panic!("an `if:` the test does not know: {term}")
            };
            let name = name.trim().strip_prefix("inputs.").expect("an input");
            let want = want.trim().trim_matches('\'');
            (values[name] == want) == (op == "==")
        })
    };
    let output_file = sandbox.path().join("github-output");
    let summary = sandbox.path().join("github-summary.md");
    let mut uploads = Vec::new();
    let mut steps = Vec::new();
    for step in doc["runs"]["steps"].as_vec().unwrap() {
        if let Some(expr) = yaml_str(&step["if"]) {
            if !condition(expr) {
                continue;
            }
        }
        if let Some(uses) = yaml_str(&step["uses"]) {
            assert!(uses.starts_with("actions/upload-artifact@"), "{uses}");
            let paths = expand(yaml_str(&step["with"]["path"]).unwrap(), &outputs);
            uploads.push(
                paths
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from)
                    .collect(),
            );
            continue;
        }
        let script = expand(yaml_str(&step["run"]).expect("a run step"), &outputs);
        assert_eq!(yaml_str(&step["shell"]), Some("bash"));
        std::fs::write(&output_file, "").unwrap();
        let quote = |v: &str| format!("'{}'", v.replace('\'', r"'\''"));
        let mut prelude = format!(
            "export GITHUB_ACTION_PATH={} GITHUB_OUTPUT={} GITHUB_STEP_SUMMARY={}\n",
            quote(&workspace_root().display().to_string()),
            quote(&output_file.display().to_string()),
            quote(&summary.display().to_string()),
        );
        if let Some(env) = step["env"].as_hash() {
            for (key, value) in env {
                let value = expand(yaml_str(value).unwrap_or_default(), &outputs);
                prelude.push_str(&format!(
                    "export {}={}\n",
                    yaml_str(key).unwrap(),
                    quote(&value)
                ));
            }
        }
        if let Some(dir) = yaml_str(&step["working-directory"]) {
            prelude.push_str(&format!("cd {}\n", quote(&expand(dir, &outputs))));
        }
        let run = sandbox.run(
            "bash",
            &[
                "--noprofile",
                "--norc",
                "-eo",
                "pipefail",
                "-c",
                &format!("{prelude}{script}"),
            ],
            None,
        );
        if let Some(id) = yaml_str(&step["id"]) {
            for line in std::fs::read_to_string(&output_file).unwrap().lines() {
                let (key, value) = line.split_once('=').unwrap();
                outputs.insert(format!("{id}.outputs.{key}"), value.to_string());
            }
        }
        let failed = run.code != 0;
        steps.push(run);
        if failed {
            break;
        }
    }
    let last = steps.pop().expect("a step ran");
    ActionRun {
        outputs,
        uploads,
        steps,
        last,
    }
}

/// The composite action promotes from its inputs against the emulator, in the order of a
/// release workflow: dev into staging; then a plan job (a dry run from staging, changing nothing,
/// uploading the manifest), then a promote job that promotes exactly that manifest into prod.
/// The tools are on PATH already, so the install step finds each and builds nothing.
#[tokio::test]
async fn the_composite_action_promotes_from_its_inputs() {
    let app = seed().await;
    let sandbox = sandbox(&app);
    let dev = app.runs("dev").await;
    let line = |text: &str, service: &str| {
        text.lines()
            .find(|l| l.starts_with(service))
            .unwrap()
            .to_string()
    };

    let real = run_action(&sandbox, &[("from", "dev"), ("to", "staging")]);
    real.last.expect_code(0);
    let install = &real.steps[0];
    install.expect_code(0);
    assert_eq!(
        install.stdout.matches("(already installed)").count(),
        5,
        "the four tools and cfg-diff found on PATH, none built\n{install}"
    );
    assert_eq!(
        real.outputs["promote.outputs.changed"], "4",
        "{}",
        real.last
    );
    let records = &real.outputs["promote.outputs.records"];
    assert!(records.contains("/promoted-staging-"), "{records}");
    let promoted = std::fs::read_to_string(records).unwrap();
    assert_eq!(
        promoted
            .lines()
            .filter(|l| l.contains("\"action\":\"promoted\""))
            .count(),
        4,
        "{promoted}"
    );
    let staging = app.runs("staging").await;
    assert_eq!(
        line(&staging, "lambda"),
        line(&dev, "lambda"),
        "dev's version and code hash"
    );
    assert_eq!(line(&staging, "s3"), line(&dev, "s3"), "dev's bytes");
    // The records and the manifest are what the upload step keeps.
    let manifest = &real.outputs["promote.outputs.manifest"];
    assert_eq!(real.uploads, [vec![records.clone(), manifest.clone()]]);
    let summary = std::fs::read_to_string(sandbox.path().join("github-summary.md")).unwrap();
    assert!(summary.contains("| promoted | 4 |"), "{summary}");

    // The plan job: a dry run from staging changes nothing and writes the manifest.
    let prod = app.runs("prod").await;
    let plan = run_action(
        &sandbox,
        &[("from", "staging"), ("to", "prod"), ("dry-run", "true")],
    );
    plan.last.expect_code(0);
    assert_eq!(plan.outputs["promote.outputs.changed"], "0");
    let planned = &plan.outputs["promote.outputs.records"];
    assert!(planned.contains("/planned-prod-"), "{planned}");
    let text = std::fs::read_to_string(planned).unwrap();
    assert_eq!(
        text.lines()
            .filter(|l| l.contains("\"action\":\"planned\""))
            .count(),
        4,
        "{text}"
    );
    assert_eq!(app.runs("prod").await, prod, "a dry run changes nothing");

    // The promote job: exactly that manifest into prod.
    let manifest = &plan.outputs["promote.outputs.manifest"];
    let job = run_action(
        &sandbox,
        &[
            ("manifest", manifest.as_str()),
            ("to", "prod"),
            ("upload", ""),
        ],
    );
    job.last.expect_code(0);
    assert_eq!(job.outputs["promote.outputs.changed"], "4", "{}", job.last);
    assert!(job.uploads.is_empty(), "no upload asked");
    assert_eq!(
        line(&app.runs("prod").await, "lambda"),
        line(&dev, "lambda")
    );

    // Neither `from` nor a manifest: exit 2 before any tool runs.
    let bad = run_action(&sandbox, &[("to", "prod")]);
    bad.last.expect_code(2);
    assert!(bad.last.stderr.contains("`from`"), "{}", bad.last);
}
