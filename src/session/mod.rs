//! Sessions: `proposed -> scheduled | declined | expired`, `scheduled ->
//! completed | cancelled` (DESIGN.md "Sessions"). Listing is scoped by role
//! (a member sees their own, a coach theirs); cancelling frees the slot at
//! once (the `sessions_slot_count` trigger gives the seat back).
//!
//! `propose` puts members into sessions and answers proposals, `reschedule`
//! moves them, `record` completes, notes and rates them.

mod propose;
mod record;
mod reschedule;

pub use propose::{NewSession, accept, create, decline};
pub use record::{Note, SessionRating, complete, no_show, note, rate};
pub use reschedule::reschedule;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

use crate::actor::Actor;
use crate::audit::{self, Change};
use crate::coach;
use crate::domain::{ProfileText, Role, SessionStatus, SessionType, UserRef};
use crate::error::{Error, Result};
use crate::page::Page;
use crate::users;
use futures_util::TryStreamExt;

/// A session as `session list` and `session show` print it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Session {
    pub id: Uuid,
    pub coach_id: Uuid,
    pub coach_email: String,
    pub member_id: Uuid,
    pub member_email: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub status: SessionStatus,
    pub session_type: SessionType,
    pub member_notes: Option<String>,
    /// Coach-private: only the session's coach and admins see it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coach_notes: Option<String>,
    pub cancellation_reason: Option<String>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// Until when a proposal holds its seat.
    pub expires_at: Option<DateTime<Utc>>,
    pub decline_reason: Option<String>,
    pub outcomes: Option<String>,
    /// Cancelled by the member inside the coach's cancellation notice.
    pub late_cancel: bool,
    /// When the coach recorded that the member did not come.
    pub no_show_at: Option<DateTime<Utc>>,
    /// Raised on every change (the calendar SEQUENCE).
    pub sequence: i32,
    pub created_at: DateTime<Utc>,
    /// Note entries the actor may read (`session show` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<Vec<Note>>,
    /// The member's rating, once given (`session show` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<SessionRating>,
    /// Names for tables (`Bo Lind`); JSON names people by email.
    #[serde(skip)]
    pub coach_name: String,
    #[serde(skip)]
    pub member_name: String,
}

#[derive(FromRow)]
struct SessionRow {
    id: Uuid,
    coach_id: Uuid,
    coach_email: String,
    member_id: Uuid,
    member_email: String,
    coach_name: String,
    member_name: String,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    status: String,
    session_type: String,
    member_notes: Option<String>,
    coach_notes: Option<String>,
    cancellation_reason: Option<String>,
    cancelled_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    decline_reason: Option<String>,
    outcomes: Option<String>,
    late_cancel: bool,
    no_show_at: Option<DateTime<Utc>>,
    sequence: i32,
    created_at: DateTime<Utc>,
}

impl TryFrom<SessionRow> for Session {
    type Error = Error;
    fn try_from(r: SessionRow) -> Result<Self> {
        let status = SessionStatus::from_db(&r.status)?;
        // A deadline means something only while the session waits for an
        // answer; once answered it is history, not a date to show.
        let expires_at = r
            .expires_at
            .filter(|_| matches!(status, SessionStatus::Proposed | SessionStatus::Expired));
        Ok(Session {
            id: r.id,
            coach_id: r.coach_id,
            coach_email: r.coach_email,
            member_id: r.member_id,
            member_email: r.member_email,
            start: r.starts_at,
            end: r.ends_at,
            status,
            session_type: SessionType::from_db(&r.session_type)?,
            member_notes: r.member_notes,
            coach_notes: r.coach_notes,
            cancellation_reason: r.cancellation_reason,
            cancelled_at: r.cancelled_at,
            completed_at: r.completed_at,
            expires_at,
            decline_reason: r.decline_reason,
            outcomes: r.outcomes,
            late_cancel: r.late_cancel,
            no_show_at: r.no_show_at,
            sequence: r.sequence,
            created_at: r.created_at,
            notes: None,
            rating: None,
            coach_name: r.coach_name,
            member_name: r.member_name,
        })
    }
}

