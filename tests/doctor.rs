//! `coachctl doctor` (issue 22, item 5): one line per check, exit 0 only
//! when all pass, `-o json`.

mod common;
#[path = "support/sink.rs"]
mod sink;

use std::os::unix::fs::PermissionsExt;

use common::{Run, TestDb};
use sink::Sink;

fn doctor(db: &TestDb, smtp: Option<&str>, args: &[&str]) -> Run {
    let mut c = db.cmd();
    match smtp {
        Some(url) => c.env("COACHCTL_SMTP_URL", url),
        None => c.env_remove("COACHCTL_SMTP_URL"),
    };
    Run::from(c.arg("doctor").args(args).output().unwrap())
}

/// `(status, detail)` of one check in the table.
fn line<'a>(out: &'a str, id: &str) -> (&'a str, &'a str) {
    let l = out
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(id))
        .unwrap_or_else(|| panic!("no {id} line in {out}"));
    let mut words = l.splitn(3, char::is_whitespace);
    let status = words.next().unwrap();
    (
        status,
        l[status.len()..].trim_start()[id.len()..].trim_start(),
    )
}

#[test]
fn a_healthy_setup_passes_every_check_one_line_each() {
    let db = TestDb::new();
    let sink = Sink::start();
    let r = doctor(&db, Some(&sink.url()), &[]);
    let out = r.ok();
    for id in ["database", "schema", "smtp", "outbox", "reminders", "clock"] {
        assert_eq!(line(out, id).0, "ok", "{out}");
    }
    assert_eq!(
        line(out, "binaries").0,
        "skip",
        "a server named by URL: {out}"
    );
    assert!(line(out, "database").1.contains("the primary"), "{out}");
    assert_eq!(out.lines().count(), 8, "{out}");
    assert_eq!(r.stderr, "");
}

#[test]
fn a_closed_smtp_port_fails_its_check_and_the_command() {
    let db = TestDb::new();
    let closed = format!("smtp://127.0.0.1:{}", sink::free_port());
    let r = doctor(&db, Some(&closed), &[]);
    let err = r.fails_with(8).to_string();
    let (status, detail) = line(&r.stdout, "smtp");
    assert_eq!(status, "FAIL");
    assert!(detail.contains("connection refused"), "{detail}");
    assert_eq!(line(&r.stdout, "database").0, "ok");
    assert_eq!(err, "error: 1 of 8 checks failed: smtp\n");
}

#[test]
fn json_lists_every_check_with_its_status() {
    let db = TestDb::new();
    let r = doctor(&db, None, &["-o", "json"]);
    let v = r.json();
    let ids: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "binaries",
            "database",
            "schema",
            "config",
            "smtp",
            "outbox",
            "reminders",
            "clock"
        ]
    );
    assert_eq!(v[4]["status"], "skip", "no SMTP configured: {v}");
}

#[test]
fn failed_messages_and_reminders_that_cron_never_queued_fail_their_checks() {
    let db = TestDb::new();
    let (c, m) = common::ana_and_bo(&db);
    db.run(&["member", "assign", &m, "--coach", &c]).ok();
    let at = (chrono::Utc::now() + chrono::Duration::hours(5)).format("%Y-%m-%dT%H:00:00Z");
    db.run(&[
        "session",
        "create",
        "--coach",
        &c,
        "--member",
        &m,
        "--at",
        &at.to_string(),
        "--off-grid",
        "--length",
        "30",
    ])
    .ok();
    common::runtime().block_on(async {
        let pool = db.pool().await;
        for sql in [
            // booked two hours ago: its reminder has been due for over an hour
            "UPDATE sessions SET updated_at = now() - interval '2 hours'",
            "UPDATE outbox SET status = 'failed', attempts = 5 WHERE event = 'member.assigned'",
        ] {
            sqlx::raw_sql(sql).execute(&pool).await.unwrap();
        }
        pool.close().await;
    });
    let r = doctor(&db, None, &[]);
    r.fails_with(8);
    let (status, detail) = line(&r.stdout, "outbox");
    assert_eq!(status, "FAIL");
    assert!(detail.starts_with("1 failed"), "{detail}");
    let (status, detail) = line(&r.stdout, "reminders");
    assert_eq!(status, "FAIL");
    assert!(detail.contains("session remind"), "{detail}");

    // Once cron ran, the reminders pass.
    db.run(&["session", "remind"]).ok();
    assert_eq!(line(&doctor(&db, None, &[]).stdout, "reminders").0, "ok");
}

#[test]
fn a_world_writable_config_file_is_a_failed_check_not_a_refusal_to_diagnose() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("coachctl")).unwrap();
    let file = dir.path().join("coachctl/config.toml");
    std::fs::write(&file, "output = \"table\"\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    let r = Run::from(
        db.cmd()
            .env("XDG_CONFIG_HOME", dir.path())
            .env_remove("COACHCTL_SMTP_URL")
            .arg("doctor")
            .output()
            .unwrap(),
    );
    r.fails_with(8);
    let (status, detail) = line(&r.stdout, "config");
    assert_eq!(status, "FAIL");
    assert!(detail.contains("anyone may write to it"), "{detail}");
}
