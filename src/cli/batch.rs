//! `coachctl book --batch FILE|-`: one JSON line out per booking line in,
//! and the worst line's exit code.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::Ctx;
use super::output::{self, json_text};
use super::record::to_json;
use crate::booking::{self, Booking, LineOutcome};
use crate::error::{Error, Kind, Result};

/// What `book` prints: the booking, named by its session's id, which every
/// `session` command takes (DESIGN.md: `-o ids` of `book` prints the session
/// id; every JSON object has `id`).
#[derive(Serialize)]
pub(super) struct Booked<'a> {
    pub(super) id: Uuid,
    #[serde(flatten)]
    pub(super) booking: &'a Booking,
}

impl output::Record for Booked<'_> {
    const COLUMNS: &'static [&'static str] = <Booking as output::Record>::COLUMNS;
    fn id(&self) -> String {
        self.id.to_string()
    }
}

pub(super) async fn run(ctx: &Ctx, file: &Path, atomic: bool) -> Result<()> {
    let input = open(file)?;
    let (pool, actor, prepared) = ctx.batch_session().await?;
    let mut conn = crate::db::one_connection(&pool, prepared).await?;
    // The lines as they come (a pipe is booked while it is written), each
    // without its line ending.
    let mut lines = input.split(b'\n').map(|l| {
        l.map(|mut b| {
            if b.last() == Some(&b'\r') {
                b.pop();
            }
            b
        })
    });
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{spinner} {pos} lines booked or refused")
        {
            bar.set_style(style);
        }
        bar
    });
    let (mut total, mut failed, mut worst) = (0usize, 0usize, None::<Kind>);
    let mut out = std::io::stdout().lock();
    let mut emit = |n: usize, outcome: LineOutcome| -> Result<()> {
        total += 1;
        let line = match outcome {
            LineOutcome::Booked(b, tz) => {
                let tz = ctx.global.tz.map_or(tz, |t| t.tz());
                let session = to_json(
                    &Booked {
                        id: b.session_id,
                        booking: &b,
                    },
                    tz,
                )?;
                json!({ "line": n, "ok": true, "session": session })
            }
            LineOutcome::Failed(kind, error) => {
                failed += 1;
                if worst.is_none_or(|w| kind.exit_code() > w.exit_code()) {
                    worst = Some(kind);
                }
                json!({
                    "line": n,
                    "ok": false,
                    "exit": kind.exit_code(),
                    "kind": kind.as_str(),
                    "error": error,
                })
            }
        };
        writeln!(out, "{}", json_text(&line))?;
        Ok(())
    };
    let mut tick = || {
        if let Some(bar) = &bar {
            bar.inc(1);
        }
    };
    let done =
        booking::book_lines(&mut conn, &actor, &mut lines, atomic, &mut emit, &mut tick).await;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    done?;
    match worst {
        None => Ok(()),
        Some(kind) => Err(Error::Lines(
            kind,
            format!(
                "{failed} of {total} lines not booked{}; each line's outcome is on standard output",
                if atomic { " (--atomic: none was)" } else { "" }
            ),
        )),
    }
}

/// The batch's input: the file, or standard input for `-`.
fn open(file: &Path) -> Result<Box<dyn BufRead>> {
    if file.as_os_str() == "-" {
        return Ok(Box::new(std::io::stdin().lock()));
    }
    let cannot = |why: String| {
        Error::invalid(format!(
            "cannot read the batch file {}: {why}",
            file.display()
        ))
    };
    let f = std::fs::File::open(file).map_err(|e| {
        cannot(match e.kind() {
            std::io::ErrorKind::NotFound => "there is no such file".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            other => other.to_string(),
        })
    })?;
    if f.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(cannot("it is a directory".into()));
    }
    Ok(Box::new(std::io::BufReader::new(f)))
}
