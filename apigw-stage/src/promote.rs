//! `promote`: point --to's stage at the deployment --from's stage runs (or that a record on stdin
//! names). One UpdateStage patch of /deploymentId; the stage's variables and settings stay its own.

use crate::args::PromoteArgs;
use crate::plan::{self, Step};
use crate::{artifact_of, calls, stage_template, Clients, Options, StageRef};
use shared::batch::{self, Work};
use shared::config::Project;
use shared::input::Input;
use shared::output::Output;
use shared::record::ApigatewayArtifact;
use shared::{Action, Error, ExitCode, Record, Result, Service};

#[derive(Debug)]
enum Source {
    /// What this environment's stage runs now.
    Stage { env: String, stage: String },
    /// The deployment a record on stdin names.
    Record(String),
}

#[derive(Debug)]
struct Item {
    /// The API as named (id or name), looked up for a stage source; a record's is its id.
    api: String,
    target: StageRef,
    source: Source,
}

pub(crate) async fn run(
    args: &PromoteArgs,
    project: Option<&Project>,
    input: Option<&Input>,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    if let Some(project) = project {
        project.position(&args.to)?;
        if let Some(from) = &args.from {
            project.position(from)?;
        }
    }
    let stages = stage_template(project);
    let env_before = match project {
        Some(p) if !p.order.is_empty() => p.env_before(&args.to)?.map(str::to_string),
        _ => None,
    };
    let section = project.and_then(|p| p.apigateway.as_ref());
    if section.is_some_and(|s| s.rest_api.varies_by_env()) {
        return Err(Error::usage(
            "[apigateway] rest_api names a different API per environment, but a deployment belongs to one API: \
             stages of one API are what apigw-stage promotes between",
        ));
    }
    let target = |api: &str| StageRef {
        api: api.to_string(),
        stage: stages.render(&args.to),
        env: Some(args.to.clone()),
    };

    let mut work: Vec<Work<'_, Result<Item>>> = Vec::new();
    let from_env = || {
        args.from
            .clone()
            .or_else(|| env_before.clone())
            .ok_or_else(|| {
                Error::usage(format!(
                    "pass --from ENV ({} has no environment before it{})",
                    args.to,
                    if project.is_some() {
                        " in promote.toml's order"
                    } else {
                        ": there is no promote.toml"
                    }
                ))
            })
    };
    let named = args
        .api
        .clone()
        .or_else(|| section.map(|s| s.rest_api.pattern().to_string()));
    match (&args.api, input) {
        (None, Some(input)) => {
            for item in input.items(&[Service::Apigateway]) {
                let Some(record) = batch::own(item, &mut work) else {
                    continue;
                };
                let origin = format!("{}:{}", input.origin(), record.line);
                let parsed = record.parse(input.origin())?;
                work.push(Work::Own(item_from_record(
                    &parsed,
                    &origin,
                    args,
                    env_before.as_deref(),
                    &target,
                )?));
            }
        }
        _ => {
            let api = named.ok_or_else(|| {
                Error::usage("name the REST API, pipe apigateway records in, or set [apigateway] rest_api in promote.toml")
            })?;
            let from = from_env()?;
            work.push(Work::Own(Ok(Item {
                target: target(&api),
                api,
                source: Source::Stage {
                    stage: stages.render(&from),
                    env: from,
                },
            })));
        }
    }

    let key = |item: &Result<Item>| {
        item.as_ref()
            .ok()
            .map(|i| format!("{} {}", i.api, i.target.stage))
    };
    if args.atomic {
        out.remember_changes();
    }
    let code = batch::run_keyed(work, opts.concurrency, out, key, |item| async move {
        promote_one(item?, args, clients, opts).await
    })
    .await?;
    // --atomic: a run that failed takes back what it changed, with the tool's own rollback.
    match out.take_changes() {
        Some(undo) if args.atomic && code != ExitCode::Success => {
            shared::cli::note("--atomic: the run failed; rolling back the changes it made");
            let undone = crate::rollback::run(&undo, clients, opts, out).await?;
            Ok(code.worst(undone))
        }
        _ => Ok(code),
    }
}

