//! `db upgrade`: move the embedded cluster to the installed PostgreSQL
//! major version, the way pg_upgradecluster does.
//!
//! 1. Back up coachctl's database with the old server (`db backup`'s format,
//!    into `COACHCTL_HOME/backups`), and count its people.
//! 2. Build a new cluster aside with the new binaries (as a first run does).
//! 3. Fill it: `pg_upgrade` (copy mode: the old cluster is left as it was)
//!    when the new version has it, else restore the backup into it.
//! 4. Put it in place, keeping the old cluster beside it (`.old`), start it
//!    and check that it holds the same people; only then remove the old one.
//!    Should anything fail, the old cluster is put back.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde::Serialize;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

use super::life;
use crate::db::Target;
use crate::embedded::build::{self, Placement};
use crate::embedded::system::{self, ServerUser};
use crate::embedded::{Cluster, DB_USER, PORT, io_err};
use crate::error::{Error, Result};

/// What `db upgrade` did.
#[derive(Debug, Clone, Serialize)]
pub struct Upgraded {
    pub from: u32,
    pub to: u32,
    /// `pg_upgrade`, `dump and restore`, or `nothing` (already current).
    pub method: &'static str,
    pub backup: Option<PathBuf>,
    pub users: i64,
    pub data_dir: PathBuf,
    /// The old cluster, removed once the new one answered.
    pub removed: Option<PathBuf>,
}

pub async fn upgrade(cluster: &Cluster) -> Result<Upgraded> {
    let Some(from) = cluster.major().filter(|_| cluster.is_initialized()) else {
        return Err(Error::NotFound(format!(
            "there is no embedded cluster in {} to upgrade",
            cluster.home().display()
        )));
    };
    let new_bin = system::find_binaries()?;
    let to = system::bin_major(&new_bin).ok_or_else(|| {
        Error::Unavailable(format!(
            "cannot tell the version of the PostgreSQL binaries in {}",
            new_bin.display()
        ))
    })?;
    let nothing = |users| Upgraded {
        from,
        to,
        method: "nothing",
        backup: None,
        users,
        data_dir: cluster.data_dir(),
        removed: None,
    };
    if to == from {
        return Ok(nothing(life::people(cluster).await?));
    }
    if to < from {
        return Err(Error::Rule(format!(
            "this cluster was made by PostgreSQL {from}, newer than the installed {to}; install PostgreSQL {from} or later"
        )));
    }
    let old_bin = system::own_binaries(from).ok_or_else(|| {
        Error::Unavailable(format!(
            "upgrading needs PostgreSQL {from}'s server binaries to read the old cluster, and they are not installed; install them (Debian/Ubuntu: apt-get install postgresql-{from}) and run coachctl db upgrade again"
        ))
    })?;
    let runner = ServerUser::for_current_process()?;

    // 1. A backup and a head count, with the old server.
    let old = OldServer::start(cluster, &old_bin).await?;
    let users = life::people(cluster).await?;
    let backups = cluster.home().join("backups");
    fs::create_dir_all(&backups).map_err(|e| io_err("create", &backups, e))?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let backup = backups.join(format!("coachctl-pg{from}-{stamp}.dump"));
    // The newer pg_dump reads the older server.
    let pg_dump = [&new_bin, &old_bin]
        .iter()
        .map(|d| d.join("pg_dump"))
        .find(|p| p.is_file())
        .ok_or_else(|| Error::Unavailable("pg_dump is not installed".into()))?;
    life::dump(&pg_dump, &cluster.conn_args(), &backup)?;
    old.stop(cluster)?;

    let lock = cluster.lock()?;
    // 2. The new cluster, aside. PostgreSQL 18 turns data checksums on by
    // default, and pg_upgrade needs both clusters alike.
    let mut extra = Vec::new();
    if to >= 18 && !has_checksums(&old_bin, cluster, &runner) {
        extra.push("--no-data-checksums");
    }
    let place = build::prepare(cluster, &new_bin, &runner, &extra)?;
    if let Err(e) = alias_icu(&place, &new_bin, &runner, to).await {
        let _ = fs::remove_dir_all(&place.build);
        return Err(e);
    }

    // 3. Fill it.
    let method = if new_bin.join("pg_upgrade").is_file() {
        if let Err(e) = pg_upgrade(cluster, &place, &old_bin, &new_bin, &runner) {
            let _ = fs::remove_dir_all(&place.build);
            return Err(e);
        }
        "pg_upgrade"
    } else {
        "dump and restore"
    };

    // 4. In place, the old one kept beside it until the new one answers.
    let kept = swap_in(cluster, &place, from)?;
    drop(lock);
    let checked = async {
        if method == "dump and restore" {
            life::restore(cluster, &backup).await?;
        }
        let now = life::people(cluster).await?;
        if now != users {
            return Err(Error::Unavailable(format!(
                "the upgraded cluster holds {now} people instead of {users}"
            )));
        }
        analyze(cluster).await
    }
    .await;
    if let Err(e) = checked {
        let _ = cluster.stop();
        put_back(cluster, &kept);
        return Err(Error::Unavailable(format!(
            "the upgrade did not complete, so the PostgreSQL {from} cluster was put back: {e} (backup: {})",
            backup.display()
        )));
    }
    fs::remove_dir_all(&kept.old).map_err(|e| io_err("remove", &kept.old, e))?;
    Ok(Upgraded {
        method,
        backup: Some(backup),
        users,
        data_dir: cluster.data_dir(),
        removed: Some(kept.old),
        ..nothing(users)
    })
}

