//! The email outbox against a real SMTP server (aiosmtpd on 127.0.0.1,
//! started by each test): what every event queues, reminders, delivery,
//! outages, concurrent senders and a killed sender.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Timelike, Utc};
use common::{TestDb, ana_with_monday_mornings, monday, race};

/// A real SMTP server on 127.0.0.1 writing what it accepts to a directory.
struct Sink {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    env: Vec<(String, String)>,
}

fn python() -> &'static str {
    // Debian's python3-aiosmtpd lives beside Debian's python
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    l.local_addr().expect("port").port()
}

impl Sink {
    fn start() -> Sink {
        Sink::start_with(&[])
    }

    /// A sink with settings of tests/support/smtp_sink.py (SINK_TLS, ...).
    fn start_with(env: &[(&str, &str)]) -> Sink {
        let mut s = Sink {
            port: free_port(),
            dir: tempfile::tempdir().expect("sink dir"),
            child: None,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        s.restart();
        s
    }

    fn restart(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_sink.py");
        let mut child = Command::new(python())
            .arg(script)
            .arg(self.port.to_string())
            .arg(self.dir.path())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the SMTP sink (apt-get install python3-aiosmtpd)");
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("sink ready");
        assert_eq!(line.trim(), "ready", "the SMTP sink did not start");
        self.child = Some(child);
    }

    /// Stop the server at once (SIGKILL), mid-conversation if need be.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received, as raw text.
    fn messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(self.dir.path()).expect("read sink dir") {
            let p: PathBuf = e.expect("entry").path();
            if p.extension().is_some_and(|x| x == "eml") {
                out.push(std::fs::read_to_string(&p).expect("read message"));
            }
        }
        out
    }

    fn count(&self) -> usize {
        std::fs::read_dir(self.dir.path())
            .map(|d| {
                d.filter(|e| {
                    e.as_ref()
                        .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "eml"))
                })
                .count()
            })
            .unwrap_or(0)
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A header's value in a raw message, unfolded and with RFC 2047
/// encoded-words decoded as a strict reader does (whitespace between two
/// encoded-words dropped).
fn header(msg: &str, name: &str) -> Option<String> {
    use base64::Engine;
    let mut lines = msg.lines().take_while(|l| !l.is_empty());
    let first = lines.find_map(|l| l.strip_prefix(&format!("{name}: ")))?;
    let mut raw = first.to_string();
    for l in lines.take_while(|l| l.starts_with([' ', '\t'])) {
        raw.push_str(l);
    }
    let mut out = String::new();
    let mut last_encoded = false;
    for token in raw.split_whitespace() {
        let encoded = token
            .strip_prefix("=?utf-8?b?")
            .and_then(|t| t.strip_suffix("?="));
        match encoded {
            Some(b64) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .expect("base64 in an encoded-word");
                if !out.is_empty() && !last_encoded {
                    out.push(' ');
                }
                out.push_str(&String::from_utf8(bytes).expect("UTF-8 in an encoded-word"));
                last_encoded = true;
            }
            None => {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(token);
                last_encoded = false;
            }
        }
    }
    Some(out)
}

/// A message with quoted-printable soft line breaks and `=3D` undone.
fn unfolded(msg: &str) -> String {
    msg.replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}

/// Message-ID -> how many times the server got it.
fn by_message_id(sink: &Sink) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for m in sink.messages() {
        let id = header(&m, "Message-ID").expect("a Message-ID").to_string();
        *seen.entry(id).or_insert(0) += 1;
    }
    seen
}

/// (event, recipient email) -> count, from the outbox.
fn queued(db: &TestDb) -> BTreeMap<(String, String), i64> {
    common::runtime().block_on(async {
        let pool = db.pool().await;
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT o.event, u.email, count(*) FROM outbox o JOIN users u ON u.id = o.recipient_id
             GROUP BY 1, 2",
        )
        .fetch_all(&pool)
        .await
        .expect("outbox");
        pool.close().await;
        rows.into_iter().map(|(e, u, n)| ((e, u), n)).collect()
    })
}

fn n(q: &BTreeMap<(String, String), i64>, event: &str, email: &str) -> i64 {
    q.get(&(event.to_string(), email.to_string()))
        .copied()
        .unwrap_or(0)
}

fn send(db: &TestDb, sink_url: &str) -> common::Run {
    common::Run::from(
        db.cmd()
            .args(["notify", "send", "-o", "json"])
            .env("COACHCTL_SMTP_URL", sink_url)
            .output()
            .expect("run notify send"),
    )
}

fn at(hhmm: &str) -> String {
    format!("{}T{hhmm}", monday())
}

