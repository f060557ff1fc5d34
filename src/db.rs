//! Connecting: to `DATABASE_URL`, or to the embedded cluster; and the schema
//! version check that every command but `db migrate` passes first.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

use crate::embedded::{Cluster, DB_NAME};
use crate::error::{Error, Result};

/// The migrations compiled into this binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Where the data lives.
#[derive(Debug, Clone)]
pub enum Target {
    /// `DATABASE_URL`: any PostgreSQL 14+.
    Url(String),
    /// The private cluster under `COACHCTL_HOME`.
    Embedded(Cluster),
}

impl Target {
    pub fn from_url_or_env(url: Option<String>) -> Result<Self> {
        match url.filter(|u| !u.trim().is_empty()) {
            Some(u) => Ok(Target::Url(u)),
            None => Ok(Target::Embedded(Cluster::from_env()?)),
        }
    }

    /// A description of where the database lives, without any password.
    pub fn describe(&self) -> String {
        match self {
            Target::Url(u) => redact(u),
            Target::Embedded(c) => format!("embedded cluster in {}", c.home().display()),
        }
    }

    fn options(&self) -> Result<PgConnectOptions> {
        match self {
            Target::Url(u) => u
                .parse::<PgConnectOptions>()
                .map(|o| o.disable_statement_logging())
                .map_err(|e| {
                    Error::Unavailable(format!("DATABASE_URL is not a usable PostgreSQL URL: {e}"))
                }),
            Target::Embedded(c) => Ok(c.connect_options(DB_NAME)),
        }
    }

    /// Connect without looking at the schema (for `db` commands).
    pub async fn connect_raw(&self) -> Result<PgPool> {
        let opts = self.options()?;
        let pool = || {
            PgPoolOptions::new()
                .max_connections(4)
                .min_connections(0)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(opts.clone())
        };
        // The embedded cluster: a running server costs one connect; only
        // when that fails is it created or started (under its lock). A
        // server known to be down (a crash leaves a stale socket) is started
        // at once, and one dying as we look gets a short wait, rather than
        // the pool's whole acquire timeout of retries.
        let result = match self {
            Target::Embedded(c) => {
                let first = match c.server_pid() {
                    Some(_) => tokio::time::timeout(Duration::from_secs(2), pool())
                        .await
                        .ok()
                        .and_then(|p| p.ok()),
                    None => None,
                };
                match first {
                    Some(pool) => Ok(pool),
                    None => {
                        c.ensure_running().await?;
                        pool().await
                    }
                }
            }
            Target::Url(_) => pool().await,
        };
        result.map_err(|e| match Error::from(e) {
            Error::Database(inner) => Error::Unavailable(format!(
                "cannot connect to the database ({}): {}",
                self.describe(),
                short(&inner)
            )),
            other => other,
        })
    }

    /// Connect for a normal command: the embedded cluster is migrated on
    /// first use; an external database whose schema is behind is refused.
    pub async fn connect(&self) -> Result<PgPool> {
        let pool = self.connect_raw().await?;
        let status = schema_status(&pool).await?;
        if status.applied == status.latest {
            return Ok(pool);
        }
        if status.applied > status.latest {
            return Err(Error::Unavailable(format!(
                "the database schema (version {}) is newer than this coachctl (version {}); upgrade coachctl",
                status.applied, status.latest
            )));
        }
        match self {
            Target::Embedded(_) => {
                MIGRATOR.run(&pool).await?;
                Ok(pool)
            }
            Target::Url(_) => Err(Error::Unavailable(format!(
                "the database schema is at version {} but this coachctl needs version {}; run `coachctl db migrate`",
                status.applied, status.latest
            ))),
        }
    }
}

#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct SchemaStatus {
    /// The newest migration applied to the database (0: none).
    pub applied: i64,
    /// The newest migration this binary carries.
    pub latest: i64,
}

/// One query: the newest successfully applied migration.
pub async fn schema_status(pool: &PgPool) -> Result<SchemaStatus> {
    let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
    let has_table: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    let applied = if has_table {
        sqlx::query_scalar::<_, Option<i64>>(
            "SELECT max(version) FROM _sqlx_migrations WHERE success",
        )
        .fetch_one(pool)
        .await?
        .unwrap_or(0)
    } else {
        0
    };
    Ok(SchemaStatus { applied, latest })
}

/// Apply every pending migration.
pub async fn migrate(pool: &PgPool) -> Result<SchemaStatus> {
    MIGRATOR.run(pool).await?;
    schema_status(pool).await
}

/// Drop every table coachctl made and apply the migrations again.
pub async fn reset(pool: &PgPool) -> Result<SchemaStatus> {
    sqlx::raw_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        .execute(pool)
        .await?;
    migrate(pool).await
}

/// The server's version string, e.g. "15.18".
pub async fn server_version(pool: &PgPool) -> Result<String> {
    Ok(sqlx::query_scalar("SHOW server_version")
        .fetch_one(pool)
        .await?)
}

fn short(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_string(),
        other => other.to_string(),
    }
}

/// Hide a password in a URL: postgres://u:secret@h/db -> postgres://u:***@h/db.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, tail) = match rest.find('@') {
        Some(at) if rest[..at].find('/').is_none() => (&rest[..at], &rest[at..]),
        _ => return url.to_string(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***{tail}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn a_password_in_a_url_is_hidden() {
        assert_eq!(redact("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
