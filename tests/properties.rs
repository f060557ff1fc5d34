//! Property tests: the parsers, and seed 002's correctness properties 1-10
//! and 30-35 run against the library on a real database.
//!
//! Each property names the seed property it checks ("Property N").

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};

use coachctl::actor::Actor;
use coachctl::coach::{self, NewCoach, ProfileUpdate};
use coachctl::domain::{
    Email, MaxMembers, MembershipStatus, OnboardingStatus, PersonName, Privacy, ProfileText, Role,
    TimeZone, UserId, UserRef,
};
use coachctl::error::Error;
use coachctl::member::{self, MemberUpdate, NewMember};
use proptest::prelude::*;
use sqlx::PgPool;
use tokio::runtime::Runtime;

// ---------------------------------------------------------------- parsers

proptest! {
    #[test]
    fn any_well_formed_email_parses_to_itself_trimmed(
        local in "[a-z0-9][a-z0-9._%+-]{0,19}",
        domain in "[a-z0-9]{1,10}(\\.[a-z0-9]{1,10}){0,2}\\.[a-z]{2,6}",
        pad in " {0,3}",
    ) {
        let s = format!("{pad}{local}@{domain}{pad}");
        let e = Email::parse(&s).unwrap();
        prop_assert_eq!(e.as_str(), format!("{local}@{domain}"));
    }

    #[test]
    fn a_string_without_at_is_never_an_email(s in "[^@]{0,40}") {
        prop_assert!(Email::parse(&s).is_err());
    }

    #[test]
    fn an_email_with_whitespace_inside_is_rejected(a in "[a-z]{1,8}", b in "[a-z]{1,8}") {
        let with_space = format!("{a} {b}@example.com");
        prop_assert!(Email::parse(&with_space).is_err());
    }

    #[test]
    fn every_iana_zone_parses_and_keeps_its_name(i in 0..chrono_tz::TZ_VARIANTS.len()) {
        let name = chrono_tz::TZ_VARIANTS[i].name();
        prop_assert_eq!(TimeZone::parse(name).unwrap().as_str(), name);
    }

    #[test]
    fn a_made_up_zone_is_rejected(s in "[A-Z][a-z]{3,10}/[A-Z][a-z]{3,10}") {
        prop_assume!(s.parse::<chrono_tz::Tz>().is_err());
        prop_assert!(TimeZone::parse(&s).is_err());
    }

    /// Property 7 (capacity part): max members is accepted exactly when > 0.
    #[test]
    fn max_members_is_accepted_exactly_when_positive_and_sane(n in -1000i64..200_000) {
        let parsed = MaxMembers::parse(&n.to_string());
        prop_assert_eq!(parsed.is_ok(), (1..=100_000).contains(&n));
        if let Ok(m) = parsed {
            prop_assert_eq!(i64::from(m.get()), n);
        }
    }

    #[test]
    fn a_user_ref_reads_any_uuid_as_an_id(bytes in any::<[u8; 16]>()) {
        let u = uuid::Uuid::from_bytes(bytes);
        prop_assert_eq!(UserRef::parse(&u.to_string()).unwrap(), UserRef::Id(UserId::from_uuid(u)));
    }

    #[test]
    fn status_words_round_trip_and_nothing_else_parses(s in "[a-z_]{1,12}") {
        for (ok, back) in [
            (MembershipStatus::parse(&s).ok().map(|v| v.as_str()), MembershipStatus::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>()),
            (OnboardingStatus::parse(&s).ok().map(|v| v.as_str()), OnboardingStatus::ALL.iter().map(|v| v.as_str()).collect()),
            (Privacy::parse(&s).ok().map(|v| v.as_str()), Privacy::ALL.iter().map(|v| v.as_str()).collect()),
            (Role::parse(&s).ok().map(|v| v.as_str()), Role::ALL.iter().map(|v| v.as_str()).collect()),
        ] {
            prop_assert_eq!(ok.is_some(), back.contains(&s.as_str()));
            if let Some(v) = ok { prop_assert_eq!(v, s.as_str()); }
        }
    }

    #[test]
    fn a_name_is_trimmed_and_blank_names_are_rejected(name in "[A-Za-z][A-Za-z '-]{0,40}", pad in "[ \t]{0,3}") {
        let parsed = PersonName::parse(&format!("{pad}{name}{pad}")).unwrap();
        prop_assert_eq!(parsed.as_str(), name.trim());
        prop_assert!(PersonName::parse(&pad).is_err());
    }
}

