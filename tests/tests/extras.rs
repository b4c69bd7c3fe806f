//! Shell completions and man pages: generated from each tool's own command line, and installed
//! by the documented command.

#![allow(clippy::unwrap_used, clippy::expect_used)] // reason: tests fail loudly

use test_harness::{binary, workspace_root, Sandbox};

const TOOLS: [&str; 5] = [
    "lambda-promote",
    "ecs-pin",
    "apigw-stage",
    "s3-version",
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
