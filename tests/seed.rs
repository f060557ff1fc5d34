//! `coachctl seed FILE`: declare an organisation, apply it, re-apply it
//! without a single write, see the difference first, and get every problem
//! of a bad file with its line and field.

mod common;

use std::path::PathBuf;

use common::TestDb;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/org.toml");

/// Write a seed file into a fresh directory; the directory lives as long as the path is used.
fn file(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn seed(db: &TestDb, path: &std::path::Path, extra: &[&str]) -> common::Run {
    let mut args = vec!["seed", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    db.run(&args)
}

/// Everything a write would leave a trace in: row counts, and every row
/// version (xmin) of the tables a seed writes, so that even an UPDATE that
/// sets a value to itself shows.
const TRACE: &str = "SELECT concat_ws('|',
    (SELECT count(*) FROM audit_log), (SELECT count(*) FROM outbox),
    (SELECT count(*) FROM relationship_events), (SELECT count(*) FROM conversations),
    (SELECT md5(string_agg(v, ',' ORDER BY v)) FROM (
        SELECT 'u' || id || ':' || xmin::text AS v FROM users
        UNION ALL SELECT 'c' || user_id || ':' || xmin::text FROM coach_profiles
        UNION ALL SELECT 'm' || user_id || ':' || xmin::text FROM member_profiles
        UNION ALL SELECT 'w' || id || ':' || xmin::text FROM availability_windows
        UNION ALL SELECT 'b' || id || ':' || xmin::text FROM availability_blocks
        UNION ALL SELECT 's' || id || ':' || xmin::text FROM sessions
        UNION ALL SELECT 'k' || id || ':' || xmin::text FROM bookings
        UNION ALL SELECT 'l' || coach_id || starts_at || ':' || xmin::text FROM slots) x))";

#[test]
fn applying_the_example_creates_every_coach_member_window_block_and_booking() {
    let db = TestDb::new();
    let run = db.run(&["seed", EXAMPLE]);
    run.ok();
    assert!(
        run.stderr
            .contains("created 2 coaches, 3 members, 3 windows, 2 blocks, 4 bookings"),
        "{run:#?}"
    );
    assert_eq!(
        db.scalar::<String>(
            "SELECT string_agg(u.email || ':' || u.timezone || ':' || c.max_members || ':' || c.member_count, ' ' ORDER BY u.email)
             FROM users u JOIN coach_profiles c ON c.user_id = u.id"
        ),
        "ana@example.com:Europe/Berlin:5:2 marcus@example.com:America/New_York:20:1"
    );
    assert_eq!(
        db.scalar::<String>(
            "SELECT string_agg(u.email || ':' || u.timezone || ':' || cu.email || ':' || m.membership_status, ' ' ORDER BY u.email)
             FROM users u JOIN member_profiles m ON m.user_id = u.id JOIN users cu ON cu.id = m.coach_id"
        ),
        "bo@example.com:Europe/Stockholm:ana@example.com:active clara@example.com:UTC:ana@example.com:active dev@example.com:UTC:marcus@example.com:active"
    );
    assert_eq!(
        db.scalar::<String>(
            "SELECT string_agg(w.day_of_week || ' ' || w.start_minute || '-' || w.end_minute || ' ' || w.session_minutes
                               || '+' || w.buffer_minutes || 'x' || w.capacity, ', ' ORDER BY u.email, w.day_of_week)
             FROM availability_windows w JOIN users u ON u.id = w.coach_id"
        ),
        "1 540-720 60+15x3, 3 840-1080 60+15x1, 2 480-600 45+15x2"
    );
    assert_eq!(
        db.scalar::<String>(
            "SELECT string_agg(first_day || '..' || last_day || ' ' || coalesce(reason, '-'), ', ' ORDER BY first_day)
             FROM availability_blocks"
        ),
        "2030-03-08..2030-03-08 holiday, 2030-12-23..2030-12-31 -"
    );
    // Sessions in the coach's zone, each with its confirmed booking; the
    // first with a coach is `initial` unless the file names the type.
    assert_eq!(
        db.scalar::<String>(
            "SELECT string_agg(m.email || ' ' || to_char(s.starts_at AT TIME ZONE c.timezone, 'YYYY-MM-DD HH24:MI')
                               || ' ' || s.session_type || ' ' || s.status || ' ' || b.status,
                               ', ' ORDER BY s.starts_at, m.email)
             FROM sessions s JOIN users m ON m.id = s.member_id JOIN users c ON c.id = s.coach_id
             JOIN bookings b ON b.session_id = s.id"
        ),
        "bo@example.com 2030-03-04 09:00 initial scheduled confirmed, \
         clara@example.com 2030-03-04 09:00 initial scheduled confirmed, \
         dev@example.com 2030-03-05 08:00 followup scheduled confirmed, \
         bo@example.com 2030-03-11 10:15 regular scheduled confirmed"
    );
    assert_eq!(
        db.scalar::<Option<String>>(
            "SELECT member_notes FROM sessions WHERE member_notes IS NOT NULL"
        ),
        Some("first visit".into())
    );
    // Audited like the single commands, and the notices a booking or an
    // assignment queues.
    assert_eq!(
        db.scalar::<String>(
            "SELECT string_agg(action || ' ' || n, ', ' ORDER BY action) FROM
             (SELECT action, count(*) AS n FROM audit_log WHERE actor_label = 'operator' GROUP BY action) a"
        ),
        "availability.add 3, availability.block 2, booking.confirm 4, coach.create 2, member.create 3"
    );
    assert_eq!(
        db.scalar::<String>(
            "SELECT string_agg(event || ' ' || n, ', ' ORDER BY event) FROM
             (SELECT event, count(*) AS n FROM outbox GROUP BY event) o"
        ),
        "member.assigned 3, session.confirmed 8"
    );
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM relationship_events WHERE event = 'assigned'"),
        3
    );
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM conversations"), 3);
    db.assert_invariants();
    // What slots shows agrees: two of three seats are left at 09:00.
    let slots = db
        .run(&[
            "slots",
            "--coach",
            "ana@example.com",
            "--from",
            "2030-03-04",
            "--days",
            "1",
            "-o",
            "json",
        ])
        .json();
    assert_eq!(slots[0]["remaining"], 1, "{slots}");
}

