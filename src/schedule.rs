//! The slot grid, as a pure function of a coach's schedule: no database, so
//! the rules of DESIGN.md "Slots" can be tested directly (and as properties).
//!
//! Each window yields slots starting at its start, every `length + buffer`
//! minutes, while `start + length <= end`, for every local date, computed in
//! the coach's zone: a local start that does not exist on a DST day is
//! skipped, an ambiguous one takes its first occurrence. Each local date is
//! resolved on its own, so an afternoon window never shifts by an hour on a
//! DST day.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use uuid::Uuid;

use crate::domain::DayOfWeek;
// Lives in domain::when, which resolves dates with it; callers keep this path.
pub use crate::domain::local_instant;

/// A weekly availability window (times in minutes after local midnight).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowSpec {
    pub id: Uuid,
    pub day: DayOfWeek,
    pub start_minute: u16,
    pub end_minute: u16,
    pub length_minutes: u16,
    pub buffer_minutes: u16,
    pub capacity: u32,
}

/// A scheduled session that occupies the coach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub buffer_minutes: u16,
}

/// Everything that decides which slots a coach offers.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub tz: chrono_tz::Tz,
    pub windows: Vec<WindowSpec>,
    /// Blocked local dates, first to last inclusive.
    pub blocks: Vec<(NaiveDate, NaiveDate)>,
    /// Scheduled sessions, in any order.
    pub sessions: Vec<Busy>,
    pub min_notice_minutes: i64,
    pub horizon_days: Option<i64>,
}

/// A slot of the grid and how much room it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Slot {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub remaining: u32,
    pub capacity: u32,
    #[serde(skip)]
    pub window_id: Uuid,
    #[serde(skip)]
    pub buffer_minutes: u16,
}

/// Why a time is not an offered slot (exit 7 when booking).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No window of the coach has a slot starting at this time.
    OutsideAvailability,
    /// The local date is blocked.
    Blocked(NaiveDate),
    /// In the past, or closer than the minimum notice.
    TooSoon { notice_minutes: i64 },
    /// Further ahead than the booking horizon.
    BeyondHorizon { days: i64 },
    /// Another scheduled session is within the buffer.
    Buffer { other_start: DateTime<Utc> },
}

impl Refusal {
    pub fn sentence(&self, tz: chrono_tz::Tz) -> String {
        match self {
            Refusal::OutsideAvailability => {
                "that time is not a slot start of the coach's availability; see `coachctl slots`"
                    .into()
            }
            Refusal::Blocked(d) => format!("the coach has blocked {d} (time off)"),
            Refusal::TooSoon { notice_minutes: 0 } => "that slot has already started".into(),
            Refusal::TooSoon { notice_minutes } => {
                format!("that slot is too soon: the coach needs {notice_minutes} minutes' notice")
            }
            Refusal::BeyondHorizon { days } => {
                format!(
                    "that slot is too far ahead: the coach takes bookings up to {days} days ahead"
                )
            }
            Refusal::Buffer { other_start } => format!(
                "that slot is within the buffer time of another session at {}",
                crate::domain::dates::moment_now(*other_start, tz)
            ),
        }
    }
}

/// The sessions of a schedule sorted by start, with how far from a slot a
/// colliding one can start: each slot then looks at its few neighbours
/// (a binary search), not at every session, and compares instants only
/// (chrono's arithmetic, not its comparisons, is what costs).
struct Occupied {
    /// By start; with each session's start less and end plus its buffer.
    sessions: Vec<(Busy, DateTime<Utc>, DateTime<Utc>)>,
    /// The longest session.
    longest: Duration,
    /// The largest buffer of a session.
    widest: u16,
}

impl Occupied {
    fn new(sessions: &[Busy]) -> Self {
        let mut sorted: Vec<_> = sessions
            .iter()
            .map(|b| {
                let gap = Duration::minutes(i64::from(b.buffer_minutes));
                (*b, b.start - gap, b.end + gap)
            })
            .collect();
        sorted.sort_by_key(|(b, _, _)| b.start);
        Occupied {
            longest: sessions
                .iter()
                .map(|b| b.end - b.start)
                .max()
                .unwrap_or_default()
                .max(Duration::zero()),
            widest: sessions.iter().map(|b| b.buffer_minutes).max().unwrap_or(0),
            sessions: sorted,
        }
    }

