-- Transitions a login may not make (issue 17, item 4; docs/design/identity.md
-- §3). Row policies decide which rows a login touches and column grants
-- which columns; what they cannot say is "from which state to which, and in
-- whose name". These BEFORE triggers compare OLD and NEW under
-- current_actor_role() for the coach and member logins. They skip:
-- - the owner (the operator, the embedded default, migrations): the library
--   has already decided, as it always did;
-- - admins: an admin's login may do anything the library lets an admin do;
-- - writes made by other triggers (pg_trigger_depth() > 1): those are the
--   schema's own consequences (expiry, waitlist offers), not the client's
--   statement.
-- A refusal is `insufficient_privilege` naming the rule, and changes nothing.

CREATE FUNCTION identity_refuse(rule text) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', rule USING ERRCODE = 'insufficient_privilege';
END
$$;

-- True when the statement comes from a person's login (coach or member)
-- directly, not from the owner, an admin or another trigger.
CREATE FUNCTION identity_person_statement() RETURNS boolean
    LANGUAGE sql STABLE AS $$
    SELECT current_actor_role() IN ('coach', 'member', 'none') AND pg_trigger_depth() <= 1
$$;

-- Sessions: a booking by a member is scheduled at once, a coach's session
-- is a proposal; either only between a member and their assigned or
-- connected coach. Afterwards: completed, cancelled, declined and expired
-- are final; only the member answers a proposal; only a coach completes;
-- whoever cancels is recorded as themselves; a member cannot take a
-- session off the grid (out of the windows) nor stretch a proposal.
CREATE FUNCTION sessions_actor_guard() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    role text := current_actor_role();
    me uuid := current_actor();
BEGIN
    IF NOT identity_person_statement() THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.completed_at IS NOT NULL OR NEW.cancelled_at IS NOT NULL
           OR NEW.responded_at IS NOT NULL
           OR NEW.status <> (CASE role WHEN 'member' THEN 'scheduled' ELSE 'proposed' END) THEN
            PERFORM identity_refuse(format(
                'a %s''s login creates sessions only as %s', role,
                CASE role WHEN 'member' THEN 'scheduled bookings' ELSE 'proposals' END));
        END IF;
        IF role = 'member' AND NEW.off_grid THEN
            PERFORM identity_refuse('a member''s login books only inside the coach''s availability');
        END IF;
        IF NOT EXISTS (
            SELECT 1 FROM member_profiles m
            WHERE m.user_id = NEW.member_id AND m.coach_id = NEW.coach_id
            UNION ALL
            SELECT 1 FROM connections c
            WHERE c.member_id = NEW.member_id AND c.coach_id = NEW.coach_id
              AND c.status = 'accepted') THEN
            PERFORM identity_refuse(
                'a session needs the member assigned to or connected with the coach');
        END IF;
        RETURN NEW;
    END IF;

    IF NEW.status <> OLD.status THEN
        IF OLD.status IN ('completed', 'cancelled', 'declined', 'expired') THEN
            PERFORM identity_refuse(format('a %s session stays %s', OLD.status, OLD.status));
        END IF;
        IF OLD.status = 'proposed' AND NEW.status IN ('scheduled', 'declined')
           AND me IS DISTINCT FROM OLD.member_id THEN
            PERFORM identity_refuse('only the member answers a proposal');
        END IF;
        IF NEW.status = 'completed' AND role <> 'coach' THEN
            PERFORM identity_refuse('only the coach completes a session');
        END IF;
        IF NEW.status = 'cancelled' AND NEW.cancelled_by IS DISTINCT FROM me THEN
            PERFORM identity_refuse('a cancellation is recorded in the canceller''s own name');
        END IF;
    ELSIF NEW.cancelled_by IS DISTINCT FROM OLD.cancelled_by THEN
        PERFORM identity_refuse('a cancellation is recorded in the canceller''s own name');
    END IF;
    IF role = 'member' AND (NEW.off_grid IS DISTINCT FROM OLD.off_grid
                            OR NEW.expires_at IS DISTINCT FROM OLD.expires_at) THEN
        PERFORM identity_refuse('a member''s login cannot move a session off the grid or extend a proposal');
    END IF;
    RETURN NEW;
END
$$;
-- Named to sort before sessions_guard_schedule: refuse before seats move.
CREATE TRIGGER sessions_actor_guard
    BEFORE INSERT OR UPDATE ON sessions
    FOR EACH ROW EXECUTE FUNCTION sessions_actor_guard();

