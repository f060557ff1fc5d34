//! Weekly availability windows and date blocks (time off). Seed 003
//! requirement 3; seed 002 properties 11-14.
//!
//! Windows of one coach on one day never overlap: the exclusion constraint
//! `availability_windows_no_overlap` makes sure, whatever path writes them.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

use crate::actor::Actor;
use crate::audit::{self, Change};
use crate::coach::{self, Coach};
use crate::domain::{
    BufferMinutes, Day, DayOfWeek, ProfileText, SessionMinutes, SlotCapacity, TimeOfDay, UserId,
    UserRef,
};
use crate::error::{Error, Result, ResultExt};
use crate::schedule::{Busy, Schedule, WindowSpec};

// The schedule guards live with the coach, whose update takes them too;
// seed reaches them by this path.
pub(crate) use crate::coach::{lock_schedule, orphan_error, refuse_orphans};

/// A weekly window as shown by `availability list`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Window {
    pub id: Uuid,
    pub coach_id: Uuid,
    pub coach_email: String,
    /// Day of week, Sunday = 0.
    pub day_of_week: i16,
    pub day: &'static str,
    pub start: String,
    pub end: String,
    pub length: i32,
    pub buffer: i32,
    pub capacity: i32,
    pub timezone: String,
}

#[derive(Clone, FromRow)]
struct WindowRow {
    id: Uuid,
    coach_id: Uuid,
    coach_email: String,
    day_of_week: i16,
    start_minute: i32,
    end_minute: i32,
    session_minutes: i32,
    buffer_minutes: i32,
    capacity: i32,
    timezone: String,
}

fn hhmm(m: i32) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

impl From<WindowRow> for Window {
    fn from(r: WindowRow) -> Self {
        Window {
            id: r.id,
            coach_id: r.coach_id,
            coach_email: r.coach_email,
            day_of_week: r.day_of_week,
            day: DayOfWeek::from_index(r.day_of_week as u8)
                .map(|d| d.short())
                .unwrap_or("?"),
            start: hhmm(r.start_minute),
            end: hhmm(r.end_minute),
            length: r.session_minutes,
            buffer: r.buffer_minutes,
            capacity: r.capacity,
            timezone: r.timezone,
        }
    }
}

const SELECT_WINDOW: &str = "SELECT w.id, w.coach_id, u.email AS coach_email, w.day_of_week,
        w.start_minute, w.end_minute, w.session_minutes, w.buffer_minutes, w.capacity, u.timezone
    FROM availability_windows w JOIN users u ON u.id = w.coach_id";

/// Input of `availability add`.
#[derive(Debug, Clone, Copy)]
pub struct NewWindow {
    pub day: DayOfWeek,
    pub start: TimeOfDay,
    pub end: TimeOfDay,
    pub length: SessionMinutes,
    pub buffer: BufferMinutes,
    pub capacity: SlotCapacity,
}

/// Input of `availability update`; `None` keeps a field.
#[derive(Debug, Clone, Copy, Default)]
pub struct WindowUpdate {
    pub day: Option<DayOfWeek>,
    pub start: Option<TimeOfDay>,
    pub end: Option<TimeOfDay>,
    pub length: Option<SessionMinutes>,
    pub buffer: Option<BufferMinutes>,
    pub capacity: Option<SlotCapacity>,
}

/// Validate a window's shape (property 11) before the database sees it.
pub(crate) fn validate(start: u16, end: u16, length: i32) -> Result<()> {
    if start >= end {
        return Err(Error::invalid(format!(
            "the start ({}) must be before the end ({})",
            hhmm(i32::from(start)),
            hhmm(i32::from(end))
        )));
    }
    if i32::from(start) + length > i32::from(end) {
        return Err(Error::invalid(format!(
            "a {length}-minute session does not fit between {} and {}",
            hhmm(i32::from(start)),
            hhmm(i32::from(end))
        )));
    }
    Ok(())
}

