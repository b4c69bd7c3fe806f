//! `--wait`: follow a service's deployment until ECS says it completed, failed, or was rolled
//! back by the deployment circuit breaker, or until the timeout. Anything but completion is exit 3
//! with the reason: a deployment that did not finish is never reported as a success.

use crate::args::WaitArgs;
use crate::calls::Located;
use crate::plan::{self, Rollout};
use shared::{Error, Result};
use std::io::{IsTerminal, Write};
use std::time::Instant;

/// Wait until the deployment of task definition `ours` to `cluster/service` is complete.
pub async fn until_deployed(
    at: &Located,
    cluster: &str,
    service: &str,
    ours: &str,
    args: &WaitArgs,
    quiet: bool,
) -> Result<()> {
    let resource = format!("{cluster}/{service}");
    let started = Instant::now();
    let live = !quiet && std::io::stderr().is_terminal();
    let mut last = String::new();
    let failed = |message: String| Error::Aws {
        doing: format!("waiting for {resource} to deploy {ours}"),
        message,
    };
    loop {
        let state = shared::ecs::describe_service(&at.client.ecs, cluster, service)
            .await?
            .ok_or_else(|| failed("the service no longer exists".into()))?;
        let elapsed = started.elapsed().as_secs();
        match plan::rollout(ours, &state) {
            Rollout::Completed => {
                if live {
                    eprint!("\r\x1b[2K");
                }
                if !quiet {
                    eprintln!("{}: deployment completed in {elapsed}s", resource);
                }
                return Ok(());
            }
            Rollout::Failed(reason) => {
                return Err(failed(format!("the deployment failed: {reason}")));
            }
            Rollout::RolledBack(reason) => {
                return Err(failed(format!("ECS rolled the deployment back: {reason}")));
            }
            Rollout::InProgress(progress) => {
                if live {
                    eprint!("\r\x1b[2K{}: {progress} ({elapsed}s)", resource);
                    let _ = std::io::stderr().flush();
                } else if !quiet && progress != last {
                    eprintln!("{}: {progress} ({elapsed}s)", resource);
                }
                last = progress;
            }
        }
        let waited = started.elapsed();
        if waited >= args.timeout {
            if live {
                eprintln!();
            }
            return Err(failed(format!(
                "timed out after {}s ({last}); the deployment goes on in ECS",
                args.timeout.as_secs()
            )));
        }
        if shared::interrupt::requested() {
            return Err(Error::Interrupted(format!(
                "stopped waiting for {resource} ({last}); the deployment goes on in ECS"
            )));
        }
        tokio::time::sleep(args.poll_interval.min(args.timeout - waited)).await;
    }
}
