//! The decisions: the patch operations that take a stage from what it runs to what it should run,
//! for a promotion, a canary step or a rollback. Plain values in, decisions out.

use shared::record::{ApigatewayArtifact, CanaryArtifact};
use shared::{Action, Error, Result};
use std::collections::{BTreeMap, BTreeSet};

/// One JSON-patch operation of UpdateStage.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    pub op: &'static str,
    pub path: &'static str,
    pub value: Option<String>,
}

impl PatchOp {
    fn replace(path: &'static str, value: impl Into<String>) -> Self {
        PatchOp {
            op: "replace",
            path,
            value: Some(value.into()),
        }
    }

    fn remove(path: &'static str) -> Self {
        PatchOp {
            op: "remove",
            path,
            value: None,
        }
    }
}

/// The operations that make a stage running `now` run `want`, in one UpdateStage call: its
/// deployment, then its canary. Nothing else on the stage (variables, settings) is touched.
#[must_use]
pub fn patch(now: &ApigatewayArtifact, want: &ApigatewayArtifact) -> Vec<PatchOp> {
    let mut ops = Vec::new();
    if now.deployment_id != want.deployment_id {
        ops.push(PatchOp::replace("/deploymentId", &want.deployment_id));
    }
    match (&now.canary, &want.canary) {
        (Some(_), None) => ops.push(PatchOp::remove("/canarySettings")),
        (old, Some(new)) => {
            if old.as_ref().map(|c| &c.deployment_id) != Some(&new.deployment_id) {
                ops.push(PatchOp::replace(
                    "/canarySettings/deploymentId",
                    &new.deployment_id,
                ));
            }
            if old.as_ref().map(|c| c.percent) != Some(new.percent) {
                ops.push(PatchOp::replace(
                    "/canarySettings/percentTraffic",
                    new.percent.to_string(),
                ));
            }
        }
        (None, None) => {}
    }
    ops
}

/// What to do with a stage.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Unchanged,
    /// Create the stage on this deployment.
    Create(String),
    /// Update the stage with these operations.
    Update(Vec<PatchOp>),
    /// Delete the stage (undoing its creation).
    Delete,
}

/// Decide a promotion of deployment `want` onto a stage that runs `now` (`None`: no stage yet).
/// A canary on the target stays as it is: only the stage's deployment moves.
pub fn promote(
    stage: &str,
    want: &str,
    now: Option<&ApigatewayArtifact>,
    expect: Option<&str>,
) -> Result<Step> {
    check_expect(stage, now, expect)?;
    Ok(match now {
        None => Step::Create(want.to_string()),
        Some(now) if now.deployment_id == want => Step::Unchanged,
        Some(now) => Step::Update(patch(
            now,
            &ApigatewayArtifact {
                deployment_id: want.to_string(),
                canary: now.canary.clone(),
            },
        )),
    })
}

/// `--expect`: the stage (running `now`; `None`: no such stage) must run that deployment.
pub fn check_expect(
    stage: &str,
    now: Option<&ApigatewayArtifact>,
    expect: Option<&str>,
) -> Result<()> {
    if let Some(expected) = expect {
        if now.map(|n| n.deployment_id.as_str()) != Some(expected) {
            return Err(Error::precondition(format!(
                "{stage} runs {}, not deployment {expected} as --expect says; nothing changed",
                now.map_or_else(
                    || "nothing (no such stage)".to_string(),
                    |n| format!("deployment {}", n.deployment_id)
                )
            )));
        }
    }
    Ok(())
}

/// One step of a canary's life.
#[derive(Debug, Clone, PartialEq)]
pub enum CanaryStep {
    Start {
        deployment_id: String,
        percent: f64,
    },
    /// Make the canary's deployment the stage's and remove the canary.
    Finish,
    Abort,
    /// All the traffic to `deployment_id` in one update (a schedule's AllAtOnce): the stage runs
    /// it, with no canary.
    AllAtOnce {
        deployment_id: String,
    },
    /// Put the stage back on `deployment_id` from `finished`, the deployment a finished shift
    /// left it on (a post-traffic hook failed). Only from there: a stage moved since is not ours.
    Revert {
        deployment_id: String,
        finished: String,
    },
}

