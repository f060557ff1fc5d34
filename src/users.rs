//! The `users` table: lookups shared by every capability.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use crate::actor::Actor;
use crate::domain::{Email, PersonName, Role, TimeZone, UserId, UserRef};
use crate::error::{Error, Result, ResultExt};

// Actor::resolve and from_identity: who acts is read from the users table.
mod acting;
pub(crate) use acting::os_user;

#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub timezone: TimeZone,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(FromRow, serde::Deserialize)]
pub(crate) struct UserRow {
    id: Uuid,
    email: String,
    name: String,
    role: String,
    timezone: String,
    active: bool,
    created_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for User {
    type Error = Error;
    fn try_from(r: UserRow) -> Result<User> {
        Ok(User {
            id: UserId::from_uuid(r.id),
            email: r.email,
            name: r.name,
            role: Role::from_db(&r.role)?,
            timezone: TimeZone::parse(&r.timezone).unwrap_or_else(|_| TimeZone::utc()),
            active: r.active,
            created_at: r.created_at,
        })
    }
}

/// Find a user by id or email. Emails compare by the database's
/// `email_key()`, the key of its unique index: full-Unicode case and
/// normalisation, whatever the database's collation.
pub async fn find(conn: &mut PgConnection, who: &UserRef) -> Result<Option<User>> {
    let by_prefix;
    let who = match who {
        UserRef::Prefix(p) => {
            by_prefix = UserRef::Id(UserId::from_uuid(crate::ids::any_user(conn, p).await?));
            &by_prefix
        }
        other => other,
    };
    let row: Option<UserRow> = match who {
        UserRef::Prefix(_) => None,
        UserRef::Id(id) => {
            sqlx::query_as(
                "SELECT id, email, name, role, timezone, active, created_at FROM users WHERE id = $1",
            )
            .bind(id.as_uuid())
            .fetch_optional(&mut *conn)
            .await?
        }
        UserRef::Email(e) => {
            sqlx::query_as(
                "SELECT id, email, name, role, timezone, active, created_at FROM users WHERE email_key(email) = email_key($1)",
            )
            .bind(e.as_str())
            .fetch_optional(&mut *conn)
            .await?
        }
    };
    row.map(User::try_from).transpose()
}

/// The parameters of `WHERE (u.id = $1 OR email_key(u.email) = email_key($2))`:
/// one of them is NULL, so exactly one comparison can match.
pub fn ref_params(who: &UserRef) -> (Option<Uuid>, Option<&str>) {
    match who {
        UserRef::Id(id) => (Some(id.as_uuid()), None),
        UserRef::Email(e) => (None, Some(e.as_str())),
        // Resolved before a query (crate::ids); unresolved it matches nobody.
        UserRef::Prefix(_) => (None, None),
    }
}

/// The condition that goes with [`ref_params`], on `users u`.
pub const REF_MATCHES: &str = "(u.id = $1::uuid OR email_key(u.email) = email_key($2::text))";

/// Whom a lookup by the actor may find (DESIGN.md "Identity and
/// permissions"). Anyone else is answered exactly as nobody: the same
/// sentence after the same queries, so no command tells who is a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sight {
    /// Whom the actor may see: an admin everyone; anyone themself and every
    /// coach (coaches are listed for all); a coach also the members assigned
    /// to them or connected (accepted) with them.
    Seen,
    /// Whom the actor may ask to connect or invite: whom they see, and for a
    /// coach every active public member (whom `connect search` shows them)
    /// and every member with a pending request between the two.
    Reach,
    /// Whom the actor has dealt with: whom they see, and for a coach every
    /// member they share a relationship event or a session with (a past
    /// coach reads their period of the history and lists their sessions).
    Known,
}

