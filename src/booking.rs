//! Slots and atomic booking. Seed 003 requirements 5 and 15; seed 002
//! properties 15-16 and 23-29.
//!
//! A booking reads one snapshot (coach, member, the schedule around the
//! time), checks the slot in code for a precise reason, then writes the
//! session, the booking and the audit row in one statement, which is one
//! transaction. That statement is where the database decides: the
//! `sessions_guard_schedule` trigger takes the coach's schedule lock (so one
//! coach's writers queue) and refuses a time outside the windows, on a
//! blocked date or within the larger buffer of another session; the
//! `sessions_slot_count` trigger counts the seat under
//! `CHECK (booked <= capacity)`. No interleaving of bookers, schedule
//! changes, processes or machines can overbook, breach a buffer or leave a
//! session outside its window.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::actor::Actor;
use crate::availability::load_schedule;
use crate::coach::{self, Coach};
use crate::domain::{At, MembershipStatus, ProfileText, Role, SessionType, UserId, UserRef};
use crate::error::{Error, Result};
use crate::member;
use crate::schedule::Slot;

/// `book`'s one statement, in pieces that [`first`] reuses: the coach's
/// CTE (open, so that a condition can be added), then the rest up to the
/// final SELECT.
macro_rules! fast_coach {
    () => {
        "c AS (
                SELECT u.id, u.email, u.timezone AS tz, p.min_notice_minutes, p.horizon_days
                FROM users u JOIN coach_profiles p ON p.user_id = u.id
                WHERE u.role = 'coach' AND u.active
                  AND (u.id = $1::uuid OR email_key(u.email) = email_key($2::text))"
    };
}
// `$member_too`: another way to match the member (inside the OR of id and
// email); `$member_only`: a further condition on the member; `$actor_id`,
// `$actor_label`: the audit row's actor.
macro_rules! fast_rest {
    () => {
        fast_rest!("", "", "$12", "$13")
    };
    ($member_too:literal, $member_only:literal, $actor_id:literal, $actor_label:literal) => {
        concat!(
            "
             ), m AS (
                SELECT u.id, u.email, p.coach_id
                FROM users u JOIN member_profiles p ON p.user_id = u.id
                WHERE u.role = 'member' AND u.active AND p.membership_status = 'active'
                  AND (u.id = $3::uuid OR email_key(u.email) = email_key($4::text) ",
            $member_too,
            ")
                  AND ($7::uuid IS NULL OR u.id = $7::uuid) ",
            $member_only,
            "
             ), t AS (
                SELECT c.id AS coach_id, c.email AS coach_email, m.id AS member_id,
                       m.email AS member_email, c.tz, c.min_notice_minutes, c.horizon_days,
                       x.start, x.start AT TIME ZONE c.tz AS local
                FROM c CROSS JOIN m
                CROSS JOIN LATERAL (SELECT coalesce($5::timestamptz, $6::timestamp AT TIME ZONE c.tz) AS start) x
                WHERE m.coach_id = c.id
                   OR EXISTS (SELECT 1 FROM connections k
                              WHERE k.coach_id = c.id AND k.member_id = m.id AND k.status = 'accepted')
             ), slot AS (
                SELECT t.*, w.id AS window_id, w.session_minutes, w.buffer_minutes, w.capacity
                FROM t JOIN availability_windows w ON w.coach_id = t.coach_id
                WHERE w.day_of_week = extract(dow FROM t.local)
                  -- a typed local time that exists, on the minute
                  AND ($6::timestamp IS NULL OR t.local = $6::timestamp)
                  AND date_trunc('minute', t.local) = t.local
                  -- no change of UTC offset in the day before: the local time's only
                  -- or first occurrence
                  AND (t.start - interval '26 hours') AT TIME ZONE t.tz = t.local - interval '26 hours'
                  -- on the window's grid
                  AND local_minute(t.start, t.tz) >= w.start_minute
                  AND (local_minute(t.start, t.tz) - w.start_minute) % (w.session_minutes + w.buffer_minutes) = 0
                  AND local_minute(t.start, t.tz) + w.session_minutes <= w.end_minute
                  -- notice and horizon
                  AND t.start > now() + make_interval(mins => t.min_notice_minutes)
                  AND (t.horizon_days IS NULL OR t.start <= now() + t.horizon_days * interval '24 hours')
             ), s AS (
                INSERT INTO sessions (id, coach_id, member_id, window_id, starts_at, ends_at,
                    buffer_minutes, slot_capacity, session_type, member_notes)
                SELECT $8, coach_id, member_id, window_id, start,
                       start + make_interval(mins => session_minutes), buffer_minutes, capacity,
                       coalesce($9::text,
                                (SELECT 'regular' FROM sessions h
                                 WHERE h.coach_id = slot.coach_id AND h.member_id = slot.member_id
                                   AND h.status NOT IN ('cancelled', 'declined', 'expired')
                                 ORDER BY h.starts_at LIMIT 1),
                                'initial'),
                       $10
                FROM slot
                RETURNING id, coach_id, member_id, starts_at, ends_at
             ), b AS (
                INSERT INTO bookings (id, coach_id, member_id, starts_at, status, session_id, member_notes)
                SELECT $11, coach_id, member_id, starts_at, 'confirmed', id, $10 FROM s
                RETURNING id
             ), a AS (
                INSERT INTO audit_log (actor_id, actor_label, action, entity, entity_id, before,
                                       after, acted_by_os_user)
                SELECT ",
            $actor_id,
            ", ",
            $actor_label,
            ", 'booking.confirm', 'booking', b.id, NULL,
                       jsonb_build_object(
                           'booking_id', b.id, 'session_id', s.id, 'status', 'confirmed',
                           'start', to_char(s.starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                           'end', to_char(s.ends_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                           'coach_email', slot.coach_email, 'member_email', slot.member_email),
                       $14
                FROM b, s, slot
                RETURNING 1
             )"
        )
    };
}
/// Who acts, for [`first`]'s statement and its recorded refusal (params:
/// the newest migration, and `--as`'s id and email): `v` is what the
/// connection is (the schema's version, its login's role), `act` at most
/// one row, found as the usual path finds the actor (`Actor::from_identity`).
macro_rules! first_actor {
    ($latest:literal, $as_id:literal, $as_email:literal) => {
        concat!(
            "v AS (
                SELECT (SELECT max(version) FROM _sqlx_migrations WHERE success) AS applied,
                       current_actor_role() AS role
             ), act AS (
                -- the operator: the owner naming nobody
                SELECT NULL::uuid AS id, 'operator'::text AS label, 'admin'::text AS role,
                       true AS operator
                FROM v
                WHERE v.applied = ",
            $latest,
            " AND v.role = 'owner'
                  AND ",
            $as_id,
            "::uuid IS NULL AND ",
            $as_email,
            "::text IS NULL
                UNION ALL
                -- the active user the owner names with --as
                SELECT u.id, u.email, u.role, false
                FROM v, users u
                WHERE v.applied = ",
            $latest,
            " AND v.role = 'owner' AND u.active
                  AND (u.id = ",
            $as_id,
            "::uuid OR email_key(u.email) = email_key(",
            $as_email,
            "::text))
                UNION ALL
                -- a member's or an admin's own login, naming nobody (the role is
                -- 'none' once the person is deactivated or removed)
                SELECT u.id, u.email, u.role, false
                FROM v, users u
                WHERE v.applied = ",
            $latest,
            " AND v.role IN ('admin', 'member')
                  AND ",
            $as_id,
            "::uuid IS NULL AND ",
            $as_email,
            "::text IS NULL
                  AND u.id = current_actor()
             )"
        )
    };
}
mod batch;
mod days;
mod first;
mod pick;
mod refused;
pub use batch::{LineOutcome, Lines, book_lines};
pub use days::{DayRange, slots_first, slots_in};
pub use first::{First, first};
pub use pick::{Parties, prepare};
pub use refused::record_first as record_first_refusal;

/// The one message of a full slot (seed 003, requirement 5.5).
pub const SLOT_FULL: &str = "This slot is now full, please choose another";

/// `slots`: the offered slots of a coach for local dates from..=to, in the
/// coach's zone. Anyone may look.
pub async fn slots(
    pool: &PgPool,
    actor: &Actor,
    coach_ref: &UserRef,
    from: Option<NaiveDate>,
    days: u32,
    include_full: bool,
) -> Result<(Coach, Vec<Slot>)> {
    let mut conn = pool.acquire().await?;
    let c = coach::find(&mut conn, actor, coach_ref).await?;
    slots_of(&mut conn, actor, c, from, days, include_full).await
}

/// [`slots`] of a coach already found, on the caller's connection.
pub(crate) async fn slots_of(
    conn: &mut sqlx::PgConnection,
    actor: &Actor,
    c: Coach,
    from: Option<NaiveDate>,
    days: u32,
    include_full: bool,
) -> Result<(Coach, Vec<Slot>)> {
    let tz = c.tz();
    let now = Utc::now();
    let from = from.unwrap_or_else(|| now.with_timezone(&tz).date_naive());
    let (to, starts) = slot_span(from, days, now);
    // A deactivated coach offers nothing.
    if !c.active {
        return Ok((c, Vec::new()));
    }
    let schedule = load_schedule(conn, &c, starts).await?;
    offered_in(conn, actor, c, &schedule, (from, to), now, include_full).await
}

/// The last local date of `days` from `from`, and the starts (UTC) whose
/// sessions can decide a slot of those dates in any zone.
pub(crate) fn slot_span(
    from: NaiveDate,
    days: u32,
    now: DateTime<Utc>,
) -> (NaiveDate, (DateTime<Utc>, DateTime<Utc>)) {
    let to = from + Duration::days(i64::from(days.max(1)) - 1);
    let start = from
        .and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc())
        .unwrap_or(now)
        - Duration::days(1);
    let end = to.and_hms_opt(0, 0, 0).map(|d| d.and_utc()).unwrap_or(now) + Duration::days(2);
    (to, (start, end))
}

/// The slots of local dates `from..=to` in a schedule loaded for at least
/// [`slot_span`] of them, less those at a booking limit.
pub(crate) async fn offered_in(
    conn: &mut sqlx::PgConnection,
    actor: &Actor,
    c: Coach,
    schedule: &crate::schedule::Schedule,
    (from, to): (NaiveDate, NaiveDate),
    now: DateTime<Utc>,
    include_full: bool,
) -> Result<(Coach, Vec<Slot>)> {
    if !c.active {
        return Ok((c, Vec::new()));
    }
    let mut slots = schedule.offered(from, to, now, include_full);
    if c.max_per_day.is_some() || c.max_per_week.is_some() || c.member_max_per_week.is_some() {
        let member = match actor.role() {
            Role::Member => actor.id().map(|i| i.as_uuid()),
            _ => None,
        };
        hide_at_limits(conn, &c, member, (from, to), &mut slots).await?;
    }
    Ok((c, slots))
}

/// Drop the slots of local days and weeks at one of the coach's booking
/// limits (for `member`, at the member's weekly limit too): the seat guard
/// would refuse them.
async fn hide_at_limits(
    conn: &mut sqlx::PgConnection,
    c: &Coach,
    member: Option<Uuid>,
    (from, to): (NaiveDate, NaiveDate),
    slots: &mut Vec<Slot>,
) -> Result<()> {
    use chrono::Datelike;
    let full: Vec<(String, NaiveDate)> =
        sqlx::query_as("SELECT kind, day FROM seat_limits_reached($1, $2, $3, $4)")
            .bind(c.id)
            .bind(member)
            .bind(from - Duration::days(1))
            .bind(to + Duration::days(1))
            .fetch_all(&mut *conn)
            .await?;
    if full.is_empty() {
        return Ok(());
    }
    let tz = c.tz();
    slots.retain(|s| {
        let day = s.start.with_timezone(&tz).date_naive();
        let monday = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
        !full.iter().any(|(kind, d)| match kind.as_str() {
            "day" => *d == day,
            _ => *d == monday,
        })
    });
    Ok(())
}

/// Register the listening session `conn` as a watcher of a coach's slots
/// (`slots --watch`), and forget watchers whose sessions are gone.
pub async fn watch_slots(conn: &mut sqlx::postgres::PgListener, coach: Uuid) -> Result<()> {
    sqlx::query(
        "WITH gone AS (
            DELETE FROM slot_watchers w
            WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = w.pid)
         )
         INSERT INTO slot_watchers (coach_id, pid) VALUES ($1, pg_backend_pid())
         ON CONFLICT (coach_id, pid) DO NOTHING",
    )
    .bind(coach)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The end of `slots --watch`: stop notifying for this session.
