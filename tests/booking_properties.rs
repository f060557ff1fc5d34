//! Property tests for slots and booking: seed 002 properties 15, 16 and
//! 23-29, on the pure slot grid and on the real database.

mod common;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use coachctl::actor::Actor;
use coachctl::availability::{self, NewWindow};
use coachctl::booking::{self, Request, SLOT_FULL};
use coachctl::coach::{self, NewCoach, ProfileUpdate};
use coachctl::domain::{
    At, BufferMinutes, DayOfWeek, Email, MaxMembers, PersonName, SessionMinutes, SlotCapacity,
    TimeOfDay, TimeZone, UserId, UserRef,
};
use coachctl::error::Error;
use coachctl::member::{self, NewMember};
use coachctl::schedule::{Busy, Schedule, WindowSpec, local_instant};
use coachctl::session;
use proptest::prelude::*;

// ------------------------------------------------- the pure slot grid

fn zone() -> impl Strategy<Value = chrono_tz::Tz> {
    prop::sample::select(vec![
        chrono_tz::Europe::Berlin,
        chrono_tz::America::New_York,
        chrono_tz::Asia::Tokyo,
        chrono_tz::Australia::Sydney,
        chrono_tz::UTC,
    ])
}

/// Up to three non-overlapping windows on each of a few days.
fn windows() -> impl Strategy<Value = Vec<WindowSpec>> {
    prop::collection::vec(
        (0u8..7, 0u16..20, 1u16..8, 15u16..120, 0u16..30, 1u32..4),
        1..6,
    )
    .prop_map(|specs| {
        let mut out: Vec<WindowSpec> = Vec::new();
        for (day, start_q, len_q, length, buffer, capacity) in specs {
            let start = start_q * 60 + 30 * (start_q % 2);
            let end = (start + len_q * 60).min(1440);
            let day = DayOfWeek::from_index(day).unwrap();
            let clash = out
                .iter()
                .any(|w| w.day == day && w.start_minute < end && start < w.end_minute);
            if clash || start + length > end {
                continue;
            }
            out.push(WindowSpec {
                id: uuid::Uuid::new_v4(),
                day,
                start_minute: start,
                end_minute: end,
                length_minutes: length,
                buffer_minutes: buffer,
                capacity,
            });
        }
        out
    })
}

fn base() -> NaiveDate {
    NaiveDate::from_ymd_opt(2027, 3, 22).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Properties 15, 23, 24, 25: every offered slot lies on a window's grid,
    /// has room, keeps clear of other sessions' buffers and of blocked days,
    /// lies after now; and every grid slot meeting all of that is offered.
    #[test]
    fn offered_slots_are_exactly_the_grid_slots_that_meet_every_rule(
        tz in zone(),
        windows in windows(),
        busy in prop::collection::vec((0i64..14 * 24 * 4, 1i64..8, 0u16..30), 0..12),
        blocked in prop::collection::vec(0i64..14, 0..3),
        now_q in 0i64..14 * 24,
    ) {
        let from = base();
        let to = from + Duration::days(13);
        let start_of = local_instant(tz, from, 0).unwrap_or_else(|| local_instant(tz, from, 60).unwrap());
        let sessions: Vec<Busy> = busy
            .iter()
            .map(|(q, len, b)| {
                let s = start_of + Duration::minutes(q * 15);
                Busy { start: s, end: s + Duration::minutes(len * 15), buffer_minutes: *b }
            })
            .collect();
        let schedule = Schedule {
            tz,
            windows: windows.clone(),
            blocks: blocked.iter().map(|d| (from + Duration::days(*d), from + Duration::days(*d))).collect(),
            sessions: sessions.clone(),
            min_notice_minutes: 0,
            horizon_days: None,
        };
        let now = start_of + Duration::hours(now_q);
        let offered = schedule.offered(from, to, now, false);
        let grid = schedule.grid(from, to);
        for slot in &grid {
            let local = slot.start.with_timezone(&tz);
            let w = windows.iter().find(|w| w.id == slot.window_id).unwrap();
            // on the window's grid, in the coach's zone
            prop_assert_eq!(DayOfWeek::of(local.date_naive()), w.day);
            let minute = (local.naive_local() - local.date_naive().and_hms_opt(0, 0, 0).unwrap()).num_minutes() as u16;
            prop_assert!(minute >= w.start_minute && minute + w.length_minutes <= w.end_minute);
            prop_assert_eq!((minute - w.start_minute) % (w.length_minutes + w.buffer_minutes), 0);
            let booked = sessions.iter().filter(|b| b.start == slot.start).count() as u32;
            let buffer_clash = sessions.iter().any(|b| {
                let gap = Duration::minutes(i64::from(b.buffer_minutes.max(w.buffer_minutes)));
                b.start != slot.start && b.start < slot.end + gap && slot.start - gap < b.end
            });
            let blocked_day = blocked.iter().any(|d| from + Duration::days(*d) == local.date_naive());
            let should = slot.start > now && booked < w.capacity && !buffer_clash && !blocked_day;
            let got = offered.iter().find(|o| o.start == slot.start);
            prop_assert_eq!(got.is_some(), should, "slot {} booked {} clash {} blocked {}", local, booked, buffer_clash, blocked_day);
            if let Some(o) = got {
                prop_assert_eq!(o.remaining, w.capacity - booked);
                prop_assert_eq!(o.capacity, w.capacity);
            }
        }
        prop_assert!(offered.iter().all(|o| grid.iter().any(|g| g.start == o.start)));
    }

    /// A window's local times hold on every date, DST or not: a slot never
    /// moves off its wall-clock time (it is skipped only when that time does
    /// not exist that day).
    #[test]
    fn slots_keep_their_wall_clock_time_across_dst(tz in zone(), windows in windows(), week in 0i64..52) {
        let from = NaiveDate::from_ymd_opt(2027, 1, 4).unwrap() + Duration::weeks(week);
        let schedule = Schedule { tz, windows: windows.clone(), blocks: vec![], sessions: vec![], min_notice_minutes: 0, horizon_days: None };
        for slot in schedule.grid(from, from + Duration::days(6)) {
            let w = windows.iter().find(|w| w.id == slot.window_id).unwrap();
            let local = slot.start.with_timezone(&tz);
            let minute = (local.naive_local() - local.date_naive().and_hms_opt(0, 0, 0).unwrap()).num_minutes() as u16;
            prop_assert!(minute >= w.start_minute && (minute - w.start_minute).is_multiple_of(w.length_minutes + w.buffer_minutes));
        }
    }
}

