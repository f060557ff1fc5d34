//! `coachctl seed FILE`: declare an organisation (coaches with their
//! availability windows and blocked dates, members with their coach,
//! bookings) in TOML or JSON and make the database hold it.
//!
//! Applying is declarative and additive: what is missing is created, what
//! exists and matches is left alone (not even rewritten: a re-apply writes
//! no row at all), what exists but differs is refused unless `--update`.
//! Nothing is ever deleted: a window or a booking that the file no longer
//! names stays. Everything happens in one transaction, through the rules
//! the single commands keep (capacity, acceptance, windows, buffers,
//! blocks); the database's triggers check every row again. Bad content is
//! reported with the file's line and field, all problems at once, and then
//! nothing is written.

use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::actor::Actor;
use crate::error::{Error, Kind, Result};

mod apply;
mod coaching;
mod decl;
mod plan;
mod source;

pub use decl::Org;
pub use source::Syntax;

/// How to apply.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Only say what would change; write nothing.
    pub dry_run: bool,
    /// Change people, windows and blocks that exist but differ from the file.
    pub update: bool,
}

/// One problem of a seed file, with where it is.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    /// The field, as `member.email` or `coach.availability.start`; empty
    /// for the file as a whole.
    pub field: String,
    pub message: String,
    #[serde(skip)]
    pub kind: Kind,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else if self.field.is_empty() {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        } else {
            write!(
                f,
                "{}:{}: {}: {}",
                self.file, self.line, self.field, self.message
            )
        }
    }
}

/// Every problem found, in the order of the file.
#[derive(Debug, Clone)]
pub struct Problems {
    pub file: String,
    pub items: Vec<Problem>,
}

impl Problems {
    pub(crate) fn new(file: &str, mut items: Vec<Problem>) -> Self {
        items.sort_by_key(|p| p.line);
        Problems {
            file: file.to_string(),
            items,
        }
    }

    /// The one-line error after each problem was shown on its own line.
    pub fn summary_error(&self) -> Error {
        let n = self.items.len();
        let msg = format!(
            "{}: {n} problem{} (listed above); nothing was written",
            self.file,
            if n == 1 { "" } else { "s" }
        );
        error_of(
            self.items.first().map(|p| p.kind).unwrap_or(Kind::Invalid),
            msg,
        )
    }

    /// The error a command exits with: the kind of the first problem (an
    /// invalid file is exit 3, a booking that does not fit exit 6 or 7),
    /// every problem in one line.
    pub fn into_error(self) -> Error {
        let kind = self.items.first().map(|p| p.kind).unwrap_or(Kind::Invalid);
        let all = self
            .items
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        error_of(kind, format!("{all}; nothing was written"))
    }
}

fn error_of(kind: Kind, msg: String) -> Error {
    match kind {
        Kind::Forbidden => Error::Forbidden(msg),
        Kind::NotFound => Error::NotFound(msg),
        Kind::Conflict => Error::Conflict(msg),
        Kind::Rule => Error::Rule(msg),
        Kind::Unavailable => Error::Unavailable(msg),
        Kind::Internal => Error::Internal(msg),
        Kind::Invalid => Error::Invalid(msg),
        Kind::Usage => Error::Usage(msg),
    }
}

/// What applying did (or, with `--dry-run`, would do).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// This run.
    pub id: Uuid,
    pub file: String,
    pub dry_run: bool,
    pub created: Counts,
    pub updated: Counts,
    pub unchanged: Counts,
    /// Created and changed things, in the order of the file; unchanged
    /// ones are only counted.
    pub changes: Vec<Change>,
    /// What differs but is never changed by a seed (a booked enrolment, a
    /// sent insight), one sentence each with its line.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Report {
    pub fn is_noop(&self) -> bool {
        self.changes.is_empty()
    }
}

/// How many of each.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub coaches: usize,
    pub members: usize,
    pub windows: usize,
    pub blocks: usize,
    pub bookings: usize,
    // Left out of JSON when zero, so a file without them reads as before.
    #[serde(skip_serializing_if = "is_zero")]
    pub programs: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub enrolments: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub insights: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Counts {
    pub(crate) fn add(&mut self, kind: Entity) {
        match kind {
            Entity::Coach => self.coaches += 1,
            Entity::Member => self.members += 1,
            Entity::Window => self.windows += 1,
            Entity::Block => self.blocks += 1,
            Entity::Booking => self.bookings += 1,
            Entity::Program => self.programs += 1,
            Entity::Enrolment => self.enrolments += 1,
            Entity::Insight => self.insights += 1,
        }
    }
    pub fn total(&self) -> usize {
        self.coaches
            + self.members
            + self.windows
            + self.blocks
            + self.bookings
            + self.programs
            + self.enrolments
            + self.insights
    }
    /// `2 coaches, 1 window` (zeros left out), or `nothing`.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = [
            (self.coaches, "coach", "coaches"),
            (self.members, "member", "members"),
            (self.windows, "window", "windows"),
            (self.blocks, "block", "blocks"),
            (self.bookings, "booking", "bookings"),
            (self.programs, "program", "programs"),
            (self.enrolments, "enrolment", "enrolments"),
            (self.insights, "insight", "insights"),
        ]
        .iter()
        .filter(|(n, _, _)| *n > 0)
        .map(|(n, one, many)| format!("{n} {}", if *n == 1 { one } else { many }))
        .collect();
        if parts.is_empty() {
            "nothing".into()
        } else {
            parts.join(", ")
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Entity {
    Coach,
    Member,
    Window,
    Block,
    Booking,
    Program,
    Enrolment,
    Insight,
}

impl Entity {
    pub fn as_str(&self) -> &'static str {
        match self {
            Entity::Coach => "coach",
            Entity::Member => "member",
            Entity::Window => "window",
            Entity::Block => "block",
            Entity::Booking => "booking",
            Entity::Program => "program",
            Entity::Enrolment => "enrolment",
            Entity::Insight => "insight",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
}

impl Action {
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
        }
    }
}

