//! What a seed file declares, read from its tree through the same domain
//! newtypes as every command's arguments. Every problem is collected with
//! its line and field; nothing stops at the first.

use std::collections::HashMap;
use std::ops::Range;

use super::source::{Lines, Node, Value};
use super::{Problem, Problems};
use crate::domain::{
    At, BufferMinutes, CancelNoticeHours, Date, Day, DayOfWeek, Email, MaxMembers, OfferMinutes,
    PersonName, ProfileText, SessionLimit, SessionMinutes, SessionType, SlotCapacity, TimeOfDay,
    TimeZone,
};
use crate::error::{Error, Kind};

mod coaching;
pub(crate) use coaching::{EnrolmentDecl, InsightDecl, ProgramDecl};

/// A whole organisation as declared.
#[derive(Debug, Clone, Default)]
pub struct Org {
    pub(crate) coaches: Vec<CoachDecl>,
    pub(crate) members: Vec<MemberDecl>,
    pub(crate) bookings: Vec<BookingDecl>,
    pub(crate) programs: Vec<ProgramDecl>,
    pub(crate) enrolments: Vec<EnrolmentDecl>,
    pub(crate) insights: Vec<InsightDecl>,
}

impl Org {
    /// How many things the file declares: (coaches, members, windows, blocks, bookings).
    pub fn counts(&self) -> (usize, usize, usize, usize, usize) {
        (
            self.coaches.len(),
            self.members.len(),
            self.coaches.iter().map(|c| c.windows.len()).sum(),
            self.coaches.iter().map(|c| c.blocks.len()).sum(),
            self.bookings.len(),
        )
    }
}

/// Profile fields of a person: only those written are compared or set.
#[derive(Debug, Clone)]
pub(crate) struct CoachDecl {
    pub line: usize,
    pub email: Email,
    pub name: PersonName,
    pub timezone: Option<TimeZone>,
    pub max_members: Option<MaxMembers>,
    pub accepting_members: Option<bool>,
    pub specialization: Option<ProfileText>,
    pub bio: Option<ProfileText>,
    pub certifications: Option<ProfileText>,
    /// Booking policies (issue 20); unwritten ones are left as they are.
    pub policies: PolicyDecl,
    pub windows: Vec<WindowDecl>,
    pub blocks: Vec<BlockDecl>,
}

/// A coach's booking policies as a seed file writes them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PolicyDecl {
    pub max_per_day: Option<i32>,
    pub max_per_week: Option<i32>,
    pub member_max_per_week: Option<i32>,
    pub cancel_notice_hours: Option<i32>,
    pub waitlist_offer_minutes: Option<i32>,
}

/// A weekly window, matched by (coach, day, start); unwritten fields take
/// the defaults of `availability add`, so a window is compared whole.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WindowDecl {
    pub line: usize,
    pub day: DayOfWeek,
    pub start: TimeOfDay,
    pub end: TimeOfDay,
    pub length: SessionMinutes,
    pub buffer: BufferMinutes,
    pub capacity: SlotCapacity,
}