/// The slots of local dates `from..=to` by the rules of DESIGN.md "Slots",
/// slot by slot against every session: slow and plain, for comparison.
fn reference_offered(
    s: &Schedule,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
    include_full: bool,
) -> Vec<(DateTime<Utc>, DateTime<Utc>, u32, u32)> {
    let mut out = Vec::new();
    let mut date = from;
    while date <= to {
        for w in s.windows.iter().filter(|w| w.day == DayOfWeek::of(date)) {
            let mut m = w.start_minute;
            while m + w.length_minutes <= w.end_minute {
                if let Some(start) = local_instant(s.tz, date, m) {
                    let end = start + Duration::minutes(i64::from(w.length_minutes));
                    let local_date = start.with_timezone(&s.tz).date_naive();
                    let too_soon = start <= now + Duration::minutes(s.min_notice_minutes);
                    let too_far = s
                        .horizon_days
                        .is_some_and(|d| start > now + Duration::days(d));
                    let blocked = s
                        .blocks
                        .iter()
                        .any(|(a, b)| *a <= local_date && local_date <= *b);
                    let booked = s.sessions.iter().filter(|b| b.start == start).count() as u32;
                    let clash = s.sessions.iter().any(|b| {
                        let gap =
                            Duration::minutes(i64::from(b.buffer_minutes.max(w.buffer_minutes)));
                        b.start != start && b.start < end + gap && start - gap < b.end
                    });
                    let remaining = w.capacity.saturating_sub(booked);
                    if !too_soon
                        && !too_far
                        && !blocked
                        && !clash
                        && (remaining > 0 || include_full)
                    {
                        out.push((start, end, remaining, w.capacity));
                    }
                }
                m += w.length_minutes + w.buffer_minutes;
            }
        }
        date = date.succ_opt().unwrap();
    }
    out.sort_by_key(|t| t.0);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// The fast computation (sessions sorted once, each slot looking only
    /// at its neighbours) lists exactly what a check of every slot against
    /// every session lists: many sessions, most on slot starts (capacity),
    /// some off the grid (buffers), notice, horizon, blocked ranges, full
    /// slots listed or not.
    #[test]
    fn offered_slots_match_a_check_of_every_slot_against_every_session(
        tz in zone(),
        windows in windows(),
        on_grid in prop::collection::vec(0usize..400, 0..300),
        off_grid in prop::collection::vec((0i64..21 * 24 * 12, 1i64..24, 0u16..60), 0..40),
        blocked in prop::collection::vec((0i64..21, 0i64..3), 0..3),
        notice in prop_oneof![Just(0i64), 1i64..3000],
        horizon in proptest::option::of(0i64..21),
        now_q in 0i64..21 * 24,
        include_full in any::<bool>(),
    ) {
        let from = base();
        let to = from + Duration::days(20);
        let grid = Schedule { tz, windows: windows.clone(), blocks: vec![], sessions: vec![], min_notice_minutes: 0, horizon_days: None }
            .grid(from - Duration::days(1), to + Duration::days(1));
        prop_assume!(!grid.is_empty());
        let start_of = local_instant(tz, from, 0).unwrap_or_else(|| local_instant(tz, from, 60).unwrap());
        // sessions in any order, as the database returns them
        let mut sessions: Vec<Busy> = on_grid
            .iter()
            .map(|i| {
                let g = grid[i % grid.len()];
                Busy { start: g.start, end: g.end, buffer_minutes: g.buffer_minutes }
            })
            .collect();
        sessions.extend(off_grid.iter().map(|(q, len, b)| {
            let s = start_of + Duration::minutes(q * 5 - 24 * 60);
            Busy { start: s, end: s + Duration::minutes(len * 5), buffer_minutes: *b }
        }));
        let schedule = Schedule {
            tz,
            windows,
            blocks: blocked.iter().map(|(d, n)| (from + Duration::days(*d), from + Duration::days(d + n))).collect(),
            sessions,
            min_notice_minutes: notice,
            horizon_days: horizon,
        };
        let now = start_of + Duration::hours(now_q);
        let fast: Vec<_> = schedule
            .offered(from, to, now, include_full)
            .iter()
            .map(|s| (s.start, s.end, s.remaining, s.capacity))
            .collect();
        prop_assert_eq!(fast, reference_offered(&schedule, from, to, now, include_full));
    }
}

