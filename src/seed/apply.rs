//! Writing a plan: set-based statements (`INSERT .. SELECT FROM unnest`)
//! in the caller's transaction, in the order the rules need (people, then
//! assignments, then windows and blocks, then sessions). Every row still
//! passes the database's triggers: the member count under `max_members`,
//! the coach's schedule lock, window, block and buffer checks, the slot
//! counter under capacity, the outbox notices a single command queues.

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::plan::Plan;
use super::{Problem, Problems};
use crate::actor::Actor;
use crate::error::{Error, Kind, Result};

/// Write everything. `Some(problems)` when the database refused a row in
/// a way that names a declared thing (the caller rolls back).
pub(crate) async fn write(
    tx: &mut PgConnection,
    actor: &Actor,
    file: &str,
    plan: &Plan,
) -> Result<Option<Problems>> {
    match write_all(tx, actor, plan).await {
        Ok(()) => Ok(None),
        Err(Error::Database(e)) => refusal(file, plan, e).map(Some),
        Err(e) => Err(e),
    }
}

async fn write_all(tx: &mut PgConnection, actor: &Actor, plan: &Plan) -> Result<()> {
    insert_users(tx, plan).await?;
    update_people(tx, plan).await?;
    insert_members(tx, plan).await?;
    relationships(tx, actor, plan).await?;
    schedules(tx, plan).await?;
    bookings(tx, plan).await?;
    audit(tx, actor, plan).await?;
    // A changed zone, window or new block may leave booked sessions
    // outside the schedule: refused before commit, naming them.
    let mut changed = plan.schedule_changed.clone();
    changed.sort();
    changed.dedup();
    for id in changed {
        let c = crate::coach::fetch(tx, crate::domain::UserId::from_uuid(id)).await?;
        crate::availability::refuse_orphans(tx, &c).await?;
    }
    Ok(())
}

