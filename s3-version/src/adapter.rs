//! How S3 keeps the engine's promise (`shared::engine::Adapter`): a pointer is a key, an artifact
//! one object version (its id and its bytes); a move is a server-side copy of a version onto the
//! key (checked afterwards), or for an undo of a key that was new, a delete marker. The source is
//! read with its own environment's credentials, the key written with the target's; when those may
//! not read a source in another account or region, the copy is streamed through instead. Nothing is
//! ever deleted: the key's old content stays a version. Reading and deciding happen in `prepare`
//! (the bucket's versioning too: a bucket that would lose the old content is refused before any
//! write), the write alone in `apply`.

use crate::calls::{self, Located, Version, Versionings};
use crate::location::Location;
use crate::plan::{self, CopyAnswer, Encryption, Step, Undo};
use crate::{Clients, Pointer};
use shared::batch::Outcome;
use shared::engine::{Adapter, Change, Prepared, Target};
use shared::record::S3Artifact;
use shared::{Action, Error, Record, Result, Service};

/// One key to make hold one version of another key.
#[derive(Debug)]
pub(crate) struct Item {
    pub source: Location,
    /// The environment whose account the source is read in.
    pub source_env: Option<String>,
    /// The version to copy (None: the source's current one).
    pub version_id: Option<String>,
    /// What a record says that version holds: checked before copying.
    pub expected: Option<S3Artifact>,
    pub target: Pointer,
}

/// A decided write to one key.
#[derive(Debug)]
pub(crate) enum Move {
    /// A promotion: copy `version` of `source` onto the key.
    Promote {
        at: Located,
        /// Where the source is read: the source environment's credentials.
        from: Located,
        source: Location,
        version: Version,
        target: Pointer,
        /// What the key held before.
        now: Option<S3Artifact>,
    },
    /// A rollback: copy the key's own old `version` back on top.
    CopyBack {
        at: Located,
        version: Version,
        target: Pointer,
        now: Option<S3Artifact>,
    },
    /// A rollback of a key that did not exist: hide it behind a delete marker.
    Hide {
        at: Located,
        target: Pointer,
        now: Option<S3Artifact>,
    },
}

/// The S3 adapter of one run.
pub(crate) struct S3<'a> {
    pub clients: &'a Clients<'a>,
    /// `--expect`: the version the target key must hold now.
    pub expect: Option<&'a str>,
    /// `--allow-unversioned`: copy into a bucket that would lose the old content.
    pub allow_unversioned: bool,
    /// Each bucket's versioning, read once in the run.
    pub versionings: Versionings,
    /// `--dry-run`: a plan says which copy it would try.
    pub dry_run: bool,
}

impl<'a> S3<'a> {
    pub fn new(clients: &'a Clients<'a>) -> Self {
        S3 {
            clients,
            expect: None,
            allow_unversioned: false,
            versionings: Versionings::default(),
            dry_run: false,
        }
    }
}

/// A promotion's record: what the key holds, and the exact version it was copied from.
fn promoted(mut record: Record, source: &Location, version: &S3Artifact) -> Record {
    record.extra.insert(
        "source".into(),
        format!("{source}?versionId={}", version.version_id).into(),
    );
    record
}

/// How a promotion's bytes went across: `server-side` (CopyObject or UploadPartCopy with the
/// target's credentials), or `streamed` through this process (read with the source's, written
/// with the target's) when the target's credentials may not read the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    ServerSide,
    Streamed,
}

impl How {
    fn as_str(self) -> &'static str {
        match self {
            How::ServerSide => "server-side",
            How::Streamed => "streamed",
        }
    }
}

/// A promotion's record with how it copies (`copy`), and, when the source is in another
/// account or region than the target, where it was read (`copied_from`).
fn copied_how(
    mut record: Record,
    how: How,
    from: &Located,
    at: &Located,
    source: &Location,
    version: &S3Artifact,
) -> Record {
    record.extra.insert("copy".into(), how.as_str().into());
    if !from.same_place(at) {
        record.extra.insert(
            "copied_from".into(),
            serde_json::json!({
                "account": from.account,
                "region": from.region,
                "bucket": source.bucket,
                "key": source.key,
                "version_id": version.version_id,
            }),
        );
    }
    record
}

/// A record with how S3 encrypted the key's version, when it says (`encryption`: the target
/// bucket's default, which a copy follows).
fn encrypted(mut record: Record, encryption: &Encryption) -> Record {
    if !encryption.is_unknown() {
        record
            .extra
            .insert("encryption".into(), shared::record::to_value(encryption));
    }
    record
}

