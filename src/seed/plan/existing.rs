//! What the database holds of everything a seed file names, read in a
//! few set-based queries whatever the size of the file.

use super::*;

/// A user the file names, as the database has them.
#[derive(FromRow, Clone)]
pub(crate) struct UserRow {
    pub id: Uuid,
    key: String,
    pub email: String,
    pub name: String,
    pub role: String,
    pub timezone: String,
    pub active: bool,
    pub max_members: Option<i32>,
    pub accepting_members: Option<bool>,
    pub specialization: Option<String>,
    pub bio: Option<String>,
    pub certifications: Option<String>,
    pub member_count: Option<i32>,
    pub min_notice_minutes: Option<i32>,
    pub horizon_days: Option<i32>,
    pub max_per_day: Option<i32>,
    pub max_per_week: Option<i32>,
    pub member_max_per_week: Option<i32>,
    pub cancel_notice_hours: Option<i32>,
    pub waitlist_offer_minutes: Option<i32>,
    pub coach_id: Option<Uuid>,
    pub membership_status: Option<String>,
    pub goals: Option<String>,
    pub health_info: Option<String>,
}

#[derive(FromRow, Clone)]
pub(crate) struct WindowRow {
    pub(crate) id: Uuid,
    pub(crate) coach_id: Uuid,
    pub(crate) day_of_week: i16,
    pub(crate) start_minute: i32,
    pub(crate) end_minute: i32,
    pub(crate) session_minutes: i32,
    pub(crate) buffer_minutes: i32,
    pub(crate) capacity: i32,
}

#[derive(FromRow, Clone)]
pub(crate) struct BlockRow {
    pub(crate) id: Uuid,
    pub(crate) coach_id: Uuid,
    pub(crate) first_day: NaiveDate,
    pub(crate) last_day: NaiveDate,
    pub(crate) reason: Option<String>,
}

#[derive(FromRow, Clone)]
pub(crate) struct SessionRow {
    pub(crate) coach_id: Uuid,
    pub(crate) member_id: Uuid,
    pub(crate) starts_at: DateTime<Utc>,
    pub(crate) ends_at: DateTime<Utc>,
    pub(crate) buffer_minutes: i32,
    /// Holds a seat now (scheduled, or a proposal not yet overdue).
    pub(crate) seated: bool,
    /// Matches a declared booking: seated, or already completed.
    pub(crate) kept: bool,
}

/// What the database holds of everything the file names.
pub(crate) struct Existing {
    pub(crate) users: HashMap<String, UserRow>,
    pub(crate) windows: HashMap<Uuid, Vec<WindowRow>>,
    pub(crate) blocks: HashMap<Uuid, Vec<BlockRow>>,
    pub(crate) sessions: Vec<SessionRow>,
    pub(crate) history: HashSet<(Uuid, Uuid)>,
    pub(crate) connections: HashSet<(Uuid, Uuid)>,
}

/// The zone a coach's local times are read in once the file is applied.
pub(super) fn coach_zone(
    org: &Org,
    users: &HashMap<String, UserRow>,
    email: &Email,
) -> chrono_tz::Tz {
    org.coaches
        .iter()
        .find(|c| c.email == *email)
        .and_then(|c| c.timezone)
        .map(|t| t.tz())
        .or_else(|| {
            users
                .get(email.as_str())
                .and_then(|u| u.timezone.parse().ok())
        })
        .unwrap_or(chrono_tz::UTC)
}

