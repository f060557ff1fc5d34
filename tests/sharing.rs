//! Sharing (DESIGN.md "Identity and permissions", issue 10 point 8): the
//! member decides whether their coach sees goals (default yes) and health
//! info (default no); a hidden field is absent from every output format.

mod common;

use common::{TestDb, ana_and_bo};

/// Ana coaches Bo, whose goals and health info are set.
fn bo_with_a_profile(db: &TestDb) {
    let (ana, bo) = ana_and_bo(db);
    db.run(&["member", "assign", &bo, "--coach", &ana]).ok();
    db.run(&[
        "member",
        "update",
        "bo@example.com",
        "--goals",
        "run a marathon",
        "--health-info",
        "sore knee",
    ])
    .ok();
}

/// Every output of `member show` and `member list` for this reader, joined.
fn everything(db: &TestDb, who: &str) -> String {
    let mut all = String::new();
    for format in ["table", "json", "csv", "ids"] {
        for cmd in [
            &["member", "show", "bo@example.com"][..],
            &["member", "list"][..],
        ] {
            let mut args = vec!["--as", who, "-o", format];
            args.extend_from_slice(cmd);
            all.push_str(db.run(&args).ok());
        }
    }
    all.to_lowercase()
}

/// Whether any output names this field: a JSON key, a CSV header column
/// or a table row label.
fn has_field(all: &str, field: &str) -> bool {
    let label = field.replace('_', " ");
    all.contains(&format!("{{\"{field}\":"))
        || all.contains(&format!(",\"{field}\":"))
        || all
            .lines()
            .any(|l| l.split(',').any(|c| c == field) && l.contains("email"))
        || all.lines().any(|l| {
            l.trim_start_matches(['│', ' '])
                .starts_with(&format!("{label} "))
        })
}

#[test]
fn a_coach_sees_goals_but_not_health_info_by_default_in_every_format() {
    let db = TestDb::new();
    bo_with_a_profile(&db);
    let coach = everything(&db, "ana@example.com");
    assert!(coach.contains("run a marathon"));
    assert!(!coach.contains("sore knee"));
    assert!(
        !has_field(&coach, "health_info"),
        "absent, not empty: {coach}"
    );
    assert!(has_field(&coach, "goals"));
    let own = everything(&db, "bo@example.com");
    assert!(own.contains("run a marathon") && own.contains("sore knee"));
}

#[test]
fn a_member_turns_goals_off_and_health_info_on_and_only_they_or_an_admin_may() {
    let db = TestDb::new();
    bo_with_a_profile(&db);
    db.member("mo").create();
    db.run_as(
        "ana",
        &["member", "sharing", "bo@example.com", "--health-info", "on"],
    )
    .fails_with(4);
    // to Mo, another member, Bo is nobody
    db.run_as(
        "mo",
        &["member", "sharing", "bo@example.com", "--goals", "off"],
    )
    .fails_with(5);
    db.run_as(
        "bo",
        &["member", "sharing", "--goals", "off", "--health-info", "on"],
    )
    .ok();
    let coach = everything(&db, "ana@example.com");
    assert!(!coach.contains("run a marathon"));
    assert!(!has_field(&coach, "goals"), "absent, not empty: {coach}");
    assert!(coach.contains("sore knee"));
    assert!(everything(&db, "bo@example.com").contains("run a marathon"));
    assert!(
        db.run(&["member", "show", "bo@example.com"])
            .ok()
            .contains("run a marathon"),
        "admins see all"
    );
    db.run(&["member", "sharing", "bo@example.com", "--goals", "on"])
        .ok();
    assert!(everything(&db, "ana@example.com").contains("run a marathon"));
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM audit_log WHERE action = 'member.sharing'"),
        2
    );
    db.run_as("bo", &["member", "sharing", "--goals", "maybe"])
        .fails_with(2);
}
