//! Paging of lists: at most `--limit` rows after a key (`--after`). Lists
//! hand their rows to a callback as they arrive from the server, so a list
//! of any length runs in bounded memory.

use std::fmt;
use std::str::FromStr;

use sqlx::PgConnection;

use crate::domain::UserRef;
use crate::error::{Error, Result};

/// How many rows a page holds at most: a positive whole number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(i64);

impl Limit {
    pub fn new(n: i64) -> Result<Self> {
        if n < 1 {
            return Err(Error::invalid(format!(
                "a limit must be a positive whole number, not {n}"
            )));
        }
        Ok(Limit(n))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl FromStr for Limit {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let n = s.trim().parse::<i64>().map_err(|_| {
            Error::invalid(format!(
                "'{s}' is not a limit: give a positive whole number of rows"
            ))
        })?;
        Limit::new(n)
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where a page starts (after the row named by `after`, exclusive) and how
/// many rows it holds at most. The key is what the last row of the previous
/// page printed: so paging is stable while rows are added or removed.
#[derive(Debug, Clone)]
pub struct Page<K> {
    pub after: Option<K>,
    pub limit: Option<Limit>,
}

impl<K> Default for Page<K> {
    fn default() -> Self {
        Page {
            after: None,
            limit: None,
        }
    }
}

impl<K> Page<K> {
    /// The limit as SQL takes it: `LIMIT NULL` is no limit.
    pub fn sql_limit(&self) -> Option<i64> {
        self.limit.map(Limit::get)
    }
}

/// The email that orders a person in a list: people lists are ordered by
/// email, so `--after` takes the last row's email or id.
pub(crate) async fn person_key(conn: &mut PgConnection, after: &UserRef) -> Result<String> {
    match after {
        // An email needs no lookup: it pages even when that person is gone.
        UserRef::Email(e) => Ok(e.as_str().to_string()),
        UserRef::Id(id) => sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
            .bind(id.as_uuid())
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| Error::not_found(format!("--after: no one has the id {after}"))),
        // The command resolves a prefix among what the actor may see first.
        UserRef::Prefix(p) => Err(Error::Internal(format!(
            "--after {p}: an id prefix reached the list unresolved"
        ))),
    }
}
