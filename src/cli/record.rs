//! Records and their forms: the [`Record`] trait and each library type's
//! columns, JSON as coachctl writes it, CSV cells, table headers. Printed
//! through `output` (one record, a value) and `rows` (a list).

use std::io::{self, IsTerminal, Write};

use chrono::DateTime;
use clap::ValueEnum;
use comfy_table::{Attribute, ContentArrangement, Table, presets};
use serde::Serialize;
use serde_json::{Map, Value};

use super::Ctx;
pub use super::table::Row;
use super::table::{self, Cell};
use crate::domain::text::{is_unfit_to_show, shown_lines};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table that fits the terminal (80 columns when its width is unknown)
    Table,
    /// A table with every column and whole ids, as wide as it needs
    Wide,
    /// One JSON document: an object, or an array for lists
    Json,
    /// CSV with a header row
    Csv,
    /// One id per line, for scripts to capture
    Ids,
}

/// Something shown as a row: its JSON form, its id, and the columns a list
/// table shows (a single record shows every field).
pub trait Record: Serialize {
    const COLUMNS: &'static [&'static str];
    /// The field that identifies a row (CSV always includes it).
    const ID_FIELD: Option<&'static str> = Some("id");
    /// What `-o ids` prints.
    fn id(&self) -> String;
    /// The column this list exists for (an audit entry's action): in a
    /// generic table it is cut last, after ids, times and other text.
    const KEY: Option<&'static str> = None;
    /// Headers of the rows `table_row` gives as `Row::Cells`.
    const TABLE_HEADERS: &'static [&'static str] = &[];
    /// This record's row in a list table, when it has a layout of its own
    /// (agenda rows, people); `None`: the generic columns of `COLUMNS`.
    fn table_row(&self, _view: &View) -> Option<Row> {
        None
    }
    /// Whether the rows of `table_row` hold times: then the table names the
    /// display zone once, in a heading.
    const TABLE_ZONE: bool = false;
    /// Write this record's JSON (timestamps in `tz`). A record written by
    /// the hundred thousand overrides this to skip the `Value` in between.
    fn write_json(&self, tz: chrono_tz::Tz, out: &mut dyn Write) -> Result<()> {
        write_json(out, &to_json(self, tz)?).map_err(json_write_error)
    }
    /// Whether `write_csv` writes this record's CSV row straight to the
    /// output, under the header of every list column (its JSON always
    /// carries them all).
    const CSV_DIRECT: bool = false;
    /// The CSV row (cells as `csv_text` writes them), without the `Value`
    /// in between; only called when `CSV_DIRECT`.
    fn write_csv(&self, _out: &mut dyn Write) -> Result<()> {
        Err(Error::Internal("no direct CSV form".into()))
    }
}

/// Who looks at a list, and in which zone: a coach reads their sessions by
/// member name, a member by coach name.
#[derive(Debug, Clone, Copy)]
pub struct View {
    pub tz: chrono_tz::Tz,
    pub viewer: Option<uuid::Uuid>,
}

/// The people columns: name, email, status, 8-digit id.
const PEOPLE: &[&str] = &["name", "email", "status", "id"];

impl Record for crate::coach::Coach {
    const COLUMNS: &'static [&'static str] = &[
        "email",
        "name",
        "timezone",
        "specialization",
        "member_count",
        "max_members",
        "accepting_members",
        "active",
    ];
    fn id(&self) -> String {
        self.id.to_string()
    }
    const TABLE_HEADERS: &'static [&'static str] = &["name", "email", "members", "status", "id"];
    fn table_row(&self, _view: &View) -> Option<Row> {
        let status = if !self.active {
            "inactive"
        } else if !self.accepting_members {
            "closed"
        } else if self.free_capacity <= 0 {
            "full"
        } else {
            "accepting"
        };
        Some(Row::Cells(vec![
            Cell::text(&self.name),
            Cell::text(&self.email),
            Cell::fixed(format!("{}/{}", self.member_count, self.max_members)),
            Cell::status(status),
            Cell::id(&self.id),
        ]))
    }
}

