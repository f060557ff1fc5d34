//! `member import` and `member export` (issue 11): the CSV format and its
//! malformed shapes, every bad row in one run with nothing written,
//! capacity, idempotent re-runs, `--update`, permissions, the round trip,
//! and an import raced against `member assign` by real processes.

mod common;

use std::io::Write;

use common::TestDb;
use serde_json::Value;

/// A roster file with these contents.
fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    f.write_all(text.as_bytes()).expect("write roster");
    f
}

fn path(f: &tempfile::NamedTempFile) -> &str {
    f.path().to_str().expect("utf-8 path")
}

fn coach(db: &TestDb, email: &str, max: u32) -> String {
    db.coach(email).name("A Coach").max_members(max).create()
}

fn count(db: &TestDb, sql: &'static str) -> i64 {
    db.scalar::<i64>(sql)
}

#[test]
fn a_roster_creates_members_with_the_side_effects_of_member_create_with_a_coach() {
    let db = TestDb::new();
    coach(&db, "ana@example.com", 5);
    let f = file(
        "email,name,goals,timezone,coach,membership_status\n\
         bo@example.com,Bo Member,run 10k,Europe/Berlin,ana@example.com,active\n\
         Cy@Example.com,Cy,,,,\n\
         di@example.com,Di,,America/New_York,ana@example.com,paused\n",
    );
    let out = db.run(&["member", "import", path(&f)]);
    assert!(
        out.ok().contains("created 3, updated 0, unchanged 0"),
        "{out:?}"
    );

    let bo = db
        .run(&["member", "show", "bo@example.com", "-o", "json"])
        .json();
    assert_eq!(bo["name"], "Bo Member");
    assert_eq!(bo["goals"], "run 10k");
    assert_eq!(bo["timezone"], "Europe/Berlin");
    assert_eq!(bo["coach_email"], "ana@example.com");
    assert_eq!(bo["onboarding_status"], "pending");
    let cy = db
        .run(&["member", "show", "cy@example.com", "-o", "json"])
        .json();
    assert_eq!(cy["email"], "cy@example.com", "stored in canonical form");
    assert_eq!(cy["timezone"], "UTC");
    assert_eq!(cy["membership_status"], "active");
    assert!(cy["coach_id"].is_null());

    // Only the active assigned member holds a seat, as for `member assign`.
    assert_eq!(
        db.scalar::<i32>("SELECT member_count FROM coach_profiles"),
        1
    );
    // What `member create --coach` writes besides the rows.
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM outbox WHERE event = 'member.assigned'"
        ),
        2
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM relationship_events WHERE event = 'assigned'"
        ),
        2
    );
    assert_eq!(count(&db, "SELECT count(*) FROM conversations"), 2);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM audit_log WHERE action = 'member.create' AND entity = 'member'
             AND after->>'email' IS NOT NULL AND before IS NULL"
        ),
        3
    );
    db.assert_invariants();
}

