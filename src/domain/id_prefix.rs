//! The start of an id as typed, like git's short ids; resolved against the
//! database by `crate::ids`.

use std::fmt;

use uuid::Uuid;

use crate::error::{Error, Result};

/// Fewest hex digits a prefix may have (what tables show).
pub const MIN_DIGITS: usize = 8;

/// The start of a UUID as typed: 8 to 31 hex digits, dashes ignored.
/// Kept as the range of UUIDs it covers, which the primary key's index
/// answers (uuid order is the order of its hex digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdPrefix {
    digits: String,
    pub(crate) low: Uuid,
    pub(crate) high: Uuid,
}

impl IdPrefix {
    pub fn parse(s: &str) -> Result<Self> {
        let t = s.trim();
        let digits: String = t.chars().filter(|c| *c != '-').collect();
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_hexdigit()) || digits.len() > 32
        {
            return Err(Error::invalid(format!(
                "'{t}' is not an id; use the full id or at least its first {MIN_DIGITS} hex digits"
            )));
        }
        if digits.len() < MIN_DIGITS {
            return Err(Error::invalid(format!(
                "the id prefix '{t}' is too short: give at least {MIN_DIGITS} hex digits (it has {})",
                digits.len()
            )));
        }
        let digits = digits.to_ascii_lowercase();
        let pad = |c: char| {
            let mut full = digits.clone();
            while full.len() < 32 {
                full.push(c);
            }
            Uuid::parse_str(&full)
        };
        match (pad('0'), pad('f')) {
            (Ok(low), Ok(high)) => Ok(IdPrefix { digits, low, high }),
            _ => Err(Error::invalid(format!("'{t}' is not an id"))),
        }
    }

    /// Whether `s` looks like an attempt at an id (hex digits and dashes).
    pub fn looks_like(s: &str) -> bool {
        let t = s.trim();
        !t.is_empty() && t.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
    }

    pub fn as_str(&self) -> &str {
        &self.digits
    }
}

impl fmt::Display for IdPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.digits)
    }
}
