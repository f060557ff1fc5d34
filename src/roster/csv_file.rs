//! The roster CSV format: reading a file into validated rows (every bad row
//! reported, with its line number) and writing rows back.
//!
//! Columns: `email,name` required; `goals`, `timezone`, `coach`,
//! `membership_status` optional, in any order. A column left out keeps what
//! an existing member has (a new member gets the default); a column given is
//! the declared state, so an empty `goals` or `coach` cell means "none".
//!
//! Formula guard: a text cell that a spreadsheet would run as a formula
//! (`=`, `+`, `-`, `@`, tab or CR first) is written with a leading `'`, like
//! every CSV output of coachctl; so that a value which itself starts with
//! `'`s before such a character survives the round trip, it gets one more
//! `'` on export, and import removes exactly one.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io::{Chain, Cursor, Read, Write};

use crate::copy_csv::CsvRow;
use crate::domain::{Email, MembershipStatus, PersonName, ProfileText, TimeZone, UserRef};
use crate::error::{Error, Result};

use super::RowError;

/// The columns of a roster file, in the order export writes them.
pub const COLUMNS: [&str; 6] = [
    "email",
    "name",
    "goals",
    "timezone",
    "coach",
    "membership_status",
];

/// One valid row. `None` in a field: the column is not in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub line: u64,
    pub email: Email,
    pub name: PersonName,
    /// `Some(None)`: the column is there and the cell is empty (no goals).
    pub goals: Option<Option<String>>,
    /// `Some(None)`: an empty cell, the default (UTC).
    pub timezone: Option<Option<TimeZone>>,
    /// `Some(None)`: an empty cell, no coach (unless `--coach`).
    pub coach: Option<Option<UserRef>>,
    /// `Some(None)`: an empty cell, the default (active).
    pub membership_status: Option<Option<MembershipStatus>>,
}

/// What reading a file gave: the valid rows and every bad one. (Two rows
/// with one email are the import's check, made on the server.)
#[derive(Debug, Default)]
pub struct Parsed {
    pub rows: Vec<Row>,
    pub errors: Vec<RowError>,
}

/// What a spreadsheet runs as a formula (OWASP, "CSV Injection").
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Does `s` need the guard: a formula start, possibly behind `'`s?
fn guarded_shape(s: &str) -> bool {
    s.trim_start_matches('\'').starts_with(FORMULA_STARTS)
}

/// A text cell as export writes it.
pub fn guard(s: &str) -> String {
    if guarded_shape(s) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// A cell as export writes it: [`guard`] of the text as shown
/// (without a copy when neither changes it).
fn cell(s: &str) -> Cow<'_, str> {
    let s = crate::domain::text::shown_lines(s);
    if guarded_shape(&s) {
        Cow::Owned(format!("'{s}"))
    } else {
        s
    }
}

/// A cell as import reads it: undo [`guard`].
pub fn unguard(s: &str) -> &str {
    match s.strip_prefix('\'') {
        Some(rest) if guarded_shape(rest) => rest,
        _ => s,
    }
}

/// Read a whole roster file held in memory (see [`Reader`]).
pub fn parse(input: &[u8]) -> Result<Parsed> {
    let mut reader = Reader::new(input)?;
    let mut parsed = Parsed::default();
    while let Some(r) = reader.next_row()? {
        match r {
            Ok(row) => parsed.rows.push(row),
            Err(e) => parsed.errors.push(e),
        }
    }
    reader.check_not_empty(parsed.rows.len(), parsed.errors.len())?;
    Ok(parsed)
}

/// A roster file read record by record, so that a file of any length is
/// never held whole. Header errors (missing, unknown or repeated columns)
/// end the reading at once: without columns no row can be understood.
pub struct Reader<R: Read> {
    csv: csv::Reader<Tap<Chain<Cursor<Vec<u8>>, R>>>,
    record: csv::ByteRecord,
    line: u64,
    columns: Columns,
    header_line: u64,
}

/// Which optional columns a file has.
#[derive(Debug, Clone, Copy)]
pub struct Present {
    pub goals: bool,
    pub timezone: bool,
    pub coach: bool,
    pub membership_status: bool,
}

