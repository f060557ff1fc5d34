//! Applying migrations: over a direct connection only, under a lock whose
//! wait is bounded, with errors that say what an administrator must do.
//!
//! sqlx's migrator waits on `pg_advisory_lock` with no limit, and through a
//! transaction pooler its session lock stays behind on a pooled server
//! connection, after which every later migration hangs. So coachctl takes
//! the same lock itself with `pg_try_advisory_lock` in a loop with a
//! deadline, runs sqlx's migrator with its locking off, and refuses a
//! pooler, where a session lock cannot be held at all.

use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::migrate::{MigrateError, Migrator};

use super::MIGRATOR;
use crate::error::{Error, Result, describe_sqlx, is_unavailable, statement_failure};

/// How long `db migrate` waits for another migration by default.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(60);

/// The wait: `COACHCTL_MIGRATE_LOCK_TIMEOUT` seconds, else 60.
pub fn lock_wait() -> Result<Duration> {
    match std::env::var("COACHCTL_MIGRATE_LOCK_TIMEOUT") {
        Ok(s) if !s.trim().is_empty() => {
            s.trim()
                .parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|_| {
                    Error::invalid(format!(
                        "COACHCTL_MIGRATE_LOCK_TIMEOUT {s:?} is not a whole number of seconds"
                    ))
                })
        }
        _ => Ok(DEFAULT_LOCK_WAIT),
    }
}

/// Apply every pending migration on `pool` (one connection), holding the
/// migration lock; waits at most `wait` for another migration.
pub async fn run(pool: &PgPool, wait: Duration) -> Result<()> {
    let mut conn = pool.acquire().await?;
    let db: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&mut *conn)
        .await?;
    let key = lock_id(&db);
    let deadline = Instant::now() + wait;
    let mut told = false;
    loop {
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut *conn)
            .await?;
        if got {
            break;
        }
        let holder = holder(&mut conn, key).await?;
        if Instant::now() >= deadline {
            return Err(Error::Unavailable(format!(
                "another migration has held the migration lock for over {} s ({}); it may still be running: wait for it, or end that session (pg_terminate_backend({})) if it is stuck",
                wait.as_secs(),
                holder.describe(),
                holder.pid
            )));
        }
        if !told {
            eprintln!(
                "coachctl: waiting up to {} s for another migration to finish ({})",
                wait.as_secs(),
                holder.describe()
            );
            told = true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let migrator = Migrator {
        locking: false,
        ..clone_migrator()
    };
    let result = migrator.run(&mut *conn).await;
    // Unlock even after a failed migration; the connection closes anyway.
    let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(key)
        .execute(&mut *conn)
        .await;
    result.map_err(|e| migrate_error(e, pool_user(pool), &db))
}

fn clone_migrator() -> Migrator {
    Migrator {
        migrations: MIGRATOR.migrations.clone(),
        ignore_missing: MIGRATOR.ignore_missing,
        locking: MIGRATOR.locking,
        no_tx: MIGRATOR.no_tx,
        table_name: MIGRATOR.table_name.clone(),
        create_schemas: MIGRATOR.create_schemas.clone(),
    }
}

fn pool_user(pool: &PgPool) -> String {
    pool.connect_options().get_username().to_string()
}

/// The session holding the lock, from pg_locks and pg_stat_activity.
struct Holder {
    pid: i32,
    application_name: String,
    since: Option<chrono::DateTime<chrono::Utc>>,
}

impl Holder {
    fn describe(&self) -> String {
        let app = if self.application_name.is_empty() {
            "no application name".to_string()
        } else {
            format!("application {:?}", self.application_name)
        };
        match self.since {
            Some(t) => format!(
                "pid {}, {app}, its transaction or query started {}",
                self.pid,
                crate::domain::dates::moment_now(t, chrono_tz::UTC)
            ),
            None => format!("pid {}, {app}", self.pid),
        }
    }
}

