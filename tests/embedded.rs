//! The embedded default: a fresh COACHCTL_HOME, concurrent first use, status,
//! stop; a missing PostgreSQL; a schema behind the binary.

mod common;

use std::path::Path;
use std::process::Command;

use common::Run;

fn coachctl(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_coachctl"));
    c.env("COACHCTL_HOME", home)
        .env_remove("DATABASE_URL")
        .env_remove("COACHCTL_AS")
        .env_remove("COACHCTL_OUTPUT");
    c
}

fn run(home: &Path, args: &[&str]) -> Run {
    Run::from(coachctl(home).args(args).output().expect("run coachctl"))
}

/// Stops the embedded server of a test home when the test ends, pass or fail.
struct StopOnDrop<'a>(&'a Path);
impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        let _ = coachctl(self.0).args(["db", "down"]).output();
    }
}

#[test]
fn two_first_commands_at_once_create_one_cluster_that_later_commands_reuse() {
    let home = tempfile::tempdir().unwrap();
    let _stop = StopOnDrop(home.path());
    let children: Vec<_> = (0..2)
        .map(|_| {
            coachctl(home.path())
                .args(["db", "up", "-o", "json"])
                .output()
                .unwrap()
        })
        .collect::<Vec<_>>();
    // spawn both before waiting on either
    let a = coachctl(home.path()).args(["db", "up"]).spawn().unwrap();
    let b = coachctl(home.path())
        .args(["coach", "list"])
        .spawn()
        .unwrap();
    for out in children {
        Run::from(out).ok();
    }
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    let status = run(home.path(), &["db", "status", "-o", "json"]).json();
    assert!(
        status["server_version"]
            .as_str()
            .unwrap()
            .starts_with(|c: char| c.is_ascii_digit())
    );
    assert_eq!(status["schema_version"], status["schema_latest"]);
    assert!(
        status["data_dir"]
            .as_str()
            .unwrap()
            .starts_with(home.path().to_str().unwrap())
    );

    // the contract on the embedded default
    let c = run(
        home.path(),
        &[
            "coach",
            "create",
            "--email",
            "ana@example.com",
            "--name",
            "Ana",
            "--timezone",
            "Europe/Berlin",
            "-o",
            "ids",
        ],
    )
    .id();
    let m = run(
        home.path(),
        &[
            "member",
            "create",
            "--email",
            "bo@example.com",
            "--name",
            "Bo",
            "-o",
            "ids",
        ],
    )
    .id();
    run(home.path(), &["member", "assign", &m, "--coach", &c]).ok();
    let shown = run(home.path(), &["coach", "show", &c, "-o", "json"]).json();
    assert_eq!(shown["member_count"], 1);

    let down = run(home.path(), &["db", "down", "-o", "json"]).json();
    assert_eq!(down["state"], "stopped");
    // the next command starts it again, with the data kept
    let again = run(home.path(), &["member", "list", "-o", "ids"]);
    assert_eq!(again.ok().trim(), m);
}

#[test]
fn without_postgresql_installed_one_sentence_says_how_to_install_it() {
    let home = tempfile::tempdir().unwrap();
    let nothing = tempfile::tempdir().unwrap();
    let out = coachctl(home.path())
        .args(["coach", "list"])
        .env("COACHCTL_PG_BINDIR", nothing.path())
        .output()
        .unwrap();
    let run = Run::from(out);
    let err = run.fails_with(8).to_string();
    assert!(err.contains("apt-get install postgresql"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn a_schema_behind_the_binary_refuses_every_command_but_db_migrate() {
    let db = common::empty_db();
    let err = db.run(&["coach", "list"]).fails_with(8).to_string();
    assert!(err.contains("coachctl db migrate"), "{err}");
    db.run(&["db", "up"]).fails_with(8);
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
        0
    );
    let status = db.run(&["db", "status", "-o", "json"]).json();
    assert_eq!(status["schema_version"], 0);
    db.run(&["db", "migrate"]).ok();
    db.run(&["coach", "list"]).ok();
}

#[test]
fn db_down_refuses_a_server_it_does_not_manage() {
    let db = common::TestDb::new();
    db.run(&["db", "down"]).fails_with(7);
}

#[test]
fn db_reset_needs_confirmation_and_then_empties_the_data() {
    let db = common::TestDb::new();
    db.run(&["coach", "create", "--email", "a@example.com", "--name", "A"])
        .ok();
    db.run(&["db", "reset"]).fails_with(3);
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM users"), 1);
    db.run(&["db", "reset", "--yes"]).ok();
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM users"), 0);
}
