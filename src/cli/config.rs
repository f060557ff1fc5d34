//! `coachctl config show`, and filling the global options from the config
//! file where neither a flag nor the environment set them.

use std::str::FromStr;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, Subcommand, ValueEnum};

use super::{Ctx, Global, output};
use crate::config::{self, Entry, File, Given, Setting, Source};
use crate::domain::{TimeZone, UserRef};
use crate::error::{Error, Result};

#[derive(Debug, Args)]
pub struct Cmd {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Print the effective settings and where each came from (flag, env,
    /// file or default); passwords are masked
    Show,
}

impl output::Record for Setting {
    const COLUMNS: &'static [&'static str] = &["id", "value", "source", "from"];
    fn id(&self) -> String {
        self.id.to_string()
    }
    // The setting's name first, and its value whole (a URL cut short would
    // hide what is used); where it came from gives way instead.
    const TABLE_HEADERS: &'static [&'static str] = &["setting", "value", "source", "from"];
    fn table_row(&self, _view: &output::View) -> Option<output::Row> {
        use super::table::Cell;
        Some(output::Row::Cells(vec![
            Cell::fixed(self.id),
            Cell::fixed(&self.value),
            Cell::fixed(self.source.as_str()),
            Cell::text(&self.from),
        ]))
    }
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        match self.command {
            Commands::Show => {
                let mut all = ctx.settings.clone();
                if let Some(db) = all.iter_mut().find(|s| s.id == "database") {
                    db.value = ctx.target().describe();
                }
                if ctx.global.output == output::Format::Table {
                    output::raw(&lines(&all, super::table::width()))
                } else {
                    output::list(ctx, chrono_tz::UTC, &all)
                }
            }
        }
    }
}

/// The table form of `config show`: `key = value   # source` lines, as
/// `git config --show-origin` reads, so that a long value (a URL, a path)
/// stays whole and copyable instead of wrapping into a grid. The comments
/// line up when they fit in `width`.
fn lines(all: &[Setting], width: usize) -> String {
    use crate::domain::text::shown;
    let head: Vec<String> = all
        .iter()
        .map(|s| format!("{} = {}", s.id, shown(&s.value)))
        .collect();
    let col = head.iter().map(|h| h.chars().count()).max().unwrap_or(0) + 3;
    let mut out = String::new();
    for (h, s) in head.iter().zip(all) {
        let origin = match s.from.as_str() {
            "" => s.source.as_str().to_string(),
            from => format!("{} {}", s.source.as_str(), shown(from)),
        };
        let pad = if col + 2 + origin.chars().count() <= width {
            col - h.chars().count()
        } else {
            3
        };
        out.push_str(&format!("{h}{}# {origin}\n", " ".repeat(pad)));
    }
    out
}

/// How clap got the value of global option `id`.
fn given<'a>(m: &ArgMatches, id: &str, value: Option<&'a str>) -> Given<'a> {
    match (m.value_source(id), value) {
        (Some(ValueSource::CommandLine), Some(v)) => Given::Flag(v),
        (Some(ValueSource::EnvVariable), Some(v)) => Given::Env(v),
        _ => Given::Nothing,
    }
}

fn setting(id: &'static str, value: String, source: Source, from: String) -> Setting {
    Setting {
        id,
        value,
        source,
        from,
    }
}

fn parse_entry<T>(
    file: &File,
    key: &str,
    e: &Entry,
    parse: impl Fn(&str) -> Result<T>,
) -> Result<T> {
    parse(&e.value).map_err(|err| file.invalid(e, format!("'{key}': {err}")))
}

/// Fill `global` from the config file where neither a flag nor the
/// environment gave a value, and say where each setting came from.
/// `matches` are the parsed command line (for clap's value sources).
pub fn apply(global: &mut Global, matches: &ArgMatches) -> Result<Vec<Setting>> {
    let file = config::load()?;
    for w in file.iter().flat_map(|f| &f.warnings) {
        eprintln!("{w}");
    }
    settle(global, matches, file.as_ref())
}

