//! Who acts: the [`Actor`] of a connection's identity or of `--as`, read
//! from the users table (the type itself lives in `crate::actor`, below).

use sqlx::PgPool;

use crate::actor::{Actor, set_login_role};
use crate::db::Identity;
use crate::domain::{Role, UserId, UserRef};
use crate::error::{Error, Result};
use crate::users::{self, User};

impl Actor {
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
            set_login_role(&identity.role);
        }
        match identity.role.as_str() {
            "owner" => {
                let Some(who) = who else {
                    return Ok(Actor::operator());
                };
                let mut conn = pool.acquire().await?;
                let named = found(&mut conn, identity.named.as_ref(), who).await?;
                return Self::acting_as(named, who);
            }
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
        // the identity query read the login's person (a connection made
        // before that query existed did not)
        let mine = match identity.me.as_ref().map(decode).transpose()? {
            Some(u) if u.id.as_uuid() == me => Some(u),
            _ => users::find(&mut conn, &UserRef::Id(UserId::from_uuid(me))).await?,
        };
        let user = mine.ok_or_else(nobody)?;
        let target = match who {
            None => user,
            Some(who) => {
                let refused = || {
                    Error::forbidden(format!(
                        "acting as someone else needs an admin's login; {} is {}'s",
                        identity.login, user.email
                    ))
                };
                let named = found(&mut conn, identity.named.as_ref(), who).await;
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
        let named = users::find(&mut conn, who).await?;
        Self::acting_as(named, who)
    }

    /// The operator acting as `named`, the user `--as` named (None: nobody).
    fn acting_as(named: Option<User>, who: &UserRef) -> Result<Self> {
        let user =
            named.ok_or_else(|| Error::forbidden(format!("cannot act as {who}: no such user")))?;
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
}

/// The user `who` names: as the identity query found them (`named`, see
/// [`crate::db::identify_as`]), else looked up now.
async fn found(
    conn: &mut sqlx::PgConnection,
    named: Option<&Option<serde_json::Value>>,
    who: &UserRef,
) -> Result<Option<User>> {
    match named {
        Some(row) => row.as_ref().map(decode).transpose(),
        None => users::find(conn, who).await,
    }
}

/// A users row as the identity query gives it (`to_jsonb`).
fn decode(v: &serde_json::Value) -> Result<User> {
    let row: users::UserRow = serde_json::from_value(v.clone())
        .map_err(|e| Error::Internal(format!("the identity query's user row: {e}")))?;
    row.try_into()
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
pub(crate) fn os_user() -> String {
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