/// Blocked dates, matched by (coach, first day, last day).
#[derive(Debug, Clone)]
pub(crate) struct BlockDecl {
    pub line: usize,
    pub first: Date,
    pub last: Date,
    pub reason: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct MemberDecl {
    pub line: usize,
    pub email: Email,
    pub name: PersonName,
    pub timezone: Option<TimeZone>,
    /// The assigned coach, with the line it is written on.
    pub coach: Option<(Email, usize)>,
    pub goals: Option<ProfileText>,
    pub health_info: Option<ProfileText>,
}

/// A booking, matched by (coach, member, start).
#[derive(Debug, Clone)]
pub(crate) struct BookingDecl {
    pub line: usize,
    pub coach: Email,
    pub member: Email,
    pub at: At,
    /// As written, for naming the booking in messages.
    pub at_text: String,
    pub session_type: Option<SessionType>,
    pub notes: Option<String>,
}

impl BookingDecl {
    /// How a message names this booking.
    pub fn describe(&self) -> String {
        format!("{} with {} at {}", self.member, self.coach, self.at_text)
    }
}

/// Read a parsed document; all problems at once.
pub(crate) fn read(file: &str, text: &str, root: &Node) -> Result<Org, Problems> {
    let mut cx = Cx {
        file,
        lines: Lines::of(text),
        problems: Vec::new(),
    };
    let mut org = Org::default();
    if let Some(top) = cx.table(
        root,
        "",
        &[
            "coach",
            "member",
            "booking",
            "program",
            "enrolment",
            "insight",
        ],
    ) {
        for node in cx.list(&top, "coach") {
            if let Some(c) = read_coach(&mut cx, node) {
                org.coaches.push(c);
            }
        }
        for node in cx.list(&top, "member") {
            if let Some(m) = read_member(&mut cx, node) {
                org.members.push(m);
            }
        }
        for node in cx.list(&top, "booking") {
            if let Some(b) = read_booking(&mut cx, node) {
                org.bookings.push(b);
            }
        }
        for node in cx.list(&top, "program") {
            if let Some(p) = coaching::read_program(&mut cx, node) {
                org.programs.push(p);
            }
        }
        for node in cx.list(&top, "enrolment") {
            if let Some(e) = coaching::read_enrolment(&mut cx, node) {
                org.enrolments.push(e);
            }
        }
        for node in cx.list(&top, "insight") {
            if let Some(i) = coaching::read_insight(&mut cx, node) {
                org.insights.push(i);
            }
        }
    }
    duplicates(&mut cx, &org);
    if cx.problems.is_empty() {
        Ok(org)
    } else {
        Err(Problems::new(file, cx.problems))
    }
}

struct Cx<'a> {
    file: &'a str,
    lines: Lines,
    problems: Vec<Problem>,
}

/// A table of the file, its known keys checked.
struct Table<'n> {
    path: String,
    span: Range<usize>,
    entries: &'n [(String, Range<usize>, Node)],
}

impl<'n> Table<'n> {
    fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries.iter().find(|(k, _, _)| k == key).map(|e| &e.2)
    }
    fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }
}

impl<'a> Cx<'a> {
    fn line(&self, at: usize) -> usize {
        self.lines.line(at)
    }

    fn problem(&mut self, at: usize, field: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            file: self.file.to_string(),
            line: self.line(at),
            field: field.to_string(),
            message: message.into(),
            kind: Kind::Invalid,
        });
    }

    fn table<'n>(&mut self, node: &'n Node, path: &str, known: &[&str]) -> Option<Table<'n>> {
        let Value::Table(entries) = &node.value else {
            let what = if path.is_empty() { "the file" } else { path };
            self.problem(
                node.span.start,
                path,
                format!("{what} must be a table, not {}", node.value.kind()),
            );
            return None;
        };
        let t = Table {
            path: path.to_string(),
            span: node.span.clone(),
            entries,
        };
        for (k, at, _) in entries {
            if !known.contains(&k.as_str()) {
                self.problem(
                    at.start,
                    &t.field(k),
                    format!("unknown field; expected one of: {}", known.join(", ")),
                );
            }
        }
        Some(t)
    }

    /// The tables of an array of tables (`[[coach]]`), or nothing.
    fn list<'n>(&mut self, t: &Table<'n>, key: &str) -> Vec<(String, &'n Node)> {
        let path = t.field(key);
        match t.get(key) {
            None => Vec::new(),
            Some(Node {
                value: Value::Array(items),
                ..
            }) => items.iter().map(|n| (path.clone(), n)).collect(),
            Some(other) => {
                self.problem(
                    other.span.start,
                    &path,
                    format!(
                        "expected a list of tables ([[{path}]]), not {}",
                        other.value.kind()
                    ),
                );
                Vec::new()
            }
        }
    }

    /// A string field parsed by a domain type; `None` when absent or bad
    /// (a bad one is reported; a missing required one too).
    fn text<T>(
        &mut self,
        t: &Table<'_>,
        key: &str,
        required: bool,
        parse: impl FnOnce(&str) -> Result<T, Error>,
    ) -> Option<T> {
        let field = t.field(key);
        match t.get(key) {
            None => {
                if required {
                    self.problem(t.span.start, &field, "is required");
                }
                None
            }
            Some(Node {
                value: Value::Str(s),
                span,
            }) => match parse(s) {
                Ok(v) => Some(v),
                Err(e) => {
                    self.problem(span.start, &field, e.to_string());
                    None
                }
            },
            Some(n) => {
                self.problem(
                    n.span.start,
                    &field,
                    format!("expected a string, not {}", n.value.kind()),
                );
                None
            }
        }
    }

    /// A whole-number field parsed by a domain type.
    fn int<T>(
        &mut self,
        t: &Table<'_>,
        key: &str,
        parse: impl FnOnce(i64) -> Result<T, Error>,
    ) -> Option<T> {
        let field = t.field(key);
        match t.get(key) {
            None => None,
            Some(Node {
                value: Value::Int(i),
                span,
            }) => match parse(*i) {
                Ok(v) => Some(v),
                Err(e) => {
                    self.problem(span.start, &field, e.to_string());
                    None
                }
            },
            Some(n) => {
                self.problem(
                    n.span.start,
                    &field,
                    format!("expected a whole number, not {}", n.value.kind()),
                );
                None
            }
        }
    }

    fn bool(&mut self, t: &Table<'_>, key: &str) -> Option<bool> {
        match t.get(key) {
            None => None,
            Some(Node {
                value: Value::Bool(b),
                ..
            }) => Some(*b),
            Some(n) => {
                let field = t.field(key);
                self.problem(
                    n.span.start,
                    &field,
                    format!("expected true or false, not {}", n.value.kind()),
                );
                None
            }
        }
    }

    /// Did any problem arise since `before` problems were known?
    fn clean_since(&self, before: usize) -> bool {
        self.problems.len() == before
    }
}

