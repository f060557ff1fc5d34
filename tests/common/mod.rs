//! Test harness: one throwaway PostgreSQL cluster for the whole test run,
//! started through the same code path as the embedded default, and a fresh
//! database (cloned from a migrated template) for every test.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Output;

use coachctl::embedded::Cluster;
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

mod people;
pub mod proxy;

/// Where the shared test cluster lives: `COACHCTL_TEST_HOME`, else a short
/// path under the system temp dir, one per checkout (a unix socket path may
/// not exceed 107 bytes, so it cannot live under a deep target dir).
pub fn cluster() -> Cluster {
    let home = std::env::var_os("COACHCTL_TEST_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let key = fnv(env!("CARGO_TARGET_TMPDIR").as_bytes());
            std::env::temp_dir().join(format!("coachctl-test-{:08x}", key as u32))
        });
    Cluster::at(home)
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A fresh database of its own for one test; dropped afterwards.
pub struct TestDb {
    pub name: String,
    pub url: String,
    cluster: Cluster,
}

fn template_name() -> String {
    // The template is keyed by the migrations' checksums, so a changed
    // migration gets a new template instead of a stale one.
    let mut bytes = Vec::new();
    for m in coachctl::db::MIGRATOR.iter() {
        bytes.extend(m.version.to_le_bytes());
        bytes.extend(m.checksum.iter());
    }
    let h = fnv(&bytes);
    format!("coachctl_tmpl_{h:016x}")
}

async fn ensure_template(cluster: &Cluster) -> String {
    cluster
        .ensure_running()
        .await
        .expect("start the test cluster");
    let tmpl = template_name();
    let mut admin = cluster
        .connect_options("postgres")
        .connect()
        .await
        .expect("connect to the test cluster");
    // Serialise template creation across test processes.
    sqlx::query("SELECT pg_advisory_lock(7417)")
        .execute(&mut admin)
        .await
        .expect("lock");
    let ready: Option<bool> =
        sqlx::query_scalar("SELECT datistemplate FROM pg_database WHERE datname = $1")
            .bind(&tmpl)
            .fetch_optional(&mut admin)
            .await
            .expect("query template");
    if ready != Some(true) {
        // Throwaway data: durability buys nothing here and costs seconds.
        for sql in [
            "ALTER SYSTEM SET fsync = off",
            "ALTER SYSTEM SET synchronous_commit = off",
            "ALTER SYSTEM SET full_page_writes = off",
            "SELECT pg_reload_conf()",
        ] {
            exec(&mut admin, sql.to_string()).await;
        }
        if ready == Some(false) {
            exec(&mut admin, format!("DROP DATABASE \"{tmpl}\" WITH (FORCE)")).await;
        }
        exec(&mut admin, format!("CREATE DATABASE \"{tmpl}\"")).await;
        let pool = PgPool::connect_with(cluster.connect_options(&tmpl))
            .await
            .expect("connect to the template");
        coachctl::db::MIGRATOR
            .run(&pool)
            .await
            .expect("migrate the template");
        pool.close().await;
        exec(
            &mut admin,
            format!("ALTER DATABASE \"{tmpl}\" WITH IS_TEMPLATE true"),
        )
        .await;
    }
    sqlx::query("SELECT pg_advisory_unlock(7417)")
        .execute(&mut admin)
        .await
        .expect("unlock");
    admin.close().await.ok();
    tmpl
}

