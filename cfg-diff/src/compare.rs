//! The comparison, pure: the status of one key given both values and both environments' names,
//! and the globs that excuse drift. Values here are plaintext: what is shown is decided later.

use serde::Serialize;

/// How a key compares between environment a and environment b.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Equal values.
    Same,
    /// Different values (configuration per environment: not drift).
    Differs,
    /// Equal once each side's own environment name is replaced by a placeholder: the healthy
    /// case (`/orders/staging/db` and `/orders/prod/db`).
    Parallel,
    /// Only a has the key.
    OnlyInA,
    /// Only b has the key.
    OnlyInB,
    /// A value of one environment names another (a prod URL with "staging" in it), or a value
    /// frozen into an artifact names an environment.
    Crossed,
    /// A side's value could not be read (a secret with no value, a denied read), so nothing can
    /// be said of it: the `note` says why.
    Unreadable,
}

impl Status {
    /// Whether the status is drift (exit 1 unless excused).
    #[must_use]
    pub fn is_drift(self) -> bool {
        matches!(
            self,
            Status::OnlyInA | Status::OnlyInB | Status::Crossed | Status::Unreadable
        )
    }
}

/// The two environments compared, and every environment known (for values baked into artifacts).
#[derive(Debug, Clone)]
pub struct Envs<'a> {
    pub a: &'a str,
    pub b: &'a str,
    pub all: &'a [String],
}

/// Classify one key. `baked`: the values are frozen into an artifact (a Lambda version's
/// environment), so naming any environment at all is crossed: it travels with every promotion.
/// Returns the status and, for `crossed`, why.
#[must_use]
pub fn classify(
    a: Option<&str>,
    b: Option<&str>,
    envs: &Envs<'_>,
    baked: bool,
) -> (Status, Option<String>) {
    // A value frozen into an artifact goes wherever the artifact is promoted: on either side,
    // present on one side or both, naming any environment is crossed.
    if baked {
        let named: Vec<&str> = envs
            .all
            .iter()
            .map(String::as_str)
            .chain([envs.a, envs.b])
            .filter(|env| {
                a.is_some_and(|a| names_env(a, env)) || b.is_some_and(|b| names_env(b, env))
            })
            .collect();
        if let Some(env) = named.first() {
            return (
                Status::Crossed,
                Some(format!(
                    "the value names {env} and is baked into the artifact: it travels with every promotion"
                )),
            );
        }
    }
    let (a, b) = match (a, b) {
        (Some(a), Some(b)) => (a, b),
        (Some(_), None) => return (Status::OnlyInA, None),
        (None, Some(_)) => return (Status::OnlyInB, None),
        (None, None) => return (Status::Same, None),
    };
    if names_env(b, envs.a) && envs.a != envs.b {
        return (
            Status::Crossed,
            Some(format!("{}'s value names {}", envs.b, envs.a)),
        );
    }
    if names_env(a, envs.b) && envs.a != envs.b {
        return (
            Status::Crossed,
            Some(format!("{}'s value names {}", envs.a, envs.b)),
        );
    }
    if a == b {
        return (Status::Same, None);
    }
    if !a.is_empty() && replace_env(a, envs.a) == replace_env(b, envs.b) {
        return (Status::Parallel, None);
    }
    (Status::Differs, None)
}

/// Whether `value` names `env` as a word: `db.staging.internal` names staging, `prodigy` does not
/// name prod. Case-insensitive.
#[must_use]
pub fn names_env(value: &str, env: &str) -> bool {
    !env.is_empty() && word_positions(value, env).next().is_some()
}

fn word_positions<'a>(value: &'a str, env: &'a str) -> impl Iterator<Item = usize> + 'a {
    let lower = value.to_ascii_lowercase();
    let env = env.to_ascii_lowercase();
    let bytes = lower.clone().into_bytes();
    let mut found = Vec::new();
    let mut start = 0;
    while let Some(i) = lower[start..].find(&env) {
        let at = start + i;
        let end = at + env.len();
        let before = at == 0 || !bytes[at - 1].is_ascii_alphanumeric();
        let after = end >= bytes.len() || !bytes[end].is_ascii_alphanumeric();
        if before && after {
            found.push(at);
        }
        start = at + 1;
    }
    found.into_iter()
}

/// `value` with `env` (as a word) replaced by `{env}`.
fn replace_env(value: &str, env: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut last = 0;
    for at in word_positions(value, env).collect::<Vec<_>>() {
        if at < last {
            continue;
        }
        out.push_str(&value[last..at]);
        out.push_str("{env}");
        last = at + env.len();
    }
    out.push_str(&value[last..]);
    out
}

pub use shared::glob::matches as glob;

#[cfg(test)]
mod tests {
    use super::*;

    fn envs() -> Envs<'static> {
        static ALL: [String; 0] = [];
        Envs {
            a: "staging",
            b: "prod",
            all: &ALL,
        }
    }

    #[test]
    fn statuses() {
        let e = envs();
        assert_eq!(classify(Some("x"), Some("x"), &e, false).0, Status::Same);
        assert_eq!(classify(Some("x"), Some("y"), &e, false).0, Status::Differs);
        assert_eq!(
            classify(
                Some("/orders/staging/db"),
                Some("/orders/prod/db"),
                &e,
                false
            )
            .0,
            Status::Parallel
        );
        assert_eq!(classify(Some("x"), None, &e, false).0, Status::OnlyInA);
        assert_eq!(classify(None, Some("x"), &e, false).0, Status::OnlyInB);
        let (status, note) = classify(
            Some("https://api.staging.example"),
            Some("https://api.staging.example"),
            &e,
            false,
        );
        assert_eq!(status, Status::Crossed, "prod pointing at staging");
        assert!(note.unwrap().contains("prod's value names staging"));
        assert_eq!(
            classify(Some("db.prod"), Some("db.prod"), &e, false).0,
            Status::Crossed
        );
    }

    #[test]
    fn values_baked_into_an_artifact_may_name_no_environment() {
        let all = vec!["dev".to_string(), "staging".to_string(), "prod".to_string()];
        let e = Envs {
            a: "staging",
            b: "prod",
            all: &all,
        };
        let (status, note) = classify(Some("db.dev.internal"), Some("db.dev.internal"), &e, true);
        assert_eq!(status, Status::Crossed);
        assert!(note.unwrap().contains("baked into the artifact"));
        assert_eq!(
            classify(Some("info"), Some("info"), &e, true).0,
            Status::Same
        );
        // Present in one version only: still baked, still crossed.
        assert_eq!(
            classify(Some("db.staging"), None, &e, true).0,
            Status::Crossed
        );
        assert_eq!(
            classify(Some("db.staging"), None, &e, false).0,
            Status::OnlyInA
        );
    }

    #[test]
    fn environment_names_are_words() {
        assert!(names_env("db.staging.internal", "staging"));
        assert!(names_env("STAGING_URL", "staging"));
        assert!(names_env("prod", "prod"));
        assert!(!names_env("prodigy", "prod"));
        assert!(!names_env("device", "dev"));
        assert_eq!(replace_env("a-prod-b-prod", "prod"), "a-{env}-b-{env}");
    }
}
