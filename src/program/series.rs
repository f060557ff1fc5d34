//! Assigning a program books its whole series (docs/design/identity.md
//! "Seats"): the occurrences go to the database as one jsonb array, and one
//! statement asks `series_conflicts` (every rule, every occurrence, under the
//! coach's lock) and, when it names nothing, inserts the enrolment and every
//! session. The per-row guard re-checks each session, so a race after the
//! check fails the whole statement: a series is booked whole or not at all.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

use super::Program;
use crate::actor::Actor;
use crate::booking::may_book;
use crate::coach::{self, Coach};
use crate::domain::{Day, DayOfWeek, MembershipStatus, Role, TimeOfDay, UserRef};
use crate::error::{Error, Result};
use crate::member::{self, Member};
use crate::schedule::local_instant;
/// How long a proposed series holds its seats, as a proposed session does.
const DEFAULT_EXPIRY: Duration = Duration::hours(48);

/// A weekly time as typed: `wed 09:00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeeklyAt {
    pub day: DayOfWeek,
    pub time: TimeOfDay,
}

impl FromStr for WeeklyAt {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim();
        let (d, h) = t.split_once(char::is_whitespace).ok_or_else(|| {
            Error::invalid(format!(
                "'{t}' is not a weekly time; use a day and a time, e.g. 'wed 09:00'"
            ))
        })?;
        let time = TimeOfDay::parse(h.trim())?;
        if time.minutes() >= 1440 {
            return Err(Error::invalid("a session cannot start at 24:00"));
        }
        Ok(WeeklyAt {
            day: DayOfWeek::parse(d)?,
            time,
        })
    }
}

impl fmt::Display for WeeklyAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.day.short(), self.time)
    }
}

/// One session of a series to be booked.
#[derive(Debug, Clone, Serialize)]
pub struct Occurrence {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Every rule this occurrence breaks (empty: bookable).
    pub problems: Vec<String>,
}

/// The sessions of `weeks` weeks at `weekly` times from `from` (local
/// dates in the coach's zone), in order. A local time that does not exist
/// (a clock change) is an occurrence with that problem.
pub fn occurrences(
    tz: chrono_tz::Tz,
    from: NaiveDate,
    weeks: i32,
    weekly: &[WeeklyAt],
    minutes: i32,
) -> Vec<Occurrence> {
    let mut out = Vec::new();
    for at in weekly {
        let ahead =
            (7 + i64::from(at.day.index()) - i64::from(from.weekday().num_days_from_sunday())) % 7;
        let first = from + Duration::days(ahead);
        for w in 0..i64::from(weeks) {
            let date = first + Duration::weeks(w);
            match local_instant(tz, date, at.time.minutes()) {
                Some(start) => out.push(Occurrence {
                    start,
                    end: start + Duration::minutes(i64::from(minutes)),
                    problems: Vec::new(),
                }),
                None => {
                    // A placeholder instant (the UTC reading) to name the date by.
                    let start = date
                        .and_hms_opt(
                            u32::from(at.time.minutes() / 60),
                            u32::from(at.time.minutes() % 60),
                            0,
                        )
                        .map(|n| n.and_utc())
                        .unwrap_or_default();
                    out.push(Occurrence {
                        start,
                        end: start,
                        problems: vec!["clock".into()],
                    })
                }
            }
        }
    }
    out.sort_by_key(|o| o.start);
    out
}

/// An enrolment: a program assigned to a member, with its progress.
#[derive(Debug, Clone, Serialize, PartialEq, FromRow)]
pub struct Enrolment {
    pub id: Uuid,
    pub program_id: Uuid,
    pub program_name: String,
    pub coach_email: String,
    pub member_email: String,
    /// proposed, active, declined, expired, cancelled, completed
    pub status: String,
    pub weeks: i32,
    pub starts_on: NaiveDate,
    pub weekly: Vec<String>,
    pub sessions: i64,
    /// Sessions completed.
    pub done: i64,
    /// Sessions still ahead that hold a seat.
    pub remaining: i64,
    /// Sessions whose time passed without being completed, or cancelled.
    pub missed: i64,
    /// Done over done, remaining and missed, rounded down.
    pub percent: i64,
    pub next_session_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    #[serde(skip)]
    pub coach_id: Uuid,
    #[serde(skip)]
    pub member_id: Uuid,
}

