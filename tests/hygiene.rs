//! Hostile input and what reaches the user (issue 6, items 8 and 9):
//! emails in full Unicode, invisible and control characters, one-line and
//! JSON errors, CSV formulas, date ranges, no driver text, private time-off
//! reasons, and `book -o ids` naming the session.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;

use common::{TestDb, ana_with_monday_mornings, monday};
use serde_json::Value;

/// Assert that stderr is exactly one line and return it.
#[track_caller]
fn one_line(stderr: &str) -> &str {
    let line = stderr.strip_suffix('\n').unwrap_or(stderr);
    assert!(
        !line.contains(['\n', '\r']) && !line.is_empty(),
        "not one line: {stderr:?}"
    );
    line
}

/// Assert that stderr is one JSON object with this kind; return its message.
#[track_caller]
fn json_error(stderr: &str, kind: &str) -> String {
    let v: Value = serde_json::from_str(one_line(stderr))
        .unwrap_or_else(|e| panic!("not a JSON error ({e}): {stderr:?}"));
    assert_eq!(v["kind"], kind, "{v}");
    let message = v["message"].as_str().unwrap_or_default().to_string();
    assert!(!message.is_empty(), "{v}");
    message
}

fn member(db: &TestDb, email: &str, name: &str) -> common::Run {
    // `--name=-2+3`: a value may start with a dash
    let (email, name) = (format!("--email={email}"), format!("--name={name}"));
    db.run(&["member", "create", &email, &name, "-o", "ids"])
}

// ------------------------------------------------------------- emails

#[test]
fn an_email_differing_only_in_unicode_case_or_composition_is_the_same_person() {
    let db = TestDb::new();
    member(&db, "öla@x.com", "Öla").ok();
    for twin in [
        "ÖLA@x.com",
        "O\u{308}LA@X.COM",
        "o\u{308}la@x.com",
        "  Öla@x.com ",
    ] {
        let err = member(&db, twin, "Twin").fails_with(6).to_string();
        assert!(err.contains("already exists"), "{twin:?}: {err}");
    }
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM users"), 1);
    // Any spelling finds the one person; the stored form is canonical.
    let shown = db
        .run(&["member", "show", "ÖLA@X.COM", "-o", "json"])
        .json();
    assert_eq!(shown["email"], "öla@x.com");
    let decomposed = db
        .run(&["member", "show", "o\u{308}la@x.com", "-o", "json"])
        .json();
    assert_eq!(decomposed["id"], shown["id"]);
}

#[test]
fn an_email_is_stored_trimmed_composed_and_lowercased() {
    let db = TestDb::new();
    let created = db
        .run(&[
            "coach",
            "create",
            "--email",
            "  ZOE\u{301}@Example.COM ",
            "--name",
            "Zoé",
            "-o",
            "json",
        ])
        .json();
    assert_eq!(created["email"], "zo\u{e9}@example.com");
    assert_eq!(
        db.scalar::<String>("SELECT email FROM users"),
        "zo\u{e9}@example.com"
    );
}

#[test]
fn the_database_refuses_a_second_spelling_of_an_email_whatever_path_writes() {
    let db = TestDb::new();
    member(&db, "öla@x.com", "Öla").ok();
    let rt = common::runtime();
    let refused = rt.block_on(async {
        let pool = db.pool().await;
        let mut outcomes = Vec::new();
        for twin in ["ÖLA@x.com", "o\u{308}la@x.com", "ÖLA@X.COM"] {
            let r = sqlx::query(
                "INSERT INTO users (id, email, name, role) VALUES (gen_random_uuid(), $1, 'Twin', 'member')",
            )
            .bind(twin)
            .execute(&pool)
            .await;
            outcomes.push(r.err().and_then(|e| {
                e.as_database_error()
                    .and_then(|d| d.constraint().map(str::to_string))
            }));
        }
        pool.close().await;
        outcomes
    });
    assert!(
        refused
            .iter()
            .all(|c| c.as_deref() == Some("users_email_key")),
        "{refused:?}"
    );
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM users"), 1);
}

// ------------------------------------------- invisible and control characters

/// Characters that hide, reorder or rewrite text.
const HIDDEN: [char; 12] = [
    '\u{200B}', '\u{200C}', '\u{200D}', '\u{200E}', '\u{200F}', '\u{202E}', '\u{2066}', '\u{2069}',
    '\u{FEFF}', '\u{00AD}', '\u{0007}', '\u{001B}',
];

