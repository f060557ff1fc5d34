//! How a failure reaches a person or a script: one line on stderr, or one
//! JSON object `{"kind":…,"message":…}` under `-o json`, for clap's
//! argument errors as for every other (DESIGN.md, "Errors and exit codes").

use std::error::Error as _;
use std::ffi::OsString;
use std::io::IsTerminal;
use std::io::Write;
use std::process::ExitCode;

use clap::error::{ContextKind, ContextValue, ErrorKind};

use super::output::Format;
use crate::domain::text::escaped;
use crate::error::Error;

/// Print a failed command's error and give its exit code.
pub fn error(e: &Error, format: Format) -> ExitCode {
    let kind = e.kind();
    if let Error::Rows(rows) = e {
        print_rows(format == Format::Json, kind.as_str(), rows);
        return ExitCode::from(kind.exit_code() as u8);
    }
    print(format == Format::Json, kind.as_str(), &e.to_string());
    ExitCode::from(kind.exit_code() as u8)
}

/// Print a clap error and give its exit code: help and version as clap
/// writes them (exit 0); a value our newtype refused is invalid input
/// (exit 3); anything else is usage (exit 2).
pub fn argument_error(e: &clap::Error) -> ExitCode {
    let json = wants_json(
        std::env::args_os().skip(1),
        std::env::var_os("COACHCTL_OUTPUT"),
    );
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        // `coachctl` alone: a short overview, as git and cargo give.
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand if std::env::args_os().len() == 1 => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(overview(super::table::width()).as_bytes());
            ExitCode::SUCCESS
        }
        // `coachctl session`: the noun's help is the answer for a person.
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand if !json => {
            let _ = e.print();
            ExitCode::from(2)
        }
        ErrorKind::ValueValidation => {
            print(json, "invalid_input", &argument_message(e));
            ExitCode::from(3)
        }
        _ => {
            print(json, "usage", &argument_message(e));
            ExitCode::from(2)
        }
    }
}

/// What bare `coachctl` prints: what it is, its commands in a few lines,
/// and where to go next (the full help is `coachctl help`).
pub fn overview(width: usize) -> String {
    use clap::CommandFactory;
    let cmd = super::Cli::command();
    let mut out = format!(
        "coachctl {}: coaches, members, availability and booking on PostgreSQL\n\n\
         Usage: coachctl [OPTIONS] <COMMAND>\n\n",
        cmd.get_version().unwrap_or_default()
    );
    let names: Vec<&str> = cmd
        .get_subcommands()
        .filter(|c| !c.is_hide_set() && c.get_name() != "help")
        .map(|c| c.get_name())
        .collect();
    let lead = "Commands: ";
    let mut line = lead.to_string();
    for (i, name) in names.iter().enumerate() {
        let piece = if i + 1 < names.len() {
            format!("{name}, ")
        } else {
            (*name).to_string()
        };
        if line.len() + piece.trim_end().len() > width && line.len() > lead.len() {
            out.push_str(line.trim_end());
            out.push('\n');
            line = " ".repeat(lead.len());
        }
        line.push_str(&piece);
    }
    out.push_str(line.trim_end());
    out.push_str(
        "\n\nStart with: coachctl demo (a sample organisation on the embedded database)\n\
         Every command and option: coachctl help; one command: coachctl help book\n",
    );
    out
}

fn print(json: bool, kind: &str, message: &str) {
    // Messages are escaped already; this is the last guard for one line.
    let message = escaped(message).to_string();
    let mut err = std::io::stderr().lock();
    // One write: stderr is unbuffered, and a JSON value displays in pieces.
    let line = if json {
        let obj = serde_json::json!({ "kind": kind, "message": message });
        format!("{obj}\n")
    } else {
        format!("{}{message}\n", error_label())
    };
    let _ = err.write_all(line.as_bytes());
}

/// `error: `, in bold red when stderr is a terminal (or `--color always`),
/// as cargo and git write it; plain with `--color never` or NO_COLOR.
fn error_label() -> &'static str {
    if stderr_color(
        std::env::args_os().skip(1),
        std::env::var_os("NO_COLOR"),
        std::io::stderr().is_terminal(),
    ) {
        "\x1b[1;31merror:\x1b[0m "
    } else {
        "error: "
    }
}

/// Whether to colour stderr: the last `--color` given wins; `auto` (the
/// default) colours a terminal unless NO_COLOR is set. Read by hand, as
/// errors are printed also when clap could not parse the line.
pub fn stderr_color<I: IntoIterator<Item = OsString>>(
    args: I,
    no_color: Option<OsString>,
    terminal: bool,
) -> bool {
    let mut args = args.into_iter().map(|a| a.to_string_lossy().into_owned());
    let mut chosen: Option<String> = None;
    while let Some(a) = args.next() {
        if a == "--" {
            break;
        }
        if a == "--color" {
            chosen = args.next();
        } else if let Some(v) = a.strip_prefix("--color=") {
            chosen = Some(v.to_string());
        }
    }
    match chosen.as_deref() {
        Some("always") => true,
        Some("never") => false,
        _ => terminal && no_color.is_none_or(|v| v.is_empty()),
    }
}

