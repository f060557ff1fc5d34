//! DESIGN.md's contract examples for coaches and members, driven through the
//! real binary against a fresh database, with every documented exit code.

mod common;

use common::TestDb;
use serde_json::Value;

#[test]
fn the_contract_examples_for_coaches_and_members_work_as_written() {
    let db = TestDb::new();
    let (c, m) = common::ana_and_bo(&db);
    assert!(uuid::Uuid::parse_str(&c).is_ok(), "coach id: {c}");
    assert!(uuid::Uuid::parse_str(&m).is_ok(), "member id: {m}");

    db.run(&["member", "assign", &m, "--coach", &c]).ok();
    let shown = db
        .run(&["coach", "show", "ana@example.com", "-o", "json"])
        .json();
    assert_eq!(shown["id"], Value::String(c.clone()));
    assert_eq!(shown["member_count"], 1);
    assert_eq!(shown["free_capacity"], 1);
    assert_eq!(shown["max_members"], 2);
    assert_eq!(shown["timezone"], "Europe/Berlin");

    // by email works as well as by id
    let bo = db
        .run(&["member", "show", "bo@example.com", "-o", "json"])
        .json();
    assert_eq!(bo["coach_email"], "ana@example.com");
    assert_eq!(bo["onboarding_status"], "pending");
}

#[test]
fn a_new_coach_gets_the_default_profile() {
    let db = TestDb::new();
    let coach = db
        .run(&[
            "coach",
            "create",
            "--email",
            "z@example.com",
            "--name",
            "Zed",
            "-o",
            "json",
        ])
        .json();
    assert_eq!(coach["max_members"], 20);
    assert_eq!(coach["accepting_members"], true);
    assert_eq!(coach["member_count"], 0);
    assert_eq!(coach["timezone"], "UTC");
}

#[test]
fn lists_come_as_json_arrays_csv_with_a_header_and_ids_one_per_line() {
    let db = TestDb::new();
    common::ana_and_bo(&db);
    db.member("cy").name("Cy, Jr.").assigned_to("ana").create();
    let arr = db.run(&["member", "list", "-o", "json"]).json();
    assert_eq!(arr.as_array().map(Vec::len), Some(2));
    assert!(arr[0]["id"].is_string());

    let csv = db.run(&["member", "list", "-o", "csv"]).ok().to_string();
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap_or_default()
            .starts_with("id,email,name")
    );
    assert!(csv.contains("\"Cy, Jr.\""), "CSV quotes a comma: {csv}");

    let ids = db.run(&["member", "list", "-o", "ids"]).ok().to_string();
    assert_eq!(ids.lines().count(), 2);
    assert!(ids.lines().all(|l| uuid::Uuid::parse_str(l).is_ok()));
}

#[test]
fn a_bad_email_exits_3_and_changes_nothing() {
    let db = TestDb::new();
    let err = db
        .run(&["member", "create", "--email", "not-an-email", "--name", "X"])
        .fails_with(3)
        .to_string();
    assert!(err.contains("not a valid email"), "{err}");
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM users"), 0);
}

#[test]
fn a_bad_time_zone_exits_3() {
    let db = TestDb::new();
    let err = db
        .run(&[
            "coach",
            "create",
            "--email",
            "a@example.com",
            "--name",
            "A",
            "--timezone",
            "Mars/Olympus",
        ])
        .fails_with(3)
        .to_string();
    assert!(err.contains("IANA"), "{err}");
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM users"), 0);
}

#[test]
fn zero_max_members_exits_3() {
    let db = TestDb::new();
    db.run(&[
        "coach",
        "create",
        "--email",
        "a@example.com",
        "--name",
        "A",
        "--max-members",
        "0",
    ])
    .fails_with(3);
}

#[test]
fn an_unknown_flag_is_a_usage_error_exit_2() {
    let db = TestDb::new();
    db.run(&["coach", "list", "--bogus"]).fails_with(2);
}

#[test]
fn a_member_reading_another_member_is_answered_as_for_nobody_and_nothing_changes() {
    let db = TestDb::new();
    common::ana_and_bo(&db);
    db.member("cy").create();
    let before = db.scalar::<i64>("SELECT count(*) FROM audit_log");
    let err = db
        .run_as("bo", &["member", "show", "cy@example.com"])
        .fails_with(5)
        .to_string();
    assert_eq!(err, "error: no member cy@example.com\n");
    db.run_as(
        "bo",
        &["member", "update", "cy@example.com", "--goals", "x"],
    )
    .fails_with(5);
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM audit_log"), before);
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM member_profiles WHERE goals IS NOT NULL"),
        0
    );
}

