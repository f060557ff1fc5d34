//! Putting a member into a session (`session create`) and the member's
//! answer to a proposal (`session accept|decline`). Seed 000: consent; seed
//! 003 requirement 4.
//!
//! A coach's session is `proposed` and holds its seat until it expires; an
//! admin's is `scheduled` at once. Either way the seat is taken by the same
//! statement and database guard as a booking: capacity, buffers, windows
//! (unless off the grid) and blocked dates.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::{Session, check_access, fetch, fetch_for_update, redact_for};
use crate::actor::Actor;
use crate::audit::{self, Change};
use crate::availability::load_schedule;
use crate::booking::{SLOT_FULL, default_type, may_book, refusal};
use crate::coach::{self, Coach};
use crate::domain::{
    At, MembershipStatus, ProfileText, Role, SessionMinutes, SessionStatus, SessionType, UserId,
    UserRef,
};
use crate::error::{Error, Result};
use crate::member;
use sqlx::PgPool;

/// How long a proposal holds its seat unless told otherwise.
pub const DEFAULT_EXPIRY: Duration = Duration::hours(48);

/// Input of `session create`.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub member: UserRef,
    /// The coach; a coach acting creates their own sessions.
    pub coach: Option<UserRef>,
    pub at: At,
    /// Off the grid: the length (default 60); on it: the window's, unless named.
    pub length: Option<SessionMinutes>,
    pub session_type: Option<SessionType>,
    pub notes: Option<ProfileText>,
    /// Anywhere in time, not only in the coach's windows (still never
    /// breaching capacity, buffers or blocked dates).
    pub off_grid: bool,
    /// Until when a proposal holds its seat (default 48 h, never after the start).
    pub expires: Option<At>,
}

/// The coach a session is created for: the acting coach, or the one an
/// admin names.
async fn coach_for(
    conn: &mut sqlx::PgConnection,
    actor: &Actor,
    named: Option<&UserRef>,
) -> Result<Coach> {
    match (actor.role(), named) {
        (Role::Member, _) => Err(Error::forbidden(format!(
            "{} is a member; members book with `coachctl book`",
            actor.label()
        ))),
        (Role::Coach, named) => {
            let me = actor
                .as_coach()
                .ok_or_else(|| Error::Internal("a coach actor without an id".into()))?;
            let c = coach::fetch(conn, me).await?;
            match named {
                Some(r) if coach::find(conn, actor, r).await?.id != c.id => Err(Error::forbidden(
                    format!("{} may only create their own sessions", actor.label()),
                )),
                _ => Ok(c),
            }
        }
        (Role::Admin, Some(r)) => coach::find(conn, actor, r).await,
        (Role::Admin, None) => Err(Error::invalid("name the coach with --coach")),
    }
}

/// `session create` (coach for their members, admin for anyone).
pub async fn create(pool: &PgPool, actor: &Actor, new: &NewSession) -> Result<Session> {
    let mut conn = pool.acquire().await?;
    let c = coach_for(&mut conn, actor, new.coach.as_ref()).await?;
    // A member the coach had sessions with is known to them: refused as
    // not theirs (exit 4), not as nobody.
    let m = member::find_in(&mut conn, actor, crate::users::Sight::Known, &new.member).await?;
    if !c.active {
        return Err(Error::rule(format!("coach {} is deactivated", c.email)));
    }
    if !m.active || m.membership_status != MembershipStatus::Active {
        return Err(Error::rule(format!(
            "{}'s membership is not active ({}); only active members get sessions",
            m.email, m.membership_status
        )));
    }
    if !may_book(&mut conn, &m, &c).await? {
        let sentence = format!(
            "{} is neither assigned nor connected to coach {}; sessions are only for a coach's own or connected members",
            m.email, c.email
        );
        return Err(match actor.role() {
            Role::Coach => Error::forbidden(sentence),
            _ => Error::rule(sentence),
        });
    }
    let tz = c.tz();
    let now = Utc::now();
    let start = new.at.resolve(tz)?;
    if start <= now {
        return Err(Error::rule("that time has already passed"));
    }
    let mut schedule = load_schedule(
        &mut conn,
        &c,
        (start - Duration::days(2), start + Duration::days(2)),
    )
    .await?;
    let end = if new.off_grid {
        // Off the grid only the window rule is waived: notice and horizon
        // are the coach's to waive, blocks and buffers the database's to keep.
        schedule.min_notice_minutes = 0;
        schedule.horizon_days = None;
        start + Duration::minutes(i64::from(new.length.map_or(60, |l| l.get())))
    } else {
        let slot = schedule
            .check(start, now)
            .map_err(|r| Error::rule(r.sentence(tz)))?;
        if slot.remaining == 0 {
            return Err(Error::conflict(SLOT_FULL));
        }
        new.length
            .map(|l| start + Duration::minutes(i64::from(l.get())))
            .unwrap_or(slot.end)
    };
    let status = match actor.role() {
        Role::Coach => SessionStatus::Proposed,
        _ => SessionStatus::Scheduled,
    };
    let expires_at = match (status, &new.expires) {
        (SessionStatus::Proposed, Some(at)) => {
            let t = at.resolve(tz)?;
            if t > start {
                return Err(Error::invalid(
                    "a proposal cannot expire after the session starts; give an earlier --expires",
                ));
            }
            if t <= now {
                return Err(Error::invalid("--expires must lie in the future"));
            }
            Some(t)
        }
        (SessionStatus::Proposed, None) => Some((now + DEFAULT_EXPIRY).min(start)),
        _ => None,
    };
    let has_history: bool = sqlx::query_scalar(
        // as in booking's snapshot: an ordered probe of the history index
        "SELECT coalesce((SELECT true FROM sessions WHERE coach_id = $1 AND member_id = $2
                            AND status NOT IN ('cancelled', 'declined', 'expired')
                          ORDER BY starts_at LIMIT 1), false)",
    )
    .bind(c.id)
    .bind(m.id)
    .fetch_one(&mut *conn)
    .await?;
    let session_type = new.session_type.unwrap_or(default_type(has_history));
    let id = Uuid::new_v4();
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let inserted = sqlx::query(
        "INSERT INTO sessions (id, coach_id, member_id, starts_at, ends_at, session_type, status,
            expires_at, proposed_by, off_grid)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(id)
    .bind(c.id)
    .bind(m.id)
    .bind(start)
    .bind(end)
    .bind(session_type.as_str())
    .bind(status.as_str())
    .bind(expires_at)
    .bind(actor.id().map(|i| i.as_uuid()))
    .bind(new.off_grid)
    .execute(&mut *tx)
    .await;
    if let Err(e) = inserted {
        return Err(refusal(e, &m)?);
    }
    if let Some(text) = new.notes.clone().and_then(ProfileText::into_option) {
        super::record::insert_note(&mut tx, actor, id, false, &text).await?;
    }
    let after = fetch(&mut tx, id).await?;
    let action = match status {
        SessionStatus::Proposed => "session.propose",
        _ => "session.create",
    };
    audit::record(
        &mut tx,
        actor,
        Change::of(action, "session", id, None, Some(&after))?,
    )
    .await?;
    tx.commit().await?;
    Ok(redact_for(actor, after))
}

