//! Members: profile, membership and onboarding status, privacy, and the
//! assignment to a coach. Seed 003 requirements 1, 6, 12 and 14.4; seed 002
//! properties 1-5 and 30-35.
//!
//! Capacity is the database's job: the `member_profiles_seats_*` triggers
//! keep `coach_profiles.member_count` under `CHECK (member_count <=
//! max_members)`, so no interleaving of assignments can overfill a coach.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

use crate::actor::Actor;
use crate::audit::{self, Change};
use crate::coach;
use crate::domain::{
    Email, MembershipStatus, OnboardingStatus, PersonName, Privacy, ProfileText, Role, TimeZone,
    UserId, UserRef,
};
use crate::error::{Error, Result, ResultExt};
use crate::users;

mod list;
mod list_csv;
mod settings;
pub(crate) use list::roster_scope;
pub use list::{list, list_each};
pub use list_csv::list_csv_each;
pub use settings::{set_onboarding, set_privacy, set_sharing};

/// A member as shown by `member show` and `member list`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Member {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub timezone: String,
    pub active: bool,
    pub coach_id: Option<Uuid>,
    pub coach_email: Option<String>,
    pub membership_status: MembershipStatus,
    pub onboarding_status: OnboardingStatus,
    pub privacy: Privacy,
    /// Absent when unset, or when the member does not share it with the reader (their coach).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goals: Option<String>,
    /// Absent when unset, or when the member does not share it with the reader (their coach).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_info: Option<String>,
    /// Whether the member's coach sees their goals (`member sharing`).
    pub share_goals: bool,
    /// Whether the member's coach sees their health information.
    pub share_health_info: bool,
    /// Coach-private: present only for the member's coach and admins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coach_notes: Option<String>,
    pub joined_at: DateTime<Utc>,
}

/// A row of `SELECT` (also read back as JSON by the booking snapshot).
#[derive(FromRow, serde::Deserialize)]
pub(crate) struct MemberRow {
    id: Uuid,
    email: String,
    name: String,
    timezone: String,
    active: bool,
    coach_id: Option<Uuid>,
    coach_email: Option<String>,
    membership_status: String,
    onboarding_status: String,
    privacy: String,
    goals: Option<String>,
    health_info: Option<String>,
    share_goals: bool,
    share_health_info: bool,
    coach_notes: Option<String>,
    joined_at: DateTime<Utc>,
}

impl TryFrom<MemberRow> for Member {
    type Error = Error;
    fn try_from(r: MemberRow) -> Result<Self> {
        Ok(Member {
            id: r.id,
            email: r.email,
            name: r.name,
            timezone: r.timezone,
            active: r.active,
            coach_id: r.coach_id,
            coach_email: r.coach_email,
            membership_status: MembershipStatus::from_db(&r.membership_status)?,
            onboarding_status: OnboardingStatus::from_db(&r.onboarding_status)?,
            privacy: Privacy::from_db(&r.privacy)?,
            goals: r.goals,
            health_info: r.health_info,
            share_goals: r.share_goals,
            share_health_info: r.share_health_info,
            coach_notes: r.coach_notes,
            joined_at: r.joined_at,
        })
    }
}

const SELECT_OWNER: &str = "SELECT u.id, u.email, u.name, u.timezone, u.active, m.coach_id,
        cu.email AS coach_email, m.membership_status, m.onboarding_status, m.privacy,
        m.goals, m.health_info, m.share_goals, m.share_health_info, m.coach_notes, m.joined_at
    FROM users u
    JOIN member_profiles m ON m.user_id = u.id
    LEFT JOIN users cu ON cu.id = m.coach_id";

/// [`SELECT_OWNER`] for a login, which may not name the private columns:
/// they come from the definer reader, which answers what the login may read.
const SELECT_LOGIN: &str = "SELECT u.id, u.email, u.name, u.timezone, u.active, m.coach_id,
        cu.email AS coach_email, m.membership_status, m.onboarding_status, m.privacy,
        p.goals, p.health_info, m.share_goals, m.share_health_info, p.coach_notes, m.joined_at
    FROM users u
    JOIN member_profiles m ON m.user_id = u.id
    LEFT JOIN users cu ON cu.id = m.coach_id
    LEFT JOIN LATERAL member_private_fields(u.id) p ON true";

