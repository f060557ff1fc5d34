//! Progress (seed 004): `member progress` (attendance, ratings, programs,
//! sessions a week) and `coach report` (one row per member and the coach's
//! utilisation a week). Every number is computed as of a given instant, so
//! tests pin the clock.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgPool};

use super::series::{ENROLMENT_SELECT, Enrolment};
use crate::actor::Actor;
use crate::coach;
use crate::domain::{Role, UserId, UserRef};
use crate::error::{Error, Result};
use crate::member;

/// Weeks of history in `member progress`.
pub const WEEKS: i64 = 12;

/// `member progress [M]`.
#[derive(Debug, Clone, Serialize)]
pub struct MemberProgress {
    pub member_email: String,
    pub member_name: String,
    pub completed: i64,
    pub cancelled: i64,
    /// Cancelled by the member inside the coach's cancellation notice
    /// (as recorded when cancelled).
    pub late_cancellations: i64,
    /// Sessions the coach recorded the member missing.
    pub no_shows: i64,
    pub proposals_declined: i64,
    pub ratings_given: i64,
    pub average_rating: Option<f64>,
    pub programs: Vec<Enrolment>,
    /// Sessions held or booked in each of the last 12 weeks (Monday first,
    /// oldest first), as `weeks_from` says.
    pub sessions_per_week: Vec<i64>,
    pub weeks_from: NaiveDate,
}

#[derive(FromRow)]
struct Attendance {
    completed: i64,
    cancelled: i64,
    late: i64,
    no_shows: i64,
    declined: i64,
    ratings: i64,
    average: Option<f64>,
}

/// The Monday of the week of `d`.
pub fn monday_of(d: NaiveDate) -> NaiveDate {
    d - Duration::days(i64::from(d.weekday().num_days_from_monday()))
}

/// `member progress [M]` as of `now`: the member themself, their coach
/// (assigned or connected), an admin.
pub async fn member_progress(
    pool: &PgPool,
    actor: &Actor,
    who: Option<&UserRef>,
    now: DateTime<Utc>,
) -> Result<MemberProgress> {
    let mut conn = pool.acquire().await?;
    let m = match (who, actor.role()) {
        (Some(r), _) => member::find(&mut conn, actor, r).await?,
        (None, Role::Member) => {
            let me = actor
                .id()
                .ok_or_else(|| Error::Internal("a member actor without an id".into()))?;
            member::fetch(&mut conn, me).await?
        }
        (None, _) => return Err(Error::invalid("name the member: member progress M")),
    };
    if actor.role() == Role::Member && !actor.is(UserId::from_uuid(m.id)) {
        return Err(Error::forbidden(format!(
            "{} may only read their own progress",
            actor.label()
        )));
    }
    // A coach reads the sessions they had with the member, not another coach's.
    let coach_only = actor.as_coach().map(|c| c.as_uuid());
    let a: Attendance = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE s.status = 'completed') AS completed,
                count(*) FILTER (WHERE s.status = 'cancelled') AS cancelled,
                count(*) FILTER (WHERE s.late_cancel) AS late,
                count(*) FILTER (WHERE s.no_show_at IS NOT NULL) AS no_shows,
                count(*) FILTER (WHERE s.status = 'declined') AS declined,
                (SELECT count(*) FROM session_ratings r WHERE r.member_id = $1
                   AND ($2::uuid IS NULL OR r.coach_id = $2)) AS ratings,
                (SELECT avg(r.rating)::float8 FROM session_ratings r WHERE r.member_id = $1
                   AND ($2::uuid IS NULL OR r.coach_id = $2)) AS average
         FROM sessions s WHERE s.member_id = $1 AND ($2::uuid IS NULL OR s.coach_id = $2)
           -- what has happened: a cancellation counts once made
           AND least(s.starts_at, s.cancelled_at) <= $3",
    )
    .bind(m.id)
    .bind(coach_only)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    let weeks_from = monday_of(now.date_naive()) - Duration::weeks(WEEKS - 1);
    let counts: Vec<(NaiveDate, i64)> = sqlx::query_as(
        "SELECT w::date, count(s.id)
         FROM generate_series($3::date::timestamp, $3::date + ($4 - 1) * interval '1 week',
                              interval '1 week') AS w
         LEFT JOIN sessions s ON s.member_id = $1 AND ($2::uuid IS NULL OR s.coach_id = $2)
              AND s.status IN ('completed', 'scheduled')
              AND s.starts_at >= (w AT TIME ZONE 'UTC')
              AND s.starts_at < ((w + interval '1 week') AT TIME ZONE 'UTC')
         GROUP BY w ORDER BY w",
    )
    .bind(m.id)
    .bind(coach_only)
    .bind(weeks_from)
    .bind(WEEKS as i32)
    .fetch_all(&mut *conn)
    .await?;
    let sql = format!(
        "{ENROLMENT_SELECT} WHERE e.member_id = $1 AND ($2::uuid IS NULL OR e.coach_id = $2)
         ORDER BY e.created_at, e.id"
    );
    let programs: Vec<Enrolment> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(m.id)
        .bind(coach_only)
        .fetch_all(&mut *conn)
        .await?;
    Ok(MemberProgress {
        member_email: m.email,
        member_name: m.name,
        completed: a.completed,
        cancelled: a.cancelled,
        late_cancellations: a.late,
        no_shows: a.no_shows,
        proposals_declined: a.declined,
        ratings_given: a.ratings,
        average_rating: a.average.map(|x| (x * 100.0).round() / 100.0),
        programs,
        sessions_per_week: counts.into_iter().map(|(_, n)| n).collect(),
        weeks_from,
    })
}

