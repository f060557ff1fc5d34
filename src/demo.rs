//! `coachctl demo`: a small, realistic organisation, seeded idempotently
//! through the same library functions (and rules) as every other command.

use sqlx::PgPool;

use crate::actor::Actor;
use crate::availability::{self, NewWindow};
use crate::booking::{self, Request};
use crate::coach::{self, Coach, NewCoach, ProfileUpdate};
use crate::domain::{
    At, BufferMinutes, DayOfWeek, Email, MaxMembers, PersonName, ProfileText, SessionMinutes,
    SessionStatus, SlotCapacity, TimeOfDay, TimeZone, UserId, UserRef,
};
use crate::error::{Error, Result};
use crate::member::{self, Member, NewMember};
use crate::schedule::Slot;
use crate::session::{self, Session};
use crate::users;

/// (email, name, zone, specialization, max members)
const COACHES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "ana.berger@example.com",
        "Ana Berger",
        "Europe/Berlin",
        "Strength training",
        "8",
    ),
    (
        "marcus.hill@example.com",
        "Marcus Hill",
        "America/New_York",
        "Nutrition",
        "6",
    ),
    (
        "yuki.tanaka@example.com",
        "Yuki Tanaka",
        "Asia/Tokyo",
        "Mindfulness",
        "5",
    ),
];

/// (email, name, zone, coach index or none, goals)
const MEMBERS: &[(&str, &str, &str, Option<usize>, &str)] = &[
    (
        "bo.lind@example.com",
        "Bo Lind",
        "Europe/Stockholm",
        Some(0),
        "Deadlift 150 kg",
    ),
    (
        "clara.vogt@example.com",
        "Clara Vogt",
        "Europe/Berlin",
        Some(0),
        "Run a half marathon",
    ),
    (
        "dev.patel@example.com",
        "Dev Patel",
        "Europe/London",
        Some(0),
        "Fix my posture",
    ),
    (
        "elif.kaya@example.com",
        "Elif Kaya",
        "Europe/Istanbul",
        Some(0),
        "First pull-up",
    ),
    (
        "frank.moss@example.com",
        "Frank Moss",
        "America/Chicago",
        Some(1),
        "Lose 8 kg",
    ),
    (
        "gina.russo@example.com",
        "Gina Russo",
        "America/New_York",
        Some(1),
        "Eat more vegetables",
    ),
    (
        "hank.otto@example.com",
        "Hank Otto",
        "America/Denver",
        Some(1),
        "Cook at home",
    ),
    (
        "iris.nakamura@example.com",
        "Iris Nakamura",
        "Asia/Tokyo",
        Some(2),
        "Sleep better",
    ),
    (
        "jun.sato@example.com",
        "Jun Sato",
        "Asia/Tokyo",
        Some(2),
        "Daily meditation",
    ),
    (
        "kai.weber@example.com",
        "Kai Weber",
        "Europe/Vienna",
        Some(2),
        "Less stress at work",
    ),
    (
        "lena.park@example.com",
        "Lena Park",
        "Asia/Seoul",
        Some(0),
        "Stronger back",
    ),
    (
        "milo.rossi@example.com",
        "Milo Rossi",
        "Europe/Rome",
        None,
        "Find a coach",
    ),
];

/// A demo window: (days, start, end, length, buffer, capacity).
type DemoWindow = (
    &'static [&'static str],
    &'static str,
    &'static str,
    i64,
    i64,
    i64,
);

/// Weekly windows per coach.
const WINDOWS: &[&[DemoWindow]] = &[
    &[
        (&["mon", "tue", "thu", "fri"], "09:00", "12:00", 60, 15, 1),
        (&["wed"], "14:00", "17:00", 60, 15, 3),
    ],
    &[(&["tue", "thu"], "08:00", "11:00", 45, 15, 1)],
    &[(&["mon", "wed", "fri"], "18:00", "20:00", 30, 10, 2)],
];

/// What a coach looks at: their profile, members, sessions and open slots.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CoachView {
    #[serde(flatten)]
    pub coach: Coach,
    pub members: Vec<Member>,
    /// Scheduled sessions of the coming week.
    pub sessions: Vec<Session>,
    /// The next open slots.
    pub open_slots: Vec<Slot>,
    /// Programs running with the coach's members.
    pub programs: Vec<crate::program::Enrolment>,
}

fn bad_seed(e: Error) -> Error {
    Error::Internal(format!("demo seed data is invalid: {e}"))
}

