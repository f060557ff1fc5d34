//! Short ids, like git's: a unique prefix of at least 8 hex digits names a
//! row. A prefix is resolved within what the actor may see, so it neither
//! finds nor lists rows they cannot read: an unseen match is "not found"
//! (exit 5), and an ambiguous prefix (exit 3) names only seen candidates.

use std::str::FromStr;

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::actor::Actor;
use crate::domain::{UserId, UserRef};
use crate::error::{Error, Result};

// The prefix is a parsed value (domain's UserRef holds one); its lookups stay here.
pub use crate::domain::{IdPrefix, MIN_DIGITS};

/// An id argument: a full UUID, or a prefix of one to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdRef {
    Full(Uuid),
    Prefix(IdPrefix),
}

impl IdRef {
    pub fn parse(s: &str) -> Result<Self> {
        match Uuid::parse_str(s.trim()) {
            Ok(u) => Ok(IdRef::Full(u)),
            Err(_) => IdPrefix::parse(s).map(IdRef::Prefix),
        }
    }
}

impl FromStr for IdRef {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        IdRef::parse(s)
    }
}

impl From<Uuid> for IdRef {
    fn from(u: Uuid) -> Self {
        IdRef::Full(u)
    }
}

/// What kind of row an id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Session,
    Window,
    Block,
    Connection,
    Invitation,
    Notification,
    /// A place on a waitlist.
    Waitlist,
    /// Any id the audit log mentions (admin only).
    AuditEntity,
    /// A program or an enrolment in one (`program show` takes either).
    Program,
    Insight,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::Session => "session",
            Kind::Window => "availability window",
            Kind::Block => "blocked range",
            Kind::Connection => "connection",
            Kind::Invitation => "invitation",
            Kind::Notification => "message in the outbox",
            Kind::Waitlist => "waitlist place",
            Kind::AuditEntity => "audited row",
            Kind::Program => "program or enrolment",
            Kind::Insight => "insight",
        }
    }

    /// Candidates (id, what it is) in a range of ids that `$3` (the
    /// actor's id, NULL for admins) may see.
    pub(crate) fn query(self) -> &'static str {
        match self {
            Kind::Session => {
                "SELECT s.id, to_char(s.starts_at AT TIME ZONE 'UTC', 'Dy DD Mon YYYY HH24:MI \"UTC\"') || ', ' || c.email || ' with ' || m.email
                   FROM sessions s JOIN users c ON c.id = s.coach_id JOIN users m ON m.id = s.member_id
                  WHERE s.id BETWEEN $1 AND $2 AND ($3::uuid IS NULL OR $3 IN (s.coach_id, s.member_id))"
            }
            // Windows and blocks are public (anyone may see the slots).
            Kind::Window => {
                "SELECT w.id, (ARRAY['sun','mon','tue','wed','thu','fri','sat'])[w.day_of_week + 1] || ' '
                        || to_char(make_interval(mins => w.start_minute), 'HH24:MI') || '-'
                        || to_char(make_interval(mins => w.end_minute), 'HH24:MI') || ' of ' || u.email
                   FROM availability_windows w JOIN users u ON u.id = w.coach_id
                  WHERE w.id BETWEEN $1 AND $2 AND ($3::uuid IS NULL OR true)"
            }
            Kind::Block => {
                "SELECT b.id, b.first_day::text || '..' || b.last_day::text || ' of ' || u.email
                   FROM availability_blocks b JOIN users u ON u.id = b.coach_id
                  WHERE b.id BETWEEN $1 AND $2 AND ($3::uuid IS NULL OR true)"
            }
            Kind::Connection => {
                "SELECT x.id, c.email || ' and ' || m.email || ' (' || x.status || ')'
                   FROM connections x JOIN users c ON c.id = x.coach_id JOIN users m ON m.id = x.member_id
                  WHERE x.id BETWEEN $1 AND $2 AND ($3::uuid IS NULL OR $3 IN (x.coach_id, x.member_id))"
            }
            Kind::Invitation => {
                "SELECT i.id, 'to ' || i.email || ' (' || i.status || ')'
                   FROM invitations i
                  WHERE i.id BETWEEN $1 AND $2 AND ($3::uuid IS NULL OR $3 = i.coach_id
                        OR EXISTS (SELECT 1 FROM users me WHERE me.id = $3 AND email_key(me.email) = email_key(i.email)))"
            }
            Kind::Notification => {
                "SELECT o.id, o.event || ' to ' || u.email || ' (' || o.status || ')'
                   FROM outbox o JOIN users u ON u.id = o.recipient_id
                  WHERE o.id BETWEEN $1 AND $2 AND ($3::uuid IS NULL OR $3 = o.recipient_id)"
            }
            Kind::Waitlist => {
                "SELECT w.id, m.email || ' waiting for ' || c.email || ' ' || to_char(w.starts_at AT TIME ZONE 'UTC', 'Dy DD Mon YYYY HH24:MI \"UTC\"')
                   FROM waitlist w JOIN users c ON c.id = w.coach_id JOIN users m ON m.id = w.member_id
                  WHERE w.id BETWEEN $1 AND $2 AND ($3::uuid IS NULL OR $3 IN (w.coach_id, w.member_id))"
            }
            Kind::AuditEntity => {
                "SELECT DISTINCT a.entity_id, a.entity
                   FROM audit_log a
                  WHERE a.entity_id BETWEEN $1 AND $2 AND $3::uuid IS NULL"
            }
            Kind::Program => {
                "SELECT p.id, 'program ' || p.name FROM programs p
                  WHERE p.id BETWEEN $1 AND $2 AND ($3::uuid IS NULL OR p.coach_id = $3
                        OR (p.coach_id IS NULL AND EXISTS (SELECT 1 FROM users me WHERE me.id = $3 AND me.role = 'coach')))
                 UNION ALL
                 SELECT e.id, 'enrolment of ' || m.email || ' in ' || p.name
                   FROM program_enrolments e JOIN programs p ON p.id = e.program_id JOIN users m ON m.id = e.member_id
                  WHERE e.id BETWEEN $1 AND $2 AND ($3::uuid IS NULL OR $3 IN (e.coach_id, e.member_id))"
            }
            Kind::Insight => {
                "SELECT i.id, i.title || ' for ' || m.email
                   FROM insights i JOIN users m ON m.id = i.member_id
                  WHERE i.id BETWEEN $1 AND $2 AND ($3::uuid IS NULL OR $3 IN (i.coach_id, i.member_id))"
            }
        }
    }
}

