//! Secrets are never printed, at any verbosity. A value that is secret (a SecureString, a
//! Secrets Manager value, or any value whose key looks secret) is shown as a fingerprint: a short
//! HMAC-SHA256 under a key drawn at random for each run. Equal values show equal fingerprints
//! within a run, so a diff can still say "same" or "differs"; nothing can be guessed offline, and
//! fingerprints from two runs cannot be compared.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Words that make a key's value secret: `DB_PASSWORD`, `apiToken`, `SIGNING_KEY`, ...
const SECRET_WORDS: [&str; 11] = [
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "key",
    "credential",
    "private",
    "auth",
    "signature",
    "cert",
];

/// Whether a configuration key's value should be treated as a secret.
#[must_use]
pub fn looks_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|word| key.contains(word))
}

/// Fingerprints values under one random key for the whole run.
pub struct Fingerprinter {
    key: [u8; 32],
}

impl std::fmt::Debug for Fingerprinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fingerprinter { key: <hidden> }")
    }
}

impl Fingerprinter {
    /// A fingerprinter with a fresh random key.
    pub fn new() -> crate::Result<Self> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)
            .map_err(|e| crate::Error::Usage(format!("cannot draw a random key: {e}")))?;
        Ok(Fingerprinter { key })
    }

    /// The fingerprint of a value: 12 hex digits of its keyed hash.
    #[must_use]
    pub fn fingerprint(&self, value: &str) -> String {
        // HMAC takes a key of any length; 32 bytes cannot be refused.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            return "????????????".to_string();
        };
        mac.update(value.as_bytes());
        let digest = mac.finalize().into_bytes();
        digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
    }

    /// How a secret value is shown: `secret:<fingerprint>`.
    #[must_use]
    pub fn masked(&self, value: &str) -> String {
        format!("secret:{}", self.fingerprint(value))
    }

    /// `value` as it may be shown under `key`: masked when the key looks secret.
    #[must_use]
    pub fn show(&self, key: &str, value: &str) -> String {
        if looks_secret(key) {
            self.masked(value)
        } else {
            value.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_looking_keys() {
        for key in [
            "DB_PASSWORD",
            "apiToken",
            "SIGNING_KEY",
            "client_secret",
            "AUTH_HEADER",
            "privateCert",
        ] {
            assert!(looks_secret(key), "{key}");
        }
        for key in ["DB_HOST", "STAGE", "LOG_LEVEL", "region"] {
            assert!(!looks_secret(key), "{key}");
        }
    }

    #[test]
    fn fingerprints_are_stable_within_a_run_and_keyed_per_run() {
        let one = Fingerprinter::new().unwrap();
        let two = Fingerprinter::new().unwrap();
        assert_eq!(one.fingerprint("hunter2"), one.fingerprint("hunter2"));
        assert_ne!(one.fingerprint("hunter2"), one.fingerprint("hunter3"));
        assert_ne!(
            one.fingerprint("hunter2"),
            two.fingerprint("hunter2"),
            "a new key each run"
        );
        let shown = one.show("DB_PASSWORD", "hunter2");
        assert!(
            shown.starts_with("secret:") && !shown.contains("hunter2"),
            "{shown}"
        );
        assert_eq!(one.show("DB_HOST", "db.internal"), "db.internal");
        assert!(!format!("{one:?}").contains(&format!("{:?}", one.key)));
    }
}
