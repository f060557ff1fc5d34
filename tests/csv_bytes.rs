//! `member list -o csv` and `member export` byte for byte (issue 23, item
//! 4): the rows come through the server's COPY, and what is written stays
//! what coachctl always wrote. Awkward values (commas, quotes, line
//! breaks, empty goals next to none, non-ASCII, a leading `=`, stored
//! control and invisible characters) for an admin, a coach (who does not
//! see goals a member keeps to themself) and a member (their own row), and
//! each filter of `member list`.

mod common;

use common::TestDb;

/// Ana coaches Bo, Cy and Di; Eo has no coach. Values the CLI refuses
/// (a tab, a carriage return, a zero-width space, an empty goal) are
/// written by SQL, as an older version or a DBA could have.
/// Returns the members' ids by email.
fn awkward_org(db: &TestDb) -> std::collections::HashMap<String, String> {
    db.coach("ana").name("Ana, \"the\" Coach").create();
    let mut ids = std::collections::HashMap::new();
    for (email, name, goals, coach) in [
        (
            "bo@example.com",
            "Bo, \"Lind\"",
            Some("line one\nline two"),
            true,
        ),
        ("cy@example.com", "=cmd|' /C calc'!A0", None, true),
        (
            "di@example.com",
            "Dörte Ünal 日本",
            Some("secret plan"),
            true,
        ),
        ("eo@example.com", "Eo", Some("'-5 kg"), false),
        // a row the server's CSV already has as coachctl writes it
        ("fy@example.com", "Fy Plain", Some("run 5k"), true),
    ] {
        let mut args = vec!["member", "create", "--email", email, "--name", name];
        if let Some(g) = goals {
            args.extend(["--goals", g]);
        }
        let id = db.run(&[&args[..], &["-o", "ids"]].concat()).id();
        if coach {
            db.assign(email, "ana");
        }
        ids.insert(email.to_string(), id);
    }
    db.run(&["member", "update", "cy@example.com", "--status", "paused"])
        .ok();
    db.run(&["member", "privacy", "eo@example.com", "private"])
        .ok();
    db.run_as(
        "di@example.com",
        &["member", "sharing", "--goals", "off", "-o", "json"],
    )
    .ok();
    db.run(&[
        "member",
        "update",
        "di@example.com",
        "--timezone",
        "Europe/Berlin",
    ])
    .ok();
    common::runtime().block_on(async {
        let pool = db.pool().await;
        for sql in [
            "UPDATE member_profiles SET goals = '' \
             WHERE user_id = (SELECT id FROM users WHERE email = 'cy@example.com')",
            "UPDATE users SET name = E'Eo\\tZ\\u200b R\\rS' WHERE email = 'eo@example.com'",
        ] {
            sqlx::query(sql).execute(&pool).await.expect(sql);
        }
        pool.close().await;
    });
    ids
}

const LIST_HEADER: &str = "id,email,name,coach_email,membership_status,onboarding_status,privacy\n";
const EXPORT_HEADER: &str = "email,name,goals,timezone,coach,membership_status\n";

/// The `member list -o csv` line of each member, as coachctl writes it.
fn list_line(ids: &std::collections::HashMap<String, String>, email: &str) -> String {
    let id = &ids[email];
    match email {
        "bo@example.com" => {
            format!(
                "{id},bo@example.com,\"Bo, \"\"Lind\"\"\",ana@example.com,active,pending,connections\n"
            )
        }
        "cy@example.com" => {
            format!(
                "{id},cy@example.com,'=cmd|' /C calc'!A0,ana@example.com,paused,pending,connections\n"
            )
        }
        "di@example.com" => {
            format!(
                "{id},di@example.com,Dörte Ünal 日本,ana@example.com,active,pending,connections\n"
            )
        }
        "eo@example.com" => {
            format!("{id},eo@example.com,Eo Z\\u{{200b}} R\\u{{000d}}S,,active,pending,private\n")
        }
        "fy@example.com" => {
            format!("{id},fy@example.com,Fy Plain,ana@example.com,active,pending,connections\n")
        }
        other => panic!("no member {other}"),
    }
}

fn list(ids: &std::collections::HashMap<String, String>, emails: &[&str]) -> String {
    let mut out = LIST_HEADER.to_string();
    for e in emails {
        out.push_str(&list_line(ids, e));
    }
    out
}

