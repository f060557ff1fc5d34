//! The coachctl binary: parse, run, map the error to an exit code.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use coachctl::cli::{Cli, report};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return report::argument_error(&e),
    };
    let format = cli.global.output;
    match coachctl::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // `coachctl ... | head`: the reader left; that is not a failure.
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => report::error(&e, format),
    }
}
