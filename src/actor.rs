//! Who is acting. Every library entry point takes an [`Actor`] and decides
//! itself what that actor may do; the CLI never filters.

use sqlx::PgPool;

use crate::db::Identity;
use crate::domain::{Role, TimeZone, UserId, UserRef};
use crate::error::{Error, Result};
use crate::users;

/// The role of this process's login (`admin`, `coach`, `member`,
/// `notifier`), unset for the owner. One command opens one connection, so
/// it is a property of the process: queries that read hidden fields pick
/// the definer reader by it (a login may not name those columns at all).
static LOGIN_ROLE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The role of the login this process is connected with (None: the owner).
pub fn login_role() -> Option<&'static str> {
    LOGIN_ROLE.get().map(String::as_str)
}

#[derive(Debug, Clone)]
pub struct Actor {
    id: Option<UserId>,
    role: Role,
    label: String,
    timezone: Option<TimeZone>,
    /// With `--as`: the OS user of the operator acting for `label`, which
    /// the audit log records beside the database login.
    operator_os_user: Option<String>,
    /// The cron job's login (`login grant --service notifier`): it sends
    /// the outbox and queues reminders, and may do nothing else.
    service: bool,
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
            service: false,
        }
    }

    /// Who acts on a connection whose identity the database told
    /// ([`crate::db::identify`]): the owner acts as [`Actor::resolve`]
    /// says; a person's login is that person, and `--as` is theirs only
    /// when the login is an admin's (the database then acts for the named
    /// user through `coachctl.act_as`, and the audit records both).
    pub async fn from_identity(
        pool: &PgPool,
        identity: &Identity,
        who: Option<&UserRef>,
    ) -> Result<Self> {
        let nobody = || Error::forbidden("this login belongs to no one in this database");
        if !identity.is_owner() {
            let _ = LOGIN_ROLE.set(identity.role.clone());
        }
        match identity.role.as_str() {
            "owner" => return Self::resolve(pool, who).await,
            "notifier" => {
                if who.is_some() {
                    return Err(Error::forbidden(format!(
                        "acting as someone else needs an admin's login; {} is the cron job's",
                        identity.login
                    )));
                }
                return Ok(Actor {
                    id: None,
                    role: Role::Admin,
                    label: "notifier".into(),
                    timezone: None,
                    operator_os_user: None,
                    service: true,
                });
            }
            "admin" | "coach" | "member" => {}
            _ => return Err(nobody()),
        }
        let me = identity.user.ok_or_else(nobody)?;
        let mut conn = pool.acquire().await?;
        let user = users::find(&mut conn, &UserRef::Id(UserId::from_uuid(me)))
            .await?
            .ok_or_else(nobody)?;
        let target = match who {
            None => user,
            Some(who) => {
                let refused = || {
                    Error::forbidden(format!(
                        "acting as someone else needs an admin's login; {} is {}'s",
                        identity.login, user.email
                    ))
                };
                let named = users::find(&mut conn, who).await;
                match named {
                    Ok(Some(t)) if t.id == user.id => user,
                    _ if user.role != Role::Admin => return Err(refused()),
                    Ok(Some(t)) if !t.active => {
                        return Err(Error::forbidden(format!(
                            "cannot act as {}: the account is deactivated",
                            t.email
                        )));
                    }
                    Ok(Some(t)) => {
                        act_as(pool, &mut conn, t.id);
                        t
                    }
                    Ok(None) => {
                        return Err(Error::forbidden(format!(
                            "cannot act as {who}: no such user"
                        )));
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        Ok(Actor {
            id: Some(target.id),
            role: target.role,
            label: target.email,
            timezone: Some(target.timezone),
            operator_os_user: None,
            service: false,
        })
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
            service: false,
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
        self.role == Role::Admin && !self.service
    }
    /// The cron job's login.
    pub fn is_service(&self) -> bool {
        self.service
    }

    /// Refuse unless admin or the cron job's login (the outbox and
    /// reminders); `what` completes "only an admin may ...".
    pub fn require_admin_or_cron(&self, what: &str) -> Result<()> {
        if self.service {
            Ok(())
        } else {
            self.require_admin(what)
        }
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
            let role = if self.service {
                "service login".to_string()
            } else {
                self.role.to_string()
            };
            Err(Error::forbidden(format!(
                "only an admin may {what}; {} is a {role}",
                self.label
            )))
        }
    }
}

/// Act for `user` from now on: every transaction of the command's
/// connection (and of any connection the pool opens again) starts by
/// setting `coachctl.act_as` for itself alone, in the same round trip as
/// its BEGIN or its statement (the vendored sqlx's transaction prelude).
/// Transaction-local, so behind a transaction-mode pooler such as
/// pgbouncer, which hands each transaction to whichever server connection
/// is free, it goes where the work goes and stays with no one else's; a
/// session setting would stay on the server connection for its next
/// client. The database honours it for an admin's login only.
fn act_as(pool: &PgPool, conn: &mut sqlx::PgConnection, user: UserId) {
    // a uuid of our own making: nothing to quote
    let prelude = format!(
        "SELECT set_config('coachctl.act_as', '{}', true)",
        user.as_uuid()
    );
    conn.set_transaction_prelude(Some(prelude.clone()));
    let options = (*pool.connect_options()).clone();
    pool.set_connect_options(options.transaction_prelude(Some(prelude)));
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