// ------------------------------------------------------ seed properties

struct World {
    rt: Runtime,
    pool: PgPool,
    _db: common::TestDb,
}

fn world() -> World {
    let rt = common::runtime();
    let db = rt.block_on(common::TestDb::new_async());
    let pool = rt.block_on(db.pool());
    World { rt, pool, _db: db }
}

static N: AtomicU64 = AtomicU64::new(0);

/// A fresh email: every case works on people of its own.
fn email(tag: &str) -> Email {
    let n = N.fetch_add(1, Ordering::Relaxed);
    Email::parse(&format!("{tag}{n}@p{}.example.com", std::process::id())).unwrap()
}

fn admin() -> Actor {
    Actor::operator()
}

fn name(s: &str) -> PersonName {
    PersonName::parse(s).unwrap()
}

async fn new_coach(pool: &PgPool, max: Option<i32>, accepting: bool) -> coach::Coach {
    let new = NewCoach {
        email: email("coach"),
        name: name("Coach"),
        timezone: TimeZone::parse("Europe/Berlin").unwrap(),
        profile: ProfileUpdate {
            max_members: max.map(|m| MaxMembers::parse(&m.to_string()).unwrap()),
            accepting_members: Some(accepting),
            ..ProfileUpdate::default()
        },
    };
    coach::create(pool, &admin(), new).await.unwrap()
}

fn signup(coach: Option<uuid::Uuid>) -> NewMember {
    NewMember {
        email: email("member"),
        name: name("Member"),
        timezone: TimeZone::utc(),
        coach: coach.map(|c| UserRef::Id(UserId::from_uuid(c))),
        goals: None,
        health_info: None,
    }
}