fn book(db: &TestDb, member: &str, hhmm: &str) -> common::Run {
    db.run(&[
        "book",
        "--coach",
        "ana@example.com",
        "--member",
        member,
        "--at",
        &at(hhmm),
        "-o",
        "ids",
    ])
}

#[test]
fn each_session_event_queues_its_notices_once_for_the_right_people() {
    let db = TestDb::new();
    ana_with_monday_mornings(&db);
    let q = queued(&db);
    assert_eq!(n(&q, "member.assigned", "ana@example.com"), 1, "{q:?}");

    let id = book(&db, "bo@example.com", "09:00").id();
    let q = queued(&db);
    assert_eq!(n(&q, "session.confirmed", "bo@example.com"), 1, "{q:?}");
    assert_eq!(n(&q, "session.confirmed", "ana@example.com"), 1, "{q:?}");

    db.run(&["session", "reschedule", &id, "--at", &at("10:15")])
        .ok();
    let q = queued(&db);
    assert_eq!(n(&q, "session.rescheduled", "bo@example.com"), 1, "{q:?}");
    assert_eq!(n(&q, "session.rescheduled", "ana@example.com"), 1, "{q:?}");

    db.run(&["session", "cancel", &id, "--reason", "sick", "--yes"])
        .ok();
    let q = queued(&db);
    assert_eq!(n(&q, "session.cancelled", "bo@example.com"), 1, "{q:?}");
    assert_eq!(n(&q, "session.cancelled", "ana@example.com"), 1, "{q:?}");
    // nothing else was queued
    assert_eq!(q.values().sum::<i64>(), 7, "{q:?}");
}

#[test]
fn a_refused_change_queues_nothing_and_a_full_slot_queues_the_rejection() {
    let db = TestDb::new();
    ana_with_monday_mornings(&db);
    let before: i64 = db.scalar("SELECT count(*) FROM outbox");
    // outside the window: refused before anything is written
    book(&db, "bo@example.com", "13:00").fails_with(7);
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM outbox"), before);

    // a capacity-one slot taken by Cy, then Bo is turned away
    common::window(&db, "ana@example.com", "tue", ("09:00", "10:00"), 60, 0, 1);
    db.member("cy").assigned_to("ana").create();
    let tue = format!("{}T09:00", monday() + Duration::days(1));
    db.book("ana", "cy", &tue).ok();
    let err = db.book("ana", "bo", &tue).fails_with(6).to_string();
    assert!(err.contains("This slot is now full"), "{err}");
    let q = queued(&db);
    assert_eq!(n(&q, "booking.rejected", "bo@example.com"), 1, "{q:?}");
    assert_eq!(n(&q, "session.confirmed", "bo@example.com"), 0, "{q:?}");
}

#[test]
fn notify_send_delivers_every_message_once_with_its_message_id_and_calendar() {
    let db = TestDb::new();
    ana_with_monday_mornings(&db);
    let id = book(&db, "bo@example.com", "09:00").id();
    db.run(&["session", "cancel", &id, "--reason", "sick", "--yes"])
        .ok();
    let sink = Sink::start();
    let out = send(&db, &sink.url()).json();
    assert_eq!(out["sent"], 5, "{out}");

    let ids: Vec<String> = common::runtime().block_on(async {
        let pool = db.pool().await;
        sqlx::query_scalar("SELECT message_id FROM outbox WHERE status = 'sent'")
            .fetch_all(&pool)
            .await
            .expect("ids")
    });
    let got = by_message_id(&sink);
    assert_eq!(got.len(), 5);
    for i in &ids {
        assert_eq!(got.get(i), Some(&1), "{i} delivered once");
    }
    let msgs = sink.messages();
    let confirmed = msgs
        .iter()
        .find(|m| {
            header(m, "To").is_some_and(|t| t.contains("bo@example.com"))
                && header(m, "Subject").is_some_and(|s| s.contains("confirmed"))
        })
        .expect("Bo's confirmation");
    // Bo has no zone of his own (UTC); the session is Monday 09:00 in Berlin
    assert!(
        header(confirmed, "Subject")
            .is_some_and(|s| s.starts_with("Session with Ana Coach confirmed: Mon ")),
        "{confirmed}"
    );
    assert!(confirmed.contains("method=REQUEST"), "{confirmed}");
    assert!(unfolded(confirmed).contains(&format!("coachctl session show {id}")));
    let cancelled = msgs
        .iter()
        .find(|m| header(m, "Subject").is_some_and(|s| s.contains("cancelled")))
        .expect("a cancellation");
    assert!(cancelled.contains("method=CANCEL"), "{cancelled}");

    // a second run finds nothing to do
    assert_eq!(send(&db, &sink.url()).json()["sent"], 0);
    assert_eq!(sink.count(), 5);
}