/// Only the session's member (or an admin) answers a proposal.
fn check_member(actor: &Actor, s: &Session, what: &str) -> Result<()> {
    check_access(actor, s)?;
    if actor.is_admin() || actor.is(UserId::from_uuid(s.member_id)) {
        Ok(())
    } else {
        Err(Error::forbidden(format!(
            "only the member {} may {what} session {}",
            s.member_email, s.id
        )))
    }
}

/// Why a session is not an open proposal, if it is not.
fn open_proposal(s: &Session, now: DateTime<Utc>) -> Result<()> {
    match (s.status, s.expires_at) {
        (SessionStatus::Proposed, Some(t)) if t > now => Ok(()),
        (SessionStatus::Proposed | SessionStatus::Expired, t) => Err(Error::rule(format!(
            "the proposal of session {} expired{}; ask the coach for a new one",
            s.id,
            t.map(|t| format!(
                " at {}",
                crate::domain::dates::moment(t, chrono_tz::UTC, now)
            ))
            .unwrap_or_default()
        ))),
        (status, _) => Err(Error::rule(format!(
            "session {} is {status}, not a proposal waiting for an answer",
            s.id
        ))),
    }
}

/// `session accept`: the member consents; the session is `scheduled`.
pub async fn accept(pool: &PgPool, actor: &Actor, id: Uuid) -> Result<Session> {
    answer(pool, actor, id, true, None).await
}

/// `session decline`: the member refuses; the seat is free again.
pub async fn decline(
    pool: &PgPool,
    actor: &Actor,
    id: Uuid,
    reason: Option<ProfileText>,
) -> Result<Session> {
    answer(pool, actor, id, false, reason).await
}

async fn answer(
    pool: &PgPool,
    actor: &Actor,
    id: Uuid,
    yes: bool,
    reason: Option<ProfileText>,
) -> Result<Session> {
    let mut tx = pool.begin().await?;
    let before = fetch_for_update(&mut tx, id).await?;
    check_member(actor, &before, if yes { "accept" } else { "decline" })?;
    open_proposal(&before, Utc::now())?;
    let updated = sqlx::query(
        "UPDATE sessions SET status = $2, responded_at = now(), decline_reason = $3,
            sequence = sequence + 1, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(if yes { "scheduled" } else { "declined" })
    .bind(reason.and_then(ProfileText::into_option))
    .execute(&mut *tx)
    .await;
    if let Err(e) = updated {
        return Err(match &e {
            sqlx::Error::Database(d) if d.constraint() == Some("sessions_proposal_not_expired") => {
                Error::rule(format!("the proposal of session {id} has just expired"))
            }
            _ => e.into(),
        });
    }
    let after = fetch(&mut tx, id).await?;
    let action = if yes {
        "session.accept"
    } else {
        "session.decline"
    };
    audit::record(
        &mut tx,
        actor,
        Change::of(action, "session", id, Some(&before), Some(&after))?,
    )
    .await?;
    tx.commit().await?;
    Ok(redact_for(actor, after))
}
