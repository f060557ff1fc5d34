//! The difference between a seed file and the database: read what exists
//! in a few set-based queries, then decide in memory what to create and
//! what differs, checking the rules the single commands check (capacity,
//! acceptance, windows, buffers, blocks, who may book whom) so that a
//! refusal names the file's line. The database checks every row again
//! when it is written.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Value, json};
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use super::decl::{BlockDecl, CoachDecl, MemberDecl, Org, WindowDecl};
use super::{Action, Change, Counts, Entity, Options, Problem, Problems, Report};
use crate::booking::{SLOT_FULL, default_type};
use crate::domain::{DayOfWeek, Email, SessionType, TimeZone};
use crate::error::{Kind, Result};
use crate::schedule::{Busy, Schedule, WindowSpec};

/// A user the file names, as the database has them.
#[derive(FromRow, Clone)]
pub(crate) struct UserRow {
    pub id: Uuid,
    key: String,
    pub email: String,
    pub name: String,
    pub role: String,
    pub timezone: String,
    pub active: bool,
    pub max_members: Option<i32>,
    pub accepting_members: Option<bool>,
    pub specialization: Option<String>,
    pub bio: Option<String>,
    pub certifications: Option<String>,
    pub member_count: Option<i32>,
    pub min_notice_minutes: Option<i32>,
    pub horizon_days: Option<i32>,
    pub coach_id: Option<Uuid>,
    pub membership_status: Option<String>,
    pub goals: Option<String>,
    pub health_info: Option<String>,
}

#[derive(FromRow, Clone)]
struct WindowRow {
    id: Uuid,
    coach_id: Uuid,
    day_of_week: i16,
    start_minute: i32,
    end_minute: i32,
    session_minutes: i32,
    buffer_minutes: i32,
    capacity: i32,
}

#[derive(FromRow, Clone)]
struct BlockRow {
    id: Uuid,
    coach_id: Uuid,
    first_day: NaiveDate,
    last_day: NaiveDate,
    reason: Option<String>,
}

#[derive(FromRow, Clone)]
struct SessionRow {
    coach_id: Uuid,
    member_id: Uuid,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    buffer_minutes: i32,
    /// Holds a seat now (scheduled, or a proposal not yet overdue).
    seated: bool,
    /// Matches a declared booking: seated, or already completed.
    kept: bool,
}

/// What the database holds of everything the file names.
pub(crate) struct Existing {
    users: HashMap<String, UserRow>,
    windows: HashMap<Uuid, Vec<WindowRow>>,
    blocks: HashMap<Uuid, Vec<BlockRow>>,
    sessions: Vec<SessionRow>,
    history: HashSet<(Uuid, Uuid)>,
    connections: HashSet<(Uuid, Uuid)>,
}

/// The zone a coach's local times are read in once the file is applied.
fn coach_zone(org: &Org, users: &HashMap<String, UserRow>, email: &Email) -> chrono_tz::Tz {
    org.coaches
        .iter()
        .find(|c| c.email == *email)
        .and_then(|c| c.timezone)
        .map(|t| t.tz())
        .or_else(|| {
            users
                .get(email.as_str())
                .and_then(|u| u.timezone.parse().ok())
        })
        .unwrap_or(chrono_tz::UTC)
}

