//! Image references: `REPO:TAG`, `REPO@sha256:...`, or a full URI with a registry host. Parsing
//! is pure; an ECR host (`ACCOUNT.dkr.ecr.REGION.amazonaws.com`) tells which account and region
//! to ask, and only such a host is ECR. ecs-pin resolves them; cfg-diff compares what two environments' services run;
//! `placement` decides whether an image must be copied into an environment's own registry (ecs-pin's
//! containers, lambda-promote's image functions).

use std::fmt;

/// An image as a task definition or a command line names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    /// The registry host, when the reference names one.
    pub registry: Option<String>,
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:<64 hex>`
    pub digest: Option<String>,
}

/// The account and region of an ECR registry host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EcrRegistry {
    pub account: String,
    pub region: String,
}

impl ImageRef {
    /// Parse a reference. With neither tag nor digest, the tag is `latest`, as with docker.
    pub fn parse(text: &str) -> Result<ImageRef, String> {
        let bad = |why: &str| format!("{text:?} is not an image reference ({why})");
        if text.is_empty() || text.chars().any(char::is_whitespace) {
            return Err(bad(
                "expected REPO:TAG, REPO@sha256:DIGEST or a full image URI",
            ));
        }
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => {
                if !is_digest(digest) {
                    return Err(bad(
                        "a digest is sha256: followed by 64 lowercase hex digits",
                    ));
                }
                (rest, Some(digest.to_string()))
            }
            None => (text, None),
        };
        // The first path component is a registry host if it looks like one (a dot or a port).
        let (registry, path) = match rest.split_once('/') {
            Some((host, path))
                if host.contains('.') || host.contains(':') || host == "localhost" =>
            {
                (Some(host.to_string()), path)
            }
            _ => (None, rest),
        };
        let (repository, tag) = match path.rsplit_once(':') {
            Some((repo, tag)) => (repo, Some(tag.to_string())),
            None => (path, None),
        };
        if repository.is_empty()
            || !repository
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c))
        {
            return Err(bad(
                "a repository name has lowercase letters, digits, `.`, `_`, `-` and `/`",
            ));
        }
        if let Some(tag) = &tag {
            if tag.is_empty()
                || tag.len() > 128
                || !tag
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            {
                return Err(bad("a tag has up to 128 letters, digits, `.`, `_` and `-`"));
            }
        }
        let tag = match (&tag, &digest) {
            (None, None) => Some("latest".to_string()),
            _ => tag,
        };
        Ok(ImageRef {
            registry,
            repository: repository.to_string(),
            tag,
            digest,
        })
    }

    /// The account and region, when the registry is an ECR registry: exactly
    /// `ACCOUNT.dkr.ecr.REGION.amazonaws.com`, or `….amazonaws.com.cn` in the China partition.
    #[must_use]
    pub fn ecr(&self) -> Option<EcrRegistry> {
        let host = self.registry.as_deref()?;
        let parts: Vec<&str> = host.split('.').collect();
        let (account, region) = match parts.as_slice() {
            [account, "dkr", "ecr", region, "amazonaws", "com"]
            | [account, "dkr", "ecr", region, "amazonaws", "com", "cn"] => (*account, *region),
            _ => return None,
        };
        let valid = account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && !region.is_empty();
        valid.then(|| EcrRegistry {
            account: account.to_string(),
            region: region.to_string(),
        })
    }

    /// Whether the image is in ECR. Only an ECR registry host is ECR: a reference without a
    /// host (`nginx:1.25`, `datadog/agent:7`) is Docker Hub's, as docker reads it, even where
    /// the account has a repository of the same name (a mirror is named by its own host).
    #[must_use]
    pub fn is_ecr(&self) -> bool {
        self.ecr().is_some()
    }

    /// The reference by its own digest, without its tag (`REPO:TAG@DIGEST` names the digest).
    #[must_use]
    pub fn by_own_digest(&self) -> Option<String> {
        let digest = self.digest.as_ref()?;
        Some(match &self.registry {
            Some(host) => format!("{host}/{}@{digest}", self.repository),
            None => format!("{}@{digest}", self.repository),
        })
    }

    /// The same image pinned by `digest`, on `registry` when this reference names none.
    #[must_use]
    pub fn pinned(&self, registry: &str, digest: &str) -> String {
        let host = self.registry.as_deref().unwrap_or(registry);
        format!("{host}/{}@{digest}", self.repository)
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(registry) = &self.registry {
            write!(f, "{registry}/")?;
        }
        f.write_str(&self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// `sha256:` and 64 lowercase hex digits.
#[must_use]
pub fn is_digest(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Where a container's image must be for the target environment to run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Pinned as it is: not ECR's, in the target's own registry already, or in the registry
    /// every environment shares.
    Keep,
    /// Copied into the target environment's own registry (the same repository name there), and
    /// pinned there by the same digest.
    Copy {
        /// The source registry's account and region.
        account: String,
        region: String,
        repository: String,
    },
}

/// Decide where `image` (pinned by digest) must be for a target environment whose own registry
/// is `target` (its account and region; `None`: not known, so nothing is copied), when promote.toml
/// names a `shared` registry (account and region) or none.
#[must_use]
pub fn placement(
    image: &str,
    target: Option<(&str, &str)>,
    shared: Option<(&str, &str)>,
) -> Placement {
    let Some((reference, ecr)) = ImageRef::parse(image)
        .ok()
        .and_then(|r| r.ecr().map(|e| (r, e)))
    else {
        return Placement::Keep;
    };
    let here = (ecr.account.as_str(), ecr.region.as_str());
    match target {
        Some(target) if target != here && shared != Some(here) => Placement::Copy {
            account: ecr.account,
            region: ecr.region,
            repository: reference.repository,
        },
        _ => Placement::Keep,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:381666a5566e2ea9348d7db79c60518c422f94e56a69610ff1632dae9f22df28";

    #[test]
    fn short_forms() {
        let r = ImageRef::parse("orders/web:v1").unwrap();
        assert_eq!(
            (
                r.registry,
                r.repository.as_str(),
                r.tag.as_deref(),
                r.digest
            ),
            (None, "orders/web", Some("v1"), None)
        );
        let r = ImageRef::parse(&format!("web@{D}")).unwrap();
        assert_eq!((r.tag.as_deref(), r.digest.as_deref()), (None, Some(D)));
        let both = ImageRef::parse(&format!("reg.example/web:v1@{D}")).unwrap();
        assert_eq!(both.by_own_digest(), Some(format!("reg.example/web@{D}")));
        assert_eq!(
            ImageRef::parse("web").unwrap().tag.as_deref(),
            Some("latest")
        );
    }

    #[test]
    fn full_ecr_uris() {
        let r = ImageRef::parse("123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:prod").unwrap();
        assert_eq!(
            r.ecr(),
            Some(EcrRegistry {
                account: "123456789012".into(),
                region: "eu-west-1".into()
            })
        );
        assert!(r.is_ecr());
        assert_eq!(
            r.pinned("ignored", D),
            format!("123456789012.dkr.ecr.eu-west-1.amazonaws.com/web@{D}")
        );
        assert_eq!(
            r.to_string(),
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:prod"
        );
    }

    #[test]
    fn only_ecr_hosts_are_ecr() {
        for text in [
            "nginx:1.25",
            "datadog/agent:7",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com.evil.example/web:1",
            "123456789012.dkr.ecr.eu-west-1.example.com/web:1",
            "public.ecr.aws/nginx/nginx:1",
        ] {
            assert!(!ImageRef::parse(text).unwrap().is_ecr(), "{text}");
        }
        let china =
            ImageRef::parse("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/web:1").unwrap();
        assert_eq!(china.ecr().map(|e| e.region).as_deref(), Some("cn-north-1"));
    }

    #[test]
    fn other_registries_are_not_ecr() {
        let r = ImageRef::parse("docker.io/library/nginx:1.27").unwrap();
        assert!(!r.is_ecr());
        let r = ImageRef::parse("localhost:5000/app:1").unwrap();
        assert_eq!(r.registry.as_deref(), Some("localhost:5000"));
        assert!(!r.is_ecr());
    }

    #[test]
    fn bad_references_say_why() {
        assert!(ImageRef::parse("web@sha256:abc")
            .unwrap_err()
            .contains("64 lowercase hex"));
        assert!(ImageRef::parse("Web:1")
            .unwrap_err()
            .contains("repository name"));
        assert!(ImageRef::parse("web:").unwrap_err().contains("tag"));
        assert!(ImageRef::parse("").is_err());
        assert!(ImageRef::parse("a b").is_err());
    }

    #[test]
    fn an_image_is_copied_only_into_another_registry_that_is_not_shared() {
        let staging = "111111111111.dkr.ecr.us-east-1.amazonaws.com/web@sha256:\
                       aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let prod = Some(("222222222222", "eu-west-1"));
        assert_eq!(
            placement(staging, prod, None),
            Placement::Copy {
                account: "111111111111".into(),
                region: "us-east-1".into(),
                repository: "web".into()
            }
        );
        // Same account, another region: copied too.
        assert!(matches!(
            placement(staging, Some(("111111111111", "eu-west-1")), None),
            Placement::Copy { .. }
        ));
        assert_eq!(
            placement(staging, Some(("111111111111", "us-east-1")), None),
            Placement::Keep
        );
        assert_eq!(
            placement(staging, prod, Some(("111111111111", "us-east-1"))),
            Placement::Keep,
            "a shared registry is pinned as it is"
        );
        assert_eq!(placement(staging, None, None), Placement::Keep);
        let hub = "nginx@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        assert_eq!(placement(hub, prod, None), Placement::Keep);
    }
}
