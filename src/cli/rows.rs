//! Lists written as their rows arrive (see [`Rows`]).

use std::io::{self, BufWriter, IsTerminal, StdoutLock, Write};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Ctx;
use super::record::{
    Format, Record, View, csv_text, header, header_cells, new_table, shown_columns, to_json,
    write_csv_text,
};
use super::table::{self, Row, cell_text};
use crate::copy_csv::CsvRow;
use crate::error::Result;

/// Push rows out at least this often while a list streams in slowly.
const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// A table of more rows than this takes its column widths from the first
/// ones and streams the rest (memory stays flat at 200,000 members).
const TABLE_SAMPLE: usize = 1000;

/// A list being written as its rows arrive: JSON as one array written
/// piece by piece (`[`, rows, `]`), CSV and ids line by line. Tables wait
/// for the last row (their columns need every width), up to
/// [`TABLE_SAMPLE`] plain rows; a longer plain table streams on at the
/// widths of those.
pub struct Rows<'a, T: Record> {
    ctx: &'a Ctx,
    view: View,
    out: BufWriter<StdoutLock<'static>>,
    count: usize,
    csv_cols: Vec<&'static str>,
    table_json: Vec<Value>,
    table_rows: Vec<Row>,
    /// Set once a long plain table streams: the widths of its columns.
    table_widths: Option<Vec<usize>>,
    flushed: Instant,
    /// JSON for a person at a terminal: each row indented, one per block.
    pretty: bool,
    _record: std::marker::PhantomData<fn(&T)>,
}

impl<'a, T: Record> Rows<'a, T> {
    pub fn new(ctx: &'a Ctx, tz: chrono_tz::Tz) -> Self {
        Rows {
            ctx,
            view: View { tz, viewer: None },
            out: BufWriter::with_capacity(64 * 1024, io::stdout().lock()),
            count: 0,
            csv_cols: Vec::new(),
            table_json: Vec::new(),
            table_rows: Vec::new(),
            table_widths: None,
            flushed: Instant::now(),
            pretty: ctx.global.output == Format::Json && io::stdout().is_terminal(),
            _record: std::marker::PhantomData,
        }
    }

    /// Who reads the list (a session reads as the other party's name).
    pub fn viewer(mut self, id: Option<uuid::Uuid>) -> Self {
        self.view.viewer = id;
        self
    }

    /// Write one row (tables: keep it for the end).
    pub fn push(&mut self, item: &T) -> Result<()> {
        let first = self.count == 0;
        self.count += 1;
        match self.ctx.global.output {
            Format::Ids => writeln!(self.out, "{}", crate::domain::text::shown(&item.id()))?,
            Format::Json if self.pretty => {
                let mut one = Vec::new();
                item.write_json(self.view.tz, &mut one)?;
                self.out.write_all(if first { b"[\n" } else { b",\n" })?;
                let text = super::record::indented(&String::from_utf8_lossy(&one));
                for (i, line) in text.lines().enumerate() {
                    if i > 0 {
                        self.out.write_all(b"\n")?;
                    }
                    write!(self.out, "  {line}")?;
                }
            }
            Format::Json => {
                self.out.write_all(if first { b"[" } else { b"," })?;
                item.write_json(self.view.tz, &mut self.out)?;
            }
            Format::Csv if T::CSV_DIRECT => {
                if first {
                    self.csv_cols = csv_columns::<T>(&[]);
                    writeln!(self.out, "{}", self.csv_cols.join(","))?;
                }
                item.write_csv(&mut self.out)?;
            }
            Format::Csv => {
                let v = to_json(item, self.view.tz)?;
                if first {
                    self.csv_cols = csv_columns::<T>(std::slice::from_ref(&v));
                    writeln!(self.out, "{}", self.csv_cols.join(","))?;
                }
                let row: Vec<String> = self.csv_cols.iter().map(|c| csv_text(v.get(*c))).collect();
                writeln!(self.out, "{}", row.join(","))?;
            }
            Format::Table => match (item.table_row(&self.view), &self.table_widths) {
                (Some(r), Some(widths)) => writeln!(
                    self.out,
                    "{}",
                    table::plain_line(&r, widths, self.ctx.color())
                )?,
                (Some(r), None) => {
                    self.table_rows.push(r);
                    if self.table_rows.len() == TABLE_SAMPLE {
                        self.start_streaming()?;
                    }
                }
                (None, _) => self.table_json.push(to_json(item, self.view.tz)?),
            },
            Format::Wide => self.table_json.push(to_json(item, self.view.tz)?),
        }
        if self.flushed.elapsed() >= FLUSH_EVERY {
            self.out.flush()?;
            self.flushed = Instant::now();
        }
        Ok(())
    }

