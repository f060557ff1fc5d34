-- The audit log tells impersonation apart and lists in commit order (issue 18).
--
-- Who acted: an entry made with `--as` records, besides the person acted
-- for (actor_id, actor_label), the operator behind it: the OS user the
-- client reports and the database login. The login is stamped here from
-- session_user, whatever the client sent, so a client cannot claim another
-- (and a login without an OS user is refused by the check).
ALTER TABLE audit_log
    ADD COLUMN acted_by_os_user text,
    ADD COLUMN acted_by_db_login text,
    ADD CONSTRAINT audit_log_operator_whole
        CHECK ((acted_by_os_user IS NULL) = (acted_by_db_login IS NULL));

CREATE FUNCTION audit_log_stamp_login() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.acted_by_db_login := session_user;
    RETURN NEW;
END $$;

CREATE TRIGGER audit_log_stamp_login
    BEFORE INSERT OR UPDATE OF acted_by_os_user, acted_by_db_login ON audit_log
    FOR EACH ROW WHEN (NEW.acted_by_os_user IS NOT NULL)
    EXECUTE FUNCTION audit_log_stamp_login();

-- Commit order: `id` and `at` are taken when a row is written, so a long
-- transaction that wrote early and committed late would list before rows
-- committed while it ran. Each transaction that writes to the log takes a
-- ticket as it commits: a deferred constraint trigger, which runs at COMMIT,
-- inserts one `audit_commits` row for the transaction (its rows name it by
-- `xact`) with the next `seq` and the clock. Only the first of its rows
-- does the work (a transaction-local setting marks it done): restamping
-- every row would double the cost of a 100,000-member import.
--
-- The guarantee: entries list in the order their transactions reached
-- COMMIT; two transactions committing within the same instant (between the
-- ticket and the commit record, microseconds) may list either way round.
-- A sequence and a row per transaction serialise nothing: no commit waits
-- for another. A row written with triggers off (session_replication_role =
-- replica) has no ticket and is not listed: copy `audit_commits` with it.
CREATE TABLE audit_commits (
    xact  bigint PRIMARY KEY,
    seq   bigint NOT NULL,
    at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT audit_commits_seq_unique UNIQUE (seq)
);
CREATE SEQUENCE audit_commits_seq OWNED BY audit_commits.seq;

ALTER TABLE audit_log ADD COLUMN xact bigint;
-- what was logged before keeps its order, one ticket a row (negative: no
-- transaction id is)
UPDATE audit_log SET xact = -id;
INSERT INTO audit_commits (xact, seq, at) SELECT -id, id, at FROM audit_log;
SELECT setval('audit_commits_seq', greatest((SELECT max(id) FROM audit_log), 1));
ALTER TABLE audit_commits ALTER COLUMN seq SET DEFAULT nextval('audit_commits_seq');
ALTER TABLE audit_log
    ALTER COLUMN xact SET DEFAULT pg_current_xact_id()::text::bigint,
    ALTER COLUMN xact SET NOT NULL;
CREATE INDEX audit_log_xact_idx ON audit_log (xact, id);

CREATE FUNCTION audit_log_commit_ticket() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('coachctl.audit_ticket', true) IS DISTINCT FROM NEW.xact::text THEN
        INSERT INTO audit_commits (xact) VALUES (NEW.xact)
        ON CONFLICT ON CONSTRAINT audit_commits_pkey DO NOTHING;
        PERFORM set_config('coachctl.audit_ticket', NEW.xact::text, true);
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER audit_log_commit_ticket
    AFTER INSERT ON audit_log
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION audit_log_commit_ticket();