/// Decide a canary step on a stage running `now`: the stage's artifact afterwards and the record's
/// action, or `None` when nothing needs to change.
pub fn canary(
    stage: &str,
    step: &CanaryStep,
    now: &ApigatewayArtifact,
) -> Result<Option<(ApigatewayArtifact, Action)>> {
    let (next, action) = match step {
        CanaryStep::Start {
            deployment_id,
            percent,
        } => {
            if *deployment_id == now.deployment_id {
                return Err(Error::usage(format!(
                    "{stage} already runs deployment {deployment_id}: a canary sends traffic to another deployment"
                )));
            }
            (
                ApigatewayArtifact {
                    deployment_id: now.deployment_id.clone(),
                    canary: Some(CanaryArtifact {
                        deployment_id: deployment_id.clone(),
                        percent: *percent,
                    }),
                },
                Action::Canary,
            )
        }
        CanaryStep::Finish => {
            let canary = now.canary.as_ref().ok_or_else(|| {
                Error::precondition(format!(
                    "{stage} has no canary to finish (it runs deployment {})",
                    now.deployment_id
                ))
            })?;
            (
                ApigatewayArtifact {
                    deployment_id: canary.deployment_id.clone(),
                    canary: None,
                },
                Action::Promoted,
            )
        }
        CanaryStep::Abort => (
            ApigatewayArtifact {
                deployment_id: now.deployment_id.clone(),
                canary: None,
            },
            Action::RolledBack,
        ),
        CanaryStep::AllAtOnce { deployment_id } => (
            ApigatewayArtifact {
                deployment_id: deployment_id.clone(),
                canary: None,
            },
            Action::Promoted,
        ),
        CanaryStep::Revert {
            deployment_id,
            finished,
        } => {
            if now.deployment_id != *finished {
                return Err(Error::precondition(format!(
                    "{stage} runs deployment {}, not {finished} as the shift left it: it was \
                     moved since; nothing changed",
                    now.deployment_id
                )));
            }
            (
                ApigatewayArtifact {
                    deployment_id: deployment_id.clone(),
                    canary: None,
                },
                Action::RolledBack,
            )
        }
    };
    Ok((next != *now).then_some((next, action)))
}

/// Undo a change of a stage from `restore` to `changed_to` (`None`: no stage): only where the
/// stage still runs `changed_to` exactly.
pub fn rollback(
    stage: &str,
    now: Option<&ApigatewayArtifact>,
    changed_to: Option<&ApigatewayArtifact>,
    restore: Option<&ApigatewayArtifact>,
) -> Result<Step> {
    if now == changed_to {
        return Ok(match (now, restore) {
            (None, None) => Step::Unchanged,
            (Some(_), None) => Step::Delete,
            (None, Some(r)) => Step::Create(r.deployment_id.clone()),
            (Some(n), Some(r)) => Step::Update(patch(n, r)),
        });
    }
    if now == restore {
        return Ok(Step::Unchanged);
    }
    let show = |a: Option<&ApigatewayArtifact>| {
        a.map_or_else(
            || "no stage".to_string(),
            |a| format!("deployment {}", a.deployment_id),
        )
    };
    Err(Error::precondition(format!(
        "{stage} runs {}, not {} as the record says: it was changed since, so it is left as it is",
        show(now),
        show(changed_to)
    )))
}

/// The stages `status` is asked for on one API: some by name, and perhaps every one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wanted {
    pub named: BTreeSet<String>,
    pub every: bool,
}

impl Wanted {
    /// One GetStages answers every stage of the API in one call: cheaper than a GetStage per
    /// stage as soon as more than one is wanted.
    #[must_use]
    pub fn read_whole(&self) -> bool {
        self.every || self.named.len() > 1
    }
}

