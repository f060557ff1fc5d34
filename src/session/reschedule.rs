//! `session reschedule`: moving a session with a booking's checks. One
//! UPDATE moves it: the database's guard takes the new seat (capacity,
//! buffers, window, blocks, under the coach's lock) and the slot counter
//! gives the old one back in the same statement, so either the move happens
//! whole or nothing changes. The calendar SEQUENCE is raised.

use chrono::{Duration, Utc};
use uuid::Uuid;

use super::{Session, check_access, fetch, fetch_for_update, redact_for};
use crate::actor::Actor;
use crate::audit::{self, Change};
use crate::availability::load_schedule;
use crate::booking::{SLOT_FULL, refusal};
use crate::coach;
use crate::domain::{At, SessionStatus, UserId};
use crate::error::{Error, Result};
use crate::member;
use sqlx::PgPool;

/// `session reschedule <id> --at T` (the member, the coach, an admin).
pub async fn reschedule(pool: &PgPool, actor: &Actor, id: Uuid, at: &At) -> Result<Session> {
    let mut tx = pool.begin().await?;
    let before = fetch_for_update(&mut tx, id).await?;
    check_access(actor, &before)?;
    match before.status {
        SessionStatus::Proposed if before.expires_at.is_some_and(|t| t <= Utc::now()) => {
            return Err(Error::rule(format!(
                "the proposal of session {id} has expired; ask the coach for a new one"
            )));
        }
        SessionStatus::Scheduled | SessionStatus::Proposed => {}
        status => {
            return Err(Error::rule(format!(
                "session {id} is {status}; only proposed and scheduled sessions can be moved"
            )));
        }
    }
    let c = coach::fetch(&mut tx, UserId::from_uuid(before.coach_id)).await?;
    // The session's own member: the actor may act on the session, so on them.
    let m = member::fetch(&mut tx, UserId::from_uuid(before.member_id)).await?;
    let tz = c.tz();
    let now = Utc::now();
    let start = at.resolve(tz)?;
    if start == before.start {
        return Err(Error::rule(format!("session {id} is already at that time")));
    }
    if start <= now {
        return Err(Error::rule("that time has already passed"));
    }
    let off_grid: bool = sqlx::query_scalar("SELECT off_grid FROM sessions WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    let length = before.end - before.start;
    let end = if off_grid {
        start + length
    } else {
        let mut schedule = load_schedule(
            &mut tx,
            &c,
            (start - Duration::days(2), start + Duration::days(2)),
        )
        .await?;
        // The session being moved does not stand in its own way.
        if let Some(i) = schedule
            .sessions
            .iter()
            .position(|b| b.start == before.start && b.end == before.end)
        {
            schedule.sessions.remove(i);
        }
        let slot = schedule
            .check(start, now)
            .map_err(|r| Error::rule(r.sentence(tz)))?;
        if slot.remaining == 0 {
            return Err(Error::conflict(SLOT_FULL));
        }
        slot.end
    };
    let moved = sqlx::query(
        "UPDATE sessions SET starts_at = $2, ends_at = $3, sequence = sequence + 1,
            updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(start)
    .bind(end)
    .execute(&mut *tx)
    .await;
    if let Err(e) = moved {
        return Err(refusal(e, &m)?);
    }
    sqlx::query("UPDATE bookings SET starts_at = $2, updated_at = now() WHERE session_id = $1")
        .bind(id)
        .bind(start)
        .execute(&mut *tx)
        .await?;
    let after = fetch(&mut tx, id).await?;
    audit::record(
        &mut tx,
        actor,
        Change::of(
            "session.reschedule",
            "session",
            id,
            Some(&before),
            Some(&after),
        )?,
    )
    .await?;
    tx.commit().await?;
    Ok(redact_for(actor, after))
}
