//! `coachctl completions <shell>`, and the answers to a Tab (issue 22):
//! people and ids come from the database the line would use.

use std::ffi::OsStr;
use std::path::PathBuf;

use clap::{Args, CommandFactory};
use clap_complete::Shell;
use clap_complete::engine::{ArgValueCompleter, CompletionCandidate};

use super::Cli;
use crate::complete::Wanted;
use crate::db::Target;
use crate::domain::{Role, TimeZone, UserRef};
use crate::error::{Error, Result};
use crate::ids::{IdRef, Kind};

#[derive(Debug, Args)]
pub struct Cmd {
    /// The shell to print a completion script for
    #[arg(value_enum, required_unless_present = "dir")]
    shell: Option<Shell>,
    /// Write a script per shell into this directory
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

/// The completion script for one shell: a registration that asks
/// `coachctl` (on PATH) for the candidates at each Tab (clap_complete's
/// `COMPLETE=<shell>` protocol), so that values come from the database.
/// Loading it runs nothing.
pub fn script(shell: Shell) -> Vec<u8> {
    use clap_complete::env::{Bash, Elvish, EnvCompleter, Fish, Powershell, Zsh};
    let env: &dyn EnvCompleter = match shell {
        Shell::Zsh => &Zsh,
        Shell::Fish => &Fish,
        Shell::Elvish => &Elvish,
        Shell::PowerShell => &Powershell,
        _ => &Bash,
    };
    let mut buf = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = env.write_registration(VAR, "coachctl", "coachctl", "coachctl", &mut buf);
    if shell == Shell::Zsh {
        // Autoloaded from fpath as `_coachctl`, the file's body is the
        // function: complete at once rather than from the second Tab on.
        buf.extend_from_slice(
            b"if [ \"$funcstack[1]\" = \"_coachctl\" ]; then\n    _clap_dynamic_completer_coachctl \"$@\"\nfi\n",
        );
    }
    buf
}

/// The variable that asks coachctl for completions instead of running.
const VAR: &str = "COMPLETE";

/// Answer a completion request (`COMPLETE=<shell> coachctl -- WORDS`) and
/// exit; return at once when this is an ordinary run.
pub fn answer_if_asked() {
    let asked = std::env::var_os(VAR).is_some_and(|v| !v.is_empty() && v != "0");
    if !asked {
        return;
    }
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let candidates = args.iter().any(|a| a == "--");
    let here = std::env::current_dir().ok();
    match clap_complete::CompleteEnv::with_factory(command)
        .var(VAR)
        .try_complete(args, here.as_deref())
    {
        Ok(true) => std::process::exit(0),
        Ok(false) => {}
        // A Tab prints nothing and never fails; asking for a registration
        // for an unknown shell says so.
        Err(_) if candidates => std::process::exit(0),
        Err(e) => e.exit(),
    }
}

/// The command tree with value completers attached: people and ids from
/// the database, zone names from the zone database compiled in.
pub fn command() -> clap::Command {
    wire(Cli::command(), &[])
}

fn wire(cmd: clap::Command, path: &[String]) -> clap::Command {
    let cmd = cmd.mut_args(|arg| attach(arg, path));
    cmd.mut_subcommands(|sub| {
        let mut deeper = path.to_vec();
        deeper.push(sub.get_name().to_string());
        wire(sub, &deeper)
    })
}

fn attach(arg: clap::Arg, path: &[String]) -> clap::Arg {
    use std::any::TypeId;
    let ty = arg.get_value_parser().type_id();
    let wanted = if ty == TypeId::of::<UserRef>() {
        Some(person(arg.get_id().as_str(), path))
    } else if ty == TypeId::of::<IdRef>() {
        kind(path).map(Wanted::Id)
    } else if ty == TypeId::of::<TimeZone>() {
        return arg.add(ArgValueCompleter::new(zones));
    } else {
        None
    };
    match wanted {
        Some(w) => arg.add(ArgValueCompleter::new(move |typed: &OsStr| {
            from_database(w, typed)
        })),
        None => arg,
    }
}

/// Whom a person argument takes, by its name (`--coach`, `--member`, ...)
/// or, for `--after`, by the command's noun.
fn person(id: &str, path: &[String]) -> Wanted {
    let noun = path.first().map(String::as_str).unwrap_or_default();
    match (id, noun) {
        ("as_user", _) => Wanted::Anyone,
        ("coach", _) | ("after", "coach") => Wanted::Person(Some(Role::Coach)),
        ("member", _) | ("after", "member") => Wanted::Person(Some(Role::Member)),
        ("admin", _) => Wanted::Person(Some(Role::Admin)),
        _ => Wanted::Person(None),
    }
}

/// What an id argument names, by the command it belongs to.
fn kind(path: &[String]) -> Option<Kind> {
    let names: Vec<&str> = path.iter().map(String::as_str).collect();
    match names.as_slice() {
        ["session", ..] => Some(Kind::Session),
        ["invite", ..] => Some(Kind::Invitation),
        ["connect", ..] => Some(Kind::Connection),
        ["notify", ..] => Some(Kind::Notification),
        ["audit", ..] => Some(Kind::AuditEntity),
        ["availability", "unblock", ..] => Some(Kind::Block),
        ["availability", ..] => Some(Kind::Window),
        _ => None,
    }
}

fn from_database(wanted: Wanted, typed: &OsStr) -> Vec<CompletionCandidate> {
    let Some(typed) = typed.to_str() else {
        return Vec::new();
    };
    let Some((target, who)) = line_settings() else {
        return Vec::new();
    };
    crate::db::set_application_name("coachctl (completion)".into());
    crate::complete::candidates(&target, who.as_ref(), wanted, typed)
        .into_iter()
        .map(|c| CompletionCandidate::new(c.value).help(Some(c.help.into())))
        .collect()
}

/// The database and the actor of the command line being completed, found
/// as a run of that line would find them: flags, then the environment,
/// then the config file's profile, else the embedded cluster.
fn line_settings() -> Option<(Target, Option<UserRef>)> {
    use clap::FromArgMatches;
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let after = args.iter().position(|a| a == "--")? + 1;
    let mut words = args.get(after..)?.to_vec();
    // Only the words before the one being completed (bash passes the rest
    // of the line too).
    let at = std::env::var("_CLAP_COMPLETE_INDEX")
        .ok()
        .and_then(|i| i.parse().ok())
        .unwrap_or(words.len().saturating_sub(1));
    words.truncate(at);
    let matches = Cli::command()
        .ignore_errors(true)
        .try_get_matches_from(words)
        .ok()?;
    let mut global = super::Global::from_arg_matches(&matches).ok()?;
    let file = crate::config::load().ok()?;
    super::config::settle(&mut global, &matches, file.as_ref()).ok()?;
    let target = Target::from_url_or_env(global.database_url).ok()?;
    Some((target, global.as_user))
}

/// IANA zone names, as `--tz` accepts them.
fn zones(typed: &OsStr) -> Vec<CompletionCandidate> {
    let typed = typed.to_string_lossy();
    chrono_tz::TZ_VARIANTS
        .iter()
        .map(|z| z.name())
        .filter(|n| n.starts_with(typed.as_ref()))
        .map(CompletionCandidate::new)
        .collect()
}

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
