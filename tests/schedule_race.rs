//! Bookings and schedule changes of one coach serialise: real OS processes
//! booking while another changes the windows, blocks dates or moves the
//! coach to another zone, with every invariant checked in SQL afterwards
//! (tests/invariants.sql).

mod common;

use chrono::{Duration, NaiveDate};
use common::{TestDb, monday, race};
use proptest::prelude::*;

/// A coach in `zone` with `members` assigned members; returns their ids.
fn coach_with_members(db: &TestDb, zone: &str, members: usize) -> Vec<String> {
    db.coach("ana").tz(zone).max_members(60).create();
    (0..members)
        .map(|i| {
            db.member(&format!("m{i}@example.com"))
                .name("M")
                .assigned_to("ana")
                .create()
        })
        .collect()
}

fn add_window(db: &TestDb, day: &str, start: &str, end: &str, buffer: u32, capacity: u32) {
    common::window(
        db,
        "ana@example.com",
        day,
        (start, end),
        60,
        buffer,
        capacity,
    );
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn book(member: &str, at: &str) -> Vec<String> {
    args(&[
        "book",
        "--coach",
        "ana@example.com",
        "--member",
        member,
        "--at",
        at,
    ])
}

fn run(db: &TestDb, a: Vec<String>) -> common::Run {
    db.run(&a.iter().map(String::as_str).collect::<Vec<_>>())
}

fn wednesday(weeks_ahead: i64) -> NaiveDate {
    monday() + Duration::days(2 + 7 * weeks_ahead)
}

#[test]
fn one_at_a_time_a_slot_within_the_larger_of_two_buffers_is_refused() {
    let db = TestDb::new();
    let m = coach_with_members(&db, "UTC", 2);
    add_window(&db, "wed", "09:00", "10:00", 0, 3);
    add_window(&db, "wed", "10:10", "11:10", 20, 3);
    let day = wednesday(0);
    run(&db, book(&m[0], &format!("{day}T09:00"))).ok();
    let err = run(&db, book(&m[1], &format!("{day}T10:10")))
        .fails_with(7)
        .to_string();
    assert!(err.contains("buffer"), "{err}");
    db.assert_invariants();
}

#[test]
fn forty_processes_booking_two_slots_with_different_buffers_never_seat_both() {
    let db = TestDb::new();
    let m = coach_with_members(&db, "UTC", 20);
    add_window(&db, "wed", "09:00", "10:00", 0, 3);
    add_window(&db, "wed", "10:10", "11:10", 20, 3);
    for week in 0..6 {
        let day = wednesday(week);
        let runs = m
            .iter()
            .flat_map(|id| {
                [
                    book(id, &format!("{day}T09:00")),
                    book(id, &format!("{day}T10:10")),
                ]
            })
            .collect();
        let results = race(&db, runs);
        for (code, err) in &results {
            assert!([0, 6, 7].contains(code), "unexpected exit {code}: {err}");
        }
        let ok = results.iter().filter(|(c, _)| *c == 0).count();
        assert_eq!(ok, 3, "one slot fills, the other is refused: {results:?}");
    }
    assert_eq!(
        db.scalar::<i64>(
            "SELECT count(*) FROM (SELECT starts_at::date FROM sessions WHERE status = 'scheduled'
             GROUP BY starts_at::date HAVING count(DISTINCT starts_at) > 1) d"
        ),
        0,
        "on some day both slots hold sessions, 10 minutes apart under a 20-minute buffer"
    );
    db.assert_invariants();
}

/// What the sixth process does while five book the Wednesday 09:00 slot.
#[derive(Debug, Clone, Copy)]
enum Change {
    RemoveWindow,
    CutCapacity,
    BlockDate,
    MoveWindowTimes,
    MoveCoachZone,
}

