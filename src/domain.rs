//! Domain newtypes: parse, don't validate. Every value that reaches a query
//! went through one of these constructors, and each implements `FromStr` so
//! clap rejects bad input at parse time (exit 3).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use uuid::Uuid;

use crate::error::Error;

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

/// An email address, trimmed and compared case-insensitively by the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let s = s.trim();
        let bad = |why: &str| Error::invalid(format!("'{s}' is not a valid email address: {why}"));
        if s.is_empty() {
            return Err(Error::invalid("an email address is required"));
        }
        if s.len() > 254 {
            return Err(bad("longer than 254 characters"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("it contains whitespace"));
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err(bad("it has no '@'"));
        };
        if local.is_empty() || local.len() > 64 || local.contains('@') {
            return Err(bad(
                "the part before '@' is empty, too long or has another '@'",
            ));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let label_ok = |l: &&str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        };
        if labels.len() < 2 || !labels.iter().all(label_ok) {
            return Err(bad(
                "the domain after '@' is not a valid host name like example.com",
            ));
        }
        Ok(Email(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Email {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Email::parse(s)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person's display name: 1-200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let t = s.trim();
        if t.is_empty() {
            return Err(Error::invalid("a name may not be empty"));
        }
        if t.chars().count() > 200 {
            return Err(Error::invalid("a name may be at most 200 characters long"));
        }
        if t.chars().any(char::is_control) {
            return Err(Error::invalid("a name may not contain control characters"));
        }
        Ok(PersonName(t.to_string()))
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
        Err(Error::invalid(format!(
            "'{t}' is neither an id nor an email address"
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

/// Free text of a profile field (bio, goals, notes): at most 10,000 characters.
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
        if s.chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
        {
            return Err(Error::invalid(
                "a text field may not contain control characters",
            ));
        }
        Ok(ProfileText(s.trim().to_string()))
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
    /// Who may find a member in coach search (seed 000).
    Privacy, "privacy level", { Public => "public", Connections => "connections", Private => "private" }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_without_at_is_rejected() {
        assert!(Email::parse("bo.example.com").is_err());
    }

    #[test]
    fn an_email_is_trimmed() {
        assert_eq!(
            Email::parse("  bo@example.com ").unwrap().as_str(),
            "bo@example.com"
        );
    }

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
    fn zero_max_members_is_rejected() {
        assert!(MaxMembers::parse("0").is_err());
        assert_eq!(MaxMembers::parse("5").unwrap().get(), 5);
    }
}