/// Read what exists: people, their windows and blocks, the sessions near
/// the declared bookings, history and connections. Six queries whatever
/// the size of the file.
pub(crate) async fn load(conn: &mut PgConnection, org: &Org) -> Result<Existing> {
    let mut emails: Vec<String> = Vec::new();
    emails.extend(org.coaches.iter().map(|c| c.email.as_str().to_string()));
    emails.extend(org.members.iter().map(|m| m.email.as_str().to_string()));
    emails.extend(
        org.members
            .iter()
            .filter_map(|m| m.coach.as_ref().map(|c| c.0.as_str().to_string())),
    );
    for b in &org.bookings {
        emails.push(b.coach.as_str().to_string());
        emails.push(b.member.as_str().to_string());
    }
    emails.sort();
    emails.dedup();
    let rows: Vec<UserRow> = sqlx::query_as(
        "SELECT u.id, email_key(u.email) AS key, u.email, u.name, u.role, u.timezone, u.active,
                c.max_members, c.accepting_members, c.specialization, c.bio, c.certifications,
                c.member_count, c.min_notice_minutes, c.horizon_days,
                m.coach_id, m.membership_status, m.goals, m.health_info
         FROM users u
         LEFT JOIN coach_profiles c ON c.user_id = u.id
         LEFT JOIN member_profiles m ON m.user_id = u.id
         WHERE email_key(u.email) = ANY($1::text[])",
    )
    .bind(&emails)
    .fetch_all(&mut *conn)
    .await?;
    let users: HashMap<String, UserRow> = rows.into_iter().map(|u| (u.key.clone(), u)).collect();
    let coach_ids: Vec<Uuid> = users
        .values()
        .filter(|u| u.role == "coach")
        .map(|u| u.id)
        .collect();
    let member_ids: Vec<Uuid> = users
        .values()
        .filter(|u| u.role == "member")
        .map(|u| u.id)
        .collect();
    let mut windows: HashMap<Uuid, Vec<WindowRow>> = HashMap::new();
    let mut blocks: HashMap<Uuid, Vec<BlockRow>> = HashMap::new();
    let mut sessions = Vec::new();
    let mut history = HashSet::new();
    let mut connections = HashSet::new();
    if !coach_ids.is_empty() {
        let rows: Vec<WindowRow> = sqlx::query_as(
            "SELECT id, coach_id, day_of_week, start_minute, end_minute, session_minutes,
                    buffer_minutes, capacity
             FROM availability_windows WHERE coach_id = ANY($1)",
        )
        .bind(&coach_ids)
        .fetch_all(&mut *conn)
        .await?;
        for w in rows {
            windows.entry(w.coach_id).or_default().push(w);
        }
        let rows: Vec<BlockRow> = sqlx::query_as(
            "SELECT id, coach_id, first_day, last_day, reason
             FROM availability_blocks WHERE coach_id = ANY($1)",
        )
        .bind(&coach_ids)
        .fetch_all(&mut *conn)
        .await?;
        for b in rows {
            blocks.entry(b.coach_id).or_default().push(b);
        }
    }
    // Sessions from two days before the earliest declared booking: those
    // that match a booking, or can decide its slot (capacity, buffers).
    let earliest = org
        .bookings
        .iter()
        .filter_map(|b| b.at.resolve(coach_zone(org, &users, &b.coach)).ok())
        .min();
    if let Some(earliest) = earliest
        && (!coach_ids.is_empty() || !member_ids.is_empty())
    {
        sessions = sqlx::query_as(
            "SELECT coach_id, member_id, starts_at, ends_at, buffer_minutes,
                    (status = 'scheduled' OR (status = 'proposed' AND expires_at > now())) AS seated,
                    (status IN ('scheduled', 'completed')
                     OR (status = 'proposed' AND expires_at > now())) AS kept
             FROM sessions
             WHERE (coach_id = ANY($1) OR member_id = ANY($2))
               AND status IN ('scheduled', 'proposed', 'completed')
               AND starts_at >= $3",
        )
        .bind(&coach_ids)
        .bind(&member_ids)
        .bind(earliest - Duration::days(2))
        .fetch_all(&mut *conn)
        .await?;
    }
    if !org.bookings.is_empty() && !member_ids.is_empty() {
        // A member's first session with a coach is `initial` (ordered
        // probe per pair, as booking does, over the pairs the file names).
        let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT DISTINCT s.coach_id, s.member_id FROM sessions s
             WHERE s.member_id = ANY($1) AND s.coach_id = ANY($2)
               AND s.status NOT IN ('cancelled', 'declined', 'expired')",
        )
        .bind(&member_ids)
        .bind(&coach_ids)
        .fetch_all(&mut *conn)
        .await?;
        history.extend(rows);
        let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT coach_id, member_id FROM connections
             WHERE member_id = ANY($1) AND status = 'accepted'",
        )
        .bind(&member_ids)
        .fetch_all(&mut *conn)
        .await?;
        connections.extend(rows);
    }
    Ok(Existing {
        users,
        windows,
        blocks,
        sessions,
        history,
        connections,
    })
}

