//! coachctl against PostgreSQL as teams run it: over TCP with TLS only
//! (verify-full, scram), a database owner that is not a superuser, and
//! pgbouncer in transaction mode in front (see `prod_pg/fixture.rs`).

#[path = "prod_pg/fixture.rs"]
mod fixture;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use fixture::{OWNER, OWNER_PASSWORD, SCHEMA_PASSWORD, SCHEMA_ROLE, TestDatabase, coachctl};

#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    took: Duration,
}

fn run(mut c: Command, args: &[&str]) -> Run {
    let start = Instant::now();
    let out: Output = c.args(args).output().expect("run coachctl");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: start.elapsed(),
    }
}

impl Run {
    #[track_caller]
    fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "expected success: {self:#?}");
        &self.stdout
    }
    #[track_caller]
    fn id(&self) -> String {
        self.ok()
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string()
    }
    #[track_caller]
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.ok()).unwrap_or_else(|e| panic!("not JSON ({e}): {self:#?}"))
    }
    /// Assert the exit code; return stderr, checked to be one sentence
    /// without SQL or a panic.
    #[track_caller]
    fn fails_with(&self, code: i32) -> &str {
        assert_eq!(self.code, code, "expected exit {code}: {self:#?}");
        let err = self.stderr.trim();
        assert_eq!(err.lines().count(), 1, "one line: {self:#?}");
        assert!(!err.contains("panicked"), "{self:#?}");
        assert!(!err.to_ascii_uppercase().contains("SELECT "), "{self:#?}");
        assert!(!err.contains("pool timed out"), "{self:#?}");
        err
    }
}

/// A Monday at least two weeks ahead.
fn monday() -> chrono::NaiveDate {
    use chrono::Datelike;
    let mut d = chrono::Utc::now().date_naive() + chrono::Duration::days(14);
    while d.weekday() != chrono::Weekday::Mon {
        d += chrono::Duration::days(1);
    }
    d
}

fn migrated(db: &TestDatabase) {
    run(coachctl(&db.direct_url()), &["db", "migrate"]).ok();
}

