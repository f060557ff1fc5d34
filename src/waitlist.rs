//! The waitlist (issue 20, item 2): `book --waitlist` on a full slot joins
//! its queue; `waitlist list` and `waitlist leave`. Offers are the
//! database's job (migration 001410): the transaction that frees a seat
//! offers it to the first eligible waiter, whatever path freed it.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::actor::Actor;
use crate::audit::{self, Change};
use crate::booking::{self, Booking, Request, SLOT_FULL};
use crate::domain::{Role, UserRef};
use crate::error::{Error, Result, ResultExt};

/// A place in a slot's queue.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Entry {
    pub id: Uuid,
    /// waiting, offered, booked, declined, expired or left
    pub status: String,
    /// Place in the queue among those still waiting (1 = next); none once
    /// offered or closed.
    pub position: Option<i64>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub coach_email: String,
    pub member_email: String,
    pub joined_at: DateTime<Utc>,
    /// The proposed session that holds the seat for this entry.
    pub offer_id: Option<Uuid>,
    pub offer_expires_at: Option<DateTime<Utc>>,
}

/// What `book` did: booked, or (with `--waitlist` on a full slot) joined
/// the slot's queue.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Booked; the coach's zone, for showing the times.
    Booked(Booking, chrono_tz::Tz),
    Waitlisted(Joined),
}

/// `{"status":"waitlisted","position":N}` and the entry it made.
#[derive(Debug, Clone, Serialize)]
pub struct Joined {
    pub id: Uuid,
    pub status: &'static str,
    pub position: i64,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub coach_email: String,
    pub member_email: String,
}

/// `book`, and with `wait` a full slot joins its queue instead of failing.
/// Without it the refusal of a full slot says that the queue exists.
/// `tried`: what the booking's one statement came to, if it was just tried
/// ([`booking::first`]), so the first try goes on from there.
pub async fn book(
    pool: &PgPool,
    actor: &Actor,
    req: &Request,
    wait: bool,
    tried: booking::Tried,
) -> Result<Outcome> {
    let mut tried = Some(tried);
    // A seat that frees between the refusal and the join is booked: the
    // join refuses a slot with a free seat, and the booking runs again.
    for _ in 0..3 {
        let tried = tried.take().unwrap_or(booking::Tried::Not);
        match booking::book_after(pool, actor, req, tried).await {
            Ok((b, tz)) => return Ok(Outcome::Booked(b, tz)),
            Err(Error::Conflict(m)) if m == SLOT_FULL && wait => {
                if let Some(j) = join(pool, actor, req).await? {
                    return Ok(Outcome::Waitlisted(j));
                }
            }
            Err(e @ Error::Conflict(_)) if !wait => return Err(unless_waiting(e)),
            Err(e) => return Err(e),
        }
    }
    Err(Error::conflict(SLOT_FULL))
}

/// A refusal for a booking made without `--waitlist`: a full slot says
/// that one may wait for a seat.
pub fn unless_waiting(e: Error) -> Error {
    match e {
        Error::Conflict(m) if m == SLOT_FULL => {
            Error::conflict(format!("{SLOT_FULL} (or wait for a seat with --waitlist)"))
        }
        other => other,
    }
}

/// Join a full slot's queue; `None` when the slot has a free seat after all.
async fn join(pool: &PgPool, actor: &Actor, req: &Request) -> Result<Option<Joined>> {
    let parties = booking::prepare(pool, actor, &req.coach, req.member.as_ref()).await?;
    let (c, m) = (&parties.coach, &parties.member);
    let tz = c.tz();
    let start = req.at.resolve(tz)?;
    let mut conn = pool.acquire().await?;
    let schedule = crate::availability::load_schedule(
        &mut conn,
        c,
        (start - Duration::days(2), start + Duration::days(2)),
    )
    .await?;
    let slot = schedule
        .check(start, Utc::now())
        .map_err(|r| Error::rule(r.sentence(tz)))?;
    drop(conn);
    let id = Uuid::new_v4();
    let kind = req
        .session_type
        .map(|t| t.as_str())
        .unwrap_or(if parties.held.is_empty() {
            "initial"
        } else {
            "regular"
        });
    let mut tx = pool.begin().await?;
    let position: Option<i64> = sqlx::query_scalar("SELECT waitlist_join($1, $2, $3, $4, $5, $6)")
        .bind(id)
        .bind(c.id)
        .bind(m.id)
        .bind(slot.start)
        .bind(slot.end)
        .bind(kind)
        .fetch_one(&mut *tx)
        .await
        .on_constraint("waitlist_once_per_slot", || {
            Error::conflict(format!("{} is already waiting for that slot", m.email))
        })
        .on_constraint("sessions_member_once_per_start", || {
            Error::conflict(format!("{} already has a seat in that slot", m.email))
        })?;
    let Some(position) = position else {
        return Ok(None);
    };
    let joined = Joined {
        id,
        status: "waitlisted",
        position,
        start: slot.start,
        end: slot.end,
        coach_email: c.email.clone(),
        member_email: m.email.clone(),
    };
    audit::record(
        &mut tx,
        actor,
        Change::of("waitlist.join", "waitlist", id, None, Some(&joined))?,
    )
    .await?;
    tx.commit().await?;
    Ok(Some(joined))
}