/// New rows and changes, ready to be written set-based.
#[derive(Default)]
pub(crate) struct Plan {
    pub changes: Vec<Change>,
    pub created: Counts,
    pub updated: Counts,
    pub unchanged: Counts,
    /// (id, email, name, role, zone) of every new user.
    pub users: Vec<(Uuid, String, String, &'static str, String)>,
    pub coaches: Vec<CoachRow>,
    pub coach_updates: Vec<(CoachRow, String, String)>,
    pub members: Vec<MemberRow>,
    pub member_updates: Vec<(MemberRow, String, String)>,
    /// (member, coach, event) of relationship history.
    pub relationship: Vec<(Uuid, Uuid, &'static str)>,
    pub windows: Vec<(Uuid, Uuid, WindowDecl)>,
    pub window_updates: Vec<(Uuid, WindowDecl)>,
    pub blocks: Vec<(Uuid, Uuid, BlockDecl)>,
    pub block_updates: Vec<(Uuid, Option<String>)>,
    pub bookings: Vec<BookingRow>,
    /// (action, entity, id, before, after) of each audit row.
    pub audit: Vec<(&'static str, &'static str, Uuid, Option<Value>, Value)>,
    /// Existing coaches whose schedule changed so that booked sessions
    /// could be left outside it: checked before commit, naming them.
    pub schedule_changed: Vec<Uuid>,
}

/// A coach profile as written.
#[derive(Clone, serde::Serialize)]
pub(crate) struct CoachRow {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub timezone: String,
    pub max_members: i32,
    pub accepting_members: bool,
    pub specialization: Option<String>,
    pub bio: Option<String>,
    pub certifications: Option<String>,
}

/// A member profile as written.
#[derive(Clone, serde::Serialize)]
pub(crate) struct MemberRow {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub timezone: String,
    pub coach_id: Option<Uuid>,
    pub coach_email: Option<String>,
    pub goals: Option<String>,
    pub health_info: Option<String>,
}

/// A session and its confirmed booking, as `book` writes them.
pub(crate) struct BookingRow {
    pub line: usize,
    pub describe: String,
    pub session_id: Uuid,
    pub booking_id: Uuid,
    pub coach_id: Uuid,
    pub member_id: Uuid,
    pub window_id: Uuid,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub buffer_minutes: i32,
    pub capacity: i32,
    pub session_type: SessionType,
    pub notes: Option<String>,
    pub coach_email: String,
    pub member_email: String,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn report(&self, file: &str, dry_run: bool) -> Report {
        let mut changes = self.changes.clone();
        if dry_run {
            for c in &mut changes {
                if c.action == Action::Create {
                    c.id = None;
                }
            }
        }
        Report {
            id: Uuid::new_v4(),
            file: file.to_string(),
            dry_run,
            created: self.created,
            updated: self.updated,
            unchanged: self.unchanged,
            changes,
        }
    }

    fn change(&mut self, action: Action, kind: Entity, id: Uuid, key: String, line: usize, differences: Vec<String>) {
        match action {
            Action::Create => self.created.add(kind),
            Action::Update => self.updated.add(kind),
        }
        self.changes.push(Change {
            id: Some(id),
            action,
            kind,
            key,
            line,
            differences,
        });
    }
}

/// A coach as it will be: existing or declared.
struct CoachState {
    id: Uuid,
    email: String,
    tz: chrono_tz::Tz,
    active: bool,
    accepting: bool,
    max_members: i32,
    /// Active members holding a seat, as assignments are planned.
    seats: i32,
    min_notice: i32,
    horizon: Option<i32>,
    windows: Vec<WindowSpec>,
    blocks: Vec<(NaiveDate, NaiveDate)>,
    sessions: Vec<Busy>,
}

struct MemberState {
    id: Uuid,
    email: String,
    active: bool,
    coach: Option<Uuid>,
}

struct Checker<'a> {
    file: &'a str,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn problem(&mut self, line: usize, field: &str, kind: Kind, message: String) {
        self.problems.push(Problem {
            file: self.file.to_string(),
            line,
            field: field.to_string(),
            message,
            kind,
        });
    }
}

fn quoted(v: &Option<String>) -> String {
    match v {
        Some(s) => format!("{s:?}"),
        None => "none".into(),
    }
}

/// A declared field that differs from the database: `name: "a" -> "b"`.
fn differ<T: PartialEq + std::fmt::Debug>(out: &mut Vec<String>, field: &str, old: &T, new: &T) {
    if old != new {
        out.push(format!("{field}: {old:?} -> {new:?}"));
    }
}

/// Decide everything; all problems at once.
pub(crate) fn plan(
    file: &str,
    org: &Org,
    ex: &Existing,
    opts: Options,
    now: DateTime<Utc>,
) -> std::result::Result<Plan, Problems> {
    let mut p = Plan::default();
    let mut ck = Checker {
        file,
        problems: Vec::new(),
    };
    let mut coaches: HashMap<String, CoachState> = HashMap::new();
    for c in &org.coaches {
        if let Some(state) = plan_coach(&mut p, &mut ck, c, ex, opts) {
            coaches.insert(c.email.as_str().to_string(), state);
        }
    }
    // Coaches the file names but does not declare: as the database has them.
    let referenced = org
        .members
        .iter()
        .filter_map(|m| m.coach.as_ref())
        .map(|(e, line)| (e, *line, "member.coach"))
        .chain(org.bookings.iter().map(|b| (&b.coach, b.line, "booking.coach")));
    for (email, line, field) in referenced {
        if coaches.contains_key(email.as_str()) {
            continue;
        }
        match ex.users.get(email.as_str()) {
            Some(u) if u.role == "coach" => {
                coaches.insert(email.as_str().to_string(), existing_coach(u, ex));
            }
            Some(u) => ck.problem(
                line,
                field,
                Kind::NotFound,
                format!("{email} is not a coach (they are a {})", u.role),
            ),
            None => ck.problem(
                line,
                field,
                Kind::NotFound,
                format!("no coach {email}; declare it with [[coach]]"),
            ),
        }
    }
    let mut members: HashMap<String, MemberState> = HashMap::new();
    for m in &org.members {
        if let Some(state) = plan_member(&mut p, &mut ck, m, ex, &mut coaches, opts) {
            members.insert(m.email.as_str().to_string(), state);
        }
    }
    for c in &org.coaches {
        if let Some(state) = coaches.get_mut(c.email.as_str()) {
            plan_schedule(&mut p, &mut ck, c, state, ex, opts);
        }
    }
    plan_bookings(&mut p, &mut ck, org, ex, &coaches, &mut members, now);
    if ck.problems.is_empty() {
        Ok(p)
    } else {
        Err(Problems::new(file, ck.problems))
    }
}

