//! Relationship history (`member history`, seed 004): every assignment,
//! unassignment and connection change between a member and a coach, with
//! when and who, and the pair's relationship status today.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

use crate::actor::Actor;
use crate::domain::{Role, UserRef};
use crate::error::{Error, Result};
use crate::users::{self, Sight};

/// One event, with the pair's status now: pending (a request or invitation
/// awaits), active (assigned or connected, membership active), inactive
/// (assigned or connected, membership not active), terminated (nothing open).
#[derive(Debug, Clone, Serialize, PartialEq, FromRow)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub coach_email: String,
    pub event: String,
    pub by: String,
    pub relationship: String,
}

/// Record an event inside the caller's transaction.
pub(crate) async fn record(
    conn: &mut PgConnection,
    actor: &Actor,
    member: Uuid,
    coach: Uuid,
    event: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO relationship_events (member_id, coach_id, event, by_label) VALUES ($1, $2, $3, $4)",
    )
    .bind(member)
    .bind(coach)
    .bind(event)
    .bind(actor.label())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// `member history`: the member, admins, and each coach of the member past
/// or present, who sees only the events with themself.
pub async fn of_member(pool: &PgPool, actor: &Actor, who: &UserRef) -> Result<Vec<Event>> {
    let mut conn = pool.acquire().await?;
    let m = users::find_with_role(&mut conn, actor, Sight::Known, who, Role::Member).await?;
    let only_coach = match actor.role() {
        Role::Admin => None,
        Role::Member if actor.is(m.id) => None,
        Role::Coach => actor.id().map(|i| i.as_uuid()),
        Role::Member => {
            return Err(Error::forbidden(format!(
                "{} may not read the history of {}",
                actor.label(),
                m.email
            )));
        }
    };
    let events: Vec<Event> = sqlx::query_as(
        "WITH e AS (
            SELECT e.at, e.coach_id, e.member_id, e.event, e.by_label, 0 AS src, e.id
            FROM relationship_events e
            WHERE e.member_id = $1 AND ($2::uuid IS NULL OR e.coach_id = $2)
            -- the booking policies' records (issue 20): late cancels and no-shows
            UNION ALL
            SELECT s.cancelled_at, s.coach_id, s.member_id, 'late_cancel',
                   coalesce(b.email, ''), 1, 0
            FROM sessions s LEFT JOIN users b ON b.id = s.cancelled_by
            WHERE s.member_id = $1 AND ($2::uuid IS NULL OR s.coach_id = $2) AND s.late_cancel
            UNION ALL
            SELECT s.no_show_at, s.coach_id, s.member_id, 'no_show', coalesce(b.email, ''), 1, 0
            FROM sessions s LEFT JOIN users b ON b.id = s.no_show_by
            WHERE s.member_id = $1 AND ($2::uuid IS NULL OR s.coach_id = $2)
              AND s.no_show_at IS NOT NULL
         )
         SELECT e.at, cu.email AS coach_email, e.event, e.by_label AS by,
            CASE
                WHEN mp.coach_id = e.coach_id OR EXISTS (
                    SELECT 1 FROM connections c WHERE c.coach_id = e.coach_id
                      AND c.member_id = e.member_id AND c.status = 'accepted')
                THEN CASE WHEN mp.membership_status = 'active' AND mu.active
                          THEN 'active' ELSE 'inactive' END
                WHEN EXISTS (SELECT 1 FROM connections c WHERE c.coach_id = e.coach_id
                      AND c.member_id = e.member_id AND c.status = 'pending')
                  OR EXISTS (SELECT 1 FROM invitations i WHERE i.coach_id = e.coach_id
                      AND email_key(i.email) = email_key(mu.email)
                      AND i.status = 'pending' AND i.expires_at > now())
                THEN 'pending'
                ELSE 'terminated'
            END AS relationship
         FROM e
         JOIN users cu ON cu.id = e.coach_id
         JOIN users mu ON mu.id = e.member_id
         JOIN member_profiles mp ON mp.user_id = e.member_id
         ORDER BY e.at, e.src, e.id",
    )
    .bind(m.id.as_uuid())
    .bind(only_coach)
    .fetch_all(&mut *conn)
    .await?;
    if only_coach.is_some() && events.is_empty() {
        return Err(Error::forbidden(format!(
            "{} was never {}'s coach and may not read their history",
            actor.label(),
            m.email
        )));
    }
    Ok(events)
}
