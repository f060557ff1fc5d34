//! A refusal whose reason the failed statement itself carries: the slot is
//! full (`slots_booked_within_capacity`) or one of the coach's booking
//! limits is reached (the database words that sentence). Then the refusal is
//! recorded straight away, one statement, with no snapshot to say why: two
//! round trips for the refusal instead of three (issue 23).
//!
//! Any other refusal (a buffer, a window, a blocked date, a seat held twice)
//! keeps the snapshot path, whose reason is more precise than the
//! constraint's.

use sqlx::PgConnection;
use uuid::Uuid;

use super::{FastParams, Request, SLOT_FULL, limit_sentence};
use crate::actor::Actor;
use crate::domain::UserRef;
use crate::error::{Error, Result};

/// The refusal `e` names by itself, if it does.
pub(super) fn named(e: &sqlx::Error) -> Option<Error> {
    if let Some(sentence) = limit_sentence(e) {
        return Some(Error::conflict(sentence));
    }
    match e {
        sqlx::Error::Database(d) if d.constraint() == Some("slots_booked_within_capacity") => {
            Some(Error::conflict(SLOT_FULL))
        }
        _ => None,
    }
}

/// Record the rejected booking of `req` and its audit row, in one
/// statement that finds the coach, the member and the start as the failed
/// booking statement did; `Ok(false)` when it finds them no more (a
/// deactivation a moment ago), for the snapshot path to say why.
pub(super) async fn record(
    conn: &mut PgConnection,
    actor: &Actor,
    req: &Request,
    who: &UserRef,
    refusal: &Error,
) -> Result<bool> {
    let Some(p) = FastParams::new(actor, req, who) else {
        return Ok(false);
    };
    let done = sqlx::query(
        "WITH c AS (
            SELECT u.id, u.email, u.timezone AS tz FROM users u
            WHERE u.role = 'coach' AND (u.id = $1::uuid OR email_key(u.email) = email_key($2::text))
         ), m AS (
            SELECT u.id, u.email FROM users u
            WHERE u.role = 'member' AND (u.id = $3::uuid OR email_key(u.email) = email_key($4::text))
         ), t AS (
            SELECT c.id AS coach_id, c.email AS coach_email, m.id AS member_id,
                   m.email AS member_email,
                   coalesce($5::timestamptz, $6::timestamp AT TIME ZONE c.tz) AS start
            FROM c CROSS JOIN m
         ), b AS (
            INSERT INTO bookings (id, coach_id, member_id, starts_at, status, member_notes,
                                  rejection_reason)
            SELECT $7, coach_id, member_id, start, 'rejected', $8, $9 FROM t
            RETURNING id
         )
         INSERT INTO audit_log (actor_id, actor_label, action, entity, entity_id, before, after,
                                acted_by_os_user)
         SELECT $10, $11, 'booking.reject', 'booking', b.id, NULL,
                jsonb_build_object(
                    'coach_email', t.coach_email, 'member_email', t.member_email,
                    'start', to_char(t.start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                    'reason', $9::text),
                $12
         FROM b, t",
    )
    .bind(p.cid)
    .bind(p.cemail.as_deref())
    .bind(p.mid)
    .bind(p.memail.as_deref())
    .bind(p.absolute)
    .bind(p.local)
    .bind(Uuid::new_v4())
    .bind(p.notes.as_deref())
    .bind(refusal.to_string())
    .bind(p.actor_id)
    .bind(p.actor_label.as_str())
    .bind(p.os_user.as_deref())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