    /// The sessions starting at `slot`'s start, or the first (by start)
    /// within the buffer (the larger of the two) of `slot`.
    fn at(&self, slot: &Slot) -> Result<u32, DateTime<Utc>> {
        let own = Duration::minutes(i64::from(slot.buffer_minutes));
        let (lo, hi) = (slot.start - own, slot.end + own);
        // A session collides only if it starts before the slot's end plus
        // the larger buffer and ends after the slot's start less it.
        let reach = Duration::minutes(i64::from(self.widest.max(slot.buffer_minutes)));
        let first = slot.start - reach - self.longest;
        let last = slot.end + reach;
        let from = self.sessions.partition_point(|(b, _, _)| b.start < first);
        let mut booked = 0u32;
        for (b, b_lo, b_hi) in self.sessions[from..]
            .iter()
            .take_while(|(b, _, _)| b.start <= last)
        {
            if b.start == slot.start {
                booked += 1;
                continue;
            }
            // gap = max(b's buffer, the slot's): b.start < end + gap and
            // start - gap < b.end, each side moved by the buffer that wins
            let clash = if b.buffer_minutes >= slot.buffer_minutes {
                *b_lo < slot.end && slot.start < *b_hi
            } else {
                b.start < hi && lo < b.end
            };
            if clash {
                return Err(b.start);
            }
        }
        Ok(booked)
    }
}

/// What a slot is checked against besides sessions: `now` moved by the
/// notice and the horizon once, not for every slot.
struct Limits {
    earliest: DateTime<Utc>,
    latest: Option<DateTime<Utc>>,
}

impl Schedule {
    fn limits(&self, now: DateTime<Utc>) -> Limits {
        Limits {
            earliest: now + Duration::minutes(self.min_notice_minutes),
            latest: self.horizon_days.map(|d| now + Duration::days(d)),
        }
    }

    fn is_blocked(&self, date: NaiveDate) -> bool {
        self.blocks.iter().any(|(a, b)| *a <= date && date <= *b)
    }

    /// The grid slots (before any filtering) of the local dates from..=to.
    pub fn grid(&self, from: NaiveDate, to: NaiveDate) -> Vec<Slot> {
        let mut out = Vec::new();
        let mut date = from;
        while date <= to {
            let day = DayOfWeek::of(date);
            for w in self.windows.iter().filter(|w| w.day == day) {
                let step = w.length_minutes + w.buffer_minutes;
                let mut m = w.start_minute;
                while m + w.length_minutes <= w.end_minute {
                    if let Some(start) = local_instant(self.tz, date, m) {
                        out.push(Slot {
                            start,
                            end: start + Duration::minutes(i64::from(w.length_minutes)),
                            remaining: w.capacity,
                            capacity: w.capacity,
                            window_id: w.id,
                            buffer_minutes: w.buffer_minutes,
                        });
                    }
                    if step == 0 {
                        break;
                    }
                    m += step;
                }
            }
            match date.succ_opt() {
                Some(d) => date = d,
                None => break,
            }
        }
        out.sort_by_key(|s| s.start);
        out
    }

    /// Check one grid slot against notice, horizon, blocks, capacity and
    /// buffers; `Ok` carries the remaining room (0 when full).
    fn assess(&self, slot: &Slot, occupied: &Occupied, limits: &Limits) -> Result<u32, Refusal> {
        if slot.start <= limits.earliest {
            return Err(Refusal::TooSoon {
                notice_minutes: self.min_notice_minutes,
            });
        }
        if let (Some(days), Some(latest)) = (self.horizon_days, limits.latest)
            && slot.start > latest
        {
            return Err(Refusal::BeyondHorizon { days });
        }
        if !self.blocks.is_empty() {
            let local_date = slot.start.with_timezone(&self.tz).date_naive();
            if self.is_blocked(local_date) {
                return Err(Refusal::Blocked(local_date));
            }
        }
        let booked = occupied
            .at(slot)
            .map_err(|other_start| Refusal::Buffer { other_start })?;
        Ok(slot.capacity.saturating_sub(booked))
    }

    /// The offered slots of local dates from..=to. With `include_full`, full
    /// slots are listed too (remaining 0).
    pub fn offered(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        now: DateTime<Utc>,
        include_full: bool,
    ) -> Vec<Slot> {
        let occupied = Occupied::new(&self.sessions);
        let limits = self.limits(now);
        self.grid(from, to)
            .into_iter()
            .filter_map(|mut slot| match self.assess(&slot, &occupied, &limits) {
                Ok(remaining) if remaining > 0 || include_full => {
                    slot.remaining = remaining;
                    Some(slot)
                }
                _ => None,
            })
            .collect()
    }

