//! Connecting: to `DATABASE_URL`, or to the embedded cluster; and the schema
//! version check that every command but `db migrate` passes first.
//!
//! One command opens one connection: the pool holds at most one, so a
//! library function that acquires while it already holds one would wait;
//! none does. Statements run unnamed, each in one round trip (see
//! `conninfo::tune`), which is what lets a transaction-mode pooler such as
//! pgbouncer 1.18 sit in front.

use std::sync::OnceLock;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgPoolOptions, PgSslMode};

use crate::embedded::{Cluster, DB_NAME};
use crate::error::{Error, Result};

pub mod conninfo;
pub mod failure;
pub mod hosts;
mod life;
pub mod migrate;
mod reach;
mod upgrade;

use conninfo::{ConnInfo, RootCert};
use hosts::Plan;
// The embedded cluster's life needs connections and migrations, so it sits
// here, above crate::embedded, which only builds and runs the server.
pub use life::{Backup, Destroyed, Restored, backup, destroy, people as life_people, restore};
pub use reach::Reached;
pub use upgrade::{Upgraded, upgrade};

/// The migrations compiled into this binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

static APPLICATION_NAME: OnceLock<String> = OnceLock::new();

/// Name the running command (`coachctl coach list`) so that a DBA sees it
/// as `application_name` in `pg_stat_activity`. Set once, before connecting.
pub fn set_application_name(name: String) {
    let _ = APPLICATION_NAME.set(name);
}

fn application_name() -> &'static str {
    APPLICATION_NAME.get().map_or("coachctl", String::as_str)
}

/// Where the data lives.
#[derive(Debug, Clone)]
pub enum Target {
    /// `DATABASE_URL`: any PostgreSQL 14+.
    Url(String),
    /// `COACHCTL_READ_URL`: a standby for read-only commands.
    ReadUrl(String),
    /// The private cluster under `COACHCTL_HOME`.
    Embedded(Cluster),
}

impl Target {
    pub fn from_url_or_env(url: Option<String>) -> Result<Self> {
        match url.filter(|u| !u.trim().is_empty()) {
            Some(u) => Ok(Target::Url(u)),
            None => Ok(Target::Embedded(Cluster::from_env()?)),
        }
    }

    /// A description of where the database lives, without any password.
    pub fn describe(&self) -> String {
        match self {
            Target::Url(u) | Target::ReadUrl(u) => redact(u),
            Target::Embedded(c) => format!("embedded cluster in {}", c.home().display()),
        }
    }

    fn plan(&self) -> Result<Plan> {
        match self {
            Target::Url(u) => hosts::plan(u, "DATABASE_URL", application_name()),
            Target::ReadUrl(u) => hosts::plan(u, "COACHCTL_READ_URL", application_name()),
            Target::Embedded(c) => Ok(Plan::single(ConnInfo {
                options: conninfo::tune(c.connect_options(DB_NAME))
                    .application_name(application_name()),
                connect_timeout: Some(conninfo::DEFAULT_CONNECT_TIMEOUT),
                allow: false,
                root_cert: RootCert::Unverified,
                source: "the embedded database",
            })),
        }
    }

    /// Connect without looking at the schema (for `db` commands).
    pub async fn connect_raw(&self) -> Result<PgPool> {
        Ok(self.connect_reached().await?.pool)
    }

    /// [`Target::connect_raw`], saying which server of the list it reached.
    pub async fn connect_reached(&self) -> Result<Reached> {
        let plan = self.plan()?;
        match self {
            // A running server costs one connect; only when that fails is
            // the cluster created or started (under its lock). A server
            // known to be down (a crash leaves a stale socket) is started at
            // once, and one dying as we look gets a short wait.
            Target::Embedded(c) => {
                let info = &plan.hosts[0];
                let first = match c.server_pid() {
                    Some(_) => tokio::time::timeout(Duration::from_secs(2), open_raw(info))
                        .await
                        .ok()
                        .and_then(|p| p.ok()),
                    None => None,
                };
                let pool = match first {
                    Some(pool) => pool,
                    None => {
                        c.ensure_running().await?;
                        open(info).await?
                    }
                };
                Ok(Reached::only(pool, info))
            }
            Target::Url(_) | Target::ReadUrl(_) => reach::reach(&plan, |info| {
                let info = info.clone();
                async move { open_raw(&info).await }
            })
            .await
            .map_err(|misses| reach::unreached(&plan, misses)),
        }
    }

