//! The embedded cluster's life besides running it: `db backup` (also of a
//! server named by `DATABASE_URL`), `db restore` into an empty or fresh
//! home, and `db destroy`.
//!
//! Backups are pg_dump's custom format of coachctl's database, written
//! under a temporary name and renamed when complete, so a failed backup
//! never leaves a truncated file under the name asked for.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Serialize;
use sqlx::{ConnectOptions, Connection};

use crate::db::Target;
use crate::embedded::{Cluster, DB_NAME, DB_USER, PORT, ROOT_SERVER_BASE, last_line, system};
use crate::error::{Error, Result};

/// What `db backup` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Backup {
    pub file: PathBuf,
    pub bytes: u64,
    pub database: String,
}

/// Write a pg_dump (custom format) of coachctl's database to `file`.
pub async fn backup(target: &Target, file: &Path) -> Result<Backup> {
    let (tool, conn) = match target {
        Target::Embedded(c) => {
            // Running, with its database, but not migrated: a backup must
            // not change what it backs up.
            target.connect_raw().await?.close().await;
            (c.binaries()?.join("pg_dump"), c.conn_args())
        }
        Target::Url(url) | Target::ReadUrl(url) => {
            (client_tool("pg_dump")?, vec!["-d".into(), url.into()])
        }
    };
    dump(&tool, &conn, file)?;
    let bytes = fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    Ok(Backup {
        file: file.to_path_buf(),
        bytes,
        database: target.describe(),
    })
}

/// Run pg_dump into `file`, by way of a temporary name beside it.
pub(super) fn dump(tool: &Path, conn: &[OsString], file: &Path) -> Result<()> {
    let tmp = temporary_beside(file);
    let out = client(tool)
        .args(conn)
        .args(["--format=custom", "--no-password", "--file"])
        .arg(&tmp)
        .output()
        .map_err(|e| Error::Unavailable(format!("cannot run {}: {e}", tool.display())))?;
    if !out.status.success() {
        let _ = fs::remove_file(&tmp);
        return Err(Error::Unavailable(format!(
            "the backup failed; pg_dump said: {}",
            tool_said(&out.stderr)
        )));
    }
    fs::rename(&tmp, file).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::invalid(format!("cannot write {}: {e}", file.display()))
    })
}

fn temporary_beside(file: &Path) -> PathBuf {
    let mut name = file.file_name().map(OsString::from).unwrap_or_default();
    name.push(format!(".{}.partial", std::process::id()));
    file.with_file_name(name)
}

/// What `db restore` did.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    pub file: PathBuf,
    pub database: String,
    /// The data it replaced (0 in an empty or fresh home).
    pub replaced_users: i64,
    pub users: i64,
    pub schema_version: i64,
    /// Logins of the backup's cluster, which are not carried over (roles
    /// belong to a cluster): `login grant` makes them again.
    pub dropped_logins: i64,
}

/// How many people the embedded database holds (0 when it has no schema
/// yet); `db restore` asks before replacing any.
pub async fn people(cluster: &Cluster) -> Result<i64> {
    let target = Target::Embedded(cluster.clone());
    let pool = target.connect_raw().await?;
    let n = count_users(&pool).await;
    pool.close().await;
    n
}

async fn count_users(pool: &sqlx::PgPool) -> Result<i64> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('public.users') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    if !exists {
        return Ok(0);
    }
    Ok(sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(pool)
        .await?)
}

/// Replace coachctl's database in the embedded cluster by the backup in
/// `file` (made by `db backup`), then migrate it to this binary's schema.
/// The caller has asked before replacing data ([`people`]).
pub async fn restore(cluster: &Cluster, file: &Path) -> Result<Restored> {
    if !file.is_file() {
        return Err(Error::NotFound(format!(
            "there is no backup file {}",
            file.display()
        )));
    }
    let replaced_users = people(cluster).await?;
    let tool = cluster.binaries()?.join("pg_restore");
    // The file is read before anything is dropped: a file that is not a
    // backup changes nothing.
    let listed = client(&tool)
        .arg("--list")
        .arg(file)
        .output()
        .map_err(|e| Error::Unavailable(format!("cannot run {}: {e}", tool.display())))?;
    if !listed.status.success() {
        return Err(Error::invalid(format!(
            "{} is not a backup made by coachctl db backup (pg_dump's custom format)",
            file.display()
        )));
    }
    let prefix = group_prefix(&tool, file)?;
    let mut admin = cluster.connect_options("postgres").connect().await?;
    // Roles belong to the cluster, not to a database's dump: the backup's
    // grants name its group roles, which a fresh home lacks.
    if let Some(p) = &prefix {
        for g in ["admin", "coach", "member", "notifier", "pgbouncer"] {
            let role = format!("{p}_{g}");
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
                    .bind(&role)
                    .fetch_one(&mut admin)
                    .await?;
            if !exists {
                // `p` passed group_prefix's check: a plain identifier.
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "CREATE ROLE \"{role}\" NOLOGIN"
                )))
                .execute(&mut admin)
                .await?;
            }
        }
    }
    sqlx::raw_sql("DROP DATABASE IF EXISTS coachctl WITH (FORCE)")
        .execute(&mut admin)
        .await?;
    sqlx::raw_sql("CREATE DATABASE coachctl")
        .execute(&mut admin)
        .await?;
    admin.close().await.ok();
    let out = client(&tool)
        .args(cluster.conn_args())
        .args(["--no-owner", "--exit-on-error", "--single-transaction"])
        .arg(file)
        .output()
        .map_err(|e| Error::Unavailable(format!("cannot run {}: {e}", tool.display())))?;
    if !out.status.success() {
        return Err(Error::Unavailable(format!(
            "the restore failed and the database is empty; pg_restore said: {}",
            tool_said(&out.stderr)
        )));
    }
    let target = Target::Embedded(cluster.clone());
    let pool = target.connect_for_migration().await?;
    let schema = crate::db::migrate(&pool).await?;
    // The old cluster's logins are not roles here: grant them again.
    let dropped_logins = drop_missing_logins(&pool).await?;
    let users = count_users(&pool).await?;
    pool.close().await;
    Ok(Restored {
        file: file.to_path_buf(),
        database: target.describe(),
        replaced_users,
        users,
        schema_version: schema.applied,
        dropped_logins,
    })
}