    /// Write one CSV row from its cells as text (or its text, when it is
    /// [`CsvRow::Plain`]), in the order of the CSV
    /// columns (the id, then the list columns): what [`Rows::push`] writes
    /// for a record, for rows that come as text (`member list -o csv`).
    pub fn push_cells(&mut self, row: CsvRow<'_>) -> Result<()> {
        if self.count == 0 {
            self.csv_cols = csv_columns::<T>(&[]);
            writeln!(self.out, "{}", self.csv_cols.join(","))?;
        }
        self.count += 1;
        match row {
            // written as it came: no cell of it needs a quote or a guard
            CsvRow::Plain(line) => self.out.write_all(line.as_bytes())?,
            CsvRow::Cells(cells) => {
                for (i, c) in cells.iter().enumerate() {
                    if i > 0 {
                        self.out.write_all(b",")?;
                    }
                    write_csv_text(&mut self.out, c)?;
                }
            }
        }
        self.out.write_all(b"\n")?;
        if self.flushed.elapsed() >= FLUSH_EVERY {
            self.out.flush()?;
            self.flushed = Instant::now();
        }
        Ok(())
    }

    /// Fix a plain table's widths from the rows so far, write its header
    /// and those rows, and write every later row as it comes.
    fn start_streaming(&mut self) -> Result<()> {
        let headers: Vec<String> = T::TABLE_HEADERS.iter().map(|c| header(c)).collect();
        let Some(widths) = table::plain_widths(&self.table_rows, &headers, table::width()) else {
            return Ok(()); // agenda rows group by day: they wait for the end
        };
        let color = self.ctx.color();
        if T::TABLE_ZONE {
            let zone = format!("Times in {}", self.view.tz.name());
            writeln!(self.out, "{}", table::heading(&zone, table::width(), color))?;
        }
        writeln!(
            self.out,
            "{}",
            table::plain_header(&headers, &widths, color)
        )?;
        for r in std::mem::take(&mut self.table_rows) {
            writeln!(self.out, "{}", table::plain_line(&r, &widths, color))?;
        }
        self.table_widths = Some(widths);
        Ok(())
    }

    /// End the list: close the JSON array, write the header of an empty
    /// CSV, or draw the table.
    pub fn finish(mut self) -> Result<()> {
        match self.ctx.global.output {
            Format::Ids => {}
            Format::Json => {
                self.out.write_all(match (self.count, self.pretty) {
                    (0, _) => b"[]\n",
                    (_, true) => b"\n]\n",
                    (_, false) => b"]\n",
                })?;
            }
            Format::Csv => {
                if self.count == 0 {
                    writeln!(self.out, "{}", csv_columns::<T>(&[]).join(","))?;
                }
            }
            Format::Table | Format::Wide if self.count == 0 => {
                self.out.flush()?;
                eprintln!("(none)");
                return Ok(());
            }
            Format::Table if self.table_widths.is_some() => {}
            Format::Table => {
                let text = if self.table_rows.is_empty() {
                    let cols = table::generic_columns(&shown_columns::<T>(&self.table_json));
                    let rows: Vec<Row> = self
                        .table_json
                        .iter()
                        .map(|v| {
                            Row::Cells(
                                cols.iter()
                                    .map(|c| match T::KEY {
                                        Some(k) if k == *c => table::key_cell(v.get(*c)),
                                        _ => table::json_cell(c, v.get(*c)),
                                    })
                                    .collect(),
                            )
                        })
                        .collect();
                    let zone = table::has_timestamps(&self.table_json, &cols);
                    let headers: Vec<String> = cols.iter().map(|c| header(c)).collect();
                    table::render(
                        &rows,
                        &headers,
                        self.view.tz,
                        zone,
                        table::width(),
                        self.ctx.color(),
                    )
                } else {
                    let headers: Vec<String> = T::TABLE_HEADERS.iter().map(|c| header(c)).collect();
                    table::render(
                        &self.table_rows,
                        &headers,
                        self.view.tz,
                        T::TABLE_ZONE,
                        table::width(),
                        self.ctx.color(),
                    )
                };
                self.out.write_all(text.as_bytes())?;
            }
            Format::Wide => {
                let cols = wide_columns::<T>(&self.table_json);
                let mut t = new_table(self.ctx);
                let names: Vec<&str> = cols.iter().map(String::as_str).collect();
                t.set_header(header_cells(self.ctx, &names));
                for v in &self.table_json {
                    t.add_row(cols.iter().map(|c| cell_text(v.get(c.as_str()))));
                }
                writeln!(self.out, "{t}")?;
            }
        }
        self.out.flush()?;
        Ok(())
    }
}