impl Record for crate::member::Member {
    const COLUMNS: &'static [&'static str] = &[
        "email",
        "name",
        "coach_email",
        "membership_status",
        "onboarding_status",
        "privacy",
    ];
    fn id(&self) -> String {
        self.id.to_string()
    }
    const TABLE_HEADERS: &'static [&'static str] = PEOPLE;
    fn table_row(&self, _view: &View) -> Option<Row> {
        Some(Row::Cells(vec![
            Cell::text(&self.name),
            Cell::text(&self.email),
            Cell::status(self.membership_status.as_str()),
            Cell::id(&self.id),
        ]))
    }
    /// `member list -o json` of 200,000 members: straight to the output.
    fn write_json(&self, tz: chrono_tz::Tz, out: &mut dyn Write) -> Result<()> {
        member_json(self, tz, out)
    }
    /// `member list -o csv` of 100,000 members: straight to the output.
    const CSV_DIRECT: bool = true;
    fn write_csv(&self, out: &mut dyn Write) -> Result<()> {
        member_csv(self, out)
    }
}

impl Record for crate::audit::Entry {
    const COLUMNS: &'static [&'static str] =
        &["id", "at", "actor", "action", "entity", "entity_id"];
    const KEY: Option<&'static str> = Some("action");
    fn id(&self) -> String {
        self.entity_id.map(|i| i.to_string()).unwrap_or_default()
    }
}

impl Record for crate::notify::Message {
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "event",
        "recipient_email",
        "status",
        "attempts",
        "next_attempt_at",
    ];
    const KEY: Option<&'static str> = Some("event");
    fn id(&self) -> String {
        self.id.to_string()
    }
}

impl Record for crate::availability::Window {
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "coach_email",
        "day",
        "start",
        "end",
        "length",
        "buffer",
        "capacity",
        "timezone",
    ];
    fn id(&self) -> String {
        self.id.to_string()
    }
    // One line a window: when (in the coach's zone, named), how it is cut
    // into slots, whose it is.
    const TABLE_HEADERS: &'static [&'static str] =
        &["day", "hours", "zone", "min+buf", "cap", "coach", "id"];
    fn table_row(&self, _view: &View) -> Option<Row> {
        Some(Row::Cells(vec![
            Cell::fixed(self.day),
            Cell::fixed(format!("{}–{}", self.start, self.end)),
            Cell::text(&self.timezone),
            Cell::fixed(format!("{}+{}", self.length, self.buffer)),
            Cell::fixed(self.capacity.to_string()),
            Cell::text(&self.coach_email),
            Cell::id(&self.id),
        ]))
    }
}

impl Record for crate::availability::Block {
    const COLUMNS: &'static [&'static str] =
        &["id", "coach_email", "first_day", "last_day", "reason"];
    fn id(&self) -> String {
        self.id.to_string()
    }
}

impl Record for crate::schedule::Slot {
    const COLUMNS: &'static [&'static str] = &["start", "end", "remaining", "capacity"];
    const ID_FIELD: Option<&'static str> = None;
    /// A slot has no id; its start (absolute, RFC 3339) names it for `book --at`.
    fn id(&self) -> String {
        self.start.to_rfc3339()
    }
    fn table_row(&self, view: &View) -> Option<Row> {
        let free = if self.remaining == 0 {
            "full".to_string()
        } else {
            format!("{} of {} free", self.remaining, self.capacity)
        };
        Some(Row::Agenda {
            start: self.start.with_timezone(&view.tz),
            end: self.end.with_timezone(&view.tz),
            cells: vec![Cell::fixed(free)],
        })
    }
    /// `slots` of 90 days (2,000 slots): straight to the output.
    fn write_json(&self, tz: chrono_tz::Tz, out: &mut dyn Write) -> Result<()> {
        // the keys in the order of the `Value` map: sorted
        #[derive(Serialize)]
        struct Json {
            capacity: u32,
            end: LocalTime,
            remaining: u32,
            start: LocalTime,
        }
        let json = Json {
            capacity: self.capacity,
            end: LocalTime(self.end.with_timezone(&tz)),
            remaining: self.remaining,
            start: LocalTime(self.start.with_timezone(&tz)),
        };
        write_json(out, &json).map_err(json_write_error)
    }
}

