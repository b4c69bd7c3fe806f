//! The AWS emulator the tests talk to. `scripts/test` starts one for the whole run and passes its
//! address in PROMOTE_TEST_ENDPOINT; otherwise (plain `cargo test`) the first test of a process
//! starts one from `.venv-emulator`, and a watchdog stops it when the test process ends.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Where the tests find an emulator that is already running.
pub const ENDPOINT_VAR: &str = "PROMOTE_TEST_ENDPOINT";

/// A running emulator.
#[derive(Debug)]
pub struct Emulator {
    pub endpoint: String,
}

static SHARED: OnceLock<Emulator> = OnceLock::new();

impl Emulator {
    /// The emulator of this test process, started on first use.
    pub fn shared() -> &'static Emulator {
        SHARED.get_or_init(|| {
            let endpoint = match std::env::var(ENDPOINT_VAR) {
                Ok(endpoint) if !endpoint.is_empty() => endpoint,
                _ => start(),
            };
            wait_ready(&endpoint);
            configure(&endpoint);
            Emulator { endpoint }
        })
    }
}

/// The SDK configuration every seeding client uses: the emulator's endpoint, test credentials, a
/// region; nothing read from the environment or a developer's files.
#[must_use]
pub fn sdk_config() -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .endpoint_url(&Emulator::shared().endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::from_keys("testing", "testing", None),
            ),
        )
        .build()
}

#[allow(clippy::zombie_processes)] // reason: the watchdog outlives the tests; the OS reaps it
fn start() -> String {
    let root = crate::workspace_root();
    let server = root.join(".venv-emulator/bin/moto_server");
    assert!(
        server.exists(),
        "the emulator is not installed: run `scripts/emulator install` (or the README's test command)"
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port on 127.0.0.1")
        .port();
    // The watchdog shell ends the server when this test process goes away, however it ends.
    // It is never waited for: it outlives every test of the process by design.
    let script = r#"
        "$0" -H 127.0.0.1 -p "$1" >/dev/null 2>&1 &
        server=$!
        trap 'kill $server 2>/dev/null' EXIT
        while kill -0 "$2" 2>/dev/null && kill -0 "$server" 2>/dev/null; do sleep 0.5; done
    "#;
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(&server)
        .arg(port.to_string())
        .arg(std::process::id().to_string())
        .env("MOTO_ECS_SERVICE_RUNNING", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the emulator");
    format!("http://127.0.0.1:{port}")
}

/// Lambda invocations without Docker, as `scripts/emulator start` sets them (idempotent, so a
/// process given PROMOTE_TEST_ENDPOINT sets it again harmlessly): a function answers its payload,
/// or the next result queued with [`crate::lambda::queue_result`].
fn configure(endpoint: &str) {
    ureq::post(&format!("{endpoint}/moto-api/config"))
        .send(r#"{"lambda": {"use_docker": false}}"#)
        .expect("configure the emulator's Lambda invocations");
}

fn wait_ready(endpoint: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    // The dashboard page: data.json answers 500 once some resources exist (moto 5.2.5).
    let url = format!("{endpoint}/moto-api/");
    while Instant::now() < deadline {
        if ureq::get(&url).call().is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the emulator at {endpoint} did not answer within 60 s");
}
