//! The `users` table: lookups shared by every capability.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use crate::domain::{Email, PersonName, Role, TimeZone, UserId, UserRef};
use crate::error::{Error, Result, ResultExt};

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

#[derive(FromRow)]
struct UserRow {
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

/// Find a user with the given role, or say clearly what was not found.
pub async fn find_with_role(conn: &mut PgConnection, who: &UserRef, role: Role) -> Result<User> {
    match find(conn, who).await? {
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