pub async fn unwatch_slots(conn: &mut sqlx::postgres::PgListener, coach: Uuid) -> Result<()> {
    sqlx::query("DELETE FROM slot_watchers WHERE coach_id = $1 AND pid = pg_backend_pid()")
        .bind(coach)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Input of `book`.
#[derive(Debug, Clone)]
pub struct Request {
    pub coach: UserRef,
    /// The member; a member acting books for themself.
    pub member: Option<UserRef>,
    pub at: At,
    pub notes: Option<ProfileText>,
    /// `initial` for a member's first session with the coach, else `regular`, unless named.
    pub session_type: Option<SessionType>,
}

/// A confirmed booking.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Booking {
    pub booking_id: Uuid,
    pub session_id: Uuid,
    pub status: &'static str,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub coach_email: String,
    pub member_email: String,
}

/// `book`. Retries a statement the database chose as a deadlock victim.
///
/// The common case, a bookable slot, is one statement ([`book_fast`]); only
/// when that statement writes nothing or the database refuses it does the
/// booking read its snapshot ([`book_once`]) to give the precise reason.
pub async fn book(pool: &PgPool, actor: &Actor, req: &Request) -> Result<Booking> {
    book_on(&mut *pool.acquire().await?, actor, req).await
}

/// [`book`] on the caller's connection (outside a transaction: a refusal is
/// recorded, and a deadlock victim is retried).
pub async fn book_on(conn: &mut PgConnection, actor: &Actor, req: &Request) -> Result<Booking> {
    book_zoned(conn, actor, req).await.map(|(b, _)| b)
}

