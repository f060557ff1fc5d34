//! `member dashboard` and `coach dashboard`: what each looks at first (seed
//! 003 requirements 7 and 8; seed 002 properties 36-40).
//!
//! Both are read-only snapshots computed at one instant `now`, which callers
//! pass in so tests can fix the clock.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::actor::Actor;
use crate::booking;
use crate::coach;
use crate::domain::{Role, UserId, UserRef};
use crate::error::{Error, Result};
use crate::member;
use crate::session::{self, Session};

/// How long until `then`, as people say it: `in 2 d 3 h`, `in 3 h 20 min`,
/// `in 12 min`, `now`.
pub fn countdown(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let total = (then - now).num_minutes();
    if total <= 0 {
        return "now".into();
    }
    let (d, h, m) = (total / 1440, total % 1440 / 60, total % 60);
    match (d, h) {
        (0, 0) => format!("in {m} min"),
        (0, _) => format!("in {h} h {m} min"),
        _ => format!("in {d} d {h} h"),
    }
}

/// The next session, with its countdown.
#[derive(Debug, Clone, Serialize)]
pub struct NextSession {
    #[serde(flatten)]
    pub session: Session,
    pub countdown: String,
}

/// The member's coach and how to reach them.
#[derive(Debug, Clone, Serialize)]
pub struct CoachContact {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    /// The command that messages them.
    pub message_hint: String,
}

/// `member dashboard`.
#[derive(Debug, Clone, Serialize)]
pub struct MemberDashboard {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub now: DateTime<Utc>,
    /// The earliest upcoming session (property 36).
    pub next_session: Option<NextSession>,
    /// The next three upcoming sessions, by start (property 37).
    pub upcoming: Vec<Session>,
    pub coach: Option<CoachContact>,
    /// With nothing booked: the exact command that books the coach's next
    /// open slot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub book_hint: Option<String>,
    /// The member's late cancellations and no-shows (issue 20), all time.
    pub late_cancels: i64,
    pub no_shows: i64,
}

/// Upcoming seat-holding sessions visible to `actor`, filtered by people.
async fn upcoming(
    pool: &PgPool,
    actor: &Actor,
    coach: Option<Uuid>,
    member: Option<Uuid>,
    from: DateTime<Utc>,
    to: Option<DateTime<Utc>>,
) -> Result<Vec<Session>> {
    let filter = session::Filter {
        from: Some(from),
        to,
        coach: coach.map(|c| UserRef::Id(UserId::from_uuid(c))),
        member: member.map(|m| UserRef::Id(UserId::from_uuid(m))),
        upcoming: true,
        ..session::Filter::default()
    };
    session::list(pool, actor, &filter).await
}

/// `member dashboard [MEMBER]`: a member sees their own; their coach and
/// admins may look too.
pub async fn member(
    pool: &PgPool,
    actor: &Actor,
    who: Option<&UserRef>,
    now: DateTime<Utc>,
) -> Result<MemberDashboard> {
    let who = match (who, actor.role(), actor.id()) {
        (Some(w), _, _) => w.clone(),
        (None, Role::Member, Some(me)) => UserRef::Id(me),
        (None, _, _) => return Err(Error::invalid("name the member whose dashboard to show")),
    };
    // member::show applies the read permissions (the member, their coach, admins).
    let m = member::show(pool, actor, &who).await?;
    let sessions = upcoming(pool, actor, None, Some(m.id), now, None).await?;
    let next_session = sessions.first().map(|s| NextSession {
        countdown: countdown(now, s.start),
        session: s.clone(),
    });
    let coach = match m.coach_id {
        Some(cid) => {
            let c = coach::show(pool, actor, &UserRef::Id(UserId::from_uuid(cid))).await?;
            Some(CoachContact {
                id: c.id,
                message_hint: format!("coachctl message send --to {} --text \"…\"", c.email),
                email: c.email,
                name: c.name,
            })
        }
        None => None,
    };
    let book_hint = match (&coach, sessions.is_empty()) {
        (Some(c), true) => {
            let (cc, slots) = booking::slots(
                pool,
                actor,
                &UserRef::Id(UserId::from_uuid(c.id)),
                None,
                28,
                false,
            )
            .await?;
            Some(match slots.first() {
                Some(s) => format!(
                    "coachctl book --coach {} --at {}",
                    c.email,
                    s.start.with_timezone(&cc.tz()).format("%Y-%m-%dT%H:%M")
                ),
                None => format!("coachctl slots --coach {} --days 28", c.email),
            })
        }
        _ => None,
    };
    let (late_cancels, no_shows) = policy_counts(pool, None, Some(m.id), None).await?;
    Ok(MemberDashboard {
        late_cancels,
        no_shows,
        id: m.id,
        email: m.email,
        name: m.name,
        now,
        next_session,
        upcoming: sessions.into_iter().take(3).collect(),
        coach,
        book_hint,
    })
}

/// A recent change by one of the coach's members (from the audit log).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Activity {
    pub at: DateTime<Utc>,
    pub member_email: String,
    pub action: String,
}

