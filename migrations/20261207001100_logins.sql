-- Logins (issue 17): `login grant|list|revoke` make, list and drop the
-- PostgreSQL roles that people log in with (docs/design/identity.md §2).
-- The library never writes role DDL itself: it calls the definer functions
-- below, which run as the schema owner (who must be able to create roles).

-- 'owner' only for the schema owner (or a member of it) and superusers: a
-- role that is nobody's login here, such as a login of another coachctl
-- database on the same server, is 'none' and reads nothing (it used to be
-- taken for the owner, and member_private_fields() answered it in full).
CREATE OR REPLACE FUNCTION current_actor_role() RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER AS $$
    SELECT CASE
        WHEN l.role_name IS NULL AND (r.rolsuper OR pg_has_role(s.r, n.nspowner, 'USAGE'))
            THEN 'owner'
        WHEN l.role_name IS NULL THEN 'none'
        WHEN l.service IS NOT NULL THEN l.service
        WHEN u.active THEN u.role
        ELSE 'none'
    END
    FROM (SELECT session_user::name AS r) s
    JOIN pg_roles r ON r.rolname = s.r
    JOIN pg_namespace n ON n.nspname = current_schema()
    LEFT JOIN logins l ON l.role_name = s.r
    LEFT JOIN users u ON u.id = l.user_id
$$;

-- The login's name: `<prefix>_u_<8 hex of the user id>`, or `<prefix>_s_<service>`.
CREATE FUNCTION login_name(target uuid, svc text) RETURNS name
    LANGUAGE sql STABLE AS $$
    SELECT (SELECT group_prefix FROM identity_settings)
        || CASE WHEN target IS NULL THEN '_s_' || svc
                ELSE '_u_' || substr(replace(target::text, '-', ''), 1, 8) END
$$;

-- Make a login for a user (or for a service: `target` NULL, `svc` named).
-- `verifier` is a SCRAM-SHA-256 verifier computed by the client, so the
-- password itself never reaches the server. Refusals carry SQLSTATE class
-- CC and a sentence: CC001 not allowed, CC002 no such active user, CC003
-- the owner cannot create roles. A duplicate violates logins_pkey or
-- logins_user_key; a role of that name elsewhere on the server is 42710.
CREATE FUNCTION login_grant(target uuid, svc text, verifier text) RETURNS name
    LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    p text := (SELECT group_prefix FROM identity_settings);
    grp text;
    login name := login_name(target, svc);
BEGIN
    IF current_actor_role() NOT IN ('owner', 'admin') THEN
        RAISE EXCEPTION 'only an admin may grant logins' USING ERRCODE = 'CC001';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user
                   AND (rolcreaterole OR rolsuper)) THEN
        RAISE EXCEPTION 'the database owner cannot create roles' USING ERRCODE = 'CC003';
    END IF;
    IF verifier !~ '^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$' THEN
        RAISE EXCEPTION 'not a SCRAM-SHA-256 verifier' USING ERRCODE = '22023';
    END IF;
    IF target IS NULL THEN
        grp := svc;
    ELSE
        SELECT u.role INTO grp FROM users u WHERE u.id = target AND u.active;
        IF grp IS NULL THEN
            RAISE EXCEPTION 'no active user' USING ERRCODE = 'CC002';
        END IF;
    END IF;
    INSERT INTO logins (role_name, user_id, service) VALUES (login, target, svc);
    EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L IN ROLE %I', login, verifier, p || '_' || grp);
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), login);
    RETURN login;
END
$$;

-- A new password for an existing login (`login grant --rotate`).
CREATE FUNCTION login_password(login name, verifier text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    IF current_actor_role() NOT IN ('owner', 'admin') THEN
        RAISE EXCEPTION 'only an admin may change logins' USING ERRCODE = 'CC001';
    END IF;
    IF verifier !~ '^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$' THEN
        RAISE EXCEPTION 'not a SCRAM-SHA-256 verifier' USING ERRCODE = '22023';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM logins l JOIN pg_roles r ON r.rolname = l.role_name
                   WHERE l.role_name = login) THEN
        RETURN false;
    END IF;
    EXECUTE format('ALTER ROLE %I PASSWORD %L', login, verifier);
    UPDATE logins SET changed_at = now() WHERE role_name = login;
    RETURN true;
END
$$;

-- Drop a login: its open connections end first. False when there is none.
CREATE FUNCTION login_revoke(login name) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    IF current_actor_role() NOT IN ('owner', 'admin') THEN
        RAISE EXCEPTION 'only an admin may revoke logins' USING ERRCODE = 'CC001';
    END IF;
    DELETE FROM logins WHERE role_name = login;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = login) THEN
        -- A non-superuser owner may signal only backends of roles it has
        -- the privileges of: take them (CREATEROLE allows it) just before
        -- the role goes.
        IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
            EXECUTE format('GRANT %I TO %I', login, current_user);
        END IF;
        PERFORM pg_terminate_backend(a.pid) FROM pg_stat_activity a
        WHERE a.usename = login AND a.pid <> pg_backend_pid();
        EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM %I', current_database(), login);
        EXECUTE format('DROP ROLE %I', login);
    END IF;
    RETURN true;
