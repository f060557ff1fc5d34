//! What the embedded cluster needs from the system: the server binaries,
//! the account the server runs as, and a look at running processes.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::io_err;
use crate::error::{Error, Result};

const INSTALL_HINT: &str = "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found on PATH or in /usr/lib/postgresql/*/bin; install them (Debian/Ubuntu: apt-get install postgresql; Fedora: dnf install postgresql-server; macOS: brew install postgresql) or set DATABASE_URL to an existing server";

/// The directory holding initdb, pg_ctl and postgres: `COACHCTL_PG_BINDIR`
/// when set (the only place searched then), else PATH, else the newest
/// `/usr/lib/postgresql/*/bin`.
pub fn find_binaries() -> Result<PathBuf> {
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

/// The binaries for a cluster made by PostgreSQL `major` (its
/// `PG_VERSION`): that version's own `/usr/lib/postgresql/<major>/bin`
/// first, then as [`find_binaries`]. Binaries of another major version
/// cannot run the cluster: that is one sentence saying what to run.
pub fn binaries_for(major: Option<u32>) -> Result<PathBuf> {
    let Some(major) = major else {
        return find_binaries();
    };
    if std::env::var_os("COACHCTL_PG_BINDIR").is_none_or(|d| d.is_empty())
        && let Some(own) = own_binaries(major)
    {
        return Ok(own);
    }
    let found = find_binaries()?;
    match bin_major(&found) {
        Some(v) if v > major => Err(Error::Unavailable(format!(
            "this cluster was made by PostgreSQL {major}; only {v} is installed; run `coachctl db upgrade`"
        ))),
        Some(v) if v < major => Err(Error::Unavailable(format!(
            "this cluster was made by PostgreSQL {major}; only {v} is installed; install PostgreSQL {major} or later"
        ))),
        _ => Ok(found),
    }
}

/// Binaries of exactly this major version, where the system keeps them
/// (`/usr/lib/postgresql/<major>/bin`), else on PATH; never
/// `COACHCTL_PG_BINDIR`, which names the version to use from now on.
pub fn own_binaries(major: u32) -> Option<PathBuf> {
    let own = PathBuf::from(format!("/usr/lib/postgresql/{major}/bin"));
    if has_all(&own) {
        return Some(own);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter_map(|d| fs::canonicalize(d.join("pg_ctl")).ok())
        .filter_map(|p| p.parent().map(Path::to_path_buf))
        .find(|d| has_all(d) && bin_major(d) == Some(major))
}

fn has_all(dir: &Path) -> bool {
    ["initdb", "pg_ctl", "postgres"]
        .iter()
        .all(|b| dir.join(b).is_file())
}

/// The major version of the server binaries in `dir` (`postgres --version`:
/// "postgres (PostgreSQL) 18.1").
pub fn bin_major(dir: &Path) -> Option<u32> {
    let out = Command::new(dir.join("postgres"))
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text
        .split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))?;
    let digits: String = version.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The full version of the server binaries in `dir`, e.g. "15.14".
pub fn bin_version(dir: &Path) -> Option<String> {
    let out = Command::new(dir.join("postgres"))
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_string)
}

/// The account the server runs as: ourselves, or an unprivileged user when
/// we are root; and the system user names that may connect to it.
pub(crate) struct ServerUser {
    /// `Some((uid, gid))` when we must switch to another user.
    pub switch_to: Option<(u32, u32)>,
    /// The server's system user name.
    pub name: String,
    /// Our own system user name (the one peer authentication sees).
    pub client: String,
}

