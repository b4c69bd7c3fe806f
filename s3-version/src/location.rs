//! LOCATION arguments: `s3://BUCKET/KEY` (or `s3://BUCKET` where a bucket is meant).

use std::fmt;

/// One object key in one bucket.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    pub bucket: String,
    pub key: String,
}

impl Location {
    /// Parse `s3://BUCKET/KEY`.
    pub fn parse(text: &str) -> Result<Location, String> {
        let (bucket, key) = split(text)?;
        if key.is_empty() {
            return Err(format!("{text:?} names no key: expected s3://BUCKET/KEY"));
        }
        Ok(Location {
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }

    /// `BUCKET/KEY`, a record's `resource`.
    #[must_use]
    pub fn resource(&self) -> String {
        format!("{}/{}", self.bucket, self.key)
    }

    /// From a record's `resource` (`BUCKET/KEY`).
    pub fn from_resource(resource: &str) -> Result<Location, String> {
        Location::parse(&format!("s3://{resource}"))
    }
}

/// Parse `s3://BUCKET` (a trailing `/` allowed).
pub fn parse_bucket(text: &str) -> Result<String, String> {
    let (bucket, key) = split(text)?;
    if key.is_empty() {
        Ok(bucket.to_string())
    } else {
        Err(format!("{text:?} names a key: expected s3://BUCKET"))
    }
}

fn split(text: &str) -> Result<(&str, &str), String> {
    let rest = text
        .strip_prefix("s3://")
        .ok_or_else(|| format!("{text:?} is not an S3 location: expected s3://BUCKET/KEY"))?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    // Today's rules (3 to 63 lowercase letters, digits, `.` and `-`), and what us-east-1
    // accepted before March 2018 (up to 255, capitals and `_` too): such buckets still exist.
    let valid = (3..=255).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_');
    if !valid {
        return Err(format!(
            "{text:?}: {bucket:?} is not a bucket name (3 to 63 lowercase letters, digits, `.` and \
             `-`; or, for a bucket made in us-east-1 before 2018, up to 255 with capitals and `_`)"
        ));
    }
    Ok((bucket, key))
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// A copy source for CopyObject / UploadPartCopy: `BUCKET/KEY?versionId=V`, the key
/// percent-encoded (S3 decodes it; spaces, `?`, `+` and non-ASCII would otherwise be misread).
#[must_use]
pub fn copy_source(location: &Location, version_id: &str) -> String {
    let mut key = String::with_capacity(location.key.len());
    for byte in location.key.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                key.push(char::from(byte))
            }
            other => key.push_str(&format!("%{other:02X}")),
        }
    }
    format!("{}/{key}?versionId={version_id}", location.bucket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let l = Location::parse("s3://orders-artifacts/prod/web.zip").unwrap();
        assert_eq!(
            (l.bucket.as_str(), l.key.as_str()),
            ("orders-artifacts", "prod/web.zip")
        );
        assert_eq!(l.resource(), "orders-artifacts/prod/web.zip");
        assert_eq!(
            Location::from_resource("orders-artifacts/prod/web.zip").unwrap(),
            l
        );
        assert_eq!(l.to_string(), "s3://orders-artifacts/prod/web.zip");
        assert!(Location::parse("s3://bucket").is_err());
        assert!(Location::parse("https://bucket/key").is_err());
        // Legacy us-east-1 names are buckets too; anything else is not.
        assert_eq!(
            Location::parse("s3://Legacy_Bucket.Name/key")
                .unwrap()
                .bucket,
            "Legacy_Bucket.Name"
        );
        assert!(Location::parse("s3://no spaces/key").is_err());
        assert!(Location::parse("s3://ab/key").is_err());
        assert!(Location::parse(&format!("s3://{}/key", "b".repeat(256))).is_err());
        assert_eq!(
            parse_bucket("s3://orders-artifacts/").unwrap(),
            "orders-artifacts"
        );
        assert!(parse_bucket("s3://orders-artifacts/key").is_err());
    }

    #[test]
    fn copy_sources_encode_the_key() {
        let l = Location::parse("s3://b-b-b/dir/a b+c?.zip").unwrap();
        assert_eq!(
            copy_source(&l, "v1"),
            "b-b-b/dir/a%20b%2Bc%3F.zip?versionId=v1"
        );
    }
}
