//! Running a tool's real binary the way a user would, but sealed off: a fresh working folder,
//! test credentials, a loopback endpoint, no instance metadata, and config files that exist only
//! for the test. Nothing a test runs can reach a developer's AWS account.

use crate::{schema, Emulator};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A working folder and environment for one test's runs.
#[derive(Debug)]
pub struct Sandbox {
    dir: tempfile::TempDir,
    endpoint: Option<String>,
    extra_env: Vec<(String, String)>,
}

/// What a run printed and how it ended.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox::new()
    }
}

impl Sandbox {
    /// A sandbox whose runs talk to the shared emulator.
    #[must_use]
    pub fn new() -> Self {
        let mut sandbox = Sandbox::offline();
        sandbox.endpoint = Some(Emulator::shared().endpoint.clone());
        sandbox
    }

    /// A sandbox with no endpoint at all (tests of usage errors and missing credentials).
    #[must_use]
    pub fn offline() -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::fs::write(dir.path().join("aws-config"), "").expect("write an empty AWS config");
        std::fs::write(dir.path().join("aws-credentials"), "")
            .expect("write empty AWS credentials");
        Sandbox {
            dir,
            endpoint: None,
            extra_env: Vec::new(),
        }
    }

    /// The working folder (where a test puts promote.toml).
    #[must_use]
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Write a file in the working folder.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write a test file");
        path
    }

    /// Set (or override) an environment variable for every run.
    pub fn env(&mut self, key: &str, value: &str) -> &mut Self {
        self.extra_env.push((key.to_string(), value.to_string()));
        self
    }

    /// The command that runs `binary` with `args` in the sandbox: its folder, its AWS files and
    /// the emulator, nothing of the test's own environment but PATH; stdout and stderr piped.
    #[must_use]
    pub fn command(&self, binary: &str, args: &[&str]) -> Command {
        let mut command = Command::new(binary);
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("AWS_CONFIG_FILE", self.dir.path().join("aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.dir.path().join("aws-credentials"),
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            // The emulator has no quotas: AWS's default rate limits would only slow the tests.
            // The tests of the limit itself set their own.
            .env("PROMOTE_RATE_LIMIT", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(endpoint) = &self.endpoint {
            command.env("AWS_ENDPOINT_URL", endpoint);
        }
        for (key, value) in &self.extra_env {
            command.env(key, value);
        }
        command
    }

    /// Start `binary` in the background (a test that signals it, or changes AWS while it runs).
    #[must_use]
    pub fn spawn(&self, binary: &str, args: &[&str]) -> std::process::Child {
        self.command(binary, args)
            .spawn()
            .unwrap_or_else(|e| panic!("run {binary}: {e}"))
    }

    /// Send SIGINT to a child of [`Sandbox::spawn`], as Ctrl-C in a terminal would.
    pub fn interrupt(child: &std::process::Child) {
        let sent = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -INT {}", child.id());
    }

    /// Wait for a child of [`Sandbox::spawn`] to end: what it printed and its exit code.
    #[must_use]
    pub fn finish(child: std::process::Child) -> Run {
        let output = child.wait_with_output().expect("wait for the tool");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        }
    }

    /// Run `binary` with `args` and `stdin` (None: stdin is /dev/null, as under CI).
    pub fn run(&self, binary: &str, args: &[&str], stdin: Option<&str>) -> Run {
        let mut command = self.command(binary, args);
        if stdin.is_some() {
            command.stdin(Stdio::piped());
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("run {binary}: {e}"));
        if let Some(text) = stdin {
            let mut pipe = child.stdin.take().expect("stdin is piped");
            // A tool may exit before reading everything (a usage error): that is not a test failure.
            let _ = pipe.write_all(text.as_bytes());
        }
        let output = child.wait_with_output().expect("wait for the tool");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        }
    }
}

impl Sandbox {
    /// Run `binary` under GNU time (`/usr/bin/time -v`): the run (which must exit 0), its peak
    /// resident set size in KiB, and how long it took. For the ignored memory measurements.
    #[must_use]
    pub fn run_measured(&self, binary: &str, args: &[&str]) -> (Run, u64, std::time::Duration) {
        let mut all = vec!["-v", binary];
        all.extend_from_slice(args);
        let started = std::time::Instant::now();
        let run = self.run("/usr/bin/time", &all, None);
        let elapsed = started.elapsed();
        run.expect_code(0);
        let rss_kb: u64 = run
            .stderr
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("Maximum resident set size (kbytes): ")
            })
            .and_then(|v| v.trim().parse().ok())
            .expect("time -v reports the RSS");
        (run, rss_kb, elapsed)
    }
}

/// The path of a workspace binary (`ecs-pin`, `cfg-diff`...), for tests that run several tools:
/// built next to the test binaries by `cargo test --workspace` / `cargo nextest run --workspace`.
#[must_use]
pub fn binary(name: &str) -> String {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/debug/deps/TEST -> target/debug/NAME
    let dir = exe
        .parent()
        .and_then(std::path::Path::parent)
        .expect("a target folder");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built: run the tests with --workspace (or cargo build --workspace first)",
        path.display()
    );
    path.display().to_string()
}

impl Sandbox {
    /// Run a pipeline `first | second | ...`, each stage a binary and its arguments, with `stdin`
    /// into the first. Returns each stage's exit code and the last stage's output.
    pub fn pipe(&self, stages: &[(&str, &[&str])], stdin: Option<&str>) -> (Vec<i32>, Run) {
        let script: Vec<String> = stages
            .iter()
            .map(|(binary, args)| {
                std::iter::once(*binary)
                    .chain(args.iter().copied())
                    .map(shell_quote)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        // bash's PIPESTATUS gives every stage's code; it is printed on stderr's last line.
        let line = format!(
            "{}; echo \"pipestatus ${{PIPESTATUS[*]}}\" >&2",
            script.join(" | ")
        );
        let run = self.run("bash", &["-c", &line], stdin);
        let (stderr, codes) = run
            .stderr
            .rsplit_once("pipestatus ")
            .unwrap_or((&run.stderr, ""));
        let codes = codes
            .split_whitespace()
            .filter_map(|c| c.parse().ok())
            .collect();
        let last = Run {
            code: run.code,
            stdout: run.stdout.clone(),
            stderr: stderr.to_string(),
        };
        (codes, last)
    }
}

fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

impl Run {
    /// The records on stdout, each checked against docs/record.schema.json.
    #[must_use]
    pub fn records(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|line| {
                let record: Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}\n{self}"));
                schema::check(&record);
                record
            })
            .collect()
    }

    /// Assert the exit code, showing everything the tool said when it is not the one expected.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "unexpected exit code\n{self}");
        self
    }

    /// The only record printed.
    #[track_caller]
    #[must_use]
    pub fn record(&self) -> Value {
        let records = self.records();
        assert_eq!(records.len(), 1, "expected one record\n{self}");
        records.into_iter().next().expect("one record")
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit code: {}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}
