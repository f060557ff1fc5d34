-- Grants for tables that later migrations add. identity_install() (made by
-- the identity migration) grants what the group roles may do on the tables
-- of that time; a later migration that adds a table defines
-- `identity_grants_<what>(prefix text)` with the grants of its tables, and
-- identity_install() calls every such function, in name order, after the
-- base grants. So `login grant`, which calls identity_install() when the
-- owner gained CREATEROLE after migrating, installs every table's grants.
ALTER FUNCTION identity_install() RENAME TO identity_install_base;

CREATE FUNCTION identity_install() RETURNS boolean
    LANGUAGE plpgsql AS $$
DECLARE
    p text := (SELECT group_prefix FROM identity_settings);
    f regprocedure;
BEGIN
    IF NOT identity_install_base() THEN
        RETURN false;
    END IF;
    FOR f IN SELECT pr.oid::regprocedure FROM pg_proc pr
             WHERE pr.pronamespace = current_schema()::regnamespace
               AND pr.proname LIKE 'identity\_grants\_%'
             ORDER BY pr.proname
    LOOP
        EXECUTE format('SELECT %s($1)', f::oid::regproc) USING p;
    END LOOP;
    RETURN true;
END
$$;
