//! What an outbox message says: subject and plain-text body in the
//! recipient's own time zone, and the calendar attachment of session
//! notices (see [`crate::calendar`]).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use uuid::Uuid;

use crate::domain::dates::{moment as when, span};

/// The payload a trigger stored with the notice (migration 000006).
#[derive(Debug, Clone, Deserialize, Default)]
pub struct Payload {
    pub session_id: Option<Uuid>,
    pub booking_id: Option<Uuid>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub sequence: Option<i32>,
    pub reason: Option<String>,
    pub coach_name: Option<String>,
    pub coach_email: Option<String>,
    pub member_name: Option<String>,
    pub member_email: Option<String>,
    /// Relationship notices: who acted, what they wrote, about what.
    pub from_name: Option<String>,
    pub text: Option<String>,
    pub area: Option<String>,
    pub status: Option<String>,
    /// Program notices: the enrolment, its program and every session.
    pub enrolment_id: Option<Uuid>,
    pub program_name: Option<String>,
    pub sessions: Option<Vec<SeriesSession>>,
    /// Insight notices.
    pub insight_id: Option<Uuid>,
    pub title: Option<String>,
}

/// One session of a series notice.
#[derive(Debug, Clone, Deserialize)]
pub struct SeriesSession {
    pub session_id: Uuid,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub sequence: i32,
    pub status: String,
}

/// The recipient, as the message addresses them.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub email: String,
    pub name: String,
    pub tz: Tz,
}

/// What every message of one run shares: how people reach the
/// organisation, and the year dates are read in.
#[derive(Debug, Clone)]
pub struct House {
    /// Named in every message as the way to act on it (`--contact`), else
    /// "reply to this email".
    pub contact: Option<String>,
    /// Dates of this year are written without it.
    pub now: DateTime<Utc>,
}

impl House {
    /// What a person who does not run coachctl does: "reply to this email".
    fn reach(&self) -> String {
        match self
            .contact
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            Some(c) => format!("contact {c}"),
            None => "reply to this email".into(),
        }
    }
}

