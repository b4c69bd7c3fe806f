//! `promote`: point --to's stage at the deployment --from's stage runs (or that a record on stdin
//! names). One UpdateStage patch of /deploymentId; the stage's variables and settings stay its own.
//! Where the work comes from, the order, the two phases, `--dry-run` and `--atomic` are the
//! engine's (`shared::engine`); this module builds the work list and `adapter` says how API
//! Gateway does it.

use crate::adapter::{Apigateway, Item, Source};
use crate::args::PromoteArgs;
use crate::{api_in, stage_template, ApiName, Clients, Options, StageRef};
use shared::batch::Work;
use shared::config::Project;
use shared::engine::{self, Asked, Job, Order, Settings, Stdin, Verdict};
use shared::input::Input;
use shared::output::Output;
use shared::{Error, ExitCode, Result, Service};

const SERVICES: &[Service] = &[Service::Apigateway];

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
    let section = project.and_then(|p| p.apigateway.as_ref());
    if section.is_some_and(|s| s.rest_api.varies_by_env()) {
        return Err(Error::usage(
            "[apigateway] rest_api names a different API per environment, but a deployment belongs to one API: \
             stages of one API are what apigw-stage promotes between",
        ));
    }
    // A traffic shift's flags are checked with the rest of the command line.
    let schedule = args.shift.schedule()?;
    let order = Order::of(project, args.force);
    let source = engine::source::decide(
        "apigw-stage",
        Asked {
            names: args.api.is_some(),
            live: args.from.is_some(),
        },
        Stdin::of(input, SERVICES),
    )?;
    engine::check_upstream(input, SERVICES, args.skip_failed, out)?;
    let stages = stage_template(project);
    // --from must be the environment just before --to, whatever the work comes from.
    let from_verdict = match &args.from {
        Some(from) => order.check_from(&format!("promote --to {}", args.to), from, &args.to)?,
        None => Verdict::ALLOWED,
    };
    let target = |api: &ApiName| StageRef {
        api: api.text.clone(),
        stage: stages.render(&args.to),
        env: Some(args.to.clone()),
        region: api.region.clone(),
    };

    let adapter = Apigateway {
        clients,
        expect: args.expect.as_deref(),
        order,
        dry_run: opts.dry_run,
    };
    // All input is read and checked, and the API looked up, before the first write.
    let mut work: Vec<Work<'_, Job<Item>>> = Vec::new();
    match source {
        engine::Source::Records | engine::Source::Nothing => {
            let input = input.ok_or_else(|| Error::usage("no input"))?;
            let region = match source {
                engine::Source::Records => clients.get(Some(&args.to), None).await?.region,
                _ => None,
            };
            work = engine::record_jobs(
                &adapter,
                input,
                SERVICES,
                args.from.as_deref(),
                &args.to,
                &order,
                |record, artifact, origin| {
                    let api = ApiName::parse(&record.resource)
                        .map_err(|e| Error::bad_input(origin, format!("`resource`: {e}")))?;
                    let stage = target(&api);
                    Ok(Some((
                        stage.target(api.region.as_deref().or(region.as_deref())),
                        Item {
                            stage,
                            source: Source::Record {
                                deployment: artifact.deployment_id,
                                account: record.account.clone(),
                                region: record.region.clone(),
                            },
                        },
                    )))
                },
            )?
            .into_iter()
            .map(|work| match work {
                Work::Own(job) => Work::Own(Job {
                    verdict: job.verdict.and(from_verdict),
                    ..job
                }),
                other => other,
            })
            .collect();
        }
        engine::Source::Names | engine::Source::Live => {
            let api = args
                .api
                .clone()
                .or_else(|| section.map(|s| s.rest_api.pattern().to_string()))
                .ok_or_else(|| {
                    Error::usage("name the REST API, pipe apigateway records in, or set [apigateway] rest_api in promote.toml")
                })?;
            let api = ApiName::parse(&api).map_err(Error::usage)?;
            // --from was checked above; without it, the environment before --to.
            let from = match &args.from {
                Some(from) => from.clone(),
                None => order.source_env(None, &args.to, "")?.0,
            };
            let (at, id) = api_in(clients, &args.to, &api).await?;
            let stage = target(&ApiName {
                text: id.as_deref().unwrap_or(&api.text).to_string(),
                region: api.region.clone(),
            });
            let job = Job::new(
                stage.target(at.region.as_deref()),
                id.map(|_| Item {
                    stage,
                    source: Source::Stage {
                        stage: stages.render(&from),
                        env: from,
                        named: api.text.clone(),
                    },
                }),
            );
            work.push(Work::Own(job.verdict(from_verdict)));
        }
    }

    if let Some(schedule) = schedule {
        // The canary steps' own check of the order: what the environment before runs now,
        // unless the work is records (checked as records, above) or --force.
        let before = match (&source, args.force) {
            (engine::Source::Records | engine::Source::Nothing, _) | (_, true) => None,
            _ => adapter
                .order
                .before(&args.to)?
                .map(|env| crate::adapter::Before {
                    stage: stages.render(env),
                    env: env.to_string(),
                }),
        };
        let watch = args.shift.watch(project, &args.to, None);
        return crate::canary::release(&adapter, work, &schedule, watch, before, opts, out).await;
    }
    engine::promote(
        &adapter,
        work,
        Settings::of(opts, args.atomic, args.skip_failed),
        out,
    )
    .await
}
