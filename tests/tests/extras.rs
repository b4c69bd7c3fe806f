//! Shell completions and man pages: generated from each tool's own command line, and installed
//! by the documented command.

#![allow(clippy::unwrap_used, clippy::expect_used)] // reason: tests fail loudly

use test_harness::{binary, workspace_root, Sandbox};

const TOOLS: [&str; 6] = [
    "lambda-promote",
    "ecs-pin",
    "apigw-stage",
    "s3-version",
    "sfn-promote",
    "cfg-diff",
];

#[test]
fn every_tool_prints_completions_and_a_man_page() {
    let sandbox = Sandbox::offline();
    for tool in TOOLS {
        let bin = binary(tool);
        for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
            let run = sandbox.run(&bin, &["--completions", shell], None);
            run.expect_code(0);
            assert!(run.stdout.contains(tool), "{tool} {shell}\n{run}");
        }
        let man = sandbox.run(&bin, &["--man"], None);
        man.expect_code(0);
        assert!(
            man.stdout.contains(&format!(".TH {tool} 1")),
            "{tool}\n{man}"
        );
        sandbox
            .run(&bin, &["--completions", "tcsh"], None)
            .expect_code(2);
    }
    let completions = sandbox
        .run(&binary("ecs-pin"), &["--completions", "bash"], None)
        .stdout
        .clone();
    for word in [
        "resolve",
        "promote",
        "rollback",
        "--resolve-digest",
        "--dry-run",
    ] {
        assert!(
            completions.contains(word),
            "ecs-pin's bash completions know {word}"
        );
    }
}

/// Every tool's help teaches: examples that run the tool itself, the exit codes, and where the
/// completions and the man page are; the examples' subcommands are the tool's own.
#[test]
fn every_tool_s_help_has_examples_and_the_exit_codes() {
    let sandbox = Sandbox::offline();
    for tool in TOOLS {
        let bin = binary(tool);
        let help = sandbox.run(&bin, &["--help"], None);
        help.expect_code(0);
        let text = &help.stdout;
        let examples: Vec<&str> = text
            .lines()
            .skip_while(|l| *l != "Examples:")
            .skip(1)
            .take_while(|l| !l.is_empty())
            .collect();
        assert!(examples.len() >= 2, "{tool}\n{help}");
        for example in &examples {
            let words: Vec<&str> = example.split_whitespace().collect();
            assert_eq!(words[0], tool, "{example}");
            // A subcommand (or a top-level flag) the tool knows: its help answers.
            if !words[1].starts_with('-') && tool != "cfg-diff" {
                sandbox
                    .run(&bin, &[words[1], "--help"], None)
                    .expect_code(0);
            }
        }
        for code in [
            "0  success",
            "2  usage or bad input",
            "3  an AWS error",
            "4  a precondition failed",
        ] {
            assert!(
                text.contains(code),
                "{tool} --help lacks exit code {code:?}\n{help}"
            );
        }
        assert!(
            text.contains(&format!("{tool} completions bash|zsh")),
            "{help}"
        );
        // `completions SHELL` as a subcommand, as `--completions SHELL`; no shell is exit 2.
        let run = sandbox.run(&bin, &["completions", "zsh"], None);
        run.expect_code(0);
        assert!(run.stdout.contains(tool), "{run}");
        let run = sandbox.run(&bin, &["completions"], None);
        run.expect_code(2);
        assert!(run.stderr.contains("takes a shell"), "{run}");
        // The man page carries them too.
        let man = sandbox.run(&bin, &["--man"], None);
        assert!(man.stdout.contains("Exit codes"), "{tool}");
    }
}

#[test]
fn install_extras_installs_them_all() {
    let sandbox = Sandbox::offline();
    let prefix = sandbox.path().join("prefix");
    let script = workspace_root()
        .join("scripts/install-extras")
        .display()
        .to_string();
    let run = sandbox.run(&script, &[prefix.to_str().unwrap()], None);
    run.expect_code(0);
    for tool in TOOLS {
        let share = prefix.join("share");
        assert!(
            share
                .join(format!("bash-completion/completions/{tool}"))
                .is_file(),
            "{tool}\n{run}"
        );
        assert!(share.join(format!("zsh/site-functions/_{tool}")).is_file());
        assert!(share
            .join(format!("fish/vendor_completions.d/{tool}.fish"))
            .is_file());
        let man = std::fs::read_to_string(share.join(format!("man/man1/{tool}.1"))).unwrap();
        assert!(man.contains(".SH NAME"));
    }
}

/// The subcommands a tool's `--help` lists (its "Commands:" section), `help` aside.
fn subcommands(sandbox: &Sandbox, bin: &str) -> Vec<String> {
    let help = sandbox.run(bin, &["--help"], None);
    help.expect_code(0);
    help.stdout
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        // A name is indented by two; a wrapped description further.
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(String::from)
        .collect()
}

