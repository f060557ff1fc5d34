//! Programs (seed 004): a coach's plan of weeks, which a template makes
//! assignable by every coach (an admin's) or again by its coach (a coach's).
//! Assigning one books its whole series ([`series`]); an enrolment has
//! progress ([`progress`]).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

use crate::actor::Actor;
use crate::audit::{self, Change};
use crate::coach;
use crate::domain::{ProfileText, Role, SessionMinutes, UserRef};
use crate::error::{Error, Result};

pub mod progress;
pub mod series;

pub use progress::{CoachReport, MemberProgress};
pub use series::{Adjustment, Assignment, Enrolment, SeriesPlan, WeeklyAt};

/// How demanding a program is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Difficulty {
    Beginner,
    Intermediate,
    Advanced,
}

impl Difficulty {
    pub fn as_str(self) -> &'static str {
        match self {
            Difficulty::Beginner => "beginner",
            Difficulty::Intermediate => "intermediate",
            Difficulty::Advanced => "advanced",
        }
    }
}

impl FromStr for Difficulty {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "beginner" => Ok(Difficulty::Beginner),
            "intermediate" => Ok(Difficulty::Intermediate),
            "advanced" => Ok(Difficulty::Advanced),
            _ => Err(Error::invalid(format!(
                "'{}' is not a difficulty; expected one of: beginner, intermediate, advanced",
                s.trim()
            ))),
        }
    }
}

impl fmt::Display for Difficulty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A whole number of weeks of a program (1 to 104).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weeks(i32);

impl Weeks {
    pub fn get(self) -> i32 {
        self.0
    }
}

impl FromStr for Weeks {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().parse::<i32>() {
            Ok(n) if (1..=104).contains(&n) => Ok(Weeks(n)),
            _ => Err(Error::invalid(format!(
                "weeks must be a whole number from 1 to 104, not '{}'",
                s.trim()
            ))),
        }
    }
}

/// Sessions a week (1 to 14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerWeek(i32);

impl PerWeek {
    pub fn get(self) -> i32 {
        self.0
    }
}

impl FromStr for PerWeek {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().parse::<i32>() {
            Ok(n) if (1..=14).contains(&n) => Ok(PerWeek(n)),
            _ => Err(Error::invalid(format!(
                "sessions per week must be a whole number from 1 to 14, not '{}'",
                s.trim()
            ))),
        }
    }
}

/// A program as `program show` and `program list` give it.
#[derive(Debug, Clone, Serialize, PartialEq, FromRow)]
pub struct Program {
    pub id: Uuid,
    pub name: String,
    /// The coach it belongs to; none for an admin's template (every coach's).
    pub coach_email: Option<String>,
    pub template: bool,
    pub weeks: i32,
    pub per_week: i32,
    pub length_minutes: i32,
    pub difficulty: Option<String>,
    pub goals: Vec<String>,
    pub description: Option<String>,
    pub archived: bool,
    pub created_at: DateTime<Utc>,
    #[serde(skip)]
    pub coach_id: Option<Uuid>,
}

const SELECT: &str = "SELECT p.id, p.name, u.email AS coach_email, p.template, p.weeks, p.per_week,
        p.session_minutes AS length_minutes, p.difficulty, p.goals, p.description,
        p.archived_at IS NOT NULL AS archived, p.created_at, p.coach_id
    FROM programs p LEFT JOIN users u ON u.id = p.coach_id";

/// Input of `program create`.
#[derive(Debug, Clone)]
pub struct NewProgram {
    pub name: ProfileText,
    pub weeks: Weeks,
    pub per_week: Option<PerWeek>,
    pub length: Option<SessionMinutes>,
    pub description: Option<ProfileText>,
    pub difficulty: Option<Difficulty>,
    pub goals: Vec<ProfileText>,
    /// Whose program: a coach's own; an admin names it (or makes a template for all).
    pub coach: Option<UserRef>,
    pub template: bool,
}

/// Input of `program update`: what to change.
#[derive(Debug, Clone, Default)]
pub struct ProgramUpdate {
    pub name: Option<ProfileText>,
    pub weeks: Option<Weeks>,
    pub per_week: Option<PerWeek>,
    pub length: Option<SessionMinutes>,
    pub description: Option<ProfileText>,
    pub difficulty: Option<Difficulty>,
    /// Replace the goals when given.
    pub goals: Option<Vec<ProfileText>>,
    pub template: Option<bool>,
}

