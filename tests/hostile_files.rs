//! Hostile files never abort the program (issue 18, item 4): the seed
//! reader (TOML and JSON) and the roster CSV reader are fed arbitrary bytes
//! and mutated valid files, and always answer with what they read or with
//! errors of one line each; never a panic, never a stack overflow. The
//! deep and the duplicated JSON of the issue are also run through the real
//! binary.

mod common;

use std::path::PathBuf;

use common::TestDb;
use proptest::prelude::*;

const ORG_TOML: &str = include_str!("../examples/org.toml");

/// The example organisation in JSON.
const ORG_JSON: &str = r#"{
  "coach": [
    {"email": "ana@example.com", "name": "Ana Coach", "timezone": "Europe/Berlin",
     "max_members": 5, "specialization": "Strength training",
     "availability": [
       {"day": "mon", "start": "09:00", "end": "12:00", "length": 60, "buffer": 15, "capacity": 3},
       {"day": "wed", "start": "14:00", "end": "18:00"}
     ],
     "block": [{"date": "2030-03-08", "reason": "holiday"}]},
    {"email": "marcus@example.com", "name": "Marcus Hill", "timezone": "America/New_York",
     "availability": [{"day": "tue", "start": "08:00", "end": "10:00", "length": 45, "buffer": 15, "capacity": 2}],
     "block": [{"date": "2030-12-23", "to": "2030-12-31"}]}
  ],
  "member": [
    {"email": "bo@example.com", "name": "Bo Member", "timezone": "Europe/Stockholm",
     "coach": "ana@example.com", "goals": "Deadlift 150 kg"},
    {"email": "clara@example.com", "name": "Clara Vogt", "coach": "ana@example.com"}
  ],
  "booking": [
    {"coach": "ana@example.com", "member": "bo@example.com", "at": "2030-03-04T09:00"},
    {"coach": "ana@example.com", "member": "clara@example.com", "at": "2030-03-04T09:00", "notes": "first visit"}
  ]
}"#;

const ROSTER: &str = "email,name,goals,timezone,coach,membership_status\r\n\
bo@example.com,Bo Lind,\"Deadlift, 150 kg\nand more\",Europe/Stockholm,ana@example.com,active\r\n\
cy@example.com,Cy,,UTC,,paused\r\n\
\r\n\
'=dee@example.com,Dee,'=1+1,,,\r\n";

fn one_line(s: &str) -> bool {
    !s.is_empty() && !s.contains(['\n', '\r'])
}

fn lines_in(text: &[u8]) -> usize {
    text.iter().filter(|b| **b == b'\n').count() + 1
}

/// What a seed file gives: the declarations, or problems that each name a
/// line of the file and read as one line, as does the error they make.
fn check_seed(name: &str, text: &str) -> Result<(), TestCaseError> {
    match coachctl::seed::parse(name, text) {
        Ok(_) => {}
        Err(problems) => {
            prop_assert!(!problems.items.is_empty());
            for p in &problems.items {
                prop_assert!(p.line <= lines_in(text.as_bytes()), "{p:?} of {text:?}");
            }
            let e = problems.into_error();
            prop_assert_eq!(e.kind().exit_code(), 3);
            prop_assert!(one_line(&e.to_string()), "{e}");
        }
    }
    Ok(())
}

/// What a roster file gives: rows and bad rows, each bad row one line with
/// its line number; or one error of one line.
fn check_roster(bytes: &[u8]) -> Result<(), TestCaseError> {
    match coachctl::roster::csv_file::parse(bytes) {
        Ok(parsed) => {
            for e in &parsed.errors {
                prop_assert!(one_line(&e.message), "{e:?}");
                prop_assert!(e.line >= 1 && e.line as usize <= lines_in(bytes), "{e:?}");
            }
            for r in &parsed.rows {
                prop_assert!(r.line >= 1 && r.line as usize <= lines_in(bytes));
            }
        }
        Err(e) => {
            prop_assert_eq!(e.kind().exit_code(), 3);
            prop_assert!(one_line(&e.to_string()), "{e}");
        }
    }
    Ok(())
}

/// One change to a file: overwrite, insert or delete a byte, repeat or cut
/// a stretch of it, or nest lists deep where a value goes.
#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Repeat(usize, usize, u8),
    Truncate(usize),
    /// After the k-th `:` or `=`, a list nested n deep, and a new key for
    /// the value that was there: the file stays valid, only deep.
    Nest(usize, usize),
}

/// Bytes that matter to the formats more often than chance would pick them.
fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        any::<u8>(),
        prop::sample::select(b"{}[]\",:=#\\\n\r\t '.-0123456789eE+tfn\x00\x1b\xff".to_vec()),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), interesting_byte()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), interesting_byte()).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), 1usize..200, 1u8..20).prop_map(|(i, n, k)| Edit::Repeat(i, n, k)),
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), prop_oneof![1usize..200, 1usize..20_000])
            .prop_map(|(k, n)| Edit::Nest(k, n)),
    ]
}