fn read_coach(cx: &mut Cx<'_>, (path, node): (String, &Node)) -> Option<CoachDecl> {
    let before = cx.problems.len();
    let t = cx.table(
        node,
        &path,
        &[
            "email",
            "name",
            "timezone",
            "max_members",
            "accepting_members",
            "specialization",
            "bio",
            "certifications",
            "max_per_day",
            "max_per_week",
            "member_max_per_week",
            "cancel_notice_hours",
            "waitlist_offer_minutes",
            "availability",
            "block",
        ],
    )?;
    let email = cx.text(&t, "email", true, Email::parse);
    let name = cx.text(&t, "name", true, PersonName::parse);
    let timezone = cx.text(&t, "timezone", false, TimeZone::parse);
    let max_members = cx.int(&t, "max_members", |n| MaxMembers::parse(&n.to_string()));
    let accepting_members = cx.bool(&t, "accepting_members");
    let specialization = cx.text(&t, "specialization", false, ProfileText::parse);
    let bio = cx.text(&t, "bio", false, ProfileText::parse);
    let certifications = cx.text(&t, "certifications", false, ProfileText::parse);
    let limit = |n: i64| SessionLimit::new(n).map(|l| l.get());
    let policies = PolicyDecl {
        max_per_day: cx.int(&t, "max_per_day", limit),
        max_per_week: cx.int(&t, "max_per_week", limit),
        member_max_per_week: cx.int(&t, "member_max_per_week", limit),
        cancel_notice_hours: cx.int(&t, "cancel_notice_hours", |n| {
            CancelNoticeHours::new(n).map(|h| h.get())
        }),
        waitlist_offer_minutes: cx.int(&t, "waitlist_offer_minutes", |n| {
            OfferMinutes::new(n).map(|m| m.get())
        }),
    };
    let mut windows = Vec::new();
    for item in cx.list(&t, "availability") {
        if let Some(w) = read_window(cx, item) {
            windows.push(w);
        }
    }
    let mut blocks = Vec::new();
    for item in cx.list(&t, "block") {
        if let Some(b) = read_block(cx, item) {
            blocks.push(b);
        }
    }
    if !cx.clean_since(before) {
        return None;
    }
    Some(CoachDecl {
        line: cx.line(t.span.start),
        email: email?,
        name: name?,
        timezone,
        max_members,
        accepting_members,
        specialization,
        bio,
        certifications,
        policies,
        windows,
        blocks,
    })
}