/// The members query for this process's connection (owner or login).
pub(crate) fn select() -> &'static str {
    if crate::actor::login_role().is_some() {
        SELECT_LOGIN
    } else {
        SELECT_OWNER
    }
}

/// Input of `member create` (signup when `coach` is given).
#[derive(Debug, Clone)]
pub struct NewMember {
    pub email: Email,
    pub name: PersonName,
    pub timezone: TimeZone,
    pub coach: Option<UserRef>,
    pub goals: Option<ProfileText>,
    pub health_info: Option<ProfileText>,
}

/// Input of `member update`; `None` keeps a field, empty text clears it.
#[derive(Debug, Clone, Default)]
pub struct MemberUpdate {
    pub name: Option<PersonName>,
    pub timezone: Option<TimeZone>,
    pub goals: Option<ProfileText>,
    pub health_info: Option<ProfileText>,
    pub coach_notes: Option<ProfileText>,
    pub membership_status: Option<MembershipStatus>,
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub coach: Option<UserRef>,
    pub status: Option<MembershipStatus>,
    pub unassigned: bool,
}

/// What the actor may do with one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Admin: everything.
    Admin,
    /// The member's coach: read, notes, status, onboarding.
    Coach,
    /// A coach connected with the member (not their coach): read only,
    /// within what the member shares; never the coach notes.
    Connected,
    /// The member themself: their own profile, never coach notes.
    Own,
}

/// The access of an actor to a member that [`find`] returned, so one
/// within their sight: themself, their coach or a connected coach.
fn access(actor: &Actor, m: &Member) -> Result<Access> {
    if actor.is_admin() {
        Ok(Access::Admin)
    } else if actor.is(UserId::from_uuid(m.id)) {
        Ok(Access::Own)
    } else if let Some(me) = actor.as_coach() {
        Ok(if m.coach_id == Some(me.as_uuid()) {
            Access::Coach
        } else {
            Access::Connected
        })
    } else {
        // find() answers a member out of sight as nobody before this.
        Err(Error::Internal(
            "a member out of the actor's sight reached the access check".into(),
        ))
    }
}

/// The refusal of a change by a connected coach: they read, never write.
fn only_their_coach(actor: &Actor, m: &Member) -> Error {
    Error::forbidden(format!(
        "{} is connected with member {} but not their coach; only their coach, the member or an admin may change them",
        actor.label(),
        m.email
    ))
}

/// Remove what this reader may not see.
fn redact_for(actor: &Actor, mut m: Member) -> Member {
    if !actor.is_admin() && actor.as_coach().map(|c| c.as_uuid()) != m.coach_id {
        m.coach_notes = None;
    }
    // The member decides what their coach sees (`member sharing`).
    if !actor.is_admin() && !actor.is(UserId::from_uuid(m.id)) {
        if !m.share_goals {
            m.goals = None;
        }
        if !m.share_health_info {
            m.health_info = None;
        }
    }
    m
}

/// The member with this id, whoever asks: for ids that come from rows the
/// actor already may see (a session's member), never from what they typed.
pub(crate) async fn fetch(conn: &mut PgConnection, id: UserId) -> Result<Member> {
    let select = select();
    let sql = format!("{select} WHERE u.id = $1");
    let row: MemberRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id.as_uuid())
        .fetch_one(&mut *conn)
        .await?;
    row.try_into()
}

/// The member `who` names, among those the actor may see: one the actor
/// may not see is answered as nobody, after the same queries (the sight is
/// part of the query that finds them, not a check after it).
pub(crate) async fn find(conn: &mut PgConnection, actor: &Actor, who: &UserRef) -> Result<Member> {
    find_in(conn, actor, users::Sight::Seen, who).await
}

