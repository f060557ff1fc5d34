//! Database logins (issue 17): a PostgreSQL role per person, so that the
//! database itself knows who is asking (docs/design/identity.md §2). The
//! role DDL lives in definer functions of migration 20261207001100; this
//! module computes the password's SCRAM verifier, calls them and builds the
//! connection URL.

pub mod pgbouncer;
pub mod scram;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::actor::Actor;
use crate::audit::{self, Change};
use crate::db::Target;
use crate::domain::UserRef;
use crate::error::{Error, Result};
use crate::users;

/// Whose login: a person's, or a service's (the cron job).
#[derive(Debug, Clone)]
pub enum Holder {
    User(UserRef),
    Service(Service),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Service {
    /// The cron job: `notify send` and `session remind`, nothing else
    Notifier,
    /// pgbouncer's auth_user: runs its auth_query, nothing else
    Pgbouncer,
}

impl Service {
    fn as_str(self) -> &'static str {
        match self {
            Service::Notifier => "notifier",
            Service::Pgbouncer => "pgbouncer",
        }
    }
}

/// What `login grant` made: shown once (the password is in the URL).
#[derive(Debug, Clone, Serialize)]
pub struct Granted {
    /// The login's role name (every JSON object has an id).
    pub id: String,
    /// The person's email, or the service's name.
    pub user: String,
    pub login: String,
    pub url: String,
}

/// A row of `login list`.
#[derive(Debug, Clone, Serialize)]
pub struct Login {
    pub id: String,
    /// The person's email, or the service's name.
    pub user: String,
    pub login: String,
    /// admin, coach, member, notifier; `deactivated` for a deactivated user.
    pub role: String,
    pub changed_at: DateTime<Utc>,
}

/// Where the database is, for the URL a login connects with: the
/// `DATABASE_URL` coachctl was given. The embedded cluster admits only its
/// owner over its private socket, so it has no logins (checked before
/// connecting, so that nothing is started for a refusal).
pub fn base_url(target: &Target) -> Result<&str> {
    match target {
        Target::Url(u) | Target::ReadUrl(u) => Ok(u),
        Target::Embedded(_) => Err(Error::rule(
            "logins need DATABASE_URL: the embedded cluster admits only its owner, over its private socket",
        )),
    }
}

/// The person or service a login is for: (user id, label).
async fn holder(conn: &mut PgConnection, who: &Holder) -> Result<(Option<Uuid>, String)> {
    match who {
        Holder::Service(s) => Ok((None, s.as_str().to_string())),
        Holder::User(r) => {
            let u = users::find(conn, r)
                .await?
                .ok_or_else(|| Error::not_found(format!("no user {r}")))?;
            Ok((Some(u.id.as_uuid()), u.email))
        }
    }
}

async fn existing(
    conn: &mut PgConnection,
    user: Option<Uuid>,
    label: &str,
) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT role_name::text FROM logins
         WHERE user_id = $1 OR (user_id IS NULL AND $1 IS NULL AND service = $2)",
    )
    .bind(user)
    .bind(label)
    .fetch_optional(&mut *conn)
    .await?)
}

fn owner_cannot(owner: &str) -> Error {
    Error::rule(format!(
        "the database owner cannot create roles; a superuser must run: ALTER ROLE {owner} CREATEROLE; then coachctl login grant again"
    ))
}

/// Map the login functions' refusals (SQLSTATE class CC, migration
/// 20261207001100) and role collisions to sentences.
fn refusal(e: sqlx::Error, owner: &str, login_of: &str) -> Error {
    if let sqlx::Error::Database(db) = &e {
        match db.code().as_deref() {
            Some("CC001") => return Error::forbidden("only an admin may grant or revoke logins"),
            Some("CC002") => {
                return Error::rule(format!(
                    "{login_of} is deactivated; a login needs an active user"
                ));
            }
            Some("CC003") => return owner_cannot(owner),
            // duplicate_object: a role of that name exists on the server
            Some("42710") => {
                return Error::conflict(format!(
                    "a database role for {login_of} exists already on this server but belongs to no login here; drop it first"
                ));
            }
            _ => {}
        }
        if matches!(db.constraint(), Some("logins_pkey" | "logins_user_key")) {
            return Error::conflict(format!(
                "{login_of} has a database login already; pass --rotate for a new password"
            ));
        }
    }
    e.into()
}

