//! The audit log: every change writes who, what, when, before and after, in
//! the same transaction as the change itself.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

use crate::actor::Actor;
use crate::error::Result;
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
    sqlx::query(
        "INSERT INTO audit_log (actor_id, actor_label, action, entity, entity_id, before, after)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(actor.id().map(|i| i.as_uuid()))
    .bind(actor.label())
    .bind(change.action)
    .bind(change.entity)
    .bind(change.entity_id)
    .bind(change.before)
    .bind(change.after)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A row of `audit list`.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Entry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
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

/// `audit list`, streamed, newest first: each entry to `each` as it
/// arrives; `page.after` is the id of the previous page's last (oldest)
/// entry, so the next page holds older ones.
pub async fn list_each(
    pool: &PgPool,
    actor: &Actor,
    filter: &Filter,
    page: &Page<i64>,
    mut each: impl FnMut(Entry) -> Result<()>,
) -> Result<()> {
    actor.require_admin("read the audit log")?;
    let mut rows = sqlx::query_as::<_, Entry>(
        "SELECT id, at, actor_label AS actor, action, entity, entity_id, before, after
         FROM audit_log
         WHERE ($1::text IS NULL OR entity = $1)
           AND ($2::uuid IS NULL OR entity_id = $2)
           AND ($3::text IS NULL OR action = $3)
           AND ($4::bigint IS NULL OR id < $4)
         ORDER BY id DESC
         LIMIT $5",
    )
    .bind(filter.entity.as_deref())
    .bind(filter.entity_id)
    .bind(filter.action.as_deref())
    .bind(page.after)
    .bind(page.sql_limit())
    .fetch(pool);
    while let Some(e) = rows.try_next().await? {
        each(e)?;
    }
    Ok(())
}
