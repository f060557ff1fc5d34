//! Programs (issue 19): templates, assigning a whole series atomically,
//! answering, adjusting and cancelling it, progress, and who may do what.
//! Real processes against a real database; the database is checked after.

mod common;

use common::{TestDb, monday, race, window};

/// Coach Ana (Berlin) with members bo and cy assigned, Wednesday 09:00-10:00
/// (one 60-minute slot, one seat) and Thursday 10:00-11:00 likewise; a
/// second coach Dee with member di. Returns Ana's 4-week program.
fn setup(db: &TestDb) -> String {
    for (email, name) in [
        ("ana@example.com", "Ana Coach"),
        ("dee@example.com", "Dee Coach"),
    ] {
        db.coach(email)
            .name(name)
            .tz("Europe/Berlin")
            .max_members(30)
            .create();
    }
    for (email, coach) in [
        ("bo@example.com", "ana@example.com"),
        ("cy@example.com", "ana@example.com"),
        ("di@example.com", "dee@example.com"),
    ] {
        db.member(email).name("M").assigned_to(coach).create();
    }
    window(db, "ana@example.com", "wed", ("09:00", "10:00"), 60, 15, 1);
    window(db, "ana@example.com", "thu", ("10:00", "11:00"), 60, 15, 1);
    db.run_as(
        "ana",
        &[
            "program",
            "create",
            "--name",
            "Strength basics",
            "--weeks",
            "4",
            "--difficulty",
            "beginner",
            "--goal",
            "squat",
            "--goal",
            "posture",
            "-o",
            "ids",
        ],
    )
    .id()
}

/// The operator assigns `program` to `member` from this Monday, Wednesdays
/// at 09:00: the enrolment's id.
fn enrol(db: &TestDb, program: &str, member: &str) -> String {
    let start = monday().to_string();
    db.run(&[
        "program",
        "assign",
        program,
        "--member",
        member,
        "--start",
        &start,
        "--at",
        "wed 09:00",
        "-o",
        "ids",
    ])
    .id()
}

/// `program assign PROGRAM --member MEMBER --start START --at 'wed 09:00'`, then `extra`.
fn assign_args<'a>(
    program: &'a str,
    member: &'a str,
    start: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        "program",
        "assign",
        program,
        "--member",
        member,
        "--start",
        start,
        "--at",
        "wed 09:00",
    ];
    args.extend_from_slice(extra);
    args
}

fn assign(db: &TestDb, actor: &str, program: &str, member: &str) -> common::Run {
    let start = monday().to_string();
    db.run_as(actor, &assign_args(program, member, &start, &["-o", "ids"]))
}

fn count(db: &TestDb, sql: &'static str) -> i64 {
    db.scalar::<i64>(sql)
}

#[test]
fn a_coach_assignment_proposes_the_whole_series_with_one_notice_a_side_and_the_member_accepts_it_whole()
 {
    let db = TestDb::new();
    let p = setup(&db);
    let e = assign(&db, "ana@example.com", &p, "bo@example.com").id();
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM sessions WHERE enrolment_id IS NOT NULL AND status = 'proposed'"
        ),
        4
    );
    // one notice per side for the series, none per session
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM outbox WHERE event = 'program.proposed'"
        ),
        2
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM outbox WHERE event LIKE 'session.%'"
        ),
        0
    );
    let ics: String =
        db.scalar("SELECT payload::text FROM outbox WHERE event = 'program.proposed' LIMIT 1");
    assert_eq!(ics.matches("session_id").count(), 4, "{ics}");
    // only the member answers
    db.run_as("ana", &["program", "accept", &e]).fails_with(4);
    let shown = db
        .run_as("bo", &["program", "accept", &e, "-o", "json"])
        .json();
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["remaining"], 4);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM sessions WHERE enrolment_id IS NOT NULL AND status = 'scheduled'"
        ),
        4
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM outbox WHERE event = 'program.accepted'"
        ),
        1
    );
    db.assert_invariants();
}

