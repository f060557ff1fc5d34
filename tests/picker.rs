//! The slot picker and the confirmation prompts (issue 12, item 4), driven
//! in a real pseudo-terminal at 80x24 by Python's `pty` module: Esc, q,
//! Enter, Space, y, n and Ctrl-C, each checked in the database afterwards.

mod common;

use common::TestDb;

/// Runs a command in a pseudo-terminal; for each step waits until the
/// output shows the text, then types the keys. Prints one JSON object:
/// the exit code, all output, and the output after the last keys.
const DRIVER: &str = r#"
import fcntl, json, os, pty, select, struct, sys, termios, time
spec = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    os.execv(spec["cmd"][0], spec["cmd"])
out = b""
def read(deadline, until=None):
    global out
    while time.time() < deadline:
        if until is not None and until in out:
            return True
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                return until is None
            if not chunk:
                return until is None
            out += chunk
    return until is None or until in out
error = None
mark = 0
for wait, keys in spec["steps"]:
    if not read(time.time() + 20, wait.encode()):
        error = "never saw " + repr(wait)
        break
    time.sleep(0.3)
    mark = len(out)
    os.write(fd, keys.encode())
read(time.time() + 20)
if error is not None:
    os.kill(pid, 9)
_, status = os.waitpid(pid, 0)
print(json.dumps({
    "code": os.waitstatus_to_exitcode(status),
    "output": out.decode("utf-8", "replace"),
    "after": out[mark:].decode("utf-8", "replace"),
    "error": error,
}))
"#;

#[derive(Debug)]
struct Screen {
    code: i32,
    output: String,
    /// What was written after the last keys were typed.
    after: String,
}

/// Run coachctl with `args` in a pseudo-terminal, typing `keys` once each
/// `wait` text has appeared.
fn on_terminal(db: &TestDb, args: &[&str], steps: &[(&str, &str)]) -> Screen {
    let bin = env!("CARGO_BIN_EXE_coachctl");
    let mut cmd = vec![bin];
    cmd.extend_from_slice(args);
    let spec = serde_json::json!({ "cmd": cmd, "steps": steps });
    let c = db.cmd();
    let mut py = std::process::Command::new("python3");
    py.arg("-c").arg(DRIVER).arg(spec.to_string());
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => py.env(k, v),
            None => py.env_remove(k),
        };
    }
    py.env("TERM", "xterm-256color");
    let out = py.output().expect("run python3");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "driver output is not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(v["error"].is_null(), "{}: {v:#}", v["error"]);
    Screen {
        code: v["code"].as_i64().unwrap_or(-1) as i32,
        output: v["output"].as_str().unwrap_or_default().to_string(),
        after: v["after"].as_str().unwrap_or_default().to_string(),
    }
}

fn sessions(db: &TestDb) -> i64 {
    db.scalar("SELECT count(*) FROM sessions")
}

const BOOK: &[&str] = &[
    "book",
    "--coach",
    "ana@example.com",
    "--member",
    "bo@example.com",
];
const PICKER: &str = "Slots of Ana Coach";
const CONFIRM: &str = "[y/N]";

#[test]
fn enter_then_y_books_the_slot_named_in_the_confirmation() {
    let db = TestDb::new();
    common::ana_with_monday_mornings(&db);
    let s = on_terminal(&db, BOOK, &[(PICKER, "\r"), (CONFIRM, "y")]);
    assert_eq!(s.code, 0, "{s:#?}");
    assert!(s.output.contains("with Ana Coach for Bo Member?"), "{s:#?}");
    assert_eq!(sessions(&db), 1);
    // The question named the slot that was booked.
    let start: String = db.scalar(
        "SELECT to_char(starts_at AT TIME ZONE 'Europe/Berlin', 'Dy FMDD Mon HH24:MI') FROM sessions",
    );
    assert!(
        s.output.contains(&format!("Book {start} with")),
        "{start}: {s:#?}"
    );
}

#[test]
fn escape_or_q_in_the_picker_backs_out_with_exit_3_and_books_nothing() {
    let db = TestDb::new();
    common::ana_with_monday_mornings(&db);
    for key in ["\x1b", "q"] {
        let s = on_terminal(&db, BOOK, &[(PICKER, key)]);
        assert_eq!(s.code, 3, "{key:?}: {s:#?}");
        assert!(s.after.contains("nothing was changed"), "{s:#?}");
        assert!(!s.output.contains(CONFIRM), "{s:#?}");
    }
    assert_eq!(sessions(&db), 0);
}

