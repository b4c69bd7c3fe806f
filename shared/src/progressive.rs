//! A traffic shift run to its end: each step of a schedule (`crate::schedule`) moves the pointer
//! through the tool's own step function (which makes it a recorded, compare-and-swap change like
//! any other), then the alarms (`crate::alarms`) are watched until the next step. Any alarm in
//! ALARM takes all the traffic back (the tool's abort) and ends the run with exit 3; so does a
//! signal, unless `--leave`, which keeps the current weight and says how to go on. The state is
//! the pointer's own (its weights), so running the schedule again continues from where it is.

use crate::alarms::{self, Alarm, Gate};
use crate::cli::note;
use crate::error::{Error, ExitCode, Result};
use crate::hooks::{self, Failed, Hook, Hooks, Stage};
use crate::schedule::{humane, Schedule};
use serde_json::Value;
use std::future::Future;
use std::time::{Duration, Instant};

/// The command line of a shift, the same in every tool that has a canary: flattened into its
/// `canary` subcommand beside the tool's own artifact flag (`--version`, `--deployment`).
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Traffic shift")]
pub struct ShiftArgs {
    /// Shift the traffic step by step to the end, watching the alarms: CodeDeploy's names
    /// (Canary10Percent5Minutes, Linear10PercentEvery1Minute, AllAtOnce, ...). An alarm in
    /// ALARM takes all traffic back (exit 3).
    #[arg(long, value_name = "NAME", visible_alias = "canary",
          value_parser = |s: &str| Schedule::named(s).map(|_| s.to_string()))]
    pub schedule: Option<String>,
    /// Custom steps, rising percentages (5,25,50,100), each held for --interval.
    #[arg(long, value_name = "PCTS", value_delimiter = ',',
          value_parser = crate::schedule::parse_percent)]
    pub steps: Vec<f64>,
    /// How long each of --steps holds: seconds, or with s, m, h.
    #[arg(long, value_name = "DURATION", default_value = "5m", requires = "steps",
          value_parser = crate::schedule::parse_duration)]
    pub interval: Duration,
    /// A CloudWatch alarm that stops the shift (repeatable; `*` and `?` allowed, `{env}` is the
    /// environment's name), besides promote.toml's [canary] alarms for the environment.
    #[arg(long = "alarm", value_name = "NAME")]
    pub alarms: Vec<String>,
    /// On Ctrl-C during a schedule, keep the current weight (default: take all traffic back).
    #[arg(long)]
    pub leave: bool,
    /// A Lambda function (name or ARN) that validates the candidate before any traffic moves:
    /// it fails by raising an error or answering {"status": "Failed", "reason": ...}; then no
    /// traffic moves (exit 3). Repeatable.
    #[arg(long = "pre-traffic", value_name = "FUNCTION")]
    pub pre_traffic: Vec<String>,
    /// A Lambda function that validates once all traffic is on the candidate; a failure takes
    /// the traffic back (exit 3). Repeatable.
    #[arg(long = "post-traffic", value_name = "FUNCTION")]
    pub post_traffic: Vec<String>,
    /// A command (run with sh -c) whose exit status decides before any traffic moves; it gets
    /// the candidate as JSON on stdin and in PROMOTE_HOOK_PAYLOAD. Repeatable.
    #[arg(long = "pre-traffic-cmd", value_name = "CMD")]
    pub pre_traffic_cmd: Vec<String>,
    /// A command whose exit status decides once all traffic is on the candidate.
    #[arg(long = "post-traffic-cmd", value_name = "CMD")]
    pub post_traffic_cmd: Vec<String>,
    /// How often the alarms are read while a step holds.
    #[arg(long, value_name = "DURATION", default_value = "10s", hide = true,
          value_parser = crate::schedule::parse_duration)]
    pub poll_interval: Duration,
}

