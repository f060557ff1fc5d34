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
    let text = String::from_utf8_lossy(&buf).into_owned();
    zones(shell, text).into_bytes()
}

/// `--tz` completes IANA zone names, read from the system's zoneinfo when
/// it is completed (never when the script loads). Listed statically they
/// would repeat ~600 names for every subcommand.
fn zones(shell: Shell, text: String) -> String {
    match shell {
        Shell::Fish => {
            let mut out = String::from(FISH_ZONES);
            for line in text.lines() {
                out.push_str(line);
                if line.contains(" -l tz ") {
                    out.push_str(" -f -a \"(__coachctl_zones)\"");
                }
                out.push('\n');
            }
            out
        }
        // zsh ships a completer for zone names.
        Shell::Zsh => text.replace(":IANA:_default'", ":IANA:_time_zone'"),
        Shell::Bash => text.replace(
            "--tz)\n                    COMPREPLY=($(compgen -f \"${cur}\"))",
            "--tz)\n                    COMPREPLY=($(compgen -W \"$(cd /usr/share/zoneinfo 2>/dev/null \\\n                        && find [A-Z]* -type f ! -name '*.tab' 2>/dev/null)\" -- \"${cur}\"))",
        ),
        _ => text,
    }
}

const FISH_ZONES: &str = "# IANA zone names for --tz, read when completing, not when loading
function __coachctl_zones
    string replace -r '^/usr/share/zoneinfo/' '' /usr/share/zoneinfo/{Africa,America,Antarctica,Arctic,Asia,Atlantic,Australia,Europe,Indian,Pacific}/** /usr/share/zoneinfo/UTC
end

";

/// A value parser for a type read with `FromStr` that also offers `values`
/// to shell completions (not listed in `--help`, which explains the forms).
#[derive(Clone)]
pub struct Offer<T> {
    values: &'static [&'static str],
    _type: std::marker::PhantomData<fn() -> T>,
}

pub fn offer<T>(values: &'static [&'static str]) -> Offer<T> {
    Offer {
        values,
        _type: std::marker::PhantomData,
    }
}

impl<T> clap::builder::TypedValueParser for Offer<T>
where
    T: std::str::FromStr + Clone + Send + Sync + 'static,
    T::Err: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
{
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<T, clap::Error> {
        clap::builder::StringValueParser::new()
            .try_map(|s: String| s.parse::<T>())
            .parse_ref(cmd, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            self.values
                .iter()
                .map(|v| clap::builder::PossibleValue::new(*v)),
        ))
    }
}

/// What `--day` offers.
pub const DAYS: &[&str] = &["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

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