fn mutate(base: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut v = base.to_vec();
    for e in edits {
        let len = v.len().max(1);
        match *e {
            Edit::Set(i, b) if !v.is_empty() => v[i % len] = b,
            Edit::Insert(i, b) => v.insert(i % (v.len() + 1), b),
            Edit::Delete(i) if !v.is_empty() => {
                v.remove(i % len);
            }
            Edit::Repeat(i, n, k) if !v.is_empty() => {
                let start = i % len;
                let end = (start + n).min(v.len());
                let piece = v[start..end].to_vec();
                for _ in 0..k {
                    v.splice(start..start, piece.iter().copied());
                }
            }
            Edit::Truncate(i) => v.truncate(i % (v.len() + 1)),
            Edit::Nest(k, n) => {
                let marks: Vec<usize> = (0..v.len())
                    .filter(|i| matches!(v[*i], b':' | b'='))
                    .collect();
                if marks.is_empty() {
                    continue;
                }
                let at = marks[k % marks.len()];
                let deep = format!("{}{}", "[".repeat(n), "]".repeat(n));
                let piece = if v[at] == b':' {
                    format!("{deep},\"nest{k}\":")
                } else {
                    format!(" {deep}\nnest{k} =")
                };
                v.splice(at + 1..at + 1, piece.bytes());
            }
            _ => {}
        }
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_as_a_seed_file_give_declarations_or_one_line_problems(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        json in any::<bool>(),
    ) {
        let text = String::from_utf8_lossy(&bytes);
        check_seed(if json { "org.json" } else { "org.toml" }, &text)?;
    }

    #[test]
    fn text_made_of_json_and_toml_punctuation_never_aborts_the_seed_reader(
        text in r#"[\[\]{}",:=#\\\n a-z0-9.\-]{0,400}"#,
        json in any::<bool>(),
    ) {
        check_seed(if json { "org.json" } else { "org.toml" }, &text)?;
    }

    #[test]
    fn a_mutated_valid_seed_file_never_aborts_the_reader(
        edits in prop::collection::vec(edit(), 1..12),
        json in any::<bool>(),
    ) {
        let (name, base) = if json { ("org.json", ORG_JSON) } else { ("org.toml", ORG_TOML) };
        let bytes = mutate(base.as_bytes(), &edits);
        check_seed(name, &String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn arbitrary_bytes_as_a_roster_give_rows_or_one_line_errors(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        check_roster(&bytes)?;
    }

    #[test]
    fn a_mutated_valid_roster_never_aborts_the_reader(
        edits in prop::collection::vec(edit(), 1..12),
    ) {
        check_roster(&mutate(ROSTER.as_bytes(), &edits))?;
    }
}

proptest! {
    // each case reads up to 40 kB a hundred times over: fewer cases
    #![proptest_config(ProptestConfig { cases: 100, ..ProptestConfig::default() })]

    #[test]
    fn a_valid_seed_file_with_lists_nested_deep_somewhere_is_refused_not_aborted(
        k in any::<usize>(),
        n in 1usize..20_000,
        json in any::<bool>(),
    ) {
        let (name, base) = if json { ("org.json", ORG_JSON) } else { ("org.toml", ORG_TOML) };
        let bytes = mutate(base.as_bytes(), &[Edit::Nest(k, n)]);
        check_seed(name, &String::from_utf8_lossy(&bytes))?;
    }
}

#[test]
fn the_unmutated_fixtures_are_valid() {
    coachctl::seed::parse("org.toml", ORG_TOML).expect("the TOML example");
    coachctl::seed::parse("org.json", ORG_JSON).expect("the JSON example");
    let parsed = coachctl::roster::csv_file::parse(ROSTER.as_bytes()).expect("the roster");
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    assert_eq!(parsed.rows.len(), 3);
}

#[test]
fn nesting_beyond_any_stack_is_refused_in_either_syntax() {
    let deep_json = format!(
        "{{\"coach\": {}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let deep_toml = format!("a = {}{}", "[".repeat(100_000), "]".repeat(100_000));
    for (name, text) in [("deep.json", deep_json), ("deep.toml", deep_toml)] {
        let problems = coachctl::seed::parse(name, &text).unwrap_err();
        assert_eq!(problems.items[0].line, 1, "{:?}", problems.items);
    }
}

/// Write a file into a fresh directory; the directory lives as long as the path is used.
fn file(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn seed_refuses_json_nested_ten_thousand_deep_with_exit_3_and_a_json_error_object() {
    let db = TestDb::new();
    let deep = format!(
        "{{\"coach\": {}{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let (_dir, path) = file("deep.json", &deep);
    let run = db.run(&["seed", path.to_str().unwrap(), "-o", "json"]);
    let stderr = run.fails_with(3);
    let err: serde_json::Value = serde_json::from_str(stderr.trim())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {run:#?}"));
    assert_eq!(err["kind"], "invalid_input", "{err}");
    assert_eq!(
        err["message"],
        "deep.json:1: lists and objects nest more than 128 levels deep; nothing was written"
    );
    // and for a person: the problem, then the one-line summary
    let run = db.run(&["seed", path.to_str().unwrap()]);
    assert_eq!(
        run.fails_with(3),
        "deep.json:1: lists and objects nest more than 128 levels deep\n\
         error: deep.json: 1 problem (listed above); nothing was written\n"
    );
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM users"), 0);
}

#[test]
fn seed_refuses_a_json_key_given_twice_naming_the_key_and_its_line() {
    let db = TestDb::new();
    let json = "{\"coach\": [{\n  \"email\": \"ana@example.com\",\n  \"name\": \"Ana\",\n  \"email\": \"eve@example.com\"\n}]}\n";
    let (_dir, path) = file("dup.json", json);
    let run = db.run(&["seed", path.to_str().unwrap(), "-o", "json"]);
    let err: serde_json::Value = serde_json::from_str(run.fails_with(3).trim()).unwrap();
    assert_eq!(
        err["message"],
        "dup.json:4: duplicate key \"email\" (first on line 2); nothing was written",
        "{run:#?}"
    );
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM users"), 0);
}
