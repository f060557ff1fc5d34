//! The file to the server as it is read: each valid row goes with COPY into
//! a temporary table (`roster_in`), so that an import holds no more of the
//! file than one COPY buffer, and the checks against the database read the
//! rows back from there in file order.

use std::collections::HashMap;
use std::io::Read;

use sqlx::PgConnection;

use super::csv_file::{Reader, Row};
use super::{RowError, ref_key};
use crate::domain::UserRef;
use crate::error::Result;

/// What staging a file gave.
pub(crate) struct Staged {
    /// The valid rows sent.
    pub rows: u64,
    /// Each coach reference of the file by its key, as parsed.
    pub refs: HashMap<String, UserRef>,
}

/// A COPY buffer is sent when it is this full.
const CHUNK: usize = 256 << 10;

/// Read the whole file into `roster_in`; bad rows go to `errors`.
pub(crate) async fn file<R: Read>(
    conn: &mut PgConnection,
    reader: &mut Reader<R>,
    errors: &mut Vec<RowError>,
) -> Result<Staged> {
    // `email` is canonical (crate::domain::Email): two rows are one member
    // exactly when their texts are equal. The optional columns hold NULL
    // for an empty cell and for a column the file lacks (`Reader::present`
    // tells which).
    sqlx::raw_sql(
        "CREATE TEMP TABLE roster_in (
            line bigint NOT NULL, email text NOT NULL, name text NOT NULL, goals text,
            timezone text, coach text, membership_status text
         ) ON COMMIT DROP",
    )
    .execute(&mut *conn)
    .await?;
    let mut staged = Staged {
        rows: 0,
        refs: HashMap::new(),
    };
    let mut copy = conn.copy_in_raw("COPY roster_in FROM STDIN").await?;
    let mut buf = String::with_capacity(CHUNK);
    // The COPY is left unfinished on an error: dropping it aborts it, and
    // the transaction with it.
    while let Some(row) = reader.next_row()? {
        match row {
            Ok(row) => {
                push_row(&mut buf, &row, &mut staged.refs);
                staged.rows += 1;
            }
            Err(e) => errors.push(e),
        }
        if buf.len() > CHUNK - 4096 {
            copy.send(buf.as_bytes()).await?;
            buf.clear();
        }
    }
    copy.send(buf.as_bytes()).await?;
    copy.finish().await?;
    // A temporary table has no statistics until asked: without them the
    // checks would join it as if it were tiny.
    sqlx::raw_sql("ANALYZE roster_in")
        .execute(&mut *conn)
        .await?;
    Ok(staged)
}

fn push_row(buf: &mut String, r: &Row, refs: &mut HashMap<String, UserRef>) {
    use std::fmt::Write;
    let _ = write!(buf, "{}\t", r.line);
    field(buf, Some(r.email.as_str()));
    field(buf, Some(r.name.as_str()));
    field(buf, r.goals.as_ref().and_then(|g| g.as_deref()));
    field(
        buf,
        r.timezone
            .as_ref()
            .and_then(|t| t.as_ref())
            .map(|t| t.as_str()),
    );
    let coach = r.coach.as_ref().and_then(|c| c.as_ref()).map(|c| {
        let key = ref_key(c);
        if !refs.contains_key(&key) {
            refs.insert(key.clone(), c.clone());
        }
        key
    });
    field(buf, coach.as_deref());
    let status = r
        .membership_status
        .as_ref()
        .and_then(|s| s.as_ref())
        .map(|s| s.as_str());
    match status {
        Some(s) => buf.push_str(s),
        None => buf.push_str("\\N"),
    }
    buf.push('\n');
}

/// A text-format COPY field and its tab: `\N` for NULL, backslash escapes.
pub(crate) fn field(buf: &mut String, v: Option<&str>) {
    match v {
        None => buf.push_str("\\N"),
        Some(s) => {
            for c in s.chars() {
                match c {
                    '\\' => buf.push_str("\\\\"),
                    '\t' => buf.push_str("\\t"),
                    '\n' => buf.push_str("\\n"),
                    '\r' => buf.push_str("\\r"),
                    c => buf.push(c),
                }
            }
        }
    }
    buf.push('\t');
}