/// One member's row of `coach report`.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct ReportRow {
    pub member_email: String,
    pub member_name: String,
    pub held: i64,
    pub cancelled: i64,
    /// Of those cancelled, by the member inside the cancellation notice.
    pub late_cancellations: i64,
    pub no_shows: i64,
    pub average_rating: Option<f64>,
    /// Mean percent complete of the member's programs with this coach.
    pub program_percent: Option<i64>,
    pub last_session_at: Option<DateTime<Utc>>,
}

/// The coach's utilisation in one week: booked over available hours.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Week {
    pub week: NaiveDate,
    pub booked_hours: f64,
    pub available_hours: f64,
    /// booked / available (none when nothing was available)
    pub utilisation: Option<f64>,
}

/// `coach report [--from --to]`.
#[derive(Debug, Clone, Serialize)]
pub struct CoachReport {
    pub coach_email: String,
    pub coach_name: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub members: Vec<ReportRow>,
    pub weeks: Vec<Week>,
}

/// Available minutes of each week from `from` (a Monday) for `n` weeks:
/// the windows of each weekday, less blocked dates.
pub fn available_minutes(
    windows: &[(i16, i32, i32)],
    blocks: &[(NaiveDate, NaiveDate)],
    from: NaiveDate,
    n: i64,
) -> Vec<i64> {
    (0..n)
        .map(|w| {
            (0..7)
                .map(|d| from + Duration::days(w * 7 + d))
                .filter(|day| !blocks.iter().any(|(a, b)| a <= day && day <= b))
                .map(|day| {
                    let dow = day.weekday().num_days_from_sunday() as i16;
                    windows
                        .iter()
                        .filter(|(wd, _, _)| *wd == dow)
                        .map(|(_, s, e)| i64::from(e - s))
                        .sum::<i64>()
                })
                .sum()
        })
        .collect()
}

