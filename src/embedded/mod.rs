//! The embedded default: a private PostgreSQL cluster for `COACHCTL_HOME`,
//! reachable only through a unix socket, by its owner only.
//!
//! Layout of `COACHCTL_HOME`:
//!
//! ```text
//! lock                 taken while the cluster is created or started
//! server/              the server's files (as root: a symlink, see below)
//!   data/              the cluster (initdb)
//!   run/               the socket directory
//!   postgres.log       the server's log
//! ```
//!
//! PostgreSQL refuses to run as root. Run as root, coachctl runs the server
//! as the `postgres` user (else `nobody`) and keeps its files in a directory
//! it creates for it under [`ROOT_SERVER_BASE`], owned by that user with mode
//! 0700; `server` is then a symlink to it. No directory coachctl did not
//! create ever has its mode changed.
//!
//! Safety does not depend on the state of the directory: the cluster is
//! built aside and moved into place only when complete ([`build`]), its
//! `pg_hba.conf` admits only its owner over the socket (peer), and the server
//! is always started with `listen_addresses=''` on its command line.

pub(crate) mod build;
pub(crate) mod system;

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;

use crate::error::{Error, Result};
use system::ServerUser;
pub use system::{bin_major, bin_version, binaries_for, find_binaries};

/// The superuser name the embedded cluster is created with.
pub const DB_USER: &str = "coachctl";
/// The database coachctl keeps its data in.
pub const DB_NAME: &str = "coachctl";
/// Where coachctl, run as root, creates the directories its server user
/// owns: reachable by that user on any usual system without loosening
/// anything, and kept across reboots (unlike /tmp).
pub const ROOT_SERVER_BASE: &str = "/var/lib/coachctl";
/// The server's port: only names the socket file (`.s.PGSQL.5432`); pinned
/// so that a `PGPORT` in the environment cannot move it.
pub(crate) const PORT: u16 = 5432;
/// How long a starting server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct Cluster {
    home: PathBuf,
    verbose: bool,
}

/// Facts for `db status`; gathering them never starts anything.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClusterStatus {
    pub home: PathBuf,
    /// Where the server's files live (outside `home` when run as root).
    pub server_dir: PathBuf,
    pub data_dir: PathBuf,
    pub socket_dir: PathBuf,
    pub log_file: PathBuf,
    pub initialized: bool,
    pub running: bool,
}