async fn holder(conn: &mut sqlx::PgConnection, key: i64) -> Result<Holder> {
    let row: Option<(i32, Option<String>, Option<chrono::DateTime<chrono::Utc>>)> =
        sqlx::query_as(
            "SELECT l.pid, a.application_name, coalesce(a.xact_start, a.query_start, a.backend_start)
             FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND l.classid = ($1 >> 32)::bigint::oid AND l.objid = ($1 & 4294967295)::oid AND l.objsubid = 1
             LIMIT 1",
        )
        .bind(key)
        .fetch_optional(conn)
        .await?;
    Ok(match row {
        Some((pid, app, since)) => Holder {
            pid,
            application_name: app.unwrap_or_default(),
            since,
        },
        None => Holder {
            pid: 0,
            application_name: "gone a moment ago".into(),
            since: None,
        },
    })
}

/// sqlx's own lock key for a database, so that coachctl and any sqlx-based
/// migrator (older coachctl versions included) exclude each other.
pub fn lock_id(database: &str) -> i64 {
    0x3d32ad9e * i64::from(crc32(database.as_bytes()))
}

/// CRC-32/ISO-HDLC, as sqlx's `generate_lock_id` uses.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Is this connection a transaction-mode pooler rather than PostgreSQL
/// itself? The connection was opened with the startup option
/// `-c coachctl.direct=on`: PostgreSQL applies it, while pgbouncer refuses
/// the `options` parameter at connect (`unsupported startup parameter`) or,
/// when told to ignore it, drops it.
pub async fn is_direct(pool: &PgPool) -> Result<bool> {
    let v: Option<String> = sqlx::query_scalar("SELECT current_setting('coachctl.direct', true)")
        .fetch_one(pool)
        .await?;
    Ok(v.as_deref() == Some("on"))
}

/// The startup option that [`is_direct`] looks for.
pub const DIRECT_PROBE: (&str, &str) = ("coachctl.direct", "on");

/// One sentence for a failed migration: the file and line, and for a
/// refused extension, exactly what an administrator must run.
fn migrate_error(e: MigrateError, user: String, database: &str) -> Error {
    let (err, version) = match e {
        MigrateError::ExecuteMigration(err, version) => (err, Some(version)),
        MigrateError::Execute(err) => (err, None),
        other => return Error::from(other),
    };
    let sqlx::Error::Database(db) = &err else {
        return Error::from(err);
    };
    // the connection itself failed: say so as for any outage
    if db
        .code()
        .is_some_and(|c| c.starts_with("08") || c.starts_with("57P"))
    {
        return Error::from(err);
    }
    let Some(m) = version.and_then(|v| MIGRATOR.iter().find(|m| m.version == v)) else {
        return Error::from(err);
    };
    let file = format!("{}_{}.sql", m.version, m.description.replace(' ', "_"));
    let pg = db
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .map(|p| (p.hint().map(str::to_string), p.position()));
    let (hint, position) = pg.unwrap_or((None, None));
    let msg = db.message();
    let extension = msg
        .strip_prefix("permission denied to create extension \"")
        .and_then(|r| r.split('"').next())
        .map(str::to_string);
    let line = match (&extension, position) {
        (Some(ext), _) => line_of(m.sql.as_str(), &format!("EXTENSION IF NOT EXISTS {ext}"))
            .or_else(|| line_of(m.sql.as_str(), ext)),
        (None, Some(sqlx::postgres::PgErrorPosition::Original(pos))) => {
            Some(line_at(m.sql.as_str(), pos))
        }
        _ => None,
    };
    let at = match line {
        Some(l) => format!("migrations/{file} line {l}"),
        None => format!("migrations/{file}"),
    };
    let hint = hint.map(|h| format!(" ({h})")).unwrap_or_default();
    match extension {
        Some(ext) => Error::Unavailable(format!(
            "{at} needs the {ext} extension, which role {user} may not create: {msg}{hint}; an administrator must run, as a superuser in database {database}: CREATE EXTENSION {ext}; then run coachctl db migrate again"
        )),
        None => Error::Unavailable(format!(
            "cannot apply {at}: {msg}{hint}; nothing of that migration was applied"
        )),
    }
}

