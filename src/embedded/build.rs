//! Creating the cluster: built aside, under a name nothing starts, and moved
//! into place by one rename only when complete, configuration included. An
//! interrupted creation (a signal, a crash, power loss) thus leaves either
//! nothing usable or a complete cluster; its leftovers are removed by the
//! next creation.
//!
//! As a normal user the cluster is built in `COACHCTL_HOME/server.<tag>.new`
//! and renamed to `server`. As root it is built in
//! `ROOT_SERVER_BASE/<home key>-<tag>.new`; the `server` symlink is pointed
//! at the final name first (dangling, so still not a cluster) and the build
//! is then renamed to that name.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::system::{self, ServerUser};
use super::{Cluster, DB_USER, PORT, ROOT_SERVER_BASE, fnv, io_err, last_line};
use crate::error::{Error, Result};

/// Marks the configuration coachctl appends: a cluster without it is
/// half-made (an older coachctl appended it last, non-atomically).
const CONF_MARKER: &str = "# coachctl:";
const CONF: &str = "
# coachctl: socket only (the server's command line repeats these settings)
listen_addresses = ''
unix_socket_permissions = 0700
max_connections = 300
";
const HBA_MARKER: &str = "# coachctl: only the owner";
const HBA: &str = "# coachctl: only the owner may connect: over the unix socket, as one of the
# system users in pg_ident.conf (peer authentication). TCP is refused.
local   all   all         peer   map=coachctl
host    all   all   all   reject
";

/// Whether `server` holds a complete cluster.
pub(super) fn is_complete(server: &Path) -> bool {
    let data = server.join("data");
    data.join("PG_VERSION").is_file()
        && fs::read_to_string(data.join("postgresql.conf")).is_ok_and(|c| c.contains(CONF_MARKER))
}

/// Create the cluster of `cluster`, which is not complete. Called under
/// the home's lock.
pub(super) fn create(cluster: &Cluster, bin: &Path, runner: &ServerUser) -> Result<()> {
    clear_pointer(cluster)?;
    remove_leftovers(cluster);
    prepare(cluster, bin, runner, &[])?.commit(cluster)
}

/// Build a complete cluster aside, under a name nothing starts, and leave
/// it there for the caller to [`Placement::commit`] (an upgrade first fills
/// it). `initdb_extra` goes to initdb.
pub(crate) fn prepare(
    cluster: &Cluster,
    bin: &Path,
    runner: &ServerUser,
    initdb_extra: &[&str],
) -> Result<Placement> {
    let place = Placement::new(cluster, runner)?;
    // sun_path holds 107 bytes; a longer socket path cannot be bound.
    let socket = place.done.join("run").join(format!(".s.PGSQL.{PORT}"));
    if socket.as_os_str().len() > 107 {
        return Err(Error::invalid(format!(
            "COACHCTL_HOME {} is too long a path for a PostgreSQL socket; choose a shorter one",
            cluster.home().display()
        )));
    }
    make_dir(&place.build, runner)?;
    if !runner.can_write(&place.build) {
        return Err(Error::Unavailable(format!(
            "the server user {} cannot reach {}, and coachctl does not loosen the permissions of directories it did not create; make it reachable or run coachctl as a normal user",
            runner.name,
            place.build.display()
        )));
    }
    let data = place.build.join("data");
    let out = runner
        .command(bin.join("initdb"))
        .arg("-D")
        .arg(&data)
        .args(["-U", DB_USER, "--auth-local=peer", "--auth-host=reject"])
        .args(["-E", "UTF8", "--no-locale"])
        .args(initdb_extra)
        // Synced below, at once rather than file by file.
        .arg("--no-sync")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Unavailable(format!("cannot run initdb: {e}")))?;
    if !out.status.success() {
        return Err(Error::Unavailable(format!(
            "initdb failed: {}",
            last_line(&out.stderr)
        )));
    }
    let conf = data.join("postgresql.conf");
    let mut text = fs::read_to_string(&conf).map_err(|e| io_err("read", &conf, e))?;
    text.push_str(CONF);
    write_file(&conf, &text, runner)?;
    write_auth(&data, runner)?;
    make_dir(&place.build.join("run"), runner)?;
    sync_tree(&place.build)?;
    Ok(place)
}

