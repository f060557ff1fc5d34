//! `book --batch` (issue 23, item 1) and one round trip per booking
//! (item 2), through the real binary against real PostgreSQL: the
//! database is checked afterwards, races run as OS processes behind a
//! barrier, and round trips are counted by a proxy between the binary and
//! the server that reads the protocol's messages.

mod common;
#[path = "prod_pg/fixture.rs"]
mod fixture;

use std::io::Write;
use std::process::Stdio;

use common::proxy::Proxy;
use common::{Run, TestDb, monday};
use serde_json::{Value, json};

/// Coach ana@example.com (UTC) with slots of 30 minutes from 08:00 to
/// 20:00 every day, `capacity` seats each, and members m0..m{members-1}
/// assigned to her: one `seed` process.
fn org(db: &TestDb, members: usize, capacity: u32) {
    let mut toml = String::from(
        "[[coach]]\nemail = \"ana@example.com\"\nname = \"Ana Coach\"\ntimezone = \"UTC\"\nmax_members = 200\n",
    );
    for day in ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] {
        toml += &format!(
            "  [[coach.availability]]\n  day = \"{day}\"\n  start = \"08:00\"\n  end = \"20:00\"\n  length = 30\n  buffer = 0\n  capacity = {capacity}\n"
        );
    }
    for i in 0..members {
        toml += &format!(
            "[[member]]\nemail = \"m{i}@example.com\"\nname = \"Member {i}\"\ncoach = \"ana@example.com\"\n"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("org.toml");
    std::fs::write(&path, toml).unwrap();
    db.run(&["seed", path.to_str().unwrap()]).ok();
}

/// Slot `k` (from 0) of the test Monday: 08:00, 08:30, ... (UTC).
fn slot(k: u32) -> String {
    let minutes = 8 * 60 + 30 * k;
    format!("{}T{:02}:{:02}", monday(), minutes / 60, minutes % 60)
}

fn line(member: usize, k: u32) -> String {
    json!({"coach": "ana@example.com", "member": format!("m{member}@example.com"), "at": slot(k)})
        .to_string()
}

/// `book --batch -` (plus `extra` arguments) with `input` on stdin.
fn batch(db: &TestDb, extra: &[&str], input: &str) -> Run {
    batch_with(db.cmd(), extra, input)
}

fn batch_with(mut cmd: std::process::Command, extra: &[&str], input: &str) -> Run {
    let mut child = cmd
        .args(["book", "--batch", "-"])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run coachctl");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    Run::from(child.wait_with_output().unwrap())
}

/// Every stdout line as JSON.
fn outcomes(run: &Run) -> Vec<Value> {
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {run:#?}")))
        .collect()
}

fn count(db: &TestDb, sql: &'static str) -> i64 {
    db.scalar::<i64>(sql)
}

#[test]
fn a_batch_of_ten_lines_books_ten_sessions_and_prints_one_json_line_each_in_order() {
    let db = TestDb::new();
    org(&db, 10, 1);
    let input: String = (0..10).map(|i| line(i, i as u32) + "\n").collect();
    let run = batch(&db, &[], &input);
    run.ok();
    assert_eq!(run.stderr, "", "nothing but the JSON lines");
    let out = outcomes(&run);
    assert_eq!(out.len(), 10);
    for (i, o) in out.iter().enumerate() {
        assert_eq!(o["line"], i + 1, "{o}");
        assert_eq!(o["ok"], true, "{o}");
        let s = &o["session"];
        assert_eq!(s["id"], s["session_id"], "{o}");
        assert_eq!(s["status"], "confirmed");
        assert_eq!(s["member_email"], format!("m{i}@example.com"));
        // shown in the coach's zone, as `book -o json` shows it
        assert_eq!(s["start"], format!("{}:00+00:00", slot(i as u32)), "{o}");
    }
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM sessions WHERE status = 'scheduled'"
        ),
        10
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM bookings WHERE status = 'confirmed'"
        ),
        10
    );
    db.assert_invariants();
}

#[test]
fn a_line_for_a_full_slot_fails_with_exit_6_and_the_other_lines_still_book() {
    let db = TestDb::new();
    org(&db, 3, 1);
    let input = [line(0, 0), line(1, 0), line(2, 1)].join("\n");
    let run = batch(&db, &[], &input);
    let err = run.fails_with(6);
    assert!(err.contains("1 of 3 lines not booked"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let out = outcomes(&run);
    assert_eq!(out.len(), 3);
    assert_eq!(out[0]["ok"], true);
    assert_eq!(
        out[1],
        json!({"line": 2, "ok": false, "exit": 6, "kind": "conflict",
               "error": "This slot is now full, please choose another"})
    );
    assert_eq!(out[2]["ok"], true);
    assert_eq!(count(&db, "SELECT count(*) FROM sessions"), 2);
    // the same guarantees as `book`: the refusal is recorded
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM bookings WHERE status = 'rejected'"
        ),
        1
    );
}