fn existing_coach(u: &UserRow, ex: &Existing) -> CoachState {
    let windows = ex
        .windows
        .get(&u.id)
        .map(|ws| ws.iter().map(window_spec).collect())
        .unwrap_or_default();
    let blocks = ex
        .blocks
        .get(&u.id)
        .map(|bs| bs.iter().map(|b| (b.first_day, b.last_day)).collect())
        .unwrap_or_default();
    let sessions = ex
        .sessions
        .iter()
        .filter(|s| s.coach_id == u.id && s.seated)
        .map(|s| Busy {
            start: s.starts_at,
            end: s.ends_at,
            buffer_minutes: s.buffer_minutes.clamp(0, 1440) as u16,
        })
        .collect();
    CoachState {
        id: u.id,
        email: u.email.clone(),
        tz: u.timezone.parse().unwrap_or(chrono_tz::UTC),
        active: u.active,
        accepting: u.accepting_members.unwrap_or(true),
        max_members: u.max_members.unwrap_or(20),
        seats: u.member_count.unwrap_or(0),
        min_notice: u.min_notice_minutes.unwrap_or(0),
        horizon: u.horizon_days,
        windows,
        blocks,
        sessions,
    }
}

fn window_spec(w: &WindowRow) -> WindowSpec {
    WindowSpec {
        id: w.id,
        day: DayOfWeek::from_index(w.day_of_week as u8).unwrap_or(DayOfWeek::SUNDAY),
        start_minute: w.start_minute as u16,
        end_minute: w.end_minute as u16,
        length_minutes: w.session_minutes as u16,
        buffer_minutes: w.buffer_minutes as u16,
        capacity: w.capacity as u32,
    }
}

fn text(t: &Option<crate::domain::ProfileText>) -> Option<Option<String>> {
    t.clone().map(crate::domain::ProfileText::into_option)
}