impl<R: Read> Reader<R> {
    /// Start reading: a byte order mark is skipped, the header read.
    pub fn new(input: R) -> Result<Self> {
        let mut input = input;
        let mut head = [0u8; 3];
        let mut n = 0;
        while n < head.len() {
            match input.read(&mut head[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(Error::invalid(format!("cannot read the roster file: {e}")));
                }
            }
        }
        let kept = if head[..n] == *b"\xEF\xBB\xBF" { 0 } else { n };
        let tap = Tap {
            inner: Cursor::new(head[..kept].to_vec()).chain(input),
            window: VecDeque::new(),
            base: 0,
        };
        let csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(tap);
        let mut reader = Reader {
            csv,
            record: csv::ByteRecord::new(),
            line: 1,
            columns: Columns::default(),
            header_line: 0,
        };
        loop {
            if !reader.read()? {
                return Err(Error::invalid(format!(
                    "the roster file is empty; it needs a header line naming its columns: {}",
                    header_help()
                )));
            }
            if is_blank(&reader.record) {
                continue;
            }
            let line = reader.line_of_record();
            reader.columns = header(line, &reader.record)?;
            reader.header_line = line;
            return Ok(reader);
        }
    }

    pub fn present(&self) -> Present {
        let c = &self.columns;
        Present {
            goals: c.goals.is_some(),
            timezone: c.timezone.is_some(),
            coach: c.coach.is_some(),
            membership_status: c.membership_status.is_some(),
        }
    }

    /// The next row, valid or bad; `None` at the end of the file.
    pub fn next_row(&mut self) -> Result<Option<Result<Row, RowError>>> {
        loop {
            if !self.read()? {
                return Ok(None);
            }
            if is_blank(&self.record) {
                continue;
            }
            let line = self.line_of_record();
            return Ok(Some(row(line, &self.columns, &self.record)));
        }
    }

    /// A header and nothing else is an error of its own.
    pub fn check_not_empty(&self, rows: usize, errors: usize) -> Result<()> {
        if rows == 0 && errors == 0 {
            return Err(Error::invalid(format!(
                "the roster file has a header (line {}) but no rows",
                self.header_line
            )));
        }
        Ok(())
    }

    fn read(&mut self) -> Result<bool> {
        self.csv
            .read_byte_record(&mut self.record)
            .map_err(|e| csv_error(&e))
    }

    /// The line of the record just read, as an editor shows it. The
    /// reader's own position of a record is where it started looking,
    /// before the line end of the record before (CRLF) and any blank lines:
    /// skip those, counting newlines in the bytes read since the record
    /// before (the tap keeps just those).
    fn line_of_record(&mut self) -> u64 {
        let tap = self.csv.get_mut();
        let w = &mut tap.window;
        let start = self
            .record
            .position()
            .map_or(0, |p| p.byte().saturating_sub(tap.base) as usize);
        let mut end = start.min(w.len());
        while end < w.len() && matches!(w[end], b'\r' | b'\n') {
            end += 1;
        }
        let newlines = w.range(..end).filter(|b| **b == b'\n').count();
        w.drain(..end);
        tap.base += end as u64;
        self.line += newlines as u64;
        self.line
    }
}

/// The input as the CSV reader takes it, keeping the bytes read and not yet
/// counted for line numbers (a record and the reader's read-ahead).
struct Tap<R> {
    inner: R,
    window: VecDeque<u8>,
    /// The offset in the input of `window[0]`.
    base: u64,
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.window.extend(&buf[..n]);
        Ok(n)
    }
}

fn header_help() -> String {
    "email,name and optionally goals,timezone,coach,membership_status".into()
}

fn csv_error(e: &csv::Error) -> Error {
    let at = e
        .position()
        .map(|p| format!("line {}: ", p.line()))
        .unwrap_or_default();
    Error::invalid(format!("{at}cannot read the roster file: {e}"))
}

fn is_blank(r: &csv::ByteRecord) -> bool {
    r.iter().all(|f| f.iter().all(u8::is_ascii_whitespace))
}

