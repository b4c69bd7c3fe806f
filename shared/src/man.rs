//! Man pages: the tool's own and one for each of its subcommands (`TOOL-SUB.1`, the pages the
//! tool's page lists), generated from the command line users run, each with the examples that
//! use that subcommand and the exit codes every tool shares.

use std::io::{Result, Write};

/// The exit codes every tool shares: the end of every `--help` and every man page's EXIT STATUS.
pub(crate) const EXIT_CODES: &[(&str, &str)] = &[
    ("0", "success"),
    ("1", "a check found a difference (cfg-diff)"),
    ("2", "usage or bad input: nothing was changed"),
    (
        "3",
        "an AWS error that persisted after retries, or an error record came in on stdin",
    ),
    (
        "4",
        "a precondition failed (a pointer is not where it was said to be, or the promotion order \
         refuses): nothing was changed for that pointer",
    ),
    (
        "130",
        "interrupted: the changes in flight finished and were printed",
    ),
];

/// One man page: its file name (`TOOL-SUB.1`) and its roff text.
pub(crate) struct Page {
    pub file: String,
    pub roff: Vec<u8>,
}

/// Every page of a tool, its own first, then each visible subcommand's (and theirs), in the order
/// the tool lists them. `examples` are the tool's `Tool::EXAMPLES`.
pub(crate) fn pages(command: clap::Command, examples: &str) -> Result<Vec<Page>> {
    let root = built(command);
    let mut pages = Vec::new();
    collect(&root, &root, &mut Vec::new(), examples, &mut pages)?;
    Ok(pages)
}

/// The page of the subcommand at `path` (empty: the tool's own), or `None` when the tool has no
/// such visible subcommand.
pub(crate) fn page(
    command: clap::Command,
    examples: &str,
    path: &[String],
) -> Option<Result<Page>> {
    let root = built(command);
    let mut at = &root;
    let mut trail = Vec::new();
    for name in path {
        at = visible(at)
            .find(|sub| sub.get_name() == name || sub.get_all_aliases().any(|a| a == name))?;
        trail.push(at);
    }
    Some(render(&root, at, &trail, examples))
}

/// The command with every subcommand's page name (`TOOL-SUB`) and synopsis (`TOOL SUB`) set, and
/// no `help` subcommand (`--help` is every page's own).
fn built(command: clap::Command) -> clap::Command {
    let mut command = command.disable_help_subcommand(true);
    command.build();
    command
}

fn visible(command: &clap::Command) -> impl Iterator<Item = &clap::Command> {
    command.get_subcommands().filter(|sub| !sub.is_hide_set())
}

fn collect<'a>(
    root: &'a clap::Command,
    at: &'a clap::Command,
    trail: &mut Vec<&'a clap::Command>,
    examples: &str,
    pages: &mut Vec<Page>,
) -> Result<()> {
    pages.push(render(root, at, trail, examples)?);
    for sub in visible(at) {
        trail.push(sub);
        collect(root, sub, trail, examples, pages)?;
        trail.pop();
    }
    Ok(())
}

/// The page of `at`, the subcommand reached from `root` through `trail`: clap_mangen's sections
/// (name, synopsis, description, options, subcommands), then the examples, the exit codes and
/// the pages around it.
fn render(
    root: &clap::Command,
    at: &clap::Command,
    trail: &[&clap::Command],
    examples: &str,
) -> Result<Page> {
    // Every page's footer names the tool and its version, a subcommand's too.
    let source = format!(
        "{} {}",
        root.get_name(),
        root.get_version().unwrap_or_default()
    );
    let man = clap_mangen::Man::new(at.clone()).source(source.trim_end().to_string());
    let mut roff = Vec::new();
    man.render_title(&mut roff)?;
    man.render_name_section(&mut roff)?;
    man.render_synopsis_section(&mut roff)?;
    man.render_description_section(&mut roff)?;
    if at.get_arguments().any(|arg| !arg.is_hide_set()) {
        man.render_options_section(&mut roff)?;
    }
    if visible(at).next().is_some() {
        man.render_subcommands_section(&mut roff)?;
    }
    let tool = root.get_name();
    let shown: Vec<&str> = examples
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && uses(line, tool, trail))
        .collect();
    if !shown.is_empty() {
        writeln!(roff, ".SH EXAMPLES\n.nf")?;
        for line in shown {
            writeln!(roff, "{}", escape(line))?;
        }
        writeln!(roff, ".fi")?;
    }
    writeln!(
        roff,
        ".SH \"EXIT STATUS\"\nExit codes (the same in every tool):"
    )?;
    for (code, meaning) in EXIT_CODES {
        writeln!(roff, ".TP\n.B {code}\n{}", escape(meaning))?;
    }
    // Up the tree: the tool's page and every subcommand's page above this one.
    let mut around: Vec<String> = Vec::new();
    if !trail.is_empty() {
        around.push(format!("{tool}(1)"));
        for sub in &trail[..trail.len() - 1] {
            around.push(format!("{}(1)", page_name(sub)));
        }
    }
    around.extend(visible(at).map(|sub| format!("{}(1)", page_name(sub))));
    if !around.is_empty() {
        writeln!(roff, ".SH \"SEE ALSO\"\n{}", escape(&around.join(", ")))?;
    }
    if at.get_version().is_some() {
        man.render_version_section(&mut roff)?;
    }
    Ok(Page {
        file: man.get_filename(),
        roff,
    })
}