fn plan_coach(
    p: &mut Plan,
    ck: &mut Checker<'_>,
    c: &CoachDecl,
    ex: &Existing,
    opts: Options,
) -> Option<CoachState> {
    let Some(u) = ex.users.get(c.email.as_str()) else {
        let row = CoachRow {
            id: Uuid::new_v4(),
            email: c.email.as_str().to_string(),
            name: c.name.as_str().to_string(),
            timezone: c.timezone.unwrap_or_else(TimeZone::utc).as_str().to_string(),
            max_members: c.max_members.map(|m| m.get()).unwrap_or(20),
            accepting_members: c.accepting_members.unwrap_or(true),
            specialization: text(&c.specialization).flatten(),
            bio: text(&c.bio).flatten(),
            certifications: text(&c.certifications).flatten(),
        };
        p.users.push((row.id, row.email.clone(), row.name.clone(), "coach", row.timezone.clone()));
        p.audit.push(("coach.create", "coach", row.id, None, json!(row)));
        p.change(Action::Create, Entity::Coach, row.id, row.email.clone(), c.line, vec![]);
        let state = CoachState {
            id: row.id,
            email: row.email.clone(),
            tz: c.timezone.unwrap_or_else(TimeZone::utc).tz(),
            active: true,
            accepting: row.accepting_members,
            max_members: row.max_members,
            seats: 0,
            min_notice: 0,
            horizon: None,
            windows: vec![],
            blocks: vec![],
            sessions: vec![],
        };
        p.coaches.push(row);
        return Some(state);
    };
    if u.role != "coach" {
        ck.problem(
            c.line,
            "coach.email",
            Kind::Conflict,
            format!("{} already exists as a {}; a seed does not change roles", c.email, u.role),
        );
        return None;
    }
    let before = CoachRow {
        id: u.id,
        email: u.email.clone(),
        name: u.name.clone(),
        timezone: u.timezone.clone(),
        max_members: u.max_members.unwrap_or(20),
        accepting_members: u.accepting_members.unwrap_or(true),
        specialization: u.specialization.clone(),
        bio: u.bio.clone(),
        certifications: u.certifications.clone(),
    };
    let mut after = before.clone();
    after.name = c.name.as_str().to_string();
    if let Some(tz) = c.timezone {
        after.timezone = tz.as_str().to_string();
    }
    if let Some(m) = c.max_members {
        after.max_members = m.get();
    }
    if let Some(a) = c.accepting_members {
        after.accepting_members = a;
    }
    if let Some(s) = text(&c.specialization) {
        after.specialization = s;
    }
    if let Some(s) = text(&c.bio) {
        after.bio = s;
    }
    if let Some(s) = text(&c.certifications) {
        after.certifications = s;
    }
    let mut diffs = Vec::new();
    differ(&mut diffs, "name", &before.name, &after.name);
    differ(&mut diffs, "timezone", &before.timezone, &after.timezone);
    differ(&mut diffs, "max_members", &before.max_members, &after.max_members);
    differ(&mut diffs, "accepting_members", &before.accepting_members, &after.accepting_members);
    for (field, old, new) in [
        ("specialization", &before.specialization, &after.specialization),
        ("bio", &before.bio, &after.bio),
        ("certifications", &before.certifications, &after.certifications),
    ] {
        if old != new {
            diffs.push(format!("{field}: {} -> {}", quoted(old), quoted(new)));
        }
    }
    let mut state = existing_coach(u, ex);
    if diffs.is_empty() {
        p.unchanged.add(Entity::Coach);
        return Some(state);
    }
    differs(ck, opts, c.line, "coach", &c.email, &diffs);
    if after.timezone != before.timezone {
        p.schedule_changed.push(u.id);
        state.tz = after.timezone.parse().unwrap_or(chrono_tz::UTC);
    }
    state.max_members = after.max_members;
    state.accepting = after.accepting_members;
    p.audit.push(("coach.update", "coach", u.id, Some(json!(before)), json!(after)));
    p.change(Action::Update, Entity::Coach, u.id, u.email.clone(), c.line, diffs);
    p.coach_updates.push((after, before.name, before.timezone));
    Some(state)
}

/// A thing that exists but differs: fine with `--update` (and in a dry
/// run, which only reports it); else refused, naming what differs.
fn differs(ck: &mut Checker<'_>, opts: Options, line: usize, what: &str, key: &dyn std::fmt::Display, diffs: &[String]) {
    if !opts.update && !opts.dry_run {
        ck.problem(
            line,
            what,
            Kind::Conflict,
            format!(
                "{what} {key} exists and differs ({}); pass --update to change it",
                diffs.join(", ")
            ),
        );
    }
}

