-- Per-person logins through pgbouncer (issue 17; docs/design/identity.md §7).
-- pgbouncer must know each login's SCRAM verifier: from an auth_file that
-- `login grant --pgbouncer-file PATH` keeps, or by auth_query through
-- pgbouncer_get_auth() below, run by pgbouncer's own login (`login grant
-- --service pgbouncer`, in the group `<prefix>_pgbouncer`, which may run
-- that function and nothing else).

ALTER TABLE logins DROP CONSTRAINT logins_service_known;
ALTER TABLE logins ADD CONSTRAINT logins_service_known
    CHECK (service IN ('notifier', 'pgbouncer'));

-- pgbouncer's `auth_query = SELECT usename, passwd FROM pgbouncer_get_auth($1)`:
-- the verifier of one of this database's person or cron logins, and of no
-- other role on the server (not the owner's, not another database's logins,
-- not pgbouncer's own, which it reads from its auth_file). It reads
-- pg_shadow, which only a superuser may: where the owner is not one, a
-- superuser runs once `ALTER FUNCTION pgbouncer_get_auth(text) OWNER TO
-- postgres` (the body stays this one; its search_path stays fixed).
CREATE FUNCTION pgbouncer_get_auth(p_usename text) RETURNS TABLE (usename name, passwd text)
    LANGUAGE sql STABLE SECURITY DEFINER AS $$
    SELECT s.usename, s.passwd::text
    FROM pg_catalog.pg_shadow s
    JOIN logins l ON l.role_name = s.usename
    WHERE s.usename = p_usename::name
      AND l.service IS DISTINCT FROM 'pgbouncer'
$$;

DO $do$
BEGIN
    EXECUTE format('ALTER FUNCTION pgbouncer_get_auth(text) SET search_path = %I, pg_temp',
                   current_schema());
    REVOKE EXECUTE ON FUNCTION pgbouncer_get_auth(text) FROM PUBLIC;
END
$do$;

-- The group of pgbouncer's login: it may run pgbouncer_get_auth() only (no
-- table, no other function). Called by identity_install() (migration
-- 20261207001000), so also when the owner gains CREATEROLE later.
CREATE FUNCTION identity_grants_pgbouncer(p text) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p || '_pgbouncer') THEN
        EXECUTE format('CREATE ROLE %I NOLOGIN', p || '_pgbouncer');
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), p || '_pgbouncer');
    EXECUTE format('GRANT EXECUTE ON FUNCTION pgbouncer_get_auth(text) TO %I', p || '_pgbouncer');
END
$$;

SELECT identity_install();