#[test]
fn a_lookalike_of_an_existing_coach_cannot_be_created() {
    let db = TestDb::new();
    common::ana_and_bo(&db);
    for c in HIDDEN {
        let lookalike = format!("an{c}a@example.com");
        let err = db
            .run(&[
                "coach",
                "create",
                "--email",
                &lookalike,
                "--name",
                "Ana Coach",
            ])
            .fails_with(3)
            .to_string();
        let line = one_line(&err);
        assert!(line.contains("U+"), "names the character: {line}");
        assert!(!line.contains(c), "the character is escaped: {line:?}");
        let name = format!("Ana{c} Coach");
        db.run(&[
            "coach",
            "create",
            "--email",
            "ana2@example.com",
            "--name",
            &name,
        ])
        .fails_with(3);
    }
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM users"), 2);
}

#[test]
fn free_text_keeps_newlines_but_refuses_other_control_and_bidi_characters() {
    let db = TestDb::new();
    common::ana_and_bo(&db);
    let day = (monday() + chrono::Duration::days(1)).to_string();
    for bad in ["off\u{1b}[2J", "off\u{202E}ffo", "tab\there", "x\u{2066}y"] {
        db.run(&[
            "availability",
            "block",
            "--coach",
            "ana@example.com",
            "--date",
            &day,
            "--reason",
            bad,
        ])
        .fails_with(3);
    }
    let block = db
        .run(&[
            "availability",
            "block",
            "--coach",
            "ana@example.com",
            "--date",
            &day,
            "--reason",
            "conference\r\nin Lyon",
            "-o",
            "json",
        ])
        .json();
    assert_eq!(block["reason"], "conference\nin Lyon");
}

// ------------------------------------------------------------- one line

#[test]
fn a_value_with_a_newline_never_splits_an_error_over_lines() {
    let db = TestDb::new();
    common::ana_and_bo(&db);
    let cases: [&[&str]; 5] = [
        &["member", "show", "bo\n@example.com"],
        &["member", "show", "line one\nline two"],
        &[
            "coach",
            "create",
            "--email",
            "x@example.com",
            "--name",
            "A\nB",
        ],
        &[
            "slots",
            "--coach",
            "ana@example.com",
            "--from",
            "2027-01-01\nboom",
        ],
        &["--tz", "Europe/Berlin\nerror: forged", "coach", "list"],
    ];
    for args in cases {
        let text = db.run(args);
        let line = one_line(text.fails_with(3));
        assert!(line.starts_with("error: "), "{line}");
        assert!(
            line.contains("\\n") || line.contains("U+000A"),
            "the newline is shown escaped or named: {line}"
        );

        let mut json_args = args.to_vec();
        json_args.extend(["-o", "json"]);
        let json = db.run(&json_args);
        json_error(json.fails_with(3), "invalid_input");
    }
}

// ------------------------------------------------------- argument errors

#[test]
fn argument_errors_are_json_objects_under_output_json() {
    let db = TestDb::new();
    let unknown = db.run(&["coach", "list", "--bogus", "-o", "json"]);
    let message = json_error(unknown.fails_with(2), "usage");
    assert!(message.contains("--bogus"), "{message}");

    let missing = db.run(&["-o", "json", "coach", "create", "--name", "Ana"]);
    json_error(missing.fails_with(2), "usage");

    let bad_value = db.run(&["--output=json", "coach", "show", "not an email"]);
    let message = json_error(bad_value.fails_with(3), "invalid_input");
    assert!(message.contains("not an email"), "{message}");

    let no_subcommand = db.run(&["-ojson"]);
    json_error(no_subcommand.fails_with(2), "usage");

    let bad_enum = db.run(&["coach", "list", "-o", "json", "--color", "rainbow"]);
    json_error(bad_enum.fails_with(2), "usage");
}

#[test]
fn coachctl_output_json_in_the_environment_makes_argument_errors_json() {
    let db = TestDb::new();
    let out = db
        .cmd()
        .env("COACHCTL_OUTPUT", "json")
        .args(["coach", "show", "bo\u{200B}@example.com"])
        .output()
        .expect("run coachctl");
    let run = common::Run::from(out);
    let message = json_error(run.fails_with(3), "invalid_input");
    assert!(message.contains("U+200B"), "{message}");
    assert!(!message.contains('\u{200B}'), "{message:?}");
}

#[test]
fn argument_errors_without_json_are_one_line_of_text_and_keep_their_exit_codes() {
    let db = TestDb::new();
    let line = one_line(db.run(&["coach", "list", "--bogus"]).fails_with(2)).to_string();
    assert!(
        line.starts_with("error: ") && line.contains("--bogus"),
        "{line}"
    );
    let line = one_line(db.run(&["coach", "show", "nope"]).fails_with(3)).to_string();
    assert!(line.contains("neither an id nor an email"), "{line}");
    // clap's tips stay, on the same line
    let line = one_line(db.run(&["coach", "lst"]).fails_with(2)).to_string();
    assert!(line.contains("similar subcommand exists: 'list'"), "{line}");
    let line = one_line(db.run(&["coach", "list", "--x\ny"]).fails_with(2)).to_string();
    assert!(line.contains("--x\\ny"), "{line}");
}