// ------------------------------------- booking against the database

#[derive(Debug, Clone)]
enum Op {
    Book { member: usize, slot: usize },
    Cancel { nth: usize },
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            3 => (0usize..6, 0usize..4).prop_map(|(member, slot)| Op::Book { member, slot }),
            1 => (0usize..8).prop_map(|nth| Op::Cancel { nth }),
        ],
        1..24,
    )
}

/// The slots of the test schedule (Monday, Berlin): (local start, length,
/// buffer, capacity). 10:15-11:15 with 15 minutes buffer collides with
/// 11:20 (buffer 10), so the model must honour buffers across windows.
const SLOTS: [(&str, i64, i64, u32); 4] = [
    ("09:00", 60, 15, 2),
    ("10:15", 60, 15, 2),
    ("11:20", 30, 10, 1),
    ("12:00", 30, 10, 1),
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Properties 16, 26, 27, 29: after any sequence of bookings and
    /// cancellations, each outcome is what a simple model predicts, no slot
    /// holds more than its capacity, the slot counters equal the scheduled
    /// sessions, and no two scheduled sessions sit within each other's
    /// buffers.
    #[test]
    fn random_bookings_and_cancellations_keep_every_invariant(ops in ops()) {
        let rt = common::runtime();
        let db = rt.block_on(common::TestDb::new_async());
        rt.block_on(async {
            let pool = db.pool().await;
            let admin = Actor::operator();
            let tz = chrono_tz::Europe::Berlin;
            let coach = coach::create(&pool, &admin, NewCoach {
                email: Email::parse("ana@example.com").unwrap(),
                name: PersonName::parse("Ana").unwrap(),
                timezone: TimeZone::parse("Europe/Berlin").unwrap(),
                profile: ProfileUpdate { max_members: Some(MaxMembers::parse("20").unwrap()), ..ProfileUpdate::default() },
            }).await.unwrap();
            let coach_ref = UserRef::Id(UserId::from_uuid(coach.id));
            let window = |s: &str, e: &str, len: i32, buf: i32, cap: i32| NewWindow {
                day: DayOfWeek::parse("mon").unwrap(),
                start: TimeOfDay::parse(s).unwrap(),
                end: TimeOfDay::parse(e).unwrap(),
                length: SessionMinutes::new(len.into()).unwrap(),
                buffer: BufferMinutes::new(buf.into()).unwrap(),
                capacity: SlotCapacity::new(cap.into()).unwrap(),
            };
            availability::add(&pool, &admin, Some(&coach_ref), window("09:00", "11:15", 60, 15, 2)).await.unwrap();
            availability::add(&pool, &admin, Some(&coach_ref), window("11:20", "12:30", 30, 10, 1)).await.unwrap();
            let mut members = Vec::new();
            for i in 0..6 {
                let m = member::create(&pool, &admin, NewMember {
                    email: Email::parse(&format!("m{i}@example.com")).unwrap(),
                    name: PersonName::parse("M").unwrap(),
                    timezone: TimeZone::utc(),
                    coach: Some(coach_ref.clone()),
                    goals: None,
                    health_info: None,
                }).await.unwrap();
                members.push(m.id);
            }
            let day = common::monday();
            let starts: Vec<DateTime<Utc>> = SLOTS
                .iter()
                .map(|(t, ..)| At::parse(&format!("{day}T{t}")).unwrap().resolve(tz).unwrap())
                .collect();
            // the model: scheduled sessions as (slot index, session id, member index)
            let mut model: Vec<(usize, uuid::Uuid, usize)> = Vec::new();
            let mut booked_ids: Vec<uuid::Uuid> = Vec::new();
            for op in &ops {
                match op {
                    Op::Book { member, slot } => {
                        let (_, len, buf, cap) = SLOTS[*slot];
                        let here = model.iter().filter(|(s, _, _)| s == slot).count() as u32;
                        let seated = model.iter().any(|(s, _, m)| s == slot && m == member);
                        let s0 = starts[*slot];
                        let clash = model.iter().any(|(o, _, _)| {
                            let (_, olen, obuf, _) = SLOTS[*o];
                            let gap = Duration::minutes(buf.max(obuf));
                            *o != *slot
                                && starts[*o] < s0 + Duration::minutes(len) + gap
                                && s0 - gap < starts[*o] + Duration::minutes(olen)
                        });
                        let req = Request {
                            coach: coach_ref.clone(),
                            member: Some(UserRef::Id(UserId::from_uuid(members[*member]))),
                            at: At::Absolute(s0),
                            notes: None,
                            session_type: None,
                        };
                        let got = booking::book(&pool, &admin, &req).await;
                        match (&got, clash, here >= cap, seated) {
                            (Ok(b), false, false, false) => {
                                model.push((*slot, b.session_id, *member));
                                booked_ids.push(b.session_id);
                            }
                            (Err(Error::Rule(m)), true, _, _) => assert!(m.contains("buffer"), "{m}"),
                            (Err(Error::Conflict(m)), false, true, _) => assert_eq!(m, SLOT_FULL),
                            (Err(Error::Conflict(m)), false, false, true) => assert!(m.contains("already has a seat"), "{m}"),
                            other => panic!("model and database disagree: {other:?} for {op:?} with {model:?}"),
                        }
                    }
                    Op::Cancel { nth } => {
                        let Some(id) = booked_ids.get(*nth).copied() else { continue };
                        let scheduled = model.iter().any(|(_, s, _)| *s == id);
                        let got = session::cancel(&pool, &admin, id, None).await;
                        match (&got, scheduled) {
                            (Ok(_), true) => model.retain(|(_, s, _)| *s != id),
                            (Err(Error::Rule(_)), false) => {}
                            other => panic!("cancel disagrees with the model: {other:?}"),
                        }
                    }
                }
            }
            // invariants, read back from the database
            let per_start: Vec<(DateTime<Utc>, i64)> = sqlx::query_as(
                "SELECT starts_at, count(*) FROM sessions WHERE status = 'scheduled' GROUP BY starts_at")
                .fetch_all(&pool).await.unwrap();
            let counters: BTreeMap<DateTime<Utc>, (i32, i32)> = sqlx::query_as::<_, (DateTime<Utc>, i32, i32)>(
                "SELECT starts_at, booked, capacity FROM slots")
                .fetch_all(&pool).await.unwrap()
                .into_iter().map(|(s, b, c)| (s, (b, c))).collect();
            for (start, n) in &per_start {
                let (booked, capacity) = counters[start];
                assert_eq!(i64::from(booked), *n);
                assert!(booked <= capacity);
            }
            assert_eq!(counters.values().map(|(b, _)| i64::from(*b)).sum::<i64>(), per_start.iter().map(|(_, n)| n).sum::<i64>());
            assert_eq!(per_start.iter().map(|(_, n)| *n as usize).sum::<usize>(), model.len());
            let clashes: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM sessions a JOIN sessions b
                   ON a.coach_id = b.coach_id AND a.starts_at < b.starts_at
                  WHERE a.status = 'scheduled' AND b.status = 'scheduled'
                    AND b.starts_at < a.ends_at + make_interval(mins => greatest(a.buffer_minutes, b.buffer_minutes))")
                .fetch_one(&pool).await.unwrap();
            assert_eq!(clashes, 0);
            pool.close().await;
        });
    }
}
