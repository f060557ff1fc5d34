//! Shell completion from the database (issue 22): the emails of the people
//! the actor may see and the ids of the rows they may see, for a Tab that
//! must never hang the shell. Within [`BUDGET`] or nothing: the embedded
//! cluster is not started, an unreachable or slow server offers nothing,
//! and nothing is ever printed about it.

use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

use crate::actor::Actor;
use crate::db::Target;
use crate::domain::{Role, UserRef};
use crate::ids::Kind;
use crate::users::{Sight, viewer};

/// How long a Tab may wait for the database, connecting included.
pub const BUDGET: Duration = Duration::from_millis(180);

/// The budget: [`BUDGET`], or `COACHCTL_COMPLETE_BUDGET_MS` for a database
/// that is far away (or a loaded machine, as in the tests).
fn budget() -> Duration {
    std::env::var("COACHCTL_COMPLETE_BUDGET_MS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(BUDGET, |ms| Duration::from_millis(ms.min(10_000)))
}

/// What the server may spend on the one query: most of the budget (100 ms
/// of the default 180), the rest being the connection.
fn statement_timeout_ms() -> String {
    (budget().as_millis() * 5 / 9).to_string()
}

/// Offered at most: a shell shows them all, and typing narrows.
const LIMIT: i64 = 50;

/// What an argument takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    /// A person, of this role when given.
    Person(Option<Role>),
    /// `--as`: whoever holds the database URL may act as anyone active.
    Anyone,
    /// The id of a row of this kind.
    Id(Kind),
}

/// One value to offer, and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub value: String,
    pub help: String,
}

/// The candidates for `typed`, from `target`, as seen by `who` (None: the
/// operator). Empty when anything fails or takes longer than [`BUDGET`].
pub fn candidates(
    target: &Target,
    who: Option<&UserRef>,
    wanted: Wanted,
    typed: &str,
) -> Vec<Candidate> {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return Vec::new();
    };
    rt.block_on(async {
        let work = async {
            let pool = target.connect_if_up(budget()).await?;
            let found = lookup(&pool, who, wanted, typed).await;
            pool.close().await;
            found
        };
        tokio::time::timeout(budget(), work)
            .await
            .ok()
            .flatten()
            .unwrap_or_default()
    })
}

async fn lookup(
    pool: &PgPool,
    who: Option<&UserRef>,
    wanted: Wanted,
    typed: &str,
) -> Option<Vec<Candidate>> {
    let actor = match wanted {
        Wanted::Anyone => Actor::operator(),
        _ => Actor::resolve(pool, who).await.ok()?,
    };
    let mut tx = pool.begin().await.ok()?;
    // LOCAL: a pooler in transaction mode hands the connection on after us.
    sqlx::query("SELECT set_config('statement_timeout', $1, true)")
        .bind(statement_timeout_ms())
        .execute(&mut *tx)
        .await
        .ok()?;
    let rows: Vec<(String, String)> = match wanted {
        Wanted::Person(role) => people(&mut tx, &actor, role, typed).await?,
        Wanted::Anyone => people(&mut tx, &actor, None, typed).await?,
        Wanted::Id(kind) => ids(&mut tx, &actor, kind, typed).await?,
    };
    tx.rollback().await.ok()?;
    Some(
        rows.into_iter()
            .map(|(value, help)| Candidate { value, help })
            .collect(),
    )
}

/// Active people whose email starts with `typed`, among those the actor
/// sees (the rule every lookup of a person uses).
async fn people(
    conn: &mut sqlx::PgConnection,
    actor: &Actor,
    role: Option<Role>,
    typed: &str,
) -> Option<Vec<(String, String)>> {
    let start = typed
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let sql = format!(
        "SELECT u.email, u.name || ' (' || u.role || ')' FROM users u
         WHERE u.active AND lower(u.email) LIKE $1 || '%'
           AND ($2::text IS NULL OR u.role = $2) AND {}
         ORDER BY u.email LIMIT {LIMIT}",
        Sight::Seen.sql(3)
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(start)
        .bind(role.map(|r| r.as_str()))
        .bind(viewer(actor))
        .fetch_all(&mut *conn)
        .await
        .ok()
}

/// Ids of `kind` starting with the hex digits typed, among the rows the
/// actor sees (the rule that resolves an id prefix).
async fn ids(
    conn: &mut sqlx::PgConnection,
    actor: &Actor,
    kind: Kind,
    typed: &str,
) -> Option<Vec<(String, String)>> {
    let (low, high) = id_range(typed)?;
    if kind == Kind::AuditEntity && !actor.is_admin() {
        return None;
    }
    let viewer = match (actor.is_admin(), actor.id()) {
        (true, _) => None,
        (false, Some(id)) => Some(id.as_uuid()),
        // never widen the scope of a non-admin without an id
        (false, None) => return None,
    };
    let sql = format!(
        "SELECT q.* FROM ({}) q ORDER BY 1 LIMIT {LIMIT}",
        kind.query()
    );
    let rows: Vec<(Uuid, Option<String>)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(low)
        .bind(high)
        .bind(viewer)
        .fetch_all(&mut *conn)
        .await
        .ok()?;
    Some(
        rows.into_iter()
            .map(|(id, what)| (id.to_string(), what.unwrap_or_default()))
            .collect(),
    )
}

/// The ids that start with `typed` (hex digits; dashes ignored), as the
/// first and last of their range. None when it cannot start an id.
pub fn id_range(typed: &str) -> Option<(Uuid, Uuid)> {
    let digits: String = typed
        .chars()
        .filter(|c| *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if digits.len() > 32 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let pad = |c: char| {
        let mut full = digits.clone();
        while full.len() < 32 {
            full.push(c);
        }
        Uuid::parse_str(&full).ok()
    };
    Some((pad('0')?, pad('f')?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_prefix_covers_every_id() {
        let (low, high) = id_range("").unwrap();
        assert_eq!(low, Uuid::nil());
        assert_eq!(high, Uuid::from_u128(u128::MAX));
    }

    #[test]
    fn a_prefix_with_dashes_covers_its_ids_only() {
        let (low, high) = id_range("0195-aB").unwrap();
        assert_eq!(low.to_string(), "0195ab00-0000-0000-0000-000000000000");
        assert_eq!(high.to_string(), "0195abff-ffff-ffff-ffff-ffffffffffff");
    }

    #[test]
    fn what_is_not_hex_starts_no_id() {
        assert_eq!(id_range("ana"), None);
    }
}
