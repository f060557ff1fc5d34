//! The days `slots` covers as typed (`--from tomorrow --to +7d`), read in
//! the coach's zone.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sqlx::PgPool;

use crate::actor::Actor;
use crate::coach::{self, Coach};
use crate::domain::{Day, UserRef};
use crate::error::{Error, Result};
use crate::schedule::Slot;

/// The local days `slots` covers, as typed: from a day (default today),
/// for a number of days (default 7) or through a last day.
#[derive(Debug, Clone, Copy, Default)]
pub struct DayRange {
    pub from: Option<Day>,
    pub to: Option<Day>,
    pub days: Option<u32>,
}

impl DayRange {
    /// The first date and the number of days, with today read in `tz`.
    pub fn resolve_at(&self, tz: chrono_tz::Tz, now: DateTime<Utc>) -> Result<(NaiveDate, u32)> {
        let today = Day::Today.resolve_at(tz, now)?.naive();
        let from = match self.from {
            Some(d) => d.resolve_at(tz, now)?.naive(),
            None => today,
        };
        let days = match (self.days, self.to) {
            (Some(d), _) => d,
            (None, Some(to)) => {
                let to = to.resolve_at(tz, now)?.naive();
                let n = (to - from).num_days() + 1;
                if n < 1 {
                    return Err(Error::invalid(format!(
                        "--to ({to}) is before --from ({from})"
                    )));
                }
                u32::try_from(n).unwrap_or(u32::MAX)
            }
            (None, None) => 7,
        };
        if days == 0 || days > 366 {
            return Err(Error::invalid(format!(
                "--days must be between 1 and 366, not {days}"
            )));
        }
        Ok((from, days))
    }
}

/// [`super::slots`] over days as typed, read in the coach's zone.
pub async fn slots_in(
    pool: &PgPool,
    actor: &Actor,
    coach_ref: &UserRef,
    range: &DayRange,
    include_full: bool,
) -> Result<(Coach, Vec<Slot>)> {
    // One connection, one lookup of the coach: each release of a pooled
    // connection costs a round trip (sqlx pings it).
    let mut conn = pool.acquire().await?;
    let c = coach::find(&mut conn, actor, coach_ref).await?;
    let (from, days) = range.resolve_at(c.tz(), Utc::now())?;
    super::slots_of(&mut conn, actor, c, Some(from), days, include_full).await
}

/// What [`slots_first`]'s one statement reads: who is connected, the
/// schema's version, the coach (when both check out), and the schedule.
#[derive(sqlx::FromRow)]
struct FirstRow {
    applied: Option<i64>,
    role: Option<String>,
    coach: Option<sqlx::types::Json<coach::CoachRow>>,
    #[sqlx(flatten)]
    schedule: crate::availability::ScheduleRow,
}

/// [`slots_in`] as the operator (the owner, no `--as`) on a connection not
/// yet checked, in one round trip (issue 23): the schema check, the coach
/// and the schedule are one statement. `None` when the statement found
/// another login, another schema version or no such coach, or failed: the
/// usual path then checks, and says why in its own words.
///
/// Who is connected is a narrower test than `current_actor_role()`'s
/// (whose PL/pgSQL costs a fresh connection ~10 ms): the tables' owner or
/// a superuser, with no login of coachctl's. Anyone else, a member of the
/// owner's role included, takes the usual path.
///
/// The coach's zone is not known before the statement, so the days are
/// read in UTC and widened by a day each way (any zone's today is within a
/// day of UTC's): the schedule loaded is a superset of what decides them.
pub async fn slots_first(
    pool: &PgPool,
    coach_ref: &UserRef,
    range: &DayRange,
    include_full: bool,
) -> Result<Option<(Coach, Vec<Slot>)>> {
    let (cid, cemail) = crate::users::ref_params(coach_ref);
    if cid.is_none() && cemail.is_none() {
        return Ok(None); // an id prefix: resolved the usual way
    }
    let now = Utc::now();
    let Ok((guess, days)) = range.resolve_at(chrono_tz::UTC, now) else {
        return Ok(None);
    };
    let lo = guess - Duration::days(1);
    let (last, starts) = super::slot_span(lo, days.saturating_add(2), now);
    let latest = crate::db::MIGRATOR
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0);
    let sql = format!(
        "WITH v AS (
            SELECT (SELECT max(version) FROM _sqlx_migrations WHERE success) AS applied,
                   CASE WHEN NOT EXISTS (SELECT FROM logins WHERE role_name = session_user)
                             AND (session_user = pg_get_userbyid(
                                      (SELECT relowner FROM pg_class WHERE oid = 'public.users'::regclass))
                                  OR (SELECT rolsuper FROM pg_roles WHERE rolname = session_user))
                        THEN 'owner' END AS role
         ),
         the_coach AS ({coach_select} WHERE u.role = 'coach' AND {matches}
                       AND (SELECT v.applied = $5 AND v.role = 'owner' FROM v))
         SELECT v.applied, v.role, (SELECT to_jsonb(x) FROM the_coach x) AS coach, {schedule}
         FROM v",
        coach_select = coach::SELECT,
        matches = crate::users::REF_MATCHES,
        schedule = crate::availability::schedule_columns(
            "(SELECT id FROM the_coach)",
            "$3::timestamptz",
            "$4::timestamptz",
            "NULL::timestamptz",
            "interval '0'"
        ),
    );
    let mut conn = pool.acquire().await?;
    let row: std::result::Result<FirstRow, _> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(cid)
        .bind(cemail)
        .bind(starts.0)
        .bind(starts.1)
        .bind(latest)
        .fetch_one(&mut *conn)
        .await;
    // Anything else (a schema too old for the statement, another login):
    // the usual path meets the same and names it.
    let Ok(FirstRow {
        applied: Some(applied),
        role: Some(role),
        coach: Some(coach),
        schedule,
    }) = row
    else {
        return Ok(None);
    };
    if applied != latest || role != "owner" {
        return Ok(None);
    }
    let c = Coach::from(coach.0);
    let (from, days) = range.resolve_at(c.tz(), now)?;
    let (to, _) = super::slot_span(from, days, now);
    if from < lo || to > last {
        // not within the guess after all: read the coach's days as usual
        let actor = Actor::operator();
        return super::slots_of(&mut conn, &actor, c, Some(from), days, include_full)
            .await
            .map(Some);
    }
    let schedule = schedule.into_schedule(&c);
    super::offered_in(
        &mut conn,
        &Actor::operator(),
        c,
        &schedule,
        (from, to),
        now,
        include_full,
    )
    .await
    .map(Some)
}
