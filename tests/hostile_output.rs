//! Stored control characters never reach a terminal (issue 18, item 5).
//! Input refuses them, but text written by an older version or by direct
//! SQL may hold ESC, BEL, an OSC 52 clipboard write, a C1 CSI, a bidi
//! override or a zero-width space. Every list, show, dashboard and export
//! in every format for people and spreadsheets shows them neutralised;
//! JSON keeps the exact text (escaped by JSON itself).

mod common;

use common::{Run, TestDb};

/// Everything at once: SGR red, BEL, OSC 52 (set the clipboard), a bidi
/// override and an isolate, zero-width space and no-break space, the C1
/// CSI `\u{9b}` (clear the screen), DEL, CR LF, a tab, a line separator.
const HOSTILE: &str = "Bo\u{1b}[31mRed\u{7}\u{1b}]52;c;cHduZWQ=\u{7}\u{202e}evil\u{2066}x\u{2069}\u{200b}zw\u{feff}\u{9b}2J\u{7f}\r\nline two\tend\u{2028}";

/// What may not reach stdout raw: C0 and C1 controls (a newline aside),
/// DEL, bidirectional controls, zero-width and separator characters.
fn forbidden(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(c,
            '\u{061C}' | '\u{200B}' | '\u{200E}' | '\u{200F}' | '\u{2028}' | '\u{2029}'
            | '\u{202A}'..='\u{202E}' | '\u{2060}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// No forbidden character in `out`; in a CRLF format (ICS), a CR only
/// before its LF.
#[track_caller]
fn assert_clean(what: &str, out: &str, crlf: bool) {
    let chars: Vec<char> = out.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if *c == '\r' && crlf && chars.get(i + 1) == Some(&'\n') {
            continue;
        }
        assert!(
            !forbidden(*c),
            "{what}: U+{:04X} reached the output at char {i}: {out:?}",
            u32::from(*c)
        );
    }
}

/// Whether any string of a JSON document is exactly `HOSTILE`.
fn holds_exact(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => s == HOSTILE,
        serde_json::Value::Array(a) => a.iter().any(holds_exact),
        serde_json::Value::Object(m) => m.values().any(holds_exact),
        _ => false,
    }
}

fn exec(db: &TestDb, sql: &'static str) {
    common::runtime().block_on(async {
        let pool = db.pool().await;
        sqlx::query(sql)
            .bind(HOSTILE)
            .execute(&pool)
            .await
            .expect(sql);
        pool.close().await;
    });
}

/// Ana coaches Bo; a session booked, a note on it, a message each way;
/// then every stored text is overwritten by SQL with `HOSTILE`. Returns
/// the session id.
fn hostile_org(db: &TestDb) -> String {
    common::ana_with_monday_mornings(db);
    let day = common::monday();
    let id = db.booked("ana", "bo", &format!("{day}T09:00"));
    db.run(&["session", "note", &id, "--text", "plain"]).ok();
    for (from, to) in [
        ("ana@example.com", "bo@example.com"),
        ("bo@example.com", "ana@example.com"),
    ] {
        db.run_as(from, &["message", "send", "--to", to, "--text", "hi"])
            .ok();
    }
    for sql in [
        "UPDATE users SET name = $1",
        "UPDATE member_profiles SET goals = $1, health_info = $1, coach_notes = $1",
        "UPDATE coach_profiles SET specialization = $1, bio = $1",
        "UPDATE session_notes SET body = $1",
        "UPDATE messages SET body = $1",
        "UPDATE sessions SET member_notes = $1",
    ] {
        exec(db, sql);
    }
    id
}

struct Check<'a> {
    db: &'a TestDb,
}

/// coachctl at a width that cuts nothing, so the text can be looked for.
fn wide_run(db: &TestDb, args: &[&str]) -> Run {
    Run::from(
        db.cmd()
            .env("COLUMNS", "2000")
            .args(args)
            .output()
            .expect("run coachctl"),
    )
}

