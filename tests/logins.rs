//! `login grant|list|revoke` (issue 17): a PostgreSQL login per person,
//! and the login is the identity. Every test logs in for real, with a
//! password over the test cluster's socket (common::password_logins), and
//! drops the roles it made afterwards (roles belong to the whole cluster).

mod common;

use common::{TestDb, ana_and_bo};
use sqlx::{Connection, PgConnection};

/// A test database whose logins are dropped with it.
struct Db {
    db: TestDb,
}

impl Db {
    fn new() -> Db {
        common::password_logins();
        Db { db: TestDb::new() }
    }

    /// `login grant` as the owner: the JSON it prints.
    fn grant(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["login", "grant"];
        all.extend(args);
        all.extend(["-o", "json"]);
        self.db.run(&all).json()
    }

    fn sql<T>(&self, sql: &str) -> T
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
    {
        common::runtime().block_on(async {
            let pool = self.db.pool().await;
            let v: T = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
                .fetch_one(&pool)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            pool.close().await;
            v
        })
    }
}

impl std::ops::Deref for Db {
    type Target = TestDb;
    fn deref(&self) -> &TestDb {
        &self.db
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        common::drop_logins(&self.db.url);
    }
}

#[test]
fn a_granted_login_connects_as_its_person_and_the_url_is_printed_once() {
    let db = Db::new();
    let (_, bo) = ana_and_bo(&db);
    let g = db.grant(&["bo@example.com"]);
    assert_eq!(g["user"], "bo@example.com");
    let login = g["login"].as_str().expect("login").to_string();
    let prefix: String = db.sql("SELECT group_prefix FROM identity_settings");
    assert_eq!(login, format!("{prefix}_u_{}", &bo.replace('-', "")[..8]));
    let url = g["url"].as_str().expect("url");
    assert!(url.contains(&format!("://{login}:")), "{url}");
    // the server keeps a SCRAM verifier, never the password
    let stored: String = db.sql(&format!(
        "SELECT rolpassword FROM pg_authid WHERE rolname = '{login}' AND rolcanlogin"
    ));
    assert!(stored.starts_with("SCRAM-SHA-256$4096:"), "{stored}");
    let password = url
        .split_once(&format!("{login}:"))
        .unwrap()
        .1
        .split('@')
        .next()
        .unwrap();
    assert!(!stored.contains(password));
    // connected with it, the actor is Bo: the audit says so
    db.run_with(
        url,
        &["member", "update", "bo@example.com", "--name", "Bo Lind"],
    )
    .ok();
    let actor: String = db.sql("SELECT actor_label FROM audit_log ORDER BY id DESC LIMIT 1");
    assert_eq!(actor, "bo@example.com");
}