const SELECT_TEMPLATE: &str = "SELECT s.id, s.coach_id, cu.email AS coach_email, s.member_id,
        mu.email AS member_email, cu.name AS coach_name, mu.name AS member_name, s.starts_at, s.ends_at,
        -- an overdue proposal is expired, whether or not a write has said so yet
        CASE WHEN s.status = 'proposed' AND s.expires_at <= now() THEN 'expired'
             ELSE s.status END AS status,
        s.session_type,
        s.member_notes, {coach_notes}, s.cancellation_reason, s.cancelled_at, s.completed_at,
        s.expires_at, s.decline_reason, s.outcomes, s.late_cancel, s.no_show_at, s.sequence,
        s.created_at
    FROM sessions s
    JOIN users cu ON cu.id = s.coach_id
    JOIN users mu ON mu.id = s.member_id";

/// The sessions query for this process's connection: a member's or the
/// cron job's login may not name the coach's private notes (the library
/// redacts them for everyone but the coach and admins anyway).
fn select() -> String {
    let notes = match crate::actor::login_role() {
        None | Some("admin" | "coach") => "s.coach_notes",
        Some(_) => "NULL::text AS coach_notes",
    };
    SELECT_TEMPLATE.replace("{coach_notes}", notes)
}

/// Filters of `session list`; times are instants (the CLI resolves zones).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub status: Option<SessionStatus>,
    pub coach: Option<UserRef>,
    pub member: Option<UserRef>,
    /// Only sessions still ahead that hold a seat (proposed or scheduled).
    pub upcoming: bool,
    /// Only sessions that have not ended yet (`session list` without
    /// `--all`, `--from` or `--to`).
    pub not_ended: bool,
}

pub(crate) fn redact_for(actor: &Actor, mut s: Session) -> Session {
    if !actor.is_admin() && !actor.is(crate::domain::UserId::from_uuid(s.coach_id)) {
        s.coach_notes = None;
    }
    s
}

/// May the actor see (and act on) this session at all?
pub(crate) fn check_access(actor: &Actor, s: &Session) -> Result<()> {
    let involved = actor.is(crate::domain::UserId::from_uuid(s.coach_id))
        || actor.is(crate::domain::UserId::from_uuid(s.member_id));
    if actor.is_admin() || involved {
        Ok(())
    } else {
        Err(Error::forbidden(format!(
            "{} may not access session {}",
            actor.label(),
            s.id
        )))
    }
}

pub(crate) async fn fetch(conn: &mut PgConnection, id: Uuid) -> Result<Session> {
    let row: SessionRow =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{} WHERE s.id = $1", select())))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| Error::not_found(format!("no session {id}")))?;
    row.try_into()
}

/// `session list`: admins see every session, a coach theirs, a member theirs
/// (properties 51, 56). Ordered by start.
pub async fn list(pool: &PgPool, actor: &Actor, filter: &Filter) -> Result<Vec<Session>> {
    let mut all = Vec::new();
    list_each(pool, actor, filter, &Page::default(), |s| {
        all.push(s);
        Ok(())
    })
    .await?;
    Ok(all)
}

/// The values `list_sql` is bound to, in order.
struct ListArgs {
    coach_id: Option<Uuid>,
    member_id: Option<Uuid>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    status: Option<&'static str>,
    upcoming: bool,
    not_ended: bool,
    after: Option<DateTime<Utc>>,
    after_id: Option<Uuid>,
    limit: Option<i64>,
}

macro_rules! bind_list {
    ($q:expr, $a:expr) => {
        $q.bind($a.coach_id)
            .bind($a.member_id)
            .bind($a.from)
            .bind($a.to)
            .bind($a.status)
            .bind($a.upcoming)
            .bind($a.not_ended)
            .bind($a.after)
            .bind($a.after_id)
            .bind($a.limit)
    };
}