#[test]
fn an_unreachable_smtp_server_exits_8_and_loses_nothing() {
    let db = TestDb::new();
    ana_with_monday_mornings(&db);
    let dead = format!("smtp://127.0.0.1:{}", free_port());
    let err = send(&db, &dead).fails_with(8).to_string();
    assert!(err.contains("cannot reach the SMTP server"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM outbox WHERE status = 'queued' AND attempts = 0"),
        1
    );
    let sink = Sink::start();
    assert_eq!(send(&db, &sink.url()).json()["sent"], 1);
    assert_eq!(sink.count(), 1);
}

/// `count` queued notices for Ana, straight into the outbox.
fn queue_bulk(db: &TestDb, count: i32) {
    common::runtime().block_on(async {
        let pool = db.pool().await;
        sqlx::query(
            "SELECT queue_notice('member.assigned', 'bulk:' || i, u.id, NULL,
                                 jsonb_build_object('member_name', 'M' || i))
             FROM generate_series(1, $1) AS i, users u WHERE u.email = 'ana@example.com'",
        )
        .bind(count)
        .execute(&pool)
        .await
        .expect("queue");
        pool.close().await;
    });
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(
            t.elapsed() < StdDuration::from_secs(60),
            "timed out: {what}"
        );
        std::thread::sleep(StdDuration::from_millis(20));
    }
}

#[test]
fn two_senders_through_an_outage_mid_drain_deliver_each_of_1000_messages() {
    let db = TestDb::new();
    ana_with_monday_mornings(&db);
    queue_bulk(&db, 999);
    let mut sink = Sink::start();
    let url = sink.url();
    let spawn = |db: &TestDb| {
        db.cmd()
            .args(["notify", "send", "--batch", "20"])
            .env("COACHCTL_SMTP_URL", &url)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn a sender")
    };
    let senders = vec![spawn(&db), spawn(&db)];
    wait_until("300 delivered", || sink.count() >= 300);
    sink.kill();
    let codes: Vec<i32> = common::outcomes(senders)
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    assert!(codes.iter().all(|c| *c == 8 || *c == 0), "{codes:?}");
    assert!(codes.contains(&8), "the outage was seen: {codes:?}");
    let mid = sink.count();
    assert!(mid < 1000, "the outage came mid-drain ({mid})");

    sink.restart();
    let again = common::outcomes(vec![spawn(&db), spawn(&db)]);
    assert!(again.iter().all(|(c, _)| *c == 0), "{again:?}");
    let got = by_message_id(&sink);
    assert_eq!(got.len(), 1000, "every message arrived");
    // The one boundary: a message the server stored as it was killed, before
    // answering, is sent again with the same Message-ID (one per sender).
    let doubled: usize = got.values().map(|n| n - 1).sum();
    assert!(doubled <= 2, "{doubled} messages doubled");
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM outbox WHERE status = 'sent'"),
        1000
    );
}

#[test]
fn a_killed_sender_leaves_only_its_message_in_flight_to_resend_with_the_same_message_id() {
    let db = TestDb::new();
    ana_with_monday_mornings(&db);
    queue_bulk(&db, 299);
    let sink = Sink::start();
    let mut sender = db
        .cmd()
        .args(["notify", "send", "--batch", "50"])
        .env("COACHCTL_SMTP_URL", sink.url())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn a sender");
    wait_until("some delivered", || sink.count() >= 60);
    sender.kill().expect("kill -9");
    sender.wait().expect("reap");
    let sent: i64 = db.scalar("SELECT count(*) FROM outbox WHERE status = 'sent'");
    let delivered = sink.count() as i64;
    assert!(
        delivered - sent <= 1,
        "at most the message in flight was delivered unmarked ({delivered} vs {sent})"
    );
    // its claim still holds the rest of its batch: a second sender leaves them ...
    let leased: i64 =
        db.scalar("SELECT count(*) FROM outbox WHERE status = 'queued' AND lease_until > now()");
    assert!(leased <= 50, "{leased}");
    // ... until the lease runs out (here: made to run out now)
    common::runtime().block_on(async {
        let pool = db.pool().await;
        sqlx::query("UPDATE outbox SET lease_until = now() WHERE lease_until > now()")
            .execute(&pool)
            .await
            .expect("expire the lease");
    });
    send(&db, &sink.url()).ok();
    let got = by_message_id(&sink);
    assert_eq!(got.len(), 300);
    let doubled: usize = got.values().map(|n| n - 1).sum();
    assert!(doubled <= 1, "{doubled}");
}