/// A roster's bad rows: one line each (`line 17: ...`), every one of them
/// (they are data about the file), then the summary; under `-o json` one
/// object with the rows as a list.
fn print_rows(json: bool, kind: &str, rows: &crate::roster::RowErrors) {
    let mut err = std::io::stderr().lock();
    let summary = escaped(&rows.summary).to_string();
    let _ = if json {
        let list: Vec<serde_json::Value> = rows
            .rows
            .iter()
            .map(|r| serde_json::json!({ "line": r.line, "message": escaped(&r.message).to_string() }))
            .collect();
        let obj = serde_json::json!({ "kind": kind, "message": summary, "rows": list });
        err.write_all(format!("{obj}\n").as_bytes())
    } else {
        let mut text = String::new();
        for r in &rows.rows {
            text.push_str(&format!("line {}: {}\n", r.line, escaped(&r.message)));
        }
        writeln!(err, "{text}{}{summary}", error_label())
    };
}

/// Does the command line ask for `-o json` (or `COACHCTL_OUTPUT=json`)?
/// Read by hand, because it is needed exactly when clap could not parse.
/// The last `-o`/`--output` wins, as it would for clap; `--` ends options.
pub fn wants_json<I: IntoIterator<Item = OsString>>(args: I, env: Option<OsString>) -> bool {
    let mut args = args.into_iter().map(|a| a.to_string_lossy().into_owned());
    let mut chosen: Option<String> = None;
    while let Some(a) = args.next() {
        if a == "--" {
            break;
        }
        let value = if a == "--output" {
            args.next()
        } else if let Some(v) = a.strip_prefix("--output=") {
            Some(v.to_string())
        } else if let Some(cluster) = a.strip_prefix('-').filter(|c| !c.starts_with('-')) {
            // -o json, -ojson, -o=json, and flags before it: -yo json
            match cluster.trim_start_matches(['y', 'v']).strip_prefix('o') {
                Some("") => args.next(),
                Some(rest) => Some(rest.strip_prefix('=').unwrap_or(rest).to_string()),
                None => None,
            }
        } else {
            None
        };
        if value.is_some() {
            chosen = value;
        }
    }
    match chosen {
        Some(v) => v == "json",
        None => env.is_some_and(|v| v == "json"),
    }
}

/// clap's error as one sentence: the refused value's own message for a
/// validation error; else clap's first paragraph and its tips.
fn argument_message(e: &clap::Error) -> String {
    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        return "a subcommand is required; see --help for the list".into();
    }
    if e.kind() == ErrorKind::ValueValidation
        && let Some(cause) = e.source()
    {
        return match e.get(ContextKind::InvalidArg) {
            Some(ContextValue::String(arg)) => format!("invalid value for {arg}: {cause}"),
            _ => cause.to_string(),
        };
    }
    let rendered = e.render().to_string();
    let rendered = rendered.strip_prefix("error: ").unwrap_or(&rendered);
    // clap continues a line with an indented one ("\n  [subcommands: ...]");
    // any other newline is part of a value and is shown escaped by `print`.
    let mut paragraphs = rendered
        .split("\n\n")
        .map(|p| p.trim().replace("\n  ", " "));
    let mut message = paragraphs.next().unwrap_or_default();
    for tip in paragraphs.filter(|p| p.starts_with("tip:")) {
        message.push_str(" (");
        message.push_str(&tip);
        message.push(')');
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(args: &[&str], env: Option<&str>) -> bool {
        wants_json(args.iter().map(OsString::from), env.map(OsString::from))
    }

    #[test]
    fn json_output_is_found_in_every_spelling_of_the_option() {
        assert!(json(&["coach", "list", "-o", "json"], None));
        assert!(json(&["-ojson", "coach"], None));
        assert!(json(&["-o=json", "coach"], None));
        assert!(json(&["--output", "json"], None));
        assert!(json(&["--output=json"], None));
        assert!(json(&["-yo", "json"], None));
        assert!(json(&["coach"], Some("json")));
    }

    #[test]
    fn the_last_output_option_wins_and_the_environment_is_the_default() {
        assert!(!json(&["-o", "json", "-o", "csv"], None));
        assert!(!json(&["-o", "table"], Some("json")));
        assert!(!json(&["coach"], Some("csv")));
        assert!(!json(&["--", "-o", "json"], None));
        assert!(!json(&["--notes", "x"], None));
    }
}
