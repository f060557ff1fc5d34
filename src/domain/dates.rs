//! How times read, everywhere a person reads one: tables, `show`, prompts,
//! errors and emails. One family: `Mon 29 Mar` for a day (the year added
//! when it is not this year), `Mon 29 Mar 2027, 09:00` for a moment, and
//! the zone named once: by its abbreviation after a time that stands
//! alone (`09:00 CEST`), or in a table's heading. JSON, CSV and the
//! iCalendar files keep RFC 3339 and UTC; this is for people.

use chrono::{DateTime, Datelike, TimeZone, Utc};
use chrono_tz::Tz;

/// `Mon 29 Mar` in the year of `now` (in the zone of `t`), else
/// `Mon 29 Mar 2027`.
pub fn day(t: DateTime<Tz>, now: DateTime<Utc>) -> String {
    if t.year() == now.with_timezone(&t.timezone()).year() {
        t.format("%a %-d %b").to_string()
    } else {
        t.format("%a %-d %b %Y").to_string()
    }
}

/// `Mon 29 Mar 2027, 09:00`: a moment in a view that names its zone once
/// elsewhere (a heading).
pub fn moment_in_view(t: DateTime<Tz>, now: DateTime<Utc>) -> String {
    format!("{}, {}", day(t, now), t.format("%H:%M"))
}

/// `Mon 29 Mar 2027, 09:00 CEST`: a moment that stands alone (a prompt,
/// an error, an email), its zone named.
pub fn moment(t: DateTime<Utc>, tz: Tz, now: DateTime<Utc>) -> String {
    let t = t.with_timezone(&tz);
    format!("{} {}", moment_in_view(t, now), t.format("%Z"))
}

/// [`moment`] for now.
pub fn moment_now(t: DateTime<Utc>, tz: Tz) -> String {
    moment(t, tz, Utc::now())
}

/// A session's time: `Mon 29 Mar 2027, 09:00–10:00 CEST` (both ends in
/// full when it ends on another day).
pub fn span(start: DateTime<Utc>, end: DateTime<Utc>, tz: Tz, now: DateTime<Utc>) -> String {
    let (s, e) = (start.with_timezone(&tz), end.with_timezone(&tz));
    if s.date_naive() == e.date_naive() {
        format!(
            "{}, {}–{} {}",
            day(s, now),
            s.format("%H:%M"),
            e.format("%H:%M"),
            e.format("%Z")
        )
    } else {
        format!("{} – {}", moment(start, tz, now), moment(end, tz, now))
    }
}

/// A date alone (no time): `Mon 29 Mar` or `Mon 29 Mar 2027`.
pub fn date(d: chrono::NaiveDate, now: DateTime<Utc>) -> String {
    let noon = d.and_hms_opt(12, 0, 0).unwrap_or_default();
    day(Tz::UTC.from_utc_datetime(&noon), now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_moment_names_its_year_only_when_it_is_not_this_year_and_its_zone_once() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let now = at("2027-01-10T12:00:00Z");
        assert_eq!(
            moment(at("2027-03-29T07:00:00Z"), berlin, now),
            "Mon 29 Mar, 09:00 CEST"
        );
        assert_eq!(
            moment(at("2028-03-27T07:00:00Z"), berlin, now),
            "Mon 27 Mar 2028, 09:00 CEST"
        );
        assert_eq!(
            span(
                at("2027-03-29T07:00:00Z"),
                at("2027-03-29T08:00:00Z"),
                berlin,
                now
            ),
            "Mon 29 Mar, 09:00–10:00 CEST"
        );
        let d = chrono::NaiveDate::from_ymd_opt(2026, 12, 24).unwrap();
        assert_eq!(date(d, now), "Thu 24 Dec 2026");
    }
}
