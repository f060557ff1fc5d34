//! Emails and ids complete from the database (issue 22, item 7): through
//! the real binary in clap_complete's `COMPLETE=<shell>` protocol, as the
//! shell scripts of completions/ call it; only people and rows the actor
//! may see; nothing, fast and silently, when the database is not there.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{TestDb, ana_and_bo, ana_with_monday_mornings, monday};

/// What a Tab after `line` offers (fish's protocol: the words, the one
/// being completed last), the exit code, stderr and how long it took.
struct Tab {
    values: Vec<String>,
    code: i32,
    stderr: String,
    took: Duration,
}

fn tab_with(mut cmd: Command, line: &str) -> Tab {
    let mut words: Vec<&str> = line.split(' ').collect();
    if line.ends_with(' ') {
        words.pop();
        words.push("");
    }
    // The functional tests must not depend on the machine's load: they get
    // a generous budget; the tests of the budget itself set the real one.
    if !cmd
        .get_envs()
        .any(|(k, _)| k == "COACHCTL_COMPLETE_BUDGET_MS")
    {
        cmd.env("COACHCTL_COMPLETE_BUDGET_MS", "3000");
    }
    let started = Instant::now();
    let out = cmd
        .env("COMPLETE", "fish")
        .arg("--")
        .args(words)
        .output()
        .unwrap();
    let took = started.elapsed();
    Tab {
        // after a space clap offers the options too; only values matter here
        values: String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split('\t').next().unwrap_or_default().to_string())
            .filter(|v| !v.starts_with('-'))
            .collect(),
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took,
    }
}

fn tab(db: &TestDb, line: &str) -> Vec<String> {
    let t = tab_with(db.cmd(), line);
    assert_eq!(t.code, 0, "{}", t.stderr);
    assert!(t.stderr.is_empty(), "a Tab printed: {}", t.stderr);
    t.values
}

fn member(db: &TestDb, email: &str) -> String {
    db.member(email).name("Some One").create()
}

#[test]
fn an_email_prefix_completes_to_the_people_the_argument_takes() {
    let db = TestDb::new();
    ana_and_bo(&db);
    member(&db, "anton@example.com");
    member(&db, "anna@example.com");
    let got = tab(&db, "coachctl book --coach ana@example.com --member an");
    assert_eq!(got, ["anna@example.com", "anton@example.com"]);
    // --coach takes coaches: Ana, not the members whose email also starts so
    assert_eq!(tab(&db, "coachctl slots --coach an"), ["ana@example.com"]);
    // --as takes anyone, typed in any case
    assert_eq!(tab(&db, "coachctl --as AN").len(), 3);
}

