//! `coachctl doctor`: is everything in order? One check per line, each
//! passing, failing or skipped with one sentence; the command fails when
//! any check fails.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::PgPool;

use crate::db::{self, Target};
use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Fail,
    Skip,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        }
    }
}

/// One check and its outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub id: &'static str,
    pub status: Status,
    pub detail: String,
}

fn check(id: &'static str, status: Status, detail: impl Into<String>) -> Check {
    Check {
        id,
        status,
        detail: detail.into(),
    }
}

/// What the checks need from outside the database.
pub struct Inputs {
    /// The config file check, done while the command line was read.
    pub config: Check,
    /// `COACHCTL_SMTP_URL`, when set.
    pub smtp_url: Option<String>,
}

/// How far the server's clock may be from ours.
const MAX_SKEW: Duration = Duration::from_secs(5);
/// How long an SMTP server may take to answer.
const SMTP_TIMEOUT: Duration = Duration::from_secs(3);

/// Run every check, in the order they are printed.
pub async fn run(target: &Target, inputs: Inputs) -> Vec<Check> {
    let mut out = vec![binaries(target)];
    let pool = match target.connect_raw().await {
        Ok(pool) => Some(pool),
        Err(e) => {
            out.push(check("database", Status::Fail, e.to_string()));
            None
        }
    };
    if let Some(pool) = &pool {
        out.push(database(target, pool).await);
        out.push(schema(pool).await);
    } else {
        out.push(check(
            "schema",
            Status::Skip,
            "the database cannot be reached",
        ));
    }
    out.push(inputs.config);
    out.push(smtp(inputs.smtp_url.as_deref()));
    match &pool {
        Some(pool) if schema_current(pool).await => {
            out.push(outbox(pool).await);
            out.push(reminders(pool).await);
        }
        _ => {
            let why = "needs a reachable database with the current schema";
            out.push(check("outbox", Status::Skip, why));
            out.push(check("reminders", Status::Skip, why));
        }
    }
    match &pool {
        Some(pool) => out.push(clock(pool).await),
        None => out.push(check(
            "clock",
            Status::Skip,
            "the database cannot be reached",
        )),
    }
    if let Some(pool) = pool {
        pool.close().await;
    }
    out
}

fn binaries(target: &Target) -> Check {
    let Target::Embedded(c) = target else {
        return check(
            "binaries",
            Status::Skip,
            "DATABASE_URL names the server: no server binaries needed",
        );
    };
    match c.binaries() {
        Ok(dir) => {
            let version = crate::embedded::bin_version(&dir).unwrap_or_else(|| "?".into());
            let made_by = c
                .major()
                .map(|v| format!(" (the cluster was made by PostgreSQL {v})"))
                .unwrap_or_default();
            check(
                "binaries",
                Status::Ok,
                format!("PostgreSQL {version} in {}{made_by}", dir.display()),
            )
        }
        Err(e) => check("binaries", Status::Fail, e.to_string()),
    }
}

async fn database(target: &Target, pool: &PgPool) -> Check {
    let facts: Result<(String, bool), sqlx::Error> =
        sqlx::query_as("SELECT current_setting('server_version'), pg_is_in_recovery()")
            .fetch_one(pool)
            .await;
    match facts {
        Ok((version, standby)) => check(
            "database",
            Status::Ok,
            format!(
                "{} answers: PostgreSQL {version}, {}",
                target.describe(),
                if standby {
                    "a standby (read-only)"
                } else {
                    "the primary"
                }
            ),
        ),
        Err(e) => check("database", Status::Fail, Error::from(e).to_string()),
    }
}

async fn schema(pool: &PgPool) -> Check {
    match db::schema_status(pool).await {
        Ok(s) if s.applied == s.latest => check(
            "schema",
            Status::Ok,
            format!("version {}, current", s.applied),
        ),
        Ok(s) if s.applied < s.latest => check(
            "schema",
            Status::Fail,
            format!(
                "version {}, behind this coachctl's {}: run coachctl db migrate",
                s.applied, s.latest
            ),
        ),
        Ok(s) => check(
            "schema",
            Status::Fail,
            format!(
                "version {}, newer than this coachctl's {}: upgrade coachctl",
                s.applied, s.latest
            ),
        ),
        Err(e) => check("schema", Status::Fail, e.to_string()),
    }
}

async fn schema_current(pool: &PgPool) -> bool {
    db::schema_status(pool)
        .await
        .is_ok_and(|s| s.applied == s.latest)
}

