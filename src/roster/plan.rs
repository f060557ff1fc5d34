//! Checking a roster against the database and deciding, row by row, what
//! changes: created, updated, unchanged, or an error with its line.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use super::csv_file::Row;
use super::{CoachMap, Options, RowError, coach_refs, ref_key};
use crate::actor::Actor;
use crate::domain::{MembershipStatus, TimeZone, UserRef};
use crate::error::{Error, Result};

/// What an import does with a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Created,
    Updated,
    Unchanged,
}

/// One member's change: what the report shows, and the final state written.
#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    /// The member's id (for a new member, the id it gets).
    pub id: Uuid,
    pub line: u64,
    pub email: String,
    pub action: Action,
    /// The fields an update changes (empty for a new member).
    pub changed: Vec<&'static str>,
    pub name: String,
    pub timezone: String,
    /// Not shown: a coach's import keeps goals the member hides from them.
    #[serde(skip)]
    pub goals: Option<String>,
    pub coach_email: Option<String>,
    pub membership_status: MembershipStatus,
    #[serde(skip)]
    pub(crate) coach_id: Option<Uuid>,
    #[serde(skip)]
    pub(crate) old_coach_id: Option<Uuid>,
    /// The coach whose seat the member holds before the import.
    #[serde(skip)]
    pub(crate) old_seat: Option<Uuid>,
}

/// A coach named by the file or `--coach`, locked for the import.
#[derive(Debug, Clone)]
pub(crate) struct CoachState {
    pub id: Uuid,
    pub email: String,
    pub active: bool,
    pub accepting: bool,
    pub max: i32,
    pub count: i32,
}

/// A member already in the database with an email of the file.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct Existing {
    key: String,
    id: Uuid,
    name: String,
    timezone: String,
    goals: Option<String>,
    coach_id: Option<Uuid>,
    coach_email: Option<String>,
    membership_status: String,
    share_goals: bool,
}

/// What the database holds for a file.
pub(crate) struct Loaded {
    coaches: CoachMap,
    /// The coach every row goes to: `--coach`, or the acting coach.
    forced: Option<Result<CoachState, String>>,
    members: HashMap<String, Existing>,
    /// Emails of the file that belong to coaches or admins, with the role.
    others: HashMap<String, String>,
}

