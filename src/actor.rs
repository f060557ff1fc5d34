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
    /// With `--as`: the OS user of the operator acting for `label`, which
    /// the audit log records beside the database login.
    operator_os_user: Option<String>,
}

impl Actor {
    /// The operator holding the database URL, acting as admin (no `--as`).
    pub fn operator() -> Self {
        Actor {
            id: None,
            role: Role::Admin,
            label: "operator".into(),
            timezone: None,
            operator_os_user: None,
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
            operator_os_user: Some(os_user()),
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
    /// The OS user behind an actor named by `--as` (None without it).
    pub fn operator_os_user(&self) -> Option<&str> {
        self.operator_os_user.as_deref()
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

/// The name of the OS user running this process: the account of its user
/// id (as `id -un` says), not `$USER`, which any caller may set; `uid N`
/// when the account has no name.
fn os_user() -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        // no /proc (not Linux): what the login shell said
        return std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".into());
    };
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|passwd| {
            passwd.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2].parse() == Ok(uid)).then(|| f[0].to_string())
            })
        })
        .unwrap_or_else(|| format!("uid {uid}"))
}