/// The old server, run with its own binaries for the backup.
struct OldServer;

impl OldServer {
    async fn start(cluster: &Cluster, bin: &Path) -> Result<OldServer> {
        if cluster.server_pid().is_none() {
            let runner = ServerUser::for_current_process()?;
            let _lock = cluster.lock()?;
            cluster.start(bin, &runner).await?;
        }
        cluster.create_database().await?;
        Ok(OldServer)
    }

    fn stop(self, cluster: &Cluster) -> Result<()> {
        cluster.stop().map(|_| ())
    }
}

/// coachctl's `email_key()` lowercases under ICU's root collation
/// ("und-x-icu") where the server has ICU. A PostgreSQL built without ICU
/// (the PyPI wheel's) lacks it, and neither pg_upgrade nor a restore could
/// rebuild the email index. On 17+ the new cluster gets a collation of that
/// name from the builtin provider (C.UTF-8: full-Unicode case mapping) in
/// every template, before any data moves in.
async fn alias_icu(place: &Placement, bin: &Path, runner: &ServerUser, to: u32) -> Result<()> {
    if to < 17 {
        return Ok(());
    }
    let data = place.build.join("data");
    let run = place.build.join("run");
    let pg_ctl = |action: &str| {
        let mut c = runner.command(bin.join("pg_ctl"));
        c.arg("-D").arg(&data).args(["-w", "-s"]);
        if action == "start" {
            c.arg("-l")
                .arg(place.build.join("postgres.log"))
                .arg("-o")
                .arg(format!(
                    "-c listen_addresses='' -c port={PORT} -c unix_socket_directories='{}'",
                    run.display()
                ));
        } else {
            c.args(["-m", "fast"]);
        }
        c.arg(action)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .output()
            .map_err(|e| Error::Unavailable(format!("cannot run pg_ctl: {e}")))
            .and_then(|o| {
                if o.status.success() {
                    Ok(())
                } else {
                    Err(Error::Unavailable(format!(
                        "the new PostgreSQL {to} cluster did not {action}: {}",
                        crate::embedded::last_line(&o.stderr)
                    )))
                }
            })
    };
    pg_ctl("start")?;
    let options = |db: &str| {
        PgConnectOptions::new()
            .socket(&run)
            .port(PORT)
            .username(DB_USER)
            .database(db)
    };
    let aliased = async {
        let mut admin = options("postgres").connect().await?;
        let has: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu')",
        )
        .fetch_one(&mut admin)
        .await?;
        if !has {
            sqlx::raw_sql("ALTER DATABASE template0 ALLOW_CONNECTIONS true")
                .execute(&mut admin)
                .await?;
            for db in ["template0", "template1", "postgres"] {
                let mut c = options(db).connect().await?;
                sqlx::raw_sql(
                    "CREATE COLLATION pg_catalog.\"und-x-icu\" (provider = builtin, locale = 'C.UTF-8')",
                )
                .execute(&mut c)
                .await?;
                c.close().await.ok();
            }
            sqlx::raw_sql("ALTER DATABASE template0 ALLOW_CONNECTIONS false")
                .execute(&mut admin)
                .await?;
        }
        admin.close().await.ok();
        Ok::<(), Error>(())
    }
    .await;
    let stopped = pg_ctl("stop");
    aliased.and(stopped)
}

