//! `tag`: make a tag name an image's digest by putting the image's manifest back under the tag.
//! No layer is pulled or pushed; the record keeps what the tag named before, so it can be undone.
//! The move goes through the engine (dry run, journal, an `error` record on failure), and the
//! adapter reads the image and the tag in one call.

use crate::adapter::{EcsPin, Item};
use crate::args::TagArgs;
use crate::{tag_target, Clients, Options};
use shared::engine::{self, Job};
use shared::image::ImageRef;
use shared::output::Output;
use shared::{Error, ExitCode, Result};

pub(crate) async fn run(
    args: &TagArgs,
    clients: &Clients<'_>,
    opts: Options,
    out: &mut Output,
) -> Result<ExitCode> {
    let image = ImageRef::parse(&args.image).map_err(Error::usage)?;
    let region = image.ecr().map(|e| e.region);
    let job = Job::new(
        tag_target(&image.repository, Some(&args.tag), region.as_deref()),
        Ok(Item::Tag {
            image,
            tag: args.tag.clone(),
        }),
    );
    engine::promote_one(&EcsPin::new(clients, opts), job, opts, out).await
}
