//! `member import` holds no more of a roster than it must (issue 23 item
//! 4): the file is read as it comes, each row planned and sent on, and the
//! default output keeps counts only. The peak is the kernel's own account
//! of the real process (its rusage), so nothing is estimated.

mod common;

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use common::TestDb;

const ROWS: usize = 15_000;

/// The bench's roster shape (bench/run section 6), every column, but with
/// no coach: assignments (notices, history, conversations) cost time and
/// no memory of coachctl's.
fn roster(rows: usize) -> tempfile::NamedTempFile {
    let zones = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"];
    let mut text = String::from("email,name,goals,timezone,coach,membership_status\n");
    for i in 0..rows {
        text.push_str(&format!(
            "m{i}@example.com,Member {i},\"goal {i}, then more\",{},,active\n",
            zones[i % 4]
        ));
    }
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    f.write_all(text.as_bytes()).expect("write roster");
    f
}

/// Run coachctl to its end: its exit status, stdout, and peak resident set
/// in KiB (wait4's rusage of the child).
// The child is reaped by wait4, which std's wait cannot replace: only
// wait4 gives its rusage.
#[allow(clippy::zombie_processes)]
fn run_measured(db: &TestDb, args: &[&str]) -> (i32, String, i64) {
    let mut child = db
        .cmd()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start coachctl");
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().expect("stdout"), &mut out)
        .expect("read stdout");
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it for the
    // child just started, which nothing else waits for.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t, "wait4");
    let code = std::process::ExitStatus::from_raw(status)
        .code()
        .unwrap_or(-1);
    (code, out, usage.ru_maxrss)
}

/// Import a roster of `rows` members into a fresh database: its peak RSS in KiB.
fn import_peak(rows: usize) -> i64 {
    let db = TestDb::new();
    let f = roster(rows);
    let path = f.path().to_str().expect("utf-8 path");
    let (code, out, kib) = run_measured(&db, &["member", "import", path]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("created {rows}, updated 0, unchanged 0")),
        "{out}"
    );
    let landed = db.scalar::<i64>("SELECT count(*) FROM member_profiles");
    assert_eq!(landed, rows as i64);
    kib
}

#[test]
fn importing_fifteen_thousand_members_takes_no_more_memory_than_importing_one() {
    // Measured against a one-row import of the same binary, so that the
    // binary's own size (debug or release) does not matter. Holding the
    // file, its parsed rows and their plans at once took 9 MB more here.
    let one = import_peak(1);
    let many = import_peak(ROWS);
    assert!(
        many - one < 4 * 1024,
        "peak RSS {many} KiB for {ROWS} rows, {one} KiB for one"
    );
}