/// `session list`, streamed: each session the actor may see to `each` as
/// its row arrives, ordered by (start, id); `page.after` is the id of the
/// previous page's last session.
pub async fn list_each(
    pool: &PgPool,
    actor: &Actor,
    filter: &Filter,
    page: &Page<Uuid>,
    mut each: impl FnMut(Session) -> Result<()>,
) -> Result<()> {
    let mut conn = pool.acquire().await?;
    let a = list_args(&mut conn, actor, filter, page).await?;
    let mut rows = bind_list!(
        sqlx::query_as::<_, SessionRow>(sqlx::AssertSqlSafe(list_sql())),
        a
    )
    .fetch(&mut *conn);
    while let Some(row) = rows.try_next().await? {
        each(redact_for(actor, Session::try_from(row)?))?;
    }
    Ok(())
}

/// The plan `list_each` runs for these arguments, executed, as
/// `EXPLAIN (ANALYZE, FORMAT JSON)` gives it: for tests that hold the list
/// to an index range whatever the length of the history.
#[doc(hidden)]
pub async fn explain_list(
    pool: &PgPool,
    actor: &Actor,
    filter: &Filter,
) -> Result<serde_json::Value> {
    let mut conn = pool.acquire().await?;
    let a = list_args(&mut conn, actor, filter, &Page::default()).await?;
    let sql = format!("EXPLAIN (ANALYZE, FORMAT JSON) {}", list_sql());
    let plan: serde_json::Value = bind_list!(
        sqlx::query_scalar::<_, serde_json::Value>(sqlx::AssertSqlSafe(sql)),
        a
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(plan)
}

/// `session list`'s statement. Sessions not yet ended also started less
/// than the schema's longest session ago: that bound turns the filter into
/// an index range on start time, so the list costs the same whatever the
/// length of the history behind it.
fn list_sql() -> String {
    let select = select();
    format!(
        "{select}
         WHERE ($1::uuid IS NULL OR s.coach_id = $1)
           AND ($2::uuid IS NULL OR s.member_id = $2)
           AND ($3::timestamptz IS NULL OR s.starts_at >= $3)
           AND ($4::timestamptz IS NULL OR s.starts_at < $4)
           AND ($5::text IS NULL OR $5 = CASE WHEN s.status = 'proposed' AND s.expires_at <= now()
                                              THEN 'expired' ELSE s.status END)
           AND (NOT $6 OR (s.starts_at > now() AND (s.status = 'scheduled'
                           OR (s.status = 'proposed' AND s.expires_at > now()))))
           AND (NOT $7 OR (s.ends_at > now() AND s.starts_at > now() - session_max_length()))
           AND ($8::timestamptz IS NULL OR (s.starts_at, s.id) > ($8, $9))
         ORDER BY s.starts_at, s.id
         LIMIT $10"
    )
}

/// Resolve the filter's people for `actor` (and refuse what it may not
/// list) into `list_sql`'s arguments.
async fn list_args(
    conn: &mut PgConnection,
    actor: &Actor,
    filter: &Filter,
    page: &Page<Uuid>,
) -> Result<ListArgs> {
    let coach_id = match &filter.coach {
        Some(c) => Some(coach::find(&mut *conn, actor, c).await?.id),
        None => None,
    };
    let member_id = match &filter.member {
        Some(m) => Some(
            users::find_with_role(&mut *conn, actor, users::Sight::Known, m, Role::Member)
                .await?
                .id
                .as_uuid(),
        ),
        None => None,
    };
    let me = actor.id().map(|i| i.as_uuid());
    let (coach_id, member_id) = match actor.role() {
        Role::Admin => (coach_id, member_id),
        Role::Coach => {
            if coach_id.is_some() && coach_id != me {
                return Err(Error::forbidden(format!(
                    "{} may not list another coach's sessions",
                    actor.label()
                )));
            }
            (me, member_id)
        }
        Role::Member => {
            if member_id.is_some() && member_id != me {
                return Err(Error::forbidden(format!(
                    "{} may not list another member's sessions",
                    actor.label()
                )));
            }
            (coach_id, me)
        }
    };
    let after: Option<DateTime<Utc>> = match page.after {
        Some(id) => Some(
            sqlx::query_scalar("SELECT starts_at FROM sessions WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or_else(|| Error::not_found(format!("--after: no session has the id {id}")))?,
        ),
        None => None,
    };
    Ok(ListArgs {
        coach_id,
        member_id,
        from: filter.from,
        to: filter.to,
        status: filter.status.map(|s| s.as_str()),
        upcoming: filter.upcoming,
        not_ended: filter.not_ended,
        after,
        after_id: page.after,
        limit: page.sql_limit(),
    })
}

/// `session show`: admins, the session's coach, or its member.
pub async fn show(pool: &PgPool, actor: &Actor, id: Uuid) -> Result<Session> {
    let mut conn = pool.acquire().await?;
    let mut s = fetch(&mut conn, id).await?;
    check_access(actor, &s)?;
    s.notes = Some(record::visible_notes(&mut conn, actor, &s).await?);
    s.rating = record::rating_of(&mut conn, s.id).await?;
    Ok(redact_for(actor, s))
}

/// Lock a session's row for the rest of the transaction and read it.
pub(crate) async fn fetch_for_update(conn: &mut PgConnection, id: Uuid) -> Result<Session> {
    sqlx::query("SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    fetch(conn, id).await
}

/// `session cancel`: records the reason and who; refuses completed and
/// already cancelled sessions; the slot's seat is free again at once
/// (property 29).
pub async fn cancel(
    pool: &PgPool,
    actor: &Actor,
    id: Uuid,
    reason: Option<ProfileText>,
) -> Result<Session> {
    let mut tx = pool.begin().await?;
    let before = fetch_for_update(&mut tx, id).await?;
    check_access(actor, &before)?;
    refuse_cancel(&before)?;
    sqlx::query(
        "UPDATE sessions SET status = 'cancelled', cancelled_at = now(), cancelled_by = $2,
            cancellation_reason = $3, sequence = sequence + 1, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(actor.id().map(|i| i.as_uuid()))
    .bind(reason.and_then(ProfileText::into_option))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE bookings SET status = 'cancelled', updated_at = now() WHERE session_id = $1",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let after = fetch(&mut tx, id).await?;
    audit::record(
        &mut tx,
        actor,
        Change::of("session.cancel", "session", id, Some(&before), Some(&after))?,
    )
    .await?;
    tx.commit().await?;
    Ok(redact_for(actor, after))
}

/// The session `cancel` would cancel, checked without changing anything:
/// what a confirmation prompt names before it is asked.
pub async fn cancellable(pool: &PgPool, actor: &Actor, id: Uuid) -> Result<Session> {
    let mut conn = pool.acquire().await?;
    let s = fetch(&mut conn, id).await?;
    check_access(actor, &s)?;
    refuse_cancel(&s)?;
    Ok(redact_for(actor, s))
}

/// Why a session cannot be cancelled, if it cannot.
fn refuse_cancel(before: &Session) -> Result<()> {
    let id = before.id;
    match before.status {
        // Overdue is expired, whether or not a write has caught up with the clock.
        SessionStatus::Proposed if before.expires_at.is_some_and(|t| t <= Utc::now()) => {
            Err(Error::rule(format!(
                "the proposal of session {id} has expired and holds no seat; there is nothing to cancel"
            )))
        }
        SessionStatus::Scheduled | SessionStatus::Proposed => Ok(()),
        SessionStatus::Completed => Err(Error::rule(format!(
            "session {id} is completed and cannot be cancelled"
        ))),
        SessionStatus::Cancelled => Err(Error::rule(format!("session {id} is already cancelled"))),
        SessionStatus::Declined | SessionStatus::Expired => Err(Error::rule(format!(
            "session {id} was {} and holds no seat; there is nothing to cancel",
            before.status
        ))),
    }
}
