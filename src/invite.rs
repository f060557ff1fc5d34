//! Invitations (seed 004): a coach invites a person by email or an existing
//! member; the invitee redeems a single-use code.
//!
//! The code is 256 bits from the OS RNG, shown once as base64url and stored
//! only as its SHA-256, so neither the database, the audit log, `invite
//! list` nor any error can reveal it. Two rules belong to the database:
//! at most 10 invitations per coach per rolling 24 h (the
//! `invitations_rate_limit` trigger, under the coach's row lock), and
//! single use: redeeming is one `UPDATE ... WHERE status = 'pending'`, so of
//! any number of concurrent redeemers exactly one changes the row.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

use crate::actor::Actor;
use crate::audit::{self, Change};
use crate::coach;
use crate::connect;
use crate::domain::{Email, PersonName, ProfileText, Role, TimeZone, UserId, UserRef};
use crate::error::{Error, Result, ResultExt};
use crate::member;
use crate::users::{self, Sight};

/// How long a code may be redeemed.
pub const VALID_FOR_DAYS: i64 = 7;
/// Invitations one coach may send per rolling 24 hours (enforced by the database).
pub const PER_DAY: i64 = 10;

/// A secret invitation code. Its `Debug` and `Display` never show it: the
/// only way to read it is [`InviteCode::reveal`], used once when printing.
#[derive(Clone, PartialEq, Eq)]
pub struct InviteCode(String);

impl InviteCode {
    /// 256 bits from the operating system's RNG, as unpadded base64url.
    pub fn generate() -> Result<Self> {
        let mut bytes = [0u8; 32];
        getrandom::getrandom(&mut bytes)
            .map_err(|e| Error::Unavailable(format!("the OS random source failed: {e}")))?;
        Ok(InviteCode(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        ))
    }
    /// The code itself, to print exactly once.
    pub fn reveal(&self) -> &str {
        &self.0
    }
    /// What the database keeps instead of the code.
    fn hash(&self) -> Vec<u8> {
        Sha256::digest(self.0.as_bytes()).to_vec()
    }
}

impl fmt::Debug for InviteCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InviteCode(<secret>)")
    }
}

impl fmt::Display for InviteCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<invitation code>")
    }
}

impl FromStr for InviteCode {
    type Err = Error;
    /// Any text is a candidate code: one that matches no hash is unknown
    /// (exit 5). The error never quotes what was typed.
    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim();
        if t.is_empty() {
            return Err(Error::invalid("an invitation code cannot be empty"));
        }
        Ok(InviteCode(t.to_string()))
    }
}

/// An invitation as `invite list` shows it: never the code.
#[derive(Debug, Clone, Serialize, PartialEq, FromRow)]
pub struct Invitation {
    pub id: Uuid,
    pub coach_email: String,
    pub email: String,
    /// pending, accepted, declined, revoked, or expired (a pending one past its expiry).
    pub status: String,
    pub message: Option<String>,
    pub assign: bool,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

const SELECT: &str = "SELECT i.id, cu.email AS coach_email, i.email,
        CASE WHEN i.status = 'pending' AND i.expires_at <= now() THEN 'expired' ELSE i.status END AS status,
        i.message, i.assign, i.created_at, i.expires_at
    FROM invitations i JOIN users cu ON cu.id = i.coach_id";

/// A sent invitation and its code, which exists nowhere else.
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    #[serde(flatten)]
    pub invitation: Invitation,
    /// Shown once: only its hash is stored.
    pub code: String,
}

/// Whom to invite, and for which coach.
#[derive(Debug, Clone)]
pub enum Invitee {
    Email(Email),
    User(UserRef),
}

/// Input of `invite send`.
#[derive(Debug, Clone)]
pub struct NewInvite {
    /// The inviting coach; a coach acting invites for themself.
    pub coach: Option<UserRef>,
    pub invitee: Invitee,
    pub message: Option<ProfileText>,
    /// Accepting also assigns the member to the coach (within capacity).
    pub assign: bool,
}

/// The outcome of `invite accept`.
#[derive(Debug, Clone, Serialize)]
pub struct Accepted {
    #[serde(flatten)]
    pub invitation: Invitation,
    pub member_id: Uuid,
    pub connection_id: Uuid,
    pub assigned: bool,
}