/// The coach a command is about: `--coach`, or the acting coach. Only
/// admins and the coach themself may change a coach's availability.
pub(crate) async fn coach_for_change(
    conn: &mut PgConnection,
    actor: &Actor,
    named: Option<&UserRef>,
) -> Result<Coach> {
    let c = match (named, actor.as_coach()) {
        (Some(r), _) => coach::find(conn, actor, r).await?,
        (None, Some(me)) => coach::fetch(conn, me).await?,
        (None, None) => return Err(Error::invalid("name the coach with --coach")),
    };
    if !actor.is_admin() && !actor.is(UserId::from_uuid(c.id)) {
        return Err(Error::forbidden(format!(
            "{} may not change the availability of coach {}",
            actor.label(),
            c.email
        )));
    }
    Ok(c)
}

fn overlap_error(day: DayOfWeek) -> Error {
    Error::conflict(format!(
        "that window overlaps another window of the coach on {}; windows of one day may not overlap",
        day.short()
    ))
}

async fn fetch_window(conn: &mut PgConnection, id: Uuid) -> Result<WindowRow> {
    let sql = format!("{SELECT_WINDOW} WHERE w.id = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| Error::not_found(format!("no availability window {id}")))
}

/// `availability add` (property 11, 12).
pub async fn add(
    pool: &PgPool,
    actor: &Actor,
    coach_ref: Option<&UserRef>,
    new: NewWindow,
) -> Result<Window> {
    validate(new.start.minutes(), new.end.minutes(), new.length.get())?;
    let mut tx = pool.begin().await?;
    let c = coach_for_change(&mut tx, actor, coach_ref).await?;
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO availability_windows
            (id, coach_id, day_of_week, start_minute, end_minute, session_minutes, buffer_minutes, capacity)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(c.id)
    .bind(i16::from(new.day.index()))
    .bind(i32::from(new.start.minutes()))
    .bind(i32::from(new.end.minutes()))
    .bind(new.length.get())
    .bind(new.buffer.get())
    .bind(new.capacity.get())
    .execute(&mut *tx)
    .await
    .on_constraint("availability_windows_no_overlap", || overlap_error(new.day))?;
    let w: Window = fetch_window(&mut tx, id).await?.into();
    audit::record(
        &mut tx,
        actor,
        Change::of(
            "availability.add",
            "availability_window",
            id,
            None,
            Some(&w),
        )?,
    )
    .await?;
    tx.commit().await?;
    Ok(w)
}

/// Whose records a listing shows: the named coach, else the acting coach,
/// else (for admins and members) every coach.
async fn coach_scope(
    conn: &mut PgConnection,
    actor: &Actor,
    named: Option<&UserRef>,
) -> Result<Option<Uuid>> {
    Ok(match (named, actor.as_coach()) {
        (Some(r), _) => Some(coach::find(conn, actor, r).await?.id),
        (None, Some(me)) => Some(me.as_uuid()),
        (None, None) => None,
    })
}

/// `availability list`: anyone may see a coach's windows (members book them).
pub async fn list(
    pool: &PgPool,
    actor: &Actor,
    coach_ref: Option<&UserRef>,
) -> Result<Vec<Window>> {
    let mut conn = pool.acquire().await?;
    let coach_id = coach_scope(&mut conn, actor, coach_ref).await?;
    let sql = format!(
        "{SELECT_WINDOW} WHERE ($1::uuid IS NULL OR w.coach_id = $1)
         ORDER BY lower(u.email), w.day_of_week, w.start_minute"
    );
    let rows: Vec<WindowRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(coach_id)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.into_iter().map(Window::from).collect())
}