fn plan_member(
    p: &mut Plan,
    ck: &mut Checker<'_>,
    m: &MemberDecl,
    ex: &Existing,
    coaches: &mut HashMap<String, CoachState>,
    opts: Options,
) -> Option<MemberState> {
    let coach = match &m.coach {
        Some((email, _)) => Some(coaches.get_mut(email.as_str())?),
        None => None,
    };
    let existing = ex.users.get(m.email.as_str());
    if let Some(u) = existing
        && u.role != "member"
    {
        ck.problem(
            m.line,
            "member.email",
            Kind::Conflict,
            format!("{} already exists as a {}; a seed does not change roles", m.email, u.role),
        );
        return None;
    }
    let before = existing.map(|u| MemberRow {
        id: u.id,
        email: u.email.clone(),
        name: u.name.clone(),
        timezone: u.timezone.clone(),
        coach_id: u.coach_id,
        coach_email: None,
        goals: u.goals.clone(),
        health_info: u.health_info.clone(),
    });
    let mut after = before.clone().unwrap_or_else(|| MemberRow {
        id: Uuid::new_v4(),
        email: m.email.as_str().to_string(),
        name: String::new(),
        timezone: TimeZone::utc().as_str().to_string(),
        coach_id: None,
        coach_email: None,
        goals: None,
        health_info: None,
    });
    after.name = m.name.as_str().to_string();
    if let Some(tz) = m.timezone {
        after.timezone = tz.as_str().to_string();
    }
    if let Some(g) = text(&m.goals) {
        after.goals = g;
    }
    if let Some(h) = text(&m.health_info) {
        after.health_info = h;
    }
    if let Some(c) = &coach {
        after.coach_id = Some(c.id);
        after.coach_email = Some(c.email.clone());
    }
    let holds_seat = existing.is_none_or(|u| u.active && u.membership_status.as_deref() == Some("active"));
    let old_coach = before.as_ref().and_then(|b| b.coach_id);
    let new_assignment = coach.as_ref().is_some_and(|c| old_coach != Some(c.id));
    if let Some(c) = coach
        && new_assignment
    {
        let line = m.coach.as_ref().map(|x| x.1).unwrap_or(m.line);
        if !c.active {
            ck.problem(line, "member.coach", Kind::Rule, format!("coach {} is deactivated and cannot take members", c.email));
        } else if !c.accepting {
            ck.problem(line, "member.coach", Kind::Rule, format!("coach {} is not accepting members", c.email));
        } else if holds_seat {
            c.seats += 1;
            if c.seats > c.max_members {
                ck.problem(
                    line,
                    "member.coach",
                    Kind::Conflict,
                    format!(
                        "coach {} is at capacity ({} members); raise their max_members or choose another coach",
                        c.email, c.max_members
                    ),
                );
            }
        }
    }
    if new_assignment && holds_seat
        && let Some(old) = old_coach
        && let Some(oc) = coaches.values_mut().find(|c| c.id == old)
    {
        oc.seats -= 1;
    }
    let state = MemberState {
        id: after.id,
        email: after.email.clone(),
        active: holds_seat,
        coach: after.coach_id,
    };
    let Some(before) = before else {
        p.users.push((after.id, after.email.clone(), after.name.clone(), "member", after.timezone.clone()));
        if let Some(c) = after.coach_id {
            p.relationship.push((after.id, c, "assigned"));
        }
        p.audit.push(("member.create", "member", after.id, None, json!(after)));
        p.change(Action::Create, Entity::Member, after.id, after.email.clone(), m.line, vec![]);
        p.members.push(after);
        return Some(state);
    };
    let mut diffs = Vec::new();
    differ(&mut diffs, "name", &before.name, &after.name);
    differ(&mut diffs, "timezone", &before.timezone, &after.timezone);
    if new_assignment {
        let old = old_coach
            .and_then(|id| ex.users.values().find(|u| u.id == id).map(|u| u.email.clone()))
            .or(old_coach.map(|id| id.to_string()));
        diffs.push(format!("coach: {} -> {}", quoted(&old), quoted(&after.coach_email)));
    }
    for (field, old, new) in [("goals", &before.goals, &after.goals), ("health_info", &before.health_info, &after.health_info)] {
        if old != new {
            diffs.push(format!("{field}: {} -> {}", quoted(old), quoted(new)));
        }
    }
    if diffs.is_empty() {
        p.unchanged.add(Entity::Member);
        return Some(state);
    }
    differs(ck, opts, m.line, "member", &m.email, &diffs);
    if new_assignment {
        if let Some(old) = old_coach {
            p.relationship.push((after.id, old, "unassigned"));
        }
        if let Some(c) = after.coach_id {
            p.relationship.push((after.id, c, "assigned"));
        }
    }
    let action = if new_assignment { "member.assign" } else { "member.update" };
    p.audit.push((action, "member", after.id, Some(json!(before)), json!(after)));
    p.change(Action::Update, Entity::Member, after.id, after.email.clone(), m.line, diffs);
    p.member_updates.push((after, before.name, before.timezone));
    Some(state)
}

fn window_key(c: &Email, w: &WindowDecl) -> String {
    format!("{c} {} {}-{}", w.day.short(), w.start, w.end)
}

