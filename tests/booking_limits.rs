//! Booking limits (issue 20, item 1): a coach's `max_per_day`,
//! `max_per_week` and `member_max_per_week`, decided by the database's seat
//! guard under the coach's lock for every path that takes a seat, and
//! raced by real processes.

mod common;

use chrono::{Duration, NaiveDate};
use common::{TestDb, monday, race};
use serde_json::Value;

/// Ana Coach (Berlin, room for 50 members) with Monday to Wednesday
/// 09:00-12:00 in 60-minute sessions, 15 minutes buffer, three seats a slot:
/// slots at 09:00 and 10:15, six seats a day. Members m0..m{n-1} are hers.
fn ana_with_members(db: &TestDb, n: usize) -> Vec<String> {
    db.coach("ana")
        .name("Ana Coach")
        .tz("Europe/Berlin")
        .max_members(50)
        .window("mon", ("09:00", "12:00"), 60, 15, 3)
        .window("tue", ("09:00", "12:00"), 60, 15, 3)
        .window("wed", ("09:00", "12:00"), 60, 15, 3)
        .create();
    (0..n)
        .map(|i| {
            let email = format!("m{i}@example.com");
            db.member(&email).name("M").assigned_to("ana").create();
            email
        })
        .collect()
}

fn limit(db: &TestDb, flag: &str, n: &str) {
    db.run(&["coach", "update", "ana@example.com", flag, n])
        .ok();
}

fn day(offset: i64) -> NaiveDate {
    monday() + Duration::days(offset)
}

fn book(db: &TestDb, member: &str, on: NaiveDate, hhmm: &str) -> common::Run {
    db.run(&[
        "book",
        "--coach",
        "ana@example.com",
        "--member",
        member,
        "--at",
        &format!("{on}T{hhmm}"),
    ])
}

/// "Mon 3 Nov", as the refusals write a date.
fn short(d: NaiveDate) -> String {
    d.format("%a %-d %b").to_string()
}

fn seated(db: &TestDb) -> i64 {
    db.scalar("SELECT count(*) FROM sessions WHERE status IN ('scheduled', 'proposed')")
}