/// A message ready to send.
#[derive(Debug, Clone)]
pub struct Email {
    pub subject: String,
    pub body: String,
    /// (METHOD, the iCalendar text) for session notices.
    pub calendar: Option<(&'static str, String)>,
}

/// Compose the message of one notice for one recipient.
pub fn compose(event: &str, p: &Payload, to: &Recipient, house: &House) -> Email {
    let now = house.now;
    let reach = house.reach();
    let coach = p.coach_name.clone().unwrap_or_else(|| "your coach".into());
    let member = p
        .member_name
        .clone()
        .unwrap_or_else(|| "your member".into());
    let to_coach = p.coach_email.as_deref() == Some(to.email.as_str());
    // the other party, as the recipient sees it
    let other = if to_coach { &member } else { &coach };
    let at = match (p.start, p.end) {
        (Some(s), Some(e)) => span(s, e, to.tz, now),
        (Some(s), None) => when(s, to.tz, now),
        _ => String::new(),
    };
    let id = p.session_id.map(|i| i.to_string()).unwrap_or_default();
    let (subject, lead) = match event {
        "session.confirmed" => (
            format!("Session with {other} confirmed: {at}"),
            format!("Your session with {other} is booked."),
        ),
        "session.proposed" if to_coach => (
            format!("Session proposed to {member}: {at}"),
            format!("You proposed a session to {member}; they are asked to accept it."),
        ),
        "session.proposed" => (
            format!("{coach} proposes a session: {at}"),
            format!(
                "{coach} proposes a session. To accept or decline it, {reach}. \
                 With coachctl: `coachctl session accept {id}` or `coachctl session decline {id}`."
            ),
        ),
        "session.accepted" => (
            format!("{member} accepted the session: {at}"),
            format!("{member} accepted the session you proposed."),
        ),
        "session.declined" => (
            format!("{member} declined the session: {at}"),
            format!("{member} declined the session you proposed."),
        ),
        "session.rescheduled" => (
            format!("Session with {other} moved: {at}"),
            format!("Your session with {other} has a new time."),
        ),
        "session.cancelled" => (
            format!("Session with {other} cancelled: {at}"),
            format!("Your session with {other} is cancelled."),
        ),
        "session.completed" if to_coach => (
            format!("Session with {member} completed: {at}"),
            format!("Your session with {member} is recorded as completed."),
        ),
        "session.completed" => (
            format!("How was your session with {coach}? {at}"),
            format!(
                "Your session with {coach} is complete. How was it, from 1 to 5? To tell \
                 {coach}, {reach}. With coachctl: \
                 `coachctl session rate {id} --rating 5 --feedback \"...\"`."
            ),
        ),
        "booking.rejected" => (
            format!("Booking with {coach} not possible: {at}"),
            format!(
                "Your booking could not be made; please choose another time: {reach}, \
                 or see the free times with `coachctl slots`."
            ),
        ),
        "member.assigned" => (
            format!("New member: {member}"),
            format!(
                "{member} ({}) is now assigned to you.",
                p.member_email.as_deref().unwrap_or("")
            ),
        ),
        "reminder.24h" => (
            format!("Reminder: session with {other} {at}"),
            format!("Your session with {other} is within a day."),
        ),
        "reminder.1h" => (
            format!("Starting soon: session with {other} {at}"),
            format!("Your session with {other} starts within the hour."),
        ),
        "connection.requested" => {
            let from = p.from_name.clone().unwrap_or_else(|| "Someone".into());
            (
                format!("{from} asks to connect"),
                format!(
                    "{from} asks to connect with you{}.{} To answer, {reach}. With coachctl: \
                     `coachctl connect list` and `coachctl connect respond <id> --accept` (or --decline).",
                    p.area
                        .as_deref()
                        .map(|a| format!(" about {a}"))
                        .unwrap_or_default(),
                    p.text
                        .as_deref()
                        .map(|t| format!("\n\n  \"{t}\"\n"))
                        .unwrap_or_default()
                ),
            )
        }
        "connection.answered" => {
            let from = p.from_name.clone().unwrap_or_else(|| "They".into());
            let status = p.status.clone().unwrap_or_else(|| "answered".into());
            (
                format!("{from} {status} your connection request"),
                format!("{from} {status} your connection request."),
            )
        }
        "message" => {
            let from = p.from_name.clone().unwrap_or_else(|| "Someone".into());
            (
                format!("New message from {from}"),
                format!(
                    "{from} wrote:\n\n  {}\n\nTo answer, {reach}. With coachctl: \
                     `coachctl message send --to <them> --text ...`; the conversation: `coachctl message list`.",
                    p.text.as_deref().unwrap_or("").replace('\n', "\n  ")
                ),
            )
        }
        "invitation" => (
            format!("{coach} invites you to coachctl"),
            format!(
                "{coach} invited you as a member. To join, use the code {coach} gave you (it is \
                 never sent by email or stored): {reach}, or run `coachctl invite accept <code>`."
            ),
        ),
        ev if ev.starts_with("program.") => {
            let program = p.program_name.clone().unwrap_or_else(|| "a program".into());
            let eid = p.enrolment_id.map(|i| i.to_string()).unwrap_or_default();
            let n = p.sessions.as_ref().map_or(0, Vec::len);
            let first = p
                .sessions
                .as_ref()
                .and_then(|s| s.iter().map(|x| x.start).min())
                .map(|t| when(t, to.tz, now))
                .unwrap_or_default();
            match ev {
                "program.proposed" if to_coach => (
                    format!("Program {program} proposed to {member}"),
                    format!(
                        "You proposed {program} to {member}: {n} sessions from {first}; they are asked to accept it."
                    ),
                ),
                "program.proposed" => (
                    format!("{coach} proposes the program {program}"),
                    format!(
                        "{coach} proposes {program}: {n} sessions from {first}. To accept or decline the \
                         whole series, {reach}. With coachctl: `coachctl program accept {eid}` or \
                         `coachctl program decline {eid}`."
                    ),
                ),
                "program.assigned" => (
                    format!("Program {program} with {other}: {n} sessions"),
                    format!("{program} with {other} is booked: {n} sessions from {first}."),
                ),
                "program.accepted" => (
                    format!("{member} accepted the program {program}"),
                    format!("{member} accepted {program}: {n} sessions from {first}."),
                ),
                "program.declined" => (
                    format!("{member} declined the program {program}"),
                    format!("{member} declined {program}; its seats are free again."),
                ),
                "program.adjusted" => (
                    format!("Program {program} with {other} changed"),
                    format!("The sessions of {program} with {other} have new times."),
                ),
                "program.cancelled" => (
                    format!("Program {program} with {other} cancelled"),
                    format!(
                        "{program} with {other} is cancelled; its remaining sessions are free again."
                    ),
                ),
                "program.completed" => (
                    format!("Program {program} completed"),
                    format!("{program} with {other} is complete: well done."),
                ),
                _ => (
                    format!("coachctl: {ev}"),
                    format!("Something happened: {ev}."),
                ),
            }
        }
        "insight" => (
            format!(
                "{coach} shares an insight: {}",
                p.title.as_deref().unwrap_or("")
            ),
            format!(
                "{coach} wrote ({}):\n\n  {}\n\nTo answer, {reach}. With coachctl: \
                 `coachctl insight ack {} --response \"...\"`.",
                p.status.as_deref().unwrap_or("insight"),
                p.text.as_deref().unwrap_or("").replace('\n', "\n  "),
                p.insight_id.map(|i| i.to_string()).unwrap_or_default()
            ),
        ),
        other_event => (
            format!("coachctl: {other_event}"),
            format!("Something happened: {other_event}."),
        ),
    };
    let mut body = format!("Hello {},\n\n{lead}\n", to.name);
    if p.start.is_some() {
        body.push_str(&format!("\nWhen:  {at}\n"));
        if p.end.is_some() {
            body.push_str(&format!("Who:   {coach} (coach), {member} (member)\n"));
        }
    }
    if let Some(reason) = p.reason.as_deref().filter(|r| !r.is_empty()) {
        body.push_str(&format!("Why:   {reason}\n"));
    }
    if p.session_id.is_some() {
        let open = !matches!(
            event,
            "session.cancelled" | "session.completed" | "session.declined"
        );
        if open {
            body.push_str(&format!("\nTo change or cancel it, {reach}.\n"));
        }
        body.push_str(&format!("\nWith coachctl:\n  coachctl session show {id}\n"));
        if open {
            body.push_str(&format!(
                "  coachctl session cancel {id} --reason \"...\"\n"
            ));
        }
    }
    if let (Some(eid), Some(sessions)) = (p.enrolment_id, p.sessions.as_ref()) {
        body.push_str("\nSessions:\n");
        for x in sessions {
            body.push_str(&format!(
                "  {}  {}\n",
                span(x.start, x.end, to.tz, now),
                x.status
            ));
        }
        body.push_str(&format!(
            "\nWith coachctl:\n  coachctl program show {eid}\n"
        ));
    }
    body.push_str("\n-- \ncoachctl\n");
    let method = match event {
        // a reminder carries the event again, unchanged (same UID and
        // SEQUENCE), so it can be added from the reminder alone
        "session.confirmed"
        | "session.rescheduled"
        | "session.proposed"
        | "session.accepted"
        | "reminder.24h"
        | "reminder.1h" => Some("REQUEST"),
        "session.cancelled" => Some("CANCEL"),
        _ => None,
    };
    let series_method = match event {
        "program.proposed" | "program.assigned" | "program.accepted" | "program.adjusted" => {
            Some("REQUEST")
        }
        "program.cancelled" | "program.declined" => Some("CANCEL"),
        _ => None,
    };
    let calendar = match series_method {
        Some(m) => series_ics(m, p).map(|ics| (m, ics)),
        None => method.and_then(|m| Some((m, event_ics(m, event, p)?))),
    };
    // Names and texts were stored by others: nothing in them may reach a
    // mail reader's screen as a control, bidirectional or invisible character.
    Email {
        subject: crate::domain::text::shown(&subject).into_owned(),
        body: crate::domain::text::shown_lines(&body).into_owned(),
        calendar,
    }
}

/// The session as a calendar event, wrapped in a VCALENDAR with `method`.
fn event_ics(method: &str, event: &str, p: &Payload) -> Option<String> {
    let status = match (event, method) {
        (_, "CANCEL") => "cancelled",
        ("session.proposed", _) => "proposed",
        _ => "scheduled",
    };
    let e = crate::calendar::Event {
        id: p.session_id?,
        start: p.start?,
        end: p.end?,
        sequence: p.sequence.unwrap_or(0),
        status: status.into(),
        coach_name: p.coach_name.clone().unwrap_or_default(),
        coach_email: p.coach_email.clone().unwrap_or_default(),
        member_name: p.member_name.clone().unwrap_or_default(),
        member_email: p.member_email.clone().unwrap_or_default(),
    };
    Some(crate::calendar::calendar(method, &[e]))
}

/// Every session of a series as events of one VCALENDAR (a CANCEL lists
/// the ones it cancels).
fn series_ics(method: &str, p: &Payload) -> Option<String> {
    let events: Vec<crate::calendar::Event> = p
        .sessions
        .as_ref()?
        .iter()
        .filter(|x| method != "CANCEL" || matches!(x.status.as_str(), "cancelled" | "declined"))
        .map(|x| crate::calendar::Event {
            id: x.session_id,
            start: x.start,
            end: x.end,
            sequence: x.sequence,
            status: x.status.clone(),
            coach_name: p.coach_name.clone().unwrap_or_default(),
            coach_email: p.coach_email.clone().unwrap_or_default(),
            member_name: p.member_name.clone().unwrap_or_default(),
            member_email: p.member_email.clone().unwrap_or_default(),
        })
        .collect();
    (!events.is_empty()).then(|| crate::calendar::calendar(method, &events))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_names_the_other_party_and_the_local_time() {
        let p = Payload {
            session_id: Some(Uuid::nil()),
            start: "2027-03-29T07:00:00Z".parse().ok(),
            end: "2027-03-29T08:00:00Z".parse().ok(),
            coach_name: Some("Ana Coach".into()),
            coach_email: Some("ana@example.com".into()),
            member_name: Some("Bo Member".into()),
            member_email: Some("bo@example.com".into()),
            ..Payload::default()
        };
        let to = Recipient {
            email: "bo@example.com".into(),
            name: "Bo Member".into(),
            tz: chrono_tz::Europe::Berlin,
        };
        let house = House {
            contact: None,
            now: "2026-12-07T12:00:00Z".parse().unwrap(),
        };
        let e = compose("session.confirmed", &p, &to, &house);
        assert_eq!(
            e.subject,
            "Session with Ana Coach confirmed: Mon 29 Mar 2027, 09:00–10:00 CEST"
        );
        assert!(
            e.body
                .contains("When:  Mon 29 Mar 2027, 09:00–10:00 CEST\n"),
            "{}",
            e.body
        );
        assert!(e.body.contains("reply to this email"), "{}", e.body);
        assert!(e.body.contains("coachctl session show 00000000-"));
        let (method, ics) = e.calendar.expect("a calendar attachment");
        assert_eq!(method, "REQUEST");
        assert!(ics.contains("DTSTART:20270329T070000Z\r\n"));
    }

    #[test]
    fn stored_control_and_bidi_characters_never_reach_a_subject_body_or_attachment() {
        let hostile = "Ana\u{1b}]52;c;eA==\u{7}\u{202e}live\u{200b}\u{9b}2J\r\nBcc: x";
        let p = Payload {
            session_id: Some(Uuid::nil()),
            start: "2027-03-29T07:00:00Z".parse().ok(),
            end: "2027-03-29T08:00:00Z".parse().ok(),
            coach_name: Some(hostile.into()),
            coach_email: Some("ana@example.com".into()),
            member_name: Some(hostile.into()),
            member_email: Some("bo@example.com".into()),
            from_name: Some(hostile.into()),
            text: Some(hostile.into()),
            reason: Some(hostile.into()),
            ..Payload::default()
        };
        let to = Recipient {
            email: "bo@example.com".into(),
            name: hostile.into(),
            tz: chrono_tz::UTC,
        };
        let unfit = crate::domain::text::is_unfit_to_show;
        for event in [
            "session.confirmed",
            "session.cancelled",
            "message",
            "connection.requested",
        ] {
            let house = House {
                contact: Some(hostile.into()),
                now: Utc::now(),
            };
            let e = compose(event, &p, &to, &house);
            assert!(!e.subject.chars().any(unfit), "{event}: {:?}", e.subject);
            assert!(e.subject.contains("live"), "{event}: {:?}", e.subject);
            assert!(
                !e.body.chars().any(|c| c != '\n' && unfit(c)),
                "{event}: {:?}",
                e.body
            );
            if let Some((_, ics)) = e.calendar {
                let bare = ics.replace("\r\n", "");
                assert!(!bare.chars().any(unfit), "{event}: {ics:?}");
                assert!(bare.contains("live"), "{event}: {ics:?}");
            }
        }
    }
}

#[cfg(test)]
mod house_tests {
    use super::*;

