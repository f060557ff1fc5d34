//! Domain newtypes: parse, don't validate. Every value that reaches a query
//! went through one of these constructors, and each implements `FromStr` so
//! clap rejects bad input at parse time (exit 3).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use uuid::Uuid;

use crate::error::Error;

pub mod dates;
mod email;
mod id_prefix;
// Text hygiene sits below error (whose messages escape with it); the old
// path stays for its callers.
pub use crate::text;
mod when;

pub use email::Email;
pub use id_prefix::{IdPrefix, MIN_DIGITS};
pub use when::{ACCEPTED_DAYS, ACCEPTED_TIMES, At, Bound, Date, Day, local_instant};

macro_rules! display_via_as_str {
    ($t:ty) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

/// A person's display name: 1-200 characters, NFC-normalised, with no
/// control, invisible or bidirectional characters (they make lookalikes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let t = text::nfc(s.trim());
        if t.is_empty() {
            return Err(Error::invalid("a name may not be empty"));
        }
        if t.chars().count() > 200 {
            return Err(Error::invalid("a name may be at most 200 characters long"));
        }
        if let Some(c) = text::first_hidden(&t) {
            return Err(Error::invalid(format!(
                "a name may not contain control, invisible or bidirectional characters (found {})",
                text::code_point(c)
            )));
        }
        Ok(PersonName(t))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for PersonName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        PersonName::parse(s)
    }
}

/// An IANA time zone name such as `Europe/Berlin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone(chrono_tz::Tz);

impl TimeZone {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let t = s.trim();
        t.parse::<chrono_tz::Tz>().map(TimeZone).map_err(|_| {
            Error::invalid(format!(
                "'{t}' is not an IANA time zone; use a name like Europe/Berlin or America/New_York"
            ))
        })
    }
    pub fn utc() -> Self {
        TimeZone(chrono_tz::UTC)
    }
    pub fn tz(&self) -> chrono_tz::Tz {
        self.0
    }
    pub fn as_str(&self) -> &'static str {
        self.0.name()
    }
}

impl FromStr for TimeZone {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        TimeZone::parse(s)
    }
}
display_via_as_str!(TimeZone);

/// The id of a user (coach, member or admin).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct UserId(Uuid);

impl UserId {
    pub fn new() -> Self {
        UserId(Uuid::new_v4())
    }
    pub fn from_uuid(u: Uuid) -> Self {
        UserId(u)
    }
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl Default for UserId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// How a command names a person: by id or by email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    Id(UserId),
    Email(Email),
    /// The first hex digits of an id (at least 8), resolved by `crate::ids`.
    Prefix(IdPrefix),
}

impl UserRef {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let t = s.trim();
        if let Ok(u) = Uuid::parse_str(t) {
            return Ok(UserRef::Id(UserId(u)));
        }
        if t.contains('@') {
            return Email::parse(t).map(UserRef::Email);
        }
        // Hex digits are an id prefix; a word like "ada" or "bead" that
        // happens to be hex is more likely a name mistyped for an email.
        let hex = t.bytes().filter(u8::is_ascii_hexdigit).count();
        if IdPrefix::looks_like(t) && (hex >= MIN_DIGITS || t.bytes().any(|b| b.is_ascii_digit())) {
            return IdPrefix::parse(t).map(UserRef::Prefix);
        }
        Err(Error::invalid(format!(
            "'{t}' is neither an id nor an email address (an id may be shortened to its first 8 hex digits)"
        )))
    }
}

impl FromStr for UserRef {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        UserRef::parse(s)
    }
}

impl fmt::Display for UserRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserRef::Id(id) => id.fmt(f),
            UserRef::Email(e) => e.fmt(f),
            UserRef::Prefix(p) => p.fmt(f),
        }
    }
}

/// A coach's member limit: a whole number above zero (seed 003, req. 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxMembers(i32);

impl MaxMembers {
    pub const DEFAULT: MaxMembers = MaxMembers(20);
    pub fn parse(s: &str) -> Result<Self, Error> {
        let t = s.trim();
        match t.parse::<i64>() {
            Ok(n) if n > 0 && n <= 100_000 => Ok(MaxMembers(n as i32)),
            Ok(_) => Err(Error::invalid(format!(
                "max members must be between 1 and 100000, not {t}"
            ))),
            Err(_) => Err(Error::invalid(format!(
                "max members must be a whole number, not '{t}'"
            ))),
        }
    }
    pub fn get(&self) -> i32 {
        self.0
    }
}