const SELECT: &str = "SELECT w.id, w.status,
        CASE WHEN w.status = 'waiting' THEN
            (SELECT count(*) FROM waitlist o
             WHERE o.coach_id = w.coach_id AND o.starts_at = w.starts_at
               AND o.status = 'waiting' AND o.seq <= w.seq) END AS position,
        w.starts_at AS start, w.ends_at AS end, c.email AS coach_email,
        m.email AS member_email, w.joined_at, w.offer_id,
        (SELECT s.expires_at FROM sessions s
         WHERE s.id = w.offer_id AND s.status = 'proposed') AS offer_expires_at
    FROM waitlist w JOIN users c ON c.id = w.coach_id JOIN users m ON m.id = w.member_id";

/// `waitlist list`: open places (waiting or offered) in future slots; a
/// member sees their own, a coach their slots' queues, an admin all.
pub async fn list(
    pool: &PgPool,
    actor: &Actor,
    coach: Option<&UserRef>,
    member: Option<&UserRef>,
) -> Result<Vec<Entry>> {
    let mut conn = pool.acquire().await?;
    let coach_id = match coach {
        Some(r) => Some(crate::coach::find(&mut conn, actor, r).await?.id),
        None => None,
    };
    let member_id = match member {
        Some(r) => Some(crate::member::find(&mut conn, actor, r).await?.id),
        None => None,
    };
    let me = actor.id().map(|i| i.as_uuid());
    let (own_coach, own_member) = match actor.role() {
        Role::Admin => (None, None),
        Role::Coach => (me, None),
        Role::Member => (None, me),
    };
    let sql = format!(
        "{SELECT}
         WHERE w.status IN ('waiting', 'offered') AND w.starts_at > now()
           AND ($1::uuid IS NULL OR w.coach_id = $1) AND ($2::uuid IS NULL OR w.member_id = $2)
           AND ($3::uuid IS NULL OR w.coach_id = $3) AND ($4::uuid IS NULL OR w.member_id = $4)
         ORDER BY w.starts_at, w.seq"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(coach_id)
        .bind(member_id)
        .bind(own_coach)
        .bind(own_member)
        .fetch_all(&mut *conn)
        .await?)
}

/// `waitlist leave`: the member, the slot's coach or an admin closes a
/// place; an open offer of it is declined, which offers the seat to the
/// next in line.
pub async fn leave(pool: &PgPool, actor: &Actor, id: Uuid) -> Result<Entry> {
    let mut tx = pool.begin().await?;
    let sql = format!("{SELECT} WHERE w.id = $1 FOR UPDATE OF w");
    let before: Entry = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| Error::not_found(format!("no waitlist place {id}")))?;
    let (coach_id, member_id): (Uuid, Uuid) =
        sqlx::query_as("SELECT coach_id, member_id FROM waitlist WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
    let mine = actor
        .id()
        .is_some_and(|i| i.as_uuid() == coach_id || i.as_uuid() == member_id);
    if !actor.is_admin() && !mine {
        // not an oracle: someone else's place is as unknown as none
        return Err(Error::not_found(format!("no waitlist place {id}")));
    }
    if !matches!(before.status.as_str(), "waiting" | "offered") {
        return Err(Error::rule(format!(
            "waitlist place {id} is already closed ({})",
            before.status
        )));
    }
    sqlx::query("UPDATE waitlist SET status = 'left', closed_at = now() WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if let Some(offer) = before.offer_id {
        sqlx::query(
            "UPDATE sessions SET status = 'declined', responded_at = now(),
                decline_reason = 'left the waitlist', sequence = sequence + 1, updated_at = now()
             WHERE id = $1 AND status = 'proposed'",
        )
        .bind(offer)
        .execute(&mut *tx)
        .await?;
    }
    let after: Entry = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        actor,
        Change::of(
            "waitlist.leave",
            "waitlist",
            id,
            Some(&before),
            Some(&after),
        )?,
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}