impl Check<'_> {
    /// Run `args` in every format: nothing forbidden on stdout or stderr;
    /// when `shows_text`, the hostile text visible (neutralised) in tables,
    /// exact in JSON.
    #[track_caller]
    fn every_format(&self, args: &[&str], shows_text: bool) {
        for format in ["table", "wide", "csv", "json", "ids"] {
            let mut a = args.to_vec();
            a.extend(["-o", format]);
            let run = wide_run(self.db, &a);
            let what = a.join(" ");
            let out = run.ok();
            assert_clean(&what, out, false);
            assert_clean(&format!("{what} (stderr)"), &run.stderr, false);
            if !shows_text {
                continue;
            }
            match format {
                "json" => {
                    let v = run.json();
                    assert!(holds_exact(&v), "{what}: the exact text is lost: {v}");
                }
                // CSV has a list's columns only, which may hold no text
                "ids" | "csv" => {}
                _ => assert!(out.contains("evil"), "{what}: the text is not shown: {out}"),
            }
        }
    }

    #[track_caller]
    fn raw(&self, args: &[&str], crlf: bool) -> Run {
        let run = wide_run(self.db, args);
        run.ok();
        assert_clean(&args.join(" "), &run.stdout, crlf);
        assert_clean(&format!("{} (stderr)", args.join(" ")), &run.stderr, false);
        run
    }
}

#[test]
fn stored_escape_sequences_and_bidi_controls_are_neutralised_in_every_list_show_and_format() {
    let db = TestDb::new();
    let id = hostile_org(&db);
    let check = Check { db: &db };
    let bo = ["--as", "bo@example.com"];
    let ana = ["--as", "ana@example.com"];
    let cat = |who: &[&str], args: &[&str]| -> Vec<String> {
        who.iter().chain(args).map(|s| s.to_string()).collect()
    };
    let lists: Vec<(Vec<String>, bool)> = vec![
        (cat(&[], &["member", "list"]), true),
        (cat(&[], &["member", "show", "bo@example.com"]), true),
        (cat(&ana, &["member", "show", "bo@example.com"]), true),
        (cat(&bo, &["member", "show", "bo@example.com"]), true),
        (cat(&[], &["coach", "list"]), true),
        (cat(&[], &["coach", "show", "ana@example.com"]), true),
        (cat(&[], &["session", "list"]), false),
        (cat(&ana, &["session", "list"]), true),
        (cat(&bo, &["session", "list"]), true),
        (cat(&[], &["session", "show", &id]), true),
        (cat(&ana, &["message", "list"]), true),
        (cat(&bo, &["message", "list"]), true),
        (cat(&[], &["member", "history", "bo@example.com"]), false),
        (cat(&[], &["audit", "list"]), false),
        (cat(&[], &["notify", "list"]), false),
        (
            cat(&[], &["availability", "list", "--coach", "ana@example.com"]),
            false,
        ),
        (cat(&ana, &["coach", "dashboard"]), true),
        (cat(&bo, &["member", "dashboard"]), true),
        (cat(&[], &["member", "export"]), true),
    ];
    for (args, shows_text) in &lists {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        check.every_format(&args, *shows_text);
    }

    // the roster file as a spreadsheet opens it, and back in as JSON
    let export = check.raw(&["member", "export"], false);
    assert!(export.stdout.contains("evil"), "{}", export.stdout);
    // the ICS feed: CRLF line ends only, the names there without the controls
    for who in [&[][..], &bo[..], &ana[..]] {
        let mut args = who.to_vec();
        args.extend(["session", "export", "--ics"]);
        let ics = check.raw(&args, true);
        assert!(ics.stdout.contains("evil"), "{}", ics.stdout);
    }
}

#[test]
fn a_name_that_sets_the_clipboard_shows_as_its_escape_in_a_table() {
    let db = TestDb::new();
    hostile_org(&db);
    let shown = wide_run(&db, &["member", "show", "bo@example.com"]);
    let name = shown.ok().lines().next().unwrap_or_default().to_string();
    assert!(
        name.contains("\\u{001b}]52;c;cHduZWQ=\\u{0007}\\u{202e}evil"),
        "{name:?}"
    );
    // CSV keeps the line break of the text, in quotes, and nothing else
    let csv = db.run(&["member", "list", "-o", "csv"]);
    assert!(
        csv.ok().contains("\\u{000d}\nline two end"),
        "{}",
        csv.stdout
    );
}
