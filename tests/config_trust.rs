//! The config file is trusted only when it is safe (issue 22, item 6), as
//! ssh and psql do: refused when it or its directory may be written by
//! others or belongs to another user; a warning when a file holding a
//! password may be read by others.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{Run, TestDb};

fn config_home(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("coachctl")).unwrap();
    let file = dir.path().join("coachctl/config.toml");
    std::fs::write(&file, text).unwrap();
    chmod(&file, 0o600);
    chmod(&dir.path().join("coachctl"), 0o700);
    dir
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn run(db: &TestDb, home: &Path, args: &[&str]) -> Run {
    Run::from(
        db.cmd()
            .env("XDG_CONFIG_HOME", home)
            .args(args)
            .output()
            .unwrap(),
    )
}

#[test]
fn a_private_config_file_is_read_without_a_word() {
    let db = TestDb::new();
    let home = config_home("output = \"json\"\n");
    let r = run(&db, home.path(), &["coach", "list"]);
    assert_eq!(r.ok().trim(), "[]");
    assert_eq!(r.stderr, "");
}

#[test]
fn a_world_writable_config_file_is_refused_in_one_sentence() {
    let db = TestDb::new();
    let home = config_home("output = \"json\"\n");
    let file = home.path().join("coachctl/config.toml");
    chmod(&file, 0o666);
    let r = run(&db, home.path(), &["coach", "list"]);
    let err = r.fails_with(3);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("is not trusted: anyone may write to it"),
        "{err}"
    );
    assert!(err.contains("chmod go-w"), "{err}");
    assert_eq!(r.stdout, "");
}

#[test]
fn a_config_file_in_a_directory_others_may_write_is_refused() {
    let db = TestDb::new();
    let home = config_home("output = \"json\"\n");
    chmod(&home.path().join("coachctl"), 0o777);
    let err = run(&db, home.path(), &["coach", "list"])
        .fails_with(3)
        .to_string();
    assert!(err.contains("the directory of the config file"), "{err}");
}

#[test]
fn a_config_file_of_another_user_is_refused() {
    let db = TestDb::new();
    let home = config_home("output = \"json\"\n");
    let file = home.path().join("coachctl/config.toml");
    // The tests run as root in CI; as a normal user chown is not allowed.
    if std::os::unix::fs::chown(&file, Some(65534), None).is_err() {
        eprintln!("skipped: cannot give a file to another user here (not root)");
        return;
    }
    let err = run(&db, home.path(), &["coach", "list"])
        .fails_with(3)
        .to_string();
    assert!(err.contains("belongs to another user"), "{err}");
}

#[test]
fn a_readable_file_holding_a_password_gets_a_warning_and_still_works() {
    let db = TestDb::new();
    let home = config_home("[profiles.p]\ndatabase_url = \"postgres://u:secret@127.0.0.1:1/x\"\n");
    let file = home.path().join("coachctl/config.toml");
    chmod(&file, 0o644);
    let r = run(&db, home.path(), &["config", "show", "-o", "json"]);
    r.ok();
    assert!(
        r.stderr.contains("holds a password and others may read it"),
        "{r:?}"
    );
    assert!(!r.stderr.contains("secret"), "{r:?}");
    chmod(&file, 0o600);
    let r = run(&db, home.path(), &["config", "show", "-o", "json"]);
    assert_eq!(r.stderr, "");
}