#[test]
fn an_admins_assignment_is_scheduled_at_once_and_the_notice_carries_every_event() {
    let db = TestDb::new();
    let p = setup(&db);
    let start = monday().to_string();
    let e = db
        .run(&assign_args(&p, "bo@example.com", &start, &["-o", "json"]))
        .json();
    assert_eq!(e["status"], "active");
    assert_eq!(e["sessions"], 4);
    assert_eq!(e["percent"], 0);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM outbox WHERE event = 'program.assigned'"
        ),
        2
    );
    db.run(&["notify", "list", "-o", "json"]).ok();
    db.assert_invariants();
}

#[test]
fn a_series_meeting_one_full_week_books_nothing_and_names_that_date_with_exit_6() {
    let db = TestDb::new();
    let p = setup(&db);
    let third = monday() + chrono::Duration::days(2 + 14);
    db.book("ana", "cy", &format!("{third}T09:00")).ok();
    let err = assign(&db, "ana@example.com", &p, "bo@example.com")
        .fails_with(6)
        .to_string();
    assert!(err.contains("1 of 4 sessions"), "{err}");
    assert!(
        err.contains(&third.format("%-d %b %Y").to_string()),
        "{err}"
    );
    assert!(err.contains("the slot is full"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(count(&db, "SELECT count(*) FROM program_enrolments"), 0);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM sessions WHERE member_id <> (SELECT id FROM users WHERE email = 'cy@example.com')"
        ),
        0
    );
    db.assert_invariants();
}

#[test]
fn a_series_past_the_coachs_daily_limit_books_nothing_and_names_the_limit_with_exit_6() {
    let db = TestDb::new();
    let p = setup(&db);
    db.run(&["coach", "update", "ana@example.com", "--max-per-day", "1"])
        .ok();
    let second = monday() + chrono::Duration::days(2 + 7);
    // Cy's off-grid session fills the second Wednesday's one seat a day
    db.run(&[
        "session",
        "create",
        "--coach",
        "ana@example.com",
        "--member",
        "cy@example.com",
        "--at",
        &format!("{second}T15:00"),
        "--off-grid",
    ])
    .ok();
    let err = assign(&db, "ana@example.com", &p, "bo@example.com")
        .fails_with(6)
        .to_string();
    assert!(err.contains("1 of 4 sessions"), "{err}");
    assert!(err.contains("daily limit"), "{err}");
    assert!(
        err.contains(&second.format("%a %-d %b").to_string()),
        "{err}"
    );
    assert_eq!(count(&db, "SELECT count(*) FROM program_enrolments"), 0);
    db.assert_invariants();
}

#[test]
fn blocked_weeks_fail_with_exit_7_naming_every_failing_date_at_once() {
    let db = TestDb::new();
    let p = setup(&db);
    let second = monday() + chrono::Duration::days(2 + 7);
    let fourth = monday() + chrono::Duration::days(2 + 21);
    for d in [second, fourth] {
        db.run(&[
            "availability",
            "block",
            "--coach",
            "ana@example.com",
            "--date",
            &d.to_string(),
        ])
        .ok();
    }
    let err = assign(&db, "ana@example.com", &p, "bo@example.com")
        .fails_with(7)
        .to_string();
    assert!(err.contains("2 of 4 sessions"), "{err}");
    for d in [second, fourth] {
        assert!(err.contains(&d.format("%a %-d %b").to_string()), "{err}");
    }
    assert!(err.contains("blocked"), "{err}");
    assert_eq!(count(&db, "SELECT count(*) FROM sessions"), 0);
    // the dry run shows the same and books nothing
    let start = monday().to_string();
    let plan = db
        .run(&assign_args(
            &p,
            "bo@example.com",
            &start,
            &["--dry-run", "-o", "json"],
        ))
        .json();
    let bad = plan
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["conflicts"] != serde_json::json!(["ok"]))
        .count();
    assert_eq!(bad, 2, "{plan}");
    assert_eq!(count(&db, "SELECT count(*) FROM sessions"), 0);
}

