//! The embedded default: a fresh COACHCTL_HOME, concurrent first use, status,
//! stop; a missing PostgreSQL; a schema behind the binary.

mod common;

use std::collections::HashSet;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use coachctl::embedded::{Cluster, ROOT_SERVER_BASE};
use common::Run;

fn coachctl(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_coachctl"));
    c.env("COACHCTL_HOME", home)
        .env_remove("DATABASE_URL")
        .env_remove("COACHCTL_AS")
        .env_remove("COACHCTL_OUTPUT");
    c
}

fn run(home: &Path, args: &[&str]) -> Run {
    Run::from(coachctl(home).args(args).output().expect("run coachctl"))
}

/// A fresh COACHCTL_HOME for one test. When the test ends, pass or fail,
/// its server is stopped and its files are removed, also those kept
/// outside the home when run as root.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        Home {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn cluster(&self) -> Cluster {
        Cluster::at(self.path().to_path_buf())
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = coachctl(self.path()).args(["db", "down"]).output();
        let cluster = self.cluster();
        let mut outside = cluster.leftovers();
        outside.push(cluster.server_dir());
        for dir in outside {
            if dir.starts_with(ROOT_SERVER_BASE) {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

#[test]
fn two_first_commands_at_once_create_one_cluster_that_later_commands_reuse() {
    let home = Home::new();
    let children: Vec<_> = (0..2)
        .map(|_| {
            coachctl(home.path())
                .args(["db", "up", "-o", "json"])
                .output()
                .unwrap()
        })
        .collect::<Vec<_>>();
    // spawn both before waiting on either
    let a = coachctl(home.path()).args(["db", "up"]).spawn().unwrap();
    let b = coachctl(home.path())
        .args(["coach", "list"])
        .spawn()
        .unwrap();
    for out in children {
        Run::from(out).ok();
    }
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    let status = run(home.path(), &["db", "status", "-o", "json"]).json();
    assert!(
        status["server_version"]
            .as_str()
            .unwrap()
            .starts_with(|c: char| c.is_ascii_digit())
    );
    assert_eq!(status["schema_version"], status["schema_latest"]);
    // the home's own server directory, or (as root) the one it points to
    assert_eq!(
        std::fs::canonicalize(status["data_dir"].as_str().unwrap()).unwrap(),
        std::fs::canonicalize(home.path().join("server/data")).unwrap()
    );

    // the contract on the embedded default
    let c = run(
        home.path(),
        &[
            "coach",
            "create",
            "--email",
            "ana@example.com",
            "--name",
            "Ana",
            "--timezone",
            "Europe/Berlin",
            "-o",
            "ids",
        ],
    )
    .id();
    let m = run(
        home.path(),
        &[
            "member",
            "create",
            "--email",
            "bo@example.com",
            "--name",
            "Bo",
            "-o",
            "ids",
        ],
    )
    .id();
    run(home.path(), &["member", "assign", &m, "--coach", &c]).ok();
    let shown = run(home.path(), &["coach", "show", &c, "-o", "json"]).json();
    assert_eq!(shown["member_count"], 1);

    let down = run(home.path(), &["db", "down", "-o", "json"]).json();
    assert_eq!(down["state"], "stopped");
    // the next command starts it again, with the data kept
    let again = run(home.path(), &["member", "list", "-o", "ids"]);
    assert_eq!(again.ok().trim(), m);
}

#[test]
fn without_postgresql_installed_one_sentence_says_how_to_install_it() {
    let home = tempfile::tempdir().unwrap();
    let nothing = tempfile::tempdir().unwrap();
    let out = coachctl(home.path())
        .args(["coach", "list"])
        .env("COACHCTL_PG_BINDIR", nothing.path())
        .output()
        .unwrap();
    let run = Run::from(out);
    let err = run.fails_with(8).to_string();
    assert!(err.contains("apt-get install postgresql"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn a_schema_behind_the_binary_refuses_every_command_but_db_migrate() {
    let db = common::empty_db();
    let err = db.run(&["coach", "list"]).fails_with(8).to_string();
    assert!(err.contains("coachctl db migrate"), "{err}");
    db.run(&["db", "up"]).fails_with(8);
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
        0
    );
    let status = db.run(&["db", "status", "-o", "json"]).json();
    assert_eq!(status["schema_version"], 0);
    db.run(&["db", "migrate"]).ok();
    db.run(&["coach", "list"]).ok();
}

#[test]
fn db_down_refuses_a_server_it_does_not_manage() {
    let db = common::TestDb::new();
    db.run(&["db", "down"]).fails_with(7);
}

#[test]
fn db_reset_needs_confirmation_and_then_empties_the_data() {
    let db = common::TestDb::new();
    db.coach("a").create();
    db.run(&["db", "reset"]).fails_with(3);
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM users"), 1);
    db.run(&["db", "reset", "--yes"]).ok();
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM users"), 0);
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").unwrap().uid() == 0
}

fn status(home: &Path) -> serde_json::Value {
    run(home, &["db", "status", "-o", "json"]).json()
}

fn signal(pid: u32, name: &str) {
    // The process may be gone already; that is one of the moments tried.
    let _ = Command::new("kill")
        .args(["-s", name, &pid.to_string()])
        .status();
}

/// The NUL-separated command line of a process, as arguments.
fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

fn pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// The socket inodes in TCP LISTEN state (IPv4 and IPv6).
fn tcp_listen_inodes() -> HashSet<u64> {
    let mut found = HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st ... uid timeout inode
            if f.len() > 9 && f[3] == "0A" {
                found.insert(f[9].parse().unwrap());
            }
        }
    }
    found
}

fn socket_inodes(pid: u32) -> HashSet<u64> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|fd| {
            let target = std::fs::read_link(fd.path()).ok()?;
            let t = target.to_str()?;
            t.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
        })
        .collect()
}