/// Column positions of a header.
#[derive(Debug, Default)]
struct Columns {
    count: usize,
    email: usize,
    name: usize,
    goals: Option<usize>,
    timezone: Option<usize>,
    coach: Option<usize>,
    membership_status: Option<usize>,
}

fn header(line: u64, r: &csv::ByteRecord) -> Result<Columns> {
    let names: Vec<String> = r
        .iter()
        .map(|f| String::from_utf8_lossy(f).trim().to_ascii_lowercase())
        .collect();
    let unknown: Vec<String> = names
        .iter()
        .filter(|n| !COLUMNS.contains(&n.as_str()))
        .map(|n| format!("'{n}'"))
        .collect();
    if !unknown.is_empty() {
        return Err(Error::invalid(format!(
            "line {line}: the header names unknown column(s) {}; a roster has the columns {}",
            unknown.join(", "),
            header_help()
        )));
    }
    let pos = |c: &str| names.iter().position(|n| n == c);
    for c in COLUMNS {
        if names.iter().filter(|n| *n == c).count() > 1 {
            return Err(Error::invalid(format!(
                "line {line}: the header names the column '{c}' twice"
            )));
        }
    }
    let missing: Vec<&str> = ["email", "name"]
        .into_iter()
        .filter(|c| pos(c).is_none())
        .collect();
    let (Some(email), Some(name)) = (pos("email"), pos("name")) else {
        return Err(Error::invalid(format!(
            "line {line}: the header lacks the required column(s) {}; a roster has the columns {}",
            missing.join(", "),
            header_help()
        )));
    };
    Ok(Columns {
        count: names.len(),
        email,
        name,
        goals: pos("goals"),
        timezone: pos("timezone"),
        coach: pos("coach"),
        membership_status: pos("membership_status"),
    })
}

/// One record into a row, or the reasons it is bad (all of them, joined).
fn row(line: u64, cols: &Columns, r: &csv::ByteRecord) -> Result<Row, RowError> {
    if r.len() != cols.count {
        return Err(RowError::invalid(
            line,
            format!(
                "has {} field(s), the header has {} (quote a value that holds a comma)",
                r.len(),
                cols.count
            ),
        ));
    }
    let mut cells = Vec::with_capacity(r.len());
    for f in r.iter() {
        match std::str::from_utf8(f) {
            Ok(s) => cells.push(unguard(s)),
            Err(_) => {
                return Err(RowError::invalid(
                    line,
                    "is not valid UTF-8 text (save the file as UTF-8)",
                ));
            }
        }
    }
    let mut problems: Vec<String> = Vec::new();
    fn check<T>(r: Result<T>, problems: &mut Vec<String>) -> Option<T> {
        r.map_err(|e| problems.push(e.to_string())).ok()
    }
    let p = &mut problems;
    let email = check(Email::parse(cells[cols.email]), p);
    let name = check(PersonName::parse(cells[cols.name]), p);
    // An optional column: absent, empty, or a value to parse.
    fn opt<T>(
        cells: &[&str],
        at: Option<usize>,
        f: impl Fn(&str) -> Result<T>,
    ) -> Result<Option<Option<T>>> {
        match at.map(|i| cells[i].trim()) {
            None => Ok(None),
            Some("") => Ok(Some(None)),
            Some(s) => f(s).map(|v| Some(Some(v))),
        }
    }
    let goals = check(
        opt(&cells, cols.goals, |s| {
            ProfileText::parse(s).map(|t| t.as_str().to_string())
        }),
        p,
    );
    let timezone = check(opt(&cells, cols.timezone, TimeZone::parse), p);
    let coach = check(
        opt(&cells, cols.coach, |s| {
            UserRef::parse(s).map_err(|e| Error::invalid(format!("coach: {e}")))
        }),
        p,
    );
    let membership_status = check(
        opt(&cells, cols.membership_status, MembershipStatus::parse),
        p,
    );
    match (email, name, goals, timezone, coach, membership_status) {
        (Some(email), Some(name), Some(goals), Some(timezone), Some(coach), Some(status)) => {
            Ok(Row {
                line,
                email,
                name,
                goals,
                timezone,
                coach,
                membership_status: status,
            })
        }
        _ => Err(RowError::invalid(line, problems.join("; "))),
    }
}

