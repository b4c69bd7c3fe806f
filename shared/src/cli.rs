//! The entry point every tool's `main` calls, and the flags every tool has. Parsing, logging,
//! promote.toml, the runtime, printing errors and choosing the exit code happen here once, so the
//! tools hold only their own logic.

use crate::aws::{Aws, AwsArgs};
use crate::config::Project;
use crate::error::{Error, ExitCode, Result};
use crate::input::Input;
use crate::output::{ColorChoice, Format, Output};
use crate::record::Service;
use std::future::Future;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::OnceLock;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// Flags shared by every tool, flattened into each tool's command line.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    #[command(flatten)]
    pub aws: AwsArgs,
    /// promote.toml to read (default: ./promote.toml, when it exists).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Make no change: print `planned` records of what would change.
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// How records are shown on stdout: ndjson (one JSON object per line), json (one JSON
    /// array), table (for people: wraps to the terminal, never cuts an id) or wide (every field).
    #[arg(long, global = true, value_enum, default_value_t = Format::Ndjson, value_name = "FORMAT")]
    pub output: Format,
    /// Colour in tables and on stderr: auto (on a terminal, unless NO_COLOR is set or
    /// TERM=dumb; CLICOLOR_FORCE forces it), always or never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
    /// More on stderr: -v each environment's account, region and credentials, and every AWS call
    /// that changes something; -vv every AWS call, with its time; -vvv the SDK's own debug
    /// stream. Secrets are never printed at any level.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Append every change record to FILE, flushed to disk the moment the change is made, so a
    /// crashed or killed run still leaves what `rollback` needs.
    #[arg(long, global = true, value_name = "FILE", env = "PROMOTE_JOURNAL")]
    pub journal: Option<PathBuf>,
    /// Fingerprint secrets under KEY instead of a key drawn at random for each run, so that
    /// fingerprints of two runs can be compared. Prefer the environment variable (a command line
    /// is visible to other users). The key is never printed.
    #[arg(long, global = true, value_name = "KEY", env = "PROMOTE_FINGERPRINT_KEY",
          hide_env_values = true, value_parser = crate::secrets::FingerprintKey::parse)]
    pub fingerprint_key: Option<crate::secrets::FingerprintKey>,
    /// How many resources to work on at once.
    #[arg(long, global = true, default_value_t = 8, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
}

/// An environment name on the command line: letters, digits, `-` and `_` (as in promote.toml).
pub fn parse_env(s: &str) -> std::result::Result<String, String> {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?} is not an environment name (letters, digits, `-` and `_`)"
        ))
    }
}

/// What a tool's `run` gets: its promote.toml, AWS access and where records go.
#[derive(Debug)]
pub struct Context {
    pub project: Option<Project>,
    pub aws: Aws,
    pub out: Output,
    pub opts: Options,
    /// The services whose records the tool acts on; the others on stdin are passed on.
    pub services: &'static [Service],
}

/// Run-wide settings every tool's commands share, taken from the common flags.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// `--dry-run`: no mutating call; `planned` records instead.
    pub dry_run: bool,
    /// `--concurrency`: resources worked on at once.
    pub concurrency: usize,
    /// `-q`: only errors on stderr (no progress lines either).
    pub quiet: bool,
}

impl Context {
    /// The records on stdin when `wanted`, unless nobody is piping anything in (stdin a
    /// terminal, the null device, or closed): `None` then. A pipe or a file with no record in it
    /// is `Some` of an empty input: a promoting command must tell that apart from no input.
    pub fn input(&self, wanted: bool) -> Result<Option<Input>> {
        if !wanted || !stdin_given() {
            return Ok(None);
        }
        Input::from_stdin(self.services).map(Some)
    }

    /// The records on stdin when `wanted`, for a command that reads stdin only to know what
    /// to look at (`status`): an empty stream is no input, as nobody piping anything in is.
    pub fn stdin_if(&self, wanted: bool) -> Result<Option<Input>> {
        Ok(self.input(wanted)?.filter(|input| !input.is_empty()))
    }

    /// promote.toml, or a usage error saying what needs it.
    pub fn project(&self, needed_for: &str) -> Result<&Project> {
        self.project.as_ref().ok_or_else(|| {
            Error::usage(format!(
                "{needed_for} needs promote.toml (none in this directory; pass --config PATH)"
            ))
        })
    }
}

