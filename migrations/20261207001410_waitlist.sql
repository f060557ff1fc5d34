-- The waitlist (issue 20, item 2; docs/design/identity.md "Seats", 4).
--
-- `book --waitlist` on a full slot queues the member for that (coach,
-- start). When a seat of the slot frees, whatever freed it (cancel,
-- decline, expiry, a move away, a delete, a capacity raise), the slot
-- counter's row shows one more free seat, and the trigger on it offers the
-- seat to the first eligible waiter in join order, in the same
-- transaction: an `offer`, a proposed session that holds the seat until
-- the coach's `waitlist_offer_minutes` pass (never past the start minus the
-- notice). Declining or letting it expire frees the seat again, and so
-- moves it down the line. Every offer is written through the ordinary seat
-- guard, inside its own subtransaction: a waiter the guard refuses (a
-- limit, a seat at that time) is skipped, the next one tried.

ALTER TABLE coach_profiles
    ADD COLUMN waitlist_offer_minutes integer NOT NULL DEFAULT 120,
    ADD CONSTRAINT coach_profiles_waitlist_offer_valid
        CHECK (waitlist_offer_minutes BETWEEN 1 AND 525600);

CREATE TABLE waitlist (
    id            uuid PRIMARY KEY,
    coach_id      uuid NOT NULL REFERENCES coach_profiles (user_id) ON DELETE CASCADE,
    member_id     uuid NOT NULL REFERENCES member_profiles (user_id) ON DELETE CASCADE,
    starts_at     timestamptz NOT NULL,
    ends_at       timestamptz NOT NULL,
    session_type  text NOT NULL DEFAULT 'regular',
    -- join order (FIFO): the order entries were written under the coach lock
    seq           bigint GENERATED ALWAYS AS IDENTITY,
    joined_at     timestamptz NOT NULL DEFAULT now(),
    status        text NOT NULL DEFAULT 'waiting',
    offer_id      uuid REFERENCES sessions (id) ON DELETE SET NULL,
    offered_at    timestamptz,
    closed_at     timestamptz,
    CONSTRAINT waitlist_status_valid
        CHECK (status IN ('waiting', 'offered', 'booked', 'declined', 'expired', 'left')),
    CONSTRAINT waitlist_offered_has_offer CHECK (status <> 'offered' OR offer_id IS NOT NULL),
    CONSTRAINT waitlist_time_valid CHECK (ends_at > starts_at),
    CONSTRAINT waitlist_type_valid CHECK (session_type IN ('initial', 'regular', 'followup'))
);
-- one open place per member and slot
CREATE UNIQUE INDEX waitlist_once_per_slot ON waitlist (member_id, coach_id, starts_at)
    WHERE status IN ('waiting', 'offered');
CREATE INDEX waitlist_queue_idx ON waitlist (coach_id, starts_at, seq)
    WHERE status IN ('waiting', 'offered');
CREATE INDEX waitlist_offer_idx ON waitlist (offer_id) WHERE offer_id IS NOT NULL;
CREATE INDEX waitlist_member_idx ON waitlist (member_id, starts_at);

-- Offer the free seats of a slot to its waiters, first come first served.
-- Each offer's INSERT takes the coach lock in the seat guard (a release
-- with waiters took it already), and the waiters' rows are locked, so two
-- transactions never offer one place. Returns how many offers it made.
CREATE FUNCTION offer_free_seats(coach uuid, start timestamptz) RETURNS integer
    LANGUAGE plpgsql AS $$