/// What [`first`] left for the booking to go on from.
#[derive(Debug)]
pub enum Tried {
    /// Nothing yet.
    Not,
    /// The statement made nothing (a condition of it failed).
    NothingMade,
    /// The database refused the statement: nothing was written.
    Refused(sqlx::Error),
}

/// [`book`] after its one statement was tried ([`first`]): a refusal that
/// names its reason (the slot full, a booking limit) is recorded at once;
/// otherwise straight to the snapshot that says why. A refusal costs two
/// round trips with the statement, not three.
pub async fn book_after(
    pool: &PgPool,
    actor: &Actor,
    req: &Request,
    tried: Tried,
) -> Result<(Booking, chrono_tz::Tz)> {
    let mut conn = pool.acquire().await?;
    if let Tried::Refused(e) = &tried
        && let Some(refusal) = refused::named(e)
    {
        let who = member_ref(actor, req.member.as_ref())?;
        if refused::record(&mut conn, actor, req, &who, &refusal).await? {
            return Err(refusal);
        }
    }
    let fast = matches!(tried, Tried::Not);
    booking_loop(&mut conn, actor, req, fast).await
}

/// [`book_on`], and the coach's zone (for showing the times), learnt from
/// the booking's own statements.
pub(crate) async fn book_zoned(
    conn: &mut PgConnection,
    actor: &Actor,
    req: &Request,
) -> Result<(Booking, chrono_tz::Tz)> {
    booking_loop(conn, actor, req, true).await
}

