//! The email outbox: what is queued, reminders, delivery (seed 003 r4, r11,
//! r13; DESIGN.md "Notifications").
//!
//! Notices are queued by database triggers in the transaction of the change
//! that causes them (migration 000006), so every writer queues them and a
//! rolled-back change queues nothing. `session remind` queues reminders;
//! `notify send` ([`send`]) delivers over SMTP.
//!
//! Delivery is exactly-once up to the SMTP hand-off: a message is claimed
//! under a lease by one sender, its claim checked and renewed right before
//! the hand-off, and marked sent right after the server took it. A sender
//! killed between the two leaves that one message to be sent again when the
//! lease runs out, with the same Message-ID (at-least-once at that boundary,
//! recognisable by the receiver); so does a server slower to take one
//! message than the whole lease.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

use crate::actor::Actor;
use crate::error::{Error, Result};
use crate::page::Limit;

pub mod render;
pub mod send;
mod words;

pub use send::{Delivery, Lease, SendOptions, send};

/// A message of the outbox as `notify list` shows it.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Message {
    pub id: Uuid,
    pub event: String,
    pub recipient_email: String,
    pub session_id: Option<Uuid>,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub message_id: String,
    pub last_error: Option<String>,
}

/// The states of an outbox message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Status {
    Queued,
    Sent,
    Failed,
    Skipped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Sent => "sent",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        }
    }
}

/// `notify list`: the outbox, oldest first (admin only), at most `limit`
/// messages, and whether there are more.
pub async fn list(
    pool: &PgPool,
    actor: &Actor,
    status: Option<Status>,
    limit: Limit,
) -> Result<(Vec<Message>, bool)> {
    actor.require_admin("read the email outbox")?;
    // one row past the limit tells whether the list was cut
    let mut rows: Vec<Message> = sqlx::query_as(
        "SELECT o.id, o.event, u.email AS recipient_email, o.session_id, o.status, o.attempts,
                o.next_attempt_at, o.created_at, o.sent_at, o.message_id, o.last_error
         FROM outbox o JOIN users u ON u.id = o.recipient_id
         WHERE $1::text IS NULL OR o.status = $1
         ORDER BY o.created_at, o.id
         LIMIT $2",
    )
    .bind(status.map(Status::as_str))
    .bind(limit.get().saturating_add(1))
    .fetch_all(pool)
    .await?;
    let more = rows.len() as i64 > limit.get();
    rows.truncate(usize::try_from(limit.get()).unwrap_or(usize::MAX));
    Ok((rows, more))
}

/// Which failed messages `notify retry` queues again.
#[derive(Debug, Clone, Copy)]
pub enum Retry {
    One(Uuid),
    AllFailed,
}

/// `notify retry`: queue failed messages again, with a fresh attempt count
/// (admin only). Returns how many were queued.
pub async fn retry(pool: &PgPool, actor: &Actor, which: Retry) -> Result<u64> {
    actor.require_admin("retry email delivery")?;
    let id = match which {
        Retry::One(id) => Some(id),
        Retry::AllFailed => None,
    };
    let mut tx = pool.begin().await?;
    if let Some(id) = id {
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM outbox WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        match status.as_deref() {
            None => return Err(Error::not_found(format!("no outbox message {id}"))),
            Some("failed") => {}
            Some(other) => {
                return Err(Error::rule(format!(
                    "message {id} is {other}; only failed messages are retried"
                )));
            }
        }
    }
    let done = sqlx::query(
        "UPDATE outbox SET status = 'queued', attempts = 0, next_attempt_at = now(),
                lease_until = NULL, claim_token = NULL
         WHERE status = 'failed' AND ($1::uuid IS NULL OR id = $1)",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    crate::audit::record(
        &mut tx,
        actor,
        crate::audit::Change {
            action: "notify.retry",
            entity: "outbox",
            entity_id: id,
            before: None,
            after: Some(serde_json::json!({ "queued": done })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(done)
}

/// What `session remind` queued.
#[derive(Debug, Clone, Serialize)]
pub struct Reminders {
    pub queued: u64,
}

/// `session remind`: queue the reminders that are due, for both parties of
/// every scheduled session starting within 24 hours: the 24 h reminder while
/// the session is more than an hour away, the 1 h one after that until it
/// starts. Idempotent (a reminder is keyed by session and sequence, so a
/// moved session is reminded of its new time only) and safe to run twice at
/// once; a run after missed ones catches up. Admin (cron) only.
pub async fn remind(pool: &PgPool, actor: &Actor) -> Result<Reminders> {
    actor.require_admin_or_cron("queue reminders")?;
    // One statement in migration 20261207001100: it renders notices from
    // whole session rows, which the cron job's login may not read itself.
    let queued: i64 = sqlx::query_scalar("SELECT queue_reminders()")
        .fetch_one(pool)
        .await?;
    let queued = u64::try_from(queued).unwrap_or(0);
    Ok(Reminders { queued })
}
