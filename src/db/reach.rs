//! Trying the hosts of a connection string in order, as libpq does: the
//! first that opens and fits `target_session_attrs` is used; a failure
//! names every host tried and why, in one sentence.

use std::future::Future;
use std::time::Duration;

use sqlx::PgPool;

use super::conninfo::ConnInfo;
use super::failure;
use super::hosts::{Plan, SessionAttrs};
use crate::error::Error;

/// The server a command reached.
#[derive(Debug)]
pub struct Reached {
    pub pool: PgPool,
    /// `host:port` or the socket.
    pub place: String,
}

impl Reached {
    pub fn only(pool: PgPool, info: &ConnInfo) -> Reached {
        Reached {
            pool,
            place: info.place(),
        }
    }
}

/// Why one host was passed over.
#[derive(Debug)]
pub enum Miss {
    Failed(sqlx::Error),
    /// It answered, but is not the kind of server asked for.
    Unfit(&'static str),
}

impl Miss {
    /// pgbouncer refusing a startup parameter it does not know.
    pub fn is_pooler_refusal(&self) -> bool {
        matches!(self, Miss::Failed(sqlx::Error::Database(db))
            if db.message().contains("unsupported startup parameter"))
    }

    /// libpq tries no further host once a server refused the login.
    fn ends_the_search(&self) -> bool {
        matches!(self, Miss::Failed(sqlx::Error::Database(db))
            if db.code().is_some_and(|c| c.starts_with("28")))
    }
}

/// Try `plan`'s hosts with `open` (shuffled under
/// `load_balance_hosts=random`); return the first that fits, or why each
/// host tried did not.
pub async fn reach<F, Fut>(plan: &Plan, open: F) -> Result<Reached, Vec<(usize, Miss)>>
where
    F: Fn(&ConnInfo) -> Fut,
    Fut: Future<Output = Result<PgPool, sqlx::Error>>,
{
    let mut order: Vec<usize> = (0..plan.hosts.len()).collect();
    if plan.random {
        shuffle(&mut order);
    }
    let mut misses = Vec::new();
    // prefer-standby: a primary is taken when no standby is found.
    let mut fallback: Option<Reached> = None;
    for i in order {
        let info = &plan.hosts[i];
        let miss = match open(info).await {
            Err(e) => Miss::Failed(e),
            Ok(pool) => match unfit(&pool, info, plan.attrs).await {
                Ok(None) => {
                    if let Some(f) = fallback {
                        f.pool.close().await;
                    }
                    return Ok(Reached::only(pool, info));
                }
                Ok(Some(why)) => {
                    if plan.attrs == SessionAttrs::PreferStandby && fallback.is_none() {
                        fallback = Some(Reached::only(pool, info));
                    } else {
                        pool.close().await;
                    }
                    Miss::Unfit(why)
                }
                Err(e) => {
                    pool.close().await;
                    Miss::Failed(e)
                }
            },
        };
        let stop = miss.ends_the_search();
        misses.push((i, miss));
        if stop {
            break;
        }
    }
    fallback.ok_or(misses)
}

/// Whether the server of `pool` is what `attrs` asks for, checked the way
/// libpq does (`transaction_read_only`, `pg_is_in_recovery()`).
async fn unfit(
    pool: &PgPool,
    info: &ConnInfo,
    attrs: SessionAttrs,
) -> Result<Option<&'static str>, sqlx::Error> {
    use SessionAttrs as A;
    let sql = match attrs {
        A::Any => return Ok(None),
        A::ReadWrite | A::ReadOnly => "SELECT current_setting('transaction_read_only') = 'on'",
        A::Primary | A::Standby | A::PreferStandby => "SELECT pg_is_in_recovery()",
    };
    // a server that accepted the connection but hangs is given the same
    // time as the connect
    let wait = info.connect_timeout.unwrap_or(Duration::from_secs(86_400));
    let yes: bool = tokio::time::timeout(wait, sqlx::query_scalar(sql).fetch_one(pool))
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)??;
    Ok(match (attrs, yes) {
        (A::ReadWrite, true) => Some(
            "it is read-only, and target_session_attrs=read-write asks for one that accepts writes",
        ),
        (A::ReadOnly, false) => {
            Some("it accepts writes, and target_session_attrs=read-only asks for a read-only one")
        }
        (A::Primary, true) => {
            Some("it is a standby, and target_session_attrs=primary asks for the primary")
        }
        (A::Standby | A::PreferStandby, false) => Some(match attrs {
            A::Standby => "it is a primary, and target_session_attrs=standby asks for a standby",
            _ => {
                "it is a primary, and target_session_attrs=prefer-standby looks for a standby first"
            }
        }),
        _ => None,
    })
}

/// One sentence for a plan none of whose hosts could be used.
pub fn unreached(plan: &Plan, misses: Vec<(usize, Miss)>) -> Error {
    let why = |info: &ConnInfo, miss: Miss| match miss {
        Miss::Failed(e) => failure::cause(info, &e),
        Miss::Unfit(why) => Ok(why.to_string()),
    };
    let mut misses = misses;
    // one host: the sentence of a single server, as before lists existed
    if plan.hosts.len() == 1
        && misses.len() == 1
        && let Some((i, miss)) = misses.pop()
    {
        let info = &plan.hosts[i];
        return match miss {
            Miss::Failed(e) => failure::connect_error(info, e),
            miss => match why(info, miss) {
                Ok(cause) => Error::Unavailable(format!(
                    "cannot connect to the database at {}: {cause}",
                    info.describe()
                )),
                Err(e) => e,
            },
        };
    }
    let tried = misses.len();
    let mut each = Vec::new();
    for (i, miss) in misses {
        let info = &plan.hosts[i];
        match why(info, miss) {
            Ok(cause) => each.push(format!("{} ({cause})", info.place())),
            Err(unusable) => return unusable,
        }
    }
    let untried = match plan.hosts.len() - tried {
        0 => String::new(),
        n => format!(" (the other {n} not tried after a refused login, as libpq does)"),
    };
    Error::Unavailable(format!(
        "cannot connect to the database {} at any of the {} hosts of {}: {}{untried}",
        plan.hosts[0].who(),
        plan.hosts.len(),
        plan.source,
        each.join("; ")
    ))
}

/// Fisher-Yates with the OS's randomness (no generator needed for a few hosts).
fn shuffle(order: &mut [usize]) {
    let mut bytes = vec![0u8; order.len()];
    if getrandom::getrandom(&mut bytes).is_err() {
        return;
    }
    for i in (1..order.len()).rev() {
        let j = usize::from(bytes[i]) % (i + 1);
        order.swap(i, j);
    }
}