#[test]
fn ten_assignments_racing_for_one_weekly_slot_leave_one_complete_series_and_nine_with_nothing() {
    let db = TestDb::new();
    let p = setup(&db);
    let start = monday().to_string();
    let mut runs = Vec::new();
    for i in 0..10 {
        let email = format!("r{i}@example.com");
        db.member(&email).name("R").assigned_to("ana").create();
        runs.push(
            [
                "program",
                "assign",
                &p,
                "--member",
                &email,
                "--start",
                &start,
                "--at",
                "wed 09:00",
            ]
            .map(String::from)
            .to_vec(),
        );
    }
    let outcomes = race(&db, runs);
    let won = outcomes.iter().filter(|(c, _)| *c == 0).count();
    let full = outcomes.iter().filter(|(c, _)| *c == 6).count();
    assert_eq!((won, full), (1, 9), "{outcomes:#?}");
    assert_eq!(count(&db, "SELECT count(*) FROM program_enrolments"), 1);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM sessions s JOIN program_enrolments e ON e.id = s.enrolment_id WHERE s.status = 'scheduled'"
        ),
        4
    );
    assert_eq!(count(&db, "SELECT count(*) FROM sessions"), 4);
    db.assert_invariants();
}

#[test]
fn cancelling_a_series_frees_every_remaining_seat_and_a_single_session_stays_reschedulable() {
    let db = TestDb::new();
    let p = setup(&db);
    let e = enrol(&db, &p, "bo@example.com");
    // one session of the series moves on its own
    let first: String = db.scalar("SELECT id::text FROM sessions ORDER BY starts_at LIMIT 1");
    let thu = monday() + chrono::Duration::days(3);
    db.run(&[
        "session",
        "reschedule",
        &first,
        "--at",
        &format!("{thu}T10:00"),
    ])
    .ok();
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM sessions WHERE sequence = 1 AND enrolment_id IS NOT NULL"
        ),
        1
    );
    // another coach cannot cancel it; its member may not see a stranger's
    db.run_as("dee", &["program", "cancel", &e]).fails_with(5);
    db.run_as("ana", &["program", "cancel", &e, "-o", "json"])
        .ok();
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM sessions WHERE status = 'cancelled'"
        ),
        4
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM outbox WHERE event = 'program.cancelled'"
        ),
        2
    );
    let wed = monday() + chrono::Duration::days(2);
    db.book("ana", "cy", &format!("{wed}T09:00")).ok();
    db.assert_invariants();
}

#[test]
fn adjusting_moves_every_remaining_session_at_once_or_none_when_a_target_is_taken() {
    let db = TestDb::new();
    let p = setup(&db);
    let start = monday().to_string();
    let e = enrol(&db, &p, "bo@example.com");
    // Thursday of the third week is taken: the move fails whole
    let third_thu = monday() + chrono::Duration::days(3 + 14);
    db.book("ana", "cy", &format!("{third_thu}T10:00")).ok();
    let err = db
        .run_as(
            "ana",
            &[
                "program",
                "adjust",
                &e,
                "--from",
                &start,
                "--at",
                "thu 10:00",
            ],
        )
        .fails_with(6)
        .to_string();
    assert!(
        err.contains(&third_thu.format("%-d %b %Y").to_string()),
        "{err}"
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM sessions WHERE enrolment_id IS NOT NULL AND extract(dow FROM starts_at AT TIME ZONE 'Europe/Berlin') = 3 AND sequence = 0 AND status = 'scheduled'"
        ),
        4
    );
    db.run(&[
        "session",
        "cancel",
        "--yes",
        &db.scalar::<String>("SELECT id::text FROM sessions WHERE enrolment_id IS NULL"),
    ])
    .ok();
    let moved = db
        .run_as(
            "ana",
            &[
                "program",
                "adjust",
                &e,
                "--from",
                &start,
                "--at",
                "thu 10:00",
                "-o",
                "json",
            ],
        )
        .json();
    assert_eq!(moved["remaining"], 4, "{moved}");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM sessions WHERE enrolment_id IS NOT NULL AND extract(dow FROM starts_at AT TIME ZONE 'Europe/Berlin') = 4 AND sequence = 1 AND status = 'scheduled'"
        ),
        4
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM outbox WHERE event = 'program.adjusted'"
        ),
        2
    );
    // extending adds weeks at the current times
    let longer = db
        .run_as(
            "ana",
            &["program", "adjust", &e, "--extend", "2", "-o", "json"],
        )
        .json();
    assert_eq!(longer["sessions"], 6, "{longer}");
    assert_eq!(longer["weeks"], 6, "{longer}");
    db.assert_invariants();
}

