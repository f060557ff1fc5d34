//! `member dashboard`, `coach dashboard` and `slots --watch`.

mod common;

use std::io::{BufRead, BufReader};
use std::sync::mpsc;

use chrono::{Duration, TimeZone, Timelike, Utc};
use common::{TestDb, monday};
use serde_json::Value;

/// A zone where it is now between 02:00 and 20:00, so that "in two hours"
/// is still today there.
fn daytime_zone() -> &'static str {
    [
        "UTC",
        "Asia/Tokyo",
        "America/New_York",
        "Pacific/Kiritimati",
        "Pacific/Honolulu",
    ]
    .into_iter()
    .find(|z| {
        let tz: chrono_tz::Tz = z.parse().unwrap();
        (2..20).contains(&Utc::now().with_timezone(&tz).hour())
    })
    .unwrap()
}

fn coach_and_members(db: &TestDb, zone: &str, members: &[&str]) {
    db.coach("ana").name("Ana Berger").tz(zone).create();
    db.coach("cy").tz(zone).create();
    for m in members {
        db.member(m).name(m).assigned_to("ana").create();
    }
    common::window(db, "ana@example.com", "mon", ("09:00", "17:00"), 60, 0, 2);
}

fn admin_session(db: &TestDb, member: &str, start: chrono::DateTime<Utc>) -> String {
    db.run(&[
        "session",
        "create",
        "--coach",
        "ana@example.com",
        "--member",
        member,
        "--at",
        &start.to_rfc3339(),
        "--off-grid",
        "--length",
        "30",
        "-o",
        "ids",
    ])
    .id()
}

#[test]
fn a_member_without_sessions_is_shown_the_exact_command_that_books_one() {
    let db = TestDb::new();
    coach_and_members(&db, "Europe/Berlin", &["bo@example.com"]);
    let d = db
        .run_as("bo", &["member", "dashboard", "-o", "json"])
        .json();
    assert!(d["next_session"].is_null(), "{d}");
    assert_eq!(d["coach"]["email"], "ana@example.com");
    assert!(
        d["coach"]["message_hint"]
            .as_str()
            .unwrap()
            .contains("message send --to ana@example.com")
    );
    let hint = d["book_hint"].as_str().unwrap().to_string();
    assert!(
        hint.starts_with("coachctl book --coach ana@example.com --at "),
        "{hint}"
    );
    // the hint works as written
    let args: Vec<&str> = hint.split_whitespace().skip(1).collect();
    let mut with_member = vec!["--as", "bo@example.com"];
    with_member.extend(args);
    db.run(&with_member).ok();
    let after = db
        .run_as("bo", &["member", "dashboard", "-o", "json"])
        .json();
    assert!(after["book_hint"].is_null(), "{after}");
    assert!(
        after["next_session"]["countdown"]
            .as_str()
            .unwrap()
            .starts_with("in ")
    );
    let table = db.run_as("bo", &["member", "dashboard"]);
    assert!(table.ok().contains("Next session in "), "{}", table.stdout);
    // by the coach's name, as `session list` reads
    let next = table.stdout.lines().nth(1).unwrap_or_default();
    assert!(next.ends_with(" with Ana Berger"), "{}", table.stdout);
}

#[test]
fn the_member_dashboard_shows_the_earliest_session_and_the_next_three_in_order() {
    let db = TestDb::new();
    coach_and_members(&db, "Europe/Berlin", &["bo@example.com", "ed@example.com"]);
    let base = Utc::now() + Duration::days(3);
    // created out of order; one cancelled, one of another member
    let ids: Vec<String> = [5, 1, 4, 2]
        .iter()
        .map(|h| admin_session(&db, "bo@example.com", base + Duration::hours(*h)))
        .collect();
    let cancelled = admin_session(&db, "bo@example.com", base - Duration::hours(1));
    db.run(&["session", "cancel", &cancelled, "--yes"]).ok();
    admin_session(&db, "ed@example.com", base - Duration::hours(2));
    let d = db
        .run_as("bo", &["member", "dashboard", "-o", "json"])
        .json();
    assert_eq!(d["next_session"]["id"], ids[1].as_str());
    let upcoming: Vec<&str> = d["upcoming"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        upcoming,
        [ids[1].as_str(), ids[3].as_str(), ids[2].as_str()]
    );
    assert!(
        d["next_session"]["countdown"]
            .as_str()
            .unwrap()
            .starts_with("in 3 d"),
        "{d}"
    );
    // who may look
    db.run_as("ana", &["member", "dashboard", "bo@example.com"])
        .ok();
    // another member, and another coach, are answered as for nobody
    db.run_as("ed", &["member", "dashboard", "bo@example.com"])
        .fails_with(5);
    db.run_as("cy", &["member", "dashboard", "bo@example.com"])
        .fails_with(5);
}

