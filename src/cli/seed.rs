//! `coachctl seed FILE`

use std::io::Read;
use std::path::PathBuf;

use clap::Args;

use super::{Ctx, output};
use crate::error::{Error, Result};
use crate::seed::{self, Change, Outcome, Report};

#[derive(Debug, Args)]
pub struct Cmd {
    /// The seed file, TOML or JSON
    ///
    /// By extension, else by content. `-` reads stdin.
    #[arg(value_name = "FILE")]
    file: PathBuf,

    /// Print what would change, write nothing
    #[arg(long)]
    dry_run: bool,

    /// Change what exists but differs from the file
    ///
    /// Coaches, members, windows, blocks and programs.
    #[arg(long)]
    update: bool,
}

impl output::Record for Change {
    const COLUMNS: &'static [&'static str] = &["action", "kind", "key", "line", "differences"];
    fn id(&self) -> String {
        self.id.map(|i| i.to_string()).unwrap_or_default()
    }
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let (name, text) = self.read()?;
        let (pool, actor) = ctx.session().await?;
        let opts = seed::Options {
            dry_run: self.dry_run,
            update: self.update,
        };
        match seed::run(&pool, &actor, &name, &text, opts).await? {
            Outcome::Done(report) => render(ctx, &report),
            Outcome::Refused(problems) => {
                if ctx.global.output == output::Format::Json {
                    return Err(problems.into_error());
                }
                // One problem per line, then the one-line summary as the error.
                for p in &problems.items {
                    eprintln!("{}", crate::domain::text::escaped(&p.to_string()));
                }
                Err(problems.summary_error())
            }
        }
    }

    fn read(&self) -> Result<(String, String)> {
        let unreadable =
            |e: std::io::Error| Error::invalid(format!("cannot read {}: {e}", self.file.display()));
        if self.file.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(unreadable)?;
            return Ok(("<stdin>".into(), text));
        }
        let bytes = std::fs::read(&self.file).map_err(unreadable)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::invalid(format!("{} is not UTF-8 text", self.file.display())))?;
        let name = self
            .file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.file.display().to_string());
        Ok((name, text))
    }
}

fn render(ctx: &Ctx, report: &Report) -> Result<()> {
    let tz = ctx.display_tz(None);
    match ctx.global.output {
        output::Format::Json => {
            let v = serde_json::to_value(report)
                .map_err(|e| Error::Internal(format!("cannot render the report: {e}")))?;
            output::value(ctx, &v)
        }
        output::Format::Ids => {
            let with_ids: Vec<Change> = report
                .changes
                .iter()
                .filter(|c| c.id.is_some())
                .cloned()
                .collect();
            output::list(ctx, tz, &with_ids)
        }
        output::Format::Csv => output::list(ctx, tz, &report.changes),
        output::Format::Wide => {
            if !report.changes.is_empty() {
                output::list(ctx, tz, &report.changes)?;
            }
            output::note(ctx, &fit(&summary(report), 80));
            notes(ctx, report);
            Ok(())
        }
        output::Format::Table => {
            if !report.changes.is_empty() {
                output::raw(&changes_table(&report.changes, super::table::width()))?;
            }
            output::note(ctx, &fit(&summary(report), 80));
            notes(ctx, report);
            Ok(())
        }
    }
}

/// What differs but a seed never changes, one note each after the summary.
fn notes(ctx: &Ctx, report: &Report) {
    for n in &report.notes {
        output::note(ctx, n);
    }
}

/// The changes for a person: one row per thing, each difference on a line
/// of its own under it (cut at the width, never mid-row), so a long value
/// does not hide the others behind a JSON array cut short.
fn changes_table(changes: &[Change], width: usize) -> String {
    use super::table::{self, Cell, Row};
    let rows: Vec<Row> = changes
        .iter()
        .map(|c| {
            Row::Cells(vec![
                Cell::fixed(c.action.as_str()),
                Cell::fixed(c.kind.as_str()),
                Cell::key(&c.key),
                Cell::counter(format!("line {}", c.line)),
            ])
        })
        .collect();
    let headers = ["action", "kind", "key", "where"].map(String::from);
    let text = table::render(&rows, &headers, chrono_tz::UTC, false, width, false);
    let mut lines = text.lines();
    let mut out = String::new();
    if let Some(head) = lines.next() {
        out.push_str(head);
        out.push('\n');
    }
    for (c, line) in changes.iter().zip(lines) {
        out.push_str(line);
        out.push('\n');
        for d in &c.differences {
            let d = crate::domain::text::shown(d);
            out.push_str(&table::truncate(&format!("    {d}"), width));
            out.push('\n');
        }
    }
    out
}

/// `text` broken at spaces into lines of at most `width` columns, so that a
/// long summary does not wrap mid-word on an 80-column terminal.
fn fit(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = 0;
    for word in text.split(' ') {
        let n = word.chars().count();
        if line > 0 && line + 1 + n > width {
            out.push('\n');
            line = 0;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += n;
    }
    out
}

/// One sentence for the person: what was (or would be) done.
fn summary(r: &Report) -> String {
    let unchanged = r.unchanged.describe();
    if r.is_noop() && r.unchanged.total() == 0 {
        return format!("{}: the file declares nothing.", r.file);
    }
    if r.is_noop() {
        return format!(
            "{}: nothing to change ({unchanged} match the file).",
            r.file
        );
    }
    let (created, updated) = (r.created.describe(), r.updated.describe());
    let verb = if r.dry_run { "would create" } else { "created" };
    let mut s = format!("{}: {verb} {created}", r.file);
    if r.updated.total() > 0 {
        let verb = if r.dry_run { "would update" } else { "updated" };
        s.push_str(&format!("; {verb} {updated}"));
    }
    if r.unchanged.total() > 0 {
        s.push_str(&format!("; {unchanged} unchanged"));
    }
    if r.dry_run {
        s.push_str("; nothing was written (dry run)");
    }
    s.push('.');
    s
}
