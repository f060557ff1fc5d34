-- pgbench baseline: the guaranteed booking write as one statement, the very
-- statement `booking::book` issues (session, booking, audit row; every
-- trigger and constraint in force). Client c's k-th transaction makes
-- booking k of bench_plan (see `bench pgbench-setup`). Run with -D k=0.
\set k :k + 1
WITH p AS (SELECT * FROM bench_plan WHERE client = :client_id AND k = :k),
s AS (
    INSERT INTO sessions (id, coach_id, member_id, window_id, starts_at, ends_at,
        buffer_minutes, slot_capacity, session_type, member_notes)
    SELECT gen_random_uuid(), coach_id, member_id, window_id, starts_at, ends_at, 0, 2, 'regular', NULL
    FROM p
    RETURNING id, coach_id, member_id, starts_at, ends_at
), b AS (
    INSERT INTO bookings (id, coach_id, member_id, starts_at, status, session_id, member_notes)
    SELECT gen_random_uuid(), coach_id, member_id, starts_at, 'confirmed', id, NULL FROM s
    RETURNING id, session_id, starts_at
)
INSERT INTO audit_log (actor_id, actor_label, action, entity, entity_id, before, after)
SELECT NULL, 'operator', 'booking.confirm', 'booking', b.id, NULL,
       jsonb_build_object('booking_id', b.id, 'session_id', b.session_id, 'status', 'confirmed',
                          'start', b.starts_at, 'coach_email', 'c@bench.example.com',
                          'member_email', 'm@bench.example.com')
FROM b;