/// Whether something is being piped into stdin (a pipe, a file, a socket). A terminal, the null
/// device (`< /dev/null`, CI, cron) and a closed stdin mean nobody is.
fn stdin_given() -> bool {
    use std::os::unix::fs::FileTypeExt;
    if std::io::stdin().is_terminal() {
        return false;
    }
    match std::fs::metadata("/dev/stdin") {
        Ok(meta) => !meta.file_type().is_char_device(),
        Err(_) => false,
    }
}

/// A tool: its command line and what it does with it.
pub trait Tool: clap::Parser {
    /// The services whose records the tool acts on: records of others on its stdin are passed on
    /// without being kept in memory.
    const SERVICES: &'static [Service];
    /// Real command lines, one per line with a `# why` comment, shown at the end of `--help`
    /// (and in the man page) above the exit codes every tool shares.
    const EXAMPLES: &'static str;
    /// The subcommands that can change something. `--dry-run` is offered (in help, man pages
    /// and completions) only on those, and on the tool itself when there are any; elsewhere it
    /// is still accepted, and changes nothing, so that scripts which pass it everywhere keep
    /// working.
    const CHANGES: &'static [&'static str];
    /// The flags every tool has.
    fn common(&self) -> &CommonArgs;
    /// Whether the command changes anything (a dry run of it does not). A closed stdout ends a
    /// read-only command quietly; one that changes things must not hide a change (exit 3).
    fn mutates(&self) -> bool;
    /// Whether this command prints `--output html` (only `cfg-diff release` does; anything else
    /// given it is a usage error).
    fn prints_html(&self) -> bool {
        false
    }
    /// Do the work; the exit code is the worst outcome (errors already reported).
    fn run(self, ctx: &mut Context) -> impl Future<Output = Result<ExitCode>>;
}

static TOOL_NAME: OnceLock<String> = OnceLock::new();

/// The whole life of a tool's process. `crate_name` is the tool's crate (for log filtering).
pub fn main<T: Tool>(crate_name: &str) -> std::process::ExitCode {
    // `TOOL --completions SHELL` and `TOOL --man` print what packagers install, generated from
    // the same command line definition users run.
    let args: Vec<String> = std::env::args().skip(1).take(6).collect();
    if let Some(code) = extras::<T>(&args) {
        return code.into();
    }
    let tool = match T::from_arg_matches(&command::<T>().get_matches()) {
        Ok(tool) => tool,
        Err(e) => e.exit(),
    };
    let _ = TOOL_NAME.set(T::command().get_name().to_string());
    forget_empty_endpoints();
    let common = tool.common().clone();
    init_logging(crate_name, common.verbose, common.quiet, common.color);

    let code = match run(tool, common) {
        Ok(code) => code,
        Err(e) => {
            report(&e);
            e.exit_code()
        }
    };
    code.into()
}

/// An empty `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_<SERVICE>`) means "not set" to a user, but
/// makes the SDK panic. Forgotten here, while the process has one thread.
fn forget_empty_endpoints() {
    let empty: Vec<String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v)))
        .filter(|(k, v)| k.starts_with("AWS_ENDPOINT_URL") && v.is_empty())
        .map(|(k, _)| k)
        .collect();
    for key in empty {
        std::env::remove_var(key);
    }
}

/// What every tool's `--help` ends with, after its examples.
const SHARED_HELP: &str = "\
Exit codes (the same in every tool):
  0  success
  1  a check found a difference (cfg-diff)
  2  usage or bad input: nothing was changed
  3  an AWS error that persisted after retries, or an error record came in on stdin
  4  a precondition failed (a pointer is not where it was said to be, or the promotion order
     refuses): nothing was changed for that pointer
  130  interrupted: the changes in flight finished and were printed

Shell completions: TOOL completions bash|zsh|fish|elvish|powershell. Man pages: TOOL --man
(this tool's), TOOL --man SUBCOMMAND, or every page into a directory: TOOL --man-dir DIR.";

/// The tool's command line with its examples, the exit codes and where completions are, at the
/// end of its help, and `--dry-run` only where something can change.
pub fn command<T: Tool>() -> clap::Command {
    let mut command = T::command();
    // `--dry-run` is global (accepted before the subcommand too); where nothing can change, each
    // subcommand gets a hidden flag of its own by that name, which the global one then leaves
    // alone.
    let hidden = || {
        clap::Arg::new("dry_run")
            .long("dry-run")
            .action(clap::ArgAction::SetTrue)
            .hide(true)
    };
    if T::CHANGES.is_empty() {
        command = command.mut_arg("dry_run", |arg| arg.hide(true));
    }
    let read_only: Vec<String> = command
        .get_subcommands()
        .map(|sub| sub.get_name().to_string())
        .filter(|name| !T::CHANGES.contains(&name.as_str()))
        .collect();
    for name in read_only {
        command = command.mut_subcommand(name, |sub| sub.arg(hidden()));
    }
    let shared = SHARED_HELP.replace("TOOL", command.get_name());
    let examples: Vec<String> = T::EXAMPLES
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| format!("  {l}"))
        .collect();
    let help = if examples.is_empty() {
        shared
    } else {
        format!("Examples:\n{}\n\n{shared}", examples.join("\n"))
    };
    command.after_help(help)
}

