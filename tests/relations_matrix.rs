//! Issue 10's permission matrix, the rows the per-feature tests leave out:
//! a deactivated account and an unknown one are refused (exit 4) by every
//! relationship command and change nothing; a coach cannot change what a
//! member shares, with or without naming them.

mod common;

use common::{TestDb, ana_and_bo};

fn counts(db: &TestDb) -> i64 {
    db.scalar(
        "SELECT (SELECT count(*) FROM invitations) + (SELECT count(*) FROM connections)
              + (SELECT count(*) FROM messages) + (SELECT count(*) FROM audit_log)
              + (SELECT count(*) FILTER (WHERE NOT share_goals OR share_health_info) FROM member_profiles)",
    )
}

#[test]
fn deactivated_and_unknown_actors_are_refused_by_every_relationship_command() {
    let db = TestDb::new();
    let (c, m) = ana_and_bo(&db);
    db.run(&["member", "assign", &m, "--coach", &c]).ok();
    db.member("gone").assigned_to("ana").create();
    db.coach("cal").create();
    db.scalar::<i64>(
        "WITH d AS (UPDATE users SET active = false WHERE email = 'gone@example.com' RETURNING 1)
         SELECT count(*) FROM d",
    );
    let before = counts(&db);
    let commands: Vec<Vec<&str>> = vec![
        vec!["invite", "send", "--email", "new@example.com"],
        vec!["invite", "list"],
        vec![
            "invite",
            "accept",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ],
        vec![
            "connect",
            "request",
            "--coach",
            "cal@example.com",
            "--area",
            "running",
        ],
        vec!["connect", "list"],
        vec!["connect", "search", "--name", "Bo"],
        vec!["message", "send", "--to", "ana@example.com", "--text", "hi"],
        vec!["message", "list"],
        vec!["member", "sharing", "--goals", "off"],
        vec!["member", "history", "bo@example.com"],
    ];
    for who in ["gone@example.com", "nobody@example.com"] {
        for cmd in &commands {
            let mut args = vec!["--as", who];
            args.extend(cmd.iter().copied());
            let err = db.run(&args).fails_with(4).to_string();
            assert_eq!(err.trim().lines().count(), 1, "{who} {cmd:?}: {err}");
        }
    }
    assert_eq!(counts(&db), before, "a refused command changed something");
}

#[test]
fn a_coach_cannot_change_what_a_member_shares() {
    let db = TestDb::new();
    let (c, m) = ana_and_bo(&db);
    db.run(&["member", "assign", &m, "--coach", &c]).ok();
    let before = counts(&db);
    db.run_as("ana", &["member", "sharing", "--goals", "off"])
        .fails_with(4);
    db.run_as(
        "ana",
        &["member", "sharing", "bo@example.com", "--health-info", "on"],
    )
    .fails_with(4);
    assert_eq!(counts(&db), before);
    db.run_as("bo", &["member", "sharing", "--goals", "off"])
        .ok();
    assert_eq!(
        counts(&db),
        before + 2,
        "the member's own change lands, audited"
    );
}

#[test]
fn a_code_that_starts_with_a_dash_is_read_as_a_code_not_a_flag() {
    let db = TestDb::new();
    ana_and_bo(&db);
    // base64url codes start with '-' one time in 64
    let code = format!("-j{}", "A".repeat(41));
    for cmd in ["accept", "decline"] {
        let err = db.run(&["invite", cmd, &code]).fails_with(5).to_string();
        assert!(err.contains("no invitation has this code"), "{err}");
    }
}
