//! The all-or-nothing property of assigning a program (issue 19): over
//! random weekly schedules, blocked dates and competing bookings, a series
//! is either entirely booked or absent, and a refusal names exactly the
//! weeks that cannot be booked, with exit 6 for full slots and 7 for rules.

mod common;

use chrono::Duration;
use coachctl::actor::Actor;
use coachctl::availability::{self, NewWindow};
use coachctl::booking::{self, Request};
use coachctl::coach::{self, NewCoach, ProfileUpdate};
use coachctl::domain::{
    At, BufferMinutes, Day, DayOfWeek, Email, MaxMembers, PersonName, ProfileText, SessionMinutes,
    SlotCapacity, TimeOfDay, TimeZone, UserId, UserRef,
};
use coachctl::error::Error;
use coachctl::member::{self, NewMember};
use coachctl::program::{self, Assignment, NewProgram, WeeklyAt};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn a_series_is_booked_whole_or_not_at_all(
        weeks in 1i32..7,
        twice in any::<bool>(),
        blocked in prop::collection::vec(0i64..7, 0..2),
        taken in prop::collection::vec((0i64..7, any::<bool>()), 0..3),
        capacity in 1i32..3,
    ) {
        let rt = common::runtime();
        let db = rt.block_on(common::TestDb::new_async());
        rt.block_on(async {
            let pool = db.pool().await;
            let admin = Actor::operator();
            let c = coach::create(&pool, &admin, NewCoach {
                email: Email::parse("ana@example.com").unwrap(),
                name: PersonName::parse("Ana").unwrap(),
                timezone: TimeZone::parse("Europe/Berlin").unwrap(),
                profile: ProfileUpdate { max_members: Some(MaxMembers::parse("20").unwrap()), ..ProfileUpdate::default() },
            }).await.unwrap();
            let cref = UserRef::Id(UserId::from_uuid(c.id));
            for day in ["wed", "fri"] {
                availability::add(&pool, &admin, Some(&cref), NewWindow {
                    day: DayOfWeek::parse(day).unwrap(),
                    start: TimeOfDay::parse("09:00").unwrap(),
                    end: TimeOfDay::parse("10:00").unwrap(),
                    length: SessionMinutes::new(60).unwrap(),
                    buffer: BufferMinutes::new(15).unwrap(),
                    capacity: SlotCapacity::new(capacity.into()).unwrap(),
                }).await.unwrap();
            }
            let mut members = Vec::new();
            for i in 0..4 {
                let m = member::create(&pool, &admin, NewMember {
                    email: Email::parse(&format!("m{i}@example.com")).unwrap(),
                    name: PersonName::parse("M").unwrap(),
                    timezone: TimeZone::utc(),
                    coach: Some(cref.clone()),
                    goals: None,
                    health_info: None,
                }).await.unwrap();
                members.push(UserRef::Id(UserId::from_uuid(m.id)));
            }
            let monday = common::monday();
            let wed = |w: i64| monday + Duration::days(2 + 7 * w);
            let fri = |w: i64| monday + Duration::days(4 + 7 * w);
            // blocked Wednesdays first (a block may not orphan a booking)
            for w in &blocked {
                availability::block(&pool, &admin, Some(&cref), Day::On(coachctl::domain::Date::from_naive(wed(*w))), None, None).await.unwrap();
            }
            // competing bookings: each fills one seat of a slot in a week
            let mut seats = std::collections::HashMap::<(i64, bool), i32>::new();
            for (n, (w, on_fri)) in taken.iter().enumerate() {
                let day = if *on_fri { fri(*w) } else { wed(*w) };
                let req = Request {
                    coach: cref.clone(),
                    member: Some(members[1 + n % 3].clone()),
                    at: At::parse(&format!("{day}T09:00")).unwrap(),
                    notes: None,
                    session_type: None,
                };
                if booking::book(&pool, &admin, &req).await.is_ok() {
                    *seats.entry((*w, *on_fri)).or_default() += 1;
                }
            }
            let p = program::create(&pool, &admin, &NewProgram {
                name: ProfileText::parse("P").unwrap(),
                weeks: weeks.to_string().parse().unwrap(),
                per_week: Some(if twice { "2" } else { "1" }.parse().unwrap()),
                length: None,
                description: None,
                difficulty: None,
                goals: vec![],
                coach: Some(cref.clone()),
                template: false,
            }).await.unwrap();
            let mut weekly: Vec<WeeklyAt> = vec!["wed 09:00".parse().unwrap()];
            if twice {
                weekly.push("fri 09:00".parse().unwrap());
            }
            // what the model expects to fail
            let mut full = 0;
            let mut ruled = 0;
            for w in 0..i64::from(weeks) {
                if blocked.contains(&w) {
                    ruled += 1;
                } else if seats.get(&(w, false)).copied().unwrap_or(0) >= capacity {
                    full += 1;
                }
                if twice && seats.get(&(w, true)).copied().unwrap_or(0) >= capacity {
                    full += 1;
                }
            }
            let got = program::series::assign(&pool, &admin, &Assignment {
                program: p.id,
                member: members[0].clone(),
                coach: None,
                start: Day::On(coachctl::domain::Date::from_naive(monday)),
                weekly,
            }, false).await;
            let in_series: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions WHERE enrolment_id IS NOT NULL")
                .fetch_one(&pool).await.unwrap();
            let enrolments: i64 = sqlx::query_scalar("SELECT count(*) FROM program_enrolments")
                .fetch_one(&pool).await.unwrap();
            let total = i64::from(weeks) * if twice { 2 } else { 1 };
            match got {
                Ok(Ok(e)) => {
                    assert_eq!((full, ruled), (0, 0), "booked although the model expected conflicts");
                    assert_eq!((in_series, enrolments, e.sessions), (total, 1, total));
                }
                Err(err) => {
                    assert_eq!((in_series, enrolments), (0, 0), "a refused series left rows: {err}");
                    let msg = err.to_string();
                    assert!(msg.contains(&format!("{} of {total} sessions", full + ruled)), "{msg}");
                    match err {
                        Error::Conflict(_) => assert_eq!(ruled, 0, "{msg}"),
                        Error::Rule(_) => assert!(ruled > 0, "{msg}"),
                        other => panic!("unexpected refusal {other:?}"),
                    }
                }
                Ok(Err(_)) => panic!("not a dry run"),
            }
            pool.close().await;
        });
        db.assert_invariants();
    }
}
