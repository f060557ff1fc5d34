-- Notices of the relationship events (issue 10 over issue 9's outbox): a
-- connection request to the other side, its answer to the one who asked, a
-- new message to the other participant, an invitation to an invitee who is
-- already a user (the code itself is never stored, so the email says to use
-- the code the coach gave). Queued by triggers in the changing transaction,
-- once per occurrence, like every other notice.

CREATE FUNCTION connections_queue_notices() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    asker uuid := NEW.requested_by;
    other uuid := CASE WHEN NEW.requested_by = NEW.coach_id THEN NEW.member_id ELSE NEW.coach_id END;
BEGIN
    IF TG_OP = 'INSERT' AND NEW.status = 'pending' THEN
        PERFORM queue_notice('connection.requested', 'connection.requested:' || NEW.id, other, NULL,
            jsonb_build_object('from_name', (SELECT name FROM users WHERE id = asker),
                               'area', NEW.area, 'text', NEW.message));
    ELSIF TG_OP = 'UPDATE' AND OLD.status = 'pending' AND NEW.status IN ('accepted', 'declined') THEN
        PERFORM queue_notice('connection.answered', 'connection.answered:' || NEW.id, asker, NULL,
            jsonb_build_object('from_name', (SELECT name FROM users WHERE id = other),
                               'status', NEW.status, 'area', NEW.area));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER connections_queue_notices
    AFTER INSERT OR UPDATE OF status ON connections
    FOR EACH ROW EXECUTE FUNCTION connections_queue_notices();

CREATE FUNCTION messages_queue_notice() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM queue_notice('message', 'message:' || NEW.id,
        CASE WHEN c.coach_id = NEW.sender_id THEN c.member_id ELSE c.coach_id END, NULL,
        jsonb_build_object('from_name', (SELECT name FROM users WHERE id = NEW.sender_id),
                           'text', NEW.body))
    FROM conversations c WHERE c.id = NEW.conversation_id;
    RETURN NULL;
END $$;

CREATE TRIGGER messages_queue_notice
    AFTER INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION messages_queue_notice();

CREATE FUNCTION invitations_queue_notice() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM queue_notice('invitation', 'invitation:' || NEW.id, u.id, NULL,
        jsonb_build_object('coach_name', c.name, 'coach_email', c.email))
    FROM users u, users c
    WHERE email_key(u.email) = email_key(NEW.email) AND c.id = NEW.coach_id;
    RETURN NULL;
END $$;

CREATE TRIGGER invitations_queue_notice
    AFTER INSERT ON invitations
    FOR EACH ROW EXECUTE FUNCTION invitations_queue_notice();