impl ServerUser {
    pub fn for_current_process() -> Result<Self> {
        let me = fs::metadata("/proc/self")
            .map(|m| m.uid())
            .unwrap_or(u32::MAX);
        let client = user_name(me)?;
        if me != 0 {
            return Ok(ServerUser {
                switch_to: None,
                name: client.clone(),
                client,
            });
        }
        let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
        let find = |name: &str| {
            passwd.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 3 && f[0] == name)
                    .then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?, name.to_string())))
                    .flatten()
            })
        };
        match find("postgres").or_else(|| find("nobody")) {
            Some((uid, gid, name)) => Ok(ServerUser {
                switch_to: Some((uid, gid)),
                name,
                client,
            }),
            None => Err(Error::Unavailable(
                "PostgreSQL refuses to run as root and there is no 'postgres' or 'nobody' user to run it as; create one, run coachctl as a normal user, or set DATABASE_URL".into(),
            )),
        }
    }

    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new(program);
        if let Some((uid, gid)) = self.switch_to {
            // std drops supplementary groups when root switches uid.
            c.uid(uid).gid(gid).current_dir("/");
        }
        c
    }

    pub fn give(&self, path: &Path) -> Result<()> {
        if let Some((uid, gid)) = self.switch_to {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .map_err(|e| io_err("change the owner of", path, e))?;
        }
        Ok(())
    }

    /// Whether the server user can reach and write `dir` (always true when
    /// the server runs as ourselves).
    pub fn can_write(&self, dir: &Path) -> bool {
        if self.switch_to.is_none() {
            return true;
        }
        // Asking the system beats re-implementing its permission rules.
        self.command("test")
            .arg("-w")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            // No `test` binary: let initdb be the judge.
            .unwrap_or(true)
    }
}

/// The name of user `uid`: /etc/passwd, else `id` (which also asks NSS).
fn user_name(uid: u32) -> Result<String> {
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    let from_passwd = passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 2 && f[2].parse() == Ok(uid)).then(|| f[0].to_string())
    });
    if let Some(name) = from_passwd {
        return Ok(name);
    }
    Command::new("id")
        .args(["-nu", &uid.to_string()])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            Error::Unavailable(format!(
                "user id {uid} has no name (no entry in /etc/passwd), and PostgreSQL needs one; add one or set DATABASE_URL"
            ))
        })
}

/// Whether `pid` is a live (not zombie) PostgreSQL process.
pub(super) fn is_live_postgres(pid: u32) -> bool {
    proc_state(pid).is_some_and(|(comm, state)| comm == "postgres" && !matches!(state, 'Z' | 'X'))
}

/// Whether `pid` is a process that died but was not yet reaped. PostgreSQL
/// takes a zombie for a live server and refuses to start in its place.
pub(super) fn is_zombie(pid: u32) -> bool {
    proc_state(pid).is_some_and(|(_, state)| state == 'Z')
}

/// The command name and state letter of `pid`, from /proc/<pid>/stat.
fn proc_state(pid: u32) -> Option<(String, char)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ...": comm may hold spaces and parentheses.
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    let state = stat.get(close + 1..)?.trim_start().chars().next()?;
    Some((stat.get(open + 1..close)?.to_string(), state))
}

/// The PostgreSQL processes working in `path`: an initdb naming it on its
/// command line (one orphaned by a killed coachctl; flagged true), and
/// postgres processes whose `PGDATA` lies under it (that initdb's children).
pub(super) fn initdb_in(path: &Path) -> Vec<(u32, bool)> {
    let needle = path.as_os_str().as_bytes();
    let mut pgdata = b"PGDATA=".to_vec();
    pgdata.extend_from_slice(needle);
    let contains = |hay: &[u8], n: &[u8]| !n.is_empty() && hay.windows(n.len()).any(|w| w == n);
    let Ok(procs) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    procs
        .flatten()
        .filter_map(|p| {
            let pid: u32 = p.file_name().to_str()?.parse().ok()?;
            let (comm, state) = proc_state(pid)?;
            if matches!(state, 'Z' | 'X') {
                return None;
            }
            match comm.as_str() {
                "initdb" => contains(&fs::read(p.path().join("cmdline")).ok()?, needle)
                    .then_some((pid, true)),
                // Unreadable for processes we may not inspect: not ours then.
                "postgres" => contains(&fs::read(p.path().join("environ")).ok()?, &pgdata)
                    .then_some((pid, false)),
                _ => None,
            }
        })
        .collect()
}

/// Send SIGKILL to `pid` (through kill(1): this crate has no unsafe code).
pub(super) fn kill(pid: u32) {
    signal(pid, "KILL");
}

/// Send a signal by name to `pid` (through kill(1)).
pub(super) fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .args(["-s", name, &pid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}
