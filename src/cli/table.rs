//! Tables for people at a terminal: they fit the width (80 columns when it
//! is unknown), show 8-digit ids, truncate long text with `…` instead of
//! wrapping, and name the display zone once. Sessions and slots are agenda
//! rows grouped by day; people are name, email, status, id.

use std::io::IsTerminal;

use chrono::{DateTime, Datelike};
use chrono_tz::Tz;
use serde_json::{Map, Value};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::text::shown_lines;

/// Columns of a table: `COLUMNS` when set, else the terminal's width, else
/// 80 (piped, or a terminal that reports no size).
pub fn width() -> usize {
    if let Some(n) = std::env::var("COLUMNS")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
    {
        return n.max(MIN_WIDTH);
    }
    if std::io::stdout().is_terminal()
        && let Some(w) = comfy_table::Table::new().width()
        && usize::from(w) >= MIN_WIDTH
    {
        return usize::from(w);
    }
    80
}

/// Below this a table cannot show an agenda row at all; a terminal that
/// claims less is treated as that wide.
const MIN_WIDTH: usize = 40;

/// The narrowest a truncated column gets (`Bo Li…`).
const MIN_ELASTIC: usize = 6;

const GAP: &str = "  ";

/// How a column gives way when a row is wider than the terminal, in the
/// order they give: ids, timestamps and counters are dropped whole
/// first (`-o wide` has them), free text is cut next, and the column a
/// view exists for (an audit entry's action, a message's event) last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Give {
    /// Dropped whole, in this rank: 0 ids, 1 timestamps, 2 counters.
    Drop(u8),
    /// Cut with `…` (names, emails, free text).
    Cut,
    /// Cut only when nothing else is left to give.
    Keep,
    /// Shown whole (status, dates of an agenda).
    Never,
}

/// One cell: its text, how its column gives way, and its colour on a
/// terminal that wants colour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    text: String,
    give: Give,
    tone: Option<Tone>,
}

/// The colour of a status, as cargo and git use them: green for what
/// holds, yellow for what waits, red for what ended badly, dim for what
/// is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Good,
    Waiting,
    Bad,
    Done,
}

impl Tone {
    /// The tone of a status word (its first word: `cancelled late`).
    pub fn of(status: &str) -> Option<Tone> {
        let word = status.split_whitespace().next().unwrap_or_default();
        Some(match word {
            "scheduled" | "active" | "accepting" | "sent" | "accepted" | "confirmed" | "new" => {
                Tone::Good
            }
            "proposed" | "queued" | "pending" | "paused" | "full" | "waiting" | "offered"
            | "in_progress" | "retrying" => Tone::Waiting,
            "cancelled" | "failed" | "declined" | "no_show" | "no-show" | "inactive" | "closed"
            | "expired" | "revoked" | "removed" | "rejected" => Tone::Bad,
            "completed" | "skipped" | "archived" | "done" => Tone::Done,
            _ => return None,
        })
    }

    fn code(self) -> &'static str {
        match self {
            Tone::Good => "\x1b[32m",
            Tone::Waiting => "\x1b[33m",
            Tone::Bad => "\x1b[31m",
            Tone::Done => "\x1b[2m",
        }
    }
}

const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

/// `s` in `style` when `color`, else as it is.
fn styled(s: &str, style: &str, color: bool) -> String {
    if color && !s.is_empty() {
        format!("{style}{s}{RESET}")
    } else {
        s.to_string()
    }
}

impl Cell {
    /// Text that may be truncated with `…` (names, emails, free text).
    pub fn text(s: &str) -> Cell {
        Cell {
            text: one_line(s),
            give: Give::Cut,
            tone: None,
        }
    }

    /// Text shown whole (status, id, dates, numbers).
    pub fn fixed(s: impl Into<String>) -> Cell {
        Cell {
            text: one_line(&s.into()),
            give: Give::Never,
            tone: None,
        }
    }

    /// A status, shown whole, coloured by what it says on a terminal.
    pub fn status(s: &str) -> Cell {
        Cell {
            tone: Tone::of(s),
            ..Cell::fixed(s)
        }
    }

    /// The text a view exists for: cut last, after every other column.
    pub fn key(s: &str) -> Cell {
        Cell {
            text: one_line(s),
            give: Give::Keep,
            tone: None,
        }
    }