/// [`book_fast`] (when `fast`), then [`book_once`] if that made nothing;
/// a deadlock victim again.
async fn booking_loop(
    conn: &mut PgConnection,
    actor: &Actor,
    req: &Request,
    mut fast: bool,
) -> Result<(Booking, chrono_tz::Tz)> {
    let who = member_ref(actor, req.member.as_ref())?;
    let mut attempt = 0;
    loop {
        let made = if fast {
            book_fast(conn, actor, req, &who).await
        } else {
            Ok(Fast::NotMade)
        };
        let outcome = match made {
            Ok(Fast::Booked(booking, tz)) => Ok((booking, tz)),
            Ok(Fast::Refused(e)) => match refused::named(&e) {
                Some(refusal) => match refused::record(conn, actor, req, &who, &refusal).await {
                    Ok(true) => Err(refusal),
                    Ok(false) => book_once(conn, actor, req, &who, true).await,
                    Err(e) => Err(e),
                },
                None => book_once(conn, actor, req, &who, true).await,
            },
            Ok(Fast::NotMade) => book_once(conn, actor, req, &who, true).await,
            Err(e) => Err(e),
        };
        match outcome {
            Err(Error::Database(sqlx::Error::Database(e)))
                if attempt < 3 && matches!(e.code().as_deref(), Some("40P01" | "40001")) =>
            {
                attempt += 1;
                fast = true;
            }
            other => return other,
        }
    }
}

/// Seed 003 r4: a member's first session with a coach is `initial`, later
/// ones `regular`.
pub(crate) fn default_type(has_history: bool) -> SessionType {
    if has_history {
        SessionType::Regular
    } else {
        SessionType::Initial
    }
}

/// Who is booked: a member books for themself; an admin names the member;
/// a coach uses `session create` instead.
fn member_ref(actor: &Actor, named: Option<&UserRef>) -> Result<UserRef> {
    match (actor.role(), named) {
        (Role::Member, None) => actor
            .id()
            .map(UserRef::Id)
            .ok_or_else(|| Error::Internal("a member actor without an id".into())),
        (Role::Member | Role::Admin, Some(r)) => Ok(r.clone()),
        (Role::Admin, None) => Err(Error::invalid("name the member to book for with --member")),
        (Role::Coach, _) => Err(Error::forbidden(format!(
            "{} is a coach; coaches put members into sessions with `session create`",
            actor.label()
        ))),
    }
}