/// Processes whose command line names a directory of this home: the home
/// itself, its server directory, or one of its half-made builds.
fn processes_of(home: &Home) -> Vec<(u32, Vec<String>)> {
    let cluster = home.cluster();
    let mut dirs = cluster.leftovers();
    dirs.push(cluster.server_dir());
    dirs.push(home.path().to_path_buf());
    let dirs: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    pids()
        .into_iter()
        .map(|pid| (pid, cmdline(pid)))
        .filter(|(_, cmd)| {
            cmd.iter()
                .any(|a| dirs.iter().any(|d| a.contains(d.as_str())))
        })
        .collect()
}

/// No process of any coachctl home (this one, or any server coachctl keeps
/// for root) listens on TCP, and every postmaster of this home was started
/// with `listen_addresses` empty on its command line.
#[track_caller]
fn assert_nothing_listens_on_tcp(home: &Home) {
    let listening = tcp_listen_inodes();
    for pid in pids() {
        let cmd = cmdline(pid).join(" ");
        let ours = cmd.contains(home.path().to_str().unwrap()) || cmd.contains(ROOT_SERVER_BASE);
        if ours {
            assert!(
                socket_inodes(pid).is_disjoint(&listening),
                "process {pid} ({cmd}) listens on TCP"
            );
        }
    }
    for (pid, cmd) in processes_of(home) {
        if cmd.first().is_some_and(|c| c.ends_with("/postgres")) && cmd.iter().any(|a| a == "-D") {
            assert!(
                cmd.iter().any(|a| a == "listen_addresses="),
                "postmaster {pid} started without listen_addresses='' on its command line: {cmd:?}"
            );
        }
    }
}

/// A small xorshift generator: the kill test's moments, reproducible from
/// the seed it prints.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[test]
fn killing_the_first_db_up_at_any_moment_never_opens_tcp_and_the_next_command_works() {
    const TRIES: u64 = 30;
    const LANES: u64 = 3;
    let seed = std::env::var("COACHCTL_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("COACHCTL_KILL_SEED={seed}");

    let complete_after_kill = AtomicU64::new(0);
    let windows = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for lane in 0..LANES {
            let (complete_after_kill, windows) = (&complete_after_kill, &windows);
            scope.spawn(move || {
                let mut rng = Rng(seed.wrapping_add(lane.wrapping_mul(0x9e3779b97f4a7c15)) | 1);
                // The creation window, under the same load as the tries:
                // how long an uninterrupted first `db up` takes.
                let window = {
                    let home = Home::new();
                    let t = Instant::now();
                    run(home.path(), &["db", "up"]).ok();
                    t.elapsed().as_millis() as u64
                };
                windows.fetch_max(window, Ordering::Relaxed);
                for _ in 0..TRIES / LANES {
                    let home = Home::new();
                    let mut first = coachctl(home.path())
                        .args(["db", "up"])
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .spawn()
                        .unwrap();
                    let delay = rng.below(window * 11 / 10);
                    let sig = if rng.below(2) == 0 { "KILL" } else { "TERM" };
                    std::thread::sleep(Duration::from_millis(delay));
                    signal(first.id(), sig);
                    first.wait().unwrap();
                    let context = format!("SIG{sig} after {delay} ms (seed {seed})");

                    assert_nothing_listens_on_tcp(&home);
                    if home.cluster().is_initialized() {
                        complete_after_kill.fetch_add(1, Ordering::Relaxed);
                    }
                    let next = run(home.path(), &["member", "list", "-o", "ids"]);
                    assert_eq!(next.code, 0, "{context}: {next:#?}");
                    assert_nothing_listens_on_tcp(&home);
                    let cluster = home.cluster();
                    assert!(
                        cluster.leftovers().is_empty(),
                        "{context}: {:?}",
                        cluster.leftovers()
                    );
                    let hba =
                        std::fs::read_to_string(cluster.data_dir().join("pg_hba.conf")).unwrap();
                    assert!(
                        hba.lines()
                            .all(|l| l.starts_with('#') || !l.contains("trust")),
                        "{context}: {hba}"
                    );
                    let st = status(home.path());
                    assert_eq!(st["running"], true, "{context}: {st}");
                    assert_eq!(st["schema_version"], st["schema_latest"], "{context}: {st}");

                    run(home.path(), &["db", "down"]).ok();
                    // Nothing a killed run started outlives `db down`.
                    let deadline = Instant::now() + Duration::from_secs(10);
                    while !processes_of(&home).is_empty() && Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    assert_eq!(processes_of(&home), vec![], "{context}");
                }
            });
        }
    });
    eprintln!(
        "{TRIES} kills over a window of up to {} ms; {} left a complete cluster",
        windows.load(Ordering::Relaxed),
        complete_after_kill.load(Ordering::Relaxed)
    );
}

