//! The session lifecycle: propose, consent, reschedule, complete, notes and
//! ratings — contract examples, exit codes, who may do what, and races of
//! real processes with the invariants checked in SQL afterwards.

mod common;

use chrono::{Duration, NaiveDate, Utc};
use common::{TestDb, monday, race};
use serde_json::Value;

/// Coach Ana (Berlin, Monday 09:00-12:00, 60 + 15 minutes, capacity `cap`)
/// with Bo assigned; another coach Cy with member Di. Returns nothing: the
/// tests name people by email.
fn ana_bo_cy_di(db: &TestDb, cap: u32) {
    for (email, zone) in [
        ("ana@example.com", "Europe/Berlin"),
        ("cy@example.com", "UTC"),
    ] {
        db.coach(email)
            .name(email)
            .tz(zone)
            .max_members(50)
            .create();
    }
    for (email, coach) in [
        ("bo@example.com", "ana@example.com"),
        ("di@example.com", "cy@example.com"),
    ] {
        db.member(email).name(email).assigned_to(coach).create();
    }
    common::window(
        db,
        "ana@example.com",
        "mon",
        ("09:00", "12:00"),
        60,
        15,
        cap,
    );
}

/// `book` with Ana for `member` at Monday `hhmm` (Berlin), plus `more` arguments.
fn book(db: &TestDb, member: &str, hhmm: &str, more: &[&str]) -> common::Run {
    let at = at(monday(), hhmm);
    let mut args = vec![
        "book",
        "--coach",
        "ana@example.com",
        "--member",
        member,
        "--at",
        &at,
    ];
    args.extend(more);
    db.run(&args)
}

fn at(day: NaiveDate, hhmm: &str) -> String {
    format!("{day}T{hhmm}")
}

/// `session create` as Ana for Bo at Monday `hhmm`: the session's JSON.
fn propose(db: &TestDb, hhmm: &str) -> Value {
    db.run_as(
        "ana",
        &[
            "session",
            "create",
            "--member",
            "bo@example.com",
            "--at",
            &at(monday(), hhmm),
            "-o",
            "json",
        ],
    )
    .json()
}

/// An admin's off-grid session for Bo with Ana starting in a few seconds,
/// so that it can be completed once it has started.
fn session_starting_now(db: &TestDb) -> String {
    let start = (Utc::now() + Duration::seconds(2)).to_rfc3339();
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
            "30",
            "-o",
            "ids",
        ])
        .id();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    id
}

#[test]
fn a_coach_proposes_the_member_accepts_and_it_is_scheduled() {
    let db = TestDb::new();
    ana_bo_cy_di(&db, 1);
    let s = propose(&db, "09:00");
    assert_eq!(s["status"], "proposed");
    assert_eq!(s["session_type"], "initial");
    assert!(s["expires_at"].is_string(), "{s}");
    let id = s["id"].as_str().unwrap();
    // the proposal holds the seat (capacity 1)
    book(&db, "bo@example.com", "09:00", &[]).fails_with(6);
    let accepted = db
        .run_as("bo", &["session", "accept", id, "-o", "json"])
        .json();
    assert_eq!(accepted["status"], "scheduled");
    assert_eq!(accepted["sequence"], 1);
    assert!(
        accepted["expires_at"].is_null(),
        "an accepted session has no deadline to show: {accepted}"
    );
    // accepting twice is a rule violation
    db.run_as("bo", &["session", "accept", id]).fails_with(7);
    db.assert_invariants();
}

#[test]
fn an_admin_creates_a_scheduled_session_and_a_member_cannot_create_one() {
    let db = TestDb::new();
    ana_bo_cy_di(&db, 1);
    let s = db
        .run(&[
            "session",
            "create",
            "--coach",
            "ana@example.com",
            "--member",
            "bo@example.com",
            "--at",
            &at(monday(), "10:15"),
            "--type",
            "followup",
            "-o",
            "json",
        ])
        .json();
    assert_eq!(s["status"], "scheduled");
    assert_eq!(s["session_type"], "followup");
    assert!(s["expires_at"].is_null());
    db.run_as(
        "bo",
        &[
            "session",
            "create",
            "--coach",
            "ana@example.com",
            "--member",
            "bo@example.com",
            "--at",
            &at(monday(), "09:00"),
        ],
    )
    .fails_with(4);
    // a coach cannot put another coach's member into a session: to Ana, Di is nobody
    db.run_as(
        "ana",
        &[
            "session",
            "create",
            "--member",
            "di@example.com",
            "--at",
            &at(monday(), "09:00"),
        ],
    )
    .fails_with(5);
    // outside the windows without --off-grid: exit 7; a full slot: exit 6
    db.run(&[
        "session",
        "create",
        "--coach",
        "ana@example.com",
        "--member",
        "bo@example.com",
        "--at",
        &at(monday(), "13:00"),
    ])
    .fails_with(7);
    let full = db
        .run(&[
            "session",
            "create",
            "--coach",
            "ana@example.com",
            "--member",
            "bo@example.com",
            "--at",
            &at(monday(), "10:15"),
        ])
        .fails_with(6)
        .to_string();
    assert!(
        full.contains("This slot is now full, please choose another"),
        "{full}"
    );
    db.assert_invariants();
}