#[test]
fn the_coach_dashboard_shows_today_this_week_members_proposals_and_activity() {
    let db = TestDb::new();
    let zone = daytime_zone();
    coach_and_members(
        &db,
        zone,
        &["bo@example.com", "ed@example.com", "fi@example.com"],
    );
    db.run(&["member", "update", "fi@example.com", "--status", "paused"])
        .ok();
    let today = admin_session(&db, "bo@example.com", Utc::now() + Duration::hours(2));
    let tz: chrono_tz::Tz = zone.parse().unwrap();
    let local_today = Utc::now().with_timezone(&tz).date_naive();
    // weeks ahead, on the day after the proposal's Monday: a fixed "now + 20
    // days" fell on that Monday at 10:38 in Tokyo some hours of the day
    let later_local = (monday() + Duration::days(1))
        .and_hms_opt(12, 0, 0)
        .unwrap();
    let later_at = tz
        .from_local_datetime(&later_local)
        .unwrap()
        .with_timezone(&Utc);
    let later = admin_session(&db, "ed@example.com", later_at);
    let proposal = db
        .run_as(
            "ana",
            &[
                "session",
                "create",
                "--member",
                "bo@example.com",
                "--at",
                &format!("{}T10:00", monday()),
                "-o",
                "ids",
            ],
        )
        .id();
    db.run_as("bo", &["session", "note", &today, "--text", "see you"])
        .ok();
    let d = db
        .run_as("ana", &["coach", "dashboard", "-o", "json"])
        .json();
    let ids = |k: &str| -> Vec<String> {
        d[k].as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids("today"), std::slice::from_ref(&today), "{d}");
    assert!(!ids("this_week").contains(&later) && !ids("this_week").contains(&today));
    assert_eq!(d["active_members"], 2, "a paused member is not active");
    assert_eq!(ids("pending_proposals"), [proposal]);
    let activity = d["recent_activity"].as_array().unwrap();
    assert_eq!(activity[0]["member_email"], "bo@example.com");
    assert_eq!(activity[0]["action"], "session.note");
    for s in d["this_week"].as_array().unwrap() {
        let start = chrono::DateTime::parse_from_rfc3339(s["start"].as_str().unwrap()).unwrap();
        assert!(start.with_timezone(&tz).date_naive() > local_today);
    }
    let table = db.run_as("ana", &["coach", "dashboard"]);
    assert!(
        table
            .ok()
            .contains("2 active members, 1 pending proposal\n"),
        "{}",
        table.stdout
    );
    // The agenda rows line up: every row's 8-digit id starts in one column.
    let starts: std::collections::BTreeSet<usize> = table
        .stdout
        .lines()
        .filter(|l| l.contains('–'))
        .map(|l| l.chars().count() - 8)
        .collect();
    assert_eq!(starts.len(), 1, "{}", table.stdout);
    db.run_as("cy", &["coach", "dashboard", "ana@example.com"])
        .fails_with(4);
    db.run_as("bo", &["coach", "dashboard", "ana@example.com"])
        .fails_with(4);
    db.run(&["coach", "dashboard", "ana@example.com"]).ok();
}

/// Read lines of a child's stdout on a thread, so a test can wait with a timeout.
fn lines_of(child: &mut std::process::Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn remaining_at(line: &str, hhmm: &str) -> u64 {
    let v: Value = serde_json::from_str(line).unwrap();
    v["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["start"].as_str().unwrap().contains(&format!("T{hhmm}:")))
        .map(|s| s["remaining"].as_u64().unwrap())
        .unwrap_or(0)
}

#[test]
fn slots_watch_prints_a_json_line_when_another_process_books_and_ctrl_c_exits_0() {
    let db = TestDb::new();
    coach_and_members(&db, "Europe/Berlin", &["bo@example.com", "ed@example.com"]);
    let mut watch = db
        .cmd()
        .args([
            "slots",
            "--coach",
            "ana@example.com",
            "--from",
            &monday().to_string(),
            "--days",
            "1",
            "--all",
            "--watch",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lines = lines_of(&mut watch);
    let wait = std::time::Duration::from_secs(10);
    let first = lines.recv_timeout(wait).expect("the initial view");
    assert_eq!(remaining_at(&first, "09:00"), 2, "{first}");
    let booked = db.booked("ana", "bo", &format!("{}T09:00", monday()));
    let second = lines.recv_timeout(wait).expect("a line after the booking");
    assert_eq!(remaining_at(&second, "09:00"), 1, "{second}");
    db.run(&["session", "cancel", &booked, "--yes"]).ok();
    let third = lines
        .recv_timeout(wait)
        .expect("a line after the cancellation");
    assert_eq!(remaining_at(&third, "09:00"), 2, "{third}");
    // Ctrl-C
    std::process::Command::new("kill")
        .args(["-INT", &watch.id().to_string()])
        .status()
        .unwrap();
    let status = watch.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    // Only watched coaches are notified (NOTIFY serialises commits): the
    // watcher registered itself and went away cleanly.
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM slot_watchers"), 0);
}