/// `coach dashboard`.
#[derive(Debug, Clone, Serialize)]
pub struct CoachDashboard {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub timezone: String,
    pub now: DateTime<Utc>,
    /// Sessions starting today, in the coach's zone (property 38).
    pub today: Vec<Session>,
    /// The rest of this week, Monday to Sunday, after today (property 39).
    pub this_week: Vec<Session>,
    /// Assigned members whose membership is active (property 40).
    pub active_members: i64,
    /// Proposals waiting for their member's answer.
    pub pending_proposals: Vec<Session>,
    pub recent_activity: Vec<Activity>,
    /// Late cancellations and no-shows of the coach's sessions in the last 30 days.
    pub late_cancels_30d: i64,
    pub no_shows_30d: i64,
}

/// Late cancellations and no-shows (issue 20) of a coach's or a member's
/// sessions since `since`.
async fn policy_counts(
    pool: &PgPool,
    coach: Option<Uuid>,
    member: Option<Uuid>,
    since: Option<DateTime<Utc>>,
) -> Result<(i64, i64)> {
    Ok(sqlx::query_as(
        "SELECT count(*) FILTER (WHERE late_cancel), count(*) FILTER (WHERE no_show_at IS NOT NULL)
         FROM sessions
         WHERE ($1::uuid IS NULL OR coach_id = $1) AND ($2::uuid IS NULL OR member_id = $2)
           AND ($3::timestamptz IS NULL OR starts_at >= $3)
           AND (late_cancel OR no_show_at IS NOT NULL)",
    )
    .bind(coach)
    .bind(member)
    .bind(since)
    .fetch_one(pool)
    .await?)
}

/// The first instant of a local date in `tz`.
fn start_of(tz: chrono_tz::Tz, d: NaiveDate) -> DateTime<Utc> {
    crate::schedule::local_instant(tz, d, 0)
        .or_else(|| crate::schedule::local_instant(tz, d, 60))
        .unwrap_or_else(|| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
}

/// `coach dashboard [COACH]`: a coach sees their own; admins any.
pub async fn coach(
    pool: &PgPool,
    actor: &Actor,
    who: Option<&UserRef>,
    now: DateTime<Utc>,
) -> Result<CoachDashboard> {
    let who = match (who, actor.as_coach()) {
        (Some(w), _) => w.clone(),
        (None, Some(me)) => UserRef::Id(me),
        (None, None) => return Err(Error::invalid("name the coach whose dashboard to show")),
    };
    let c = coach::show(pool, actor, &who).await?;
    if !actor.is_admin() && !actor.is(UserId::from_uuid(c.id)) {
        return Err(Error::forbidden(format!(
            "{} may not see the dashboard of coach {}",
            actor.label(),
            c.email
        )));
    }
    let tz = c.tz();
    let today = now.with_timezone(&tz).date_naive();
    let tomorrow = today + Duration::days(1);
    let next_monday = today + Duration::days(7 - i64::from(today.weekday().num_days_from_monday()));
    let (day_start, day_end, week_end) = (
        start_of(tz, today),
        start_of(tz, tomorrow),
        start_of(tz, next_monday),
    );
    let all = upcoming(pool, actor, Some(c.id), None, day_start, Some(week_end)).await?;
    let (today_sessions, this_week): (Vec<Session>, Vec<Session>) =
        all.into_iter().partition(|s| s.start < day_end);
    let pending_proposals = session::list(
        pool,
        actor,
        &session::Filter {
            coach: Some(UserRef::Id(UserId::from_uuid(c.id))),
            status: Some(crate::domain::SessionStatus::Proposed),
            upcoming: true,
            ..session::Filter::default()
        },
    )
    .await?;
    let active_members: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM member_profiles m JOIN users u ON u.id = m.user_id
         WHERE m.coach_id = $1 AND m.membership_status = 'active' AND u.active",
    )
    .bind(c.id)
    .fetch_one(pool)
    .await?;
    let recent_activity: Vec<Activity> = sqlx::query_as(
        "SELECT a.at, a.actor_label AS member_email, a.action
         FROM audit_log a JOIN member_profiles m ON m.user_id = a.actor_id
         WHERE m.coach_id = $1
         ORDER BY a.at DESC, a.id DESC LIMIT 10",
    )
    .bind(c.id)
    .fetch_all(pool)
    .await?;
    let (late_cancels_30d, no_shows_30d) =
        policy_counts(pool, Some(c.id), None, Some(now - Duration::days(30))).await?;
    Ok(CoachDashboard {
        late_cancels_30d,
        no_shows_30d,
        id: c.id,
        email: c.email.clone(),
        name: c.name.clone(),
        timezone: tz.name().to_string(),
        now,
        today: today_sessions,
        this_week,
        active_members,
        pending_proposals,
        recent_activity,
    })
}

#[cfg(test)]
mod tests {
    use super::countdown;
    use chrono::{Duration, Utc};

    #[test]
    fn a_countdown_reads_like_people_say_it() {
        let now = Utc::now();
        let at = |m: i64| countdown(now, now + Duration::minutes(m));
        assert_eq!(at(12), "in 12 min");
        assert_eq!(at(3 * 60 + 20), "in 3 h 20 min");
        assert_eq!(at(2 * 1440 + 3 * 60 + 59), "in 2 d 3 h");
        assert_eq!(at(-5), "now");
    }
}