END
$$;

-- A person's login follows the person, in the same transaction: a
-- deactivated user's login can no longer log in (and, already connected,
-- is 'none'), and a new role moves it to the new group.
CREATE FUNCTION logins_follow_user() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    p text := (SELECT group_prefix FROM identity_settings);
    login name := (SELECT l.role_name FROM logins l WHERE l.user_id = NEW.id);
BEGIN
    IF login IS NULL OR NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = login) THEN
        RETURN NULL;
    END IF;
    IF OLD.role IS DISTINCT FROM NEW.role THEN
        EXECUTE format('REVOKE %I FROM %I', p || '_' || OLD.role, login);
        EXECUTE format('GRANT %I TO %I', p || '_' || NEW.role, login);
    END IF;
    IF OLD.active IS DISTINCT FROM NEW.active THEN
        EXECUTE format('ALTER ROLE %I %s', login, CASE WHEN NEW.active THEN 'LOGIN' ELSE 'NOLOGIN' END);
    END IF;
    UPDATE logins SET changed_at = now() WHERE role_name = login;
    RETURN NULL;
END
$$;
CREATE TRIGGER logins_follow_user
    AFTER UPDATE OF role, active ON users
    FOR EACH ROW
    WHEN (OLD.role IS DISTINCT FROM NEW.role OR OLD.active IS DISTINCT FROM NEW.active)
    EXECUTE FUNCTION logins_follow_user();

-- Redeeming an invitation code: logins may not read code hashes, so the
-- lookup by hash runs as the owner and answers only the invitation's id
-- (the caller then reads it under its own policies).
CREATE FUNCTION redeem_invitation(hash bytea) RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER AS $$
    SELECT i.id FROM invitations i WHERE i.code_hash = hash
$$;

-- `session remind`: queue the due reminders. The notice is rendered from
-- whole session rows, coach notes included, which the cron job's login may
-- not read: the statement runs as the owner, for the owner, admins and the
-- notifier only (src/notify/mod.rs says what it queues).
CREATE FUNCTION queue_reminders() RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    n bigint;
BEGIN
    IF current_actor_role() NOT IN ('owner', 'admin', 'notifier') THEN
        RAISE EXCEPTION 'only an admin or the cron job may queue reminders' USING ERRCODE = 'CC001';
    END IF;
    INSERT INTO outbox (event, dedupe_key, recipient_id, session_id, payload, message_id)
    SELECT 'reminder.' || d.kind, 'reminder.' || d.kind || ':' || d.id || ':' || d.sequence,
           r.id, d.id, session_notice_body(d.s), '<' || gen_random_uuid() || '@coachctl>'
    FROM (SELECT s, s.id, s.sequence, s.member_id, s.coach_id,
                 CASE WHEN s.starts_at - now() > interval '1 hour' THEN '24h' ELSE '1h' END AS kind
          FROM sessions s
          WHERE s.status = 'scheduled'
            AND s.starts_at > now() AND s.starts_at <= now() + interval '24 hours') d
    CROSS JOIN LATERAL (VALUES (d.member_id), (d.coach_id)) AS r(id)
    ON CONFLICT ON CONSTRAINT outbox_once_per_recipient DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

CREATE FUNCTION identity_grants_logins(p text) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('GRANT EXECUTE ON FUNCTION login_grant(uuid, text, text),
                    login_password(name, text), login_revoke(name) TO %I', p || '_admin');
    EXECUTE format('GRANT EXECUTE ON FUNCTION redeem_invitation(bytea) TO %I, %I, %I',
                   p || '_admin', p || '_coach', p || '_member');
    EXECUTE format('GRANT EXECUTE ON FUNCTION queue_reminders() TO %I, %I',
                   p || '_admin', p || '_notifier');
    -- cancelling or moving a session does so to its booking (bookings_own
    -- decides whose)
    EXECUTE format('GRANT UPDATE (status, starts_at, updated_at) ON bookings TO %I, %I',
                   p || '_coach', p || '_member');
END
$$;

DO $do$
DECLARE
    f regprocedure;
BEGIN
    FOREACH f IN ARRAY ARRAY['current_actor_role()', 'login_grant(uuid, text, text)',
                             'login_password(name, text)', 'login_revoke(name)',
                             'logins_follow_user()', 'redeem_invitation(bytea)',
                             'queue_reminders()']::regprocedure[]
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f, current_schema());
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$do$;

SELECT identity_install();
