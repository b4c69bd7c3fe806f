//! The validation hooks of a traffic shift: a Lambda function (`--pre-traffic FUNCTION`) or a
//! command (`--pre-traffic-cmd 'CMD'`) that is given the candidate before any traffic moves, and
//! (`--post-traffic...`) once all of it has. A failure of either kind stops the shift as an alarm
//! does (`crate::progressive`).
//!
//! The contract, the same for both kinds: the hook receives one JSON payload,
//! `{"hook": "pre-traffic", "env": ENV, "schedule": NAME, "candidates": [CANDIDATE, ...]}`, each
//! candidate naming the pointer and the artifact it is about to get (a function, alias and
//! version; an API, stage and deployment). A function passes unless its invocation fails (an
//! error, or a `FunctionError`) or it answers `false` or an object whose `status` is not a
//! success (`"Failed"`; a `reason` or `message` says why). A command gets the payload on stdin
//! and in `PROMOTE_HOOK_PAYLOAD`, its stdout goes to our stderr (stdout carries records only),
//! and its exit status decides.

use crate::aws::{aws_error, describe};
use crate::error::{Error, Result};
use serde_json::{json, Value};
use std::os::fd::AsFd;
use std::process::Stdio;
use tokio::io::AsyncWriteExt;

/// When a hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Before the first step: a failure moves no traffic.
    PreTraffic,
    /// Once all traffic is on the new artifact: a failure takes it back.
    PostTraffic,
}

impl Stage {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::PreTraffic => "pre-traffic",
            Stage::PostTraffic => "post-traffic",
        }
    }
}

/// One validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hook {
    /// A Lambda function (name, ARN, or `name:alias`), invoked in the shift's environment.
    Function(String),
    /// A shell command (`sh -c`), run here.
    Command(String),
}

impl std::fmt::Display for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Hook::Function(name) => write!(f, "function {name}"),
            Hook::Command(cmd) => write!(f, "command `{cmd}`"),
        }
    }
}

/// The hooks of one shift, with the Lambda client of its environment when one is a function.
#[derive(Debug, Clone, Default)]
pub struct Hooks {
    pub pre: Vec<Hook>,
    pub post: Vec<Hook>,
    pub lambda: Option<aws_sdk_lambda::Client>,
}

/// Why a hook did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    pub hook: String,
    pub reason: String,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} failed: {}", self.hook, self.reason)
    }
}

impl Hooks {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pre.is_empty() && self.post.is_empty()
    }

    /// Before anything moves: every hook function exists (a post-traffic function missing would
    /// otherwise be found only once all the traffic had moved). Exit 4 naming it.
    pub async fn check(&self) -> Result<()> {
        for hook in self.pre.iter().chain(&self.post) {
            let Hook::Function(name) = hook else { continue };
            let client = self.client()?;
            let found = client.get_function().function_name(name).send().await;
            match found {
                Ok(_) => {}
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_not_found_exception()) =>
                {
                    return Err(Error::precondition(format!(
                        "the hook function {name} does not exist; nothing changed"
                    )))
                }
                Err(e) => {
                    return Err(aws_error(
                        format!("failed to read hook function {name}"),
                        &e,
                    ))
                }
            }
        }
        Ok(())
    }

    /// Run the hooks of `stage` in turn: the first failure is the answer.
    pub async fn run(&self, stage: Stage, payload: &Value) -> Result<Option<Failed>> {
        let hooks = match stage {
            Stage::PreTraffic => &self.pre,
            Stage::PostTraffic => &self.post,
        };
        for hook in hooks {
            crate::cli::note(&format!("{}: {hook}", stage.as_str()));
            let outcome = match hook {
                Hook::Function(name) => self.invoke(name, payload).await?,
                Hook::Command(cmd) => command(cmd, stage, payload).await?,
            };
            if let Err(reason) = outcome {
                return Ok(Some(Failed {
                    hook: format!("{} hook {hook}", stage.as_str()),
                    reason,
                }));
            }
        }
        Ok(None)
    }

    fn client(&self) -> Result<&aws_sdk_lambda::Client> {
        self.lambda
            .as_ref()
            .ok_or_else(|| Error::usage("a hook function needs a Lambda client in its environment"))
    }

    /// Invoke a hook function and judge its answer. An invocation that fails is a failed hook
    /// (the issue's "a failed invocation aborts"), not an error of the run: the traffic is taken
    /// back either way.
    async fn invoke(&self, name: &str, payload: &Value) -> Result<std::result::Result<(), String>> {
        let client = self.client()?;
        let sent = client
            .invoke()
            .function_name(name)
            .payload(aws_smithy_types::Blob::new(payload.to_string()))
            .send()
            .await;
        let answer = match sent {
            Ok(answer) => answer,
            Err(e) => return Ok(Err(format!("the invocation failed: {}", describe(&e)))),
        };
        let body = answer
            .payload()
            .map(|b| b.as_ref().to_vec())
            .unwrap_or_default();
        let result: Value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))
        };
        if let Some(kind) = answer.function_error() {
            return Ok(Err(format!(
                "the function raised {kind}: {}",
                reason_of(&result)
            )));
        }
        Ok(judge(&result))
    }
}

