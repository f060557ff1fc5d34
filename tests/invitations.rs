//! Invitations (DESIGN.md "Invitations", issue 10 points 1, 2 and 9): codes
//! printed once and stored only as a hash, single use under 200 concurrent
//! redeemers, 10 per coach per 24 h under 30 concurrent senders, and the
//! exit code of every refusal.

mod common;

use common::{TestDb, ana_and_bo, race};

/// Ana (room for 2) and member Bo; Ana invites `email`; returns the code.
fn invite(db: &TestDb, email: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "--as",
        "ana@example.com",
        "invite",
        "send",
        "--email",
        email,
        "-o",
        "ids",
    ];
    args.extend_from_slice(extra);
    db.run(&args).id()
}

fn audit_text(db: &TestDb) -> String {
    db.scalar::<String>("SELECT coalesce(string_agg(concat_ws(' ', action, before::text, after::text), E'\\n'), '') FROM audit_log")
}

#[test]
fn an_invited_person_accepts_and_becomes_a_connected_member() {
    let db = TestDb::new();
    ana_and_bo(&db);
    let code = invite(&db, "cy@example.com", &["--message", "Welcome!"]);
    assert_eq!(code.len(), 43, "256 bits as unpadded base64url: {code}");
    assert!(
        code.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    let accepted = db
        .run(&["invite", "accept", &code, "--name", "Cy Lee", "-o", "json"])
        .json();
    assert_eq!(accepted["status"], "accepted");
    assert_eq!(accepted["assigned"], false);
    assert_eq!(
        db.scalar::<String>("SELECT name FROM users WHERE email = 'cy@example.com'"),
        "Cy Lee"
    );
    assert_eq!(
        db.scalar::<i64>(
            "SELECT count(*) FROM connections c JOIN users u ON u.id = c.member_id
             WHERE u.email = 'cy@example.com' AND c.status = 'accepted'"
        ),
        1
    );
    // the new member sees the invitation, with no code in it
    let listed = db.run_as("cy", &["invite", "list", "-o", "json"]);
    assert!(listed.ok().contains("accepted"));
    assert!(!listed.ok().contains(&code));
    db.assert_invariants();
}

#[test]
fn the_code_is_stored_only_as_its_sha256_and_never_listed_audited_or_quoted() {
    let db = TestDb::new();
    ana_and_bo(&db);
    let code = invite(&db, "cy@example.com", &[]);
    let stored = db.scalar::<String>("SELECT encode(code_hash, 'hex') FROM invitations");
    assert_eq!(stored.len(), 64);
    assert!(!stored.contains(&code));
    let dump = db.scalar::<String>("SELECT row_to_json(i)::text FROM invitations i");
    assert!(!dump.contains(&code), "{dump}");
    for format in ["table", "json", "csv", "ids"] {
        let out = db.run_as("ana", &["invite", "list", "-o", format]);
        assert!(!out.ok().contains(&code), "{format}: {}", out.stdout);
    }
    db.run(&["invite", "accept", &code]).ok();
    let again = db.run(&["invite", "accept", &code]);
    assert!(!again.fails_with(7).contains(&code));
    let typo = format!("{code}x");
    assert!(
        !db.run(&["invite", "accept", &typo])
            .fails_with(5)
            .contains(&code)
    );
    assert!(!audit_text(&db).contains(&code));
}

#[test]
fn used_declined_revoked_and_expired_codes_exit_7_and_unknown_codes_exit_5_changing_nothing() {
    let db = TestDb::new();
    ana_and_bo(&db);
    let used = invite(&db, "a1@example.com", &[]);
    db.run(&["invite", "accept", &used]).ok();
    let declined = invite(&db, "a2@example.com", &[]);
    db.run(&["invite", "decline", &declined]).ok();
    let revoked = invite(&db, "a3@example.com", &[]);
    let id = db.scalar::<String>("SELECT id::text FROM invitations WHERE email = 'a3@example.com'");
    db.run_as("ana", &["invite", "revoke", &id]).ok();
    let expired = invite(&db, "a4@example.com", &[]);
    db.scalar::<i64>(
        "WITH e AS (UPDATE invitations SET created_at = now() - interval '8 days',
                expires_at = now() - interval '1 day' WHERE email = 'a4@example.com' RETURNING 1)
         SELECT count(*) FROM e",
    );
    let before = audit_text(&db);
    let members = db.scalar::<i64>("SELECT count(*) FROM member_profiles");
    assert!(
        db.run(&["invite", "accept", &used])
            .fails_with(7)
            .contains("already been used")
    );
    assert!(
        db.run(&["invite", "accept", &declined])
            .fails_with(7)
            .contains("declined")
    );
    assert!(
        db.run(&["invite", "accept", &revoked])
            .fails_with(7)
            .contains("revoked")
    );
    assert!(
        db.run(&["invite", "accept", &expired])
            .fails_with(7)
            .contains("expired")
    );
    assert!(
        db.run(&["invite", "decline", &expired])
            .fails_with(7)
            .contains("expired")
    );
    db.run(&["invite", "accept", "not-a-real-code"])
        .fails_with(5);
    assert_eq!(audit_text(&db), before, "a refused code changed nothing");
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM member_profiles"),
        members
    );
    let list = db.run_as("ana", &["invite", "list", "-o", "json"]).json();
    let mut statuses: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap().to_string())
        .collect();
    statuses.sort();
    assert_eq!(statuses, ["accepted", "declined", "expired", "revoked"]);
}