impl Record for crate::booking::Booking {
    const COLUMNS: &'static [&'static str] = &[
        "session_id",
        "booking_id",
        "status",
        "start",
        "end",
        "coach_email",
        "member_email",
    ];
    const ID_FIELD: Option<&'static str> = Some("session_id");
    /// The session's id: what every `session` command takes.
    fn id(&self) -> String {
        self.session_id.to_string()
    }
}

impl Record for crate::session::Session {
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "start",
        "end",
        "coach_email",
        "member_email",
        "status",
        "session_type",
    ];
    fn id(&self) -> String {
        self.id.to_string()
    }
    /// `Mon 29 Mar  09:00–10:00  Bo Lind  scheduled  3f2a9c1e`: the other
    /// party's name (both, for an admin).
    fn table_row(&self, view: &View) -> Option<Row> {
        let who = if view.viewer == Some(self.coach_id) {
            self.member_name.clone()
        } else if view.viewer == Some(self.member_id) {
            self.coach_name.clone()
        } else {
            format!("{} with {}", self.member_name, self.coach_name)
        };
        Some(Row::Agenda {
            start: self.start.with_timezone(&view.tz),
            end: self.end.with_timezone(&view.tz),
            cells: vec![
                Cell::text(&who),
                Cell::status(&session_state(self)),
                Cell::id(&self.id),
            ],
        })
    }
}

/// A session's status in a table, with what the policies recorded:
/// `cancelled late`, `scheduled no-show`.
fn session_state(s: &crate::session::Session) -> String {
    let mut state = s.status.as_str().to_string();
    if s.late_cancel {
        state.push_str(" late");
    }
    if s.no_show_at.is_some() {
        state.push_str(" no-show");
    }
    state
}

impl Record for crate::session::Note {
    const COLUMNS: &'static [&'static str] = &["id", "at", "author", "visibility", "text"];
    fn id(&self) -> String {
        self.id.to_string()
    }
}

impl Record for crate::session::SessionRating {
    const COLUMNS: &'static [&'static str] = &["rating", "feedback", "rated_at"];
    const ID_FIELD: Option<&'static str> = None;
    fn id(&self) -> String {
        String::new()
    }
}

impl Record for crate::invite::Invitation {
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "coach_email",
        "email",
        "status",
        "assign",
        "expires_at",
    ];
    const KEY: Option<&'static str> = Some("email");
    fn id(&self) -> String {
        self.id.to_string()
    }
}

/// `-o ids` prints the code: the one thing a script needs from `invite send`.
impl Record for crate::invite::Sent {
    const COLUMNS: &'static [&'static str] = &["id", "email", "status", "expires_at", "code"];
    fn id(&self) -> String {
        self.code.clone()
    }
}

impl Record for crate::invite::Accepted {
    const COLUMNS: &'static [&'static str] = &["id", "email", "status", "member_id", "assigned"];
    fn id(&self) -> String {
        self.invitation.id.to_string()
    }
}

impl Record for crate::connect::Connection {
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "coach_email",
        "member_email",
        "area",
        "status",
        "created_at",
    ];
    fn id(&self) -> String {
        self.id.to_string()
    }
}

impl Record for crate::connect::Found {
    const COLUMNS: &'static [&'static str] = &["email", "name", "role", "specialization"];
    fn id(&self) -> String {
        self.id.to_string()
    }
    const TABLE_HEADERS: &'static [&'static str] = &["name", "email", "role", "id"];
    fn table_row(&self, _view: &View) -> Option<Row> {
        Some(Row::Cells(vec![
            Cell::text(&self.name),
            Cell::text(&self.email),
            Cell::fixed(self.role.as_str()),
            Cell::id(&self.id),
        ]))
    }
}

impl Record for crate::message::Message {
    const COLUMNS: &'static [&'static str] = &["from", "to", "text", "sent_at", "read"];
    fn id(&self) -> String {
        self.id.to_string()
    }
    // The text is what a person reads a conversation for: it gets the room,
    // the recipient is in `-o wide`.
    const TABLE_HEADERS: &'static [&'static str] = &["sent", "from", "text", "", "id"];
    const TABLE_ZONE: bool = true;
    fn table_row(&self, view: &View) -> Option<Row> {
        Some(Row::Cells(vec![
            Cell::fixed(table::day_time(self.sent_at.with_timezone(&view.tz))),
            Cell::text(&self.from),
            Cell::text(&self.text),
            Cell::status(if self.read { "" } else { "new" }),
            Cell::id(&self.id),
        ]))
    }
}

