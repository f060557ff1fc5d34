//! Coaches: profile, capacity (`max_members`), whether they accept members.
//! Seed 003 requirement 2; seed 002 properties 6-10.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

use crate::actor::Actor;
use crate::audit::{self, Change};
use crate::domain::{
    CancelNoticeHours, Email, HorizonDays, MaxMembers, NoticeMinutes, OfferMinutes, PersonName,
    ProfileText, Role, SessionLimit, TimeZone, UserId, UserRef,
};
use crate::error::{Error, Result, ResultExt};
use crate::page::Page;
use crate::users;
use futures_util::TryStreamExt;

mod schedule_guard;
pub(crate) use schedule_guard::{lock_schedule, orphan_error, refuse_orphans};

/// A coach as shown by `coach show` and `coach list`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Coach {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub timezone: String,
    pub active: bool,
    pub specialization: Option<String>,
    pub bio: Option<String>,
    pub certifications: Option<String>,
    pub max_members: i32,
    pub accepting_members: bool,
    /// Active members assigned to this coach.
    pub member_count: i32,
    /// Seats left: `max_members - member_count`.
    pub free_capacity: i32,
    /// Slots closer than this are not offered.
    pub min_notice_minutes: i32,
    /// Slots further ahead than this many days are not offered (none: no limit).
    pub horizon_days: Option<i32>,
    /// Most seat-holding sessions a local day, a week, a member a week (none: no limit).
    pub max_per_day: Option<i32>,
    pub max_per_week: Option<i32>,
    pub member_max_per_week: Option<i32>,
    /// A member's cancellation closer than this to the start is late (none: never).
    pub cancel_notice_hours: Option<i32>,
    /// How long a waitlist offer holds its seat.
    pub waitlist_offer_minutes: i32,
    pub created_at: DateTime<Utc>,
}

/// A row of `SELECT` (also read back as JSON by the booking snapshot).
#[derive(FromRow, serde::Deserialize)]
pub(crate) struct CoachRow {
    id: Uuid,
    email: String,
    name: String,
    timezone: String,
    active: bool,
    specialization: Option<String>,
    bio: Option<String>,
    certifications: Option<String>,
    max_members: i32,
    accepting_members: bool,
    member_count: i32,
    min_notice_minutes: i32,
    horizon_days: Option<i32>,
    max_per_day: Option<i32>,
    max_per_week: Option<i32>,
    member_max_per_week: Option<i32>,
    cancel_notice_hours: Option<i32>,
    waitlist_offer_minutes: i32,
    created_at: DateTime<Utc>,
}

impl From<CoachRow> for Coach {
    fn from(r: CoachRow) -> Self {
        Coach {
            id: r.id,
            email: r.email,
            name: r.name,
            timezone: r.timezone,
            active: r.active,
            specialization: r.specialization,
            bio: r.bio,
            certifications: r.certifications,
            max_members: r.max_members,
            accepting_members: r.accepting_members,
            member_count: r.member_count,
            free_capacity: (r.max_members - r.member_count).max(0),
            min_notice_minutes: r.min_notice_minutes,
            horizon_days: r.horizon_days,
            max_per_day: r.max_per_day,
            max_per_week: r.max_per_week,
            member_max_per_week: r.member_max_per_week,
            cancel_notice_hours: r.cancel_notice_hours,
            waitlist_offer_minutes: r.waitlist_offer_minutes,
            created_at: r.created_at,
        }
    }
}

pub(crate) const SELECT: &str =
    "SELECT u.id, u.email, u.name, u.timezone, u.active, c.specialization, c.bio,
        c.certifications, c.max_members, c.accepting_members, c.member_count,
        c.min_notice_minutes, c.horizon_days, c.max_per_day, c.max_per_week,
        c.member_max_per_week, c.cancel_notice_hours, c.waitlist_offer_minutes, u.created_at
    FROM users u JOIN coach_profiles c ON c.user_id = u.id";

/// Input of `coach create`.
#[derive(Debug, Clone)]
pub struct NewCoach {
    pub email: Email,
    pub name: PersonName,
    pub timezone: TimeZone,
    pub profile: ProfileUpdate,
}

/// Profile fields to change; `None` leaves a field as it is, an empty
/// [`ProfileText`] clears it.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    pub specialization: Option<ProfileText>,
    pub bio: Option<ProfileText>,
    pub certifications: Option<ProfileText>,
    pub max_members: Option<MaxMembers>,
    pub accepting_members: Option<bool>,
    pub min_notice: Option<NoticeMinutes>,
    /// `Some(None)` removes the horizon.
    pub horizon: Option<Option<HorizonDays>>,
    /// Booking limits; `Some(None)` removes one.
    pub max_per_day: Option<Option<SessionLimit>>,
    pub max_per_week: Option<Option<SessionLimit>>,
    pub member_max_per_week: Option<Option<SessionLimit>>,
    pub cancel_notice: Option<Option<CancelNoticeHours>>,
    pub waitlist_offer: Option<OfferMinutes>,
}

