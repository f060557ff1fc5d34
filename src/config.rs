//! The config file, `$XDG_CONFIG_HOME/coachctl/config.toml` (else
//! `~/.config/coachctl/config.toml`, or wherever `COACHCTL_CONFIG` points):
//! defaults for `as`, `output` and `tz`, and named database profiles that
//! `--profile` picks, like kubectl contexts.
//!
//! ```toml
//! as = "ana@example.com"
//! output = "table"
//! tz = "Europe/Berlin"
//! profile = "local"            # the default profile, if any
//!
//! [profiles.prod]
//! database_url = "postgres://coachctl@db.example.com/coachctl?sslmode=verify-full"
//! read_url = "postgres://coachctl@standby.example.com/coachctl"   # optional
//! as = "ops@example.com"       # optional: beats the file's own as, output, tz
//! ```
//!
//! Flags beat the environment, which beats the file, which beats the
//! built-in defaults; [`pick`] decides, and every [`Setting`] says where its
//! value came from (`coachctl config show`).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use toml::de::{DeTable, DeValue};

use crate::error::{Error, Result};

/// The variable that points at another config file.
pub const PATH_ENV: &str = "COACHCTL_CONFIG";

/// A value of the file and the line it is written on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub value: String,
    pub line: usize,
}

/// A parsed config file.
#[derive(Debug, Clone, Default)]
pub struct File {
    pub path: PathBuf,
    pub as_user: Option<Entry>,
    pub output: Option<Entry>,
    pub tz: Option<Entry>,
    pub profile: Option<Entry>,
    /// Profile name to its `database_url`.
    pub profiles: BTreeMap<String, Entry>,
    /// Profile name to its `read_url` (a standby for read-only commands).
    pub read_urls: BTreeMap<String, Entry>,
    /// Profile name to the `as`, `output` and `tz` it binds, which beat the
    /// file's own when that profile is in use (a kubectl context binds a
    /// user as well as a cluster).
    pub profile_defaults: BTreeMap<String, Defaults>,
    /// Said on stderr: the file holds a password others may read.
    pub warnings: Vec<String>,
}

/// What a profile may bind besides its database.
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    pub as_user: Option<Entry>,
    pub output: Option<Entry>,
    pub tz: Option<Entry>,
}

/// Where the config file is: `COACHCTL_CONFIG`, else
/// `$XDG_CONFIG_HOME/coachctl/config.toml`, else
/// `$HOME/.config/coachctl/config.toml`. The flag says whether the path was
/// named explicitly (then it must exist).
pub fn locate(var: impl Fn(&str) -> Option<OsString>) -> Option<(PathBuf, bool)> {
    let set = |k: &str| var(k).filter(|v| !v.is_empty());
    if let Some(p) = set(PATH_ENV) {
        return Some((PathBuf::from(p), true));
    }
    let base = set("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| set("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some((base.join("coachctl").join("config.toml"), false))
}

/// The config file of this process's environment, if there is one.
pub fn load() -> Result<Option<File>> {
    let Some((path, explicit)) = locate(|k| std::env::var_os(k)) else {
        return Ok(None);
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            trust(&path)?;
            let mut file = parse(&path, &text)?;
            if file.holds_password() && mode_of(&path).is_some_and(|m| m & 0o044 != 0) {
                file.warnings.push(format!(
                    "warning: the config file {} holds a password and others may read it; run chmod 600 {}",
                    path.display(),
                    path.display()
                ));
            }
            Ok(Some(file))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => Ok(None),
        Err(e) => Err(Error::invalid(format!(
            "cannot read the config file {}: {}",
            path.display(),
            io_reason(&e)
        ))),
    }
}

/// Trust the file only when nobody else could have written it, as ssh and
/// psql do: it and its directory belong to us (or root) and are writable by
/// no one else. Another user could otherwise point us at their database or
/// act as someone else through `as`.
fn trust(path: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let me = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX);
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    for (what, p) in [
        ("the config file", path),
        ("the directory of the config file", dir),
    ] {
        let Ok(m) = std::fs::metadata(p) else {
            continue;
        };
        let why = if m.uid() != me && m.uid() != 0 {
            Some(format!("it belongs to another user (uid {})", m.uid()))
        } else if m.mode() & 0o002 != 0 {
            Some("anyone may write to it".to_string())
        } else if m.mode() & 0o020 != 0 && !private_group(m.gid(), me) {
            Some("its group may write to it".to_string())
        } else {
            None
        };
        if let Some(why) = why {
            let fix = if m.uid() == me {
                format!("; run chmod go-w {}", p.display())
            } else {
                String::new()
            };
            return Err(Error::invalid(format!(
                "{what} {} is not trusted: {why}{fix}",
                p.display()
            )));
        }
    }
    Ok(())
}

