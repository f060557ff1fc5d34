//! The audit log: every change writes who, what, when, before and after, in
//! the same transaction as the change itself.
//!
//! An entry made with `--as` also records the operator behind it: the OS
//! user (as the client reports it) and the database login (stamped by the
//! database from `session_user`). Entries list in commit order, by the
//! ticket their transaction took as it committed (`audit_commits`; migration
//! 20261207000202 says how exactly), and show that commit's time.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

use crate::actor::Actor;
use crate::error::{Error, Result};
use crate::page::Page;
use futures_util::TryStreamExt;

/// One change to record.
pub struct Change<'a> {
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: Option<Uuid>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl<'a> Change<'a> {
    /// A change to a record, before and after as their JSON form.
    pub fn of<T: Serialize>(
        action: &'a str,
        entity: &'a str,
        entity_id: Uuid,
        before: Option<&T>,
        after: Option<&T>,
    ) -> Result<Self> {
        let json = |v: Option<&T>| {
            v.map(serde_json::to_value)
                .transpose()
                .map_err(|e| crate::error::Error::Internal(format!("cannot record {action}: {e}")))
        };
        Ok(Change {
            action,
            entity,
            entity_id: Some(entity_id),
            before: json(before)?,
            after: json(after)?,
        })
    }
}

pub async fn record(conn: &mut PgConnection, actor: &Actor, change: Change<'_>) -> Result<()> {
    // The login is written as the database would stamp it: its trigger runs
    // only for a row that names another (migration 20261207001800).
    sqlx::query(
        "INSERT INTO audit_log (actor_id, actor_label, action, entity, entity_id, before, after,
                                acted_by_os_user, acted_by_db_login)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $8::text IS NOT NULL THEN session_user::text END)",
    )
    .bind(actor.id().map(|i| i.as_uuid()))
    .bind(actor.label())
    .bind(change.action)
    .bind(change.entity)
    .bind(change.entity_id)
    .bind(change.before)
    .bind(change.after)
    .bind(actor.operator_os_user())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A row of `audit list`.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Entry {
    pub id: i64,
    /// When the change committed.
    pub at: DateTime<Utc>,
    /// Who acted: an email or "operator"; with `--as`, the operator and
    /// the person acted for: `operator (root, db login coachctl) as bo@…`.
    pub actor: String,
    /// With `--as`: the person acted for (None without).
    pub acted_for: Option<String>,
    /// With `--as`: the operator's OS user, as the client reported it.
    pub acted_by_os_user: Option<String>,
    /// With `--as`: the database login the change was made with.
    pub acted_by_db_login: Option<String>,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<Uuid>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub entity: Option<String>,
    pub entity_id: Option<Uuid>,
    pub action: Option<String>,
}

/// Newest first. Admins only: the log holds everyone's data.
pub async fn list(
    pool: &PgPool,
    actor: &Actor,
    filter: &Filter,
    page: &Page<i64>,
) -> Result<Vec<Entry>> {
    let mut all = Vec::new();
    list_each(pool, actor, filter, page, |e| {
        all.push(e);
        Ok(())
    })
    .await?;
    Ok(all)
}

/// `audit list`, streamed, newest (last committed) first: each entry to
/// `each` as it arrives; `page.after` is the id of the previous page's last
/// (oldest) entry, so the next page holds older ones. True when the page's
/// limit cut the list: more entries follow.
pub async fn list_each(
    pool: &PgPool,
    actor: &Actor,
    filter: &Filter,
    page: &Page<i64>,
    mut each: impl FnMut(Entry) -> Result<()>,
) -> Result<bool> {
    actor.require_admin("read the audit log")?;
    // Pages follow commit order, so `--after` is an entry's place in it.
    let after: Option<(i64, i64)> = match page.after {
        None => None,
        Some(id) => Some(
            sqlx::query_as(
                "SELECT c.seq, a.id FROM audit_log a JOIN audit_commits c ON c.xact = a.xact
                 WHERE a.id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
            .ok_or_else(|| Error::not_found(format!("--after: no audit entry {id}")))?,
        ),
    };
    let limit = page.sql_limit();
    // one row past the limit tells whether the list was cut
    let mut rows = sqlx::query_as::<_, Entry>(
        "SELECT a.id, c.at, a.actor_label AS actor,
                CASE WHEN a.acted_by_os_user IS NOT NULL THEN a.actor_label END AS acted_for,
                a.acted_by_os_user, a.acted_by_db_login, a.action, a.entity, a.entity_id,
                a.before, a.after
         FROM audit_log a JOIN audit_commits c ON c.xact = a.xact
         WHERE ($1::text IS NULL OR a.entity = $1)
           AND ($2::uuid IS NULL OR a.entity_id = $2)
           AND ($3::text IS NULL OR a.action = $3)
           AND ($4::bigint IS NULL OR (c.seq, a.id) < ($4, $5))
         ORDER BY c.seq DESC, a.id DESC
         LIMIT $6",
    )
    .bind(filter.entity.as_deref())
    .bind(filter.entity_id)
    .bind(filter.action.as_deref())
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit.map(|n| n.saturating_add(1)))
    .fetch(pool);
    let mut seen = 0i64;
    while let Some(mut e) = rows.try_next().await? {
        if limit.is_some_and(|n| seen == n) {
            return Ok(true);
        }
        seen += 1;
        if let (Some(os), Some(db)) = (&e.acted_by_os_user, &e.acted_by_db_login) {
            e.actor = format!("operator ({os}, db login {db}) as {}", e.actor);
        }
        each(e)?;
    }
    Ok(false)
}