fn read_window(cx: &mut Cx<'_>, (path, node): (String, &Node)) -> Option<WindowDecl> {
    let before = cx.problems.len();
    let t = cx.table(
        node,
        &path,
        &["day", "start", "end", "length", "buffer", "capacity"],
    )?;
    // `day = 4` as well as `day = "thu"`: the README offers 0-6 (Sunday = 0).
    let day = match t.get("day") {
        Some(Node {
            value: Value::Int(_),
            ..
        }) => cx.int(&t, "day", |i| {
            u8::try_from(i)
                .ok()
                .and_then(DayOfWeek::from_index)
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "{i} is not a day of the week; use 0-6 (Sunday = 0), sun..sat or a full name"
                    ))
                })
        }),
        _ => cx.text(&t, "day", true, DayOfWeek::parse),
    };
    let start = cx.text(&t, "start", true, TimeOfDay::parse);
    let end = cx.text(&t, "end", true, TimeOfDay::parse);
    let length = cx
        .int(&t, "length", SessionMinutes::new)
        .or_else(|| SessionMinutes::new(60).ok());
    let buffer = cx
        .int(&t, "buffer", BufferMinutes::new)
        .or_else(|| BufferMinutes::new(15).ok());
    let capacity = cx
        .int(&t, "capacity", SlotCapacity::new)
        .or_else(|| SlotCapacity::new(1).ok());
    if let (Some(s), Some(e), Some(l)) = (start, end, length)
        && let Err(e) = crate::availability::validate(s.minutes(), e.minutes(), l.get())
    {
        let at = t.get("end").map(|n| n.span.start).unwrap_or(t.span.start);
        cx.problem(at, &t.field("end"), e.to_string());
    }
    if !cx.clean_since(before) {
        return None;
    }
    Some(WindowDecl {
        line: cx.line(t.span.start),
        day: day?,
        start: start?,
        end: end?,
        length: length?,
        buffer: buffer?,
        capacity: capacity?,
    })
}

fn read_block(cx: &mut Cx<'_>, (path, node): (String, &Node)) -> Option<BlockDecl> {
    let before = cx.problems.len();
    let t = cx.table(node, &path, &["date", "to", "reason"])?;
    let first = cx.text(&t, "date", true, Date::parse);
    let last = cx.text(&t, "to", false, Date::parse);
    let reason = cx.text(&t, "reason", false, ProfileText::parse);
    if let (Some(f), Some(l)) = (first, last)
        && l < f
    {
        let at = t.get("to").map(|n| n.span.start).unwrap_or(t.span.start);
        cx.problem(
            at,
            &t.field("to"),
            format!("the range ends ({l}) before it starts ({f})"),
        );
    }
    if !cx.clean_since(before) {
        return None;
    }
    let first = first?;
    Some(BlockDecl {
        line: cx.line(t.span.start),
        first,
        last: last.unwrap_or(first),
        reason: reason.and_then(ProfileText::into_option),
    })
}

fn read_member(cx: &mut Cx<'_>, (path, node): (String, &Node)) -> Option<MemberDecl> {
    let before = cx.problems.len();
    let t = cx.table(
        node,
        &path,
        &["email", "name", "timezone", "coach", "goals", "health_info"],
    )?;
    let email = cx.text(&t, "email", true, Email::parse);
    let name = cx.text(&t, "name", true, PersonName::parse);
    let timezone = cx.text(&t, "timezone", false, TimeZone::parse);
    let coach_line = t.get("coach").map(|n| cx.line(n.span.start));
    let coach = cx.text(&t, "coach", false, Email::parse);
    let goals = cx.text(&t, "goals", false, ProfileText::parse);
    let health_info = cx.text(&t, "health_info", false, ProfileText::parse);
    if !cx.clean_since(before) {
        return None;
    }
    Some(MemberDecl {
        line: cx.line(t.span.start),
        email: email?,
        name: name?,
        timezone,
        coach: coach.map(|c| (c, coach_line.unwrap_or_default())),
        goals,
        health_info,
    })
}