/// `availability update`: refused, naming the sessions, when a booked
/// future session would fall outside the changed window (property 13).
pub async fn update(
    pool: &PgPool,
    actor: &Actor,
    id: Uuid,
    change: WindowUpdate,
) -> Result<Window> {
    let mut tx = pool.begin().await?;
    let row = fetch_window(&mut tx, id).await?;
    let c = coach_for_change(
        &mut tx,
        actor,
        Some(&UserRef::Id(UserId::from_uuid(row.coach_id))),
    )
    .await?;
    lock_schedule(&mut tx, c.id).await?;
    // What the window is now that no one else can change it.
    let row = fetch_window(&mut tx, id).await?;
    let before: Window = row.clone().into();
    let day = change
        .day
        .unwrap_or(DayOfWeek::from_index(row.day_of_week as u8).unwrap_or(DayOfWeek::SUNDAY));
    let start = change
        .start
        .map(|t| t.minutes())
        .unwrap_or(row.start_minute as u16);
    let end = change
        .end
        .map(|t| t.minutes())
        .unwrap_or(row.end_minute as u16);
    let length = change
        .length
        .map(|l| l.get())
        .unwrap_or(row.session_minutes);
    let capacity = change.capacity.map(|c| c.get()).unwrap_or(row.capacity);
    validate(start, end, length)?;
    sqlx::query(
        "UPDATE availability_windows SET day_of_week = $2, start_minute = $3, end_minute = $4,
            session_minutes = $5, buffer_minutes = coalesce($6, buffer_minutes), capacity = $7,
            updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(i16::from(day.index()))
    .bind(i32::from(start))
    .bind(i32::from(end))
    .bind(length)
    .bind(change.buffer.map(|b| b.get()))
    .bind(capacity)
    .execute(&mut *tx)
    .await
    .on_constraint("availability_windows_no_overlap", || overlap_error(day))?;
    refuse_orphans(&mut tx, &c).await?;
    let after: Window = fetch_window(&mut tx, id).await?.into();
    audit::record(
        &mut tx,
        actor,
        Change::of(
            "availability.update",
            "availability_window",
            id,
            Some(&before),
            Some(&after),
        )?,
    )
    .await?;
    tx.commit()
        .await
        .on_constraint("availability_schedule_orphans_sessions", orphan_error)?;
    Ok(after)
}

/// `availability remove`: refused, naming the sessions, while booked future
/// sessions use the window (property 14).
pub async fn remove(pool: &PgPool, actor: &Actor, id: Uuid) -> Result<Window> {
    let mut tx = pool.begin().await?;
    let row = fetch_window(&mut tx, id).await?;
    let c = coach_for_change(
        &mut tx,
        actor,
        Some(&UserRef::Id(UserId::from_uuid(row.coach_id))),
    )
    .await?;
    lock_schedule(&mut tx, c.id).await?;
    let w: Window = fetch_window(&mut tx, id).await?.into();
    sqlx::query("DELETE FROM availability_windows WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    refuse_orphans(&mut tx, &c).await?;
    audit::record(
        &mut tx,
        actor,
        Change::of(
            "availability.remove",
            "availability_window",
            id,
            Some(&w),
            None,
        )?,
    )
    .await?;
    tx.commit()
        .await
        .on_constraint("availability_schedule_orphans_sessions", orphan_error)?;
    Ok(w)
}

/// A date override: the coach is off from `first_day` to `last_day`.
#[derive(Debug, Clone, Serialize, PartialEq, FromRow)]
pub struct Block {
    pub id: Uuid,
    pub coach_id: Uuid,
    pub coach_email: String,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    /// Why the coach is off: private to the coach and admins. `None` hides
    /// it (absent from every output format, not shown empty); `Some(None)`
    /// is a block without a reason.
    #[sqlx(try_from = "Option<String>")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Option<String>>,
}

const SELECT_BLOCK: &str =
    "SELECT b.id, b.coach_id, u.email AS coach_email, b.first_day, b.last_day, b.reason
    FROM availability_blocks b JOIN users u ON u.id = b.coach_id";

/// `availability block`: refused, naming them, while scheduled sessions
/// fall on those dates.
pub async fn block(
    pool: &PgPool,
    actor: &Actor,
    coach_ref: Option<&UserRef>,
    first: Day,
    last: Option<Day>,
    reason: Option<ProfileText>,
) -> Result<Block> {
    let mut tx = pool.begin().await?;
    let c = coach_for_change(&mut tx, actor, coach_ref).await?;
    // `today`, `mon`, `+3d` are the coach's days.
    let first = first.resolve(c.tz())?;
    let last = last
        .map(|d| d.resolve(c.tz()))
        .transpose()?
        .unwrap_or(first);
    if last < first {
        return Err(Error::invalid(format!(
            "the range ends ({last}) before it starts ({first})"
        )));
    }
    lock_schedule(&mut tx, c.id).await?;
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO availability_blocks (id, coach_id, first_day, last_day, reason) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(c.id)
    .bind(first.naive())
    .bind(last.naive())
    .bind(reason.and_then(ProfileText::into_option))
    .execute(&mut *tx)
    .await?;
    refuse_orphans(&mut tx, &c).await?;
    let b: Block = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT_BLOCK} WHERE b.id = $1"
    )))
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        actor,
        Change::of(
            "availability.block",
            "availability_block",
            id,
            None,
            Some(&b),
        )?,
    )
    .await?;
    tx.commit()
        .await
        .on_constraint("availability_schedule_orphans_sessions", orphan_error)?;
    Ok(b)
}