/// [`find`] within another sight (see [`users::Sight`]).
pub(crate) async fn find_in(
    conn: &mut PgConnection,
    actor: &Actor,
    sight: users::Sight,
    who: &UserRef,
) -> Result<Member> {
    let (id, email) = users::ref_params(who);
    let select = select();
    let sql = format!(
        "{select} WHERE u.role = 'member' AND {} AND {}",
        users::REF_MATCHES,
        sight.sql(3)
    );
    let row: Option<MemberRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(email)
        .bind(users::viewer(actor))
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(r) => r.try_into(),
        // Not found: say precisely why (nobody in sight, or not a member).
        None => {
            let user = users::find_with_role(conn, actor, sight, who, Role::Member).await?;
            fetch(conn, user.id).await
        }
    }
}

/// Set (or clear) a member's coach; the database enforces capacity and
/// acceptance, this turns its refusal into a sentence.
async fn set_coach(
    conn: &mut PgConnection,
    actor: &Actor,
    member: UserId,
    coach: Option<&coach::Coach>,
) -> Result<()> {
    let previous: Option<Uuid> =
        sqlx::query_scalar("SELECT coach_id FROM member_profiles WHERE user_id = $1")
            .bind(member.as_uuid())
            .fetch_one(&mut *conn)
            .await?;
    if let Some(c) = coach
        && !c.active
    {
        return Err(Error::rule(format!(
            "coach {} is deactivated and cannot take members",
            c.email
        )));
    }
    let name = coach.map(|c| c.email.clone()).unwrap_or_default();
    let max = coach.map(|c| c.max_members).unwrap_or_default();
    sqlx::query("UPDATE member_profiles SET coach_id = $2, updated_at = now() WHERE user_id = $1")
        .bind(member.as_uuid())
        .bind(coach.map(|c| c.id))
        .execute(&mut *conn)
        .await
        .on_constraint("coach_profiles_member_count_within_max", || {
            Error::conflict(format!(
                "coach {name} is at capacity ({max} members); choose another coach or raise their max members"
            ))
        })
        .on_constraint("coach_profiles_accepting_members", || {
            Error::rule(format!("coach {name} is not accepting members"))
        })?;
    if let Some(p) = previous
        && Some(p) != coach.map(|c| c.id)
    {
        crate::history::record(conn, actor, member.as_uuid(), p, "unassigned").await?;
    }
    // An assignment opens the pair's conversation (seed 003 r10).
    if let Some(c) = coach
        && previous != Some(c.id)
    {
        crate::history::record(conn, actor, member.as_uuid(), c.id, "assigned").await?;
        crate::message::open(conn, c.id, member.as_uuid()).await?;
    }
    Ok(())
}

/// `member create`: a user with role member and a profile with defaults
/// (active, onboarding pending, privacy connections). With a coach it is
/// signup with a coach choice: refused when that coach is full or not
/// accepting, and then nothing is created.
///
/// Admins create any member; a coach creates members assigned to themself.
pub async fn create(pool: &PgPool, actor: &Actor, new: NewMember) -> Result<Member> {
    let own_coach = match actor.role() {
        Role::Admin => None,
        Role::Coach => actor.as_coach(),
        Role::Member => {
            return Err(Error::forbidden(format!(
                "{} may not create members",
                actor.label()
            )));
        }
    };
    let mut tx = pool.begin().await?;
    let coach = match (&new.coach, own_coach) {
        (Some(c), _) => Some(coach::find(&mut tx, actor, c).await?),
        (None, Some(me)) => Some(coach::fetch(&mut tx, me).await?),
        (None, None) => None,
    };
    if let (Some(me), Some(c)) = (own_coach, &coach)
        && c.id != me.as_uuid()
    {
        return Err(Error::forbidden(format!(
            "a coach may only create members for themself, not for {}",
            c.email
        )));
    }
    let id = users::insert(&mut tx, &new.email, &new.name, Role::Member, new.timezone).await?;
    sqlx::query("INSERT INTO member_profiles (user_id, goals, health_info) VALUES ($1, $2, $3)")
        .bind(id.as_uuid())
        .bind(new.goals.and_then(ProfileText::into_option))
        .bind(new.health_info.and_then(ProfileText::into_option))
        .execute(&mut *tx)
        .await?;
    if coach.is_some() {
        set_coach(&mut tx, actor, id, coach.as_ref()).await?;
    }
    let member = fetch(&mut tx, id).await?;
    audit::record(
        &mut tx,
        actor,
        Change::of("member.create", "member", member.id, None, Some(&member))?,
    )
    .await?;
    tx.commit().await?;
    Ok(redact_for(actor, member))
}