    /// An id as tables show it: its first 8 hex digits (`-o ids`, JSON and
    /// CSV keep the whole id; commands take any unique prefix). Dropped
    /// first when the row does not fit.
    pub fn id(id: &uuid::Uuid) -> Cell {
        Cell {
            text: short_id(&id.to_string()),
            give: Give::Drop(0),
            tone: None,
        }
    }

    /// A number or a reference (`line 12`) that may go when the row does
    /// not fit, after ids and times.
    pub fn counter(s: impl Into<String>) -> Cell {
        Cell::droppable(s, 2)
    }

    /// A cell whose column is dropped whole, in `rank` (0 ids, 1 times,
    /// 2 counters), when the row does not fit.
    fn droppable(s: impl Into<String>, rank: u8) -> Cell {
        Cell {
            text: one_line(&s.into()),
            give: Give::Drop(rank),
            tone: None,
        }
    }
}

pub fn short_id(s: &str) -> String {
    s.chars().take(8).collect()
}

/// A row of a list table.
#[derive(Debug, Clone)]
pub enum Row {
    /// An agenda row: grouped under its local day, then its time span.
    Agenda {
        start: DateTime<Tz>,
        end: DateTime<Tz>,
        cells: Vec<Cell>,
    },
    /// Plain columns under the record's headers.
    Cells(Vec<Cell>),
}

/// A newline in a note would break the row (a space instead), and stored
/// control, bidirectional or invisible characters would rewrite the
/// terminal (escapes instead): every cell and shown value passes here.
fn one_line(s: &str) -> String {
    crate::domain::text::shown(s).into_owned()
}

fn text_width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// `s` in at most `w` columns: cut with `…` when longer.
pub fn truncate(s: &str, w: usize) -> String {
    if text_width(s) <= w {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if used + cw + 1 > w {
            break;
        }
        out.push(c);
        used += cw;
    }
    out.push('…');
    out
}

fn pad(s: &str, w: usize) -> String {
    let n = w.saturating_sub(text_width(s));
    format!("{s}{}", " ".repeat(n))
}

/// Below this a cut text column is not cut further before ids, times and
/// counters are dropped: a name cut to a few letters says less than the
/// columns dropped for it.
const COMFORTABLE: usize = 16;

/// Column widths that fit `avail`; a dropped column has width 0. Text
/// columns are cut (the widest first) down to [`COMFORTABLE`], then ids,
/// timestamps and counters are dropped, then text is cut down to
/// [`MIN_ELASTIC`], and the key column last.
fn fit(rows: &[&[Cell]], avail: usize) -> Vec<usize> {
    let n = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let mut widths = vec![0; n];
    // A column gives way as its data does: the most that any cell allows
    // short of shown-whole (a header, an empty cell, says nothing).
    let mut give = vec![None::<Give>; n];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(text_width(&c.text));
            if c.give != Give::Never {
                give[i] = give[i].max(Some(c.give));
            }
        }
    }
    let give: Vec<Give> = give.into_iter().map(|g| g.unwrap_or(Give::Never)).collect();
    let total = |w: &[usize]| {
        let shown = w.iter().filter(|x| **x > 0).count();
        w.iter().sum::<usize>() + GAP.len() * shown.saturating_sub(1)
    };
    let shrink = |widths: &mut Vec<usize>, class: Give, floor: usize| {
        while total(widths) > avail {
            let Some(i) = (0..n)
                .filter(|i| give[*i] == class && widths[*i] > floor)
                .max_by_key(|i| widths[*i])
            else {
                break;
            };
            widths[i] -= 1;
        }
    };
    shrink(&mut widths, Give::Cut, COMFORTABLE);
    for rank in 0..=2 {
        // the rightmost first: columns read left to right
        for i in (0..n).rev() {
            if total(&widths) > avail && give[i] == Give::Drop(rank) {
                widths[i] = 0;
            }
        }
    }
    shrink(&mut widths, Give::Cut, MIN_ELASTIC);
    shrink(&mut widths, Give::Keep, MIN_ELASTIC);
    widths
}