#[test]
fn help_and_version_print_normally_even_under_output_json() {
    let db = TestDb::new();
    let help = db.run(&["-o", "json", "coach", "--help"]);
    assert!(help.ok().contains("Usage:"), "{help:?}");
    let version = db.run(&["--version", "-o", "json"]);
    assert!(version.ok().starts_with("coachctl "), "{version:?}");
}

// ------------------------------------------------------------------ CSV

#[test]
fn csv_cells_that_a_spreadsheet_would_run_as_formulas_start_with_a_quote() {
    let db = TestDb::new();
    let names = [
        "=HYPERLINK(\"http://x\")",
        "+1+1",
        "-2+3",
        "@SUM(A1)",
        "Plain",
    ];
    for (i, name) in names.iter().enumerate() {
        member(&db, &format!("m{i}@example.com"), name).ok();
    }
    let csv = db.run(&["member", "list", "-o", "csv"]).ok().to_string();
    for name in &names[..4] {
        assert!(
            csv.contains(&format!(",'{name},"))
                || csv.contains(&format!(",\"'{}\",", name.replace('"', "\"\""))),
            "{name} is neutralised in:\n{csv}"
        );
    }
    assert!(csv.contains(",Plain,"), "{csv}");
    // Every cell of every row: nothing starts with a formula character.
    for line in csv.lines().skip(1) {
        for cell in line.split(',') {
            let cell = cell.trim_start_matches('"');
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{cell:?} in {line}"
            );
        }
    }
    // JSON is untouched.
    let json = db.run(&["member", "list", "-o", "json"]).json();
    let listed: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    for name in names {
        assert!(listed.contains(&name), "{name} in {listed:?}");
    }
}

// ---------------------------------------------------------------- dates

#[test]
fn dates_and_times_outside_1900_to_2199_exit_3() {
    let db = TestDb::new();
    common::ana_and_bo(&db);
    let cases: [&[&str]; 6] = [
        &[
            "slots",
            "--coach",
            "ana@example.com",
            "--from",
            "1899-12-31",
        ],
        &[
            "slots",
            "--coach",
            "ana@example.com",
            "--from",
            "2200-01-01",
        ],
        &[
            "availability",
            "block",
            "--coach",
            "ana@example.com",
            "--date",
            "0001-01-01",
        ],
        &[
            "book",
            "--coach",
            "ana@example.com",
            "--member",
            "bo@example.com",
            "--at",
            "2200-01-01T09:00",
        ],
        &[
            "book",
            "--coach",
            "ana@example.com",
            "--member",
            "bo@example.com",
            "--at",
            "1899-06-01T09:00:00Z",
        ],
        &["session", "list", "--from", "9999-01-01"],
    ];
    for args in cases {
        let line = one_line(db.run(args).fails_with(3)).to_string();
        assert!(line.contains("1900-2199"), "{args:?}: {line}");
    }
    db.run(&[
        "slots",
        "--coach",
        "ana@example.com",
        "--from",
        "2199-12-31",
    ])
    .ok();
}

// ------------------------------------------------- no driver or server text

/// A server that reads the startup message and hangs up without a word:
/// the driver then fails with "expected to read 5 bytes, got 0 bytes at EOF".
fn closing_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            read_startup(&mut stream);
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    });
    format!("postgres://u@127.0.0.1:{port}/db?sslmode=disable")
}

/// A server that answers the startup message with a FATAL error whose text
/// is a raw server log line.
fn refusing_server(sqlstate: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            read_startup(&mut stream);
            let mut body = Vec::new();
            for (field, value) in [
                (b'S', "FATAL"),
                (b'V', "FATAL"),
                (b'C', sqlstate),
                (
                    b'M',
                    "2026-11-22 10:00:00 UTC [4242] LOG:  raw server line for user \"u\"",
                ),
            ] {
                body.push(field);
                body.extend(value.as_bytes());
                body.push(0);
            }
            body.push(0);
            let mut msg = vec![b'E'];
            msg.extend(((body.len() + 4) as u32).to_be_bytes());
            msg.extend(body);
            let _ = stream.write_all(&msg);
        }
    });
    format!("postgres://u@127.0.0.1:{port}/db?sslmode=disable")
}

/// Read the client's startup message (a length, then that many bytes).
fn read_startup(stream: &mut std::net::TcpStream) {
    let mut len = [0u8; 4];
    if stream.read_exact(&mut len).is_ok() {
        let mut rest = vec![0u8; (u32::from_be_bytes(len) as usize).saturating_sub(4)];
        let _ = stream.read_exact(&mut rest);
    }
}

