//! Guards of a coach's schedule: the lock a schedule change takes, and the
//! refusal when booked sessions would break a rule. Shared by `coach
//! update` (a new zone) and every availability change.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::Coach;
use crate::error::{Error, Result};

/// Take the coach's schedule lock for the rest of the transaction: their
/// bookings and other schedule changes queue behind it, so what this
/// transaction checks stays true until it commits.
pub(crate) async fn lock_schedule(conn: &mut PgConnection, coach: Uuid) -> Result<()> {
    sqlx::query("SELECT lock_coach_schedule($1)")
        .bind(coach)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// After a schedule change made in this (locked) transaction: refuse it,
/// naming them, if future booked sessions would break a rule. The database
/// checks the same at commit (`schedule_change_check`) for any writer.
pub(crate) async fn refuse_orphans(conn: &mut PgConnection, c: &Coach) -> Result<()> {
    let rows: Vec<(Uuid, DateTime<Utc>, String)> =
        sqlx::query_as("SELECT session_id, starts_at, problem FROM coach_schedule_violations($1)")
            .bind(c.id)
            .fetch_all(&mut *conn)
            .await?;
    if rows.is_empty() {
        return Ok(());
    }
    // (problem, sessions with it), in the order the function lists them
    let mut parts: Vec<(String, Vec<SessionAt>)> = Vec::new();
    for (id, at, problem) in rows {
        match parts.iter_mut().find(|(p, _)| *p == problem) {
            Some((_, v)) => v.push((id, at)),
            None => parts.push((problem, vec![(id, at)])),
        }
    }
    let described = parts
        .iter()
        .map(|(problem, v)| format!("{problem}: {}", name_sessions(v, c.tz())))
        .collect::<Vec<_>>()
        .join("; ");
    Err(Error::conflict(format!(
        "the change would leave booked sessions of coach {} {described}; cancel or move them first",
        c.email
    )))
}

/// A session named in a refusal: its id and start.
type SessionAt = (Uuid, DateTime<Utc>);

/// A refusal by the database's own check at commit: another writer got
/// there first, or the change broke a rule the code did not see.
pub(crate) fn orphan_error() -> Error {
    Error::conflict(
        "the change would leave booked sessions breaking the schedule (a booking arrived a moment ago); try again",
    )
}

fn name_sessions(ids: &[(Uuid, DateTime<Utc>)], tz: chrono_tz::Tz) -> String {
    ids.iter()
        .map(|(id, at)| format!("{id} at {}", crate::domain::dates::moment_now(*at, tz)))
        .collect::<Vec<_>>()
        .join(", ")
}
