//! At 80 columns every view keeps the column it exists for (issue 24
//! item 2): ids, timestamps and counters give way first, free text after,
//! and no line is longer than the terminal.

mod common;

use common::TestDb;

/// Run at an 80-column terminal's width and return stdout.
fn at_80(db: &TestDb, args: &[&str]) -> String {
    let out = db
        .cmd()
        .env("COLUMNS", "80")
        .args(args)
        .output()
        .expect("run coachctl");
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).expect("utf-8")
}

fn assert_fits(text: &str) {
    for line in text.lines() {
        assert!(
            line.chars().count() <= 80,
            "a line wider than 80 columns:\n{line}\nin:\n{text}"
        );
    }
}

/// Ana with a member whose name and email are long, and some history.
fn org(db: &TestDb) -> String {
    let (c, _m) = common::ana_and_bo(db);
    let long = "bartholomew.featherstonehaugh-wolfeschlegel@example.com";
    db.member(long)
        .name("Bartholomew Featherstonehaugh-Wolfeschlegelsteinhausenberger")
        .assigned_to(&c)
        .create();
    db.run(&[
        "invite",
        "send",
        "--coach",
        "ana@example.com",
        "--email",
        "someone.with.a.rather.long.address@example.com",
    ])
    .ok();
    long.to_string()
}

#[test]
fn audit_list_keeps_each_action_whole_at_80_columns() {
    let db = TestDb::new();
    org(&db);
    let text = at_80(&db, &["audit", "list"]);
    assert_fits(&text);
    assert!(text.contains("invitation.send"), "{text}");
    assert!(!text.contains("invitation.se…"), "{text}");
}

#[test]
fn notify_list_keeps_each_event_whole_and_invite_list_each_email() {
    let db = TestDb::new();
    org(&db);
    let notices = at_80(&db, &["notify", "list"]);
    assert_fits(&notices);
    assert!(notices.contains("member.assigned"), "{notices}");
    assert!(
        !notices.contains('…') || !notices.contains("member.assig…"),
        "{notices}"
    );
    let invites = at_80(&db, &["invite", "list"]);
    assert_fits(&invites);
    assert!(
        invites.contains("someone.with.a.rather.long.address@example.com"),
        "{invites}"
    );
}

#[test]
fn the_coach_dashboard_cuts_a_long_name_instead_of_wrapping() {
    let db = TestDb::new();
    let long = org(&db);
    common::window(&db, "ana@example.com", "mon", ("09:00", "12:00"), 60, 15, 3);
    let monday = common::monday().to_string();
    // a proposal: the dashboard lists those whatever their date
    db.run_as(
        "ana",
        &[
            "session",
            "create",
            "--member",
            &long,
            "--at",
            &format!("{monday}T09:00"),
        ],
    )
    .ok();
    let text = at_80(&db, &["--as", "ana@example.com", "coach", "dashboard"]);
    assert_fits(&text);
    assert!(text.contains("Bartholomew Featherston…"), "{text}");
}

#[test]
fn config_show_reads_as_key_value_lines_with_their_source() {
    let db = TestDb::new();
    let text = at_80(&db, &["config", "show"]);
    assert!(
        text.lines()
            .any(|l| l.starts_with("output = table") && l.ends_with("# default")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("database = postgres") && l.contains("# env DATABASE_URL")),
        "{text}"
    );
}

#[test]
fn db_status_puts_a_long_url_whole_on_a_line_of_its_own() {
    let db = TestDb::new();
    let text = at_80(&db, &["db", "status"]);
    let url_line = text
        .lines()
        .find(|l| l.contains("postgres://"))
        .unwrap_or_else(|| panic!("no URL in:\n{text}"));
    if url_line.chars().count() > 80 {
        // too long for any line: alone, indented, whole
        assert!(url_line.starts_with("  postgres://"), "{text}");
    }
    assert!(!text.contains('…'), "{text}");
}

#[test]
fn a_seed_dry_run_shows_each_difference_on_its_own_line_within_80_columns() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("org.toml");
    let write = |spec: &str, capacity: u32| {
        std::fs::write(
            &file,
            format!(
                "[[coach]]\nemail = \"ana@example.com\"\nname = \"Ana Coach\"\n\
                 specialization = \"{spec}\"\n\n  [[coach.availability]]\n  day = \"mon\"\n\
                 start = \"09:00\"\n  end = \"12:00\"\n  capacity = {capacity}\n"
            ),
        )
        .expect("write");
    };
    write("Strength", 1);
    let path = file.to_str().expect("utf-8");
    db.run(&["seed", path]).ok();
    write(
        "Strength and conditioning for athletes of every age who train all year",
        4,
    );
    let text = at_80(&db, &["seed", path, "--update", "--dry-run"]);
    assert_fits(&text);
    assert!(
        text.lines().any(|l| l.trim() == "capacity: 1 -> 4"),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l
            .trim_start()
            .starts_with("specialization: \"Strength\" -> ")),
        "{text}"
    );
    assert!(!text.contains("[\""), "no JSON arrays: {text}");
}
