//! Dates and times as people type them: the ISO forms, and `today`,
//! `tomorrow`, weekday names, `+3d`, and times like `9:00` or `14:30`,
//! alone (today) or after a day (`tomorrow 9:00`).
//!
//! Relative forms name a day only once a zone says which day today is, so
//! they are kept as typed and resolved by the code that knows the zone (the
//! coach's for booking and availability, else the display zone). Every
//! `resolve` has a `resolve_at` twin that takes the clock, for tests.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc, Weekday};
use chrono::{LocalResult, TimeZone as _};

use super::within_years;
use crate::error::Error;

/// What a date flag accepts, for error messages and help.
pub const ACCEPTED_DAYS: &str =
    "YYYY-MM-DD, today, tomorrow, a weekday (mon..sun: the next one, today included) or +3d";

/// What a time flag accepts, for error messages and help.
pub const ACCEPTED_TIMES: &str = "14:30 (today), tomorrow 9:00, mon 14:30, +3d 9:00, \
     YYYY-MM-DDTHH:MM, or any of them with an offset like 2027-03-29T09:00+02:00";

/// A calendar date `YYYY-MM-DD` in the years 1900-2199.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(NaiveDate);

impl Date {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let t = s.trim();
        let d = NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .map_err(|_| Error::invalid(format!("'{t}' is not a date; use YYYY-MM-DD")))?;
        within_years(t, d)?;
        Ok(Date(d))
    }
    pub fn from_naive(d: NaiveDate) -> Self {
        Date(d)
    }
    pub fn naive(&self) -> NaiveDate {
        self.0
    }
}

impl FromStr for Date {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Date::parse(s)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A day as typed: a date, or a day relative to today in some zone.
///
/// A weekday name is the next such day with today included: `mon` typed on
/// a Monday is that Monday (as GNU `date -d mon` reads it), so
/// `slots --from mon` on a Monday starts today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Day {
    On(Date),
    Today,
    Tomorrow,
    Next(Weekday),
    /// `+3d` (and `+2w`): this many days after today.
    After(u32),
}

impl Day {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let t = s.trim();
        Self::parse_form(t).unwrap_or_else(|| {
            Err(Error::invalid(format!(
                "'{t}' is not a date; use {ACCEPTED_DAYS}"
            )))
        })
    }

    /// `None` when `t` is none of the day forms.
    fn parse_form(t: &str) -> Option<Result<Self, Error>> {
        if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
            return Some(within_years(t, d).map(|()| Day::On(Date(d))));
        }
        let lower = t.to_ascii_lowercase();
        match lower.as_str() {
            "today" => return Some(Ok(Day::Today)),
            "tomorrow" => return Some(Ok(Day::Tomorrow)),
            _ => {}
        }
        if let Some(n) = lower.strip_prefix('+') {
            let (num, per) = match n.as_bytes().last() {
                Some(b'd') => (&n[..n.len() - 1], 1),
                Some(b'w') => (&n[..n.len() - 1], 7),
                _ => return None,
            };
            let n: u32 = num.parse().ok()?;
            // Beyond ~600 years no date is accepted anyway (YEARS).
            return Some(match n.checked_mul(per).filter(|d| *d <= 366 * 300) {
                Some(d) => Ok(Day::After(d)),
                None => Err(Error::invalid(format!("'{t}' is too far ahead"))),
            });
        }
        weekday(&lower).map(|w| Ok(Day::Next(w)))
    }

    /// The date this names when today is `today`.
    pub fn on(&self, today: NaiveDate) -> NaiveDate {
        match self {
            Day::On(d) => d.0,
            Day::Today => today,
            Day::Tomorrow => today + Duration::days(1),
            Day::Next(w) => {
                let ahead = (7 + w.num_days_from_monday() as i64
                    - today.weekday().num_days_from_monday() as i64)
                    % 7;
                today + Duration::days(ahead)
            }
            Day::After(n) => today + Duration::days(i64::from(*n)),
        }
    }

    /// The date in `tz` now.
    pub fn resolve(&self, tz: chrono_tz::Tz) -> Result<Date, Error> {
        self.resolve_at(tz, Utc::now())
    }

    /// The date in `tz` when the clock reads `now`.
    pub fn resolve_at(&self, tz: chrono_tz::Tz, now: DateTime<Utc>) -> Result<Date, Error> {
        let d = self.on(now.with_timezone(&tz).date_naive());
        within_years(&d.to_string(), d)?;
        Ok(Date(d))
    }
}