fn plan_schedule(
    p: &mut Plan,
    ck: &mut Checker<'_>,
    c: &CoachDecl,
    state: &mut CoachState,
    ex: &Existing,
    opts: Options,
) {
    let existing_windows = ex.windows.get(&state.id).cloned().unwrap_or_default();
    for w in &c.windows {
        let spec = |id| WindowSpec {
            id,
            day: w.day,
            start_minute: w.start.minutes(),
            end_minute: w.end.minutes(),
            length_minutes: w.length.get() as u16,
            buffer_minutes: w.buffer.get() as u16,
            capacity: w.capacity.get() as u32,
        };
        let found = existing_windows
            .iter()
            .find(|e| e.day_of_week == i16::from(w.day.index()) && e.start_minute == i32::from(w.start.minutes()));
        match found {
            Some(e) => {
                let old = window_spec(e);
                let mut diffs = Vec::new();
                differ(&mut diffs, "end", &(old.end_minute), &(w.end.minutes()));
                differ(&mut diffs, "length", &old.length_minutes, &(w.length.get() as u16));
                differ(&mut diffs, "buffer", &old.buffer_minutes, &(w.buffer.get() as u16));
                differ(&mut diffs, "capacity", &old.capacity, &(w.capacity.get() as u32));
                if diffs.is_empty() {
                    p.unchanged.add(Entity::Window);
                    continue;
                }
                differs(ck, opts, w.line, "coach.availability", &window_key(&c.email, w), &diffs);
                if let Some(slot) = state.windows.iter_mut().find(|x| x.id == e.id) {
                    *slot = spec(e.id);
                }
                p.schedule_changed.push(state.id);
                p.audit.push((
                    "availability.update",
                    "availability_window",
                    e.id,
                    Some(window_json(state, &old)),
                    window_json(state, &spec(e.id)),
                ));
                p.change(Action::Update, Entity::Window, e.id, window_key(&c.email, w), w.line, diffs);
                p.window_updates.push((e.id, *w));
            }
            None => {
                let id = Uuid::new_v4();
                state.windows.push(spec(id));
                p.audit.push(("availability.add", "availability_window", id, None, window_json(state, &spec(id))));
                p.change(Action::Create, Entity::Window, id, window_key(&c.email, w), w.line, vec![]);
                p.windows.push((id, state.id, *w));
            }
        }
    }
    // Windows of one day may not overlap: the declared against each other
    // and against those the database has.
    for w in &c.windows {
        let clash = state.windows.iter().find(|o| {
            o.day == w.day
                && o.start_minute != w.start.minutes()
                && o.start_minute < w.end.minutes()
                && w.start.minutes() < o.end_minute
        });
        if let Some(o) = clash {
            ck.problem(
                w.line,
                "coach.availability",
                Kind::Conflict,
                format!(
                    "{} overlaps the window {:02}:{:02}-{:02}:{:02} of the same day; windows of one day may not overlap",
                    window_key(&c.email, w),
                    o.start_minute / 60,
                    o.start_minute % 60,
                    o.end_minute / 60,
                    o.end_minute % 60
                ),
            );
        }
    }
    let existing_blocks = ex.blocks.get(&state.id).cloned().unwrap_or_default();
    for b in &c.blocks {
        let key = if b.first == b.last {
            format!("{} {}", c.email, b.first)
        } else {
            format!("{} {}..{}", c.email, b.first, b.last)
        };
        let json_of = |id: Uuid, reason: &Option<String>| {
            json!({"id": id, "coach_id": state.id, "coach_email": state.email,
                   "first_day": b.first.naive(), "last_day": b.last.naive(), "reason": reason})
        };
        match existing_blocks.iter().find(|e| e.first_day == b.first.naive() && e.last_day == b.last.naive()) {
            Some(e) if e.reason == b.reason => p.unchanged.add(Entity::Block),
            Some(e) => {
                let diffs = vec![format!("reason: {} -> {}", quoted(&e.reason), quoted(&b.reason))];
                differs(ck, opts, b.line, "coach.block", &key, &diffs);
                p.audit.push(("availability.block", "availability_block", e.id, Some(json_of(e.id, &e.reason)), json_of(e.id, &b.reason)));
                p.change(Action::Update, Entity::Block, e.id, key, b.line, diffs);
                p.block_updates.push((e.id, b.reason.clone()));
            }
            None => {
                let id = Uuid::new_v4();
                state.blocks.push((b.first.naive(), b.last.naive()));
                p.audit.push(("availability.block", "availability_block", id, None, json_of(id, &b.reason)));
                p.change(Action::Create, Entity::Block, id, key, b.line, vec![]);
                p.blocks.push((id, state.id, b.clone()));
                p.schedule_changed.push(state.id);
            }
        }
    }
}

fn window_json(c: &CoachState, w: &WindowSpec) -> Value {
    let hhmm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
    json!({
        "id": w.id, "coach_id": c.id, "coach_email": c.email,
        "day_of_week": w.day.index(), "day": w.day.short(),
        "start": hhmm(w.start_minute), "end": hhmm(w.end_minute),
        "length": w.length_minutes, "buffer": w.buffer_minutes, "capacity": w.capacity,
        "timezone": c.tz.name(),
    })
}

