//! The scripts in completions/ match what the binary generates.
//! Regenerate with: cargo run -- completions --dir completions

use coachctl::cli::completions::{SHELLS, file_name, script};

#[test]
fn the_completion_files_in_the_repository_are_current() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    for shell in SHELLS {
        let path = dir.join(file_name(shell));
        let kept = std::fs::read(&path).unwrap_or_default();
        assert!(
            kept == script(shell),
            "{} is stale; run `cargo run -- completions --dir completions`",
            path.display()
        );
    }
}

#[test]
fn completions_bash_prints_a_script() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_coachctl"))
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("complete -o nospace"), "{text}");
    // each Tab asks coachctl on PATH (clap_complete's dynamic protocol)
    assert!(text.contains("COMPLETE=\"bash\""), "{text}");
}
