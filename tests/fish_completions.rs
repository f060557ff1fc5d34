//! The fish completions (issue 22, item 7): loading them runs no command
//! (they once ran coachctl 79 times, from a `$(...)` in a description), and
//! values complete for `-o`, `--color`, `--day` and `--tz`.

use std::path::Path;
use std::process::Command;

const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/completions/coachctl.fish");

fn fish() -> Option<&'static str> {
    let found = Command::new("fish").arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var_os("COACHCTL_REQUIRE_FISH").is_none(),
            "fish is required here (apt-get install fish)"
        );
        eprintln!("skipped: fish is not installed (apt-get install fish)");
    }
    found.then_some("fish")
}

#[test]
fn the_fish_file_holds_no_command_substitution() {
    let text = std::fs::read_to_string(FILE).unwrap();
    assert!(
        !text.contains("$("),
        "a $(...) runs when fish loads the file"
    );
}

#[test]
fn fish_loads_the_completions_without_running_any_command() {
    let Some(fish) = fish() else { return };
    // A coachctl that records every run, first on PATH.
    let stub = tempfile::tempdir().unwrap();
    let log = stub.path().join("runs.log");
    let script = stub.path().join("coachctl");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$@\" >> '{}'\n", log.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        stub.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(fish)
        .args(["--no-config", "-c"])
        .arg(format!("source {FILE}"))
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        !Path::new(&log).exists(),
        "loading ran coachctl: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}

/// What fish offers for this command line (the file asks the coachctl
/// on PATH at each Tab: this build's).
fn complete(fish: &str, line: &str) -> Vec<String> {
    let bin = Path::new(env!("CARGO_BIN_EXE_coachctl"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(fish)
        .args(["--no-config", "-c"])
        .arg(format!("source {FILE}; complete -C '{line}'"))
        .env("PATH", path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn values_complete_for_output_color_day_and_tz() {
    let Some(fish) = fish() else { return };
    let has = |line: &str, want: &str| {
        let got = complete(fish, line);
        assert!(got.iter().any(|g| g == want), "{line:?} offers {got:?}");
    };
    has("coachctl coach list -o ", "json");
    has("coachctl coach list --color ", "never");
    has("coachctl availability add --day ", "mon");
    has("coachctl slots --tz Europe/Be", "Europe/Berlin");
}
