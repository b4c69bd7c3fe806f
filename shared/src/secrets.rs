//! Secrets are never printed, at any verbosity. This module is the one place that decides what a
//! configuration value may show: a value is secret by where it lives (a SecureString, a Secrets
//! Manager value: the caller knows), by its key (`DB_PASSWORD`), or by the value itself (a
//! password in a URL, a well-known credential format, a long random-looking string). A secret is
//! shown as a fingerprint: a short HMAC-SHA256 under a key drawn at random for each run, or under
//! the user's `--fingerprint-key` (`PROMOTE_FINGERPRINT_KEY`) so fingerprints of two runs can be
//! compared. Equal values show equal fingerprints; nothing can be guessed offline without the key.
//!
//! A URL with a password keeps everything but the password, replaced by its fingerprint: the host
//! still differs visibly between environments. Anything else found secret is hidden whole.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::ops::Range;
use std::sync::OnceLock;

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

/// What of a value may be shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exposure {
    /// Nothing secret in it.
    Plain,
    /// Only these byte ranges are secret (passwords in URLs): the rest may be shown.
    Parts(Vec<Range<usize>>),
    /// The whole value is secret.
    Whole,
}

/// Judge a value by itself, whatever its key: a password in a URL (`Parts`), a well-known
/// credential (AWS access key id, Stripe, GitHub, Slack, GitLab and npm tokens, a JWT, a PEM
/// private key, a Slack webhook) or a long random-looking string (`Whole`).
///
/// Ordinary values stay `Plain`: ARNs, URLs without credentials, image references (digests are
/// hex), UUIDs, versions, hostnames, paths, identifiers. Hex strings are never judged random
/// (they are digests, commit ids, ETags far more often than keys): a hex secret is caught only by
/// its key's name.
#[must_use]
pub fn judge(value: &str) -> Exposure {
    if value.contains("PRIVATE KEY-----")
        || value.contains("PRIVATE KEY BLOCK-----")
        || value.contains("hooks.slack.com/services/")
    {
        return Exposure::Whole;
    }
    let passwords = url_passwords(value);
    // The rest of the value (passwords taken out) may still hold a token: then all of it is
    // hidden. A token as a URL's user name (`https://ghp_...@github.com`) is found here too.
    let mut rest = String::with_capacity(value.len());
    let mut last = 0;
    for range in &passwords {
        rest.push_str(&value[last..range.start]);
        rest.push(' ');
        last = range.end;
    }
    rest.push_str(&value[last..]);
    if has_credential(&rest) {
        return Exposure::Whole;
    }
    if passwords.is_empty() {
        Exposure::Plain
    } else {
        Exposure::Parts(passwords)
    }
}

/// The byte ranges of the passwords of every `scheme://user:password@host` in `value`.
fn url_passwords(value: &str) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(i) = value[from..].find("://") {
        let start = from + i + 3;
        // The URL runs to whitespace, a quote or the end.
        let len = value[start..]
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '`')
            .unwrap_or(value.len() - start);
        let url = &value[start..start + len];
        from = start;
        let authority_end = url.find(['/', '?', '#']).unwrap_or(url.len());
        let at = match url[..authority_end].rfind('@') {
            Some(at) => Some(at),
            // No `@` before the first `/`: a password may hold a `/` unencoded
            // (`app:ab/cd@host`). Not when what follows the `:` is a port (`host:8080/@scope`).
            None => url[..authority_end].find(':').and_then(|colon| {
                let port = &url[colon + 1..authority_end];
                if port.is_empty() || port.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                url[authority_end..].find('@').map(|at| authority_end + at)
            }),
        };
        let Some(at) = at else {
            continue;
        };
        let userinfo = &url[..at];
        if let Some(colon) = userinfo.find(':') {
            if colon + 1 < at {
                found.push(start + colon + 1..start + at);
            }
        }
        from = start + at + 1;
    }
    found
}

/// Prefixes of well-known tokens (the rest of the token at least 10 characters).
const TOKEN_PREFIXES: [&str; 20] = [
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "rk_test_",
    "whsec_",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "xoxr-",
    "xoxs-",
    "xoxe-",
    "glpat-",
    "npm_",
    "AIza",
];

/// The first four characters of AWS access key ids (IAM users, STS, roles' and others' ids).
const AWS_KEY_ID_PREFIXES: [&str; 5] = ["AKIA", "ASIA", "ABIA", "ACCA", "AIDA"];

