//! Tables at 80 columns: the exact layout of every list a person reads.
//! Times are fixed (a Monday in 2031, shown in Europe/Berlin), stdout is a
//! pipe (no terminal size: the 80-column default), and ids, which are
//! random, are filled into the expected text.

mod common;

use common::TestDb;

const DAY: &str = "2031-03-31"; // a Monday

fn short(id: &str) -> &str {
    &id[..8]
}

/// Every line of a table fits `width` display columns.
fn assert_fits(out: &str, width: usize) {
    for line in out.lines() {
        assert!(
            line.chars().count() <= width,
            "a line is wider than {width} columns ({}):\n{line}\n---\n{out}",
            line.chars().count()
        );
    }
}

/// Ana (Berlin) with Bo assigned, Monday mornings open, and three booked
/// sessions: two on the first Monday, one a week later. Returns the
/// session ids in start order.
fn booked(db: &TestDb) -> Vec<String> {
    common::ana_with_monday_mornings(db);
    let book = |at: &str| db.booked("ana", "bo", at);
    vec![
        book(&format!("{DAY}T09:00")),
        book(&format!("{DAY}T10:15")),
        book("2031-04-07T09:00"),
    ]
}

fn run(db: &TestDb, args: &[&str]) -> String {
    let out = db
        .cmd()
        .env_remove("COLUMNS")
        .args(args)
        .output()
        .expect("run coachctl");
    common::Run::from(out).ok().to_string()
}

#[test]
fn a_coach_reads_sessions_as_agenda_rows_grouped_by_day_with_the_zone_named_once() {
    let db = TestDb::new();
    let s = booked(&db);
    let out = run(
        &db,
        &[
            "--as",
            "ana@example.com",
            "--tz",
            "Europe/Berlin",
            "session",
            "list",
        ],
    );
    let expected = format!(
        "2031 · times in Europe/Berlin
Mon 31 Mar  09:00–10:00  Bo Member  scheduled  {}
            10:15–11:15  Bo Member  scheduled  {}

Mon  7 Apr  09:00–10:00  Bo Member  scheduled  {}
",
        short(&s[0]),
        short(&s[1]),
        short(&s[2])
    );
    assert_eq!(out, expected);
}

#[test]
fn a_member_reads_their_sessions_by_coach_name_and_an_admin_by_both() {
    let db = TestDb::new();
    let s = booked(&db);
    let member = run(
        &db,
        &[
            "--as",
            "bo@example.com",
            "--tz",
            "Europe/Berlin",
            "session",
            "list",
        ],
    );
    assert!(
        member.contains(&format!(
            "Mon 31 Mar  09:00–10:00  Ana Coach  scheduled  {}",
            short(&s[0])
        )),
        "{member}"
    );
    let admin = run(&db, &["--tz", "Europe/Berlin", "session", "list"]);
    assert!(
        admin.contains(&format!(
            "Mon 31 Mar  09:00–10:00  Bo Member with Ana Coach  scheduled  {}",
            short(&s[0])
        )),
        "{admin}"
    );
    assert_fits(&admin, 80);
}

#[test]
fn sessions_in_another_zone_show_that_zone_s_local_times() {
    let db = TestDb::new();
    booked(&db);
    let out = run(&db, &["--tz", "America/New_York", "session", "list"]);
    assert!(
        out.starts_with("2031 · times in America/New_York\n"),
        "{out}"
    );
    assert!(out.contains("Mon 31 Mar  03:00–04:00  "), "{out}");
}

#[test]
fn slots_are_agenda_rows_with_what_is_free() {
    let db = TestDb::new();
    booked(&db);
    let out = run(
        &db,
        &[
            "slots",
            "--coach",
            "ana@example.com",
            "--from",
            DAY,
            "--days",
            "1",
        ],
    );
    assert_eq!(
        out,
        "2031 · times in Europe/Berlin
Mon 31 Mar  09:00–10:00  2 of 3 free
            10:15–11:15  2 of 3 free
"
    );
}

#[test]
fn people_lists_show_name_email_status_and_an_8_digit_id() {
    let db = TestDb::new();
    let (c, m) = common::ana_and_bo(&db);
    db.run(&["member", "assign", &m, "--coach", &c]).ok();
    let coaches = run(&db, &["coach", "list"]);
    assert_eq!(
        coaches,
        format!(
            "name       email            members  status     id
Ana Coach  ana@example.com  1/2      accepting  {}
",
            short(&c)
        )
    );
    let members = run(&db, &["member", "list"]);
    assert_eq!(
        members,
        format!(
            "name       email           status  id
Bo Member  bo@example.com  active  {}
",
            short(&m)
        )
    );
}