impl Cluster {
    /// The cluster at `COACHCTL_HOME`, else `$XDG_DATA_HOME/coachctl`, else
    /// `~/.local/share/coachctl`.
    pub fn from_env() -> Result<Self> {
        if let Some(h) = std::env::var_os("COACHCTL_HOME").filter(|h| !h.is_empty()) {
            return Ok(Cluster::at(absolute(PathBuf::from(h))?));
        }
        if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|h| !h.is_empty()) {
            return Ok(Cluster::at(PathBuf::from(x).join("coachctl")));
        }
        match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            Some(home) => Ok(Cluster::at(
                PathBuf::from(home).join(".local/share/coachctl"),
            )),
            None => Err(Error::invalid(
                "cannot tell where to keep the embedded database: set COACHCTL_HOME or HOME",
            )),
        }
    }

    pub fn at(home: PathBuf) -> Self {
        Cluster {
            home,
            verbose: false,
        }
    }

    /// Say on stderr when the server is created, started or restarted.
    pub fn verbose(mut self, on: bool) -> Self {
        self.verbose = on;
        self
    }

    pub fn home(&self) -> &Path {
        &self.home
    }
    /// `COACHCTL_HOME/server`: the server directory, or a symlink to it.
    pub(crate) fn pointer(&self) -> PathBuf {
        self.home.join("server")
    }
    /// The directory holding the server's files, wherever it lives.
    pub fn server_dir(&self) -> PathBuf {
        match fs::read_link(self.pointer()) {
            Ok(target) => self.home.join(target),
            Err(_) => self.pointer(),
        }
    }
    pub fn data_dir(&self) -> PathBuf {
        self.server_dir().join("data")
    }
    pub fn socket_dir(&self) -> PathBuf {
        self.server_dir().join("run")
    }
    fn log_file(&self) -> PathBuf {
        self.server_dir().join("postgres.log")
    }
    fn socket_file(&self) -> PathBuf {
        self.socket_dir().join(format!(".s.PGSQL.{PORT}"))
    }

    /// The major version of PostgreSQL that made the cluster (its
    /// `PG_VERSION`), when there is one.
    pub fn major(&self) -> Option<u32> {
        fs::read_to_string(self.data_dir().join("PG_VERSION"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// The server binaries that can run this cluster (see [`binaries_for`]).
    pub fn binaries(&self) -> Result<PathBuf> {
        binaries_for(self.major())
    }

    /// A complete cluster is in place (half-made ones never are).
    pub fn is_initialized(&self) -> bool {
        build::is_complete(&self.server_dir())
    }

    /// Half-made clusters left by interrupted creations of this home; the
    /// next creation removes them, and nothing ever starts them.
    pub fn leftovers(&self) -> Vec<PathBuf> {
        build::leftovers(self)
    }

    /// The postmaster's pid when one runs on this cluster, read from its
    /// pid file without connecting (a stale file after a crash names a
    /// process that is gone).
    pub fn server_pid(&self) -> Option<u32> {
        let pid = self.pid_in_file()?;
        system::is_live_postgres(pid).then_some(pid)
    }

    fn pid_in_file(&self) -> Option<u32> {
        let text = fs::read_to_string(self.data_dir().join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    /// Options to connect to `database` in this cluster.
    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(self.socket_dir())
            .port(PORT)
            .username(DB_USER)
            .database(database)
            // its own socket: no TLS to ask about (see db::no_tls_over_a_socket)
            .ssl_mode(sqlx::postgres::PgSslMode::Disable)
            .disable_statement_logging()
    }

    /// A URL for `database` in this cluster, for tools and child processes.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{DB_USER}@localhost:{PORT}/{database}?host={}",
            self.socket_dir().display()
        )
    }

    /// Make sure the cluster exists, runs and holds coachctl's database.
    /// Fast path: one connect attempt. Only when that fails is the lock
    /// taken, so concurrent first commands do not both create or start it.
    pub async fn ensure_running(&self) -> Result<()> {
        if self.socket_file().exists() && self.can_connect("postgres").await {
            // Running: make sure coachctl's database is there too.
            return self.create_database().await;
        }
        let bin = self.binaries()?;
        fs::create_dir_all(&self.home).map_err(|e| {
            Error::Unavailable(format!(
                "cannot create the coachctl home {}: {e}",
                self.home.display()
            ))
        })?;
        let lock = self.lock()?;
        let outcome = self.ensure_running_locked(&bin).await;
        drop(lock);
        outcome
    }

    async fn ensure_running_locked(&self, bin: &Path) -> Result<()> {
        let runner = ServerUser::for_current_process()?;
        let created = !self.is_initialized();
        if created {
            build::create(self, bin, &runner)?;
        }
        if !self.can_connect("postgres").await {
            // A pid file left behind: the server did not shut down cleanly (it
            // crashed or was killed; one killed a moment ago may not have
            // exited yet, so its process is not asked).
            let crashed = !created && self.pid_in_file().is_some();
            if self.start(bin, &runner).await? {
                self.note(&if created {
                    format!(
                        "created the embedded database in {}",
                        self.server_dir().display()
                    )
                } else if crashed {
                    "the embedded database was not running (it had stopped without shutting down); restarted it".to_string()
                } else {
                    "started the embedded database".to_string()
                });
            }
        }
        self.create_database().await
    }

    fn note(&self, message: &str) {
        if self.verbose {
            eprintln!("coachctl: {message}");
        }
    }

    pub(crate) fn lock(&self) -> Result<File> {
        let path = self.home.join("lock");
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::Unavailable(format!("cannot open {}: {e}", path.display())))?;
        f.lock()
            .map_err(|e| Error::Unavailable(format!("cannot lock {}: {e}", path.display())))?;
        Ok(f)
    }

    async fn can_connect(&self, database: &str) -> bool {
        self.connect_options(database).connect().await.is_ok()
    }

    /// Start the server, or wait for one that is starting (e.g. launched by
    /// a command that was killed meanwhile). True when this call started it.
    pub(crate) async fn start(&self, bin: &Path, runner: &ServerUser) -> Result<bool> {
        build::secure_legacy_auth(&self.data_dir(), runner)?;
        let deadline = Instant::now() + START_TIMEOUT;
        let mut last_error = None;
        let mut failures = 0;
        loop {
            if let Some(pid) = self.pid_in_file() {
                // A killed server's pid lingers until its parent reaps it.
                while system::is_zombie(pid) && Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            if self.server_pid().is_none() {
                match self.pg_ctl_start(bin, runner) {
                    Ok(()) => return Ok(true),
                    // Usually the processes of a killed server still hold
                    // its shared memory for a moment: try again, a few times.
                    Err(e) if failures >= 5 => return Err(e),
                    Err(e) => {
                        failures += 1;
                        last_error = Some(e);
                    }
                }
            }
            match self.connect_options("postgres").connect().await {
                Ok(_) => return Ok(false),
                // Starting up, or briefly full: wait.
                Err(sqlx::Error::Database(e))
                    if !matches!(e.code().as_deref(), Some("57P03" | "53300")) =>
                {
                    return Err(refused(&*e));
                }
                Err(_) => {}
            }
            if Instant::now() >= deadline {
                return Err(last_error.unwrap_or_else(|| {
                    Error::Unavailable(format!(
                        "the embedded PostgreSQL server did not accept connections within {} s (log: {})",
                        START_TIMEOUT.as_secs(),
                        self.log_file().display()
                    ))
                }));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn pg_ctl_start(&self, bin: &Path, runner: &ServerUser) -> Result<()> {
        // The safety settings go on the command line, where no file in the
        // data directory can override them.
        let mut options = format!(
            "-c listen_addresses='' -c port={PORT} -c unix_socket_permissions=0700 -c {}",
            shell_quote(&format!(
                "unix_socket_directories=\"{}\"",
                self.socket_dir().display().to_string().replace('"', "\"\"")
            ))
        );
        // After a crash the server first syncs its data directory: one
        // syncfs instead of an fsync per file (PostgreSQL 14+) takes that
        // from seconds to a moment.
        let version = fs::read_to_string(self.data_dir().join("PG_VERSION")).unwrap_or_default();
        if version.trim().parse::<u32>().is_ok_and(|v| v >= 14) {
            options.push_str(" -c recovery_init_sync_method=syncfs");
        }
        let out = runner
            .command(bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_file())
            .arg("-o")
            .arg(options)
            .args(["-w", "-t"])
            .arg(START_TIMEOUT.as_secs().to_string())
            .args(["-s", "start"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .output()
            .map_err(|e| Error::Unavailable(format!("cannot run pg_ctl: {e}")))?;
        if !out.status.success() {
            let log = fs::read(self.log_file()).unwrap_or_default();
            return Err(Error::Unavailable(format!(
                "the embedded PostgreSQL server did not start: {} (log: {})",
                last_line(if log.is_empty() { &out.stderr } else { &log }),
                self.log_file().display()
            )));
        }
        Ok(())
    }

    pub(crate) async fn create_database(&self) -> Result<()> {
        let mut conn = self.connect_options("postgres").connect().await?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(DB_NAME)
                .fetch_one(&mut conn)
                .await?;
        if !exists {
            match sqlx::raw_sql("CREATE DATABASE coachctl")
                .execute(&mut conn)
                .await
            {
                // Another coachctl created it a moment ago (or a killed one
                // whose statement ran on): that is the goal. A creation
                // committing meanwhile surfaces as a unique violation.
                Err(sqlx::Error::Database(e))
                    if matches!(e.code().as_deref(), Some("42P04" | "23505")) => {}
                other => {
                    other?;
                }
            }
        }
        Ok(())
    }

    /// Stop the server if it runs. Idempotent.
    pub fn stop(&self) -> Result<bool> {
        if self.server_pid().is_none() {
            return Ok(false);
        }
        let bin = match self.binaries() {
            Ok(bin) => bin,
            // Only another version installed: pg_ctl would refuse, but a
            // running server still stops on SIGINT (a fast shutdown).
            Err(e) => return self.interrupt().map_err(|_| e),
        };
        let runner = ServerUser::for_current_process()?;
        let out = runner
            .command(bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.data_dir())
            .args(["-w", "-t", "60", "-s", "-m", "fast", "stop"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::Unavailable(format!("cannot run pg_ctl: {e}")))?;
        if !out.status.success() {
            // It went away on its own meanwhile: stopped all the same.
            if self.server_pid().is_none() {
                return Ok(true);
            }
            return Err(Error::Unavailable(format!(
                "the embedded PostgreSQL server did not stop: {}",
                last_line(&out.stderr)
            )));
        }
        Ok(true)
    }

    /// A fast shutdown by signal, waiting up to a minute for the server to go.
    fn interrupt(&self) -> Result<bool> {
        let Some(pid) = self.server_pid() else {
            return Ok(false);
        };
        system::signal(pid, "INT");
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.server_pid().is_some() {
            if Instant::now() >= deadline {
                return Err(Error::Unavailable(format!(
                    "the embedded PostgreSQL server (pid {pid}) did not stop within 60 s"
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(true)
    }

    /// Where everything lives and whether the server runs; starts nothing.
    pub async fn status(&self) -> ClusterStatus {
        let running = self.server_pid().is_some()
            && self.socket_file().exists()
            && self.can_connect("postgres").await;
        ClusterStatus {
            home: self.home.clone(),
            server_dir: self.server_dir(),
            data_dir: self.data_dir(),
            socket_dir: self.socket_dir(),
            log_file: self.log_file(),
            initialized: self.is_initialized(),
            running,
        }
    }
}

/// A running server that turned coachctl away, in one sentence.
fn refused(e: &dyn sqlx::error::DatabaseError) -> Error {
    let why = if e.code().is_some_and(|c| c.starts_with("28")) {
        " (only the system user that created it may connect)"
    } else {
        ""
    };
    Error::Unavailable(format!(
        "the embedded database refused the connection: {}{why}",
        e.message()
    ))
}

/// 64-bit FNV-1a: a stable short name for a path.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

/// Quote for the shell that pg_ctl hands `-o` to.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn absolute(p: PathBuf) -> Result<PathBuf> {
    if p.is_absolute() {
        return Ok(p);
    }
    std::env::current_dir()
        .map(|d| d.join(p))
        .map_err(|e| Error::invalid(format!("cannot resolve COACHCTL_HOME: {e}")))
}

pub(crate) fn io_err(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::Unavailable(format!("cannot {what} {}: {e}", path.display()))
}

pub(crate) fn last_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no output")
        .trim()
        .to_string()
}