async fn check_parties(
    conn: &mut PgConnection,
    actor: &Actor,
    c: &Coach,
    m: &member::Member,
) -> Result<()> {
    if actor.role() == Role::Member && !actor.is(UserId::from_uuid(m.id)) {
        return Err(Error::forbidden(format!(
            "{} may not book for another member ({})",
            actor.label(),
            m.email
        )));
    }
    if !c.active {
        return Err(Error::rule(format!("coach {} is deactivated", c.email)));
    }
    if !m.active || m.membership_status != MembershipStatus::Active {
        return Err(Error::rule(format!(
            "{}'s membership is not active ({}); only active members book",
            m.email, m.membership_status
        )));
    }
    if !may_book(conn, m, c).await? {
        return Err(Error::rule(format!(
            "{} is neither assigned nor connected to coach {}; a member books only a coach they are assigned or connected to",
            m.email, c.email
        )));
    }
    Ok(())
}

/// May this member book this coach? Assigned, or an accepted connection
/// (a removed one allows no new sessions; scheduled ones stay).
pub(crate) async fn may_book(
    conn: &mut sqlx::PgConnection,
    m: &member::Member,
    c: &Coach,
) -> Result<bool> {
    if m.coach_id == Some(c.id) {
        return Ok(true);
    }
    crate::connect::connected(conn, c.id, m.id).await
}

/// Everything a booking decides on, read in one round trip: the coach, the
/// member, the schedule around the requested time, and whether the member
/// had sessions with this coach before.
///
/// The history check is a scalar `ORDER BY starts_at LIMIT 1` over
/// `sessions_coach_member_start_idx`, not `EXISTS`: inside EXISTS the planner
/// drops the ordering and, expecting an early match, scans a long history
/// sequentially (5 ms of a 6 ms snapshot at 30,000 sessions per coach).
#[derive(sqlx::FromRow)]
struct Snapshot {
    coach: Option<sqlx::types::Json<coach::CoachRow>>,
    member: Option<sqlx::types::Json<member::MemberRow>>,
    #[sqlx(flatten)]
    schedule: crate::availability::ScheduleRow,
    member_has_history: bool,
}

async fn snapshot(
    conn: &mut PgConnection,
    actor: &Actor,
    coach_ref: &UserRef,
    member_ref: &UserRef,
    at: &At,
) -> Result<Snapshot> {
    // Before the coach's zone is known, a local time is placed as if in UTC
    // and widened by the largest UTC offset (and an hour of DST): the
    // sessions loaded stay a superset of those that decide the slot.
    // A relative day (`tomorrow 9:00`) is placed by today in UTC: a day more.
    let (absolute, local, margin) = match at {
        At::Absolute(t) => (Some(*t), None, "interval '0'"),
        At::Local(n) => (None, Some(*n), "interval '15 hours'"),
        At::Relative(..) => (None, at.local_guess(), "interval '39 hours'"),
    };
    let near = "(SELECT t FROM the_time)";
    let sql = format!(
        "WITH the_coach AS ({coach_select} WHERE u.role = 'coach' AND (u.id = $1::uuid OR email_key(u.email) = email_key($2::text))),
              the_member AS ({member_select} WHERE u.role = 'member' AND (u.id = $3::uuid OR email_key(u.email) = email_key($4::text))
                             AND {member_seen}),
              the_time AS (SELECT coalesce($5::timestamptz, $6::timestamp AT TIME ZONE 'UTC') AS t)
         SELECT (SELECT to_jsonb(x) FROM the_coach x) AS coach,
                (SELECT to_jsonb(x) FROM the_member x) AS member,
                {schedule},
                coalesce((SELECT true FROM sessions
                          WHERE coach_id = (SELECT id FROM the_coach)
                            AND member_id = (SELECT id FROM the_member)
                            AND status NOT IN ('cancelled', 'declined', 'expired')
                          ORDER BY starts_at LIMIT 1), false) AS member_has_history",
        coach_select = coach::SELECT,
        member_select = member::select(),
        // one the actor may not see is not found, as nobody (users::Sight)
        member_seen = crate::users::Sight::Seen.sql(7),
        schedule = crate::availability::schedule_columns(
            "(SELECT id FROM the_coach)",
            &format!("{near} - {margin} - interval '1 day'"),
            &format!("{near} + {margin} + interval '1 day'"),
            near,
            margin,
        ),
    );
    let (cid, cemail) = crate::users::ref_params(coach_ref);
    let (mid, memail) = crate::users::ref_params(member_ref);
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(cid)
        .bind(cemail)
        .bind(mid)
        .bind(memail)
        .bind(absolute)
        .bind(local)
        .bind(crate::users::viewer(actor))
        .fetch_one(conn)
        .await?)
}

