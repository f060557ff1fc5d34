//! Who is acting. Every library entry point takes an [`Actor`] and decides
//! itself what that actor may do; the CLI never filters.

use crate::domain::{Role, TimeZone, UserId};
use crate::error::{Error, Result};

/// The role of this process's login (`admin`, `coach`, `member`,
/// `notifier`), unset for the owner. One command opens one connection, so
/// it is a property of the process: queries that read hidden fields pick
/// the definer reader by it (a login may not name those columns at all).
static LOGIN_ROLE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The role of the login this process is connected with (None: the owner).
pub fn login_role() -> Option<&'static str> {
    LOGIN_ROLE.get().map(String::as_str)
}

/// Set once, by [`Actor::from_identity`] (in `users`, which it reads).
pub(crate) fn set_login_role(role: &str) {
    let _ = LOGIN_ROLE.set(role.to_string());
}

// Fields are crate-visible for the resolving constructors in
// users::acting (they read users, which sits above this module).
#[derive(Debug, Clone)]
pub struct Actor {
    pub(crate) id: Option<UserId>,
    pub(crate) role: Role,
    pub(crate) label: String,
    pub(crate) timezone: Option<TimeZone>,
    /// With `--as`: the OS user of the operator acting for `label`, which
    /// the audit log records beside the database login.
    pub(crate) operator_os_user: Option<String>,
    /// The cron job's login (`login grant --service notifier`): it sends
    /// the outbox and queues reminders, and may do nothing else.
    pub(crate) service: bool,
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
