//! The embedded default: a private PostgreSQL cluster under `COACHCTL_HOME`,
//! reachable only through a unix socket in that directory.
//!
//! Layout of `COACHCTL_HOME`:
//!
//! ```text
//! lock                 taken while the cluster is created or started
//! server/              owned by the user the server runs as
//!   data/              the cluster (initdb)
//!   run/               the socket directory
//!   postgres.log       the server's log
//! ```
//!
//! PostgreSQL refuses to run as root. When coachctl runs as root, the server
//! runs as the `postgres` user if there is one, else `nobody`; that user must
//! be able to reach `server/`, so coachctl grants search (x, not read) on the
//! directories above it that would stop it.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;

use crate::error::{Error, Result};

/// The superuser name the embedded cluster is created with.
pub const DB_USER: &str = "coachctl";
/// The database coachctl keeps its data in.
pub const DB_NAME: &str = "coachctl";

const INSTALL_HINT: &str = "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found on PATH or in /usr/lib/postgresql/*/bin; install them (Debian/Ubuntu: apt-get install postgresql; Fedora: dnf install postgresql-server; macOS: brew install postgresql) or set DATABASE_URL to an existing server";

#[derive(Debug, Clone)]
pub struct Cluster {
    home: PathBuf,
}

/// Facts for `db status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClusterStatus {
    pub home: PathBuf,
    pub data_dir: PathBuf,
    pub socket_dir: PathBuf,
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
        Cluster { home }
    }

    pub fn home(&self) -> &Path {
        &self.home
    }
    fn server_dir(&self) -> PathBuf {
        self.home.join("server")
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
        self.socket_dir().join(".s.PGSQL.5432")
    }

    pub fn is_initialized(&self) -> bool {
        self.data_dir().join("PG_VERSION").exists()
    }

    /// Options to connect to `database` in this cluster.
    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(self.socket_dir())
            .username(DB_USER)
            .database(database)
            .disable_statement_logging()
    }

    /// A URL for `database` in this cluster, for tools and child processes.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{DB_USER}@localhost/{database}?host={}",
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
        // sun_path holds 107 bytes; a longer socket path cannot be bound.
        if self.socket_file().as_os_str().len() > 100 {
            return Err(Error::invalid(format!(
                "COACHCTL_HOME {} is too long a path for a PostgreSQL socket; choose a shorter one",
                self.home.display()
            )));
        }
        let bin = find_binaries()?;
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
        if !self.is_initialized() {
            self.init(bin, &runner)?;
        }
        if !self.can_connect("postgres").await {
            self.start(bin, &runner)?;
        }
        self.create_database().await
    }

    fn lock(&self) -> Result<File> {
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

    fn init(&self, bin: &Path, runner: &ServerUser) -> Result<()> {
        let server = self.server_dir();
        // A half-made cluster from an interrupted init is removed and redone.
        if server.exists() {
            fs::remove_dir_all(&server).map_err(|e| io_err("remove", &server, e))?;
        }
        for dir in [server.clone(), self.data_dir(), self.socket_dir()] {
            fs::create_dir_all(&dir).map_err(|e| io_err("create", &dir, e))?;
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
                .map_err(|e| io_err("set permissions on", &dir, e))?;
            runner.give(&dir)?;
        }
        runner.make_reachable(&server)?;
        let out = runner
            .command(bin.join("initdb"))
            .arg("-D")
            .arg(self.data_dir())
            .args(["-U", DB_USER, "--auth=trust", "-E", "UTF8", "--no-locale"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::Unavailable(format!("cannot run initdb: {e}")))?;
        if !out.status.success() {
            return Err(Error::Unavailable(format!(
                "initdb failed: {}",
                last_line(&out.stderr)
            )));
        }
        // Socket only: no TCP listener at all, so nothing outside this
        // directory can reach the server.
        let conf = format!(
            "\n# coachctl: socket only, inside COACHCTL_HOME\nlisten_addresses = ''\nunix_socket_directories = '{}'\nunix_socket_permissions = 0700\nmax_connections = 200\n",
            self.socket_dir().display()
        );
        let conf_path = self.data_dir().join("postgresql.conf");
        let mut existing =
            fs::read_to_string(&conf_path).map_err(|e| io_err("read", &conf_path, e))?;
        existing.push_str(&conf);
        fs::write(&conf_path, existing).map_err(|e| io_err("write", &conf_path, e))?;
        Ok(())
    }

    fn start(&self, bin: &Path, runner: &ServerUser) -> Result<()> {
        runner.make_reachable(&self.server_dir())?;
        let out = runner
            .command(bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_file())
            .args(["-w", "-t", "60", "-s", "start"])
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

    async fn create_database(&self) -> Result<()> {
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
                // Another coachctl created it a moment ago: that is the goal.
                Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
                other => {
                    other?;
                }
            }
        }
        Ok(())
    }

    /// Stop the server if it runs. Idempotent.
    pub fn stop(&self) -> Result<bool> {
        if !self.is_initialized() {
            return Ok(false);
        }
        let bin = find_binaries()?;
        let runner = ServerUser::for_current_process()?;
        let status = runner
            .command(bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.data_dir())
            .arg("status")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| Error::Unavailable(format!("cannot run pg_ctl: {e}")))?;
        if !status.success() {
            return Ok(false);
        }
        let out = runner
            .command(bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.data_dir())
            .args(["-w", "-t", "60", "-s", "-m", "fast", "stop"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::Unavailable(format!("cannot run pg_ctl: {e}")))?;
        if !out.status.success() {
            return Err(Error::Unavailable(format!(
                "the embedded PostgreSQL server did not stop: {}",
                last_line(&out.stderr)
            )));
        }
        Ok(true)
    }

    pub async fn status(&self) -> ClusterStatus {
        ClusterStatus {
            home: self.home.clone(),
            data_dir: self.data_dir(),
            socket_dir: self.socket_dir(),
            initialized: self.is_initialized(),
            running: self.socket_file().exists() && self.can_connect("postgres").await,
        }
    }
}

