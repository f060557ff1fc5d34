//! Checking a roster against the database and deciding, row by row, what
//! changes: created, updated, unchanged, or an error with its line.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use sqlx::Row as _;
use sqlx::postgres::PgRow;

use super::csv_file::Present;
use super::{CoachMap, Options, Progress, RowError, ref_key};
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
#[derive(Debug, Clone)]
pub(crate) struct Existing {
    id: Uuid,
    name: String,
    timezone: String,
    goals: Option<String>,
    coach_id: Option<Uuid>,
    coach_email: Option<String>,
    membership_status: String,
    share_goals: bool,
}

/// A row of the file read back from `roster_in`, with what the database
/// holds for its email.
struct FileRow {
    line: u64,
    email: String,
    name: String,
    /// As in `csv_file::Row`: `None`, the column is not in the file;
    /// `Some(None)`, an empty cell.
    goals: Option<Option<String>>,
    timezone: Option<Option<String>>,
    /// The coach reference's key (`ref_key`).
    coach: Option<Option<String>>,
    membership_status: Option<Option<MembershipStatus>>,
    /// The first line of the file with this email.
    first: u64,
    /// The role of a coach or admin with this email.
    other_role: Option<String>,
    existing: Option<Existing>,
}

impl FileRow {
    fn from_row(r: &PgRow, present: Present) -> Result<Self> {
        let col = |present: bool, v: Option<String>| present.then_some(v);
        let status = match r.try_get::<Option<String>, _>("membership_status")? {
            Some(s) => Some(MembershipStatus::from_db(&s)?),
            None => None,
        };
        let existing = match r.try_get::<Option<Uuid>, _>("m_id")? {
            None => None,
            Some(id) => Some(Existing {
                id,
                name: r.try_get("m_name")?,
                timezone: r.try_get("m_timezone")?,
                goals: r.try_get("m_goals")?,
                coach_id: r.try_get("m_coach_id")?,
                coach_email: r.try_get("m_coach_email")?,
                membership_status: r.try_get("m_status")?,
                share_goals: r.try_get("m_share_goals")?,
            }),
        };
        Ok(FileRow {
            line: r.try_get::<i64, _>("line")? as u64,
            email: r.try_get("email")?,
            name: r.try_get("name")?,
            goals: col(present.goals, r.try_get("goals")?),
            timezone: col(present.timezone, r.try_get("timezone")?),
            coach: col(present.coach, r.try_get("coach")?),
            membership_status: present.membership_status.then_some(status),
            first: r.try_get::<i64, _>("first")? as u64,
            other_role: r.try_get("other_role")?,
            existing,
        })
    }
}

/// What the database holds for a file.
pub(crate) struct Loaded {
    coaches: CoachMap,
    /// The coach every row goes to: `--coach`, or the acting coach.
    forced: Option<Result<CoachState, String>>,
}

