//! Seed 002's session properties as property tests (19, 21, 22, 41-45, 51,
//! 56, 58-63), run against the library on a real database, and the
//! permission matrix of every session command, run against the binary.
//!
//! Each property test shares one database across its cases and gives every
//! case people of its own (fresh emails), so a case never sees another's
//! data by accident and a hundred cases stay cheap. Each names the seed
//! property it checks ("Property N").
//!
//! Fixtures need sessions in every state, including ones that have already
//! taken place. A session is made the way a user makes it (`session create`
//! off the grid, in the future) and then, where the state needs the past,
//! moved there with one UPDATE that the database's own schedule guard still
//! checks; an overdue proposal (its expiry passed, no write since) has its
//! expiry set with triggers off, because the database refuses to write one.

mod common;

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, DurationRound, NaiveDate, Utc};
use coachctl::actor::Actor;
use coachctl::availability::{self, NewWindow};
use coachctl::booking::{self, Request};
use coachctl::coach::{self, NewCoach, ProfileUpdate};
use coachctl::domain::{
    At, BufferMinutes, DayOfWeek, Email, MaxMembers, MembershipStatus, PersonName, ProfileText,
    Rating, SessionMinutes, SessionStatus, SlotCapacity, TimeOfDay, TimeZone, UserId, UserRef,
};
use coachctl::error::Error;
use coachctl::member::{self, MemberUpdate, NewMember};
use coachctl::session::{self, Filter, NewSession};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use sqlx::PgPool;
use tokio::runtime::Runtime;
use uuid::Uuid;

// ------------------------------------------------------------ the harness

/// One database, its pool and a runtime, shared by all cases of one test.
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

/// Run `test` on `cases` generated inputs (shrinking a failure as proptest
/// does); every case runs on the same [`World`].
fn for_all<S>(cases: u32, strategy: S, test: impl Fn(S::Value))
where
    S: Strategy,
    S::Value: Debug,
{
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner = TestRunner::new(config);
    if let Err(e) = runner.run(&strategy, |v| {
        test(v);
        Ok(())
    }) {
        panic!("{e}");
    }
}

static N: AtomicI64 = AtomicI64::new(0);

fn next() -> i64 {
    N.fetch_add(1, Ordering::Relaxed)
}

/// A fresh email: every case works on people of its own.
fn email(tag: &str) -> Email {
    Email::parse(&format!(
        "{tag}{}@s{}.example.com",
        next(),
        std::process::id()
    ))
    .unwrap()
}

fn admin() -> Actor {
    Actor::operator()
}

fn by_id(id: Uuid) -> UserRef {
    UserRef::Id(UserId::from_uuid(id))
}

async fn new_coach(pool: &PgPool) -> Uuid {
    let new = NewCoach {
        email: email("coach"),
        name: PersonName::parse("Coach").unwrap(),
        timezone: TimeZone::utc(),
        profile: ProfileUpdate {
            max_members: Some(MaxMembers::parse("100").unwrap()),
            ..ProfileUpdate::default()
        },
    };
    coach::create(pool, &admin(), new).await.unwrap().id
}

async fn new_member(pool: &PgPool, coach: Option<Uuid>) -> Uuid {
    let new = NewMember {
        email: email("member"),
        name: PersonName::parse("Member").unwrap(),
        timezone: TimeZone::utc(),
        coach: coach.map(by_id),
        goals: None,
        health_info: None,
    };
    member::create(pool, &admin(), new).await.unwrap().id
}

async fn acting(pool: &PgPool, id: Uuid) -> Actor {
    Actor::resolve(pool, Some(&by_id(id))).await.unwrap()
}

/// A coach and a member assigned to them, with their actors.
#[derive(Debug, Clone)]
struct Pair {
    coach: Uuid,
    member: Uuid,
    coach_as: Actor,
    member_as: Actor,
}

impl Pair {
    async fn of(pool: &PgPool, coach: Uuid, member: Uuid) -> Pair {
        Pair {
            coach,
            member,
            coach_as: acting(pool, coach).await,
            member_as: acting(pool, member).await,
        }
    }
}

async fn pair(pool: &PgPool) -> Pair {
    let c = new_coach(pool).await;
    let m = new_member(pool, Some(c)).await;
    Pair::of(pool, c, m).await
}

/// A session's pair plus another coach with a member of their own.
struct Cast {
    p: Pair,
    other: Pair,
}

async fn cast(pool: &PgPool) -> Cast {
    Cast {
        p: pair(pool).await,
        other: pair(pool).await,
    }
}

fn base(days: i64) -> DateTime<Utc> {
    (Utc::now() + Duration::days(days))
        .duration_trunc(Duration::hours(1))
        .unwrap()
}

/// A future start of its own for every session the tests make: 3 h apart,
/// from 30 days ahead, so no two ever share a slot or a buffer.
fn future_start() -> DateTime<Utc> {
    static BASE: OnceLock<DateTime<Utc>> = OnceLock::new();
    *BASE.get_or_init(|| base(30)) + Duration::hours(3 * next())
}

/// A past start of its own, 3 h apart, from a day ago backwards.
fn past_start() -> DateTime<Utc> {
    static BASE: OnceLock<DateTime<Utc>> = OnceLock::new();
    *BASE.get_or_init(|| base(-1)) - Duration::hours(3 * next())
}

fn text(s: &Option<String>) -> Option<ProfileText> {
    s.as_deref().map(|t| ProfileText::parse(t).unwrap())
}

/// What a text field stores: trimmed, and nothing for blank text.
fn stored(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
}

// -------------------------------------------------- sessions in any state

/// Where a session is in its life, as far as the rules tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Proposed by the coach, waiting for the member.
    Proposed,
    /// Proposed, its expiry passed, and nothing has written since.
    Overdue,
    /// Proposed and expired (the database has caught up with the clock).
    Expired,
    Declined,
    /// Scheduled, still ahead.
    Upcoming,
    /// Scheduled, its start has passed.
    Started,
    Cancelled,
    Completed,
}

const STATES: [State; 8] = [
    State::Proposed,
    State::Overdue,
    State::Expired,
    State::Declined,
    State::Upcoming,
    State::Started,
    State::Cancelled,
    State::Completed,
];

fn any_state() -> impl Strategy<Value = State> {
    prop::sample::select(STATES.to_vec())
}

