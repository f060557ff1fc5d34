-- bench/run section 9: what the booking policies (issue 20) cost, measured
-- in the database on a migrated schema, every trigger in force. Prints two
-- ratios:
--   waitlist_cancel: a cancel that hands its seat to a waiter (an offer made
--     in the same transaction) over a plain cancel;         target <= 2.0
--   limits_booking: seat writes per second with every limit set (never
--     reached) over the same writes with none;               target >= 0.9
-- Each side runs `rounds` (3) times alternately; the best round of each counts.
\set ON_ERROR_STOP on
\if :{?n}
\else
\set n 400
\endif
\if :{?rounds}
\else
\set rounds 3
\endif

DROP TABLE IF EXISTS bench_policy;
CREATE TEMP TABLE bench_policy (what text, round int, per_s float8);

-- One coach (UTC) open 06:00-22:00 every day in 60-minute slots of one
-- seat, a member holding seats and another waiting.
DO $$
DECLARE
    c uuid := gen_random_uuid();
BEGIN
    INSERT INTO users (id, email, name, role) VALUES (c, 'coach@bench-policy.example.com', 'C', 'coach');
    INSERT INTO coach_profiles (user_id, max_members) VALUES (c, 100);
    INSERT INTO users (id, email, name, role)
    SELECT gen_random_uuid(), 'm' || i || '@bench-policy.example.com', 'M', 'member'
    FROM generate_series(1, 4) i;
    INSERT INTO member_profiles (user_id, coach_id)
    SELECT id, c FROM users WHERE email LIKE 'm%@bench-policy.example.com';
    INSERT INTO availability_windows (id, coach_id, day_of_week, start_minute, end_minute,
                                      session_minutes, buffer_minutes, capacity)
    SELECT gen_random_uuid(), c, d, 360, 1320, 60, 0, 1 FROM generate_series(0, 6) d;
END
$$;

CREATE OR REPLACE FUNCTION pg_temp.bench_starts(first int, n int) RETURNS SETOF timestamptz
    LANGUAGE sql AS $$
    SELECT date_trunc('day', now()) + interval '30 days'
           + ((k / 16) * interval '1 day') + ((6 + k % 16) * interval '1 hour')
    FROM generate_series(first, first + n - 1) k
$$;

-- n seats of member 1 from slot `first`, one transaction each (as
-- `book` writes them), timed: seat writes per second.
CREATE OR REPLACE PROCEDURE pg_temp.bench_book(first int, n int, INOUT per_s float8 DEFAULT NULL)
    LANGUAGE plpgsql AS $$
DECLARE
    c uuid := (SELECT id FROM users WHERE email = 'coach@bench-policy.example.com');
    m uuid := (SELECT id FROM users WHERE email = 'm1@bench-policy.example.com');
    t timestamptz;
    t0 timestamptz := clock_timestamp();
BEGIN
    FOR t IN SELECT pg_temp.bench_starts(first, n) LOOP
        INSERT INTO sessions (id, coach_id, member_id, starts_at, ends_at)
        VALUES (gen_random_uuid(), c, m, t, t + interval '1 hour');
        COMMIT;
    END LOOP;
    per_s := n / extract(epoch FROM clock_timestamp() - t0);
END
$$;

-- Cancel member 1's n seats from slot `first` (with a waiter for each
-- when `waiters`), one transaction each with what `session cancel` writes
-- besides (its audit row), timed: cancels per second.
CREATE OR REPLACE PROCEDURE pg_temp.bench_cancel(first int, n int, waiters boolean,
                                                 INOUT per_s float8 DEFAULT NULL)
    LANGUAGE plpgsql AS $$
DECLARE
    c uuid := (SELECT id FROM users WHERE email = 'coach@bench-policy.example.com');
    m uuid := (SELECT id FROM users WHERE email = 'm1@bench-policy.example.com');
    w uuid := (SELECT id FROM users WHERE email = 'm2@bench-policy.example.com');
    s uuid;
    todo uuid[];
    t0 timestamptz;
BEGIN
    IF waiters THEN
        INSERT INTO waitlist (id, coach_id, member_id, starts_at, ends_at)
        SELECT gen_random_uuid(), c, w, t, t + interval '1 hour' FROM pg_temp.bench_starts(first, n) t;
    END IF;
    SELECT array_agg(x.id) INTO todo FROM sessions x
    WHERE x.coach_id = c AND x.member_id = m AND x.status = 'scheduled'
      AND x.starts_at IN (SELECT pg_temp.bench_starts(first, n));
    COMMIT;
    t0 := clock_timestamp();
    FOREACH s IN ARRAY todo LOOP
        PERFORM 1 FROM sessions WHERE id = s FOR UPDATE;
        UPDATE sessions SET status = 'cancelled', cancelled_at = now(), cancelled_by = m,
            sequence = sequence + 1, updated_at = now()
        WHERE id = s;
        INSERT INTO audit_log (actor_id, actor_label, action, entity, entity_id, before, after)
        VALUES (m, 'bench', 'session.cancel', 'session', s, NULL, NULL);
        COMMIT;
    END LOOP;
    per_s := n / extract(epoch FROM clock_timestamp() - t0);
END
$$;

-- The rounds: fresh slots for every side of every round. (psql does not
-- substitute variables inside a dollar-quoted body: they go as settings.)
SELECT set_config('bench.n', :'n', false), set_config('bench.rounds', :'rounds', false);
DO $$
DECLARE
    r int;
    n int := current_setting('bench.n')::int;
    base int;
    v float8;
BEGIN
    FOR r IN 1 .. current_setting('bench.rounds')::int LOOP
        base := (r - 1) * 4 * n;
        UPDATE coach_profiles SET max_per_day = NULL, max_per_week = NULL, member_max_per_week = NULL
        WHERE user_id = (SELECT id FROM users WHERE email = 'coach@bench-policy.example.com');
        COMMIT;
        CALL pg_temp.bench_book(base, n, v);
        INSERT INTO bench_policy VALUES ('book_no_limits', r, v);
        UPDATE coach_profiles SET max_per_day = 1000, max_per_week = 5000, member_max_per_week = 5000
        WHERE user_id = (SELECT id FROM users WHERE email = 'coach@bench-policy.example.com');
        COMMIT;
        CALL pg_temp.bench_book(base + n, n, v);
        INSERT INTO bench_policy VALUES ('book_limits', r, v);
        CALL pg_temp.bench_cancel(base, n, false, v);
        INSERT INTO bench_policy VALUES ('cancel_plain', r, v);
        CALL pg_temp.bench_cancel(base + n, n, true, v);
        INSERT INTO bench_policy VALUES ('cancel_to_waiter', r, v);
        COMMIT;
    END LOOP;
END
$$;

SELECT 'RESULT policies'
    || ' waitlist_cancel_ratio=' || round((max(per_s) FILTER (WHERE what = 'cancel_plain')
                                   / max(per_s) FILTER (WHERE what = 'cancel_to_waiter'))::numeric, 2)
    || ' (cost of a cancel with an offer over a plain one; target <= 2.0)'
    || ' limits_booking_ratio=' || round((max(per_s) FILTER (WHERE what = 'book_limits')
                                  / max(per_s) FILTER (WHERE what = 'book_no_limits'))::numeric, 2)
    || ' (target >= 0.9)'
    || ' per_s=' || string_agg(what || ':' || round(per_s::numeric), ',' ORDER BY what, round)
FROM bench_policy;
