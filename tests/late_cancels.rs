//! Late cancellations and no-shows (issue 20, item 3): recorded by the
//! database against the coach's cancellation notice, and by the coach after
//! the start; both counted on the dashboards and in the member's history.

mod common;

use chrono::{Duration, Utc};
use common::TestDb;
use serde_json::Value;

/// Ana (Berlin) with Bo assigned; a cancellation notice of 24 hours.
fn ana_and_bo(db: &TestDb) {
    let (c, m) = common::ana_and_bo(db);
    db.run(&["member", "assign", &m, "--coach", &c]).ok();
    db.run(&[
        "coach",
        "update",
        "ana@example.com",
        "--cancel-notice",
        "24",
    ])
    .ok();
}

/// An admin's off-grid session for Bo with Ana starting `from_now` ahead.
fn session_in(db: &TestDb, from_now: Duration) -> String {
    db.run(&[
        "session",
        "create",
        "--coach",
        "ana@example.com",
        "--member",
        "bo@example.com",
        "--at",
        &(Utc::now() + from_now).to_rfc3339(),
        "--off-grid",
        "--length",
        "30",
        "-o",
        "ids",
    ])
    .id()
}

fn cancel(db: &TestDb, who: &str, id: &str) -> Value {
    db.run_as(who, &["-y", "session", "cancel", id, "-o", "json"])
        .json()
}

#[test]
fn a_members_cancellation_inside_the_notice_is_recorded_late_and_others_are_not() {
    let db = TestDb::new();
    ana_and_bo(&db);
    let soon = session_in(&db, Duration::hours(3));
    let later = session_in(&db, Duration::days(3));
    let by_coach = session_in(&db, Duration::hours(5));
    assert_eq!(cancel(&db, "bo@example.com", &soon)["late_cancel"], true);
    assert_eq!(cancel(&db, "bo@example.com", &later)["late_cancel"], false);
    assert_eq!(
        cancel(&db, "ana@example.com", &by_coach)["late_cancel"],
        false
    );
    // tables say it
    let table = db
        .run_as("bo", &["session", "show", &soon])
        .ok()
        .to_string();
    assert!(table.contains("late"), "{table}");
    let listed = db
        .run_as("bo", &["session", "list", "--all"])
        .ok()
        .to_string();
    assert!(listed.contains("cancelled late"), "{listed}");
    // history and dashboards count it
    let history = db
        .run(&["member", "history", "bo@example.com", "-o", "json"])
        .json();
    let late: Vec<&Value> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "late_cancel")
        .collect();
    assert_eq!(late.len(), 1, "{history}");
    let dash = db
        .run_as("bo", &["member", "dashboard", "-o", "json"])
        .json();
    assert_eq!(dash["late_cancels"], 1);
    let dash = db
        .run_as("ana", &["coach", "dashboard", "-o", "json"])
        .json();
    assert_eq!(dash["late_cancels_30d"], 1);
    // and so do member progress and the coach report
    let progress = db
        .run(&["member", "progress", "bo@example.com", "-o", "json"])
        .json();
    assert_eq!(progress["late_cancellations"], 1, "{progress}");
    // to a week ahead: the session, three hours from now, may fall on
    // tomorrow in the coach's zone (the default report ends today)
    let to = (Utc::now() + Duration::days(7)).date_naive().to_string();
    let report = db
        .run(&[
            "coach",
            "report",
            "ana@example.com",
            "--to",
            &to,
            "-o",
            "json",
        ])
        .json();
    assert_eq!(report["members"][0]["late_cancellations"], 1, "{report}");
}

#[test]
fn without_a_notice_no_cancellation_is_late() {
    let db = TestDb::new();
    ana_and_bo(&db);
    db.run(&["coach", "update", "ana@example.com", "--no-cancel-notice"])
        .ok();
    let soon = session_in(&db, Duration::hours(1));
    assert_eq!(cancel(&db, "bo@example.com", &soon)["late_cancel"], false);
}

#[test]
fn the_coach_records_a_no_show_after_the_start_and_it_frees_nothing() {
    let db = TestDb::new();
    ana_and_bo(&db);
    let future = session_in(&db, Duration::days(2));
    let started = session_in(&db, Duration::seconds(2));
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let err = db
        .run_as("ana", &["session", "no-show", &future])
        .fails_with(7)
        .to_string();
    assert!(err.contains("has not started yet"), "{err}");
    db.run_as("bo", &["session", "no-show", &started])
        .fails_with(4);
    let s = db
        .run_as("ana", &["session", "no-show", &started, "-o", "json"])
        .json();
    assert_eq!(s["status"], "scheduled");
    assert!(s["no_show_at"].is_string(), "{s}");
    db.run_as("ana", &["session", "no-show", &started])
        .fails_with(6);
    // still holding its seat
    assert_eq!(
        db.scalar::<i64>("SELECT booked::int8 FROM slots ORDER BY starts_at LIMIT 1"),
        1
    );
    let history = db
        .run(&["member", "history", "bo@example.com", "-o", "json"])
        .json();
    assert!(
        history
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "no_show"),
        "{history}"
    );
    let dash = db
        .run_as("ana", &["coach", "dashboard", "-o", "json"])
        .json();
    assert_eq!(dash["no_shows_30d"], 1);
    let progress = db
        .run(&["member", "progress", "bo@example.com", "-o", "json"])
        .json();
    assert_eq!(progress["no_shows"], 1, "{progress}");
    let report = db.run_as("ana", &["coach", "report", "-o", "json"]).json();
    assert_eq!(report["members"][0]["no_shows"], 1, "{report}");
    let table = db.run_as("ana", &["coach", "report"]).ok().to_string();
    assert!(table.contains("MISS"), "{table}");
}
