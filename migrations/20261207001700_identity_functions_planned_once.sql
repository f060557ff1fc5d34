-- Logins as fast as the owner (issue 17, item 8; BENCHMARKS.md, section 13).
--
-- The policies ask who is asking through `(SELECT current_actor())` and
-- `(SELECT current_actor_role())`, about ten times per statement. Those were
-- SQL functions, SECURITY DEFINER with a fixed search_path, so never
-- inlined: every call site parsed and planned the body again, in every
-- statement (0.2-1.7 ms each, measured through a login), and
-- `actor_people_ids()` planned `current_actor()` once more per arm and ran
-- `current_actor_role()` per member row (4-11 ms a coach's list). As PL/pgSQL
-- the body is planned once per connection and each later call only runs it.
-- The queries and the answers are the same as before (migrations 000900,
-- 001250): who is asking is still decided by `session_user` and the
-- `logins` and `users` tables, never by anything the client sends, but
-- `coachctl.act_as`, which only an admin's login may use.

-- A login is found in `logins` (two index lookups); only a role that is
-- nobody's login goes on to the catalog (the owner, a superuser, or 'none').
-- A login whose role no longer exists is NULL, as before.
CREATE OR REPLACE FUNCTION current_actor_role() RETURNS text
    LANGUAGE plpgsql STABLE SECURITY DEFINER AS $$
DECLARE
    answer text;
BEGIN
    SELECT CASE
            WHEN l.service IS NOT NULL THEN l.service
            WHEN u.active THEN u.role
            ELSE 'none'
        END
      INTO answer
      FROM logins l LEFT JOIN users u ON u.id = l.user_id
     WHERE l.role_name = session_user
       AND to_regrole(quote_ident(session_user)) IS NOT NULL;
    IF FOUND THEN
        RETURN answer;
    END IF;
    RETURN (
        SELECT CASE WHEN r.rolsuper OR pg_has_role(r.rolname, current_user, 'USAGE')
                    THEN 'owner' ELSE 'none' END
        FROM pg_roles r
        WHERE r.rolname = session_user);
END
$$;

CREATE OR REPLACE FUNCTION current_actor() RETURNS uuid
    LANGUAGE plpgsql STABLE SECURITY DEFINER AS $$
BEGIN
    RETURN (
        SELECT CASE
            WHEN u.role = 'admin' AND nullif(current_setting('coachctl.act_as', true), '') IS NOT NULL
                THEN (SELECT a.id FROM users a
                      WHERE a.id = nullif(current_setting('coachctl.act_as', true), '')::uuid
                        AND a.active)
            ELSE u.id
        END
        FROM logins l JOIN users u ON u.id = l.user_id AND u.active
        WHERE l.role_name = session_user);
END
$$;

CREATE OR REPLACE FUNCTION current_actor_via() RETURNS uuid
    LANGUAGE plpgsql STABLE SECURITY DEFINER AS $$
BEGIN
    RETURN (
        SELECT u.id
        FROM logins l JOIN users u ON u.id = l.user_id AND u.active AND u.role = 'admin'
        WHERE l.role_name = session_user
          AND nullif(current_setting('coachctl.act_as', true), '') IS NOT NULL
          AND nullif(current_setting('coachctl.act_as', true), '')::uuid <> u.id);
END
$$;

-- The actor is asked once, not once per arm (or per row).
CREATE OR REPLACE FUNCTION actor_member_ids() RETURNS SETOF uuid
    LANGUAGE plpgsql STABLE SECURITY DEFINER AS $$
DECLARE
    me uuid := current_actor();
BEGIN
    RETURN QUERY
        SELECT m.user_id FROM member_profiles m WHERE m.coach_id = me
        UNION
        SELECT c.member_id FROM connections c
        WHERE c.coach_id = me AND c.status = 'accepted';
END
$$;

-- Public members are a coach's to read: that arm is there only for a
-- coach's login (it was a per-row call of current_actor_role()).
CREATE OR REPLACE FUNCTION actor_people_ids() RETURNS SETOF uuid
    LANGUAGE plpgsql STABLE SECURITY DEFINER AS $$
DECLARE
    me uuid := current_actor();
    public_too boolean := current_actor_role() = 'coach';
BEGIN
    RETURN QUERY
        SELECT m.user_id FROM member_profiles m
        WHERE m.coach_id = me OR (public_too AND m.privacy = 'public')
        UNION
        SELECT c.member_id FROM connections c
        WHERE c.coach_id = me AND c.status IN ('pending', 'accepted')
        UNION
        SELECT s.member_id FROM sessions s WHERE s.coach_id = me
        UNION
        SELECT v.member_id FROM conversations v WHERE v.coach_id = me;
END
$$;

-- CREATE OR REPLACE keeps the grants but not the settings: the same fixed
-- search_path as every definer function (the lint holds it).
DO $do$
DECLARE
    f regprocedure;
BEGIN
    FOREACH f IN ARRAY ARRAY['current_actor_role()', 'current_actor()', 'current_actor_via()',
                             'actor_member_ids()', 'actor_people_ids()']::regprocedure[]
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f, current_schema());
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$do$;
