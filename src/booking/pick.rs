//! What the slot picker of `book` learns before a slot is chosen.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::actor::Actor;
use crate::coach::{self, Coach};
use crate::domain::UserRef;
use crate::error::Result;
use crate::member;

/// Who a booking is between, checked: what the slot picker knows before a
/// slot is chosen.
#[derive(Debug, Clone)]
pub struct Parties {
    pub coach: Coach,
    pub member: member::Member,
    /// Starts of the member's sessions with this coach that hold a seat
    /// from now on: slots the member cannot book again.
    pub held: Vec<DateTime<Utc>>,
}

/// Every check of `book` that needs no slot (who books for whom, active
/// accounts, assignment or connection), made before a picker is shown.
pub async fn prepare(
    pool: &PgPool,
    actor: &Actor,
    coach_ref: &UserRef,
    member_ref_named: Option<&UserRef>,
) -> Result<Parties> {
    let who = super::member_ref(actor, member_ref_named)?;
    let mut conn = pool.acquire().await?;
    let c = coach::find(&mut conn, actor, coach_ref).await?;
    let m = member::find(&mut conn, actor, &who).await?;
    super::check_parties(&mut conn, actor, &c, &m).await?;
    drop(conn);
    let held = sqlx::query_scalar(
        "SELECT starts_at FROM sessions
         WHERE coach_id = $1 AND member_id = $2 AND starts_at >= now()
           AND (status = 'scheduled' OR (status = 'proposed' AND (expires_at IS NULL OR expires_at > now())))",
    )
    .bind(c.id)
    .bind(m.id)
    .fetch_all(pool)
    .await?;
    Ok(Parties {
        coach: c,
        member: m,
        held,
    })
}
