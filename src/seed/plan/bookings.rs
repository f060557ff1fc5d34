//! Bookings: matched by (coach, member, start); a new one must be an
//! offered slot of the schedule the file leaves, like `book` checks it.

use super::*;

pub(super) fn plan_bookings(
    p: &mut Plan,
    ck: &mut Checker<'_>,
    org: &Org,
    ex: &Existing,
    coaches: &HashMap<String, CoachState>,
    members: &mut HashMap<String, MemberState>,
    now: DateTime<Utc>,
) {
    // Members the file books but does not declare: as the database has them.
    for b in &org.bookings {
        if members.contains_key(b.member.as_str()) {
            continue;
        }
        match ex.users.get(b.member.as_str()) {
            Some(u) if u.role == "member" => {
                members.insert(
                    b.member.as_str().to_string(),
                    MemberState {
                        id: u.id,
                        email: u.email.clone(),
                        active: u.active && u.membership_status.as_deref() == Some("active"),
                        coach: u.coach_id,
                    },
                );
            }
            Some(u) => ck.problem(
                b.line,
                "booking.member",
                Kind::NotFound,
                format!("{} is not a member (they are a {})", b.member, u.role),
            ),
            None => ck.problem(
                b.line,
                "booking.member",
                Kind::NotFound,
                format!("no member {}; declare it with [[member]]", b.member),
            ),
        }
    }
    let kept: HashSet<(Uuid, Uuid, DateTime<Utc>)> = ex
        .sessions
        .iter()
        .filter(|s| s.kept)
        .map(|s| (s.coach_id, s.member_id, s.starts_at))
        .collect();
    let mut seated: HashSet<(Uuid, DateTime<Utc>)> = ex
        .sessions
        .iter()
        .filter(|s| s.seated)
        .map(|s| (s.member_id, s.starts_at))
        .collect();
    // Each coach's schedule as the file leaves it, bookings added as accepted.
    let mut schedules: HashMap<Uuid, Schedule> = coaches
        .values()
        .map(|c| {
            (
                c.id,
                Schedule {
                    tz: c.tz,
                    windows: c.windows.clone(),
                    blocks: c.blocks.clone(),
                    sessions: c.sessions.clone(),
                    min_notice_minutes: i64::from(c.min_notice),
                    horizon_days: c.horizon.map(i64::from),
                },
            )
        })
        .collect();
    let mut new: Vec<BookingRow> = Vec::new();
    for b in &org.bookings {
        let (Some(c), Some(m)) = (
            coaches.get(b.coach.as_str()),
            members.get(b.member.as_str()),
        ) else {
            continue;
        };
        let start = match b.at.resolve(c.tz) {
            Ok(t) => t,
            Err(e) => {
                ck.problem(b.line, "booking.at", e.kind(), e.to_string());
                continue;
            }
        };
        if kept.contains(&(c.id, m.id, start)) {
            p.unchanged.add(Entity::Booking);
            continue;
        }
        let refuse = |ck: &mut Checker<'_>, kind: Kind, why: String| {
            ck.problem(
                b.line,
                "booking",
                kind,
                format!("the booking of {} is refused: {why}", b.describe()),
            );
        };
        if !c.active {
            refuse(ck, Kind::Rule, format!("coach {} is deactivated", c.email));
            continue;
        }
        if !m.active {
            refuse(
                ck,
                Kind::Rule,
                format!("{}'s membership is not active", m.email),
            );
            continue;
        }
        if m.coach != Some(c.id) && !ex.connections.contains(&(c.id, m.id)) {
            refuse(
                ck,
                Kind::Rule,
                format!(
                    "{} is neither assigned nor connected to coach {}",
                    m.email, c.email
                ),
            );
            continue;
        }
        let Some(schedule) = schedules.get_mut(&c.id) else {
            continue;
        };
        let slot = match schedule.check(start, now) {
            Ok(s) => s,
            Err(r) => {
                refuse(ck, Kind::Rule, r.sentence(c.tz));
                continue;
            }
        };
        if slot.remaining == 0 {
            refuse(ck, Kind::Conflict, SLOT_FULL.to_string());
            continue;
        }
        if !seated.insert((m.id, start)) {
            refuse(
                ck,
                Kind::Conflict,
                format!("{} already has a seat at that time", m.email),
            );
            continue;
        }
        schedule.sessions.push(Busy {
            start: slot.start,
            end: slot.end,
            buffer_minutes: slot.buffer_minutes,
        });
        new.push(BookingRow {
            line: b.line,
            describe: b.describe(),
            session_id: Uuid::new_v4(),
            booking_id: Uuid::new_v4(),
            coach_id: c.id,
            member_id: m.id,
            window_id: slot.window_id,
            start: slot.start,
            end: slot.end,
            buffer_minutes: i32::from(slot.buffer_minutes),
            capacity: slot.capacity as i32,
            // decided below, in the order of time
            session_type: b.session_type.unwrap_or(SessionType::Regular),
            typed: b.session_type.is_some(),
            notes: b.notes.clone(),
            coach_email: c.email.clone(),
            member_email: m.email.clone(),
        });
    }
    // A member's first session with a coach is `initial`, later ones
    // `regular`, unless the file says: decided in the order of time.
    let mut order: Vec<usize> = (0..new.len()).collect();
    order.sort_by_key(|i| new[*i].start);
    let mut history = ex.history.clone();
    for i in order {
        let r = &mut new[i];
        let first = history.insert((r.coach_id, r.member_id));
        if !r.typed {
            r.session_type = default_type(!first);
        }
    }
    for r in new {
        let after = json!({
            "booking_id": r.booking_id, "session_id": r.session_id, "status": "confirmed",
            "start": r.start, "end": r.end, "coach_email": r.coach_email, "member_email": r.member_email,
        });
        p.audit
            .push(("booking.confirm", "booking", r.booking_id, None, after));
        p.change(
            Action::Create,
            Entity::Booking,
            r.session_id,
            r.describe.clone(),
            r.line,
            vec![],
        );
        p.bookings.push(r);
    }
}
