//! Cron runs quietly (issue 22, item 3): `session remind` and `notify send`
//! print nothing when there was nothing to do, one line on stderr when there
//! was, only errors with `-q`, and stay machine-readable under `-o json`.

mod common;
#[path = "support/sink.rs"]
mod sink;

use chrono::{Duration, Timelike, Utc};
use common::{Run, TestDb};
use sink::Sink;

fn cron(db: &TestDb, smtp: &str, args: &[&str]) -> Run {
    Run::from(
        db.cmd()
            .env("COACHCTL_SMTP_URL", smtp)
            .args(args)
            .output()
            .expect("run coachctl"),
    )
}

/// An admin's session for Bo about five hours from now: a reminder is due.
fn session_soon(db: &TestDb) {
    let (c, m) = common::ana_and_bo(db);
    db.run(&["member", "assign", &m, "--coach", &c]).ok();
    let t = Utc::now() + Duration::hours(5);
    let start = t
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .expect("a time");
    db.run(&[
        "session",
        "create",
        "--coach",
        &c,
        "--member",
        &m,
        "--at",
        &start.to_rfc3339(),
        "--off-grid",
        "--length",
        "30",
    ])
    .ok();
}

#[test]
fn the_readme_cron_line_prints_nothing_when_there_is_nothing_to_do() {
    let db = TestDb::new();
    let sink = Sink::start();
    for args in [&["session", "remind"][..], &["notify", "send"][..]] {
        let r = cron(&db, &sink.url(), args);
        assert_eq!(
            (r.code, r.stdout.as_str(), r.stderr.as_str()),
            (0, "", ""),
            "{args:?}"
        );
    }
}

#[test]
fn a_run_that_did_something_says_so_in_one_line_on_stderr_and_quiet_says_nothing() {
    let db = TestDb::new();
    session_soon(&db);
    let sink = Sink::start();

    let quiet = cron(&db, &sink.url(), &["session", "remind", "-q"]);
    assert_eq!((quiet.stdout.as_str(), quiet.stderr.as_str()), ("", ""));
    assert!(db.scalar::<i64>("SELECT count(*) FROM outbox WHERE event LIKE 'reminder.%'") > 0);

    let sent = cron(&db, &sink.url(), &["notify", "send"]);
    assert_eq!(sent.ok(), "");
    assert_eq!(sent.stderr.lines().count(), 1, "{sent:?}");
    assert!(sent.stderr.starts_with("sent "), "{sent:?}");
    assert!(sink.count() > 0);

    // Nothing left: silence again.
    let again = cron(&db, &sink.url(), &["notify", "send"]);
    assert_eq!((again.ok(), again.stderr.as_str()), ("", ""));
}

#[test]
fn remind_reports_what_it_queued_in_one_line() {
    let db = TestDb::new();
    session_soon(&db);
    let r = db.run(&["session", "remind"]);
    assert_eq!(r.ok(), "");
    assert_eq!(r.stderr, "queued 2 reminder(s)\n");
}

#[test]
fn json_output_stays_the_machine_form_even_when_nothing_happened() {
    let db = TestDb::new();
    let sink = Sink::start();
    let r = cron(&db, &sink.url(), &["session", "remind", "-o", "json"]);
    assert_eq!(r.json()["queued"], 0);
    let r = cron(&db, &sink.url(), &["notify", "send", "-o", "json", "-q"]);
    assert_eq!(r.json()["sent"], 0);
    assert_eq!(r.stderr, "");
}

#[test]
fn quiet_still_reports_errors() {
    let db = TestDb::new();
    session_soon(&db);
    db.run(&["session", "remind", "-q"]).ok();
    let closed = format!("smtp://127.0.0.1:{}", sink::free_port());
    let r = cron(&db, &closed, &["notify", "send", "-q"]);
    let err = r.fails_with(8);
    assert_eq!(err.lines().count(), 1, "{err}");
}
