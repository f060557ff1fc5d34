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

mod bookings;
mod existing;
mod people;
mod schedule;

use bookings::plan_bookings;
pub(crate) use existing::{Existing, load};
use existing::{existing_coach, window_spec};
use people::{plan_coach, plan_member};
use schedule::plan_schedule;

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
    pub max_per_day: Option<i32>,
    pub max_per_week: Option<i32>,
    pub member_max_per_week: Option<i32>,
    pub cancel_notice_hours: Option<i32>,
    pub waitlist_offer_minutes: i32,
}

impl CoachRow {
    /// The booking policies a file writes, over these.
    fn with_policies(mut self, p: &crate::seed::decl::PolicyDecl) -> Self {
        self.max_per_day = p.max_per_day.or(self.max_per_day);
        self.max_per_week = p.max_per_week.or(self.max_per_week);
        self.member_max_per_week = p.member_max_per_week.or(self.member_max_per_week);
        self.cancel_notice_hours = p.cancel_notice_hours.or(self.cancel_notice_hours);
        self.waitlist_offer_minutes = p
            .waitlist_offer_minutes
            .unwrap_or(self.waitlist_offer_minutes);
        self
    }
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
    /// The file names the type (else: initial for the first with the coach).
    pub typed: bool,
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
            notes: Vec::new(),
        }
    }

    fn change(
        &mut self,
        action: Action,
        kind: Entity,
        id: Uuid,
        key: String,
        line: usize,
        differences: Vec<String>,
    ) {
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
        .chain(
            org.bookings
                .iter()
                .map(|b| (&b.coach, b.line, "booking.coach")),
        );
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

fn text(t: &Option<crate::domain::ProfileText>) -> Option<Option<String>> {
    t.clone().map(crate::domain::ProfileText::into_option)
}

/// A thing that exists but differs: fine with `--update`; else refused,
/// naming what differs (in a dry run too: it exits as applying would).
fn differs(
    ck: &mut Checker<'_>,
    opts: Options,
    line: usize,
    what: &str,
    key: &dyn std::fmt::Display,
    diffs: &[String],
) {
    if !opts.update {
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