/// A coach in UTC available all day, every day, with Bo assigned.
fn always_open(db: &TestDb) {
    let (c, m) = common::ana_and_bo(db);
    db.run(&["member", "assign", &m, "--coach", &c]).ok();
    db.run(&["coach", "update", "ana@example.com", "--timezone", "UTC"])
        .ok();
    for day in ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] {
        db.run(&[
            "availability",
            "add",
            "--coach",
            "ana@example.com",
            "--day",
            day,
            "--start",
            "00:00",
            "--end",
            "23:59",
            "--length",
            "10",
            "--buffer",
            "0",
            "--capacity",
            "5",
        ])
        .ok();
    }
}

/// A start about `minutes` from now on the 10-minute grid, kept clear of
/// midnight, where no window reaches.
fn start_in(minutes: i64) -> chrono::DateTime<Utc> {
    let t = Utc::now() + Duration::minutes(minutes);
    let mut start = t
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .and_then(|t| t.with_minute(t.minute() / 10 * 10))
        .expect("a time");
    if start.hour() == 23 && start.minute() >= 40 {
        start += Duration::minutes(30);
    }
    start
}

/// An admin's 10-minute session for Bo starting about `minutes` from now.
fn session_in(db: &TestDb, minutes: i64) -> String {
    let start = start_in(minutes);
    db.run(&[
        "session",
        "create",
        "--coach",
        "ana@example.com",
        "--member",
        "bo@example.com",
        "--at",
        &start.to_rfc3339(),
        "--off-grid",
        "--length",
        "10",
        "-o",
        "ids",
    ])
    .id()
}

#[test]
fn session_remind_queues_each_due_reminder_once_even_run_twice_at_once() {
    let db = TestDb::new();
    always_open(&db);
    let soon = session_in(&db, 30);
    let later = session_in(&db, 300);
    let _tomorrow = session_in(&db, 30 * 60);
    let gone = session_in(&db, 200);
    db.run(&["session", "cancel", &gone, "--reason", "x", "--yes"])
        .ok();

    let runs = race(&db, vec![vec!["session".into(), "remind".into()]; 2]);
    assert!(runs.iter().all(|(c, _)| *c == 0), "{runs:?}");
    let q = queued(&db);
    // catch-up: the session half an hour away gets the 1 h reminder only
    for who in ["bo@example.com", "ana@example.com"] {
        assert_eq!(n(&q, "reminder.1h", who), 1, "{q:?}");
        assert_eq!(n(&q, "reminder.24h", who), 1, "{q:?}");
    }
    let per_session: Vec<(String, i64)> = common::runtime().block_on(async {
        let pool = db.pool().await;
        sqlx::query_as(
            "SELECT event, count(*) FROM outbox WHERE event LIKE 'reminder.%' AND session_id = ANY($1::uuid[])
             GROUP BY 1 ORDER BY 1",
        )
        .bind(vec![soon.clone(), later.clone()])
        .fetch_all(&pool)
        .await
        .expect("reminders")
    });
    assert_eq!(
        per_session,
        vec![
            ("reminder.1h".to_string(), 2),
            ("reminder.24h".to_string(), 2)
        ]
    );
    // a third run queues nothing new
    assert_eq!(
        db.run(&["session", "remind", "-o", "json"]).json()["queued"],
        0
    );

    // moved: reminded of the new time only; the old reminders are dropped
    let new_start = start_in(360);
    db.run(&[
        "session",
        "reschedule",
        &later,
        "--at",
        &new_start.to_rfc3339(),
    ])
    .ok();
    assert_eq!(
        db.run(&["session", "remind", "-o", "json"]).json()["queued"],
        2
    );
    let sink = Sink::start();
    let out = send(&db, &sink.url()).json();
    assert_eq!(out["skipped"], 2, "{out}");
    let reminders: Vec<String> = sink
        .messages()
        .into_iter()
        .filter_map(|m| header(&m, "Subject"))
        .filter(|s| s.starts_with("Reminder"))
        .collect();
    let hhmm = new_start.format("%H:%M").to_string();
    assert_eq!(reminders.len(), 2, "{reminders:?}");
    assert!(reminders.iter().all(|s| s.contains(&hhmm)), "{reminders:?}");
}

#[test]
fn a_refused_message_fails_at_once_and_notify_retry_queues_it_again() {
    let db = TestDb::new();
    ana_with_monday_mornings(&db);
    db.member("bounce").assigned_to("ana").create();
    db.book("ana", "bounce", &at("09:00")).ok();
    let sink = Sink::start();
    let out = send(&db, &sink.url()).json();
    assert_eq!(out["failed"], 1, "{out}");
    let failed = db
        .run(&["notify", "list", "--status", "failed", "-o", "json"])
        .json();
    let id = failed[0]["id"].as_str().expect("id").to_string();
    assert_eq!(failed[0]["recipient_email"], "bounce@example.com");
    assert!(
        failed[0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("550"))
    );

    db.run(&["notify", "retry", &id]).ok();
    assert_eq!(
        db.scalar::<String>("SELECT status FROM outbox WHERE recipient_id = (SELECT id FROM users WHERE email = 'bounce@example.com')"),
        "queued"
    );
    db.run(&["notify", "retry", &id]).fails_with(7);
    db.run(&["notify", "retry", &uuid::Uuid::new_v4().to_string()])
        .fails_with(5);
}