/// One booking: read a snapshot, check the slot in code (for a precise
/// reason), then write session, booking and audit row in one statement,
/// which is one transaction and where the database has the last word.
/// `record`: write a refusal down (not inside `book --batch --atomic`'s
/// transaction, which a refusal rolls back).
async fn book_once(
    conn: &mut PgConnection,
    actor: &Actor,
    req: &Request,
    who: &UserRef,
    record: bool,
) -> Result<(Booking, chrono_tz::Tz)> {
    let snap = snapshot(conn, actor, &req.coach, who, &req.at).await?;
    // A missing row: the precise lookups say why (no such user, wrong role).
    let c: Coach = match snap.coach {
        Some(row) => row.0.into(),
        None => coach::find(conn, actor, &req.coach).await?,
    };
    let m: member::Member = match snap.member {
        Some(row) => row.0.try_into()?,
        None => member::find(conn, actor, who).await?,
    };
    check_parties(conn, actor, &c, &m).await?;
    let tz = c.tz();
    let start = req.at.resolve(tz)?;
    let schedule = snap.schedule.into_schedule(&c);
    let slot = schedule
        .check(start, Utc::now())
        .map_err(|r| Error::rule(r.sentence(tz)))?;
    let notes = req.notes.clone().and_then(ProfileText::into_option);
    if slot.remaining == 0 {
        if !record {
            return Err(Error::conflict(SLOT_FULL));
        }
        return reject(
            conn,
            actor,
            &c,
            &m,
            start,
            notes,
            Error::conflict(SLOT_FULL),
        )
        .await
        .map(|b| (b, tz));
    }
    let booking = Booking {
        booking_id: Uuid::new_v4(),
        session_id: Uuid::new_v4(),
        status: "confirmed",
        start: slot.start,
        end: slot.end,
        coach_email: c.email.clone(),
        member_email: m.email.clone(),
    };
    let after = serde_json::to_value(&booking).map_err(coach::internal)?;
    let inserted = sqlx::query(
        "WITH s AS (
            INSERT INTO sessions (id, coach_id, member_id, window_id, starts_at, ends_at,
                buffer_minutes, slot_capacity, session_type, member_notes)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            RETURNING id
         ), b AS (
            INSERT INTO bookings (id, coach_id, member_id, starts_at, status, session_id, member_notes)
            SELECT $11, $2, $3, $5, 'confirmed', s.id, $10 FROM s
            RETURNING id
         )
         INSERT INTO audit_log (actor_id, actor_label, action, entity, entity_id, before, after,
                                acted_by_os_user)
         SELECT $12, $13, 'booking.confirm', 'booking', b.id, NULL, $14, $15 FROM b",
    )
    .bind(booking.session_id)
    .bind(c.id)
    .bind(m.id)
    .bind(slot.window_id)
    .bind(slot.start)
    .bind(slot.end)
    .bind(i32::from(slot.buffer_minutes))
    .bind(slot.capacity as i32)
    .bind(
        req.session_type
            .unwrap_or(default_type(snap.member_has_history))
            .as_str(),
    )
    .bind(notes.as_deref())
    .bind(booking.booking_id)
    .bind(actor.id().map(|i| i.as_uuid()))
    .bind(actor.label())
    .bind(&after)
    .bind(actor.operator_os_user())
    .execute(&mut *conn)
    .await;
    match inserted {
        Ok(_) => Ok((booking, tz)),
        Err(e) => {
            let refusal = refusal(e, &m)?;
            if !record {
                return Err(refusal);
            }
            reject(conn, actor, &c, &m, start, notes, refusal)
                .await
                .map(|b| (b, tz))
        }
    }
}

/// What [`book_fast`] reads back: start, end, coach and member email.
type FastRow = (DateTime<Utc>, DateTime<Utc>, String, String);

/// What [`book_fast`] came to.
enum Fast {
    /// Booked; the coach's zone.
    Booked(Booking, chrono_tz::Tz),
    /// A condition of the statement failed: nothing was written.
    NotMade,
    /// The database refused it (an integrity violation): nothing was
    /// written, and a transaction around it is aborted.
    Refused(sqlx::Error),
}