#[test]
fn off_the_grid_a_session_still_never_breaches_a_buffer() {
    let db = TestDb::new();
    ana_bo_cy_di(&db, 3);
    book(&db, "bo@example.com", "09:00", &[]).ok();
    // 10:05 is 5 minutes after the 09:00 session ends: inside its 15-minute buffer
    db.run(&[
        "session",
        "create",
        "--coach",
        "ana@example.com",
        "--member",
        "bo@example.com",
        "--at",
        &at(monday(), "10:05"),
        "--off-grid",
    ])
    .fails_with(7);
    db.run(&[
        "session",
        "create",
        "--coach",
        "ana@example.com",
        "--member",
        "bo@example.com",
        "--at",
        &at(monday(), "14:00"),
        "--off-grid",
        "--length",
        "45",
    ])
    .ok();
    db.assert_invariants();
}

#[test]
fn declining_frees_the_seat_and_only_the_member_answers() {
    let db = TestDb::new();
    ana_bo_cy_di(&db, 1);
    let id = propose(&db, "09:00")["id"].as_str().unwrap().to_string();
    db.run_as("di", &["session", "accept", &id]).fails_with(4);
    db.run_as("cy", &["session", "decline", &id]).fails_with(4);
    db.run_as("ana", &["session", "accept", &id]).fails_with(4);
    let declined = db
        .run_as(
            "bo",
            &["session", "decline", &id, "--reason", "away", "-o", "json"],
        )
        .json();
    assert_eq!(declined["status"], "declined");
    assert_eq!(declined["decline_reason"], "away");
    book(&db, "bo@example.com", "09:00", &[]).ok();
    db.assert_invariants();
}

#[test]
fn an_expired_proposal_holds_no_seat_and_cannot_be_accepted() {
    let db = TestDb::new();
    ana_bo_cy_di(&db, 1);
    let expires = (Utc::now() + Duration::seconds(2)).to_rfc3339();
    let id = db
        .run_as(
            "ana",
            &[
                "session",
                "create",
                "--member",
                "bo@example.com",
                "--at",
                &at(monday(), "09:00"),
                "--expires",
                &expires,
                "-o",
                "ids",
            ],
        )
        .id();
    // never after the start
    db.run_as(
        "ana",
        &[
            "session",
            "create",
            "--member",
            "bo@example.com",
            "--at",
            &at(monday(), "10:15"),
            "--expires",
            &at(monday() + Duration::days(1), "09:00"),
        ],
    )
    .fails_with(3);
    std::thread::sleep(std::time::Duration::from_millis(2500));
    // no write happened since: the slot is offered again...
    let slots = db
        .run(&[
            "slots",
            "--coach",
            "ana@example.com",
            "--from",
            &monday().to_string(),
            "--days",
            "1",
            "-o",
            "json",
        ])
        .json();
    assert_eq!(slots[0]["remaining"], 1, "{slots}");
    let err = db
        .run_as("bo", &["session", "accept", &id])
        .fails_with(7)
        .to_string();
    assert!(err.contains("expired"), "{err}");
    // ...and the database agrees: the next booking takes it
    book(&db, "bo@example.com", "09:00", &[]).ok();
    assert_eq!(
        db.scalar::<String>(
            "SELECT status FROM sessions WHERE id = '$1'"
                .replace("$1", &id)
                .leak()
        ),
        "expired"
    );
    db.assert_invariants();
}