/// Whether the old cluster has data checksums (pg_controldata).
fn has_checksums(old_bin: &Path, cluster: &Cluster, runner: &ServerUser) -> bool {
    let out = runner
        .command(old_bin.join("pg_controldata"))
        .arg(cluster.data_dir())
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output();
    let Ok(out) = out else { return false };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.starts_with("Data page checksum version:") && !l.trim_end().ends_with(" 0"))
}

fn pg_upgrade(
    cluster: &Cluster,
    place: &Placement,
    old_bin: &Path,
    new_bin: &Path,
    runner: &ServerUser,
) -> Result<()> {
    // pg_upgrade writes its logs into the new cluster and puts its socket in
    // the working directory: the build directory, the server user's own.
    let out = runner
        .command(new_bin.join("pg_upgrade"))
        .current_dir(&place.build)
        .arg("--old-bindir")
        .arg(old_bin)
        .arg("--new-bindir")
        .arg(new_bin)
        .arg("--old-datadir")
        .arg(cluster.data_dir())
        .arg("--new-datadir")
        .arg(place.build.join("data"))
        .arg("--socketdir")
        .arg(place.build.join("run"))
        .args(["--username", DB_USER, "--no-sync"])
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Unavailable(format!("cannot run pg_upgrade: {e}")))?;
    if !out.status.success() {
        // Its reason comes before its last words ("Failure, exiting").
        let text = [&out.stdout[..], &out.stderr[..]].concat();
        let text = String::from_utf8_lossy(&text);
        let reason = text
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty() && !l.starts_with("Failure, exiting") && !l.starts_with('"'))
            .unwrap_or("no reason given");
        return Err(Error::Unavailable(format!(
            "pg_upgrade failed, the PostgreSQL {} cluster was left as it was: {reason}",
            cluster.major().unwrap_or_default()
        )));
    }
    // It leaves a script to delete the old cluster; coachctl does that.
    let _ = fs::remove_file(place.build.join("delete_old_cluster.sh"));
    Ok(())
}

/// Where the old cluster went while the new one is tried.
struct Kept {
    /// The old cluster's directory (renamed to `.old`).
    old: PathBuf,
    /// The new cluster's directory.
    new: PathBuf,
}

fn swap_in(cluster: &Cluster, place: &Placement, from: u32) -> Result<Kept> {
    let current = cluster.server_dir();
    let old = current.with_file_name(format!(
        "{}.pg{from}.old",
        current.file_name().unwrap_or_default().to_string_lossy()
    ));
    fs::rename(&current, &old).map_err(|e| io_err("move aside", &current, e))?;
    if place.aside {
        // The symlink still names the old place: point it at the new one.
        let _ = fs::remove_file(cluster.pointer());
    }
    if let Err(e) = place.commit(cluster) {
        let _ = fs::rename(&old, &current);
        return Err(e);
    }
    Ok(Kept {
        old,
        new: cluster.server_dir(),
    })
}

fn put_back(cluster: &Cluster, kept: &Kept) {
    let _ = fs::remove_dir_all(&kept.new);
    let name = kept.old.to_string_lossy();
    let Some(original) = name.rsplit_once(".pg").map(|(head, _)| PathBuf::from(head)) else {
        return;
    };
    let _ = fs::rename(&kept.old, &original);
    if original != cluster.pointer() {
        let _ = fs::remove_file(cluster.pointer());
        let _ = std::os::unix::fs::symlink(&original, cluster.pointer());
    }
}

/// Fresh planner statistics: pg_upgrade does not carry them over (before 18).
async fn analyze(cluster: &Cluster) -> Result<()> {
    let pool = Target::Embedded(cluster.clone()).connect_raw().await?;
    sqlx::raw_sql("ANALYZE").execute(&pool).await?;
    pool.close().await;
    Ok(())
}
