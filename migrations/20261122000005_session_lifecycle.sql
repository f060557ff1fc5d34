-- The session lifecycle (DESIGN.md "Sessions"): proposals that hold a seat
-- until they expire, consent, completion, notes and ratings.
--
--   proposed -> scheduled | declined | expired
--   scheduled -> completed | cancelled
--
-- A proposal holds its seat like a scheduled session. Time passes without a
-- write, so the database makes expiry true where it matters: every write
-- that takes a seat of a coach, or changes their schedule, first turns the
-- coach's overdue proposals into `expired` (under the coach's lock), and
-- readers treat an overdue proposal as free.

ALTER TABLE sessions
    DROP CONSTRAINT sessions_status_valid,
    ADD CONSTRAINT sessions_status_valid
        CHECK (status IN ('proposed', 'scheduled', 'declined', 'expired', 'completed', 'cancelled')),
    ADD COLUMN expires_at timestamptz,
    ADD COLUMN proposed_by uuid REFERENCES users (id) ON DELETE SET NULL,
    ADD COLUMN responded_at timestamptz,
    ADD COLUMN decline_reason text,
    ADD COLUMN outcomes text,
    ADD CONSTRAINT sessions_proposal_expires
        CHECK (status <> 'proposed' OR (expires_at IS NOT NULL AND expires_at <= starts_at));

CREATE OR REPLACE FUNCTION session_holds_seat(status text) RETURNS boolean
    LANGUAGE sql IMMUTABLE AS $$ SELECT status IN ('scheduled', 'proposed') $$;

DROP INDEX sessions_member_once_per_start;
CREATE UNIQUE INDEX sessions_member_once_per_start ON sessions (member_id, starts_at)
    WHERE status IN ('scheduled', 'proposed');

-- The slot counter counts every seat-holding session.
CREATE OR REPLACE FUNCTION sessions_keep_slot_count() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
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

-- What decides a slot is the coach's seat-holding sessions near it; this
-- index skips a long history of completed and cancelled ones.
CREATE INDEX sessions_seated_coach_start_idx ON sessions (coach_id, starts_at)
    WHERE status IN ('scheduled', 'proposed');

-- Every seat-taking write looks for a coach's overdue proposals: an index
-- on just the open ones keeps that independent of the coach's history.
CREATE INDEX sessions_open_proposals_idx ON sessions (coach_id, expires_at)
    WHERE status = 'proposed';

-- Overdue proposals of a coach give their seats back (all but `keep`, the
-- row a trigger is deciding on). Called under the coach's lock, before
-- anything decides on seats.
CREATE FUNCTION expire_proposals(coach uuid, keep uuid) RETURNS void
    LANGUAGE sql AS $$
    UPDATE sessions SET status = 'expired', updated_at = now()
    WHERE coach_id = coach AND status = 'proposed' AND expires_at <= now()
      AND id IS DISTINCT FROM keep
$$;

CREATE OR REPLACE FUNCTION lock_coach_schedule(coach uuid, keep uuid DEFAULT NULL) RETURNS void
    LANGUAGE sql AS $$
    UPDATE coach_profiles SET schedule_version = schedule_version + 1 WHERE user_id = coach;
    SELECT expire_proposals(coach, keep);
$$;

-- An overdue proposal takes no seat and can no longer be accepted.
CREATE FUNCTION sessions_refuse_overdue_proposal() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.status = 'proposed' AND NEW.expires_at <= now())
       OR (TG_OP = 'UPDATE' AND OLD.status = 'proposed' AND NEW.status = 'scheduled'
           AND OLD.expires_at <= now()) THEN
        RAISE EXCEPTION 'proposal % has expired', NEW.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'sessions_proposal_not_expired';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER sessions_refuse_overdue_proposal
    BEFORE INSERT OR UPDATE OF status, expires_at ON sessions
    FOR EACH ROW EXECUTE FUNCTION sessions_refuse_overdue_proposal();

-- Note entries: `private` is the coach's (the session's coach and admins
-- read it); `shared` is read by the member, their coach and admins.
CREATE TABLE session_notes (
    id           uuid PRIMARY KEY,
    session_id   uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    author_id    uuid REFERENCES users (id) ON DELETE SET NULL,
    author_label text NOT NULL,
    visibility   text NOT NULL,
    body         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT session_notes_visibility_valid CHECK (visibility IN ('private', 'shared')),
    CONSTRAINT session_notes_not_blank CHECK (length(btrim(body)) > 0)
);
CREATE INDEX session_notes_session_idx ON session_notes (session_id, created_at);

-- One rating per session, by its member, once it is completed.
CREATE TABLE session_ratings (
    session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    member_id   uuid NOT NULL REFERENCES member_profiles (user_id),
    coach_id    uuid NOT NULL REFERENCES coach_profiles (user_id),
    rating      smallint NOT NULL,
    feedback    text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT session_ratings_once PRIMARY KEY (session_id),
    CONSTRAINT session_ratings_range CHECK (rating BETWEEN 1 AND 5)
);
CREATE INDEX session_ratings_coach_idx ON session_ratings (coach_id);

-- The database refuses a rating of a session that is not completed, or by
-- anyone but its member.
CREATE FUNCTION session_ratings_check() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM sessions s
                   WHERE s.id = NEW.session_id AND s.status = 'completed'
                     AND s.member_id = NEW.member_id AND s.coach_id = NEW.coach_id) THEN
        RAISE EXCEPTION 'session % is not a completed session of member %', NEW.session_id, NEW.member_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'session_ratings_completed_own';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER session_ratings_check
    BEFORE INSERT OR UPDATE ON session_ratings
    FOR EACH ROW EXECUTE FUNCTION session_ratings_check();

-- `slots --watch`: a change to a coach's seats or schedule notifies
-- listeners on channel `coachctl_slots` with the coach's id; PostgreSQL
-- delivers it when (and only if) the change commits. A transaction that
-- notified takes a database-wide lock at commit, which would serialise every
-- booker, so only coaches someone watches are notified: a watcher registers
-- its session here, and clears its row (or the next watcher clears rows of
-- sessions that are gone).
CREATE TABLE slot_watchers (
    coach_id  uuid NOT NULL REFERENCES coach_profiles (user_id) ON DELETE CASCADE,
    pid       integer NOT NULL,
    since     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT slot_watchers_pkey PRIMARY KEY (coach_id, pid)
);

CREATE FUNCTION notify_slots_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    coach uuid;
BEGIN
    IF TG_OP = 'DELETE' THEN
        coach := OLD.coach_id;
    ELSE
        coach := NEW.coach_id;
    END IF;
    IF EXISTS (SELECT 1 FROM slot_watchers w WHERE w.coach_id = coach) THEN
        PERFORM pg_notify('coachctl_slots', coach::text);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER sessions_notify_slots
    AFTER INSERT OR UPDATE OF status, starts_at, ends_at OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION notify_slots_changed();
CREATE TRIGGER availability_windows_notify_slots
    AFTER INSERT OR UPDATE OR DELETE ON availability_windows
    FOR EACH ROW EXECUTE FUNCTION notify_slots_changed();
CREATE TRIGGER availability_blocks_notify_slots
    AFTER INSERT OR UPDATE OR DELETE ON availability_blocks
    FOR EACH ROW EXECUTE FUNCTION notify_slots_changed();