#[test]
fn long_names_and_emails_are_cut_with_an_ellipsis_to_fit_80_columns() {
    let db = TestDb::new();
    let long_name = "Maximiliane Konstantinopoulou-Vandenberghe de la Fuente y Montenegro";
    let long_email =
        "maximiliane.konstantinopoulou.vandenberghe@an-exceedingly-long-domain.example.com";
    let id = db.member(long_email).name(long_name).create();
    let out = run(&db, &["member", "list"]);
    assert_fits(&out, 80);
    let row = out.lines().nth(1).unwrap();
    assert!(row.contains('…'), "{out}");
    assert!(row.ends_with(&format!("active  {}", short(&id))), "{out}");
    assert_eq!(row.chars().count(), 80, "{out}");
}

#[test]
fn the_columns_variable_sets_the_table_width() {
    let db = TestDb::new();
    let long_name = "Maximiliane Konstantinopoulou-Vandenberghe de la Fuente y Montenegro";
    db.member("max").name(long_name).create();
    let out = db
        .cmd()
        .env("COLUMNS", "50")
        .args(["member", "list"])
        .output()
        .unwrap();
    let out = common::Run::from(out).ok().to_string();
    assert_fits(&out, 50);
    assert!(out.contains('…') && !out.contains(long_name), "{out}");
}

#[test]
fn show_lists_name_and_email_first_and_the_id_whole_at_the_end() {
    let db = TestDb::new();
    let (c, _) = common::ana_and_bo(&db);
    let out = run(&db, &["coach", "show", "ana@example.com"]);
    assert_fits(&out, 80);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("name ") && lines[0].ends_with("  Ana Coach"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("email ") && lines[1].ends_with("  ana@example.com"),
        "{out}"
    );
    assert!(lines.last().unwrap().starts_with("id "), "{out}");
    assert!(lines.last().unwrap().ends_with(&c), "{out}");
}

#[test]
fn a_session_shown_names_its_times_with_their_zone() {
    let db = TestDb::new();
    let s = booked(&db);
    let out = run(&db, &["--tz", "Europe/Berlin", "session", "show", &s[0]]);
    assert_fits(&out, 80);
    assert!(
        out.lines()
            .any(|l| l.starts_with("start ") && l.ends_with("Mon 31 Mar 2031, 09:00 CEST")),
        "{out}"
    );
}

#[test]
fn wide_output_adds_every_column_with_whole_ids() {
    let db = TestDb::new();
    let s = booked(&db);
    let out = run(&db, &["-o", "wide", "session", "list"]);
    for col in [
        "coach email",
        "member email",
        "session type",
        "created at",
        "sequence",
    ] {
        assert!(out.contains(col), "{col}: {out}");
    }
    assert!(out.contains(&s[0]), "{out}");
}

#[test]
fn other_lists_fit_80_columns_with_short_ids_and_the_zone_in_a_heading() {
    let db = TestDb::new();
    booked(&db);
    let audit = run(&db, &["--tz", "Europe/Berlin", "audit", "list"]);
    assert_fits(&audit, 80);
    assert!(audit.starts_with("Times in Europe/Berlin\n"), "{audit}");
    // a date a person reads, not ISO: `Mon  7 Dec, 23:31`
    let row = audit.lines().nth(2).unwrap_or_default();
    let at: Vec<&str> = row.split_whitespace().take(4).collect();
    assert!(
        at.len() == 4
            && at[0].len() == 3
            && at[0].chars().all(|c| c.is_ascii_alphabetic())
            && at[2].len() == 4
            && at[2].ends_with(',')
            && at[3].len() == 5,
        "{audit}"
    );
    let windows = run(&db, &["availability", "list"]);
    assert_fits(&windows, 80);
    let notify = run(&db, &["notify", "list"]);
    assert_fits(&notify, 80);
    // no line holds a whole uuid
    for out in [&audit, &windows, &notify] {
        assert!(
            !out.split_whitespace()
                .any(|w| uuid::Uuid::parse_str(w).is_ok()),
            "{out}"
        );
    }
}