/// `completions SHELL` (or `--completions SHELL`), `--man [SUBCOMMAND...]` (a page on stdout) and
/// `--man-dir DIR` (the tool's page and every subcommand's, as files), when they are the whole
/// command line.
fn extras<T: Tool>(args: &[String]) -> Option<ExitCode> {
    let mut command = command::<T>();
    let name = command.get_name().to_string();
    // Generated into memory first: clap's generators panic on a closed pipe.
    let mut text = Vec::new();
    let generated = match args {
        [flag] if flag == "--completions" || flag == "completions" => {
            eprintln!("{name}: {flag} takes a shell: bash, zsh, fish, elvish or powershell ({name} {flag} bash)");
            return Some(ExitCode::Usage);
        }
        [flag, shell] if flag == "--completions" || flag == "completions" => {
            let Ok(shell) = shell.parse::<clap_complete::Shell>() else {
                eprintln!(
                    "{name}: {flag} takes bash, zsh, fish, elvish or powershell, not {shell:?}"
                );
                return Some(ExitCode::Usage);
            };
            clap_complete::generate(shell, &mut command, name, &mut text);
            Ok(())
        }
        [flag, path @ ..] if flag == "--man" && path.iter().all(|w| !w.starts_with('-')) => {
            match crate::man::page(command, T::EXAMPLES, path) {
                Some(page) => page.map(|page| text = page.roff),
                None => {
                    eprintln!(
                        "{name}: --man takes a subcommand of {name} ({name} --help lists them), not {:?}",
                        path.join(" ")
                    );
                    return Some(ExitCode::Usage);
                }
            }
        }
        [flag] if flag == "--man-dir" => {
            eprintln!("{name}: --man-dir takes a directory ({name} --man-dir target/man)");
            return Some(ExitCode::Usage);
        }
        [flag, dir] if flag == "--man-dir" => {
            return Some(write_pages::<T>(command, std::path::Path::new(dir)));
        }
        _ => return None,
    };
    let written = generated.and_then(|()| std::io::Write::write_all(&mut std::io::stdout(), &text));
    Some(match written {
        Ok(()) => ExitCode::Success,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::Success,
        Err(e) => {
            report(&Error::Output(e));
            ExitCode::Aws
        }
    })
}

/// `--man-dir DIR`: every page of the tool into DIR (made when missing), each file's path on
/// stdout.
fn write_pages<T: Tool>(command: clap::Command, dir: &std::path::Path) -> ExitCode {
    let name = command.get_name().to_string();
    let written = (|| -> std::io::Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir)?;
        let mut paths = Vec::new();
        for page in crate::man::pages(command, T::EXAMPLES)? {
            let path = dir.join(&page.file);
            std::fs::write(&path, &page.roff)?;
            paths.push(path);
        }
        Ok(paths)
    })();
    match written {
        Ok(paths) => {
            let list: String = paths.iter().map(|p| format!("{}\n", p.display())).collect();
            match std::io::Write::write_all(&mut std::io::stdout(), list.as_bytes()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    report(&Error::Output(e));
                    ExitCode::Aws
                }
                _ => ExitCode::Success,
            }
        }
        Err(e) => {
            eprintln!(
                "{name}: cannot write the man pages into {}: {e}",
                dir.display()
            );
            ExitCode::Usage
        }
    }
}