#[test]
fn only_an_admin_reads_sends_retries_or_reminds() {
    let db = TestDb::new();
    ana_with_monday_mornings(&db);
    for who in ["ana@example.com", "bo@example.com"] {
        for args in [
            vec!["notify", "list"],
            vec!["notify", "send", "--smtp-url", "smtp://127.0.0.1:1"],
            vec!["notify", "retry", "--all-failed"],
            vec!["session", "remind"],
        ] {
            let mut a = vec!["--as", who];
            a.extend(args);
            db.run(&a).fails_with(4);
        }
    }
    let no_url = common::Run::from(
        db.cmd()
            .args(["notify", "send"])
            .env_remove("COACHCTL_SMTP_URL")
            .output()
            .expect("run"),
    );
    no_url.fails_with(3);
}

#[test]
fn the_calendar_attachments_parse_with_python_icalendar_as_request_then_cancel() {
    let db = TestDb::new();
    ana_with_monday_mornings(&db);
    let id = book(&db, "bo@example.com", "09:00").id();
    db.run(&["session", "cancel", &id, "--reason", "sick", "--yes"])
        .ok();
    let sink = Sink::start();
    send(&db, &sink.url()).ok();
    let script = "import sys, email, glob, icalendar\n\
        for f in sorted(glob.glob(sys.argv[1] + '/*.eml')):\n\
        \x20   msg = email.message_from_binary_file(open(f, 'rb'))\n\
        \x20   for part in msg.walk():\n\
        \x20       if part.get_content_type() == 'text/calendar':\n\
        \x20           cal = icalendar.Calendar.from_ical(part.get_payload(decode=True))\n\
        \x20           for e in cal.walk('VEVENT'):\n\
        \x20               print(cal['METHOD'], e['UID'], e['SEQUENCE'], e['STATUS'], e['ORGANIZER'])";
    let out = Command::new(python())
        .args(["-c", script])
        .arg(sink.dir.path())
        .output()
        .expect("python3 icalendar (apt-get install python3-icalendar)");
    assert!(out.status.success(), "{out:?}");
    let mut seen: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    seen.sort();
    let uid = format!("{id}@coachctl");
    assert_eq!(
        seen,
        vec![
            format!("CANCEL {uid} 1 CANCELLED mailto:ana@example.com"),
            format!("CANCEL {uid} 1 CANCELLED mailto:ana@example.com"),
            format!("REQUEST {uid} 0 CONFIRMED mailto:ana@example.com"),
            format!("REQUEST {uid} 0 CONFIRMED mailto:ana@example.com"),
        ]
    );
}

mod properties {
    //! Seed 002 properties 18, 20, 28, 47, 48 and 57 as a model: for any
    //! sequence of bookings, moves and cancellations, the outbox holds
    //! exactly the notices the model expects, per event and recipient.
    use super::*;
    use proptest::prelude::*;

    const ANA: &str = "ana@example.com";
    const MEMBERS: [&str; 2] = ["bo@example.com", "cy@example.com"];