/// `coach report` of the acting coach, or of any coach for an admin, for
/// the local weeks from..=to (default: the last 12 weeks up to `now`).
pub async fn coach_report(
    pool: &PgPool,
    actor: &Actor,
    who: Option<&UserRef>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    now: DateTime<Utc>,
) -> Result<CoachReport> {
    let mut conn = pool.acquire().await?;
    let c = match (actor.role(), who) {
        (Role::Member, _) => {
            return Err(Error::forbidden(format!(
                "{} is a member; the coach report is the coach's and the admins'",
                actor.label()
            )));
        }
        (Role::Coach, named) => {
            let me = actor
                .as_coach()
                .ok_or_else(|| Error::Internal("a coach actor without an id".into()))?;
            let c = coach::fetch(&mut conn, me).await?;
            if let Some(r) = named
                && coach::find(&mut conn, actor, r).await?.id != c.id
            {
                return Err(Error::forbidden(format!(
                    "{} may only read their own report",
                    actor.label()
                )));
            }
            c
        }
        (Role::Admin, Some(r)) => coach::find(&mut conn, actor, r).await?,
        (Role::Admin, None) => return Err(Error::invalid("name the coach: coach report COACH")),
    };
    let tz = c.tz();
    let today = now.with_timezone(&tz).date_naive();
    let to = to.unwrap_or(today);
    let from = monday_of(from.unwrap_or(to - Duration::weeks(WEEKS - 1)));
    if from > to {
        return Err(Error::invalid("--from must not be after --to"));
    }
    let n = (to - from).num_days() / 7 + 1;
    if n > 520 {
        return Err(Error::invalid("a report covers at most 520 weeks"));
    }
    let end = to + Duration::days(1);
    let members: Vec<ReportRow> = sqlx::query_as(
        "WITH mine AS (
            SELECT m.user_id AS id FROM member_profiles m WHERE m.coach_id = $1
            UNION SELECT k.member_id FROM connections k WHERE k.coach_id = $1 AND k.status = 'accepted'
            UNION SELECT s.member_id FROM sessions s WHERE s.coach_id = $1
              AND s.starts_at >= ($2::timestamp AT TIME ZONE $4) AND s.starts_at < ($3::timestamp AT TIME ZONE $4)
         )
         SELECT u.email AS member_email, u.name AS member_name,
                k.held, k.cancelled, k.late_cancellations, k.no_shows, k.average_rating,
                (SELECT avg(CASE WHEN x.done + x.rest = 0 THEN 0 ELSE x.done * 100 / (x.done + x.rest) END)::bigint
                 FROM program_enrolments e
                 CROSS JOIN LATERAL (
                     SELECT count(*) FILTER (WHERE s.status = 'completed') AS done,
                            count(*) FILTER (WHERE s.status <> 'completed' AND s.status <> 'declined'
                                               AND s.status <> 'expired') AS rest
                     FROM sessions s WHERE s.enrolment_id = e.id) x
                 WHERE e.coach_id = $1 AND e.member_id = u.id
                   AND e.status IN ('active', 'completed')) AS program_percent,
                k.last_session_at
         FROM mine JOIN users u ON u.id = mine.id
         CROSS JOIN LATERAL (
             SELECT count(*) FILTER (WHERE s.status = 'completed') AS held,
                    count(*) FILTER (WHERE s.status = 'cancelled') AS cancelled,
                    count(*) FILTER (WHERE s.late_cancel) AS late_cancellations,
                    count(*) FILTER (WHERE s.no_show_at IS NOT NULL) AS no_shows,
                    round((SELECT avg(r.rating) FROM session_ratings r JOIN sessions rs ON rs.id = r.session_id
                           WHERE r.coach_id = $1 AND r.member_id = u.id
                             AND rs.starts_at >= ($2::timestamp AT TIME ZONE $4)
                             AND rs.starts_at < ($3::timestamp AT TIME ZONE $4)), 2)::float8 AS average_rating,
                    max(s.starts_at) FILTER (WHERE s.status = 'completed') AS last_session_at
             FROM sessions s WHERE s.coach_id = $1 AND s.member_id = u.id
               AND s.starts_at >= ($2::timestamp AT TIME ZONE $4)
               AND s.starts_at < ($3::timestamp AT TIME ZONE $4)) k
         ORDER BY u.name, u.email",
    )
    .bind(c.id)
    .bind(from.and_hms_opt(0, 0, 0))
    .bind(end.and_hms_opt(0, 0, 0))
    .bind(&c.timezone)
    .fetch_all(&mut *conn)
    .await?;
    let windows: Vec<(i16, i32, i32)> = sqlx::query_as(
        "SELECT day_of_week, start_minute, end_minute FROM availability_windows WHERE coach_id = $1",
    )
    .bind(c.id)
    .fetch_all(&mut *conn)
    .await?;
    let blocks: Vec<(NaiveDate, NaiveDate)> = sqlx::query_as(
        "SELECT first_day, last_day FROM availability_blocks WHERE coach_id = $1
           AND last_day >= $2 AND first_day <= $3",
    )
    .bind(c.id)
    .bind(from)
    .bind(end)
    .fetch_all(&mut *conn)
    .await?;
    let booked: Vec<(NaiveDate, f64)> = sqlx::query_as(
        "SELECT w::date, coalesce(sum(extract(epoch FROM s.ends_at - s.starts_at)) / 3600, 0)::float8
         FROM generate_series($2::date::timestamp, $2::date + ($3 - 1) * interval '1 week',
                              interval '1 week') AS w
         LEFT JOIN sessions s ON s.coach_id = $1
              AND s.status IN ('completed', 'scheduled', 'proposed')
              AND s.starts_at >= (w AT TIME ZONE $4)
              AND s.starts_at < ((w + interval '1 week') AT TIME ZONE $4)
         GROUP BY w ORDER BY w",
    )
    .bind(c.id)
    .bind(from)
    .bind(n as i32)
    .bind(&c.timezone)
    .fetch_all(&mut *conn)
    .await?;
    let available = available_minutes(&windows, &blocks, from, n);
    let weeks = booked
        .into_iter()
        .zip(available)
        .map(|((week, booked_hours), mins)| {
            let available_hours = mins as f64 / 60.0;
            Week {
                week,
                booked_hours,
                available_hours,
                utilisation: (mins > 0)
                    .then(|| (booked_hours / available_hours * 100.0).round() / 100.0),
            }
        })
        .collect();
    Ok(CoachReport {
        coach_email: c.email,
        coach_name: c.name,
        from,
        to,
        members,
        weeks,
    })
}

