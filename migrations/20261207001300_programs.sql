-- Programs, enrolments and insights (issue 19, seed 004).
--
-- A program is a coach's plan of weeks; a template is one every coach may
-- assign (an admin's, coach_id NULL) or a coach's own. An enrolment is a
-- program assigned to a member: a series of sessions, each a `sessions` row
-- tied to it by `sessions.enrolment_id` (docs/design/identity.md "Seats").
-- The series is written by one INSERT .. SELECT from a jsonb array after
-- `series_conflicts` named every occurrence that breaks a rule; the per-row
-- guard re-checks each row, so a series is booked whole or not at all.

CREATE TABLE programs (
    id               uuid PRIMARY KEY,
    -- NULL: an admin's template, for every coach
    coach_id         uuid REFERENCES coach_profiles (user_id),
    name             text NOT NULL,
    weeks            integer NOT NULL,
    per_week         integer NOT NULL DEFAULT 1,
    session_minutes  integer NOT NULL DEFAULT 60,
    description      text,
    difficulty       text,
    goals            text[] NOT NULL DEFAULT '{}',
    template         boolean NOT NULL DEFAULT false,
    created_by       uuid REFERENCES users (id) ON DELETE SET NULL,
    archived_at      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT programs_name_not_blank CHECK (length(btrim(name)) > 0),
    CONSTRAINT programs_weeks_valid CHECK (weeks BETWEEN 1 AND 104),
    CONSTRAINT programs_per_week_valid CHECK (per_week BETWEEN 1 AND 14),
    CONSTRAINT programs_length_valid CHECK (session_minutes BETWEEN 5 AND 1440),
    CONSTRAINT programs_difficulty_valid
        CHECK (difficulty IS NULL OR difficulty IN ('beginner', 'intermediate', 'advanced')),
    CONSTRAINT programs_shared_is_template CHECK (coach_id IS NOT NULL OR template)
);
CREATE INDEX programs_coach_idx ON programs (coach_id, name);

CREATE TABLE program_enrolments (
    id               uuid PRIMARY KEY,
    program_id       uuid NOT NULL REFERENCES programs (id),
    coach_id         uuid NOT NULL REFERENCES coach_profiles (user_id),
    member_id        uuid NOT NULL REFERENCES member_profiles (user_id),
    -- proposed -> active | declined | expired | cancelled; active -> completed | cancelled
    status           text NOT NULL,
    weeks            integer NOT NULL,
    starts_on        date NOT NULL,
    -- the weekly times as given, e.g. {"wed 09:00"}
    weekly           text[] NOT NULL,
    -- raised by each change of the series as a whole (the notice's key)
    sequence         integer NOT NULL DEFAULT 0,
    proposed_by      uuid REFERENCES users (id) ON DELETE SET NULL,
    responded_at     timestamptz,
    completed_at     timestamptz,
    cancelled_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT program_enrolments_status_valid CHECK (status IN
        ('proposed', 'active', 'declined', 'expired', 'cancelled', 'completed')),
    CONSTRAINT program_enrolments_weeks_valid CHECK (weeks BETWEEN 1 AND 208),
    CONSTRAINT program_enrolments_completed_stamped
        CHECK ((status = 'completed') = (completed_at IS NOT NULL)),
    CONSTRAINT program_enrolments_cancelled_stamped
        CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL))
);
CREATE INDEX program_enrolments_coach_idx ON program_enrolments (coach_id, created_at);
CREATE INDEX program_enrolments_member_idx ON program_enrolments (member_id, created_at);
CREATE INDEX program_enrolments_program_idx ON program_enrolments (program_id);

ALTER TABLE sessions ADD COLUMN enrolment_id uuid
    CONSTRAINT sessions_enrolment_fkey REFERENCES program_enrolments (id);
CREATE INDEX sessions_enrolment_idx ON sessions (enrolment_id, starts_at)
    WHERE enrolment_id IS NOT NULL;

