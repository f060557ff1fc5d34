//! `book`'s first statement on a fresh connection: the booking itself, with
//! the schema check and who acts folded in, so that a booking costs one
//! round trip (issue 23) whoever makes it: the database owner (the operator,
//! or acting `--as` someone), or a person's own login.
//!
//! The statement books only when the newest applied migration is this
//! binary's and it finds who acts as the usual path would
//! ([`crate::users`]' `Actor::from_identity`): the operator when the owner
//! names nobody, the active user `--as` names when the owner does, the
//! login's own person otherwise (an admin's login acting for someone sets
//! that up the usual way). A member books only for themself, an admin for
//! the member named; a coach books nothing here (`session create`), and row
//! level security decides for a login what the statement reads and writes,
//! as for any statement of theirs. When the statement writes nothing, it
//! says what it saw, and `book` goes the usual way, whose checks word the
//! refusal. A schema too old to run the statement at all fails it, with the
//! same outcome.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::{Booking, FastParams, Request, Tried};
use crate::domain::UserRef;
use crate::error::Result;

/// What [`first`] came to.
#[derive(Debug)]
pub enum First {
    /// Booked; the coach's zone, for showing the times.
    Booked(Booking, chrono_tz::Tz),
    /// The schema is current and the operator acts (the owner, no `--as`),
    /// but nothing was booked: the usual path goes on from there (the check
    /// needs no repeating), with what the statement came to.
    Owner(Tried),
    /// The schema is current and someone acts (`--as`, or a login's
    /// person), but nothing was booked: the usual path learns who, and goes
    /// on from there.
    Person(Tried),
    /// The database refused the booking (an integrity rule: the slot full,
    /// a booking limit, a seat held twice): nothing was written, and who
    /// acted the database alone knows (see [`super::record_first_refusal`]).
    Refused(sqlx::Error),
    /// Anything else (a login of nobody here, a coach's, an admin's acting
    /// for someone, another schema version): connect and check the usual way.
    Unknown,
}

/// (applied migration, login's role, actors found, the operator acts,
/// start, end, coach email, member email, coach zone)
type Row = (
    Option<i64>,
    Option<String>,
    i64,
    bool,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// The newest migration this binary carries.
pub(super) fn latest_version() -> i64 {
    crate::db::MIGRATOR
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0)
}

/// Book `req` in one statement on a connection not yet checked, for the
/// actor that `as_user` (`--as`) and the connection's login make.
/// `req`'s people and `as_user` must be emails or full ids.
pub async fn first(pool: &PgPool, req: &Request, as_user: Option<&UserRef>) -> Result<First> {
    if matches!(as_user, Some(UserRef::Prefix(_))) {
        return Ok(First::Unknown);
    }
    let Some(p) = FastParams::acting(req, as_user) else {
        return Ok(First::Unknown);
    };
    let (as_id, as_email) = as_user.map_or((None, None), crate::users::ref_params);
    let row: std::result::Result<Row, _> = p
        .bind(sqlx::query_as(concat!(
            "WITH ",
            first_actor!("$15", "$16", "$17"),
            ", ",
            fast_coach!(),
            "
                  AND EXISTS (SELECT 1 FROM act)",
            fast_rest!(
                "OR ($3::uuid IS NULL AND $4::text IS NULL AND u.id = (SELECT id FROM act))",
                "AND (SELECT role IN ('admin', 'member') AND (role <> 'member' OR id = u.id) FROM act)",
                "(SELECT id FROM act)",
                "(SELECT label FROM act)"
            ),
            "
             SELECT v.applied, v.role, (SELECT count(*) FROM act),
                    coalesce((SELECT operator FROM act), false),
                    r.starts_at, r.ends_at, r.coach_email, r.member_email, r.tz
             FROM v LEFT JOIN (SELECT s.starts_at, s.ends_at, slot.coach_email, slot.member_email,
                                      slot.tz::text AS tz
                               FROM s, slot, a) r ON true"
        )))
        .bind(latest_version())
        .bind(as_id)
        .bind(as_email)
        .fetch_one(pool)
        .await;
    match row {
        Ok((_, _, _, _, Some(start), Some(end), Some(coach), Some(member), Some(tz))) => {
            let tz = super::zone(&tz)?;
            Ok(First::Booked(p.booking((start, end, coach, member)), tz))
        }
        Ok((_, _, 1, true, ..)) => Ok(First::Owner(Tried::NothingMade)),
        Ok((_, _, 1, false, ..)) => Ok(First::Person(Tried::NothingMade)),
        // Only past the check does the statement write, so only then can
        // it break an integrity rule (a full slot, a seat held twice).
        Err(sqlx::Error::Database(e)) if e.code().is_some_and(|c| c.starts_with("23")) => {
            Ok(First::Refused(sqlx::Error::Database(e)))
        }
        // The usual path meets the same fault and names it.
        Ok(_) | Err(_) => Ok(First::Unknown),
    }
}