/// Make the whole build durable before it is moved into place: one
/// syncfs(2) through `sync -f` when there is one, else an fsync per file
/// and directory (what initdb would do).
fn sync_tree(root: &Path) -> Result<()> {
    let synced = std::process::Command::new("sync")
        .arg("-f")
        .arg(root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if synced {
        return Ok(());
    }
    fn walk(path: &Path) -> std::io::Result<()> {
        if fs::symlink_metadata(path)?.is_dir() {
            for entry in fs::read_dir(path)? {
                walk(&entry?.path())?;
            }
        }
        fs::File::open(path)?.sync_all()
    }
    walk(root).map_err(|e| io_err("sync", root, e))
}

/// Give a cluster made by an older coachctl (which trusted every local
/// user) the owner-only authentication before it starts again.
pub(super) fn secure_legacy_auth(data: &Path, runner: &ServerUser) -> Result<()> {
    match fs::read_to_string(data.join("pg_hba.conf")) {
        Ok(hba) if !hba.contains(HBA_MARKER) => write_auth(data, runner),
        _ => Ok(()),
    }
}

fn write_auth(data: &Path, runner: &ServerUser) -> Result<()> {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut ident = String::from(
        "# coachctl: the system users that may connect, each as the database superuser\n",
    );
    let mut users = vec![runner.client.as_str(), runner.name.as_str()];
    users.dedup();
    for user in users {
        ident.push_str(&format!(
            "coachctl   {}   {}\n",
            quote(user),
            quote(DB_USER)
        ));
    }
    write_file(&data.join("pg_ident.conf"), &ident, runner)?;
    write_file(&data.join("pg_hba.conf"), HBA, runner)
}

/// The half-made clusters of this home (`.new`) and pointer temporaries
/// (`.link`) left by interrupted creations.
pub(super) fn leftovers(cluster: &Cluster) -> Vec<PathBuf> {
    let entries = |dir: &Path, keep: &dyn Fn(&str) -> bool| -> Vec<PathBuf> {
        fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_str().is_some_and(keep))
            .map(|e| e.path())
            .collect()
    };
    let mut found = entries(cluster.home(), &|n| {
        n.starts_with("server.") && (n.ends_with(".new") || n.ends_with(".link"))
    });
    let prefix = format!("{}-", home_key(cluster));
    found.extend(entries(Path::new(ROOT_SERVER_BASE), &|n| {
        n.starts_with(&prefix) && n.ends_with(".new")
    }));
    found
}

/// Remove the leftovers of interrupted creations. Under the home's lock, a
/// process still writing to one is an initdb orphaned by a killed coachctl
/// or one of its bootstrap postgres children: their work is lost anyway,
/// so all of them are stopped (a bootstrap child left to finish on its own
/// can take longer than the wait below on a loaded machine). Should one
/// not go away, its directory is left for next time; nothing ever starts
/// it.
fn remove_leftovers(cluster: &Cluster) {
    for path in leftovers(cluster) {
        for (pid, _initdb) in system::initdb_in(&path) {
            system::kill(pid);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while !system::initdb_in(&path).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if !system::initdb_in(&path).is_empty() {
            continue;
        }
        let _ = match fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => fs::remove_dir_all(&path),
            _ => fs::remove_file(&path),
        };
    }
}

/// Remove what `COACHCTL_HOME/server` holds when it is not a complete
/// cluster: a dangling symlink, or a half-made cluster of an older
/// coachctl (stopped first, should it have been started).
fn clear_pointer(cluster: &Cluster) -> Result<()> {
    let pointer = cluster.pointer();
    let Ok(meta) = fs::symlink_metadata(&pointer) else {
        return Ok(());
    };
    if meta.is_dir() {
        cluster.stop()?;
        fs::remove_dir_all(&pointer).map_err(|e| io_err("remove", &pointer, e))
    } else {
        fs::remove_file(&pointer).map_err(|e| io_err("remove", &pointer, e))
    }
}

