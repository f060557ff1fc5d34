-- The audit log tells impersonation apart and lists in commit order (issue 18).
--
-- Who acted: an entry made with `--as` records, besides the person acted
-- for (actor_id, actor_label), the operator behind it: the OS user the
-- client reports and the database login. The login is stamped here from
-- session_user, whatever the client sent, so a client cannot claim another.
ALTER TABLE audit_log
    ADD COLUMN acted_by_os_user text,
    ADD COLUMN acted_by_db_login text,
    ADD CONSTRAINT audit_log_operator_whole
        CHECK ((acted_by_os_user IS NULL) = (acted_by_db_login IS NULL));

CREATE FUNCTION audit_log_stamp_login() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.acted_by_db_login := CASE WHEN NEW.acted_by_os_user IS NOT NULL THEN session_user END;
    RETURN NEW;
END $$;

CREATE TRIGGER audit_log_stamp_login
    BEFORE INSERT OR UPDATE OF acted_by_os_user, acted_by_db_login ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_stamp_login();

-- Commit order: `id` and `at` are taken when a row is written, so a long
-- transaction that wrote early and committed late would list before rows
-- committed while it ran. `commit_seq` is drawn again (with `at` set to the
-- clock) by a deferred constraint trigger, which runs as the transaction
-- commits. The guarantee: rows list in the order their transactions reached
-- COMMIT; two transactions committing within the same instant (between the
-- stamp and the commit record, microseconds) may list either way round. A
-- sequence serialises nothing: no commit waits for another.
ALTER TABLE audit_log ADD COLUMN commit_seq bigint;
-- what was logged before keeps its order
UPDATE audit_log SET commit_seq = id;
CREATE SEQUENCE audit_log_commit_seq;
SELECT setval('audit_log_commit_seq', greatest((SELECT max(id) FROM audit_log), 1));
ALTER TABLE audit_log
    ALTER COLUMN commit_seq SET DEFAULT nextval('audit_log_commit_seq'),
    ALTER COLUMN commit_seq SET NOT NULL,
    ADD CONSTRAINT audit_log_commit_seq_unique UNIQUE (commit_seq);
ALTER SEQUENCE audit_log_commit_seq OWNED BY audit_log.commit_seq;

CREATE FUNCTION audit_log_stamp_commit() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE audit_log SET commit_seq = nextval('audit_log_commit_seq'), at = clock_timestamp()
    WHERE id = NEW.id;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER audit_log_stamp_commit
    AFTER INSERT ON audit_log
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION audit_log_stamp_commit();