/// Input of `coach update`.
#[derive(Debug, Clone, Default)]
pub struct CoachUpdate {
    pub name: Option<PersonName>,
    pub timezone: Option<TimeZone>,
    pub profile: ProfileUpdate,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Filter {
    /// Only coaches who accept members: the signup choice (property 9).
    pub accepting_only: bool,
    /// Deactivated coaches too.
    pub include_inactive: bool,
}

impl Coach {
    /// The coach's zone; availability and slots are computed in it.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::UTC)
    }
}

pub(crate) async fn fetch(conn: &mut PgConnection, id: UserId) -> Result<Coach> {
    let sql = format!("{SELECT} WHERE u.id = $1");
    let row: CoachRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id.as_uuid())
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.into())
}

/// Resolve a coach by id or email: one query on the way that matters.
/// Every coach is in sight; why someone else is not a coach is told only
/// about people the actor may see (a member out of sight is "no coach").
pub(crate) async fn find(conn: &mut PgConnection, actor: &Actor, who: &UserRef) -> Result<Coach> {
    let (id, email) = users::ref_params(who);
    let sql = format!("{SELECT} WHERE u.role = 'coach' AND {}", users::REF_MATCHES);
    let row: Option<CoachRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(email)
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(r) => Ok(r.into()),
        // Not found: say precisely why (nobody in sight, or not a coach).
        None => {
            let user =
                users::find_with_role(conn, actor, users::Sight::Seen, who, Role::Coach).await?;
            fetch(conn, user.id).await
        }
    }
}