impl FromStr for MaxMembers {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        MaxMembers::parse(s)
    }
}

/// Free text of a profile field (bio, goals, notes): at most 10,000
/// characters, NFC-normalised. It may span lines (CRLF becomes LF), but holds
/// no other control characters and no bidirectional controls, which would
/// rewrite or reorder what a terminal shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileText(String);

impl ProfileText {
    pub const MAX: usize = 10_000;
    pub fn parse(s: &str) -> Result<Self, Error> {
        if s.chars().count() > Self::MAX {
            return Err(Error::invalid(format!(
                "a text field may be at most {} characters long",
                Self::MAX
            )));
        }
        let t = text::nfc(s.replace("\r\n", "\n").trim());
        if let Some(c) = text::first_unfit_for_free_text(&t) {
            return Err(Error::invalid(format!(
                "a text field may not contain control characters other than newlines, nor bidirectional controls (found {})",
                text::code_point(c)
            )));
        }
        Ok(ProfileText(t))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Empty text clears the field.
    pub fn into_option(self) -> Option<String> {
        if self.0.is_empty() {
            None
        } else {
            Some(self.0)
        }
    }
}

impl FromStr for ProfileText {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        ProfileText::parse(s)
    }
}

/// A day of the week, Sunday = 0 (seed 002). Accepts `sun..sat`, full
/// names and `0-6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DayOfWeek(u8);

impl DayOfWeek {
    pub const SUNDAY: DayOfWeek = DayOfWeek(0);
    const NAMES: [&'static str; 7] = [
        "sunday",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
    ];
    pub fn parse(s: &str) -> Result<Self, Error> {
        let t = s.trim().to_ascii_lowercase();
        if let Ok(n) = t.parse::<u8>() {
            if n <= 6 {
                return Ok(DayOfWeek(n));
            }
        } else if t.len() >= 3
            && let Some(i) = Self::NAMES.iter().position(|n| n.starts_with(&t))
        {
            return Ok(DayOfWeek(i as u8));
        }
        Err(Error::invalid(format!(
            "'{}' is not a day of the week; use sun..sat, a full name, or 0-6 (Sunday = 0)",
            s.trim()
        )))
    }
    pub fn from_index(n: u8) -> Option<Self> {
        (n <= 6).then_some(DayOfWeek(n))
    }
    pub fn of(date: chrono::NaiveDate) -> Self {
        use chrono::Datelike;
        DayOfWeek(date.weekday().num_days_from_sunday() as u8)
    }
    pub fn index(&self) -> u8 {
        self.0
    }
    pub fn short(&self) -> &'static str {
        &Self::NAMES[self.0 as usize][..3]
    }
}

impl FromStr for DayOfWeek {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        DayOfWeek::parse(s)
    }
}

/// A wall-clock time `HH:MM` from 00:00 to 24:00 (24:00 only ends a day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay(u16);

impl TimeOfDay {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let t = s.trim();
        let bad = || Error::invalid(format!("'{t}' is not a time of day; use HH:MM, e.g. 09:30"));
        let (h, m) = t.split_once(':').ok_or_else(bad)?;
        if h.is_empty() || h.len() > 2 || m.len() != 2 {
            return Err(bad());
        }
        let h: u16 = h.parse().map_err(|_| bad())?;
        let m: u16 = m.parse().map_err(|_| bad())?;
        if m > 59 || h > 24 || (h == 24 && m != 0) {
            return Err(bad());
        }
        Ok(TimeOfDay(h * 60 + m))
    }
    pub fn from_minutes(m: u16) -> Option<Self> {
        (m <= 1440).then_some(TimeOfDay(m))
    }
    pub fn minutes(&self) -> u16 {
        self.0
    }
}

