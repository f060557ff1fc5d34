//! Who is acting. Every library entry point takes an [`Actor`] and decides
//! itself what that actor may do; the CLI never filters.

use sqlx::PgPool;

use crate::domain::{Role, TimeZone, UserId, UserRef};
use crate::error::{Error, Result};
use crate::users;

#[derive(Debug, Clone)]
pub struct Actor {
    id: Option<UserId>,
    role: Role,
    label: String,
    timezone: Option<TimeZone>,
}

impl Actor {
    /// The operator holding the database URL, acting as admin (no `--as`).
    pub fn operator() -> Self {
        Actor {
            id: None,
            role: Role::Admin,
            label: "operator".into(),
            timezone: None,
        }
    }

    /// The user named by `--as`; unknown or deactivated users may not act.
    pub async fn resolve(pool: &PgPool, who: Option<&UserRef>) -> Result<Self> {
        let Some(who) = who else {
            return Ok(Actor::operator());
        };
        let mut conn = pool.acquire().await?;
        let user = users::find(&mut conn, who)
            .await?
            .ok_or_else(|| Error::forbidden(format!("cannot act as {who}: no such user")))?;
        if !user.active {
            return Err(Error::forbidden(format!(
                "cannot act as {}: the account is deactivated",
                user.email
            )));
        }
        Ok(Actor {
            id: Some(user.id),
            role: user.role,
            label: user.email,
            timezone: Some(user.timezone),
        })
    }

    pub fn id(&self) -> Option<UserId> {
        self.id
    }
    pub fn role(&self) -> Role {
        self.role
    }
    /// An email, or "operator": what the audit log records.
    pub fn label(&self) -> &str {
        &self.label
    }
    pub fn timezone(&self) -> Option<TimeZone> {
        self.timezone
    }
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
    /// True when the actor is this very user.
    pub fn is(&self, user: UserId) -> bool {
        self.id == Some(user)
    }
    /// The actor's id when they act as a coach.
    pub fn as_coach(&self) -> Option<UserId> {
        (self.role == Role::Coach).then_some(self.id).flatten()
    }

    /// Refuse unless admin; `what` completes "only an admin may ...".
    pub fn require_admin(&self, what: &str) -> Result<()> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(Error::forbidden(format!(
                "only an admin may {what}; {} is a {}",
                self.label, self.role
            )))
        }
    }
}
