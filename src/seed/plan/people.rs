//! Coaches and members: create the missing, compare the existing on the
//! fields the file writes, and keep every coach's seats within `max_members`.

use super::*;

pub(super) fn plan_coach(
    p: &mut Plan,
    ck: &mut Checker<'_>,
    c: &CoachDecl,
    ex: &Existing,
    opts: Options,
) -> Option<CoachState> {
    let Some(u) = ex.users.get(c.email.as_str()) else {
        let row = CoachRow {
            id: Uuid::new_v4(),
            email: c.email.as_str().to_string(),
            name: c.name.as_str().to_string(),
            timezone: c
                .timezone
                .unwrap_or_else(TimeZone::utc)
                .as_str()
                .to_string(),
            max_members: c.max_members.map(|m| m.get()).unwrap_or(20),
            accepting_members: c.accepting_members.unwrap_or(true),
            specialization: text(&c.specialization).flatten(),
            bio: text(&c.bio).flatten(),
            certifications: text(&c.certifications).flatten(),
            max_per_day: None,
            max_per_week: None,
            member_max_per_week: None,
            cancel_notice_hours: None,
            waitlist_offer_minutes: 120,
        }
        .with_policies(&c.policies);
        p.users.push((
            row.id,
            row.email.clone(),
            row.name.clone(),
            "coach",
            row.timezone.clone(),
        ));
        p.audit
            .push(("coach.create", "coach", row.id, None, json!(row)));
        p.change(
            Action::Create,
            Entity::Coach,
            row.id,
            row.email.clone(),
            c.line,
            vec![],
        );
        let state = CoachState {
            id: row.id,
            email: row.email.clone(),
            tz: c.timezone.unwrap_or_else(TimeZone::utc).tz(),
            active: true,
            accepting: row.accepting_members,
            max_members: row.max_members,
            seats: 0,
            min_notice: 0,
            horizon: None,
            windows: vec![],
            blocks: vec![],
            sessions: vec![],
        };
        p.coaches.push(row);
        return Some(state);
    };
    if u.role != "coach" {
        ck.problem(
            c.line,
            "coach.email",
            Kind::Conflict,
            format!(
                "{} already exists as a {}; a seed does not change roles",
                c.email, u.role
            ),
        );
        return None;
    }
    let before = CoachRow {
        id: u.id,
        email: u.email.clone(),
        name: u.name.clone(),
        timezone: u.timezone.clone(),
        max_members: u.max_members.unwrap_or(20),
        accepting_members: u.accepting_members.unwrap_or(true),
        specialization: u.specialization.clone(),
        bio: u.bio.clone(),
        certifications: u.certifications.clone(),
        max_per_day: u.max_per_day,
        max_per_week: u.max_per_week,
        member_max_per_week: u.member_max_per_week,
        cancel_notice_hours: u.cancel_notice_hours,
        waitlist_offer_minutes: u.waitlist_offer_minutes.unwrap_or(120),
    };
    let mut after = before.clone().with_policies(&c.policies);
    after.name = c.name.as_str().to_string();
    if let Some(tz) = c.timezone {
        after.timezone = tz.as_str().to_string();
    }
    if let Some(m) = c.max_members {
        after.max_members = m.get();
    }
    if let Some(a) = c.accepting_members {
        after.accepting_members = a;
    }
    if let Some(s) = text(&c.specialization) {
        after.specialization = s;
    }
    if let Some(s) = text(&c.bio) {
        after.bio = s;
    }
    if let Some(s) = text(&c.certifications) {
        after.certifications = s;
    }
    let mut diffs = Vec::new();
    differ(&mut diffs, "name", &before.name, &after.name);
    differ(&mut diffs, "timezone", &before.timezone, &after.timezone);
    differ(
        &mut diffs,
        "max_members",
        &before.max_members,
        &after.max_members,
    );
    differ(
        &mut diffs,
        "accepting_members",
        &before.accepting_members,
        &after.accepting_members,
    );
    for (field, old, new) in [
        ("max_per_day", before.max_per_day, after.max_per_day),
        ("max_per_week", before.max_per_week, after.max_per_week),
        (
            "member_max_per_week",
            before.member_max_per_week,
            after.member_max_per_week,
        ),
        (
            "cancel_notice_hours",
            before.cancel_notice_hours,
            after.cancel_notice_hours,
        ),
        (
            "waitlist_offer_minutes",
            Some(before.waitlist_offer_minutes),
            Some(after.waitlist_offer_minutes),
        ),
    ] {
        let shown = |v: Option<i32>| v.map_or_else(|| "none".to_string(), |n| n.to_string());
        if old != new {
            diffs.push(format!("{field}: {} -> {}", shown(old), shown(new)));
        }
    }
    for (field, old, new) in [
        (
            "specialization",
            &before.specialization,
            &after.specialization,
        ),
        ("bio", &before.bio, &after.bio),
        (
            "certifications",
            &before.certifications,
            &after.certifications,
        ),
    ] {
        if old != new {
            diffs.push(format!("{field}: {} -> {}", quoted(old), quoted(new)));
        }
    }
    let mut state = existing_coach(u, ex);
    if diffs.is_empty() {
        p.unchanged.add(Entity::Coach);
        return Some(state);
    }
    differs(ck, opts, c.line, "coach", &c.email, &diffs);
    if after.timezone != before.timezone {
        p.schedule_changed.push(u.id);
        state.tz = after.timezone.parse().unwrap_or(chrono_tz::UTC);
    }
    state.max_members = after.max_members;
    state.accepting = after.accepting_members;
    p.audit.push((
        "coach.update",
        "coach",
        u.id,
        Some(json!(before)),
        json!(after),
    ));
    p.change(
        Action::Update,
        Entity::Coach,
        u.id,
        u.email.clone(),
        c.line,
        diffs,
    );
    p.coach_updates.push((after, before.name, before.timezone));
    Some(state)
}