#[test]
fn the_demo_reads_well_in_80_columns() {
    let db = TestDb::new();
    let out = run(&db, &["demo"]);
    assert_fits(&out, 80);
    // the hints on stderr are read at the same terminal
    let hints = db.cmd().env_remove("COLUMNS").arg("demo").output().unwrap();
    let hints = String::from_utf8(hints.stderr).unwrap();
    // (the first line names the database: the test's URL is long)
    let tries = hints
        .split_once("Try: ")
        .map(|(_, t)| t)
        .unwrap_or_default();
    assert!(tries.contains("notify list"), "{hints}");
    assert_fits(&format!("Try: {tries}"), 80);
    let lines: Vec<&str> = out.lines().collect();
    let at = lines
        .iter()
        .position(|l| *l == "Ana Berger <ana.berger@example.com>")
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        lines[at + 1].starts_with("Strength training · Europe/Berlin · ")
            && lines[at + 1].ends_with(" free"),
        "{out}"
    );
    let header: Vec<&str> = lines[at + 2].split_whitespace().collect();
    assert_eq!(header, ["name", "email", "status", "id"], "{out}");
    let bo: Vec<&str> = lines[at + 3].split_whitespace().collect();
    assert_eq!(
        &bo[..4],
        ["Bo", "Lind", "bo.lind@example.com", "active"],
        "{out}"
    );
    assert!(out.contains("Sessions in the next 7 days:\n"), "{out}");
    assert!(out.contains("Next open slots:\n"), "{out}");
}

#[test]
fn status_reports_are_key_value_lines_without_a_box() {
    let db = TestDb::new();
    let status = run(&db, &["db", "status"]);
    assert!(!status.contains('│') && !status.contains('┌'), "{status}");
    let keys: Vec<&str> = status
        .lines()
        .map(|l| l.split("  ").next().unwrap_or_default())
        .collect();
    assert!(keys.contains(&"schema version"), "{status}");
    assert!(keys.contains(&"state"), "{status}");
}

#[test]
fn messages_read_as_time_sender_and_text_with_new_ones_marked() {
    let db = TestDb::new();
    common::ana_with_monday_mornings(&db);
    let id = db
        .run_as(
            "ana",
            &[
                "message",
                "send",
                "--to",
                "bo@example.com",
                "--text",
                "Running ten minutes late, start without warming up too hard",
                "-o",
                "ids",
            ],
        )
        .id();
    common::runtime().block_on(async {
        let pool = db.pool().await;
        sqlx::query("UPDATE messages SET sent_at = '2031-03-31 07:05:00+00'")
            .execute(&pool)
            .await
            .unwrap();
    });
    let out = run(
        &db,
        &[
            "--as",
            "bo@example.com",
            "--tz",
            "Europe/Berlin",
            "message",
            "list",
        ],
    );
    assert_fits(&out, 80);
    assert_eq!(
        out,
        format!(
            "Times in Europe/Berlin\n\
             sent                    from             text                           id\n\
             Mon 31 Mar 2031, 09:05  ana@example.com  Running ten minutes lat…  new  {}\n",
            short(&id)
        )
    );
}