#[test]
fn applying_the_same_file_twice_changes_nothing_not_even_a_row_version() {
    let db = TestDb::new();
    db.run(&["seed", EXAMPLE]).ok();
    let before = db.scalar::<String>(TRACE);
    let again = db.run(&["seed", EXAMPLE, "-o", "json"]).json();
    assert_eq!(again["changes"], serde_json::json!([]), "{again}");
    assert_eq!(again["created"]["bookings"], 0);
    assert_eq!(
        again["unchanged"],
        serde_json::json!({"coaches": 2, "members": 3, "windows": 3, "blocks": 2, "bookings": 4})
    );
    assert!(again["id"].is_string());
    assert_eq!(
        db.scalar::<String>(TRACE),
        before,
        "the re-apply wrote something"
    );
    let table = db.run(&["seed", EXAMPLE]);
    assert!(table.ok().is_empty(), "{table:#?}");
    assert!(table.stderr.contains("nothing to change"), "{table:#?}");
    fits_80(&table.stderr);
    assert_eq!(db.scalar::<String>(TRACE), before);
}

#[test]
fn a_dry_run_prints_the_difference_and_writes_nothing() {
    let db = TestDb::new();
    let trace = db.scalar::<String>(TRACE);
    let dry = db.run(&["seed", EXAMPLE, "--dry-run", "-o", "json"]).json();
    assert_eq!(dry["dry_run"], true);
    assert_eq!(
        dry["created"],
        serde_json::json!({"coaches": 2, "members": 3, "windows": 3, "blocks": 2, "bookings": 4})
    );
    let changes = dry["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 14);
    assert!(
        changes
            .iter()
            .all(|c| c["action"] == "create" && c["id"].is_null())
    );
    assert_eq!(changes[0]["key"], "ana@example.com");
    assert_eq!(changes[0]["line"], 5);
    assert_eq!(
        db.scalar::<String>(TRACE),
        trace,
        "a dry run wrote something"
    );
    let table = db.run(&["seed", EXAMPLE, "--dry-run"]);
    assert!(table.ok().contains("2030-03-04T09:00"), "{table:#?}");
    assert!(
        table.stderr.contains("would create 2 coaches"),
        "{table:#?}"
    );
    fits_80(&table.stderr);
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM users"), 0);

    // Against a seeded database: one new member, one coach that differs.
    db.run(&["seed", EXAMPLE]).ok();
    let changed = std::fs::read_to_string(EXAMPLE)
        .unwrap()
        .replace("name = \"Ana Coach\"", "name = \"Ana Berger\"")
        + "\n[[member]]\nemail = \"eve@example.com\"\nname = \"Eve\"\ncoach = \"ana@example.com\"\n";
    let (_dir, path) = file("org.toml", &changed);
    let trace = db.scalar::<String>(TRACE);
    let dry = seed(&db, &path, &["--dry-run", "--update", "-o", "json"]).json();
    let changes = dry["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{dry}");
    assert_eq!(changes[0]["action"], "update");
    assert_eq!(changes[0]["kind"], "coach");
    assert_eq!(
        changes[0]["differences"],
        serde_json::json!(["name: \"Ana Coach\" -> \"Ana Berger\""])
    );
    assert!(
        changes[0]["id"].is_string(),
        "an existing thing keeps its id"
    );
    assert_eq!(changes[1]["action"], "create");
    assert_eq!(changes[1]["key"], "eve@example.com");
    assert_eq!(dry["unchanged"]["bookings"], 4);
    assert_eq!(db.scalar::<String>(TRACE), trace);

    // Differences need --update; without it nothing at all is written.
    let refused = seed(&db, &path, &[]);
    let err = refused.fails_with(6);
    assert!(err.contains("org.toml:5: coach: coach ana@example.com exists and differs (name: \"Ana Coach\" -> \"Ana Berger\"); pass --update"), "{err}");
    assert_eq!(db.scalar::<String>(TRACE), trace);
    seed(&db, &path, &["--update"]).ok();
    assert_eq!(
        db.scalar::<String>("SELECT name FROM users WHERE email = 'ana@example.com'"),
        "Ana Berger"
    );
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM audit_log WHERE action = 'coach.update'"),
        1
    );
    assert_eq!(db.scalar::<i32>("SELECT member_count FROM coach_profiles c JOIN users u ON u.id = c.user_id WHERE u.email = 'ana@example.com'"), 3);
    let trace = db.scalar::<String>(TRACE);
    seed(&db, &path, &["--update"]).ok();
    assert_eq!(
        db.scalar::<String>(TRACE),
        trace,
        "a re-apply with --update wrote something"
    );
}