/// A user-private group (named as the user, no other member): writable by
/// its group is then writable by the user alone, as ssh also accepts.
fn private_group(gid: u32, uid: u32) -> bool {
    let read = |f: &str| std::fs::read_to_string(f).unwrap_or_default();
    let passwd = read("/etc/passwd");
    let Some(me) = passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 2 && f[2].parse() == Ok(uid)).then(|| f[0].to_string())
    }) else {
        return false;
    };
    read("/etc/group").lines().any(|l| {
        let f: Vec<&str> = l.split(':').collect();
        f.len() > 3
            && f[2].parse() == Ok(gid)
            && f[0] == me
            && f[3].split(',').all(|m| m.is_empty() || m == me)
    })
}

fn mode_of(path: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.mode())
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => format!("it does not exist (named by {PATH_ENV})"),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Parse the text of a config file; any problem names the file and line.
pub fn parse(path: &Path, text: &str) -> Result<File> {
    let at = |line: usize, what: String| {
        Error::invalid(format!("{} line {line}: {what}", path.display()))
    };
    let line_of = |offset: usize| {
        text.as_bytes()[..offset.min(text.len())]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    };
    let doc = DeTable::parse(text).map_err(|e| {
        let line = line_of(e.span().map(|s| s.start).unwrap_or(0));
        let msg = e.message().lines().next().unwrap_or("not TOML").trim();
        at(line, format!("{msg} (the file is TOML)"))
    })?;
    let mut file = File {
        path: path.to_path_buf(),
        ..File::default()
    };
    let string = |key: &str, v: &toml::Spanned<DeValue<'_>>| match v.get_ref() {
        DeValue::String(s) => Ok(Entry {
            value: s.to_string(),
            line: line_of(v.span().start),
        }),
        _ => Err(at(
            line_of(v.span().start),
            format!("'{key}' must be a quoted string"),
        )),
    };
    for (k, v) in doc.get_ref() {
        let key = k.get_ref().as_ref();
        match key {
            "as" => file.as_user = Some(string(key, v)?),
            "output" => file.output = Some(string(key, v)?),
            "tz" => file.tz = Some(string(key, v)?),
            "profile" => file.profile = Some(string(key, v)?),
            "profiles" => {
                let DeValue::Table(profiles) = v.get_ref() else {
                    return Err(at(
                        line_of(v.span().start),
                        "'profiles' must be a table: [profiles.NAME] with database_url = \"...\""
                            .into(),
                    ));
                };
                for (name, p) in profiles {
                    let name = name.get_ref().to_string();
                    let line = line_of(p.span().start);
                    let DeValue::Table(fields) = p.get_ref() else {
                        return Err(at(
                            line,
                            format!("profile '{name}' must be a table with database_url = \"...\""),
                        ));
                    };
                    let mut url = None;
                    let mut defaults = Defaults::default();
                    for (f, fv) in fields {
                        match f.get_ref().as_ref() {
                            "database_url" => url = Some(string("database_url", fv)?),
                            "read_url" => {
                                file.read_urls.insert(name.clone(), string("read_url", fv)?);
                            }
                            "as" => defaults.as_user = Some(string("as", fv)?),
                            "output" => defaults.output = Some(string("output", fv)?),
                            "tz" => defaults.tz = Some(string("tz", fv)?),
                            other => {
                                return Err(at(
                                    line_of(f.span().start),
                                    format!(
                                        "unknown key '{other}' in profile '{name}'; a profile has database_url, read_url, as, output and tz"
                                    ),
                                ));
                            }
                        }
                    }
                    file.profile_defaults.insert(name.clone(), defaults);
                    let url = url
                        .ok_or_else(|| at(line, format!("profile '{name}' has no database_url")))?;
                    file.profiles.insert(name, url);
                }
            }
            other => {
                return Err(at(
                    line_of(k.span().start),
                    format!(
                        "unknown key '{other}'; the keys are as, output, tz, profile and [profiles.NAME]"
                    ),
                ));
            }
        }
    }
    Ok(file)
}

impl File {
    /// An error about `entry` of this file: "FILE line N: what".
    pub fn invalid(&self, entry: &Entry, what: impl fmt::Display) -> Error {
        Error::invalid(format!(
            "{} line {}: {what}",
            self.path.display(),
            entry.line
        ))
    }