fn item_from_record(
    record: &Record,
    origin: &str,
    args: &PromoteArgs,
    env_before: Option<&str>,
    target: &dyn Fn(&str) -> StageRef,
) -> Result<Result<Item>> {
    let artifact: ApigatewayArtifact = record
        .artifact
        .clone()
        .ok_or_else(|| Error::bad_input(origin, "apigateway record has no `artifact` to promote"))
        .and_then(|a| {
            serde_json::from_value(a).map_err(|e| {
                Error::bad_input(
                    origin,
                    format!("apigateway record's `artifact` is not {{\"deployment_id\"}}: {e}"),
                )
            })
        })?;
    if let (Some(from), Some(env)) = (&args.from, &record.env) {
        if from != env {
            return Err(Error::bad_input(
                origin,
                format!("the record is from {env}, but --from says {from}"),
            ));
        }
    }
    if let (Some(before), Some(env), false) = (env_before, &record.env, args.force) {
        if before != env {
            return Ok(Err(Error::precondition(format!(
                "{origin}: API {} is promoted into {} from {before} (promote.toml's order), but this record is \
                 from {env}; nothing changed (pass --force to promote it anyway)",
                record.resource, args.to
            ))));
        }
    }
    Ok(Ok(Item {
        api: record.resource.clone(),
        target: target(&record.resource),
        source: Source::Record(artifact.deployment_id),
    }))
}

async fn promote_one(
    item: Item,
    args: &PromoteArgs,
    clients: &Clients<'_>,
    opts: Options,
) -> Result<Vec<Record>> {
    let Item {
        api,
        mut target,
        source,
    } = item;
    let at = clients.get(target.env.as_deref(), None).await?;
    let from_record = matches!(source, Source::Record(_));
    // What the target runs is read before any check: a promotion already done stops with the
    // reads of the two stages (a record's target stage alone).
    let (want, now) = match source {
        // A record names its API by id (records always carry the id): no lookup.
        Source::Record(deployment) => {
            let now = shared::apigateway::get_stage(&at.client, &target.api, &target.stage).await?;
            (deployment, now)
        }
        Source::Stage { env, stage } => {
            target.api = shared::apigateway::find_api(&at.client, &api).await?.id;
            let from_at = clients.get(Some(&env), None).await?;
            let no_source = || {
                Error::precondition(format!(
                    "API {} has no stage {stage} ({env}): nothing to promote",
                    target.api
                ))
            };
            if from_at.settings == at.settings {
                // One account and region: one GetStages reads both stages at once.
                let all = shared::apigateway::get_stages(&at.client, &target.api).await?;
                let find = |name: &str| all.iter().find(|s| s.name == name).cloned();
                let from = find(&stage).ok_or_else(no_source)?;
                (from.deployment_id, find(&target.stage))
            } else {
                let now =
                    shared::apigateway::get_stage(&at.client, &target.api, &target.stage).await?;
                let from = shared::apigateway::get_stage(&from_at.client, &target.api, &stage)
                    .await?
                    .ok_or_else(no_source)?;
                (from.deployment_id, now)
            }
        }
    };
    let now = now.map(|s| artifact_of(&s));
    let step = plan::promote(&target.name(), &want, now.as_ref(), args.expect.as_deref())?;
    // API Gateway itself does not check a deployment id on UpdateStage everywhere; check it here
    // so a stage never points at nothing. A record may name a deployment deleted since; one just
    // read off a live stage of the same API exists (API Gateway refuses to delete a deployment a
    // stage points at), and a stage already there needs nothing.
    if from_record
        && step != Step::Unchanged
        && !shared::apigateway::deployment_exists(&at.client, &target.api, &want).await?
    {
        return Err(Error::precondition(format!(
            "API {} has no deployment {want}; nothing changed",
            target.api
        )));
    }
    let after = ApigatewayArtifact {
        deployment_id: want.clone(),
        canary: now.as_ref().and_then(|n| n.canary.clone()),
    };
    match step {
        Step::Unchanged => {
            return Ok(vec![target.record(
                Action::Unchanged,
                &at,
                now.as_ref(),
                now.as_ref(),
            )])
        }
        _ if opts.dry_run => {
            return Ok(vec![target.planned(
                Action::Promoted,
                &at,
                Some(&after),
                now.as_ref(),
            )])
        }
        Step::Create(deployment) => {
            calls::create_stage(&at, &target.api, &target.stage, &deployment).await?
        }
        Step::Update(ops) => calls::update_stage(&at, &target.api, &target.stage, &ops).await?,
        Step::Delete => return Err(Error::usage("promote never deletes a stage")),
    }
    tracing::info!("{}: now runs {want}", target.name());
    Ok(vec![target.record(
        Action::Promoted,
        &at,
        Some(&after),
        now.as_ref(),
    )])
}