#[test]
fn rescheduling_moves_the_seat_raises_the_sequence_and_a_full_target_changes_nothing() {
    let db = TestDb::new();
    ana_bo_cy_di(&db, 1);
    db.member("ed").assigned_to("ana").create();
    let id = book(&db, "bo@example.com", "09:00", &["-o", "json"]).json()["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let moved = db
        .run_as(
            "bo",
            &[
                "session",
                "reschedule",
                &id,
                "--at",
                &at(monday(), "10:15"),
                "--tz",
                "Europe/Berlin",
                "-o",
                "json",
            ],
        )
        .json();
    assert_eq!(moved["sequence"], 1);
    assert!(
        moved["start"].as_str().unwrap().contains("10:15"),
        "{moved}"
    );
    // the old seat is free again (capacity 1): Ed takes it
    book(&db, "ed@example.com", "09:00", &[]).ok();
    let err = db
        .run(&["session", "reschedule", &id, "--at", &at(monday(), "09:00")])
        .fails_with(6)
        .to_string();
    assert!(
        err.contains("This slot is now full, please choose another"),
        "{err}"
    );
    db.run(&["session", "reschedule", &id, "--at", &at(monday(), "13:00")])
        .fails_with(7);
    db.run_as(
        "di",
        &["session", "reschedule", &id, "--at", &at(monday(), "09:00")],
    )
    .fails_with(4);
    db.run_as(
        "cy",
        &["session", "reschedule", &id, "--at", &at(monday(), "09:00")],
    )
    .fails_with(4);
    assert_eq!(
        db.scalar::<i32>(
            "SELECT sequence FROM sessions WHERE id = '$1'"
                .replace("$1", &id)
                .leak()
        ),
        1,
        "refused moves change nothing"
    );
    db.assert_invariants();
}

#[test]
fn forty_processes_rescheduling_into_one_slot_of_capacity_three_leave_exactly_three() {
    let db = TestDb::new();
    db.coach("ana").tz("UTC").max_members(50).create();
    common::window(&db, "ana@example.com", "mon", ("06:00", "22:00"), 15, 0, 3);
    let mut ids = Vec::new();
    for i in 0..40 {
        let email = format!("m{i}@example.com");
        db.member(&email).name("M").assigned_to("ana").create();
        let minute = 6 * 60 + 15 * (i + 1);
        let hhmm = format!("{:02}:{:02}", minute / 60, minute % 60);
        ids.push(
            db.book_with("ana", &email, &at(monday(), &hhmm), &["-o", "json"])
                .json()["session_id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let target = at(monday(), "06:00");
    let runs = ids
        .iter()
        .map(|id| {
            ["session", "reschedule", id, "--at", &target]
                .iter()
                .map(|s| s.to_string())
                .collect()
        })
        .collect();
    let results = race(&db, runs);
    for (code, err) in &results {
        assert!([0, 6].contains(code), "exit {code}: {err}");
    }
    assert_eq!(
        results.iter().filter(|(c, _)| *c == 0).count(),
        3,
        "{results:?}"
    );
    assert_eq!(
        db.scalar::<i64>(
            "SELECT count(*) FROM sessions WHERE status = 'scheduled' AND starts_at::time = '06:00'"
        ),
        3
    );
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM sessions WHERE status = 'scheduled'"),
        40
    );
    db.assert_invariants();
}

#[test]
fn completing_needs_a_started_scheduled_session_and_the_coach() {
    let db = TestDb::new();
    ana_bo_cy_di(&db, 1);
    let future = propose(&db, "09:00")["id"].as_str().unwrap().to_string();
    db.run(&["session", "complete", &future]).fails_with(7);
    db.run_as("bo", &["session", "accept", &future]).ok();
    let err = db
        .run(&["session", "complete", &future])
        .fails_with(7)
        .to_string();
    assert!(err.contains("not started"), "{err}");
    let id = session_starting_now(&db);
    db.run_as("bo", &["session", "complete", &id]).fails_with(4);
    db.run_as("cy", &["session", "complete", &id]).fails_with(4);
    let done = db
        .run_as(
            "ana",
            &[
                "session",
                "complete",
                &id,
                "--notes",
                "knee pain",
                "--outcomes",
                "deadlift form fixed",
                "-o",
                "json",
            ],
        )
        .json();
    assert_eq!(done["status"], "completed");
    assert!(done["completed_at"].is_string());
    assert_eq!(done["outcomes"], "deadlift form fixed");
    db.run(&["session", "complete", &id]).fails_with(7);
    db.run(&["session", "cancel", &id, "--yes"]).fails_with(7);
}

#[test]
fn private_notes_are_absent_for_the_member_in_every_format() {
    let db = TestDb::new();
    ana_bo_cy_di(&db, 1);
    let id = propose(&db, "09:00")["id"].as_str().unwrap().to_string();
    db.run_as(
        "ana",
        &["session", "note", &id, "--text", "SECRET-knee", "--private"],
    )
    .ok();
    db.run_as("bo", &["session", "note", &id, "--text", "shared-hello"])
        .ok();
    db.run_as("bo", &["session", "note", &id, "--text", "x", "--private"])
        .fails_with(4);
    db.run_as("di", &["session", "note", &id, "--text", "x"])
        .fails_with(4);
    db.run_as("cy", &["session", "show", &id]).fails_with(4);
    for format in ["json", "csv", "table"] {
        let out = db.run_as("bo", &["session", "show", &id, "-o", format]);
        let text = out.ok();
        assert!(!text.contains("SECRET"), "{format}: {text}");
        assert!(text.contains("shared-hello"), "{format}: {text}");
        let coach = db.run_as("ana", &["session", "show", &id, "-o", format]);
        assert!(coach.ok().contains("SECRET-knee"), "{format}");
    }
    let json = db
        .run_as("bo", &["session", "show", &id, "-o", "json"])
        .json();
    assert_eq!(json["notes"].as_array().unwrap().len(), 1);
}

#[test]
fn a_rating_is_given_once_by_the_member_after_completion_and_shows_on_the_coach() {
    let db = TestDb::new();
    ana_bo_cy_di(&db, 1);
    let future = propose(&db, "09:00")["id"].as_str().unwrap().to_string();
    db.run_as("bo", &["session", "rate", &future, "--rating", "5"])
        .fails_with(7);
    let id = session_starting_now(&db);
    db.run(&["session", "complete", &id]).ok();
    db.run_as("bo", &["session", "rate", &id, "--rating", "7"])
        .fails_with(3);
    db.run_as("bo", &["session", "rate", &id, "--rating", "0"])
        .fails_with(3);
    db.run_as("ana", &["session", "rate", &id, "--rating", "5"])
        .fails_with(4);
    db.run(&["session", "rate", &id, "--rating", "5"])
        .fails_with(4);
    db.run_as("di", &["session", "rate", &id, "--rating", "5"])
        .fails_with(4);
    let before = db
        .run(&["coach", "show", "ana@example.com", "-o", "json"])
        .json();
    assert_eq!(before["rating_count"], 0);
    assert!(before["rating_average"].is_null());
    // two at once: the database keeps one
    let runs = (0..2)
        .map(|i| {
            [
                "--as",
                "bo@example.com",
                "session",
                "rate",
                &id,
                "--rating",
                if i == 0 { "4" } else { "5" },
            ]
            .iter()
            .map(|s| s.to_string())
            .collect()
        })
        .collect();
    let results = race(&db, runs);
    let mut codes: Vec<i32> = results.iter().map(|(c, _)| *c).collect();
    codes.sort();
    assert_eq!(codes, [0, 6], "{results:?}");
    let after = db
        .run(&["coach", "show", "ana@example.com", "-o", "json"])
        .json();
    assert_eq!(after["rating_count"], 1);
    assert!(after["rating_average"].as_f64().unwrap() >= 4.0);
    db.run_as("bo", &["session", "rate", &id, "--rating", "3"])
        .fails_with(6);
    // and raw SQL cannot rate an uncompleted session
    let err = common::runtime().block_on(async {
        let pool = db.pool().await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "INSERT INTO session_ratings (session_id, member_id, coach_id, rating)
             SELECT id, member_id, coach_id, 5 FROM sessions WHERE id = '{future}'"
        )))
        .execute(&pool)
        .await
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
    });
    assert!(
        err.as_ref()
            .is_err_and(|e| e.contains("session_ratings_completed_own")),
        "{err:?}"
    );
}

