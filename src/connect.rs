//! Connections between a coach and a member (seeds 000, 001): one side asks
//! with an expertise area and a message, the other accepts or declines,
//! either side removes. An accepted connection lets the member book the
//! coach and the coach put the member into sessions, like an assignment.
//!
//! One open (pending or accepted) connection per pair is the database's
//! rule: the partial unique index `connections_one_open_per_pair`. After a
//! decline, the pair may ask again once [`COOL_DOWN_DAYS`] have passed.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

use crate::actor::Actor;
use crate::audit::{self, Change};
use crate::coach;
use crate::domain::{ProfileText, Role, UserId, UserRef};
use crate::error::{Error, Result, ResultExt};
use crate::users::{self, Sight};

/// Days a declined pair waits before asking again.
pub const COOL_DOWN_DAYS: i64 = 30;

/// A connection as `connect list` shows it.
#[derive(Debug, Clone, Serialize, PartialEq, FromRow)]
pub struct Connection {
    pub id: Uuid,
    pub coach_email: String,
    pub member_email: String,
    pub requested_by: String,
    pub area: Option<String>,
    pub message: Option<String>,
    /// pending, accepted, declined or removed.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub removed_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    #[sqlx(default)]
    coach_id: Uuid,
    #[serde(skip)]
    #[sqlx(default)]
    member_id: Uuid,
    #[serde(skip)]
    #[sqlx(default)]
    requested_by_id: Uuid,
}

const SELECT: &str = "SELECT c.id, cu.email AS coach_email, mu.email AS member_email,
        ru.email AS requested_by, c.area, c.message, c.status, c.created_at,
        c.answered_at, c.removed_at, c.coach_id, c.member_id, c.requested_by AS requested_by_id
    FROM connections c
    JOIN users cu ON cu.id = c.coach_id
    JOIN users mu ON mu.id = c.member_id
    JOIN users ru ON ru.id = c.requested_by";

/// Input of `connect request`: a member names the coach, a coach the member
/// (an admin names both).
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub coach: Option<UserRef>,
    pub member: Option<UserRef>,
    pub area: ProfileText,
    pub message: Option<ProfileText>,
}

async fn fetch(conn: &mut PgConnection, id: Uuid) -> Result<Connection> {
    let sql = format!("{SELECT} WHERE c.id = $1");
    let found: Option<Connection> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    found.ok_or_else(|| Error::not_found(format!("no connection {id}")))
}

fn one_open(coach: &str, member: &str) -> Error {
    Error::conflict(format!(
        "{coach} and {member} already have an open connection (pending or accepted)"
    ))
}

/// The accepted connection of a pair, created (or an open request
/// accepted) inside the caller's transaction: `invite accept`'s path.
pub(crate) async fn open_accepted(
    conn: &mut PgConnection,
    actor: &Actor,
    coach: Uuid,
    member: Uuid,
) -> Result<Uuid> {
    let existing: Option<(Uuid, String)> = sqlx::query_as(
        "SELECT id, status FROM connections
         WHERE coach_id = $1 AND member_id = $2 AND status IN ('pending', 'accepted')
         FOR UPDATE",
    )
    .bind(coach)
    .bind(member)
    .fetch_optional(&mut *conn)
    .await?;
    let id = match existing {
        Some((id, s)) if s == "accepted" => {
            crate::message::open(conn, coach, member).await?;
            return Ok(id);
        }
        Some((id, _)) => {
            let before = fetch(conn, id).await?;
            sqlx::query(
                "UPDATE connections SET status = 'accepted', answered_at = now(), answered_by = $2
                 WHERE id = $1",
            )
            .bind(id)
            .bind(member)
            .execute(&mut *conn)
            .await?;
            crate::history::record(conn, actor, member, coach, "connected").await?;
            crate::message::open(conn, coach, member).await?;
            let after = fetch(conn, id).await?;
            audit::record(
                conn,
                actor,
                Change::of(
                    "connection.accept",
                    "connection",
                    id,
                    Some(&before),
                    Some(&after),
                )?,
            )
            .await?;
            return Ok(id);
        }
        None => Uuid::new_v4(),
    };
    sqlx::query(
        "INSERT INTO connections (id, coach_id, member_id, requested_by, area, status, answered_at, answered_by)
         VALUES ($1, $2, $3, $2, 'invitation', 'accepted', now(), $3)",
    )
    .bind(id)
    .bind(coach)
    .bind(member)
    .execute(&mut *conn)
    .await
    .on_constraint("connections_one_open_per_pair", || {
        Error::conflict("this coach and member already have an open connection")
    })?;
    crate::history::record(conn, actor, member, coach, "connected").await?;
    crate::message::open(conn, coach, member).await?;
    let after = fetch(conn, id).await?;
    audit::record(
        conn,
        actor,
        Change::of("connection.create", "connection", id, None, Some(&after))?,
    )
    .await?;
    Ok(id)
}

