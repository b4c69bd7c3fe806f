//! The decisions: which image each container gets, whether a service must change, whether a
//! rollback may proceed, and how a deployment is doing. Plain values in, decisions out.

use shared::ecs::{Deployment, ServiceState};
use shared::record::{ContainerImage, EcsArtifact};
use shared::{Error, Result};
use std::collections::BTreeSet;

/// The image each of the target's containers should run: the source's image for the container
/// of the same name. A container on one side only is a refusal naming it: the two environments
/// do not run the same application.
pub fn match_containers(
    service: &str,
    source: &[ContainerImage],
    target: &[String],
) -> Result<Vec<ContainerImage>> {
    let source_names: BTreeSet<&str> = source.iter().map(|c| c.container.as_str()).collect();
    let target_names: BTreeSet<&str> = target.iter().map(String::as_str).collect();
    let only_source: Vec<&str> = source_names.difference(&target_names).copied().collect();
    let only_target: Vec<&str> = target_names.difference(&source_names).copied().collect();
    if !only_source.is_empty() || !only_target.is_empty() {
        let mut why = Vec::new();
        if !only_source.is_empty() {
            why.push(format!("only the source has {}", only_source.join(", ")));
        }
        if !only_target.is_empty() {
            why.push(format!("only the target has {}", only_target.join(", ")));
        }
        return Err(Error::precondition(format!(
            "{service}: containers differ ({}); containers are matched by name, so nothing changed",
            why.join("; ")
        )));
    }
    Ok(target
        .iter()
        .filter_map(|name| source.iter().find(|c| &c.container == name).cloned())
        .collect())
}

/// Whether a task definition named by the user (`--expect`, a record) is the one a service
/// runs. ECS answers full ARNs; people (and the emulator) also write `family:revision`.
#[must_use]
pub fn same_task_definition(a: &str, b: &str) -> bool {
    fn short(arn: &str) -> &str {
        arn.rsplit_once("task-definition/")
            .map_or(arn, |(_, rest)| rest)
    }
    a == b || short(a) == short(b)
}

/// What to do with a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// It already runs these digests: nothing is registered or updated.
    Unchanged,
    /// Register a new revision with these images and update the service to it.
    Register,
}

/// Decide a promotion of `want`'s images into a service that runs `now`.
pub fn promote(
    service: &str,
    now: &EcsArtifact,
    want: &[ContainerImage],
    expect: Option<&str>,
) -> Result<Step> {
    if let Some(expected) = expect {
        let running = now.task_definition.as_deref().unwrap_or("nothing");
        if !same_task_definition(running, expected) {
            return Err(Error::precondition(format!(
                "{service} runs {running}, not {expected} as --expect says; nothing changed"
            )));
        }
    }
    let wanted = EcsArtifact {
        task_definition: None,
        images: want.to_vec(),
    };
    Ok(if now.same_images(&wanted) {
        Step::Unchanged
    } else {
        Step::Register
    })
}

pub use shared::image::{placement, Placement};

/// Where the digests of what a service runs were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestSource {
    /// Every container is pinned by digest in the task definition: nothing to look up.
    TaskDefinition,
    /// The service's running tasks reported them.
    Tasks,
    /// No task runs: what the tags name in ECR now.
    Registry,
}

impl DigestSource {
    /// As records spell it (`digest_source`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            DigestSource::TaskDefinition => "task_definition",
            DigestSource::Tasks => "tasks",
            DigestSource::Registry => "registry",
        }
    }
}

/// What a service whose definition names tags runs: the digest per container, where it was
/// read, and, when the tasks run other images than the tags name in ECR now (someone moved a
/// tag), a note saying so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhatRuns {
    pub source: DigestSource,
    /// Container name and the digest it runs, for the containers whose digest is not ECR's now.
    pub digests: Vec<(String, String)>,
    pub note: Option<String>,
}

/// Decide what runs from `tagged` (container, the tag its definition names, the digest ECR's tag
/// names now) and the containers (name, digest) each running task reports.
#[must_use]
pub fn what_runs(
    tagged: &[(String, String, String)],
    tasks: &[Vec<(String, Option<String>)>],
) -> WhatRuns {
    if tagged.is_empty() {
        return WhatRuns {
            source: DigestSource::TaskDefinition,
            digests: Vec::new(),
            note: None,
        };
    }
    if tasks.is_empty() {
        return WhatRuns {
            source: DigestSource::Registry,
            digests: Vec::new(),
            note: None,
        };
    }
    let mut digests = Vec::new();
    let mut notes = Vec::new();
    for (container, tag, now) in tagged {
        let reported: BTreeSet<&str> = tasks
            .iter()
            .flatten()
            .filter(|(name, _)| name == container)
            .filter_map(|(_, digest)| digest.as_deref())
            .collect();
        match reported.iter().collect::<Vec<_>>().as_slice() {
            // Not reported yet: ECR's answer is all there is.
            [] => {}
            [one] if **one == now.as_str() => {}
            [one] => {
                digests.push((container.clone(), (**one).to_string()));
                notes.push(format!(
                    "container {container}'s tasks run {one}, but {tag} names {now} in ECR now"
                ));
            }
            several => notes.push(format!(
                "container {container}'s tasks run {} digests ({}), and {tag} names {now} in ECR now",
                several.len(),
                several.iter().map(|d| **d).collect::<Vec<_>>().join(", ")
            )),
        }
    }
    WhatRuns {
        source: DigestSource::Tasks,
        digests,
        note: (!notes.is_empty()).then(|| notes.join("; ")),
    }
}

