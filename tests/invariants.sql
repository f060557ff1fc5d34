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
