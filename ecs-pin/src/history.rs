//! `history`: the revisions of the task definition family each service runs, newest first, each
//! with when it was registered, its containers' images (and digests, where pinned) and whether
//! the service runs it now (`current`), with the environments of promote.toml whose service
//! (of the same account and region) runs it. The same listing as the other tools' `history`.

use crate::args::HistoryArgs;
use crate::{services, Clients, ServiceRef};
use serde_json::json;
use shared::batch::{self, Work};
use shared::config::Project;
use shared::engine::Target;
use shared::output::Output;
use shared::record::{ContainerImage, EcsArtifact};
use shared::{Action, Error, ExitCode, Record, Result};

pub(crate) async fn run(
    args: &HistoryArgs,
    project: Option<&Project>,
    clients: &Clients<'_>,
    concurrency: usize,
    out: &mut Output,
) -> Result<ExitCode> {
    let targets = services(&args.services, project)?;
    // The same services in the other environments, to say which environment runs each revision.
    let mut elsewhere: Vec<(String, ServiceRef)> = Vec::new();
    if let (Some(project), Some(env)) = (project, &args.services.env) {
        for other in project.order.iter().filter(|e| *e != env) {
            let mut one = args.services.clone();
            one.env = Some(other.clone());
            if let Ok(found) = services(&one, Some(project)) {
                elsewhere.extend(found.into_iter().map(|s| (other.clone(), s)));
            }
        }
    }
    let elsewhere = &elsewhere;
    let work: Vec<Work<'_, ServiceRef>> = targets.into_iter().map(Work::Own).collect();
    let describe = |service: &ServiceRef| batch::Described {
        key: None,
        subject: Some(service.target(None)),
    };
    batch::run_described(work, concurrency, out, describe, |service| async move {
        history_of(&service, elsewhere, args.limit, clients).await
    })
    .await
}

async fn history_of(
    service: &ServiceRef,
    elsewhere: &[(String, ServiceRef)],
    limit: u16,
    clients: &Clients<'_>,
) -> Result<Vec<Record>> {
    let at = clients
        .get(service.env.as_deref(), service.region.as_deref())
        .await?;
    let ecs = &at.client.ecs;
    let state = shared::ecs::describe_service(ecs, &service.cluster, &service.service)
        .await?
        .ok_or_else(|| {
            Error::precondition(format!(
                "cluster {} has no service {}",
                service.cluster, service.service
            ))
        })?;
    // Which environment's service runs which task definition (same account and region only: a
    // revision's ARN names its account).
    let mut runs: Vec<(String, String)> = Vec::new();
    for (env, other) in elsewhere
        .iter()
        .filter(|(_, o)| o.service == service.service)
    {
        let there = clients.get(Some(env), other.region.as_deref()).await?;
        if !there.same_place(&at) {
            continue;
        }
        if let Some(s) =
            shared::ecs::describe_service(&there.client.ecs, &other.cluster, &other.service).await?
        {
            runs.push((env.clone(), s.task_definition));
        }
    }
    if let Some(env) = &service.env {
        runs.push((env.clone(), state.task_definition.clone()));
    }
    let family = family_of(&state.task_definition);
    let revisions = list_revisions(ecs, family, limit).await?;
    let definitions = futures::future::try_join_all(
        revisions
            .iter()
            .map(|arn| shared::ecs::describe_task_definition(ecs, arn)),
    )
    .await?;
    let listing = Target {
        // A listing, not a pointer's state: no pointer, so no tool takes it for one.
        pointer: None,
        ..service.target(at.region.as_deref())
    };
    Ok(revisions
        .iter()
        .zip(definitions)
        .map(|(arn, (definition, _tags))| {
            let containers: Vec<(String, String)> = definition
                .container_definitions()
                .iter()
                .map(|c| {
                    (
                        c.name().unwrap_or_default().to_string(),
                        c.image().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            let registered = definition
                .registered_at()
                .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok());
            entry(
                &listing,
                arn,
                &containers,
                registered,
                &state.task_definition,
                &runs,
            )
        })
        .collect())
}

/// `family` of `arn:aws:ecs:REGION:ACCOUNT:task-definition/family:3` (or of `family:3`).
fn family_of(task_definition: &str) -> &str {
    let name = task_definition
        .rsplit_once("task-definition/")
        .map_or(task_definition, |(_, name)| name);
    name.rsplit_once(':').map_or(name, |(family, _)| family)
}

/// The family's newest `limit` revisions (active ones: a deregistered revision cannot run again),
/// by revision number: every page is read and sorted here, since ListTaskDefinitions' `sort` is
/// not honoured everywhere (the emulator lists oldest first whatever it is asked).
async fn list_revisions(
    ecs: &aws_sdk_ecs::Client,
    family: &str,
    limit: u16,
) -> Result<Vec<String>> {
    let mut arns = Vec::new();
    let mut pages = ecs
        .list_task_definitions()
        .family_prefix(family)
        .sort(aws_sdk_ecs::types::SortOrder::Desc)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            shared::aws::aws_error(format!("failed to list the revisions of {family}"), &e)
        })?;
        // familyPrefix is a prefix: `web` also lists `web-admin`.
        arns.extend(
            page.task_definition_arns()
                .iter()
                .filter(|arn| family_of(arn) == family)
                .cloned(),
        );
    }
    arns.sort_by_key(|arn| {
        std::cmp::Reverse(
            arn.rsplit_once(':')
                .and_then(|(_, n)| n.parse::<u64>().ok())
                .unwrap_or(0),
        )
    });
    arns.truncate(usize::from(limit));
    Ok(arns)
}