pub(crate) const ENROLMENT_SELECT: &str = "SELECT e.id, e.program_id, p.name AS program_name,
        c.email AS coach_email, m.email AS member_email,
        CASE WHEN e.status = 'proposed' AND NOT EXISTS (
                 SELECT 1 FROM sessions s WHERE s.enrolment_id = e.id AND s.status = 'proposed'
                   AND s.expires_at > now())
             THEN 'expired' ELSE e.status END AS status,
        e.weeks, e.starts_on, e.weekly,
        k.sessions, k.done, k.remaining, k.missed,
        CASE WHEN k.done + k.remaining + k.missed = 0 THEN 0
             ELSE k.done * 100 / (k.done + k.remaining + k.missed) END AS percent,
        k.next_session_at, e.created_at, e.coach_id, e.member_id
    FROM program_enrolments e
    JOIN programs p ON p.id = e.program_id
    JOIN users c ON c.id = e.coach_id
    JOIN users m ON m.id = e.member_id
    CROSS JOIN LATERAL (
        SELECT count(*) AS sessions,
               count(*) FILTER (WHERE s.status = 'completed') AS done,
               count(*) FILTER (WHERE s.status IN ('scheduled', 'proposed') AND s.starts_at > now()
                                  AND (s.status = 'scheduled' OR s.expires_at > now())) AS remaining,
               count(*) FILTER (WHERE s.status = 'cancelled'
                                   OR (s.status = 'scheduled' AND s.starts_at <= now())) AS missed,
               min(s.starts_at) FILTER (WHERE s.status IN ('scheduled', 'proposed')
                                          AND s.starts_at > now()) AS next_session_at
        FROM sessions s WHERE s.enrolment_id = e.id) k";

pub(crate) async fn fetch_enrolment(conn: &mut PgConnection, id: Uuid) -> Result<Enrolment> {
    let sql = format!("{ENROLMENT_SELECT} WHERE e.id = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| Error::not_found(format!("no program or enrolment {id}")))
}

/// An enrolment the actor may see: the pair's and the admins'. Others are
/// answered as none at all.
pub(crate) async fn find_enrolment(
    conn: &mut PgConnection,
    actor: &Actor,
    id: Uuid,
) -> Result<Enrolment> {
    let e = fetch_enrolment(conn, id).await?;
    let me = actor.id().map(|i| i.as_uuid());
    if actor.is_admin() || me == Some(e.coach_id) || me == Some(e.member_id) {
        Ok(e)
    } else {
        Err(Error::not_found(format!("no program or enrolment {id}")))
    }
}

/// `program show ENROLMENT`.
pub async fn show_enrolment(pool: &PgPool, actor: &Actor, id: Uuid) -> Result<Enrolment> {
    find_enrolment(&mut *pool.acquire().await?, actor, id).await
}

/// Input of `program assign`.
#[derive(Debug, Clone)]
pub struct Assignment {
    pub program: Uuid,
    pub member: UserRef,
    /// For an admin's template, the coach who runs it.
    pub coach: Option<UserRef>,
    pub start: Day,
    pub weekly: Vec<WeeklyAt>,
}

/// What `program assign --dry-run` shows, and what a refusal names.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesPlan {
    pub program_name: String,
    pub coach_email: String,
    pub member_email: String,
    pub status: &'static str,
    pub occurrences: Vec<Occurrence>,
    #[serde(skip)]
    pub tz: Option<chrono_tz::Tz>,
}

impl SeriesPlan {
    pub fn conflicts(&self) -> usize {
        self.occurrences
            .iter()
            .filter(|o| !o.problems.is_empty())
            .count()
    }