DECLARE
    p coach_profiles;
    tz text;
    free integer;
    e waitlist;
    sid uuid;
    made integer := 0;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM waitlist w WHERE w.coach_id = coach AND w.starts_at = start
                   AND w.status = 'waiting') THEN
        RETURN 0;
    END IF;
    SELECT * INTO p FROM coach_profiles WHERE user_id = coach;
    -- too late to offer: no proposal may outlive start minus notice
    IF start - make_interval(mins => p.min_notice_minutes) <= now() THEN
        RETURN 0;
    END IF;
    SELECT timezone INTO tz FROM users WHERE id = coach;
    FOR e IN SELECT * FROM waitlist w
             WHERE w.coach_id = coach AND w.starts_at = start AND w.status = 'waiting'
             ORDER BY w.seq
             FOR UPDATE
    LOOP
        SELECT coalesce((containing_window(coach, tz, e.starts_at, e.ends_at)).capacity, 1)
               - coalesce((SELECT sl.booked FROM slots sl
                           WHERE sl.coach_id = coach AND sl.starts_at = start), 0)
        INTO free;
        EXIT WHEN free <= 0;
        -- a seat of the member's elsewhere at that time: not theirs to take
        CONTINUE WHEN EXISTS (
            SELECT 1 FROM sessions s
            WHERE s.member_id = e.member_id AND s.status IN ('scheduled', 'proposed')
              AND (s.status = 'scheduled' OR s.expires_at > now())
              AND s.starts_at < e.ends_at AND s.ends_at > e.starts_at
              AND s.starts_at > e.starts_at - interval '1 day');
        sid := gen_random_uuid();
        BEGIN
            INSERT INTO sessions (id, coach_id, member_id, starts_at, ends_at, session_type,
                                  status, expires_at)
            VALUES (sid, coach, e.member_id, e.starts_at, e.ends_at, e.session_type, 'proposed',
                    least(now() + make_interval(mins => p.waitlist_offer_minutes),
                          e.starts_at - make_interval(mins => p.min_notice_minutes)));
            UPDATE waitlist SET status = 'offered', offer_id = sid, offered_at = now()
            WHERE id = e.id;
            made := made + 1;
        EXCEPTION WHEN integrity_constraint_violation THEN
            -- refused by the guard (a limit, a seat at that start, a clash): next in line
            NULL;
        END;
    END LOOP;
    RETURN made;
END
$$;

-- Join a slot's queue (`book --waitlist`), under the coach lock and with
-- the slot counter's row locked, so that a seat released at the same
-- moment is either seen free here (NULL: book it instead) or offered to
-- this entry once it is committed. Returns the place in the queue.
CREATE FUNCTION waitlist_join(entry uuid, coach uuid, member uuid, start timestamptz,
                              ends timestamptz, kind text)
    RETURNS bigint
    LANGUAGE plpgsql AS $$
DECLARE
    tz text;
    cap integer;
    taken integer;
    mine bigint;
BEGIN
    IF current_actor_role() NOT IN ('owner', 'admin') AND member IS DISTINCT FROM current_actor() THEN
        RAISE EXCEPTION 'only the member or an admin puts a member on a waitlist'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM lock_coach_schedule(coach);
    SELECT timezone INTO tz FROM users WHERE id = coach;
    cap := coalesce((containing_window(coach, tz, start, ends)).capacity, 1);
    SELECT sl.booked INTO taken FROM slots sl
    WHERE sl.coach_id = coach AND sl.starts_at = start FOR UPDATE;
    IF coalesce(taken, 0) < cap THEN
        RETURN NULL;
    END IF;
    IF EXISTS (SELECT 1 FROM sessions s WHERE s.member_id = member AND s.starts_at = start
               AND s.status IN ('scheduled', 'proposed')) THEN
        RAISE EXCEPTION 'member % already has a seat at %', member, start
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'sessions_member_once_per_start';
    END IF;
    INSERT INTO waitlist (id, coach_id, member_id, starts_at, ends_at, session_type)
    VALUES (entry, coach, member, start, ends, kind)
    RETURNING seq INTO mine;
    RETURN (SELECT count(*) FROM waitlist w
            WHERE w.coach_id = coach AND w.starts_at = start AND w.status = 'waiting'
              AND w.seq <= mine);
END
$$;

-- The slot counter of migration 000005, with one change: a session that
-- keeps its seat in the same slot (a proposal accepted) no longer counts
-- down and up again, which would show a free seat for a moment and offer
-- it to a waiter.
CREATE OR REPLACE FUNCTION sessions_keep_slot_count() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND session_holds_seat(OLD.status) AND session_holds_seat(NEW.status)
       AND OLD.coach_id = NEW.coach_id AND OLD.starts_at = NEW.starts_at THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') AND session_holds_seat(OLD.status) THEN
        UPDATE slots SET booked = booked - 1
            WHERE coach_id = OLD.coach_id AND starts_at = OLD.starts_at;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND session_holds_seat(NEW.status) THEN
        INSERT INTO slots AS s (coach_id, starts_at, capacity, booked)
            VALUES (NEW.coach_id, NEW.starts_at, NEW.slot_capacity, 1)
        ON CONFLICT (coach_id, starts_at)
            DO UPDATE SET booked = s.booked + 1, capacity = EXCLUDED.capacity;
    END IF;
    RETURN NULL;