/// Whether `text` holds a well-known credential or a long random-looking string.
fn has_credential(text: &str) -> bool {
    // Tokens with `-`, `_` and `.` in them (prefixed tokens, JWTs).
    let words = text.split(|c: char| !(c.is_ascii_alphanumeric() || "_-.".contains(c)));
    for word in words {
        let word = word.trim_matches('.');
        if TOKEN_PREFIXES
            .iter()
            .any(|p| word.len() >= p.len() + 10 && word.starts_with(p))
        {
            return true;
        }
        if is_jwt(word) {
            return true;
        }
    }
    // Base64's alphabet: AWS secret access keys, random keys and passwords.
    let runs = text.split(|c: char| !(c.is_ascii_alphanumeric() || "+/=".contains(c)));
    runs.into_iter().any(|run| {
        let run = run.trim_matches(['/', '=']);
        (run.len() == 20
            && AWS_KEY_ID_PREFIXES.iter().any(|p| run.starts_with(p))
            && run
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
            || looks_random(run)
    })
}

/// `header.payload.signature`, the header being base64url JSON (`eyJ`).
fn is_jwt(word: &str) -> bool {
    let parts: Vec<&str> = word.split('.').collect();
    parts.len() == 3 && parts[0].len() >= 10 && parts[0].starts_with("eyJ") && parts[1].len() >= 2
}

/// Whether a run of base64 characters looks random rather than written by a person: at least 20
/// characters, upper and lower case letters and digits all in it, and few of its characters in
/// anything like a word (4 or more lower-case letters, perhaps after a capital: `Orders`; or 5 or
/// more capitals). Identifiers (`parameter/orders/prod/DatabaseUrl2024`) are mostly words; random
/// strings are not. Hex (digests, ids) has no capitals and is never random here.
fn looks_random(run: &str) -> bool {
    const MIN_LEN: usize = 20;
    if run.len() < MIN_LEN {
        return false;
    }
    let bytes = run.as_bytes();
    let has = |f: fn(&u8) -> bool| bytes.iter().any(f);
    if !(has(u8::is_ascii_uppercase) && has(u8::is_ascii_lowercase) && has(u8::is_ascii_digit)) {
        return false;
    }
    let count = |from: usize, f: fn(&u8) -> bool| bytes[from..].iter().take_while(|b| f(b)).count();
    let mut in_words = 0;
    let mut i = 0;
    while i < bytes.len() {
        let upper = count(i, u8::is_ascii_uppercase);
        let lower = count(i + upper, u8::is_ascii_lowercase);
        if upper >= 5 && lower < 4 {
            in_words += upper;
        } else if lower >= 4 {
            // A capital starts the word (`Orders`); capitals before it are a word of their own.
            in_words += lower + usize::from(upper > 0);
            if upper >= 6 {
                in_words += upper - 1;
            }
        }
        i += (upper + lower).max(1);
    }
    // Measured on random base62 strings: with 20 characters 93% have fewer than 40% of them in
    // such words, with 40 characters 97%; identifiers of 20 or more characters have more.
    in_words * 10 < bytes.len() * 4
}

/// A user's fingerprint key: never shown (`Debug` hides it).
#[derive(Clone, PartialEq, Eq)]
pub struct FingerprintKey(Vec<u8>);

impl std::fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FingerprintKey(<hidden>)")
    }
}

impl FingerprintKey {
    /// The command line's parser: any non-empty text.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        if text.is_empty() {
            return Err("a fingerprint key cannot be empty".into());
        }
        Ok(FingerprintKey(text.as_bytes().to_vec()))
    }
}

/// The run's fingerprint key, set once by the entry point from `--fingerprint-key`.
static RUN_KEY: OnceLock<FingerprintKey> = OnceLock::new();

/// Fingerprint with `key` for the rest of the process (the first call wins).
pub fn use_key_for_run(key: FingerprintKey) {
    let _ = RUN_KEY.set(key);
}

/// Fingerprints values under one key for the whole run.
pub struct Fingerprinter {
    key: Vec<u8>,
}

impl std::fmt::Debug for Fingerprinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fingerprinter { key: <hidden> }")
    }
}