/// The full id `id` names among the rows of `kind` the actor may see. A
/// full id is returned as it is: the command's own checks decide.
pub async fn resolve(pool: &PgPool, actor: &Actor, kind: Kind, id: &IdRef) -> Result<Uuid> {
    let prefix = match id {
        IdRef::Full(u) => return Ok(*u),
        IdRef::Prefix(p) => p,
    };
    if kind == Kind::AuditEntity {
        actor.require_admin("read the audit log")?;
    }
    let viewer = (!actor.is_admin()).then(|| actor.id().map(|u| u.as_uuid()));
    let viewer = match viewer {
        None => None,
        // A non-admin without an id sees nothing; cannot happen (the
        // operator is an admin), but never widen the scope.
        Some(None) => return Err(not_found(kind, prefix)),
        Some(Some(u)) => Some(u),
    };
    let rows: Vec<(Uuid, Option<String>)> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{} LIMIT 6", kind.query())))
            .bind(prefix.low)
            .bind(prefix.high)
            .bind(viewer)
            .fetch_all(pool)
            .await?;
    pick(kind.noun(), prefix, rows)
}

/// [`resolve`] for an optional argument.
pub async fn resolve_opt(
    pool: &PgPool,
    actor: &Actor,
    kind: Kind,
    id: Option<&IdRef>,
) -> Result<Option<Uuid>> {
    match id {
        Some(id) => resolve(pool, actor, kind, id).await.map(Some),
        None => Ok(None),
    }
}