/// `member show`: admins, the member, their coach, or a coach connected
/// with them (within what the member shares).
pub async fn show(pool: &PgPool, actor: &Actor, who: &UserRef) -> Result<Member> {
    let mut conn = pool.acquire().await?;
    let m = find(&mut conn, actor, who).await?;
    access(actor, &m)?;
    Ok(redact_for(actor, m))
}

/// `member update`. Admins change anything; the coach changes goals, health
/// info, coach notes and status; the member their name, zone, goals and
/// health info.
pub async fn update(
    pool: &PgPool,
    actor: &Actor,
    who: &UserRef,
    change: MemberUpdate,
) -> Result<Member> {
    let mut tx = pool.begin().await?;
    let before = find_for_update(&mut tx, actor, who).await?;
    let level = access(actor, &before)?;
    let refuse = |field: &str| {
        Err(Error::forbidden(format!(
            "{} may not change the {field} of member {}",
            actor.label(),
            before.email
        )))
    };
    match level {
        Access::Admin => {}
        Access::Coach => {
            if change.name.is_some() || change.timezone.is_some() {
                return refuse("name or time zone");
            }
        }
        Access::Connected => return Err(only_their_coach(actor, &before)),
        Access::Own => {
            if change.coach_notes.is_some() {
                return refuse("coach notes");
            }
            if change.membership_status.is_some() {
                return refuse("membership status");
            }
        }
    }
    let id = UserId::from_uuid(before.id);
    users::update_basics(&mut tx, id, change.name.as_ref(), change.timezone).await?;
    let text = |t: &Option<ProfileText>| t.as_ref().map(|t| t.as_str().to_string());
    // Only the fields given: a login may set (and read) only its own
    // side's columns, and naming one, even to keep it, needs the grant.
    let mut sets = Vec::new();
    for (given, set) in [
        (change.goals.is_some(), "goals = nullif($2, '')"),
        (change.health_info.is_some(), "health_info = nullif($3, '')"),
        (change.coach_notes.is_some(), "coach_notes = nullif($4, '')"),
        (change.membership_status.is_some(), "membership_status = $5"),
    ] {
        if given {
            sets.push(set);
        }
    }
    sets.push("updated_at = now()");
    let sql = format!(
        "UPDATE member_profiles SET {} WHERE user_id = $1",
        sets.join(", ")
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.as_uuid())
        .bind(text(&change.goals))
        .bind(text(&change.health_info))
        .bind(text(&change.coach_notes))
        .bind(change.membership_status.map(|s| s.as_str()))
        .execute(&mut *tx)
        .await
        .on_constraint("coach_profiles_member_count_within_max", || {
            Error::conflict(format!(
                "member {} cannot become active: their coach {} is at capacity",
                before.email,
                before.coach_email.clone().unwrap_or_default()
            ))
        })?;
    let after = fetch(&mut tx, id).await?;
    record(&mut tx, actor, "member.update", &before, &after).await?;
    tx.commit().await?;
    Ok(redact_for(actor, after))
}

async fn find_for_update(conn: &mut PgConnection, actor: &Actor, who: &UserRef) -> Result<Member> {
    let m = find(conn, actor, who).await?;
    sqlx::query("SELECT 1 FROM member_profiles WHERE user_id = $1 FOR UPDATE")
        .bind(m.id)
        .execute(&mut *conn)
        .await?;
    // Re-read under the lock: another change may have landed meanwhile.
    fetch(conn, UserId::from_uuid(m.id)).await
}