/// `login grant` (admin only): a login for a person or the cron job, with
/// `password` or a generated one; `rotate` gives an existing login a new
/// password instead of refusing it (exit 6).
pub async fn grant(
    pool: &PgPool,
    actor: &Actor,
    base: &str,
    who: &Holder,
    password: Option<String>,
    rotate: bool,
    pgbouncer_file: Option<&std::path::Path>,
) -> Result<Granted> {
    actor.require_admin("grant database logins")?;
    if let Some(path) = pgbouncer_file {
        if matches!(who, Holder::Service(Service::Pgbouncer)) {
            // pgbouncer logs in as its auth_user with the password itself,
            // and coachctl writes no password to a file
            return Err(Error::invalid(
                "pgbouncer's own login needs its password in the auth_file, which coachctl does not write; add the line \"<login>\" \"<password>\" from this command's URL yourself",
            ));
        }
        pgbouncer::check(path)?;
    }
    let password = match password {
        Some(p) => check_password(p)?,
        None => generate_password()?,
    };
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt)
        .map_err(|e| Error::Internal(format!("no randomness for a password salt: {e}")))?;
    let verifier = scram::verifier(&password, &salt);

    let mut tx = pool.begin().await?;
    let owner: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&mut *tx)
        .await?;
    let role: String = sqlx::query_scalar("SELECT current_actor_role()")
        .fetch_one(&mut *tx)
        .await?;
    // The groups and grants, made now if the owner gained CREATEROLE
    // after migrating (idempotent; an admin's login implies they exist).
    if role == "owner" {
        let installed: bool = sqlx::query_scalar("SELECT identity_install()")
            .fetch_one(&mut *tx)
            .await?;
        if !installed {
            return Err(owner_cannot(&owner));
        }
    }
    let (user, label) = holder(&mut tx, who).await?;
    let service = match who {
        Holder::Service(s) => Some(s.as_str()),
        Holder::User(_) => None,
    };
    let login = match existing(&mut tx, user, &label).await? {
        Some(login) if rotate => {
            let changed: bool = sqlx::query_scalar("SELECT login_password($1, $2)")
                .bind(&login)
                .bind(&verifier)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| refusal(e, &owner, &label))?;
            if !changed {
                return Err(Error::conflict(format!(
                    "the database role of {label}'s login is missing; run coachctl login revoke, then grant again"
                )));
            }
            login
        }
        Some(_) => {
            return Err(Error::conflict(format!(
                "{label} has a database login already; pass --rotate for a new password"
            )));
        }
        None => sqlx::query_scalar("SELECT login_grant($1, $2, $3)::text")
            .bind(user)
            .bind(service)
            .bind(&verifier)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| refusal(e, &owner, &label))?,
    };
    let action = if rotate {
        "login.rotate"
    } else {
        "login.grant"
    };
    record(&mut tx, actor, action, user, &label, &login).await?;
    // Before the commit: a file that cannot be written changes nothing.
    if let Some(path) = pgbouncer_file {
        pgbouncer::write(path, &login, Some(&verifier))?;
    }
    tx.commit().await?;
    Ok(Granted {
        id: login.clone(),
        user: label,
        url: login_url(base, &login, &password),
        login,
    })
}

/// `login list` (admin only): every login of this database.
pub async fn list(pool: &PgPool, actor: &Actor) -> Result<Vec<Login>> {
    actor.require_admin("list database logins")?;
    let rows: Vec<(String, String, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT l.role_name::text, coalesce(u.email, l.service),
                coalesce(l.service, CASE WHEN u.active THEN u.role ELSE 'deactivated' END),
                l.changed_at
         FROM logins l LEFT JOIN users u ON u.id = l.user_id
         ORDER BY l.service NULLS FIRST, u.email",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(login, user, role, changed_at)| Login {
            id: login.clone(),
            user,
            login,
            role,
            changed_at,
        })
        .collect())
}

/// `login revoke` (admin only): the login's open connections end and its
/// role is dropped; the person and their data stay.
pub async fn revoke(
    pool: &PgPool,
    actor: &Actor,
    who: &Holder,
    pgbouncer_file: Option<&std::path::Path>,
) -> Result<Login> {
    actor.require_admin("revoke database logins")?;
    if let Some(path) = pgbouncer_file {
        pgbouncer::check(path)?;
    }
    let mut tx = pool.begin().await?;
    let (user, label) = holder(&mut tx, who).await?;
    let gone = || Error::not_found(format!("{label} has no database login"));
    let login = existing(&mut tx, user, &label).await?.ok_or_else(gone)?;
    let row = list_one(&mut tx, &login).await?;
    let dropped: bool = sqlx::query_scalar("SELECT login_revoke($1)")
        .bind(&login)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| refusal(e, "", &label))?;
    if !dropped {
        return Err(gone());
    }
    record(&mut tx, actor, "login.revoke", user, &label, &login).await?;
    if let Some(path) = pgbouncer_file {
        pgbouncer::write(path, &login, None)?;
    }
    tx.commit().await?;
    Ok(row)
}