#[test]
fn the_bash_protocol_completes_an_email_too() {
    let db = TestDb::new();
    ana_and_bo(&db);
    // bash passes the whole line and the index of the word under the cursor
    let out = db
        .cmd()
        .env("COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", "3")
        .env("_CLAP_IFS", "\n")
        .args(["--", "coachctl", "member", "show", "b", "-o", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "bo@example.com"
    );
}

#[test]
fn people_out_of_the_actors_sight_are_not_completed() {
    let db = TestDb::new();
    let (_, bo) = ana_and_bo(&db);
    db.run(&["member", "assign", &bo, "--coach", "ana@example.com"])
        .ok();
    member(&db, "cy@example.com");
    // the operator (admin) sees every active member
    let all = tab(&db, "coachctl session list --member ");
    assert!(all.contains(&"cy@example.com".to_string()), "{all:?}");
    // Ana sees her own member, not Cy
    let ana = tab(&db, "coachctl --as ana@example.com session list --member ");
    assert_eq!(ana, ["bo@example.com"]);
    // Bo sees no other member
    let bo = tab(&db, "coachctl --as bo@example.com message list --with ");
    assert!(!bo.contains(&"cy@example.com".to_string()), "{bo:?}");
    assert!(bo.contains(&"ana@example.com".to_string()), "{bo:?}");
    // COACHCTL_AS is the actor as well
    let mut cmd = db.cmd();
    cmd.env("COACHCTL_AS", "ana@example.com");
    let t = tab_with(cmd, "coachctl session list --member ");
    assert_eq!(t.values, ["bo@example.com"]);
    // an unknown actor sees no one
    assert!(tab(&db, "coachctl --as zed@example.com session list --member ").is_empty());
}

#[test]
fn deactivated_people_are_not_completed() {
    let db = TestDb::new();
    ana_and_bo(&db);
    db.run(&[
        "coach",
        "create",
        "--email",
        "andy@example.com",
        "--name",
        "Andy Coach",
        "-o",
        "ids",
    ])
    .ok();
    assert_eq!(
        tab(&db, "coachctl slots --coach an"),
        ["ana@example.com", "andy@example.com"]
    );
    db.run(&["--yes", "coach", "deactivate", "andy@example.com"])
        .ok();
    assert_eq!(tab(&db, "coachctl slots --coach an"), ["ana@example.com"]);
    assert_eq!(tab(&db, "coachctl --as an"), ["ana@example.com"]);
}

#[test]
fn the_database_and_actor_come_from_flags_environment_and_config_as_for_a_run() {
    let db = TestDb::new();
    let (_, bo) = ana_and_bo(&db);
    db.run(&["member", "assign", &bo, "--coach", "ana@example.com"])
        .ok();
    member(&db, "cy@example.com");
    let closed = "postgres://coachctl@127.0.0.1:1/coachctl";
    // --database-url on the line beats DATABASE_URL
    let mut cmd = db.cmd();
    cmd.env("DATABASE_URL", closed);
    let line = format!("coachctl --database-url {} member show b", db.url);
    assert_eq!(tab_with(cmd, &line).values, ["bo@example.com"]);
    // the config file's default profile and `as`, without DATABASE_URL
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join("coachctl")).unwrap();
    std::fs::write(
        home.path().join("coachctl/config.toml"),
        format!(
            "profile = \"test\"\nas = \"ana@example.com\"\n\n[profiles.test]\ndatabase_url = \"{}\"\n",
            db.url
        ),
    )
    .unwrap();
    let mut cmd = db.cmd();
    cmd.env_remove("DATABASE_URL")
        .env("XDG_CONFIG_HOME", home.path());
    let t = tab_with(cmd, "coachctl session list --member ");
    assert_eq!(
        (t.values, t.stderr),
        (vec!["bo@example.com".to_string()], String::new())
    );
}

#[test]
fn session_ids_complete_for_the_people_of_the_session_only() {
    let db = TestDb::new();
    ana_with_monday_mornings(&db);
    member(&db, "cy@example.com");
    let at = format!("{}T09:00", monday());
    let id = db.booked("ana", "bo", &at);
    assert_eq!(tab(&db, "coachctl session show "), vec![id.clone()]);
    assert_eq!(
        tab(&db, &format!("coachctl session cancel {}", &id[..4])),
        vec![id.clone()]
    );
    assert_eq!(
        tab(&db, "coachctl --as bo@example.com session reschedule "),
        vec![id.clone()]
    );
    assert!(tab(&db, "coachctl --as cy@example.com session show ").is_empty());
    // a prefix of no session offers nothing; a window's id is not a session's
    let other = if id.starts_with('0') { "1" } else { "0" };
    assert!(tab(&db, &format!("coachctl session show {other}")).is_empty());
    assert!(!tab(&db, "coachctl availability remove ").contains(&id));
}

#[test]
fn an_unreachable_or_silent_database_completes_nothing_at_once_and_silently() {
    let db = TestDb::new();
    // a server that takes the connection and never answers
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    for url in [
        "postgres://coachctl@127.0.0.1:1/coachctl".to_string(),
        format!("postgres://coachctl@127.0.0.1:{port}/coachctl?connect_timeout=30"),
    ] {
        let mut cmd = db.cmd();
        cmd.env("DATABASE_URL", &url)
            .env("COACHCTL_COMPLETE_BUDGET_MS", "180");
        let t = tab_with(cmd, "coachctl book --member an");
        assert_eq!(t.code, 0, "{url}: {}", t.stderr);
        assert!(t.values.is_empty(), "{url}: {:?}", t.values);
        assert!(t.stderr.is_empty(), "{url}: {}", t.stderr);
        assert!(t.took < Duration::from_secs(1), "{url}: took {:?}", t.took);
    }
}