END
$$;

-- One more free seat in a slot (a seat released, the capacity raised):
-- offer it.
CREATE FUNCTION slots_offer_freed_seat() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM offer_free_seats(NEW.coach_id, NEW.starts_at);
    RETURN NULL;
END
$$;

CREATE TRIGGER slots_offer_freed_seat
    AFTER UPDATE OF booked, capacity ON slots
    FOR EACH ROW WHEN (NEW.capacity - NEW.booked > OLD.capacity - OLD.booked)
    EXECUTE FUNCTION slots_offer_freed_seat();

-- An offer answered (accepted, declined, expired, cancelled) closes its entry.
CREATE FUNCTION sessions_settle_offer() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    UPDATE waitlist SET
        status = CASE NEW.status WHEN 'scheduled' THEN 'booked'
                                 WHEN 'expired' THEN 'expired'
                                 ELSE 'declined' END,
        closed_at = now()
    WHERE offer_id = NEW.id AND status = 'offered';
    RETURN NULL;
END
$$;

CREATE TRIGGER sessions_settle_offer
    AFTER UPDATE OF status ON sessions
    FOR EACH ROW WHEN (OLD.status = 'proposed' AND NEW.status <> 'proposed')
    EXECUTE FUNCTION sessions_settle_offer();

-- A seat released while its slot has waiters: take the coach lock before
-- the slot counter's row lock, in the order every seat writer takes them,
-- so that the offer made after the release cannot deadlock with a booker.
-- (The rest is the guard of migration 001400, unchanged.)
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
        IF TG_OP = 'UPDATE' AND session_holds_seat(OLD.status)
           AND EXISTS (SELECT 1 FROM waitlist q WHERE q.coach_id = OLD.coach_id
                       AND q.starts_at = OLD.starts_at AND q.status = 'waiting') THEN
            PERFORM lock_coach_schedule(OLD.coach_id, NEW.id);
        END IF;
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

ALTER TABLE waitlist ENABLE ROW LEVEL SECURITY;
CREATE POLICY waitlist_read ON waitlist FOR SELECT USING (
    (SELECT current_actor_role()) = 'admin'
    OR member_id = (SELECT current_actor())
    OR coach_id = (SELECT current_actor()));
CREATE POLICY waitlist_join ON waitlist FOR INSERT WITH CHECK (
    (SELECT current_actor_role()) = 'admin' OR member_id = (SELECT current_actor()));
CREATE POLICY waitlist_leave ON waitlist FOR UPDATE
    USING ((SELECT current_actor_role()) = 'admin'
           OR member_id = (SELECT current_actor())
           OR coach_id = (SELECT current_actor()))
    WITH CHECK ((SELECT current_actor_role()) = 'admin'
           OR member_id = (SELECT current_actor())
           OR coach_id = (SELECT current_actor()));

DO $do$
DECLARE
    f regprocedure;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'offer_free_seats(uuid, timestamptz)'::regprocedure,
        'waitlist_join(uuid, uuid, uuid, timestamptz, timestamptz, text)'::regprocedure,
        'slots_offer_freed_seat()'::regprocedure,
        'sessions_settle_offer()'::regprocedure,
        'sessions_keep_slot_count()'::regprocedure,
        'sessions_guard_schedule()'::regprocedure]
    LOOP
        EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = %I, pg_temp',
                       f, current_schema());
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$do$;

CREATE FUNCTION identity_grants_waitlist(p text) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('GRANT SELECT, INSERT, UPDATE ON waitlist TO %I', p || '_admin');
    EXECUTE format('GRANT EXECUTE ON FUNCTION
                    waitlist_join(uuid, uuid, uuid, timestamptz, timestamptz, text) TO %I, %I',
                   p || '_admin', p || '_member');
    EXECUTE format('GRANT SELECT, INSERT, UPDATE (status, closed_at) ON waitlist TO %I',
                   p || '_member');
    EXECUTE format('GRANT SELECT, UPDATE (status, closed_at) ON waitlist TO %I', p || '_coach');
    EXECUTE format('GRANT UPDATE (waitlist_offer_minutes) ON coach_profiles TO %I',
                   p || '_coach');
END
$$;
SELECT identity_install();