/// `availability unblock`: remove a date override.
pub async fn unblock(pool: &PgPool, actor: &Actor, id: Uuid) -> Result<Block> {
    let mut tx = pool.begin().await?;
    let b: Block = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT_BLOCK} WHERE b.id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| Error::not_found(format!("no blocked dates {id}")))?;
    coach_for_change(
        &mut tx,
        actor,
        Some(&UserRef::Id(UserId::from_uuid(b.coach_id))),
    )
    .await?;
    sqlx::query("DELETE FROM availability_blocks WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        actor,
        Change::of(
            "availability.unblock",
            "availability_block",
            id,
            Some(&b),
            None,
        )?,
    )
    .await?;
    tx.commit().await?;
    Ok(b)
}

/// `availability blocks`: a coach's date overrides.
pub async fn list_blocks(
    pool: &PgPool,
    actor: &Actor,
    coach_ref: Option<&UserRef>,
) -> Result<Vec<Block>> {
    let mut conn = pool.acquire().await?;
    let coach_id = coach_scope(&mut conn, actor, coach_ref).await?;
    let mut blocks: Vec<Block> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT_BLOCK} WHERE ($1::uuid IS NULL OR b.coach_id = $1) ORDER BY u.email, b.first_day"
    )))
    .bind(coach_id)
    .fetch_all(&mut *conn)
    .await?;
    // Anyone sees when a coach is off; only the coach and admins see why.
    for b in &mut blocks {
        if !(actor.is_admin() || actor.is(UserId::from_uuid(b.coach_id))) {
            b.reason = None;
        }
    }
    Ok(blocks)
}

/// A window as loaded for the slot grid: id, day, start, end, length,
/// buffer, capacity.
type WindowTuple = (Uuid, i16, i32, i32, i32, i32, i32);
/// The scheduled sessions as loaded for the slot grid: their starts, ends
/// and buffers, in the same order (one scan's aggregates), in any order.
/// Arrays in binary, not JSON: no text for 4,000 instants on either side
/// (a millisecond of the server's and of coachctl's time for 2,000).
type SessionArrays = (
    Option<Vec<DateTime<Utc>>>,
    Option<Vec<DateTime<Utc>>>,
    Option<Vec<i32>>,
);