CREATE TABLE insights (
    id            uuid PRIMARY KEY,
    coach_id      uuid NOT NULL REFERENCES coach_profiles (user_id),
    member_id     uuid NOT NULL REFERENCES member_profiles (user_id),
    enrolment_id  uuid REFERENCES program_enrolments (id),
    kind          text NOT NULL,
    priority      text NOT NULL DEFAULT 'medium',
    title         text NOT NULL,
    body          text NOT NULL,
    read_at       timestamptz,
    response      text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT insights_kind_valid CHECK (kind IN
        ('recommendation', 'observation', 'goal-update', 'program-adjustment')),
    CONSTRAINT insights_priority_valid CHECK (priority IN ('low', 'medium', 'high')),
    CONSTRAINT insights_title_not_blank CHECK (length(btrim(title)) > 0),
    CONSTRAINT insights_body_not_blank CHECK (length(btrim(body)) > 0),
    CONSTRAINT insights_response_after_read CHECK (response IS NULL OR read_at IS NOT NULL)
);
CREATE INDEX insights_member_idx ON insights (member_id, created_at);
CREATE INDEX insights_coach_idx ON insights (coach_id, created_at);

-- Every rule of a seat, for every occurrence of a series at once, under the
-- coach's lock: one row per broken rule (occurrence, problem, the other
-- session's start for a buffer). `moving`: an enrolment whose seats the
-- series replaces (`program adjust`), which therefore do not count.
-- Problems: notice, horizon, window, blocked, buffer, full, member.
CREATE FUNCTION series_conflicts(coach uuid, member uuid, occurrences jsonb, moving uuid DEFAULT NULL)
    RETURNS TABLE (occurrence timestamptz, problem text, other_start timestamptz)
    LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    tz text;
    notice integer;
    horizon integer;
BEGIN
    PERFORM lock_coach_schedule(coach);
    SELECT u.timezone, p.min_notice_minutes, p.horizon_days INTO tz, notice, horizon
    FROM users u JOIN coach_profiles p ON p.user_id = u.id WHERE u.id = coach;
    RETURN QUERY
    WITH o AS (
        SELECT (e->>'start')::timestamptz AS s, (e->>'end')::timestamptz AS fin,
               w.id AS window_id, coalesce(w.capacity, 1) AS capacity,
               coalesce(w.buffer_minutes, 0) AS buffer,
               ((e->>'start')::timestamptz AT TIME ZONE tz)::date AS local_day
        FROM jsonb_array_elements(occurrences) e
        LEFT JOIN LATERAL containing_window(coach, tz, (e->>'start')::timestamptz,
                                            (e->>'end')::timestamptz) w ON true
    ), seated AS (
        SELECT x.starts_at, x.ends_at, x.buffer_minutes FROM sessions x
        WHERE x.coach_id = coach AND session_holds_seat(x.status)
          AND (moving IS NULL OR x.enrolment_id IS DISTINCT FROM moving)
          AND x.starts_at > (SELECT min(o.s) FROM o) - interval '2 days'
          AND x.starts_at < (SELECT max(o.fin) FROM o) + interval '2 days'
    )
    SELECT o.s, 'notice', NULL::timestamptz FROM o
    WHERE o.s <= now() + make_interval(mins => notice)
    UNION ALL
    SELECT o.s, 'horizon', NULL FROM o
    WHERE horizon IS NOT NULL AND o.s > now() + horizon * interval '24 hours'
    UNION ALL
    SELECT o.s, 'window', NULL FROM o WHERE o.window_id IS NULL
    UNION ALL
    SELECT o.s, 'blocked', NULL FROM o
    WHERE EXISTS (SELECT 1 FROM availability_blocks b
                  WHERE b.coach_id = coach AND o.local_day BETWEEN b.first_day AND b.last_day)
    UNION ALL
    SELECT o.s, 'member', NULL FROM o
    WHERE EXISTS (SELECT 1 FROM sessions x
                  WHERE x.member_id = member AND x.starts_at = o.s
                    AND session_holds_seat(x.status)
                    AND (moving IS NULL OR x.enrolment_id IS DISTINCT FROM moving))
    UNION ALL
    SELECT o.s, 'full', NULL FROM o
    WHERE o.window_id IS NOT NULL
      AND (SELECT count(*) FROM seated x WHERE x.starts_at = o.s) >= o.capacity
    UNION ALL
    SELECT o.s, 'buffer', min(x.starts_at) FROM o JOIN seated x
      ON x.starts_at <> o.s
     AND x.starts_at < o.fin + make_interval(mins => greatest(x.buffer_minutes, o.buffer))
     AND o.s < x.ends_at + make_interval(mins => greatest(x.buffer_minutes, o.buffer))
    GROUP BY o.s
    UNION ALL
    -- two occurrences of the series itself too close to each other
    SELECT a.s, 'buffer', min(b.s) FROM o a JOIN o b
      ON b.s <> a.s
     AND b.s < a.fin + make_interval(mins => greatest(a.buffer, b.buffer))
     AND a.s < b.fin + make_interval(mins => greatest(a.buffer, b.buffer))
    GROUP BY a.s
    -- issue 20 (at merge): the limits, seat_limit_refusal(coach, member, o.s, o.e, NULL)
    ORDER BY 1, 2;