/// CSV columns: the id first unless the list columns place it, then the
/// list columns the rows carry.
fn csv_columns<T: Record>(rows: &[Value]) -> Vec<&'static str> {
    let mut cols: Vec<&'static str> = Vec::new();
    if let Some(f) = T::ID_FIELD.filter(|f| !T::COLUMNS.contains(f)) {
        cols.push(f);
    }
    cols.extend(shown_columns::<T>(rows));
    cols
}

/// `-o wide`: the list columns, then every other plain field any row has.
fn wide_columns<T: Record>(rows: &[Value]) -> Vec<String> {
    let mut cols: Vec<String> = Vec::new();
    if let Some(f) = T::ID_FIELD {
        cols.push(f.to_string());
    }
    for c in shown_columns::<T>(rows) {
        if !cols.iter().any(|x| x == c) {
            cols.push(c.to_string());
        }
    }
    for r in rows {
        if let Value::Object(map) = r {
            for (k, v) in map {
                let plain = !matches!(v, Value::Array(_) | Value::Object(_));
                if plain && !cols.contains(k) {
                    cols.push(k.clone());
                }
            }
        }
    }
    cols
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(goals: Option<&str>, coach: bool) -> crate::member::Member {
        use crate::domain::{MembershipStatus, OnboardingStatus, Privacy};
        crate::member::Member {
            id: uuid::Uuid::new_v4(),
            email: "bo@example.com".into(),
            name: "Bo \"Lind\" \u{e9}".into(),
            timezone: "Europe/Stockholm".into(),
            active: true,
            coach_id: coach.then(uuid::Uuid::new_v4),
            coach_email: coach.then(|| "ana@example.com".into()),
            membership_status: MembershipStatus::Paused,
            onboarding_status: OnboardingStatus::InProgress,
            privacy: Privacy::Public,
            goals: goals.map(str::to_string),
            health_info: None,
            share_goals: true,
            share_health_info: false,
            coach_notes: coach.then(|| "notes\nover lines".into()),
            joined_at: "2027-03-29T07:00:00.123456Z".parse().unwrap(),
        }
    }

    #[test]
    fn a_member_s_direct_json_is_byte_for_byte_its_localized_json() {
        for (goals, coach) in [(Some("Deadlift"), true), (None, false)] {
            let m = member(goals, coach);
            for tz in [
                chrono_tz::Europe::Berlin,
                chrono_tz::UTC,
                chrono_tz::Asia::Kolkata,
            ] {
                let mut direct = Vec::new();
                m.write_json(tz, &mut direct).unwrap();
                let expected = super::super::record::json_text(&to_json(&m, tz).unwrap());
                assert_eq!(String::from_utf8(direct).unwrap(), expected);
            }
        }
    }

    #[test]
    fn a_member_s_direct_csv_is_byte_for_byte_its_row_through_json() {
        let mut odd = member(Some("=SUM(A1)"), true);
        odd.name = "=cmd|' /C calc'!A0, \"quoted\"\nline".into();
        odd.email = "-x@example.com".into();
        for m in [member(Some("Deadlift"), true), member(None, false), odd] {
            let v = to_json(&m, chrono_tz::UTC).unwrap();
            let cols = csv_columns::<crate::member::Member>(std::slice::from_ref(&v));
            assert_eq!(cols, csv_columns::<crate::member::Member>(&[]));
            let row: Vec<String> = cols.iter().map(|c| csv_text(v.get(*c))).collect();
            let mut direct = Vec::new();
            m.write_csv(&mut direct).unwrap();
            assert_eq!(String::from_utf8(direct).unwrap(), row.join(",") + "\n");
        }
    }
}
