//! The config file (issue 12, item 7): defaults for `as`, `output`, `tz`
//! and named database profiles; flags beat the environment, which beats
//! the file; `config show` says where each setting came from.

mod common;

use std::path::Path;

use common::{Run, TestDb};
use serde_json::Value;

/// A config directory holding `coachctl/config.toml` with this text.
fn config_home(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("coachctl")).unwrap();
    std::fs::write(dir.path().join("coachctl/config.toml"), text).unwrap();
    dir
}

/// coachctl with `XDG_CONFIG_HOME` at `home`, more environment, and `args`.
fn run(db: &TestDb, home: &Path, env: &[(&str, Option<&str>)], args: &[&str]) -> Run {
    let mut c = db.cmd();
    c.env("XDG_CONFIG_HOME", home);
    for (k, v) in env {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    Run::from(c.args(args).output().unwrap())
}

/// `config show -o json` as {setting: (value, source, from)}.
fn settings(r: &Run) -> std::collections::HashMap<String, (String, String, String)> {
    r.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|s: &Value| {
            let f = |k: &str| s[k].as_str().unwrap_or_default().to_string();
            (f("id"), (f("value"), f("source"), f("from")))
        })
        .collect()
}

#[test]
fn without_a_file_every_setting_is_the_default_or_the_environment() {
    let db = TestDb::new();
    let home = tempfile::tempdir().unwrap();
    let s = settings(&run(
        &db,
        home.path(),
        &[],
        &["config", "show", "-o", "json"],
    ));
    assert_eq!(s["output"].1, "flag", "-o json is a flag: {s:?}");
    assert_eq!(s["as"].1, "default");
    assert_eq!(s["tz"].1, "default");
    assert_eq!(s["database"].1, "env");
    assert!(s["config"].0.contains("(none there)"), "{s:?}");
    // short enough that `config show` keeps every column whole at 80
    let tz = settings(&run(
        &db,
        home.path(),
        &[("TZ", Some("Europe/Berlin"))],
        &["config", "show", "-o", "json"],
    ));
    assert_eq!(tz["tz"].0, "(the actor's, else Europe/Berlin)", "{tz:?}");
}

#[test]
fn flags_beat_the_environment_which_beats_the_file() {
    let db = TestDb::new();
    common::ana_and_bo(&db);
    let home =
        config_home("# defaults\nas = \"bo@example.com\"\noutput = \"csv\"\ntz = \"Asia/Tokyo\"\n");
    let show = |env: &[(&str, Option<&str>)], args: &[&str]| {
        let mut all = vec!["config", "show"];
        all.extend_from_slice(args);
        run(&db, home.path(), env, &all)
    };
    // The file alone: CSV output, acting as Bo, in Tokyo.
    let csv = show(&[], &[]);
    let text = csv.ok();
    assert!(text.starts_with("id,value,source,from"), "{text}");
    assert!(text.contains("as,bo@example.com,file,"), "{text}");
    assert!(text.contains("line 2"), "{text}");
    assert!(text.contains("output,csv,file,"), "{text}");
    assert!(text.contains("tz,Asia/Tokyo,file,"), "{text}");
    // The environment beats the file ...
    let s = settings(&show(
        &[
            ("COACHCTL_OUTPUT", Some("json")),
            ("COACHCTL_AS", Some("ana@example.com")),
        ],
        &[],
    ));
    assert_eq!(
        s["output"],
        ("json".into(), "env".into(), "COACHCTL_OUTPUT".into())
    );
    assert_eq!(s["as"].0, "ana@example.com");
    assert_eq!(s["as"].1, "env");
    // ... and flags beat both.
    let s = settings(&show(
        &[("COACHCTL_AS", Some("ana@example.com"))],
        &["-o", "json", "--as", "bo@example.com", "--tz", "UTC"],
    ));
    assert_eq!(
        s["as"],
        ("bo@example.com".into(), "flag".into(), "--as".into())
    );
    assert_eq!(s["tz"].1, "flag");
    assert_eq!(s["output"].1, "flag");
    // The file's `as` really acts: Bo may not create a coach.
    run(
        &db,
        home.path(),
        &[],
        &["coach", "create", "--email", "x@example.com", "--name", "X"],
    )
    .fails_with(4);
}