/// The cells at their widths; with `color`, statuses in their tone and a
/// header (`bold`) in bold. The padding stays outside the escapes, so a
/// coloured table lines up exactly as a plain one.
fn join(cells: &[Cell], widths: &[usize], color: bool, bold: bool) -> String {
    let mut parts = Vec::with_capacity(cells.len());
    for (i, c) in cells.iter().enumerate() {
        // a dropped column (width 0) is left out, gap and all
        let Some(w) = widths.get(i).copied().filter(|w| *w > 0) else {
            continue;
        };
        let text = truncate(&c.text, w);
        let fill = " ".repeat(w.saturating_sub(text_width(&text)));
        let text = match (bold, c.tone) {
            (true, _) => styled(&text, BOLD, color),
            (false, Some(tone)) => styled(&text, tone.code(), color),
            (false, None) => text,
        };
        parts.push(format!("{text}{fill}"));
    }
    parts.join(GAP).trim_end().to_string()
}

/// Column widths of a plain table from its header and a sample of its
/// rows (a long list streams on with these), within `width`.
pub fn plain_widths(rows: &[Row], headers: &[String], width: usize) -> Option<Vec<usize>> {
    let head: Vec<Cell> = headers.iter().map(|h| Cell::fixed(h.as_str())).collect();
    let mut all: Vec<&[Cell]> = vec![head.as_slice()];
    for r in rows {
        match r {
            Row::Cells(c) => all.push(c.as_slice()),
            Row::Agenda { .. } => return None,
        }
    }
    let mut widths = fit(&all, width);
    // Later rows may be longer than the sample: the room left goes to the
    // text columns, so that they are cut only where the width runs out.
    let elastic: Vec<usize> = (0..widths.len())
        .filter(|i| widths[*i] > 0)
        .filter(|i| {
            all.iter().any(|r| {
                r.get(*i)
                    .is_some_and(|c| matches!(c.give, Give::Cut | Give::Keep))
            })
        })
        .collect();
    let shown = widths.iter().filter(|w| **w > 0).count();
    let used = widths.iter().sum::<usize>() + GAP.len() * shown.saturating_sub(1);
    for k in 0..width.saturating_sub(used) {
        if let Some(i) = elastic.get(k % elastic.len().max(1)) {
            widths[*i] += 1;
        }
    }
    Some(widths)
}

/// One line of a plain table at fixed widths (a longer cell is cut).
pub fn plain_line(row: &Row, widths: &[usize], color: bool) -> String {
    match row {
        Row::Cells(c) => join(c, widths, color, false),
        Row::Agenda { cells, .. } => join(cells, widths, color, false),
    }
}

/// The header line of a plain table at fixed widths.
pub fn plain_header(headers: &[String], widths: &[usize], color: bool) -> String {
    let head: Vec<Cell> = headers.iter().map(|h| Cell::fixed(h.as_str())).collect();
    join(&head, widths, color, true)
}

/// A heading line (`Times in Europe/Berlin`), dim on a terminal.
pub fn heading(s: &str, width: usize, color: bool) -> String {
    styled(&truncate(s, width), DIM, color)
}