/// A user named by a prefix of their id becomes one named by the full id,
/// among the users the actor may see: themself, every coach, and for a
/// coach the members assigned or connected to them. Emails and full ids
/// are returned as they are.
pub async fn user(pool: &PgPool, actor: &Actor, who: UserRef) -> Result<UserRef> {
    let UserRef::Prefix(prefix) = &who else {
        return Ok(who);
    };
    user_in(&mut *pool.acquire().await?, actor, prefix)
        .await
        .map(|u| UserRef::Id(UserId::from_uuid(u)))
}

/// [`user`] for an optional argument.
pub async fn user_opt(
    pool: &PgPool,
    actor: &Actor,
    who: Option<UserRef>,
) -> Result<Option<UserRef>> {
    match who {
        Some(w) => user(pool, actor, w).await.map(Some),
        None => Ok(None),
    }
}

/// [`user`] inside the caller's connection: the full id of the user a
/// prefix names among those the actor may see.
pub(crate) async fn user_in(
    conn: &mut PgConnection,
    actor: &Actor,
    prefix: &IdPrefix,
) -> Result<Uuid> {
    let viewer = if actor.is_admin() {
        None
    } else {
        actor.id().map(|u| u.as_uuid())
    };
    user_among(conn, prefix, viewer, !actor.is_admin()).await
}

/// `--as` by prefix: whoever holds the database URL may act as anyone.
pub async fn any_user(conn: &mut PgConnection, prefix: &IdPrefix) -> Result<Uuid> {
    user_among(conn, prefix, None, false).await
}

async fn user_among(
    conn: &mut PgConnection,
    prefix: &IdPrefix,
    viewer: Option<Uuid>,
    scoped: bool,
) -> Result<Uuid> {
    let rows: Vec<(Uuid, Option<String>)> = sqlx::query_as(
        "SELECT u.id, u.email || ' (' || u.role || ')'
           FROM users u
          WHERE u.id BETWEEN $1 AND $2
            AND (NOT $4 OR u.id = $3 OR u.role = 'coach'
                 OR EXISTS (SELECT 1 FROM member_profiles p WHERE p.user_id = u.id AND p.coach_id = $3)
                 OR EXISTS (SELECT 1 FROM connections x WHERE x.member_id = u.id AND x.coach_id = $3))
          ORDER BY u.id LIMIT 6",
    )
    .bind(prefix.low)
    .bind(prefix.high)
    .bind(viewer)
    .bind(scoped)
    .fetch_all(&mut *conn)
    .await?;
    pick("user", prefix, rows)
}

fn not_found(kind: Kind, prefix: &IdPrefix) -> Error {
    Error::not_found(format!("no {} has an id starting {prefix}", kind.noun()))
}

/// The one candidate, or why not: none (exit 5) or several (exit 3, each
/// with enough of its id to tell them apart and what it is).
fn pick(noun: &str, prefix: &IdPrefix, mut rows: Vec<(Uuid, Option<String>)>) -> Result<Uuid> {
    match rows.len() {
        0 => Err(Error::not_found(format!(
            "no {noun} has an id starting {prefix}"
        ))),
        1 => Ok(rows[0].0),
        n => {
            rows.sort_by_key(|r| r.0);
            let shown: Vec<String> = rows
                .iter()
                .take(5)
                .map(|(id, what)| {
                    let what = what.as_deref().unwrap_or("");
                    format!("{} {what}", &id.to_string()[..13])
                })
                .collect();
            let more = if n > 5 { "; ..." } else { "" };
            Err(Error::invalid(format!(
                "the id prefix {prefix} is ambiguous: it matches {}{more}; give more digits",
                shown.join("; ")
            )))
        }
    }
}
