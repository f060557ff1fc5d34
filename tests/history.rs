//! `member history` (issue 10 point 7): every assignment, unassignment and
//! connection change with when and who, the relationship status per coach,
//! readable by the member, admins and each coach for their own period.

mod common;

use common::{TestDb, ana_and_bo};

fn history(db: &TestDb, who: Option<&str>) -> common::Run {
    let mut args = vec![];
    if let Some(w) = who {
        args.extend(["--as", w]);
    }
    args.extend(["member", "history", "bo@example.com", "-o", "json"]);
    db.run(&args)
}

fn rows(run: &common::Run) -> Vec<(String, String, String, String)> {
    run.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap().to_string();
            (s("coach_email"), s("event"), s("by"), s("relationship"))
        })
        .collect()
}

#[test]
fn history_lists_every_change_with_who_and_each_coach_sees_only_their_period() {
    let db = TestDb::new();
    let (ana, bo) = ana_and_bo(&db);
    db.coach("cal").create();
    db.coach("dee").create();
    db.member("mo").create();
    db.run(&["member", "assign", &bo, "--coach", &ana]).ok();
    db.run_as("ana", &["member", "unassign", &bo]).ok();
    let id = db
        .run_as(
            "bo",
            &[
                "connect",
                "request",
                "--coach",
                "cal@example.com",
                "--area",
                "yoga",
                "-o",
                "ids",
            ],
        )
        .id();
    db.run_as("cal", &["connect", "respond", &id, "--accept"])
        .ok();
    let all = rows(&history(&db, None));
    let o = |c: &str, e: &str, b: &str, r: &str| (c.into(), e.into(), b.into(), r.into());
    assert_eq!(
        all,
        vec![
            o("ana@example.com", "assigned", "operator", "terminated"),
            o(
                "ana@example.com",
                "unassigned",
                "ana@example.com",
                "terminated"
            ),
            o(
                "cal@example.com",
                "connection_requested",
                "bo@example.com",
                "active"
            ),
            o("cal@example.com", "connected", "cal@example.com", "active"),
        ]
    );
    assert_eq!(rows(&history(&db, Some("bo@example.com"))), all);
    assert_eq!(
        rows(&history(&db, Some("ana@example.com"))),
        all[..2].to_vec()
    );
    assert_eq!(
        rows(&history(&db, Some("cal@example.com"))),
        all[2..].to_vec()
    );
    // Bo is nobody to a coach he never had and to another member
    history(&db, Some("dee@example.com")).fails_with(5);
    history(&db, Some("mo@example.com")).fails_with(5);
    history(&db, Some("nobody@example.com")).fails_with(4);
    db.run(&["member", "history", "nobody@example.com"])
        .fails_with(5);
    db.run_as("cal", &["connect", "remove", &id]).ok();
    let after = rows(&history(&db, Some("cal@example.com")));
    assert_eq!(after.last().unwrap().1, "connection_removed");
    assert!(after.iter().all(|r| r.3 == "terminated"));
}