/// The start times `slots` offers as `member` on one local date.
fn offered(db: &TestDb, member: Option<&str>, on: NaiveDate) -> Vec<String> {
    let from = on.to_string();
    let mut args = vec![];
    if let Some(m) = member {
        args.extend(["--as", m]);
    }
    args.extend([
        "slots",
        "--coach",
        "ana@example.com",
        "--from",
        &from,
        "--days",
        "1",
        "-o",
        "json",
    ]);
    let v: Value = db.run(&args).json();
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s["start"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_booking_past_the_daily_limit_exits_6_naming_the_limit_and_changes_nothing() {
    let db = TestDb::new();
    let m = ana_with_members(&db, 3);
    limit(&db, "--max-per-day", "2");
    book(&db, &m[0], day(0), "09:00").ok();
    book(&db, &m[1], day(0), "10:15").ok();
    let err = book(&db, &m[2], day(0), "09:00").fails_with(6).to_string();
    assert_eq!(
        err.trim(),
        format!(
            "error: Ana Coach takes at most 2 sessions on {}",
            short(day(0))
        )
    );
    assert_eq!(seated(&db), 2);
    // the next day is another day
    book(&db, &m[2], day(1), "09:00").ok();
}

#[test]
fn slots_hides_a_day_at_its_limit_and_offers_it_again_when_the_limit_is_cleared() {
    let db = TestDb::new();
    let m = ana_with_members(&db, 2);
    limit(&db, "--max-per-day", "2");
    assert_eq!(offered(&db, None, day(0)).len(), 2);
    book(&db, &m[0], day(0), "09:00").ok();
    book(&db, &m[1], day(0), "09:00").ok();
    assert!(offered(&db, None, day(0)).is_empty());
    assert_eq!(offered(&db, None, day(1)).len(), 2);
    let shown = db
        .run(&["coach", "show", "ana@example.com", "-o", "json"])
        .json();
    assert_eq!(shown["max_per_day"], 2);
    assert_eq!(shown["max_per_week"], Value::Null);
    db.run(&["coach", "update", "ana@example.com", "--no-max-per-day"])
        .ok();
    assert_eq!(offered(&db, None, day(0)).len(), 2);
    book(&db, &m[0], day(0), "10:15").ok();
}

#[test]
fn the_weekly_limit_counts_the_coachs_iso_week_in_her_zone() {
    let db = TestDb::new();
    let m = ana_with_members(&db, 3);
    limit(&db, "--max-per-week", "2");
    book(&db, &m[0], day(0), "09:00").ok();
    book(&db, &m[1], day(1), "09:00").ok();
    let err = book(&db, &m[2], day(2), "09:00").fails_with(6).to_string();
    assert_eq!(
        err.trim(),
        format!(
            "error: Ana Coach takes at most 2 sessions in the week of {}",
            short(day(0))
        )
    );
    assert!(offered(&db, None, day(2)).is_empty());
    // next week is free again
    book(&db, &m[2], day(7), "09:00").ok();
}

#[test]
fn the_member_limit_counts_one_members_sessions_and_hides_slots_only_from_them() {
    let db = TestDb::new();
    let m = ana_with_members(&db, 2);
    limit(&db, "--member-max-per-week", "1");
    book(&db, &m[0], day(0), "09:00").ok();
    let err = book(&db, &m[0], day(1), "09:00").fails_with(6).to_string();
    assert_eq!(
        err.trim(),
        format!(
            "error: Ana Coach takes at most 1 session a week from {} (week of {})",
            m[0],
            short(day(0))
        )
    );
    assert!(offered(&db, Some(&m[0]), day(2)).is_empty());
    assert_eq!(offered(&db, Some(&m[1]), day(2)).len(), 2);
    book(&db, &m[1], day(1), "09:00").ok();
}

#[test]
fn proposals_reschedules_and_plain_sql_are_held_to_the_limits_too() {
    let db = TestDb::new();
    let m = ana_with_members(&db, 3);
    limit(&db, "--max-per-day", "1");
    let first = db
        .book_with("ana", &m[0], &format!("{}T09:00", day(0)), &["-o", "json"])
        .json();
    // a coach's proposal
    db.run_as(
        "ana",
        &[
            "session",
            "create",
            "--member",
            &m[1],
            "--at",
            &format!("{}T10:15", day(0)),
        ],
    )
    .fails_with(6);
    // a move onto a full day, from another day
    book(&db, &m[1], day(1), "09:00").ok();
    let moved: String = db.scalar(
        "SELECT id::text FROM sessions WHERE status = 'scheduled' ORDER BY starts_at DESC LIMIT 1",
    );
    let err = db
        .run(&[
            "session",
            "reschedule",
            &moved,
            "--at",
            &format!("{}T10:15", day(0)),
        ])
        .fails_with(6)
        .to_string();
    assert!(err.contains("takes at most 1 session on"), "{err}");
    // moving within its own day is no new seat on that day
    let own = first["session_id"].as_str().unwrap();
    db.run(&[
        "session",
        "reschedule",
        own,
        "--at",
        &format!("{}T10:15", day(0)),
    ])
    .ok();
    // psql: the database itself refuses, under the limit's name
    let refused: String = common::runtime().block_on(async {
        let pool = db.pool().await;
        let e = sqlx::query(
            "INSERT INTO sessions (id, coach_id, member_id, starts_at, ends_at)
             SELECT gen_random_uuid(), s.coach_id, m.id, s.starts_at - interval '75 minutes',
                    s.starts_at - interval '15 minutes'
             FROM sessions s, users m
             WHERE s.status = 'scheduled' AND m.email = 'm2@example.com'
             ORDER BY s.starts_at LIMIT 1",
        )
        .execute(&pool)
        .await
        .expect_err("past the limit");
        pool.close().await;
        match e {
            sqlx::Error::Database(d) => d.constraint().unwrap_or_default().to_string(),
            other => panic!("{other}"),
        }
    });
    assert_eq!(refused, "sessions_max_per_day");
    assert_eq!(seated(&db), 2);
}

#[test]
fn six_bookers_racing_for_a_day_limited_to_two_leave_exactly_two() {
    let db = TestDb::new();
    let m = ana_with_members(&db, 6);
    limit(&db, "--max-per-day", "2");
    let runs = m
        .iter()
        .enumerate()
        .map(|(i, member)| {
            let hhmm = if i % 2 == 0 { "09:00" } else { "10:15" };
            [
                "book",
                "--coach",
                "ana@example.com",
                "--member",
                member,
                "--at",
                &format!("{}T{hhmm}", day(0)),
            ]
            .map(String::from)
            .to_vec()
        })
        .collect();
    let outcomes = race(&db, runs);
    let won = outcomes.iter().filter(|(code, _)| *code == 0).count();
    assert_eq!(won, 2, "{outcomes:#?}");
    for (code, err) in outcomes.iter().filter(|(code, _)| *code != 0) {
        assert_eq!(*code, 6, "{err}");
        assert!(err.contains("takes at most 2 sessions on"), "{err}");
    }
    assert_eq!(seated(&db), 2);
    db.assert_invariants();
}

#[test]
fn six_bookings_of_one_member_racing_within_a_weekly_limit_of_two_leave_exactly_two() {
    let db = TestDb::new();
    let m = ana_with_members(&db, 1);
    limit(&db, "--member-max-per-week", "2");
    let runs = (0..6)
        .map(|i| {
            let hhmm = if i % 2 == 0 { "09:00" } else { "10:15" };
            [
                "book",
                "--coach",
                "ana@example.com",
                "--member",
                &m[0],
                "--at",
                &format!("{}T{hhmm}", day(i / 2)),
            ]
            .map(String::from)
            .to_vec()
        })
        .collect();
    let outcomes = race(&db, runs);
    let won = outcomes.iter().filter(|(code, _)| *code == 0).count();
    assert_eq!(won, 2, "{outcomes:#?}");
    assert_eq!(seated(&db), 2);
    db.assert_invariants();
}