impl FromStr for TimeOfDay {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        TimeOfDay::parse(s)
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

macro_rules! bounded_int {
    ($(#[$m:meta])* $name:ident, $what:literal, $min:expr, $max:expr) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(i32);

        impl $name {
            pub const MIN: i32 = $min;
            pub const MAX: i32 = $max;
            pub fn new(n: i64) -> Result<Self, Error> {
                if (i64::from(Self::MIN)..=i64::from(Self::MAX)).contains(&n) {
                    Ok($name(n as i32))
                } else {
                    Err(Error::invalid(format!(
                        "{} must be between {} and {}, not {n}",
                        $what, Self::MIN, Self::MAX
                    )))
                }
            }
            pub fn parse(s: &str) -> Result<Self, Error> {
                let t = s.trim();
                let n: i64 = t.parse().map_err(|_| {
                    Error::invalid(format!("{} must be a whole number, not '{t}'", $what))
                })?;
                Self::new(n)
            }
            pub fn get(&self) -> i32 {
                self.0
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                $name::parse(s)
            }
        }
    };
}

bounded_int!(
    /// A session length in minutes.
    SessionMinutes, "session length (minutes)", 5, 1440
);
bounded_int!(
    /// Minutes kept free before and after a session.
    BufferMinutes, "buffer (minutes)", 0, 1440
);
bounded_int!(
    /// A member's rating of a completed session.
    Rating, "rating", 1, 5
);
bounded_int!(
    /// Sessions that may start in one slot (`max_sessions_per_slot`).
    SlotCapacity, "capacity (sessions per slot)", 1, 1000
);
bounded_int!(
    /// Minimum notice before a slot may be booked, in minutes.
    NoticeMinutes, "minimum notice (minutes)", 0, 525_600
);
bounded_int!(
    /// How many days ahead bookings are taken.
    HorizonDays, "booking horizon (days)", 1, 3650
);
bounded_int!(
    /// A booking limit: most sessions a day or a week (issue 20).
    SessionLimit, "session limit", 1, 10_000
);
bounded_int!(
    /// Hours before a start inside which a member's cancellation is late.
    CancelNoticeHours, "cancellation notice (hours)", 1, 8760
);
bounded_int!(
    /// Minutes a waitlist offer holds its seat.
    OfferMinutes, "waitlist offer (minutes)", 1, 525_600
);

/// The years a typed date or time may fall in: room for any schedule, and
/// a typo such as `20277` or `0027` is refused instead of stored.
pub const YEARS: std::ops::RangeInclusive<i32> = 1900..=2199;

/// Refuse a date outside [`YEARS`]; `t` is the value as typed.
fn within_years(t: &str, date: chrono::NaiveDate) -> Result<(), Error> {
    use chrono::Datelike;
    if YEARS.contains(&date.year()) {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "'{t}' is outside the years {}-{} that coachctl accepts",
            YEARS.start(),
            YEARS.end()
        )))
    }
}

macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(&self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn parse(s: &str) -> Result<Self, Error> {
                let t = s.trim().to_ascii_lowercase().replace('-', "_");
                match t.as_str() {
                    $($text => Ok($name::$variant),)+
                    _ => Err(Error::invalid(format!(
                        "'{}' is not a valid {}; expected one of: {}",
                        s.trim(), $what, [$($text),+].join(", ")
                    ))),
                }
            }
            /// For values read back from the database, which constrains them.
            pub(crate) fn from_db(s: &str) -> Result<Self, Error> {
                Self::parse(s).map_err(|_| Error::Internal(format!("unexpected {} '{}' in the database", $what, s)))
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> { $name::parse(s) }
        }
        display_via_as_str!($name);
    };
}