/// The 1-based line of a 1-based character position.
fn line_at(sql: &str, pos: usize) -> usize {
    1 + sql
        .chars()
        .take(pos.saturating_sub(1))
        .filter(|c| *c == '\n')
        .count()
}

/// The 1-based line holding `needle` (case-insensitive).
fn line_of(sql: &str, needle: &str) -> Option<usize> {
    let needle = needle.to_ascii_lowercase();
    sql.lines()
        .position(|l| l.to_ascii_lowercase().contains(&needle))
        .map(|i| i + 1)
}

// Beside MIGRATOR, which the history errors compare against.
impl From<sqlx::migrate::MigrateError> for Error {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        use sqlx::migrate::MigrateError as M;
        match e {
            M::Execute(e) => Error::Database(e),
            M::ExecuteMigration(e, version) => {
                let code = match &e {
                    sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
                    _ => None,
                };
                match (&e, code) {
                    // A migration that refuses the data it finds says why
                    // itself (SQLSTATE class CC: coachctl's own sentences).
                    (sqlx::Error::Database(db), Some(c)) if c.starts_with("CC") => Error::Conflict(
                        format!("cannot apply migration {version}: {}", db.message()),
                    ),
                    (e, _) if is_unavailable(e) => Error::Unavailable(format!(
                        "cannot apply migration {version}: {}",
                        describe_sqlx(e)
                    )),
                    (_, Some(c)) => Error::Internal(format!(
                        "migration {version} failed: {} (SQLSTATE {c})",
                        statement_failure(&c)
                    )),
                    (_, None) => Error::Database(e),
                }
            }
            other => migration_history_error(&other),
        }
    }
}

/// A migration run refused before any SQL ran: the database's record of
/// applied migrations does not match this coachctl's. Exit 8, as for every
/// command against a schema newer than the binary: this coachctl cannot use
/// that database.
fn migration_history_error(e: &sqlx::migrate::MigrateError) -> Error {
    use sqlx::migrate::MigrateError as M;
    let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
    Error::Unavailable(match *e {
        M::VersionMissing(v) if v > latest => format!(
            "the database schema is newer than this coachctl (migration {v} is unknown to it); upgrade coachctl"
        ),
        M::VersionMissing(v) => format!(
            "the database has migration {v} applied, which this coachctl does not have (another build applied it); use a coachctl that has it"
        ),
        M::VersionMismatch(v) => format!(
            "migration {v} in the database differs from this coachctl's copy (it was changed after it was applied); use the coachctl that applied it"
        ),
        M::Dirty(v) => format!(
            "migration {v} is recorded as partly applied; check the schema, delete its row from _sqlx_migrations, then run coachctl db migrate again"
        ),
        _ => return Error::Internal("the migration tool failed".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_key_is_the_one_sqlx_takes() {
        // crc32("coachctl") = 0x1e4f5e1a-ish; check against the reference value
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(lock_id("x"), 0x3d32ad9e * i64::from(crc32(b"x")));
    }

    #[test]
    fn a_character_position_becomes_a_line() {
        let sql = "a\nbb\nccc";
        assert_eq!(line_at(sql, 1), 1);
        assert_eq!(line_at(sql, 3), 2);
        assert_eq!(line_at(sql, 6), 3);
    }

    #[test]
    fn the_extension_line_of_the_booking_migration_is_found() {
        let m = MIGRATOR
            .iter()
            .find(|m| m.sql.as_str().contains("btree_gist"))
            .expect("a migration creates btree_gist");
        let line = line_of(m.sql.as_str(), "EXTENSION IF NOT EXISTS btree_gist").unwrap();
        assert!(
            m.sql
                .as_str()
                .lines()
                .nth(line - 1)
                .unwrap()
                .contains("btree_gist")
        );
    }
}
