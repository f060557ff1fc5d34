//! `member list -o csv`: the rows through the server's COPY (see
//! [`crate::copy_csv`]), the same members in the same order as
//! [`super::list_each`].

use sqlx::PgPool;

use super::Filter;
use super::list::ListScope;
use crate::actor::Actor;
use crate::copy_csv::{self, literal};
use crate::domain::UserRef;
use crate::error::Result;
use crate::page::Page;

/// `member list` as CSV rows: for each member the actor may see, ordered
/// by email, `each` gets the id, email, name, coach's email, membership
/// status, onboarding status and privacy (the CSV columns of a member; a
/// member without a coach has an empty coach cell), as cells or as the
/// row's text (see [`copy_csv::CsvRow`]). None of them is private, so
/// nothing is redacted.
pub async fn list_csv_each(
    pool: &PgPool,
    actor: &Actor,
    filter: &Filter,
    page: &Page<UserRef>,
    each: impl FnMut(copy_csv::CsvRow<'_>) -> Result<()>,
) -> Result<()> {
    let mut conn = pool.acquire().await?;
    let scope = ListScope::of(&mut conn, actor, filter, page).await?;
    // Only the conditions that apply: COPY takes no parameters, and a
    // plain condition plans as well as a bound one.
    let mut only = Vec::new();
    // uuids and statuses of our own making: nothing to quote
    if let Some(c) = scope.coach {
        only.push(format!("m.coach_id = '{c}'"));
    }
    if let Some(m) = scope.member {
        only.push(format!("u.id = '{m}'"));
    }
    if let Some(s) = filter.status {
        only.push(format!("m.membership_status = '{}'", s.as_str()));
    }
    if filter.unassigned {
        only.push("m.coach_id IS NULL".into());
    }
    if let Some(a) = &scope.after {
        only.push(format!("u.email > {}", literal(a)?));
    }
    let mut sql = String::from(
        "SELECT u.id, u.email, u.name, cu.email, m.membership_status,
                m.onboarding_status, m.privacy
         FROM users u
         JOIN member_profiles m ON m.user_id = u.id
         LEFT JOIN users cu ON cu.id = m.coach_id",
    );
    if !only.is_empty() {
        sql.push_str("\n WHERE ");
        sql.push_str(&only.join(" AND "));
    }
    sql.push_str("\n ORDER BY u.email");
    if let Some(n) = page.sql_limit() {
        sql.push_str(&format!(" LIMIT {n}"));
    }
    copy_csv::each_row(&mut conn, &sql, each).await
}
