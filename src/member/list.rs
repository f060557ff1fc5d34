//! `member list`: whose members a list shows (by role first), streamed in
//! email order, a page at a time. The CSV form reads the same members
//! through COPY ([`super::list_csv`]).

use futures_util::TryStreamExt;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{Filter, Member, MemberRow, redact_for, select};
use crate::actor::Actor;
use crate::coach;
use crate::domain::{Role, UserRef};
use crate::error::{Error, Result};
use crate::page::Page;

/// `member list`: admins see everyone, a coach their own members, a member
/// only themself (properties 2 and 3).
pub async fn list(pool: &PgPool, actor: &Actor, filter: &Filter) -> Result<Vec<Member>> {
    let mut all = Vec::new();
    list_each(pool, actor, filter, &Page::default(), |m| {
        all.push(m);
        Ok(())
    })
    .await?;
    Ok(all)
}

/// `member list`, streamed: hands each member the actor may see to `each`
/// as its row arrives, ordered by email; `page.after` is the email or id of
/// the last member of the previous page.
pub async fn list_each(
    pool: &PgPool,
    actor: &Actor,
    filter: &Filter,
    page: &Page<UserRef>,
    mut each: impl FnMut(Member) -> Result<()>,
) -> Result<()> {
    let mut conn = pool.acquire().await?;
    let scope = ListScope::of(&mut conn, actor, filter, page).await?;
    let select = select();
    let sql = format!(
        "{select}
         WHERE ($1::uuid IS NULL OR m.coach_id = $1)
           AND ($2::uuid IS NULL OR u.id = $2)
           AND ($3::text IS NULL OR m.membership_status = $3)
           AND (NOT $4 OR m.coach_id IS NULL)
           AND ($5::text IS NULL OR u.email > $5)
         ORDER BY u.email
         LIMIT $6"
    );
    let mut rows = sqlx::query_as::<_, MemberRow>(sqlx::AssertSqlSafe(sql))
        .bind(scope.coach)
        .bind(scope.member)
        .bind(filter.status.map(|s| s.as_str()))
        .bind(filter.unassigned)
        .bind(scope.after)
        .bind(page.sql_limit())
        .fetch(&mut *conn);
    while let Some(row) = rows.try_next().await? {
        each(redact_for(actor, Member::try_from(row)?))?;
    }
    Ok(())
}

/// Which members `member list` shows, by role first: a coach asking for
/// another coach's members is refused.
pub(super) struct ListScope {
    /// Only this coach's members.
    pub(super) coach: Option<Uuid>,
    /// Only this member.
    pub(super) member: Option<Uuid>,
    /// The email after which the page starts.
    pub(super) after: Option<String>,
}

impl ListScope {
    pub(super) async fn of(
        conn: &mut PgConnection,
        actor: &Actor,
        filter: &Filter,
        page: &Page<UserRef>,
    ) -> Result<ListScope> {
        let (coach, member) = roster_scope(conn, actor, filter.coach.as_ref(), "list").await?;
        let after = match &page.after {
            Some(a) => Some(crate::page::person_key(&mut *conn, a).await?),
            None => None,
        };
        Ok(ListScope {
            coach,
            member,
            after,
        })
    }
}

/// Whose members a list or an export reads, as (coach, member): an admin
/// anyone's (or one coach's), a coach only their own (naming another is
/// refused: "may not {verb} another coach's members"), a member only
/// themself.
pub(crate) async fn roster_scope(
    conn: &mut sqlx::PgConnection,
    actor: &Actor,
    coach: Option<&UserRef>,
    verb: &str,
) -> Result<(Option<uuid::Uuid>, Option<uuid::Uuid>)> {
    let coach_filter = match coach {
        Some(c) => Some(coach::find(&mut *conn, actor, c).await?.id),
        None => None,
    };
    Ok(match actor.role() {
        Role::Admin => (coach_filter, None),
        Role::Coach => {
            let me = actor.as_coach().map(|c| c.as_uuid());
            if coach_filter.is_some() && coach_filter != me {
                return Err(Error::forbidden(format!(
                    "{} may not {verb} another coach's members",
                    actor.label()
                )));
            }
            (me, None)
        }
        Role::Member => (coach_filter, actor.id().map(|i| i.as_uuid())),
    })
}