    /// Connect for shell completion: within `wait`, or not at all. The
    /// embedded cluster is never started (a Tab must not boot a server) and
    /// nothing is reported: a completion that fails offers nothing.
    pub async fn connect_if_up(&self, wait: Duration) -> Option<PgPool> {
        if let Target::Embedded(c) = self {
            c.server_pid()?;
        }
        let mut plan = self.plan().ok()?;
        for info in &mut plan.hosts {
            info.connect_timeout = Some(wait);
        }
        let reached = reach::reach(&plan, |info| {
            let info = info.clone();
            async move { open_raw(&info).await }
        });
        tokio::time::timeout(wait, reached)
            .await
            .ok()?
            .ok()
            .map(|r| r.pool)
    }

    /// Connect for a normal command: the embedded cluster is migrated on
    /// first use; an external database whose schema is behind is refused.
    pub async fn connect(&self) -> Result<PgPool> {
        Ok(self.connect_identified().await?.0)
    }

    /// [`Target::connect`], and who the connection is: learnt in the same
    /// query as the schema version (docs/design/identity.md §1).
    pub async fn connect_identified(&self) -> Result<(PgPool, Identity)> {
        self.connect_identified_as(None).await
    }

    /// [`Target::connect_identified`], with the user `who` names (`--as`)
    /// looked up in the same query.
    pub async fn connect_identified_as(
        &self,
        who: Option<&crate::domain::UserRef>,
    ) -> Result<(PgPool, Identity)> {
        let pool = self.connect_raw().await?;
        self.identified_as(pool, who).await
    }

    /// The checks of [`Target::connect_identified`] on a connection already
    /// open (one that [`Target::connect_raw`] gave).
    pub async fn identified(&self, pool: PgPool) -> Result<(PgPool, Identity)> {
        self.identified_as(pool, None).await
    }

    /// [`Target::identified`], with the user `who` names (`--as`) looked
    /// up in the same query (see [`identify_as`]).
    pub async fn identified_as(
        &self,
        pool: PgPool,
        who: Option<&crate::domain::UserRef>,
    ) -> Result<(PgPool, Identity)> {
        let (status, identity) = identify_as(&pool, who).await?;
        if status.applied == status.latest {
            return Ok((pool, identity));
        }
        if status.applied > status.latest {
            return Err(Error::Unavailable(format!(
                "the database schema (version {}) is newer than this coachctl (version {}); upgrade coachctl",
                status.applied, status.latest
            )));
        }
        match self {
            Target::Embedded(_) => {
                migrate::run(&pool, migrate::lock_wait()?).await?;
                Ok((pool, Identity::owner()))
            }
            Target::Url(_) | Target::ReadUrl(_) => Err(Error::Unavailable(format!(
                "the database schema is at version {} but this coachctl needs version {}; run `coachctl db migrate`",
                status.applied, status.latest
            ))),
        }
    }

