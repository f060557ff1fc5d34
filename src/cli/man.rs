//! `coachctl man [DIR]`: a man page for every command, named as man(1)
//! expects: `coachctl.1`, `coachctl-session.1`, `coachctl-session-list.1`.
//! Each carries EXIT STATUS, ENVIRONMENT and FILES from [`reference`] (the
//! README's tables) and EXAMPLES from the command's help.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory};

use super::{Cli, reference};
use crate::error::{Error, Result};

#[derive(Debug, Args)]
pub struct Cmd {
    /// The directory to write the pages into
    ///
    /// Created if missing. Default: your own man directory, $XDG_DATA_HOME/man/man1 or
    /// ~/.local/share/man/man1.
    #[arg(value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// Examples for pages whose command shows none of its own.
const TOP_EXAMPLES: &str = "coachctl demo
coachctl db up
coachctl coach list
coachctl --as ana@example.com member list -o json
coachctl session remind && coachctl notify send
coachctl doctor";

impl Cmd {
    pub fn run(self) -> Result<()> {
        let dir = match self.dir {
            Some(dir) => dir,
            None => user_man_dir()?,
        };
        std::fs::create_dir_all(&dir).map_err(|e| write_error(&dir, e))?;
        let written = write_pages(&dir)?;
        eprintln!(
            "wrote {written} man pages to {}; read one with: man coachctl-book",
            dir.display()
        );
        Ok(())
    }
}

/// Where man(1) looks for a user's own pages.
fn user_man_dir() -> Result<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    let base = var("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .ok_or_else(|| {
            Error::invalid("cannot tell where your man pages go: give a directory, or set HOME")
        })?;
    Ok(base.join("man/man1"))
}

/// Write every command's page into `dir`; how many.
pub fn write_pages(dir: &Path) -> Result<usize> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut n = 0;
    write_tree(&cmd, dir, &[], &mut n)?;
    Ok(n)
}

fn write_tree(cmd: &clap::Command, dir: &Path, inherited: &[String], n: &mut usize) -> Result<()> {
    let own = examples(cmd);
    let examples = if own.is_empty() {
        inherited.to_vec()
    } else {
        own
    };
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_tree(sub, dir, &examples, n)?;
    }
    let man = clap_mangen::Man::new(cmd.clone());
    let path = dir.join(man.get_filename());
    let mut page = Vec::new();
    render(&man, cmd, &examples, &mut page).map_err(|e| write_error(&path, e))?;
    std::fs::write(&path, page).map_err(|e| write_error(&path, e))?;
    *n += 1;
    Ok(())
}

fn render(
    man: &clap_mangen::Man,
    cmd: &clap::Command,
    examples: &[String],
    w: &mut Vec<u8>,
) -> std::io::Result<()> {
    man.render_title(w)?;
    man.render_name_section(w)?;
    man.render_synopsis_section(w)?;
    man.render_description_section(w)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(w)?;
    }
    if cmd.has_subcommands() {
        man.render_subcommands_section(w)?;
    }
    // Help text besides the examples (the config file's format, ...).
    if let Some(after) = cmd.get_after_long_help() {
        let text = after.to_string();
        if !text.trim_start().starts_with("Examples:") {
            man.render_extra_section(w)?;
        }
    }
    w.write_all(reference::roff_section("EXIT STATUS", reference::EXIT_CODES).as_bytes())?;
    w.write_all(reference::roff_section("ENVIRONMENT", reference::ENVIRONMENT).as_bytes())?;
    w.write_all(reference::roff_section("FILES", reference::FILES).as_bytes())?;
    let top: Vec<String> = TOP_EXAMPLES.lines().map(str::to_string).collect();
    let examples = if examples.is_empty() { &top } else { examples };
    w.write_all(reference::roff_examples(examples).as_bytes())?;
    man.render_version_section(w)?;
    Ok(())
}

/// The lines after "Examples:" in a command's long help.
fn examples(cmd: &clap::Command) -> Vec<String> {
    let Some(after) = cmd.get_after_long_help() else {
        return Vec::new();
    };
    let text = after.to_string();
    let Some((_, list)) = text.split_once("Examples:") else {
        return Vec::new();
    };
    list.lines()
        .skip_while(|l| l.trim().is_empty())
        .map(|l| l.strip_prefix("  ").unwrap_or(l).to_string())
        .collect()
}

fn write_error(path: &Path, e: std::io::Error) -> Error {
    Error::invalid(format!("cannot write {}: {e}", path.display()))
}