/// Render list rows, every line at most `width` columns (the zone heading
/// and headers included). Agenda rows always name `zone`; plain columns
/// only when `zone_heading` says they hold timestamps.
pub fn render(
    rows: &[Row],
    headers: &[String],
    zone: Tz,
    zone_heading: bool,
    width: usize,
    color: bool,
) -> String {
    let mut lines: Vec<String> = Vec::new();
    let agenda: Vec<(&DateTime<Tz>, &DateTime<Tz>, &[Cell])> = rows
        .iter()
        .filter_map(|r| match r {
            Row::Agenda { start, end, cells } => Some((start, end, cells.as_slice())),
            Row::Cells(_) => None,
        })
        .collect();
    if !agenda.is_empty() {
        let first_year = agenda[0].0.year();
        let one_year = agenda.iter().all(|(s, _, _)| s.year() == first_year);
        let zone = zone.name();
        lines.push(heading(
            &if one_year {
                format!("{first_year} · times in {zone}")
            } else {
                format!("Times in {zone}")
            },
            width,
            color,
        ));
        // `Mon 29 Mar` (10), two spaces, `09:00–10:00` (11), two spaces
        let label_w = if one_year { 10 } else { 15 };
        let lead = label_w + GAP.len() + 11 + GAP.len();
        let cells: Vec<&[Cell]> = agenda.iter().map(|(_, _, c)| *c).collect();
        let widths = fit(&cells, width.saturating_sub(lead));
        let mut day = None;
        for (start, end, cells) in &agenda {
            let this = start.date_naive();
            let label = if day == Some(this) {
                " ".repeat(label_w)
            } else {
                if day.is_some() {
                    lines.push(String::new());
                }
                let fmt = if one_year { "%a %e %b" } else { "%a %e %b %Y" };
                styled(&start.format(fmt).to_string(), BOLD, color)
            };
            day = Some(this);
            let span = format!("{}–{}", start.format("%H:%M"), end.format("%H:%M"));
            let rest = join(cells, &widths, color, false);
            lines.push(
                format!("{label}{GAP}{span}{GAP}{rest}")
                    .trim_end()
                    .to_string(),
            );
        }
    }
    let plain: Vec<&[Cell]> = rows
        .iter()
        .filter_map(|r| match r {
            Row::Cells(c) => Some(c.as_slice()),
            Row::Agenda { .. } => None,
        })
        .collect();
    if !plain.is_empty() {
        if zone_heading {
            lines.push(heading(&format!("Times in {}", zone.name()), width, color));
        }
        // Headers never make a column elastic: the data decides what gives way.
        let head: Vec<Cell> = headers.iter().map(|h| Cell::fixed(h.as_str())).collect();
        let mut all: Vec<&[Cell]> = vec![head.as_slice()];
        all.extend(plain.iter().copied());
        let widths = fit(&all, width);
        for (i, r) in all.into_iter().enumerate() {
            lines.push(join(r, &widths, color, i == 0));
        }
    }
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

fn is_time_key(k: &str) -> bool {
    k == "at" || k.ends_with("_at") || k == "start" || k == "end"
}

/// A timestamp (already in the display zone) as lists show it.
fn short_time(s: &str) -> Option<String> {
    DateTime::parse_from_rfc3339(s).ok().map(day_time)
}

/// A time as list tables show it, of the family of every other date
/// (`crate::domain::dates`), its zone named in the heading: `Mon  7 Dec,
/// 23:31`, the year added when it is not this year; the day padded so
/// that rows line up.
pub fn day_time<Z: chrono::TimeZone>(t: DateTime<Z>) -> String
where
    Z::Offset: std::fmt::Display,
{
    let this_year = t.year() == chrono::Utc::now().with_timezone(&t.timezone()).year();
    t.format(if this_year {
        "%a %e %b, %H:%M"
    } else {
        "%a %e %b %Y, %H:%M"
    })
    .to_string()
}

/// Whether some row holds a timestamp in these columns (then the table
/// names its zone; a window's `09:00` is no timestamp).
pub fn has_timestamps(rows: &[Value], cols: &[&str]) -> bool {
    rows.iter().any(|r| {
        cols.iter().any(|c| {
            is_time_key(c)
                && r.get(*c)
                    .and_then(Value::as_str)
                    .is_some_and(|s| DateTime::parse_from_rfc3339(s).is_ok())
        })
    })
}

/// One cell of a generic list table, from a record's JSON field; the
/// view's key column (`key`) is cut last.
pub fn key_cell(v: Option<&Value>) -> Cell {
    match v {
        Some(Value::String(s)) => Cell::key(s),
        other => json_cell("", other),
    }
}

/// One cell of a generic list table, from a record's JSON field.
pub fn json_cell(key: &str, v: Option<&Value>) -> Cell {
    match v {
        None | Some(Value::Null) => Cell::fixed(""),
        Some(Value::Bool(b)) => Cell::fixed(if *b { "yes" } else { "no" }),
        Some(Value::Number(n)) => Cell::droppable(n.to_string(), 2),
        Some(Value::String(s)) => {
            if (key == "id" || key.ends_with("_id")) && uuid::Uuid::parse_str(s).is_ok() {
                Cell::droppable(short_id(s), 0)
            } else if is_time_key(key)
                && let Some(t) = short_time(s)
            {
                Cell::droppable(t, 1)
            } else {
                Cell::text(s)
            }
        }
        Some(other) => Cell::text(&other.to_string()),
    }
}

/// A generic list's columns: the record's list columns, ids last (the
/// name of a thing reads first; its id is for copying).
pub fn generic_columns(cols: &[&'static str]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = cols.iter().copied().filter(|c| *c != "id").collect();
    if cols.contains(&"id") {
        out.push("id");
    }
    out
}

/// The order of a record's fields in `show`: name and email first, then
/// the list columns, then the rest by name, ids last.
pub fn show_order<'a>(map: &'a Map<String, Value>, cols: &[&str]) -> Vec<&'a str> {
    let mut keys: Vec<&str> = Vec::new();
    let push = |k: &'a str, keys: &mut Vec<&'a str>| {
        if !keys.contains(&k) {
            keys.push(k);
        }
    };
    let is_id = |k: &str| k == "id" || k.ends_with("_id");
    for k in ["name", "email"].iter().chain(cols.iter()) {
        if let Some((key, _)) = map.get_key_value(*k)
            && !is_id(key)
        {
            push(key.as_str(), &mut keys);
        }
    }
    for k in map.keys().filter(|k| !is_id(k)) {
        push(k.as_str(), &mut keys);
    }
    if let Some((key, _)) = map.get_key_value("id") {
        push(key.as_str(), &mut keys);
    }
    for k in map.keys().filter(|k| is_id(k)) {
        push(k.as_str(), &mut keys);
    }
    keys
}

