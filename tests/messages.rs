//! Messages (DESIGN.md "Messages", issue 10 point 6): an assignment or an
//! accepted connection opens a conversation; only participants send; lists
//! show unread first and reading marks read; `--unread` counts for scripts.

mod common;

use common::{TestDb, ana_and_bo};

fn send(db: &TestDb, from: &str, to: &str, text: &str) -> common::Run {
    db.run_as(from, &["message", "send", "--to", to, "--text", text])
}

fn unread(db: &TestDb, who: &str) -> String {
    db.run_as(who, &["message", "list", "--unread"])
        .ok()
        .trim()
        .to_string()
}

#[test]
fn an_assignment_opens_a_conversation_and_reading_marks_read() {
    let db = TestDb::new();
    let (ana, bo) = ana_and_bo(&db);
    // before the assignment Bo is nobody to Ana
    send(&db, "ana@example.com", "bo@example.com", "Hello").fails_with(5);
    db.run(&["member", "assign", &bo, "--coach", &ana]).ok();
    send(&db, "ana@example.com", "bo@example.com", "Hello Bo").ok();
    send(&db, "ana@example.com", "bo@example.com", "See you Monday").ok();
    send(&db, "bo@example.com", "ana@example.com", "Thanks!").ok();
    assert_eq!(unread(&db, "bo@example.com"), "2");
    assert_eq!(unread(&db, "ana@example.com"), "1");
    // an admin may read without marking anything
    assert_eq!(
        db.run(&["message", "list", "-o", "json"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(unread(&db, "bo@example.com"), "2");
    let list = db.run_as("bo", &["message", "list", "-o", "json"]).json();
    let texts: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        ["See you Monday", "Hello Bo", "Thanks!"],
        "unread first, newest first"
    );
    assert_eq!(list[0]["read"], false);
    assert_eq!(unread(&db, "bo@example.com"), "0");
    assert_eq!(unread(&db, "ana@example.com"), "1");
    let again = db
        .run_as(
            "bo",
            &["message", "list", "--with", "ana@example.com", "-o", "json"],
        )
        .json();
    assert!(
        again
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["to"] == "bo@example.com")
            .all(|m| m["read"] == true)
    );
}

#[test]
fn an_accepted_connection_opens_a_conversation_and_outsiders_may_not_write_or_read_it() {
    let db = TestDb::new();
    ana_and_bo(&db);
    db.coach("cal").create();
    db.member("mo").create();
    let id = db
        .run_as(
            "bo",
            &[
                "connect",
                "request",
                "--coach",
                "ana@example.com",
                "--area",
                "sleep",
                "-o",
                "ids",
            ],
        )
        .id();
    send(&db, "bo@example.com", "ana@example.com", "hi").fails_with(4);
    db.run_as("ana", &["connect", "respond", &id, "--accept"])
        .ok();
    send(&db, "bo@example.com", "ana@example.com", "hi").ok();
    // a coach is there for everyone (exit 4); someone else's member is nobody (exit 5)
    send(&db, "cal@example.com", "bo@example.com", "psst").fails_with(5);
    send(&db, "mo@example.com", "ana@example.com", "psst").fails_with(4);
    send(&db, "mo@example.com", "bo@example.com", "psst").fails_with(5);
    db.run(&["message", "send", "--to", "bo@example.com", "--text", "x"])
        .fails_with(4);
    send(&db, "bo@example.com", "nobody@example.com", "x").fails_with(5);
    send(&db, "nobody@example.com", "bo@example.com", "x").fails_with(4);
    for who in ["cal@example.com", "mo@example.com"] {
        let seen = db.run_as(who, &["message", "list", "-o", "json"]).json();
        assert_eq!(seen.as_array().unwrap().len(), 0, "{who}");
    }
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM messages"), 1);
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM audit_log WHERE action = 'message.send'"),
        1
    );
    assert!(
        !db.scalar::<String>("SELECT after::text FROM audit_log WHERE action = 'message.send'")
            .contains("hi\"")
    );
}
