//! The decisions: whether two object versions hold the same bytes, whether a key must change, how
//! a large copy is split, and whether a rollback may proceed. Plain values in, decisions out.

use shared::record::S3Artifact;
use shared::{Error, Result};

/// The largest object CopyObject copies in one call: above it, multipart copy.
pub const SINGLE_COPY_LIMIT: i64 = 5 * 1024 * 1024 * 1024;
/// S3 allows at most this many parts.
const MAX_PARTS: i64 = 10_000;
/// Parts of 512 MiB: few calls, well inside S3's 5 MiB to 5 GiB per part.
const PART_SIZE: i64 = 512 * 1024 * 1024;

/// Whether two versions hold the same bytes: `Some(true)` or `Some(false)` when it can be told,
/// `None` when it cannot. `md5_etags`: both ETags are known to be the MD5 of the bytes (a
/// single-part object under no encryption or SSE-S3), so that different ETags mean different bytes.
///
/// The identity used, strongest first:
/// - a checksum of the same algorithm on both sides: equal values prove the same bytes, whether
///   full-object or composite (a checksum of the parts' checksums, `VALUE-N`: equal ones mean
///   equal parts). Different full-object values prove different bytes; different composite ones
///   prove nothing (the same bytes uploaded in other parts);
/// - equal ETags: the same MD5, the same parts' MD5s, or (SSE-KMS, SSE-C) the same stored object;
/// - different ETags prove different bytes only when both are MD5s: an SSE-KMS or SSE-C ETag is
///   not a digest of the bytes, and copying makes a new one.
#[must_use]
pub fn same_bytes(a: &S3Artifact, b: &S3Artifact, md5_etags: bool) -> Option<bool> {
    if a.size != b.size {
        return Some(false);
    }
    if let (Some(x), Some(y)) = (&a.checksum, &b.checksum) {
        if algorithm(x) == algorithm(y) {
            if x == y {
                return Some(true);
            }
            if !is_composite(x) && !is_composite(y) {
                return Some(false);
            }
        }
    }
    if a.etag == b.etag && !a.etag.is_empty() {
        return Some(true);
    }
    if md5_etags && !a.etag.contains('-') && !b.etag.contains('-') {
        return Some(false);
    }
    None
}

/// The algorithm of an `ALGORITHM:VALUE` checksum.
fn algorithm(checksum: &str) -> Option<&str> {
    checksum.split_once(':').map(|(algorithm, _)| algorithm)
}

/// A multipart upload's composite checksum ends in `-N` (its number of parts).
fn is_composite(checksum: &str) -> bool {
    checksum.contains('-')
}

/// What the bytes a streamed copy reads must be: the source version's size, and its checksum when
/// it is one of the whole object (a composite one is of parts this copy does not cut alike).
#[must_use]
pub fn stream_expect(source: &S3Artifact) -> shared::s3_stream::Expect {
    let full = source
        .checksum
        .as_deref()
        .filter(|c| !is_composite(c))
        .and_then(|c| c.split_once(':'));
    shared::s3_stream::Expect {
        length: u64::try_from(source.size).ok(),
        sha256_base64: full
            .filter(|(algorithm, _)| *algorithm == "sha256")
            .map(|(_, value)| value.to_string()),
        checksum: full
            .filter(|(algorithm, _)| *algorithm != "sha256")
            .map(|(algorithm, value)| (algorithm.to_string(), value.to_string())),
    }
}

/// Whether the version a streamed copy made holds the bytes it streamed: its size, and the
/// checksum S3 stores for it against the one the stream asked it to store (`streamed`:
/// `(algorithm, value)`, the whole object's, or a composite SHA-256 `VALUE-N`), a composite one
/// with or without its `-N` (S3 says it, the emulator's HeadObject leaves it out). `None`: S3
/// stores no checksum of that algorithm to compare.
#[must_use]
pub fn streamed_holds(
    written: &S3Artifact,
    size: u64,
    streamed: &(String, String),
) -> Option<bool> {
    if u64::try_from(written.size).ok() != Some(size) {
        return Some(false);
    }
    let (algorithm, value) = streamed;
    let stored = written
        .checksum
        .as_deref()?
        .strip_prefix(algorithm.as_str())?
        .strip_prefix(':')?;
    let bare = |c: &str| c.split('-').next().unwrap_or_default().to_string();
    Some(stored == value || bare(stored) == bare(value))
}