/// Undo a change of a service from `restore` to `changed_to`: only where it still runs
/// `changed_to`. Returns the task definition to move back to, or `None` when it already runs it.
pub fn rollback<'a>(
    service: &str,
    now: &str,
    changed_to: &str,
    restore: &'a str,
) -> Result<Option<&'a str>> {
    if same_task_definition(now, changed_to) {
        Ok(Some(restore))
    } else if same_task_definition(now, restore) {
        Ok(None)
    } else {
        Err(Error::precondition(format!(
            "{service} runs {now}, not {changed_to} as the record says: it was changed since, so it is left as it is"
        )))
    }
}

/// Undo a tag move from `restore` to `changed_to` (digests; `None`: no tag). Returns what the
/// tag should name, `Some(None)` to remove the tag, or `None` when it already names `restore`.
pub fn rollback_tag(
    tag: &str,
    now: Option<&str>,
    changed_to: Option<&str>,
    restore: Option<&str>,
) -> Result<Option<Option<String>>> {
    if now == changed_to {
        Ok(Some(restore.map(str::to_string)))
    } else if now == restore {
        Ok(None)
    } else {
        Err(Error::precondition(format!(
            "tag {tag} names {}, not {} as the record says: it was moved since, so it is left as it is",
            now.unwrap_or("no image"),
            changed_to.unwrap_or("no image")
        )))
    }
}

/// How a deployment of `ours` is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rollout {
    InProgress(String),
    Completed,
    Failed(String),
    RolledBack(String),
}

/// How a service deployment of one of ECS's staged strategies (BLUE_GREEN, LINEAR, CANARY)
/// is doing: done only when ECS says SUCCESSFUL; a rollback (requested, going or done) or a stop
/// is the end of ours, with every reason ECS gives.
#[must_use]
pub fn staged(strategy: &str, d: &shared::ecs::ServiceDeployment) -> Rollout {
    let mut why: Vec<String> = Vec::new();
    if !d.triggered_alarms.is_empty() {
        why.push(format!(
            "alarm{} {} went into ALARM",
            if d.triggered_alarms.len() == 1 {
                ""
            } else {
                "s"
            },
            d.triggered_alarms.join(", ")
        ));
    }
    if let Some((failed, threshold)) = d.breaker_tripped {
        why.push(format!(
            "the circuit breaker tripped ({failed} failed tasks, threshold {threshold})"
        ));
    }
    for (hook, how) in &d.failed_hooks {
        why.push(format!(
            "the lifecycle hook {hook} {how}{}",
            d.lifecycle_stage
                .as_ref()
                .map_or(String::new(), |s| format!(" at {s}"))
        ));
    }
    for reason in [&d.rollback_reason, &d.status_reason].into_iter().flatten() {
        if !why.iter().any(|w| w == reason) {
            why.push(reason.clone());
        }
    }
    let why = if why.is_empty() {
        "ECS gave no reason".to_string()
    } else {
        why.join("; ")
    };
    match d.status.as_str() {
        "SUCCESSFUL" => Rollout::Completed,
        "ROLLBACK_SUCCESSFUL" => Rollout::RolledBack(why),
        "ROLLBACK_REQUESTED" | "ROLLBACK_IN_PROGRESS" => {
            Rollout::RolledBack(format!("{why} (the rollback is under way)"))
        }
        "ROLLBACK_FAILED" => Rollout::Failed(format!("{why}; and ECS's rollback failed too")),
        "STOPPED" | "STOP_REQUESTED" => Rollout::Failed(format!("it was stopped: {why}")),
        status => Rollout::InProgress(format!(
            "{strategy} deployment {}{}",
            status.to_lowercase().replace('_', " "),
            d.lifecycle_stage
                .as_ref()
                .map_or(String::new(), |s| format!(
                    ", {}",
                    s.to_lowercase().replace('_', " ")
                ))
        )),
    }
}