pub(super) fn plan_member(
    p: &mut Plan,
    ck: &mut Checker<'_>,
    m: &MemberDecl,
    ex: &Existing,
    coaches: &mut HashMap<String, CoachState>,
    opts: Options,
) -> Option<MemberState> {
    let coach = match &m.coach {
        Some((email, _)) => Some(coaches.get_mut(email.as_str())?),
        None => None,
    };
    let existing = ex.users.get(m.email.as_str());
    if let Some(u) = existing
        && u.role != "member"
    {
        ck.problem(
            m.line,
            "member.email",
            Kind::Conflict,
            format!(
                "{} already exists as a {}; a seed does not change roles",
                m.email, u.role
            ),
        );
        return None;
    }
    let before = existing.map(|u| MemberRow {
        id: u.id,
        email: u.email.clone(),
        name: u.name.clone(),
        timezone: u.timezone.clone(),
        coach_id: u.coach_id,
        coach_email: None,
        goals: u.goals.clone(),
        health_info: u.health_info.clone(),
    });
    let mut after = before.clone().unwrap_or_else(|| MemberRow {
        id: Uuid::new_v4(),
        email: m.email.as_str().to_string(),
        name: String::new(),
        timezone: TimeZone::utc().as_str().to_string(),
        coach_id: None,
        coach_email: None,
        goals: None,
        health_info: None,
    });
    after.name = m.name.as_str().to_string();
    if let Some(tz) = m.timezone {
        after.timezone = tz.as_str().to_string();
    }
    if let Some(g) = text(&m.goals) {
        after.goals = g;
    }
    if let Some(h) = text(&m.health_info) {
        after.health_info = h;
    }
    if let Some(c) = &coach {
        after.coach_id = Some(c.id);
        after.coach_email = Some(c.email.clone());
    }
    let holds_seat =
        existing.is_none_or(|u| u.active && u.membership_status.as_deref() == Some("active"));
    let old_coach = before.as_ref().and_then(|b| b.coach_id);
    let new_assignment = coach.as_ref().is_some_and(|c| old_coach != Some(c.id));
    if let Some(c) = coach
        && new_assignment
    {
        let line = m.coach.as_ref().map(|x| x.1).unwrap_or(m.line);
        if !c.active {
            ck.problem(
                line,
                "member.coach",
                Kind::Rule,
                format!("coach {} is deactivated and cannot take members", c.email),
            );
        } else if !c.accepting {
            ck.problem(
                line,
                "member.coach",
                Kind::Rule,
                format!("coach {} is not accepting members", c.email),
            );
        } else if holds_seat {
            c.seats += 1;
            if c.seats > c.max_members {
                ck.problem(
                    line,
                    "member.coach",
                    Kind::Conflict,
                    format!(
                        "coach {} is at capacity ({} members); raise their max_members or choose another coach",
                        c.email, c.max_members
                    ),
                );
            }
        }
    }
    if new_assignment
        && holds_seat
        && let Some(old) = old_coach
        && let Some(oc) = coaches.values_mut().find(|c| c.id == old)
    {
        oc.seats -= 1;
    }
    let state = MemberState {
        id: after.id,
        email: after.email.clone(),
        active: holds_seat,
        coach: after.coach_id,
    };
    let Some(before) = before else {
        p.users.push((
            after.id,
            after.email.clone(),
            after.name.clone(),
            "member",
            after.timezone.clone(),
        ));
        if let Some(c) = after.coach_id {
            p.relationship.push((after.id, c, "assigned"));
        }
        p.audit
            .push(("member.create", "member", after.id, None, json!(after)));
        p.change(
            Action::Create,
            Entity::Member,
            after.id,
            after.email.clone(),
            m.line,
            vec![],
        );
        p.members.push(after);
        return Some(state);
    };
    let mut diffs = Vec::new();
    differ(&mut diffs, "name", &before.name, &after.name);
    differ(&mut diffs, "timezone", &before.timezone, &after.timezone);
    if new_assignment {
        let old = old_coach
            .and_then(|id| {
                ex.users
                    .values()
                    .find(|u| u.id == id)
                    .map(|u| u.email.clone())
            })
            .or(old_coach.map(|id| id.to_string()));
        diffs.push(format!(
            "coach: {} -> {}",
            quoted(&old),
            quoted(&after.coach_email)
        ));
    }
    for (field, old, new) in [
        ("goals", &before.goals, &after.goals),
        ("health_info", &before.health_info, &after.health_info),
    ] {
        if old != new {
            diffs.push(format!("{field}: {} -> {}", quoted(old), quoted(new)));
        }
    }
    if diffs.is_empty() {
        p.unchanged.add(Entity::Member);
        return Some(state);
    }
    differs(ck, opts, m.line, "member", &m.email, &diffs);
    if new_assignment {
        if let Some(old) = old_coach {
            p.relationship.push((after.id, old, "unassigned"));
        }
        if let Some(c) = after.coach_id {
            p.relationship.push((after.id, c, "assigned"));
        }
    }
    let action = if new_assignment {
        "member.assign"
    } else {
        "member.update"
    };
    p.audit.push((
        action,
        "member",
        after.id,
        Some(json!(before)),
        json!(after),
    ));
    p.change(
        Action::Update,
        Entity::Member,
        after.id,
        after.email.clone(),
        m.line,
        diffs,
    );
    p.member_updates.push((after, before.name, before.timezone));
    Some(state)
}