/// Lock what the plan needs: the members with the file's emails first,
/// then the coaches, the order in which `member assign` locks them, so that
/// an import and an assignment cannot deadlock. While the coaches are
/// locked, no one else assigns to them: the capacity check below is exact,
/// and the database's own check stays the backstop. The members are read
/// later, row by row, by [`plan`].
pub(crate) async fn load(
    conn: &mut PgConnection,
    actor: &Actor,
    opts: &Options,
    file_refs: &HashMap<String, UserRef>,
) -> Result<Loaded> {
    sqlx::raw_sql(
        "SELECT count(*) FROM (
            SELECT 1 FROM roster_in f
            JOIN users u ON email_key(u.email) = email_key(f.email)
            JOIN member_profiles m ON m.user_id = u.id
            ORDER BY u.id
            FOR UPDATE OF m) locked",
    )
    .execute(&mut *conn)
    .await?;
    // The coaches the rows name, in file order; a row repeating an email
    // is refused for that alone, so its coach is not looked up.
    let named: Vec<(String,)> = sqlx::query_as(
        r#"SELECT coach FROM (
            SELECT coach, line,
                row_number() OVER (PARTITION BY email COLLATE "C" ORDER BY line) AS nth
            FROM roster_in) f
         WHERE nth = 1 AND coach IS NOT NULL
         GROUP BY coach ORDER BY min(line)"#,
    )
    .fetch_all(&mut *conn)
    .await?;

    let own = actor.as_coach().map(UserRef::Id);
    let forced_ref = opts.coach.clone().or(own);
    let mut refs: Vec<(String, UserRef)> = Vec::new();
    let all = opts
        .coach
        .iter()
        .map(|c| (ref_key(c), c.clone()))
        .chain(
            named
                .into_iter()
                .filter_map(|(k,)| file_refs.get(&k).map(|r| (k, r.clone()))),
        )
        .chain(forced_ref.iter().map(|f| (ref_key(f), f.clone())));
    for (k, r) in all {
        if !refs.iter().any(|(have, _)| *have == k) {
            refs.push((k, r));
        }
    }
    let mut found: Vec<(String, crate::coach::Coach)> = Vec::new();
    let mut coaches: CoachMap = HashMap::new();
    for (key, r) in refs {
        match crate::coach::find(conn, actor, &r).await {
            Ok(c) => found.push((key, c)),
            Err(e @ Error::NotFound(_)) => {
                coaches.insert(key, Err(e.to_string()));
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
    Ok(Loaded { coaches, forced })
}

fn holds_seat(coach: Option<Uuid>, status: MembershipStatus) -> Option<Uuid> {
    coach.filter(|_| status == MembershipStatus::Active)
}

/// A coach's seats as the plan goes.
struct Seats {
    /// Free seats before the import.
    room: i64,
    /// Seats the file frees.
    freed: i64,
    /// Seats the file takes so far.
    taken: i64,
    /// The lines of the takes beyond `room`, in file order.
    beyond: Vec<u64>,
}

/// What the plan of a whole file comes to.
pub(crate) struct Outcome {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// The members created or updated, in file order, if asked for.
    pub members: Vec<Planned>,
}

/// The rows of `roster_in` read back with what the database holds for each
/// email, in file order; `first` is the first line with the same email.
const FILE_ROWS: &str = r#"DECLARE roster_plan NO SCROLL CURSOR FOR
    SELECT f.line, f.email, f.name, f.goals, f.timezone, f.coach, f.membership_status, f.first,
        CASE WHEN u.role::text <> 'member' THEN u.role::text END AS other_role,
        m.user_id AS m_id, u.name AS m_name, u.timezone AS m_timezone, m.goals AS m_goals,
        m.coach_id AS m_coach_id, cu.email AS m_coach_email,
        m.membership_status::text AS m_status, m.share_goals AS m_share_goals
    FROM (SELECT *, min(line) OVER (PARTITION BY email COLLATE "C") AS first FROM roster_in) f
    LEFT JOIN users u ON email_key(u.email) = email_key(f.email)
    LEFT JOIN member_profiles m ON m.user_id = u.id
    LEFT JOIN users cu ON cu.id = m.coach_id
    ORDER BY f.line"#;

/// Rows planned per round trip.
const FETCH: &str = "FETCH 1000 FROM roster_plan";

/// Decide every row of `roster_in`, a batch at a time; bad rows go to
/// `errors`. While there are none, the final state of each changing member
/// goes on to `roster_rows` (unless `--dry-run`): no more than a batch of
/// rows is held at a time, however long the file.
pub(crate) async fn plan(
    conn: &mut PgConnection,
    actor: &Actor,
    opts: &Options,
    present: Present,
    db: &Loaded,
    errors: &mut Vec<RowError>,
    progress: &dyn Progress,
) -> Result<Outcome> {
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
    // Capacity: seats freed in this file count first, then each row that
    // takes a seat, in file order, until the coach is full. Frees only add
    // room, so a take within the room a coach has now always fits: only
    // the lines of takes beyond it are kept, to be judged at the end.
    let mut seats: HashMap<Uuid, Seats> = coach_by_id
        .values()
        .map(|c| {
            let room = i64::from(c.max) - i64::from(c.count);
            (
                c.id,
                Seats {
                    room,
                    freed: 0,
                    taken: 0,
                    beyond: Vec::new(),
                },
            )
        })
        .collect();
    let mut out = Outcome {
        created: 0,
        updated: 0,
        unchanged: 0,
        members: Vec::new(),
    };
    let write = !opts.dry_run;
    if write {
        super::write::create(&mut *conn).await?;
    }
    sqlx::raw_sql(FILE_ROWS).execute(&mut *conn).await?;
    let mut buf = String::new();
    loop {
        let batch = sqlx::raw_sql(FETCH).fetch_all(&mut *conn).await?;
        if batch.is_empty() {
            break;
        }
        for r in &batch {
            let row = FileRow::from_row(r, present)?;
            if row.first != row.line {
                errors.push(RowError::invalid(
                    row.line,
                    format!(
                        "{} appears already on line {} (emails are compared ignoring case)",
                        row.email, row.first
                    ),
                ));
                continue;
            }
            let p = match plan_row(actor, &row, opts, db, forced) {
                Ok(p) => p,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            let seat = holds_seat(p.coach_id, p.membership_status);
            if let Some(old) = p.old_seat
                && seat != Some(old)
                && let Some(s) = seats.get_mut(&old)
            {
                s.freed += 1;
            }
            if let Some(c) = seat
                && p.old_seat != Some(c)
                && let Some(s) = seats.get_mut(&c)
            {
                s.taken += 1;
                if s.taken > s.room {
                    s.beyond.push(p.line);
                }
            }
            match p.action {
                Action::Unchanged => {
                    out.unchanged += 1;
                    continue;
                }
                Action::Created => out.created += 1,
                Action::Updated => out.updated += 1,
            }
            if write && errors.is_empty() {
                super::write::push_row(&mut buf, &p);
            }
            if opts.members {
                out.members.push(p);
            }
        }
        progress.advance(batch.len() as u64);
        drop(batch);
        if write && errors.is_empty() && !buf.is_empty() {
            super::write::copy(&mut *conn, &buf).await?;
        }
        buf.clear();
    }
    sqlx::raw_sql("CLOSE roster_plan")
        .execute(&mut *conn)
        .await?;
    for (id, s) in seats {
        // The n-th take of `beyond` is the coach's (room + 1 + n)-th.
        let first = s.room.max(0) + 1;
        for (n, line) in s.beyond.into_iter().enumerate() {
            if first + n as i64 <= s.room + s.freed {
                continue;
            }
            let coach = coach_by_id[&id];
            errors.push(RowError::invalid(
                line,
                format!(
                    "coach {} is at capacity ({} members, {} now): this row would be one too many; raise their max members or assign fewer",
                    coach.email, coach.max, coach.count
                ),
            ));
        }
    }
    Ok(out)
}

/// One row against the database: its final state, or why it is refused.
fn plan_row(
    actor: &Actor,
    row: &FileRow,
    opts: &Options,
    db: &Loaded,
    forced: Option<&CoachState>,
) -> std::result::Result<Planned, RowError> {
    let line = row.line;
    let email = row.email.as_str();
    if let Some(role) = &row.other_role {
        return Err(RowError::invalid(
            line,
            format!("{email} is a {role}, not a member; a roster holds members only"),
        ));
    }
    let named = match &row.coach {
        Some(Some(r)) => match db.coaches.get(r) {
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
    let existing = row.existing.as_ref();
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
                    name: row.name.clone(),
                    timezone: row
                        .timezone
                        .clone()
                        .flatten()
                        .unwrap_or_else(|| TimeZone::utc().as_str().to_string()),
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
            let name = row.name.clone();
            if name != e.name {
                changed.push("name");
            }
            let timezone = match &row.timezone {
                None => e.timezone.clone(),
                Some(t) => t
                    .clone()
                    .unwrap_or_else(|| TimeZone::utc().as_str().to_string()),
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
