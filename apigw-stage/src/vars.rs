//! `vars`: a stage's variables as one `config` record, for cfg-diff and jq. Values whose key looks
//! secret are shown only as a fingerprint.

use crate::args::EnvArgs;
use crate::{api_named, check_env, existing_stage, stage_template, Clients, StageRef};
use serde_json::{Map, Value};
use shared::config::Project;
use shared::engine::Target;
use shared::output::Output;
use shared::secrets::Fingerprinter;
use shared::{Action, ExitCode, Result, Service};

pub(crate) async fn run(
    args: &EnvArgs,
    project: Option<&Project>,
    clients: &Clients<'_>,
    out: &mut Output,
) -> Result<ExitCode> {
    check_env(project, &args.env)?;
    let named = api_named(args.api.as_deref(), project, &args.env)?;
    let at = clients
        .get(Some(&args.env), named.region.as_deref())
        .await?;
    let api = shared::apigateway::find_api(&at.client, &named.text).await?;
    let stage = StageRef {
        api: api.id,
        stage: stage_template(project).render(&args.env),
        env: Some(args.env.clone()),
        region: named.region.clone(),
    };
    let found = existing_stage(&at, &stage).await?;
    let fingerprints = Fingerprinter::new()?;
    let variables: Map<String, Value> = found
        .variables
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(fingerprints.show(k, v))))
        .collect();
    let mut record = Target::new(Service::Config, &stage.api, &stage.stage)
        .env(stage.env.as_deref())
        .region(at.region.as_deref())
        .record(
            Action::Resolved,
            Some(&serde_json::json!({ "variables": variables })),
            None,
        );
    record.extra.insert("source".into(), "apigateway".into());
    out.record(&record)?;
    Ok(ExitCode::Success)
}