async fn exec(conn: &mut PgConnection, sql: String) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
        .execute(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

impl TestDb {
    pub async fn new_async() -> TestDb {
        let cluster = cluster();
        let tmpl = ensure_template(&cluster).await;
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = cluster
            .connect_options("postgres")
            .connect()
            .await
            .expect("connect to the test cluster");
        // CREATE DATABASE fails while another session copies the same
        // template at that instant; retry briefly.
        let mut tries = 0;
        loop {
            let sql = format!("CREATE DATABASE \"{name}\" TEMPLATE \"{tmpl}\"");
            match sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut admin)
                .await
            {
                Ok(_) => break,
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => panic!("create test database: {e}"),
            }
        }
        admin.close().await.ok();
        let url = cluster.url(&name);
        TestDb { name, url, cluster }
    }

    pub fn new() -> TestDb {
        runtime().block_on(Self::new_async())
    }

    pub async fn pool(&self) -> PgPool {
        PgPool::connect_with(self.cluster.connect_options(&self.name))
            .await
            .expect("connect to the test database")
    }

    /// The coachctl binary, pointed at this database, with a clean environment.
    pub fn cmd(&self) -> std::process::Command {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_coachctl"));
        c.env("DATABASE_URL", &self.url)
            .env_remove("COACHCTL_AS")
            .env_remove("COACHCTL_OUTPUT")
            .env_remove("COACHCTL_HOME")
            // no config file of the person running the tests
            .env_remove("COACHCTL_CONFIG")
            .env_remove("COACHCTL_PROFILE")
            .env("XDG_CONFIG_HOME", "/nonexistent/coachctl-tests")
            .env("NO_COLOR", "1")
            // The 5 s default is for users; a 2-core machine running the
            // suite's races can take longer to fork a backend. A test that is
            // about the timeout puts connect_timeout in its URL, which wins.
            .env("PGCONNECT_TIMEOUT", "60");
        c
    }

    /// Run coachctl with these arguments.
    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.cmd().args(args).output().expect("run coachctl"))
    }

    /// One value from SQL, for checking the database after the fact.
    pub fn scalar<T>(&self, sql: &'static str) -> T
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
    {
        runtime().block_on(async {
            let pool = self.pool().await;
            let v: T = sqlx::query_scalar(sql).fetch_one(&pool).await.expect(sql);
            pool.close().await;
            v
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let cluster = self.cluster.clone();
        let name = self.name.clone();
        // Drop may run inside a tokio runtime: use a thread of its own.
        let _ = std::thread::spawn(move || {
            runtime().block_on(async {
                if let Ok(mut c) = cluster.connect_options("postgres").connect().await {
                    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(&mut c)
                        .await;
                }
            })
        })
        .join();
    }
}

/// The outcome of one coachctl run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Assert success and return stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "expected success, got {self:#?}");
        &self.stdout
    }

    /// Assert this exit code and return stderr.
    #[track_caller]
    pub fn fails_with(&self, code: i32) -> &str {
        assert_eq!(self.code, code, "expected exit {code}, got {self:#?}");
        assert!(
            !self.stderr.contains("panicked") && !self.stderr.contains("RUST_BACKTRACE"),
            "a panic reached the user: {self:#?}"
        );
        assert!(
            !self.stderr.to_ascii_uppercase().contains("SELECT ")
                && !self.stderr.to_ascii_uppercase().contains("INSERT INTO"),
            "SQL text reached the user: {self:#?}"
        );
        &self.stderr
    }

    /// The first line of stdout, trimmed: an id under `-o ids`.
    #[track_caller]
    pub fn id(&self) -> String {
        self.ok()
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.ok()).unwrap_or_else(|e| panic!("not JSON ({e}): {self:#?}"))
    }
}

/// A database with no schema at all, in the test cluster; dropped afterwards.
pub fn empty_db() -> TestDb {
    runtime().block_on(async {
        let cluster = cluster();
        cluster
            .ensure_running()
            .await
            .expect("start the test cluster");
        let name = format!("e_{}", uuid::Uuid::new_v4().simple());
        let mut admin = cluster
            .connect_options("postgres")
            .connect()
            .await
            .expect("connect to the test cluster");
        exec(&mut admin, format!("CREATE DATABASE \"{name}\"")).await;
        admin.close().await.ok();
        let url = cluster.url(&name);
        TestDb { name, url, cluster }
    })
}

/// A Monday at least two weeks ahead, so tests with bookings never age.
pub fn monday() -> chrono::NaiveDate {
    use chrono::Datelike;
    let mut d = chrono::Utc::now().date_naive() + chrono::Duration::days(14);
    while d.weekday() != chrono::Weekday::Mon {
        d += chrono::Duration::days(1);
    }
    d
}

/// DESIGN.md's first contract examples: coach Ana (Europe/Berlin, room for
/// two members) and member Bo, unassigned. Returns their ids.
pub fn ana_and_bo(db: &TestDb) -> (String, String) {
    let c = db
        .coach("ana")
        .name("Ana Coach")
        .tz("Europe/Berlin")
        .max_members(2)
        .create();
    let m = db.member("bo").name("Bo Member").create();
    (c, m)
}