    #[derive(Debug, Clone)]
    enum Op {
        Book(usize, usize),
        Move(usize, usize),
        Cancel(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..2usize, 0..4usize).prop_map(|(m, s)| Op::Book(m, s)),
            (0..4usize, 0..4usize).prop_map(|(i, s)| Op::Move(i, s)),
            (0..4usize).prop_map(Op::Cancel),
        ]
    }

    /// Four slots of one seat each: Monday and Tuesday 09:00 and 10:15.
    fn slot(s: usize) -> String {
        let day = monday() + Duration::days((s / 2) as i64);
        format!("{day}T{}", ["09:00", "10:15"][s % 2])
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]
        #[test]
        fn the_outbox_holds_exactly_the_notices_of_what_happened(ops in proptest::collection::vec(op(), 1..7)) {
            let db = TestDb::new();
            let (c, m) = common::ana_and_bo(&db);
            db.run(&["member", "assign", &m, "--coach", &c]).ok();
            db.member(MEMBERS[1]).name("Cy").assigned_to(ANA).create();
            for day in ["mon", "tue"] {
                common::window(&db, ANA, day, ("09:00", "11:15"), 60, 15, 1);
            }
            let mut want: BTreeMap<(String, String), i64> = BTreeMap::new();
            let mut add = |event: &str, who: &str| {
                *want.entry((event.to_string(), who.to_string())).or_insert(0) += 1;
            };
            add("member.assigned", ANA);
            add("member.assigned", ANA);
            // (id, member, slot, live)
            let mut sessions: Vec<(String, usize, usize, bool)> = Vec::new();
            let taken = |ss: &Vec<(String, usize, usize, bool)>, s: usize| ss.iter().any(|x| x.3 && x.2 == s);
            for o in &ops {
                match *o {
                    Op::Book(mi, s) => {
                        let r = db.run(&["book", "--coach", ANA, "--member", MEMBERS[mi], "--at", &slot(s), "-o", "ids"]);
                        if taken(&sessions, s) {
                            r.fails_with(6);
                            add("booking.rejected", MEMBERS[mi]);
                        } else {
                            sessions.push((r.id(), mi, s, true));
                            add("session.confirmed", MEMBERS[mi]);
                            add("session.confirmed", ANA);
                        }
                    }
                    Op::Move(i, s) => {
                        let Some((id, mi, from, live)) = sessions.get(i).cloned() else { continue };
                        let r = db.run(&["session", "reschedule", &id, "--at", &slot(s)]);
                        if !live || from == s || taken(&sessions, s) {
                            prop_assert_ne!(r.code, 0, "{:?}", r);
                        } else {
                            r.ok();
                            sessions[i].2 = s;
                            add("session.rescheduled", MEMBERS[mi]);
                            add("session.rescheduled", ANA);
                        }
                    }
                    Op::Cancel(i) => {
                        let Some((id, mi, _, live)) = sessions.get(i).cloned() else { continue };
                        let r = db.run(&["session", "cancel", &id, "--reason", "x", "--yes"]);
                        if live {
                            r.ok();
                            sessions[i].3 = false;
                            add("session.cancelled", MEMBERS[mi]);
                            add("session.cancelled", ANA);
                        } else {
                            prop_assert_ne!(r.code, 0, "{:?}", r);
                        }
                    }
                }
            }
            prop_assert_eq!(queued(&db), want);
        }
    }
}

#[test]
fn a_completed_session_notifies_both_and_prompts_the_member_to_rate() {
    let db = TestDb::new();
    always_open(&db);
    let now = Utc::now();
    let start = (now + Duration::seconds(2)).to_rfc3339();
    let id = db
        .run(&[
            "session",
            "create",
            "--coach",
            "ana@example.com",
            "--member",
            "bo@example.com",
            "--at",
            &start,
            "--off-grid",
            "--length",
            "5",
            "-o",
            "ids",
        ])
        .id();
    if now.hour() == 23 && now.minute() >= 50 {
        return; // no window reaches past midnight; the next run checks it
    }
    std::thread::sleep(StdDuration::from_millis(2500));
    db.run(&["session", "complete", &id, "--notes", "good"])
        .ok();
    let q = queued(&db);
    assert_eq!(n(&q, "session.completed", "bo@example.com"), 1, "{q:?}");
    assert_eq!(n(&q, "session.completed", "ana@example.com"), 1, "{q:?}");
    let sink = Sink::start();
    send(&db, &sink.url()).ok();
    let prompt = sink
        .messages()
        .into_iter()
        .find(|m| {
            header(m, "To").is_some_and(|t| t.contains("bo@example.com"))
                && header(m, "Subject").is_some_and(|s| s.starts_with("How was your session"))
        })
        .expect("Bo's rating prompt");
    assert!(
        unfolded(&prompt).contains(&format!("coachctl session rate {id} --rating")),
        "{prompt}"
    );
}