#[test]
fn bad_content_is_reported_with_line_and_field_all_at_once_and_nothing_is_written() {
    let db = TestDb::new();
    let (_dir, path) = file(
        "org.toml",
        r#"[[coach]]
email = "ana@example.com"
name = "Ana Coach"
timezone = "Mars/Olympus"
  [[coach.availability]]
  day = "someday"
  start = "09:00"
  end = "08:00"
  colour = "red"

[[member]]
email = "x"
coach = "ana@example.com"

[[booking]]
coach = "ana@example.com"
member = "x"
at = "tomorrowish"
"#,
    );
    let run = seed(&db, &path, &[]);
    let err = run.fails_with(3);
    for expected in [
        "org.toml:4: coach.timezone: ",
        "org.toml:6: coach.availability.day: 'someday' is not a day of the week",
        "org.toml:8: coach.availability.end: the start (09:00) must be before the end (08:00)",
        "org.toml:9: coach.availability.colour: unknown field",
        "org.toml:11: member.name: is required",
        "org.toml:12: member.email: 'x' is not a valid email address",
        "org.toml:17: booking.member: 'x' is not a valid email address",
        "org.toml:18: booking.at: 'tomorrowish' is not a time",
        "error: org.toml: 8 problems (listed above); nothing was written",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM users"), 0);

    // The same under -o json: one error object naming every problem.
    let json = seed(&db, &path, &["-o", "json"]);
    let obj: serde_json::Value = serde_json::from_str(json.fails_with(3).trim()).unwrap();
    assert_eq!(obj["kind"], "invalid_input");
    assert!(
        obj["message"]
            .as_str()
            .unwrap()
            .contains("org.toml:18: booking.at:"),
        "{obj}"
    );

    // Syntax errors name their line too, in TOML and in JSON.
    let (_d, path) = file(
        "broken.toml",
        "[[coach]]\nemail = \"ana@example.com\"\nname = \n",
    );
    let err = seed(&db, &path, &[]).fails_with(3).to_string();
    assert!(err.contains("broken.toml:3: "), "{err}");
    let (_d, path) = file(
        "org.json",
        "{\n  \"member\": [\n    {\"email\": \"bo@example.com\",\n     \"name\": 7}\n  ]\n}\n",
    );
    let err = seed(&db, &path, &[]).fails_with(3).to_string();
    assert!(
        err.contains("org.json:4: member.name: expected a string, not a whole number"),
        "{err}"
    );
    let (_d, path) = file(
        "org.json",
        "{\n  \"member\": [\n    {\"email\": \"bo@example.com\",,}\n  ]\n}\n",
    );
    let err = seed(&db, &path, &[]).fails_with(3).to_string();
    assert!(err.contains("org.json:3: "), "{err}");
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM users"), 0);
}

#[test]
fn a_json_file_declares_the_same_organisation_and_reapplies_without_change() {
    let db = TestDb::new();
    let (_dir, path) = file(
        "org.json",
        r#"{
  "coach": [{
    "email": "ana@example.com", "name": "Ana Coach", "timezone": "Europe/Berlin",
    "availability": [{"day": "mon", "start": "09:00", "end": "12:00", "capacity": 2}]
  }],
  "member": [{"email": "Bo@Example.com", "name": "Bo Member", "coach": "ana@example.com"}],
  "booking": [{"coach": "ana@example.com", "member": "bo@example.com", "at": "2030-03-04T10:15"}]
}"#,
    );
    seed(&db, &path, &[]).ok();
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM sessions WHERE status = 'scheduled'"),
        1
    );
    assert_eq!(
        db.scalar::<String>("SELECT email FROM users WHERE role = 'member'"),
        "bo@example.com"
    );
    let trace = db.scalar::<String>(TRACE);
    let again = seed(&db, &path, &["-o", "json"]).json();
    assert_eq!(again["changes"], serde_json::json!([]));
    assert_eq!(db.scalar::<String>(TRACE), trace);
}

