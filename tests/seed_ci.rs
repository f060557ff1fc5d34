//! Seed details that bite CI (issue 24, item 4): integer days as the README
//! offers them, a dry run that exits as applying would, and no relative
//! times in a file that must mean the same on any day.

mod common;

use std::path::PathBuf;

use common::TestDb;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/org.toml");

fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("org.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn seed(db: &TestDb, path: &std::path::Path, extra: &[&str]) -> common::Run {
    let mut args = vec!["seed", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    db.run(&args)
}

fn ana_on(day: &str) -> String {
    format!(
        "[[coach]]\nemail = \"ana@example.com\"\nname = \"Ana Coach\"\n\n  [[coach.availability]]\n  day = {day}\n  start = \"09:00\"\n  end = \"12:00\"\n"
    )
}

#[test]
fn an_integer_day_counts_from_sunday_as_0_as_the_readme_says() {
    let db = TestDb::new();
    let (_d, path) = file(&ana_on("4"));
    seed(&db, &path, &[]).ok();
    assert_eq!(
        db.scalar::<i16>("SELECT day_of_week::int2 FROM availability_windows"),
        4
    );
    // the same window named by its name is the one the file already holds
    let (_d, same) = file(&ana_on("\"thu\""));
    assert!(seed(&db, &same, &[]).stderr.contains("nothing to change"));

    for bad in ["7", "-1"] {
        let (_d, path) = file(&ana_on(bad));
        let err = seed(&db, &path, &[]).fails_with(3).to_string();
        assert!(
            err.contains(&format!(
                "org.toml:6: coach.availability.day: {bad} is not a day of the week; use 0-6 (Sunday = 0)"
            )),
            "{err}"
        );
    }
}

#[test]
fn a_dry_run_exits_with_the_code_applying_would() {
    let db = TestDb::new();
    db.run(&["seed", EXAMPLE]).ok();
    let changed = std::fs::read_to_string(EXAMPLE)
        .unwrap()
        .replace("name = \"Ana Coach\"", "name = \"Ana Berger\"");
    let (_d, path) = file(&changed);
    let applying = seed(&db, &path, &[]);
    let dry = seed(&db, &path, &["--dry-run"]);
    assert_eq!(dry.code, applying.code, "{dry:#?}");
    let err = dry.fails_with(6);
    assert!(
        err.contains("exists and differs (name: \"Ana Coach\" -> \"Ana Berger\"); pass --update"),
        "{err}"
    );
    // with --update the dry run says what would change, and nothing about --update
    let dry = seed(&db, &path, &["--dry-run", "--update"]);
    dry.ok();
    assert!(dry.stderr.contains("would update 1 coach"), "{dry:#?}");
    assert!(!dry.stderr.contains("--update"), "{dry:#?}");
    assert_eq!(
        db.scalar::<String>("SELECT name FROM users WHERE email = 'ana@example.com'"),
        "Ana Coach"
    );
}

#[test]
fn relative_times_are_refused_in_a_seed_file() {
    let db = TestDb::new();
    let base = std::fs::read_to_string(EXAMPLE).unwrap();
    let first_at = base
        .lines()
        .find(|l| l.trim_start().starts_with("at = "))
        .unwrap()
        .to_string();
    for relative in ["tue 9:00", "+3d 09:00", "09:00", "tomorrow 9:00"] {
        let text = base.replacen(&first_at, &format!("at = \"{relative}\""), 1);
        let (_d, path) = file(&text);
        let err = seed(&db, &path, &["--dry-run"]).fails_with(3).to_string();
        assert!(
            err.contains(&format!(
                "booking.at: '{relative}' is relative to today, and a seed file must apply the same on any day; use YYYY-MM-DDTHH:MM"
            )),
            "{err}"
        );
    }
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM users"), 0);
    // dates with a time, with or without an offset, stay fine
    seed(&db, std::path::Path::new(EXAMPLE), &["--dry-run"]).ok();
}
