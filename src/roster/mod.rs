//! Rosters in bulk (issue 11): `member import FILE|-` and `member export`.
//!
//! An import reads the file row by row, validates every row with the
//! domain newtypes, stages the valid ones on the server (COPY into a
//! temporary table), checks them against the database (unknown coach, a coach's or
//! admin's email, coach over capacity, a differing member without
//! `--update`, what the actor may not do), and reports every bad row in one
//! run; then nothing is written. Otherwise every change lands in one
//! transaction, set-based: the rows go to the server with COPY and each
//! table is written by one `INSERT ... SELECT` or `UPDATE ... FROM`, so the
//! database's own triggers and constraints (the coach capacity count, the
//! assignment notice) fire exactly as for `member create` and `member
//! assign`, and history, conversations and the audit log get what the
//! single commands write.

use std::collections::HashMap;
use std::io::Read;

use futures_util::TryStreamExt;
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::actor::Actor;
use crate::domain::{Role, UserRef};
use crate::error::{Error, Result};

pub mod csv_file;
mod plan;
mod stage;
mod write;

pub use csv_file::Record;
pub use plan::{Action, Planned};

// The row errors live in error, whose Rows variant carries them.
pub use crate::error::{RowError, RowErrors};

fn rows_error(mut rows: Vec<RowError>) -> Error {
    rows.sort_by_key(|r| r.line);
    let n = rows.len();
    let summary = format!(
        "{n} bad row{} in the roster file; nothing was imported",
        if n == 1 { "" } else { "s" }
    );
    Error::Rows(Box::new(RowErrors { rows, summary }))
}

/// How to import.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Assign every row to this coach (email or id).
    pub coach: Option<UserRef>,
    /// Change existing members whose row differs (else such a row is an error).
    pub update: bool,
    /// Check and plan only; write nothing.
    pub dry_run: bool,
    /// Keep each created or updated member for the report (`-v`, `-o
    /// json`, `-o ids` show them); without it the report has the counts
    /// only, and an import holds no row longer than it takes to plan it.
    pub members: bool,
}

/// Where an import is, for a progress bar: each stage with its length.
pub trait Progress {
    fn stage(&self, _what: &'static str, _len: u64) {}
    fn advance(&self, _n: u64) {}
}

/// No progress shown.
pub struct Quiet;
impl Progress for Quiet {}

/// What an import did (or, with `--dry-run`, would do).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// This import run (for the JSON object's `id`).
    pub id: Uuid,
    pub dry_run: bool,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// The members created or updated, in file order (with
    /// `Options::members`; else empty).
    pub members: Vec<Planned>,
}

impl Report {
    pub fn nothing_to_change(&self) -> bool {
        self.created == 0 && self.updated == 0
    }
}

/// `member import` of a file held in memory (see [`import_from`]).
pub async fn import(
    pool: &PgPool,
    actor: &Actor,
    input: &[u8],
    opts: &Options,
    progress: &dyn Progress,
) -> Result<Report> {
    import_from(pool, actor, input, opts, progress).await
}

/// `member import`: admins import anyone; a coach imports into their own
/// roster (every row assigned to themself); members may not import. The
/// input is read once, as it comes (a file or standard input).
pub async fn import_from(
    pool: &PgPool,
    actor: &Actor,
    input: impl Read,
    opts: &Options,
    progress: &dyn Progress,
) -> Result<Report> {
    if actor.role() == Role::Member {
        return Err(Error::forbidden(format!(
            "{} may not import members; an admin or a coach (into their own roster) may",
            actor.label()
        )));
    }
    progress.stage("reading", 1);
    let mut reader = csv_file::Reader::new(input)?;
    let present = reader.present();
    let mut errors = Vec::new();
    let mut tx = pool.begin().await?;
    let staged = stage::file(&mut tx, &mut reader, &mut errors).await?;
    reader.check_not_empty(staged.rows as usize, errors.len())?;
    drop(reader);
    progress.advance(1);

    progress.stage("checking", staged.rows);
    let ctx = plan::load(&mut tx, actor, opts, &staged.refs).await?;
    drop(staged);
    let plan = plan::plan(&mut tx, actor, opts, present, &ctx, &mut errors, progress).await?;
    if !errors.is_empty() {
        return Err(rows_error(errors));
    }
    let report = Report {
        id: Uuid::new_v4(),
        dry_run: opts.dry_run,
        created: plan.created,
        updated: plan.updated,
        unchanged: plan.unchanged,
        members: plan.members,
    };
    if opts.dry_run || report.nothing_to_change() {
        tx.rollback().await?;
        return Ok(report);
    }
    write::apply(&mut tx, actor, progress).await?;
    tx.commit().await?;
    Ok(report)
}