END
$$;

-- One notice per side for a whole series (the sessions' own notices are
-- left out while the series changes as a whole), with every session.
CREATE FUNCTION enrolment_notice_body(e program_enrolments) RETURNS jsonb
    LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'enrolment_id', e.id, 'program_name', p.name, 'status', e.status,
        'sequence', e.sequence,
        'coach_name', c.name, 'coach_email', c.email,
        'member_name', m.name, 'member_email', m.email,
        'sessions', coalesce((SELECT jsonb_agg(jsonb_build_object(
                'session_id', s.id, 'start', s.starts_at, 'end', s.ends_at,
                'sequence', s.sequence, 'status', s.status) ORDER BY s.starts_at)
            FROM sessions s WHERE s.enrolment_id = e.id), '[]'))
    FROM programs p, users c, users m
    WHERE p.id = e.program_id AND c.id = e.coach_id AND m.id = e.member_id
$$;

ALTER TABLE outbox DROP CONSTRAINT outbox_event_known,
    ADD CONSTRAINT outbox_event_known CHECK (event IN (
        'session.confirmed', 'session.proposed', 'session.accepted', 'session.declined',
        'session.rescheduled', 'session.cancelled', 'session.completed',
        'booking.rejected', 'member.assigned', 'reminder.24h', 'reminder.1h',
        'invitation', 'connection.requested', 'connection.answered', 'message',
        'program.assigned', 'program.proposed', 'program.accepted', 'program.declined',
        'program.adjusted', 'program.cancelled', 'program.completed', 'insight'));

CREATE FUNCTION program_enrolments_queue_notices() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    ev text;
    body jsonb;
    to_coach boolean := true;
    to_member boolean := true;
BEGIN
    IF TG_OP = 'INSERT' THEN
        ev := CASE NEW.status WHEN 'proposed' THEN 'program.proposed' ELSE 'program.assigned' END;
    ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
        CASE NEW.status
            WHEN 'active' THEN ev := 'program.accepted'; to_member := false;
            WHEN 'declined' THEN ev := 'program.declined'; to_member := false;
            WHEN 'cancelled' THEN ev := 'program.cancelled';
            WHEN 'completed' THEN ev := 'program.completed';
            ELSE RETURN NULL;
        END CASE;
    ELSIF NEW.sequence <> OLD.sequence THEN
        ev := 'program.adjusted';
    ELSE
        RETURN NULL;
    END IF;
    body := enrolment_notice_body(NEW);
    IF to_member THEN
        PERFORM queue_notice(ev, ev || ':' || NEW.id || ':' || NEW.sequence, NEW.member_id, NULL, body);
    END IF;
    IF to_coach THEN
        PERFORM queue_notice(ev, ev || ':' || NEW.id || ':' || NEW.sequence, NEW.coach_id, NULL, body);
    END IF;
    RETURN NULL;
END
$$;

-- AFTER triggers fire at the end of the statement, so the notice of an
-- enrolment inserted with its sessions in one statement lists them all.
CREATE TRIGGER program_enrolments_queue_notices
    AFTER INSERT OR UPDATE OF status, sequence ON program_enrolments
    FOR EACH ROW EXECUTE FUNCTION program_enrolments_queue_notices();

