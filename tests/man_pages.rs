//! Man pages (issue 22, item 7): every page carries EXIT STATUS,
//! ENVIRONMENT, FILES and EXAMPLES, from the same source as the README's
//! tables; `coachctl man` without a directory writes to the user's own.

use std::process::Command;

use coachctl::cli::reference;

fn coachctl() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_coachctl"));
    c.env_remove("DATABASE_URL");
    c
}

#[test]
fn every_man_page_has_exit_status_environment_files_and_examples() {
    let dir = tempfile::tempdir().unwrap();
    let out = coachctl().arg("man").arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let pages: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(pages.len() > 50, "{} pages", pages.len());
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        for section in [
            ".SH \"EXIT STATUS\"",
            ".SH \"ENVIRONMENT\"",
            ".SH \"FILES\"",
            ".SH EXAMPLES",
        ] {
            assert!(text.contains(section), "{} lacks {section}", page.display());
        }
    }
    // A command's own examples are its page's.
    let book = std::fs::read_to_string(dir.path().join("coachctl-book.1")).unwrap();
    assert!(book.contains("\\-\\-at 'mon 9:00'"), "{book}");
    // man(1) renders it, sections and all.
    if let Ok(r) = Command::new("man")
        .arg("-l")
        .arg(dir.path().join("coachctl-book.1"))
        .env("MANWIDTH", "80")
        .output()
    {
        let text = String::from_utf8_lossy(&r.stdout);
        if r.status.success() {
            for s in [
                "EXIT STATUS",
                "ENVIRONMENT",
                "FILES",
                "EXAMPLES",
                "COACHCTL_HOME",
            ] {
                assert!(text.contains(s), "{text}");
            }
        }
    }
}

#[test]
fn the_readme_tables_are_the_man_pages_tables() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for table in reference::readme_tables() {
        assert!(
            readme.contains(&table),
            "README.md lacks this table (from src/cli/reference.rs):\n{table}"
        );
    }
}

#[test]
fn man_without_a_directory_writes_into_the_users_man_directory_and_says_where() {
    let home = tempfile::tempdir().unwrap();
    let out = coachctl()
        .arg("man")
        .env("HOME", home.path())
        .env_remove("XDG_DATA_HOME")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let dir = home.path().join(".local/share/man/man1");
    assert!(dir.join("coachctl.1").is_file());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains(&dir.display().to_string()), "{said}");
}