text_enum!(
    /// What a user is: DESIGN.md "Identity and permissions".
    Role, "role", { Admin => "admin", Coach => "coach", Member => "member" }
);
text_enum!(
    /// A member's membership (seed 002: active, inactive, paused).
    MembershipStatus, "membership status", { Active => "active", Inactive => "inactive", Paused => "paused" }
);
text_enum!(
    /// Onboarding progress; new members start `pending`.
    OnboardingStatus, "onboarding status", { Pending => "pending", InProgress => "in_progress", Completed => "completed" }
);
text_enum!(
    /// Where a session is in its life (seed 002).
    SessionStatus, "session status", { Proposed => "proposed", Scheduled => "scheduled", Declined => "declined", Expired => "expired", Completed => "completed", Cancelled => "cancelled" }
);
text_enum!(
    /// The kind of session.
    SessionType, "session type", { Initial => "initial", Regular => "regular", Followup => "followup" }
);
text_enum!(
    /// Who may find a member in coach search (seed 000).
    Privacy, "privacy level", { Public => "public", Connections => "connections", Private => "private" }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_ref_is_an_id_or_an_email() {
        assert!(matches!(
            UserRef::parse("bo@example.com"),
            Ok(UserRef::Email(_))
        ));
        assert!(matches!(
            UserRef::parse("67e55044-10b1-426f-9247-bb680e5fe0c8"),
            Ok(UserRef::Id(_))
        ));
        assert!(UserRef::parse("bob").is_err());
    }

    #[test]
    fn onboarding_accepts_dashes() {
        assert_eq!(
            OnboardingStatus::parse("in-progress").unwrap(),
            OnboardingStatus::InProgress
        );
    }

    #[test]
    fn days_accept_short_and_full_names_and_numbers() {
        assert_eq!(DayOfWeek::parse("mon").unwrap().index(), 1);
        assert_eq!(DayOfWeek::parse("Sunday").unwrap().index(), 0);
        assert_eq!(DayOfWeek::parse("6").unwrap().index(), 6);
        assert!(DayOfWeek::parse("7").is_err());
        assert!(DayOfWeek::parse("mo").is_err());
    }

    #[test]
    fn times_of_day_are_hh_mm_up_to_24_00() {
        assert_eq!(TimeOfDay::parse("09:30").unwrap().minutes(), 570);
        assert_eq!(TimeOfDay::parse("24:00").unwrap().minutes(), 1440);
        assert!(TimeOfDay::parse("24:01").is_err());
        assert!(TimeOfDay::parse("9:5").is_err());
        assert!(TimeOfDay::parse("12:60").is_err());
    }

    #[test]
    fn a_local_time_in_a_dst_gap_does_not_exist() {
        let at = At::parse("2027-03-28T02:30").unwrap();
        assert!(at.resolve(chrono_tz::Europe::Berlin).is_err());
        let fall = At::parse("2027-10-31T02:30")
            .unwrap()
            .resolve(chrono_tz::Europe::Berlin)
            .unwrap();
        // the first 02:30 is still summer time (+02:00)
        assert_eq!(fall.to_rfc3339(), "2027-10-31T00:30:00+00:00");
    }

    #[test]
    fn dates_and_times_outside_1900_to_2199_are_refused() {
        for bad in ["1899-12-31", "2200-01-01", "0027-03-29", "+20277-03-29"] {
            assert!(Date::parse(bad).is_err(), "{bad}");
            assert!(Bound::parse(bad).is_err(), "{bad}");
        }
        for bad in [
            "1899-12-31T23:00",
            "2200-01-01T00:00",
            "2200-01-01T00:30:00+01:00",
            "1899-12-31T23:59:59Z",
            "9999-12-31 10:00",
        ] {
            let err = At::parse(bad).unwrap_err().to_string();
            assert!(err.contains("1900-2199"), "{bad}: {err}");
            assert!(
                Bound::parse(bad)
                    .unwrap_err()
                    .to_string()
                    .contains("1900-2199")
            );
        }
        assert!(Date::parse("1900-01-01").is_ok());
        assert!(Date::parse("2199-12-31").is_ok());
        assert!(At::parse("2199-12-31T23:59").is_ok());
        // the year as typed counts, not the year in UTC
        assert!(At::parse("1900-01-01T00:30:00+01:00").is_ok());
    }

    #[test]
    fn a_name_refuses_invisible_and_bidi_characters_and_is_composed() {
        for bad in [
            "Ana\u{200B}",
            "A\u{202E}na",
            "Ana\nCoach",
            "Ana\u{2066}x",
            "An\u{AD}a",
        ] {
            assert!(PersonName::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            PersonName::parse("Zoe\u{301}").unwrap().as_str(),
            "Zo\u{e9}"
        );
    }

    #[test]
    fn free_text_keeps_newlines_but_refuses_other_controls_and_overrides() {
        assert_eq!(
            ProfileText::parse("line one\r\nline two").unwrap().as_str(),
            "line one\nline two"
        );
        for bad in [
            "a\u{1b}[2J",
            "tab\there",
            "lone\rreturn",
            "x\u{202E}y",
            "x\u{2069}",
        ] {
            assert!(ProfileText::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn zero_max_members_is_rejected() {
        assert!(MaxMembers::parse("0").is_err());
        assert_eq!(MaxMembers::parse("5").unwrap().get(), 5);
    }
}
