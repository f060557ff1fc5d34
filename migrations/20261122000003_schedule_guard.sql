-- One coach's schedule is decided by the database, under one lock.
--
-- Every write that takes a seat (a session becoming or staying `scheduled`
-- at a new time) and every change of the schedule it depends on (windows,
-- blocked dates, the coach's time zone) first takes the coach's row lock
-- (`lock_coach_schedule`), then re-checks in SQL. One coach's writers queue;
-- distinct coaches stay parallel. Because the lock is an UPDATE, a writer in
-- REPEATABLE READ or SERIALIZABLE that raced another fails with a
-- serialization error instead of checking against a stale snapshot.
--
-- The rules (DESIGN.md "Availability", "Slots", "Booking"), for seat-holding
-- sessions:
--   * inside a window of the coach (day and local times in the coach's zone),
--     unless created off the grid;
--   * not on a blocked local date;
--   * no other seat-holding session of the coach with a different start
--     closer than the larger of the two buffers;
--   * at most the window's capacity per start (slots.booked, kept by the
--     trigger of the previous migration, under CHECK (booked <= capacity)).
-- Schedule changes may not leave a future seat-holding session breaking one
-- of them; `coach_schedule_violations` lists what would, and the library
-- uses it to name the sessions.

ALTER TABLE coach_profiles ADD COLUMN schedule_version bigint NOT NULL DEFAULT 0;

-- The half-buffer exclusion constraint only covered equal buffers; the
-- trigger below checks the larger-buffer rule under the coach lock instead.
ALTER TABLE sessions
    DROP CONSTRAINT sessions_buffer_no_overlap,
    DROP CONSTRAINT sessions_guard_matches,
    DROP COLUMN guard,
    ADD COLUMN off_grid boolean NOT NULL DEFAULT false,
    -- Bounded lengths and buffers keep the neighbour search to two days.
    ADD CONSTRAINT sessions_length_within_day CHECK (ends_at <= starts_at + interval '1 day'),
    ADD CONSTRAINT sessions_buffer_within_day CHECK (buffer_minutes <= 1440);

-- The booking snapshot asks whether a member had sessions with a coach.
CREATE INDEX sessions_coach_member_idx ON sessions (coach_id, member_id);

CREATE FUNCTION session_holds_seat(status text) RETURNS boolean
    LANGUAGE sql IMMUTABLE AS $$ SELECT status = 'scheduled' $$;

-- `keep`: the session a trigger is deciding on, which the lock's upkeep
-- (a later migration expires overdue proposals here) must leave alone.
CREATE FUNCTION lock_coach_schedule(coach uuid, keep uuid DEFAULT NULL) RETURNS void
    LANGUAGE sql AS $$
    UPDATE coach_profiles SET schedule_version = schedule_version + 1 WHERE user_id = coach
$$;

-- Minutes after local midnight of an instant in a zone.
CREATE FUNCTION local_minute(t timestamptz, tz text) RETURNS integer
    LANGUAGE sql IMMUTABLE AS $$
    SELECT (extract(hour FROM t AT TIME ZONE tz) * 60 + extract(minute FROM t AT TIME ZONE tz))::integer
$$;

-- The window of a coach that contains a session (windows of one day never
-- overlap, so there is at most one).
CREATE FUNCTION containing_window(coach uuid, tz text, starts timestamptz, ends timestamptz)
    RETURNS availability_windows
    LANGUAGE sql STABLE AS $$
    SELECT w.* FROM availability_windows w
    WHERE w.coach_id = coach
      AND w.day_of_week = extract(dow FROM starts AT TIME ZONE tz)
      AND w.start_minute <= local_minute(starts, tz)
      AND local_minute(starts, tz) + ceil(extract(epoch FROM ends - starts) / 60) <= w.end_minute
$$;

-- Future seat-holding sessions of a coach that a schedule change can leave
-- breaking a rule (buffers cannot: they live on the sessions themselves).
CREATE FUNCTION coach_schedule_violations(coach uuid)
    RETURNS TABLE (session_id uuid, starts_at timestamptz, problem text)
    LANGUAGE sql STABLE AS $$
    WITH s AS (
        SELECT s.id, s.starts_at, s.off_grid, w.id AS window_id,
               coalesce(w.capacity, 1) AS capacity,
               count(*) OVER (PARTITION BY s.starts_at) AS seated,
               (s.starts_at AT TIME ZONE u.timezone)::date AS local_day
        FROM sessions s
        JOIN users u ON u.id = s.coach_id
        LEFT JOIN LATERAL containing_window(coach, u.timezone, s.starts_at, s.ends_at) w ON true
        WHERE s.coach_id = coach AND session_holds_seat(s.status) AND s.starts_at > now()
    )
    SELECT s.id, s.starts_at, 'outside the availability windows'
        FROM s WHERE NOT s.off_grid AND s.window_id IS NULL
    UNION ALL
    SELECT s.id, s.starts_at, 'on a blocked date'
        FROM s WHERE EXISTS (SELECT 1 FROM availability_blocks b
                             WHERE b.coach_id = coach AND s.local_day BETWEEN b.first_day AND b.last_day)
    UNION ALL
    SELECT s.id, s.starts_at, 'more sessions than the capacity of the slot'
        FROM s WHERE s.seated > s.capacity
    ORDER BY 2, 1
$$;

-- Before a session takes a seat: lock the coach, place the session in its
-- window (taking the window's capacity and at least its buffer), and refuse
-- blocked dates and buffer breaches. Capacity is decided after the row is
-- written, by the slot counter's CHECK.
CREATE FUNCTION sessions_guard_schedule() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    tz text;
    w availability_windows;
    local_day date;
    clash uuid;
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
    RETURN NEW;
END
$$;

CREATE TRIGGER sessions_guard_schedule
    BEFORE INSERT OR UPDATE ON sessions
    FOR EACH ROW EXECUTE FUNCTION sessions_guard_schedule();

-- After a schedule change of a coach: no future seat-holding session may be
-- left breaking a rule. Deferred to commit, so the library can make the
-- change, list the violations (naming the sessions) and roll back; any other
-- writer is refused at commit.
CREATE FUNCTION schedule_change_check() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    coach uuid;
    bad record;
BEGIN
    IF TG_TABLE_NAME = 'users' THEN
        coach := NEW.id;
    ELSIF TG_OP = 'DELETE' THEN
        coach := OLD.coach_id;
    ELSE
        coach := NEW.coach_id;
        IF TG_OP = 'UPDATE' THEN
            IF OLD.coach_id <> NEW.coach_id THEN
                RAISE EXCEPTION 'availability cannot move to another coach'
                    USING ERRCODE = 'check_violation',
                          CONSTRAINT = 'availability_schedule_orphans_sessions';
            END IF;
        END IF;
    END IF;
    PERFORM lock_coach_schedule(coach);
    SELECT * INTO bad FROM coach_schedule_violations(coach) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'the change leaves session % %', bad.session_id, bad.problem
            USING ERRCODE = 'check_violation', CONSTRAINT = 'availability_schedule_orphans_sessions';
    END IF;
    -- Booked future slots take the capacity of their window.
    UPDATE slots sl SET capacity = v.capacity
    FROM (SELECT s.starts_at, min(coalesce(w.capacity, 1)) AS capacity
          FROM sessions s
          JOIN users u ON u.id = s.coach_id
          LEFT JOIN LATERAL containing_window(coach, u.timezone, s.starts_at, s.ends_at) w ON true
          WHERE s.coach_id = coach AND session_holds_seat(s.status) AND s.starts_at > now()
          GROUP BY s.starts_at) v
    WHERE sl.coach_id = coach AND sl.starts_at = v.starts_at AND sl.capacity <> v.capacity;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER availability_windows_keep_sessions
    AFTER UPDATE OR DELETE ON availability_windows
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION schedule_change_check();

CREATE CONSTRAINT TRIGGER availability_blocks_keep_sessions
    AFTER INSERT OR UPDATE ON availability_blocks
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION schedule_change_check();

CREATE CONSTRAINT TRIGGER users_timezone_keeps_sessions
    AFTER UPDATE OF timezone ON users
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.role = 'coach' AND OLD.timezone IS DISTINCT FROM NEW.timezone)
    EXECUTE FUNCTION schedule_change_check();
