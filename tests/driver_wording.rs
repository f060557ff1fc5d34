//! The database driver's own wording never reaches a user (issue 18, item
//! 6): a schema migrated by a newer coachctl and a bad `sslmode` are told
//! in coachctl's words, through the real binary.

mod common;

use common::{Run, TestDb};

/// Run SQL on the test database.
fn exec(db: &TestDb, sql: &'static str) {
    common::runtime().block_on(async {
        let pool = db.pool().await;
        sqlx::raw_sql(sql).execute(&pool).await.expect(sql);
        pool.close().await;
    });
}

fn error_object(run: &Run, code: i32) -> serde_json::Value {
    serde_json::from_str(run.fails_with(code).trim())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {run:#?}"))
}

#[test]
fn db_migrate_against_a_schema_newer_than_the_binary_says_to_upgrade_with_exit_8() {
    let db = TestDb::new();
    exec(
        &db,
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (20991231000001, 'from the future', true, '\\x00', 0)",
    );
    let said = "the database schema is newer than this coachctl (migration 20991231000001 is unknown to it); upgrade coachctl";
    let run = db.run(&["db", "migrate"]);
    assert_eq!(run.fails_with(8), format!("error: {said}\n"));
    let err = error_object(&db.run(&["db", "migrate", "-o", "json"]), 8);
    assert_eq!(err["kind"], "unavailable");
    assert_eq!(err["message"], said);
    // every other command said so already
    assert!(
        db.run(&["coach", "list"])
            .fails_with(8)
            .contains("is newer than this coachctl"),
    );
}

#[test]
fn db_migrate_names_an_applied_migration_this_build_lacks_or_has_changed() {
    let db = TestDb::new();
    exec(
        &db,
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (20261122000008, 'from another build', true, '\\x00', 0)",
    );
    let run = db.run(&["db", "migrate"]);
    assert_eq!(
        run.fails_with(8),
        "error: the database has migration 20261122000008 applied, which this coachctl does not have (another build applied it); use a coachctl that has it\n"
    );
    exec(
        &db,
        "DELETE FROM _sqlx_migrations WHERE version = 20261122000008;
         UPDATE _sqlx_migrations SET checksum = '\\x00' WHERE version = 20261122000001",
    );
    let run = db.run(&["db", "migrate"]);
    assert_eq!(
        run.fails_with(8),
        "error: migration 20261122000001 in the database differs from this coachctl's copy (it was changed after it was applied); use the coachctl that applied it\n"
    );
    assert!(!run.stderr.contains("previously applied"), "{run:#?}");
}

/// coachctl with this `DATABASE_URL` (and `PGSSLMODE`), nothing else.
fn with_url(url: &str, pgsslmode: Option<&str>, args: &[&str]) -> Run {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_coachctl"));
    c.env("DATABASE_URL", url)
        .env_remove("COACHCTL_MIGRATE_URL")
        .env_remove("COACHCTL_OUTPUT")
        .env_remove("COACHCTL_AS")
        .env("XDG_CONFIG_HOME", "/nonexistent/coachctl-tests")
        .env("NO_COLOR", "1");
    match pgsslmode {
        Some(m) => c.env("PGSSLMODE", m),
        None => c.env_remove("PGSSLMODE"),
    };
    Run::from(c.args(args).output().expect("run coachctl"))
}

#[test]
fn a_bad_sslmode_is_named_with_the_modes_there_are_and_exit_3() {
    let modes = "is not one of disable, allow, prefer, require, verify-ca, verify-full";
    for args in [&["coach", "list"][..], &["db", "migrate"]] {
        let run = with_url("postgres://u@127.0.0.1:1/db?sslmode=foo", None, args);
        assert_eq!(
            run.fails_with(3),
            format!("error: DATABASE_URL: sslmode 'foo' {modes}\n")
        );
        let run = with_url("postgres://u@127.0.0.1:1/db", Some("sometimes"), args);
        assert_eq!(
            run.fails_with(3),
            format!("error: PGSSLMODE: sslmode 'sometimes' {modes}\n")
        );
    }
    let mut args = vec!["coach", "list", "-o", "json"];
    let err = error_object(
        &with_url("postgres://u@127.0.0.1:1/db?sslmode=foo", None, &args),
        3,
    );
    assert_eq!(err["kind"], "invalid_input");
    assert_eq!(
        err["message"],
        format!("DATABASE_URL: sslmode 'foo' {modes}")
    );
    // other values sqlx would refuse in its own words
    args.truncate(2);
    let run = with_url("postgres://u@127.0.0.1:1/db?port=x", None, &args);
    assert_eq!(
        run.fails_with(3),
        "error: DATABASE_URL: port 'x' is not a port number (1 to 65535)\n"
    );
}