/// A short stable name for the home, so that its leftovers can be found.
pub(crate) fn home_key(cluster: &Cluster) -> String {
    format!("{:016x}", fnv(cluster.home().as_os_str().as_bytes()))
}

/// Where one creation builds the cluster and where it moves it.
pub(crate) struct Placement {
    pub(crate) build: PathBuf,
    pub(crate) done: PathBuf,
    /// The cluster lives outside the home, behind the `server` symlink.
    pub(crate) aside: bool,
    tag: String,
}

impl Placement {
    fn new(cluster: &Cluster, runner: &ServerUser) -> Result<Self> {
        // A fresh name per attempt: never one an orphaned initdb writes to.
        let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
        if runner.switch_to.is_none() {
            return Ok(Placement {
                build: cluster.home().join(format!("server.{tag}.new")),
                done: cluster.pointer(),
                aside: false,
                tag,
            });
        }
        let base = root_base()?;
        let id = format!("{}-{tag}", home_key(cluster));
        Ok(Placement {
            build: base.join(format!("{id}.new")),
            done: base.join(id),
            aside: true,
            tag,
        })
    }

    pub(crate) fn commit(&self, cluster: &Cluster) -> Result<()> {
        let rename = |from: &Path, to: &Path| {
            fs::rename(from, to).map_err(|e| {
                Error::Unavailable(format!(
                    "cannot move {} to {}: {e}",
                    from.display(),
                    to.display()
                ))
            })
        };
        if self.aside {
            let link = cluster.home().join(format!("server.{}.link", self.tag));
            std::os::unix::fs::symlink(&self.done, &link)
                .map_err(|e| io_err("create the symlink", &link, e))?;
            rename(&link, &cluster.pointer())?;
            sync_dir(cluster.home());
        }
        rename(&self.build, &self.done)?;
        if let Some(parent) = self.done.parent() {
            sync_dir(parent);
        }
        Ok(())
    }
}

/// `ROOT_SERVER_BASE`, created (0711: passable, not listable) if missing.
/// An existing one must be a directory only root can write, or anyone
/// could plant a cluster there.
fn root_base() -> Result<PathBuf> {
    let base = PathBuf::from(ROOT_SERVER_BASE);
    if fs::symlink_metadata(&base).is_err() {
        match DirBuilder::new().mode(0o711).create(&base) {
            // Ours: the umask must not make it impassable.
            Ok(()) => fs::set_permissions(&base, fs::Permissions::from_mode(0o711))
                .map_err(|e| io_err("set permissions on", &base, e))?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_err("create", &base, e)),
        }
    }
    let meta = fs::symlink_metadata(&base).map_err(|e| io_err("read", &base, e))?;
    if !meta.is_dir() || meta.uid() != 0 || meta.mode() & 0o022 != 0 {
        return Err(Error::Unavailable(format!(
            "{} must be a directory that only root can write (it is not), since coachctl keeps the servers it runs for root there",
            base.display()
        )));
    }
    Ok(base)
}

/// A directory of our own, mode 0700, owned by the server user.
fn make_dir(path: &Path, runner: &ServerUser) -> Result<()> {
    DirBuilder::new()
        .mode(0o700)
        .create(path)
        .map_err(|e| io_err("create", path, e))?;
    runner.give(path)
}

/// Replace `path` by `text` atomically, durably, owned by the server user.
fn write_file(path: &Path, text: &str, runner: &ServerUser) -> Result<()> {
    let tmp = path.with_extension("coachctl-tmp");
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| io_err("create", &tmp, e))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| io_err("write", &tmp, e))?;
    runner.give(&tmp)?;
    fs::rename(&tmp, path).map_err(|e| io_err("replace", path, e))
}

/// Make renames in `dir` durable. Best effort: some file systems refuse to
/// sync a directory, and the rename itself is atomic regardless.
fn sync_dir(dir: &Path) {
    let _ = fs::File::open(dir).and_then(|d| d.sync_all());
}