/// Counts as a row of block characters, one per value, scaled to the largest.
pub fn sparkline(values: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().cloned().fold(0.0_f64, f64::max);
    values
        .iter()
        .map(|v| {
            if max <= 0.0 || *v <= 0.0 {
                ' '
            } else {
                BARS[(((v / max) * 7.0).round() as usize).min(7)]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn available_hours_are_the_windows_of_each_weekday_less_blocked_dates() {
        // Monday 09:00-12:00 and Wednesday 14:00-16:00; the second Monday blocked.
        let windows = [(1, 540, 720), (3, 840, 960)];
        let blocks = [(d("2027-03-08"), d("2027-03-08"))];
        assert_eq!(
            available_minutes(&windows, &blocks, d("2027-03-01"), 2),
            vec![300, 120]
        );
    }

    #[test]
    fn a_sparkline_scales_to_the_largest_value_and_leaves_zero_blank() {
        assert_eq!(sparkline(&[0.0, 1.0, 2.0, 4.0]), " ▃▅█");
        assert_eq!(sparkline(&[0.0, 0.0]), "  ");
    }

    #[test]
    fn weeks_start_on_monday() {
        assert_eq!(monday_of(d("2027-03-07")), d("2027-03-01"));
        assert_eq!(monday_of(d("2027-03-01")), d("2027-03-01"));
    }
}
