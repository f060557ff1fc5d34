-- Booking limits (issue 20; docs/design/identity.md "Seats"): a coach's
-- `max_per_day` and `max_per_week` seats, and `member_max_per_week` seats of
-- one member with them, counted in the coach's zone (ISO weeks, Monday
-- first). NULL: no limit. Decided by the seat guard under the coach's lock,
-- so every path that writes a seat (book, session create, reschedule, seed,
-- import, offers, psql) is held to them and racing writers queue.

ALTER TABLE coach_profiles
    ADD COLUMN max_per_day integer,
    ADD COLUMN max_per_week integer,
    ADD COLUMN member_max_per_week integer,
    ADD CONSTRAINT coach_profiles_max_per_day_positive CHECK (max_per_day > 0),
    ADD CONSTRAINT coach_profiles_max_per_week_positive CHECK (max_per_week > 0),
    ADD CONSTRAINT coach_profiles_member_max_per_week_positive CHECK (member_max_per_week > 0);

-- The limit a new seat of `member` with `coach` from `starts` would break,
-- as the constraint name it is refused under ('sessions_max_per_day',
-- 'sessions_max_per_week', 'sessions_member_max_per_week'), or NULL when it
-- is within every limit. `skip` is the session taking the seat (a move does
-- not count its old place). Callers that decide hold the coach's lock.
CREATE FUNCTION seat_limit_refusal(coach uuid, member uuid, starts timestamptz,
                                   ends timestamptz, skip uuid)
    RETURNS text
    LANGUAGE plpgsql STABLE AS $$
DECLARE
    p coach_profiles;
    tz text;
    local_day date;
    week date;
    on_day bigint;
    in_week bigint;
    of_member bigint;
BEGIN
    SELECT * INTO p FROM coach_profiles WHERE user_id = coach;
    IF p.max_per_day IS NULL AND p.max_per_week IS NULL AND p.member_max_per_week IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT timezone INTO tz FROM users WHERE id = coach;
    local_day := (starts AT TIME ZONE tz)::date;
    week := date_trunc('week', local_day)::date;
    -- seats: scheduled, or proposed and not yet overdue; one scan of the
    -- coach's week through sessions_seated_coach_start_idx answers all three
    SELECT count(*) FILTER (WHERE s.starts_at >= local_day::timestamp AT TIME ZONE tz
                              AND s.starts_at < (local_day + 1)::timestamp AT TIME ZONE tz),
           count(*),
           count(*) FILTER (WHERE s.member_id = member)
    INTO on_day, in_week, of_member
    FROM sessions s
    WHERE s.coach_id = coach AND s.status IN ('scheduled', 'proposed')
      AND (s.status = 'scheduled' OR s.expires_at > now())
      AND s.starts_at >= week::timestamp AT TIME ZONE tz
      AND s.starts_at < (week + 7)::timestamp AT TIME ZONE tz
      AND s.id IS DISTINCT FROM skip;
    IF on_day >= p.max_per_day THEN
        RETURN 'sessions_max_per_day';
    END IF;
    IF in_week >= p.max_per_week THEN
        RETURN 'sessions_max_per_week';
    END IF;
    IF of_member >= p.member_max_per_week THEN
        RETURN 'sessions_member_max_per_week';
    END IF;
    RETURN NULL;
END
$$;

-- "1 session", "2 sessions".
CREATE FUNCTION sessions_count(n integer) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$
    SELECT n || CASE WHEN n = 1 THEN ' session' ELSE ' sessions' END
$$;

-- The sentence of a limit refusal, in the coach's zone: "Ana Coach takes at
-- most 2 sessions on Wed 3 Nov". It is the error's message, so every path
-- (coachctl, a script, psql) reads the same reason.
CREATE FUNCTION seat_limit_sentence(coach uuid, member uuid, starts timestamptz, refusal text)
    RETURNS text
    LANGUAGE sql STABLE AS $$
    SELECT CASE refusal
        WHEN 'sessions_max_per_day' THEN format('%s takes at most %s on %s',
            u.name, sessions_count(p.max_per_day), to_char(l.d, 'Dy FMDD Mon'))
        WHEN 'sessions_max_per_week' THEN format('%s takes at most %s in the week of %s',
            u.name, sessions_count(p.max_per_week), to_char(l.w, 'Dy FMDD Mon'))
        ELSE format('%s takes at most %s a week from %s (week of %s)',
            u.name, sessions_count(p.member_max_per_week),
            (SELECT m.email FROM users m WHERE m.id = member), to_char(l.w, 'Dy FMDD Mon'))
    END
    FROM users u
    JOIN coach_profiles p ON p.user_id = u.id
    CROSS JOIN LATERAL (SELECT (starts AT TIME ZONE u.timezone)::date AS d,
                               date_trunc('week', starts AT TIME ZONE u.timezone)::date AS w) l
    WHERE u.id = coach
$$;