/// Rounds of five bookers of one slot (capacity 5) racing one schedule
/// change. Afterwards, every time: the invariants hold, and the change and
/// the bookings did not both win.
fn bookers_race_a_schedule_change(change: Change, rounds: usize) {
    for round in 0..rounds {
        let db = TestDb::new();
        let m = coach_with_members(&db, "UTC", 5);
        add_window(&db, "wed", "09:00", "11:00", 0, 5);
        let window = db.run(&["availability", "list", "-o", "ids"]).id();
        let day = wednesday(round as i64 % 3);
        // An instant, not a wall-clock time: after a zone change the same
        // wall clock would be another (valid) slot.
        let at = format!("{day}T09:00:00Z");
        let mut runs: Vec<Vec<String>> = m.iter().map(|id| book(id, &at)).collect();
        runs.push(match change {
            Change::RemoveWindow => args(&["availability", "remove", &window]),
            Change::CutCapacity => args(&["availability", "update", &window, "--capacity", "1"]),
            Change::BlockDate => args(&[
                "availability",
                "block",
                "--coach",
                "ana@example.com",
                "--date",
                &day.to_string(),
            ]),
            Change::MoveWindowTimes => {
                args(&["availability", "update", &window, "--start", "10:00"])
            }
            Change::MoveCoachZone => args(&[
                "coach",
                "update",
                "ana@example.com",
                "--timezone",
                "Asia/Tokyo",
            ]),
        });
        let results = race(&db, runs);
        for (code, err) in &results {
            assert!([0, 6, 7].contains(code), "{change:?}: exit {code}: {err}");
        }
        let (change_code, change_err) = results.last().cloned().unwrap_or_default();
        let booked = results[..5].iter().filter(|(c, _)| *c == 0).count();
        let seated: i64 = db.scalar("SELECT count(*) FROM sessions WHERE status = 'scheduled'");
        assert_eq!(seated as usize, booked, "{change:?}: {results:?}");
        match (change, change_code) {
            (Change::CutCapacity, 0) => {
                assert!(booked <= 1, "{change:?} won and {booked} seats remain")
            }
            (_, 0) => assert_eq!(booked, 0, "{change:?} won and {booked} seats remain"),
            (_, 6) => assert!(
                booked > 0 && change_err.contains("session"),
                "{change:?} was refused without a booking to protect: {change_err}"
            ),
            (_, code) => panic!("{change:?}: exit {code}: {change_err}"),
        }
        db.assert_invariants();
    }
}

#[test]
fn removing_the_window_while_five_book_it_never_orphans_a_session() {
    bookers_race_a_schedule_change(Change::RemoveWindow, 6);
}

#[test]
fn cutting_capacity_while_five_book_never_leaves_a_slot_over_capacity() {
    bookers_race_a_schedule_change(Change::CutCapacity, 6);
}

#[test]
fn blocking_the_date_while_five_book_never_leaves_a_session_on_it() {
    bookers_race_a_schedule_change(Change::BlockDate, 6);
}

#[test]
fn moving_the_window_while_five_book_never_leaves_a_session_outside() {
    bookers_race_a_schedule_change(Change::MoveWindowTimes, 6);
}

#[test]
fn changing_the_coach_zone_while_five_book_never_leaves_a_session_outside() {
    bookers_race_a_schedule_change(Change::MoveCoachZone, 6);
}

