//! A production-like PostgreSQL for tests: a server on 127.0.0.1 that
//! accepts only TLS (`hostssl`) with scram-sha-256, its certificate signed
//! by a CA made here; a non-superuser role that owns each test's database;
//! and pgbouncer in transaction mode (no `ignore_startup_parameters`) in
//! front, itself speaking TLS with the same CA.
//!
//! The servers are shared by every test process (nextest runs one process
//! per test): the first creates them under a file lock, later ones reuse
//! them. `scripts/test` runs the `stop` script left in the directory.
//! As root, both servers run as the `postgres` user (else `nobody`), as
//! the embedded default does.
#![allow(dead_code)]

use std::fs::{self, OpenOptions};
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

pub const ADMIN: &str = "fixture_admin";
pub const OWNER: &str = "owner";
pub const OWNER_PASSWORD: &str = "owner-secret";
/// A role with CREATE on schema public only, not on the database.
pub const SCHEMA_ROLE: &str = "schema_only";
pub const SCHEMA_PASSWORD: &str = "schema-secret";

/// The running servers.
#[derive(Debug, Clone)]
pub struct Servers {
    pub dir: PathBuf,
    pub pg_port: u16,
    pub bouncer_port: u16,
    pub bin: PathBuf,
}

/// Where the shared servers live: `$COACHCTL_TEST_HOME/prodpg`, else a
/// short path under the temp dir keyed by this checkout.
fn base_dir() -> PathBuf {
    match std::env::var_os("COACHCTL_TEST_HOME").filter(|h| !h.is_empty()) {
        Some(h) => PathBuf::from(h).join("prodpg"),
        None => {
            let key = env!("CARGO_TARGET_TMPDIR")
                .bytes()
                .fold(0xcbf29ce484222325u64, |h, b| {
                    (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
                });
            std::env::temp_dir().join(format!("coachctl-prodpg-{:08x}", key as u32))
        }
    }
}

/// The shared servers, started if they are not running.
pub fn servers() -> Servers {
    match start() {
        Ok(s) => s,
        Err(e) => panic!("cannot start the production-like PostgreSQL fixture: {e:#}"),
    }
}

fn start() -> Result<Servers> {
    let dir = base_dir();
    fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("lock"))?;
    lock.lock()?;
    let bin = coachctl::embedded::find_binaries().map_err(|e| anyhow::anyhow!("{e}"))?;
    let runner = Runner::new()?;
    let ports_file = dir.join("ports");
    if let Ok(ports) = fs::read_to_string(&ports_file) {
        let mut it = ports
            .split_whitespace()
            .filter_map(|p| p.parse::<u16>().ok());
        if let (Some(pg_port), Some(bouncer_port)) = (it.next(), it.next()) {
            let s = Servers {
                dir: dir.clone(),
                pg_port,
                bouncer_port,
                bin: bin.clone(),
            };
            if s.admin_ok() && port_open(bouncer_port) {
                return Ok(s);
            }
            // stale: stop what is left and start afresh
            let _ = Command::new("sh").arg(dir.join("stop")).status();
        }
    }
    for sub in ["data", "run", "pki"] {
        let p = dir.join(sub);
        if p.exists() {
            fs::remove_dir_all(&p)?;
        }
    }
    let pg_port = free_port()?;
    let bouncer_port = free_port()?;
    let s = Servers {
        dir: dir.clone(),
        pg_port,
        bouncer_port,
        bin,
    };
    runner.reachable(&dir)?;
    make_pki(&dir.join("pki"), &runner)?;
    s.init_postgres(&runner)?;
    s.start_pgbouncer(&runner)?;
    fs::write(&ports_file, format!("{pg_port} {bouncer_port}\n"))?;
    drop(lock);
    Ok(s)
}