fn read_booking(cx: &mut Cx<'_>, (path, node): (String, &Node)) -> Option<BookingDecl> {
    let before = cx.problems.len();
    let t = cx.table(node, &path, &["coach", "member", "at", "type", "notes"])?;
    let coach = cx.text(&t, "coach", true, Email::parse);
    let member = cx.text(&t, "member", true, Email::parse);
    // A seed file must mean the same tomorrow: no "tue 9:00" or "+3d 9:00".
    let at = cx.text(&t, "at", true, |s| match At::parse(s)? {
        At::Relative(day, _) if !matches!(day, Day::On(_)) => Err(Error::invalid(format!(
            "'{}' is relative to today, and a seed file must apply the same on any day; use YYYY-MM-DDTHH:MM",
            s.trim()
        ))),
        a => Ok((a, s.trim().to_string())),
    });
    let session_type = cx.text(&t, "type", false, SessionType::parse);
    let notes = cx.text(&t, "notes", false, ProfileText::parse);
    if !cx.clean_since(before) {
        return None;
    }
    let (at, at_text) = at?;
    Some(BookingDecl {
        line: cx.line(t.span.start),
        coach: coach?,
        member: member?,
        at,
        at_text,
        session_type,
        notes: notes.and_then(ProfileText::into_option),
    })
}

/// The same coach, member, window, block or booking declared twice.
fn duplicates(cx: &mut Cx<'_>, org: &Org) {
    let mut people: HashMap<String, (usize, &'static str)> = HashMap::new();
    let mut dup = |cx: &mut Cx<'_>, email: &Email, line: usize, role: &'static str| {
        if let Some((first, first_role)) = people.get(email.as_str()) {
            let field = format!("{role}.email");
            let msg = format!(
                "{email} is already declared as a {first_role} at line {first}; declare each person once"
            );
            cx.problems.push(Problem {
                file: cx.file.to_string(),
                line,
                field,
                message: msg,
                kind: Kind::Invalid,
            });
        } else {
            people.insert(email.as_str().to_string(), (line, role));
        }
    };
    for c in &org.coaches {
        dup(cx, &c.email, c.line, "coach");
    }
    for m in &org.members {
        dup(cx, &m.email, m.line, "member");
    }
    let push = |cx: &mut Cx<'_>, line: usize, field: &str, msg: String| {
        cx.problems.push(Problem {
            file: cx.file.to_string(),
            line,
            field: field.to_string(),
            message: msg,
            kind: Kind::Invalid,
        });
    };
    for c in &org.coaches {
        let mut seen: HashMap<(u8, u16), usize> = HashMap::new();
        for w in &c.windows {
            if let Some(first) = seen.insert((w.day.index(), w.start.minutes()), w.line) {
                push(
                    cx,
                    w.line,
                    "coach.availability",
                    format!(
                        "{} {} of {} is already declared at line {first}",
                        w.day.short(),
                        w.start,
                        c.email
                    ),
                );
            }
        }
        let mut seen: HashMap<(Date, Date), usize> = HashMap::new();
        for b in &c.blocks {
            if let Some(first) = seen.insert((b.first, b.last), b.line) {
                push(
                    cx,
                    b.line,
                    "coach.block",
                    format!(
                        "that block of {} is already declared at line {first}",
                        c.email
                    ),
                );
            }
        }
    }
    let mut seen: HashMap<(String, String, String), usize> = HashMap::new();
    for b in &org.bookings {
        let key = (
            b.coach.as_str().to_string(),
            b.member.as_str().to_string(),
            b.at_text.clone(),
        );
        if let Some(first) = seen.insert(key, b.line) {
            push(
                cx,
                b.line,
                "booking",
                format!(
                    "the booking of {} is already declared at line {first}",
                    b.describe()
                ),
            );
        }
    }
    cx.problems.sort_by_key(|p| p.line);
}
