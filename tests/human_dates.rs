//! Human dates and times (issue 12, item 3): `today`, `tomorrow`, weekday
//! names, `+3d`, `9:00`, `tomorrow 9:00` beside the ISO forms, read in the
//! right zone, with a fixed clock across daylight-saving changes.

mod common;

use chrono::{DateTime, NaiveDate, TimeZone as _, Utc};
use chrono_tz::Europe::Berlin;
use chrono_tz::Tz;
use coachctl::domain::{At, Bound, Day};
use common::TestDb;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// The instant `typed` names in `tz` when the clock reads `now`.
fn at(typed: &str, tz: Tz, now: &str) -> DateTime<Utc> {
    At::parse(typed)
        .unwrap_or_else(|e| panic!("{typed}: {e}"))
        .resolve_at(tz, utc(now))
        .unwrap_or_else(|e| panic!("{typed}: {e}"))
}

fn day(typed: &str, tz: Tz, now: &str) -> NaiveDate {
    Day::parse(typed)
        .unwrap_or_else(|e| panic!("{typed}: {e}"))
        .resolve_at(tz, utc(now))
        .unwrap()
        .naive()
}

// Berlin springs forward on Sunday 2027-03-28 (02:00 -> 03:00) and falls
// back on Sunday 2027-10-31 (03:00 -> 02:00).
const SAT_BEFORE_SPRING: &str = "2027-03-27T12:00:00Z";
const SAT_BEFORE_FALL: &str = "2027-10-30T12:00:00Z";

#[test]
fn every_day_form_names_the_expected_date_from_a_saturday() {
    let now = SAT_BEFORE_SPRING;
    assert_eq!(day("today", Berlin, now), date("2027-03-27"));
    assert_eq!(day("Today", Berlin, now), date("2027-03-27"));
    assert_eq!(day("tomorrow", Berlin, now), date("2027-03-28"));
    assert_eq!(day("+0d", Berlin, now), date("2027-03-27"));
    assert_eq!(day("+3d", Berlin, now), date("2027-03-30"));
    assert_eq!(day("+2w", Berlin, now), date("2027-04-10"));
    assert_eq!(day("sun", Berlin, now), date("2027-03-28"));
    assert_eq!(day("monday", Berlin, now), date("2027-03-29"));
    assert_eq!(day("Fri", Berlin, now), date("2027-04-02"));
    assert_eq!(day("2027-05-01", Berlin, now), date("2027-05-01"));
}

#[test]
fn a_weekday_name_typed_on_that_weekday_means_today() {
    // Saturday: `sat` is this very day, not a week ahead (like `date -d sat`).
    assert_eq!(day("sat", Berlin, SAT_BEFORE_SPRING), date("2027-03-27"));
    assert_eq!(
        day("saturday", Berlin, SAT_BEFORE_SPRING),
        date("2027-03-27")
    );
}

#[test]
fn today_is_the_date_in_the_zone_that_reads_it() {
    // 23:30 UTC on the 27th is already the 28th in Berlin, still the 27th in New York.
    let late = "2027-03-27T23:30:00Z";
    assert_eq!(day("today", Berlin, late), date("2027-03-28"));
    assert_eq!(
        day("today", chrono_tz::America::New_York, late),
        date("2027-03-27")
    );
    assert_eq!(day("tomorrow", chrono_tz::UTC, late), date("2027-03-28"));
}

#[test]
fn times_alone_are_today_and_after_a_day_that_day_across_the_spring_change() {
    let now = SAT_BEFORE_SPRING;
    // Saturday is still winter time (+01:00) ...
    assert_eq!(at("9:00", Berlin, now), utc("2027-03-27T08:00:00Z"));
    assert_eq!(at("14:30", Berlin, now), utc("2027-03-27T13:30:00Z"));
    assert_eq!(at("today 9:00", Berlin, now), utc("2027-03-27T08:00:00Z"));
    // ... Sunday morning after the change is summer time (+02:00).
    assert_eq!(
        at("tomorrow 9:00", Berlin, now),
        utc("2027-03-28T07:00:00Z")
    );
    assert_eq!(at("sun 09:00", Berlin, now), utc("2027-03-28T07:00:00Z"));
    assert_eq!(at("mon 14:30", Berlin, now), utc("2027-03-29T12:30:00Z"));
    assert_eq!(at("+1d 9:00", Berlin, now), utc("2027-03-28T07:00:00Z"));
    assert_eq!(at("+3d 9:00", Berlin, now), utc("2027-03-30T07:00:00Z"));
    // The ISO forms are unchanged, and a one-digit hour is welcome with a date.
    assert_eq!(
        at("2027-03-28T09:00", Berlin, now),
        utc("2027-03-28T07:00:00Z")
    );
    assert_eq!(
        at("2027-03-28 9:00", Berlin, now),
        utc("2027-03-28T07:00:00Z")
    );
    assert_eq!(
        at("2027-03-28T09:00+01:00", Berlin, now),
        utc("2027-03-28T08:00:00Z")
    );
}

#[test]
fn a_relative_time_skipped_by_the_spring_change_does_not_exist() {
    let err = At::parse("tomorrow 2:30")
        .unwrap()
        .resolve_at(Berlin, utc(SAT_BEFORE_SPRING))
        .unwrap_err();
    assert_eq!(err.kind().exit_code(), 7, "{err}");
    assert!(
        err.to_string()
            .contains("Sun 28 Mar 2027, 02:30 does not exist"),
        "{err}"
    );
}

