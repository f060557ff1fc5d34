//! `book`'s first statement on a fresh connection: the booking itself, with
//! the schema check and who is connected folded in, so that a booking by
//! the database owner costs one round trip (issue 23).
//!
//! The statement books only when the newest applied migration is this
//! binary's and the login is the owner (who acts as the operator without
//! `--as`); otherwise it writes nothing and says what it saw, and `book`
//! connects the usual way, whose check refuses a schema too old or too new
//! with its own sentence. A schema too old to run the statement at all
//! fails it, with the same outcome.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::{Booking, FastParams, Request, Tried};
use crate::actor::Actor;
use crate::error::Result;

/// What [`first`] came to.
#[derive(Debug)]
pub enum First {
    /// Booked; the coach's zone, for showing the times.
    Booked(Booking, chrono_tz::Tz),
    /// The schema is current and the login is the owner, but nothing was
    /// booked: the usual path goes on from there (the check needs no
    /// repeating), with what the statement came to.
    Owner(Tried),
    /// Anything else (another login, another schema version): connect and
    /// check the usual way.
    Unknown,
}

/// (applied migration, login's role, start, end, coach email, member email, coach zone)
type Row = (
    Option<i64>,
    Option<String>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Book `req` as the operator (the owner, no `--as`) in one statement on
/// a connection not yet checked. `req`'s people must be emails or full ids.
pub async fn first(pool: &PgPool, req: &Request) -> Result<First> {
    let actor = Actor::operator();
    let Some(who) = req.member.clone() else {
        // the operator names the member; without one the usual path says so
        return Ok(First::Unknown);
    };
    let Some(p) = FastParams::new(&actor, req, &who) else {
        return Ok(First::Unknown);
    };
    let latest = crate::db::MIGRATOR
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0);
    let row: std::result::Result<Row, _> = p
        .bind(sqlx::query_as(concat!(
            "WITH v AS (
                SELECT (SELECT max(version) FROM _sqlx_migrations WHERE success) AS applied,
                       current_actor_role() AS role
             ), ",
            fast_coach!(),
            "
                  AND (SELECT v.applied = $15 AND v.role = 'owner' FROM v)",
            fast_rest!(),
            "
             SELECT v.applied, v.role, r.starts_at, r.ends_at, r.coach_email, r.member_email, r.tz
             FROM v LEFT JOIN (SELECT s.starts_at, s.ends_at, slot.coach_email, slot.member_email,
                                      slot.tz::text AS tz
                               FROM s, slot, a) r ON true"
        )))
        .bind(latest)
        .fetch_one(pool)
        .await;
    match row {
        Ok((_, _, Some(start), Some(end), Some(coach), Some(member), Some(tz))) => {
            let tz = super::zone(&tz)?;
            Ok(First::Booked(p.booking((start, end, coach, member)), tz))
        }
        Ok((Some(applied), Some(role), ..)) if applied == latest && role == "owner" => {
            Ok(First::Owner(Tried::NothingMade))
        }
        // Only past the check does the statement write, so only then can
        // it break an integrity rule (a full slot, a seat held twice).
        Err(sqlx::Error::Database(e)) if e.code().is_some_and(|c| c.starts_with("23")) => {
            Ok(First::Owner(Tried::Refused(sqlx::Error::Database(e))))
        }
        // The usual path meets the same fault and names it.
        Ok(_) | Err(_) => Ok(First::Unknown),
    }
}