/// DESIGN.md's contract examples, through `url`.
fn contract_examples(url: &str) {
    let cli = || coachctl(url);
    let c = run(
        cli(),
        &[
            "coach",
            "create",
            "--email",
            "ana@example.com",
            "--name",
            "Ana Coach",
            "--timezone",
            "Europe/Berlin",
            "--max-members",
            "2",
            "-o",
            "ids",
        ],
    )
    .id();
    let m = run(
        cli(),
        &[
            "member",
            "create",
            "--email",
            "bo@example.com",
            "--name",
            "Bo Member",
            "-o",
            "ids",
        ],
    )
    .id();
    run(cli(), &["member", "assign", &m, "--coach", &c]).ok();
    run(
        cli(),
        &[
            "availability",
            "add",
            "--coach",
            "ana@example.com",
            "--day",
            "mon",
            "--start",
            "09:00",
            "--end",
            "12:00",
            "--length",
            "60",
            "--buffer",
            "15",
            "--capacity",
            "3",
        ],
    )
    .ok();
    let day = monday().to_string();
    let slots = run(
        cli(),
        &[
            "slots",
            "--coach",
            "ana@example.com",
            "--from",
            &day,
            "--days",
            "7",
            "-o",
            "json",
        ],
    )
    .json();
    let first = &slots[0];
    assert!(
        first["start"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{day}T09:00:00+")),
        "{slots}"
    );
    assert_eq!(first["remaining"], 3);
    assert_eq!(first["capacity"], 3);
    let at = format!("{day}T09:00");
    // (the session id from JSON: `-o ids` of book prints the booking's id today)
    let booked = run(
        cli(),
        &[
            "book",
            "--coach",
            "ana@example.com",
            "--member",
            "bo@example.com",
            "--at",
            &at,
            "-o",
            "json",
        ],
    )
    .json();
    let s = booked["session_id"].as_str().unwrap().to_string();
    let at2 = format!("{day}T10:15");
    let b = run(
        cli(),
        &[
            "book",
            "--coach",
            "ana@example.com",
            "--member",
            "bo@example.com",
            "--at",
            &at2,
            "-o",
            "json",
        ],
    )
    .json();
    assert_eq!(b["status"], "confirmed", "{b}");
    let list = run(
        cli(),
        &["--as", "bo@example.com", "session", "list", "-o", "json"],
    )
    .json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    assert!(list.iter().all(|s| s["coach_email"] == "ana@example.com"
        && s["member_email"] == "bo@example.com"
        && s["status"] == "scheduled"));
    run(
        cli(),
        &["session", "cancel", &s, "--reason", "sick", "--yes"],
    )
    .ok();
    let after = run(
        cli(),
        &[
            "slots",
            "--coach",
            "ana@example.com",
            "--from",
            &day,
            "--days",
            "1",
            "-o",
            "json",
        ],
    )
    .json();
    assert_eq!(
        after[0]["remaining"], 3,
        "the cancelled seat is free: {after}"
    );
}

#[test]
fn the_contract_examples_work_over_tls_with_a_database_owner_that_is_not_a_superuser() {
    let db = fixture::servers().database();
    migrated(&db);
    assert_eq!(
        db.psql(&format!(
            "SELECT rolsuper FROM pg_roles WHERE rolname = '{OWNER}'"
        )),
        "f"
    );
    contract_examples(&db.direct_url());
}

#[test]
fn the_contract_examples_work_through_pgbouncer_in_transaction_mode() {
    let db = fixture::servers().database();
    migrated(&db);
    contract_examples(&db.pooled_url());
}

#[test]
fn forty_processes_booking_one_slot_of_capacity_three_through_pgbouncer_leave_exactly_three() {
    let db = fixture::servers().database();
    migrated(&db);
    let url = db.pooled_url();
    run(
        coachctl(&url),
        &[
            "coach",
            "create",
            "--email",
            "ana@example.com",
            "--name",
            "Ana",
            "--timezone",
            "Europe/Berlin",
            "--max-members",
            "50",
        ],
    )
    .ok();
    run(
        coachctl(&url),
        &[
            "availability",
            "add",
            "--coach",
            "ana@example.com",
            "--day",
            "mon",
            "--start",
            "09:00",
            "--end",
            "12:00",
            "--capacity",
            "3",
        ],
    )
    .ok();
    let members: Vec<String> = (0..40)
        .map(|i| {
            run(
                coachctl(&url),
                &[
                    "member",
                    "create",
                    "--email",
                    &format!("m{i}@example.com"),
                    "--name",
                    "M",
                    "--coach",
                    "ana@example.com",
                    "-o",
                    "ids",
                ],
            )
            .id()
        })
        .collect();
    let at = format!("{}T09:00", monday());
    let results = race(
        &url,
        members
            .iter()
            .map(|m| {
                [
                    "book",
                    "--coach",
                    "ana@example.com",
                    "--member",
                    m,
                    "--at",
                    &at,
                ]
                .map(String::from)
                .to_vec()
            })
            .collect(),
    );
    let ok = results.iter().filter(|(c, _)| *c == 0).count();
    assert_eq!(ok, 3, "{results:?}");
    for (code, err) in results.iter().filter(|(c, _)| *c != 0) {
        assert_eq!(*code, 6, "{results:?}");
        assert_eq!(
            err.trim(),
            "error: This slot is now full, please choose another (or wait for a seat with --waitlist)"
        );
    }
    assert_eq!(
        db.psql("SELECT count(*) FROM sessions WHERE status = 'scheduled'"),
        "3"
    );
    assert_eq!(db.psql("SELECT booked FROM slots"), "3");
}

/// Run coachctl once per argument list, all released together from a
/// barrier; (exit code, stderr) of each.
fn race(url: &str, runs: Vec<Vec<String>>) -> Vec<(i32, String)> {
    let gate = tempfile::tempdir().expect("barrier dir");
    let go = gate.path().join("go");
    let children: Vec<_> = runs
        .iter()
        .map(|args| {
            let c = coachctl(url);
            let mut sh = Command::new("sh");
            sh.arg("-c")
                .arg("while [ ! -e \"$GO\" ]; do sleep 0.005; done; exec \"$@\"")
                .arg("coachctl")
                .arg(c.get_program())
                .args(args)
                .env("GO", &go)
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            for (k, v) in c.get_envs() {
                match v {
                    Some(v) => sh.env(k, v),
                    None => sh.env_remove(k),
                };
            }
            sh.spawn().expect("spawn coachctl")
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&go, b"").expect("open the barrier");
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().expect("wait");
            (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
        .collect()
}

#[test]
fn concurrent_direct_migrations_all_succeed_and_apply_each_migration_once() {
    let db = fixture::servers().database();
    let results = race(
        &db.direct_url(),
        vec![vec!["db".into(), "migrate".into()]; 6],
    );
    assert!(results.iter().all(|(c, _)| *c == 0), "{results:?}");
    assert_eq!(
        db.psql("SELECT count(*) = count(DISTINCT version) FROM _sqlx_migrations"),
        "t"
    );
    run(coachctl(&db.direct_url()), &["coach", "list", "-o", "json"]).ok();
}

#[test]
fn migrations_through_the_pooler_are_refused_with_a_sentence_naming_coachctl_migrate_url() {
    let db = fixture::servers().database();
    let results = race(
        &db.pooled_url(),
        vec![vec!["db".into(), "migrate".into()]; 4],
    );
    for (code, err) in &results {
        assert_eq!(*code, 8, "{results:?}");
        assert!(err.contains("COACHCTL_MIGRATE_URL"), "{err}");
        assert!(err.contains("pooler"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    // Nothing was left behind: with the direct URL beside it, it migrates.
    let mut c = coachctl(&db.pooled_url());
    c.env("COACHCTL_MIGRATE_URL", db.direct_url());
    run(c, &["db", "migrate"]).ok();
    run(coachctl(&db.pooled_url()), &["coach", "list"]).ok();
    // and a second time, no lock is left to wait for
    let mut c = coachctl(&db.pooled_url());
    c.env("COACHCTL_MIGRATE_URL", db.direct_url())
        .env("COACHCTL_MIGRATE_LOCK_TIMEOUT", "2");
    run(c, &["db", "migrate"]).ok();
}

#[test]
fn a_migration_waiting_on_a_held_lock_gives_up_in_time_naming_the_holder() {
    let db = fixture::servers().database();
    migrated(&db);
    // Another session holds the migration lock and stays.
    let key = coachctl::db::migrate::lock_id(&db.name);
    let mut holder = Command::new(db.servers.bin.join("psql"))
        .args(["-X", "-q", "-h"])
        .arg(db.servers.socket_dir())
        .args([
            "-p",
            &db.servers.pg_port.to_string(),
            "-U",
            fixture::ADMIN,
            "-d",
            &db.name,
        ])
        .env("PGAPPNAME", "stuck migration")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("psql");
    {
        use std::io::Write;
        let stdin = holder.stdin.as_mut().unwrap();
        writeln!(stdin, "SELECT pg_advisory_lock({key});").unwrap();
        stdin.flush().unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while db.psql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted") != "1" {
        assert!(Instant::now() < deadline, "the holder never took the lock");
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid =
        db.psql("SELECT pid FROM pg_stat_activity WHERE application_name = 'stuck migration'");
    let mut c = coachctl(&db.direct_url());
    c.env("COACHCTL_MIGRATE_LOCK_TIMEOUT", "2");
    let r = run(c, &["db", "migrate"]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(r.code, 8, "{r:#?}");
    // a line saying it waits, then the error
    let lines: Vec<&str> = r.stderr.trim().lines().collect();
    assert_eq!(lines.len(), 2, "{r:#?}");
    assert!(
        lines[0].starts_with("coachctl: waiting up to 2 s for another migration"),
        "{r:#?}"
    );
    let err = lines[1];
    assert!(err.contains(&format!("pid {pid}")), "{err}");
    assert!(err.contains("stuck migration"), "{err}");
    assert!(r.took < Duration::from_secs(10), "{r:#?}");
}

#[test]
fn a_role_that_may_not_create_the_extension_is_told_what_an_administrator_must_run() {
    let s = fixture::servers();
    let db = s.database();
    // Owned by the superuser; the role may create in schema public only.
    db.psql(&format!(
        "ALTER DATABASE {name} OWNER TO {admin}; ALTER SCHEMA public OWNER TO {admin}; \
         GRANT USAGE, CREATE ON SCHEMA public TO {SCHEMA_ROLE}",
        name = db.name,
        admin = fixture::ADMIN
    ));
    let url = s.direct_url(SCHEMA_ROLE, SCHEMA_PASSWORD, &db.name);
    let r = run(coachctl(&url), &["db", "migrate"]);
    let err = r.fails_with(8);
    let (file, line) = btree_gist_line();
    assert!(
        err.contains(&format!("migrations/{file} line {line}")),
        "{err}"
    );
    assert!(err.contains("CREATE EXTENSION btree_gist;"), "{err}");
    assert!(err.contains("superuser"), "{err}");
    assert!(err.contains(&db.name), "{err}");
    // PostgreSQL's hint is kept.
    assert!(err.contains("CREATE privilege"), "{err}");
    db.psql("CREATE EXTENSION btree_gist");
    run(coachctl(&url), &["db", "migrate"]).ok();
    run(coachctl(&url), &["coach", "list"]).ok();
}

/// The file and 1-based line creating btree_gist.
fn btree_gist_line() -> (String, usize) {
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        if let Some(i) = text
            .lines()
            .position(|l| l.contains("EXTENSION IF NOT EXISTS btree_gist"))
        {
            return (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                i + 1,
            );
        }
    }
    panic!("no migration creates btree_gist");
}

#[test]
fn a_closed_port_fails_at_once_naming_connection_refused() {
    let port = fixture::free_port().unwrap();
    let r = run(
        coachctl(&format!("postgres://u:p@127.0.0.1:{port}/db")),
        &["coach", "list"],
    );
    let err = r.fails_with(8);
    assert!(err.contains("connection refused"), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(r.took < Duration::from_secs(2), "{r:#?}");
}

#[test]
fn a_server_that_never_answers_is_given_up_on_after_connect_timeout() {
    // Accepts the TCP connection and then says nothing.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let r = run(
        coachctl(&format!(
            "postgres://u:p@127.0.0.1:{port}/db?connect_timeout=2"
        )),
        &["coach", "list"],
    );
    drop(listener);
    let err = r.fails_with(8);
    assert!(err.contains("no answer within 2 s"), "{err}");
    assert!(r.took < Duration::from_secs(5), "{r:#?}");
}

#[test]
fn a_wrong_password_is_named_as_such() {
    let s = fixture::servers();
    let db = s.database();
    for url in [
        s.direct_url(OWNER, "wrong", &db.name),
        s.pooled_url(OWNER, "wrong", &db.name),
    ] {
        let err = run(coachctl(&url), &["coach", "list"])
            .fails_with(8)
            .to_string();
        assert!(
            err.contains(&format!("password authentication failed for user {OWNER}")),
            "{err}"
        );
        assert!(!err.contains("wrong"), "the password is never shown: {err}");
    }
}

#[test]
fn an_untrusted_server_certificate_is_named_as_such() {
    let s = fixture::servers();
    let db = s.database();
    let port = s.pg_port;
    let other = s.pki("other-ca.crt");
    for url in [
        // no root certificate at all: the system's roots do not know ours
        format!(
            "postgres://{OWNER}:{OWNER_PASSWORD}@localhost:{port}/{}?sslmode=verify-full",
            db.name
        ),
        // another CA's certificate
        format!(
            "postgres://{OWNER}:{OWNER_PASSWORD}@localhost:{port}/{}?sslmode=verify-ca&sslrootcert={}",
            db.name,
            other.display()
        ),
    ] {
        let err = run(coachctl(&url), &["coach", "list"])
            .fails_with(8)
            .to_string();
        assert!(
            err.contains("the server's certificate is not trusted"),
            "{err}"
        );
    }
}

#[test]
fn plain_tcp_to_a_server_that_accepts_only_tls_says_to_use_tls_and_allow_falls_back_to_it() {
    let s = fixture::servers();
    let db = s.database();
    migrated(&db);
    let base = format!(
        "postgres://{OWNER}:{OWNER_PASSWORD}@127.0.0.1:{}/{}",
        s.pg_port, db.name
    );
    let err = run(
        coachctl(&format!("{base}?sslmode=disable")),
        &["coach", "list"],
    )
    .fails_with(8)
    .to_string();
    assert!(err.contains("only over TLS"), "{err}");
    assert!(err.contains("sslmode=require"), "{err}");
    for mode in ["allow", "prefer", "require"] {
        run(
            coachctl(&format!("{base}?sslmode={mode}")),
            &["coach", "list"],
        )
        .ok();
    }
}

#[test]
fn urls_that_are_not_postgresql_are_refused_at_once_as_invalid_input() {
    for url in ["mysql://u:p@127.0.0.1/db", "http://example.com/", "garbage"] {
        let r = run(coachctl(url), &["coach", "list"]);
        let err = r.fails_with(3);
        assert!(err.contains("postgres://"), "{err}");
        assert!(r.took < Duration::from_secs(2), "{r:#?}");
    }
}

#[test]
fn pg_variables_and_pgpass_fill_what_the_url_leaves_out() {
    let s = fixture::servers();
    let db = s.database();
    migrated(&db);
    let home = tempfile::tempdir().unwrap();
    let pgpass = home.path().join(".pgpass");
    std::fs::write(
        &pgpass,
        format!(
            "localhost:{}:{}:{OWNER}:{OWNER_PASSWORD}\n",
            s.pg_port, db.name
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut c = coachctl("postgres://");
    c.env("HOME", home.path())
        .env("PGHOST", "localhost")
        .env("PGPORT", s.pg_port.to_string())
        .env("PGUSER", OWNER)
        .env("PGDATABASE", &db.name)
        .env("PGSSLMODE", "verify-full")
        .env("PGSSLROOTCERT", s.ca());
    run(c, &["coach", "list", "-o", "json"]).ok();
    // The root certificate in ~/.postgresql is libpq's default.
    std::fs::create_dir(home.path().join(".postgresql")).unwrap();
    std::fs::copy(s.ca(), home.path().join(".postgresql/root.crt")).unwrap();
    let mut c = coachctl(&format!(
        "postgres://{OWNER}@localhost:{}/{}?sslmode=verify-full",
        s.pg_port, db.name
    ));
    c.env("HOME", home.path());
    run(c, &["coach", "list", "-o", "json"]).ok();
}

#[test]
fn one_command_opens_one_connection_named_after_the_command() {
    let s = fixture::servers();
    let db = s.database();
    migrated(&db);
    let authorized = || {
        s.log()
            .lines()
            .filter(|l| l.contains("connection authorized"))
            .filter(|l| l.contains(&format!("database={} ", db.name)))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let count = || authorized().len();
    let before = count();
    run(coachctl(&db.direct_url()), &["coach", "list", "-o", "json"]).ok();
    // the log is written by the server a moment later
    let deadline = Instant::now() + Duration::from_secs(5);
    while count() == before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    let new = authorized().split_off(before);
    assert_eq!(new.len(), 1, "{new:#?}");
    assert!(
        new[0].contains("application_name=coachctl coach list"),
        "{new:#?}"
    );
}
