//! A primary with a synchronous standby on 127.0.0.1, each test its own
//! pair (failover tests destroy the primary): scram over TCP, the standby
//! made with `pg_basebackup -R` over the primary's socket, and
//! `synchronous_standby_names = '*'` on the primary, so that a commit is
//! acknowledged only once the standby has it. The standby's own
//! `synchronous_standby_names` is empty: promoted, it must not wait for a
//! standby it does not have. As root, the servers run as `postgres` (else
//! `nobody`), as the embedded default does.
#![allow(dead_code)]

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::fixture::{ADMIN, OWNER, OWNER_PASSWORD, Runner, append, check, free_port};

pub const DB: &str = "app";

pub struct Pair {
    pub dir: tempfile::TempDir,
    pub bin: PathBuf,
    pub primary: Node,
    pub standby: Node,
    runner: Runner,
}

#[derive(Debug, Clone)]
pub struct Node {
    pub port: u16,
    pub data: PathBuf,
}

impl Node {
    /// `127.0.0.1:port`, as a multi-host URL lists it.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Pair {
    pub fn start() -> Pair {
        match start() {
            Ok(p) => p,
            Err(e) => panic!("cannot start the primary and standby: {e:#}"),
        }
    }

    fn run_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// A URL of the owner over TCP to `hosts` (`h:p,h:p`), with `query`.
    /// A host that is down refuses at once; the timeout only bounds a slow
    /// answer, which a loaded CI machine gives (2 s was seen to pass).
    pub fn url(&self, hosts: &[&Node], query: &str) -> String {
        let list: Vec<String> = hosts.iter().map(|n| n.host()).collect();
        format!(
            "postgres://{OWNER}:{OWNER_PASSWORD}@{}/{DB}?sslmode=disable&connect_timeout=10{}{query}",
            list.join(","),
            if query.is_empty() { "" } else { "&" }
        )
    }