/// Whether a hook function's answer passes: everything does but `false` and an object whose
/// `status` is not a success word (so a misspelt status fails rather than passes).
pub fn judge(result: &Value) -> std::result::Result<(), String> {
    match result {
        Value::Bool(false) => Err("it answered false".into()),
        Value::Object(fields) => match fields.get("status") {
            None => Ok(()),
            Some(Value::String(s))
                if ["succeeded", "success", "ok", "passed"]
                    .contains(&s.to_ascii_lowercase().as_str()) =>
            {
                Ok(())
            }
            Some(status) => Err(format!("status {status}: {}", reason_of(result))),
        },
        _ => Ok(()),
    }
}

/// What an answer says about why it failed.
fn reason_of(result: &Value) -> String {
    ["reason", "message", "errorMessage"]
        .iter()
        .find_map(|k| result.get(k).and_then(Value::as_str))
        .map_or_else(|| "no reason given".to_string(), str::to_string)
}

/// Run a command hook: payload on stdin and in the environment, its stdout onto our stderr.
async fn command(
    cmd: &str,
    stage: Stage,
    payload: &Value,
) -> Result<std::result::Result<(), String>> {
    let text = payload.to_string();
    let stderr = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| Error::usage(format!("the {} hook: {e}", stage.as_str())))?;
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .env("PROMOTE_HOOK", stage.as_str())
        .env("PROMOTE_HOOK_PAYLOAD", &text)
        .env(
            "PROMOTE_ENV",
            payload
                .get("env")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::from(stderr))
        .spawn()
        .map_err(|e| {
            Error::usage(format!(
                "the {} hook `{cmd}` did not start: {e}",
                stage.as_str()
            ))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its stdin closes it early: that is not a failure.
        let _ = stdin.write_all(text.as_bytes()).await;
    }
    let status = child
        .wait()
        .await
        .map_err(|e| Error::usage(format!("the {} hook `{cmd}`: {e}", stage.as_str())))?;
    Ok(if status.success() {
        Ok(())
    } else {
        Err(match status.code() {
            Some(code) => format!("it exited with {code}"),
            None => "it was killed by a signal".into(),
        })
    })
}

/// The payload a hook receives.
#[must_use]
pub fn payload(stage: Stage, env: &str, schedule: &str, candidates: &[Value]) -> Value {
    json!({
        "hook": stage.as_str(),
        "env": env,
        "schedule": schedule,
        "candidates": candidates,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_fails_only_when_it_says_so() {
        assert!(judge(&Value::Null).is_ok());
        assert!(judge(&json!({"statusCode": 200})).is_ok());
        assert!(judge(&json!({"status": "Succeeded"})).is_ok());
        assert!(judge(&json!(true)).is_ok());
        assert_eq!(judge(&json!(false)), Err("it answered false".into()));
        let failed = judge(&json!({"status": "Failed", "reason": "p99 is 2 s"})).unwrap_err();
        assert!(failed.contains("p99 is 2 s"), "{failed}");
        // A misspelt status is not a pass.
        assert!(judge(&json!({"status": "Succeded"})).is_err());
    }

    /// A function that raises: the emulator answers every invocation with a payload and no
    /// FunctionError, so this one is an SDK-level mock.
    #[tokio::test]
    async fn a_function_that_raises_fails_its_hook_with_its_message() {
        use aws_sdk_lambda::operation::invoke::InvokeOutput;
        use aws_smithy_mocks::{mock, mock_client, RuleMode};
        let raised = mock!(aws_sdk_lambda::Client::invoke).then_output(|| {
            InvokeOutput::builder()
                .status_code(200)
                .function_error("Unhandled")
                .payload(aws_smithy_types::Blob::new(
                    r#"{"errorMessage": "smoke test: 3 of 5 requests failed", "errorType": "AssertionError"}"#,
                ))
                .build()
        });
        let hooks = Hooks {
            pre: vec![Hook::Function("smoke".into())],
            post: Vec::new(),
            lambda: Some(mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&raised])),
        };
        let failed = hooks
            .run(
                Stage::PreTraffic,
                &payload(Stage::PreTraffic, "prod", "AllAtOnce", &[]),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(failed.hook, "pre-traffic hook function smoke");
        assert_eq!(
            failed.reason,
            "the function raised Unhandled: smoke test: 3 of 5 requests failed"
        );
        assert_eq!(raised.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_command_hook_is_judged_by_its_exit_status_and_reads_the_payload() {
        let payload = payload(
            Stage::PreTraffic,
            "prod",
            "AllAtOnce",
            &[json!({"version": "7"})],
        );
        let passed = command(
            r#"test "$PROMOTE_HOOK" = pre-traffic && test "$PROMOTE_ENV" = prod && grep -q '"version":"7"'"#,
            Stage::PreTraffic,
            &payload,
        )
        .await
        .unwrap();
        assert_eq!(passed, Ok(()));
        let failed = command("exit 3", Stage::PreTraffic, &payload)
            .await
            .unwrap();
        assert_eq!(failed, Err("it exited with 3".into()));
    }
}