async fn insert_users(tx: &mut PgConnection, plan: &Plan) -> Result<()> {
    if plan.users.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::new();
    let mut emails = Vec::new();
    let mut names = Vec::new();
    let mut roles = Vec::new();
    let mut zones = Vec::new();
    for (id, email, name, role, zone) in &plan.users {
        ids.push(*id);
        emails.push(email.as_str());
        names.push(name.as_str());
        roles.push(*role);
        zones.push(zone.as_str());
    }
    sqlx::query(
        "INSERT INTO users (id, email, name, role, timezone)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[])",
    )
    .bind(&ids)
    .bind(&emails)
    .bind(&names)
    .bind(&roles)
    .bind(&zones)
    .execute(&mut *tx)
    .await?;
    if plan.coaches.is_empty() {
        return Ok(());
    }
    let c = &plan.coaches;
    sqlx::query(
        "INSERT INTO coach_profiles (user_id, max_members, accepting_members, specialization, bio,
             certifications, max_per_day, max_per_week, member_max_per_week, cancel_notice_hours,
             waitlist_offer_minutes)
         SELECT * FROM unnest($1::uuid[], $2::int4[], $3::bool[], $4::text[], $5::text[], $6::text[],
             $7::int4[], $8::int4[], $9::int4[], $10::int4[], $11::int4[])",
    )
    .bind(c.iter().map(|c| c.id).collect::<Vec<_>>())
    .bind(c.iter().map(|c| c.max_members).collect::<Vec<_>>())
    .bind(c.iter().map(|c| c.accepting_members).collect::<Vec<_>>())
    .bind(c.iter().map(|c| c.specialization.clone()).collect::<Vec<_>>())
    .bind(c.iter().map(|c| c.bio.clone()).collect::<Vec<_>>())
    .bind(c.iter().map(|c| c.certifications.clone()).collect::<Vec<_>>())
    .bind(c.iter().map(|c| c.max_per_day).collect::<Vec<_>>())
    .bind(c.iter().map(|c| c.max_per_week).collect::<Vec<_>>())
    .bind(c.iter().map(|c| c.member_max_per_week).collect::<Vec<_>>())
    .bind(c.iter().map(|c| c.cancel_notice_hours).collect::<Vec<_>>())
    .bind(c.iter().map(|c| c.waitlist_offer_minutes).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Changed people, one statement each: rare, and each a small change.
async fn update_people(tx: &mut PgConnection, plan: &Plan) -> Result<()> {
    for (c, old_name, old_zone) in &plan.coach_updates {
        if c.timezone != *old_zone {
            crate::availability::lock_schedule(tx, c.id).await?;
        }
        if c.name != *old_name || c.timezone != *old_zone {
            sqlx::query(
                "UPDATE users SET name = $2, timezone = $3, updated_at = now() WHERE id = $1",
            )
            .bind(c.id)
            .bind(&c.name)
            .bind(&c.timezone)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE coach_profiles SET max_members = $2, accepting_members = $3, specialization = $4,
                bio = $5, certifications = $6, max_per_day = $7, max_per_week = $8,
                member_max_per_week = $9, cancel_notice_hours = $10, waitlist_offer_minutes = $11,
                updated_at = now()
             WHERE user_id = $1
               AND (max_members, accepting_members, specialization, bio, certifications,
                    max_per_day, max_per_week, member_max_per_week, cancel_notice_hours,
                    waitlist_offer_minutes)
                   IS DISTINCT FROM ($2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(c.id)
        .bind(c.max_members)
        .bind(c.accepting_members)
        .bind(&c.specialization)
        .bind(&c.bio)
        .bind(&c.certifications)
        .bind(c.max_per_day)
        .bind(c.max_per_week)
        .bind(c.member_max_per_week)
        .bind(c.cancel_notice_hours)
        .bind(c.waitlist_offer_minutes)
        .execute(&mut *tx)
        .await?;
    }
    for (m, old_name, old_zone) in &plan.member_updates {
        if m.name != *old_name || m.timezone != *old_zone {
            sqlx::query(
                "UPDATE users SET name = $2, timezone = $3, updated_at = now() WHERE id = $1",
            )
            .bind(m.id)
            .bind(&m.name)
            .bind(&m.timezone)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE member_profiles SET coach_id = $2, goals = $3, health_info = $4, updated_at = now()
             WHERE user_id = $1 AND (coach_id, goals, health_info) IS DISTINCT FROM ($2, $3, $4)",
        )
        .bind(m.id)
        .bind(m.coach_id)
        .bind(&m.goals)
        .bind(&m.health_info)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

async fn insert_members(tx: &mut PgConnection, plan: &Plan) -> Result<()> {
    if plan.members.is_empty() {
        return Ok(());
    }
    let m = &plan.members;
    // The coach-count trigger runs per row: capacity and acceptance hold.
    sqlx::query(
        "INSERT INTO member_profiles (user_id, coach_id, goals, health_info)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[])",
    )
    .bind(m.iter().map(|m| m.id).collect::<Vec<_>>())
    .bind(m.iter().map(|m| m.coach_id).collect::<Vec<_>>())
    .bind(m.iter().map(|m| m.goals.clone()).collect::<Vec<_>>())
    .bind(m.iter().map(|m| m.health_info.clone()).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// History of every assignment and unassignment, and the conversation an
/// assignment opens (as `member assign` does).
async fn relationships(tx: &mut PgConnection, actor: &Actor, plan: &Plan) -> Result<()> {
    if plan.relationship.is_empty() {
        return Ok(());
    }
    let r = &plan.relationship;
    sqlx::query(
        "INSERT INTO relationship_events (member_id, coach_id, event, by_label)
         SELECT m, c, e, $4 FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS x(m, c, e)",
    )
    .bind(r.iter().map(|x| x.0).collect::<Vec<_>>())
    .bind(r.iter().map(|x| x.1).collect::<Vec<_>>())
    .bind(r.iter().map(|x| x.2).collect::<Vec<_>>())
    .bind(actor.label())
    .execute(&mut *tx)
    .await?;
    let opened: Vec<&(Uuid, Uuid, &str)> = r.iter().filter(|x| x.2 == "assigned").collect();
    sqlx::query(
        "INSERT INTO conversations (id, coach_id, member_id)
         SELECT gen_random_uuid(), c, m FROM unnest($1::uuid[], $2::uuid[]) AS x(m, c)
         ON CONFLICT ON CONSTRAINT conversations_pair_key DO NOTHING",
    )
    .bind(opened.iter().map(|x| x.0).collect::<Vec<_>>())
    .bind(opened.iter().map(|x| x.1).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn schedules(tx: &mut PgConnection, plan: &Plan) -> Result<()> {
    if !plan.windows.is_empty() {
        let w = &plan.windows;
        sqlx::query(
            "INSERT INTO availability_windows
                (id, coach_id, day_of_week, start_minute, end_minute, session_minutes, buffer_minutes, capacity)
             SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int2[], $4::int4[], $5::int4[],
                                  $6::int4[], $7::int4[], $8::int4[])",
        )
        .bind(w.iter().map(|x| x.0).collect::<Vec<_>>())
        .bind(w.iter().map(|x| x.1).collect::<Vec<_>>())
        .bind(w.iter().map(|x| i16::from(x.2.day.index())).collect::<Vec<_>>())
        .bind(w.iter().map(|x| i32::from(x.2.start.minutes())).collect::<Vec<_>>())
        .bind(w.iter().map(|x| i32::from(x.2.end.minutes())).collect::<Vec<_>>())
        .bind(w.iter().map(|x| x.2.length.get()).collect::<Vec<_>>())
        .bind(w.iter().map(|x| x.2.buffer.get()).collect::<Vec<_>>())
        .bind(w.iter().map(|x| x.2.capacity.get()).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
    }
    for (id, w) in &plan.window_updates {
        sqlx::query(
            "UPDATE availability_windows SET end_minute = $2, session_minutes = $3, buffer_minutes = $4,
                capacity = $5, updated_at = now() WHERE id = $1",
        )
        .bind(id)
        .bind(i32::from(w.end.minutes()))
        .bind(w.length.get())
        .bind(w.buffer.get())
        .bind(w.capacity.get())
        .execute(&mut *tx)
        .await?;
    }
    if !plan.blocks.is_empty() {
        let b = &plan.blocks;
        sqlx::query(
            "INSERT INTO availability_blocks (id, coach_id, first_day, last_day, reason)
             SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::date[], $4::date[], $5::text[])",
        )
        .bind(b.iter().map(|x| x.0).collect::<Vec<_>>())
        .bind(b.iter().map(|x| x.1).collect::<Vec<_>>())
        .bind(b.iter().map(|x| x.2.first.naive()).collect::<Vec<_>>())
        .bind(b.iter().map(|x| x.2.last.naive()).collect::<Vec<_>>())
        .bind(b.iter().map(|x| x.2.reason.clone()).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
    }
    for (id, reason) in &plan.block_updates {
        sqlx::query("UPDATE availability_blocks SET reason = $2 WHERE id = $1")
            .bind(id)
            .bind(reason)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Sessions and their confirmed bookings, as `book` writes them: each row
/// passes `sessions_guard_schedule` (the coach's lock, window, block,
/// buffers) and the slot counter, and queues the confirmation notices.
async fn bookings(tx: &mut PgConnection, plan: &Plan) -> Result<()> {
    if plan.bookings.is_empty() {
        return Ok(());
    }
    let b = &plan.bookings;
    sqlx::query(
        "WITH s AS (
            INSERT INTO sessions (id, coach_id, member_id, window_id, starts_at, ends_at,
                buffer_minutes, slot_capacity, session_type, member_notes)
            SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::timestamptz[],
                                 $6::timestamptz[], $7::int4[], $8::int4[], $9::text[], $10::text[])
            RETURNING id, coach_id, member_id, starts_at, member_notes
         )
         INSERT INTO bookings (id, coach_id, member_id, starts_at, status, session_id, member_notes)
         SELECT k.booking, s.coach_id, s.member_id, s.starts_at, 'confirmed', s.id, s.member_notes
         FROM s JOIN unnest($1::uuid[], $11::uuid[]) AS k(session, booking) ON k.session = s.id",
    )
    .bind(b.iter().map(|x| x.session_id).collect::<Vec<_>>())
    .bind(b.iter().map(|x| x.coach_id).collect::<Vec<_>>())
    .bind(b.iter().map(|x| x.member_id).collect::<Vec<_>>())
    .bind(b.iter().map(|x| x.window_id).collect::<Vec<_>>())
    .bind(b.iter().map(|x| x.start).collect::<Vec<_>>())
    .bind(b.iter().map(|x| x.end).collect::<Vec<_>>())
    .bind(b.iter().map(|x| x.buffer_minutes).collect::<Vec<_>>())
    .bind(b.iter().map(|x| x.capacity).collect::<Vec<_>>())
    .bind(
        b.iter()
            .map(|x| x.session_type.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(b.iter().map(|x| x.notes.clone()).collect::<Vec<_>>())
    .bind(b.iter().map(|x| x.booking_id).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// One audit row per created or changed thing, like the single commands.
async fn audit(tx: &mut PgConnection, actor: &Actor, plan: &Plan) -> Result<()> {
    if plan.audit.is_empty() {
        return Ok(());
    }
    let a = &plan.audit;
    sqlx::query(
        "INSERT INTO audit_log (actor_id, actor_label, action, entity, entity_id, before, after,
                                acted_by_os_user, acted_by_db_login)
         SELECT $1, $2, a, e, i, b, af, $8, CASE WHEN $8::text IS NOT NULL THEN session_user::text END
         FROM unnest($3::text[], $4::text[], $5::uuid[], $6::jsonb[], $7::jsonb[]) AS x(a, e, i, b, af)",
    )
    .bind(actor.id().map(|i| i.as_uuid()))
    .bind(actor.label())
    .bind(a.iter().map(|x| x.0).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.1).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.2).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.3.clone()).collect::<Vec<Option<Value>>>())
    .bind(a.iter().map(|x| x.4.clone()).collect::<Vec<Value>>())
    .bind(actor.operator_os_user())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

fn problem(file: &str, line: usize, field: &str, kind: Kind, message: String) -> Problems {
    Problems::new(
        file,
        vec![Problem {
            file: file.to_string(),
            line,
            field: field.to_string(),
            message,
            kind,
        }],
    )
}

/// What a refusal by the database means for the file: the booking whose
/// session it names, or the rule it enforced. Anything else stays an error.
fn refusal(file: &str, plan: &Plan, e: sqlx::Error) -> Result<Problems> {
    let (constraint, message) = match &e {
        sqlx::Error::Database(d) => {
            // a limit's message is its sentence; the session is in the detail
            let detail = d
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .and_then(|p| p.detail())
                .unwrap_or_default();
            (
                d.constraint().map(str::to_string),
                format!("{} {detail}", d.message()),
            )
        }
        _ => return Err(e.into()),
    };
    let booking = plan
        .bookings
        .iter()
        .find(|b| message.contains(&b.session_id.to_string()));
    let why = match constraint.as_deref() {
        Some("slots_booked_within_capacity") => (Kind::Conflict, crate::booking::SLOT_FULL.to_string()),
        Some(_) if crate::booking::limit_sentence(&e).is_some() => (
            Kind::Conflict,
            crate::booking::limit_sentence(&e).unwrap_or_default(),
        ),
        Some("sessions_buffer_no_overlap") => (
            Kind::Rule,
            "it is within the buffer time of another session".to_string(),
        ),
        Some("sessions_within_window") => (
            Kind::Rule,
            "that time is not in the coach's availability".to_string(),
        ),
        Some("sessions_not_on_blocked_date") => {
            (Kind::Rule, "the coach blocked that date".to_string())
        }
        Some("sessions_member_once_per_start") => (
            Kind::Conflict,
            "the member already has a seat at that time".to_string(),
        ),
        Some("coach_profiles_member_count_within_max") => (
            Kind::Conflict,
            "a coach would have more members than max_members (another change assigned members a moment ago); apply again".to_string(),
        ),
        Some("coach_profiles_accepting_members") => (
            Kind::Rule,
            "a coach is not accepting members".to_string(),
        ),
        Some("availability_windows_no_overlap") => (
            Kind::Conflict,
            "a window overlaps another window of the coach on the same day (one was added a moment ago); apply again".to_string(),
        ),
        _ => return Err(e.into()),
    };
    Ok(match booking {
        Some(b) => problem(
            file,
            b.line,
            "booking",
            why.0,
            format!("the booking of {} is refused: {}", b.describe, why.1),
        ),
        None => problem(file, 0, "", why.0, why.1),
    })
}

/// The database's own schedule check at commit (a booking arrived during
/// the seed): nothing was written.
pub(crate) fn refusal_at_commit(file: &str, e: sqlx::Error) -> Result<Problems> {
    let is_orphan = matches!(&e, sqlx::Error::Database(d)
        if d.constraint() == Some("availability_schedule_orphans_sessions"));
    if is_orphan {
        Ok(problem(
            file,
            0,
            "",
            Kind::Conflict,
            crate::availability::orphan_error().to_string(),
        ))
    } else {
        Err(e.into())
    }
}
