//! `history`: a state machine's published versions, newest first, each with its description (a
//! git commit, a build id), when it was published, its definition hash and the aliases that hold
//! it (and those where it is a canary); with --env, `current` marks the one that environment's
//! alias holds. The same listing as lambda-promote's `history`.

use crate::args::{HistoryArgs, HISTORY_HINT};
use crate::calls::Clients;
use crate::machine::MachineRef;
use crate::{alias_template, place};
use shared::config::Project;
use shared::engine::Target;
use shared::output::Output;
use shared::routing::Routing;
use shared::sfn::{Alias, Described};
use shared::{Action, Error, ExitCode, Record, Result, Service};

pub(crate) async fn run(
    args: HistoryArgs,
    project: Option<&Project>,
    clients: &Clients<'_>,
    out: &mut Output,
) -> Result<ExitCode> {
    if let (Some(project), Some(env)) = (project, &args.env) {
        project.position(env)?;
    }
    let machine = MachineRef::parse(&args.state_machine, HISTORY_HINT).map_err(Error::usage)?;
    let at = clients
        .get(args.env.as_deref(), machine.region.as_deref())
        .await?;
    let machine_arn = machine.arn(&at)?;
    if shared::sfn::describe(&at.client.sfn, &machine_arn)
        .await?
        .is_none()
    {
        return Err(Error::precondition(format!(
            "state machine {machine_arn} does not exist (in {})",
            place(&at)
        )));
    }
    let versions = shared::sfn::versions(&at.client.sfn, &machine_arn).await?;
    let aliases = shared::sfn::list_aliases(&at.client.sfn, &machine_arn).await?;
    let templates = alias_template(project);
    let order = project.map(|p| p.order.clone()).unwrap_or_default();
    let env_alias = args.env.as_deref().map(|env| templates.render(env));
    // --env asks which version that environment holds: an alias it does not have is named, not
    // listed as "holds none of them".
    if let (Some(alias), Some(env)) = (&env_alias, &args.env) {
        if !aliases.iter().any(|a| &a.name == alias) {
            return Err(Error::precondition(format!(
                "{machine} has no alias {alias} ({env})"
            )));
        }
    }
    let listing = Target {
        // A listing, not a pointer's state: no pointer, so no tool takes it for one.
        pointer: None,
        ..Target::new(Service::Stepfunctions, &machine.name, "")
            .env(args.env.as_deref())
            .region(at.region.as_deref())
    };
    for version in versions {
        let arn = shared::sfn::version_arn(&machine_arn, &version);
        // A version deleted between the listing and its read is left out.
        let Some(described) = shared::sfn::describe(&at.client.sfn, &arn).await? else {
            continue;
        };
        let mut record = entry(
            &listing,
            &machine_arn,
            &version,
            &described,
            &aliases,
            env_alias.as_deref(),
            |alias| templates.env_of_pointer(alias, &order),
        );
        record.account.clone_from(&at.account);
        out.record(&record)?;
    }
    Ok(ExitCode::Success)
}

/// One version's record: what it is and who holds it.
fn entry(
    listing: &Target,
    machine_arn: &str,
    version: &str,
    described: &Described,
    aliases: &[Alias],
    env_alias: Option<&str>,
    env_of: impl Fn(&str) -> Option<String>,
) -> Record {
    let holding: Vec<&str> = aliases
        .iter()
        .filter(|a| a.routing.version == version)
        .map(|a| a.name.as_str())
        .collect();
    let canary: Vec<&str> = aliases
        .iter()
        .filter(|a| a.routing.weights.contains_key(version))
        .map(|a| a.name.as_str())
        .collect();
    let artifact = shared::sfn::artifact(
        machine_arn,
        &Routing::plain(version),
        described.definition_sha256(),
    );
    let mut record = listing.record(Action::Resolved, Some(&artifact), None);
    let envs: Vec<String> = holding.iter().filter_map(|a| env_of(a)).collect();
    let extra = &mut record.extra;
    extra.insert("description".into(), described.description.clone().into());
    extra.insert("created".into(), described.created.clone().into());
    extra.insert("aliases".into(), holding.clone().into());
    extra.insert("envs".into(), envs.into());
    extra.insert("canary_aliases".into(), canary.into());
    if let Some(alias) = env_alias {
        extra.insert("current".into(), holding.contains(&alias).into());
    }
    record
}