/// Move a session's start (keeping its length); the schedule guard still
/// checks the move.
async fn start_at(pool: &PgPool, id: Uuid, t: DateTime<Utc>) {
    sqlx::query(
        "UPDATE sessions SET starts_at = $2, ends_at = $2 + (ends_at - starts_at) WHERE id = $1",
    )
    .bind(id)
    .bind(t)
    .execute(pool)
    .await
    .unwrap();
}

/// A proposal whose expiry has passed without any write since.
async fn make_overdue(pool: &PgPool, id: Uuid) {
    let mut tx = pool.begin().await.unwrap();
    // The database refuses to write an overdue proposal; time does it.
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("UPDATE sessions SET expires_at = now() - interval '1 minute' WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// A 30-minute session of `p` in `state`: proposals by the coach, the rest
/// by an admin, all off the grid (no windows needed).
async fn session_in(pool: &PgPool, p: &Pair, state: State) -> Uuid {
    let proposal = matches!(
        state,
        State::Proposed | State::Overdue | State::Expired | State::Declined
    );
    let by = if proposal {
        p.coach_as.clone()
    } else {
        admin()
    };
    let new = NewSession {
        member: by_id(p.member),
        coach: Some(by_id(p.coach)),
        at: At::Absolute(future_start()),
        length: Some(SessionMinutes::new(30).unwrap()),
        session_type: None,
        notes: None,
        off_grid: true,
        expires: None,
    };
    let id = session::create(pool, &by, &new).await.unwrap().id;
    match state {
        State::Proposed | State::Upcoming => {}
        State::Overdue => make_overdue(pool, id).await,
        State::Expired => {
            make_overdue(pool, id).await;
            // what any write to the coach's schedule does first
            sqlx::query("SELECT expire_proposals($1, NULL::uuid)")
                .bind(p.coach)
                .execute(pool)
                .await
                .unwrap();
        }
        State::Declined => {
            session::decline(pool, &p.member_as, id, None)
                .await
                .unwrap();
        }
        State::Cancelled => {
            session::cancel(pool, &admin(), id, None).await.unwrap();
        }
        State::Started => start_at(pool, id, past_start()).await,
        State::Completed => {
            start_at(pool, id, past_start()).await;
            session::complete(pool, &admin(), id, None, None)
                .await
                .unwrap();
        }
    }
    let status: String = sqlx::query_scalar("SELECT status FROM sessions WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap();
    let expected = match state {
        State::Proposed | State::Overdue => "proposed",
        State::Expired => "expired",
        State::Declined => "declined",
        State::Upcoming | State::Started => "scheduled",
        State::Cancelled => "cancelled",
        State::Completed => "completed",
    };
    assert_eq!(status, expected, "fixture for {state:?}");
    id
}

/// Everything about one session: its row, its notes, its rating.
async fn snapshot(pool: &PgPool, id: Uuid) -> (String, String, String) {
    sqlx::query_as(
        "SELECT (SELECT to_jsonb(s)::text FROM sessions s WHERE s.id = $1),
                (SELECT coalesce(string_agg(to_jsonb(n)::text, ',' ORDER BY n.id), '')
                   FROM session_notes n WHERE n.session_id = $1),
                (SELECT coalesce(string_agg(to_jsonb(r)::text, ','), '')
                   FROM session_ratings r WHERE r.session_id = $1)",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn sessions_of(pool: &PgPool, user: Uuid) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM sessions WHERE coach_id = $1 OR member_id = $1")
        .bind(user)
        .fetch_one(pool)
        .await
        .unwrap()
}

fn rating(n: i64) -> Rating {
    Rating::new(n).unwrap()
}

// ------------------------------------------------------------ properties

/// Property 19: completing a session that took place makes it `completed`
/// and stamps `completed_at` with the time of completion; `--outcomes` is
/// kept and `--notes` becomes the coach's private note.
#[test]
fn completing_a_started_session_marks_it_completed_and_stamps_completed_at_now() {
    let w = world();
    let strategy = (
        1i64..60 * 24 * 60,
        any::<bool>(),
        proptest::option::of("[a-z ]{0,24}"),
        proptest::option::of("[a-z ]{0,24}"),
    );
    for_all(100, strategy, |(minutes_ago, by_coach, notes, outcomes)| {
        w.rt.block_on(async {
            let p = pair(&w.pool).await;
            let id = session_in(&w.pool, &p, State::Upcoming).await;
            start_at(&w.pool, id, Utc::now() - Duration::minutes(minutes_ago)).await;
            let who = if by_coach {
                p.coach_as.clone()
            } else {
                admin()
            };
            let before = Utc::now();
            let done = session::complete(&w.pool, &who, id, text(&notes), text(&outcomes))
                .await
                .unwrap();
            let after = Utc::now();
            assert_eq!(done.status, SessionStatus::Completed);
            let at = done.completed_at.expect("completed_at is stamped");
            let slack = Duration::seconds(1);
            assert!(
                before - slack <= at && at <= after + slack,
                "{at} not within {before}..{after}"
            );
            assert_eq!(done.outcomes, stored(&outcomes));
            let shown = session::show(&w.pool, &admin(), id).await.unwrap();
            assert_eq!(shown.status, SessionStatus::Completed);
            assert_eq!(shown.completed_at, Some(at));
            let private: Vec<String> = shown
                .notes
                .unwrap()
                .into_iter()
                .filter(|n| n.visibility == "private")
                .map(|n| n.text)
                .collect();
            assert_eq!(private, stored(&notes).into_iter().collect::<Vec<_>>());
        });
    });
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Author {
    Admin,
    Coach,
    Member,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reader {
    Admin,
    Coach,
    Member,
    OtherCoach,
    OtherMember,
}

const READERS: [Reader; 5] = [
    Reader::Admin,
    Reader::Coach,
    Reader::Member,
    Reader::OtherCoach,
    Reader::OtherMember,
];

/// Properties 21 and 22: for any notes on a session in any state, the
/// session's coach and admins read every note; its member reads the shared
/// ones only (a member cannot write a private one); anyone else reads
/// nothing. What a reader may not see is absent from the JSON, not empty.
#[test]
fn private_notes_reach_only_the_coach_and_admins_and_shared_notes_also_the_member() {
    let w = world();
    let strategy = (
        any_state(),
        prop::collection::vec(
            (
                prop::sample::select(vec![Author::Admin, Author::Coach, Author::Member]),
                any::<bool>(),
                "[a-z]{1,10}",
            ),
            0..7,
        ),
        prop::sample::subsequence(READERS.to_vec(), 1..=READERS.len()),
    );
    for_all(100, strategy, |(state, notes, readers)| {
        w.rt.block_on(async {
            let Cast { p, other } = cast(&w.pool).await;
            let id = session_in(&w.pool, &p, state).await;
            // the session row's own coach-notes field is coach-private too
            let legacy = format!("LEGACY-{}", next());
            sqlx::query("UPDATE sessions SET coach_notes = $2 WHERE id = $1")
                .bind(id)
                .bind(&legacy)
                .execute(&w.pool)
                .await
                .unwrap();
            // (visibility, text, author label) of every note written
            let mut written: Vec<(bool, String, String)> = Vec::new();
            for (i, (author, private, body)) in notes.iter().enumerate() {
                let who = match author {
                    Author::Admin => admin(),
                    Author::Coach => p.coach_as.clone(),
                    Author::Member => p.member_as.clone(),
                };
                let vis = if *private { "PRIVATE" } else { "SHARED" };
                let body = format!("{vis}-{i}-{body}");
                let got = session::note(
                    &w.pool,
                    &who,
                    id,
                    ProfileText::parse(&body).unwrap(),
                    *private,
                )
                .await;
                match (author, private, got) {
                    (Author::Member, true, Err(Error::Forbidden(_))) => {}
                    (Author::Member, true, other) => {
                        panic!("a member wrote a private note: {other:?}")
                    }
                    (_, _, Ok(n)) => {
                        assert_eq!(n.visibility, if *private { "private" } else { "shared" });
                        written.push((*private, body, who.label().to_string()));
                    }
                    (_, _, Err(e)) => panic!("{author:?} could not write a note: {e:?}"),
                }
            }
            for reader in readers {
                let who = match reader {
                    Reader::Admin => admin(),
                    Reader::Coach => p.coach_as.clone(),
                    Reader::Member => p.member_as.clone(),
                    Reader::OtherCoach => other.coach_as.clone(),
                    Reader::OtherMember => other.member_as.clone(),
                };
                let got = session::show(&w.pool, &who, id).await;
                let privileged = matches!(reader, Reader::Admin | Reader::Coach);
                match reader {
                    Reader::OtherCoach | Reader::OtherMember => {
                        assert!(
                            matches!(got, Err(Error::Forbidden(_))),
                            "{reader:?}: {got:?}"
                        );
                        continue;
                    }
                    _ => {}
                }
                let s = got.unwrap();
                let seen: BTreeSet<(String, String)> = s
                    .notes
                    .clone()
                    .unwrap()
                    .into_iter()
                    .map(|n| (n.text, n.author))
                    .collect();
                let expected: BTreeSet<(String, String)> = written
                    .iter()
                    .filter(|(private, _, _)| privileged || !private)
                    .map(|(_, t, a)| (t.clone(), a.clone()))
                    .collect();
                assert_eq!(seen, expected, "{reader:?}");
                let json = serde_json::to_value(&s).unwrap();
                let flat = json.to_string();
                if privileged {
                    assert_eq!(json["coach_notes"], legacy.as_str());
                } else {
                    assert!(json.get("coach_notes").is_none(), "{json}");
                    assert!(
                        !flat.contains("PRIVATE") && !flat.contains(&legacy),
                        "{json}"
                    );
                }
            }
        });
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// Property 41: a rating is accepted exactly when it is a whole number
    /// from 1 to 5, and anything else is refused as invalid input (exit 3).
    #[test]
    fn a_rating_parses_exactly_when_it_is_a_whole_number_from_1_to_5(
        n in prop_oneof![-10i64..16, any::<i64>()],
        pad in " {0,2}",
    ) {
        let parsed = Rating::parse(&format!("{pad}{n}{pad}"));
        match parsed {
            Ok(r) => {
                prop_assert!((1..=5).contains(&n));
                prop_assert_eq!(i64::from(r.get()), n);
            }
            Err(Error::Invalid(_)) => prop_assert!(!(1..=5).contains(&n)),
            Err(e) => prop_assert!(false, "not an input error: {e:?}"),
        }
    }

    /// Property 41: text that is not a whole number is never a rating.
    #[test]
    fn a_rating_that_is_not_a_whole_number_is_refused(s in "\\PC{0,8}") {
        prop_assume!(s.trim().parse::<i64>().is_err());
        prop_assert!(matches!(Rating::parse(&s), Err(Error::Invalid(_))));
    }
}

/// Property 41 at the command line: a rating outside 1-5 exits 3 and stores
/// nothing; then a good one is stored, and a second is a conflict (exit 6).
#[test]
fn a_rating_outside_1_to_5_exits_3_at_the_command_line_and_stores_nothing() {
    let db = common::TestDb::new();
    let rt = common::runtime();
    let (id, member_email) = rt.block_on(async {
        let pool = db.pool().await;
        let p = pair(&pool).await;
        let id = session_in(&pool, &p, State::Completed).await;
        let email: String = sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
            .bind(p.member)
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        (id.to_string(), email)
    });
    let rate = |value: &str| {
        db.run_as(
            &member_email,
            &["session", "rate", &id, &format!("--rating={value}")],
        )
    };
    for bad in [
        "0",
        "6",
        "-1",
        "10",
        "4.5",
        "5.0",
        "five",
        "",
        "99999999999999999999",
    ] {
        rate(bad).fails_with(3);
    }
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM session_ratings"), 0);
    rate("5").ok();
    rate("4").fails_with(6);
    assert_eq!(db.scalar::<i16>("SELECT rating FROM session_ratings"), 5);
}

/// Property 42: a rating is accepted with feedback and without it (blank
/// feedback is no feedback).
#[test]
fn a_rating_is_accepted_with_or_without_feedback() {
    let w = world();
    let strategy = (1i64..=5, proptest::option::of("[A-Za-z0-9 ,.!]{0,40}"));
    for_all(100, strategy, |(n, feedback)| {
        w.rt.block_on(async {
            let p = pair(&w.pool).await;
            let id = session_in(&w.pool, &p, State::Completed).await;
            let r = session::rate(&w.pool, &p.member_as, id, rating(n), text(&feedback))
                .await
                .unwrap();
            assert_eq!(i64::from(r.rating), n);
            assert_eq!(r.feedback, stored(&feedback));
        });
    });
}

/// Property 43: a given rating and its feedback are stored with the
/// session (by its member, for its coach) and `session show` returns them
/// to the member, the coach and admins.
#[test]
fn a_rating_is_stored_with_its_session_and_session_show_returns_it() {
    let w = world();
    let strategy = (1i64..=5, proptest::option::of("[A-Za-z0-9 ,.!]{0,40}"));
    for_all(100, strategy, |(n, feedback)| {
        w.rt.block_on(async {
            let p = pair(&w.pool).await;
            let id = session_in(&w.pool, &p, State::Completed).await;
            let given = session::rate(&w.pool, &p.member_as, id, rating(n), text(&feedback))
                .await
                .unwrap();
            let row: (i16, Option<String>, Uuid, Uuid) = sqlx::query_as(
                "SELECT rating, feedback, member_id, coach_id FROM session_ratings WHERE session_id = $1",
            )
            .bind(id)
            .fetch_one(&w.pool)
            .await
            .unwrap();
            assert_eq!(row, (n as i16, stored(&feedback), p.member, p.coach));
            for who in [admin(), p.coach_as.clone(), p.member_as.clone()] {
                let s = session::show(&w.pool, &who, id).await.unwrap();
                assert_eq!(s.rating.as_ref(), Some(&given), "{}", who.label());
            }
        });
    });
}

/// Property 44: a coach's `rating_average` is the mean (two decimals) of
/// the ratings of their completed sessions and `rating_count` their number,
/// whatever other sessions they have and whatever other coaches are rated.
#[test]
fn a_coachs_rating_average_is_the_mean_of_the_ratings_of_their_completed_sessions() {
    let w = world();
    let session = prop_oneof![
        3 => Just(State::Completed),
        1 => prop::sample::select(vec![State::Upcoming, State::Proposed, State::Cancelled]),
    ];
    let strategy = (
        prop::collection::vec((session, proptest::option::of(1i64..=5)), 0..5),
        prop::collection::vec(1i64..=5, 0..3),
    );
    for_all(100, strategy, |(sessions, elsewhere)| {
        w.rt.block_on(async {
            let Cast { p, other } = cast(&w.pool).await;
            let mut ratings = Vec::new();
            for (state, r) in &sessions {
                let id = session_in(&w.pool, &p, *state).await;
                if let (State::Completed, Some(r)) = (state, r) {
                    session::rate(&w.pool, &p.member_as, id, rating(*r), None)
                        .await
                        .unwrap();
                    ratings.push(*r);
                }
            }
            for r in &elsewhere {
                let id = session_in(&w.pool, &other, State::Completed).await;
                session::rate(&w.pool, &other.member_as, id, rating(*r), None)
                    .await
                    .unwrap();
            }
            let shown = coach::show_with_ratings(&w.pool, &admin(), &by_id(p.coach))
                .await
                .unwrap();
            assert_eq!(shown.rating_count, ratings.len() as i64);
            match shown.rating_average {
                None => assert!(ratings.is_empty()),
                Some(avg) => {
                    let mean = ratings.iter().sum::<i64>() as f64 / ratings.len() as f64;
                    let expected = (mean * 100.0).round() / 100.0;
                    assert!(
                        (avg - expected).abs() < 1e-9,
                        "{avg} != {expected} for {ratings:?}"
                    );
                }
            }
        });
    });
}

/// Property 45: a session already rated refuses another rating as a
/// duplicate (a conflict), and the first rating stays as it was.
#[test]
fn a_second_rating_of_the_same_session_is_refused_as_a_duplicate() {
    let w = world();
    let feedback = || proptest::option::of("[a-z ]{0,20}");
    let strategy = (1i64..=5, feedback(), 1i64..=5, feedback());
    for_all(100, strategy, |(first, fb1, second, fb2)| {
        w.rt.block_on(async {
            let p = pair(&w.pool).await;
            let id = session_in(&w.pool, &p, State::Completed).await;
            let given = session::rate(&w.pool, &p.member_as, id, rating(first), text(&fb1))
                .await
                .unwrap();
            let again = session::rate(&w.pool, &p.member_as, id, rating(second), text(&fb2)).await;
            assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
            let s = session::show(&w.pool, &admin(), id).await.unwrap();
            assert_eq!(s.rating, Some(given));
        });
    });
}

/// Property 51: a member listing sessions gets exactly their own, for any
/// population of coaches, members and sessions in any state; naming
/// another member is refused. (And each coach lists exactly theirs.)
#[test]
fn a_member_listing_sessions_sees_exactly_their_own() {
    let w = world();
    let cheap = prop::sample::select(vec![
        State::Proposed,
        State::Declined,
        State::Upcoming,
        State::Started,
        State::Cancelled,
    ]);
    let strategy = (
        1usize..3,
        prop::collection::vec(0usize..2, 1..5),
        prop::collection::vec((0usize..4, cheap), 0..7),
    );
    for_all(100, strategy, |(coaches, members, sessions)| {
        w.rt.block_on(async {
            let mut cs = Vec::new();
            for _ in 0..coaches {
                cs.push(new_coach(&w.pool).await);
            }
            let mut pairs = Vec::new();
            for c in &members {
                let c = cs[c % coaches];
                let m = new_member(&w.pool, Some(c)).await;
                pairs.push(Pair::of(&w.pool, c, m).await);
            }
            let mut made: Vec<(Uuid, Uuid, Uuid)> = Vec::new();
            for (m, state) in &sessions {
                let p = &pairs[m % pairs.len()];
                made.push((session_in(&w.pool, p, *state).await, p.coach, p.member));
            }
            for (i, p) in pairs.iter().enumerate() {
                let listed: BTreeSet<Uuid> =
                    session::list(&w.pool, &p.member_as, &Filter::default())
                        .await
                        .unwrap()
                        .into_iter()
                        .map(|s| {
                            assert_eq!(s.member_id, p.member);
                            s.id
                        })
                        .collect();
                let own: BTreeSet<Uuid> = made
                    .iter()
                    .filter(|(_, _, m)| *m == p.member)
                    .map(|(id, _, _)| *id)
                    .collect();
                assert_eq!(listed, own);
                if let Some(other) = pairs
                    .get((i + 1) % pairs.len())
                    .filter(|o| o.member != p.member)
                {
                    let filter = Filter {
                        member: Some(by_id(other.member)),
                        ..Filter::default()
                    };
                    // another member is nobody to a member (issue 18)
                    let r = session::list(&w.pool, &p.member_as, &filter).await;
                    assert!(matches!(r, Err(Error::NotFound(_))), "{r:?}");
                }
            }
            for c in &cs {
                let me = acting(&w.pool, *c).await;
                let listed: BTreeSet<Uuid> = session::list(&w.pool, &me, &Filter::default())
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|s| s.id)
                    .collect();
                let theirs: BTreeSet<Uuid> = made
                    .iter()
                    .filter(|(_, k, _)| k == c)
                    .map(|(id, _, _)| *id)
                    .collect();
                assert_eq!(listed, theirs);
            }
        });
    });
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Show,
    Note,
    NotePrivate,
    Complete,
    Reschedule,
    Cancel,
    Accept,
    Decline,
}

/// Property 56: a coach cannot show, note, complete, reschedule, cancel or
/// answer a session of another coach's member, in any state: forbidden,
/// and nothing changes; listing by that coach or their member finds nothing.
#[test]
fn a_coach_cannot_touch_a_session_of_another_coachs_member() {
    let w = world();
    let ops = prop::sample::select(vec![
        Op::Show,
        Op::Note,
        Op::NotePrivate,
        Op::Complete,
        Op::Reschedule,
        Op::Cancel,
        Op::Accept,
        Op::Decline,
    ]);
    for_all(100, (any_state(), ops), |(state, op)| {
        w.rt.block_on(async {
            let Cast { p, other } = cast(&w.pool).await;
            let id = session_in(&w.pool, &p, state).await;
            let before = snapshot(&w.pool, id).await;
            let cy = &other.coach_as;
            let note = || ProfileText::parse("not yours").unwrap();
            let refused = match op {
                Op::Show => session::show(&w.pool, cy, id).await.err(),
                Op::Note => session::note(&w.pool, cy, id, note(), false).await.err(),
                Op::NotePrivate => session::note(&w.pool, cy, id, note(), true).await.err(),
                Op::Complete => session::complete(&w.pool, cy, id, None, None).await.err(),
                Op::Reschedule => {
                    session::reschedule(&w.pool, cy, id, &At::Absolute(future_start()))
                        .await
                        .err()
                }
                Op::Cancel => session::cancel(&w.pool, cy, id, None).await.err(),
                Op::Accept => session::accept(&w.pool, cy, id).await.err(),
                Op::Decline => session::decline(&w.pool, cy, id, None).await.err(),
            };
            assert!(
                matches!(refused, Some(Error::Forbidden(_))),
                "{op:?} on {state:?}: {refused:?}"
            );
            assert_eq!(snapshot(&w.pool, id).await, before);
            let by_coach = Filter {
                coach: Some(by_id(p.coach)),
                ..Filter::default()
            };
            let r = session::list(&w.pool, cy, &by_coach).await;
            assert!(matches!(r, Err(Error::Forbidden(_))), "{r:?}");
            let by_member = Filter {
                member: Some(by_id(p.member)),
                ..Filter::default()
            };
            // another coach's member is nobody to Cy, not an empty list
            let r = session::list(&w.pool, cy, &by_member).await;
            assert!(matches!(r, Err(Error::NotFound(_))), "{r:?}");
        });
    });
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Defect {
    UnknownEmail,
    UnknownId,
    /// Named in the wrong role (a member as the coach, a coach as the member).
    WrongRole,
    /// The account is deactivated.
    Deactivated,
    /// A member whose membership is inactive or paused.
    Inactive,
    Paused,
}

/// Property 58: `session create` checks that both coach and member exist
/// (else not found) and are active (else a rule violation), and creates
/// nothing otherwise.
#[test]
fn creating_a_session_with_an_unknown_or_deactivated_coach_or_member_is_refused() {
    let w = world();
    let coach_side = prop::sample::select(vec![
        Defect::UnknownEmail,
        Defect::UnknownId,
        Defect::WrongRole,
        Defect::Deactivated,
    ])
    .prop_map(|d| (true, d, false));
    let member_side = (
        prop::sample::select(vec![
            Defect::UnknownEmail,
            Defect::UnknownId,
            Defect::WrongRole,
            Defect::Deactivated,
            Defect::Inactive,
            Defect::Paused,
        ]),
        any::<bool>(),
    )
        .prop_map(|(d, by_coach)| (false, d, by_coach));
    for_all(
        100,
        prop_oneof![coach_side, member_side],
        |(coach_bad, defect, by_coach)| {
            w.rt.block_on(async {
                let p = pair(&w.pool).await;
                let bad = match defect {
                    Defect::UnknownEmail => UserRef::Email(email("nobody")),
                    Defect::UnknownId => by_id(Uuid::new_v4()),
                    Defect::WrongRole if coach_bad => by_id(p.member),
                    Defect::WrongRole => by_id(p.coach),
                    Defect::Deactivated if coach_bad => {
                        coach::deactivate(&w.pool, &admin(), &by_id(p.coach))
                            .await
                            .unwrap();
                        by_id(p.coach)
                    }
                    Defect::Deactivated => {
                        // members have no deactivate command; the account flag is what `--as` checks
                        sqlx::query("UPDATE users SET active = false WHERE id = $1")
                            .bind(p.member)
                            .execute(&w.pool)
                            .await
                            .unwrap();
                        by_id(p.member)
                    }
                    Defect::Inactive | Defect::Paused => {
                        let status = if defect == Defect::Inactive {
                            MembershipStatus::Inactive
                        } else {
                            MembershipStatus::Paused
                        };
                        let change = MemberUpdate {
                            membership_status: Some(status),
                            ..MemberUpdate::default()
                        };
                        member::update(&w.pool, &admin(), &by_id(p.member), change)
                            .await
                            .unwrap();
                        by_id(p.member)
                    }
                };
                let (coach_ref, member_ref) = if coach_bad {
                    (bad, by_id(p.member))
                } else {
                    (by_id(p.coach), bad)
                };
                let new = NewSession {
                    member: member_ref,
                    coach: Some(coach_ref),
                    at: At::Absolute(future_start()),
                    length: None,
                    session_type: None,
                    notes: None,
                    off_grid: true,
                    expires: None,
                };
                let who = if by_coach {
                    p.coach_as.clone()
                } else {
                    admin()
                };
                let got = session::create(&w.pool, &who, &new).await;
                match defect {
                    Defect::UnknownEmail | Defect::UnknownId | Defect::WrongRole => {
                        assert!(matches!(got, Err(Error::NotFound(_))), "{got:?}")
                    }
                    _ => assert!(matches!(got, Err(Error::Rule(_))), "{got:?}"),
                }
                assert_eq!(sessions_of(&w.pool, p.coach).await, 0);
                assert_eq!(sessions_of(&w.pool, p.member).await, 0);
            });
        },
    );
}

/// Property 59: an availability window is refused unless its start lies
/// before its end (and a session fits); a refused window is not stored.
#[test]
fn an_availability_window_is_refused_unless_its_start_is_before_its_end() {
    let w = world();
    let minute = || (0u16..=288).prop_map(|q| q * 5);
    let strategy = (minute(), minute(), 5i64..=120, 0u8..7);
    for_all(100, strategy, |(start, end, length, day)| {
        w.rt.block_on(async {
            let c = new_coach(&w.pool).await;
            let window = NewWindow {
                day: DayOfWeek::from_index(day).unwrap(),
                start: TimeOfDay::from_minutes(start).unwrap(),
                end: TimeOfDay::from_minutes(end).unwrap(),
                length: SessionMinutes::new(length).unwrap(),
                buffer: BufferMinutes::new(0).unwrap(),
                capacity: SlotCapacity::new(1).unwrap(),
            };
            let got = availability::add(&w.pool, &admin(), Some(&by_id(c)), window).await;
            let fits = start < end && i64::from(start) + length <= i64::from(end);
            match (&got, fits) {
                (Ok(_), true) => {}
                (Err(Error::Invalid(_)), false) => {}
                other => panic!("{start}..{end} ({length} min): {other:?}"),
            }
            let stored: i64 =
                sqlx::query_scalar("SELECT count(*) FROM availability_windows WHERE coach_id = $1")
                    .bind(c)
                    .fetch_one(&w.pool)
                    .await
                    .unwrap();
            assert_eq!(stored, i64::from(fits));
        });
    });
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    /// `book` by an admin for the member.
    Book,
    /// `session create` by an admin.
    AdminCreates,
    /// `session create` by the coach (a proposal).
    CoachProposes,
    /// `session create --off-grid` by an admin.
    OffGrid,
}

#[derive(Debug, Clone, Copy)]
enum Ask {
    /// The window's k-th slot start (wrapping).
    Slot(usize),
    /// Any minute of the day.
    Minute(u16),
}

/// Property 60: a booking, or a session created on the grid, is refused
/// (a rule violation) unless it starts at a slot of the coach's
/// availability; off the grid any free time is accepted.
#[test]
fn a_booking_or_session_outside_the_availability_is_refused_unless_off_the_grid() {
    let w = world();
    let window = (
        6u16..14,
        0u16..16,
        prop::sample::select(vec![30u16, 45, 60]),
        prop::sample::select(vec![0u16, 10, 15]),
    );
    let ask = prop_oneof![
        (0usize..6).prop_map(Ask::Slot),
        (0u16..288).prop_map(|q| Ask::Minute(q * 5)),
    ];
    let path = prop::sample::select(vec![
        Path::Book,
        Path::AdminCreates,
        Path::CoachProposes,
        Path::OffGrid,
    ]);
    let strategy = (
        window,
        prop_oneof![3 => Just(0i64), 1 => 1i64..7],
        ask,
        path,
    );
    for_all(
        100,
        strategy,
        |((hour, extra_q, length, buffer), day, ask, path)| {
            w.rt.block_on(async {
                let p = pair(&w.pool).await;
                let start = hour * 60;
                let end = start + length + extra_q * 15;
                let monday: NaiveDate = common::monday();
                let spec = NewWindow {
                    day: DayOfWeek::parse("mon").unwrap(),
                    start: TimeOfDay::from_minutes(start).unwrap(),
                    end: TimeOfDay::from_minutes(end).unwrap(),
                    length: SessionMinutes::new(length.into()).unwrap(),
                    buffer: BufferMinutes::new(buffer.into()).unwrap(),
                    capacity: SlotCapacity::new(1).unwrap(),
                };
                availability::add(&w.pool, &admin(), Some(&by_id(p.coach)), spec)
                    .await
                    .unwrap();
                let grid: Vec<u16> = (0..)
                    .map(|k| start + k * (length + buffer))
                    .take_while(|s| s + length <= end)
                    .collect();
                let minute = match ask {
                    Ask::Slot(k) => grid[k % grid.len()],
                    Ask::Minute(m) => m,
                };
                let at = (monday + Duration::days(day))
                    .and_hms_opt(0, 0, 0)
                    .unwrap()
                    .and_utc()
                    + Duration::minutes(minute.into());
                let on_grid = day == 0 && grid.contains(&minute);
                let created = |off_grid| NewSession {
                    member: by_id(p.member),
                    coach: Some(by_id(p.coach)),
                    at: At::Absolute(at),
                    length: None,
                    session_type: None,
                    notes: None,
                    off_grid,
                    expires: None,
                };
                let got: Result<DateTime<Utc>, Error> = match path {
                    Path::Book => {
                        let req = Request {
                            coach: by_id(p.coach),
                            member: Some(by_id(p.member)),
                            at: At::Absolute(at),
                            notes: None,
                            session_type: None,
                        };
                        booking::book(&w.pool, &admin(), &req)
                            .await
                            .map(|b| b.start)
                    }
                    Path::AdminCreates => session::create(&w.pool, &admin(), &created(false))
                        .await
                        .map(|s| s.start),
                    Path::CoachProposes => session::create(&w.pool, &p.coach_as, &created(false))
                        .await
                        .map(|s| s.start),
                    Path::OffGrid => session::create(&w.pool, &admin(), &created(true))
                        .await
                        .map(|s| s.start),
                };
                match (&got, on_grid || path == Path::OffGrid) {
                    (Ok(s), true) => assert_eq!(*s, at),
                    (Err(Error::Rule(_)), false) => {}
                    other => panic!(
                        "{path:?} at {at} (on the grid: {on_grid}, grid {grid:?}): {other:?}"
                    ),
                }
                let n = sessions_of(&w.pool, p.coach).await;
                assert_eq!(n, i64::from(got.is_ok()));
            });
        },
    );
}

/// Property 61: only a scheduled session whose start has passed can be
/// completed; any other state is refused as a rule violation (exit 7) and
/// the session is left as it was.
#[test]
fn only_a_scheduled_session_that_has_started_can_be_completed() {
    let w = world();
    for_all(100, (any_state(), any::<bool>()), |(state, by_coach)| {
        w.rt.block_on(async {
            let p = pair(&w.pool).await;
            let id = session_in(&w.pool, &p, state).await;
            let before = snapshot(&w.pool, id).await;
            let who = if by_coach {
                p.coach_as.clone()
            } else {
                admin()
            };
            let got = session::complete(&w.pool, &who, id, None, None).await;
            match (state, got) {
                (State::Started, Ok(s)) => assert_eq!(s.status, SessionStatus::Completed),
                (State::Started, other) => panic!("a started session: {other:?}"),
                (_, Err(Error::Rule(_))) => assert_eq!(snapshot(&w.pool, id).await, before),
                (_, other) => panic!("{state:?}: {other:?}"),
            }
        });
    });
}

/// Property 62: a completed session can never be cancelled (exit 7, and it
/// stays completed); a scheduled or open proposed one can, by its member,
/// its coach or an admin. Sessions that hold no seat any more (declined,
/// expired, cancelled) have nothing to cancel.
#[test]
fn a_completed_session_can_never_be_cancelled() {
    let w = world();
    let who = prop::sample::select(vec![Reader::Admin, Reader::Coach, Reader::Member]);
    for_all(100, (any_state(), who), |(state, who)| {
        w.rt.block_on(async {
            let p = pair(&w.pool).await;
            let id = session_in(&w.pool, &p, state).await;
            let before = snapshot(&w.pool, id).await;
            let actor = match who {
                Reader::Coach => p.coach_as.clone(),
                Reader::Member => p.member_as.clone(),
                _ => admin(),
            };
            let got = session::cancel(&w.pool, &actor, id, None).await;
            let cancellable = matches!(state, State::Proposed | State::Upcoming | State::Started);
            match (cancellable, got) {
                (true, Ok(s)) => assert_eq!(s.status, SessionStatus::Cancelled),
                (false, Err(Error::Rule(m))) => {
                    assert_eq!(snapshot(&w.pool, id).await, before);
                    if state == State::Completed {
                        assert!(m.contains("completed"), "{m}");
                    }
                }
                (_, other) => panic!("{state:?} by {who:?}: {other:?}"),
            }
        });
    });
}

/// Property 63: a rating is refused unless the session is completed (a
/// rule violation) and not yet rated (a conflict); a refusal stores nothing.
#[test]
fn a_rating_is_refused_unless_the_session_is_completed_and_not_yet_rated() {
    let w = world();
    for_all(
        100,
        (any_state(), any::<bool>(), 1i64..=5),
        |(state, rated, n)| {
            w.rt.block_on(async {
                let p = pair(&w.pool).await;
                let id = session_in(&w.pool, &p, state).await;
                let rated = rated && state == State::Completed;
                if rated {
                    session::rate(&w.pool, &p.member_as, id, rating(3), None)
                        .await
                        .unwrap();
                }
                let before = snapshot(&w.pool, id).await;
                let got = session::rate(&w.pool, &p.member_as, id, rating(n), None).await;
                let accepted = state == State::Completed && !rated;
                match (state, rated, got) {
                    (State::Completed, false, Ok(r)) => assert_eq!(i64::from(r.rating), n),
                    (State::Completed, true, Err(Error::Conflict(_))) => {}
                    (s, _, Err(Error::Rule(_))) if s != State::Completed => {}
                    (_, _, other) => panic!("{state:?} (rated: {rated}): {other:?}"),
                }
                if !accepted {
                    assert_eq!(snapshot(&w.pool, id).await, before);
                }
            });
        },
    );
}

// --------------------------------------------------- the permission matrix

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    Create,
    Accept,
    Decline,
    Reschedule,
    Complete,
    Note,
    NotePrivate,
    Rate,
    Show,
    Cancel,
}

/// Who acts, in the order of the matrix's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    /// No `--as`: whoever holds the database URL acts as admin.
    Operator,
    /// `--as` a user whose role is admin.
    AdminUser,
    /// The session's coach.
    Coach,
    /// A coach with members of their own.
    OtherCoach,
    /// The session's member.
    Member,
    /// A member of the other coach.
    OtherMember,
    /// The session's own coach, whose account was deactivated.
    DeactivatedCoach,
    /// The session's own member, whose account was deactivated.
    DeactivatedMember,
    /// `--as` nobody known.
    Unknown,
}

const WHO: [Who; 9] = [
    Who::Operator,
    Who::AdminUser,
    Who::Coach,
    Who::OtherCoach,
    Who::Member,
    Who::OtherMember,
    Who::DeactivatedCoach,
    Who::DeactivatedMember,
    Who::Unknown,
];

/// The exit code of every command for every actor (the columns of [`WHO`]):
/// 0 done, 4 forbidden. Admins do everything but rate (only the session's
/// member rates); the coach proposes, moves, completes, notes (privately
/// too), shows and cancels, but does not answer a proposal; the member
/// answers, moves, writes shared notes, rates, shows and cancels; nobody
/// else, and no deactivated or unknown `--as`, does anything.
#[rustfmt::skip]
const MATRIX: [(Cmd, [i32; 9]); 10] = [
    //                  op adm coach other member other d-coach d-member unknown
    (Cmd::Create,      [0, 0,  0,    4,    4,     4,    4,      4,       4]),
    (Cmd::Accept,      [0, 0,  4,    4,    0,     4,    4,      4,       4]),
    (Cmd::Decline,     [0, 0,  4,    4,    0,     4,    4,      4,       4]),
    (Cmd::Reschedule,  [0, 0,  0,    4,    0,     4,    4,      4,       4]),
    (Cmd::Complete,    [0, 0,  0,    4,    4,     4,    4,      4,       4]),
    (Cmd::Note,        [0, 0,  0,    4,    0,     4,    4,      4,       4]),
    (Cmd::NotePrivate, [0, 0,  0,    4,    4,     4,    4,      4,       4]),
    (Cmd::Rate,        [4, 4,  4,    4,    0,     4,    4,      4,       4]),
    (Cmd::Show,        [0, 0,  0,    4,    0,     4,    4,      4,       4]),
    (Cmd::Cancel,      [0, 0,  0,    4,    0,     4,    4,      4,       4]),
];

/// Everything a session command could touch, as one string.
const FINGERPRINT: &str = "SELECT concat_ws(' | ',
    (SELECT md5(coalesce(string_agg(to_jsonb(x)::text, ',' ORDER BY x.id), '')) FROM sessions x),
    (SELECT md5(coalesce(string_agg(to_jsonb(x)::text, ',' ORDER BY x.id), '')) FROM session_notes x),
    (SELECT md5(coalesce(string_agg(to_jsonb(x)::text, ',' ORDER BY x.session_id), '')) FROM session_ratings x),
    (SELECT md5(coalesce(string_agg(to_jsonb(x)::text, ',' ORDER BY x.coach_id, x.starts_at), '')) FROM slots x),
    (SELECT md5(coalesce(string_agg(to_jsonb(x)::text, ',' ORDER BY x.id), '')) FROM bookings x),
    (SELECT md5(coalesce(string_agg(to_jsonb(x)::text, ',' ORDER BY x.id), '')) FROM users x),
    (SELECT md5(coalesce(string_agg(to_jsonb(x)::text, ',' ORDER BY x.user_id), '')) FROM coach_profiles x),
    (SELECT md5(coalesce(string_agg(to_jsonb(x)::text, ',' ORDER BY x.user_id), '')) FROM member_profiles x),
    (SELECT count(*)::text FROM audit_log))";

/// The state a command needs to succeed when it is allowed.
fn needs(cmd: Cmd) -> Option<State> {
    match cmd {
        Cmd::Create => None,
        Cmd::Accept | Cmd::Decline => Some(State::Proposed),
        Cmd::Complete => Some(State::Started),
        Cmd::Rate => Some(State::Completed),
        Cmd::Reschedule | Cmd::Note | Cmd::NotePrivate | Cmd::Show | Cmd::Cancel => {
            Some(State::Upcoming)
        }
    }
}

/// Every session command × every kind of actor through the binary: the
/// exact exit code of each cell, nothing changed in the database by a
/// refused one, and a change by each allowed one but `show`. Each cell gets
/// a session of its own in the state the command needs.
#[test]
fn every_session_command_gives_each_actor_the_exact_exit_code_and_refusals_change_nothing() {
    let db = common::TestDb::new();
    let rt = common::runtime();
    let pool = rt.block_on(db.pool());
    let email_of = |id: Uuid| -> String {
        rt.block_on(
            sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
                .bind(id)
                .fetch_one(&pool),
        )
        .unwrap()
    };
    // Ana and Bo own the sessions; Cy and Di are the others; Gil and Hal own
    // the sessions of the deactivated columns; Root is an admin user.
    let (ana_bo, cy_di, gil_hal) =
        rt.block_on(async { (pair(&pool).await, pair(&pool).await, pair(&pool).await) });
    let root = "root@example.com";
    rt.block_on(
        sqlx::query("INSERT INTO users (id, email, name, role) VALUES ($1, $2, 'Root', 'admin')")
            .bind(Uuid::new_v4())
            .bind(root)
            .execute(&pool),
    )
    .unwrap();
    let [ana, bo, cy, di, gil, hal] = [
        ana_bo.coach,
        ana_bo.member,
        cy_di.coach,
        cy_di.member,
        gil_hal.coach,
        gil_hal.member,
    ]
    .map(email_of);
    // a session per cell, in the state its command needs
    let mut cells = Vec::new();
    for (cmd, codes) in MATRIX {
        for (who, code) in WHO.into_iter().zip(codes) {
            let owners = match who {
                Who::DeactivatedCoach | Who::DeactivatedMember => &gil_hal,
                _ => &ana_bo,
            };
            let session = needs(cmd).map(|state| rt.block_on(session_in(&pool, owners, state)));
            cells.push((cmd, who, code, session));
        }
    }
    rt.block_on(async {
        coach::deactivate(&pool, &admin(), &by_id(gil_hal.coach))
            .await
            .unwrap();
        sqlx::query("UPDATE users SET active = false WHERE id = $1")
            .bind(gil_hal.member)
            .execute(&pool)
            .await
            .unwrap();
    });
    let fingerprint = || -> String {
        rt.block_on(sqlx::query_scalar(FINGERPRINT).fetch_one(&pool))
            .unwrap()
    };
    let mut wrong = Vec::new();
    for (cmd, who, code, session) in cells {
        let mut args: Vec<String> = match who {
            Who::Operator => vec![],
            Who::AdminUser => vec!["--as".into(), root.into()],
            Who::Coach => vec!["--as".into(), ana.clone()],
            Who::OtherCoach => vec!["--as".into(), cy.clone()],
            Who::Member => vec!["--as".into(), bo.clone()],
            Who::OtherMember => vec!["--as".into(), di.clone()],
            Who::DeactivatedCoach => vec!["--as".into(), gil.clone()],
            Who::DeactivatedMember => vec!["--as".into(), hal.clone()],
            Who::Unknown => vec!["--as".into(), "nobody@example.com".into()],
        };
        let (coach, member) = match who {
            Who::DeactivatedCoach | Who::DeactivatedMember => (&gil, &hal),
            _ => (&ana, &bo),
        };
        let id = session.map(|s| s.to_string()).unwrap_or_default();
        let words: Vec<String> = match cmd {
            Cmd::Create => vec![
                "create".into(),
                "--coach".into(),
                coach.clone(),
                "--member".into(),
                member.clone(),
                "--at".into(),
                future_start().to_rfc3339(),
                "--off-grid".into(),
                "--length".into(),
                "30".into(),
            ],
            Cmd::Accept => vec!["accept".into(), id],
            Cmd::Decline => vec!["decline".into(), id],
            Cmd::Reschedule => vec![
                "reschedule".into(),
                id,
                "--at".into(),
                future_start().to_rfc3339(),
            ],
            Cmd::Complete => vec!["complete".into(), id],
            Cmd::Note => vec!["note".into(), id, "--text".into(), "a note".into()],
            Cmd::NotePrivate => vec![
                "note".into(),
                id,
                "--text".into(),
                "a note".into(),
                "--private".into(),
            ],
            Cmd::Rate => vec!["rate".into(), id, "--rating".into(), "4".into()],
            Cmd::Show => vec!["show".into(), id],
            Cmd::Cancel => vec!["cancel".into(), id, "--yes".into()],
        };
        args.push("session".into());
        args.extend(words);
        let before = fingerprint();
        let run = db.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let after = fingerprint();
        let cell = format!("{cmd:?} by {who:?}");
        if run.code != code {
            wrong.push(format!(
                "{cell}: exit {} instead of {code} ({})",
                run.code,
                run.stderr.trim()
            ));
        } else if code != 0 {
            run.fails_with(code);
            if run.stderr.trim().is_empty() {
                wrong.push(format!("{cell}: refused without a word"));
            }
            if after != before {
                wrong.push(format!("{cell}: refused, yet the database changed"));
            }
        } else if cmd == Cmd::Show && after != before {
            wrong.push(format!("{cell}: showing changed the database"));
        } else if cmd != Cmd::Show && after == before {
            wrong.push(format!("{cell}: succeeded but changed nothing"));
        }
    }
    assert!(
        wrong.is_empty(),
        "the permission matrix is not kept:\n{}",
        wrong.join("\n")
    );
    rt.block_on(pool.close());
    db.assert_invariants();
}
