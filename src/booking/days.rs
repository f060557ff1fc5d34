//! The days `slots` covers as typed (`--from tomorrow --to +7d`), read in
//! the coach's zone.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;

use crate::actor::Actor;
use crate::coach::{self, Coach};
use crate::domain::{Day, UserRef};
use crate::error::{Error, Result};
use crate::schedule::Slot;

/// The local days `slots` covers, as typed: from a day (default today),
/// for a number of days (default 7) or through a last day.
#[derive(Debug, Clone, Copy, Default)]
pub struct DayRange {
    pub from: Option<Day>,
    pub to: Option<Day>,
    pub days: Option<u32>,
}

impl DayRange {
    /// The first date and the number of days, with today read in `tz`.
    pub fn resolve_at(&self, tz: chrono_tz::Tz, now: DateTime<Utc>) -> Result<(NaiveDate, u32)> {
        let today = Day::Today.resolve_at(tz, now)?.naive();
        let from = match self.from {
            Some(d) => d.resolve_at(tz, now)?.naive(),
            None => today,
        };
        let days = match (self.days, self.to) {
            (Some(d), _) => d,
            (None, Some(to)) => {
                let to = to.resolve_at(tz, now)?.naive();
                let n = (to - from).num_days() + 1;
                if n < 1 {
                    return Err(Error::invalid(format!(
                        "--to ({to}) is before --from ({from})"
                    )));
                }
                u32::try_from(n).unwrap_or(u32::MAX)
            }
            (None, None) => 7,
        };
        if days == 0 || days > 366 {
            return Err(Error::invalid(format!(
                "--days must be between 1 and 366, not {days}"
            )));
        }
        Ok((from, days))
    }
}

/// [`super::slots`] over days as typed, read in the coach's zone.
pub async fn slots_in(
    pool: &PgPool,
    actor: &Actor,
    coach_ref: &UserRef,
    range: &DayRange,
    include_full: bool,
) -> Result<(Coach, Vec<Slot>)> {
    // One connection, one lookup of the coach: each release of a pooled
    // connection costs a round trip (sqlx pings it).
    let mut conn = pool.acquire().await?;
    let c = coach::find(&mut conn, actor, coach_ref).await?;
    let (from, days) = range.resolve_at(c.tz(), Utc::now())?;
    super::slots_of(&mut conn, actor, c, Some(from), days, include_full).await
}