#[test]
fn after_kill_9_of_the_server_the_next_command_restarts_it_within_5_seconds_and_says_so_with_v() {
    let home = Home::new();
    run(home.path(), &["db", "up"]).ok();
    let cluster = home.cluster();
    let pid = cluster.server_pid().expect("a running server");
    signal(pid, "KILL");
    let t = Instant::now();
    let next = run(home.path(), &["-v", "member", "list", "-o", "ids"]);
    let took = t.elapsed();
    next.ok();
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(
        next.stderr
            .contains("the embedded database was not running (it had stopped without shutting down); restarted it"),
        "{next:#?}"
    );
    eprintln!("restarted after kill -9 in {} ms", took.as_millis());
    let again = cluster.server_pid().expect("a running server");
    assert_ne!(again, pid);
    assert_nothing_listens_on_tcp(&home);
}

#[test]
fn db_up_changes_the_mode_of_no_directory_it_did_not_create() {
    let outer = tempfile::tempdir().unwrap();
    let closed = outer.path().join("closed");
    std::fs::create_dir(&closed).unwrap();
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(outer.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let home = Home {
        dir: tempfile::tempdir_in(&closed).unwrap(),
    };
    let modes = || -> Vec<(std::path::PathBuf, u32)> {
        home.path()
            .ancestors()
            .map(|a| (a.to_path_buf(), std::fs::metadata(a).unwrap().mode()))
            .collect()
    };
    let before = modes();
    run(home.path(), &["db", "up"]).ok();
    assert_eq!(modes(), before);

    let server = home.cluster().server_dir();
    let meta = std::fs::metadata(&server).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o700, "{}", server.display());
    let st = status(home.path());
    assert_eq!(Path::new(st["server_dir"].as_str().unwrap()), server);
    if is_root() {
        // Kept where the server user can reach it, owned by that user, with
        // the home pointing there.
        assert!(server.starts_with(ROOT_SERVER_BASE), "{}", server.display());
        assert_ne!(meta.uid(), 0);
        assert_eq!(
            std::fs::read_link(home.path().join("server")).unwrap(),
            server
        );
    } else {
        assert_eq!(server, home.path().join("server"));
    }
}

#[test]
fn db_status_reports_where_the_data_lives_and_never_starts_the_server() {
    let home = Home::new();
    let fresh = status(home.path());
    assert_eq!(fresh["running"], false);
    assert_eq!(fresh["state"], "not created: the next command creates it");
    assert!(!home.cluster().is_initialized());
    assert!(!home.path().join("server").exists());

    run(home.path(), &["db", "up"]).ok();
    let up = status(home.path());
    assert_eq!(up["running"], true);
    assert_eq!(up["state"], "up to date");
    assert_eq!(
        Path::new(up["data_dir"].as_str().unwrap()),
        home.cluster().data_dir()
    );

    run(home.path(), &["db", "down"]).ok();
    let down = status(home.path());
    assert_eq!(down["running"], false);
    assert_eq!(down["state"], "not running: the next command starts it");
    assert_eq!(down["data_dir"], up["data_dir"]);
    assert_eq!(home.cluster().server_pid(), None);

    // Not after a crash either.
    run(home.path(), &["db", "up"]).ok();
    signal(home.cluster().server_pid().unwrap(), "KILL");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(status(home.path())["running"], false);
    assert_eq!(home.cluster().server_pid(), None);
}