/// A CA and a certificate for localhost signed by it, in `dir`.
fn make_pki(dir: &Path) {
    let script = "set -e
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout ca.key -out ca.crt -days 30 -subj '/CN=coachctl test ca' \
            -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout server.key -out server.csr -subj /CN=localhost
        printf 'basicConstraints=critical,CA:FALSE\\nextendedKeyUsage=serverAuth\\nsubjectAltName=DNS:localhost,IP:127.0.0.1\\n' > server.ext
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
            -out server.crt -days 30 -extfile server.ext";
    let out = Command::new("sh")
        .args(["-c", script])
        .current_dir(dir)
        .output()
        .expect("openssl (apt-get install openssl)");
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn starttls_and_implicit_tls_with_a_login_deliver_and_an_untrusted_certificate_loses_nothing() {
    let db = TestDb::new();
    ana_with_monday_mornings(&db);
    let pki = tempfile::tempdir().expect("pki");
    make_pki(pki.path());
    let file = |f: &str| pki.path().join(f).display().to_string();
    let (cert, key, ca) = (file("server.crt"), file("server.key"), file("ca.crt"));
    for mode in ["starttls", "implicit"] {
        let sink = Sink::start_with(&[
            ("SINK_TLS", mode),
            ("SINK_CERT", &cert),
            ("SINK_KEY", &key),
            ("SINK_AUTH", "mailer:s3cret"),
        ]);
        let url = |login: &str| match mode {
            "implicit" => format!("smtps://{login}@localhost:{}", sink.port),
            _ => format!("smtp://{login}@localhost:{}?tls=required", sink.port),
        };
        let run = |url: &str, ca: Option<&str>| {
            let mut c = db.cmd();
            c.args(["notify", "send", "-o", "json"])
                .env("COACHCTL_SMTP_URL", url);
            match ca {
                Some(ca) => c.env("COACHCTL_SMTP_CA", ca),
                None => c.env_remove("COACHCTL_SMTP_CA"),
            };
            common::Run::from(c.output().expect("run notify send"))
        };
        // a new notice to deliver in each mode
        let day = if mode == "implicit" { "10:15" } else { "09:00" };
        book(&db, "bo@example.com", day).ok();
        let queued_before: i64 =
            db.scalar("SELECT count(*) FROM outbox WHERE status = 'queued' AND attempts = 0");
        assert!(queued_before > 0);

        let err = run(&url("mailer:s3cret"), None).fails_with(8).to_string();
        assert!(err.contains("TLS"), "{mode}: {err}");
        assert!(
            !err.contains("s3cret"),
            "the password stays out of messages: {err}"
        );
        assert_eq!(
            db.scalar::<i64>(
                "SELECT count(*) FROM outbox WHERE status = 'queued' AND attempts = 0"
            ),
            queued_before,
            "{mode}: nothing was lost or used up"
        );
        assert_eq!(sink.count(), 0);

        let out = run(&url("mailer:s3cret"), Some(&ca)).json();
        assert_eq!(out["sent"], queued_before, "{mode}: {out}");
        assert_eq!(sink.count() as i64, queued_before);
    }
}

#[test]
fn connection_requests_answers_and_messages_notify_the_other_side_once() {
    let db = TestDb::new();
    common::ana_and_bo(&db);
    let id = db
        .run_as(
            "bo",
            &[
                "connect",
                "request",
                "--coach",
                "ana@example.com",
                "--area",
                "running",
                "--message",
                "Hi Ana",
                "-o",
                "ids",
            ],
        )
        .id();
    let q = queued(&db);
    assert_eq!(n(&q, "connection.requested", "ana@example.com"), 1, "{q:?}");
    assert_eq!(n(&q, "connection.requested", "bo@example.com"), 0, "{q:?}");
    db.run_as("ana", &["connect", "respond", &id, "--accept"])
        .ok();
    db.run_as(
        "ana",
        &[
            "message",
            "send",
            "--to",
            "bo@example.com",
            "--text",
            "Welcome, Bo",
        ],
    )
    .ok();
    let q = queued(&db);
    assert_eq!(n(&q, "connection.answered", "bo@example.com"), 1, "{q:?}");
    assert_eq!(n(&q, "message", "bo@example.com"), 1, "{q:?}");
    assert_eq!(q.values().sum::<i64>(), 3, "{q:?}");

    let sink = Sink::start();
    assert_eq!(send(&db, &sink.url()).json()["sent"], 3);
    let msgs: Vec<String> = sink.messages().iter().map(|m| unfolded(m)).collect();
    let ask = msgs
        .iter()
        .find(|m| header(m, "Subject").as_deref() == Some("Bo Member asks to connect"))
        .expect("Ana's notice");
    assert!(
        ask.contains("about running") && ask.contains("Hi Ana"),
        "{ask}"
    );
    assert!(
        msgs.iter().any(|m| header(m, "Subject").as_deref()
            == Some("Ana Coach accepted your connection request"))
    );
    let note = msgs
        .iter()
        .find(|m| header(m, "Subject").as_deref() == Some("New message from Ana Coach"))
        .expect("Bo's message notice");
    assert!(note.contains("Welcome, Bo"), "{note}");
}

/// `notify send --lease L -o json` against `url`, started now.
fn spawn_sender(db: &TestDb, url: &str, lease: Option<&str>) -> Child {
    let mut c = db.cmd();
    c.args(["notify", "send", "-o", "json"]);
    if let Some(l) = lease {
        c.args(["--lease", l]);
    }
    c.env("COACHCTL_SMTP_URL", url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn a sender")
}

/// How many messages a finished sender says it sent.
fn reported_sent(out: std::process::Output) -> u64 {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    v["sent"].as_u64().expect("a count")
}

#[test]
fn a_second_sender_after_a_slow_senders_lease_ran_out_sends_no_message_twice() {
    let db = TestDb::new();
    ana_with_monday_mornings(&db);
    queue_bulk(&db, 16);
    let total: i64 = db.scalar("SELECT count(*) FROM outbox WHERE status = 'queued'");
    // half a second a message: the first batch outlasts a 3-second lease
    let sink = Sink::start_with(&[("SINK_DELAY", "0.5")]);
    let a = spawn_sender(&db, &sink.url(), Some("3s"));
    // B starts once some message of A's claim has a lease that ran out
    wait_until("a lease of A's ran out", || {
        db.scalar::<i64>(
            "SELECT count(*) FROM outbox WHERE status = 'queued' AND lease_until < now()",
        ) > 0
    });
    let b = spawn_sender(&db, &sink.url(), None);
    let sent_a = reported_sent(a.wait_with_output().expect("wait for A"));
    let sent_b = reported_sent(b.wait_with_output().expect("wait for B"));

    let got = by_message_id(&sink);
    let twice: Vec<_> = got.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    assert_eq!(got.len() as i64, total, "every message arrived");
    assert!(
        sent_b > 0,
        "B took over the tail of A's claim ({sent_a} + {sent_b})"
    );
    assert_eq!(
        (sent_a + sent_b) as i64,
        total,
        "each marked sent by one sender"
    );
    assert_eq!(
        db.scalar::<i64>(
            "SELECT count(*) FROM outbox
             WHERE status = 'sent' AND sent_at IS NOT NULL AND claim_token IS NULL"
        ),
        total
    );
}

#[test]
fn notify_send_takes_a_lease_in_seconds_minutes_or_hours_and_refuses_anything_else() {
    let db = TestDb::new();
    ana_with_monday_mornings(&db);
    let before: i64 = db.scalar("SELECT count(*) FROM outbox WHERE status = 'queued'");
    assert!(before > 0);
    for bad in ["10", "5x", "0s", "25h", "-5m", "1.5m", "m", ""] {
        let run = common::Run::from(
            db.cmd()
                .args(["notify", "send", &format!("--lease={bad}")])
                .env("COACHCTL_SMTP_URL", "smtp://127.0.0.1:1")
                .output()
                .expect("run"),
        );
        let err = run.fails_with(3);
        assert_eq!(err.trim().lines().count(), 1, "--lease {bad:?}: {err}");
        assert!(err.contains("lease"), "--lease {bad:?}: {err}");
    }
    let sink = Sink::start();
    for good in ["30s", "5m", "1h"] {
        let run = common::Run::from(
            db.cmd()
                .args(["notify", "send", "--lease", good, "-o", "json"])
                .env("COACHCTL_SMTP_URL", sink.url())
                .output()
                .expect("run"),
        );
        run.ok();
    }
    assert_eq!(
        sink.count() as i64,
        before,
        "the first good run sent them all"
    );
}

#[test]
fn a_long_name_outside_ascii_reaches_the_mail_reader_in_whole_words() {
    let db = TestDb::new();
    ana_with_monday_mornings(&db);
    let name = "Zoë Ångström-Łukasiewicz de la Peña y Muñoz Dvořáková";
    db.member("zoe").name(name).assigned_to("ana").create();
    book(&db, "zoe@example.com", "10:15").id();
    let sink = Sink::start();
    let out = common::Run::from(
        db.cmd()
            .args([
                "notify",
                "send",
                "-o",
                "json",
                "--contact",
                "desk@gym.example",
            ])
            .env("COACHCTL_SMTP_URL", sink.url())
            .output()
            .expect("run notify send"),
    )
    .json();
    assert!(out["sent"].as_u64().unwrap_or(0) >= 1, "{out}");
    let msg = sink
        .messages()
        .into_iter()
        .find(|m| m.contains("zoe@example.com>"))
        .expect("Zoë's confirmation");
    assert_eq!(
        header(&msg, "To").as_deref(),
        Some(format!("{name} <zoe@example.com>").as_str()),
        "{msg}"
    );
    // every encoded-word holds whole words of the name
    let raw: String = msg
        .lines()
        .skip_while(|l| !l.starts_with("To: "))
        .take_while(|l| l.starts_with("To: ") || l.starts_with(' '))
        .collect();
    for token in raw.trim_start_matches("To: ").split_whitespace() {
        if let Some(b64) = token
            .strip_prefix("=?utf-8?b?")
            .and_then(|t| t.strip_suffix("?="))
        {
            use base64::Engine;
            let text = String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .unwrap(),
            )
            .unwrap();
            assert!(
                name.split(' ').any(|w| w == text.trim_end()),
                "{text:?} splits a word: {raw}"
            );
        }
    }
    let subject = header(&msg, "Subject").unwrap_or_default();
    assert!(subject.contains('–'), "one time range: {subject}");
    assert!(unfolded(&msg).contains("contact desk@gym.example"), "{msg}");
}