/// The parameters $1..$14 of [`book_fast`]'s statement (and of [`first`]'s).
struct FastParams {
    cid: Option<Uuid>,
    cemail: Option<String>,
    mid: Option<Uuid>,
    memail: Option<String>,
    absolute: Option<DateTime<Utc>>,
    local: Option<chrono::NaiveDateTime>,
    only_member: Option<Uuid>,
    session_id: Uuid,
    session_type: Option<&'static str>,
    notes: Option<String>,
    booking_id: Uuid,
    actor_id: Option<Uuid>,
    actor_label: String,
    os_user: Option<String>,
}

impl FastParams {
    /// None for a relative time (`tomorrow 9:00`): it needs the coach's
    /// today, which the snapshot path reads.
    fn new(actor: &Actor, req: &Request, who: &UserRef) -> Option<FastParams> {
        let mut p = FastParams::of(req, Some(who))?;
        // A member books only for themself.
        p.only_member = match actor.role() {
            Role::Member => actor.id().map(|i| i.as_uuid()),
            _ => None,
        };
        p.actor_id = actor.id().map(|i| i.as_uuid());
        p.actor_label = actor.label().to_string();
        p.os_user = actor.operator_os_user().map(str::to_string);
        Some(p)
    }

    /// For [`first`], whose statement finds who acts itself: the member
    /// `req` names (or none: the acting member), and the operator's OS
    /// user when the owner acts `--as` someone (as `Actor::resolve` has it).
    fn acting(req: &Request, as_user: Option<&UserRef>) -> Option<FastParams> {
        let mut p = FastParams::of(req, req.member.as_ref())?;
        p.os_user = as_user.map(|_| crate::users::os_user());
        Some(p)
    }

    /// The parameters of `req` with no actor yet.
    fn of(req: &Request, who: Option<&UserRef>) -> Option<FastParams> {
        let (absolute, local) = match req.at {
            At::Absolute(t) => (Some(t), None),
            At::Local(n) => (None, Some(n)),
            At::Relative(..) => return None,
        };
        let (cid, cemail) = crate::users::ref_params(&req.coach);
        let (mid, memail) = who.map_or((None, None), crate::users::ref_params);
        Some(FastParams {
            cid,
            cemail: cemail.map(str::to_string),
            mid,
            memail: memail.map(str::to_string),
            absolute,
            local,
            only_member: None,
            session_id: Uuid::new_v4(),
            session_type: req.session_type.map(|t| t.as_str()),
            notes: req.notes.clone().and_then(ProfileText::into_option),
            booking_id: Uuid::new_v4(),
            actor_id: None,
            actor_label: String::new(),
            os_user: None,
        })
    }

    fn bind<'q, O>(
        &'q self,
        q: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
        q.bind(self.cid)
            .bind(self.cemail.as_deref())
            .bind(self.mid)
            .bind(self.memail.as_deref())
            .bind(self.absolute)
            .bind(self.local)
            .bind(self.only_member)
            .bind(self.session_id)
            .bind(self.session_type)
            .bind(self.notes.as_deref())
            .bind(self.booking_id)
            .bind(self.actor_id)
            .bind(self.actor_label.as_str())
            .bind(self.os_user.as_deref())
    }

    fn booking(&self, (start, end, coach_email, member_email): FastRow) -> Booking {
        Booking {
            booking_id: self.booking_id,
            session_id: self.session_id,
            status: "confirmed",
            start,
            end,
            coach_email,
            member_email,
        }
    }
}

/// A booking in one statement, for the common case: every rule that
/// [`book_once`] checks in code is a condition of the statement, and the
/// database's triggers and constraints decide capacity, buffers, windows
/// and blocks as for any write. When a condition fails or the database
/// refuses, nothing was written, and [`book_once`] says why.
///
/// The statement is stricter than the code, never looser: a time within a
/// day after a change of the coach's UTC offset, or not on the minute, is
/// left to [`book_once`], so that an ambiguous local time only ever books
/// its first occurrence, as [`crate::schedule::local_instant`] does.
async fn book_fast(
    conn: &mut PgConnection,
    actor: &Actor,
    req: &Request,
    who: &UserRef,
) -> Result<Fast> {
    let Some(p) = FastParams::new(actor, req, who) else {
        return Ok(Fast::NotMade);
    };
    type Row = (DateTime<Utc>, DateTime<Utc>, String, String, String);
    let row: std::result::Result<Option<Row>, _> = p
        .bind(sqlx::query_as(concat!(
            "WITH ",
            fast_coach!(),
            fast_rest!(),
            "
             SELECT s.starts_at, s.ends_at, slot.coach_email, slot.member_email, slot.tz::text
             FROM s, slot, a"
        )))
        .fetch_optional(conn)
        .await;
    match row {
        Ok(Some((start, end, coach, member, tz))) => Ok(Fast::Booked(
            p.booking((start, end, coach, member)),
            zone(&tz)?,
        )),
        Ok(None) => Ok(Fast::NotMade),
        // An integrity refusal (full, buffer, window, block, seated twice):
        // nothing was written; the snapshot names the reason.
        Err(sqlx::Error::Database(e)) if e.code().is_some_and(|c| c.starts_with("23")) => {
            Ok(Fast::Refused(sqlx::Error::Database(e)))
        }
        Err(e) => Err(e.into()),
    }
}

