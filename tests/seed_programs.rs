//! Seed files declare programs, enrolments and insights (issue 19, item 6):
//! a series is booked whole through `program assign`'s own code or not at
//! all, a second apply changes nothing, and bad values are named by line.

mod common;

use common::TestDb;

fn file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("org.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// The line of the file on which `needle` first appears (1-based).
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

/// Ana has one seat on Wednesdays at 09:00; Bo is hers, Clara too.
const PEOPLE: &str = r#"
[[coach]]
email = "ana@example.com"
name = "Ana Coach"
timezone = "Europe/Berlin"

  [[coach.availability]]
  day = "wed"
  start = "09:00"
  end = "10:00"
  capacity = 1

[[member]]
email = "bo@example.com"
name = "Bo Member"
coach = "ana@example.com"

[[member]]
email = "clara@example.com"
name = "Clara Member"
coach = "ana@example.com"
"#;

/// Four Wednesdays from Monday 2030-03-04: the 6th, 13th, 20th and 27th.
const COACHING: &str = r#"
[[program]]
coach = "ana@example.com"
name = "Strength basics"
weeks = 4
per_week = 1
length = 60
difficulty = "beginner"
goals = ["squat", "posture"]

[[enrolment]]
program = "Strength basics"
coach = "ana@example.com"
member = "bo@example.com"
start = "2030-03-04"
weekly = ["wed 09:00"]

[[insight]]
coach = "ana@example.com"
member = "bo@example.com"
type = "recommendation"
title = "Sleep more"
text = "Eight hours before a session."
priority = "high"
program = "Strength basics"
"#;

fn whole() -> String {
    format!("{PEOPLE}{COACHING}")
}

/// Every row a seed of programs could leave, with its row version.
const TRACE: &str = "SELECT concat_ws('|',
    (SELECT count(*) FROM audit_log), (SELECT count(*) FROM outbox),
    (SELECT md5(string_agg(v, ',' ORDER BY v)) FROM (
        SELECT 'p' || id || ':' || xmin::text AS v FROM programs
        UNION ALL SELECT 'e' || id || ':' || xmin::text FROM program_enrolments
        UNION ALL SELECT 'i' || id || ':' || xmin::text FROM insights
        UNION ALL SELECT 's' || id || ':' || xmin::text FROM sessions
        UNION ALL SELECT 'u' || id || ':' || xmin::text FROM users) x))";

#[test]
fn a_seed_with_a_program_an_enrolment_and_an_insight_books_the_whole_series() {
    let db = TestDb::new();
    let text = whole();
    let (_d, path) = file(&text);
    let run = db.run(&["seed", path.to_str().unwrap()]);
    run.ok();
    let said = run.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        said.contains("1 window, 1 program, 1 enrolment, 1 insight"),
        "{run:#?}"
    );
    assert_eq!(
        db.scalar::<String>(
            "SELECT p.name || ' ' || p.weeks || 'x' || p.per_week || ' ' || p.difficulty || ' '
                    || array_to_string(p.goals, ',') || ' ' || u.email
             FROM programs p JOIN users u ON u.id = p.coach_id"
        ),
        "Strength basics 4x1 beginner squat,posture ana@example.com"
    );
    // An admin's assignment is scheduled at once: every session, in Ana's zone.
    assert_eq!(
        db.scalar::<String>("SELECT status FROM program_enrolments"),
        "active"
    );
    assert_eq!(
        db.scalar::<String>(
            "SELECT string_agg(to_char(s.starts_at AT TIME ZONE 'Europe/Berlin', 'MM-DD HH24:MI')
                               || ' ' || s.status, ', ' ORDER BY s.starts_at)
             FROM sessions s JOIN program_enrolments e ON e.id = s.enrolment_id"
        ),
        "03-06 09:00 scheduled, 03-13 09:00 scheduled, 03-20 09:00 scheduled, 03-27 09:00 scheduled"
    );
    assert_eq!(
        db.scalar::<String>(
            "SELECT i.kind || ' ' || i.priority || ' ' || i.title || ' ' || (i.enrolment_id = e.id)
             FROM insights i JOIN program_enrolments e ON e.member_id = i.member_id"
        ),
        "recommendation high Sleep more true"
    );
    assert_eq!(
        db.scalar::<String>(
            "SELECT string_agg(action, ', ' ORDER BY action) FROM audit_log
             WHERE action IN ('program.create', 'program.assign', 'insight.add')"
        ),
        "insight.add, program.assign, program.create"
    );
    db.assert_invariants();
}

