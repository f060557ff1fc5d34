//! Rendering the dashboards: JSON as one document, a table as a short
//! report that reads well at 80 columns (times in the display zone, named
//! once).

use std::io::Write;

use super::Ctx;
use super::output::{self, Format};
use super::table::truncate;
use crate::dashboard::{CoachDashboard, MemberDashboard};
use crate::error::Result;
use crate::session::Session;

/// A session by the other party's name, as `session list` reads.
fn agenda_line(s: &Session, tz: chrono_tz::Tz, with: &str) -> String {
    agenda_row(
        s.start.with_timezone(&tz),
        s.end.with_timezone(&tz),
        with,
        // to_string: the status's Display ignores the width
        &s.status.to_string(),
        &s.id.to_string()[..8],
    )
}

fn agenda_row(
    start: chrono::DateTime<chrono_tz::Tz>,
    end: chrono::DateTime<chrono_tz::Tz>,
    with: &str,
    status: &str,
    id: &str,
) -> String {
    format!(
        "  {}  {}–{}  {:<24} {:<10} {}",
        start.format("%a %e %b"),
        start.format("%H:%M"),
        end.format("%H:%M"),
        // cut, not wrapped: the row keeps its time, status and id
        truncate(with, 24),
        status,
        id
    )
}

/// "1 pending proposal", "2 pending proposals".
fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn json_or(ctx: &Ctx, tz: chrono_tz::Tz, item: &impl serde::Serialize) -> Result<bool> {
    if matches!(ctx.global.output, Format::Table | Format::Wide) {
        return Ok(false);
    }
    let v = output::localized(item, tz)?;
    output::value(ctx, &v)?;
    Ok(true)
}

/// `member dashboard`.
pub fn member(ctx: &Ctx, tz: chrono_tz::Tz, d: &MemberDashboard) -> Result<()> {
    if json_or(ctx, tz, d)? {
        return Ok(());
    }
    // Written whole, then shown once: names were stored by others.
    let mut out = Vec::new();
    writeln!(out, "{} <{}>   times in {}", d.name, d.email, tz.name())?;
    match &d.next_session {
        Some(n) => writeln!(
            out,
            "Next session {}: {} with {}",
            n.countdown,
            crate::domain::dates::moment_now(n.session.start, tz),
            n.session.coach_name
        )?,
        None => writeln!(out, "No upcoming sessions.")?,
    }
    if !d.upcoming.is_empty() {
        writeln!(out, "\nUpcoming")?;
        for s in &d.upcoming {
            writeln!(out, "{}", agenda_line(s, tz, &s.coach_name))?;
        }
    }
    match &d.coach {
        Some(c) => writeln!(
            out,
            "\nCoach: {} <{}>\n  message them: {}",
            c.name, c.email, c.message_hint
        )?,
        None => writeln!(out, "\nNo coach yet; an admin assigns one.")?,
    }
    if let Some(hint) = &d.book_hint {
        writeln!(out, "\nBook a session:\n  {hint}")?;
    }
    if d.late_cancels + d.no_shows > 0 {
        writeln!(
            out,
            "\n{}, {}",
            count(d.late_cancels as usize, "late cancellation"),
            count(d.no_shows as usize, "no-show")
        )?;
    }
    output::human(&out)
}

/// `coach dashboard`.
pub fn coach(ctx: &Ctx, tz: chrono_tz::Tz, d: &CoachDashboard) -> Result<()> {
    if json_or(ctx, tz, d)? {
        return Ok(());
    }
    // Written whole, then shown once: names were stored by others.
    let mut out = Vec::new();
    writeln!(
        out,
        "{} <{}>   times in {}\n{}, {}",
        d.name,
        d.email,
        tz.name(),
        count(d.active_members as usize, "active member"),
        count(d.pending_proposals.len(), "pending proposal")
    )?;
    if d.late_cancels_30d + d.no_shows_30d > 0 {
        writeln!(
            out,
            "Last 30 days: {}, {}",
            count(d.late_cancels_30d as usize, "late cancellation"),
            count(d.no_shows_30d as usize, "no-show")
        )?;
    }
    for (title, list) in [
        ("Today", &d.today),
        ("Rest of this week", &d.this_week),
        ("Waiting for the member's answer", &d.pending_proposals),
    ] {
        writeln!(out, "\n{title}")?;
        if list.is_empty() {
            writeln!(out, "  (none)")?;
        }
        for s in list {
            writeln!(out, "{}", agenda_line(s, tz, &s.member_name))?;
        }
    }
    writeln!(out, "\nRecent member activity")?;
    if d.recent_activity.is_empty() {
        writeln!(out, "  (none)")?;
    }
    for a in &d.recent_activity {
        writeln!(
            out,
            "  {}  {:<28} {}",
            super::table::day_time(a.at.with_timezone(&tz)),
            truncate(&a.member_email, 28),
            a.action
        )?;
    }
    output::human(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_member_name_is_cut_so_the_agenda_row_stays_within_80_columns() {
        use chrono::TimeZone;
        let start = chrono_tz::UTC
            .with_ymd_and_hms(2030, 3, 4, 9, 0, 0)
            .unwrap();
        let end = chrono_tz::UTC
            .with_ymd_and_hms(2030, 3, 4, 10, 0, 0)
            .unwrap();
        let name = "Bartholomew ".repeat(6);
        let line = agenda_row(start, end, &name, "scheduled", "6c1f4a9e");
        assert!(line.chars().count() <= 80, "{line}");
        assert!(line.contains("Bartholomew Bartholomew…"), "{line}");
        assert!(line.ends_with("scheduled  6c1f4a9e"), "{line}");
    }
}