/// One created or changed thing.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// The thing's id; null for one a dry run would create.
    pub id: Option<Uuid>,
    pub action: Action,
    pub kind: Entity,
    /// How a person names it: an email, `ana@example.com mon 09:00`, ...
    pub key: String,
    pub line: usize,
    /// For an update: what differs, as `name: "Bo" -> "Bo Lind"`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<String>,
}

/// Read a seed file: syntax, then every declaration through the domain
/// types. All problems at once, each with its line and field.
pub fn parse(file: &str, text: &str) -> std::result::Result<Org, Problems> {
    let syntax = Syntax::of(file, text);
    let root = source::parse(syntax, text).map_err(|errors| {
        let items = errors
            .into_iter()
            .map(|e| Problem {
                file: file.to_string(),
                line: source::line_of(text, e.at),
                field: String::new(),
                message: e.message,
                kind: Kind::Invalid,
            })
            .collect();
        Problems::new(file, items)
    })?;
    decl::read(file, text, &root)
}

/// The result of a seed run that reached the database.
// One per run, returned once: boxing the report would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Outcome {
    /// Applied (or, dry, planned): what changed.
    Done(Report),
    /// The file does not fit the database (or is malformed): nothing was
    /// written. The caller shows each problem.
    Refused(Problems),
}

/// `coachctl seed FILE`: admins only (the operator, or `--as` an admin).
pub async fn run(
    pool: &PgPool,
    actor: &Actor,
    file: &str,
    text: &str,
    opts: Options,
) -> Result<Outcome> {
    actor.require_admin("seed an organisation")?;
    let org = match parse(file, text) {
        Ok(org) => org,
        Err(p) => return Ok(Outcome::Refused(p)),
    };
    // Another writer creating the same person between our read and our
    // write (two seeds at once) is retried: the second plan sees it.
    let mut attempt = 0;
    loop {
        let result = apply_once(pool, actor, file, &org, opts).await;
        match &result {
            Err(Error::Database(sqlx::Error::Database(e)))
                if attempt < 3
                    && (matches!(e.code().as_deref(), Some("40P01" | "40001" | "23505"))) =>
            {
                attempt += 1;
            }
            _ => return result,
        }
    }
}

async fn apply_once(
    pool: &PgPool,
    actor: &Actor,
    file: &str,
    org: &Org,
    opts: Options,
) -> Result<Outcome> {
    let mut tx = pool.begin().await?;
    let existing = plan::load(&mut tx, org).await?;
    let plan = match plan::plan(file, org, &existing, opts, chrono::Utc::now()) {
        Ok(p) => p,
        Err(problems) => return Ok(Outcome::Refused(problems)),
    };
    let mut report = plan.report(file, opts.dry_run);
    // A dry run writes too, then rolls back: what only the write (or a
    // trigger) refuses, it refuses with the same exit code as applying.
    if !plan.is_empty()
        && let Some(problems) = apply::write(&mut tx, actor, file, &plan).await?
    {
        tx.rollback().await?;
        return Ok(Outcome::Refused(problems));
    }
    // Programs, enrolments and insights through their commands' own code,
    // after the people and schedules they need are written.
    match coaching::apply(&mut tx, actor, file, org, opts).await? {
        Ok(done) => done.into_report(&mut report, opts.dry_run),
        Err(problems) => {
            tx.rollback().await?;
            return Ok(Outcome::Refused(problems));
        }
    }
    if report.is_noop() || opts.dry_run {
        // Nothing to keep: a no-op only read, a dry run is undone.
        tx.rollback().await?;
        return Ok(Outcome::Done(report));
    }
    if let Err(e) = tx.commit().await {
        return Ok(Outcome::Refused(apply::refusal_at_commit(file, e)?));
    }
    report.dry_run = false;
    Ok(Outcome::Done(report))
}