/// Whether the SMTP server answers with its greeting.
fn smtp(url: Option<&str>) -> Check {
    let Some(raw) = url.filter(|u| !u.trim().is_empty()) else {
        return check("smtp", Status::Skip, "COACHCTL_SMTP_URL is not set");
    };
    let Ok(u) = url::Url::parse(raw) else {
        return check(
            "smtp",
            Status::Fail,
            "COACHCTL_SMTP_URL is not a URL such as smtp://host:port",
        );
    };
    let port = u
        .port()
        .unwrap_or(if u.scheme() == "smtps" { 465 } else { 25 });
    let host = u.host_str().unwrap_or("localhost").to_string();
    let at = format!("{host}:{port}");
    let addrs: Vec<_> = match (host.as_str(), port).to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(_) => {
            return check("smtp", Status::Fail, format!("cannot resolve {host}"));
        }
    };
    let mut last = String::from("no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, SMTP_TIMEOUT) {
            Ok(_) => return check("smtp", Status::Ok, format!("{at} accepts connections")),
            Err(e) => last = reason(&e),
        }
    }
    check(
        "smtp",
        Status::Fail,
        format!("cannot connect to {at}: {last}; queued emails wait"),
    )
}

fn reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        std::io::ErrorKind::TimedOut => format!("no answer within {} s", SMTP_TIMEOUT.as_secs()),
        _ => e.to_string(),
    }
}

async fn outbox(pool: &PgPool) -> Check {
    let counts: Result<(i64, i64), sqlx::Error> = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'failed'),
                count(*) FILTER (WHERE status = 'queued'
                                   AND next_attempt_at < now() - interval '15 minutes')
         FROM outbox",
    )
    .fetch_one(pool)
    .await;
    match counts {
        Ok((0, 0)) => check("outbox", Status::Ok, "no failed or overdue messages"),
        Ok((failed, overdue)) => {
            let mut parts = Vec::new();
            if failed > 0 {
                parts.push(format!(
                    "{failed} failed (coachctl notify list --status failed; notify retry --all-failed)"
                ));
            }
            if overdue > 0 {
                parts.push(format!(
                    "{overdue} due for over 15 minutes (does cron run coachctl notify send?)"
                ));
            }
            check("outbox", Status::Fail, parts.join("; "))
        }
        Err(e) => check("outbox", Status::Fail, Error::from(e).to_string()),
    }
}

/// Reminders due for over an hour that were never queued: `session remind`
/// has not run for that long.
async fn reminders(pool: &PgPool) -> Check {
    let missed: Result<i64, sqlx::Error> = sqlx::query_scalar(
        "SELECT count(*) FROM sessions s
         WHERE s.status = 'scheduled'
           AND s.starts_at > now() AND s.starts_at < now() + interval '23 hours'
           AND s.updated_at < now() - interval '1 hour'
           AND NOT EXISTS (SELECT 1 FROM outbox o
                           WHERE o.session_id = s.id AND o.event LIKE 'reminder.%'
                             AND o.dedupe_key LIKE ('%:' || s.sequence))",
    )
    .fetch_one(pool)
    .await;
    match missed {
        Ok(0) => check("reminders", Status::Ok, "no reminder overdue"),
        Ok(n) => check(
            "reminders",
            Status::Fail,
            format!(
                "{n} session(s) due a reminder for over an hour have none: does cron run coachctl session remind?"
            ),
        ),
        Err(e) => check("reminders", Status::Fail, Error::from(e).to_string()),
    }
}

async fn clock(pool: &PgPool) -> Check {
    let before = chrono::Utc::now();
    let t0 = Instant::now();
    let server: Result<chrono::DateTime<chrono::Utc>, sqlx::Error> =
        sqlx::query_scalar("SELECT clock_timestamp()")
            .fetch_one(pool)
            .await;
    let half = t0.elapsed() / 2;
    match server {
        Ok(server) => {
            let ours = before + chrono::Duration::from_std(half).unwrap_or_default();
            let skew = (server - ours).num_milliseconds().abs();
            let text = format!("{:.1} s from the server's clock", skew as f64 / 1000.0);
            if skew as u128 <= MAX_SKEW.as_millis() {
                check("clock", Status::Ok, text)
            } else {
                check(
                    "clock",
                    Status::Fail,
                    format!("{text}: times and reminders will be off; sync the clocks (NTP)"),
                )
            }
        }
        Err(e) => check("clock", Status::Fail, Error::from(e).to_string()),
    }
}
