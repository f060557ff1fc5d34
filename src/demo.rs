//! `coachctl demo`: a small, realistic organisation, seeded idempotently
//! through the same library functions (and rules) as every other command.

use sqlx::PgPool;

use crate::actor::Actor;
use crate::coach::{self, Coach, NewCoach, ProfileUpdate};
use crate::domain::{Email, MaxMembers, PersonName, ProfileText, TimeZone, UserRef};
use crate::error::{Error, Result};
use crate::member::{self, Member, NewMember};
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

/// What a coach looks at: their profile and their members.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CoachView {
    #[serde(flatten)]
    pub coach: Coach,
    pub members: Vec<Member>,
}

fn bad_seed(e: Error) -> Error {
    Error::Internal(format!("demo seed data is invalid: {e}"))
}

/// Seed (or top up) the demo organisation and return each coach's view.
pub async fn seed(pool: &PgPool, actor: &Actor) -> Result<Vec<CoachView>> {
    actor.require_admin("seed the demo organisation")?;
    let mut coach_ids = Vec::new();
    for (email, name, zone, spec, max) in COACHES {
        let email = Email::parse(email).map_err(bad_seed)?;
        let who = UserRef::Email(email.clone());
        let existing = users::find(&mut *pool.acquire().await?, &who).await?;
        let id = match existing {
            Some(u) => u.id,
            None => {
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
                crate::domain::UserId::from_uuid(coach::create(pool, actor, new).await?.id)
            }
        };
        coach_ids.push(id);
    }
    for (email, name, zone, coach_idx, goals) in MEMBERS {
        let email = Email::parse(email).map_err(bad_seed)?;
        let who = UserRef::Email(email.clone());
        let coach = coach_idx.map(|i| UserRef::Id(coach_ids[i]));
        match users::find(&mut *pool.acquire().await?, &who).await? {
            None => {
                let new = NewMember {
                    email,
                    name: PersonName::parse(name).map_err(bad_seed)?,
                    timezone: TimeZone::parse(zone).map_err(bad_seed)?,
                    coach,
                    goals: Some(ProfileText::parse(goals).map_err(bad_seed)?),
                    health_info: None,
                };
                member::create(pool, actor, new).await?;
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
    let mut views = Vec::new();
    for id in coach_ids {
        let who = UserRef::Id(id);
        let as_coach = Actor::resolve(pool, Some(&who)).await?;
        let coach = coach::show(pool, &as_coach, &who).await?;
        let members = member::list(pool, &as_coach, &member::Filter::default()).await?;
        views.push(CoachView { coach, members });
    }
    Ok(views)
}
