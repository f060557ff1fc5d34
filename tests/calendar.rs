//! Sessions as calendar events, read back by real calendar software: khal
//! imports the `session export --ics` feed, Python's icalendar parses the
//! feed and the attachments of delivered emails.

mod common;

use std::path::Path;
use std::process::Command;

use chrono::{NaiveDateTime, TimeZone};
use common::{TestDb, ana_with_monday_mornings, monday};

fn at(hhmm: &str) -> String {
    format!("{}T{hhmm}", monday())
}

fn book(db: &TestDb, hhmm: &str) -> String {
    db.booked("ana", "bo", &at(hhmm))
}

fn export(db: &TestDb, args: &[&str]) -> String {
    let mut a = args.to_vec();
    a.extend(["session", "export", "--ics"]);
    db.run(&a).ok().to_string()
}

/// khal with a calendar of its own in `dir`, showing times in `zone`.
fn khal(dir: &Path, zone: &str, args: &[&str]) -> String {
    let config = dir.join("config");
    std::fs::create_dir_all(dir.join("cal")).expect("calendar dir");
    std::fs::write(
        &config,
        format!(
            "[calendars]\n[[coaching]]\npath = {cal}\ntype = calendar\n\n\
             [locale]\ntimeformat = %H:%M\ndateformat = %Y-%m-%d\nlongdateformat = %Y-%m-%d\n\
             datetimeformat = %Y-%m-%d %H:%M\nlongdatetimeformat = %Y-%m-%d %H:%M\n\
             local_timezone = {zone}\ndefault_timezone = {zone}\n\n[sqlite]\npath = {db}\n",
            cal = dir.join("cal").display(),
            db = dir.join("khal.db").display(),
        ),
    )
    .expect("khal config");
    let out = Command::new("khal")
        .arg("-c")
        .arg(&config)
        .args(args)
        .output()
        .expect("run khal (apt-get install khal)");
    assert!(out.status.success(), "khal {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Monday `hhmm` in Berlin, as wall time in `zone`.
fn local(hhmm: &str, zone: chrono_tz::Tz) -> String {
    let naive = NaiveDateTime::parse_from_str(&format!("{} {hhmm}", monday()), "%Y-%m-%d %H:%M")
        .expect("time");
    let t = chrono_tz::Europe::Berlin
        .from_local_datetime(&naive)
        .single()
        .expect("unambiguous");
    t.with_timezone(&zone).format("%Y-%m-%d %H:%M").to_string()
}

#[test]
fn khal_imports_the_feed_and_lists_each_session_at_its_local_time_and_status() {
    let db = TestDb::new();
    ana_with_monday_mornings(&db);
    book(&db, "09:00");
    let gone = book(&db, "10:15");
    db.run(&["session", "cancel", &gone, "--reason", "sick", "--yes"])
        .ok();
    let feed = export(&db, &["--as", "ana@example.com"]);
    assert!(feed.starts_with("BEGIN:VCALENDAR\r\n"), "{feed}");
    assert!(
        feed.split("\r\n").all(|l| l.len() <= 75),
        "folded at 75 octets"
    );
    assert!(!feed.replace("\r\n", "").contains('\n'), "CRLF only");

    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("feed.ics");
    std::fs::write(&file, &feed).expect("write feed");
    let ny = chrono_tz::America::New_York;
    khal(
        dir.path(),
        "America/New_York",
        &[
            "import",
            "--batch",
            "-a",
            "coaching",
            file.to_str().expect("path"),
        ],
    );
    let from = (monday() - chrono::Duration::days(1)).to_string();
    let listed = khal(
        dir.path(),
        "America/New_York",
        &[
            "list",
            "--format",
            "{start-date} {start-time} {title} [{status}]",
            &from,
            "3d",
        ],
    );
    let line = |hhmm: &str| {
        listed
            .lines()
            .find(|l| l.starts_with(&local(hhmm, ny)))
            .unwrap_or_else(|| panic!("no event at {} in:\n{listed}", local(hhmm, ny)))
            .to_string()
    };
    assert!(line("09:00").contains("Coaching session: Ana Coach and Bo Member"));
    assert!(line("09:00").contains("CONFIRMED"), "{listed}");
    assert!(line("10:15").contains("CANCELLED"), "{listed}");
}

#[test]
fn the_feed_is_scoped_like_session_list_and_a_change_raises_the_sequence() {
    let db = TestDb::new();
    ana_with_monday_mornings(&db);
    let id = book(&db, "09:00");
    db.coach("cy").tz("UTC").create();
    db.member("di").assigned_to("cy").create();
    common::window(&db, "cy@example.com", "tue", ("09:00", "10:00"), 60, 0, 1);
    let tue = format!("{}T09:00", monday() + chrono::Duration::days(1));
    let other = db.booked("cy", "di", &tue);
    let bo = export(&db, &["--as", "bo@example.com"]);
    assert!(bo.contains(&format!("UID:{id}@coachctl")));
    assert!(!bo.contains(&other), "another member's session leaked");
    // like `session list`: another coach's sessions are simply not his
    let scoped = db
        .run_as(
            "bo",
            &["session", "export", "--ics", "--coach", "cy@example.com"],
        )
        .ok()
        .to_string();
    assert!(!scoped.contains("BEGIN:VEVENT"), "{scoped}");

    db.run(&["session", "reschedule", &id, "--at", &at("10:15")])
        .ok();
    let parsed = parse_with_icalendar(&export(&db, &[]));
    let event = parsed
        .iter()
        .find(|e| e.starts_with(&format!("{id}@coachctl ")))
        .expect("the session");
    assert!(event.ends_with(" 1 CONFIRMED"), "{event}");
}

/// "UID SEQUENCE STATUS" of each VEVENT, as Python's icalendar reads them.
fn parse_with_icalendar(ics: &str) -> Vec<String> {
    let out = Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import sys, icalendar\n\
             cal = icalendar.Calendar.from_ical(sys.stdin.buffer.read())\n\
             for e in cal.walk('VEVENT'):\n\
             \x20   print(e['UID'], e['SEQUENCE'], e['STATUS'])",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().expect("stdin").write_all(ics.as_bytes())?;
            c.wait_with_output()
        })
        .expect("run python3 icalendar (apt-get install python3-icalendar)");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}