impl FromStr for Day {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Day::parse(s)
    }
}

/// `mon`, `monday`, `Mon`; at least three letters of a full name.
fn weekday(t: &str) -> Option<Weekday> {
    const NAMES: [(&str, Weekday); 7] = [
        ("monday", Weekday::Mon),
        ("tuesday", Weekday::Tue),
        ("wednesday", Weekday::Wed),
        ("thursday", Weekday::Thu),
        ("friday", Weekday::Fri),
        ("saturday", Weekday::Sat),
        ("sunday", Weekday::Sun),
    ];
    if t.len() < 3 {
        return None;
    }
    NAMES
        .iter()
        .find(|(n, _)| n.starts_with(t))
        .map(|(_, w)| *w)
}

/// `9:00`, `09:00`, `14:30`, `14:30:15`.
fn clock_time(t: &str) -> Option<NaiveTime> {
    let (h, rest) = t.split_once(':')?;
    if h.is_empty() || h.len() > 2 || !h.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Minutes and seconds take two digits: `9:5` is a typo, not 09:05.
    if !rest.split(':').all(|p| p.len() == 2) {
        return None;
    }
    let padded = format!("{h:0>2}:{rest}");
    NaiveTime::parse_from_str(&padded, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(&padded, "%H:%M:%S"))
        .ok()
}

/// A point in time as typed: with an offset (`2027-03-29T09:00+02:00`,
/// `...Z`) it is absolute; without one (`2027-03-29T09:00`,
/// `2027-03-29 09:00`) it is read in a zone the command chooses; a time on
/// a relative day (`14:30`, `tomorrow 9:00`) also needs that zone's today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    Absolute(DateTime<Utc>),
    Local(NaiveDateTime),
    Relative(Day, NaiveTime),
}