impl ShiftArgs {
    /// The schedule asked for, if any.
    pub fn schedule(&self) -> Result<Option<Schedule>> {
        match (&self.schedule, self.steps.is_empty()) {
            (Some(name), _) => Schedule::named(name).map(Some).map_err(Error::usage),
            (None, false) => Schedule::custom(&self.steps, self.interval)
                .map(Some)
                .map_err(Error::usage),
            (None, true) if self.alarms.is_empty() && !self.leave && !self.has_hooks() => Ok(None),
            // Nothing would watch them: say so rather than move traffic unwatched.
            (None, true) => Err(Error::usage(
                "--alarm, --leave and the traffic hooks watch a shift: give a schedule \
                 (--canary/--schedule NAME or --steps PCTS)",
            )),
        }
    }

    /// Whether the command line asks for a validation hook.
    #[must_use]
    pub fn has_hooks(&self) -> bool {
        !(self.pre_traffic.is_empty()
            && self.post_traffic.is_empty()
            && self.pre_traffic_cmd.is_empty()
            && self.post_traffic_cmd.is_empty())
    }

    /// How a shift in `env` is watched: promote.toml's `[canary] alarms` and hooks for it, then
    /// --alarm and the hook flags. `lambda` is the environment's client, for hook functions.
    #[must_use]
    pub fn watch(
        &self,
        project: Option<&crate::config::Project>,
        env: &str,
        lambda: Option<aws_sdk_lambda::Client>,
    ) -> Watch {
        let section = project.and_then(|p| p.canary.as_ref());
        let from_toml = |f: Option<&crate::config::Template>| {
            f.map(|t| Hook::Function(t.render(env))).into_iter()
        };
        let stage =
            |toml: Option<&crate::config::Template>, functions: &[String], cmds: &[String]| {
                from_toml(toml)
                    .chain(functions.iter().cloned().map(Hook::Function))
                    .chain(cmds.iter().cloned().map(Hook::Command))
                    .collect()
            };
        Watch {
            gate: Gate::of(project, env, &self.alarms),
            hooks: Hooks {
                pre: stage(
                    section.and_then(|c| c.pre_traffic.as_ref()),
                    &self.pre_traffic,
                    &self.pre_traffic_cmd,
                ),
                post: stage(
                    section.and_then(|c| c.post_traffic.as_ref()),
                    &self.post_traffic,
                    &self.post_traffic_cmd,
                ),
                lambda,
            },
            env: env.to_string(),
            poll: self.poll_interval,
            leave: self.leave,
            live: std::io::IsTerminal::is_terminal(&std::io::stderr()),
        }
    }
}

/// What the tool is asked to do to its pointer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Move {
    /// Send this percentage to the new artifact.
    Weight(f64),
    /// All traffic to the new artifact: the pointer holds it, no weights.
    Finish,
    /// All traffic back to what the pointer held: no weights.
    Abort,
    /// After `Finish`: the pointer back on the artifact it held before the shift began (a
    /// post-traffic hook failed).
    Revert,
}

/// How the shift is watched.
#[derive(Debug, Clone)]
pub struct Watch {
    pub gate: Gate,
    /// The validations before traffic moves and once it all has.
    pub hooks: Hooks,
    /// The environment the pointers are in (told to the hooks).
    pub env: String,
    /// How often the alarms are read while a step holds.
    pub poll: Duration,
    /// On a signal: keep the current weight instead of taking the traffic back.
    pub leave: bool,
    /// Redraw a line on stderr while a step holds (stderr is a terminal).
    pub live: bool,
}

/// How a shift ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Ended {
    /// The pointer holds the new artifact.
    Finished,
    /// An alarm fired: the traffic was taken back.
    Alarmed(Alarm),
    /// The post-traffic hook failed: the pointer was moved back.
    Rejected(Failed),
    /// A signal: the traffic was taken back.
    Interrupted,
    /// A signal with `--leave`: the pointer keeps `percent`.
    Left(f64),
    /// A step failed (its error already reported and recorded): the pointer is where that
    /// step left it.
    Failed(ExitCode),
}

