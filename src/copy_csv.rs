//! Long lists read through the server's `COPY ... TO STDOUT` (issue 23):
//! `member list -o csv` and `member export` of 100,000 members at the speed
//! of psql's `\copy`. The server writes each row as CSV, the cheapest form
//! it has; no row is decoded into typed values on this side. The cells are
//! then written out by the same code as every other CSV of coachctl (the
//! formula guard and the escaping of stored control characters stay in
//! one place), while the server already sends the next rows.

use std::borrow::Cow;

use futures_util::TryStreamExt;
use sqlx::{Connection, PgConnection};

use crate::error::{Error, Result};

/// Run `select` through `COPY (select) TO STDOUT` and hand each row's
/// cells to `each`, in order. A NULL and an empty text both come as `""`:
/// every CSV of coachctl writes them alike (an empty cell).
///
/// One transaction, so that the connection's prelude (`coachctl.act_as`,
/// an admin's login acting for someone) holds for the COPY, and so that
/// behind a transaction-mode pooler the COPY runs where its prelude ran.
/// `select` must hold no parameters (COPY takes none): values go in as
/// [`literal`]s.
pub(crate) async fn each_row(
    conn: &mut PgConnection,
    select: &str,
    mut each: impl FnMut(CsvRow<'_>) -> Result<()>,
) -> Result<()> {
    let mut tx = conn.begin().await?;
    {
        let copy = format!("COPY ({select}) TO STDOUT WITH (FORMAT csv)");
        let mut rows = tx.copy_out_raw(&copy).await?;
        // The server sends one row a message (the protocol's promise for
        // COPY TO); a row's line breaks are inside its quotes.
        while let Some(row) = rows.try_next().await? {
            let text = std::str::from_utf8(&row)
                .map_err(|_| Error::Internal("the server sent a row that is not UTF-8".into()))?;
            if let Some(line) = text.strip_suffix('\n').filter(|l| plain(l)) {
                each(CsvRow::Plain(line))?;
                continue;
            }
            let mut cells: Vec<Cow<'_, str>> = Vec::with_capacity(8);
            split_row(text, &mut cells)?;
            let cells: Vec<&str> = cells.iter().map(AsRef::as_ref).collect();
            each(CsvRow::Cells(&cells))?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// One row of a COPY.
pub enum CsvRow<'a> {
    /// The row as the server wrote it, without its line end, when every
    /// CSV writer of coachctl writes it the same: printable ASCII only, no
    /// `"` (so no cell is quoted, and none is an empty text), and no cell
    /// starting with a character a formula guard looks at (`=+-@'`). Most
    /// rows are such; they are copied, not taken apart.
    Plain(&'a str),
    /// Any other row: its cells.
    Cells(&'a [&'a str]),
}

/// See [`CsvRow::Plain`].
fn plain(line: &str) -> bool {
    let mut cell_start = true;
    for &b in line.as_bytes() {
        let guarded = cell_start && matches!(b, b'=' | b'+' | b'-' | b'@' | b'\'');
        if !(b' '..=b'~').contains(&b) || b == b'"' || guarded {
            return false;
        }
        cell_start = b == b',';
    }
    true
}

/// The cells of one CSV row as PostgreSQL writes it (`,` between cells,
/// `"` around a cell holding `,`, `"`, a line break or nothing, `""` for
/// a quote inside, `\n` at the end).
fn split_row<'a>(row: &'a str, cells: &mut Vec<Cow<'a, str>>) -> Result<()> {
    let bad = || Error::Internal("the server sent a CSV row coachctl cannot read".into());
    let row = row.strip_suffix('\n').ok_or_else(bad)?;
    let mut rest = row;
    loop {
        if let Some(quoted) = rest.strip_prefix('"') {
            // up to the quote that is not doubled
            let mut end = 0;
            let bytes = quoted.as_bytes();
            let mut doubled = false;
            loop {
                let at = quoted[end..].find('"').ok_or_else(bad)? + end;
                if bytes.get(at + 1) == Some(&b'"') {
                    doubled = true;
                    end = at + 2;
                    continue;
                }
                end = at;
                break;
            }
            let inner = &quoted[..end];
            cells.push(if doubled {
                Cow::Owned(inner.replace("\"\"", "\""))
            } else {
                Cow::Borrowed(inner)
            });
            rest = &quoted[end + 1..];
            match rest.strip_prefix(',') {
                Some(next) => rest = next,
                None if rest.is_empty() => return Ok(()),
                None => return Err(bad()),
            }
        } else {
            match rest.find(',') {
                Some(at) => {
                    cells.push(Cow::Borrowed(&rest[..at]));
                    rest = &rest[at + 1..];
                }
                None => {
                    cells.push(Cow::Borrowed(rest));
                    return Ok(());
                }
            }
        }
    }
}

/// A text value as an SQL literal, for a statement that cannot take
/// parameters (COPY): an escape string, so that what it means does not
/// hang on `standard_conforming_strings`. A NUL, which no text column
/// holds, is refused rather than cut.
pub(crate) fn literal(s: &str) -> Result<String> {
    if s.contains('\0') {
        return Err(Error::invalid("a text value may not hold a NUL character"));
    }
    let mut out = String::with_capacity(s.len() + 4);
    out.push_str("E'");
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(row: &str) -> Vec<String> {
        let mut out = Vec::new();
        split_row(row, &mut out).expect("a row");
        out.into_iter().map(Cow::into_owned).collect()
    }

    #[test]
    fn a_row_of_postgresql_csv_splits_into_its_cells_quotes_undone() {
        assert_eq!(cells("a,,\"\",b\n"), ["a", "", "", "b"]);
        assert_eq!(
            cells("\"x, \"\"y\"\"\",\"line\none\",\"\"\"\"\n"),
            ["x, \"y\"", "line\none", "\""]
        );
        assert_eq!(cells("\"a\"\n"), ["a"]);
        assert_eq!(cells("é,日本\n"), ["é", "日本"]);
    }

    #[test]
    fn only_rows_no_writer_changes_are_plain() {
        assert!(plain("a@x.com,Bo Lind,,UTC,active"));
        for not in [
            "a,\"b, c\"",
            "a,,\"\"",
            "a,=1+1",
            "-5,a",
            "a,'=x",
            "a,@b",
            "a,Dörte",
            "a,b\tc",
        ] {
            assert!(!plain(not), "{not:?}");
        }
    }

    #[test]
    fn a_row_that_is_not_postgresql_csv_is_an_error_not_a_guess() {
        for bad in ["a,b", "\"open\n", "\"a\"b\n"] {
            let mut out = Vec::new();
            assert!(split_row(bad, &mut out).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_literal_doubles_quotes_and_backslashes_and_refuses_nul() {
        assert_eq!(literal("o'neil@x").unwrap(), "E'o''neil@x'");
        assert_eq!(literal("a\\'b").unwrap(), "E'a\\\\''b'");
        assert!(literal("a\0b").is_err());
    }
}