/// The checksum algorithm a copy asks S3 for: the source's own (so that the copy's checksum and
/// the source's compare, now and at every later promotion), or SHA-256 when the source has
/// none, so that the new version at least carries a digest that fixes its bytes for the next
/// hop. A copy in parts (below) copies the source's own parts, so a composite source checksum
/// gives an equal composite one.
#[must_use]
pub fn copy_checksum(source: &S3Artifact) -> &str {
    source
        .checksum
        .as_deref()
        .and_then(algorithm)
        .unwrap_or("sha256")
}

/// Whether a version is copied in parts: a multipart object (its ETag ends in `-N`) always, so
/// that the copy has the source's parts and with them its multipart ETag and composite checksum
/// (the only identity S3 keeps for it); anything above the single-copy limit too (which only a
/// multipart object can be).
#[must_use]
pub fn copies_in_parts(version: &S3Artifact) -> bool {
    version.etag.contains('-') || version.size > SINGLE_COPY_LIMIT
}

/// How S3 encrypts a version. A copy follows the target bucket's own setting (its default
/// encryption), not the source's, as it follows the bucket's storage class: both are the
/// environment's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Encryption {
    /// `AES256` (SSE-S3), `aws:kms`, `aws:kms:dsse`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sse: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
}

impl Encryption {
    /// Whether S3 said nothing about it (some S3-compatible servers, the emulator among them).
    #[must_use]
    pub fn is_unknown(&self) -> bool {
        self.sse.is_none() && self.kms_key_id.is_none()
    }

    /// Whether an ETag under this encryption can be the MD5 of the bytes: not under SSE-KMS.
    #[must_use]
    pub fn keeps_md5(&self) -> bool {
        !matches!(self.sse.as_deref(), Some("aws:kms" | "aws:kms:dsse"))
    }
}

/// What a copy answers about the version it wrote (CopyObject's result, or a multipart upload's
/// completion).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyAnswer {
    pub version_id: String,
    /// The new version's ETag, without its quotes.
    pub etag: Option<String>,
    /// Whether that ETag is the MD5 of the bytes: not under SSE-KMS or SSE-C, nor for a
    /// multipart upload.
    pub etag_is_md5: bool,
    /// The new version's checksum, as `ALGORITHM:VALUE`.
    pub checksum: Option<String>,
    /// How S3 encrypted it (the target bucket's default): for the record.
    pub encryption: Encryption,
}

/// The new version a copy of `source` made, when the copy's own answer proves it holds exactly
/// `source`'s bytes; `None` when only reading the new version back can tell.
///
/// The answer carries no size, and a read-back compares the size as well. So the answer stands
/// in for the read-back only through a digest that fixes the bytes, and so their number: an MD5
/// ETag equal to the source's, or an equal SHA checksum. A CRC alone does not fix the size, and
/// an answer that disagrees, or lacks the checksum the source has, is left to the read-back,
/// whose verdict (and record) is then exactly what it always was.
#[must_use]
pub fn copied(source: &S3Artifact, answer: &CopyAnswer) -> Option<S3Artifact> {
    let etag = answer.etag.as_ref()?;
    let md5_equal = answer.etag_is_md5
        && !etag.contains('-')
        && !source.etag.contains('-')
        && *etag == source.etag;
    let digest_equal = match (&source.checksum, &answer.checksum) {
        (None, _) => false,
        // The new version's checksum is missing from the answer: a read-back would show it.
        (Some(_), None) => return None,
        (Some(x), Some(y)) => {
            // Another algorithm or another value: the read-back decides.
            if x != y {
                return None;
            }
            // Equal composite SHA checksums fix every part, so the bytes and their number too.
            matches!(algorithm(x), Some("sha256" | "sha1"))
        }
    };
    (md5_equal || digest_equal).then(|| S3Artifact {
        version_id: answer.version_id.clone(),
        etag: etag.clone(),
        size: source.size,
        checksum: answer.checksum.clone(),
    })
}

/// What to do with a destination key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// It already holds these bytes: no write.
    Unchanged,
    /// Copy the source version on top.
    Copy,
}

