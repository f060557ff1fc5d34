//! `coachctl man DIR`: a man page for every command (clap_mangen), named as
//! man(1) expects: `coachctl.1`, `coachctl-session.1`, `coachctl-session-list.1`.

use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory};

use super::Cli;
use crate::error::{Error, Result};

#[derive(Debug, Args)]
pub struct Cmd {
    /// The directory to write the pages into (created if missing), e.g.
    /// ~/.local/share/man/man1
    #[arg(value_name = "DIR")]
    dir: PathBuf,
}

impl Cmd {
    pub fn run(self) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(|e| write_error(&self.dir, e))?;
        // every subcommand's page too, named by its display name
        clap_mangen::generate_to(Cli::command(), &self.dir)
            .map_err(|e| write_error(&self.dir, e))?;
        let written = std::fs::read_dir(&self.dir)
            .map(|d| {
                d.filter(|e| {
                    e.as_ref()
                        .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "1"))
                })
                .count()
            })
            .unwrap_or(0);
        eprintln!(
            "wrote man pages to {} ({written} pages there)",
            self.dir.display()
        );
        Ok(())
    }
}

fn write_error(path: &Path, e: std::io::Error) -> Error {
    Error::invalid(format!("cannot write {}: {e}", path.display()))
}
