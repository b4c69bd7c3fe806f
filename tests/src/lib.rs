//! The test harness every tool's integration tests use: one emulator (moto's server) per test
//! process, or the one `scripts/test` started; each tool run as its real binary in a sandbox
//! that cannot reach a developer's AWS setup; its records read back and checked against the
//! published JSON Schema; and AWS resources seeded through the official SDK.
//!
//! Tests make uniquely named resources ([`unique`]) so they can run in parallel without resets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)] // reason: test code: a failed setup should stop the test loudly

pub mod accounts;
pub mod apigateway;
pub mod cloudwatch;
pub mod config;
pub mod ecs;
pub mod emulator;
pub mod lambda;
pub mod proxy;
pub mod run;
pub mod s3;
pub mod schema;
pub mod sfn;
pub mod zip;

pub use emulator::Emulator;
pub use run::{binary, Run, Sandbox};

use std::sync::atomic::{AtomicU32, Ordering};

/// A name no other test uses, in this run or an earlier one against the same emulator:
/// `prefix-RUN-N`, RUN made of the process id and the time the process first asked (process ids
/// are reused; together with the time they are not).
#[must_use]
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    static RUN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let run = RUN.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("{:x}{:x}", std::process::id(), nanos % 0xff_ffff)
    });
    format!("{prefix}-{run}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The workspace's root folder (where docs/ and .venv-emulator/ are).
#[must_use]
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace root")
        .to_path_buf()
}

/// A writer that keeps what is written: where a tool run in-process (with SDK-level mock clients)
/// writes its records, read back with [`Captured::records`].
#[derive(Debug, Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("the buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// The records written, one per line, each checked against the record schema.
    #[must_use]
    pub fn records(&self) -> Vec<serde_json::Value> {
        let text =
            String::from_utf8(self.0.lock().expect("the buffer").clone()).expect("UTF-8 records");
        text.lines()
            .map(|line| {
                let record: serde_json::Value = serde_json::from_str(line).expect("a JSON record");
                schema::check(&record);
                record
            })
            .collect()
    }
}