    /// The refusal: exit 6 when every problem is a full slot or a seat the
    /// member already holds, else 7; every failing date, in the coach's zone.
    fn refusal(&self, what: &str) -> Error {
        let tz = self.tz.unwrap_or(chrono_tz::UTC);
        let bad: Vec<String> = self
            .occurrences
            .iter()
            .filter(|o| !o.problems.is_empty())
            .map(|o| {
                format!(
                    "{} ({})",
                    crate::domain::dates::moment_now(o.start, tz),
                    o.problems
                        .iter()
                        .map(|p| reason(p, tz))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
            .collect();
        let msg = format!(
            "{what}: {} of {} sessions cannot be booked, so none was: {}",
            bad.len(),
            self.occurrences.len(),
            bad.join("; ")
        );
        let seats_only = self
            .occurrences
            .iter()
            .flat_map(|o| o.problems.iter())
            .all(|p| p == "full" || p == "member" || p.starts_with("sessions_"));
        if seats_only {
            Error::conflict(msg)
        } else {
            Error::rule(msg)
        }
    }
}

/// A problem code of `series_conflicts` as words.
fn reason(code: &str, tz: chrono_tz::Tz) -> String {
    match code.split_once('@') {
        Some(("buffer", at)) => {
            let other = DateTime::parse_from_rfc3339(at)
                .map(|t| t.with_timezone(&tz).format("%H:%M").to_string())
                .unwrap_or_else(|_| at.to_string());
            format!("within the buffer of another session at {other}")
        }
        _ => match code {
            "full" => "the slot is full".into(),
            "member" => "the member already has a session then".into(),
            "notice" => "too soon for the coach's notice".into(),
            "horizon" => "beyond the coach's booking horizon".into(),
            "window" => "outside the coach's availability".into(),
            "blocked" => "the coach blocked that date".into(),
            "clock" => "that local time does not exist (clock change)".into(),
            "buffer" => "within the buffer of another session".into(),
            "sessions_max_per_day" => "the coach's daily limit is reached".into(),
            "sessions_max_per_week" => "the coach's weekly limit is reached".into(),
            "sessions_member_max_per_week" => {
                "the member's weekly limit with this coach is reached".into()
            }
            other => other.to_string(),
        },
    }
}

/// The occurrences as the database reads them.
fn occurrence_json(occ: &[Occurrence], ids: &[Uuid], initial: bool) -> serde_json::Value {
    serde_json::Value::Array(
        occ.iter()
            .zip(ids)
            .enumerate()
            .map(|(i, (o, id))| {
                serde_json::json!({
                    "id": id, "start": o.start, "end": o.end,
                    "type": if initial && i == 0 { "initial" } else { "regular" },
                })
            })
            .collect(),
    )
}

type ConflictRow = (DateTime<Utc>, String, Option<DateTime<Utc>>);

/// Mark each occurrence with the conflicts the database named.
fn mark(occ: &mut [Occurrence], rows: Vec<ConflictRow>) {
    for (at, problem, other) in rows {
        if let Some(o) = occ.iter_mut().find(|o| o.start == at) {
            let p = match (problem.as_str(), other) {
                ("buffer", Some(t)) => format!("buffer@{}", t.to_rfc3339()),
                _ => problem,
            };
            if !o.problems.contains(&p) {
                o.problems.push(p);
            }
        }
    }
}

/// The coach who runs an assignment: a coach their own programs and the
/// admins' templates; an admin the program's coach, or a named one for a
/// template of all.
async fn coach_for(
    conn: &mut PgConnection,
    actor: &Actor,
    p: &Program,
    named: Option<&UserRef>,
) -> Result<Coach> {
    match actor.role() {
        Role::Member => Err(Error::forbidden(format!(
            "{} is a member; programs are assigned by coaches and admins",
            actor.label()
        ))),
        Role::Coach => {
            let me = actor
                .as_coach()
                .ok_or_else(|| Error::Internal("a coach actor without an id".into()))?;
            let c = coach::fetch(conn, me).await?;
            if let Some(r) = named
                && coach::find(conn, actor, r).await?.id != c.id
            {
                return Err(Error::forbidden(format!(
                    "{} may only assign programs they run themselves",
                    actor.label()
                )));
            }
            Ok(c)
        }
        Role::Admin => match (named, p.coach_id) {
            (Some(r), _) => {
                let c = coach::find(conn, actor, r).await?;
                match p.coach_id {
                    Some(owner) if owner != c.id => Err(Error::rule(format!(
                        "program {} is {}'s; only its coach runs it",
                        p.name,
                        p.coach_email.as_deref().unwrap_or("another coach")
                    ))),
                    _ => Ok(c),
                }
            }
            (None, Some(owner)) => {
                coach::fetch(conn, crate::domain::UserId::from_uuid(owner)).await
            }
            (None, None) => Err(Error::invalid(
                "program is a template for every coach; name the coach who runs it with --coach",
            )),
        },
    }
}

/// The parties of a series, checked as `session create` checks them.
async fn parties(
    conn: &mut PgConnection,
    actor: &Actor,
    c: &Coach,
    who: &UserRef,
) -> Result<Member> {
    let m = member::find_in(conn, actor, crate::users::Sight::Known, who).await?;
    if !c.active {
        return Err(Error::rule(format!("coach {} is deactivated", c.email)));
    }
    if !m.active || m.membership_status != MembershipStatus::Active {
        return Err(Error::rule(format!(
            "{}'s membership is not active ({}); only active members get programs",
            m.email, m.membership_status
        )));
    }
    if !may_book(conn, &m, c).await? {
        let sentence = format!(
            "{} is neither assigned nor connected to coach {}; programs are only for a coach's own or connected members",
            m.email, c.email
        );
        return Err(match actor.role() {
            Role::Coach => Error::forbidden(sentence),
            _ => Error::rule(sentence),
        });
    }
    Ok(m)
}

/// `program assign`: the enrolment and every session of the series in one
/// statement, or nothing. With `dry_run`, the plan and its conflicts.
pub async fn assign(
    pool: &PgPool,
    actor: &Actor,
    a: &Assignment,
    dry_run: bool,
) -> Result<std::result::Result<Enrolment, SeriesPlan>> {
    assign_in(&mut *pool.acquire().await?, actor, a, dry_run, false).await
}

/// `program assign` on a connection the caller holds (a seed's transaction);
/// `propose` makes an admin's assignment a proposal, as a coach's always is.
pub(crate) async fn assign_in(
    conn: &mut PgConnection,
    actor: &Actor,
    a: &Assignment,
    dry_run: bool,
    propose: bool,
) -> Result<std::result::Result<Enrolment, SeriesPlan>> {
    let p = super::find(conn, actor, a.program).await?;
    if p.archived {
        return Err(Error::rule(format!(
            "program {} is archived; it takes no new members",
            p.name
        )));
    }
    let c = coach_for(conn, actor, &p, a.coach.as_ref()).await?;
    let m = parties(conn, actor, &c, &a.member).await?;
    if a.weekly.len() != p.per_week as usize {
        return Err(Error::invalid(format!(
            "program {} has {} session(s) a week; give --at {} time(s), not {}",
            p.name,
            p.per_week,
            p.per_week,
            a.weekly.len()
        )));
    }
    for (i, x) in a.weekly.iter().enumerate() {
        if a.weekly[..i].contains(x) {
            return Err(Error::invalid(format!("--at '{x}' is given twice")));
        }
    }
    let tz = c.tz();
    let from = a.start.resolve(tz)?.naive();
    let mut occ = occurrences(tz, from, p.weeks, &a.weekly, p.length_minutes);
    let proposed = propose || actor.role() == Role::Coach;
    let mut plan = SeriesPlan {
        program_name: p.name.clone(),
        coach_email: c.email.clone(),
        member_email: m.email.clone(),
        status: if proposed { "proposed" } else { "active" },
        occurrences: Vec::new(),
        tz: Some(tz),
    };
    let bookable: Vec<Occurrence> = occ
        .iter()
        .filter(|o| o.problems.is_empty())
        .cloned()
        .collect();
    let occ_json = occurrence_json(&bookable, &vec![Uuid::nil(); bookable.len()], false);
    if dry_run || occ.iter().any(|o| !o.problems.is_empty()) {
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let rows: Vec<ConflictRow> = sqlx::query_as(
            "SELECT occurrence, problem, other_start FROM series_conflicts($1, $2, $3, NULL)",
        )
        .bind(c.id)
        .bind(m.id)
        .bind(&occ_json)
        .fetch_all(&mut *tx)
        .await?;
        tx.rollback().await?;
        mark(&mut occ, rows);
        plan.occurrences = occ;
        return if dry_run {
            Ok(Err(plan))
        } else {
            Err(plan.refusal(&format!("cannot assign {} to {}", p.name, m.email)))
        };
    }
    let has_history: bool = sqlx::query_scalar(
        "SELECT coalesce((SELECT true FROM sessions WHERE coach_id = $1 AND member_id = $2
                            AND status NOT IN ('cancelled', 'declined', 'expired')
                          ORDER BY starts_at LIMIT 1), false)",
    )
    .bind(c.id)
    .bind(m.id)
    .fetch_one(&mut *conn)
    .await?;
    let now = Utc::now();
    let expires = proposed.then(|| (now + DEFAULT_EXPIRY).min(occ[0].start));
    let ids: Vec<Uuid> = occ.iter().map(|_| Uuid::new_v4()).collect();
    let occ_json = occurrence_json(&occ, &ids, !has_history);
    let id = Uuid::new_v4();
    let weekly: Vec<String> = a.weekly.iter().map(|w| w.to_string()).collect();
    let after = serde_json::json!({
        "enrolment_id": id, "program_id": p.id, "program_name": p.name,
        "coach_email": c.email, "member_email": m.email, "weekly": weekly,
        "sessions": ids, "status": plan.status,
    });
    // One round trip: the conflicts, and only when there are none the
    // enrolment, its sessions and the audit row (data-modifying CTEs run to
    // completion whether or not the outer query reads them).
    let rows: std::result::Result<Vec<ConflictRow>, sqlx::Error> = sqlx::query_as(
        "WITH c AS MATERIALIZED (SELECT * FROM series_conflicts($1, $2, $3, NULL)),
         e AS (
            INSERT INTO program_enrolments (id, program_id, coach_id, member_id, status, weeks,
                starts_on, weekly, proposed_by)
            SELECT $4, $5, $1, $2, $6, $7, $8, $9, $10 WHERE NOT EXISTS (SELECT 1 FROM c)
            RETURNING id
         ), s AS (
            INSERT INTO sessions (id, coach_id, member_id, starts_at, ends_at, session_type,
                status, expires_at, proposed_by, enrolment_id)
            SELECT (x->>'id')::uuid, $1, $2, (x->>'start')::timestamptz, (x->>'end')::timestamptz,
                   x->>'type', $11, $12, $10, e.id
            FROM e, jsonb_array_elements($3) x
            RETURNING id
         ), a AS (
            INSERT INTO audit_log (actor_id, actor_label, action, entity, entity_id, before,
                                   after, acted_by_os_user)
            SELECT $10, $13, 'program.assign', 'enrolment', e.id, NULL, $14, $15 FROM e
            RETURNING 1
         )
         SELECT occurrence, problem, other_start FROM c",
    )
    .bind(c.id)
    .bind(m.id)
    .bind(&occ_json)
    .bind(id)
    .bind(p.id)
    .bind(plan.status)
    .bind(p.weeks)
    .bind(from)
    .bind(&weekly)
    .bind(actor.id().map(|i| i.as_uuid()))
    .bind(if proposed { "proposed" } else { "scheduled" })
    .bind(expires)
    .bind(actor.label())
    .bind(&after)
    .bind(actor.operator_os_user())
    .fetch_all(&mut *conn)
    .await;
    match rows {
        Ok(rows) if rows.is_empty() => Ok(Ok(fetch_enrolment(conn, id).await?)),
        Ok(rows) => {
            mark(&mut occ, rows);
            plan.occurrences = occ;
            Err(plan.refusal(&format!("cannot assign {} to {}", p.name, m.email)))
        }
        Err(e) => Err(seat_refusal(
            e,
            &format!("cannot assign {} to {}", p.name, m.email),
        )),
    }
}

/// A guard that refused a row of a series after the check (a race, or a
/// rule the check does not know): the whole statement failed.
fn seat_refusal(e: sqlx::Error, what: &str) -> Error {
    let constraint = match &e {
        sqlx::Error::Database(d) => d.constraint().map(str::to_string),
        _ => None,
    };
    match constraint.as_deref() {
        Some("slots_booked_within_capacity") | Some("sessions_member_once_per_start") => {
            Error::conflict(format!(
                "{what}: a slot of the series was just taken; nothing was booked"
            ))
        }
        Some(c) if c.starts_with("sessions_") => Error::rule(format!(
            "{what}: a session of the series breaks a rule of the coach's schedule ({}); nothing was booked",
            c.trim_start_matches("sessions_").replace('_', " ")
        )),
        _ => e.into(),
    }
}

/// Within a series change, the sessions' own notices are left out: the
/// enrolment gives one for the whole series.
async fn series_op(conn: &mut PgConnection) -> Result<()> {
    sqlx::query("SELECT set_config('coachctl.series_op', 'on', true)")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// `program accept|decline ENROLMENT`: the member answers the series as a whole.
pub async fn answer(pool: &PgPool, actor: &Actor, id: Uuid, yes: bool) -> Result<Enrolment> {
    let mut tx = pool.begin().await?;
    let before = find_enrolment(&mut tx, actor, id).await?;
    if !(actor.is_admin() || actor.id().map(|i| i.as_uuid()) == Some(before.member_id)) {
        return Err(Error::forbidden(format!(
            "only the member {} may {} enrolment {id}",
            before.member_email,
            if yes { "accept" } else { "decline" }
        )));
    }
    match before.status.as_str() {
        "proposed" => {}
        "expired" => {
            return Err(Error::rule(format!(
                "the proposal of enrolment {id} expired; ask the coach for a new one"
            )));
        }
        other => {
            return Err(Error::rule(format!(
                "enrolment {id} is {other}, not a proposal waiting for an answer"
            )));
        }
    }
    sqlx::query("SELECT 1 FROM program_enrolments WHERE id = $1 FOR UPDATE")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    series_op(&mut tx).await?;
    let moved = sqlx::query(
        "UPDATE sessions SET status = $2, responded_at = now(), sequence = sequence + 1,
            updated_at = now()
         WHERE enrolment_id = $1 AND status = 'proposed'",
    )
    .bind(id)
    .bind(if yes { "scheduled" } else { "declined" })
    .execute(&mut *tx)
    .await;
    if let Err(e) = moved {
        return Err(match &e {
            sqlx::Error::Database(d) if d.constraint() == Some("sessions_proposal_not_expired") => {
                Error::rule(format!("the proposal of enrolment {id} has just expired"))
            }
            _ => e.into(),
        });
    }
    sqlx::query(
        "UPDATE program_enrolments SET status = $2, responded_at = now(), updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(if yes { "active" } else { "declined" })
    .execute(&mut *tx)
    .await?;
    let after = fetch_enrolment(&mut tx, id).await?;
    let action = if yes {
        "program.accept"
    } else {
        "program.decline"
    };
    crate::audit::record(
        &mut tx,
        actor,
        crate::audit::Change::of(action, "enrolment", id, Some(&before), Some(&after))?,
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Only the pair's coach or an admin changes a series; the member answers it.
fn check_coach(actor: &Actor, e: &Enrolment, what: &str) -> Result<()> {
    if actor.is_admin() || actor.id().map(|i| i.as_uuid()) == Some(e.coach_id) {
        Ok(())
    } else {
        Err(Error::forbidden(format!(
            "only the coach {} or an admin may {what} enrolment {}",
            e.coach_email, e.id
        )))
    }
}

fn check_open(e: &Enrolment) -> Result<()> {
    match e.status.as_str() {
        "proposed" | "active" => Ok(()),
        other => Err(Error::rule(format!(
            "enrolment {} is {other}; only a proposed or active series changes",
            e.id
        ))),
    }
}

/// `program cancel ENROLMENT`: every remaining session is cancelled and its
/// seat freed; completed sessions stay.
pub async fn cancel(pool: &PgPool, actor: &Actor, id: Uuid) -> Result<Enrolment> {
    let mut tx = pool.begin().await?;
    let before = find_enrolment(&mut tx, actor, id).await?;
    let me = actor.id().map(|i| i.as_uuid());
    if !(actor.is_admin() || me == Some(before.coach_id) || me == Some(before.member_id)) {
        return Err(Error::forbidden(format!(
            "{} may not cancel enrolment {id}",
            actor.label()
        )));
    }
    check_open(&before)?;
    series_op(&mut tx).await?;
    sqlx::query(
        "UPDATE sessions SET status = 'cancelled', cancelled_at = now(), cancelled_by = $2,
            cancellation_reason = 'the program was cancelled', sequence = sequence + 1,
            updated_at = now()
         WHERE enrolment_id = $1 AND status IN ('scheduled', 'proposed') AND starts_at > now()",
    )
    .bind(id)
    .bind(me)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE program_enrolments SET status = 'cancelled', cancelled_at = now(),
            sequence = sequence + 1, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let after = fetch_enrolment(&mut tx, id).await?;
    crate::audit::record(
        &mut tx,
        actor,
        crate::audit::Change::of(
            "program.cancel",
            "enrolment",
            id,
            Some(&before),
            Some(&after),
        )?,
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// What `program adjust` changes.
#[derive(Debug, Clone)]
pub enum Adjustment {
    /// Move every remaining session from this local date on to new weekly times.
    Move { from: Day, weekly: Vec<WeeklyAt> },
    /// Add this many weeks at the current weekly times.
    Extend(i32),
}

/// The remaining sessions of a series, in order: (id, start, end, status, expires).
type SeatRow = (
    Uuid,
    DateTime<Utc>,
    DateTime<Utc>,
    String,
    Option<DateTime<Utc>>,
);

/// `program adjust ENROLMENT`: move the rest of a series, or extend it, all
/// or nothing; each moved session's SEQUENCE is raised.
pub async fn adjust(
    pool: &PgPool,
    actor: &Actor,
    id: Uuid,
    change: &Adjustment,
) -> Result<Enrolment> {
    let mut tx = pool.begin().await?;
    let before = find_enrolment(&mut tx, actor, id).await?;
    check_coach(actor, &before, "adjust")?;
    check_open(&before)?;
    sqlx::query("SELECT 1 FROM program_enrolments WHERE id = $1 FOR UPDATE")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let c = coach::fetch(&mut tx, crate::domain::UserId::from_uuid(before.coach_id)).await?;
    let tz = c.tz();
    let length: i32 = sqlx::query_scalar("SELECT session_minutes FROM programs WHERE id = $1")
        .bind(before.program_id)
        .fetch_one(&mut *tx)
        .await?;
    series_op(&mut tx).await?;
    let what = format!("cannot adjust enrolment {id}");
    match change {
        Adjustment::Move { from, weekly } => {
            let from_date = from.resolve(tz)?.naive();
            let from_instant = local_instant(tz, from_date, 0).unwrap_or_else(Utc::now);
            let seats: Vec<SeatRow> = sqlx::query_as(
                "SELECT id, starts_at, ends_at, status, expires_at FROM sessions
                 WHERE enrolment_id = $1 AND status IN ('scheduled', 'proposed')
                   AND starts_at > greatest(now(), $2)
                 ORDER BY starts_at, id",
            )
            .bind(id)
            .bind(from_instant)
            .fetch_all(&mut *tx)
            .await?;
            if seats.is_empty() {
                return Err(Error::rule(format!(
                    "enrolment {id} has no remaining session on or after {from_date}"
                )));
            }
            // As many weeks as it takes to place every remaining session.
            let weeks = seats.len().div_ceil(weekly.len().max(1)) as i32;
            let mut occ = occurrences(tz, from_date, weeks, weekly, length);
            occ.truncate(seats.len());
            let ids: Vec<Uuid> = seats.iter().map(|s| s.0).collect();
            check_series(&mut tx, &before, &mut occ, &ids, Some(id), tz, &what).await?;
            // Free the old seats first, then take the new ones: a shift by a
            // week would otherwise meet its own next session.
            sqlx::query(
                "UPDATE sessions SET status = 'expired', updated_at = now() WHERE id = ANY($1)",
            )
            .bind(&ids)
            .execute(&mut *tx)
            .await?;
            let moves = serde_json::Value::Array(
                seats
                    .iter()
                    .zip(&occ)
                    .map(|(s, o)| {
                        serde_json::json!({"id": s.0, "start": o.start, "end": o.end,
                                           "status": s.3, "expires": s.4.map(|t| t.min(o.start))})
                    })
                    .collect(),
            );
            let moved = sqlx::query(
                "UPDATE sessions s SET status = x->>'status', starts_at = (x->>'start')::timestamptz,
                    ends_at = (x->>'end')::timestamptz, expires_at = (x->>'expires')::timestamptz,
                    sequence = s.sequence + 1, updated_at = now()
                 FROM jsonb_array_elements($1) x WHERE s.id = (x->>'id')::uuid",
            )
            .bind(&moves)
            .execute(&mut *tx)
            .await;
            if let Err(e) = moved {
                return Err(seat_refusal(e, &what));
            }
            let weekly: Vec<String> = weekly.iter().map(|w| w.to_string()).collect();
            sqlx::query(
                "UPDATE program_enrolments SET weekly = $2, sequence = sequence + 1,
                    updated_at = now() WHERE id = $1",
            )
            .bind(id)
            .bind(&weekly)
            .execute(&mut *tx)
            .await?;
        }
        Adjustment::Extend(n) => {
            let last: Option<(DateTime<Utc>, String, Option<DateTime<Utc>>)> = sqlx::query_as(
                "SELECT starts_at, status, expires_at FROM sessions WHERE enrolment_id = $1
                 ORDER BY starts_at DESC LIMIT 1",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((last, status, expires)) = last else {
                return Err(Error::rule(format!(
                    "enrolment {id} has no sessions to extend"
                )));
            };
            let weekly: Vec<WeeklyAt> = before
                .weekly
                .iter()
                .map(|w| w.parse())
                .collect::<Result<_>>()?;
            let from = last.with_timezone(&tz).date_naive() + Duration::days(1);
            let mut occ = occurrences(tz, from, *n, &weekly, length);
            let ids: Vec<Uuid> = occ.iter().map(|_| Uuid::new_v4()).collect();
            check_series(&mut tx, &before, &mut occ, &ids, None, tz, &what).await?;
            let status = if status == "proposed" {
                "proposed"
            } else {
                "scheduled"
            };
            let added = sqlx::query(
                "INSERT INTO sessions (id, coach_id, member_id, starts_at, ends_at, session_type,
                    status, expires_at, proposed_by, enrolment_id)
                 SELECT (x->>'id')::uuid, $1, $2, (x->>'start')::timestamptz,
                        (x->>'end')::timestamptz, 'regular', $3, $4, $5, $6
                 FROM jsonb_array_elements($7) x",
            )
            .bind(before.coach_id)
            .bind(before.member_id)
            .bind(status)
            .bind(if status == "proposed" { expires } else { None })
            .bind(actor.id().map(|i| i.as_uuid()))
            .bind(id)
            .bind(occurrence_json(&occ, &ids, false))
            .execute(&mut *tx)
            .await;
            if let Err(e) = added {
                return Err(seat_refusal(e, &what));
            }
            sqlx::query(
                "UPDATE program_enrolments SET weeks = weeks + $2, sequence = sequence + 1,
                    updated_at = now() WHERE id = $1",
            )
            .bind(id)
            .bind(n)
            .execute(&mut *tx)
            .await?;
        }
    }
    let after = fetch_enrolment(&mut tx, id).await?;
    crate::audit::record(
        &mut tx,
        actor,
        crate::audit::Change::of(
            "program.adjust",
            "enrolment",
            id,
            Some(&before),
            Some(&after),
        )?,
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Every rule for every occurrence (under the coach's lock, in `tx`);
/// a refusal naming them all when any breaks.
async fn check_series(
    tx: &mut PgConnection,
    e: &Enrolment,
    occ: &mut [Occurrence],
    ids: &[Uuid],
    moving: Option<Uuid>,
    tz: chrono_tz::Tz,
    what: &str,
) -> Result<()> {
    let rows: Vec<ConflictRow> = sqlx::query_as(
        "SELECT occurrence, problem, other_start FROM series_conflicts($1, $2, $3, $4)",
    )
    .bind(e.coach_id)
    .bind(e.member_id)
    .bind(occurrence_json(occ, ids, false))
    .bind(moving)
    .fetch_all(&mut *tx)
    .await?;
    mark(occ, rows);
    if occ.iter().any(|o| !o.problems.is_empty()) {
        let plan = SeriesPlan {
            program_name: e.program_name.clone(),
            coach_email: e.coach_email.clone(),
            member_email: e.member_email.clone(),
            status: "active",
            occurrences: occ.to_vec(),
            tz: Some(tz),
        };
        return Err(plan.refusal(what));
    }
    Ok(())
}

/// `program list --enrolments`: the enrolments the actor may see.
pub async fn list_enrolments(
    pool: &PgPool,
    actor: &Actor,
    member: Option<Uuid>,
) -> Result<Vec<Enrolment>> {
    let me = actor.id().map(|i| i.as_uuid());
    let sql = format!(
        "{ENROLMENT_SELECT}
         WHERE ($1::uuid IS NULL OR e.coach_id = $1 OR e.member_id = $1)
           AND ($2::uuid IS NULL OR e.member_id = $2)
         ORDER BY e.created_at, e.id"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(if actor.is_admin() { None } else { me })
        .bind(member)
        .fetch_all(pool)
        .await?)
}