fn run<T: Tool>(tool: T, common: CommonArgs) -> Result<ExitCode> {
    if common.output == Format::Html && !tool.prints_html() {
        return Err(Error::usage(format!(
            "--output html is the page of `cfg-diff release` only; {} prints ndjson, json, table or wide",
            T::command().get_name()
        )));
    }
    let mut out = Output::stdout(common.output, common.color);
    let mutates = tool.mutates() && !common.dry_run;
    let prepared = (|| {
        let project = Project::find(common.config.as_deref())?;
        if let Some(key) = &common.fingerprint_key {
            crate::secrets::use_key_for_run(key.clone());
        }
        if let Some(path) = common.journal.as_deref().filter(|_| mutates) {
            crate::journal::open(path)?;
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::usage(format!("cannot start the async runtime: {e}")))?;
        Ok((project, runtime))
    })();
    let (project, runtime) = match prepared {
        Ok(prepared) => prepared,
        Err(e) => {
            // `--output json` is one array however the run ends: `[]` for a run that never began.
            let _ = out.finish();
            return Err(e);
        }
    };
    out.set_mutating(mutates);
    let mut ctx = Context {
        aws: Aws::new(common.aws.clone(), project.clone()),
        project,
        out,
        opts: Options {
            dry_run: common.dry_run,
            concurrency: usize::from(common.concurrency),
            quiet: common.quiet,
        },
        services: T::SERVICES,
    };
    runtime.block_on(async {
        crate::interrupt::listen();
        let code = tool.run(&mut ctx).await;
        // The table view is printed even when some items failed: it shows what did happen.
        let finished = ctx.out.finish();
        // A reader that left before the end (`| head -1`) may not have read what was written.
        ctx.out.check_reader();
        let code = match (code, finished) {
            (Err(Error::BrokenPipe), _) | (Ok(_), Err(Error::BrokenPipe)) => Ok(ExitCode::Success),
            (Err(e), _) | (Ok(_), Err(e)) => Err(e),
            (Ok(code), Ok(())) => Ok(code),
        };
        // A closed stdout never hides a change: the run says where the records went, exit 3.
        match ctx.out.undelivered() {
            Some(e) => {
                if let Err(other) = &code {
                    report(other);
                }
                report(&e);
                Ok(code.unwrap_or(ExitCode::Success).worst(e.exit_code()))
            }
            None => code,
        }
    })
}

/// Print a message for people on stderr, prefixed with the tool's name.
pub fn note(message: &str) {
    let name = TOOL_NAME.get().map_or("note", String::as_str);
    eprintln!("{name}: {message}");
}

/// Print an error for people on stderr, prefixed with the tool's name. A message already
/// printed in this run is not printed again: one cause (no credentials, an expired token) fails
/// every item the same way, and once is enough to read; each item's `error` record still says
/// it.
pub fn report(error: &Error) {
    static PRINTED: std::sync::Mutex<Option<std::collections::HashSet<String>>> =
        std::sync::Mutex::new(None);
    if matches!(error, Error::BrokenPipe) {
        return;
    }
    let message = error.to_string();
    if let Ok(mut printed) = PRINTED.lock() {
        if !printed
            .get_or_insert_with(Default::default)
            .insert(message.clone())
        {
            return;
        }
    }
    let name = TOOL_NAME.get().map_or("error", String::as_str);
    eprintln!("{name}: {message}");
}

fn init_logging(crate_name: &str, verbose: u8, quiet: bool, color: ColorChoice) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(filter) if !filter.is_empty() => filter,
        _ => match (quiet, verbose) {
            (true, _) => "error".to_string(),
            // The SDK's own warnings (every credentials provider it tried) only from -v on: the
            // error message already says what to do.
            (false, 0) => format!("error,shared=warn,{crate_name}=warn"),
            (false, 1) => format!("warn,shared=info,{crate_name}=info"),
            (false, 2) => format!("info,shared=debug,{crate_name}=debug"),
            (false, _) => format!("debug,shared=trace,{crate_name}=trace"),
        },
    };
    // Secrets are never printed, at any verbosity: at TRACE the SDK logs whole response bodies
    // and parsed outputs (stage variables, parameter values). Whatever RUST_LOG says, other
    // crates' TRACE events are dropped; their DEBUG carries no payloads.
    let ours = [crate_name.to_string(), "shared".to_string()];
    let no_payloads = tracing_subscriber::filter::filter_fn(move |meta| {
        *meta.level() != tracing::Level::TRACE
            || ours.iter().any(|crate_name| {
                meta.target() == crate_name || meta.target().starts_with(&format!("{crate_name}::"))
            })
    });
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(color.paints_here(std::io::stderr().is_terminal()))
        .with_target(verbose >= 2)
        .without_time()
        .with_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_filter(no_payloads);
    // From -v on, the SDK's operation spans are timed (whatever the filter above lets through),
    // and said as `shared::calls` lines: writes at -v, every call at -vv.
    let calls = (verbose >= 1 && !quiet).then(|| {
        crate::calls::CallTimes.with_filter(tracing_subscriber::filter::filter_fn(
            crate::calls::is_operation,
        ))
    });
    let _ = tracing_subscriber::registry()
        .with(layer)
        .with(calls)
        .try_init();
}
