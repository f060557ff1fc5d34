//! `book --batch`: bookings from JSON lines over one connection (issue 23).
//!
//! Each line is booked as `book` books it ([`super::book_zoned`]: its own
//! transaction, a refusal recorded, a deadlock victim retried), or, with
//! `atomic`, every line in one transaction that the first failing line
//! rolls back. One line fails alone: a line that is not a booking is that
//! line's usage error (exit 2), a bad value its invalid input (exit 3).

use serde::Deserialize;
use sqlx::{Connection, PgConnection};

use super::{Booking, Fast, Request, book_fast, book_once, member_ref, refusal_of};
use crate::actor::Actor;
use crate::domain::{At, ProfileText, SessionType, UserId, UserRef};
use crate::error::{Error, Kind, Result};

/// What became of one line.
#[derive(Debug)]
pub enum LineOutcome {
    /// Booked; the coach's zone, for showing the times.
    Booked(Booking, chrono_tz::Tz),
    /// Not booked: the kind (and so the exit code) and one sentence.
    Failed(Kind, String),
}

/// The input, line by line (bytes: a line that is not UTF-8 fails alone).
pub type Lines<'a> = &'a mut dyn Iterator<Item = std::io::Result<Vec<u8>>>;

/// One line: the fields of `book`'s flags, with the same meaning.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    coach: String,
    #[serde(default)]
    member: Option<String>,
    at: String,
    #[serde(default, rename = "type")]
    session_type: Option<String>,
    #[serde(default)]
    notes: Option<String>,
}