    /// Connect for many statements over one connection (`book --batch`),
    /// and say whether it leads straight to PostgreSQL: only then may it
    /// prepare named statements, which a transaction-mode pooler could hand
    /// to another client's server connection. The probe is the startup
    /// option of [`migrate::is_direct`]; a pooler that refuses it is
    /// connected to again without it, one that drops it answers "not direct".
    pub async fn connect_batch(&self) -> Result<(PgPool, Identity, bool)> {
        if let Target::Embedded(_) = self {
            // its own cluster over its socket: nothing in between
            let (pool, identity) = self.connect_identified().await?;
            return Ok((pool, identity, true));
        }
        let mut plan = self.plan()?;
        let (k, v) = migrate::DIRECT_PROBE;
        for info in &mut plan.hosts {
            info.options = info.options.clone().options([(k, v)]);
        }
        let probed = reach::reach(&plan, |info| {
            let info = info.clone();
            async move { open_raw(&info).await }
        })
        .await;
        let pool = match probed {
            Ok(reached) => reached.pool,
            Err(misses) if misses.iter().any(|(_, m)| m.is_pooler_refusal()) => {
                let (pool, identity) = self.connect_identified().await?;
                return Ok((pool, identity, false));
            }
            Err(misses) => return Err(reach::unreached(&plan, misses)),
        };
        let direct = migrate::is_direct(&pool).await?;
        let (pool, identity) = self.identified(pool).await?;
        Ok((pool, identity, direct))
    }

    /// Connect for `db migrate` and `db reset`: `COACHCTL_MIGRATE_URL` when
    /// set, else the target; refused when it leads through a pooler.
    pub async fn connect_for_migration(&self) -> Result<PgPool> {
        let migrate_url = std::env::var("COACHCTL_MIGRATE_URL")
            .ok()
            .filter(|u| !u.trim().is_empty());
        let plan = match (&migrate_url, self) {
            (Some(u), _) => hosts::plan(u, "COACHCTL_MIGRATE_URL", application_name())?,
            (None, Target::Url(u)) => hosts::plan(u, "DATABASE_URL", application_name())?,
            (None, Target::ReadUrl(u)) => hosts::plan(u, "COACHCTL_READ_URL", application_name())?,
            (None, Target::Embedded(_)) => return self.connect_raw().await,
        };
        let through_pooler = || {
            let advice = if migrate_url.is_some() {
                "point COACHCTL_MIGRATE_URL at PostgreSQL itself"
            } else {
                "set COACHCTL_MIGRATE_URL to a direct connection to PostgreSQL (not through the pooler) and run it again"
            };
            Error::Unavailable(format!(
                "{} leads through a connection pooler (such as pgbouncer in transaction mode), where a migration cannot hold its lock; {advice}",
                plan.source
            ))
        };
        let probed = reach::reach(&plan, |info| {
            let (k, v) = migrate::DIRECT_PROBE;
            let probed = ConnInfo {
                options: info.options.clone().options([(k, v)]),
                ..info.clone()
            };
            async move { open_raw(&probed).await }
        })
        .await;
        let pool = match probed {
            Ok(reached) => reached.pool,
            Err(misses) if misses.iter().any(|(_, m)| m.is_pooler_refusal()) => {
                return Err(through_pooler());
            }
            Err(misses) => return Err(reach::unreached(&plan, misses)),
        };
        if !migrate::is_direct(&pool).await? {
            pool.close().await;
            return Err(through_pooler());
        }
        Ok(pool)
    }
}

/// Open the one connection of a command, reporting why it failed.
async fn open(info: &ConnInfo) -> Result<PgPool> {
    open_raw(info)
        .await
        .map_err(|e| failure::connect_error(info, e))
}

async fn open_raw(info: &ConnInfo) -> Result<PgPool, sqlx::Error> {
    match pool_of(info).await {
        // sslmode=allow: without TLS first; with it when the server insists.
        Err(sqlx::Error::Database(db)) if info.allow && db.code().as_deref() == Some("28000") => {
            pool_of(&info.with_ssl_mode(PgSslMode::Require)).await
        }
        other => other,
    }
}

/// As libpq: a Unix-domain socket carries no TLS, so sslmode is not asked
/// about there (sqlx would spend a round trip on an SSLRequest the server
/// can only decline, and `require` would fail where psql connects).
pub(crate) fn no_tls_over_a_socket(
    o: sqlx::postgres::PgConnectOptions,
) -> sqlx::postgres::PgConnectOptions {
    if o.get_socket().is_some() {
        o.ssl_mode(PgSslMode::Disable)
    } else {
        o
    }
}