#[test]
fn granting_twice_exits_6_and_rotate_gives_a_new_password_that_works() {
    let db = Db::new();
    ana_and_bo(&db);
    let first = db.grant(&["bo@example.com"]);
    let err = db
        .run(&["login", "grant", "bo@example.com"])
        .fails_with(6)
        .to_string();
    assert!(err.contains("has a database login already"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let second = db.grant(&["bo@example.com", "--rotate"]);
    assert_eq!(first["login"], second["login"]);
    assert_ne!(first["url"], second["url"], "a new password");
    db.run_with(first["url"].as_str().unwrap(), &["session", "list"])
        .fails_with(8);
    db.run_with(second["url"].as_str().unwrap(), &["session", "list"])
        .ok();
}

#[test]
fn password_stdin_sets_the_given_password_and_only_an_admin_may_grant() {
    let db = Db::new();
    ana_and_bo(&db);
    let out = db
        .cmd()
        .args([
            "login",
            "grant",
            "ana@example.com",
            "--password-stdin",
            "-o",
            "json",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"s3cret pass/word\n")?;
            c.wait_with_output()
        })
        .expect("run coachctl");
    let g = common::Run::from(out).json();
    let url = g["url"].as_str().unwrap();
    assert!(url.contains(":s3cret%20pass%2Fword@"), "{url}");
    db.run_with(url, &["session", "list"]).ok();
    // Ana's login is a coach's: she may not grant logins
    let before: i64 = db.sql("SELECT count(*) FROM logins");
    let err = db
        .run_with(url, &["login", "grant", "bo@example.com"])
        .fails_with(4)
        .to_string();
    assert!(
        err.contains("only an admin may grant database logins"),
        "{err}"
    );
    assert_eq!(db.sql::<i64>("SELECT count(*) FROM logins"), before);
}

#[test]
fn login_list_shows_each_login_with_its_person_role_and_last_change() {
    let db = Db::new();
    ana_and_bo(&db);
    db.grant(&["ana@example.com"]);
    db.grant(&["bo@example.com"]);
    db.grant(&["--service", "notifier"]);
    let list = db.run(&["login", "list", "-o", "json"]).json();
    let rows: Vec<(String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert!(r["changed_at"].is_string() && r["login"].is_string(), "{r}");
            (
                r["user"].as_str().unwrap().to_string(),
                r["role"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("ana@example.com".to_string(), "coach".to_string()),
            ("bo@example.com".into(), "member".into()),
            ("notifier".into(), "notifier".into()),
        ]
    );
    let table = db.run(&["login", "list"]).ok().to_string();
    assert!(
        table.contains("bo@example.com") && table.contains("member"),
        "{table}"
    );
}

#[test]
fn revoke_ends_open_connections_and_the_next_command_exits_8() {
    let db = Db::new();
    ana_and_bo(&db);
    let g = db.grant(&["bo@example.com"]);
    let url = g["url"].as_str().unwrap().to_string();
    let login = g["login"].as_str().unwrap().to_string();
    common::runtime().block_on(async {
        let mut open = PgConnection::connect(&url)
            .await
            .expect("the login connects");
        sqlx::query("SELECT 1")
            .execute(&mut open)
            .await
            .expect("works");
        db.run(&["login", "revoke", "bo@example.com"]).ok();
        assert!(
            sqlx::query("SELECT 1").execute(&mut open).await.is_err(),
            "the open connection was ended"
        );
    });
    let gone: i64 = db.sql(&format!(
        "SELECT count(*) FROM pg_roles WHERE rolname = '{login}'"
    ));
    assert_eq!(gone, 0, "the role is dropped");
    assert_eq!(db.sql::<i64>("SELECT count(*) FROM logins"), 0);
    let err = db
        .run_with(&url, &["session", "list"])
        .fails_with(8)
        .to_string();
    assert!(err.contains("password authentication failed"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let err = db
        .run(&["login", "revoke", "bo@example.com"])
        .fails_with(5)
        .to_string();
    assert!(
        err.contains("bo@example.com has no database login"),
        "{err}"
    );
}

#[test]
fn a_deactivated_coachs_login_cannot_log_in_and_a_promotion_moves_the_login_to_the_coaches() {
    let db = Db::new();
    ana_and_bo(&db);
    let ana = db.grant(&["ana@example.com"]);
    let bo = db.grant(&["bo@example.com"]);
    db.run(&["--yes", "coach", "deactivate", "ana@example.com"])
        .ok();
    let can: bool = db.sql(&format!(
        "SELECT rolcanlogin FROM pg_roles WHERE rolname = '{}'",
        ana["login"].as_str().unwrap()
    ));
    assert!(
        !can,
        "deactivation took the login away in the same transaction"
    );
    let err = db
        .run_with(ana["url"].as_str().unwrap(), &["session", "list"])
        .fails_with(8)
        .to_string();
    assert!(err.contains("refused the login"), "{err}");
    let listed = db.run(&["login", "list", "-o", "json"]).json();
    assert!(listed.to_string().contains("deactivated"), "{listed}");

    db.run(&["coach", "promote", "bo@example.com"]).ok();
    let groups: String = db.sql(&format!(
        "SELECT string_agg(g.rolname, ',') FROM pg_auth_members m
         JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles l ON l.oid = m.member
         WHERE l.rolname = '{}'",
        bo["login"].as_str().unwrap()
    ));
    assert!(
        groups.ends_with("_coach") && !groups.contains("_member"),
        "{groups}"
    );
    db.run_with(
        bo["url"].as_str().unwrap(),
        &[
            "availability",
            "add",
            "--day",
            "mon",
            "--start",
            "09:00",
            "--end",
            "10:00",
        ],
    )
    .ok();
}

#[test]
fn a_members_login_may_not_act_as_someone_else_and_an_admins_may_and_is_recorded() {
    let db = Db::new();
    ana_and_bo(&db);
    db.run(&[
        "admin",
        "create",
        "--email",
        "ad@example.com",
        "--name",
        "Ad",
    ])
    .ok();
    let bo = db.grant(&["bo@example.com"]);
    let ad = db.grant(&["ad@example.com"]);
    let before: i64 = db.sql("SELECT count(*) FROM audit_log");
    let err = db
        .run_with(
            bo["url"].as_str().unwrap(),
            &[
                "--as",
                "ana@example.com",
                "coach",
                "update",
                "ana@example.com",
                "--bio",
                "x",
            ],
        )
        .fails_with(4)
        .to_string();
    assert!(
        err.contains("acting as someone else needs an admin's login")
            && err.contains("is bo@example.com's"),
        "{err}"
    );
    assert_eq!(db.sql::<i64>("SELECT count(*) FROM audit_log"), before);
    db.run_with(
        ad["url"].as_str().unwrap(),
        &[
            "--as",
            "bo@example.com",
            "member",
            "update",
            "bo@example.com",
            "--name",
            "Bo L",
        ],
    )
    .ok();
    let label: String = db.sql("SELECT actor_label FROM audit_log ORDER BY id DESC LIMIT 1");
    assert_eq!(label, "ad@example.com as bo@example.com");
}

#[test]
fn a_login_of_one_database_belongs_to_no_one_in_another() {
    let a = Db::new();
    let b = Db::new();
    ana_and_bo(&a);
    ana_and_bo(&b);
    let g = a.grant(&["bo@example.com"]);
    let url = g["url"].as_str().unwrap().replace(&a.name, &b.name);
    let err = a
        .run_with(&url, &["session", "list"])
        .fails_with(4)
        .to_string();
    assert_eq!(
        err.trim(),
        "error: this login belongs to no one in this database"
    );
}

#[test]
fn the_embedded_cluster_has_no_logins_and_says_so_without_starting() {
    let home = tempfile::tempdir().expect("home");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_coachctl"))
        .env_remove("DATABASE_URL")
        .env("COACHCTL_HOME", home.path())
        .env("XDG_CONFIG_HOME", "/nonexistent/coachctl-tests")
        .args(["login", "grant", "bo@example.com"])
        .output()
        .expect("run coachctl");
    let run = common::Run::from(out);
    let err = run.fails_with(7);
    assert_eq!(
        err.trim(),
        "error: logins need DATABASE_URL: the embedded cluster admits only its owner, over its private socket"
    );
    assert_eq!(
        std::fs::read_dir(home.path()).unwrap().count(),
        0,
        "nothing was created"
    );
}

/// A database owned by a role that is neither superuser nor CREATEROLE:
/// `login grant` says what a superuser must run and changes nothing; after
/// `ALTER ROLE .. CREATEROLE` it works without migrating again.
#[test]
fn without_createrole_login_grant_says_what_a_superuser_must_run_and_a_later_createrole_suffices() {
    common::password_logins();
    let db = common::empty_db();
    let owner = format!("own_{}", &db.name[2..14]);
    let password = "owner-pw";
    let mut salt = [0u8; 16];
    salt[0] = 7;
    let verifier = coachctl::login::scram::verifier(password, &salt);
    let su = |sql: String| {
        common::runtime().block_on(async {
            let pool = db.pool().await;
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
                .execute(&pool)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            pool.close().await;
        })
    };
    su(format!(
        "CREATE ROLE {owner} LOGIN PASSWORD '{verifier}'; ALTER DATABASE {} OWNER TO {owner};
         ALTER SCHEMA public OWNER TO {owner}",
        db.name
    ));
    let url = db
        .url
        .replacen("coachctl@", &format!("{owner}:{password}@"), 1);
    let run = |args: &[&str]| {
        common::Run::from(
            db.cmd()
                .env("DATABASE_URL", &url)
                .args(args)
                .output()
                .expect("run"),
        )
    };
    run(&["db", "migrate"]).ok();
    run(&[
        "member",
        "create",
        "--email",
        "bo@example.com",
        "--name",
        "Bo",
    ])
    .ok();
    let err = run(&["login", "grant", "bo@example.com"])
        .fails_with(7)
        .to_string();
    assert_eq!(
        err.trim(),
        format!(
            "error: the database owner cannot create roles; a superuser must run: ALTER ROLE {owner} CREATEROLE; then coachctl login grant again"
        )
    );
    let prefix: String = db.scalar("SELECT group_prefix FROM identity_settings");
    let made = |db: &TestDb| -> i64 {
        common::runtime().block_on(async {
            let pool = db.pool().await;
            let n = sqlx::query_scalar(
                "SELECT (SELECT count(*) FROM logins) + (SELECT count(*) FROM pg_roles WHERE rolname LIKE $1)",
            )
            .bind(format!("{prefix}%"))
            .fetch_one(&pool)
            .await
            .expect("count");
            pool.close().await;
            n
        })
    };
    assert_eq!(made(&db), 0, "nothing changed");
    su(format!("ALTER ROLE {owner} CREATEROLE"));
    let g = common::Run::from(
        db.cmd()
            .env("DATABASE_URL", &url)
            .args(["login", "grant", "bo@example.com", "-o", "json"])
            .output()
            .expect("run"),
    )
    .json();
    let bo_url = g["url"].as_str().unwrap().to_string();
    common::Run::from(
        db.cmd()
            .env("DATABASE_URL", &bo_url)
            .args(["session", "list"])
            .output()
            .expect("run"),
    )
    .ok();
    // leave no roles behind: the login, the groups, the owner
    run(&["login", "revoke", "bo@example.com"]).ok();
    common::drop_logins(&db.url);
    let groups: Vec<String> = common::runtime().block_on(async {
        let pool = db.pool().await;
        let g = sqlx::query_scalar("SELECT rolname::text FROM pg_roles WHERE rolname LIKE $1")
            .bind(format!("{prefix}%"))
            .fetch_all(&pool)
            .await
            .expect("groups");
        pool.close().await;
        g
    });
    let mut sql = format!("ALTER DATABASE {} OWNER TO coachctl; ", db.name);
    sql.push_str(&format!("ALTER SCHEMA public OWNER TO coachctl; REASSIGN OWNED BY {owner} TO coachctl; DROP OWNED BY {owner};"));
    for g in &groups {
        sql.push_str(&format!("DROP OWNED BY \"{g}\"; "));
    }
    su(sql);
    // roles outlive the database: drop them from another one
    let cleanup = common::empty_db();
    common::runtime().block_on(async {
        let pool = cleanup.pool().await;
        drop(db);
        for r in groups.iter().chain([&owner]) {
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP ROLE IF EXISTS \"{r}\"")))
                .execute(&pool)
                .await;
        }
        pool.close().await;
    });
}