#[test]
fn an_assigning_invitation_assigns_within_capacity_or_changes_nothing() {
    let db = TestDb::new();
    let (_, bo) = ana_and_bo(&db);
    let code = invite(&db, "bo@example.com", &["--assign"]);
    let a = db
        .run_as("bo", &["invite", "accept", &code, "-o", "json"])
        .json();
    assert_eq!(a["assigned"], true);
    assert_eq!(
        db.scalar::<String>(
            "SELECT u.email FROM member_profiles m JOIN users u ON u.id = m.coach_id"
        ),
        "ana@example.com"
    );
    // Ana has room for 2: fill the second seat, then an assigning accept is refused whole.
    db.member("di").assigned_to("ana").create();
    let full = invite(&db, "ed@example.com", &["--assign"]);
    assert!(
        db.run(&["invite", "accept", &full])
            .fails_with(6)
            .contains("at capacity")
    );
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM users WHERE email = 'ed@example.com'"),
        0
    );
    assert_eq!(
        db.scalar::<String>("SELECT status FROM invitations WHERE email = 'ed@example.com'"),
        "pending"
    );
    let _ = bo;
    db.assert_invariants();
}

#[test]
fn who_may_send_answer_revoke_and_list_invitations() {
    let db = TestDb::new();
    ana_and_bo(&db);
    db.coach("cal").create();
    db.member("mo").create();
    db.member("gone").create();
    db.run(&[
        "member",
        "update",
        "gone@example.com",
        "--status",
        "inactive",
    ])
    .ok();
    db.scalar::<i64>("WITH d AS (UPDATE users SET active = false WHERE email = 'gone@example.com' RETURNING 1) SELECT count(*) FROM d");
    // send: the coach and an admin (naming the coach); not members, not another coach for Ana
    invite(&db, "x1@example.com", &[]);
    db.run(&[
        "invite",
        "send",
        "--coach",
        "ana@example.com",
        "--email",
        "x2@example.com",
    ])
    .ok();
    db.run_as("bo", &["invite", "send", "--email", "x3@example.com"])
        .fails_with(4);
    db.run_as(
        "cal",
        &[
            "invite",
            "send",
            "--coach",
            "ana@example.com",
            "--email",
            "x3@example.com",
        ],
    )
    .fails_with(4);
    db.run_as("gone", &["invite", "send", "--email", "x3@example.com"])
        .fails_with(4);
    db.run_as("nobody", &["invite", "send", "--email", "x3@example.com"])
        .fails_with(4);
    db.run(&["invite", "send", "--email", "x3@example.com"])
        .fails_with(3);
    // answer: the invitee or the operator holding the code; not a coach, not another member
    let for_bo = invite(&db, "bo@example.com", &[]);
    db.run_as("ana", &["invite", "accept", &for_bo])
        .fails_with(4);
    db.run_as("cal", &["invite", "decline", &for_bo])
        .fails_with(4);
    db.run_as("mo", &["invite", "accept", &for_bo])
        .fails_with(4);
    db.run_as("gone", &["invite", "accept", &for_bo])
        .fails_with(4);
    db.run_as("nobody", &["invite", "accept", &for_bo])
        .fails_with(4);
    db.run_as("bo", &["invite", "accept", &for_bo]).ok();
    // revoke: its coach or an admin
    let id = db.scalar::<String>("SELECT id::text FROM invitations WHERE email = 'x1@example.com'");
    db.run_as("cal", &["invite", "revoke", &id]).fails_with(4);
    db.run_as("bo", &["invite", "revoke", &id]).fails_with(4);
    db.run_as("gone", &["invite", "revoke", &id]).fails_with(4);
    db.run_as("ana", &["invite", "revoke", &id]).ok();
    let id2 =
        db.scalar::<String>("SELECT id::text FROM invitations WHERE email = 'x2@example.com'");
    db.run(&["invite", "revoke", &id2]).ok();
    db.run(&["invite", "revoke", "00000000-0000-0000-0000-000000000000"])
        .fails_with(5);
    // list: admin all 3, Ana her 3, Cal none, Bo his one, Mo none
    let count = |who: Option<&str>| {
        let mut args = vec![];
        if let Some(w) = who {
            args.extend(["--as", w]);
        }
        args.extend(["invite", "list", "-o", "json"]);
        db.run(&args).json().as_array().unwrap().len()
    };
    assert_eq!(count(None), 3);
    assert_eq!(count(Some("ana@example.com")), 3);
    assert_eq!(count(Some("cal@example.com")), 0);
    assert_eq!(count(Some("bo@example.com")), 1);
    assert_eq!(count(Some("mo@example.com")), 0);
    db.run_as("gone", &["invite", "list"]).fails_with(4);
}