/// What a copy made: the new version, whether its ETag is an MD5, and its encryption; how it
/// was made, and for a streamed copy what was streamed (its size and the checksum S3 was asked
/// to store, `(algorithm, value)`), which the new version must hold.
struct Copied {
    artifact: S3Artifact,
    etag_is_md5: bool,
    encryption: Encryption,
    how: How,
    streamed: Option<(u64, (String, String))>,
}

/// Copy `version` of `source` (read where `from` points) onto `target` (written where `at`
/// points): what the key holds afterwards (the copy's own answer when it proves the bytes, else
/// the new version read back). The copy is server-side, with the target's credentials; when
/// they may not read the source (403) and `stream` allows it (the source is another account's
/// or region's), the bytes are streamed instead (`calls::streamed_copy`). `Err`: nothing was
/// written (`gone` says why when the version no longer exists). A copy that was made but cannot
/// be read back comes with the error, and with the version as the copy answered it: the change
/// happened, and a rollback needs its version id.
async fn copy(
    at: &Located,
    from: &Located,
    (source, version): (&Location, &Version),
    target: &Location,
    stream: bool,
    gone: impl FnOnce() -> String,
) -> Result<(Copied, Option<Error>)> {
    let (answer, how, streamed) = match calls::copy(at, from, source, version, target).await? {
        calls::Answer::Copied(answer) => (answer, How::ServerSide, None),
        calls::Answer::NoSuchVersion => return Err(Error::precondition(gone())),
        calls::Answer::Refused(e) if stream => {
            shared::cli::note(&format!(
                "{target}: the target's credentials may not read {source} ({e}): streaming it \
                 (read with the source's credentials, written with the target's)"
            ));
            let written = calls::streamed_copy(at, from, source, version, target)
                .await?
                .ok_or_else(|| Error::precondition(gone()))?;
            let answer = CopyAnswer {
                version_id: written
                    .version_id
                    .clone()
                    .unwrap_or_else(|| "null".to_string()),
                etag: written
                    .e_tag
                    .as_deref()
                    .map(|e| e.trim_matches('"').to_string()),
                etag_is_md5: false,
                checksum: None,
                encryption: Encryption::default(),
            };
            (
                answer,
                How::Streamed,
                Some((written.bytes, written.checksum)),
            )
        }
        calls::Answer::Refused(e) => return Err(e),
    };
    if streamed.is_none() {
        if let Some(artifact) = plan::copied(&version.artifact, &answer) {
            return Ok((
                Copied {
                    artifact,
                    etag_is_md5: answer.etag_is_md5,
                    encryption: answer.encryption,
                    how,
                    streamed,
                },
                None,
            ));
        }
    }
    let new_version = &answer.version_id;
    let as_answered = |streamed| Copied {
        artifact: answered(&version.artifact, &answer),
        etag_is_md5: false,
        encryption: answer.encryption.clone(),
        how,
        streamed,
    };
    Ok(match calls::head(at, target, Some(new_version)).await {
        Ok(Some(read)) => (
            Copied {
                artifact: read.artifact,
                etag_is_md5: read.etag_is_md5,
                encryption: read.encryption,
                how,
                streamed,
            },
            None,
        ),
        Ok(None) => (
            as_answered(streamed),
            Some(Error::Aws {
                doing: format!("checking the copy onto {target}"),
                message: format!("version {new_version} cannot be read back"),
            }),
        ),
        Err(e) => (as_answered(streamed), Some(e)),
    })
}

/// The version a copy made, as far as its answer says.
fn answered(source: &S3Artifact, answer: &CopyAnswer) -> S3Artifact {
    S3Artifact {
        version_id: answer.version_id.clone(),
        etag: answer.etag.clone().unwrap_or_default(),
        size: source.size,
        checksum: answer.checksum.clone(),
    }
}

/// The records of a write that was made, and the error that followed it, if any.
fn made(record: Record, error: Option<Error>) -> Outcome {
    match error {
        None => Ok(vec![record]).into(),
        Some(e) => Outcome::partial(vec![record], e),
    }
}