#[test]
fn a_relative_time_repeated_by_the_fall_change_takes_its_first_occurrence() {
    // 02:30 happens twice on 2027-10-31: first at +02:00 (00:30 UTC).
    assert_eq!(
        at("tomorrow 2:30", Berlin, SAT_BEFORE_FALL),
        utc("2027-10-31T00:30:00Z")
    );
    assert_eq!(
        at("sun 02:30", Berlin, SAT_BEFORE_FALL),
        utc("2027-10-31T00:30:00Z")
    );
    // After the change Berlin is back at +01:00.
    assert_eq!(
        at("+2d 9:00", Berlin, SAT_BEFORE_FALL),
        utc("2027-11-01T08:00:00Z")
    );
}

#[test]
fn a_day_as_a_range_bound_covers_the_short_and_the_long_dst_day() {
    let spring = Bound::parse("tomorrow").unwrap();
    let from = spring
        .resolve_at(Berlin, false, utc(SAT_BEFORE_SPRING))
        .unwrap();
    let to = spring
        .resolve_at(Berlin, true, utc(SAT_BEFORE_SPRING))
        .unwrap();
    assert_eq!(from, Berlin.with_ymd_and_hms(2027, 3, 28, 0, 0, 0).unwrap());
    assert_eq!((to - from).num_hours(), 23, "the spring day has 23 hours");

    let fall = Bound::parse("sun").unwrap();
    let from = fall
        .resolve_at(Berlin, false, utc(SAT_BEFORE_FALL))
        .unwrap();
    let to = fall.resolve_at(Berlin, true, utc(SAT_BEFORE_FALL)).unwrap();
    assert_eq!((to - from).num_hours(), 25, "the fall day has 25 hours");

    // A bound may also be a time.
    let t = Bound::parse("tomorrow 9:00").unwrap();
    assert_eq!(
        t.resolve_at(Berlin, false, utc(SAT_BEFORE_SPRING)).unwrap(),
        utc("2027-03-28T07:00:00Z")
    );
}

#[test]
fn an_unreadable_date_or_time_lists_the_accepted_forms() {
    for bad in ["yesterday", "next week", "+3", "+d", "mo", "32:00", "9h"] {
        let e = Day::parse(bad).unwrap_err();
        assert_eq!(e.kind().exit_code(), 3);
        let msg = e.to_string();
        assert!(
            msg.contains("today, tomorrow") && msg.contains("+3d") && msg.contains("YYYY-MM-DD"),
            "{bad}: {msg}"
        );
        let msg = At::parse(bad).unwrap_err().to_string();
        assert!(
            msg.contains("14:30") && msg.contains("tomorrow 9:00") && msg.contains("+02:00"),
            "{bad}: {msg}"
        );
        let msg = Bound::parse(bad).unwrap_err().to_string();
        assert!(
            msg.contains("tomorrow") && msg.contains("14:30"),
            "{bad}: {msg}"
        );
    }
    // A day where a time is needed says what is missing.
    let msg = At::parse("tomorrow").unwrap_err().to_string();
    assert!(msg.contains("'tomorrow' is a day without a time"), "{msg}");
    for bad in ["25:00", "9:60", "tomorrow 9:5"] {
        assert!(At::parse(bad).is_err(), "{bad}");
    }
}

// ------------------------------------------------------ through the binary

#[test]
fn slots_from_tomorrow_start_at_the_coachs_tomorrow() {
    let db = TestDb::new();
    common::ana_with_monday_mornings(&db);
    let slots = db
        .run(&[
            "slots",
            "--coach",
            "ana@example.com",
            "--from",
            "mon",
            "--days",
            "1",
            "-o",
            "json",
        ])
        .json();
    let starts: Vec<&str> = slots
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["start"].as_str().unwrap())
        .collect();
    // The next Monday in Berlin, today included (whose morning may be over).
    let today = Utc::now().with_timezone(&Berlin).date_naive();
    let monday = Day::parse("mon").unwrap().resolve(Berlin).unwrap().naive();
    assert!(monday >= today && (monday - today).num_days() < 7);
    assert!(
        starts.iter().all(|s| s.starts_with(&format!("{monday}T"))),
        "{starts:?}"
    );
    if monday != today {
        assert_eq!(starts.len(), 2, "{slots}");
        assert!(
            starts[0].starts_with(&format!("{monday}T09:00")),
            "{starts:?}"
        );
    }
    db.run(&[
        "slots",
        "--coach",
        "ana@example.com",
        "--from",
        "tomorrow",
        "--to",
        "+7d",
    ])
    .ok();
    let err = db
        .run(&["slots", "--coach", "ana@example.com", "--from", "soon"])
        .fails_with(3)
        .to_string();
    assert!(err.contains("today, tomorrow"), "{err}");
}

#[test]
fn book_at_a_weekday_and_time_and_block_tomorrow_in_the_coachs_zone() {
    let db = TestDb::new();
    common::ana_with_monday_mornings(&db);
    // A Monday two weeks ahead, as "+N days 10:15" from Berlin's today.
    let today = Utc::now().with_timezone(&Berlin).date_naive();
    let ahead = (common::monday() - today).num_days();
    let at = format!("+{ahead}d 10:15");
    let b = db.book_with("ana", "bo", &at, &["-o", "json"]).json();
    let start = b["start"].as_str().unwrap();
    assert!(
        start.starts_with(&format!("{}T10:15:00+0", common::monday())),
        "{b}"
    );

    db.run(&[
        "availability",
        "block",
        "--coach",
        "ana@example.com",
        "--date",
        "tomorrow",
    ])
    .ok();
    let first: NaiveDate = db.scalar("SELECT first_day FROM availability_blocks");
    let tomorrow = Utc::now().with_timezone(&Berlin).date_naive() + chrono::Duration::days(1);
    assert_eq!(first, tomorrow);

    let listed = db
        .run(&[
            "session", "list", "--from", "today", "--to", "+30d", "-o", "json",
        ])
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
}