/// The group prefix a backup's grants use (`identity_settings`), read from
/// the file without restoring it; None for a backup made before logins.
fn group_prefix(tool: &Path, file: &Path) -> Result<Option<String>> {
    let out = client(tool)
        .args(["--data-only", "--table=identity_settings", "--file=-"])
        .arg(file)
        .stdout(Stdio::piped())
        .output()
        .map_err(|e| Error::Unavailable(format!("cannot run {}: {e}", tool.display())))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines().skip_while(|l| !l.starts_with("COPY "));
    lines.next();
    let prefix = lines
        .next()
        .and_then(|row| row.split('\t').nth(1))
        .map(str::to_string);
    Ok(prefix.filter(|p| {
        p.len() <= 41
            && p.starts_with(|c: char| c.is_ascii_lowercase())
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    }))
}

/// Rows of `logins` whose role this cluster does not have (a backup
/// restored elsewhere): removed, and counted for the report.
async fn drop_missing_logins(pool: &sqlx::PgPool) -> Result<i64> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('logins') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    if !exists {
        return Ok(0);
    }
    let n = sqlx::query(
        "DELETE FROM logins l WHERE NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = l.role_name)",
    )
    .execute(pool)
    .await?
    .rows_affected();
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}

/// What `db destroy` removed.
#[derive(Debug, Clone, Serialize)]
pub struct Destroyed {
    pub removed: Vec<PathBuf>,
    pub stopped: bool,
}

/// Stop the embedded cluster and remove it: the server directory (for root
/// the one under /var/lib/coachctl behind the `server` symlink), half-made
/// builds and clusters kept aside by an upgrade. Backups are kept.
pub fn destroy(cluster: &Cluster) -> Result<Destroyed> {
    let stopped = cluster.stop()?;
    let _lock = cluster.lock().ok();
    let mut removed = Vec::new();
    let pointer = cluster.pointer();
    if let Ok(target) = fs::read_link(&pointer) {
        let aside = cluster.home().join(target);
        // Only what coachctl made there: never follow a link elsewhere.
        if aside.starts_with(ROOT_SERVER_BASE) && aside.exists() {
            remove(&aside, &mut removed)?;
        }
    }
    if fs::symlink_metadata(&pointer).is_ok() {
        remove(&pointer, &mut removed)?;
    }
    for p in cluster.leftovers().into_iter().chain(kept_aside(cluster)) {
        remove(&p, &mut removed)?;
    }
    Ok(Destroyed { removed, stopped })
}

/// Old clusters an upgrade keeps until the new one answers (`.old`).
pub(super) fn kept_aside(cluster: &Cluster) -> Vec<PathBuf> {
    let prefix = format!("{}-", crate::embedded::build::home_key(cluster));
    let mut found = Vec::new();
    for (dir, keep) in [
        (cluster.home().to_path_buf(), "server."),
        (PathBuf::from(ROOT_SERVER_BASE), prefix.as_str()),
    ] {
        for e in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(keep) && name.ends_with(".old") {
                found.push(e.path());
            }
        }
    }
    found
}

fn remove(path: &Path, removed: &mut Vec<PathBuf>) -> Result<()> {
    let result = match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(_) => return Ok(()),
    };
    result.map_err(|e| crate::embedded::io_err("remove", path, e))?;
    removed.push(path.to_path_buf());
    Ok(())
}

impl Cluster {
    /// libpq arguments for coachctl's database over this cluster's socket.
    pub(super) fn conn_args(&self) -> Vec<OsString> {
        let mut host = OsString::from("--host=");
        host.push(self.socket_dir());
        vec![
            host,
            format!("--port={PORT}").into(),
            format!("--username={DB_USER}").into(),
            format!("--dbname={DB_NAME}").into(),
        ]
    }
}

/// A PostgreSQL client tool run as ourselves, with no PG* setting of the
/// environment that could send it elsewhere.
fn client(tool: &Path) -> Command {
    let mut c = Command::new(tool);
    for var in [
        "PGHOST",
        "PGHOSTADDR",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGSERVICE",
        "PGOPTIONS",
    ] {
        c.env_remove(var);
    }
    c.stdin(Stdio::null()).stdout(Stdio::null());
    c
}

/// A client tool for a server coachctl does not run: the one on PATH
/// (Debian's wrapper picks the version matching the server), else the
/// newest installed.
fn client_tool(name: &str) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join(name).is_file() {
                return Ok(dir.join(name));
            }
        }
    }
    system::find_binaries()
        .map(|d| d.join(name))
        .ok()
        .filter(|p| p.is_file())
        .ok_or_else(|| {
            Error::Unavailable(format!(
                "{name} was not found on PATH or with the PostgreSQL server binaries; install the PostgreSQL client (Debian/Ubuntu: apt-get install postgresql-client)"
            ))
        })
}

/// The gist of a client tool's complaint: its last line, without the
/// tool's own prefix.
fn tool_said(stderr: &[u8]) -> String {
    let line = last_line(stderr);
    let line = line
        .split_once("error: ")
        .map_or(line.as_str(), |(_, rest)| rest);
    line.to_string()
}