/// Read a service's deployments for the one that rolls out `ours`.
#[must_use]
pub fn rollout(ours: &str, service: &ServiceState) -> Rollout {
    let mine = service
        .deployments
        .iter()
        .find(|d| same_task_definition(&d.task_definition, ours));
    let primary = service.deployments.iter().find(|d| d.status == "PRIMARY");
    match mine {
        Some(d) if d.rollout_state.as_deref() == Some("FAILED") => Rollout::Failed(
            d.rollout_state_reason
                .clone()
                .unwrap_or_else(|| "ECS reports the deployment as FAILED".into()),
        ),
        Some(d) if d.status == "PRIMARY" && is_done(d, service.deployments.len()) => {
            Rollout::Completed
        }
        Some(d) => Rollout::InProgress(progress(d)),
        // The deployment of ours is gone and another is primary: the circuit breaker (or
        // someone) rolled the service back.
        None => match primary {
            Some(p) if !same_task_definition(&p.task_definition, ours) => {
                Rollout::RolledBack(format!(
                    "the service now runs {}{}",
                    p.task_definition,
                    p.rollout_state_reason
                        .as_deref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                ))
            }
            _ => Rollout::InProgress("waiting for ECS to start the deployment".into()),
        },
    }
}

fn is_done(d: &Deployment, deployments: usize) -> bool {
    match d.rollout_state.as_deref() {
        Some(state) => state == "COMPLETED",
        // Without a rollout state (old ECS schedulers): done when it alone runs every task.
        None => deployments == 1 && d.running == d.desired && d.pending == 0,
    }
}

