//! No overbooking, ever: real OS processes racing on one database, with the
//! invariant checked in the database afterwards.

mod common;

use common::{TestDb, monday, race};

/// Coach Ana in Europe/Berlin, with room for every member the tests make.
fn berlin_coach(db: &TestDb) {
    db.coach("ana").tz("Europe/Berlin").max_members(50).create();
}

fn members(db: &TestDb, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let email = format!("m{i}@example.com");
            db.member(&email).name("M").assigned_to("ana").create()
        })
        .collect()
}

#[test]
fn forty_processes_booking_one_slot_of_capacity_three_leave_exactly_three() {
    let db = TestDb::new();
    berlin_coach(&db);
    db.run(&[
        "availability",
        "add",
        "--coach",
        "ana@example.com",
        "--day",
        "mon",
        "--start",
        "09:00",
        "--end",
        "12:00",
        "--capacity",
        "3",
    ])
    .ok();
    let ids = members(&db, 40);
    let at = format!("{}T09:00", monday());
    let runs = ids
        .iter()
        .map(|m| {
            [
                "book",
                "--coach",
                "ana@example.com",
                "--member",
                m,
                "--at",
                &at,
            ]
            .map(String::from)
            .to_vec()
        })
        .collect();
    let results = race(&db, runs);
    let ok = results.iter().filter(|(c, _)| *c == 0).count();
    let full: Vec<_> = results.iter().filter(|(c, _)| *c == 6).collect();
    assert_eq!(ok, 3, "{results:?}");
    assert_eq!(full.len(), 37, "{results:?}");
    for (_, err) in full {
        assert_eq!(
            err.trim(),
            "error: This slot is now full, please choose another (or wait for a seat with --waitlist)"
        );
    }
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM sessions WHERE status = 'scheduled'"),
        3
    );
    assert_eq!(db.scalar::<i32>("SELECT booked FROM slots"), 3);
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM bookings WHERE status = 'rejected'"),
        37
    );
}

#[test]
fn processes_racing_for_adjacent_slots_whose_buffers_collide_never_both_win() {
    let db = TestDb::new();
    berlin_coach(&db);
    // Two touching windows: 09:00-10:00 and 10:00-11:00 with 15 minutes of
    // buffer, so a session at 09:00 and one at 10:00 may not both exist.
    for (start, end) in [("09:00", "10:00"), ("10:00", "11:00")] {
        db.run(&[
            "availability",
            "add",
            "--coach",
            "ana@example.com",
            "--day",
            "mon",
            "--start",
            start,
            "--end",
            end,
            "--buffer",
            "15",
            "--capacity",
            "2",
        ])
        .ok();
    }
    let ids = members(&db, 40);
    let day = monday();
    let runs = ids
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let at = format!("{day}T{}", if i % 2 == 0 { "09:00" } else { "10:00" });
            [
                "book",
                "--coach",
                "ana@example.com",
                "--member",
                m,
                "--at",
                &at,
            ]
            .map(String::from)
            .to_vec()
        })
        .collect();
    let results = race(&db, runs);
    for (code, err) in &results {
        assert!([0, 6, 7].contains(code), "unexpected exit {code}: {err}");
    }
    let ok = results.iter().filter(|(c, _)| *c == 0).count();
    assert_eq!(
        ok, 2,
        "one slot fills (capacity 2), the other is blocked by its buffer: {results:?}"
    );
    assert_eq!(
        db.scalar::<i64>(
            "SELECT count(DISTINCT starts_at) FROM sessions WHERE status = 'scheduled'"
        ),
        1,
        "sessions at both starts would sit inside each other's buffers"
    );
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM sessions WHERE status = 'scheduled'"),
        2
    );
}

#[test]
fn the_database_itself_refuses_overbooking_and_buffer_clashes_even_from_raw_sql() {
    let db = TestDb::new();
    berlin_coach(&db);
    db.run(&[
        "availability",
        "add",
        "--coach",
        "ana@example.com",
        "--day",
        "mon",
        "--start",
        "09:00",
        "--end",
        "12:00",
        "--capacity",
        "1",
    ])
    .ok();
    let ids = members(&db, 2);
    db.book("ana", &ids[0], &format!("{}T09:00", monday())).ok();
    // A buggy path that skips every check in code:
    let attempts: Vec<(&str, String)> = common::runtime().block_on(async {
        let pool = db.pool().await;
        let mut out = Vec::new();
        let insert = |offset_minutes: i32, buffer: i32| {
            format!(
                "INSERT INTO sessions (id, coach_id, member_id, starts_at, ends_at, buffer_minutes, slot_capacity)
                 SELECT gen_random_uuid(), coach_id, '{}', starts_at + make_interval(mins => {offset_minutes}),
                        ends_at + make_interval(mins => {offset_minutes}), {buffer}, 5
                 FROM sessions LIMIT 1",
                ids[1]
            )
        };
        for (what, sql) in [
            ("a second seat in a full slot (claiming capacity 5)", insert(0, 15)),
            ("a session 5 minutes after the end", insert(65, 15)),
            ("a session claiming no buffer 5 minutes after the end", insert(65, 0)),
            ("a session outside every window", insert(-120, 15)),
        ] {
            let r = sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
            out.push((what, format!("{r:?}")));
        }
        out
    });
    for (what, outcome) in &attempts {
        assert!(outcome.starts_with("Err"), "{what} was accepted: {outcome}");
    }
    for (i, constraint) in [
        "slots_booked_within_capacity",
        "sessions_buffer_no_overlap",
        "sessions_buffer_no_overlap",
        "sessions_within_window",
    ]
    .iter()
    .enumerate()
    {
        assert!(
            attempts[i].1.contains(constraint),
            "{constraint}: {:?}",
            attempts[i]
        );
    }
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM sessions"), 1);
    db.assert_invariants();
}
