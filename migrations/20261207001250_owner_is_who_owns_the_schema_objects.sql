-- 'owner' is the role that owns coachctl's tables and functions (or a member
-- of it, or a superuser), not the owner of the schema they live in: on a
-- server where a superuser owns schema `public` and a plain role was granted
-- CREATE there and ran the migrations, that role is the operator. Inside this
-- definer function current_user is the function's owner, which is the role
-- that ran the migrations.
CREATE OR REPLACE FUNCTION current_actor_role() RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER AS $$
    SELECT CASE
        WHEN l.role_name IS NULL AND (r.rolsuper OR pg_has_role(s.r, current_user, 'USAGE'))
            THEN 'owner'
        WHEN l.role_name IS NULL THEN 'none'
        WHEN l.service IS NOT NULL THEN l.service
        WHEN u.active THEN u.role
        ELSE 'none'
    END
    FROM (SELECT session_user::name AS r) s
    JOIN pg_roles r ON r.rolname = s.r
    LEFT JOIN logins l ON l.role_name = s.r
    LEFT JOIN users u ON u.id = l.user_id
$$;

DO $do$
BEGIN
    EXECUTE format('ALTER FUNCTION current_actor_role() SET search_path = %I, pg_temp',
                   current_schema());
END
$do$;