#[test]
fn a_second_apply_and_a_dry_run_change_nothing() {
    let db = TestDb::new();
    let text = whole();
    let (_d, path) = file(&text);
    let p = path.to_str().unwrap();
    // A dry run lists what it would create, and writes nothing.
    let before = db.scalar::<String>(TRACE);
    let dry = db.run(&["seed", p, "--dry-run", "-o", "json"]).json();
    assert_eq!(db.scalar::<String>(TRACE), before, "a dry run wrote");
    assert_eq!(dry["created"]["programs"], 1, "{dry}");
    assert_eq!(dry["created"]["enrolments"], 1, "{dry}");
    assert_eq!(dry["created"]["insights"], 1, "{dry}");
    let kinds: Vec<(String, u64)> = dry["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| ["program", "enrolment", "insight"].contains(&c["kind"].as_str().unwrap()))
        .map(|c| {
            assert!(c["id"].is_null(), "{c}");
            (
                c["kind"].as_str().unwrap().to_string(),
                c["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("program".to_string(), line_of(&text, "[[program]]") as u64),
            (
                "enrolment".to_string(),
                line_of(&text, "[[enrolment]]") as u64
            ),
            ("insight".to_string(), line_of(&text, "[[insight]]") as u64),
        ]
    );
    let table = db.run(&["seed", p, "--dry-run"]);
    let out = table.ok();
    assert!(
        out.contains("program") && out.contains("enrolment") && out.contains("insight"),
        "{table:#?}"
    );
    assert_eq!(db.scalar::<String>(TRACE), before, "a dry run wrote");

    db.run(&["seed", p]).ok();
    let applied = db.scalar::<String>(TRACE);
    let again = db.run(&["seed", p, "-o", "json"]).json();
    assert_eq!(again["changes"], serde_json::json!([]), "{again}");
    assert_eq!(again["unchanged"]["programs"], 1, "{again}");
    assert_eq!(again["unchanged"]["enrolments"], 1, "{again}");
    assert_eq!(again["unchanged"]["insights"], 1, "{again}");
    let table = db.run(&["seed", p]);
    table.ok();
    assert!(table.stderr.contains("nothing to change"), "{table:#?}");
    assert_eq!(db.scalar::<String>(TRACE), applied, "a re-apply wrote");
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM sessions"), 4);
}

#[test]
fn an_existing_enrolment_is_never_booked_again_and_a_changed_program_needs_update() {
    let db = TestDb::new();
    let (_d, path) = file(&whole());
    db.run(&["seed", path.to_str().unwrap()]).ok();
    let applied = db.scalar::<String>(TRACE);
    // Other weekly times for the same enrolment: said, not booked.
    let moved = whole().replace(r#"weekly = ["wed 09:00"]"#, r#"weekly = ["wed 09:30"]"#);
    let (_d2, path2) = file(&moved);
    let run = db.run(&["seed", path2.to_str().unwrap()]);
    run.ok();
    assert!(
        run.stderr.contains("never books a series again"),
        "{run:#?}"
    );
    assert_eq!(db.scalar::<String>(TRACE), applied);
    // A program's changed field is a difference, applied with --update.
    let longer = whole().replace("weeks = 4", "weeks = 6");
    let (_d3, path3) = file(&longer);
    let p3 = path3.to_str().unwrap();
    let err = db.run(&["seed", p3]).fails_with(6).to_string();
    assert!(err.contains("weeks: 4 -> 6"), "{err}");
    assert_eq!(db.scalar::<String>(TRACE), applied);
    db.run(&["seed", p3, "--update"]).ok();
    assert_eq!(db.scalar::<i32>("SELECT weeks FROM programs"), 6);
    // The enrolment keeps the series it was booked with.
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM sessions"), 4);
}

#[test]
fn a_series_that_cannot_be_booked_fails_naming_its_line_and_books_nothing() {
    let db = TestDb::new();
    // Clara holds the only seat on the third Wednesday.
    let people = format!(
        "{PEOPLE}\n[[booking]]\ncoach = \"ana@example.com\"\nmember = \"clara@example.com\"\nat = \"2030-03-20T09:00\"\n"
    );
    let (_d, base) = file(&people);
    db.run(&["seed", base.to_str().unwrap()]).ok();
    let before = db.scalar::<String>(TRACE);
    let text = format!("{people}{COACHING}");
    let (_d2, path) = file(&text);
    let run = db.run(&["seed", path.to_str().unwrap()]);
    let err = run.fails_with(6).to_string();
    let line = line_of(&text, "[[enrolment]]");
    assert!(
        run.stderr.contains(&format!(
            "org.toml:{line}: enrolment: cannot assign Strength basics to bo@example.com: 1 of 4 sessions cannot be booked, so none was: Wed 20 Mar 2030, 09:00 CET (the slot is full)"
        )),
        "{run:#?}"
    );
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(db.scalar::<String>(TRACE), before, "something was written");
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM programs"), 0);
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM program_enrolments"),
        0
    );
}

#[test]
fn bad_values_are_named_with_their_lines_and_nothing_is_written() {
    let db = TestDb::new();
    let text = whole()
        .replace(r#"weekly = ["wed 09:00"]"#, r#"weekly = ["someday 09:00"]"#)
        .replace(r#"type = "recommendation""#, r#"type = "advice""#)
        .replace(r#"priority = "high""#, r#"priority = "urgent""#)
        .replace(r#"difficulty = "beginner""#, r#"difficulty = "heroic""#);
    let (_d, path) = file(&text);
    let run = db.run(&["seed", path.to_str().unwrap()]);
    run.fails_with(3);
    for (needle, message) in [
        (
            "difficulty =",
            "program.difficulty: 'heroic' is not a difficulty",
        ),
        (
            "weekly =",
            "enrolment.weekly: 'someday' is not a day of the week",
        ),
        ("type =", "insight.type: 'advice' is not an insight type"),
        ("priority =", "insight.priority: 'urgent' is not a priority"),
    ] {
        let expected = format!("org.toml:{}: {message}", line_of(&text, needle));
        assert!(run.stderr.contains(&expected), "{expected}\n{run:#?}");
    }
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM users"), 0);
}

#[test]
fn an_unknown_program_or_a_member_not_the_coachs_is_refused_with_its_line() {
    let db = TestDb::new();
    let unknown = whole().replace(
        "program = \"Strength basics\"\ncoach",
        "program = \"Yoga\"\ncoach",
    );
    let (_d, path) = file(&unknown);
    let run = db.run(&["seed", path.to_str().unwrap()]);
    run.fails_with(5);
    let line = line_of(&unknown, "[[enrolment]]");
    assert!(
        run.stderr.contains(&format!(
            "org.toml:{line}: enrolment.program: no program Yoga of ana@example.com"
        )),
        "{run:#?}"
    );
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM users"), 0);
    // Dev has no coach: no series with Ana, and no insight from her either.
    let stranger = format!(
        "{}\n[[member]]\nemail = \"dev@example.com\"\nname = \"Dev\"\n",
        whole().replace("bo@example.com", "dev@example.com")
    )
    .replace(
        "[[member]]\nemail = \"dev@example.com\"\nname = \"Bo Member\"\ncoach = \"ana@example.com\"\n",
        "",
    );
    let (_d2, path2) = file(&stranger);
    let run = db.run(&["seed", path2.to_str().unwrap()]);
    run.fails_with(7);
    let line = line_of(&stranger, "[[enrolment]]");
    assert!(
        run.stderr.contains(&format!(
            "org.toml:{line}: enrolment: dev@example.com is neither assigned nor connected to coach ana@example.com"
        )),
        "{run:#?}"
    );
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM users"), 0);
}