/// Seed (or top up) the demo organisation and return each coach's view.
pub async fn seed(pool: &PgPool, actor: &Actor) -> Result<Vec<CoachView>> {
    actor.require_admin("seed the demo organisation")?;
    // Demos started at once take turns: each step below is idempotent on
    // its own, but which member gets which slot depends on what the others
    // did. A command has one connection, so a session lock taken through
    // the pool holds until it is released below (or the process ends).
    sqlx::query("SELECT pg_advisory_lock(hashtext('coachctl demo'))")
        .execute(pool)
        .await?;
    let seeded = seed_locked(pool, actor).await;
    sqlx::query("SELECT pg_advisory_unlock(hashtext('coachctl demo'))")
        .execute(pool)
        .await?;
    seeded
}

async fn seed_locked(pool: &PgPool, actor: &Actor) -> Result<Vec<CoachView>> {
    let mut coach_ids = Vec::new();
    for (email, name, zone, spec, max) in COACHES {
        let email = Email::parse(email).map_err(bad_seed)?;
        let who = UserRef::Email(email.clone());
        let existing = users::find(&mut *pool.acquire().await?, &who).await?;
        let id = match existing {
            Some(u) => u.id,
            None => {
                // Another demo running at the same moment may create the
                // coach first: then it is simply there.
                let new = NewCoach {
                    email,
                    name: PersonName::parse(name).map_err(bad_seed)?,
                    timezone: TimeZone::parse(zone).map_err(bad_seed)?,
                    profile: ProfileUpdate {
                        specialization: Some(ProfileText::parse(spec).map_err(bad_seed)?),
                        max_members: Some(MaxMembers::parse(max).map_err(bad_seed)?),
                        ..ProfileUpdate::default()
                    },
                };
                match coach::create(pool, actor, new).await {
                    Ok(c) => UserId::from_uuid(c.id),
                    Err(Error::Conflict(_)) => existing_id(pool, &who).await?,
                    Err(e) => return Err(e),
                }
            }
        };
        coach_ids.push(id);
    }
    for (email, name, zone, coach_idx, goals) in MEMBERS {
        let email = Email::parse(email).map_err(bad_seed)?;
        let who = UserRef::Email(email.clone());
        let coach = coach_idx.map(|i| UserRef::Id(coach_ids[i]));
        // Not in the match: the connection would be held through the arms,
        // and a command has only one.
        let existing = users::find(&mut *pool.acquire().await?, &who).await?;
        match existing {
            None => {
                let new = NewMember {
                    email,
                    name: PersonName::parse(name).map_err(bad_seed)?,
                    timezone: TimeZone::parse(zone).map_err(bad_seed)?,
                    coach,
                    goals: Some(ProfileText::parse(goals).map_err(bad_seed)?),
                    health_info: None,
                };
                match member::create(pool, actor, new).await {
                    // created a moment ago by a concurrent demo
                    Ok(_) | Err(Error::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            // Someone unassigned a demo member: put them back, but never
            // move a member an admin gave another coach.
            Some(_) => {
                let m = member::show(pool, actor, &who).await?;
                if let (None, Some(c)) = (m.coach_id, coach) {
                    member::assign(pool, actor, &who, &c).await?;
                }
            }
        }
    }
    for (i, id) in coach_ids.iter().enumerate() {
        seed_availability(pool, actor, *id, WINDOWS[i]).await?;
    }
    seed_bookings(pool, actor, &coach_ids).await?;
    seed_lifecycle(pool, &coach_ids).await?;
    // The outbox already holds each event's notices; reminders for the
    // sessions of the next day are what cron would queue now.
    crate::notify::remind(pool, actor).await?;
    seed_relations(pool).await?;
    seed_program(pool, actor, coach_ids.first().copied()).await?;
    let mut views = Vec::new();
    let now = chrono::Utc::now();
    for id in coach_ids {
        let who = UserRef::Id(id);
        let as_coach = Actor::resolve(pool, Some(&who)).await?;
        let coach = coach::show(pool, &as_coach, &who).await?;
        let members = member::list(pool, &as_coach, &member::Filter::default()).await?;
        let filter = session::Filter {
            from: Some(now),
            to: Some(now + chrono::Duration::days(7)),
            status: Some(SessionStatus::Scheduled),
            ..session::Filter::default()
        };
        let sessions = session::list(pool, &as_coach, &filter).await?;
        let (_, mut open_slots) = booking::slots(pool, &as_coach, &who, None, 7, false).await?;
        open_slots.truncate(6);
        let programs = crate::program::series::list_enrolments(pool, &as_coach, None)
            .await?
            .into_iter()
            .filter(|e| e.status == "active")
            .collect();
        views.push(CoachView {
            coach,
            members,
            sessions,
            open_slots,
            programs,
        });
    }
    Ok(views)
}

async fn existing_id(pool: &PgPool, who: &UserRef) -> Result<UserId> {
    users::find(&mut *pool.acquire().await?, who)
        .await?
        .map(|u| u.id)
        .ok_or_else(|| Error::Internal(format!("demo user {who} vanished")))
}

/// Give a coach the demo windows, unless they already have availability.
async fn seed_availability(
    pool: &PgPool,
    actor: &Actor,
    coach: UserId,
    windows: &[DemoWindow],
) -> Result<()> {
    let who = UserRef::Id(coach);
    if !availability::list(pool, actor, Some(&who))
        .await?
        .is_empty()
    {
        return Ok(());
    }
    for (days, start, end, length, buffer, capacity) in windows {
        for day in *days {
            let new = NewWindow {
                day: DayOfWeek::parse(day).map_err(bad_seed)?,
                start: TimeOfDay::parse(start).map_err(bad_seed)?,
                end: TimeOfDay::parse(end).map_err(bad_seed)?,
                length: SessionMinutes::new(*length).map_err(bad_seed)?,
                buffer: BufferMinutes::new(*buffer).map_err(bad_seed)?,
                capacity: SlotCapacity::new(*capacity).map_err(bad_seed)?,
            };
            match availability::add(pool, actor, Some(&who), new).await {
                // a concurrent demo added this window first
                Ok(_) | Err(Error::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// Every other assigned member without an upcoming session books one of
/// their coach's open slots, spread over the coming days.
async fn seed_bookings(pool: &PgPool, actor: &Actor, coaches: &[UserId]) -> Result<()> {
    for coach in coaches {
        let who = UserRef::Id(*coach);
        let as_coach = Actor::resolve(pool, Some(&who)).await?;
        let members = member::list(pool, &as_coach, &member::Filter::default()).await?;
        let upcoming = session::Filter {
            from: Some(chrono::Utc::now()),
            status: Some(SessionStatus::Scheduled),
            ..session::Filter::default()
        };
        let booked: std::collections::HashSet<uuid::Uuid> =
            session::list(pool, &as_coach, &upcoming)
                .await?
                .into_iter()
                .map(|s| s.member_id)
                .collect();
        // The whole grid, full slots included: it does not shift as
        // bookings land, so demos running at once pick the same slot for a
        // member, and the database seats them once (one seat per member
        // and start; capacity).
        let (_, slots) = booking::slots(pool, &as_coach, &who, None, 14, true).await?;
        for (k, m) in members.iter().enumerate().filter(|(k, _)| k % 2 == 0) {
            if booked.contains(&m.id) {
                continue;
            }
            let Some(slot) = slots.get(k * 2 + 1) else {
                break;
            };
            let req = Request {
                coach: who.clone(),
                member: Some(UserRef::Id(UserId::from_uuid(m.id))),
                at: At::Absolute(slot.start),
                notes: None,
                session_type: None,
            };
            match booking::book(pool, actor, &req).await {
                // Another booking may have taken the slot's room: skip it.
                Ok(_) | Err(Error::Conflict(_)) | Err(Error::Rule(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// The rest of a session's life: a proposal waiting for its member, and a
/// completed, noted and rated session last week. The past session is
/// recorded directly (no command books the past), under fixed ids, so
/// demos running at once write it once.
async fn seed_lifecycle(pool: &PgPool, coaches: &[UserId]) -> Result<()> {
    let Some(ana) = coaches.first() else {
        return Ok(());
    };
    let as_ana = Actor::resolve(pool, Some(&UserRef::Id(*ana))).await?;
    let members = member::list(pool, &as_ana, &member::Filter::default()).await?;
    // Who has nothing booked gets a proposal (odd members: the even ones booked).
    let upcoming = session::Filter {
        from: Some(chrono::Utc::now()),
        upcoming: true,
        ..session::Filter::default()
    };
    let busy: std::collections::HashSet<uuid::Uuid> = session::list(pool, &as_ana, &upcoming)
        .await?
        .into_iter()
        .map(|s| s.member_id)
        .collect();
    let pending = session::Filter {
        status: Some(SessionStatus::Proposed),
        upcoming: true,
        ..session::Filter::default()
    };
    let proposing = session::list(pool, &as_ana, &pending).await?.is_empty();
    let (_, grid) = booking::slots(pool, &as_ana, &UserRef::Id(*ana), None, 14, true).await?;
    if let (true, Some(m), Some(slot)) = (
        proposing,
        members.iter().find(|m| !busy.contains(&m.id)),
        grid.get(grid.len().saturating_sub(2)),
    ) {
        let new = session::NewSession {
            member: UserRef::Id(UserId::from_uuid(m.id)),
            coach: None,
            at: At::Absolute(slot.start),
            length: None,
            session_type: None,
            notes: Some(
                ProfileText::parse("First check-in: bring your training log").map_err(bad_seed)?,
            ),
            off_grid: false,
            expires: None,
        };
        match session::create(pool, &as_ana, &new).await {
            Ok(_) | Err(Error::Conflict(_)) | Err(Error::Rule(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let Some(bo) = members.iter().find(|m| m.email == "bo.lind@example.com") else {
        return Ok(());
    };
    let past = uuid::Uuid::from_u128(0xc0ac_4c71_de30_0000_0000_0000_0000_0001);
    let mut tx = pool.begin().await?;
    let created = sqlx::query(
        "INSERT INTO sessions (id, coach_id, member_id, starts_at, ends_at, session_type, status,
            completed_at, outcomes, off_grid)
         SELECT $1, $2, $3, t, t + interval '1 hour', 'initial', 'completed', t + interval '1 hour',
                'Deadlift form reviewed; plan for 12 weeks agreed', true
         FROM (SELECT date_trunc('day', now() - interval '7 days') + interval '9 hours' AS t) x
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(past)
    .bind(ana.as_uuid())
    .bind(bo.id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if created == 1 {
        sqlx::query(
            "INSERT INTO session_notes (id, session_id, author_id, author_label, visibility, body, created_at)
             SELECT gen_random_uuid(), $1, a, l, v, b, now() - interval '7 days'
             FROM (VALUES ($2::uuid, $3::text, 'private', 'Left knee tracks inward under load; watch it'),
                          ($4::uuid, $5::text, 'shared', 'Thanks! I will film my next sets')) AS n(a, l, v, b)",
        )
        .bind(past)
        .bind(ana.as_uuid())
        .bind("ana.berger@example.com")
        .bind(bo.id)
        .bind("bo.lind@example.com")
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO session_ratings (session_id, member_id, coach_id, rating, feedback)
             VALUES ($1, $2, $3, 5, 'Clear cues, great plan')",
        )
        .bind(past)
        .bind(bo.id)
        .bind(ana.as_uuid())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A pending invitation (Ana invites Nina), a connection request (Frank
/// asks Yuki) and a short conversation (Ana and Bo), each made once: what
/// exists already is left alone. Runs under the demo lock.
async fn seed_relations(pool: &PgPool) -> Result<()> {
    let as_user = |email: &'static str| async move {
        let who = UserRef::Email(Email::parse(email).map_err(bad_seed)?);
        Actor::resolve(pool, Some(&who)).await
    };
    let ana = as_user("ana.berger@example.com").await?;
    let invited = crate::invite::list(pool, &ana).await?;
    if !invited.iter().any(|i| i.email == "nina.park@example.com") {
        let new = crate::invite::NewInvite {
            coach: None,
            invitee: crate::invite::Invitee::Email(
                Email::parse("nina.park@example.com").map_err(bad_seed)?,
            ),
            message: Some(ProfileText::parse("Join me for strength training!").map_err(bad_seed)?),
            assign: true,
        };
        crate::invite::send(pool, &ana, &new).await?;
    }
    let frank = as_user("frank.moss@example.com").await?;
    let yuki = UserRef::Email(Email::parse("yuki.tanaka@example.com").map_err(bad_seed)?);
    let asked = crate::connect::list(pool, &frank).await?;
    if !asked
        .iter()
        .any(|c| c.coach_email == "yuki.tanaka@example.com")
    {
        let new = crate::connect::NewRequest {
            coach: Some(yuki),
            member: None,
            area: ProfileText::parse("Mindfulness").map_err(bad_seed)?,
            message: Some(ProfileText::parse("Could you help me sleep better?").map_err(bad_seed)?),
        };
        crate::connect::request(pool, &frank, &new).await?;
    }
    let bo_ref = UserRef::Email(Email::parse("bo.lind@example.com").map_err(bad_seed)?);
    let said = crate::message::list(pool, &Actor::operator(), Some(&bo_ref)).await?;
    if said.is_empty() {
        let bo = as_user("bo.lind@example.com").await?;
        let ana_ref = UserRef::Email(Email::parse("ana.berger@example.com").map_err(bad_seed)?);
        for (from, to, text) in [
            (&ana, &bo_ref, "Welcome, Bo! Ready for Monday?"),
            (&bo, &ana_ref, "Yes! Should I bring anything?"),
            (&ana, &bo_ref, "Just water and good shoes."),
        ] {
            let text = ProfileText::parse(text).map_err(bad_seed)?;
            crate::message::send(pool, from, to, &text).await?;
        }
    }
    Ok(())
}

/// A program in progress: Ana's "Deadlift foundations" assigned to Bo at a
/// weekly time free for all six weeks, with his completed session as its
/// first, and an insight about it. Made once; runs under the demo lock.
async fn seed_program(pool: &PgPool, actor: &Actor, ana: Option<UserId>) -> Result<()> {
    use crate::program::{self, Assignment, NewProgram, WeeklyAt};
    let Some(ana) = ana else {
        return Ok(());
    };
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM programs WHERE coach_id = $1 AND name = 'Deadlift foundations')",
    )
    .bind(ana.as_uuid())
    .fetch_one(pool)
    .await?;
    if exists {
        return Ok(());
    }
    let ana_ref = UserRef::Id(ana);
    let as_ana = Actor::resolve(pool, Some(&ana_ref)).await?;
    let p = program::create(
        pool,
        &as_ana,
        &NewProgram {
            name: ProfileText::parse("Deadlift foundations").map_err(bad_seed)?,
            weeks: "6".parse().map_err(bad_seed)?,
            per_week: None,
            length: None,
            description: Some(
                ProfileText::parse("Hinge pattern, bracing and progressive loading")
                    .map_err(bad_seed)?,
            ),
            difficulty: Some("intermediate".parse().map_err(bad_seed)?),
            goals: vec![ProfileText::parse("Deadlift 150 kg").map_err(bad_seed)?],
            coach: None,
            template: false,
        },
    )
    .await?;
    let bo = UserRef::Email(Email::parse("bo.lind@example.com").map_err(bad_seed)?);
    let tz: chrono_tz::Tz = COACHES[0].2.parse().unwrap_or(chrono_tz::UTC);
    let (_, grid) = booking::slots(pool, &as_ana, &ana_ref, None, 7, false).await?;
    // The first weekly time with room in every week: an admin's assignment
    // is scheduled at once, so Bo's series is running.
    for slot in grid.iter().skip(1) {
        let local = slot.start.with_timezone(&tz);
        let Ok(at) = format!("{}", local.format("%a %H:%M")).parse::<WeeklyAt>() else {
            continue;
        };
        let a = Assignment {
            program: p.id,
            member: bo.clone(),
            coach: None,
            start: crate::domain::Day::On(crate::domain::Date::from_naive(local.date_naive())),
            weekly: vec![at],
        };
        match program::series::assign(pool, actor, &a, false).await {
            Ok(Ok(e)) => {
                // Bo's completed first session belongs to the program.
                sqlx::query(
                    "UPDATE sessions SET enrolment_id = $1
                     WHERE id = $2 AND enrolment_id IS NULL AND status = 'completed'",
                )
                .bind(e.id)
                .bind(uuid::Uuid::from_u128(
                    0xc0ac_4c71_de30_0000_0000_0000_0000_0001,
                ))
                .execute(pool)
                .await?;
                let new = crate::insight::NewInsight {
                    member: bo.clone(),
                    kind: "program-adjustment".parse().map_err(bad_seed)?,
                    title: ProfileText::parse("Film your top sets").map_err(bad_seed)?,
                    text: ProfileText::parse(
                        "Your knee tracks inward under load; film the last set of each session so we can check it.",
                    )
                    .map_err(bad_seed)?,
                    priority: Some("high".parse().map_err(bad_seed)?),
                    enrolment: Some(e.id),
                };
                crate::insight::add(pool, &as_ana, &new).await?;
                return Ok(());
            }
            Ok(Err(_)) | Err(Error::Conflict(_)) | Err(Error::Rule(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
