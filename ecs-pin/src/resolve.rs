//! `resolve`: tags (or digests) to `resolved` records naming the digest and the pinned image.

use crate::args::ResolveArgs;
use crate::digests;
use crate::reads::Memos;
use crate::{tag_target, Clients};
use shared::image::ImageRef;
use shared::output::Output;
use shared::record::EcrArtifact;
use shared::{cli::report, Action, Error, ExitCode, Result};

pub(crate) async fn run(
    args: &ResolveArgs,
    clients: &Clients<'_>,
    out: &mut Output,
) -> Result<ExitCode> {
    let references = args
        .images
        .iter()
        .map(|i| ImageRef::parse(i).map_err(Error::usage))
        .collect::<Result<Vec<_>>>()?;
    let mut worst = ExitCode::Success;
    for (reference, found) in references
        .iter()
        .zip(digests::find(clients, &Memos::default(), None, &references).await?)
    {
        match found {
            Ok(found) => {
                let artifact = EcrArtifact {
                    digest: found.image.digest.clone(),
                    image: found.pinned.clone(),
                };
                let record = tag_target(
                    &reference.repository,
                    reference.tag.as_deref(),
                    found.at.region.as_deref(),
                )
                .record(Action::Resolved, Some(&artifact), None);
                out.record(&record)?;
            }
            Err(e) => {
                report(&e);
                worst = worst.worst(e.exit_code());
            }
        }
    }
    Ok(worst)
}