impl Sight {
    /// The condition on `users u` for the viewer in parameter `$n` (see
    /// [`viewer`]; NULL for an admin, who sees everyone).
    pub(crate) fn sql(self, n: u8) -> String {
        let seen = "$n::uuid IS NULL OR u.id = $n OR u.role = 'coach'
             OR EXISTS (SELECT 1 FROM member_profiles sp WHERE sp.user_id = u.id AND sp.coach_id = $n)
             OR EXISTS (SELECT 1 FROM connections sc WHERE sc.member_id = u.id AND sc.coach_id = $n
                          AND sc.status = 'accepted')";
        let more = match self {
            Sight::Seen => "",
            Sight::Reach => {
                " OR (u.role = 'member' AND u.active
                      AND EXISTS (SELECT 1 FROM member_profiles sp WHERE sp.user_id = u.id AND sp.privacy = 'public')
                      AND EXISTS (SELECT 1 FROM users me WHERE me.id = $n AND me.role = 'coach'))
                  OR EXISTS (SELECT 1 FROM connections sc WHERE sc.member_id = u.id AND sc.coach_id = $n
                               AND sc.status = 'pending')"
            }
            Sight::Known => {
                " OR EXISTS (SELECT 1 FROM relationship_events se WHERE se.member_id = u.id AND se.coach_id = $n)
                  OR EXISTS (SELECT 1 FROM sessions ss WHERE ss.member_id = u.id AND ss.coach_id = $n)"
            }
        };
        format!("({seen}{more})").replace("$n", &format!("${n}"))
    }
}

/// The viewer parameter of [`Sight::sql`]: NULL for an admin, else the
/// actor's id (a non-admin without one sees no one but coaches).
pub(crate) fn viewer(actor: &Actor) -> Option<Uuid> {
    if actor.is_admin() {
        None
    } else {
        Some(actor.id().map_or(Uuid::nil(), |i| i.as_uuid()))
    }
}

/// Find a person within the actor's sight: one query, whoever it is.
pub async fn find_seen(
    conn: &mut PgConnection,
    actor: &Actor,
    sight: Sight,
    who: &UserRef,
) -> Result<Option<User>> {
    let resolved;
    let who = match who {
        UserRef::Prefix(p) => {
            resolved = UserRef::Id(UserId::from_uuid(
                crate::ids::user_in(conn, actor, p).await?,
            ));
            &resolved
        }
        other => other,
    };
    let (id, email) = ref_params(who);
    let sql = format!(
        "SELECT id, email, name, role, timezone, active, created_at FROM users u
         WHERE {REF_MATCHES} AND {}",
        sight.sql(3)
    );
    let row: Option<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(email)
        .bind(viewer(actor))
        .fetch_optional(&mut *conn)
        .await?;
    row.map(User::try_from).transpose()
}

/// Find a person within the actor's sight with the given role, or say
/// what was not found: someone out of sight is "no {role} {who}", as an
/// unknown one, naming only what the actor typed.
pub async fn find_with_role(
    conn: &mut PgConnection,
    actor: &Actor,
    sight: Sight,
    who: &UserRef,
    role: Role,
) -> Result<User> {
    match find_seen(conn, actor, sight, who).await? {
        Some(u) if u.role == role => Ok(u),
        Some(u) => Err(Error::not_found(format!(
            "{who} is not a {role} (they are a {})",
            u.role
        ))),
        None => Err(Error::not_found(format!("no {role} {who}"))),
    }
}

/// Insert a user row; a taken email is a conflict (exit 6).
pub async fn insert(
    conn: &mut PgConnection,
    email: &Email,
    name: &PersonName,
    role: Role,
    timezone: TimeZone,
) -> Result<UserId> {
    let id = UserId::new();
    sqlx::query("INSERT INTO users (id, email, name, role, timezone) VALUES ($1, $2, $3, $4, $5)")
        .bind(id.as_uuid())
        .bind(email.as_str())
        .bind(name.as_str())
        .bind(role.as_str())
        .bind(timezone.as_str())
        .execute(&mut *conn)
        .await
        .on_constraint("users_email_key", || {
            Error::conflict(format!("a user with email {email} already exists"))
        })?;
    Ok(id)
}

/// Update name and time zone where given.
pub async fn update_basics(
    conn: &mut PgConnection,
    id: UserId,
    name: Option<&PersonName>,
    timezone: Option<TimeZone>,
) -> Result<()> {
    if name.is_none() && timezone.is_none() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE users SET name = coalesce($2, name), timezone = coalesce($3, timezone), updated_at = now() WHERE id = $1",
    )
    .bind(id.as_uuid())
    .bind(name.map(PersonName::as_str))
    .bind(timezone.map(|t| t.as_str()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}