/// A value of `show`, as lines of text (before wrapping).
fn show_lines(key: &str, v: &Value, zone: Tz) -> Vec<String> {
    match v {
        Value::Null => vec!["-".into()],
        Value::Bool(b) => vec![if *b { "yes" } else { "no" }.into()],
        // each time stands alone on its line: its zone named (`09:00 CEST`)
        Value::String(s) if is_time_key(key) => vec![
            DateTime::parse_from_rfc3339(s)
                .map(|t| crate::domain::dates::moment_now(t.with_timezone(&chrono::Utc), zone))
                .unwrap_or_else(|_| s.clone()),
        ],
        Value::String(s) => s.lines().map(str::to_string).collect(),
        Value::Array(items) if items.is_empty() => vec!["-".into()],
        Value::Array(items) => items.iter().map(inline).collect(),
        Value::Object(_) => vec![inline(v)],
        Value::Number(n) => vec![n.to_string()],
    }
}

/// A nested value on one line: `at 2027-03-29 09:00 · author ana@… · text …`.
fn inline(v: &Value) -> String {
    match v {
        Value::Object(map) => map
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) if is_time_key(k) => {
                        short_time(s).unwrap_or_else(|| s.clone())
                    }
                    Value::String(s) => s.clone(),
                    other => inline(other),
                };
                format!("{} {text}", k.replace('_', " "))
            })
            .collect::<Vec<_>>()
            .join(" · "),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Word-wrap `s` to `w` columns (a word longer than a line is cut).