impl Ended {
    /// The run's exit code.
    #[must_use]
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Ended::Finished => ExitCode::Success,
            Ended::Alarmed(_) | Ended::Rejected(_) => ExitCode::Aws,
            Ended::Interrupted | Ended::Left(_) => ExitCode::Interrupted,
            Ended::Failed(code) => *code,
        }
    }
}

/// What a tool supplies for its pointer: how to make a move, and how to read the gate's alarms
/// in the pointer's environment.
pub trait Shift {
    /// Make the move (a recorded change, printed), answering its exit code.
    fn step(&mut self, to: Move) -> impl Future<Output = Result<ExitCode>>;
    /// The alarms `gate` watches, as they are now.
    fn alarms(&mut self, gate: &Gate) -> impl Future<Output = Result<Vec<Alarm>>>;
    /// What the hooks are told about the pointers and the artifact each is about to get.
    fn candidates(&self) -> Vec<Value>;
    /// Mark the change records of the moves that follow with `shift` (the step, the alarms'
    /// states, the time), or no longer (`None`): `Output::annotate`.
    fn annotate(&mut self, shift: Option<Value>);
}

/// Run `schedule` on a pointer that sends `current` percent to the new artifact now. `subject`
/// names the pointer in progress lines.
pub async fn run(
    subject: &str,
    schedule: &Schedule,
    current: f64,
    watch: &Watch,
    shift: &mut impl Shift,
) -> Result<Ended> {
    let gated = !watch.gate.is_empty();
    let steps = schedule.from_weight(current);
    // Validate, then move: a hook function that does not exist is found now, not once all the
    // traffic has moved.
    watch.hooks.check().await?;
    // Before the first step: an alarm already firing moves no traffic (and takes back what a
    // run before this one sent).
    let mut seen: Vec<Alarm> = Vec::new();
    if gated {
        let now = shift.alarms(&watch.gate).await?;
        seen.clone_from(&now);
        if let Some(alarm) = alarms::firing(&now, &watch.gate).cloned() {
            if current > 0.0 {
                abort(
                    subject,
                    shift,
                    &format!("alarm {} is {} ({})", alarm.name, alarm.state, alarm.reason),
                )
                .await?;
            }
            return Err(alarm_error(subject, &alarm, current > 0.0));
        }
        note(&format!("{subject}: alarms {}", alarms::summary(&now)));
    }
    if !steps.is_empty() {
        let payload = hooks::payload(
            Stage::PreTraffic,
            &watch.env,
            &schedule.name,
            &shift.candidates(),
        );
        if let Some(failed) = watch.hooks.run(Stage::PreTraffic, &payload).await? {
            if current > 0.0 {
                abort(subject, shift, &failed.to_string()).await?;
            }
            return Err(hook_error(subject, &failed, current > 0.0));
        }
    }
    if current > 0.0 {
        note(&format!(
            "{subject}: {current}% is on the new version already; {} continues from there",
            schedule.name
        ));
    }
    let total = steps.len();
    let live = watch.live;
    for (i, s) in steps.iter().enumerate() {
        if let Some(ended) = reader_gone(subject, current_or(i, &steps, current)) {
            return Ok(ended);
        }
        let last = s.percent >= 100.0;
        shift.annotate(Some(serde_json::json!({
            "schedule": schedule.name,
            "step": i + 1,
            "of": total,
            "percent": s.percent.min(100.0),
            "alarms": seen
                .iter()
                .map(|a| (a.name.clone(), Value::String(a.state.clone())))
                .collect::<serde_json::Map<_, _>>(),
            "at": now(),
        })));
        let code = shift
            .step(if last {
                Move::Finish
            } else {
                Move::Weight(s.percent)
            })
            .await?;
        if code != ExitCode::Success {
            note(&format!(
                "{subject}: step {} of {total} ({}%) failed; the pointer is as that step left it \
                 (run the schedule again to go on, or `canary --abort`)",
                i + 1,
                s.percent
            ));
            return Ok(Ended::Failed(code));
        }
        let at = s.percent;
        if last {
            note(&format!("{subject}: 100%: {} finished", schedule.name));
            return post_traffic(subject, schedule, watch, shift).await;
        }
        note(&format!(
            "{subject}: {}% on the new version (step {} of {total}, {}); next step in {}",
            s.percent,
            i + 1,
            schedule.name,
            humane(s.wait)
        ));
        // Hold the step, watching.
        let until = Instant::now() + s.wait;
        let mut read_at: Option<Instant> = None;
        loop {
            if live {
                // The countdown line is only up while the shift sleeps: cleared before anything
                // else is said.
                eprint!("\r\x1b[2K");
            }
            if let Some(ended) = reader_gone(subject, at) {
                return Ok(ended);
            }
            if crate::interrupt::requested() {
                if watch.leave {
                    note(&format!(
                        "{subject}: left at {at}% (--leave); run the same command again to go on, \
                         or `canary --abort` to take the traffic back"
                    ));
                    return Ok(Ended::Left(at));
                }
                crate::interrupt::handled();
                abort(subject, shift, "interrupted").await?;
                return Ok(Ended::Interrupted);
            }
            if gated && read_at.is_none_or(|t| t.elapsed() >= watch.poll) {
                read_at = Some(Instant::now());
                let now = shift.alarms(&watch.gate).await?;
                seen.clone_from(&now);
                if let Some(alarm) = alarms::firing(&now, &watch.gate).cloned() {
                    abort(
                        subject,
                        shift,
                        &format!("alarm {} is {} ({})", alarm.name, alarm.state, alarm.reason),
                    )
                    .await?;
                    crate::cli::report(&alarm_error(subject, &alarm, true));
                    return Ok(Ended::Alarmed(alarm));
                }
                tracing::info!("{subject}: alarms {}", alarms::summary(&now));
            }
            let left = until.saturating_duration_since(Instant::now());
            if live {
                // One line, redrawn: where the shift stands and what it watches.
                eprint!(
                    "\r\x1b[2K{subject}: {at}% (step {} of {total}); next step in {}{}",
                    i + 1,
                    humane(Duration::from_secs(
                        left.as_secs() + u64::from(left.subsec_nanos() > 0)
                    )),
                    if seen.is_empty() {
                        String::new()
                    } else {
                        format!("; alarms {}", alarms::summary(&seen))
                    }
                );
            }
            if left.is_zero() {
                if live {
                    eprint!("\r\x1b[2K");
                }
                break;
            }
            // On a terminal the line counts down each second; the alarms are read at --poll.
            let nap = if live {
                Duration::from_secs(1)
            } else {
                watch.poll
            };
            tokio::time::sleep(left.min(nap)).await;
        }
    }
    Ok(Ended::Finished)
}