impl At {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let t = s.trim();
        Self::parse_form(t).unwrap_or_else(|| {
            let hint = if Day::parse_form(t).is_some() {
                format!("'{t}' is a day without a time")
            } else {
                format!("'{t}' is not a time")
            };
            Err(Error::invalid(format!(
                "{hint}; use {ACCEPTED_TIMES} (without an offset, in the coach's zone)"
            )))
        })
    }

    /// `None` when `t` has none of the accepted forms; else the time, or
    /// why its year is refused (checked as typed, in the typed offset).
    fn parse_form(t: &str) -> Option<Result<Self, Error>> {
        let absolute = |dt: DateTime<chrono::FixedOffset>| {
            within_years(t, dt.date_naive()).map(|()| At::Absolute(dt.with_timezone(&Utc)))
        };
        if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
            return Some(absolute(dt));
        }
        for f in [
            "%Y-%m-%dT%H:%M%:z",
            "%Y-%m-%d %H:%M%:z",
            "%Y-%m-%d %H:%M:%S%:z",
        ] {
            if let Ok(dt) = DateTime::parse_from_str(t, f) {
                return Some(absolute(dt));
            }
        }
        for f in [
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%d %H:%M",
            "%Y-%m-%d %H:%M:%S",
        ] {
            if let Ok(dt) = NaiveDateTime::parse_from_str(t, f) {
                return Some(within_years(t, dt.date()).map(|()| At::Local(dt)));
            }
        }
        // A time alone is today's; else a day, a space, a time.
        if let Some(time) = clock_time(t) {
            return Some(Ok(At::Relative(Day::Today, time)));
        }
        let (day, time) = t.rsplit_once(char::is_whitespace)?;
        let time = clock_time(time.trim())?;
        Some(match Day::parse_form(day.trim())? {
            Ok(Day::On(d)) => Ok(At::Local(d.0.and_time(time))),
            Ok(day) => Ok(At::Relative(day, time)),
            Err(e) => Err(e),
        })
    }

    /// The instant this names in `tz` now. A local time skipped by a DST
    /// change does not exist; an ambiguous one takes its first occurrence.
    pub fn resolve(&self, tz: chrono_tz::Tz) -> Result<DateTime<Utc>, Error> {
        self.resolve_at(tz, Utc::now())
    }

    /// [`At::resolve`] when the clock reads `now`.
    pub fn resolve_at(
        &self,
        tz: chrono_tz::Tz,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, Error> {
        use chrono::TimeZone as _;
        let naive = match self {
            At::Absolute(t) => return Ok(*t),
            At::Local(naive) => *naive,
            At::Relative(day, time) => day.resolve_at(tz, now)?.0.and_time(*time),
        };
        match tz.from_local_datetime(&naive) {
            chrono::LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
            chrono::LocalResult::Ambiguous(first, _) => Ok(first.with_timezone(&Utc)),
            chrono::LocalResult::None => Err(Error::rule(format!(
                "{} does not exist in {} (the clocks skip it for daylight saving time)",
                naive.format("%a %-d %b %Y, %H:%M"),
                tz.name()
            ))),
        }
    }

    /// A local time near this one before the zone is known: a relative day
    /// is placed by today in UTC, at most a day off any zone's today.
    pub fn local_guess(&self) -> Option<NaiveDateTime> {
        match self {
            At::Absolute(_) => None,
            At::Local(n) => Some(*n),
            At::Relative(day, time) => Some(day.on(Utc::now().date_naive()).and_time(*time)),
        }
    }
}

impl FromStr for At {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        At::parse(s)
    }
}

/// A bound of a time range as typed: a day (a whole local day) or a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Day(Day),
    Time(At),
}

impl Bound {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let t = s.trim();
        if let Some(d) = Day::parse_form(t) {
            return d.map(Bound::Day);
        }
        match At::parse_form(t) {
            Some(at) => at.map(Bound::Time),
            None => Err(Error::invalid(format!(
                "'{t}' is neither a date nor a time; use {ACCEPTED_DAYS}, or a time: {ACCEPTED_TIMES}"
            ))),
        }
    }

    /// The instant in `tz`: a day starts at its first moment; as the end of
    /// a range (`end`), a day includes itself.
    pub fn resolve(&self, tz: chrono_tz::Tz, end: bool) -> Result<DateTime<Utc>, Error> {
        self.resolve_at(tz, end, Utc::now())
    }

    /// [`Bound::resolve`] when the clock reads `now`.
    pub fn resolve_at(
        &self,
        tz: chrono_tz::Tz,
        end: bool,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, Error> {
        match self {
            Bound::Time(at) => at.resolve_at(tz, now),
            Bound::Day(d) => {
                let d = d.resolve_at(tz, now)?.naive();
                let day = if end { d.succ_opt().unwrap_or(d) } else { d };
                let midnight = local_instant(tz, day, 0).or_else(|| local_instant(tz, day, 60));
                midnight
                    .ok_or_else(|| Error::invalid(format!("{day} has no start in {}", tz.name())))
            }
        }
    }
}

impl FromStr for Bound {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Bound::parse(s)
    }
}

/// The instant a local date and minute-of-day name in `tz`, if it exists.
pub fn local_instant(tz: chrono_tz::Tz, date: NaiveDate, minute: u16) -> Option<DateTime<Utc>> {
    let naive = date.and_hms_opt(u32::from(minute / 60), u32::from(minute % 60), 0)?;
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        LocalResult::None => None,
    }
}