#[test]
fn only_an_admin_may_seed() {
    let db = TestDb::new();
    db.run(&["seed", EXAMPLE]).ok();
    let trace = db.scalar::<String>(TRACE);
    for who in ["bo@example.com", "ana@example.com"] {
        let err = db.run_as(who, &["seed", EXAMPLE]).fails_with(4).to_string();
        assert!(
            err.contains("only an admin may seed an organisation"),
            "{err}"
        );
        let err = db
            .run_as(who, &["seed", EXAMPLE, "--dry-run"])
            .fails_with(4)
            .to_string();
        assert!(err.contains(who), "{err}");
    }
    assert_eq!(db.scalar::<String>(TRACE), trace);
}

const ONE_SEAT: &str = r#"[[coach]]
email = "ana@example.com"
name = "Ana Coach"
timezone = "Europe/Berlin"
  [[coach.availability]]
  day = "mon"
  start = "09:00"
  end = "12:00"

[[member]]
email = "bo@example.com"
name = "Bo"
coach = "ana@example.com"

[[member]]
email = "cy@example.com"
name = "Cy"
coach = "ana@example.com"

[[booking]]
coach = "ana@example.com"
member = "bo@example.com"
at = "2030-03-04T09:00"
"#;

#[test]
fn a_booking_that_would_overbook_a_slot_is_refused_naming_it_and_nothing_is_written() {
    let db = TestDb::new();
    let text = format!(
        "{ONE_SEAT}\n[[booking]]\ncoach = \"ana@example.com\"\nmember = \"cy@example.com\"\nat = \"2030-03-04T09:00\"\n"
    );
    let (_dir, path) = file("org.toml", &text);
    let err = seed(&db, &path, &[]).fails_with(6).to_string();
    assert!(
        err.contains("org.toml:25: booking: the booking of cy@example.com with ana@example.com at 2030-03-04T09:00 is refused: This slot is now full, please choose another"),
        "{err}"
    );
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM users"), 0);
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM audit_log"), 0);

    // A seat the database already holds counts as well.
    let (_d, first) = file("first.toml", ONE_SEAT);
    seed(&db, &first, &[]).ok();
    let trace = db.scalar::<String>(TRACE);
    let err = seed(&db, &path, &[]).fails_with(6).to_string();
    assert!(err.contains("org.toml:25: booking: "), "{err}");
    assert_eq!(db.scalar::<String>(TRACE), trace);
}