#[test]
fn with_atomic_one_failing_line_books_nothing_and_names_that_line() {
    let db = TestDb::new();
    org(&db, 4, 1);
    let input = [line(0, 0), line(1, 1), line(2, 1), line(3, 2)].join("\n");
    let run = batch(&db, &["--atomic"], &input);
    run.fails_with(6);
    let out = outcomes(&run);
    assert_eq!(out.len(), 4, "{run:#?}");
    assert_eq!(
        out[2],
        json!({"line": 3, "ok": false, "exit": 6, "kind": "conflict",
               "error": "This slot is now full, please choose another"})
    );
    for i in [0, 1, 3] {
        assert_eq!(out[i]["ok"], false, "{}", out[i]);
        assert_eq!(out[i]["line"], i + 1);
        assert_eq!(out[i]["exit"], 6);
        let e = out[i]["error"].as_str().unwrap();
        assert!(e.contains("line 3 failed") && e.contains("--atomic"), "{e}");
    }
    assert_eq!(count(&db, "SELECT count(*) FROM sessions"), 0);
    assert_eq!(count(&db, "SELECT count(*) FROM bookings"), 0);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM audit_log WHERE action LIKE 'booking.%'"
        ),
        0
    );
    db.assert_invariants();
    // and all of it, when every line books
    let input = [line(0, 0), line(1, 1), line(3, 2)].join("\n");
    batch(&db, &["--atomic"], &input).ok();
    assert_eq!(count(&db, "SELECT count(*) FROM sessions"), 3);
}

#[test]
fn a_malformed_line_is_that_lines_usage_error_exit_2_and_the_rest_book() {
    let db = TestDb::new();
    org(&db, 2, 1);
    let input = [
        line(0, 0),
        "{\"coach\": \"ana@example.com\", \"at\": ".into(),
        "\n".into(),
        "{\"coach\": \"ana@example.com\", \"member\": \"m1@example.com\", \"when\": \"x\"}".into(),
        line(1, 1),
    ]
    .join("\n");
    let run = batch(&db, &[], &input);
    run.fails_with(2);
    let out = outcomes(&run);
    // the blank lines are skipped; the numbers are the file's
    let lines: Vec<i64> = out.iter().map(|o| o["line"].as_i64().unwrap()).collect();
    assert_eq!(lines, [1, 2, 5, 6], "{run:#?}");
    for o in [&out[1], &out[2]] {
        assert_eq!(
            (o["exit"].as_i64(), o["kind"].as_str()),
            (Some(2), Some("usage")),
            "{o}"
        );
        let e = o["error"].as_str().unwrap();
        assert!(e.starts_with("not a booking ("), "{e}");
        assert!(!e.contains("at line"), "one position, the line's: {e}");
    }
    assert_eq!(out[0]["ok"], true);
    assert_eq!(out[3]["ok"], true);
    assert_eq!(count(&db, "SELECT count(*) FROM sessions"), 2);
}

#[test]
fn the_process_exits_with_the_worst_code_of_its_lines() {
    let db = TestDb::new();
    org(&db, 3, 1);
    let input = [
        "not json".to_string(),
        json!({"coach": "ana@example.com", "member": "m0@example.com", "at": "someday"})
            .to_string(),
        json!({"coach": "nobody@example.com", "member": "m0@example.com", "at": slot(3)})
            .to_string(),
        line(0, 0),
        line(1, 0),
        line(2, 1),
    ]
    .join("\n");
    let run = batch(&db, &[], &input);
    let err = run.fails_with(6);
    assert!(err.contains("4 of 6 lines not booked"), "{err}");
    let codes: Vec<i64> = outcomes(&run)
        .iter()
        .map(|o| o["exit"].as_i64().unwrap_or(0))
        .collect();
    assert_eq!(codes, [2, 3, 5, 0, 6, 0], "{run:#?}");
    // a bad value is invalid input, as a bad flag value is, and says which field
    let out = outcomes(&run);
    assert!(
        out[1]["error"].as_str().unwrap().starts_with("at: "),
        "{}",
        out[1]
    );
    // without the conflict, the not-found line is the worst
    let input = [
        "not json".to_string(),
        line(2, 2),
        json!({"coach": "nobody@example.com", "member": "m0@example.com", "at": slot(3)})
            .to_string(),
    ]
    .join("\n");
    batch(&db, &[], &input).fails_with(5);
}