fn plan_bookings(
    p: &mut Plan,
    ck: &mut Checker<'_>,
    org: &Org,
    ex: &Existing,
    coaches: &HashMap<String, CoachState>,
    members: &mut HashMap<String, MemberState>,
    now: DateTime<Utc>,
) {
    // Members the file books but does not declare: as the database has them.
    for b in &org.bookings {
        if members.contains_key(b.member.as_str()) {
            continue;
        }
        match ex.users.get(b.member.as_str()) {
            Some(u) if u.role == "member" => {
                members.insert(
                    b.member.as_str().to_string(),
                    MemberState {
                        id: u.id,
                        email: u.email.clone(),
                        active: u.active && u.membership_status.as_deref() == Some("active"),
                        coach: u.coach_id,
                    },
                );
            }
            Some(u) => ck.problem(b.line, "booking.member", Kind::NotFound, format!("{} is not a member (they are a {})", b.member, u.role)),
            None => ck.problem(b.line, "booking.member", Kind::NotFound, format!("no member {}; declare it with [[member]]", b.member)),
        }
    }
    let kept: HashSet<(Uuid, Uuid, DateTime<Utc>)> = ex
        .sessions
        .iter()
        .filter(|s| s.kept)
        .map(|s| (s.coach_id, s.member_id, s.starts_at))
        .collect();
    let mut seated: HashSet<(Uuid, DateTime<Utc>)> = ex
        .sessions
        .iter()
        .filter(|s| s.seated)
        .map(|s| (s.member_id, s.starts_at))
        .collect();
    // Each coach's schedule as the file leaves it, bookings added as accepted.
    let mut schedules: HashMap<Uuid, Schedule> = coaches
        .values()
        .map(|c| {
            (
                c.id,
                Schedule {
                    tz: c.tz,
                    windows: c.windows.clone(),
                    blocks: c.blocks.clone(),
                    sessions: c.sessions.clone(),
                    min_notice_minutes: i64::from(c.min_notice),
                    horizon_days: c.horizon.map(i64::from),
                },
            )
        })
        .collect();
    let mut new: Vec<BookingRow> = Vec::new();
    for b in &org.bookings {
        let (Some(c), Some(m)) = (coaches.get(b.coach.as_str()), members.get(b.member.as_str())) else {
            continue;
        };
        let start = match b.at.resolve(c.tz) {
            Ok(t) => t,
            Err(e) => {
                ck.problem(b.line, "booking.at", e.kind(), e.to_string());
                continue;
            }
        };
        if kept.contains(&(c.id, m.id, start)) {
            p.unchanged.add(Entity::Booking);
            continue;
        }
        let refuse = |ck: &mut Checker<'_>, kind: Kind, why: String| {
            ck.problem(b.line, "booking", kind, format!("the booking of {} is refused: {why}", b.describe()));
        };
        if !c.active {
            refuse(ck, Kind::Rule, format!("coach {} is deactivated", c.email));
            continue;
        }
        if !m.active {
            refuse(ck, Kind::Rule, format!("{}'s membership is not active", m.email));
            continue;
        }
        if m.coach != Some(c.id) && !ex.connections.contains(&(c.id, m.id)) {
            refuse(
                ck,
                Kind::Rule,
                format!("{} is neither assigned nor connected to coach {}", m.email, c.email),
            );
            continue;
        }
        let Some(schedule) = schedules.get_mut(&c.id) else {
            continue;
        };
        let slot = match schedule.check(start, now) {
            Ok(s) => s,
            Err(r) => {
                refuse(ck, Kind::Rule, r.sentence(c.tz));
                continue;
            }
        };
        if slot.remaining == 0 {
            refuse(ck, Kind::Conflict, SLOT_FULL.to_string());
            continue;
        }
        if !seated.insert((m.id, start)) {
            refuse(ck, Kind::Conflict, format!("{} already has a seat at that time", m.email));
            continue;
        }
        schedule.sessions.push(Busy {
            start: slot.start,
            end: slot.end,
            buffer_minutes: slot.buffer_minutes,
        });
        new.push(BookingRow {
            line: b.line,
            describe: b.describe(),
            session_id: Uuid::new_v4(),
            booking_id: Uuid::new_v4(),
            coach_id: c.id,
            member_id: m.id,
            window_id: slot.window_id,
            start: slot.start,
            end: slot.end,
            buffer_minutes: i32::from(slot.buffer_minutes),
            capacity: slot.capacity as i32,
            // decided below, in the order of time
            session_type: b.session_type.unwrap_or(SessionType::Regular),
            notes: b.notes.clone(),
            coach_email: c.email.clone(),
            member_email: m.email.clone(),
        });
    }
    // A member's first session with a coach is `initial`, later ones
    // `regular`, unless the file says: decided in the order of time.
    let mut order: Vec<usize> = (0..new.len()).collect();
    order.sort_by_key(|i| new[*i].start);
    let mut history = ex.history.clone();
    for i in order {
        let r = &mut new[i];
        let declared = org.bookings.iter().any(|b| b.line == r.line && b.session_type.is_some());
        let first = history.insert((r.coach_id, r.member_id));
        if !declared {
            r.session_type = default_type(!first);
        }
    }
    for r in new {
        let after = json!({
            "booking_id": r.booking_id, "session_id": r.session_id, "status": "confirmed",
            "start": r.start, "end": r.end, "coach_email": r.coach_email, "member_email": r.member_email,
        });
        p.audit.push(("booking.confirm", "booking", r.booking_id, None, after));
        p.change(Action::Create, Entity::Booking, r.session_id, r.describe.clone(), r.line, vec![]);
        p.bookings.push(r);
    }
}