#[test]
fn a_zone_change_that_would_orphan_booked_sessions_exits_6_naming_them() {
    let db = TestDb::new();
    let m = coach_with_members(&db, "UTC", 1);
    add_window(&db, "wed", "09:00", "11:00", 0, 5);
    let day = wednesday(0);
    let session = db
        .book_with("ana", &m[0], &format!("{day}T09:00"), &["-o", "json"])
        .json()["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let err = db
        .run(&[
            "coach",
            "update",
            "ana@example.com",
            "--timezone",
            "Asia/Tokyo",
        ])
        .fails_with(6)
        .to_string();
    assert!(err.contains(&session), "{err}");
    assert!(err.contains("ana@example.com"), "{err}");
    assert_eq!(
        db.scalar::<String>("SELECT timezone FROM users WHERE email = 'ana@example.com'"),
        "UTC"
    );
    // A zone with the same wall clock is fine.
    db.run(&[
        "coach",
        "update",
        "ana@example.com",
        "--timezone",
        "Etc/UTC",
    ])
    .ok();
    db.assert_invariants();
}

#[test]
fn raw_sql_cannot_orphan_sessions_by_changing_the_schedule() {
    let db = TestDb::new();
    let m = coach_with_members(&db, "UTC", 2);
    add_window(&db, "wed", "09:00", "11:00", 0, 5);
    let day = wednesday(0);
    for id in &m {
        db.book("ana", id, &format!("{day}T09:00")).ok();
    }
    let attempts: Vec<(&str, String)> = common::runtime().block_on(async {
        let pool = db.pool().await;
        let mut out = Vec::new();
        for (what, sql) in [
            (
                "removing the window",
                "DELETE FROM availability_windows".to_string(),
            ),
            (
                "cutting capacity under two seats",
                "UPDATE availability_windows SET capacity = 1".into(),
            ),
            (
                "moving the window",
                "UPDATE availability_windows SET start_minute = 600, end_minute = 720".into(),
            ),
            (
                "moving the window to Thursday",
                "UPDATE availability_windows SET day_of_week = 4".into(),
            ),
            (
                "blocking the date",
                format!(
                    "INSERT INTO availability_blocks (id, coach_id, first_day, last_day)
                     SELECT gen_random_uuid(), coach_id, '{day}', '{day}' FROM availability_windows"
                ),
            ),
            (
                "moving the coach to Tokyo",
                "UPDATE users SET timezone = 'Asia/Tokyo' WHERE role = 'coach'".into(),
            ),
        ] {
            let r = sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
            out.push((what, format!("{r:?}")));
        }
        out
    });
    for (what, outcome) in &attempts {
        assert!(
            outcome.contains("availability_schedule_orphans_sessions"),
            "{what}: {outcome}"
        );
    }
    db.assert_invariants();
}

/// One step of the model run.
#[derive(Debug, Clone)]
enum Op {
    Book {
        member: usize,
        week: i64,
        slot: usize,
    },
    Cancel {
        pick: usize,
    },
    AddWindow {
        day: usize,
        hour: u32,
        capacity: u32,
    },
    UpdateWindow {
        pick: usize,
        capacity: u32,
        start_hour: u32,
    },
    RemoveWindow {
        pick: usize,
    },
    Block {
        week: i64,
    },
    Unblock {
        pick: usize,
    },
    Zone {
        pick: usize,
    },
}

const DAYS: [&str; 3] = ["mon", "wed", "fri"];
const ZONES: [&str; 3] = ["UTC", "Europe/Berlin", "America/New_York"];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..4usize, 0..2i64, 0..6usize)
            .prop_map(|(member, week, slot)| Op::Book { member, week, slot }),
        2 => (0..8usize).prop_map(|pick| Op::Cancel { pick }),
        1 => (0..3usize, 8..14u32, 1..3u32)
            .prop_map(|(day, hour, capacity)| Op::AddWindow { day, hour, capacity }),
        2 => (0..4usize, 1..3u32, 8..11u32)
            .prop_map(|(pick, capacity, start_hour)| Op::UpdateWindow { pick, capacity, start_hour }),
        1 => (0..4usize).prop_map(|pick| Op::RemoveWindow { pick }),
        1 => (0..2i64).prop_map(|week| Op::Block { week }),
        1 => (0..3usize).prop_map(|pick| Op::Unblock { pick }),
        1 => (0..3usize).prop_map(|pick| Op::Zone { pick }),
    ]
}

/// The nth line of a `-o ids` listing, if there are any.
fn nth_id(db: &TestDb, listing: &[&str], n: usize) -> Option<String> {
    let out = db.run(listing);
    let ids: Vec<&str> = out.stdout.lines().collect();
    (!ids.is_empty()).then(|| ids[n % ids.len()].to_string())
}