impl Record for crate::history::Event {
    const COLUMNS: &'static [&'static str] = &["at", "coach_email", "event", "by", "relationship"];
    const ID_FIELD: Option<&'static str> = None;
    fn id(&self) -> String {
        self.coach_email.clone()
    }
}

impl Record for crate::coach::CoachShow {
    const COLUMNS: &'static [&'static str] = &[
        "email",
        "name",
        "timezone",
        "member_count",
        "max_members",
        "rating_average",
        "rating_count",
        "max_per_day",
        "max_per_week",
        "member_max_per_week",
        "cancel_notice_hours",
        "waitlist_offer_minutes",
    ];
    fn id(&self) -> String {
        self.coach.id.to_string()
    }
}

/// JSON as coachctl writes it: serde_json's compact form, with the
/// characters that would rewrite a terminal and that serde_json leaves raw
/// (C1 controls, DEL, bidirectional and invisible ones; it escapes C0
/// itself) written as `\uXXXX`: `cat` of the output is safe, and a parser
/// reads back the exact text.
struct TerminalSafe;

impl serde_json::ser::Formatter for TerminalSafe {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // Printable ASCII is never unfit: only other characters walk the
        // ranges (2,000 slots' times and emails were a millisecond of it).
        let unfit = |c: char| !matches!(c, ' '..='~') && is_unfit_to_show(c);
        let mut rest = fragment;
        while let Some((i, c)) = rest.char_indices().find(|(_, c)| unfit(*c)) {
            w.write_all(&rest.as_bytes()[..i])?;
            for unit in c.encode_utf16(&mut [0; 2]) {
                write!(w, "\\u{unit:04x}")?;
            }
            rest = &rest[i + c.len_utf8()..];
        }
        w.write_all(rest.as_bytes())
    }
}

/// Write `v` as JSON (see [`TerminalSafe`]).
pub fn write_json<W: Write, T: Serialize + ?Sized>(w: W, v: &T) -> serde_json::Result<()> {
    v.serialize(&mut serde_json::Serializer::with_formatter(w, TerminalSafe))
}

/// One JSON document as a person at a terminal reads it (indented, as
/// kubectl and gh print it); compact for a pipe, where scripts read it.
pub(super) fn for_terminal(json: String) -> String {
    if io::stdout().is_terminal() {
        indented(&json)
    } else {
        json
    }
}

/// Compact JSON text indented by two spaces a level. It works on the text
/// (already escaped for a terminal), tracking only whether it is inside a
/// string, so no character is decoded on the way.
pub(super) fn indented(json: &str) -> String {
    let mut out = String::with_capacity(json.len() * 2);
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    let mut chars = json.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    };
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                // an empty object or array stays on its line
                if matches!(chars.peek(), Some('}' | ']')) {
                    if let Some(end) = chars.next() {
                        out.push(end);
                    }
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            _ => out.push(c),
        }
    }
    out
}

/// `v` as JSON text (see [`TerminalSafe`]).
pub fn json_text<T: Serialize + ?Sized>(v: &T) -> String {
    let mut out = Vec::new();
    // Writing to memory fails only for a value that is no JSON (a map with
    // non-string keys), which no record is.
    let _ = write_json(&mut out, v);
    String::from_utf8(out).unwrap_or_default()
}

/// Serialize, then show every timestamp in the display zone (RFC 3339 with
/// that zone's offset).
pub(super) fn to_json<T: Serialize + ?Sized>(item: &T, tz: chrono_tz::Tz) -> Result<Value> {
    localized(item, tz)
}

