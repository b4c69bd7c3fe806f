//! `status`: what each stage runs, as `resolved` records; with --env, the one stage of that
//! environment (a release manifest line). Fed records, it reports each record's own stage (or
//! --env's), once per pointer, reading several stages of one API with one GetStages.

use crate::args::StatusArgs;
use crate::{artifact_of, check_env, plan, stage_template, ApiName, Clients, Options, StageRef};
use shared::apigateway::Stage;
use shared::batch::{self, Work};
use shared::config::Project;
use shared::input::Input;
use shared::output::Output;
use shared::{Action, Error, ExitCode, Result, Service};
use std::collections::{HashMap, HashSet};
use tokio::sync::OnceCell;

/// The API of one ask: as named on the command line or in promote.toml (looked up), or an id
/// from a record (records always carry the id).
#[derive(Debug, Clone)]
enum ApiRef {
    Named(String),
    Id(String),
}

impl ApiRef {
    fn text(&self) -> &str {
        match self {
            ApiRef::Named(text) | ApiRef::Id(text) => text,
        }
    }
}

/// One stage of one API to report, or every stage (`None`).
#[derive(Debug)]
struct Ask {
    api: ApiRef,
    stage: Option<String>,
    /// The region an ARN named the API in; `None`: the environment's.
    region: Option<String>,
}

impl Ask {
    /// An ask about an API as named on the command line or in promote.toml.
    fn named(text: &str, stage: Option<String>) -> Result<Ask> {
        let api = ApiName::parse(text).map_err(Error::usage)?;
        Ok(Ask {
            api: ApiRef::Named(api.text),
            stage,
            region: api.region,
        })
    }
}

pub(crate) async fn run(
    args: &StatusArgs,
    project: Option<&Project>,
    input: Option<&Input>,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    if let Some(env) = &args.env {
        check_env(project, env)?;
    }
    let section = project.and_then(|p| p.apigateway.as_ref());
    let stages = stage_template(project);
    let env_stage = args.env.as_ref().map(|env| stages.render(env));
    let mut work: Vec<Work<'_, Ask>> = Vec::new();
    match (&args.api, input) {
        (Some(api), _) => work.push(Work::Own(Ask::named(api, env_stage.clone())?)),
        (None, Some(input)) => {
            // One ask per pointer: --env's stage of each record's API, else the record's own
            // stage. Records about a pointer already asked for add nothing.
            let mut asked = HashSet::new();
            for item in input.items(&[Service::Apigateway]) {
                let Some(record) = batch::own(item, &mut work) else {
                    continue;
                };
                let origin = format!("{}:{}", input.origin(), record.line);
                let record = record.parse(input.origin())?;
                let api = ApiName::parse(&record.resource)
                    .map_err(|e| Error::bad_input(&origin, format!("`resource`: {e}")))?;
                let stage = env_stage.clone().or(record.pointer);
                if asked.insert((api.text.clone(), stage.clone())) {
                    work.push(Work::Own(Ask {
                        api: ApiRef::Id(api.text),
                        stage,
                        region: api.region,
                    }));
                }
            }
        }
        (None, None) => {
            let section = section.ok_or_else(|| {
                Error::usage("name the REST API, pipe apigateway records in, or set [apigateway] rest_api in promote.toml")
            })?;
            let api = match &args.env {
                Some(env) => section.rest_api.render(env),
                None if section.rest_api.varies_by_env() => {
                    return Err(Error::usage(
                        "[apigateway] rest_api varies by environment: pass --env ENV",
                    ))
                }
                None => section.rest_api.pattern().to_string(),
            };
            work.push(Work::Own(Ask::named(&api, env_stage.clone())?));
        }
    }
    let wanted = plan::wanted(work.iter().filter_map(|w| match w {
        Work::Own(ask) => Some((ask.api.text(), ask.stage.as_deref())),
        Work::PassThrough(_) => None,
    }));
    // The APIs read with one GetStages, shared by every ask about them.
    let whole: HashMap<&str, OnceCell<Vec<Stage>>> = wanted
        .iter()
        .filter(|(_, w)| w.read_whole())
        .map(|(api, _)| (api.as_str(), OnceCell::new()))
        .collect();
    let order: Vec<String> = project.map(|p| p.order.clone()).unwrap_or_default();
    let (stages, order, wanted, whole) = (&stages, &order, &wanted, &whole);
    // A stage that cannot be read is an `error` record too, so `status | promote` refuses.
    let describe = |ask: &Ask| batch::Described {
        key: None,
        subject: Some({
            let mut target = shared::engine::Target::new(
                Service::Apigateway,
                ask.api.text(),
                ask.stage.clone().unwrap_or_default(),
            )
            .env(args.env.as_deref());
            if ask.stage.is_none() {
                target.pointer = None;
            }
            target
        }),
    };
    batch::run_described(work, opts.concurrency, out, describe, |ask| async move {
        let at = clients
            .get(args.env.as_deref(), ask.region.as_deref())
            .await?;
        let key = ask.api.text().to_string();
        let id = match ask.api {
            ApiRef::Named(name) => shared::apigateway::find_api(&at.client, &name).await?.id,
            ApiRef::Id(id) => id,
        };
        let missing = |name: &str| Error::precondition(format!("API {id} has no stage {name}"));
        let found = match (whole.get(key.as_str()), &ask.stage) {
            (Some(all), stage) => {
                let all = all
                    .get_or_try_init(|| shared::apigateway::get_stages(&at.client, &id))
                    .await?;
                match stage {
                    Some(name) => vec![all
                        .iter()
                        .find(|s| s.name == *name)
                        .cloned()
                        .ok_or_else(|| missing(name))?],
                    // Every stage but those asked for by name: they have their own place.
                    None => all
                        .iter()
                        .filter(|s| !wanted.get(&key).is_some_and(|w| w.named.contains(&s.name)))
                        .cloned()
                        .collect(),
                }
            }
            (None, Some(name)) => vec![shared::apigateway::get_stage(&at.client, &id, name)
                .await?
                .ok_or_else(|| missing(name))?],
            (None, None) => shared::apigateway::get_stages(&at.client, &id).await?,
        };
        Ok::<_, Error>(
            found
                .iter()
                .map(|stage| {
                    // Without promote.toml a stage's environment is its own name.
                    let env = args
                        .env
                        .clone()
                        .or_else(|| stages.env_of_pointer(&stage.name, order));
                    let pointer = StageRef {
                        api: id.clone(),
                        stage: stage.name.clone(),
                        env,
                        region: ask.region.clone(),
                    };
                    pointer.record(Action::Resolved, &at, Some(&artifact_of(stage)), None)
                })
                .collect(),
        )
    })
    .await
}