#[test]
fn thirty_processes_inviting_for_one_coach_at_once_leave_exactly_ten() {
    let db = TestDb::new();
    ana_and_bo(&db);
    let runs = (0..30)
        .map(|i| {
            [
                "--as",
                "ana@example.com",
                "invite",
                "send",
                "--email",
                &format!("p{i}@example.com"),
            ]
            .map(String::from)
            .to_vec()
        })
        .collect();
    let results = race(&db, runs);
    let ok = results.iter().filter(|(c, _)| *c == 0).count();
    for (code, err) in &results {
        assert!(
            *code == 0 || (*code == 6 && err.contains("the next is allowed at")),
            "exit {code}: {err}"
        );
    }
    assert_eq!(ok, 10);
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM invitations"), 10);
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM audit_log WHERE action = 'invitation.send'"),
        10
    );
}

#[test]
fn two_hundred_processes_redeeming_one_code_have_exactly_one_winner() {
    let db = TestDb::new();
    ana_and_bo(&db);
    let code = invite(&db, "cy@example.com", &[]);
    let runs = (0..200)
        .map(|_| {
            ["invite", "accept", code.as_str()]
                .map(String::from)
                .to_vec()
        })
        .collect();
    let results = race(&db, runs);
    let ok = results.iter().filter(|(c, _)| *c == 0).count();
    for (code_, err) in &results {
        assert!(
            *code_ == 0 || (*code_ == 7 && err.contains("already been used")),
            "exit {code_}: {err}"
        );
        assert!(!err.contains(&code));
    }
    assert_eq!(ok, 1);
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM audit_log WHERE action = 'invitation.accept'"),
        1
    );
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM connections"), 1);
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM users WHERE email = 'cy@example.com'"),
        1
    );
    db.assert_invariants();
}