/// `scripts/man DIR` writes a page for every tool and for every subcommand its help lists, and
/// each parses: checked by groff (`groff -man -z -ww`, no warning) where it is installed, and
/// always by reading the roff: `.TH` with the page's own name, the NAME, SYNOPSIS, DESCRIPTION
/// and EXIT STATUS sections, and every page it refers to (`TOOL-SUB(1)`) generated too. A
/// subcommand that the tool's examples use has them on its page.
#[test]
fn scripts_man_writes_a_page_for_every_tool_and_subcommand_and_each_parses() {
    let sandbox = Sandbox::offline();
    let dir = sandbox.path().join("man");
    let script = workspace_root().join("scripts/man").display().to_string();
    let run = sandbox.run(&script, &[dir.to_str().unwrap()], None);
    run.expect_code(0);
    let groff = ["/usr/bin/groff", "/usr/local/bin/groff"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let mut pages: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    for tool in TOOLS {
        let bin = binary(tool);
        assert!(pages.contains(&format!("{tool}.1")), "{tool}: {pages:?}");
        let help = sandbox.run(&bin, &["--help"], None).stdout.clone();
        for sub in subcommands(&sandbox, &bin) {
            let page = format!("{tool}-{sub}.1");
            assert!(pages.contains(&page), "{page} of {pages:?}\n{run}");
            let used = help
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{tool} {sub} ")));
            let text = std::fs::read_to_string(dir.join(&page)).unwrap();
            if used {
                assert!(text.contains(".SH EXAMPLES"), "{page} has its examples");
            }
        }
    }
    for page in &pages {
        let name = page.strip_suffix(".1").expect("section 1 pages only");
        let text = std::fs::read_to_string(dir.join(page)).unwrap();
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!(".TH {name} 1"))),
            "{page}: .TH {name} 1\n{text}"
        );
        for section in [
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH DESCRIPTION",
            ".SH \"EXIT STATUS\"",
        ] {
            assert!(
                text.lines().any(|l| l == section),
                "{page} lacks {section}\n{text}"
            );
        }
        assert!(text.contains(".B 130") && text.contains("usage or bad input"));
        // Every page named is generated: `tool\-sub(1)` as roff writes it.
        let plain = text.replace("\\-", "-");
        for (at, _) in plain.match_indices("(1)") {
            let start = plain[..at]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .map_or(0, |i| i + 1);
            let named = &plain[start..at];
            if TOOLS.iter().any(|tool| named.starts_with(tool)) {
                assert!(
                    pages.contains(&format!("{named}.1")),
                    "{page} refers to {named}(1), which is not generated: {pages:?}"
                );
            }
        }
        if let Some(groff) = groff {
            let path = dir.join(page).display().to_string();
            let check = sandbox.run(groff, &["-man", "-z", "-ww", &path], None);
            check.expect_code(0);
            assert!(check.stderr.is_empty(), "groff warns about {page}\n{check}");
        }
    }
    // One page on stdout: a subcommand's with `--man SUB`; an unknown one is exit 2.
    let man = sandbox.run(&binary("s3-version"), &["--man", "history"], None);
    man.expect_code(0);
    assert!(man.stdout.contains(".TH s3-version-history 1"), "{man}");
    let unknown = sandbox.run(&binary("s3-version"), &["--man", "nothing"], None);
    unknown.expect_code(2);
}

/// `--dry-run` is offered (in help) only where something can change, and the rest of the
/// vocabulary is the same in every tool: a canary starts with `--weight`, ends with `--finish`
/// or `--abort`; `status` and `history` are there wherever there is a pointer. The old
/// spellings (`apigw-stage canary --percent/--promote`, `ecs-pin --resolve-digest`) are still
/// accepted, and `--dry-run` on a read-only command is accepted and changes nothing.
#[test]
fn one_vocabulary_across_the_tools() {
    let sandbox = Sandbox::offline();
    let changes: [(&str, &[&str], &[&str]); 5] = [
        (
            "lambda-promote",
            &["publish", "promote", "canary", "rollback"],
            &["status", "history"],
        ),
        (
            "ecs-pin",
            &["tag", "pin", "promote", "rollback"],
            &["status", "history", "resolve", "resolve-digest"],
        ),
        (
            "apigw-stage",
            &["deploy", "promote", "canary", "rollback"],
            &["status", "history", "vars"],
        ),
        (
            "s3-version",
            &["promote", "rollback"],
            &["status", "history", "resolve", "check"],
        ),
        (
            "sfn-promote",
            &["publish", "promote", "canary", "rollback"],
            &["status", "history"],
        ),
    ];
    let offers_dry_run = |help: &str| {
        help.lines()
            .any(|l| l.trim_start().starts_with("--dry-run"))
    };
    for (tool, mutating, reading) in changes {
        let bin = binary(tool);
        for sub in mutating {
            let help = sandbox.run(&bin, &[sub, "--help"], None);
            help.expect_code(0);
            assert!(
                offers_dry_run(&help.stdout),
                "{tool} {sub} offers --dry-run"
            );
        }
        for sub in reading {
            let help = sandbox.run(&bin, &[sub, "--help"], None);
            help.expect_code(0);
            assert!(
                !offers_dry_run(&help.stdout),
                "{tool} {sub} changes nothing: no --dry-run in its help\n{help}"
            );
        }
        assert!(offers_dry_run(&sandbox.run(&bin, &["--help"], None).stdout));
    }
    let cfg_diff = sandbox.run(&binary("cfg-diff"), &["--help"], None);
    assert!(!offers_dry_run(&cfg_diff.stdout), "{cfg_diff}");

    // One canary form: start, finish, abort.
    for tool in ["lambda-promote", "apigw-stage"] {
        let help = sandbox
            .run(&binary(tool), &["canary", "--help"], None)
            .stdout;
        for flag in ["--weight", "--finish", "--abort"] {
            assert!(help.contains(flag), "{tool} canary has {flag}\n{help}");
        }
    }
    // The old apigw spellings parse (the run then fails for want of AWS, not of a flag).
    for old in [
        &[
            "canary",
            "api",
            "--env",
            "prod",
            "--deployment",
            "d1",
            "--percent",
            "10",
        ][..],
        &["canary", "api", "--env", "prod", "--promote"][..],
    ] {
        let run = sandbox.run(&binary("apigw-stage"), old, None);
        assert!(!run.stderr.contains("unexpected argument"), "{run}");
        assert_ne!(run.code, 2, "{run}");
    }
}
