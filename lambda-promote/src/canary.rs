//! `canary`: weighted routing on one alias. Start sends a share of traffic to another version;
//! finish moves the alias to it; abort takes the weights off. Each step is one compare-and-swap
//! update of the alias, and its record can be rolled back.

use crate::args::CanaryArgs;
use crate::calls::{self, Clients};
use crate::function::FunctionRef;
use crate::plan::{self, CanaryStep};
use crate::{alias_template, existing_code_sha256, routing_of, Options, Pointer};
use shared::config::Project;
use shared::output::Output;
use shared::record::LambdaArtifact;
use shared::{Action, Error, ExitCode, Result};

pub(crate) async fn run(
    args: CanaryArgs,
    project: Option<&Project>,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    if let Some(project) = project {
        project.position(&args.env)?;
    }
    let step = match (&args.version, args.weight, args.finish, args.abort) {
        (Some(version), Some(percent), false, false) => CanaryStep::Start {
            version: version.clone(),
            percent,
        },
        (None, None, true, false) => CanaryStep::Finish,
        (None, None, false, true) => CanaryStep::Abort,
        _ => {
            return Err(Error::usage(
                "give --version N --weight PCT, or --finish, or --abort",
            ))
        }
    };
    let function = FunctionRef::parse(&args.function).map_err(Error::usage)?;
    let pointer = Pointer {
        function: function.id.clone(),
        alias: alias_template(project).render(&args.env),
        env: Some(args.env.clone()),
    };
    let at = clients
        .get(Some(&args.env), function.region.as_deref())
        .await?;

    let current = shared::lambda::get_alias(&at.client, &pointer.function, &pointer.alias)
        .await?
        .ok_or_else(|| {
            Error::precondition(format!(
                "{} has no alias {}: promote a version to {} first",
                pointer.function, pointer.alias, args.env
            ))
        })?;
    if let CanaryStep::Start { version, .. } = &step {
        if shared::lambda::code_sha256(&at.client, &pointer.function, version)
            .await?
            .is_none()
        {
            return Err(Error::usage(format!(
                "{} has no version {version}: publish it first",
                pointer.function
            )));
        }
    }
    let now = routing_of(&current);
    let decision = plan::canary(&pointer.name(), &step, &now, args.expect.as_deref())?;
    let main_sha = existing_code_sha256(&at, &pointer.function, &now.version).await?;
    let previous = current.artifact(main_sha.clone());

    let Some((next, action)) = decision else {
        out.record(&pointer.record(Action::Unchanged, &at, Some(&previous), Some(&previous)))?;
        return Ok(ExitCode::Success);
    };
    let next_sha = if next.version == now.version {
        main_sha
    } else {
        existing_code_sha256(&at, &pointer.function, &next.version).await?
    };
    let artifact = LambdaArtifact {
        version: next.version.clone(),
        code_sha256: next_sha,
        weights: next.weights.clone(),
    };
    if opts.dry_run {
        out.record(&pointer.planned(action, &at, Some(&artifact), Some(&previous)))?;
        return Ok(ExitCode::Success);
    }
    calls::update_alias(
        &at,
        &pointer.function,
        &pointer.alias,
        &next,
        current.revision_id.as_deref(),
    )
    .await?;
    tracing::info!("{}: {action}", pointer.name());
    out.record(&pointer.record(action, &at, Some(&artifact), Some(&previous)))?;
    Ok(ExitCode::Success)
}