#[test]
fn stdin_works_and_an_empty_input_books_nothing_and_exits_0() {
    let db = TestDb::new();
    org(&db, 1, 1);
    let run = batch(&db, &[], "");
    assert_eq!((run.code, run.stdout.as_str()), (0, ""), "{run:#?}");
    let run = batch(&db, &["--atomic"], "\n\n");
    assert_eq!((run.code, run.stdout.as_str()), (0, ""), "{run:#?}");
    assert_eq!(count(&db, "SELECT count(*) FROM sessions"), 0);
    // a file works as stdin does
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bookings.jsonl");
    std::fs::write(&file, line(0, 4) + "\n").unwrap();
    let run = db.run(&["book", "--batch", file.to_str().unwrap()]);
    assert_eq!(outcomes(&run)[0]["ok"], true, "{run:#?}");
    // a missing file is invalid input before anything is booked
    let err = db
        .run(&["book", "--batch", "/nonexistent/b.jsonl"])
        .fails_with(3)
        .to_string();
    assert!(err.contains("no such file"), "{err}");
    // --batch takes no booking flags; --atomic needs --batch
    db.run(&["book", "--batch", "-", "--coach", "ana@example.com"])
        .fails_with(2);
    db.run(&[
        "book",
        "--coach",
        "ana@example.com",
        "--at",
        &slot(5),
        "--atomic",
    ])
    .fails_with(2);
}

#[test]
fn batches_racing_over_overlapping_slots_never_overfill_a_slot_or_seat_a_member_twice() {
    let db = TestDb::new();
    // 6 slots of 2 seats; each of 6 processes books every slot, for one of
    // 3 members per slot, so that each (member, slot) is tried twice.
    org(&db, 6, 2);
    let dir = tempfile::tempdir().unwrap();
    let runs: Vec<Vec<String>> = (0..6)
        .map(|p| {
            let input: String = (0..6u32)
                .map(|s| line((s as usize + p % 3) % 6, s) + "\n")
                .collect();
            let file = dir.path().join(format!("b{p}.jsonl"));
            std::fs::write(&file, input).unwrap();
            let mut args = vec![
                "book".to_string(),
                "--batch".into(),
                file.display().to_string(),
            ];
            if p == 5 {
                args.push("--atomic".into());
            }
            args
        })
        .collect();
    for (code, err) in common::race(&db, runs) {
        assert!(code == 0 || code == 6, "exit {code}: {err}");
    }
    db.assert_invariants();
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM (SELECT starts_at FROM sessions WHERE status = 'scheduled'
                                   GROUP BY starts_at HAVING count(*) > 2) x"
        ),
        0,
        "a slot over its capacity"
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM (SELECT member_id, starts_at FROM sessions WHERE status = 'scheduled'
                                   GROUP BY member_id, starts_at HAVING count(*) > 1) x"
        ),
        0,
        "a member seated twice at once"
    );
    // three candidates per slot, each tried twice: every slot ends full
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM sessions WHERE status = 'scheduled'"
        ),
        12
    );
}