/// Once all traffic is on the candidate: the post-traffic hooks, and the pointer moved back if
/// one fails.
async fn post_traffic(
    subject: &str,
    schedule: &Schedule,
    watch: &Watch,
    shift: &mut impl Shift,
) -> Result<Ended> {
    if watch.hooks.post.is_empty() {
        return Ok(Ended::Finished);
    }
    let payload = hooks::payload(
        Stage::PostTraffic,
        &watch.env,
        &schedule.name,
        &shift.candidates(),
    );
    let Some(failed) = watch.hooks.run(Stage::PostTraffic, &payload).await? else {
        return Ok(Ended::Finished);
    };
    if let Some(ended) = reader_gone(subject, 100.0) {
        return Ok(ended);
    }
    if crate::interrupt::requested() && watch.leave {
        note(&format!(
            "{subject}: left at 100% (--leave) while the post-traffic hook ran ({failed})"
        ));
        return Ok(Ended::Left(100.0));
    }
    crate::interrupt::handled();
    note(&format!("{subject}: {failed}: moving the pointer back"));
    shift.annotate(Some(
        serde_json::json!({ "aborted": failed.to_string(), "at": now() }),
    ));
    match shift.step(Move::Revert).await? {
        ExitCode::Success => {
            crate::cli::report(&hook_error(subject, &failed, true));
            Ok(Ended::Rejected(failed))
        }
        code => Err(Error::Aws {
            doing: format!("moving {subject} back"),
            message: format!(
                "{failed}, and moving it back failed (exit {}): see its error above",
                code.code()
            ),
        }),
    }
}