async fn inviting_coach(
    conn: &mut PgConnection,
    actor: &Actor,
    named: Option<&UserRef>,
) -> Result<coach::Coach> {
    match (actor.role(), named) {
        (Role::Admin, Some(c)) => coach::find(conn, actor, c).await,
        (Role::Admin, None) => Err(Error::invalid(
            "name the inviting coach with --coach when acting as an admin",
        )),
        (Role::Coach, named) => {
            let me = actor
                .as_coach()
                .ok_or_else(|| Error::Internal("a coach actor without an id".into()))?;
            let c = coach::fetch(conn, me).await?;
            if let Some(n) = named {
                let other = coach::find(conn, actor, n).await?;
                if other.id != c.id {
                    return Err(Error::forbidden(format!(
                        "{} may only send invitations as themself, not for {}",
                        actor.label(),
                        other.email
                    )));
                }
            }
            Ok(c)
        }
        (Role::Member, _) => Err(Error::forbidden(format!(
            "{} is a member; only coaches and admins send invitations",
            actor.label()
        ))),
    }
}

/// `invite send`: the coach (or an admin for any coach) invites a person.
/// The 11th invitation of a coach within 24 hours is refused by the
/// database (exit 6), naming when the next one is allowed.
pub async fn send(pool: &PgPool, actor: &Actor, new: &NewInvite) -> Result<Sent> {
    let mut tx = pool.begin().await?;
    let c = inviting_coach(&mut tx, actor, new.coach.as_ref()).await?;
    if !c.active {
        return Err(Error::rule(format!(
            "coach {} is deactivated and cannot invite",
            c.email
        )));
    }
    let email = match &new.invitee {
        Invitee::Email(e) => {
            // Someone out of sight is invited as anyone unknown would be.
            let seen =
                users::find_seen(&mut tx, actor, Sight::Seen, &UserRef::Email(e.clone())).await?;
            if let Some(u) = seen
                && u.role != Role::Member
            {
                return Err(Error::rule(format!(
                    "{} is a {}; only members are invited",
                    u.email, u.role
                )));
            }
            e.as_str().to_string()
        }
        // An existing member: one `connect search` shows the coach, or their own.
        Invitee::User(r) => {
            users::find_with_role(&mut tx, actor, Sight::Reach, r, Role::Member)
                .await?
                .email
        }
    };
    let code = InviteCode::generate()?;
    let id = Uuid::new_v4();
    let inserted = sqlx::query(
        "INSERT INTO invitations (id, coach_id, email, code_hash, message, assign, created_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(days => $8))",
    )
    .bind(id)
    .bind(c.id)
    .bind(&email)
    .bind(code.hash())
    .bind(new.message.clone().and_then(ProfileText::into_option))
    .bind(new.assign)
    .bind(actor.label())
    .bind(VALID_FOR_DAYS as i32)
    .execute(&mut *tx)
    .await
    .on_constraint("invitations_rate_limit", || Error::conflict(""));
    if let Err(Error::Conflict(_)) = inserted {
        tx.rollback().await?;
        return Err(rate_limited(pool, &c).await?);
    }
    inserted?;
    let invitation = fetch(&mut tx, id).await?;
    audit::record(
        &mut tx,
        actor,
        Change::of("invitation.send", "invitation", id, None, Some(&invitation))?,
    )
    .await?;
    tx.commit().await?;
    Ok(Sent {
        invitation,
        code: code.reveal().to_string(),
    })
}

/// The refusal of an invitation over the limit: when the next is allowed.
async fn rate_limited(pool: &PgPool, c: &coach::Coach) -> Result<Error> {
    let next: Option<DateTime<Utc>> = sqlx::query_scalar(
        "SELECT min(created_at) + interval '24 hours' FROM invitations
         WHERE coach_id = $1 AND created_at > clock_timestamp() - interval '24 hours'",
    )
    .bind(c.id)
    .fetch_one(pool)
    .await?;
    let when = next
        .map(|t| crate::domain::dates::moment_now(t, chrono_tz::UTC))
        .unwrap_or_else(|| "now".into());
    Ok(Error::conflict(format!(
        "coach {} has sent {PER_DAY} invitations in the last 24 hours; the next is allowed at {when}",
        c.email
    )))
}