#[test]
fn templates_of_an_admin_serve_every_coach_and_stay_the_admins_to_change() {
    let db = TestDb::new();
    setup(&db);
    let t = db
        .run(&[
            "program",
            "create",
            "--name",
            "Mobility",
            "--weeks",
            "2",
            "--template",
            "-o",
            "ids",
        ])
        .id();
    for coach in ["ana@example.com", "dee@example.com"] {
        let list = db
            .run_as(coach, &["program", "list", "--templates", "-o", "json"])
            .json();
        assert!(
            list.as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "Mobility"),
            "{coach}: {list}"
        );
    }
    // Dee sees neither Ana's own program nor may change the template
    let list = db.run_as("dee", &["program", "list", "-o", "json"]).json();
    assert!(!list.to_string().contains("Strength basics"), "{list}");
    db.run_as("dee", &["program", "update", &t, "--weeks", "3"])
        .fails_with(4);
    let start = monday().to_string();
    db.run_as(
        "dee",
        &[
            "program",
            "assign",
            &t,
            "--member",
            "di@example.com",
            "--start",
            &start,
            "--at",
            "wed 09:00",
        ],
    )
    .fails_with(7); // Dee has no availability on Wednesday
    // an admin's template needs the coach who runs it
    db.run(&[
        "program",
        "assign",
        &t,
        "--member",
        "bo@example.com",
        "--start",
        &start,
        "--at",
        "wed 09:00",
    ])
    .fails_with(3);
    db.run(&[
        "program",
        "assign",
        &t,
        "--coach",
        "ana@example.com",
        "--member",
        "bo@example.com",
        "--start",
        &start,
        "--at",
        "wed 09:00",
    ])
    .ok();
    assert_eq!(count(&db, "SELECT count(*) FROM sessions"), 2);
}

#[test]
fn members_other_coaches_and_deactivated_users_are_refused_with_the_documented_codes() {
    let db = TestDb::new();
    let p = setup(&db);
    // members do not create or assign programs
    db.run_as("bo", &["program", "create", "--name", "X", "--weeks", "1"])
        .fails_with(4);
    db.run_as(
        "bo",
        &[
            "program",
            "assign",
            &p,
            "--member",
            "bo@example.com",
            "--start",
            "mon",
            "--at",
            "wed 09:00",
        ],
    )
    .fails_with(5); // a program a member is not enrolled in is none at all
    // another coach's program is none at all
    db.run_as("dee", &["program", "show", &p]).fails_with(5);
    db.run_as("dee", &["program", "archive", &p]).fails_with(5);
    // a coach assigns only to their own or connected members; another
    // coach's member is nobody to them
    let start = monday().to_string();
    db.run_as(
        "ana",
        &[
            "program",
            "assign",
            &p,
            "--member",
            "di@example.com",
            "--start",
            &start,
            "--at",
            "wed 09:00",
        ],
    )
    .fails_with(5);
    // the wrong number of weekly times is bad input
    db.run_as(
        "ana",
        &[
            "program",
            "assign",
            &p,
            "--member",
            "bo@example.com",
            "--start",
            &start,
            "--at",
            "wed 09:00",
            "--at",
            "thu 10:00",
        ],
    )
    .fails_with(3);
    db.run_as(
        "ana",
        &[
            "program",
            "assign",
            &p,
            "--member",
            "bo@example.com",
            "--start",
            &start,
            "--at",
            "someday 9",
        ],
    )
    .fails_with(3);
    let e = assign(&db, "ana@example.com", &p, "bo@example.com").id();
    // the other member and the other coach see no such enrolment
    db.run_as("cy", &["program", "show", &e]).fails_with(5);
    db.run_as("dee", &["program", "show", &e]).fails_with(5);
    db.run_as("cy", &["program", "decline", &e]).fails_with(5);
    // deactivated: no longer acts at all
    db.run(&["coach", "deactivate", "dee@example.com", "--yes"])
        .ok();
    db.run_as("dee", &["program", "list"]).fails_with(4);
    // an archived program takes nobody new
    db.run_as("ana", &["program", "archive", &p]).ok();
    assign(&db, "ana@example.com", &p, "cy@example.com").fails_with(7);
    // the member declines the whole series: every seat is free again
    db.run_as("bo", &["program", "decline", &e]).ok();
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM sessions WHERE status = 'declined'"
        ),
        4
    );
    db.assert_invariants();
}