/// A coach's zone as the database holds it (checked when it was stored).
pub(crate) fn zone(tz: &str) -> Result<chrono_tz::Tz> {
    tz.parse()
        .map_err(|_| Error::Internal(format!("a coach's time zone {tz} is unknown")))
}

/// The domain meaning of a constraint the database enforced on a booking;
/// any other error stays what it is.
pub(crate) fn refusal(e: sqlx::Error, m: &member::Member) -> Result<Error> {
    refusal_of(e, &m.email)
}

/// [`refusal`], naming the member as `member` (an email, or the id a line
/// of `book --batch` gave).
pub(crate) fn refusal_of(e: sqlx::Error, member: &str) -> Result<Error> {
    if let Some(sentence) = limit_sentence(&e) {
        return Ok(Error::conflict(sentence));
    }
    let constraint = match &e {
        sqlx::Error::Database(d) => d.constraint().map(str::to_string),
        _ => None,
    };
    match constraint.as_deref() {
        Some("slots_booked_within_capacity") => Ok(Error::conflict(SLOT_FULL)),
        Some("sessions_buffer_no_overlap") => Ok(Error::rule(
            "that slot is within the buffer time of another session booked a moment ago",
        )),
        Some("sessions_within_window") => Ok(Error::rule(
            "that time is no longer in the coach's availability (it changed a moment ago); see `coachctl slots`",
        )),
        Some("sessions_not_on_blocked_date") => Ok(Error::rule(
            "the coach blocked that date a moment ago (time off)",
        )),
        Some("sessions_member_once_per_start") => Ok(Error::conflict(format!(
            "{member} already has a seat in that slot"
        ))),
        _ => Err(e.into()),
    }
}

/// The constraints under which the seat guard refuses a seat past one of
/// the coach's booking limits (migration 001400).
pub(crate) const LIMITS: [&str; 3] = [
    "sessions_max_per_day",
    "sessions_max_per_week",
    "sessions_member_max_per_week",
];

/// The sentence of a refusal past a booking limit ("Ana Coach takes at most
/// 2 sessions on Wed 3 Nov"): the database words it (`seat_limit_sentence`,
/// in the coach's zone), so psql users read the same reason.
pub(crate) fn limit_sentence(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(d) if d.constraint().is_some_and(|c| LIMITS.contains(&c)) => {
            Some(d.message().to_string())
        }
        _ => None,
    }
}

/// Record a refused booking and its audit row (one statement), and return
/// the refusal.
async fn reject(
    conn: &mut PgConnection,
    actor: &Actor,
    c: &Coach,
    m: &member::Member,
    start: DateTime<Utc>,
    notes: Option<String>,
    refusal: Error,
) -> Result<Booking> {
    let id = Uuid::new_v4();
    let reason = refusal.to_string();
    let after = serde_json::json!({
        "coach_email": c.email, "member_email": m.email, "start": start, "reason": reason,
    });
    sqlx::query(
        "WITH b AS (
            INSERT INTO bookings (id, coach_id, member_id, starts_at, status, member_notes, rejection_reason)
            VALUES ($1, $2, $3, $4, 'rejected', $5, $6)
            RETURNING id
         )
         INSERT INTO audit_log (actor_id, actor_label, action, entity, entity_id, before, after,
                                acted_by_os_user)
         SELECT $7, $8, 'booking.reject', 'booking', b.id, NULL, $9, $10 FROM b",
    )
    .bind(id)
    .bind(c.id)
    .bind(m.id)
    .bind(start)
    .bind(notes.as_deref())
    .bind(&reason)
    .bind(actor.id().map(|i| i.as_uuid()))
    .bind(actor.label())
    .bind(&after)
    .bind(actor.operator_os_user())
    .execute(conn)
    .await?;
    Err(refusal)
}
