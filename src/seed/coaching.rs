//! Programs, enrolments and insights of a seed file (issue 19), written
//! after the people and schedules they need, in the seed's transaction,
//! through the very code of `program create|update`, `program assign` and
//! `insight add`: a series is booked whole by `series_conflicts` or not at
//! all. Each write is a savepoint, so that every refusal is collected with
//! its line before the whole seed is rolled back.

use sqlx::PgConnection;
use uuid::Uuid;

use super::decl::{EnrolmentDecl, InsightDecl, ProgramDecl};
use super::{Action, Change, Counts, Entity, Options, Org, Problem, Problems, Report};
use crate::actor::Actor;
use crate::domain::{Day, Email, UserId, UserRef};
use crate::error::{Error, Kind, Result};
use crate::insight::{self, NewInsight};
use crate::program::{self, Assignment, NewProgram, Program, ProgramUpdate};

/// What this part of the file created, changed or left alone.
#[derive(Default)]
pub(crate) struct Done {
    changes: Vec<Change>,
    created: Counts,
    updated: Counts,
    unchanged: Counts,
    notes: Vec<String>,
}

impl Done {
    pub(crate) fn into_report(self, r: &mut Report, dry_run: bool) {
        for mut c in self.changes {
            if dry_run && c.action == Action::Create {
                c.id = None;
            }
            r.changes.push(c);
        }
        for (to, from) in [
            (&mut r.created, self.created),
            (&mut r.updated, self.updated),
            (&mut r.unchanged, self.unchanged),
        ] {
            to.programs += from.programs;
            to.enrolments += from.enrolments;
            to.insights += from.insights;
        }
        r.notes.extend(self.notes);
    }

    fn change(&mut self, action: Action, kind: Entity, id: Uuid, key: String, line: usize) {
        self.change_with(action, kind, id, key, line, Vec::new());
    }

    fn change_with(
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

struct Cx<'a> {
    file: &'a str,
    actor: &'a Actor,
    opts: Options,
    problems: Vec<Problem>,
}

impl Cx<'_> {
    fn problem(&mut self, line: usize, field: &str, kind: Kind, message: String) {
        self.problems.push(Problem {
            file: self.file.to_string(),
            line,
            field: field.to_string(),
            message,
            kind,
        });
    }

    /// A command's refusal, named with the line; an internal failure stays one.
    fn refused(&mut self, line: usize, field: &str, e: Error) -> Result<()> {
        match e.kind() {
            Kind::Internal | Kind::Unavailable => Err(e),
            kind => {
                self.problem(line, field, kind, e.to_string());
                Ok(())
            }
        }
    }
}

/// Write what is missing; all problems at once, then nothing is kept.
pub(crate) async fn apply(
    tx: &mut PgConnection,
    actor: &Actor,
    file: &str,
    org: &Org,
    opts: Options,
) -> Result<std::result::Result<Done, Problems>> {
    let mut cx = Cx {
        file,
        actor,
        opts,
        problems: Vec::new(),
    };
    let mut done = Done::default();
    for p in &org.programs {
        program_decl(tx, &mut cx, &mut done, p).await?;
    }
    for e in &org.enrolments {
        enrolment_decl(tx, &mut cx, &mut done, e).await?;
    }
    for i in &org.insights {
        insight_decl(tx, &mut cx, &mut done, i).await?;
    }
    if cx.problems.is_empty() {
        Ok(Ok(done))
    } else {
        Ok(Err(Problems::new(file, cx.problems)))
    }
}

fn whose(coach: Option<&Email>) -> String {
    coach.map_or_else(|| "the admins".to_string(), |c| c.to_string())
}

async fn program_decl(
    tx: &mut PgConnection,
    cx: &mut Cx<'_>,
    done: &mut Done,
    d: &ProgramDecl,
) -> Result<()> {
    let key = format!("{} of {}", d.name, whose(d.coach.as_ref()));
    let id: Option<Uuid> = sqlx::query_scalar(
        "SELECT p.id FROM programs p LEFT JOIN users u ON u.id = p.coach_id
         WHERE p.name = $2 AND p.archived_at IS NULL
           AND CASE WHEN $1::text IS NULL THEN p.coach_id IS NULL
                    ELSE email_key(u.email) = email_key($1) END
         ORDER BY p.created_at, p.id LIMIT 1",
    )
    .bind(d.coach.as_ref().map(|c| c.as_str().to_string()))
    .bind(&d.name)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(id) = id else {
        let new = NewProgram {
            name: crate::domain::ProfileText::parse(&d.name)?,
            weeks: d.weeks,
            per_week: d.per_week,
            length: d.length,
            description: d.description.clone(),
            difficulty: d.difficulty,
            goals: d.goals.clone().unwrap_or_default(),
            coach: d.coach.clone().map(UserRef::Email),
            template: d.template,
        };
        let mut sp = sqlx::Connection::begin(&mut *tx).await?;
        match program::create_in(&mut sp, cx.actor, &new).await {
            Ok(p) => {
                sp.commit().await?;
                done.change(Action::Create, Entity::Program, p.id, key, d.line);
            }
            Err(e) => {
                sp.rollback().await?;
                cx.refused(d.line, "program", e)?;
            }
        }
        return Ok(());
    };
    let old = program::fetch(tx, id).await?;
    let (diffs, update) = program_differences(&old, d);
    if diffs.is_empty() {
        done.unchanged.add(Entity::Program);
        return Ok(());
    }
    if !cx.opts.update {
        cx.problem(
            d.line,
            "program",
            Kind::Conflict,
            format!(
                "program {key} exists and differs ({}); pass --update to change it",
                diffs.join(", ")
            ),
        );
        return Ok(());
    }
    let mut sp = sqlx::Connection::begin(&mut *tx).await?;
    match program::update_in(&mut sp, cx.actor, id, &update).await {
        Ok(_) => {
            sp.commit().await?;
            done.change_with(Action::Update, Entity::Program, id, key, d.line, diffs);
        }
        Err(e) => {
            sp.rollback().await?;
            cx.refused(d.line, "program", e)?;
        }
    }
    Ok(())
}