-- A session of a series announces itself only when it changes on its own
-- (a single reschedule or cancel); the series' changes are announced once,
-- by the enrolment. `coachctl.series_op` is set (transaction-local) by the
-- library while it changes a series as a whole.
DROP TRIGGER sessions_queue_notices ON sessions;
CREATE TRIGGER sessions_queue_notices
    AFTER INSERT ON sessions
    FOR EACH ROW WHEN (NEW.enrolment_id IS NULL)
    EXECUTE FUNCTION sessions_queue_notices();
CREATE TRIGGER sessions_queue_notices_update
    AFTER UPDATE OF status, starts_at ON sessions
    FOR EACH ROW WHEN (NEW.enrolment_id IS NULL
                       OR current_setting('coachctl.series_op', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION sessions_queue_notices();

-- The last session of an active enrolment completed: the enrolment is.
CREATE FUNCTION sessions_complete_enrolment() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    UPDATE program_enrolments e SET status = 'completed', completed_at = now(), updated_at = now()
    WHERE e.id = NEW.enrolment_id AND e.status = 'active'
      AND NOT EXISTS (SELECT 1 FROM sessions s
                      WHERE s.enrolment_id = e.id AND session_holds_seat(s.status));
    RETURN NULL;
END
$$;

CREATE TRIGGER sessions_complete_enrolment
    AFTER UPDATE OF status ON sessions
    FOR EACH ROW WHEN (NEW.status = 'completed' AND OLD.status <> 'completed'
                       AND NEW.enrolment_id IS NOT NULL)
    EXECUTE FUNCTION sessions_complete_enrolment();

-- A login changes an enrolment only as a person may: the member answers a
-- proposal; the coach cancels or adjusts. The owner path is the library's.
CREATE FUNCTION program_enrolments_guard_actor() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    r text := current_actor_role();
BEGIN
    IF r IN ('owner', 'admin') THEN
        RETURN NEW;
    END IF;
    IF NEW.program_id <> OLD.program_id OR NEW.coach_id <> OLD.coach_id
       OR NEW.member_id <> OLD.member_id
       OR (r = 'member' AND NOT (OLD.status = 'proposed' AND NEW.status IN ('active', 'declined')
                                 AND NEW.sequence = OLD.sequence AND NEW.weeks = OLD.weeks))
       OR (r = 'coach' AND NEW.status IS DISTINCT FROM OLD.status
           AND NEW.status NOT IN ('cancelled', 'completed'))
       OR r NOT IN ('member', 'coach') THEN
        RAISE EXCEPTION 'enrolment % may not change that way', OLD.id
            USING ERRCODE = 'insufficient_privilege', CONSTRAINT = 'program_enrolments_actor_transition';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER program_enrolments_guard_actor
    BEFORE UPDATE ON program_enrolments
    FOR EACH ROW EXECUTE FUNCTION program_enrolments_guard_actor();

-- An insight tells its member.
CREATE FUNCTION insights_queue_notice() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM queue_notice('insight', 'insight:' || NEW.id, NEW.member_id, NULL,
        (SELECT jsonb_build_object(
            'insight_id', NEW.id, 'title', NEW.title, 'text', NEW.body, 'status', NEW.kind,
            'coach_name', c.name, 'coach_email', c.email,
            'member_name', m.name, 'member_email', m.email)
         FROM users c, users m WHERE c.id = NEW.coach_id AND m.id = NEW.member_id));
    RETURN NULL;
END
$$;

CREATE TRIGGER insights_queue_notice
    AFTER INSERT ON insights
    FOR EACH ROW EXECUTE FUNCTION insights_queue_notice();

-- Rows: programs are their coach's (admins' templates everyone's to read);
-- enrolments and insights the pair's and admins'.
ALTER TABLE programs ENABLE ROW LEVEL SECURITY;
CREATE POLICY programs_read ON programs FOR SELECT USING (
    (SELECT current_actor_role()) = 'admin'
    OR coach_id = (SELECT current_actor())
    OR (coach_id IS NULL AND (SELECT current_actor_role()) = 'coach')
    OR id IN (SELECT e.program_id FROM program_enrolments e WHERE e.member_id = (SELECT current_actor())));
CREATE POLICY programs_write ON programs FOR INSERT WITH CHECK (
    (SELECT current_actor_role()) = 'admin' OR coach_id = (SELECT current_actor()));
CREATE POLICY programs_update ON programs FOR UPDATE
    USING ((SELECT current_actor_role()) = 'admin' OR coach_id = (SELECT current_actor()))
    WITH CHECK ((SELECT current_actor_role()) = 'admin' OR coach_id = (SELECT current_actor()));

ALTER TABLE program_enrolments ENABLE ROW LEVEL SECURITY;
CREATE POLICY program_enrolments_read ON program_enrolments FOR SELECT USING (
    (SELECT current_actor_role()) = 'admin'
    OR coach_id = (SELECT current_actor()) OR member_id = (SELECT current_actor()));
CREATE POLICY program_enrolments_insert ON program_enrolments FOR INSERT WITH CHECK (
    (SELECT current_actor_role()) = 'admin' OR coach_id = (SELECT current_actor()));
CREATE POLICY program_enrolments_update ON program_enrolments FOR UPDATE
    USING ((SELECT current_actor_role()) = 'admin'
           OR coach_id = (SELECT current_actor()) OR member_id = (SELECT current_actor()))
    WITH CHECK ((SELECT current_actor_role()) = 'admin'
           OR coach_id = (SELECT current_actor()) OR member_id = (SELECT current_actor()));

ALTER TABLE insights ENABLE ROW LEVEL SECURITY;
CREATE POLICY insights_read ON insights FOR SELECT USING (
    (SELECT current_actor_role()) = 'admin'
    OR coach_id = (SELECT current_actor()) OR member_id = (SELECT current_actor()));
CREATE POLICY insights_insert ON insights FOR INSERT WITH CHECK (
    (SELECT current_actor_role()) = 'admin'
    OR (coach_id = (SELECT current_actor()) AND member_id IN (SELECT actor_member_ids())));
CREATE POLICY insights_ack ON insights FOR UPDATE
    USING ((SELECT current_actor_role()) = 'admin' OR member_id = (SELECT current_actor()))
    WITH CHECK ((SELECT current_actor_role()) = 'admin' OR member_id = (SELECT current_actor()));

-- Trigger functions and the series check decide on rows the login may
-- not read: they run as their owner.
ALTER FUNCTION series_conflicts(uuid, uuid, jsonb, uuid) SECURITY DEFINER;
ALTER FUNCTION program_enrolments_queue_notices() SECURITY DEFINER;
ALTER FUNCTION sessions_complete_enrolment() SECURITY DEFINER;
ALTER FUNCTION program_enrolments_guard_actor() SECURITY DEFINER;
ALTER FUNCTION insights_queue_notice() SECURITY DEFINER;
DO $do$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['series_conflicts(uuid, uuid, jsonb, uuid)',
                             'program_enrolments_queue_notices()',
                             'sessions_complete_enrolment()',
                             'program_enrolments_guard_actor()', 'insights_queue_notice()']
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f, current_schema());
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$do$;

CREATE FUNCTION identity_grants_programs(p text) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('GRANT SELECT, INSERT, UPDATE ON programs, program_enrolments, insights TO %I',
                   p || '_admin');
    EXECUTE format('GRANT SELECT, INSERT, UPDATE ON programs, program_enrolments TO %I',
                   p || '_coach');
    EXECUTE format('GRANT SELECT, INSERT ON insights TO %I', p || '_coach');
    EXECUTE format('GRANT SELECT ON programs, program_enrolments, insights TO %I', p || '_member');
    EXECUTE format('GRANT UPDATE (status, responded_at, updated_at) ON program_enrolments TO %I',
                   p || '_member');
    EXECUTE format('GRANT UPDATE (read_at, response) ON insights TO %I', p || '_member');
    EXECUTE format('GRANT UPDATE (enrolment_id) ON sessions TO %I, %I', p || '_coach', p || '_admin');
    EXECUTE format('GRANT EXECUTE ON FUNCTION series_conflicts(uuid, uuid, jsonb, uuid) TO %I, %I',
                   p || '_admin', p || '_coach');
    -- the member's column list of sessions was made before enrolment_id existed
    EXECUTE format('GRANT SELECT (enrolment_id) ON sessions TO %I, %I',
                   p || '_member', p || '_notifier');
END
$$;

SELECT identity_install();