/// `member export`: the roster in import's columns. Permissions as `member
/// list`: admins everyone (or one coach's members with `coach`), a coach
/// their own members (goals only where the member shares them), a member
/// only themself.
pub async fn export(pool: &PgPool, actor: &Actor, coach: Option<&UserRef>) -> Result<Vec<Record>> {
    let mut all = Vec::new();
    export_each(pool, actor, coach, |r| {
        all.push(r);
        Ok(())
    })
    .await?;
    Ok(all)
}

/// `member export`, streamed: each record to `each` as its row arrives, in
/// email order, so memory stays flat however long the roster.
pub async fn export_each(
    pool: &PgPool,
    actor: &Actor,
    coach: Option<&UserRef>,
    mut each: impl FnMut(Record) -> Result<()>,
) -> Result<()> {
    let mut conn = pool.acquire().await?;
    let scope = ExportScope::of(&mut conn, actor, coach).await?;
    let mut rows = sqlx::query_as::<_, Record>(
        "SELECT u.id, u.email, u.name,
                CASE WHEN $3 AND NOT m.share_goals THEN NULL ELSE m.goals END AS goals,
                u.timezone, cu.email AS coach, m.membership_status
             FROM users u
             JOIN member_profiles m ON m.user_id = u.id
             LEFT JOIN users cu ON cu.id = m.coach_id
             WHERE ($1::uuid IS NULL OR m.coach_id = $1)
               AND ($2::uuid IS NULL OR u.id = $2)
             ORDER BY u.email",
    )
    .bind(scope.coach)
    .bind(scope.member)
    .bind(scope.hide_unshared_goals)
    .fetch(&mut *conn);
    while let Some(r) = rows.try_next().await? {
        each(r)?;
    }
    Ok(())
}

/// `member export` as the cells of its CSV ([`csv_file::COLUMNS`]), through
/// the server's COPY (see [`crate::copy_csv`]): the rows of [`export_each`]
/// at the speed of psql's `\copy`, for a roster of 100,000.
pub async fn export_csv_each(
    pool: &PgPool,
    actor: &Actor,
    coach: Option<&UserRef>,
    each: impl FnMut(crate::copy_csv::CsvRow<'_>) -> Result<()>,
) -> Result<()> {
    let mut conn = pool.acquire().await?;
    let scope = ExportScope::of(&mut conn, actor, coach).await?;
    let goals = if scope.hide_unshared_goals {
        "CASE WHEN NOT m.share_goals THEN NULL ELSE m.goals END"
    } else {
        "m.goals"
    };
    // uuids of our own making: nothing to quote
    let mut only = Vec::new();
    if let Some(c) = scope.coach {
        only.push(format!("m.coach_id = '{c}'"));
    }
    if let Some(m) = scope.member {
        only.push(format!("u.id = '{m}'"));
    }
    let mut sql = format!(
        "SELECT u.email, u.name, {goals}, u.timezone, cu.email, m.membership_status
         FROM users u
         JOIN member_profiles m ON m.user_id = u.id
         LEFT JOIN users cu ON cu.id = m.coach_id"
    );
    if !only.is_empty() {
        sql.push_str("\n WHERE ");
        sql.push_str(&only.join(" AND "));
    }
    sql.push_str("\n ORDER BY u.email");
    crate::copy_csv::each_row(&mut conn, &sql, each).await
}

/// Whose members `member export` writes. Permissions as `member list`: a
/// coach asking for another coach's members is refused.
struct ExportScope {
    coach: Option<Uuid>,
    member: Option<Uuid>,
    /// A coach sees goals only where the member shares them.
    hide_unshared_goals: bool,
}

impl ExportScope {
    async fn of(
        conn: &mut sqlx::PgConnection,
        actor: &Actor,
        coach: Option<&UserRef>,
    ) -> Result<ExportScope> {
        let (coach, member) = crate::member::roster_scope(conn, actor, coach, "export").await?;
        Ok(ExportScope {
            coach,
            member,
            hide_unshared_goals: actor.role() == Role::Coach,
        })
    }
}

/// The key a coach reference is looked up by.
fn ref_key(r: &UserRef) -> String {
    r.to_string()
}

type CoachMap = HashMap<String, std::result::Result<plan::CoachState, String>>;
