//! Sessions as calendar events (RFC 5545): the `session export --ics` feed
//! and the attachment of session emails. CRLF line ends, lines folded at 75
//! octets, text escaped; one stable UID per session and its SEQUENCE, so a
//! calendar updates the event instead of adding another.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::actor::Actor;
use crate::error::Result;
use crate::session::{self, Filter};

/// One session as a calendar event.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: Uuid,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub sequence: i32,
    /// The session's status: scheduled, proposed, completed, cancelled, ...
    pub status: String,
    pub coach_name: String,
    pub coach_email: String,
    pub member_name: String,
    pub member_email: String,
}

impl Event {
    fn lines(&self, stamp: DateTime<Utc>) -> Vec<String> {
        let (status, partstat) = match self.status.as_str() {
            "proposed" => ("TENTATIVE", "NEEDS-ACTION"),
            "scheduled" | "completed" => ("CONFIRMED", "ACCEPTED"),
            _ => ("CANCELLED", "DECLINED"),
        };
        vec![
            "BEGIN:VEVENT".into(),
            format!("UID:{}@coachctl", self.id),
            format!("SEQUENCE:{}", self.sequence),
            format!("DTSTAMP:{}", utc(stamp)),
            format!("DTSTART:{}", utc(self.start)),
            format!("DTEND:{}", utc(self.end)),
            format!(
                "SUMMARY:{}",
                escape(&format!(
                    "Coaching session: {} and {}",
                    self.coach_name, self.member_name
                ))
            ),
            format!(
                "DESCRIPTION:{}",
                escape(&format!("See it with: coachctl session show {}", self.id))
            ),
            "CATEGORIES:Coaching Session".into(),
            format!("STATUS:{status}"),
            format!(
                "ORGANIZER;CN={}:mailto:{}",
                param(&self.coach_name),
                self.coach_email
            ),
            format!(
                "ATTENDEE;CN={};ROLE=REQ-PARTICIPANT;PARTSTAT={partstat}:mailto:{}",
                param(&self.member_name),
                self.member_email
            ),
            "END:VEVENT".into(),
        ]
    }
}

/// A VCALENDAR of `events` with `method` (PUBLISH for a feed, REQUEST or
/// CANCEL for an email).
pub fn calendar(method: &str, events: &[Event]) -> String {
    let stamp = Utc::now();
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_string(),
        "VERSION:2.0".into(),
        "PRODID:-//coachctl//coachctl//EN".into(),
        "CALSCALE:GREGORIAN".into(),
        format!("METHOD:{method}"),
    ];
    for e in events {
        lines.extend(e.lines(stamp));
    }
    lines.push("END:VCALENDAR".into());
    lines.iter().map(|l| fold(l)).collect()
}

/// `session export --ics`: the sessions `session list` would show the
/// actor, as an iCalendar feed.
pub async fn feed(pool: &PgPool, actor: &Actor, filter: &Filter) -> Result<String> {
    let sessions = session::list(pool, actor, filter).await?;
    let mut ids: Vec<Uuid> = sessions
        .iter()
        .flat_map(|s| [s.coach_id, s.member_id])
        .collect();
    ids.sort();
    ids.dedup();
    let names: std::collections::HashMap<Uuid, String> =
        sqlx::query_as::<_, (Uuid, String)>("SELECT id, name FROM users WHERE id = ANY($1)")
            .bind(&ids)
            .fetch_all(pool)
            .await?
            .into_iter()
            .collect();
    let name = |id: Uuid, email: &str| names.get(&id).cloned().unwrap_or_else(|| email.into());
    let events: Vec<Event> = sessions
        .iter()
        .map(|s| Event {
            id: s.id,
            start: s.start,
            end: s.end,
            sequence: s.sequence,
            status: s.status.to_string(),
            coach_name: name(s.coach_id, &s.coach_email),
            coach_email: s.coach_email.clone(),
            member_name: name(s.member_id, &s.member_email),
            member_email: s.member_email.clone(),
        })
        .collect();
    Ok(calendar("PUBLISH", &events))
}

fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// TEXT value escaping of RFC 5545 3.3.11.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A parameter value: quoted, without the characters it may not hold.
fn param(s: &str) -> String {
    let clean: String = s.chars().filter(|c| *c != '"' && !c.is_control()).collect();
    format!("\"{clean}\"")
}

/// One content line, folded at 75 octets (never inside a UTF-8 sequence),
/// ending in CRLF. Every line passes here: a control, bidirectional or
/// invisible character stored in a name or an email is left out (a
/// newline of a TEXT value is `\n` by now).
pub fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut width = 0;
    for c in line
        .chars()
        .filter(|c| !crate::domain::text::is_unfit_to_show(*c))
    {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_lines_never_pass_75_octets_and_unfold_to_the_original() {
        let line = format!("SUMMARY:{}", "Zoë Ångström, ☕ ".repeat(20));
        let folded = fold(&line);
        for l in folded.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(l.len() <= 75, "{} octets: {l}", l.len());
        }
        assert_eq!(folded.replace("\r\n ", "").trim_end_matches("\r\n"), line);
    }

    #[test]
    fn text_escaping_covers_backslash_semicolon_comma_and_newline() {
        assert_eq!(escape("a\\b;c,d\ne"), "a\\\\b\\;c\\,d\\ne");
    }
}
