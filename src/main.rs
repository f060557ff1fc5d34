//! The coachctl binary: parse, run, map the error to an exit code.
#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;
use coachctl::cli::{Cli, output::Format};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                // A value clap parsed but our newtype refused: invalid input.
                ErrorKind::ValueValidation => 3,
                _ => 2,
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let format = cli.global.output;
    match coachctl::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // `coachctl ... | head`: the reader left; that is not a failure.
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            let kind = e.kind();
            let message = e.to_string();
            let mut err = std::io::stderr().lock();
            let _ = if format == Format::Json {
                let obj = serde_json::json!({ "kind": kind.as_str(), "message": message });
                writeln!(err, "{obj}")
            } else {
                writeln!(err, "error: {message}")
            };
            ExitCode::from(kind.exit_code() as u8)
        }
    }
}