    /// Is `start` an offered slot start? `Ok` gives the slot with its
    /// remaining room, which is 0 when the slot is full.
    pub fn check(&self, start: DateTime<Utc>, now: DateTime<Utc>) -> Result<Slot, Refusal> {
        let date = start.with_timezone(&self.tz).date_naive();
        // An ambiguous local time maps to its first occurrence, which may
        // belong to the previous or next local date near midnight.
        let from = date.pred_opt().unwrap_or(date);
        let to = date.succ_opt().unwrap_or(date);
        let mut slot = self
            .grid(from, to)
            .into_iter()
            .find(|s| s.start == start)
            .ok_or(Refusal::OutsideAvailability)?;
        slot.remaining = self.assess(&slot, &Occupied::new(&self.sessions), &self.limits(now))?;
        Ok(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America, Europe};

    fn window(
        day: u8,
        start: u16,
        end: u16,
        length: u16,
        buffer: u16,
        capacity: u32,
    ) -> WindowSpec {
        WindowSpec {
            id: Uuid::nil(),
            day: DayOfWeek::from_index(day).unwrap(),
            start_minute: start,
            end_minute: end,
            length_minutes: length,
            buffer_minutes: buffer,
            capacity,
        }
    }

    fn schedule(tz: chrono_tz::Tz, windows: Vec<WindowSpec>) -> Schedule {
        Schedule {
            tz,
            windows,
            blocks: vec![],
            sessions: vec![],
            min_notice_minutes: 0,
            horizon_days: None,
        }
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn rfc(t: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
        t.with_timezone(&tz)
            .format("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    }

    fn long_ago() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2020-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_contract_example_grid_is_nine_ten_fifteen_eleven_thirty_berlin_time() {
        let s = schedule(Europe::Berlin, vec![window(1, 9 * 60, 12 * 60, 60, 15, 3)]);
        let slots = s.offered(d("2027-03-29"), d("2027-04-04"), long_ago(), false);
        let starts: Vec<String> = slots.iter().map(|x| rfc(x.start, Europe::Berlin)).collect();
        assert_eq!(
            starts,
            ["2027-03-29T09:00:00+02:00", "2027-03-29T10:15:00+02:00"],
            "11:30 + 60 > 12:00 so there is no third slot"
        );
        assert_eq!((slots[0].remaining, slots[0].capacity), (3, 3));
    }

    #[test]
    fn berlin_spring_forward_skips_the_missing_hour_and_keeps_the_afternoon_window() {
        // 2027-03-28 is a Sunday: 02:00 -> 03:00 in Berlin.
        let s = schedule(
            Europe::Berlin,
            vec![
                window(0, 60, 4 * 60, 30, 0, 1),
                window(0, 14 * 60, 15 * 60, 60, 0, 1),
            ],
        );
        let slots = s.offered(d("2027-03-28"), d("2027-03-28"), long_ago(), false);
        let starts: Vec<String> = slots.iter().map(|x| rfc(x.start, Europe::Berlin)).collect();
        assert_eq!(
            starts,
            [
                "2027-03-28T01:00:00+01:00",
                "2027-03-28T01:30:00+01:00",
                // 02:00 and 02:30 do not exist
                "2027-03-28T03:00:00+02:00",
                "2027-03-28T03:30:00+02:00",
                "2027-03-28T14:00:00+02:00",
            ]
        );
    }

    #[test]
    fn berlin_fall_back_takes_the_first_of_an_ambiguous_time() {
        // 2027-10-31 is a Sunday: 03:00 -> 02:00 in Berlin.
        let s = schedule(
            Europe::Berlin,
            vec![
                window(0, 2 * 60, 3 * 60, 30, 0, 1),
                window(0, 13 * 60 + 30, 15 * 60, 90, 0, 1),
            ],
        );
        let slots = s.offered(d("2027-10-31"), d("2027-10-31"), long_ago(), false);
        let starts: Vec<String> = slots.iter().map(|x| rfc(x.start, Europe::Berlin)).collect();
        assert_eq!(
            starts,
            [
                "2027-10-31T02:00:00+02:00",
                "2027-10-31T02:30:00+02:00",
                "2027-10-31T13:30:00+01:00"
            ]
        );
    }

    #[test]
    fn new_york_spring_forward_and_fall_back_keep_afternoon_windows_in_place() {
        // 2027-03-14 and 2027-11-07 are Sundays with DST changes in New York.
        let s = schedule(
            America::New_York,
            vec![window(0, 15 * 60, 16 * 60, 60, 0, 1)],
        );
        let spring = s.offered(d("2027-03-13"), d("2027-03-14"), long_ago(), false);
        assert_eq!(
            rfc(spring[0].start, America::New_York),
            "2027-03-14T15:00:00-04:00"
        );
        let fall = s.offered(d("2027-11-07"), d("2027-11-07"), long_ago(), false);
        assert_eq!(
            rfc(fall[0].start, America::New_York),
            "2027-11-07T15:00:00-05:00"
        );
        // the week before, same local time, other offset
        let before = s.offered(d("2027-03-07"), d("2027-03-07"), long_ago(), false);
        assert_eq!(
            rfc(before[0].start, America::New_York),
            "2027-03-07T15:00:00-05:00"
        );
    }

    #[test]
    fn new_york_spring_forward_skips_two_thirty() {
        let s = schedule(
            America::New_York,
            vec![window(0, 2 * 60, 3 * 60 + 30, 30, 0, 1)],
        );
        let slots = s.offered(d("2027-03-14"), d("2027-03-14"), long_ago(), false);
        let starts: Vec<String> = slots
            .iter()
            .map(|x| rfc(x.start, America::New_York))
            .collect();
        assert_eq!(starts, ["2027-03-14T03:00:00-04:00"]);
    }

    #[test]
    fn a_full_slot_is_hidden_unless_asked_for() {
        let mut s = schedule(Europe::Berlin, vec![window(1, 9 * 60, 10 * 60, 60, 0, 1)]);
        let slot = s.offered(d("2027-03-29"), d("2027-03-29"), long_ago(), false)[0];
        s.sessions.push(Busy {
            start: slot.start,
            end: slot.end,
            buffer_minutes: 0,
        });
        assert!(
            s.offered(d("2027-03-29"), d("2027-03-29"), long_ago(), false)
                .is_empty()
        );
        let all = s.offered(d("2027-03-29"), d("2027-03-29"), long_ago(), true);
        assert_eq!(all[0].remaining, 0);
        assert_eq!(s.check(slot.start, long_ago()).unwrap().remaining, 0);
    }

    #[test]
    fn a_session_within_the_buffer_hides_the_neighbouring_slot() {
        let mut s = schedule(Europe::Berlin, vec![window(1, 9 * 60, 12 * 60, 60, 15, 1)]);
        let grid = s.offered(d("2027-03-29"), d("2027-03-29"), long_ago(), false);
        // an off-grid session at 10:05-10:35 collides with both 09:00 (ends 10:00, +15) and 10:15
        let odd = grid[0].start + Duration::minutes(65);
        s.sessions.push(Busy {
            start: odd,
            end: odd + Duration::minutes(30),
            buffer_minutes: 0,
        });
        assert!(
            s.offered(d("2027-03-29"), d("2027-03-29"), long_ago(), false)
                .is_empty()
        );
        assert!(matches!(
            s.check(grid[1].start, long_ago()),
            Err(Refusal::Buffer { .. })
        ));
    }

    #[test]
    fn blocked_days_notice_and_horizon_hide_slots() {
        let mut s = schedule(Europe::Berlin, vec![window(1, 9 * 60, 10 * 60, 60, 0, 1)]);
        let first = s.offered(d("2027-03-29"), d("2027-03-29"), long_ago(), false)[0].start;
        s.blocks.push((d("2027-03-29"), d("2027-03-29")));
        assert_eq!(
            s.check(first, long_ago()),
            Err(Refusal::Blocked(d("2027-03-29")))
        );
        s.blocks.clear();
        s.min_notice_minutes = 120;
        let now = first - Duration::minutes(60);
        assert!(matches!(s.check(first, now), Err(Refusal::TooSoon { .. })));
        s.min_notice_minutes = 0;
        s.horizon_days = Some(7);
        assert!(matches!(
            s.check(first, first - Duration::days(8)),
            Err(Refusal::BeyondHorizon { .. })
        ));
        assert!(s.check(first, first - Duration::days(6)).is_ok());
        assert!(matches!(
            s.check(first, first),
            Err(Refusal::TooSoon { .. })
        ));
        assert_eq!(
            s.check(first + Duration::minutes(5), long_ago()),
            Err(Refusal::OutsideAvailability)
        );
    }
}
