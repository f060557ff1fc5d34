//! Rendering records as a table, JSON, CSV or bare ids. Data goes to stdout;
//! messages go to stderr.
//!
//! The front every handler prints through: it sits above `record` (the
//! forms of each record) and `rows` (lists as they stream), and re-exports
//! what handlers name.

use std::io::{self, Write};

use comfy_table::Attribute;
use serde_json::Value;

use super::Ctx;
pub use super::record::{Format, Record, Row, View, csv_text, json_text, localized, write_json};
use super::record::{for_terminal, header, new_table, to_json};
pub use super::rows::Rows;
use super::table;
pub use super::table::cell_text;
use crate::domain::text::{shown, shown_lines};
use crate::error::{Error, Result};

/// Print a list of records in the chosen format.
pub fn list<T: Record>(ctx: &Ctx, tz: chrono_tz::Tz, items: &[T]) -> Result<()> {
    let mut rows = Rows::new(ctx, tz);
    for i in items {
        rows.push(i)?;
    }
    rows.finish()
}

/// Print one record: every field, vertically, as a table.
pub fn one<T: Record>(ctx: &Ctx, tz: chrono_tz::Tz, item: &T) -> Result<()> {
    let mut out = io::stdout().lock();
    match ctx.global.output {
        Format::Ids => writeln!(out, "{}", shown(&item.id()))?,
        Format::Json => writeln!(out, "{}", for_terminal(json_text(&to_json(item, tz)?)))?,
        Format::Csv => {
            let v = to_json(item, tz)?;
            let Value::Object(map) = v else {
                return Err(Error::Internal("a record is not a JSON object".into()));
            };
            let keys: Vec<&String> = map.keys().collect();
            writeln!(
                out,
                "{}",
                keys.iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            )?;
            let row: Vec<String> = keys.iter().map(|k| csv_text(map.get(*k))).collect();
            writeln!(out, "{}", row.join(","))?;
        }
        Format::Table => {
            let v = to_json(item, tz)?;
            let Value::Object(map) = v else {
                return Err(Error::Internal("a record is not a JSON object".into()));
            };
            out.write_all(table::render_show(&map, T::COLUMNS, table::width(), tz).as_bytes())?;
        }
        Format::Wide => {
            let v = to_json(item, tz)?;
            let Value::Object(map) = v else {
                return Err(Error::Internal("a record is not a JSON object".into()));
            };
            let mut t = new_table(ctx);
            for k in table::show_order(&map, T::COLUMNS) {
                let key = comfy_table::Cell::new(header(k));
                let key = if ctx.color() {
                    key.add_attribute(Attribute::Bold)
                } else {
                    key
                };
                t.add_row(vec![key, comfy_table::Cell::new(cell_text(map.get(k)))]);
            }
            writeln!(out, "{t}")?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Print a free-form JSON value (status reports); tables show its fields.
pub fn value(ctx: &Ctx, v: &Value) -> Result<()> {
    let mut out = io::stdout().lock();
    match (ctx.global.output, v) {
        (Format::Json, _) => writeln!(out, "{}", for_terminal(json_text(v)))?,
        (Format::Table, Value::Object(map)) => {
            out.write_all(table::render_fields(map, table::width()).as_bytes())?
        }
        (Format::Wide, Value::Object(map)) => {
            let mut t = new_table(ctx);
            for (k, v) in map {
                t.add_row(vec![
                    comfy_table::Cell::new(header(k)),
                    comfy_table::Cell::new(cell_text(Some(v))),
                ]);
            }
            writeln!(out, "{t}")?;
        }
        (Format::Csv, Value::Object(map)) => {
            writeln!(out, "{}", map.keys().cloned().collect::<Vec<_>>().join(","))?;
            let row: Vec<String> = map.values().map(|v| csv_text(Some(v))).collect();
            writeln!(out, "{}", row.join(","))?;
        }
        (_, other) => writeln!(out, "{}", cell_text(Some(other)))?,
    }
    out.flush()?;
    Ok(())
}

/// Text for a person (a dashboard), newlines kept, nothing stored that
/// rewrites the terminal.
pub fn human(text: &[u8]) -> Result<()> {
    let text = String::from_utf8_lossy(text);
    let mut out = io::stdout().lock();
    out.write_all(shown_lines(&text).as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Text that is the data itself (an iCalendar feed, neutralised where it
/// is made, in [`crate::calendar`]), as it is.
pub fn raw(text: &str) -> Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// A list stopped at its limit with more rows to come: said on stderr in
/// every format (a script counting rows must not be silently wrong), so
/// stdout stays the data.
pub fn cut(msg: &str) {
    eprintln!("{msg}");
}

/// A message for the person, on stderr, unless output is for machines.
pub fn note(ctx: &Ctx, msg: &str) {
    if matches!(ctx.global.output, Format::Table | Format::Wide) {
        eprintln!("{}", shown_lines(msg));
    }
}

/// What a cron command (`session remind`, `notify send`) did: the machine
/// form under json/csv/ids; for people one line on stderr when it did
/// something and nothing when it did not, so cron mails nothing on an
/// ordinary run. `quiet` keeps only what is an error (`alarm`).
pub fn summary(ctx: &Ctx, quiet: bool, line: Option<String>, alarm: bool, v: &Value) -> Result<()> {
    if matches!(ctx.global.output, Format::Table | Format::Wide) {
        if let Some(line) = line.filter(|_| !quiet || alarm) {
            eprintln!("{line}");
        }
        return Ok(());
    }
    value(ctx, v)
}