/// Gather what `status` is asked for, per API: `(api, Some(stage))` for one stage, `(api, None)`
/// for every stage.
#[must_use]
pub fn wanted<'a>(
    asks: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> BTreeMap<String, Wanted> {
    let mut by_api: BTreeMap<String, Wanted> = BTreeMap::new();
    for (api, stage) in asks {
        let wanted = by_api.entry(api.to_string()).or_default();
        match stage {
            Some(stage) => {
                wanted.named.insert(stage.to_string());
            }
            None => wanted.every = true,
        }
    }
    by_api
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_stages_of_one_api_are_read_at_once() {
        let by_api = wanted([
            ("a", Some("staging")),
            ("a", Some("prod")),
            ("b", Some("prod")),
            ("c", None),
            ("c", Some("dev")),
        ]);
        assert!(by_api["a"].read_whole(), "two stages: one GetStages");
        assert!(!by_api["b"].read_whole(), "one stage: one GetStage");
        assert!(by_api["c"].read_whole() && by_api["c"].every);
        assert_eq!(
            by_api["c"].named.iter().collect::<Vec<_>>(),
            ["dev"],
            "every stage but the ones asked for by name"
        );
    }

    fn art(d: &str, canary: Option<(&str, f64)>) -> ApigatewayArtifact {
        ApigatewayArtifact {
            deployment_id: d.into(),
            canary: canary.map(|(d, p)| CanaryArtifact {
                deployment_id: d.into(),
                percent: p,
            }),
        }
    }

    fn ops(list: &[(&'static str, &'static str, Option<&str>)]) -> Vec<PatchOp> {
        list.iter()
            .map(|(op, path, value)| PatchOp {
                op,
                path,
                value: value.map(str::to_string),
            })
            .collect()
    }

    #[test]
    fn promote_replaces_the_deployment_only() {
        assert_eq!(
            promote("s", "d2", None, None).unwrap(),
            Step::Create("d2".into())
        );
        assert_eq!(
            promote("s", "d2", Some(&art("d2", None)), None).unwrap(),
            Step::Unchanged
        );
        assert_eq!(
            promote("s", "d2", Some(&art("d1", Some(("d3", 5.0)))), None).unwrap(),
            Step::Update(ops(&[("replace", "/deploymentId", Some("d2"))])),
            "the target's canary is left as it is"
        );
        let e = promote("s", "d2", Some(&art("d1", None)), Some("d0")).unwrap_err();
        assert_eq!(e.exit_code().code(), 4);
        assert!(promote("s", "d2", Some(&art("d1", None)), Some("d1")).is_ok());
    }

    #[test]
    fn canary_operations_are_exact() {
        let now = art("d1", None);
        let (next, action) = canary(
            "s",
            &CanaryStep::Start {
                deployment_id: "d2".into(),
                percent: 10.0,
            },
            &now,
        )
        .unwrap()
        .unwrap();
        assert_eq!(action, Action::Canary);
        assert_eq!(
            patch(&now, &next),
            ops(&[
                ("replace", "/canarySettings/deploymentId", Some("d2")),
                ("replace", "/canarySettings/percentTraffic", Some("10"))
            ])
        );
        let (done, action) = canary("s", &CanaryStep::Finish, &next).unwrap().unwrap();
        assert_eq!(action, Action::Promoted);
        assert_eq!(
            patch(&next, &done),
            ops(&[
                ("replace", "/deploymentId", Some("d2")),
                ("remove", "/canarySettings", None)
            ])
        );
        let (back, action) = canary("s", &CanaryStep::Abort, &next).unwrap().unwrap();
        assert_eq!(action, Action::RolledBack);
        assert_eq!(
            patch(&next, &back),
            ops(&[("remove", "/canarySettings", None)])
        );
        assert_eq!(canary("s", &CanaryStep::Abort, &now).unwrap(), None);
        assert_eq!(
            canary("s", &CanaryStep::Finish, &now)
                .unwrap_err()
                .exit_code()
                .code(),
            4
        );
        let same = CanaryStep::Start {
            deployment_id: "d1".into(),
            percent: 5.0,
        };
        assert_eq!(canary("s", &same, &now).unwrap_err().exit_code().code(), 2);
    }

    #[test]
    fn rollback_restores_deployment_and_canary() {
        let before = art("d1", Some(("d0", 5.0)));
        let after = art("d2", None);
        assert_eq!(
            rollback("s", Some(&after), Some(&after), Some(&before)).unwrap(),
            Step::Update(ops(&[
                ("replace", "/deploymentId", Some("d1")),
                ("replace", "/canarySettings/deploymentId", Some("d0")),
                ("replace", "/canarySettings/percentTraffic", Some("5")),
            ]))
        );
        assert_eq!(
            rollback("s", Some(&before), Some(&after), Some(&before)).unwrap(),
            Step::Unchanged
        );
        assert_eq!(
            rollback("s", Some(&after), Some(&after), None).unwrap(),
            Step::Delete
        );
        assert_eq!(
            rollback("s", Some(&art("d9", None)), Some(&after), Some(&before))
                .unwrap_err()
                .exit_code()
                .code(),
            4
        );
    }
}