/// A subcommand's page name once built: `TOOL-SUB`.
fn page_name(command: &clap::Command) -> String {
    command
        .get_display_name()
        .unwrap_or_else(|| command.get_name())
        .to_string()
}

/// Whether an example line runs the subcommand at `trail` (its name or an alias, after the tool's
/// name and its flags; anywhere in a pipeline). Every example is the tool's own page's.
fn uses(line: &str, tool: &str, trail: &[&clap::Command]) -> bool {
    if trail.is_empty() {
        return true;
    }
    let code = line.split(" #").next().unwrap_or(line);
    let words: Vec<&str> = code.split_whitespace().collect();
    words.iter().enumerate().any(|(i, word)| {
        if *word != tool {
            return false;
        }
        let mut named = words[i + 1..]
            .iter()
            .take_while(|w| !matches!(**w, "|" | ";" | "&&" | "||"))
            .filter(|w| !w.starts_with('-'));
        trail.iter().all(|sub| {
            named.next().is_some_and(|w| {
                sub.get_name() == *w || sub.get_all_aliases().any(|alias| alias == *w)
            })
        })
    })
}

/// Text as roff reads it literally: backslashes and dashes escaped, a leading `.` or `'` (a
/// request) defused.
fn escape(text: &str) -> String {
    let text = text.replace('\\', "\\e").replace('-', "\\-");
    if text.starts_with('.') || text.starts_with('\'') {
        format!("\\&{text}")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, Command};

    fn tool() -> Command {
        Command::new("demo-tool")
            .about("A demo")
            .arg(Arg::new("verbose").long("verbose").global(true).num_args(0))
            .subcommand(Command::new("status").about("What runs"))
            .subcommand(
                Command::new("canary")
                    .about("Canaries")
                    .subcommand(Command::new("start").about("Start one")),
            )
            .subcommand(Command::new("secret").hide(true))
    }

    const EXAMPLES: &str = "\
  demo-tool status --env prod            # what prod runs
  demo-tool --verbose canary start x     # a canary
  demo-tool status | demo-tool canary start   # both";

    #[test]
    fn every_visible_subcommand_has_a_page_with_its_examples_and_the_exit_codes() {
        let pages = pages(tool(), EXAMPLES).unwrap();
        let files: Vec<&str> = pages.iter().map(|p| p.file.as_str()).collect();
        assert_eq!(
            files,
            [
                "demo-tool.1",
                "demo-tool-status.1",
                "demo-tool-canary.1",
                "demo-tool-canary-start.1"
            ]
        );
        let text = |file: &str| {
            String::from_utf8(pages.iter().find(|p| p.file == file).unwrap().roff.clone()).unwrap()
        };
        let status = text("demo-tool-status.1");
        assert!(status.contains(".TH demo-tool-status 1"), "{status}");
        assert!(status.contains("what prod runs") && status.contains("# both"));
        assert!(!status.contains("# a canary"), "{status}");
        assert!(status.contains("EXIT STATUS") && status.contains(".B 130"));
        assert!(status.contains("demo\\-tool(1)"), "{status}");
        let start = text("demo-tool-canary-start.1");
        assert!(start.contains("# a canary") && start.contains("# both"));
        assert!(start.contains("demo\\-tool\\-canary(1)"), "{start}");
        let top = text("demo-tool.1");
        assert!(top.contains("demo\\-tool\\-status(1)") && !top.contains("secret"));
        assert!(!top.contains("demo-tool-help"), "no help subcommand: {top}");
        assert!(page(tool(), EXAMPLES, &["canary".into(), "start".into()]).is_some());
        assert!(page(tool(), EXAMPLES, &["secret".into()]).is_none());
    }
}