async fn as_user(pool: &PgPool, id: uuid::Uuid) -> Actor {
    Actor::resolve(pool, Some(&UserRef::Id(UserId::from_uuid(id))))
        .await
        .unwrap()
}

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(cases(12))]

    /// Properties 1, 30, 31, 34, 35: signup without a coach makes a user with
    /// role member and a profile with the defaults and no coach.
    #[test]
    fn a_member_signing_up_without_a_coach_gets_the_default_profile(
        who in "[A-Z][a-z]{1,12}( [A-Z][a-z]{1,12})?",
        goals in proptest::option::of("[a-z ]{1,40}"),
    ) {
        let w = world();
        w.rt.block_on(async {
            let mut new = signup(None);
            new.name = name(&who);
            new.goals = goals.as_deref().map(|g| ProfileText::parse(g).unwrap());
            let before = chrono::Utc::now();
            let m = member::create(&w.pool, &admin(), new).await.unwrap();
            let role: String = sqlx::query_scalar("SELECT role FROM users WHERE id = $1")
                .bind(m.id).fetch_one(&w.pool).await.unwrap();
            assert_eq!(role, "member");
            assert_eq!(m.membership_status, MembershipStatus::Active);
            assert_eq!(m.onboarding_status, OnboardingStatus::Pending);
            assert_eq!(m.privacy, Privacy::Connections);
            assert_eq!(m.coach_id, None);
            assert_eq!(m.name, who.trim());
            assert_eq!(m.goals.as_deref(), goals.as_deref().map(str::trim).filter(|g| !g.is_empty()));
            assert!((m.joined_at - before).num_seconds().abs() < 60);
        });
    }

    /// Property 6: a new coach gets a profile with max 20 and accepting.
    #[test]
    fn a_new_coach_gets_default_settings(max in proptest::option::of(1i32..500)) {
        let w = world();
        w.rt.block_on(async {
            let new = NewCoach {
                email: email("coach"),
                name: name("Coach"),
                timezone: TimeZone::utc(),
                profile: ProfileUpdate {
                    max_members: max.map(|m| MaxMembers::parse(&m.to_string()).unwrap()),
                    ..ProfileUpdate::default()
                },
            };
            let c = coach::create(&w.pool, &admin(), new).await.unwrap();
            assert_eq!(c.max_members, max.unwrap_or(20));
            assert!(c.accepting_members);
            assert_eq!(c.member_count, 0);
            assert_eq!(c.free_capacity, c.max_members);
        });
    }

    /// Properties 2, 3 and 5: a coach sees exactly their assigned members,
    /// an admin sees all of them, and assignment records the coach.
    #[test]
    fn a_coach_sees_exactly_their_members_and_an_admin_sees_all(
        coaches in 1usize..4,
        assignment in proptest::collection::vec(proptest::option::of(0usize..4), 0..8),
    ) {
        let w = world();
        w.rt.block_on(async {
            let mut cs = Vec::new();
            for _ in 0..coaches {
                cs.push(new_coach(&w.pool, None, true).await);
            }
            let mut made = Vec::new();
            for a in &assignment {
                let m = member::create(&w.pool, &admin(), signup(None)).await.unwrap();
                let target = a.map(|i| cs[i % coaches].id);
                if let Some(c) = target {
                    let after = member::assign(&w.pool, &admin(), &UserRef::Id(UserId::from_uuid(m.id)), &UserRef::Id(UserId::from_uuid(c))).await.unwrap();
                    assert_eq!(after.coach_id, Some(c));
                }
                made.push((m.id, target));
            }
            for c in &cs {
                let actor = as_user(&w.pool, c.id).await;
                let seen: BTreeSet<_> = member::list(&w.pool, &actor, &member::Filter::default()).await.unwrap().into_iter().map(|m| m.id).collect();
                let expected: BTreeSet<_> = made.iter().filter(|(_, t)| *t == Some(c.id)).map(|(id, _)| *id).collect();
                assert_eq!(seen, expected);
            }
            let all: BTreeSet<_> = member::list(&w.pool, &admin(), &member::Filter::default()).await.unwrap().into_iter().map(|m| m.id).collect();
            assert!(made.iter().all(|(id, _)| all.contains(id)));
        });
    }

    /// Property 4: valid profile updates persist and read back at once;
    /// invalid values are refused before anything is written.
    #[test]
    fn a_valid_member_update_persists_and_an_invalid_one_is_refused(
        goals in "[A-Za-z0-9 .,!]{0,60}",
        status in prop::sample::select(MembershipStatus::ALL.to_vec()),
        bad_status in "[a-z]{3,10}",
    ) {
        let w = world();
        w.rt.block_on(async {
            let m = member::create(&w.pool, &admin(), signup(None)).await.unwrap();
            let who = UserRef::Id(UserId::from_uuid(m.id));
            let change = MemberUpdate {
                goals: Some(ProfileText::parse(&goals).unwrap()),
                membership_status: Some(status),
                ..MemberUpdate::default()
            };
            member::update(&w.pool, &admin(), &who, change).await.unwrap();
            let back = member::show(&w.pool, &admin(), &who).await.unwrap();
            assert_eq!(back.goals.as_deref(), Some(goals.trim()).filter(|g| !g.is_empty()));
            assert_eq!(back.membership_status, status);
        });
        prop_assume!(MembershipStatus::parse(&bad_status).is_err());
        prop_assert!(matches!(MembershipStatus::parse(&bad_status), Err(Error::Invalid(_))));
        prop_assert!(ProfileText::parse(&"x".repeat(ProfileText::MAX + 1)).is_err());
    }

    /// Property 7: a coach update validates and persists capacity settings.
    #[test]
    fn a_coach_update_persists_valid_capacity(max in 1i32..100, accepting in any::<bool>()) {
        let w = world();
        w.rt.block_on(async {
            let c = new_coach(&w.pool, None, true).await;
            let change = coach::CoachUpdate {
                profile: ProfileUpdate {
                    max_members: Some(MaxMembers::parse(&max.to_string()).unwrap()),
                    accepting_members: Some(accepting),
                    specialization: Some(ProfileText::parse("yoga").unwrap()),
                    ..ProfileUpdate::default()
                },
                ..coach::CoachUpdate::default()
            };
            let after = coach::update(&w.pool, &admin(), &UserRef::Id(UserId::from_uuid(c.id)), change).await.unwrap();
            assert_eq!((after.max_members, after.accepting_members), (max, accepting));
            assert_eq!(after.specialization.as_deref(), Some("yoga"));
        });
    }

    /// Properties 8 and 33: with N members assigned, the next assignment or
    /// signup choosing that coach is refused with a capacity conflict, and
    /// a refused signup creates nobody.
    #[test]
    fn a_coach_at_capacity_refuses_the_next_member(max in 1i32..5, extra in 1usize..3) {
        let w = world();
        w.rt.block_on(async {
            let c = new_coach(&w.pool, Some(max), true).await;
            for _ in 0..max {
                member::create(&w.pool, &admin(), signup(Some(c.id))).await.unwrap();
            }
            for _ in 0..extra {
                let m = member::create(&w.pool, &admin(), signup(None)).await.unwrap();
                let r = member::assign(&w.pool, &admin(), &UserRef::Id(UserId::from_uuid(m.id)), &UserRef::Id(UserId::from_uuid(c.id))).await;
                assert!(matches!(r, Err(Error::Conflict(_))), "{r:?}");
                let s = signup(Some(c.id));
                let e = s.email.clone();
                let r = member::create(&w.pool, &admin(), s).await;
                assert!(matches!(r, Err(Error::Conflict(_))), "{r:?}");
                let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE email = $1")
                    .bind(e.as_str()).fetch_one(&w.pool).await.unwrap();
                assert_eq!(n, 0);
            }
            let after = coach::show(&w.pool, &admin(), &UserRef::Id(UserId::from_uuid(c.id))).await.unwrap();
            assert_eq!(after.member_count, max);
            assert_eq!(after.free_capacity, 0);
        });
    }

    /// Property 9: the signup choice lists exactly the accepting coaches.
    #[test]
    fn the_signup_choice_lists_exactly_the_accepting_coaches(flags in proptest::collection::vec(any::<bool>(), 1..6)) {
        let w = world();
        w.rt.block_on(async {
            let mut made = Vec::new();
            for f in &flags {
                made.push((new_coach(&w.pool, None, *f).await.id, *f));
            }
            let filter = coach::Filter { accepting_only: true, include_inactive: false };
            let listed: BTreeSet<_> = coach::list(&w.pool, &admin(), filter).await.unwrap().into_iter().map(|c| c.id).collect();
            for (id, accepting) in made {
                assert_eq!(listed.contains(&id), accepting);
            }
        });
    }

    /// Property 10: the member count is the number of active assigned members,
    /// whatever their statuses do.
    #[test]
    fn the_member_count_equals_the_active_assigned_members(
        statuses in proptest::collection::vec(prop::sample::select(MembershipStatus::ALL.to_vec()), 1..8),
    ) {
        let w = world();
        w.rt.block_on(async {
            let c = new_coach(&w.pool, Some(50), true).await;
            for s in &statuses {
                let m = member::create(&w.pool, &admin(), signup(Some(c.id))).await.unwrap();
                let change = MemberUpdate { membership_status: Some(*s), ..MemberUpdate::default() };
                member::update(&w.pool, &admin(), &UserRef::Id(UserId::from_uuid(m.id)), change).await.unwrap();
            }
            let active = statuses.iter().filter(|s| **s == MembershipStatus::Active).count() as i32;
            let after = coach::show(&w.pool, &admin(), &UserRef::Id(UserId::from_uuid(c.id))).await.unwrap();
            assert_eq!(after.member_count, active);
            assert_eq!(after.free_capacity, 50 - active);
        });
    }

    /// Property 32: signup choosing an accepting coach with room assigns them.
    #[test]
    fn signup_with_an_accepting_coach_with_room_assigns_that_coach(max in 1i32..10) {
        let w = world();
        w.rt.block_on(async {
            let c = new_coach(&w.pool, Some(max), true).await;
            let m = member::create(&w.pool, &admin(), signup(Some(c.id))).await.unwrap();
            assert_eq!(m.coach_id, Some(c.id));
            assert_eq!(m.onboarding_status, OnboardingStatus::Pending);
            // and a coach who is not accepting is refused as a rule, not a conflict
            let closed = new_coach(&w.pool, Some(max), false).await;
            let r = member::create(&w.pool, &admin(), signup(Some(closed.id))).await;
            assert!(matches!(r, Err(Error::Rule(_))), "{r:?}");
        });
    }
}
