//! `tag`: make a tag name an image's digest by putting the image's manifest back under the tag.
//! No layer is pulled or pushed; the record keeps what the tag named before, so it can be undone.

use crate::args::TagArgs;
use crate::calls;
use crate::digests;
use crate::{Clients, Options};
use shared::ecr::{registry_host, ImageId};
use shared::image::ImageRef;
use shared::output::Output;
use shared::record::{to_value, EcrArtifact};
use shared::{Action, Error, ExitCode, Record, Result, Service};

pub(crate) async fn run(
    args: &TagArgs,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    let reference = ImageRef::parse(&args.image).map_err(Error::usage)?;
    let source = digests::find(clients, None, std::slice::from_ref(&reference))
        .await?
        .into_iter()
        .next()
        .unwrap_or_else(|| Err(Error::usage("the image was not looked up")))?;
    let account = reference.ecr().map(|e| e.account);
    let at = &source.at;
    let current = shared::ecr::get_images(
        &at.client.ecr,
        account.as_deref(),
        &reference.repository,
        &[ImageId::Tag(args.tag.clone())],
    )
    .await?
    .pop()
    .flatten();

    let host = registry_host(
        &source.image.registry_id,
        at.region.as_deref().unwrap_or("us-east-1"),
    );
    let artifact = |digest: &str| EcrArtifact {
        digest: digest.to_string(),
        image: reference.pinned(&host, digest),
    };
    let after = artifact(&source.image.digest);
    let before = current.as_ref().map(|image| artifact(&image.digest));

    let mut record = Record::new(Service::Ecr, Action::Promoted, &reference.repository);
    record.region.clone_from(&at.region);
    record.pointer = Some(args.tag.clone());
    record.artifact = Some(to_value(&after));
    record.previous = before.as_ref().map(to_value);

    if before.as_ref() == Some(&after) {
        record.action = Action::Unchanged;
    } else if opts.dry_run {
        record = record.into_planned(Action::Promoted);
    } else {
        calls::put_tag(
            at,
            account.as_deref(),
            &reference.repository,
            &source.image,
            &args.tag,
        )
        .await?;
        tracing::info!(
            "{}: tag {} now names {}",
            reference.repository,
            args.tag,
            after.digest
        );
    }
    out.record(&record)?;
    Ok(ExitCode::Success)
}