-- `slots`: the local days and ISO weeks (their Mondays) of a coach between
-- two local dates that are at a limit, for `member` too when named; the
-- slots of those are not offered. Reads every seat, so a definer.
CREATE FUNCTION seat_limits_reached(coach uuid, member uuid, first date, last date)
    RETURNS TABLE (kind text, day date)
    LANGUAGE sql STABLE AS $$
    WITH p AS (
        SELECT c.max_per_day, c.max_per_week, c.member_max_per_week, u.timezone AS tz
        FROM coach_profiles c JOIN users u ON u.id = c.user_id
        WHERE c.user_id = coach
          AND (c.max_per_day IS NOT NULL OR c.max_per_week IS NOT NULL
               OR c.member_max_per_week IS NOT NULL)
    ), seats AS (
        SELECT (s.starts_at AT TIME ZONE p.tz)::date AS d, s.member_id
        FROM sessions s, p
        WHERE s.coach_id = coach AND s.status IN ('scheduled', 'proposed')
          AND (s.status = 'scheduled' OR s.expires_at > now())
          AND s.starts_at >= (date_trunc('week', first)::date)::timestamp AT TIME ZONE p.tz
          AND s.starts_at < (date_trunc('week', last)::date + 7)::timestamp AT TIME ZONE p.tz
    )
    SELECT 'day', d FROM seats, p GROUP BY d, p.max_per_day
        HAVING count(*) >= p.max_per_day
    UNION ALL
    SELECT 'week', date_trunc('week', d)::date FROM seats, p
        GROUP BY date_trunc('week', d), p.max_per_week HAVING count(*) >= p.max_per_week
    UNION ALL
    SELECT 'member_week', date_trunc('week', d)::date FROM seats, p
        WHERE seats.member_id = member
        GROUP BY date_trunc('week', d), p.member_max_per_week
        HAVING count(*) >= p.member_max_per_week
$$;

-- The seat guard of migration 000003, with the limits decided after the
-- window, block and buffer checks (same lock, same transaction).
CREATE OR REPLACE FUNCTION sessions_guard_schedule() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    tz text;
    w availability_windows;
    local_day date;
    clash uuid;
    over text;
BEGIN
    IF NOT session_holds_seat(NEW.status) THEN
        RETURN NEW;
    END IF;
    -- Notes, sequence and other bookkeeping of a seated session: no new seat.
    IF TG_OP = 'UPDATE' AND session_holds_seat(OLD.status)
       AND NEW.starts_at = OLD.starts_at AND NEW.ends_at = OLD.ends_at
       AND NEW.coach_id = OLD.coach_id AND NEW.member_id = OLD.member_id
       AND NEW.buffer_minutes = OLD.buffer_minutes AND NEW.off_grid = OLD.off_grid
       AND NEW.slot_capacity = OLD.slot_capacity THEN
        RETURN NEW;
    END IF;
    PERFORM lock_coach_schedule(NEW.coach_id, NEW.id);
    SELECT timezone INTO tz FROM users WHERE id = NEW.coach_id;
    w := containing_window(NEW.coach_id, tz, NEW.starts_at, NEW.ends_at);
    IF w.id IS NULL AND NOT NEW.off_grid THEN
        RAISE EXCEPTION 'session % lies outside the availability of coach %', NEW.id, NEW.coach_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'sessions_within_window';
    END IF;
    NEW.window_id := w.id;
    NEW.slot_capacity := coalesce(w.capacity, 1);
    NEW.buffer_minutes := greatest(NEW.buffer_minutes, coalesce(w.buffer_minutes, 0));
    local_day := (NEW.starts_at AT TIME ZONE tz)::date;
    IF EXISTS (SELECT 1 FROM availability_blocks b
               WHERE b.coach_id = NEW.coach_id AND local_day BETWEEN b.first_day AND b.last_day) THEN
        RAISE EXCEPTION 'session % falls on a blocked date of coach %', NEW.id, NEW.coach_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'sessions_not_on_blocked_date';
    END IF;
    SELECT o.id INTO clash FROM sessions o
    WHERE o.coach_id = NEW.coach_id AND o.id <> NEW.id AND session_holds_seat(o.status)
      AND o.starts_at > NEW.starts_at - interval '2 days'
      AND o.starts_at < NEW.ends_at + interval '1 day'
      AND o.starts_at <> NEW.starts_at
      AND o.starts_at < NEW.ends_at + make_interval(mins => greatest(o.buffer_minutes, NEW.buffer_minutes))
      AND NEW.starts_at < o.ends_at + make_interval(mins => greatest(o.buffer_minutes, NEW.buffer_minutes))
    LIMIT 1;
    IF clash IS NOT NULL THEN
        RAISE EXCEPTION 'session % is within the buffer of session %', NEW.id, clash
            USING ERRCODE = 'exclusion_violation', CONSTRAINT = 'sessions_buffer_no_overlap';
    END IF;
    over := seat_limit_refusal(NEW.coach_id, NEW.member_id, NEW.starts_at, NEW.ends_at, NEW.id);
    IF over IS NOT NULL THEN
        RAISE EXCEPTION '%', seat_limit_sentence(NEW.coach_id, NEW.member_id, NEW.starts_at, over)
            USING ERRCODE = 'check_violation', CONSTRAINT = over,
                  DETAIL = format('session %s', NEW.id);
    END IF;
    RETURN NEW;
END
$$;

-- Definer rights and a fixed search_path, as for every check function
-- (migration 000900): the counts read seats a login cannot see. CREATE OR
-- REPLACE reset the guard's.
DO $do$
DECLARE
    f regprocedure;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'seat_limit_refusal(uuid, uuid, timestamptz, timestamptz, uuid)'::regprocedure,
        'seat_limit_sentence(uuid, uuid, timestamptz, text)'::regprocedure,
        'seat_limits_reached(uuid, uuid, date, date)'::regprocedure,
        'sessions_guard_schedule()'::regprocedure]
    LOOP
        EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = %I, pg_temp',
                       f, current_schema());
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$do$;

-- A coach sets their own limits; anyone reads which days are full.
CREATE FUNCTION identity_grants_booking_limits(p text) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('GRANT EXECUTE ON FUNCTION seat_limits_reached(uuid, uuid, date, date)
                    TO %I, %I, %I', p || '_admin', p || '_coach', p || '_member');
    EXECUTE format('GRANT UPDATE (max_per_day, max_per_week, member_max_per_week)
                    ON coach_profiles TO %I', p || '_coach');
END
$$;
SELECT identity_install();
