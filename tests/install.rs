//! Install (issue 22, item 1): `cargo install --path .`, with or without
//! `--locked`, builds the same program as the tests: the crates patched in
//! vendor/ apply whatever the registry holds.

use std::path::Path;
use std::process::Command;

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

const PATCHED: [&str; 3] = ["sqlx-core", "sqlx-postgres", "lettre"];

fn tree(dir: &Path, krate: &str, extra: &[&str]) -> String {
    let out = cargo()
        .current_dir(dir)
        .args(["tree", "-e", "normal", "--prefix", "none", "-i", krate])
        .args(extra)
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree -i {krate}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("was not used in the crate graph"), "{err}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_locked_build_uses_the_vendored_patches() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for krate in PATCHED {
        let first = tree(root, krate, &["--locked", "--offline"])
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        assert!(
            first.contains(&format!("vendor/{krate})")),
            "{krate} does not come from vendor/: {first}"
        );
    }
}

#[test]
fn a_build_without_the_lock_file_still_uses_the_vendored_patches() {
    // What `cargo install --path .` does: resolve afresh against the
    // registry (newer sqlx releases included), ignoring Cargo.lock.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let copy = tempfile::tempdir().unwrap();
    std::fs::copy(root.join("Cargo.toml"), copy.path().join("Cargo.toml")).unwrap();
    for dir in [
        "src",
        "benches",
        "vendor",
        "migrations",
        "tests",
        "examples",
    ] {
        if root.join(dir).exists() {
            std::os::unix::fs::symlink(root.join(dir), copy.path().join(dir)).unwrap();
        }
    }
    for krate in PATCHED {
        let first = tree(copy.path(), krate, &[])
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        assert!(
            first.contains(&format!("vendor/{krate})")),
            "without Cargo.lock, {krate} resolves to {first}"
        );
    }
}
