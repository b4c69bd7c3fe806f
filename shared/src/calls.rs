//! `-v` and `-vv`: one line per AWS call, from the span the SDK opens around each operation
//! (named `Service.Operation`, with `rpc.method`). A call that changes something is said at `-v`
//! (info), every call at `-vv` (debug), each with how long it took, retries included. Only the
//! operation's name and time are printed: never a request or a response, so never a secret.

use std::time::Instant;
use tracing::span::{Attributes, Id};
use tracing::Subscriber;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// Where the lines go (`RUST_LOG=shared::calls=debug` picks them alone).
pub const TARGET: &str = "shared::calls";

/// The layer that times the SDK's operation spans.
#[derive(Debug, Default)]
pub struct CallTimes;

/// When a timed operation started.
struct Started(Instant);

/// Whether a span is the SDK's span around one operation.
#[must_use]
pub fn is_operation(meta: &tracing::Metadata<'_>) -> bool {
    meta.is_span() && meta.fields().field("rpc.method").is_some()
}

/// Whether an operation (`GetAlias`, `UpdateAlias`) only reads. Everything else is a write for
/// `-v`'s purpose, including an invocation. Asking STS who the credentials are, or for a role's
/// credentials, changes nothing in the environment.
#[must_use]
pub fn reads_only(operation: &str) -> bool {
    const READS: [&str; 9] = [
        "Get",
        "List",
        "Describe",
        "Head",
        "BatchGet",
        "Lookup",
        "Search",
        "AssumeRole",
        "Select",
    ];
    READS.iter().any(|prefix| operation.starts_with(prefix))
}

impl<S> Layer<S> for CallTimes
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !is_operation(attrs.metadata()) {
            return;
        }
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Started(Instant::now()));
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let Some(started) = span.extensions().get::<Started>().map(|s| s.0) else {
            return;
        };
        let name = span.metadata().name();
        let operation = name.rsplit_once('.').map_or(name, |(_, op)| op);
        let ms = started.elapsed().as_millis();
        if reads_only(operation) {
            tracing::debug!(target: TARGET, "aws {name} {ms} ms");
        } else {
            tracing::info!(target: TARGET, "aws {name} {ms} ms (a write)");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_are_told_by_the_operation_name() {
        for read in [
            "GetAlias",
            "ListVersionsByFunction",
            "DescribeServices",
            "HeadObject",
            "BatchGetImage",
            "AssumeRole",
            "GetCallerIdentity",
        ] {
            assert!(reads_only(read), "{read}");
        }
        for write in [
            "UpdateAlias",
            "PublishVersion",
            "PutImage",
            "RegisterTaskDefinition",
            "UpdateService",
            "CopyObject",
            "CreateDeployment",
            "UpdateStage",
            "DeleteObject",
            "UploadPart",
        ] {
            assert!(!reads_only(write), "{write}");
        }
    }
}