async fn pool_of(info: &ConnInfo) -> Result<PgPool, sqlx::Error> {
    // connect_timeout=0 means no limit, as in libpq; a day stands for it.
    let wait = info.connect_timeout.unwrap_or(Duration::from_secs(86_400));
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .acquire_timeout(wait)
        // the connection was opened a moment ago; a ping costs a round trip
        .test_before_acquire(false)
        .connect_lazy_with(no_tls_over_a_socket(info.options.clone()));
    // Open it now, so that a failure is reported here with its cause.
    drop(pool.acquire().await?);
    Ok(pool)
}

#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct SchemaStatus {
    /// The newest migration applied to the database (0: none).
    pub applied: i64,
    /// The newest migration this binary carries.
    pub latest: i64,
}

/// One query: the newest successfully applied migration (0 before the
/// first migration made the table).
pub async fn schema_status(pool: &PgPool) -> Result<SchemaStatus> {
    let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
    let applied = match sqlx::query_scalar::<_, Option<i64>>(
        "SELECT max(version) FROM _sqlx_migrations WHERE success",
    )
    .fetch_one(pool)
    .await
    {
        Ok(v) => v.unwrap_or(0),
        // undefined_table: never migrated
        Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42P01") => 0,
        Err(e) => return Err(e.into()),
    };
    Ok(SchemaStatus { applied, latest })
}

/// Who a connection is, as the database says (`current_actor_role()`).
#[derive(Debug, Clone)]
pub struct Identity {
    /// `owner` (the schema owner, a superuser: the operator), `admin`,
    /// `coach`, `member`, `notifier`, or `none` (a login of no one here).
    pub role: String,
    /// The person whose login this is (None for the owner and services).
    pub user: Option<uuid::Uuid>,
    /// The database role connected (`session_user`).
    pub login: String,
    /// The login's person, as the users table has them (`users` columns
    /// as JSON), read in the same query: who acts needs no lookup of its own.
    pub me: Option<serde_json::Value>,
    /// The user named by `--as` (an email or a full id), looked up in the
    /// same query as this login may see them: `Some(None)` when nobody
    /// matched, `None` when not looked up (no `--as`, an id prefix).
    pub named: Option<Option<serde_json::Value>>,
}

impl Identity {
    pub fn owner() -> Self {
        Identity {
            role: "owner".into(),
            user: None,
            login: String::new(),
            me: None,
            named: None,
        }
    }
    pub fn is_owner(&self) -> bool {
        self.role == "owner"
    }
}

/// The schema version and who is asking, in one query. A schema from
/// before the identity functions knows only its owner.
pub async fn identify(pool: &PgPool) -> Result<(SchemaStatus, Identity)> {
    identify_as(pool, None).await
}

