//! `coachctl completions <shell>`

use std::path::PathBuf;

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::Cli;
use crate::error::{Error, Result};

#[derive(Debug, Args)]
pub struct Cmd {
    /// The shell to print a completion script for
    #[arg(value_enum, required_unless_present = "dir")]
    shell: Option<Shell>,
    /// Write the scripts for every shell into this directory instead
    #[arg(long, hide = true, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// The file name each shell expects, as kept in `completions/`.
pub fn file_name(shell: Shell) -> &'static str {
    match shell {
        Shell::Bash => "coachctl.bash",
        Shell::Zsh => "_coachctl",
        Shell::Fish => "coachctl.fish",
        Shell::Elvish => "coachctl.elv",
        Shell::PowerShell => "_coachctl.ps1",
        _ => "coachctl.completion",
    }
}

/// The completion script for one shell.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "coachctl", &mut buf);
    buf
}

pub const SHELLS: [Shell; 5] = [
    Shell::Bash,
    Shell::Zsh,
    Shell::Fish,
    Shell::Elvish,
    Shell::PowerShell,
];

impl Cmd {
    pub fn run(self) -> Result<()> {
        use std::io::Write;
        if let Some(dir) = self.dir {
            for shell in SHELLS {
                let path = dir.join(file_name(shell));
                std::fs::write(&path, script(shell))
                    .map_err(|e| Error::invalid(format!("cannot write {}: {e}", path.display())))?;
            }
            return Ok(());
        }
        if let Some(shell) = self.shell {
            let mut out = std::io::stdout().lock();
            out.write_all(&script(shell))?;
            out.flush()?;
        }
        Ok(())
    }
}