/// One revision's record.
fn entry(
    listing: &Target,
    arn: &str,
    containers: &[(String, String)],
    registered: Option<String>,
    current: &str,
    runs: &[(String, String)],
) -> Record {
    let images = containers
        .iter()
        .filter_map(|(container, image)| {
            let digest = image.rsplit_once('@')?.1;
            Some(ContainerImage {
                container: container.clone(),
                image: image.clone(),
                digest: digest.to_string(),
            })
        })
        .collect();
    let artifact = EcsArtifact {
        task_definition: Some(arn.to_string()),
        images,
    };
    let mut record = listing.record(Action::Resolved, Some(&artifact), None);
    let envs: Vec<&str> = runs
        .iter()
        .filter(|(_, runs)| runs == arn)
        .map(|(env, _)| env.as_str())
        .collect();
    let extra = &mut record.extra;
    extra.insert("created".into(), registered.into());
    extra.insert(
        "containers".into(),
        containers
            .iter()
            .map(|(name, image)| json!({"container": name, "image": image}))
            .collect(),
    );
    extra.insert("envs".into(), envs.into());
    extra.insert("current".into(), (arn == current).into());
    record
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::Service;

    #[test]
    fn a_family_is_read_from_an_arn_or_a_name() {
        let arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/web-staging:12";
        assert_eq!(family_of(arn), "web-staging");
        assert_eq!(family_of("web:3"), "web");
        assert_eq!(family_of("web"), "web");
    }

    #[test]
    fn an_entry_pins_only_what_is_pinned_and_says_who_runs_it() {
        let listing = Target {
            pointer: None,
            ..Target::new(Service::Ecs, "c/web", "web")
        };
        let digest = format!("sha256:{}", "a".repeat(64));
        let containers = [
            (
                "app".to_string(),
                format!("1.dkr.ecr.us-east-1.amazonaws.com/web@{digest}"),
            ),
            ("sidecar".to_string(), "envoy:v1".to_string()),
        ];
        let runs = [
            ("staging".to_string(), "td:2".to_string()),
            ("prod".to_string(), "td:1".to_string()),
        ];
        let record = entry(&listing, "td:2", &containers, None, "td:1", &runs);
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["artifact"]["images"][0]["digest"], digest.as_str());
        assert_eq!(json["artifact"]["images"].as_array().unwrap().len(), 1);
        assert_eq!(json["containers"][1]["image"], "envoy:v1");
        assert_eq!(json["envs"], json!(["staging"]));
        assert_eq!(json["current"], false);
    }
}
