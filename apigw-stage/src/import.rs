//! Promotion across accounts or regions: a deployment belongs to one API in one account and
//! region, so it cannot move there. What moves is its definition: the source stage's export
//! (OpenAPI 3.0 with the API Gateway extensions) is imported into the target API (PutRestApi,
//! overwrite), deployed, and the target stage pointed at the new deployment; the target's export
//! is then read back and must be the source's, normalised (`definition`). The target stage's
//! variables and settings are never touched. `prepare` reads and decides; `run` writes.

use crate::calls::{self, Located};
use crate::definition;
use crate::plan;
use crate::{artifact_of, StageRef};
use serde_json::{json, Value};
use shared::record::ApigatewayArtifact;
use shared::{Action, Error, Record, Result};

/// The source stage, as its environment names it.
#[derive(Debug)]
pub(crate) struct Origin {
    pub env: String,
    pub stage: String,
    /// The API as the command or promote.toml named it: a name (or id) looked up again in the
    /// source's account, since the target's id means nothing there.
    pub named: String,
}

/// A decided import into the target API.
#[derive(Debug)]
pub(crate) struct Import {
    /// The source stage's export, byte for byte: what is imported.
    definition: Vec<u8>,
    /// The same, normalised: what the target's export must equal afterwards.
    want: Value,
    /// The REST API ids normalisation takes out (source's, target's).
    ids: [String; 2],
    /// What the target stage runs now (`None`: no stage yet, it is created).
    previous: Option<ApigatewayArtifact>,
    /// The record's `copied_from`.
    copied_from: Value,
    /// "stage staging of API a1b2c3d4e5 (account 111111111111, us-east-1)", for messages.
    source_name: String,
}

/// Parse an export; a body that is not JSON is AWS's failure.
fn parse(bytes: &[u8], doing: &str) -> Result<Value> {
    serde_json::from_slice(bytes).map_err(|e| Error::Aws {
        doing: doing.to_string(),
        message: format!("the export is not a JSON document: {e}"),
    })
}

/// Read the source stage and its export, and the target's: `Ok(Err(record))` when the target
/// serves the same definition already (an `unchanged` record: nothing to write).
pub(crate) async fn prepare(
    at: &Located,
    from_at: &Located,
    stage: &StageRef,
    origin: &Origin,
    expect: Option<&str>,
) -> Result<std::result::Result<(Import, Record), Record>> {
    // What the target runs is read first: --expect stops before the source is read.
    let now = shared::apigateway::get_stage(&at.client, &stage.api, &stage.stage)
        .await?
        .map(|s| artifact_of(&s));
    plan::check_expect(&stage.name(), now.as_ref(), expect)?;
    let source_api = shared::apigateway::find_api(&from_at.client, &origin.named)
        .await?
        .id;
    let no_source = || {
        Error::precondition(format!(
            "API {source_api} has no stage {} ({}): nothing to promote",
            origin.stage, origin.env
        ))
    };
    let source = shared::apigateway::get_stage(&from_at.client, &source_api, &origin.stage)
        .await?
        .ok_or_else(no_source)?;
    let exported = shared::apigateway::get_export(&from_at.client, &source_api, &origin.stage)
        .await?
        .ok_or_else(no_source)?;
    let source_name = format!(
        "stage {} of API {source_api} (account {}, {})",
        origin.stage,
        from_at.account.as_deref().unwrap_or("unknown"),
        from_at.region.as_deref().unwrap_or("default region"),
    );
    let ids = [source_api.clone(), stage.api.clone()];
    let id_refs = [ids[0].as_str(), ids[1].as_str()];
    let want = definition::normalise(
        &parse(&exported, &format!("exporting {source_name}"))?,
        &id_refs,
    );
    if now.is_some() {
        if let Some(theirs) =
            shared::apigateway::get_export(&at.client, &stage.api, &stage.stage).await?
        {
            let have = definition::normalise(
                &parse(&theirs, &format!("exporting {}", stage.name()))?,
                &id_refs,
            );
            if definition::first_difference(&want, &have).is_none() {
                return Ok(Err(stage.record(
                    Action::Unchanged,
                    at,
                    now.as_ref(),
                    now.as_ref(),
                )));
            }
        }
    }
    let copied_from = json!({
        "account": from_at.account,
        "region": from_at.region,
        "rest_api_id": source_api,
        "stage": origin.stage,
        "deployment_id": source.deployment_id,
    });
    // The new deployment's id is only known once it is made.
    let mut planned = stage.planned(Action::Promoted, at, None, now.as_ref());
    planned
        .extra
        .insert("copied_from".into(), copied_from.clone());
    Ok(Ok((
        Import {
            definition: exported,
            want,
            ids,
            previous: now,
            copied_from,
            source_name,
        },
        planned,
    )))
}