async fn fetch(conn: &mut PgConnection, id: Uuid) -> Result<Invitation> {
    let sql = format!("{SELECT} WHERE i.id = $1");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_one(&mut *conn)
        .await?)
}

/// Why a code cannot be answered: unknown (5) or no longer pending (7).
async fn unusable(conn: &mut PgConnection, code: &InviteCode) -> Result<Error> {
    let sql = format!("{SELECT} WHERE i.id = redeem_invitation($1)");
    let found: Option<Invitation> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(code.hash())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(match found {
        None => Error::not_found("no invitation has this code; check it was copied completely"),
        Some(i) => Error::rule(match i.status.as_str() {
            "accepted" => format!("invitation {} has already been used", i.id),
            "declined" => format!("invitation {} was declined", i.id),
            "revoked" => format!("invitation {} was revoked by its coach", i.id),
            "expired" => format!(
                "invitation {} expired at {}; ask {} for a new one",
                i.id,
                crate::domain::dates::moment_now(i.expires_at, chrono_tz::UTC),
                i.coach_email
            ),
            other => format!("invitation {} is {other}", i.id),
        }),
    })
}

/// Only the invitee (a member with the invited email) or an admin/operator
/// holding the code may answer it; a coach never.
async fn may_answer(conn: &mut PgConnection, actor: &Actor, invitation: &Invitation) -> Result<()> {
    let invitee = match actor.id() {
        Some(me) if actor.role() == Role::Member => {
            sqlx::query_scalar("SELECT email_key(email) = email_key($2) FROM users WHERE id = $1")
                .bind(me.as_uuid())
                .bind(&invitation.email)
                .fetch_one(&mut *conn)
                .await?
        }
        _ => false,
    };
    match actor.role() {
        Role::Admin => Ok(()),
        Role::Member if invitee => Ok(()),
        _ => Err(Error::forbidden(format!(
            "{} may not answer invitation {}: it is for {}",
            actor.label(),
            invitation.id,
            invitation.email
        ))),
    }
}

/// Take the code: one UPDATE decides, so concurrent redeemers of one code
/// find exactly one winner; the rest see it answered.
async fn take(conn: &mut PgConnection, code: &InviteCode, status: &str) -> Result<Invitation> {
    let taken: Option<Uuid> = sqlx::query_scalar(
        "UPDATE invitations SET status = $2, answered_at = now()
         WHERE id = redeem_invitation($1) AND status = 'pending' AND expires_at > now()
         RETURNING id",
    )
    .bind(code.hash())
    .bind(status)
    .fetch_optional(&mut *conn)
    .await?;
    match taken {
        Some(id) => fetch(conn, id).await,
        None => Err(unusable(conn, code).await?),
    }
}