#[test]
fn a_profile_picks_the_database_and_its_password_is_never_shown() {
    let db = TestDb::new();
    let secret_url = "postgres://someone:hunter2@127.0.0.1:1/nowhere";
    let home = config_home(&format!(
        "profile = \"test\"\n\n[profiles.test]\ndatabase_url = \"{}\"\n\n[profiles.broken]\ndatabase_url = \"{secret_url}\"\n",
        db.url
    ));
    let no_url = [("DATABASE_URL", None)];
    // The file's default profile: this test's database.
    let id = run(
        &db,
        home.path(),
        &no_url,
        &[
            "coach",
            "create",
            "--email",
            "p@example.com",
            "--name",
            "P",
            "-o",
            "ids",
        ],
    )
    .id();
    let n: i64 = db.scalar("SELECT count(*) FROM users WHERE email = 'p@example.com'");
    assert_eq!(n, 1, "{id}");
    let s = settings(&run(
        &db,
        home.path(),
        &no_url,
        &["config", "show", "-o", "json"],
    ));
    assert_eq!(s["database"].1, "file", "{s:?}");
    assert!(s["database"].2.contains("profile test"), "{s:?}");
    // DATABASE_URL beats the file's profile; --profile beats DATABASE_URL.
    let broken = [("DATABASE_URL", Some(secret_url))];
    run(&db, home.path(), &broken, &["coach", "list"]).fails_with(8);
    run(
        &db,
        home.path(),
        &broken,
        &["--profile", "test", "coach", "list"],
    )
    .ok();
    run(
        &db,
        home.path(),
        &[("DATABASE_URL", None), ("COACHCTL_PROFILE", Some("test"))],
        &["coach", "list"],
    )
    .ok();
    // A profile with a password: masked in `config show`.
    let shown = run(
        &db,
        home.path(),
        &no_url,
        &["--profile", "broken", "config", "show"],
    );
    let out = shown.ok();
    assert!(out.contains("someone:***@127.0.0.1"), "{out}");
    assert!(!out.contains("hunter2"), "{out}");
    // An unknown profile names the file and the profiles it has.
    let err = run(
        &db,
        home.path(),
        &no_url,
        &["--profile", "prod", "coach", "list"],
    )
    .fails_with(3)
    .to_string();
    assert!(
        err.contains("no profile 'prod'") && err.contains("broken, test"),
        "{err}"
    );
    // Both flags at once is a mistake.
    run(
        &db,
        home.path(),
        &[],
        &[
            "--profile",
            "test",
            "--database-url",
            &db.url,
            "coach",
            "list",
        ],
    )
    .fails_with(3);
}

#[test]
fn a_malformed_file_exits_3_naming_the_file_and_line() {
    let db = TestDb::new();
    for (text, line, what) in [
        ("as = \"a@b.example\"\noutput = json\n", 2, ""),
        ("tz = \"Mars/Olympus\"\n", 1, "IANA"),
        ("\n\noutput = \"xml\"\n", 3, "table, wide, json, csv, ids"),
        ("as = \"not an email\"\n", 1, "neither an id nor an email"),
        ("colour = \"red\"\n", 1, "unknown key 'colour'"),
        ("[profiles.prod]\nurl = \"x\"\n", 2, "database_url"),
    ] {
        let home = config_home(text);
        let err = run(&db, home.path(), &[], &["coach", "list"])
            .fails_with(3)
            .trim_end()
            .to_string();
        let file = home.path().join("coachctl/config.toml");
        assert!(
            err.contains(&format!("{} line {line}:", file.display())),
            "{text:?}: {err}"
        );
        assert!(err.contains(what), "{text:?}: {err}");
        assert!(!err.contains('\n'), "{err}");
    }
    // COACHCTL_CONFIG naming a missing file is an error, not silence.
    let home = tempfile::tempdir().unwrap();
    let err = run(
        &db,
        home.path(),
        &[("COACHCTL_CONFIG", Some("/nonexistent/coachctl.toml"))],
        &["coach", "list"],
    )
    .fails_with(3)
    .to_string();
    assert!(err.contains("/nonexistent/coachctl.toml"), "{err}");
}

#[test]
fn output_json_in_the_file_makes_data_and_errors_json() {
    let db = TestDb::new();
    common::ana_and_bo(&db);
    let home = config_home("output = \"json\"\n");
    let list = run(&db, home.path(), &[], &["coach", "list"]).json();
    assert_eq!(list[0]["email"], "ana@example.com", "{list}");
    let r = run(
        &db,
        home.path(),
        &[],
        &["coach", "show", "nobody@example.com"],
    );
    let v: Value = serde_json::from_str(r.fails_with(5).trim()).unwrap();
    assert_eq!(v["kind"], "not_found", "{v}");
}

#[test]
fn a_profile_binds_its_own_as_output_and_tz_over_the_files() {
    let db = TestDb::new();
    common::ana_and_bo(&db);
    let home = config_home(&format!(
        "as = \"bo@example.com\"\ntz = \"Asia/Tokyo\"\n\n\
         [profiles.work]\ndatabase_url = \"{}\"\nas = \"ana@example.com\"\noutput = \"csv\"\n\n\
         [profiles.plain]\ndatabase_url = \"{}\"\n",
        db.url, db.url
    ));
    let show = |profile: &str| {
        settings(&run(
            &db,
            home.path(),
            &[("DATABASE_URL", None)],
            &["--profile", profile, "config", "show", "-o", "json"],
        ))
    };
    let work = show("work");
    assert_eq!(work["as"].0, "ana@example.com", "{work:?}");
    assert_eq!(
        work["tz"].0, "Asia/Tokyo",
        "the file's own where the profile says nothing"
    );
    // -o json on the command line still beats the profile's csv
    assert_eq!(work["output"].0, "json", "{work:?}");
    let plain = show("plain");
    assert_eq!(plain["as"].0, "bo@example.com", "{plain:?}");
    // the profile's output applies when nothing else says
    let csv = run(
        &db,
        home.path(),
        &[("DATABASE_URL", None)],
        &["--profile", "work", "member", "list"],
    );
    let header = csv.ok().lines().next().unwrap_or_default().to_string();
    assert!(header.split(',').any(|h| h == "email"), "CSV: {csv:#?}");
}