fn apply(db: &TestDb, members: &[String], op: &Op) -> Option<(i32, String)> {
    let run = |a: Vec<String>| {
        let r = run(db, a);
        (r.code, r.stderr)
    };
    Some(match op {
        Op::Book { member, week, slot } => {
            // the slot-th offered slot of the week, if any
            let from = (monday() + Duration::days(7 * week)).to_string();
            let slots = db
                .run(&[
                    "slots",
                    "--coach",
                    "ana@example.com",
                    "--from",
                    &from,
                    "--days",
                    "7",
                    "-o",
                    "json",
                ])
                .json();
            let list = slots.as_array()?;
            let start = list.get(*slot % list.len().max(1))?["start"]
                .as_str()?
                .to_string();
            run(book(&members[*member], &start))
        }
        Op::Cancel { pick } => {
            let id = nth_id(
                db,
                &["session", "list", "--status", "scheduled", "-o", "ids"],
                *pick,
            )?;
            run(args(&[
                "session", "cancel", &id, "--reason", "model", "--yes",
            ]))
        }
        Op::AddWindow {
            day,
            hour,
            capacity,
        } => run(args(&[
            "availability",
            "add",
            "--coach",
            "ana@example.com",
            "--day",
            DAYS[*day],
            "--start",
            &format!("{hour:02}:00"),
            "--end",
            &format!("{:02}:00", hour + 2),
            "--length",
            "45",
            "--buffer",
            "15",
            "--capacity",
            &capacity.to_string(),
        ])),
        Op::UpdateWindow {
            pick,
            capacity,
            start_hour,
        } => {
            let id = nth_id(db, &["availability", "list", "-o", "ids"], *pick)?;
            run(args(&[
                "availability",
                "update",
                &id,
                "--capacity",
                &capacity.to_string(),
                "--start",
                &format!("{start_hour:02}:00"),
                "--end",
                &format!("{:02}:00", start_hour + 3),
            ]))
        }
        Op::RemoveWindow { pick } => {
            let id = nth_id(db, &["availability", "list", "-o", "ids"], *pick)?;
            run(args(&["availability", "remove", &id]))
        }
        Op::Block { week } => {
            let day = wednesday(*week).to_string();
            run(args(&[
                "availability",
                "block",
                "--coach",
                "ana@example.com",
                "--date",
                &day,
            ]))
        }
        Op::Unblock { pick } => {
            let id = nth_id(db, &["availability", "blocks", "-o", "ids"], *pick)?;
            run(args(&["availability", "unblock", &id]))
        }
        Op::Zone { pick } => run(args(&[
            "coach",
            "update",
            "ana@example.com",
            "--timezone",
            ZONES[*pick],
        ])),
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, failure_persistence: None, ..ProptestConfig::default() })]

    /// Three processes at a time apply random bookings, cancellations and
    /// schedule changes; afterwards every invariant holds in SQL.
    #[test]
    fn random_interleavings_of_bookings_and_schedule_changes_keep_every_invariant(
        lanes in proptest::collection::vec(proptest::collection::vec(op(), 8..14), 3)
    ) {
        let db = TestDb::new();
        let members = coach_with_members(&db, "UTC", 4);
        add_window(&db, "wed", "09:00", "12:00", 15, 2);
        add_window(&db, "mon", "14:00", "17:00", 30, 1);
        let barrier = std::sync::Barrier::new(lanes.len());
        let outcomes: Vec<Vec<(Op, i32, String)>> = std::thread::scope(|s| {
            let handles: Vec<_> = lanes
                .iter()
                .map(|lane| {
                    let (db, members, barrier) = (&db, &members, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        lane.iter()
                            .filter_map(|op| apply(db, members, op).map(|(c, e)| (op.clone(), c, e)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("lane")).collect()
        });
        for (op, code, err) in outcomes.iter().flatten() {
            prop_assert!([0, 5, 6, 7].contains(code), "{op:?}: exit {code}: {err}");
        }
        db.assert_invariants();
    }
}
