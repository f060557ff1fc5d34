//! A refusal whose reason the failed statement itself carries: the slot is
//! full (`slots_booked_within_capacity`) or one of the coach's booking
//! limits is reached (the database words that sentence). Then the refusal is
//! recorded straight away, one statement, with no snapshot to say why: two
//! round trips for the refusal instead of three (issue 23).
//!
//! Any other refusal (a buffer, a window, a blocked date, a seat held twice)
//! keeps the snapshot path, whose reason is more precise than the
//! constraint's.

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{FastParams, Request, SLOT_FULL, limit_sentence};
use crate::actor::Actor;
use crate::domain::UserRef;
use crate::error::{Error, Result};

/// The statement that records a rejected booking, after `WITH ` and any
/// CTEs of the caller's: `$member_too` another way to match the member,
/// `$member_only` a further condition on them, `$actor_id` and
/// `$actor_label` the audit row's actor; the caller ends it with its FROM
/// list (`b, t` and its own).
macro_rules! record_rest {
    ($member_too:literal, $member_only:literal, $actor_id:literal, $actor_label:literal) => {
        concat!(
            "c AS (
            SELECT u.id, u.email, u.timezone AS tz FROM users u
            WHERE u.role = 'coach' AND (u.id = $1::uuid OR email_key(u.email) = email_key($2::text))
         ), m AS (
            SELECT u.id, u.email FROM users u
            WHERE u.role = 'member'
              AND (u.id = $3::uuid OR email_key(u.email) = email_key($4::text) ",
            $member_too,
            ") ",
            $member_only,
            "
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
         SELECT ",
            $actor_id,
            ", ",
            $actor_label,
            ", 'booking.reject', 'booking', b.id, NULL,
                jsonb_build_object(
                    'coach_email', t.coach_email, 'member_email', t.member_email,
                    'start', to_char(t.start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                    'reason', $9::text),
                $12"
        )
    };
}

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
    let done = bind_record(
        sqlx::query(concat!(
            "WITH ",
            record_rest!("", "", "$10", "$11"),
            " FROM b, t"
        )),
        &p,
        refusal,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Record the refusal of [`super::first`]'s statement, for whoever acted
/// there: this statement finds them again as that one did (`first_actor!`),
/// the connection's login and `--as` (`as_user`) being the same. The
/// refusal, once recorded; `None` when `e` names no reason by itself, or
/// nobody is found again (the usual path then says why).
pub async fn record_first(
    pool: &PgPool,
    req: &Request,
    as_user: Option<&UserRef>,
    e: &sqlx::Error,
) -> Result<Option<Error>> {
    let Some(refusal) = named(e) else {
        return Ok(None);
    };
    let Some(p) = FastParams::acting(req, as_user) else {
        return Ok(None);
    };
    let (as_id, as_email) = as_user.map_or((None, None), crate::users::ref_params);
    let query = sqlx::query(concat!(
        "WITH ",
        first_actor!("$13", "$14", "$15"),
        ", ",
        record_rest!(
            "OR ($3::uuid IS NULL AND $4::text IS NULL AND u.id = (SELECT id FROM act))",
            "AND (SELECT role IN ('admin', 'member') AND (role <> 'member' OR id = u.id) FROM act)",
            "act.id",
            "act.label"
        ),
        " FROM b, t, act"
    ));
    let done = bind_record(query, &p, &refusal)
        .bind(super::first::latest_version())
        .bind(as_id)
        .bind(as_email)
        .execute(pool)
        .await?;
    Ok((done.rows_affected() == 1).then_some(refusal))
}

/// The first twelve parameters of `record_rest!`: the booking as asked
/// ($1-$8), the refusal ($9) and who acted ($10-$12).
fn bind_record<'q>(
    q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    p: &'q FastParams,
    refusal: &Error,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    q.bind(p.cid)
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
}
