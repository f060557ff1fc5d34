//! Messages between a coach and a member (seed 003 requirement 10). An
//! assignment or an accepted connection opens the pair's conversation; only
//! its two participants send to it and read it (admins may read).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

use crate::actor::Actor;
use crate::audit::{self, Change};
use crate::domain::{ProfileText, UserRef};
use crate::error::{Error, Result};
use crate::users::{self, Sight};

/// One message as `message list` shows it.
#[derive(Debug, Clone, Serialize, PartialEq, FromRow)]
pub struct Message {
    pub id: Uuid,
    pub from: String,
    pub to: String,
    pub text: String,
    pub sent_at: DateTime<Utc>,
    /// Whether its recipient had read it before this listing.
    pub read: bool,
}

/// Open the conversation of a pair (idempotent), inside the caller's transaction.
pub(crate) async fn open(conn: &mut PgConnection, coach: Uuid, member: Uuid) -> Result<()> {
    sqlx::query(
        "INSERT INTO conversations (id, coach_id, member_id) VALUES ($1, $2, $3)
         ON CONFLICT ON CONSTRAINT conversations_pair_key DO NOTHING",
    )
    .bind(Uuid::new_v4())
    .bind(coach)
    .bind(member)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// `message send`: only a participant of a conversation with `to` (exit 4 otherwise).
pub async fn send(
    pool: &PgPool,
    actor: &Actor,
    to: &UserRef,
    text: &ProfileText,
) -> Result<Message> {
    let Some(me) = actor.id().map(|i| i.as_uuid()) else {
        return Err(Error::forbidden(
            "the operator has no conversations; send messages --as a coach or member",
        ));
    };
    if text.as_str().trim().is_empty() {
        return Err(Error::invalid("a message needs some text"));
    }
    let mut tx = pool.begin().await?;
    let other = users::find_seen(&mut tx, actor, Sight::Seen, to)
        .await?
        .ok_or_else(|| Error::not_found(format!("no user {to}")))?;
    let conversation: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM conversations
         WHERE (coach_id = $1 AND member_id = $2) OR (coach_id = $2 AND member_id = $1)",
    )
    .bind(me)
    .bind(other.id.as_uuid())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(conversation) = conversation else {
        return Err(Error::forbidden(format!(
            "{} has no conversation with {}; an assignment or an accepted connection opens one",
            actor.label(),
            other.email
        )));
    };
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO messages (id, conversation_id, sender_id, body) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(conversation)
    .bind(me)
    .bind(text.as_str())
    .execute(&mut *tx)
    .await?;
    let m = fetch(&mut tx, id).await?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "message.send",
            entity: "message",
            entity_id: Some(id),
            before: None,
            // who wrote to whom, not what: the text stays between the two
            after: Some(serde_json::json!({"from": m.from, "to": m.to, "sent_at": m.sent_at})),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(m)
}

const SELECT: &str = "SELECT x.id, su.email AS \"from\", ru.email AS \"to\", x.body AS text,
        x.sent_at, x.read_at IS NOT NULL AS read
    FROM messages x
    JOIN conversations c ON c.id = x.conversation_id
    JOIN users su ON su.id = x.sender_id
    JOIN users ru ON ru.id = CASE WHEN x.sender_id = c.coach_id THEN c.member_id ELSE c.coach_id END";

async fn fetch(conn: &mut PgConnection, id: Uuid) -> Result<Message> {
    let sql = format!("{SELECT} WHERE x.id = $1");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_one(&mut *conn)
        .await?)
}

/// Resolve `--with` to a user id, among the people the actor may see.
async fn other(
    conn: &mut PgConnection,
    actor: &Actor,
    with: Option<&UserRef>,
) -> Result<Option<Uuid>> {
    match with {
        None => Ok(None),
        Some(w) => Ok(Some(
            users::find_seen(conn, actor, Sight::Seen, w)
                .await?
                .ok_or_else(|| Error::not_found(format!("no user {w}")))?
                .id
                .as_uuid(),
        )),
    }
}

/// `message list`: the actor's messages (all for admins), unread first,
/// newest first; the ones addressed to the actor are marked read.
pub async fn list(pool: &PgPool, actor: &Actor, with: Option<&UserRef>) -> Result<Vec<Message>> {
    let mut tx = pool.begin().await?;
    let with = other(&mut tx, actor, with).await?;
    let me = actor.id().map(|i| i.as_uuid());
    let sql = format!(
        "{SELECT}
         WHERE ($1 OR c.coach_id = $2 OR c.member_id = $2)
           AND ($3::uuid IS NULL OR c.coach_id = $3 OR c.member_id = $3)
         ORDER BY (x.read_at IS NULL AND x.sender_id IS DISTINCT FROM $2) DESC, x.sent_at DESC, x.id"
    );
    let messages: Vec<Message> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(actor.is_admin())
        .bind(me)
        .bind(with)
        .fetch_all(&mut *tx)
        .await?;
    // Reading marks read, but only for the recipient (an admin reading leaves them unread).
    sqlx::query(
        "UPDATE messages x SET read_at = now()
         FROM conversations c
         WHERE c.id = x.conversation_id AND x.read_at IS NULL AND x.sender_id <> $1
           AND (c.coach_id = $1 OR c.member_id = $1)
           AND ($2::uuid IS NULL OR c.coach_id = $2 OR c.member_id = $2)",
    )
    .bind(me)
    .bind(with)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(messages)
}

/// `message list --unread`: how many messages await the actor (marks nothing).
pub async fn unread(pool: &PgPool, actor: &Actor, with: Option<&UserRef>) -> Result<i64> {
    let mut conn = pool.acquire().await?;
    let with = other(&mut conn, actor, with).await?;
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM messages x JOIN conversations c ON c.id = x.conversation_id
         WHERE x.read_at IS NULL AND x.sender_id <> $1
           AND (c.coach_id = $1 OR c.member_id = $1)
           AND ($2::uuid IS NULL OR c.coach_id = $2 OR c.member_id = $2)",
    )
    .bind(actor.id().map(|i| i.as_uuid()))
    .bind(with)
    .fetch_one(&mut *conn)
    .await?)
}