fn wrap(s: &str, w: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in s.split_whitespace() {
        let word = truncate(word, w);
        let extra = if line.is_empty() { 0 } else { 1 };
        if !line.is_empty() && text_width(&line) + extra + text_width(&word) > w {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// A status report, `key  value` lines with no box: values stay whole (a
/// URL or a path is copied from here), nothing wrapped mid-word in a cell.
/// A value too long for its line goes whole onto the next one, indented,
/// rather than wrapping on the terminal under the keys.
pub fn render_fields(map: &Map<String, Value>, width: usize) -> String {
    let keys = show_order(map, &[]);
    let w = keys.iter().map(|k| k.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for k in keys {
        let text = one_line(&cell_text(map.get(k)));
        let key = k.replace('_', " ");
        if w + GAP.len() + text_width(&text) > width {
            out.push_str(&format!("{key}\n{GAP}{text}\n"));
        } else {
            out.push_str(&format!("{key:<w$}{GAP}{text}\n"));
        }
    }
    out
}

/// One record, field by field: `key  value`, long values wrapped under
/// themselves. Every line fits `width`.
pub fn render_show(map: &Map<String, Value>, cols: &[&str], width: usize, zone: Tz) -> String {
    let keys = show_order(map, cols);
    let key_w = keys
        .iter()
        .map(|k| text_width(k))
        .max()
        .unwrap_or(0)
        .min(24);
    let val_w = width.saturating_sub(key_w + GAP.len()).max(MIN_ELASTIC);
    let mut out = String::new();
    for k in keys {
        let Some(v) = map.get(k) else { continue };
        let label = pad(&truncate(&k.replace('_', " "), key_w), key_w);
        let mut first = true;
        for text in show_lines(k, v, zone) {
            for piece in wrap(&one_line(&text), val_w) {
                let lead = if first {
                    label.clone()
                } else {
                    " ".repeat(key_w)
                };
                first = false;
                out.push_str(format!("{lead}{GAP}{piece}").trim_end());
                out.push('\n');
            }
        }
    }
    out
}

/// A value as `-o wide` and status reports show it; newlines stay (a wide
/// cell holds several lines), nothing that rewrites a terminal does.
pub fn cell_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::Bool(b)) => if *b { "yes" } else { "no" }.into(),
        Some(Value::String(s)) => shown_lines(s).into_owned(),
        Some(other) => shown_lines(&other.to_string()).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_text_is_cut_with_an_ellipsis_to_the_width() {
        assert_eq!(truncate("Bartholomew", 6), "Barth…");
        assert_eq!(truncate("Bo", 6), "Bo");
        assert_eq!(text_width(&truncate("東京都の長い名前です", 7)), 7);
    }

    #[test]
    fn the_widest_elastic_column_gives_way_first() {
        let row = [
            Cell::text(&"n".repeat(30)),
            Cell::text(&"e".repeat(40)),
            Cell::fixed("scheduled"),
        ];
        let w = fit(&[&row], 60);
        assert_eq!(w[2], 9);
        assert!(w.iter().sum::<usize>() + 4 <= 60, "{w:?}");
        assert!(w[0] < 30 && w[1] < 40 && w[0].abs_diff(w[1]) <= 1, "{w:?}");
    }

    #[test]
    fn ids_times_and_counters_are_dropped_before_text_is_cut_short() {
        let id = uuid::Uuid::nil();
        let row = [
            Cell::droppable("01 Dec 2026 23:31", 1),
            Cell::text(&"a".repeat(20)),
            Cell::key("booking.confirmed"),
            Cell::text(&"e".repeat(30)),
            Cell::id(&id),
        ];
        let w = fit(&[&row], 80);
        assert_eq!(w[4], 0, "the id goes first: {w:?}");
        assert_eq!(w[2], 17, "the key column is whole: {w:?}");
        assert!(w[1] >= COMFORTABLE && w[3] >= COMFORTABLE, "{w:?}");
        let line = join(&row, &w, false, false);
        assert!(text_width(&line) <= 80, "{line}");
        assert!(line.contains("booking.confirmed"), "{line}");
    }

    #[test]
    fn the_key_column_is_cut_only_when_nothing_else_can_give() {
        let row = [Cell::text(&"n".repeat(30)), Cell::key(&"k".repeat(40))];
        // room for the key when the text gives all it can
        let w = fit(&[&row], 50);
        assert_eq!(w, vec![8, 40]);
        // and when even that is not enough, the key is cut too
        let w = fit(&[&row], 40);
        assert_eq!(w, vec![MIN_ELASTIC, 40 - 2 - MIN_ELASTIC]);
    }

    #[test]
    fn a_status_value_too_long_for_its_line_goes_whole_onto_the_next() {
        let url = format!("postgres://app@{}.example.com/coachctl", "db".repeat(30));
        let map: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "database": url,
            "state": "up to date",
        }))
        .unwrap();
        let text = render_fields(&map, 80);
        assert!(text.contains(&format!("database\n  {url}\n")), "{text}");
        assert!(text.contains("state     up to date\n"), "{text}");
    }

    #[test]
    fn wrapping_keeps_every_line_within_the_width() {
        let lines = wrap("a few words that go on and on beyond the line", 12);
        assert!(lines.iter().all(|l| text_width(l) <= 12), "{lines:?}");
        assert_eq!(
            lines.join(" "),
            "a few words that go on and on beyond the line"
        );
    }
}