/// True when coach and member have an accepted connection.
pub(crate) async fn connected(conn: &mut PgConnection, coach: Uuid, member: Uuid) -> Result<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM connections
                        WHERE coach_id = $1 AND member_id = $2 AND status = 'accepted')",
    )
    .bind(coach)
    .bind(member)
    .fetch_one(&mut *conn)
    .await?)
}

/// `connect request`. A second open request for a pair is a conflict
/// (exit 6); asking again within [`COOL_DOWN_DAYS`] of a decline is refused
/// (exit 7, naming the day it is allowed).
pub async fn request(pool: &PgPool, actor: &Actor, new: &NewRequest) -> Result<Connection> {
    let mut tx = pool.begin().await?;
    let me = actor.id().map(UserRef::Id);
    let (coach_ref, member_ref) = match actor.role() {
        Role::Member => {
            if new.member.is_some() {
                return Err(Error::forbidden(format!(
                    "{} is a member and may only ask for themself; name the coach with --coach",
                    actor.label()
                )));
            }
            (new.coach.clone(), me)
        }
        Role::Coach => {
            if new.coach.is_some() {
                return Err(Error::forbidden(format!(
                    "{} is a coach and may only ask for themself; name the member with --member",
                    actor.label()
                )));
            }
            (me, new.member.clone())
        }
        Role::Admin => (new.coach.clone(), new.member.clone()),
    };
    let coach_ref =
        coach_ref.ok_or_else(|| Error::invalid("name the coach to connect with using --coach"))?;
    let member_ref = member_ref
        .ok_or_else(|| Error::invalid("name the member to connect with using --member"))?;
    let c = coach::find(&mut tx, actor, &coach_ref).await?;
    // A coach asks only members `connect search` shows them (or their own):
    // anyone else is answered as nobody, and nothing is written.
    let m = users::find_with_role(&mut tx, actor, Sight::Reach, &member_ref, Role::Member).await?;
    if !c.active || !m.active {
        return Err(Error::rule(format!(
            "{} is deactivated and cannot connect",
            if c.active { &m.email } else { &c.email }
        )));
    }
    if actor.role() == Role::Member && !c.accepting_members {
        return Err(Error::rule(format!(
            "coach {} is not accepting members",
            c.email
        )));
    }
    let declined: Option<DateTime<Utc>> = sqlx::query_scalar(
        "SELECT max(answered_at) FROM connections
         WHERE coach_id = $1 AND member_id = $2 AND status = 'declined'",
    )
    .bind(c.id)
    .bind(m.id.as_uuid())
    .fetch_one(&mut *tx)
    .await?;
    if let Some(at) = declined {
        let again = at + Duration::days(COOL_DOWN_DAYS);
        if again > Utc::now() {
            return Err(Error::rule(format!(
                "a connection between {} and {} was declined on {}; ask again from {}",
                c.email,
                m.email,
                crate::domain::dates::date(at.date_naive(), Utc::now()),
                crate::domain::dates::date(again.date_naive(), Utc::now())
            )));
        }
    }
    let requester = actor.id().map(|i| i.as_uuid()).unwrap_or(c.id);
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO connections (id, coach_id, member_id, requested_by, area, message)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(c.id)
    .bind(m.id.as_uuid())
    .bind(requester)
    .bind(new.area.as_str())
    .bind(new.message.clone().and_then(ProfileText::into_option))
    .execute(&mut *tx)
    .await
    .on_constraint("connections_one_open_per_pair", || {
        one_open(&c.email, &m.email)
    })?;
    crate::history::record(&mut tx, actor, m.id.as_uuid(), c.id, "connection_requested").await?;
    let after = fetch(&mut tx, id).await?;
    audit::record(
        &mut tx,
        actor,
        Change::of("connection.request", "connection", id, None, Some(&after))?,
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

async fn fetch_for_update(conn: &mut PgConnection, id: Uuid) -> Result<Connection> {
    sqlx::query("SELECT 1 FROM connections WHERE id = $1 FOR UPDATE")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    fetch(conn, id).await
}

fn is_side(actor: &Actor, c: &Connection) -> bool {
    actor.is(UserId::from_uuid(c.coach_id)) || actor.is(UserId::from_uuid(c.member_id))
}

/// `connect respond`: only the side that did not ask answers a pending request.
pub async fn respond(pool: &PgPool, actor: &Actor, id: Uuid, accept: bool) -> Result<Connection> {
    let mut tx = pool.begin().await?;
    let before = fetch_for_update(&mut tx, id).await?;
    let other_side = if before.requested_by_id == before.coach_id {
        before.member_id
    } else {
        before.coach_id
    };
    if !actor.is(UserId::from_uuid(other_side)) {
        return Err(Error::forbidden(format!(
            "{} may not answer connection {id}: only the side that was asked may",
            actor.label()
        )));
    }
    if before.status != "pending" {
        return Err(Error::rule(format!(
            "connection {id} is {}, not pending",
            before.status
        )));
    }
    sqlx::query(
        "UPDATE connections SET status = $2, answered_at = now(), answered_by = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(if accept { "accepted" } else { "declined" })
    .bind(other_side)
    .execute(&mut *tx)
    .await?;
    let event = if accept {
        "connected"
    } else {
        "connection_declined"
    };
    crate::history::record(&mut tx, actor, before.member_id, before.coach_id, event).await?;
    if accept {
        crate::message::open(&mut tx, before.coach_id, before.member_id).await?;
    }
    let after = fetch(&mut tx, id).await?;
    let action = if accept {
        "connection.accept"
    } else {
        "connection.decline"
    };
    audit::record(
        &mut tx,
        actor,
        Change::of(action, "connection", id, Some(&before), Some(&after))?,
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// `connect remove`: either side (or an admin) ends a pending or accepted
/// connection. Sessions already scheduled stay; new ones need an assignment
/// or a new connection.
pub async fn remove(pool: &PgPool, actor: &Actor, id: Uuid) -> Result<Connection> {
    let mut tx = pool.begin().await?;
    let before = fetch_for_update(&mut tx, id).await?;
    if !actor.is_admin() && !is_side(actor, &before) {
        return Err(Error::forbidden(format!(
            "{} may not remove connection {id}: only its coach, its member or an admin may",
            actor.label()
        )));
    }
    if !matches!(before.status.as_str(), "pending" | "accepted") {
        return Err(Error::rule(format!(
            "connection {id} is {} and cannot be removed",
            before.status
        )));
    }
    sqlx::query(
        "UPDATE connections SET status = 'removed', removed_at = now(), removed_by = $2 WHERE id = $1",
    )
    .bind(id)
    .bind(actor.id().map(|i| i.as_uuid()))
    .execute(&mut *tx)
    .await?;
    crate::history::record(
        &mut tx,
        actor,
        before.member_id,
        before.coach_id,
        "connection_removed",
    )
    .await?;
    let after = fetch(&mut tx, id).await?;
    audit::record(
        &mut tx,
        actor,
        Change::of(
            "connection.remove",
            "connection",
            id,
            Some(&before),
            Some(&after),
        )?,
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// `connect list`: admins see all, others the connections they are a side of.
pub async fn list(pool: &PgPool, actor: &Actor) -> Result<Vec<Connection>> {
    let mut conn = pool.acquire().await?;
    let sql = format!(
        "{SELECT}
         WHERE $1 OR c.coach_id = $2 OR c.member_id = $2
         ORDER BY c.created_at DESC, c.id"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(actor.is_admin())
        .bind(actor.id().map(|i| i.as_uuid()))
        .fetch_all(&mut *conn)
        .await?)
}

/// A person found by `connect search`: no profile details beyond what
/// finding someone needs.
#[derive(Debug, Clone, Serialize, PartialEq, FromRow)]
pub struct Found {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: String,
    /// A coach's specialization; absent for members.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub specialization: Option<String>,
}

/// `connect search`: `{goals}` is how the goals are read (see below).
const SEARCH: &str = "SELECT u.id, u.email, u.name, u.role, cp.specialization
         FROM users u
         LEFT JOIN member_profiles m ON m.user_id = u.id
         LEFT JOIN coach_profiles cp ON cp.user_id = u.id
         WHERE u.active
           AND ($3::text IS NULL OR u.name ILIKE $3)
           AND ($4::text IS NULL OR cp.specialization ILIKE $4 OR {goals} ILIKE $4)
           AND CASE $1
               WHEN 'admin' THEN u.role IN ('coach', 'member')
               WHEN 'coach' THEN u.role = 'member' AND (
                    m.privacy = 'public'
                 OR (m.privacy = 'connections' AND (
                        m.coach_id = $2
                     OR EXISTS (SELECT 1 FROM connections c
                                WHERE c.coach_id = $2 AND c.member_id = u.id
                                  AND c.status = 'accepted'))))
               WHEN 'member' THEN u.role = 'coach' AND cp.accepting_members
               ELSE false
           END
         ORDER BY u.name, u.email";

/// `connect search`: people by name or expertise area, honouring privacy.
/// A coach finds members who are `public`, or `connections` and connected
/// with them (an accepted connection or an assignment); `private` members
/// only admins find. A member finds active coaches who accept members.
/// Admins find everyone. Deactivated people are never found.
pub async fn search(
    pool: &PgPool,
    actor: &Actor,
    name: Option<&str>,
    area: Option<&str>,
) -> Result<Vec<Found>> {
    let mut conn = pool.acquire().await?;
    // Typed text is matched literally: LIKE's wildcards are escaped.
    let pattern = |t: Option<&str>| {
        t.map(|t| {
            let esc = t
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{esc}%")
        })
    };
    // A login may not name the goals column: it reads what it may of it
    // through the definer reader.
    let goals = match crate::actor::login_role() {
        None => "m.goals",
        Some(_) => "(SELECT p.goals FROM member_private_fields(u.id) p)",
    };
    let sql = SEARCH.replace("{goals}", goals);
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(actor.role().as_str())
        .bind(actor.id().map(|i| i.as_uuid()))
        .bind(pattern(name))
        .bind(pattern(area))
        .fetch_all(&mut *conn)
        .await?)
}