#[test]
fn a_booking_outside_the_windows_or_off_the_slot_grid_is_refused_naming_it() {
    let db = TestDb::new();
    let text = format!(
        "{ONE_SEAT}\n[[booking]]\ncoach = \"ana@example.com\"\nmember = \"cy@example.com\"\nat = \"2030-03-04T13:00\"\n\
         \n[[booking]]\ncoach = \"ana@example.com\"\nmember = \"cy@example.com\"\nat = \"2030-03-04T09:30+01:00\"\n"
    );
    let (_dir, path) = file("org.toml", &text);
    let err = seed(&db, &path, &[]).fails_with(7).to_string();
    assert!(
        err.contains("org.toml:25: booking: the booking of cy@example.com with ana@example.com at 2030-03-04T13:00 is refused: that time is not a slot start of the coach's availability"),
        "{err}"
    );
    assert!(err.contains("org.toml:30: booking: "), "{err}");
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM users"), 0);
}

#[test]
fn a_member_beyond_the_coach_capacity_is_refused_naming_the_line() {
    let db = TestDb::new();
    let text = ONE_SEAT.replace(
        "timezone = \"Europe/Berlin\"",
        "timezone = \"Europe/Berlin\"\nmax_members = 1",
    );
    let (_dir, path) = file("org.toml", &text);
    let err = seed(&db, &path, &[]).fails_with(6).to_string();
    assert!(
        err.contains("org.toml:19: member.coach: coach ana@example.com is at capacity (1 members)"),
        "{err}"
    );
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM users"), 0);
}

#[test]
fn five_seeds_of_one_file_at_once_all_succeed_and_leave_one_organisation() {
    let db = TestDb::new();
    let runs = (0..5)
        .map(|_| vec!["seed".to_string(), EXAMPLE.to_string()])
        .collect();
    for (code, err) in common::race(&db, runs) {
        assert_eq!(code, 0, "a concurrent seed failed: {err}");
    }
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM users"), 5);
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM availability_windows"),
        3
    );
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM sessions"), 4);
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM audit_log"), 14);
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM outbox"), 11);
    db.assert_invariants();
}

#[test]
fn with_update_a_changed_window_is_changed_unless_it_would_orphan_a_booked_session() {
    let db = TestDb::new();
    db.run(&["seed", EXAMPLE]).ok();
    let example = std::fs::read_to_string(EXAMPLE).unwrap();
    // Four seats instead of three on Monday mornings.
    let wider = example.replacen("capacity = 3", "capacity = 4", 1);
    let (_dir, path) = file("org.toml", &wider);
    let err = seed(&db, &path, &[]).fails_with(6).to_string();
    assert!(err.contains("org.toml:12: coach.availability: coach.availability ana@example.com mon 09:00-12:00 exists and differs (capacity: 3 -> 4)"), "{err}");
    let run = seed(&db, &path, &["--update", "-o", "json"]).json();
    assert_eq!(run["updated"]["windows"], 1, "{run}");
    assert_eq!(
        db.scalar::<i32>("SELECT capacity FROM availability_windows WHERE day_of_week = 1"),
        4
    );
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM audit_log WHERE action = 'availability.update'"),
        1
    );
    // Ending the window at 10:00 would leave the 10:15 booking outside it.
    let shorter = wider.replacen("end = \"12:00\"", "end = \"10:00\"", 1);
    let (_d, path) = file("org.toml", &shorter);
    let trace = db.scalar::<String>(TRACE);
    let err = seed(&db, &path, &["--update"]).fails_with(6).to_string();
    assert!(err.contains("outside the availability windows"), "{err}");
    assert!(err.contains("Mon 11 Mar 2030, 10:15 CET"), "{err}");
    assert_eq!(db.scalar::<String>(TRACE), trace);
}

/// A summary on stderr is broken at words, never wider than 80 columns.
fn fits_80(text: &str) {
    for line in text.lines() {
        assert!(line.chars().count() <= 80, "{line:?}\n{text}");
    }
}
