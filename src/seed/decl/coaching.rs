//! Programs, enrolments and insights as a seed file declares them (issue
//! 19): read through the same types as `program create`, `program assign`
//! and `insight add`, every problem with its line and field.

use super::*;
use crate::domain::SessionMinutes;
use crate::insight::{InsightType, Priority};
use crate::program::{Difficulty, PerWeek, WeeklyAt, Weeks};

/// A program, matched by (coach, name); without a coach, an admin's template.
#[derive(Debug, Clone)]
pub(crate) struct ProgramDecl {
    pub line: usize,
    pub coach: Option<Email>,
    pub template: bool,
    pub name: String,
    pub weeks: Weeks,
    pub per_week: Option<PerWeek>,
    pub length: Option<SessionMinutes>,
    pub description: Option<ProfileText>,
    pub difficulty: Option<Difficulty>,
    pub goals: Option<Vec<ProfileText>>,
}

/// An enrolment, matched by (program, member, start); booked whole, once.
#[derive(Debug, Clone)]
pub(crate) struct EnrolmentDecl {
    pub line: usize,
    pub program: String,
    pub coach: Email,
    pub member: Email,
    pub start: Date,
    pub weekly: Vec<WeeklyAt>,
    /// A proposal the member answers, rather than scheduled at once.
    pub proposed: bool,
}

/// An insight, matched by (coach, member, title).
#[derive(Debug, Clone)]
pub(crate) struct InsightDecl {
    pub line: usize,
    pub coach: Email,
    pub member: Email,
    pub kind: InsightType,
    pub title: ProfileText,
    pub text: ProfileText,
    pub priority: Option<Priority>,
    /// The member's enrolment in this program of the coach.
    pub program: Option<String>,
}

/// A list of strings (`goals = ["a", "b"]`); `None` when absent or bad.
fn strings<T>(
    cx: &mut Cx<'_>,
    t: &Table<'_>,
    key: &str,
    parse: impl Fn(&str) -> Result<T, Error>,
) -> Option<Vec<T>> {
    let field = t.field(key);
    let node = t.get(key)?;
    let Value::Array(items) = &node.value else {
        cx.problem(
            node.span.start,
            &field,
            format!("expected a list of strings, not {}", node.value.kind()),
        );
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for n in items {
        match &n.value {
            Value::Str(s) => match parse(s) {
                Ok(v) => out.push(v),
                Err(e) => {
                    cx.problem(n.span.start, &field, e.to_string());
                    ok = false;
                }
            },
            other => {
                cx.problem(
                    n.span.start,
                    &field,
                    format!("expected a string, not {}", other.kind()),
                );
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

fn name(s: &str) -> Result<String, Error> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > 200 || s.contains('\n') {
        return Err(Error::invalid(
            "a program name is one line of 1 to 200 characters",
        ));
    }
    Ok(s.to_string())
}

pub(super) fn read_program(cx: &mut Cx<'_>, (path, node): (String, &Node)) -> Option<ProgramDecl> {
    let before = cx.problems.len();
    let t = cx.table(
        node,
        &path,
        &[
            "coach",
            "template",
            "name",
            "weeks",
            "per_week",
            "length",
            "description",
            "difficulty",
            "goals",
        ],
    )?;
    let coach = cx.text(&t, "coach", false, Email::parse);
    let template = cx.bool(&t, "template").unwrap_or(false);
    let name = cx.text(&t, "name", true, name);
    let weeks = cx.int(&t, "weeks", |n| n.to_string().parse::<Weeks>());
    if t.get("weeks").is_none() {
        cx.problem(t.span.start, &t.field("weeks"), "is required");
    }
    let per_week = cx.int(&t, "per_week", |n| n.to_string().parse::<PerWeek>());
    let length = cx.int(&t, "length", SessionMinutes::new);
    let description = cx.text(&t, "description", false, ProfileText::parse);
    let difficulty = cx.text(&t, "difficulty", false, |s| s.parse::<Difficulty>());
    let goals = strings(cx, &t, "goals", ProfileText::parse);
    if t.get("coach").is_none() && !template {
        cx.problem(
            t.span.start,
            &t.field("coach"),
            "name the coach whose program it is, or write template = true for a template of every coach",
        );
    }
    if !cx.clean_since(before) {
        return None;
    }
    Some(ProgramDecl {
        line: cx.line(t.span.start),
        coach,
        template,
        name: name?,
        weeks: weeks?,
        per_week,
        length,
        description,
        difficulty,
        goals,
    })
}

pub(super) fn read_enrolment(
    cx: &mut Cx<'_>,
    (path, node): (String, &Node),
) -> Option<EnrolmentDecl> {
    let before = cx.problems.len();
    let t = cx.table(
        node,
        &path,
        &["program", "coach", "member", "start", "weekly", "status"],
    )?;
    let program = cx.text(&t, "program", true, name);
    let coach = cx.text(&t, "coach", true, Email::parse);
    let member = cx.text(&t, "member", true, Email::parse);
    let start = cx.text(&t, "start", true, Date::parse);
    let weekly = strings(cx, &t, "weekly", |s| s.parse::<WeeklyAt>());
    if t.get("weekly").is_none() {
        cx.problem(t.span.start, &t.field("weekly"), "is required");
    }
    let proposed = cx.text(&t, "status", false, |s| match s.trim() {
        "scheduled" => Ok(false),
        "proposed" => Ok(true),
        other => Err(Error::invalid(format!(
            "'{other}' is not an enrolment status for a seed; expected scheduled or proposed"
        ))),
    });
    if !cx.clean_since(before) {
        return None;
    }
    Some(EnrolmentDecl {
        line: cx.line(t.span.start),
        program: program?,
        coach: coach?,
        member: member?,
        start: start?,
        weekly: weekly?,
        proposed: proposed.unwrap_or(false),
    })
}

pub(super) fn read_insight(cx: &mut Cx<'_>, (path, node): (String, &Node)) -> Option<InsightDecl> {
    let before = cx.problems.len();
    let t = cx.table(
        node,
        &path,
        &[
            "coach", "member", "type", "title", "text", "priority", "program",
        ],
    )?;
    let coach = cx.text(&t, "coach", true, Email::parse);
    let member = cx.text(&t, "member", true, Email::parse);
    let kind = cx.text(&t, "type", true, |s| s.parse::<InsightType>());
    let nonblank = |s: &str| {
        if s.trim().is_empty() {
            Err(Error::invalid("must not be empty"))
        } else {
            ProfileText::parse(s.trim())
        }
    };
    let title = cx.text(&t, "title", true, nonblank);
    let text = cx.text(&t, "text", true, nonblank);
    let priority = cx.text(&t, "priority", false, |s| s.parse::<Priority>());
    let program = cx.text(&t, "program", false, name);
    if !cx.clean_since(before) {
        return None;
    }
    Some(InsightDecl {
        line: cx.line(t.span.start),
        coach: coach?,
        member: member?,
        kind: kind?,
        title: title?,
        text: text?,
        priority,
        program,
    })
}