#[test]
fn a_coach_lists_only_their_own_members() {
    let db = TestDb::new();
    common::ana_and_bo(&db);
    db.coach("ola").create();
    db.assign("bo", "ana");
    db.member("cy").assigned_to("ola").create();
    let ana_sees = db.run_as("ana", &["member", "list", "-o", "json"]).json();
    let emails: Vec<&str> = ana_sees
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["bo@example.com"]);
    db.run_as("ana", &["member", "list", "--coach", "ola@example.com"])
        .fails_with(4);
    // another coach's member is nobody to Ana
    db.run_as("ana", &["member", "show", "cy@example.com"])
        .fails_with(5);
    let bo_sees = db.run_as("bo", &["member", "list", "-o", "json"]).json();
    assert_eq!(bo_sees.as_array().map(Vec::len), Some(1));
}

#[test]
fn coach_notes_are_hidden_from_the_member() {
    let db = TestDb::new();
    common::ana_and_bo(&db);
    db.assign("bo", "ana");
    db.run_as(
        "ana",
        &[
            "member",
            "update",
            "bo@example.com",
            "--coach-notes",
            "knee injury",
        ],
    )
    .ok();
    let coach_view = db
        .run_as("ana", &["member", "show", "bo@example.com", "-o", "json"])
        .json();
    assert_eq!(coach_view["coach_notes"], "knee injury");
    let own_view = db
        .run_as("bo", &["member", "show", "bo@example.com", "-o", "json"])
        .json();
    assert!(own_view.get("coach_notes").is_none(), "{own_view}");
    db.run_as(
        "bo",
        &["member", "update", "bo@example.com", "--coach-notes", "x"],
    )
    .fails_with(4);
}

#[test]
fn an_unknown_actor_exits_4_with_a_sentence() {
    let db = TestDb::new();
    let err = db
        .run_as("ghost", &["coach", "list"])
        .fails_with(4)
        .to_string();
    assert!(err.contains("ghost@example.com"), "{err}");
}

#[test]
fn a_deactivated_coach_cannot_act() {
    let db = TestDb::new();
    common::ana_and_bo(&db);
    db.run(&["coach", "deactivate", "ana@example.com", "--yes"])
        .ok();
    db.run_as("ana", &["member", "list"]).fails_with(4);
    // and refuses assignment
    db.run(&[
        "member",
        "assign",
        "bo@example.com",
        "--coach",
        "ana@example.com",
    ])
    .fails_with(7);
}

#[test]
fn deactivating_without_yes_off_a_terminal_refuses_and_changes_nothing() {
    let db = TestDb::new();
    common::ana_and_bo(&db);
    let err = db
        .run(&["coach", "deactivate", "ana@example.com"])
        .fails_with(3)
        .to_string();
    assert!(err.contains("--yes"), "{err}");
    assert!(db.scalar::<bool>("SELECT active FROM users WHERE email = 'ana@example.com'"));
}

#[test]
fn an_unknown_coach_exits_5() {
    let db = TestDb::new();
    let err = db
        .run(&["coach", "show", "nobody@example.com"])
        .fails_with(5)
        .to_string();
    assert!(err.contains("nobody@example.com"), "{err}");
    db.run(&["member", "show", "3fa85f64-5717-4562-b3fc-2c963f66afa6"])
        .fails_with(5);
}

#[test]
fn a_duplicate_email_exits_6_whatever_its_case() {
    let db = TestDb::new();
    common::ana_and_bo(&db);
    let err = db
        .run(&[
            "member",
            "create",
            "--email",
            "BO@Example.com",
            "--name",
            "Bo Again",
        ])
        .fails_with(6)
        .to_string();
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM users"), 2);
}

#[test]
fn assigning_beyond_max_members_exits_6() {
    let db = TestDb::new();
    common::ana_and_bo(&db);
    for e in ["m1@example.com", "m2@example.com"] {
        db.member(e).name("M").assigned_to("ana").create();
    }
    let err = db
        .run(&[
            "member",
            "assign",
            "bo@example.com",
            "--coach",
            "ana@example.com",
        ])
        .fails_with(6)
        .to_string();
    assert!(err.contains("at capacity"), "{err}");
    // signup with a full coach creates nothing
    db.run(&[
        "member",
        "create",
        "--email",
        "m3@example.com",
        "--name",
        "M",
        "--coach",
        "ana@example.com",
    ])
    .fails_with(6);
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM users WHERE email = 'm3@example.com'"),
        0
    );
    assert_eq!(
        db.scalar::<i32>("SELECT member_count FROM coach_profiles"),
        2
    );
}