/// Read (and lock) what the plan needs: the members with the file's emails
/// first, then the coaches, the order in which `member assign` locks them,
/// so that an import and an assignment cannot deadlock. While the coaches
/// are locked, no one else assigns to them: the capacity check below is
/// exact, and the database's own check stays the backstop.
pub(crate) async fn load(
    conn: &mut PgConnection,
    actor: &Actor,
    rows: &[Row],
    opts: &Options,
) -> Result<Loaded> {
    let keys: Vec<&str> = rows.iter().map(|r| r.email.as_str()).collect();
    let existing: Vec<Existing> = sqlx::query_as(
        "SELECT f.key, u.id, u.name, u.timezone, m.goals, m.coach_id, cu.email AS coach_email,
            m.membership_status, m.share_goals
         FROM unnest($1::text[]) AS f(key)
         JOIN users u ON email_key(u.email) = email_key(f.key)
         JOIN member_profiles m ON m.user_id = u.id
         LEFT JOIN users cu ON cu.id = m.coach_id
         ORDER BY u.id
         FOR UPDATE OF m",
    )
    .bind(&keys)
    .fetch_all(&mut *conn)
    .await?;
    let others: Vec<(String, String)> = sqlx::query_as(
        "SELECT f.key, u.role FROM unnest($1::text[]) AS f(key)
         JOIN users u ON email_key(u.email) = email_key(f.key)
         WHERE u.role <> 'member'",
    )
    .bind(&keys)
    .fetch_all(&mut *conn)
    .await?;

    let own = actor.as_coach().map(UserRef::Id);
    let forced_ref = opts.coach.clone().or(own);
    let mut refs: Vec<UserRef> = coach_refs(rows, opts).into_iter().cloned().collect();
    if let Some(f) = &forced_ref
        && !refs.contains(f)
    {
        refs.push(f.clone());
    }
    let mut found: Vec<(String, crate::coach::Coach)> = Vec::new();
    let mut coaches: CoachMap = HashMap::new();
    for r in &refs {
        match crate::coach::find(conn, actor, r).await {
            Ok(c) => found.push((ref_key(r), c)),
            Err(e @ Error::NotFound(_)) => {
                coaches.insert(ref_key(r), Err(e.to_string()));
            }
            Err(e) => return Err(e),
        }
    }
    let mut ids: Vec<Uuid> = found.iter().map(|(_, c)| c.id).collect();
    ids.sort();
    ids.dedup();
    let locked: Vec<(Uuid, i32, i32, bool)> = sqlx::query_as(
        "SELECT user_id, member_count, max_members, accepting_members FROM coach_profiles
         WHERE user_id = ANY($1) ORDER BY user_id FOR NO KEY UPDATE",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let locked: HashMap<Uuid, (i32, i32, bool)> = locked
        .into_iter()
        .map(|(id, count, max, acc)| (id, (count, max, acc)))
        .collect();
    for (key, c) in found {
        let (count, max, accepting) = locked.get(&c.id).copied().unwrap_or((
            c.member_count,
            c.max_members,
            c.accepting_members,
        ));
        coaches.insert(
            key,
            Ok(CoachState {
                id: c.id,
                email: c.email,
                active: c.active,
                accepting,
                max,
                count,
            }),
        );
    }
    let forced = forced_ref.map(|f| {
        coaches
            .get(&ref_key(&f))
            .cloned()
            .unwrap_or_else(|| Err(format!("no coach {f}")))
    });
    if let (Some(me), Some(f)) = (actor.as_coach(), &forced) {
        match f {
            Ok(c) if c.id == me.as_uuid() => {}
            Ok(c) => {
                return Err(Error::forbidden(format!(
                    "{} may import only into their own roster, not into {}'s",
                    actor.label(),
                    c.email
                )));
            }
            Err(e) => return Err(Error::not_found(e.clone())),
        }
    }
    if let Some(Err(e)) = &forced {
        return Err(Error::not_found(e.clone()));
    }
    Ok(Loaded {
        coaches,
        forced,
        members: existing.into_iter().map(|e| (e.key.clone(), e)).collect(),
        others: others.into_iter().collect(),
    })
}

fn holds_seat(coach: Option<Uuid>, status: MembershipStatus) -> Option<Uuid> {
    coach.filter(|_| status == MembershipStatus::Active)
}

/// Decide every row; bad rows go to `errors`.
pub(crate) fn plan(
    actor: &Actor,
    rows: Vec<Row>,
    opts: &Options,
    db: &Loaded,
    errors: &mut Vec<RowError>,
) -> Result<Vec<Planned>> {
    let forced = match &db.forced {
        Some(Ok(c)) => Some(c),
        _ => None,
    };
    let coach_by_id: HashMap<Uuid, &CoachState> = db
        .coaches
        .values()
        .filter_map(|c| c.as_ref().ok())
        .map(|c| (c.id, c))
        .collect();
    let mut planned: Vec<Planned> = Vec::with_capacity(rows.len());
    // Each row goes as its plan comes: the plans grow into the room the
    // rows leave (a 100,000-row import holds one of the two, not both).
    for row in rows {
        match plan_row(actor, &row, opts, db, forced) {
            Ok(p) => planned.push(p),
            Err(e) => errors.push(e),
        }
    }
    // Capacity: seats freed in this file count first, then each row that
    // takes a seat, in file order, until the coach is full.
    let mut room: HashMap<Uuid, i64> = coach_by_id
        .values()
        .map(|c| (c.id, i64::from(c.max) - i64::from(c.count)))
        .collect();
    let seat = |p: &Planned| holds_seat(p.coach_id, p.membership_status);
    for p in &planned {
        if let Some(old) = p.old_seat
            && seat(p) != Some(old)
            && let Some(r) = room.get_mut(&old)
        {
            *r += 1;
        }
    }
    let mut full: Vec<RowError> = Vec::new();
    for p in &planned {
        let Some(c) = seat(p) else { continue };
        if p.old_seat == Some(c) {
            continue;
        }
        let Some(r) = room.get_mut(&c) else { continue };
        *r -= 1;
        if *r < 0 {
            let coach = coach_by_id[&c];
            full.push(RowError::invalid(
                p.line,
                format!(
                    "coach {} is at capacity ({} members, {} now): this row would be one too many; raise their max members or assign fewer",
                    coach.email, coach.max, coach.count
                ),
            ));
        }
    }
    errors.extend(full);
    Ok(planned)
}

/// One row against the database: its final state, or why it is refused.
fn plan_row(
    actor: &Actor,
    row: &Row,
    opts: &Options,
    db: &Loaded,
    forced: Option<&CoachState>,
) -> std::result::Result<Planned, RowError> {
    let line = row.line;
    let email = row.email.as_str();
    if let Some(role) = db.others.get(email) {
        return Err(RowError::invalid(
            line,
            format!("{email} is a {role}, not a member; a roster holds members only"),
        ));
    }
    let named = match &row.coach {
        Some(Some(r)) => match db.coaches.get(&ref_key(r)) {
            Some(Ok(c)) => Some(Some(c)),
            Some(Err(e)) => return Err(RowError::invalid(line, e.clone())),
            None => return Err(RowError::invalid(line, format!("no coach {r}"))),
        },
        Some(None) => Some(None),
        None => None,
    };
    // The coach this row declares: `--coach` (or the acting coach) for
    // every row; a row naming another coach contradicts it.
    let coach: Option<Option<&CoachState>> = match (forced, named) {
        (Some(f), Some(Some(c))) if c.id != f.id => {
            let why = if actor.as_coach().is_some() && opts.coach.is_none() {
                format!(
                    "names coach {}, but a coach imports into their own roster ({})",
                    c.email, f.email
                )
            } else {
                format!("names coach {}, but --coach is {}", c.email, f.email)
            };
            return Err(if actor.as_coach().is_some() {
                RowError::forbidden(line, why)
            } else {
                RowError::invalid(line, why)
            });
        }
        (Some(f), _) => Some(Some(f)),
        (None, named) => named,
    };
    let existing = db.members.get(email);
    let (p, new_assignment) = match existing {
        None => {
            let coach = coach.flatten();
            let status = row
                .membership_status
                .flatten()
                .unwrap_or(MembershipStatus::Active);
            (
                Planned {
                    id: Uuid::new_v4(),
                    line,
                    email: email.to_string(),
                    action: Action::Created,
                    changed: Vec::new(),
                    name: row.name.as_str().to_string(),
                    timezone: row
                        .timezone
                        .flatten()
                        .unwrap_or_else(TimeZone::utc)
                        .as_str()
                        .to_string(),
                    goals: row.goals.clone().flatten(),
                    coach_email: coach.map(|c| c.email.clone()),
                    membership_status: status,
                    coach_id: coach.map(|c| c.id),
                    old_coach_id: None,
                    old_seat: None,
                },
                coach,
            )
        }
        Some(e) => {
            let old_status = MembershipStatus::from_db(&e.membership_status)
                .map_err(|err| RowError::invalid(line, err.to_string()))?;
            let mut changed = Vec::new();
            let name = row.name.as_str().to_string();
            if name != e.name {
                changed.push("name");
            }
            let timezone = match row.timezone {
                None => e.timezone.clone(),
                Some(t) => t.unwrap_or_else(TimeZone::utc).as_str().to_string(),
            };
            if timezone != e.timezone {
                changed.push("timezone");
            }
            // A coach does not see goals a member keeps from them: the
            // cell says nothing about them, so they are kept.
            let hidden = actor.as_coach().is_some() && !e.share_goals;
            let goals = match &row.goals {
                Some(g) if !hidden => g.clone(),
                _ => e.goals.clone(),
            };
            if goals != e.goals {
                changed.push("goals");
            }
            let (coach_id, coach_email) = match coach {
                None => (e.coach_id, e.coach_email.clone()),
                Some(c) => (c.map(|c| c.id), c.map(|c| c.email.clone())),
            };
            if coach_id != e.coach_id {
                changed.push("coach");
            }
            let status = match row.membership_status {
                None => old_status,
                Some(s) => s.unwrap_or(MembershipStatus::Active),
            };
            if status != old_status {
                changed.push("membership_status");
            }
            if let Some(me) = actor.as_coach()
                && e.coach_id != Some(me.as_uuid())
            {
                return Err(RowError::forbidden(
                    line,
                    format!(
                        "{email} is not in {}'s roster; only an admin may import them",
                        actor.label()
                    ),
                ));
            }
            if actor.as_coach().is_some()
                && (changed.contains(&"name") || changed.contains(&"timezone"))
            {
                return Err(RowError::forbidden(
                    line,
                    format!("a coach may not change the name or time zone of member {email}"),
                ));
            }
            if !changed.is_empty() && !opts.update {
                return Err(RowError::invalid(
                    line,
                    format!(
                        "member {email} exists with a different {}; pass --update to change it",
                        changed.join(", ")
                    ),
                ));
            }
            let new = coach_id.filter(|c| Some(*c) != e.coach_id).and_then(|c| {
                db.coaches
                    .values()
                    .filter_map(|x| x.as_ref().ok())
                    .find(|x| x.id == c)
            });
            (
                Planned {
                    id: e.id,
                    line,
                    email: email.to_string(),
                    action: if changed.is_empty() {
                        Action::Unchanged
                    } else {
                        Action::Updated
                    },
                    changed,
                    name,
                    timezone,
                    goals,
                    coach_email,
                    membership_status: status,
                    coach_id,
                    old_coach_id: e.coach_id,
                    old_seat: holds_seat(e.coach_id, old_status),
                },
                new,
            )
        }
    };
    // A new assignment: the coach must be active and accepting (a member
    // who stays with their coach is not new to them).
    if let Some(c) = new_assignment {
        if !c.active {
            return Err(RowError::invalid(
                line,
                format!("coach {} is deactivated and cannot take members", c.email),
            ));
        }
        if !c.accepting && p.membership_status == MembershipStatus::Active {
            return Err(RowError::invalid(
                line,
                format!("coach {} is not accepting members", c.email),
            ));
        }
    }
    Ok(p)
}
