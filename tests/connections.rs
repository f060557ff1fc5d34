//! Connections (DESIGN.md "Connections", issue 10 points 3, 5 and 9): one
//! open request per pair, a 30-day cool-down after a decline, only the asked
//! side answers, either side removes, and booking needs an assignment or an
//! accepted connection.

mod common;

use common::{TestDb, ana_and_bo, monday, window};

/// Bo asks Ana to connect; returns the connection id.
fn bo_asks_ana(db: &TestDb) -> String {
    db.run_as(
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
    .id()
}

fn respond(db: &TestDb, who: &str, id: &str, answer: &str) -> common::Run {
    db.run_as(who, &["connect", "respond", id, answer])
}

fn status(db: &TestDb) -> String {
    db.scalar::<String>("SELECT string_agg(status, ',' ORDER BY created_at) FROM connections")
}

fn book_monday_nine(db: &TestDb) -> common::Run {
    let at = format!("{}T09:00", monday());
    db.run_as("bo", &["book", "--coach", "ana@example.com", "--at", &at])
}

#[test]
fn a_member_asks_a_coach_who_accepts_and_both_see_the_connection() {
    let db = TestDb::new();
    ana_and_bo(&db);
    let id = bo_asks_ana(&db);
    respond(&db, "ana@example.com", &id, "--accept").ok();
    assert_eq!(status(&db), "accepted");
    for who in ["ana@example.com", "bo@example.com"] {
        let list = db.run_as(who, &["connect", "list", "-o", "json"]).json();
        assert_eq!(list[0]["area"], "running", "{who}");
        assert_eq!(list[0]["status"], "accepted", "{who}");
    }
    assert_eq!(
        db.scalar::<i64>(
            "SELECT count(*) FROM audit_log WHERE action IN ('connection.request', 'connection.accept')"
        ),
        2
    );
}

#[test]
fn a_second_open_request_for_a_pair_exits_6_whoever_asks() {
    let db = TestDb::new();
    ana_and_bo(&db);
    bo_asks_ana(&db);
    let again = db.run_as(
        "bo",
        &[
            "connect",
            "request",
            "--coach",
            "ana@example.com",
            "--area",
            "x",
        ],
    );
    assert!(
        again
            .fails_with(6)
            .contains("already have an open connection")
    );
    db.run_as(
        "ana",
        &[
            "connect",
            "request",
            "--member",
            "bo@example.com",
            "--area",
            "x",
        ],
    )
    .fails_with(6);
    assert_eq!(status(&db), "pending");
}

#[test]
fn a_declined_pair_may_ask_again_only_after_thirty_days() {
    let db = TestDb::new();
    ana_and_bo(&db);
    let id = bo_asks_ana(&db);
    respond(&db, "ana@example.com", &id, "--decline").ok();
    let soon = db.run_as(
        "bo",
        &[
            "connect",
            "request",
            "--coach",
            "ana@example.com",
            "--area",
            "x",
        ],
    );
    assert!(soon.fails_with(7).contains("ask again from"));
    db.scalar::<i64>(
        "WITH d AS (UPDATE connections SET answered_at = now() - interval '31 days' RETURNING 1)
         SELECT count(*) FROM d",
    );
    bo_asks_ana(&db);
    assert_eq!(status(&db), "declined,pending");
}

#[test]
fn only_the_asked_side_answers_and_either_side_or_an_admin_removes() {
    let db = TestDb::new();
    ana_and_bo(&db);
    db.coach("cal").create();
    db.member("mo").create();
    db.member("gone").create();
    db.scalar::<i64>("WITH d AS (UPDATE users SET active = false WHERE email = 'gone@example.com' RETURNING 1) SELECT count(*) FROM d");
    let id = bo_asks_ana(&db);
    for who in [
        "bo@example.com",
        "cal@example.com",
        "mo@example.com",
        "gone@example.com",
        "nobody@example.com",
    ] {
        respond(&db, who, &id, "--accept").fails_with(4);
    }
    db.run(&["connect", "respond", &id, "--accept"])
        .fails_with(4);
    assert_eq!(status(&db), "pending");
    respond(&db, "ana@example.com", &id, "--accept").ok();
    respond(&db, "ana@example.com", &id, "--accept").fails_with(7);
    for who in ["cal@example.com", "mo@example.com", "gone@example.com"] {
        db.run_as(who, &["connect", "remove", &id]).fails_with(4);
        let seen = db.run_as(who, &["connect", "list", "-o", "json"]);
        if who != "gone@example.com" {
            assert_eq!(seen.json().as_array().unwrap().len(), 0, "{who}");
        }
    }
    db.run(&["connect", "list", "-o", "json"]).ok();
    db.run_as("bo", &["connect", "remove", &id]).ok();
    db.run_as("ana", &["connect", "remove", &id]).fails_with(7);
    db.run(&["connect", "remove", "00000000-0000-0000-0000-000000000000"])
        .fails_with(5);
    assert_eq!(status(&db), "removed");
    // a member may not ask on someone else's behalf, a coach not for another coach
    db.run_as(
        "mo",
        &[
            "connect",
            "request",
            "--member",
            "bo@example.com",
            "--coach",
            "ana@example.com",
            "--area",
            "x",
        ],
    )
    .fails_with(4);
    db.run_as(
        "cal",
        &[
            "connect",
            "request",
            "--coach",
            "ana@example.com",
            "--member",
            "bo@example.com",
            "--area",
            "x",
        ],
    )
    .fails_with(4);
}

#[test]
fn a_connected_member_books_and_after_removal_keeps_the_session_but_books_no_more() {
    let db = TestDb::new();
    ana_and_bo(&db);
    window(&db, "ana@example.com", "mon", ("09:00", "12:00"), 60, 15, 3);
    assert!(
        book_monday_nine(&db)
            .fails_with(7)
            .contains("neither assigned nor connected")
    );
    let id = bo_asks_ana(&db);
    book_monday_nine(&db).fails_with(7);
    respond(&db, "ana@example.com", &id, "--accept").ok();
    book_monday_nine(&db).ok();
    db.run_as("ana", &["connect", "remove", &id]).ok();
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM sessions WHERE status = 'scheduled'"),
        1,
        "the booked session stays"
    );
    db.book("ana", "bo", &format!("{}T10:15", monday()))
        .fails_with(7);
    let at = format!("{}T10:15", monday());
    db.run_as(
        "ana",
        &[
            "session",
            "create",
            "--member",
            "bo@example.com",
            "--at",
            &at,
        ],
    )
    .fails_with(4);
    db.assert_invariants();
}
