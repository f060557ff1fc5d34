-- Every invariant of the schedule, as one query: each row is a violation
-- (what, and which rows). An empty result means the database is sound.
-- Tests call it through `TestDb::assert_invariants` after races and model
-- runs; it reads only the data, never the code's opinion of it.
WITH seated AS (
    SELECT * FROM sessions WHERE session_holds_seat(status)
)
-- no slot over its window's capacity (future seats; past ones may predate a change)
SELECT 'slot over capacity' AS violation, v.session_id::text AS detail
FROM coach_profiles c, coach_schedule_violations(c.user_id) v
WHERE v.problem = 'more sessions than the capacity of the slot'
UNION ALL
-- no seat-holding future session outside a window or on a blocked date
SELECT 'session ' || v.problem, v.session_id::text
FROM coach_profiles c, coach_schedule_violations(c.user_id) v
WHERE v.problem <> 'more sessions than the capacity of the slot'
UNION ALL
-- slots.booked is the real count, and never over the slot's capacity
SELECT 'slots.booked differs from the sessions', sl.coach_id || ' ' || sl.starts_at
FROM slots sl
WHERE sl.booked <> (SELECT count(*) FROM seated s
                    WHERE s.coach_id = sl.coach_id AND s.starts_at = sl.starts_at)
   OR sl.booked > sl.capacity
UNION ALL
SELECT 'seated sessions without a slot row', s.coach_id || ' ' || s.starts_at
FROM seated s
WHERE NOT EXISTS (SELECT 1 FROM slots sl WHERE sl.coach_id = s.coach_id AND sl.starts_at = s.starts_at)
UNION ALL
-- no two seats of one coach with different starts closer than the larger buffer
SELECT 'buffer breach', a.id || ' ' || b.id
FROM seated a JOIN seated b
  ON a.coach_id = b.coach_id AND a.starts_at < b.starts_at
 AND b.starts_at < a.ends_at + make_interval(mins => greatest(a.buffer_minutes, b.buffer_minutes))
UNION ALL
-- no member seated twice at one start
SELECT 'member seated twice', member_id || ' ' || starts_at
FROM seated GROUP BY member_id, starts_at HAVING count(*) > 1
UNION ALL
-- every confirmed booking has its session, and every booking its audit row
SELECT 'confirmed booking without a session', b.id::text
FROM bookings b
WHERE b.status = 'confirmed' AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = b.session_id)
UNION ALL
SELECT 'booking without an audit row', b.id::text
FROM bookings b
WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.entity = 'booking' AND a.entity_id = b.id)
UNION ALL
-- The waitlist (issue 20). A waiter is eligible for their slot while the
-- offer could be made: in time, no seat of theirs overlapping it, within
-- the coach's limits.
SELECT 'free seat while an eligible waiter waits', w.id::text
FROM waitlist w
JOIN coach_profiles p ON p.user_id = w.coach_id
JOIN users cu ON cu.id = w.coach_id
WHERE w.status = 'waiting'
  AND w.starts_at - make_interval(mins => p.min_notice_minutes) > now()
  AND coalesce((containing_window(w.coach_id, cu.timezone, w.starts_at, w.ends_at)).capacity, 1)
      > (SELECT count(*) FROM seated s WHERE s.coach_id = w.coach_id AND s.starts_at = w.starts_at)
  AND NOT EXISTS (SELECT 1 FROM seated s WHERE s.member_id = w.member_id
                  AND s.starts_at < w.ends_at AND s.ends_at > w.starts_at)
  AND seat_limit_refusal(w.coach_id, w.member_id, w.starts_at, w.ends_at, NULL) IS NULL
UNION ALL
SELECT 'offered place without its open offer', w.id::text
FROM waitlist w LEFT JOIN sessions s ON s.id = w.offer_id
WHERE w.status = 'offered' AND (s.id IS NULL OR s.status <> 'proposed')
UNION ALL
SELECT 'one offer for two places', w.offer_id::text
FROM waitlist w WHERE w.offer_id IS NOT NULL GROUP BY w.offer_id HAVING count(*) > 1
UNION ALL
SELECT 'open offer for a member who has a seat at that start already', w.id::text
FROM waitlist w JOIN sessions o ON o.id = w.offer_id
WHERE w.status = 'offered'
  AND EXISTS (SELECT 1 FROM seated s WHERE s.member_id = w.member_id
              AND s.starts_at = w.starts_at AND s.id <> o.id)
UNION ALL
SELECT 'offered out of join order', a.id || ' before ' || b.id
FROM waitlist a JOIN waitlist b
  ON a.coach_id = b.coach_id AND a.starts_at = b.starts_at AND a.seq < b.seq
WHERE a.status = 'waiting' AND b.status = 'offered'
  AND a.starts_at > now()
  AND NOT EXISTS (SELECT 1 FROM seated s WHERE s.member_id = a.member_id
                  AND s.starts_at < a.ends_at AND s.ends_at > a.starts_at)
  AND seat_limit_refusal(a.coach_id, a.member_id, a.starts_at, a.ends_at, NULL) IS NULL
UNION ALL
-- no series partly booked: while an enrolment's sessions change together
-- (none completed, none changed on its own, the series never adjusted),
-- they hold a seat all or none
SELECT 'series partly booked', e.id::text
FROM program_enrolments e
WHERE e.sequence = 0
  AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.enrolment_id = e.id AND s.status = 'completed')
  AND (SELECT count(DISTINCT s.sequence) FROM sessions s WHERE s.enrolment_id = e.id) = 1
  AND (SELECT count(DISTINCT session_holds_seat(s.status)) FROM sessions s
       WHERE s.enrolment_id = e.id) > 1
UNION ALL
-- every enrolment has its sessions, and its audit row
SELECT 'enrolment without sessions', e.id::text
FROM program_enrolments e
WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.enrolment_id = e.id)
UNION ALL
SELECT 'enrolment without an audit row', e.id::text
FROM program_enrolments e
WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.entity = 'enrolment' AND a.entity_id = e.id)

