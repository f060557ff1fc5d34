//! Coaching insights (seed 004): typed notes from a coach to their member,
//! which the member reads and acknowledges with an optional answer that the
//! coach sees. Private to the pair and admins; a notice goes to the member.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

use crate::actor::Actor;
use crate::audit::{self, Change};
use crate::domain::{ProfileText, Role, UserId, UserRef};
use crate::error::{Error, Result};
use crate::member;

/// What kind of insight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsightType {
    Recommendation,
    Observation,
    GoalUpdate,
    ProgramAdjustment,
}

impl InsightType {
    pub fn as_str(self) -> &'static str {
        match self {
            InsightType::Recommendation => "recommendation",
            InsightType::Observation => "observation",
            InsightType::GoalUpdate => "goal-update",
            InsightType::ProgramAdjustment => "program-adjustment",
        }
    }
}

impl FromStr for InsightType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "recommendation" => Ok(InsightType::Recommendation),
            "observation" => Ok(InsightType::Observation),
            "goal-update" => Ok(InsightType::GoalUpdate),
            "program-adjustment" => Ok(InsightType::ProgramAdjustment),
            _ => Err(Error::invalid(format!(
                "'{}' is not an insight type; expected one of: recommendation, observation, goal-update, program-adjustment",
                s.trim()
            ))),
        }
    }
}

impl fmt::Display for InsightType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How urgent an insight is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    Low,
    Medium,
    High,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
        }
    }
}

impl FromStr for Priority {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "low" => Ok(Priority::Low),
            "medium" => Ok(Priority::Medium),
            "high" => Ok(Priority::High),
            _ => Err(Error::invalid(format!(
                "'{}' is not a priority; expected one of: low, medium, high",
                s.trim()
            ))),
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An insight as `insight list` shows it.
#[derive(Debug, Clone, Serialize, PartialEq, FromRow)]
pub struct Insight {
    pub id: Uuid,
    pub coach_email: String,
    pub member_email: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub priority: String,
    pub title: String,
    pub text: String,
    pub enrolment_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
    pub response: Option<String>,
    #[serde(skip)]
    pub coach_id: Uuid,
    #[serde(skip)]
    pub member_id: Uuid,
}

const SELECT: &str = "SELECT i.id, c.email AS coach_email, m.email AS member_email, i.kind,
        i.priority, i.title, i.body AS text, i.enrolment_id, i.created_at, i.read_at, i.response,
        i.coach_id, i.member_id
    FROM insights i JOIN users c ON c.id = i.coach_id JOIN users m ON m.id = i.member_id";

/// Input of `insight add`.
#[derive(Debug, Clone)]
pub struct NewInsight {
    pub member: UserRef,
    pub kind: InsightType,
    pub title: ProfileText,
    pub text: ProfileText,
    pub priority: Option<Priority>,
    pub enrolment: Option<Uuid>,
}

async fn fetch(conn: &mut PgConnection, id: Uuid) -> Result<Insight> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE i.id = $1")))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| Error::not_found(format!("no insight {id}")))
}

/// `insight add` by the member's coach (assigned or connected).
pub async fn add(pool: &PgPool, actor: &Actor, new: &NewInsight) -> Result<Insight> {
    let coach = actor.as_coach().ok_or_else(|| {
        Error::forbidden(format!(
            "{} is a{} {}; insights are written by the member's coach",
            actor.label(),
            if actor.role() == Role::Admin { "n" } else { "" },
            actor.role()
        ))
    })?;
    add_in(&mut *pool.acquire().await?, actor, coach, new).await
}