/// `s` without its SGR escapes (`\x1b[..m`).
fn plain(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn statuses_days_and_headers_take_colour_when_asked_and_the_table_lines_up_as_without() {
    let db = TestDb::new();
    let s = booked(&db);
    db.run(&["session", "cancel", &s[1], "--reason", "ill", "--yes"])
        .ok();
    for args in [
        &["--tz", "Europe/Berlin", "session", "list", "--all"][..],
        &["coach", "list"][..],
    ] {
        let mut coloured = vec!["--color", "always"];
        coloured.extend_from_slice(args);
        let with = run(&db, &coloured);
        let mut never = vec!["--color", "never"];
        never.extend_from_slice(args);
        let without = run(&db, &never);
        assert!(!without.contains('\x1b'), "{without}");
        // piped with the default (auto): no escapes either
        assert!(!run(&db, args).contains('\x1b'));
        assert!(with.contains('\x1b'), "{with}");
        assert_eq!(plain(&with), without, "the colours move nothing");
        assert_fits(&plain(&with), 80);
    }
    let sessions = run(
        &db,
        &[
            "--color",
            "always",
            "--tz",
            "Europe/Berlin",
            "session",
            "list",
            "--all",
        ],
    );
    assert!(sessions.contains("\x1b[32mscheduled\x1b[0m"), "{sessions}");
    assert!(sessions.contains("\x1b[31mcancelled\x1b[0m"), "{sessions}");
    assert!(sessions.contains("\x1b[1mMon 31 Mar\x1b[0m"), "{sessions}");
    let coaches = run(&db, &["--color", "always", "coach", "list"]);
    assert!(coaches.starts_with("\x1b[1mname\x1b[0m"), "{coaches}");
    assert!(coaches.contains("\x1b[32maccepting\x1b[0m"), "{coaches}");
}

/// Run coachctl on a pseudo-terminal (util-linux `script`), as a person
/// at a terminal would; the output with `\r\n` made `\n`.
fn on_terminal(db: &TestDb, args: &[&str]) -> String {
    let inner = db.cmd();
    let mut c = std::process::Command::new("script");
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    let line = std::iter::once(env!("CARGO_BIN_EXE_coachctl"))
        .chain(args.iter().copied())
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let out = c
        .args(["-qec", &line, "/dev/null"])
        .env("COLUMNS", "80")
        .output()
        .expect("run script");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n")
}

#[test]
fn a_json_list_on_a_terminal_is_indented_and_the_same_value_as_in_a_pipe() {
    let db = TestDb::new();
    booked(&db);
    for args in [
        &["coach", "list", "-o", "json"][..],
        &["session", "list", "-o", "json"][..],
    ] {
        let shown = on_terminal(&db, args);
        assert!(shown.starts_with("[\n  {\n    \""), "{shown}");
        assert!(shown.ends_with("\n  }\n]\n"), "{shown}");
        let piped = run(&db, args);
        assert_eq!(piped.lines().count(), 1, "a pipe gets one line: {piped}");
        let a: serde_json::Value = serde_json::from_str(&shown).expect("terminal JSON");
        let b: serde_json::Value = serde_json::from_str(&piped).expect("piped JSON");
        assert_eq!(a, b);
    }
}

#[test]
fn an_operator_viewing_a_new_york_coach_reads_the_times_as_the_coach_typed_them() {
    let db = TestDb::new();
    db.run(&[
        "coach",
        "create",
        "--email",
        "ny@example.com",
        "--name",
        "Nia York",
        "--timezone",
        "America/New_York",
    ])
    .ok();
    db.run(&[
        "member",
        "create",
        "--email",
        "bo@example.com",
        "--name",
        "Bo Member",
    ])
    .ok();
    db.run(&[
        "member",
        "assign",
        "bo@example.com",
        "--coach",
        "ny@example.com",
    ])
    .ok();
    common::window(&db, "ny@example.com", "mon", ("09:00", "12:00"), 60, 15, 1);
    let id = db
        .run(&[
            "book",
            "--coach",
            "ny@example.com",
            "--member",
            "bo@example.com",
            "--at",
            &format!("{DAY}T09:00"),
            "-o",
            "ids",
        ])
        .id();
    // the operator's machine is in UTC: without the coach's zone it would say 13:00
    let as_operator = |args: &[&str]| {
        let out = db.cmd().env("TZ", "UTC").args(args).output().expect("run");
        common::Run::from(out).ok().to_string()
    };
    let list = as_operator(&["session", "list", "--coach", "ny@example.com"]);
    assert!(
        list.starts_with("2031 · times in America/New_York\n"),
        "{list}"
    );
    assert!(list.contains("Mon 31 Mar  09:00–10:00"), "{list}");
    assert_eq!(
        list.matches("New_York").count(),
        1,
        "the zone named once: {list}"
    );
    let show = as_operator(&["session", "show", &id]);
    assert!(
        show.lines()
            .any(|l| l.starts_with("start ") && l.ends_with("Mon 31 Mar 2031, 09:00 EDT")),
        "{show}"
    );
    // --tz still wins
    let berlin = as_operator(&["--tz", "Europe/Berlin", "session", "show", &id]);
    assert!(berlin.contains("Mon 31 Mar 2031, 15:00 CEST"), "{berlin}");
    // and a view of everyone keeps the operator's zone
    let all = as_operator(&["session", "list"]);
    assert!(
        all.contains("times in UTC") && all.contains("13:00–14:00"),
        "{all}"
    );
}