impl Import {
    /// A dry run's line on stderr.
    pub fn note(&self, stage: &StageRef) -> String {
        format!(
            "{}: would import the definition of {} (deployment {}) into API {}, deploy it and point the stage at it (dry run: nothing written)",
            stage.name(),
            self.source_name,
            self.copied_from["deployment_id"].as_str().unwrap_or_default(),
            stage.api
        )
    }

    /// The writes: import, deploy, move the stage, then check what it serves. A definition that
    /// did not come through whole moves the stage back where it was (exit 3, naming the first
    /// difference); the deployment made stays, unused.
    pub async fn run(self, at: &Located, stage: &StageRef) -> Result<Record> {
        calls::put_rest_api(at, &stage.api, &self.definition).await?;
        let description = shared::apigateway::imported_description(
            &self.source_name,
            self.copied_from["deployment_id"]
                .as_str()
                .unwrap_or_default(),
        );
        let deployment = calls::create_deployment(at, &stage.api, Some(&description)).await?;
        let artifact = ApigatewayArtifact {
            deployment_id: deployment.clone(),
            canary: self.previous.as_ref().and_then(|p| p.canary.clone()),
        };
        let moved = match &self.previous {
            Some(previous) => {
                calls::update_stage(
                    at,
                    &stage.api,
                    &stage.stage,
                    &plan::patch(previous, &artifact),
                )
                .await
            }
            None => calls::create_stage(at, &stage.api, &stage.stage, &deployment).await,
        };
        if moved.is_err() {
            tracing::warn!(
                "deployment {deployment} of API {} was made, but {} was not moved to it",
                stage.api,
                stage.name()
            );
        }
        moved?;
        if let Some(path) = self.check(at, stage).await? {
            let back = match &self.previous {
                Some(previous) => {
                    calls::update_stage(
                        at,
                        &stage.api,
                        &stage.stage,
                        &plan::patch(&artifact, previous),
                    )
                    .await
                }
                None => calls::delete_stage(at, &stage.api, &stage.stage).await,
            };
            let undone = match (&back, &self.previous) {
                (Ok(()), Some(p)) => format!("moved back to deployment {}", p.deployment_id),
                (Ok(()), None) => "deleted again".to_string(),
                (Err(e), _) => format!("NOT moved back ({e}): it runs deployment {deployment}"),
            };
            return Err(Error::Aws {
                doing: format!("checking {} after importing {}", stage.name(), self.source_name),
                message: format!(
                    "the imported definition differs from the source's at {path}; the stage was {undone}"
                ),
            });
        }
        tracing::info!(
            "{}: imported {} as deployment {deployment}",
            stage.name(),
            self.source_name
        );
        let mut record = stage.record(
            Action::Promoted,
            at,
            Some(&artifact),
            self.previous.as_ref(),
        );
        record.extra.insert("copied_from".into(), self.copied_from);
        Ok(record)
    }

    /// Where the target stage's export differs from the source's, normalised (`None`: it is the
    /// same; `"(no stage)"` when the stage cannot be exported).
    async fn check(&self, at: &Located, stage: &StageRef) -> Result<Option<String>> {
        let Some(theirs) =
            shared::apigateway::get_export(&at.client, &stage.api, &stage.stage).await?
        else {
            return Ok(Some("(the stage cannot be exported)".to_string()));
        };
        let ids = [self.ids[0].as_str(), self.ids[1].as_str()];
        let have = definition::normalise(
            &parse(&theirs, &format!("exporting {}", stage.name()))?,
            &ids,
        );
        Ok(definition::first_difference(&self.want, &have).map(|p| {
            if p.is_empty() {
                "the document's top".to_string()
            } else {
                p
            }
        }))
    }
}