/// Decide a promotion of `source` onto a key whose current version is `now`.
pub fn promote(
    name: &str,
    source: &S3Artifact,
    now: Option<&S3Artifact>,
    expect: Option<&str>,
) -> Result<Step> {
    if let Some(expected) = expect {
        if now.map(|n| n.version_id.as_str()) != Some(expected) {
            return Err(Error::precondition(format!(
                "{name} holds {}, not version {expected} as --expect says; nothing changed",
                now.map_or_else(
                    || "nothing".to_string(),
                    |n| format!("version {}", n.version_id)
                )
            )));
        }
    }
    Ok(match now {
        // Only a proof of the same bytes leaves the key as it is: `md5_etags` does not matter.
        Some(now) if same_bytes(source, now, false) == Some(true) => Step::Unchanged,
        _ => Step::Copy,
    })
}

/// Refuse to write into a bucket whose versioning is not enabled (its old content would be
/// lost), unless allowed.
pub fn check_versioning(bucket: &str, status: &str, allowed: bool) -> Result<()> {
    if status == "Enabled" || allowed {
        return Ok(());
    }
    Err(Error::precondition(format!(
        "bucket {bucket} has versioning {}: copying into it would lose the old content; enable \
         versioning, or pass --allow-unversioned",
        if status.is_empty() {
            "never enabled"
        } else {
            status
        }
    )))
}

/// How to undo a promotion of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undo {
    /// It already holds the old bytes (or, for a new key, is gone): nothing to do.
    Unchanged,
    /// Copy this old version on top (a new version with the old bytes; every version stays).
    CopyBack(String),
    /// The key did not exist before: hide it behind a delete marker (every version stays).
    Hide,
}

/// Decide a rollback: the key was changed from `restore` to `changed_to` (`None`: no object).
/// Only where it still holds `changed_to` is it moved back; anything else was moved since.
pub fn rollback(
    name: &str,
    now: Option<&S3Artifact>,
    changed_to: Option<&S3Artifact>,
    restore: Option<&S3Artifact>,
) -> Result<Undo> {
    // In a bucket without versioning every object is version "null": the id says nothing, the
    // bytes decide.
    let same = |a: &S3Artifact, b: &S3Artifact| {
        if a.version_id == "null" || b.version_id == "null" {
            same_bytes(a, b, false) == Some(true)
        } else {
            a.version_id == b.version_id
        }
    };
    let is = |a: Option<&S3Artifact>, b: Option<&S3Artifact>| match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => same(a, b),
        _ => false,
    };
    // The old bytes are back (a rollback ran before): a copy back makes a new version with them.
    let holds_restore = match (now, restore) {
        (None, None) => true,
        (Some(n), Some(r)) => same(n, r) || same_bytes(n, r, false) == Some(true),
        _ => false,
    };
    if is(now, changed_to) && !holds_restore {
        return match restore {
            // Overwritten in a bucket that keeps no versions: the old bytes are gone.
            Some(r)
                if r.version_id == "null" && changed_to.is_some_and(|c| c.version_id == "null") =>
            {
                Err(Error::precondition(format!(
                "{name}: the bucket keeps no versions, so the bytes it held before (etag {}, {} \
                 bytes) were overwritten by the promotion and cannot be restored; nothing changed",
                r.etag, r.size
                )))
            }
            Some(r) => Ok(Undo::CopyBack(r.version_id.clone())),
            None => Ok(Undo::Hide),
        };
    }
    if holds_restore {
        return Ok(Undo::Unchanged);
    }
    let show = |a: Option<&S3Artifact>| {
        a.map_or_else(
            || "no object".to_string(),
            |a| format!("version {}", a.version_id),
        )
    };
    Err(Error::precondition(format!(
        "{name} holds {}, not {} as the record says: it was changed since, so it is left as it is",
        show(now),
        show(changed_to)
    )))
}

/// The byte ranges of a copy in parts of a multipart source of `size` bytes whose first part is
/// `first_part` bytes of `count`: the source's own parts, so that the copy's multipart ETag and
/// composite checksum are the source's. Every SDK and the CLI upload in parts of one size (the
/// last one shorter); a layout that does not add up that way is not guessed at, and the copy
/// uses its own (`parts`). A wrong guess would cost only the identity, never a byte: the ranges
/// always cover the object exactly once.
#[must_use]
pub fn source_parts(size: i64, first_part: Option<i64>, count: Option<i32>) -> Vec<(i64, i64)> {
    match (first_part, count) {
        (Some(part), Some(count))
            if part > 0
                && count > 1
                && i64::from(count) <= MAX_PARTS
                && (i64::from(count) - 1) * part < size
                && size <= i64::from(count) * part
                && part <= MAX_PART =>
        {
            ranges(size, part)
        }
        _ => parts(size),
    }
}