#[test]
fn a_stopped_embedded_cluster_is_not_started_to_complete() {
    let db = TestDb::new();
    let home = tempfile::tempdir().unwrap();
    let mut cmd = db.cmd();
    cmd.env_remove("DATABASE_URL")
        .env("COACHCTL_HOME", home.path())
        .env("COACHCTL_COMPLETE_BUDGET_MS", "180");
    let t = tab_with(cmd, "coachctl book --member an");
    assert_eq!((t.code, t.values.len(), t.stderr.as_str()), (0, 0, ""));
    assert!(t.took < Duration::from_secs(1), "took {:?}", t.took);
    let made: Vec<_> = std::fs::read_dir(home.path()).unwrap().collect();
    assert!(made.is_empty(), "a Tab made {made:?}");
}

#[test]
fn a_locked_table_completes_nothing_within_a_second() {
    let db = TestDb::new();
    ana_and_bo(&db);
    let rt = common::runtime();
    rt.block_on(async {
        let pool = db.pool().await;
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .unwrap();
        let mut cmd = db.cmd();
        cmd.env("COACHCTL_COMPLETE_BUDGET_MS", "180");
        let t = tab_with(cmd, "coachctl member show b");
        assert_eq!((t.code, t.values.len(), t.stderr.as_str()), (0, 0, ""));
        assert!(t.took < Duration::from_secs(1), "took {:?}", t.took);
        tx.rollback().await.unwrap();
        pool.close().await;
    });
    // and once the lock is gone, the same Tab answers
    assert_eq!(tab(&db, "coachctl member show b"), ["bo@example.com"]);
}

#[test]
fn ten_thousand_members_complete_within_the_budget() {
    let db = TestDb::new();
    common::runtime().block_on(async {
        let pool = db.pool().await;
        sqlx::raw_sql(
            "INSERT INTO users (id, email, name, role)
             SELECT gen_random_uuid(), 'm' || lpad(i::text, 5, '0') || '@example.com',
                    'Member ' || i, 'member'
             FROM generate_series(1, 10000) i;
             INSERT INTO member_profiles (user_id) SELECT id FROM users WHERE role = 'member';
             ANALYZE users; ANALYZE member_profiles;",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    });
    // warm the server's caches as an earlier Tab would have
    tab(&db, "coachctl member show m0");
    let mut took = Vec::new();
    for _ in 0..3 {
        let t = tab_with(db.cmd(), "coachctl member show m0999");
        assert_eq!(t.values.len(), 10, "{:?}", t.values);
        took.push(t.took);
    }
    took.sort();
    let median = took[1];
    eprintln!("completion over 10,000 members: {median:?} (median of 3: {took:?})");
    assert!(median < Duration::from_secs(1), "took {took:?}");
    let t = tab_with(db.cmd(), "coachctl member show ");
    assert_eq!(t.values.len(), 50, "an empty prefix offers the first 50");
}

#[test]
fn fish_completes_an_email_through_the_shipped_script() {
    if Command::new("fish").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("COACHCTL_REQUIRE_FISH").is_none(),
            "fish is required here"
        );
        eprintln!("skipped: fish is not installed");
        return;
    }
    let db = TestDb::new();
    ana_and_bo(&db);
    member(&db, "anton@example.com");
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/completions/coachctl.fish");
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_coachctl"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = db
        .cmd()
        .program_is("fish")
        .args(["--no-config", "-c"])
        .arg(format!(
            "source {file}; complete -C 'coachctl book --coach ana@example.com --member an'"
        ))
        .env("PATH", path)
        .env("COACHCTL_COMPLETE_BUDGET_MS", "3000")
        .output()
        .unwrap();
    let got: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(got, ["anton@example.com"], "{out:?}");
}

/// `db.cmd()`'s environment for another program.
trait ProgramIs {
    fn program_is(self, program: &str) -> Command;
}

impl ProgramIs for Command {
    fn program_is(self, program: &str) -> Command {
        let mut c = Command::new(program);
        for (k, v) in self.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        c
    }
}
