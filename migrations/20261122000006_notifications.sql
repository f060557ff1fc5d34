-- The email outbox (issue 9). Every notified event is queued by a trigger on
-- the row that changed, so it is written in the same transaction as the
-- change whatever path wrote it (library, raw SQL), never for a change that
-- rolled back, and at most once per (event, recipient): `dedupe_key` names
-- the event occurrence (e.g. `session.cancelled:<session>:<sequence>`).
-- `notify send` claims due rows with FOR UPDATE SKIP LOCKED and a lease,
-- sends outside the claiming transaction and marks them sent; the
-- Message-ID is fixed at queue time, so a resend after a crash is
-- recognisable as the same message.

CREATE TABLE outbox (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event            text NOT NULL,
    dedupe_key       text NOT NULL,
    recipient_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id       uuid REFERENCES sessions (id) ON DELETE CASCADE,
    payload          jsonb NOT NULL DEFAULT '{}',
    status           text NOT NULL DEFAULT 'queued',
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    lease_until      timestamptz,
    message_id       text NOT NULL,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    CONSTRAINT outbox_event_known CHECK (event IN (
        'session.confirmed', 'session.proposed', 'session.accepted', 'session.declined',
        'session.rescheduled', 'session.cancelled', 'session.completed',
        'booking.rejected', 'member.assigned', 'reminder.24h', 'reminder.1h',
        'invitation', 'connection.requested', 'connection.answered', 'message')),
    CONSTRAINT outbox_status_known CHECK (status IN ('queued', 'sent', 'failed', 'skipped')),
    CONSTRAINT outbox_sent_stamped CHECK ((status = 'sent') = (sent_at IS NOT NULL)),
    CONSTRAINT outbox_attempts_valid CHECK (attempts >= 0),
    CONSTRAINT outbox_once_per_recipient UNIQUE (dedupe_key, recipient_id),
    CONSTRAINT outbox_message_id_unique UNIQUE (message_id)
);
-- what `notify send` claims next
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at) WHERE status = 'queued';
CREATE INDEX outbox_session_idx ON outbox (session_id);

-- Queue one notice; a second with the same key for the same recipient is
-- the same notice and is dropped.
CREATE FUNCTION queue_notice(ev text, key text, recipient uuid, session uuid, body jsonb)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO outbox (event, dedupe_key, recipient_id, session_id, payload, message_id)
    VALUES (ev, key, recipient, session, body,
            '<' || gen_random_uuid() || '@coachctl>')
    ON CONFLICT ON CONSTRAINT outbox_once_per_recipient DO NOTHING
$$;

-- What a session notice says, as of the change: who, when, why.
CREATE FUNCTION session_notice_body(s sessions) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'session_id', s.id, 'start', s.starts_at, 'end', s.ends_at, 'sequence', s.sequence,
        'status', s.status, 'reason', coalesce(s.cancellation_reason, s.decline_reason),
        'coach_name', c.name, 'coach_email', c.email,
        'member_name', m.name, 'member_email', m.email)
    FROM users c, users m WHERE c.id = s.coach_id AND m.id = s.member_id
$$;

CREATE FUNCTION sessions_queue_notices() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    body jsonb;
    ev text;
    to_coach boolean := false;
    to_member boolean := false;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status = 'scheduled' THEN
            ev := 'session.confirmed'; to_coach := true; to_member := true;
        ELSIF NEW.status = 'proposed' THEN
            ev := 'session.proposed'; to_coach := true; to_member := true;
        END IF;
    ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
        CASE NEW.status
            WHEN 'scheduled' THEN ev := 'session.accepted'; to_coach := true;
            WHEN 'declined' THEN ev := 'session.declined'; to_coach := true;
            WHEN 'cancelled' THEN ev := 'session.cancelled'; to_coach := true; to_member := true;
            -- the member's is their rating prompt
            WHEN 'completed' THEN ev := 'session.completed'; to_coach := true; to_member := true;
            ELSE NULL;
        END CASE;
    ELSIF NEW.starts_at IS DISTINCT FROM OLD.starts_at
          AND NEW.status IN ('scheduled', 'proposed') THEN
        ev := 'session.rescheduled'; to_coach := true; to_member := true;
    END IF;
    IF ev IS NULL THEN
        RETURN NULL;
    END IF;
    body := session_notice_body(NEW);
    IF to_member THEN
        PERFORM queue_notice(ev, ev || ':' || NEW.id || ':' || NEW.sequence, NEW.member_id, NEW.id, body);
    END IF;
    IF to_coach THEN
        PERFORM queue_notice(ev, ev || ':' || NEW.id || ':' || NEW.sequence, NEW.coach_id, NEW.id, body);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER sessions_queue_notices
    AFTER INSERT OR UPDATE OF status, starts_at ON sessions
    FOR EACH ROW EXECUTE FUNCTION sessions_queue_notices();

-- A refused booking tells the member why.
CREATE FUNCTION bookings_queue_rejection() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM queue_notice('booking.rejected', 'booking.rejected:' || NEW.id, NEW.member_id, NULL,
        (SELECT jsonb_build_object(
            'booking_id', NEW.id, 'start', NEW.starts_at, 'reason', NEW.rejection_reason,
            'coach_name', c.name, 'coach_email', c.email,
            'member_name', m.name, 'member_email', m.email)
         FROM users c, users m WHERE c.id = NEW.coach_id AND m.id = NEW.member_id));
    RETURN NULL;
END $$;

CREATE TRIGGER bookings_queue_rejection
    AFTER INSERT ON bookings
    FOR EACH ROW WHEN (NEW.status = 'rejected')
    EXECUTE FUNCTION bookings_queue_rejection();

-- A coach learns of each member assigned to them.
CREATE FUNCTION member_profiles_queue_assignment() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.coach_id IS NOT NULL
       AND (TG_OP = 'INSERT' OR NEW.coach_id IS DISTINCT FROM OLD.coach_id) THEN
        PERFORM queue_notice('member.assigned',
            'member.assigned:' || NEW.user_id || ':' || NEW.coach_id || ':' || now(),
            NEW.coach_id, NULL,
            (SELECT jsonb_build_object(
                'member_name', m.name, 'member_email', m.email,
                'coach_name', c.name, 'coach_email', c.email)
             FROM users c, users m WHERE c.id = NEW.coach_id AND m.id = NEW.user_id));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER member_profiles_queue_assignment
    AFTER INSERT OR UPDATE OF coach_id ON member_profiles
    FOR EACH ROW EXECUTE FUNCTION member_profiles_queue_assignment();