    fn bo() -> Recipient {
        Recipient {
            email: "bo@example.com".into(),
            name: "Bo Member".into(),
            tz: chrono_tz::America::New_York,
        }
    }

    fn session(start: &str, end: &str) -> Payload {
        Payload {
            session_id: Some(Uuid::nil()),
            start: start.parse().ok(),
            end: end.parse().ok(),
            coach_name: Some("Ana Coach".into()),
            coach_email: Some("ana@example.com".into()),
            member_name: Some("Bo Member".into()),
            member_email: Some("bo@example.com".into()),
            ..Payload::default()
        }
    }

    fn house(contact: Option<&str>) -> House {
        House {
            contact: contact.map(String::from),
            now: "2026-12-07T12:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn dates_of_this_year_go_without_it_and_others_with_it() {
        let p = session("2026-12-14T14:00:00Z", "2026-12-14T15:00:00Z");
        let e = compose("session.confirmed", &p, &bo(), &house(None));
        assert!(
            e.subject.ends_with("Mon 14 Dec, 09:00–10:00 EST"),
            "{}",
            e.subject
        );
        let p = session("2027-01-04T14:00:00Z", "2027-01-04T15:00:00Z");
        let e = compose("session.confirmed", &p, &bo(), &house(None));
        assert!(
            e.subject.ends_with("Mon 4 Jan 2027, 09:00–10:00 EST"),
            "{}",
            e.subject
        );
    }

    #[test]
    fn reminders_carry_the_calendar_event_too() {
        let p = session("2026-12-14T14:00:00Z", "2026-12-14T15:00:00Z");
        for event in ["reminder.24h", "reminder.1h"] {
            let e = compose(event, &p, &bo(), &house(None));
            let (method, ics) = e.calendar.expect("a calendar attachment");
            assert_eq!(method, "REQUEST");
            assert!(ics.contains("DTSTART:20261214T140000Z"), "{ics}");
        }
    }

    #[test]
    fn a_member_is_told_how_to_act_without_the_cli_and_the_command_is_kept() {
        let p = session("2026-12-14T14:00:00Z", "2026-12-14T15:00:00Z");
        let e = compose(
            "session.proposed",
            &p,
            &bo(),
            &house(Some("desk@gym.example")),
        );
        assert!(e.body.contains("contact desk@gym.example"), "{}", e.body);
        assert!(e.body.contains("coachctl session accept"), "{}", e.body);
        let e = compose("session.confirmed", &p, &bo(), &house(None));
        assert!(
            e.body
                .contains("To change or cancel it, reply to this email."),
            "{}",
            e.body
        );
        assert!(e.body.contains("coachctl session cancel"), "{}", e.body);
    }
}