#[test]
fn space_no_longer_books_at_once_and_n_or_enter_at_the_confirmation_changes_nothing() {
    let db = TestDb::new();
    common::ana_with_monday_mornings(&db);
    for (pick, answer) in [(" ", "n"), ("\r", "\r"), ("\r", "\x1b"), ("\r", "q")] {
        let s = on_terminal(&db, BOOK, &[(PICKER, pick), (CONFIRM, answer)]);
        assert_eq!(s.code, 3, "{pick:?} {answer:?}: {s:#?}");
        assert!(s.after.contains("nothing was changed"), "{s:#?}");
        assert_eq!(sessions(&db), 0, "{pick:?} {answer:?}");
    }
}

#[test]
fn ctrl_c_in_the_picker_shows_the_cursor_again_and_changes_nothing() {
    let db = TestDb::new();
    common::ana_with_monday_mornings(&db);
    for steps in [
        &[(PICKER, "\x03")][..],
        &[(PICKER, "\r"), (CONFIRM, "\x03")][..],
    ] {
        let s = on_terminal(&db, BOOK, steps);
        assert_eq!(s.code, 130, "{s:#?}");
        // The picker hid the cursor; what follows Ctrl-C shows it again.
        assert!(s.output.contains("\x1b[?25l"), "{s:#?}");
        assert!(s.after.contains("\x1b[?25h"), "{s:#?}");
        assert!(
            s.after.contains("interrupted; nothing was changed"),
            "{s:#?}"
        );
    }
    assert_eq!(sessions(&db), 0);
}

#[test]
fn an_admin_without_member_is_told_before_any_picker_is_shown() {
    let db = TestDb::new();
    common::ana_with_monday_mornings(&db);
    let s = on_terminal(&db, &["book", "--coach", "ana@example.com"], &[]);
    assert_eq!(s.code, 3, "{s:#?}");
    assert!(s.output.contains("--member"), "{s:#?}");
    assert!(!s.output.contains(PICKER), "{s:#?}");
    // A member who may not book the coach is refused before the picker too.
    db.run(&[
        "member",
        "create",
        "--email",
        "cy@example.com",
        "--name",
        "Cy",
        "-o",
        "ids",
    ])
    .ok();
    let s = on_terminal(
        &db,
        &[
            "--as",
            "cy@example.com",
            "book",
            "--coach",
            "ana@example.com",
        ],
        &[],
    );
    assert_eq!(s.code, 7, "{s:#?}");
    assert!(
        s.output.contains("neither assigned nor connected"),
        "{s:#?}"
    );
    assert!(!s.output.contains(PICKER), "{s:#?}");
}

#[test]
fn no_input_on_a_terminal_says_so_instead_of_blaming_the_terminal() {
    let db = TestDb::new();
    common::ana_with_monday_mornings(&db);
    let mut args = BOOK.to_vec();
    args.push("--no-input");
    let s = on_terminal(&db, &args, &[]);
    assert_eq!(s.code, 3, "{s:#?}");
    assert!(s.output.contains("--no-input forbids prompts"), "{s:#?}");
    assert!(!s.output.contains("terminal"), "{s:#?}");
    // Without a terminal the message says that instead.
    let r = db.run(BOOK);
    let err = r.fails_with(3);
    assert!(err.contains("no terminal"), "{err}");
}

#[test]
fn the_cancel_prompt_names_who_and_when_after_the_session_was_found() {
    let db = TestDb::new();
    common::ana_with_monday_mornings(&db);
    let at = format!("{}T09:00", common::monday());
    let mut args = BOOK.to_vec();
    args.extend(["--at", &at, "-o", "ids"]);
    let id = db.run(&args).id();
    let short = &id[..8];

    let s = on_terminal(
        &db,
        &["session", "cancel", short, "--tz", "Europe/Berlin"],
        &[(CONFIRM, "n")],
    );
    assert_eq!(s.code, 3, "{s:#?}");
    // the year only when it is not this year (`crate::domain::dates`)
    let this_year = chrono::Datelike::year(&common::monday())
        == chrono::Datelike::year(&chrono::Utc::now().date_naive());
    let form = if this_year {
        "%a %-d %b, 09:00"
    } else {
        "%a %-d %b %Y, 09:00"
    };
    let when = common::monday().format(form).to_string();
    // By name, so that it fits one line at 80 columns.
    let question = format!("Cancel Bo Member's session with Ana Coach on {when} CE");
    assert!(s.output.contains(&question), "{when}: {s:#?}");
    let status: String = db.scalar("SELECT status FROM sessions");
    assert_eq!(status, "scheduled");

    let s = on_terminal(&db, &["session", "cancel", short], &[(CONFIRM, "y")]);
    assert_eq!(s.code, 0, "{s:#?}");
    let status: String = db.scalar("SELECT status FROM sessions");
    assert_eq!(status, "cancelled");

    // Nothing to cancel: refused before any question is asked.
    for missing in [short, "deadbeef"] {
        let s = on_terminal(&db, &["session", "cancel", missing], &[]);
        assert!(s.code == 7 || s.code == 5, "{s:#?}");
        assert!(!s.output.contains(CONFIRM), "{s:#?}");
    }
    // --no-input on a terminal: one sentence naming the flag and --yes.
    let at = format!("{}T10:15", common::monday());
    let mut args = BOOK.to_vec();
    args.extend(["--at", &at, "-o", "ids"]);
    let id = db.run(&args).id();
    let s = on_terminal(&db, &["session", "cancel", &id[..8], "--no-input"], &[]);
    assert_eq!(s.code, 3, "{s:#?}");
    assert!(
        s.output.contains("--no-input forbids prompts; pass --yes"),
        "{s:#?}"
    );
    let scheduled: i64 = db.scalar("SELECT count(*) FROM sessions WHERE status = 'scheduled'");
    assert_eq!(scheduled, 1);
}