    /// Whether a profile's URL carries a password.
    pub fn holds_password(&self) -> bool {
        self.profiles
            .values()
            .any(|e| url::Url::parse(&e.value).is_ok_and(|u| u.password().is_some()))
    }

    /// This file as seen with profile `name` in use: the profile's `as`,
    /// `output` and `tz` in place of the file's own.
    pub fn with_profile(&self, name: &str) -> File {
        let mut f = self.clone();
        if let Some(d) = self.profile_defaults.get(name) {
            if d.as_user.is_some() {
                f.as_user = d.as_user.clone();
            }
            if d.output.is_some() {
                f.output = d.output.clone();
            }
            if d.tz.is_some() {
                f.tz = d.tz.clone();
            }
        }
        f
    }

    /// The URL of profile `name`.
    pub fn profile_url(&self, name: &str) -> Result<&Entry> {
        self.profiles.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.profiles.keys().map(String::as_str).collect();
            let known = if known.is_empty() {
                "it defines none".to_string()
            } else {
                format!("it defines {}", known.join(", "))
            };
            Error::invalid(format!(
                "no profile '{name}' in {}; {known}",
                self.path.display()
            ))
        })
    }
}

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Flag,
    Env,
    File,
    Default,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Flag => "flag",
            Source::Env => "env",
            Source::File => "file",
            Source::Default => "default",
        }
    }
}

/// One effective setting, for `config show`.
#[derive(Debug, Clone, Serialize)]
pub struct Setting {
    /// The setting's name (`as`, `output`, ...).
    pub id: &'static str,
    pub value: String,
    pub source: Source,
    /// The flag, variable or file line it came from.
    pub from: String,
}

/// What the command line gave for a setting, as clap saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Given<'a> {
    Flag(&'a str),
    Env(&'a str),
    Nothing,
}

/// The winner for one setting: a flag, else the environment, else the
/// file, else nothing (the built-in default).
pub fn pick<'a>(
    given: Given<'a>,
    file: Option<(&'a File, &'a Entry)>,
) -> Option<(Source, &'a str)> {
    match (given, file) {
        (Given::Flag(v), _) => Some((Source::Flag, v)),
        (Given::Env(v), _) => Some((Source::Env, v)),
        (Given::Nothing, Some((_, e))) => Some((Source::File, e.value.as_str())),
        (Given::Nothing, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_found_by_coachctl_config_then_xdg_then_home() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        assert_eq!(
            locate(env(&[("COACHCTL_CONFIG", "/x.toml"), ("HOME", "/h")])),
            Some((PathBuf::from("/x.toml"), true))
        );
        assert_eq!(
            locate(env(&[("XDG_CONFIG_HOME", "/xdg"), ("HOME", "/h")])),
            Some((PathBuf::from("/xdg/coachctl/config.toml"), false))
        );
        assert_eq!(
            locate(env(&[("XDG_CONFIG_HOME", "relative"), ("HOME", "/h")])),
            Some((PathBuf::from("/h/.config/coachctl/config.toml"), false))
        );
        assert_eq!(locate(env(&[])), None);
    }

    #[test]
    fn a_malformed_file_names_its_line() {
        let p = Path::new("/c.toml");
        let e = parse(p, "as = \"a@b.c\"\noutput = json\n").unwrap_err();
        assert!(e.to_string().starts_with("/c.toml line 2:"), "{e}");
        let e = parse(p, "as = \"a@b.c\"\n\ncolour = \"red\"\n").unwrap_err();
        assert!(
            e.to_string().contains("line 3: unknown key 'colour'"),
            "{e}"
        );
        let e = parse(p, "[profiles.prod]\nurl = \"x\"\n").unwrap_err();
        assert!(e.to_string().contains("line 2: unknown key 'url'"), "{e}");
        let f = parse(
            p,
            "profile = \"prod\"\n[profiles.prod]\ndatabase_url = \"postgres://h/d\"\n",
        )
        .unwrap();
        assert_eq!(f.profile_url("prod").unwrap().value, "postgres://h/d");
        assert_eq!(f.profile_url("prod").unwrap().line, 3);
        let f = parse(
            p,
            "[profiles.prod]\ndatabase_url = \"postgres://h1,h2/d\"\nread_url = \"postgres://h2/d\"\n",
        )
        .unwrap();
        assert_eq!(f.read_urls["prod"].value, "postgres://h2/d");
        assert!(
            f.profile_url("dev")
                .unwrap_err()
                .to_string()
                .contains("defines prod")
        );
    }
}