impl Adapter for S3<'_> {
    const SERVICES: &'static [Service] = &[Service::S3];
    type Item = Item;
    type Move = Move;
    type Pointer = Pointer;
    type Artifact = S3Artifact;

    async fn prepare(&self, _target: &Target, item: Item) -> Result<Prepared<Move>> {
        let Item {
            source,
            source_env,
            version_id,
            expected,
            target,
        } = item;
        let source_at = self.clients.get(source_env.as_deref(), None).await?;
        let at = self.clients.get(target.env.as_deref(), None).await?;
        let Some(version) = calls::head(&source_at, &source, version_id.as_deref()).await? else {
            let missing = match &version_id {
                Some(v) => format!("{source} has no version {v}; nothing changed"),
                None => format!("{source} does not exist; nothing to promote"),
            };
            return Err(calls::not_found(&source_at, &source, missing).await);
        };
        if let Some(expected) = &expected {
            // One version against what a record says of it: a version's ETag never changes, so
            // any difference is one, whatever kind of ETag it is.
            if plan::same_bytes(expected, &version.artifact, true) == Some(false) {
                return Err(Error::precondition(format!(
                    "{source} version {} is not what the record says (etag {}, {} bytes); nothing changed",
                    expected.version_id, expected.etag, expected.size
                )));
            }
        }
        let location = &target.location;
        let current = calls::head(&at, location, None).await?;
        let now = current.as_ref().map(|v| v.artifact.clone());
        let step = plan::promote(
            &location.to_string(),
            &version.artifact,
            now.as_ref(),
            self.expect,
        )?;
        let pointer = target.target(at.region.as_deref());
        if let (Step::Unchanged, Some(current)) = (&step, &current) {
            return Ok(Prepared::Settled(vec![encrypted(
                promoted(
                    pointer.record(Action::Unchanged, Some(&current.artifact), now.as_ref()),
                    &source,
                    &version.artifact,
                ),
                &current.encryption,
            )]));
        }
        if let Some(current) = &current {
            if plan::same_bytes(&version.artifact, &current.artifact, false).is_none() {
                // Nothing S3 stores compares: no common checksum, and ETags that are not MD5s.
                tracing::warn!(
                    "{location}: cannot tell whether it holds the bytes of {source} version {} \
                     (no common checksum, and ETags that are not MD5s): copying",
                    version.artifact.version_id
                );
            }
        }
        // Only a write can lose the key's old content, so only a write (or a dry run of one, to
        // report the refusal) needs the bucket's versioning; it is read once per bucket in a run.
        let status = self.versionings.get(&at, &location.bucket).await?;
        plan::check_versioning(&location.bucket, &status, self.allow_unversioned)?;
        if status != "Enabled" && now.is_some() {
            // Said before the write: what it overwrites is gone for good.
            tracing::warn!(
                "{location}: bucket {} keeps no versions (--allow-unversioned): this copy \
                 overwrites the key's bytes, and a rollback cannot bring them back",
                location.bucket
            );
        }
        let planned = copied_how(
            promoted(
                pointer.planned(Action::Promoted, Some(&version.artifact), now.as_ref()),
                &source,
                &version.artifact,
            ),
            How::ServerSide,
            &source_at,
            &at,
            &source,
            &version.artifact,
        );
        if self.dry_run && !source_at.same_place(&at) {
            shared::cli::note(&format!(
                "{location}: would try a server-side copy of {source} version {} with the \
                 target's credentials, and stream it (read with the source's credentials) if \
                 they may not read it (dry run: nothing copied)",
                version.artifact.version_id
            ));
        }
        Ok(Prepared::to(
            Move::Promote {
                at,
                from: source_at,
                source,
                version,
                target,
                now,
            },
            planned,
        ))
    }

    async fn apply(&self, write: Move) -> Outcome {
        match write {
            Move::Promote {
                at,
                from,
                source,
                version,
                target,
                now,
            } => {
                let location = &target.location;
                let gone = || {
                    format!(
                        "{source} version {} no longer exists; nothing changed",
                        version.artifact.version_id
                    )
                };
                let stream = !from.same_place(&at);
                let copied = copy(&at, &from, (&source, &version), location, stream, gone).await;
                let (copied, error) = match copied {
                    Ok(copied) => copied,
                    Err(e) => return Err(e).into(),
                };
                let record = copied_how(
                    encrypted(
                        promoted(
                            target.target(at.region.as_deref()).record(
                                Action::Promoted,
                                Some(&copied.artifact),
                                now.as_ref(),
                            ),
                            &source,
                            &version.artifact,
                        ),
                        &copied.encryption,
                    ),
                    copied.how,
                    &from,
                    &at,
                    &source,
                    &version.artifact,
                );
                let md5_etags = version.etag_is_md5 && copied.etag_is_md5;
                let Copied {
                    artifact: copied,
                    streamed,
                    ..
                } = copied;
                // A streamed copy's bytes were checked against the source's as they were read;
                // the new version must hold them (the checksum S3 stores for it).
                let holds = streamed
                    .as_ref()
                    .and_then(|(size, checksum)| plan::streamed_holds(&copied, *size, checksum));
                let error = error.or_else(|| match holds.or_else(|| plan::same_bytes(
                    &version.artifact,
                    &copied,
                    md5_etags,
                )) {
                    Some(true) => None,
                    None => {
                        tracing::warn!("{location}: sizes match, but neither ETags nor checksums can prove the copy identical");
                        None
                    }
                    Some(false) => Some(Error::Aws {
                        doing: format!(
                            "checking the copy of {source}?versionId={} onto {location}",
                            version.artifact.version_id
                        ),
                        message: format!(
                            "the copy (version {}: etag {}, {} bytes) does not match the source (etag {}, {} bytes)",
                            copied.version_id,
                            copied.etag,
                            copied.size,
                            version.artifact.etag,
                            version.artifact.size
                        ),
                    }),
                });
                made(record, error)
            }
            Move::CopyBack {
                at,
                version,
                target,
                now,
            } => {
                let location = &target.location;
                let gone = || {
                    format!(
                        "{location} version {} no longer exists: it cannot be copied back",
                        version.artifact.version_id
                    )
                };
                let copied = copy(&at, &at, (location, &version), location, false, gone).await;
                let (copied, error) = match copied {
                    Ok(copied) => copied,
                    Err(e) => return Err(e).into(),
                };
                tracing::info!("{location}: rolled back");
                let record = encrypted(
                    target.target(at.region.as_deref()).record(
                        Action::RolledBack,
                        Some(&copied.artifact),
                        now.as_ref(),
                    ),
                    &copied.encryption,
                );
                made(record, error)
            }
            Move::Hide { at, target, now } => match calls::hide(&at, &target.location).await {
                Ok(()) => {
                    tracing::info!("{}: rolled back", target.location);
                    let record = target.target(at.region.as_deref()).record(
                        Action::RolledBack,
                        None,
                        now.as_ref(),
                    );
                    Ok(vec![record]).into()
                }
                Err(e) => Err(e).into(),
            },
        }
    }

    fn change_of(&self, record: &Record, origin: &str) -> Result<Option<(Target, Pointer)>> {
        let location = Location::from_resource(&record.resource)
            .map_err(|e| Error::bad_input(origin, format!("`resource`: {e}")))?;
        let pointer = Pointer {
            location,
            env: record.env.clone(),
        };
        Ok(Some((pointer.target(record.region.as_deref()), pointer)))
    }

    fn artifact(
        &self,
        _record: &Record,
        value: &serde_json::Value,
    ) -> std::result::Result<S3Artifact, String> {
        serde_json::from_value(value.clone())
            .map_err(|e| format!("an s3 artifact {{\"version_id\", \"etag\", \"size\"}}: {e}"))
    }

    async fn prepare_undo(&self, change: Change<Pointer, S3Artifact>) -> Result<Prepared<Move>> {
        let Change {
            pointer: target,
            changed_to,
            restore,
            ..
        } = change;
        let at = self.clients.get(target.env.as_deref(), None).await?;
        let location = &target.location;
        let now = calls::head(&at, location, None).await?.map(|v| v.artifact);
        let step = plan::rollback(
            &location.to_string(),
            now.as_ref(),
            changed_to.as_ref(),
            restore.as_ref(),
        )?;
        let pointer = target.target(at.region.as_deref());
        let planned = pointer.planned(Action::RolledBack, restore.as_ref(), now.as_ref());
        let write = match step {
            Undo::Unchanged => {
                return Ok(Prepared::Settled(vec![pointer.record(
                    Action::Unchanged,
                    now.as_ref(),
                    now.as_ref(),
                )]))
            }
            Undo::CopyBack(version_id) => {
                // The record's `previous` is what a single copy needs (its id, size and
                // checksum), and a missing version fails the copy itself. A copy in parts must
                // restate the headers and metadata: only there is the old version read.
                let version = match restore {
                    Some(restore)
                        if restore.version_id == version_id
                            && !plan::copies_in_parts(&restore) =>
                    {
                        Version::recorded(restore)
                    }
                    _ => calls::head(&at, location, Some(&version_id))
                        .await?
                        .ok_or_else(|| {
                            Error::precondition(format!(
                                "{location} version {version_id} no longer exists: it cannot be copied back"
                            ))
                        })?,
                };
                Move::CopyBack {
                    at,
                    version,
                    target,
                    now,
                }
            }
            Undo::Hide => Move::Hide { at, target, now },
        };
        Ok(Prepared::to(write, planned))
    }
}