#[test]
fn importing_the_same_file_twice_changes_nothing_the_second_time_and_says_so() {
    let db = TestDb::new();
    coach(&db, "ana@example.com", 5);
    let f = file("email,name,coach\nbo@example.com,Bo,ana@example.com\ncy@example.com,Cy,\n");
    db.run(&["member", "import", path(&f)]).ok();
    let audit = count(&db, "SELECT count(*) FROM audit_log");
    let outbox = count(&db, "SELECT count(*) FROM outbox");
    let events = count(&db, "SELECT count(*) FROM relationship_events");

    let again = db.run(&["member", "import", path(&f)]);
    assert!(again.ok().contains("nothing to change"), "{again:?}");
    let json = db.run(&["member", "import", path(&f), "-o", "json"]).json();
    assert_eq!(
        (json["created"].as_u64(), json["updated"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(json["unchanged"], 2);
    assert!(json["id"].is_string());
    assert_eq!(count(&db, "SELECT count(*) FROM audit_log"), audit);
    assert_eq!(count(&db, "SELECT count(*) FROM outbox"), outbox);
    assert_eq!(
        count(&db, "SELECT count(*) FROM relationship_events"),
        events
    );
}

#[test]
fn a_differing_member_is_refused_without_update_and_changed_with_it() {
    let db = TestDb::new();
    coach(&db, "ana@example.com", 5);
    coach(&db, "cy@example.com", 5);
    db.run(&[
        "member",
        "import",
        path(&file(
            "email,name,coach\nbo@example.com,Bo,ana@example.com\n",
        )),
    ])
    .ok();
    let changed = file("email,name,coach\nbo@example.com,Bo Renamed,cy@example.com\n");
    let err = db
        .run(&["member", "import", path(&changed)])
        .fails_with(3)
        .to_string();
    assert!(
        err.contains(
            "line 2: member bo@example.com exists with a different name, coach; pass --update"
        ),
        "{err}"
    );
    assert_eq!(
        db.run(&["member", "show", "bo@example.com", "-o", "json"])
            .json()["name"],
        "Bo"
    );

    let out = db.run(&["member", "import", path(&changed), "--update", "-v"]);
    let text = out.ok();
    assert!(
        text.contains("line 2: updated bo@example.com (name, coach)"),
        "{text}"
    );
    assert!(text.contains("updated 1"), "{text}");
    let bo = db
        .run(&["member", "show", "bo@example.com", "-o", "json"])
        .json();
    assert_eq!(
        (bo["name"].as_str(), bo["coach_email"].as_str()),
        (Some("Bo Renamed"), Some("cy@example.com"))
    );
    // Capacity moved with the member; the history says so, as for `member assign`.
    assert_eq!(
        db.scalar::<String>(
            "SELECT string_agg(u.email || '=' || c.member_count, ',' ORDER BY u.email)
             FROM coach_profiles c JOIN users u ON u.id = c.user_id"
        ),
        "ana@example.com=0,cy@example.com=1"
    );
    assert_eq!(
        db.scalar::<String>("SELECT string_agg(event, ',' ORDER BY id) FROM relationship_events"),
        "assigned,unassigned,assigned"
    );
    assert_eq!(
        db.scalar::<String>(
            "SELECT before->>'name' || '>' || (after->>'name') FROM audit_log WHERE action = 'member.update'"
        ),
        "Bo>Bo Renamed"
    );
    // A column left out keeps what the member has.
    db.run(&[
        "member",
        "import",
        path(&file("email,name\nbo@example.com,Bo Renamed\n")),
    ])
    .ok();
    let bo = db
        .run(&["member", "show", "bo@example.com", "-o", "json"])
        .json();
    assert_eq!(bo["coach_email"], "cy@example.com");
    db.assert_invariants();
}

#[test]
fn every_bad_row_is_reported_with_its_line_and_then_nothing_is_written() {
    let db = TestDb::new();
    coach(&db, "ana@example.com", 5);
    let f = file(
        "email,name,timezone,coach,membership_status\n\
         ok@example.com,Fine,UTC,ana@example.com,active\n\
         not-an-email,Bad Email,,,\n\
         dup@example.com,First,,,\n\
         DUP@example.com,Second,,,\n\
         tz@example.com,Zone,Mars/Base,,\n\
         st@example.com,Status,,,frozen\n\
         nc@example.com,No Coach,,ghost@example.com,\n\
         ana@example.com,A Coach,,,\n\
         few@example.com,Too Few\n\
           ,No Email,,,\n\
         ,,,,\n",
    );
    let err = db
        .run(&["member", "import", path(&f)])
        .fails_with(3)
        .to_string();
    for want in [
        "line 3: 'not-an-email' is not a valid email address",
        "line 5: dup@example.com appears already on line 4",
        "line 6: 'Mars/Base' is not an IANA time zone",
        "line 7: 'frozen' is not a valid membership status",
        "line 8: no coach ghost@example.com",
        "line 9: ana@example.com is a coach, not a member",
        "line 10: has 2 field(s), the header has 5",
        "line 11: an email address is required",
        "error: 8 bad rows in the roster file; nothing was imported",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    assert!(!err.contains("line 2:"), "{err}");
    assert_eq!(
        err.lines().count(),
        9,
        "one line per bad row and a summary: {err}"
    );
    assert_eq!(count(&db, "SELECT count(*) FROM member_profiles"), 0);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM audit_log WHERE entity = 'member'"
        ),
        0
    );

    // Under -o json: one object with the rows as a list.
    let out = db.run(&["member", "import", path(&f), "-o", "json"]);
    let err: Value = serde_json::from_str(out.fails_with(3).trim()).expect("json error");
    assert_eq!(err["kind"], "invalid_input");
    assert_eq!(err["rows"].as_array().map(Vec::len), Some(8));
    assert_eq!(err["rows"][0]["line"], 3);
}

#[test]
fn a_thousand_bad_rows_in_one_file_are_all_reported() {
    let db = TestDb::new();
    let mut text = String::from("email,name\n");
    for i in 0..2000 {
        if i % 2 == 0 {
            text.push_str(&format!("bad{i},Name\n"));
        } else {
            text.push_str(&format!("good{i}@example.com,Name\n"));
        }
    }
    let f = file(&text);
    let err = db
        .run(&["member", "import", path(&f)])
        .fails_with(3)
        .to_string();
    assert_eq!(err.lines().filter(|l| l.starts_with("line ")).count(), 1000);
    assert!(err.contains("line 2: 'bad0'"), "{}", &err[..200]);
    assert!(err.contains("line 2000: 'bad1998'"));
    assert!(err.ends_with("error: 1000 bad rows in the roster file; nothing was imported\n"));
    assert_eq!(count(&db, "SELECT count(*) FROM users"), 0);
}

#[test]
fn quotes_a_bom_crlf_and_empty_lines_are_read_as_a_spreadsheet_writes_them() {
    let db = TestDb::new();
    let f = file(
        "\u{feff}Email,Name,Goals\r\n\
         \r\n\
         bo@example.com,\"Lind, Bo\",\"say \"\"hi\"\"\r\nthen run\"\r\n\
         \r\n\
         cy@example.com,'=Cy,'@home\r\n",
    );
    db.run(&["member", "import", path(&f)]).ok();
    let bo = db
        .run(&["member", "show", "bo@example.com", "-o", "json"])
        .json();
    assert_eq!(bo["name"], "Lind, Bo");
    assert_eq!(bo["goals"], "say \"hi\"\nthen run");
    let cy = db
        .run(&["member", "show", "cy@example.com", "-o", "json"])
        .json();
    assert_eq!(cy["name"], "=Cy", "the formula guard is undone");
    assert_eq!(cy["goals"], "@home");
}

#[test]
fn a_file_without_a_proper_header_is_refused_naming_what_is_wrong() {
    let db = TestDb::new();
    let cases = [
        ("", "the roster file is empty"),
        ("\n\n", "the roster file is empty"),
        (
            "bo@example.com,Bo\n",
            "unknown column(s) 'bo@example.com', 'bo'",
        ),
        ("email,name,age,phone\n", "unknown column(s) 'age', 'phone'"),
        (
            "email,goals\nbo@example.com,x\n",
            "lacks the required column(s) name",
        ),
        ("email,name,email\n", "names the column 'email' twice"),
        ("email,name\n", "has a header (line 1) but no rows"),
    ];
    for (text, want) in cases {
        let f = file(text);
        let err = db
            .run(&["member", "import", path(&f)])
            .fails_with(3)
            .to_string();
        assert!(err.contains(want), "{text:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    let err = db
        .run(&["member", "import", "/nonexistent/roster.csv"])
        .fails_with(3)
        .to_string();
    assert!(
        err.contains("cannot read the roster file /nonexistent/roster.csv"),
        "{err}"
    );
}

#[test]
fn a_row_over_the_coachs_capacity_fails_the_file_and_nothing_is_written() {
    let db = TestDb::new();
    coach(&db, "ana@example.com", 2);
    let f =
        file("email,name\na@example.com,A\nb@example.com,B\nc@example.com,C\nd@example.com,D\n");
    let err = db
        .run(&["member", "import", path(&f), "--coach", "ana@example.com"])
        .fails_with(3)
        .to_string();
    assert!(
        err.contains("line 4: coach ana@example.com is at capacity (2 members, 0 now)"),
        "{err}"
    );
    assert!(
        err.contains("line 5: coach ana@example.com is at capacity"),
        "{err}"
    );
    assert!(!err.contains("line 3:"), "{err}");
    assert_eq!(
        count(&db, "SELECT count(*) FROM users WHERE role = 'member'"),
        0
    );
    assert_eq!(
        db.scalar::<i32>("SELECT member_count FROM coach_profiles"),
        0
    );
    assert_eq!(count(&db, "SELECT count(*) FROM outbox"), 0);
}

#[test]
fn dry_run_prints_the_plan_and_writes_nothing() {
    let db = TestDb::new();
    coach(&db, "ana@example.com", 5);
    db.member("bo").create();
    let f = file("email,name\nbo@example.com,Bo Lind\ncy@example.com,Cy\n");
    let out = db.run(&["member", "import", path(&f), "--update", "--dry-run", "-v"]);
    let text = out.ok();
    assert!(
        text.contains("line 2: would update bo@example.com (name)"),
        "{text}"
    );
    assert!(
        text.contains("line 3: would create cy@example.com"),
        "{text}"
    );
    assert!(
        text.contains("would create 1, would update 1, unchanged 0; nothing was written"),
        "{text}"
    );
    let json = db
        .run(&[
            "member",
            "import",
            path(&f),
            "--update",
            "--dry-run",
            "-o",
            "json",
        ])
        .json();
    assert_eq!(json["dry_run"], true);
    assert_eq!(json["members"][1]["action"], "created");
    assert_eq!(
        count(&db, "SELECT count(*) FROM users WHERE role = 'member'"),
        1
    );
    assert_eq!(
        db.scalar::<String>("SELECT name FROM users WHERE email = 'bo@example.com'"),
        "Bo"
    );
}

#[test]
fn coach_flag_assigns_every_row_and_a_row_naming_another_coach_is_an_error() {
    let db = TestDb::new();
    coach(&db, "ana@example.com", 5);
    coach(&db, "cy@example.com", 5);
    let f = file("email,name,coach\na@example.com,A,\nb@example.com,B,cy@example.com\n");
    let err = db
        .run(&["member", "import", path(&f), "--coach", "ana@example.com"])
        .fails_with(3)
        .to_string();
    assert!(
        err.contains("line 3: names coach cy@example.com, but --coach is ana@example.com"),
        "{err}"
    );
    let f = file("email,name,coach\na@example.com,A,\nb@example.com,B,ana@example.com\n");
    db.run(&["member", "import", path(&f), "--coach", "ana@example.com"])
        .ok();
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM member_profiles m JOIN users c ON c.id = m.coach_id WHERE c.email = 'ana@example.com'"
        ),
        2
    );
    let err = db
        .run(&["member", "import", path(&f), "--coach", "ghost@example.com"])
        .fails_with(5)
        .to_string();
    assert!(err.contains("ghost@example.com"), "{err}");
}

#[test]
fn a_coach_imports_into_their_own_roster_and_a_member_may_not_import() {
    let db = TestDb::new();
    coach(&db, "ana@example.com", 5);
    coach(&db, "cy@example.com", 5);
    db.member("m").create();
    let f = file("email,name\nbo@example.com,Bo\n");

    let err = db
        .run_as("m", &["member", "import", path(&f)])
        .fails_with(4)
        .to_string();
    assert!(err.contains("may not import members"), "{err}");
    let err = db
        .run_as(
            "ana",
            &["member", "import", path(&f), "--coach", "cy@example.com"],
        )
        .fails_with(4)
        .to_string();
    assert!(err.contains("only into their own roster"), "{err}");
    let other = file("email,name,coach\nbo@example.com,Bo,cy@example.com\n");
    db.run_as("ana", &["member", "import", path(&other)])
        .fails_with(4);
    // An existing member of nobody is not theirs to take.
    let theirs = file("email,name\nm@example.com,M\n");
    let err = db
        .run_as("ana", &["member", "import", path(&theirs), "--update"])
        .fails_with(4)
        .to_string();
    assert!(
        err.contains("line 2: m@example.com is not in ana@example.com's roster"),
        "{err}"
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM users WHERE role = 'member'"),
        1
    );

    db.run_as("ana", &["member", "import", path(&f)]).ok();
    let bo = db
        .run(&["member", "show", "bo@example.com", "-o", "json"])
        .json();
    assert_eq!(bo["coach_email"], "ana@example.com");
    assert_eq!(
        db.scalar::<String>("SELECT actor_label FROM audit_log WHERE action = 'member.create' ORDER BY id DESC LIMIT 1"),
        "ana@example.com"
    );
}

#[test]
fn export_then_import_into_an_empty_database_reproduces_the_roster() {
    let db = TestDb::new();
    coach(&db, "ana@example.com", 5);
    let f = file(
        "email,name,goals,timezone,coach,membership_status\n\
         bo@example.com,\"Lind, Bo\",\"line one\nline \"\"two\"\"\",Europe/Berlin,ana@example.com,active\n\
         cy@example.com,=HYPERLINK(1),-5 kg,UTC,,paused\n\
         di@example.com,''+Di,''@x,Asia/Tokyo,ana@example.com,inactive\n",
    );
    db.run(&["member", "import", path(&f)]).ok();
    let exported = db.run(&["member", "export"]).ok().to_string();
    assert!(exported.starts_with("email,name,goals,timezone,coach,membership_status\n"));
    assert!(
        exported.contains("cy@example.com,'=HYPERLINK(1),'-5 kg,UTC,,paused"),
        "{exported}"
    );
    assert!(
        exported.contains("''+Di,''@x"),
        "a leading quote gets one more: {exported}"
    );

    let empty = TestDb::new();
    coach(&empty, "ana@example.com", 5);
    let copy = file(&exported);
    empty.run(&["member", "import", path(&copy)]).ok();
    assert_eq!(empty.run(&["member", "export"]).ok(), exported);
    let di = empty
        .run(&["member", "show", "di@example.com", "-o", "json"])
        .json();
    assert_eq!(
        (di["name"].as_str(), di["goals"].as_str()),
        (Some("'+Di"), Some("'@x"))
    );
    // And re-importing the export where it came from changes nothing.
    assert!(
        db.run(&["member", "import", path(&copy)])
            .ok()
            .contains("nothing to change")
    );
}

#[test]
fn export_has_the_permissions_of_member_list() {
    let db = TestDb::new();
    coach(&db, "ana@example.com", 5);
    coach(&db, "cy@example.com", 5);
    let f = file(
        "email,name,goals,coach\nbo@example.com,Bo,secret,ana@example.com\ndi@example.com,Di,,cy@example.com\n",
    );
    db.run(&["member", "import", path(&f)]).ok();
    db.run(&["member", "sharing", "bo@example.com", "--goals", "off"])
        .ok();

    let all = db.run(&["member", "export", "-o", "json"]).json();
    assert_eq!(all.as_array().map(Vec::len), Some(2));
    assert!(all[0]["id"].is_string());
    let scoped = db.run(&["member", "export", "--coach", "cy@example.com", "-o", "ids"]);
    assert_eq!(scoped.ok().lines().count(), 1);

    let ana = db.run_as("ana", &["member", "export"]).ok().to_string();
    assert_eq!(ana.lines().count(), 2, "{ana}");
    assert!(
        ana.contains("bo@example.com,Bo,,UTC,ana@example.com,active"),
        "goals not shared: {ana}"
    );
    db.run_as("ana", &["member", "export", "--coach", "cy@example.com"])
        .fails_with(4);
    // Hidden goals are kept when the coach re-imports what they exported.
    let back = file(&ana);
    db.run_as("ana", &["member", "import", path(&back), "--update"])
        .ok();
    assert_eq!(
        db.scalar::<String>("SELECT goals FROM member_profiles m JOIN users u ON u.id = m.user_id WHERE u.email = 'bo@example.com'"),
        "secret"
    );
    let me = db.run_as("di", &["member", "export", "-o", "json"]).json();
    assert_eq!(me.as_array().map(Vec::len), Some(1));
    assert_eq!(me[0]["email"], "di@example.com");
}

#[test]
fn an_import_raced_against_member_assign_never_overfills_the_coach() {
    let db = TestDb::new();
    let c = coach(&db, "ana@example.com", 10);
    // 8 members waiting to be assigned one by one, and a file of 6 more.
    let singles: Vec<String> = (0..8)
        .map(|i| db.member(&format!("s{i}@example.com")).name("S").create())
        .collect();
    let mut text = String::from("email,name\n");
    for i in 0..6 {
        text.push_str(&format!("f{i}@example.com,F\n"));
    }
    let f = file(&text);
    let mut runs: Vec<Vec<String>> = singles
        .iter()
        .map(|m| {
            ["member", "assign", m, "--coach", &c]
                .map(String::from)
                .to_vec()
        })
        .collect();
    runs.push(
        ["member", "import", path(&f), "--coach", "ana@example.com"]
            .map(String::from)
            .to_vec(),
    );
    let results = common::race(&db, runs);
    let (import_code, import_err) = results.last().cloned().expect("import result");
    for (code, err) in &results {
        assert!([0, 3, 6].contains(code), "exit {code}: {err}");
    }
    let assigned = count(
        &db,
        "SELECT count(*) FROM member_profiles WHERE coach_id IS NOT NULL",
    );
    let imported = count(&db, "SELECT count(*) FROM users WHERE email LIKE 'f%'");
    assert!(assigned <= 10, "{assigned} members for a coach of 10");
    assert_eq!(
        i64::from(db.scalar::<i32>("SELECT member_count FROM coach_profiles")),
        assigned
    );
    // The import landed whole or not at all.
    if import_code == 0 {
        assert_eq!(imported, 6);
    } else {
        assert!(import_err.contains("capacity"), "{import_err}");
        assert_eq!(imported, 0);
    }
    db.assert_invariants();
}

#[test]
fn a_dash_reads_the_roster_from_standard_input() {
    let db = TestDb::new();
    let mut child = db
        .cmd()
        .args(["member", "import", "-", "-o", "ids"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn coachctl");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"email,name\nbo@example.com,Bo\n")
        .expect("write stdin");
    let run = common::Run::from(child.wait_with_output().expect("wait"));
    let id = run.id();
    assert_eq!(
        db.scalar::<String>("SELECT id::text FROM users WHERE email = 'bo@example.com'"),
        id
    );
}
