//! Writing a checked plan, set-based: the rows go to a temporary table with
//! COPY, and each table gets one statement for all of them. The triggers
//! of `member_profiles` (capacity count, assignment notice) fire as for a
//! single `member create` or `member assign`; those of `audit_log` run once
//! per statement (migration 20261207001800).

use sqlx::PgConnection;

use super::stage::field;
use super::{Action, Planned, Progress};
use crate::actor::Actor;
use crate::error::{Error, Result, ResultExt};

/// A member's JSON as `member show` has it (`crate::member::Member`), for
/// the audit log; `u`, `m`, `cu` as in `crate::member::SELECT`.
const MEMBER_JSON: &str = "(jsonb_build_object(
        'id', u.id, 'email', u.email, 'name', u.name, 'timezone', u.timezone,
        'active', u.active, 'coach_id', m.coach_id, 'coach_email', cu.email,
        'membership_status', m.membership_status, 'onboarding_status', m.onboarding_status,
        'privacy', m.privacy, 'goals', m.goals, 'health_info', m.health_info,
        'share_goals', m.share_goals, 'share_health_info', m.share_health_info,
        'coach_notes', m.coach_notes, 'joined_at', m.joined_at)
    - array_remove(ARRAY[
        CASE WHEN m.goals IS NULL THEN 'goals' END,
        CASE WHEN m.health_info IS NULL THEN 'health_info' END,
        CASE WHEN m.coach_notes IS NULL THEN 'coach_notes' END], NULL))";

const JOIN_MEMBER: &str = "JOIN users u ON u.id = r.id
    JOIN member_profiles m ON m.user_id = r.id
    LEFT JOIN users cu ON cu.id = m.coach_id";

