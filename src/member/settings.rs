//! Where a member stands and what they share: onboarding status, privacy
//! (who may find them) and the fields a connected coach may read.

use sqlx::PgPool;

use super::{Access, Member, access, fetch, find_for_update, only_their_coach, record, redact_for};
use crate::actor::Actor;
use crate::domain::{OnboardingStatus, Privacy, UserId, UserRef};
use crate::error::{Error, Result};

/// `member onboarding`: admins, the member's coach, or the member.
pub async fn set_onboarding(
    pool: &PgPool,
    actor: &Actor,
    who: &UserRef,
    status: OnboardingStatus,
) -> Result<Member> {
    let mut tx = pool.begin().await?;
    let before = find_for_update(&mut tx, actor, who).await?;
    if access(actor, &before)? == Access::Connected {
        return Err(only_their_coach(actor, &before));
    }
    sqlx::query(
        "UPDATE member_profiles SET onboarding_status = $2, updated_at = now() WHERE user_id = $1",
    )
    .bind(before.id)
    .bind(status.as_str())
    .execute(&mut *tx)
    .await?;
    let after = fetch(&mut tx, UserId::from_uuid(before.id)).await?;
    record(&mut tx, actor, "member.onboarding", &before, &after).await?;
    tx.commit().await?;
    Ok(redact_for(actor, after))
}

/// `member privacy`: admins or the member themself.
pub async fn set_privacy(
    pool: &PgPool,
    actor: &Actor,
    who: &UserRef,
    privacy: Privacy,
) -> Result<Member> {
    if actor.role() == crate::domain::Role::Coach {
        return Err(Error::forbidden(format!(
            "only a member or an admin may change what a member shares; {} is a coach",
            actor.label()
        )));
    }
    let mut tx = pool.begin().await?;
    let before = find_for_update(&mut tx, actor, who).await?;
    if matches!(access(actor, &before)?, Access::Coach | Access::Connected) {
        return Err(Error::forbidden(format!(
            "only the member or an admin may change the privacy of {}",
            before.email
        )));
    }
    sqlx::query("UPDATE member_profiles SET privacy = $2, updated_at = now() WHERE user_id = $1")
        .bind(before.id)
        .bind(privacy.as_str())
        .execute(&mut *tx)
        .await?;
    let after = fetch(&mut tx, UserId::from_uuid(before.id)).await?;
    record(&mut tx, actor, "member.privacy", &before, &after).await?;
    tx.commit().await?;
    Ok(redact_for(actor, after))
}

/// `member sharing`: the member (or an admin) decides whether their coach
/// sees their goals and health information; `None` keeps a setting.
pub async fn set_sharing(
    pool: &PgPool,
    actor: &Actor,
    who: &UserRef,
    goals: Option<bool>,
    health_info: Option<bool>,
) -> Result<Member> {
    if actor.role() == crate::domain::Role::Coach {
        return Err(Error::forbidden(format!(
            "only a member or an admin may change what a member shares; {} is a coach",
            actor.label()
        )));
    }
    let mut tx = pool.begin().await?;
    let before = find_for_update(&mut tx, actor, who).await?;
    if matches!(access(actor, &before)?, Access::Coach | Access::Connected) {
        return Err(Error::forbidden(format!(
            "only the member or an admin may change what {} shares",
            before.email
        )));
    }
    if goals.is_none() && health_info.is_none() {
        return Ok(redact_for(actor, before));
    }
    sqlx::query(
        "UPDATE member_profiles SET share_goals = coalesce($2, share_goals),
            share_health_info = coalesce($3, share_health_info), updated_at = now()
         WHERE user_id = $1",
    )
    .bind(before.id)
    .bind(goals)
    .bind(health_info)
    .execute(&mut *tx)
    .await?;
    let after = fetch(&mut tx, UserId::from_uuid(before.id)).await?;
    record(&mut tx, actor, "member.sharing", &before, &after).await?;
    tx.commit().await?;
    Ok(redact_for(actor, after))
}
