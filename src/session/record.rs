//! What happens once a session has taken place: `session complete`,
//! `session note` and `session rate` (seed 003 requirements 7-9; seed 002
//! properties 36-45).
//!
//! Notes are entries with an author, a time and a visibility: `private` is
//! the coach's (the session's coach and admins read it), `shared` is read by
//! the member, their coach and admins. A rating is given once, by the
//! session's member, after completion; the database refuses a second
//! (`session_ratings_once`), also when two race.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

use super::{Session, check_access, fetch, fetch_for_update, redact_for};
use crate::actor::Actor;
use crate::audit::{self, Change};
use crate::domain::{ProfileText, Rating, SessionStatus, UserId};
use crate::error::{Error, Result};

/// A note entry as `session show` lists it.
#[derive(Debug, Clone, Serialize, PartialEq, FromRow)]
pub struct Note {
    pub id: Uuid,
    pub author: String,
    pub at: DateTime<Utc>,
    /// `private` (coach and admins) or `shared` (also the member).
    pub visibility: String,
    pub text: String,
}

/// A member's rating of a completed session.
#[derive(Debug, Clone, Serialize, PartialEq, FromRow)]
pub struct SessionRating {
    pub rating: i16,
    pub feedback: Option<String>,
    pub rated_at: DateTime<Utc>,
}

/// May the actor read private notes of this session? Its coach and admins.
fn reads_private(actor: &Actor, s: &Session) -> bool {
    actor.is_admin() || actor.is(UserId::from_uuid(s.coach_id))
}

/// The notes of a session the actor may read, oldest first.
pub(crate) async fn visible_notes(
    conn: &mut PgConnection,
    actor: &Actor,
    s: &Session,
) -> Result<Vec<Note>> {
    Ok(sqlx::query_as(
        "SELECT id, author_label AS author, created_at AS at, visibility, body AS text
         FROM session_notes
         WHERE session_id = $1 AND ($2 OR visibility = 'shared')
         ORDER BY created_at, id",
    )
    .bind(s.id)
    .bind(reads_private(actor, s))
    .fetch_all(&mut *conn)
    .await?)
}