#[test]
fn the_first_session_with_a_coach_is_initial_and_later_ones_regular() {
    let db = TestDb::new();
    ana_bo_cy_di(&db, 1);
    let first = book(&db, "bo@example.com", "09:00", &["-o", "json"]).json();
    let second = book(&db, "bo@example.com", "10:15", &["-o", "json"]).json();
    let types = db.run(&["session", "list", "-o", "json"]).json();
    let t: Vec<&str> = types
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["session_type"].as_str().unwrap())
        .collect();
    assert_eq!(t, ["initial", "regular"], "{first} {second}");
}

#[test]
fn session_list_upcoming_shows_only_seats_still_ahead() {
    let db = TestDb::new();
    ana_bo_cy_di(&db, 1);
    let p = propose(&db, "09:00")["id"].as_str().unwrap().to_string();
    let s = propose(&db, "10:15")["id"].as_str().unwrap().to_string();
    db.run_as("bo", &["session", "decline", &s]).ok();
    let now = session_starting_now(&db);
    let up = db
        .run(&["session", "list", "--upcoming", "-o", "ids"])
        .ok()
        .to_string();
    assert!(
        up.contains(&p) && !up.contains(&s) && !up.contains(&now),
        "{up}"
    );
    let proposed = db
        .run(&["session", "list", "--status", "proposed", "-o", "ids"])
        .ok()
        .to_string();
    assert_eq!(proposed.trim(), p);
}
