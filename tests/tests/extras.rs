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