fn progress(d: &Deployment) -> String {
    format!(
        "{}/{} running, {} pending, rollout {}",
        d.running,
        d.desired,
        d.pending,
        d.rollout_state.as_deref().unwrap_or("unknown")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(container: &str, digest: &str) -> ContainerImage {
        ContainerImage {
            container: container.into(),
            image: format!("r/app@{digest}"),
            digest: digest.into(),
        }
    }

    #[test]
    fn containers_are_matched_by_name() {
        let source = [image("web", "sha256:a"), image("sidecar", "sha256:b")];
        let matched = match_containers("s", &source, &["sidecar".into(), "web".into()]).unwrap();
        assert_eq!(
            matched,
            vec![image("sidecar", "sha256:b"), image("web", "sha256:a")]
        );
        let e = match_containers("s", &source, &["web".into(), "log".into()]).unwrap_err();
        assert_eq!(e.exit_code().code(), 4);
        let m = e.to_string();
        assert!(
            m.contains("only the source has sidecar") && m.contains("only the target has log"),
            "{m}"
        );
    }

    #[test]
    fn what_runs_is_what_the_tasks_report() {
        let tagged = vec![(
            "web".to_string(),
            "web:v2".to_string(),
            "sha256:new".to_string(),
        )];
        let task = |d: &str| vec![("web".to_string(), Some(d.to_string()))];
        let pinned = what_runs(&[], &[task("sha256:x")]);
        assert_eq!(pinned.source, DigestSource::TaskDefinition);
        let idle = what_runs(&tagged, &[]);
        assert_eq!((idle.source, idle.note), (DigestSource::Registry, None));
        let agree = what_runs(&tagged, &[task("sha256:new"), task("sha256:new")]);
        assert_eq!(
            (agree.source, agree.digests.len(), agree.note),
            (DigestSource::Tasks, 0, None)
        );
        let moved = what_runs(&tagged, &[task("sha256:old")]);
        assert_eq!(
            moved.digests,
            [("web".to_string(), "sha256:old".to_string())]
        );
        assert!(moved
            .note
            .unwrap()
            .contains("tasks run sha256:old, but web:v2 names sha256:new"));
        let mixed = what_runs(&tagged, &[task("sha256:old"), task("sha256:new")]);
        assert!(mixed.digests.is_empty());
        assert!(mixed.note.unwrap().contains("run 2 digests"));
    }

    #[test]
    fn task_definitions_compare_by_arn_or_family_revision() {
        let arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7";
        assert!(same_task_definition(arn, "web:7"));
        assert!(same_task_definition("web:7", arn));
        assert!(!same_task_definition(arn, "web:8"));
    }

    #[test]
    fn promote_is_unchanged_when_the_digests_match() {
        let now = EcsArtifact {
            task_definition: Some("web:3".into()),
            images: vec![image("web", "sha256:a")],
        };
        assert_eq!(
            promote("s", &now, &[image("web", "sha256:a")], None).unwrap(),
            Step::Unchanged
        );
        assert_eq!(
            promote("s", &now, &[image("web", "sha256:b")], None).unwrap(),
            Step::Register
        );
        assert!(promote("s", &now, &[image("web", "sha256:b")], Some("web:3")).is_ok());
        let e = promote("s", &now, &[image("web", "sha256:b")], Some("web:2")).unwrap_err();
        assert_eq!(e.exit_code().code(), 4);
    }

    #[test]
    fn rollback_only_where_the_change_still_holds() {
        assert_eq!(
            rollback("s", "web:4", "web:4", "web:3").unwrap(),
            Some("web:3")
        );
        assert_eq!(rollback("s", "web:3", "web:4", "web:3").unwrap(), None);
        assert_eq!(
            rollback("s", "web:5", "web:4", "web:3")
                .unwrap_err()
                .exit_code()
                .code(),
            4
        );
        assert_eq!(
            rollback_tag("t", Some("b"), Some("b"), Some("a")).unwrap(),
            Some(Some("a".into()))
        );
        assert_eq!(
            rollback_tag("t", Some("b"), Some("b"), None).unwrap(),
            Some(None)
        );
        assert_eq!(
            rollback_tag("t", Some("a"), Some("b"), Some("a")).unwrap(),
            None
        );
        assert!(rollback_tag("t", Some("c"), Some("b"), Some("a")).is_err());
    }

    fn deployment(status: &str, td: &str, state: Option<&str>) -> Deployment {
        Deployment {
            id: format!("d-{td}"),
            status: status.into(),
            task_definition: td.into(),
            rollout_state: state.map(str::to_string),
            rollout_state_reason: Some("reason".into()),
            desired: 2,
            running: 1,
            pending: 1,
            failed_tasks: 0,
        }
    }

    fn service(deployments: Vec<Deployment>) -> ServiceState {
        ServiceState {
            cluster: "c".into(),
            name: "s".into(),
            task_definition: "web:2".into(),
            desired: 2,
            running: 2,
            deployments,
            deployment_configuration: None,
        }
    }

    #[test]
    fn rollout_outcomes() {
        let ours = "arn:aws:ecs:us-east-1:1:task-definition/web:2";
        let going = service(vec![
            deployment("PRIMARY", ours, Some("IN_PROGRESS")),
            deployment("ACTIVE", "web:1", Some("COMPLETED")),
        ]);
        assert!(
            matches!(rollout(ours, &going), Rollout::InProgress(p) if p.contains("1/2 running"))
        );
        let done = service(vec![deployment("PRIMARY", ours, Some("COMPLETED"))]);
        assert_eq!(rollout(ours, &done), Rollout::Completed);
        let failed = service(vec![deployment("PRIMARY", ours, Some("FAILED"))]);
        assert_eq!(rollout(ours, &failed), Rollout::Failed("reason".into()));
        let rolled = service(vec![deployment("PRIMARY", "web:1", Some("IN_PROGRESS"))]);
        assert!(matches!(rollout(ours, &rolled), Rollout::RolledBack(r) if r.contains("web:1")));
    }

    #[test]
    fn a_staged_deployment_is_done_only_when_ecs_says_successful() {
        use shared::ecs::ServiceDeployment;
        let going = ServiceDeployment {
            status: "IN_PROGRESS".into(),
            lifecycle_stage: Some("PRODUCTION_TRAFFIC_SHIFT".into()),
            ..ServiceDeployment::default()
        };
        assert_eq!(
            staged("CANARY", &going),
            Rollout::InProgress("CANARY deployment in progress, production traffic shift".into())
        );
        let done = ServiceDeployment {
            status: "SUCCESSFUL".into(),
            ..ServiceDeployment::default()
        };
        assert_eq!(staged("LINEAR", &done), Rollout::Completed);
        let alarmed = ServiceDeployment {
            status: "ROLLBACK_SUCCESSFUL".into(),
            triggered_alarms: vec!["web-5xx".into()],
            status_reason: Some("rolled back".into()),
            ..ServiceDeployment::default()
        };
        assert_eq!(
            staged("BLUE_GREEN", &alarmed),
            Rollout::RolledBack("alarm web-5xx went into ALARM; rolled back".into())
        );
        let hooked = ServiceDeployment {
            status: "ROLLBACK_IN_PROGRESS".into(),
            lifecycle_stage: Some("POST_TEST_TRAFFIC_SHIFT".into()),
            failed_hooks: vec![(
                "arn:aws:lambda:eu-west-1:1:function:smoke".into(),
                "failed".into(),
            )],
            ..ServiceDeployment::default()
        };
        assert!(matches!(
            staged("BLUE_GREEN", &hooked),
            Rollout::RolledBack(r) if r.contains("function:smoke failed at POST_TEST_TRAFFIC_SHIFT")
                && r.contains("under way")
        ));
        let stopped = ServiceDeployment {
            status: "ROLLBACK_FAILED".into(),
            breaker_tripped: Some((3, 3)),
            ..ServiceDeployment::default()
        };
        assert!(matches!(
            staged("LINEAR", &stopped),
            Rollout::Failed(r) if r.contains("circuit breaker tripped (3 failed tasks, threshold 3)")
                && r.contains("rollback failed too")
        ));
    }
}
