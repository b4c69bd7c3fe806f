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
    let ecr = reference.ecr();
    let at = &clients
        .get(None, ecr.as_ref().map(|e| e.region.as_str()))
        .await?;
    let account = ecr.map(|e| e.account);
    // The image and what the tag names now are in one repository: one call reads both.
    let source_id = digests::image_id(&reference);
    let tag_id = ImageId::Tag(args.tag.clone());
    let ids = if source_id == tag_id {
        vec![source_id.clone()]
    } else {
        vec![source_id.clone(), tag_id]
    };
    let mut images = shared::ecr::get_images(
        &at.client.ecr,
        account.as_deref(),
        &reference.repository,
        &ids,
    )
    .await?
    .into_iter();
    let image = images.next().flatten();
    let current = match images.next() {
        Some(current) => current,
        None => image.clone(),
    };
    let source = digests::found(&reference, &source_id, image, at)?;

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