/// The directory holding initdb, pg_ctl and postgres: `COACHCTL_PG_BINDIR`
/// when set (the only place searched then), else PATH, else the newest
/// `/usr/lib/postgresql/*/bin`.
pub fn find_binaries() -> Result<PathBuf> {
    let has_all = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|b| dir.join(b).is_file())
    };
    if let Some(dir) = std::env::var_os("COACHCTL_PG_BINDIR").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return if has_all(&dir) {
            Ok(dir)
        } else {
            Err(Error::Unavailable(format!(
                "COACHCTL_PG_BINDIR ({}) does not hold initdb, pg_ctl and postgres. {INSTALL_HINT}",
                dir.display()
            )))
        };
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("pg_ctl").is_file() {
                // PATH may hold symlinks into the real bin directory.
                let real = fs::canonicalize(dir.join("pg_ctl"))
                    .ok()
                    .and_then(|p| p.parent().map(Path::to_path_buf));
                if let Some(real) = real.filter(|d| has_all(d)) {
                    return Ok(real);
                }
                if has_all(&dir) {
                    return Ok(dir);
                }
            }
        }
    }
    let mut candidates: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            has_all(&bin).then_some((v, bin))
        })
        .collect();
    candidates.sort();
    candidates
        .pop()
        .map(|(_, p)| p)
        .ok_or_else(|| Error::Unavailable(INSTALL_HINT.into()))
}

/// The account the server runs as: ourselves, or an unprivileged user when
/// we are root.
struct ServerUser {
    /// `Some((uid, gid))` when we must switch to another user.
    switch_to: Option<(u32, u32)>,
}

impl ServerUser {
    fn for_current_process() -> Result<Self> {
        let me = fs::metadata("/proc/self")
            .map(|m| m.uid())
            .unwrap_or(u32::MAX);
        if me != 0 {
            return Ok(ServerUser { switch_to: None });
        }
        let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
        let find = |name: &str| {
            passwd.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 3 && f[0] == name)
                    .then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
                    .flatten()
            })
        };
        match find("postgres").or_else(|| find("nobody")) {
            Some(ids) => Ok(ServerUser {
                switch_to: Some(ids),
            }),
            None => Err(Error::Unavailable(
                "PostgreSQL refuses to run as root and there is no 'postgres' or 'nobody' user to run it as; create one, run coachctl as a normal user, or set DATABASE_URL".into(),
            )),
        }
    }

    fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new(program);
        if let Some((uid, gid)) = self.switch_to {
            // std drops supplementary groups when root switches uid.
            c.uid(uid).gid(gid).current_dir("/");
        }
        c
    }

    fn give(&self, path: &Path) -> Result<()> {
        if let Some((uid, gid)) = self.switch_to {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .map_err(|e| io_err("change the owner of", path, e))?;
        }
        Ok(())
    }

    /// Grant search permission on the directories above `dir` that would
    /// keep the server user out (e.g. a 0700 home or mktemp directory).
    fn make_reachable(&self, dir: &Path) -> Result<()> {
        let Some((uid, _)) = self.switch_to else {
            return Ok(());
        };
        for anc in dir.ancestors().skip(1) {
            let Ok(meta) = fs::metadata(anc) else {
                continue;
            };
            if meta.uid() == uid || meta.mode() & 0o001 != 0 {
                continue;
            }
            let mode = meta.mode() | 0o001;
            fs::set_permissions(anc, fs::Permissions::from_mode(mode & 0o7777))
                .map_err(|e| io_err("grant search permission on", anc, e))?;
        }
        Ok(())
    }
}

fn absolute(p: PathBuf) -> Result<PathBuf> {
    if p.is_absolute() {
        return Ok(p);
    }
    std::env::current_dir()
        .map(|d| d.join(p))
        .map_err(|e| Error::invalid(format!("cannot resolve COACHCTL_HOME: {e}")))
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::Unavailable(format!("cannot {what} {}: {e}", path.display()))
}

fn last_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no output")
        .trim()
        .to_string()
}