fn name_of(t: &ProfileText) -> Result<String> {
    let s = t.as_str().trim();
    if s.is_empty() {
        return Err(Error::invalid("a program needs a name"));
    }
    if s.chars().count() > 200 || s.contains('\n') {
        return Err(Error::invalid(
            "a program name is one line of at most 200 characters",
        ));
    }
    Ok(s.to_string())
}

/// `program create`: a coach's own program or template; an admin's for a
/// named coach, or without one a template every coach may assign.
pub async fn create(pool: &PgPool, actor: &Actor, new: &NewProgram) -> Result<Program> {
    create_in(&mut *pool.acquire().await?, actor, new).await
}

/// `program create` on a connection the caller holds (a seed's transaction:
/// the write is then a savepoint of it).
pub(crate) async fn create_in(
    conn: &mut PgConnection,
    actor: &Actor,
    new: &NewProgram,
) -> Result<Program> {
    let coach_id = match (actor.role(), &new.coach) {
        (Role::Member, _) => {
            return Err(Error::forbidden(format!(
                "{} is a member; only coaches and admins create programs",
                actor.label()
            )));
        }
        (Role::Coach, named) => {
            let me = actor
                .as_coach()
                .ok_or_else(|| Error::Internal("a coach actor without an id".into()))?;
            if let Some(r) = named
                && coach::find(conn, actor, r).await?.id != me.as_uuid()
            {
                return Err(Error::forbidden(format!(
                    "{} may only create their own programs",
                    actor.label()
                )));
            }
            Some(me.as_uuid())
        }
        (Role::Admin, Some(r)) => Some(coach::find(conn, actor, r).await?.id),
        (Role::Admin, None) if new.template => None,
        (Role::Admin, None) => {
            return Err(Error::invalid(
                "name the coach with --coach, or make a template for every coach with --template",
            ));
        }
    };
    let id = Uuid::new_v4();
    let goals: Vec<String> = new
        .goals
        .iter()
        .filter_map(|g| g.clone().into_option())
        .collect();
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    sqlx::query(
        "INSERT INTO programs (id, coach_id, name, weeks, per_week, session_minutes, description,
            difficulty, goals, template, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(id)
    .bind(coach_id)
    .bind(name_of(&new.name)?)
    .bind(new.weeks.get())
    .bind(new.per_week.map_or(1, PerWeek::get))
    .bind(new.length.map_or(60, |l| l.get()))
    .bind(new.description.clone().and_then(ProfileText::into_option))
    .bind(new.difficulty.map(Difficulty::as_str))
    .bind(&goals)
    .bind(new.template)
    .bind(actor.id().map(|i| i.as_uuid()))
    .execute(&mut *tx)
    .await?;
    let after = fetch(&mut tx, id).await?;
    audit::record(
        &mut tx,
        actor,
        Change::of("program.create", "program", id, None, Some(&after))?,
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

pub(crate) async fn fetch(conn: &mut PgConnection, id: Uuid) -> Result<Program> {
    let sql = format!("{SELECT} WHERE p.id = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| Error::not_found(format!("no program {id}")))
}

/// May the actor see this program? Admins all; a coach their own and the
/// admins' templates; a member the programs they are enrolled in.
async fn visible(conn: &mut PgConnection, actor: &Actor, p: &Program) -> Result<bool> {
    let me = actor.id().map(|i| i.as_uuid());
    Ok(match actor.role() {
        Role::Admin => true,
        Role::Coach => p.coach_id.is_none() || p.coach_id == me,
        Role::Member => {
            let enrolled: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM program_enrolments WHERE program_id = $1 AND member_id = $2)",
            )
            .bind(p.id)
            .bind(me)
            .fetch_one(&mut *conn)
            .await?;
            enrolled
        }
    })
}

/// A program the actor may see (others are answered as none at all).
pub(crate) async fn find(conn: &mut PgConnection, actor: &Actor, id: Uuid) -> Result<Program> {
    let p = fetch(conn, id).await?;
    if visible(conn, actor, &p).await? {
        Ok(p)
    } else {
        Err(Error::not_found(format!("no program {id}")))
    }
}

/// `program show ID` of a program.
pub async fn show(pool: &PgPool, actor: &Actor, id: Uuid) -> Result<Program> {
    find(&mut *pool.acquire().await?, actor, id).await
}

/// `program list [--templates] [--coach C] [--archived]`: what the actor may see.
pub async fn list(
    pool: &PgPool,
    actor: &Actor,
    templates: bool,
    coach: Option<&UserRef>,
    archived: bool,
) -> Result<Vec<Program>> {
    let mut conn = pool.acquire().await?;
    let coach_id = match coach {
        Some(r) => Some(coach::find(&mut conn, actor, r).await?.id),
        None => None,
    };
    let me = actor.id().map(|i| i.as_uuid());
    let sql = format!(
        "{SELECT}
         WHERE ($1 OR p.archived_at IS NULL)
           AND (NOT $2 OR p.template)
           AND ($3::uuid IS NULL OR p.coach_id = $3 OR (p.coach_id IS NULL AND $2))
           AND CASE $4::text
                 WHEN 'admin' THEN true
                 WHEN 'coach' THEN p.coach_id = $5 OR p.coach_id IS NULL
                 ELSE p.id IN (SELECT e.program_id FROM program_enrolments e WHERE e.member_id = $5)
               END
         ORDER BY p.template DESC, p.name, p.id"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(archived)
        .bind(templates)
        .bind(coach_id)
        .bind(actor.role().as_str())
        .bind(me)
        .fetch_all(&mut *conn)
        .await?)
}

/// A program the actor may change: their own as a coach, any as an admin.
async fn changeable(conn: &mut PgConnection, actor: &Actor, id: Uuid) -> Result<Program> {
    let p = find(conn, actor, id).await?;
    match actor.role() {
        Role::Admin => Ok(p),
        Role::Coach if p.coach_id == actor.id().map(|i| i.as_uuid()) => Ok(p),
        Role::Coach => Err(Error::forbidden(format!(
            "program {} is a template of the admins; {} may assign it but not change it",
            p.name,
            actor.label()
        ))),
        Role::Member => Err(Error::forbidden(format!(
            "{} is a member; only coaches and admins change programs",
            actor.label()
        ))),
    }
}

/// `program update ID ...`. Enrolments keep what they were assigned with.
pub async fn update(pool: &PgPool, actor: &Actor, id: Uuid, u: &ProgramUpdate) -> Result<Program> {
    update_in(&mut *pool.acquire().await?, actor, id, u).await
}

/// `program update` on a connection the caller holds (a seed's transaction).
pub(crate) async fn update_in(
    conn: &mut PgConnection,
    actor: &Actor,
    id: Uuid,
    u: &ProgramUpdate,
) -> Result<Program> {
    let before = changeable(conn, actor, id).await?;
    if u.template == Some(false) && before.coach_id.is_none() {
        return Err(Error::rule(format!(
            "program {} belongs to no coach, so it stays a template",
            before.name
        )));
    }
    let name = u.name.as_ref().map(name_of).transpose()?;
    let goals: Option<Vec<String>> = u
        .goals
        .as_ref()
        .map(|g| g.iter().filter_map(|x| x.clone().into_option()).collect());
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    sqlx::query(
        "UPDATE programs SET name = coalesce($2, name), weeks = coalesce($3, weeks),
            per_week = coalesce($4, per_week), session_minutes = coalesce($5, session_minutes),
            description = CASE WHEN $6 THEN $7 ELSE description END,
            difficulty = coalesce($8, difficulty), goals = coalesce($9, goals),
            template = coalesce($10, template), updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(name)
    .bind(u.weeks.map(Weeks::get))
    .bind(u.per_week.map(PerWeek::get))
    .bind(u.length.map(|l| l.get()))
    .bind(u.description.is_some())
    .bind(u.description.clone().and_then(ProfileText::into_option))
    .bind(u.difficulty.map(Difficulty::as_str))
    .bind(goals)
    .bind(u.template)
    .execute(&mut *tx)
    .await?;
    let after = fetch(&mut tx, id).await?;
    audit::record(
        &mut tx,
        actor,
        Change::of("program.update", "program", id, Some(&before), Some(&after))?,
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// `program archive ID`: no new assignments; enrolments run on.
pub async fn archive(pool: &PgPool, actor: &Actor, id: Uuid) -> Result<Program> {
    let mut conn = pool.acquire().await?;
    let before = changeable(&mut conn, actor, id).await?;
    if before.archived {
        return Err(Error::rule(format!(
            "program {} is already archived",
            before.name
        )));
    }
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    sqlx::query("UPDATE programs SET archived_at = now(), updated_at = now() WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let after = fetch(&mut tx, id).await?;
    audit::record(
        &mut tx,
        actor,
        Change::of(
            "program.archive",
            "program",
            id,
            Some(&before),
            Some(&after),
        )?,
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Is `id` a program (else, for `program show`, an enrolment)?
pub async fn is_program(pool: &PgPool, id: Uuid) -> Result<bool> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM programs WHERE id = $1)")
            .bind(id)
            .fetch_one(pool)
            .await?,
    )
}