#[test]
fn a_batch_works_through_pgbouncer_in_transaction_mode_and_straight_to_postgresql() {
    let pg = fixture::servers().database();
    let setup = |args: &[&str]| {
        let out = pg.coachctl(&pg.direct_url()).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    setup(&["db", "migrate"]);
    setup(&[
        "coach",
        "create",
        "--email",
        "ana@example.com",
        "--name",
        "Ana",
        "--timezone",
        "UTC",
        "--max-members",
        "50",
    ]);
    for d in ["mon", "tue"] {
        setup(&[
            "availability",
            "add",
            "--coach",
            "ana@example.com",
            "--day",
            d,
            "--start",
            "08:00",
            "--end",
            "20:00",
            "--length",
            "30",
            "--buffer",
            "0",
            "--capacity",
            "1",
        ]);
    }
    for i in 0..8 {
        let email = format!("m{i}@example.com");
        setup(&[
            "member",
            "create",
            "--email",
            &email,
            "--name",
            "M",
            "--coach",
            "ana@example.com",
        ]);
    }
    // through the pooler, then straight: the second books Tuesday
    for (url, day) in [(pg.pooled_url(), 0), (pg.direct_url(), 1)] {
        let tuesday = |l: String| {
            l.replace(
                &monday().to_string(),
                &(monday() + chrono::Duration::days(day)).to_string(),
            )
        };
        let input: String = (0..8).map(|i| tuesday(line(i, i as u32)) + "\n").collect();
        let run = batch_with(pg.coachctl(&url), &[], &input);
        run.ok();
        assert!(outcomes(&run).iter().all(|o| o["ok"] == true), "{run:#?}");
        // the refusal path too (its snapshot, its recorded rejection)
        let run = batch_with(pg.coachctl(&url), &[], &tuesday(line(0, 0)));
        assert_eq!(outcomes(&run)[0]["exit"], 6, "{run:#?}");
    }
    assert_eq!(pg.psql("SELECT count(*) FROM sessions").trim(), "16");
}

#[test]
fn one_book_process_makes_one_round_trip_when_the_slot_is_free() {
    let db = TestDb::new();
    org(&db, 2, 1);
    let proxy = Proxy::to(&db);
    let url = proxy.url(&db);
    let book = |member: &str, k: u32| {
        let mut c = db.cmd();
        c.env("DATABASE_URL", &url).args([
            "book",
            "--coach",
            "ana@example.com",
            "--member",
            member,
            "--at",
            &slot(k),
            "-o",
            "json",
        ]);
        Run::from(c.output().unwrap())
    };
    let b = book("m0@example.com", 0).json();
    assert_eq!(
        b["start"],
        format!("{}:00+00:00", slot(0)),
        "the coach's zone, from the booking"
    );
    let seen = proxy.take();
    assert_eq!((seen.connections, seen.round_trips), (1, 1), "{seen:?}");
    // a refusal costs two: the statement, whose error names the reason,
    // and the recorded rejection
    let err = book("m1@example.com", 0).fails_with(6).to_string();
    assert!(err.contains("This slot is now full"), "{err}");
    let refused = proxy.take();
    assert_eq!(refused.round_trips, 2, "{refused:?}");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM bookings WHERE status = 'rejected'"
        ),
        1
    );
}

#[test]
fn a_batch_prepares_its_statements_once_and_costs_one_round_trip_a_booking() {
    let db = TestDb::new();
    org(&db, 20, 1);
    let proxy = Proxy::to(&db);
    let mut c = db.cmd();
    c.env("DATABASE_URL", proxy.url(&db));
    let input: String = (0..20).map(|i| line(i, i as u32) + "\n").collect();
    batch_with(c, &[], &input).ok();
    let seen = proxy.take();
    assert_eq!(seen.connections, 1, "{seen:?}");
    // the probe, the check, and the statement's Parse once (its own round
    // trip, before the first Bind)
    assert_eq!(seen.round_trips, 20 + 3, "{seen:?}");
    assert_eq!(seen.named_parses, 1, "prepared, once: {seen:?}");
    assert_eq!(count(&db, "SELECT count(*) FROM sessions"), 20);
}

#[test]
fn book_refuses_a_schema_newer_or_older_than_the_binary_with_exit_8_and_books_nothing() {
    let db = TestDb::new();
    org(&db, 1, 1);
    common::runtime().block_on(async {
        let pool = db.pool().await;
        sqlx::raw_sql(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES (20991231000001, 'from the future', true, '\\x00', 0)",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    });
    let args = [
        "book",
        "--coach",
        "ana@example.com",
        "--member",
        "m0@example.com",
        "--at",
        &slot(0),
    ];
    let err = db.run(&args).fails_with(8).to_string();
    assert!(err.contains("is newer than this coachctl"), "{err}");
    assert_eq!(count(&db, "SELECT count(*) FROM sessions"), 0);
    let err = batch(&db, &[], &line(0, 0)).fails_with(8).to_string();
    assert!(err.contains("is newer than this coachctl"), "{err}");
    assert_eq!(count(&db, "SELECT count(*) FROM sessions"), 0);
    // never migrated: the usual sentence
    let empty = common::empty_db();
    let err = empty.run(&args).fails_with(8).to_string();
    assert!(err.contains("coachctl db migrate"), "{err}");
}

#[test]
fn a_booking_acting_as_a_member_costs_one_round_trip_and_no_coach_lookup_after() {
    let db = TestDb::new();
    org(&db, 2, 1);
    let proxy = Proxy::to(&db);
    let mut c = db.cmd();
    c.env("DATABASE_URL", proxy.url(&db)).args([
        "--as",
        "m0@example.com",
        "book",
        "--coach",
        "ana@example.com",
        "--at",
        &slot(0),
        "-o",
        "json",
    ]);
    let b = Run::from(c.output().unwrap()).json();
    assert_eq!(
        b["start"],
        format!("{}:00+00:00", slot(0)),
        "the coach's zone"
    );
    let seen = proxy.take();
    // who is connected, the schema and who acts are folded into the
    // booking, its zone included: no coach lookup to show the times
    assert_eq!((seen.connections, seen.round_trips), (1, 1), "{seen:?}");
}