/// Rewrite every timestamp field (`at`, `*_at`, `start`, `end`), at any
/// depth, into the display zone.
fn localize(map: &mut Map<String, Value>, tz: chrono_tz::Tz) {
    for (k, v) in map.iter_mut() {
        let is_time = k == "at" || k.ends_with("_at") || k == "start" || k == "end";
        match v {
            Value::String(s) if is_time => {
                if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                    *s = t
                        .with_timezone(&tz)
                        .format("%Y-%m-%dT%H:%M:%S%:z")
                        .to_string();
                }
            }
            Value::Object(inner) => localize(inner, tz),
            Value::Array(items) => {
                for item in items {
                    if let Value::Object(inner) = item {
                        localize(inner, tz);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Serialize anything with its timestamps in the display zone.
pub fn localized<T: Serialize + ?Sized>(item: &T, tz: chrono_tz::Tz) -> Result<Value> {
    let mut v = serde_json::to_value(item).map_err(|e| Error::Internal(e.to_string()))?;
    match &mut v {
        Value::Object(map) => localize(map, tz),
        Value::Array(items) => {
            for item in items {
                if let Value::Object(inner) = item {
                    localize(inner, tz);
                }
            }
        }
        _ => {}
    }
    Ok(v)
}

/// What makes a spreadsheet read a cell as a formula (OWASP, "CSV
/// Injection"): such a text cell is written with a leading `'`, which the
/// spreadsheet shows as text and does not run.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// One CSV cell. Only text is guarded against formulas: numbers are data
/// (`-5` stays `-5`). Newlines stay (in quotes); control, bidirectional and
/// invisible characters are escaped, as on a screen.
pub fn csv_text(v: Option<&Value>) -> String {
    let mut out = Vec::new();
    // Writing to memory does not fail.
    let _ = match v {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) => write_csv_text(&mut out, s),
        Some(other) => write_csv_plain(&mut out, &other.to_string()),
    };
    String::from_utf8(out).unwrap_or_default()
}

/// A text cell of CSV, written: shown as on a screen, formula-guarded,
/// quoted when it holds a separator, a quote or a line break.
pub(super) fn write_csv_text(out: &mut dyn Write, s: &str) -> io::Result<()> {
    let s = shown_lines(s);
    let guard = if s.starts_with(FORMULA_STARTS) {
        "'"
    } else {
        ""
    };
    write_csv_cell(out, guard, &s)
}

/// A number or other plain cell: no formula guard.
fn write_csv_plain(out: &mut dyn Write, s: &str) -> io::Result<()> {
    write_csv_cell(out, "", &shown_lines(s))
}

fn write_csv_cell(out: &mut dyn Write, guard: &str, s: &str) -> io::Result<()> {
    if !s.contains([',', '"', '\n', '\r']) {
        out.write_all(guard.as_bytes())?;
        return out.write_all(s.as_bytes());
    }
    out.write_all(b"\"")?;
    out.write_all(guard.as_bytes())?;
    for (i, part) in s.split('"').enumerate() {
        if i > 0 {
            out.write_all(b"\"\"")?;
        }
        out.write_all(part.as_bytes())?;
    }
    out.write_all(b"\"")
}

pub(super) fn header(c: &str) -> String {
    c.replace('_', " ")
}

pub(super) fn new_table(ctx: &Ctx) -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED);
    if ctx.global.output == Format::Wide {
        // wide: every column whole, however wide that is
        t.set_content_arrangement(ContentArrangement::Disabled);
    } else {
        // a known width: without one, columns shrink to one character
        t.set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(u16::try_from(table::width()).unwrap_or(u16::MAX));
    }
    if ctx.color() {
        // `--color always` styles even when stdout is not a terminal.
        t.enforce_styling();
    }
    t
}

pub(super) fn header_cells(ctx: &Ctx, cols: &[&str]) -> Vec<comfy_table::Cell> {
    cols.iter()
        .map(|c| {
            let cell = comfy_table::Cell::new(header(c));
            if ctx.color() {
                cell.add_attribute(Attribute::Bold)
            } else {
                cell
            }
        })
        .collect()
}

/// The list columns of `T` that some row carries. A field hidden from the
/// actor is left out of the JSON (see `availability::Block::reason`), and
/// so leaves no column behind, not even an empty one.
pub(super) fn shown_columns<T: Record>(rows: &[Value]) -> Vec<&'static str> {
    T::COLUMNS
        .iter()
        .copied()
        .filter(|c| rows.is_empty() || rows.iter().any(|r| r.get(*c).is_some()))
        .collect()
}

impl Record for crate::waitlist::Entry {
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "status",
        "position",
        "start",
        "coach_email",
        "member_email",
        "offer_id",
        "offer_expires_at",
    ];
    fn id(&self) -> String {
        self.id.to_string()
    }
}