async fn list_one(conn: &mut PgConnection, login: &str) -> Result<Login> {
    let (user, role, changed_at): (String, String, DateTime<Utc>) = sqlx::query_as(
        "SELECT coalesce(u.email, l.service),
                coalesce(l.service, CASE WHEN u.active THEN u.role ELSE 'deactivated' END),
                l.changed_at
         FROM logins l LEFT JOIN users u ON u.id = l.user_id WHERE l.role_name = $1",
    )
    .bind(login)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Login {
        id: login.to_string(),
        user,
        login: login.to_string(),
        role,
        changed_at,
    })
}

/// The audit entry: who got or lost which login, never the password.
async fn record(
    conn: &mut PgConnection,
    actor: &Actor,
    action: &str,
    user: Option<Uuid>,
    label: &str,
    login: &str,
) -> Result<()> {
    let what = serde_json::json!({ "user": label, "login": login });
    let (before, after) = if action == "login.revoke" {
        (Some(what), None)
    } else {
        (None, Some(what))
    };
    audit::record(
        conn,
        actor,
        Change {
            action,
            entity: "login",
            entity_id: user,
            before,
            after,
        },
    )
    .await
}

/// A password given on stdin: one line, printable ASCII (PostgreSQL
/// normalises other characters with SASLprep, which is not done here).
fn check_password(p: String) -> Result<String> {
    let p = p.trim_end_matches(['\r', '\n']).to_string();
    if p.is_empty() {
        return Err(Error::invalid("the password on stdin is empty"));
    }
    if !p.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(Error::invalid(
            "the password must be printable ASCII on one line",
        ));
    }
    Ok(p)
}

/// 24 letters and digits from the OS's randomness (about 143 bits).
fn generate_password() -> Result<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut out = String::with_capacity(24);
    while out.len() < 24 {
        let mut bytes = [0u8; 32];
        getrandom::getrandom(&mut bytes)
            .map_err(|e| Error::Internal(format!("no randomness for a password: {e}")))?;
        // rejection sampling keeps every letter equally likely
        let limit = 256 - 256 % ALPHABET.len();
        for b in bytes {
            if (b as usize) < limit && out.len() < 24 {
                out.push(ALPHABET[b as usize % ALPHABET.len()] as char);
            }
        }
    }
    Ok(out)
}

/// `base` with the login's name and password in place of its user and
/// password: URL form (`postgres://u:p@host/db?..`) or keyword form.
pub fn login_url(base: &str, login: &str, password: &str) -> String {
    let drop_auth = |kv: &&str| {
        !matches!(
            kv.split_once('=').map(|(k, _)| k.trim()),
            Some("user" | "password")
        )
    };
    let Some((scheme, rest)) = base.split_once("://") else {
        let quote = |v: &str| format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"));
        let mut kvs: Vec<&str> = base.split_whitespace().filter(drop_auth).collect();
        let auth = format!("user={} password={}", quote(login), quote(password));
        kvs.push(&auth);
        return kvs.join(" ");
    };
    let (authority_end, _) = rest
        .char_indices()
        .find(|(_, c)| *c == '/' || *c == '?')
        .unwrap_or((rest.len(), ' '));
    let (authority, tail) = rest.split_at(authority_end);
    let hosts = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let kept: Vec<&str> = query.split('&').filter(drop_auth).collect();
            if kept.is_empty() {
                path.to_string()
            } else {
                format!("{path}?{}", kept.join("&"))
            }
        }
        None => tail.to_string(),
    };
    format!(
        "{scheme}://{}:{}@{hosts}{tail}",
        encode(login),
        encode(password)
    )
}

/// Percent-encoding of everything but RFC 3986's unreserved characters.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::login_url;

    #[test]
    fn a_login_url_keeps_the_servers_and_options_and_replaces_the_user() {
        assert_eq!(
            login_url(
                "postgres://own:pw@db1:5432,db2/app?sslmode=require&password=x",
                "l_u_1",
                "p w"
            ),
            "postgres://l_u_1:p%20w@db1:5432,db2/app?sslmode=require"
        );
        assert_eq!(
            login_url("postgres://own@localhost/t?host=/tmp/run", "l", "pw"),
            "postgres://l:pw@localhost/t?host=/tmp/run"
        );
        assert_eq!(
            login_url("host=db user=own dbname=app", "l", "it's"),
            "host=db dbname=app user='l' password='it\\'s'"
        );
    }
}
