//! Seed files declare a coach's booking policies (issue 20, item 4): set on
//! create, compared on re-apply, changed with --update, refused past a limit.

mod common;

use common::TestDb;

fn file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("org.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn org(max_per_day: u32) -> String {
    format!(
        r#"
[[coach]]
email = "ana@example.com"
name = "Ana Coach"
timezone = "Europe/Berlin"
max_per_day = {max_per_day}
max_per_week = 9
member_max_per_week = 2
cancel_notice_hours = 24
waitlist_offer_minutes = 30

  [[coach.availability]]
  day = "mon"
  start = "09:00"
  end = "12:00"
  capacity = 3
"#
    )
}

#[test]
fn a_seed_file_sets_the_policies_and_a_second_apply_changes_nothing() {
    let db = TestDb::new();
    let (_d, path) = file(&org(2));
    let p = path.to_str().unwrap();
    db.run(&["seed", p]).ok();
    let shown = db
        .run(&["coach", "show", "ana@example.com", "-o", "json"])
        .json();
    assert_eq!(shown["max_per_day"], 2);
    assert_eq!(shown["max_per_week"], 9);
    assert_eq!(shown["member_max_per_week"], 2);
    assert_eq!(shown["cancel_notice_hours"], 24);
    assert_eq!(shown["waitlist_offer_minutes"], 30);
    let audit: i64 = db.scalar("SELECT count(*) FROM audit_log");
    let again = db.run(&["seed", p]);
    again.ok();
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM audit_log"), audit);
    // a change is a difference, applied with --update
    let (_d2, changed) = file(&org(3));
    let c = changed.to_str().unwrap();
    let err = db.run(&["seed", c]).fails_with(6).to_string();
    assert!(err.contains("max_per_day: 2 -> 3"), "{err}");
    db.run(&["seed", c, "--update"]).ok();
    assert_eq!(
        db.scalar::<i32>(
            "SELECT max_per_day FROM coach_profiles JOIN users ON id = user_id WHERE email = 'ana@example.com'"
        ),
        3
    );
}

#[test]
fn a_limit_out_of_range_is_named_with_its_line() {
    let db = TestDb::new();
    let (_d, path) = file(&org(0));
    let run = db.run(&["seed", path.to_str().unwrap()]);
    run.fails_with(3);
    assert!(
        run.stderr
            .contains("org.toml:6: coach.max_per_day: session limit must be between 1 and"),
        "{run:#?}"
    );
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM users"), 0);
}