#[test]
fn deactivating_a_coach_asks_naming_them_and_only_someone_allowed_is_asked() {
    let db = TestDb::new();
    common::ana_with_monday_mornings(&db);
    let active =
        || -> bool { db.scalar("SELECT active FROM users WHERE email = 'ana@example.com'") };
    let s = on_terminal(
        &db,
        &["coach", "deactivate", "ana@example.com"],
        &[(CONFIRM, "n")],
    );
    assert_eq!(s.code, 3, "{s:#?}");
    assert!(
        s.output
            .contains("Deactivate coach Ana Coach <ana@example.com>? [y/N]"),
        "{s:#?}"
    );
    assert!(active());
    // A member is refused before any question.
    let s = on_terminal(
        &db,
        &[
            "--as",
            "bo@example.com",
            "coach",
            "deactivate",
            "ana@example.com",
        ],
        &[],
    );
    assert_eq!(s.code, 4, "{s:#?}");
    assert!(!s.output.contains(CONFIRM), "{s:#?}");
    let s = on_terminal(
        &db,
        &["coach", "deactivate", "ana@example.com"],
        &[(CONFIRM, "y")],
    );
    assert_eq!(s.code, 0, "{s:#?}");
    assert!(!active());
}

#[test]
fn the_picker_leaves_out_slots_the_member_already_holds() {
    let db = TestDb::new();
    common::ana_with_monday_mornings(&db);
    let s = on_terminal(&db, BOOK, &[(PICKER, "\r"), (CONFIRM, "y")]);
    assert_eq!(s.code, 0, "{s:#?}");
    let held: String = db.scalar(
        "SELECT to_char(starts_at AT TIME ZONE 'Europe/Berlin', 'Dy FMDD Mon HH24:MI') FROM sessions",
    );
    // The first slot offered now is another one.
    let s = on_terminal(&db, BOOK, &[(PICKER, "\r"), (CONFIRM, "n")]);
    assert_eq!(s.code, 3, "{s:#?}");
    assert!(s.output.contains("Book "), "{s:#?}");
    assert!(
        !s.output.contains(&format!("Book {held} with")),
        "{held}: {s:#?}"
    );
    assert!(!s.output.contains(&format!("  {held}–")), "{held}: {s:#?}");
    assert_eq!(sessions(&db), 1);
}

#[test]
fn moving_a_member_from_another_coach_asks_on_a_terminal_and_says_so_in_a_script() {
    let db = TestDb::new();
    common::ana_with_monday_mornings(&db);
    db.coach("dee").name("Dee Coach").create();
    let coach = || {
        db.scalar::<String>(
            "SELECT u.email FROM member_profiles m JOIN users u ON u.id = m.coach_id",
        )
    };
    let s = on_terminal(
        &db,
        &[
            "member",
            "assign",
            "bo@example.com",
            "--coach",
            "dee@example.com",
        ],
        &[(CONFIRM, "n")],
    );
    assert_eq!(s.code, 3, "{s:#?}");
    assert!(
        s.output
            .contains("Move bo@example.com from ana@example.com to dee@example.com?"),
        "{s:#?}"
    );
    assert_eq!(coach(), "ana@example.com");
    // a script is not stopped, and is told
    let run = db.run(&[
        "member",
        "assign",
        "bo@example.com",
        "--coach",
        "dee@example.com",
    ]);
    run.ok();
    assert!(
        run.stderr
            .contains("moved bo@example.com from ana@example.com to dee@example.com"),
        "{run:#?}"
    );
    assert_eq!(coach(), "dee@example.com");
}