/// [`identify`], and in the same query the users who act: the login's own
/// person, and the one `who` names (`--as`), as this login sees them (row
/// level security decides for a login; the owner sees everyone).
pub async fn identify_as(
    pool: &PgPool,
    who: Option<&crate::domain::UserRef>,
) -> Result<(SchemaStatus, Identity)> {
    use crate::domain::UserRef;
    let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
    let (named_id, named_email) = match who {
        Some(UserRef::Id(id)) => (Some(id.as_uuid()), None),
        Some(UserRef::Email(e)) => (None, Some(e.as_str())),
        // a prefix is resolved by its own lookup (crate::ids)
        Some(UserRef::Prefix(_)) | None => (None, None),
    };
    let looked_up = named_id.is_some() || named_email.is_some();
    // (applied migration, current_actor(), current_actor_role(), session_user,
    //  the login's person, the person named)
    type Row = (
        Option<i64>,
        Option<uuid::Uuid>,
        Option<String>,
        String,
        Option<serde_json::Value>,
        Option<serde_json::Value>,
    );
    let row: Result<Row, _> = sqlx::query_as(
        "WITH i AS (SELECT current_actor() AS me, current_actor_role() AS role)
         SELECT (SELECT max(version) FROM _sqlx_migrations WHERE success),
                i.me, i.role, session_user::text,
                (SELECT to_jsonb(u) FROM (SELECT id, email, name, role, timezone, active, created_at
                                          FROM users WHERE id = i.me) u),
                (SELECT to_jsonb(u) FROM (SELECT id, email, name, role, timezone, active, created_at
                                          FROM users
                                          WHERE id = $1 OR email_key(email) = email_key($2)) u)
         FROM i",
    )
    .bind(named_id)
    .bind(named_email)
    .fetch_one(pool)
    .await;
    match row {
        Ok((applied, user, role, login, me, named)) => Ok((
            SchemaStatus {
                applied: applied.unwrap_or(0),
                latest,
            },
            Identity {
                role: role.unwrap_or_else(|| "none".into()),
                user,
                login,
                me,
                named: looked_up.then_some(named),
            },
        )),
        // insufficient_privilege: a role with no grants here, such as a
        // login of another coachctl database on the same server
        Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42501") => Err(
            Error::forbidden("this login belongs to no one in this database"),
        ),
        // undefined_function, undefined_table, undefined_column: not
        // migrated that far yet
        Err(sqlx::Error::Database(db))
            if matches!(db.code().as_deref(), Some("42883" | "42P01" | "42703")) =>
        {
            Ok((schema_status(pool).await?, Identity::owner()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Apply every pending migration, waiting at most
/// `COACHCTL_MIGRATE_LOCK_TIMEOUT` (60 s) for another migration.
pub async fn migrate(pool: &PgPool) -> Result<SchemaStatus> {
    migrate::run(pool, migrate::lock_wait()?).await?;
    schema_status(pool).await
}

/// Drop every table coachctl made and apply the migrations again.
pub async fn reset(pool: &PgPool) -> Result<SchemaStatus> {
    sqlx::raw_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        .execute(pool)
        .await?;
    migrate(pool).await
}

/// The one connection of a command that runs many statements (`book
/// --batch`), held for all of them; with `prepared` (a connection straight
/// to PostgreSQL, see [`Target::connect_batch`]) each statement is prepared
/// once as a named one and reused.
pub async fn one_connection(
    pool: &PgPool,
    prepared: bool,
) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>> {
    let mut conn = pool.acquire().await?;
    if prepared {
        conn.set_statement_cache_capacity(64);
    }
    Ok(conn)
}

/// The server's version string, e.g. "15.18".
pub async fn server_version(pool: &PgPool) -> Result<String> {
    Ok(sqlx::query_scalar("SHOW server_version")
        .fetch_one(pool)
        .await?)
}

/// Whether the server is a standby (in recovery) rather than a primary.
pub async fn is_standby(pool: &PgPool) -> Result<bool> {
    Ok(sqlx::query_scalar("SELECT pg_is_in_recovery()")
        .fetch_one(pool)
        .await?)
}

/// Hide a password in a URL: postgres://u:secret@h/db -> postgres://u:***@h/db.
pub fn redact(url: &str) -> String {
    // the keyword form: host=h1,h2 password=secret
    if !url.contains("://") {
        return url
            .split_whitespace()
            .map(|kv| match kv.split_once('=') {
                Some(("password", _)) => "password=***",
                _ => kv,
            })
            .collect::<Vec<_>>()
            .join(" ");
    }
    // a password may also be a query parameter
    let url = &match url.split_once('?') {
        Some((head, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some(("password", _)) => "password=***".to_string(),
                    _ => kv.to_string(),
                })
                .collect();
            format!("{head}?{}", query.join("&"))
        }
        None => url.to_string(),
    };
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, tail) = match rest.find('@') {
        Some(at) if rest[..at].find('/').is_none() => (&rest[..at], &rest[at..]),
        _ => return url.to_string(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***{tail}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn a_password_in_a_url_is_hidden() {
        assert_eq!(redact("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            redact("postgres://h/db?user=u&password=pw&sslmode=require"),
            "postgres://h/db?user=u&password=***&sslmode=require"
        );
    }
}