/// [`apply`] with the file already loaded, saying nothing (shell
/// completion must not print its warnings at every Tab).
pub fn settle(
    global: &mut Global,
    matches: &ArgMatches,
    file: Option<&File>,
) -> Result<Vec<Setting>> {
    // The file's path is the `config` row; entries name their line.
    let at = |e: &Entry| format!("line {}", e.line);
    let mut out = Vec::new();

    let location = match config::locate(|k| std::env::var_os(k)) {
        Some((p, explicit)) => {
            let exists = file.is_some();
            let value = if exists {
                p.display().to_string()
            } else {
                format!("{} (none there)", p.display())
            };
            match explicit {
                true => setting("config", value, Source::Env, config::PATH_ENV.into()),
                false => setting("config", value, Source::Default, String::new()),
            }
        }
        None => setting("config", "(no HOME)".into(), Source::Default, String::new()),
    };
    out.push(location);

    // The database: --database-url or --profile, else DATABASE_URL or
    // COACHCTL_PROFILE, else the file's default profile, else embedded.
    let url_given = given(matches, "database_url", global.database_url.as_deref());
    let profile_given = given(matches, "profile", global.profile.as_deref());
    if let (Given::Flag(_), Given::Flag(_)) = (url_given, profile_given) {
        return Err(Error::invalid("give --database-url or --profile, not both"));
    }
    let file_profile = file.and_then(|f| f.profile.as_ref());
    // (source, where from, a URL as given or a profile to look up)
    let chosen: Option<(Source, String, Result<&str, &str>)> = match (url_given, profile_given) {
        (Given::Flag(u), _) => Some((Source::Flag, "--database-url".into(), Ok(u))),
        (_, Given::Flag(p)) => Some((Source::Flag, "--profile".into(), Err(p))),
        (Given::Env(u), _) => Some((Source::Env, "DATABASE_URL".into(), Ok(u))),
        (_, Given::Env(p)) => Some((Source::Env, "COACHCTL_PROFILE".into(), Err(p))),
        _ => file_profile.map(|e| (Source::File, at(e), Err(e.value.as_str()))),
    };
    let mut profile_in_use = None;
    match chosen {
        Some((source, from, Ok(url))) => {
            global.database_url = Some(url.to_string());
            out.push(setting("database", String::new(), source, from));
        }
        Some((source, from, Err(name))) => {
            let f = file.ok_or_else(|| {
                Error::invalid(format!(
                    "{from} names profile '{name}', but there is no config file{}",
                    config::locate(|k| std::env::var_os(k))
                        .map(|(p, _)| format!(" at {}", p.display()))
                        .unwrap_or_default()
                ))
            })?;
            let url = f.profile_url(name)?;
            profile_in_use = Some(name.to_string());
            global.database_url = Some(url.value.clone());
            // the profile's standby for reads (COACHCTL_READ_URL beats it)
            global.read_url = f.read_urls.get(name).map(|r| r.value.clone());
            let from = match source {
                Source::File => format!("profile {name} ({from}, url {})", at(url)),
                _ => format!("profile {name} ({from}; url {})", at(url)),
            };
            out.push(setting("database", String::new(), source, from));
        }
        None => {
            global.database_url = None;
            out.push(setting(
                "database",
                String::new(),
                Source::Default,
                String::new(),
            ));
        }
    }

    // From here on the file is seen through the profile in use: its `as`,
    // `output` and `tz` beat the file's own, so switching profile never
    // keeps another organisation's `as`.
    let seen;
    let file = match (file, &profile_in_use) {
        (Some(f), Some(name)) => {
            seen = f.with_profile(name);
            Some(&seen)
        }
        (f, _) => f,
    };

    // --as, COACHCTL_AS, else the file's `as`.
    let as_given = matches
        .value_source("as_user")
        .filter(|s| *s != ValueSource::DefaultValue);
    match (
        as_given,
        file.and_then(|f| f.as_user.as_ref().map(|e| (f, e))),
    ) {
        (Some(s), _) => {
            let (source, from) = match s {
                ValueSource::EnvVariable => (Source::Env, "COACHCTL_AS"),
                _ => (Source::Flag, "--as"),
            };
            let who = global
                .as_user
                .as_ref()
                .map(|u| u.to_string())
                .unwrap_or_default();
            out.push(setting("as", who, source, from.into()));
        }
        (None, Some((f, e))) => {
            global.as_user = Some(parse_entry(f, "as", e, UserRef::from_str)?);
            out.push(setting("as", e.value.clone(), Source::File, at(e)));
        }
        (None, None) => out.push(setting(
            "as",
            "(the operator, as admin)".into(),
            Source::Default,
            String::new(),
        )),
    }

    // -o, COACHCTL_OUTPUT, else the file's `output`, else table.
    match (
        matches.value_source("output"),
        file.and_then(|f| f.output.as_ref().map(|e| (f, e))),
    ) {
        (Some(ValueSource::CommandLine), _) => {
            out.push(setting(
                "output",
                format_name(global.output),
                Source::Flag,
                "--output".into(),
            ));
        }
        (Some(ValueSource::EnvVariable), _) => {
            out.push(setting(
                "output",
                format_name(global.output),
                Source::Env,
                "COACHCTL_OUTPUT".into(),
            ));
        }
        (_, Some((f, e))) => {
            global.output = parse_entry(f, "output", e, |v| {
                output::Format::from_str(v, true).map_err(|_| {
                    Error::invalid(format!(
                        "'{v}' is not an output format; use one of: {}",
                        output::Format::value_variants()
                            .iter()
                            .map(|x| format_name(*x))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })
            })?;
            out.push(setting(
                "output",
                format_name(global.output),
                Source::File,
                at(e),
            ));
        }
        (_, None) => out.push(setting(
            "output",
            format_name(global.output),
            Source::Default,
            String::new(),
        )),
    }

    // --tz, else the file's `tz`, else the actor's zone or the system's.
    match (global.tz, file.and_then(|f| f.tz.as_ref().map(|e| (f, e)))) {
        (Some(tz), _) => out.push(setting("tz", tz.to_string(), Source::Flag, "--tz".into())),
        (None, Some((f, e))) => {
            global.tz = Some(parse_entry(f, "tz", e, TimeZone::parse)?);
            out.push(setting("tz", e.value.clone(), Source::File, at(e)));
        }
        (None, None) => out.push(setting(
            "tz",
            format!(
                // Short: a long value would cut the `from` column at 80.
                "(the actor's, else {})",
                super::system_tz().name()
            ),
            Source::Default,
            String::new(),
        )),
    }
    Ok(out)
}

fn format_name(f: output::Format) -> String {
    f.to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(id: &'static str, value: &str, source: Source, from: &str) -> Setting {
        setting(id, value.into(), source, from.into())
    }

    #[test]
    fn config_show_reads_as_key_value_lines_with_their_origin_aligned_when_they_fit() {
        let all = [
            s("as", "ana@example.com", Source::Env, "COACHCTL_AS"),
            s("output", "table", Source::Default, ""),
        ];
        assert_eq!(
            lines(&all, 80),
            "as = ana@example.com   # env COACHCTL_AS\noutput = table         # default\n"
        );
    }

    #[test]
    fn a_long_value_stays_whole_on_its_line_and_only_the_comment_moves() {
        let url = format!("postgres://app@{}.example.com/coachctl", "db".repeat(30));
        let all = [
            s("database", &url, Source::Env, "DATABASE_URL"),
            s("as", "ana@example.com", Source::File, "/etc/x (line 2)"),
        ];
        let text = lines(&all, 80);
        let first = text.lines().next().unwrap();
        assert_eq!(first, format!("database = {url}   # env DATABASE_URL"));
        let second = text.lines().nth(1).unwrap();
        assert!(second.chars().count() <= 80, "{second}");
        assert!(
            second.starts_with("as = ana@example.com")
                && second.ends_with("# file /etc/x (line 2)")
        );
    }
}