-- Connections: a login requests (pending, in its own name); only the side
-- that was asked answers, in its own name; declined and removed are final.
-- An accepted connection is inserted directly only by a member redeeming
-- their coach's invitation (the code stands for the coach's consent).
CREATE FUNCTION connections_actor_guard() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    me uuid := current_actor();
BEGIN
    IF NOT identity_person_statement() THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.removed_at IS NOT NULL OR NEW.removed_by IS NOT NULL THEN
            PERFORM identity_refuse('a new connection is not removed');
        END IF;
        IF NEW.status = 'pending' AND NEW.answered_at IS NULL AND NEW.answered_by IS NULL THEN
            RETURN NEW;
        END IF;
        IF NEW.status = 'accepted' AND NEW.member_id = me AND NEW.answered_by = me
           AND NEW.requested_by = NEW.coach_id
           AND EXISTS (SELECT 1 FROM invitations i, users u
                       WHERE u.id = me AND i.coach_id = NEW.coach_id
                         AND email_key(i.email) = email_key(u.email)
                         AND i.status = 'accepted') THEN
            RETURN NEW;
        END IF;
        PERFORM identity_refuse('a login requests a connection; the other side answers it');
    END IF;

    IF NEW.status <> OLD.status THEN
        IF OLD.status IN ('declined', 'removed') THEN
            PERFORM identity_refuse(format('a %s connection stays %s', OLD.status, OLD.status));
        END IF;
        IF NEW.status IN ('accepted', 'declined') AND (
               OLD.status <> 'pending' OR OLD.requested_by = me
               OR NEW.answered_by IS DISTINCT FROM me) THEN
            PERFORM identity_refuse('only the side that was asked answers a connection, in its own name');
        END IF;
        IF NEW.status = 'removed' AND NEW.removed_by IS DISTINCT FROM me THEN
            PERFORM identity_refuse('a removal is recorded in the remover''s own name');
        END IF;
    ELSIF NEW.answered_by IS DISTINCT FROM OLD.answered_by
          OR NEW.removed_by IS DISTINCT FROM OLD.removed_by THEN
        PERFORM identity_refuse('a connection''s answer is not rewritten');
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER connections_actor_guard
    BEFORE INSERT OR UPDATE ON connections
    FOR EACH ROW EXECUTE FUNCTION connections_actor_guard();

-- Invitations: the inviting coach may only revoke a pending one; accepting
-- and declining are the invitee's (through the code), and nothing else of
-- an invitation changes under a login.
CREATE FUNCTION invitations_actor_guard() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF NOT identity_person_statement() OR current_actor_role() <> 'coach' THEN
        RETURN NEW;
    END IF;
    IF NEW.status <> OLD.status AND NOT (OLD.status = 'pending' AND NEW.status = 'revoked') THEN
        PERFORM identity_refuse('a coach''s login may only revoke a pending invitation');
    END IF;
    IF (NEW.email, NEW.code_hash, NEW.assign, NEW.expires_at, NEW.created_at, NEW.created_by)
       IS DISTINCT FROM
       (OLD.email, OLD.code_hash, OLD.assign, OLD.expires_at, OLD.created_at, OLD.created_by) THEN
        PERFORM identity_refuse('an invitation is not rewritten after it is sent');
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER invitations_actor_guard
    BEFORE UPDATE ON invitations
    FOR EACH ROW EXECUTE FUNCTION invitations_actor_guard();

-- Counters kept by triggers are nobody's to write, an admin's login's
-- neither: member_count and schedule_version leave the admin's UPDATE.
CREATE FUNCTION identity_grants_transitions(p text) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('REVOKE UPDATE ON coach_profiles FROM %I', p || '_admin');
    EXECUTE format('GRANT UPDATE (%s) ON coach_profiles TO %I',
        identity_columns('coach_profiles', '{member_count,schedule_version}'), p || '_admin');
    EXECUTE format('REVOKE INSERT, UPDATE ON slots FROM %I', p || '_admin');
END
$$;

-- The same rules as the identity migration: definer triggers with a fixed
-- search_path, executable by no one but the owner.
DO $do$
DECLARE
    f regprocedure;
BEGIN
    FOREACH f IN ARRAY ARRAY['sessions_actor_guard()', 'connections_actor_guard()',
                             'invitations_actor_guard()']::regprocedure[] LOOP
        EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = %I, pg_temp',
                       f, current_schema());
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$do$;

SELECT identity_install();