/// The written fields that differ, as `weeks: 8 -> 10`, and the update.
fn program_differences(old: &Program, d: &ProgramDecl) -> (Vec<String>, ProgramUpdate) {
    let mut diffs = Vec::new();
    let mut u = ProgramUpdate::default();
    let mut differ = |field: &str, old: String, new: String| {
        let changed = old != new;
        if changed {
            diffs.push(format!("{field}: {old} -> {new}"));
        }
        changed
    };
    if differ("weeks", old.weeks.to_string(), d.weeks.get().to_string()) {
        u.weeks = Some(d.weeks);
    }
    if let Some(n) = d.per_week
        && differ("per_week", old.per_week.to_string(), n.get().to_string())
    {
        u.per_week = Some(n);
    }
    if let Some(n) = d.length
        && differ(
            "length",
            old.length_minutes.to_string(),
            n.get().to_string(),
        )
    {
        u.length = Some(n);
    }
    if let Some(t) = &d.description {
        let new = t.clone().into_option();
        let shown = |v: &Option<String>| v.as_ref().map_or("none".into(), |s| format!("{s:?}"));
        if differ("description", shown(&old.description), shown(&new)) {
            u.description = Some(t.clone());
        }
    }
    if let Some(x) = d.difficulty
        && differ(
            "difficulty",
            old.difficulty.clone().unwrap_or_else(|| "none".into()),
            x.to_string(),
        )
    {
        u.difficulty = Some(x);
    }
    if let Some(g) = &d.goals {
        let new: Vec<String> = g.iter().filter_map(|x| x.clone().into_option()).collect();
        if differ("goals", format!("{:?}", old.goals), format!("{new:?}")) {
            u.goals = Some(g.clone());
        }
    }
    if differ("template", old.template.to_string(), d.template.to_string()) {
        u.template = Some(d.template);
    }
    (diffs, u)
}

async fn enrolment_decl(
    tx: &mut PgConnection,
    cx: &mut Cx<'_>,
    done: &mut Done,
    d: &EnrolmentDecl,
) -> Result<()> {
    let key = format!("{} in {} from {}", d.member, d.program, d.start);
    // The coach's own program of that name, else the admins' template.
    let program: Option<Uuid> = sqlx::query_scalar(
        "SELECT p.id FROM programs p LEFT JOIN users u ON u.id = p.coach_id
         WHERE p.name = $2 AND (email_key(u.email) = email_key($1) OR p.coach_id IS NULL)
         ORDER BY p.coach_id IS NULL, p.archived_at IS NOT NULL, p.created_at, p.id LIMIT 1",
    )
    .bind(d.coach.as_str())
    .bind(&d.program)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(program) = program else {
        cx.problem(
            d.line,
            "enrolment.program",
            Kind::NotFound,
            format!(
                "no program {} of {} or of the admins; declare it with [[program]]",
                d.program, d.coach
            ),
        );
        return Ok(());
    };
    let existing: Option<(Vec<String>, String)> = sqlx::query_as(
        "SELECT e.weekly, e.status FROM program_enrolments e JOIN users m ON m.id = e.member_id
         WHERE e.program_id = $1 AND email_key(m.email) = email_key($2) AND e.starts_on = $3
         ORDER BY e.created_at DESC LIMIT 1",
    )
    .bind(program)
    .bind(d.member.as_str())
    .bind(d.start.naive())
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((weekly, status)) = existing {
        // A booked series is never booked again: what differs is only said.
        done.unchanged.add(Entity::Enrolment);
        let mut diffs = Vec::new();
        let want: Vec<String> = d.weekly.iter().map(ToString::to_string).collect();
        if weekly != want {
            diffs.push(format!("weekly: {weekly:?} -> {want:?}"));
        }
        let open = matches!(status.as_str(), "proposed" | "active");
        if open && (status == "proposed") != d.proposed {
            let want = if d.proposed { "proposed" } else { "scheduled" };
            diffs.push(format!("status: {status} -> {want}"));
        } else if !open {
            diffs.push(format!("status: {status}"));
        }
        if !diffs.is_empty() {
            cx_note(
                cx,
                done,
                d.line,
                format!(
                    "enrolment {key} exists and differs ({}); a seed never books a series again: change it with program adjust or cancel",
                    diffs.join(", ")
                ),
            );
        }
        return Ok(());
    }
    let a = Assignment {
        program,
        member: UserRef::Email(d.member.clone()),
        coach: Some(UserRef::Email(d.coach.clone())),
        start: Day::On(d.start),
        weekly: d.weekly.clone(),
    };
    let mut sp = sqlx::Connection::begin(&mut *tx).await?;
    match program::series::assign_in(&mut sp, cx.actor, &a, false, d.proposed).await {
        Ok(Ok(e)) => {
            sp.commit().await?;
            done.change(Action::Create, Entity::Enrolment, e.id, key, d.line);
        }
        Ok(Err(_)) => {
            sp.rollback().await?;
            return Err(Error::Internal(
                "a series was planned where it was to be booked".into(),
            ));
        }
        Err(e) => {
            sp.rollback().await?;
            cx.refused(d.line, "enrolment", e)?;
        }
    }
    Ok(())
}