    /// SQL as the superuser over `node`'s socket.
    pub fn psql(&self, node: &Node, sql: &str) -> Result<String> {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(self.run_dir())
            .args([
                "-p",
                &node.port.to_string(),
                "-U",
                ADMIN,
                "-d",
                DB,
                "-c",
                sql,
            ])
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            bail!("psql {sql:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Wait until the standby has replayed everything the primary wrote.
    pub fn caught_up(&self) {
        let lsn = self
            .psql(&self.primary, "SELECT pg_current_wal_lsn()")
            .expect("primary lsn");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let done = self
                .psql(
                    &self.standby,
                    &format!("SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn"),
                )
                .unwrap_or_default();
            if done == "t" {
                return;
            }
            assert!(Instant::now() < deadline, "the standby did not catch up");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The primary dies as in a crash: no shutdown checkpoint, sessions cut.
    pub fn kill_primary(&self) {
        let out = self
            .runner
            .command(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.primary.data)
            .args(["-m", "immediate", "-s", "stop"])
            .output()
            .expect("pg_ctl stop");
        check(&out, "pg_ctl stop -m immediate").expect("kill the primary");
    }

    /// The standby becomes the primary; returns when it accepts writes.
    pub fn promote(&self) {
        let out = self
            .runner
            .command(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.standby.data)
            .args(["-w", "-t", "30", "-s", "promote"])
            .output()
            .expect("pg_ctl promote");
        check(&out, "pg_ctl promote").expect("promote the standby");
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for node in [&self.primary, &self.standby] {
            let _ = self
                .runner
                .command(self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(&node.data)
                .args(["-m", "immediate", "-s", "stop"])
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn start() -> Result<Pair> {
    let bin = coachctl::embedded::find_binaries().map_err(|e| anyhow::anyhow!("{e}"))?;
    let runner = Runner::new()?;
    let dir = tempfile::Builder::new()
        .prefix("coachctl-failover-")
        .tempdir()?;
    runner.reachable(dir.path())?;
    let run = dir.path().join("run");
    let primary = Node {
        port: free_port()?,
        data: dir.path().join("primary"),
    };
    let standby = Node {
        port: free_port()?,
        data: dir.path().join("standby"),
    };
    for d in [&run, &primary.data, &standby.data] {
        fs::create_dir_all(d)?;
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(d, fs::Permissions::from_mode(0o700))?;
        runner.give(d)?;
    }
    let out = runner
        .command(bin.join("initdb"))
        .arg("-D")
        .arg(&primary.data)
        .args(["-U", ADMIN, "--auth-local=trust", "--auth-host=reject"])
        .args(["-E", "UTF8", "--no-locale", "--no-sync"])
        .output()?;
    check(&out, "initdb")?;
    append(
        &primary.data.join("postgresql.conf"),
        &format!(
            "listen_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'\n\
             password_encryption = 'scram-sha-256'\nmax_connections = 100\n\
             fsync = off\nfull_page_writes = off\nsynchronous_commit = on\n",
            primary.port,
            run.display()
        ),
    )?;
    let hba = primary.data.join("pg_hba.conf");
    fs::write(
        &hba,
        format!(
            "local all {ADMIN} trust\nlocal replication {ADMIN} trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
        ),
    )?;
    runner.give(&hba)?;
    start_node(&runner, &bin, &primary, dir.path())?;
    let pair_psql = |sql: &str| -> Result<()> {
        let out = Command::new(bin.join("psql"))
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(&run)
            .args([
                "-p",
                &primary.port.to_string(),
                "-U",
                ADMIN,
                "-d",
                "postgres",
                "-c",
                sql,
            ])
            .stdin(Stdio::null())
            .output()?;
        check(&out, sql)
    };
    pair_psql(&format!(
        "CREATE ROLE {OWNER} LOGIN PASSWORD '{OWNER_PASSWORD}'"
    ))?;
    pair_psql(&format!("CREATE DATABASE {DB} OWNER {OWNER}"))?;
    // the standby: a base backup that follows the primary (-R) over its socket
    let out = runner
        .command(bin.join("pg_basebackup"))
        .arg("-D")
        .arg(&standby.data)
        .arg("-h")
        .arg(&run)
        .args([
            "-p",
            &primary.port.to_string(),
            "-U",
            ADMIN,
            "-R",
            "-X",
            "stream",
            "--no-sync",
        ])
        .output()?;
    check(&out, "pg_basebackup")?;
    append(
        &standby.data.join("postgresql.conf"),
        &format!(
            "port = {}\nsynchronous_standby_names = ''\ncluster_name = 'standby1'\n",
            standby.port
        ),
    )?;
    start_node(&runner, &bin, &standby, dir.path())?;
    let pair = Pair {
        dir,
        bin,
        primary,
        standby,
        runner,
    };
    // synchronous from here on: commits wait for the standby (set only
    // now, or the roles and database made above would wait for it)
    pair.psql(
        &pair.primary,
        "ALTER SYSTEM SET synchronous_standby_names = '*'",
    )?;
    pair.psql(&pair.primary, "SELECT pg_reload_conf()")?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while pair
        .psql(
            &pair.primary,
            "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'",
        )
        .unwrap_or_default()
        != "1"
    {
        if Instant::now() > deadline {
            bail!("the standby did not become synchronous");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(pair)
}

fn start_node(
    runner: &Runner,
    bin: &std::path::Path,
    node: &Node,
    dir: &std::path::Path,
) -> Result<()> {
    let log = dir.join(format!("{}.log", node.port));
    let out = runner
        .command(bin.join("pg_ctl"))
        .arg("-D")
        .arg(&node.data)
        .arg("-l")
        .arg(&log)
        .args(["-w", "-t", "60", "-s", "start"])
        .stdout(Stdio::null())
        .output()?;
    check(&out, "pg_ctl start").with_context(|| fs::read_to_string(&log).unwrap_or_default())
}