#[test]
fn a_coach_not_accepting_members_is_hidden_from_signup_and_refuses_assignment() {
    let db = TestDb::new();
    common::ana_and_bo(&db);
    db.coach("ola").create();
    db.run(&["coach", "update", "ana@example.com", "--not-accepting"])
        .ok();
    let accepting = db
        .run(&["coach", "list", "--accepting", "-o", "json"])
        .json();
    let emails: Vec<&str> = accepting
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["ola@example.com"]);
    let err = db
        .run(&[
            "member",
            "assign",
            "bo@example.com",
            "--coach",
            "ana@example.com",
        ])
        .fails_with(7)
        .to_string();
    assert!(err.contains("not accepting"), "{err}");
}

#[test]
fn an_unreachable_database_exits_8() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "postgres://coachctl@localhost/nothing?host={}",
        dir.path().display()
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_coachctl"))
        .args(["coach", "list"])
        .env("DATABASE_URL", url)
        .output()
        .unwrap();
    let run = common::Run::from(out);
    let err = run.fails_with(8).to_string();
    assert!(err.contains("cannot connect"), "{err}");
}

#[test]
fn errors_are_json_objects_under_output_json() {
    let db = TestDb::new();
    let run = db.run(&["coach", "show", "nobody@example.com", "-o", "json"]);
    run.fails_with(5);
    let v: Value = serde_json::from_str(run.stderr.trim()).expect("stderr is JSON");
    assert_eq!(v["kind"], "not_found");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("nobody@example.com")
    );
}

#[test]
fn promote_turns_a_member_into_a_coach_admins_only() {
    let db = TestDb::new();
    common::ana_and_bo(&db);
    db.run_as("ana", &["coach", "promote", "bo@example.com"])
        .fails_with(4);
    let c = db
        .run(&[
            "coach",
            "promote",
            "bo@example.com",
            "--max-members",
            "3",
            "-o",
            "json",
        ])
        .json();
    assert_eq!(c["email"], "bo@example.com");
    assert_eq!(c["max_members"], 3);
    assert_eq!(
        db.scalar::<String>("SELECT role FROM users WHERE email = 'bo@example.com'"),
        "coach"
    );
    db.run(&["coach", "promote", "bo@example.com"])
        .fails_with(6);
}

#[test]
fn every_change_is_audited_with_before_and_after() {
    let db = TestDb::new();
    common::ana_and_bo(&db);
    db.assign("bo", "ana");
    db.run(&["member", "onboarding", "bo@example.com", "in_progress"])
        .ok();
    db.run(&["member", "privacy", "bo@example.com", "private"])
        .ok();
    let log = db.run(&["audit", "list", "-o", "json"]).json();
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "member.privacy",
            "member.onboarding",
            "member.assign",
            "member.create",
            "coach.create"
        ]
    );
    let assign = &log[2];
    assert_eq!(assign["actor"], "operator");
    assert_eq!(assign["before"]["coach_id"], Value::Null);
    assert_eq!(assign["after"]["coach_email"], "ana@example.com");
    // members may not read the log
    db.run_as("bo", &["audit", "list"]).fails_with(4);
}

#[test]
fn lowering_max_members_below_the_member_count_is_refused() {
    let db = TestDb::new();
    common::ana_and_bo(&db);
    db.assign("bo", "ana");
    db.member("cy").assigned_to("ana").create();
    db.run(&["coach", "update", "ana@example.com", "--max-members", "1"])
        .fails_with(6);
    assert_eq!(
        db.scalar::<i32>("SELECT max_members FROM coach_profiles"),
        2
    );
}

#[test]
fn a_coach_creates_members_only_for_themself() {
    let db = TestDb::new();
    common::ana_and_bo(&db);
    db.coach("ola").create();
    let m = db
        .run_as(
            "ana",
            &[
                "member",
                "create",
                "--email",
                "cy@example.com",
                "--name",
                "Cy",
                "-o",
                "json",
            ],
        )
        .json();
    assert_eq!(m["coach_email"], "ana@example.com");
    db.run_as(
        "ana",
        &[
            "member",
            "create",
            "--email",
            "dee@example.com",
            "--name",
            "Dee",
            "--coach",
            "ola@example.com",
        ],
    )
    .fails_with(4);
    db.run_as(
        "bo",
        &[
            "member",
            "create",
            "--email",
            "e@example.com",
            "--name",
            "E",
        ],
    )
    .fails_with(4);
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            // the reader is gone before coachctl writes: a guaranteed EPIPE
            "set -o pipefail; (sleep 0.3; '{}' completions bash) | true",
            env!("CARGO_BIN_EXE_coachctl")
        ))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