pub(crate) async fn rating_of(conn: &mut PgConnection, id: Uuid) -> Result<Option<SessionRating>> {
    Ok(sqlx::query_as(
        "SELECT rating, feedback, created_at AS rated_at FROM session_ratings WHERE session_id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub(crate) async fn insert_note(
    conn: &mut PgConnection,
    actor: &Actor,
    session: Uuid,
    private: bool,
    text: &str,
) -> Result<Note> {
    Ok(sqlx::query_as(
        "INSERT INTO session_notes (id, session_id, author_id, author_label, visibility, body)
         VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING id, author_label AS author, created_at AS at, visibility, body AS text",
    )
    .bind(Uuid::new_v4())
    .bind(session)
    .bind(actor.id().map(|i| i.as_uuid()))
    .bind(actor.label())
    .bind(if private { "private" } else { "shared" })
    .bind(text)
    .fetch_one(&mut *conn)
    .await?)
}

/// `session complete` (the coach, an admin): only scheduled sessions whose
/// start has passed; stamps `completed_at`, keeps `--outcomes`, and
/// `--notes` as a private note.
pub async fn complete(
    pool: &PgPool,
    actor: &Actor,
    id: Uuid,
    notes: Option<ProfileText>,
    outcomes: Option<ProfileText>,
) -> Result<Session> {
    let mut tx = pool.begin().await?;
    let before = fetch_for_update(&mut tx, id).await?;
    check_access(actor, &before)?;
    if !reads_private(actor, &before) {
        return Err(Error::forbidden(format!(
            "only the coach {} or an admin may complete session {id}",
            before.coach_email
        )));
    }
    if before.status != SessionStatus::Scheduled {
        return Err(Error::rule(format!(
            "session {id} is {}; only scheduled sessions can be completed",
            before.status
        )));
    }
    if before.start > Utc::now() {
        return Err(Error::rule(format!(
            "session {id} has not started yet ({}); complete it after it took place",
            crate::domain::dates::moment_now(before.start, chrono_tz::UTC)
        )));
    }
    sqlx::query(
        "UPDATE sessions SET status = 'completed', completed_at = now(), outcomes = $2,
            sequence = sequence + 1, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(outcomes.and_then(ProfileText::into_option))
    .execute(&mut *tx)
    .await?;
    if let Some(text) = notes.and_then(ProfileText::into_option) {
        insert_note(&mut tx, actor, id, true, &text).await?;
    }
    let after = fetch(&mut tx, id).await?;
    audit::record(
        &mut tx,
        actor,
        Change::of(
            "session.complete",
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

/// `session no-show` (the coach, an admin): the member did not come to a
/// scheduled session that has started. Recorded, nothing freed: the
/// session stays scheduled and may still be completed or cancelled.
pub async fn no_show(pool: &PgPool, actor: &Actor, id: Uuid) -> Result<Session> {
    let mut tx = pool.begin().await?;
    let before = fetch_for_update(&mut tx, id).await?;
    check_access(actor, &before)?;
    if !reads_private(actor, &before) {
        return Err(Error::forbidden(format!(
            "only the coach {} or an admin may record a no-show of session {id}",
            before.coach_email
        )));
    }
    if before.status != SessionStatus::Scheduled {
        return Err(Error::rule(format!(
            "session {id} is {}; only a scheduled session can be a no-show",
            before.status
        )));
    }
    if before.start > Utc::now() {
        return Err(Error::rule(format!(
            "session {id} has not started yet ({}); a no-show is recorded after the start",
            crate::domain::dates::moment_now(before.start, chrono_tz::UTC)
        )));
    }
    if before.no_show_at.is_some() {
        return Err(Error::conflict(format!(
            "session {id} is already recorded as a no-show"
        )));
    }
    sqlx::query(
        "UPDATE sessions SET no_show_at = now(), no_show_by = $2, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(actor.id().map(|i| i.as_uuid()))
    .execute(&mut *tx)
    .await?;
    let after = fetch(&mut tx, id).await?;
    audit::record(
        &mut tx,
        actor,
        Change::of(
            "session.no_show",
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

/// `session note <id> --text T [--private]`: the coach and admins write
/// either kind; the member writes shared notes only.
pub async fn note(
    pool: &PgPool,
    actor: &Actor,
    id: Uuid,
    text: ProfileText,
    private: bool,
) -> Result<Note> {
    let text = text
        .into_option()
        .ok_or_else(|| Error::invalid("a note needs some text"))?;
    let mut tx = pool.begin().await?;
    let s = fetch(&mut tx, id).await?;
    check_access(actor, &s)?;
    if private && !reads_private(actor, &s) {
        return Err(Error::forbidden(format!(
            "private notes are the coach's; {} may add shared notes only",
            actor.label()
        )));
    }
    let n = insert_note(&mut tx, actor, id, private, &text).await?;
    audit::record(
        &mut tx,
        actor,
        Change::of("session.note", "session_note", n.id, None, Some(&n))?,
    )
    .await?;
    tx.commit().await?;
    Ok(n)
}

/// `session rate <id> --rating N [--feedback T]`: only the session's member,
/// only once it is completed, only once.
pub async fn rate(
    pool: &PgPool,
    actor: &Actor,
    id: Uuid,
    rating: Rating,
    feedback: Option<ProfileText>,
) -> Result<SessionRating> {
    let mut tx = pool.begin().await?;
    let s = fetch(&mut tx, id).await?;
    if !actor.is(UserId::from_uuid(s.member_id)) {
        return Err(Error::forbidden(format!(
            "only the member {} may rate session {id}",
            s.member_email
        )));
    }
    if s.status != SessionStatus::Completed {
        return Err(Error::rule(format!(
            "session {id} is {}; only completed sessions can be rated",
            s.status
        )));
    }
    let already = || Error::conflict(format!("session {id} has already been rated"));
    let r: SessionRating = sqlx::query_as(
        "INSERT INTO session_ratings (session_id, member_id, coach_id, rating, feedback)
         VALUES ($1, $2, $3, $4, $5)
         RETURNING rating, feedback, created_at AS rated_at",
    )
    .bind(id)
    .bind(s.member_id)
    .bind(s.coach_id)
    .bind(rating.get() as i16)
    .bind(feedback.and_then(ProfileText::into_option))
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(d) if d.constraint() == Some("session_ratings_once") => already(),
        _ => e.into(),
    })?;
    audit::record(
        &mut tx,
        actor,
        Change::of("session.rate", "session", id, None, Some(&r))?,
    )
    .await?;
    tx.commit().await.map_err(|e| match &e {
        sqlx::Error::Database(d) if d.constraint() == Some("session_ratings_once") => already(),
        _ => e.into(),
    })?;
    Ok(r)
}
