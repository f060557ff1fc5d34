//! `coachctl member import` and `member export`: rosters as CSV files.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::Ctx;
use super::output::{self, Format};
use crate::actor::Actor;
use crate::domain::UserRef;
use crate::error::{Error, Result};
use crate::roster::{self, Action, Options, Progress, Report};

/// `member import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The roster CSV file, or - for standard input (header: email,name and
    /// optionally goals,timezone,coach,membership_status)
    pub file: PathBuf,
    /// Assign every member of the file to this coach
    ///
    /// Email, id or id prefix.
    #[arg(long)]
    pub coach: Option<UserRef>,
    /// Change existing members whose row differs
    ///
    /// Else such rows are errors.
    #[arg(long)]
    pub update: bool,
    /// Check the file and print what would change
    ///
    /// Write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `member export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Only the members of this coach
    ///
    /// Email, id or id prefix.
    #[arg(long)]
    pub coach: Option<UserRef>,
}

/// A progress bar on stderr, shown only when it is a terminal.
struct Bar(indicatif::ProgressBar);

impl Progress for Bar {
    fn stage(&self, what: &'static str, len: u64) {
        self.0.set_message(what);
        self.0.set_length(len);
        self.0.set_position(0);
    }
    fn advance(&self, n: u64) {
        self.0.inc(n);
    }
}

/// The roster's source, opened: read as the import goes, never whole.
fn open_input(file: &PathBuf) -> Result<Box<dyn Read>> {
    if file.as_os_str() == "-" {
        return Ok(Box::new(std::io::stdin()));
    }
    let cannot = |why: String| {
        Error::invalid(format!(
            "cannot read the roster file {}: {why}",
            file.display()
        ))
    };
    let f = std::fs::File::open(file).map_err(|e| {
        cannot(match e.kind() {
            std::io::ErrorKind::NotFound => "there is no such file".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            std::io::ErrorKind::IsADirectory => "it is a directory".to_string(),
            other => other.to_string(),
        })
    })?;
    // Opening a directory succeeds; reading it is what fails.
    if f.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(cannot("it is a directory".to_string()));
    }
    Ok(Box::new(f))
}

pub async fn import(ctx: &Ctx, pool: &sqlx::PgPool, actor: &Actor, args: ImportArgs) -> Result<()> {
    let input = open_input(&args.file)?;
    // Only these outputs show each member: the others pay for none.
    let members = match ctx.global.output {
        Format::Json | Format::Ids => true,
        Format::Csv => false,
        Format::Table | Format::Wide => ctx.global.verbose > 0,
    };
    let opts = Options {
        coach: crate::ids::user_opt(pool, actor, args.coach).await?,
        update: args.update,
        dry_run: args.dry_run,
        members,
    };
    let report = if std::io::stderr().is_terminal() {
        let style = indicatif::ProgressStyle::with_template("{msg:>9} [{bar:40}] {pos}/{len}")
            .map_err(|e| Error::Internal(format!("progress bar: {e}")))?
            .progress_chars("=> ");
        let bar = Bar(indicatif::ProgressBar::new(0).with_style(style));
        let r = roster::import_from(pool, actor, input, &opts, &bar).await;
        bar.0.finish_and_clear();
        r?
    } else {
        roster::import_from(pool, actor, input, &opts, &roster::Quiet).await?
    };
    render_import(ctx, actor, &report)
}

fn summary(r: &Report) -> String {
    let (c, u) = if r.dry_run {
        ("would create", "would update")
    } else {
        ("created", "updated")
    };
    if r.nothing_to_change() {
        return format!(
            "nothing to change: all {} member(s) of the file are as in the database",
            r.unchanged
        );
    }
    let tail = if r.dry_run {
        "; nothing was written (dry run)"
    } else {
        ""
    };
    format!(
        "{c} {}, {u} {}, unchanged {}{tail}",
        r.created, r.updated, r.unchanged
    )
}

fn render_import(ctx: &Ctx, actor: &Actor, r: &Report) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match ctx.global.output {
        Format::Json => {
            let v = output::localized(r, ctx.display_tz(Some(actor)))?;
            writeln!(out, "{}", output::json_text(&v))?;
        }
        Format::Ids => {
            for m in &r.members {
                writeln!(out, "{}", m.id)?;
            }
        }
        Format::Csv => {
            drop(out);
            let v = json!({
                "id": r.id, "dry_run": r.dry_run, "created": r.created,
                "updated": r.updated, "unchanged": r.unchanged,
            });
            return output::value(ctx, &v);
        }
        Format::Table | Format::Wide => {
            if ctx.global.verbose > 0 {
                for m in &r.members {
                    let (what, fields) = match (m.action, r.dry_run) {
                        (Action::Created, false) => ("created", String::new()),
                        (Action::Created, true) => ("would create", String::new()),
                        (_, dry) => (
                            if dry { "would update" } else { "updated" },
                            format!(" ({})", m.changed.join(", ")),
                        ),
                    };
                    writeln!(out, "line {}: {what} {}{fields}", m.line, m.email)?;
                }
            }
            writeln!(out, "{}", summary(r))?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Export writes CSV unless `-o json` or `-o ids` asks otherwise: a roster
/// is a file format, not a table for the eye.
pub async fn export(ctx: &Ctx, pool: &sqlx::PgPool, actor: &Actor, args: ExportArgs) -> Result<()> {
    let coach = crate::ids::user_opt(pool, actor, args.coach).await?;
    match ctx.global.output {
        Format::Table | Format::Wide | Format::Csv => {
            let mut w = roster::csv_file::Writer::new(std::io::stdout().lock());
            roster::export_csv_each(pool, actor, coach.as_ref(), |cells| w.cells(cells)).await?;
            w.finish()
        }
        Format::Json => {
            let records = roster::export(pool, actor, coach.as_ref()).await?;
            let v = serde_json::to_value(&records).map_err(|e| Error::Internal(e.to_string()))?;
            output::value(ctx, &v)
        }
        Format::Ids => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            roster::export_each(pool, actor, coach.as_ref(), |r| {
                writeln!(out, "{}", r.id)?;
                Ok(())
            })
            .await?;
            out.flush()?;
            Ok(())
        }
    }
}