/// Read what exists: people, their windows and blocks, the sessions near
/// the declared bookings, history and connections. Six queries whatever
/// the size of the file.
pub(crate) async fn load(conn: &mut PgConnection, org: &Org) -> Result<Existing> {
    let mut emails: Vec<String> = Vec::new();
    emails.extend(org.coaches.iter().map(|c| c.email.as_str().to_string()));
    emails.extend(org.members.iter().map(|m| m.email.as_str().to_string()));
    emails.extend(
        org.members
            .iter()
            .filter_map(|m| m.coach.as_ref().map(|c| c.0.as_str().to_string())),
    );
    for b in &org.bookings {
        emails.push(b.coach.as_str().to_string());
        emails.push(b.member.as_str().to_string());
    }
    emails.sort();
    emails.dedup();
    let rows: Vec<UserRow> = sqlx::query_as(
        "SELECT u.id, email_key(u.email) AS key, u.email, u.name, u.role, u.timezone, u.active,
                c.max_members, c.accepting_members, c.specialization, c.bio, c.certifications,
                c.member_count, c.min_notice_minutes, c.horizon_days, c.max_per_day,
                c.max_per_week, c.member_max_per_week, c.cancel_notice_hours,
                c.waitlist_offer_minutes, m.coach_id, m.membership_status, m.goals, m.health_info
         FROM users u
         LEFT JOIN coach_profiles c ON c.user_id = u.id
         LEFT JOIN member_profiles m ON m.user_id = u.id
         WHERE email_key(u.email) = ANY($1::text[])",
    )
    .bind(&emails)
    .fetch_all(&mut *conn)
    .await?;
    let users: HashMap<String, UserRow> = rows.into_iter().map(|u| (u.key.clone(), u)).collect();
    let coach_ids: Vec<Uuid> = users
        .values()
        .filter(|u| u.role == "coach")
        .map(|u| u.id)
        .collect();
    let member_ids: Vec<Uuid> = users
        .values()
        .filter(|u| u.role == "member")
        .map(|u| u.id)
        .collect();
    let mut windows: HashMap<Uuid, Vec<WindowRow>> = HashMap::new();
    let mut blocks: HashMap<Uuid, Vec<BlockRow>> = HashMap::new();
    let mut sessions = Vec::new();
    let mut history = HashSet::new();
    let mut connections = HashSet::new();
    if !coach_ids.is_empty() {
        let rows: Vec<WindowRow> = sqlx::query_as(
            "SELECT id, coach_id, day_of_week, start_minute, end_minute, session_minutes,
                    buffer_minutes, capacity
             FROM availability_windows WHERE coach_id = ANY($1)",
        )
        .bind(&coach_ids)
        .fetch_all(&mut *conn)
        .await?;
        for w in rows {
            windows.entry(w.coach_id).or_default().push(w);
        }
        let rows: Vec<BlockRow> = sqlx::query_as(
            "SELECT id, coach_id, first_day, last_day, reason
             FROM availability_blocks WHERE coach_id = ANY($1)",
        )
        .bind(&coach_ids)
        .fetch_all(&mut *conn)
        .await?;
        for b in rows {
            blocks.entry(b.coach_id).or_default().push(b);
        }
    }
    // Sessions from two days before the earliest declared booking: those
    // that match a booking, or can decide its slot (capacity, buffers).
    let earliest = org
        .bookings
        .iter()
        .filter_map(|b| b.at.resolve(coach_zone(org, &users, &b.coach)).ok())
        .min();
    if let Some(earliest) = earliest
        && (!coach_ids.is_empty() || !member_ids.is_empty())
    {
        sessions = sqlx::query_as(
            "SELECT coach_id, member_id, starts_at, ends_at, buffer_minutes,
                    (status = 'scheduled' OR (status = 'proposed' AND expires_at > now())) AS seated,
                    (status IN ('scheduled', 'completed')
                     OR (status = 'proposed' AND expires_at > now())) AS kept
             FROM sessions
             WHERE (coach_id = ANY($1) OR member_id = ANY($2))
               AND status IN ('scheduled', 'proposed', 'completed')
               AND starts_at >= $3",
        )
        .bind(&coach_ids)
        .bind(&member_ids)
        .bind(earliest - Duration::days(2))
        .fetch_all(&mut *conn)
        .await?;
    }
    if !org.bookings.is_empty() && !member_ids.is_empty() {
        // A member's first session with a coach is `initial` (ordered
        // probe per pair, as booking does, over the pairs the file names).
        let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT DISTINCT s.coach_id, s.member_id FROM sessions s
             WHERE s.member_id = ANY($1) AND s.coach_id = ANY($2)
               AND s.status NOT IN ('cancelled', 'declined', 'expired')",
        )
        .bind(&member_ids)
        .bind(&coach_ids)
        .fetch_all(&mut *conn)
        .await?;
        history.extend(rows);
        let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT coach_id, member_id FROM connections
             WHERE member_id = ANY($1) AND status = 'accepted'",
        )
        .bind(&member_ids)
        .fetch_all(&mut *conn)
        .await?;
        connections.extend(rows);
    }
    Ok(Existing {
        users,
        windows,
        blocks,
        sessions,
        history,
        connections,
    })
}

pub(super) fn existing_coach(u: &UserRow, ex: &Existing) -> CoachState {
    let windows = ex
        .windows
        .get(&u.id)
        .map(|ws| ws.iter().map(window_spec).collect())
        .unwrap_or_default();
    let blocks = ex
        .blocks
        .get(&u.id)
        .map(|bs| bs.iter().map(|b| (b.first_day, b.last_day)).collect())
        .unwrap_or_default();
    let sessions = ex
        .sessions
        .iter()
        .filter(|s| s.coach_id == u.id && s.seated)
        .map(|s| Busy {
            start: s.starts_at,
            end: s.ends_at,
            buffer_minutes: s.buffer_minutes.clamp(0, 1440) as u16,
        })
        .collect();
    CoachState {
        id: u.id,
        email: u.email.clone(),
        tz: u.timezone.parse().unwrap_or(chrono_tz::UTC),
        active: u.active,
        accepting: u.accepting_members.unwrap_or(true),
        max_members: u.max_members.unwrap_or(20),
        seats: u.member_count.unwrap_or(0),
        min_notice: u.min_notice_minutes.unwrap_or(0),
        horizon: u.horizon_days,
        windows,
        blocks,
        sessions,
    }
}

pub(super) fn window_spec(w: &WindowRow) -> WindowSpec {
    WindowSpec {
        id: w.id,
        day: DayOfWeek::from_index(w.day_of_week as u8).unwrap_or(DayOfWeek::SUNDAY),
        start_minute: w.start_minute as u16,
        end_minute: w.end_minute as u16,
        length_minutes: w.session_minutes as u16,
        buffer_minutes: w.buffer_minutes as u16,
        capacity: w.capacity as u32,
    }
}