fn with_url(url: &str, args: &[&str]) -> common::Run {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_coachctl"))
        .env("DATABASE_URL", url)
        .env_remove("COACHCTL_AS")
        .env_remove("COACHCTL_OUTPUT")
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .expect("run coachctl");
    common::Run::from(out)
}

#[track_caller]
fn no_driver_text(line: &str) {
    for raw in [
        "expected to read",
        "bytes at EOF",
        "error communicating",
        "error returned from database",
        "os error",
        "LOG:",
        "[4242]",
        "raw server line",
    ] {
        assert!(!line.contains(raw), "{raw:?} reached the user: {line}");
    }
}

#[test]
fn a_server_that_closes_the_connection_is_reported_without_driver_text() {
    let url = closing_server();
    let run = with_url(&url, &["coach", "list"]);
    let line = one_line(run.fails_with(8)).to_string();
    no_driver_text(&line);
    assert!(line.contains("closed the connection"), "{line}");
}

#[test]
fn a_server_refusing_the_login_is_reported_in_a_sentence_not_its_log_line() {
    for (sqlstate, says) in [
        ("28P01", "password authentication failed"),
        ("28000", "refused the login"),
        ("3D000", "does not exist"),
    ] {
        let url = refusing_server(sqlstate);
        let run = with_url(&url, &["coach", "list"]);
        let line = one_line(run.fails_with(8)).to_string();
        no_driver_text(&line);
        assert!(line.contains(says), "{sqlstate}: {line}");
    }
}

// ------------------------------------------------------ time-off reasons

#[test]
fn time_off_reasons_are_seen_only_by_the_coach_and_admins() {
    let db = TestDb::new();
    let (c, m) = common::ana_and_bo(&db);
    db.run(&["member", "assign", &m, "--coach", &c]).ok();
    db.coach("cy").name("Cy Coach").create();
    let day = monday().to_string();
    db.run(&[
        "availability",
        "block",
        "--coach",
        "ana@example.com",
        "--date",
        &day,
        "--reason",
        "medical appointment",
    ])
    .ok();
    let blocks = |who: Option<&str>, format: &str| {
        let mut args = Vec::new();
        if let Some(who) = who {
            args.extend(["--as", who]);
        }
        args.extend([
            "availability",
            "blocks",
            "--coach",
            "ana@example.com",
            "-o",
            format,
        ]);
        db.run(&args).ok().to_string()
    };
    for who in [None, Some("ana@example.com")] {
        let json: Value = serde_json::from_str(&blocks(who, "json")).unwrap();
        assert_eq!(json[0]["reason"], "medical appointment", "{who:?}");
        assert!(
            blocks(who, "csv")
                .lines()
                .next()
                .unwrap()
                .contains("reason")
        );
    }
    for who in ["bo@example.com", "cy@example.com"] {
        let json: Value = serde_json::from_str(&blocks(Some(who), "json")).unwrap();
        assert_eq!(json[0]["first_day"], day.as_str(), "{who} sees the date");
        assert!(
            json[0].get("reason").is_none(),
            "{who} sees no reason key: {json}"
        );
        for format in ["csv", "table"] {
            let out = blocks(Some(who), format);
            assert!(!out.contains("reason"), "{who} {format}:\n{out}");
            assert!(!out.contains("medical"), "{who} {format}:\n{out}");
        }
    }
}

// ------------------------------------------------------------- contract

#[test]
fn book_ids_print_the_session_id_that_session_cancel_takes() {
    let db = TestDb::new();
    ana_with_monday_mornings(&db);
    let at = format!("{}T09:00", monday());
    let s = db.booked("ana", "bo", &at);
    assert_eq!(
        db.scalar::<String>("SELECT id::text FROM sessions"),
        s,
        "the id printed is the session's"
    );
    let cancelled = db
        .run(&[
            "session", "cancel", &s, "--reason", "sick", "--yes", "-o", "json",
        ])
        .json();
    assert_eq!(cancelled["id"], s.as_str());
    assert_eq!(cancelled["status"], "cancelled");
}

#[test]
fn book_json_carries_the_session_id_as_id() {
    let db = TestDb::new();
    ana_with_monday_mornings(&db);
    let at = format!("{}T10:15", monday());
    let b = db.book_with("ana", "bo", &at, &["-o", "json"]).json();
    assert_eq!(b["id"], b["session_id"], "{b}");
    assert!(
        b["booking_id"].is_string() && b["booking_id"] != b["id"],
        "{b}"
    );
    assert_eq!(b["status"], "confirmed");
    assert!(b["start"].is_string() && b["end"].is_string(), "{b}");
    let shown = db.run(&["session", "show", b["id"].as_str().unwrap(), "-o", "json"]);
    assert_eq!(shown.json()["id"], b["id"]);
}