fn cx_note(cx: &Cx<'_>, done: &mut Done, line: usize, message: String) {
    done.notes.push(format!("{}:{line}: {message}", cx.file));
}

async fn insight_decl(
    tx: &mut PgConnection,
    cx: &mut Cx<'_>,
    done: &mut Done,
    d: &InsightDecl,
) -> Result<()> {
    let title = d.title.as_str().trim().to_string();
    let key = format!("{title:?} from {} to {}", d.coach, d.member);
    let coach: Option<(Uuid, String)> =
        sqlx::query_as("SELECT id, role FROM users WHERE email_key(email) = email_key($1)")
            .bind(d.coach.as_str())
            .fetch_optional(&mut *tx)
            .await?;
    let coach = match coach {
        Some((id, role)) if role == "coach" => id,
        Some((_, role)) => {
            cx.problem(
                d.line,
                "insight.coach",
                Kind::NotFound,
                format!("{} is not a coach (they are a {role})", d.coach),
            );
            return Ok(());
        }
        None => {
            cx.problem(
                d.line,
                "insight.coach",
                Kind::NotFound,
                format!("no coach {}; declare it with [[coach]]", d.coach),
            );
            return Ok(());
        }
    };
    let existing: Option<(String, String, String)> = sqlx::query_as(
        "SELECT i.kind, i.priority, i.body FROM insights i JOIN users m ON m.id = i.member_id
         WHERE i.coach_id = $1 AND email_key(m.email) = email_key($2) AND i.title = $3
         ORDER BY i.created_at LIMIT 1",
    )
    .bind(coach)
    .bind(d.member.as_str())
    .bind(&title)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((kind, priority, body)) = existing {
        // The member was told already: a sent insight stays as it was.
        done.unchanged.add(Entity::Insight);
        let mut diffs = Vec::new();
        if kind != d.kind.as_str() {
            diffs.push(format!("type: {kind} -> {}", d.kind));
        }
        if let Some(p) = d.priority
            && priority != p.as_str()
        {
            diffs.push(format!("priority: {priority} -> {p}"));
        }
        if body != d.text.as_str() {
            diffs.push("text".to_string());
        }
        if !diffs.is_empty() {
            cx_note(
                cx,
                done,
                d.line,
                format!(
                    "insight {key} exists and differs ({}); a sent insight is never changed by a seed",
                    diffs.join(", ")
                ),
            );
        }
        return Ok(());
    }
    let enrolment = match &d.program {
        None => None,
        Some(name) => {
            let id: Option<Uuid> = sqlx::query_scalar(
                "SELECT e.id FROM program_enrolments e JOIN programs p ON p.id = e.program_id
                 JOIN users m ON m.id = e.member_id
                 WHERE e.coach_id = $1 AND email_key(m.email) = email_key($2) AND p.name = $3
                 ORDER BY e.created_at DESC, e.id LIMIT 1",
            )
            .bind(coach)
            .bind(d.member.as_str())
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
            if id.is_none() {
                cx.problem(
                    d.line,
                    "insight.program",
                    Kind::NotFound,
                    format!(
                        "{} has no enrolment in program {name} with {}; declare it with [[enrolment]]",
                        d.member, d.coach
                    ),
                );
                return Ok(());
            }
            id
        }
    };
    let new = NewInsight {
        member: UserRef::Email(d.member.clone()),
        kind: d.kind,
        title: d.title.clone(),
        text: d.text.clone(),
        priority: d.priority,
        enrolment,
    };
    let mut sp = sqlx::Connection::begin(&mut *tx).await?;
    match insight::add_in(&mut sp, cx.actor, UserId::from_uuid(coach), &new).await {
        Ok(i) => {
            sp.commit().await?;
            done.change(Action::Create, Entity::Insight, i.id, key, d.line);
        }
        Err(e) => {
            sp.rollback().await?;
            cx.refused(d.line, "insight", e)?;
        }
    }
    Ok(())
}
