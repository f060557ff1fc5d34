-- The audit log's triggers, per statement (issue 23, item 4).
--
-- Migrations 000202 and 000900 stamp and ticket audit rows with per-row
-- triggers: a 100,000-member import ran a definer PL/pgSQL function (with
-- its own search_path) twice a row and queued a deferred event a row,
-- seconds of its time. The guarantees stay; what runs per row is now an
-- expression, and a function only for a row that needs changing.
--
-- * Who acted (audit_log_actor_from_login) is stamped for every session
--   that may not create triggers on the log, which is every login. The
--   owner's rows were never stamped (current_actor_role() = 'owner'
--   returned the row as it came), and the owner, a superuser or a member
--   of the owner are who hold TRIGGER on audit_log (there is no grant; an
--   admin's group holds UPDATE, which row-level security makes moot):
--   has_table_privilege tells them apart without a call. A session that
--   may add triggers to the log could rewrite its rows anyway; a login
--   that holds it all the same (a grant, a superuser) would go unstamped,
--   so its INSERT is refused instead.
-- * The database login (audit_log_stamp_login) is written by the client as
--   `session_user`; the trigger runs only for a row naming another login,
--   and corrects it as before.
-- * The commit ticket: each INSERT statement reserves its transaction's
--   `audit_commits` row (a negative seq; a later statement finds it there),
--   and a deferred constraint trigger on that one row numbers it at COMMIT:
--   one deferred event per transaction, not one per row. Nothing is
--   remembered in a setting, which a client could set beforehand to skip
--   its ticket and so hide its rows from the list.
-- * A login's rows name its own transaction (the policy), so they cannot
--   join another transaction's ticket or one that is never taken.

-- the login -----------------------------------------------------------------
DROP TRIGGER audit_log_stamp_login ON audit_log;
CREATE TRIGGER audit_log_stamp_login
    BEFORE INSERT OR UPDATE OF acted_by_os_user, acted_by_db_login ON audit_log
    FOR EACH ROW WHEN (NEW.acted_by_os_user IS NOT NULL
                       AND NEW.acted_by_db_login IS DISTINCT FROM session_user)
    EXECUTE FUNCTION audit_log_stamp_login();

-- the actor -----------------------------------------------------------------
DROP TRIGGER audit_log_actor_from_login ON audit_log;
CREATE TRIGGER audit_log_actor_from_login
    BEFORE INSERT ON audit_log
    FOR EACH ROW WHEN (NOT has_table_privilege(session_user, 'audit_log'::regclass, 'TRIGGER'))
    EXECUTE FUNCTION audit_log_actor_from_login();

CREATE FUNCTION audit_log_refuse_unstamped_login() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM logins WHERE role_name = session_user) THEN
        RAISE EXCEPTION 'the login % may create triggers on the audit log, so its entries would not be stamped; revoke that first',
            session_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER audit_log_refuse_unstamped_login
    BEFORE INSERT ON audit_log
    FOR EACH STATEMENT WHEN (has_table_privilege(session_user, 'audit_log'::regclass, 'TRIGGER'))
    EXECUTE FUNCTION audit_log_refuse_unstamped_login();

-- the commit ticket ---------------------------------------------------------
DROP TRIGGER audit_log_commit_ticket ON audit_log;
DROP FUNCTION audit_log_commit_ticket();

-- seq = -xact until COMMIT: unique (xact is), and never a real number.
CREATE FUNCTION audit_log_reserve_ticket() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    me bigint := pg_current_xact_id()::text::bigint;
BEGIN
    INSERT INTO audit_commits (xact, seq) VALUES (me, -me)
    ON CONFLICT ON CONSTRAINT audit_commits_pkey DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER audit_log_reserve_ticket
    AFTER INSERT ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_reserve_ticket();

-- A statement that appended nothing leaves no ticket.
CREATE FUNCTION audit_commits_number() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM audit_log WHERE xact = NEW.xact) THEN
        UPDATE audit_commits SET seq = nextval('audit_commits_seq'), at = clock_timestamp()
        WHERE xact = NEW.xact;
    ELSE
        DELETE FROM audit_commits WHERE xact = NEW.xact;
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER audit_commits_number
    AFTER INSERT ON audit_commits
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.seq < 0)
    EXECUTE FUNCTION audit_commits_number();

-- a login's rows, its own transaction ---------------------------------------
ALTER POLICY audit_log_append ON audit_log
    WITH CHECK ((SELECT current_actor_role()) IN ('admin', 'coach', 'member', 'notifier')
                AND xact = pg_current_xact_id()::text::bigint);

DO $do$
DECLARE
    f regprocedure;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'audit_log_refuse_unstamped_login()'::regprocedure,
        'audit_log_reserve_ticket()'::regprocedure,
        'audit_commits_number()'::regprocedure]
    LOOP
        EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = %I, pg_temp',
                       f, current_schema());
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$do$;
