//! Named admins (issue 17, item 1): people with the admin role, who act as
//! admin under their own name, so the audit log says who did what (the
//! anonymous operator stays admin too, as DESIGN.md's owner connection).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::actor::Actor;
use crate::audit::{self, Change};
use crate::domain::{Email, PersonName, Role, TimeZone, UserRef};
use crate::error::{Error, Result};
use crate::users;

#[derive(Debug, Clone, Serialize)]
pub struct Admin {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub timezone: String,
    pub active: bool,
    /// Whether the admin has a database login of their own (`login grant`).
    pub has_login: bool,
    pub created_at: DateTime<Utc>,
}

const SELECT: &str = "SELECT u.id, u.email, u.name, u.timezone, u.active,
        EXISTS (SELECT 1 FROM logins l WHERE l.user_id = u.id) AS has_login, u.created_at
    FROM users u";

type AdminRow = (Uuid, String, String, String, bool, bool, DateTime<Utc>);

fn from_row(r: AdminRow) -> Admin {
    Admin {
        id: r.0,
        email: r.1,
        name: r.2,
        timezone: r.3,
        active: r.4,
        has_login: r.5,
        created_at: r.6,
    }
}

async fn fetch(conn: &mut sqlx::PgConnection, id: Uuid) -> Result<Admin> {
    let sql = format!("{SELECT} WHERE u.id = $1");
    let row: AdminRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(from_row(row))
}

/// `admin create` (admin only): a person with the admin role.
pub async fn create(
    pool: &PgPool,
    actor: &Actor,
    email: &Email,
    name: &PersonName,
    timezone: TimeZone,
) -> Result<Admin> {
    actor.require_admin("create admins")?;
    let mut tx = pool.begin().await?;
    let id = users::insert(&mut tx, email, name, Role::Admin, timezone).await?;
    let admin = fetch(&mut tx, id.as_uuid()).await?;
    audit::record(
        &mut tx,
        actor,
        Change::of("admin.create", "admin", admin.id, None, Some(&admin))?,
    )
    .await?;
    tx.commit().await?;
    Ok(admin)
}

/// `admin list` (admin only): active admins by email; `all` adds removed ones.
pub async fn list(pool: &PgPool, actor: &Actor, all: bool) -> Result<Vec<Admin>> {
    actor.require_admin("list admins")?;
    let sql = format!("{SELECT} WHERE u.role = 'admin' AND (u.active OR $1) ORDER BY u.email");
    let rows: Vec<AdminRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(all)
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// `admin remove` (admin only): the admin can no longer act; their rows and
/// the audit trail stay. The last admin who has a database login of their
/// own is kept, so that the logins never lose their last administrator.
pub async fn remove(pool: &PgPool, actor: &Actor, who: &UserRef) -> Result<Admin> {
    actor.require_admin("remove admins")?;
    let mut tx = pool.begin().await?;
    let user = users::find(&mut tx, who)
        .await?
        .filter(|u| u.role == Role::Admin)
        .ok_or_else(|| Error::not_found(format!("no admin {who}")))?;
    if !user.active {
        return Err(Error::rule(format!(
            "admin {} is already removed",
            user.email
        )));
    }
    // Lock the admins with logins, so that two removals at once cannot
    // each leave the other as the last.
    let with_login: Vec<Uuid> = sqlx::query_scalar(
        "SELECT u.id FROM users u JOIN logins l ON l.user_id = u.id
         WHERE u.role = 'admin' AND u.active ORDER BY u.id FOR UPDATE OF u",
    )
    .fetch_all(&mut *tx)
    .await?;
    if with_login == [user.id.as_uuid()] {
        return Err(Error::rule(format!(
            "{} is the last admin with a database login; grant another admin a login first",
            user.email
        )));
    }
    let before = fetch(&mut tx, user.id.as_uuid()).await?;
    sqlx::query("UPDATE users SET active = false, updated_at = now() WHERE id = $1")
        .bind(user.id.as_uuid())
        .execute(&mut *tx)
        .await?;
    let after = fetch(&mut tx, user.id.as_uuid()).await?;
    audit::record(
        &mut tx,
        actor,
        Change::of(
            "admin.remove",
            "admin",
            after.id,
            Some(&before),
            Some(&after),
        )?,
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}
