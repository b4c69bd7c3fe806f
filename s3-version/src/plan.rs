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
/// `None` when it cannot (multipart ETags and no common checksum).
#[must_use]
pub fn same_bytes(a: &S3Artifact, b: &S3Artifact) -> Option<bool> {
    if a.size != b.size {
        return Some(false);
    }
    if let (Some(x), Some(y)) = (&a.checksum, &b.checksum) {
        let algorithm = |c: &str| c.split_once(':').map(|(alg, _)| alg.to_string());
        // Full-object checksums only: a multipart upload's composite checksum ends in -N.
        if algorithm(x) == algorithm(y) && !x.contains('-') && !y.contains('-') {
            return Some(x == y);
        }
    }
    // A single-part ETag is the MD5 of the bytes; a multipart one (with `-N`) is not.
    if !a.etag.contains('-') && !b.etag.contains('-') {
        return Some(a.etag == b.etag);
    }
    None
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
            let algorithm = |c: &str| c.split_once(':').map(|(alg, _)| alg.to_string());
            let comparable = algorithm(x) == algorithm(y) && !x.contains('-') && !y.contains('-');
            if comparable && x != y {
                return None;
            }
            comparable && matches!(algorithm(x).as_deref(), Some("sha256" | "sha1"))
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
        Some(now) if same_bytes(source, now) == Some(true) => Step::Unchanged,
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
            same_bytes(a, b) == Some(true)
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
        (Some(n), Some(r)) => same(n, r) || same_bytes(n, r) == Some(true),
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

/// The byte ranges (first, last, inclusive) of a multipart copy of `size` bytes.
#[must_use]
pub fn parts(size: i64) -> Vec<(i64, i64)> {
    let part = PART_SIZE.max((size + MAX_PARTS - 1) / MAX_PARTS);
    let mut ranges = Vec::new();
    let mut first = 0;
    while first < size {
        let last = (first + part).min(size) - 1;
        ranges.push((first, last));
        first = last + 1;
    }
    ranges
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
    fn bytes_compare_by_checksum_then_etag() {
        assert_eq!(
            same_bytes(&art("a", "e1", 5, None), &art("b", "e1", 5, None)),
            Some(true)
        );
        assert_eq!(
            same_bytes(&art("a", "e1", 5, None), &art("b", "e2", 5, None)),
            Some(false)
        );
        assert_eq!(
            same_bytes(&art("a", "e1", 5, None), &art("b", "e1", 6, None)),
            Some(false)
        );
        assert_eq!(
            same_bytes(&art("a", "x-2", 5, None), &art("b", "y-3", 5, None)),
            None
        );
        assert_eq!(
            same_bytes(
                &art("a", "x-2", 5, Some("sha256:Q")),
                &art("b", "e", 5, Some("sha256:Q"))
            ),
            Some(true)
        );
    }

    fn answer(etag: &str, md5: bool, checksum: Option<&str>) -> CopyAnswer {
        CopyAnswer {
            version_id: "new".into(),
            etag: Some(etag.into()),
            etag_is_md5: md5,
            checksum: checksum.map(str::to_string),
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