fn hook_error(subject: &str, failed: &Failed, moved_back: bool) -> Error {
    Error::Aws {
        doing: format!("shifting traffic on {subject}"),
        message: format!(
            "{failed}; {}",
            if moved_back {
                "all traffic is back where it came from"
            } else {
                "no traffic was moved"
            }
        ),
    }
}

/// What the pointer sends before step `i`: the step before's percentage, or `current`.
fn current_or(i: usize, steps: &[crate::schedule::Step], current: f64) -> f64 {
    i.checked_sub(1)
        .map_or(current, |before| steps[before].percent)
}

/// A closed stdout (`| head -1`) ends the shift where it is: no new change may start, since its
/// record could not be delivered (the engine would not make it), and that includes an abort.
fn reader_gone(subject: &str, at: f64) -> Option<Ended> {
    (crate::interrupt::stdout_closed() || crate::output::stdout_reader_gone()).then(|| {
        note(&format!(
            "{subject}: stdout was closed: the shift stops at {at}% (no new change starts); run \
             the same command again to go on, or `canary --abort`"
        ));
        Ended::Failed(ExitCode::Aws)
    })
}

/// Now, as records write a time.
fn now() -> String {
    aws_smithy_types::DateTime::from(std::time::SystemTime::now())
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

/// Take the traffic back, saying why.
async fn abort(subject: &str, shift: &mut impl Shift, why: &str) -> Result<()> {
    note(&format!("{subject}: {why}: taking all traffic back"));
    shift.annotate(Some(serde_json::json!({ "aborted": why, "at": now() })));
    match shift.step(Move::Abort).await? {
        ExitCode::Success => Ok(()),
        code => Err(Error::Aws {
            doing: format!("taking the traffic of {subject} back"),
            message: format!(
                "the abort failed (exit {}): see its error above",
                code.code()
            ),
        }),
    }
}

fn alarm_error(subject: &str, alarm: &Alarm, moved_back: bool) -> Error {
    Error::Aws {
        doing: format!("shifting traffic on {subject}"),
        message: format!(
            "alarm {} is {} ({}); {}",
            alarm.name,
            alarm.state,
            alarm.reason,
            if moved_back {
                "all traffic is back where it came from"
            } else {
                "no traffic was moved"
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alarm(state: &str) -> Alarm {
        Alarm {
            name: "errors".into(),
            state: state.into(),
            reason: "threshold crossed".into(),
        }
    }

    /// A pointer that only remembers its moves, with alarms that turn to ALARM after
    /// `ok_reads` reads.
    struct Remembered {
        moves: Vec<Move>,
        reads: usize,
        ok_reads: usize,
    }

    impl Shift for Remembered {
        async fn step(&mut self, to: Move) -> Result<ExitCode> {
            self.moves.push(to);
            Ok(ExitCode::Success)
        }
        fn candidates(&self) -> Vec<Value> {
            vec![serde_json::json!({"function": "f", "version": "2"})]
        }
        fn annotate(&mut self, _shift: Option<Value>) {}
        async fn alarms(&mut self, _gate: &Gate) -> Result<Vec<Alarm>> {
            self.reads += 1;
            Ok(vec![alarm(if self.reads > self.ok_reads {
                "ALARM"
            } else {
                "OK"
            })])
        }
    }

    async fn shift(current: f64, ok_reads: usize) -> (Result<Ended>, Vec<Move>) {
        hooked(current, ok_reads, Hooks::default()).await
    }

    async fn hooked(current: f64, ok_reads: usize, hooks: Hooks) -> (Result<Ended>, Vec<Move>) {
        let schedule = Schedule::custom(&[10.0, 50.0], Duration::from_millis(30)).unwrap();
        let watch = Watch {
            gate: Gate {
                patterns: vec!["errors".into()],
                insufficient_data_fails: false,
            },
            hooks,
            env: "prod".into(),
            poll: Duration::from_millis(10),
            leave: false,
            live: false,
        };
        let mut pointer = Remembered {
            moves: Vec::new(),
            reads: 0,
            ok_reads,
        };
        let ended = run("f alias prod", &schedule, current, &watch, &mut pointer).await;
        (ended, pointer.moves)
    }

    #[tokio::test]
    async fn a_quiet_shift_takes_every_step_and_finishes() {
        let (ended, moves) = shift(0.0, usize::MAX).await;
        assert_eq!(ended.unwrap(), Ended::Finished);
        assert_eq!(
            moves,
            [Move::Weight(10.0), Move::Weight(50.0), Move::Finish]
        );
    }

    #[tokio::test]
    async fn an_alarm_mid_shift_takes_the_traffic_back() {
        let (ended, moves) = shift(0.0, 2).await;
        assert!(matches!(ended.unwrap(), Ended::Alarmed(a) if a.state == "ALARM"));
        assert_eq!(moves.first(), Some(&Move::Weight(10.0)));
        assert_eq!(moves.last(), Some(&Move::Abort));
        assert!(!moves.contains(&Move::Finish));
    }

    #[tokio::test]
    async fn an_alarm_before_the_first_step_moves_nothing() {
        let (ended, moves) = shift(0.0, 0).await;
        assert!(ended
            .unwrap_err()
            .to_string()
            .contains("no traffic was moved"));
        assert!(moves.is_empty());
    }

    #[tokio::test]
    async fn a_shift_run_again_continues_from_the_current_weight() {
        let (ended, moves) = shift(10.0, usize::MAX).await;
        assert_eq!(ended.unwrap(), Ended::Finished);
        assert_eq!(moves, [Move::Weight(50.0), Move::Finish]);
    }

    fn commands(pre: &str, post: &str) -> Hooks {
        Hooks {
            pre: vec![Hook::Command(pre.into())],
            post: vec![Hook::Command(post.into())],
            lambda: None,
        }
    }

    #[tokio::test]
    async fn a_failed_pre_traffic_hook_moves_nothing() {
        let (ended, moves) = hooked(0.0, usize::MAX, commands("exit 1", "true")).await;
        let error = ended.unwrap_err().to_string();
        assert!(
            error.contains("pre-traffic hook command `exit 1` failed: it exited with 1")
                && error.contains("no traffic was moved"),
            "{error}"
        );
        assert!(moves.is_empty());
    }

    #[tokio::test]
    async fn a_failed_pre_traffic_hook_on_a_resumed_shift_takes_the_traffic_back() {
        let (ended, moves) = hooked(10.0, usize::MAX, commands("exit 1", "true")).await;
        assert!(ended.is_err());
        assert_eq!(moves, [Move::Abort]);
    }

    #[tokio::test]
    async fn a_failed_post_traffic_hook_moves_the_pointer_back() {
        let (ended, moves) = hooked(0.0, usize::MAX, commands("true", "exit 4")).await;
        assert!(matches!(ended.unwrap(), Ended::Rejected(f) if f.reason == "it exited with 4"));
        assert_eq!(
            moves,
            [
                Move::Weight(10.0),
                Move::Weight(50.0),
                Move::Finish,
                Move::Revert
            ]
        );
    }

    #[tokio::test]
    async fn passing_hooks_let_the_shift_finish() {
        let (ended, moves) = hooked(0.0, usize::MAX, commands("true", "true")).await;
        assert_eq!(ended.unwrap(), Ended::Finished);
        assert_eq!(moves.last(), Some(&Move::Finish));
    }
}