/// The columns `windows`, `blocks` (JSON arrays) and `sessions` (a row of
/// three arrays, see [`SessionArrays`]) of the
/// schedule of the coach whose id is the SQL expression `coach`, for starts
/// in `[from, to)` (SQL expressions too). With `near` (an instant, SQL) and
/// `margin` (an interval, SQL), only the sessions that can decide a slot
/// starting within `margin` of `near`: those starting there, and those within
/// reach of a window's longest session and largest buffer. A superset; the
/// code decides.
pub(crate) fn schedule_columns(
    coach: &str,
    from: &str,
    to: &str,
    near: &str,
    margin: &str,
) -> String {
    format!(
        "coalesce((SELECT json_agg(json_build_array(id, day_of_week, start_minute, end_minute,
                                                   session_minutes, buffer_minutes, capacity))
                  FROM availability_windows WHERE coach_id = {coach}), '[]') AS windows,
        coalesce((SELECT json_agg(json_build_array(first_day, last_day))
                  FROM availability_blocks WHERE coach_id = {coach}), '[]') AS blocks,
        (SELECT ROW(array_agg(starts_at), array_agg(ends_at), array_agg(buffer_minutes))
                  FROM sessions
                  WHERE coach_id = {coach}
                    AND (status = 'scheduled' OR (status = 'proposed' AND expires_at > now()))
                    -- sessions up to two days before can reach into the range
                    AND starts_at >= {from} - interval '2 days' AND starts_at < {to} + interval '2 days'
                    AND ({near} IS NULL
                         OR starts_at BETWEEN {near} - {margin} AND {near} + {margin}
                         OR (starts_at < {near} + {margin} + make_interval(mins =>
                                 (SELECT max(session_minutes) FROM availability_windows WHERE coach_id = {coach})
                                 + greatest((SELECT max(buffer_minutes) FROM availability_windows
                                             WHERE coach_id = {coach}), buffer_minutes))
                             AND ends_at > {near} - {margin} - make_interval(mins =>
                                 greatest((SELECT max(buffer_minutes) FROM availability_windows
                                           WHERE coach_id = {coach}), buffer_minutes)))))
            AS sessions"
    )
}

/// A schedule as [`schedule_columns`] loads it.
#[derive(FromRow)]
pub(crate) struct ScheduleRow {
    windows: sqlx::types::Json<Vec<WindowTuple>>,
    blocks: sqlx::types::Json<Vec<(NaiveDate, NaiveDate)>>,
    sessions: Option<SessionArrays>,
}

impl ScheduleRow {
    pub(crate) fn into_schedule(self, c: &Coach) -> Schedule {
        let windows = self
            .windows
            .0
            .into_iter()
            .map(
                |(id, day, start, end, length, buffer, capacity)| WindowSpec {
                    id,
                    day: DayOfWeek::from_index(day as u8).unwrap_or(DayOfWeek::SUNDAY),
                    start_minute: start as u16,
                    end_minute: end as u16,
                    length_minutes: length as u16,
                    buffer_minutes: buffer as u16,
                    capacity: capacity as u32,
                },
            )
            .collect();
        Schedule {
            tz: c.tz(),
            windows,
            blocks: self.blocks.0,
            sessions: match self.sessions {
                Some((Some(starts), Some(ends), Some(buffers))) => starts
                    .into_iter()
                    .zip(ends)
                    .zip(buffers)
                    .map(|((start, end), b)| Busy {
                        start,
                        end,
                        buffer_minutes: b.clamp(0, 1440) as u16,
                    })
                    .collect(),
                _ => Vec::new(),
            },
            min_notice_minutes: i64::from(c.min_notice_minutes),
            horizon_days: c.horizon_days.map(i64::from),
        }
    }
}

/// Load what decides a coach's slots for starts in `[from, to)`, in one
/// round trip.
pub(crate) async fn load_schedule(
    conn: &mut PgConnection,
    c: &Coach,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
) -> Result<Schedule> {
    let sql = format!(
        "SELECT {}",
        schedule_columns(
            "$1",
            "$2::timestamptz",
            "$3::timestamptz",
            "NULL::timestamptz",
            "interval '0'"
        )
    );
    let row: ScheduleRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(c.id)
        .bind(from)
        .bind(to)
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.into_schedule(c))
}