/// Wait for spawned coachctl processes: (exit code, stderr) of each.
pub fn outcomes(children: Vec<std::process::Child>) -> Vec<(i32, String)> {
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().expect("wait for coachctl");
            (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
        .collect()
}

/// Run coachctl once per argument list, every process held behind a barrier
/// and then released together, so the race is a race and not a queue of
/// process start-ups. Returns (exit code, stderr) of each.
pub fn race(db: &TestDb, runs: Vec<Vec<String>>) -> Vec<(i32, String)> {
    let gate = tempfile::tempdir().expect("barrier dir");
    let go = gate.path().join("go");
    let children: Vec<std::process::Child> = runs
        .iter()
        .map(|args| {
            let c = db.cmd();
            let mut sh = std::process::Command::new("sh");
            sh.arg("-c")
                .arg("while [ ! -e \"$GO\" ]; do sleep 0.005; done; exec \"$@\"")
                .arg("coachctl")
                .arg(c.get_program())
                .args(args)
                .env("GO", &go)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped());
            // the same environment db.cmd() would give coachctl
            for (k, v) in c.get_envs() {
                match v {
                    Some(v) => sh.env(k, v),
                    None => sh.env_remove(k),
                };
            }
            sh.spawn().expect("spawn coachctl")
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(300));
    std::fs::write(&go, b"").expect("open the barrier");
    outcomes(children)
}

impl TestDb {
    /// Every invariant of tests/invariants.sql holds; panics listing the
    /// violations otherwise.
    #[track_caller]
    pub fn assert_invariants(&self) {
        let violations: Vec<(String, String)> = runtime().block_on(async {
            let pool = self.pool().await;
            let rows = sqlx::query_as(include_str!("../invariants.sql"))
                .fetch_all(&pool)
                .await
                .expect("run tests/invariants.sql");
            pool.close().await;
            rows
        });
        assert!(
            violations.is_empty(),
            "the database breaks its invariants: {violations:#?}"
        );
    }
}

/// Give `coach` a weekly window: `day start-end`, sessions of `length`
/// minutes with `buffer` minutes between, `capacity` seats per slot.
#[allow(clippy::too_many_arguments)]
pub fn window(
    db: &TestDb,
    coach: &str,
    day: &str,
    (start, end): (&str, &str),
    length: u32,
    buffer: u32,
    capacity: u32,
) {
    db.run(&[
        "availability",
        "add",
        "--coach",
        coach,
        "--day",
        day,
        "--start",
        start,
        "--end",
        end,
        "--length",
        &length.to_string(),
        "--buffer",
        &buffer.to_string(),
        "--capacity",
        &capacity.to_string(),
    ])
    .ok();
}

/// DESIGN.md's contract setup: Ana (Berlin, room for 2 members) with Bo
/// assigned, and Monday 09:00-12:00 in 60-minute sessions, 15 minutes
/// buffer, 3 per slot.
pub fn ana_with_monday_mornings(db: &TestDb) {
    let (c, m) = ana_and_bo(db);
    db.run(&["member", "assign", &m, "--coach", &c]).ok();
    window(db, "ana@example.com", "mon", ("09:00", "12:00"), 60, 15, 3);
}

/// Let roles other than the superuser log in over the test cluster's
/// socket with a password (SCRAM), as a server with `login grant` logins
/// does; the superuser keeps peer authentication. Once per cluster.
pub fn password_logins() {
    const MARK: &str = "# coachctl tests: password logins";
    runtime().block_on(async {
        let cluster = cluster();
        cluster
            .ensure_running()
            .await
            .expect("start the test cluster");
        let mut admin = cluster
            .connect_options("postgres")
            .connect()
            .await
            .expect("connect to the test cluster");
        exec(&mut admin, "SELECT pg_advisory_lock(7418)".into()).await;
        let file: String = sqlx::query_scalar("SHOW hba_file")
            .fetch_one(&mut admin)
            .await
            .expect("hba_file");
        let hba = std::fs::read_to_string(&file).expect("read pg_hba.conf");
        if !hba.contains(MARK) {
            let peer = "local   all   all         peer   map=coachctl";
            assert!(hba.contains(peer), "unexpected pg_hba.conf: {hba}");
            let ours = format!(
                "{MARK}\nlocal   all   {}    peer   map=coachctl\nlocal   all   all         scram-sha-256",
                coachctl::embedded::DB_USER
            );
            // written in place: the file keeps its owner (the server's user)
            std::fs::write(&file, hba.replace(peer, &ours)).expect("write pg_hba.conf");
            exec(&mut admin, "SELECT pg_reload_conf()".into()).await;
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        exec(&mut admin, "SELECT pg_advisory_unlock(7418)".into()).await;
        admin.close().await.ok();
    })
}

/// Drop the roles of every login of the database at `url` (roles belong
/// to the whole cluster and outlive the test's database).
pub fn drop_logins(url: &str) {
    let url = url.to_string();
    let _ = std::thread::spawn(move || {
        runtime().block_on(async {
            let Ok(mut c) = PgConnection::connect(&url).await else {
                return;
            };
            let roles: Vec<String> = sqlx::query_scalar("SELECT role_name::text FROM logins")
                .fetch_all(&mut c)
                .await
                .unwrap_or_default();
            for r in roles {
                let sql = format!("DROP OWNED BY \"{r}\"; DROP ROLE IF EXISTS \"{r}\"");
                let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut c)
                    .await;
            }
        })
    })
    .join();
}

impl TestDb {
    /// `login grant` as the owner: the new login's URL.
    pub fn login_url(&self, args: &[&str]) -> String {
        let mut all = vec!["login", "grant"];
        all.extend(args);
        all.extend(["-o", "json"]);
        self.run(&all).json()["url"]
            .as_str()
            .expect("a url")
            .to_string()
    }

    /// coachctl connected with this URL (a login's) instead of the owner's.
    pub fn run_with(&self, url: &str, args: &[&str]) -> Run {
        Run::from(
            self.cmd()
                .env("DATABASE_URL", url)
                .args(args)
                .output()
                .expect("run coachctl"),
        )
    }
}