impl Record for crate::waitlist::Joined {
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "status",
        "position",
        "start",
        "coach_email",
        "member_email",
    ];
    fn id(&self) -> String {
        self.id.to_string()
    }
}

/// A write to stdout that failed inside serde_json: the reader may have
/// left (a broken pipe, which is no failure), or something else broke.
pub(super) fn json_write_error(e: serde_json::Error) -> Error {
    match e.io_error_kind() {
        Some(kind) => Error::Io(io::Error::from(kind)),
        None => Error::Internal(e.to_string()),
    }
}

/// `member list -o json` of 200,000 members: serialized straight to the
/// output, byte for byte what `to_json` gives (keys in the same
/// alphabetical order, the timestamp in the display zone).
pub(super) fn member_json(
    m: &crate::member::Member,
    tz: chrono_tz::Tz,
    out: &mut dyn Write,
) -> Result<()> {
    #[derive(Serialize)]
    struct Json<'a> {
        active: bool,
        coach_email: &'a Option<String>,
        coach_id: &'a Option<uuid::Uuid>,
        #[serde(skip_serializing_if = "Option::is_none")]
        coach_notes: &'a Option<String>,
        email: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        goals: &'a Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        health_info: &'a Option<String>,
        id: &'a uuid::Uuid,
        joined_at: LocalTime,
        membership_status: &'a crate::domain::MembershipStatus,
        name: &'a str,
        onboarding_status: &'a crate::domain::OnboardingStatus,
        privacy: &'a crate::domain::Privacy,
        share_goals: bool,
        share_health_info: bool,
        timezone: &'a str,
    }
    let json = Json {
        active: m.active,
        coach_email: &m.coach_email,
        coach_id: &m.coach_id,
        coach_notes: &m.coach_notes,
        email: &m.email,
        goals: &m.goals,
        health_info: &m.health_info,
        id: &m.id,
        joined_at: LocalTime(m.joined_at.with_timezone(&tz)),
        membership_status: &m.membership_status,
        name: &m.name,
        onboarding_status: &m.onboarding_status,
        privacy: &m.privacy,
        share_goals: m.share_goals,
        share_health_info: m.share_health_info,
        timezone: &m.timezone,
    };
    write_json(out, &json).map_err(json_write_error)
}

/// `member list -o csv` of 100,000 members: the row `csv_text` gives for
/// each column of the header (the id, then `Member`'s list columns), with
/// no JSON in between.
pub(super) fn member_csv(m: &crate::member::Member, out: &mut dyn Write) -> Result<()> {
    let mut id = uuid::Uuid::encode_buffer();
    let cells: [&str; 7] = [
        m.id.hyphenated().encode_lower(&mut id),
        &m.email,
        &m.name,
        m.coach_email.as_deref().unwrap_or_default(),
        m.membership_status.as_str(),
        m.onboarding_status.as_str(),
        m.privacy.as_str(),
    ];
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        write_csv_text(out, c)?;
    }
    out.write_all(b"\n")?;
    Ok(())
}

/// A timestamp as `localize` writes it: RFC 3339, seconds, the zone's offset.
struct LocalTime(chrono::DateTime<chrono_tz::Tz>);

