//! Rendering `member progress` and `coach report`: JSON as one document,
//! CSV as rows of numbers, a table as a short report that fits 80 columns
//! with the weekly numbers as a sparkline.

use std::io::Write;

use serde_json::Value;

use super::Ctx;
use super::output::{self, Format, csv_text};
use crate::domain::text::shown;
use crate::error::Result;
use crate::program::progress::{CoachReport, MemberProgress, sparkline};

/// Cut to `w` characters (an ellipsis marks the cut).
fn fit(s: &str, w: usize) -> String {
    super::table::truncate(&shown(s), w)
}

fn csv_line(values: &[Value]) -> String {
    values
        .iter()
        .map(|v| csv_text(Some(v)))
        .collect::<Vec<_>>()
        .join(",")
}

/// `member progress`.
pub fn member(ctx: &Ctx, tz: chrono_tz::Tz, p: &MemberProgress) -> Result<()> {
    match ctx.global.output {
        Format::Json | Format::Ids => {
            return output::value(ctx, &output::localized(p, tz)?);
        }
        Format::Csv => {
            // One row of numbers; the weeks as columns w1 (oldest) .. w12.
            let mut head = vec![
                "member_email",
                "completed",
                "cancelled",
                "late_cancellations",
                "no_shows",
                "proposals_declined",
                "ratings_given",
                "average_rating",
                "programs",
                "weeks_from",
            ]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>();
            head.extend((1..=p.sessions_per_week.len()).map(|i| format!("w{i}")));
            let mut row = vec![
                Value::from(p.member_email.clone()),
                p.completed.into(),
                p.cancelled.into(),
                p.late_cancellations.into(),
                p.no_shows.into(),
                p.proposals_declined.into(),
                p.ratings_given.into(),
                p.average_rating.map_or(Value::Null, Value::from),
                (p.programs.len() as i64).into(),
                Value::from(p.weeks_from.to_string()),
            ];
            row.extend(p.sessions_per_week.iter().map(|n| Value::from(*n)));
            let mut out = Vec::new();
            writeln!(out, "{}", head.join(","))?;
            writeln!(out, "{}", csv_line(&row))?;
            return output::raw(&String::from_utf8_lossy(&out));
        }
        Format::Table | Format::Wide => {}
    }
    let mut out = Vec::new();
    writeln!(
        out,
        "{} <{}>",
        fit(&p.member_name, 30),
        fit(&p.member_email, 40)
    )?;
    writeln!(
        out,
        "Attendance  {} completed, {} cancelled ({} late), {} no-shows, {} declined",
        p.completed, p.cancelled, p.late_cancellations, p.no_shows, p.proposals_declined
    )?;
    match p.average_rating {
        Some(a) => writeln!(out, "Ratings     {} given, average {a:.2}", p.ratings_given)?,
        None => writeln!(out, "Ratings     none given")?,
    }
    let weekly: Vec<f64> = p.sessions_per_week.iter().map(|n| *n as f64).collect();
    writeln!(
        out,
        "Per week    |{}|  {} weeks from {}, {} sessions",
        sparkline(&weekly),
        p.sessions_per_week.len(),
        p.weeks_from,
        p.sessions_per_week.iter().sum::<i64>()
    )?;
    if p.programs.is_empty() {
        writeln!(out, "Programs    none")?;
    } else {
        writeln!(out, "Programs")?;
        for e in &p.programs {
            let next = e
                .next_session_at
                .map(|t| format!("next {}", crate::domain::dates::moment_now(t, tz)))
                .unwrap_or_default();
            writeln!(
                out,
                "  {:<24} {:<9} {:>3}%  {:>2}/{:<2} done  {}",
                fit(&e.program_name, 24),
                e.status,
                e.percent,
                e.done,
                e.sessions,
                next
            )?;
        }
    }
    output::human(&out)
}

/// `coach report`.
pub fn coach(ctx: &Ctx, tz: chrono_tz::Tz, r: &CoachReport) -> Result<()> {
    match ctx.global.output {
        Format::Json | Format::Ids => {
            return output::value(ctx, &output::localized(r, tz)?);
        }
        Format::Csv => {
            // Members, then weeks, in one table: `row` says which.
            let mut out = Vec::new();
            writeln!(
                out,
                "row,member_email,member_name,held,cancelled,late_cancellations,no_shows,average_rating,program_percent,last_session_at,week,booked_hours,available_hours,utilisation"
            )?;
            for m in &r.members {
                let row = [
                    Value::from("member"),
                    m.member_email.clone().into(),
                    m.member_name.clone().into(),
                    m.held.into(),
                    m.cancelled.into(),
                    m.late_cancellations.into(),
                    m.no_shows.into(),
                    m.average_rating.map_or(Value::Null, Value::from),
                    m.program_percent.map_or(Value::Null, Value::from),
                    m.last_session_at
                        .map_or(Value::Null, |t| t.with_timezone(&tz).to_rfc3339().into()),
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                ];
                writeln!(out, "{}", csv_line(&row))?;
            }
            for w in &r.weeks {
                let row = [
                    Value::from("week"),
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    w.week.to_string().into(),
                    w.booked_hours.into(),
                    w.available_hours.into(),
                    w.utilisation.map_or(Value::Null, Value::from),
                ];
                writeln!(out, "{}", csv_line(&row))?;
            }
            return output::raw(&String::from_utf8_lossy(&out));
        }
        Format::Table | Format::Wide => {}
    }
    let mut out = Vec::new();
    writeln!(
        out,
        "{} <{}>   {} .. {}",
        fit(&r.coach_name, 24),
        fit(&r.coach_email, 30),
        r.from,
        r.to
    )?;
    writeln!(
        out,
        "\n{:<24} {:>4} {:>4} {:>4} {:>4} {:>6} {:>4}  {:<16}",
        "MEMBER", "HELD", "CNCL", "LATE", "MISS", "RATING", "PROG", "LAST SESSION"
    )?;
    if r.members.is_empty() {
        writeln!(out, "  (no members)")?;
    }
    for m in &r.members {
        writeln!(
            out,
            "{:<24} {:>4} {:>4} {:>4} {:>4} {:>6} {:>4}  {:<16}",
            fit(&m.member_email, 24),
            m.held,
            m.cancelled,
            m.late_cancellations,
            m.no_shows,
            m.average_rating
                .map(|a| format!("{a:.2}"))
                .unwrap_or_else(|| "-".into()),
            m.program_percent
                .map(|p| format!("{p}%"))
                .unwrap_or_else(|| "-".into()),
            m.last_session_at
                .map(|t| super::table::day_time(t.with_timezone(&tz)))
                .unwrap_or_else(|| "-".into()),
        )?;
    }
    let ratios: Vec<f64> = r
        .weeks
        .iter()
        .map(|w| w.utilisation.unwrap_or(0.0))
        .collect();
    let booked: f64 = r.weeks.iter().map(|w| w.booked_hours).sum();
    let available: f64 = r.weeks.iter().map(|w| w.available_hours).sum();
    // At most 36 weeks fit 80 columns; a longer report shows its last 36.
    let shown_weeks = &ratios[ratios.len().saturating_sub(36)..];
    writeln!(
        out,
        "\nUtilisation |{}|  {:.1} of {:.1} h booked{}",
        sparkline(shown_weeks),
        booked,
        available,
        if available > 0.0 {
            format!(" ({:.0}%)", booked / available * 100.0)
        } else {
            String::new()
        }
    )?;
    output::human(&out)
}