#[test]
fn the_enrolment_completes_with_its_last_session_and_progress_counts_it() {
    let db = TestDb::new();
    db.coach("ana").tz("UTC").create();
    db.member("bo").assigned_to("ana").create();
    window(&db, "ana@example.com", "wed", ("09:00", "10:00"), 60, 15, 1);
    let p = db
        .run_as(
            "ana",
            &[
                "program",
                "create",
                "--name",
                "Two weeks",
                "--weeks",
                "2",
                "-o",
                "ids",
            ],
        )
        .id();
    let e = enrol(&db, &p, "bo@example.com");
    // Put the series five weeks back (same weekday and time: still in the window).
    runtime_exec(
        &db,
        "UPDATE sessions SET starts_at = starts_at - interval '35 days', ends_at = ends_at - interval '35 days'",
    );
    let ids: Vec<String> = {
        let first: String = db.scalar("SELECT id::text FROM sessions ORDER BY starts_at LIMIT 1");
        let last: String =
            db.scalar("SELECT id::text FROM sessions ORDER BY starts_at DESC LIMIT 1");
        vec![first, last]
    };
    db.run_as("ana", &["session", "complete", &ids[0]]).ok();
    let half = db
        .run_as("bo", &["program", "show", &e, "-o", "json"])
        .json();
    assert_eq!(
        (
            half["done"].as_i64(),
            half["missed"].as_i64(),
            half["percent"].as_i64()
        ),
        (Some(1), Some(1), Some(50)),
        "{half}"
    );
    assert_eq!(half["status"], "active");
    db.run_as("ana", &["session", "complete", &ids[1]]).ok();
    let done = db
        .run_as("bo", &["program", "show", &e, "-o", "json"])
        .json();
    assert_eq!(
        (done["status"].as_str(), done["percent"].as_i64()),
        (Some("completed"), Some(100)),
        "{done}"
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM outbox WHERE event = 'program.completed'"
        ),
        2
    );
    db.run_as("bo", &["session", "rate", &ids[0], "--rating", "4"])
        .ok();
    let mp = db
        .run_as("bo", &["member", "progress", "-o", "json"])
        .json();
    assert_eq!(mp["completed"], 2, "{mp}");
    assert_eq!(mp["ratings_given"], 1, "{mp}");
    assert_eq!(mp["average_rating"], 4.0, "{mp}");
    assert_eq!(
        mp["sessions_per_week"].as_array().unwrap().len(),
        12,
        "{mp}"
    );
    assert_eq!(mp["programs"][0]["percent"], 100, "{mp}");
    let report = db.run_as("ana", &["coach", "report", "-o", "json"]).json();
    assert_eq!(report["members"][0]["held"], 2, "{report}");
    assert_eq!(report["members"][0]["program_percent"], 100, "{report}");
    let table = db.run_as("ana", &["coach", "report"]);
    for line in table.ok().lines() {
        assert!(line.chars().count() <= 80, "{line:?}");
    }
    let csv = db.run_as("ana", &["coach", "report", "-o", "csv"]);
    assert!(
        csv.ok()
            .lines()
            .any(|l| l.starts_with("member,bo@example.com")),
        "{csv:?}"
    );
    // a member reads only their own progress; another coach's report is refused
    db.run_as("bo", &["coach", "report"]).fails_with(4);
}

fn runtime_exec(db: &TestDb, sql: &'static str) {
    common::runtime().block_on(async {
        let pool = db.pool().await;
        sqlx::query(sql).execute(&pool).await.expect(sql);
        pool.close().await;
    });
}