impl Serialize for LocalTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use chrono::{Datelike, Offset, Timelike};
        let offset = self.0.offset().fix().local_minus_utc();
        let year = self.0.year();
        // chrono's format string is parsed anew for every timestamp; this is
        // its output for the years and whole-minute offsets of real data
        if !(0..=9999).contains(&year) || offset % 60 != 0 {
            return s.collect_str(&self.0.format("%Y-%m-%dT%H:%M:%S%:z"));
        }
        let (sign, off) = if offset < 0 {
            (b'-', -offset / 60)
        } else {
            (b'+', offset / 60)
        };
        let two = |n: u32| [b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8];
        let y = year as u32;
        let mut b = [0u8; 25];
        b[..2].copy_from_slice(&two(y / 100));
        b[2..4].copy_from_slice(&two(y % 100));
        b[4] = b'-';
        b[5..7].copy_from_slice(&two(self.0.month()));
        b[7] = b'-';
        b[8..10].copy_from_slice(&two(self.0.day()));
        b[10] = b'T';
        b[11..13].copy_from_slice(&two(self.0.hour()));
        b[13] = b':';
        b[14..16].copy_from_slice(&two(self.0.minute()));
        b[16] = b':';
        b[17..19].copy_from_slice(&two(self.0.second()));
        b[19] = sign;
        b[20..22].copy_from_slice(&two(off as u32 / 60));
        b[22] = b':';
        b[23..25].copy_from_slice(&two(off as u32 % 60));
        // only ASCII digits and punctuation went in
        s.serialize_str(std::str::from_utf8(&b).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indented_json_reads_back_as_the_same_value_with_strings_untouched() {
        let v = serde_json::json!({
            "a": [1, {"b": "x, y: {z}", "c": []}, {}],
            "q": "say \"hi\" \\ [ok]",
            "bidi": "k\u{202e}"
        });
        let compact = json_text(&v);
        let pretty = indented(&compact);
        assert_eq!(serde_json::from_str::<Value>(&pretty).unwrap(), v);
        assert!(pretty.contains("\n  \"a\": [\n    1,"), "{pretty}");
        assert!(pretty.contains("\"c\": []"), "{pretty}");
        assert!(pretty.contains("\"x, y: {z}\""), "{pretty}");
        assert!(pretty.contains("\\u202e"), "still escaped: {pretty}");
    }
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_local_time_serializes_as_chronos_format_string_would(
            secs in -5_000_000_000i64..300_000_000_000,
            zone in prop::sample::select(vec![
                "UTC", "Europe/Berlin", "America/St_Johns", "Asia/Kathmandu",
                "Pacific/Kiritimati", "Pacific/Pago_Pago", "Africa/Monrovia",
            ]),
        ) {
            let tz: chrono_tz::Tz = zone.parse().unwrap();
            let t = chrono::DateTime::from_timestamp(secs, 0).unwrap().with_timezone(&tz);
            let want = serde_json::to_string(&t.format("%Y-%m-%dT%H:%M:%S%:z").to_string()).unwrap();
            prop_assert_eq!(serde_json::to_string(&LocalTime(t)).unwrap(), want);
        }
    }

    #[test]
    fn a_formula_cell_gets_a_leading_quote_and_keeps_its_csv_quoting() {
        let cell = |s: &str| csv_text(Some(&Value::String(s.into())));
        assert_eq!(cell("=1+1"), "'=1+1");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(
            cell("=HYPERLINK(\"x\",\"y\")"),
            "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\""
        );
        // a stored control character is escaped: no formula start is left
        assert_eq!(cell("\rx"), "\\u{000d}x");
        assert_eq!(cell("\t=1"), " =1");
        assert_eq!(cell("plain"), "plain");
    }

    #[test]
    fn json_escapes_what_would_rewrite_a_terminal_and_reads_back_exactly() {
        let text = "a\u{1b}]52;c;x\u{7}\u{9b}\u{7f}\u{202e}\u{200b}\u{e0001}é👨\u{200d}👩\"";
        let json = json_text(&serde_json::json!({ "k\u{202e}": text }));
        assert_eq!(
            json,
            "{\"k\\u202e\":\"a\\u001b]52;c;x\\u0007\\u009b\\u007f\\u202e\\u200b\\udb40\\udc01é👨\u{200d}👩\\\"\"}"
        );
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["k\u{202e}"], text);
    }

    proptest! {
        #[test]
        fn json_of_any_text_reads_back_exactly_and_holds_nothing_unfit(s in any::<String>()) {
            let json = json_text(&serde_json::json!([s]));
            prop_assert!(!json.chars().any(is_unfit_to_show), "{json:?}");
            let back: Vec<String> = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(&back[0], &s);
        }

        #[test]
        fn a_csv_text_cell_never_starts_with_a_formula_character(s in any::<String>()) {
            let cell = csv_text(Some(&Value::String(s)));
            let unquoted = cell.strip_prefix('"').unwrap_or(&cell);
            prop_assert!(!unquoted.starts_with(FORMULA_STARTS), "{cell:?}");
        }

        #[test]
        fn a_number_cell_is_written_as_it_is(n in any::<i64>(), x in -1e9f64..1e9) {
            prop_assert_eq!(csv_text(Some(&serde_json::json!(n))), n.to_string());
            let v = serde_json::json!(x);
            prop_assert_eq!(csv_text(Some(&v)), v.to_string());
        }
    }
}
