//! Weekly windows and blocked dates of the declared coaches.

use super::*;

fn window_key(c: &Email, w: &WindowDecl) -> String {
    format!("{c} {} {}-{}", w.day.short(), w.start, w.end)
}

pub(super) fn plan_schedule(
    p: &mut Plan,
    ck: &mut Checker<'_>,
    c: &CoachDecl,
    state: &mut CoachState,
    ex: &Existing,
    opts: Options,
) {
    let existing_windows = ex.windows.get(&state.id).cloned().unwrap_or_default();
    for w in &c.windows {
        let spec = |id| WindowSpec {
            id,
            day: w.day,
            start_minute: w.start.minutes(),
            end_minute: w.end.minutes(),
            length_minutes: w.length.get() as u16,
            buffer_minutes: w.buffer.get() as u16,
            capacity: w.capacity.get() as u32,
        };
        let found = existing_windows.iter().find(|e| {
            e.day_of_week == i16::from(w.day.index())
                && e.start_minute == i32::from(w.start.minutes())
        });
        match found {
            Some(e) => {
                let old = window_spec(e);
                let mut diffs = Vec::new();
                differ(&mut diffs, "end", &(old.end_minute), &(w.end.minutes()));
                differ(
                    &mut diffs,
                    "length",
                    &old.length_minutes,
                    &(w.length.get() as u16),
                );
                differ(
                    &mut diffs,
                    "buffer",
                    &old.buffer_minutes,
                    &(w.buffer.get() as u16),
                );
                differ(
                    &mut diffs,
                    "capacity",
                    &old.capacity,
                    &(w.capacity.get() as u32),
                );
                if diffs.is_empty() {
                    p.unchanged.add(Entity::Window);
                    continue;
                }
                differs(
                    ck,
                    opts,
                    w.line,
                    "coach.availability",
                    &window_key(&c.email, w),
                    &diffs,
                );
                if let Some(slot) = state.windows.iter_mut().find(|x| x.id == e.id) {
                    *slot = spec(e.id);
                }
                p.schedule_changed.push(state.id);
                p.audit.push((
                    "availability.update",
                    "availability_window",
                    e.id,
                    Some(window_json(state, &old)),
                    window_json(state, &spec(e.id)),
                ));
                p.change(
                    Action::Update,
                    Entity::Window,
                    e.id,
                    window_key(&c.email, w),
                    w.line,
                    diffs,
                );
                p.window_updates.push((e.id, *w));
            }
            None => {
                let id = Uuid::new_v4();
                state.windows.push(spec(id));
                p.audit.push((
                    "availability.add",
                    "availability_window",
                    id,
                    None,
                    window_json(state, &spec(id)),
                ));
                p.change(
                    Action::Create,
                    Entity::Window,
                    id,
                    window_key(&c.email, w),
                    w.line,
                    vec![],
                );
                p.windows.push((id, state.id, *w));
            }
        }
    }
    // Windows of one day may not overlap: the declared against each other
    // and against those the database has.
    for w in &c.windows {
        let clash = state.windows.iter().find(|o| {
            o.day == w.day
                && o.start_minute != w.start.minutes()
                && o.start_minute < w.end.minutes()
                && w.start.minutes() < o.end_minute
        });
        if let Some(o) = clash {
            ck.problem(
                w.line,
                "coach.availability",
                Kind::Conflict,
                format!(
                    "{} overlaps the window {:02}:{:02}-{:02}:{:02} of the same day; windows of one day may not overlap",
                    window_key(&c.email, w),
                    o.start_minute / 60,
                    o.start_minute % 60,
                    o.end_minute / 60,
                    o.end_minute % 60
                ),
            );
        }
    }
    let existing_blocks = ex.blocks.get(&state.id).cloned().unwrap_or_default();
    for b in &c.blocks {
        let key = if b.first == b.last {
            format!("{} {}", c.email, b.first)
        } else {
            format!("{} {}..{}", c.email, b.first, b.last)
        };
        let json_of = |id: Uuid, reason: &Option<String>| {
            json!({"id": id, "coach_id": state.id, "coach_email": state.email,
                   "first_day": b.first.naive(), "last_day": b.last.naive(), "reason": reason})
        };
        match existing_blocks
            .iter()
            .find(|e| e.first_day == b.first.naive() && e.last_day == b.last.naive())
        {
            Some(e) if e.reason == b.reason => p.unchanged.add(Entity::Block),
            Some(e) => {
                let diffs = vec![format!(
                    "reason: {} -> {}",
                    quoted(&e.reason),
                    quoted(&b.reason)
                )];
                differs(ck, opts, b.line, "coach.block", &key, &diffs);
                p.audit.push((
                    "availability.block",
                    "availability_block",
                    e.id,
                    Some(json_of(e.id, &e.reason)),
                    json_of(e.id, &b.reason),
                ));
                p.change(Action::Update, Entity::Block, e.id, key, b.line, diffs);
                p.block_updates.push((e.id, b.reason.clone()));
            }
            None => {
                let id = Uuid::new_v4();
                state.blocks.push((b.first.naive(), b.last.naive()));
                p.audit.push((
                    "availability.block",
                    "availability_block",
                    id,
                    None,
                    json_of(id, &b.reason),
                ));
                p.change(Action::Create, Entity::Block, id, key, b.line, vec![]);
                p.blocks.push((id, state.id, b.clone()));
                p.schedule_changed.push(state.id);
            }
        }
    }
}

fn window_json(c: &CoachState, w: &WindowSpec) -> Value {
    let hhmm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
    json!({
        "id": w.id, "coach_id": c.id, "coach_email": c.email,
        "day_of_week": w.day.index(), "day": w.day.short(),
        "start": hhmm(w.start_minute), "end": hhmm(w.end_minute),
        "length": w.length_minutes, "buffer": w.buffer_minutes, "capacity": w.capacity,
        "timezone": c.tz.name(),
    })
}