/// S3's largest part.
const MAX_PART: i64 = 5 * 1024 * 1024 * 1024;

/// Consecutive ranges of `part` bytes (the last one shorter) covering `size` bytes.
fn ranges(size: i64, part: i64) -> Vec<(i64, i64)> {
    let mut ranges = Vec::new();
    let mut first = 0;
    while first < size {
        let last = (first + part).min(size) - 1;
        ranges.push((first, last));
        first = last + 1;
    }
    ranges
}

/// The byte ranges (first, last, inclusive) of a multipart copy of `size` bytes.
#[must_use]
pub fn parts(size: i64) -> Vec<(i64, i64)> {
    ranges(size, PART_SIZE.max((size + MAX_PARTS - 1) / MAX_PARTS))
}

/// One entry of a key's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub version_id: String,
    pub etag: Option<String>,
    pub size: Option<i64>,
    pub last_modified: Option<String>,
    /// LastModified as (seconds, nanoseconds), for ordering.
    pub modified: Option<(i64, u32)>,
    pub is_latest: bool,
    pub delete_marker: bool,
    /// Where S3's answer lists it, versions and delete markers together.
    pub position: usize,
}

/// A key's history in S3's order, newest first. The SDK hands versions and delete markers over
/// as two lists, and LastModified has whole seconds in S3's answers: a version and a delete
/// marker made in the same second tie on time. So: newest first by time; on a tie the current
/// entry (IsLatest) first; then the order in which S3's answer listed them, which is S3's own
/// order of the writes. (Some S3-compatible servers, the local emulator among them, list every
/// version before every delete marker: there, entries of one second other than the current one
/// cannot be ordered, and come versions first.)
pub fn newest_first(entries: &mut [Listed]) {
    entries.sort_by(|a, b| {
        b.modified
            .cmp(&a.modified)
            .then(b.is_latest.cmp(&a.is_latest))
            .then(a.position.cmp(&b.position))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn art(version: &str, etag: &str, size: i64, checksum: Option<&str>) -> S3Artifact {
        S3Artifact {
            version_id: version.into(),
            etag: etag.into(),
            size,
            checksum: checksum.map(str::to_string),
        }
    }

    #[test]
    fn a_streamed_copy_expects_the_sources_size_and_whole_object_checksum() {
        let e = stream_expect(&art("v", "e", 5, Some("sha256:abc=")));
        assert_eq!(
            (e.length, e.sha256_base64.as_deref(), e.checksum),
            (Some(5), Some("abc="), None)
        );
        let e = stream_expect(&art("v", "e", 5, Some("crc32:NhCmhg==")));
        assert_eq!(e.sha256_base64, None);
        assert_eq!(e.checksum, Some(("crc32".into(), "NhCmhg==".into())));
        // A composite checksum is of the source's parts, not of the bytes.
        let e = stream_expect(&art("v", "e-3", 5, Some("sha256:abc=-3")));
        assert_eq!((e.sha256_base64, e.checksum), (None, None));
        assert_eq!(stream_expect(&art("v", "e", 5, None)).length, Some(5));
    }

    #[test]
    fn a_streamed_copy_holds_its_bytes_when_the_stored_checksum_is_the_streams() {
        let written = |c: Option<&str>| art("w", "x-2", 9, c);
        let sha = ("sha256".to_string(), "abc=-2".to_string());
        assert_eq!(
            streamed_holds(&written(Some("sha256:abc=-2")), 9, &sha),
            Some(true)
        );
        // The emulator's HeadObject leaves the part count out.
        assert_eq!(
            streamed_holds(&written(Some("sha256:abc=")), 9, &sha),
            Some(true)
        );
        assert_eq!(
            streamed_holds(&written(Some("sha256:abd=")), 9, &sha),
            Some(false)
        );
        assert_eq!(
            streamed_holds(&written(Some("sha256:abc=")), 8, &sha),
            Some(false)
        );
        assert_eq!(streamed_holds(&written(Some("crc32:AAAA")), 9, &sha), None);
        assert_eq!(streamed_holds(&written(None), 9, &sha), None);
        // A CRC of the source's, kept whole.
        let crc = ("crc32".to_string(), "NhCmhg==".to_string());
        assert_eq!(
            streamed_holds(&written(Some("crc32:NhCmhg==")), 9, &crc),
            Some(true)
        );
        assert_eq!(
            streamed_holds(&written(Some("crc32:AAAAAA==")), 9, &crc),
            Some(false)
        );
        assert_eq!(
            streamed_holds(&written(Some("crc32c:NhCmhg==")), 9, &crc),
            None
        );
    }

    #[test]
    fn bytes_compare_by_checksum_then_etag() {
        let same = |a: &S3Artifact, b: &S3Artifact| same_bytes(a, b, true);
        assert_eq!(
            same(&art("a", "e1", 5, None), &art("b", "e1", 5, None)),
            Some(true)
        );
        assert_eq!(
            same(&art("a", "e1", 5, None), &art("b", "e2", 5, None)),
            Some(false)
        );
        assert_eq!(
            same(&art("a", "e1", 5, None), &art("b", "e1", 6, None)),
            Some(false)
        );
        assert_eq!(
            same(&art("a", "x-2", 5, None), &art("b", "y-3", 5, None)),
            None
        );
        assert_eq!(
            same(
                &art("a", "x-2", 5, Some("sha256:Q")),
                &art("b", "e", 5, Some("sha256:Q"))
            ),
            Some(true)
        );
        // Full-object checksums that differ: different bytes, whatever the ETags say.
        assert_eq!(
            same(
                &art("a", "e1", 5, Some("crc64nvme:A")),
                &art("b", "e1", 5, Some("crc64nvme:B"))
            ),
            Some(false)
        );
    }

    #[test]
    fn every_object_shape_has_an_identity_or_says_it_has_none() {
        // SSE-KMS: the copy's ETag is a new one, not an MD5. The checksum decides, and without
        // one nothing does: never "different".
        let kms = art("s", "kms-etag-a", 5, Some("crc64nvme:C"));
        let kms_copy = art("t", "kms-etag-b", 5, Some("crc64nvme:C"));
        assert_eq!(same_bytes(&kms, &kms_copy, false), Some(true));
        let bare = art("s", "kms-etag-a", 5, None);
        let bare_copy = art("t", "kms-etag-b", 5, Some("sha256:S"));
        assert_eq!(same_bytes(&bare, &bare_copy, false), None);
        // Different ETags prove different bytes only when both are MD5s.
        assert_eq!(
            same_bytes(&art("a", "e1", 5, None), &art("b", "e2", 5, None), false),
            None
        );
        // A multipart source and its copy in the same parts: equal composite checksums and
        // multipart ETags.
        let multipart = art("s", "m-2", 5, Some("sha256:P-2"));
        assert_eq!(
            same_bytes(&multipart, &art("t", "m-2", 5, Some("sha256:P-2")), false),
            Some(true)
        );
        assert_eq!(
            same_bytes(
                &art("s", "m-2", 5, None),
                &art("t", "m-2", 5, Some("sha256:P-2")),
                false
            ),
            Some(true)
        );
        // Composites of other parts prove nothing, either way.
        assert_eq!(
            same_bytes(&multipart, &art("t", "n-3", 5, Some("sha256:R-3")), true),
            None
        );
    }

    #[test]
    fn a_copy_asks_for_the_source_checksum_else_sha256() {
        assert_eq!(
            copy_checksum(&art("s", "e", 5, Some("crc64nvme:C"))),
            "crc64nvme"
        );
        assert_eq!(
            copy_checksum(&art("s", "m-2", 5, Some("sha256:P-2"))),
            "sha256"
        );
        assert_eq!(copy_checksum(&art("s", "e", 5, None)), "sha256");
        assert!(copies_in_parts(&art("s", "m-2", 5, None)));
        assert!(!copies_in_parts(&art("s", "e", 5, None)));
        assert!(copies_in_parts(&art("s", "e", SINGLE_COPY_LIMIT + 1, None)));
    }

    #[test]
    fn a_copy_in_parts_follows_the_source_parts() {
        const MIB: i64 = 1024 * 1024;
        // 8 MiB parts, the last one shorter: the source's own layout.
        let ranges = source_parts(20 * MIB, Some(8 * MIB), Some(3));
        assert_eq!(
            ranges,
            vec![
                (0, 8 * MIB - 1),
                (8 * MIB, 16 * MIB - 1),
                (16 * MIB, 20 * MIB - 1)
            ]
        );
        // A layout that does not add up, or none said: the copy's own parts.
        assert_eq!(
            source_parts(20 * MIB, Some(8 * MIB), Some(5)),
            parts(20 * MIB)
        );
        assert_eq!(source_parts(20 * MIB, None, None), parts(20 * MIB));
        assert_eq!(parts(20 * MIB), vec![(0, 20 * MIB - 1)]);
    }

    fn answer(etag: &str, md5: bool, checksum: Option<&str>) -> CopyAnswer {
        CopyAnswer {
            version_id: "new".into(),
            etag: Some(etag.into()),
            etag_is_md5: md5,
            checksum: checksum.map(str::to_string),
            encryption: Encryption::default(),
        }
    }

    #[test]
    fn a_copy_answer_replaces_the_read_back_only_when_it_proves_the_bytes() {
        // An MD5 ETag equal to the source's: the new version, with the source's size.
        assert_eq!(
            copied(&art("s", "e1", 5, None), &answer("e1", true, None)),
            Some(art("new", "e1", 5, None))
        );
        // The same checksum too: kept in the new version.
        assert_eq!(
            copied(
                &art("s", "e1", 5, Some("crc32:A")),
                &answer("e1", true, Some("crc32:A"))
            ),
            Some(art("new", "e1", 5, Some("crc32:A")))
        );
        // An equal SHA-256 proves the bytes without an MD5 ETag (SSE-KMS, a multipart source).
        assert_eq!(
            copied(
                &art("s", "x-2", 5, Some("sha256:Q")),
                &answer("k", false, Some("sha256:Q"))
            ),
            Some(art("new", "k", 5, Some("sha256:Q")))
        );
        // Left to the read-back: an ETag that is not an MD5 and only a CRC (the size unproven),
        assert_eq!(
            copied(
                &art("s", "e1", 5, Some("crc32:A")),
                &answer("e1", false, Some("crc32:A"))
            ),
            None
        );
        // any disagreement,
        assert_eq!(
            copied(&art("s", "e1", 5, None), &answer("e2", true, None)),
            None
        );
        assert_eq!(
            copied(
                &art("s", "e1", 5, Some("crc32:A")),
                &answer("e1", true, Some("crc32:B"))
            ),
            None
        );
        // An equal composite SHA-256 of a copy in the source's parts proves them.
        assert_eq!(
            copied(
                &art("s", "m-2", 5, Some("sha256:P-2")),
                &answer("m-2", false, Some("sha256:P-2"))
            ),
            Some(art("new", "m-2", 5, Some("sha256:P-2")))
        );
        // a checksum the answer lacks, a multipart ETag, or no ETag at all.
        assert_eq!(
            copied(
                &art("s", "e1", 5, Some("sha256:Q")),
                &answer("e1", true, None)
            ),
            None
        );
        assert_eq!(
            copied(&art("s", "x-2", 5, None), &answer("x-2", true, None)),
            None
        );
        let mut no_etag = answer("e1", true, None);
        no_etag.etag = None;
        assert_eq!(copied(&art("s", "e1", 5, None), &no_etag), None);
    }

    #[test]
    fn promote_and_expect() {
        let src = art("s", "e1", 5, None);
        assert_eq!(promote("k", &src, None, None).unwrap(), Step::Copy);
        assert_eq!(
            promote("k", &src, Some(&art("d", "e1", 5, None)), None).unwrap(),
            Step::Unchanged
        );
        assert_eq!(
            promote("k", &src, Some(&art("d", "e2", 5, None)), None).unwrap(),
            Step::Copy
        );
        assert_eq!(
            promote("k", &src, Some(&art("d", "e2", 5, None)), Some("x"))
                .unwrap_err()
                .exit_code()
                .code(),
            4
        );
        assert!(promote("k", &src, Some(&art("d", "e2", 5, None)), Some("d")).is_ok());
    }

    #[test]
    fn versioning_refusal() {
        assert!(check_versioning("b", "Enabled", false).is_ok());
        assert_eq!(
            check_versioning("b", "Suspended", false)
                .unwrap_err()
                .exit_code()
                .code(),
            4
        );
        assert!(check_versioning("b", "", false)
            .unwrap_err()
            .to_string()
            .contains("never enabled"));
        assert!(check_versioning("b", "", true).is_ok());
    }

    #[test]
    fn rollback_copies_back_or_hides() {
        let old = art("v1", "e1", 5, None);
        let new = art("v2", "e2", 5, None);
        assert_eq!(
            rollback("k", Some(&new), Some(&new), Some(&old)).unwrap(),
            Undo::CopyBack("v1".into())
        );
        assert_eq!(
            rollback("k", Some(&new), Some(&new), None).unwrap(),
            Undo::Hide
        );
        // After a rollback the key holds a new version with the old bytes: nothing more to do.
        assert_eq!(
            rollback("k", Some(&art("v3", "e1", 5, None)), Some(&new), Some(&old)).unwrap(),
            Undo::Unchanged
        );
        assert_eq!(
            rollback("k", None, Some(&new), None).unwrap(),
            Undo::Unchanged
        );
        let e = rollback("k", Some(&art("v9", "e9", 5, None)), Some(&new), Some(&old)).unwrap_err();
        assert_eq!(e.exit_code().code(), 4);
    }

    #[test]
    fn without_versions_the_old_bytes_cannot_be_restored() {
        // Every object of an unversioned bucket is version "null": the bytes tell them apart.
        let old = art("null", "e1", 5, None);
        let new = art("null", "e2", 5, None);
        let e = rollback("k", Some(&new), Some(&new), Some(&old)).unwrap_err();
        assert_eq!(e.exit_code().code(), 4);
        assert!(e.to_string().contains("cannot be restored"), "{e}");
        // The old bytes back (someone put them there): nothing to do.
        assert_eq!(
            rollback("k", Some(&old), Some(&new), Some(&old)).unwrap(),
            Undo::Unchanged
        );
        // A "null" version from before versioning was enabled survives a versioned write.
        assert_eq!(
            rollback(
                "k",
                Some(&art("v2", "e2", 5, None)),
                Some(&art("v2", "e2", 5, None)),
                Some(&old)
            )
            .unwrap(),
            Undo::CopyBack("null".into())
        );
    }

    #[test]
    fn history_in_one_second_keeps_s3s_order() {
        let entry = |id: &str, marker: bool, secs: i64, latest: bool, position: usize| Listed {
            version_id: id.into(),
            etag: None,
            size: None,
            last_modified: None,
            modified: Some((secs, 0)),
            is_latest: latest,
            delete_marker: marker,
            position,
        };
        // Put v1, delete, put v2, delete, all in one second; S3 lists them d2, v2, d1, v1. The
        // SDK's lists (versions, then markers) are the input order here.
        let mut entries = vec![
            entry("v2", false, 10, false, 1),
            entry("v1", false, 10, false, 3),
            entry("d2", true, 10, true, 0),
            entry("d1", true, 10, false, 2),
            entry("v0", false, 9, false, 4),
        ];
        newest_first(&mut entries);
        let order: Vec<&str> = entries.iter().map(|e| e.version_id.as_str()).collect();
        assert_eq!(order, ["d2", "v2", "d1", "v1", "v0"]);
        // Time first: a newer entry listed later still comes first.
        let mut entries = vec![
            entry("old", false, 5, false, 0),
            entry("new", true, 6, false, 1),
        ];
        newest_first(&mut entries);
        assert_eq!(entries[0].version_id, "new");
    }

    #[test]
    fn multipart_ranges_cover_every_byte_once() {
        let size = SINGLE_COPY_LIMIT + 3;
        let ranges = parts(size);
        assert_eq!(ranges.first().unwrap().0, 0);
        assert_eq!(ranges.last().unwrap().1, size - 1);
        assert!(ranges.windows(2).all(|w| w[0].1 + 1 == w[1].0));
        assert_eq!(ranges.len(), 11);
        // A huge object still fits in 10,000 parts.
        assert!(parts(5 * 1024 * 1024 * 1024 * 1024).len() <= 10_000);
    }
}