impl Fingerprinter {
    /// The run's fingerprinter: under the user's key when one was given (`--fingerprint-key`),
    /// else under a fresh random key.
    pub fn new() -> crate::Result<Self> {
        if let Some(key) = RUN_KEY.get() {
            return Ok(Self::with_key(key));
        }
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)
            .map_err(|e| crate::Error::Usage(format!("cannot draw a random key: {e}")))?;
        Ok(Fingerprinter { key: key.to_vec() })
    }

    /// A fingerprinter under a given key: equal values, equal fingerprints, in any run.
    #[must_use]
    pub fn with_key(key: &FingerprintKey) -> Self {
        Fingerprinter { key: key.0.clone() }
    }

    /// The fingerprint of a value: 12 hex digits of its keyed hash.
    #[must_use]
    pub fn fingerprint(&self, value: &str) -> String {
        // HMAC takes a key of any length: this cannot be refused.
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

    /// `value` as it may be shown, judged by itself ([`judge`]): as it is, with its URL
    /// passwords replaced by their fingerprints, or masked whole.
    #[must_use]
    pub fn redacted(&self, value: &str) -> String {
        match judge(value) {
            Exposure::Plain => value.to_string(),
            Exposure::Whole => self.masked(value),
            Exposure::Parts(ranges) => {
                let mut out = String::with_capacity(value.len());
                let mut last = 0;
                for range in ranges {
                    out.push_str(&value[last..range.start]);
                    out.push_str(&self.masked(&value[range.clone()]));
                    last = range.end;
                }
                out.push_str(&value[last..]);
                out
            }
        }
    }

    /// `value` as it may be shown under `key`: masked when the key looks secret, else as
    /// [`Fingerprinter::redacted`] shows it.
    #[must_use]
    pub fn show(&self, key: &str, value: &str) -> String {
        if looks_secret(key) {
            self.masked(value)
        } else {
            self.redacted(value)
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

    /// Values of real configurations that must be shown as they are.
    const ORDINARY: &[&str] = &[
        "",
        "info",
        "true",
        "8080",
        "db.prod.internal",
        "orders-db.cluster-cabcdefghijk.us-east-1.rds.amazonaws.com",
        "arn:aws:lambda:us-east-1:123456789012:function:orders-api:prod",
        "arn:aws:iam::123456789012:role/service-role/OrdersApiRole-1A2B3C4D5E6F",
        "arn:aws:iam::123456789012:role/orders-stack-OrdersFunctionRole-1A2B3C4D5E6F7",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:orders/prod/db-AbCdEf",
        "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:ssm:us-east-1:123456789012:parameter/orders/prod/DatabaseUrl2024",
        "https://api.example.com/v1/orders?region=eu-west-1&page=2",
        "https://sqs.us-east-1.amazonaws.com/123456789012/orders-queue",
        "https://registry.example.com:8443/@scope/package",
        "postgres://db.prod.internal:5432/orders",
        "mailto:ops@example.com",
        "s3://orders-artifacts/prod/releases/2024/OrdersWeb/build42.zip",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/orders/web@sha256:e1e792f4a6c8b1b2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4e584",
        "public.ecr.aws/docker/library/nginx:1.27.3-alpine3.20",
        "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
        "01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "1.24.3",
        "v2.3.1-rc.1+build.5",
        "3b18e512dba79e4c8300dd08aeb37f8e728b8dad",
        "d41d8cd98f00b204e9800998ecf8427e",
        "/var/lib/orders/data",
        "/opt/app/config/settings.production.yaml",
        "com.example.orders.OrdersHandler::handleRequest",
        "cron(0 12 * * ? *)",
        "{\"timeout\": 30, \"retries\": 3}",
        "d111111abcdef8.cloudfront.net",
        "us-east-1_AbCdEfGhI",
        "4h57kf6u2qbqme5ev3t4cq3rxb",
        "OrdersServiceConfigurationV2Production",
        "-Xmx512m -XX:+UseG1GC -Dspring.profiles.active=prod",
    ];

    /// Values that must never be shown: each `(value, what must not appear)`.
    const SECRET: &[(&str, &str)] = &[
        ("AKIAQ3EGRT5KZ7NVXW4Y", "AKIAQ3EGRT5KZ7NVXW4Y"),
        (
            "9dRkq2Lx+TzV0pW7mB4nYc8sHf3Ju1QeGa6KoZiX",
            "9dRkq2Lx+TzV0pW7mB4nYc8sHf3Ju1QeGa6KoZiX",
        ),
        ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", "4eC39HqLyjWDarjtT1zdp7dc"),
        ("rk_test_51Hq2LmExampleKey0000", "51Hq2LmExampleKey0000"),
        (
            "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
            "16C7e42F292c6912E7710c838347Ae178B4a",
        ),
        (
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
            "11ABCDEFG0123456789",
        ),
        (
            "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
            "AbCdEfGhIjKlMnOpQrStUvWx",
        ),
        (
            "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
            "XXXXXXXXXXXXXXXXXXXXXXXX",
        ),
        (
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
            "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        ),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn\n-----END RSA PRIVATE KEY-----",
            "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn",
        ),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
            "b3BlbnNzaC1rZXktdjEAAAAA",
        ),
        ("q8Zt2LmW9xKc4VbN7rYp1HsJ6fDg3TaE", "q8Zt2LmW9xKc4VbN7rYp1HsJ6fDg3TaE"),
        (
            "Bearer q8Zt2LmW9xKc4VbN7rYp1HsJ6fDg3TaE",
            "q8Zt2LmW9xKc4VbN7rYp1HsJ6fDg3TaE",
        ),
        ("glpat-xYz12AbC34dEf56GhI78", "xYz12AbC34dEf56GhI78"),
        (
            "https://ghp_16C7e42F292c6912E7710c838347Ae178B4a@github.com/org/repo.git",
            "16C7e42F292c6912E7710c838347Ae178B4a",
        ),
    ];

    #[test]
    fn ordinary_values_are_shown_as_they_are() {
        let f = Fingerprinter::with_key(&FingerprintKey::parse("k").unwrap());
        for value in ORDINARY {
            assert_eq!(judge(value), Exposure::Plain, "{value}");
            assert_eq!(f.show("SETTING", value), *value);
        }
    }

    #[test]
    fn secret_values_are_never_shown() {
        let f = Fingerprinter::with_key(&FingerprintKey::parse("k").unwrap());
        for (value, part) in SECRET {
            assert_eq!(judge(value), Exposure::Whole, "{value}");
            let shown = f.show("SETTING", value);
            assert!(!shown.contains(part), "{value} shown as {shown}");
            assert_eq!(shown, f.masked(value));
        }
    }

    #[test]
    fn only_the_password_of_a_url_is_hidden() {
        let f = Fingerprinter::with_key(&FingerprintKey::parse("k").unwrap());
        let cases = [
            (
                "postgres://app:PASSWORD@db.prod.internal:5432/orders",
                "postgres://app:{}@db.prod.internal:5432/orders",
                "PASSWORD",
            ),
            // A `/` and an `@` left unencoded in the password.
            (
                "mysql://app:ab/cd@db.prod/x",
                "mysql://app:{}@db.prod/x",
                "ab/cd",
            ),
            (
                "redis://:s3cr3t@cache.prod:6379/0",
                "redis://:{}@cache.prod:6379/0",
                "s3cr3t",
            ),
            (
                "primary=amqp://u:p1@mq.a replica=amqp://u:p1@mq.b",
                "primary=amqp://u:{}@mq.a replica=amqp://u:{}@mq.b",
                "p1",
            ),
        ];
        for (value, shape, password) in cases {
            let shown = f.show("DB_SECRET", value);
            assert_eq!(shown, f.masked(value), "a secret-looking key hides all");
            let shown = f.show("DATABASE", value);
            assert_eq!(shown, shape.replace("{}", &f.masked(password)), "{value}");
            assert!(!shown.contains(password) || password.len() < 3, "{shown}");
        }
        // No password: nothing hidden (a user name alone is no secret).
        assert_eq!(
            judge("https://deploy@git.example.com/repo"),
            Exposure::Plain
        );
        // A URL password beside a token: everything hidden.
        assert_eq!(
            judge("postgres://a:b@h/db?x=q8Zt2LmW9xKc4VbN7rYp1HsJ6fDg3TaE"),
            Exposure::Whole
        );
    }

    /// A deterministic stand-in for random keys (no RNG crate in tests): an LCG over base62.
    fn random_strings(count: usize) -> Vec<String> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        (0..count)
            .map(|i| {
                let len = 20 + i % 45;
                (0..len)
                    .map(|_| {
                        state = state
                            .wrapping_mul(6_364_136_223_846_793_005)
                            .wrapping_add(1_442_695_040_888_963_407);
                        ALPHABET[((state >> 33) % 62) as usize] as char
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn random_strings_are_secret() {
        let strings = random_strings(2000);
        let caught = strings
            .iter()
            .filter(|s| judge(s) == Exposure::Whole)
            .count();
        // A short random string now and then lacks a digit or a capital, or spells a word.
        assert!(caught * 100 >= strings.len() * 90, "{caught} of 2000");
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

    #[test]
    fn a_given_key_makes_fingerprints_comparable_across_runs() {
        let key = FingerprintKey::parse("team-key-1").unwrap();
        let one = Fingerprinter::with_key(&key);
        let two = Fingerprinter::with_key(&key);
        assert_eq!(one.fingerprint("hunter2"), two.fingerprint("hunter2"));
        let other = Fingerprinter::with_key(&FingerprintKey::parse("team-key-2").unwrap());
        assert_ne!(one.fingerprint("hunter2"), other.fingerprint("hunter2"));
        assert!(!format!("{key:?}").contains("team-key-1"));
        assert!(!format!("{one:?}").contains("team-key-1"));
        assert!(FingerprintKey::parse("").is_err());
    }
}
