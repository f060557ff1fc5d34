//! Help that reads like cargo's, and man pages for every command.

use std::process::Command;

fn coachctl(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_coachctl"))
        .args(args)
        .env_remove("COACHCTL_AS")
        .env_remove("COACHCTL_OUTPUT")
        .output()
        .expect("run coachctl");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_commands_own_flags_come_first_and_global_options_under_their_own_heading() {
    for args in [
        ["book", "--help"],
        ["book", "-h"],
        ["session", "--help"],
        ["slots", "-h"],
    ] {
        let help = coachctl(&args);
        let own = help.find("Options:").expect("an Options heading");
        let global = help
            .find("Global options:")
            .expect("a Global options heading");
        assert!(own < global, "{args:?}:\n{help}");
        // every global option sits below its heading, none among the command's own
        let (mine, globals) = help.split_at(global);
        for flag in [
            "--database-url",
            "--as ",
            "--output",
            "--tz",
            "--no-input",
            "--color",
        ] {
            assert!(
                !mine.contains(flag),
                "{flag} among the own options of {args:?}"
            );
            assert!(globals.contains(flag), "{flag} missing from {args:?}");
        }
        assert!(
            !help.contains("=]"),
            "no dangling `[env: X=]` in {args:?}:\n{help}"
        );
    }
}

#[test]
fn short_help_gives_one_line_per_flag_and_long_help_ends_with_examples() {
    let short = coachctl(&["book", "-h"]);
    let own: Vec<&str> = short
        .split("Global options:")
        .next()
        .unwrap_or_default()
        .lines()
        .filter(|l| l.trim_start().starts_with('-'))
        .collect();
    assert!(
        own.iter()
            .any(|l| l.contains("--coach") && l.contains("The coach"))
    );
    assert!(!short.contains("Examples:"));
    for cmd in ["book", "slots", "session", "notify"] {
        let long = coachctl(&[cmd, "--help"]);
        let tail = long.rsplit("Examples:").next().unwrap_or_default();
        assert!(
            long.contains("Examples:") && tail.contains("coachctl "),
            "{cmd}:\n{long}"
        );
    }
}

#[test]
fn examples_fit_80_columns_and_the_man_page_without_being_wrapped() {
    for cmd in ["book", "slots", "session", "notify", "seed"] {
        let out = Command::new(env!("CARGO_BIN_EXE_coachctl"))
            .args([cmd, "--help"])
            .env("COLUMNS", "80")
            .output()
            .expect("run coachctl");
        let long = String::from_utf8_lossy(&out.stdout).into_owned();
        let examples = long.rsplit("Examples:\n").next().unwrap_or_default();
        // A line clap had to wrap continues at column 0; 72 columns also
        // fit the man page, which indents by 7.
        for line in examples.lines().filter(|l| !l.is_empty()) {
            assert!(
                line.starts_with("  ") && line.chars().count() <= 72,
                "{cmd}: {line:?}\n{long}"
            );
        }
    }
}

#[test]
fn man_writes_a_page_for_every_command_that_man_can_render() {
    let dir = tempfile::tempdir().expect("dir");
    let out = Command::new(env!("CARGO_BIN_EXE_coachctl"))
        .arg("man")
        .arg(dir.path())
        .output()
        .expect("run coachctl man");
    assert!(out.status.success(), "{out:?}");
    for page in [
        "coachctl.1",
        "coachctl-book.1",
        "coachctl-session-list.1",
        "coachctl-notify-send.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page)).expect(page);
        assert!(
            text.starts_with(".ie") || text.contains(".TH"),
            "{page}: not roff"
        );
        assert!(text.contains(".SH NAME"), "{page}");
    }
    let book = std::fs::read_to_string(dir.path().join("coachctl-book.1")).expect("book");
    assert!(book.contains("\\-\\-coach"), "{book}");
}

#[test]
fn bare_coachctl_prints_a_short_overview_naming_every_command_and_succeeds() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_coachctl"))
        .env("COLUMNS", "80")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().count() <= 12, "short:\n{text}");
    assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
    for noun in [
        "coach", "member", "book", "session", "slots", "notify", "db", "demo",
    ] {
        assert!(
            text.contains(&format!(" {noun},")) || text.contains(&format!(" {noun}\n")),
            "{noun} missing:\n{text}"
        );
    }
    assert!(text.contains("coachctl help"), "{text}");
    // a noun alone still shows that noun's help (exit 2, as before)
    let noun = std::process::Command::new(env!("CARGO_BIN_EXE_coachctl"))
        .arg("session")
        .output()
        .unwrap();
    assert_eq!(noun.status.code(), Some(2), "{noun:?}");
}

#[test]
fn error_is_red_with_color_always_and_plain_with_never_or_in_a_pipe() {
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_coachctl"));
        cmd.args(args).env_remove("NO_COLOR");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        String::from_utf8(out.stderr).unwrap()
    };
    let red = run(&["--color", "always", "book", "--nope"], &[]);
    assert!(red.starts_with("\x1b[1;31merror:\x1b[0m "), "{red:?}");
    let plain = run(&["--color=never", "book", "--nope"], &[]);
    assert!(plain.starts_with("error: "), "{plain:?}");
    // stderr is a pipe here: auto stays plain
    let auto = run(&["book", "--nope"], &[]);
    assert!(auto.starts_with("error: "), "{auto:?}");
}

/// Every command's `-h` at 80 columns, as `(path, text)`.
fn every_short_help() -> Vec<(String, String)> {
    use clap::CommandFactory;
    fn walk(cmd: &clap::Command, path: &str, out: &mut Vec<(String, String)>) {
        let help = cmd.clone().term_width(80).render_help().to_string();
        out.push((path.to_string(), help));
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            walk(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }
    let mut root = coachctl::cli::Cli::command();
    root.build();
    let mut out = Vec::new();
    walk(&root, "coachctl", &mut out);
    out
}

#[test]
fn short_help_is_one_line_per_option_at_80_columns_for_every_command_globals_included() {
    let helps = every_short_help();
    assert!(helps.len() > 100, "the walk found {} commands", helps.len());
    let mut bad = Vec::new();
    for (path, help) in &helps {
        let mut in_options = false;
        for line in help.lines() {
            if line.ends_with("ptions:") && !line.starts_with(' ') {
                in_options = true;
                continue;
            }
            if !line.starts_with(' ') {
                in_options = false;
            }
            let continued = line.starts_with(' ') && !line.trim_start().starts_with('-');
            // clap never wraps the usage line; the options are what this is about
            let long = line.chars().count() > 80 && !line.starts_with("Usage:");
            if long || (in_options && continued) {
                bad.push(format!("{path}: {line}"));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} lines wrap or overflow in `-h` at 80 columns:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn every_option_of_every_command_says_what_it_is_for() {
    use clap::CommandFactory;
    fn walk(cmd: &clap::Command, path: &str, bad: &mut Vec<String>) {
        for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            if help.trim().is_empty() {
                bad.push(format!("{path} {}", arg.get_id()));
            }
        }
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            walk(sub, &format!("{path} {}", sub.get_name()), bad);
        }
    }
    let mut root = coachctl::cli::Cli::command();
    root.build();
    let mut bad = Vec::new();
    walk(&root, "coachctl", &mut bad);
    assert!(bad.is_empty(), "options without help:\n{}", bad.join("\n"));
}
