//! The coachctl binary: parse, run, map the error to an exit code.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use coachctl::cli::report;

fn main() -> ExitCode {
    // `COMPLETE=<shell> coachctl -- WORDS`: a Tab in a shell, answered and gone.
    coachctl::cli::completions::answer_if_asked();
    let mut cli = match coachctl::cli::parse() {
        Ok(cli) => cli,
        Err(e) => return report::argument_error(&e),
    };
    // The config file may set the output format, errors' included.
    let settings = match coachctl::cli::configure(&mut cli) {
        Ok(s) => s,
        Err(e) => return report::error(&e, cli.global.output),
    };
    let format = cli.global.output;
    match coachctl::cli::run(cli, settings) {
        Ok(()) => ExitCode::SUCCESS,
        // `coachctl ... | head`: the reader left; that is not a failure.
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => report::error(&e, format),
    }
}