/// One exported member: the roster columns, as text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct Record {
    pub id: uuid::Uuid,
    pub email: String,
    pub name: String,
    pub goals: Option<String>,
    pub timezone: String,
    pub coach: Option<String>,
    pub membership_status: String,
}

/// Write records as a roster file (header first), formula-guarded.
pub fn write(records: &[Record], out: impl Write) -> Result<()> {
    let mut w = Writer::new(out);
    for r in records {
        w.row(r)?;
    }
    w.finish()
}

/// A roster file written row by row, as the rows arrive. The header goes
/// out with the first row (or at the end): a refusal before any row
/// leaves stdout empty.
pub struct Writer<W: Write> {
    w: csv::Writer<W>,
    started: bool,
}

fn csv_io(e: csv::Error) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => Error::Io(e),
        other => Error::Internal(format!("cannot write CSV: {other:?}")),
    }
}

impl<W: Write> Writer<W> {
    pub fn new(out: W) -> Self {
        let w = csv::WriterBuilder::new()
            .buffer_capacity(64 * 1024)
            .from_writer(out);
        Writer { w, started: false }
    }

    fn start(&mut self) -> Result<()> {
        if !self.started {
            self.started = true;
            self.w.write_record(COLUMNS).map_err(csv_io)?;
        }
        Ok(())
    }

    pub fn row(&mut self, r: &Record) -> Result<()> {
        self.cells(CsvRow::Cells(&[
            &r.email,
            &r.name,
            r.goals.as_deref().unwrap_or_default(),
            &r.timezone,
            r.coach.as_deref().unwrap_or_default(),
            &r.membership_status,
        ]))
    }

    /// One row from its cells as text, in [`COLUMNS`] order (an empty text
    /// for none), or as the text of a row no cell of which changes.
    pub fn cells(&mut self, row: CsvRow<'_>) -> Result<()> {
        self.start()?;
        let cells = match row {
            CsvRow::Plain(line) => {
                return self.w.write_record(line.split(',')).map_err(csv_io);
            }
            CsvRow::Cells(cells) => cells,
        };
        // Stored control, bidirectional and invisible characters are
        // escaped, as on a screen: a spreadsheet or a `cat` of the file
        // shows them.
        let cells: Vec<Cow<'_, str>> = cells.iter().map(|s| cell(s)).collect();
        self.w
            .write_record(cells.iter().map(|c| c.as_bytes()))
            .map_err(csv_io)
    }

    pub fn finish(mut self) -> Result<()> {
        self.start()?;
        self.w.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_guarded_cell_reads_back_as_it_was_written() {
        for s in ["=1+1", "'=1+1", "''@x", "plain", "'plain", "-5", "", "'"] {
            assert_eq!(unguard(&guard(s)), s, "{s:?}");
        }
        assert_eq!(guard("=1+1"), "'=1+1");
        assert_eq!(guard("'quoted"), "'quoted");
    }

    proptest! {
        #[test]
        fn guard_and_unguard_round_trip_and_never_leave_a_formula(s in any::<String>()) {
            let g = guard(&s);
            prop_assert!(!g.starts_with(FORMULA_STARTS));
            prop_assert_eq!(unguard(&g), s.as_str());
        }
    }

    #[test]
    fn a_bom_crlf_and_blank_lines_are_read_as_plain_rows() {
        let p = parse(
            b"\xEF\xBB\xBFemail,name\r\n\r\nbo@example.com,Bo\r\n  \r\ncy@example.com,Cy\r\n",
        )
        .expect("parse");
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let lines: Vec<u64> = p.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, [3, 5]);
    }

    #[test]
    fn line_numbers_count_crlf_blank_lines_and_line_breaks_inside_quotes() {
        let p = parse(b"email,name,goals\r\nbad,A,\"one\r\ntwo\"\r\n\r\n\r\nworse,B,\n\nb@example.com,C,\"x\ny\"\nbad3,D,\n")
            .expect("parse");
        let lines: Vec<u64> = p.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 6, 10]);
        assert_eq!(p.rows[0].line, 8);
    }
}