/// Book every line of `lines` on `conn`, calling `emit` with each line's
/// number (from 1; blank lines are skipped) and outcome, in order, and
/// `tick` once a line is done. Without `atomic` each outcome is emitted as
/// soon as it is known; with it, at the end, when the transaction is
/// committed or rolled back.
pub async fn book_lines(
    conn: &mut PgConnection,
    actor: &Actor,
    lines: Lines<'_>,
    atomic: bool,
    emit: &mut dyn FnMut(usize, LineOutcome) -> Result<()>,
    tick: &mut dyn FnMut(),
) -> Result<()> {
    if atomic {
        return all_or_nothing(conn, actor, lines, emit, tick).await;
    }
    for (n, line) in numbered(lines) {
        let outcome = match line {
            Ok(text) => match request(conn, actor, &text).await {
                Ok(req) => super::book_zoned(conn, actor, &req).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        emit(n, outcome_of(outcome))?;
        tick();
    }
    Ok(())
}

fn outcome_of(r: Result<(Booking, chrono_tz::Tz)>) -> LineOutcome {
    match r {
        Ok((b, tz)) => LineOutcome::Booked(b, tz),
        Err(e) => LineOutcome::Failed(e.kind(), e.to_string()),
    }
}

/// The lines that are not blank, numbered from 1 as in the file.
/// Input that fails to read ends there, as that line's failure.
fn numbered(lines: Lines<'_>) -> impl Iterator<Item = (usize, Result<String>)> + '_ {
    let mut broken = false;
    lines
        .enumerate()
        .map_while(move |(i, line)| {
            if broken {
                return None;
            }
            let n = i + 1;
            let text = match line {
                Ok(bytes) => String::from_utf8(bytes)
                    .map_err(|_| Error::Usage(format!("line {n} is not UTF-8 text"))),
                Err(e) => {
                    broken = true;
                    Err(Error::invalid(format!("cannot read line {n}: {e}")))
                }
            };
            Some(match text {
                Ok(t) if t.trim().is_empty() => None,
                Ok(t) => Some((n, Ok(t))),
                Err(e) => Some((n, Err(e))),
            })
        })
        .flatten()
}

/// A line as `book`'s request: parsed as its flags are, people named by an
/// id prefix resolved as `book` resolves them.
async fn request(conn: &mut PgConnection, actor: &Actor, text: &str) -> Result<Request> {
    let line: Line = serde_json::from_str(text).map_err(|e| {
        // serde's position is within the line; the line number is ours
        let why = e.to_string();
        let why = why.split(" at line ").next().unwrap_or_default();
        Error::Usage(format!(
            "not a booking ({why}); a line is a JSON object with \"coach\" and \"at\", and optionally \"member\", \"type\" and \"notes\""
        ))
    })?;
    let field = |name: &str, e: Error| match e {
        Error::Invalid(m) => Error::invalid(format!("{name}: {m}")),
        other => other,
    };
    let coach: UserRef = line.coach.parse().map_err(|e| field("coach", e))?;
    let member: Option<UserRef> = match line.member {
        Some(m) => Some(m.parse().map_err(|e| field("member", e))?),
        None => None,
    };
    let at: At = line.at.parse().map_err(|e| field("at", e))?;
    let session_type: Option<SessionType> = match line.session_type {
        Some(t) => Some(t.parse().map_err(|e| field("type", e))?),
        None => None,
    };
    let notes: Option<ProfileText> = match line.notes {
        Some(t) => Some(t.parse().map_err(|e| field("notes", e))?),
        None => None,
    };
    Ok(Request {
        coach: resolved(conn, actor, coach).await?,
        member: match member {
            Some(m) => Some(resolved(conn, actor, m).await?),
            None => None,
        },
        at,
        notes,
        session_type,
    })
}

/// A person named by an id prefix, as the full id (`crate::ids::user`).
async fn resolved(conn: &mut PgConnection, actor: &Actor, who: UserRef) -> Result<UserRef> {
    match who {
        UserRef::Prefix(p) => crate::ids::user_in(conn, actor, &p)
            .await
            .map(|u| UserRef::Id(UserId::from_uuid(u))),
        other => Ok(other),
    }
}

/// `--atomic`: every line in one transaction; the first that fails rolls
/// all back, and every other line is reported as not booked because of it.
async fn all_or_nothing(
    conn: &mut PgConnection,
    actor: &Actor,
    lines: Lines<'_>,
    emit: &mut dyn FnMut(usize, LineOutcome) -> Result<()>,
    tick: &mut dyn FnMut(),
) -> Result<()> {
    let mut tx = conn.begin().await?;
    let mut booked: Vec<(usize, Booking, chrono_tz::Tz)> = Vec::new();
    let mut failed: Option<(usize, Error)> = None;
    let mut after: Vec<usize> = Vec::new();
    for (n, line) in numbered(lines) {
        if failed.is_some() {
            after.push(n);
            continue;
        }
        let outcome = match line {
            Ok(text) => match request(&mut tx, actor, &text).await {
                Ok(req) => within(&mut tx, actor, &req).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        match outcome {
            Ok((b, tz)) => booked.push((n, b, tz)),
            Err(e) => failed = Some((n, e)),
        }
        tick();
    }
    let Some((bad, e)) = failed else {
        tx.commit().await?;
        for (n, b, tz) in booked {
            emit(n, LineOutcome::Booked(b, tz))?;
        }
        return Ok(());
    };
    tx.rollback().await?;
    let (kind, why) = (e.kind(), e.to_string());
    let because = format!("not booked: line {bad} failed ({why}), and --atomic books all or none");
    for (n, _, _) in booked {
        emit(n, LineOutcome::Failed(kind, because.clone()))?;
    }
    emit(bad, LineOutcome::Failed(kind, why))?;
    for n in after {
        emit(n, LineOutcome::Failed(kind, because.clone()))?;
    }
    Ok(())
}

/// One booking inside the transaction: as `book`, but a refusal is not
/// recorded (the rollback would take it back) and nothing is retried (a
/// failed statement has aborted the transaction).
async fn within(
    conn: &mut PgConnection,
    actor: &Actor,
    req: &Request,
) -> Result<(Booking, chrono_tz::Tz)> {
    let who = member_ref(actor, req.member.as_ref())?;
    let fast = match book_fast(conn, actor, req, &who).await {
        Err(Error::Database(sqlx::Error::Database(e)))
            if matches!(e.code().as_deref(), Some("40P01" | "40001")) =>
        {
            return Err(Error::conflict(
                "the booking collided with a concurrent one and the batch was rolled back; run it again",
            ));
        }
        other => other?,
    };
    match fast {
        Fast::Booked(b, tz) => Ok((b, tz)),
        Fast::NotMade => book_once(conn, actor, req, &who, false).await,
        Fast::Refused(e) => Err(refusal_of(e, &who.to_string())?),
    }
}