async fn record(
    conn: &mut PgConnection,
    actor: &Actor,
    action: &str,
    before: &Member,
    after: &Member,
) -> Result<()> {
    audit::record(
        conn,
        actor,
        Change::of(action, "member", after.id, Some(before), Some(after))?,
    )
    .await
}

/// `member assign`: admins only. Refused when the coach is full (exit 6,
/// even when two admins assign at once) or not accepting (exit 7).
pub async fn assign(
    pool: &PgPool,
    actor: &Actor,
    who: &UserRef,
    coach_ref: &UserRef,
) -> Result<Member> {
    actor.require_admin("assign members to coaches")?;
    let mut tx = pool.begin().await?;
    let before = find_for_update(&mut tx, actor, who).await?;
    let coach = coach::find(&mut tx, actor, coach_ref).await?;
    if before.coach_id == Some(coach.id) {
        // Idempotent: assigning again changes nothing and records nothing.
        return Ok(before);
    }
    set_coach(&mut tx, actor, UserId::from_uuid(before.id), Some(&coach)).await?;
    let after = fetch(&mut tx, UserId::from_uuid(before.id)).await?;
    record(&mut tx, actor, "member.assign", &before, &after).await?;
    tx.commit().await?;
    Ok(after)
}

/// `member unassign`: admins, or the member's own coach.
pub async fn unassign(pool: &PgPool, actor: &Actor, who: &UserRef) -> Result<Member> {
    let mut tx = pool.begin().await?;
    let before = find_for_update(&mut tx, actor, who).await?;
    match access(actor, &before)? {
        Access::Admin | Access::Coach => {}
        Access::Connected => return Err(only_their_coach(actor, &before)),
        Access::Own => {
            return Err(Error::forbidden(format!(
                "{} may not unassign themself; ask an admin",
                actor.label()
            )));
        }
    }
    if before.coach_id.is_none() {
        return Ok(redact_for(actor, before));
    }
    set_coach(&mut tx, actor, UserId::from_uuid(before.id), None).await?;
    let after = fetch(&mut tx, UserId::from_uuid(before.id)).await?;
    record(&mut tx, actor, "member.unassign", &before, &after).await?;
    tx.commit().await?;
    Ok(redact_for(actor, after))
}

/// A new member (user and profile with defaults), audited as created: the
/// path `invite accept` takes for an invitee without an account.
pub(crate) async fn insert_profile(
    conn: &mut PgConnection,
    actor: &Actor,
    email: &Email,
    name: &PersonName,
    timezone: TimeZone,
) -> Result<UserId> {
    let id = users::insert(conn, email, name, Role::Member, timezone).await?;
    sqlx::query("INSERT INTO member_profiles (user_id) VALUES ($1)")
        .bind(id.as_uuid())
        .execute(&mut *conn)
        .await?;
    let member = fetch(conn, id).await?;
    audit::record(
        conn,
        actor,
        Change::of("member.create", "member", member.id, None, Some(&member))?,
    )
    .await?;
    Ok(id)
}

/// Assign a member to a coach inside the caller's transaction, through the
/// same capacity-guarded path as `member assign`. False when already theirs.
pub(crate) async fn assign_within(
    conn: &mut PgConnection,
    actor: &Actor,
    member: UserId,
    coach: &coach::Coach,
) -> Result<bool> {
    sqlx::query("SELECT 1 FROM member_profiles WHERE user_id = $1 FOR UPDATE")
        .bind(member.as_uuid())
        .execute(&mut *conn)
        .await?;
    let before = fetch(conn, member).await?;
    if before.coach_id == Some(coach.id) {
        return Ok(false);
    }
    set_coach(conn, actor, member, Some(coach)).await?;
    let after = fetch(conn, member).await?;
    record(conn, actor, "member.assign", &before, &after).await?;
    Ok(true)
}