/// The table the plan fills, a batch at a time, before [`apply`].
pub(crate) async fn create(conn: &mut PgConnection) -> Result<()> {
    sqlx::raw_sql(
        "CREATE TEMP TABLE roster_rows (
            line bigint NOT NULL, id uuid NOT NULL, created boolean NOT NULL,
            email text NOT NULL, name text NOT NULL, timezone text NOT NULL, goals text,
            coach_id uuid, old_coach_id uuid, membership_status text NOT NULL
         ) ON COMMIT DROP",
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Rows made by [`push_row`] into `roster_rows`.
pub(crate) async fn copy(conn: &mut PgConnection, rows: &str) -> Result<()> {
    let mut copy = conn.copy_in_raw("COPY roster_rows FROM STDIN").await?;
    copy.send(rows.as_bytes()).await?;
    copy.finish().await?;
    Ok(())
}

/// Write what `roster_rows` holds.
pub(crate) async fn apply(
    conn: &mut PgConnection,
    actor: &Actor,
    progress: &dyn Progress,
) -> Result<()> {
    progress.stage("writing", 7);
    progress.advance(1);

    // Statistics for the temporary table, as for `roster_in`: without them
    // every statement below joins it as if it held a few rows.
    sqlx::raw_sql("ANALYZE roster_rows")
        .execute(&mut *conn)
        .await?;
    let actor_id = actor.id().map(|i| i.as_uuid());
    let label = actor.label();
    // Before images of the members that change, for the audit log.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE TEMP TABLE roster_before ON COMMIT DROP AS
         SELECT r.id, {MEMBER_JSON} AS before FROM roster_rows r {JOIN_MEMBER}
         WHERE NOT r.created"
    )))
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO users (id, email, name, role, timezone)
         SELECT id, email, name, 'member', timezone FROM roster_rows WHERE created ORDER BY line",
    )
    .execute(&mut *conn)
    .await
    .on_constraint("users_email_key", || {
        Error::conflict(
            "a member of the file was created by someone else meanwhile; nothing was imported, run the import again",
        )
    })?;
    sqlx::query(
        "UPDATE users u SET name = r.name, timezone = r.timezone, updated_at = now()
         FROM roster_rows r
         WHERE u.id = r.id AND NOT r.created
           AND (u.name, u.timezone) IS DISTINCT FROM (r.name, r.timezone)",
    )
    .execute(&mut *conn)
    .await?;
    progress.advance(1);
    // Seats freed first, so that a file moving members between two full
    // coaches is not refused half-way.
    let capacity = || {
        Error::conflict(
            "a coach of the file reached their max members meanwhile (a concurrent assignment); nothing was imported",
        )
    };
    let accepting = || {
        Error::rule("a coach of the file stopped accepting members meanwhile; nothing was imported")
    };
    for frees in [true, false] {
        sqlx::query(
            "UPDATE member_profiles m SET goals = r.goals, coach_id = r.coach_id,
                membership_status = r.membership_status, updated_at = now()
             FROM roster_rows r
             WHERE m.user_id = r.id AND NOT r.created
               AND (r.coach_id IS NULL OR r.membership_status <> 'active') = $1
               AND (m.goals, m.coach_id, m.membership_status)
                   IS DISTINCT FROM (r.goals, r.coach_id, r.membership_status)",
        )
        .bind(frees)
        .execute(&mut *conn)
        .await
        .on_constraint("coach_profiles_member_count_within_max", capacity)
        .on_constraint("coach_profiles_accepting_members", accepting)?;
    }
    // New members last: they only take seats, and may take those that
    // members leaving a coach free.
    sqlx::query(
        "INSERT INTO member_profiles (user_id, coach_id, membership_status, goals)
         SELECT id, coach_id, membership_status, goals FROM roster_rows WHERE created ORDER BY line",
    )
    .execute(&mut *conn)
    .await
    .on_constraint("coach_profiles_member_count_within_max", capacity)
    .on_constraint("coach_profiles_accepting_members", accepting)?;
    progress.advance(2);
    // History and conversations, as `member assign` writes them.
    sqlx::query(
        "INSERT INTO relationship_events (member_id, coach_id, event, by_label)
         SELECT id, coach, event, $1 FROM (
             SELECT line, 0 AS step, id, old_coach_id AS coach, 'unassigned' AS event
             FROM roster_rows
             WHERE old_coach_id IS NOT NULL AND old_coach_id IS DISTINCT FROM coach_id
             UNION ALL
             SELECT line, 1, id, coach_id, 'assigned' FROM roster_rows
             WHERE coach_id IS NOT NULL AND coach_id IS DISTINCT FROM old_coach_id
         ) e ORDER BY line, step",
    )
    .bind(label)
    .execute(&mut *conn)
    .await?;
    // A member created here has no conversation anyone else could have
    // made: a plain INSERT, without the conflict check (a speculative
    // insertion per row) that existing members need.
    sqlx::query(
        "INSERT INTO conversations (id, coach_id, member_id)
         SELECT gen_random_uuid(), coach_id, id FROM roster_rows
         WHERE created AND coach_id IS NOT NULL
         ORDER BY line",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO conversations (id, coach_id, member_id)
         SELECT gen_random_uuid(), coach_id, id FROM roster_rows
         WHERE NOT created AND coach_id IS NOT NULL AND coach_id IS DISTINCT FROM old_coach_id
         ORDER BY line
         ON CONFLICT ON CONSTRAINT conversations_pair_key DO NOTHING",
    )
    .execute(&mut *conn)
    .await?;
    progress.advance(1);
    // One audit row per changed member.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO audit_log (actor_id, actor_label, action, entity, entity_id, before, after,
                                acted_by_os_user, acted_by_db_login)
         SELECT $1, $2, CASE WHEN r.created THEN 'member.create' ELSE 'member.update' END,
             'member', r.id, b.before, {MEMBER_JSON}, $3,
             CASE WHEN $3::text IS NOT NULL THEN session_user::text END
         FROM roster_rows r {JOIN_MEMBER}
         LEFT JOIN roster_before b ON b.id = r.id
         ORDER BY r.line"
    )))
    .bind(actor_id)
    .bind(label)
    .bind(actor.operator_os_user())
    .execute(&mut *conn)
    .await?;
    progress.advance(2);
    Ok(())
}

/// One row of `roster_rows` in COPY's text format.
pub(crate) fn push_row(buf: &mut String, p: &Planned) {
    use std::fmt::Write;
    let created = p.action == Action::Created;
    let _ = write!(
        buf,
        "{}\t{}\t{}\t",
        p.line,
        p.id,
        if created { 't' } else { 'f' }
    );
    field(buf, Some(&p.email));
    field(buf, Some(&p.name));
    field(buf, Some(&p.timezone));
    field(buf, p.goals.as_deref());
    field(buf, p.coach_id.map(|c| c.to_string()).as_deref());
    field(buf, p.old_coach_id.map(|c| c.to_string()).as_deref());
    buf.push_str(p.membership_status.as_str());
    buf.push('\n');
}
