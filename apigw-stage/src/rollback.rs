//! `rollback`: undo what records on stdin say was done to stages, only where the stage still runs
//! exactly what the record says (deployment and canary). Other services pass through.

use crate::plan::{self, Step};
use crate::{artifact_of, calls, Clients, Options, StageRef};
use shared::batch;
use shared::input::Input;
use shared::output::Output;
use shared::record::ApigatewayArtifact;
use shared::{Action, Error, ExitCode, Record, Result, Service};

#[derive(Debug)]
struct Undo {
    stage: StageRef,
    region: Option<String>,
    changed_to: Option<ApigatewayArtifact>,
    restore: Option<ApigatewayArtifact>,
}

pub(crate) async fn run(
    input: &Input,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    let (work, undos) = batch::changes(input, &[Service::Apigateway], undo_of)?;
    let undos = &undos;
    batch::run(work, opts.concurrency, out, |index| async move {
        undo(&undos[index], clients, opts).await
    })
    .await
}

impl batch::Change for Undo {
    fn key(&self) -> String {
        format!(
            "{}\n{}\n{:?}",
            self.stage.api, self.stage.stage, self.region
        )
    }

    fn then(&mut self, later: Undo) {
        self.changed_to = later.changed_to;
    }
}

fn undo_of(record: &Record, origin: &str) -> Result<Option<Undo>> {
    if !record.action.moved_a_pointer() {
        return Ok(None);
    }
    let Some(stage) = &record.pointer else {
        return Ok(None);
    };
    let artifact = |field: &str,
                    value: &Option<serde_json::Value>|
     -> Result<Option<ApigatewayArtifact>> {
        match value {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => serde_json::from_value(v.clone()).map(Some).map_err(|e| {
                Error::bad_input(
                    origin,
                    format!("`{field}` is not an apigateway artifact {{\"deployment_id\"}}: {e}"),
                )
            }),
        }
    };
    let changed_to = artifact("artifact", &record.artifact)?;
    let restore = artifact("previous", &record.previous)?;
    if changed_to.is_none() && restore.is_none() {
        return Err(Error::bad_input(
            origin,
            "the record has neither `artifact` nor `previous`: nothing to roll back to",
        ));
    }
    Ok(Some(Undo {
        stage: StageRef {
            api: record.resource.clone(),
            stage: stage.clone(),
            env: record.env.clone(),
        },
        region: record.region.clone(),
        changed_to,
        restore,
    }))
}

async fn undo(undo: &Undo, clients: &Clients<'_>, opts: Options) -> Result<Vec<Record>> {
    let Undo {
        stage,
        region,
        changed_to,
        restore,
    } = undo;
    let at = clients.get(stage.env.as_deref(), region.as_deref()).await?;
    let now = shared::apigateway::get_stage(&at.client, &stage.api, &stage.stage)
        .await?
        .map(|s| artifact_of(&s));
    let step = plan::rollback(
        &stage.name(),
        now.as_ref(),
        changed_to.as_ref(),
        restore.as_ref(),
    )?;
    if step == Step::Unchanged {
        return Ok(vec![stage.record(
            Action::Unchanged,
            &at,
            restore.as_ref(),
            restore.as_ref(),
        )]);
    }
    if opts.dry_run {
        return Ok(vec![stage.planned(
            Action::RolledBack,
            &at,
            restore.as_ref(),
            changed_to.as_ref(),
        )]);
    }
    match &step {
        Step::Update(ops) => calls::update_stage(&at, &stage.api, &stage.stage, ops).await?,
        Step::Create(deployment) => {
            calls::create_stage(&at, &stage.api, &stage.stage, deployment).await?
        }
        Step::Delete => calls::delete_stage(&at, &stage.api, &stage.stage).await?,
        Step::Unchanged => {}
    }
    tracing::info!("{}: rolled back", stage.name());
    Ok(vec![stage.record(
        Action::RolledBack,
        &at,
        restore.as_ref(),
        changed_to.as_ref(),
    )])
}