#[test]
fn member_list_as_csv_writes_awkward_values_byte_for_byte_for_an_admin_a_coach_and_a_member() {
    let db = TestDb::new();
    let ids = awkward_org(&db);
    let all = [
        "bo@example.com",
        "cy@example.com",
        "di@example.com",
        "eo@example.com",
        "fy@example.com",
    ];
    let ana = [
        "bo@example.com",
        "cy@example.com",
        "di@example.com",
        "fy@example.com",
    ];
    let csv = |who: Option<&str>, more: &[&str]| {
        let args = [&["member", "list", "-o", "csv"], more].concat();
        match who {
            None => db.run(&args).ok().to_string(),
            Some(w) => db.run_as(w, &args).ok().to_string(),
        }
    };
    assert_eq!(csv(None, &[]), list(&ids, &all), "the admin");
    assert_eq!(csv(Some("ana"), &[]), list(&ids, &ana), "the coach");
    assert_eq!(
        csv(Some("bo@example.com"), &[]),
        list(&ids, &["bo@example.com"]),
        "a member: their own row"
    );
    // every filter, and a page after an email holding a quote and a
    // backslash (COPY takes no parameters: the value goes in quoted)
    for (more, rows) in [
        (&["--status", "paused"][..], &["cy@example.com"][..]),
        (&["--unassigned"], &["eo@example.com"]),
        (&["--coach", "ana@example.com", "--limit", "2"], &all[..2]),
        (&["--after", "cy'\\x@example.com"], &all[1..]),
        (&["--after", "cy@example.com", "--limit", "1"], &all[2..3]),
        (&["--status", "inactive"], &[]),
    ] {
        assert_eq!(csv(None, more), list(&ids, rows), "{more:?}");
    }
    assert_eq!(
        csv(Some("ana"), &["--status", "active"]),
        list(
            &ids,
            &["bo@example.com", "di@example.com", "fy@example.com"]
        ),
    );
}

#[test]
fn member_export_writes_awkward_values_byte_for_byte_and_a_coach_sees_no_unshared_goals() {
    let db = TestDb::new();
    awkward_org(&db);
    let bo =
        "bo@example.com,\"Bo, \"\"Lind\"\"\",\"line one\nline two\",UTC,ana@example.com,active\n";
    // an empty goal and no goal are both an empty cell
    let cy = "cy@example.com,'=cmd|' /C calc'!A0,,UTC,ana@example.com,paused\n";
    let di = "di@example.com,Dörte Ünal 日本,secret plan,Europe/Berlin,ana@example.com,active\n";
    let di_for_ana = "di@example.com,Dörte Ünal 日本,,Europe/Berlin,ana@example.com,active\n";
    // a leading quote before a formula character gets one more
    let eo = "eo@example.com,Eo Z\\u{200b} R\\u{000d}S,''-5 kg,UTC,,active\n";
    let fy = "fy@example.com,Fy Plain,run 5k,UTC,ana@example.com,active\n";
    assert_eq!(
        db.run(&["member", "export"]).ok(),
        [EXPORT_HEADER, bo, cy, di, eo, fy].concat(),
        "the admin"
    );
    assert_eq!(
        db.run(&["member", "export", "--coach", "ana@example.com"])
            .ok(),
        [EXPORT_HEADER, bo, cy, di, fy].concat(),
        "the admin, one coach's members"
    );
    assert_eq!(
        db.run_as("ana", &["member", "export"]).ok(),
        [EXPORT_HEADER, bo, cy, di_for_ana, fy].concat(),
        "the coach"
    );
    assert_eq!(
        db.run_as("di@example.com", &["member", "export"]).ok(),
        [EXPORT_HEADER, di].concat(),
        "a member: their own row, their own goals"
    );
    assert_eq!(
        db.run_as("eo@example.com", &["member", "export", "-o", "csv"])
            .ok(),
        [EXPORT_HEADER, eo].concat(),
    );
}

#[test]
fn an_empty_list_and_an_empty_export_are_their_header_alone() {
    let db = TestDb::new();
    assert_eq!(db.run(&["member", "list", "-o", "csv"]).ok(), LIST_HEADER);
    assert_eq!(db.run(&["member", "export"]).ok(), EXPORT_HEADER);
}

#[test]
fn a_coach_listing_another_coach_s_members_as_csv_is_refused_with_nothing_written() {
    let db = TestDb::new();
    awkward_org(&db);
    db.coach("cyc").create();
    for args in [
        &["member", "list", "-o", "csv", "--coach", "ana@example.com"][..],
        &["member", "export", "--coach", "ana@example.com"],
    ] {
        let out = db.run_as("cyc", args);
        out.fails_with(4);
        assert_eq!(out.stdout, "", "{args:?}");
    }
}