#[test]
fn insights_belong_to_the_pair_and_the_admins_and_the_answer_reaches_the_coach() {
    let db = TestDb::new();
    setup(&db);
    let i = db
        .run_as(
            "ana",
            &[
                "insight",
                "add",
                "--member",
                "bo@example.com",
                "--type",
                "recommendation",
                "--title",
                "Sleep",
                "--text",
                "Aim for eight hours",
                "--priority",
                "high",
                "-o",
                "ids",
            ],
        )
        .id();
    assert_eq!(
        count(&db, "SELECT count(*) FROM outbox WHERE event = 'insight'"),
        1
    );
    // not the coach of the member, not a member, not bad types
    db.run_as(
        "dee",
        &[
            "insight",
            "add",
            "--member",
            "bo@example.com",
            "--type",
            "observation",
            "--title",
            "x",
            "--text",
            "y",
        ],
    )
    .fails_with(5);
    db.run_as(
        "cy",
        &[
            "insight",
            "add",
            "--member",
            "bo@example.com",
            "--type",
            "observation",
            "--title",
            "x",
            "--text",
            "y",
        ],
    )
    .fails_with(4);
    db.run_as(
        "ana",
        &[
            "insight",
            "add",
            "--member",
            "bo@example.com",
            "--type",
            "gossip",
            "--title",
            "x",
            "--text",
            "y",
        ],
    )
    .fails_with(3);
    let unread = db
        .run_as("bo", &["insight", "list", "--unread", "-o", "json"])
        .json();
    assert_eq!(unread.as_array().unwrap().len(), 1, "{unread}");
    for outsider in ["cy@example.com", "dee@example.com"] {
        let seen = db
            .run_as(outsider, &["insight", "list", "-o", "json"])
            .json();
        assert_eq!(seen, serde_json::json!([]), "{outsider}");
        db.run_as(outsider, &["insight", "ack", &i]).fails_with(5);
    }
    db.run_as("ana", &["insight", "ack", &i]).fails_with(4);
    db.run_as("bo", &["insight", "ack", &i, "--response", "Will do"])
        .ok();
    let coach_view = db.run_as("ana", &["insight", "list", "-o", "json"]).json();
    assert_eq!(coach_view[0]["response"], "Will do", "{coach_view}");
    assert!(coach_view[0]["read_at"].is_string(), "{coach_view}");
    let admin_view = db.run(&["insight", "list", "-o", "json"]).json();
    assert_eq!(admin_view.as_array().unwrap().len(), 1);
    let unread = db
        .run_as("bo", &["insight", "list", "--unread", "-o", "json"])
        .json();
    assert_eq!(unread, serde_json::json!([]));
}

#[test]
fn adjust_racing_a_booking_of_its_target_slot_leaves_one_of_them_whole() {
    let db = TestDb::new();
    let p = setup(&db);
    let start = monday().to_string();
    let e = enrol(&db, &p, "bo@example.com");
    let target = monday() + chrono::Duration::days(3 + 7);
    let outcomes = race(
        &db,
        vec![
            [
                "program",
                "adjust",
                &e,
                "--from",
                &start,
                "--at",
                "thu 10:00",
            ]
            .map(String::from)
            .to_vec(),
            [
                "book",
                "--coach",
                "ana@example.com",
                "--member",
                "cy@example.com",
                "--at",
                &format!("{target}T10:00"),
            ]
            .map(String::from)
            .to_vec(),
        ],
    );
    let codes: Vec<i32> = outcomes.iter().map(|(c, _)| *c).collect();
    let on_thu = count(
        &db,
        "SELECT count(*) FROM sessions WHERE enrolment_id IS NOT NULL AND status = 'scheduled' AND extract(dow FROM starts_at AT TIME ZONE 'Europe/Berlin') = 4",
    );
    let on_wed = count(
        &db,
        "SELECT count(*) FROM sessions WHERE enrolment_id IS NOT NULL AND status = 'scheduled' AND extract(dow FROM starts_at AT TIME ZONE 'Europe/Berlin') = 3",
    );
    match codes.as_slice() {
        [0, 6] => assert_eq!((on_thu, on_wed), (4, 0)),
        [6, 0] => assert_eq!((on_thu, on_wed), (0, 4)),
        other => panic!("both or neither won: {other:?} {outcomes:#?}"),
    }
    db.assert_invariants();
}