async fn apply_profile(conn: &mut PgConnection, id: UserId, p: &ProfileUpdate) -> Result<()> {
    // A text option: None keeps the column, Some("") clears it.
    let text = |t: &Option<ProfileText>| t.as_ref().map(|t| t.as_str().to_string());
    // Only the fields given: a coach's login may set only some columns
    // (not max_members), and naming one, even to keep it, needs the grant.
    let mut sets = Vec::new();
    for (given, set) in [
        (
            p.specialization.is_some(),
            "specialization = nullif($2, '')",
        ),
        (p.bio.is_some(), "bio = nullif($3, '')"),
        (
            p.certifications.is_some(),
            "certifications = nullif($4, '')",
        ),
        (p.max_members.is_some(), "max_members = $5"),
        (p.accepting_members.is_some(), "accepting_members = $6"),
        (p.min_notice.is_some(), "min_notice_minutes = $7"),
        (p.horizon.is_some(), "horizon_days = $9"),
        (p.max_per_day.is_some(), "max_per_day = $11"),
        (p.max_per_week.is_some(), "max_per_week = $13"),
        (p.member_max_per_week.is_some(), "member_max_per_week = $15"),
        (p.cancel_notice.is_some(), "cancel_notice_hours = $17"),
        (p.waitlist_offer.is_some(), "waitlist_offer_minutes = $18"),
    ] {
        if given {
            sets.push(set);
        }
    }
    sets.push("updated_at = now()");
    let sql = format!(
        "UPDATE coach_profiles SET {} WHERE user_id = $1",
        sets.join(", ")
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
    .bind(id.as_uuid())
    .bind(text(&p.specialization))
    .bind(text(&p.bio))
    .bind(text(&p.certifications))
    .bind(p.max_members.map(|m| m.get()))
    .bind(p.accepting_members)
    .bind(p.min_notice.map(|n| n.get()))
    .bind(p.horizon.is_some())
    .bind(p.horizon.flatten().map(|h| h.get()))
    .bind(p.max_per_day.is_some())
    .bind(p.max_per_day.flatten().map(|n| n.get()))
    .bind(p.max_per_week.is_some())
    .bind(p.max_per_week.flatten().map(|n| n.get()))
    .bind(p.member_max_per_week.is_some())
    .bind(p.member_max_per_week.flatten().map(|n| n.get()))
    .bind(p.cancel_notice.is_some())
    .bind(p.cancel_notice.flatten().map(|n| n.get()))
    .bind(p.waitlist_offer.map(|n| n.get()))
    .execute(&mut *conn)
    .await
    .on_constraint("coach_profiles_member_count_within_max", || {
        Error::conflict(format!(
            "max members cannot go below the number of active members the coach already has; unassign some first (asked for {})",
            p.max_members.map(|m| m.get()).unwrap_or_default()
        ))
    })?;
    Ok(())
}

/// `coach create`: a user with role coach and a profile with defaults
/// (max 20 members, accepting). Admins only.
pub async fn create(pool: &PgPool, actor: &Actor, new: NewCoach) -> Result<Coach> {
    actor.require_admin("create coaches")?;
    let mut tx = pool.begin().await?;
    let id = users::insert(&mut tx, &new.email, &new.name, Role::Coach, new.timezone).await?;
    sqlx::query("INSERT INTO coach_profiles (user_id) VALUES ($1)")
        .bind(id.as_uuid())
        .execute(&mut *tx)
        .await?;
    apply_profile(&mut tx, id, &new.profile).await?;
    let coach = fetch(&mut tx, id).await?;
    audit::record(
        &mut tx,
        actor,
        Change::of("coach.create", "coach", coach.id, None, Some(&coach))?,
    )
    .await?;
    tx.commit().await?;
    Ok(coach)
}

/// `coach list`: anyone may see coaches (members choose one at signup).
pub async fn list(pool: &PgPool, actor: &Actor, filter: Filter) -> Result<Vec<Coach>> {
    let mut all = Vec::new();
    list_each(pool, actor, filter, &Page::default(), |c| {
        all.push(c);
        Ok(())
    })
    .await?;
    Ok(all)
}

/// `coach list`, streamed: each coach to `each` as its row arrives, ordered
/// by email; `page.after` is the email or id of the previous page's last.
pub async fn list_each(
    pool: &PgPool,
    _actor: &Actor,
    filter: Filter,
    page: &Page<UserRef>,
    mut each: impl FnMut(Coach) -> Result<()>,
) -> Result<()> {
    let mut conn = pool.acquire().await?;
    let after = match &page.after {
        Some(a) => Some(crate::page::person_key(&mut conn, a).await?),
        None => None,
    };
    let sql = format!(
        "{SELECT} WHERE ($1 OR u.active) AND (NOT $2 OR (c.accepting_members AND u.active))
           AND ($3::text IS NULL OR u.email > $3)
         ORDER BY u.email
         LIMIT $4"
    );
    let mut rows = sqlx::query_as::<_, CoachRow>(sqlx::AssertSqlSafe(sql))
        .bind(filter.include_inactive)
        .bind(filter.accepting_only)
        .bind(after)
        .bind(page.sql_limit())
        .fetch(&mut *conn);
    while let Some(row) = rows.try_next().await? {
        each(Coach::from(row))?;
    }
    Ok(())
}

/// `coach show`: a coach's public profile with member count and free capacity.
pub async fn show(pool: &PgPool, actor: &Actor, who: &UserRef) -> Result<Coach> {
    let mut conn = pool.acquire().await?;
    find(&mut conn, actor, who).await
}

/// `coach show`: the profile with the members' ratings over completed
/// sessions (seed 003 requirement 9).
#[derive(Debug, Clone, Serialize)]
pub struct CoachShow {
    #[serde(flatten)]
    pub coach: Coach,
    /// Mean rating, two decimals; null before the first rating.
    pub rating_average: Option<f64>,
    pub rating_count: i64,
}

pub async fn show_with_ratings(pool: &PgPool, actor: &Actor, who: &UserRef) -> Result<CoachShow> {
    let coach = show(pool, actor, who).await?;
    let (rating_average, rating_count): (Option<f64>, i64) = sqlx::query_as(
        "SELECT round(avg(r.rating), 2)::float8, count(*)
         FROM session_ratings r JOIN sessions s ON s.id = r.session_id
         WHERE r.coach_id = $1 AND s.status = 'completed'",
    )
    .bind(coach.id)
    .fetch_one(pool)
    .await?;
    Ok(CoachShow {
        coach,
        rating_average,
        rating_count,
    })
}

/// `coach update`: admins, or the coach themself.
pub async fn update(
    pool: &PgPool,
    actor: &Actor,
    who: &UserRef,
    change: CoachUpdate,
) -> Result<Coach> {
    let mut tx = pool.begin().await?;
    let before = find(&mut tx, actor, who).await?;
    let id = UserId::from_uuid(before.id);
    if !actor.is_admin() && !actor.is(id) {
        return Err(Error::forbidden(format!(
            "{} may not change the profile of coach {}",
            actor.label(),
            before.email
        )));
    }
    lock_coach(&mut tx, id).await?;
    if change.timezone.is_some() {
        lock_schedule(&mut tx, before.id).await?;
    }
    users::update_basics(&mut tx, id, change.name.as_ref(), change.timezone).await?;
    apply_profile(&mut tx, id, &change.profile).await?;
    let after = fetch(&mut tx, id).await?;
    // A new zone moves every window's wall-clock times: refused, naming
    // them, while booked sessions would fall outside.
    if change.timezone.is_some() {
        refuse_orphans(&mut tx, &after).await?;
    }
    record_change(&mut tx, actor, "coach.update", &before, &after).await?;
    tx.commit()
        .await
        .on_constraint("availability_schedule_orphans_sessions", orphan_error)?;
    Ok(after)
}

/// `coach promote`: an existing member becomes a coach. Admins only. The
/// member's own assignment ends, since a coach is nobody's member.
pub async fn promote(
    pool: &PgPool,
    actor: &Actor,
    who: &UserRef,
    profile: ProfileUpdate,
) -> Result<Coach> {
    actor.require_admin("promote members to coaches")?;
    let mut tx = pool.begin().await?;
    let user = match users::find(&mut tx, who).await? {
        Some(u) => u,
        None => return Err(Error::not_found(format!("no user {who}"))),
    };
    match user.role {
        Role::Member => {}
        Role::Coach => {
            return Err(Error::conflict(format!(
                "{} is already a coach",
                user.email
            )));
        }
        Role::Admin => {
            return Err(Error::rule(format!(
                "{} is an admin; only members can be promoted to coach",
                user.email
            )));
        }
    }
    if !user.active {
        return Err(Error::rule(format!(
            "{} is deactivated and cannot be promoted",
            user.email
        )));
    }
    let member_before: Option<serde_json::Value> =
        sqlx::query_scalar("SELECT to_jsonb(m) FROM member_profiles m WHERE user_id = $1")
            .bind(user.id.as_uuid())
            .fetch_optional(&mut *tx)
            .await?;
    sqlx::query(
        "UPDATE member_profiles SET coach_id = NULL, membership_status = 'inactive', updated_at = now()
         WHERE user_id = $1",
    )
    .bind(user.id.as_uuid())
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE users SET role = 'coach', updated_at = now() WHERE id = $1")
        .bind(user.id.as_uuid())
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO coach_profiles (user_id) VALUES ($1)")
        .bind(user.id.as_uuid())
        .execute(&mut *tx)
        .await?;
    apply_profile(&mut tx, user.id, &profile).await?;
    let coach = fetch(&mut tx, user.id).await?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "coach.promote",
            entity: "coach",
            entity_id: Some(coach.id),
            before: member_before,
            after: Some(serde_json::to_value(&coach).map_err(internal)?),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(coach)
}

/// `coach deactivate`: the coach can no longer act or take members; their
/// members stay assigned until an admin reassigns them. Admins only.
/// The coach `deactivate` would deactivate, checked without changing
/// anything: what its confirmation prompt names before it is asked.
pub async fn deactivatable(pool: &PgPool, actor: &Actor, who: &UserRef) -> Result<Coach> {
    actor.require_admin("deactivate coaches")?;
    let c = find(&mut *pool.acquire().await?, actor, who).await?;
    if !c.active {
        return Err(Error::conflict(format!(
            "coach {} is already deactivated",
            c.email
        )));
    }
    Ok(c)
}

pub async fn deactivate(pool: &PgPool, actor: &Actor, who: &UserRef) -> Result<Coach> {
    actor.require_admin("deactivate coaches")?;
    let mut tx = pool.begin().await?;
    let before = find(&mut tx, actor, who).await?;
    let id = UserId::from_uuid(before.id);
    if !before.active {
        return Err(Error::conflict(format!(
            "coach {} is already deactivated",
            before.email
        )));
    }
    lock_coach(&mut tx, id).await?;
    sqlx::query("UPDATE users SET active = false, updated_at = now() WHERE id = $1")
        .bind(id.as_uuid())
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE coach_profiles SET accepting_members = false, updated_at = now() WHERE user_id = $1")
        .bind(id.as_uuid())
        .execute(&mut *tx)
        .await?;
    let after = fetch(&mut tx, id).await?;
    record_change(&mut tx, actor, "coach.deactivate", &before, &after).await?;
    tx.commit().await?;
    Ok(after)
}

async fn lock_coach(conn: &mut PgConnection, id: UserId) -> Result<()> {
    sqlx::query("SELECT 1 FROM coach_profiles WHERE user_id = $1 FOR UPDATE")
        .bind(id.as_uuid())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn record_change(
    conn: &mut PgConnection,
    actor: &Actor,
    action: &str,
    before: &Coach,
    after: &Coach,
) -> Result<()> {
    audit::record(
        conn,
        actor,
        Change::of(action, "coach", after.id, Some(before), Some(after))?,
    )
    .await
}

pub(crate) fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(e.to_string())
}