impl Servers {
    pub fn pki(&self, name: &str) -> PathBuf {
        self.dir.join("pki").join(name)
    }
    pub fn ca(&self) -> PathBuf {
        self.pki("ca.crt")
    }
    pub fn socket_dir(&self) -> PathBuf {
        self.dir.join("run")
    }
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default()
    }

    /// A URL straight to PostgreSQL: TLS verify-full against the test CA.
    pub fn direct_url(&self, user: &str, password: &str, db: &str) -> String {
        format!(
            "postgres://{user}:{password}@localhost:{}/{db}?sslmode=verify-full&sslrootcert={}",
            self.pg_port,
            self.ca().display()
        )
    }

    /// The same through pgbouncer.
    pub fn pooled_url(&self, user: &str, password: &str, db: &str) -> String {
        format!(
            "postgres://{user}:{password}@localhost:{}/{db}?sslmode=verify-full&sslrootcert={}",
            self.bouncer_port,
            self.ca().display()
        )
    }

    /// Run SQL as the superuser over the fixture's unix socket.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String> {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(self.socket_dir())
            .args([
                "-p",
                &self.pg_port.to_string(),
                "-U",
                ADMIN,
                "-d",
                db,
                "-c",
                sql,
            ])
            .env_remove("PGPASSWORD")
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            bail!("psql {sql:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    fn admin_ok(&self) -> bool {
        self.psql("postgres", "SELECT 1").is_ok()
    }

    /// A fresh empty database owned by the non-superuser owner.
    pub fn database(&self) -> TestDatabase {
        let name = format!("p_{}", uuid::Uuid::new_v4().simple());
        self.psql("postgres", &format!("CREATE DATABASE {name} OWNER {OWNER}"))
            .expect("create a test database");
        TestDatabase {
            name,
            servers: self.clone(),
        }
    }

    fn init_postgres(&self, runner: &Runner) -> Result<()> {
        let data = self.dir.join("data");
        let run = self.socket_dir();
        for d in [&data, &run] {
            fs::create_dir_all(d)?;
            fs::set_permissions(d, fs::Permissions::from_mode(0o700))?;
            runner.give(d)?;
        }
        let out = runner
            .command(self.bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", ADMIN, "--auth-local=trust", "--auth-host=reject"])
            .args(["-E", "UTF8", "--no-locale", "--no-sync"])
            .output()?;
        check(&out, "initdb")?;
        let pki = self.dir.join("pki");
        let conf = format!(
            "listen_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'\n\
             ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n\
             password_encryption = 'scram-sha-256'\nmax_connections = 150\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n\
             log_connections = on\n",
            self.pg_port,
            run.display(),
            pki.join("server.crt").display(),
            pki.join("server.key").display(),
        );
        append(&data.join("postgresql.conf"), &conf)?;
        // TCP: TLS and scram only. The socket: the fixture's superuser only.
        let hba = format!(
            "local all {ADMIN} trust\nhostssl all all 127.0.0.1/32 scram-sha-256\nhostssl all all ::1/128 scram-sha-256\n"
        );
        fs::write(data.join("pg_hba.conf"), hba)?;
        runner.give(&data.join("pg_hba.conf"))?;
        let out = runner
            .command(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(self.dir.join("postgres.log"))
            .args(["-w", "-t", "60", "-s", "start"])
            .stdout(Stdio::null())
            .output()?;
        check(&out, "pg_ctl start")?;
        self.write_stop_script()?;
        self.psql(
            "postgres",
            &format!(
                "CREATE ROLE {OWNER} LOGIN PASSWORD '{OWNER_PASSWORD}';\
                 CREATE ROLE {SCHEMA_ROLE} LOGIN PASSWORD '{SCHEMA_PASSWORD}'"
            ),
        )?;
        Ok(())
    }

    fn start_pgbouncer(&self, runner: &Runner) -> Result<()> {
        let pgbouncer = which("pgbouncer")
            .or_else(|| Some(PathBuf::from("/usr/sbin/pgbouncer")).filter(|p| p.is_file()))
            .context("pgbouncer is not installed (apt-get install pgbouncer)")?;
        let pki = self.dir.join("pki");
        let userlist = self.dir.join("userlist.txt");
        fs::write(
            &userlist,
            format!("\"{OWNER}\" \"{OWNER_PASSWORD}\"\n\"{SCHEMA_ROLE}\" \"{SCHEMA_PASSWORD}\"\n"),
        )?;
        runner.give(&userlist)?;
        let ini = self.dir.join("pgbouncer.ini");
        // No ignore_startup_parameters: coachctl must not need it.
        let conf = format!(
            "[databases]\n* = host=127.0.0.1 port={pg}\n\n[pgbouncer]\n\
             listen_addr = 127.0.0.1\nlisten_port = {bp}\nunix_socket_dir =\n\
             auth_type = scram-sha-256\nauth_file = {userlist}\n\
             pool_mode = transaction\nmax_client_conn = 300\ndefault_pool_size = 10\n\
             server_tls_sslmode = verify-ca\nserver_tls_ca_file = {ca}\n\
             client_tls_sslmode = require\nclient_tls_key_file = {key}\nclient_tls_cert_file = {crt}\n\
             logfile = {log}\npidfile = {pid}\n",
            pg = self.pg_port,
            bp = self.bouncer_port,
            userlist = userlist.display(),
            ca = pki.join("ca.crt").display(),
            key = pki.join("server.key").display(),
            crt = pki.join("server.crt").display(),
            log = self.dir.join("pgbouncer.log").display(),
            pid = self.dir.join("pgbouncer.pid").display(),
        );
        fs::write(&ini, conf)?;
        runner.give(&ini)?;
        for f in ["pgbouncer.log", "pgbouncer.pid"] {
            let p = self.dir.join(f);
            let _ = fs::remove_file(&p);
        }
        let out = runner.command(&pgbouncer).arg("-d").arg(&ini).output()?;
        check(&out, "pgbouncer")?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !port_open(self.bouncer_port) {
            if Instant::now() > deadline {
                bail!(
                    "pgbouncer did not listen: {}",
                    fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    fn write_stop_script(&self) -> Result<()> {
        let d = self.dir.display();
        let script = format!(
            "#!/bin/sh\n# stop the prod_pg fixture's servers\n\
             [ -f {d}/pgbouncer.pid ] && kill $(cat {d}/pgbouncer.pid) 2>/dev/null\n\
             [ -f {d}/data/postmaster.pid ] && kill -INT $(head -1 {d}/data/postmaster.pid) 2>/dev/null\n\
             i=0; while [ -f {d}/data/postmaster.pid ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done\n\
             rm -f {d}/ports\nexit 0\n"
        );
        let stop = self.dir.join("stop");
        fs::write(&stop, script)?;
        fs::set_permissions(&stop, fs::Permissions::from_mode(0o755))?;
        Ok(())
    }
}

/// One test's database; dropped afterwards.
pub struct TestDatabase {
    pub name: String,
    pub servers: Servers,
}

impl TestDatabase {
    pub fn direct_url(&self) -> String {
        self.servers.direct_url(OWNER, OWNER_PASSWORD, &self.name)
    }
    pub fn pooled_url(&self) -> String {
        self.servers.pooled_url(OWNER, OWNER_PASSWORD, &self.name)
    }

    /// coachctl with a clean environment (no PG* variables, an empty HOME).
    pub fn coachctl(&self, url: &str) -> Command {
        coachctl(url)
    }

    pub fn psql(&self, sql: &str) -> String {
        self.servers.psql(&self.name, sql).expect("psql")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = self.servers.psql(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// The coachctl binary with `DATABASE_URL` and nothing inherited that
/// could change where or how it connects.
pub fn coachctl(url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_coachctl"));
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("PG") || k.starts_with("COACHCTL_") {
            c.env_remove(&k);
        }
    }
    c.env("DATABASE_URL", url)
        .env("HOME", "/nonexistent")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    c
}

/// The account the servers run as (also tests/failover's pair).
pub struct Runner {
    switch_to: Option<(u32, u32)>,
}

impl Runner {
    pub fn new() -> Result<Runner> {
        let me = fs::metadata("/proc/self")?.uid();
        if me != 0 {
            return Ok(Runner { switch_to: None });
        }
        let passwd = fs::read_to_string("/etc/passwd")?;
        let find = |name: &str| {
            passwd.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 3 && f[0] == name)
                    .then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
                    .flatten()
            })
        };
        let ids = find("postgres")
            .or_else(|| find("nobody"))
            .context("no postgres or nobody user to run the servers as")?;
        Ok(Runner {
            switch_to: Some(ids),
        })
    }

    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.stdin(Stdio::null());
        if let Some((uid, gid)) = self.switch_to {
            c.uid(uid).gid(gid).current_dir("/");
        }
        c
    }

    pub fn give(&self, path: &Path) -> Result<()> {
        if let Some((uid, gid)) = self.switch_to {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
        }
        Ok(())
    }

    /// The fixture directory and those above it must be searchable by
    /// the server user; the fixture directory is also theirs to write.
    pub fn reachable(&self, dir: &Path) -> Result<()> {
        if self.switch_to.is_none() {
            return Ok(());
        }
        self.give(dir)?;
        for anc in dir.ancestors().skip(1) {
            let meta = fs::metadata(anc)?;
            if meta.mode() & 0o001 == 0 {
                fs::set_permissions(
                    anc,
                    fs::Permissions::from_mode((meta.mode() | 0o001) & 0o7777),
                )?;
            }
        }
        Ok(())
    }
}

/// A CA, and a certificate for localhost/127.0.0.1 signed by it; another
/// CA that signed nothing of ours, for the "not trusted" case.
fn make_pki(dir: &Path, runner: &Runner) -> Result<()> {
    fs::create_dir_all(dir)?;
    let ossl = |args: &[&str]| -> Result<()> {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .output()
            .context("openssl is not installed (apt-get install openssl)")?;
        check(&out, &format!("openssl {}", args.join(" ")))
    };
    for ca in ["ca", "other-ca"] {
        ossl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{ca}.key"),
            "-out",
            &format!("{ca}.crt"),
            "-days",
            "30",
            "-subj",
            &format!("/CN=coachctl test {ca}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ])?;
    }
    ossl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ])?;
    fs::write(
        dir.join("server.ext"),
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
         extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )?;
    ossl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "30",
        "-extfile",
        "server.ext",
    ])?;
    // PostgreSQL wants its key private to the server user.
    let key = dir.join("server.key");
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600))?;
    runner.give(&key)?;
    runner.give(&dir.join("server.crt"))?;
    runner.give(dir)?;
    Ok(())
}

pub fn check(out: &Output, what: &str) -> Result<()> {
    if !out.status.success() {
        bail!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

pub fn append(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut f = OpenOptions::new().append(true).open(path)?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

/// A port nobody listens on right now.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