/// `insight add` as `coach` on a connection the caller holds (a seed, whose
/// admin writes in the coach's name; the write is a savepoint of its transaction).
pub(crate) async fn add_in(
    conn: &mut PgConnection,
    actor: &Actor,
    coach: UserId,
    new: &NewInsight,
) -> Result<Insight> {
    let m = member::find(conn, actor, &new.member).await?;
    let c = crate::coach::fetch(conn, coach).await?;
    if !crate::booking::may_book(conn, &m, &c).await? {
        return Err(Error::forbidden(format!(
            "{} is neither assigned nor connected to {}; insights go to a coach's own members",
            m.email, c.email
        )));
    }
    let title = new.title.as_str().trim();
    if title.is_empty() || new.text.as_str().trim().is_empty() {
        return Err(Error::invalid("an insight needs a title and a text"));
    }
    if let Some(e) = new.enrolment {
        let ok: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM program_enrolments WHERE id = $1 AND coach_id = $2 AND member_id = $3)",
        )
        .bind(e)
        .bind(c.id)
        .bind(m.id)
        .fetch_one(&mut *conn)
        .await?;
        if !ok {
            return Err(Error::not_found(format!(
                "no enrolment {e} of {} with {}",
                m.email, c.email
            )));
        }
    }
    let id = Uuid::new_v4();
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    sqlx::query(
        "INSERT INTO insights (id, coach_id, member_id, enrolment_id, kind, priority, title, body)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(c.id)
    .bind(m.id)
    .bind(new.enrolment)
    .bind(new.kind.as_str())
    .bind(new.priority.unwrap_or(Priority::Medium).as_str())
    .bind(title)
    .bind(new.text.as_str())
    .execute(&mut *tx)
    .await?;
    let after = fetch(&mut tx, id).await?;
    audit::record(
        &mut tx,
        actor,
        Change::of("insight.add", "insight", id, None, Some(&after))?,
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// `insight list [--member M] [--unread]`: the pair's, or any for an admin.
pub async fn list(
    pool: &PgPool,
    actor: &Actor,
    member: Option<&UserRef>,
    unread: bool,
) -> Result<Vec<Insight>> {
    let mut conn = pool.acquire().await?;
    let member_id = match member {
        Some(r) => Some(member::find(&mut conn, actor, r).await?.id),
        None => None,
    };
    let me = (!actor.is_admin()).then(|| actor.id().map(|i| i.as_uuid()));
    if me == Some(None) {
        return Ok(Vec::new());
    }
    let sql = format!(
        "{SELECT} WHERE ($1::uuid IS NULL OR $1 IN (i.coach_id, i.member_id))
           AND ($2::uuid IS NULL OR i.member_id = $2) AND (NOT $3 OR i.read_at IS NULL)
         ORDER BY i.read_at IS NULL DESC, i.created_at DESC, i.id"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(me.flatten())
        .bind(member_id)
        .bind(unread)
        .fetch_all(&mut *conn)
        .await?)
}

/// `insight ack ID [--response TEXT]` by its member: read, and the answer.
pub async fn ack(
    pool: &PgPool,
    actor: &Actor,
    id: Uuid,
    response: Option<ProfileText>,
) -> Result<Insight> {
    let mut tx = pool.begin().await?;
    let before = fetch(&mut tx, id).await?;
    let me = actor.id();
    let sees = actor.is_admin()
        || me == Some(UserId::from_uuid(before.coach_id))
        || me == Some(UserId::from_uuid(before.member_id));
    if !sees {
        return Err(Error::not_found(format!("no insight {id}")));
    }
    if me != Some(UserId::from_uuid(before.member_id)) {
        return Err(Error::forbidden(format!(
            "only the member {} acknowledges insight {id}",
            before.member_email
        )));
    }
    sqlx::query(
        "UPDATE insights SET read_at = coalesce(read_at, now()),
            response = coalesce($2, response) WHERE id = $1",
    )
    .bind(id)
    .bind(response.and_then(ProfileText::into_option))
    .execute(&mut *tx)
    .await?;
    let after = fetch(&mut tx, id).await?;
    audit::record(
        &mut tx,
        actor,
        Change::of("insight.ack", "insight", id, Some(&before), Some(&after))?,
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}