/// `invite accept`: in one transaction, the member (created if needed), the
/// accepted connection, and with an assigning invitation the assignment
/// within the coach's capacity. Anything refused leaves the code unused.
pub async fn accept(
    pool: &PgPool,
    actor: &Actor,
    code: &InviteCode,
    name: Option<&PersonName>,
) -> Result<Accepted> {
    if actor.role() == Role::Coach {
        return Err(Error::forbidden(format!(
            "{} is a coach; invitations are accepted by the invited member",
            actor.label()
        )));
    }
    let mut tx = pool.begin().await?;
    let before = {
        let sql = format!("{SELECT} WHERE i.id = redeem_invitation($1)");
        let found: Option<Invitation> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(code.hash())
            .fetch_optional(&mut *tx)
            .await?;
        found
    };
    if let Some(b) = &before {
        may_answer(&mut tx, actor, b).await?;
    }
    let invitation = take(&mut tx, code, "accepted").await?;
    let coach_id: Uuid = sqlx::query_scalar("SELECT coach_id FROM invitations WHERE id = $1")
        .bind(invitation.id)
        .fetch_one(&mut *tx)
        .await?;
    let member_id = match users::find(
        &mut tx,
        &UserRef::Email(Email::from_str(&invitation.email)?),
    )
    .await?
    {
        Some(u) if u.role == Role::Member => u.id,
        Some(u) => {
            return Err(Error::rule(format!(
                "{} is now a {}; only members accept invitations",
                u.email, u.role
            )));
        }
        None => {
            let email = Email::from_str(&invitation.email)?;
            let name = match name {
                Some(n) => n.clone(),
                None => PersonName::from_str(email.as_str().split('@').next().unwrap_or("member"))?,
            };
            member::insert_profile(&mut tx, actor, &email, &name, TimeZone::utc()).await?
        }
    };
    let connection_id =
        connect::open_accepted(&mut tx, actor, coach_id, member_id.as_uuid()).await?;
    let mut assigned = false;
    if invitation.assign {
        let c = coach::fetch(&mut tx, UserId::from_uuid(coach_id)).await?;
        assigned = member::assign_within(&mut tx, actor, member_id, &c).await?;
    }
    let after = fetch(&mut tx, invitation.id).await?;
    audit::record(
        &mut tx,
        actor,
        Change::of(
            "invitation.accept",
            "invitation",
            invitation.id,
            before.as_ref(),
            Some(&after),
        )?,
    )
    .await?;
    tx.commit().await?;
    Ok(Accepted {
        invitation: after,
        member_id: member_id.as_uuid(),
        connection_id,
        assigned,
    })
}

/// `invite decline`: the invitee (or an admin) turns a code down; recorded.
pub async fn decline(pool: &PgPool, actor: &Actor, code: &InviteCode) -> Result<Invitation> {
    if actor.role() == Role::Coach {
        return Err(Error::forbidden(format!(
            "{} is a coach; coaches revoke invitations with `invite revoke`",
            actor.label()
        )));
    }
    let mut tx = pool.begin().await?;
    let sql = format!("{SELECT} WHERE i.id = redeem_invitation($1)");
    let before: Option<Invitation> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(code.hash())
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(b) = &before {
        may_answer(&mut tx, actor, b).await?;
    }
    let after = take(&mut tx, code, "declined").await?;
    audit::record(
        &mut tx,
        actor,
        Change::of(
            "invitation.decline",
            "invitation",
            after.id,
            before.as_ref(),
            Some(&after),
        )?,
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// `invite revoke`: the inviting coach or an admin withdraws a pending invitation.
pub async fn revoke(pool: &PgPool, actor: &Actor, id: Uuid) -> Result<Invitation> {
    let mut tx = pool.begin().await?;
    let owner: Option<Uuid> =
        sqlx::query_scalar("SELECT coach_id FROM invitations WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(owner) = owner else {
        return Err(Error::not_found(format!("no invitation {id}")));
    };
    if !actor.is_admin() && !actor.is(UserId::from_uuid(owner)) {
        return Err(Error::forbidden(format!(
            "{} may not revoke invitation {id}: only its coach or an admin may",
            actor.label()
        )));
    }
    let before = fetch(&mut tx, id).await?;
    if before.status != "pending" {
        return Err(Error::rule(format!(
            "invitation {id} is {} and can no longer be revoked",
            before.status
        )));
    }
    sqlx::query("UPDATE invitations SET status = 'revoked', answered_at = now() WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let after = fetch(&mut tx, id).await?;
    audit::record(
        &mut tx,
        actor,
        Change::of(
            "invitation.revoke",
            "invitation",
            id,
            Some(&before),
            Some(&after),
        )?,
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// `invite list`: admins see all, a coach theirs, a member the ones for them.
pub async fn list(pool: &PgPool, actor: &Actor) -> Result<Vec<Invitation>> {
    let mut conn = pool.acquire().await?;
    let me = actor.id().map(|i| i.as_uuid());
    let sql = format!(
        "{SELECT}
         WHERE $1
            OR ($2 AND i.coach_id = $3)
            OR ($4 AND email_key(i.email) = (SELECT email_key(email) FROM users WHERE id = $3))
         ORDER BY i.created_at DESC, i.id"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(actor.is_admin())
        .bind(actor.role() == Role::Coach)
        .bind(me)
        .bind(actor.role() == Role::Member)
        .fetch_all(&mut *conn)
        .await?)
}
